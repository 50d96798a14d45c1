# Animations: an animated GIF or an animated WebP written as WebP
# (tunny_image_format webp, auto choosing WebP, or a WebP source) stays
# animated: every frame composed (GIF disposal methods, transparency,
# frame rectangles), resized with the still's geometry, its duration and
# the loop count kept; written as anything else it gives its first frame.
# Limits: tunny_image_max_frames, tunny_image_max_pixels over all frames,
# the predicted pixel memory against the pool's max_memory, hostile
# animations (frame count bombs, a later frame outside the screen or of
# LZW garbage, cut WebPs): 415 with the reason.
#
# Outputs are read back with t/tools/webp-anim-info (libwebp's
# WebPAnimDecoder, built by the driver): canvas, frames, loop count, each
# frame's duration, and the composed colour at chosen pixels, named
# (red green blue white, clear for alpha < 64; "?" for anything else).
# Fixtures: t/tools/gen-fixtures (anim-*.gif, anim-quads.webp) and
# gen-hostile (hostile/anim-*).
use Test::Nginx::Socket 'no_plan';
use TunnyImage;
use File::Spec ();
use File::Temp ();

our $INFO;

BEGIN {
    $INFO = File::Spec->rel2abs('t/tools/webp-anim-info');
    die "118-image-anim.t: no $INFO; run ./ngx_tunny_module test\n"
        if !-x $INFO;
}

my %COLOUR = (red => [255, 0, 0], green => [0, 255, 0],
              blue => [0, 0, 255], white => [255, 255, 255]);

sub colour_name ($) {
    my ($r, $g, $b, $a) = split /,/, $_[0];
    return 'clear' if $a < 64;
    return '?' if $a < 192;
    for my $n (sort keys %COLOUR) {
        my ($cr, $cg, $cb) = @{ $COLOUR{$n} };
        return $n if abs($r - $cr) <= 48 && abs($g - $cg) <= 48
                     && abs($b - $cb) <= 48;
    }
    return '?';
}

# webp-anim-info of a body, the pixels at the given "X,Y" named
sub anim_info {
    my ($body, @xy) = @_;
    my $tmp = File::Temp->new(SUFFIX => '.webp');
    binmode $tmp;
    print $tmp $body;
    close $tmp;
    my @out = `$INFO $tmp @xy`;
    for (@out) {
        s{(\d+,\d+,\d+,\d+)}{colour_name($1)}ge;
    }
    return join '', @out;
}

# the pixels of anim-dispose.gif's canvas (32x32): top left, top right
# left half, top right right half, bottom left, bottom right
sub dispose_full ($) { anim_info($_[0], '8,8', '20,4', '28,4', '8,24', '24,24') }
# halved (16x16): the centres of the quadrants only
sub dispose_half ($) { anim_info($_[0], '4,4', '4,12', '12,12') }
# the quadrant centres of a 32x24 canvas
sub quads_32x24 ($) { anim_info($_[0], '8,6', '24,6', '8,18', '24,18') }
sub info_only ($) { anim_info($_[0]) }

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);

run_tests();

__DATA__

=== TEST 1: animated GIF to animated WebP: frames, durations, loop, disposal, transparency
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format webp;
    }
--- request
GET /img/anim-dispose.gif
--- response_headers
Content-Type: image/webp
--- response_body_filters eval
\&main::dispose_full
--- response_body
canvas 32x32 frames 4 loop 0
frame 0 100 red red red red red
frame 1 200 green red red red red
frame 2 300 clear red red red blue
frame 3 100 clear white red red red
--- no_error_log
[alert]
[crit]



=== TEST 2: every frame resized (16x16), the same composition
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
        tunny_image_format webp;
    }
--- request
GET /img/anim-dispose.gif
--- response_body_filters eval
\&main::dispose_half
--- response_body
canvas 16x16 frames 4 loop 0
frame 0 100 red red red
frame 1 200 green red red
frame 2 300 clear red blue
frame 3 100 clear red red
--- no_error_log
[alert]



=== TEST 3: loop counts: none (plays once), NETSCAPE2.0 loop 2 (3 plays); crop and rotate apply to every frame
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
        tunny_image_format webp;
    }
    location /crop/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 20 10;
        tunny_image rotate 90;
        tunny_image_format webp;
    }
--- request eval
["GET /img/anim.gif", "GET /img/anim-loop.gif", "GET /crop/anim.gif"]
--- response_body_filters eval
\&main::info_only
--- response_body eval
["canvas 16x16 frames 2 loop 1\nframe 0 100\nframe 1 100\n",
 "canvas 16x16 frames 2 loop 3\nframe 0 100\nframe 1 100\n",
 "canvas 20x10 frames 2 loop 1\nframe 0 100\nframe 1 100\n"]



=== TEST 4: animated WebP to a resized animated WebP, durations and loop count kept
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
    }
--- request
GET /img/anim-quads.webp
--- response_headers
Content-Type: image/webp
--- response_body_filters eval
\&main::quads_32x24
--- response_body
canvas 32x24 frames 3 loop 3
frame 0 100 red green blue white
frame 1 250 green green green green
frame 2 400 blue green blue white
--- no_error_log
[alert]



=== TEST 5: format auto: animated WebP for a WebP client, the first frame as PNG for the others
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
        tunny_image_format auto;
    }
