
/*
 * Unit tests of the image library (src/image), TAP output.
 *
 *   test_image FIXTURE_DIR
 *
 * The fixtures come from t/tools/gen-fixtures.  TUNNY_BENCH=0 in the
 * environment skips the timing parts (under valgrind).
 */


#include <pthread.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <webp/decode.h>
#include <webp/demux.h>
#include <spng.h>
#include <avif/avif.h>

#include "tap.h"
#include "ngx_tunny_image_int.h"         /* ngx_tunny_image_pixels() */


static const char  *dir;




static double
clock_ms(clockid_t clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);

    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}


static double
now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}


typedef struct {
    unsigned char  *data;
    size_t          len;
} blob_t;


static blob_t
load(const char *name)
{
    FILE    *f;
    char     path[4096];
    blob_t   b;
    long     n;

    if (name[0] == '/') {
        snprintf(path, sizeof(path), "%s", name);

    } else {
        snprintf(path, sizeof(path), "%s/%s", dir, name);
    }

    b.data = NULL;
    b.len = 0;

    f = fopen(path, "rb");
    if (f == NULL) {
        printf("Bail out! cannot open %s\n", path);
        exit(1);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    b.data = malloc(n ? (size_t) n : 1);
    if (b.data == NULL || (n && fread(b.data, 1, n, f) != (size_t) n)) {
        printf("Bail out! cannot read %s\n", path);
        exit(1);
    }

    b.len = (size_t) n;
    fclose(f);

    return b;
}


static void
params_init(ngx_tunny_image_params_t *p, unsigned ops, unsigned w,
    unsigned h, unsigned angle)
{
    memset(p, 0, sizeof(ngx_tunny_image_params_t));

    p->ops = ops;
    p->width = w;
    p->height = h;
    p->angle = angle;
    p->jpeg_quality = 80;
    p->webp_quality = 80;
    p->avif_quality = 63;
    p->avif_speed = 8;
    p->max_pixels = 50000000;
    p->max_frames = 200;
}


/* decoding of outputs, for checks */

typedef struct {
    unsigned char  *rgb;            /* 3 or 4 channels */
    unsigned        w, h, ch;
    int             progressive;
    int             app1;           /* EXIF or XMP seen */
    int             com;
    int             gray;
    unsigned char  *icc;
    unsigned        icc_len;
    int             webp;           /* rgb from WebPDecode*() */
} decoded_t;


static int
decode_jpeg(const unsigned char *p, size_t len, decoded_t *d)
{
    JSAMPROW                        row;
    jpeg_saved_marker_ptr           m;
    struct jpeg_error_mgr           jerr;
    struct jpeg_decompress_struct   c;

    c.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&c);
    jpeg_mem_src(&c, p, len);
    jpeg_save_markers(&c, JPEG_APP0 + 1, 0xffff);
    jpeg_save_markers(&c, JPEG_APP0 + 2, 0xffff);
    jpeg_save_markers(&c, JPEG_COM, 0xffff);

    if (jpeg_read_header(&c, TRUE) != JPEG_HEADER_OK) {
        return -1;
    }

    for (m = c.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1) {
            d->app1++;
        }

        if (m->marker == JPEG_COM) {
            d->com++;
        }
    }

    jpeg_read_icc_profile(&c, &d->icc, &d->icc_len);

    d->progressive = c.progressive_mode;
    d->gray = (c.jpeg_color_space == JCS_GRAYSCALE);
    c.out_color_space = JCS_RGB;

    jpeg_start_decompress(&c);

    d->w = c.output_width;
    d->h = c.output_height;
    d->ch = 3;
    d->rgb = malloc((size_t) d->w * d->h * 3);

    while (c.output_scanline < c.output_height) {
        row = d->rgb + (size_t) c.output_scanline * d->w * 3;
        jpeg_read_scanlines(&c, &row, 1);
    }

    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);

    return 0;
}


static int
decode_webp(const unsigned char *p, size_t len, decoded_t *d)
{
    int                w, h;
    WebPData           data;
    WebPDemuxer       *dmux;
    WebPChunkIterator  it;
    WebPBitstreamFeatures  f;

    if (WebPGetFeatures(p, len, &f) != VP8_STATUS_OK) {
        return -1;
    }

    d->ch = f.has_alpha ? 4 : 3;
    d->rgb = f.has_alpha ? WebPDecodeRGBA(p, len, &w, &h)
                         : WebPDecodeRGB(p, len, &w, &h);
    if (d->rgb == NULL) {
        return -1;
    }

    d->w = (unsigned) w;
    d->h = (unsigned) h;
    d->webp = 1;

    data.bytes = p;
    data.size = len;
    dmux = WebPDemux(&data);

    if (dmux) {
        unsigned  flags = WebPDemuxGetI(dmux, WEBP_FF_FORMAT_FLAGS);

        d->app1 = (flags & (EXIF_FLAG | XMP_FLAG)) != 0;

        if (WebPDemuxGetChunk(dmux, "ICCP", 1, &it)) {
            d->icc = malloc(it.chunk.size);
            memcpy(d->icc, it.chunk.bytes, it.chunk.size);
            d->icc_len = (unsigned) it.chunk.size;
            WebPDemuxReleaseChunkIterator(&it);
        }

        WebPDemuxDelete(dmux);
    }

    return 0;
}


static int decode_png(const unsigned char *p, size_t len, decoded_t *d);
static int decode_avif(const unsigned char *p, size_t len, decoded_t *d);


static int
decode(const ngx_tunny_image_result_t *res, decoded_t *d)
{
    memset(d, 0, sizeof(decoded_t));

    if (res->type == NGX_TUNNY_IMAGE_JPEG) {
        return decode_jpeg(res->data, res->len, d);
    }

    if (res->type == NGX_TUNNY_IMAGE_WEBP) {
        return decode_webp(res->data, res->len, d);
    }

    if (res->type == NGX_TUNNY_IMAGE_PNG) {
        return decode_png(res->data, res->len, d);
    }

    if (res->type == NGX_TUNNY_IMAGE_AVIF) {
        return decode_avif(res->data, res->len, d);
    }

    return -1;
}


static void
decoded_free(decoded_t *d)
{
    if (d->rgb) {
        if (d->webp) {
            WebPFree(d->rgb);
        } else {
            free(d->rgb);
        }
    }

    free(d->icc);
    memset(d, 0, sizeof(decoded_t));
}


static int
near(const decoded_t *d, unsigned x, unsigned y, int r, int g, int b,
    int tol)
{
    const unsigned char  *p;

    if (x >= d->w || y >= d->h) {
        return 0;
    }

    p = d->rgb + ((size_t) y * d->w + x) * d->ch;

    if (abs(p[0] - r) > tol || abs(p[1] - g) > tol || abs(p[2] - b) > tol) {
        diag("pixel %u,%u is %d,%d,%d, expected %d,%d,%d", x, y,
             p[0], p[1], p[2], r, g, b);
        return 0;
    }

    return 1;
}


/* colours of the quad fixtures */

#define RED     255, 0, 0
#define GREEN   0, 255, 0
#define BLUE    0, 0, 255
#define WHITE   255, 255, 255


static int
quads(const decoded_t *d, int r0, int g0, int b0, int r1, int g1, int b1,
    int r2, int g2, int b2, int r3, int g3, int b3)
{
    unsigned  qx = d->w / 4, qy = d->h / 4;

    /* centres of the quadrants: TL, TR, BL, BR */

    return near(d, qx, qy, r0, g0, b0, 48)
           & near(d, 3 * qx, qy, r1, g1, b1, 48)
           & near(d, qx, 3 * qy, r2, g2, b2, 48)
           & near(d, 3 * qx, 3 * qy, r3, g3, b3, 48);
}


/* tests */

static void
test_probe(void)
{
    int                      rc;
    unsigned                 i;
    ngx_tunny_image_info_t   info;
    blob_t                   b;
    static const struct {
        const char  *name;
        int          type;
        unsigned     w, h;
        int          orientation;
        const char  *error;            /* NULL: NGX_TUNNY_IMAGE_OK */
    } t[] = {
        { "quad-land.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "quad-port.jpg", NGX_TUNNY_IMAGE_JPEG, 480, 640, 1, NULL },
        { "quad-square.jpg", NGX_TUNNY_IMAGE_JPEG, 500, 500, 1, NULL },
        { "quad-land.webp", NGX_TUNNY_IMAGE_WEBP, 640, 480, 1, NULL },
        { "quad-port.webp", NGX_TUNNY_IMAGE_WEBP, 480, 640, 1, NULL },
        { "quad-square.webp", NGX_TUNNY_IMAGE_WEBP, 500, 500, 1, NULL },
        { "icc.webp", NGX_TUNNY_IMAGE_WEBP, 640, 480, 1, NULL },
        { "alpha.webp", NGX_TUNNY_IMAGE_WEBP, 200, 100, 1, NULL },
        { "animated.webp", NGX_TUNNY_IMAGE_WEBP, 64, 64, 1, NULL },
        { "orient-1.jpg", NGX_TUNNY_IMAGE_JPEG, 160, 120, 1, NULL },
        { "orient-2.jpg", NGX_TUNNY_IMAGE_JPEG, 160, 120, 2, NULL },
        { "orient-3.jpg", NGX_TUNNY_IMAGE_JPEG, 160, 120, 3, NULL },
        { "orient-4.jpg", NGX_TUNNY_IMAGE_JPEG, 160, 120, 4, NULL },
        { "orient-5.jpg", NGX_TUNNY_IMAGE_JPEG, 120, 160, 5, NULL },
        { "orient-6.jpg", NGX_TUNNY_IMAGE_JPEG, 120, 160, 6, NULL },
        { "orient-7.jpg", NGX_TUNNY_IMAGE_JPEG, 120, 160, 7, NULL },
        { "orient-8.jpg", NGX_TUNNY_IMAGE_JPEG, 120, 160, 8, NULL },
        { "icc-exif.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "progressive.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "gray.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "cmyk.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "bad-exif-1.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "bad-exif-2.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 6, NULL },
        { "bad-exif-3.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "bad-exif-4.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "huge.jpg", NGX_TUNNY_IMAGE_JPEG, 60000, 60000, 1, NULL },
        { "huge.webp", NGX_TUNNY_IMAGE_WEBP, 16000, 16000, 1, NULL },
        { "truncated.jpg", NGX_TUNNY_IMAGE_JPEG, 640, 480, 1, NULL },
        { "tiny.png", NGX_TUNNY_IMAGE_PNG, 3, 2, 1, NULL },
        { "tiny.gif", NGX_TUNNY_IMAGE_GIF, 7, 5, 1, NULL },
        { "truncated-header.jpg", NGX_TUNNY_IMAGE_JPEG, 0, 0, 1,
          "truncated JPEG header" },
        { "zero-dims.jpg", NGX_TUNNY_IMAGE_JPEG, 0, 0, 1,
          "JPEG with zero width or height" },
        { "garbage.bin", NGX_TUNNY_IMAGE_NONE, 0, 0, 1, "not an image" },
        { "empty.bin", NGX_TUNNY_IMAGE_NONE, 0, 0, 1, "not an image" },
        { "ffd8.bin", NGX_TUNNY_IMAGE_JPEG, 0, 0, 1,
          "truncated JPEG header" },
    };

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        b = load(t[i].name);

        rc = ngx_tunny_image_probe(b.data, b.len, &info);

        ok(rc == (t[i].error ? NGX_TUNNY_IMAGE_EINPUT : NGX_TUNNY_IMAGE_OK)
           && info.type == t[i].type && info.width == t[i].w
           && info.height == t[i].h && info.orientation == t[i].orientation
           && (t[i].error ? info.error && strcmp(info.error, t[i].error) == 0
                          : info.error == NULL),
           "probe %s: rc %d %s %ux%u orientation %d \"%s\"", t[i].name, rc,
           ngx_tunny_image_type_name(info.type), info.width, info.height,
           info.orientation, info.error ? info.error : "");

        free(b.data);
    }

    /* every prefix of a JPEG and a WebP probes without overreading */

    b = load("icc-exif.jpg");
    for (i = 0; i <= b.len; i++) {
        unsigned char  *p = malloc(i + 1);

        memcpy(p, b.data, i);
        rc = ngx_tunny_image_probe(p, i, &info);
        free(p);

        if (rc == NGX_TUNNY_IMAGE_OK) {
            break;
        }

        if (info.width != 0 || info.height != 0 || info.error == NULL
            || info.type != (i < 3 ? NGX_TUNNY_IMAGE_NONE
                                   : NGX_TUNNY_IMAGE_JPEG))
        {
            break;
        }
    }
    ok(rc == NGX_TUNNY_IMAGE_OK && info.type == NGX_TUNNY_IMAGE_JPEG
       && i > 600,
       "JPEG prefixes: EINPUT with a reason, dimensions first known at %u "
       "bytes", i);
    free(b.data);

    ok(strcmp(ngx_tunny_image_type_name(NGX_TUNNY_IMAGE_WEBP), "webp") == 0
       && strcmp(ngx_tunny_image_mime_type(NGX_TUNNY_IMAGE_JPEG),
                 "image/jpeg") == 0
       && strcmp(ngx_tunny_image_mime_type(NGX_TUNNY_IMAGE_NONE), "") == 0
       && strcmp(ngx_tunny_image_type_name(99), "") == 0
       && strcmp(ngx_tunny_image_mime_type(-1), "") == 0,
       "type and mime names");
}


/* the magic bytes, and the pass-through decision */

static void
test_sniff(void)
{
    unsigned  i;
    blob_t    b;
    static const struct {
        const char     *bytes;
        size_t          len;
        int             type;
    } t[] = {
        { "\xff\xd8\xff", 3, NGX_TUNNY_IMAGE_JPEG },
        { "\xff\xd8", 2, NGX_TUNNY_IMAGE_NONE },
        { "\xff\xd8\xfe", 3, NGX_TUNNY_IMAGE_NONE },
        { "RIFF\0\0\0\0WEBP", 12, NGX_TUNNY_IMAGE_WEBP },
        { "RIFF\0\0\0\0WEB", 11, NGX_TUNNY_IMAGE_NONE },
        { "RIFF\0\0\0\0WAVE", 12, NGX_TUNNY_IMAGE_NONE },
        { "\x89PNG\r\n\x1a\n", 8, NGX_TUNNY_IMAGE_PNG },
        { "\x89PNG\r\n\x1a", 7, NGX_TUNNY_IMAGE_NONE },
        { "GIF87a", 6, NGX_TUNNY_IMAGE_GIF },
        { "GIF89a", 6, NGX_TUNNY_IMAGE_GIF },
        { "GIF88a", 6, NGX_TUNNY_IMAGE_NONE },
        { "GIF89", 5, NGX_TUNNY_IMAGE_NONE },
        { "", 0, NGX_TUNNY_IMAGE_NONE },
    };

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ok(ngx_tunny_image_sniff((const unsigned char *) t[i].bytes,
                                 t[i].len) == t[i].type,
           "sniff #%u, %zu bytes: %s", i, t[i].len,
           t[i].type ? ngx_tunny_image_type_name(t[i].type) : "none");
    }

    ok(ngx_tunny_image_sniff(NULL, 100) == NGX_TUNNY_IMAGE_NONE,
       "sniff NULL: none");

    b = load("quad-land.webp");
    ok(ngx_tunny_image_sniff(b.data, b.len) == NGX_TUNNY_IMAGE_WEBP,
       "sniff quad-land.webp: webp");
    free(b.data);

    ok(ngx_tunny_image_transforms(NGX_TUNNY_IMAGE_JPEG)
       && ngx_tunny_image_transforms(NGX_TUNNY_IMAGE_WEBP)
       && ngx_tunny_image_transforms(NGX_TUNNY_IMAGE_PNG)
       && ngx_tunny_image_transforms(NGX_TUNNY_IMAGE_GIF)
       && !ngx_tunny_image_transforms(NGX_TUNNY_IMAGE_NONE)
       && !ngx_tunny_image_transforms(42),
       "transforms JPEG, WebP, PNG and GIF; none, unknown not");
}


/* the max-pixels rule, as the HTTP module logs it in $tunny_error */

