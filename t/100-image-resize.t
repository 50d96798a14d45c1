# tunny_image resize, crop and rotate (in either order, as image_filter),
# EXIF orientation, W/H/angle/quality from variables, and what a
# transformed response looks like over HTTP: ETags, Last-Modified, 304,
# Range, HEAD, proxied and chunked sources, inheritance and "off".
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

=== TEST 1: resize a landscape JPEG into a box
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/quad-land.jpg
--- response_headers
Content-Type: image/jpeg
!Accept-Ranges
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 100x75
--- error_log
TUNNY /img/quad-land.jpg 200 ok "-"
--- no_error_log
[alert]
[crit]



=== TEST 2: resize a portrait and a square JPEG
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request eval
["GET /img/quad-port.jpg", "GET /img/quad-square.jpg"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 75x100\n", "jpeg 100x100\n"]
--- no_error_log
[alert]



=== TEST 3: resize WebP: landscape, portrait, square
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request eval
["GET /img/quad-land.webp", "GET /img/quad-port.webp",
 "GET /img/quad-square.webp"]
--- response_headers eval
["Content-Type: image/webp", "Content-Type: image/webp",
 "Content-Type: image/webp"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["webp 100x75\n", "webp 75x100\n", "webp 100x100\n"]
--- no_error_log
[alert]



=== TEST 4: crop fills the box and cuts the centre
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 100 50;
    }
--- request eval
["GET /img/quad-land.jpg", "GET /img/quad-port.jpg",
 "GET /img/quad-square.webp"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 100x50\n", "jpeg 100x50\n", "webp 100x50\n"]
--- no_error_log
[alert]



=== TEST 5: rotate combined with resize, in either order (as image_filter)
--- config
    location /rr/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image rotate 90;
        tunny_image resize 100 100;
    }
    location /rr2/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image rotate 270;
    }
    location /r180/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image rotate 180;
    }
--- request eval
["GET /rr/quad-land.jpg", "GET /rr2/quad-port.webp", "GET /r180/quad-land.jpg"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 75x100\n", "webp 100x75\n", "jpeg 640x480\n"]
--- no_error_log
[alert]



=== TEST 6: rotate with crop (image_filter's order: scale, rotate, cut); "-"
--- config
    location /rc/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 100 50;
        tunny_image rotate 90;
    }
    location /w/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize - 120;
    }
    location /h/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 320 -;
    }
--- request eval
["GET /rc/quad-land.jpg", "GET /w/quad-land.jpg", "GET /h/quad-port.webp"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 75x50\n", "jpeg 160x120\n", "webp 320x426\n"]
--- no_error_log
[alert]



=== TEST 7: W, H, angle and quality from variables
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize $arg_w $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_jpeg_quality $arg_q;
    }
--- request eval
["GET /v/quad-land.jpg?w=200&h=-&a=90&q=50",
 "GET /v/quad-land.jpg?w=64&h=64&a=0&q=100"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 150x200\n", "jpeg 64x48\n"]
--- no_error_log
[alert]



=== TEST 8: EXIF orientation applied: every orientation comes out upright
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request eval
[map { "GET /img/orient-$_.jpg" } 1 .. 8]
--- response_body_filters eval
\&main::img_size
--- response_body eval
[("jpeg 100x75\n") x 8]
--- no_error_log
[alert]



=== TEST 9: already small enough: the original bytes, strong ETag
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 1000 1000;
    }
--- request
GET /img/quad-land.jpg
--- response_headers_like
ETag: "[^"]+"
--- response_body_filters eval
\&Digest::MD5::md5_hex
--- response_body eval
main::fx_md5("quad-land.jpg")



=== TEST 10: transformed output: weak ETag, Last-Modified kept, length set
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/quad-land.jpg
--- response_headers_like
ETag: W/"[^"]+"
Last-Modified: \w+, \d+ \w+ \d+ [\d:]+ GMT
Content-Length: \d+



=== TEST 11: 304 passes through untouched
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        if_modified_since before;
        tunny_image resize 100 100;
    }
--- request
GET /img/quad-land.jpg
--- more_headers
If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT
--- error_code: 304
--- response_body
--- no_error_log
TUNNY /img/quad-land.jpg 304 ok



=== TEST 12: ranges are off: a Range request gets the whole new image
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/quad-land.jpg
--- more_headers
Range: bytes=0-9
--- error_code: 200
--- response_headers
!Accept-Ranges
!Content-Range
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 100x75



=== TEST 13: HEAD passes with the source's headers, no job
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
HEAD /img/quad-land.jpg
--- response_headers
Content-Type: image/jpeg
--- no_error_log
TUNNY /img/quad-land.jpg 200 ok



=== TEST 14: proxy_pass source, and a chunked one (no Content-Length)
--- config
    location /src/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
    }
    location /chunked/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        ssi on;
        ssi_types image/jpeg;
    }
    location /p/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/src/;
        tunny_image resize 100 100;
    }
    location /pc/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/chunked/;
        proxy_http_version 1.1;
        tunny_image resize 100 100;
    }
--- request eval
["GET /p/quad-land.jpg", "GET /pc/big.jpg"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 100x75\n", "jpeg 100x66\n"]
--- no_error_log
[alert]



=== TEST 15: configuration inherited from server level, off in a location
--- config
    tunny_image resize 100 100;
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
    }
    location /off/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image off;
    }
--- request eval
["GET /img/quad-land.jpg", "GET /off/quad-land.jpg"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 100x75\n", "jpeg 640x480\n"]
