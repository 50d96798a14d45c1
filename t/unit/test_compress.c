/*
 * Unit tests of src/compress (the nginx-free compression layer of
 * tunny_compress), TAP output.
 *
 *   test_compress
 *
 * Every stream is decoded again with the libraries' own decoders
 * (libbrotlidec, libzstd, zlib) and compared byte for byte.
 * TUNNY_BENCH=0 in the environment skips the timing report (valgrind).
 */

#define ZSTD_STATIC_LINKING_ONLY

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <brotli/decode.h>
#include <zstd.h>
#include <zlib.h>

#include "tap.h"
#include "ngx_tunny_compress.h"



static const int  encodings[] = {
    NGX_TUNNY_COMPRESS_BROTLI, NGX_TUNNY_COMPRESS_ZSTD, NGX_TUNNY_COMPRESS_GZIP
};

/* the directives' defaults, and fast levels for the big inputs */
static const int  best[] = { 11, 19, 9 };
static const int  fast[] = { 5, 3, 6 };



static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* text like a JSON API answer, with a random part every "noise" bytes */

static unsigned char *
make_input(size_t len, unsigned seed, size_t noise)
{
    size_t          n;
    unsigned char  *p;

    p = malloc(len + 1);
    if (p == NULL) {
        abort();
    }

    srand(seed);
    n = 0;

    while (n < len) {
        if (noise && (n / 512) % noise == noise - 1) {
            p[n++] = (unsigned char) rand();
            continue;
        }

        n += snprintf((char *) p + n, len + 1 - n,
                      "{\"id\":%d,\"user\":\"u%d\",\"score\":%d,"
                      "\"tags\":[\"t%d\",\"x%d\"]},\n",
                      rand() % 100000, rand() % 5000, rand() % 1000,
                      rand() % 40, rand() % 90);
    }

    return p;
}


/* a streaming decoder of each encoding ----------------------------------- */

typedef struct {
    int                    encoding;
    BrotliDecoderState    *br;
    ZSTD_DCtx             *zs;
    z_stream               gz;
    int                    ended;
    ngx_tunny_compress_buf_t  out;
} dec_t;


static int
room(ngx_tunny_compress_buf_t *b, size_t want)
{
    if (b->size - b->len >= want) {
        return 0;
    }

    b->size = (b->len + want) * 2;
    b->data = realloc(b->data, b->size);

    return b->data ? 0 : -1;
}


static void
dec_init(dec_t *d, int encoding)
{
    memset(d, 0, sizeof(dec_t));
    d->encoding = encoding;

    switch (encoding) {
    case NGX_TUNNY_COMPRESS_BROTLI:
        d->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        break;
    case NGX_TUNNY_COMPRESS_ZSTD:
        d->zs = ZSTD_createDCtx();
        break;
    default:
        (void) inflateInit2(&d->gz, 31);
    }
}


/* decode more input: 0, or -1 on a decoding error */

