
/*
 * ngx_tunny_module: what the files of the image library share, and only
 * they (no nginx header here either).
 *
 * Threads and ownership:
 *   ngx_tunny_image_run_t  one per ngx_tunny_image_process() call, on the
 *       stack of the calling thread; every step of the pipeline gets it
 *       and nothing else keeps a pointer to it after the call.
 *   ngx_tunny_image_state_t  the scratch buffers, used by one thread at a
 *       time (the pool thread that owns the state).  The decoder writes
 *       BUF_DEC; every later pixel step reads run->pix and writes the other
 *       one of BUF_A and BUF_B (ngx_tunny_image_pix_next()), so the output
 *       of a step stays valid until the step after the next one; TMP, WTS,
 *       ROW and OUT belong to one step each, for as long as it runs; RAW
 *       to the PNG decoder, and it is the decoded pixels in place of DEC
 *       when that decoder does not shrink.
 *   params->cancel  the only memory another thread writes during a call;
 *       read in ngx_tunny_image_checkpoint() only, with a relaxed atomic
 *       load (a late look costs a few more rows of work, nothing else).
 */

#ifndef _NGX_TUNNY_IMAGE_INT_H_INCLUDED_
#define _NGX_TUNNY_IMAGE_INT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "ngx_tunny_image.h"

/* libwebp's demuxer, for ngx_tunny_image_webp_icc() */
struct WebPDemuxer;


/* 1 when built with libavif: src/image/Makefile defines it (AVIF=yes) */
#ifndef NGX_TUNNY_IMAGE_HAVE_AVIF
#define NGX_TUNNY_IMAGE_HAVE_AVIF  0
#endif

/* rows of a pixel loop between two looks at the cancel flag: a power of 2 */
#define NGX_TUNNY_IMAGE_CHECK_ROWS  64

/* a step's result besides NGX_TUNNY_IMAGE_*: no more frames */
#define NGX_TUNNY_IMAGE_END         2

/* a shortcut's result: not for this input, take the general path */
#define NGX_TUNNY_IMAGE_DECLINED    3

/* scratch buffers of the state */
#define NGX_TUNNY_IMAGE_BUF_DEC     0       /* decoded pixels */
#define NGX_TUNNY_IMAGE_BUF_A       1       /* pipeline ping */
#define NGX_TUNNY_IMAGE_BUF_B       2       /* pipeline pong */
#define NGX_TUNNY_IMAGE_BUF_TMP     3       /* resampler intermediate */
#define NGX_TUNNY_IMAGE_BUF_WTS     4       /* resampler weights, accum */
#define NGX_TUNNY_IMAGE_BUF_ROW     5       /* CMYK rows, a GIF line */
#define NGX_TUNNY_IMAGE_BUF_OUT     6       /* encoder output */
#define NGX_TUNNY_IMAGE_BUF_RAW     7       /* PNG rows inflated, JPEG DCs */
#define NGX_TUNNY_IMAGE_NBUFS       8


typedef struct {
    unsigned char                  *data;
    size_t                          size;
} ngx_tunny_image_buf_t;


/* ngx_tunny_image_colour.c: lcms2's context and transforms of a thread */
typedef struct ngx_tunny_image_colour_s  ngx_tunny_image_colour_t;


struct ngx_tunny_image_state_s {
    ngx_tunny_image_buf_t           buf[NGX_TUNNY_IMAGE_NBUFS];
    ngx_tunny_image_colour_t       *colour;        /* made on first use */
};


/* a CMYK JPEG's rows to sRGB RGB (ngx_tunny_image_cmyk_init()) */
typedef struct {
    void                           *xf;            /* lcms2 transform of the
                                                      state, or NULL: plain
                                                      inversion */
    int                             inverted;      /* Adobe: 255 = no ink */
} ngx_tunny_image_cmyk_t;


/* pixels, 8 bits per channel: grey, RGB or RGBA */
typedef struct {
    unsigned char                  *data;
    unsigned                        width;
    unsigned                        height;
    unsigned                        channels;      /* 1, 3 or 4 */
    size_t                          stride;
    int                             buf;           /* state buffer index */
} ngx_tunny_image_pix_t;


