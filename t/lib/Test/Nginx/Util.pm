package Test::Nginx::Util;

# Small re-implementation of openresty's Test::Nginx::Util (server-root
# layout, nginx.conf generation, nginx process management, error-log
# access).  Written from the documented/observed behaviour of upstream
# test-nginx 0.29; see Test/Nginx/Socket.pm for the list of deviations.

use strict;
use warnings;

use base 'Exporter';

use POSIX qw( SIGQUIT SIGKILL SIGTERM :sys_wait_h );
use File::Spec ();
use File::Path qw( make_path remove_tree );
use List::Util qw( shuffle );
use Time::HiRes qw( sleep time );
use Scalar::Util qw( looks_like_number );
use IO::Socket::INET;
use Carp qw( croak );

our $VERSION = '0.29-lite';

our $NoLongString;
our $FirstTime = 1;

our $Verbose        = $ENV{TEST_NGINX_VERBOSE};
our $NoNginxManager = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $RepeatEach     = 1;
our $LoadModules    = $ENV{TEST_NGINX_LOAD_MODULES};
our $NoShuffle      = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $UseValgrind    = $ENV{TEST_NGINX_USE_VALGRIND};
our $UseHup         = $ENV{TEST_NGINX_USE_HUP};   # accepted, treated as "restart"
our $Timeout        = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $EventType      = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $CheckLeak      = 0;   # TEST_NGINX_CHECK_LEAK is not supported
our $Benchmark      = 0;   # TEST_NGINX_BENCHMARK is not supported
our $BenchmarkWarmup = 0;
our $UseStap        = 0;

our $ServerAddr = '127.0.0.1';
our $ServerName = 'localhost';

