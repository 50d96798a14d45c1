
/*
 * gen-fixtures DIR: writes the image test fixtures of ngx_tunny_module
 * into DIR, deterministically, with libjpeg, libwebp, libspng, giflib and
 * libavif (its aom encoder).  No binary blobs
 * live in the repository; run this before the tests.
 *
 * Colour-block images have four quadrants: top-left red, top-right green,
 * bottom-left blue, bottom-right white (as seen upright).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <jpeglib.h>
#include <webp/encode.h>
#include <webp/mux.h>
#include <spng.h>
#include <gif_lib.h>
#include <avif/avif.h>

#include "icc-make.h"


static const char  *dir;


static void
die(const char *what)
{
    fprintf(stderr, "gen-fixtures: %s\n", what);
    exit(1);
}


static void
write_file(const char *name, const unsigned char *p, size_t len)
{
    char   path[4096];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }

    if (len && fwrite(p, 1, len, f) != len) {
        perror(path);
        exit(1);
    }

    fclose(f);
}


/* pixels */

static const unsigned char  quad_colors[4][3] = {
    { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 255, 255, 255 }
};


static unsigned char *
quad_rgb(unsigned w, unsigned h)
{
    unsigned        x, y, q;
    unsigned char  *p, *d;

    p = malloc((size_t) w * h * 3);
    if (p == NULL) {
        die("malloc");
    }

    d = p;

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            q = (y >= h / 2) * 2 + (x >= w / 2);
            memcpy(d, quad_colors[q], 3);
            d += 3;
        }
    }

    return p;
}


/* stored pixels for EXIF orientation o of an upright w x h quad image */

static unsigned char *
oriented_rgb(unsigned w, unsigned h, int o, unsigned *sw, unsigned *sh)
{
    unsigned        sx, sy, ux, uy, q, W, H;
    unsigned char  *p, *d;

    W = (o >= 5) ? h : w;
    H = (o >= 5) ? w : h;

    p = malloc((size_t) W * H * 3);
    if (p == NULL) {
        die("malloc");
    }

    d = p;

    for (sy = 0; sy < H; sy++) {
        for (sx = 0; sx < W; sx++) {

            /* where the viewer shows the stored pixel (sx, sy) */

            switch (o) {
            case 2:  ux = W - 1 - sx; uy = sy; break;
            case 3:  ux = W - 1 - sx; uy = H - 1 - sy; break;
            case 4:  ux = sx; uy = H - 1 - sy; break;
            case 5:  ux = sy; uy = sx; break;                   /* transpose */
            case 6:  ux = H - 1 - sy; uy = sx; break;           /* 90 cw */
            case 7:  ux = H - 1 - sy; uy = W - 1 - sx; break;   /* transverse */
            case 8:  ux = sy; uy = W - 1 - sx; break;           /* 90 ccw */
            default: ux = sx; uy = sy; break;
            }

            q = (uy >= h / 2) * 2 + (ux >= w / 2);
            memcpy(d, quad_colors[q], 3);
            d += 3;
        }
    }

    *sw = W;
    *sh = H;

    return p;
}


/* EXIF: TIFF header, IFD0 with orientation and Make */

static size_t
make_exif(unsigned char *b, int orientation, int big_endian, int bogus)
{
    size_t  n;

#define PUT16(p, v)                                                          \
    do {                                                                     \
        if (big_endian) { (p)[0] = (v) >> 8; (p)[1] = (v) & 0xff; }          \
        else { (p)[1] = (v) >> 8; (p)[0] = (v) & 0xff; }                     \
    } while (0)

#define PUT32(p, v)                                                          \
    do {                                                                     \
        if (big_endian) { PUT16(p, (v) >> 16); PUT16((p) + 2, (v) & 0xffff); }\
        else { PUT16(p, (v) & 0xffff); PUT16((p) + 2, (v) >> 16); }          \
    } while (0)

    memcpy(b, "Exif\0\0", 6);
    b += 6;

    memcpy(b, big_endian ? "MM" : "II", 2);
    PUT16(b + 2, 42);
    PUT32(b + 4, bogus == 1 ? 0xfffffff0u : 8u);

    /* IFD0 at 8: 2 entries */

    PUT16(b + 8, bogus == 2 ? 0xffff : 2);

    /* Make, ASCII, 6 bytes at offset 38 */
    PUT16(b + 10, 0x010f);
    PUT16(b + 12, 2);
    PUT32(b + 14, 6);
    PUT32(b + 18, 38);

    /* Orientation, SHORT, 1 */
    PUT16(b + 22, 0x0112);
    PUT16(b + 24, 3);
    PUT32(b + 26, 1);
    PUT16(b + 30, orientation);
    PUT16(b + 32, 0);

    /* next IFD: none */
    PUT32(b + 34, 0);

    memcpy(b + 38, "tunny", 6);

    n = 6 + 44;

#undef PUT16
#undef PUT32

    return n;
}


/* a small but valid ICC v2 RGB display profile (sRGB primaries, gamma 2.2) */

static void
be32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}


static unsigned long
s15(double v)
{
    return (unsigned long) (long) lrint(v * 65536.0) & 0xffffffffUL;
}


static size_t
make_icc(unsigned char *b)
{
    size_t          pos, n, i, desc, xyz[4], curv, cprt;
    unsigned char  *t;
    static const char  text[] = "tunny test RGB";
    static const double  v[4][3] = {
        { 0.9642, 1.0, 0.8249 },
        { 0.4361, 0.2225, 0.0139 },
        { 0.3851, 0.7169, 0.0971 },
        { 0.1431, 0.0606, 0.7141 }
    };
    static const char   *sig[9] = {
        "desc", "wtpt", "rXYZ", "gXYZ", "bXYZ", "rTRC", "gTRC", "bTRC",
        "cprt"
    };

    memset(b, 0, 1024);

    /* header */
    be32(b + 8, 0x02100000);
    memcpy(b + 12, "mntr", 4);
    memcpy(b + 16, "RGB ", 4);
    memcpy(b + 20, "XYZ ", 4);
    b[24] = 0x07; b[25] = 0xe8; b[27] = 1; b[29] = 1;      /* 2024-01-01 */
    memcpy(b + 36, "acsp", 4);
    be32(b + 68, s15(0.9642));
    be32(b + 72, s15(1.0));
    be32(b + 76, s15(0.8249));

    /* tag table after the header: 9 tags */
    be32(b + 128, 9);
    pos = 128 + 4 + 9 * 12;

    /* desc: textDescriptionType */
    desc = pos;
    t = b + pos;
    memcpy(t, "desc", 4);
    be32(t + 8, sizeof(text));
    memcpy(t + 12, text, sizeof(text));
    n = 12 + sizeof(text) + 4 + 4 + 2 + 1 + 67;
    pos += (n + 3) & ~3UL;

    for (i = 0; i < 4; i++) {
        xyz[i] = pos;
        t = b + pos;
        memcpy(t, "XYZ ", 4);
        be32(t + 8, s15(v[i][0]));
        be32(t + 12, s15(v[i][1]));
        be32(t + 16, s15(v[i][2]));
        pos += 20;
    }

    curv = pos;
    t = b + pos;
    memcpy(t, "curv", 4);
    be32(t + 8, 1);
    t[12] = 0x02;
    t[13] = 0x33;                   /* u8Fixed8 2.2 */
    pos += 16;

    cprt = pos;
    t = b + pos;
    memcpy(t, "text", 4);
    memcpy(t + 8, "No copyright", 13);
    pos += (8 + 13 + 3) & ~3UL;

    for (i = 0; i < 9; i++) {
        size_t  off, len;

        switch (i) {
        case 0: off = desc; len = 12 + sizeof(text) + 4 + 4 + 2 + 1 + 67;
                break;
        case 1: case 2: case 3: case 4: off = xyz[i - 1]; len = 20; break;
        case 8: off = cprt; len = 8 + 13; break;
        default: off = curv; len = 14; break;
        }

        t = b + 132 + i * 12;
        memcpy(t, sig[i], 4);
        be32(t + 4, off);
        be32(t + 8, len);
    }

    be32(b, pos);

    return pos;
}


