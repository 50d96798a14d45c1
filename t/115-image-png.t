# tunny_image with PNG input and output (libspng): sizes and exact pixel
# colours of PNG -> PNG / JPEG / WebP, alpha kept and resized without a
# dark halo, 16-bit, palette + tRNS, Adam7, iCCP kept, APNG as its first
# frame, hostile PNGs answered 415 with a reason, and
# tunny_image_png_compression.  PNG outputs are decoded by png_decode of
# t/lib/TunnyImage.pm (a small decoder for what the encoder writes: 8-bit
# grey, RGB, RGBA, not interlaced); the fixtures come from
# t/tools/gen-fixtures and gen-hostile (TEST_NGINX_FIXTURE_DIR, set by
# ./ngx_tunny_module test).
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use TunnyImage qw(png_decode png_px png_quads png_edge size_class);
use Compress::Zlib ();

our $FX;

BEGIN {
    $FX = $ENV{TEST_NGINX_FIXTURE_DIR};
    die "115-image-png.t: no fixtures; run ./ngx_tunny_module test\n"
        if !$FX || !-f "$FX/edge.png";
}

# "jpeg WxH" / "webp WxH" of a JPEG (SOF0..2) or a WebP
sub img_size ($) {
    my ($b) = @_;
    if ($b =~ /\A\xff\xd8/) {
        my $pos = 2;
        while ($pos + 9 <= length $b) {
            my ($ff, $m, $len) = unpack 'CCn', substr($b, $pos, 4);
            last if $ff != 0xff;
            if ($m >= 0xc0 && $m <= 0xc2) {
                my ($h, $w) = unpack 'nn', substr($b, $pos + 5, 4);
                return "jpeg ${w}x$h\n";
            }
            $pos += 2 + $len;
        }
    } elsif ($b =~ /\ARIFF....WEBPVP8X/s) {
        my @c = unpack 'C6', substr($b, 24, 6);
        return 'webp ' . (1 + $c[0] + ($c[1] << 8) + ($c[2] << 16)) . 'x'
               . (1 + $c[3] + ($c[4] << 8) + ($c[5] << 16)) . "\n";
    } elsif ($b =~ /\ARIFF....WEBPVP8 /s) {
        my ($w, $h) = unpack 'vv', substr($b, 26, 4);
        return 'webp ' . ($w & 0x3fff) . 'x' . ($h & 0x3fff) . "\n";
    }
    return 'other ' . length($b) . "\n";
}

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);

run_tests();

__DATA__

=== TEST 1: PNG to PNG: exact size and exact quadrant colours
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/quad-land.png
--- response_headers
Content-Type: image/png
--- response_body_filters eval
\&main::png_quads
--- response_body
png 100x75 ct2
255,0,0,255 0,255,0,255 0,0,255,255 255,255,255,255
--- error_log
TUNNY /img/quad-land.png 200 ok "-"



=== TEST 2: PNG to JPEG and to WebP: exact sizes
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
["GET /jpeg/quad-land.png", "GET /webp/quad-land.png"]
--- response_headers eval
["Content-Type: image/jpeg", "Content-Type: image/webp"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 100x75\n", "webp 100x75\n"]



=== TEST 3: JPEG to PNG with tunny_image_format png
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 64 64;
        tunny_image_format png;
    }
--- request
GET /img/quad-land.jpg
--- response_headers
Content-Type: image/png
--- response_body_filters eval
\&main::png_quads
--- response_body_like
\Apng 64x48 ct2
2[3-5]\d,\d{1,2},\d{1,2},255 \d{1,2},2[3-5]\d,\d{1,2},255 \d{1,2},\d{1,2},2[3-5]\d,255 2[3-5]\d,2[3-5]\d,2[3-5]\d,255$



=== TEST 4: the alpha edge after a resize: alpha kept, soft, no dark halo
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 50 50;
    }
--- request
GET /img/edge.png
--- response_body_filters eval
\&main::png_edge
--- response_body
png 50x25 ct6 left 255 right 0 halo 0 soft



=== TEST 5: transparency to JPEG: flattened on white
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 50 50;
        tunny_image_format jpeg;
    }
--- request
GET /img/edge.png
--- response_headers
Content-Type: image/jpeg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 50x25



=== TEST 6: 16-bit, palette + tRNS, Adam7, grey, APNG first frame
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format png;
    }
