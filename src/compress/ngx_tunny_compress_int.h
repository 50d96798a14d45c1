/*
 * ngx_tunny_module: the inside of src/compress, shared by the dispatcher
 * (ngx_tunny_compress.c) and one file per codec.  nginx-free.
 *
 * A codec feeds its library: feed() consumes all of in, then completes
 * "end" (a flush or the finish), appending to out through
 * ngx_tunny_compress_out_room().  The library's memory comes from
 * ngx_tunny_compress_alloc()/_free(), which count it in the encoder.
 */

#ifndef _NGX_TUNNY_COMPRESS_INT_H_INCLUDED_
#define _NGX_TUNNY_COMPRESS_INT_H_INCLUDED_


#include "ngx_tunny_compress.h"


typedef struct {
    const char        *name;
    int                min_level;
    int                max_level;

    unsigned         (*window)(const ngx_tunny_compress_params_t *p);
    size_t           (*memory)(const ngx_tunny_compress_params_t *p);
    int              (*create)(ngx_tunny_compress_t *c,
                               const ngx_tunny_compress_params_t *p);
    int              (*feed)(ngx_tunny_compress_t *c,
                             const unsigned char *in, size_t len, int end,
                             ngx_tunny_compress_buf_t *out);
    void             (*destroy)(ngx_tunny_compress_t *c);
} ngx_tunny_compress_codec_t;


struct ngx_tunny_compress_s {
    const ngx_tunny_compress_codec_t  *codec;
    void                              *lib;     /* the library's state */
    size_t                             held;    /* allocated now */
    size_t                             peak;
    unsigned                           finished:1;
    unsigned                           failed:1;
};


extern const ngx_tunny_compress_codec_t  ngx_tunny_compress_brotli;
extern const ngx_tunny_compress_codec_t  ngx_tunny_compress_zstd;
extern const ngx_tunny_compress_codec_t  ngx_tunny_compress_gzip;


/* the library allocators: counted in c->held and c->peak */
void *ngx_tunny_compress_alloc(ngx_tunny_compress_t *c, size_t size);
void ngx_tunny_compress_free(ngx_tunny_compress_t *c, void *p);

/*
 * At least "want" free bytes at the end of out (grown by doubling):
 * 0, or -1 without memory.
 */
int ngx_tunny_compress_out_room(ngx_tunny_compress_buf_t *out, size_t want);


#endif /* _NGX_TUNNY_COMPRESS_INT_H_INCLUDED_ */
