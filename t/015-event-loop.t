# tunny_event_loop: a worker with pools runs its event loop at SCHED_FIFO
# (the pool threads stay SCHED_BATCH), an unprivileged worker too when the
# master starts as root, "normal" leaves it alone, bad parameters fail the
# configuration, and a loop that computes past limit= without sleeping is
# put back to normal scheduling, then made real-time again after retry=.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

repeat_each(1);
no_shuffle();
master_on();
workers(1);

# policy and real-time priority of a thread (fields 41 and 40 of stat)
sub sched_of ($) {
    my ($comm, @f) = TunnyTest::proc_stat($_[0]) or return ();
    return ($comm, $f[38], $f[37]);
}

# { loop => "policy/rtprio", pool => [ "policy/rtprio", ... ] } of the
# worker, once its NAME pool has WANT threads
sub worker_sched ($$) {
    my ($name, $want) = @_;
    my %s;
    TunnyTest::wait_for(sub {
        my ($w) = TunnyTest::worker_pids() or return 0;
        my (undef, $p, $r) = sched_of("/proc/$w") or return 0;
        %s = (loop => "$p/$r", pool => []);
        for my $dir (glob "/proc/$w/task/*") {
            my ($comm, $tp, $tr) = sched_of($dir) or next;
            push @{ $s{pool} }, "$tp/$tr" if $comm eq "tunny:$name";
        }
        return @{ $s{pool} } >= $want;
    });
    return \%s;
}

# the loop's policy once it is WANT (bounded wait); the last one seen
sub wait_loop_policy ($) {
    my ($want) = @_;
    my $p = '';
    TunnyTest::wait_for(sub {
        my ($w) = TunnyTest::worker_pids() or return 0;
        (undef, $p) = sched_of("/proc/$w");
        return defined $p && $p == $want;
    }, 20);
    return $p;
}

# this process's effective capabilities and hard RLIMIT_RTPRIO
sub privileges () {
    my ($caps, $hard) = (0, 0);
    if (open my $fh, '<', '/proc/self/status') {
        while (<$fh>) { $caps = hex $1 if /^CapEff:\s*([0-9a-f]+)/ }
        close $fh;
    }
    if (open my $fh, '<', '/proc/self/limits') {
        while (<$fh>) {
            $hard = $1 eq 'unlimited' ? 99 : $1
                if /^Max realtime priority\s+\S+\s+(\S+)/;
        }
        close $fh;
    }
    return ($caps, $hard);
}

# can a master started by this process give RLIMIT_RTPRIO N to workers
# that are not root (CAP_SYS_RESOURCE, or a hard limit that allows it)?
sub may_raise_rtprio ($) {
    my ($n) = @_;
    my ($caps, $hard) = privileges();
    return ($caps >> 24) & 1 || $hard >= $n;
}

# can its workers (root under Test::Nginx when the suite runs as root, else
# this user) take SCHED_FIFO N?
sub may_realtime ($) {
    my ($n) = @_;
    my ($caps) = privileges();
    return ($> == 0 && ($caps >> 23) & 1) || may_raise_rtprio($n);
}

add_block_preprocessor(sub {
    my $block = shift;
    # unless the block says otherwise: one location on the pool p, asked
    # once
    $block->set_value('config', <<'CONF') if !defined $block->config;
    location = /t {
        tunny_offload p;
        return 200 "ok\n";
    }
CONF
    if (!defined $block->request) {
        $block->set_value('request', "GET /t\n");
        $block->set_value('response_body', "ok\n") if !$block->must_die;
    }
    $Test::Nginx::Util::WorkerUser =
        ($block->name =~ /unprivileged/ && $> == 0) ? 'nobody nogroup'
                                                     : undef;
});

run_tests();

__DATA__

=== TEST 1: by default the loop is SCHED_FIFO 1, the pool threads SCHED_BATCH
--- post_main_config
    tunny_pool p threads=2;
--- init
my $s = main::worker_sched('p', 2);
Test::More::is_deeply($s->{pool}, ['3/0', '3/0'],
                      'the pool threads: SCHED_BATCH');
if (main::may_realtime(1)) {
    Test::More::is($s->{loop}, '1/1', 'the event loop: SCHED_FIFO 1');
    Test::More::ok(TunnyTest::wait_log(
        qr/\[notice\] .*tunny_event_loop: realtime \(SCHED_FIFO 1\), limit 50ms, retry 10000ms/),
        'logged');
} else {
    Test::More::is($s->{loop}, '0/0', 'no privilege: the loop stays normal');
    Test::More::ok(TunnyTest::wait_log(
        qr/\[notice\] .*tunny_event_loop: sched_setscheduler\(SCHED_FIFO 1\) failed, the event loop keeps normal scheduling/),
        'and the log says why');
}