/* JPEG */

typedef struct {
    int                   progressive;
    int                   quality;
    const unsigned char  *icc;
    size_t                icc_len;
    const unsigned char  *exif;
    size_t                exif_len;
    int                   junk;         /* COM and XMP markers */
} jpeg_opts_t;


static unsigned char *
jpeg_encode(const unsigned char *pix, unsigned w, unsigned h, int comps,
    J_COLOR_SPACE cs, const jpeg_opts_t *o, unsigned long *len)
{
    unsigned char                *out;
    JSAMPROW                      row;
    struct jpeg_error_mgr         jerr;
    struct jpeg_compress_struct   c;
    static const char  xmp[] =
        "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'>"
        "</x:xmpmeta>";

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);

    out = NULL;
    *len = 0;
    jpeg_mem_dest(&c, &out, len);

    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = cs;

    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, o->quality ? o->quality : 90, TRUE);

    if (o->progressive) {
        jpeg_simple_progression(&c);
    }

    jpeg_start_compress(&c, TRUE);

    if (o->exif) {
        jpeg_write_marker(&c, JPEG_APP0 + 1, o->exif, o->exif_len);
    }

    if (o->junk) {
        jpeg_write_marker(&c, JPEG_APP0 + 1, (const JOCTET *) xmp,
                          sizeof(xmp) - 1);
        jpeg_write_marker(&c, JPEG_COM, (const JOCTET *) "tunny comment", 13);
    }

    if (o->icc) {
        jpeg_write_icc_profile(&c, o->icc, o->icc_len);
    }

    while (c.next_scanline < h) {
        row = (JSAMPROW) pix + (size_t) c.next_scanline * w * comps;
        jpeg_write_scanlines(&c, &row, 1);
    }

    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    return out;
}


static void
write_jpeg(const char *name, const unsigned char *pix, unsigned w,
    unsigned h, int comps, J_COLOR_SPACE cs, const jpeg_opts_t *o)
{
    unsigned char  *out;
    unsigned long   len;

    out = jpeg_encode(pix, w, h, comps, cs, o, &len);
    write_file(name, out, len);
    free(out);
}


/* WebP */

static void
write_webp(const char *name, const unsigned char *pix, unsigned w,
    unsigned h, int alpha, const unsigned char *icc, size_t icc_len)
{
    size_t          len;
    uint8_t        *out;
    WebPMux        *mux;
    WebPData        img, prof, asm_;

    len = alpha ? WebPEncodeRGBA(pix, (int) w, (int) h, (int) w * 4, 90, &out)
                : WebPEncodeRGB(pix, (int) w, (int) h, (int) w * 3, 90, &out);
    if (len == 0) {
        die("WebPEncode");
    }

    if (icc == NULL) {
        write_file(name, out, len);
        WebPFree(out);
        return;
    }

    img.bytes = out;
    img.size = len;
    prof.bytes = icc;
    prof.size = icc_len;

    mux = WebPMuxNew();
    WebPDataInit(&asm_);

    if (WebPMuxSetImage(mux, &img, 1) != WEBP_MUX_OK
        || WebPMuxSetChunk(mux, "ICCP", &prof, 1) != WEBP_MUX_OK
        || WebPMuxAssemble(mux, &asm_) != WEBP_MUX_OK)
    {
        die("WebPMux");
    }

    write_file(name, asm_.bytes, asm_.size);

    WebPDataClear(&asm_);
    WebPMuxDelete(mux);
    WebPFree(out);
}


static void
write_animated_webp(const char *name)
{
    int                      i;
    unsigned char           *pix;
    WebPData                 data;
    WebPPicture              pic;
    WebPAnimEncoder         *enc;
    WebPAnimEncoderOptions   opts;

    if (!WebPAnimEncoderOptionsInit(&opts)) {
        die("WebPAnimEncoderOptionsInit");
    }

    enc = WebPAnimEncoderNew(64, 64, &opts);
    if (enc == NULL) {
        die("WebPAnimEncoderNew");
    }

    pix = quad_rgb(64, 64);

    for (i = 0; i < 2; i++) {
        WebPPictureInit(&pic);
        pic.width = 64;
        pic.height = 64;
        pic.use_argb = 1;

        if (i) {
            memset(pix, 0x80, 64 * 64 * 3);
        }

        WebPPictureImportRGB(&pic, pix, 64 * 3);

        if (!WebPAnimEncoderAdd(enc, &pic, i * 100, NULL)) {
            die("WebPAnimEncoderAdd");
        }

        WebPPictureFree(&pic);
    }

    WebPAnimEncoderAdd(enc, NULL, 200, NULL);

    WebPDataInit(&data);
    if (!WebPAnimEncoderAssemble(enc, &data)) {
        die("WebPAnimEncoderAssemble");
    }

    write_file(name, data.bytes, data.size);

    WebPDataClear(&data);
    WebPAnimEncoderDelete(enc);
    free(pix);
}


/* PNG (stored deflate) and GIF, only to be recognised */

static unsigned long
crc32_buf(unsigned long crc, const unsigned char *p, size_t n)
{
    int  k;

    crc ^= 0xffffffffUL;

    while (n--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320UL & (0UL - (crc & 1)));
        }
    }

    return crc ^ 0xffffffffUL;
}


static size_t
png_chunk(unsigned char *b, const char *type, const unsigned char *d,
    size_t n)
{
    be32(b, n);
    memcpy(b + 4, type, 4);
    if (n) {
        memcpy(b + 8, d, n);
    }
    be32(b + 8 + n, crc32_buf(0, b + 4, n + 4));

    return n + 12;
}


