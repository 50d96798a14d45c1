package Test::Nginx::Socket;

# A small, dependency-light re-implementation of openresty's
# Test::Nginx::Socket (test-nginx 0.29) for this project.  Test files
# written for upstream run unchanged:
#
#     use Test::Nginx::Socket 'no_plan';          # or
#     use Test::Nginx::Socket; plan tests => repeat_each() * N * blocks();
#     run_tests();
#     __DATA__
#     === TEST 1: ...
#
# Only core perl + Test::Base (libtest-base-perl) are needed.
# Test::LongString is used for is_string() diagnostics when installed.
#
# Checks are emitted exactly like upstream, so upstream plan counts hold:
#   per request (x repeat_each): 1 status code, 1 per response_headers(_like)
#   entry, 1 for response_body / response_body_like / response_body_unlike,
#   1 per raw_response_headers_like/unlike; per repeat: 1 per error_log
#   pattern, 1 per no_error_log pattern, 1 for grep_error_log_out, 1 per
#   access_log / no_access_log pattern (also after every intermediate request
#   of a multi-request block, like upstream); per block: 1 per
#   shutdown_error_log / no_shutdown_error_log pattern (checked when nginx is
#   stopped, i.e. at the start of the next block or at END); tcp_query and
#   tcp_query_len: 1 each per repeat.  Extra *failing* tests are emitted (as
#   upstream does) for client timeouts without --- abort, connection
#   failures, bad chunked bodies, "Assertion ... failed" error-log lines and
#   (our addition) valgrind errors.
#
# Not implemented (sections ignored): http2/http3/curl-based requests,
# stap*, TEST_NGINX_CHECK_LEAK, TEST_NGINX_BENCHMARK, TEST_NGINX_USE_HUP
# (nginx is always restarted for each block), udp_listen, skip_slave,
# skip_openssl, todo_nginx, charset, response_body_eval/request_eval
# (deprecated upstream), server_addr_for_client.
#
# Deviations from upstream:
#   * all *_temp_path directives of the http{} block point into the server
#     root (servroot/<x>_temp) unless --- http_config sets them itself;
#   * the nginx binary defaults to "nginx" from PATH, else /usr/sbin/nginx;
#   * when nginx fails to start we retry for 10s (upstream: 30s), see
#     TEST_NGINX_START_RETRY_TIME;
#   * TEST_NGINX_USE_VALGRIND: nginx runs in the foreground under
#     "valgrind -q --tool=memcheck --leak-check=full ..." (upstream options),
#     with --log-file=servroot/logs/valgrind.<pid>.log; after every block
#     nginx is stopped (as upstream does) and each valgrind error record
#     (Invalid read/write/free, uninitialised, definitely/indirectly lost,
#     ...) becomes one failing test "<name> - valgrind reported N error(s)";
#     an nginx that does not exit within 60 s of SIGQUIT (and then
#     SIGTERM) is killed, and that fails the block too: valgrind's leak
#     check runs at exit, a killed process has none.
#     TEST_NGINX_VALGRIND_FILTER=<regex> restricts that to records
#     matching the regex (e.g. "ngx_http_tunny").  Upstream only prints
#     the valgrind output on stderr;
#   * TEST_NGINX_HTML_DIR is exported (upstream: only in ::Lua).
#   * multi-packet requests (request eval [[...]]): the generated headers
#     are put into the first packet; later packet boundaries are kept as
#     written (upstream re-maps each boundary).

use lib 'lib';
use lib 'inc';

use Test::Base -Base;

our $VERSION = '0.29-lite';

use POSIX qw( EAGAIN EINTR );
use Time::HiRes qw( sleep time );
use IO::Select ();
use IO::Socket::INET;
use Socket qw( IPPROTO_TCP );
use List::Util qw( min );
use Digest::MD5 ();

use Test::Nginx::Util;

our @EXPORT = qw( env_to_nginx is_str plan run_tests run_test
  repeat_each config_preamble worker_connections
  master_process_enabled
  no_long_string workers master_on master_off
  log_level no_shuffle no_root_location use_hup
  server_name
  server_addr server_root servroot html_dir server_port server_port_for_client
  timeout no_nginx_manager check_accum_error_log
  add_block_preprocessor bail_out add_cleanup_handler
  add_response_body_check done_testing
);

