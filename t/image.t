# tunny_image: the image filter and the tunny_image_upload handler, over
# HTTP.  Fixtures come from t/tools (TEST_NGINX_FIXTURE_DIR, exported by
# ./ngx_tunny_module test).  Output images are checked by decoding their
# headers in perl (img_size, img_tags below), so every block needs only
# one request.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use Digest::MD5 ();

our $FX;

BEGIN {
    $FX = $ENV{TEST_NGINX_FIXTURE_DIR};
    die "image.t: no fixtures; run ./ngx_tunny_module test, or set "
        . "TEST_NGINX_FIXTURE_DIR to a directory written by "
        . "t/tools/gen-fixtures\n"
        if !$FX || !-f "$FX/quad-land.jpg";
}

# the content of a fixture
sub fx ($) {
    my ($name) = @_;
    open my $fh, '<:raw', "$FX/$name" or die "$FX/$name: $!";
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data;
}

sub fx_md5 ($) { Digest::MD5::md5_hex(fx($_[0])) }

# "jpeg WxH", "webp WxH" or "other LENGTH" from the bytes of an image
sub img_size ($) {
    my ($b) = @_;
    my %i = img_parse($b);
    return defined $i{size} ? "$i{type} $i{size}\n"
                            : "other " . length($b) . "\n";
}

# the markers of interest, sorted: baseline progressive icc exif xmp comment
sub img_tags ($) {
    my ($b) = @_;
    my %i = img_parse($b);
    return CORE::join(' ', sort @{ $i{tags} || [] }) . "\n";
}

sub img_parse ($) {
    my ($b) = @_;
    my (%i, @tags);

    if ($b =~ /\A\xff\xd8/) {
        $i{type} = 'jpeg';
        my $pos = 2;
        while ($pos + 4 <= length $b) {
            my ($ff, $m) = unpack 'CC', substr($b, $pos, 2);
            last if $ff != 0xff;
            if ($m == 0xff) { $pos++; next }
            if ($m == 0x01 || ($m >= 0xd0 && $m <= 0xd8)) { $pos += 2; next }
            last if $m == 0xda || $m == 0xd9;
            my $len = unpack 'n', substr($b, $pos + 2, 2);
            my $seg = substr($b, $pos + 4, $len - 2);
            if ($m == 0xc0 || $m == 0xc1 || $m == 0xc2) {
                my (undef, $h, $w) = unpack 'Cnn', $seg;
                $i{size} //= "${w}x$h";
                push @tags, $m == 0xc2 ? 'progressive' : 'baseline';
            } elsif ($m == 0xe1 && $seg =~ /\AExif\0/) {
                push @tags, 'exif';
            } elsif ($m == 0xe1 && $seg =~ m{\Ahttp://ns\.adobe\.com/xap}) {
                push @tags, 'xmp';
            } elsif ($m == 0xe2 && $seg =~ /\AICC_PROFILE\0/) {
                push @tags, 'icc' if !grep { $_ eq 'icc' } @tags;
            } elsif ($m == 0xfe) {
                push @tags, 'comment';
            }
            $pos += 2 + $len;
        }

    } elsif ($b =~ /\ARIFF....WEBP/s) {
        $i{type} = 'webp';
        my $pos = 12;
        while ($pos + 8 <= length $b) {
            my ($cc, $len) = unpack 'a4V', substr($b, $pos, 8);
            my $d = substr($b, $pos + 8, $len);
            if ($cc eq 'VP8X') {
                my @c = unpack 'C10', $d;
                my $w = 1 + $c[4] + ($c[5] << 8) + ($c[6] << 16);
                my $h = 1 + $c[7] + ($c[8] << 8) + ($c[9] << 16);
                $i{size} = "${w}x$h";
            } elsif ($cc eq 'VP8 ') {
                my ($w, $h) = unpack 'vv', substr($d, 6, 4);
                $i{size} //= ($w & 0x3fff) . 'x' . ($h & 0x3fff);
                push @tags, 'lossy';
            } elsif ($cc eq 'VP8L') {
                my $v = unpack 'V', substr($d, 1, 4);
                $i{size} //= (1 + ($v & 0x3fff)) . 'x'
                             . (1 + (($v >> 14) & 0x3fff));
                push @tags, 'lossless';
            } elsif ($cc eq 'ICCP') {
                push @tags, 'icc';
            } elsif ($cc eq 'EXIF') {
                push @tags, 'exif';
            } elsif ($cc eq 'XMP ') {
                push @tags, 'xmp';
            }
            $pos += 8 + $len + ($len & 1);
        }
    }

    $i{tags} = \@tags;
    return %i;
}

# a POST (or other method) request with a fixture as its body
sub upload ($$;$) {
    my ($uri, $name, $method) = @_;
    return ($method || 'POST') . " $uri\n" . fx($name);
}

repeat_each(1);
no_shuffle();
log_level('info');

# the outcome and the reason of every request go into the error log too
add_block_preprocessor(sub {
    my $block = shift;
    if ($ENV{TEST_NGINX_USE_VALGRIND} && $block->name =~ /concurrent/) {
        # valgrind runs the pool threads one at a time, 20-50 times slower:
        # the memory checks are the point there, not latency
        $block->set_value('skip_eval', '5: 1');

    } elsif ($ENV{TEST_NGINX_USE_VALGRIND} && defined $block->init) {
        # background requests from --- init: whether the block's request
        # meets a busy pool depends on timing that valgrind changes; keep
        # the memory checks, drop the outcome checks
        for my $s (qw(error_code response_headers response_headers_like
                      response_body error_log timeout)) {
            $block->set_value($s, undef) if defined $block->$s;
        }
        # (no error_code means 200 to Test::Nginx: accept any status)
        $block->set_value('error_code_like', '^[1-5]\d\d$');
    }
    if ($ENV{TEST_NGINX_ASAN} && defined $block->wait) {
        # the sanitized module runs the 32 resizes a few times slower
        $block->set_value('wait', $block->wait * 3);
    }
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri $status $tunny_outcome "$tunny_error"';
    access_log logs/error.log tunny;
_EOC_
    }
});

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