static void
test_check_pixels(void)
{
    int                      rc;
    char                     e[64];
    ngx_tunny_image_info_t   info;

    memset(&info, 0, sizeof(info));
    info.type = NGX_TUNNY_IMAGE_JPEG;
    info.width = 640;
    info.height = 480;

    strcpy(e, "untouched");
    rc = ngx_tunny_image_check_pixels(&info, 307200, e, sizeof(e));
    ok(rc == NGX_TUNNY_IMAGE_OK && strcmp(e, "untouched") == 0,
       "check_pixels 640x480 <= 307200: OK, error untouched");

    rc = ngx_tunny_image_check_pixels(&info, 0, e, sizeof(e));
    ok(rc == NGX_TUNNY_IMAGE_OK, "check_pixels max 0: no limit");

    rc = ngx_tunny_image_check_pixels(&info, 307199, e, sizeof(e));
    ok(rc == NGX_TUNNY_IMAGE_ELIMIT
       && strcmp(e, "640x480 image exceeds tunny_image_max_pixels 307199")
          == 0,
       "check_pixels 640x480 > 307199: ELIMIT \"%s\"", e);

    info.width = 65535;
    info.height = 65535;
    rc = ngx_tunny_image_check_pixels(&info, 50000000, e, 16);
    ok(rc == NGX_TUNNY_IMAGE_ELIMIT && strcmp(e, "65535x65535 ima") == 0,
       "check_pixels: the reason is cut at size bytes, NUL included");

    info.width = 0;
    info.height = 0;
    rc = ngx_tunny_image_check_pixels(&info, 1, e, sizeof(e));
    ok(rc == NGX_TUNNY_IMAGE_OK, "check_pixels unknown size: OK");
}


/* the probe made by the caller, as the HTTP module does */

static void
test_caller_info(ngx_tunny_image_state_t *st)
{
    int                        rc;
    unsigned                   i;
    blob_t                     b, other;
    unsigned char             *first;
    size_t                     first_len;
    ngx_tunny_image_info_t     info;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;
    static const char         *names[] = {
        "quad-land.jpg", "orient-6.jpg", "icc.webp", "alpha.webp",
        "gray.jpg", "cmyk.jpg"
    };

    /* the same bytes out as with info == NULL */

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        b = load(names[i]);

        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_ROTATE,
                    100, 100, 90);
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        first = res.data;
        first_len = res.len;

        rc |= ngx_tunny_image_probe(b.data, b.len, &info);
        rc |= ngx_tunny_image_process(st, b.data, b.len, &info, &p, &res);

        ok(rc == NGX_TUNNY_IMAGE_OK && first != NULL && res.len == first_len
           && memcmp(res.data, first, first_len) == 0,
           "%s with the caller's probe: the same %zu bytes", names[i],
           res.len);

        free(first);
        free(res.data);
        free(b.data);
    }

    /* a failed probe: its reason, without a look at the bytes */

    b = load("zero-dims.jpg");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, &info, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_EINPUT && res.data == NULL
       && strcmp(res.error, "JPEG with zero width or height") == 0,
       "caller's failed probe: EINPUT \"%s\"", res.error);
    free(b.data);

    /* over the limit from the caller's probe, before any decoding */

    b = load("huge.webp");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    rc |= ngx_tunny_image_process(st, b.data, b.len, &info, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ELIMIT
       && strcmp(res.error,
                 "16000x16000 image exceeds tunny_image_max_pixels 50000000")
          == 0,
       "caller's probe over max_pixels: ELIMIT \"%s\"", res.error);
    free(b.data);

    /* a GIF that fits: as is, with the probed size */

    b = load("tiny.gif");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    rc |= ngx_tunny_image_process(st, b.data, b.len, &info, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ASIS && res.data == NULL
       && res.type == NGX_TUNNY_IMAGE_GIF && res.width == 7
       && res.height == 5, "caller's probe of a GIF: as is, 7x5");

    /* rotated: its first frame, as PNG */

    params_init(&p, NGX_TUNNY_IMAGE_OP_ROTATE, 0, 0, 90);
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    rc |= ngx_tunny_image_process(st, b.data, b.len, &info, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_OK && res.data != NULL
       && res.type == NGX_TUNNY_IMAGE_PNG && res.width == 5
       && res.height == 7, "caller's probe of a GIF: rotated, PNG 5x7");
    free(res.data);

    /* a truncated header: the probe's reason, with or without its info */

    rc = ngx_tunny_image_probe(b.data, 8, &info);
    ok(rc == NGX_TUNNY_IMAGE_EINPUT
       && ngx_tunny_image_process(st, b.data, 8, &info, &p, &res)
          == NGX_TUNNY_IMAGE_EINPUT
       && strcmp(res.error, "truncated GIF header") == 0
       && ngx_tunny_image_process(st, b.data, 8, NULL, &p, &res)
          == NGX_TUNNY_IMAGE_EINPUT
       && strcmp(res.error, "truncated GIF header") == 0,
       "truncated GIF header: EINPUT, \"%s\"", res.error);
    free(b.data);

    /* a probe of other bytes cannot mislead the decoders */

    b = load("quad-land.jpg");
    other = load("quad-port.jpg");
    rc = ngx_tunny_image_probe(other.data, other.len, &info);
    rc |= ngx_tunny_image_process(st, b.data, b.len, &info, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_EINPUT && res.data == NULL
       && strcmp(res.error,
                 "truncated or corrupt JPEG: inconsistent frame headers")
          == 0,
       "a probe of other bytes: EINPUT \"%s\"", res.error);
    free(other.data);

    free(b.data);

    other = load("quad-port.webp");
    b = load("quad-land.webp");
    rc = ngx_tunny_image_probe(other.data, other.len, &info);
    rc |= ngx_tunny_image_process(st, b.data, b.len, &info, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_EINPUT && res.data == NULL
       && strcmp(res.error, "WebP decode failed: inconsistent headers") == 0,
       "a WebP probe of other bytes: EINPUT \"%s\"", res.error);
    free(other.data);
    free(b.data);
}


static void
test_dct_scale(void)
{
    ok(ngx_tunny_image_dct_scale(3000, 2000, 256, 170) == 1,
       "dct scale 3000x2000 -> 256x170: 1/8");
    ok(ngx_tunny_image_dct_scale(640, 480, 256, 192) == 4,
       "dct scale 640x480 -> 256x192: 4/8");
    ok(ngx_tunny_image_dct_scale(640, 480, 321, 200) == 5,
       "dct scale 640x480 -> 321x200: 5/8");
    ok(ngx_tunny_image_dct_scale(640, 480, 640, 480) == 8,
       "dct scale 640x480 -> 640x480: 8/8");
    ok(ngx_tunny_image_dct_scale(4000, 100, 256, 100) == 8,
       "dct scale limited by the other dimension");
    ok(ngx_tunny_image_dct_scale(9, 9, 2, 2) == 1,
       "dct scale rounds up like libjpeg: 9 * 1/8 -> 2");
}


static void
test_dims(ngx_tunny_image_state_t *st)
{
    int                        rc, k;
    unsigned                   i;
    char                       name[64];
    blob_t                     b;
    decoded_t                  d;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;
    static const char         *ext[2] = { "jpg", "webp" };
    static const struct {
        const char  *name;
        unsigned     ops, w, h, angle;
        int          rc;
        unsigned     ew, eh;
    } t[] = {
#define R NGX_TUNNY_IMAGE_OP_RESIZE
#define C NGX_TUNNY_IMAGE_OP_CROP
#define T NGX_TUNNY_IMAGE_OP_ROTATE
        { "land", R, 256, 256, 0, 0, 256, 192 },
        { "port", R, 256, 256, 0, 0, 192, 256 },
        { "square", R, 256, 256, 0, 0, 256, 256 },
        { "land", R, 100, 0, 0, 0, 100, 75 },
        { "land", R, 0, 100, 0, 0, 133, 100 },
        { "port", R, 0, 100, 0, 0, 75, 100 },
        { "land", R, 1000, 1000, 0, 1, 640, 480 },
        { "land", R, 640, 480, 0, 1, 640, 480 },
        { "land", R, 639, 480, 0, 0, 639, 479 },
        { "land", C, 200, 200, 0, 0, 200, 200 },
        { "port", C, 200, 200, 0, 0, 200, 200 },
        { "square", C, 200, 100, 0, 0, 200, 100 },
        { "port", C, 200, 100, 0, 0, 200, 100 },
        { "land", C, 100, 300, 0, 0, 100, 300 },
        { "land", C, 200, 0, 0, 0, 200, 480 },
        { "land", C, 0, 100, 0, 0, 640, 100 },
        { "land", C, 1000, 1000, 0, 1, 640, 480 },
        { "land", C, 1000, 100, 0, 0, 640, 100 },
        { "land", R|T, 256, 256, 90, 0, 192, 256 },
        { "land", R|T, 256, 256, 270, 0, 192, 256 },
        { "land", R|T, 256, 256, 180, 0, 256, 192 },
        { "port", R|T, 100, 100, 90, 0, 100, 75 },
        { "land", C|T, 200, 100, 90, 0, 150, 100 },
        { "land", C|T, 100, 100, 270, 0, 100, 100 },
        { "land", T, 0, 0, 90, 0, 480, 640 },
        { "land", T, 0, 0, 180, 0, 640, 480 },
        { "land", T, 0, 0, 0, 1, 640, 480 },
        { "square", R|T, 1000, 1000, 90, 0, 500, 500 },
#undef R
#undef C
#undef T
    };

    for (k = 0; k < 2; k++) {
        for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            snprintf(name, sizeof(name), "quad-%s.%s", t[i].name, ext[k]);
            b = load(name);

            params_init(&p, t[i].ops, t[i].w, t[i].h, t[i].angle);
            rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);

            memset(&d, 0, sizeof(d));

            if (rc == NGX_TUNNY_IMAGE_OK) {
                decode(&res, &d);
            }

            ok(rc == t[i].rc
               && (rc == NGX_TUNNY_IMAGE_ASIS
                   ? res.data == NULL && res.type == (k ? 2 : 1)
                   : res.width == t[i].ew && res.height == t[i].eh
                     && d.w == t[i].ew && d.h == t[i].eh
                     && res.type == (k ? 2 : 1)),
               "%s ops %u %ux%u angle %u: rc %d %ux%u (decoded %ux%u) %s",
               name, t[i].ops, t[i].w, t[i].h, t[i].angle, rc,
               res.width, res.height, d.w, d.h, res.error);

            decoded_free(&d);
            free(res.data);
            free(b.data);
        }
    }
}


static void
test_colours(ngx_tunny_image_state_t *st)
{
    int                        rc, k, out;
    char                       name[64];
    blob_t                     b;
    decoded_t                  d;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;
    static const char         *ext[2] = { "jpg", "webp" };

    for (k = 0; k < 2; k++) {
        for (out = 0; out < 2; out++) {
            snprintf(name, sizeof(name), "quad-land.%s", ext[k]);
            b = load(name);

            params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 256, 256, 0);
            p.out_type = out ? NGX_TUNNY_IMAGE_WEBP : NGX_TUNNY_IMAGE_JPEG;

            rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
            ok(rc == 0 && decode(&res, &d) == 0
               && quads(&d, RED, GREEN, BLUE, WHITE),
               "%s resize 256 to %s: quadrant colours", name,
               ngx_tunny_image_type_name(p.out_type));
            decoded_free(&d);
            free(res.data);

            /* a sharp edge stays sharp-ish: pixel just left of the middle */

            params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_ROTATE,
                        256, 256, 90);
            p.out_type = out ? NGX_TUNNY_IMAGE_WEBP : NGX_TUNNY_IMAGE_JPEG;
            rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
            ok(rc == 0 && decode(&res, &d) == 0
               && quads(&d, GREEN, WHITE, RED, BLUE),
               "%s rotate 90 is counter-clockwise (image_filter)", name);
            decoded_free(&d);
            free(res.data);

            p.angle = 270;
            rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
            ok(rc == 0 && decode(&res, &d) == 0
               && quads(&d, BLUE, RED, WHITE, GREEN),
               "%s rotate 270", name);
            decoded_free(&d);
            free(res.data);

            p.angle = 180;
            rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
            ok(rc == 0 && decode(&res, &d) == 0
               && quads(&d, WHITE, BLUE, GREEN, RED),
               "%s rotate 180", name);
            decoded_free(&d);
            free(res.data);

            free(b.data);
        }
    }

    /* crop keeps the centre: 640x480 crop 100x100 -> all four colours */

    b = load("quad-land.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_CROP, 100, 100, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 100 && d.h == 100
       && quads(&d, RED, GREEN, BLUE, WHITE), "crop keeps the centre");
    decoded_free(&d);
    free(res.data);

    /* crop a band: 640x480 crop 200 x - : x 220..420 */

    params_init(&p, NGX_TUNNY_IMAGE_OP_CROP, 200, 0, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 200 && d.h == 480
       && quads(&d, RED, GREEN, BLUE, WHITE), "crop 200 x - band");
    decoded_free(&d);
    free(res.data);

    /* sharpen keeps size and colours */

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 256, 256, 0);
    p.sharpen = 80;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 256 && d.h == 192
       && quads(&d, RED, GREEN, BLUE, WHITE), "sharpen 80");
    decoded_free(&d);
    free(res.data);

    free(b.data);
}


static void
test_orientation(ngx_tunny_image_state_t *st)
{
    int                        o, rc;
    char                       name[64];
    blob_t                     b;
    decoded_t                  d;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    for (o = 1; o <= 8; o++) {
        snprintf(name, sizeof(name), "orient-%d.jpg", o);
        b = load(name);

        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 80, 80, 0);
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        ok(rc == 0 && decode(&res, &d) == 0 && d.w == 80 && d.h == 60
           && quads(&d, RED, GREEN, BLUE, WHITE) && d.app1 == 0,
           "%s resize 80x80: upright 80x60, no EXIF left", name);
        decoded_free(&d);
        free(res.data);

        /* no resize: upright at full size, or as is when upright */

        params_init(&p, 0, 0, 0, 0);
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);

        if (o == 1) {
            ok(rc == NGX_TUNNY_IMAGE_ASIS, "%s untouched: as is", name);

        } else {
            ok(rc == 0 && decode(&res, &d) == 0 && d.w == 160 && d.h == 120
               && quads(&d, RED, GREEN, BLUE, WHITE),
               "%s no resize: upright 160x120", name);
        }

        decoded_free(&d);
        free(res.data);

        /* orientation then rotate 90 ccw, then crop 50x50 of the centre */

        params_init(&p, NGX_TUNNY_IMAGE_OP_CROP|NGX_TUNNY_IMAGE_OP_ROTATE,
                    60, 60, 90);
        p.out_type = NGX_TUNNY_IMAGE_WEBP;
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        ok(rc == 0 && decode(&res, &d) == 0 && d.w == 60 && d.h == 60
           && quads(&d, GREEN, WHITE, RED, BLUE),
           "%s crop 60x60 rotate 90 to webp", name);
        decoded_free(&d);
        free(res.data);

        free(b.data);
    }

    /* bogus EXIF: orientation 1 (or the valid entry), never a crash */

    b = load("bad-exif-1.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 64, 64, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 64 && d.h == 48,
       "bad EXIF offset: orientation 1");
    decoded_free(&d);
    free(res.data);
    free(b.data);

    /* extreme factor after DCT scaling: 3000x2000 -> 3x2, and 1 x - */

    b = load("big.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 3, 0, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && res.width == 3 && res.height == 2,
       "big.jpg resize 3 x -: %ux%u %s", res.width, res.height, res.error);
    free(res.data);

    params_init(&p, NGX_TUNNY_IMAGE_OP_CROP, 1, 1, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && res.width == 1 && res.height == 1,
       "big.jpg crop 1x1: %ux%u %s", res.width, res.height, res.error);
    free(res.data);
    free(b.data);
}


