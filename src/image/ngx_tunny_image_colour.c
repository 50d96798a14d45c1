
/*
 * ngx_tunny_module: colour management with lcms2: pixels from the
 * source's embedded ICC profile to sRGB (params->colour), and CMYK/YCCK
 * JPEG rows to sRGB RGB through their profile.
 *
 * Policy (the one place for it):
 *   NGX_TUNNY_IMAGE_COLOUR_SRGB   RGB, RGBA and grey pixels with a usable
 *       profile are converted to sRGB (grey to a grey profile with the
 *       sRGB tone curve), perceptual intent, alpha copied; the output
 *       carries no profile (as sharp and imgproxy).  A profile lcms2
 *       cannot open or build a transform from (corrupt, lying sizes, a
 *       device link, a colour space that does not fit the pixels) is
 *       treated as no profile: pixels untouched, no profile written.  So
 *       is sRGB under another name (a transform within 1 level of the
 *       identity, ngx_tunny_image_colour_identity()).
 *   NGX_TUNNY_IMAGE_COLOUR_KEEP   pixels untouched, the profile copied.
 *   NGX_TUNNY_IMAGE_COLOUR_STRIP  pixels untouched, no profile.
 *   CMYK/YCCK JPEG (any mode: the pixels must become RGB): through the
 *       embedded CMYK profile to sRGB; without a usable one, the plain
 *       inversion (R = (1 - C)(1 - K), ...) that browsers apply to such
 *       files.
 *
 * Where: the pipeline calls ngx_tunny_image_colour() on the decoded
 * pixels, before the resampler (see ngx_tunny_image_steps()).
 *
 * Threads: everything runs in the thread of ngx_tunny_image_process().
 * The lcms2 context, the output profiles and the transform cache belong
 * to the thread's ngx_tunny_image_state_t (created on first use, freed
 * with the state): one thread at a time uses them, so the transforms
 * need no locking.  A transform costs far more to build than to run on a
 * thumbnail (t/bench/quality.sh measures both), so the last
 * NGX_TUNNY_IMAGE_XF_CACHE are kept, keyed by the profile's bytes and the
 * pixel format; a profile that failed is kept as a failure, so a hostile
 * profile sent again costs a comparison, not a second parse.
 *
 * Memory: lcms2 allocates through the context's memory handler below,
 * which refuses a single allocation over NGX_TUNNY_IMAGE_LCMS_MAX_ALLOC
 * and more than NGX_TUNNY_IMAGE_LCMS_MAX_LIVE live in the context: a
 * profile that declares a huge CLUT fails instead of zeroing gigabytes.
 */


#include <stdlib.h>
#include <string.h>

#include <lcms2.h>
#include <lcms2_plugin.h>

#include "ngx_tunny_image_int.h"


#define NGX_TUNNY_IMAGE_XF_CACHE        4
#define NGX_TUNNY_IMAGE_XF_MAX_KEY      (1024 * 1024)
#define NGX_TUNNY_IMAGE_LCMS_MAX_ALLOC  (32 * 1024 * 1024)
#define NGX_TUNNY_IMAGE_LCMS_MAX_LIVE   (128 * 1024 * 1024)
#define NGX_TUNNY_IMAGE_LCMS_HDR        16


typedef struct {
    cmsHTRANSFORM                   xf;         /* NULL: unusable profile */
    unsigned                        identity;   /* xf changes no pixel */
    unsigned char                  *icc;        /* the key: a copy */
    size_t                          len;
    uint64_t                        hash;
    cmsUInt32Number                 fmt;        /* input pixel format */
    unsigned                        used;       /* LRU tick; 0: empty */
} ngx_tunny_image_xf_t;


struct ngx_tunny_image_colour_s {
    size_t                          live;       /* bytes lcms2 holds */
    cmsContext                      ctx;
    cmsHPROFILE                     srgb;
    cmsHPROFILE                     grey;       /* sRGB tone curve */
    unsigned                        tick;
    ngx_tunny_image_xf_t            cache[NGX_TUNNY_IMAGE_XF_CACHE];
    ngx_tunny_image_xf_t            once;       /* too big to cache */
    char                            error[128]; /* lcms2's last message */
};


static void *ngx_tunny_image_lcms_malloc(cmsContext id, cmsUInt32Number n);
static void ngx_tunny_image_lcms_free(cmsContext id, void *p);
static void *ngx_tunny_image_lcms_realloc(cmsContext id, void *p,
    cmsUInt32Number n);
static void ngx_tunny_image_lcms_error(cmsContext id, cmsUInt32Number code,
    const char *text);
