#!/usr/bin/perl
# Report of `./ngx_tunny_module bench image` (t/bench/image.sh):
#
#   perl image-report.pl PREFIX BUILD JSON
#
# Reads what image.sh left in PREFIX (meta.tsv, rounds.tsv, sanity.tsv,
# others.txt) and the corpus MANIFESTs in BUILD; prints Markdown tables of
# the medians over rounds, one per workload, with the ratios of tunny to
# its peers; writes every round's raw numbers and the medians to JSON.

use strict;
use warnings;

use JSON::PP;

my ($prefix, $build, $json_file) = @ARGV;
die "usage: image-report.pl PREFIX BUILD JSON\n" unless defined $json_file;

my @METRICS = qw(rps requests p50_ms p99_ms cpu_ms_per_image cpu_ms
                 server_cpu_pct static_n static_p50_ms static_p99_ms static_max_ms
                 others_pct hog_cpu_pct);

my %WORKLOAD = (
    thumb => { corpus => 'bench-corpus', size => 256, format => 'JPEG q80',
               title => 'thumbnails' },
    big => { corpus => 'bench-photos', size => 1024, format => 'JPEG q80',
             title => 'big photos' },
    prog => { corpus => 'bench-corpus-prog', size => 256,
              format => 'JPEG q80', title => 'progressive thumbnails' },
    small => { corpus => 'bench-corpus', size => 48, format => 'JPEG q80',
               title => 'small thumbnails' },
    'prog-small' => { corpus => 'bench-corpus-prog', size => 48,
                      format => 'JPEG q80',
                      title => 'small thumbnails of progressive files' },
    webp => { corpus => 'bench-corpus', size => 512, format => 'WebP q80',
              title => 'WebP output' },
    anim => { corpus => 'bench-anim', size => 256,
              format => 'animated WebP q80',
              title => 'animated GIF to animated WebP' },
    png => { corpus => 'bench-png', size => 512, format => 'PNG level 6',
             title => 'PNG wallpapers to PNG' },
    avif => { corpus => 'bench-corpus', size => 512,
              format => 'AVIF q63 speed 8 4:2:0', title => 'AVIF output' },
    'big-hog' => { corpus => 'bench-photos', size => 1024,
                   format => 'JPEG q80',
                   title => 'big photos, one nice-0 CPU hog running' },
);
my @SYSTEMS = qw(tunny sharp image_filter);

