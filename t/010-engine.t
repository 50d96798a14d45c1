# The offload engine: pool threads, admission, deadlines, cancellation,
# pool isolation, thread priority, configuration errors.
#
# Timing (docs/TESTING.md): a block's request is sent once the pool is seen
# (through tunny_status) in the state the block is about; "at once" and
# "not blocked" are checked as the order of the requests in the log, and
# durations against the work the block ordered (a burn never ends early)
# and the request's own time, never against a small absolute bound.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

repeat_each(1);
no_shuffle();
log_level('info');

# every block logs its requests into the error log too (TunnyTest's timing
# log), so that --- error_log and --- check_body can check the outcome and
# the times of background requests
add_block_preprocessor(sub {
    my $block = shift;
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        # valgrind runs the threads one at a time and everything 20-50 times
        # slower: the memory checks are the point there, timing checks go
        # with background requests from --- init, which request meets a
        # busy pool depends on timing too, and the block's own request may
        # wait behind theirs (TEST 3 timed out once so in CI)
        $block->set_value('timeout', 30)
            if defined $block->timeout || defined $block->init;
        my @timing = qw(error_log response_headers response_headers_like);
        push @timing, qw(error_code response_body check_body)
            if defined $block->init;
        for my $s (@timing) {
            $block->set_value($s, undef) if defined $block->$s;
        }
        # (no error_code means 200 to Test::Nginx: accept any status)
        $block->set_value('error_code_like', '^[1-5]\d\d$')
            if defined $block->init;
    }
    $block->set_value('http_config', TunnyTest::timing_log_config())
        if !defined $block->http_config;
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
--- check_body
my ($burn) = TunnyTest::logged('/burn', TunnyTest::timing_log('/burn'));
# a burn spins until its end: never shorter than ordered
TunnyTest::between($burn->{r}, 0.020,
                   TunnyTest::request_bound($burn),
                   'run time: 20 ms or more, within the request');
TunnyTest::within_request($burn, 'the 20 ms burn');
--- error_log eval
[qr/tunny_pool "default": \d+ threads, max_queue 64, nice \d+/,
 qr/TUNNY \/burn 200 ok q=\d+\.\d{3} r=\d+\.\d{3} pool=default t=/]
--- no_error_log
[alert]
[crit]



=== TEST 2: not blocking: while a 2 s job runs, the same worker answers
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
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 0);
--- request
GET /fast
--- response_body
fast
--- check_body
my ($bg) = TunnyTest::bg_collect();
Test::More::is($bg->{status}, 200, 'the 2 s job answered');
my @log = TunnyTest::timing_log('/fast', '/burn');
my (undef, $fast) = TunnyTest::logged('/fast', @log);
my ($burn, $at) = TunnyTest::logged('/burn', @log);
Test::More::ok($fast < $at, '/fast was answered while the job still ran');
TunnyTest::between($burn->{r}, 2,
                   TunnyTest::request_bound($burn),
                   'run time: the 2 s burn, within the request');
TunnyTest::within_request($burn, 'the 2 s job');
--- error_log eval
qr/TUNNY \/burn 200 ok q=\d+\.\d{3} r=\d+\.\d{3} pool=one/
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
        tunny_burn 2s;
    }
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 0);
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 1);
--- request
GET /burn
--- error_code: 503
--- response_headers
Retry-After: 7
--- check_body
my @bg = TunnyTest::bg_collect();
Test::More::is("@{[ map { $_->{status} } @bg ]}", '200 200',
               'the running and the queued job answered');
my @burn = grep { $_->{uri} eq '/burn' } TunnyTest::timing_log();
Test::More::is("@{[ map { $_->{status} } @burn ]}", '503 200 200',
               'the 503 came before the running job ended');
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
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 0);
--- request
GET /low
--- error_code: 503
--- response_headers
Retry-After: 1
--- check_body
my ($bg) = TunnyTest::bg_collect();
Test::More::is($bg->{status}, 200, 'the running job answered');
my @log = TunnyTest::timing_log('/low', '/burn');
my (undef, $low) = TunnyTest::logged('/low', @log);
my (undef, $burn) = TunnyTest::logged('/burn', @log);
Test::More::ok($low < $burn, 'the 503 came while the thread was busy');
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
        tunny_burn 2s;
    }
    location = /short {
        tunny_offload one;
        tunny_timeout 300ms;
        tunny_burn 10ms;
        add_header X-Outcome $tunny_outcome always;
        add_header X-Queue $tunny_queue_time always;
        add_header X-Run $tunny_run_time always;
    }
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/burn');
TunnyTest::wait_pool('one', 1, 0);
--- request
GET /short
--- error_code: 504
--- response_headers_like
X-Outcome: timeout
X-Queue: 0\.(29|[3-9]\d)\d
X-Run: -
--- check_body
my ($bg) = TunnyTest::bg_collect();
Test::More::is($bg->{status}, 200, 'the running job answered');
my @log = TunnyTest::timing_log('/short', '/burn');
my ($short, $at) = TunnyTest::logged('/short', @log);
my (undef, $burn) = TunnyTest::logged('/burn', @log);
Test::More::ok($at < $burn, 'the 504 came before the thread was free');
TunnyTest::within_request($short, 'the queued job');
--- error_log eval
[qr/TUNNY \/short 504 timeout q=0\.(29|[3-9]\d)\d r=- pool=one/,
 qr/job timed out in pool "one", answering 504/]