static void
test_metadata(ngx_tunny_image_state_t *st)
{
    int                        rc;
    blob_t                     b, icc;
    decoded_t                  d;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    icc = load("test.icc");
    b = load("icc-exif.jpg");

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 320, 320, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 320 && d.h == 240,
       "icc-exif.jpg resized");
    ok(d.icc_len == icc.len && d.icc && memcmp(d.icc, icc.data, icc.len) == 0,
       "JPEG output keeps the ICC profile (%u bytes)", d.icc_len);
    ok(d.app1 == 0 && d.com == 0, "JPEG output has no EXIF, XMP, comment");
    ok(d.progressive == 0, "baseline without interlace");
    decoded_free(&d);
    free(res.data);

    p.out_type = NGX_TUNNY_IMAGE_WEBP;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.icc_len == icc.len
       && memcmp(d.icc, icc.data, icc.len) == 0 && d.app1 == 0,
       "WebP output from JPEG keeps ICC, no EXIF/XMP");
    decoded_free(&d);
    free(res.data);

    /* image_filter re-encodes a fitting JPEG when APPn data is over 5% */

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 1000, 1000, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 640 && d.app1 == 0
       && d.icc_len == icc.len,
       "fitting JPEG with >5%% metadata is re-encoded (image_filter force)");
    decoded_free(&d);
    free(res.data);
    free(b.data);

    b = load("icc.webp");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 100 && d.h == 75
       && d.icc_len == icc.len && memcmp(d.icc, icc.data, icc.len) == 0,
       "WebP output keeps the ICCP chunk");
    decoded_free(&d);
    free(res.data);

    p.out_type = NGX_TUNNY_IMAGE_JPEG;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.icc_len == icc.len
       && quads(&d, RED, GREEN, BLUE, WHITE),
       "JPEG output from WebP carries its ICC");
    decoded_free(&d);
    free(res.data);
    free(b.data);

    /* progressive */

    b = load("quad-land.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 200, 200, 0);
    p.interlace = 1;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.progressive
       && quads(&d, RED, GREEN, BLUE, WHITE), "interlace: progressive JPEG");
    decoded_free(&d);
    free(res.data);
    free(b.data);

    b = load("progressive.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 200, 200, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && !d.progressive && d.w == 200
       && d.h == 150 && quads(&d, RED, GREEN, BLUE, WHITE),
       "progressive input decoded");
    decoded_free(&d);
    free(res.data);
    free(b.data);

    /* greyscale, CMYK, alpha */

    b = load("gray.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 320, 320, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.gray && d.w == 320
       && quads(&d, 30, 30, 30, 100, 100, 100, 170, 170, 170, 240, 240, 240),
       "greyscale JPEG stays greyscale");
    decoded_free(&d);
    free(res.data);

    p.out_type = NGX_TUNNY_IMAGE_WEBP;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 320
       && quads(&d, 30, 30, 30, 100, 100, 100, 170, 170, 170, 240, 240, 240),
       "greyscale JPEG to WebP");
    decoded_free(&d);
    free(res.data);
    free(b.data);

    b = load("cmyk.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 320, 320, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 320
       && quads(&d, RED, GREEN, BLUE, WHITE), "Adobe CMYK JPEG to RGB");
    decoded_free(&d);
    free(res.data);
    free(b.data);

    b = load("alpha.webp");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.ch == 4 && d.w == 100
       && d.h == 50 && d.rgb[(25 * 100 + 20) * 4 + 3] > 240
       && d.rgb[(25 * 100 + 80) * 4 + 3] < 16, "WebP alpha kept");
    decoded_free(&d);
    free(res.data);

    p.out_type = NGX_TUNNY_IMAGE_JPEG;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == 0 && decode(&res, &d) == 0 && d.w == 100
       && near(&d, 20, 25, RED, 40) && near(&d, 80, 25, WHITE, 40),
       "WebP alpha to JPEG: flattened on white");
    decoded_free(&d);
    free(res.data);
    free(b.data);

    free(icc.data);
}


static void
test_errors(ngx_tunny_image_state_t *st)
{
    int                        rc;
    unsigned                   i;
    blob_t                     b;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;
    static const struct {
        const char  *name;
        unsigned     ops, w, h, angle;
        int          jq;
        uint64_t     max;
        int          rc;
        const char  *error;
    } t[] = {
#define R NGX_TUNNY_IMAGE_OP_RESIZE
        { "garbage.bin", R, 100, 100, 0, 80, 0, -1, "not an image" },
        { "empty.bin", R, 100, 100, 0, 80, 0, -1, "not an image" },
        { "ffd8.bin", R, 100, 100, 0, 80, 0, -1, "truncated JPEG header" },
        { "truncated-header.jpg", R, 100, 100, 0, 80, 0, -1,
          "truncated JPEG header" },
        { "zero-dims.jpg", R, 100, 100, 0, 80, 0, -1,
          "JPEG with zero width or height" },
        { "truncated.jpg", R, 100, 100, 0, 80, 0, -1,
          "truncated or corrupt JPEG: Premature end of JPEG file" },
        { "truncated.webp", R, 100, 100, 0, 80, 0, -1,
          "WebP decode failed: truncated data" },
        { "huge.jpg", R, 100, 100, 0, 80, 50000000, -2,
          "60000x60000 image exceeds tunny_image_max_pixels 50000000" },
        { "huge.webp", R, 100, 100, 0, 80, 50000000, -2,
          "16000x16000 image exceeds tunny_image_max_pixels 50000000" },
        { "huge.jpg", R, 100, 100, 0, 80, 0, -1,
          "truncated or corrupt JPEG: 1671 bytes cannot hold 60000x60000" },
        { "quad-land.jpg", R, 100, 100, 0, 80, 100000, -2,
          "640x480 image exceeds tunny_image_max_pixels 100000" },
        { "quad-land.jpg", R, 100, 100, 45, 80, 0, -3,
          "invalid rotation angle 45 (90, 180 or 270)" },
        { "quad-land.jpg", R, 100, 100, 0, 0, 0, -3,
          "invalid jpeg quality 0 (1..100)" },
        { "quad-land.jpg", R, 100, 100, 0, 101, 0, -3,
          "invalid jpeg quality 101 (1..100)" },
        { "quad-land.jpg", R|NGX_TUNNY_IMAGE_OP_CROP, 100, 100, 0, 80, 0, -3,
          "resize and crop are exclusive" },
        { "quad-land.png", R, 100, 100, 0, 80, 100000, -2,
          "640x480 image exceeds tunny_image_max_pixels 100000" },
        { "quad.gif", R, 10, 10, 90, 80, 1000, -2,
          "64x48 image exceeds tunny_image_max_pixels 1000" },
#undef R
    };

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        b = load(t[i].name);

        params_init(&p, t[i].ops, t[i].w, t[i].h, t[i].angle);
        p.jpeg_quality = t[i].jq;
        p.max_pixels = t[i].max;

        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);

        ok(rc == t[i].rc && strcmp(res.error, t[i].error) == 0
           && res.data == NULL,
           "%s: rc %d \"%s\"", t[i].name, rc, res.error);

        free(res.data);
        free(b.data);
    }

    /* bit flips: no crash, an image or a 415 */

    b = load("bitflip.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_OK || rc == NGX_TUNNY_IMAGE_EINPUT,
       "bit-flipped JPEG: rc %d %s", rc, res.error);
    free(res.data);
    free(b.data);

    /* every truncation of a small JPEG and WebP: never a crash */

    {
        int         bad;
        const char *names[3] = { "orient-6.jpg", "quad-land.webp",
                                 "progressive.jpg" };

        for (i = 0; i < 3; i++) {
            size_t  n, step;

            b = load(names[i]);
            bad = 0;
            step = b.len / 97 + 1;

            for (n = 0; n < b.len; n += step) {
                unsigned char  *c = malloc(n + 1);

                memcpy(c, b.data, n);
                rc = ngx_tunny_image_process(st, c, n, NULL, &p, &res);
                bad += (rc != NGX_TUNNY_IMAGE_EINPUT);
                free(res.data);
                free(c);
            }

            ok(bad == 0, "%s: every truncation is EINPUT", names[i]);
            free(b.data);
        }
    }
}


/*
 * The hostile corpus of t/tools/gen-hostile (DIR/hostile/MANIFEST), when
 * present: every file through resize 100x100 and through crop 150x150 +
 * rotate 90 + WebP output.  Never ENOMEM or EPARAM, an error always has a
 * reason, "ok" files give an image, "reject" files an EINPUT/ELIMIT (the
 * files over 10 MB are rejected by tunny_image_buffer in nginx, not here).
 */

static void
test_hostile(ngx_tunny_image_state_t *st)
{
    int                        rc, pass, bad, n;
    FILE                      *m;
    char                       line[512], name[256], expect[16];
    char                       path[4096];
    blob_t                     b;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    snprintf(path, sizeof(path), "%s/hostile/MANIFEST", dir);

    m = fopen(path, "r");
    if (m == NULL) {
        diag("no %s: hostile corpus skipped", path);
        return;
    }

    for (pass = 0; pass < 2; pass++) {

        rewind(m);
        bad = 0;
        n = 0;

        while (fgets(line, sizeof(line), m)) {
            if (line[0] == '#'
                || sscanf(line, "%255s %15s", name, expect) != 2)
            {
                continue;
            }

            snprintf(path, sizeof(path), "hostile/%s", name);

            b = load(path);

            if (pass == 0) {
                params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);

            } else {
                params_init(&p, NGX_TUNNY_IMAGE_OP_CROP
                                |NGX_TUNNY_IMAGE_OP_ROTATE, 150, 150, 90);
                p.out_type = NGX_TUNNY_IMAGE_WEBP;
                p.sharpen = 50;
                /* profiles through lcms2, as the nginx default */
                p.colour = NGX_TUNNY_IMAGE_COLOUR_SRGB;
            }

            rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
            n++;

            if (rc == NGX_TUNNY_IMAGE_ENOMEM || rc == NGX_TUNNY_IMAGE_EPARAM
                || (rc < 0 && res.error[0] == '\0')
                || (rc == NGX_TUNNY_IMAGE_OK
                    && (res.data == NULL || res.len == 0))
                || (rc != NGX_TUNNY_IMAGE_OK && res.data != NULL)
                || (strcmp(expect, "ok") == 0 && rc < 0)
                || (strcmp(expect, "reject") == 0 && rc >= 0
                    && b.len <= 10 * 1024 * 1024))
            {
                bad++;
                diag("%s (%s, pass %d): rc %d \"%s\"", name, expect, pass,
                     rc, res.error);
            }

            free(res.data);
            free(b.data);
            ngx_tunny_image_state_trim(st, 16 * 1024 * 1024);
        }

        ok(bad == 0 && n > 100, "hostile corpus, %s: %d files, %d wrong",
           pass ? "crop + rotate + WebP" : "resize", n, bad);
    }

    fclose(m);
}


/*
 * Sets the cancel flag after delay_ms and notes how much CPU time the
 * worker thread had used by then: the CPU time it spends after the flag
 * is what a checkpoint bounds, whatever else the machine runs
 */

typedef struct {
    int        *flag;
    int         delay_ms;
    clockid_t   worker;
    double      worker_ms;
} canceller_t;


static void *
canceller(void *arg)
{
    canceller_t  *c = arg;

    usleep(c->delay_ms * 1000);
    c->worker_ms = clock_ms(c->worker);
    __atomic_store_n(c->flag, 1, __ATOMIC_RELAXED);

    return NULL;
}


static void
test_cancel(ngx_tunny_image_state_t *st)
{
    int                        rc, flag, i;
    double                     after;
    blob_t                     b;
    pthread_t                  th;
    canceller_t                c;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    b = load("quad-land.jpg");
    flag = 1;
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    p.cancel = &flag;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ECANCEL && strcmp(res.error, "cancelled") == 0,
       "cancel flag set before the call: ECANCEL");
    free(b.data);

    if (!bench) {
        return;
    }

    /* cancelled while running: full-size decode + rotate + encode */

    b = load("big.jpg");

    for (i = 0; i < 2; i++) {
        flag = 0;
        params_init(&p, NGX_TUNNY_IMAGE_OP_ROTATE, 0, 0, 90);
        p.out_type = i ? NGX_TUNNY_IMAGE_WEBP : NGX_TUNNY_IMAGE_JPEG;
        p.cancel = &flag;

        c.flag = &flag;
        c.delay_ms = i ? 150 : 20;
        pthread_getcpuclockid(pthread_self(), &c.worker);

        pthread_create(&th, NULL, canceller, &c);
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        after = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c.worker_ms;
        pthread_join(th, NULL);

        ok(rc == NGX_TUNNY_IMAGE_ECANCEL && after < 60,
           "cancel while running (%s): rc %d, %.1f ms of CPU after the "
           "flag (set at %d ms)", i ? "webp encode" : "jpeg", rc, after,
           c.delay_ms);
        free(res.data);
    }

    free(b.data);
}


/*
 * HEIC: the box probe on the hand-made headers of gen-hostile (always),
 * and with libheif (the fixtures of gen-heic) the decode, the orientation,
 * the cancel bound and the decode cost per megapixel.
 */

static int
heic_have(const char *name)
{
    char  path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    return access(path, R_OK) == 0;
}


static void
test_heic(ngx_tunny_image_state_t *st)
{
    int                        rc, flag, i;
    double                     t0, t1, full, cpu;
    blob_t                     b;
    unsigned                   k;
    struct timespec            c0, c1;
    pthread_t                  th;
    canceller_t                c;
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_info_t     info;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;
    static const struct {
        const char  *name;
        int          rc;
        int          type;
        unsigned     w, h;
        const char  *error;
    } probes[] = {
        { "hostile/heic-huge.heic", NGX_TUNNY_IMAGE_OK,
          NGX_TUNNY_IMAGE_HEIC, 65000, 65000, NULL },
        { "hostile/heic-irot-huge.heic", NGX_TUNNY_IMAGE_OK,
          NGX_TUNNY_IMAGE_HEIC, 20, 100000, NULL },
        { "hostile/heic-mif1.heic", NGX_TUNNY_IMAGE_OK,
          NGX_TUNNY_IMAGE_HEIC, 320, 240, NULL },
        { "hostile/heic-grid-huge.heic", NGX_TUNNY_IMAGE_OK,
          NGX_TUNNY_IMAGE_HEIC, 30000, 30000, NULL },
        { "hostile/heic-grid-bomb.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "HEIC grid tiles larger than the grid" },
        { "hostile/heic-grid-many.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "HEIC grid with too many tiles" },
        { "hostile/heic-grid-av01.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "HEIC grid tile that is not HEVC" },
        { "hostile/heic-grid-no-ispe.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0,
          "HEIC grid tile without a size (ispe)" },
        { "hostile/heic-no-ispe.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0,
          "HEIC primary image without a size (ispe)" },
        { "hostile/heic-meta-lie.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "truncated or corrupt HEIF box" },
        { "hostile/heic-meta-tiny.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "truncated or corrupt HEIF box" },
        { "hostile/heic-mif1-av01.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_NONE, 0, 0, "not an image" },
        { "hostile/heic-overlay.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "HEIF primary image is not HEVC" },
        { "hostile/heic-grid-lie.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "HEIC grid larger than its ispe" },
        { "hostile/heic-sps-bomb.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "HEIC coded size larger than its ispe" },
        { "hostile/heic-sps-ok.heic", NGX_TUNNY_IMAGE_OK,
          NGX_TUNNY_IMAGE_HEIC, 64, 64, NULL },
        { "hostile/heic-item-huge.heic", NGX_TUNNY_IMAGE_EINPUT,
          NGX_TUNNY_IMAGE_HEIC, 0, 0, "HEIF item larger than its image" },
    };

    for (k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
        b = load(probes[k].name);
        rc = ngx_tunny_image_probe(b.data, b.len, &info);

        ok(rc == probes[k].rc && info.type == probes[k].type
           && info.width == probes[k].w && info.height == probes[k].h
           && info.orientation == 1
           && (probes[k].error == NULL
               ? info.error == NULL
               : info.error != NULL
                 && strcmp(info.error, probes[k].error) == 0),
           "heic probe %s: rc %d type %d %ux%u (%s)", probes[k].name, rc,
           info.type, info.width, info.height,
           info.error ? info.error : "no error");
        free(b.data);
    }

    ok(strcmp(ngx_tunny_image_type_name(NGX_TUNNY_IMAGE_HEIC), "heic") == 0
       && strcmp(ngx_tunny_image_mime_type(NGX_TUNNY_IMAGE_HEIC),
                 "image/heic") == 0
       && ngx_tunny_image_transforms(NGX_TUNNY_IMAGE_HEIC),
       "heic: type name, MIME type, transformed");

    if (!ngx_tunny_image_heif_built()) {
        b = load("hostile/heic-mif1.heic");
        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        ok(rc == NGX_TUNNY_IMAGE_EINPUT
           && strcmp(res.error, "HEIC support not built") == 0,
           "heic without libheif: %d (%s)", rc, res.error);
        free(b.data);
        return;
    }

    if (!heic_have("heic-quad.heic")) {
        ok(1, "# SKIP heic: no fixtures of gen-heic in %s", dir);
        return;
    }

    /* decode: the quads, and irot 90 applied by libheif, once */

    for (i = 0; i < 2; i++) {
        b = load(i ? "heic-rot90.heic" : "heic-quad.heic");
        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 64, 64, 0);
        rc = ngx_tunny_image_pixels(st, b.data, b.len, &p, &res, &pix);

        if (ok(rc == NGX_TUNNY_IMAGE_OK && pix.channels == 3
               && pix.width == (i ? 48u : 64u)
               && pix.height == (i ? 64u : 48u),
               "heic decode %s: rc %d %ux%u ch %u (%s)",
               i ? "irot 90" : "plain", rc, pix.width, pix.height,
               pix.channels, res.error))
        {
            /* top-left: red as stored, green once turned anti-clockwise */

            const unsigned char  *q = pix.data + (pix.height / 4) * pix.stride
                                      + (pix.width / 4) * 3;

            ok(i ? (q[0] < 40 && q[1] > 215 && q[2] < 40)
                 : (q[0] > 215 && q[1] < 40 && q[2] < 40),
               "heic %s: top-left quadrant %u,%u,%u", i ? "irot 90" : "plain",
               q[0], q[1], q[2]);
        }

        free(b.data);
    }

    /* max_pixels inside the library too (the probe's size) */

    b = load("heic-quad.heic");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 64, 64, 0);
    p.max_pixels = 1000;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ELIMIT
       && strstr(res.error, "640x480 image exceeds") != NULL,
       "heic max_pixels: %d (%s)", rc, res.error);

    /* truncated: 415 from libheif, at every cut of a coarse grid */

    for (k = 1; k < 16; k++) {
        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 64, 64, 0);
        rc = ngx_tunny_image_process(st, b.data, b.len * k / 16, NULL, &p,
                                     &res);
        if (rc != NGX_TUNNY_IMAGE_EINPUT) {
            break;
        }
    }

    ok(k == 16, "heic truncated at k/16: EINPUT for every cut (stopped at "
       "%u: rc %d, %s)", k, rc, res.error);
    free(b.data);

    if (!bench) {
        return;
    }

    /* the cost of a decode per megapixel, and the cancel bound: a flag
     * set 5 ms into the job is seen after the whole heif_decode_image() */

    b = load("heic-photo.heic");
    full = 1e9;
    cpu = 1e9;

    for (i = 0; i < 5; i++) {
        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 256, 256, 0);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        t0 = now_ms();
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        t1 = now_ms();
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        free(res.data);
        full = (t1 - t0 < full) ? t1 - t0 : full;
        t1 = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
        cpu = (t1 < cpu) ? t1 : cpu;
    }

    /* CPU of the process: libde265's worker thread included */

    ok(rc == NGX_TUNNY_IMAGE_OK, "heic 2048x1536 -> 256: best of 5 %.1f ms "
       "wall, %.1f ms CPU: %.1f ms CPU per megapixel (decode, resize, "
       "encode)", full, cpu, cpu / (2048.0 * 1536 / 1e6));

    flag = 0;
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 256, 256, 0);
    p.cancel = &flag;
    c.flag = &flag;
    c.delay_ms = 5;

    t0 = now_ms();
    pthread_create(&th, NULL, canceller, &c);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    t1 = now_ms();
    pthread_join(th, NULL);
    free(res.data);

    ok(rc == NGX_TUNNY_IMAGE_ECANCEL && t1 - t0 < 3 * full + 100,
       "heic cancel 5 ms in: rc %d after %.1f ms (one whole decode: the "
       "bound; a full job %.1f ms)", rc, t1 - t0, full);

    free(b.data);
}


static void
test_state(void)
{
    int                        rc;
    blob_t                     b;
    unsigned char             *first;
    size_t                     first_len;
    ngx_tunny_image_state_t   *st;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    st = ngx_tunny_image_state_create();
    b = load("quad-square.jpg");

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 99, 99, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    first = res.data;
    first_len = res.len;

    ngx_tunny_image_state_trim(st, 0);
    rc |= ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);

    ok(rc == 0 && res.len == first_len
       && memcmp(res.data, first, first_len) == 0,
       "same output after state_trim(0): deterministic, state reusable");

    free(first);
    free(res.data);
    free(b.data);

    ngx_tunny_image_state_destroy(st);
    ngx_tunny_image_state_destroy(NULL);
}


static void
test_bench(ngx_tunny_image_state_t *st)
{
    int                        rc, i, n;
    double                     t0, t1, best;
    blob_t                     b;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    b = load("big.jpg");
    n = bench ? 30 : 1;
    best = 1e9;
    rc = 0;

    for (i = 0; i < n; i++) {
        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 256, 256, 0);
        p.jpeg_quality = 80;

        t0 = now_ms();
        rc |= ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        t1 = now_ms();

        if (t1 - t0 < best) {
            best = t1 - t0;
        }

        if (i == 0) {
            ok(rc == 0 && res.width == 256 && res.height == 170,
               "big.jpg 3000x2000 -> 256x170: rc %d %ux%u %zu bytes",
               rc, res.width, res.height, res.len);
        }

        free(res.data);
    }

    if (bench) {
        diag("bench: 3000x2000 JPEG (%zu bytes) -> fit 256x256 q80: "
             "best %.2f ms of %d", b.len, best, n);

        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 256, 256, 0);
        p.out_type = NGX_TUNNY_IMAGE_WEBP;
        best = 1e9;

        for (i = 0; i < n; i++) {
            t0 = now_ms();
            rc |= ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
            t1 = now_ms();

            if (t1 - t0 < best) {
                best = t1 - t0;
            }

            free(res.data);
        }

        diag("bench: 3000x2000 JPEG -> fit 256x256 WebP q80: best %.2f ms",
             best);
    }

    free(b.data);
}


