
/*
 * ngx_tunny_module: the image pipeline (see ngx_tunny_image.h): the run of
 * one ngx_tunny_image_process() call from the probe to the encoder, the
 * limits checked before any pixel is decoded, image_filter's geometry,
 * and the per-thread state with the scratch buffers the steps share.
 *
 * Every function here runs in the thread that called
 * ngx_tunny_image_process() (a pool thread), except
 * ngx_tunny_image_check_pixels(), which touches no state and is called in
 * the event loop too.  No global mutable state: everything lives in the
 * state or in the run, on the stack of one call.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <webp/mux_types.h>

#include "ngx_tunny_image_int.h"


#define NGX_TUNNY_IMAGE_WEBP_MAX    16383   /* output sides */
#define NGX_TUNNY_IMAGE_JPEG_MAX    65500
#define NGX_TUNNY_IMAGE_AVIF_MAX    32768   /* libavif's decoder limit */

/*
 * A scaled decode (JPEG DCT scaling, libwebp's rescaler) leaves a part of
 * the shrink in each dimension to the Lanczos-3 resampler: a DCT scale or
 * an area average alone is a box filter, soft and aliased.  The DCT scales
 * up to 1/2 alias even with 2x left (a zone plate, stripes of period 3:
 * t/unit), so they keep 4x; a scale over 1/2 (a truncation of the DCT,
 * a low-pass of its own) keeps 2x; a shrink under 2x decodes the full
 * size (bench quality, 2000x1500 to fit 1024: the 5/8 scale that covered
 * the target gave SSIM-Y 0.9954 and 77% of the detail, the full decode
 * 0.9989 and 100%, sharp's 0.9990 and 99.9%, at the same CPU:
 * tunny-cpu, 10 interleaved rounds, 30.4 vs 31.2 ms for the whole job, as
 * libjpeg-turbo's 8/8 IDCT is a vector one and its 5/8 is not).
 */
#define NGX_TUNNY_IMAGE_MARGIN_LOW  4
#define NGX_TUNNY_IMAGE_MARGIN      2

/*
 * A DCT scale short of the margin by at most 1/32 covers it: 2000x1500
 * (or 4000x3000) to fit 512 leaves 1.95x at 1/2 (at 1/4), where the
 * strict 2x took 5/8 (3/8, decoded at 1/2), the scale sharp takes too.
 * bench quality, 32 photos of 2000x1500 to fit 512: SSIM-Y 0.9989 ->
 * 0.9973 (sharp 0.9972), detail kept 0.995 -> 0.917 (sharp 0.916), no
 * photo below sharp's SSIM either way, for 33.4 -> 25.1 ms per q80 JPEG;
 * AVIF at fit 512 72.9 -> 64.1 ms (tunny-cpu, 8 interleaved rounds).
 */
#define NGX_TUNNY_IMAGE_MARGIN_SLACK  32

/*
 * The box shrink on load of a row decoder (PNG) keeps this much of the
 * shrink to the resampler: a box of k pixels lets through frequencies
 * near its first zero (1 / k) that fold into the band the resampler
 * keeps.  Measured by t/unit's aliasing test (a zone plate at fit 256 of
 * 2048x1536, RMS in its flat regions): 3x left gives 1.00 (the box of 2),
 * as 4x does, against 1.05 for a full Lanczos-3; 2x, libvips' default
 * gap, gives 2.04 (the box of 4).
 */
#define NGX_TUNNY_IMAGE_MARGIN_BOX  3


static int ngx_tunny_image_pixels_run(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res,
    ngx_tunny_image_pix_t *pix, unsigned fast, int late);
static int ngx_tunny_image_call(ngx_tunny_image_run_t *run,
    const ngx_tunny_image_info_t *info);
static int ngx_tunny_image_run(ngx_tunny_image_run_t *run,
    const ngx_tunny_image_info_t *info);
static int ngx_tunny_image_check_params(const ngx_tunny_image_params_t *p,
    ngx_tunny_image_result_t *res);
static int ngx_tunny_image_check_input(ngx_tunny_image_run_t *run);
static int ngx_tunny_image_plan(ngx_tunny_image_run_t *run);
static int ngx_tunny_image_plan_avif(ngx_tunny_image_run_t *run);
static void ngx_tunny_image_decode_size(ngx_tunny_image_run_t *run);
static void ngx_tunny_image_decode_margin(ngx_tunny_image_geo_t *g,
    const ngx_tunny_image_info_t *info);
static void ngx_tunny_image_decode_need(ngx_tunny_image_geo_t *g,
    const ngx_tunny_image_info_t *info, unsigned margin);
