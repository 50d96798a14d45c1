#!/usr/bin/env bash
# ./ngx_tunny_module soak --reload
#
# Reload under load: one nginx (2 workers) serves, all at once,
#   images    wrk -c16, t/bench/mix.lua "images": thumbnails, WebP output,
#             size, uploads -- valid images only, so every answer is a 200
#   bursts    wrk -c32 on a 1-thread pool with max_queue=2: 200 or 503
#   deadlines wrk -c4, a 100 ms job under tunny_timeout 30ms: 504 (or 503;
#             or 200 when the worker was late to look: a job that is done
#             when its deadline is seen is answered)
# while "nginx -s reload" is sent RELOAD_COUNT (10) times, a second apart;
# the load starts 2 s before the first reload and is stopped 2 s after the
# last one, however long the reloads take on a busy machine.  Then, with
# four 500 ms jobs in flight (seen in tunny_status), "nginx -s quit".
# Every client
# uses "Connection: close": an HTTP keep-alive connection that the old
# worker closes while a request is on its way is a client-side race of
# HTTP/1.1 itself, not something the server can answer.
#
# Fails on: any socket error seen by wrk (connect, read, write, timeout),
# any status but 200 (images), 200/503 (bursts), 200/503/504 (deadlines), an
# in-flight job not answered 200 at the graceful quit, old workers still
# alive 30 s after the load, nginx not gone 30 s after quit, "exited on
# signal", [alert] or [crit] in the error log.  Every wait is for a
# condition, with a bound far above what it takes on an idle machine.

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module soak --reload}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
: "${TOP:?}"
: "${FIXTURES:?}"
PORT=${RELOAD_PORT:-18096}
COUNT=${RELOAD_COUNT:-10}
PREFIX=$BUILD/reload
BENCH=$TOP/t/bench

rm -rf "$PREFIX"
mkdir -p "$PREFIX/logs" "$PREFIX/conf" "$PREFIX/out"

cat > "$PREFIX/conf/nginx.conf" <<CONF
load_module $MODULE;
worker_processes 2;
error_log logs/error.log notice;
pid logs/nginx.pid;
env LD_PRELOAD;
env ASAN_OPTIONS;
env UBSAN_OPTIONS;

tunny_pool img threads=2 max_queue=64;
tunny_pool small threads=1 max_queue=2;
tunny_pool slow threads=1 max_queue=16;

events {
    worker_connections 4096;
}

http {
    log_format reload '\$status \$tunny_outcome \$uri';
    access_log logs/access.log reload;

    tunny_offload img;
    tunny_timeout 10s;
    client_max_body_size 5m;

    server {
        listen 127.0.0.1:$PORT backlog=4096;

        location /img/ {
            alias $FIXTURES/;
            tunny_image resize 200 200;
        }
        location /webp/ {
            alias $FIXTURES/;
            tunny_image resize 300 300;
            tunny_image_format webp;
        }
        location /size/ {
            alias $FIXTURES/;
            tunny_image size;
        }
        location = /upload {
            tunny_image crop 128 128;
            tunny_image_upload;
        }
        location = /burst {
            tunny_offload small;
            tunny_burn 2ms;
        }
        location = /deadline {
            tunny_offload slow;
            tunny_timeout 30ms;
            tunny_burn 100ms;
        }
        location = /slow {
            tunny_offload slow;
            tunny_burn 500ms;
        }
        location = /status {
            tunny_status;
        }
    }
}
CONF