/* PNG: the decoder (libspng, independent of the library) for checks */

static int
decode_png(const unsigned char *p, size_t len, decoded_t *d)
{
    int                rc;
    size_t             size;
    spng_ctx          *ctx;
    struct spng_ihdr   ihdr;
    struct spng_iccp   iccp;

    ctx = spng_ctx_new(0);
    if (ctx == NULL) {
        return -1;
    }

    rc = -1;

    if (spng_set_png_buffer(ctx, p, len) != 0
        || spng_get_ihdr(ctx, &ihdr) != 0
        || spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &size) != 0)
    {
        goto done;
    }

    d->rgb = malloc(size);
    if (d->rgb == NULL
        || spng_decode_image(ctx, d->rgb, size, SPNG_FMT_RGBA8,
                             SPNG_DECODE_TRNS) != 0)
    {
        goto done;
    }

    d->w = ihdr.width;
    d->h = ihdr.height;
    d->ch = 4;
    d->gray = (ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE);
    d->progressive = ihdr.interlace_method;

    if (spng_get_iccp(ctx, &iccp) == 0) {
        d->icc = malloc(iccp.profile_len);
        memcpy(d->icc, iccp.profile, iccp.profile_len);
        d->icc_len = (unsigned) iccp.profile_len;
    }

    rc = 0;

done:

    spng_ctx_free(ctx);

    return rc;
}


static unsigned
alpha_at(const decoded_t *d, unsigned x, unsigned y)
{
    return (d->ch == 4) ? d->rgb[((size_t) y * d->w + x) * 4 + 3] : 255;
}


/* one PNG fixture through the pipeline: rc, and the decoded output */

static int
png_run(ngx_tunny_image_state_t *st, const char *name, unsigned w,
    unsigned h, int out_type, ngx_tunny_image_result_t *res, decoded_t *d)
{
    int                        rc;
    blob_t                     b;
    ngx_tunny_image_params_t   p;

    b = load(name);
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, w, h, 0);
    p.out_type = out_type;
    p.png_compression = 6;

    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, res);
    free(b.data);

    memset(d, 0, sizeof(decoded_t));

    if (rc == NGX_TUNNY_IMAGE_OK && decode(res, d) != 0) {
        diag("%s: output does not decode", name);
        return -100;
    }

    return rc;
}


static void
test_png_decode(ngx_tunny_image_state_t *st)
{
    int                        rc;
    blob_t                     icc;
    decoded_t                  d;
    ngx_tunny_image_result_t   res;

    ok(ngx_tunny_image_transforms(NGX_TUNNY_IMAGE_PNG),
       "PNG is transformed");

    rc = png_run(st, "quad-land.png", 100, 100, 0, &res, &d);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_PNG && d.w == 100
       && d.h == 75 && quads(&d, RED, GREEN, BLUE, WHITE)
       && near(&d, 5, 5, RED, 0) && near(&d, 94, 70, WHITE, 0),
       "quad-land.png resize 100: PNG 100x75, exact quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad-land.png", 100, 100, NGX_TUNNY_IMAGE_JPEG, &res,
                 &d);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_JPEG && d.w == 100
       && d.h == 75 && quads(&d, RED, GREEN, BLUE, WHITE),
       "quad-land.png to JPEG: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad-land.png", 100, 100, NGX_TUNNY_IMAGE_WEBP, &res,
                 &d);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_WEBP && d.w == 100
       && d.h == 75 && quads(&d, RED, GREEN, BLUE, WHITE),
       "quad-land.png to WebP: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "grey.png", 32, 32, 0, &res, &d);
    ok(rc == 0 && d.w == 32 && d.h == 24 && d.gray
       && near(&d, 16, 12, 0x60, 0x60, 0x60, 0),
       "grey.png: grey PNG out, 32x24, value 0x60");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad16.png", 32, 32, 0, &res, &d);
    ok(rc == 0 && d.w == 32 && d.h == 24 && !d.gray
       && quads(&d, RED, GREEN, BLUE, WHITE) && near(&d, 2, 2, RED, 0),
       "quad16.png: 16 bits to 8, 32x24, exact colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "adam7.png", 32, 32, 0, &res, &d);
    ok(rc == 0 && d.w == 32 && d.h == 24 && !d.progressive
       && quads(&d, RED, GREEN, BLUE, WHITE) && near(&d, 30, 22, WHITE, 0),
       "adam7.png: deinterlaced, 32x24, exact colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "palette-trns.png", 32, 32, 0, &res, &d);
    ok(rc == 0 && d.w == 32 && d.h == 24
       && near(&d, 4, 12, RED, 0) && alpha_at(&d, 4, 12) == 255
       && alpha_at(&d, 28, 12) == 0,
       "palette-trns.png: tRNS as alpha, red opaque, right transparent");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "palette-trns.png", 32, 32, NGX_TUNNY_IMAGE_JPEG, &res,
                 &d);
    ok(rc == 0 && near(&d, 4, 12, RED, 8) && near(&d, 28, 12, WHITE, 8),
       "palette-trns.png to JPEG: transparency flattened on white");
    decoded_free(&d);
    free(res.data);

    icc = load("test.icc");

    rc = png_run(st, "icc.png", 32, 32, 0, &res, &d);
    ok(rc == 0 && d.icc_len == icc.len
       && memcmp(d.icc, icc.data, icc.len) == 0,
       "icc.png: iCCP kept in PNG output (%u bytes)", d.icc_len);
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "icc.png", 32, 32, NGX_TUNNY_IMAGE_JPEG, &res, &d);
    ok(rc == 0 && d.icc_len == icc.len
       && memcmp(d.icc, icc.data, icc.len) == 0,
       "icc.png to JPEG: the profile as APP2");
    decoded_free(&d);
    free(res.data);
    free(icc.data);

    rc = png_run(st, "anim.png", 16, 16, 0, &res, &d);
    ok(rc == 0 && d.w == 16 && d.h == 16 && near(&d, 8, 8, RED, 0),
       "anim.png (APNG): the default image, red, 16x16");
    decoded_free(&d);
    free(res.data);
}


static void
test_png_alpha(ngx_tunny_image_state_t *st)
{
    int                        rc, halo;
    unsigned                   x, y, a;
    decoded_t                  d;
    const unsigned char       *px;
    ngx_tunny_image_result_t   res;

    /* 200x100, left opaque white, right transparent black, to 50x25 */

    rc = png_run(st, "edge.png", 50, 50, 0, &res, &d);

    halo = 0;

    for (y = 0; rc == 0 && y < d.h; y++) {
        for (x = 20; x < 30; x++) {
            px = d.rgb + ((size_t) y * d.w + x) * 4;
            a = px[3];

            if (a > 0 && (px[0] < 250 || px[1] < 250 || px[2] < 250)) {
                if (halo++ == 0) {
                    diag("pixel %u,%u: %u,%u,%u alpha %u", x, y, px[0],
                         px[1], px[2], a);
                }
            }
        }
    }

    ok(rc == 0 && d.w == 50 && d.h == 25 && halo == 0
       && alpha_at(&d, 10, 10) == 255 && alpha_at(&d, 40, 10) == 0
       && alpha_at(&d, 24, 10) > 0 && alpha_at(&d, 25, 10) < 255,
       "edge.png resized: alpha kept, no dark halo at the edge (%d)",
       halo);
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "edge.png", 50, 50, NGX_TUNNY_IMAGE_WEBP, &res, &d);
    ok(rc == 0 && d.ch == 4 && alpha_at(&d, 40, 10) < 8
       && alpha_at(&d, 10, 10) > 247,
       "edge.png to WebP: alpha kept");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "edge.png", 50, 50, NGX_TUNNY_IMAGE_JPEG, &res, &d);
    ok(rc == 0 && near(&d, 10, 10, WHITE, 8) && near(&d, 40, 10, WHITE, 8)
       && near(&d, 25, 10, WHITE, 8),
       "edge.png to JPEG: flattened on white, white everywhere");
    decoded_free(&d);
    free(res.data);
}


static void
test_png_encode(ngx_tunny_image_state_t *st)
{
    int                        rc, i;
    size_t                     len[2];
    blob_t                     b;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    b = load("quad-land.jpg");

    for (i = 0; i < 2; i++) {
        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 320, 320, 0);
        p.out_type = NGX_TUNNY_IMAGE_PNG;
        p.png_compression = i ? 9 : 0;

        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        len[i] = (rc == 0) ? res.len : 0;
        ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_PNG && res.width == 320
           && res.height == 240
           && memcmp(res.data, "\x89PNG\r\n\x1a\n", 8) == 0,
           "JPEG to PNG, compression %d: 320x240, %zu bytes",
           p.png_compression, len[i]);
        free(res.data);
    }

    ok(len[0] > 2 * len[1], "compression 0 is larger than 9: %zu > %zu",
       len[0], len[1]);

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 320, 320, 0);
    p.out_type = NGX_TUNNY_IMAGE_PNG;
    p.png_compression = 10;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_EPARAM
       && strcmp(res.error, "invalid PNG compression 10 (0..9)") == 0,
       "PNG compression 10: EPARAM \"%s\"", res.error);

    free(b.data);

    /* a PNG that fits already stays as it is */

    b = load("quad-land.png");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 1000, 1000, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ASIS && res.type == NGX_TUNNY_IMAGE_PNG
       && res.width == 640 && res.height == 480,
       "quad-land.png within the box: as is");
    free(b.data);
}


static void
test_png_cancel(ngx_tunny_image_state_t *st)
{
    int                        rc, flag;
    blob_t                     b;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    b = load("quad-land.png");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    flag = 1;
    p.cancel = &flag;

    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ECANCEL && res.data == NULL,
       "PNG with the cancel flag set: ECANCEL");
    free(b.data);
}


/* AVIF */

static int
decode_avif(const unsigned char *p, size_t len, decoded_t *d)
{
    int            rc;
    avifImage     *img;
    avifDecoder   *dec;
    avifRGBImage   rgb;

    img = avifImageCreateEmpty();
    dec = avifDecoderCreate();
    rc = -1;

    if (img == NULL || dec == NULL
        || avifDecoderReadMemory(dec, img, p, len) != AVIF_RESULT_OK)
    {
        goto done;
    }

    avifRGBImageSetDefaults(&rgb, img);
    rgb.depth = 8;
    rgb.format = img->alphaPlane ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB;

    d->w = img->width;
    d->h = img->height;
    d->ch = img->alphaPlane ? 4 : 3;
    d->rgb = malloc((size_t) d->w * d->h * d->ch);
    rgb.pixels = d->rgb;
    rgb.rowBytes = d->w * d->ch;

    if (d->rgb == NULL || avifImageYUVToRGB(img, &rgb) != AVIF_RESULT_OK) {
        goto done;
    }

    if (img->icc.size) {
        d->icc = malloc(img->icc.size);
        memcpy(d->icc, img->icc.data, img->icc.size);
        d->icc_len = (unsigned) img->icc.size;
    }

    rc = 0;

done:

    avifDecoderDestroy(dec);
    avifImageDestroy(img);

    return rc;
}


