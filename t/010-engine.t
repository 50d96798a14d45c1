# The offload engine: pool threads, admission, deadlines, cancellation,
# pool isolation, thread priority, configuration errors.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

repeat_each(1);
no_shuffle();
log_level('info');

# every block logs its requests into the error log too, so that
# --- error_log can check the outcome of background requests
add_block_preprocessor(sub {
    my $block = shift;
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        # valgrind runs the threads one at a time and everything 20-50 times
        # slower: the memory checks are the point there, timing checks go
        $block->set_value('timeout', 30) if defined $block->timeout;
        my @timing = qw(error_log response_headers response_headers_like);
        # with background requests from --- init, which request meets a
        # busy pool depends on timing too
        push @timing, qw(error_code response_body) if defined $block->init;
        for my $s (@timing) {
            $block->set_value($s, undef) if defined $block->$s;
        }
        # (no error_code means 200 to Test::Nginx: accept any status)
        $block->set_value('error_code_like', '^[1-5]\d\d$')
            if defined $block->init;
    }
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri $status $tunny_outcome q=$tunny_queue_time r=$tunny_run_time pool=$tunny_pool';
    access_log logs/error.log tunny;
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: tunny_burn answers from the default pool
--- config
    location = /burn {
        tunny_burn 20ms;
    }
--- request
GET /burn
--- response_body
tunny_burn: pool "default" 20 ms
--- error_log eval
[qr/tunny_pool "default": \d+ threads, max_queue 64, nice \d+/,
 qr/TUNNY \/burn 200 ok q=0\.0\d\d r=0\.0[2-4]\d pool=default/]
--- no_error_log
[alert]
[crit]



=== TEST 2: not blocking: a 2 s job runs, the same worker answers at once
--- post_main_config
    tunny_pool one threads=1;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 2s;
    }
    location = /fast {
        return 200 "fast\n";
    }
--- init
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.3);
--- request
GET /fast
--- timeout: 0.1
--- response_body
fast
--- wait: 2
--- error_log eval
qr/TUNNY \/burn 200 ok q=0\.0[0-4]\d r=(1\.9[5-9]\d|2\.0\d\d) pool=one/
--- no_error_log
[alert]
[crit]



=== TEST 3: admission: one running, one queued, the third gets 503 at once
--- post_main_config
    tunny_pool one threads=1 max_queue=1;
--- config
    location = /burn {
        tunny_offload one;
        tunny_retry_after 7;
        tunny_burn 1s;
    }
--- init
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.15);
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.15);
--- request
GET /burn
--- timeout: 0.2
--- error_code: 503
--- response_headers
Retry-After: 7
--- error_log eval
[qr/TUNNY \/burn 503 rejected q=- r=- pool=one/,
 qr/pool "one" queue is full, answering 503/]
--- no_error_log
[alert]



=== TEST 4: tunny_queue_limit 0 rejects as soon as the thread is busy
--- post_main_config
    tunny_pool one threads=1 max_queue=10;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 1s;
    }
    location = /low {
        tunny_offload one;
        tunny_queue_limit 0;
        tunny_burn 10ms;
    }
--- init
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.15);
--- request
GET /low
--- timeout: 0.2
--- error_code: 503
--- response_headers
Retry-After: 1
--- no_error_log
[alert]



=== TEST 5: tunny_queue_limit 0 admits while a thread is idle
--- post_main_config
    tunny_pool one threads=1 max_queue=10;
--- config
    location = /low {
        tunny_offload one;
        tunny_queue_limit 0;
        tunny_burn 10ms;
    }
--- request
GET /low
--- error_code: 200
--- response_body
tunny_burn: pool "one" 10 ms



=== TEST 6: deadline while queued: 504, the job never ran
--- post_main_config
    tunny_pool one threads=1;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 1s;
    }
    location = /short {
        tunny_offload one;
        tunny_timeout 300ms;
        tunny_burn 10ms;
        add_header X-Outcome $tunny_outcome always;
        add_header X-Queue $tunny_queue_time always;
        add_header X-Run $tunny_run_time always;
    }
--- init
TunnyTest::bg_request('/burn');
Time::HiRes::sleep(0.1);
--- request
GET /short
--- error_code: 504
--- response_headers_like
X-Outcome: timeout
X-Queue: 0\.(29|3\d)\d
X-Run: -
--- error_log eval
[qr/TUNNY \/short 504 timeout q=0\.(29|3\d)\d r=- pool=one/,
 qr/job timed out in pool "one", answering 504/]
--- no_error_log
[alert]



=== TEST 7: deadline while running: 504, the thread is free within 100 ms
--- post_main_config
    tunny_pool one threads=1;
--- config
    location = /slow {
        tunny_offload one;
        tunny_timeout 300ms;
        tunny_burn 3s;
    }
    location = /next {
        tunny_offload one;
        tunny_burn 10ms;
        add_header X-Queue $tunny_queue_time;
    }