/* the sizes of a job, image_filter semantics (see the geometry function) */
typedef struct {
    unsigned                        uw, uh;        /* upright input */
    unsigned                        rw, rh;        /* upright, resized */
    unsigned                        fw, fh;        /* after the rotation */
    unsigned                        cx, cy;        /* cut window */
    unsigned                        cw, ch;
    unsigned                        tw, th;        /* stored orientation */
    unsigned                        nw, nh;        /* decode at least */
    unsigned                        scale;         /* JPEG: DCT n/8 */
    unsigned                        wx, wy;        /* the window of the */
    unsigned                        ww, wh;        /* tw x th image kept */
    unsigned                        dx, dy;        /* the decoded pixels */
    unsigned                        dw, dh;        /* the window reads;
                                                      dw 0: all */
} ngx_tunny_image_geo_t;


/*
 * A GIF read frame by frame (ngx_tunny_image_gif.c): the giflib handle,
 * the input, and what the disposal of the last frame needs.
 */
typedef struct {
    void                           *gif;           /* GifFileType */
    const unsigned char            *in;
    size_t                          len;
    size_t                          pos;
    unsigned                        width;         /* the screen */
    unsigned                        height;
    unsigned                        frames;        /* read so far */
    int                             dispose;       /* of the last frame */
    int                             transparent;   /* its index, or -1 */
    unsigned                        x, y, w, h;    /* its rectangle */
    unsigned                        delay;         /* its delay, ms */
    unsigned char                  *saved;         /* malloc()ed: under
                                                      a "previous" frame */
    size_t                          saved_size;
} ngx_tunny_image_gif_t;


/* what a walk over a GIF's blocks finds, without decoding */
typedef struct {
    unsigned                        frames;
    int                             loop;          /* NETSCAPE2.0, or -1 */
    int                             outside;       /* a frame rectangle
                                                      outside the screen */
    unsigned                        x, y, w, h;    /* the first such */
} ngx_tunny_image_gif_scan_t;


/*
 * The box shrink on load of a row decoder (ngx_tunny_image_shrink.c):
 * rows in, one output row every k of them.
 */
#define NGX_TUNNY_IMAGE_BOX_MAX     64      /* k: a block's RGBA sums fit
                                               32 bits */

typedef struct {
    unsigned                        k;
    unsigned                        width;         /* the source */
    unsigned                        height;
    unsigned                        channels;
    unsigned                        rows;          /* summed in acc */
    unsigned                        y;             /* the next out row */
    uint32_t                       *acc;           /* width * channels
                                                      column sums */
    ngx_tunny_image_pix_t           out;
} ngx_tunny_image_shrink_t;


/* one ngx_tunny_image_process() call */
typedef struct {
    ngx_tunny_image_state_t        *st;
    const ngx_tunny_image_params_t *params;
    ngx_tunny_image_result_t       *res;
    const unsigned char            *in;
    size_t                          len;

    ngx_tunny_image_info_t          info;          /* the probe of in */
    ngx_tunny_image_geo_t           geo;
    int                             out_type;

    unsigned char                  *icc;           /* malloc()ed */
    unsigned int                    icc_len;

    ngx_tunny_image_pix_t           pix;           /* the current pixels */
    int                             pixels;        /* stop before encoding */

    unsigned                        fast;          /* shortcuts allowed */
    unsigned                        dec_w, dec_h;  /* the decoded frame */
    unsigned                        dec_x, dec_y;  /* pix's origin in it */
    unsigned                        box;           /* the decoder's box
                                                      shrink (0, 1: none) */
    int                             colour_late;   /* convert after the
                                                      resampler (measured,
                                                      not used: see the
                                                      pipeline) */
} ngx_tunny_image_run_t;


/* ngx_tunny_image_pipeline.c: the run and the state */

/*
 * ngx_tunny_image_process() without the encoder, for the unit tests and
 * the quality bench: *pix gets the pixels the encoder would have got; they
 * live in st until its next use.
 */
int ngx_tunny_image_pixels(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res,
    ngx_tunny_image_pix_t *pix);

