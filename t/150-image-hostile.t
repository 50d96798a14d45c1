# Hostile input: every file of the corpus written by t/tools/gen-hostile
# (truncated, bit-flipped, empty, text/HTML named .jpg, decompression
# bombs, CMYK/grey/progressive/arithmetic/12-bit JPEGs, bogus EXIF, bad
# WebP chunk sizes, animated WebP, huge ICC profiles, ...) goes through
# "tunny_image resize 100 100" as a static file and through
# tunny_image_upload; then hostile W/H/angle/quality values.
#
# The corpus' MANIFEST says what each file must give:
#   reject  a 4xx with the reason in X-Tunny-Error ($tunny_error)
#   ok      a valid, if unusual, image: 200 and no reason
#   any     either of those (bit flips may or may not break a file)
# Never a 5xx, and the error log never has a crashed worker ("exited on
# signal"), [alert] or [crit].  Under ./ngx_tunny_module test --asan an
# ASan/UBSan report aborts the worker, which this catches too.
#
# The corpus directory: TEST_NGINX_HOSTILE_DIR, else
# $TEST_NGINX_FIXTURE_DIR/hostile (both set up by ./ngx_tunny_module test),
# else t/tools/hostile, made here with "make -C t/tools hostile".
use Test::Nginx::Socket 'no_plan';
use File::Spec ();

our ($HD, @Corpus, @Params);

BEGIN {
    $HD = $ENV{TEST_NGINX_HOSTILE_DIR};
    if (!$HD && $ENV{TEST_NGINX_FIXTURE_DIR}) {
        $HD = "$ENV{TEST_NGINX_FIXTURE_DIR}/hostile";
    }
    if (!$HD || !-f "$HD/MANIFEST") {
        $HD = 't/tools/hostile';
        system('make -s -C t/tools hostile >&2') == 0
            or die "$0: cannot make the corpus (make -C t/tools hostile)\n"
            if !-f "$HD/MANIFEST";
    }
    $HD = File::Spec->rel2abs($HD);
    $ENV{TEST_NGINX_HOSTILE_DIR} = $HD;
    # static files are served with "root": DIR/.. + /hostile/NAME
    die "$0: the corpus directory must be called hostile: $HD\n"
        if $HD !~ m{^(.*)/hostile/?$};
    $ENV{TEST_NGINX_HOSTILE_ROOT} = $1;

    open my $m, '<', "$HD/MANIFEST" or die "$HD/MANIFEST: $!";
    while (<$m>) {
        next if /^#/ || !/\S/;
        my ($name, $expect, $what) = /^(\S+) (reject|ok|any) (.*)$/
            or die "$HD/MANIFEST: bad line $_";
        push @Corpus, { name => $name, expect => $expect, what => $what };
    }
    close $m;

    open my $p, '<', "$HD/params.txt" or die "$HD/params.txt: $!";
    while (<$p>) {
        next if /^#/ || !/\S/;
        my ($q, $status) = /^(\S*) (\d+)$/
            or die "$HD/params.txt: bad line $_";
        push @Params, { q => $q, status => $status };
    }
    close $p;
}

sub slurp ($) {
    my ($name) = @_;
    open my $fh, '<:raw', "$HD/$name" or die "$HD/$name: $!";
    local $/;
    my $data = <$fh> // '';
    close $fh;
    return $data;
}

# per request: the status, and the raw header block (status line included)
sub code_re ($) {
    my ($c) = @_;
    return $c->{expect} eq 'ok' ? '^200$'
         : $c->{expect} eq 'reject' ? '^415$'
         : '^(?:200|415)$';
}

our $OK = '\AHTTP/1\.1 200 (?:(?!^X-Tunny-Error:).)*\z';
our $REJECTED = '\AHTTP/1\.1 4\d\d .*^X-Tunny-Error: tunny_image: \S';
our $ANY = "(?:$OK)|(?:$REJECTED)";

sub hdr_re ($) {
    my ($c) = @_;
    my $re = $c->{expect} eq 'ok' ? $OK
           : $c->{expect} eq 'reject' ? $REJECTED
           : $ANY;
    # a name in the pattern makes a failure say which file it was
    return "(?ms)(?#$c->{name})$re";
}

sub param_code_re ($$) {
    my ($p, $crop) = @_;
    return $p->{status} == 400 ? '^400$'
         : $crop ? '^(?:200|415)$'
         : "^$p->{status}\$";
}

sub param_hdr_re ($) {
    my ($p) = @_;
    my $re = $p->{status} == 400
           ? '\AHTTP/1\.1 400 .*^X-Tunny-Error: tunny_image: invalid \S'
           : $ANY;
    return "(?ms)(?#$p->{q})$re";
}

