#!/usr/bin/env bash
# ./ngx_tunny_module bench compress
#
# tunny_compress against the in-loop filters at the same level, in ONE
# nginx (the Debian binary, worker_processes 1) that loads ngx_tunny_module
# and Debian's brotli filter (libnginx-mod-http-brotli-filter):
#   /gz9/   gzip on; gzip_comp_level 9;              (nginx, event loop)
#   /br11/  brotli on; brotli_comp_level 11;         (ngx_brotli, event loop;
#           brotli_window 512k, its default, as tunny_compress_brotli_window)
#   /tgz/   tunny_compress, gzip 9                   (pool "default", auto)
#   /tbr/   tunny_compress, br 11                    (pool "default", auto)
#   /tbr1/  tunny_compress, br 11 on a pool of ONE thread: the same core
#           count as /br11/ (one event loop), the per-core comparison
#   floor   no compression: BENCH_FLOOR_SECONDS (20) of the probe alone
#           while one busy loop outside nginx holds a CPU at the pool
#           threads' priority (nice 19, SCHED_BATCH; started from here, so
#           in nginx's autogroup as they are): the static p99 this machine
#           gives beside one busy CPU whoever keeps it busy, the floor of
#           the tbr1 row
# over 4 generated 1 MiB JSON files.
#
# Each case is a fixed number of responses at concurrency BENCH_CONNECTIONS
# (16): BENCH_BROTLI_REQUESTS (16: one per connection) for brotli 11,
# BENCH_GZIP_REQUESTS (160) for gzip 9, by t/bench/compress-load.pl (a
# closed loop; see there why not a duration: a brotli 11 response of 1 MiB
# is seconds of CPU).  req/s = responses / wall time; CPU ms per response
# = utime + stime of the worker process (event loop and pool threads) over
# the case / responses (it includes the probe's requests, about 1%).
# The cases are interleaved, BENCH_ROUNDS rounds (3) in a rotated order,
# the medians reported; a round is only started while the elapsed time
# plus the longest round so far fits in BENCH_BUDGET seconds (600), so the
# bench is bounded and says how many rounds it made.  Before each case the
# worker is left to go quiet.  Meanwhile t/bench/probe.pl fetches a 1 KiB
# static file from the same worker every 5 ms on one keep-alive
# connection (p50/p99 over all rounds of the case).  "others" is the CPU
# the rest of the machine used during the case (the load client, the
# probe and other people's work), in % of one CPU; the processes that used
# most CPU during the bench, but for it, are listed at the end.
#
# Fails when a response fails (not a 200 compressed with the asked
# encoding: a refused reservation would send it uncompressed), or when
# tunny's output does not decode to the file.  The pools get
# max_memory=2048m: 16 brotli 11 streams reserve about 40 MB each, more
# than the default budget, and tunny_timeout and send_timeout 300s (see
# the configuration).  Raw numbers: build/bench-compress/rounds.tsv.
# BENCH_CASES picks cases (e.g. "br11 tbr1"), BENCH_LOG_LEVEL the error
# log's level.

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module bench compress}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
: "${TOP:?}"

BENCH=$TOP/t/bench
. "$BENCH/lib.sh"

PORT=${BENCH_PORT:-18201}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-16}
N_BR=${BENCH_BROTLI_REQUESTS:-$CONNS}
N_GZ=${BENCH_GZIP_REQUESTS:-$((CONNS * 10))}
FLOOR_SECS=${BENCH_FLOOR_SECONDS:-20}
CASES=${BENCH_CASES:-gz9 tgz br11 tbr tbr1 floor}
BUDGET=${BENCH_BUDGET:-600}
TIMEOUT=${BENCH_TIMEOUT:-300}
BROTLI=${BROTLI_FILTER_SO:-/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so}
PREFIX=$BUILD/bench-compress