static void
write_png(const char *name, unsigned w, unsigned h)
{
    size_t          len, raw_len, z, i;
    unsigned long   a, b;
    unsigned char   ihdr[13], raw[256], zdata[300], out[1024];

    /* RGB, filter byte 0 per row, grey pixels */

    raw_len = (1 + w * 3) * h;
    memset(raw, 0x80, raw_len);
    for (i = 0; i < h; i++) {
        raw[i * (1 + w * 3)] = 0;
    }

    z = 0;
    zdata[z++] = 0x78;
    zdata[z++] = 0x01;
    zdata[z++] = 0x01;                          /* final stored block */
    zdata[z++] = raw_len & 0xff;
    zdata[z++] = raw_len >> 8;
    zdata[z++] = ~raw_len & 0xff;
    zdata[z++] = (~raw_len >> 8) & 0xff;
    memcpy(zdata + z, raw, raw_len);
    z += raw_len;

    a = 1;
    b = 0;
    for (i = 0; i < raw_len; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    be32(zdata + z, (b << 16) | a);
    z += 4;

    be32(ihdr, w);
    be32(ihdr + 4, h);
    ihdr[8] = 8;
    ihdr[9] = 2;
    ihdr[10] = ihdr[11] = ihdr[12] = 0;

    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    len = 8;
    len += png_chunk(out + len, "IHDR", ihdr, 13);
    len += png_chunk(out + len, "IDAT", zdata, z);
    len += png_chunk(out + len, "IEND", NULL, 0);

    write_file(name, out, len);
}


/*
 * PNG fixtures through libspng's encoder: pixels given as 8 or 16 bit
 * samples of the colour type, optionally interlaced, with a palette and
 * tRNS, with an iCCP profile.
 */

typedef struct {
    unsigned                 w, h;
    int                      color_type;
    int                      bit_depth;
    int                      interlace;
    const struct spng_plte  *plte;
    const struct spng_trns  *trns;
    const unsigned char     *icc;
    size_t                   icc_len;
} png_opts_t;


static unsigned char *
spng_write(const png_opts_t *o, const void *pix, size_t size, size_t *len)
{
    int               err;
    void             *png;
    spng_ctx         *ctx;
    struct spng_ihdr  ihdr;
    struct spng_iccp  iccp;

    ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (ctx == NULL) {
        die("spng_ctx_new");
    }

    memset(&ihdr, 0, sizeof(ihdr));
    ihdr.width = o->w;
    ihdr.height = o->h;
    ihdr.color_type = (uint8_t) o->color_type;
    ihdr.bit_depth = (uint8_t) o->bit_depth;
    ihdr.interlace_method = (uint8_t) o->interlace;

    err = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    err = err ? err : spng_set_ihdr(ctx, &ihdr);

    if (err == 0 && o->plte) {
        err = spng_set_plte(ctx, (struct spng_plte *) o->plte);
    }

    if (err == 0 && o->trns) {
        err = spng_set_trns(ctx, (struct spng_trns *) o->trns);
    }

    if (err == 0 && o->icc) {
        memset(&iccp, 0, sizeof(iccp));
        strcpy(iccp.profile_name, "test");
        iccp.profile_len = o->icc_len;
        iccp.profile = (char *) o->icc;
        err = spng_set_iccp(ctx, &iccp);
    }

    err = err ? err : spng_encode_image(ctx, pix, size, SPNG_FMT_PNG,
                                        SPNG_ENCODE_FINALIZE);
    if (err) {
        fprintf(stderr, "gen-fixtures: spng: %s\n", spng_strerror(err));
        exit(1);
    }

    png = spng_get_png_buffer(ctx, len, &err);
    spng_ctx_free(ctx);

    if (png == NULL) {
        die("spng_get_png_buffer");
    }

    return png;
}


static void
write_spng(const char *name, const png_opts_t *o, const void *pix,
    size_t size)
{
    size_t          len;
    unsigned char  *png;

    png = spng_write(o, pix, size, &len);
    write_file(name, png, len);
    free(png);
}


/* the chunk at pos: its data length, or 0 past the end */

static size_t
png_find(const unsigned char *p, size_t len, const char *type, size_t *pos)
{
    size_t  at, n;

    for (at = 8; at + 12 <= len; at += n + 12) {
        n = (size_t) p[at] << 24 | p[at + 1] << 16 | p[at + 2] << 8
            | p[at + 3];
        if (memcmp(p + at + 4, type, 4) == 0) {
            *pos = at;
            return n;
        }
    }

    die("png_find");
    return 0;
}


/*
 * APNG, two frames of w x h: the default image (IDAT, frame 0) red, the
 * second frame (fdAT) green; a decoder that shows the first frame shows
 * red.
 */

static void
write_apng(const char *name, unsigned w, unsigned h)
{
    size_t          i, len0, len1, pos, n, ihdr_end, idat, idat_n, f1, f1_n;
    size_t          out_len;
    unsigned char  *pix, *p0, *p1, *out, ctl[26], actl[8];
    png_opts_t      o;

    memset(&o, 0, sizeof(o));
    o.w = w;
    o.h = h;
    o.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
    o.bit_depth = 8;

    pix = malloc((size_t) w * h * 3);
    if (pix == NULL) {
        die("malloc");
    }

    for (i = 0; i < (size_t) w * h; i++) {
        pix[i * 3] = 255; pix[i * 3 + 1] = 0; pix[i * 3 + 2] = 0;
    }
    p0 = spng_write(&o, pix, (size_t) w * h * 3, &len0);

    for (i = 0; i < (size_t) w * h; i++) {
        pix[i * 3] = 0; pix[i * 3 + 1] = 255; pix[i * 3 + 2] = 0;
    }
    p1 = spng_write(&o, pix, (size_t) w * h * 3, &len1);
    free(pix);

    out = malloc(len0 + len1 + 256);
    if (out == NULL) {
        die("malloc");
    }

    (void) png_find(p0, len0, "IHDR", &pos);
    ihdr_end = pos + 13 + 12;
    idat_n = png_find(p0, len0, "IDAT", &idat);
    f1_n = png_find(p1, len1, "IDAT", &f1);

    memcpy(out, p0, ihdr_end);
    out_len = ihdr_end;

    be32(actl, 2);                      /* frames */
    be32(actl + 4, 0);                  /* plays: forever */
    out_len += png_chunk(out + out_len, "acTL", actl, 8);

    memset(ctl, 0, sizeof(ctl));
    be32(ctl, 0);                       /* sequence */
    be32(ctl + 4, w);
    be32(ctl + 8, h);
    ctl[21] = 1;                        /* delay 1/1 s */
    out_len += png_chunk(out + out_len, "fcTL", ctl, 26);

    n = idat_n + 12;
    memcpy(out + out_len, p0 + idat, n);
    out_len += n;

    be32(ctl, 1);
    out_len += png_chunk(out + out_len, "fcTL", ctl, 26);

    /* fdAT: sequence number, then the IDAT data of the second image */
    {
        unsigned char  *fd;

        fd = malloc(f1_n + 4);
        if (fd == NULL) {
            die("malloc");
        }
        be32(fd, 2);
        memcpy(fd + 4, p1 + f1 + 8, f1_n);
        out_len += png_chunk(out + out_len, "fdAT", fd, f1_n + 4);
        free(fd);
    }

    out_len += png_chunk(out + out_len, "IEND", NULL, 0);

    write_file(name, out, out_len);

    free(out);
    free(p0);
    free(p1);
}


static void
write_png_fixtures(const unsigned char *icc, size_t icc_len)
{
    size_t            i, n;
    unsigned          x, y, w, h;
    uint16_t         *p16;
    unsigned char    *pix, *d;
    png_opts_t        o;
    struct spng_plte  plte;
    struct spng_trns  trns;

    memset(&o, 0, sizeof(o));
    o.bit_depth = 8;

    /* RGB quads: 640x480; 64x48 Adam7; 64x48 with the test ICC profile */

    pix = quad_rgb(640, 480);
    o.w = 640;
    o.h = 480;
    o.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
    write_spng("quad-land.png", &o, pix, (size_t) 640 * 480 * 3);
    free(pix);

    pix = quad_rgb(64, 48);
    o.w = 64;
    o.h = 48;
    o.interlace = 1;
    write_spng("adam7.png", &o, pix, (size_t) 64 * 48 * 3);

    o.interlace = 0;
    o.icc = icc;
    o.icc_len = icc_len;
    write_spng("icc.png", &o, pix, (size_t) 64 * 48 * 3);
    o.icc = NULL;
    o.icc_len = 0;

    /* the same quads, 16 bits per sample (host order for SPNG_FMT_PNG) */

    n = (size_t) 64 * 48 * 3;
    p16 = malloc(n * 2);
    if (p16 == NULL) {
        die("malloc");
    }
    for (i = 0; i < n; i++) {
        p16[i] = (uint16_t) (pix[i] * 257);
    }
    o.bit_depth = 16;
    write_spng("quad16.png", &o, p16, n * 2);
    o.bit_depth = 8;
    free(p16);
    free(pix);

    /* grey 64x48, value 0x60 */

    pix = malloc(64 * 48);
    if (pix == NULL) {
        die("malloc");
    }
    memset(pix, 0x60, 64 * 48);
    o.color_type = SPNG_COLOR_TYPE_GRAYSCALE;
    write_spng("grey.png", &o, pix, 64 * 48);

    /* palette 64x48: left half index 0 red, right half index 1
     * transparent blue */

    for (y = 0; y < 48; y++) {
        for (x = 0; x < 64; x++) {
            pix[y * 64 + x] = (x >= 32);
        }
    }
    memset(&plte, 0, sizeof(plte));
    plte.n_entries = 2;
    plte.entries[0].red = 255;
    plte.entries[1].blue = 255;
    memset(&trns, 0, sizeof(trns));
    trns.n_type3_entries = 2;
    trns.type3_alpha[0] = 255;
    trns.type3_alpha[1] = 0;
    o.color_type = SPNG_COLOR_TYPE_INDEXED;
    o.plte = &plte;
    o.trns = &trns;
    write_spng("palette-trns.png", &o, pix, 64 * 48);
    o.plte = NULL;
    o.trns = NULL;
    free(pix);

    /* RGBA 200x100: left half opaque white, right half transparent black:
     * resized, the edge must stay white (no dark halo) */

    w = 200;
    h = 100;
    pix = calloc((size_t) w * h, 4);
    if (pix == NULL) {
        die("malloc");
    }
    for (y = 0; y < h; y++) {
        for (x = 0; x < w / 2; x++) {
            d = pix + ((size_t) y * w + x) * 4;
            d[0] = d[1] = d[2] = d[3] = 255;
        }
    }
    o.w = w;
    o.h = h;
    o.color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
    write_spng("edge.png", &o, pix, (size_t) w * h * 4);
    free(pix);

    write_apng("anim.png", 32, 32);
}


static void
write_gif(const char *name, unsigned w, unsigned h)
{
    size_t         len;
    unsigned char  out[64];

    /* header, 2-colour global table, one 1x1 image */

    memcpy(out, "GIF89a", 6);
    out[6] = w & 0xff; out[7] = w >> 8;
    out[8] = h & 0xff; out[9] = h >> 8;
    out[10] = 0x80; out[11] = 0; out[12] = 0;
    memcpy(out + 13, "\0\0\0\xff\xff\xff", 6);
    len = 19;
    memcpy(out + len, ",\0\0\0\0\x01\0\x01\0\0\x02\x02\x44\x01\0;", 16);
    len += 16;

    write_file(name, out, len);
}


/*
 * GIF fixtures through giflib's encoder: a global table of the four quad
 * colours (0 red, 1 green, 2 blue, 3 white), frames of indices.
 */

typedef struct {
    int                    left, top, w, h;
    int                    interlace;
    int                    transparent;     /* index, or -1 */
    int                    dispose;         /* GIF disposal method 0..3 */
    int                    delay;           /* 1/100 s, 0: 10 */
    const unsigned char   *idx;
} gif_frame_t;


typedef struct {
    unsigned char  *p;
    size_t          n;
    size_t          size;
} gif_out_t;


static int
gif_write(GifFileType *gif, const GifByteType *buf, int n)
{
    gif_out_t  *o = gif->UserData;

    if (o->n + (size_t) n > o->size) {
        o->size = (o->n + n) * 2;
        o->p = realloc(o->p, o->size);
        if (o->p == NULL) {
            die("realloc");
        }
    }

    memcpy(o->p + o->n, buf, (size_t) n);
    o->n += (size_t) n;

    return n;
}


/* loop: the NETSCAPE2.0 loop count, -1 for none */

static void
write_giflib(const char *name, int sw, int sh, const gif_frame_t *f,
    unsigned frames, int loop)
{
    int              err, i, pass, y;
    unsigned         k;
    gif_out_t        out;
    GifFileType     *gif;
    ColorMapObject  *map;
    GifColorType     colours[4];
    unsigned char    gce[4], nab[3];
    static const int starts[4] = { 0, 4, 2, 1 }, steps[4] = { 8, 8, 4, 2 };

    for (i = 0; i < 4; i++) {
        colours[i].Red = quad_colors[i][0];
        colours[i].Green = quad_colors[i][1];
        colours[i].Blue = quad_colors[i][2];
    }

    map = GifMakeMapObject(4, colours);
    memset(&out, 0, sizeof(out));

    gif = EGifOpen(&out, gif_write, &err);
    if (gif == NULL || map == NULL) {
        die("EGifOpen");
    }

    EGifSetGifVersion(gif, true);

    if (EGifPutScreenDesc(gif, sw, sh, 2, 0, map) == GIF_ERROR) {
        die("EGifPutScreenDesc");
    }

    if (loop >= 0) {
        nab[0] = 1;
        nab[1] = (unsigned char) (loop & 0xff);
        nab[2] = (unsigned char) (loop >> 8);

        if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE)
            == GIF_ERROR
            || EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_ERROR
            || EGifPutExtensionBlock(gif, 3, nab) == GIF_ERROR
            || EGifPutExtensionTrailer(gif) == GIF_ERROR)
        {
            die("EGifPutExtension NETSCAPE2.0");
        }
    }

    for (k = 0; k < frames; k++, f++) {
        gce[0] = (unsigned char) (((f->transparent >= 0) ? 0x01 : 0x00)
                                  | (f->dispose << 2));
        gce[1] = (unsigned char) (f->delay ? f->delay : 10);
        gce[2] = 0;
        gce[3] = (unsigned char) (f->transparent >= 0 ? f->transparent : 0);

        if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, gce)
            == GIF_ERROR
            || EGifPutImageDesc(gif, f->left, f->top, f->w, f->h,
                                f->interlace != 0, NULL) == GIF_ERROR)
        {
            die("EGifPutImageDesc");
        }

        for (pass = 0; pass < (f->interlace ? 4 : 1); pass++) {
            for (y = f->interlace ? starts[pass] : 0; y < f->h;
                 y += f->interlace ? steps[pass] : 1)
            {
                if (EGifPutLine(gif, (GifPixelType *) f->idx + y * f->w,
                                f->w) == GIF_ERROR)
                {
                    die("EGifPutLine");
                }
            }
        }
    }

    if (EGifCloseFile(gif, &err) == GIF_ERROR) {
        die("EGifCloseFile");
    }

    GifFreeMapObject(map);

    write_file(name, out.p, out.n);
    free(out.p);
}


