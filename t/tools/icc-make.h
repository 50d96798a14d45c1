
/*
 * The ICC profiles and colour patches of the colour tests, made by code
 * with lcms2: one place for the fixture generator (gen-fixtures), the
 * hostile corpus (gen-hostile), the unit tests and the quality bench.
 *
 *   icc_adobe()     Adobe RGB (1998): D65, primaries 0.64/0.33,
 *                   0.21/0.71, 0.15/0.06, gamma 563/256
 *   icc_prophoto()  ProPhoto RGB (ROMM): D50, primaries 0.7347/0.2653,
 *                   0.1596/0.8404, 0.0366/0.0001, gamma 1.8
 *   icc_cmyk()      a CMYK input profile: a 17^4 CLUT to Lab of a simple
 *                   press model (dot gain, impure inks), deliberately
 *                   unlike the plain inversion so a test tells them apart
 *   icc_gray18()    a grey profile, gamma 1.8
 *   icc_srgb_table() sRGB under another name, as HP's profile of most
 *                   cameras' files: D65, the sRGB tone curve as a table
 *                   of 1024, red x and green y 0.0002 off (a vendor's
 *                   rounding); lcms2 converts it to its own sRGB moving
 *                   1.3% of the samples, by 1 (HP's: 1.1%)
 *   icc_srgb22()    sRGB's primaries with a gamma of 2.2: close to sRGB,
 *                   not sRGB (darks differ by up to 7 levels)
 *   icc_save()      the bytes of a profile, malloc()ed
 *
 * Header-only (static functions): each tool includes it once.
 */

#ifndef _TUNNY_ICC_MAKE_H_INCLUDED_
#define _TUNNY_ICC_MAKE_H_INCLUDED_


#include <math.h>
#include <stdlib.h>

#include <lcms2.h>


#define ICC_UNUSED  __attribute__((unused))


/* RGB patches, in the source's encoding (Adobe RGB or ProPhoto values) */
ICC_UNUSED static const unsigned char  icc_patches[24][3] = {
    { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 255, 255, 0 },
    { 0, 255, 255 }, { 255, 0, 255 }, { 128, 128, 128 }, { 200, 150, 100 },
    { 50, 100, 200 }, { 230, 200, 180 }, { 30, 60, 30 }, { 255, 255, 255 },
    { 0, 0, 0 }, { 180, 40, 40 }, { 40, 180, 40 }, { 40, 40, 180 },
    { 90, 200, 220 }, { 250, 128, 0 }, { 100, 50, 150 }, { 20, 20, 20 },
    { 220, 220, 220 }, { 128, 0, 0 }, { 0, 128, 0 }, { 0, 0, 128 }
};

/* CMYK patches, ink 0..255 (0: none) */
ICC_UNUSED static const unsigned char  icc_cmyk_patches[24][4] = {
    { 0, 0, 0, 0 }, { 255, 0, 0, 0 }, { 0, 255, 0, 0 }, { 0, 0, 255, 0 },
    { 0, 0, 0, 255 }, { 255, 255, 0, 0 }, { 0, 255, 255, 0 },
    { 255, 0, 255, 0 }, { 128, 128, 128, 0 }, { 0, 0, 0, 128 },
    { 60, 40, 40, 20 }, { 20, 60, 90, 10 }, { 200, 100, 20, 40 },
    { 10, 200, 180, 0 }, { 90, 20, 10, 60 }, { 255, 255, 255, 255 },
    { 30, 30, 30, 0 }, { 0, 128, 255, 0 }, { 128, 255, 0, 30 },
    { 255, 128, 0, 0 }, { 50, 0, 100, 100 }, { 0, 60, 0, 200 },
    { 160, 160, 0, 0 }, { 64, 0, 0, 0 }
};

/* patch layout of the fixtures: 6 x 4 patches of ICC_PATCH pixels */
#define ICC_PATCH        64
#define ICC_PATCH_COLS   6
#define ICC_PATCH_ROWS   4