=== TEST 8: a bad width from a variable is a 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize $arg_w 100;
    }
--- request
GET /v/quad-land.jpg?w=abc
--- error_code: 400
--- error_log
tunny_image: invalid width 'abc'
TUNNY /v/quad-land.jpg 400 - "tunny_image: invalid width 'abc'"
--- no_error_log
[alert]



=== TEST 9: a zero height from a variable: 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_webp_quality $arg_q;
        tunny_image_format webp;
    }
--- request
GET /v/quad-land.jpg?h=0&a=90&q=50
--- error_code: 400
--- error_log
tunny_image: invalid height '0'
--- no_error_log
[alert]



=== TEST 10: an angle of 45 from a variable: 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_webp_quality $arg_q;
        tunny_image_format webp;
    }
--- request
GET /v/quad-land.jpg?h=100&a=45&q=50
--- error_code: 400
--- error_log
tunny_image: invalid angle '45'
--- no_error_log
[alert]



=== TEST 11: a WebP quality of 101 from a variable: 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_webp_quality $arg_q;
        tunny_image_format webp;
    }
--- request
GET /v/quad-land.jpg?h=100&a=90&q=101
--- error_code: 400
--- error_log
tunny_image: invalid WebP quality '101'
--- no_error_log
[alert]



=== TEST 12: a height of 99999 from a variable: 400 with a reason
--- config
    location /v/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 $arg_h;
        tunny_image rotate $arg_a;
        tunny_image_webp_quality $arg_q;
        tunny_image_format webp;
    }
--- request
GET /v/quad-land.jpg?h=99999&a=90&q=50
--- error_code: 400
--- error_log
tunny_image: invalid height '99999'
--- no_error_log
[alert]



=== TEST 13: size answers JSON like image_filter
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



=== TEST 14: the size of a resized image, through proxy_pass
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



=== TEST 15: test passes images with their type
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



=== TEST 16: test answers 415 for anything else
--- config
    location /t/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image test;
    }
--- request
GET /t/garbage.bin
--- error_code: 415
--- error_log
tunny_image: not an image
--- no_error_log
[alert]



=== TEST 17: a text response in a resize location: 415 with a reason
--- config
    location /img/ {
        tunny_image resize 100 100;
        return 200 "just some text, long enough to be looked at\n";
    }
--- request
GET /img/x
--- error_code: 415
--- error_log eval
qr{TUNNY /img/x 415 - "tunny_image: not an image \(Content-Type: text/plain\)"}
--- no_error_log
[alert]



=== TEST 18: format auto: WebP when Accept allows it, with Vary
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



=== TEST 19: format auto without image/webp in Accept: JPEG, with Vary
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



=== TEST 20: format webp and jpeg convert; original keeps the type
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



=== TEST 21: ICC profile kept, EXIF, XMP and comments gone (JPEG)
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/icc-exif.jpg
--- response_body_filters eval
\&main::img_tags
--- response_body
baseline icc
--- no_error_log
[alert]



