
/*
 * ngx_tunny_module: a PNG written without libspng's row loop: each row
 * filtered by our own code (the filter of the smallest sum of absolute
 * residuals, libpng's and libspng's heuristic; SSE2 when on), the whole
 * image data deflated in one call of libdeflate, the chunks (IHDR, iCCP,
 * one IDAT, IEND) written here.  For an image of at most
 * NGX_TUNNY_IMAGE_PNG_DEFLATE_PIXELS (512 x 512: thumbnails) at the
 * levels 0-6.
 *
 * Why: on fit 512 PNG of the bench's wallpapers libspng's encoder (zlib's
 * deflate, Z_FILTERED, and its scalar filters) was a third of the job.
 * On the same filtered rows of those 8 outputs (0.44-0.69 MB) libdeflate
 * at level 6 took 1.5-16.7 ms where zlib took 3.1-41.1 ms, for 0.6-4.1%
 * more bytes.  Its levels 7-9 are slower than zlib's (21-34 ms at 7,
 * 113-180 ms at 9 on the largest): they stay with libspng, whose row
 * loop has checkpoints.
 *
 * A shortcut (NGX_TUNNY_IMAGE_FAST_DEFLATE) exact in the pixels: another
 * compressor gives other bytes, the same image (t/unit decodes both
 * writers' files with libspng and compares them).  It declines to
 * libspng (NGX_TUNNY_IMAGE_DECLINED) for a larger image or a level over
 * 6, or when an allocation fails.
 *
 * Cancellation: the checkpoint every NGX_TUNNY_IMAGE_CHECK_ROWS rows of
 * the filters and before and after the deflate: one call of at most
 * 512 x 512 pixels, 17 ms on the largest of the outputs above.
 *
 * Runs in the thread of ngx_tunny_image_process().
 */


#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "ngx_tunny_image_int.h"

#if (defined __SSE2__)
#include <emmintrin.h>
#endif


/* the largest image deflated in one call, and the highest level */
#define NGX_TUNNY_IMAGE_PNG_DEFLATE_PIXELS  (512 * 512)
#define NGX_TUNNY_IMAGE_PNG_DEFLATE_LEVEL   6

#define NGX_TUNNY_IMAGE_PNG_FILTERS         5

/* signature, IHDR, an iCCP's keyword and method, IDAT, IEND */
#define NGX_TUNNY_IMAGE_PNG_OVERHEAD        (8 + 25 + 12 + 13 + 12 + 12)


static void ngx_tunny_image_png_filter_row(unsigned char *out,
    const unsigned char *cur, const unsigned char *prev, size_t len,
    unsigned bpp, unsigned adaptive, int vector);
static void ngx_tunny_image_png_sums(const unsigned char *cur,
    const unsigned char *prev, size_t from, size_t to, unsigned bpp,
    uint64_t *sum);
static void ngx_tunny_image_png_apply(unsigned char *out,
    const unsigned char *cur, const unsigned char *prev, size_t from,
    size_t to, unsigned bpp, unsigned f);
static unsigned char ngx_tunny_image_png_residual(unsigned f, unsigned x,
    unsigned a, unsigned b, unsigned c);
#if (defined __SSE2__)
static size_t ngx_tunny_image_png_sums_sse2(const unsigned char *cur,
    const unsigned char *prev, size_t len, unsigned bpp, uint64_t *sum);
static size_t ngx_tunny_image_png_apply_sse2(unsigned char *out,
    const unsigned char *cur, const unsigned char *prev, size_t len,
    unsigned bpp, unsigned f);
static __m128i ngx_tunny_image_png_residuals_sse2(const unsigned char *cur,
    const unsigned char *prev, unsigned bpp, size_t i, unsigned f);
static __m128i ngx_tunny_image_png_paeth_pred_sse2(__m128i a, __m128i b,
    __m128i c);
#endif
static unsigned char *ngx_tunny_image_png_chunk(unsigned char *p,
    const char *type, size_t len);
static void ngx_tunny_image_png_put32(unsigned char *p, uint32_t v);