# Test::Base does not re-export done_testing (upstream therefore lacks it
# too); we export a thin wrapper so that "run_tests(); done_testing();" works.
sub done_testing (@) {
    Test::More::done_testing(@_);
}

our $TotalConnectingTimeouts = 0;
our @ResponseBodyChecks;

sub value_contains ($$);

$RunTestHelper         = \&run_test_helper;
$CheckErrorLog         = \&check_error_log;
$CheckShutdownErrorLog = \&check_shutdown_error_log;

sub run_test ($) {
    Test::Nginx::Util::run_test($_[0]);
}

sub set_http_config_filter ($) {
    $FilterHttpConfig = shift;
}

sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}

# ---------------------------------------------------------------------------
# request construction

sub parse_more_headers ($) {
    my ($in) = @_;
    my $out = '';
    my $is_chunked;
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val //= '';
        $is_chunked = 1
            if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Turns "METHOD [URI [VERSION]]\n<body>" (possibly split into packets) into
# a full HTTP request, returning the list of packets.
sub build_request ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn_header, $packets) = @_;

    my $first = $packets->[0];
    $first = '' if !defined $first;

    my $all = join '', map { defined $_ ? $_ : '' } @$packets;

    my ($line, $content);
    if ($all =~ /\A([^\n]*)\n?(.*)\z/s) {
        ($line, $content) = ($1, $2);
    }
    if (!defined $line || $line !~ /\S/) {
        bail_out("$name - Request line should be non-empty");
    }

    my ($meth, $uri, $ver);
    if ($line =~ /^\s*(\S+) *(?:(\S+) *)?(?:(\S+) *)?\s*$/) {
        ($meth, $uri, $ver) = ($1, $2, $3);
    } else {
        bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' but got \"$line\".");
    }
    $uri //= '/';
    $ver //= 'HTTP/1.1';

    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';
    $headers .= "Host: $ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn_header\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    my $head = "$meth $uri $ver\r\n$headers";

    if (@$packets <= 1) {
        return ["$head$content"];
    }

    # several packets: keep the boundaries of the body part
    my @out;
    my $first_len = length $first;
    my $line_len = length($line) + 1;    # incl. "\n"
    if ($first_len <= $line_len) {
        # request line spans several packets: send the head at once
        push @out, $head;
        my $consumed = $first_len;
        for my $i (1 .. $#$packets) {
            my $p = $packets->[$i] // '';
            my $start = $consumed;
            $consumed += length $p;
            next if $consumed <= $line_len;
            push @out, $start < $line_len ? substr($p, $line_len - $start) : $p;
        }
    } else {
        push @out, $head . substr($first, $line_len);
        push @out, map { defined $_ ? $_ : '' } @$packets[1 .. $#$packets];
    }
    return \@out;
}

sub get_req_from_block ($) {
    my ($block) = @_;
    my $name = $block->name;
    my @req_list;

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        if (ref $raw && ref $raw eq 'ARRAY') {
            push @req_list, [map { { value => $_ } } @$raw];
        } else {
            push @req_list, [{ value => $raw }];
        }
        return \@req_list;
    }

    my $request = $block->request;
    if (defined $request && !ref $request) {
        1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
    }

    my $more_headers = $block->more_headers || '';

    my $hdr_for = sub {
        my ($i) = @_;
        if (ref $more_headers eq 'ARRAY') {
            my $h = $more_headers->[$i];
            bail_out("--- more_headers lacks data for the ${i}th request")
                if !defined $h;
            return parse_more_headers($h);
        }
        return parse_more_headers($more_headers);
    };

    if (my $reqs = $block->pipelined_requests) {
        if (!ref $reqs || ref $reqs ne 'ARRAY') {
            bail_out("$name - invalid entries in --- pipelined_requests");
        }
        my $prq = '';
        my $i = 0;
        for my $r (@$reqs) {
            my $conn = $i == @$reqs - 1 ? 'close' : 'keep-alive';
            my ($hdr, $chunked) = $hdr_for->($i);
            $prq .= build_request($name, $hdr, $chunked, $conn, [$r])->[0];
            $i++;
        }
        push @req_list, [{ value => $prq }];
        return \@req_list;
    }

    if (!defined $request) {
        return \@req_list;
    }

    if (!ref $request) {
        my ($hdr, $chunked) = $hdr_for->(0);
        push @req_list,
          [{ value => build_request($name, $hdr, $chunked, 'close', [$request])->[0] }];

    } elsif (ref $request eq 'ARRAY') {
        my $i = 0;
        for my $one (@$request) {
            my ($hdr, $chunked) = $hdr_for->($i);
            if (!ref $one) {
                push @req_list,
                  [{ value => build_request($name, $hdr, $chunked, 'close', [$one])->[0] }];

            } elsif (ref $one eq 'ARRAY') {
                my @packets;
                for my $p (@$one) {
                    if (!ref $p) {
                        push @packets, $p;
                    } elsif (ref $p eq 'HASH') {
                        push @packets, $p->{value};
                    } else {
                        bail_out("$name - Invalid syntax. $p should be a string or hash with value.");
                    }
                }
                my $out = build_request($name, $hdr, $chunked, 'close', \@packets);
                my @req;
                for my $idx (0 .. $#$out) {
                    my $orig = $one->[$idx];
                    if (ref $orig eq 'HASH') {
                        push @req, { %$orig, value => $out->[$idx] };
                    } else {
                        push @req, { value => $out->[$idx] };
                    }
                }
                push @req_list, \@req;
            } else {
                bail_out("$name - Invalid syntax. $one should be a string or an array of packets.");
            }
            $i++;
        }
    } else {
        bail_out("$name - invalid ---request : MUST be string or array of requests");
    }

    return \@req_list;
}

