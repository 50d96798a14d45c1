
/*
 * The quality bench's tool (t/bench/quality.sh): tunny's pixels through
 * the image library, before any encoder, and the metrics against a
 * reference, on luma (BT.601 Y on the 8-bit scale).
 *
 *   tunny-quality gen zoneplate|stripes W H OUT.pgm
 *       a synthetic test chart
 *   tunny-quality run fit|crop W H IN OUT.ppm
 *       the library's output for "resize W H" or "crop W H" as PPM; prints
 *       "width height rw rh cx cy bytes ms": the size, the resized size
 *       before the centre cut and its offset (to make the reference), then
 *       the size of the q80 JPEG ngx_tunny_image_process() makes of it and
 *       the CPU time that took (process CPU time: the machine is shared)
 *   tunny-quality cmp REF.ppm OUT.ppm
 *       prints "ssim psnr detail": SSIM-Y (Gaussian window, sigma 1.5),
 *       PSNR-Y in dB, and the detail kept: the energy of the Laplacian of
 *       OUT over that of REF rounded to 8 bits; REF may be 16-bit, as
 *       the bench makes it: its exact values, not truncated to 8 bits
 *       (ImageMagick's -depth 8 truncates: a bias of -0.5)
 *
 * Colour (lcms2; the profiles of t/tools/icc-make.h):
 *
 *   tunny-quality run OP W H IN OUT.ppm srgb|keep [late]
 *       as run, with tunny_image_colour srgb or keep; late: the colour
 *       step after the resampler instead of before it (for comparison);
 *       a ninth number: the CPU ms of the pixels alone (decode, colour,
 *       resize: no encoder), best of 3
 *   tunny-quality colourize adobe|prophoto|cmyk IN.jpg OUT.jpg
 *       an sRGB JPEG converted to Adobe RGB or ProPhoto (lcms2, floating
 *       point) and written at q95 with the profile; cmyk: the inversion
 *       with 50% grey replacement, written with the CMYK profile (which
 *       then says what those inks look like)
 *   tunny-quality tosrgb IN.jpg OUT.ppm
 *       the full-size decode through the embedded profile to sRGB with
 *       lcms2's floating-point transform, clipped: the reference viewed
 *       as sRGB
 *   tunny-quality de REF.ppm OUT.ppm
 *       prints "mean p95 max" of CIEDE2000 between the two (as sRGB)
 *   tunny-quality xfcost
 *       per profile: the CPU ms of cmsCreateTransform (8-bit, perceptual,
 *       as the library builds it) and ns per pixel of cmsDoTransform
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>
#include <lcms2.h>

#include "ngx_tunny_image_int.h"
#include "../../tools/icc-make.h"


typedef struct {
    unsigned   w, h;
    double    *y;
} luma_t;


static void
die(const char *msg)
{
    fprintf(stderr, "tunny-quality: %s\n", msg);
    exit(1);
}


static unsigned char *
slurp(const char *name, size_t *len)
{
    long            n;
    FILE           *f;
    unsigned char  *p;

    f = fopen(name, "rb");
    if (f == NULL) {
        die(name);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    p = malloc(n > 0 ? (size_t) n : 1);
    if (p == NULL || fread(p, 1, (size_t) n, f) != (size_t) n) {
        die("read");
    }

    fclose(f);
    *len = (size_t) n;

    return p;
}


static void
write_pnm(const char *name, const unsigned char *p, unsigned w, unsigned h,
    unsigned ch, size_t stride)
{
    FILE      *f;
    unsigned   y;

    f = fopen(name, "wb");
    if (f == NULL) {
        die(name);
    }

    fprintf(f, "P%c\n%u %u\n255\n", ch == 1 ? '5' : '6', w, h);

    for (y = 0; y < h; y++) {
        if (fwrite(p + y * stride, ch, w, f) != w) {
            die("write");
        }
    }

    fclose(f);
}


/*
 * P5 or P6, maxval 255 or 65535 (the reference: ImageMagick's 16-bit
 * output, not rounded to 8 bits), no comments: the samples as doubles on
 * the 8-bit scale, 0 .. 255
 */

