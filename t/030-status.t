# Metrics: tunny_status (Prometheus text, ?format=json) and
# tunny_status health; counters in shared memory across workers and
# reloads.
#
# Block sections of this file (besides the usual ones):
#   --- tunny_workers: N   worker_processes for the block (default 1)
#   --- check_body         Perl run after the block's request with $body
#                          (its response body); it makes its own
#                          Test::More checks (t/lib/TunnyTest.pm).
#                          Helpers: metrics(), jobs(), gauges(),
#                          wait_for() (TunnyTest), hist(), health().
use Test::Nginx::Socket 'no_plan';
use TunnyTest qw(:DEFAULT wait_for metrics jobs gauges);
use JSON::PP ();
use File::Temp ();
use Time::HiRes ();

repeat_each(1);
no_shuffle();
master_on();
log_level('info');

our @LE = qw(0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10
             +Inf);

our $COMMON_CONFIG = <<'_EOC_';
    location = /status {
        tunny_status;
    }
    location = /health {
        tunny_status health;
    }
    location = /fast {
        tunny_offload p;
        tunny_timeout 10s;
        tunny_burn 1ms;
    }
    location = /burn {
        tunny_offload p;
        tunny_timeout 10s;
        tunny_burn 600ms;
    }
    location = /slow {
        tunny_offload p;
        tunny_timeout 10s;
        tunny_burn 1500ms;
    }
    location = /deadline {
        tunny_offload p;
        tunny_timeout 100ms;
        tunny_burn 2s;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    workers($block->tunny_workers // 1);

    $block->set_value('config', $COMMON_CONFIG)
        if !defined $block->config;

    $block->set_value('post_main_config',
                      "    tunny_pool p threads=1 max_queue=2;\n")
        if !defined $block->post_main_config;

    $block->set_value('http_config', <<'_EOC_')
    log_format tunny 'TUNNY $pid $uri $status $tunny_outcome';
    access_log logs/error.log tunny;
_EOC_
        if !defined $block->http_config;

    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n")
        if !defined $block->no_error_log;
});

# { le => cumulative count, sum =>, count => } of a histogram
sub hist ($$;$) {
    my ($name, $pool, $m) = @_;
    $m //= metrics();
    my %h = map {
        $_ => $m->{qq{${name}_bucket{pool="$pool",le="$_"}}}
    } @LE;
    $h{sum} = $m->{qq{${name}_sum{pool="$pool"}}};
    $h{count} = $m->{qq{${name}_count{pool="$pool"}}};
    return \%h;
}

# [status, body] of the health location
sub health () {
    my $res = TunnyTest::http_request('/health');
    return [$res->{status}, $res->{body}];
}

sub promtool () {
    for my $dir (split /:/, "$ENV{PATH}:/usr/bin:/usr/local/bin") {
        return "$dir/promtool" if -x "$dir/promtool";
    }
    return undef;
}

run_tests();

__DATA__

=== TEST 1: Prometheus text: promtool accepts it, every family is there
--- init
my $res = TunnyTest::http_request('/fast');
Test::More::is($res->{status}, 200, 'one job ran');
--- request
GET /status
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- check_body
SKIP: {
    my $promtool = main::promtool();
    Test::More::skip('promtool not installed (Debian package prometheus)', 2)
        if !$promtool;
    my $tmp = File::Temp->new(SUFFIX => '.prom');
    print $tmp $body;
    close $tmp;
    my $out = `$promtool check metrics < $tmp 2>&1`;
    Test::More::is($? >> 8, 0, 'promtool check metrics: exit 0');
    Test::More::is($out, '', 'promtool check metrics: no lint problems');
}
for my $f ([tunny_pool_threads => 'gauge'],
           [tunny_pool_queue_length => 'gauge'],
           [tunny_pool_busy_threads => 'gauge'],
           [tunny_jobs_total => 'counter'],
           [tunny_job_queue_seconds => 'histogram'],
           [tunny_job_run_seconds => 'histogram'],
           [tunny_image_bytes_total => 'counter'])
{
    Test::More::like($body, qr/^# HELP $f->[0] \S.*\n# TYPE $f->[0] $f->[1]\n/m,
                     "HELP and TYPE of $f->[0]");
}
my $m = main::metrics($body);
Test::More::is_deeply(main::jobs('p', $m),
                      { ok => 1, error => 0, rejected => 0, timeout => 0,
                        cancelled => 0, closed => 0 },
                      'all six outcomes, one ok');
Test::More::is_deeply(main::gauges('p', $m), [1, 0, 0],
                      'threads 1, queue 0, busy 0');
