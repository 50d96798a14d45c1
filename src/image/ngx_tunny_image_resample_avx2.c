
/*
 * ngx_tunny_module: the resampler's row kernels in AVX2, for the machines
 * that have it (a runtime test: the rest of the library is built for
 * plain x86-64), bit for bit the scalar kernels of
 * ngx_tunny_image_resample.c as the SSE2 ones are: the same integer
 * products and sums, the same rounding and clamping.
 *
 * They are the SSE2 kernels (ngx_tunny_image_resample_simd.c) on two
 * 128-bit lanes at once, every shuffle within a lane: the vertical pass
 * makes 32 columns a step (16 a lane), the horizontal one sums eight taps
 * a step (taps k..k+3 in the low lane, k+4..k+7 in the high one, added at
 * the end).  The weights' stride is a multiple of
 * NGX_TUNNY_IMAGE_TAP_ALIGN (8), zero past an output's count, so a group
 * of eight never reads another output's weights; its pixel reads end at
 * most 28 bytes past the window (RGBA), inside the intermediate image's
 * NGX_TUNNY_IMAGE_RESAMPLE_SLACK.  One channel keeps the SSE2 kernel (a
 * group of 16 would pass the weights' stride).
 *
 * Built with the target attribute where the compiler has it; the getters
 * give NULL elsewhere and on a CPU without AVX2.  Runs in the thread of
 * ngx_tunny_image_process().
 */


#include <string.h>

#include "ngx_tunny_image_int.h"
#include "ngx_tunny_image_resample.h"


#if (defined __x86_64__ && (defined __GNUC__ || defined __clang__))

#include <immintrin.h>


#define NGX_TUNNY_IMAGE_AVX2  __attribute__((target("avx2")))


/* the weights (a, b) as the 16-bit pair of every 32-bit lane */

NGX_TUNNY_IMAGE_AVX2
static __m256i
ngx_tunny_image_wpair_avx2(int16_t a, int16_t b)
{
    return _mm256_set1_epi32((int32_t) ((uint32_t) (uint16_t) a
                                        | ((uint32_t) (uint16_t) b << 16)));
}


/* sums in Q14 -> 16 bits, as ngx_tunny_image_clamp() before its clamp */

NGX_TUNNY_IMAGE_AVX2
static __m256i
ngx_tunny_image_descale_avx2(__m256i v)
{
    return _mm256_srai_epi32(_mm256_add_epi32(v,
                                 _mm256_set1_epi32(1
                                     << (NGX_TUNNY_IMAGE_FP - 1))),
                             NGX_TUNNY_IMAGE_FP);
}


/*
 * The vertical pass: 32 columns a step, two rows a tap step, the last
 * block overlapping the one before it (the same bytes again); a row
 * narrower than a block goes the scalar way
 */

NGX_TUNNY_IMAGE_AVX2
static void
ngx_tunny_image_vrow_avx2(const unsigned char *s, size_t sstride,
    const int16_t *w, int count, unsigned char *d, size_t n, int32_t *acc)
{
    int                   k;
    size_t                c;
    __m256i               z, wp, r0, r1, lo, hi, a0, a1, a2, a3;
    const unsigned char  *p;

    if (n < 32) {
        ngx_tunny_image_vrow_scalar(s, sstride, w, count, d, n, acc);
        return;
    }

    z = _mm256_setzero_si256();

    for (c = 0; /* void */ ; c += 32) {

        if (c + 32 > n) {
            c = n - 32;
        }

        p = s + c;
        a0 = a1 = a2 = a3 = z;

        for (k = 0; k < count; k += 2) {
            r0 = _mm256_loadu_si256((const __m256i *)
                                    (p + (size_t) k * sstride));

            if (k + 1 < count) {
                r1 = _mm256_loadu_si256((const __m256i *)
                                        (p + (size_t) (k + 1) * sstride));
                wp = ngx_tunny_image_wpair_avx2(w[k], w[k + 1]);

            } else {
                r1 = z;
                wp = ngx_tunny_image_wpair_avx2(w[k], 0);
            }

            lo = _mm256_unpacklo_epi8(r0, r1);
            hi = _mm256_unpackhi_epi8(r0, r1);

            a0 = _mm256_add_epi32(a0,
                     _mm256_madd_epi16(_mm256_unpacklo_epi8(lo, z), wp));
            a1 = _mm256_add_epi32(a1,
                     _mm256_madd_epi16(_mm256_unpackhi_epi8(lo, z), wp));
            a2 = _mm256_add_epi32(a2,
                     _mm256_madd_epi16(_mm256_unpacklo_epi8(hi, z), wp));
            a3 = _mm256_add_epi32(a3,
                     _mm256_madd_epi16(_mm256_unpackhi_epi8(hi, z), wp));
        }

        a0 = _mm256_packs_epi32(ngx_tunny_image_descale_avx2(a0),
                                ngx_tunny_image_descale_avx2(a1));
        a2 = _mm256_packs_epi32(ngx_tunny_image_descale_avx2(a2),
                                ngx_tunny_image_descale_avx2(a3));

        _mm256_storeu_si256((__m256i *) (d + c), _mm256_packus_epi16(a0, a2));

        if (c + 32 >= n) {
            break;
        }
    }
}


/* the eight weights of a group: w[0..3] in the low lane, w[4..7] high */

NGX_TUNNY_IMAGE_AVX2
static __m256i
ngx_tunny_image_wgroup_avx2(const int16_t *w)
{
    return _mm256_inserti128_si256(
               _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *) w)),
               _mm_loadl_epi64((const __m128i *) (w + 4)), 1);
}


/* the 16 bytes at p in the low lane, those at p + off in the high one */

