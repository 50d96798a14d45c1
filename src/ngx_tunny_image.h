/*
 * ngx_tunny_module: nginx-free image processing.
 *
 * This file and ngx_tunny_image.c must not include any nginx header: the
 * code is unit tested and fuzzed on its own.  Every function is
 * thread-safe as long as one ngx_tunny_image_state_t is used by at most one
 * thread at a time (the pool gives each thread its own state).
 *
 * Memory: the result buffer (res->data) is malloc()ed and owned by the
 * caller, who releases it with free().  Nothing else escapes a call.
 */

#ifndef _NGX_TUNNY_IMAGE_H_INCLUDED_
#define _NGX_TUNNY_IMAGE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* image types, as recognised from the first bytes */
#define NGX_TUNNY_IMAGE_NONE      0
#define NGX_TUNNY_IMAGE_JPEG      1
#define NGX_TUNNY_IMAGE_WEBP      2
#define NGX_TUNNY_IMAGE_PNG       3     /* recognised, passed through */
#define NGX_TUNNY_IMAGE_GIF       4     /* recognised, passed through */

/* operations: a bit set, as image_filter combines rotate with the others */
#define NGX_TUNNY_IMAGE_OP_RESIZE 0x01
#define NGX_TUNNY_IMAGE_OP_CROP   0x02
#define NGX_TUNNY_IMAGE_OP_ROTATE 0x04

/* "-" in a dimension: any size */
#define NGX_TUNNY_IMAGE_ANY       0

/* results */
#define NGX_TUNNY_IMAGE_OK         0    /* res holds the output */
#define NGX_TUNNY_IMAGE_ASIS       1    /* send the input unchanged */
#define NGX_TUNNY_IMAGE_EINPUT    -1    /* not an image / corrupt: 415 */
#define NGX_TUNNY_IMAGE_ELIMIT    -2    /* over max_pixels etc.: 415 */
#define NGX_TUNNY_IMAGE_EPARAM    -3    /* bad parameter: 400 */
#define NGX_TUNNY_IMAGE_ECANCEL   -4    /* the cancel flag was seen */
#define NGX_TUNNY_IMAGE_ENOMEM    -5    /* allocation failed: 500 */


typedef struct {
    int            type;            /* NGX_TUNNY_IMAGE_* type */
    unsigned       width;           /* as stored, before orientation */
    unsigned       height;
    int            orientation;     /* EXIF 1..8, 1 when absent */
} ngx_tunny_image_info_t;


typedef struct {
    unsigned       ops;             /* NGX_TUNNY_IMAGE_OP_* */
    unsigned       width;           /* box for resize/crop, 0 = any */
    unsigned       height;
    unsigned       angle;           /* 0, 90, 180, 270: counter-clockwise,
                                       as image_filter (gdImageCopyRotated) */

    int            out_type;        /* 0 = same as input, or JPEG / WEBP */
    int            jpeg_quality;    /* 1..100 */
    int            webp_quality;    /* 1..100 */
    int            interlace;       /* progressive JPEG output */
    int            sharpen;         /* percent, 0 = off */

    uint64_t       max_pixels;      /* width*height limit of the input */

    /*
     * Set by another thread to ask for an early stop; read with
     * __atomic_load_n(cancel, __ATOMIC_RELAXED) at least every few
     * milliseconds of work (between scanline batches, in libwebp's
     * progress hook).  May be NULL.
     */
    const int     *cancel;
} ngx_tunny_image_params_t;


typedef struct {
    unsigned char *data;            /* malloc()ed output, caller frees */
    size_t         len;
    int            type;            /* type of data */
    unsigned       width;           /* of the output */
    unsigned       height;
    char           error[160];      /* reason on any error, NUL-terminated */
} ngx_tunny_image_result_t;


typedef struct ngx_tunny_image_state_s  ngx_tunny_image_state_t;


/*
 * Type and dimensions from the header only: no pixel decoding and no
 * allocation beyond a few bytes.  Returns the type (NGX_TUNNY_IMAGE_NONE
 * when the bytes are no known image).  For JPEG and WebP the dimensions
 * are read from SOFn / VP8 / VP8L / VP8X; for PNG and GIF from their
 * headers.  Returns NGX_TUNNY_IMAGE_NONE with width = height = 0 when the
 * header is truncated before the dimensions.
 */
int ngx_tunny_image_probe(const unsigned char *in, size_t len,
    ngx_tunny_image_info_t *info);

/* short lower-case name: "jpeg", "webp", "png", "gif" or "" */
const char *ngx_tunny_image_type_name(int type);

/* MIME type: "image/jpeg", ... */
const char *ngx_tunny_image_mime_type(int type);


/* per-thread reusable handles and scratch buffers */
ngx_tunny_image_state_t *ngx_tunny_image_state_create(void);
void ngx_tunny_image_state_destroy(ngx_tunny_image_state_t *st);

/* release scratch buffers grown past cap bytes; called after each job */
void ngx_tunny_image_state_trim(ngx_tunny_image_state_t *st, size_t cap);


/*
 * The whole job: probe, check limits before any pixel allocation, decode
 * (JPEG at the smallest DCT scale that covers the target), apply the EXIF
 * orientation, resize/crop, rotate, sharpen, encode.  Semantics of nginx
 * image_filter: resize fits inside width x height and never enlarges;
 * crop scales to fill the box and cuts the centre; rotate is applied after
 * resize/crop.  When nothing would change (fits already, no rotation,
 * upright, same output type) returns NGX_TUNNY_IMAGE_ASIS.
 * PNG and GIF input return NGX_TUNNY_IMAGE_ASIS unchanged.
 */
int ngx_tunny_image_process(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res);


/*
 * Addition: the JPEG DCT scale the decoder picks, exposed for tests.
 * Returns n in 1..8, the smallest with ceil(src * n / 8) >= need in both
 * dimensions (the decoder then decodes at n/8 and resamples to the need).
 */
unsigned ngx_tunny_image_dct_scale(unsigned src_w, unsigned src_h,
    unsigned need_w, unsigned need_h);


#endif /* _NGX_TUNNY_IMAGE_H_INCLUDED_ */