/*
 * anim-big.gif: 320x240, 40 frames of diagonal stripes moving by 4 px per
 * frame (every frame changes the whole screen): the work of a real
 * animation, for the cancellation test of t/unit
 */

static void
write_gif_anim_big(void)
{
    int             k, x, y;
    uint32_t        noise = 2463534242u;
    unsigned char  *idx;
    gif_frame_t     f[40];

    idx = malloc((size_t) 320 * 240 * 40);
    if (idx == NULL) {
        die("malloc");
    }

    memset(f, 0, sizeof(f));

    for (k = 0; k < 40; k++) {
        for (y = 0; y < 240; y++) {
            for (x = 0; x < 320; x++) {
                idx[((size_t) k * 240 + y) * 320 + x] =
                    (unsigned char) (((x + y + k * 4) / 8) & 3);
            }
        }

        f[k].w = 320;
        f[k].h = 240;
        f[k].transparent = -1;
        f[k].dispose = 1;
        f[k].delay = 4;
        f[k].idx = idx + (size_t) k * 240 * 320;
    }

    write_giflib("anim-big.gif", 320, 240, f, 40, 0);

    /*
     * anim-noise.gif: 640x480, 2 frames of noise (40 ms), its first frame alone
     * over the 64 KiB prefix the HTTP module probes a file-backed body by
     */

    for (k = 0; k < 2; k++) {
        for (y = 0; y < 480; y++) {
            for (x = 0; x < 640; x++) {
                /* xorshift32: noise LZW cannot shrink */
                noise ^= noise << 13;
                noise ^= noise >> 17;
                noise ^= noise << 5;
                idx[((size_t) k * 480 + y) * 640 + x] =
                    (unsigned char) (noise >> 30);
            }
        }

        f[k].w = 640;
        f[k].h = 480;
        f[k].idx = idx + (size_t) k * 480 * 640;
    }

    write_giflib("anim-noise.gif", 640, 480, f, 2, -1);

    free(idx);
}


/*
 * anim-dispose.gif, 32x32, forever: every disposal method and a
 * transparent index (t/118-image-anim.t, t/unit), the canvas after each
 * frame:
 *   0  32x32 red, keep (100 ms)         all red
 *   1  16x16 green at 0,0, clear (200)  top left green
 *   2  16x16 blue at 16,16, previous    top left clear (1 cleared),
 *      (300)                            bottom right blue
 *   3  16x16 at 16,0: its left half     bottom right red again (2
 *      white, its right half the        restored), top right: white,
 *      transparent index 1 (delay 1:    then red through the
 *      100 ms)                          transparent half; top left clear
 */

