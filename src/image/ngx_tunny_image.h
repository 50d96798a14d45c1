/*
 * ngx_tunny_module: nginx-free image processing, the public API.
 *
 * No file of src/image includes an nginx header: the library is unit
 * tested and fuzzed on its own, and built once, as a static archive
 * (src/image/Makefile), for the module, the tests and the fuzzer.
 *
 * Threads: every function is thread-safe as long as one
 * ngx_tunny_image_state_t is used by at most one thread at a time (the
 * pool gives each thread its own state).  The probe, the type functions
 * and ngx_tunny_image_check_pixels() touch no state at all: the HTTP
 * module calls them in the event loop.
 *
 * Memory: the result buffer (res->data) is malloc()ed and owned by the
 * caller, who releases it with free().  Nothing else escapes a call;
 * info->error points to a static string.
 */

#ifndef _NGX_TUNNY_IMAGE_H_INCLUDED_
#define _NGX_TUNNY_IMAGE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* the header walk counts frames up to this many */
#define NGX_TUNNY_IMAGE_FRAMES_CAP  1000000

/* image types, as recognised from the first bytes */
#define NGX_TUNNY_IMAGE_NONE      0
#define NGX_TUNNY_IMAGE_JPEG      1
#define NGX_TUNNY_IMAGE_WEBP      2
#define NGX_TUNNY_IMAGE_PNG       3
#define NGX_TUNNY_IMAGE_GIF       4     /* decoded; written as PNG */
#define NGX_TUNNY_IMAGE_AVIF      5     /* ftyp brand avif or avis */
#define NGX_TUNNY_IMAGE_HEIC      6     /* decoded (libheif, optional);
                                           written as JPEG */

/* operations: a bit set, as image_filter combines rotate with the others */
#define NGX_TUNNY_IMAGE_OP_RESIZE 0x01
#define NGX_TUNNY_IMAGE_OP_CROP   0x02
#define NGX_TUNNY_IMAGE_OP_ROTATE 0x04

/*
 * The exact decode shortcuts (a bit set): what a call may use, what it
 * used (res->fast).  Both give the pixels of the whole decode.
 *   DC      a progressive JPEG decoded at 1/8: the AC scans of the
 *           components whose 1/8 IDCT reads only the DC coefficient are
 *           not entropy-decoded at all
 *   REGION  a JPEG decoded only over the rows and columns the output
 *           needs (crop): jpeg_crop_scanline(), jpeg_skip_scanlines(),
 *           the rows below the window not decoded
 *   INFLATE a plain PNG (8 bits, not interlaced, no tRNS) inflated in
 *           one call by libdeflate and unfiltered by our own SSE2 code
 *           instead of libspng's row loop
 * and one of the encoder, exact in the pixels, not in the bytes:
 *   DEFLATE a PNG output of up to 512 x 512 pixels at levels 0-6
 *           filtered by our own SSE2 code and deflated in one call by
 *           libdeflate instead of libspng's encoder over zlib
 */
#define NGX_TUNNY_IMAGE_FAST_DC      0x01
#define NGX_TUNNY_IMAGE_FAST_REGION  0x02
#define NGX_TUNNY_IMAGE_FAST_INFLATE 0x04
#define NGX_TUNNY_IMAGE_FAST_DEFLATE 0x08
#define NGX_TUNNY_IMAGE_FAST_ALL     0x0f

/* params->colour: what becomes of the source's ICC profile */
#define NGX_TUNNY_IMAGE_COLOUR_KEEP   0     /* copied to the output, pixels
                                               untouched */
#define NGX_TUNNY_IMAGE_COLOUR_SRGB   1     /* pixels converted to sRGB, no
                                               profile written */
#define NGX_TUNNY_IMAGE_COLOUR_STRIP  2     /* dropped, pixels untouched */

/*
 * params->avif_codec: libavif's AV1 encoder.  The module always uses
 * libaom (0); the others Debian's libavif links are there for the unit
 * test's comparison of the encoders (TUNNY_BENCH=avif, README "AVIF").
 */
#define NGX_TUNNY_IMAGE_AVIF_AOM      0
#define NGX_TUNNY_IMAGE_AVIF_SVT      1     /* SVT-AV1 */
#define NGX_TUNNY_IMAGE_AVIF_RAV1E    2

/* params->background: set, and its colour 0xRRGGBB */
#define NGX_TUNNY_IMAGE_BG_SET        0x1000000

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
    int            type;          /* NGX_TUNNY_IMAGE_*, from the magic bytes */
    unsigned       width;         /* as stored, before orientation;
                                     0: unknown */
    unsigned       height;
    int            orientation;   /* EXIF 1..8, 1 when absent */
    /* what the decoder needs from the header, opaque to callers: */
    size_t         app_bytes;
    unsigned       vp8x_flags;
    unsigned       frames;        /* GIF image descriptors, WebP ANMF
                                     chunks, counted without decoding
                                     (at most NGX_TUNNY_IMAGE_FRAMES_CAP);
                                     1 for any other image */
    const char    *error;         /* static string: why no dimensions,
                                     or NULL */
} ngx_tunny_image_info_t;


