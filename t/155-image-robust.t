# Robustness of the image library seen through HTTP:
#   - a decode that runs past tunny_timeout is abandoned: the 504 comes at
#     the deadline and the pool thread stops within 40 ms of CPU (x3 under
#     ASan) after it (counted in the thread's CPU time, so that a contended
#     machine that delays the thread does not change the answer; WebP: a
#     16 KB lossless file of 16383x3051 made by "gen-hostile --webp-slow";
#     JPEG: a 4500x3000 baseline photo made by "gen-hostile --jpeg-big",
#     rotated: its decode is libjpeg's, which ASan does not slow down, so
#     it is big enough to outlast the deadline plus the ASan bound);
#   - progressive JPEGs past the scan budget are 415 with the reason;
#   - a JPEG missing only its final EOI is an image (200), one cut in its
#     data is 415 with the reason.
# Fixtures come from t/tools (TEST_NGINX_FIXTURE_DIR, exported by
# ./ngx_tunny_module test); the big WebP and JPEG are made here, once per
# run.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use File::Temp ();
use Time::HiRes ();
use POSIX ();

our ($FX, $SLOW, $BIGJ);

# the CPU a pool thread may still spend once its job is past the deadline:
# 40 ms of work between two cancellation checks, times the sanitizer's
# slowdown (ASan instruments the row loops between the checks), plus one
# clock tick of /proc's accounting
our $STOP = 0.04 * TunnyTest::slow() + 0.01;

BEGIN {
    $FX = $ENV{TEST_NGINX_FIXTURE_DIR};
    die "155-image-robust.t: no fixtures; run ./ngx_tunny_module test, or "
        . "set TEST_NGINX_FIXTURE_DIR to a directory written by "
        . "t/tools/gen-fixtures (with hostile/ from gen-hostile)\n"
        if !$FX || !-f "$FX/quad-land.jpg" || !-f "$FX/hostile/MANIFEST";

    our $Tmp = File::Temp->newdir();
    $SLOW = "$Tmp/slow.webp";
    $BIGJ = "$Tmp/big.jpg";
    system('make -s -C t/tools gen-hostile >&2') == 0
        && system('t/tools/gen-hostile', '--webp-slow', 16383, 3051,
                  $SLOW) == 0
        && system('t/tools/gen-hostile', '--jpeg-big', 4500, 3000,
                  $BIGJ) == 0
        or die "155-image-robust.t: gen-hostile --webp-slow or --jpeg-big "
               . "failed\n";
}

sub slurp ($) {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    my $data = <$fh> // '';
    close $fh;
    return $data;
}

# html/NAME: the first LEN bytes of FILE (all of it without LEN)
sub put ($$;$) {
    my ($name, $file, $len) = @_;
    my $data = slurp($file);
    $data = substr($data, 0, $len) if defined $len;
    my $path = Test::Nginx::Util::server_root() . "/html/$name";
    open my $out, '>:raw', $path or die "$path: $!";
    print $out $data;
    close $out;
}

sub busy () {
    my $m = TunnyTest::http_request('/metrics')->{body};
    my ($v) = $m =~ /^tunny_pool_busy_threads\{pool="p"\} (\d+)$/m;
    return $v;
}