static void ngx_tunny_image_decode_region(ngx_tunny_image_run_t *run);
static void ngx_tunny_image_jpeg_extent(const ngx_tunny_image_run_t *run,
    double *sw, double *sh);
static int ngx_tunny_image_steps(ngx_tunny_image_run_t *run);
static void ngx_tunny_image_flatten(ngx_tunny_image_run_t *run);
static int ngx_tunny_image_grey_to_rgb(ngx_tunny_image_run_t *run);


/* the whole job */

int
ngx_tunny_image_process(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len, const ngx_tunny_image_info_t *info,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res)
{
    ngx_tunny_image_run_t  run;

    memset(&run, 0, sizeof(ngx_tunny_image_run_t));

    run.st = st;
    run.params = params;
    run.res = res;
    run.in = in;
    run.len = in ? len : 0;
    run.fast = NGX_TUNNY_IMAGE_FAST_ALL & ~params->fast_off;

    return ngx_tunny_image_call(&run, info);
}


int
ngx_tunny_image_pixels(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res,
    ngx_tunny_image_pix_t *pix)
{
    return ngx_tunny_image_pixels_fast(st, in, len, params, res, pix,
                                       NGX_TUNNY_IMAGE_FAST_ALL);
}


int
ngx_tunny_image_pixels_fast(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res,
    ngx_tunny_image_pix_t *pix, unsigned fast)
{
    return ngx_tunny_image_pixels_run(st, in, len, params, res, pix, fast, 0);
}


int
ngx_tunny_image_pixels_at(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res,
    ngx_tunny_image_pix_t *pix, int late)
{
    return ngx_tunny_image_pixels_run(st, in, len, params, res, pix,
                                      NGX_TUNNY_IMAGE_FAST_ALL, late);
}


static int
ngx_tunny_image_pixels_run(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res,
    ngx_tunny_image_pix_t *pix, unsigned fast, int late)
{
    int                    rc;
    ngx_tunny_image_run_t  run;

    memset(&run, 0, sizeof(ngx_tunny_image_run_t));

    run.st = st;
    run.params = params;
    run.res = res;
    run.in = in;
    run.len = in ? len : 0;
    run.pixels = 1;
    run.fast = fast & ~params->fast_off;
    run.colour_late = late;

    rc = ngx_tunny_image_call(&run, NULL);

    *pix = run.pix;

    return rc;
}


static int
ngx_tunny_image_call(ngx_tunny_image_run_t *run,
    const ngx_tunny_image_info_t *info)
{
    int                        rc;
    ngx_tunny_image_result_t  *res;

    res = run->res;

    res->data = NULL;
    res->len = 0;
    res->type = NGX_TUNNY_IMAGE_NONE;
    res->width = 0;
    res->height = 0;
    res->fast = 0;
    res->error[0] = '\0';

    rc = ngx_tunny_image_run(run, info);

    free(run->icc);

    if (rc != NGX_TUNNY_IMAGE_OK) {
        free(res->data);
        res->data = NULL;
        res->len = 0;

        res->fast = 0;

        if (rc != NGX_TUNNY_IMAGE_ASIS) {
            res->type = NGX_TUNNY_IMAGE_NONE;
            res->width = 0;
            res->height = 0;
        }
    }

    return rc;
}


static int
ngx_tunny_image_run(ngx_tunny_image_run_t *run,
    const ngx_tunny_image_info_t *info)
{
    int  rc;

    rc = ngx_tunny_image_check_params(run->params, run->res);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (info == NULL) {
        (void) ngx_tunny_image_probe(run->in, run->len, &run->info);

    } else {
        run->info = *info;

        /*
         * the caller may have probed a prefix of the input (a file-backed
         * body): the frames are counted again over all of it
         */

        if (info->error == NULL) {
            run->info.frames = ngx_tunny_image_anim_count(run->in, run->len,
                                                          info->type);
        }
    }

    rc = ngx_tunny_image_check_input(run);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    rc = ngx_tunny_image_plan(run);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    /* an animation to animated WebP: every frame (ngx_tunny_image_anim.c) */

    if (!run->pixels && ngx_tunny_image_animates(&run->info, run->params)) {
        rc = ngx_tunny_image_anim(run);

    } else {
        rc = ngx_tunny_image_steps(run);
    }

    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    run->res->type = run->out_type;
    run->res->width = run->pix.width;
    run->res->height = run->pix.height;

    return NGX_TUNNY_IMAGE_OK;
}


