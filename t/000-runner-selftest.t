# Self-test of the project-local Test::Nginx::Socket (t/lib), using only
# stock nginx directives.  Run: prove -I t/lib t/000-runner-selftest.t
use Test::Nginx::Socket;

# beside the server port, so that parallel runs on other ports do not collide
$ENV{TEST_NGINX_MOCK_PORT} ||= ($ENV{TEST_NGINX_PORT} || 1984) + 2;

repeat_each(2);

# 44 tests per repeat (see the "# tests:" comment of each block), plus the
# shutdown_error_log checks of TEST 12, which run once per block (2 tests).
plan tests => repeat_each() * 44 + 2;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: return + response_body
# tests: 3
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: add_header, response_headers (present/absent), body_like
# tests: 4
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "hello world\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar
!X-Bar
--- response_body_like: ^hello w.rld$



=== TEST 3: static file via user_files
# tests: 3
--- config
    location /static/ {
        root html;
    }
--- user_files
>>> static/foo.txt
file contents
>>> static/bar.txt
bar
--- request
GET /static/foo.txt
--- response_headers_like
Content-Length: \d+
--- response_body
file contents



=== TEST 4: 404 that logs, error_log + no_error_log
# tests: 4
--- config
    location /missing/ {
        root html;
    }
--- request
GET /missing/nothing.txt
--- error_code: 404
--- error_log eval
["No such file or directory", qr/\[error\] \d+#\d+: \*\d+ open\(\)/]
--- no_error_log
[alert]



=== TEST 5: request body gets a Content-Length
# tests: 2
--- config
    location = /echo {
        return 200 "$request_method len=$http_content_length conn=$http_connection\n";
    }
--- request
POST /echo
hello world
--- response_body
POST len=11 conn=close



=== TEST 6: chunked response from a mocked upstream is de-chunked
# tests: 4
--- config
    location = /up {
        proxy_http_version 1.1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/up;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_query eval
"GET /up HTTP/1.1\r
Host: 127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}\r
Connection: close\r
\r
"
--- tcp_reply eval
"HTTP/1.1 200 OK\r
Transfer-Encoding: chunked\r
\r
5\r
hello\r
7\r
, world\r
0\r
\r
"
--- request
GET /up
--- response_headers
Transfer-Encoding: chunked
--- response_body chomp
hello, world



=== TEST 7: client timeout + abort against an upstream that never answers
# tests: 1
--- config
    location = /hang {
        proxy_read_timeout 60s;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: ""
--- tcp_no_close
--- request
GET /hang
--- timeout: 0.5
--- abort
--- ignore_response
--- wait: 1
--- error_log
client prematurely closed connection



=== TEST 8: pipelined requests
# tests: 4
--- config
    location /p {
        return 200 "$uri\n";
    }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- error_code eval
[200, 200]
--- response_body eval
["/p1\n", "/p2\n"]



=== TEST 9: request eval with several requests (several connections)
# tests: 4
--- config
    location /m {
        return 201 "$arg_a\n";
    }
--- request eval
["GET /m?a=1", "GET /m?a=2"]
--- error_code eval
[201, 201]
--- response_body eval
["1\n", "2\n"]



=== TEST 10: grep_error_log
# tests: 2
--- config
    location /missing/ {
        root html;
    }
--- request
GET /missing/x
--- error_code: 404
--- grep_error_log eval: qr/No such file or directory/
--- grep_error_log_out
No such file or directory



=== TEST 11: more_headers
# tests: 2
--- config
    location = /h {
        return 200 "$http_x_foo|$host|$http_connection\n";
    }
--- more_headers
X-Foo: blah
Host: example.com
--- request
GET /h
--- response_body
blah|example.com|close



=== TEST 12: shutdown_error_log / no_shutdown_error_log (once per block)
# tests: 2 (+2 per block)
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- shutdown_error_log
(SIGQUIT) received from
--- no_shutdown_error_log
[alert]



=== TEST 13: env expansion, http_config, main_config, server_port()
# tests: 3
--- main_config
worker_rlimit_nofile 1024;
--- http_config
    map $uri $mapped {
        default "mapped";
    }
--- config
    location = /e {
        add_header X-Root "$TEST_NGINX_SERVER_ROOT";
        return 200 "$mapped port=$TEST_NGINX_SERVER_PORT\n";
    }
--- request
GET /e
--- response_headers eval
"X-Root: " . Test::Nginx::Util::server_root()
--- response_body eval
"mapped port=" . Test::Nginx::Util::server_port() . "\n"



=== TEST 14: init runs after the server root is set up
# tests: 2
--- config
    location /init/ {
        root html;
    }
--- init
mkdir "$Test::Nginx::Util::HtmlDir/init";
open my $fh, '>', "$Test::Nginx::Util::HtmlDir/init/x.txt" or die $!;
print $fh "from init\n";
close $fh;
--- request
GET /init/x.txt
--- response_body
from init



=== TEST 15: HEAD request and error_code_like
# tests: 2
--- config
    location = /t {
        return 200 "body\n";
    }
--- request
HEAD /t
--- error_code_like: ^2\d\d$
--- response_body



=== TEST 16: must_die
# tests: 2
--- config
    location = /t {
        no_such_directive_here;
    }
--- must_die
--- error_log
unknown directive "no_such_directive_here"



=== TEST 17: SKIP blocks are ignored
--- config
--- request
GET /never
--- SKIP