typedef struct {
    unsigned       ops;             /* NGX_TUNNY_IMAGE_OP_* */
    unsigned       width;           /* box for resize/crop, 0 = any */
    unsigned       height;
    unsigned       angle;           /* 0, 90, 180, 270: counter-clockwise,
                                       as image_filter (gdImageCopyRotated) */

    int            out_type;        /* 0 = same as input, or JPEG / WEBP /
                                       PNG / AVIF */
    int            jpeg_quality;    /* 1..100 */
    int            webp_quality;    /* 1..100 */
    int            png_compression; /* zlib level 0..9 */
    int            avif_quality;    /* 1..100, as libheif/libvips: the
                                       AV1 quantizer (100 - q) * 63 / 100 */
    int            avif_speed;      /* encoder effort 0 (slowest) .. 10 */
    int            avif_codec;      /* NGX_TUNNY_IMAGE_AVIF_* (0: libaom) */
    int            interlace;       /* progressive JPEG output */
    int            sharpen;         /* percent, 0 = off */
    unsigned       fast_off;        /* NGX_TUNNY_IMAGE_FAST_* not to use
                                       (0: all of them) */
    int            colour;          /* NGX_TUNNY_IMAGE_COLOUR_*; CMYK JPEGs
                                       are converted through their profile
                                       whatever it says */
    uint32_t       background;      /* JPEG output of a source with alpha
                                       is flattened on it: BG_SET|0xRRGGBB;
                                       0: white */

    uint64_t       max_pixels;      /* width*height limit of the input;
                                       of an animation: width * height *
                                       frames */
    unsigned       max_frames;      /* an animation written as animated
                                       WebP with more frames: ELIMIT
                                       (0: no limit) */

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
    unsigned       fast;            /* NGX_TUNNY_IMAGE_FAST_* taken */
    char           error[160];      /* reason on any error, NUL-terminated */
} ngx_tunny_image_result_t;


typedef struct ngx_tunny_image_state_s  ngx_tunny_image_state_t;


/*
 * Type from the magic bytes alone (the one place that knows them);
 * NGX_TUNNY_IMAGE_NONE when unknown or too short.
 */
int ngx_tunny_image_sniff(const unsigned char *p, size_t len);

/*
 * Does the library transform this type?  0: it passes through unchanged
 * (AVIF when built without libavif; a HEIC without libheif is not passed
 * through, it answers 415).  The one place for the pass-through decision.
 */
int ngx_tunny_image_transforms(int type);

/*
 * Header probe: NGX_TUNNY_IMAGE_OK when type and dimensions are known
 * (both non-zero; info->error is NULL); NGX_TUNNY_IMAGE_EINPUT otherwise
 * (info->type still holds the sniffed type, NONE if unknown; width and
 * height are 0; info->error says why).  No pixel decoding, no allocation.
 * For JPEG and WebP the dimensions are read from SOFn / VP8 / VP8L / VP8X,
 * for PNG and GIF from their headers, for HEIC from the primary item's
 * ispe and irot (the displayed size; a grid's tiles checked against it).
 * for AVIF from the ispe of the
 * primary item (irot/imir give the orientation).
 */
int ngx_tunny_image_probe(const unsigned char *in, size_t len,
    ngx_tunny_image_info_t *info);

/*
 * The one max-pixels rule: NGX_TUNNY_IMAGE_OK, or NGX_TUNNY_IMAGE_ELIMIT
 * when width * height of info is over max_pixels (0: no limit), with the
 * reason written to error (NUL-terminated, at most size bytes):
 * "WxH image exceeds tunny_image_max_pixels N".
 */
int ngx_tunny_image_check_pixels(const ngx_tunny_image_info_t *info,
    uint64_t max_pixels, char *error, size_t size);

/* 1 when the library was built with libheif (HEIC decoding) */
int ngx_tunny_image_heif_built(void);

/*
 * Pixel memory a job of these params predicts, beyond its input and
 * output, for the caller's memory budget: for an animation written as
 * animated WebP (ngx_tunny_image_animates()), the frames are decoded,
 * resized and encoded one at a time, so this is a few canvases and a few
 * output frames, not frames x canvas (ngx_tunny_image_anim.c says which);
 * 0 for anything else (a still's pixel memory is not predicted).
 */
size_t ngx_tunny_image_memory(const ngx_tunny_image_info_t *info,
    const ngx_tunny_image_params_t *params);

/*
 * 1 when the job is an animation to animated WebP: more than one frame in
 * info and WebP output (out_type WEBP, or 0 with a WebP input).  The one
 * place of that decision.
 */
int ngx_tunny_image_animates(const ngx_tunny_image_info_t *info,
    const ngx_tunny_image_params_t *params);

/*
 * Can the library write this type?  JPEG, WebP and PNG always; AVIF when
 * it was built with libavif (src/image/Makefile AVIF=yes).
 */
int ngx_tunny_image_encodes(int type);

/* short lower-case name: "jpeg", "webp", "png", "gif", "avif", "heic" or ""
 */
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
 * Input of a type the library does not transform returns
 * NGX_TUNNY_IMAGE_ASIS unchanged.  A GIF (its first frame) is written as
 * PNG when out_type is 0: there is no GIF encoder.
 *
 * info is ngx_tunny_image_probe() of the same bytes, made by the caller
 * (the HTTP module probes once in the event loop and carries the result
 * in the job); info == NULL: probe here.
 */
int ngx_tunny_image_process(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len, const ngx_tunny_image_info_t *info,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res);


/*
 * Addition: the JPEG DCT scale the decoder picks, exposed for tests.
 * Returns n in 1..8, the smallest with ceil(src * n / 8) >= need in both
 * dimensions (the decoder then decodes at n/8 and resamples to the need).
 */
unsigned ngx_tunny_image_dct_scale(unsigned src_w, unsigned src_h,
    unsigned need_w, unsigned need_h);


#endif /* _NGX_TUNNY_IMAGE_H_INCLUDED_ */
