#!/usr/bin/env bash
# ./ngx_tunny_module bench image [--hog]
#
# Side-by-side image benchmark of three servers, all running at once on
# loopback and reading the same files from disk:
#   tunny         nginx (Debian's binary), worker_processes W, this module:
#                 tunny_image on the default pool (threads=auto)
#   image_filter  a second nginx, worker_processes W, Debian's
#                 ngx_http_image_filter_module (the work runs in the
#                 event loop)
#   sharp         node + the npm package sharp (pinned, installed into
#                 build/bench-node), t/bench/peers/sharp-server.js, sharp's
#                 default thread settings
# W is the number of CPUs (BENCH_WORKERS).  Both nginx listen with
# reuseport, so that wrk's connections are spread over the workers.  node
# runs in a session of its own (setsid), as each nginx does once it
# daemonized: the kernel (autogroup) shares the CPUs between sessions, so
# the three compete with other work on the same terms.
#
# Workloads (BENCH_WORKLOADS, a list of):
#   thumb    BENCH_IMAGES (32) synthetic photo-like 2000x1500 JPEGs
#            (t/bench/image-corpus.sh) -> fit 256x256, JPEG quality 80
#   big      the JPEG wallpapers of >= 8 MP of Debian's ukui-wallpapers
#            and lomiri-wallpapers* packages -> fit 1024x1024, JPEG q80
#   prog     progressive copies of the thumb corpus (jpegtran -progressive:
#            the same coefficients) -> fit 256x256, JPEG quality 80; not
#            in the default list
#   small, prog-small
#            the thumb corpus and its progressive copies -> fit 48x48 (a
#            shrink past 32x: DCT 1/8, tunny's DC-only decode of the
#            progressive files), JPEG quality 80; not in the default list
#   webp     the thumb corpus -> fit 512x512, WebP quality 80 (image_filter
#            cannot make WebP from JPEG: not measured)
#   big-hog  big while one nice-0 busy loop (started and killed here)
#            competes for the CPUs
#   anim     8 animated GIFs of 480x270, 24 frames (t/bench/image-corpus.sh)
#            -> fit 256x256, animated WebP quality 80, every frame
#            (sharp with {animated: true}; image_filter keeps one frame:
#            not measured)
#   png      the PNG wallpapers (illustrations and photos of 8.7-9.4 MP,
#            most with alpha) of the same packages -> fit 512x512 PNG,
#            zlib level 6 with adaptive filters on every system (tunny's
#            and libgd's default; sharp's default filter is none:
#            {adaptiveFiltering: true} here)
#   avif     the thumb corpus -> fit 512x512 AVIF at equal settings:
#            quality 63, libaom speed 8, 4:2:0 (tunny's defaults; sharp
#            {quality: 63, effort: 1, chromaSubsampling: '4:2:0'}, as
#            libvips sets libaom's speed to 9 - effort; image_filter
#            cannot make AVIF: not measured)
# Default: thumb big webp anim png avif; --hog (or BENCH_HOG=1): big big-hog, measured
# in the same rounds.
#
# Method, for a shared and noisy machine: BENCH_ROUNDS (3) rounds; in each
# round every workload runs on every system for BENCH_DURATION (10) s,
# the systems taking turns in an order rotated from round to round; the
# tables give medians over rounds.  Load: wrk -t1 -cBENCH_CONNECTIONS (16)
# --timeout 30s --latency, t/bench/rotate.lua going round the corpus.
# Per system and round: req/s, p50, p99, CPU ms per image (utime+stime of
# the server processes -- the nginx workers, the node process -- read
# from /proc before and after the round, divided by the requests done),
# the server's share of the machine's CPU time in the round (on a shared
# machine req/s follow it: req/s = share x CPUs / CPU per image), and a
# light static probe on the same server during the load
# (t/bench/probe.pl: a 1 KiB file every 5 ms on one keep-alive
# connection; BENCH_PROBE_RT below).  Before each run the servers are left to finish the
# requests that the previous run cut off.  Before the rounds every system
# answers every file of the corpus once (warms the page cache and checks
# that the three do the same operation: type and WxH of every output agree
# within 1 px, every output fills the box), and the probe runs alone on
# tunny's idle server for BENCH_FLOOR_SECONDS (5), the floor of this
# machine's static p99; djpeg -scale 1/4 of the
# thumbnail corpus before and after the rounds tells how fast the machine
# was (a decode every system pays).
#
# Fails when any request of a round failed (socket error, timeout, a
# status other than 200, a failed probe request) or when the outputs of
# the systems differ.  Writes build/bench-image.json (--hog:
# bench-image-hog.json; every round's raw numbers and the medians) and
# prints Markdown tables.
#
# BENCH_TUNNY_EXTRA: lines added to the main context of the tunny nginx,
#     e.g. 'tunny_pool default threads=2 nice=10;' (the default pool admits
#     64 waiting jobs per worker: more BENCH_CONNECTIONS than that per
#     worker get 503s, which fail the bench, unless max_queue is raised)
# BENCH_SYSTEMS: the systems measured (default: every system a workload
#     has), e.g. 'tunny sharp' for the contention study
# BENCH_PORT (18100): tunny's port; image_filter +1, sharp +2.
# BENCH_SHARP_VERSION (0.35.5, needs node >= 20.9).

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module bench image}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
: "${TOP:?}"