our $WorkerUser = $ENV{TEST_NGINX_WORKER_USER};
if (defined $WorkerUser && $WorkerUser !~ /^\w+(?:\s+\w+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

our $NginxBinary = $ENV{TEST_NGINX_BINARY};
if (!$NginxBinary) {
    $NginxBinary = 'nginx';
    # "nginx" from PATH like upstream; fall back to the Debian location when
    # /usr/sbin is not in PATH.
    $NginxBinary = '/usr/sbin/nginx'
        if !can_run('nginx') && -x '/usr/sbin/nginx';
}

our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $NoRootLocation       = 0;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ForceRestartOnTest   = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                            ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;

our $ChildPid;          # nginx forked by us (valgrind mode)
our $TcpServerPid;
our @EnvToNginx;
our @CleanupHandlers;
our @BlockPreprocessors;
our $PrevBlock;
our $PrevConfig;
our $ErrLogFilePos = 0;
our $ConfigPreamble = '';
our $FilterHttpConfig;
our $RunTestHelper;
our $CheckErrorLog;
our $CheckShutdownErrorLog;
our $NginxVersion;
our $NginxRawVersion;
our $OpenSSLVersion;
our $InSubprocess;

if ($UseValgrind) {
    # like upstream: nginx runs in the foreground as our child process
    $DaemonEnabled = 'off';
}

our $ServRoot = $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
$ServRoot = File::Spec->rel2abs($ServRoot);
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');

$ENV{TEST_NGINX_HTML_DIR} ||= $HtmlDir;

our @EXPORT = qw(
    env_to_nginx is_str check_accum_error_log is_running
    $NoLongString no_long_string
    $ServerAddr server_addr $ServerName server_name
    parse_time $UseStap verbose sleep_time
    bail_out add_cleanup_handler access_log_data error_log_data
    setup_server_root write_config_file get_canon_version get_nginx_version
    trim show_all_chars parse_headers run_tests get_pid_from_pidfile
    $ServerPortForClient $ServerPort $NginxVersion $PidFile $ServRoot
    $ConfFile $RunTestHelper $CheckErrorLog $CheckShutdownErrorLog
    $FilterHttpConfig $NoNginxManager $RepeatEach $CheckLeak $Benchmark
    $BenchmarkWarmup add_block_preprocessor timeout worker_connections
    workers master_on master_off config_preamble repeat_each
    master_process_enabled log_level no_shuffle no_root_location html_dir
    server_root servroot server_port server_port_for_client
    no_nginx_manager use_hup
);

sub is_running ($) {
    my $pid = shift;
    return 0 if !$pid || !kill(0, $pid);
    # a zombie (exited, not yet reaped by its parent / PID 1) is not running
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in> // '';
        close $in;
        return 0 if $stat =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

sub can_run {
    my ($cmd) = @_;
    if ($cmd =~ m{/}) {
        return (-f $cmd && -x $cmd) ? $cmd : undef;
    }
    for my $dir (split(/:/, $ENV{PATH} // ''), '.') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x $abs;
    }
    return undef;
}

sub no_long_string () { $NoLongString = 1 }

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    if (!$NoLongString && eval { require Test::LongString; 1 }) {
        return Test::LongString::is_string($got, $expected, $desc);
    }
    return Test::More::is($got, $expected, $desc);
}

sub server_addr (@) { if (@_) { $ServerAddr = shift } else { $ServerAddr } }
sub server_name (@) { if (@_) { $ServerName = shift } else { $ServerName } }
sub timeout (@)     { if (@_) { $Timeout = shift } else { $Timeout } }
sub no_shuffle ()   { $NoShuffle = 1 }
sub no_nginx_manager () { $NoNginxManager = 1 }
sub use_hup ()      { $UseHup = 1 }
sub sleep_time      { $TestNginxSleep }
sub verbose         { $Verbose }
sub server_port (@) { if (@_) { $ServerPort = shift } else { $ServerPort } }
sub server_port_for_client (@) {
    if (@_) { $ServerPortForClient = shift } else { $ServerPortForClient }
}
sub repeat_each (@) { $RepeatEach = shift if @_; return $RepeatEach; }
sub worker_connections (@) {
    if (@_) { $WorkerConnections = shift } else { $WorkerConnections }
}
sub no_root_location () { $NoRootLocation = 1 }
sub workers (@)     { if (@_) { $Workers = shift } else { $Workers } }
sub log_level (@)   { if (@_) { $LogLevel = shift } else { $LogLevel } }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()    { $MasterProcessEnabled = 'on' }
sub master_off ()   { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    if (@_) { $MasterProcessEnabled = shift() ? 'on' : 'off' }
    else { $MasterProcessEnabled }
}
sub config_preamble ($) { $ConfigPreamble = shift }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub html_dir ()     { $HtmlDir }
sub server_root ()  { $ServRoot }
sub servroot ()     { $ServRoot }

sub env_to_nginx (@) {
    croak "env_to_nginx: no arguments specified" if !@_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            croak "env_to_nginx: bad argument value: $v\n";
        }
        push @EnvToNginx, $v;
    }
}

sub parse_time ($) {
    my $tm = shift;
    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;
        } else {
            $tm =~ s/([^_a-zA-Z])s$/$1/;
        }
    }
    return $tm;
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub trim ($) {
    my $s = shift;
    return undef if !defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub show_all_chars ($) {
    my $s = shift;
    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}

sub parse_headers ($) {
    my $s = shift;
    my %headers;
    for my $line (split /\n/, $s // '') {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }
    return \%headers;
}

sub get_canon_version (@) { sprintf "%d.%03d%03d", $_[0], $_[1], $_[2] }

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the Nginx ($NginxBinary): "
                 . ($out // ''));
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)}s) {
        $OpenSSLVersion = get_canon_version($1, $2, $3);
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

sub get_pid_from_pidfile ($) {
    my ($name) = @_;
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> };
    close $in;
    return undef if !defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

sub error_log_data () {
    # give nginx a chance to flush log-phase messages
    sleep $TestNginxSleep * 3;
    open my $in, '<', $ErrLogFile or return [];
    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }
    my @lines = <$in>;
    if (!$CheckAccumErrLog) {
        $ErrLogFilePos = tell($in);
    }
    close $in;
    return \@lines;
}

