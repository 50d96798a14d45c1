
/*
 * Unit tests of colour management (src/image/ngx_tunny_image_colour.c)
 * and of the background of JPEG output, included by test_image.c (its
 * ok(), diag(), load(), params_init() and decode()).
 *
 * The charts of t/tools/gen-fixtures (6 x 4 flat patches of 64 px, in an
 * Adobe RGB JPEG, a ProPhoto PNG, a CMYK JPEG with a CMYK profile and a
 * gamma-1.8 grey JPEG) are resized to half size through the library; each
 * patch's centre is compared, as Lab of the sRGB pixel, with lcms2's own
 * floating-point transform of the patch's source value to sRGB (clipped
 * to the sRGB gamut: the reference viewed as sRGB), by CIEDE2000.
 */


#include <lcms2.h>

#include "../tools/icc-make.h"


#define COLOUR_MAX_DE  1.5


typedef struct {
    cmsContext      ctx;
    cmsHPROFILE     srgb;
    cmsHPROFILE     lab;
    cmsHTRANSFORM   to_lab;         /* sRGB doubles to Lab */
} colour_ref_t;


static void
colour_ref_init(colour_ref_t *r)
{
    r->ctx = cmsCreateContext(NULL, NULL);
    r->srgb = cmsCreate_sRGBProfileTHR(r->ctx);
    r->lab = cmsCreateLab4ProfileTHR(r->ctx, NULL);
    r->to_lab = cmsCreateTransformTHR(r->ctx, r->srgb, TYPE_RGB_DBL, r->lab,
                                      TYPE_Lab_DBL, INTENT_RELATIVE_COLORIMETRIC,
                                      cmsFLAGS_NOOPTIMIZE);
}


static void
colour_ref_free(colour_ref_t *r)
{
    cmsDeleteTransform(r->to_lab);
    cmsCloseProfile(r->srgb);
    cmsCloseProfile(r->lab);
    cmsDeleteContext(r->ctx);
}


static void
colour_lab8(colour_ref_t *r, const unsigned char *p, cmsCIELab *lab)
{
    double  v[3];

    v[0] = p[0] / 255.0;
    v[1] = p[1] / 255.0;
    v[2] = p[2] / 255.0;

    cmsDoTransform(r->to_lab, v, lab, 1);
}


/*
 * The reference of each patch: the profile's float transform to sRGB,
 * clipped, as Lab.  kind: 'r' RGB patches, 'c' CMYK, 'g' grey (the G of
 * the RGB patches).
 */

static int
colour_refs(colour_ref_t *r, const char *icc_name, int kind,
    cmsCIELab lab[24], unsigned char rgb8[24][3])
{
    int             i, k;
    double          in[4], out[3];
    blob_t          icc;
    cmsHPROFILE     prof;
    cmsHTRANSFORM   xf;

    icc = load(icc_name);
    prof = cmsOpenProfileFromMemTHR(r->ctx, icc.data,
                                    (cmsUInt32Number) icc.len);
    free(icc.data);

    if (prof == NULL) {
        return -1;
    }

    xf = cmsCreateTransformTHR(r->ctx, prof,
                               kind == 'c' ? TYPE_CMYK_DBL
                               : kind == 'g' ? TYPE_GRAY_DBL : TYPE_RGB_DBL,
                               r->srgb, TYPE_RGB_DBL, INTENT_PERCEPTUAL,
                               cmsFLAGS_NOOPTIMIZE);
    cmsCloseProfile(prof);

    if (xf == NULL) {
        return -1;
    }

    for (i = 0; i < 24; i++) {
        if (kind == 'c') {
            /* lcms2's floating-point CMYK is 0..100 % ink */
            for (k = 0; k < 4; k++) {
                in[k] = icc_cmyk_patches[i][k] * 100.0 / 255;
            }

        } else if (kind == 'g') {
            /* lcms2's floating-point grey is 0..1, as RGB */
            in[0] = icc_patches[i][1] / 255.0;

        } else {
            for (k = 0; k < 3; k++) {
                in[k] = icc_patches[i][k] / 255.0;
            }
        }

        cmsDoTransform(xf, in, out, 1);

        for (k = 0; k < 3; k++) {
            out[k] = out[k] < 0 ? 0 : (out[k] > 1 ? 1 : out[k]);
            rgb8[i][k] = (unsigned char) lrint(out[k] * 255);
        }

        cmsDoTransform(r->to_lab, out, &lab[i], 1);
    }

    cmsDeleteTransform(xf);

    return 0;
}