BENCH=$TOP/t/bench
. "$BENCH/lib.sh"

PORT=${BENCH_PORT:-18100}
DUR=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-16}
NIMG=${BENCH_IMAGES:-32}
WORKERS=${BENCH_WORKERS:-$(nproc)}
HOG=${BENCH_HOG:-0}
TUNNY_EXTRA=${BENCH_TUNNY_EXTRA:-}
SHARP_VERSION=${BENCH_SHARP_VERSION:-0.35.5}
PROBE_PERIOD_MS=5
# The probe stands for a client on another machine: it runs at a real-time
# priority (SCHED_FIFO 1; it sleeps 5 ms between requests, so it takes
# little), so that its own wake-ups on these busy CPUs do not count in the
# server's latency.  With autogroup, a woken client in another session
# waits for the CPU-bound session's slice: in `bench sched` (a perf sched
# trace of a saturated pool) a normal-priority probe waited over 1 ms for
# a CPU 6-13 times in 4 s, the worker's event loop 0-2 times.
# BENCH_PROBE_RT=0: a normal process (a client on the same machine), and
# the default where chrt -f is not allowed.
PROBE_PRIO=
PROBE_MODE="a normal process (a client on this machine)"
if [ "${BENCH_PROBE_RT:-1}" = 1 ] && chrt -f 1 true 2> /dev/null; then
    PROBE_PRIO="chrt -f 1"
    PROBE_MODE="SCHED_FIFO 1 (a client on another machine)"
fi
IMAGE_FILTER=${IMAGE_FILTER_SO:-/usr/lib/nginx/modules/ngx_http_image_filter_module.so}
if [ "$HOG" = 1 ]; then
    WORKLOADS=${BENCH_WORKLOADS:-big big-hog}
else
    WORKLOADS=${BENCH_WORKLOADS:-thumb big webp anim png avif}
fi
PREFIX=$BUILD/bench-image
NODE_DIR=$BUILD/bench-node
JSON=$BUILD/bench-image$([ "$HOG" != 1 ] || echo -hog).json

declare -A PORT_OF=([tunny]=$PORT [image_filter]=$((PORT + 1))
                    [sharp]=$((PORT + 2)))

[ "$DUR" -ge 4 ] || { say "bench image: BENCH_DURATION must be >= 4"; exit 1; }

