/*
 * ngx_tunny_module: gzip (zlib deflate, gzip wrapper) for src/compress.
 *
 * The same stream as nginx's gzip filter at the same level: window 2^15
 * and hash memLevel 8 unless configured, both made smaller for a small
 * known input by the filter's rule (one step less of each while the input
 * fits in half the window, less zlib's 262 bytes of lookahead).
 */

#include <string.h>
#include <zlib.h>

#include "ngx_tunny_compress_int.h"


#define NGX_TUNNY_GZIP_WBITS     15
#define NGX_TUNNY_GZIP_MIN_WBITS 9
#define NGX_TUNNY_GZIP_MEMLEVEL  8

/* zlib's deflate_state and the rounding of its allocations */
#define NGX_TUNNY_GZIP_STATE     8192


static void
ngx_tunny_gzip_shape(const ngx_tunny_compress_params_t *p, int *wbits,
    int *memlevel)
{
    *wbits = p->window_bits ? (int) p->window_bits : NGX_TUNNY_GZIP_WBITS;
    *memlevel = NGX_TUNNY_GZIP_MEMLEVEL;

    if (*wbits < NGX_TUNNY_GZIP_MIN_WBITS || *wbits > NGX_TUNNY_GZIP_WBITS) {
        *wbits = 0;
        return;
    }

    if (p->size_hint == 0) {
        return;
    }

    while (*wbits > NGX_TUNNY_GZIP_MIN_WBITS
           && p->size_hint < (uint64_t) ((1 << (*wbits - 1)) - 262))
    {
        (*wbits)--;
        (*memlevel)--;
    }

    if (*memlevel < 1) {
        *memlevel = 1;
    }
}


static unsigned
ngx_tunny_gzip_window(const ngx_tunny_compress_params_t *p)
{
    int  wbits, memlevel;

    ngx_tunny_gzip_shape(p, &wbits, &memlevel);

    return (unsigned) wbits;
}


/* zlib's own figure (zconf.h), plus the state */

static size_t
ngx_tunny_gzip_memory(const ngx_tunny_compress_params_t *p)
{
    int  wbits, memlevel;

    ngx_tunny_gzip_shape(p, &wbits, &memlevel);

    return ((size_t) 1 << (wbits + 2)) + ((size_t) 1 << (memlevel + 9))
           + NGX_TUNNY_GZIP_STATE;
}


static voidpf
ngx_tunny_gzip_alloc(voidpf opaque, uInt items, uInt size)
{
    return ngx_tunny_compress_alloc(opaque, (size_t) items * size);
}


static void
ngx_tunny_gzip_free(voidpf opaque, voidpf address)
{
    ngx_tunny_compress_free(opaque, address);
}


static int
ngx_tunny_gzip_create(ngx_tunny_compress_t *c,
    const ngx_tunny_compress_params_t *p)
{
    int        wbits, memlevel, rc;
    z_stream  *zs;

    ngx_tunny_gzip_shape(p, &wbits, &memlevel);

    zs = ngx_tunny_compress_alloc(c, sizeof(z_stream));
    if (zs == NULL) {
        return NGX_TUNNY_COMPRESS_ENOMEM;
    }

    memset(zs, 0, sizeof(z_stream));

    zs->zalloc = ngx_tunny_gzip_alloc;
    zs->zfree = ngx_tunny_gzip_free;
    zs->opaque = c;

    /* windowBits + 16: the gzip wrapper */

    rc = deflateInit2(zs, p->level, Z_DEFLATED, wbits + 16, memlevel,
                      Z_DEFAULT_STRATEGY);

    if (rc != Z_OK) {
        ngx_tunny_compress_free(c, zs);
        return (rc == Z_MEM_ERROR) ? NGX_TUNNY_COMPRESS_ENOMEM
                                   : NGX_TUNNY_COMPRESS_EPARAM;
    }

    c->lib = zs;

    return NGX_TUNNY_COMPRESS_OK;
}


static int
ngx_tunny_gzip_feed(ngx_tunny_compress_t *c, const unsigned char *in,
    size_t len, int end, ngx_tunny_compress_buf_t *out)
{
    int        flush, rc;
    z_stream  *zs;

    zs = c->lib;

    flush = (end == NGX_TUNNY_COMPRESS_FINISH) ? Z_FINISH
            : (end == NGX_TUNNY_COMPRESS_FLUSH) ? Z_SYNC_FLUSH : Z_NO_FLUSH;

    zs->next_in = (Bytef *) in;
    zs->avail_in = (uInt) len;

    for ( ;; ) {
        if (ngx_tunny_compress_out_room(out, len / 2 + 1024) != 0) {
            return NGX_TUNNY_COMPRESS_ENOMEM;
        }

        zs->next_out = out->data + out->len;
        zs->avail_out = (uInt) (out->size - out->len);

        rc = deflate(zs, flush);

        out->len = out->size - zs->avail_out;

        if (rc == Z_STREAM_END) {
            return NGX_TUNNY_COMPRESS_OK;
        }

        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return NGX_TUNNY_COMPRESS_ESTATE;
        }

        /* done: all input taken and, for a flush, room was left over */

        if (zs->avail_in == 0 && zs->avail_out != 0 && flush != Z_FINISH) {
            return NGX_TUNNY_COMPRESS_OK;
        }
    }
}


static void
ngx_tunny_gzip_destroy(ngx_tunny_compress_t *c)
{
    if (c->lib) {
        (void) deflateEnd(c->lib);
        ngx_tunny_compress_free(c, c->lib);
        c->lib = NULL;
    }
}


const ngx_tunny_compress_codec_t  ngx_tunny_compress_gzip = {
    "gzip", 1, 9,
    ngx_tunny_gzip_window,
    ngx_tunny_gzip_memory,
    ngx_tunny_gzip_create,
    ngx_tunny_gzip_feed,
    ngx_tunny_gzip_destroy
};
