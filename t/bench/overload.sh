#!/usr/bin/env bash
# ./ngx_tunny_module bench overload
#
# Admission under overload, on the big-photo workload (the >= 8 MP JPEG
# wallpapers of Debian packages, t/bench/image-corpus.sh) -> fit 1024 q80,
# one nginx with the module, worker_processes = CPUs:
#   1. capacity: wrk, closed loop, -c4, the 200s per second (a refusal is
#      not capacity; BENCH_OVERLOAD_CAPACITY overrides);
#   2. solo: an open loop at half the capacity, for one job's latency;
#   3. overload: an open loop (t/bench/openloop.c) at 4x the capacity for
#      20 s with tunny_max_wait 1s and max_memory=256M: admitted p99
#      against 1 s + one job's p99, refusals' p99 against 5 ms, the peak
#      RSS of the workers against budget + baseline, no 5xx but 503;
#   4. tenants: tunny_fair_key $arg_t; tenant b alone at a modest rate,
#      then b beside tenant a flooding at 10x its share (half the
#      capacity): b's p99 against 2x its solo p99.
# The load is open-loop (requests start on a clock, whatever the answers):
# a closed loop would slow down with the server and never overload it.
# Figures are reported, not asserted (the machine is shared); a request
# that fails otherwise than with 503 makes the bench fail.  JSON:
# build/bench-overload.json.

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module bench overload}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
: "${TOP:?}"
PORT=${BENCH_PORT:-18120}
SECS=${BENCH_OVERLOAD_SECONDS:-20}
PREFIX=$BUILD/bench-overload
BENCH=$TOP/t/bench

say() { printf '%s\n' "$*" >&2; }

# ImageMagick's own binary (/usr/local/bin/convert may be a stand-in)
find_convert() {
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
command -v bc > /dev/null || need+=(bc)
command -v wrk > /dev/null || need+=(wrk)
command -v python3 > /dev/null || need+=(python3)
for p in ukui-wallpapers lomiri-wallpapers lomiri-wallpapers-16.04 \
         lomiri-wallpapers-20.04; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
        | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    say "bench overload: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${need[@]}" >&2
fi
find_convert || { say "bench overload: no ImageMagick convert"; exit 1; }

"$BENCH/image-corpus.sh" "$BUILD" "$CONVERT" 8
PHOTOS=$BUILD/bench-photos
[ -s "$PHOTOS/LIST" ] || { say "bench overload: no big photos"; exit 1; }
mapfile -t FILES < "$PHOTOS/LIST"

rm -rf "$PREFIX"
mkdir -p "$PREFIX/logs" "$PREFIX/conf"
cc -O2 -Wall -Wextra -Werror -o "$PREFIX/openloop" "$BENCH/openloop.c"
W=$(nproc)

cat > "$PREFIX/conf/nginx.conf" <<CONF
load_module $MODULE;
worker_processes $W;
error_log logs/error.log notice;
pid logs/nginx.pid;
tunny_pool img max_memory=256M;
events { worker_connections 4096; }
http {
    log_format bench '\$msec \$uri t=\$arg_t \$status rt=\$request_time '
                     'q=\$tunny_queue_time run=\$tunny_run_time '
                     '\$tunny_reject_reason';
    access_log logs/access.log bench;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        tunny_offload img;
        tunny_timeout 60s;
        tunny_max_wait 1s;
        tunny_image resize 1024 1024;
        tunny_image_jpeg_quality 80;
        location /big/ {
            alias $PHOTOS/;
        }
        location /fair/ {
            alias $PHOTOS/;
            tunny_fair_key \$arg_t;
        }
        location = /metrics {
            tunny_image off;
            tunny_status;
        }
    }
}
CONF

"$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf
trap '"$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf -s stop 2>/dev/null || true' EXIT
sleep 1
MASTER=$(cat "$PREFIX/logs/nginx.pid")
WORKERS=$(pgrep -P "$MASTER" | paste -sd,)

urls() {  # PREFIX_PATH [QUERY]
    local f
    for f in "${FILES[@]}"; do
        printf '%s\n' "$1$f${2:+?$2}"
    done
}

load() {  # TAG RATE SECONDS URL... : one JSON line
    "$PREFIX/openloop" "$PORT" "$2" "$3" "${@:4}" --tag "$1" \
        --rss "$WORKERS"
}