static void
write_gif_anim(void)
{
    int             x, y;
    unsigned char   red[32 * 32], green[16 * 16], blue[16 * 16];
    unsigned char   half[16 * 16];
    gif_frame_t     f[4];

    memset(red, 0, sizeof(red));
    memset(green, 1, sizeof(green));
    memset(blue, 2, sizeof(blue));

    for (y = 0; y < 16; y++) {
        for (x = 0; x < 16; x++) {
            half[y * 16 + x] = (x < 8) ? 3 : 1;
        }
    }

    memset(f, 0, sizeof(f));

    f[0].w = 32;
    f[0].h = 32;
    f[0].transparent = -1;
    f[0].dispose = 1;
    f[0].delay = 10;
    f[0].idx = red;

    f[1].w = 16;
    f[1].h = 16;
    f[1].transparent = -1;
    f[1].dispose = 2;
    f[1].delay = 20;
    f[1].idx = green;

    f[2].left = 16;
    f[2].top = 16;
    f[2].w = 16;
    f[2].h = 16;
    f[2].transparent = -1;
    f[2].dispose = 3;
    f[2].delay = 30;
    f[2].idx = blue;

    f[3].left = 16;
    f[3].w = 16;
    f[3].h = 16;
    f[3].transparent = 1;
    f[3].dispose = 0;
    f[3].delay = 1;
    f[3].idx = half;

    write_giflib("anim-dispose.gif", 32, 32, f, 4, 0);

    write_gif_anim_big();
}


/*
 * anim-quads.webp: 64x48, lossless, 3 plays: the quads (100 ms), all
 * green (250 ms), the quads with a blue top left (400 ms)
 */

static void
write_webp_anim_quads(const char *name)
{
    int                      i, ts;
    unsigned                 x, y;
    unsigned char           *pix, *p;
    WebPData                 data;
    WebPPicture              pic;
    WebPAnimEncoder         *enc;
    WebPAnimEncoderOptions   opts;
    static const int         durations[3] = { 100, 250, 400 };

    if (!WebPAnimEncoderOptionsInit(&opts)) {
        die("WebPAnimEncoderOptionsInit");
    }

    opts.anim_params.loop_count = 3;

    enc = WebPAnimEncoderNew(64, 48, &opts);
    if (enc == NULL) {
        die("WebPAnimEncoderNew");
    }

    ts = 0;

    for (i = 0; i < 3; i++) {
        pix = quad_rgb(64, 48);

        for (y = 0; y < 48; y++) {
            for (x = 0; x < 64; x++) {
                p = pix + (y * 64 + x) * 3;

                if (i == 1) {
                    memcpy(p, quad_colors[1], 3);

                } else if (i == 2 && x < 32 && y < 24) {
                    memcpy(p, quad_colors[2], 3);
                }
            }
        }

        WebPPictureInit(&pic);
        pic.width = 64;
        pic.height = 48;
        pic.use_argb = 1;
        WebPPictureImportRGB(&pic, pix, 64 * 3);

        /* no config: lossless, exact colours */
        if (!WebPAnimEncoderAdd(enc, &pic, ts, NULL)) {
            die("WebPAnimEncoderAdd");
        }

        WebPPictureFree(&pic);
        free(pix);
        ts += durations[i];
    }

    WebPAnimEncoderAdd(enc, NULL, ts, NULL);

    WebPDataInit(&data);
    if (!WebPAnimEncoderAssemble(enc, &data)) {
        die("WebPAnimEncoderAssemble");
    }

    write_file(name, data.bytes, data.size);

    WebPDataClear(&data);
    WebPAnimEncoderDelete(enc);
}


static void
write_gif_fixtures(void)
{
    int             x, y;
    unsigned char  *quad, *half, *red, *green;
    gif_frame_t     f[2];

    quad = malloc(64 * 48);
    half = malloc(32 * 24);
    red = malloc(32 * 32);
    green = malloc(32 * 32);
    if (quad == NULL || half == NULL || red == NULL || green == NULL) {
        die("malloc");
    }

    for (y = 0; y < 48; y++) {
        for (x = 0; x < 64; x++) {
            quad[y * 64 + x] = (unsigned char) ((y >= 24) * 2 + (x >= 32));
        }
    }

    /* a 32x24 frame: left half red, right half the transparent index 3 */
    for (y = 0; y < 24; y++) {
        for (x = 0; x < 32; x++) {
            half[y * 32 + x] = (x >= 16) ? 3 : 0;
        }
    }

    memset(red, 0, 32 * 32);
    memset(green, 1, 32 * 32);

    memset(f, 0, sizeof(f));
    f[0].w = 64;
    f[0].h = 48;
    f[0].transparent = -1;
    f[0].idx = quad;
    write_giflib("quad.gif", 64, 48, f, 1, -1);

    f[0].interlace = 1;
    write_giflib("quad-interlaced.gif", 64, 48, f, 1, -1);

    /* screen 64x48, the frame at 16,12: the rest of the screen clear */
    f[0].interlace = 0;
    f[0].left = 16;
    f[0].top = 12;
    f[0].w = 32;
    f[0].h = 24;
    f[0].transparent = 3;
    f[0].idx = half;
    write_giflib("trans.gif", 64, 48, f, 1, -1);

    /* two frames: red, then green */
    f[0].left = 0;
    f[0].top = 0;
    f[0].w = 32;
    f[0].h = 32;
    f[0].transparent = -1;
    f[0].idx = red;
    f[1] = f[0];
    f[1].idx = green;
    write_giflib("anim.gif", 32, 32, f, 2, -1);
    write_giflib("anim-loop.gif", 32, 32, f, 2, 2);

    free(quad);
    free(half);
    free(red);
    free(green);

    write_gif_anim();
}


/*
 * The progressive copy of a JPEG from its coefficients, as jpegtran
 * -progressive: the same coefficients, so the same pixels at every DCT
 * scale (t/105-image-fast.t compares the outputs of both)
 */

static void
write_progressive_copy(const char *name, const unsigned char *in,
    unsigned long in_len)
{
    unsigned char                  *out;
    unsigned long                   len;
    jvirt_barray_ptr               *coef;
    struct jpeg_error_mgr           jerr_d, jerr_c;
    struct jpeg_compress_struct     c;
    struct jpeg_decompress_struct   d;

    d.err = jpeg_std_error(&jerr_d);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, in, in_len);
    (void) jpeg_read_header(&d, TRUE);
    coef = jpeg_read_coefficients(&d);

    c.err = jpeg_std_error(&jerr_c);
    jpeg_create_compress(&c);

    out = NULL;
    len = 0;
    jpeg_mem_dest(&c, &out, &len);

    jpeg_copy_critical_parameters(&d, &c);
    jpeg_simple_progression(&c);
    jpeg_write_coefficients(&c, coef);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    (void) jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);

    write_file(name, out, len);
    free(out);
}


/*
 * AVIF, with libavif and aom as the module encodes (quantizer 10, nearly
 * lossless, so that the tests can ask for the colours): pix is RGB or
 * RGBA (channels), depth 8 or 10; angle >= 0 writes an irot box;
 * grid > 0 writes a grid of grid x grid cells of the image's size / grid.
 */

static avifImage *
avif_image(const unsigned char *pix, unsigned w, unsigned h,
    unsigned channels, unsigned depth, avifPixelFormat fmt)
{
    avifImage     *img;
    avifRGBImage   rgb;

    img = avifImageCreate(w, h, depth, fmt);
    if (img == NULL) {
        die("avifImageCreate");
    }

    img->yuvRange = AVIF_RANGE_FULL;
    img->colorPrimaries = AVIF_COLOR_PRIMARIES_BT709;
    img->transferCharacteristics = AVIF_TRANSFER_CHARACTERISTICS_SRGB;
    img->matrixCoefficients = AVIF_MATRIX_COEFFICIENTS_BT601;

    avifRGBImageSetDefaults(&rgb, img);
    rgb.depth = 8;
    rgb.format = (channels == 4) ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB;
    rgb.pixels = (uint8_t *) pix;
    rgb.rowBytes = w * channels;

    if (avifImageRGBToYUV(img, &rgb) != AVIF_RESULT_OK) {
        die("avifImageRGBToYUV");
    }

    return img;
}


static avifEncoder *
avif_encoder(void)
{
    avifEncoder  *enc;

    enc = avifEncoderCreate();
    if (enc == NULL) {
        die("avifEncoderCreate");
    }

    enc->codecChoice = AVIF_CODEC_CHOICE_AOM;
    enc->maxThreads = 1;
    enc->speed = 9;
    enc->minQuantizer = 10;
    enc->maxQuantizer = 10;
    enc->minQuantizerAlpha = 0;
    enc->maxQuantizerAlpha = 0;

    return enc;
}