static int ngx_tunny_image_colour_convert(ngx_tunny_image_run_t *run);
static ngx_tunny_image_colour_t *ngx_tunny_image_colour_get(
    ngx_tunny_image_state_t *st);
static ngx_tunny_image_xf_t *ngx_tunny_image_colour_xf(
    ngx_tunny_image_colour_t *c, const unsigned char *icc, size_t len,
    cmsUInt32Number fmt);
static void ngx_tunny_image_colour_build(ngx_tunny_image_colour_t *c,
    ngx_tunny_image_xf_t *e, const unsigned char *icc, size_t len);
static unsigned ngx_tunny_image_colour_identity(cmsHTRANSFORM xf,
    cmsUInt32Number fmt);
static void ngx_tunny_image_xf_clear(ngx_tunny_image_xf_t *e);


static cmsPluginMemHandler  ngx_tunny_image_lcms_mem = {
    { cmsPluginMagicNumber, 2000, cmsPluginMemHandlerSig, NULL },
    ngx_tunny_image_lcms_malloc,
    ngx_tunny_image_lcms_free,
    ngx_tunny_image_lcms_realloc,
    NULL, NULL, NULL
};


/* the colour step on run->pix, after the decoder (see the pipeline) */

int
ngx_tunny_image_colour(ngx_tunny_image_run_t *run)
{
    int  rc;

    if (run->params->colour == NGX_TUNNY_IMAGE_COLOUR_KEEP
        || run->icc == NULL)
    {
        return NGX_TUNNY_IMAGE_OK;
    }

    rc = NGX_TUNNY_IMAGE_OK;

    if (run->params->colour == NGX_TUNNY_IMAGE_COLOUR_SRGB) {
        rc = ngx_tunny_image_colour_convert(run);
    }

    /* the output is sRGB, or the profile was unusable or stripped */

    ngx_tunny_image_icc_drop(run);

    return rc;
}


/*
 * The colour step of an animation: each frame on its way to the encoder
 * (srgb converts it, the profile stays for the next one), then
 * ngx_tunny_image_colour_end() after the last frame
 */

int
ngx_tunny_image_colour_frame(ngx_tunny_image_run_t *run)
{
    if (run->params->colour != NGX_TUNNY_IMAGE_COLOUR_SRGB
        || run->icc == NULL)
    {
        return NGX_TUNNY_IMAGE_OK;
    }

    return ngx_tunny_image_colour_convert(run);
}


void
ngx_tunny_image_colour_end(ngx_tunny_image_run_t *run)
{
    if (run->params->colour != NGX_TUNNY_IMAGE_COLOUR_KEEP) {
        ngx_tunny_image_icc_drop(run);
    }
}


/*
 * run->pix through run->icc to sRGB, into the other pipeline frame (the
 * source stays as it is: an animation's canvas is the next frame's base);
 * an unusable profile leaves the pixels untouched
 */

static int
ngx_tunny_image_colour_convert(ngx_tunny_image_run_t *run)
{
    int                        rc;
    unsigned                   y;
    cmsUInt32Number            fmt;
    ngx_tunny_image_xf_t      *e;
    ngx_tunny_image_pix_t      out, *pix;
    ngx_tunny_image_colour_t  *c;

    pix = &run->pix;

    switch (pix->channels) {
    case 1:
        fmt = TYPE_GRAY_8;
        break;
    case 4:
        fmt = TYPE_RGBA_8;
        break;
    default:
        fmt = TYPE_RGB_8;
        break;
    }

    c = ngx_tunny_image_colour_get(run->st);
    if (c == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory for colour management");
    }

    /* an unusable profile, or sRGB under another name: pixels as they are */

    e = ngx_tunny_image_colour_xf(c, run->icc, run->icc_len, fmt);
    if (e == NULL || e->xf == NULL || e->identity) {
        return NGX_TUNNY_IMAGE_OK;
    }

    rc = ngx_tunny_image_pix_next(run, &out, pix->width, pix->height,
                                  pix->channels, "out of memory");
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    for (y = 0; y < pix->height; y++) {
        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }

        cmsDoTransform(e->xf, pix->data + y * pix->stride,
                       out.data + y * out.stride, pix->width);
    }

    run->pix = out;

    return NGX_TUNNY_IMAGE_OK;
}


/*
 * CMYK rows of a JPEG: the transform of the embedded CMYK profile, if
 * usable, for the rows ngx_tunny_image_cmyk_row() converts; the profile
 * is dropped either way (the rows become sRGB).  inverted: Adobe's
 * convention, 255 = no ink.
 */

