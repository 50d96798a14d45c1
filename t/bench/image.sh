#!/usr/bin/env bash
# ./ngx_tunny_module bench image
#
# tunny_image against nginx's own image_filter, in ONE nginx (the Debian
# binary, worker_processes 1) that loads both modules, on the same files:
#   /if/   image_filter resize 256 256;  image_filter_jpeg_quality 80;
#   /tu/   tunny_image resize 256 256;   tunny_image_jpeg_quality 80;
#          (pool "default", threads=auto: one per usable CPU)
#   /tu1/  the same on a pool of ONE thread: the per-core comparison
# For each: wrk -c16 rotating over a corpus of 32 photo-like ~3 MP JPEGs
# (made by ImageMagick from its built-in images, cached), while a probe
# fetches a 1 KiB static file from the same worker 50 times a second on a
# new connection each time and records its latency.
# wrk and the probe share the machine's cores with nginx: read the ratios.

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module bench image}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
PORT=${BENCH_PORT:-18091}
DUR=${BENCH_DURATION:-12}
CONNS=${BENCH_CONNECTIONS:-16}
NIMG=${BENCH_IMAGES:-32}
IMAGE_FILTER=${IMAGE_FILTER_SO:-/usr/lib/nginx/modules/ngx_http_image_filter_module.so}
PREFIX=$BUILD/bench-image
CORPUS=$BUILD/bench-corpus

say() { printf '%s\n' "$*" >&2; }

# /usr/local/bin/convert may be a stand-in that only converts PNG: use
# ImageMagick's own binary
CONVERT=
for c in /usr/bin/convert-im6.q16 /usr/bin/convert; do
    if [ -x "$c" ] && "$c" -version 2>/dev/null | grep -q ImageMagick; then
        CONVERT=$c
        break
    fi
done

need=()
[ -n "$CONVERT" ] || need+=(imagemagick)
[ -f "$IMAGE_FILTER" ] || need+=(libnginx-mod-http-image-filter)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { say "bench image: install ${need[*]}"; exit 1; }
    say "installing: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${need[@]}" >&2
    CONVERT=/usr/bin/convert-im6.q16
fi


# --- corpus: photo-like 2000x1500 JPEGs, deterministic per seed -------------

make_image() {  # SEED FILE
    local i=$1
    "$CONVERT" -seed "$i" -size 2000x1500 plasma:fractal -blur 0x1 \
        \( -size 2000x1500 tile:granite: \) -compose overlay -composite \
        \( wizard: -resize 800x800 -background none \
           -rotate $((i * 37 % 360)) \) \
        -geometry +$((i * 97 % 1200))+$((i * 61 % 700)) \
        -compose over -composite \
        \( logo: -resize 1000x -transparent white -background none \
           -rotate $((i * 13 % 40 - 20)) \) \
        -geometry +$((i * 151 % 1000))+$((i * 89 % 900)) \
        -compose over -composite \
        -attenuate 0.3 +noise Gaussian -quality 90 "$2"
}

if [ "$(cat "$CORPUS/.stamp" 2>/dev/null)" != "v1 $NIMG" ]; then
    say "bench image: making $NIMG photo-like 2000x1500 JPEGs in $CORPUS"
    rm -rf "$CORPUS"
    mkdir -p "$CORPUS"
    export -f make_image
    export CONVERT
    seq 1 "$NIMG" | xargs -P "$(nproc)" -I{} \
        bash -c 'make_image {} "$0/img{}.jpg"' "$CORPUS"
    echo "v1 $NIMG" > "$CORPUS/.stamp"
fi
chmod -R a+rX "$CORPUS"

corpus_bytes=$(cat "$CORPUS"/img*.jpg | wc -c)


# --- nginx ----------------------------------------------------------------

rm -rf "$PREFIX"
mkdir -p "$PREFIX/logs" "$PREFIX/conf" "$PREFIX/html"
head -c 1024 /dev/zero | tr '\0' 'x' > "$PREFIX/html/1k.txt"

