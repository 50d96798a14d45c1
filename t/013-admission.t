# Admission that thinks: predicted wait (tunny_max_wait), fairness between
# keys (tunny_fair_key, tunny_fair_key_queue), and the rejection reasons.
#
# Timing policy: the pool's estimates are learned from real run times, so
# the assertions leave room for a slow machine: counts in a range, orders
# of completion instead of latencies.  A "blocker" (a long burn in its own
# location, ended by its client going away, so that its cost is never
# learned) keeps the single thread busy while jobs queue behind it; after
# its seed estimate has elapsed it adds nothing to the predicted wait.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

repeat_each(1);
no_shuffle();
log_level('info');

add_block_preprocessor(sub {
    my $block = shift;
    if ($ENV{TEST_NGINX_USE_VALGRIND}) {
        $block->set_value('skip_eval', '1: 1');
    }
    if ($ENV{TEST_NGINX_ASAN} && $block->name =~ /follows the cost/) {
        # its init learns no cost under ASan: no refusal to find in the log
        $block->set_value('error_log', undef);
    }
    if (!defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    log_format tunny 'TUNNY $uri?$args $status $tunny_outcome reason=$tunny_reject_reason';
    access_log logs/error.log tunny;
_EOC_
    }
});

# behind a blocker, N background requests of URI (30 ms apart); returns
# their statuses once all are done (the blocker's client left by then)
sub burst_blocked ($$) {
    my ($uri, $n) = @_;
    block();
    for (1 .. $n) {
        TunnyTest::bg_request($uri);
        Time::HiRes::sleep(0.03);
    }
    my ($blocker, @res) = TunnyTest::bg_collect();
    return map { $_->{status} } @res;
}

# learn a cost: N sequential jobs of MS milliseconds
sub train ($$) {
    my ($n, $ms) = @_;
    for (1 .. $n) {
        my $r = TunnyTest::http_request("/b?ms=$ms");
        die "training: $r->{status}" if $r->{status} != 200;
    }
}

# a blocker of the only thread for 4 s; once its seed estimate (1 s) has
# elapsed, it adds nothing to the predicted wait
sub block () {
    TunnyTest::bg_request('/block', abort_after => 4);
    Time::HiRes::sleep(1.3);
}

run_tests();

__DATA__

=== TEST 1: predicted wait refuses what would wait too long, and follows the cost
--- post_main_config
    tunny_pool p threads=1;
--- config
    tunny_offload p;
    location = /b {
        tunny_max_wait 400ms;
        tunny_burn ${arg_ms}ms;
    }
    location = /block {
        tunny_burn 10s;
    }
--- init
# learned costs under a sanitizer's slowdown say nothing of the rule
return if $ENV{TEST_NGINX_ASAN};
# cheap jobs: about 50 ms each; a job is predicted at its mean cost plus
# three mean deviations, so on a quiet machine 8 fit in 400 ms of
# predicted wait, on a contended one (more spread) fewer, never all 12
main::train(3, 50);
my @cheap = main::burst_blocked('/b?ms=50', 12);
my $ok = grep { $_ == 200 } @cheap;
my $refused = grep { $_ == 503 } @cheap;
Test::More::ok($ok >= 2 && $ok <= 9, "cheap jobs: $ok of 12 admitted (2..9)");
Test::More::is($ok + $refused, 12, 'the others refused');

# the cost changes: 400 ms jobs, and the estimate follows within a few
main::train(5, 400);
my @dear = main::burst_blocked('/b?ms=50', 4);
$ok = grep { $_ == 200 } @dear;
Test::More::is($ok, 1, 'dear jobs: only the first one admitted');

# the queue drained: admitted again
my $r = TunnyTest::http_request('/b?ms=10');
Test::More::is($r->{status}, 200, 'admitted again once drained');
--- request
GET /b?ms=1
--- response_body
tunny_burn: pool "p" 1 ms
--- error_log eval
[qr/TUNNY \/b\?ms=50 503 rejected reason=wait/,
qr/tunny: pool "p" predicted wait exceeds tunny_max_wait \(\d+ ms > 400 ms\), answering 503/]



=== TEST 2: Retry-After of a wait refusal is the predicted wait, rounded up
--- post_main_config
    tunny_pool p threads=1;
--- config
    tunny_offload p;
    location = /b {
        tunny_max_wait 100ms;
        tunny_retry_after 7s;
        tunny_burn 1500ms;
    }
    location = /block {
        tunny_burn 10s;
    }
--- init
TunnyTest::http_request('/b');
main::block();
TunnyTest::bg_request('/b');
Time::HiRes::sleep(0.2);
my $r = TunnyTest::http_request('/b');
TunnyTest::bg_collect();
Test::More::is($r->{status}, 503, 'refused');
Test::More::is($r->{headers}{'retry-after'}, 2,
               'Retry-After: 1.5 s of predicted wait, rounded up');
--- request
GET /nothing
--- error_code: 404



=== TEST 3: a flood from one key does not hold another key back
Six jobs of key "a" come in (one runs, five wait); a job of key "b" comes
in last (within the first job's second: long enough for the requests of a
busy machine to arrive) and is served right after the running one: fair
queuing by key.
--- post_main_config
    tunny_pool p threads=1;
--- config
    tunny_offload p;
    location = /f {
        tunny_fair_key $arg_k;
        tunny_burn 1s;
    }
--- init
for (1 .. 6) {
    TunnyTest::bg_request('/f?k=a');
    Time::HiRes::sleep(0.01);
}
Time::HiRes::sleep(0.05);
TunnyTest::bg_request('/f?k=b');
TunnyTest::bg_collect();
--- request
GET /f?k=c
--- response_body
tunny_burn: pool "p" 1000 ms
--- grep_error_log eval
qr/TUNNY \/f\?k=[ab] \d+/
--- grep_error_log_out eval
["TUNNY /f?k=a 200\nTUNNY /f?k=b 200\n" . ("TUNNY /f?k=a 200\n" x 5)]