# ---------------------------------------------------------------------------
# the client

sub connect_to_server ($$) {
    my ($block, $timeout) = @_;
    my $name = $block->name;

    # nginx may need a moment to listen (e.g. under valgrind): retry like
    # upstream does (up to 50 tries, backing off to 1 sec).
    my $total_tries = $TotalConnectingTimeouts ? 20 : 50;
    my $err;
    for my $tries (1 .. $total_tries + 1) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $ServerAddr,
            PeerPort => $ServerPortForClient,
            Proto    => 'tcp',
            Timeout  => $timeout,
        );
        if ($sock) {
            $sock->blocking(0);
            return $sock;
        }
        $err = $!;
        last if $tries > $total_tries;

        if (defined $Test::Nginx::Util::ChildPid) {
            if (waitpid($Test::Nginx::Util::ChildPid, POSIX::WNOHANG()) != 0) {
                warn "WARNING: Child process $Test::Nginx::Util::ChildPid is already gone.\n";
                undef $Test::Nginx::Util::ChildPid;
                my $tb = Test::More->builder;
                $tb->no_ending(1);
                Test::More::fail("$name - Can't connect to $ServerAddr:$ServerPortForClient: $err (aborted)\n");
                return undef;
            }
        }

        my $wait = (sleep_time() + sleep_time() * $tries) * $tries / 2;
        $wait = 1 if $wait >= 1;
        if ($wait >= 0.6) {
            warn "$name - Can't connect to $ServerAddr:$ServerPortForClient: $err\n"
                 . "\tRetry connecting after $wait sec\n";
        }
        sleep $wait;
    }

    my $msg = "$name - Can't connect to $ServerAddr:$ServerPortForClient: $err (aborted)\n";
    if (++$TotalConnectingTimeouts < 3) {
        my $tb = Test::More->builder;
        $tb->no_ending(1);
        Test::More::fail($msg);
    } else {
        bail_out($msg);
    }
    return undef;
}

