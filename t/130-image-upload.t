# tunny_image_upload: the request body as the source, in memory or in a
# temporary file; size and test on an upload; GET refused; nginx's
# client_max_body_size; a bad upload.
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

=== TEST 1: upload: the request body is the source (in memory)
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
--- request eval
main::upload("/up", "quad-land.jpg")
--- response_headers
Content-Type: image/jpeg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 100x75
--- error_log
TUNNY /up 200 ok "-"
--- no_error_log
[alert]
[warn]



=== TEST 2: upload: a body in a temporary file, PUT, WebP out
--- config
    location = /up {
        tunny_image crop 64 64;
        tunny_image_format webp;
        tunny_image_upload;
        client_body_buffer_size 1k;
        client_max_body_size 5m;
    }
--- request eval
main::upload("/up", "big.jpg", "PUT")
--- response_headers
Content-Type: image/webp
--- response_body_filters eval
\&main::img_size
--- response_body
webp 64x64
--- error_log
a client request body is buffered to a temporary file
--- no_error_log
[alert]



=== TEST 3: upload: size, test, not an image, GET
--- config
    location = /size {
        tunny_image size;
        tunny_image_upload;
    }
    location = /test {
        tunny_image test;
        tunny_image_upload;
    }
--- request eval
[main::upload("/size", "quad-port.webp"),
 "POST /test\nthis is not an image at all",
 "GET /size"]
--- error_code eval
[200, 415, 405]
--- response_body_like eval
[qr/^\{ "img" : \{ "width": 480, "height": 640, "type": "webp" \} \}\r\n$/,
 "415", "405"]



=== TEST 4: upload: over client_max_body_size is nginx's 413
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        client_max_body_size 100k;
    }
--- request eval
main::upload("/up", "big.jpg")
--- error_code: 413



=== TEST 5: upload: a truncated JPEG is a 415 with the decoder's reason
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
    }
--- request eval
main::upload("/up", "truncated.jpg")
--- error_code: 415
--- error_log eval
qr{TUNNY /up 415 error "tunny_image: .+"}
--- no_error_log
[alert]
