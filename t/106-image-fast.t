# The exact JPEG decode shortcuts over HTTP (tunny_image_fast,
# $tunny_image_fast): the DC-only decode of a progressive JPEG at DCT 1/8
# and the region decode of crop give the bytes of the whole decode
# (tunny_image_fast off), and the log says which shortcut each response
# took; the PNG shortcuts (libdeflate's inflate and our unfilter, our
# filters and libdeflate's deflate) give the pixels of libspng's decoder
# and writer.  big.jpg and big-prog.jpg (t/tools/gen-fixtures) hold the same
# coefficients, baseline and progressive: at 1/8 their thumbnails are the
# same bytes too.  The pixel-for-pixel proof over many files, samplings,
# scan scripts, crops and orientations is t/003-unit-image-fast.t.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use TunnyImage;

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri $status $tunny_outcome "$tunny_error" '
                     'fast=$tunny_image_fast';
    access_log logs/error.log tunny;
_EOC_
    }
    TunnyImage::block_defaults($block);
});

# the same bytes from every URI; each answered 200
sub same_bodies {
    my ($name, @uris) = @_;
    my @r = map { TunnyTest::http_request($_) } @uris;
    for my $i (0 .. $#r) {
        Test::More::is($r[$i]{status}, 200, "$name: $uris[$i] 200");
    }
    for my $i (1 .. $#r) {
        Test::More::ok(length $r[0]{body}
                       && $r[$i]{body} eq $r[0]{body},
                       "$name: $uris[$i] = $uris[0], byte for byte");
    }
}

# the same pixels (png_decode) from every URI; each answered 200
sub same_pixels {
    my ($name, @uris) = @_;
    my @p;
    for my $uri (@uris) {
        my $r = TunnyTest::http_request($uri);
        Test::More::is($r->{status}, 200, "$name: $uri 200");
        my $i = TunnyImage::png_decode($r->{body});
        push @p, ref $i ? join(',', $i->{w}, $i->{h}, $i->{ct},
                               map { @$_ } @{ $i->{rows} })
                        : $i;
    }
    for my $i (1 .. $#p) {
        Test::More::ok($p[$i] eq $p[0],
                       "$name: $uris[$i] = $uris[0], pixel for pixel");
    }
}

run_tests();

__DATA__

=== TEST 1: a progressive thumbnail at DCT 1/8: DC only, the whole decode's bytes, the baseline's bytes
--- config
    location /dc/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 64 64;
    }
    location /off/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 64 64;
        tunny_image_fast off;
    }
--- request
GET /dc/big-prog.jpg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 64x42
--- check_body
main::same_bodies('thumbnail', '/dc/big-prog.jpg', '/off/big-prog.jpg',
                  '/dc/big.jpg');
--- error_log
TUNNY /dc/big-prog.jpg 200 ok "-" fast=dc
TUNNY /off/big-prog.jpg 200 ok "-" fast=-
TUNNY /dc/big.jpg 200 ok "-" fast=-
--- no_error_log
[alert]
[crit]



=== TEST 2: a larger thumbnail decodes over 1/8: no DC-only decode
--- config
    location /dc/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 256 256;
    }
--- request
GET /dc/big-prog.jpg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 256x170
--- error_log
TUNNY /dc/big-prog.jpg 200 ok "-" fast=-
--- no_error_log
[alert]



=== TEST 3: crop decodes a region: the bytes of the whole frame's crop
--- config
    location /c/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 300 300;
    }
    location /off/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 300 300;
        tunny_image_fast off;
    }
--- request
GET /c/big.jpg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 300x300
--- check_body
main::same_bodies('crop', '/c/big.jpg', '/off/big.jpg');
main::same_bodies('crop progressive', '/c/big-prog.jpg',
                  '/off/big-prog.jpg');
--- error_log
TUNNY /c/big.jpg 200 ok "-" fast=region
TUNNY /off/big.jpg 200 ok "-" fast=-
TUNNY /c/big-prog.jpg 200 ok "-" fast=region
TUNNY /off/big-prog.jpg 200 ok "-" fast=-
--- no_error_log
[alert]
[crit]



=== TEST 4: a small crop of a progressive JPEG: DC only and a region
--- config
    location /c/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 40 40;
    }
    location /off/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 40 40;
        tunny_image_fast off;
    }
--- request
GET /c/big-prog.jpg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 40x40
--- check_body
main::same_bodies('small crop', '/c/big-prog.jpg', '/off/big-prog.jpg',
                  '/c/big.jpg');
--- error_log
TUNNY /c/big-prog.jpg 200 ok "-" fast=dc,region
TUNNY /off/big-prog.jpg 200 ok "-" fast=-
TUNNY /c/big.jpg 200 ok "-" fast=region
--- no_error_log
[alert]



=== TEST 5: crop with rotation (image_filter cuts after it) and EXIF orientation: the window is found in the stored image
--- config
    location /c/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 300 100;
        tunny_image rotate 90;
    }
    location /off/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image crop 300 100;
        tunny_image rotate 90;
        tunny_image_fast off;
    }
--- request
GET /c/big.jpg
--- response_body_filters eval
\&main::img_size
--- response_body
jpeg 200x100
--- check_body
main::same_bodies('crop rotate', '/c/big.jpg', '/off/big.jpg');
main::same_bodies("crop rotate orientation $_", "/c/orient-$_.jpg",
                  "/off/orient-$_.jpg") for 1 .. 8;
--- error_log
TUNNY /c/big.jpg 200 ok "-" fast=region
TUNNY /off/big.jpg 200 ok "-" fast=-
--- no_error_log
[alert]
[crit]



=== TEST 6: PNG to PNG: inflated and deflated by libdeflate (levels 0-6, at most 512x512), libspng's pixels
--- config
    location /p/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
    location /off/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_fast off;
    }
    location /l9/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_png_compression 9;
    }
--- request
GET /p/edge.png
--- response_body_filters eval
\&main::img_size
--- response_body
png 100x50
--- check_body
main::same_pixels('RGBA', '/p/edge.png', '/off/edge.png', '/l9/edge.png');
main::same_pixels('RGB', '/p/quad-land.png', '/off/quad-land.png',
                  '/l9/quad-land.png');
--- error_log
TUNNY /p/edge.png 200 ok "-" fast=inflate,deflate
TUNNY /off/edge.png 200 ok "-" fast=-
TUNNY /l9/edge.png 200 ok "-" fast=inflate
TUNNY /p/quad-land.png 200 ok "-" fast=inflate,deflate
--- no_error_log
[alert]
[crit]