cat > "$PREFIX/conf/nginx.conf" <<CONF
load_module $MODULE;
load_module $IMAGE_FILTER;
worker_processes 1;
error_log logs/error.log notice;
pid logs/nginx.pid;
tunny_pool default threads=auto max_queue=1024;
tunny_pool one threads=1 max_queue=1024;
events { worker_connections 1024; }
http {
    access_log logs/access.log;
    sendfile on;
    server {
        listen 127.0.0.1:$PORT reuseport;
        location = /1k.txt { root html; }
        location /if/ {
            alias $CORPUS/;
            image_filter resize 256 256;
            image_filter_jpeg_quality 80;
            image_filter_buffer 20M;
        }
        location /tu/ {
            alias $CORPUS/;
            tunny_image resize 256 256;
            tunny_image_jpeg_quality 80;
            tunny_timeout 60s;
        }
        location /tu1/ {
            alias $CORPUS/;
            tunny_offload one;
            tunny_image resize 256 256;
            tunny_image_jpeg_quality 80;
            tunny_timeout 60s;
        }
    }
}
CONF

"$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf
trap '"$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf -s stop 2>/dev/null || true' EXIT
sleep 0.3

threads=$(sed -n 's/.*tunny_pool "default": \([0-9]*\) threads.*/\1/p' \
          "$PREFIX/logs/error.log" | tail -1)

# wrk script: every request takes the next image of the corpus
cat > "$PREFIX/rotate.lua" <<LUA
local n = $NIMG
local i = 0
request = function()
    i = i % n + 1
    return wrk.format("GET", wrk.path .. "img" .. i .. ".jpg")
end
LUA

# steady latency probe, open loop: a new connection every 1/RATE s for
# SECONDS, whether or not the earlier ones were answered (no coordinated
# omission); latency counts from the scheduled send time.  Prints the
# sorted latencies in ms, one per line.
cat > "$PREFIX/probe.pl" <<'PERL'
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);
my ($port, $rate, $secs) = @ARGV;
my $n = int($rate * $secs);
my (@lat, %conn);
my ($fail, $k) = (0, 0);
my $sel = IO::Select->new;
my $t0 = time;
my $end = $t0 + $secs + 30;
while (($k < $n || $sel->count) && time < $end) {
    while ($k < $n && $t0 + $k / $rate <= time) {
        my $due = $t0 + $k++ / $rate;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if (!$s) { $fail++; next }
        syswrite $s, "GET /1k.txt HTTP/1.0\r\nHost: b\r\n\r\n";
        $conn{fileno $s} = { s => $s, due => $due, buf => '' };
        $sel->add($s);
    }
    my $wait = $k < $n ? $t0 + $k / $rate - time : 0.5;
    $wait = 0 if $wait < 0;
    if (!$sel->count) {
        # can_read() on an empty set returns at once: sleep instead of
        # spinning a core the measured server needs
        select(undef, undef, undef, $wait);
        next;
    }
    for my $s ($sel->can_read($wait)) {
        my $c = $conn{fileno $s};
        my $got = sysread $s, my $chunk, 65536;
        if ($got) { $c->{buf} .= $chunk; next }
        $sel->remove($s);
        delete $conn{fileno $s};
        close $s;
        if ($c->{buf} =~ m{^HTTP/1\.\d 200} && length($c->{buf}) > 1024) {
            push @lat, (time - $c->{due}) * 1000;
        } else {
            $fail++;
        }
    }
}
$fail += $sel->count;
print STDERR "probe: $fail of $n requests failed\n" if $fail;
printf "%.3f\n", $_ for sort { $a <=> $b } @lat;
PERL

pctl() {  # FILE P -> value of the P-th percentile line
    awk -v p="$2" '{ v[NR] = $1 }
        END { if (NR == 0) { print "nan"; exit }
              i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; if (i > NR) i = NR
              printf "%.2f", v[i] }' "$1"
}

