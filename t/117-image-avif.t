# tunny_image with AVIF input and output (libavif: dav1d decodes, aom
# encodes): sizes and pixel colours of JPEG / PNG / WebP -> AVIF and of
# AVIF -> JPEG / PNG / WebP, 10 bits, grids, irot, a sequence's first
# image, alpha and the ICC profile kept, tunny_image_format avif and
# auto with tunny_image_formats (the Accept strings of Chrome, Safari,
# Firefox and curl, q=0), Vary, max_pixels before decoding, hostile AVIFs
# answered 415 with a reason, and the configuration errors.
#
# AVIF outputs are checked in two ways: their boxes (img_size / img_tags
# of TunnyImage: the ispe size, an alpha item, an ICC colr box), and their
# pixels after a second pass through the module into PNG (the /back/
# locations proxy to an AVIF location and write PNG), decoded here.
# Colours are named when every channel is within 16 of the name (the
# lossy round trip through YUV 4:2:0): red, green, blue, white, and
# "clear" for alpha 0.  Fixtures: t/tools/gen-fixtures (avif: written by
# libavif and aom at quantizer 10) and gen-hostile.
use Test::Nginx::Socket 'no_plan';
use TunnyImage;

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);

# png_quads with the colours named
sub named ($) {
    my ($s) = @_;
    my %c = (red => [255, 0, 0], green => [0, 255, 0], blue => [0, 0, 255],
             white => [255, 255, 255]);
    $s =~ s{(\d+),(\d+),(\d+),(\d+)}{
        my @p = ($1, $2, $3, $4);
        my ($n) = $p[3] == 0 ? ('clear')
                  : grep { my $k = $c{$_};
                           $p[3] == 255
                           && !grep { abs($p[$_] - $k->[$_]) > 16 } 0 .. 2
                         } sort keys %c;
        $n // "$1,$2,$3,$4";
    }ge;
    return $s;
}

sub quads { named(main::png_quads($_[0])) }

# "avif WxH tags" from the boxes
sub avif_desc ($) {
    my %i = main::img_parse($_[0]);
    return "$i{type} " . ($i{size} // '?')
           . join('', map { " $_" } sort @{ $i{tags} }) . "\n";
}

run_tests();

__DATA__

=== TEST 1: JPEG, PNG and WebP to AVIF: the type and exact sizes
--- config
    location /avif/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format avif;
    }
--- request eval
["GET /avif/quad-land.jpg", "GET /avif/quad-land.png",
 "GET /avif/quad-land.webp", "GET /avif/quad-port.jpg"]
--- response_headers eval
["Content-Type: image/avif", "Content-Type: image/avif",
 "Content-Type: image/avif", "Content-Type: image/avif"]
--- response_body_filters eval
\&main::avif_desc
--- response_body eval
["avif 100x75\n", "avif 100x75\n", "avif 100x75\n", "avif 75x100\n"]
--- no_error_log
[alert]



=== TEST 2: JPEG, PNG and WebP to AVIF: the colours of the quadrants
(decoded by a second pass into PNG)
--- config
    location /avif/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format avif;
    }
    location /back/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/avif/;
        tunny_image resize 1000 1000;
        tunny_image_format png;
    }
--- request eval
["GET /back/quad-land.jpg", "GET /back/quad-land.png",
 "GET /back/quad-land.webp"]
--- response_headers eval
["Content-Type: image/png", "Content-Type: image/png",
 "Content-Type: image/png"]
--- response_body_filters eval
\&main::quads
--- response_body eval
["png 100x75 ct2\nred green blue white\n",
 "png 100x75 ct2\nred green blue white\n",
 "png 100x75 ct2\nred green blue white\n"]



=== TEST 3: AVIF to PNG: sizes and colours; 8, 10 and 12 bits, a 2x2
grid, irot applied once, a sequence's first image
--- config
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format png;
    }
