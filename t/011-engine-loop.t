# The event loop never waits for a pool thread.  Under the load that made
# the old pool's loop block on its mutex (a worker pinned to one CPU, its
# two nice-19 threads saturated by tunny_burn 0 and held by 50 ms burns),
# strace watches the worker's main thread for futex sleeps: the loop may
# wake threads (FUTEX_WAKE) but must never sleep on one (FUTEX_WAIT*).
# Deterministic: it counts waits, it does not time them, so a slow or
# contended machine does not change the answer.  The old pool, which
# wrote the eventfd under its mutex, showed 30-40 waits in 3 s here
# (longest 5.4 ms).
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use File::Temp ();

repeat_each(1);
no_shuffle();

our $Waits;

# strace -p TID -e trace=futex for SECONDS; returns (calls, waits, lines)
sub loop_futex_waits ($$) {
    my ($tid, $secs) = @_;
    my (undef, $out) = File::Temp::tempfile('tunny-strace-XXXXXX',
                                            TMPDIR => 1, UNLINK => 1);
    system("timeout $secs strace -qq -p $tid -e trace=futex -T -o $out "
           . "2>/dev/null");
    open my $fh, '<', $out or die "strace wrote nothing ($out): is strace "
                                . "installed and may it ptrace nginx?\n";
    my @lines = <$fh>;
    close $fh;
    my @waits = grep { /FUTEX_WAIT/ } @lines;
    splice @waits, 5 if @waits > 5;
    return (scalar @lines, scalar(grep { /FUTEX_WAIT/ } @lines),
            join('', @waits));
}

add_block_preprocessor(sub {
    my $block = shift;
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        # valgrind serialises the threads behind its own lock: nothing to
        # measure there
        $block->set_value('skip_eval', '1: 1');
    }
});

run_tests();

__DATA__

=== TEST 1: a saturated pool never makes the event loop sleep on a lock
--- main_config
    worker_cpu_affinity 01;
--- post_main_config
    tunny_pool p threads=2;
--- config
    location = /burn0 {
        tunny_offload p;
        tunny_burn 0;
    }
    location = /burn50 {
        tunny_offload p;
        tunny_burn 50ms;
    }
    location = /t {
        return 200 "ok\n";
    }
--- init
my ($worker) = TunnyTest::worker_pids();
my $url = "http://127.0.0.1:" . TunnyTest::port();
my @wrk;
for my $load (['-c8', '/burn0'], ['-c2', '/burn50']) {
    my $pid = fork();
    die "fork: $!" if !defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec('wrk', '-t1', $load->[0], '-d5s', "$url$load->[1]")
            or POSIX::_exit(127);
    }
    push @wrk, $pid;
}
Time::HiRes::sleep(0.5);
my ($calls, $waits, $sample) = main::loop_futex_waits($worker, 3);
waitpid $_, 0 for @wrk;
Test::More::ok($calls > 0, "strace saw the loop's futex calls ($calls)");
Test::More::is($waits, 0, "the event loop never slept on a futex")
    or Test::More::diag($sample);
--- request
GET /t
--- response_body
ok
--- no_error_log
[alert]
