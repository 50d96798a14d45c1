#!/usr/bin/perl
# Closed-loop load of `./ngx_tunny_module bench compress`:
#
#   perl compress-load.pl PORT PREFIX ENCODING CONNECTIONS REQUESTS TIMEOUT
#
# CONNECTIONS clients at once and REQUESTS in all (client i sends requests
# i, i + CONNECTIONS, ...), each a GET of PREFIX d1.json .. d4.json in
# turn with "Accept-Encoding: ENCODING" on a new connection (HTTP/1.1, as
# nginx's gzip compresses only from 1.1 on by default; "Connection:
# close"), read to its end.  A fixed number of responses rather than a fixed duration:
# one brotli 11 response of 1 MiB costs seconds of CPU, so 16 of them in
# flight need tens of seconds; a duration would count only the few that
# end inside it (wrk) and leave the others' work running into the next
# case.  Here every response counted is complete and no work is left when
# the last one is in: the server's CPU time over the run divided by
# REQUESTS is the CPU per response.
#
# An answer that is not a 200 with "Content-Encoding: ENCODING" and a
# body, or none within TIMEOUT seconds, is a failure (so is a response the
# server sent uncompressed because it refused the work).
#
# Prints one line: "n N fail F wall SECONDS bytes B" (B: the body bytes of
# the successful responses; the reasons of failures go to stderr).

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(time);

my ($port, $prefix, $enc, $conns, $requests, $timeout) = @ARGV;
die "usage: compress-load.pl PORT PREFIX ENCODING CONNECTIONS REQUESTS "
    . "TIMEOUT\n" unless defined $timeout;

# one exchange: "ok BYTES" or "fail REASON"
sub exchange {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $timeout)
        or return "fail connect: $!";
    print $s "GET $path HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
             . "Accept-Encoding: $enc\r\n\r\n";
    my $sel = IO::Select->new($s);
    my $deadline = time + $timeout;
    my $raw = '';
    while (1) {
        my $left = $deadline - time;
        return "fail $path: timeout" if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $raw, 262144, length $raw);
        return "fail $path: read: $!" if !defined $n;
        last if !$n;
    }
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return "fail $path: no 200" if ($head // '') !~ m{^HTTP/1\.\d 200 };
    return "fail $path: not $enc"
        if $head !~ /^Content-Encoding:[ \t]*\Q$enc\E\r?$/mi;
    $body = dechunk($body // '') if $head =~ /^Transfer-Encoding:[ \t]*chunked/mi;
    return "fail $path: bad chunked body" if !defined $body;
    return "fail $path: empty body" if !length $body;
    return 'ok ' . length $body;
}

# the body of a chunked message, undef when it is not one (or cut)
sub dechunk {
    my ($in) = @_;
    my $out = '';
    while ($in =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $n = hex $1;
        return $out if $n == 0;
        return undef if length($in) < $n + 2;
        $out .= substr($in, 0, $n);
        $in = substr($in, $n + 2);
    }
    return undef;
}

pipe(my $rd, my $wr) or die "pipe: $!";
my $t0 = time;
my @pids;

for my $i (0 .. $conns - 1) {
    my $pid = fork();
    die "fork: $!" if !defined $pid;
    if ($pid == 0) {
        close $rd;
        for (my $k = $i; $k < $requests; $k += $conns) {
            # one short line per write: atomic on the shared pipe
            syswrite($wr, exchange($prefix . 'd' . ($k % 4 + 1) . '.json')
                          . "\n");
        }
        POSIX::_exit(0);
    }
    push @pids, $pid;
}

close $wr;
my ($n, $fail, $bytes) = (0, 0, 0);
while (my $line = <$rd>) {
    chomp $line;
    $n++;
    if ($line =~ /^ok (\d+)$/) {
        $bytes += $1;
    } else {
        $fail++;
        print STDERR "compress-load: $line\n";
    }
}
my $wall = time - $t0;
waitpid $_, 0 for @pids;

$fail += $requests - $n;
printf "n %d fail %d wall %.3f bytes %d\n", $requests, $fail, $wall, $bytes;