int
ngx_tunny_image_png_deflate(ngx_tunny_image_run_t *run)
{
    int                             rc, vector;
    size_t                          len, line, size, zmax, icc_max, n;
    unsigned                        y, bpp;
    unsigned char                  *rows, *zero, *png, *p, *data;
    struct libdeflate_compressor   *c;
    const ngx_tunny_image_pix_t    *pix;

    pix = &run->pix;
    bpp = pix->channels;
    len = (size_t) pix->width * bpp;
    line = len + 1;
    size = line * pix->height;

    if (!(run->fast & NGX_TUNNY_IMAGE_FAST_DEFLATE)
        || (uint64_t) pix->width * pix->height
           > NGX_TUNNY_IMAGE_PNG_DEFLATE_PIXELS
        || run->params->png_compression > NGX_TUNNY_IMAGE_PNG_DEFLATE_LEVEL)
    {
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    /* the filtered rows, then a zero line: the "previous row" of row 0 */

    rows = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_OUT,
                                   size + len);
    if (rows == NULL) {
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    zero = rows + size;
    memset(zero, 0, len);

    c = libdeflate_alloc_compressor(run->params->png_compression);
    if (c == NULL) {
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    zmax = libdeflate_zlib_compress_bound(c, size);
    icc_max = run->icc ? libdeflate_zlib_compress_bound(c, run->icc_len) : 0;

    png = malloc(NGX_TUNNY_IMAGE_PNG_OVERHEAD + icc_max + zmax);
    if (png == NULL) {
        libdeflate_free_compressor(c);
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    vector = ngx_tunny_image_vector();

    for (y = 0; y < pix->height; y++) {

        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            goto failed;
        }

        data = pix->data + (size_t) y * pix->stride;

        ngx_tunny_image_png_filter_row(rows + (size_t) y * line, data,
                                       y ? data - pix->stride : zero, len,
                                       bpp, run->params->png_compression > 0,
                                       vector);
    }

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto failed;
    }

    memcpy(png, "\211PNG\r\n\032\n", 8);

    p = png + 8 + 8;
    ngx_tunny_image_png_put32(p, pix->width);
    ngx_tunny_image_png_put32(p + 4, pix->height);
    p[8] = 8;
    p[9] = (unsigned char) (bpp == 4 ? 6 : bpp == 3 ? 2 : 0);
    p[10] = 0;                          /* deflate */
    p[11] = 0;                          /* adaptive filtering */
    p[12] = 0;                          /* not interlaced */
    p = ngx_tunny_image_png_chunk(png + 8, "IHDR", 13);

    if (run->icc) {
        memcpy(p + 8, "ICC profile\0\0", 13);

        n = libdeflate_zlib_compress(c, run->icc, run->icc_len, p + 8 + 13,
                                     icc_max);
        if (n == 0) {
            rc = NGX_TUNNY_IMAGE_DECLINED;
            goto failed;
        }

        p = ngx_tunny_image_png_chunk(p, "iCCP", 13 + n);
    }

    n = libdeflate_zlib_compress(c, rows, size, p + 8, zmax);

    libdeflate_free_compressor(c);
    c = NULL;

    if (n == 0) {
        rc = NGX_TUNNY_IMAGE_DECLINED;
        goto failed;
    }

    p = ngx_tunny_image_png_chunk(p, "IDAT", n);
    p = ngx_tunny_image_png_chunk(p, "IEND", 0);

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto failed;
    }

    run->res->data = png;
    run->res->len = p - png;
    run->res->fast |= NGX_TUNNY_IMAGE_FAST_DEFLATE;

    return NGX_TUNNY_IMAGE_OK;

failed:

    if (c) {
        libdeflate_free_compressor(c);
    }

    free(png);

    return rc;
}


/*
 * One row: its filter type byte, then its residuals by the filter with
 * the smallest sum of absolute (signed byte) residuals, the first of
 * equal sums; not adaptive: none.  The SSE2 sums and residuals are the
 * scalar ones exactly; the first bpp bytes (no left neighbour) and the
 * tail are scalar.
 */

static void
ngx_tunny_image_png_filter_row(unsigned char *out, const unsigned char *cur,
    const unsigned char *prev, size_t len, unsigned bpp, unsigned adaptive,
    int vector)
{
    size_t    done;
    unsigned  f, best;
    uint64_t  sum[NGX_TUNNY_IMAGE_PNG_FILTERS];

    best = NGX_TUNNY_IMAGE_PNG_NONE;

    if (adaptive) {
        memset(sum, 0, sizeof(sum));

        ngx_tunny_image_png_sums(cur, prev, 0, bpp, bpp, sum);
        done = bpp;

#if (defined __SSE2__)
        if (vector) {
            done = ngx_tunny_image_png_sums_sse2(cur, prev, len, bpp, sum);
        }
#endif

        ngx_tunny_image_png_sums(cur, prev, done, len, bpp, sum);

        for (f = 1; f < NGX_TUNNY_IMAGE_PNG_FILTERS; f++) {
            if (sum[f] < sum[best]) {
                best = f;
            }
        }
    }

    *out++ = (unsigned char) best;

    if (best == NGX_TUNNY_IMAGE_PNG_NONE) {
        memcpy(out, cur, len);
        return;
    }

    ngx_tunny_image_png_apply(out, cur, prev, 0, bpp, bpp, best);
    done = bpp;

#if (defined __SSE2__)
    if (vector) {
        done = ngx_tunny_image_png_apply_sse2(out, cur, prev, len, bpp, best);
    }
#endif

    ngx_tunny_image_png_apply(out, cur, prev, done, len, bpp, best);
}