sub send_request ($$$$) {
    my ($req, $middle_delay, $timeout, $block) = @_;
    my $name = $block->name;

    my @bits = ref $req ? @$req : ({ value => $req });

    my $head_req = (join('', map { $_->{value} // '' } @bits) =~ /^\s*HEAD\s+/) ? 1 : 0;

    my $sock = connect_to_server($block, $timeout);
    return (undef, $head_req) if !$sock;

    my $resp = '';
    my $wbuf = (shift @bits)->{value} // '';
    my $woff = 0;
    my $writing = 1;
    my $reading = 1;

    while ($writing || $reading) {
        my $rsel = IO::Select->new;
        my $wsel = IO::Select->new;
        $rsel->add($sock) if $reading;
        $wsel->add($sock) if $writing;

        my ($r, $w) = IO::Select->select($rsel, $wsel, undef, $timeout);

        if (!$r && !$w) {
            next if $! == EINTR;
            # timed out
            close $sock;
            if (!defined $block->abort) {
                my $tb = Test::More->builder;
                $tb->no_ending(1);
                Test::More::fail("ERROR: client socket timed out - $name\n");
            } else {
                sleep 0.005;
            }
            return ($resp, $head_req);
        }

        if ($w && @$w) {
          WRITE:
            while (1) {
                my $rest = length($wbuf) - $woff;
                if ($rest > 0) {
                    my $n = syswrite($sock, $wbuf, $rest, $woff);
                    if (!defined $n) {
                        last WRITE if $! == EAGAIN || $! == EINTR;
                        warn "write failed: $!\n";
                        $resp = "write failed: $!" if !$resp;
                        $writing = 0;
                        # keep reading: the server may have answered already
                        last WRITE;
                    }
                    $woff += $n;
                    next;
                }

                my $next = shift @bits;
                if (!defined $next) {
                    $writing = 0;
                    my $shutdown = $block->shutdown;
                    if (defined $shutdown) {
                        $shutdown = 1 if $shutdown =~ /^\s*$/s;
                        shutdown($sock, $shutdown);
                    }
                    last WRITE;
                }
                $wbuf = $next->{value} // '';
                $woff = 0;
                my $delay = defined $next->{delay_before}
                          ? $next->{delay_before} : $middle_delay;
                sleep $delay if $delay;
            }
        }

        if ($r && @$r) {
            while (1) {
                my $buf;
                my $n = sysread($sock, $buf, 4096);
                if (!defined $n) {
                    last if $! == EAGAIN || $! == EINTR;
                    warn "WARNING: $name - HTTP response read failure: $!\n";
                    $reading = 0;
                    $writing = 0;
                    last;
                }
                if ($n == 0) {
                    $reading = 0;
                    $writing = 0;
                    last;
                }
                $resp .= $buf;
            }
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ---------------------------------------------------------------------------
# response parsing (minimal HTTP::Response replacement)

sub res_header ($$) {
    my ($res, $key) = @_;
    return undef if !$res;
    my @vals = map { $_->[1] } grep { lc($_->[0]) eq lc($key) } @{ $res->{headers} };
    return undef if !@vals;
    return join ', ', @vals;
}

sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = '';
    if ($raw =~ /(.*?\r\n)\r\n/s) {
        $raw_headers = $1;
    }

    my $res = { code => undef, headers => [], content => '' };

    my ($head, $body);
    if ($raw =~ /\A(.*?)\r?\n\r?\n(.*)\z/s) {
        ($head, $body) = ($1, $2);
    } else {
        ($head, $body) = ($raw, '');
    }

    my @lines = split /\r?\n/, $head;
    my $status = shift @lines // '';
    if ($status =~ m{^\s*HTTP/\S+\s+(\S+)}) {
        $res->{code} = $1;
    } elsif ($status =~ /^\s*(\d\d\d)\b/) {
        $res->{code} = $1;
    }
    if (defined $res->{code} && $res->{code} !~ /^\d+$/) {
        undef $res->{code};
    }

    for my $l (@lines) {
        if ($l =~ /^[ \t]+(.*)/ && @{ $res->{headers} }) {
            $res->{headers}[-1][1] .= " $1";
            next;
        }
        if ($l =~ /^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            push @{ $res->{headers} }, [$1, $2];
        }
    }
    $res->{content} = $body;

    my $code = $res->{code};
    if ($code && ($code == 304 || $code == 101)) {
        return ($res, $raw_headers, undef);
    }

    my $left;
    my $enc = res_header($res, 'Transfer-Encoding');
    my $len = res_header($res, 'Content-Length');

    if (defined $enc && $enc eq 'chunked') {
        my $decoded = '';
        while (1) {
            if ($body =~ /\G 0 [\ \t]* \r\n \r\n /gcsx) {
                if ($body =~ /\G (.+) /gcsx) {
                    $left = $1;
                }
                last;
            }
            if ($body =~ m{\G [\ \t]* ([A-Fa-f0-9]+) [\ \t]* \r\n }gcsx) {
                my $size = hex($1);
                my $pos = pos($body);
                if (length($body) - $pos < $size) {
                    my $tb = Test::More->builder;
                    $tb->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(not enought octets for the data section)");
                    return;
                }
                $decoded .= substr($body, $pos, $size);
                pos($body) = $pos + $size;
                if ($body !~ /\G\r\n/gcs) {
                    my $tb = Test::More->builder;
                    $tb->no_ending(1);
                    Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
            } elsif ($body =~ /\G.+/gcs) {
                my $tb = Test::More->builder;
                $tb->no_ending(1);
                Test::More::fail("$name - invalid chunked body received: $&");
                return;
            } else {
                my $tb = Test::More->builder;
                $tb->no_ending(1);
                Test::More::fail("$name - no last chunk found - $body");
                return;
            }
        }
        $res->{content} = $decoded;

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body < $len) {
            if (!$head_req) {
                warn "WARNING: $name - response body truncated: ",
                    "$len expected, but got ", length $body, "\n";
            }
        } elsif (length $body > $len) {
            $res->{content} = substr $body, 0, $len;
            $left = substr $body, $len;
        }
    }

    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# checks

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        if (ref $value && ref $value eq 'ARRAY') {
            return $value->[$req_idx];
        }
        bail_out("$name - You asked for many requests, the expected results should be arrays as well.");
    }
    if (ref $value && ref $value eq 'ARRAY') {
        return $value->[0];
    }
    return $value;
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->{code}) || '';
  SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;
        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like, $req_idx, $need_array);
            Test::More::like($code, qr/$val/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            my $val = get_indexed_value($name, $block->error_code, $req_idx, $need_array);
            Test::More::is($code, $val, "$name - status code ok");
        } else {
            Test::More::is($code, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    if (defined $block->raw_response_headers_like) {
      SKIP: {
            Test::More::skip("$name - raw_response_headers_like - tests skipped due to $dry_run", 1) if $dry_run;
            my $exp = get_indexed_value($name, $block->raw_response_headers_like, $req_idx, $need_array);
            Test::More::like($raw_headers, qr/$exp/s, "$name - raw resp headers like");
        }
    }
    if (defined $block->raw_response_headers_unlike) {
      SKIP: {
            Test::More::skip("$name - raw_response_headers_unlike - tests skipped due to $dry_run", 1) if $dry_run;
            my $exp = get_indexed_value($name, $block->raw_response_headers_unlike, $req_idx, $need_array);
            Test::More::unlike($raw_headers, qr/$exp/s, "$name - raw resp headers unlike");
        }
    }
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value($name,
                          $block->response_headers, $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key};
            if (!defined $val) {
              SKIP: {
                    Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                        "$name - header $key not present in the raw headers");
                }
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = res_header($res, $key) // '';
          SKIP: {
                Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::is($actual, $val, "$name - header $key ok");
            }
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value($name,
                          $block->response_headers_like, $req_idx, $need_array));
        for my $key (sort keys %$headers) {
            my $val = $headers->{$key} // '';
            my $actual = res_header($res, $key) // '';
          SKIP: {
                Test::More::skip("$name - response_headers_like - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::like($actual, qr/^$val$/, "$name - header $key like ok");
            }
        }
    }
}

sub run_filter_helper ($$$) {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;
    if (ref $filter && ref $filter eq 'CODE') {
        return $filter->($content);
    }
    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section only supports "
                 . "subroutine reference values and string values");
    }
    my %f = (
        md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { require Digest::SHA; Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );
    my $code = $f{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $code->($content);
}

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;
    return if !$res || !defined $res->{content};
    my $filters = $block->response_body_filters;
    return if !defined $filters;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    my $list = $filters;
    if (ref $filters->[0] eq 'ARRAY') {
        $list = $filters->[$req_idx];
        bail_out($block->name . " - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($req_idx)") if !defined $list;
    }

    my $new = $res->{content};
    for my $f (ref $list eq 'ARRAY' ? @$list : ($list)) {
        $new = run_filter_helper($block, $f, $new);
    }
    $res->{content} = $new;
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_body) {
        my $content = $res ? $res->{content} : undef;
        if (defined $content) {
            $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
            $content =~ s/^Connection: TE, close\r\n//gms;
        }
        my $expected = get_indexed_value($name, $block->response_body,
                                         $req_idx, $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
      SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to $dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($content, $expected,
                    "$name - response_body - like (repeated req $repeated_req_idx, req $req_idx)");
            } else {
                is_str($content, $expected,
                    "$name - response_body - response is expected (repeated req $repeated_req_idx, req $req_idx)");
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my ($patterns, $type, $cmp);
        if (defined $block->response_body_like) {
            ($patterns, $type, $cmp) = ($block->response_body_like, 'like', \&Test::More::like);
        } else {
            ($patterns, $type, $cmp) = ($block->response_body_unlike, 'unlike', \&Test::More::unlike);
        }
        my $content = $res ? $res->{content} : undef;
        if (defined $content) {
            $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
            $content =~ s/^Connection: TE, close\r\n//gms;
        }
        my $pat = get_indexed_value($name, $patterns, $req_idx, $need_array);
        if (!ref $pat) {
            $pat =~ s/\$ServerPort\b/$ServerPort/g;
            $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        }
        my $summary = trim($content) // '';
      SKIP: {
            Test::More::skip("$name - response_body_$type - tests skipped due to $dry_run", 1) if $dry_run;
            $cmp->($content, qr/$pat/s,
                   "$name - response_body_$type - response is expected ($summary)");
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->{content} : undef, $req_idx,
                 $repeated_req_idx, $dry_run);
    }
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub normalize_pats ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub value_contains ($$) {
    my ($val, $pat) = @_;
    if (!ref $val || ref $val eq 'Regexp') {
        return $val =~ /\Q$pat\E/;
    }
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if value_contains($v, $pat);
        }
    }
    return undef;
}

# one test per pattern: "pattern matches a line"
sub check_log_must_match (@) {
    my ($name, $section, $file, $lines, $pats, $dry_run, $suffix) = @_;
    $pats = normalize_pats($pats);
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next if !defined $pat;
            if ((ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/) {
              SKIP: {
                    Test::More::skip("$name - $section - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::pass("$name - pattern \"$pat\" matches a line in $file$suffix");
                }
                undef $pat;
            }
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat;
      SKIP: {
            Test::More::skip("$name - $section - tests skipped due to $dry_run", 1) if $dry_run;
            Test::More::fail("$name - pattern \"$pat\" should match a line in $file$suffix");
        }
    }
}

# one test per pattern (plus one extra failure per further matching line,
# like upstream)
sub check_log_must_not_match (@) {
    my ($name, $section, $file, $lines, $pats, $dry_run, $suffix, $context) = @_;
    $pats = normalize_pats($pats);
    my %found;
    my $i = 0;
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next if !defined $pat;
            if ((ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/) {
                if ($found{$pat}) {
                    my $tb = Test::More->builder;
                    $tb->no_ending(1);
                } else {
                    $found{$pat} = 1;
                }
              SKIP: {
                    Test::More::skip("$name - $section - tests skipped due to $dry_run ($line)", 1) if $dry_run;
                    my $ln = fmt_str($line);
                    my $p = fmt_str($pat);
                    my $more = '';
                    if ($context) {
                        for (my $j = $i + 1; $j < min($i + 10, @$lines - 1); $j++) {
                            $more .= $lines->[$j];
                        }
                        $more = "\n$more" if $more ne '';
                    }
                    Test::More::fail("$name - pattern \"$p\" should not match any line in $file but matches line \"$ln\"$suffix$more");
                }
            }
        }
        $i++;
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
      SKIP: {
            Test::More::skip("$name - $section - tests skipped due to $dry_run", 1) if $dry_run;
            my $p = fmt_str($pat);
            Test::More::pass("$name - pattern \"$p\" does not match a line in $file$suffix");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $lines;
    if (defined $block->access_log) {
        $lines ||= access_log_data();
        check_log_must_match($name, 'access_log', 'access.log', $lines,
                             $block->access_log, $dry_run,
                             " (req $repeated_req_idx)");
    }
    if (defined $block->no_access_log) {
        $lines ||= access_log_data();
        check_log_must_not_match($name, 'no_access_log', 'access.log', $lines,
                                 $block->no_access_log, $dry_run,
                                 " (req $repeated_req_idx)", 1);
    }
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;

    my ($check_alert, $check_crit, $check_emerg) = (1, 1, 1);

    my $grep_pat;
    my $grep_pats = $block->grep_error_log;
    if (defined $grep_pats) {
        $grep_pat = (ref $grep_pats && ref $grep_pats eq 'ARRAY')
                  ? $grep_pats->[$repeated_req_idx] : $grep_pats;
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            if !defined $expected;
        if (ref $expected && ref $expected eq 'ARRAY') {
            $expected = $expected->[$repeated_req_idx];
        }
      SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to $dry_run", 1) if $dry_run;
            $lines ||= error_log_data();
            my $matched_lines = '';
            for my $line (@$lines) {
                if ((ref $grep_pat && $line =~ /$grep_pat/)
                    || (!ref $grep_pat && $line =~ /\Q$grep_pat\E/))
                {
                    my $matched = $&;
                    $matched_lines .= "$matched\n" if $matched !~ /\n/;
                }
            }
            if (ref $expected eq 'Regexp') {
                Test::More::like($matched_lines, $expected,
                    "$name - grep_error_log_out (req $repeated_req_idx)");
            } else {
                is_str($matched_lines, $expected,
                    "$name - grep_error_log_out (req $repeated_req_idx)");
            }
        }
    }

    for my $sec (qw(error_log no_error_log)) {
        my $pats = $block->$sec;
        next if !defined $pats;
        undef $check_alert if value_contains($pats, "[alert");
        undef $check_crit  if value_contains($pats, "[crit");
        undef $check_emerg if value_contains($pats, "[emerg");
    }

    if (defined $block->error_log) {
        $lines ||= error_log_data();
        check_log_must_match($name, 'error_log', 'error.log', $lines,
                             $block->error_log, $dry_run,
                             " (req $repeated_req_idx)");
    }

    if (defined $block->no_error_log) {
        $lines ||= error_log_data();
        check_log_must_not_match($name, 'no_error_log', 'error.log', $lines,
                                 $block->no_error_log, $dry_run,
                                 " (req $repeated_req_idx)", 1);
    }

    if (!$dry_run) {
        my @warn_levels;
        push @warn_levels, 'alert' if $check_alert;
        push @warn_levels, 'crit'  if $check_crit;
        push @warn_levels, 'emerg' if $check_emerg;
        if (@warn_levels) {
            $lines ||= error_log_data();
            for my $lvl (@warn_levels) {
                for my $line (@$lines) {
                    if ($line =~ /\[$lvl\]/) {
                        warn "WARNING: $name - " . fmt_str($line) . "\n";
                    }
                }
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            my $tb = Test::More->builder;
            $tb->no_ending(1);
            my $l = $line;
            chomp $l;
            Test::More::fail("$name - $l\n");
        }
    }
}

sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines;

    if (defined $block->no_shutdown_error_log) {
        $lines ||= error_log_data();
        check_log_must_not_match($name, 'no_shutdown_error_log', 'error.log',
                                 $lines, $block->no_shutdown_error_log,
                                 $dry_run, '', 0);
    }

    if (defined $block->shutdown_error_log) {
        $lines ||= error_log_data();
        check_log_must_match($name, 'shutdown_error_log', 'error.log', $lines,
                             $block->shutdown_error_log, $dry_run, '');
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*? failed\.$/) {
            my $tb = Test::More->builder;
            $tb->no_ending(1);
            my $l = $line;
            chomp $l;
            Test::More::fail("$name - $l");
        }
    }
}

