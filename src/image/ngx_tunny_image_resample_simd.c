
/*
 * ngx_tunny_module: the resampler's row kernels in SSE2 (every x86-64 CPU
 * has it: no runtime test needed), bit for bit the scalar kernels of
 * ngx_tunny_image_resample.c: the same integer products and sums (their
 * order does not change an integer sum), the same rounding and clamping.
 *
 * The one trick, in both passes: _mm_madd_epi16 multiplies eight 16-bit
 * lanes by eight weights and adds adjacent pairs, so the bytes are first
 * interleaved so that each pair holds one channel of two taps (two rows,
 * or two pixels of a row) and the weights as the matching pairs
 * (w[k], w[k + 1]): one instruction sums two taps of four channels.
 *
 * Other machines get NULL from the two getters and the driver keeps its
 * scalar kernels.  Runs in the thread of ngx_tunny_image_process().
 */


#include <string.h>

#include "ngx_tunny_image_int.h"
#include "ngx_tunny_image_resample.h"


#if (defined __SSE2__)

#include <emmintrin.h>


/* the weights (a, b) as the 16-bit pair of every 32-bit lane */

static __m128i
ngx_tunny_image_wpair(int16_t a, int16_t b)
{
    return _mm_set1_epi32((int32_t) ((uint32_t) (uint16_t) a
                                     | ((uint32_t) (uint16_t) b << 16)));
}


/* sums in Q14 -> bytes, as ngx_tunny_image_clamp() on each lane */

static __m128i
ngx_tunny_image_descale(__m128i v)
{
    return _mm_srai_epi32(_mm_add_epi32(v,
                              _mm_set1_epi32(1 << (NGX_TUNNY_IMAGE_FP - 1))),
                          NGX_TUNNY_IMAGE_FP);
}


/*
 * Four taps of a horizontal output into its sums: a holds the channels of
 * taps 0 and 1 as 16-bit pairs (r0 r1 g0 g1 b0 b1 ..), b those of taps 2
 * and 3, w the four weights
 */

static __m128i
ngx_tunny_image_madd4(__m128i acc, __m128i a, __m128i b, const int16_t *w)
{
    __m128i  wv;

    wv = _mm_loadl_epi64((const __m128i *) w);

    acc = _mm_add_epi32(acc, _mm_madd_epi16(a, _mm_shuffle_epi32(wv, 0x00)));

    return _mm_add_epi32(acc, _mm_madd_epi16(b, _mm_shuffle_epi32(wv, 0x55)));
}


/* the four sums of a pixel -> its bytes, the first in the lowest */

static uint32_t
ngx_tunny_image_pack_pixel(__m128i acc)
{
    __m128i  z;

    z = _mm_setzero_si128();
    acc = _mm_packs_epi32(ngx_tunny_image_descale(acc), z);

    return (uint32_t) _mm_cvtsi128_si32(_mm_packus_epi16(acc, z));
}


/*
 * The vertical pass: 16 columns at a time, their sums in four registers
 * over all taps, two rows a step; the last block overlaps the one before
 * it (recomputing a few columns gives the same bytes), a row narrower
 * than a block goes the scalar way.
 */

static void
ngx_tunny_image_vrow_sse2(const unsigned char *s, size_t sstride,
    const int16_t *w, int count, unsigned char *d, size_t n, int32_t *acc)
{
    int                   k;
    size_t                c;
    __m128i               z, wp, r0, r1, lo, hi, a0, a1, a2, a3;
    const unsigned char  *p;

    if (n < 16) {
        ngx_tunny_image_vrow_scalar(s, sstride, w, count, d, n, acc);
        return;
    }

    z = _mm_setzero_si128();

    for (c = 0; /* void */ ; c += 16) {

        if (c + 16 > n) {
            c = n - 16;
        }

        p = s + c;
        a0 = a1 = a2 = a3 = z;

        for (k = 0; k < count; k += 2) {
            r0 = _mm_loadu_si128((const __m128i *) (p + (size_t) k * sstride));

            if (k + 1 < count) {
                r1 = _mm_loadu_si128((const __m128i *)
                                     (p + (size_t) (k + 1) * sstride));
                wp = ngx_tunny_image_wpair(w[k], w[k + 1]);

            } else {
                r1 = z;
                wp = ngx_tunny_image_wpair(w[k], 0);
            }

            lo = _mm_unpacklo_epi8(r0, r1);
            hi = _mm_unpackhi_epi8(r0, r1);

            a0 = _mm_add_epi32(a0,
                               _mm_madd_epi16(_mm_unpacklo_epi8(lo, z), wp));
            a1 = _mm_add_epi32(a1,
                               _mm_madd_epi16(_mm_unpackhi_epi8(lo, z), wp));
            a2 = _mm_add_epi32(a2,
                               _mm_madd_epi16(_mm_unpacklo_epi8(hi, z), wp));
            a3 = _mm_add_epi32(a3,
                               _mm_madd_epi16(_mm_unpackhi_epi8(hi, z), wp));
        }

        a0 = _mm_packs_epi32(ngx_tunny_image_descale(a0),
                             ngx_tunny_image_descale(a1));
        a2 = _mm_packs_epi32(ngx_tunny_image_descale(a2),
                             ngx_tunny_image_descale(a3));

        _mm_storeu_si128((__m128i *) (d + c), _mm_packus_epi16(a0, a2));

        if (c + 16 >= n) {
            break;
        }
    }
}


