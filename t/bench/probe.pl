#!/usr/bin/perl
# Light static-file latency probe of `./ngx_tunny_module bench image`:
#
#   perl probe.pl PORT PATH PERIOD_MS SECONDS
#
# One keep-alive HTTP/1.1 connection to 127.0.0.1:PORT, one request in
# flight at a time, sent at the slots start + k * PERIOD_MS: the probe
# costs the server one small request per period, not a core.  A request
# sent at its slot is timed from that slot; when its answer came after
# later slots, those slots are skipped and each is charged the latency a
# request sent then would have seen at least (the answer's time minus the
# slot), so a server that stalls for a second counts for every request that
# should have been sent meanwhile (no coordinated omission), while a
# merely slow answer does not pile up a backlog.  A connection the server
# closes (keepalive_requests) is reopened; an answer that is not a 200 with
# a body, or none within 30 s, is a failure.  SIGTERM ends the probe
# early (for a load of unknown length): the request then in flight is
# still awaited and counted, no later one is sent.
#
# Prints one line: "n N fail F p50 MS p99 MS max MS" (N: slots).

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);

my ($port, $path, $period_ms, $secs) = @ARGV;
die "usage: probe.pl PORT PATH PERIOD_MS SECONDS\n" unless defined $secs;

my $period = $period_ms / 1000;
my $n = int($secs / $period);
my $req = "GET $path HTTP/1.1\r\nHost: bench\r\n\r\n";
my (@lat, $sock);
my $fail = 0;

sub connect_server {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 30)
        or return undef;
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    return $s;
}

# one request/response on $sock; 1 when a 200 with its whole body came
# back, 0 otherwise (the connection is then dropped)
sub exchange {
    my ($buf, $deadline) = ('', time + 30);
    my $sel;

    $sock ||= connect_server() or return 0;
    $sel = IO::Select->new($sock);

    if (!defined syswrite($sock, $req)) {
        undef $sock;
        return 0;
    }

    while (1) {
        if ($buf =~ /^(HTTP\/1\.\d (\d+)[^\n]*\n(?:[^\n]*\n)*?)\r?\n/s) {
            my ($head, $status) = ($1, $2);
            my $hlen = $+[0];
            my ($clen) = $head =~ /^Content-Length:\s*(\d+)/mi;

            if (defined $clen && length($buf) >= $hlen + $clen) {
                undef $sock if $head =~ /^Connection:\s*close/mi;
                return $status == 200 && $clen > 0;
            }
            if (!defined $clen) {
                undef $sock;
                return 0;
            }
        }

        my $left = $deadline - time;
        if ($left <= 0) {
            undef $sock;
            return 0;
        }
        # (a signal cuts the wait short: wait again)
        next if !$sel->can_read($left);
        my $got = sysread($sock, $buf, 65536, length $buf);
        if (!$got) {
            undef $sock;
            return 0;
        }
    }
}

my $t0 = time;
my $k = 0;
my $stop = 0;

$SIG{TERM} = sub { $stop = 1 };

while ($k < $n && !$stop) {
    my $due = $t0 + $k * $period;
    my $wait = $due - time;

    sleep($wait) if $wait > 0;
    last if $stop;

    my $ok = exchange();
    my $now = time;

    # this slot and those that passed while it was answered
    do {
        if ($ok) {
            push @lat, ($now - ($t0 + $k * $period)) * 1000;
        } else {
            $fail++;
        }
        $k++;
    } while ($k < $n && $t0 + $k * $period < $now);
}

@lat = sort { $a <=> $b } @lat;

sub pctl {
    my ($p) = @_;
    return 'nan' unless @lat;
    my $i = int(@lat * $p / 100 + 0.5) - 1;
    $i = 0 if $i < 0;
    $i = $#lat if $i > $#lat;
    return sprintf '%.3f', $lat[$i];
}

printf "n %d fail %d p50 %s p99 %s max %s\n",
    $k, $fail, pctl(50), pctl(99), @lat ? sprintf('%.3f', $lat[-1]) : 'nan';