# workload NAME -> "PATH CORPUS_DIR BOX TYPE SYSTEMS...": the URL path
# (the same on the three servers), the sources, the box the output fits
# in and the output type
workload() {
    local line s keep
    line=$(workload_all "$1") || return 1
    set -- $line
    keep="$1 $2 $3 $4"
    shift 4
    for s in "$@"; do
        case " ${BENCH_SYSTEMS:-$*} " in *" $s "*) keep="$keep $s" ;; esac
    done
    echo "$keep"
}
workload_all() {
    case $1 in
        thumb) echo "/thumb/ $BUILD/bench-corpus 256 JPEG" \
                    "tunny sharp image_filter" ;;
        prog)  echo "/prog/ $BUILD/bench-corpus-prog 256 JPEG" \
                    "tunny sharp image_filter" ;;
        small) echo "/small/ $BUILD/bench-corpus 48 JPEG" \
                    "tunny sharp image_filter" ;;
        prog-small)
               echo "/prog-small/ $BUILD/bench-corpus-prog 48 JPEG" \
                    "tunny sharp image_filter" ;;
        big|big-hog)
               echo "/big/ $BUILD/bench-photos 1024 JPEG" \
                    "tunny sharp image_filter" ;;
        webp)  echo "/webp/ $BUILD/bench-corpus 512 WEBP tunny sharp" ;;
        # the type of an animated output: WEBP/frames
        anim)  echo "/anim/ $BUILD/bench-anim 256 WEBP/24 tunny sharp" ;;
        png)   echo "/png/ $BUILD/bench-png 512 PNG" \
                    "tunny sharp image_filter" ;;
        avif)  echo "/avif/ $BUILD/bench-corpus 512 AVIF tunny sharp" ;;
        *) say "bench image: unknown workload '$1'" \
               "(thumb prog small prog-small big webp anim png avif" \
               "big-hog)"
           return 1 ;;
    esac
}
for w in $WORKLOADS; do workload "$w" > /dev/null || exit 1; done


# --- what the bench needs ---------------------------------------------------

apt_install() {  # PACKAGE...: waits for another engineer's dpkg lock
    local try
    [ "$(id -u)" -eq 0 ] || { say "bench image: install $*"; exit 1; }
    say "bench image: installing $*"
    apt-get update -qq >&2 || true
    for try in 1 2 3 4 5 6 7 8 9 10; do
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends "$@" >&2 && return 0
        say "bench image: apt-get failed (dpkg lock?), retrying in 30 s"
        sleep 30
    done
    exit 1
}

CONVERT=
find_convert() {
    # /usr/local/bin/convert may be a stand-in that only converts PNG: use
    # ImageMagick's own binary
    local c
    for c in /usr/bin/convert-im6.q16 /usr/bin/convert; do
        if [ -x "$c" ] && "$c" -version 2>/dev/null | grep -q ImageMagick; then
            CONVERT=$c
            return 0
        fi
    done
    return 1
}

need=()
find_convert || need+=(imagemagick)
[ -f "$IMAGE_FILTER" ] || need+=(libnginx-mod-http-image-filter)
command -v wrk > /dev/null || need+=(wrk)
command -v curl > /dev/null || need+=(curl)
command -v djpeg > /dev/null || need+=(libjpeg-turbo-progs)
command -v node > /dev/null || need+=(nodejs)
command -v npm > /dev/null || need+=(npm)
for p in ukui-wallpapers lomiri-wallpapers lomiri-wallpapers-16.04 \
         lomiri-wallpapers-20.04; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
        | grep -q 'install ok installed' || need+=("$p")
done
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
find_convert || { say "bench image: no ImageMagick convert"; exit 1; }
IDENTIFY=${CONVERT/convert/identify}

sharp_install "$NODE_DIR" "$SHARP_VERSION" "bench image" || exit 1

"$BENCH/image-corpus.sh" "$BUILD" "$CONVERT" "$NIMG"


# --- the three servers --------------------------------------------------------

rm -rf "$PREFIX"
mkdir -p "$PREFIX/html" "$PREFIX/runs" "$PREFIX/sanity"
head -c 1024 /dev/zero | tr '\0' 'x' > "$PREFIX/html/1k.txt"

SERVERS_UP=()
NODE_PID=
WRK_PID=

