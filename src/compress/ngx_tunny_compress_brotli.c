/*
 * ngx_tunny_module: brotli (BrotliEncoderCompressStream) for src/compress.
 *
 * The same stream as the brotli filter module (ngx_brotli) at the same
 * quality and window: only BROTLI_PARAM_QUALITY and BROTLI_PARAM_LGWIN
 * are set, the window made smaller for a small known input by the
 * filter's rule (the smallest window that holds the input, at least
 * 2^10).  Windows go up to 2^22 here (the memory figures below are
 * measured up to that).
 */

#include <brotli/encode.h>

#include "ngx_tunny_compress_int.h"


#define NGX_TUNNY_BROTLI_WBITS      19      /* brotli_window 512k */
#define NGX_TUNNY_BROTLI_MIN_WBITS  BROTLI_MIN_WINDOW_BITS
#define NGX_TUNNY_BROTLI_MAX_WBITS  22


/*
 * The peak memory of libbrotlienc 1.0.9, in KiB, by quality (rows) and
 * window bits 10, 12, 14, 16, 18, 19, 20, 21, 22 (columns), measured on
 * 1.5-6 MB of JSON text fed in 64 KiB pieces (enough to fill the window
 * and reach the largest metablocks): the library has no estimate of its
 * own in this version.  A window between two columns takes the larger
 * one; the figure used is half as much again, for other inputs.
 * t/unit/test_compress.c checks the real peak against it.
 */

static const unsigned  ngx_tunny_brotli_wbits[] = {
    10, 12, 14, 16, 18, 19, 20, 21, 22
};

static const unsigned  ngx_tunny_brotli_kib[12][9] = {
    {    17,    41,   137,   139,   139,   139,   139,   139,   139 },
    {    14,    45,   153,   585,   585,   585,   585,   585,   585 },
    {   573,   573,   572,   866,  1282,  1826,  2850,  4899,  8995 },
    {   579,   579,   579,   873,  1289,  1833,  2857,  4905,  9001 },
    {  1858,  1848,  1839,  1832,  3484,  5856, 10540, 19333, 28987 },
    {  1857,  1846,  1841,  1834,  4028,  6399, 11064, 19830, 29468 },
    {  1857,  1846,  1841,  1834,  5047,  7406, 12057, 20788, 30389 },
    {  1857,  1846,  1841,  1834, 11219, 13565, 18200, 26886, 36432 },
    {  1857,  1846,  1840,  1829, 19409, 21742, 26357, 35004, 44493 },
    {  2625,  2614,  2604,  2597, 38002, 39793, 44405, 53001, 62854 },
    {  3024,  3048,  3144,  3528, 12552, 16136, 24353, 41335, 68540 },
    {  5328,  5352,  5448,  5832, 21768, 25352, 44352, 59341, 73763 }
};


static unsigned
ngx_tunny_brotli_window(const ngx_tunny_compress_params_t *p)
{
    unsigned  max, wbits;

    max = p->window_bits ? p->window_bits : NGX_TUNNY_BROTLI_WBITS;

    if (max < NGX_TUNNY_BROTLI_MIN_WBITS || max > NGX_TUNNY_BROTLI_MAX_WBITS)
    {
        return 0;
    }

    if (p->size_hint == 0) {
        return max;
    }

    wbits = NGX_TUNNY_BROTLI_MIN_WBITS;

    while (wbits < max && p->size_hint > ((uint64_t) 1 << wbits)) {
        wbits++;
    }

    return wbits;
}


static size_t
ngx_tunny_brotli_memory(const ngx_tunny_compress_params_t *p)
{
    unsigned  i, wbits;

    wbits = ngx_tunny_brotli_window(p);

    for (i = 0; ngx_tunny_brotli_wbits[i] < wbits; i++) {
        /* void */
    }

    return (size_t) ngx_tunny_brotli_kib[p->level][i] * 1024 * 3 / 2;
}


static void *
ngx_tunny_brotli_alloc(void *opaque, size_t size)
{
    return ngx_tunny_compress_alloc(opaque, size);
}


static void
ngx_tunny_brotli_free(void *opaque, void *address)
{
    ngx_tunny_compress_free(opaque, address);
}


static int
ngx_tunny_brotli_create(ngx_tunny_compress_t *c,
    const ngx_tunny_compress_params_t *p)
{
    BrotliEncoderState  *s;

    s = BrotliEncoderCreateInstance(ngx_tunny_brotli_alloc,
                                    ngx_tunny_brotli_free, c);
    if (s == NULL) {
        return NGX_TUNNY_COMPRESS_ENOMEM;
    }

    if (!BrotliEncoderSetParameter(s, BROTLI_PARAM_QUALITY,
                                   (uint32_t) p->level)
        || !BrotliEncoderSetParameter(s, BROTLI_PARAM_LGWIN,
                                      ngx_tunny_brotli_window(p)))
    {
        BrotliEncoderDestroyInstance(s);
        return NGX_TUNNY_COMPRESS_EPARAM;
    }

    c->lib = s;

    return NGX_TUNNY_COMPRESS_OK;
}


static int
ngx_tunny_brotli_feed(ngx_tunny_compress_t *c, const unsigned char *in,
    size_t len, int end, ngx_tunny_compress_buf_t *out)
{
    size_t                     avail_in, avail_out;
    uint8_t                   *next_out;
    const uint8_t             *next_in;
    BrotliEncoderOperation     op;

    op = (end == NGX_TUNNY_COMPRESS_FINISH) ? BROTLI_OPERATION_FINISH
         : (end == NGX_TUNNY_COMPRESS_FLUSH) ? BROTLI_OPERATION_FLUSH
         : BROTLI_OPERATION_PROCESS;

    next_in = in;
    avail_in = len;

    for ( ;; ) {
        if (ngx_tunny_compress_out_room(out, len / 2 + 1024) != 0) {
            return NGX_TUNNY_COMPRESS_ENOMEM;
        }

        next_out = out->data + out->len;
        avail_out = out->size - out->len;

        if (!BrotliEncoderCompressStream(c->lib, op, &avail_in, &next_in,
                                         &avail_out, &next_out, NULL))
        {
            return NGX_TUNNY_COMPRESS_ESTATE;
        }

        out->len = next_out - out->data;

        /*
         * a flush or the finish is complete once the input is taken and
         * nothing is left to output (and, for the finish, the stream is
         * closed)
         */

        if (avail_in == 0 && !BrotliEncoderHasMoreOutput(c->lib)
            && (op != BROTLI_OPERATION_FINISH
                || BrotliEncoderIsFinished(c->lib)))
        {
            return NGX_TUNNY_COMPRESS_OK;
        }
    }
}


static void
ngx_tunny_brotli_destroy(ngx_tunny_compress_t *c)
{
    BrotliEncoderDestroyInstance(c->lib);
    c->lib = NULL;
}


const ngx_tunny_compress_codec_t  ngx_tunny_compress_brotli = {
    "br", 0, 11,
    ngx_tunny_brotli_window,
    ngx_tunny_brotli_memory,
    ngx_tunny_brotli_create,
    ngx_tunny_brotli_feed,
    ngx_tunny_brotli_destroy
};