ICC_UNUSED static cmsHPROFILE
icc_rgb(cmsContext ctx, double wx, double wy, const double prim[6],
    double gamma)
{
    cmsCIExyY         white;
    cmsHPROFILE       h;
    cmsToneCurve     *g, *curves[3];
    cmsCIExyYTRIPLE   p;

    white.x = wx;
    white.y = wy;
    white.Y = 1.0;

    p.Red.x = prim[0];
    p.Red.y = prim[1];
    p.Red.Y = 1.0;
    p.Green.x = prim[2];
    p.Green.y = prim[3];
    p.Green.Y = 1.0;
    p.Blue.x = prim[4];
    p.Blue.y = prim[5];
    p.Blue.Y = 1.0;

    g = cmsBuildGamma(ctx, gamma);
    curves[0] = curves[1] = curves[2] = g;

    h = cmsCreateRGBProfileTHR(ctx, &white, &p, curves);
    cmsFreeToneCurve(g);

    return h;
}


ICC_UNUSED static cmsHPROFILE
icc_adobe(cmsContext ctx)
{
    static const double  prim[6] = { 0.64, 0.33, 0.21, 0.71, 0.15, 0.06 };

    return icc_rgb(ctx, 0.3127, 0.3290, prim, 563.0 / 256);
}


ICC_UNUSED static cmsHPROFILE
icc_prophoto(cmsContext ctx)
{
    static const double  prim[6] = {
        0.7347, 0.2653, 0.1596, 0.8404, 0.0366, 0.0001
    };

    return icc_rgb(ctx, 0.3457, 0.3585, prim, 1.8);
}


ICC_UNUSED static cmsHPROFILE
icc_gray18(cmsContext ctx)
{
    cmsHPROFILE    h;
    cmsToneCurve  *g;

    g = cmsBuildGamma(ctx, 1.8);
    h = cmsCreateGrayProfileTHR(ctx, cmsD50_xyY(), g);
    cmsFreeToneCurve(g);

    return h;
}


ICC_UNUSED static cmsHPROFILE
icc_srgb_table(cmsContext ctx)
{
    int               i;
    double            v;
    cmsMLU           *desc;
    cmsHPROFILE       h;
    cmsToneCurve     *t, *curves[3];
    cmsCIExyYTRIPLE   p;
    cmsUInt16Number   tab[1024];

    static const cmsCIExyY  d65 = { 0.3127, 0.3290, 1.0 };

    for (i = 0; i < 1024; i++) {
        v = i / 1023.0;
        v = (v <= 0.04045) ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
        tab[i] = (cmsUInt16Number) (v * 65535 + 0.5);
    }

    p.Red.x = 0.6402;
    p.Red.y = 0.33;
    p.Red.Y = 1.0;
    p.Green.x = 0.30;
    p.Green.y = 0.6002;
    p.Green.Y = 1.0;
    p.Blue.x = 0.15;
    p.Blue.y = 0.06;
    p.Blue.Y = 1.0;

    t = cmsBuildTabulatedToneCurve16(ctx, 1024, tab);
    curves[0] = curves[1] = curves[2] = t;

    h = cmsCreateRGBProfileTHR(ctx, &d65, &p, curves);
    cmsFreeToneCurve(t);

    desc = cmsMLUalloc(ctx, 1);
    if (h != NULL && desc != NULL
        && cmsMLUsetASCII(desc, "en", "US", "sRGB, tabulated (tunny test)"))
    {
        (void) cmsWriteTag(h, cmsSigProfileDescriptionTag, desc);
    }

    cmsMLUfree(desc);

    return h;
}


ICC_UNUSED static cmsHPROFILE
icc_srgb22(cmsContext ctx)
{
    static const double  prim[6] = { 0.64, 0.33, 0.30, 0.60, 0.15, 0.06 };

    return icc_rgb(ctx, 0.3127, 0.3290, prim, 2.2);
}


/* the press model: ink 0..1 to Lab (D50) through linear sRGB */

ICC_UNUSED static double
icc_dot_gain(double v)
{
    return pow(v, 0.8);
}


