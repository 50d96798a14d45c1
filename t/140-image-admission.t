# tunny_image within its limits: tunny_image_buffer (the filter and the
# upload handler, by Content-Length and while reading a chunked body),
# 503 when the queue is full, 504 at tunny_timeout, and 32 concurrent
# large resizes beside a static file.  The blocks with background
# requests wait for the pool state they need through tunny_status
# (t/lib/TunnyTest.pm).
#
# Fixtures, the JPEG/WebP header parser (img_size, img_tags) and the block
# defaults: t/lib/TunnyImage.pm.  Output images are checked by decoding
# their headers in perl, so that most blocks need one request per image.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use TunnyImage;

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);

run_tests();

__DATA__

=== TEST 1: Content-Length over tunny_image_buffer: 415 before reading
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_buffer 100k;
    }
--- request
GET /img/big.jpg
--- error_code: 415
--- error_log eval
qr/tunny_image: Content-Length \d+ exceeds tunny_image_buffer 102400/
--- no_error_log
[alert]



=== TEST 2: a chunked body over tunny_image_buffer: 415
--- config
    location /chunked/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        ssi on;
        ssi_types image/jpeg;
    }
    location /pc/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/chunked/;
        proxy_http_version 1.1;
        tunny_image resize 100 100;
        tunny_image_buffer 100k;
    }
--- request
GET /pc/big.jpg
--- error_code: 415
--- error_log
tunny_image: body exceeds tunny_image_buffer 102400
--- no_error_log
[alert]



=== TEST 3: upload: Content-Length over tunny_image_buffer: 415 at once
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        tunny_image_buffer 4k;
        client_max_body_size 1m;
    }
--- request eval
main::upload("/up", "quad-land.jpg")
--- error_code: 415
--- error_log eval
qr/tunny_image: Content-Length \d+ exceeds tunny_image_buffer 4096/



=== TEST 4: upload: a chunked body over tunny_image_buffer: 415
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        tunny_image_buffer 4k;
        client_max_body_size 1m;
    }
--- request eval
"POST /up\n" . CORE::join("", map { sprintf("%x\r\n%s\r\n", length $_, $_) }
                              unpack("(a1000)*", main::fx("quad-land.jpg")))
 . "0\r\n\r\n"
--- more_headers
Transfer-Encoding: chunked
--- error_code: 415
--- error_log
tunny_image: body exceeds tunny_image_buffer 4096



=== TEST 5: queue full: 503 with Retry-After, no buffering
--- post_main_config
    tunny_pool one threads=1 max_queue=4;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 1s;
    }
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_offload one;
        tunny_queue_limit 0;
        tunny_retry_after 3;
        tunny_image resize 100 100;
    }
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 0);
--- request
GET /img/quad-land.jpg
--- error_code: 503
--- response_headers
Retry-After: 3
--- error_log
TUNNY /img/quad-land.jpg 503 rejected
--- no_error_log
[alert]



=== TEST 6: tunny_timeout while queued behind a busy thread: 504
--- post_main_config
    tunny_pool one threads=1;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 1s;
    }
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_offload one;
        tunny_timeout 200ms;
        tunny_image resize 100 100;
    }
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 0);
--- request
GET /img/quad-land.jpg
--- error_code: 504
--- error_log
TUNNY /img/quad-land.jpg 504 timeout
--- no_error_log
[alert]



=== TEST 7: 32 concurrent large resizes; a static file answers meanwhile
--- config
    location /big/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 2000 1500;
        tunny_image_sharpen 30;
        # the 32 resizes together may outlast the default 30 s on a slow
        # machine (ASan, shared CI): this block is not about deadlines
        tunny_timeout 300s;
    }
    location = /status {
        tunny_status;
    }
--- user_files
>>> small.txt
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
--- init
TunnyTest::bg_request('/big/big.jpg') for 1 .. 32;
# saturated: every thread of the pool busy, resizes waiting
my $g;
Test::More::ok(TunnyTest::wait_for(sub {
                   $g = TunnyTest::gauges('default');
                   $g->[2] == $g->[0] && $g->[1] > 0;
               }), "saturated: @$g (threads, queued, busy)");
--- request
GET /small.txt
--- timeout: 1
--- response_body
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
--- check_body
my $t = TunnyTest::http_request('/small.txt');
my $g = TunnyTest::gauges('default');
Test::More::ok($g->[1] > 0, "answered in $t->{elapsed} s, resizes still "
                            . "queued after it: $g->[1]");
my @res = TunnyTest::bg_collect();
Test::More::is(scalar(grep { $_->{status} == 200 } @res), 32,
               'the 32 resizes answered 200');
# the event loop waits for no resize: a static answer is a small fraction
# of the quickest resize request, however slow the machine makes both
my ($min) = sort { $a <=> $b } map { $_->{elapsed} } @res;
Test::More::cmp_ok($t->{elapsed}, '<', $min / 4,
                   "static answer vs quickest resize ($min s)");
--- grep_error_log eval: qr{TUNNY /big/big.jpg 200 ok}
--- grep_error_log_out eval
"TUNNY /big/big.jpg 200 ok\n" x 32
--- no_error_log
[alert]
[crit]
