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
#   /tbr1/  tunny_compress, br 11 on a pool of ONE thread: the per-core
#           comparison with /br11/
# over 4 generated 1 MiB JSON files, wrk -c16, in interleaved rounds
# (BENCH_ROUNDS, each BENCH_DURATION s per case; the medians are
# reported), while a probe fetches a 1 KiB static file from the same
# worker every 5 ms on a new connection.  CPU ms per response: utime +
# stime of the worker process (event loop and pool threads) from /proc.
# The pools get max_memory=2048m: 16 brotli 11 streams reserve about 40 MB
# each, more than the default budget (a refused reservation would send
# the response uncompressed).
# wrk and the probe share the machine's cores with nginx.

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module bench compress}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
PORT=${BENCH_PORT:-18201}
DUR=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNECTIONS:-16}
BROTLI=${BROTLI_FILTER_SO:-/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so}
PREFIX=$BUILD/bench-compress
HZ=$(getconf CLK_TCK)

say() { printf '%s\n' "$*" >&2; }

need=()
[ -f "$BROTLI" ] || need+=(libnginx-mod-http-brotli-filter)
command -v wrk >/dev/null || need+=(wrk)
command -v brotli >/dev/null || need+=(brotli)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { say "bench compress: install ${need[*]}"; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${need[@]}" >&2
fi

rm -rf "$PREFIX"
mkdir -p "$PREFIX/logs" "$PREFIX/conf" "$PREFIX/html"
head -c 1024 /dev/zero | tr '\0' 'x' > "$PREFIX/html/1k.txt"

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
load_module $MODULE;
load_module $BROTLI;
worker_processes 1;
error_log logs/error.log notice;
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
        tunny_timeout 120s;
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

"$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf
trap '"$NGINX_BIN" -p "$PREFIX" -c conf/nginx.conf -s stop 2>/dev/null || true' EXIT
sleep 0.3

master=$(cat "$PREFIX/logs/nginx.pid")
worker=$(pgrep -P "$master" | head -1)
threads=$(sed -n 's/.*tunny_pool "default": \([0-9]*\) threads.*/\1/p' \
          "$PREFIX/logs/error.log" | tail -1)

cat > "$PREFIX/rotate.lua" <<'LUA'
local i = 0
request = function()
    i = i % 4 + 1
    return wrk.format("GET", wrk.path .. "d" .. i .. ".json")
end
LUA

# the open-loop probe of t/bench/image.sh, at one request every 5 ms
sed -n "/^cat > \"\$PREFIX\/probe.pl\" <<'PERL'$/,/^PERL$/p" \
    "$TOP/t/bench/image.sh" | sed '1d;$d' > "$PREFIX/probe.pl"
[ -s "$PREFIX/probe.pl" ] || { say "bench compress: no probe in image.sh"; exit 1; }

pctl() {  # FILE P
    awk -v p="$2" '{ v[NR] = $1 }
        END { if (NR == 0) { print "nan"; exit }
              i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; if (i > NR) i = NR
              printf "%.2f", v[i] }' "$1"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$worker/stat"; }

ae_of() { case $1 in gz9|tgz) echo gzip ;; *) echo br ;; esac; }

run() {  # CASE ROUND
    local c=$1 k=$2 t0 t1 n
    t0=$(cpu_ticks)
    wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 120s -H "Accept-Encoding: $(ae_of "$c")" \
        -s "$PREFIX/rotate.lua" "http://127.0.0.1:$PORT/$c/" \
        > "$PREFIX/$c.$k.wrk" &
    local load=$!
    sleep 1
    perl "$PREFIX/probe.pl" "$PORT" 200 $((DUR - 2)) > "$PREFIX/$c.$k.probe"
    wait $load
    # the requests still running when wrk stops use CPU too: let them end
    sleep 2
    t1=$(cpu_ticks)
    n=$(awk '/requests in/ { print $1 }' "$PREFIX/$c.$k.wrk")
    awk -v n="$n" -v d="$((t1 - t0))" -v hz="$HZ" \
        'BEGIN { printf "%.0f\n", n ? d * 1000 / hz / n : 0 }' \
        > "$PREFIX/$c.$k.cpu"
    awk '/^Requests\/sec/ { print $2 }' "$PREFIX/$c.$k.wrk" > "$PREFIX/$c.$k.rps"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

cases="gz9 tgz br11 tbr tbr1"

say "bench compress: 4 x 1 MiB JSON, wrk -c$CONNS, $ROUNDS rounds x ${DUR}s per case, interleaved"
perl "$PREFIX/probe.pl" "$PORT" 200 4 > "$PREFIX/idle.probe"

for k in $(seq 1 "$ROUNDS"); do
    for c in $cases; do
        say "  round $k: $c"
        run "$c" "$k"
    done
done

echo
echo "== 1 MiB JSON: in-loop filters vs tunny_compress, one nginx, worker_processes 1 ($threads pool threads)"
printf '%-34s %9s %12s %10s %10s %10s\n' case "req/s" "CPU ms/resp" "out bytes" \
    "static p50" "static p99"
printf '%-34s %9s %12s %10s %10s %10s\n' "idle server" "" "" "" \
    "$(pctl "$PREFIX/idle.probe" 50)" "$(pctl "$PREFIX/idle.probe" 99)"
for c in $cases; do
    curl -s -o "$PREFIX/$c.out" -H "Accept-Encoding: $(ae_of "$c")" \
        "http://127.0.0.1:$PORT/$c/d1.json"
    cat "$PREFIX"/$c.*.probe | sort -g > "$PREFIX/$c.all.probe"
    case $c in
        gz9) label="gzip 9 (nginx, event loop)" ;;
        tgz) label="tunny_compress gzip 9" ;;
        br11) label="brotli 11 (ngx_brotli, event loop)" ;;
        tbr) label="tunny_compress br 11" ;;
        tbr1) label="tunny_compress br 11 (1 thread)" ;;
    esac
    printf '%-34s %9s %12s %10s %10s %10s\n' "$label" \
        "$(cat "$PREFIX"/$c.*.rps | median)" \
        "$(cat "$PREFIX"/$c.*.cpu | median)" \
        "$(wc -c < "$PREFIX/$c.out")" \
        "$(pctl "$PREFIX/$c.all.probe" 50)" "$(pctl "$PREFIX/$c.all.probe" 99)"
done

# the same library settings make the same stream
gzip -dc < "$PREFIX/tgz.out" | cmp -s - "$PREFIX/html/d1.json" \
    && brotli -dc < "$PREFIX/tbr.out" | cmp -s - "$PREFIX/html/d1.json" \
    || { say "bench compress: tunny_compress output does not decode to the file"; exit 1; }
echo "identical streams: gzip $(cmp -s "$PREFIX/gz9.out" "$PREFIX/tgz.out" && echo yes || echo NO)," \
     "brotli $(cmp -s "$PREFIX/br11.out" "$PREFIX/tbr.out" && echo yes || echo NO)"