/* the pixel at the centre of patch i of a half-size chart */

static const unsigned char *
colour_patch(const ngx_tunny_image_pix_t *pix, int i, unsigned char rgb[3])
{
    unsigned              x, y;
    const unsigned char  *p;

    x = (i % ICC_PATCH_COLS) * ICC_PATCH / 2 + ICC_PATCH / 4;
    y = (i / ICC_PATCH_COLS) * ICC_PATCH / 2 + ICC_PATCH / 4;

    p = pix->data + y * pix->stride + x * pix->channels;

    if (pix->channels == 1) {
        rgb[0] = rgb[1] = rgb[2] = p[0];

    } else {
        memcpy(rgb, p, 3);
    }

    return rgb;
}


/* the largest ΔE00 of the chart's patches against refs; -1: no pixels */

static double
colour_chart_de(ngx_tunny_image_state_t *st, colour_ref_t *r,
    const char *name, int colour, int late, const cmsCIELab refs[24],
    int *worst)
{
    int                        i, rc;
    double                     de, max;
    blob_t                     b;
    cmsCIELab                  lab;
    unsigned char              rgb[3];
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    b = load(name);

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE,
                ICC_PATCH * ICC_PATCH_COLS / 2,
                ICC_PATCH * ICC_PATCH_ROWS / 2, 0);
    p.colour = colour;

    rc = ngx_tunny_image_pixels_at(st, b.data, b.len, &p, &res, &pix, late);
    free(b.data);

    if (rc != NGX_TUNNY_IMAGE_OK
        || pix.width != ICC_PATCH * ICC_PATCH_COLS / 2)
    {
        diag("%s: rc %d \"%s\"", name, rc, res.error);
        return -1;
    }

    max = 0;
    *worst = 0;

    for (i = 0; i < 24; i++) {
        colour_lab8(r, colour_patch(&pix, i, rgb), &lab);
        de = cmsCIE2000DeltaE(&lab, &refs[i], 1, 1, 1);

        if (de > max) {
            max = de;
            *worst = i;
        }
    }

    return max;
}


/* the largest difference of a chart's patch centres from the values */

static int
colour_chart_raw(ngx_tunny_image_state_t *st, const char *name, int colour,
    int *icc_out)
{
    int                        i, k, d, max, rc;
    blob_t                     b;
    decoded_t                  dec;
    unsigned char              rgb[3];
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    b = load(name);

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE,
                ICC_PATCH * ICC_PATCH_COLS / 2,
                ICC_PATCH * ICC_PATCH_ROWS / 2, 0);
    p.colour = colour;

    rc = ngx_tunny_image_pixels(st, b.data, b.len, &p, &res, &pix);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        free(b.data);
        return 999;
    }

    max = 0;

    for (i = 0; i < 24; i++) {
        colour_patch(&pix, i, rgb);

        for (k = 0; k < 3; k++) {
            d = abs((int) rgb[k] - (int) icc_patches[i][k]);
            max = d > max ? d : max;
        }
    }

    /* the encoded output: does it carry a profile? */

    p.out_type = NGX_TUNNY_IMAGE_JPEG;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    *icc_out = -1;

    if (rc == NGX_TUNNY_IMAGE_OK && decode(&res, &dec) == 0) {
        *icc_out = (int) dec.icc_len;
        decoded_free(&dec);
    }

    free(res.data);
    free(b.data);

    return max;
}