wrk_ms() {  # wrk --latency output, percentile -> milliseconds
    awk -v p="$2" '
        $1 == p {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            if (u == "us") v /= 1000; else if (u == "s") v *= 1000
            printf "%.1f", v
        }' "$1"
}

run() {  # NAME PATH
    local name=$1 path=$2
    # warm the page cache and the pool threads' state
    wrk -t1 -c2 -d2s -s "$PREFIX/rotate.lua" \
        "http://127.0.0.1:$PORT$path" > /dev/null
    wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 30s --latency \
        -s "$PREFIX/rotate.lua" \
        "http://127.0.0.1:$PORT$path" > "$PREFIX/$name.wrk" &
    local load=$!
    sleep 1
    perl "$PREFIX/probe.pl" "$PORT" 50 $((DUR - 2)) > "$PREFIX/$name.probe"
    wait $load
}

say "bench image: $NIMG JPEGs 2000x1500 ($((corpus_bytes / NIMG / 1024)) KiB" \
    "average), resize 256 256, quality 80, wrk -c$CONNS ${DUR}s each"

perl "$PREFIX/probe.pl" "$PORT" 50 4 > "$PREFIX/idle.probe"
run image_filter /if/
run tunny /tu/
run tunny1 /tu1/

# sanity: every image request was a 200 and a real JPEG came out
for p in /if/ /tu/; do
    curl -s -o "$PREFIX/sample.jpg" "http://127.0.0.1:$PORT${p}img1.jpg"
    say "  sample ${p}img1.jpg: $(file -b "$PREFIX/sample.jpg" | cut -c1-80)"
done

report() {  # NAME LABEL
    local w=$PREFIX/$1.wrk p=$PREFIX/$1.probe rps errs
    rps=$(awk '/^Requests\/sec/ {print $2}' "$w")
    errs=$(awk '/Non-2xx|Socket errors/ {$1 = $1; print}' "$w" | paste -sd' ')
    printf '%-26s %8.1f req/s   image p50 %7s ms p99 %7s ms   static p50 %6s ms p99 %7s ms %s\n' \
        "$2" "$rps" "$(wrk_ms "$w" 50%)" "$(wrk_ms "$w" 99%)" \
        "$(pctl "$p" 50)" "$(pctl "$p" 99)" "${errs:+ [$errs]}"
}

echo
echo "== image resize: image_filter vs tunny_image, one nginx, worker_processes 1"
printf '%-26s %8s         %34s   static p50 %6s ms p99 %7s ms\n' \
    "idle server" "" "" "$(pctl "$PREFIX/idle.probe" 50)" \
    "$(pctl "$PREFIX/idle.probe" 99)"
report image_filter "image_filter (event loop)"
report tunny "tunny_image ($threads threads)"
report tunny1 "tunny_image (1 thread)"

awk -v a="$(awk '/^Requests\/sec/ {print $2}' "$PREFIX/image_filter.wrk")" \
    -v b="$(awk '/^Requests\/sec/ {print $2}' "$PREFIX/tunny.wrk")" \
    -v c="$(awk '/^Requests\/sec/ {print $2}' "$PREFIX/tunny1.wrk")" \
    -v pa="$(pctl "$PREFIX/image_filter.probe" 99)" \
    -v pb="$(pctl "$PREFIX/tunny.probe" 99)" \
    -v qa="$(pctl "$PREFIX/image_filter.probe" 50)" \
    -v qb="$(pctl "$PREFIX/tunny.probe" 50)" '
BEGIN {
    printf "throughput   tunny_image / image_filter: %.2fx (%.2fx with one thread)\n",
           b / a, c / a
    printf "static file  p50 %.2f ms -> %.2f ms, p99 %.2f ms -> %.2f ms (image_filter -> tunny_image)\n",
           qa, qb, pa, pb
}'