static int
ngx_tunny_image_check_params(const ngx_tunny_image_params_t *p,
    ngx_tunny_image_result_t *res)
{
    if (p->angle != 0 && p->angle != 90 && p->angle != 180
        && p->angle != 270)
    {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid rotation angle %u "
                                     "(90, 180 or 270)", p->angle);
    }

    if ((p->ops & NGX_TUNNY_IMAGE_OP_RESIZE)
        && (p->ops & NGX_TUNNY_IMAGE_OP_CROP))
    {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "resize and crop are exclusive");
    }

    /* JPEG, WebP, PNG; AVIF when built with libavif */

    if (p->out_type != 0 && !ngx_tunny_image_encodes(p->out_type)) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid output type %d", p->out_type);
    }

    if (p->png_compression < 0 || p->png_compression > 9) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid PNG compression %d (0..9)",
                                     p->png_compression);
    }

    if (p->colour < NGX_TUNNY_IMAGE_COLOUR_KEEP
        || p->colour > NGX_TUNNY_IMAGE_COLOUR_STRIP)
    {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid colour mode %d", p->colour);
    }

    if (p->sharpen < 0) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid sharpen %d", p->sharpen);
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* what the probe says, before any pixel is decoded */

static int
ngx_tunny_image_check_input(ngx_tunny_image_run_t *run)
{
    int                      rc, type;
    uint64_t                 pixels;
    ngx_tunny_image_info_t  *info;

    info = &run->info;
    type = info->type;

    run->res->type = type;
    run->res->width = info->width;
    run->res->height = info->height;

    if (type != NGX_TUNNY_IMAGE_NONE && !ngx_tunny_image_transforms(type)) {
        return NGX_TUNNY_IMAGE_ASIS;
    }

    if (info->error != NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT, "%s",
                                     info->error);
    }

    rc = ngx_tunny_image_limit(run, info->width, info->height);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    /*
     * Decompression bombs: Huffman-coded data needs at least a bit per
     * 8x8 luma block, so a JPEG shorter than pixels / 1024 bytes cannot be
     * complete (libjpeg would fill the missing part with grey at full CPU
     * cost after it met an early EOI).
     */

    pixels = (uint64_t) info->width * info->height;

    if (type == NGX_TUNNY_IMAGE_JPEG && run->len < pixels / 1024) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "truncated or corrupt JPEG: "
                                     "%zu bytes cannot hold %ux%u",
                                     run->len, info->width, info->height);
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* the output type, the sizes, and whether anything changes at all */

static int
ngx_tunny_image_plan(ngx_tunny_image_run_t *run)
{
    int                              rc, type;
    unsigned                         max, ops;
    ngx_tunny_image_geo_t           *g;
    ngx_tunny_image_info_t          *info;
    const ngx_tunny_image_params_t  *p;

    p = run->params;
    info = &run->info;
    g = &run->geo;
    type = info->type;

    run->out_type = p->out_type ? p->out_type : type;

    /* no HEIC encoder (nor a browser that shows one): JPEG, always */

    if (run->out_type == NGX_TUNNY_IMAGE_HEIC) {
        run->out_type = NGX_TUNNY_IMAGE_JPEG;
    }

    if ((run->out_type == NGX_TUNNY_IMAGE_JPEG
         && (p->jpeg_quality < 1 || p->jpeg_quality > 100))
        || (run->out_type == NGX_TUNNY_IMAGE_WEBP
            && (p->webp_quality < 1 || p->webp_quality > 100)))
    {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid %s quality %d (1..100)",
                                     ngx_tunny_image_type_name(run->out_type),
                                     run->out_type == NGX_TUNNY_IMAGE_JPEG
                                     ? p->jpeg_quality : p->webp_quality);
    }

    rc = ngx_tunny_image_plan_avif(run);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    ngx_tunny_image_geometry(p, info->orientation, info->width, info->height,
                             g);
    ngx_tunny_image_decode_size(run);
    ngx_tunny_image_transform_window(run);
    ngx_tunny_image_decode_region(run);

    /* image_filter: fits already, no rotation: send as is */

    ops = p->ops & (NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_CROP);

    if (p->angle == 0
        && info->orientation == 1
        && run->out_type == type
        && (p->width == 0 || g->uw <= p->width || !ops)
        && (p->height == 0 || g->uh <= p->height || !ops)
        /* image_filter forces a re-encode when APPn data is over 5% */
        && !(type == NGX_TUNNY_IMAGE_JPEG
             && run->len / 20 < info->app_bytes))
    {
        return NGX_TUNNY_IMAGE_ASIS;
    }

    /* no GIF encoder: a transformed GIF is written as PNG */

    if (run->out_type == NGX_TUNNY_IMAGE_GIF) {
        run->out_type = NGX_TUNNY_IMAGE_PNG;
    }

    max = (run->out_type == NGX_TUNNY_IMAGE_WEBP)
          ? NGX_TUNNY_IMAGE_WEBP_MAX
          : (run->out_type == NGX_TUNNY_IMAGE_AVIF)
            ? NGX_TUNNY_IMAGE_AVIF_MAX : NGX_TUNNY_IMAGE_JPEG_MAX;

    if (g->cw > max || g->ch > max) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "%ux%u is too large for %s output "
                                     "(max %u)", g->cw, g->ch,
                                     ngx_tunny_image_type_name(run->out_type),
                                     max);
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* AVIF output: its parameters */