sub access_log_data () {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# SIGQUIT (when $wait) and time to exit, then SIGTERM, then SIGKILL; true
# when it took SIGKILL
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;
    return 0 if !$pid;

    if ($wait) {
        kill(SIGQUIT, $pid);
        my $t = $UseValgrind ? 60 : timeout();
        while ($t > 0 && is_running($pid)) {
            waitpid($pid, WNOHANG);
            sleep 0.02;
            $t -= 0.02;
        }
        waitpid($pid, WNOHANG);
    }

    my $step = $TestNginxSleep;
    for (1 .. 20) {
        waitpid($pid, WNOHANG);
        return 0 if !is_running($pid);
        kill(SIGTERM, $pid);
        $step *= 1.2;
        $step = 0.5 if $step > 0.5;
        sleep $step;
    }

    waitpid($pid, WNOHANG);
    return 0 if !is_running($pid);
    warn "$name - WARNING: killing the process $pid with force...\n";
    kill(SIGKILL, $pid);
    for (1 .. 100) {
        waitpid($pid, WNOHANG);
        last if !is_running($pid);
        sleep 0.02;
    }
    return 1;
}

sub cleanup () {
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }
    if (defined $TcpServerPid) {
        kill_process($TcpServerPid, 0, "cleanup");
        undef $TcpServerPid;
    }
    if (defined $ChildPid) {
        kill_process($ChildPid, 1, "cleanup");
        undef $ChildPid;
    }
}

sub setup_server_root ($) {
    my $first_time = shift;

    if (-d $ServRoot) {
        # only remove what we create ourselves
        remove_tree($ConfDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }

    for my $d ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $d;
        make_path($d) or bail_out("Failed to do mkdir $d\n");
    }

    my $index_file = "$HtmlDir/index.html";
    open my $out, '>', $index_file
        or bail_out("Can't open $index_file for writing: $!\n");
    print $out '<html><head><title>It works!</title></head><body>It works!</body></html>';
    close $out;
}

our $UsedPorts = {};

sub gen_rand_port ($) {
    my $used = shift;
    for (1 .. 1000) {
        my $port = int(rand 63550) + 1985;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr, LocalPort => $port,
            Proto => 'tcp', Listen => 1, ReuseAddr => 1,
        );
        if ($sock) { close $sock; return $port; }
    }
    return undef;
}

sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef if !defined $text;

    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my $p = gen_rand_port(\%used);
                bail_out("$name - Cannot find an available listening port number for $var.\n")
                    if !defined $p;
                $rand_ports->{$var} = $p;
                $used{$p} = 1;
            }
            $val = $rand_ports->{$var};
        } else {
            bail_out("$name - No environment $var defined.\n")
                if !defined $ENV{$var};
            $val = $ENV{$var};
        }
        $val;
    }ge;

    return $text;
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return if !$files;

    if (!ref $files) {
        my @list;
        my ($fname, $body, $date);
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$fname, $body, $date] if $fname;
                ($fname, $date, $body) = ($1, $2, undef);
            } else {
                $body .= $line;
            }
        }
        push @list, [$fname, $body, $date] if $fname;
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/}) {
            my $dir = $1;
            make_path($dir) if !-d $dir;
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            my $cmd = "TZ=GMT touch -t '$date' '$path'";
            system($cmd) == 0 or bail_out("Failed to run shell command: $cmd\n");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name             = $block->name;
    my $http_config      = $block->http_config;
    my $main_config      = $block->main_config;
    my $post_main_config = $block->post_main_config;
    my $err_log_file     = $block->error_log_file || $ErrLogFile;
    my $server_name      = $block->server_name // $ServerName;

    $config           //= '';
    $http_config      = expand_env_in_text($http_config, $name, $rand_ports) // '';
    $http_config      = $FilterHttpConfig->($http_config) if $FilterHttpConfig;
    $main_config      //= '';

    if ($LoadModules) {
        # like upstream: appended to the --- main_config text
        my @modules = map { "load_module $_;" } grep { $_ } split /\s+/, $LoadModules;
        $main_config .= join " ", @modules if @modules;
    }

    $main_config      = expand_env_in_text($main_config, $name, $rand_ports);
    $post_main_config = expand_env_in_text($post_main_config // '', $name, $rand_ports);

    my $extra_http_config = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        $extra_http_config .= "    postpone_output $PostponeOutput;\n";
    }

    # Keep every temp path inside the server root so that nginx does not
    # need the packaged /var/lib/nginx/* directories (not in upstream).
    my $temp_config = '';
    for my $t (qw(client_body proxy fastcgi uwsgi scgi)) {
        my $directive = "${t}_temp_path";
        next if $http_config =~ /\b\Q$directive\E\b/;
        $temp_config .= "    $directive $ServRoot/${t}_temp;\n";
    }

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");

    print $out <<_EOC_;
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env ASAN_OPTIONS;
env UBSAN_OPTIONS;
_EOC_

    for my $v (@EnvToNginx) {
        my $q = $v =~ /\s/ ? "'$v'" : $v;
        print $out "env $q;\n";
    }

    print $out <<_EOC_;

$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

$temp_config
$http_config

    server {
        listen          $ServerPort;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

_EOC_

    if (!$NoRootLocation) {
        print $out <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }

    print $out "    }\n$extra_http_config}\n\n$post_main_config\n\n";

    print $out "events {\n    accept_mutex off;\n\n    worker_connections  $WorkerConnections;\n";
    print $out "    use $EventType;\n" if $EventType;
    print $out "}\n";

    if (defined $WorkerUser) {
        print $out "user $WorkerUser;\n";
    } elsif ($> == 0) {
        print $out "user root;\n";
    }

    close $out;
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return if !defined $block;
    if (defined $block->shutdown_error_log
        || defined $block->no_shutdown_error_log)
    {
        my $dry_run = $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0;
        $CheckShutdownErrorLog->($block, $dry_run);
    }
}

sub run_tests () {
    $NginxVersion = get_nginx_version();

    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        if !defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks if !$NoShuffle;

    for my $block (@blocks) {
        for my $hdl (@BlockPreprocessors) {
            $hdl->($block);
        }
        $block->set_value("name", $0 . " " . $block->name);
        run_test($block);
        $PrevBlock = $block;
    }

    cleanup();
}

# ---------------------------------------------------------------------------
# valgrind support

our $ValgrindErrRe = qr/
      Invalid\ (?:read|write|free)
    | uninitialised
    | definitely\ lost
    | indirectly\ lost
    | Mismatched\ free
    | Source\ and\ destination\ overlap
    | Syscall\ param
    | Conditional\ jump
    | Use\ of\ uninitialised
    | Argument\ '\w+'\ of\ function
/x;

sub check_valgrind_logs ($) {
    my ($name) = @_;
    my $filter = $ENV{TEST_NGINX_VALGRIND_FILTER};
    my @reports;
    for my $f (sort glob("$LogDir/valgrind.*.log")) {
        open my $in, '<', $f or next;
        my $data = do { local $/; <$in> };
        close $in;
        # split into records: a record starts with "==PID== <Message>" after
        # an empty "==PID== " line
        my @records = split /^==\d+==\s*\n/m, $data;
        for my $rec (@records) {
            next if $rec !~ /\S/;
            next if $rec !~ $ValgrindErrRe;
            next if defined $filter && $rec !~ /$filter/;
            push @reports, $rec;
        }
        unlink $f;
    }
    if (@reports) {
        my $tb = Test::More->builder;
        $tb->no_ending(1);
        Test::More::fail("$name - valgrind reported "
                         . scalar(@reports) . " error(s)");
        Test::More::diag(join "\n", @reports);
    }
}

sub stop_valgrind_nginx ($) {
    my ($name) = @_;
    my $pid = $ChildPid;
    if (!$pid) {
        $pid = get_pid_from_pidfile($name);
    }
    if ($pid && is_running($pid) && kill_process($pid, 1, $name)) {
        # valgrind checks for leaks as the process exits: not this time
        my $tb = Test::More->builder;
        $tb->no_ending(1);
        Test::More::fail("$name - nginx did not exit, killed before "
                         . "valgrind's leak check");
    }
    undef $ChildPid;
    unlink $PidFile if -f $PidFile;
    check_valgrind_logs($name);
}

# ---------------------------------------------------------------------------

sub start_nginx ($$$) {
    my ($block, $name, $must_die) = @_;

    my $cmd = "$NginxBinary -p $ServRoot/ -c $ConfFile";

    if ($UseValgrind && !defined $must_die) {
        my $opts;
        if ($UseValgrind =~ /^\d+$/) {
            $opts = "--tool=memcheck --leak-check=full --show-possibly-lost=no"
                  . " --num-callers=100 --gen-suppressions=all";
            $opts .= " --suppressions=valgrind.suppress" if -f 'valgrind.suppress';
            (my $own = __FILE__) =~ s{Util\.pm$}{valgrind.suppress};
            $opts .= " --suppressions=$own" if -f $own;
        } else {
            $opts = $UseValgrind;
        }
        $opts .= " --log-file=$LogDir/valgrind.%p.log" if $opts !~ /--log-file/;
        $cmd = "valgrind -q $opts $cmd";

        my $pid = fork();
        bail_out("$name - fork() failed: $!") if !defined $pid;
        if ($pid == 0) {
            setpgrp;
            $InSubprocess = 1;
            my $tb = Test::More->builder;
            $tb->no_ending(1);
            open STDOUT, '>', '/dev/null';
            { exec "exec $cmd" };
            POSIX::_exit(127);
        }
        $ChildPid = $pid;
        sleep $TestNginxSleep;
        return 1;
    }

    my $i = 0;
    my $waited = 0;
    while (1) {
        if (defined $must_die) {
            # nginx reports config errors on stderr before it switches to
            # our error_log: keep them in error.log so --- error_log works
            system("$cmd > /dev/null 2>>$ErrLogFile");
            return $?;
        }

        system("$cmd > /dev/null");
        my $status = $?;

        last if $status == 0;

        $i++;
        my $delay = 0.1 * $i;
        $delay = 1 if $delay > 1;
        sleep $delay;
        $waited += $delay;
        next if $waited < ($ENV{TEST_NGINX_START_RETRY_TIME} // 10);
        my $tail = `tail -n 5 $ErrLogFile 2>/dev/null` // '';
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status).\n$tail");
    }

    sleep $TestNginxSleep;
    return 0;
}

sub stop_running_nginx ($) {
    my ($name) = @_;
    if (defined $ChildPid) {
        kill_process($ChildPid, 1, $name);
        undef $ChildPid;
    }
    if (-f $PidFile) {
        my $pid = get_pid_from_pidfile($name);
        if ($pid && is_running($pid)) {
            kill_process($pid, 1, $name);
        }
        unlink $PidFile if -f $PidFile;
    }
}

sub run_test ($) {
    my $block = shift;

    return if defined $block->SKIP;

    my $name = $block->name;

    my $first_time;
    if ($FirstTime) {
        $first_time = 1;
        undef $FirstTime;
    }

    my $rand_ports = {};
    my $config = $block->config;
    $config = expand_env_in_text($config, $name, $rand_ports);

    my $dry_run = 0;

    local $LogLevel = $LogLevel;
    $LogLevel = $block->log_level if $block->log_level;

    my $must_die = $block->must_die;

    my ($tests_to_skip, $should_skip, $skip_reason);

    if (defined(my $skip_eval = $block->skip_eval)) {
        if ($skip_eval =~ m{^\s*(\d+)\s*:\s*(.*)}s) {
            $tests_to_skip = $1;
            $skip_reason = "skip_eval";
            my $code = $2;
            $should_skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code \"$code\": $@")
                if $@;
        }
    }

    if (defined(my $skip_nginx = $block->skip_nginx)) {
        if ($skip_nginx =~ m{^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                             (?:\s*:\s*(.*))?\s*$}x)
        {
            $tests_to_skip = $1;
            my ($op, $ver) = ($2, get_canon_version($3, $4, $5));
            $skip_reason = $6 || "nginx version $op $3.$4.$5";
            $should_skip = 1 if eval "$NginxVersion $op $ver";
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $skip_nginx");
        }
    }

    $skip_reason //= "various reasons";

    my ($should_todo, $todo_reason);
    if (defined(my $todo = $block->todo)) {
        if ($todo =~ m{^\s*(\d+)\s*:\s*(.*)}s) {
            $should_todo = 1;
            $tests_to_skip = $1;
            $todo_reason = $2;
        } else {
            bail_out("$name - Invalid --- todo spec: $todo");
        }
    }
    $todo_reason //= "various reasons";

    my $should_restart = 1;
    if (!defined $config) {
        if (!$NoNginxManager && !defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could not "
                     . "get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
        }
        $should_restart = 0;
    } elsif ($NoNginxManager) {
        $should_restart = 0;
    } elsif (defined $PrevConfig && $config eq $PrevConfig && !$ForceRestartOnTest) {
        $should_restart = 0;
    }

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        $PrevConfig = $config;

        # stop the nginx started for the previous block (or a stale one
        # left behind by an earlier run using the same pid file)
        stop_running_nginx($name);

        check_prev_block_shutdown_error_log();

        setup_server_root($first_time);
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);

        if (!can_run($NginxBinary)) {
            bail_out("$name - Cannot find the nginx executable ($NginxBinary)");
        }

        $ErrLogFilePos = 0;

        if (defined $must_die) {
            my $i = 0;
            while ($i < $RepeatEach) {
                my $status = start_nginx($block, $name, $must_die);
                my $exit_code = $status == -1 ? undef : ($status >> 8);
                if ($status == -1) {
                    Test::More::fail("$name - failed to execute the nginx command line");
                } elsif ($status & 127) {
                    Test::More::fail("$name - nginx core dumped");
                } elsif (looks_like_number($must_die)) {
                    Test::More::is($must_die, $exit_code,
                                   "$name - die with the expected exit code");
                } else {
                    Test::More::isnt($status, 0, "$name - die as expected");
                }

                $CheckErrorLog->($block, undef, $dry_run, $i, 0);

                if ($status == 0) {
                    warn "WARNING: $name - nginx must die but it does not; "
                         . "killing it (req $i)\n";
                    stop_running_nginx($name);
                }
                $i++;
            }
            return;
        }

        start_nginx($block, $name, undef);
    }

    if ($block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    my $i = 0;
    $ErrLogFilePos = 0;
    while ($i++ < $RepeatEach) {
        if ($i > 1) {
            write_user_files($block, $rand_ports);
        }

        my $tcp = start_tcp_server($block);

        if ($should_skip && defined $tests_to_skip) {
          SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }
        } elsif ($should_todo) {
          TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }
        } else {
            $RunTestHelper->($block, $dry_run, $i - 1);
            run_tcp_server_tests($block, $tcp);
        }

        stop_tcp_server($tcp);
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile) {
            if (open my $out, '>>', $total_errlog) {
                print $out "\n=== $0 $name\n";
                if (open my $in, '<', $ErrLogFile) {
                    local $/;
                    print $out scalar <$in>;
                    close $in;
                }
                close $out;
            }
        }
    }

    if ($UseValgrind && !$should_skip) {
        # like upstream: stop nginx after every block so that leaks show up
        stop_valgrind_nginx($name);
        undef $PrevConfig;
    }
}