static int
dec_feed(dec_t *d, const unsigned char *in, size_t len)
{
    int                    rc;
    size_t                 r, ai, ao;
    uint8_t               *no;
    const uint8_t         *ni;
    ZSTD_inBuffer          ib;
    ZSTD_outBuffer         ob;
    BrotliDecoderResult    br;

    switch (d->encoding) {

    case NGX_TUNNY_COMPRESS_BROTLI:
        ni = in;
        ai = len;

        for ( ;; ) {
            room(&d->out, 65536);
            no = d->out.data + d->out.len;
            ao = d->out.size - d->out.len;

            br = BrotliDecoderDecompressStream(d->br, &ai, &ni, &ao, &no,
                                               NULL);
            d->out.len = no - d->out.data;

            if (br == BROTLI_DECODER_RESULT_ERROR) {
                return -1;
            }

            if (br == BROTLI_DECODER_RESULT_SUCCESS) {
                d->ended = 1;
                return ai ? -1 : 0;
            }

            if (br == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
                return 0;
            }
        }

    case NGX_TUNNY_COMPRESS_ZSTD:
        ib.src = in;
        ib.size = len;
        ib.pos = 0;

        for ( ;; ) {
            room(&d->out, 65536);
            ob.dst = d->out.data + d->out.len;
            ob.size = d->out.size - d->out.len;
            ob.pos = 0;

            r = ZSTD_decompressStream(d->zs, &ob, &ib);
            d->out.len += ob.pos;

            if (ZSTD_isError(r)) {
                return -1;
            }

            d->ended = (r == 0);

            if (ib.pos == ib.size && ob.pos < ob.size) {
                return 0;
            }
        }

    default:
        d->gz.next_in = (Bytef *) in;
        d->gz.avail_in = (uInt) len;

        for ( ;; ) {
            room(&d->out, 65536);
            d->gz.next_out = d->out.data + d->out.len;
            d->gz.avail_out = (uInt) (d->out.size - d->out.len);

            rc = inflate(&d->gz, Z_SYNC_FLUSH);
            d->out.len = d->out.size - d->gz.avail_out;

            if (rc == Z_STREAM_END) {
                d->ended = 1;
                return d->gz.avail_in ? -1 : 0;
            }

            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                return -1;
            }

            if (d->gz.avail_in == 0 && d->gz.avail_out != 0) {
                return 0;
            }
        }
    }
}


static void
dec_free(dec_t *d)
{
    BrotliDecoderDestroyInstance(d->br);
    ZSTD_freeDCtx(d->zs);

    if (d->encoding == NGX_TUNNY_COMPRESS_GZIP) {
        inflateEnd(&d->gz);
    }

    free(d->out.data);
}


/* compress in pieces ------------------------------------------------------ */

typedef struct {
    int                       rc;
    size_t                    peak;
    size_t                    memory;
    ngx_tunny_compress_buf_t  out;
    int                       prefix_ok;    /* with flushes: every prefix */
} run_t;


/*
 * in, in pieces of "piece" bytes, each followed by "end" (PROCESS or
 * FLUSH), the last by FINISH; with flushes, the output so far must decode
 * to the input so far after every piece
 */

static void
compress_pieces(int encoding, int level, const unsigned char *in, size_t len,
    size_t piece, int end, uint64_t hint, run_t *run)
{
    int                           e;
    size_t                        off, n, fed;
    dec_t                         dec;
    ngx_tunny_compress_t         *c;
    ngx_tunny_compress_params_t   p;

    memset(run, 0, sizeof(run_t));
    memset(&p, 0, sizeof(p));

    p.encoding = encoding;
    p.level = level;
    p.size_hint = hint;

    run->memory = ngx_tunny_compress_memory(&p);
    run->rc = ngx_tunny_compress_create(&p, &c);
    run->prefix_ok = 1;

    if (run->rc != NGX_TUNNY_COMPRESS_OK) {
        return;
    }

    dec_init(&dec, encoding);
    fed = 0;
    off = 0;

    do {
        n = (len - off > piece) ? piece : len - off;
        e = (off + n == len) ? NGX_TUNNY_COMPRESS_FINISH : end;

        run->rc = ngx_tunny_compress_chunk(c, in + off, n, e, &run->out, 0,
                                           NULL, NULL);
        if (run->rc != NGX_TUNNY_COMPRESS_OK) {
            break;
        }

        off += n;

        if (e == NGX_TUNNY_COMPRESS_FLUSH) {
            if (dec_feed(&dec, run->out.data + fed, run->out.len - fed) != 0
                || dec.out.len != off
                || memcmp(dec.out.data, in, off) != 0)
            {
                run->prefix_ok = 0;
            }

            fed = run->out.len;
        }

    } while (off < len);

    run->peak = ngx_tunny_compress_peak(c);

    ngx_tunny_compress_destroy(c);
    dec_free(&dec);
}


/* decodes to exactly in[len], and the stream is complete */