--- request eval
["GET /img/quad16.png", "GET /img/palette-trns.png", "GET /img/adam7.png",
 "GET /img/grey.png", "GET /img/anim.png"]
--- response_body_filters eval
\&main::png_quads
--- response_body eval
["png 32x24 ct2\n255,0,0,255 0,255,0,255 0,0,255,255 255,255,255,255\n",
 "png 32x24 ct6\n255,0,0,255 0,0,0,0 255,0,0,255 0,0,0,0\n",
 "png 32x24 ct2\n255,0,0,255 0,255,0,255 0,0,255,255 255,255,255,255\n",
 "png 32x24 ct0\n96,96,96,255 96,96,96,255 96,96,96,255 96,96,96,255\n",
 "png 32x32 ct2\n255,0,0,255 255,0,0,255 255,0,0,255 255,0,0,255\n"]



=== TEST 7: iCCP is kept in PNG output (tunny_image_colour keep)
--- config
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_colour keep;
    }
--- request
GET /png/icc.png
--- response_body_filters eval
\&main::png_quads
--- response_body
png 32x24 ct2 icc
255,0,0,255 0,255,0,255 0,0,255,255 255,255,255,255



=== TEST 8: the PNG's iCCP travels to JPEG as APP2 (tunny_image_colour keep)
--- config
    location /jpeg/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format jpeg;
        tunny_image_colour keep;
    }
--- request
GET /jpeg/icc.png
--- response_body_filters eval
sub { $_[0] =~ /\xff\xe2..ICC_PROFILE\0/s ? "icc\n" : "none\n" }
--- response_body
icc



=== TEST 9: a PNG within the box passes as it is; original keeps PNG
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 1000 1000;
    }
--- request
GET /img/quad-land.png
--- response_headers
Content-Type: image/png
--- response_body_filters eval
\&main::png_quads
--- response_body
png 640x480 ct2
255,0,0,255 0,255,0,255 0,0,255,255 255,255,255,255



=== TEST 10: tunny_image_png_compression changes the output size
--- config
    location /z0/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 320 320;
        tunny_image_format png;
        tunny_image_png_compression 0;
    }
    location /z9/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 320 320;
        tunny_image_format png;
        tunny_image_png_compression 9;
    }
--- request eval
["GET /z0/quad-land.jpg", "GET /z9/quad-land.jpg"]
--- response_body_filters eval
\&main::size_class
--- response_body eval
["large\n", "small\n"]



=== TEST 11: tunny_image_png_compression out of range: configuration error
--- config
    location /img/ {
        tunny_image resize 10 10;
        tunny_image_png_compression 10;
    }
--- must_die
--- error_log
value must be between 0 and 9



=== TEST 12: hostile PNGs: 415 with the reason, never a 500
--- config
    location /hostile/ {
        root $TEST_NGINX_FIXTURE_DIR;
        tunny_image resize 100 100;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
["GET /hostile/png-huge-dims.png", "GET /hostile/png-trunc-idat.png",
 "GET /hostile/png-bad-chunk-len.png", "GET /hostile/png-bad-crc.png",
 "GET /hostile/png-taller.png", "GET /hostile/png-width-2-31.png"]
--- error_code eval
[415, 415, 415, 415, 415, 415]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\r]*100000x100000 image exceeds tunny_image_max_pixels 50000000\r",
 "X-Tunny-Error: [^\r]*PNG decode failed: end of stream\r",
 "X-Tunny-Error: [^\r]*PNG decode failed: [a-z ]+\r",
 "X-Tunny-Error: [^\r]*PNG decode failed: IDAT stream error\r",
 "X-Tunny-Error: [^\r]*PNG decode failed: IDAT stream too short\r",
 "X-Tunny-Error: [^\r]*bad PNG dimensions\r"]
--- no_error_log
[alert]



=== TEST 13: a zlib bomb (IDAT of 2000x20000 under an IHDR of 2000x10):
libspng inflates only the rows of the image, the answer is the 2000x10
image resized
--- config
    location /hostile/ {
        root $TEST_NGINX_FIXTURE_DIR;
        tunny_image resize 100 100;
    }
--- request
GET /hostile/png-bomb-idat.png
--- response_body_filters eval
\&main::png_quads
--- response_body
png 100x1 ct0
0,0,0,255 0,0,0,255 0,0,0,255 0,0,0,255
