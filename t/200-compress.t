# tunny_compress: response compression (br, zstd, gzip) on the pool.
#
# Every compressed body is decoded with the reference tools (brotli -d,
# zstd -d, gzip -d) and compared byte for byte with the file it came
# from.  The bodies are made here (TEST_NGINX_COMPRESS_DIR, next to the
# server root): JSON-like text from 0 bytes to 3 MB.  Flush buffers come
# from proxy_buffering off (nginx marks every buffer it reads from the
# upstream with flush) in front of a backend forked by the test that
# sends its answer in two parts, the second only once the client has
# decoded the first.
#
# Under ./ngx_tunny_module test --valgrind every block runs (nginx under
# memcheck; the driver fails a block on an error record or a definite
# leak) except those named [slow], and TEST 1 stops at 70 KB there: big
# round trips that add minutes of memcheck time (more than the client's
# bound on a busy machine) and no memory path the others do not take.
# TEST_NGINX_COMPRESS_VALGRIND=all runs those too.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use File::Path qw(make_path);
use IO::Socket::INET;
use POSIX ();

repeat_each(1);
no_shuffle();
log_level('info');

our $DIR;

BEGIN {
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    $DIR = "$root/../compress-data";
    $DIR = Cwd::abs_path($DIR) // $DIR if eval { require Cwd; 1 };
    make_path("$DIR/fast");
    $ENV{TEST_NGINX_COMPRESS_DIR} = $DIR;
    $ENV{TEST_NGINX_BACKEND_PORT} = (TunnyTest::port() + 1);
    # TEST 12: a deadline the first chunk's task meets and the first
    # 256 KB brotli 11 block's does not (memcheck runs both ~50x slower)
    $ENV{TEST_NGINX_COMPRESS_MIDSTREAM} =
        $ENV{TEST_NGINX_USE_VALGRIND} ? '5s' : '120ms';
    # the round trips: tunny_timeout's default, 30 s per task, except
    # under valgrind, where one 256 KB block of brotli 11 took longer
    # (the next chunk's task timed out: the stream was cut, as it must be)
    $ENV{TEST_NGINX_COMPRESS_TIMEOUT} =
        $ENV{TEST_NGINX_USE_VALGRIND} ? '600s' : '30s';
}

# deterministic JSON-like text of exactly $len bytes
sub body ($$) {
    my ($len, $seed) = @_;
    my $s = '';
    my $x = $seed;
    while (length $s < $len) {
        $x = ($x * 1103515245 + 12345) % 2147483648;
        $s .= sprintf('{"id":%d,"user":"u%d","score":%d},' . "\n",
                      $x % 100000, ($x >> 7) % 5000, ($x >> 3) % 1000);
    }
    return substr($s, 0, $len);
}

sub put ($$) {
    my ($name, $data) = @_;
    open my $fh, '>', "$DIR/$name" or die "$DIR/$name: $!";
    binmode $fh;
    print $fh $data;
    close $fh;
}

our %SIZES = (b0 => 0, b1 => 1, b19 => 19, b20 => 20, b1k => 1000,
              b70k => 70000, b300k => 300000);
put("$_.json", body($SIZES{$_}, length $_)) for keys %SIZES;
put("fast/b3m.json", body(3 * 1024 * 1024 + 5, 3));
put('short.html', "<p>tiny</p>\n");
put('page.html', '<html>' . body(5000, 9) . "</html>\n");
put('part.html', body(3000, 4));
put('ssi.html', "<h1>head</h1>\n" . ('<!--# include virtual="/part.html" -->'
                                     . "\n<hr>\n") x 3 . "end\n");
put('slow.json', body(64 * 1024, 5) . body(1024 * 1024, 6));

sub file ($) {
    my ($name) = @_;
    open my $fh, '<', "$DIR/$name" or die "$DIR/$name: $!";
    binmode $fh;
    local $/;
    my $d = <$fh> // '';
    close $fh;
    return $d;
}