void
ngx_tunny_image_cmyk_init(ngx_tunny_image_run_t *run,
    ngx_tunny_image_cmyk_t *ck, int inverted)
{
    ngx_tunny_image_xf_t      *e;
    ngx_tunny_image_colour_t  *c;

    ck->xf = NULL;
    ck->inverted = inverted;

    if (run->icc != NULL) {
        c = ngx_tunny_image_colour_get(run->st);

        if (c != NULL) {
            e = ngx_tunny_image_colour_xf(c, run->icc, run->icc_len,
                                          inverted ? TYPE_CMYK_8_REV
                                                   : TYPE_CMYK_8);
            ck->xf = e ? e->xf : NULL;
        }
    }

    ngx_tunny_image_icc_drop(run);
}


void
ngx_tunny_image_cmyk_row(const ngx_tunny_image_cmyk_t *ck,
    const unsigned char *s, unsigned char *d, unsigned n)
{
    unsigned  i, c, m, y, k;

    if (ck->xf != NULL) {
        cmsDoTransform(ck->xf, s, d, n);
        return;
    }

    /* no usable profile: the plain inversion */

    for (i = 0; i < n; i++) {
        c = s[0];
        m = s[1];
        y = s[2];
        k = s[3];

        if (!ck->inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }

        d[0] = (unsigned char) ((c * k + 127) / 255);
        d[1] = (unsigned char) ((m * k + 127) / 255);
        d[2] = (unsigned char) ((y * k + 127) / 255);

        s += 4;
        d += 3;
    }
}


/* the transform for a profile and an input format: cached; NULL: no memory */

static ngx_tunny_image_xf_t *
ngx_tunny_image_colour_xf(ngx_tunny_image_colour_t *c,
    const unsigned char *icc, size_t len, cmsUInt32Number fmt)
{
    size_t                 i;
    uint64_t               hash;
    ngx_tunny_image_xf_t  *e, *old;

    if (len > NGX_TUNNY_IMAGE_XF_MAX_KEY) {
        /* not worth keeping a copy: built for this image, freed at trim */
        ngx_tunny_image_xf_clear(&c->once);
        c->once.fmt = fmt;
        ngx_tunny_image_colour_build(c, &c->once, icc, len);
        return &c->once;
    }

    /* FNV-1a, then the bytes themselves */

    hash = 14695981039346656037ULL;

    for (i = 0; i < len; i++) {
        hash = (hash ^ icc[i]) * 1099511628211ULL;
    }

    c->tick++;
    old = &c->cache[0];

    for (i = 0; i < NGX_TUNNY_IMAGE_XF_CACHE; i++) {
        e = &c->cache[i];

        if (e->used && e->hash == hash && e->len == len && e->fmt == fmt
            && memcmp(e->icc, icc, len) == 0)
        {
            e->used = c->tick;
            return e;
        }

        if (e->used < old->used) {
            old = e;
        }
    }

    ngx_tunny_image_xf_clear(old);

    old->icc = malloc(len ? len : 1);
    if (old->icc == NULL) {
        return NULL;
    }

    memcpy(old->icc, icc, len);
    old->len = len;
    old->hash = hash;
    old->fmt = fmt;
    old->used = c->tick;
    ngx_tunny_image_colour_build(c, old, icc, len);

    return old;
}


/* e->xf for the profile and e->fmt (NULL: unusable), and e->identity */