static double *
read_pnm(const char *name, unsigned *w, unsigned *h, unsigned *ch)
{
    int             kind, off;
    size_t          len, i, n, bps;
    double         *v;
    unsigned        maxv;
    unsigned char  *p, *s;

    p = slurp(name, &len);

    if (sscanf((char *) p, "P%d %u %u %u%n", &kind, w, h, &maxv, &off) != 4
        || (kind != 5 && kind != 6) || (maxv != 255 && maxv != 65535))
    {
        die("not an 8- or 16-bit P5/P6 file");
    }

    *ch = (kind == 6) ? 3 : 1;
    bps = (maxv == 255) ? 1 : 2;
    s = p + off + 1;
    n = (size_t) *w * *h * *ch;

    if ((size_t) (s - p) + n * bps > len) {
        die("short PNM");
    }

    v = malloc(sizeof(double) * (n ? n : 1));
    if (v == NULL) {
        die("malloc");
    }

    for (i = 0; i < n; i++) {
        v[i] = (bps == 1) ? s[i]
                          : (s[2 * i] << 8 | s[2 * i + 1]) * 255.0 / 65535;
    }

    free(p);

    return v;
}


/* the luma of samples v (ch 1 or 3), in place */

static luma_t
luma_of(double *v, unsigned w, unsigned h, unsigned ch)
{
    size_t   i, n;
    luma_t   l;

    n = (size_t) w * h;

    for (i = 0; ch == 3 && i < n; i++) {
        v[i] = 0.299 * v[3 * i] + 0.587 * v[3 * i + 1] + 0.114 * v[3 * i + 2];
    }

    l.w = w;
    l.h = h;
    l.y = v;

    return l;
}


/* separable Gaussian blur, sigma 1.5, radius 5, edges clamped */

static void
blur(const double *s, double *d, double *tmp, unsigned w, unsigned h)
{
    int       k, x, y, xx, yy;
    double    g[11], sum, a;

    sum = 0;
    for (k = 0; k < 11; k++) {
        g[k] = exp(-(k - 5) * (k - 5) / (2 * 1.5 * 1.5));
        sum += g[k];
    }

    for (k = 0; k < 11; k++) {
        g[k] /= sum;
    }

    for (y = 0; y < (int) h; y++) {
        for (x = 0; x < (int) w; x++) {
            a = 0;
            for (k = 0; k < 11; k++) {
                xx = x + k - 5;
                xx = xx < 0 ? 0 : (xx >= (int) w ? (int) w - 1 : xx);
                a += g[k] * s[(size_t) y * w + xx];
            }
            tmp[(size_t) y * w + x] = a;
        }
    }

    for (y = 0; y < (int) h; y++) {
        for (x = 0; x < (int) w; x++) {
            a = 0;
            for (k = 0; k < 11; k++) {
                yy = y + k - 5;
                yy = yy < 0 ? 0 : (yy >= (int) h ? (int) h - 1 : yy);
                a += g[k] * tmp[(size_t) yy * w + x];
            }
            d[(size_t) y * w + x] = a;
        }
    }
}


static double
laplacian_energy(const luma_t *l)
{
    unsigned  x, y;
    double    e, v;
    const double  *p;

    e = 0;

    for (y = 1; y + 1 < l->h; y++) {
        for (x = 1; x + 1 < l->w; x++) {
            p = l->y + (size_t) y * l->w + x;
            v = 4 * p[0] - p[-1] - p[1] - p[-(long) l->w] - p[l->w];
            e += v * v;
        }
    }

    return e;
}


