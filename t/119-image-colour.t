# tunny_image_colour (srgb | keep | strip) and tunny_image_background.
#
# The fixtures (t/tools/gen-fixtures, profiles made by lcms2 in
# t/tools/icc-make.h): colour charts of 6 x 4 flat patches of 64 px in an
# Adobe RGB JPEG, a ProPhoto PNG, a CMYK JPEG with a CMYK profile, a
# chart without a profile, and alpha-edge.png (left half opaque red,
# right half transparent black).  Outputs are decoded by
# t/tools/img-pixels (libjpeg, libspng, libwebp): the type, the size, the
# length of the profile they carry, the pixels at the patch centres.  The
# expected sRGB values are lcms2's floating-point transform of the patch
# values (t/unit/test_colour.c checks the library against it by ΔE00;
# here the values, within a tolerance for the JPEG encoder).
use Test::Nginx::Socket 'no_plan';
use TunnyImage;
use FindBin ();
use File::Temp ();

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(\&TunnyImage::block_defaults);

our $PIXELS = "$FindBin::Bin/tools/img-pixels";
die "$0: no $PIXELS; run ./ngx_tunny_module fixtures\n" if !-x $PIXELS;

# the patches the blocks look at: index => source value
our %SRC = (
    1 => [0, 255, 0], 6 => [128, 128, 128], 7 => [200, 150, 100],
    8 => [50, 100, 200], 17 => [250, 128, 0], 18 => [100, 50, 150],
);

# sRGB of those patches through each profile (lcms2, floating point,
# perceptual, clipped), rounded
our %SRGB = (
    adobe    => { 1 => [0, 255, 0], 6 => [129, 129, 129],
                  7 => [217, 151, 97], 8 => [0, 100, 204],
                  17 => [255, 129, 0], 18 => [114, 46, 154] },
    prophoto => { 1 => [0, 255, 0], 6 => [146, 146, 146],
                  7 => [252, 155, 108], 8 => [0, 128, 221],
                  17 => [255, 103, 0], 18 => [129, 41, 177] },
    cmyk     => { 1 => [61, 231, 249], 6 => [244, 85, 83],
                  7 => [60, 226, 94], 8 => [174, 172, 171],
                  17 => [248, 180, 89], 18 => [159, 75, 204] },
);

# what img-pixels says of a body, for the points given
sub pixels {
    my ($body, @pts) = @_;
    my $tmp = File::Temp->new(SUFFIX => '.img');
    binmode $tmp;
    print $tmp $body;
    close $tmp;
    open my $fh, '-|', $PIXELS, $tmp->filename, @pts
        or die "$PIXELS: $!";
    my @out = <$fh>;
    close $fh;
    return @out ? @out : ("undecodable\n");
}

# a response_body_filters sub for a chart resized to half size: its header
# line, then "N ok" per patch within tol of the expected value, or the
# value found
sub chart {
    my ($expect, $tol) = @_;
    return sub {
        my @pts = map { sprintf '%d,%d', ($_ % 6) * 32 + 16,
                                int($_ / 6) * 32 + 16 }
                  sort { $a <=> $b } keys %$expect;
        my ($head, @px) = pixels($_[0], @pts);
        my $out = $head;
        for my $i (sort { $a <=> $b } keys %$expect) {
            my $l = shift @px // '';
            my (undef, @v) = split ' ', $l;
            my $e = $expect->{$i};
            my $bad = grep { !defined $v[$_] || abs($v[$_] - $e->[$_]) > $tol }
                      0 .. 2;
            $out .= $bad ? "$i @v[0..2] (want @$e)\n" : "$i ok\n";
        }
        return $out;
    };
}

# the alpha edge of alpha-edge.png resized to 32x16: row 8, x 0..31
sub edge {
    my ($head, @px) = pixels($_[0], map { "$_,8" } 0 .. 31);
    my @p = map { [ (split ' ', $_)[1 .. 4] ] } @px;
    return ($head, @p);
}

run_tests();

__DATA__

=== TEST 1: srgb (the default): an Adobe RGB JPEG converted, no profile written
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_jpeg_quality 95;
    }
