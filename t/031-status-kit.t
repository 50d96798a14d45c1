# The operator's kit: conf/prometheus/tunny.rules.yml (promtool check and
# unit tests), conf/grafana/tunny.json (structure, PromQL syntax), and
# every metric name both use exists in a real tunny_status answer.
#
# Block sections of this file (besides the usual ones):
#   --- check_body   Perl run after the block's request with $body (its
#                    response body); it makes its own Test::More checks.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use File::Basename ();
use File::Temp ();
use JSON::PP ();
use YAML::XS ();

repeat_each(1);
no_shuffle();
master_on();
log_level('info');

our $TOP = File::Basename::dirname(__FILE__) . '/..';
our $RULES = "$TOP/conf/prometheus/tunny.rules.yml";
our $RULES_TEST = "$TOP/conf/prometheus/tunny.rules.test.yml";
our $DASHBOARD = "$TOP/conf/grafana/tunny.json";

our $COMMON_CONFIG = <<'_EOC_';
    location = /status {
        tunny_status;
    }
    location = /fast {
        tunny_offload p;
        tunny_timeout 10s;
        tunny_burn 1ms;
    }
    location = /deadline {
        tunny_offload p;
        tunny_timeout 50ms;
        tunny_burn 1s;
    }
    location /img/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_offload p;
        tunny_image resize 50 50;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('config', $COMMON_CONFIG)
        if !defined $block->config;

    $block->set_value('post_main_config',
                      "    tunny_pool p threads=1 max_queue=2;\n")
        if !defined $block->post_main_config;

    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n")
        if !defined $block->no_error_log;
});

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $code = $block->check_body;
    return if !defined $code || $dry_run;
    my $check = eval "sub { my (\$body) = \@_;\n#line 1 check_body\n$code\n}";
    die "$0 " . $block->name . " - check_body: $@" if $@;
    $check->($body // '');
});


# promtool, from the Debian package prometheus (the driver installs it):
# missing is a failure, not a skip
sub promtool () {
    for my $dir (split /:/, "$ENV{PATH}:/usr/bin:/usr/local/bin") {
        return "$dir/promtool" if -x "$dir/promtool";
    }
    Test::More::fail('promtool not found: apt-get install prometheus '
                     . '(./ngx_tunny_module deps)');
    return undef;
}

# [exit code, output] of a command, stderr included
sub cmd (@) {
    my @cmd = @_;
    my $pid = open my $fh, '-|';
    die "fork: $!" if !defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT or die;
        exec { $cmd[0] } @cmd or die "exec $cmd[0]: $!";
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return [$? >> 8, $out];
}

