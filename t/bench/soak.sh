#!/usr/bin/env bash
# ./ngx_tunny_module soak [--asan]
#
# Bounded load on loopback against one nginx (2 workers), all at once:
#   mix       wrk -c16, t/bench/mix.lua: thumbnails of JPEG/WebP (EXIF,
#             ICC, grey, CMYK, progressive), WebP output, size, uploads
#             (POST, tunny_image_upload) and the hostile corpus (415s)
#   bursts    wrk -c64 for 2 s, pause 1 s, on a 1-thread pool with
#             max_queue=2: mostly 503
#   deadlines wrk -c4 on a big resize with tunny_timeout 30ms: 504, the
#             running job cancelled
#   aborts    t/bench/abort.pl: 8 clients at a time ask for slow jobs and
#             close (FIN or RST) after 1..40 ms: 499, jobs cancelled
# First SOAK_WARMUP seconds (default 20) of that, then SOAK_DURATION
# (default 60).  Every second the VmRSS and open fd count of each worker is
# sampled (/proc/PID/status, /proc/PID/fd).  The idle values after the
# warm-up are compared with the idle values at the end; "idle" is waited
# for (no job in any pool, no client connection but the probe's), not
# assumed after a pause, so a slow machine does not count a connection
# still open as an fd leak.
#
# Fails when: a worker's RSS grew by more than SOAK_RSS_LIMIT_KB (default
# 10240 = 10 MiB; not checked with --asan, whose quarantine holds freed
# memory), a worker's fd count grew, a worker was replaced (crash), fewer
# than SOAK_MIN_REQUESTS (default 100000) requests were made, a status
# other than the expected ones came back (any 5xx but the deliberate
# 503/504), wrk saw socket errors, or the error log has "exited on
# signal", [alert] or [crit] (or, with --asan, a sanitizer report).

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module soak}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
: "${TOP:?}"
: "${FIXTURES:?}"
PORT=${SOAK_PORT:-18095}
WARMUP=${SOAK_WARMUP:-20}
DUR=${SOAK_DURATION:-60}
MIN_REQ=${SOAK_MIN_REQUESTS:-100000}
RSS_LIMIT_KB=${SOAK_RSS_LIMIT_KB:-10240}
WORKERS=${SOAK_WORKERS:-2}
# mix and deadline clients keep their connections alive (SOAK_KEEPALIVE=0:
# "Connection: close" on every request); an error page that ends a
# connection must say so, or wrk counts a read error
KEEPALIVE=${SOAK_KEEPALIVE:-1}
ASAN=${SOAK_ASAN:-0}
PREFIX=$BUILD/soak
BENCH=$TOP/t/bench

rm -rf "$PREFIX"
mkdir -p "$PREFIX/logs" "$PREFIX/conf" "$PREFIX/out"

cat > "$PREFIX/conf/nginx.conf" <<CONF
load_module $MODULE;
worker_processes $WORKERS;
worker_rlimit_nofile 8192;
error_log logs/error.log notice;
pid logs/nginx.pid;
env LD_PRELOAD;

tunny_pool img threads=2 max_queue=64;
tunny_pool small threads=1 max_queue=2;
tunny_pool slow threads=1 max_queue=16;

events {
    worker_connections 4096;
}

http {
    log_format soak '\$status \$tunny_outcome \$uri';
    access_log logs/access.log soak buffer=256k flush=1s;

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
        location /hostile/ {
            root $FIXTURES;
            tunny_image resize 100 100;
        }
        location = /upload {
            tunny_image crop 128 128;
            tunny_image_upload;
        }
        location = /burst {
            tunny_offload small;
            tunny_burn 2ms;
        }
        location /deadline/ {
            alias $FIXTURES/;
            tunny_offload slow;
            tunny_timeout 30ms;
            tunny_image resize 2000 1500;
        }
        location /abort/ {
            alias $FIXTURES/;
            tunny_offload slow;
            tunny_image resize 1500 1000;
        }
        location = /abort-burn {
            tunny_offload slow;
            tunny_burn 200ms;
        }
        location = /status {
            tunny_status;
        }
        location = /nginx_status {
            stub_status;
        }
    }
}
CONF