need=()
[ -f "$BROTLI" ] || need+=(libnginx-mod-http-brotli-filter)
command -v brotli >/dev/null || need+=(brotli)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { say "bench compress: install ${need[*]}"; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${need[@]}" >&2
fi

rm -rf "$PREFIX"
mkdir -p "$PREFIX/logs" "$PREFIX/conf" "$PREFIX/html" "$PREFIX/runs"
head -c 1024 /dev/zero | tr '\0' 'x' > "$PREFIX/html/1k.txt"
# its own copy of the module: a build meanwhile (a test run in the same
# tree) must not rewrite the file this nginx has mapped
cp "$MODULE" "$PREFIX/ngx_tunny_module.so"

# 1 MiB of JSON-like API answers per file, deterministic
for i in 1 2 3 4; do
    perl -e 'my ($seed) = @ARGV; srand($seed); my $s = "[";
        while (length $s < 1048576) {
            $s .= sprintf(q({"id":%d,"user":"user%d","email":"u%d@example.com",)
                . q("score":%.2f,"active":%s,"tags":["t%d","t%d"]},) . "\n",
                int(rand(1e6)), int(rand(5e4)), int(rand(5e4)), rand(1000),
                rand() < 0.5 ? "true" : "false", int(rand(40)), int(rand(90)));
        }
        print substr($s, 0, 1048576);' "$i" > "$PREFIX/html/d$i.json"
done

cat > "$PREFIX/conf/nginx.conf" <<CONF
load_module $PREFIX/ngx_tunny_module.so;
load_module $BROTLI;
$(bench_user)
worker_processes 1;
error_log logs/error.log ${BENCH_LOG_LEVEL:-notice};
pid logs/nginx.pid;
tunny_pool default threads=auto max_queue=1024 max_memory=2048m;
tunny_pool one threads=1 max_queue=1024 max_memory=2048m;
events { worker_connections 1024; }
http {
    access_log off;
    types { application/json json; text/plain txt; }
    server {
        listen 127.0.0.1:$PORT reuseport;
        root html;
        # a chunk of one of 16 streams on a busy pool thread can wait
        # longer than the defaults (tunny_timeout 30s, send_timeout 60s:
        # the writer's timer is re-armed after every chunk); the in-loop
        # filters get the same send_timeout
        tunny_timeout 300s;
        send_timeout 300s;
        location = /1k.txt { }
        location /gz9/ {
            alias html/;
            gzip on; gzip_comp_level 9; gzip_types application/json;
        }
        location /br11/ {
            alias html/;
            brotli on; brotli_comp_level 11; brotli_types application/json;
        }
        location /tgz/ {
            alias html/;
            tunny_compress on; tunny_compress_types application/json;
            tunny_compress_encodings gzip;
        }
        location /tbr/ {
            alias html/;
            tunny_compress on; tunny_compress_types application/json;
            tunny_compress_encodings br;
        }
        location /tbr1/ {
            alias html/;
            tunny_offload one;
            tunny_compress on; tunny_compress_types application/json;
            tunny_compress_encodings br;
        }
    }
}
CONF

PROBE_PID=
cleanup() {
    [ -z "$PROBE_PID" ] || kill "$PROBE_PID" 2>/dev/null || true
    stop_hog
    "$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf -s stop 2>/dev/null || true
}
trap cleanup EXIT

"$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf
for _ in $(seq 50); do
    [ -s "$PREFIX/logs/nginx.pid" ] && break
    sleep 0.1
done
master=$(cat "$PREFIX/logs/nginx.pid")
worker=
for _ in $(seq 50); do
    worker=$(pgrep -P "$master" | head -1) && [ -n "$worker" ] && break
    sleep 0.1
done
[ -n "$worker" ] || { say "bench compress: no worker process"; exit 1; }
threads=
for _ in $(seq 50); do
    threads=$(sed -n 's/.*tunny_pool "default": \([0-9]*\) threads.*/\1/p' \
              "$PREFIX/logs/error.log" | tail -1)
    [ -n "$threads" ] && break
    sleep 0.1
done

ae_of() { case $1 in gz9|tgz) echo gzip ;; *) echo br ;; esac; }
n_of() { case $1 in gz9|tgz) echo "$N_GZ" ;; *) echo "$N_BR" ;; esac; }
label_of() {
    case $1 in
        gz9) echo "gzip 9, nginx (event loop)" ;;
        tgz) echo "gzip 9, tunny_compress ($threads threads)" ;;
        br11) echo "brotli 11, ngx_brotli (event loop)" ;;
        tbr) echo "brotli 11, tunny_compress ($threads threads)" ;;
        tbr1) echo "brotli 11, tunny_compress (1 thread)" ;;
        floor) echo "no compression, a nice-19 busy loop outside nginx" ;;
    esac
}