=== TEST 22: the source fixture really has all those markers
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



=== TEST 23: ICC profile kept into WebP output
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_format webp;
    }
--- request eval
["GET /img/icc-exif.jpg", "GET /img/icc.webp"]
--- response_body_filters eval
\&main::img_tags
--- response_body eval
["icc lossy\n", "icc lossy\n"]



=== TEST 24: tunny_image_interlace on: progressive JPEG (SOF2)
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



=== TEST 25: EXIF orientation applied: every orientation comes out upright
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



=== TEST 26: already small enough: the original bytes, strong ETag
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



=== TEST 27: transformed output: weak ETag, Last-Modified kept, length set
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



=== TEST 28: PNG is resized like the others (t/115-image-png.t for more)
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
--- error_log
TUNNY /img/tiny.png 200 ok "-"



=== TEST 29: GIF: its first frame resized, answered as PNG (t/116-image-gif.t)
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
--- error_log
TUNNY /img/tiny.gif 200 ok "-"



=== TEST 30: 304 passes through untouched
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



=== TEST 31: ranges are off: a Range request gets the whole new image
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



=== TEST 32: HEAD passes with the source's headers, no job
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



=== TEST 33: proxy_pass source, and a chunked one (no Content-Length)
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



=== TEST 34: a gzip-encoded upstream body: 415 with a reason
--- config
    location /gz/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        gzip on;
        gzip_types image/jpeg;
        gzip_min_length 1;
    }
    location /p/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gz/;
        proxy_http_version 1.1;
        proxy_set_header Accept-Encoding gzip;
        tunny_image resize 100 100;
    }
--- request
GET /p/quad-land.jpg
--- error_code: 415
--- error_log
tunny_image: Content-Encoding gzip not supported
--- no_error_log
[alert]



=== TEST 35: Content-Length over tunny_image_buffer: 415 before reading
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_buffer 100k;
    }
--- request
GET /img/big.jpg
--- error_code: 415
--- error_log eval
qr/tunny_image: Content-Length \d+ exceeds tunny_image_buffer 102400/
--- no_error_log
[alert]



=== TEST 36: a chunked body over tunny_image_buffer: 415
--- config
    location /chunked/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        ssi on;
        ssi_types image/jpeg;
    }
    location /pc/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/chunked/;
        proxy_http_version 1.1;
        tunny_image resize 100 100;
        tunny_image_buffer 100k;
    }
--- request
GET /pc/big.jpg
--- error_code: 415
--- error_log
tunny_image: body exceeds tunny_image_buffer 102400
--- no_error_log
[alert]