static void
write_avif(const char *name, const unsigned char *pix, unsigned w,
    unsigned h, unsigned channels, unsigned depth, int angle,
    const unsigned char *icc, size_t icc_len, unsigned grid)
{
    unsigned         i, cw, ch;
    avifImage       *img, *cells[16];
    avifRWData       out = AVIF_DATA_EMPTY;
    avifEncoder     *enc;
    avifCropRect     r;

    img = avif_image(pix, w, h, channels, depth, AVIF_PIXEL_FORMAT_YUV420);

    if (icc) {
        avifImageSetProfileICC(img, icc, icc_len);
    }

    if (angle >= 0) {
        img->transformFlags |= AVIF_TRANSFORM_IROT;
        img->irot.angle = (uint8_t) angle;
    }

    enc = avif_encoder();

    if (grid == 0) {
        if (avifEncoderWrite(enc, img, &out) != AVIF_RESULT_OK) {
            die("avifEncoderWrite");
        }

    } else {
        cw = w / grid;
        ch = h / grid;

        for (i = 0; i < grid * grid; i++) {
            r.x = (i % grid) * cw;
            r.y = (i / grid) * ch;
            r.width = cw;
            r.height = ch;

            cells[i] = avifImageCreateEmpty();
            if (cells[i] == NULL
                || avifImageSetViewRect(cells[i], img, &r) != AVIF_RESULT_OK)
            {
                die("avifImageSetViewRect");
            }
        }

        if (avifEncoderAddImageGrid(enc, grid, grid,
                                    (const avifImage * const *) cells,
                                    AVIF_ADD_IMAGE_FLAG_SINGLE)
            != AVIF_RESULT_OK
            || avifEncoderFinish(enc, &out) != AVIF_RESULT_OK)
        {
            die("avifEncoderAddImageGrid");
        }

        for (i = 0; i < grid * grid; i++) {
            avifImageDestroy(cells[i]);
        }
    }

    write_file(name, out.data, out.size);

    avifRWDataFree(&out);
    avifEncoderDestroy(enc);
    avifImageDestroy(img);
}


/* a sequence of two frames: the quads, then all green */

static void
write_avis(const char *name, unsigned w, unsigned h)
{
    avifImage       *img;
    avifRWData       out = AVIF_DATA_EMPTY;
    avifEncoder     *enc;
    unsigned char   *pix;
    size_t           i;

    enc = avif_encoder();
    enc->timescale = 10;

    pix = quad_rgb(w, h);
    img = avif_image(pix, w, h, 3, 8, AVIF_PIXEL_FORMAT_YUV420);

    if (avifEncoderAddImage(enc, img, 1, AVIF_ADD_IMAGE_FLAG_NONE)
        != AVIF_RESULT_OK)
    {
        die("avifEncoderAddImage");
    }

    avifImageDestroy(img);

    for (i = 0; i < (size_t) w * h; i++) {
        pix[i * 3] = 0;
        pix[i * 3 + 1] = 255;
        pix[i * 3 + 2] = 0;
    }

    img = avif_image(pix, w, h, 3, 8, AVIF_PIXEL_FORMAT_YUV420);

    if (avifEncoderAddImage(enc, img, 1, AVIF_ADD_IMAGE_FLAG_NONE)
        != AVIF_RESULT_OK
        || avifEncoderFinish(enc, &out) != AVIF_RESULT_OK)
    {
        die("avifEncoderAddImage");
    }

    write_file(name, out.data, out.size);

    avifRWDataFree(&out);
    avifEncoderDestroy(enc);
    avifImageDestroy(img);
    free(pix);
}


static void
write_avif_fixtures(const unsigned char *icc, size_t icc_len)
{
    unsigned        i, sw, sh;
    unsigned char  *pix, *rgba;

    /* quads 640x480, 8, 10 and 12 bits; 64x48 with the test ICC profile;
     * a 2x2 grid of 320x240 cells, one quadrant each */

    pix = quad_rgb(640, 480);
    write_avif("quad-land.avif", pix, 640, 480, 3, 8, -1, NULL, 0, 0);
    write_avif("quad10.avif", pix, 640, 480, 3, 10, -1, NULL, 0, 0);
    write_avif("quad12.avif", pix, 640, 480, 3, 12, -1, NULL, 0, 0);
    write_avif("grid.avif", pix, 640, 480, 3, 8, -1, NULL, 0, 2);
    free(pix);

    pix = quad_rgb(64, 48);
    write_avif("icc.avif", pix, 64, 48, 3, 8, -1, icc, icc_len, 0);
    free(pix);

    /* stored as EXIF orientation 6 would store it, with irot 270 ccw
     * (90 clockwise): upright it is the 160x120 quad image */

    pix = oriented_rgb(160, 120, 6, &sw, &sh);
    write_avif("irot.avif", pix, sw, sh, 3, 8, 3, NULL, 0, 0);
    free(pix);

    /* alpha 200x100: red, the left half opaque, the right transparent */

    rgba = malloc(200 * 100 * 4);
    if (rgba == NULL) {
        die("malloc");
    }
    for (i = 0; i < 200 * 100; i++) {
        rgba[i * 4 + 0] = 255;
        rgba[i * 4 + 1] = 0;
        rgba[i * 4 + 2] = 0;
        rgba[i * 4 + 3] = (i % 200 < 100) ? 255 : 0;
    }
    write_avif("alpha.avif", rgba, 200, 100, 4, 8, -1, NULL, 0, 0);
    free(rgba);

    write_avis("anim.avif", 64, 48);
}


/* a 3000x2000 photo-like JPEG for the benchmark, and its progressive copy */

static void
write_big(const char *name, const char *prog, unsigned w, unsigned h)
{
    unsigned        x, y;
    unsigned char  *p, *d, *out;
    unsigned long   len;
    jpeg_opts_t     o;
    double          fx, fy;

    p = malloc((size_t) w * h * 3);
    if (p == NULL) {
        die("malloc");
    }

    d = p;

    for (y = 0; y < h; y++) {
        fy = (double) y / h;

        for (x = 0; x < w; x++) {
            fx = (double) x / w;

            d[0] = (unsigned char) (127 + 100 * sin(fx * 17 + fy * 3)
                                    + 27 * sin(x * 0.9));
            d[1] = (unsigned char) (127 + 100 * cos(fy * 23 - fx * 5)
                                    + 27 * sin(y * 0.7));
            d[2] = (unsigned char) (127 + 120 * sin((fx + fy) * 11)
                                    + 7 * sin((x ^ y) * 0.3));
            d += 3;
        }
    }

    memset(&o, 0, sizeof(o));
    o.quality = 85;
    out = jpeg_encode(p, w, h, 3, JCS_RGB, &o, &len);
    write_file(name, out, len);
    write_progressive_copy(prog, out, len);
    free(out);
    free(p);
}


/*
 * Colour management: the profiles of icc-make.h, the patch charts in
 * them (6 x 4 patches of 64 px, each a flat colour of icc_patches or
 * icc_cmyk_patches), and an alpha edge for tunny_image_background.
 */

static unsigned char *
colour_chart(int kind, unsigned *pw, unsigned *ph, unsigned *pcomps)
{
    unsigned        x, y, i, w, h, comps;
    unsigned char  *pix, *p;

    w = ICC_PATCH * ICC_PATCH_COLS;
    h = ICC_PATCH * ICC_PATCH_ROWS;
    comps = (kind == 'c') ? 4 : (kind == 'g') ? 1 : 3;

    pix = malloc((size_t) w * h * comps);
    if (pix == NULL) {
        die("malloc");
    }

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            i = (y / ICC_PATCH) * ICC_PATCH_COLS + x / ICC_PATCH;
            p = pix + ((size_t) y * w + x) * comps;

            if (kind == 'c') {
                /* Adobe's inverted CMYK, as libjpeg marks it: 255 = no ink */
                p[0] = (unsigned char) (255 - icc_cmyk_patches[i][0]);
                p[1] = (unsigned char) (255 - icc_cmyk_patches[i][1]);
                p[2] = (unsigned char) (255 - icc_cmyk_patches[i][2]);
                p[3] = (unsigned char) (255 - icc_cmyk_patches[i][3]);

            } else if (kind == 'g') {
                p[0] = icc_patches[i][1];

            } else {
                memcpy(p, icc_patches[i], 3);
            }
        }
    }

    *pw = w;
    *ph = h;
    *pcomps = comps;

    return pix;
}