static void
test_colour_charts(ngx_tunny_image_state_t *st)
{
    int           worst, i, icc, d, rc;
    double        de, de_late, naive;
    blob_t        adobe;
    cmsCIELab     refs[24], lab;
    colour_ref_t  r;
    unsigned char rgb[3], ref8[24][3];
    static const struct {
        const char  *chart, *icc, *what;
        int          kind;
    }  charts[] = {
        { "patches-adobe.jpg", "adobe.icc", "Adobe RGB JPEG", 'r' },
        { "patches-prophoto.png", "prophoto.icc", "ProPhoto PNG", 'r' },
        { "patches-cmyk.jpg", "cmyk.icc", "CMYK JPEG, CMYK profile", 'c' },
        { "patches-gray18.jpg", "gray18.icc", "grey JPEG, gamma 1.8", 'g' },
    };

    colour_ref_init(&r);

    for (i = 0; i < 4; i++) {
        if (colour_refs(&r, charts[i].icc, charts[i].kind, refs, ref8) != 0)
        {
            ok(0, "%s: lcms2 reference", charts[i].icc);
            continue;
        }

        /* the values t/119-image-colour.t expects */
        diag("%s reference sRGB: 1 %u,%u,%u 6 %u,%u,%u 7 %u,%u,%u "
             "8 %u,%u,%u 17 %u,%u,%u 18 %u,%u,%u", charts[i].icc,
             ref8[1][0], ref8[1][1], ref8[1][2], ref8[6][0], ref8[6][1],
             ref8[6][2], ref8[7][0], ref8[7][1], ref8[7][2], ref8[8][0],
             ref8[8][1], ref8[8][2], ref8[17][0], ref8[17][1], ref8[17][2],
             ref8[18][0], ref8[18][1], ref8[18][2]);

        de = colour_chart_de(st, &r, charts[i].chart,
                             NGX_TUNNY_IMAGE_COLOUR_SRGB, 0, refs, &worst);
        ok(de >= 0 && de <= COLOUR_MAX_DE,
           "srgb: %s to sRGB, worst patch %d: dE00 %.2f <= %.1f",
           charts[i].what, worst, de, COLOUR_MAX_DE);

        de_late = colour_chart_de(st, &r, charts[i].chart,
                                  NGX_TUNNY_IMAGE_COLOUR_SRGB, 1, refs,
                                  &worst);
        ok(de_late >= 0 && de_late <= COLOUR_MAX_DE,
           "srgb after the resampler (the bench's comparison): %s, worst "
           "dE00 %.2f", charts[i].what, de_late);

        if (charts[i].kind == 'c') {
            /* whatever the mode: CMYK pixels must become RGB */
            de = colour_chart_de(st, &r, charts[i].chart,
                                 NGX_TUNNY_IMAGE_COLOUR_KEEP, 0, refs,
                                 &worst);
            ok(de >= 0 && de <= COLOUR_MAX_DE,
               "keep: CMYK still through its profile, worst dE00 %.2f", de);

            /* and the profile made a difference: the inversion is far */
            naive = 0;
            for (d = 0; d < 24; d++) {
                rgb[0] = (unsigned char) (255 - icc_cmyk_patches[d][0]);
                rgb[1] = (unsigned char) (255 - icc_cmyk_patches[d][1]);
                rgb[2] = (unsigned char) (255 - icc_cmyk_patches[d][2]);
                colour_lab8(&r, rgb, &lab);
                if (icc_cmyk_patches[d][3] == 0) {
                    de = cmsCIE2000DeltaE(&lab, &refs[d], 1, 1, 1);
                    naive = de > naive ? de : naive;
                }
            }
            ok(naive > 5, "CMYK: the plain inversion is %.1f dE00 away "
               "(the test tells the profile from it)", naive);
        }
    }

    /* keep, strip, no profile: pixels untouched; the profile as said */

    adobe = load("adobe.icc");

    d = colour_chart_raw(st, "patches-adobe.jpg",
                         NGX_TUNNY_IMAGE_COLOUR_KEEP, &icc);
    ok(d <= 3 && icc == (int) adobe.len,
       "keep: pixels untouched (max diff %d), profile kept (%d of %zu "
       "bytes)", d, icc, adobe.len);

    d = colour_chart_raw(st, "patches-adobe.jpg",
                         NGX_TUNNY_IMAGE_COLOUR_STRIP, &icc);
    ok(d <= 3 && icc == 0,
       "strip: pixels untouched (max diff %d), no profile (%d)", d, icc);

    d = colour_chart_raw(st, "patches-adobe.jpg",
                         NGX_TUNNY_IMAGE_COLOUR_SRGB, &icc);
    ok(d > 10 && icc == 0,
       "srgb: Adobe RGB pixels changed (max diff %d), no profile (%d)", d,
       icc);

    d = colour_chart_raw(st, "patches-plain.jpg",
                         NGX_TUNNY_IMAGE_COLOUR_SRGB, &icc);
    ok(d <= 3 && icc == 0,
       "srgb: a source without a profile is untouched (max diff %d)", d);

    free(adobe.data);

    /* a bad mode is a parameter error */
    {
        blob_t                     b;
        ngx_tunny_image_params_t   p;
        ngx_tunny_image_result_t   res;

        b = load("patches-adobe.jpg");
        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 50, 50, 0);
        p.colour = 7;
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        ok(rc == NGX_TUNNY_IMAGE_EPARAM, "colour mode 7: 400 (%s)",
           res.error);
        free(res.data);
        free(b.data);
    }

    colour_ref_free(&r);
}


