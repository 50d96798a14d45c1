
/*
 * gen-heic DIR: writes the HEIC fixtures of ngx_tunny_module into DIR,
 * deterministically, with libheif's HEVC encoder (x265): no binary blobs
 * in the repository.  Built only when src/image/Makefile finds libheif;
 * run after gen-fixtures (it reads DIR/test.icc).
 *
 * The colour blocks are gen-fixtures' quads as stored: top-left red,
 * top-right green, bottom-left blue, bottom-right white; the orientation
 * of a file says how it is displayed:
 *
 *   heic-quad.heic       640x480, no transformation
 *   heic-rot90.heic      irot 90 (anti-clockwise): displayed 480x640
 *   heic-mirror.heic     imir, a left-right mirror: displayed 640x480
 *   heic-rot-exif.heic   irot 270 and an EXIF Orientation 6 that says the
 *                        same: displayed 480x640, rotated once
 *   heic-exif-only.heic  an EXIF Orientation 6, no irot: displayed as
 *                        stored (the EXIF of a HEIF is informative)
 *   heic-icc.heic        640x480 with DIR/test.icc
 *   heic-alpha.heic      64x48: the left half opaque red, the right half
 *                        transparent
 *   heic-odd.heic        333x199 quads (a size HEVC pads)
 *   heic-photo.heic      2048x1536 smooth gradients (timings)
 *
 * Each file is read back with libheif: its displayed size must be the
 * one above, or the generator fails.
 */


#include "heic-enc.h"


static const char  *dir;

static const unsigned char  quad_colors[4][3] = {
    { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 }, { 255, 255, 255 }
};


static void
die(const char *what)
{
    fprintf(stderr, "gen-heic: %s\n", what);
    exit(1);
}


static unsigned char *
quads(unsigned w, unsigned h)
{
    unsigned        x, y, q;
    unsigned char  *p;

    p = malloc((size_t) w * h * 3);
    if (p == NULL) {
        die("out of memory");
    }

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            q = (y >= h / 2) * 2 + (x >= w / 2);
            memcpy(p + ((size_t) y * w + x) * 3, quad_colors[q], 3);
        }
    }

    return p;
}


static void
put(const char *name, heic_buf_t b, unsigned w, unsigned h)
{
    char                       path[4096];
    FILE                      *f;
    struct heif_context       *ctx;
    struct heif_image_handle  *hd;

    ctx = heif_context_alloc();
    heic_check(heif_context_read_from_memory_without_copy(ctx, b.p, b.n,
                                                          NULL),
               name);
    heic_check(heif_context_get_primary_image_handle(ctx, &hd), name);

    if ((unsigned) heif_image_handle_get_width(hd) != w
        || (unsigned) heif_image_handle_get_height(hd) != h)
    {
        fprintf(stderr, "gen-heic: %s is displayed %dx%d, not %ux%u\n",
                name, heif_image_handle_get_width(hd),
                heif_image_handle_get_height(hd), w, h);
        exit(1);
    }

    heif_image_handle_release(hd);
    heif_context_free(ctx);

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "wb");
    if (f == NULL || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }

    free(b.p);
}


static unsigned char *
read_icc(size_t *len)
{
    char            path[4096];
    long            n;
    FILE           *f;
    unsigned char  *p;

    snprintf(path, sizeof(path), "%s/test.icc", dir);

    f = fopen(path, "rb");
    if (f == NULL) {
        die("no test.icc: run gen-fixtures first");
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    p = malloc(n > 0 ? (size_t) n : 1);
    if (p == NULL || n <= 0 || fread(p, 1, (size_t) n, f) != (size_t) n) {
        die("cannot read test.icc");
    }

    fclose(f);
    *len = (size_t) n;

    return p;
}


int
main(int argc, char **argv)
{
    size_t          icc_len;
    unsigned        x, y;
    unsigned char  *pix, *rgba, *icc, *d, exif[64];
    heic_opts_t     o;

    if (argc != 2) {
        fprintf(stderr, "usage: gen-heic DIR\n");
        return 2;
    }

    dir = argv[1];

    pix = quads(640, 480);

    memset(&o, 0, sizeof(o));
    put("heic-quad.heic", heic_encode(pix, 640, 480, 3, &o), 640, 480);

    o.orientation = 8;          /* EXIF 8: 90 anti-clockwise: irot 90 */
    put("heic-rot90.heic", heic_encode(pix, 640, 480, 3, &o), 480, 640);

    o.orientation = 2;          /* a left-right mirror: imir */
    put("heic-mirror.heic", heic_encode(pix, 640, 480, 3, &o), 640, 480);

    o.orientation = 6;          /* 90 clockwise: irot 270, and EXIF 6 */
    o.exif = exif;
    o.exif_len = heic_exif_orientation(exif, 6);
    put("heic-rot-exif.heic", heic_encode(pix, 640, 480, 3, &o), 480, 640);

    o.orientation = 0;          /* EXIF 6 alone */
    put("heic-exif-only.heic", heic_encode(pix, 640, 480, 3, &o), 640, 480);

    memset(&o, 0, sizeof(o));
    icc = read_icc(&icc_len);
    o.icc = icc;
    o.icc_len = icc_len;
    put("heic-icc.heic", heic_encode(pix, 640, 480, 3, &o), 640, 480);
    free(icc);
    free(pix);

    memset(&o, 0, sizeof(o));

    rgba = calloc((size_t) 64 * 48, 4);
    if (rgba == NULL) {
        die("out of memory");
    }

    for (y = 0; y < 48; y++) {
        for (x = 0; x < 32; x++) {
            d = rgba + ((size_t) y * 64 + x) * 4;
            d[0] = 255;
            d[3] = 255;
        }
    }

    put("heic-alpha.heic", heic_encode(rgba, 64, 48, 4, &o), 64, 48);
    free(rgba);

    pix = quads(333, 199);
    put("heic-odd.heic", heic_encode(pix, 333, 199, 3, &o), 333, 199);
    free(pix);

    pix = malloc((size_t) 2048 * 1536 * 3);
    if (pix == NULL) {
        die("out of memory");
    }

    for (y = 0; y < 1536; y++) {
        for (x = 0; x < 2048; x++) {
            d = pix + ((size_t) y * 2048 + x) * 3;
            d[0] = (unsigned char) (x * 255 / 2047);
            d[1] = (unsigned char) (y * 255 / 1535);
            d[2] = (unsigned char) (((x / 64) ^ (y / 64)) & 1 ? 200 : 40);
        }
    }

    o.quality = 80;
    put("heic-photo.heic", heic_encode(pix, 2048, 1536, 3, &o), 2048, 1536);
    free(pix);

    return 0;
}
