# The memory budget of a pool (tunny_pool max_memory=): the image body
# buffers and jobs reserve it, a request that would pass it is refused
# (503, reason "memory"), one larger than the whole budget gets 415, and
# every way a job ends gives the bytes back (the gauge returns to 0).
# Bodies served from files have a Content-Length: the buffer, and so the
# reservation, is exactly the file's size.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

repeat_each(1);
no_shuffle();
log_level('info');

our $FX = $ENV{TEST_NGINX_FIXTURE_DIR};

# html/NAME: quad-land.jpg padded after its end to exactly SIZE bytes
sub padded ($$) {
    my ($name, $size) = @_;
    open my $in, '<:raw', "$FX/quad-land.jpg" or die "$FX/quad-land.jpg: $!";
    local $/;
    my $jpeg = <$in>;
    close $in;
    my $file = Test::Nginx::Util::server_root() . "/html/$name";
    open my $out, '>:raw', $file or die "$file: $!";
    print $out $jpeg, "\0" x ($size - length $jpeg);
    close $out;
}

sub memory_gauge () {
    my $m = TunnyTest::http_request('/metrics')->{body};
    my ($v) = $m =~ /^tunny_pool_memory_bytes\{pool="p"\} (\d+)$/m;
    return $v;
}

# the gauge once it has settled at 0, or what it reads after 10 s
sub gauge_drains () {
    my $t0 = Time::HiRes::time();
    my $v;
    while (Time::HiRes::time() - $t0 < 10) {
        $v = memory_gauge();
        return $v if defined $v && $v == 0;
        Time::HiRes::sleep(0.05);
    }
    return $v;
}

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('skip_eval', '1: 1')
        if $ENV{TEST_NGINX_USE_VALGRIND} && $block->name =~ /behind/;
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri $status $tunny_outcome reason=$tunny_reject_reason';
    access_log logs/error.log tunny;
_EOC_
    }
    if (!defined $block->post_main_config) {
        $block->set_value('post_main_config',
                          "    tunny_pool p threads=1 max_memory=1m;\n");
    }
    if (!defined $block->config) {
        $block->set_value('config', <<'_EOC_');
    tunny_offload p;
    location /m/ {
        alias html/;
        tunny_image resize 100 100;
    }
    location /t/ {
        alias html/;
        tunny_image resize 100 100;
        tunny_timeout 600ms;
    }
    location = /block {
        tunny_burn 10s;
    }
    location = /metrics {
        tunny_status;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: a body of exactly max_memory is admitted
--- init
main::padded('exact.jpg', 1048576);
--- request
GET /m/exact.jpg
--- response_body_like: ^\xff\xd8
--- no_error_log
exceeds



=== TEST 2: one byte more than max_memory is 415 with the reason
--- init
main::padded('over.jpg', 1048577);
--- request
GET /m/over.jpg
--- error_code: 415
--- error_log
tunny_image: a body of 1048577 bytes exceeds the pool's max_memory



=== TEST 3: behind a busy thread, a queued job holds its bytes: the next is refused for memory
--- init
main::padded('exact.jpg', 1048576);
main::padded('small.jpg', 8192);
TunnyTest::bg_request('/block', abort_after => 1.5);
Time::HiRes::sleep(0.2);
TunnyTest::bg_request('/m/exact.jpg');
Time::HiRes::sleep(0.2);
$main::Held = main::memory_gauge();
$main::Refused = TunnyTest::http_request('/m/small.jpg');
my @bg = TunnyTest::bg_collect();
Test::More::is($main::Held, 1048576, 'the queued job holds 1 MiB');
Test::More::is($main::Refused->{status}, 503, 'the next image is refused');
Test::More::ok(defined $main::Refused->{headers}{'retry-after'},
               'with Retry-After');
Test::More::is($bg[1]{status}, 200, 'the queued one is answered');
Test::More::is(main::gauge_drains(), 0, 'released on completion');
--- request
GET /metrics
--- response_body_like
tunny_rejections_total\{pool="p",reason="memory"\} 1
--- error_log eval
[qr/TUNNY \/m\/small.jpg 503 rejected reason=memory/,
qr/tunny: pool "p" max_memory is reserved, answering 503/]



=== TEST 4: behind a busy thread: released on timeout and on client abort
--- init
main::padded('exact.jpg', 1048576);
TunnyTest::bg_request('/block', abort_after => 2);
Time::HiRes::sleep(0.2);
my $r = TunnyTest::http_request('/t/exact.jpg');
Test::More::is($r->{status}, 504, 'the queued job times out');
Test::More::is(main::memory_gauge(), 0, 'released on timeout');
TunnyTest::bg_request('/t/exact.jpg', abort_after => 0.3);
Time::HiRes::sleep(0.15);
Test::More::is(main::memory_gauge(), 1048576, 'held while queued');
TunnyTest::bg_collect();
Test::More::is(main::gauge_drains(), 0, 'released on client abort');
--- request
GET /metrics
--- response_body_like
tunny_pool_memory_bytes\{pool="p"\} 0
--- error_log eval
[qr/TUNNY \/t\/exact.jpg 504 timeout/, qr/TUNNY \/t\/exact.jpg 499 cancelled/]
