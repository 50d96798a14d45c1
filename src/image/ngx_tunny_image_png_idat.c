
/*
 * ngx_tunny_module: the image data of a plain PNG without libspng's row
 * loop: the IDAT chunks (their CRC checked) inflated in one call of
 * libdeflate into the whole image's scanlines, then unfiltered row by row
 * in place, SSE2 for 3 and 4 bytes a pixel.  "Plain" is 8 bits, not
 * interlaced, grey, RGB or RGBA as stored, no tRNS: what the pipeline
 * takes as it is (ngx_tunny_image_png_plain()).
 *
 * Why: on 8-9 MP RGBA photos and illustrations zlib's streaming inflate
 * took 33-71 ms of a 110-270 ms job and libspng's byte-at-a-time unfilter
 * as much again; libdeflate inflates the same streams in 2-16 ms.  The
 * price is memory: the scanlines of the whole image (height x (1 + width x
 * channels)) in BUF_RAW, where libspng needs one row; the pixel limit
 * (max_pixels) bounds it.
 *
 * An exact shortcut (NGX_TUNNY_IMAGE_FAST_INFLATE): the pixels are
 * libspng's, bit for bit (t/unit/test_image_fast.c).  Anything it does not
 * expect (a bad CRC, a zlib stream that does not inflate to exactly the
 * image's size, an unknown filter type, IDAT chunks not in one run) makes
 * it answer NGX_TUNNY_IMAGE_DECLINED before any row leaves it, and the
 * caller decodes through libspng, which gives the error its reason.  Its
 * work is bounded as libspng's is: the output buffer is the image's size
 * and libdeflate stops there.
 *
 * Cancellation: the inflate is one call (1.7 ms per megapixel at most on
 * the bench's PNGs), the checkpoint is before it and every
 * NGX_TUNNY_IMAGE_CHECK_ROWS rows of the unfilter.
 *
 * Runs in the thread of ngx_tunny_image_process().
 */


#include <string.h>

#include <libdeflate.h>

#include "ngx_tunny_image_int.h"

#if (defined __SSE2__)
#include <emmintrin.h>
#endif


/* after the last row: the SSE2 kernels load 4 bytes of a 3-byte pixel */
#define NGX_TUNNY_IMAGE_PNG_SLACK  4


static int ngx_tunny_image_png_stream(ngx_tunny_image_run_t *run,
    const unsigned char **z, size_t *zlen);
static uint32_t ngx_tunny_image_png_be32(const unsigned char *p);
static void ngx_tunny_image_png_unfilter_row(unsigned char *row,
    const unsigned char *prev, size_t len, unsigned bpp, int vector);
#if (defined __SSE2__)
static void ngx_tunny_image_png_up_sse2(unsigned char *row,
    const unsigned char *prev, size_t len);
static void ngx_tunny_image_png_sub_sse2(unsigned char *row, size_t len,
    unsigned bpp);
static void ngx_tunny_image_png_avg_sse2(unsigned char *row,
    const unsigned char *prev, size_t len, unsigned bpp);
static void ngx_tunny_image_png_paeth_sse2(unsigned char *row,
    const unsigned char *prev, size_t len, unsigned bpp);
#endif


/*
 * The rows of the image, unfiltered: into shrink when it is not NULL,
 * else kept where they are, as run->pix (BUF_RAW, stride 1 + width x
 * channels: each row's filter byte stays in front of it).
 */

