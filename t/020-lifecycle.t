# Reload, graceful quit and fast stop while jobs run (master process on).
#
# Timing (docs/TESTING.md): signals are sent once tunny_status shows the
# jobs in flight; what follows is waited for (answers, exited processes,
# log lines) with generous bounds, and durations are checked against the
# work ordered, not against small absolute bounds.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

master_on();
workers(1);
repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', TunnyTest::timing_log_config());
    $block->set_value('post_main_config', "    tunny_pool one threads=1;\n");
    $block->set_value('config', <<'_EOC_');
    location = /burn {
        tunny_offload one;
        tunny_timeout 10s;
        tunny_burn 2s;
    }
    location = /long {
        tunny_offload one;
        tunny_timeout 10s;
        tunny_burn 5s;
    }
    location = /queued {
        tunny_offload one;
        tunny_burn 10ms;
    }
    location = /fast {
        return 200 "fast\n";
    }
    location = /status {
        tunny_status;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: reload while a job runs: the old worker answers it, then exits
--- init
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 0);
my ($master) = TunnyTest::nginx_pids();
@main::Old = TunnyTest::worker_pids();
kill 'HUP', $master;
Test::More::ok(TunnyTest::wait_log(qr/gracefully shutting down/),
               'the old worker is shutting down');
--- request
GET /fast
--- response_body
fast
--- check_body
my ($bg) = TunnyTest::bg_collect();
Test::More::is($bg->{status}, 200, 'the job of the old worker answered');
Test::More::ok(TunnyTest::wait_for(sub {
                   !grep { !TunnyTest::process_gone($_) } @main::Old
               }), 'the old worker exited');
TunnyTest::wait_log(qr/worker process \d+ exited with code 0/);
my ($burn) = TunnyTest::logged('/burn', TunnyTest::timing_log('/burn'));
TunnyTest::between($burn->{r}, 2,
                   TunnyTest::request_bound($burn),
                   'run time: the whole 2 s burn, within the request');
--- error_log eval
[qr/TUNNY \/burn 200 ok q=\d+\.\d{3} r=\d+\.\d{3} pool=one/,
 qr/gracefully shutting down/,
 qr/worker process \d+ exited with code 0/]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: graceful quit while a job runs and another waits: both answered
--- init
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 0);
TunnyTest::bg_request('/queued');
TunnyTest::wait_pool('one', 1, 1);
--- request
GET /fast
--- response_body
fast
--- check_body
my ($master) = TunnyTest::nginx_pids();
Test::More::is_deeply(TunnyTest::gauges('one'), [1, 1, 1],
                      'at the quit: one job running, one waiting');
kill 'QUIT', $master;
my @bg = TunnyTest::bg_collect();
Test::More::is("@{[ map { $_->{status} } @bg ]}", '200 200',
               'both jobs answered during the graceful quit');
Test::More::ok(TunnyTest::wait_for(sub { TunnyTest::process_gone($master) }),
               'then nginx exited');
my @log = TunnyTest::timing_log('/burn', '/queued');
my ($burn, $at) = TunnyTest::logged('/burn', @log);
my ($queued, $after) = TunnyTest::logged('/queued', @log);
Test::More::ok($at < $after, 'the waiting job ran after the running one');
TunnyTest::between($burn->{r}, 2,
                   TunnyTest::request_bound($burn),
                   'run time: the whole 2 s burn');
TunnyTest::between($queued->{r}, 0.010,
                   TunnyTest::request_bound($queued),
                   'run time: the whole 10 ms burn of the waiting job');
--- error_log eval
[qr/TUNNY \/burn 200 ok q=\d+\.\d{3} r=\d+\.\d{3} pool=one/,
 qr/TUNNY \/queued 200 ok q=\d+\.\d{3} r=\d+\.\d{3} pool=one/,
 qr/signal 3 \(SIGQUIT\) received/,
 qr/exit$/]
--- no_error_log
[alert]
[crit]



=== TEST 3: fast stop while a job runs: no hang, no crash
--- init
TunnyTest::bg_request('/long');
TunnyTest::wait_pool('one', 1, 0);
TunnyTest::bg_request('/queued');
TunnyTest::wait_pool('one', 1, 1);
my ($master) = TunnyTest::nginx_pids();
my @procs = ($master, TunnyTest::worker_pids());
my $t0 = Time::HiRes::time();
kill 'TERM', $master;
my $gone = TunnyTest::wait_for(sub {
    !grep { !TunnyTest::process_gone($_) } @procs
});
my $took = Time::HiRes::time() - $t0;
Test::More::ok($gone, 'fast stop: every nginx process exited');
# the running job is cancelled: the stop does not wait for its 5 s
Test::More::cmp_ok($took, '<', 2.5, "fast stop took $took s");
# their connections were closed by the stop
TunnyTest::bg_collect();
# start again for the rest of the block
my $root = Test::Nginx::Util::server_root();
system($ENV{TEST_NGINX_BINARY} || 'nginx', '-p', "$root/",
       '-c', "$root/conf/nginx.conf") == 0 or die "restart failed";
TunnyTest::nginx_pids() or die "no pid file after the restart";
--- request
GET /fast
--- response_body
fast
--- no_error_log
[alert]
[crit]
exited on signal