sub read_tsv {
    my ($file, $header) = @_;
    my (@rows, @names);
    open my $fh, '<', $file or die "image-report: $file: $!\n";
    while (my $line = <$fh>) {
        chomp $line;
        my @f = split /\t/, $line, -1;
        if ($header && !@names) {
            @names = @f;
            next;
        }
        push @rows, $header ? { map { $names[$_] => $f[$_] } 0 .. $#f }
                            : \@f;
    }
    return @rows;
}

sub median {
    my @v = sort { $a <=> $b } grep { defined && $_ ne 'nan' } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub num {
    my ($v, $digits) = @_;
    return '—' unless defined $v;
    $digits //= $v >= 100 ? 0 : $v >= 10 ? 1 : 2;
    return sprintf "%.${digits}f", $v;
}

my %meta = map { $_->[0] => $_->[1] } read_tsv("$prefix/meta.tsv");
my @rounds = read_tsv("$prefix/rounds.tsv", 1);
my @sanity = read_tsv("$prefix/sanity.tsv");
my $sharp = eval { decode_json($meta{sharp}) } // {};

# corpus descriptions from the MANIFESTs: "name WxH MP bytes package"
my %corpus;
for my $dir (qw(bench-corpus bench-corpus-prog bench-photos bench-anim
                bench-png)) {
    next if !-f "$build/$dir/MANIFEST";
    my @files;
    open my $fh, '<', "$build/$dir/MANIFEST" or die "$build/$dir: $!\n";
    while (<$fh>) {
        my ($name, $wh, $mp, $bytes, $pkg) = split;
        $mp =~ s/MP$//;
        push @files, { name => $name, size => $wh, megapixels => $mp + 0,
                       bytes => $bytes + 0, package => $pkg };
    }
    $corpus{$dir} = \@files;
}

sub corpus_text {
    my ($files) = @_;
    my @mp = sort { $a <=> $b } map { $_->{megapixels} } @$files;
    my $bytes = 0;
    $bytes += $_->{bytes} for @$files;
    my %pkg = map { $_->{package} => 1 } @$files;
    my $mp = $mp[0] == $mp[-1] ? "$mp[0] MP"
                               : "$mp[0]–$mp[-1] MP";
    my $what = exists $pkg{synthetic}
        ? "synthetic $files->[0]{size} JPEGs (ImageMagick)"
        : exists $pkg{progressive}
        ? "progressive copies (jpegtran) of the synthetic"
          . " $files->[0]{size} JPEGs"
        : exists $pkg{'synthetic-anim'}
        ? "synthetic animated $files->[0]{size} GIFs of 24 frames"
          . " (ImageMagick)"
        : $files->[0]{name} =~ /\.png$/i
        ? "PNG wallpapers of " . join(', ', sort keys %pkg)
        : "JPEG photos of " . join(', ', sort keys %pkg);
    return sprintf '%d %s, %s, %.2f MB average', scalar @$files, $what,
        $mp, $bytes / @$files / 1e6;
}

my (%data, @order);
for my $row (@rounds) {
    my ($w, $s) = @$row{qw(workload system)};
    push @order, $w unless $data{$w};
    push @{ $data{$w}{$s}{rounds} },
        { round => $row->{round} + 0,
          quiet_before => $row->{quiet_before} eq '1' ? JSON::PP::true
                                                       : JSON::PP::false,
          map { $_ => ($row->{$_} eq 'nan' ? undef : $row->{$_} + 0) }
              @METRICS };
}

my (@md, %json_w);

sub out { push @md, join '', @_ }

out "## bench image: $meta{date}, commit $meta{commit}\n";
out "$meta{cpus} CPUs; both nginx with worker_processes $meta{workers};",
    " $meta{rounds} rounds × $meta{duration_s} s per system, wrk -t1",
    " -c$meta{connections} --timeout 30s; medians over rounds;",
    " elapsed $meta{elapsed_s} s.\n";
out "\n- tunny: nginx $meta{nginx}, `tunny_image`, default pool",
    " (", ($meta{tunny_extra} =~ /\S/ ? '' : 'threads=auto; '),
    "each worker logged `$meta{tunny_pool}`)",
    ($meta{tunny_extra} =~ /\S/ ? ", main context + `$meta{tunny_extra}`"
                                : ''), "\n";
out "- image_filter: nginx $meta{nginx}, Debian's",
    " ngx_http_image_filter_module (libgd), in the event loop\n";
out "- sharp: node $sharp->{node}, sharp $sharp->{sharp} (libvips",
    " $sharp->{vips}), sharp.concurrency() = $sharp->{concurrency}",
    " (libvips threads per image), libuv pool",
    " $sharp->{uv_threadpool_size} (images at once), operation cache at",
    " its default (", join(', ', map { "$_ max $sharp->{cache}{$_}{max}" }
                                 sort keys %{ $sharp->{cache} || {} }),
    ")\n";
if ($meta{sched} =~ /^autogroup off/) {
    out "- $meta{sched}\n";
} else {
    out "- each server in a session of its own (the kernel shares the CPUs",
        " between sessions first, autogroup): $meta{sched}\n";
}
out "- the machine meanwhile: $meta{box_busy_pct} % of its CPU time busy",
    " over the whole run (servers included); load average at the end",
    " $meta{loadavg_end}; below, `CPU %`: the share of the machine's CPU",
    " time that the measured server got during its round, and `others %`:",
    " what everything else used meanwhile (wrk, the probe, the hog, other",
    " people's work)\n";
out "- static probe (a 1 KiB file every 5 ms, t/bench/probe.pl):",
    " $meta{probe}\n" if $meta{probe};
if (($meta{probe_floor} // '') =~ /p50 (\S+) p99 (\S+)/) {
    out "- the floor, the probe alone on tunny's idle server before the",
        " rounds (no load, nothing else running): static p50 $1 ms, p99",
        " $2 ms\n";
}
out "- calibration, libjpeg-turbo `djpeg -scale 1/4` of the thumbnail",
    " corpus: $meta{djpeg_ms_before} CPU ms/image before the rounds,",
    " $meta{djpeg_ms_after} after\n";

for my $w (@order) {
    my $d = $WORKLOAD{$w};
    my @sys = grep { $data{$w}{$_} } @SYSTEMS;

    for my $s (@sys) {
        my $r = $data{$w}{$s}{rounds};
        $data{$w}{$s}{median} =
            { map { my $m = $_; $m => median(map { $_->{$m} } @$r) }
                  @METRICS };
    }

    out "\n### $w: $d->{title}: ", corpus_text($corpus{$d->{corpus}}),
        " → fit $d->{size}×$d->{size}, $d->{format}\n\n";
    out "| system | req/s | p50 ms | p99 ms | CPU ms/image",
        " | static p50 ms | static p99 ms | req/s by round | CPU % | others % |\n";
    out "|---|--:|--:|--:|--:|--:|--:|---|--:|--:|\n";
    for my $s (@SYSTEMS) {
        if (!$data{$w}{$s}) {
            my $why = $d->{format} =~ /WebP/i && $s eq 'image_filter'
                      ? 'no WebP output' : 'not measured: BENCH_SYSTEMS';
            out "| $s | — | — | — | — | — | — | ($why) | | |\n";
            next;
        }
        my $m = $data{$w}{$s}{median};
        out "| $s | ", num($m->{rps}, 1), " | ", num($m->{p50_ms}, 0),
            " | ", num($m->{p99_ms}, 0), " | ", num($m->{cpu_ms_per_image}, 1),
            " | ", num($m->{static_p50_ms}, 2), " | ",
            num($m->{static_p99_ms}, 2), " | ",
            join(' / ', map { num($_->{rps}, 1) }
                        sort { $a->{round} <=> $b->{round} }
                        @{ $data{$w}{$s}{rounds} }),
            " | ", num($m->{server_cpu_pct}, 0), " | ",
            num($m->{others_pct}, 0), " |\n";
    }

    # ratios: of the medians, and the range of the same ratio per round
    my %ratio;
    for my $peer (grep { $_ ne 'tunny' } @sys) {
        next unless $data{$w}{tunny};
        my ($t, $p) = map { $data{$w}{$_} } 'tunny', $peer;
        my %by_round = map { $_->{round} => $_ } @{ $p->{rounds} };
        my (@rr, @cr);
        for my $tr (@{ $t->{rounds} }) {
            my $pr = $by_round{ $tr->{round} } or next;
            push @rr, $tr->{rps} / $pr->{rps};
            push @cr, $pr->{cpu_ms_per_image} / $tr->{cpu_ms_per_image};
        }
        @rr = sort { $a <=> $b } @rr;
        @cr = sort { $a <=> $b } @cr;
        $ratio{"tunny_vs_$peer"} = {
            rps => $t->{median}{rps} / $p->{median}{rps},
            cpu_per_image => $p->{median}{cpu_ms_per_image}
                             / $t->{median}{cpu_ms_per_image},
            cpu_share => $t->{median}{server_cpu_pct}
                         / $p->{median}{server_cpu_pct},
            rps_by_round => \@rr,
            cpu_per_image_by_round => \@cr,
        };
        my $x = $ratio{"tunny_vs_$peer"};
        out "\n" if $peer eq $sys[1];
        # req/s = CPU share x CPUs / CPU per image: on a shared machine
        # the first factor is the scheduler's, the second the server's
        out sprintf "- tunny vs %s: req/s %.2f× (rounds %.2f–%.2f);"
            . " CPU per image %.2f× less (%s %s vs %s ms; rounds"
            . " %.2f–%.2f); CPU share %.2f× (req/s ≈ share ×"
            . " CPU-per-image ratio)\n", $peer, $x->{rps}, $rr[0], $rr[-1],
            $x->{cpu_per_image}, $peer,
            num($p->{median}{cpu_ms_per_image}, 1),
            num($t->{median}{cpu_ms_per_image}, 1), $cr[0], $cr[-1],
            $x->{cpu_share};
    }

    # the contention scenario against the same workload without the hog,
    # measured in the same rounds
    my %hog;
    if ($w eq 'big-hog' && $data{big}) {
        out "\n" unless $data{$w}{tunny};
        for my $s (grep { $data{big}{$_} } @sys) {
            my ($with, $without) = map { $data{$_}{$s}{median} } $w, 'big';
            $hog{$s} = { rps => $with->{rps} / $without->{rps},
                         static_p99_ms => [ $without->{static_p99_ms},
                                            $with->{static_p99_ms} ],
                         hog_cpu_pct => $with->{hog_cpu_pct} };
            out sprintf "- %s with the hog: req/s %.2f× of without (%s →"
                . " %s), static p99 %s → %s ms; the hog got %s %% of a"
                . " CPU\n", $s, $hog{$s}{rps}, num($without->{rps}, 1),
                num($with->{rps}, 1), num($without->{static_p99_ms}, 2),
                num($with->{static_p99_ms}, 2), num($with->{hog_cpu_pct}, 0);
        }
    }

    $json_w{$w} = {
        title => $d->{title},
        operation => "fit $d->{size}x$d->{size}, $d->{format}",
        corpus => $corpus{$d->{corpus}},
        systems => { map { $_ => $data{$w}{$_} } @sys },
        ratios => \%ratio,
        %hog ? (hog_vs_without => \%hog) : (),
    };
}

out "\n### sanity: one output per system and workload (every file of the",
    " corpus was fetched once from each system before the rounds; type and",
    " WxH agree within 1 px)\n\n";
out "| workload | system | source | → output | bytes | mean bytes",
    " over the corpus |\n|---|---|---|---|--:|--:|\n";
my @sanity_json;
for my $f (@sanity) {
    my ($w, $s, $name, $src, $srcb, $type, $wh, $bytes, $n, $mean) = @$f;
    out "| $w | $s | $name $src ($srcb B) | $type $wh | $bytes | $mean |\n";
    push @sanity_json, { workload => $w, system => $s, file => $name,
                         source => $src, source_bytes => $srcb + 0,
                         output => "$type $wh", output_bytes => $bytes + 0,
                         files => $n + 0, mean_output_bytes => $mean + 0 };
}

out "\n### the big-photo corpus (Debian's wallpaper JPEGs of at least 8 MP)\n\n";
out "| file | WxH | MP | bytes | package |\n|---|---|--:|--:|---|\n";
out "| $_->{name} | $_->{size} | $_->{megapixels} | $_->{bytes} |",
    " $_->{package} |\n" for @{ $corpus{'bench-photos'} };

my @others;
if (open my $fh, '<', "$prefix/others.txt") {
    while (<$fh>) {
        chomp;
        my ($ticks, $pid, @cmd) = split ' ';
        push @others, { cpu_s => $ticks / $meta{clk_tck}, pid => $pid + 0,
                        command => join ' ', @cmd };
    }
}
if (@others) {
    out "\nOther processes that used CPU during the rounds (CPU s, their",
        " reaped children included):\n\n";
    out sprintf "    %7.1f s  %s\n", $_->{cpu_s}, $_->{command} for @others;
}

print @md;

my %json = (
    meta => { %meta, sharp => $sharp },
    workloads => \%json_w,
    sanity => \@sanity_json,
    other_processes => \@others,
    markdown => join('', @md),
);
open my $out, '>', $json_file or die "image-report: $json_file: $!\n";
print $out JSON::PP->new->canonical->pretty->encode(\%json);
close $out;
print "\nraw rounds and medians: $json_file\n";
