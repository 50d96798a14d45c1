# tunny_image formats and metadata: size (JSON) and test, PNG and GIF
# passed through, WebP and JPEG output and quality, Accept negotiation
# (format auto, Vary), the ICC profile kept and EXIF/XMP/comments
# stripped, tunny_image_interlace.
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

=== TEST 1: size answers JSON like image_filter
--- config
    location /s/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image size;
    }
--- request eval
["GET /s/quad-land.jpg", "GET /s/quad-port.webp", "GET /s/tiny.png",
 "GET /s/garbage.bin"]
--- response_headers eval
["Content-Type: text/plain", "Content-Type: text/plain",
 "Content-Type: text/plain", "Content-Type: text/plain"]
--- response_body eval
[qq|{ "img" : { "width": 640, "height": 480, "type": "jpeg" } }\r\n|,
 qq|{ "img" : { "width": 480, "height": 640, "type": "webp" } }\r\n|,
 qq|{ "img" : { "width": 3, "height": 2, "type": "png" } }\r\n|,
 qq|{}\r\n|]
--- no_error_log
[alert]



=== TEST 2: the size of a resized image, through proxy_pass
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 150 150;
    }
    location /s/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/img/;
        tunny_image size;
    }
--- request
GET /s/quad-port.jpg
--- response_body eval
qq|{ "img" : { "width": 112, "height": 150, "type": "jpeg" } }\r\n|
--- no_error_log
[alert]



=== TEST 3: test passes images with their type
--- config
    location /t/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image test;
    }
--- request
GET /t/quad-land.jpg
--- response_headers
Content-Type: image/jpeg
--- response_body_filters eval
\&Digest::MD5::md5_hex
--- response_body eval
main::fx_md5("quad-land.jpg")



=== TEST 4: format auto: WebP when Accept allows it, with Vary
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format auto;
    }
--- request
GET /img/quad-land.jpg
--- more_headers
Accept: image/avif,image/webp,*/*
--- response_headers
Content-Type: image/webp
Vary: Accept
--- response_body_filters eval
\&main::img_size
--- response_body
webp 100x75
--- no_error_log
[alert]



=== TEST 5: format auto without image/webp in Accept: JPEG, with Vary
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format auto;
    }
--- request eval
["GET /img/quad-land.jpg", "GET /img/quad-land.webp"]
--- more_headers
Accept: image/jpeg,*/*
--- response_headers eval
["Content-Type: image/jpeg\nVary: Accept",
 "Content-Type: image/jpeg\nVary: Accept"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 100x75\n", "jpeg 100x75\n"]
--- no_error_log
[alert]



=== TEST 6: format webp and jpeg convert; original keeps the type
--- config
    location /webp/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format webp;
        tunny_image_webp_quality 60;
    }
    location /jpeg/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format jpeg;
    }
--- request eval
["GET /webp/quad-land.jpg", "GET /jpeg/quad-land.webp"]
--- response_headers eval
["Content-Type: image/webp\n!Vary", "Content-Type: image/jpeg\n!Vary"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["webp 100x75\n", "jpeg 100x75\n"]



=== TEST 7: ICC profile kept (tunny_image_colour keep), EXIF, XMP and comments gone (JPEG)
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_colour keep;
    }
--- request
GET /img/icc-exif.jpg
--- response_body_filters eval
\&main::img_tags
--- response_body
baseline icc
--- no_error_log
[alert]



=== TEST 8: the source fixture really has all those markers
--- config
    location /raw/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
    }
--- request
GET /raw/icc-exif.jpg
--- response_body_filters eval
\&main::img_tags
--- response_body_like
^baseline comment exif icc xmp$



=== TEST 9: ICC profile kept into WebP output (tunny_image_colour keep)
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format webp;
        tunny_image_colour keep;
    }
--- request eval
["GET /img/icc-exif.jpg", "GET /img/icc.webp"]
--- response_body_filters eval
\&main::img_tags
--- response_body eval
["icc lossy\n", "icc lossy\n"]



=== TEST 10: tunny_image_interlace on: progressive JPEG (SOF2)
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_interlace on;
    }
    location /base/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request eval
["GET /img/quad-land.jpg", "GET /base/progressive.jpg"]
--- response_body_filters eval
\&main::img_tags
--- response_body eval
["progressive\n", "baseline\n"]



=== TEST 11: PNG is resized like the others (t/115-image-png.t for more)
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 1 1;
    }
--- request
GET /img/tiny.png
--- response_headers
Content-Type: image/png
--- response_body_like: \A\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01
--- no_error_log
passed through unchanged



=== TEST 12: GIF: its first frame resized, answered as PNG (t/116-image-gif.t)
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 1 1;
    }
--- request
GET /img/tiny.gif
--- response_headers
Content-Type: image/png
--- response_body_like: \A\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x01\0\0\0\x01
--- no_error_log
passed through unchanged
