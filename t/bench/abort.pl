#!/usr/bin/perl
# Clients that go away mid-job, for t/bench/soak.sh:
#
#   abort.pl PORT SECONDS CONCURRENCY PATH...
#
# Round after round: CONCURRENCY connections each send a GET for one of
# the PATHs (slow image or burn jobs), wait 1..40 ms, then close -- half
# with a FIN, half with an RST (SO_LINGER 0).  Prints "aborted N".
use strict;
use warnings;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(time sleep);

my ($port, $secs, $conc, @paths) = @ARGV;
die "usage: abort.pl PORT SECONDS CONCURRENCY PATH...\n" if !@paths;

my $end = time + $secs;
my $n = 0;
my $failed = 0;

while (time < $end) {
    my @socks;
    for (1 .. $conc) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if (!$s) {
            $failed++;
            next;
        }
        my $p = $paths[int rand @paths];
        print $s "GET $p HTTP/1.1\r\nHost: soak\r\n\r\n";
        push @socks, $s;
    }
    sleep 0.001 + rand 0.039;
    for my $s (@socks) {
        if (rand() < 0.5) {
            setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        }
        close $s;
        $n++;
    }
}

print "aborted $n\n";
print "connect_failed $failed\n";
