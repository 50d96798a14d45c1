# More than one machine: a front nginx (stock directives only) spreads
# image URLs over three tunny nodes with "hash $request_uri consistent",
# caches their answers with proxy_cache_lock, and passes a request to the
# next node when one fails (error, timeout) or refuses by admission (503).
# See conf/cluster.conf.
#
# Test::Nginx starts one nginx per block, so the machines are server
# blocks of that nginx: the front on the test port, node1..node3 (node4 in
# the last block) on the next ports.  Each node posts its jobs to its own
# pool (node1, node2, ...), so their admission is separate as on real
# machines; the metrics (tunny_status) of that one nginx carry all the
# pools.  Every node names itself in X-Node, so the client sees who
# answered.
#
# Block sections of this file (besides the usual ones):
#   --- nodes: N               how many nodes (default 3; at most 4)
#   --- node1_queue_limit: N   tunny_queue_limit of node1's image location
#
# The work of a block (hundreds of requests, background clients) is done
# in --- init with Test::More checks; the block's own request then checks
# the state it left.  Helpers: front(), on_node(), via_node(), jobs(),
# gauge(), front_log(), node_log(), wait_for(), node_down(), map_keys(),
# keys_of().
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use IO::Socket::INET ();
use Time::HiRes ();

repeat_each(1);
no_shuffle();
log_level('info');
# 50 background clients at once, plus the upstream connections
worker_connections(256);

our ($FX, @NODES, $HOT, %RING3);

BEGIN {
    $FX = $ENV{TEST_NGINX_FIXTURE_DIR};
    die "040-cluster.t: no fixtures; run ./ngx_tunny_module test, or set "
        . "TEST_NGINX_FIXTURE_DIR to a directory written by "
        . "t/tools/gen-fixtures\n"
        if !$FX || !-f "$FX/quad-land.jpg";
}

@NODES = qw(node1 node2 node3);

# the nodes listen on the ports after the front's
our @PORT = (undef, map { server_port() + $_ } 1 .. 4);
$ENV{"TEST_NGINX_NODE${_}_PORT"} = $PORT[$_] for 1 .. 4;

# a URL nobody asked for before, in this run or an earlier one
$HOT = '/img/quad-land.jpg?hot=' . time() . ".$$";

# How far a node's share of the 300 keys may be from 100, in percent.
# With 160 points per server on the ring (nginx's ketama-like
# "consistent"), a server's share of the ring varies by about
# 1/sqrt(160) = 8% of its mean, and 300 keys drawn on it add about 8%
# more (binomial): about 11% per node.  Which ring we get depends on the
# ports (a server's points are crc32 of "127.0.0.1\0PORT" and of the
# previous point): nginx's ring and these keys simulated for 21326 port
# bases give 9.4% per node, and the worst of the three nodes off by more
# than 30% for 0.36% of the bases, by more than 40% for 0.014%.
our $SPREAD = 40;

our $NODE_LOG_FORMAT = <<'_EOC_';
    log_format node '$sent_http_x_node|$request_uri|$status|$tunny_outcome';
_EOC_

# one tunny node: the image location on its own pool, metrics, a CPU burn
# to saturate it, and a switch that makes it "stopped": while
# html/NAME.down exists the node closes every connection without an answer
# (return 444), which the front sees as an error, as a stopped machine
sub node_server ($$) {
    my ($i, $block) = @_;
    my $limit = '';
    $limit = "tunny_queue_limit " . $block->node1_queue_limit . ";"
        if $i == 1 && defined $block->node1_queue_limit;
    return <<_EOC_;
    server {
        listen 127.0.0.1:\$TEST_NGINX_NODE${i}_PORT;
        root html;
        access_log logs/nodes.log node;

        if (-f \$document_root/node$i.down) {
            return 444;
        }

        location /img/ {
            alias \$TEST_NGINX_FIXTURE_DIR/;
            tunny_offload node$i;
            $limit
            tunny_timeout 30s;
            tunny_image resize 160 160;
            add_header X-Node node$i always;
        }

        location = /burn {
            tunny_offload node$i;
            tunny_timeout 60s;
            tunny_burn 40s;
        }

        location = /metrics {
            tunny_status;
        }
    }
_EOC_
}