static int
round_trips(int encoding, ngx_tunny_compress_buf_t *out,
    const unsigned char *in, size_t len)
{
    int    same;
    dec_t  dec;

    dec_init(&dec, encoding);

    same = dec_feed(&dec, out->data, out->len) == 0
           && dec.ended
           && dec.out.len == len
           && (len == 0 || memcmp(dec.out.data, in, len) == 0);

    dec_free(&dec);

    return same;
}


static int
cancel_at(void *data)
{
    int  *n = data;

    return --(*n) <= 0;
}


typedef struct {
    int       calls;
    double    last;
    double    max;
} gap_t;


static int
cancel_gap(void *data)
{
    gap_t   *g = data;
    double   t;

    t = now();

    if (g->calls++ && t - g->last > g->max) {
        g->max = t - g->last;
    }

    g->last = t;

    return 0;
}


/* the tests --------------------------------------------------------------- */

static void
test_names(void)
{
    int  min, max;

    ok(ngx_tunny_compress_lookup((u_char *) "br", 2)
       == NGX_TUNNY_COMPRESS_BROTLI, "lookup br");
    ok(ngx_tunny_compress_lookup((u_char *) "ZSTD", 4)
       == NGX_TUNNY_COMPRESS_ZSTD, "lookup ZSTD, any case");
    ok(ngx_tunny_compress_lookup((u_char *) "gzip", 4)
       == NGX_TUNNY_COMPRESS_GZIP
       && ngx_tunny_compress_lookup((u_char *) "x-gzip", 6)
          == NGX_TUNNY_COMPRESS_GZIP, "lookup gzip and x-gzip");
    ok(ngx_tunny_compress_lookup((u_char *) "deflate", 7) == -1
       && ngx_tunny_compress_lookup((u_char *) "b", 1) == -1
       && ngx_tunny_compress_lookup((u_char *) "brr", 3) == -1,
       "unknown names");
    ok(strcmp(ngx_tunny_compress_name(NGX_TUNNY_COMPRESS_BROTLI), "br") == 0
       && strcmp(ngx_tunny_compress_name(NGX_TUNNY_COMPRESS_GZIP), "gzip")
          == 0, "names");

    ngx_tunny_compress_levels(NGX_TUNNY_COMPRESS_BROTLI, &min, &max);
    ok(min == 0 && max == 11, "brotli levels 0..11");
    ngx_tunny_compress_levels(NGX_TUNNY_COMPRESS_ZSTD, &min, &max);
    ok(min == 1 && max == 22, "zstd levels 1..22");
    ngx_tunny_compress_levels(NGX_TUNNY_COMPRESS_GZIP, &min, &max);
    ok(min == 1 && max == 9, "gzip levels 1..9");
}