/*
 * The horizontal pass, RGBA: four taps a step, one 16-byte load of four
 * pixels p0 p1 p2 p3 reordered to p0 p2 p1 p3, then the bytes of p0 and
 * p1, p2 and p3 interleaved: r0 r1 g0 g1 b0 b1 a0 a1 r2 r3 ...
 */

static void
ngx_tunny_image_hrow4_sse2(const unsigned char *s, unsigned char *t,
    unsigned dw, const ngx_tunny_image_taps_t *tx)
{
    int                   k, n;
    unsigned              x;
    uint32_t              v;
    __m128i               z, q, acc;
    const int16_t        *w;
    const unsigned char  *p;

    z = _mm_setzero_si128();

    for (x = 0; x < dw; x++) {
        p = s + (size_t) tx->start[x] * 4;
        w = tx->weight + (size_t) x * tx->taps;
        n = tx->count[x];
        acc = z;

        for (k = 0; k < n; k += 4) {
            q = _mm_loadu_si128((const __m128i *) (p + (size_t) k * 4));
            q = _mm_shuffle_epi32(q, _MM_SHUFFLE(3, 1, 2, 0));
            q = _mm_unpacklo_epi8(q, _mm_unpackhi_epi64(q, q));

            acc = ngx_tunny_image_madd4(acc, _mm_unpacklo_epi8(q, z),
                                        _mm_unpackhi_epi8(q, z), w + k);
        }

        v = ngx_tunny_image_pack_pixel(acc);

        memcpy(t, &v, 4);
        t += 4;
    }
}


/*
 * The horizontal pass, RGB: four taps a step, one 16-byte load of four
 * pixels (and four bytes more), its bytes shifted by 3, 6 and 9 and
 * interleaved: r0 r1 g0 g1 b0 b1 then r2 r3 g2 g3 b2 b3, each followed by
 * a pair of bytes in the lane that is not stored
 */

static void
ngx_tunny_image_hrow3_sse2(const unsigned char *s, unsigned char *t,
    unsigned dw, const ngx_tunny_image_taps_t *tx)
{
    int                   k, n;
    unsigned              x;
    uint32_t              v;
    __m128i               z, q, lo, hi, acc;
    const int16_t        *w;
    const unsigned char  *p;

    z = _mm_setzero_si128();

    for (x = 0; x < dw; x++) {
        p = s + (size_t) tx->start[x] * 3;
        w = tx->weight + (size_t) x * tx->taps;
        n = tx->count[x];
        acc = z;

        for (k = 0; k < n; k += 4) {
            q = _mm_loadu_si128((const __m128i *) (p + (size_t) k * 3));
            lo = _mm_unpacklo_epi8(q, _mm_srli_si128(q, 3));
            hi = _mm_unpacklo_epi8(_mm_srli_si128(q, 6), _mm_srli_si128(q, 9));

            acc = ngx_tunny_image_madd4(acc, _mm_unpacklo_epi8(lo, z),
                                        _mm_unpacklo_epi8(hi, z), w + k);
        }

        v = ngx_tunny_image_pack_pixel(acc);

        t[0] = (unsigned char) v;
        t[1] = (unsigned char) (v >> 8);
        t[2] = (unsigned char) (v >> 16);
        t += 3;
    }
}


/* the horizontal pass, one channel: eight taps a step, summed across */

static void
ngx_tunny_image_hrow1_sse2(const unsigned char *s, unsigned char *t,
    unsigned dw, const ngx_tunny_image_taps_t *tx)
{
    int                   k, n;
    unsigned              x;
    __m128i               z, q, acc;
    const int16_t        *w;
    const unsigned char  *p;

    z = _mm_setzero_si128();

    for (x = 0; x < dw; x++) {
        p = s + tx->start[x];
        w = tx->weight + (size_t) x * tx->taps;
        n = tx->count[x];
        acc = z;

        for (k = 0; k < n; k += 8) {
            q = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *) (p + k)),
                                  z);
            acc = _mm_add_epi32(acc,
                      _mm_madd_epi16(q, _mm_loadu_si128((const __m128i *)
                                                        (w + k))));
        }

        acc = _mm_add_epi32(acc, _mm_srli_si128(acc, 8));
        acc = _mm_add_epi32(acc, _mm_srli_si128(acc, 4));

        t[x] = ngx_tunny_image_clamp(_mm_cvtsi128_si32(acc));
    }
}


ngx_tunny_image_hrow_pt
ngx_tunny_image_hrow_simd(unsigned ch)
{
    switch (ch) {
    case 1:
        return ngx_tunny_image_hrow1_sse2;
    case 3:
        return ngx_tunny_image_hrow3_sse2;
    case 4:
        return ngx_tunny_image_hrow4_sse2;
    default:
        return NULL;
    }
}


ngx_tunny_image_vrow_pt
ngx_tunny_image_vrow_simd(void)
{
    return ngx_tunny_image_vrow_sse2;
}


#else /* no SSE2 */


ngx_tunny_image_hrow_pt
ngx_tunny_image_hrow_simd(unsigned ch)
{
    (void) ch;

    return NULL;
}


ngx_tunny_image_vrow_pt
ngx_tunny_image_vrow_simd(void)
{
    return NULL;
}


#endif
