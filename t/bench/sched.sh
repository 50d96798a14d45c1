#!/usr/bin/env bash
# ./ngx_tunny_module bench sched
#
# Who waits for a CPU when a static file is slow beside a saturated pool:
# one nginx (one worker, a pool of one thread per CPU kept busy by 20 ms
# burns), the light static probe of `bench image` (t/bench/probe.pl, a
# 1 KiB file every 5 ms) as a normal process, and a `perf sched` trace of
# the whole machine meanwhile.  For the worker's event loop and for the
# probe it prints how long each waited between its wake-up and getting a
# CPU (p99, max), and for the waits over 1 ms what held that CPU.  When
# the probe waits and the loop does not, the probe's p99 is the client's
# own scheduling, not the server's latency (a client on another machine
# does not share these CPUs; `bench image` runs its probe at SCHED_FIFO 1
# for that reason).  --hog (BENCH_HOG=1): one nice-0 busy loop of another
# session ("bench-hog") runs meanwhile, the contention case of `bench
# image --hog`.  Needs perf and the sched tracepoints (root; tracefs is
# mounted when it is not).

set -euo pipefail

: "${MODULE:?run through ./ngx_tunny_module bench sched}"
: "${NGINX_BIN:=/usr/sbin/nginx}"
: "${BUILD:?}"
PORT=${BENCH_PORT:-18091}
SECS=${BENCH_DURATION:-4}
THREADS=${BENCH_THREADS:-$(nproc)}
HOG=${BENCH_HOG:-0}
PREFIX=$BUILD/bench-sched
BENCH=$(dirname "$0")
. "$BENCH/lib.sh"

command -v perf > /dev/null || { say "bench sched: perf is not installed"; exit 1; }
if [ ! -d /sys/kernel/tracing/events/sched ]; then
    mount -t tracefs nodev /sys/kernel/tracing 2> /dev/null || {
        say "bench sched: no sched tracepoints (tracefs)"; exit 1; }
fi

cleanup() {
    stop_hog
    burn_nginx_stop "$PREFIX"
}
burn_nginx "$PREFIX" "$PORT" "$THREADS"
trap cleanup EXIT
sleep 0.3
[ "$HOG" != 1 ] || start_hog $((SECS + 10))
worker=$(pgrep -P "$(cat "$PREFIX/logs/nginx.pid")" | head -1)

wrk -t1 -c16 -d"$((SECS + 4))s" "http://127.0.0.1:$PORT/burn20" \
    > "$PREFIX/burn.txt" &
load=$!
sleep 1
perl "$BENCH/probe.pl" "$PORT" /1k.txt 5 $((SECS + 2)) > "$PREFIX/probe.txt" &
probe=$!
sleep 1
perf sched record -a -o "$PREFIX/perf.data" -- sleep "$SECS" \
    > /dev/null 2>&1
wait "$load" "$probe"
stop_hog
perf sched timehist -i "$PREFIX/perf.data" > "$PREFIX/timehist.txt" \
    2> /dev/null

hog_note=
[ "$HOG" != 1 ] || hog_note=", one nice-0 CPU hog (bench-hog)"
echo "== bench sched: $THREADS pool threads saturated by 20 ms burns," \
     "the probe as a normal process, ${SECS}s traced$hog_note"
echo "probe (its own timing): $(cat "$PREFIX/probe.txt")"

# timehist prints a line when a task leaves its CPU: time, [cpu], task,
# wait time, scheduling delay (wake-up to running) and run time in ms; the
# task ran over [time - run, time] after waiting for sch delay before it
perl -e '
    my ($loop, $probe) = (shift, shift);
    my (@ev, %d);
    while (<>) {
        next unless /^\s*([\d.]+)\s+\[(\d+)\]\s+(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/;
        push @ev, [$1, $2, $3, $5, $6];
    }
    for my $i (0 .. $#ev) {
        my ($t, $cpu, $task, $delay, $run) = @{ $ev[$i] };
        my $who = $task =~ /^nginx\[$loop\]$/ ? "event loop"
                : $task =~ /^perl\[$probe\]$/ ? "probe" : next;
        push @{ $d{$who}{delays} }, $delay;
        next unless $delay > 1.0;
        $d{$who}{over}++;
        my $e = $t - $run / 1000;
        my $s = $e - $delay / 1000;
        for my $j (reverse 0 .. $i - 1) {
            my ($t2, $cpu2, $task2, undef, $run2) = @{ $ev[$j] };
            last if $t2 < $s - 0.1;
            next unless $cpu2 == $cpu;
            my ($a, $b) = ($t2 - $run2 / 1000, $t2);
            $a = $s if $a < $s;
            $b = $e if $b > $e;
            next if $b <= $a;
            (my $k = $task2) =~ s/\[.*//;
            $d{$who}{held}{$k} += ($b - $a) * 1000;
        }
    }
    for my $who ("event loop", "probe") {
        my @v = sort { $a <=> $b } @{ $d{$who}{delays} || [] };
        next unless @v;
        my $held = $d{$who}{held} || {};
        my @k = sort { $held->{$b} <=> $held->{$a} } keys %$held;
        printf "%-10s %6d wake-ups, wait for a CPU p99 %.3f ms, max %.3f"
               . " ms, %d over 1 ms%s\n", $who, scalar @v,
               $v[int(0.99 * $#v)], $v[-1], $d{$who}{over} || 0,
               @k ? " (behind: "
                    . join(", ", map { sprintf "%s %.1f ms", $_, $held->{$_} }
                                 @k) . ")"
                  : "";
    }
' "$worker" "$probe" "$PREFIX/timehist.txt"
