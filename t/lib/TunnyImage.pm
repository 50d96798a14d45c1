package TunnyImage;

# Helpers shared by the image tests (t/1[0-4]0-image-*.t): the fixtures
# written by t/tools/gen-fixtures (TEST_NGINX_FIXTURE_DIR, exported by
# ./ngx_tunny_module test), a parser of JPEG and WebP headers so that a
# test checks an output image's type, size and markers from its bytes,
# and the block defaults of those files.  Everything is exported into the
# test file, where the blocks call it as main::img_size, main::fx_md5, ...

use strict;
use warnings;

use Exporter 'import';
use Digest::MD5 ();
use TunnyTest ();

our @EXPORT = qw(fx fx_md5 img_size img_tags img_parse upload);

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

# "jpeg WxH", "webp WxH" or "other LENGTH" from the bytes of an image
sub img_size ($) {
    my ($b) = @_;
    my %i = img_parse($b);
    return defined $i{size} ? "$i{type} $i{size}\n"
                            : "other " . length($b) . "\n";
}

# the markers of interest, sorted: baseline progressive icc exif xmp comment
# (JPEG), lossy lossless icc exif xmp (WebP)
sub img_tags ($) {
    my ($b) = @_;
    my %i = img_parse($b);
    return CORE::join(' ', sort @{ $i{tags} || [] }) . "\n";
}

# ( type => jpeg|webp, size => WxH, tags => [...] ) from the bytes of an
# image: the JPEG markers up to the first scan, the WebP chunks
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