# ---------------------------------------------------------------------------

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;

    my $r_req_list = get_req_from_block($block);
    if (!@$r_req_list) {
        bail_out("$name - request empty");
    }

    my $timeout = parse_time($block->timeout);
    $timeout = timeout() if !defined $timeout;

    my $res;
    my $req_idx = 0;
    my ($n, $need_array);

    for my $one_req (@$r_req_list) {
        my ($raw_resp, $head_req);

        if ($dry_run) {
            $raw_resp = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        } else {
            ($raw_resp, $head_req) = send_request($one_req,
                $block->raw_request_middle_delay, $timeout, $block);
        }

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = $#$r_req_list > 0;
        }

        while (1) {
            $raw_resp = '' if !defined $raw_resp;

            my ($raw_headers, $left) = ('', undef);

            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = { code => 200, headers => [], content => $raw_resp };
                } else {
                    ($res, $raw_headers, $left) =
                        parse_response($name, $raw_resp, $head_req);
                }
            }

            if (!$n) {
                if (defined $left && $left ne '') {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last chunk in ",
                         "response: \"$l\"\n";
                }
            } else {
                $raw_resp = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run, $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            if ($n || $req_idx < @$r_req_list - 1) {
                sleep(parse_time($block->wait)) if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
                check_access_log($block, $dry_run, $repeated_req_idx)
                    if !defined $block->ignore_response;
            }

            $req_idx++;
            last if !$n;
        }
    }

    sleep(parse_time($block->wait)) if $block->wait;

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);

    check_access_log($block, $dry_run, $repeated_req_idx)
        if !defined $block->ignore_response;
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - project-local re-implementation of openresty's
Test::Nginx::Socket (see the comment block at the top of the file).

=cut