static void
test_params(void)
{
    ngx_tunny_compress_t         *c;
    ngx_tunny_compress_params_t   p;

    memset(&p, 0, sizeof(p));

    /* brotli: the filter module's window rule */

    p.encoding = NGX_TUNNY_COMPRESS_BROTLI;
    p.level = 11;
    ok(ngx_tunny_compress_window(&p) == 19, "brotli: default window 2^19");
    p.size_hint = 1000;
    ok(ngx_tunny_compress_window(&p) == 10, "brotli: 1000 bytes, 2^10");
    p.size_hint = 70000;
    ok(ngx_tunny_compress_window(&p) == 17, "brotli: 70000 bytes, 2^17");
    p.size_hint = 5000000;
    ok(ngx_tunny_compress_window(&p) == 19, "brotli: 5 MB, the configured");
    p.window_bits = 23;
    ok(ngx_tunny_compress_memory(&p) == 0
       && ngx_tunny_compress_create(&p, &c) == NGX_TUNNY_COMPRESS_EPARAM,
       "brotli: window 2^23 refused");
    p.window_bits = 0;
    p.level = 12;
    ok(ngx_tunny_compress_create(&p, &c) == NGX_TUNNY_COMPRESS_EPARAM,
       "brotli: level 12 refused");

    /* gzip: nginx's gzip filter rule */

    p.encoding = NGX_TUNNY_COMPRESS_GZIP;
    p.level = 9;
    p.size_hint = 0;
    ok(ngx_tunny_compress_window(&p) == 15, "gzip: default window 2^15");
    p.size_hint = 100;
    ok(ngx_tunny_compress_window(&p) == 9, "gzip: 100 bytes, 2^9");
    p.size_hint = 10000;
    ok(ngx_tunny_compress_window(&p) == 14, "gzip: 10000 bytes, 2^14");
    p.size_hint = 20000;
    ok(ngx_tunny_compress_window(&p) == 15, "gzip: 20000 bytes, 2^15");
    p.level = 0;
    ok(ngx_tunny_compress_create(&p, &c) == NGX_TUNNY_COMPRESS_EPARAM,
       "gzip: level 0 refused");

    /* zstd: the library's choice, capped at 2^23 */

    p.encoding = NGX_TUNNY_COMPRESS_ZSTD;
    p.level = 22;
    p.size_hint = 0;
    ok(ngx_tunny_compress_window(&p) == 23, "zstd 22: window capped at 2^23");
    p.level = 19;
    p.size_hint = 1000000;
    ok(ngx_tunny_compress_window(&p) == 20, "zstd 19, 1 MB: window 2^20");
    ok(ngx_tunny_compress_memory(&p) < 32 * 1024 * 1024,
       "zstd 19, 1 MB: the estimate follows the size (%zu)",
       ngx_tunny_compress_memory(&p));

    p.encoding = 3;
    ok(ngx_tunny_compress_create(&p, &c) == NGX_TUNNY_COMPRESS_EPARAM
       && ngx_tunny_compress_memory(&p) == 0, "unknown encoding refused");
}


static void
test_round_trips(void)
{
    int             i, j, k, level;
    run_t           one, run;
    size_t          len;
    unsigned char  *in;

    static const size_t  sizes[] = { 0, 1, 37, 65536, 200001 };
    static const size_t  pieces[] = { 1, 4095, 65536 };

    for (i = 0; i < 3; i++) {
        for (j = 0; j < 5; j++) {
            len = sizes[j];
            level = best[i];
            in = make_input(len, j + 1, 7);

            compress_pieces(encodings[i], level, in, len, len ? len : 1,
                            NGX_TUNNY_COMPRESS_PROCESS, len, &one);

            ok(one.rc == NGX_TUNNY_COMPRESS_OK
               && round_trips(encodings[i], &one.out, in, len),
               "%s %d: %zu bytes in one chunk round-trip (%zu out)",
               ngx_tunny_compress_name(encodings[i]), level, len,
               one.out.len);

            ok(one.peak <= one.memory,
               "%s %d, %zu bytes: peak %zu <= estimate %zu",
               ngx_tunny_compress_name(encodings[i]), level, len, one.peak,
               one.memory);

            for (k = 0; k < 3; k++) {
                if (pieces[k] >= len || (pieces[k] == 1 && len > 70000)) {
                    continue;
                }

                compress_pieces(encodings[i], level, in, len, pieces[k],
                                NGX_TUNNY_COMPRESS_PROCESS, len, &run);

                /*
                 * zstd writes the content size into the frame header when
                 * all of a small input comes with the end (its one-pass
                 * path): only the data then must be the same
                 */

                if (encodings[i] == NGX_TUNNY_COMPRESS_ZSTD && len < 4096) {
                    ok(run.rc == NGX_TUNNY_COMPRESS_OK
                       && round_trips(encodings[i], &run.out, in, len),
                       "zstd %d, %zu bytes in pieces of %zu round-trip",
                       level, len, pieces[k]);

                } else {
                    ok(run.rc == NGX_TUNNY_COMPRESS_OK
                       && run.out.len == one.out.len
                       && memcmp(run.out.data, one.out.data, run.out.len)
                          == 0,
                       "%s %d, %zu bytes in pieces of %zu: the same stream",
                       ngx_tunny_compress_name(encodings[i]), level, len,
                       pieces[k]);
                }

                free(run.out.data);
            }

            free(one.out.data);
            free(in);
        }
    }
}