static void
test_avif_decode(ngx_tunny_image_state_t *st)
{
    int                        rc, flag;
    blob_t                     b, icc;
    decoded_t                  d;
    ngx_tunny_image_info_t     info;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    ok(ngx_tunny_image_transforms(NGX_TUNNY_IMAGE_AVIF)
       && ngx_tunny_image_encodes(NGX_TUNNY_IMAGE_AVIF),
       "AVIF is transformed and written");

    b = load("quad-land.avif");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    ok(rc == 0 && info.type == NGX_TUNNY_IMAGE_AVIF && info.width == 640
       && info.height == 480 && info.orientation == 1,
       "quad-land.avif: probe AVIF 640x480");
    free(b.data);

    b = load("irot.avif");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    ok(rc == 0 && info.width == 120 && info.height == 160
       && info.orientation == 6,
       "irot.avif: probe 120x160, irot 270 as orientation 6 (got %d)",
       info.orientation);
    free(b.data);

    b = load("grid.avif");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    ok(rc == 0 && info.width == 640 && info.height == 480,
       "grid.avif: probe of the grid item 640x480 (got %ux%u)",
       info.width, info.height);
    free(b.data);

    rc = png_run(st, "quad-land.avif", 100, 100, NGX_TUNNY_IMAGE_PNG, &res,
                 &d);
    ok(rc == 0 && d.w == 100 && d.h == 75
       && quads(&d, RED, GREEN, BLUE, WHITE) && near(&d, 5, 5, RED, 12)
       && near(&d, 94, 70, WHITE, 12),
       "quad-land.avif to PNG: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad-land.avif", 100, 100, NGX_TUNNY_IMAGE_JPEG, &res,
                 &d);
    ok(rc == 0 && d.w == 100 && d.h == 75
       && quads(&d, RED, GREEN, BLUE, WHITE),
       "quad-land.avif to JPEG: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad-land.avif", 100, 100, NGX_TUNNY_IMAGE_WEBP, &res,
                 &d);
    ok(rc == 0 && d.w == 100 && d.h == 75
       && quads(&d, RED, GREEN, BLUE, WHITE),
       "quad-land.avif to WebP: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad10.avif", 100, 100, NGX_TUNNY_IMAGE_PNG, &res, &d);
    ok(rc == 0 && d.w == 100 && d.h == 75
       && quads(&d, RED, GREEN, BLUE, WHITE) && near(&d, 5, 5, RED, 12),
       "quad10.avif (10 bits) to 8-bit PNG: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad12.avif", 100, 100, NGX_TUNNY_IMAGE_PNG, &res, &d);
    ok(rc == 0 && d.w == 100 && d.h == 75
       && quads(&d, RED, GREEN, BLUE, WHITE) && near(&d, 94, 70, WHITE, 12),
       "quad12.avif (12 bits) to 8-bit PNG: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "grid.avif", 100, 100, NGX_TUNNY_IMAGE_PNG, &res, &d);
    ok(rc == 0 && d.w == 100 && d.h == 75
       && quads(&d, RED, GREEN, BLUE, WHITE) && near(&d, 5, 70, BLUE, 12),
       "grid.avif (2x2 cells) to PNG: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "irot.avif", 200, 200, NGX_TUNNY_IMAGE_PNG, &res, &d);
    ok(rc == 0 && d.w == 160 && d.h == 120
       && quads(&d, RED, GREEN, BLUE, WHITE),
       "irot.avif to PNG: upright 160x120, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "alpha.avif", 50, 50, NGX_TUNNY_IMAGE_PNG, &res, &d);
    ok(rc == 0 && d.w == 50 && d.h == 25 && d.ch == 4
       && near(&d, 5, 12, RED, 12) && alpha_at(&d, 5, 12) >= 250
       && alpha_at(&d, 45, 12) <= 5,
       "alpha.avif to PNG: 50x25, alpha kept (left %u, right %u)",
       d.ch == 4 ? alpha_at(&d, 5, 12) : 0,
       d.ch == 4 ? alpha_at(&d, 45, 12) : 0);
    decoded_free(&d);
    free(res.data);

    icc = load("test.icc");
    rc = png_run(st, "icc.avif", 32, 32, NGX_TUNNY_IMAGE_PNG, &res, &d);
    ok(rc == 0 && d.icc_len == icc.len
       && memcmp(d.icc, icc.data, icc.len) == 0,
       "icc.avif to PNG: the ICC profile kept (%u bytes)", d.icc_len);
    decoded_free(&d);
    free(res.data);
    free(icc.data);

    rc = png_run(st, "anim.avif", 32, 32, NGX_TUNNY_IMAGE_PNG, &res, &d);
    ok(rc == 0 && d.w == 32 && d.h == 24
       && quads(&d, RED, GREEN, BLUE, WHITE),
       "anim.avif (a sequence): its first image, 32x24 quads");
    decoded_free(&d);
    free(res.data);

    /* max_pixels before pixel memory, the cancel flag */

    b = load("quad-land.avif");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    p.max_pixels = 300000;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ELIMIT
       && strstr(res.error, "640x480 image exceeds tunny_image_max_pixels"),
       "quad-land.avif over max_pixels: ELIMIT \"%s\"", res.error);

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    p.out_type = NGX_TUNNY_IMAGE_PNG;
    flag = 1;
    p.cancel = &flag;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ECANCEL && res.data == NULL,
       "AVIF with the cancel flag set: ECANCEL");
    free(b.data);
}


static void
test_avif_encode(ngx_tunny_image_state_t *st)
{
    int                        rc;
    blob_t                     b, icc;
    decoded_t                  d;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    rc = png_run(st, "quad-land.jpg", 100, 100, NGX_TUNNY_IMAGE_AVIF, &res,
                 &d);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_AVIF && d.w == 100
       && d.h == 75 && d.ch == 3 && quads(&d, RED, GREEN, BLUE, WHITE),
       "quad-land.jpg to AVIF: 100x75, quadrant colours, no alpha");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad-land.png", 100, 100, NGX_TUNNY_IMAGE_AVIF, &res,
                 &d);
    ok(rc == 0 && d.w == 100 && d.h == 75
       && quads(&d, RED, GREEN, BLUE, WHITE),
       "quad-land.png to AVIF: 100x75, quadrant colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "alpha.webp", 50, 50, NGX_TUNNY_IMAGE_AVIF, &res, &d);
    ok(rc == 0 && d.w == 50 && d.h == 25 && d.ch == 4
       && near(&d, 5, 12, RED, 16) && alpha_at(&d, 5, 12) >= 250
       && alpha_at(&d, 45, 12) <= 5,
       "alpha.webp to AVIF: 50x25, alpha kept");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "grey.png", 32, 32, NGX_TUNNY_IMAGE_AVIF, &res, &d);
    ok(rc == 0 && d.w == 32 && d.h == 24
       && near(&d, 16, 12, 0x60, 0x60, 0x60, 6),
       "grey.png to AVIF: 32x24, grey 0x60");
    decoded_free(&d);
    free(res.data);

    icc = load("test.icc");
    rc = png_run(st, "icc.png", 32, 32, NGX_TUNNY_IMAGE_AVIF, &res, &d);
    ok(rc == 0 && d.icc_len == icc.len
       && memcmp(d.icc, icc.data, icc.len) == 0,
       "icc.png to AVIF: the ICC profile kept (%u bytes)", d.icc_len);
    decoded_free(&d);
    free(res.data);
    free(icc.data);

    rc = png_run(st, "quad-land.avif", 1000, 1000, 0, &res, &d);
    ok(rc == NGX_TUNNY_IMAGE_ASIS, "an AVIF within the box: as is");

    b = load("quad-land.jpg");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    p.out_type = NGX_TUNNY_IMAGE_AVIF;
    p.avif_codec = NGX_TUNNY_IMAGE_AVIF_RAV1E + 1;
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_EPARAM
       && strcmp(res.error, "invalid avif codec 3") == 0,
       "an unknown AVIF encoder: EPARAM \"%s\"", res.error);
    free(b.data);
}


/*
 * The cost of AVIF encoding: one job of big.jpg (3000x2000) fit into
 * 1024x1024 (1024x682) written as AVIF, against the same job written as
 * PNG at level 0 (the decode and the resize; what is left is the
 * encoder), in CPU time.  TUNNY_BENCH=avif prints the table of
 * qualities, speeds and encoders the README quotes (sizes, PSNR, CPU),
 * for big.jpg and the files named in TUNNY_AVIF_PHOTOS (absolute paths,
 * separated by spaces).
 */

static double
avif_psnr(const decoded_t *a, const decoded_t *b)
{
    size_t    i, n, k;
    double    e, se;

    if (a->w != b->w || a->h != b->h) {
        return 0;
    }

    /* RGB of each pixel: the decoders give 3 or 4 channels */

    n = (size_t) a->w * a->h;
    se = 0;

    for (i = 0; i < n; i++) {
        for (k = 0; k < 3; k++) {
            e = (double) a->rgb[i * a->ch + k] - b->rgb[i * b->ch + k];
            se += e * e;
        }
    }

    return se == 0 ? 99 : 10 * log10(255.0 * 255.0 / (se / (n * 3)));
}


/*
 * The process's CPU time, not the thread's: SVT-AV1 and rav1e run
 * threads of their own whatever maxThreads says (no other thread of the
 * test runs meanwhile)
 */

static double
avif_codec_job(ngx_tunny_image_state_t *st, const blob_t *b, int type,
    int codec, int q, int speed, ngx_tunny_image_result_t *res, int *rc)
{
    double                     c0;
    ngx_tunny_image_params_t   p;

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 1024, 1024, 0);
    p.out_type = type;
    p.png_compression = 0;
    p.jpeg_quality = q;
    p.webp_quality = q;
    p.avif_quality = q;
    p.avif_speed = speed;
    p.avif_codec = codec;

    c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    *rc = ngx_tunny_image_process(st, b->data, b->len, NULL, &p, res);

    return clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
}


static double
avif_job(ngx_tunny_image_state_t *st, const blob_t *b, int type, int q,
    int speed, ngx_tunny_image_result_t *res, int *rc)
{
    return avif_codec_job(st, b, type, NGX_TUNNY_IMAGE_AVIF_AOM, q, speed,
                          res, rc);
}


/* sizes, PSNR and encoder CPU over qualities and speeds (TUNNY_BENCH=avif) */

static void
avif_table(ngx_tunny_image_state_t *st, const char *name)
{
    int                        rc, q, s, i, nq;
    double                     base, cpu, mp, psnr;
    blob_t                     b;
    decoded_t                  ref, d;
    ngx_tunny_image_result_t   res;
    static const int           qs[] = { 50, 55, 60, 63, 66, 70 };
    static const struct {
        int          codec;
        const char  *name;
        int          q;
        int          speed;
    }                          encoders[] = {
        { NGX_TUNNY_IMAGE_AVIF_SVT, "svt-av1", 30, 10 },
        { NGX_TUNNY_IMAGE_AVIF_SVT, "svt-av1", 40, 10 },
        { NGX_TUNNY_IMAGE_AVIF_SVT, "svt-av1", 30, 8 },
        { NGX_TUNNY_IMAGE_AVIF_RAV1E, "rav1e", 55, 10 },
        { NGX_TUNNY_IMAGE_AVIF_RAV1E, "rav1e", 63, 10 },
        { NGX_TUNNY_IMAGE_AVIF_RAV1E, "rav1e", 55, 8 },
    };

    nq = (int) (sizeof(qs) / sizeof(qs[0]));

    b = load(name);

    (void) avif_job(st, &b, NGX_TUNNY_IMAGE_PNG, 60, 7, &res, &rc);
    memset(&ref, 0, sizeof(decoded_t));
    if (rc != 0 || decode(&res, &ref) != 0) {
        diag("%s: no reference (rc %d)", name, rc);
        free(res.data);
        free(b.data);
        return;
    }
    free(res.data);

    base = avif_job(st, &b, NGX_TUNNY_IMAGE_PNG, 60, 7, &res, &rc);
    free(res.data);

    mp = (double) ref.w * ref.h / 1e6;

    diag("%s -> %ux%u (%.2f MP); decode + resize + PNG level 0: %.0f ms",
         name, ref.w, ref.h, mp, base);

    /* the module's JPEG and WebP defaults, for comparison */

    for (s = 0; s < 2; s++) {
        cpu = avif_job(st, &b, s ? NGX_TUNNY_IMAGE_WEBP : NGX_TUNNY_IMAGE_JPEG,
                       s ? 80 : 75, 7, &res, &rc);
        memset(&d, 0, sizeof(decoded_t));
        psnr = (rc == 0 && decode(&res, &d) == 0) ? avif_psnr(&ref, &d) : 0;
        diag("%s q %d: %7zu bytes, PSNR %.2f dB, job %.0f ms CPU",
             s ? "webp" : "jpeg", s ? 80 : 75, res.len, psnr, cpu);
        decoded_free(&d);
        free(res.data);
    }

    /* the qualities at speeds 9 and 7, then the speeds at quality 63 */

    for (i = 0; i < 2 * nq + 4; i++) {
        q = (i < 2 * nq) ? qs[i % nq] : 63;
        s = (i < nq) ? 9 : (i < 2 * nq) ? 7 : 4 + (i - 2 * nq);

        if (i >= 2 * nq && s >= 7) {
            s++;
        }

        cpu = avif_job(st, &b, NGX_TUNNY_IMAGE_AVIF, q, s, &res, &rc);
        memset(&d, 0, sizeof(decoded_t));
        psnr = (rc == 0 && decode(&res, &d) == 0) ? avif_psnr(&ref, &d) : 0;
        diag("avif q %d speed %d: %7zu bytes, PSNR %.2f dB, job %.0f ms "
             "CPU, encode %.0f ms per MP", q, s, res.len, psnr, cpu,
             (cpu - base) / mp);
        decoded_free(&d);
        free(res.data);
    }

    /*
     * libavif's other encoders, where it links them: each has a quantizer
     * scale of its own, so several qualities each, to compare at the same
     * bytes and PSNR; libavif passes them speeds 0..10
     */

    for (i = 0; i < (int) (sizeof(encoders) / sizeof(encoders[0])); i++) {
        cpu = avif_codec_job(st, &b, NGX_TUNNY_IMAGE_AVIF, encoders[i].codec,
                             encoders[i].q, encoders[i].speed, &res, &rc);
        memset(&d, 0, sizeof(decoded_t));
        psnr = (rc == 0 && decode(&res, &d) == 0) ? avif_psnr(&ref, &d) : 0;

        if (rc == 0) {
            diag("avif %s q %d speed %d: %7zu bytes, PSNR %.2f dB, job %.0f "
                 "ms CPU, encode %.0f ms per MP", encoders[i].name,
                 encoders[i].q, encoders[i].speed, res.len, psnr, cpu,
                 (cpu - base) / mp);
        } else {
            diag("avif %s: %s", encoders[i].name, res.error);
        }

        decoded_free(&d);
        free(res.data);
    }

    decoded_free(&ref);
    free(b.data);
}


/* sets the flag once the job thread has spent at_ms of CPU */

typedef struct {
    int          *flag;
    clockid_t     clock;
    double        at_ms;
    double        cpu_ms;          /* the job thread's CPU at the flag */
} avif_canceller_t;


static void *
avif_canceller(void *arg)
{
    avif_canceller_t  *a = arg;

    for ( ;; ) {
        a->cpu_ms = clock_ms(a->clock);

        if (a->cpu_ms >= a->at_ms) {
            break;
        }

        usleep(1000);
    }

    __atomic_store_n(a->flag, 1, __ATOMIC_RELAXED);

    return NULL;
}


static void
test_avif_cost(ngx_tunny_image_state_t *st)
{
    int                        rc, table, flag;
    char                       path[1024];
    size_t                     n;
    double                     base, cpu, mp, t0, t1, t2, t3, c0, c1, psnr;
    blob_t                     b;
    decoded_t                  ref, d;
    pthread_t                  th;
    avif_canceller_t           cc;
    const char                *e;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    if (!bench) {
        return;
    }

    e = getenv("TUNNY_BENCH");
    table = (e && strcmp(e, "avif") == 0);

    b = load("big.jpg");

    /* the reference: the resized pixels, losslessly (PNG) */

    base = avif_job(st, &b, NGX_TUNNY_IMAGE_PNG, 60, 7, &res, &rc);
    memset(&ref, 0, sizeof(decoded_t));
    if (rc != 0 || decode(&res, &ref) != 0) {
        ok(0, "big.jpg to PNG for the AVIF reference: rc %d", rc);
        free(b.data);
        return;
    }
    free(res.data);

    base = avif_job(st, &b, NGX_TUNNY_IMAGE_PNG, 60, 7, &res, &rc);
    free(res.data);

    mp = (double) ref.w * ref.h / 1e6;

    cpu = avif_job(st, &b, NGX_TUNNY_IMAGE_AVIF, 63, 8, &res, &rc);
    memset(&d, 0, sizeof(decoded_t));
    psnr = (rc == 0 && decode(&res, &d) == 0) ? avif_psnr(&ref, &d) : 0;
    ok(rc == 0 && res.width == 1024 && res.height == 682 && psnr > 20,
       "big.jpg to AVIF 1024x682 at q63 speed 8: %zu bytes, PSNR %.1f dB",
       res.len, psnr);
    diag("AVIF encode at q63 speed 8: %.0f ms CPU per megapixel of output "
         "(job %.0f ms, of which decode and resize %.0f ms, %.2f MP)",
         (cpu - base) / mp, cpu, base, mp);
    decoded_free(&d);
    free(res.data);

    /*
     * cancellation: the flag comes in the encoder, once the job thread has
     * spent the CPU of the decode and the resize (the PNG job) plus 20 ms;
     * the job ends when the one avifEncoderWrite() call ends: the CPU
     * after the flag is at most that call's (the README quotes it),
     * checked against the whole uncancelled job, in CPU time (a busy
     * machine stretches wall time, not the work)
     */

    t0 = now_ms();
    cpu = avif_job(st, &b, NGX_TUNNY_IMAGE_AVIF, 63, 8, &res, &rc);
    t1 = now_ms();
    free(res.data);

    flag = 0;
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 1024, 1024, 0);
    p.out_type = NGX_TUNNY_IMAGE_AVIF;
    p.cancel = &flag;

    cc.flag = &flag;
    pthread_getcpuclockid(pthread_self(), &cc.clock);

    t2 = now_ms();
    c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
    cc.at_ms = c0 + base + 20;
    pthread_create(&th, NULL, avif_canceller, &cc);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    c1 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
    t3 = now_ms();
    pthread_join(th, NULL);
    free(res.data);

    ok(rc == NGX_TUNNY_IMAGE_ECANCEL && c1 - cc.cpu_ms < cpu * 1.5 + 50,
       "AVIF cancelled %.0f ms of CPU into the job (in the encoder): "
       "ECANCEL after %.0f ms of CPU more (the uncancelled job: %.0f ms "
       "CPU, %.0f ms wall; this one %.0f ms wall)", cc.cpu_ms - c0,
       c1 - cc.cpu_ms, cpu, t1 - t0, t3 - t2);

    decoded_free(&ref);
    free(b.data);

    if (!table) {
        return;
    }

    /* SVT-AV1's banner and per-encode settings: errors only */

    setenv("SVT_LOG", "1", 0);

    avif_table(st, "big.jpg");

    e = getenv("TUNNY_AVIF_PHOTOS");

    while (e && *e) {
        n = strcspn(e, " ");
        if (n > 0 && n < sizeof(path)) {
            memcpy(path, e, n);
            path[n] = '\0';
            avif_table(st, path);
        }
        e += n + (e[n] == ' ');
    }
}


