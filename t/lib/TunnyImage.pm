package TunnyImage;

# Helpers shared by the image tests (t/1[0-4]0-image-*.t): the fixtures
# written by t/tools/gen-fixtures (TEST_NGINX_FIXTURE_DIR, exported by
# ./ngx_tunny_module test), a parser of JPEG and WebP headers so that a
# test checks an output image's type, size and markers from its bytes,
# a decoder of the PNGs the module writes, and the block defaults of those
# files.  @EXPORT goes into the test file, where the blocks call it as
# main::img_size, main::fx_md5, ...; files with helpers of their own import
# by name (use TunnyImage qw(png_decode png_px png_quads ...)).

use strict;
use warnings;

use Exporter 'import';
use Digest::MD5 ();
use Compress::Zlib ();
use TunnyTest ();

our @EXPORT = qw(fx fx_md5 img_size img_tags img_parse upload png_decode
                 png_px png_quads);
our @EXPORT_OK = qw(png_edge size_class);

our $FX = $ENV{TEST_NGINX_FIXTURE_DIR};

die "$0: no fixtures; run ./ngx_tunny_module test, or set "
    . "TEST_NGINX_FIXTURE_DIR to a directory written by "
    . "t/tools/gen-fixtures\n"
    if !$FX || !-f "$FX/quad-land.jpg";

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

# "jpeg WxH", "webp WxH", "png WxH" ... or "other LENGTH" from the bytes of
# an image
sub img_size ($) {
    my ($b) = @_;
    my %i = img_parse($b);
    return defined $i{size} ? "$i{type} $i{size}\n"
                            : "other " . length($b) . "\n";
}

# the markers of interest, sorted: baseline progressive icc exif xmp comment
# (JPEG), lossy lossless icc exif xmp (WebP), icc (PNG), alpha icc (AVIF)
sub img_tags ($) {
    my ($b) = @_;
    my %i = img_parse($b);
    return CORE::join(' ', sort @{ $i{tags} || [] }) . "\n";
}

# ( type => jpeg|webp|png|avif, size => WxH, tags => [...] ) from the bytes
# of an image: the JPEG markers up to the first scan, the WebP chunks, the
# PNG IHDR (and an iCCP anywhere), for AVIF (as libavif writes it) the
# first ispe, an alpha auxiliary item, a colr box with an ICC profile
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

    } elsif ($b =~ /\A\x89PNG\r\n\x1a\n....IHDR(.{8})/s) {
        $i{type} = 'png';
        my ($w, $h) = unpack 'NN', $1;
        $i{size} = "${w}x$h";
        push @tags, 'icc' if $b =~ /iCCP/;

    } elsif ($b =~ /\A....ftyp(?:avif|avis)/s) {
        $i{type} = 'avif';
        if ($b =~ /ispe\0\0\0\0(.{8})/s) {
            my ($w, $h) = unpack 'NN', $1;
            $i{size} = "${w}x$h";
        }
        push @tags, 'alpha'
            if $b =~ /auxC.{0,8}urn:mpeg:mpegB:cicp:systems:auxiliary:alpha/s;
        push @tags, 'icc' if $b =~ /colrprof/;
    }

    $i{tags} = \@tags;
    return %i;
}


# a small decoder of the PNGs the module writes (8-bit grey, RGB, RGBA,
# not interlaced): { w, h, ct, ch, icc, rows => [ [ samples ] ] }, or a
# string saying why not
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

# "r,g,b,a" of a pixel of png_decode()
sub png_px ($$$) {
    my ($i, $x, $y) = @_;
    my @p = @{ $i->{rows}[$y] }[$x * $i->{ch} .. ($x + 1) * $i->{ch} - 1];
    @p = (@p[0, 0, 0], 255) if $i->{ch} == 1;
    @p = (@p, 255) if $i->{ch} == 3;
    return CORE::join ',', @p;
}

# "png WxH ctN [icc]" and the colours at the quadrant centres
sub png_quads ($) {
    my $i = png_decode($_[0]);
    return "$i\n" if !ref $i;
    my ($qx, $qy) = (int($i->{w} / 4), int($i->{h} / 4));
    return "png $i->{w}x$i->{h} ct$i->{ct}" . ($i->{icc} ? ' icc' : '')
           . "\n" . CORE::join(' ', map { png_px($i, $_->[0], $_->[1]) }
                                    [$qx, $qy], [3 * $qx, $qy],
                                    [$qx, 3 * $qy], [3 * $qx, 3 * $qy])
           . "\n";
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

# "large", "small" or "size N": the size class of a body
sub size_class ($) {
    my $n = length $_[0];
    return ($n > 200000 ? 'large' : $n < 5000 ? 'small' : "size $n") . "\n";
}

# a POST (or other method) request with a fixture as its body
sub upload ($$;$) {
    my ($uri, $name, $method) = @_;
    return ($method || 'POST') . " $uri\n" . fx($name);
}

# the block preprocessor of the image test files:
#   add_block_preprocessor(\&TunnyImage::block_defaults);
# sendfile on; the outcome and the reason of every request go into the
# error log too;
# the client waits for an image as long as a busy machine may need (no
# block measures latency with it); under valgrind the blocks whose outcome
# depends on timing keep only their memory checks
sub block_defaults {
    my ($block) = @_;
    if ($ENV{TEST_NGINX_USE_VALGRIND} && $block->name =~ /concurrent/) {
        # valgrind runs the pool threads one at a time, 20-50 times slower:
        # the memory checks are the point there, not latency (the runner
        # still runs --- init of a skipped block: no requests from it)
        $block->set_value('skip_eval', '5: 1');
        $block->set_value('init', undef);

    } elsif ($ENV{TEST_NGINX_USE_VALGRIND} && defined $block->init) {
        # background requests from --- init: whether the block's request
        # meets a busy pool depends on timing that valgrind changes; keep
        # the memory checks, drop the outcome checks
        for my $s (qw(error_code response_headers response_headers_like
                      response_body error_log timeout check_body)) {
            $block->set_value($s, undef) if defined $block->$s;
        }
        # (no error_code means 200 to Test::Nginx: accept any status)
        $block->set_value('error_code_like', '^[1-5]\d\d$');
    }
    $block->set_value('timeout', 10 * TunnyTest::slow())
        if !defined $block->timeout;
    if (!defined $block->http_config) {
        # sendfile on, as in Debian's nginx.conf: static files reach the
        # filter as file buffers, the thread reads them (the blocks with
        # their own http_config, proxy_pass and uploads take the in-memory
        # path)
        $block->set_value('http_config', <<'_EOC_');
    sendfile on;
    log_format tunny 'TUNNY $uri $status $tunny_outcome "$tunny_error"';
    access_log logs/error.log tunny;
_EOC_
    }
}

1;
