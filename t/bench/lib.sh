# Measurement helpers of `./ngx_tunny_module bench` (sourced by
# t/bench/image.sh, compress.sh and engine.sh, and by t/bench/quality.sh
# for sharp_install): CPU time of server processes, idle detection, wrk
# output parsing, the CPU hog of the contention scenario, the pinned sharp.

CLK_TCK=$(getconf CLK_TCK)

say() { printf '%s\n' "$*" >&2; }

# cpu_ticks PID... -> utime+stime of those processes, all their threads
# included (fields 14 and 15 of /proc/PID/stat, counted after the ")" that
# ends the command name)
cpu_ticks() {
    local p sum=0 f a
    for p in "$@"; do
        f=$(cat "/proc/$p/stat" 2>/dev/null) || return 1
        read -r -a a <<< "${f##*) }"
        sum=$((sum + a[11] + a[12]))
    done
    echo "$sum"
}

# box_ticks -> "BUSY TOTAL" jiffies of all CPUs from /proc/stat (busy is
# everything but idle and iowait)
box_ticks() {
    awk '$1 == "cpu" {
        t = 0; for (i = 2; i <= NF; i++) t += $i
        printf "%d %d\n", t - $5 - $6, t; exit }' /proc/stat
}

# wait_quiet SECONDS PID... : until the processes used at most one tick in
# each of two consecutive 0.25 s windows (a round's cut-off requests are
# finished), at most SECONDS; 1 when they never went quiet
wait_quiet() {
    local limit=$1 quiet=0 a b end
    shift
    end=$((SECONDS + limit))
    a=$(cpu_ticks "$@") || return 1
    while [ "$SECONDS" -lt "$end" ]; do
        sleep 0.25
        b=$(cpu_ticks "$@") || return 1
        if [ $((b - a)) -le 1 ]; then
            quiet=$((quiet + 1))
            [ "$quiet" -ge 2 ] && return 0
        else
            quiet=0
        fi
        a=$b
    done
    return 1
}

# wrk_ms FILE PERCENTILE -> that latency of `wrk --latency` in ms
wrk_ms() {
    awk -v p="$2" '
        $1 == p {
            v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            if (u == "us") v /= 1000; else if (u == "s") v *= 1000
            else if (u == "m") v *= 60000
            printf "%.1f", v; found = 1
        }
        END { if (!found) print "nan" }' "$1"
}

# wrk_failures FILE -> a description of every failed request of a wrk run
# made with t/bench/rotate.lua (socket errors, non-2xx, a status other than
# 200, no request at all), empty when there was none
wrk_failures() {
    awk '
        /^  Socket errors:/ { sub(/^  /, ""); print; next }
        /^  Non-2xx or 3xx responses:/ { sub(/^  /, ""); print; next }
        $1 == "status" && $2 != 200 { print "status " $2 ": " $3 " responses" }
        $1 == "requests" && $2 == 0 { print "no request completed" }
        $1 == "requests" { seen = 1 }
        END { if (!seen) print "no summary from rotate.lua" }' "$1"
}

# burn_nginx PREFIX PORT THREADS [LOCATIONS]: a fresh nginx prefix (one
# worker; a pool "burn" of THREADS threads; /burn20, a 20 ms burn job;
# /1k.txt, a 1 KiB static file; LOCATIONS, more location blocks) and its
# nginx started; burn_nginx_stop PREFIX stops it
# the user line of a bench's nginx: workers stay root when the bench runs
# as root.  A root master normally raises RLIMIT_RTPRIO so that its
# unprivileged workers may take tunny_event_loop's real-time priority;
# the root of a container without CAP_SYS_RESOURCE (this VM's) cannot, and
# such workers keep normal scheduling (each logs why).  Root workers take
# it with CAP_SYS_NICE, as the unprivileged ones of a normal host do.
bench_user() {
    [ "$(id -u)" != 0 ] || echo "user root;"
}