/*
 * The zlib bomb of gen-hostile: the IDAT of 2000x20000 (40 MB inflated)
 * under an IHDR of 2000x10.  libspng inflates the 10 rows and stops: the
 * decode takes well under the ~100 ms of CPU that inflating the 40 MB
 * takes (Python's zlib over the IDAT data, on this machine).
 */

static void
test_png_bomb(ngx_tunny_image_state_t *st)
{
    int                        rc;
    char                       path[4096];
    FILE                      *f;
    blob_t                     b;
    double                     t0, ms;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    snprintf(path, sizeof(path), "%s/hostile/png-bomb-idat.png", dir);
    f = fopen(path, "rb");
    if (f == NULL) {
        diag("no %s: PNG bomb skipped", path);
        return;
    }
    fclose(f);

    b = load("hostile/png-bomb-idat.png");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 1000, 1000, 0);

    /* CPU time of this thread: a loaded machine does not count */

    t0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ms = clock_ms(CLOCK_THREAD_CPUTIME_ID) - t0;

    ok(rc == NGX_TUNNY_IMAGE_OK && res.width == 1000 && res.height == 5
       && (!bench || ms < 5),
       "PNG zlib bomb: only the IHDR rows inflated, 1000x5 in %.2f ms CPU",
       ms);
    free(res.data);
    free(b.data);
}



/* GIF: the first frame on its screen, written as PNG */

static void
test_gif(ngx_tunny_image_state_t *st)
{
    int                        rc;
    blob_t                     b;
    decoded_t                  d;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    rc = png_run(st, "quad.gif", 32, 32, 0, &res, &d);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_PNG && d.w == 32
       && d.h == 24 && quads(&d, RED, GREEN, BLUE, WHITE)
       && near(&d, 2, 2, RED, 0) && near(&d, 30, 22, WHITE, 0)
       && alpha_at(&d, 2, 2) == 255,
       "quad.gif resize 32: PNG 32x24, exact colours, opaque");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad-interlaced.gif", 32, 32, 0, &res, &d);
    ok(rc == 0 && d.w == 32 && d.h == 24
       && quads(&d, RED, GREEN, BLUE, WHITE) && near(&d, 2, 22, BLUE, 0),
       "quad-interlaced.gif: deinterlaced, exact colours");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "quad.gif", 32, 32, NGX_TUNNY_IMAGE_JPEG, &res, &d);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_JPEG && d.w == 32
       && quads(&d, RED, GREEN, BLUE, WHITE),
       "quad.gif to JPEG: 32x24");
    decoded_free(&d);
    free(res.data);

    /* screen 64x48, a 32x24 frame at 16,12 whose right half is the
     * transparent index; resized to 32x24 */

    rc = png_run(st, "trans.gif", 32, 32, 0, &res, &d);
    ok(rc == 0 && d.w == 32 && d.h == 24
       && near(&d, 11, 12, RED, 0) && alpha_at(&d, 11, 12) == 255
       && alpha_at(&d, 2, 2) == 0 && alpha_at(&d, 20, 12) == 0
       && alpha_at(&d, 30, 22) == 0,
       "trans.gif: the frame on the clear screen, transparency as alpha");
    decoded_free(&d);
    free(res.data);

    rc = png_run(st, "anim.gif", 16, 16, 0, &res, &d);
    ok(rc == 0 && d.w == 16 && d.h == 16 && near(&d, 8, 8, RED, 0),
       "anim.gif: the first frame, red");
    decoded_free(&d);
    free(res.data);

    /* a GIF that fits, nothing to do: as it is (animation kept) */

    b = load("anim.gif");
    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ASIS && res.type == NGX_TUNNY_IMAGE_GIF,
       "anim.gif within the box: as is");

    {
        int  flag = 1;

        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 10, 10, 0);
        p.cancel = &flag;
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        ok(rc == NGX_TUNNY_IMAGE_ECANCEL, "GIF with the cancel flag set: "
           "ECANCEL");
    }
    free(b.data);
}



/*
 * Progressive JPEGs are bounded by their work, not only their pixels: the
 * legal 704-scan successive-approximation bomb and a 64-scan file (64
 * passes over the image) of gen-hostile are ELIMIT with the reason, fast,
 * and so are 66 scans within the pass budget; 22 passes are an image.
 */

static void
test_scan_budget(ngx_tunny_image_state_t *st)
{
    int                        rc;
    double                     ms;
    blob_t                     b;
    unsigned                   i;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    static const struct {
        const char  *name;
        int          rc;
        const char  *error;
    }  t[] = {
        { "hostile/scan-bomb-sa.jpg", NGX_TUNNY_IMAGE_ELIMIT,
          "JPEG scans need more than 24 passes over the image" },
        { "hostile/scan-bomb-sa-small.jpg", NGX_TUNNY_IMAGE_ELIMIT,
          "JPEG scans need more than 24 passes over the image" },
        { "hostile/scan-passes-64.jpg", NGX_TUNNY_IMAGE_ELIMIT,
          "JPEG scans need more than 24 passes over the image" },
        { "hostile/scan-count-66.jpg", NGX_TUNNY_IMAGE_ELIMIT,
          "JPEG has more than 64 scans" },
        { "hostile/scan-passes-22.jpg", NGX_TUNNY_IMAGE_OK, "" },
    };

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        b = load(t[i].name);

        ms = now_ms();
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        ms = now_ms() - ms;

        ok(rc == t[i].rc && strcmp(res.error, t[i].error) == 0
           && (rc != NGX_TUNNY_IMAGE_OK || res.width == 100),
           "%s: rc %d \"%s\" in %.1f ms", t[i].name, rc, res.error, ms);

        free(res.data);
        free(b.data);
    }
}


/*
 * A JPEG missing only its final EOI has all its image data: the same
 * output as the whole file.  Missing data stays EINPUT with the reason:
 * cut in the middle of the scan, or (progressive) before any later scan.
 */

static void
test_missing_eoi(ngx_tunny_image_state_t *st)
{
    int                        rc, bad, cuts;
    size_t                     k, end;
    blob_t                     b;
    unsigned                   i;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   full, res;

    static const char  *names[] = { "quad-land.jpg", "progressive.jpg",
                                    "gray.jpg" };

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        b = load(names[i]);

        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &full);
        ok(rc == NGX_TUNNY_IMAGE_OK && b.len > 2 && b.data[b.len - 2] == 0xff
           && b.data[b.len - 1] == 0xd9, "%s: whole file, ends with EOI",
           names[i]);

        rc = ngx_tunny_image_process(st, b.data, b.len - 2, NULL, &p, &res);
        ok(rc == NGX_TUNNY_IMAGE_OK && res.len == full.len
           && memcmp(res.data, full.data, full.len) == 0,
           "%s without EOI: rc %d \"%s\", the same output", names[i], rc,
           res.error);
        free(res.data);

        /* halfway between the first SOS and the marker after its data */

        for (k = 2; k + 1 < b.len; k++) {
            if (b.data[k] == 0xff && b.data[k + 1] == 0xda) {
                break;
            }
        }

        for (end = k + 2; end + 1 < b.len; end++) {
            if (b.data[end] == 0xff && b.data[end + 1] != 0
                && (b.data[end + 1] & 0xf8) != 0xd0)
            {
                break;
            }
        }

        rc = ngx_tunny_image_process(st, b.data, (k + end) / 2, NULL, &p,
                                     &res);
        ok(rc == NGX_TUNNY_IMAGE_EINPUT
           && strcmp(res.error, "truncated or corrupt JPEG: "
                                "Premature end of JPEG file") == 0,
           "%s cut in its data: rc %d \"%s\"", names[i], rc, res.error);
        free(res.data);

        /* just before each SOS but the first one: whole scans missing */

        bad = 0;
        cuts = 0;

        for (k = 2; k + 1 < b.len; k++) {
            if (b.data[k] != 0xff || b.data[k + 1] != 0xda) {
                continue;
            }

            if (cuts++ == 0) {
                continue;
            }

            rc = ngx_tunny_image_process(st, b.data, k, NULL, &p, &res);
            bad += (rc != NGX_TUNNY_IMAGE_EINPUT || res.error[0] == '\0');
            free(res.data);
        }

        if (cuts > 1) {
            ok(bad == 0, "%s cut before each of its %d later scans: EINPUT",
               names[i], cuts - 1);
        }

        free(full.data);
        free(b.data);
    }
}



/*
 * Resampling quality: the geometry of the output grid and aliasing, on
 * images made here, through ngx_tunny_image_pixels() (the pixels before
 * any encoder).
 */

/* a grey JPEG of pixels p, q100: its quantisation stays under a level */

static unsigned char *
quality_jpeg(const unsigned char *p, unsigned w, unsigned h, size_t *len)
{
    JSAMPROW                       row;
    unsigned char                 *out;
    unsigned long                  size;
    struct jpeg_error_mgr          jerr;
    struct jpeg_compress_struct    c;

    out = NULL;
    size = 0;

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &size);

    c.image_width = w;
    c.image_height = h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;

    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);

    while (c.next_scanline < h) {
        row = (JSAMPROW) p + (size_t) c.next_scanline * w;
        jpeg_write_scanlines(&c, &row, 1);
    }

    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    *len = size;

    return out;
}


/* a PNG of pixels p, grey (ch 1), RGB (3) or RGBA (4) */

static unsigned char *
quality_png(const unsigned char *p, unsigned w, unsigned h, unsigned ch,
    size_t *len)
{
    int                err;
    void              *out;
    spng_ctx          *ctx;
    struct spng_ihdr   ihdr;

    ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    memset(&ihdr, 0, sizeof(ihdr));
    ihdr.width = w;
    ihdr.height = h;
    ihdr.bit_depth = 8;
    ihdr.color_type = ch == 4 ? SPNG_COLOR_TYPE_TRUECOLOR_ALPHA
                      : ch == 3 ? SPNG_COLOR_TYPE_TRUECOLOR
                                : SPNG_COLOR_TYPE_GRAYSCALE;

    err = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    err = err ? err : spng_set_ihdr(ctx, &ihdr);
    err = err ? err : spng_encode_image(ctx, p, (size_t) w * h * ch,
                                        SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    out = err ? NULL : spng_get_png_buffer(ctx, len, &err);
    spng_ctx_free(ctx);

    if (out == NULL) {
        diag("quality_png: %s", spng_strerror(err));
    }

    return out;
}


static int
quality_cmp_double(const void *a, const void *b)
{
    double  x, y;

    x = *(const double *) a;
    y = *(const double *) b;

    return (x > y) - (x < y);
}


/*
 * The centroids of the dark lines of a profile (darkness, the median
 * taken off) near each expected position e[i] (pixel centres at j + 0.5),
 * in a window of +-hw; the largest distance to e[i] in *err, the number
 * of lines measured is returned (those whose window is inside).
 */

static int
quality_lines(const double *prof, unsigned n, const double *e, int ne,
    double hw, double *err)
{
    int      i, j, lo, hi, found;
    double  *sorted, base, m, sw, d;

    sorted = malloc(sizeof(double) * n);
    memcpy(sorted, prof, sizeof(double) * n);
    qsort(sorted, n, sizeof(double), quality_cmp_double);
    base = sorted[n / 2];
    free(sorted);

    found = 0;

    for (i = 0; i < ne; i++) {
        if (e[i] - hw < 0 || e[i] + hw > n) {
            continue;
        }

        lo = (int) ceil(e[i] - hw - 0.5);
        hi = (int) floor(e[i] + hw - 0.5);
        m = 0;
        sw = 0;

        for (j = lo; j <= hi; j++) {
            m += (j + 0.5) * (prof[j] - base);
            sw += prof[j] - base;
        }

        d = fabs(m / sw - e[i]);
        *err = d > *err ? d : *err;
        found++;
    }

    return found;
}


#define QUALITY_BG      200         /* the grid: background, lines */
#define QUALITY_INK     40
#define QUALITY_K       192         /* line spacing, source pixels */
#define QUALITY_L       48          /* line width */
#define QUALITY_OFF     37          /* the first line */


/*
 * One case of the geometry test: output line positions against the exact
 * map of the source lines through the resize (full source extent onto
 * the output size in each axis), the rotation and the cut.
 */

static void
quality_geometry_case(ngx_tunny_image_state_t *st, const unsigned char *jpg,
    size_t len, unsigned w, unsigned h, unsigned ops, unsigned bw,
    unsigned bh, unsigned angle)
{
    int                        rc, nl, nx, ny, nlx, nly, i;
    double                    *pc, *pr, *ex, *ey, *eu, *ev, err, u, v, hw;
    unsigned                   x, y, rw, rh, fw, fh, cx, cy, ow, oh;
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    params_init(&p, ops, bw, bh, angle);

    rc = ngx_tunny_image_pixels(st, jpg, len, &p, &res, &pix);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        ok(0, "geometry %ux%u: rc %d %s", w, h, rc, res.error);
        return;
    }

    ow = pix.width;
    oh = pix.height;

    /* the resized upright size, the cut offset */

    if (ops & NGX_TUNNY_IMAGE_OP_CROP) {
        if ((uint64_t) w * bh < (uint64_t) bw * h) {
            rw = bw;
            rh = (unsigned) ((uint64_t) h * bw / w);

        } else {
            rh = bh;
            rw = (unsigned) ((uint64_t) w * bh / h);
        }

    } else {
        rw = (angle == 90 || angle == 270) ? oh : ow;
        rh = (angle == 90 || angle == 270) ? ow : oh;
    }

    fw = (angle == 90 || angle == 270) ? rh : rw;
    fh = (angle == 90 || angle == 270) ? rw : rh;
    cx = (fw - ow) / 2;
    cy = (fh - oh) / 2;

    nl = (int) (w > h ? w : h) / QUALITY_K + 1;
    eu = calloc(nl * 4, sizeof(double));
    ev = eu + nl;
    ex = ev + nl;
    ey = ex + nl;
    nlx = nly = 0;

    for (i = 0; i < nl; i++) {
        u = (QUALITY_OFF + QUALITY_K * i + QUALITY_L / 2.0) * rw / w;
        v = (QUALITY_OFF + QUALITY_K * i + QUALITY_L / 2.0) * rh / h;

        /* vertical source lines sit at u, horizontal ones at v */

        switch (angle) {
        case 90:
            ey[nly++] = rw - u - cy;
            ex[nlx++] = v - cx;
            break;
        case 180:
            ex[nlx++] = rw - u - cx;
            ey[nly++] = rh - v - cy;
            break;
        case 270:
            ey[nly++] = u - cy;
            ex[nlx++] = rh - v - cx;
            break;
        default:
            ex[nlx++] = u - cx;
            ey[nly++] = v - cy;
            break;
        }
    }

    pc = calloc(ow + oh, sizeof(double));
    pr = pc + ow;

    for (y = 0; y < oh; y++) {
        for (x = 0; x < ow; x++) {
            v = QUALITY_BG - pix.data[y * pix.stride + x];
            pc[x] += v / oh;
            pr[y] += v / ow;
        }
    }

    hw = 0.4 * QUALITY_K * rw / w;
    err = 0;
    nx = quality_lines(pc, ow, ex, nlx, hw, &err);
    ny = quality_lines(pr, oh, ey, nly, hw, &err);

    ok(nx >= 2 && ny >= 2 && err < 0.1,
       "geometry %s %ux%u %s %ux%u rotate %u -> %ux%u: "
       "%d+%d lines within %.3f px of the exact map",
       jpg[0] == 0x89 ? "PNG" : "JPEG", w, h,
       (ops & NGX_TUNNY_IMAGE_OP_CROP) ? "crop" : "resize", bw, bh, angle,
       ow, oh, nx, ny, err);

    free(pc);
    free(eu);
}