--- request eval
["GET /png/quad-land.avif", "GET /png/quad10.avif", "GET /png/quad12.avif",
 "GET /png/grid.avif", "GET /png/irot.avif", "GET /png/anim.avif"]
--- response_body_filters eval
\&main::quads
--- response_body eval
["png 100x75 ct2\nred green blue white\n",
 "png 100x75 ct2\nred green blue white\n",
 "png 100x75 ct2\nred green blue white\n",
 "png 100x75 ct2\nred green blue white\n",
 "png 100x75 ct2\nred green blue white\n",
 "png 64x48 ct2\nred green blue white\n"]



=== TEST 4: AVIF to JPEG and to WebP: the type and exact sizes
--- config
    location /jpeg/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format jpeg;
    }
    location /webp/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format webp;
    }
--- request eval
["GET /jpeg/quad-land.avif", "GET /webp/quad-land.avif",
 "GET /jpeg/irot.avif"]
--- response_headers eval
["Content-Type: image/jpeg", "Content-Type: image/webp",
 "Content-Type: image/jpeg"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 100x75\n", "webp 100x75\n", "jpeg 100x75\n"]



=== TEST 5: AVIF to JPEG and WebP, and back to PNG: the colours
--- config
    location /jpeg/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format jpeg;
    }
    location /webp/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format webp;
    }
    location /backjpeg/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/jpeg/;
        tunny_image resize 1000 1000;
        tunny_image_format png;
    }
    location /backwebp/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/webp/;
        tunny_image resize 1000 1000;
        tunny_image_format png;
    }
--- request eval
["GET /backjpeg/quad-land.avif", "GET /backwebp/quad-land.avif"]
--- response_body_filters eval
\&main::quads
--- response_body eval
["png 100x75 ct2\nred green blue white\n",
 "png 100x75 ct2\nred green blue white\n"]



=== TEST 6: alpha: AVIF to PNG keeps it; PNG and WebP with alpha to AVIF
keep it (an alpha item, and back in PNG: red left, clear right)
--- config
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 50 50;
        tunny_image_format png;
    }
    location /avif/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 50 50;
        tunny_image_format avif;
    }
    location /back/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/avif/;
        tunny_image resize 1000 1000;
        tunny_image_format png;
    }
--- request eval
["GET /png/alpha.avif", "GET /avif/alpha.webp", "GET /avif/edge.png",
 "GET /avif/quad-land.jpg", "GET /back/alpha.webp"]
--- response_body_filters eval
[[\&main::quads], [\&main::avif_desc], [\&main::avif_desc],
 [\&main::avif_desc], [\&main::quads]]
--- response_body eval
["png 50x25 ct6\nred clear red clear\n",
 "avif 50x25 alpha\n", "avif 50x25 alpha\n", "avif 50x37\n",
 "png 50x25 ct6\nred clear red clear\n"]



=== TEST 7: the ICC profile: AVIF to PNG (iCCP) and JPEG (APP2); PNG and
JPEG to AVIF (a colr box of type prof), with tunny_image_colour keep (the
default, srgb, converts the pixels and writes no profile: t/119)
--- config
    tunny_image_colour keep;
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format png;
    }
    location /jpeg/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format jpeg;
    }
    location /avif/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format avif;
    }
--- request eval
["GET /png/icc.avif", "GET /jpeg/icc.avif", "GET /avif/icc.png",
 "GET /avif/icc-exif.jpg", "GET /avif/quad-land.png"]
--- response_body_filters eval
[[\&main::quads], [\&main::img_tags], [\&main::avif_desc],
 [\&main::avif_desc], [\&main::avif_desc]]
--- response_body eval
["png 32x24 ct2 icc\nred green blue white\n",
 "baseline icc\n", "avif 32x24 icc\n", "avif 32x24 icc\n",
 "avif 32x24\n"]



=== TEST 8: an AVIF within the box passes as it is (original); a larger
one is resized as AVIF
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 1000 1000;
    }
    location /small/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 320 320;
    }