static int
cmd_cmp(const char *ref_name, const char *out_name)
{
    size_t    i, n;
    double   *buf, *mx, *my, *sxx, *syy, *sxy, *t, *tmp;
    double    c1, c2, ssim, mse, psnr, vx, vy, cxy, d, er;
    double   *v, *v8;
    size_t    k;
    luma_t    a, a8, b;
    unsigned  w, h, ch;

    /* the reference as it is and rounded to 8 bits (for the detail) */

    v = read_pnm(ref_name, &w, &h, &ch);
    k = (size_t) w * h * ch;

    v8 = malloc(sizeof(double) * (k ? k : 1));
    if (v8 == NULL) {
        die("malloc");
    }

    for (i = 0; i < k; i++) {
        v8[i] = (double) lrint(v[i]);
    }

    a = luma_of(v, w, h, ch);
    a8 = luma_of(v8, w, h, ch);

    v = read_pnm(out_name, &w, &h, &ch);
    b = luma_of(v, w, h, ch);

    if (a.w != b.w || a.h != b.h) {
        fprintf(stderr, "tunny-quality: %ux%u vs %ux%u\n", a.w, a.h, b.w,
                b.h);
        return 1;
    }

    n = (size_t) a.w * a.h;
    buf = malloc(sizeof(double) * n * 7);
    if (buf == NULL) {
        die("malloc");
    }

    mx = buf;
    my = mx + n;
    sxx = my + n;
    syy = sxx + n;
    sxy = syy + n;
    t = sxy + n;
    tmp = t + n;

    blur(a.y, mx, tmp, a.w, a.h);
    blur(b.y, my, tmp, a.w, a.h);

    for (i = 0; i < n; i++) {
        t[i] = a.y[i] * a.y[i];
    }
    blur(t, sxx, tmp, a.w, a.h);

    for (i = 0; i < n; i++) {
        t[i] = b.y[i] * b.y[i];
    }
    blur(t, syy, tmp, a.w, a.h);

    for (i = 0; i < n; i++) {
        t[i] = a.y[i] * b.y[i];
    }
    blur(t, sxy, tmp, a.w, a.h);

    c1 = (0.01 * 255) * (0.01 * 255);
    c2 = (0.03 * 255) * (0.03 * 255);
    ssim = 0;
    mse = 0;

    for (i = 0; i < n; i++) {
        vx = sxx[i] - mx[i] * mx[i];
        vy = syy[i] - my[i] * my[i];
        cxy = sxy[i] - mx[i] * my[i];

        ssim += (2 * mx[i] * my[i] + c1) * (2 * cxy + c2)
                / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));

        d = a.y[i] - b.y[i];
        mse += d * d;
    }

    ssim /= n;
    mse /= n;
    psnr = mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 99.0;
    /*
     * the detail of two 8-bit images: the reference rounded as the output
     * is, or the output's rounding noise would count as detail where the
     * reference is flat
     */
    er = laplacian_energy(&a8);

    printf("%.4f %.2f %.3f\n", ssim, psnr,
           er > 0 ? laplacian_energy(&b) / er : 1.0);

    free(buf);
    free(a.y);
    free(a8.y);
    free(b.y);

    return 0;
}


static int
cmd_gen(const char *what, unsigned w, unsigned h, const char *out)
{
    unsigned        x, y;
    double          r2, v, k;
    unsigned char  *p;

    p = malloc((size_t) w * h);
    if (p == NULL) {
        die("malloc");
    }

    /* zone plate: the local frequency grows to Nyquist at the corners */
    k = M_PI / (2.0 * ((double) w * w / 4 + (double) h * h / 4));

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            if (strcmp(what, "zoneplate") == 0) {
                r2 = (x - w / 2.0) * (x - w / 2.0)
                     + (y - h / 2.0) * (y - h / 2.0);
                v = 127.5 + 127 * cos(k * r2);

            } else {
                /* stripes of a 3-pixel period, left half, grey right */
                v = (x < w / 2) ? ((x % 3) == 0 ? 255 : 64) : 128;
            }

            p[(size_t) y * w + x] = (unsigned char) lrint(v);
        }
    }

    write_pnm(out, p, w, h, 1, w);
    free(p);

    return 0;
}


static double
cpu_ms(void)
{
    struct timespec  t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);

    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}


