package TunnyTest;

# Helpers for ngx_tunny_module tests that need more than one request in
# flight: background HTTP clients (forked), a synchronous client that
# measures time, a look at the nginx processes, the metrics of
# tunny_status, bounded waits for a condition, and the timing log.  Plain
# Perl on top of Test::Nginx::Util's accessors, so the .t files that use it
# run the same under the upstream Test::Nginx.
#
# "use TunnyTest" also gives every block of the file
#
#   --- check_body     Perl code run after the block's last response, with
#                      $body (that response's body); it makes its own
#                      Test::More checks.  It runs before --- wait and the
#                      error_log checks, so it may wait for what those
#                      checks read.
#
# and after that code, the background requests the block started and did
# not collect are waited for (bg_collect), so that none outlives its block
# and the error_log checks see their log lines.
#
# Timing policy (docs/TESTING.md): no fixed sleep stands for "long enough";
# wait_for() polls a condition with a generous bound (slow() scales it for
# instrumented builds).  Latency is asserted as an order of events or a
# ratio to a deliberately long job, never as a small absolute time.

use strict;
use warnings;

use Exporter ();
use IO::Select ();
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

our @EXPORT = qw(bg_request bg_collect http_request http_send nginx_pids
                 worker_pids process_gone port);
our @EXPORT_OK = qw(wait_for metrics jobs gauges);

our @OUTCOMES = qw(ok error rejected timeout cancelled closed);

my @Children;
my $Registered;

sub import {
    if (!$Registered && defined &Test::Nginx::Socket::add_response_body_check)
    {
        Test::Nginx::Socket::add_response_body_check(\&after_response);
        $Registered = 1;
    }
    goto &Exporter::import;
}

# How many times slower than the plain build the server under test is:
# the bounds of every wait scale with it.  Under valgrind the outcomes
# that depend on timing are not asserted at all (see timing()), the bound
# only keeps a wait from hanging.
sub slow () {
    return $ENV{TEST_NGINX_USE_VALGRIND} ? 5 : $ENV{TEST_NGINX_ASAN} ? 3 : 1;
}

# false when outcomes that depend on timing are not checked: valgrind runs
# the threads one at a time and 20-50 times slower
sub timing () {
    return !$ENV{TEST_NGINX_USE_VALGRIND};
}

sub port () {
    return Test::Nginx::Util::server_port()
        if defined &Test::Nginx::Util::server_port;
    return $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}

# poll until the condition holds (true) or the time is up (false); the
# bound (default 10 s) is multiplied by slow()
sub wait_for (&;$) {
    my ($cond, $timeout) = @_;
    my $end = time + ($timeout // 10) * slow();
    while (time < $end) {
        return 1 if $cond->();
        sleep 0.02;
    }
    return $cond->() ? 1 : 0;
}

# a connection to the server under test, retried while nginx starts
# (slowly, under valgrind)
sub connect_server () {
    my $start = time;
    while (1) {
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                         PeerPort => port(), Proto => 'tcp',
                                         Timeout => 5);
        return $sock if $sock;
        return undef if time - $start > 10 * slow();
        sleep 0.05;
    }
}

sub request_text ($%) {
    my ($uri, %o) = @_;
    my $method = $o{method} || (defined $o{body} ? 'POST' : 'GET');
    my $req = "$method $uri HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "$_\r\n" for @{ $o{headers} || [] };
    $req .= "Content-Length: " . length($o{body}) . "\r\n" if defined $o{body};
    $req .= "\r\n";
    $req .= $o{body} if defined $o{body};
    return $req;
}

# send a request and return the connection without reading the answer
# (undef if nginx cannot be reached): closing it is a client abort at a
# moment the test chooses.  Options as for http_request().
sub http_send ($;%) {
    my ($uri, %o) = @_;
    my $sock = connect_server() or return undef;
    print $sock request_text($uri, %o);
    return $sock;
}

# one HTTP/1.0 exchange; returns { status, headers => {lc name => value},
# body, elapsed } or { status => 0, error } when the connection failed or
# no complete answer came within the timeout.
# opts: headers => [ "Name: value", ... ], body => STRING, method,
#       abort_after => SECONDS (close the connection early: a client abort),
#       timeout => SECONDS for the whole exchange (default 60 x slow())
sub http_request ($;%) {
    my ($uri, %o) = @_;
    my $start = time;
    my $sock = http_send($uri, %o);
    return { status => 0, error => "connect: $!", elapsed => 0 } if !$sock;

    if (defined $o{abort_after}) {
        sleep $o{abort_after};
        close $sock;
        return { status => 0, aborted => 1, elapsed => time - $start };
    }

    my $deadline = $start + ($o{timeout} // 60 * slow());
    my $sel = IO::Select->new($sock);
    my $raw = '';
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0 || !$sel->can_read($left)) {
            close $sock;
            return { status => 0, error => 'timeout',
                     elapsed => time - $start };
        }
        my $n = sysread $sock, my $buf, 65536;
        last if !$n;
        $raw .= $buf;
    }
    close $sock;

    my $res = { elapsed => time - $start, headers => {} };
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $head //= '';
    ($res->{status}) = $head =~ m{^HTTP/\d\.\d (\d+)};
    $res->{status} //= 0;
    for my $line (split /\r\n/, $head) {
        $res->{headers}{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*)$/;
    }
    $res->{body} = $body // '';
    return $res;
}