# the same library settings make the same stream; tunny's decodes to the
# file (also a warm-up: the files are in the page cache)
for c in $CASES; do
    [ "$c" != floor ] || continue
    curl -sf -o "$PREFIX/$c.out" -H "Accept-Encoding: $(ae_of "$c")" \
        "http://127.0.0.1:$PORT/$c/d1.json" \
        || { say "bench compress: /$c/d1.json failed"; exit 1; }
done
for c in $CASES; do
    [ "$c" != floor ] || continue
    case $c in gz9|tgz) dec="gzip -dc" ;; *) dec="brotli -dc" ;; esac
    $dec < "$PREFIX/$c.out" | cmp -s - "$PREFIX/html/d1.json" \
        || { say "bench compress: the output of /$c/ does not decode to the file"; exit 1; }
done

# run CASE ROUND: one measured case; a line of rounds.tsv
run() {
    local c=$1 k=$2 tag=$PREFIX/runs/$1.$2 quiet=1 b0 t0 b1 t1 c0 c1
    local n fail wall rps cpu others
    wait_quiet 120 "$worker" || quiet=0
    read -r b0 t0 < <(box_ticks)
    c0=$(cpu_ticks "$worker")
    perl "$BENCH/probe.pl" "$PORT" /1k.txt 5 100000 > "$tag.probe" &
    PROBE_PID=$!
    if [ "$c" = floor ]; then
        start_hog $((FLOOR_SECS + 10)) 19 "-b 0"
        sleep "$FLOOR_SECS"
        stop_hog
        echo "n 0 fail 0 wall $FLOOR_SECS bytes 0" > "$tag.load"
    else
        perl "$BENCH/compress-load.pl" "$PORT" "/$c/" "$(ae_of "$c")" \
            "$CONNS" "$(n_of "$c")" "$TIMEOUT" > "$tag.load" 2> "$tag.err" \
            || true
    fi
    c1=$(cpu_ticks "$worker")
    read -r b1 t1 < <(box_ticks)
    kill -TERM "$PROBE_PID"
    wait "$PROBE_PID" || true
    PROBE_PID=
    read -r _ n _ fail _ wall _ < "$tag.load" \
        || { say "bench compress: $c: the load client failed"; cat "$tag.err" >&2; exit 1; }
    if [ "$fail" != 0 ]; then
        say "bench compress: $c: $fail of $n responses failed"
        head -5 "$tag.err" >&2
        exit 1
    fi
    read -r rps cpu others < <(awk -v n="$n" -v w="$wall" -v c=$((c1 - c0)) \
        -v hz="$CLK_TCK" -v b=$((b1 - b0)) -v t=$((t1 - t0)) \
        -v ncpu="$(nproc)" 'BEGIN {
            printf "%.3f %.1f %.0f\n", n / w, n ? c * 1000 / hz / n : 0,
                   (b - c) * 100 * ncpu / t }')
    read -r _ pn _ pfail _ sp50 _ sp99 _ spmax < "$tag.probe"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "$c" \
        "$n" "$wall" "$rps" "$cpu" "$others" "$pn" "$pfail" "$sp50" "$sp99" \
        "$quiet" >> "$PREFIX/rounds.tsv"
    say "$(printf '  round %d %-5s %3d responses in %7.1f s: %7.3f req/s, CPU %7.1f ms/response, static p99 %9s ms (%s fails), others %3s%% of a CPU%s' \
        "$k" "$c" "$n" "$wall" "$rps" "$cpu" "$sp99" "$pfail" "$others" \
        "$([ "$quiet" = 1 ] || echo ', worker not quiet before')")"
}

read -r -a cases <<< "$CASES"
printf 'round\tcase\tresponses\twall_s\trps\tcpu_ms_per_response\tothers_pct_of_cpu\tstatic_n\tstatic_fail\tstatic_p50_ms\tstatic_p99_ms\tquiet_before\n' \
    > "$PREFIX/rounds.tsv"