static void
ngx_tunny_image_colour_build(ngx_tunny_image_colour_t *c,
    ngx_tunny_image_xf_t *e, const unsigned char *icc, size_t len)
{
    cmsUInt32Number           fmt, out_fmt, flags;
    cmsHPROFILE               in, out;
    cmsHTRANSFORM             xf;
    cmsColorSpaceSignature    cs;
    cmsProfileClassSignature  cls;

    fmt = e->fmt;

    switch (T_COLORSPACE(fmt)) {
    case PT_GRAY:
        cs = cmsSigGrayData;
        out = c->grey;
        out_fmt = TYPE_GRAY_8;
        break;
    case PT_CMYK:
        cs = cmsSigCmykData;
        out = c->srgb;
        out_fmt = TYPE_RGB_8;
        break;
    default:
        cs = cmsSigRgbData;
        out = c->srgb;
        out_fmt = T_EXTRA(fmt) ? TYPE_RGBA_8 : TYPE_RGB_8;
        break;
    }

    flags = T_EXTRA(fmt) ? cmsFLAGS_COPY_ALPHA : 0;

    if (len < 132 || len > 0xffffffff) {
        return;
    }

    in = cmsOpenProfileFromMemTHR(c->ctx, icc, (cmsUInt32Number) len);
    if (in == NULL) {
        return;
    }

    cls = cmsGetDeviceClass(in);

    /*
     * The work of cmsCreateTransform() is lcms2 sampling the profile's
     * pipeline at a fixed grid (17^4 points for CMYK, fewer for RGB), an
     * uncancellable call.  AToB/TRC pipelines have a fixed shape (at most
     * five stages, a colour table over the profile's own channels); the
     * floating-point DToB tags (multiProcessElements) may chain any
     * number of elements of any width: real embedded profiles do not use
     * them, so a profile that has one is refused rather than evaluated.
     */

    if (cmsGetColorSpace(in) != cs
        || (cls != cmsSigInputClass && cls != cmsSigDisplayClass
            && cls != cmsSigOutputClass && cls != cmsSigColorSpaceClass)
        || cmsIsTag(in, cmsSigDToB0Tag) || cmsIsTag(in, cmsSigDToB1Tag)
        || cmsIsTag(in, cmsSigDToB2Tag) || cmsIsTag(in, cmsSigDToB3Tag))
    {
        (void) cmsCloseProfile(in);
        return;
    }

    xf = cmsCreateTransformTHR(c->ctx, in, fmt, out, out_fmt,
                               INTENT_PERCEPTUAL, flags);

    (void) cmsCloseProfile(in);

    e->xf = xf;
    e->identity = (xf != NULL && cs != cmsSigCmykData
                   && ngx_tunny_image_colour_identity(xf, fmt));
}


/*
 * Whether a transform to sRGB moves no sample by more than 1: the
 * source's profile is sRGB under another name (HP's "sRGB IEC61966-2.1"
 * of most cameras' and editors' files, Elle Stone's; others' as close),
 * and converting would cost more than a big photo's decode (lcms2's
 * 8-bit path, about 15 ns a pixel) to change nothing a viewer could see;
 * such pixels are left as they are (within 1 of the conversion).
 * Tested once per cached transform (37,097 pixels, about 0.8 ms at
 * lcms2's 21 ns a pixel against 4-6 ms for the build; a profile that is
 * not sRGB fails within the first rows): each level of each channel alone and of grey (the tone curves;
 * a grey transform has nothing else), then a 33^3 grid 8 levels apart
 * (the matrix or colour table, which lcms2 interpolates between nodes as
 * far apart).  A profile made to change only pixels between the tested
 * ones gets its pixels untouched, as an unusable profile does.
 */

static unsigned
ngx_tunny_image_colour_identity(cmsHTRANSFORM xf, cmsUInt32Number fmt)
{
    unsigned        i, k, n, ch, row, rows, v[3];
    unsigned char  *p, in[256 * 4], out[256 * 4];

    ch = T_CHANNELS(fmt) + T_EXTRA(fmt);
    rows = (ch == 1) ? 1 : 4 + 33 * 33;

    for (row = 0; row < rows; row++) {
        n = (row < 4) ? 256 : 33;

        for (i = 0; i < n; i++) {
            if (row == 0) {
                v[0] = v[1] = v[2] = i;

            } else if (row < 4) {
                v[0] = v[1] = v[2] = 0;
                v[row - 1] = i;

            } else {
                v[0] = (row - 4) / 33 * 8;
                v[1] = (row - 4) % 33 * 8;
                v[2] = i * 8;
            }

            p = in + i * ch;

            for (k = 0; k < ch; k++) {
                /* level 256 of the grid is 255; alpha (copied) opaque */
                p[k] = (k < 3) ? (unsigned char) (v[k] > 255 ? 255 : v[k])
                               : 255;
            }
        }

        cmsDoTransform(xf, in, out, n);

        for (k = 0; k < n * ch; k++) {
            if (in[k] > out[k] + 1 || out[k] > in[k] + 1) {
                return 0;
            }
        }
    }

    return 1;
}


static void
ngx_tunny_image_xf_clear(ngx_tunny_image_xf_t *e)
{
    if (e->xf != NULL) {
        cmsDeleteTransform(e->xf);
    }

    free(e->icc);
    memset(e, 0, sizeof(ngx_tunny_image_xf_t));
}


/* the thread's lcms2 context and output profiles, made on first use */