/* the sums of bytes from..to-1 of the five filters' absolute residuals */

static void
ngx_tunny_image_png_sums(const unsigned char *cur, const unsigned char *prev,
    size_t from, size_t to, unsigned bpp, uint64_t *sum)
{
    size_t    i;
    unsigned  f, a, c, r;

    for (i = from; i < to; i++) {
        a = i >= bpp ? cur[i - bpp] : 0;
        c = i >= bpp ? prev[i - bpp] : 0;

        for (f = 0; f < NGX_TUNNY_IMAGE_PNG_FILTERS; f++) {
            r = ngx_tunny_image_png_residual(f, cur[i], a, prev[i], c);
            sum[f] += r < 128 ? r : 256 - r;
        }
    }
}


static void
ngx_tunny_image_png_apply(unsigned char *out, const unsigned char *cur,
    const unsigned char *prev, size_t from, size_t to, unsigned bpp,
    unsigned f)
{
    size_t  i;

    for (i = from; i < to; i++) {
        out[i] = ngx_tunny_image_png_residual(f, cur[i],
                                              i >= bpp ? cur[i - bpp] : 0,
                                              prev[i],
                                              i >= bpp ? prev[i - bpp] : 0);
    }
}


/* x filtered by f, given its left (a), upper (b) and upper left (c) */

static unsigned char
ngx_tunny_image_png_residual(unsigned f, unsigned x, unsigned a, unsigned b,
    unsigned c)
{
    switch (f) {

    case NGX_TUNNY_IMAGE_PNG_SUB:
        return (unsigned char) (x - a);

    case NGX_TUNNY_IMAGE_PNG_UP:
        return (unsigned char) (x - b);

    case NGX_TUNNY_IMAGE_PNG_AVG:
        return (unsigned char) (x - ((a + b) >> 1));

    case NGX_TUNNY_IMAGE_PNG_PAETH:
        return (unsigned char) (x - ngx_tunny_image_png_paeth(a, b, c));

    default:
        return (unsigned char) x;
    }
}


#if (defined __SSE2__)

/*
 * The sums over 16 bytes at a time from byte bpp on; returns where it
 * stopped (the scalar code does the rest)
 */

static size_t
ngx_tunny_image_png_sums_sse2(const unsigned char *cur,
    const unsigned char *prev, size_t len, unsigned bpp, uint64_t *sum)
{
    size_t    i;
    unsigned  f;
    __m128i   zero, r, acc[NGX_TUNNY_IMAGE_PNG_FILTERS];

    zero = _mm_setzero_si128();

    for (f = 0; f < NGX_TUNNY_IMAGE_PNG_FILTERS; f++) {
        acc[f] = zero;
    }

    for (i = bpp; i + 16 <= len; i += 16) {
        for (f = 0; f < NGX_TUNNY_IMAGE_PNG_FILTERS; f++) {
            r = ngx_tunny_image_png_residuals_sse2(cur, prev, bpp, i, f);

            /* |r| as a signed byte: the smaller of r and -r unsigned */

            r = _mm_min_epu8(r, _mm_sub_epi8(zero, r));
            acc[f] = _mm_add_epi64(acc[f], _mm_sad_epu8(r, zero));
        }
    }

    for (f = 0; f < NGX_TUNNY_IMAGE_PNG_FILTERS; f++) {
        sum[f] += (uint64_t) _mm_cvtsi128_si64(acc[f])
                  + (uint64_t) _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc[f],
                                                                    acc[f]));
    }

    return i;
}


static size_t
ngx_tunny_image_png_apply_sse2(unsigned char *out, const unsigned char *cur,
    const unsigned char *prev, size_t len, unsigned bpp, unsigned f)
{
    size_t  i;

    for (i = bpp; i + 16 <= len; i += 16) {
        _mm_storeu_si128((__m128i *) (out + i),
                         ngx_tunny_image_png_residuals_sse2(cur, prev, bpp,
                                                            i, f));
    }

    return i;
}