static void
test_big(void)
{
    int             i;
    run_t           run;
    size_t          len;
    unsigned char  *in;

    /* 3 MB, mostly text, some noise; no size hint: the largest windows */

    len = 3 * 1024 * 1024 + 17;
    in = make_input(len, 99, 5);

    for (i = 0; i < 3; i++) {
        compress_pieces(encodings[i], fast[i], in, len, 65536,
                        NGX_TUNNY_COMPRESS_PROCESS, 0, &run);

        ok(run.rc == NGX_TUNNY_COMPRESS_OK
           && round_trips(encodings[i], &run.out, in, len),
           "%s %d: 3 MB in 64k chunks round-trip (%zu out)",
           ngx_tunny_compress_name(encodings[i]), fast[i], run.out.len);

        ok(run.peak <= run.memory, "%s %d, 3 MB: peak %zu <= estimate %zu",
           ngx_tunny_compress_name(encodings[i]), fast[i], run.peak,
           run.memory);

        free(run.out.data);
    }

    free(in);
}


static void
test_flush(void)
{
    int             i;
    run_t           run;
    size_t          len;
    unsigned char  *in;

    len = 150000;
    in = make_input(len, 5, 0);

    for (i = 0; i < 3; i++) {
        compress_pieces(encodings[i], best[i], in, len, 10000,
                        NGX_TUNNY_COMPRESS_FLUSH, 0, &run);

        ok(run.rc == NGX_TUNNY_COMPRESS_OK && run.prefix_ok,
           "%s: after every flush the output decodes to the input so far",
           ngx_tunny_compress_name(encodings[i]));

        ok(round_trips(encodings[i], &run.out, in, len),
           "%s: flushed stream round-trips",
           ngx_tunny_compress_name(encodings[i]));

        free(run.out.data);
    }

    /* empty flushes: no input between them */

    for (i = 0; i < 3; i++) {
        compress_pieces(encodings[i], best[i], in, 0, 1,
                        NGX_TUNNY_COMPRESS_FLUSH, 0, &run);
        ok(run.rc == NGX_TUNNY_COMPRESS_OK
           && round_trips(encodings[i], &run.out, in, 0),
           "%s: empty stream round-trips (%zu bytes)",
           ngx_tunny_compress_name(encodings[i]), run.out.len);
        free(run.out.data);
    }

    free(in);
}


static void
test_gzip_as_nginx(void)
{
    int                       rc;
    run_t                     run;
    size_t                    len;
    z_stream                  zs;
    unsigned char            *in, *ref;

    /* what the gzip filter makes at gzip_comp_level 9 of a 300 KB body */

    len = 300000;
    in = make_input(len, 11, 9);
    ref = malloc(len + 1024);

    memset(&zs, 0, sizeof(zs));
    rc = deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    zs.next_in = in;
    zs.avail_in = len;
    zs.next_out = ref;
    zs.avail_out = len + 1024;
    rc = (rc == Z_OK) ? deflate(&zs, Z_FINISH) : rc;

    compress_pieces(NGX_TUNNY_COMPRESS_GZIP, 9, in, len, 65536,
                    NGX_TUNNY_COMPRESS_PROCESS, len, &run);

    ok(rc == Z_STREAM_END && run.rc == NGX_TUNNY_COMPRESS_OK
       && run.out.len == zs.total_out
       && memcmp(run.out.data, ref, run.out.len) == 0,
       "gzip 9: byte for byte nginx's gzip filter stream (%zu bytes)",
       run.out.len);

    deflateEnd(&zs);
    free(run.out.data);
    free(ref);
    free(in);
}