--- init
TunnyTest::bg_request('/slow');
Time::HiRes::sleep(0.1);
--- request
GET /next
--- timeout: 0.5
--- response_body
tunny_burn: pool "one" 10 ms
--- response_headers_like
X-Queue: 0\.[12]\d\d
--- error_log eval
qr/TUNNY \/slow 504 timeout q=0\.0[0-4]\d r=0\.(29|3\d)\d pool=one/
--- no_error_log
[alert]



=== TEST 8: client abort while running: cancelled, the thread is free again
--- post_main_config
    tunny_pool one threads=1;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 3s;
    }
    location = /next {
        tunny_offload one;
        tunny_burn 10ms;
    }
--- init
TunnyTest::bg_request('/burn', abort_after => 0.3);
Time::HiRes::sleep(0.5);
--- request
GET /next
--- timeout: 0.3
--- response_body
tunny_burn: pool "one" 10 ms
--- error_log eval
[qr/TUNNY \/burn 499 cancelled q=0\.0[0-4]\d r=0\.(29|[34]\d)\d pool=one/,
 qr/client prematurely closed connection/]
--- no_error_log
[alert]
[crit]



=== TEST 9: client abort while queued: the job is dropped and never runs
--- post_main_config
    tunny_pool one threads=1;
--- config
    location = /first {
        tunny_offload one;
        tunny_burn 500ms;
    }
    location = /burn {
        tunny_offload one;
        tunny_burn 3s;
    }
    location = /next {
        tunny_offload one;
        tunny_burn 10ms;
    }
--- init
TunnyTest::bg_request('/first');
Time::HiRes::sleep(0.1);
TunnyTest::bg_request('/burn', abort_after => 0.2);
Time::HiRes::sleep(0.5);
--- request
GET /next
--- timeout: 0.3
--- response_body
tunny_burn: pool "one" 10 ms
--- error_log eval
[qr/TUNNY \/burn 499 cancelled q=0\.(19|2\d|3\d)\d r=- pool=one/,
 qr/TUNNY \/first 200 ok/]
--- no_error_log
[alert]
[crit]



=== TEST 10: two pools: pool a saturated does not delay pool b
--- post_main_config
    tunny_pool a threads=1;
    tunny_pool b threads=1;
--- config
    location = /a {
        tunny_offload a;
        tunny_burn 1s;
    }
    location = /b {
        tunny_offload b;
        tunny_burn 10ms;
    }
--- init
TunnyTest::bg_request('/a');
TunnyTest::bg_request('/a');
Time::HiRes::sleep(0.15);
--- request
GET /b
--- timeout: 0.2
--- response_body
tunny_burn: pool "b" 10 ms
--- no_error_log
[alert]



=== TEST 11: pool threads run at the configured nice value
--- post_main_config
    tunny_pool one threads=3 nice=7;
--- config
    location = /burn {
        tunny_offload one;
        tunny_burn 1ms;
    }
--- init
my ($worker) = TunnyTest::worker_pids();
my @nice;
my $t0 = Time::HiRes::time();
# the threads start with the worker; give a slow (valgrind) start time
while (@nice < 3 && Time::HiRes::time() - $t0 < 10) {
    Time::HiRes::sleep(0.05);
    @nice = ();
    for my $stat (glob "/proc/$worker/task/*/stat") {
        open my $fh, '<', $stat or next;
        my $line = <$fh>;
        close $fh;
        my ($comm, $rest) = $line =~ /^\d+ \((.*)\) (.*)$/ or next;
        next if $comm ne 'tunny:one';
        push @nice, (split / /, $rest)[16];
    }
}
Test::More::is(scalar(@nice), 3, "three pool threads in worker $worker");
Test::More::is_deeply(\@nice, [7, 7, 7], "pool threads run at nice 7");
--- request
GET /burn
--- error_code: 200



=== TEST 12: nginx -t: unknown pool, with file and line
--- config
    location = /x {
        tunny_offload nope;
        tunny_burn 1ms;
    }
--- request
GET /x
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown tunny_pool "nope" in \S+nginx\.conf:\d+/



=== TEST 13: nginx -t: bad threads=
--- post_main_config
    tunny_pool x threads=0;
--- config
--- request
GET /
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid threads value "threads=0" in tunny_pool "x" \(1\.\.512 or auto\) in \S+nginx\.conf:\d+/



=== TEST 14: nginx -t: duplicate pool name
--- post_main_config
    tunny_pool x;
    tunny_pool x threads=2;
--- config
--- request
GET /
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate tunny_pool "x", first declared in \S+nginx\.conf:\d+ in \S+nginx\.conf:\d+/



=== TEST 15: variables are empty where no job was involved
--- config
    location = /plain {
        return 200 "[$tunny_outcome][$tunny_queue_time][$tunny_pool]\n";
    }
--- request
GET /plain
--- response_body
[][][]



=== TEST 16: tunny_burn 0 measures the bare per-job overhead
--- config
    location = /burn0 {
        tunny_burn 0;
        add_header X-Run $tunny_run_time;
    }
--- request
GET /burn0
--- response_body
tunny_burn: pool "default" 0 ms
--- response_headers
X-Run: 0.000