/* bytes i..i+15 filtered by f (i >= bpp: every neighbour is in the row) */

static __m128i
ngx_tunny_image_png_residuals_sse2(const unsigned char *cur,
    const unsigned char *prev, unsigned bpp, size_t i, unsigned f)
{
    __m128i  x, a, b, c, avg;

    x = _mm_loadu_si128((const __m128i *) (cur + i));

    switch (f) {

    case NGX_TUNNY_IMAGE_PNG_SUB:
        a = _mm_loadu_si128((const __m128i *) (cur + i - bpp));
        return _mm_sub_epi8(x, a);

    case NGX_TUNNY_IMAGE_PNG_UP:
        b = _mm_loadu_si128((const __m128i *) (prev + i));
        return _mm_sub_epi8(x, b);

    case NGX_TUNNY_IMAGE_PNG_AVG:
        a = _mm_loadu_si128((const __m128i *) (cur + i - bpp));
        b = _mm_loadu_si128((const __m128i *) (prev + i));

        /* _mm_avg_epu8() rounds up: the floor takes the low bit back */

        avg = _mm_sub_epi8(_mm_avg_epu8(a, b),
                           _mm_and_si128(_mm_xor_si128(a, b),
                                         _mm_set1_epi8(1)));
        return _mm_sub_epi8(x, avg);

    case NGX_TUNNY_IMAGE_PNG_PAETH:
        a = _mm_loadu_si128((const __m128i *) (cur + i - bpp));
        b = _mm_loadu_si128((const __m128i *) (prev + i));
        c = _mm_loadu_si128((const __m128i *) (prev + i - bpp));
        return _mm_sub_epi8(x, ngx_tunny_image_png_paeth_pred_sse2(a, b, c));

    default:
        return x;
    }
}


/*
 * The Paeth predictor of 16 bytes in 16-bit lanes: pa = |b - c|,
 * pb = |a - c|, pc = |a + b - 2c|; a if pa <= pb and pa <= pc, else b if
 * pb <= pc, else c
 */

static __m128i
ngx_tunny_image_png_paeth_pred_sse2(__m128i a, __m128i b, __m128i c)
{
    int      half;
    __m128i  zero, x[2], y[2], z[2], pa, pb, pc, not_a, take_c, bc, pred[2];

    zero = _mm_setzero_si128();

    x[0] = _mm_unpacklo_epi8(a, zero);
    x[1] = _mm_unpackhi_epi8(a, zero);
    y[0] = _mm_unpacklo_epi8(b, zero);
    y[1] = _mm_unpackhi_epi8(b, zero);
    z[0] = _mm_unpacklo_epi8(c, zero);
    z[1] = _mm_unpackhi_epi8(c, zero);

    for (half = 0; half < 2; half++) {
        pa = _mm_sub_epi16(y[half], z[half]);
        pb = _mm_sub_epi16(x[half], z[half]);
        pc = _mm_add_epi16(pa, pb);

        pa = _mm_max_epi16(pa, _mm_sub_epi16(zero, pa));
        pb = _mm_max_epi16(pb, _mm_sub_epi16(zero, pb));
        pc = _mm_max_epi16(pc, _mm_sub_epi16(zero, pc));

        not_a = _mm_or_si128(_mm_cmpgt_epi16(pa, pb),
                             _mm_cmpgt_epi16(pa, pc));
        take_c = _mm_cmpgt_epi16(pb, pc);

        bc = _mm_or_si128(_mm_and_si128(take_c, z[half]),
                          _mm_andnot_si128(take_c, y[half]));

        pred[half] = _mm_or_si128(_mm_and_si128(not_a, bc),
                                  _mm_andnot_si128(not_a, x[half]));
    }

    return _mm_packus_epi16(pred[0], pred[1]);
}

#endif


/*
 * A chunk whose type and len bytes of data are at p + 4 and p + 8: its
 * length and CRC written; returns the end of the chunk
 */

static unsigned char *
ngx_tunny_image_png_chunk(unsigned char *p, const char *type, size_t len)
{
    ngx_tunny_image_png_put32(p, (uint32_t) len);
    memcpy(p + 4, type, 4);
    ngx_tunny_image_png_put32(p + 8 + len,
                              (uint32_t) libdeflate_crc32(0, p + 4, len + 4));

    return p + 12 + len;
}


static void
ngx_tunny_image_png_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}