sub slurp ($) {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

sub rules () { YAML::XS::LoadFile($RULES) }
sub dashboard () { JSON::PP->new->decode(slurp($DASHBOARD)) }

# [where, expr] of every rule
sub rule_exprs () {
    my @e;
    for my $g (@{ rules()->{groups} }) {
        for my $r (@{ $g->{rules} }) {
            push @e, [$r->{record} // $r->{alert}, $r->{expr}];
        }
    }
    return @e;
}

# [where, expr] of every panel target, and the metric of each query
# variable (label_values(METRIC, label) as an expression METRIC)
sub dashboard_exprs () {
    my $d = dashboard();
    my @e;
    my $walk;
    $walk = sub {
        my ($node, $where) = @_;
        if (ref $node eq 'HASH') {
            $where = "panel \"$node->{title}\"" if defined $node->{title};
            push @e, [$where, $node->{expr}]
                if defined $node->{expr} && !ref $node->{expr};
            $walk->($node->{$_}, $where) for sort keys %$node;
        } elsif (ref $node eq 'ARRAY') {
            $walk->($_, $where) for @$node;
        }
    };
    $walk->($d->{panels}, 'panels');
    for my $v (@{ $d->{templating}{list} }) {
        my $q = ref $v->{query} ? $v->{query}{query} : $v->{query};
        push @e, ["variable $v->{name}", $1]
            if $q =~ /^label_values\(\s*([^,]+?)\s*,/;
    }
    return @e;
}

# the metric names a PromQL expression selects: what is left once strings,
# label matchers, ranges, label lists, function calls and keywords are gone
sub promql_names ($) {
    my ($e) = @_;
    $e =~ s/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`//g;
    $e =~ s/\{[^}]*\}//g;
    $e =~ s/\[[^\]]*\]//g;
    $e =~ s/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)//g;
    $e =~ s/\boffset\s+\S+//g;
    my %kw = map { $_ => 1 }
             qw(and or unless bool group_left group_right inf nan);
    my %n;
    while ($e =~ /(?<![\w.:\$])([a-zA-Z_:][\w:]*)(\s*\()?/g) {
        next if defined $2 || $kw{lc $1};
        $n{$1} = 1;
    }
    return sort keys %n;
}

# the sample names of a Prometheus text answer
sub exported_names ($) {
    my ($text) = @_;
    my %n;
    for my $line (split /\n/, $text) {
        $n{$1} = 1 if $line =~ /^([a-zA-Z_:][\w:]*)[{ ]/;
    }
    return \%n;
}

run_tests();

__DATA__

=== TEST 1: promtool check rules: valid, lint clean; every alert documented
--- request
GET /status
--- check_body
my $promtool = main::promtool() or return;
my $r = main::cmd($promtool, 'check', 'rules', '--lint=all', '--lint-fatal',
                   $main::RULES);
Test::More::is($r->[0], 0, 'promtool check rules: exit 0')
    or Test::More::diag($r->[1]);
Test::More::like($r->[1], qr/SUCCESS: \d+ rules found/, 'SUCCESS');
Test::More::unlike($r->[1], qr/warn|lint|duplicate/i, 'no lint findings');
my (%alerts, %records);
for my $g (@{ main::rules()->{groups} }) {
    for my $rule (@{ $g->{rules} }) {
        if (defined $rule->{record}) {
            $records{ $rule->{record} }++;
            Test::More::like($rule->{record}, qr/^tunny:\w+:\w+$/,
                             "$rule->{record}: level:metric:operation");
            next;
        }
        my $a = $rule->{alert};
        $alerts{$a}++;
        Test::More::like($a, qr/^Tunny[A-Z]\w+$/, "$a: named Tunny*");
        Test::More::like($rule->{labels}{severity} // '',
                         qr/^(?:warning|critical)$/, "$a: severity");
        Test::More::ok(length($rule->{annotations}{summary} // ''),
                       "$a: summary");
        Test::More::ok(length($rule->{annotations}{description} // ''),
                       "$a: description");
        Test::More::like($rule->{for} // '', qr/^\d+m$/, "$a: for");
    }
}
Test::More::ok(!grep({ $_ > 1 } values %alerts, values %records),
               'no name used twice');
# what the operations guidance asks for
for my $want (qw(TunnyPoolSaturated TunnyPoolQueueBacklog TunnyJobRunTimeHigh
                 TunnyJobQueueTimeHigh TunnyJobErrorRatioHigh
                 TunnyJobTimeoutRatioHigh TunnyJobRejectionRatioHigh
                 TunnyPoolNoThreads TunnyScrapeDown))
{
    Test::More::ok($alerts{$want}, "alert $want is there");
}



=== TEST 2: promtool test rules: each alert fires on its series, and stays quiet where it must
--- request
GET /status
--- check_body
my $promtool = main::promtool() or return;
my $r = main::cmd($promtool, 'test', 'rules', $main::RULES_TEST);
Test::More::is($r->[0], 0, 'promtool test rules: exit 0')
    or Test::More::diag($r->[1]);
Test::More::like($r->[1], qr/SUCCESS/, 'SUCCESS');
Test::More::unlike($r->[1], qr/FAILED/, 'no FAILED');
my $t = YAML::XS::LoadFile($main::RULES_TEST);
Test::More::is_deeply($t->{rule_files}, ['tunny.rules.yml'],
                      'the tests load the shipped rule file');
my (%fires, %quiet, %exprs);
for my $test (@{ $t->{tests} }) {
    for my $a (@{ $test->{alert_rule_test} || [] }) {
        if (@{ $a->{exp_alerts} || [] }) {
            $fires{ $a->{alertname} }++;
        } else {
            $quiet{ $a->{alertname} }++;
        }
    }
    for my $e (@{ $test->{promql_expr_test} || [] }) {
        $exprs{$_} = 1 for main::promql_names($e->{expr});
    }
}
for my $g (@{ main::rules()->{groups} }) {
    for my $rule (@{ $g->{rules} }) {
        if (defined $rule->{alert}) {
            Test::More::ok($fires{ $rule->{alert} },
                           "$rule->{alert}: a test where it fires");
            Test::More::ok($quiet{ $rule->{alert} },
                           "$rule->{alert}: a test where it must not");
        } else {
            Test::More::ok($exprs{ $rule->{record} },
                           "$rule->{record}: its values are checked");
        }
    }
}
# the unit tests are not vacuous: a rule file with a broken threshold fails
my $dir = File::Temp::tempdir(CLEANUP => 1);
(my $broken = main::slurp($main::RULES))
    =~ s/(tunny_pool_queue_length) > (tunny_pool_threads)/$1 >= $2/
    or Test::More::fail('the backlog rule to break');
open my $fh, '>', "$dir/tunny.rules.yml" or die $!;
print $fh $broken;
close $fh;
open $fh, '>', "$dir/tunny.rules.test.yml" or die $!;
print $fh main::slurp($main::RULES_TEST);
close $fh;
$r = main::cmd($promtool, 'test', 'rules', "$dir/tunny.rules.test.yml");
Test::More::isnt($r->[0], 0, 'a broken rule fails the unit tests');
Test::More::like($r->[1], qr/TunnyPoolQueueBacklog/, '... naming the alert');



=== TEST 3: the Grafana dashboard: schema, datasource input, pool variable, panels, valid PromQL
--- request
GET /status
--- check_body
my $d = eval { main::dashboard() };
Test::More::ok($d, 'valid JSON') or return Test::More::diag($@);
Test::More::cmp_ok($d->{schemaVersion}, '>=', 36, 'schemaVersion >= 36');
Test::More::is($d->{uid}, 'tunny-pools', 'a fixed uid');
Test::More::ok(!defined $d->{id}, 'no instance id (importable)');
my ($in) = grep { $_->{name} eq 'DS_PROMETHEUS' } @{ $d->{__inputs} || [] };
Test::More::is_deeply([ @{ $in || {} }{qw(type pluginId)} ],
                      ['datasource', 'prometheus'],
                      'input DS_PROMETHEUS: a Prometheus datasource');
my %vars = map { $_->{name} => $_ } @{ $d->{templating}{list} };
my $pool = $vars{pool} || {};
Test::More::is(ref $pool->{query} ? $pool->{query}{query} : $pool->{query},
               'label_values(tunny_pool_threads, pool)', 'variable pool');
Test::More::is($pool->{type}, 'query', 'pool: a query variable');
# every datasource reference is the input
my @ds;
my $walk;
$walk = sub {
    my ($n) = @_;
    if (ref $n eq 'HASH') {
        push @ds, $n->{datasource} if exists $n->{datasource};
        $walk->($_) for values %$n;
    } elsif (ref $n eq 'ARRAY') {
        $walk->($_) for @$n;
    }
};
$walk->([$d->{panels}, $d->{templating}]);
Test::More::ok(@ds > 10, scalar(@ds) . ' datasource references');
Test::More::is(scalar(grep { !(ref $_ && $_->{type} eq 'prometheus'
                               && $_->{uid} eq '${DS_PROMETHEUS}') } @ds),
               0, 'all of them ${DS_PROMETHEUS}');
my (%ids, @panels);
for my $p (@{ $d->{panels} }) {
    $ids{ $p->{id} }++;
    my $g = $p->{gridPos};
    Test::More::ok($g->{x} >= 0 && $g->{w} > 0 && $g->{x} + $g->{w} <= 24
                   && $g->{h} > 0,
                   "panel \"$p->{title}\": on the 24-column grid");
    Test::More::ok(@{ $p->{targets} || [] }, "panel \"$p->{title}\": queries");
    push @panels, [$p->{title},
                   join ' ', map { $_->{expr} } @{ $p->{targets} || [] }];
}
Test::More::ok(!grep({ $_ > 1 } values %ids), 'panel ids unique');
# what an operator must see
my $quantiles = sub {
    my $b = quotemeta
        "sum by (pool, le) (rate(tunny_job_$_[0]_seconds_bucket{";
    my $re = join '', map { '(?=.*histogram_quantile\\(' . quotemeta($_)
                            . ", $b)" } qw(0.5 0.95 0.99);
    return qr/$re/;
};
my %want = (
    'throughput by outcome' =>
        qr/sum by \(pool, outcome\) \(rate\(tunny_jobs_total\{[^}]*\}\[/,
    'queue length vs threads' =>
        qr/tunny_pool_queue_length.*tunny_pool_threads/,
    'busy threads' => qr/tunny_pool_busy_threads/,
    'queue p50/p95/p99' => $quantiles->('queue'),
    'run p50/p95/p99' => $quantiles->('run'),
    'rejections and timeouts' =>
        qr/tunny_jobs_total\{[^}]*outcome=~"[^"]*rejected[^"]*timeout/,
    'refusals by reason' =>
        qr/sum by \(pool, reason\) \(rate\(tunny_rejections_total/,
    'image bytes in/out' =>
        qr/sum by \(pool, direction\) \(rate\(tunny_image_bytes_total/,
);
for my $w (sort keys %want) {
    my @hit = grep { $_->[1] =~ $want{$w} } @panels;
    Test::More::ok(@hit, "a panel shows $w")
        and Test::More::note("  $w: \"$hit[0][0]\"");
}
# the queries parse: promtool checks them as recording rules, the
# dashboard variables replaced by what Grafana would put there
my $promtool = main::promtool() or return;
my @e = grep { $_->[0] =~ /^panel/ } main::dashboard_exprs();
my $dir = File::Temp::tempdir(CLEANUP => 1);
open my $fh, '>', "$dir/dashboard.rules.yml" or die $!;
print $fh "groups:\n  - name: dashboard\n    rules:\n";
my $i = 0;
for my $x (@e) {
    (my $q = $x->[1]) =~ s/\$__rate_interval/1m/g;
    $q =~ s/\$(?:instance|pool)\b/.+/g;
    Test::More::unlike($q, qr/\$/, "$x->[0]: no other variable");
    $i++;
    print $fh "      - record: dashboard:q$i:expr\n",
              "        expr: ", JSON::PP->new->encode([$q]) =~ s/^\[|\]$//gr,
              "\n";
}
close $fh;
my $r = main::cmd($promtool, 'check', 'rules', '--lint=none',
                   "$dir/dashboard.rules.yml");
Test::More::is($r->[0], 0, "the $i dashboard queries are valid PromQL")
    or Test::More::diag($r->[1]);



=== TEST 4: every metric in the rules and the dashboard is in a real tunny_status answer
--- init
for (1 .. 5) {
    Test::More::is(TunnyTest::http_request('/fast')->{status}, 200, '/fast');
}
Test::More::is(TunnyTest::http_request('/deadline')->{status}, 504,
               '/deadline');
Test::More::is(TunnyTest::http_request('/img/big.jpg')->{status}, 200,
               'an image resized');
--- request
GET /status
--- response_headers_like
Content-Type: text/plain; version=0.0.4.*
--- check_body
my $have = main::exported_names($body);
Test::More::ok($have->{'tunny_jobs_total'}, 'the answer has tunny_jobs_total')
    or Test::More::diag($body);
Test::More::like($body,
                 qr/^tunny_image_bytes_total
                    \{pool="p",direction="out"\}\ [1-9]/mx,
                 'load: image bytes counted');
Test::More::like($body,
                 qr/^tunny_jobs_total\{pool="p",outcome="timeout"\} 1$/m,
                 'load: a timeout counted');
my %records;
for my $g (@{ main::rules()->{groups} }) {
    $records{ $_->{record} } = 1 for grep { $_->{record} } @{ $g->{rules} };
}
my %used;
for my $x (main::rule_exprs(), main::dashboard_exprs()) {
    my @n = main::promql_names($x->[1]);
    Test::More::ok(@n, "$x->[0]: selects a metric") or next;
    push @{ $used{$_} }, $x->[0] for @n;
}
Test::More::cmp_ok(scalar(keys %used), '>=', 12,
                   scalar(keys %used) . ' metric names used');
for my $n (sort keys %used) {
    my $where = join ', ', grep { defined } @{ $used{$n} }[0, 1];
    if ($n =~ /:/) {
        Test::More::ok($records{$n},
                       "$n: a recording rule of the file ($where)");
    } elsif ($n eq 'up') {
        Test::More::pass("up: Prometheus' own ($where)");
    } else {
        Test::More::ok($have->{$n}, "$n: exported by tunny_status ($where)");
    }
}
# and the other way round: nothing exported is left out
for my $n (sort keys %$have) {
    Test::More::ok($used{$n}, "$n: used by the rules or the dashboard");
}
# the name extraction finds what it must: a misspelt metric is caught
Test::More::is_deeply(
    [ main::promql_names('sum by (pool, le) (rate(tunny_job_runs_seconds_'
                         . 'bucket{pool=~"$pool",le!="+Inf"}[$__rate_interval]'
                         . ')) / ignoring (le) group_left tunny:jobs:rate5m '
                         . '> bool 0.5e1') ],
    ['tunny:jobs:rate5m', 'tunny_job_runs_seconds_bucket'],
    'promql_names: selectors only');
Test::More::ok(!$have->{tunny_job_runs_seconds_bucket},
               'a misspelt name is not exported: it would fail above');