static void
test_cancel(void)
{
    int                           i, n, rc;
    gap_t                         gap;
    size_t                        len;
    unsigned char                *in;
    ngx_tunny_compress_t         *c;
    ngx_tunny_compress_buf_t      out;
    ngx_tunny_compress_params_t   p;

    len = 100000;
    in = make_input(len, 3, 0);

    for (i = 0; i < 3; i++) {
        memset(&p, 0, sizeof(p));
        memset(&out, 0, sizeof(out));
        p.encoding = encodings[i];
        p.level = fast[i];

        (void) ngx_tunny_compress_create(&p, &c);

        /* slices of 10000 bytes: the third look says stop */

        n = 3;
        rc = ngx_tunny_compress_chunk(c, in, len, NGX_TUNNY_COMPRESS_PROCESS,
                                      &out, 10000, cancel_at, &n);
        ok(rc == NGX_TUNNY_COMPRESS_ECANCEL && n == 0,
           "%s: cancel seen at the third slice",
           ngx_tunny_compress_name(encodings[i]));

        rc = ngx_tunny_compress_chunk(c, in, 10, NGX_TUNNY_COMPRESS_FINISH,
                                      &out, 0, NULL, NULL);
        ok(rc == NGX_TUNNY_COMPRESS_ESTATE,
           "%s: no more input after a cancel",
           ngx_tunny_compress_name(encodings[i]));

        ngx_tunny_compress_destroy(c);
        free(out.data);

        /* one look per slice, and nothing after the finish */

        memset(&out, 0, sizeof(out));
        memset(&gap, 0, sizeof(gap));
        (void) ngx_tunny_compress_create(&p, &c);

        rc = ngx_tunny_compress_chunk(c, in, len, NGX_TUNNY_COMPRESS_FINISH,
                                      &out, 16384, cancel_gap, &gap);
        ok(rc == NGX_TUNNY_COMPRESS_OK && gap.calls == 7,
           "%s: 100000 bytes in 16k slices, 7 looks at the flag (%d)",
           ngx_tunny_compress_name(encodings[i]), gap.calls);

        rc = ngx_tunny_compress_chunk(c, in, 0, NGX_TUNNY_COMPRESS_FINISH,
                                      &out, 0, NULL, NULL);
        ok(rc == NGX_TUNNY_COMPRESS_ESTATE,
           "%s: nothing after the finish",
           ngx_tunny_compress_name(encodings[i]));

        ngx_tunny_compress_destroy(c);
        free(out.data);
    }

    free(in);
}


/* how long a cancel may wait at the default levels: a report, no test */

static void
report_cancel_latency(void)
{
    int                           i;
    gap_t                         gap;
    size_t                        len;
    double                        t;
    unsigned char                *in;
    ngx_tunny_compress_t         *c;
    ngx_tunny_compress_buf_t      out;
    ngx_tunny_compress_params_t   p;

    len = 600000;
    in = make_input(len, 8, 0);

    for (i = 0; i < 3; i++) {
        memset(&p, 0, sizeof(p));
        memset(&out, 0, sizeof(out));
        memset(&gap, 0, sizeof(gap));
        p.encoding = encodings[i];
        p.level = best[i];
        p.size_hint = len;

        (void) ngx_tunny_compress_create(&p, &c);

        t = now();
        (void) ngx_tunny_compress_chunk(c, in, len, NGX_TUNNY_COMPRESS_FINISH,
                                        &out, 0, cancel_gap, &gap);
        t = now() - t;

        printf("# %s %d, 600 KB: %.0f ms, %zu bytes out; longest wait for "
               "a cancel look %.1f ms (the library's block), peak %zu KiB\n",
               ngx_tunny_compress_name(encodings[i]), best[i], t * 1000,
               out.len, gap.max * 1000, ngx_tunny_compress_peak(c) / 1024);

        ngx_tunny_compress_destroy(c);
        free(out.data);
    }

    free(in);
}


int
main(void)
{
    tap_init();

    test_names();
    test_params();
    test_round_trips();
    test_big();
    test_flush();
    test_gzip_as_nginx();
    test_cancel();

    if (bench) {
        report_cancel_latency();
    }

    return tap_done();
}
