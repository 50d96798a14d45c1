#!/usr/bin/env bash
# ./ngx_tunny_module bench engine
#
# One nginx (one worker) with our module, measured in one run:
#  1. per-job overhead: req/s of "tunny_burn 0" (a job round trip through
#     the pool and the eventfd) against "return 200" on the same server;
#  2. event loop freedom: latency percentiles of a 1 KiB static file while
#     every pool thread is saturated by 20 ms burn jobs, against the same
#     file on the idle server;
#  3. the machine's floor for that figure: the same file while no job runs
#     but one busy loop outside nginx holds a CPU at the pool threads'
#     priority (nice 19, SCHED_BATCH), then at the lowest one (SCHED_IDLE).
#     Started from this script, the loop is in nginx's session, so in its
#     autogroup, as the pool threads are.  When 3 is as slow as 2, what
#     the static file waits for is the busy CPU, not the pool.
# wrk shares the 2 cores with nginx: read the ratios, not the absolutes.

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module bench engine}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
PORT=${BENCH_PORT:-18090}
DUR=${BENCH_DURATION:-5}
PREFIX=$BUILD/bench-engine
. "$(dirname "$0")/lib.sh"

cleanup() {
    stop_hog
    burn_nginx_stop "$PREFIX"
}
burn_nginx "$PREFIX" "$PORT" 1 \
    'location = /return { return 200 "ok\n"; }
        location = /burn0 { tunny_offload burn; tunny_burn 0; }'
trap cleanup EXIT
sleep 0.3

rps() {  # URL CONNECTIONS -> requests/s
    wrk -t1 -c"$2" -d"${DUR}s" "$1" | awk '/^Requests\/sec/ {print $2}'
}

pct() {  # wrk --latency output, percentile -> milliseconds
    awk -v p="$2" '
        $1 == p {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            if (u == "us") v /= 1000; else if (u == "s") v *= 1000
            printf "%.3f", v
        }' "$1"
}

echo "== per-job overhead (1 worker, 1 pool thread, wrk -c32, ${DUR}s each)"
r_return=$(rps "http://127.0.0.1:$PORT/return" 32)
r_burn=$(rps "http://127.0.0.1:$PORT/burn0" 32)
awk -v a="$r_return" -v b="$r_burn" 'BEGIN {
    printf "return 200      %10.0f req/s\n", a
    printf "tunny_burn 0    %10.0f req/s   (%.2fx of return 200)\n", b, b / a
    printf "per-job overhead %9.1f us  (1/burn0 - 1/return; target <= 30)\n",
           (1 / b - 1 / a) * 1e6
}'

echo
echo "== 1 KiB static file latency, idle vs pool saturated (wrk -c1 --latency)"
wrk -t1 -c1 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/1k.txt" \
    > "$PREFIX/idle.txt"
wrk -t1 -c16 -d"$((DUR + 2))s" "http://127.0.0.1:$PORT/burn20" \
    > "$PREFIX/burn.txt" &
load=$!
sleep 1
wrk -t1 -c1 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/1k.txt" \
    > "$PREFIX/busy.txt"
wait $load
printf "idle       p50 %8s ms   p99 %8s ms\n" \
    "$(pct "$PREFIX/idle.txt" 50%)" "$(pct "$PREFIX/idle.txt" 99%)"
printf "saturated  p50 %8s ms   p99 %8s ms   (target p99 <= 2 ms)\n" \
    "$(pct "$PREFIX/busy.txt" 50%)" "$(pct "$PREFIX/busy.txt" 99%)"
printf "burn jobs completed meanwhile: %s req/s (1 thread x 20 ms = 50 max)\n" \
    "$(awk '/^Requests\/sec/ {print $2}' "$PREFIX/burn.txt")"

# beside_hog POLICY FILE: the static file's latency while a nice-19 busy
# loop runs under "chrt POLICY"
beside_hog() {
    start_hog $((DUR + 10)) 19 "$1"
    sleep 1
    wrk -t1 -c1 -d"${DUR}s" --latency "http://127.0.0.1:$PORT/1k.txt" > "$2"
    stop_hog
}

echo
echo "== the machine's floor: the same file, no job, one busy loop outside nginx"
beside_hog "-b 0" "$PREFIX/hog-batch.txt"
beside_hog "-i 0" "$PREFIX/hog-idle.txt"
printf "nice 19 SCHED_BATCH loop  p50 %8s ms   p99 %8s ms\n" \
    "$(pct "$PREFIX/hog-batch.txt" 50%)" "$(pct "$PREFIX/hog-batch.txt" 99%)"
printf "SCHED_IDLE loop           p50 %8s ms   p99 %8s ms\n" \
    "$(pct "$PREFIX/hog-idle.txt" 50%)" "$(pct "$PREFIX/hog-idle.txt" 99%)"
