
/*
 * ngx_tunny_module: the resampler of the image library: separable, with
 * integer weights in Q14, a vertical pass into a scratch buffer, then a
 * horizontal one into the next pipeline buffer.  A shrinking axis uses
 * Lanczos-3 stretched by the shrink factor (a windowed sinc that low-passes
 * at the output's Nyquist rate, every source pixel contributes); an
 * enlarging one Catmull-Rom (a = -0.5), which does not ring as much.
 *
 * Geometry: the source of an axis is an extent in pixels, not always the
 * pixel count: a DCT-scaled JPEG covers w * n / 8 of its ceil(w * n / 8)
 * columns.  Output pixel i, centre i + 0.5, samples the source at
 * (i + 0.5) * extent / dst, in pixel units whose centres are at j + 0.5.
 *
 * Runs in the thread of ngx_tunny_image_process(); the weights and the
 * intermediate image are state buffers.
 */


#include <math.h>
#include <string.h>

#include "ngx_tunny_image_int.h"
#include "ngx_tunny_image_resample.h"


typedef struct {
    ngx_tunny_image_taps_t          x;
    ngx_tunny_image_taps_t          y;
    int32_t                        *acc;           /* a row of sums */
    unsigned char                  *tmp;           /* wh rows of the */
    size_t                          tstride;       /* columns x reads, */
    size_t                          toff;          /* from this byte */
} ngx_tunny_image_resampler_t;


/*
 * the highest instruction set of the vector kernels (lowered by the unit
 * test and tunny-cpu for their comparisons); set before any job runs,
 * read-only after
 */
static int  ngx_tunny_image_vector_level = NGX_TUNNY_IMAGE_VECTOR_AVX2;


static int ngx_tunny_image_resample_init(ngx_tunny_image_run_t *run,
    ngx_tunny_image_resampler_t *r, double sw, double sh, unsigned dw,
    unsigned dh);


static double
ngx_tunny_image_cubic(double x)
{
    x = fabs(x);

    if (x < 1.0) {
        return (1.5 * x - 2.5) * x * x + 1.0;
    }

    if (x < 2.0) {
        return ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0;
    }

    return 0.0;
}


static double
ngx_tunny_image_lanczos3(double x)
{
    x = fabs(x);

    if (x < 1e-9) {
        return 1.0;
    }

    if (x < 3.0) {
        return 3.0 * sin(M_PI * x) * sin(M_PI * x / 3.0)
               / (M_PI * M_PI * x * x);
    }

    return 0.0;
}


/* the taps an axis needs at most: the kernel's support both sides, + 2 */

static int
ngx_tunny_image_taps(double extent, unsigned dst)
{
    double  scale;

    scale = extent / dst;

    return (scale > 1.0) ? (int) ceil(6.0 * scale) + 2 : 6;
}


/*
 * The source window of output i of dst over extent source pixels (of
 * which src exist): its first index *lo and tap count *n; the one rule,
 * for the weights and for the pixels a decoder must give (the span).
 */

static void
ngx_tunny_image_tap_range(double extent, unsigned src, unsigned dst,
    int max_taps, int i, double *center, int *lo, int *n)
{
    int     l, h;
    double  scale, support, c;

    scale = extent / dst;
    support = (scale > 1.0) ? 3.0 * scale : 2.0;

    c = (i + 0.5) * scale;

    l = (int) floor(c - support + 0.5);
    h = (int) floor(c + support + 0.5);

    if (l < 0) {
        l = 0;
    }

    if (h > (int) src) {
        h = (int) src;
    }

    h -= l;
    if (h > max_taps) {
        h = max_taps;
    }

    if (h <= 0) {
        l = (int) (c < src ? c : src - 1);
        h = 1;
    }

    *center = c;
    *lo = l;
    *n = h;
}


/*
 * The source indices [*lo, *hi) that outputs from .. from + n - 1 of dst
 * over extent source pixels (src exist) read.
 */