# ---------------------------------------------------------------------------
# --- tcp_listen / tcp_reply / tcp_query / tcp_query_len (mock upstream)

sub start_tcp_server ($) {
    my ($block) = @_;
    my $target = $block->tcp_listen;
    return undef if !defined $target;

    my $name  = $block->name;
    my $reply = $block->tcp_reply;
    if (!defined $reply && !defined $block->tcp_shutdown) {
        bail_out("$name - no --- tcp_reply specified but --- tcp_listen is specified");
    }

    my $req_len = $block->tcp_query_len;
    my $query_file;
    if (defined $block->tcp_query || defined $req_len) {
        $req_len //= length($block->tcp_query);
        $query_file = "$ServRoot/tcp_query.$$." . int(rand 1e9);
    }

    my $sock;
    for (1 .. 30) {
        $sock = IO::Socket::INET->new(
            LocalHost => '127.0.0.1', LocalPort => $target, Proto => 'tcp',
            ReuseAddr => 1, Listen => 5,
        );
        last if $sock;
        sleep 0.1;
    }
    bail_out("$name - failed to create the tcp listening socket: $!") if !$sock;

    my $pid = fork();
    bail_out("$name - fork() failed: $!") if !defined $pid;

    if ($pid == 0) {
        $InSubprocess = 1;
        my $tb = Test::More->builder;
        $tb->no_ending(1);
        my $client;
        while (!($client = $sock->accept())) { sleep $TestNginxSleep; }

        my ($no_read, $no_write);
        if (defined(my $sd = $block->tcp_shutdown)) {
            sleep $block->tcp_shutdown_delay if $block->tcp_shutdown_delay;
            $client->shutdown($sd);
            if ($sd == 0 || $sd == 2) { $no_read = 1 } else { $no_write = 1 }
        }

        my $buf = '';
        unless ($no_read) {
            while (1) {
                my $b;
                my $ret = $client->recv($b, 4096);
                last if !defined $ret || !defined $b || $b eq '';
                $buf .= $b;
                if ($query_file) {
                    if (open my $out, '>', $query_file) {
                        binmode $out;
                        print $out $buf;
                        close $out;
                    }
                }
                last if !$req_len || length($buf) >= $req_len;
            }
        }

        my $delay = parse_time($block->tcp_reply_delay);
        sleep $delay if $delay;

        if (!$no_write && defined $reply) {
            $reply = $reply->($buf) if ref $reply eq 'CODE';
            for my $r (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
                $client->send($r);
            }
        }

        if (defined $block->tcp_no_close) {
            sleep 1 while 1;
        }
        $client->close;
        $sock->close;
        POSIX::_exit(0);
    }

    $TcpServerPid = $pid;
    return { pid => $pid, sock => $sock, query_file => $query_file };
}