/*
 * The same with only the shortcuts of fast (NGX_TUNNY_IMAGE_FAST_*); with
 * NGX_TUNNY_IMAGE_DECODED in fast too, *pix is what the decoder gave (for
 * a region decode a part of the frame), before any other step.
 */
#define NGX_TUNNY_IMAGE_DECODED     0x100

/*
 * In res->fast beside NGX_TUNNY_IMAGE_FAST_DC: the DC-only decode was the
 * module's own (ngx_tunny_image_jpeg_dc.c), not libjpeg's without the AC
 * scans; for the tests (no NGX_TUNNY_IMAGE_FAST_* name shows it)
 */
#define NGX_TUNNY_IMAGE_DC_OWN      0x200

int ngx_tunny_image_pixels_fast(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res,
    ngx_tunny_image_pix_t *pix, unsigned fast);

/* the same, with the colour step after the resampler when late is 1 (it
 * runs before it): the quality bench measures both places */
int ngx_tunny_image_pixels_at(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res,
    ngx_tunny_image_pix_t *pix, int late);

int ngx_tunny_image_error(ngx_tunny_image_result_t *res, int rc,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int ngx_tunny_image_checkpoint(ngx_tunny_image_run_t *run, unsigned row);
int ngx_tunny_image_limit(ngx_tunny_image_run_t *run, unsigned width,
    unsigned height);
unsigned char *ngx_tunny_image_buf_get(ngx_tunny_image_state_t *st, int i,
    size_t size);
int ngx_tunny_image_buf_grow(ngx_tunny_image_buf_t *b, size_t size);
int ngx_tunny_image_pix_next(ngx_tunny_image_run_t *run,
    ngx_tunny_image_pix_t *out, unsigned width, unsigned height,
    unsigned channels, const char *what);
void ngx_tunny_image_icc_check(ngx_tunny_image_run_t *run,
    unsigned channels);
void ngx_tunny_image_icc_drop(ngx_tunny_image_run_t *run);

/*
 * ngx_tunny_image_heif.c: the HEIF boxes for the sniff and the probe (no
 * library, no allocation), and libheif's reference count
 */

int ngx_tunny_image_heif_brands(const unsigned char *p, size_t len,
    int *generic);
int ngx_tunny_image_heif_is_hevc(const unsigned char *p, size_t len);
int ngx_tunny_image_heif_probe(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info);
void ngx_tunny_image_heif_init(void);
void ngx_tunny_image_heif_deinit(void);

/* the steps, in the order of the pipeline; each returns NGX_TUNNY_IMAGE_* */

int ngx_tunny_image_jpeg_decode(ngx_tunny_image_run_t *run);
unsigned ngx_tunny_image_dct_scale_fast(unsigned n);
int ngx_tunny_image_webp_decode(ngx_tunny_image_run_t *run);
int ngx_tunny_image_png_decode(ngx_tunny_image_run_t *run);
int ngx_tunny_image_png_idat(ngx_tunny_image_run_t *run, unsigned width,
    unsigned height, unsigned channels, ngx_tunny_image_shrink_t *shrink);

/* PNG's filter types and the predictor of the last, for both directions */
#define NGX_TUNNY_IMAGE_PNG_NONE    0
#define NGX_TUNNY_IMAGE_PNG_SUB     1
#define NGX_TUNNY_IMAGE_PNG_UP      2
#define NGX_TUNNY_IMAGE_PNG_AVG     3
#define NGX_TUNNY_IMAGE_PNG_PAETH   4
unsigned ngx_tunny_image_png_paeth(unsigned a, unsigned b, unsigned c);
int ngx_tunny_image_gif_decode(ngx_tunny_image_run_t *run);
void ngx_tunny_image_decoded_whole(ngx_tunny_image_run_t *run);
unsigned ngx_tunny_image_box_factor(const ngx_tunny_image_run_t *run);

/*
 * The vector kernels of the resampler, the box shrink and the PNG filters:
 * the highest instruction set they may use (each kernel takes the highest
 * it has that the CPU runs), AVX2 unless a test or a bench lowers it to
 * compare them, before any job runs; ngx_tunny_image_resample.c
 */
#define NGX_TUNNY_IMAGE_VECTOR_NONE  0      /* the scalar kernels */
#define NGX_TUNNY_IMAGE_VECTOR_SSE2  1
#define NGX_TUNNY_IMAGE_VECTOR_AVX2  2
void ngx_tunny_image_vector_max(int level);
int ngx_tunny_image_vector(void);

int ngx_tunny_image_shrink_init(ngx_tunny_image_run_t *run,
    ngx_tunny_image_shrink_t *s, unsigned k, unsigned width, unsigned height,
    unsigned channels);
void ngx_tunny_image_shrink_row(ngx_tunny_image_shrink_t *s,
    const unsigned char *row);
int ngx_tunny_image_anim(ngx_tunny_image_run_t *run);
int ngx_tunny_image_anim_decode(ngx_tunny_image_run_t *run);
int ngx_tunny_image_heif_decode(ngx_tunny_image_run_t *run);
int ngx_tunny_image_avif_decode(ngx_tunny_image_run_t *run);
int ngx_tunny_image_resample(ngx_tunny_image_run_t *run, double sw,
    double sh, unsigned dw, unsigned dh);
void ngx_tunny_image_resample_span(double extent, unsigned src,
    unsigned dst, unsigned from, unsigned n, unsigned *lo, unsigned *hi);
void ngx_tunny_image_transform_window(ngx_tunny_image_run_t *run);
int ngx_tunny_image_transform(ngx_tunny_image_run_t *run);
int ngx_tunny_image_colour(ngx_tunny_image_run_t *run);
int ngx_tunny_image_colour_frame(ngx_tunny_image_run_t *run);
void ngx_tunny_image_colour_end(ngx_tunny_image_run_t *run);
int ngx_tunny_image_sharpen(ngx_tunny_image_run_t *run, int percent);
int ngx_tunny_image_jpeg_encode(ngx_tunny_image_run_t *run);
int ngx_tunny_image_webp_encode(ngx_tunny_image_run_t *run);
void ngx_tunny_image_webp_icc(ngx_tunny_image_run_t *run,
    struct WebPDemuxer *dmux);
int ngx_tunny_image_webp_output(ngx_tunny_image_run_t *run,
    const unsigned char *bytes, size_t size, int anim);
int ngx_tunny_image_png_encode(ngx_tunny_image_run_t *run);
int ngx_tunny_image_png_deflate(ngx_tunny_image_run_t *run);
int ngx_tunny_image_avif_encode(ngx_tunny_image_run_t *run);

/* GIF frame by frame: open, next (OK, END or an error), close */
int ngx_tunny_image_gif_open(ngx_tunny_image_run_t *run,
    ngx_tunny_image_gif_t *g);
int ngx_tunny_image_gif_next(ngx_tunny_image_run_t *run,
    ngx_tunny_image_gif_t *g, unsigned char *canvas);
void ngx_tunny_image_gif_close(ngx_tunny_image_gif_t *g);
void ngx_tunny_image_gif_scan(const unsigned char *p, size_t len,
    ngx_tunny_image_gif_scan_t *s);

/* ngx_tunny_image_anim.c: frames of a header, without decoding */
unsigned ngx_tunny_image_anim_count(const unsigned char *p, size_t len,
    int type);

/* ngx_tunny_image_pipeline.c: image_filter's geometry */
void ngx_tunny_image_geometry(const ngx_tunny_image_params_t *p,
    int orientation, unsigned sw, unsigned sh, ngx_tunny_image_geo_t *g);

/* ngx_tunny_image_colour.c: CMYK rows, the state's part */
void ngx_tunny_image_cmyk_init(ngx_tunny_image_run_t *run,
    ngx_tunny_image_cmyk_t *ck, int inverted);
void ngx_tunny_image_cmyk_row(const ngx_tunny_image_cmyk_t *ck,
    const unsigned char *s, unsigned char *d, unsigned n);
void ngx_tunny_image_colour_trim(ngx_tunny_image_colour_t *c);
void ngx_tunny_image_colour_free(ngx_tunny_image_colour_t *c);
/* lcms2's last error message in this state, for tests; "" if none */
const char *ngx_tunny_image_colour_error(ngx_tunny_image_state_t *st);


#endif /* _NGX_TUNNY_IMAGE_INT_H_INCLUDED_ */