/* a 256x256 JPEG to 240x240 with the colour mode: pixels, malloc()ed */

static unsigned char *
colour_grad(ngx_tunny_image_state_t *st, const char *name, int colour)
{
    int                        rc;
    size_t                     n;
    unsigned                   y;
    blob_t                     b;
    unsigned char             *copy;
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    b = load(name);
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 240, 240, 0);
    p.colour = colour;

    rc = ngx_tunny_image_pixels(st, b.data, b.len, &p, &res, &pix);
    free(b.data);

    if (rc != NGX_TUNNY_IMAGE_OK || pix.width != 240 || pix.height != 240
        || pix.channels != 3)
    {
        diag("%s: rc %d \"%s\"", name, rc, res.error);
        return NULL;
    }

    n = 240 * 3;
    copy = malloc(n * 240);

    for (y = 0; copy != NULL && y < 240; y++) {
        memcpy(copy + y * n, pix.data + y * pix.stride, n);
    }

    return copy;
}


/*
 * sRGB under another name (sRGB's primaries and a tabulated sRGB curve,
 * as HP's profile in most cameras' files): the pixels stay as they are,
 * where lcms2's transform would move some by 1; sRGB's primaries with a
 * gamma of 2.2 are converted
 */

static void
test_colour_srgb_named(ngx_tunny_image_state_t *st)
{
    int             d, maxd;
    size_t          i, moved, diff22;
    cmsContext      ctx;
    cmsHPROFILE     in, out;
    cmsHTRANSFORM   xf;
    unsigned char  *plain, *table, *g22, *conv;

    plain = colour_grad(st, "green-plain.jpg", NGX_TUNNY_IMAGE_COLOUR_SRGB);
    table = colour_grad(st, "green-srgb-table.jpg",
                         NGX_TUNNY_IMAGE_COLOUR_SRGB);
    g22 = colour_grad(st, "green-srgb22.jpg", NGX_TUNNY_IMAGE_COLOUR_SRGB);
    conv = malloc(240 * 240 * 3);

    if (plain == NULL || table == NULL || g22 == NULL || conv == NULL) {
        ok(0, "sRGB under another name: the gradients decode");
        goto done;
    }

    /* what lcms2 would make of the plain pixels through that profile */

    ctx = cmsCreateContext(NULL, NULL);
    in = icc_srgb_table(ctx);
    out = cmsCreate_sRGBProfileTHR(ctx);
    xf = cmsCreateTransformTHR(ctx, in, TYPE_RGB_8, out, TYPE_RGB_8,
                               INTENT_PERCEPTUAL, 0);
    cmsDoTransform(xf, plain, conv, 240 * 240);
    cmsDeleteTransform(xf);
    cmsCloseProfile(in);
    cmsCloseProfile(out);
    cmsDeleteContext(ctx);

    moved = 0;
    maxd = 0;
    diff22 = 0;

    for (i = 0; i < 240 * 240 * 3; i++) {
        d = abs(conv[i] - plain[i]);
        moved += (d != 0);
        maxd = d > maxd ? d : maxd;
        diff22 += (g22[i] != plain[i]);
    }

    ok(memcmp(table, plain, 240 * 240 * 3) == 0 && moved > 0 && maxd <= 1,
       "srgb: sRGB under another name leaves the pixels as they are "
       "(lcms2 would move %zu samples by up to %d)", moved, maxd);

    ok(diff22 > 240 * 240 / 2,
       "srgb: sRGB's primaries with gamma 2.2 are converted (%zu samples "
       "changed)", diff22);

done:

    free(plain);
    free(table);
    free(g22);
    free(conv);
}


