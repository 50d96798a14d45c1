# A file-backed body (sendfile on: a static file, a cache hit) is not
# copied by the event loop: the loop reads the first bytes for the sniff
# and a 64 KiB prefix for the probe, and keeps a dup() of the descriptor;
# the pool thread reads the rest.  strace counts the bytes each thread of
# the worker reads (pread64), so the check is exact and timing-free.  A
# header that does not fit the prefix is read whole by the loop (the old
# path), and a job that never runs closes its descriptor.
use Test::Nginx::Socket 'no_plan';
use TunnyImage;
use TunnyTest;
use File::Temp ();

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);
add_block_preprocessor(sub {
    my $block = shift;
    if ($ENV{TEST_NGINX_USE_VALGRIND} && $block->name =~ /strace/) {
        # valgrind runs the worker under its own tracer
        $block->set_value('skip_eval', '2: 1');
        $block->set_value('init', undef);
    }
});

# bytes read with pread64 by each thread of the worker while URI is
# fetched: (status, { tid => bytes }, worker pid)
sub preads_during ($) {
    my ($uri) = @_;
    my ($pid) = TunnyTest::worker_pids();
    my (undef, $out) = File::Temp::tempfile('tunny-strace-XXXXXX',
                                            TMPDIR => 1, UNLINK => 1);
    my $st = fork();
    die "fork: $!" if !defined $st;
    if ($st == 0) {
        exec('strace', '-qq', '-f', '-p', $pid, '-e', 'trace=pread64',
             '-e', 'signal=none', '-o', $out) or POSIX::_exit(127);
    }
    # strace is attached once it has written its first line or after a
    # while (it writes nothing until a traced call happens)
    Time::HiRes::sleep(1 * TunnyTest::slow());
    my $res = TunnyTest::http_request($uri);
    Time::HiRes::sleep(0.2);
    kill 'INT', $st;
    waitpid $st, 0;
    my %bytes;
    open my $fh, '<', $out or die "strace wrote nothing ($out)\n";
    while (<$fh>) {
        $bytes{$1} += $2 if /^(\d+)\s+pread64\(.*\)\s+=\s+(\d+)/;
    }
    close $fh;
    return ($res->{status}, \%bytes, $pid);
}

# a copy of FIXTURE with SIZE bytes of APP15 segments before its frame
# header, in the server's html directory as NAME
sub padded_jpeg ($$$) {
    my ($fixture, $size, $name) = @_;
    my $jpeg = fx($fixture);
    my $pad = '';
    while ($size > 0) {
        my $n = $size > 65000 ? 65000 : $size;
        $pad .= "\xff\xef" . pack('n', $n + 2) . ('p' x $n);
        $size -= $n;
    }
    substr($jpeg, 2, 0) = $pad;
    my $path = "$Test::Nginx::Util::HtmlDir/$name";
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print $fh $jpeg;
    close $fh;
    return length $jpeg;
}

run_tests();

__DATA__

=== TEST 1: strace: the loop reads the prefix, a pool thread the rest
big.jpg is 1.1 MB: the worker's main thread (tid = pid) reads 32 bytes
for the sniff and 64 KiB for the probe; the rest is read by another
thread of the worker.
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- init
my ($status, $b, $pid) = main::preads_during('/img/big.jpg');
my $size = -s "$TunnyImage::FX/big.jpg";
my $loop = $b->{$pid} // 0;
my %threads = map { $_ => $b->{$_} } grep { $_ != $pid } keys %$b;
my $rest = 0;
$rest += $_ for values %threads;
Test::More::is($status, 200, 'the resize answers');
Test::More::is($loop, 32 + 65536, 'the loop read the sniff and the prefix');
Test::More::is($rest, $size - 65536, 'a pool thread read the rest');
--- request
GET /img/big.jpg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 100x66



=== TEST 2: a frame header past the prefix: the loop reads the whole file
The probe cannot find the frame header in the first 64 KiB (130 KB of
APP15 segments come first), so the loop reads the rest and the job gets
the whole body, as without sendfile.
--- config
    location = /padded.jpg {
        tunny_image resize 50 50;
    }
    location = /size/padded.jpg {
        alias html/padded.jpg;
        tunny_image size;
    }
--- init
main::padded_jpeg('quad-land.jpg', 130000, 'padded.jpg');
my $r = TunnyTest::http_request('/size/padded.jpg');
Test::More::like($r->{body}, qr/"width": 640, "height": 480/,
                 'size of the padded JPEG');
--- request
GET /padded.jpg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 50x37



=== TEST 3: tunny_image size needs only the prefix
--- config
    location /s/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image size;
    }
--- request
GET /s/big.jpg
--- response_body_like eval
qr/"width": 3000, "height": 2000/



=== TEST 4: jobs that never run close their descriptors
The single thread is held by a burn; eight resizes of big.jpg queue behind
it and their clients go away.  Once the pool is idle again the worker has
no descriptor of big.jpg open (each of those jobs held a dup()).
--- post_main_config
    tunny_pool p threads=1;
--- config
    tunny_offload p;
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
    location = /hold {
        tunny_burn 1500ms;
    }
    location = /status {
        tunny_status;
    }
--- init
my ($pid) = TunnyTest::worker_pids();
# the worker's descriptors of big.jpg (valgrind has descriptors of its own)
my $fds = sub {
    scalar grep { (readlink($_) // '') =~ m{/big\.jpg$} }
        glob "/proc/$pid/fd/*";
};
my $before = $fds->();
TunnyTest::bg_request('/hold');
Time::HiRes::sleep(0.3);
TunnyTest::bg_request('/img/big.jpg', abort_after => 0.5) for 1 .. 8;
TunnyTest::bg_collect();
Test::More::ok(TunnyTest::wait_for(sub {
                   my $g = TunnyTest::gauges('p');
                   $g->[1] == 0 && $g->[2] == 0;
               }), 'the pool is idle again');
Test::More::ok(TunnyTest::wait_for(sub { $fds->() <= $before }),
               "descriptors: $before before, " . $fds->() . ' after');
--- request
GET /img/quad-land.jpg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 100x75