static void
test_quality_geometry(ngx_tunny_image_state_t *st)
{
    int             k;
    size_t          len;
    unsigned        n, x, y, w, h, t;
    unsigned char  *p, *jpg, *png;

    static const unsigned  sizes[][2] = {
        { 2048, 1365 }, { 2001, 1503 }, { 1367, 2048 }
    };
    static const unsigned  boxes[] = { 1, 2, 3, 4, 10, 12, 14, 16 };

    for (k = 0; k < 3; k++) {
        w = sizes[k][0];
        h = sizes[k][1];
        p = malloc((size_t) w * h);

        for (y = 0; y < h; y++) {
            for (x = 0; x < w; x++) {
                p[(size_t) y * w + x] =
                    ((x + QUALITY_K - QUALITY_OFF) % QUALITY_K < QUALITY_L
                     && x >= QUALITY_OFF)
                    || ((y + QUALITY_K - QUALITY_OFF) % QUALITY_K < QUALITY_L
                        && y >= QUALITY_OFF)
                    ? QUALITY_INK : QUALITY_BG;
            }
        }

        /*
         * the same grid as a PNG: shrunk on load by a box of k (2 to 10
         * here) for the boxes of 1/32 to 1/8 of the long side, with and
         * without a rotation, and a crop
         */

        png = quality_png(p, w, h, 1, &len);

        for (n = 0; png && n < 4; n++) {
            t = (w > h ? w : h) * boxes[n] / 32 - 1;
            quality_geometry_case(st, png, len, w, h,
                                  NGX_TUNNY_IMAGE_OP_RESIZE, t, t,
                                  (n % 4) * 90);
        }

        if (png) {
            quality_geometry_case(st, png, len, w, h,
                                  NGX_TUNNY_IMAGE_OP_CROP, 171, 250, 90);
        }

        free(png);

        jpg = quality_jpeg(p, w, h, &len);
        free(p);

        /*
         * every DCT scale: boxes just under the long side times 1/32,
         * 1/16, 3/32, 1/8 (scales 1/8 to 4/8 with 4x left), 5/16, 6/16,
         * 7/16 (5/8 to 7/8 with 2x left) and 1/2 (a full decode)
         */

        for (n = 0; n < 8; n++) {
            t = (w > h ? w : h) * boxes[n] / 32 - 1;
            quality_geometry_case(st, jpg, len, w, h,
                                  NGX_TUNNY_IMAGE_OP_RESIZE, t, t,
                                  (n % 4) * 90);
        }

        /* crop: a cut in one dimension, with and without a rotation */

        quality_geometry_case(st, jpg, len, w, h, NGX_TUNNY_IMAGE_OP_CROP,
                              300, 300, 0);
        quality_geometry_case(st, jpg, len, w, h, NGX_TUNNY_IMAGE_OP_CROP,
                              171, 250, 90);
        quality_geometry_case(st, jpg, len, w, h, NGX_TUNNY_IMAGE_OP_CROP,
                              700, 333, 270);

        free(jpg);
    }
}


/*
 * Lanczos-3 in double at full resolution, the reference of the aliasing
 * test: sw x sh grey doubles to dw x dh, rounded to 8 bits (as an 8-bit
 * output is) but kept as doubles.
 */

static double
quality_lanczos3(double x)
{
    x = fabs(x);

    if (x < 1e-9) {
        return 1.0;
    }

    return x < 3.0 ? 3.0 * sin(M_PI * x) * sin(M_PI * x / 3.0)
                     / (M_PI * M_PI * x * x)
                   : 0.0;
}


static void
quality_ref_axis(const double *s, double *d, unsigned sn, unsigned dn,
    size_t sstep, size_t dstep, size_t lines, size_t lstep_s,
    size_t lstep_d)
{
    int       j, lo, hi;
    double    scale, c, wt, sum, acc;
    size_t    l;
    unsigned  i;

    scale = (double) sn / dn;

    for (l = 0; l < lines; l++) {
        for (i = 0; i < dn; i++) {
            c = (i + 0.5) * scale;
            lo = (int) floor(c - 3 * scale);
            hi = (int) ceil(c + 3 * scale);
            lo = lo < 0 ? 0 : lo;
            hi = hi > (int) sn ? (int) sn : hi;
            sum = acc = 0;

            for (j = lo; j < hi; j++) {
                wt = quality_lanczos3((j + 0.5 - c) / scale);
                sum += wt;
                acc += wt * s[l * lstep_s + j * sstep];
            }

            d[l * lstep_d + i * dstep] = acc / sum;
        }
    }
}


static double *
quality_ref(const unsigned char *p, unsigned sw, unsigned sh, unsigned dw,
    unsigned dh)
{
    size_t   i;
    double  *s, *t, *d;

    s = malloc(sizeof(double) * sw * sh);
    t = malloc(sizeof(double) * dw * sh);
    d = malloc(sizeof(double) * dw * dh);

    for (i = 0; i < (size_t) sw * sh; i++) {
        s[i] = p[i];
    }

    quality_ref_axis(s, t, sw, dw, 1, 1, sh, sw, dw);
    quality_ref_axis(t, d, sh, dh, dw, dw, dw, 1, 1);

    for (i = 0; i < (size_t) dw * dh; i++) {
        d[i] = d[i] < 0 ? 0 : (d[i] > 255 ? 255 : floor(d[i] + 0.5));
    }

    free(s);
    free(t);

    return d;
}


/*
 * The aliasing test: a zone plate (local frequency k * r / pi, the source
 * Nyquist rate at the corners) and fine stripes (period 3 on the left
 * half), at fit 256 and fit 1024; in the regions above the output's
 * Nyquist rate (1.5 to 3 times it on the plate, the stripes) the output
 * must be flat grey: the RMS of its deviation from the region's mean
 * within 1.5 times the reference's (at least half a level: the rounding
 * of 8-bit outputs).  This function: one source at fit 256 and 1024.
 */

static void
quality_aliasing_case(ngx_tunny_image_state_t *st, const char *type,
    const unsigned char *img, size_t len, const unsigned char *p,
    unsigned w, unsigned h, double k, int chart)
{
    int                        c, rc;
    size_t                     n[2];
    double                     r, f, fn, v, sum[2], sq[2], rms[2];
    double                    *ref;
    unsigned                   x, y, box, sx, sy;
    const unsigned char       *o;
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_params_t   prm;
    ngx_tunny_image_result_t   res;

    for (box = 256; box <= 1024; box *= 4) {
        params_init(&prm, NGX_TUNNY_IMAGE_OP_RESIZE, box, box, 0);

        rc = ngx_tunny_image_pixels(st, img, len, &prm, &res, &pix);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            ok(0, "aliasing: %s: rc %d %s", type, rc, res.error);
            continue;
        }

        ref = quality_ref(p, w, h, pix.width, pix.height);

        /* the output's Nyquist rate in source cycles per pixel */
        fn = 0.5 * pix.width / w;

        for (c = 0; c < 2; c++) {
            sum[c] = sq[c] = 0;
            n[c] = 0;
        }

        for (y = 4; y + 4 < pix.height; y++) {
            for (x = 4; x + 4 < pix.width; x++) {
                sx = (unsigned) ((x + 0.5) * w / pix.width);
                sy = (unsigned) ((y + 0.5) * h / pix.height);

                if (chart == 0) {
                    r = hypot(sx + 0.5 - w / 2.0, sy + 0.5 - h / 2.0);
                    f = k * r / M_PI;

                    if (f < 1.5 * fn || f > 3 * fn) {
                        continue;
                    }

                } else if (x + 4 >= pix.width / 2) {
                    continue;
                }

                o = pix.data + y * pix.stride + x;
                sum[0] += o[0];
                sq[0] += (double) o[0] * o[0];
                sum[1] += ref[y * pix.width + x];
                sq[1] += ref[y * pix.width + x] * ref[y * pix.width + x];
                n[0]++;
            }
        }

        for (c = 0; c < 2; c++) {
            v = sum[c] / n[0];
            rms[c] = sqrt(sq[c] / n[0] - v * v > 0
                          ? sq[c] / n[0] - v * v : 0);
        }

        ok(n[0] > 100 && rms[0] <= 1.5 * (rms[1] > 0.5 ? rms[1] : 0.5),
           "aliasing: %s %s at fit %u (%ux%u): RMS %.2f in %zu flat "
           "pixels, Lanczos-3 reference %.2f", type,
           chart ? "stripes" : "zone plate", box, pix.width, pix.height,
           rms[0], n[0], rms[1]);

        free(ref);
    }
}


/* the charts as grey JPEGs (DCT scaled) and PNGs (shrunk on load) */

static void
test_quality_aliasing(ngx_tunny_image_state_t *st)
{
    int             chart;
    size_t          len;
    double          k, r, v;
    unsigned        x, y, w, h;
    unsigned char  *p, *img;

    w = 2048;
    h = 1536;
    k = 0.5 * M_PI / (sqrt((double) w * w + (double) h * h) / 2);
    p = malloc((size_t) w * h);

    for (chart = 0; chart < 2; chart++) {

        for (y = 0; y < h; y++) {
            for (x = 0; x < w; x++) {
                r = hypot(x + 0.5 - w / 2.0, y + 0.5 - h / 2.0);
                v = chart == 0 ? 127.5 + 100 * cos(k * r * r)
                               : (x < w / 2 ? ((x % 3) ? 70 : 190) : 110);
                p[(size_t) y * w + x] = (unsigned char) lrint(v);
            }
        }

        img = quality_jpeg(p, w, h, &len);
        quality_aliasing_case(st, "JPEG", img, len, p, w, h, k, chart);
        free(img);

        img = quality_png(p, w, h, 1, &len);
        if (img) {
            quality_aliasing_case(st, "PNG", img, len, p, w, h, k, chart);
        }
        free(img);
    }

    free(p);
}


/*
 * Alpha through the box shrink on load: a 1204x600 RGBA PNG, the left
 * half opaque white, the right transparent black, to 50x25 (a box of 8):
 * no dark fringe where the halves meet, alpha kept; and the same with
 * partial last blocks (1203x601 to 50x24).
 */

static void
test_quality_box_alpha(ngx_tunny_image_state_t *st)
{
    int                        rc, halo, i;
    size_t                     len;
    unsigned                   x, y, w, h;
    decoded_t                  d;
    unsigned char             *p, *png, *px;
    ngx_tunny_image_params_t   prm;
    ngx_tunny_image_result_t   res;

    static const unsigned  sizes[][2] = { { 1204, 600 }, { 1203, 601 } };

    for (i = 0; i < 2; i++) {
        w = sizes[i][0];
        h = sizes[i][1];
        p = calloc((size_t) w * h, 4);

        for (y = 0; y < h; y++) {
            for (x = 0; x < w / 2; x++) {
                memset(p + ((size_t) y * w + x) * 4, 255, 4);
            }
        }

        png = quality_png(p, w, h, 4, &len);
        free(p);

        params_init(&prm, NGX_TUNNY_IMAGE_OP_RESIZE, 50, 50, 0);
        prm.out_type = NGX_TUNNY_IMAGE_PNG;
        prm.png_compression = 1;

        rc = png ? ngx_tunny_image_process(st, png, len, NULL, &prm, &res)
                 : -100;
        free(png);

        memset(&d, 0, sizeof(decoded_t));

        if (rc == NGX_TUNNY_IMAGE_OK && decode(&res, &d) != 0) {
            rc = -101;
        }

        halo = 0;

        for (y = 0; rc == 0 && y < d.h; y++) {
            for (x = 0; x < d.w; x++) {
                px = d.rgb + ((size_t) y * d.w + x) * 4;

                if (px[3] > 0 && (px[0] < 250 || px[1] < 250 || px[2] < 250))
                {
                    if (halo++ == 0) {
                        diag("pixel %u,%u: %u,%u,%u alpha %u", x, y, px[0],
                             px[1], px[2], px[3]);
                    }
                }
            }
        }

        ok(rc == 0 && d.w == 50 && d.h == h * 50 / w && halo == 0
           && alpha_at(&d, 10, 10) == 255 && alpha_at(&d, 40, 10) == 0
           && alpha_at(&d, 24, 10) > 0 && alpha_at(&d, 25, 10) < 255,
           "a %ux%u RGBA PNG shrunk on load to 50x%u: alpha kept, no dark "
           "halo at the edge (%d)", w, h, d.h, halo);

        decoded_free(&d);

        if (rc == 0) {
            free(res.data);
        }
    }
}


/*
 * Animations to animated WebP (ngx_tunny_image_anim.c): the output read
 * back with WebPAnimDecoder, frame by frame, composed.
 */

#define ANIM_MAX  8

typedef struct {
    unsigned   w, h, frames, loop;
    int        duration[ANIM_MAX];
    decoded_t  f[ANIM_MAX];             /* RGBA canvases */
} anim_t;


static int
anim_read(const ngx_tunny_image_result_t *res, anim_t *a)
{
    int                      ts, prev;
    size_t                   size;
    uint8_t                 *buf;
    WebPData                 data;
    WebPAnimInfo             info;
    WebPAnimDecoder         *dec;
    WebPAnimDecoderOptions   o;

    memset(a, 0, sizeof(anim_t));

    if (res->type != NGX_TUNNY_IMAGE_WEBP || res->data == NULL
        || !WebPAnimDecoderOptionsInit(&o))
    {
        return -1;
    }

    o.color_mode = MODE_RGBA;
    data.bytes = res->data;
    data.size = res->len;

    dec = WebPAnimDecoderNew(&data, &o);
    if (dec == NULL || !WebPAnimDecoderGetInfo(dec, &info)) {
        WebPAnimDecoderDelete(dec);
        return -1;
    }

    a->w = info.canvas_width;
    a->h = info.canvas_height;
    a->loop = info.loop_count;
    size = (size_t) a->w * a->h * 4;
    prev = 0;

    while (WebPAnimDecoderHasMoreFrames(dec) && a->frames < ANIM_MAX) {
        if (!WebPAnimDecoderGetNext(dec, &buf, &ts)) {
            WebPAnimDecoderDelete(dec);
            return -1;
        }

        a->duration[a->frames] = ts - prev;
        prev = ts;
        a->f[a->frames].rgb = malloc(size);
        if (a->f[a->frames].rgb == NULL) {
            break;
        }

        memcpy(a->f[a->frames].rgb, buf, size);
        a->f[a->frames].w = a->w;
        a->f[a->frames].h = a->h;
        a->f[a->frames].ch = 4;
        a->frames++;
    }

    a->frames = info.frame_count;
    WebPAnimDecoderDelete(dec);

    return 0;
}


static void
anim_free(anim_t *a)
{
    unsigned  i;

    for (i = 0; i < ANIM_MAX; i++) {
        decoded_free(&a->f[i]);
    }
}


static int
anim_alpha(const decoded_t *d, unsigned x, unsigned y)
{
    return d->rgb ? d->rgb[((size_t) y * d->w + x) * 4 + 3] : -1;
}


/* anim-dispose.gif's canvases (gen-fixtures), at scale s (1 or 1/2) */

static int
anim_dispose_ok(const anim_t *a, double s)
{
    unsigned  tl, tr1, tr2, b, q;

#define AT(v)  ((unsigned) ((v) * s))

    tl = AT(8);
    tr1 = AT(20);
    tr2 = AT(28);
    b = AT(24);
    q = AT(4);

    if (a->frames != 4 || a->f[3].rgb == NULL) {
        diag("%u frames", a->frames);
        return 0;
    }

    return near(&a->f[0], tl, tl, RED, 40) && near(&a->f[0], b, b, RED, 40)
           && near(&a->f[1], tl, tl, GREEN, 40)
           && near(&a->f[1], b, b, RED, 40)
           && near(&a->f[1], tr1, q, RED, 40)
           && anim_alpha(&a->f[2], tl, tl) == 0
           && near(&a->f[2], b, b, BLUE, 40)
           && near(&a->f[2], tl, b, RED, 40)
           && anim_alpha(&a->f[3], tl, tl) == 0
           && near(&a->f[3], tr1, q, WHITE, 40)
           && near(&a->f[3], tr2, q, RED, 40)
           && near(&a->f[3], b, b, RED, 40)
           && anim_alpha(&a->f[3], b, b) == 255;
#undef AT
}


/* CPU time of this thread: a loaded machine does not count */

