
/*
 * ngx_tunny_module: what the resampler's driver (ngx_tunny_image_resample.c)
 * and its vector kernels (ngx_tunny_image_resample_simd.c and _avx2.c)
 * share: the taps of an axis and the row kernels.  A kernel computes
 * exactly what the scalar one does (integer sums, the same rounding and
 * clamping): the outputs are the same bytes whichever runs.
 */


#ifndef _NGX_TUNNY_IMAGE_RESAMPLE_H_INCLUDED_
#define _NGX_TUNNY_IMAGE_RESAMPLE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_TUNNY_IMAGE_FP          14      /* resampler weight bits */

/*
 * The horizontal weights of an output are stored in a stride that is a
 * multiple of this, zero past its count: a kernel may sum whole groups of
 * taps, reading up to NGX_TUNNY_IMAGE_TAP_ALIGN - 1 pixels past the
 * window of an output (the intermediate rows end in
 * NGX_TUNNY_IMAGE_RESAMPLE_SLACK zeroed bytes, so the reads stay in the
 * buffer and see defined bytes).
 */
#define NGX_TUNNY_IMAGE_TAP_ALIGN       8
#define NGX_TUNNY_IMAGE_RESAMPLE_SLACK  (NGX_TUNNY_IMAGE_TAP_ALIGN * 4)


/* one axis: the source window and weights of each output */
typedef struct {
    int                            *start;         /* first source index */
    int                            *count;         /* taps used */
    int16_t                        *weight;        /* taps per output */
    int                             taps;
} ngx_tunny_image_taps_t;


/* one output row of the horizontal pass: dw pixels from the row s */
typedef void (*ngx_tunny_image_hrow_pt)(const unsigned char *s,
    unsigned char *t, unsigned dw, const ngx_tunny_image_taps_t *tx);

/*
 * one output row of the vertical pass: n bytes, the sum over count rows
 * of s (one every sstride bytes) with weights w
 */
typedef void (*ngx_tunny_image_vrow_pt)(const unsigned char *s,
    size_t sstride, const int16_t *w, int count, unsigned char *d,
    size_t n, int32_t *acc);


/* sums in Q14 -> a byte, rounded to nearest, clamped */

static inline unsigned char
ngx_tunny_image_clamp(int32_t v)
{
    v = (v + (1 << (NGX_TUNNY_IMAGE_FP - 1))) >> NGX_TUNNY_IMAGE_FP;

    return (unsigned char) (v < 0 ? 0 : (v > 255 ? 255 : v));
}


/* the vertical pass of any machine; acc: n sums of scratch */
void ngx_tunny_image_vrow_scalar(const unsigned char *s, size_t sstride,
    const int16_t *w, int count, unsigned char *d, size_t n, int32_t *acc);

/*
 * the vector kernels for ch channels (1, 3 or 4), NULL where the machine
 * or the build has none: SSE2 (ngx_tunny_image_resample_simd.c), AVX2
 * (ngx_tunny_image_resample_avx2.c, a runtime test)
 */
ngx_tunny_image_hrow_pt ngx_tunny_image_hrow_simd(unsigned ch);
ngx_tunny_image_vrow_pt ngx_tunny_image_vrow_simd(void);
ngx_tunny_image_hrow_pt ngx_tunny_image_hrow_simd256(unsigned ch);
ngx_tunny_image_vrow_pt ngx_tunny_image_vrow_simd256(void);


#endif /* _NGX_TUNNY_IMAGE_RESAMPLE_H_INCLUDED_ */
