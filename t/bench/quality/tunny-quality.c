
/*
 * The quality bench's tool (t/bench/quality.sh): tunny's pixels through
 * the image library, before any encoder, and the metrics against a
 * reference, on luma (BT.601 Y of 8-bit values).
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
 *       OUT over that of REF
 */


#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_tunny_image_int.h"


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


/* P5 or P6, maxval 255, no comments */

static luma_t
read_luma(const char *name)
{
    int             kind;
    size_t          len, i, n;
    luma_t          l;
    unsigned        maxv;
    unsigned char  *p, *s;
    int             off;

    p = slurp(name, &len);

    if (sscanf((char *) p, "P%d %u %u %u%n", &kind, &l.w, &l.h, &maxv,
               &off) != 4
        || (kind != 5 && kind != 6) || maxv != 255)
    {
        die("not an 8-bit P5/P6 file");
    }

    s = p + off + 1;
    n = (size_t) l.w * l.h;

    if ((size_t) (s - p) + n * (kind == 6 ? 3 : 1) > len) {
        die("short PNM");
    }

    l.y = malloc(sizeof(double) * n);
    if (l.y == NULL) {
        die("malloc");
    }

    for (i = 0; i < n; i++) {
        if (kind == 6) {
            l.y[i] = 0.299 * s[3 * i] + 0.587 * s[3 * i + 1]
                     + 0.114 * s[3 * i + 2];
        } else {
            l.y[i] = s[i];
        }
    }

    free(p);

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
    luma_t    a, b;

    a = read_luma(ref_name);
    b = read_luma(out_name);

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
    er = laplacian_energy(&a);

    printf("%.4f %.2f %.3f\n", ssim, psnr,
           er > 0 ? laplacian_energy(&b) / er : 1.0);

    free(buf);
    free(a.y);
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


static int
cmd_run(const char *op, unsigned w, unsigned h, const char *in,
    const char *out)
{
    int                        rc;
    size_t                     len, bytes;
    unsigned                   rw, rh, cx, cy;
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

    st = ngx_tunny_image_state_create();
    if (st == NULL) {
        die("state");
    }

    /* the pixels first: the timed run finds the buffers allocated */

    rc = ngx_tunny_image_pixels(st, data, len, &p, &res, &pix);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        fprintf(stderr, "tunny-quality: %s: %s\n", in, res.error);
        return 1;
    }

    write_pnm(out, pix.data, pix.width, pix.height, pix.channels,
              pix.stride);

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

    printf("%u %u %u %u %u %u %zu %.2f\n", pix.width, pix.height, rw, rh,
           cx, cy, bytes, (t1.tv_sec - t0.tv_sec) * 1e3
               + (t1.tv_nsec - t0.tv_nsec) / 1e6);

    ngx_tunny_image_state_destroy(st);
    free(data);

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

    if (argc == 7 && strcmp(argv[1], "run") == 0) {
        return cmd_run(argv[2], (unsigned) atoi(argv[3]),
                       (unsigned) atoi(argv[4]), argv[5], argv[6]);
    }

    fprintf(stderr, "usage: tunny-quality gen|run|cmp ... (see source)\n");

    return 2;
}
