/*
 * ngx_tunny_module: the codec-independent part of src/compress: names,
 * parameters, the counting allocator, the output buffer, and feeding a
 * chunk in slices with a look at the cancel callback between them.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ngx_tunny_compress_int.h"


/* the allocation header: keeps the size, and malloc()'s alignment */
#define NGX_TUNNY_COMPRESS_HDR  16


static const ngx_tunny_compress_codec_t  *ngx_tunny_compress_codecs[] = {
    &ngx_tunny_compress_brotli,
    &ngx_tunny_compress_zstd,
    &ngx_tunny_compress_gzip
};


static const ngx_tunny_compress_codec_t *
ngx_tunny_compress_codec(int encoding)
{
    if (encoding < 0 || encoding >= NGX_TUNNY_COMPRESS_N) {
        return NULL;
    }

    return ngx_tunny_compress_codecs[encoding];
}


int
ngx_tunny_compress_lookup(const unsigned char *name, size_t len)
{
    int          i;
    const char  *s;

    if (len == 6 && strncasecmp((const char *) name, "x-gzip", 6) == 0) {
        return NGX_TUNNY_COMPRESS_GZIP;
    }

    for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
        s = ngx_tunny_compress_codecs[i]->name;

        if (strlen(s) == len
            && strncasecmp((const char *) name, s, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


const char *
ngx_tunny_compress_name(int encoding)
{
    const ngx_tunny_compress_codec_t  *codec;

    codec = ngx_tunny_compress_codec(encoding);

    return codec ? codec->name : "";
}


void
ngx_tunny_compress_levels(int encoding, int *min, int *max)
{
    const ngx_tunny_compress_codec_t  *codec;

    codec = ngx_tunny_compress_codec(encoding);

    *min = codec ? codec->min_level : 0;
    *max = codec ? codec->max_level : -1;
}


static const ngx_tunny_compress_codec_t *
ngx_tunny_compress_check(const ngx_tunny_compress_params_t *p)
{
    const ngx_tunny_compress_codec_t  *codec;

    codec = ngx_tunny_compress_codec(p->encoding);

    if (codec == NULL
        || p->level < codec->min_level || p->level > codec->max_level
        || codec->window(p) == 0)
    {
        return NULL;
    }

    return codec;
}


unsigned
ngx_tunny_compress_window(const ngx_tunny_compress_params_t *p)
{
    const ngx_tunny_compress_codec_t  *codec;

    codec = ngx_tunny_compress_codec(p->encoding);

    return codec ? codec->window(p) : 0;
}


size_t
ngx_tunny_compress_memory(const ngx_tunny_compress_params_t *p)
{
    const ngx_tunny_compress_codec_t  *codec;

    codec = ngx_tunny_compress_check(p);

    return codec ? codec->memory(p) : 0;
}


int
ngx_tunny_compress_create(const ngx_tunny_compress_params_t *p,
    ngx_tunny_compress_t **cp)
{
    int                                 rc;
    ngx_tunny_compress_t               *c;
    const ngx_tunny_compress_codec_t   *codec;

    *cp = NULL;

    codec = ngx_tunny_compress_check(p);
    if (codec == NULL) {
        return NGX_TUNNY_COMPRESS_EPARAM;
    }

    c = calloc(1, sizeof(ngx_tunny_compress_t));
    if (c == NULL) {
        return NGX_TUNNY_COMPRESS_ENOMEM;
    }

    c->codec = codec;

    rc = codec->create(c, p);

    if (rc != NGX_TUNNY_COMPRESS_OK) {
        free(c);
        return rc;
    }

    *cp = c;

    return NGX_TUNNY_COMPRESS_OK;
}


int
ngx_tunny_compress_chunk(ngx_tunny_compress_t *c, const unsigned char *in,
    size_t len, int end, ngx_tunny_compress_buf_t *out, size_t slice,
    ngx_tunny_compress_cancel_pt cancel, void *data)
{
    int     rc;
    size_t  n;

    if (c->failed || c->finished
        || end < NGX_TUNNY_COMPRESS_PROCESS || end > NGX_TUNNY_COMPRESS_FINISH)
    {
        return NGX_TUNNY_COMPRESS_ESTATE;
    }

    if (slice == 0) {
        slice = NGX_TUNNY_COMPRESS_SLICE;
    }

    /* the last slice carries "end"; an empty chunk is one empty slice */

    do {
        if (cancel && cancel(data)) {
            c->failed = 1;
            return NGX_TUNNY_COMPRESS_ECANCEL;
        }

        n = (len > slice) ? slice : len;

        rc = c->codec->feed(c, in, n, (n == len) ? end
                                                 : NGX_TUNNY_COMPRESS_PROCESS,
                            out);

        if (rc != NGX_TUNNY_COMPRESS_OK) {
            c->failed = 1;
            return rc;
        }

        in += n;
        len -= n;

    } while (len);

    if (end == NGX_TUNNY_COMPRESS_FINISH) {
        c->finished = 1;
    }

    return NGX_TUNNY_COMPRESS_OK;
}


size_t
ngx_tunny_compress_peak(ngx_tunny_compress_t *c)
{
    return c->peak;
}


void
ngx_tunny_compress_destroy(ngx_tunny_compress_t *c)
{
    if (c == NULL) {
        return;
    }

    c->codec->destroy(c);

    free(c);
}


void *
ngx_tunny_compress_alloc(ngx_tunny_compress_t *c, size_t size)
{
    unsigned char  *p;

    if (size > (size_t) -1 - NGX_TUNNY_COMPRESS_HDR) {
        return NULL;
    }

    p = malloc(NGX_TUNNY_COMPRESS_HDR + size);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, &size, sizeof(size_t));

    c->held += size;

    if (c->held > c->peak) {
        c->peak = c->held;
    }

    return p + NGX_TUNNY_COMPRESS_HDR;
}


void
ngx_tunny_compress_free(ngx_tunny_compress_t *c, void *p)
{
    size_t          size;
    unsigned char  *h;

    if (p == NULL) {
        return;
    }

    h = (unsigned char *) p - NGX_TUNNY_COMPRESS_HDR;

    memcpy(&size, h, sizeof(size_t));

    c->held -= size;

    free(h);
}


int
ngx_tunny_compress_out_room(ngx_tunny_compress_buf_t *out, size_t want)
{
    size_t          size;
    unsigned char  *p;

    if (out->size - out->len >= want) {
        return 0;
    }

    size = out->size ? out->size : 4096;

    while (size - out->len < want) {
        if (size > (size_t) -1 / 2) {
            return -1;
        }

        size *= 2;
    }

    p = realloc(out->data, size);
    if (p == NULL) {
        return -1;
    }

    out->data = p;
    out->size = size;

    return 0;
}
