# HEIC in (libheif + libde265): phone photos uploaded to
# tunny_image_upload (and served through the tunny_image filter) answered
# as JPEG ("original"), WebP or PNG with the right size and colours; the
# orientation of irot / imir applied exactly once (an EXIF Orientation
# beside an irot that says the same is not applied again, an EXIF
# Orientation alone is informative); alpha kept in PNG, flattened for
# JPEG; ICC kept; tunny_image_max_pixels and the grid limits from the
# header, before any pixel; truncated and hostile HEICs 415 with the
# reason.
#
# The fixtures are written by t/tools/gen-heic (libheif's x265 encoder)
# into TEST_NGINX_FIXTURE_DIR when the library is built with libheif; the
# hand-made hostile headers by t/tools/gen-hostile into its hostile/.
# Without libheif the blocks marked (libheif) are skipped and the block
# marked (no libheif) checks the 415 "HEIC support not built".  The PNG
# decoder is a copy of t/115-image-png.t's (each .t stands alone).
use Test::Nginx::Socket 'no_plan';
use TunnyImage;
use Compress::Zlib ();

our ($FX, $HEIC);

BEGIN {
    $FX = $ENV{TEST_NGINX_FIXTURE_DIR};
    die "135-image-heic.t: no fixtures; run ./ngx_tunny_module test\n"
        if !$FX || !-f "$FX/hostile/heic-huge.heic";
    $HEIC = -f "$FX/heic-quad.heic" ? 1 : 0;
}

# the name of a pixel's colour, within 24 of each channel's value (HEVC
# is lossy, and 4:2:0): red green blue white, "clear" for alpha < 24,
# else the values
sub px_name ($$$) {
    my ($i, $x, $y) = @_;
    my @p = @{ $i->{rows}[$y] }[$x * $i->{ch} .. ($x + 1) * $i->{ch} - 1];
    @p = (@p, 255) if $i->{ch} == 3;
    return 'clear' if $p[3] < 24;
    my %names = (red => [255, 0, 0], green => [0, 255, 0],
                 blue => [0, 0, 255], white => [255, 255, 255]);
    for my $n (sort keys %names) {
        my $c = $names{$n};
        return $n if $p[3] > 231
                     && !grep { abs($p[$_] - $c->[$_]) > 24 } 0 .. 2;
    }
    return join ',', @p;
}

# "png WxH ctN" and the colours at the quadrant centres
sub heic_quads ($) {
    my $i = png_decode($_[0]);
    return "$i\n" if !ref $i;
    my ($qx, $qy) = (int($i->{w} / 4), int($i->{h} / 4));
    return "png $i->{w}x$i->{h} ct$i->{ct} "
           . join(' ', map { px_name($i, $_->[0], $_->[1]) }
                           [$qx, $qy], [3 * $qx, $qy],
                           [$qx, 3 * $qy], [3 * $qx, 3 * $qy]) . "\n";
}

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);
add_block_preprocessor(sub {
    my $block = shift;
    if ($block->name =~ /\(libheif\)/ && !$HEIC) {
        $block->set_value('skip_eval', '1: 1');
    } elsif ($block->name =~ /\(no libheif\)/ && $HEIC) {
        $block->set_value('skip_eval', '1: 1');
    }
    # valgrind: the deadline's outcome depends on timing (the status is
    # still a 504); the memory checks stay
    if ($ENV{TEST_NGINX_USE_VALGRIND} && $block->name =~ /deadline/) {
        $block->set_value('error_log', undef);
    }
});

run_tests();

__DATA__