void
ngx_tunny_image_resample_span(double extent, unsigned src, unsigned dst,
    unsigned from, unsigned n, unsigned *lo, unsigned *hi)
{
    int       l, k, taps;
    double    c;
    unsigned  i;

    taps = ngx_tunny_image_taps(extent, dst);

    *lo = src;
    *hi = 0;

    for (i = from; i < from + n; i++) {
        ngx_tunny_image_tap_range(extent, src, dst, taps, (int) i, &c, &l,
                                  &k);

        if ((unsigned) l < *lo) {
            *lo = (unsigned) l;
        }

        if ((unsigned) (l + k) > *hi) {
            *hi = (unsigned) (l + k);
        }
    }

    if (*lo > *hi) {
        *lo = *hi;
    }
}


/*
 * For outputs from .. from + n - 1 of dst over extent source pixels (of
 * which src exist, the first of them at index origin of the pixels the
 * pass reads): first source index (relative to origin), tap count, and
 * weights in Q14 that sum to exactly 1 << 14, one output every t->taps
 * (at least ngx_tunny_image_taps()), zero past its count.  The weights of
 * an output do not depend on the window: a window of the outputs gives
 * the same values as the whole.  0, or -1 when a tap falls outside the
 * avail source pixels read.
 */

static int
ngx_tunny_image_weights(double extent, unsigned src, unsigned dst,
    unsigned from, unsigned n, unsigned origin, unsigned avail,
    ngx_tunny_image_taps_t *t, double *tw)
{
    int        i, j, lo, k, sum, best, max_taps;
    double     scale, fscale, center, w, total;
    int16_t   *weights;
    double   (*kernel)(double x);

    max_taps = ngx_tunny_image_taps(extent, dst);
    weights = t->weight;

    scale = extent / dst;

    if (scale > 1.0) {
        kernel = ngx_tunny_image_lanczos3;
        fscale = scale;

    } else {
        kernel = ngx_tunny_image_cubic;
        fscale = 1.0;
    }

    for (i = 0; i < (int) n; i++) {

        ngx_tunny_image_tap_range(extent, src, dst, max_taps,
                                  (int) from + i, &center, &lo, &k);

        if (lo < (int) origin || lo + k > (int) (origin + avail)) {
            return -1;
        }

        total = 0.0;

        for (j = 0; j < k; j++) {
            w = kernel((lo + j + 0.5 - center) / fscale);
            tw[j] = w;
            total += w;
        }

        if (total == 0.0) {
            tw[0] = total = 1.0;
            for (j = 1; j < k; j++) {
                tw[j] = 0.0;
            }
        }

        sum = 0;
        best = 0;

        for (j = 0; j < k; j++) {
            weights[j] = (int16_t) lrint(tw[j] / total
                                         * (1 << NGX_TUNNY_IMAGE_FP));
            sum += weights[j];

            if (weights[j] > weights[best]) {
                best = j;
            }
        }

        weights[best] = (int16_t) (weights[best]
                                   + (1 << NGX_TUNNY_IMAGE_FP) - sum);

        for (j = k; j < t->taps; j++) {
            weights[j] = 0;
        }

        t->start[i] = lo - (int) origin;
        t->count[i] = k;
        weights += t->taps;
    }

    return 0;
}


/*
 * Alpha: RGBA is resampled premultiplied, so that the colour of a
 * transparent pixel does not bleed into its opaque neighbours (no dark
 * fringe where opaque white meets transparent black).  The one place:
 * ngx_tunny_image_premul_rows() premultiplies the source in place before
 * the first pass, both passes filter the four channels alike, and
 * ngx_tunny_image_unpremul_row() undoes it on each output row.
 */

static void
ngx_tunny_image_premul_rows(ngx_tunny_image_pix_t *pix)
{
    unsigned        x, y, a;
    unsigned char  *d;

    for (y = 0; y < pix->height; y++) {
        d = pix->data + (size_t) y * pix->stride;

        for (x = 0; x < pix->width; x++, d += 4) {
            a = d[3];

            if (a != 255) {
                d[0] = (unsigned char) ((d[0] * a + 127) / 255);
                d[1] = (unsigned char) ((d[1] * a + 127) / 255);
                d[2] = (unsigned char) ((d[2] * a + 127) / 255);
            }
        }
    }
}