sub run_tcp_server_tests ($$) {
    my ($block, $tcp) = @_;
    return if !$tcp;
    my $name = $block->name;
    my $buf = '';
    if ($tcp->{query_file} && open my $in, '<', $tcp->{query_file}) {
        $buf = do { local $/; <$in> } // '';
        close $in;
    }
    if (defined $block->tcp_query) {
        is_str($buf, $block->tcp_query, "$name - tcp_query ok");
    }
    if (defined $block->tcp_query_len) {
        Test::More::is(length($buf), $block->tcp_query_len,
                       "$name - TCP query length ok");
    }
}

sub stop_tcp_server ($) {
    my ($tcp) = @_;
    return if !$tcp;
    kill_process($tcp->{pid}, 0, "tcp server");
    waitpid($tcp->{pid}, 0);
    undef $TcpServerPid;
    $tcp->{sock}->close;
    unlink $tcp->{query_file} if $tcp->{query_file};
}

END {
    return if $InSubprocess;

    cleanup();

    if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
        local $?;
        if (defined $PidFile && -f $PidFile) {
            my $pid = get_pid_from_pidfile('END');
            if ($pid && is_running($pid)) {
                kill_process($pid, 1, "END");
            } else {
                unlink $PidFile;
            }
        }
        if ($UseValgrind && $PrevBlock) {
            check_valgrind_logs($PrevBlock->name);
        }
    }

    {
        # with TEST_NGINX_NO_CLEAN the checks are reported as skipped
        local $?;
        check_prev_block_shutdown_error_log();
    }
}

1;