NGINX=("$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf)
"${NGINX[@]}" -t -q
"${NGINX[@]}"
trap '"${NGINX[@]}" -s stop 2>/dev/null || true' EXIT

master=
for _ in $(seq 100); do
    master=$(cat "$PREFIX/logs/nginx.pid" 2>/dev/null || true)
    [ -n "$master" ] && break
    sleep 0.1
done
[ -n "$master" ] || { echo "reload: nginx did not start" >&2; exit 1; }

children() {
    local stat pid rest ppid
    for stat in /proc/[0-9]*/stat; do
        read -r pid rest 2>/dev/null < "$stat" || continue
        rest=${rest##*) }
        ppid=$(echo "$rest" | cut -d' ' -f2)
        [ "$ppid" != "$master" ] || echo "$pid"
    done
}

# wait (at most 30 s) until the command succeeds
wait_until() {
    local i
    for i in $(seq 300); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# sum of a gauge of tunny_status over the workers
gauge() {
    curl -s --max-time 5 "http://127.0.0.1:$PORT/status" \
        | awk -v m="$1" '$1 == m { n += $2 } END { print n + 0 }'
}

two_workers() { [ "$(children | wc -l)" -eq 2 ]; }
wait_until two_workers || { echo "reload: the workers did not start" >&2; exit 1; }

# the load runs until it is stopped (SIGINT: wrk then prints its results),
# 2 s after the last reload; the duration only bounds a run that would hang
DUR=$((COUNT * 10 + 60))
FAIL=0
echo "== reload: nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*\///'), 2 workers, $COUNT reloads under load, port $PORT"

close=(-H "Connection: close")
wrk -t1 -c16 -d"${DUR}s" --timeout 10s "${close[@]}" -s "$BENCH/mix.lua" \
    "http://127.0.0.1:$PORT/" -- images "" "$FIXTURES/quad-land.jpg" \
    > "$PREFIX/out/images.txt" 2>&1 &
w1=$!
wrk -t1 -c32 -d"${DUR}s" --timeout 10s "${close[@]}" -s "$BENCH/mix.lua" \
    "http://127.0.0.1:$PORT/burst" -- path > "$PREFIX/out/burst.txt" 2>&1 &
w2=$!
wrk -t1 -c4 -d"${DUR}s" --timeout 10s "${close[@]}" -s "$BENCH/mix.lua" \
    "http://127.0.0.1:$PORT/deadline" -- path \
    > "$PREFIX/out/deadline.txt" 2>&1 &
w3=$!

sleep 2
start=$SECONDS
for i in $(seq "$COUNT"); do
    "${NGINX[@]}" -s reload 2>>"$PREFIX/logs/signal.log"
    sleep 1
done
sleep 2
kill -INT $w1 $w2 $w3 2>/dev/null || true
wait $w1 $w2 $w3 || true
echo "  $COUNT reloads in $((SECONDS - start)) s, under load from 2 s before to 2 s after"

echo "== load"
for f in images burst deadline; do
    printf "  %-9s %s\n" "$f" "$(awk '
        /^status / { st = st " " $2 ":" $3 }
        /^requests / { req = $2 }
        /^errors / { err = $0 }
        END { printf "requests %d |%s | %s", req, st, err }' \
        "$PREFIX/out/$f.txt")"
done

check() {
    local f=$1 allowed=$2 bad
    bad=$(awk -v ok=" $allowed " '
        /^status / && index(ok, " " $2 " ") == 0 { printf " %s:%d", $2, $3 }
        ' "$PREFIX/out/$f.txt")
    if [ -n "$bad" ]; then
        echo "FAIL: $f: unexpected statuses$bad (allowed: $allowed)"
        FAIL=1
    fi
}
check images "200"
check burst "200 503"
check deadline "200 503 504"

sockerr=$(cat "$PREFIX"/out/*.txt \
          | awk '/^errors / { n += $3 + $5 + $7 + $11 } END { print n + 0 }')
echo "  socket errors (connect+read+write+timeout): $sockerr"
[ "$sockerr" -eq 0 ] || { echo "FAIL: wrk saw $sockerr socket errors"; FAIL=1; }
reloads=$(grep -c 'signal 1 (SIGHUP) received' "$PREFIX/logs/error.log" || true)
echo "  reloads done: $reloads"
[ "$reloads" -eq "$COUNT" ] || { echo "FAIL: $reloads reloads, not $COUNT"; FAIL=1; }

# old workers finish their jobs and go
t0=$SECONDS
old_gone() { [ "$(children | wc -l)" -le 2 ]; }
if wait_until old_gone; then
    echo "  old workers gone $((SECONDS - t0)) s after the load"
else
    echo "FAIL: $(children | wc -l) worker processes 30 s after the load, old ones still alive"
    FAIL=1
fi

# graceful quit with jobs in flight: they are answered
echo "== quit with 4 jobs of 500 ms in flight"
for i in 1 2 3 4; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
        "http://127.0.0.1:$PORT/slow" > "$PREFIX/out/slow.$i" &
done
# all four running or waiting in the slow pools of the two workers
in_flight() {
    [ $(( $(gauge 'tunny_pool_busy_threads{pool="slow"}') \
          + $(gauge 'tunny_pool_queue_length{pool="slow"}') )) -eq 4 ]
}
wait_until in_flight || { echo "FAIL: the 4 jobs were not seen in flight"; FAIL=1; }
"${NGINX[@]}" -s quit 2>>"$PREFIX/logs/signal.log"
wait
codes=$(cat "$PREFIX"/out/slow.* | sort | uniq -c | tr -s ' ' | tr '\n' ',')
echo "  in-flight answers: $codes"
[ "$(grep -c '^200$' "$PREFIX"/out/slow.*| awk -F: '{ n += $2 } END { print n }')" -eq 4 ] \
    || { echo "FAIL: in-flight jobs not all answered 200"; FAIL=1; }
master_gone() { ! kill -0 "$master" 2>/dev/null; }
wait_until master_gone || { echo "FAIL: nginx still running 30 s after quit"; FAIL=1; }
trap - EXIT

if grep -E 'exited on signal|\[alert\]|\[crit\]|runtime error|ERROR: AddressSanitizer' \
    "$PREFIX/logs/error.log" | head -20 | sed 's/^/  /' | grep .
then
    echo "FAIL: the error log has crashes, [alert] or [crit] lines"
    FAIL=1
fi

echo
if [ $FAIL = 0 ]; then
    echo "reload: PASS"
else
    echo "reload: FAIL (logs in $PREFIX)"
    exit 1
fi