# the front's cache and its nodes; passive health checks with a short
# fail_timeout, so that block 3 sees a stopped node come back within
# seconds (conf/cluster.conf: 10s)
sub front_http_config ($) {
    my ($n) = @_;
    my $servers = join '', map {
        "        server 127.0.0.1:\$TEST_NGINX_NODE${_}_PORT"
        . " max_fails=1 fail_timeout=2s;\n"
    } 1 .. $n;
    return <<_EOC_;
    log_format front '\$request_uri|\$status|\$upstream_cache_status|'
                     '\$upstream_status|\$sent_http_x_node';

    proxy_cache_path front_cache levels=1:2 keys_zone=front:1m
                     inactive=10m use_temp_path=off;

    upstream tunny_nodes {
        hash \$request_uri consistent;
$servers        keepalive 8;
    }
_EOC_
}

# the front: no tunny directive; X-Cache-Bypass is a test switch to make
# every request reach a node
our $FRONT_CONFIG = <<'_EOC_';
    location /img/ {
        proxy_pass http://tunny_nodes;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_connect_timeout 2s;
        proxy_read_timeout 30s;

        proxy_next_upstream error timeout http_503;
        proxy_next_upstream_tries 3;
        proxy_next_upstream_timeout 30s;

        proxy_cache front;
        proxy_cache_key $request_uri;
        proxy_cache_valid 200 10m;
        proxy_cache_lock on;
        proxy_cache_lock_timeout 30s;
        proxy_cache_lock_age 30s;
        proxy_cache_bypass $http_x_cache_bypass;
        proxy_no_cache $http_x_cache_bypass;

        add_header X-Cache $upstream_cache_status always;
        access_log logs/front.log front;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my $n = $block->nodes // 3;
    $block->set_value('post_main_config', join '', map {
        "    tunny_pool node$_ threads=1 max_queue=16;\n"
    } 1 .. $n);
    $block->set_value('http_config', $NODE_LOG_FORMAT . front_http_config($n)
                      . join '', map { node_server($_, $block) } 1 .. $n);
    $block->set_value('config', $FRONT_CONFIG);
    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n")
        if !defined $block->no_error_log;
});

# a request through the front, the cache bypassed: it reaches a node
sub front ($) {
    my ($uri) = @_;
    return TunnyTest::http_request($uri, headers => ['X-Cache-Bypass: 1']);
}

# run CODE with TunnyTest's clients aimed at node I instead of the front
sub via_node ($&) {
    my ($i, $code) = @_;
    my $front = server_port();
    server_port($PORT[$i]);
    my @res = eval { $code->() };
    my $err = $@;
    server_port($front);
    die $err if $err;
    return wantarray ? @res : $res[0];
}

# a request straight to node I
sub on_node ($$) {
    my ($i, $uri) = @_;
    return scalar via_node($i, sub { TunnyTest::http_request($uri) });
}

# { "POOL OUTCOME" => count } of tunny_jobs_total
sub jobs () {
    my $body = on_node(1, '/metrics')->{body};
    my %j;
    $j{"$1 $2"} = $3
        while $body =~ /^tunny_jobs_total\{pool="(\w+)",outcome="(\w+)"\}
                        \ (\d+)$/mgx;
    return \%j;
}

# a gauge of a pool, e.g. gauge('busy_threads', 'node1')
sub gauge ($$) {
    my ($name, $pool) = @_;
    my $body = on_node(1, '/metrics')->{body};
    return $body =~ /^tunny_pool_\Q$name\E\{pool="\Q$pool\E"\} (\d+)$/m
           ? $1 : undef;
}

# the lines of an access log under logs/, split on "|"
sub log_lines ($) {
    my ($name) = @_;
    my $file = server_root() . "/logs/$name";
    open my $fh, '<', $file or return ();
    my @lines = map { chomp; [split /\|/, $_, -1] } <$fh>;
    close $fh;
    return @lines;
}

# [uri, status, cache status, upstream statuses, X-Node] per request
sub front_log () { log_lines('front.log') }

# [X-Node, uri, status, tunny outcome] per request a node answered
sub node_log () { log_lines('nodes.log') }

