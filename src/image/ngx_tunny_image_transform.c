
/*
 * ngx_tunny_module: the orthogonal transforms of the image library: the
 * EXIF orientation, the rotation (counter-clockwise, as image_filter) and
 * the centre cut of crop, composed into one affine map of the pixel grid
 * and applied in one pass (or as a window into the same buffer when the
 * map is only a cut).
 *
 * Runs in the thread of ngx_tunny_image_process().
 */


#include <string.h>

#include "ngx_tunny_image_int.h"


/* src.x = xx * x + xy * y + x0; src.y = yx * x + yy * y + y0 */
typedef struct {
    long                            xx, xy, x0;
    long                            yx, yy, y0;
} ngx_tunny_image_map_t;


typedef void (*ngx_tunny_image_copy_pt)(unsigned char *d,
    const unsigned char *s, unsigned n, ptrdiff_t step);


static void
ngx_tunny_image_map_orientation(int o, long w, long h,
    ngx_tunny_image_map_t *m)
{
    /* upright (x, y) -> stored (x, y); w, h: stored size */

    static const long  t[9][6] = {
        { 1, 0, 0, 0, 1, 0 },
        { 1, 0, 0, 0, 1, 0 },       /* 1 */
        { -1, 0, 1, 0, 1, 0 },      /* 2 mirror horizontal */
        { -1, 0, 1, 0, -1, 1 },     /* 3 rotate 180 */
        { 1, 0, 0, 0, -1, 1 },      /* 4 mirror vertical */
        { 0, 1, 0, 1, 0, 0 },       /* 5 transpose */
        { 0, 1, 0, -1, 0, 1 },      /* 6 rotate 90 cw to view */
        { 0, -1, 1, -1, 0, 1 },     /* 7 transverse */
        { 0, -1, 1, 1, 0, 0 }       /* 8 rotate 90 ccw to view */
    };

    if (o < 1 || o > 8) {
        o = 1;
    }

    m->xx = t[o][0];
    m->xy = t[o][1];
    m->x0 = t[o][2] * (w - 1);
    m->yx = t[o][3];
    m->yy = t[o][4];
    m->y0 = t[o][5] * (h - 1);
}


static void
ngx_tunny_image_map_angle(unsigned angle, long w, long h,
    ngx_tunny_image_map_t *m)
{
    /* rotated (x, y) -> upright (x, y), counter-clockwise as gd; w, h: up */

    memset(m, 0, sizeof(ngx_tunny_image_map_t));

    switch (angle) {

    case 90:
        m->xy = -1;
        m->x0 = w - 1;
        m->yx = 1;
        break;

    case 180:
        m->xx = -1;
        m->x0 = w - 1;
        m->yy = -1;
        m->y0 = h - 1;
        break;

    case 270:
        m->xy = 1;
        m->yx = -1;
        m->y0 = h - 1;
        break;

    default:
        m->xx = 1;
        m->yy = 1;
        break;
    }
}


static void
ngx_tunny_image_map_compose(const ngx_tunny_image_map_t *outer,
    const ngx_tunny_image_map_t *inner, ngx_tunny_image_map_t *r)
{
    ngx_tunny_image_map_t  m;

    /* r(p) = outer(inner(p)) */

    m.xx = outer->xx * inner->xx + outer->xy * inner->yx;
    m.xy = outer->xx * inner->xy + outer->xy * inner->yy;
    m.x0 = outer->xx * inner->x0 + outer->xy * inner->y0 + outer->x0;
    m.yx = outer->yx * inner->xx + outer->yy * inner->yx;
    m.yy = outer->yx * inner->xy + outer->yy * inner->yy;
    m.y0 = outer->yx * inner->x0 + outer->yy * inner->y0 + outer->y0;

    *r = m;
}


/*
 * One output row: n pixels of ch channels (1, 3 or 4), the source
 * stepping by step bytes; written once, instantiated per channel count
 * (a constant for the compiler, as in the resampler).
 */

#define NGX_TUNNY_IMAGE_COPY(ch)                                              \
                                                                              \
static void                                                                   \
ngx_tunny_image_copy##ch(unsigned char *d, const unsigned char *s,            \
    unsigned n, ptrdiff_t step)                                               \
{                                                                             \
    unsigned  x;                                                              \
                                                                              \
    for (x = 0; x < n; x++) {                                                 \
        d[0] = s[0];                                                          \
                                                                              \
        if (ch > 2) {                                                         \
            d[1] = s[1];                                                      \
            d[2] = s[2];                                                      \
        }                                                                     \
                                                                              \
        if (ch > 3) {                                                         \
            d[3] = s[3];                                                      \
        }                                                                     \
                                                                              \
        d += ch;                                                              \
        s += step;                                                            \
    }                                                                         \
}