static double
anim_cpu_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


static int
anim_run(ngx_tunny_image_state_t *st, const char *name, unsigned w,
    unsigned h, int out, ngx_tunny_image_params_t *p,
    ngx_tunny_image_result_t *res)
{
    int     rc;
    blob_t  b;

    b = load(name);

    if (p->ops == 0) {
        params_init(p, NGX_TUNNY_IMAGE_OP_RESIZE, w, h, 0);
        p->out_type = out;
    }

    rc = ngx_tunny_image_process(st, b.data, b.len, NULL, p, res);
    free(b.data);

    return rc;
}


static void
test_anim(ngx_tunny_image_state_t *st)
{
    int                        rc, flag;
    blob_t                     b;
    anim_t                     a;
    decoded_t                  d;
    ngx_tunny_image_info_t     info;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;
    size_t                     mem;

    /* the probe counts frames */

    b = load("anim-dispose.gif");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    ok(rc == 0 && info.frames == 4, "anim-dispose.gif: probe, 4 frames");

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 16, 16, 0);
    p.out_type = NGX_TUNNY_IMAGE_WEBP;
    mem = ngx_tunny_image_memory(&info, &p);
    ok(ngx_tunny_image_animates(&info, &p)
       && mem == 32 * 32 * 12 + 32 * 16 * 4 + 16 * 16 * 44,
       "anim-dispose.gif to WebP 16x16: animates, %zu bytes predicted", mem);
    p.out_type = NGX_TUNNY_IMAGE_PNG;
    ok(!ngx_tunny_image_animates(&info, &p)
       && ngx_tunny_image_memory(&info, &p) == 0,
       "anim-dispose.gif to PNG: a still, nothing predicted");
    free(b.data);

    b = load("anim-quads.webp");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    ok(rc == 0 && info.frames == 3 && info.width == 64,
       "anim-quads.webp: probe, 3 frames");
    free(b.data);

    b = load("quad.gif");
    rc = ngx_tunny_image_probe(b.data, b.len, &info);
    ok(rc == 0 && info.frames == 1, "quad.gif: probe, 1 frame");
    free(b.data);

    /* disposal, transparency, durations, loop, full size and halved */

    p.ops = 0;
    rc = anim_run(st, "anim-dispose.gif", 100, 100, NGX_TUNNY_IMAGE_WEBP,
                  &p, &res);
    ok(rc == 0 && anim_read(&res, &a) == 0 && a.w == 32 && a.h == 32
       && a.loop == 0 && a.duration[0] == 100 && a.duration[1] == 200
       && a.duration[2] == 300 && a.duration[3] == 100
       && anim_dispose_ok(&a, 1),
       "anim-dispose.gif to WebP: 4 frames 32x32, 100/200/300/100 ms, "
       "forever, disposal and transparency (rc %d %s)", rc, res.error);
    anim_free(&a);
    free(res.data);

    p.ops = 0;
    rc = anim_run(st, "anim-dispose.gif", 16, 16, NGX_TUNNY_IMAGE_WEBP,
                  &p, &res);
    ok(rc == 0 && res.width == 16 && res.height == 16
       && anim_read(&res, &a) == 0 && a.w == 16 && anim_dispose_ok(&a, 0.5),
       "anim-dispose.gif resized to 16x16: every frame resized");
    anim_free(&a);
    free(res.data);

    p.ops = 0;
    rc = anim_run(st, "anim.gif", 16, 16, NGX_TUNNY_IMAGE_WEBP, &p, &res);
    ok(rc == 0 && anim_read(&res, &a) == 0 && a.frames == 2 && a.loop == 1
       && near(&a.f[0], 8, 8, RED, 40) && near(&a.f[1], 8, 8, GREEN, 40),
       "anim.gif (no NETSCAPE2.0): plays once, red then green");
    anim_free(&a);
    free(res.data);

    p.ops = 0;
    rc = anim_run(st, "anim-loop.gif", 16, 16, NGX_TUNNY_IMAGE_WEBP, &p,
                  &res);
    ok(rc == 0 && anim_read(&res, &a) == 0 && a.loop == 3,
       "anim-loop.gif (NETSCAPE2.0 loop 2): 3 plays");
    anim_free(&a);
    free(res.data);

    /* animated WebP, resized; its first frame as JPEG */

    p.ops = 0;
    rc = anim_run(st, "anim-quads.webp", 32, 32, 0, &p, &res);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_WEBP
       && anim_read(&res, &a) == 0 && a.w == 32 && a.h == 24
       && a.frames == 3 && a.loop == 3 && a.duration[0] == 100
       && a.duration[1] == 250 && a.duration[2] == 400
       && quads(&a.f[0], RED, GREEN, BLUE, WHITE)
       && quads(&a.f[1], GREEN, GREEN, GREEN, GREEN)
       && quads(&a.f[2], BLUE, GREEN, BLUE, WHITE),
       "anim-quads.webp resized to 32x24: 3 frames, 100/250/400 ms, "
       "3 plays (rc %d %s)", rc, res.error);
    anim_free(&a);
    free(res.data);

    p.ops = 0;
    rc = anim_run(st, "anim-quads.webp", 32, 32, NGX_TUNNY_IMAGE_JPEG, &p,
                  &res);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_JPEG && decode(&res, &d) == 0
       && d.w == 32 && d.h == 24 && quads(&d, RED, GREEN, BLUE, WHITE),
       "anim-quads.webp to JPEG: its first frame (rc %d %s)", rc,
       res.error);
    decoded_free(&d);
    free(res.data);

    p.ops = 0;
    rc = anim_run(st, "anim-dispose.gif", 16, 16, NGX_TUNNY_IMAGE_PNG, &p,
                  &res);
    ok(rc == 0 && res.type == NGX_TUNNY_IMAGE_PNG && decode(&res, &d) == 0
       && d.w == 16 && near(&d, 4, 4, RED, 0),
       "anim-dispose.gif to PNG: its first frame");
    decoded_free(&d);
    free(res.data);

    /* limits */

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 16, 16, 0);
    p.out_type = NGX_TUNNY_IMAGE_WEBP;
    p.max_frames = 3;
    rc = anim_run(st, "anim-dispose.gif", 0, 0, 0, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ELIMIT
       && strcmp(res.error, "4 frames exceed tunny_image_max_frames 3")
          == 0, "max_frames 3: ELIMIT, \"%s\"", res.error);

    p.max_frames = 200;
    p.max_pixels = 4000;
    rc = anim_run(st, "anim-dispose.gif", 0, 0, 0, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ELIMIT
       && strcmp(res.error, "32x32 image of 4 frames exceeds "
                 "tunny_image_max_pixels 4000") == 0,
       "max_pixels over all frames: ELIMIT, \"%s\"", res.error);

    p.max_pixels = 50000000;
    flag = 1;
    p.cancel = &flag;
    rc = anim_run(st, "anim-dispose.gif", 0, 0, 0, &p, &res);
    ok(rc == NGX_TUNNY_IMAGE_ECANCEL, "animation with the cancel flag set: "
       "ECANCEL");
    p.cancel = NULL;

    /*
     * cancelled while running: anim-big.gif (40 frames 320x240, each
     * changing the whole screen) to WebP, the flag raised after a quarter
     * of an uncancelled run: ECANCEL within a few frames of it (the
     * bound is the work of one frame: its decode, resize and
     * WebPAnimEncoderAdd(), which has no cancel hook).  Judged in this
     * thread's CPU time: a busy machine delays the work, it does not add
     * to it.
     */

    if (bench) {
        double       t0, t1, full, frame;
        pthread_t    th;
        canceller_t  c;

        b = load("anim-big.gif");
        params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 240, 240, 0);
        p.out_type = NGX_TUNNY_IMAGE_WEBP;

        t0 = anim_cpu_ms();
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        full = anim_cpu_ms() - t0;
        frame = full / 40;
        ok(rc == 0 && anim_read(&res, &a) == 0 && a.frames == 40
           && a.w == 240 && a.h == 180,
           "anim-big.gif to WebP 240x180: 40 frames in %.1f ms, %.1f ms "
           "per frame", full, frame);
        anim_free(&a);
        free(res.data);

        flag = 0;
        p.cancel = &flag;
        c.flag = &flag;
        c.delay_ms = (int) (full / 4);

        pthread_create(&th, NULL, canceller, &c);
        t0 = anim_cpu_ms();
        rc = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &res);
        t1 = anim_cpu_ms();
        pthread_join(th, NULL);

        ok(rc == NGX_TUNNY_IMAGE_ECANCEL && t1 - t0 < full * 3 / 4,
           "animation cancelled while running: rc %d after %.1f ms CPU, "
           "flag at %d ms (%.1f ms CPU per frame, an uncancelled run "
           "%.1f ms)", rc, t1 - t0, c.delay_ms, frame, full);
        free(res.data);
        free(b.data);
        p.cancel = NULL;
    }

    /* the hostile animations of gen-hostile, to WebP */

    {
        unsigned  i;
        static const struct {
            const char  *name;
            int          rc;
            const char  *error;
        } h[] = {
            { "hostile/anim-ok.gif", 0, "" },
            { "hostile/anim-frames.gif", NGX_TUNNY_IMAGE_ELIMIT,
              "20000 frames exceed tunny_image_max_frames 200" },
            { "hostile/anim-pixels.gif", NGX_TUNNY_IMAGE_ELIMIT,
              "2000x2000 image of 20 frames exceeds "
              "tunny_image_max_pixels 50000000" },
            { "hostile/anim-outside.gif", NGX_TUNNY_IMAGE_EINPUT,
              "GIF frame 32x32 at 190,190 outside the 200x200 screen" },
            { "hostile/anim-lzw.gif", NGX_TUNNY_IMAGE_EINPUT,
              "GIF decode failed: " },
            { "hostile/anim-frames.webp", NGX_TUNNY_IMAGE_ELIMIT,
              "300 frames exceed tunny_image_max_frames 200" },
            { "hostile/anim-pixels.webp", NGX_TUNNY_IMAGE_ELIMIT,
              "2000x2000 image of 20 frames exceeds "
              "tunny_image_max_pixels 50000000" },
            { "hostile/anim-cut.webp", NGX_TUNNY_IMAGE_EINPUT,
              "WebP decode failed: " }
        };

        for (i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
            params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 100, 100, 0);
            p.out_type = NGX_TUNNY_IMAGE_WEBP;
            rc = anim_run(st, h[i].name, 0, 0, 0, &p, &res);
            ok(rc == h[i].rc
               && strncmp(res.error, h[i].error, strlen(h[i].error)) == 0,
               "%s to WebP: rc %d \"%s\"", h[i].name, rc, res.error);
            free(res.data);
        }
    }
}
/* colour management and the background: their own file */
#include "test_colour.c"


/*
 * The vector kernels of the resampler (SSE2, and AVX2 where the CPU has it)
 * and the box shrink against the scalar ones: the same bytes for noise (every clamp of the Lanczos lobes
 * taken) in 1, 3 and 4 channels, widths under and over a vector block and
 * not multiples of it, shrinks from near 1:1 to 12x (the box shrink on
 * load at 1/12 of 1001x37 and 333x217), a crop window.
 */

static void
test_resample_kernels(ngx_tunny_image_state_t *st)
{
    int                        rc, same, ran, v;
    size_t                     len, n, i;
    uint32_t                   seed;
    unsigned                   c, s, b, y, ch;
    unsigned char             *img, *png, *ref;
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    static const unsigned  sizes[][2] = {
        { 7, 5 }, { 15, 9 }, { 17, 13 }, { 64, 48 }, { 333, 217 },
        { 1001, 37 }
    };
    static const struct {
        unsigned  ops, num, den;      /* box: size * num / den + 1 */
    } boxes[] = {
        { NGX_TUNNY_IMAGE_OP_RESIZE, 3, 4 },
        { NGX_TUNNY_IMAGE_OP_RESIZE, 2, 5 },
        { NGX_TUNNY_IMAGE_OP_RESIZE, 1, 5 },
        { NGX_TUNNY_IMAGE_OP_RESIZE, 1, 12 },   /* the box shrink too */
        { NGX_TUNNY_IMAGE_OP_RESIZE, 4, 5 },
        { NGX_TUNNY_IMAGE_OP_CROP, 1, 2 }
    };
    static const unsigned  chans[] = { 1, 3, 4 };

    seed = 12345;
    same = 1;
    ran = 0;

    for (c = 0; c < sizeof(chans) / sizeof(chans[0]); c++) {
        for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            ch = chans[c];
            n = (size_t) sizes[s][0] * sizes[s][1] * ch;
            img = malloc(n);

            for (i = 0; i < n; i++) {
                seed = seed * 1103515245 + 12345;
                img[i] = (unsigned char) (seed >> 16);
            }

            png = quality_png(img, sizes[s][0], sizes[s][1], ch, &len);
            free(img);

            if (png == NULL) {
                same = 0;
                continue;
            }

            for (b = 0; b < sizeof(boxes) / sizeof(boxes[0]); b++) {
                params_init(&p, boxes[b].ops,
                            sizes[s][0] * boxes[b].num / boxes[b].den + 1,
                            sizes[s][1] * boxes[b].num / boxes[b].den + 1,
                            0);

                ngx_tunny_image_vector_max(NGX_TUNNY_IMAGE_VECTOR_NONE);
                rc = ngx_tunny_image_pixels(st, png, len, &p, &res, &pix);
                ngx_tunny_image_vector_max(NGX_TUNNY_IMAGE_VECTOR_AVX2);

                if (rc != NGX_TUNNY_IMAGE_OK) {
                    diag("kernels %ux%u ch %u box %u: rc %d %s",
                         sizes[s][0], sizes[s][1], ch, b, rc, res.error);
                    same = 0;
                    continue;
                }

                ref = malloc((size_t) pix.width * pix.channels * pix.height);

                for (y = 0; y < pix.height; y++) {
                    memcpy(ref + (size_t) y * pix.width * pix.channels,
                           pix.data + y * pix.stride,
                           (size_t) pix.width * pix.channels);
                }

                for (v = NGX_TUNNY_IMAGE_VECTOR_SSE2;
                     v <= NGX_TUNNY_IMAGE_VECTOR_AVX2;
                     v++)
                {
                    ngx_tunny_image_vector_max(v);
                    rc = ngx_tunny_image_pixels(st, png, len, &p, &res, &pix);
                    ngx_tunny_image_vector_max(NGX_TUNNY_IMAGE_VECTOR_AVX2);

                    for (y = 0; rc == NGX_TUNNY_IMAGE_OK && y < pix.height;
                         y++)
                    {
                        if (memcmp(ref + (size_t) y * pix.width * pix.channels,
                                   pix.data + y * pix.stride,
                                   (size_t) pix.width * pix.channels)
                            != 0)
                        {
                            diag("kernels %ux%u ch %u box %u, %s: row %u "
                                 "differs", sizes[s][0], sizes[s][1], ch, b,
                                 v == NGX_TUNNY_IMAGE_VECTOR_SSE2
                                 ? "SSE2" : "AVX2", y);
                            same = 0;
                            break;
                        }
                    }

                    same = same && rc == NGX_TUNNY_IMAGE_OK;
                    ran++;
                }

                free(ref);
            }

            free(png);
        }
    }

    ok(same && ran == 216, "resampler and box shrink: the SSE2 and the AVX2 "
       "kernels give the scalar kernels' bytes (%d cases%s)", ran,
       __builtin_cpu_supports("avx2") ? "" : "; no AVX2 here: SSE2 twice");
}


int
main(int argc, char **argv)
{
    ngx_tunny_image_state_t  *st;

    if (argc != 2) {
        fprintf(stderr, "usage: test_image FIXTURE_DIR\n");
        return 2;
    }

    dir = argv[1];

    tap_init();

    st = ngx_tunny_image_state_create();
    if (st == NULL) {
        printf("Bail out! state_create\n");
        return 1;
    }

    test_probe();
    test_sniff();
    test_check_pixels();
    test_dct_scale();
    test_dims(st);
    test_colours(st);
    test_orientation(st);
    test_metadata(st);
    test_errors(st);
    test_caller_info(st);
    test_hostile(st);
    test_cancel(st);
    test_state();
    test_bench(st);
    test_quality_geometry(st);
    test_quality_aliasing(st);
    test_resample_kernels(st);
    test_quality_box_alpha(st);
    test_scan_budget(st);
    test_missing_eoi(st);
    test_png_decode(st);
    test_png_alpha(st);
    test_png_encode(st);
    test_png_cancel(st);
    test_png_bomb(st);
    test_gif(st);
    test_colour(st);
    test_heic(st);
    test_anim(st);
    test_avif_decode(st);
    test_avif_encode(st);
    test_avif_cost(st);

    ngx_tunny_image_state_destroy(st);

    return tap_done();
}