static void
write_colour_chart(const char *name, const unsigned char *icc,
    size_t icc_len, int kind)
{
    unsigned        w, h, comps;
    png_opts_t      po;
    jpeg_opts_t     o;
    unsigned char  *pix;

    pix = colour_chart(kind, &w, &h, &comps);

    if (kind == 'p') {
        memset(&po, 0, sizeof(po));
        po.w = w;
        po.h = h;
        po.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
        po.bit_depth = 8;
        po.icc = icc;
        po.icc_len = icc_len;
        write_spng(name, &po, pix, (size_t) w * h * 3);

    } else {
        memset(&o, 0, sizeof(o));
        o.quality = 100;
        o.icc = icc;
        o.icc_len = icc_len;
        write_jpeg(name, pix, w, h, (int) comps,
                   kind == 'c' ? JCS_CMYK : kind == 'g' ? JCS_GRAYSCALE
                                                        : JCS_RGB, &o);
    }

    free(pix);
}


/*
 * An animated WebP of the RGB chart in that profile (ICCP): two lossless
 * frames, the second with patch 0 black (so that the encoder keeps it)
 */

static void
write_colour_anim(const char *name, const unsigned char *icc,
    size_t icc_len)
{
    int                      i;
    unsigned                 w, h, comps, y;
    WebPMux                 *mux;
    WebPData                 anim, prof, out;
    WebPConfig               config;
    WebPPicture              pic;
    unsigned char           *pix;
    WebPAnimEncoder         *enc;
    WebPAnimEncoderOptions   opts;

    pix = colour_chart('j', &w, &h, &comps);

    if (!WebPAnimEncoderOptionsInit(&opts) || !WebPConfigInit(&config)) {
        die("WebP init");
    }

    config.lossless = 1;

    enc = WebPAnimEncoderNew((int) w, (int) h, &opts);
    if (enc == NULL) {
        die("WebPAnimEncoderNew");
    }

    for (i = 0; i < 2; i++) {
        if (i) {
            for (y = 0; y < ICC_PATCH; y++) {
                memset(pix + (size_t) y * w * 3, 0, ICC_PATCH * 3);
            }
        }

        WebPPictureInit(&pic);
        pic.width = (int) w;
        pic.height = (int) h;
        pic.use_argb = 1;

        if (!WebPPictureImportRGB(&pic, pix, (int) w * 3)
            || !WebPAnimEncoderAdd(enc, &pic, i * 100, &config))
        {
            die("WebPAnimEncoderAdd");
        }

        WebPPictureFree(&pic);
    }

    WebPDataInit(&anim);
    WebPDataInit(&out);

    if (!WebPAnimEncoderAdd(enc, NULL, 200, NULL)
        || !WebPAnimEncoderAssemble(enc, &anim))
    {
        die("WebPAnimEncoderAssemble");
    }

    prof.bytes = icc;
    prof.size = icc_len;

    mux = WebPMuxCreate(&anim, 0);

    if (mux == NULL
        || WebPMuxSetChunk(mux, "ICCP", &prof, 0) != WEBP_MUX_OK
        || WebPMuxAssemble(mux, &out) != WEBP_MUX_OK)
    {
        die("WebPMux");
    }

    write_file(name, out.bytes, out.size);

    WebPMuxDelete(mux);
    WebPDataClear(&out);
    WebPDataClear(&anim);
    WebPAnimEncoderDelete(enc);
    free(pix);
}


static void
write_colour_fixtures(void)
{
    size_t          n[4];
    unsigned        x, y;
    png_opts_t      po;
    cmsContext      ctx;
    unsigned char  *icc[4], *rgba, *p;

    ctx = cmsCreateContext(NULL, NULL);
    if (ctx == NULL) {
        die("cmsCreateContext");
    }

    icc[0] = icc_save(icc_adobe(ctx), &n[0]);
    icc[1] = icc_save(icc_prophoto(ctx), &n[1]);
    icc[2] = icc_save(icc_cmyk(ctx), &n[2]);
    icc[3] = icc_save(icc_gray18(ctx), &n[3]);

    if (!icc[0] || !icc[1] || !icc[2] || !icc[3]) {
        die("lcms2 profiles");
    }

    write_file("adobe.icc", icc[0], n[0]);
    write_file("prophoto.icc", icc[1], n[1]);
    write_file("cmyk.icc", icc[2], n[2]);
    write_file("gray18.icc", icc[3], n[3]);

    write_colour_chart("patches-adobe.jpg", icc[0], n[0], 'j');
    write_colour_chart("patches-plain.jpg", NULL, 0, 'j');
    write_colour_chart("patches-prophoto.png", icc[1], n[1], 'p');
    write_colour_anim("patches-prophoto-anim.webp", icc[1], n[1]);
    write_colour_chart("patches-cmyk.jpg", icc[2], n[2], 'c');
    write_colour_chart("patches-gray18.jpg", icc[3], n[3], 'g');

    /* noise with the Adobe RGB profile: a JPEG the profile is < 5% of */

    {
        jpeg_opts_t     o;
        unsigned char  *noise;
        unsigned long   r = 777;

        noise = malloc(320 * 240 * 3);
        if (noise == NULL) {
            die("malloc");
        }

        for (x = 0; x < 320 * 240 * 3; x++) {
            r = r * 1103515245UL + 12345UL;
            noise[x] = (unsigned char) (r >> 16);
        }

        memset(&o, 0, sizeof(o));
        o.icc = icc[0];
        o.icc_len = n[0];
        write_jpeg("noise-adobe.jpg", noise, 320, 240, 3, JCS_RGB, &o);
        free(noise);
    }

    /*
     * 256x256, red across, green 255 to 192 and blue 0 to 63 down: near
     * sRGB's green-yellow edge, where lcms2 moves the pixels of sRGB
     * under another name by 1 (its primaries rounded); with that
     * profile, sRGB's primaries at gamma 2.2, and none
     */

    {
        size_t          near_len[2];
        jpeg_opts_t     o;
        unsigned char  *grad, *near[2];

        grad = malloc(256 * 256 * 3);
        near[0] = icc_save(icc_srgb_table(ctx), &near_len[0]);
        near[1] = icc_save(icc_srgb22(ctx), &near_len[1]);

        if (grad == NULL || near[0] == NULL || near[1] == NULL) {
            die("gradient fixtures");
        }

        for (y = 0; y < 256; y++) {
            for (x = 0; x < 256; x++) {
                p = grad + (y * 256 + x) * 3;
                p[0] = (unsigned char) x;
                p[1] = (unsigned char) (255 - y / 4);
                p[2] = (unsigned char) (y / 4);
            }
        }

        memset(&o, 0, sizeof(o));
        o.quality = 95;
        write_jpeg("green-plain.jpg", grad, 256, 256, 3, JCS_RGB, &o);

        o.icc = near[0];
        o.icc_len = near_len[0];
        write_jpeg("green-srgb-table.jpg", grad, 256, 256, 3, JCS_RGB, &o);

        o.icc = near[1];
        o.icc_len = near_len[1];
        write_jpeg("green-srgb22.jpg", grad, 256, 256, 3, JCS_RGB, &o);

        free(near[0]);
        free(near[1]);
        free(grad);
    }

    /* 64x32: the left half opaque red, the right half transparent black */

    rgba = malloc(64 * 32 * 4);
    if (rgba == NULL) {
        die("malloc");
    }

    for (y = 0; y < 32; y++) {
        for (x = 0; x < 64; x++) {
            p = rgba + (y * 64 + x) * 4;
            p[0] = (x < 32) ? 255 : 0;
            p[1] = 0;
            p[2] = 0;
            p[3] = (x < 32) ? 255 : 0;
        }
    }

    memset(&po, 0, sizeof(po));
    po.w = 64;
    po.h = 32;
    po.color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA;
    po.bit_depth = 8;
    write_spng("alpha-edge.png", &po, rgba, 64 * 32 * 4);

    free(rgba);
    free(icc[0]);
    free(icc[1]);
    free(icc[2]);
    free(icc[3]);
    cmsDeleteContext(ctx);
}