say "bench compress: 4 x 1 MiB JSON, concurrency $CONNS, $N_BR brotli / $N_GZ gzip responses per case, up to $ROUNDS rounds within ${BUDGET} s"
perl "$BENCH/probe.pl" "$PORT" /1k.txt 5 4 > "$PREFIX/idle.probe"

commit=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$TOP" diff --quiet HEAD -- src config 2>/dev/null || commit="$commit+changes"
proc_cpu "$PREFIX/proc.before"
started=$SECONDS
longest=0
done_rounds=0
for k in $(seq 1 "$ROUNDS"); do
    if [ $((SECONDS - started + longest)) -gt "$BUDGET" ]; then
        say "bench compress: stopping after $done_rounds rounds (BENCH_BUDGET ${BUDGET} s)"
        break
    fi
    r0=$SECONDS
    for i in $(seq 0 $((${#cases[@]} - 1))); do
        run "${cases[$(((i + k - 1) % ${#cases[@]}))]}" "$k"
    done
    [ $((SECONDS - r0)) -le "$longest" ] || longest=$((SECONDS - r0))
    done_rounds=$k
done
proc_cpu "$PREFIX/proc.after"
elapsed=$((SECONDS - started))

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
col() {  # CASE COLUMN -> the values of that column for the case
    awk -F'\t' -v c="$1" -v k="$2" 'NR > 1 && $2 == c { print $k }' \
        "$PREFIX/rounds.tsv"
}

declare -A RPS CPU
echo
echo "== 1 MiB JSON, concurrency $CONNS: in-loop filters vs tunny_compress, one nginx, worker_processes 1, $(nproc) CPUs; medians of $done_rounds rounds, $elapsed s ($(date -u +%Y-%m-%dT%H:%MZ), commit $commit)"
echo
echo "| case | req/s | CPU ms per response | bytes (d1.json) | static p99 ms (worst round) | static fails | others, % of a CPU |"
echo "|---|---|---|---|---|---|---|"
printf '| idle server | | | | %s | %s | |\n' \
    "$(awk '{ print $8 }' "$PREFIX/idle.probe")" \
    "$(awk '{ print $4 }' "$PREFIX/idle.probe")"
for c in "${cases[@]}"; do
    RPS[$c]=
    CPU[$c]=
    bytes=
    if [ "$c" != floor ]; then
        RPS[$c]=$(col "$c" 5 | median)
        CPU[$c]=$(col "$c" 6 | median)
        bytes=$(wc -c < "$PREFIX/$c.out")
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(label_of "$c")" \
        "${RPS[$c]}" "${CPU[$c]}" "$bytes" \
        "$(col "$c" 11 | sort -g | tail -1)" \
        "$(col "$c" 9 | awk '{ s += $1 } END { print s + 0 }')" \
        "$(col "$c" 7 | median)"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# the comparisons of the cases that ran (BENCH_CASES may be a subset)
ran() { local c; for c; do [ -n "${RPS[$c]:-}" ] || return 1; done; }
if ran tbr1 br11; then
    echo "- brotli 11, same core count: tunny (1 thread) / ngx_brotli req/s $(ratio "${RPS[tbr1]}" "${RPS[br11]}")x, CPU per response ngx_brotli / tunny $(ratio "${CPU[br11]}" "${CPU[tbr1]}")x"
fi
if ran tbr br11; then
    echo "- brotli 11, tunny ($threads threads) / ngx_brotli req/s $(ratio "${RPS[tbr]}" "${RPS[br11]}")x"
fi
if ran tgz gz9; then
    echo "- gzip 9: tunny ($threads threads) / nginx req/s $(ratio "${RPS[tgz]}" "${RPS[gz9]}")x, CPU per response nginx / tunny $(ratio "${CPU[gz9]}" "${CPU[tgz]}")x"
fi
same() { cmp -s "$PREFIX/$1.out" "$PREFIX/$2.out" && echo yes || echo NO; }
if ran gz9 tgz; then echo "- identical streams, gzip: $(same gz9 tgz)"; fi
if ran br11 tbr; then echo "- identical streams, brotli: $(same br11 tbr)"; fi
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); what else used CPU during the bench (ticks of 1/$CLK_TCK s, pid, command):"
proc_others "$PREFIX/proc.before" "$PREFIX/proc.after" "$$ $master $worker" \
    | sed 's/^/    /'