static ngx_tunny_image_colour_t *
ngx_tunny_image_colour_get(ngx_tunny_image_state_t *st)
{
    cmsToneCurve              *curve;
    ngx_tunny_image_colour_t  *c;

    /* IEC 61966-2-1: the sRGB tone curve, lcms2's parametric type 4 */
    static const cmsFloat64Number  srgb_trc[5] = {
        2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045
    };
    static const cmsCIExyY         d65 = { 0.3127, 0.3290, 1.0 };

    if (st->colour != NULL) {
        return st->colour;
    }

    c = calloc(1, sizeof(ngx_tunny_image_colour_t));
    if (c == NULL) {
        return NULL;
    }

    c->ctx = cmsCreateContext(&ngx_tunny_image_lcms_mem, c);
    if (c->ctx == NULL) {
        free(c);
        return NULL;
    }

    cmsSetLogErrorHandlerTHR(c->ctx, ngx_tunny_image_lcms_error);

    c->srgb = cmsCreate_sRGBProfileTHR(c->ctx);

    curve = cmsBuildParametricToneCurve(c->ctx, 4, srgb_trc);
    if (curve != NULL) {
        c->grey = cmsCreateGrayProfileTHR(c->ctx, &d65, curve);
        cmsFreeToneCurve(curve);
    }

    if (c->srgb == NULL || c->grey == NULL) {
        ngx_tunny_image_colour_free(c);
        return NULL;
    }

    st->colour = c;

    return c;
}


void
ngx_tunny_image_colour_trim(ngx_tunny_image_colour_t *c)
{
    if (c != NULL) {
        ngx_tunny_image_xf_clear(&c->once);
    }
}


void
ngx_tunny_image_colour_free(ngx_tunny_image_colour_t *c)
{
    int  i;

    if (c == NULL) {
        return;
    }

    for (i = 0; i < NGX_TUNNY_IMAGE_XF_CACHE; i++) {
        ngx_tunny_image_xf_clear(&c->cache[i]);
    }

    ngx_tunny_image_xf_clear(&c->once);

    if (c->srgb != NULL) {
        (void) cmsCloseProfile(c->srgb);
    }

    if (c->grey != NULL) {
        (void) cmsCloseProfile(c->grey);
    }

    cmsDeleteContext(c->ctx);
    free(c);
}


const char *
ngx_tunny_image_colour_error(ngx_tunny_image_state_t *st)
{
    return st->colour ? st->colour->error : "";
}


/* lcms2's memory, bounded; the size lives in a header before the block */

static void *
ngx_tunny_image_lcms_malloc(cmsContext id, cmsUInt32Number n)
{
    unsigned char             *p;
    ngx_tunny_image_colour_t  *c;

    c = cmsGetContextUserData(id);

    if (n > NGX_TUNNY_IMAGE_LCMS_MAX_ALLOC
        || (c && c->live + n > NGX_TUNNY_IMAGE_LCMS_MAX_LIVE))
    {
        return NULL;
    }

    p = malloc((size_t) n + NGX_TUNNY_IMAGE_LCMS_HDR);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, &n, sizeof(cmsUInt32Number));

    if (c) {
        c->live += n;
    }

    return p + NGX_TUNNY_IMAGE_LCMS_HDR;
}


static void
ngx_tunny_image_lcms_free(cmsContext id, void *ptr)
{
    unsigned char             *p;
    cmsUInt32Number            n;
    ngx_tunny_image_colour_t  *c;

    if (ptr == NULL) {
        return;
    }

    p = (unsigned char *) ptr - NGX_TUNNY_IMAGE_LCMS_HDR;
    memcpy(&n, p, sizeof(cmsUInt32Number));

    c = cmsGetContextUserData(id);

    if (c) {
        c->live -= (c->live >= n) ? n : c->live;
    }

    free(p);
}


static void *
ngx_tunny_image_lcms_realloc(cmsContext id, void *ptr, cmsUInt32Number n)
{
    void             *q;
    cmsUInt32Number   old;

    if (ptr == NULL) {
        return ngx_tunny_image_lcms_malloc(id, n);
    }

    memcpy(&old, (unsigned char *) ptr - NGX_TUNNY_IMAGE_LCMS_HDR,
           sizeof(cmsUInt32Number));

    q = ngx_tunny_image_lcms_malloc(id, n);
    if (q == NULL) {
        return NULL;
    }

    memcpy(q, ptr, old < n ? old : n);
    ngx_tunny_image_lcms_free(id, ptr);

    return q;
}


static void
ngx_tunny_image_lcms_error(cmsContext id, cmsUInt32Number code,
    const char *text)
{
    size_t                     n;
    ngx_tunny_image_colour_t  *c;

    (void) code;

    c = cmsGetContextUserData(id);
    if (c == NULL || text == NULL) {
        return;
    }

    n = strlen(text);
    if (n >= sizeof(c->error)) {
        n = sizeof(c->error) - 1;
    }

    memcpy(c->error, text, n);
    c->error[n] = '\0';
}