# start http_request() in a child process; returns its index for
# bg_collect().  The child never runs the test's END blocks.
sub bg_request ($;%) {
    my ($uri, %o) = @_;
    my $idx = scalar @Children;
    my $file = "/tmp/tunny-bg.$$.$idx";
    unlink $file;
    my $pid = fork();
    die "fork: $!" if !defined $pid;
    if ($pid == 0) {
        my $res = http_request($uri, %o);
        if (open my $fh, '>', $file) {
            print $fh join("\n", $res->{status}, $res->{elapsed},
                           $res->{body} // ''), "\n";
            close $fh;
        }
        POSIX::_exit(0);
    }
    push @Children, { pid => $pid, file => $file, uri => $uri };
    return $idx;
}

# wait for every background request; returns a list of
# { uri, status, elapsed, body } in start order
sub bg_collect () {
    my @res;
    for my $c (@Children) {
        waitpid $c->{pid}, 0;
        my %r = (uri => $c->{uri}, status => 0, elapsed => 0, body => '');
        if (open my $fh, '<', $c->{file}) {
            local $/;
            my $data = <$fh> // '';
            close $fh;
            @r{qw(status elapsed body)} = split /\n/, $data, 3;
        }
        unlink $c->{file};
        push @res, \%r;
    }
    @Children = ();
    return @res;
}

# --- check_body, then the block's leftover background requests; called by
# the runner after every response, acts after the last one of the block
sub after_response {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $req = $block->pipelined_requests // $block->request;
    my $last = ref $req eq 'ARRAY' ? $#$req : 0;
    return if $req_idx != $last;

    my $code = $block->check_body;
    if (defined $code && !$dry_run) {
        my $check = eval "package main; sub { my (\$body) = \@_;\n"
                         . "#line 1 check_body\n$code\n}";
        die $block->name . " - check_body: $@" if $@;
        $check->($body // '');
    }
    bg_collect();
}

# the pid in the server root's pid file, and the worker processes under it
sub nginx_pids () {
    my $root = Test::Nginx::Util::server_root();
    my $fh;
    # the pid file appears late while nginx starts under valgrind
    wait_for(sub { open $fh, '<', "$root/logs/nginx.pid" }) or return ();
    my $pid = <$fh> // '';
    close $fh;
    chomp $pid;
    return $pid ? ($pid) : ();
}

# a process's or thread's stat (DIR: /proc/PID or /proc/PID/task/TID):
# its comm and the fields after it, state first (so field N of proc(5) is
# at index N - 3); () when it is gone
sub proc_stat ($) {
    my ($dir) = @_;
    open my $fh, '<', "$dir/stat" or return ();
    my $stat = <$fh> // '';
    close $fh;
    my ($comm, $rest) = $stat =~ /^\d+ \((.*)\) (.*)$/ or return ();
    return ($comm, split / /, $rest);
}

# processes that run the event loop: the workers of the master, or the
# single process itself (master_process off)
sub worker_pids () {
    my ($master) = nginx_pids();
    return () if !$master;
    my @workers;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // '';
        close $fh;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @workers, $pid if $ppid == $master;
    }
    return @workers ? @workers : ($master);
}

# true when the process has exited (gone, or a zombie nobody reaped yet)
sub process_gone ($) {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $line = <$fh> // '';
    close $fh;
    my ($state) = $line =~ /^\d+ \(.*\) (\S+)/;
    return !defined $state || $state eq 'Z' || $state eq 'X';
}

# --- metrics: the blocks using these have "location = /status {
# tunny_status; }"

# the current metrics, parsed: { 'name{labels}' => value }
sub metrics (;$) {
    my ($text) = @_;
    $text = http_request('/status')->{body} if !defined $text;
    my %m;
    for my $line (split /\n/, $text) {
        next if $line =~ /^#/ || $line !~ /\S/;
        if ($line =~ /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/) {
            $m{$1} = $2;
        } else {
            Test::More::fail("metrics line: \"$line\"");
        }
    }
    return \%m;
}

# { outcome => count } of a pool
sub jobs ($;$) {
    my ($pool, $m) = @_;
    $m //= metrics();
    return { map {
        $_ => $m->{qq{tunny_jobs_total{pool="$pool",outcome="$_"}}}
    } @OUTCOMES };
}

# [threads, queue_length, busy_threads] of a pool (all workers together)
sub gauges ($;$) {
    my ($pool, $m) = @_;
    $m //= metrics();
    return [ map { $m->{"tunny_pool_$_" . qq({pool="$pool"})} // -1 }
             qw(threads queue_length busy_threads) ];
}

# wait until the pool has BUSY running and QUEUED waiting jobs: the state a
# block's request must meet.  A test (unless timing() is off); true if the
# state was reached.
sub wait_pool ($$$) {
    my ($pool, $busy, $queued) = @_;
    my $ok = wait_for(sub {
        my $g = gauges($pool);
        $g->[2] == $busy && $g->[1] == $queued;
    });
    Test::More::ok($ok, "pool $pool reached: $busy running, $queued queued")
        if timing();
    return $ok;
}

# --- the timing log: what the module measured, request by request

our $TIMING_LOG_FORMAT = 'TUNNY $uri $status $tunny_outcome '
    . 'q=$tunny_queue_time r=$tunny_run_time pool=$tunny_pool '
    . 't=$request_time';
our $TIMING_LINE =
    qr{^TUNNY (\S+) (\d+) (\S+) q=(\S+) r=(\S+) pool=(\S*) t=(\S+)$};

# an http{} snippet logging every request in that format into the error log
# (so that --- error_log can check background requests too)
sub timing_log_config () {
    return "    log_format tunny '$TIMING_LOG_FORMAT';\n"
         . "    access_log logs/error.log tunny;\n";
}

# the requests of the block's error log, in log order, as
# { uri, status, outcome, q, r, pool, t } (q, r: undef for "-"); waits
# (bounded) until every URI given has a line
sub timing_log (@) {
    my @uris = @_;
    my $file = "$Test::Nginx::Util::LogDir/error.log";
    my @log;
    my $read = sub {
        @log = ();
        open my $fh, '<', $file or return 0;
        while (my $line = <$fh>) {
            my @f = $line =~ $TIMING_LINE or next;
            push @log, { uri => $f[0], status => $f[1], outcome => $f[2],
                         q => $f[3] eq '-' ? undef : $f[3],
                         r => $f[4] eq '-' ? undef : $f[4],
                         pool => $f[5], t => $f[6] };
        }
        close $fh;
        for my $uri (@uris) {
            return 0 if !grep { $_->{uri} eq $uri } @log;
        }
        return 1;
    };
    wait_for(\&$read)
        or Test::More::diag("timing log: no line for some of @uris");
    return @log;
}

# a test: the duration V (seconds, from the timing log) is in [LO, HI)
sub between ($$$$) {
    my ($v, $lo, $hi, $name) = @_;
    my $ok = defined $v && $v >= $lo && $v < $hi;
    Test::More::ok($ok, "$name: " . ($v // 'none') . " s in [$lo, $hi)");
    return $ok;
}

# the longest the queue and run time of a logged job can add up to: its
# request's time ($request_time: nginx's cached wall clock, whole ms at
# both ends, from the request's first byte to its log line), with 3 ms for
# the roundings and 0.1% for the rates of the two clocks (the job's times
# are monotonic)
sub request_bound ($) {
    my ($e) = @_;
    return $e ? $e->{t} * 1.001 + 0.003 : 0;
}

# a test: the queue and run time of a logged job fit in its request time
sub within_request ($$) {
    my ($e, $name) = @_;
    if (!$e) {
        Test::More::fail("$name: the request is not in the timing log");
        return 0;
    }
    my $sum = ($e->{q} // 0) + ($e->{r} // 0);
    return Test::More::ok($sum <= request_bound($e),
        "$name: queue " . ($e->{q} // '-') . " + run " . ($e->{r} // '-')
        . " <= request time $e->{t}");
}

# wait (bounded) until a line of the block's error log matches; true if
# one did
sub wait_log ($) {
    my ($re) = @_;
    my $file = "$Test::Nginx::Util::LogDir/error.log";
    return wait_for(sub {
        open my $fh, '<', $file or return 0;
        while (my $line = <$fh>) {
            if ($line =~ $re) {
                close $fh;
                return 1;
            }
        }
        close $fh;
        return 0;
    });
}

# the first request of the timing log with that URI (undef if none), and
# its position in the log
sub logged ($@) {
    my ($uri, @log) = @_;
    for my $i (0 .. $#log) {
        return wantarray ? ($log[$i], $i) : $log[$i]
            if $log[$i]{uri} eq $uri;
    }
    return wantarray ? (undef, -1) : undef;
}

1;