static int
cmd_run(const char *op, unsigned w, unsigned h, const char *in,
    const char *out, int colour, int late)
{
    int                        rc, i;
    size_t                     len, bytes;
    double                     t, pms;
    unsigned                   rw, rh, cx, cy, rw0, rh0;
    unsigned char             *data;
    struct timespec            t0, t1;
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_info_t     info;
    ngx_tunny_image_state_t   *st;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    data = slurp(in, &len);

    if (ngx_tunny_image_probe(data, len, &info) != NGX_TUNNY_IMAGE_OK) {
        die("probe");
    }

    memset(&p, 0, sizeof(ngx_tunny_image_params_t));
    p.ops = strcmp(op, "crop") == 0 ? NGX_TUNNY_IMAGE_OP_CROP
                                    : NGX_TUNNY_IMAGE_OP_RESIZE;
    p.width = w;
    p.height = h;
    p.jpeg_quality = 80;
    p.webp_quality = 80;
    p.colour = colour;

    st = ngx_tunny_image_state_create();
    if (st == NULL) {
        die("state");
    }

    /* the pixels first: the timed run finds the buffers allocated */

    rc = ngx_tunny_image_pixels_at(st, data, len, &p, &res, &pix, late);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        fprintf(stderr, "tunny-quality: %s: %s\n", in, res.error);
        return 1;
    }

    write_pnm(out, pix.data, pix.width, pix.height, pix.channels,
              pix.stride);
    rw0 = pix.width;
    rh0 = pix.height;

    /* the resized size of the reference: fit inside, or cover the box */

    rw = pix.width;
    rh = pix.height;
    cx = cy = 0;

    if (p.ops == NGX_TUNNY_IMAGE_OP_CROP) {
        if ((uint64_t) info.width * h < (uint64_t) w * info.height) {
            rw = w;
            rh = (unsigned) ((uint64_t) info.height * w / info.width);

        } else {
            rh = h;
            rw = (unsigned) ((uint64_t) info.width * h / info.height);
        }

        cx = (rw - pix.width) / 2;
        cy = (rh - pix.height) / 2;
    }

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    rc = ngx_tunny_image_process(st, data, len, NULL, &p, &res);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);

    if (rc != NGX_TUNNY_IMAGE_OK) {
        fprintf(stderr, "tunny-quality: %s: %s\n", in, res.error);
        return 1;
    }

    bytes = res.len;
    free(res.data);

    /* the pixels alone, with the colour step where asked: best of 3 */

    pms = 1e9;

    for (i = 0; i < 3; i++) {
        t = cpu_ms();
        rc = ngx_tunny_image_pixels_at(st, data, len, &p, &res, &pix, late);
        t = cpu_ms() - t;
        pms = (rc == NGX_TUNNY_IMAGE_OK && t < pms) ? t : pms;
    }

    printf("%u %u %u %u %u %u %zu %.2f %.2f\n", rw0, rh0, rw, rh,
           cx, cy, bytes, (t1.tv_sec - t0.tv_sec) * 1e3
               + (t1.tv_nsec - t0.tv_nsec) / 1e6, pms);

    ngx_tunny_image_state_destroy(st);
    free(data);

    return 0;
}



/* colour: a JPEG decoded at full size, its profile */

typedef struct {
    unsigned char  *pix;
    unsigned        w, h, ch;      /* 3 RGB, 4 CMYK as stored */
    int             inverted;
    unsigned char  *icc;
    unsigned        icc_len;
} jpeg_full_t;


static void
jpeg_full(const char *name, jpeg_full_t *j)
{
    size_t                         len;
    JSAMPROW                       row;
    unsigned char                 *in;
    struct jpeg_error_mgr          jerr;
    struct jpeg_decompress_struct  d;

    in = slurp(name, &len);

    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, in, (unsigned long) len);
    jpeg_save_markers(&d, JPEG_APP0 + 2, 0xffff);
    jpeg_read_header(&d, TRUE);

    j->icc = NULL;
    j->icc_len = 0;
    (void) jpeg_read_icc_profile(&d, &j->icc, &j->icc_len);

    if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
        d.out_color_space = JCS_CMYK;
        j->ch = 4;
    } else {
        d.out_color_space = JCS_RGB;
        j->ch = 3;
    }

    jpeg_start_decompress(&d);

    j->w = d.output_width;
    j->h = d.output_height;
    j->inverted = d.saw_Adobe_marker;
    j->pix = malloc((size_t) j->w * j->h * j->ch);
    if (j->pix == NULL) {
        die("malloc");
    }

    while (d.output_scanline < d.output_height) {
        row = j->pix + (size_t) d.output_scanline * j->w * j->ch;
        jpeg_read_scanlines(&d, &row, 1);
    }

    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(in);
}


