
/*
 * ngx_tunny_module: the box shrink on load of a row decoder (PNG): the
 * shrink-on-load of the formats that have no DCT scale.  Each decoded row
 * is added into column sums as it comes; every k rows the sums of k x k
 * blocks become one row of the output, so that the full-size image is
 * never stored (a 9 MP RGBA PNG: 35 MB of pixels before, 58 KB of sums
 * and the shrunk image now) and the resampler has k * k times fewer
 * pixels to read.
 *
 * The output has ceil(w / k) x ceil(h / k) pixels and covers w / k x h / k
 * of them, as a DCT-scaled JPEG does: the last column and row average the
 * w mod k and h mod k pixels left (ngx_tunny_image_box_factor() in the
 * pipeline picks k and gives the resampler that extent).  RGBA is
 * averaged premultiplied (each colour weighted by its alpha) and written
 * straight, as a decoder writes it: transparent pixels do not darken
 * their neighbours, and the resampler premultiplies again as for any
 * other source.
 *
 * Runs in the thread of ngx_tunny_image_process(), within the decoder's
 * step: the sums live in BUF_TMP, the output in BUF_DEC.
 */


#include <string.h>

#include "ngx_tunny_image_int.h"

#if (defined __SSE2__)
#include <emmintrin.h>

static size_t ngx_tunny_image_shrink_add4_sse2(uint32_t *restrict acc,
    const unsigned char *restrict row, size_t n, int first);
#endif


int
ngx_tunny_image_shrink_init(ngx_tunny_image_run_t *run,
    ngx_tunny_image_shrink_t *s, unsigned k, unsigned width, unsigned height,
    unsigned channels)
{
    size_t  n;

    s->k = k;
    s->width = width;
    s->height = height;
    s->channels = channels;
    s->rows = 0;

    s->out.width = (width + k - 1) / k;
    s->out.height = (height + k - 1) / k;
    s->out.channels = channels;
    s->out.stride = (size_t) s->out.width * channels;
    s->out.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    n = (size_t) width * channels;

    s->out.data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                          s->out.stride * s->out.height);
    s->acc = (uint32_t *) ngx_tunny_image_buf_get(run->st,
                                                  NGX_TUNNY_IMAGE_BUF_TMP,
                                                  n * sizeof(uint32_t));

    if (s->out.data == NULL || s->acc == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory shrinking on load");
    }

    s->y = 0;

    return NGX_TUNNY_IMAGE_OK;
}


/*
 * Division by a block's pixel count (or, for premultiplied colour, by its
 * alpha sum) as a multiplication: m = ceil(2^48 / c), then (x * m) >> 48
 * is x / c exactly while x * c < 2^48; here x < 256 * c and c is at most
 * 255 * NGX_TUNNY_IMAGE_BOX_MAX^2 < 2^20, so x * c < 2^48, and x * m
 * < 2^56 fits.
 */

#define NGX_TUNNY_IMAGE_SHRINK_SHIFT  48

static uint64_t
ngx_tunny_image_shrink_recip(uint64_t c)
{
    return ((1ULL << NGX_TUNNY_IMAGE_SHRINK_SHIFT) + c - 1) / c;
}


/*
 * The blocks of the rows summed: one output row.  The body is written
 * once and instantiated per channel count (as the resampler's rows), so
 * that the loops over the channels have a constant count.
 */

#define NGX_TUNNY_IMAGE_SHRINK_EMIT(ch)                                       \
static void                                                                   \
ngx_tunny_image_shrink_emit##ch(ngx_tunny_image_shrink_t *s)                  \
{                                                                             \
    unsigned         j, i, c, n, cnt, last;                                   \
    uint32_t         sum[ch];                                                 \
    uint64_t         m[2], o[2], mc;                                          \
    unsigned char   *d;                                                       \
    const uint32_t  *p;                                                       \
                                                                              \
    d = s->out.data + (size_t) s->y * s->out.stride;                          \
    p = s->acc;                                                               \
                                                                              \
    /* every block has k * rows pixels but the last one of the row */         \
                                                                              \
    last = s->width - (s->out.width - 1) * s->k;                              \
    m[0] = ngx_tunny_image_shrink_recip((uint64_t) s->k * s->rows);           \
    m[1] = ngx_tunny_image_shrink_recip((uint64_t) last * s->rows);           \
    o[0] = ngx_tunny_image_shrink_recip((uint64_t) 255 * s->k * s->rows);     \
    o[1] = ngx_tunny_image_shrink_recip((uint64_t) 255 * last * s->rows);     \
                                                                              \
    for (j = 0; j < s->out.width; j++) {                                      \
        i = (j + 1 == s->out.width);                                          \
        n = i ? last : s->k;                                                  \
        cnt = n * s->rows;                                                    \
                                                                              \
        for (c = 0; c < ch; c++) {                                            \
            sum[c] = p[c];                                                    \
        }                                                                     \
                                                                              \
        for (p += ch; --n; p += ch) {                                         \
            for (c = 0; c < ch; c++) {                                        \
                sum[c] += p[c];                                               \
            }                                                                 \
        }                                                                     \
                                                                              \
        if (ch == 4) {                                                        \
            /* the alpha-weighted mean; opaque blocks are the rule */         \
            mc = (sum[ch - 1] == 255 * cnt) ? o[i]                            \
                 : sum[ch - 1] ? ngx_tunny_image_shrink_recip(sum[ch - 1])    \
                 : 0;                                                         \
                                                                              \
            for (c = 0; c < 3; c++) {                                         \
                d[c] = (unsigned char) (((sum[c] + sum[ch - 1] / 2) * mc)     \
                                        >> NGX_TUNNY_IMAGE_SHRINK_SHIFT);     \
            }                                                                 \
                                                                              \
            d[ch - 1] = (unsigned char) (((sum[ch - 1] + cnt / 2) * m[i])     \
                                         >> NGX_TUNNY_IMAGE_SHRINK_SHIFT);    \
                                                                              \
        } else {                                                              \
            for (c = 0; c < ch; c++) {                                        \
                d[c] = (unsigned char) (((sum[c] + cnt / 2) * m[i])           \
                                        >> NGX_TUNNY_IMAGE_SHRINK_SHIFT);     \
            }                                                                 \
        }                                                                     \
                                                                              \
        d += ch;                                                              \
    }                                                                         \
}