for my $name (qw(tunny_job_queue_seconds tunny_job_run_seconds)) {
    my $h = main::hist($name, 'p', $m);
    my @c = map { $h->{$_} } @main::LE;
    Test::More::ok(!grep({ !defined } @c), "$name: all 14 buckets");
    Test::More::ok(!grep({ $c[$_] < $c[$_ - 1] } 1 .. $#c),
                   "$name: cumulative");
    Test::More::is($h->{count}, $h->{'+Inf'}, "$name: _count == +Inf");
    Test::More::is($h->{count}, 1, "$name: one observation");
}
Test::More::is($m->{'tunny_image_bytes_total{pool="p",direction="in"}'}, 0,
               'image bytes in');
Test::More::is($m->{'tunny_image_bytes_total{pool="p",direction="out"}'}, 0,
               'image bytes out');



=== TEST 2: two workers: N requests count N, whichever worker answers
--- tunny_workers: 2
--- post_main_config
    tunny_pool p threads=2;
--- init
my $ok = 0;
for (1 .. 20) {
    $ok++ if TunnyTest::http_request('/fast')->{status} == 200;
}
Test::More::is($ok, 20, '20 jobs answered');
--- request
GET /status
--- response_body_like
tunny_jobs_total\{pool="p",outcome="ok"\} 20\b
--- check_body
my %seen;
for (1 .. 10) {
    my $m = main::metrics();
    $seen{ main::jobs('p', $m)->{ok} }++;
    $seen{ 'threads ' . main::gauges('p', $m)->[0] }++;
}
Test::More::is_deeply(\%seen, { 20 => 10, 'threads 4' => 10 },
                      'every status answer: ok 20, threads 2 x 2 workers');
my %pids;
open my $log, '<', "$Test::Nginx::Util::LogDir/error.log" or die $!;
while (<$log>) { $pids{$1} = 1 if /TUNNY (\d+) \/(?:fast|status) 200/ }
Test::More::diag(scalar(keys %pids) . ' worker(s) answered');
--- no_error_log
[alert]
[crit]
[emerg]
tunny_stats



=== TEST 3: saturation shows in the gauges and health, and goes away
--- init
Test::More::is_deeply(main::health(), [200, "ok\n"], 'healthy when idle');
TunnyTest::bg_request('/slow');
Test::More::ok(main::wait_for(sub { main::gauges('p')->[2] == 1 }), 'busy');
TunnyTest::bg_request('/slow') for 1 .. 2;
Test::More::ok(main::wait_for(sub { "@{ main::gauges('p') }" eq '1 2 1' }),
               'saturated: threads 1, queue 2, busy 1');
my $h = main::health();
Test::More::is($h->[0], 503, 'health 503 while the queue is at its limit');
Test::More::like($h->[1], qr/^pool "p": queue 2\/2/, 'health reason');
Test::More::is(TunnyTest::http_request('/slow')->{status}, 503,
               'the 4th job is refused');
my @res = TunnyTest::bg_collect();
Test::More::is(join(' ', map { $_->{status} } @res), '200 200 200',
               'the 3 admitted jobs ran');
Test::More::ok(main::wait_for(sub { "@{ main::gauges('p') }" eq '1 0 0' }),
               'idle again: threads 1, queue 0, busy 0');
Test::More::is_deeply(main::health(), [200, "ok\n"], 'healthy again');
--- request
GET /status
--- check_body
Test::More::is_deeply(main::jobs('p', main::metrics($body)),
                      { ok => 3, error => 0, rejected => 1, timeout => 0,
                        cancelled => 0, closed => 0 },
                      'ok 3, rejected 1');



=== TEST 4: outcome ok: exactly one counter moves
--- init
Test::More::is(TunnyTest::http_request('/fast')->{status}, 200, 'status 200');
--- request
GET /status
--- check_body
Test::More::is_deeply(main::jobs('p', main::metrics($body)),
                      { ok => 1, error => 0, rejected => 0, timeout => 0,
                        cancelled => 0, closed => 0 }, 'ok +1');



=== TEST 5: outcome rejected (503): exactly one counter moves
--- post_main_config
    tunny_pool p threads=1 max_queue=1;
--- init
TunnyTest::bg_request('/slow');
Test::More::ok(main::wait_for(sub { main::gauges('p')->[2] == 1 }), 'busy');
TunnyTest::bg_request('/slow');
Test::More::ok(main::wait_for(sub { main::gauges('p')->[1] == 1 }),
               'queue full');
Test::More::is(TunnyTest::http_request('/fast')->{status}, 503, 'status 503');
--- request
GET /status
--- check_body
Test::More::is_deeply(main::jobs('p', main::metrics($body)),
                      { ok => 0, error => 0, rejected => 1, timeout => 0,
                        cancelled => 0, closed => 0 }, 'rejected +1');
my $h = main::hist('tunny_job_queue_seconds', 'p', main::metrics($body));
Test::More::is($h->{count}, 0, 'a refused job has no queue time');
TunnyTest::bg_collect();



=== TEST 6: outcome timeout (504) while running: no run time observed
--- init
Test::More::is(TunnyTest::http_request('/deadline')->{status}, 504,
               'status 504');
--- request
GET /status
--- check_body
my $m = main::metrics($body);
Test::More::is_deeply(main::jobs('p', $m),
                      { ok => 0, error => 0, rejected => 0, timeout => 1,
                        cancelled => 0, closed => 0 }, 'timeout +1');
Test::More::is(main::hist('tunny_job_queue_seconds', 'p', $m)->{count}, 1,
               'its queue time is observed');
Test::More::is(main::hist('tunny_job_run_seconds', 'p', $m)->{count}, 0,
               'its incomplete run is not');



=== TEST 7: outcome timeout (504) while queued: queue time ~ the deadline
--- init
TunnyTest::bg_request('/slow');
Test::More::ok(main::wait_for(sub { main::gauges('p')->[2] == 1 }), 'busy');
Test::More::is(TunnyTest::http_request('/deadline')->{status}, 504,
               'status 504');
--- request
GET /status
--- check_body
my $m = main::metrics($body);
Test::More::is(main::jobs('p', $m)->{timeout}, 1, 'timeout +1');
my $h = main::hist('tunny_job_queue_seconds', 'p', $m);
Test::More::is($h->{count}, 1, 'one queue time');
Test::More::is($h->{'0.05'}, 0, 'not under 50 ms');
# the deadline is 100 ms; the slow job it waited behind takes 1.5 s
Test::More::is($h->{'0.5'}, 1, 'under 500 ms');
Test::More::is(main::hist('tunny_job_run_seconds', 'p', $m)->{count}, 0,
               'never ran');
TunnyTest::bg_collect();
Test::More::is(main::jobs('p')->{ok}, 1, 'the slow job then completed');



=== TEST 8: outcome cancelled (client abort): exactly one counter moves
--- init
TunnyTest::http_request('/slow', abort_after => 0.2);
Test::More::ok(main::wait_for(sub { main::jobs('p')->{cancelled} == 1 }),
               'cancelled +1');
Test::More::ok(main::wait_for(sub { main::gauges('p')->[2] == 0 }),
               'the thread stopped');
--- request
GET /status
--- check_body
Test::More::is_deeply(main::jobs('p', main::metrics($body)),
                      { ok => 0, error => 0, rejected => 0, timeout => 0,
                        cancelled => 1, closed => 0 }, 'only cancelled');



=== TEST 9: a 600 ms job lands in the le="1" bucket; _count == ok+error
--- init
Test::More::is(TunnyTest::http_request('/burn')->{status}, 200, 'status 200');
--- request
GET /status
--- check_body
my $m = main::metrics($body);
my $run = main::hist('tunny_job_run_seconds', 'p', $m);
# a burn never ends early; 400 ms above it is the slack for a busy machine
Test::More::is($run->{'0.5'}, 0, 'run: not in le=0.5');
Test::More::is($run->{'1'}, 1, 'run: in le=1');
Test::More::is($run->{'+Inf'}, 1, 'run: +Inf');
Test::More::ok($run->{sum} >= 0.6 && $run->{sum} < 1,
               "run: _sum $run->{sum} in [0.6, 1)");
my $j = main::jobs('p', $m);
Test::More::is($run->{count}, $j->{ok} + $j->{error}, '_count == ok+error');
my $q = main::hist('tunny_job_queue_seconds', 'p', $m);
Test::More::is($q->{count}, 1, 'queue: one observation');
Test::More::is($q->{'0.5'}, 1, 'queue: short (an idle thread took it)');



=== TEST 10: counters survive a reload; a pool added by it starts at 0
--- tunny_workers: 2
--- init
for (1 .. 3) {
    Test::More::is(TunnyTest::http_request('/fast')->{status}, 200,
                   'status 200');
}
Test::More::is(main::jobs('p')->{ok}, 3, 'ok 3 before the reload');
my @old = TunnyTest::worker_pids();
# the reload also adds a pool
open my $conf, '>>', $Test::Nginx::Util::ConfFile or die $!;
print $conf "\ntunny_pool q threads=1;\n";
close $conf;
my ($master) = TunnyTest::nginx_pids();
kill 'HUP', $master;
Test::More::ok(main::wait_for(sub {
                   !grep { !TunnyTest::process_gone($_) } @old
               }, 10), 'the old workers exited');
Test::More::is(TunnyTest::http_request('/fast')->{status}, 200,
               '200 after the reload');
--- request
GET /status
--- check_body
my $m = main::metrics($body);
Test::More::is(main::jobs('p', $m)->{ok}, 4, 'ok 3 + 1 after the reload');
Test::More::is(main::hist('tunny_job_run_seconds', 'p', $m)->{count}, 4,
               'the histogram survived too');
Test::More::is_deeply(main::gauges('p', $m), [2, 0, 0],
                      'gauges of the new workers only');
Test::More::is_deeply(main::jobs('q', $m),
                      { ok => 0, error => 0, rejected => 0, timeout => 0,
                        cancelled => 0, closed => 0 }, 'new pool q at 0');
Test::More::is(main::gauges('q', $m)->[0], 2, 'q: 1 thread x 2 workers');



=== TEST 11: JSON parses and carries the numbers of the Prometheus text
--- init
TunnyTest::http_request('/fast') for 1 .. 2;
TunnyTest::http_request('/deadline');
# the timed-out job runs on as an orphan: the two answers below are taken
# apart in time, so they agree only once it is over
main::wait_for(sub { main::gauges('p', main::metrics())->[2] == 0 }, 30);
--- request
GET /status?format=json
--- response_headers_like
Content-Type: application/json.*
--- check_body
my $j = eval { JSON::PP::decode_json($body) };
Test::More::ok($j, 'JSON::PP parses it') or Test::More::diag($@);
my $p = $j->{pools}{p};
my $m = main::metrics();
Test::More::is_deeply([ @$p{qw(threads queue_length busy_threads)} ],
                      main::gauges('p', $m), 'gauges');
Test::More::is_deeply($p->{jobs}, main::jobs('p', $m), 'jobs');
Test::More::is_deeply($p->{jobs},
                      { ok => 2, error => 0, rejected => 0, timeout => 1,
                        cancelled => 0, closed => 0 }, 'ok 2, timeout 1');
for my $name (qw(queue run)) {
    my $h = main::hist("tunny_job_${name}_seconds", 'p', $m);
    my $js = $p->{"${name}_seconds"};
    Test::More::is_deeply($js->{buckets}, { map { $_ => $h->{$_} } @main::LE },
                          "$name buckets");
    Test::More::is($js->{count}, $h->{count}, "$name count");
    Test::More::is(sprintf('%.9f', $js->{sum}), sprintf('%.9f', $h->{sum}),
                   "$name sum");
}
Test::More::is_deeply($p->{image_bytes},
    { in  => $m->{'tunny_image_bytes_total{pool="p",direction="in"}'},
      out => $m->{'tunny_image_bytes_total{pool="p",direction="out"}'} },
    'image bytes');
Test::More::is($p->{max_queue}, 2, 'max_queue');



=== TEST 12: several pools, names that need escaping
--- post_main_config
    tunny_pool p threads=1 max_queue=2;
    tunny_pool "a\"b" threads=2;
--- request
GET /status
--- check_body
my $m = main::metrics($body);
Test::More::is(main::gauges('a\"b', $m)->[0], 2, 'label value escaped');
Test::More::is(main::gauges('p', $m)->[0], 1, 'the other pool');
my $j = JSON::PP::decode_json(
            TunnyTest::http_request('/status?format=json')->{body});
Test::More::is_deeply([ grep { $_ ne 'default' } sort keys %{ $j->{pools} } ],
                      ['a"b', 'p'], 'JSON keys');



=== TEST 13: outcome error (bad input): exactly one counter moves
--- config
    location = /status {
        tunny_status;
    }
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_offload p;
        tunny_image resize 50 50;
    }
--- init
my $res = TunnyTest::http_request('/img/truncated.jpg');
Test::More::is($res->{status}, 415, 'a truncated JPEG answers 415');
--- request
GET /status
--- check_body
my $m = main::metrics($body);
Test::More::is_deeply(main::jobs('p', $m),
                      { ok => 0, error => 1, rejected => 0, timeout => 0,
                        cancelled => 0, closed => 0 }, 'error +1');
Test::More::is(main::hist('tunny_job_run_seconds', 'p', $m)->{count}, 1,
               'its run is observed: _count == ok + error');
Test::More::ok($m->{'tunny_image_bytes_total{pool="p",direction="in"}'} > 0,
               'the input bytes are counted');
