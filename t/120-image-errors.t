# tunny_image errors: bad W/H/angle/quality values from variables (400 and
# the reason), bad input (415 and the reason in $tunny_error, logged),
# non-image and encoded bodies, tunny_image_max_pixels, configuration
# errors (nginx -t).
#
# Fixtures, the JPEG/WebP header parser (img_size, img_tags) and the block
# defaults: t/lib/TunnyImage.pm.  Output images are checked by decoding
# their headers in perl, so that most blocks need one request per image.
use Test::Nginx::Socket 'no_plan';
use TunnyImage;

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);

run_tests();

__DATA__

=== TEST 1: a bad width from a variable is a 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize $arg_w 100;
    }
--- request
GET /v/quad-land.jpg?w=abc
--- error_code: 400
--- error_log
tunny_image: invalid width 'abc'
TUNNY /v/quad-land.jpg 400 - "tunny_image: invalid width 'abc'"
--- no_error_log
[alert]



=== TEST 2: a zero height from a variable: 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_webp_quality $arg_q;
        tunny_image_format webp;
    }
--- request
GET /v/quad-land.jpg?h=0&a=90&q=50
--- error_code: 400
--- error_log
tunny_image: invalid height '0'
--- no_error_log
[alert]



=== TEST 3: an angle of 45 from a variable: 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_webp_quality $arg_q;
        tunny_image_format webp;
    }
--- request
GET /v/quad-land.jpg?h=100&a=45&q=50
--- error_code: 400
--- error_log
tunny_image: invalid angle '45'
--- no_error_log
[alert]



=== TEST 4: a WebP quality of 101 from a variable: 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_webp_quality $arg_q;
        tunny_image_format webp;
    }
--- request
GET /v/quad-land.jpg?h=100&a=90&q=101
--- error_code: 400
--- error_log
tunny_image: invalid WebP quality '101'
--- no_error_log
[alert]



=== TEST 5: a height of 99999 from a variable: 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_webp_quality $arg_q;
        tunny_image_format webp;
    }
--- request
GET /v/quad-land.jpg?h=99999&a=90&q=50
--- error_code: 400
--- error_log
tunny_image: invalid height '99999'
--- no_error_log
[alert]



=== TEST 6: test answers 415 for anything else
--- config
    location /t/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image test;
    }
--- request
GET /t/garbage.bin
--- error_code: 415
--- error_log
tunny_image: not an image
--- no_error_log
[alert]



=== TEST 7: a text response in a resize location: 415 with a reason
--- config
    location /img/ {
        tunny_image resize 100 100;
        return 200 "just some text, long enough to be looked at\n";
    }
--- request
GET /img/x
--- error_code: 415
--- error_log eval
qr{TUNNY /img/x 415 - "tunny_image: not an image \(Content-Type: text/plain\)"}
--- no_error_log
[alert]



=== TEST 8: a gzip-encoded upstream body: 415 with a reason
--- config
    location /gz/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        gzip on;
        gzip_types image/jpeg;
        gzip_min_length 1;
    }
    location /p/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gz/;
        proxy_http_version 1.1;
        proxy_set_header Accept-Encoding gzip;
        tunny_image resize 100 100;
    }
--- request
GET /p/quad-land.jpg
--- error_code: 415
--- error_log
tunny_image: Content-Encoding gzip not supported
--- no_error_log
[alert]



=== TEST 9: bad input empty.bin: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/empty.bin
--- error_code: 415
--- error_log eval
qr{TUNNY /img/empty.bin 415 - "tunny_image: empty body"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 10: bad input garbage.bin: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/garbage.bin
--- error_code: 415
--- error_log eval
qr{TUNNY /img/garbage.bin 415 - "tunny_image: not an image}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 11: bad input ffd8.bin: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/ffd8.bin
--- error_code: 415
--- error_log eval
qr{TUNNY /img/ffd8.bin 415 \S+ "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 12: bad input truncated.jpg: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/truncated.jpg
--- error_code: 415
--- error_log eval
qr{TUNNY /img/truncated.jpg 415 error "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 13: a 415 from the pool tells a keep-alive client the connection closes
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- more_headers
Connection: keep-alive
--- request
GET /img/truncated.jpg
--- error_code: 415
--- response_headers
Connection: close
--- no_error_log
[alert]
[crit]



=== TEST 14: bad input truncated-header.jpg: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/truncated-header.jpg
--- error_code: 415
--- error_log eval
qr{TUNNY /img/truncated-header.jpg 415 \S+ "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 15: bad input truncated.webp: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/truncated.webp
--- error_code: 415
--- error_log eval
qr{TUNNY /img/truncated.webp 415 \S+ "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 16: bad input huge.jpg: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/huge.jpg
--- error_code: 415
--- error_log eval
qr{TUNNY /img/huge.jpg 415 - "tunny_image: 60000x60000 image exceeds tunny_image_max_pixels 50000000"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 17: bad input huge.webp: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/huge.webp
--- error_code: 415
--- error_log eval
qr{TUNNY /img/huge.webp 415 - "tunny_image: 16000x16000 image exceeds tunny_image_max_pixels 50000000"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 18: bad input zero-dims.jpg: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/zero-dims.jpg
--- error_code: 415
--- error_log eval
qr{TUNNY /img/zero-dims.jpg 415 \S+ "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 19: corrupt but decodable data and odd EXIF: never 500
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request eval
[map { "GET /img/$_" } qw(bitflip.jpg bad-exif-1.jpg bad-exif-2.jpg
     bad-exif-3.jpg bad-exif-4.jpg cmyk.jpg gray.jpg alpha.webp
     animated.webp)]
--- error_code_like eval
[(qr/^(200|415)$/) x 9]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 20: tunny_image_max_pixels applies before any decoding
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_max_pixels 300000;
    }
--- request
GET /img/quad-land.jpg
--- error_code: 415
--- error_log
tunny_image: 640x480 image exceeds tunny_image_max_pixels 300000
--- no_error_log
TUNNY /img/quad-land.jpg 415 error



=== TEST 21: configuration errors
--- config
    location /img/ {
        tunny_image resize 0 100;
    }
--- must_die
--- error_log
invalid value "0"



=== TEST 22: configuration errors: quality out of range
--- config
    location /img/ {
        tunny_image resize 100 100;
        tunny_image_jpeg_quality 0;
    }
--- must_die
--- error_log
invalid quality "0", must be 1..100