ICC_UNUSED static int
icc_cmyk_sampler(const cmsUInt16Number in[], cmsUInt16Number out[],
    void *cargo)
{
    double     c, m, y, k, r, g, b;
    cmsCIEXYZ  xyz;
    cmsCIELab  lab;

    (void) cargo;

    c = icc_dot_gain(in[0] / 65535.0);
    m = icc_dot_gain(in[1] / 65535.0);
    y = icc_dot_gain(in[2] / 65535.0);
    k = icc_dot_gain(in[3] / 65535.0);

    r = (1 - 0.95 * c) * (1 - 0.08 * m) * (1 - 0.02 * y) * (1 - 0.92 * k);
    g = (1 - 0.20 * c) * (1 - 0.90 * m) * (1 - 0.05 * y) * (1 - 0.92 * k);
    b = (1 - 0.05 * c) * (1 - 0.25 * m) * (1 - 0.88 * y) * (1 - 0.92 * k);

    /* linear sRGB to XYZ, Bradford-adapted to D50 */
    xyz.X = 0.4360747 * r + 0.3850649 * g + 0.1430804 * b;
    xyz.Y = 0.2225045 * r + 0.7168786 * g + 0.0606169 * b;
    xyz.Z = 0.0139322 * r + 0.0971045 * g + 0.7141733 * b;

    cmsXYZ2Lab(cmsD50_XYZ(), &lab, &xyz);
    cmsFloat2LabEncoded(out, &lab);

    return 1;
}


ICC_UNUSED static cmsHPROFILE
icc_cmyk(cmsContext ctx)
{
    cmsMLU       *desc;
    cmsStage     *clut;
    cmsHPROFILE   h;
    cmsPipeline  *lut;

    h = cmsCreateProfilePlaceholder(ctx);
    if (h == NULL) {
        return NULL;
    }

    cmsSetProfileVersion(h, 4.3);
    cmsSetDeviceClass(h, cmsSigInputClass);
    cmsSetColorSpace(h, cmsSigCmykData);
    cmsSetPCS(h, cmsSigLabData);

    lut = cmsPipelineAlloc(ctx, 4, 3);
    clut = cmsStageAllocCLut16bit(ctx, 17, 4, 3, NULL);

    /* the shape lutAtoBType takes: A curves, CLUT, B curves (identity) */

    if (lut == NULL || clut == NULL
        || !cmsStageSampleCLut16bit(clut, icc_cmyk_sampler, NULL, 0)
        || !cmsPipelineInsertStage(lut, cmsAT_END,
                                   cmsStageAllocToneCurves(ctx, 4, NULL))
        || !cmsPipelineInsertStage(lut, cmsAT_END, clut)
        || !cmsPipelineInsertStage(lut, cmsAT_END,
                                   cmsStageAllocToneCurves(ctx, 3, NULL))
        || !cmsWriteTag(h, cmsSigAToB0Tag, lut)
        || !cmsWriteTag(h, cmsSigMediaWhitePointTag, cmsD50_XYZ()))
    {
        cmsCloseProfile(h);
        return NULL;
    }

    cmsPipelineFree(lut);

    desc = cmsMLUalloc(ctx, 1);
    cmsMLUsetASCII(desc, "en", "US", "tunny test CMYK");
    cmsWriteTag(h, cmsSigProfileDescriptionTag, desc);
    cmsMLUfree(desc);

    return h;
}


/* the bytes of a profile (then closed), malloc()ed; NULL on failure */

ICC_UNUSED static unsigned char *
icc_save(cmsHPROFILE h, size_t *len)
{
    unsigned char    *p;
    cmsUInt32Number   n;

    p = NULL;
    *len = 0;

    if (h != NULL && cmsSaveProfileToMem(h, NULL, &n) && n > 0) {
        p = malloc(n);

        if (p != NULL && cmsSaveProfileToMem(h, p, &n)) {
            *len = n;

        } else {
            free(p);
            p = NULL;
        }
    }

    if (h != NULL) {
        cmsCloseProfile(h);
    }

    return p;
}


#endif /* _TUNNY_ICC_MAKE_H_INCLUDED_ */