=== TEST 37: bad input empty.bin: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/empty.bin
--- error_code: 415
--- error_log eval
qr{TUNNY /img/empty.bin 415 - "tunny_image: empty body"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 38: bad input garbage.bin: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/garbage.bin
--- error_code: 415
--- error_log eval
qr{TUNNY /img/garbage.bin 415 - "tunny_image: not an image}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 39: bad input ffd8.bin: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/ffd8.bin
--- error_code: 415
--- error_log eval
qr{TUNNY /img/ffd8.bin 415 \S+ "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 40: bad input truncated.jpg: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/truncated.jpg
--- error_code: 415
--- error_log eval
qr{TUNNY /img/truncated.jpg 415 error "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 40b: a 415 from the pool tells a keep-alive client the connection closes
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- more_headers
Connection: keep-alive
--- request
GET /img/truncated.jpg
--- error_code: 415
--- response_headers
Connection: close
--- no_error_log
[alert]
[crit]



=== TEST 41: bad input truncated-header.jpg: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/truncated-header.jpg
--- error_code: 415
--- error_log eval
qr{TUNNY /img/truncated-header.jpg 415 \S+ "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 42: bad input truncated.webp: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/truncated.webp
--- error_code: 415
--- error_log eval
qr{TUNNY /img/truncated.webp 415 \S+ "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 43: bad input huge.jpg: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/huge.jpg
--- error_code: 415
--- error_log eval
qr{TUNNY /img/huge.jpg 415 - "tunny_image: 60000x60000 image exceeds tunny_image_max_pixels 50000000"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 44: bad input huge.webp: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/huge.webp
--- error_code: 415
--- error_log eval
qr{TUNNY /img/huge.webp 415 - "tunny_image: 16000x16000 image exceeds tunny_image_max_pixels 50000000"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 45: bad input zero-dims.jpg: 415 with a logged reason
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request
GET /img/zero-dims.jpg
--- error_code: 415
--- error_log eval
qr{TUNNY /img/zero-dims.jpg 415 \S+ "tunny_image: .+"}
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 46: corrupt but decodable data and odd EXIF: never 500
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- request eval
[map { "GET /img/$_" } qw(bitflip.jpg bad-exif-1.jpg bad-exif-2.jpg
     bad-exif-3.jpg bad-exif-4.jpg cmyk.jpg gray.jpg alpha.webp
     animated.webp)]
--- error_code_like eval
[(qr/^(200|415)$/) x 9]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 47: tunny_image_max_pixels applies before any decoding
--- config
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
        tunny_image_max_pixels 300000;
    }
--- request
GET /img/quad-land.jpg
--- error_code: 415
--- error_log
tunny_image: 640x480 image exceeds tunny_image_max_pixels 300000
--- no_error_log
TUNNY /img/quad-land.jpg 415 error



=== TEST 48: upload: the request body is the source (in memory)
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



=== TEST 49: upload: a body in a temporary file, PUT, WebP out
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



=== TEST 50: upload: size, test, not an image, GET
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



=== TEST 51: upload: over client_max_body_size is nginx's 413
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        client_max_body_size 100k;
    }
--- request eval
main::upload("/up", "big.jpg")
--- error_code: 413



=== TEST 52: upload: Content-Length over tunny_image_buffer: 415 at once
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        tunny_image_buffer 4k;
        client_max_body_size 1m;
    }
--- request eval
main::upload("/up", "quad-land.jpg")
--- error_code: 415
--- error_log eval
qr/tunny_image: Content-Length \d+ exceeds tunny_image_buffer 4096/



=== TEST 53: upload: a chunked body over tunny_image_buffer: 415
--- config
    location = /up {
        tunny_image resize 100 100;
        tunny_image_upload;
        tunny_image_buffer 4k;
        client_max_body_size 1m;
    }
--- request eval
"POST /up\n" . CORE::join("", map { sprintf("%x\r\n%s\r\n", length $_, $_) }
                              unpack("(a1000)*", main::fx("quad-land.jpg")))
 . "0\r\n\r\n"
--- more_headers
Transfer-Encoding: chunked
--- error_code: 415
--- error_log
tunny_image: body exceeds tunny_image_buffer 4096



=== TEST 54: upload: a truncated JPEG is a 415 with the decoder's reason
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



=== TEST 55: queue full: 503 with Retry-After, no buffering
--- post_main_config
    tunny_pool one threads=1 max_queue=4;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 1s;
    }
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_offload one;
        tunny_queue_limit 0;
        tunny_retry_after 3;
        tunny_image resize 100 100;
    }
--- init
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.2);
--- request
GET /img/quad-land.jpg
--- error_code: 503
--- response_headers
Retry-After: 3
--- error_log
TUNNY /img/quad-land.jpg 503 rejected
--- wait: 1
--- no_error_log
[alert]



=== TEST 56: tunny_timeout while queued behind a busy thread: 504
--- post_main_config
    tunny_pool one threads=1;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 1s;
    }
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_offload one;
        tunny_timeout 200ms;
        tunny_image resize 100 100;
    }
--- init
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.2);
--- request
GET /img/quad-land.jpg
--- error_code: 504
--- error_log
TUNNY /img/quad-land.jpg 504 timeout
--- wait: 1
--- no_error_log
[alert]



=== TEST 57: 32 concurrent large resizes; a static file answers in < 200 ms
--- config
    location /big/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 2000 1500;
        tunny_image_sharpen 30;
    }
--- user_files
>>> small.txt
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
--- init
TunnyTest::bg_request('/big/big.jpg') for 1 .. 32;
Time::HiRes::sleep(0.3);
--- request
GET /small.txt
--- timeout: 0.2
--- response_body
0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
--- wait: 8
--- grep_error_log eval: qr{TUNNY /big/big.jpg 200 ok}
--- grep_error_log_out eval
"TUNNY /big/big.jpg 200 ok\n" x 32
--- no_error_log
[alert]
[crit]



=== TEST 58: configuration errors
--- config
    location /img/ {
        tunny_image resize 0 100;
    }
--- must_die
--- error_log
invalid value "0"



=== TEST 59: configuration errors: quality out of range
--- config
    location /img/ {
        tunny_image resize 100 100;
        tunny_image_jpeg_quality 0;
    }
--- must_die
--- error_log
invalid quality "0", must be 1..100



=== TEST 60: configuration inherited from server level, off in a location
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
