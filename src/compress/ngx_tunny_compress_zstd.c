/*
 * ngx_tunny_module: zstd (ZSTD_compressStream2) for src/compress.
 *
 * The parameters are the library's for the level and, when known, the
 * size of the input (ZSTD_c_srcSizeHint: a hint, not a pledge, so a body
 * that differs from its Content-Length still makes a valid frame), with
 * the window at most 2^23 bytes, which RFC 9659 asks of HTTP encoders.
 * The memory figure is the library's estimate for those parameters.
 * Uses the library's advanced API (ZSTD_STATIC_LINKING_ONLY), which the
 * shared libzstd exports.
 */

#define ZSTD_STATIC_LINKING_ONLY

#include <zstd.h>
#include <zstd_errors.h>

#include "ngx_tunny_compress_int.h"


#define NGX_TUNNY_ZSTD_MAX_WLOG  23


static ZSTD_compressionParameters
ngx_tunny_zstd_cparams(const ngx_tunny_compress_params_t *p)
{
    ZSTD_compressionParameters  cp;

    cp = ZSTD_getCParams(p->level, p->size_hint ? p->size_hint
                                                : ZSTD_CONTENTSIZE_UNKNOWN,
                         0);

    if (cp.windowLog > NGX_TUNNY_ZSTD_MAX_WLOG) {
        cp.windowLog = NGX_TUNNY_ZSTD_MAX_WLOG;
    }

    return cp;
}


static unsigned
ngx_tunny_zstd_window(const ngx_tunny_compress_params_t *p)
{
    return ngx_tunny_zstd_cparams(p).windowLog;
}


static size_t
ngx_tunny_zstd_memory(const ngx_tunny_compress_params_t *p)
{
    return ZSTD_estimateCStreamSize_usingCParams(ngx_tunny_zstd_cparams(p));
}


static void *
ngx_tunny_zstd_alloc(void *opaque, size_t size)
{
    return ngx_tunny_compress_alloc(opaque, size);
}


static void
ngx_tunny_zstd_free(void *opaque, void *address)
{
    ngx_tunny_compress_free(opaque, address);
}


static int
ngx_tunny_zstd_create(ngx_tunny_compress_t *c,
    const ngx_tunny_compress_params_t *p)
{
    ZSTD_CCtx                   *z;
    ZSTD_customMem               mem;
    ZSTD_compressionParameters   cp;

    mem.customAlloc = ngx_tunny_zstd_alloc;
    mem.customFree = ngx_tunny_zstd_free;
    mem.opaque = c;

    z = ZSTD_createCCtx_advanced(mem);
    if (z == NULL) {
        return NGX_TUNNY_COMPRESS_ENOMEM;
    }

    cp = ngx_tunny_zstd_cparams(p);

    if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel,
                                            p->level))
        || ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog,
                                               (int) cp.windowLog))
        || (p->size_hint && p->size_hint <= (uint64_t) ZSTD_SRCSIZEHINT_MAX
            && ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_srcSizeHint,
                                                   (int) p->size_hint))))
    {
        ZSTD_freeCCtx(z);
        return NGX_TUNNY_COMPRESS_EPARAM;
    }

    c->lib = z;

    return NGX_TUNNY_COMPRESS_OK;
}


static int
ngx_tunny_zstd_feed(ngx_tunny_compress_t *c, const unsigned char *in,
    size_t len, int end, ngx_tunny_compress_buf_t *out)
{
    size_t             left;
    ZSTD_inBuffer      ib;
    ZSTD_outBuffer     ob;
    ZSTD_EndDirective  op;

    op = (end == NGX_TUNNY_COMPRESS_FINISH) ? ZSTD_e_end
         : (end == NGX_TUNNY_COMPRESS_FLUSH) ? ZSTD_e_flush : ZSTD_e_continue;

    ib.src = in;
    ib.size = len;
    ib.pos = 0;

    for ( ;; ) {
        if (ngx_tunny_compress_out_room(out, ZSTD_CStreamOutSize()) != 0) {
            return NGX_TUNNY_COMPRESS_ENOMEM;
        }

        ob.dst = out->data + out->len;
        ob.size = out->size - out->len;
        ob.pos = 0;

        left = ZSTD_compressStream2(c->lib, &ob, &ib, op);

        out->len += ob.pos;

        if (ZSTD_isError(left)) {
            return (ZSTD_getErrorCode(left) == ZSTD_error_memory_allocation)
                   ? NGX_TUNNY_COMPRESS_ENOMEM : NGX_TUNNY_COMPRESS_ESTATE;
        }

        /* continue: all input taken; flush, end: nothing left inside */

        if (ib.pos == ib.size && (op == ZSTD_e_continue || left == 0)) {
            return NGX_TUNNY_COMPRESS_OK;
        }
    }
}


static void
ngx_tunny_zstd_destroy(ngx_tunny_compress_t *c)
{
    ZSTD_freeCCtx(c->lib);
    c->lib = NULL;
}


const ngx_tunny_compress_codec_t  ngx_tunny_compress_zstd = {
    "zstd", 1, 22,
    ngx_tunny_zstd_window,
    ngx_tunny_zstd_memory,
    ngx_tunny_zstd_create,
    ngx_tunny_zstd_feed,
    ngx_tunny_zstd_destroy
};