static void
ngx_tunny_image_unpremul_row(unsigned char *d, unsigned width)
{
    unsigned  x, a, c, i;

    for (x = 0; x < width; x++, d += 4) {
        a = d[3];

        if (a == 255) {
            continue;
        }

        for (i = 0; i < 3; i++) {
            c = a ? (d[i] * 255 + a / 2) / a : 0;
            d[i] = (unsigned char) (c > 255 ? 255 : c);
        }
    }
}


/*
 * One row of the horizontal pass, ch channels (1, 3 or 4): the loop body
 * is written once and instantiated per channel count, so that the
 * compiler sees a constant: the tests on ch vanish, the sums stay in
 * registers, one function per layout without a channel loop.
 */

#define NGX_TUNNY_IMAGE_HROW(ch)                                              \
                                                                              \
static void                                                                   \
ngx_tunny_image_hrow##ch(const unsigned char *s, unsigned char *t,            \
    unsigned dw, const ngx_tunny_image_taps_t *tx)                            \
{                                                                             \
    int                   k;                                                  \
    unsigned              x;                                                  \
    int32_t               a0, a1, a2, a3;                                     \
    const int16_t        *w;                                                  \
    const unsigned char  *p;                                                  \
                                                                              \
    for (x = 0; x < dw; x++) {                                                \
        p = s + (size_t) tx->start[x] * ch;                                   \
        w = tx->weight + (size_t) x * tx->taps;                               \
        a0 = a1 = a2 = a3 = 0;                                                \
                                                                              \
        for (k = 0; k < tx->count[x]; k++) {                                  \
            a0 += w[k] * p[0];                                                \
                                                                              \
            if (ch > 2) {                                                     \
                a1 += w[k] * p[1];                                            \
                a2 += w[k] * p[2];                                            \
            }                                                                 \
                                                                              \
            if (ch > 3) {                                                     \
                a3 += w[k] * p[3];                                            \
            }                                                                 \
                                                                              \
            p += ch;                                                          \
        }                                                                     \
                                                                              \
        t[0] = ngx_tunny_image_clamp(a0);                                     \
                                                                              \
        if (ch > 2) {                                                         \
            t[1] = ngx_tunny_image_clamp(a1);                                 \
            t[2] = ngx_tunny_image_clamp(a2);                                 \
        }                                                                     \
                                                                              \
        if (ch > 3) {                                                         \
            t[3] = ngx_tunny_image_clamp(a3);                                 \
        }                                                                     \
                                                                              \
        t += ch;                                                              \
    }                                                                         \
}

NGX_TUNNY_IMAGE_HROW(1)
NGX_TUNNY_IMAGE_HROW(3)
NGX_TUNNY_IMAGE_HROW(4)


/* the row kernels of a job: the vector ones where the machine has them */

static void
ngx_tunny_image_resample_kernels(unsigned ch, ngx_tunny_image_hrow_pt *hrow,
    ngx_tunny_image_vrow_pt *vrow)
{
    ngx_tunny_image_hrow_pt  h;
    ngx_tunny_image_vrow_pt  v;

    switch (ch) {
    case 3:
        *hrow = ngx_tunny_image_hrow3;
        break;
    case 4:
        *hrow = ngx_tunny_image_hrow4;
        break;
    default:
        *hrow = ngx_tunny_image_hrow1;
        break;
    }

    *vrow = ngx_tunny_image_vrow_scalar;

    h = NULL;
    v = NULL;

    if (ngx_tunny_image_vector_level >= NGX_TUNNY_IMAGE_VECTOR_AVX2) {
        h = ngx_tunny_image_hrow_simd256(ch);
        v = ngx_tunny_image_vrow_simd256();
    }

    if (ngx_tunny_image_vector_level >= NGX_TUNNY_IMAGE_VECTOR_SSE2) {
        h = h ? h : ngx_tunny_image_hrow_simd(ch);
        v = v ? v : ngx_tunny_image_vrow_simd();
    }

    *hrow = h ? h : *hrow;
    *vrow = v ? v : *vrow;
}