NGX_TUNNY_IMAGE_AVX2
static __m256i
ngx_tunny_image_load2_avx2(const unsigned char *p, size_t off)
{
    return _mm256_inserti128_si256(
               _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *) p)),
               _mm_loadu_si128((const __m128i *) (p + off)), 1);
}


/*
 * a group's four taps a lane into the sums: a and b as in the SSE2
 * kernels (the channels of taps 0 and 1, then of 2 and 3, as 16-bit
 * pairs), wv from ngx_tunny_image_wgroup_avx2()
 */

NGX_TUNNY_IMAGE_AVX2
static __m256i
ngx_tunny_image_madd8_avx2(__m256i acc, __m256i a, __m256i b, __m256i wv)
{
    acc = _mm256_add_epi32(acc,
              _mm256_madd_epi16(a, _mm256_shuffle_epi32(wv, 0x00)));

    return _mm256_add_epi32(acc,
               _mm256_madd_epi16(b, _mm256_shuffle_epi32(wv, 0x55)));
}


/* the two lanes' sums of a pixel added -> its bytes, the first lowest */

NGX_TUNNY_IMAGE_AVX2
static uint32_t
ngx_tunny_image_pack_pixel_avx2(__m256i acc)
{
    __m128i  v, z;

    v = _mm_add_epi32(_mm256_castsi256_si128(acc),
                      _mm256_extracti128_si256(acc, 1));
    v = _mm_srai_epi32(_mm_add_epi32(v,
                           _mm_set1_epi32(1 << (NGX_TUNNY_IMAGE_FP - 1))),
                       NGX_TUNNY_IMAGE_FP);

    z = _mm_setzero_si128();
    v = _mm_packs_epi32(v, z);

    return (uint32_t) _mm_cvtsi128_si32(_mm_packus_epi16(v, z));
}


/* the horizontal pass, RGBA: each lane as hrow4_sse2's four taps */

NGX_TUNNY_IMAGE_AVX2
static void
ngx_tunny_image_hrow4_avx2(const unsigned char *s, unsigned char *t,
    unsigned dw, const ngx_tunny_image_taps_t *tx)
{
    int                   k, n;
    unsigned              x;
    uint32_t              v;
    __m256i               z, q, acc;
    const int16_t        *w;
    const unsigned char  *p;

    z = _mm256_setzero_si256();

    for (x = 0; x < dw; x++) {
        p = s + (size_t) tx->start[x] * 4;
        w = tx->weight + (size_t) x * tx->taps;
        n = tx->count[x];
        acc = z;

        for (k = 0; k < n; k += 8) {
            q = ngx_tunny_image_load2_avx2(p + (size_t) k * 4, 16);
            q = _mm256_shuffle_epi32(q, _MM_SHUFFLE(3, 1, 2, 0));
            q = _mm256_unpacklo_epi8(q, _mm256_unpackhi_epi64(q, q));

            acc = ngx_tunny_image_madd8_avx2(acc, _mm256_unpacklo_epi8(q, z),
                                             _mm256_unpackhi_epi8(q, z),
                                             ngx_tunny_image_wgroup_avx2(w
                                                                         + k));
        }

        v = ngx_tunny_image_pack_pixel_avx2(acc);

        memcpy(t, &v, 4);
        t += 4;
    }
}


/* the horizontal pass, RGB: each lane as hrow3_sse2's four taps */

NGX_TUNNY_IMAGE_AVX2
static void
ngx_tunny_image_hrow3_avx2(const unsigned char *s, unsigned char *t,
    unsigned dw, const ngx_tunny_image_taps_t *tx)
{
    int                   k, n;
    unsigned              x;
    uint32_t              v;
    __m256i               z, q, lo, hi, acc;
    const int16_t        *w;
    const unsigned char  *p;

    z = _mm256_setzero_si256();

    for (x = 0; x < dw; x++) {
        p = s + (size_t) tx->start[x] * 3;
        w = tx->weight + (size_t) x * tx->taps;
        n = tx->count[x];
        acc = z;

        for (k = 0; k < n; k += 8) {
            q = ngx_tunny_image_load2_avx2(p + (size_t) k * 3, 12);
            lo = _mm256_unpacklo_epi8(q, _mm256_srli_si256(q, 3));
            hi = _mm256_unpacklo_epi8(_mm256_srli_si256(q, 6),
                                      _mm256_srli_si256(q, 9));

            acc = ngx_tunny_image_madd8_avx2(acc,
                                             _mm256_unpacklo_epi8(lo, z),
                                             _mm256_unpacklo_epi8(hi, z),
                                             ngx_tunny_image_wgroup_avx2(w
                                                                         + k));
        }

        v = ngx_tunny_image_pack_pixel_avx2(acc);

        t[0] = (unsigned char) v;
        t[1] = (unsigned char) (v >> 8);
        t[2] = (unsigned char) (v >> 16);
        t += 3;
    }
}


static int
ngx_tunny_image_has_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}


ngx_tunny_image_hrow_pt
ngx_tunny_image_hrow_simd256(unsigned ch)
{
    if (!ngx_tunny_image_has_avx2()) {
        return NULL;
    }

    switch (ch) {
    case 3:
        return ngx_tunny_image_hrow3_avx2;
    case 4:
        return ngx_tunny_image_hrow4_avx2;
    default:
        return NULL;
    }
}


ngx_tunny_image_vrow_pt
ngx_tunny_image_vrow_simd256(void)
{
    return ngx_tunny_image_has_avx2() ? ngx_tunny_image_vrow_avx2 : NULL;
}


#else /* no AVX2 target */


ngx_tunny_image_hrow_pt
ngx_tunny_image_hrow_simd256(unsigned ch)
{
    (void) ch;

    return NULL;
}


ngx_tunny_image_vrow_pt
ngx_tunny_image_vrow_simd256(void)
{
    return NULL;
}


#endif
