# tunny_image behind proxy_pass, when the upstream body ends early: the
# upstream promises a Content-Length (or chunks), sends part of the image
# and closes.  The filter still holds the header then, so the client must
# get an error page and a closed connection at once -- not wait for
# send_timeout (60 s) while the worker keeps the partial body -- and the
# error log must say why.
#
# The upstream is a mock (--- tcp_listen / --- tcp_reply) on a free port
# found when the file loads.  Fixtures come from t/tools
# (TEST_NGINX_FIXTURE_DIR, exported by ./ngx_tunny_module test).
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use TunnyTest;
use IO::Socket::INET ();

our ($FX, $JPEG);

BEGIN {
    $FX = $ENV{TEST_NGINX_FIXTURE_DIR};
    die "125-image-upstream-abort.t: no fixtures; run ./ngx_tunny_module "
        . "test, or set TEST_NGINX_FIXTURE_DIR to a directory written by "
        . "t/tools/gen-fixtures\n"
        if !$FX || !-f "$FX/quad-land.jpg";

    open my $fh, '<:raw', "$FX/quad-land.jpg" or die "quad-land.jpg: $!";
    local $/;
    $JPEG = <$fh>;
    close $fh;

    # a port nobody listens on now, for the mock upstream
    if (!$ENV{TEST_NGINX_TUNNY_MOCK_PORT}) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 1)
            or die "no free port: $!";
        $ENV{TEST_NGINX_TUNNY_MOCK_PORT} = $s->sockport;
        close $s;
    }
}

# an upstream response: the header promises the whole image, the body
# carries only the first $n bytes
sub truncated ($) {
    my ($n) = @_;
    return "HTTP/1.1 200 OK\r\n"
         . "Content-Type: image/jpeg\r\n"
         . "Content-Length: " . length($JPEG) . "\r\n"
         . "Connection: close\r\n"
         . "\r\n"
         . substr($JPEG, 0, $n);
}

# the same in chunks, without the last chunk
sub truncated_chunked ($) {
    my ($n) = @_;
    return "HTTP/1.1 200 OK\r\n"
         . "Content-Type: image/jpeg\r\n"
         . "Transfer-Encoding: chunked\r\n"
         . "Connection: close\r\n"
         . "\r\n"
         . sprintf("%x\r\n", $n) . substr($JPEG, 0, $n) . "\r\n";
}

repeat_each(1);
no_shuffle();
log_level('info');

run_tests();

__DATA__

=== TEST 1: resize: half a JPEG, then the upstream closes: 502 at once
--- config
    location /img/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_TUNNY_MOCK_PORT/;
        tunny_image resize 100 100;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_TUNNY_MOCK_PORT}
--- tcp_reply eval: main::truncated(int(length($main::JPEG) / 2))
--- request
GET /img/quad-land.jpg
--- more_headers
Connection: keep-alive
--- timeout: 3
--- error_code: 502
--- response_headers
Connection: close
--- access_log
"GET /img/quad-land.jpg HTTP/1.1" 502
--- error_log eval
[
    qr/upstream prematurely closed connection/,
    qr/tunny_image: upstream body incomplete: \d+ of \d+ bytes/,
]
--- no_error_log
[alert]
[crit]



=== TEST 2: resize: the header, then the upstream closes before any body
--- config
    location /img/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_TUNNY_MOCK_PORT/;
        tunny_image resize 100 100;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_TUNNY_MOCK_PORT}
--- tcp_reply eval: main::truncated(0)
--- request
GET /img/quad-land.jpg
--- timeout: 3
--- error_code: 502
--- error_log eval
[
    qr/upstream prematurely closed connection/,
    qr/tunny_image: upstream body incomplete: 0 of \d+ bytes/,
]
--- no_error_log
[alert]
[crit]



=== TEST 3: size: the first bytes of a JPEG, then the upstream closes
--- config
    location /img/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_TUNNY_MOCK_PORT/;
        tunny_image size;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_TUNNY_MOCK_PORT}
--- tcp_reply eval: main::truncated(100)
--- request
GET /img/quad-land.jpg
--- timeout: 3
--- error_code: 502
--- error_log eval
[
    qr/upstream prematurely closed connection/,
    qr/tunny_image: upstream body incomplete: 100 of \d+ bytes/,
]
--- no_error_log
[alert]
[crit]



=== TEST 4: proxy_buffering off: half a JPEG, then the upstream closes
--- config
    location /img/ {
        proxy_buffering off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TUNNY_MOCK_PORT/;
        tunny_image resize 100 100;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_TUNNY_MOCK_PORT}
--- tcp_reply eval: main::truncated(int(length($main::JPEG) / 2))
--- request
GET /img/quad-land.jpg
--- timeout: 3
--- error_code: 502
--- error_log eval
[
    qr/upstream prematurely closed connection/,
    qr/tunny_image: upstream body incomplete: \d+ of \d+ bytes/,
]
--- no_error_log
[alert]
[crit]



=== TEST 5: chunked: the last chunk never comes
--- config
    location /img/ {
        proxy_http_version 1.1;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TUNNY_MOCK_PORT/;
        tunny_image resize 100 100;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_TUNNY_MOCK_PORT}
--- tcp_reply eval: main::truncated_chunked(int(length($main::JPEG) / 2))
--- request
GET /img/quad-land.jpg
--- timeout: 3
--- error_code: 502
--- error_log eval
[
    qr/upstream prematurely closed connection/,
    qr/tunny_image: upstream body incomplete: \d+ bytes without its end/,
]
--- no_error_log
[alert]
[crit]



=== TEST 6: the whole image from the same mock upstream is resized
--- config
    location /img/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_TUNNY_MOCK_PORT/;
        tunny_image resize 100 100;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_TUNNY_MOCK_PORT}
--- tcp_reply eval: main::truncated(length($main::JPEG))
--- request
GET /img/quad-land.jpg
--- timeout: 3
--- response_headers
Content-Type: image/jpeg
--- no_error_log
[error]
upstream body incomplete



=== TEST 7: a static image after an intercepted upstream error is no upstream body
--- config
    location /img/ {
        proxy_intercept_errors on;
        error_page 404 = /fallback/big.jpg;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TUNNY_MOCK_PORT/;
    }
    location /fallback/ {
        alias $TEST_NGINX_FIXTURE_DIR/;
        tunny_image resize 100 100;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_TUNNY_MOCK_PORT}
--- tcp_reply eval
"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
--- request
GET /img/missing.jpg
--- timeout: 10
--- response_headers
Content-Type: image/jpeg
--- no_error_log
[error]
upstream body incomplete