=== TEST 2: an unprivileged worker gets it too (the master raised RLIMIT_RTPRIO)
Only a master that may raise the limit (CAP_SYS_RESOURCE, which root has
outside containers, or a hard limit already high enough) gives it to
workers without privileges; otherwise the worker says why its loop keeps
normal scheduling.
--- post_main_config
    tunny_pool p threads=1;
    tunny_event_loop realtime priority=3;
--- init
my $s = main::worker_sched('p', 1);
if (main::may_raise_rtprio(3)) {
    Test::More::is($s->{loop}, '1/3', 'the loop: SCHED_FIFO priority 3');
} else {
    Test::More::is($s->{loop}, '0/0', 'not root: the loop stays normal');
    Test::More::ok(TunnyTest::wait_log(
        qr/tunny_event_loop: sched_setscheduler\(SCHED_FIFO 3\) failed, the event loop keeps normal scheduling/),
        'and the log says why');
}



=== TEST 3: tunny_event_loop normal leaves the loop alone
--- post_main_config
    tunny_pool p threads=1;
    tunny_event_loop normal;
--- init
my $s = main::worker_sched('p', 1);
Test::More::is($s->{loop}, '0/0', 'the event loop: SCHED_OTHER');
--- no_error_log
tunny_event_loop



=== TEST 4: without pools the module changes nothing
--- config
    location = /t {
        return 200 "ok\n";
    }
--- check_body
my ($w) = TunnyTest::worker_pids();
my (undef, $p) = main::sched_of("/proc/$w");
Test::More::is($p, 0, 'no pool, no real-time loop (after a request)');
--- no_error_log
tunny_event_loop



=== TEST 5: bad parameters fail the configuration
--- post_main_config
    tunny_pool p threads=1;
    tunny_event_loop realtime priority=100;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid tunny_event_loop "priority=100" \(1\.\.99\)/



=== TEST 6: retry= below the timer's second is refused
--- post_main_config
    tunny_pool p threads=1;
    tunny_event_loop realtime retry=500ms;
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid tunny_event_loop "retry=500ms" \(1s\.\.1h\)/



=== TEST 7: a loop that computes past limit= goes back to normal, then real-time again
gzip at level 9 of a few MB of text, in the event loop, answered to a
client that reads as fast as it comes: the loop computes for far longer
than 20 ms without sleeping.  SIGXCPU puts it back to SCHED_OTHER, the
log says so, and after retry= it is SCHED_FIFO again.
--- post_main_config
    tunny_pool p threads=1;
    tunny_event_loop realtime limit=20ms retry=1s;
--- config
    location = /t {
        tunny_offload p;
        return 200 "ok\n";
    }
    location = /big.txt {
        gzip on;
        gzip_comp_level 9;
        gzip_types text/plain;
        gzip_min_length 0;
    }
--- user_files eval
my $seed = 1;
my @w = map { my $s = ''; $s .= chr(97 + (($seed = ($seed * 1103515245 + 12345) % 2147483648) >> 16) % 26) for 1 .. 3 + $_ % 7; $s } 0 .. 4095;
my $text = '';
while (length $text < 8_000_000) {
    $text .= $w[($seed = ($seed * 1103515245 + 12345) % 2147483648) >> 19] . ' ';
}
">>> big.txt\n$text\n"
--- init
my $s = main::worker_sched('p', 1);
Test::More::is($s->{loop}, main::may_realtime(1) ? '1/1' : '0/0',
               'before: SCHED_FIFO where the workers may take it');
--- request
GET /big.txt
--- more_headers
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
--- check_body
SKIP: {
    Test::More::skip('no real-time priority for the workers here', 3)
        if !main::may_realtime(1);
    Test::More::ok(TunnyTest::wait_log(
        qr/\[notice\] .*tunny_event_loop: the event loop ran for 20ms without sleeping, normal scheduling for 1000ms/),
        'the watchdog put the loop back to normal scheduling');
    Test::More::is(main::wait_loop_policy(1), 1,
                   'SCHED_FIFO again after retry=');
    Test::More::ok(TunnyTest::wait_log(
        qr/\[notice\] .*tunny_event_loop: realtime again/), 'and logged');
}
--- error_code: 200