--- no_error_log
[alert]



=== TEST 7: deadline while running: 504, the thread is freed at the deadline
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
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/slow');
TunnyTest::wait_pool('one', 1, 0);
--- request
GET /next
--- timeout: 1.5
--- response_body
tunny_burn: pool "one" 10 ms
--- response_headers_like
X-Queue: 0\.\d\d\d
--- check_body
my ($bg) = TunnyTest::bg_collect();
Test::More::is($bg->{status}, 504, 'the running job: 504');
my ($slow) = TunnyTest::logged('/slow', TunnyTest::timing_log('/slow'));
# the deadline counts from the post: the job was stopped 300 ms after it,
# long before the 3 s burn would end
TunnyTest::between(($slow->{q} // 0) + ($slow->{r} // 0), 0.29, 1.5,
                   'queue + run time of the cancelled job');
TunnyTest::within_request($slow, 'the cancelled job');
--- error_log eval
qr/TUNNY \/slow 504 timeout q=\d+\.\d{3} r=\d+\.\d{3} pool=one/
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
    location = /status {
        tunny_status;
    }
--- init
my $client = TunnyTest::http_send('/burn');
TunnyTest::wait_pool('one', 1, 0);
# the job runs 0.3 s, then its client hangs up
Time::HiRes::sleep(0.3);
close $client;
--- request
GET /next
--- timeout: 1.5
--- response_body
tunny_burn: pool "one" 10 ms
--- check_body
my ($burn) = TunnyTest::logged('/burn', TunnyTest::timing_log('/burn'));
# cancelled at the abort, long before the 3 s burn would end
TunnyTest::between($burn->{r}, 0.29, 1.5, 'run time of the cancelled job');
TunnyTest::within_request($burn, 'the cancelled job');
--- error_log eval
[qr/TUNNY \/burn 499 cancelled q=\d+\.\d{3} r=\d+\.\d{3} pool=one/,
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
        tunny_burn 2s;
    }
    location = /burn {
        tunny_offload one;
        tunny_burn 3s;
    }
    location = /next {
        tunny_offload one;
        tunny_burn 10ms;
    }
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/first');
TunnyTest::wait_pool('one', 1, 0);
my $client = TunnyTest::http_send('/burn');
TunnyTest::wait_pool('one', 1, 1);
# the job waits 0.2 s in the queue, then its client hangs up
Time::HiRes::sleep(0.2);
close $client;
--- request
GET /next
--- timeout: 10
--- response_body
tunny_burn: pool "one" 10 ms
--- check_body
my ($bg) = TunnyTest::bg_collect();
Test::More::is($bg->{status}, 200, 'the running job answered');
my @log = TunnyTest::timing_log('/burn', '/first');
my ($burn, $at) = TunnyTest::logged('/burn', @log);
my (undef, $first) = TunnyTest::logged('/first', @log);
Test::More::ok($at < $first, 'dropped while the first job still ran');
TunnyTest::between($burn->{q}, 0.19, 2, 'queue time of the dropped job');
--- error_log eval
[qr/TUNNY \/burn 499 cancelled q=\d+\.\d{3} r=- pool=one/,
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
    location = /status {
        tunny_status;
    }
--- init
TunnyTest::bg_request('/a');
TunnyTest::bg_request('/a');
TunnyTest::wait_pool('a', 1, 1);
--- request
GET /b
--- response_body
tunny_burn: pool "b" 10 ms
--- check_body
my @bg = TunnyTest::bg_collect();
Test::More::is("@{[ map { $_->{status} } @bg ]}", '200 200',
               'both jobs of pool a answered');
my @log = TunnyTest::timing_log('/b', '/a');
my (undef, $in_b) = TunnyTest::logged('/b', @log);
my (undef, $in_a) = TunnyTest::logged('/a', @log);
Test::More::ok($in_b < $in_a, 'pool b answered before pool a ended a job');
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
# the threads start with the worker (slowly under valgrind)
TunnyTest::wait_for(sub {
    @nice = ();
    for my $stat (glob "/proc/$worker/task/*/stat") {
        open my $fh, '<', $stat or next;
        my $line = <$fh>;
        close $fh;
        my ($comm, $rest) = $line =~ /^\d+ \((.*)\) (.*)$/ or next;
        next if $comm ne 'tunny:one';
        push @nice, (split / /, $rest)[16];
    }
    @nice == 3;
});
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
--- response_headers_like
X-Run: 0\.00\d