=== TEST 4: tunny_fair_key_queue caps one key, not the others
Five jobs of key "a" come in while the first runs (1.5 s: long enough for
the five requests of a busy machine to arrive): one runs, two queue, two
are refused for the key; key "b" is still admitted.
--- post_main_config
    tunny_pool p threads=1;
--- config
    tunny_offload p;
    location = /f {
        tunny_fair_key $arg_k;
        tunny_fair_key_queue 2;
        tunny_burn 1500ms;
    }
--- init
for (1 .. 5) {
    TunnyTest::bg_request('/f?k=a');
    Time::HiRes::sleep(0.03);
}
TunnyTest::bg_request('/f?k=b');
my @st = map { $_->{status} } TunnyTest::bg_collect();
my $bs = pop @st;
Test::More::is_deeply([sort @st], [200, 200, 200, 503, 503],
                      'key a: one running, two queued, two refused');
Test::More::is($bs, 200, 'key b admitted');
--- request
GET /f?k=c
--- response_body
tunny_burn: pool "p" 1500 ms
--- error_log eval
[qr/TUNNY \/f\?k=a 503 rejected reason=key/,
qr/tunny: pool "p" queue of this tunny_fair_key is full, answering 503/]



=== TEST 5: every rejection reason moves its counter by one
--- post_main_config
    tunny_pool p threads=1 max_queue=1;
--- config
    tunny_offload p;
    location = /q {
        tunny_burn 500ms;
    }
    location = /metrics {
        tunny_status;
    }
--- init
for (1 .. 3) {
    TunnyTest::bg_request('/q');
    Time::HiRes::sleep(0.05);
}
TunnyTest::bg_collect();
my $m = TunnyTest::http_request('/metrics')->{body};
my %r = $m =~ /^tunny_rejections_total\{pool="p",reason="(\w+)"\} (\d+)$/mg;
Test::More::is_deeply(\%r, { queue => 1, wait => 0, memory => 0, key => 0,
                             closed => 0 },
                      'one rejection, reason queue');
Test::More::like($m, qr/^tunny_pool_memory_bytes\{pool="p"\} 0$/m,
                 'memory gauge');
Test::More::like($m, qr/^tunny_pool_predicted_wait_seconds\{pool="p"\} \d+\.\d{9}$/m,
                 'predicted wait gauge');
--- request
GET /q
--- response_body
tunny_burn: pool "p" 500 ms



=== TEST 6: a flood of distinct keys stays bounded, and its keys go away
Forty requests with forty distinct 1000-byte keys meet one thread and a
queue of four: a key lives only while its jobs are queued or running, so
at most five keys exist at any time (the gauge never shows more), the
others are refused for the queue, and once the flood is over no key is
left.
--- post_main_config
    tunny_pool p threads=1 max_queue=4;
--- config
    tunny_offload p;
    location = /f {
        tunny_fair_key $arg_k;
        tunny_burn 500ms;
    }
    location = /metrics {
        tunny_status;
    }
--- init
my $keys = sub {
    my $m = TunnyTest::metrics(TunnyTest::http_request('/metrics')->{body});
    return $m->{'tunny_pool_fair_keys{pool="p"}'} // -1;
};
my $max = 0;
for my $i (1 .. 40) {
    TunnyTest::bg_request("/f?k=$i" . ('x' x 1000));
    my $k = $keys->();
    $max = $k if $k > $max;
}
my @st = map { $_->{status} } TunnyTest::bg_collect();
my %n;
$n{$_}++ for @st;
Test::More::ok($max >= 1 && $max <= 5, "at most 5 keys alive (saw $max)");
Test::More::ok(($n{503} // 0) >= 10 && ($n{200} // 0) >= 5
               && ($n{200} // 0) + ($n{503} // 0) == 40,
               'statuses: ' . join(' ', map { "$_ x$n{$_}" } sort keys %n));
Test::More::ok(TunnyTest::wait_for(sub { $keys->() == 0 }),
               'no key left after the flood');
--- request
GET /f?k=last
--- response_body
tunny_burn: pool "p" 500 ms
--- error_log eval
qr/TUNNY \/f\?k=\d+x+ 503 rejected reason=queue/



=== TEST 7: a key served many times keeps paying for each job
Six jobs of key "a" come in (one runs, five wait); once the first is over
and the second runs, a job of key "b" comes in: it is served next, before
the third job of "a".  (The start tag of a key must grow with every job
it is served; a tag that fell back after each job let a busy key tie with
a new one and go first.)
--- post_main_config
    tunny_pool p threads=1;
--- config
    tunny_offload p;
    location = /f {
        tunny_fair_key $arg_k;
        tunny_burn 1s;
    }
--- init
for (1 .. 6) {
    TunnyTest::bg_request('/f?k=a');
    Time::HiRes::sleep(0.01);
}
Test::More::ok(TunnyTest::wait_log(qr/TUNNY \/f\?k=a 200/),
               'the first job of "a" is over');
TunnyTest::bg_request('/f?k=b');
TunnyTest::bg_collect();
--- request
GET /f?k=c
--- response_body
tunny_burn: pool "p" 1000 ms
--- grep_error_log eval
qr/TUNNY \/f\?k=[ab] \d+/
--- grep_error_log_out eval
["TUNNY /f?k=a 200\nTUNNY /f?k=a 200\nTUNNY /f?k=b 200\n"
 . ("TUNNY /f?k=a 200\n" x 4)]