# cleanup: stop everything this script started; an nginx master waits for
# a worker still busy with an image_filter job, for 30 s at most, then
# it and its workers are killed
cleanup() {
    local s master left=() i
    stop_hog
    [ -z "$WRK_PID" ] || kill "$WRK_PID" 2>/dev/null || true
    for s in "${SERVERS_UP[@]}"; do
        case $s in
            sharp) [ -z "$NODE_PID" ] || kill "$NODE_PID" 2>/dev/null || true ;;
            *) master=$(cat "$PREFIX/$s/logs/nginx.pid" 2>/dev/null) || continue
               left+=("$master" $(pgrep -P "$master"))
               kill -TERM "$master" 2>/dev/null || true ;;
        esac
    done
    for i in $(seq 1 300); do
        kill -0 "${left[@]}" 2>/dev/null || break
        sleep 0.1
    done
    [ ${#left[@]} -eq 0 ] || kill -KILL "${left[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx_conf SYSTEM -> nginx.conf of the tunny or image_filter server
nginx_conf() {
    local s=$1 load main op

    if [ "$s" = tunny ]; then
        load="load_module $MODULE;"
        main=$TUNNY_EXTRA
        op() {  # LOCATION DIR SIZE FORMAT
            echo "location $1 { alias $2/; tunny_image resize $3 $3;"
            case $4 in
                webp) echo "    tunny_image_format webp;" \
                           "tunny_image_webp_quality 80;" ;;
                png)  echo "    tunny_image_format png;" \
                           "tunny_image_png_compression 6;" ;;
                avif) echo "    tunny_image_format avif;" \
                           "tunny_image_avif_quality 63;" \
                           "tunny_image_avif_speed 8;" ;;
                *)    echo "    tunny_image_jpeg_quality 80;" ;;
            esac
            echo "    tunny_image_buffer 16M; tunny_timeout 60s; }"
        }
    else
        load="load_module $IMAGE_FILTER;"
        main=
        op() {  # JPEG in, JPEG out; PNG in, PNG out (libgd's level 6)
            case $4 in jpeg|png) ;; *) return 0 ;; esac
            echo "location $1 { alias $2/; image_filter resize $3 $3;"
            echo "    image_filter_jpeg_quality 80; image_filter_buffer 16M; }"
        }
    fi

    cat <<CONF
$load
$(bench_user)
worker_processes $WORKERS;
error_log logs/error.log notice;
pid logs/nginx.pid;
$main
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    server {
        listen 127.0.0.1:${PORT_OF[$s]} reuseport;
        location = /1k.txt { root $PREFIX/html; }
$(op /thumb/ "$BUILD/bench-corpus" 256 jpeg)
$(op /prog/ "$BUILD/bench-corpus-prog" 256 jpeg)
$(op /small/ "$BUILD/bench-corpus" 48 jpeg)
$(op /prog-small/ "$BUILD/bench-corpus-prog" 48 jpeg)
$(op /big/ "$BUILD/bench-photos" 1024 jpeg)
$(op /webp/ "$BUILD/bench-corpus" 512 webp)
$(op /anim/ "$BUILD/bench-anim" 256 webp)
$(op /png/ "$BUILD/bench-png" 512 png)
$(op /avif/ "$BUILD/bench-corpus" 512 avif)
    }
}
CONF
}

sharp_conf() {
    cat <<JSON
{ "port": ${PORT_OF[sharp]}, "static": "$PREFIX/html/1k.txt",
  "routes": [
    { "prefix": "/thumb/", "dir": "$BUILD/bench-corpus", "format": "jpeg",
      "width": 256, "height": 256, "options": { "quality": 80 } },
    { "prefix": "/prog/", "dir": "$BUILD/bench-corpus-prog",
      "format": "jpeg", "width": 256, "height": 256,
      "options": { "quality": 80 } },
    { "prefix": "/small/", "dir": "$BUILD/bench-corpus", "format": "jpeg",
      "width": 48, "height": 48, "options": { "quality": 80 } },
    { "prefix": "/prog-small/", "dir": "$BUILD/bench-corpus-prog",
      "format": "jpeg", "width": 48, "height": 48,
      "options": { "quality": 80 } },
    { "prefix": "/big/", "dir": "$BUILD/bench-photos", "format": "jpeg",
      "width": 1024, "height": 1024, "options": { "quality": 80 } },
    { "prefix": "/webp/", "dir": "$BUILD/bench-corpus", "format": "webp",
      "width": 512, "height": 512, "options": { "quality": 80 } },
    { "prefix": "/anim/", "dir": "$BUILD/bench-anim", "format": "webp",
      "width": 256, "height": 256, "options": { "quality": 80 },
      "animated": true },
    { "prefix": "/png/", "dir": "$BUILD/bench-png", "format": "png",
      "width": 512, "height": 512,
      "options": { "compressionLevel": 6, "adaptiveFiltering": true } },
    { "prefix": "/avif/", "dir": "$BUILD/bench-corpus", "format": "avif",
      "width": 512, "height": 512,
      "options": { "quality": 63, "effort": 1,
                   "chromaSubsampling": "4:2:0" } } ] }
JSON
}

