# Reload, graceful quit and fast stop while jobs run (master process on).
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

master_on();
workers(1);
repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri $status $tunny_outcome q=$tunny_queue_time r=$tunny_run_time pool=$tunny_pool';
    access_log logs/error.log tunny;
_EOC_
    $block->set_value('post_main_config', "    tunny_pool one threads=1;\n");
    $block->set_value('config', <<'_EOC_');
    location = /burn {
        tunny_offload one;
        tunny_timeout 10s;
        tunny_burn 1s;
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
_EOC_
});

run_tests();

__DATA__

=== TEST 1: reload while a job runs: the old worker answers it, then exits
--- init
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.2);
my ($master) = TunnyTest::nginx_pids();
kill 'HUP', $master;
Time::HiRes::sleep(0.3);
--- request
GET /fast
--- response_body
fast
--- wait: 1.2
--- error_log eval
[qr/TUNNY \/burn 200 ok q=0\.0[0-4]\d r=1\.0\d\d pool=one/,
 qr/gracefully shutting down/,
 qr/worker process \d+ exited with code 0/]
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 2: graceful quit while a job runs and another waits: both answered
--- init
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.1);
TunnyTest::bg_request('/queued');
Time::HiRes::sleep(0.1);
--- request
GET /fast
--- response_body
fast
--- shutdown_error_log eval
[qr/TUNNY \/burn 200 ok q=0\.0[0-4]\d r=1\.0\d\d pool=one/,
 qr/TUNNY \/queued 200 ok q=0\.[89]\d\d r=0\.01\d pool=one/,
 qr/exit$/]
--- no_shutdown_error_log
[alert]
[crit]



=== TEST 3: fast stop while a job runs: no hang, no crash
--- init
TunnyTest::bg_request('/long');
TunnyTest::bg_request('/queued');
Time::HiRes::sleep(0.3);
my ($master) = TunnyTest::nginx_pids();
my @procs = ($master, TunnyTest::worker_pids());
my $t0 = Time::HiRes::time();
kill 'TERM', $master;
while (grep { !TunnyTest::process_gone($_) } @procs) {
    last if Time::HiRes::time() - $t0 > 5;
    Time::HiRes::sleep(0.02);
}
my $took = Time::HiRes::time() - $t0;
Test::More::ok(!(grep { !TunnyTest::process_gone($_) } @procs),
               "fast stop: every nginx process exited");
Test::More::cmp_ok($took, '<', 1, "fast stop took $took s");
# start again for the rest of the block
my $root = Test::Nginx::Util::server_root();
system($ENV{TEST_NGINX_BINARY} || 'nginx', '-p', "$root/",
       '-c', "$root/conf/nginx.conf") == 0 or die "restart failed";
Time::HiRes::sleep(0.2);
--- request
GET /fast
--- response_body
fast
--- no_error_log
[alert]
[crit]
exited on signal
