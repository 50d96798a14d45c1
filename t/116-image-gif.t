# tunny_image with GIF input (giflib): the first frame composed on its
# logical screen, the transparency index as alpha, answered as PNG for
# "original" (no GIF encoder), exact sizes and colours; a GIF that needs
# nothing passes as it is; frames outside the screen and LZW garbage
# answer 415 with the reason.  The PNG decoder and the fixtures are those
# of t/115-image-png.t (a copy of its helpers: each .t stands alone).
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use Compress::Zlib ();
use Digest::MD5 ();

our $FX;

BEGIN {
    $FX = $ENV{TEST_NGINX_FIXTURE_DIR};
    die "116-image-gif.t: no fixtures; run ./ngx_tunny_module test\n"
        if !$FX || !-f "$FX/trans.gif";
}

# { w, h, ct, ch, icc, rows => [ row strings ] }, or a string on error
sub png_decode ($) {
    my ($b) = @_;
    return 'not a PNG' if substr($b, 0, 8) ne "\x89PNG\r\n\x1a\n";

    my ($pos, $z, %i) = (8, '');
    while ($pos + 12 <= length $b) {
        my ($len, $type) = unpack 'Na4', substr($b, $pos, 8);
        my $d = substr($b, $pos + 8, $len);
        if ($type eq 'IHDR') {
            @i{qw(w h depth ct cm fm im)} = unpack 'NNCCCCC', $d;
        } elsif ($type eq 'IDAT') {
            $z .= $d;
        } elsif ($type eq 'iCCP') {
            $i{icc} = 1;
        }
        $pos += 12 + $len;
    }

    return "unsupported PNG (depth $i{depth}, interlace $i{im})"
        if $i{depth} != 8 || $i{im} != 0;

    $i{ch} = { 0 => 1, 2 => 3, 4 => 2, 6 => 4 }->{ $i{ct} }
        or return "unsupported colour type $i{ct}";

    my $raw = Compress::Zlib::uncompress($z);
    return 'bad zlib data' if !defined $raw;

    my ($bpp, $stride) = ($i{ch}, $i{w} * $i{ch});
    my @prev = (0) x $stride;
    my @rows;

    for my $y (0 .. $i{h} - 1) {
        my $f = ord substr($raw, $y * ($stride + 1), 1);
        my @c = unpack 'C*', substr($raw, $y * ($stride + 1) + 1, $stride);
        for my $x (0 .. $stride - 1) {
            my $a = $x >= $bpp ? $c[$x - $bpp] : 0;
            my $u = $prev[$x];
            my $ul = $x >= $bpp ? $prev[$x - $bpp] : 0;
            my $p;
            if ($f == 0) { $p = 0 }
            elsif ($f == 1) { $p = $a }
            elsif ($f == 2) { $p = $u }
            elsif ($f == 3) { $p = ($a + $u) >> 1 }
            else {
                my $q = $a + $u - $ul;
                my ($pa, $pb, $pc) = (abs($q - $a), abs($q - $u),
                                      abs($q - $ul));
                $p = ($pa <= $pb && $pa <= $pc) ? $a
                     : ($pb <= $pc) ? $u : $ul;
            }
            $c[$x] = ($c[$x] + $p) & 0xff;
        }
        push @rows, [@c];
        @prev = @c;
    }

    $i{rows} = \@rows;
    return \%i;
}

sub fx_md5 ($) {
    open my $fh, '<:raw', "$FX/$_[0]" or die "$FX/$_[0]: $!";
    local $/;
    my $data = <$fh>;
    return Digest::MD5::md5_hex($data);
}

# "r,g,b,a" of a pixel
sub png_px ($$$) {
    my ($i, $x, $y) = @_;
    my @p = @{ $i->{rows}[$y] }[$x * $i->{ch} .. ($x + 1) * $i->{ch} - 1];
    @p = (@p[0, 0, 0], 255) if $i->{ch} == 1;
    @p = (@p, 255) if $i->{ch} == 3;
    return join ',', @p;
}

# "png WxH ctN [icc]" and the colours at the quadrant centres
sub png_quads ($) {
    my $i = png_decode($_[0]);
    return "$i\n" if !ref $i;
    my ($qx, $qy) = (int($i->{w} / 4), int($i->{h} / 4));
    return "png $i->{w}x$i->{h} ct$i->{ct}" . ($i->{icc} ? ' icc' : '')
           . "\n" . join(' ', map { png_px($i, $_->[0], $_->[1]) }
                              [$qx, $qy], [3 * $qx, $qy],
                              [$qx, 3 * $qy], [3 * $qx, 3 * $qy]) . "\n";
}

# the alpha edge of edge.png resized: the alpha at the far left and right,
# and how many visible pixels are darker than 250 in any channel (a halo)
sub png_edge ($) {
    my $i = png_decode($_[0]);
    return "$i\n" if !ref $i;
    my ($halo, $partial) = (0, 0);
    for my $y (0 .. $i->{h} - 1) {
        for my $x (0 .. $i->{w} - 1) {
            my ($r, $g, $b, $a) = split /,/, png_px($i, $x, $y);
            $halo++ if $a > 0 && ($r < 250 || $g < 250 || $b < 250);
            $partial++ if $a > 0 && $a < 255;
        }
    }
    my (undef, undef, undef, $left) = split /,/, png_px($i, 2, 2);
    my (undef, undef, undef, $right) = split /,/,
        png_px($i, $i->{w} - 3, 2);
    return "png $i->{w}x$i->{h} ct$i->{ct} left $left right $right "
           . "halo $halo " . ($partial ? 'soft' : 'hard') . "\n";
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

sub size_class ($) {
    my $n = length $_[0];
    return ($n > 200000 ? 'large' : $n < 5000 ? 'small' : "size $n") . "\n";
}

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri $status $tunny_outcome "$tunny_error"';
    access_log logs/error.log tunny;
_EOC_
    }
});

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