--- request eval
["GET /img/anim.gif", "GET /img/anim.gif"]
--- more_headers eval
["Accept: image/webp,*/*", "Accept: */*"]
--- response_headers eval
["Content-Type: image/webp\nVary: Accept",
 "Content-Type: image/png\nVary: Accept"]
--- response_body_like eval
[qr/\ARIFF....WEBPVP8X.{14}ANIM/s, qr/\A\x89PNG/]



=== TEST 6: JPEG and PNG output of an animation: its first frame
--- config
    location /jpeg/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format jpeg;
    }
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 32;
        tunny_image_format png;
    }
--- request eval
["GET /jpeg/anim-quads.webp", "GET /jpeg/anim-dispose.gif",
 "GET /png/anim-quads.webp"]
--- response_headers eval
["Content-Type: image/jpeg", "Content-Type: image/jpeg",
 "Content-Type: image/png"]
--- response_body_filters eval
\&main::img_size
--- response_body_like eval
[qr/^jpeg 32x24$/, qr/^jpeg 32x32$/, qr/^png 32x24$/]



=== TEST 7: tunny_image_max_frames: more frames answer 415 with the reason, as many pass
--- config
    location /three/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
        tunny_image_format webp;
        tunny_image_max_frames 3;
        add_header X-Tunny-Error $tunny_error always;
    }
    location /four/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
        tunny_image_format webp;
        tunny_image_max_frames 4;
    }
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
        tunny_image_format png;
        tunny_image_max_frames 3;
    }
--- request eval
["GET /three/anim-dispose.gif", "GET /three/anim-quads.webp",
 "GET /four/anim-dispose.gif", "GET /png/anim-dispose.gif"]
--- error_code eval
[415, 200, 200, 200]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\r]*4 frames exceed tunny_image_max_frames 3\r",
 "Content-Type: image/webp\r", "Content-Type: image/webp\r",
 "Content-Type: image/png\r"]
--- no_error_log
[alert]



=== TEST 8: tunny_image_max_pixels counts the pixels of every frame
--- config
    location /webp/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
        tunny_image_format webp;
        tunny_image_max_pixels 4000;
        add_header X-Tunny-Error $tunny_error always;
    }
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 16 16;
        tunny_image_format png;
        tunny_image_max_pixels 4000;
    }
--- request eval
["GET /webp/anim-dispose.gif", "GET /png/anim-dispose.gif"]
--- error_code eval
[415, 200]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\r]*32x32 image of 4 frames exceeds tunny_image_max_pixels 4000\r",
 "Content-Type: image/png\r"]



=== TEST 9: hostile animations written as WebP: 415 with the reason, never a crash
--- config
    location /hostile/ {
        root $TEST_NGINX_FIXTURE_DIR;
        tunny_image resize 100 100;
        tunny_image_format webp;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
["GET /hostile/anim-frames.gif", "GET /hostile/anim-pixels.gif",
 "GET /hostile/anim-outside.gif", "GET /hostile/anim-lzw.gif",
 "GET /hostile/anim-frames.webp", "GET /hostile/anim-pixels.webp",
 "GET /hostile/anim-cut.webp", "GET /hostile/anim-ok.gif"]
--- error_code eval
[415, 415, 415, 415, 415, 415, 415, 200]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\r]*20000 frames exceed tunny_image_max_frames 200\r",
 "X-Tunny-Error: [^\r]*2000x2000 image of 20 frames exceeds tunny_image_max_pixels 50000000\r",
 "X-Tunny-Error: [^\r]*GIF frame 32x32 at 190,190 outside the 200x200 screen\r",
 "X-Tunny-Error: [^\r]*GIF decode failed: [A-Za-z ,]+\r",
 "X-Tunny-Error: [^\r]*300 frames exceed tunny_image_max_frames 200\r",
 "X-Tunny-Error: [^\r]*2000x2000 image of 20 frames exceeds tunny_image_max_pixels 50000000\r",
 "X-Tunny-Error: [^\r]*WebP decode failed: [a-z ]+\r",
 "Content-Type: image/webp\r"]
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 10: the predicted pixel memory of an animation is reserved from the pool's max_memory
--- post_main_config
    tunny_pool p threads=1 max_memory=16m;
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_offload p;
        tunny_image resize 100 100;
        tunny_image_format webp;
        tunny_image_max_pixels 100000000;
        add_header X-Tunny-Error $tunny_error always;
    }
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_offload p;
        tunny_image resize 100 100;
        tunny_image_format png;
    }
--- request eval
["GET /img/hostile/anim-pixels.gif", "GET /png/hostile/anim-pixels.gif",
 "GET /img/anim-dispose.gif"]
--- error_code eval
[415, 200, 200]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\r]*an animation of 49240000 bytes of pixel memory exceeds the pool's max_memory\r",
 "Content-Type: image/png\r", "Content-Type: image/webp\r"]
--- no_error_log
[alert]



=== TEST 11: a file-backed GIF whose first frame is larger than the prefix the loop probes: still animated
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 64 64;
        tunny_image_format webp;
    }
--- request
GET /img/anim-noise.gif
--- response_body_filters eval
\&main::info_only
--- response_body
canvas 64x48 frames 2 loop 1
frame 0 40
frame 1 40
--- no_error_log
[alert]