--- request eval
["GET /img/quad-land.avif", "GET /small/quad-land.avif"]
--- response_headers eval
["Content-Type: image/avif", "Content-Type: image/avif"]
--- response_body_filters eval
[[sub { main::fx_md5('quad-land.avif') eq Digest::MD5::md5_hex($_[0])
        ? "as is\n" : "changed\n" }], [\&main::avif_desc]]
--- response_body eval
["as is\n", "avif 320x240\n"]



=== TEST 9: format auto with tunny_image_formats avif webp: the Accept
strings of Chrome, Safari 17, Firefox, old Firefox, curl, image/* only,
and q-values (q=0 excludes; the higher q wins; equal q: the order of
tunny_image_formats); Vary: Accept on every answer
--- http_config
    log_format tunny 'TUNNY $uri $status $tunny_outcome "$tunny_error"';
    access_log logs/error.log tunny;
    map $arg_ua $ua_accept {
        chrome  "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        safari  "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
        firefox "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
        ff65    "image/webp,*/*";
        curl    "*/*";
        images  "image/*";
        noavif  "image/avif;q=0,image/webp,*/*";
        nowebp  "image/avif,image/webp;q=0,*/*";
        webpq   "image/webp;q=0.9,image/avif;q=0.5,*/*;q=0.1";
        avifq   "image/avif;q=0.9,image/webp;q=0.8";
        nothing "image/avif;q=0,image/webp;q=0";
    }
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format auto;
        tunny_image_formats avif webp;
    }
    location /n/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/img/;
        proxy_set_header Accept $ua_accept;
    }
--- request eval
[map { "GET /n/quad-land.jpg?ua=$_" }
 qw(chrome safari firefox ff65 curl images noavif nowebp webpq avifq
    nothing)]
--- response_headers eval
[map { "Content-Type: image/$_\nVary: Accept" }
 qw(avif avif avif webp jpeg jpeg webp avif webp avif jpeg)]
--- response_body_filters eval
\&main::img_size
--- response_body eval
[map { "$_ 100x75\n" }
 qw(avif avif avif webp jpeg jpeg webp avif webp avif jpeg)]



=== TEST 10: format auto: the order of tunny_image_formats breaks ties;
the default (webp) keeps today's answers; an AVIF source goes to JPEG
for a client that does not name AVIF, stays AVIF for one that does
--- http_config
    log_format tunny 'TUNNY $uri $status $tunny_outcome "$tunny_error"';
    access_log logs/error.log tunny;
    map $arg_ua $ua_accept {
        chrome  "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
        safari  "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
        curl    "*/*";
        avif    "image/avif,*/*;q=0.5";
    }
--- config
    location /webpfirst/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format auto;
        tunny_image_formats webp avif;
    }
    location /default/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format auto;
    }
    location /n/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/;
        proxy_set_header Accept $ua_accept;
    }
--- request eval
["GET /n/webpfirst/quad-land.jpg?ua=chrome",
 "GET /n/webpfirst/quad-land.jpg?ua=safari",
 "GET /n/default/quad-land.jpg?ua=chrome",
 "GET /n/default/quad-land.avif?ua=curl",
 "GET /n/default/quad-land.avif?ua=avif",
 "GET /n/default/quad-land.avif?ua=chrome"]
--- response_headers eval
[map { "Content-Type: image/$_\nVary: Accept" }
 qw(webp webp webp jpeg avif webp)]
--- response_body_filters eval
\&main::img_size
--- response_body eval
[map { "$_ 100x75\n" } qw(webp webp webp jpeg avif webp)]



=== TEST 11: tunny_image_max_pixels: refused from the header, 415
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_max_pixels 300000;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
["GET /img/quad-land.avif", "GET /img/grid.avif", "GET /img/icc.avif"]
--- error_code eval
[415, 415, 200]
--- raw_response_headers_like eval
["X-Tunny-Error: tunny_image: 640x480 image exceeds tunny_image_max_pixels 300000\r",
 "X-Tunny-Error: tunny_image: 640x480 image exceeds tunny_image_max_pixels 300000\r",
 "Content-Type: image/avif\r"]