void
ngx_tunny_image_vector_max(int level)
{
    ngx_tunny_image_vector_level = level;
}


int
ngx_tunny_image_vector(void)
{
    return ngx_tunny_image_vector_level;
}


/*
 * Resample run->pix to dw x dh, or rather to the window of it the job
 * keeps (run->geo: wx, wy, ww x wh; all of it but for crop).  The
 * decoded frame (run->dec_w x dec_h pixels) covers sw x sh of its pixels
 * (at most its size); run->pix holds a part of it, from (dec_x, dec_y),
 * at least the pixels the window reads (ngx_tunny_image_resample_span()).
 * The outputs are those of the whole resample, bit for bit.
 */

int
ngx_tunny_image_resample(ngx_tunny_image_run_t *run, double sw, double sh,
    unsigned dw, unsigned dh)
{
    int                           rc;
    unsigned                      y, ww, wh;
    ngx_tunny_image_pix_t         out, *pix;
    ngx_tunny_image_geo_t        *g;
    ngx_tunny_image_hrow_pt       hrow;
    ngx_tunny_image_vrow_pt       vrow;
    ngx_tunny_image_resampler_t   r;

    pix = &run->pix;
    g = &run->geo;
    ww = g->ww;
    wh = g->wh;

    if (run->dec_w == dw && run->dec_h == dh && sw == dw && sh == dh) {

        /* nothing to resample: the window, in the same buffer */

        if (g->wx < run->dec_x || g->wy < run->dec_y
            || g->wx - run->dec_x + ww > pix->width
            || g->wy - run->dec_y + wh > pix->height)
        {
            return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                         "decoded region misses the "
                                         "window");
        }

        pix->data += (size_t) (g->wy - run->dec_y) * pix->stride
                     + (size_t) (g->wx - run->dec_x) * pix->channels;
        pix->width = ww;
        pix->height = wh;

        return NGX_TUNNY_IMAGE_OK;
    }

    rc = ngx_tunny_image_resample_init(run, &r, sw, sh, dw, dh);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    rc = ngx_tunny_image_pix_next(run, &out, ww, wh, pix->channels,
                                  "out of memory resampling");
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    ngx_tunny_image_resample_kernels(pix->channels, &hrow, &vrow);

    if (pix->channels == 4) {
        ngx_tunny_image_premul_rows(pix);
    }

    /*
     * vertical pass first: wh rows of the source width into tmp (the
     * vectorized pass takes the larger part of the work), then the
     * horizontal one
     */

    for (y = 0; y < wh; y++) {

        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }

        vrow(pix->data + r.toff + (size_t) r.y.start[y] * pix->stride,
             pix->stride, r.y.weight + (size_t) y * r.y.taps, r.y.count[y],
             r.tmp + y * r.tstride, r.tstride, r.acc);
    }

    for (y = 0; y < wh; y++) {

        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }

        hrow(r.tmp + y * r.tstride, out.data + y * out.stride, ww, &r.x);

        if (out.channels == 4) {
            ngx_tunny_image_unpremul_row(out.data + y * out.stride, ww);
        }
    }

    run->pix = out;

    return NGX_TUNNY_IMAGE_OK;
}


/* the weights of both axes (of the window) and the intermediate image */