int
ngx_tunny_image_png_idat(ngx_tunny_image_run_t *run, unsigned width,
    unsigned height, unsigned channels, ngx_tunny_image_shrink_t *shrink)
{
    int                               rc, vector;
    size_t                            len, line, size, zlen;
    unsigned                          y;
    unsigned char                    *raw, *row;
    const unsigned char              *z;
    enum libdeflate_result            res;
    struct libdeflate_decompressor   *d;

    len = (size_t) width * channels;
    line = len + 1;
    size = line * height;

    rc = ngx_tunny_image_png_stream(run, &z, &zlen);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    /* a zero line first: the "previous row" of the first row */

    raw = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_RAW,
                                  line + size + NGX_TUNNY_IMAGE_PNG_SLACK);
    if (raw == NULL) {
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    memset(raw, 0, line);
    memset(raw + line + size, 0, NGX_TUNNY_IMAGE_PNG_SLACK);

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    d = libdeflate_alloc_decompressor();
    if (d == NULL) {
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    /* exactly size bytes, or it is not for this path */

    res = libdeflate_deflate_decompress(d, z, zlen, raw + line, size, NULL);

    libdeflate_free_decompressor(d);

    if (res != LIBDEFLATE_SUCCESS) {
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    for (y = 0; y < height; y++) {
        if (raw[line + (size_t) y * line] > NGX_TUNNY_IMAGE_PNG_PAETH) {
            return NGX_TUNNY_IMAGE_DECLINED;
        }
    }

    /* from here on every row is good: nothing declines */

    vector = ngx_tunny_image_vector();

    for (y = 0; y < height; y++) {

        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }

        row = raw + line + (size_t) y * line + 1;

        ngx_tunny_image_png_unfilter_row(row, row - line, len, channels,
                                         vector);

        if (shrink) {
            ngx_tunny_image_shrink_row(shrink, row);
        }
    }

    run->res->fast |= NGX_TUNNY_IMAGE_FAST_INFLATE;

    if (shrink) {
        return NGX_TUNNY_IMAGE_OK;
    }

    run->pix.data = raw + line + 1;
    run->pix.width = width;
    run->pix.height = height;
    run->pix.channels = channels;
    run->pix.stride = line;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_RAW;

    return NGX_TUNNY_IMAGE_OK;
}


/*
 * The deflate stream of the IDAT chunks: the chunk's own bytes for one
 * chunk, else the run of chunks copied into BUF_ROW; the zlib header
 * checked and skipped (its Adler-32 is not checked, as libspng is told
 * not to in ngx_tunny_image_png_decode(): the CRCs cover the bytes).
 */

static int
ngx_tunny_image_png_stream(ngx_tunny_image_run_t *run,
    const unsigned char **z, size_t *zlen)
{
    size_t                pos, first, total, n;
    uint32_t              clen;
    unsigned              chunks;
    unsigned char        *buf;
    const unsigned char  *p, *s;

    p = run->in;
    pos = 8;
    first = 0;
    total = 0;
    chunks = 0;

    /* to the first IDAT, then over the run of IDAT chunks */

    while (run->len - pos >= 12) {
        clen = ngx_tunny_image_png_be32(p + pos);

        if (clen > 0x7fffffff || run->len - pos - 12 < clen) {
            return NGX_TUNNY_IMAGE_DECLINED;
        }

        if (memcmp(p + pos + 4, "IDAT", 4) != 0) {
            if (chunks || memcmp(p + pos + 4, "IEND", 4) == 0) {
                break;
            }

            pos += 12 + (size_t) clen;
            continue;
        }

        if (libdeflate_crc32(0, p + pos + 4, (size_t) clen + 4)
            != ngx_tunny_image_png_be32(p + pos + 8 + clen))
        {
            return NGX_TUNNY_IMAGE_DECLINED;
        }

        if (chunks++ == 0) {
            first = pos;
        }

        total += clen;
        pos += 12 + (size_t) clen;
    }

    if (total < 2) {
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    if (chunks == 1) {
        s = p + first + 8;

    } else {
        buf = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_ROW, total);
        if (buf == NULL) {
            return NGX_TUNNY_IMAGE_DECLINED;
        }

        for (pos = first, n = 0; n < total; pos += 12 + (size_t) clen) {
            clen = ngx_tunny_image_png_be32(p + pos);
            memcpy(buf + n, p + pos + 8, clen);
            n += clen;
        }

        s = buf;
    }

    /* deflate, a window of at most 32 KB, no preset dictionary */

    if ((s[0] & 0x0f) != 8
        || (s[0] >> 4) > 7
        || (s[1] & 0x20)
        || ((unsigned) s[0] << 8 | s[1]) % 31 != 0)
    {
        return NGX_TUNNY_IMAGE_DECLINED;
    }

    *z = s + 2;
    *zlen = total - 2;

    return NGX_TUNNY_IMAGE_OK;
}


static uint32_t
ngx_tunny_image_png_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}