burn_nginx() {
    local prefix=$1 port=$2 threads=$3 more=${4:-}
    rm -rf "$prefix"
    mkdir -p "$prefix/logs" "$prefix/conf" "$prefix/html"
    head -c 1024 /dev/zero | tr '\0' 'x' > "$prefix/html/1k.txt"
    cat > "$prefix/conf/nginx.conf" <<CONF
load_module $MODULE;
$(bench_user)
worker_processes 1;
error_log logs/error.log notice;
pid logs/nginx.pid;
tunny_pool burn threads=$threads max_queue=100000;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$port reuseport;
        location = /burn20 { tunny_offload burn; tunny_burn 20ms; }
        location = /1k.txt { root html; }
        $more
    }
}
CONF
    "$NGINX_BIN" -p "$prefix" -c conf/nginx.conf
}

burn_nginx_stop() {
    "$NGINX_BIN" -p "$1" -c conf/nginx.conf -s stop 2>/dev/null || true
}

# CPU hog of the contention scenario: one busy loop at nice NICE (0),
# under "chrt POLICY" when given (e.g. "-b 0": SCHED_BATCH), ending by
# itself after SECONDS even if nobody kills it; named "bench-hog" (its
# comm, what a scheduler trace shows)
HOG_PID=
start_hog() {  # SECONDS [NICE [POLICY]]
    local run=()
    [ -z "${3:-}" ] || read -r -a run <<< "chrt $3"
    "${run[@]}" perl -e '$0 = "bench-hog"; setpriority(0, 0, shift);
                         alarm shift; 1 while 1' "${2:-0}" "$1" &
    HOG_PID=$!
}

stop_hog() {
    if [ -n "$HOG_PID" ]; then
        kill "$HOG_PID" 2>/dev/null || true
        wait "$HOG_PID" 2>/dev/null || true
        HOG_PID=
    fi
}


# sharp_install DIR VERSION WHO: the npm package sharp at VERSION in
# DIR/node_modules (installed when another version or none is there);
# fails, saying so as WHO, when node is too old or npm cannot install it
sharp_install() {
    local dir=$1 version=$2 who=$3 have
    node -e 'const [a, b] = process.versions.node.split(".").map(Number);
             process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)' || {
        say "$who: sharp $version needs node >= 20.9" \
            "(BENCH_SHARP_VERSION=0.34.5 runs on node 18)"
        return 1
    }
    have=$(node -p "require('$dir/node_modules/sharp/package.json').version" \
        2>/dev/null || true)
    [ "$have" = "$version" ] && return 0
    say "$who: npm install sharp@$version into $dir"
    mkdir -p "$dir"
    timeout 600 npm install --prefix "$dir" --no-audit --no-fund \
        --save-exact "sharp@$version" >&2
    have=$(node -p "require('$dir/node_modules/sharp/package.json').version" \
        2>/dev/null || true)
    [ "$have" = "$version" ] || {
        say "$who: sharp $version did not install"
        return 1
    }
}

# proc_cpu FILE: "PID TICKS COMMAND" of every process (its own and its
# reaped children's CPU), to tell afterwards what else ran
proc_cpu() {
    local p f a cmd
    for p in /proc/[0-9]*; do
        f=$(cat "$p/stat" 2>/dev/null) || continue
        read -r -a a <<< "${f##*) }"
        # kernel threads have no command line: their name then; a
        # process may exit between its stat and its cmdline
        cmd=$(tr '\0' ' ' 2>/dev/null < "$p/cmdline" | cut -c1-100) \
            || cmd=
        [ -d "$p" ] || continue
        [ -n "$cmd" ] || cmd="[$(cat "$p/comm" 2>/dev/null)]"
        printf '%s %s %s\n' "${p#/proc/}" \
            $((a[11] + a[12] + a[13] + a[14])) "$cmd"
    done > "$1"
}

# proc_others BEFORE AFTER "PID...": "TICKS PID COMMAND" of the 8
# processes that used most CPU between two proc_cpu files, but for the
# PIDs given (the bench and its servers)
proc_others() {
    awk -v ours=" $3 " 'NR == FNR { t[$1] = $2; next }
        index(ours, " " $1 " ") { next }
        { d = $2 - ($1 in t ? t[$1] : 0); $2 = ""; if (d > 0) print d, $0 }' \
        "$1" "$2" | sort -rn | head -8
}
