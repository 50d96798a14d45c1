package TunnyTest;

# Helpers for ngx_tunny_module tests that need more than one request in
# flight: background HTTP clients (forked), a synchronous client that
# measures time, and a look at the nginx processes.  Plain Perl on top of
# Test::Nginx::Util's accessors, so the .t files that use it run the same
# under the upstream Test::Nginx.

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

our @EXPORT = qw(bg_request bg_collect http_request nginx_pids
                 worker_pids process_gone port);

my @Children;

sub port () {
    return Test::Nginx::Util::server_port()
        if defined &Test::Nginx::Util::server_port;
    return $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}

# one HTTP/1.0 exchange; returns { status, headers => {lc name => value},
# body, elapsed } or { status => 0, error } when the connection failed.
# opts: headers => [ "Name: value", ... ], body => STRING, method,
#       abort_after => SECONDS (close the connection early: a client abort)
sub http_request ($;%) {
    my ($uri, %o) = @_;
    my $start = time;
    my $sock;
    # nginx may still be starting (slowly, under valgrind): retry a while
    while (1) {
        $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => port(), Proto => 'tcp',
                                      Timeout => 5);
        last if $sock || time - $start > 10;
        sleep 0.05;
    }
    return { status => 0, error => "connect: $!", elapsed => 0 } if !$sock;

    my $method = $o{method} || (defined $o{body} ? 'POST' : 'GET');
    my $req = "$method $uri HTTP/1.0\r\nHost: localhost\r\n";
    $req .= "$_\r\n" for @{ $o{headers} || [] };
    $req .= "Content-Length: " . length($o{body}) . "\r\n" if defined $o{body};
    $req .= "\r\n";
    $req .= $o{body} if defined $o{body};
    print $sock $req;

    if (defined $o{abort_after}) {
        sleep $o{abort_after};
        close $sock;
        return { status => 0, aborted => 1, elapsed => time - $start };
    }

    my $raw = '';
    local $/;
    $raw = <$sock> // '';
    close $sock;

    my $res = { elapsed => time - $start, headers => {} };
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $head //= '';
    ($res->{status}) = $head =~ m{^HTTP/\d\.\d (\d+)};
    $res->{status} //= 0;
    for my $line (split /\r\n/, $head) {
        $res->{headers}{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*)$/;
    }
    $res->{body} = $body // '';
    return $res;
}

# start http_request() in a child process; returns its index for
# bg_collect().  The child never runs the test's END blocks.
sub bg_request ($;%) {
    my ($uri, %o) = @_;
    my $idx = scalar @Children;
    my $file = "/tmp/tunny-bg.$$.$idx";
    unlink $file;
    my $pid = fork();
    die "fork: $!" if !defined $pid;
    if ($pid == 0) {
        my $res = http_request($uri, %o);
        if (open my $fh, '>', $file) {
            print $fh join("\n", $res->{status}, $res->{elapsed},
                           $res->{body} // ''), "\n";
            close $fh;
        }
        POSIX::_exit(0);
    }
    push @Children, { pid => $pid, file => $file, uri => $uri };
    return $idx;
}

# wait for every background request; returns a list of
# { uri, status, elapsed, body } in start order
sub bg_collect () {
    my @res;
    for my $c (@Children) {
        waitpid $c->{pid}, 0;
        my %r = (uri => $c->{uri}, status => 0, elapsed => 0, body => '');
        if (open my $fh, '<', $c->{file}) {
            local $/;
            my $data = <$fh> // '';
            close $fh;
            @r{qw(status elapsed body)} = split /\n/, $data, 3;
        }
        unlink $c->{file};
        push @res, \%r;
    }
    @Children = ();
    return @res;
}

# the pid in the server root's pid file, and the worker processes under it
sub nginx_pids () {
    my $root = Test::Nginx::Util::server_root();
    my $start = time;
    my $fh;
    # the pid file appears late while nginx starts under valgrind
    until (open $fh, '<', "$root/logs/nginx.pid") {
        return () if time - $start > 10;
        sleep 0.05;
    }
    my $pid = <$fh> // '';
    close $fh;
    chomp $pid;
    return $pid ? ($pid) : ();
}

# processes that run the event loop: the workers of the master, or the
# single process itself (master_process off)
sub worker_pids () {
    my ($master) = nginx_pids();
    return () if !$master;
    my @workers;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // '';
        close $fh;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @workers, $pid if $ppid == $master;
    }
    return @workers ? @workers : ($master);
}

# true when the process has exited (gone, or a zombie nobody reaped yet)
sub process_gone ($) {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $line = <$fh> // '';
    close $fh;
    my ($state) = $line =~ /^\d+ \(.*\) (\S+)/;
    return !defined $state || $state eq 'Z' || $state eq 'X';
}

1;