wait_http() {  # SYSTEM: until its static file answers, at most 10 s
    local i
    for i in $(seq 1 100); do
        curl -sf -o /dev/null "http://127.0.0.1:${PORT_OF[$1]}/1k.txt" \
            && return 0
        sleep 0.1
    done
    say "bench image: $1 does not answer on port ${PORT_OF[$1]}"
    exit 1
}

for s in tunny image_filter; do
    mkdir -p "$PREFIX/$s/conf" "$PREFIX/$s/logs"
    nginx_conf "$s" > "$PREFIX/$s/conf/nginx.conf"
    "$NGINX_BIN" -p "$PREFIX/$s" -c conf/nginx.conf
    SERVERS_UP+=("$s")
done
# node in a session of its own, as each nginx is once it daemonized: with
# the kernel's autogroup scheduling a session shares the CPUs as one, so
# each server competes with other people's work on the same terms
# (instead of sharing its part with wrk and the probe)
mkdir -p "$PREFIX/sharp"
sharp_conf > "$PREFIX/sharp/conf.json"
NODE_PATH=$NODE_DIR/node_modules setsid node "$BENCH/peers/sharp-server.js" \
    "$PREFIX/sharp/conf.json" > "$PREFIX/sharp/log" 2>&1 &
NODE_PID=$!
SERVERS_UP+=(sharp)
for s in tunny image_filter sharp; do wait_http "$s"; done
sharp_info=$(head -1 "$PREFIX/sharp/log")
[ "$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' <<< "$sharp_info")" = "$NODE_PID" ] || {
    say "bench image: node is not process $NODE_PID: $sharp_info"; exit 1; }

# server_pids SYSTEM -> the processes doing its work: the nginx master's
# children (the workers; their pool threads are inside them), the node
# process
server_pids() {
    case $1 in
        sharp) echo "$NODE_PID" ;;
        *) pgrep -P "$(cat "$PREFIX/$1/logs/nginx.pid")" | sort -n \
               | paste -sd' ' ;;
    esac
}

declare -A PIDS
for s in tunny image_filter sharp; do
    PIDS[$s]=$(server_pids "$s")
done
ALL_PIDS="${PIDS[tunny]} ${PIDS[image_filter]} ${PIDS[sharp]}"
for s in tunny image_filter; do
    set -- ${PIDS[$s]}
    [ $# -eq "$WORKERS" ] || {
        say "bench image: $s has $# workers, not $WORKERS"; exit 1; }
done

# what each worker's pool resolved to, as its start-up notice says (e.g.
# 'pool "default": 1 threads, max_queue 64, nice 19')
tunny_pool=$(sed -n 's/.*\(tunny_pool "[^"]*": [^,]* threads[^,]*\)/\1/p' \
             "$PREFIX/tunny/logs/error.log" | sed 's/^tunny_//' | sort -u \
             | paste -sd';')

# the scheduler's view: each server's session (autogroup) and nice value
sched=$(for s in tunny image_filter sharp; do
            set -- ${PIDS[$s]}
            printf '%s: %s nice %s; ' "$s" \
                "$(cut -d' ' -f1 "/proc/$1/autogroup" 2>/dev/null || echo -)" \
                "$(ps -o ni= -p "$1" | tr -d ' ')"
        done)

# autogroup off (kernel.sched_autogroup_enabled=0): one group for all
if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 0 ]
then
    sched="autogroup off, every server in one group: $sched"
fi


# --- sanity: every system answers every file; outputs agree ------------------