NGX_TUNNY_IMAGE_COPY(1)
NGX_TUNNY_IMAGE_COPY(3)
NGX_TUNNY_IMAGE_COPY(4)


/*
 * The map of the job from the cut output (x, y) to the resized image in
 * its stored orientation (tw x th, before the window is taken out)
 */

static void
ngx_tunny_image_transform_map(ngx_tunny_image_run_t *run,
    ngx_tunny_image_map_t *m)
{
    ngx_tunny_image_geo_t  *g;
    ngx_tunny_image_map_t   mo, ma;

    g = &run->geo;

    ngx_tunny_image_map_orientation(run->info.orientation, g->tw, g->th,
                                    &mo);
    ngx_tunny_image_map_angle(run->params->angle, g->rw, g->rh, &ma);
    ngx_tunny_image_map_compose(&mo, &ma, m);

    /* the cut window offset */

    m->x0 += m->xx * (long) g->cx + m->xy * (long) g->cy;
    m->y0 += m->yx * (long) g->cx + m->yy * (long) g->cy;
}


/*
 * The part of the resized image (stored orientation) the cut output
 * comes from: run->geo's wx, wy, ww, wh.  The resampler makes only it,
 * the decoder decodes only what it needs.
 */

void
ngx_tunny_image_transform_window(ngx_tunny_image_run_t *run)
{
    long                    x0, y0, x1, y1;
    ngx_tunny_image_geo_t  *g;
    ngx_tunny_image_map_t   m;

    g = &run->geo;

    ngx_tunny_image_transform_map(run, &m);

    x0 = m.x0;
    y0 = m.y0;
    x1 = m.xx * (long) (g->cw - 1) + m.xy * (long) (g->ch - 1) + m.x0;
    y1 = m.yx * (long) (g->cw - 1) + m.yy * (long) (g->ch - 1) + m.y0;

    g->wx = (unsigned) (x0 < x1 ? x0 : x1);
    g->wy = (unsigned) (y0 < y1 ? y0 : y1);
    g->ww = (unsigned) (x0 < x1 ? x1 - x0 : x0 - x1) + 1;
    g->wh = (unsigned) (y0 < y1 ? y1 - y0 : y0 - y1) + 1;
}


/* run->pix is the window of ngx_tunny_image_transform_window() */

int
ngx_tunny_image_transform(ngx_tunny_image_run_t *run)
{
    int                       rc;
    long                      sx, sy;
    unsigned                  y, ch;
    ptrdiff_t                 step;
    ngx_tunny_image_map_t     m;
    ngx_tunny_image_pix_t     out, *pix;
    ngx_tunny_image_geo_t    *g;
    ngx_tunny_image_copy_pt   copy;

    pix = &run->pix;
    g = &run->geo;
    ch = pix->channels;

    ngx_tunny_image_transform_map(run, &m);

    m.x0 -= (long) g->wx;
    m.y0 -= (long) g->wy;

    if (m.xx == 1 && m.xy == 0 && m.yx == 0 && m.yy == 1) {

        if (m.x0 == 0 && m.y0 == 0
            && g->cw == pix->width && g->ch == pix->height)
        {
            return NGX_TUNNY_IMAGE_OK;
        }

        /* only a cut: no copy, a window into the same buffer */

        pix->data += (size_t) m.y0 * pix->stride + (size_t) m.x0 * ch;
        pix->width = g->cw;
        pix->height = g->ch;

        return NGX_TUNNY_IMAGE_OK;
    }

    rc = ngx_tunny_image_pix_next(run, &out, g->cw, g->ch, ch,
                                  "out of memory rotating");
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    switch (ch) {
    case 1:
        copy = ngx_tunny_image_copy1;
        break;
    case 3:
        copy = ngx_tunny_image_copy3;
        break;
    default:
        copy = ngx_tunny_image_copy4;
        break;
    }

    step = (ptrdiff_t) m.yx * (ptrdiff_t) pix->stride
           + (ptrdiff_t) m.xx * (ptrdiff_t) ch;

    for (y = 0; y < g->ch; y++) {

        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }

        sx = m.xy * (long) y + m.x0;
        sy = m.yy * (long) y + m.y0;

        copy(out.data + y * out.stride,
             pix->data + (size_t) sy * pix->stride + (size_t) sx * ch,
             g->cw, step);
    }

    run->pix = out;

    return NGX_TUNNY_IMAGE_OK;
}