=== TEST 1: upload (libheif): HEIC to JPEG ("original"), WebP, and the size
--- config
    location = /up {
        tunny_image resize 320 320;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
    location = /webp {
        tunny_image resize 320 320;
        tunny_image_format webp;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
    location = /size {
        tunny_image size;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
--- request eval
[main::upload("/up", "heic-quad.heic"),
 main::upload("/webp", "heic-quad.heic"),
 main::upload("/size", "heic-quad.heic"),
 main::upload("/size", "heic-rot90.heic")]
--- response_headers eval
["Content-Type: image/jpeg", "Content-Type: image/webp",
 "Content-Type: text/plain", "Content-Type: text/plain"]
--- response_body_filters eval
[[\&main::img_size], [\&main::img_size], [], []]
--- response_body eval
["jpeg 320x240\n", "webp 320x240\n",
 qq{{ "img" : { "width": 640, "height": 480, "type": "heic" } }\r\n},
 qq{{ "img" : { "width": 480, "height": 640, "type": "heic" } }\r\n}]
--- no_error_log
[alert]
[warn]



=== TEST 2: colours (libheif): the quads, as PNG, within tolerance
--- config
    location = /up {
        tunny_image resize 64 64;
        tunny_image_format png;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
--- request eval
[main::upload("/up", "heic-quad.heic"),
 main::upload("/up", "heic-odd.heic")]
--- response_headers eval
["Content-Type: image/png", "Content-Type: image/png"]
--- response_body_filters eval
\&main::heic_quads
--- response_body eval
["png 64x48 ct2 red green blue white\n",
 "png 64x38 ct2 red green blue white\n"]
--- no_error_log
[alert]



=== TEST 3: orientation (libheif): irot and imir applied once, EXIF never on top
--- config
    location = /up {
        tunny_image resize 64 64;
        tunny_image_format png;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
--- request eval
[main::upload("/up", "heic-rot90.heic"),
 main::upload("/up", "heic-mirror.heic"),
 main::upload("/up", "heic-rot-exif.heic"),
 main::upload("/up", "heic-exif-only.heic")]
--- response_body_filters eval
\&main::heic_quads
--- response_body eval
["png 48x64 ct2 green white red blue\n",
 "png 64x48 ct2 green red white blue\n",
 "png 48x64 ct2 blue red white green\n",
 "png 64x48 ct2 red green blue white\n"]
--- no_error_log
[alert]



=== TEST 4: orientation (libheif): the JPEG of an irot 90 HEIC is upright, a rotate on top
--- config
    location = /up {
        tunny_image resize 1000 1000;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
    location = /rot {
        tunny_image resize 64 64;
        tunny_image rotate 90;
        tunny_image_format png;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
--- request eval
[main::upload("/up", "heic-rot90.heic"),
 main::upload("/rot", "heic-rot90.heic")]
--- response_body_filters eval
[[\&main::img_size], [\&main::heic_quads]]
--- response_body eval
["jpeg 480x640\n",
 "png 64x48 ct2 white blue green red\n"]
--- no_error_log
[alert]



=== TEST 5: alpha (libheif): kept in PNG, flattened on white for JPEG
--- config
    location = /png {
        tunny_image resize 32 32;
        tunny_image_format png;
        tunny_image_upload;
    }
    location = /jpeg {
        tunny_image resize 32 32;
        tunny_image_format jpeg;
        tunny_image_upload;
    }
--- request eval
[main::upload("/png", "heic-alpha.heic"),
 main::upload("/jpeg", "heic-alpha.heic")]
--- response_body_filters eval
[[\&main::heic_quads], [\&main::img_size]]
--- response_body eval
["png 32x24 ct6 red clear red clear\n", "jpeg 32x24\n"]
--- no_error_log
[alert]



=== TEST 6: ICC (libheif): the HEIC's profile is kept in the JPEG (tunny_image_colour keep)
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_colour keep;
        tunny_image_upload;
        client_body_buffer_size 1m;
    }
--- request eval
[main::upload("/up", "heic-icc.heic"),
 main::upload("/up", "heic-quad.heic")]
--- response_body_filters eval
\&main::img_tags
--- response_body eval
["baseline icc\n", "baseline\n"]
--- no_error_log
[alert]



=== TEST 7: the filter (libheif): a HEIC served as a static file, resized to JPEG
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request eval
["GET /img/heic-quad.heic", "GET /img/heic-rot-exif.heic"]
--- response_headers eval
["Content-Type: image/jpeg", "Content-Type: image/jpeg"]
--- response_body_filters eval
\&main::img_size
--- response_body eval
["jpeg 100x75\n", "jpeg 75x100\n"]
--- no_error_log
[alert]



=== TEST 8: limits: max_pixels from the header, before any pixel; the grid bounds
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_max_pixels 100000;
        tunny_image_upload;
        client_body_buffer_size 1m;
        add_header X-Tunny-Error $tunny_error always;
    }
    location /hostile/ {
        root $TEST_NGINX_FIXTURE_DIR;
        tunny_image resize 100 100;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
[main::upload("/up", "hostile/heic-huge.heic"),
 "GET /hostile/heic-grid-huge.heic",
 "GET /hostile/heic-grid-bomb.heic",
 "GET /hostile/heic-grid-many.heic",
 "GET /hostile/heic-no-ispe.heic"]
--- error_code eval
[415, 415, 415, 415, 415]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\\r]*65000x65000 image exceeds tunny_image_max_pixels 100000\\r",
 "X-Tunny-Error: [^\\r]*30000x30000 image exceeds tunny_image_max_pixels 50000000\\r",
 "X-Tunny-Error: [^\\r]*HEIC grid tiles larger than the grid\\r",
 "X-Tunny-Error: [^\\r]*HEIC grid with too many tiles\\r",
 "X-Tunny-Error: [^\\r]*HEIC primary image without a size \\(ispe\\)\\r"]
--- no_error_log
[alert]



=== TEST 9: limits (libheif): a real HEIC over max_pixels is refused in the loop (no job)
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_max_pixels 100000;
        tunny_image_upload;
        client_body_buffer_size 1m;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
main::upload("/up", "heic-quad.heic")
--- error_code: 415
--- raw_response_headers_like
X-Tunny-Error: [^\r]*640x480 image exceeds tunny_image_max_pixels 100000\r
--- error_log eval
qr{TUNNY /up 415 - "tunny_image: 640x480 image exceeds tunny_image_max_pixels 100000"}
--- no_error_log
[alert]



=== TEST 10: truncated and corrupt (libheif): 415 with libheif's reason
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        client_body_buffer_size 1m;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
my $h = main::fx("heic-quad.heic");
["POST /up\n" . substr($h, 0, int(length($h) / 2)),
 "POST /up\n" . substr($h, 0, 200),
 main::upload("/up", "hostile/heic-no-data.heic"),
 main::upload("/up", "hostile/heic-mif1.heic")]
--- error_code eval
[415, 415, 415, 415]
--- raw_response_headers_like eval
["X-Tunny-Error: [^\\r]*HEIC (read|decode) failed: [^\\r]+\\r",
 "X-Tunny-Error: [^\\r]*HE(IC|IF) [^\\r]+\\r",
 "X-Tunny-Error: [^\\r]*HEIC (read|decode) failed: [^\\r]+\\r",
 "X-Tunny-Error: [^\\r]*HEIC (read|decode) failed: [^\\r]+\\r"]
--- no_error_log
[alert]
exited on signal



=== TEST 11: sniffing: the generic brand with an AV1 item is not a HEIC
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
main::upload("/up", "hostile/heic-mif1-av01.heic")
--- error_code: 415
--- raw_response_headers_like
X-Tunny-Error: [^\r]*not an image\r
--- no_error_log
[alert]



=== TEST 12: sniffing: the generic brand with an HEVC item is, sized from its ispe
--- config
    location = /size {
        tunny_image size;
        tunny_image_upload;
    }
--- request eval
main::upload("/size", "hostile/heic-mif1.heic")
--- response_body eval
qq{{ "img" : { "width": 320, "height": 240, "type": "heic" } }\r\n}
--- no_error_log
[alert]



=== TEST 13: built without libheif (no libheif): HEIC answers 415 "HEIC support not built"
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        add_header X-Tunny-Error $tunny_error always;
    }
--- request eval
main::upload("/up", "hostile/heic-mif1.heic")
--- error_code: 415
--- raw_response_headers_like
X-Tunny-Error: [^\r]*HEIC support not built\r
--- no_error_log
[alert]



=== TEST 14: deadline (libheif): a HEIC decoding past tunny_timeout answers 504
--- config
    location = /up {
        tunny_image resize 256 256;
        tunny_timeout 5ms;
        tunny_image_upload;
        client_body_buffer_size 4m;
        client_max_body_size 10m;
    }
--- request eval
main::upload("/up", "heic-photo.heic")
--- error_code: 504
--- error_log
TUNNY /up 504 timeout
--- no_error_log
[alert]