# CPU seconds the pool's thread (tunny:p) of the worker has used so far
sub thread_cpu () {
    my ($worker) = TunnyTest::worker_pids();
    my $ticks = 0;
    for my $stat (glob "/proc/$worker/task/*/stat") {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // '';
        close $fh;
        my ($comm, $rest) = $line =~ /^\d+ \((.*)\) (.*)$/ or next;
        next if $comm ne 'tunny:p';
        my @f = split / /, $rest;
        $ticks += $f[11] + $f[12];
    }
    return $ticks / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

# GET URI, which must time out; returns the answer, and the CPU time the
# pool's one thread spent after the 504 until it was idle (the work a
# cancellation still costs: a contended machine delays the thread, it
# does not add to its CPU time), its wall time in the diag only
sub timeout_then_idle ($) {
    my ($uri) = @_;
    my $r = TunnyTest::http_request($uri);
    my $cpu0 = thread_cpu();
    my $t0 = Time::HiRes::time();
    my $b;
    while (Time::HiRes::time() - $t0 < 30) {
        $b = busy();
        last if defined $b && $b == 0;
        Time::HiRes::sleep(0.005);
    }
    my $cpu = thread_cpu() - $cpu0;
    Test::More::diag(sprintf "%s: %d after %.3f s, thread idle %.3f s "
                     . "later, after %.3f s of CPU", $uri, $r->{status},
                     $r->{elapsed}, Time::HiRes::time() - $t0, $cpu);
    return ($r, $cpu);
}

# the same decode without a deadline: it must take long enough (in the
# thread's CPU time) for the test to mean something
sub untimed ($) {
    my ($uri) = @_;
    my $cpu0 = thread_cpu();
    my $r = TunnyTest::http_request($uri);
    my $cpu = thread_cpu() - $cpu0;
    Test::More::diag(sprintf "%s: %d in %.3f s, %.3f s of CPU", $uri,
                     $r->{status}, $r->{elapsed}, $cpu);
    return ($r, $cpu);
}

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('skip_eval', '1: 1')
        if $ENV{TEST_NGINX_USE_VALGRIND} && $block->name =~ /past its deadline/;
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri $status $tunny_outcome "$tunny_error"';
    access_log logs/error.log tunny;
_EOC_
    }
    if (!defined $block->post_main_config) {
        $block->set_value('post_main_config',
                          "    tunny_pool p threads=1 max_memory=64m;\n");
    }
    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    tunny_offload p;
    add_header X-Tunny-Error $tunny_error always;
    location /r/ {
        alias html/;
        tunny_image resize 100 100;
        tunny_image_buffer 16m;
        tunny_timeout 10s;
    }
    location /d/ {
        alias html/;
        tunny_image resize 100 100;
        tunny_timeout 30ms;
    }
    location /rot/ {
        alias html/;
        tunny_image rotate 90;
        tunny_image_buffer 16m;
        tunny_timeout 10s;
    }
    location /drot/ {
        alias html/;
        tunny_image rotate 90;
        tunny_image_buffer 16m;
        tunny_timeout 30ms;
    }
    location = /metrics {
        tunny_status;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: a lossless WebP past its deadline: 504, the thread stops within 40 ms of work
--- init
main::put('slow.webp', $main::SLOW);
my ($u, $ucpu) = main::untimed('/r/slow.webp');
Test::More::is($u->{status}, 200, 'without a deadline: an image');
Test::More::cmp_ok($ucpu, '>', 0.03 + $main::STOP, 'of more CPU than the deadline and the stop take together');
my ($r, $cpu) = main::timeout_then_idle('/d/slow.webp');
Test::More::is($r->{status}, 504, 'with tunny_timeout 30ms: 504');
Test::More::cmp_ok($r->{elapsed}, '<', 1, 'at the deadline');
Test::More::cmp_ok($cpu, '<=', $main::STOP, 'the thread stops within 40 ms of CPU (+ a tick; x3 under ASan)');
--- request
GET /metrics
--- response_body_like
tunny_pool_busy_threads\{pool="p"\} 0
--- error_log eval
qr/TUNNY \/d\/slow.webp 504 timeout/



=== TEST 2: a big baseline JPEG past its deadline: 504, the thread stops within 40 ms of work
--- init
main::put('big.jpg', $main::BIGJ);
my ($u, $ucpu) = main::untimed('/rot/big.jpg');
Test::More::is($u->{status}, 200, 'without a deadline: an image');
Test::More::cmp_ok($ucpu, '>', 0.03 + $main::STOP, 'of more CPU than the deadline and the stop take together');
my ($r, $cpu) = main::timeout_then_idle('/drot/big.jpg');
Test::More::is($r->{status}, 504, 'with tunny_timeout 30ms: 504');
Test::More::cmp_ok($r->{elapsed}, '<', 1, 'at the deadline');
Test::More::cmp_ok($cpu, '<=', $main::STOP, 'the thread stops within 40 ms of CPU (+ a tick; x3 under ASan)');
--- request
GET /metrics
--- response_body_like
tunny_pool_busy_threads\{pool="p"\} 0
--- error_log eval
qr/TUNNY \/drot\/big.jpg 504 timeout/



=== TEST 3: a legal 704-scan progressive JPEG is 415 with the reason
--- init
main::put('bomb.jpg', "$main::FX/hostile/scan-bomb-sa.jpg");
--- request
GET /r/bomb.jpg
--- error_code: 415
--- response_headers
X-Tunny-Error: tunny_image: JPEG scans need more than 24 passes over the image
--- error_log
TUNNY /r/bomb.jpg 415 error "tunny_image: JPEG scans need more than 24 passes over the image"



=== TEST 4: 22 scans, each over the whole image, are an image
--- init
main::put('scans.jpg', "$main::FX/hostile/scan-passes-22.jpg");
--- request
GET /r/scans.jpg
--- response_body_like: ^\xff\xd8
--- no_error_log
[error]



=== TEST 5: a JPEG without its final EOI is an image
--- init
my $n = -s "$main::FX/quad-land.jpg";
main::put('no-eoi.jpg', "$main::FX/quad-land.jpg", $n - 2);
--- request
GET /r/no-eoi.jpg
--- response_body_like: ^\xff\xd8
--- no_error_log
[error]



=== TEST 6: a progressive JPEG without its final EOI is an image
--- init
my $n = -s "$main::FX/progressive.jpg";
main::put('no-eoi.jpg', "$main::FX/progressive.jpg", $n - 2);
--- request
GET /r/no-eoi.jpg
--- response_body_like: ^\xff\xd8
--- no_error_log
[error]



=== TEST 7: a JPEG cut in its data is 415 with the reason
--- init
my $n = -s "$main::FX/quad-land.jpg";
main::put('cut.jpg', "$main::FX/quad-land.jpg", int($n * 2 / 3));
--- request
GET /r/cut.jpg
--- error_code: 415
--- response_headers
X-Tunny-Error: tunny_image: truncated or corrupt JPEG: Premature end of JPEG file