/*
 * One scanline of len bytes, its filter type at row[-1] (checked: 0..4),
 * the row above at prev (zeros above the first); bpp the bytes of a
 * pixel: 1, 3 or 4.  The SSE2 kernels, when vector is set, take 3 and 4 bytes
 * a pixel (and Up any).
 */

static void
ngx_tunny_image_png_unfilter_row(unsigned char *row,
    const unsigned char *prev, size_t len, unsigned bpp, int vector)
{
    size_t  i;

    switch (row[-1]) {

    case NGX_TUNNY_IMAGE_PNG_SUB:
#if (defined __SSE2__)
        if (vector && bpp >= 3) {
            ngx_tunny_image_png_sub_sse2(row, len, bpp);
            break;
        }
#endif
        for (i = bpp; i < len; i++) {
            row[i] = (unsigned char) (row[i] + row[i - bpp]);
        }
        break;

    case NGX_TUNNY_IMAGE_PNG_UP:
#if (defined __SSE2__)
        if (vector) {
            ngx_tunny_image_png_up_sse2(row, prev, len);
            break;
        }
#endif
        for (i = 0; i < len; i++) {
            row[i] = (unsigned char) (row[i] + prev[i]);
        }
        break;

    case NGX_TUNNY_IMAGE_PNG_AVG:
#if (defined __SSE2__)
        if (vector && bpp >= 3) {
            ngx_tunny_image_png_avg_sse2(row, prev, len, bpp);
            break;
        }
#endif
        for (i = 0; i < bpp && i < len; i++) {
            row[i] = (unsigned char) (row[i] + (prev[i] >> 1));
        }

        for ( /* void */ ; i < len; i++) {
            row[i] = (unsigned char) (row[i]
                                      + ((row[i - bpp] + prev[i]) >> 1));
        }
        break;

    case NGX_TUNNY_IMAGE_PNG_PAETH:
#if (defined __SSE2__)
        if (vector && bpp >= 3) {
            ngx_tunny_image_png_paeth_sse2(row, prev, len, bpp);
            break;
        }
#endif
        for (i = 0; i < bpp && i < len; i++) {
            row[i] = (unsigned char) (row[i] + prev[i]);
        }

        for ( /* void */ ; i < len; i++) {
            row[i] = (unsigned char) (row[i]
                                      + ngx_tunny_image_png_paeth(
                                            row[i - bpp], prev[i],
                                            prev[i - bpp]));
        }
        break;

    default: /* NGX_TUNNY_IMAGE_PNG_NONE */
        break;
    }
}


/* the predictor of PNG's filter 4: a left, b above, c above left */

unsigned
ngx_tunny_image_png_paeth(unsigned a, unsigned b, unsigned c)
{
    int  pa, pb, pc;

    pa = (int) b - (int) c;
    pb = (int) a - (int) c;
    pc = pa + pb;

    pa = pa < 0 ? -pa : pa;
    pb = pb < 0 ? -pb : pb;
    pc = pc < 0 ? -pc : pc;

    if (pa <= pb && pa <= pc) {
        return a;
    }

    return pb <= pc ? b : c;
}


#if (defined __SSE2__)

/*
 * Sub, Avg and Paeth depend on the pixel to the left: these go one pixel
 * at a time with its channels side by side, widened to 16 bits for Avg
 * and Paeth.  A pixel is loaded as 4 bytes (for 3, the next pixel's first
 * byte, or a byte of NGX_TUNNY_IMAGE_PNG_SLACK, comes along unused) and
 * stored as bpp bytes, so that no byte of the next pixel is written
 * before it is read.
 */

static __m128i
ngx_tunny_image_png_load(const unsigned char *p)
{
    int32_t  v;

    memcpy(&v, p, 4);

    return _mm_cvtsi32_si128(v);
}


