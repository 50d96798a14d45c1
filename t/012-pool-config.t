# tunny_pool settings do what the log says: the CPU set of threads=N, the
# nice value an unprivileged worker can really get, the stack size range,
# and health while workers (re)start.
use Test::Nginx::Socket 'no_plan';
use TunnyTest;

repeat_each(1);
no_shuffle();
master_on();

# the threads named tunny:NAME of a worker: { tid => [nice, cpus] }
sub pool_threads ($$) {
    my ($pid, $name) = @_;
    my %t;
    for my $dir (glob "/proc/$pid/task/*") {
        my ($tid) = $dir =~ m{/(\d+)$};
        my ($comm, @f) = TunnyTest::proc_stat($dir) or next;
        next if $comm ne "tunny:$name";
        my $nice = $f[16];
        my $cpus = '';
        if (open my $fh, '<', "$dir/status") {
            while (<$fh>) { $cpus = $1 if /^Cpus_allowed_list:\s*(\S+)/ }
            close $fh;
        }
        $t{$tid} = [$nice, $cpus];
    }
    return \%t;
}

# the threads of every worker, once each worker has "want" of them
sub wait_threads ($$) {
    my ($name, $want) = @_;
    my $t0 = Time::HiRes::time();
    my %all;
    while (Time::HiRes::time() - $t0 < 20) {
        %all = ();
        my @w = TunnyTest::worker_pids();
        my $ok = @w > 0;
        for my $w (@w) {
            $all{$w} = pool_threads($w, $name);
            $ok = 0 if keys %{ $all{$w} } < $want;
        }
        last if $ok;
        Time::HiRes::sleep(0.05);
    }
    return \%all;
}

sub self_cpus () {
    open my $fh, '<', '/proc/self/status' or return '';
    while (<$fh>) { return $1 if /^Cpus_allowed_list:\s*(\S+)/ }
    return '';
}

add_block_preprocessor(sub {
    my $block = shift;
    # --- tunny_workers: N   worker_processes for the block (default 1)
    workers($block->tunny_workers // 1);
    # a worker without privileges, even when the suite runs as root
    $Test::Nginx::Util::WorkerUser =
        ($block->name =~ /unprivileged/ && $> == 0) ? 'nobody nogroup'
                                                     : undef;
});

run_tests();

__DATA__

=== TEST 1: threads=N spread over the master's CPUs, not the worker's one
--- tunny_workers: 2
--- main_config
    worker_cpu_affinity 01 10;
--- post_main_config
    tunny_pool p threads=2;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- init
my $all = main::wait_threads('p', 2);
my $master = main::self_cpus();
Test::More::is(scalar(keys %$all), 2, 'two workers');
for my $w (sort keys %$all) {
    my @cpus = map { $_->[1] } values %{ $all->{$w} };
    Test::More::is_deeply(\@cpus, [($master) x 2],
                          "worker $w: both threads on CPUs $master");
}
--- request
GET /t
--- response_body
ok



=== TEST 2: nice=-5 in an unprivileged worker: a warning and the real value
--- post_main_config
    tunny_pool p threads=2 nice=-5;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- init
my $all = main::wait_threads('p', 2);
my ($w) = keys %$all;
my @nice = map { $_->[0] } values %{ $all->{$w} };
Test::More::is_deeply(\@nice, [0, 0], 'threads run at the worker\'s nice 0');
--- request
GET /t
--- response_body
ok
--- error_log eval
[qr/\[warn\] .*tunny_pool "p": nice=-5 is not permitted to this worker .*its threads run at nice 0/,
qr/tunny_pool "p": 2 threads, max_queue 64, nice 0/]
--- no_error_log
nice -5



=== TEST 3: stack= beyond 256m is refused at configuration time
--- post_main_config
    tunny_pool p threads=1 stack=64g;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid stack value "stack=64g" in tunny_pool "p" \(64k\.\.256m\)/



=== TEST 4: health never says "no live threads" while workers start
Reloads start new workers whose many threads take a while to create;
the health answer, polled meanwhile, must count a worker only once its
threads exist.
--- tunny_workers: 2
--- post_main_config
    tunny_pool p threads=256 stack=64k;
--- config
    location = /health {
        tunny_status health;
    }
    location = /t {
        tunny_offload p;
        return 200 "ok\n";
    }
--- init
my $master = (TunnyTest::nginx_pids())[0];
main::wait_threads('p', 256);
my %bad;
my $n = 0;
for my $round (1 .. 5) {
    kill 'HUP', $master;
    my $t0 = Time::HiRes::time();
    while (Time::HiRes::time() - $t0 < 1) {
        my $r = TunnyTest::http_request('/health');
        $n++;
        $bad{"$r->{status} $r->{body}"}++ if $r->{status} != 200;
    }
}
Test::More::ok($n > 50, "health polled $n times during 5 reloads");
Test::More::is_deeply(\%bad, {}, 'health stayed 200');
--- request
GET /health
--- response_body
ok