int
main(int argc, char **argv)
{
    int             o;
    char            name[64];
    unsigned        i, w, h, sw, sh;
    unsigned long   len;
    unsigned char  *pix, *cmyk, *gray, *jpg, *rgba, exif[128], icc[1024];
    size_t          exif_len, icc_len, n;
    jpeg_opts_t     opt;
    static const struct { const char *name; unsigned w, h; }  quads[] = {
        { "land", 640, 480 }, { "port", 480, 640 }, { "square", 500, 500 }
    };

    if (argc != 2) {
        fprintf(stderr, "usage: gen-fixtures DIR\n");
        return 2;
    }

    dir = argv[1];

    memset(&opt, 0, sizeof(opt));

    /* colour blocks */

    for (i = 0; i < 3; i++) {
        pix = quad_rgb(quads[i].w, quads[i].h);

        snprintf(name, sizeof(name), "quad-%s.jpg", quads[i].name);
        write_jpeg(name, pix, quads[i].w, quads[i].h, 3, JCS_RGB, &opt);

        snprintf(name, sizeof(name), "quad-%s.webp", quads[i].name);
        write_webp(name, pix, quads[i].w, quads[i].h, 0, NULL, 0);

        free(pix);
    }

    /* the 8 EXIF orientations of an upright 160x120 quad image */

    for (o = 1; o <= 8; o++) {
        pix = oriented_rgb(160, 120, o, &sw, &sh);
        exif_len = make_exif(exif, o, o % 2 == 0, 0);

        opt.exif = exif;
        opt.exif_len = exif_len;

        snprintf(name, sizeof(name), "orient-%d.jpg", o);
        write_jpeg(name, pix, sw, sh, 3, JCS_RGB, &opt);

        free(pix);
    }

    /* ICC + EXIF + XMP + comment; progressive; bogus EXIF */

    icc_len = make_icc(icc);
    write_file("test.icc", icc, icc_len);

    pix = quad_rgb(640, 480);

    opt.exif = exif;
    opt.exif_len = make_exif(exif, 1, 0, 0);
    opt.icc = icc;
    opt.icc_len = icc_len;
    opt.junk = 1;
    write_jpeg("icc-exif.jpg", pix, 640, 480, 3, JCS_RGB, &opt);

    write_webp("icc.webp", pix, 640, 480, 0, icc, icc_len);

    memset(&opt, 0, sizeof(opt));
    opt.progressive = 1;
    write_jpeg("progressive.jpg", pix, 640, 480, 3, JCS_RGB, &opt);

    memset(&opt, 0, sizeof(opt));
    opt.exif = exif;

    opt.exif_len = make_exif(exif, 6, 0, 1);       /* IFD offset far out */
    write_jpeg("bad-exif-1.jpg", pix, 640, 480, 3, JCS_RGB, &opt);

    opt.exif_len = make_exif(exif, 6, 1, 2);       /* 65535 entries */
    write_jpeg("bad-exif-2.jpg", pix, 640, 480, 3, JCS_RGB, &opt);

    opt.exif_len = make_exif(exif, 9, 0, 0);       /* orientation 9 */
    write_jpeg("bad-exif-3.jpg", pix, 640, 480, 3, JCS_RGB, &opt);

    opt.exif_len = 12;                              /* cut TIFF header */
    write_jpeg("bad-exif-4.jpg", pix, 640, 480, 3, JCS_RGB, &opt);

    /* truncated, bit-flipped, huge header */

    memset(&opt, 0, sizeof(opt));
    jpg = jpeg_encode(pix, 640, 480, 3, JCS_RGB, &opt, &len);

    write_file("truncated.jpg", jpg, len * 6 / 10);
    write_file("truncated-header.jpg", jpg, 100);

    for (n = 700; n < len - 2; n += 997) {
        jpg[n] ^= (unsigned char) (1u << (n % 8));
    }
    write_file("bitflip.jpg", jpg, len);
    free(jpg);

    jpg = jpeg_encode(pix, 64, 48, 3, JCS_RGB, &opt, &len);
    for (n = 2; n + 9 < len; n++) {
        if (jpg[n] == 0xff && jpg[n + 1] == 0xc0) {
            jpg[n + 5] = 60000 >> 8;
            jpg[n + 6] = 60000 & 0xff;
            jpg[n + 7] = 60000 >> 8;
            jpg[n + 8] = 60000 & 0xff;
            break;
        }
    }
    write_file("huge.jpg", jpg, len);

    for (n = 2; n + 9 < len; n++) {
        if (jpg[n] == 0xff && jpg[n + 1] == 0xc0) {
            jpg[n + 5] = jpg[n + 6] = jpg[n + 7] = jpg[n + 8] = 0;
            break;
        }
    }
    write_file("zero-dims.jpg", jpg, len);
    free(jpg);

    free(pix);

    /* greyscale: quadrants 30, 100, 170, 240 */

    w = 640;
    h = 480;
    gray = malloc(w * h);
    for (i = 0; i < w * h; i++) {
        gray[i] = (unsigned char) (30 + 70 * ((i / w >= h / 2) * 2
                                              + (i % w >= w / 2)));
    }
    memset(&opt, 0, sizeof(opt));
    write_jpeg("gray.jpg", gray, w, h, 1, JCS_GRAYSCALE, &opt);
    free(gray);

    /* CMYK, Adobe convention (inverted: 255 = no ink), quad colours */

    cmyk = malloc(w * h * 4);
    pix = quad_rgb(w, h);
    for (i = 0; i < w * h; i++) {
        cmyk[i * 4 + 0] = pix[i * 3 + 0];
        cmyk[i * 4 + 1] = pix[i * 3 + 1];
        cmyk[i * 4 + 2] = pix[i * 3 + 2];
        cmyk[i * 4 + 3] = 255;
    }
    write_jpeg("cmyk.jpg", cmyk, w, h, 4, JCS_CMYK, &opt);
    free(cmyk);

    /* WebP: alpha, animated, truncated, huge canvas */

    rgba = malloc(200 * 100 * 4);
    for (i = 0; i < 200 * 100; i++) {
        rgba[i * 4 + 0] = 255;
        rgba[i * 4 + 1] = 0;
        rgba[i * 4 + 2] = 0;
        rgba[i * 4 + 3] = (i % 200 < 100) ? 255 : 0;
    }
    write_webp("alpha.webp", rgba, 200, 100, 1, NULL, 0);
    free(rgba);

    write_animated_webp("animated.webp");
    write_webp_anim_quads("anim-quads.webp");

    {
        FILE           *f;
        char            path[4096];
        unsigned char   buf[65536];

        snprintf(path, sizeof(path), "%s/icc.webp", dir);
        f = fopen(path, "rb");
        if (f == NULL) {
            die("icc.webp");
        }
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);

        write_file("truncated.webp", buf, n / 2);

        /* VP8X canvas 16000x16000 */
        buf[24] = (16000 - 1) & 0xff;
        buf[25] = (16000 - 1) >> 8;
        buf[26] = 0;
        buf[27] = (16000 - 1) & 0xff;
        buf[28] = (16000 - 1) >> 8;
        buf[29] = 0;
        write_file("huge.webp", buf, n);
    }

    free(pix);

    /* not images, or not ours */

    {
        unsigned char  g[4096];
        unsigned long  s = 12345;

        for (i = 0; i < sizeof(g); i++) {
            s = s * 1103515245UL + 12345UL;
            g[i] = (unsigned char) (s >> 16);
        }

        write_file("garbage.bin", g, sizeof(g));
        write_file("empty.bin", g, 0);
        write_file("ffd8.bin", (const unsigned char *) "\xff\xd8\xff", 3);
    }

    write_png("tiny.png", 3, 2);
    write_png_fixtures(icc, icc_len);
    write_gif("tiny.gif", 7, 5);
    write_gif_fixtures();
    write_avif_fixtures(icc, icc_len);

    write_big("big.jpg", "big-prog.jpg", 3000, 2000);
    write_colour_fixtures();

    return 0;
}