# the body decoded by the reference tool of $enc ('' : as it is);
# undef when the tool refuses it
sub decode ($$) {
    my ($enc, $data) = @_;
    return $data if !$enc;
    my %tool = (br => 'brotli -dc', zstd => 'zstd -dcq', gzip => 'gzip -dc');
    my $tmp = "$DIR/decode.$$";
    open my $fh, '>', $tmp or die $!;
    binmode $fh;
    print $fh $data;
    close $fh;
    my $out = `$tool{$enc} < $tmp 2>/dev/null`;
    my $rc = $?;
    unlink $tmp;
    return $rc ? undef : $out;
}

sub get ($$;%) {
    my ($uri, $ae, %o) = @_;
    my @h = defined $ae ? ("Accept-Encoding: $ae") : ();
    push @h, @{ $o{headers} || [] };
    return TunnyTest::http_request($uri, headers => \@h, %o);
}

# GET $uri with "Accept-Encoding: $enc": compressed with $enc, decodes to
# the file $name
sub round_trip ($$$) {
    my ($uri, $enc, $name) = @_;
    my $r = get($uri, $enc);
    my $ce = $r->{headers}{'content-encoding'} // '';
    my $d = decode($enc, $r->{body});
    my $want = file($name);
    Test::More::ok($r->{status} == 200 && $ce eq $enc && defined $d
                   && $d eq $want,
                   "$uri $enc: $r->{status}, Content-Encoding '$ce', "
                   . length($r->{body}) . " bytes decode to "
                   . (defined $d ? length $d : 'nothing') . " of "
                   . length($want));
}

# a backend on its own port: "part one", then, once the file $go exists
# (the client has decoded part one), "part two"
sub backend ($) {
    my ($go) = @_;
    unlink $go;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                    LocalPort => $ENV{TEST_NGINX_BACKEND_PORT},
                                    Listen => 5, ReuseAddr => 1)
        or die "backend: $!";
    my $pid = fork();
    die "fork: $!" if !defined $pid;
    if ($pid == 0) {
        local $SIG{ALRM} = sub { POSIX::_exit(0) };
        alarm 60 * TunnyTest::slow();
        while (my $c = $srv->accept) {
            while (my $l = <$c>) { last if $l =~ /^\r?\n$/; }
            $c->autoflush(1);
            print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     . "Connection: close\r\n\r\n" . body(10000, 21);
            Time::HiRes::sleep(0.01) while !-e $go;
            print $c body(10000, 22);
            close $c;
        }
        POSIX::_exit(0);
    }
    close $srv;
    return $pid;
}