# the estimates of the location learn from a few jobs first
for f in "${FILES[@]:0:4}"; do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/big/$f"
    curl -s -o /dev/null "http://127.0.0.1:$PORT/fair/$f?t=b"
done

BASE_RSS=$(python3 -c "
import sys
t = 0
for p in sys.argv[1].split(','):
    for l in open(f'/proc/{p}/status'):
        if l.startswith('VmRSS:'):
            t += int(l.split()[1])
print(t)" "$WORKERS")

if [ -n "${BENCH_OVERLOAD_CAPACITY:-}" ]; then
    CAP=$BENCH_OVERLOAD_CAPACITY
else
    # answers per second that were images: a refusal is not capacity
    CAP=$(wrk -t2 -c4 -d8s --timeout 60s -s "$BENCH/rotate.lua" \
              "http://127.0.0.1:$PORT/big/" -- "$PHOTOS/LIST" \
          | awk '$1 == "status" && $2 == 200 { ok = $3 }
                 END { printf "%.2f", ok / 8 }')
fi
say "bench overload: capacity $CAP req/s (closed loop, -c4)"

mapfile -t BIG < <(urls /big/)
SOLO=$(load solo "$(echo "$CAP / 2" | bc -l)" "$SECS" "${BIG[@]}")
OVER=$(load overload "$(echo "$CAP * 4" | bc -l)" "$SECS" "${BIG[@]}")

mapfile -t FA < <(urls /fair/ t=a)
mapfile -t FB < <(urls /fair/ t=b)
B_RATE=$(echo "r = $CAP / 10; if (r < 0.5) r = 0.5; r" | bc -l)
B_SOLO=$(load b-solo "$B_RATE" "$SECS" "${FB[@]}")
load a-flood "$(echo "$CAP * 5" | bc -l)" "$SECS" "${FA[@]}" \
    > "$PREFIX/a.json" &
A_PID=$!
B_SHARED=$(load b-beside-a "$B_RATE" "$SECS" "${FB[@]}")
wait "$A_PID"
A_FLOOD=$(cat "$PREFIX/a.json")

METRICS=$(curl -s "http://127.0.0.1:$PORT/metrics" \
          | grep -E '^tunny_(rejections_total|jobs_total)' || true)

printf '{"capacity":%s,"base_rss_kb":%s,"runs":[%s,%s,%s,%s,%s]}\n' \
    "$CAP" "$BASE_RSS" "$SOLO" "$OVER" "$B_SOLO" "$A_FLOOD" "$B_SHARED" \
    > "$BUILD/bench-overload.json"

python3 - "$BUILD/bench-overload.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
runs = {r["tag"]: r for r in d["runs"]}
print("| run | offered/s | sent | 200 | 503 | other | admitted p50 / p99 ms"
      " | refused p99 ms | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|")
bad = 0
for t in ("solo", "overload", "b-solo", "a-flood", "b-beside-a"):
    r = runs[t]
    st = r["statuses"]
    other = sum(v for k, v in st.items() if k not in ("200", "503"))
    bad += other
    print(f"| {t} | {r['offered_per_s']:.1f} | {r['sent']} | {st.get('200', 0)}"
          f" | {st.get('503', 0)} | {other} | {r['admitted']['p50_ms']} / "
          f"{r['admitted']['p99_ms']} | {r['refused']['p99_ms']} | "
          f"{r['peak_rss_kb'] / 1024:.0f} |")
job = runs["solo"]["admitted"]["p99_ms"] or 0
over = runs["overload"]
print()
print(f"capacity {d['capacity']} req/s; one job's p99 (solo) {job} ms")
print(f"admitted p99 under 4x overload: {over['admitted']['p99_ms']} ms "
      f"(target <= 1000 + {job})")
print(f"refusals p99: {over['refused']['p99_ms']} ms (target < 5)")
print(f"workers' peak RSS {over['peak_rss_kb'] / 1024:.0f} MB, baseline "
      f"{d['base_rss_kb'] / 1024:.0f} MB (budget 256 MB per worker)")
bs, bb = runs["b-solo"]["admitted"]["p99_ms"], runs["b-beside-a"]["admitted"]["p99_ms"]
print(f"tenant b p99: solo {bs} ms, beside a flood {bb} ms "
      f"(target <= 2x: {bb / bs:.2f}x)" if bs and bb else "tenant b: no data")
sys.exit(1 if bad else 0)
PY
printf '%s\n' "$METRICS"