repeat_each(1);
no_shuffle();
log_level('info');

# thousands of requests: the runner's pause before reading the error log
# after each one (TEST_NGINX_SLEEP, 15 ms x 3) would cost two minutes;
# each request is complete when its response is, only the access-log line
# may trail, and that is checked with the next request
$Test::Nginx::Util::TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.001;

# a worker that dies is logged by the master ("exited on signal") and
# replaced, so one crash does not hide the rest of the corpus
master_on();
workers(1);

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri $status $tunny_outcome "$tunny_error"';
    access_log logs/error.log tunny;
_EOC_
    }
    # after every request, and once more for the lines nginx writes while
    # it stops at the end of the block (the master logs a crashed worker)
    my @crash = ('exited on signal', qr/exited with code [1-9]/,
                 '[alert]', '[crit]', '[emerg]', 'AddressSanitizer',
                 'runtime error');
    $block->set_value('no_error_log', [@crash])
        if !defined $block->no_error_log;
    $block->set_value('no_shutdown_error_log', [@crash])
        if !defined $block->no_shutdown_error_log;
    # the corpus is large: a generous client timeout under ASan
    $block->set_value('timeout', $ENV{TEST_NGINX_ASAN} ? 60 : 20)
        if !defined $block->timeout;
});

run_tests();

__DATA__

=== TEST 1: the corpus as static files through resize 100 100
--- config
    location /hostile/ {
        root $TEST_NGINX_HOSTILE_ROOT;
        tunny_image resize 100 100;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
[map { "GET /hostile/$_->{name}" } @main::Corpus]
--- error_code_like eval
[map { main::code_re($_) } @main::Corpus]
--- raw_response_headers_like eval
[map { main::hdr_re($_) } @main::Corpus]



=== TEST 2: the corpus as tunny_image_upload bodies
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        client_max_body_size 20m;
        client_body_buffer_size 64k;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
[map { "POST /up\n" . main::slurp($_->{name}) } @main::Corpus]
--- error_code_like eval
[map { main::code_re($_) } @main::Corpus]
--- raw_response_headers_like eval
[map { main::hdr_re($_) } @main::Corpus]



=== TEST 3: the corpus through crop, rotate and WebP output
--- config
    location /hostile/ {
        root $TEST_NGINX_HOSTILE_ROOT;
        tunny_image crop 150 150;
        tunny_image rotate 90;
        tunny_image_format webp;
        tunny_image_sharpen 50;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
[map { "GET /hostile/$_->{name}" } @main::Corpus]
--- error_code_like eval
[map { main::code_re($_) } @main::Corpus]
--- raw_response_headers_like eval
[map { main::hdr_re($_) } @main::Corpus]



=== TEST 4: hostile W, H, angle and quality values: 400 with a reason
--- config
    location /p/ {
        alias $TEST_NGINX_HOSTILE_DIR/;
        tunny_image resize $arg_w $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_jpeg_quality $arg_q;
        tunny_image_webp_quality $arg_q;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
[map { ("GET /p/baseline.jpg?$_->{q}", "GET /p/lossy.webp?$_->{q}") }
     @main::Params]
--- error_code_like eval
[map { (main::param_code_re($_, 0)) x 2 } @main::Params]
--- raw_response_headers_like eval
[map { (main::param_hdr_re($_)) x 2 } @main::Params]



=== TEST 5: hostile values with crop, and with an upload
--- config
    location /pc/ {
        alias $TEST_NGINX_HOSTILE_DIR/;
        tunny_image crop $arg_w $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_jpeg_quality $arg_q;
        tunny_image_webp_quality $arg_q;
        add_header X-Tunny-Error $tunny_error always;
    }
    location = /up {
        tunny_image resize $arg_w $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_jpeg_quality $arg_q;
        tunny_image_webp_quality $arg_q;
        tunny_image_upload;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
[map { ("GET /pc/baseline.jpg?$_->{q}",
        "POST /up?$_->{q}\n" . main::slurp('baseline.jpg')) } @main::Params]
--- error_code_like eval
[map { (main::param_code_re($_, 1), main::param_code_re($_, 0)) }
     @main::Params]
--- raw_response_headers_like eval
[map { (main::param_hdr_re($_)) x 2 } @main::Params]



=== TEST 6: the corpus through size: JSON, or a 4xx with a reason
--- config
    location /s/ {
        alias $TEST_NGINX_HOSTILE_DIR/;
        tunny_image size;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
[map { "GET /s/$_->{name}" } @main::Corpus]
--- error_code_like eval
[map { '^(?:200|4\d\d)$' } @main::Corpus]
--- raw_response_headers_like eval
[map { "(?ms)(?#$_->{name})$main::ANY" } @main::Corpus]