=== TEST 12: hostile AVIFs: 415 with the reason, never a 500
--- config
    location /hostile/ {
        root $TEST_NGINX_FIXTURE_DIR;
        tunny_image resize 100 100;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
["GET /hostile/avif-huge-ispe.avif", "GET /hostile/avif-grid-huge-ispe.avif",
 "GET /hostile/avif-grid-huge-dims.avif", "GET /hostile/avif-cut-last.avif",
 "GET /hostile/avif-no-pitm.avif", "GET /hostile/avif-box-meta-huge.avif",
 "GET /hostile/avif-zero-ispe.avif", "GET /hostile/avif-grid-256x256.avif"]
--- error_code eval
[415, 415, 415, 415, 415, 415, 415, 415]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\r]*100000x100000 image exceeds tunny_image_max_pixels 50000000\r",
 "X-Tunny-Error: [^\r]*60000x60000 image exceeds tunny_image_max_pixels 50000000\r",
 "X-Tunny-Error: [^\r]*AVIF decode failed: [^\r]+\r",
 "X-Tunny-Error: [^\r]*AVIF decode failed: [^\r]+\r",
 "X-Tunny-Error: [^\r]*AVIF without a primary item or its properties\r",
 "X-Tunny-Error: [^\r]*truncated or bad AVIF box\r",
 "X-Tunny-Error: [^\r]*AVIF with zero width or height\r",
 "X-Tunny-Error: [^\r]*AVIF decode failed: [^\r]+\r"]
--- no_error_log
[alert]



=== TEST 13: tunny_image_avif_quality changes the size (quantizer 50 and
6 of 63: 2.5 KB and 24 KB for this 640x426 thumbnail), from a variable
--- config
    location /q/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 640 640;
        tunny_image_format avif;
        tunny_image_avif_quality $arg_q;
    }
--- request eval
["GET /q/big.jpg?q=20", "GET /q/big.jpg?q=90"]
--- response_body_filters eval
[[sub { length($_[0]) < 6000 ? "small\n" : "large " . length($_[0]) . "\n" }],
 [sub { length($_[0]) > 12000 ? "large\n" : "small " . length($_[0]) . "\n" }]]
--- response_body eval
["small\n", "large\n"]



=== TEST 14: tunny_image_avif_quality from a variable: a bad value is a
400 with the reason
--- config
    location /q/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 640 640;
        tunny_image_format avif;
        tunny_image_avif_quality $arg_q;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request
GET /q/big.jpg?q=0
--- error_code: 400
--- raw_response_headers_like
X-Tunny-Error: tunny_image: invalid AVIF quality '0'\r



=== TEST 15: configuration errors: avif_speed out of range
--- config
    location /a/ {
        tunny_image resize 10 10;
        tunny_image_avif_speed 11;
    }
--- must_die
--- error_log
value must be between 0 and 10



=== TEST 16: configuration errors: a format tunny_image_formats does not
know
--- config
    location /a/ {
        tunny_image resize 10 10;
        tunny_image_formats avif gif;
    }
--- must_die
--- error_log
invalid format "gif" (avif, webp, jpeg, png)



=== TEST 17: configuration errors: a format given twice
--- config
    location /a/ {
        tunny_image resize 10 10;
        tunny_image_formats avif webp avif;
    }
--- must_die
--- error_log
format "avif" is given twice



=== TEST 18: configuration errors: avif_quality 0
--- config
    location /a/ {
        tunny_image resize 10 10;
        tunny_image_avif_quality 0;
    }
--- must_die
--- error_log
invalid quality "0", must be 1..100



=== TEST 19: an upload to AVIF
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_format avif;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
--- request eval
main::upload("/up", "quad-land.jpg")
--- response_headers
Content-Type: image/avif
--- response_body_filters eval
\&main::avif_desc
--- response_body
avif 100x75
