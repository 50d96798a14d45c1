# examples/: a third-party module on the public task API
# (src/ngx_http_tunny.h), built apart by examples/build.sh as its own
# dynamic module and loaded after ngx_tunny_module.so: it answers, it is
# refused with 503 when the queue is full, it times out with 504.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

our $SO;

BEGIN {
    my $dir = ($ENV{TEST_NGINX_SERVROOT} || 't/servroot') . '/../example';
    $SO = `examples/build.sh $dir`;
    chomp $SO;
    die "examples/build.sh failed\n" if $? || !-f $SO;
}

$Test::Nginx::Util::LoadModules .= " $SO";

repeat_each(1);
no_shuffle();
log_level('info');

# the answer of the example's run(): FNV-1a over the low bytes of 0..n-1
sub fnv ($) {
    my ($n) = @_;
    use integer;
    my $h = -3750763034362895579;    # 14695981039346656037 as signed
    for my $i (0 .. $n - 1) {
        $h = ($h ^ ($i & 0xff)) * 1099511628211;
    }
    no integer;
    return sprintf('%016x', $h);
}

add_block_preprocessor(sub {
    my $block = shift;
    if ($ENV{TEST_NGINX_USE_VALGRIND} && defined $block->init) {
        $block->set_value('skip_eval', '1: 1');
    }
});

run_tests();

__DATA__

=== TEST 1: the example module answers from the pool
--- config
    location = /sum {
        tunny_example_sum 100000;
    }
--- request
GET /sum
--- response_body eval
"sum " . main::fnv(100000) . " rounds 100000\n"
--- error_log eval
qr/tunny_pool "default": \d+ threads/
--- no_error_log
[alert]
[error]



=== TEST 2: a full queue: 503 with Retry-After
--- post_main_config
    tunny_pool one threads=1 max_queue=1;
--- config
    tunny_offload one;
    location = /long {
        tunny_example_sum 100000000000;
    }
    location = /sum {
        tunny_queue_limit 0;
        tunny_retry_after 3;
        tunny_example_sum 1000;
    }
--- init
TunnyTest::bg_request('/long', abort_after => 1.5);
Time::HiRes::sleep(0.3);
--- request
GET /sum
--- error_code: 503
--- response_headers
Retry-After: 3
--- error_log eval
qr/tunny: pool "one" queue is full, answering 503/
--- no_error_log
[alert]



=== TEST 3: tunny_timeout: 504, the task is cancelled
--- config
    location = /long {
        tunny_timeout 200ms;
        tunny_example_sum 100000000000;
    }
--- request
GET /long
--- error_code: 504
--- error_log eval
qr/tunny: job timed out in pool "default", answering 504/
--- no_error_log
[alert]