# output_info FILE... -> "NAME TYPE W H BYTES" per file; an animated WebP
# (read with t/tools/webp-anim-info: libwebp's own decoder) is of type
# WEBP/FRAMES; a HEIF file of major brand "avif" is AVIF (ImageMagick
# names every HEIF container HEIC)
output_info() {
    local f info
    for f in "$@"; do
        if info=$("$ANIM_INFO" "$f" 2>/dev/null | head -1) \
           && [ "$(awk '{ print $4 }' <<< "$info")" -gt 1 ]
        then
            awk -v f="$f" -v b="$(stat -c %s "$f")" '{
                split($2, d, "x"); print f, "WEBP/" $4, d[1], d[2], b }' \
                <<< "$info"
        elif [ "$(head -c 12 "$f" | tail -c 8)" = ftypavif ]; then
            "$IDENTIFY" -format '%f AVIF %w %h %B\n' "$f" 2>/dev/null
        else
            "$IDENTIFY" -format '%f %m %w %h %B\n' "$f" 2>/dev/null
        fi
    done
}
ANIM_INFO=$TOP/t/tools/webp-anim-info
make -s -C "$TOP/t/tools" webp-anim-info >&2 || {
    say "bench image: t/tools/webp-anim-info does not build"; exit 1; }

: > "$PREFIX/sanity.tsv"
for w in $WORKLOADS; do
    [ "$w" != big-hog ] || continue
    set -- $(workload "$w")
    path=$1 dir=$2 box=$3 otype=$4
    shift 4
    for s in "$@"; do
        out=$PREFIX/sanity/$w/$s
        mkdir -p "$out"
        while read -r name; do
            code=$(curl -s -o "$out/$name" -w '%{http_code}' \
                   "http://127.0.0.1:${PORT_OF[$s]}$path$name")
            [ "$code" = 200 ] || {
                say "bench image: $s $path$name answered $code"; exit 1; }
        done < "$dir/LIST"
        (cd "$out" && output_info $(cat "$dir/LIST")) > "$out.info"
        [ "$(wc -l < "$out.info")" -eq "$(wc -l < "$dir/LIST")" ] || {
            say "bench image: $s $path: not every output is an image"; exit 1; }
        # every source is larger than the box: the output fills it
        bad=$(awk -v t="$otype" -v b="$box" '
            $2 != t || ($3 > $4 ? $3 : $4) < b - 1 || $3 > b || $4 > b' \
            "$out.info")
        [ -z "$bad" ] || {
            say "bench image: $s $path: not $otype fitting ${box}x$box:" "$bad"
            exit 1
        }
    done

    # the first system is the reference for the others
    ref=$PREFIX/sanity/$w/$1.info
    for s in "$@"; do
        first=$(head -1 "$dir/LIST")
        src=$(awk -v n="$first" '$1 == n { print $2, $4 }' "$dir/MANIFEST")
        read -r _ type ow oh obytes < <(awk -v n="$first" '$1 == n' \
                                         "$PREFIX/sanity/$w/$s.info")
        q=
        [ "$type" != JPEG ] || q=" q$("$IDENTIFY" -format '%Q' \
                                        "$PREFIX/sanity/$w/$s/$first")"
        mean=$(awk '{ t += $5 } END { printf "%d", t / NR }' \
               "$PREFIX/sanity/$w/$s.info")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$s" "$first" \
            "${src% *}" "${src#* }" "$type$q" "${ow}x$oh" "$obytes" \
            "$(wc -l < "$dir/LIST")" "$mean" >> "$PREFIX/sanity.tsv"
        say "sanity $w $s: $first ${src% *} ${src#* } B -> $type$q" \
            "${ow}x$oh $obytes B (all $(wc -l < "$dir/LIST") files 200;" \
            "mean output $mean B)"
        bad=$(LC_ALL=C join <(LC_ALL=C sort "$ref") \
                            <(LC_ALL=C sort "$PREFIX/sanity/$w/$s.info") | awk '
            function d(a, b) { return a > b ? a - b : b - a }
            $2 != $6 || d($3, $7) > 1 || d($4, $8) > 1 {
                print $1 ": " $2 " " $3 "x" $4 " vs " $6 " " $7 "x" $8 }')
        [ -z "$bad" ] || {
            say "bench image: $w: $s does not do what $1 does:" "$bad"
            exit 1
        }
    done
done


# --- the rounds -----------------------------------------------------------------

# run_one ROUND WORKLOAD SYSTEM: one measured run; appends to rounds.tsv
run_one() {
    local r=$1 w=$2 s=$3 path dir tag pids quiet=1 failures
    local c0 c1 b0 b1 t0 t1 h0 hog pn pfail sp50 sp99 spmax req rps p50 p99
    set -- $(workload "$w")
    path=$1 dir=$2
    tag=$PREFIX/runs/$w-$s-$r
    pids=${PIDS[$s]}

    [ "$(server_pids "$s")" = "$pids" ] || {
        say "bench image: the processes of $s changed (a crash?)"; exit 1; }
    # the cut-off requests of the previous run finish first, on every server
    wait_quiet 60 $ALL_PIDS || quiet=0

    if [ "$w" = big-hog ]; then
        start_hog $((DUR + 20))
        sleep 0.5
    fi

    read -r b0 t0 < <(box_ticks)
    c0=$(cpu_ticks $pids)
    [ -z "$HOG_PID" ] || h0=$(cpu_ticks "$HOG_PID")
    wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 30s --latency \
        -s "$BENCH/rotate.lua" "http://127.0.0.1:${PORT_OF[$s]}$path" \
        -- "$dir/LIST" > "$tag.wrk" &
    WRK_PID=$!
    sleep 1
    $PROBE_PRIO perl "$BENCH/probe.pl" "${PORT_OF[$s]}" /1k.txt \
        "$PROBE_PERIOD_MS" $((DUR - 2)) > "$tag.probe"
    wait "$WRK_PID" || {
        say "bench image: wrk failed"; cat "$tag.wrk" >&2; exit 1; }
    WRK_PID=
    c1=$(cpu_ticks $pids)
    read -r b1 t1 < <(box_ticks)
    hog=
    if [ -n "$HOG_PID" ]; then
        # the hog's share of one CPU during the round
        hog=$(cpu_ticks "$HOG_PID" | awk -v h0="$h0" -v t=$((t1 - t0)) \
              -v n="$(nproc)" '{ printf "%.0f", ($1 - h0) * 100 * n / t }')
    fi
    stop_hog

    failures=$(wrk_failures "$tag.wrk" | paste -sd';')
    read -r _ pn _ pfail _ sp50 _ sp99 _ spmax < "$tag.probe"
    [ "$pfail" = 0 ] \
        || failures+="${failures:+; }static probe: $pfail of $pn failed"
    if [ -n "$failures" ]; then
        say "bench image: round $r $w $s: requests failed: $failures"
        cat "$tag.wrk" >&2
        exit 1
    fi

    req=$(awk '$1 == "requests" { print $2 }' "$tag.wrk")
    rps=$(awk '/^Requests\/sec/ { print $2 }' "$tag.wrk")
    p50=$(wrk_ms "$tag.wrk" 50%)
    p99=$(wrk_ms "$tag.wrk" 99%)
    # CPU ms per image; the server's share of the machine's CPU time, and
    # "others": the share used meanwhile by everything else (wrk, the
    # probe, the hog, other people's work)
    read -r cpu share others < <(awk -v c=$((c1 - c0)) -v n="$req" \
        -v hz="$CLK_TCK" -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN {
            printf "%.2f %.1f %.1f\n", c * 1000 / hz / n, c * 100 / t,
                   (b - c) * 100 / t }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$r" "$w" "$s" "$rps" "$req" "$p50" "$p99" "$cpu" \
        $(((c1 - c0) * 1000 / CLK_TCK)) "$share" "$pn" "$sp50" "$sp99" \
        "$spmax" "$others" "${hog:-nan}" "$quiet" >> "$PREFIX/rounds.tsv"
    say "$(printf 'round %d/%d %-7s %-12s %7.1f req/s  p50 %7s  p99 %7s ms  CPU %7s ms/image  static p99 %8s ms  CPU: server %4s%% others %4s%%%s' \
        "$r" "$ROUNDS" "$w" "$s" "$rps" "$p50" "$p99" "$cpu" "$sp99" \
        "$share" "$others" "${hog:+  hog $hog% of a CPU}$([ "$quiet" = 1 ] \
                           || echo ' (servers not quiet before)')")"
}

# calibrate: CPU ms per image of libjpeg-turbo's djpeg -scale 1/4 over the
# thumbnail corpus (the decode at the DCT scale that tunny and sharp both
# use for 256x256, Huffman decoding included): how fast the machine is
# right now, to compare runs made at different times
calibrate() {
    local dir=$BUILD/bench-corpus t TIMEFORMAT='%3U %3S'
    t=$( { time (while read -r f; do
                     djpeg -scale 1/4 -outfile /dev/null "$dir/$f"
                 done < "$dir/LIST"); } 2>&1 )
    awk -v n="$(wc -l < "$dir/LIST")" '{ printf "%.1f", ($1 + $2) * 1000 / n }' \
        <<< "$t"
}

printf 'round\tworkload\tsystem\trps\trequests\tp50_ms\tp99_ms\tcpu_ms_per_image\tcpu_ms\tserver_cpu_pct\tstatic_n\tstatic_p50_ms\tstatic_p99_ms\tstatic_max_ms\tothers_pct\thog_cpu_pct\tquiet_before\n' \
    > "$PREFIX/rounds.tsv"

say "bench image: $ROUNDS rounds of [$WORKLOADS], ${DUR}s per system," \
    "wrk -c$CONNS; tunny, per worker: ${tunny_pool:-?};" \
    "sharp: $sharp_info"
calib_before=$(calibrate)
say "bench image: calibration: djpeg -scale 1/4 $calib_before CPU ms/image"
# the floor: the same probe for BENCH_FLOOR_SECONDS (5) on tunny's server
# with no load at all, what this machine gives the static file when
# nothing else runs (an idle vCPU is slower to wake than a busy one)
$PROBE_PRIO perl "$BENCH/probe.pl" "${PORT_OF[tunny]}" /1k.txt \
    "$PROBE_PERIOD_MS" "${BENCH_FLOOR_SECONDS:-5}" > "$PREFIX/floor.probe"
say "bench image: floor, the probe alone on an idle tunny:" \
    "$(cat "$PREFIX/floor.probe")"
proc_cpu "$PREFIX/proc.before"
started=$(date +%s)
read -r box_busy0 box_total0 < <(box_ticks)

for r in $(seq 1 "$ROUNDS"); do
    for w in $WORKLOADS; do
        set -- $(workload "$w")
        shift 4
        systems=("$@")
        for i in $(seq 0 $((${#systems[@]} - 1))); do
            run_one "$r" "$w" \
                "${systems[$(((i + r - 1) % ${#systems[@]}))]}"
        done
    done
done

read -r box_busy1 box_total1 < <(box_ticks)
proc_cpu "$PREFIX/proc.after"
calib_after=$(calibrate)
elapsed=$(($(date +%s) - started))

# what else ran: the processes that used most CPU during the rounds,
# outside this script and its servers (their reaped children included)
proc_others "$PREFIX/proc.before" "$PREFIX/proc.after" "$$ $ALL_PIDS" \
    > "$PREFIX/others.txt"

{
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'commit\t%s\n' "$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo ?)"
    printf 'cpus\t%s\n' "$(nproc)"
    printf 'workers\t%s\n' "$WORKERS"
    printf 'rounds\t%s\n' "$ROUNDS"
    printf 'duration_s\t%s\n' "$DUR"
    printf 'connections\t%s\n' "$CONNS"
    printf 'workloads\t%s\n' "$WORKLOADS"
    printf 'elapsed_s\t%s\n' "$elapsed"
    printf 'clk_tck\t%s\n' "$CLK_TCK"
    printf 'nginx\t%s\n' "$("$NGINX_BIN" -v 2>&1 | sed 's/.*: //')"
    printf 'wrk\t%s\n' "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
    printf 'tunny_pool\t%s\n' "${tunny_pool:-?}"
    printf 'tunny_extra\t%s\n' "$(printf '%s' "$TUNNY_EXTRA" | tr '\n\t' '  ')"
    printf 'sharp\t%s\n' "$sharp_info"
    printf 'sched\t%s\n' "${sched%; }"
    printf 'probe\t%s\n' "$PROBE_MODE"
    printf 'probe_floor\t%s\n' "$(cat "$PREFIX/floor.probe")"
    printf 'box_busy_pct\t%s\n' "$(awk -v b=$((box_busy1 - box_busy0)) \
        -v t=$((box_total1 - box_total0)) 'BEGIN { printf "%.1f", b * 100 / t }')"
    printf 'djpeg_ms_before\t%s\n' "$calib_before"
    printf 'djpeg_ms_after\t%s\n' "$calib_after"
    printf 'loadavg_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$PREFIX/meta.tsv"

perl "$BENCH/image-report.pl" "$PREFIX" "$BUILD" "$JSON"