static int
ngx_tunny_image_resample_init(ngx_tunny_image_run_t *run,
    ngx_tunny_image_resampler_t *r, double sw, double sh, unsigned dw,
    unsigned dh)
{
    int                     max, lo, hi;
    double                 *tw;
    size_t                  need;
    unsigned                ch, ww, wh, i;
    unsigned char          *wbuf;
    ngx_tunny_image_geo_t  *g;

    g = &run->geo;
    ch = run->pix.channels;
    ww = g->ww;
    wh = g->wh;

    r->x.taps = ngx_tunny_image_taps(sw, dw);
    r->y.taps = ngx_tunny_image_taps(sh, dh);
    max = r->x.taps > r->y.taps ? r->x.taps : r->y.taps;

    /* the kernels sum whole groups of horizontal taps */

    r->x.taps = (r->x.taps + NGX_TUNNY_IMAGE_TAP_ALIGN - 1)
                & ~(NGX_TUNNY_IMAGE_TAP_ALIGN - 1);

    /* taps * outputs stays near 6 * inputs: no cap needed */

    r->tstride = (size_t) run->pix.width * ch;

    need = sizeof(double) * max
           + sizeof(int32_t) * r->tstride
           + (sizeof(int) * 2 + sizeof(int16_t) * r->x.taps) * ww
           + (sizeof(int) * 2 + sizeof(int16_t) * r->y.taps) * wh + 64;

    wbuf = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_WTS, need);

    r->tmp = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_TMP,
                                     r->tstride * wh
                                     + NGX_TUNNY_IMAGE_RESAMPLE_SLACK);

    if (wbuf == NULL || r->tmp == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory resampling");
    }

    /* carve: the widest types first for alignment */

    tw = (double *) wbuf;
    r->acc = (int32_t *) (tw + max);
    r->x.start = (int *) (r->acc + r->tstride);
    r->x.count = r->x.start + ww;
    r->y.start = r->x.count + ww;
    r->y.count = r->y.start + wh;
    r->x.weight = (int16_t *) (r->y.count + wh);
    r->y.weight = r->x.weight + (size_t) r->x.taps * ww;

    if (ngx_tunny_image_weights(sw, run->dec_w, dw, g->wx, ww, run->dec_x,
                                run->pix.width, &r->x, tw)
        != 0
        || ngx_tunny_image_weights(sh, run->dec_h, dh, g->wy, wh,
                                   run->dec_y, run->pix.height, &r->y, tw)
           != 0)
    {
        /* a bug, not the input: the decoder gave too few pixels */
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "decoded region misses the window");
    }

    /* the vertical pass makes only the columns the horizontal one reads */

    lo = r->x.start[0];
    hi = 0;

    for (i = 0; i < ww; i++) {
        lo = r->x.start[i] < lo ? r->x.start[i] : lo;
        hi = r->x.start[i] + r->x.count[i] > hi
             ? r->x.start[i] + r->x.count[i] : hi;
    }

    for (i = 0; i < ww; i++) {
        r->x.start[i] -= lo;
    }

    r->toff = (size_t) lo * ch;
    r->tstride = (size_t) (hi - lo) * ch;

    memset(r->tmp + r->tstride * wh, 0, NGX_TUNNY_IMAGE_RESAMPLE_SLACK);

    return NGX_TUNNY_IMAGE_OK;
}


/*
 * One output row of the vertical pass, any channel count: the sums of a
 * row in acc, one source row (weight wk) at a time, in blocks of 16 with
 * a constant inner count and restrict pointers so that the compiler
 * vectorizes the loop at -O2, the tail of the row after them.
 */

static void
ngx_tunny_image_vtap(int32_t *restrict acc, const unsigned char *restrict s,
    int32_t wk, size_t n)
{
    size_t  c, j;

    for (c = 0; c + 16 <= n; c += 16) {
        for (j = 0; j < 16; j++) {
            acc[c + j] += wk * s[c + j];
        }
    }

    for ( /* void */ ; c < n; c++) {
        acc[c] += wk * s[c];
    }
}


void
ngx_tunny_image_vrow_scalar(const unsigned char *s, size_t sstride,
    const int16_t *w, int count, unsigned char *d, size_t n, int32_t *acc)
{
    int     k;
    size_t  c;

    memset(acc, 0, sizeof(int32_t) * n);

    for (k = 0; k < count; k++) {
        ngx_tunny_image_vtap(acc, s + (size_t) k * sstride, w[k], n);
    }

    for (c = 0; c < n; c++) {
        d[c] = ngx_tunny_image_clamp(acc[c]);
    }
}