/* the cost of the transform cache: the first job builds, the next reuse */

static void
test_colour_cache(void)
{
    int                        rc, i;
    double                     t[3];
    blob_t                     b;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;
    ngx_tunny_image_state_t   *fresh;

    b = load("patches-cmyk.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 48, 32, 0);
    p.colour = NGX_TUNNY_IMAGE_COLOUR_SRGB;

    fresh = ngx_tunny_image_state_create();
    rc = 0;

    for (i = 0; i < 3; i++) {
        t[i] = now_ms();
        rc |= ngx_tunny_image_process(fresh, b.data, b.len, NULL, &p, &res);
        t[i] = now_ms() - t[i];
        free(res.data);
        ngx_tunny_image_state_trim(fresh, 0);
    }

    ok(rc == 0 && fresh->colour != NULL,
       "CMYK thumbnail three times in one state: ok");
    diag("CMYK chart to 48x32: first %.2f ms (lcms2 builds the transform), "
         "then %.2f, %.2f ms (cached)", t[0], t[1], t[2]);

    ngx_tunny_image_state_destroy(fresh);
    free(b.data);
}


/* hostile profiles (gen-hostile's icc-lcms-*): as no profile, and fast */

static void
test_colour_hostile(ngx_tunny_image_state_t *st)
{
    int                        rc, n, bad, diff, k, refused;
    FILE                      *m;
    char                       line[512], name[256], expect[16];
    char                       path[4096];
    blob_t                     b, plain;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res, ref;

    snprintf(path, sizeof(path), "%s/hostile/MANIFEST", dir);

    m = fopen(path, "r");
    if (m == NULL) {
        diag("no %s: hostile profiles skipped", path);
        return;
    }

    /* the same image with no profile at all, for the pixels */

    plain = load("hostile/icc-lcms-adobe.jpg");
    n = 0;
    bad = 0;
    diff = 0;
    refused = 0;

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    p.colour = NGX_TUNNY_IMAGE_COLOUR_STRIP;
    p.out_type = NGX_TUNNY_IMAGE_PNG;
    rc = ngx_tunny_image_process(st, plain.data, plain.len, NULL, &p, &ref);

    while (rc == 0 && fgets(line, sizeof(line), m)) {
        if (sscanf(line, "%255s %15s", name, expect) != 2
            || strncmp(name, "icc-lcms-", 9) != 0)
        {
            continue;
        }

        snprintf(path, sizeof(path), "hostile/%s", name);
        b = load(path);

        p.colour = NGX_TUNNY_IMAGE_COLOUR_SRGB;
        k = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        n++;

        if (k != NGX_TUNNY_IMAGE_OK) {
            bad++;
            diag("%s: rc %d \"%s\"", name, k, res.error);
        }

        /* RGB images whose profiles must be refused: untouched pixels */

        if (k == 0
            && (strcmp(name, "icc-lcms-cut-132.jpg") == 0
                || strcmp(name, "icc-lcms-cut-200.jpg") == 0
                || strcmp(name, "icc-lcms-tag-offsets.jpg") == 0
                || strcmp(name, "icc-lcms-tag-sizes.jpg") == 0
                || strcmp(name, "icc-lcms-tag-count.jpg") == 0
                || strcmp(name, "icc-lcms-link.jpg") == 0
                || strcmp(name, "icc-lcms-clut-bomb.jpg") == 0
                || strcmp(name, "icc-lcms-mpet.jpg") == 0))
        {
            refused++;

            if (res.len != ref.len || memcmp(res.data, ref.data, res.len)) {
                diff++;
                diag("%s: pixels differ from the image without a profile "
                     "(lcms2: %s)", name, ngx_tunny_image_colour_error(st));
            }
        }

        free(res.data);
        free(b.data);
        ngx_tunny_image_state_trim(st, 16 * 1024 * 1024);
    }

    ok(rc == 0 && n >= 20 && bad == 0 && refused == 8 && diff == 0,
       "hostile ICC profiles: %d images answered, %d failed; of %d that "
       "must be refused, %d changed pixels", n, bad, refused, diff);

    free(ref.data);
    free(plain.data);
    fclose(m);
}


/* tunny_image_background: the alpha edge flattened, premultiplied */

static void
test_background(ngx_tunny_image_state_t *st)
{
    int                        rc, bad_blue, bad_white;
    unsigned                   x;
    blob_t                     b;
    const unsigned char       *q;
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    b = load("alpha-edge.png");

    /* on blue: red and blue mix, nothing darker (no black fringe) */

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 32, 16, 0);
    p.out_type = NGX_TUNNY_IMAGE_JPEG;
    p.background = NGX_TUNNY_IMAGE_BG_SET | 0x0000ff;

    rc = ngx_tunny_image_pixels(st, b.data, b.len, &p, &res, &pix);
    bad_blue = (rc != 0 || pix.channels != 4 || pix.width != 32);

    for (x = 0; !bad_blue && x < pix.width; x++) {
        q = pix.data + 8 * pix.stride + x * 4;

        if (q[1] > 2 || abs(q[0] + q[2] - 255) > 3 || q[3] != 255
            || (x == 0 && q[0] < 250) || (x == 31 && q[2] < 250))
        {
            diag("on blue, x %u: %u %u %u %u", x, q[0], q[1], q[2], q[3]);
            bad_blue = 1;
        }
    }

    ok(!bad_blue, "background #0000ff: the alpha edge mixes red and blue, "
       "no dark fringe");

    /* the default: white, as image_filter */

    p.background = 0;
    rc = ngx_tunny_image_pixels(st, b.data, b.len, &p, &res, &pix);
    bad_white = (rc != 0 || pix.channels != 4);

    for (x = 0; !bad_white && x < pix.width; x++) {
        q = pix.data + 8 * pix.stride + x * 4;

        if (q[0] < 253 || abs(q[1] - q[2]) > 2
            || (x == 31 && (q[1] < 250 || q[2] < 250)))
        {
            diag("on white, x %u: %u %u %u", x, q[0], q[1], q[2]);
            bad_white = 1;
        }
    }

    ok(!bad_white, "background default: flattened on white");

    /* PNG output keeps the alpha */

    p.out_type = NGX_TUNNY_IMAGE_PNG;
    p.background = NGX_TUNNY_IMAGE_BG_SET | 0x0000ff;
    rc = ngx_tunny_image_pixels(st, b.data, b.len, &p, &res, &pix);
    q = pix.data + 8 * pix.stride + 31 * 4;
    ok(rc == 0 && pix.channels == 4 && q[3] == 0,
       "PNG output keeps the alpha (right edge alpha %u)", q[3]);

    free(b.data);
}


static void
test_colour(ngx_tunny_image_state_t *st)
{
    test_colour_charts(st);
    test_colour_srgb_named(st);
    test_colour_cache();
    test_colour_hostile(st);
    test_background(st);
}
