/*
 * ngx_tunny_module: nginx-free streaming compression (brotli, zstd, gzip)
 * for tunny_compress.
 *
 * The files of src/compress include no nginx header: the layer is unit
 * tested on its own (t/unit/test_compress.c).  An encoder
 * (ngx_tunny_compress_t) is a stream: chunks go in, in order, each one
 * followed by a decision (more follows, flush, finish).  One encoder is
 * used by one thread at a time; different encoders are independent, in
 * any threads.
 *
 * Memory: the encoder allocates through counting functions, so that
 * ngx_tunny_compress_memory() (an estimate made before the encoder
 * exists, for a reservation) can be checked against the real peak.  The
 * output buffer (ngx_tunny_compress_buf_t) is malloc()ed, grown with
 * realloc() as needed and owned by the caller, who frees out->data.
 */

#ifndef _NGX_TUNNY_COMPRESS_H_INCLUDED_
#define _NGX_TUNNY_COMPRESS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* encodings, as Content-Encoding names them */
#define NGX_TUNNY_COMPRESS_BROTLI     0     /* "br" */
#define NGX_TUNNY_COMPRESS_ZSTD       1     /* "zstd" */
#define NGX_TUNNY_COMPRESS_GZIP       2     /* "gzip" */
#define NGX_TUNNY_COMPRESS_N          3

/* what follows a chunk */
#define NGX_TUNNY_COMPRESS_PROCESS    0     /* more input */
#define NGX_TUNNY_COMPRESS_FLUSH      1     /* all so far must be decodable */
#define NGX_TUNNY_COMPRESS_FINISH     2     /* the end of the stream */

/* results */
#define NGX_TUNNY_COMPRESS_OK         0
#define NGX_TUNNY_COMPRESS_ECANCEL   -1     /* cancelled between slices */
#define NGX_TUNNY_COMPRESS_ENOMEM    -2
#define NGX_TUNNY_COMPRESS_EPARAM    -3     /* level or window out of range */
#define NGX_TUNNY_COMPRESS_ESTATE    -4     /* a library error, or input
                                               after the finish */

/* the input slice between two looks at the cancel callback */
#define NGX_TUNNY_COMPRESS_SLICE      (16 * 1024)


typedef struct {
    int                encoding;      /* NGX_TUNNY_COMPRESS_BROTLI, ... */
    int                level;         /* the library's own scale */
    unsigned           window_bits;   /* brotli and gzip; 0: default */
    uint64_t           size_hint;     /* the whole input if known, or 0 */
} ngx_tunny_compress_params_t;


typedef struct {
    unsigned char     *data;          /* malloc()ed, the caller's */
    size_t             len;
    size_t             size;
} ngx_tunny_compress_buf_t;


typedef struct ngx_tunny_compress_s  ngx_tunny_compress_t;

/* non-zero: stop; called between slices, from the compressing thread */
typedef int (*ngx_tunny_compress_cancel_pt)(void *data);


/* "br", "zstd", "gzip" (also "x-gzip"), case-insensitive: the encoding */
int ngx_tunny_compress_lookup(const unsigned char *name, size_t len);
const char *ngx_tunny_compress_name(int encoding);

/* the level range of an encoding */
void ngx_tunny_compress_levels(int encoding, int *min, int *max);

/*
 * The window the encoder uses for these parameters (log2 bytes): the
 * configured one, made smaller for a small known input, as nginx's gzip
 * filter and the brotli filter do; for zstd the library's choice for the
 * level and size, at most 2^23 (RFC 9659).
 */
unsigned ngx_tunny_compress_window(const ngx_tunny_compress_params_t *p);

/* the most the encoder will allocate, for a reservation; 0: bad params */
size_t ngx_tunny_compress_memory(const ngx_tunny_compress_params_t *p);

/* a new encoder in *c: NGX_TUNNY_COMPRESS_OK, _ENOMEM or _EPARAM */
int ngx_tunny_compress_create(const ngx_tunny_compress_params_t *p,
    ngx_tunny_compress_t **c);

/*
 * Compress a chunk: len bytes of in (len may be 0), then what "end"
 * says (NGX_TUNNY_COMPRESS_PROCESS, _FLUSH, _FINISH).  The output is
 * appended to out (grown as needed).  The input is fed in slices of
 * "slice" bytes (0: NGX_TUNNY_COMPRESS_SLICE); cancel(data), if not NULL,
 * is asked before each one.  After an error or a cancel the encoder is
 * only good for ngx_tunny_compress_destroy().
 */
int ngx_tunny_compress_chunk(ngx_tunny_compress_t *c,
    const unsigned char *in, size_t len, int end, ngx_tunny_compress_buf_t *out,
    size_t slice, ngx_tunny_compress_cancel_pt cancel, void *data);

/* the most the encoder has held allocated so far (bytes) */
size_t ngx_tunny_compress_peak(ngx_tunny_compress_t *c);

void ngx_tunny_compress_destroy(ngx_tunny_compress_t *c);


#endif /* _NGX_TUNNY_COMPRESS_H_INCLUDED_ */