# poll until the condition holds (true) or the time is up (false)
sub wait_for (&;$) {
    my ($cond, $timeout) = @_;
    my $end = Time::HiRes::time() + ($timeout // 10);
    while (Time::HiRes::time() < $end) {
        return 1 if $cond->();
        Time::HiRes::sleep(0.05);
    }
    return $cond->() ? 1 : 0;
}

# switch node I's "stopped" emulation on or off (see node_server)
sub node_down ($$) {
    my ($i, $down) = @_;
    my $file = html_dir() . "/node$i.down";
    if ($down) {
        open my $fh, '>', $file or die "$file: $!";
        close $fh;
    } else {
        unlink $file or die "$file: $!";
    }
}

# request the keys through the front (cache bypassed); returns
# { uri => X-Node } and fails a check for every answer that is not a 200
# from a node
sub map_keys (@) {
    my %map;
    my $bad = 0;
    for my $uri (@_) {
        my $res = front($uri);
        my $node = $res->{headers}{'x-node'} // '';
        if ($res->{status} != 200 || $node !~ /^node\d$/) {
            Test::More::fail("$uri: status $res->{status}, X-Node '$node'")
                if $bad++ < 5;
        }
        $map{$uri} = $node;
    }
    Test::More::is($bad, 0, scalar(@_) . " requests: all 200 from a node");
    return \%map;
}

sub keys_of ($$) {
    my ($map, $node) = @_;
    return grep { $map->{$_} eq $node } sort keys %$map;
}

run_tests();

__DATA__

=== TEST 1: keys spread evenly: 300 URLs, each node answers 100 +- 40%
--- init
my @uris = map { "/img/quad-land.jpg?k=$_" } 1 .. 300;
my $before = main::jobs();
my $map = main::map_keys(@uris);
my $after = main::jobs();
my %count = map { $_ => scalar main::keys_of($map, $_) } @main::NODES;
Test::More::note("key spread: "
                 . join ', ', map { "$_ $count{$_}" } @main::NODES);
for my $node (@main::NODES) {
    Test::More::cmp_ok(abs($count{$node} - 100), '<=', $main::SPREAD,
                       "$node answers $count{$node} of 300 keys");
    # each answer was a job on the pool of the node that answered
    Test::More::is($after->{"$node ok"} - ($before->{"$node ok"} // 0),
                   $count{$node}, "pool $node ran one job per key of $node");
}
# the same key always lands on the same node (asked in another order,
# which a round robin would answer differently)
my @moved = grep { main::front($_)->{headers}{'x-node'} ne $map->{$_} }
            reverse @uris[0 .. 29];
Test::More::is("@moved", '', 'a key asked again lands on the same node');
%main::RING3 = %$map;
--- request
GET /img/quad-land.jpg?k=1
--- response_headers_like
X-Node: node[123]
Content-Type: image/jpeg
X-Cache: MISS



=== TEST 2: a hot image is transformed once: 50 concurrent first requests
--- init
my $before = main::jobs();
# every node's thread busy for 4 s (a burn its client leaves), so that the
# first request's job waits in a queue while the other 49 arrive
for my $i (1 .. 3) {
    main::via_node($i, sub {
        TunnyTest::bg_request('/burn', abort_after => 4)
    });
}
Test::More::ok(main::wait_for(sub {
    3 == grep { (main::gauge('busy_threads', $_) // 0) == 1 } @main::NODES
}, 20), 'the three nodes are busy');
TunnyTest::bg_request($main::HOT) for 1 .. 50;
my @res = TunnyTest::bg_collect();
splice @res, 0, 3;    # the burns
my @status = grep { $_->{status} != 200 } @res;
Test::More::is(scalar @status, 0, '50 concurrent requests: all 200')
    or Test::More::diag(join ' ', map { $_->{status} } @status);
my %bodies = map { $_->{body} => 1 } @res;
Test::More::is(scalar keys %bodies, 1, 'all 50 bodies are identical');
Test::More::like($res[0]{body}, qr/\A\xff\xd8/, 'and a JPEG');
my $after = main::jobs();
my %ended = map { $_ => $after->{$_} - ($before->{$_} // 0) } keys %$after;
my $ran = 0;
$ran += delete $ended{"$_ ok"} for @main::NODES;
Test::More::is($ran, 1, 'exactly one job ran on the nodes');
Test::More::is_deeply({ map { $_ => $ended{$_} } grep { $ended{$_} }
                        keys %ended },
                      { map { ("$_ cancelled" => 1) } @main::NODES },
                      'the burns were cancelled, no job refused or failed');
my @node_hits = grep { $_->[1] eq $main::HOT } main::node_log();
Test::More::is(scalar @node_hits, 1, 'one request reached a node');
my @front = grep { $_->[0] eq $main::HOT } main::front_log();
my %cache;
$cache{$_->[2]}++ for @front;
Test::More::is_deeply(\%cache, { MISS => 1, HIT => 49 },
                      'the front: 1 MISS, 49 HITs that waited on the lock');
--- request eval
"GET $main::HOT"
--- response_headers_like
X-Node: node[123]
X-Cache: HIT



=== TEST 3: a stopped node's keys move to the others, no request fails
--- init
my @uris = map { "/img/quad-land.jpg?k=$_" } 301 .. 390;
my $map = main::map_keys(@uris);
my @mine = main::keys_of($map, 'node3');
Test::More::cmp_ok(scalar @mine, '>', 0, 'node3 owns some keys')
    or return;

main::node_down(3, 1);
my $moved = main::map_keys(@uris);
my @stray = grep { $moved->{$_} !~ /^node[12]$/ } @mine;
Test::More::is("@stray", '', "node3 stopped: its " . scalar(@mine)
               . " keys answered by node1 and node2");
my @shuffled = grep { $map->{$_} ne 'node3' && $moved->{$_} ne $map->{$_} }
               @uris;
Test::More::is("@shuffled", '', 'the keys of node1 and node2 stay put');
my %mine = map { $_ => 1 } @mine;
my @retried = grep { $mine{$_->[0]} && $_->[3] =~ /^(502, )+200$/ }
              main::front_log();
Test::More::cmp_ok(scalar @retried, '>=', 1,
                   'the front saw node3 fail (502) and passed the request on');

# passive health: after fail_timeout (2s) the front tries node3 again
main::node_down(3, 0);
my $back = main::wait_for(sub {
    main::front($mine[0])->{headers}{'x-node'} eq 'node3'
}, 30);
Test::More::ok($back, 'node3 up again: it gets its keys back');
--- request
GET /img/quad-land.jpg?k=1
--- response_headers_like
X-Node: node[123]
--- error_log
upstream prematurely closed connection



=== TEST 4: a saturated node's 503s are absorbed by its neighbours
--- node1_queue_limit: 0
--- init
my @uris = map { "/img/quad-land.jpg?k=$_" } 401 .. 460;
my $map = main::map_keys(@uris);
my @mine = main::keys_of($map, 'node1');
Test::More::cmp_ok(scalar @mine, '>', 0, 'node1 owns some keys')
    or return;

# node1's only thread busy with a burn, held by this connection
my $burn = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => $main::PORT[1],
                                 Proto => 'tcp', Timeout => 5)
    or die "connect to node1: $!";
print $burn "GET /burn HTTP/1.0\r\nHost: localhost\r\n\r\n";
Test::More::ok(main::wait_for(sub {
    (main::gauge('busy_threads', 'node1') // 0) == 1
}, 20), 'node1 saturated: its thread is busy');

my $before = main::jobs();
my $lines = () = main::front_log();
my $moved = main::map_keys(@mine);
my @stray = grep { $moved->{$_} !~ /^node[23]$/ } @mine;
Test::More::is("@stray", '', 'node1 saturated: its ' . scalar(@mine)
               . ' keys answered by node2 and node3');
Test::More::is(main::gauge('busy_threads', 'node1'), 1,
               'node1 was busy all along');
my @front = main::front_log();
my @refused = grep { $_->[3] =~ /^(503, )+200$/ } @front[$lines .. $#front];
Test::More::cmp_ok(scalar @refused, '>=', 1,
                   'the front got 503 from node1 and passed the request on');
my $after = main::jobs();
Test::More::is($after->{'node1 rejected'} - ($before->{'node1 rejected'} // 0),
               scalar @refused, "node1 counted its rejections");
Test::More::is($after->{'node1 ok'} - ($before->{'node1 ok'} // 0), 0,
               'node1 ran no image job');

# the burn is cancelled when its client goes away
close $burn;
Test::More::ok(main::wait_for(sub {
    (main::gauge('busy_threads', 'node1') // 1) == 0
}, 20), 'node1 idle again');
--- request
GET /img/quad-land.jpg?k=1
--- response_headers_like
X-Node: node[123]



=== TEST 5: a fourth node takes only its share: no key moves between the others
--- nodes: 4
--- init
my @uris = map { "/img/quad-land.jpg?k=$_" } 1 .. 300;
Test::More::is(scalar keys %main::RING3, 300, 'the keys of block 1 are known')
    or return;
my $map = main::map_keys(@uris);
my @moved = grep { $map->{$_} ne $main::RING3{$_} } @uris;
my @elsewhere = grep { $map->{$_} ne 'node4' } @moved;
Test::More::is("@elsewhere", '', 'every key that moved went to node4');
my $n = scalar @moved;
Test::More::note("node4 took $n of 300 keys");
Test::More::cmp_ok(abs($n - 75), '<=', 75 * $main::SPREAD / 100,
                   "node4 took $n keys, about a quarter");
--- request
GET /img/quad-land.jpg?k=1
--- response_headers_like
X-Node: node[1234]