static void
ngx_tunny_image_png_store(unsigned char *p, __m128i x, unsigned bpp)
{
    uint32_t  v;

    v = (uint32_t) _mm_cvtsi128_si32(x);

    if (bpp == 4) {
        memcpy(p, &v, 4);

    } else {
        memcpy(p, &v, 2);
        p[2] = (unsigned char) (v >> 16);
    }
}


static void
ngx_tunny_image_png_up_sse2(unsigned char *row, const unsigned char *prev,
    size_t len)
{
    size_t   i;
    __m128i  r, p;

    for (i = 0; i + 16 <= len; i += 16) {
        r = _mm_loadu_si128((const __m128i *) (row + i));
        p = _mm_loadu_si128((const __m128i *) (prev + i));
        _mm_storeu_si128((__m128i *) (row + i), _mm_add_epi8(r, p));
    }

    for ( /* void */ ; i < len; i++) {
        row[i] = (unsigned char) (row[i] + prev[i]);
    }
}


static void
ngx_tunny_image_png_sub_sse2(unsigned char *row, size_t len, unsigned bpp)
{
    size_t   i;
    __m128i  a, x;

    a = _mm_setzero_si128();

    for (i = 0; i + bpp <= len; i += bpp) {
        x = ngx_tunny_image_png_load(row + i);
        a = _mm_add_epi8(a, x);
        ngx_tunny_image_png_store(row + i, a, bpp);
    }
}


static void
ngx_tunny_image_png_avg_sse2(unsigned char *row, const unsigned char *prev,
    size_t len, unsigned bpp)
{
    size_t   i;
    __m128i  zero, a, b, x;

    zero = _mm_setzero_si128();
    a = zero;

    for (i = 0; i + bpp <= len; i += bpp) {
        b = _mm_unpacklo_epi8(ngx_tunny_image_png_load(prev + i), zero);
        x = _mm_unpacklo_epi8(ngx_tunny_image_png_load(row + i), zero);

        /* (a + b) >> 1 in 16 bits, the sum with x wraps at 8 */

        a = _mm_add_epi16(x, _mm_srli_epi16(_mm_add_epi16(a, b), 1));
        a = _mm_and_si128(a, _mm_set1_epi16(0xff));

        ngx_tunny_image_png_store(row + i, _mm_packus_epi16(a, a), bpp);
    }
}


static __m128i
ngx_tunny_image_png_abs16(__m128i v)
{
    return _mm_max_epi16(v, _mm_sub_epi16(_mm_setzero_si128(), v));
}


static void
ngx_tunny_image_png_paeth_sse2(unsigned char *row,
    const unsigned char *prev, size_t len, unsigned bpp)
{
    size_t   i;
    __m128i  zero, a, b, c, x, pa, pb, pc, nota, notb, pred;

    zero = _mm_setzero_si128();
    a = zero;
    c = zero;

    for (i = 0; i + bpp <= len; i += bpp) {
        b = _mm_unpacklo_epi8(ngx_tunny_image_png_load(prev + i), zero);
        x = _mm_unpacklo_epi8(ngx_tunny_image_png_load(row + i), zero);

        /* as ngx_tunny_image_png_paeth(), on each channel */

        pa = _mm_sub_epi16(b, c);
        pb = _mm_sub_epi16(a, c);
        pc = ngx_tunny_image_png_abs16(_mm_add_epi16(pa, pb));
        pa = ngx_tunny_image_png_abs16(pa);
        pb = ngx_tunny_image_png_abs16(pb);

        nota = _mm_or_si128(_mm_cmpgt_epi16(pa, pb),
                            _mm_cmpgt_epi16(pa, pc));
        notb = _mm_cmpgt_epi16(pb, pc);

        pred = _mm_or_si128(_mm_and_si128(notb, c),
                            _mm_andnot_si128(notb, b));
        pred = _mm_or_si128(_mm_and_si128(nota, pred),
                            _mm_andnot_si128(nota, a));

        a = _mm_and_si128(_mm_add_epi16(x, pred), _mm_set1_epi16(0xff));
        c = b;

        ngx_tunny_image_png_store(row + i, _mm_packus_epi16(a, a), bpp);
    }
}

#endif