static void
jpeg_write(const char *name, const unsigned char *pix, unsigned w,
    unsigned h, unsigned ch, const unsigned char *icc, size_t icc_len)
{
    FILE                         *f;
    JSAMPROW                      row;
    struct jpeg_error_mgr         jerr;
    struct jpeg_compress_struct   c;

    f = fopen(name, "wb");
    if (f == NULL) {
        die(name);
    }

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);

    c.image_width = w;
    c.image_height = h;
    c.input_components = (int) ch;
    c.in_color_space = ch == 4 ? JCS_CMYK : JCS_RGB;

    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    jpeg_write_icc_profile(&c, icc, (unsigned) icc_len);

    while (c.next_scanline < h) {
        row = (JSAMPROW) pix + (size_t) c.next_scanline * w * ch;
        jpeg_write_scanlines(&c, &row, 1);
    }

    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}


static int
cmd_colourize(const char *what, const char *in, const char *out)
{
    int             q;
    size_t          i, n, icc_len;
    double          v[3], k, c[3];
    jpeg_full_t     j;
    cmsHPROFILE     srgb, dst;
    cmsHTRANSFORM   xf;
    unsigned char  *icc, *pix;

    jpeg_full(in, &j);
    free(j.icc);

    if (j.ch != 3) {
        die("colourize: an RGB JPEG");
    }

    n = (size_t) j.w * j.h;

    if (strcmp(what, "cmyk") == 0) {
        /* the inversion with half the grey component as black; inverted
         * as libjpeg's Adobe marker says (255 = no ink) */
        icc = icc_save(icc_cmyk(NULL), &icc_len);
        pix = malloc(n * 4);
        if (icc == NULL || pix == NULL) {
            die("cmyk");
        }

        for (i = 0; i < n; i++) {
            c[0] = 1 - j.pix[i * 3] / 255.0;
            c[1] = 1 - j.pix[i * 3 + 1] / 255.0;
            c[2] = 1 - j.pix[i * 3 + 2] / 255.0;
            k = c[0] < c[1] ? c[0] : c[1];
            k = (k < c[2] ? k : c[2]) * 0.5;

            pix[i * 4] = (unsigned char) lrint(255 * (1 - (c[0] - k)));
            pix[i * 4 + 1] = (unsigned char) lrint(255 * (1 - (c[1] - k)));
            pix[i * 4 + 2] = (unsigned char) lrint(255 * (1 - (c[2] - k)));
            pix[i * 4 + 3] = (unsigned char) lrint(255 * (1 - k));
        }

        jpeg_write(out, pix, j.w, j.h, 4, icc, icc_len);
        free(pix);
        free(icc);
        free(j.pix);

        return 0;
    }

    dst = strcmp(what, "adobe") == 0 ? icc_adobe(NULL) : icc_prophoto(NULL);
    srgb = cmsCreate_sRGBProfile();
    xf = cmsCreateTransform(srgb, TYPE_RGB_DBL, dst, TYPE_RGB_DBL,
                            INTENT_PERCEPTUAL, cmsFLAGS_NOOPTIMIZE);
    if (xf == NULL) {
        die("transform");
    }

    for (i = 0; i < n; i++) {
        v[0] = j.pix[i * 3] / 255.0;
        v[1] = j.pix[i * 3 + 1] / 255.0;
        v[2] = j.pix[i * 3 + 2] / 255.0;
        cmsDoTransform(xf, v, c, 1);

        for (q = 0; q < 3; q++) {
            c[q] = c[q] < 0 ? 0 : c[q] > 1 ? 1 : c[q];
            j.pix[i * 3 + q] = (unsigned char) lrint(c[q] * 255);
        }
    }

    cmsDeleteTransform(xf);
    cmsCloseProfile(srgb);
    icc = icc_save(dst, &icc_len);

    jpeg_write(out, j.pix, j.w, j.h, 3, icc, icc_len);
    free(icc);
    free(j.pix);

    return 0;
}