NGX_TUNNY_IMAGE_SHRINK_EMIT(1)
NGX_TUNNY_IMAGE_SHRINK_EMIT(3)
NGX_TUNNY_IMAGE_SHRINK_EMIT(4)


/*
 * A row into the sums, stored for the first row of a block (first 1),
 * added for the others: in blocks of 16 with a constant inner count and
 * restrict pointers, so that the compiler vectorizes them at -O2 (as the
 * resampler's vertical pass), the tail after them.
 */

static void
ngx_tunny_image_shrink_add(uint32_t *restrict acc,
    const unsigned char *restrict row, size_t n, int first)
{
    size_t  i, j;

    if (first) {
        for (i = 0; i + 16 <= n; i += 16) {
            for (j = 0; j < 16; j++) {
                acc[i + j] = row[i + j];
            }
        }

    } else {
        for (i = 0; i + 16 <= n; i += 16) {
            for (j = 0; j < 16; j++) {
                acc[i + j] += row[i + j];
            }
        }
    }

    for ( /* void */ ; i < n; i++) {
        acc[i] = (first ? 0 : acc[i]) + row[i];
    }
}


static void
ngx_tunny_image_shrink_add4(uint32_t *restrict acc,
    const unsigned char *restrict row, size_t n, int first)
{
    size_t    i;
    uint32_t  a;

    i = 0;

#if (defined __SSE2__)
    if (ngx_tunny_image_vector()) {
        i = ngx_tunny_image_shrink_add4_sse2(acc, row, n, first);
    }
#endif

    /* each colour times its alpha, and the alpha */

    for ( /* void */ ; i < n; i += 4) {
        a = row[i + 3];
        acc[i] = (first ? 0 : acc[i]) + row[i] * a;
        acc[i + 1] = (first ? 0 : acc[i + 1]) + row[i + 1] * a;
        acc[i + 2] = (first ? 0 : acc[i + 2]) + row[i + 2] * a;
        acc[i + 3] = (first ? 0 : acc[i + 3]) + a;
    }
}


#if (defined __SSE2__)

/*
 * The same, four pixels a step: the bytes widened to 16 bits, each
 * pixel's alpha spread over its lanes but its own (which gets 1), the
 * products (at most 255 * 255: exact in 16 bits) widened to 32 and
 * stored or added.  Returns the bytes done, a multiple of 16.
 */

static size_t
ngx_tunny_image_shrink_add4_sse2(uint32_t *restrict acc,
    const unsigned char *restrict row, size_t n, int first)
{
    int       j;
    size_t    i;
    __m128i   z, keep, one, q, h[2], m, p, v[4];

    z = _mm_setzero_si128();
    keep = _mm_set_epi16(0, -1, -1, -1, 0, -1, -1, -1);
    one = _mm_set_epi16(1, 0, 0, 0, 1, 0, 0, 0);

    for (i = 0; i + 16 <= n; i += 16) {
        q = _mm_loadu_si128((const __m128i *) (row + i));
        h[0] = _mm_unpacklo_epi8(q, z);
        h[1] = _mm_unpackhi_epi8(q, z);

        for (j = 0; j < 2; j++) {
            m = _mm_shufflelo_epi16(h[j], _MM_SHUFFLE(3, 3, 3, 3));
            m = _mm_shufflehi_epi16(m, _MM_SHUFFLE(3, 3, 3, 3));
            m = _mm_or_si128(_mm_and_si128(m, keep), one);
            p = _mm_mullo_epi16(h[j], m);

            v[2 * j] = _mm_unpacklo_epi16(p, z);
            v[2 * j + 1] = _mm_unpackhi_epi16(p, z);
        }

        for (j = 0; j < 4; j++) {
            if (!first) {
                v[j] = _mm_add_epi32(v[j], _mm_loadu_si128((const __m128i *)
                                                           (acc + i + 4 * j)));
            }

            _mm_storeu_si128((__m128i *) (acc + i + 4 * j), v[j]);
        }
    }

    return i;
}

#endif


/*
 * One decoded row, the rows in order: into the column sums (the first row
 * of a block stores, the others add), RGBA premultiplied (c * a, at most
 * 255 * 255 * k per sum: k is at most NGX_TUNNY_IMAGE_BOX_MAX, so that a
 * block's sum fits 32 bits).
 */

void
ngx_tunny_image_shrink_row(ngx_tunny_image_shrink_t *s,
    const unsigned char *row)
{
    size_t     n;

    n = (size_t) s->width * s->channels;

    if (s->channels == 4) {
        ngx_tunny_image_shrink_add4(s->acc, row, n, s->rows == 0);

    } else {
        ngx_tunny_image_shrink_add(s->acc, row, n, s->rows == 0);
    }

    if (++s->rows == s->k
        || s->y * s->k + s->rows == s->height)
    {
        switch (s->channels) {
        case 4:
            ngx_tunny_image_shrink_emit4(s);
            break;
        case 3:
            ngx_tunny_image_shrink_emit3(s);
            break;
        default:
            ngx_tunny_image_shrink_emit1(s);
            break;
        }

        s->rows = 0;
        s->y++;
    }
}