static int
ngx_tunny_image_plan_avif(ngx_tunny_image_run_t *run)
{
    const ngx_tunny_image_params_t  *p;

    p = run->params;

    if (run->out_type != NGX_TUNNY_IMAGE_AVIF) {
        return NGX_TUNNY_IMAGE_OK;
    }

    if (p->avif_quality < 1 || p->avif_quality > 100) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid avif quality %d (1..100)",
                                     p->avif_quality);
    }

    if (p->avif_speed < 0 || p->avif_speed > 10) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid avif speed %d (0..10)",
                                     p->avif_speed);
    }

    if (p->avif_codec < NGX_TUNNY_IMAGE_AVIF_AOM
        || p->avif_codec > NGX_TUNNY_IMAGE_AVIF_RAV1E)
    {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid avif codec %d", p->avif_codec);
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* geometry, image_filter semantics */

void
ngx_tunny_image_geometry(const ngx_tunny_image_params_t *p, int orientation,
    unsigned sw, unsigned sh, ngx_tunny_image_geo_t *g)
{
    uint64_t  dx, dy, mw, mh;

    if (orientation >= 5) {
        g->uw = sh;
        g->uh = sw;

    } else {
        g->uw = sw;
        g->uh = sh;
    }

    dx = g->uw;
    dy = g->uh;
    mw = p->width;
    mh = p->height;

    if (p->ops & NGX_TUNNY_IMAGE_OP_RESIZE) {

        if (mw && dx > mw) {
            dy = dy * mw / dx;
            dy = dy ? dy : 1;
            dx = mw;
        }

        if (mh && dy > mh) {
            dx = dx * mh / dy;
            dx = dx ? dx : 1;
            dy = mh;
        }

    } else if ((p->ops & NGX_TUNNY_IMAGE_OP_CROP) && mw && mh) {

        /* cover the box; with "-" in a dimension crop only cuts */

        if (dx * mh < mw * dy) {
            if (dx > mw) {
                dy = dy * mw / dx;
                dy = dy ? dy : 1;
                dx = mw;
            }

        } else {
            if (dy > mh) {
                dx = dx * mh / dy;
                dx = dx ? dx : 1;
                dy = mh;
            }
        }
    }

    g->rw = (unsigned) dx;
    g->rh = (unsigned) dy;

    if (p->angle == 90 || p->angle == 270) {
        g->fw = g->rh;
        g->fh = g->rw;

    } else {
        g->fw = g->rw;
        g->fh = g->rh;
    }

    /* image_filter cuts after the rotation */

    g->cx = 0;
    g->cy = 0;
    g->cw = g->fw;
    g->ch = g->fh;

    if (p->ops & NGX_TUNNY_IMAGE_OP_CROP) {
        if (mw && g->fw > mw) {
            g->cx = (g->fw - (unsigned) mw) / 2;
            g->cw = (unsigned) mw;
        }

        if (mh && g->fh > mh) {
            g->cy = (g->fh - (unsigned) mh) / 2;
            g->ch = (unsigned) mh;
        }
    }

    if (orientation >= 5) {
        g->tw = g->rh;
        g->th = g->rw;

    } else {
        g->tw = g->rw;
        g->th = g->rh;
    }
}


/*
 * What the decoder produces at least (nw x nh, stored orientation): the
 * target times the margin, at most the image; for JPEG the DCT scale n/8
 * that covers it, or the larger one libjpeg-turbo decodes for less CPU
 * (ngx_tunny_image_dct_scale_fast(): more margin, never less).  A scaled
 * JPEG has ceil(w * n / 8) columns of which only w * n / 8 hold the image
 * (the last block is partial): the steps give the resampler that true
 * extent.
 */

static void
ngx_tunny_image_decode_size(ngx_tunny_image_run_t *run)
{
    ngx_tunny_image_decode_margin(&run->geo, &run->info);

    run->geo.scale = ngx_tunny_image_dct_scale_fast(run->geo.scale);
}


/* the need and the smallest DCT scale that covers it, by the margins */

static void
ngx_tunny_image_decode_margin(ngx_tunny_image_geo_t *g,
    const ngx_tunny_image_info_t *info)
{
    ngx_tunny_image_decode_need(g, info, NGX_TUNNY_IMAGE_MARGIN_LOW);

    if (g->scale <= 4) {
        return;
    }

    /*
     * over 1/2: 2x left; where that takes the full size (a shrink under
     * 2x), the full size, and the whole shrink is the resampler's
     */

    ngx_tunny_image_decode_need(g, info, NGX_TUNNY_IMAGE_MARGIN);
}


static void
ngx_tunny_image_decode_need(ngx_tunny_image_geo_t *g,
    const ngx_tunny_image_info_t *info, unsigned margin)
{
    uint64_t  nw, nh;

    nw = (uint64_t) g->tw * margin;
    nh = (uint64_t) g->th * margin;

    g->nw = (unsigned) (nw < info->width ? nw : info->width);
    g->nh = (unsigned) (nh < info->height ? nh : info->height);

    nw = g->nw - g->nw / NGX_TUNNY_IMAGE_MARGIN_SLACK;
    nh = g->nh - g->nh / NGX_TUNNY_IMAGE_MARGIN_SLACK;

    g->scale = ngx_tunny_image_dct_scale(info->width, info->height,
                                         (unsigned) nw, (unsigned) nh);
}


/*
 * The decoded pixels the window needs (crop): g->dx, dy, dw, dh of the
 * DCT-scaled frame, found by the resampler's own rule; dw 0: all of them.
 * Only the JPEG decoder decodes a region; the others decode the whole
 * frame and the resampler takes the window out of it.
 */

static void
ngx_tunny_image_decode_region(ngx_tunny_image_run_t *run)
{
    double                   sw, sh;
    unsigned                 fw, fh, x0, x1, y0, y1;
    ngx_tunny_image_geo_t   *g;
    ngx_tunny_image_info_t  *info;

    g = &run->geo;
    info = &run->info;

    g->dx = 0;
    g->dy = 0;
    g->dw = 0;
    g->dh = 0;

    if (info->type != NGX_TUNNY_IMAGE_JPEG
        || (g->ww == g->tw && g->wh == g->th))
    {
        return;
    }

    /* libjpeg: ceil(w * n / 8) */

    fw = (unsigned) (((uint64_t) info->width * g->scale + 7) / 8);
    fh = (unsigned) (((uint64_t) info->height * g->scale + 7) / 8);

    ngx_tunny_image_jpeg_extent(run, &sw, &sh);

    ngx_tunny_image_resample_span(sw, fw, g->tw, g->wx, g->ww, &x0, &x1);
    ngx_tunny_image_resample_span(sh, fh, g->th, g->wy, g->wh, &y0, &y1);

    if (x1 <= x0 || y1 <= y0 || (x0 == 0 && y0 == 0 && x1 == fw && y1 == fh))
    {
        return;
    }

    g->dx = x0;
    g->dy = y0;
    g->dw = x1 - x0;
    g->dh = y1 - y0;
}


/*
 * The part of its decoded pixels a JPEG covers: a DCT-scaled JPEG covers
 * w * n / 8 of its ceil(w * n / 8) columns (the last block is partial)
 */

static void
ngx_tunny_image_jpeg_extent(const ngx_tunny_image_run_t *run, double *sw,
    double *sh)
{
    *sw = (double) run->info.width * run->geo.scale / 8;
    *sh = (double) run->info.height * run->geo.scale / 8;
}


/*
 * The box shrink a row decoder may do on load (ngx_tunny_image_shrink.c):
 * the largest integer k that leaves NGX_TUNNY_IMAGE_MARGIN_BOX x of the
 * shrink to the resampler in both dimensions, at most
 * NGX_TUNNY_IMAGE_BOX_MAX; 1: none.  The decoder sets run->box to the k
 * it used; the steps give the resampler the extent w / k x h / k.
 */

unsigned
ngx_tunny_image_box_factor(const ngx_tunny_image_run_t *run)
{
    uint64_t                      kx, ky, k;
    const ngx_tunny_image_geo_t  *g;

    g = &run->geo;

    if (g->tw == 0 || g->th == 0) {
        return 1;
    }

    kx = run->info.width / ((uint64_t) g->tw * NGX_TUNNY_IMAGE_MARGIN_BOX);
    ky = run->info.height / ((uint64_t) g->th * NGX_TUNNY_IMAGE_MARGIN_BOX);
    k = kx < ky ? kx : ky;

    if (k > NGX_TUNNY_IMAGE_BOX_MAX) {
        k = NGX_TUNNY_IMAGE_BOX_MAX;
    }

    return k ? (unsigned) k : 1;
}


/* run->pix is the whole decoded frame, not a region of it */

void
ngx_tunny_image_decoded_whole(ngx_tunny_image_run_t *run)
{
    run->dec_w = run->pix.width;
    run->dec_h = run->pix.height;
    run->dec_x = 0;
    run->dec_y = 0;
}


/* decode, resample, transform, sharpen, encode */

static int
ngx_tunny_image_steps(ngx_tunny_image_run_t *run)
{
    int     rc;
    double  sw, sh;

    switch (run->info.type) {
    case NGX_TUNNY_IMAGE_JPEG:
        rc = ngx_tunny_image_jpeg_decode(run);
        break;
    case NGX_TUNNY_IMAGE_PNG:
        rc = ngx_tunny_image_png_decode(run);
        break;
    case NGX_TUNNY_IMAGE_GIF:
        rc = ngx_tunny_image_gif_decode(run);
        break;
    case NGX_TUNNY_IMAGE_HEIC:
        rc = ngx_tunny_image_heif_decode(run);
        break;
    case NGX_TUNNY_IMAGE_AVIF:
        rc = ngx_tunny_image_avif_decode(run);
        break;
    default:
        /* a still of an animated WebP: its first frame */
        rc = (run->info.vp8x_flags & ANIMATION_FLAG)
             ? ngx_tunny_image_anim_decode(run)
             : ngx_tunny_image_webp_decode(run);
        break;
    }

    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    /* the other decoders give whole pixels, all of the frame */

    if (run->info.type == NGX_TUNNY_IMAGE_JPEG) {
        ngx_tunny_image_jpeg_extent(run, &sw, &sh);

    } else if (run->box > 1) {
        /* a box shrink on load: the last column and row are partial */
        sw = (double) run->info.width / run->box;
        sh = (double) run->info.height / run->box;
        ngx_tunny_image_decoded_whole(run);

    } else {
        sw = run->pix.width;
        sh = run->pix.height;
        ngx_tunny_image_decoded_whole(run);
    }

    if (run->fast & NGX_TUNNY_IMAGE_DECODED) {
        return NGX_TUNNY_IMAGE_OK;
    }

    /*
     * The colour step (the source's profile to sRGB) runs on the decoded
     * pixels, after the shrink-on-load (DCT scale, libwebp's rescaler)
     * and before the resampler, as libvips does: the reference converts
     * at full size, then resizes in sRGB.  Converting the output pixels
     * instead costs 4-16 times fewer pixels but resamples in the source's
     * encoding: on ProPhoto photos at fit 256 the worst 95th percentile
     * went from 0.89 to 1.81 dE00 (sharp 1.25) for 7 ms less of 31 ms
     * (t/bench/quality.sh measures both; colour_late is that comparison).
     */

    if (!run->colour_late) {
        rc = ngx_tunny_image_colour(run);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    /* a HEIC's clean aperture (clap) cuts the ispe size the plan had */

    if (run->info.type == NGX_TUNNY_IMAGE_HEIC
        && (run->pix.width != run->info.width
            || run->pix.height != run->info.height))
    {
        run->info.width = run->pix.width;
        run->info.height = run->pix.height;
        ngx_tunny_image_geometry(run->params, 1, run->info.width,
                                 run->info.height, &run->geo);
    }

    rc = ngx_tunny_image_resample(run, sw, sh, run->geo.tw, run->geo.th);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    rc = ngx_tunny_image_transform(run);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (run->colour_late) {
        rc = ngx_tunny_image_colour(run);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    if (run->params->sharpen > 0) {
        rc = ngx_tunny_image_sharpen(run, run->params->sharpen);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    /* channel fix-ups before encoding */

    if (run->out_type == NGX_TUNNY_IMAGE_JPEG && run->pix.channels == 4) {
        ngx_tunny_image_flatten(run);
    }

    if ((run->out_type == NGX_TUNNY_IMAGE_WEBP
         || run->out_type == NGX_TUNNY_IMAGE_AVIF)
        && run->pix.channels == 1)
    {
        rc = ngx_tunny_image_grey_to_rgb(run);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK || run->pixels) {
        return rc;
    }

    switch (run->out_type) {
    case NGX_TUNNY_IMAGE_JPEG:
        return ngx_tunny_image_jpeg_encode(run);
    case NGX_TUNNY_IMAGE_PNG:
        return ngx_tunny_image_png_encode(run);
    case NGX_TUNNY_IMAGE_AVIF:
        return ngx_tunny_image_avif_encode(run);
    default:
        return ngx_tunny_image_webp_encode(run);
    }
}


/*
 * JPEG has no alpha: flatten on the background (white by default), in
 * place.  The resampler worked on premultiplied pixels and gave back
 * straight ones: c * a + bg * (1 - a) is the premultiplied composite.
 */

static void
ngx_tunny_image_flatten(ngx_tunny_image_run_t *run)
{
    unsigned                x, y, a, bg[3];
    uint32_t                b;
    unsigned char          *s;
    ngx_tunny_image_pix_t  *pix;

    pix = &run->pix;

    b = run->params->background;

    if (!(b & NGX_TUNNY_IMAGE_BG_SET)) {
        b = 0xffffff;
    }

    bg[0] = (b >> 16) & 0xff;
    bg[1] = (b >> 8) & 0xff;
    bg[2] = b & 0xff;

    for (y = 0; y < pix->height; y++) {
        s = pix->data + y * pix->stride;

        for (x = 0; x < pix->width; x++) {
            a = s[3];

            if (a != 255) {
                s[0] = (unsigned char) ((s[0] * a + bg[0] * (255 - a)
                                         + 127) / 255);
                s[1] = (unsigned char) ((s[1] * a + bg[1] * (255 - a)
                                         + 127) / 255);
                s[2] = (unsigned char) ((s[2] * a + bg[2] * (255 - a)
                                         + 127) / 255);
                s[3] = 255;
            }

            s += 4;
        }
    }
}


/* the WebP and AVIF encoders take RGB or RGBA */

static int
ngx_tunny_image_grey_to_rgb(ngx_tunny_image_run_t *run)
{
    int                     rc;
    unsigned                x, y;
    unsigned char          *d, *s;
    ngx_tunny_image_pix_t   out, *pix;

    pix = &run->pix;

    rc = ngx_tunny_image_pix_next(run, &out, pix->width, pix->height, 3,
                                  "out of memory");
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    for (y = 0; y < pix->height; y++) {
        s = pix->data + y * pix->stride;
        d = out.data + y * out.stride;

        for (x = 0; x < pix->width; x++) {
            d[0] = d[1] = d[2] = s[x];
            d += 3;
        }
    }

    run->pix = out;

    /* a GRAY profile does not fit RGB pixels */

    ngx_tunny_image_icc_drop(run);

    return NGX_TUNNY_IMAGE_OK;
}


/* helpers of the steps */

int
ngx_tunny_image_error(ngx_tunny_image_result_t *res, int rc,
    const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(res->error, sizeof(res->error), fmt, args);
    va_end(args);

    return rc;
}


/*
 * The cancel checkpoint: NGX_TUNNY_IMAGE_ECANCEL ("cancelled" in
 * res->error) once the flag is set.  A pixel loop calls it with its row
 * and looks every NGX_TUNNY_IMAGE_CHECK_ROWS rows; row 0 always looks.
 */

int
ngx_tunny_image_checkpoint(ngx_tunny_image_run_t *run, unsigned row)
{
    const int  *cancel;

    cancel = run->params->cancel;

    if ((row & (NGX_TUNNY_IMAGE_CHECK_ROWS - 1)) != 0
        || cancel == NULL
        || !__atomic_load_n(cancel, __ATOMIC_RELAXED))
    {
        return NGX_TUNNY_IMAGE_OK;
    }

    return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ECANCEL,
                                 "cancelled");
}


int
ngx_tunny_image_check_pixels(const ngx_tunny_image_info_t *info,
    uint64_t max_pixels, char *error, size_t size)
{
    if (max_pixels == 0
        || (uint64_t) info->width * info->height <= max_pixels)
    {
        return NGX_TUNNY_IMAGE_OK;
    }

    (void) snprintf(error, size,
                    "%ux%u image exceeds tunny_image_max_pixels %llu",
                    info->width, info->height,
                    (unsigned long long) max_pixels);

    return NGX_TUNNY_IMAGE_ELIMIT;
}


/* the max-pixels rule for the sizes a header gives (the probe's, or a
 * decoder's own reading of it), the reason in res->error */

int
ngx_tunny_image_limit(ngx_tunny_image_run_t *run, unsigned width,
    unsigned height)
{
    ngx_tunny_image_info_t  info;

    memset(&info, 0, sizeof(ngx_tunny_image_info_t));
    info.width = width;
    info.height = height;

    return ngx_tunny_image_check_pixels(&info, run->params->max_pixels,
                                        run->res->error,
                                        sizeof(run->res->error));
}


/* scratch buffers */

unsigned char *
ngx_tunny_image_buf_get(ngx_tunny_image_state_t *st, int i, size_t size)
{
    ngx_tunny_image_buf_t  *b;

    b = &st->buf[i];

    if (b->data != NULL && b->size >= size) {
        return b->data;
    }

    free(b->data);

    /* round up a little so that slightly bigger jobs reuse the buffer */
    size = (size + 65535) & ~(size_t) 65535;

    b->data = malloc(size);
    b->size = b->data ? size : 0;

    return b->data;
}


int
ngx_tunny_image_buf_grow(ngx_tunny_image_buf_t *b, size_t size)
{
    unsigned char  *p;

    if (b->size >= size) {
        return 0;
    }

    p = realloc(b->data, size);
    if (p == NULL) {
        return -1;
    }

    b->data = p;
    b->size = size;

    return 0;
}


/*
 * The output of a pixel step: the one of the two pipeline buffers
 * (A, B) the current pixels are not in, for width x height x channels
 * pixels, described in out; the step ends with run->pix = out.  Failure
 * is NGX_TUNNY_IMAGE_ENOMEM with what as the reason.
 */

int
ngx_tunny_image_pix_next(ngx_tunny_image_run_t *run,
    ngx_tunny_image_pix_t *out, unsigned width, unsigned height,
    unsigned channels, const char *what)
{
    out->buf = (run->pix.buf == NGX_TUNNY_IMAGE_BUF_A)
               ? NGX_TUNNY_IMAGE_BUF_B : NGX_TUNNY_IMAGE_BUF_A;
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->stride = (size_t) width * channels;

    out->data = ngx_tunny_image_buf_get(run->st, out->buf,
                                        out->stride * height);
    if (out->data == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM, "%s",
                                     what);
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* the ICC profile a decoder found travels to the encoder if it fits */

static int
ngx_tunny_image_icc_matches(const unsigned char *icc, size_t len,
    unsigned channels)
{
    const char  *cs;

    /* profile data colour space at offset 16 must match the pixels */

    if (icc == NULL || len < 132 || memcmp(icc + 36, "acsp", 4) != 0) {
        return 0;
    }

    cs = (channels == 1) ? "GRAY" : "RGB ";

    return memcmp(icc + 16, cs, 4) == 0;
}


void
ngx_tunny_image_icc_check(ngx_tunny_image_run_t *run, unsigned channels)
{
    if (run->icc
        && !ngx_tunny_image_icc_matches(run->icc, run->icc_len, channels))
    {
        ngx_tunny_image_icc_drop(run);
    }
}


void
ngx_tunny_image_icc_drop(ngx_tunny_image_run_t *run)
{
    free(run->icc);
    run->icc = NULL;
    run->icc_len = 0;
}


/* state */

ngx_tunny_image_state_t *
ngx_tunny_image_state_create(void)
{
    ngx_tunny_image_state_t  *st;

    st = calloc(1, sizeof(ngx_tunny_image_state_t));

    if (st != NULL) {
        ngx_tunny_image_heif_init();
    }

    return st;
}


void
ngx_tunny_image_state_destroy(ngx_tunny_image_state_t *st)
{
    int  i;

    if (st == NULL) {
        return;
    }

    for (i = 0; i < NGX_TUNNY_IMAGE_NBUFS; i++) {
        free(st->buf[i].data);
    }

    ngx_tunny_image_colour_free(st->colour);
    free(st);

    ngx_tunny_image_heif_deinit();
}


void
ngx_tunny_image_state_trim(ngx_tunny_image_state_t *st, size_t cap)
{
    int  i;

    if (st == NULL) {
        return;
    }

    for (i = 0; i < NGX_TUNNY_IMAGE_NBUFS; i++) {
        if (st->buf[i].size > cap) {
            free(st->buf[i].data);
            st->buf[i].data = NULL;
            st->buf[i].size = 0;
        }
    }

    /* the transform cache stays: it is what makes the next job cheap */

    ngx_tunny_image_colour_trim(st->colour);
}