NGINX=("$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf)
"${NGINX[@]}" -t -q
"${NGINX[@]}"
cleanup() {
    "${NGINX[@]}" -s stop 2>/dev/null || true
    [ -z "${SAMPLER:-}" ] || kill "$SAMPLER" 2>/dev/null || true
}
trap cleanup EXIT

master=
for _ in $(seq 100); do
    master=$(cat "$PREFIX/logs/nginx.pid" 2>/dev/null || true)
    [ -n "$master" ] && break
    sleep 0.1
done
[ -n "$master" ] || { echo "soak: nginx did not start" >&2; exit 1; }

workers() {
    local stat pid ppid rest
    for stat in /proc/[0-9]*/stat; do
        read -r pid rest 2>/dev/null < "$stat" || continue
        # "PID (comm) STATE PPID ...": comm may contain spaces
        rest=${rest##*) }
        ppid=$(echo "$rest" | cut -d' ' -f2)
        [ "$ppid" != "$master" ] || echo "$pid"
    done | sort -n
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

all_workers() { [ "$(workers | wc -l)" -eq "$WORKERS" ]; }
wait_until all_workers || { echo "soak: the workers did not start" >&2; exit 1; }

# nothing in flight: no job queued or running in any pool, and no client
# connection but the one asking ("Connection: close": nginx has closed it
# by the time curl is done, so the fd sample that follows does not see it)
idle() {
    local jobs conns
    jobs=$(curl -s --max-time 5 -H 'Connection: close' \
            "http://127.0.0.1:$PORT/status" \
        | awk '/^tunny_pool_(busy_threads|queue_length)\{/ { n += $2 }
               END { print n + 0 }')
    conns=$(curl -s --max-time 5 -H 'Connection: close' \
            "http://127.0.0.1:$PORT/nginx_status" \
        | awk '/^Active connections:/ { print $3 }')
    [ "$jobs" -eq 0 ] && [ "${conns:-0}" -eq 1 ]
}

# "PID RSS_KB FDS" for each worker
sample() {
    local pid rss fds
    for pid in $(workers); do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) \
            || continue
        fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
        echo "$pid ${rss:-0} $fds"
    done
}

# one load round of SECONDS, all generators in parallel; output into DIR
load() {
    local secs=$1 dir=$2 end pids=() close=()
    mkdir -p "$dir"
    [ "$KEEPALIVE" = 1 ] || close=(-H "Connection: close")

    wrk -t1 -c16 -d"${secs}s" --timeout 10s "${close[@]}" -s "$BENCH/mix.lua" \
        "http://127.0.0.1:$PORT/" -- mix "$FIXTURES/hostile" \
        "$FIXTURES/quad-land.jpg" > "$dir/mix.txt" 2>&1 &
    pids+=($!)

    wrk -t1 -c4 -d"${secs}s" --timeout 10s "${close[@]}" -s "$BENCH/mix.lua" \
        "http://127.0.0.1:$PORT/deadline/big.jpg" -- path \
        > "$dir/deadline.txt" 2>&1 &
    pids+=($!)

    perl "$BENCH/abort.pl" "$PORT" "$secs" 8 /abort/big.jpg /abort-burn \
        > "$dir/abort.txt" 2>&1 &
    pids+=($!)

    (
        i=0
        end=$((SECONDS + secs))
        while [ $SECONDS -lt $((end - 2)) ]; do
            wrk -t1 -c64 -d2s --timeout 10s -s "$BENCH/mix.lua" \
                "http://127.0.0.1:$PORT/burst" -- path \
                > "$dir/burst.$i.txt" 2>&1
            i=$((i + 1))
            sleep 1
        done
    ) &
    pids+=($!)

    wait "${pids[@]}"
}

# sum "status N COUNT" / "requests N" / "errors ..." over wrk outputs
tally() {
    cat "$@" | awk '
        /^status / { st[$2] += $3 }
        /^requests / { req += $2 }
        /^errors / { for (i = 2; i < NF; i += 2) err[$i] += $(i + 1) }
        END {
            printf "requests %d", req
            for (s in st) printf " %s:%d", s, st[s]
            printf " | errors"
            for (e in err) printf " %s:%d", e, err[e]
            printf "\n"
        }'
}

# fail unless every status of the output files is in the allowed list
check_statuses() {
    local what=$1 allowed=$2 bad
    shift 2
    bad=$(cat "$@" | awk -v ok=" $allowed " '
        /^status / && index(ok, " " $2 " ") == 0 { printf " %s:%d", $2, $3 }')
    if [ -n "$bad" ]; then
        echo "FAIL: $what: unexpected statuses$bad (allowed: $allowed)"
        FAIL=1
    fi
}

sampler() {
    local t=0
    while :; do
        sample | sed "s/^/$t /"
        t=$((t + 1))
        sleep 1
    done
}

FAIL=0
echo "== soak: nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*\///'), $WORKERS workers, port $PORT, warm-up ${WARMUP}s, run ${DUR}s"

sampler > "$PREFIX/samples.txt" &
SAMPLER=$!

load "$WARMUP" "$PREFIX/out/warmup"
wait_until idle || { echo "FAIL: not idle 30 s after the warm-up"; FAIL=1; }
sample > "$PREFIX/base.txt"
echo "after warm-up (idle):"
awk '{printf "  worker %s  rss %6.1f MiB  fds %d\n", $1, $2 / 1024, $3}' \
    "$PREFIX/base.txt"

start=$SECONDS
load "$DUR" "$PREFIX/out/run"
elapsed=$((SECONDS - start))
wait_until idle || { echo "FAIL: not idle 30 s after the run"; FAIL=1; }
sample > "$PREFIX/final.txt"
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=

echo
echo "== load (${elapsed}s)"
run=$PREFIX/out/run
printf "  mix       %s\n" "$(tally "$run/mix.txt")"
printf "  bursts    %s\n" "$(tally "$run"/burst.*.txt)"
printf "  deadlines %s\n" "$(tally "$run/deadline.txt")"
printf "  aborts    %s\n" "$(cat "$run/abort.txt" | tr '\n' ' ')"

total=$(cat "$PREFIX"/out/*/mix.txt "$PREFIX"/out/*/burst.*.txt \
            "$PREFIX"/out/*/deadline.txt \
        | awk '/^requests / { n += $2 } END { print n + 0 }')
aborted=$(cat "$PREFIX"/out/*/abort.txt \
          | awk '/^aborted / { n += $2 } END { print n + 0 }')
total=$((total + aborted))
echo "  total     $total requests (warm-up included), $aborted aborted"

for d in "$PREFIX"/out/*; do
    check_statuses "mix" "200 415" "$d/mix.txt"
    check_statuses "bursts" "200 503" "$d"/burst.*.txt
    # 200: the job was done when the late worker saw both (see reload.sh)
    check_statuses "deadlines" "200 503 504" "$d/deadline.txt"
done

n504=$(awk '/^status 504 / { n += $3 } END { print n + 0 }' \
       "$run/deadline.txt")
n503=$(cat "$run"/burst.*.txt | awk '/^status 503 / { n += $3 } END { print n + 0 }')
[ "$n504" -gt 0 ] || { echo "FAIL: no deadline hit (504)"; FAIL=1; }
[ "$n503" -gt 0 ] || { echo "FAIL: no burst rejected (503)"; FAIL=1; }

sockerr=$(cat "$PREFIX"/out/*/mix.txt "$PREFIX"/out/*/burst.*.txt \
              "$PREFIX"/out/*/deadline.txt \
          | awk '/^errors / { n += $3 + $5 + $7 + $11 } END { print n + 0 }')
if [ "$sockerr" -gt 0 ]; then
    echo "FAIL: wrk saw $sockerr socket errors (connect/read/write/timeout)"
    FAIL=1
fi

if [ "$total" -lt "$MIN_REQ" ]; then
    echo "FAIL: $total requests, fewer than $MIN_REQ (raise SOAK_DURATION)"
    FAIL=1
fi

echo
echo "== workers: RSS and fds, idle after warm-up -> idle at the end"
join <(sort "$PREFIX/base.txt") <(sort "$PREFIX/final.txt") \
    > "$PREFIX/growth.txt" || true
if [ "$(wc -l < "$PREFIX/growth.txt")" -ne "$(wc -l < "$PREFIX/base.txt")" ] \
   || [ "$(wc -l < "$PREFIX/final.txt")" -ne "$(wc -l < "$PREFIX/base.txt")" ]
then
    echo "FAIL: the worker processes changed (crash?):" \
         "$(cut -d' ' -f1 "$PREFIX/base.txt" | tr '\n' ' ')->" \
         "$(cut -d' ' -f1 "$PREFIX/final.txt" | tr '\n' ' ')"
    FAIL=1
fi
while read -r pid rss0 fd0 rss1 fd1; do
    max=$(awk -v p="$pid" '$2 == p && $3 > m { m = $3 } END { print m + 0 }' \
          "$PREFIX/samples.txt")
    maxfd=$(awk -v p="$pid" '$2 == p && $4 > m { m = $4 } END { print m + 0 }' \
            "$PREFIX/samples.txt")
    awk -v p="$pid" -v a="$rss0" -v b="$rss1" -v m="$max" -v f0="$fd0" \
        -v f1="$fd1" -v mf="$maxfd" 'BEGIN {
        printf "  worker %s  rss %6.1f -> %6.1f MiB (%+.2f MiB, peak %.1f)  fds %d -> %d (peak %d)\n",
               p, a / 1024, b / 1024, (b - a) / 1024, m / 1024, f0, f1, mf }'
    if [ $((rss1 - rss0)) -gt "$RSS_LIMIT_KB" ]; then
        if [ "$ASAN" = 1 ]; then
            echo "  (RSS growth not checked under ASan: its quarantine keeps freed memory)"
        else
            echo "FAIL: worker $pid RSS grew by $(( (rss1 - rss0) / 1024 )) MiB (limit $((RSS_LIMIT_KB / 1024)) MiB)"
            FAIL=1
        fi
    fi
    if [ "$fd1" -gt "$fd0" ]; then
        echo "FAIL: worker $pid has $((fd1 - fd0)) more open fds"
        ls -l "/proc/$pid/fd" | tail -n +2 | sed 's/^/    /'
        FAIL=1
    fi
done < "$PREFIX/growth.txt"

echo
echo "== metrics"
curl -s "http://127.0.0.1:$PORT/status" \
    | grep -E '^tunny_jobs_total' | sed 's/^/  /' || true

if grep -E 'exited on signal|\[alert\]|\[crit\]' "$PREFIX/logs/error.log" \
    | head -20 | sed 's/^/  /' | grep .
then
    echo "FAIL: the error log has crashes, [alert] or [crit] lines"
    FAIL=1
fi

"${NGINX[@]}" -s quit 2>>"$PREFIX/logs/signal.log"
master_gone() { ! kill -0 "$master" 2>/dev/null; }
if ! wait_until master_gone; then
    echo "FAIL: nginx did not quit within 30 s"
    FAIL=1
fi
echo
echo "== access log: statuses (all phases; flushed by the quit)"
awk '{ n[$1]++ } END { for (s in n) printf "  %s %d\n", s, n[s] }' \
    "$PREFIX/logs/access.log" | sort
bad5xx=$(awk '$1 ~ /^5/ && $1 != 503 && $1 != 504 { n++ } END { print n + 0 }' \
         "$PREFIX/logs/access.log")
if [ "$bad5xx" -gt 0 ]; then
    echo "FAIL: $bad5xx responses with a 5xx other than 503/504:"
    awk '$1 ~ /^5/ && $1 != 503 && $1 != 504' "$PREFIX/logs/access.log" \
        | sort | uniq -c | sort -rn | head
    FAIL=1
fi

echo
if [ $FAIL = 0 ]; then
    echo "soak: PASS"
else
    echo "soak: FAIL (logs in $PREFIX)"
    exit 1
fi