--- request
GET /img/patches-adobe.jpg
--- response_body_filters eval
main::chart($main::SRGB{adobe}, 4)
--- response_body
jpeg 192x128 icc=0
1 ok
6 ok
7 ok
8 ok
17 ok
18 ok
--- no_error_log
[alert]



=== TEST 2: keep: pixels untouched, the profile copied (inherited from server)
--- config
    tunny_image_colour keep;
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_jpeg_quality 95;
    }
--- request
GET /img/patches-adobe.jpg
--- response_body_filters eval
main::chart(\%main::SRC, 4)
--- response_body eval
"jpeg 192x128 icc=" . (-s "$ENV{TEST_NGINX_FIXTURE_DIR}/adobe.icc")
. "\n1 ok\n6 ok\n7 ok\n8 ok\n17 ok\n18 ok\n"



=== TEST 3: strip: pixels untouched, no profile
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_jpeg_quality 95;
        tunny_image_colour strip;
    }
--- request
GET /img/patches-adobe.jpg
--- response_body_filters eval
main::chart(\%main::SRC, 4)
--- response_body
jpeg 192x128 icc=0
1 ok
6 ok
7 ok
8 ok
17 ok
18 ok



=== TEST 4: srgb: a source without a profile is untouched
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_jpeg_quality 95;
        tunny_image_colour srgb;
    }
--- request
GET /img/patches-plain.jpg
--- response_body_filters eval
main::chart(\%main::SRC, 4)
--- response_body
jpeg 192x128 icc=0
1 ok
6 ok
7 ok
8 ok
17 ok
18 ok



=== TEST 5: srgb: a ProPhoto PNG to PNG and to WebP
--- config
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
    }
    location /webp/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_format webp;
        tunny_image_webp_quality 95;
    }
--- request eval
["GET /png/patches-prophoto.png", "GET /webp/patches-prophoto.png"]
--- response_body_filters eval
main::chart($main::SRGB{prophoto}, 6)
--- response_body eval
["png 192x128 icc=0\n1 ok\n6 ok\n7 ok\n8 ok\n17 ok\n18 ok\n",
 "webp 192x128 icc=0\n1 ok\n6 ok\n7 ok\n8 ok\n17 ok\n18 ok\n"]



=== TEST 6: a CMYK JPEG through its embedded profile, whatever the mode
--- config
    location /srgb/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_jpeg_quality 95;
    }
    location /keep/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_jpeg_quality 95;
        tunny_image_colour keep;
    }
--- request eval
["GET /srgb/patches-cmyk.jpg", "GET /keep/patches-cmyk.jpg"]
--- response_body_filters eval
main::chart($main::SRGB{cmyk}, 4)
--- response_body eval
["jpeg 192x128 icc=0\n1 ok\n6 ok\n7 ok\n8 ok\n17 ok\n18 ok\n",
 "jpeg 192x128 icc=0\n1 ok\n6 ok\n7 ok\n8 ok\n17 ok\n18 ok\n"]



=== TEST 7: a CMYK JPEG without a profile: the plain inversion, as before
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 64 48;
        tunny_image_jpeg_quality 95;
    }
--- request
GET /img/cmyk.jpg
--- response_body_filters eval
sub {
    my ($head, @px) = main::pixels($_[0], '16,12', '48,12', '16,36', '48,36');
    CORE::join '', $head, map { my @v = (split ' ', $_)[1 .. 3];
                          CORE::join(' ', map { $_ > 200 ? 'hi'
                                                : $_ < 55 ? 'lo' : 'mid' } @v)
                          . "\n" } @px }
--- response_body
jpeg 64x48 icc=0
hi lo lo
lo hi lo
lo lo hi
hi hi hi



=== TEST 8: an image that needs no change is sent as it is, profile included
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 1000 1000;
    }
--- request
GET /img/noise-adobe.jpg
--- response_body_filters eval
\&Digest::MD5::md5_hex
--- response_body eval
main::fx_md5('noise-adobe.jpg')



