# tunny_image with GIF input (giflib): the first frame composed on its
# logical screen, the transparency index as alpha, answered as PNG for
# "original" (no GIF encoder), exact sizes and colours; a GIF that needs
# nothing passes as it is; frames outside the screen and LZW garbage
# answer 415 with the reason.  The PNG decoder and the fixtures are those
# of t/115-image-png.t (a copy of its helpers: each .t stands alone).
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use TunnyImage qw(png_decode png_px png_quads png_edge size_class);
use Compress::Zlib ();
use Digest::MD5 ();

our $FX;

BEGIN {
    $FX = $ENV{TEST_NGINX_FIXTURE_DIR};
    die "116-image-gif.t: no fixtures; run ./ngx_tunny_module test\n"
        if !$FX || !-f "$FX/trans.gif";
}

sub fx_md5 ($) {
    open my $fh, '<:raw', "$FX/$_[0]" or die "$FX/$_[0]: $!";
    local $/;
    my $data = <$fh>;
    return Digest::MD5::md5_hex($data);
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

# trans.gif resized to 32x24: inside the frame's red half, the clear
# screen, the frame's transparent half, the clear screen
sub gif_trans ($) {
    my $i = png_decode($_[0]);
    return "$i\n" if !ref $i;
    return "png $i->{w}x$i->{h} ct$i->{ct} "
           . join(" ", map { png_px($i, $_->[0], $_->[1]) }
                           [11, 12], [2, 2], [20, 12], [30, 22]) . "\n";
}

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);

run_tests();

__DATA__

=== TEST 1: GIF resized: its first frame, as PNG, exact size and colours
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
    }
--- request eval
["GET /img/quad.gif", "GET /img/quad-interlaced.gif", "GET /img/anim.gif"]
--- response_headers eval
["Content-Type: image/png", "Content-Type: image/png",
 "Content-Type: image/gif"]
--- response_body_filters eval
\&main::png_quads
--- response_body eval
["png 32x24 ct2\n255,0,0,255 0,255,0,255 0,0,255,255 255,255,255,255\n",
 "png 32x24 ct2\n255,0,0,255 0,255,0,255 0,0,255,255 255,255,255,255\n",
 "not a PNG\n"]



=== TEST 2: the first frame of an animation, red
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
    }
--- request
GET /img/anim.gif
--- response_headers
Content-Type: image/png
--- response_body_filters eval
\&main::png_quads
--- response_body
png 16x16 ct2
255,0,0,255 255,0,0,255 255,0,0,255 255,0,0,255



=== TEST 3: a frame on a larger screen, the transparency index as alpha
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
    }
--- request
GET /img/trans.gif
--- response_body_filters eval
\&main::gif_trans
--- response_body
png 32x24 ct6 255,0,0,255 0,0,0,0 0,0,0,0 0,0,0,0



=== TEST 4: GIF to JPEG and WebP
--- config
    location /jpeg/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format jpeg;
    }
    location /webp/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format webp;
    }
--- request eval
["GET /jpeg/quad.gif", "GET /webp/quad.gif"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 32x24\n", "webp 32x24\n"]



=== TEST 5: hostile GIFs (200x200 screens): 415 with the reason
--- config
    location /hostile/ {
        root $TEST_NGINX_FIXTURE_DIR;
        tunny_image resize 100 100;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
["GET /hostile/gif-frame-outside.gif", "GET /hostile/gif-lzw-garbage.gif",
 "GET /hostile/gif-huge-screen.gif", "GET /hostile/gif-no-image.gif",
 "GET /hostile/gif-cut-25.gif"]
--- error_code eval
[415, 415, 415, 415, 415]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\\r]*GIF frame 32x32 at 180,180 outside the 200x200 screen\\r",
 "X-Tunny-Error: [^\\r]*GIF decode failed: Image is defective, decoding aborted\\r",
 "X-Tunny-Error: [^\\r]*65535x65535 image exceeds tunny_image_max_pixels 50000000\\r",
 "X-Tunny-Error: [^\\r]*GIF without an image\\r",
 "X-Tunny-Error: [^\\r]*GIF decode failed: [A-Za-z ]+\\r"]
--- no_error_log
[alert]



=== TEST 6: a GIF within the box is not decoded: as it is (animation kept)
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/anim.gif
--- response_headers
Content-Type: image/gif
--- response_body_filters eval
\&Digest::MD5::md5_hex
--- response_body eval
main::fx_md5("anim.gif")