# what the tool of $enc decodes of a stream that may be cut (these print
# what they could decode; the brotli tool prints nothing of a cut stream:
# python3-brotli)
sub decode_cut ($$) {
    my ($enc, $data) = @_;
    my %tool = (br => q{/usr/bin/python3 -c 'import brotli, sys; }
                      . q{sys.stdout.buffer.write(brotli.Decompressor()}
                      . q{.process(sys.stdin.buffer.read()))'},
                zstd => 'zstd -dcq', gzip => 'gzip -dc');
    my $tmp = "$DIR/cut.$$";
    open my $fh, '>', $tmp or die $!;
    binmode $fh;
    print $fh $data;
    close $fh;
    my $d = `$tool{$enc} < $tmp 2>/dev/null`;
    unlink $tmp;
    return $d;
}

# GET $uri: read until the body decoded so far is $want (bounded), then
# create the file $go and read the rest; (headers, body when $want was
# decoded, whole body)
sub until_decoded ($$$$) {
    my ($uri, $enc, $want, $go) = @_;
    my $s = TunnyTest::http_send($uri, headers => ["Accept-Encoding: $enc"])
        or die "connect: $!";
    my $sel = IO::Select->new($s);
    my ($raw, $eof) = ('', 0);
    my $read = sub {
        while (!$eof && $sel->can_read(0.05)) {
            my $n = sysread($s, $raw, 65536, length $raw);
            $eof = 1 if !$n;
        }
    };
    my $part;
    TunnyTest::wait_for(sub {
        $read->();
        my (undef, $b) = split /\r\n\r\n/, $raw, 2;
        $part = $b // '';
        return $eof || decode_cut($enc, $part) eq $want;
    });
    open my $fh, '>', $go or die "$go: $!";
    close $fh;
    TunnyTest::wait_for(sub { $read->(); $eof });
    close $s;
    my ($h, $b) = split /\r\n\r\n/, $raw, 2;
    return ($h // '', $part, $b // '');
}

# GET $uri, then close the connection while the stream is under way: once
# pool $pool has finished a task (the first chunk's: compression started)
# and runs the next one.  What came so far is read meanwhile.  True when
# that state was seen before the bound (generous: under valgrind on a busy
# machine the first task, a 256 KB block of brotli 11, took minutes).
sub abort_mid_stream ($$$) {
    my ($uri, $enc, $pool) = @_;
    my $s = TunnyTest::http_send($uri, headers => ["Accept-Encoding: $enc"])
        or die "connect: $!";
    my $sel = IO::Select->new($s);
    my ($raw, $eof) = ('', 0);
    my $seen = TunnyTest::wait_for(sub {
        while (!$eof && $sel->can_read(0)) {
            my $n = sysread($s, $raw, 65536, length $raw);
            $eof = 1 if !$n;
        }
        my $m = TunnyTest::metrics();
        return !$eof && (TunnyTest::jobs($pool, $m)->{ok} // 0) >= 1
               && TunnyTest::gauges($pool, $m)->[2] == 1;
    }, 120);
    close $s;
    return $seen;
}

# after abort_mid_stream(): the request was logged as cancelled, its task
# came back (the pool is idle: the orphan is freed when it does) and the
# pool holds no memory of it
sub check_abort ($$) {
    my ($uri, $pool) = @_;
    Test::More::ok(TunnyTest::wait_log(qr{^TUNNY \Q$uri\E \d+ cancelled$}),
                   "$uri: logged as cancelled");
    my $m;
    my $idle = TunnyTest::wait_for(sub {
        $m = TunnyTest::metrics();
        my $g = TunnyTest::gauges($pool, $m);
        return $g->[1] == 0 && $g->[2] == 0;
    }, 120);
    Test::More::ok($idle, "pool $pool idle: the cancelled task came back");
    Test::More::is(TunnyTest::jobs($pool, $m)->{cancelled}, 1,
                   'one task cancelled');
    Test::More::is($m->{qq{tunny_pool_memory_bytes{pool="$pool"}}}, 0,
                   'the memory budget is released');
}

add_block_preprocessor(sub {
    my $block = shift;
    if ($ENV{TEST_NGINX_USE_VALGRIND} && $block->name =~ /\[slow\]/
        && ($ENV{TEST_NGINX_COMPRESS_VALGRIND} // '') ne 'all')
    {
        $block->set_value('skip_eval', '1: 1');
        # the runner (as upstream's) still runs --- init of a skipped
        # block, against no server: the previous block's is stopped
        $block->set_value('init', undef);
    }
    if ($ENV{TEST_NGINX_USE_VALGRIND} && $block->name =~ /\[timing\]/) {
        # the refusal needs the pool busy when the request comes, and
        # memcheck's slowdown can end the blocker first; TEST 10 takes
        # the same refused-and-uncompressed path under valgrind
        $block->set_value('skip_eval', '1: 1');
        $block->set_value('init', undef);
    }
    # a block that does not test tunny_timeout gets the round trips' one
    # (600 s under memcheck, where a first brotli 11 task can pass 30 s)
    if (defined $block->config && $block->config !~ /tunny_timeout/) {
        $block->set_value('config', "    tunny_timeout "
                          . "\$TEST_NGINX_COMPRESS_TIMEOUT;\n"
                          . $block->config);
    }
    # the block's own request: as long as a busy machine (or memcheck)
    # may need for a brotli 11 answer
    $block->set_value('timeout', 10 * TunnyTest::slow())
        if !defined $block->timeout;
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    types {
        text/html html;
        application/json json;
        text/plain txt;
    }
    log_format tunny 'TUNNY $uri $status $tunny_outcome';
    access_log logs/error.log tunny;
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: round-trips of every encoder, 0 bytes to 300 KB, default levels
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_timeout $TEST_NGINX_COMPRESS_TIMEOUT;
    tunny_compress on;
    tunny_compress_types application/json;
--- init
# under valgrind on a busy machine brotli 11 on 300 KB outlasts the
# client's bound (300 s there): up to 70 KB (a full chunk and the last)
my @n = qw(b20 b1k b70k);
push @n, 'b300k' if !$ENV{TEST_NGINX_USE_VALGRIND}
                    || ($ENV{TEST_NGINX_COMPRESS_VALGRIND} // '') eq 'all';
for my $enc (qw(br zstd gzip)) {
    for my $n (@n) {
        main::round_trip("/$n.json", $enc, "$n.json");
    }
    # below tunny_compress_min_length (20): as it is
    for my $n (qw(b0 b1 b19)) {
        my $r = main::get("/$n.json", $enc);
        Test::More::ok(!defined $r->{headers}{'content-encoding'}
                       && $r->{body} eq main::file("$n.json")
                       && $r->{headers}{'content-length'}
                          == $main::SIZES{$n},
                       "/$n.json $enc: short, sent as it is");
    }
}
--- request
GET /b1k.json
--- response_body eval
main::file('b1k.json')
--- response_headers
Vary: Accept-Encoding
--- no_error_log
[alert]
[crit]
[error]



=== TEST 2: 3 MB, static, proxied with small buffers, proxy_buffering off [slow]
--- config
    tunny_timeout $TEST_NGINX_COMPRESS_TIMEOUT;
    tunny_compress_brotli_level 5;
    tunny_compress_zstd_level 3;
    tunny_compress_gzip_level 6;
    tunny_compress_types application/json;
    location ^~ /fast/ {
        root $TEST_NGINX_COMPRESS_DIR;
        tunny_compress on;
    }
    location ^~ /data/ {
        alias $TEST_NGINX_COMPRESS_DIR/;
    }
    location ^~ /p/ {
        tunny_compress on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/data/;
        proxy_buffer_size 4k;
        proxy_buffers 4 4k;
        proxy_busy_buffers_size 8k;
    }
    location ^~ /nb/ {
        tunny_compress on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/data/;
        proxy_buffering off;
        proxy_buffer_size 4k;
    }
--- init
for my $enc (qw(br zstd gzip)) {
    main::round_trip("/fast/b3m.json", $enc, "fast/b3m.json");
    main::round_trip("/p/fast/b3m.json", $enc, "fast/b3m.json");
    main::round_trip("/nb/fast/b3m.json", $enc, "fast/b3m.json");
    main::round_trip("/nb/b70k.json", $enc, "b70k.json");
}
--- request
GET /nb/b1k.json
--- more_headers
Accept-Encoding: identity
--- response_body eval
main::file('b1k.json')
--- no_error_log
[alert]
[crit]
[error]



=== TEST 3: a flush makes what came so far decodable at once
The backend sends 10000 bytes and sends 10000 more only once the client
has decoded the first ones; with proxy_buffering off each read reaches
the filter as a flush buffer, whose chunk is compressed with a flush: the
client decodes the first part before the second exists (without the flush
the bounded wait for it fails).
--- config
    location /stream {
        tunny_compress on;
        tunny_compress_types application/json;
        proxy_pass http://127.0.0.1:$TEST_NGINX_BACKEND_PORT;
        proxy_buffering off;
    }
--- init
for my $enc (qw(br zstd gzip)) {
    my $go = "$main::DIR/go.$$";
    my $pid = main::backend($go);
    my ($h, $part, $all) = main::until_decoded('/stream', $enc,
                                               main::body(10000, 21), $go);
    my $d = main::decode_cut($enc, $part);
    Test::More::like($h, qr/Content-Encoding: $enc/, "$enc: compressed");
    Test::More::ok($d eq main::body(10000, 21),
                   "$enc: the first part decodes before the second is sent ("
                   . length($part) . " bytes decode to " . length($d) . ")");
    Test::More::ok((main::decode($enc, $all) // '') eq main::body(10000, 21)
                                                     . main::body(10000, 22),
                   "$enc: then the whole stream");
    unlink $go;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}
--- request
GET /nothing
--- error_code: 404



=== TEST 4: Accept-Encoding: q-values, q=0, "*", identity, the order
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_compress on;
    location ^~ /gb/ {
        alias $TEST_NGINX_COMPRESS_DIR/;
        tunny_compress_encodings gzip br;
    }
--- init
my @cases = (
    ['/page.html', 'br', 'br'],
    ['/page.html', 'gzip, deflate, br', 'br'],
    ['/page.html', 'gzip, zstd', 'zstd'],
    ['/page.html', 'deflate', ''],
    ['/page.html', 'x-gzip', 'gzip'],
    ['/page.html', 'identity', ''],
    ['/page.html', '', ''],
    ['/page.html', undef, ''],
    ['/page.html', '*', 'br'],
    ['/page.html', '*;q=0', ''],
    ['/page.html', 'br;q=0, *', 'zstd'],
    ['/page.html', 'br;q=0, zstd;q=0, *;q=0.1', 'gzip'],
    ['/page.html', 'br;q=0.5, gzip;q=0.8, zstd;q=0.6', 'gzip'],
    ['/page.html', 'BR;Q=0.9, GZIP;Q=1.0', 'gzip'],
    ['/page.html', 'br;q=1.0, gzip;q=1', 'br'],
    ['/page.html', 'gzip;q=0.001', 'gzip'],
    ['/page.html', 'gzip;q=0', ''],
    ['/page.html', 'gzip;q=0.0', ''],
    ['/page.html', 'gzip;q=2', ''],
    ['/page.html', 'gzip;q=abc', ''],
    ['/page.html', 'gzip ; q=0.5 , br ; q=0.4', 'gzip'],
    ['/page.html', 'gzip;level=1;q=0.3, zstd;q=0.2', 'gzip'],
    ['/page.html', 'gzip;q=0.3, identity;q=0.5', ''],
    ['/page.html', 'gzip;q=0.7, identity;q=0.5', 'gzip'],
    ['/page.html', 'identity;q=0, br', 'br'],
    ['/page.html', 'brotli, zst, gz', ''],
    ['/gb/page.html', 'br, gzip', 'gzip'],
    ['/gb/page.html', 'br;q=0.9, gzip;q=0.8', 'br'],
    ['/gb/page.html', 'zstd', ''],
    ['/gb/page.html', '*', 'gzip'],
);
for my $c (@cases) {
    my ($uri, $ae, $want) = @$c;
    my $r = main::get($uri, $ae);
    my $ce = $r->{headers}{'content-encoding'} // '';
    my $d = main::decode($ce, $r->{body});
    Test::More::ok($ce eq $want && defined $d
                   && $d eq main::file('page.html')
                   && ($r->{headers}{vary} // '') eq 'Accept-Encoding',
                   "$uri '" . ($ae // '(none)') . "': '$ce' (want '$want')");
}
--- request
GET /page.html
--- more_headers
Accept-Encoding: gzip;q=0.5, br;q=0.4
--- response_headers
Content-Encoding: gzip
Vary: Accept-Encoding



=== TEST 5: the compressed header: weak ETag, no Content-Length, no Accept-Ranges
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_compress on;
--- init
my $plain = main::get('/page.html', 'identity');
my $r = main::get('/page.html', 'zstd');
Test::More::like($plain->{headers}{etag}, qr/^"[0-9a-f-]+"$/, 'strong ETag as it is');
Test::More::is($r->{headers}{etag}, "W/$plain->{headers}{etag}", 'weak ETag compressed');
Test::More::ok(!defined $r->{headers}{'content-length'}, 'no Content-Length');
Test::More::ok(!defined $r->{headers}{'accept-ranges'}, 'no Accept-Ranges');
Test::More::is($plain->{headers}{'accept-ranges'}, 'bytes', 'Accept-Ranges as it is');
--- request
GET /page.html
--- more_headers
Accept-Encoding: br
--- response_headers
Content-Encoding: br
Content-Length:
--- response_body_like eval
qr/./s



=== TEST 6: skipped: Content-Encoding, 204, 304, HEAD, Range, types, short
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_compress on;
    location ^~ /coded/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/raw/;
    }
    location ^~ /raw/ {
        alias $TEST_NGINX_COMPRESS_DIR/;
        tunny_compress off;
        add_header Content-Encoding x-custom;
    }
    location = /nc {
        return 204;
    }
    location ^~ /ssi/ {
        alias $TEST_NGINX_COMPRESS_DIR/;
        ssi on;
    }
--- init
my $ok = sub {
    my ($what, $r, $status) = @_;
    Test::More::ok($r->{status} == $status
                   && !defined $r->{headers}{'content-encoding'}
                      || ($r->{headers}{'content-encoding'} // '') eq 'x-custom',
                   "$what: $r->{status}, not compressed");
};
my $r = main::get('/coded/page.html', 'br');
$ok->('upstream Content-Encoding', $r, 200);
Test::More::is($r->{headers}{'content-encoding'}, 'x-custom', 'kept as it is');
$ok->('204', main::get('/nc', 'br'), 204);
my $lm = main::get('/page.html', 'identity')->{headers}{'last-modified'};
$ok->('304', main::get('/page.html', 'br',
                       headers => ["If-Modified-Since: $lm"]), 304);
$r = main::get('/page.html', 'br', method => 'HEAD');
$ok->('HEAD', $r, 200);
Test::More::is($r->{headers}{vary}, 'Accept-Encoding', 'HEAD: Vary');
$r = main::get('/page.html', 'br', headers => ['Range: bytes=6-15']);
$ok->('Range', $r, 206);
Test::More::is($r->{body}, substr(main::file('page.html'), 6, 10),
               'the range of the identity');
$r = main::get('/b1k.json', 'br');
$ok->('application/json not in tunny_compress_types', $r, 200);
Test::More::ok(!defined $r->{headers}{vary}, 'no Vary for other types');
$ok->('19 bytes', main::get('/b19.json', 'br'), 200);
# SSI clears Content-Length: short is found at the first chunk
$r = main::get('/ssi/short.html', 'br');
$ok->('short body of unknown length', $r, 200);
Test::More::is($r->{body}, "<p>tiny</p>\n", 'as it is');
--- request
GET /nc
--- error_code: 204
--- no_error_log
[alert]
[error]



=== TEST 7: SSI includes: subrequests compressed into one stream
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_compress on;
    ssi on;
--- init
my $want = "<h1>head</h1>\n" . (main::file('part.html') . "\n<hr>\n") x 3
           . "end\n";
for my $enc (qw(br zstd gzip)) {
    my $r = main::get('/ssi.html', $enc);
    Test::More::is($r->{headers}{'content-encoding'}, $enc, "$enc");
    my $d = main::decode($enc, $r->{body});
    Test::More::ok(defined $d && $d eq $want, "$enc: the whole page");
}
--- request
GET /ssi.html
--- response_body eval
"<h1>head</h1>\n" . (main::file('part.html') . "\n<hr>\n") x 3 . "end\n"



=== TEST 8: tunny_compress_min_length 0: empty bodies make valid streams
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_compress on;
    tunny_compress_min_length 0;
    tunny_compress_types application/json;
--- init
for my $enc (qw(br zstd gzip)) {
    my $r = main::get('/b0.json', $enc);
    my $d = main::decode($enc, $r->{body});
    Test::More::ok(($r->{headers}{'content-encoding'} // '') eq $enc
                   && length $r->{body} && defined $d && $d eq '',
                   "$enc: " . length($r->{body}) . " bytes decode to nothing");
}
--- request
GET /b1.json
--- response_body eval
main::file('b1.json')



=== TEST 9: overload: a refused first chunk goes out uncompressed, never 503 [timing]
--- post_main_config
    tunny_pool one threads=1 max_queue=1;
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_offload one;
    tunny_queue_limit 0;
    tunny_compress on;
    location = /block {
        tunny_burn 5s;
    }
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/block');
TunnyTest::wait_pool('one', 1, 0);
my $r = main::get('/page.html', 'br');
Test::More::is($r->{status}, 200, 'refused: 200');
Test::More::ok(!defined $r->{headers}{'content-encoding'}, 'uncompressed');
Test::More::is($r->{body}, main::file('page.html'), 'the body as it is');
Test::More::is($r->{headers}{'content-length'}, length main::file('page.html'),
               'the original Content-Length');
Test::More::like($r->{headers}{etag}, qr/^"/, 'the strong ETag');
Test::More::ok(!defined $r->{headers}{'retry-after'}, 'no Retry-After');
TunnyTest::bg_collect();
--- request
GET /page.html
--- more_headers
Accept-Encoding: br
--- response_headers
Content-Encoding: br
--- error_log eval
[qr/tunny_compress: the pool refused the task, sending uncompressed/,
 qr/TUNNY \/page.html 200 rejected/]
--- no_error_log
[alert]
[error]



=== TEST 10: overload: the memory budget refused, uncompressed
--- post_main_config
    tunny_pool small max_memory=8m;
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_offload small;
    tunny_compress on;
    location ^~ /z/ {
        alias $TEST_NGINX_COMPRESS_DIR/;
        tunny_compress_zstd_level 3;
    }
--- init
# brotli 11 with a 2^13 window reserves about 13 MB: more than the budget
my $r = main::get('/page.html', 'br');
Test::More::ok($r->{status} == 200 && !defined $r->{headers}{'content-encoding'}
               && $r->{body} eq main::file('page.html'),
               'br 11: more than max_memory, uncompressed');
# zstd 3 fits
main::round_trip('/z/page.html', 'zstd', 'page.html');
--- request
GET /page.html
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
--- error_log eval
qr/tunny_compress: more than max_memory, sending uncompressed/
--- no_error_log
[alert]



=== TEST 11: tunny_timeout on the first chunk: uncompressed
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_compress on;
    tunny_compress_types application/json;
    tunny_compress_chunk 1m;
    tunny_timeout 30ms;
--- init
my $r = main::get('/slow.json', 'br');
Test::More::ok($r->{status} == 200 && !defined $r->{headers}{'content-encoding'}
               && $r->{body} eq main::file('slow.json'),
               'timed out: 200, uncompressed, all of it');
--- request
GET /b19.json
--- more_headers
Accept-Encoding: gzip
--- response_body eval
main::file('b19.json')
--- error_log eval
qr/tunny_compress: the task timed out, sending uncompressed/
--- no_error_log
[alert]



=== TEST 12: tunny_timeout in the middle of the stream: the connection is closed
The first chunk (64 KB of one run of text) is quick; brotli 11 works on
the next ones in 256 KB blocks, far longer than 120 ms (5 s under
valgrind, where both take ~50 times longer).
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_compress on;
    tunny_compress_types application/json;
    tunny_timeout $TEST_NGINX_COMPRESS_MIDSTREAM;
--- init
# brotli holds its output until a block is done: the header may still be
# waiting in nginx (postpone_output) when the connection closes
my $r = main::get('/slow.json', 'br');
Test::More::ok($r->{status} == 0
               || (($r->{headers}{'content-encoding'} // '') eq 'br'
                   && !defined main::decode('br', $r->{body})),
               "the client sees no complete answer (status $r->{status}, "
               . length($r->{body}) . " bytes)");
--- request
GET /b19.json
--- more_headers
Accept-Encoding: gzip
--- response_body eval
main::file('b19.json')
--- error_log eval
qr/tunny_compress: the task timed out of a compressed stream, closing the connection/
--- no_error_log
[alert]



=== TEST 13: the client goes away in the middle: the task is cancelled, everything is freed
brotli 11 on 3 MB in 256 KB chunks: every task is a block's worth of
brotli's slowest search (a fraction of a second, ~50 times that under
valgrind), so the connection closes while one runs.  Under valgrind the
block fails on any definite leak of the orphaned task or of the request.
--- post_main_config
    tunny_pool one threads=1;
--- config
    location ~ \.(json|html)$ {
        root $TEST_NGINX_COMPRESS_DIR;
    }
    tunny_offload one;
    tunny_compress on;
    tunny_compress_types application/json;
    tunny_compress_chunk 256k;
    tunny_timeout 600s;
    location = /status {
        tunny_status;
    }
--- init
Test::More::ok(main::abort_mid_stream('/fast/b3m.json', 'br', 'one'),
               'closed while a task of the stream ran');
main::check_abort('/fast/b3m.json', 'one');
main::round_trip('/b1k.json', 'gzip', 'b1k.json');
--- request
GET /b1k.json
--- more_headers
Accept-Encoding: zstd
--- response_headers
Content-Encoding: zstd
--- no_error_log
[alert]
[crit]



=== TEST 14: the client goes away from a proxied multi-MB stream: everything is freed
The same abort in front of proxy_pass with small buffers (the upstream's
buffers are held by the filter while the chunk's task runs): the
request, its upstream, the orphaned task and the reservation all go.
--- post_main_config
    tunny_pool one threads=1;
--- config
    location ^~ /data/ {
        alias $TEST_NGINX_COMPRESS_DIR/;
    }
    location ^~ /p/ {
        tunny_offload one;
        tunny_compress on;
        tunny_compress_types application/json;
        tunny_compress_chunk 256k;
        tunny_timeout 600s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/data/;
        proxy_buffer_size 4k;
        proxy_buffers 4 4k;
        proxy_busy_buffers_size 8k;
    }
    location = /status {
        tunny_status;
    }
--- init
Test::More::ok(main::abort_mid_stream('/p/fast/b3m.json', 'br', 'one'),
               'closed while a task of the stream ran');
main::check_abort('/p/fast/b3m.json', 'one');
main::round_trip('/p/b70k.json', 'br', 'b70k.json');
--- request
GET /p/b1k.json
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
--- no_error_log
[alert]
[crit]



=== TEST 15: configuration errors
--- config
    tunny_compress on;
    tunny_compress_brotli_level 12;
--- must_die
--- error_log
tunny_compress_brotli_level must be between 0 and 11



=== TEST 16: configuration errors: an unknown encoding
--- config
    tunny_compress_encodings br deflate;
--- must_die
--- error_log
unknown encoding "deflate" (br, zstd, gzip)



=== TEST 17: configuration errors: the brotli window
--- config
    tunny_compress_brotli_window 3k;
--- must_die
--- error_log
tunny_compress_brotli_window must be a power of 2 from 1k to 4m