static int
cmd_tosrgb(const char *in, const char *out)
{
    size_t           i, n, k;
    double           v[4], o[3];
    jpeg_full_t      j;
    cmsHPROFILE      src, srgb;
    cmsHTRANSFORM    xf;
    unsigned char   *rgb;

    jpeg_full(in, &j);

    src = j.icc ? cmsOpenProfileFromMem(j.icc, j.icc_len) : NULL;
    if (src == NULL) {
        die("tosrgb: no usable profile");
    }

    srgb = cmsCreate_sRGBProfile();
    xf = cmsCreateTransform(src, j.ch == 4 ? TYPE_CMYK_DBL : TYPE_RGB_DBL,
                            srgb, TYPE_RGB_DBL, INTENT_PERCEPTUAL,
                            cmsFLAGS_NOOPTIMIZE);
    if (xf == NULL) {
        die("tosrgb: transform");
    }

    n = (size_t) j.w * j.h;
    rgb = malloc(n * 3);
    if (rgb == NULL) {
        die("malloc");
    }

    for (i = 0; i < n; i++) {
        for (k = 0; k < j.ch; k++) {
            v[k] = j.pix[i * j.ch + k] / 255.0;
            if (j.ch == 4) {
                /* lcms2's CMYK doubles are % ink */
                v[k] = (j.inverted ? 1 - v[k] : v[k]) * 100;
            }
        }

        cmsDoTransform(xf, v, o, 1);

        for (k = 0; k < 3; k++) {
            o[k] = o[k] < 0 ? 0 : o[k] > 1 ? 1 : o[k];
            rgb[i * 3 + k] = (unsigned char) lrint(o[k] * 255);
        }
    }

    write_pnm(out, rgb, j.w, j.h, 3, (size_t) j.w * 3);

    cmsDeleteTransform(xf);
    cmsCloseProfile(src);
    cmsCloseProfile(srgb);
    free(rgb);
    free(j.pix);
    free(j.icc);

    return 0;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static int
cmd_de(const char *ref_name, const char *out_name)
{
    size_t          i, n;
    double          v[3], *de, sum;
    double         *a, *b;
    unsigned        w, h, w2, h2, ch, ch2;
    cmsCIELab       la, lb;
    cmsHPROFILE     srgb, lab;
    cmsHTRANSFORM   xf;

    a = read_pnm(ref_name, &w, &h, &ch);
    b = read_pnm(out_name, &w2, &h2, &ch2);

    if (ch != 3 || ch2 != 3) {
        die("not a P6 file");
    }

    if (w != w2 || h != h2) {
        fprintf(stderr, "tunny-quality: %ux%u vs %ux%u\n", w, h, w2, h2);
        return 1;
    }

    srgb = cmsCreate_sRGBProfile();
    lab = cmsCreateLab4Profile(NULL);
    xf = cmsCreateTransform(srgb, TYPE_RGB_DBL, lab, TYPE_Lab_DBL,
                            INTENT_RELATIVE_COLORIMETRIC, cmsFLAGS_NOOPTIMIZE);

    n = (size_t) w * h;
    de = malloc(n * sizeof(double));
    if (de == NULL || xf == NULL) {
        die("de");
    }

    sum = 0;

    for (i = 0; i < n; i++) {
        v[0] = a[i * 3] / 255.0;
        v[1] = a[i * 3 + 1] / 255.0;
        v[2] = a[i * 3 + 2] / 255.0;
        cmsDoTransform(xf, v, &la, 1);
        v[0] = b[i * 3] / 255.0;
        v[1] = b[i * 3 + 1] / 255.0;
        v[2] = b[i * 3 + 2] / 255.0;
        cmsDoTransform(xf, v, &lb, 1);
        de[i] = cmsCIE2000DeltaE(&la, &lb, 1, 1, 1);
        sum += de[i];
    }

    qsort(de, n, sizeof(double), cmp_double);

    printf("%.3f %.3f %.3f\n", sum / n, de[n * 95 / 100], de[n - 1]);

    cmsDeleteTransform(xf);
    cmsCloseProfile(srgb);
    cmsCloseProfile(lab);
    free(de);
    free(a);
    free(b);

    return 0;
}


static int
cmd_xfcost(void)
{
    int              i, k;
    double           t, best, ns;
    size_t           n;
    cmsHPROFILE      in, srgb;
    cmsHTRANSFORM    xf;
    unsigned char   *src, *dst;
    static const char  *names[3] = { "adobe", "prophoto", "cmyk" };

    n = 1 << 20;
    src = malloc(n * 4);
    dst = malloc(n * 3);
    if (src == NULL || dst == NULL) {
        die("malloc");
    }

    for (i = 0; i < (int) (n * 4); i++) {
        src[i] = (unsigned char) (i * 2654435761u >> 24);
    }

    srgb = cmsCreate_sRGBProfile();

    for (k = 0; k < 3; k++) {
        in = k == 0 ? icc_adobe(NULL) : k == 1 ? icc_prophoto(NULL)
                                               : icc_cmyk(NULL);
        best = 1e9;
        xf = NULL;

        for (i = 0; i < 10; i++) {
            if (xf) {
                cmsDeleteTransform(xf);
            }

            t = cpu_ms();
            xf = cmsCreateTransform(in, k == 2 ? TYPE_CMYK_8_REV : TYPE_RGB_8,
                                    srgb, TYPE_RGB_8, INTENT_PERCEPTUAL, 0);
            t = cpu_ms() - t;
            best = t < best ? t : best;
        }

        t = cpu_ms();
        cmsDoTransform(xf, src, dst, (cmsUInt32Number) n);
        ns = (cpu_ms() - t) * 1e6 / n;

        printf("%s %.3f %.2f\n", names[k], best, ns);

        cmsDeleteTransform(xf);
        cmsCloseProfile(in);
    }

    cmsCloseProfile(srgb);
    free(src);
    free(dst);

    return 0;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "cmp") == 0) {
        return cmd_cmp(argv[2], argv[3]);
    }

    if (argc == 6 && strcmp(argv[1], "gen") == 0) {
        return cmd_gen(argv[2], (unsigned) atoi(argv[3]),
                       (unsigned) atoi(argv[4]), argv[5]);
    }

    if (argc >= 7 && argc <= 9 && strcmp(argv[1], "run") == 0) {
        return cmd_run(argv[2], (unsigned) atoi(argv[3]),
                       (unsigned) atoi(argv[4]), argv[5], argv[6],
                       argc > 7 && strcmp(argv[7], "srgb") == 0
                       ? NGX_TUNNY_IMAGE_COLOUR_SRGB
                       : NGX_TUNNY_IMAGE_COLOUR_KEEP,
                       argc > 8 && strcmp(argv[8], "late") == 0);
    }

    if (argc == 5 && strcmp(argv[1], "colourize") == 0) {
        return cmd_colourize(argv[2], argv[3], argv[4]);
    }

    if (argc == 4 && strcmp(argv[1], "tosrgb") == 0) {
        return cmd_tosrgb(argv[2], argv[3]);
    }

    if (argc == 4 && strcmp(argv[1], "de") == 0) {
        return cmd_de(argv[2], argv[3]);
    }

    if (argc == 2 && strcmp(argv[1], "xfcost") == 0) {
        return cmd_xfcost();
    }

    fprintf(stderr, "usage: tunny-quality gen|run|cmp ... (see source)\n");

    return 2;
}