=== TEST 9: tunny_image_background: JPEG output flattened at the alpha edge, no dark fringe
--- config
    location /blue/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 16;
        tunny_image_format jpeg;
        tunny_image_jpeg_quality 100;
        tunny_image_background 0000ff;
    }
--- request
GET /blue/alpha-edge.png
--- response_body_filters eval
sub {
    my ($head, @p) = main::edge($_[0]);
    my $fringe = grep { $_->[1] > 12 || $_->[0] + $_->[2] < 225
                        || $_->[0] + $_->[2] > 285 } @p;
    sprintf "%sleft %s right %s fringe %d\n", $head,
        ($p[1][0] > 235 && $p[1][2] < 25) ? 'red' : "@{$p[1]}",
        ($p[30][2] > 235 && $p[30][0] < 25) ? 'blue' : "@{$p[30]}", $fringe }
--- response_body
jpeg 32x16 icc=0
left red right blue fringe 0



=== TEST 10: the default background is white; "#rgb"; PNG keeps alpha
--- config
    location /white/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 16;
        tunny_image_format jpeg;
        tunny_image_jpeg_quality 100;
    }
    location /grey/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 16;
        tunny_image_format jpeg;
        tunny_image_jpeg_quality 100;
        tunny_image_background "#888";
    }
    location /png/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 32 16;
        tunny_image_background 00f;
    }
--- request eval
["GET /white/alpha-edge.png", "GET /grey/alpha-edge.png",
 "GET /png/alpha-edge.png"]
--- response_body_filters eval
sub {
    my ($head, @p) = main::edge($_[0]);
    my $r = $p[30];
    my $c = ($r->[0] > 248 && $r->[1] > 248 && $r->[2] > 248) ? 'white'
          : (abs($r->[0] - 136) < 6 && abs($r->[1] - 136) < 6
             && abs($r->[2] - 136) < 6) ? 'grey'
          : "@{$r}[0 .. 2]";
    "$head$c alpha $r->[3]\n" }
--- response_body eval
["jpeg 32x16 icc=0\nwhite alpha 255\n", "jpeg 32x16 icc=0\ngrey alpha 255\n",
 "png 32x16 icc=0\n0 0 0 alpha 0\n"]



=== TEST 11: configuration errors: a bad colour mode
--- config
    location /img/ {
        tunny_image resize 100 100;
        tunny_image_colour adobe;
    }
--- must_die
--- error_log
invalid value "adobe"



=== TEST 12: configuration errors: a bad background
--- config
    location /img/ {
        tunny_image resize 100 100;
        tunny_image_background white;
    }
--- must_die
--- error_log
invalid colour "white", must be RRGGBB or RGB in hex ("#RRGGBB" quoted)



=== TEST 13: srgb: every frame of an animated WebP is converted (the last one read), no profile written
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_webp_quality 95;
    }
--- request
GET /img/patches-prophoto-anim.webp
--- response_body_filters eval
main::chart($main::SRGB{prophoto}, 6)
--- response_body
webp 192x128 icc=0 frames=2
1 ok
6 ok
7 ok
8 ok
17 ok
18 ok



=== TEST 14: keep: an animated WebP keeps its profile and its pixels
--- config
    tunny_image_colour keep;
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_webp_quality 95;
    }
--- request
GET /img/patches-prophoto-anim.webp
--- response_body_filters eval
main::chart(\%main::SRC, 6)
--- response_body eval
"webp 192x128 icc=" . (-s "$ENV{TEST_NGINX_FIXTURE_DIR}/prophoto.icc")
. " frames=2\n1 ok\n6 ok\n7 ok\n8 ok\n17 ok\n18 ok\n"



=== TEST 15: srgb: the first frame of an animated WebP as a still PNG is converted
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 192 128;
        tunny_image_format png;
    }
--- request
GET /img/patches-prophoto-anim.webp
--- response_body_filters eval
main::chart($main::SRGB{prophoto}, 6)
--- response_body
png 192x128 icc=0
1 ok
6 ok
7 ok
8 ok
17 ok
18 ok
