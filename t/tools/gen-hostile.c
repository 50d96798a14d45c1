
/*
 * gen-hostile DIR: writes a hostile input corpus for ngx_tunny_module into
 * DIR, deterministically, with libjpeg and libwebp (no binary blobs in the
 * repository):
 *
 *   truncated JPEG / WebP at many cut points, bit-flipped and zeroed files,
 *   empty files, text and HTML named .jpg, decompression bombs (headers
 *   claiming 65500x65500 and friends), CMYK / YCCK / greyscale /
 *   progressive / arithmetic-coded / odd-subsampling JPEGs, 12-bit,
 *   lossless and hierarchical SOFs, EXIF blocks with bogus offsets and
 *   orientations, WebP with bad chunk sizes, animated WebP (real and
 *   crafted ANIM/ANMF), huge ICC profiles split over APP2 markers, a
 *   progressive "scan bomb"; PNGs (gen_png): truncations, bit flips,
 *   zlib bombs (IDAT inflating far past the IHDR size), lying chunk
 *   lengths, bad CRCs, huge dimensions; GIFs (gen_gif): frames outside
 *   the screen, LZW garbage, truncations, no image, no colour table;
 *   HEICs (gen_heic): hand-made HEIF boxes (huge ispe, grid bombs, boxes
 *   that lie about their size) and, with libheif, truncations and bit
 *   flips of a real one;
 *   animations (gen_anim): frame count bombs, canvas x frames over
 *   max_pixels, a later frame outside the screen or of LZW garbage,
 *   truncations, WebP animations with too many frames or cut short;
 *   AVIFs (gen_avif): truncations, bit flips, box sizes that lie (past
 *   the file, past the parent, zero, below the header), huge ispe and
 *   grid dimensions, an ispe larger than the AV1 frame, grids of 256x256
 *   cells, no pitm, no ispe.
 *
 * Besides the files it writes
 *
 *   DIR/MANIFEST     one line per file: NAME EXPECT WHAT
 *                    EXPECT is "reject" (must be a 4xx with a reason),
 *                    "ok" (a valid if unusual image: 200) or "any" (200,
 *                    or a 4xx with a reason; never 5xx, never a crash),
 *                    as seen through "tunny_image resize 100 100"
 *   DIR/params.txt   hostile W/H/angle/quality values: QUERY STATUS
 *                    for "tunny_image resize $arg_w $arg_h;
 *                    tunny_image rotate $arg_a; *_quality $arg_q"
 */


#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <jpeglib.h>
#include <webp/encode.h>
#include <webp/mux.h>
#include <spng.h>
#include <avif/avif.h>

#include "icc-make.h"
#if (TUNNY_TOOLS_HEIF)
#include "heic-enc.h"
#endif


typedef struct {
    unsigned char  *p;
    size_t          n;
} buf_t;


static const char  *dir;
static FILE        *manifest;
static unsigned     nfiles;
static unsigned long  rnd = 20240601;


static void
die(const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "gen-hostile: ");
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\n");
    exit(1);
}


static void *
xmalloc(size_t n)
{
    void  *p;

    p = malloc(n ? n : 1);
    if (p == NULL) {
        die("malloc(%zu)", n);
    }

    return p;
}


static unsigned
rand32(void)
{
    rnd = rnd * 6364136223846793005UL + 1442695040888963407UL;

    return (unsigned) (rnd >> 33);
}


static buf_t
bdup(buf_t b)
{
    buf_t  c;

    c.p = xmalloc(b.n);
    memcpy(c.p, b.p, b.n);
    c.n = b.n;

    return c;
}


/* a new buffer: b[0, at) + ins + b[at + del, n) */

static buf_t
bsplice(buf_t b, size_t at, size_t del, const void *ins, size_t ins_len)
{
    buf_t  c;

    if (at > b.n || del > b.n - at) {
        die("bsplice %zu %zu %zu", at, del, b.n);
    }

    c.n = b.n - del + ins_len;
    c.p = xmalloc(c.n);
    memcpy(c.p, b.p, at);
    if (ins_len) {
        memcpy(c.p + at, ins, ins_len);
    }
    memcpy(c.p + at + ins_len, b.p + at + del, b.n - at - del);

    return c;
}


static void
emit(const char *name, const char *expect, const char *what,
    const unsigned char *p, size_t n)
{
    char   path[4096];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);

    f = fopen(path, "wb");
    if (f == NULL) {
        die("%s: %s", path, strerror(errno));
    }

    if (n && fwrite(p, 1, n, f) != n) {
        die("%s: write failed", path);
    }

    fclose(f);

    fprintf(manifest, "%s %s %s\n", name, expect, what);
    nfiles++;
}


static void
emitb(const char *name, const char *expect, const char *what, buf_t b)
{
    emit(name, expect, what, b.p, b.n);
}


static void
be16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char) (v >> 8);
    p[1] = (unsigned char) v;
}


static void
be32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}


static void
le16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
}


static void
le24(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
}


static void
le32(unsigned char *p, unsigned long v)
{
    le16(p, v & 0xffff);
    le16(p + 2, (v >> 16) & 0xffff);
}


static unsigned
rd_be16(const unsigned char *p)
{
    return (unsigned) p[0] << 8 | p[1];
}


static unsigned long
rd_le32(const unsigned char *p)
{
    return (unsigned long) p[0] | (unsigned long) p[1] << 8
           | (unsigned long) p[2] << 16 | (unsigned long) p[3] << 24;
}


static unsigned long
rd_be32(const unsigned char *p)
{
    return (unsigned long) p[0] << 24 | (unsigned long) p[1] << 16
           | (unsigned long) p[2] << 8 | p[3];
}


/* pixels: smooth gradients plus noise, so that the entropy data is big */

static unsigned char *
photo(unsigned w, unsigned h, unsigned comps)
{
    unsigned        x, y, c;
    unsigned char  *p, *d;
    double          fx, fy;

    p = xmalloc((size_t) w * h * comps);
    d = p;

    for (y = 0; y < h; y++) {
        fy = (double) y / h;

        for (x = 0; x < w; x++) {
            fx = (double) x / w;

            for (c = 0; c < comps; c++) {
                *d++ = (unsigned char) (127 + 90 * sin(fx * (7 + c * 3)
                                                       + fy * (5 - c))
                                        + (rand32() % 37) - 18);
            }
        }
    }

    return p;
}


/* JPEG encoder with the knobs we need */

typedef struct {
    int                   quality;
    int                   progressive;
    int                   arith;
    int                   restart;          /* MCU rows */
    int                   h0, v0;           /* luma sampling, 0 = default */
    int                   adobe;            /* -1 = no Adobe marker */
    J_COLOR_SPACE         jpeg_cs;          /* 0 = default for in_cs */
    const unsigned char  *icc;
    size_t                icc_len;
    const unsigned char  *app1;
    size_t                app1_len;
    const unsigned char  *app1b;            /* a second APP1 */
    size_t                app1b_len;
    unsigned              coms;             /* empty COM markers */
} jopt_t;


static buf_t
jpeg(const unsigned char *pix, unsigned w, unsigned h, int comps,
    J_COLOR_SPACE in_cs, const jopt_t *o)
{
    buf_t                         b;
    unsigned                      i;
    JSAMPROW                      row;
    unsigned char                *out;
    unsigned long                 len;
    struct jpeg_error_mgr         jerr;
    struct jpeg_compress_struct   c;

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);

    out = NULL;
    len = 0;
    jpeg_mem_dest(&c, &out, &len);

    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = in_cs;

    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, o->quality ? o->quality : 85, TRUE);

    if (o->jpeg_cs) {
        jpeg_set_colorspace(&c, o->jpeg_cs);
    }

    if (o->h0) {
        c.comp_info[0].h_samp_factor = o->h0;
        c.comp_info[0].v_samp_factor = o->v0;
    }

    if (o->adobe < 0) {
        c.write_Adobe_marker = FALSE;
    }

    if (o->arith) {
        c.arith_code = TRUE;
    }

    if (o->restart) {
        c.restart_in_rows = o->restart;
    }

    if (o->progressive) {
        jpeg_simple_progression(&c);
    }

    jpeg_start_compress(&c, TRUE);

    for (i = 0; i < o->coms; i++) {
        jpeg_write_marker(&c, JPEG_COM, (const JOCTET *) "", 0);
    }

    if (o->app1) {
        jpeg_write_marker(&c, JPEG_APP0 + 1, o->app1, o->app1_len);
    }

    if (o->app1b) {
        jpeg_write_marker(&c, JPEG_APP0 + 1, o->app1b, o->app1b_len);
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

    b.p = out;
    b.n = len;

    return b;
}


/*
 * The markers of a JPEG in order: header segments are walked by their
 * lengths, entropy-coded data is scanned for 0xFF followed by a byte other
 * than 0x00 and RSTn.  Returns the count; pos[i] is the offset of the 0xFF.
 */

#define MAX_MARKERS  4096

static unsigned
jpeg_markers(buf_t b, size_t *pos, unsigned *mk)
{
    size_t    i;
    unsigned  n, m;

    n = 0;
    i = 2;

    while (i + 2 <= b.n && n < MAX_MARKERS) {

        if (b.p[i] != 0xff) {
            die("jpeg_markers: no marker at %zu", i);
        }

        m = b.p[i + 1];
        pos[n] = i;
        mk[n++] = m;

        if (m == 0xd9 || i + 4 > b.n) {
            break;
        }

        i += 2 + rd_be16(b.p + i + 2);

        if (m != 0xda) {
            continue;
        }

        /* entropy-coded data */

        while (i + 1 < b.n) {
            if (b.p[i] == 0xff && b.p[i + 1] != 0
                && !(b.p[i + 1] >= 0xd0 && b.p[i + 1] <= 0xd7))
            {
                break;
            }

            i++;
        }
    }

    return n;
}


static long
jpeg_find(buf_t b, unsigned marker, unsigned nth)
{
    unsigned  i, n, mk[MAX_MARKERS];
    size_t    pos[MAX_MARKERS];

    n = jpeg_markers(b, pos, mk);

    for (i = 0; i < n; i++) {
        if (mk[i] == marker && nth-- == 0) {
            return (long) pos[i];
        }
    }

    return -1;
}


static long
jpeg_sof(buf_t b)
{
    unsigned  i, n, mk[MAX_MARKERS];
    size_t    pos[MAX_MARKERS];

    n = jpeg_markers(b, pos, mk);

    for (i = 0; i < n; i++) {
        if (mk[i] >= 0xc0 && mk[i] <= 0xcf && mk[i] != 0xc4
            && mk[i] != 0xc8 && mk[i] != 0xcc)
        {
            return (long) pos[i];
        }
    }

    die("no SOF");

    return -1;
}


/* a copy with the SOF dimensions replaced */

static buf_t
jpeg_dims(buf_t b, unsigned w, unsigned h)
{
    long   sof;
    buf_t  c;

    c = bdup(b);
    sof = jpeg_sof(c);
    be16(c.p + sof + 5, h);
    be16(c.p + sof + 7, w);

    return c;
}


/* WebP */

static buf_t
webp_lossy(const unsigned char *rgb, unsigned w, unsigned h, int q)
{
    buf_t     b;
    uint8_t  *out;

    b.n = WebPEncodeRGB(rgb, (int) w, (int) h, (int) w * 3, (float) q, &out);
    if (b.n == 0) {
        die("WebPEncodeRGB");
    }

    b.p = xmalloc(b.n);
    memcpy(b.p, out, b.n);
    WebPFree(out);

    return b;
}


static buf_t
webp_lossless(const unsigned char *rgb, unsigned w, unsigned h)
{
    buf_t     b;
    uint8_t  *out;

    b.n = WebPEncodeLosslessRGB(rgb, (int) w, (int) h, (int) w * 3, &out);
    if (b.n == 0) {
        die("WebPEncodeLosslessRGB");
    }

    b.p = xmalloc(b.n);
    memcpy(b.p, out, b.n);
    WebPFree(out);

    return b;
}


static buf_t
webp_alpha(unsigned w, unsigned h)
{
    buf_t           b;
    unsigned        i;
    uint8_t        *out;
    unsigned char  *rgba;

    rgba = photo(w, h, 4);
    for (i = 0; i < w * h; i++) {
        rgba[i * 4 + 3] = (i % w < w / 2) ? 255 : (unsigned char) (i % 251);
    }

    b.n = WebPEncodeRGBA(rgba, (int) w, (int) h, (int) w * 4, 80, &out);
    if (b.n == 0) {
        die("WebPEncodeRGBA");
    }

    b.p = xmalloc(b.n);
    memcpy(b.p, out, b.n);
    WebPFree(out);
    free(rgba);

    return b;
}


/* image + optional ICCP / EXIF / XMP chunks: the extended format */

static buf_t
webp_mux(buf_t img, buf_t icc, buf_t exif, buf_t xmp)
{
    buf_t     b;
    WebPMux  *mux;
    WebPData  d, a;

    mux = WebPMuxNew();
    d.bytes = img.p;
    d.size = img.n;

    if (WebPMuxSetImage(mux, &d, 1) != WEBP_MUX_OK) {
        die("WebPMuxSetImage");
    }

    if (icc.n) {
        d.bytes = icc.p;
        d.size = icc.n;
        if (WebPMuxSetChunk(mux, "ICCP", &d, 1) != WEBP_MUX_OK) {
            die("WebPMuxSetChunk ICCP");
        }
    }

    if (exif.n) {
        d.bytes = exif.p;
        d.size = exif.n;
        if (WebPMuxSetChunk(mux, "EXIF", &d, 1) != WEBP_MUX_OK) {
            die("WebPMuxSetChunk EXIF");
        }
    }

    if (xmp.n) {
        d.bytes = xmp.p;
        d.size = xmp.n;
        if (WebPMuxSetChunk(mux, "XMP ", &d, 1) != WEBP_MUX_OK) {
            die("WebPMuxSetChunk XMP");
        }
    }

    WebPDataInit(&a);
    if (WebPMuxAssemble(mux, &a) != WEBP_MUX_OK) {
        die("WebPMuxAssemble");
    }

    b.p = xmalloc(a.size);
    memcpy(b.p, a.bytes, a.size);
    b.n = a.size;

    WebPDataClear(&a);
    WebPMuxDelete(mux);

    return b;
}


static buf_t
webp_animated(unsigned w, unsigned h, unsigned frames)
{
    buf_t                    b;
    unsigned                 i;
    unsigned char           *pix;
    WebPData                 data;
    WebPPicture              pic;
    WebPAnimEncoder         *enc;
    WebPAnimEncoderOptions   opts;

    if (!WebPAnimEncoderOptionsInit(&opts)) {
        die("WebPAnimEncoderOptionsInit");
    }

    enc = WebPAnimEncoderNew((int) w, (int) h, &opts);
    if (enc == NULL) {
        die("WebPAnimEncoderNew");
    }

    for (i = 0; i < frames; i++) {
        pix = photo(w, h, 3);

        WebPPictureInit(&pic);
        pic.width = (int) w;
        pic.height = (int) h;
        pic.use_argb = 1;
        WebPPictureImportRGB(&pic, pix, (int) w * 3);

        if (!WebPAnimEncoderAdd(enc, &pic, (int) i * 100, NULL)) {
            die("WebPAnimEncoderAdd");
        }

        WebPPictureFree(&pic);
        free(pix);
    }

    WebPAnimEncoderAdd(enc, NULL, (int) frames * 100, NULL);

    WebPDataInit(&data);
    if (!WebPAnimEncoderAssemble(enc, &data)) {
        die("WebPAnimEncoderAssemble");
    }

    b.p = xmalloc(data.size);
    memcpy(b.p, data.bytes, data.size);
    b.n = data.size;

    WebPDataClear(&data);
    WebPAnimEncoderDelete(enc);

    return b;
}


/* a RIFF/WEBP file from raw chunks: fourcc, size as written, payload */

typedef struct {
    const char           *fourcc;
    unsigned long         size;         /* written size field */
    const unsigned char  *data;
    size_t                len;          /* bytes actually written */
} chunk_t;


static buf_t
riff(const chunk_t *ch, unsigned n, long riff_size)
{
    buf_t     b;
    size_t    total, pos;
    unsigned  i;

    total = 12;
    for (i = 0; i < n; i++) {
        total += 8 + ch[i].len + (ch[i].len & 1);
    }

    b.p = xmalloc(total);
    b.n = total;

    memcpy(b.p, "RIFF", 4);
    le32(b.p + 4, riff_size >= 0 ? (unsigned long) riff_size : total - 8);
    memcpy(b.p + 8, "WEBP", 4);

    pos = 12;
    for (i = 0; i < n; i++) {
        memcpy(b.p + pos, ch[i].fourcc, 4);
        le32(b.p + pos + 4, ch[i].size);
        if (ch[i].len) {
            memcpy(b.p + pos + 8, ch[i].data, ch[i].len);
        }
        pos += 8 + ch[i].len;
        if (ch[i].len & 1) {
            b.p[pos++] = 0;
        }
    }

    return b;
}


/* the payload of the first chunk with this fourcc in a WebP file */

static buf_t
webp_chunk(buf_t b, const char *fourcc)
{
    buf_t          c;
    size_t         pos;
    unsigned long  len;

    pos = 12;

    while (pos + 8 <= b.n) {
        len = rd_le32(b.p + pos + 4);

        if (memcmp(b.p + pos, fourcc, 4) == 0) {
            c.p = b.p + pos + 8;
            c.n = len;
            return c;
        }

        pos += 8 + len + (len & 1);
    }

    die("no %s chunk", fourcc);

    c.p = NULL;
    c.n = 0;

    return c;
}


static size_t
webp_chunk_offset(buf_t b, const char *fourcc)
{
    buf_t  c;

    c = webp_chunk(b, fourcc);

    return (size_t) (c.p - b.p) - 8;
}


static void
vp8x(unsigned char *p, unsigned flags, unsigned long w, unsigned long h)
{
    memset(p, 0, 10);
    p[0] = (unsigned char) flags;
    le24(p + 4, w - 1);
    le24(p + 7, h - 1);
}


/* ICC: a profile header that passes the library's checks, padded to len */

static buf_t
icc_profile(size_t len, const char *cs)
{
    buf_t   b;
    size_t  i;

    b.p = xmalloc(len);
    b.n = len;

    for (i = 0; i < len; i++) {
        b.p[i] = (unsigned char) (i * 7 + (i >> 8));
    }

    memset(b.p, 0, 132);
    be32(b.p, len);
    be32(b.p + 8, 0x02100000);
    memcpy(b.p + 12, "mntr", 4);
    memcpy(b.p + 16, cs, 4);
    memcpy(b.p + 20, "XYZ ", 4);
    memcpy(b.p + 36, "acsp", 4);
    be32(b.p + 68, 0xf6d6);
    be32(b.p + 72, 0x10000);
    be32(b.p + 76, 0xd32d);

    /* one private tag covering the rest */
    be32(b.p + 128, 1);
    memcpy(b.p + 132, "tnny", 4);
    be32(b.p + 136, 144);
    be32(b.p + 140, len - 144);

    return b;
}


/* an APP2 ICC_PROFILE marker with any sequence numbers */

static size_t
icc_marker(unsigned char *m, unsigned seq, unsigned count,
    const unsigned char *data, size_t len)
{
    m[0] = 0xff;
    m[1] = 0xe2;
    be16(m + 2, (unsigned) (2 + 14 + len));
    memcpy(m + 4, "ICC_PROFILE", 12);
    m[16] = (unsigned char) seq;
    m[17] = (unsigned char) count;
    memcpy(m + 18, data, len);

    return 18 + len;
}


/* EXIF */

typedef struct {
    int            le;
    unsigned long  ifd;             /* IFD0 offset in the TIFF header */
    unsigned       entries;         /* entry count as written */
    unsigned       magic;           /* 42 */
    const char    *order;           /* "II" / "MM" / other */
    unsigned       tag;             /* 0x0112 */
    unsigned       type;            /* 3 = SHORT */
    unsigned long  count;           /* 1 */
    unsigned long  value;           /* orientation */
    size_t         cut;             /* length of the TIFF part, 0 = all */
} exif_t;


static size_t
exif_block(unsigned char *b, const exif_t *e)
{
    size_t          n;
    unsigned char  *t;

#define P16(p, v) (e->le ? le16(p, v) : be16(p, v))
#define P32(p, v) (e->le ? le32(p, v) : be32(p, v))

    memcpy(b, "Exif\0\0", 6);
    t = b + 6;
    memset(t, 0, 64);

    memcpy(t, e->order, 2);
    P16(t + 2, e->magic);
    P32(t + 4, e->ifd);

    /* IFD0 at 8: the orientation entry, then "next IFD" 0 */
    P16(t + 8, e->entries);
    P16(t + 10, e->tag);
    P16(t + 12, e->type);
    P32(t + 14, e->count);

    if (e->type == 3) {
        P16(t + 18, e->value);
        P16(t + 20, 0);

    } else {
        P32(t + 18, e->value);
    }

    P32(t + 22, 0);
    memcpy(t + 26, "tunny\0", 6);

    n = 32;

#undef P16
#undef P32

    if (e->cut && e->cut < n) {
        n = e->cut;
    }

    return 6 + n;
}


/* the corpus */

static unsigned char  *pix_rgb;          /* 320x240 photo */
static unsigned char  *pix_gray;
static unsigned char  *pix_cmyk;
static buf_t           base_jpg, prog_jpg, arith_jpg, base_webp, ll_webp;


static void
gen_truncations(const char *prefix, buf_t b, const char *what,
    size_t tail_any)
{
    char      name[128], desc[160];
    size_t    cut, step, body;
    unsigned  i;
    long      sos;

    /* every byte of the first 32, then header segments, then data */

    body = b.n;
    sos = -1;

    if (b.p[0] == 0xff) {
        sos = jpeg_find(b, 0xda, 0);
        body = (size_t) sos + 2 + rd_be16(b.p + sos + 2);
    }

    for (cut = 1; cut < 32 && cut < b.n; cut++) {
        snprintf(name, sizeof(name), "%s-cut-%05zu.%s", prefix, cut,
                 b.p[0] == 0xff ? "jpg" : "webp");
        snprintf(desc, sizeof(desc), "%s cut at %zu of %zu", what, cut, b.n);
        emit(name, "reject", desc, b.p, cut);
    }

    step = (body > 32) ? (body - 32) / 12 + 1 : 1;

    for (cut = 32 + step / 2; cut < body; cut += step) {
        snprintf(name, sizeof(name), "%s-cut-%05zu.%s", prefix, cut,
                 b.p[0] == 0xff ? "jpg" : "webp");
        snprintf(desc, sizeof(desc), "%s cut at %zu of %zu (headers)", what,
                 cut, b.n);
        emit(name, "reject", desc, b.p, cut);
    }

    for (i = 0; i < 24; i++) {
        cut = body + (b.n - body) * i / 24;
        if (cut < 32 || cut + tail_any >= b.n) {
            continue;
        }

        snprintf(name, sizeof(name), "%s-cut-%05zu.%s", prefix, cut,
                 b.p[0] == 0xff ? "jpg" : "webp");
        snprintf(desc, sizeof(desc), "%s cut at %zu of %zu (data)", what,
                 cut, b.n);
        emit(name, "reject", desc, b.p, cut);
    }

    /* the last bytes: only an EOI or padding may be missing */

    for (cut = b.n - tail_any; cut < b.n; cut++) {
        snprintf(name, sizeof(name), "%s-cut-%05zu.%s", prefix, cut,
                 b.p[0] == 0xff ? "jpg" : "webp");
        snprintf(desc, sizeof(desc), "%s cut at %zu of %zu (tail)", what,
                 cut, b.n);
        emit(name, "any", desc, b.p, cut);
    }
}


static void
gen_bitflips(const char *prefix, buf_t b, const char *what, unsigned files,
    unsigned skip)
{
    char      name[128], desc[160];
    buf_t     c;
    size_t    at;
    unsigned  i, k, flips;

    for (i = 0; i < files; i++) {
        c = bdup(b);
        flips = 1 + i % 8;

        for (k = 0; k < flips; k++) {
            at = skip + rand32() % (c.n - skip);
            c.p[at] ^= (unsigned char) (1u << (rand32() % 8));
        }

        snprintf(name, sizeof(name), "%s-flip-%02u.%s", prefix, i,
                 b.p[0] == 0xff ? "jpg" : "webp");
        snprintf(desc, sizeof(desc), "%s with %u flipped bits", what, flips);
        emitb(name, "any", desc, c);
        free(c.p);
    }

    /* a block of zeros and one of 0xff in the middle */

    c = bdup(b);
    memset(c.p + c.n / 2, 0, c.n / 8);
    snprintf(name, sizeof(name), "%s-zeroed.%s", prefix,
             b.p[0] == 0xff ? "jpg" : "webp");
    snprintf(desc, sizeof(desc), "%s with an eighth zeroed", what);
    emitb(name, "any", desc, c);

    memset(c.p + c.n / 2, 0xff, c.n / 8);
    snprintf(name, sizeof(name), "%s-ffed.%s", prefix,
             b.p[0] == 0xff ? "jpg" : "webp");
    snprintf(desc, sizeof(desc), "%s with an eighth 0xFF", what);
    emitb(name, "any", desc, c);
    free(c.p);
}


static void
gen_not_images(void)
{
    size_t         i;
    unsigned char  z[4096];
    static const char  text[] = "hello, this is not an image\n";
    static const char  html[] =
        "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
        "<body><h1>Not Found</h1><img src=\"x.jpg\"></body></html>\n";
    static const char  bom[] = "\xef\xbb\xbf<html><body>hi</body></html>";
    static const char  svg[] =
        "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\"65500\" height=\"65500\"><rect width=\"1\" height=\"1\"/>"
        "</svg>";
    static const char  json[] = "{\"error\":\"not found\"}";
    static const char  riff[] = "RIFF\x10\0\0\0WEBPVP8 hello world";
    static const char  jfif[] = "JFIF\0\x01\x01 not really";
    static const char  php[] = "<?php echo 'x'; ?>\xff\xd8\xff\xe0";

    memset(z, 0, sizeof(z));

    emit("empty.jpg", "reject", "zero bytes", z, 0);
    emit("empty.webp", "reject", "zero bytes", z, 0);
    emit("zeros-4k.jpg", "reject", "4096 zero bytes", z, sizeof(z));
    emit("zeros-1.jpg", "reject", "one zero byte", z, 1);

    memset(z, 0xff, sizeof(z));
    emit("ff-4k.jpg", "reject", "4096 0xFF bytes", z, sizeof(z));
    z[1] = 0xd8;
    emit("soi-ff-4k.jpg", "reject", "SOI then 0xFF fill", z, sizeof(z));
    memset(z + 3, 0, sizeof(z) - 3);
    emit("soi-zeros.jpg", "reject", "SOI then zeros", z, sizeof(z));
    emit("soi-only.jpg", "reject", "FF D8 FF", z, 3);
    emit("soi-2.jpg", "reject", "FF D8", z, 2);
    z[2] = 0xd9;
    emit("soi-eoi.jpg", "reject", "SOI EOI", z, 3 + 1);

    emit("text.jpg", "reject", "plain text", (const unsigned char *) text,
         sizeof(text) - 1);
    emit("html.jpg", "reject", "an HTML error page",
         (const unsigned char *) html, sizeof(html) - 1);
    emit("html.webp", "reject", "an HTML error page",
         (const unsigned char *) html, sizeof(html) - 1);
    emit("bom-html.jpg", "reject", "HTML with a BOM",
         (const unsigned char *) bom, sizeof(bom) - 1);
    emit("svg.jpg", "reject", "SVG claiming 65500x65500",
         (const unsigned char *) svg, sizeof(svg) - 1);
    emit("json.jpg", "reject", "JSON", (const unsigned char *) json,
         sizeof(json) - 1);
    emit("riff-text.webp", "reject", "RIFF/WEBP with text in VP8",
         (const unsigned char *) riff, sizeof(riff) - 1);
    emit("jfif-text.jpg", "reject", "JFIF without SOI",
         (const unsigned char *) jfif, sizeof(jfif) - 1);
    emit("php-polyglot.jpg", "reject", "PHP followed by SOI",
         (const unsigned char *) php, sizeof(php) - 1);

    for (i = 0; i < sizeof(z); i++) {
        z[i] = (unsigned char) rand32();
    }
    emit("random-4k.jpg", "reject", "random bytes", z, sizeof(z));
    z[0] = 0xff; z[1] = 0xd8; z[2] = 0xff;
    emit("soi-random.jpg", "reject", "SOI then random bytes", z, sizeof(z));
    memcpy(z, "RIFF\xf4\x0f\0\0WEBPVP8 \xe8\x0f\0\0", 20);
    emit("riff-random.webp", "reject", "RIFF/VP8 then random bytes", z,
         sizeof(z));
    memcpy(z + 12, "VP8L", 4);
    z[20] = 0x2f;
    emit("riff-random-ll.webp", "reject", "RIFF/VP8L then random bytes", z,
         sizeof(z));
}


/*
 * A legal progressive greyscale JPEG with a custom scan script (what
 * jpeg_simple_progression() writes into scan_info, but longer):
 *   sa = 1: every coefficient alone (DC, then AC 1..63 one band each),
 *           each at Al = 10 first, then refined bit by bit to Al = 0:
 *           64 bands x 11 = 704 scans, the successive-approximation bomb;
 *   sa = 0: DC, then bands of "band" AC coefficients at full precision
 *           (1 + 63 / band scans, each a pass over the whole image).
 */

static buf_t
jpeg_scan_script(unsigned w, unsigned h, int sa, unsigned band)
{
    buf_t                         b;
    unsigned                      i, k, n, al;
    JSAMPROW                      row;
    unsigned char                *out, *pix;
    unsigned long                 len;
    jpeg_scan_info               *si;
    struct jpeg_error_mgr         jerr;
    struct jpeg_compress_struct   c;

    pix = photo(w, h, 1);
    si = xmalloc(64 * 11 * sizeof(jpeg_scan_info));
    n = 0;

    for (k = 0; k < 64; k += (sa || k == 0) ? 1 : band) {
        for (al = sa ? 10 : 0; ; al--) {
            si[n].comps_in_scan = 1;
            si[n].component_index[0] = 0;
            si[n].Ss = (int) k;
            si[n].Se = (k == 0 || sa) ? (int) k
                       : (int) (k + band - 1 > 63 ? 63 : k + band - 1);
            si[n].Ah = (al == 10 || !sa) ? 0 : (int) al + 1;
            si[n].Al = (int) al;
            n++;

            if (al == 0) {
                break;
            }
        }

        if (k == 0 && !sa) {
            k = 1 - band;
        }
    }

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);

    out = NULL;
    len = 0;
    jpeg_mem_dest(&c, &out, &len);

    c.image_width = w;
    c.image_height = h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;

    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    c.scan_info = si;
    c.num_scans = (int) n;
    c.optimize_coding = TRUE;

    jpeg_start_compress(&c, TRUE);

    for (i = 0; i < h; i++) {
        row = pix + (size_t) i * w;
        jpeg_write_scanlines(&c, &row, 1);
    }

    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    free(si);
    free(pix);

    b.p = out;
    b.n = len;

    return b;
}




/*
 * A legal progressive colour (4:2:0) JPEG of 66 scans that stays within
 * the pass budget: DC of all, AC of Y and Cr in one scan each, and AC of
 * Cb (a sixth of the blocks) one coefficient per scan.
 */

static buf_t
jpeg_chroma_scans(unsigned w, unsigned h)
{
    buf_t                         b;
    unsigned                      i, n;
    JSAMPROW                      row;
    unsigned char                *out, *pix;
    unsigned long                 len;
    jpeg_scan_info                si[66];
    struct jpeg_error_mgr         jerr;
    struct jpeg_compress_struct   c;

    memset(si, 0, sizeof(si));

    si[0].comps_in_scan = 3;
    si[0].component_index[1] = 1;
    si[0].component_index[2] = 2;

    si[1].comps_in_scan = 1;
    si[1].Ss = 1;
    si[1].Se = 63;

    si[2] = si[1];
    si[2].component_index[0] = 2;

    for (n = 3; n < 66; n++) {
        si[n].comps_in_scan = 1;
        si[n].component_index[0] = 1;
        si[n].Ss = (int) n - 2;
        si[n].Se = (int) n - 2;
    }

    pix = photo(w, h, 3);

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);

    out = NULL;
    len = 0;
    jpeg_mem_dest(&c, &out, &len);

    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;

    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    c.scan_info = si;
    c.num_scans = 66;
    c.optimize_coding = TRUE;

    jpeg_start_compress(&c, TRUE);

    for (i = 0; i < h; i++) {
        row = pix + (size_t) i * w * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }

    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    free(pix);

    b.p = out;
    b.n = len;

    return b;
}


/*
 * A lossless WebP with much work in few bytes: every row a copy of the
 * one above (backward references), the first a 61-pixel ramp; at
 * 16383x3051 about 16 KB that take libwebp some 0.3 s to decode.
 */

static buf_t
webp_slow(unsigned w, unsigned h)
{
    buf_t              b;
    unsigned           x, y;
    unsigned char     *p;
    WebPConfig         config;
    WebPPicture        pic;
    WebPMemoryWriter   wr;

    p = xmalloc((size_t) w * h * 3);

    for (x = 0; x < w * 3; x++) {
        p[x] = (unsigned char) ((x / 3 % 61) * 4 + (x % 3) * 50
                                + ((x / 3 / 61) & 1));
    }

    for (y = 1; y < h; y++) {
        memcpy(p + (size_t) y * w * 3, p, (size_t) w * 3);
    }

    if (!WebPConfigInit(&config) || !WebPConfigLosslessPreset(&config, 1)
        || !WebPPictureInit(&pic))
    {
        die("libwebp version mismatch");
    }

    pic.use_argb = 1;
    pic.width = (int) w;
    pic.height = (int) h;

    if (!WebPPictureImportRGB(&pic, p, (int) w * 3)) {
        die("out of memory");
    }

    free(p);

    WebPMemoryWriterInit(&wr);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &wr;

    if (!WebPEncode(&config, &pic)) {
        die("WebPEncode: error %d", (int) pic.error_code);
    }

    WebPPictureFree(&pic);

    b.p = wr.mem;
    b.n = wr.size;

    return b;
}


/*
 * Inputs of the exact decode shortcuts (src/image/ngx_tunny_image_jpeg.c):
 * a progressive 3200x2400 photo that resize 100 100 decodes at 1/8 (the
 * luma AC scans not decoded at all) and crop 150 150 in a region, copies
 * damaged where only the whole decode looks or where the DC-only decode
 * must step aside, and the baseline of the same pixels.  Smooth pixels
 * (no noise) keep the files small.
 */

static unsigned char *
smooth(unsigned w, unsigned h)
{
    unsigned        x, y, c, v;
    unsigned char  *p, *d;

    p = xmalloc((size_t) w * h * 3);
    d = p;

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            for (c = 0; c < 3; c++) {
                v = (x * (70 + 50 * c)) / w + (y * (120 - 40 * c)) / h;

                if ((x - w / 3) * (x - w / 3) + (y - h / 2) * (y - h / 2)
                    < (w / 6) * (w / 6))
                {
                    v += 60;
                }

                if (((x + 3 * y) / 40) % 4 == 0 && x > w / 2) {
                    v += 40;
                }

                *d++ = (unsigned char) (v > 255 ? 255 : v);
            }
        }
    }

    return p;
}


/*
 * A file of the exact shortcuts' set: PRE-SUFFIX.jpg, described as
 * "progressive SUB3200x2400" and the rest
 */

static void
emit_fast(const char *pre, const char *sub, const char *suffix,
    const char *expect, const char *rest, buf_t b)
{
    char  name[64], what[160];

    snprintf(name, sizeof(name), "%s-%s.jpg", pre, suffix);
    snprintf(what, sizeof(what), "progressive %s3200x2400%s", sub, rest);
    emitb(name, expect, what, b);
}


/*
 * The exact shortcuts' files, in 4:2:0 (prefix "fast-": libjpeg's DC-only
 * decode, the chroma AC kept) and in 4:4:4 ("fast444-": the module's own
 * DC decoder); sub: 1 for 4:4:4
 */

static void
gen_jpeg_fast_one(const unsigned char *pix, int sub444)
{
    buf_t           b, d, r;
    jopt_t          o;
    size_t          pos[MAX_MARKERS], hl, keep, len, k, data;
    unsigned        i, n, first, last, mk[MAX_MARKERS], rst;
    const char     *pre, *sub;

    pre = sub444 ? "fast444" : "fast";
    sub = sub444 ? "4:4:4 " : "";

    memset(&o, 0, sizeof(o));
    o.quality = 75;
    o.progressive = 1;
    o.h0 = sub444 ? 1 : 0;
    o.v0 = sub444 ? 1 : 0;
    b = jpeg(pix, 3200, 2400, 3, JCS_RGB, &o);
    emit_fast(pre, sub, "prog-3200", "ok",
              " (DC-only decode at resize 100)", b);

    o.restart = 1;
    r = jpeg(pix, 3200, 2400, 3, JCS_RGB, &o);
    emit_fast(pre, sub, "prog-restart", "ok",
              ", restart markers every MCU row", r);

    if (!sub444) {
        o.restart = 0;
        o.progressive = 0;
        d = jpeg(pix, 3200, 2400, 3, JCS_RGB, &o);
        emitb("fast-base-3200.jpg", "ok", "baseline 3200x2400 (region "
              "decode at crop 150)", d);
        free(d.p);
    }

    n = jpeg_markers(b, pos, mk);
    first = n;
    last = n;

    for (i = 0; i < n; i++) {
        if (mk[i] == 0xda) {
            first = (first == n) ? i : first;
            last = i;
        }
    }

    if (first == n || last + 1 >= n || mk[last + 1] != 0xd9) {
        die("gen_jpeg_fast: unexpected markers");
    }

    /* the last scan (luma AC) with the second half of its data missing */

    hl = 2 + rd_be16(b.p + pos[last] + 2);
    keep = pos[last] + hl + (pos[last + 1] - pos[last] - hl) / 2;
    d.n = keep + (b.n - pos[last + 1]);
    d.p = xmalloc(d.n);
    memcpy(d.p, b.p, keep);
    memcpy(d.p + keep, b.p + pos[last + 1], b.n - pos[last + 1]);
    emit_fast(pre, sub, "prog-ac-cut", "any",
              ", half of the last (luma AC) scan missing", d);
    free(d.p);

    /* the first (DC) scan once more after the last: DC imprecise again */

    len = pos[first + 1] - pos[first];
    d.n = b.n + len;
    d.p = xmalloc(d.n);
    memcpy(d.p, b.p, pos[last + 1]);
    memcpy(d.p + pos[last + 1], b.p + pos[first], len);
    memcpy(d.p + pos[last + 1] + len, b.p + pos[last + 1],
           b.n - pos[last + 1]);
    emit_fast(pre, sub, "prog-dc-late", "any",
              ", its first DC scan repeated after the last scan", d);
    free(d.p);

    /* the DC scan's data garbled in its middle (no 0xFF made) */

    d.n = b.n;
    d.p = xmalloc(d.n);
    memcpy(d.p, b.p, b.n);
    data = pos[first] + 2 + rd_be16(b.p + pos[first] + 2);

    for (k = data + (pos[first + 1] - data) / 2;
         k < pos[first + 1] && k < data + (pos[first + 1] - data) / 2 + 48;
         k++)
    {
        if (d.p[k] != 0xff && d.p[k] != 0x00) {
            d.p[k] = (unsigned char) ((d.p[k] * 37 + 11) % 0xfe + 1);
        }
    }

    emit_fast(pre, sub, "prog-dc-garbled", "any",
              ", 48 bytes of its DC scan garbled", d);
    free(d.p);

    /* the restart markers of the first scan out of order: RST1 first */

    d.n = r.n;
    d.p = xmalloc(d.n);
    memcpy(d.p, r.p, r.n);
    rst = 0;

    for (k = 0; k + 1 < d.n; k++) {
        if (d.p[k] == 0xff && d.p[k + 1] == 0xd0 && rst == 0) {
            d.p[k + 1] = 0xd1;
            rst = 1;

        } else if (d.p[k] == 0xff && d.p[k + 1] == 0xd1 && rst == 1) {
            d.p[k + 1] = 0xd0;
            break;
        }
    }

    emit_fast(pre, sub, "prog-rst-swapped", "any",
              ", its first two restart markers swapped", d);
    free(d.p);

    /* without its EOI: the DC-only decode steps aside */

    d.p = b.p;
    d.n = pos[last + 1];
    emit_fast(pre, sub, "prog-no-eoi", "ok", " without its EOI", d);

    free(r.p);
    free(b.p);
}


static void
gen_jpeg_fast(void)
{
    unsigned char  *pix;

    pix = smooth(3200, 2400);

    gen_jpeg_fast_one(pix, 0);
    gen_jpeg_fast_one(pix, 1);

    free(pix);
}


static void
gen_bombs(void)
{
    buf_t   c;
    size_t  off;

    /* the work of progressive scans: count and passes over the image */

    c = jpeg_scan_script(1024, 1024, 1, 0);
    emitb("scan-bomb-sa.jpg", "reject", "progressive grey 1024x1024, 704 "
          "legal scans (every coefficient alone, Al 10 to 0)", c);
    free(c.p);

    c = jpeg_scan_script(128, 128, 1, 0);
    emitb("scan-bomb-sa-small.jpg", "reject", "progressive grey 128x128, 704 "
          "legal scans (every coefficient alone, Al 10 to 0)", c);
    free(c.p);

    c = jpeg_scan_script(512, 512, 0, 1);
    emitb("scan-passes-64.jpg", "reject", "progressive grey, 64 scans, "
          "each a pass over the whole image", c);
    free(c.p);

    c = jpeg_chroma_scans(256, 256);
    emitb("scan-count-66.jpg", "reject", "progressive colour, 66 scans "
          "within the pass budget (Cb AC one coefficient a scan)", c);
    free(c.p);

    c = jpeg_scan_script(512, 512, 0, 3);
    emitb("scan-passes-22.jpg", "ok", "progressive grey, 22 scans, "
          "each a pass over the whole image", c);
    free(c.p);

    c = jpeg_dims(base_jpg, 65500, 65500);
    emitb("bomb-65500x65500.jpg", "reject", "SOF claims 65500x65500", c);
    free(c.p);

    c = jpeg_dims(prog_jpg, 65500, 65500);
    emitb("bomb-65500x65500-prog.jpg", "reject",
          "progressive SOF claims 65500x65500", c);
    free(c.p);

    c = jpeg_dims(arith_jpg, 65500, 65500);
    emitb("bomb-65500x65500-arith.jpg", "reject",
          "arithmetic SOF claims 65500x65500", c);
    free(c.p);

    c = jpeg_dims(base_jpg, 65535, 65535);
    emitb("bomb-65535x65535.jpg", "reject", "SOF claims 65535x65535", c);
    free(c.p);

    c = jpeg_dims(base_jpg, 8000, 6250);
    emitb("bomb-8000x6250.jpg", "reject",
          "SOF claims 50 Mpx (= the limit), data for 320x240", c);
    free(c.p);

    c = jpeg_dims(base_jpg, 65500, 1);
    emitb("bomb-65500x1.jpg", "reject", "SOF claims 65500x1", c);
    free(c.p);

    c = jpeg_dims(base_jpg, 1, 65500);
    emitb("bomb-1x65500.jpg", "reject", "SOF claims 1x65500", c);
    free(c.p);

    c = jpeg_dims(base_jpg, 640, 480);
    emitb("lie-640x480.jpg", "reject", "SOF claims 640x480, data 320x240", c);
    free(c.p);

    c = jpeg_dims(base_jpg, 320, 0);
    emitb("zero-height.jpg", "reject", "SOF height 0 (DNL style)", c);
    free(c.p);

    c = jpeg_dims(base_jpg, 0, 240);
    emitb("zero-width.jpg", "reject", "SOF width 0", c);
    free(c.p);

    /* WebP: VP8X canvas, VP8 frame, VP8L header */

    c = webp_mux(base_webp, (buf_t) { NULL, 0 },
                 (buf_t) { (unsigned char *) "II*\0\x08\0\0\0\0\0", 10 },
                 (buf_t) { NULL, 0 });
    off = webp_chunk_offset(c, "VP8X");
    le24(c.p + off + 12, 16384 - 1);
    le24(c.p + off + 15, 16384 - 1);
    emitb("bomb-vp8x-16384.webp", "reject", "VP8X canvas 16384x16384", c);

    le24(c.p + off + 12, 0xffffff);
    le24(c.p + off + 15, 0xffffff);
    emitb("bomb-vp8x-2p24.webp", "reject", "VP8X canvas 2^24 x 2^24", c);

    le24(c.p + off + 12, 640 - 1);
    le24(c.p + off + 15, 480 - 1);
    emitb("lie-vp8x-640x480.webp", "reject",
          "VP8X canvas 640x480, frame 320x240", c);
    free(c.p);

    c = bdup(base_webp);
    le16(c.p + 26, 16383);
    le16(c.p + 28, 16383);
    emitb("bomb-vp8-16383.webp", "reject", "VP8 frame 16383x16383", c);
    le16(c.p + 26, 0);
    le16(c.p + 28, 0);
    emitb("zero-vp8.webp", "reject", "VP8 frame 0x0", c);
    le16(c.p + 26, 320 | 0xc000);
    le16(c.p + 28, 240 | 0xc000);
    emitb("vp8-scale-bits.webp", "any", "VP8 frame with upscale bits", c);
    free(c.p);

    c = bdup(ll_webp);
    /* 14 bits width-1, 14 bits height-1 after the 0x2f signature */
    c.p[21] = 0xff;
    c.p[22] = 0xff;
    c.p[23] = 0xff;
    c.p[24] = (c.p[24] & 0xf0) | 0x0f;
    emitb("bomb-vp8l-16384.webp", "reject", "VP8L 16384x16384", c);
    free(c.p);
    c = bdup(ll_webp);
    c.p[24] = (c.p[24] & 0x1f) | 0xe0;
    emitb("vp8l-bad-version.webp", "reject", "VP8L version 7", c);
    free(c.p);
}


static void
gen_jpeg_variants(void)
{
    buf_t          c;
    long           sof, sos, dht, dqt;
    jopt_t         o;
    unsigned       i;
    unsigned char  *thin;
    static const struct { const char *name; int h, v; const char *what; }
        samp[] = {
            { "samp-444.jpg", 1, 1, "4:4:4" },
            { "samp-422.jpg", 2, 1, "4:2:2" },
            { "samp-440.jpg", 1, 2, "4:4:0" },
            { "samp-411.jpg", 4, 1, "4:1:1" },
            { "samp-410.jpg", 4, 2, "4:1:0" },
            { "samp-31.jpg", 3, 1, "3x1 luma sampling" },
            { "samp-13.jpg", 1, 3, "1x3 luma sampling" },
        };

    memset(&o, 0, sizeof(o));

    /* valid but unusual: must come out as 200 */

    emitb("baseline.jpg", "ok", "plain baseline 320x240", base_jpg);
    emitb("progressive.jpg", "ok", "progressive", prog_jpg);
    emitb("arith.jpg", "ok", "arithmetic-coded", arith_jpg);

    o.progressive = 1;
    o.arith = 1;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("arith-prog.jpg", "ok", "arithmetic-coded progressive", c);
    free(c.p);

    memset(&o, 0, sizeof(o));
    o.restart = 1;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("restart.jpg", "ok", "restart interval every MCU row", c);

    /* restart markers renumbered: libjpeg resyncs with warnings */
    for (i = 0; i + 1 < c.n; i++) {
        if (c.p[i] == 0xff && c.p[i + 1] >= 0xd0 && c.p[i + 1] <= 0xd7) {
            c.p[i + 1] = 0xd0 + ((c.p[i + 1] + 3) & 7);
        }
    }
    emitb("restart-bad.jpg", "any", "restart markers out of order", c);
    free(c.p);

    o.restart = 0;
    o.quality = 100;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("q100.jpg", "ok", "quality 100", c);
    free(c.p);
    o.quality = 1;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("q1.jpg", "ok", "quality 1", c);
    free(c.p);
    o.quality = 0;

    c = jpeg(pix_gray, 320, 240, 1, JCS_GRAYSCALE, &o);
    emitb("gray.jpg", "ok", "greyscale", c);
    free(c.p);

    o.progressive = 1;
    c = jpeg(pix_gray, 320, 240, 1, JCS_GRAYSCALE, &o);
    emitb("gray-prog.jpg", "ok", "greyscale progressive", c);
    free(c.p);
    o.progressive = 0;

    c = jpeg(pix_cmyk, 320, 240, 4, JCS_CMYK, &o);
    emitb("cmyk.jpg", "ok", "CMYK with an Adobe marker", c);
    free(c.p);

    o.adobe = -1;
    c = jpeg(pix_cmyk, 320, 240, 4, JCS_CMYK, &o);
    emitb("cmyk-noadobe.jpg", "ok", "CMYK without an Adobe marker", c);
    free(c.p);
    o.adobe = 0;

    o.jpeg_cs = JCS_YCCK;
    c = jpeg(pix_cmyk, 320, 240, 4, JCS_CMYK, &o);
    emitb("ycck.jpg", "ok", "YCCK", c);
    free(c.p);

    o.progressive = 1;
    c = jpeg(pix_cmyk, 320, 240, 4, JCS_CMYK, &o);
    emitb("ycck-prog.jpg", "ok", "YCCK progressive", c);
    free(c.p);
    o.progressive = 0;
    o.jpeg_cs = 0;

    o.jpeg_cs = JCS_RGB;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("rgb-stored.jpg", "ok", "RGB colour space (no YCbCr)", c);
    free(c.p);
    o.jpeg_cs = 0;

    /* two components, colour space unknown */
    {
        unsigned char  *two;

        two = photo(320, 240, 2);
        o.jpeg_cs = JCS_UNKNOWN;
        c = jpeg(two, 320, 240, 2, JCS_UNKNOWN, &o);
        emitb("two-components.jpg", "any", "2 components, unknown colours",
              c);
        free(c.p);
        free(two);
        o.jpeg_cs = 0;
    }

    for (i = 0; i < sizeof(samp) / sizeof(samp[0]); i++) {
        o.h0 = samp[i].h;
        o.v0 = samp[i].v;
        c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
        emitb(samp[i].name, "ok", samp[i].what, c);
        free(c.p);
    }
    o.h0 = o.v0 = 0;

    /* thin and odd sizes */
    thin = photo(5000, 2, 3);
    c = jpeg(thin, 5000, 1, 3, JCS_RGB, &o);
    emitb("thin-5000x1.jpg", "ok", "5000x1", c);
    free(c.p);
    c = jpeg(thin, 1, 5000, 3, JCS_RGB, &o);
    emitb("thin-1x5000.jpg", "ok", "1x5000", c);
    free(c.p);
    c = jpeg(thin, 101, 3, 3, JCS_RGB, &o);
    emitb("odd-101x3.jpg", "ok", "101x3", c);
    free(c.p);
    free(thin);

    /* small file, many pixels: a flat 6000x4000 (24 Mpx) really encoded */
    {
        unsigned char  *flat;

        flat = xmalloc(6000 * 4000);
        memset(flat, 0x80, 6000 * 4000);
        o.quality = 10;
        c = jpeg(flat, 6000, 4000, 1, JCS_GRAYSCALE, &o);
        emitb("flat-6000x4000.jpg", "ok", "flat grey 6000x4000, small file",
              c);
        free(c.p);
        free(flat);
        o.quality = 0;
    }

    /* 20000 empty COM markers before the frame */
    o.coms = 20000;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("com-20000.jpg", "ok", "20000 COM markers", c);
    free(c.p);
    o.coms = 0;

    /* SOF patches: precision, process, components, sampling, tables */

    sof = jpeg_sof(base_jpg);

    c = bdup(base_jpg);
    c.p[sof + 4] = 12;
    emitb("precision-12.jpg", "reject", "12-bit sample precision", c);
    c.p[sof + 4] = 16;
    emitb("precision-16.jpg", "reject", "16-bit sample precision", c);
    c.p[sof + 4] = 0;
    emitb("precision-0.jpg", "reject", "0-bit sample precision", c);
    free(c.p);

    {
        static const struct { unsigned m; const char *name, *what,
                              *expect; }  sofs[] = {
            { 0xc1, "sof1.jpg", "SOF1 extended sequential", "ok" },
            { 0xc2, "sof2-on-baseline.jpg", "SOF2 on baseline scans",
              "any" },
            { 0xc3, "sof3-lossless.jpg", "SOF3 lossless", "reject" },
            { 0xc5, "sof5.jpg", "SOF5 differential sequential", "reject" },
            { 0xc6, "sof6.jpg", "SOF6 differential progressive", "reject" },
            { 0xc7, "sof7.jpg", "SOF7 differential lossless", "reject" },
            { 0xc9, "sof9-on-huffman.jpg", "SOF9 on Huffman data", "any" },
            { 0xcb, "sof11.jpg", "SOF11 arithmetic lossless", "reject" },
            { 0xcd, "sof13.jpg", "SOF13 differential arithmetic",
              "reject" },
            { 0xcf, "sof15.jpg", "SOF15", "reject" },
        };

        for (i = 0; i < sizeof(sofs) / sizeof(sofs[0]); i++) {
            c = bdup(base_jpg);
            c.p[sof + 1] = (unsigned char) sofs[i].m;
            emitb(sofs[i].name, sofs[i].expect, sofs[i].what, c);
            free(c.p);
        }
    }

    c = bdup(arith_jpg);
    sof = jpeg_sof(c);
    c.p[sof + 4] = 12;
    emitb("arith-precision-12.jpg", "reject", "arithmetic 12-bit", c);
    free(c.p);

    sof = jpeg_sof(base_jpg);

    /* components: SOF length stays, count lies */
    c = bdup(base_jpg);
    c.p[sof + 9] = 0;
    emitb("ncomp-0.jpg", "reject", "0 components", c);
    c.p[sof + 9] = 4;
    emitb("ncomp-4-short.jpg", "reject", "4 components, 3 described", c);
    c.p[sof + 9] = 255;
    emitb("ncomp-255.jpg", "reject", "255 components", c);
    free(c.p);

    /* sampling factors of the first component */
    c = bdup(base_jpg);
    c.p[sof + 11] = 0x00;
    emitb("samp-0.jpg", "reject", "sampling factors 0x0", c);
    c.p[sof + 11] = 0x44;
    emitb("samp-4x4.jpg", "reject", "4x4 luma sampling: 18 blocks per MCU",
          c);
    c.p[sof + 11] = 0x55;
    emitb("samp-5.jpg", "reject", "sampling factors 5x5", c);
    c.p[sof + 11] = 0xff;
    emitb("samp-15.jpg", "reject", "sampling factors 15x15", c);
    free(c.p);

    /* quantisation table selector 3 (undefined) and 9 (invalid) */
    c = bdup(base_jpg);
    c.p[sof + 12] = 3;
    emitb("qtable-3.jpg", "reject", "undefined quantisation table", c);
    c.p[sof + 12] = 9;
    emitb("qtable-9.jpg", "reject", "quantisation table 9", c);
    free(c.p);

    /* duplicate component ids */
    c = bdup(base_jpg);
    c.p[sof + 13] = c.p[sof + 10];
    emitb("comp-dup-id.jpg", "any", "duplicate component ids", c);
    free(c.p);

    /* SOF length field shorter / longer than the data */
    c = bdup(base_jpg);
    be16(c.p + sof + 2, 8);
    emitb("sof-len-8.jpg", "reject", "SOF length 8", c);
    be16(c.p + sof + 2, 0xffff);
    emitb("sof-len-ffff.jpg", "reject", "SOF length 65535", c);
    be16(c.p + sof + 2, 1);
    emitb("sof-len-1.jpg", "reject", "SOF length 1", c);
    free(c.p);

    /* a second SOF right after the first */
    {
        size_t  len = 2 + rd_be16(base_jpg.p + sof + 2);

        c = bsplice(base_jpg, (size_t) sof + len, 0, base_jpg.p + sof, len);
        emitb("two-sof.jpg", "reject", "two SOF markers", c);
        free(c.p);
    }

    /* no Huffman tables: libjpeg-turbo falls back to the standard ones */
    {
        buf_t  d;

        c = bdup(base_jpg);
        while ((dht = jpeg_find(c, 0xc4, 0)) >= 0) {
            d = bsplice(c, (size_t) dht, 2 + rd_be16(c.p + dht + 2), NULL,
                        0);
            free(c.p);
            c = d;
        }
        emitb("no-dht.jpg", "any", "Huffman tables removed", c);
        free(c.p);

        c = bdup(base_jpg);
        while ((dqt = jpeg_find(c, 0xdb, 0)) >= 0) {
            d = bsplice(c, (size_t) dqt, 2 + rd_be16(c.p + dqt + 2), NULL,
                        0);
            free(c.p);
            c = d;
        }
        emitb("no-dqt.jpg", "reject", "quantisation tables removed", c);
        free(c.p);
    }

    /* DHT with counts claiming 4096 codes */
    c = bdup(base_jpg);
    dht = jpeg_find(c, 0xc4, 0);
    memset(c.p + dht + 5, 0xff, 16);
    emitb("dht-counts.jpg", "reject", "DHT with bogus code counts", c);
    free(c.p);

    /* DQT: 16-bit precision flag on 8-bit data, table id 7 */
    c = bdup(base_jpg);
    dqt = jpeg_find(c, 0xdb, 0);
    c.p[dqt + 4] = 0x10;
    emitb("dqt-16bit.jpg", "any", "DQT claims 16-bit entries", c);
    c.p[dqt + 4] = 0x07;
    emitb("dqt-id-7.jpg", "reject", "DQT table id 7", c);
    free(c.p);

    /* SOS: a component not in the frame, zero components, bad spectral */
    sos = jpeg_find(base_jpg, 0xda, 0);
    c = bdup(base_jpg);
    c.p[sos + 5] = 0x77;
    emitb("sos-bad-comp.jpg", "reject", "SOS names an unknown component", c);
    free(c.p);
    c = bdup(base_jpg);
    c.p[sos + 4] = 0;
    emitb("sos-0-comps.jpg", "reject", "SOS with 0 components", c);
    c.p[sos + 4] = 9;
    emitb("sos-9-comps.jpg", "reject", "SOS with 9 components", c);
    free(c.p);
    c = bdup(base_jpg);
    c.p[sos + 6] = 0x77;
    emitb("sos-bad-tables.jpg", "reject", "SOS uses Huffman tables 7", c);
    free(c.p);

    /* EOI right after the SOS header, and a marker in the data */
    {
        size_t          hl = 2 + rd_be16(base_jpg.p + sos + 2);
        unsigned char   eoi[2] = { 0xff, 0xd9 };
        unsigned char   dri[6] = { 0xff, 0xdd, 0, 4, 0, 1 };

        c = bsplice(base_jpg, (size_t) sos + hl, 0, eoi, 2);
        c.n = (size_t) sos + hl + 2;
        emitb("eoi-after-sos.jpg", "reject", "EOI instead of scan data", c);
        free(c.p);

        c = bsplice(base_jpg, (size_t) sos + hl + (base_jpg.n - sos) / 2, 0,
                    dri, 6);
        emitb("dri-in-data.jpg", "reject", "DRI marker inside scan data", c);
        free(c.p);

        c = bsplice(base_jpg, (size_t) sos + hl + (base_jpg.n - sos) / 3, 0,
                    eoi, 2);
        emitb("eoi-in-data.jpg", "reject", "EOI inside scan data", c);
        free(c.p);
    }

    /* progressive scan bomb: the smallest scan repeated 1100 times */
    {
        size_t    at, len, k, best, best_len;
        unsigned  n, mk[MAX_MARKERS];
        size_t    pos[MAX_MARKERS];
        buf_t     d;

        n = jpeg_markers(prog_jpg, pos, mk);
        best = 0;
        best_len = (size_t) -1;

        for (i = 0; i + 1 < n; i++) {
            if (mk[i] == 0xda && pos[i + 1] - pos[i] < best_len) {
                best = pos[i];
                best_len = pos[i + 1] - pos[i];
            }
        }

        at = best + best_len;
        len = best_len;

        d.n = prog_jpg.n + 1100 * len;
        d.p = xmalloc(d.n);
        memcpy(d.p, prog_jpg.p, at);
        for (k = 0; k < 1100; k++) {
            memcpy(d.p + at + k * len, prog_jpg.p + best, len);
        }
        memcpy(d.p + at + 1100 * len, prog_jpg.p + at, prog_jpg.n - at);

        emitb("scan-bomb.jpg", "reject", "progressive, 1100 repeated scans",
              d);

        /* 50 repeats: tolerated (bogus progression warnings) */
        memcpy(d.p + at + 50 * len, prog_jpg.p + at, prog_jpg.n - at);
        d.n = prog_jpg.n + 50 * len;
        emitb("scan-repeat-50.jpg", "any", "progressive, 50 repeated scans",
              d);
        free(d.p);
    }
}


static void
gen_exif(void)
{
    char            name[64];
    buf_t           c;
    jopt_t          o;
    size_t          n, n2;
    unsigned        i;
    exif_t          e, d;
    unsigned char   blk[128], blk2[128], big[70000];
    static const unsigned  orient[] = { 0, 2, 5, 6, 7, 8, 9, 255, 0xffff };

    memset(&d, 0, sizeof(d));
    d.le = 1;
    d.ifd = 8;
    d.entries = 1;
    d.magic = 42;
    d.order = "II";
    d.tag = 0x0112;
    d.type = 3;
    d.count = 1;
    d.value = 6;

    memset(&o, 0, sizeof(o));
    o.app1 = blk;

#define EXIF(file, expect, what)                                             \
    do {                                                                     \
        o.app1_len = exif_block(blk, &e);                                    \
        c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);                         \
        emitb(file, expect, what, c);                                        \
        free(c.p);                                                           \
    } while (0)

    for (i = 0; i < sizeof(orient) / sizeof(orient[0]); i++) {
        e = d;
        e.value = orient[i];
        e.le = i & 1;
        snprintf(name, sizeof(name), "exif-orient-%u.jpg", orient[i]);
        EXIF(name, "ok", "EXIF orientation value");
    }

    e = d; e.ifd = 0xfffffff0; EXIF("exif-ifd-far.jpg", "ok",
                                    "IFD0 offset 0xfffffff0");
    e = d; e.ifd = 0; EXIF("exif-ifd-0.jpg", "ok", "IFD0 offset 0");
    e = d; e.ifd = 7; EXIF("exif-ifd-7.jpg", "ok", "IFD0 offset 7");
    e = d; e.ifd = 30; EXIF("exif-ifd-end-2.jpg", "ok",
                            "IFD0 at the last 2 bytes");
    e = d; e.ifd = 31; EXIF("exif-ifd-end-1.jpg", "ok",
                            "IFD0 at the last byte");
    e = d; e.ifd = 32; EXIF("exif-ifd-end.jpg", "ok", "IFD0 at the end");
    e = d; e.ifd = 0x80000000; EXIF("exif-ifd-neg.jpg", "ok",
                                    "IFD0 offset 2^31");
    e = d; e.entries = 0xffff; EXIF("exif-entries-ffff.jpg", "ok",
                                    "65535 IFD entries");
    e = d; e.entries = 0; EXIF("exif-entries-0.jpg", "ok", "0 IFD entries");
    e = d; e.type = 4; EXIF("exif-type-long.jpg", "ok",
                            "orientation as LONG");
    e = d; e.type = 0xffff; EXIF("exif-type-ffff.jpg", "ok",
                                 "orientation type 65535");
    e = d; e.count = 0; EXIF("exif-count-0.jpg", "ok", "orientation count 0");
    e = d; e.count = 0xffffffff; EXIF("exif-count-huge.jpg", "ok",
                                      "orientation count 2^32-1");
    e = d; e.magic = 43; EXIF("exif-bigtiff.jpg", "ok", "BigTIFF magic");
    e = d; e.order = "XX"; EXIF("exif-order.jpg", "ok", "byte order XX");
    e = d; e.le = 0; e.order = "II"; EXIF("exif-order-lie.jpg", "ok",
                                          "II header, big-endian data");

    for (i = 1; i <= 14; i += (i < 4) ? 1 : 3) {
        e = d;
        e.cut = i;
        snprintf(name, sizeof(name), "exif-cut-%u.jpg", i);
        EXIF(name, "ok", "EXIF TIFF data cut short");
    }

    /* only "Exif\0" */
    o.app1_len = 5;
    memcpy(blk, "Exif\0", 5);
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("exif-5.jpg", "ok", "APP1 with \"Exif\\0\" only", c);
    free(c.p);

    /* two EXIF blocks: 6 then 3 */
    e = d;
    o.app1_len = exif_block(blk, &e);
    e.value = 3;
    n2 = exif_block(blk2, &e);
    o.app1b = blk2;
    o.app1b_len = n2;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("exif-two.jpg", "ok", "two EXIF blocks, orientation 6 and 3", c);
    free(c.p);
    o.app1b = NULL;

    /* a 65533-byte APP1 with the orientation at its very end */
    memset(big, 0, sizeof(big));
    e = d;
    e.ifd = 65533 - 6 - 18;
    n = exif_block(big, &e);
    (void) n;
    {
        unsigned char  *t = big + 6;
        size_t          ifd = e.ifd;

        le16(t + ifd, 1);
        le16(t + ifd + 2, 0x0112);
        le16(t + ifd + 4, 3);
        le32(t + ifd + 6, 1);
        le16(t + ifd + 10, 8);
        le16(t + ifd + 12, 0);
        le32(t + ifd + 14, 0);
    }
    o.app1 = big;
    o.app1_len = 65533;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("exif-64k.jpg", "ok", "64 KB EXIF, orientation 8 at the end", c);

    /* APP1 length field past the end of the file / tiny */
    {
        long  app1 = jpeg_find(c, 0xe1, 0);
        buf_t t = bdup(c);

        t.n = (size_t) app1 + 4 + 1000;
        emitb("app1-past-eof.jpg", "reject", "APP1 longer than the file", t);
        t.n = c.n;
        be16(t.p + app1 + 2, 0);
        emitb("app1-len-0.jpg", "reject", "APP1 length 0", t);
        be16(t.p + app1 + 2, 1);
        emitb("app1-len-1.jpg", "reject", "APP1 length 1", t);
        free(t.p);
    }
    free(c.p);
    o.app1 = blk;

#undef EXIF
}


static void
gen_icc(void)
{
    buf_t           c, icc, img;
    jopt_t          o;
    size_t          n, k, chunk;
    unsigned        i;
    unsigned char  *m;

    memset(&o, 0, sizeof(o));

    /* 1 MB split over 17 APP2 markers by libjpeg */
    icc = icc_profile(1024 * 1024, "RGB ");
    o.icc = icc.p;
    o.icc_len = icc.n;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("icc-1m.jpg", "ok", "1 MB ICC profile in 17 APP2 markers", c);
    free(c.p);

    o.progressive = 1;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("icc-1m-prog.jpg", "ok", "1 MB ICC profile, progressive", c);
    free(c.p);
    o.progressive = 0;

    /* WebP with the same profile */
    c = webp_mux(base_webp, icc, (buf_t) { NULL, 0 }, (buf_t) { NULL, 0 });
    emitb("icc-1m.webp", "ok", "1 MB ICCP chunk", c);
    free(c.p);
    free(icc.p);

    /* 4 MB: 65 markers */
    icc = icc_profile(4 * 1024 * 1024, "RGB ");
    o.icc = icc.p;
    o.icc_len = icc.n;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("icc-4m.jpg", "ok", "4 MB ICC profile in 65 APP2 markers", c);
    free(c.p);
    free(icc.p);

    /* a profile for the wrong colour space: dropped */
    icc = icc_profile(3000, "CMYK");
    o.icc = icc.p;
    o.icc_len = icc.n;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("icc-cmyk-on-rgb.jpg", "ok", "CMYK profile on an RGB image", c);
    free(c.p);
    c = jpeg(pix_gray, 320, 240, 1, JCS_GRAYSCALE, &o);
    emitb("icc-cmyk-on-gray.jpg", "ok", "CMYK profile on a grey image", c);
    free(c.p);
    c = jpeg(pix_cmyk, 320, 240, 4, JCS_CMYK, &o);
    emitb("icc-cmyk.jpg", "ok", "CMYK image with a CMYK profile", c);
    free(c.p);
    free(icc.p);

    /* profile length 0, and "acsp" missing */
    icc = icc_profile(200, "RGB ");
    memset(icc.p + 36, 0, 4);
    o.icc = icc.p;
    o.icc_len = icc.n;
    c = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb("icc-no-acsp.jpg", "ok", "ICC without the acsp signature", c);
    free(c.p);
    o.icc = NULL;

    /* hand-made APP2 sequences: inserted after SOI */

    img = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    chunk = 60000;
    m = xmalloc(300 * (chunk + 18));

    {
        static const struct { const char *name; const char *what;
                              unsigned markers, count, seq0, dup; }  t[] = {
            { "icc-seq-dup.jpg", "two markers with sequence 1", 2, 2, 1, 1 },
            { "icc-seq-0.jpg", "sequence numbers from 0", 3, 3, 0, 0 },
            { "icc-count-0.jpg", "marker count 0", 2, 0, 1, 0 },
            { "icc-missing.jpg", "count 5, markers 1..3 present", 3, 5, 1,
              0 },
            { "icc-count-255.jpg", "count 255, 2 markers present", 2, 255, 1,
              0 },
            { "icc-seq-over.jpg", "sequence 9 of 2", 2, 2, 8, 0 },
            { "icc-255.jpg", "255 markers of 42000 bytes (10.2 MB)", 255,
              255, 1, 0 },
        };

        for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            chunk = (t[i].markers == 255) ? 42000 : 60000;
            icc = icc_profile(chunk * t[i].markers, "RGB ");
            n = 0;
            for (k = 0; k < t[i].markers; k++) {
                n += icc_marker(m + n, t[i].dup ? t[i].seq0 : t[i].seq0 + k,
                                t[i].count, icc.p + k * chunk, chunk);
            }

            c = bsplice(img, 2, 0, m, n);
            emitb(t[i].name, strcmp(t[i].name, "icc-255.jpg") == 0
                             ? "reject" : "ok", t[i].what, c);
            free(c.p);
            free(icc.p);
        }
    }

    /* an ICC marker shorter than its own header */
    {
        unsigned char  s[8] = { 0xff, 0xe2, 0, 6, 'I', 'C', 'C', '_' };

        c = bsplice(img, 2, 0, s, sizeof(s));
        emitb("icc-short.jpg", "ok", "APP2 shorter than ICC_PROFILE", c);
        free(c.p);
    }

    free(m);
    free(img.p);
}


static void
gen_webp(void)
{
    buf_t          c, a, vp8, vp8l, alph, exif, xmp;
    unsigned char  x[10], anim[6], anmf[16 + 4096];

    emitb("lossy.webp", "ok", "lossy 320x240", base_webp);
    emitb("lossless.webp", "ok", "lossless 320x240", ll_webp);

    a = webp_alpha(320, 240);
    emitb("alpha.webp", "ok", "lossy with alpha (VP8X + ALPH)", a);

    exif = (buf_t) { (unsigned char *) "MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03"
                     "\0\0\0\x01\0\x06\0\0\0\0\0\0", 26 };
    xmp = (buf_t) { (unsigned char *) "<x:xmpmeta/>", 12 };
    c = webp_mux(base_webp, (buf_t) { NULL, 0 }, exif, xmp);
    emitb("exif-xmp.webp", "ok", "VP8X with EXIF and XMP after the image",
          c);
    gen_truncations("exif-xmp", c, "VP8X+EXIF+XMP WebP", 0);
    free(c.p);

    vp8 = webp_chunk(base_webp, "VP8 ");
    vp8l = webp_chunk(ll_webp, "VP8L");
    alph = webp_chunk(a, "ALPH");

    /* RIFF size field lies */
    {
        static const struct { long size; const char *name, *what,
                              *expect; }  t[] = {
            { 0, "riff-size-0.webp", "RIFF size 0", "reject" },
            { 4, "riff-size-4.webp", "RIFF size 4", "reject" },
            { 0xffffffffL, "riff-size-max.webp", "RIFF size 2^32-1",
              "any" },
            { -2, "riff-size-plus.webp", "RIFF size 100 over the file",
              "any" },
            { -3, "riff-size-minus.webp", "RIFF size 10 under the file",
              "reject" },
            { -4, "riff-size-odd.webp", "RIFF size odd", "any" },
        };
        unsigned  i;

        for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            c = bdup(base_webp);
            le32(c.p + 4, t[i].size == -2 ? c.n - 8 + 100
                          : t[i].size == -3 ? c.n - 8 - 10
                          : t[i].size == -4 ? c.n - 8 - 1
                          : (unsigned long) t[i].size);
            emitb(t[i].name, t[i].expect, t[i].what, c);
            free(c.p);
        }
    }

    /* VP8 chunk size lies */
    {
        static const struct { unsigned long size; const char *name,
                              *what, *expect; }  t[] = {
            { 0, "vp8-size-0.webp", "VP8 chunk size 0", "reject" },
            { 1, "vp8-size-1.webp", "VP8 chunk size 1", "reject" },
            { 9, "vp8-size-9.webp", "VP8 chunk size 9", "reject" },
            { 0xffffffffUL, "vp8-size-max.webp", "VP8 chunk size 2^32-1",
              "reject" },
            { 0x7ffffff0UL, "vp8-size-2g.webp", "VP8 chunk size 2 GB",
              "reject" },
            { 0, "vp8-size-half.webp", "VP8 chunk size half", "any" },
            { 0, "vp8-size-plus.webp", "VP8 chunk past RIFF end", "reject" },
        };
        unsigned  i;

        for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            c = bdup(base_webp);
            le32(c.p + 16, strcmp(t[i].name, "vp8-size-half.webp") == 0
                           ? vp8.n / 2
                           : strcmp(t[i].name, "vp8-size-plus.webp") == 0
                           ? vp8.n + 64 : t[i].size);
            emitb(t[i].name, t[i].expect, t[i].what, c);
            free(c.p);
        }
    }

    /* VP8X layouts by hand */
    {
        chunk_t  ch[4];

        vp8x(x, 0, 320, 240);
        ch[0] = (chunk_t) { "VP8X", 10, x, 10 };
        c = riff(ch, 1, -1);
        emitb("vp8x-only.webp", "reject", "VP8X without an image chunk", c);
        free(c.p);

        ch[1] = (chunk_t) { "VP8 ", vp8.n, vp8.p, vp8.n };
        c = riff(ch, 2, -1);
        emitb("vp8x-plain.webp", "ok", "VP8X + VP8 by hand", c);
        free(c.p);

        vp8x(x, 0x10, 320, 240);                    /* alpha flag */
        c = riff(ch, 2, -1);
        emitb("vp8x-alpha-flag.webp", "any", "alpha flag, no ALPH", c);
        free(c.p);

        vp8x(x, 0x20, 320, 240);                    /* ICC flag */
        c = riff(ch, 2, -1);
        emitb("vp8x-icc-flag.webp", "any", "ICC flag, no ICCP", c);
        free(c.p);

        vp8x(x, 0x02, 320, 240);                    /* animation flag */
        c = riff(ch, 2, -1);
        emitb("vp8x-anim-flag.webp", "any",
              "animation flag on a still image", c);
        free(c.p);

        vp8x(x, 0x20, 320, 240);
        ch[1] = (chunk_t) { "ICCP", 0xfffffff0UL, x, 10 };
        ch[2] = (chunk_t) { "VP8 ", vp8.n, vp8.p, vp8.n };
        c = riff(ch, 3, -1);
        emitb("iccp-size-huge.webp", "reject", "ICCP chunk size 2^32-16", c);
        free(c.p);

        ch[1] = (chunk_t) { "ICCP", 0, x, 0 };
        c = riff(ch, 3, -1);
        emitb("iccp-size-0.webp", "any", "ICCP chunk size 0", c);
        free(c.p);

        vp8x(x, 0, 320, 240);
        ch[1] = (chunk_t) { "XXXX", 0xffffff00UL, x, 10 };
        c = riff(ch, 3, -1);
        emitb("unknown-chunk-huge.webp", "reject",
              "unknown chunk of size 2^32-256", c);
        free(c.p);

        /* ALPH: garbage, and one belonging to another size */
        vp8x(x, 0x10, 320, 240);
        {
            unsigned char  g[512];
            unsigned       i;

            for (i = 0; i < sizeof(g); i++) {
                g[i] = (unsigned char) rand32();
            }

            ch[1] = (chunk_t) { "ALPH", sizeof(g), g, sizeof(g) };
            c = riff(ch, 3, -1);
            emitb("alph-garbage.webp", "any", "ALPH of random bytes", c);
            free(c.p);

            g[0] = 0x03;                            /* bad method */
            c = riff(ch, 3, -1);
            emitb("alph-method.webp", "any", "ALPH compression method 3", c);
            free(c.p);
        }

        ch[1] = (chunk_t) { "ALPH", alph.n, alph.p, alph.n };
        ch[2] = (chunk_t) { "VP8L", vp8l.n, vp8l.p, vp8l.n };
        c = riff(ch, 3, -1);
        emitb("alph-with-vp8l.webp", "any", "ALPH before a VP8L image", c);
        free(c.p);

        /* VP8 and VP8L both, two VP8 */
        vp8x(x, 0, 320, 240);
        ch[1] = (chunk_t) { "VP8 ", vp8.n, vp8.p, vp8.n };
        ch[2] = (chunk_t) { "VP8L", vp8l.n, vp8l.p, vp8l.n };
        c = riff(ch, 3, -1);
        emitb("vp8-and-vp8l.webp", "any", "a VP8 and a VP8L chunk", c);
        free(c.p);

        /* simple format, VP8L with a VP8 header */
        ch[0] = (chunk_t) { "VP8 ", vp8l.n, vp8l.p, vp8l.n };
        c = riff(ch, 1, -1);
        emitb("vp8-fourcc-on-vp8l.webp", "reject", "VP8L data in a VP8 chunk",
              c);
        free(c.p);

        ch[0] = (chunk_t) { "VP8L", vp8.n, vp8.p, vp8.n };
        c = riff(ch, 1, -1);
        emitb("vp8l-fourcc-on-vp8.webp", "reject", "VP8 data in a VP8L chunk",
              c);
        free(c.p);
    }

    /* animation: real, and crafted ANIM/ANMF */
    c = webp_animated(320, 240, 3);
    emitb("animated.webp", "ok", "animated, 3 frames 320x240", c);
    free(c.p);

    {
        chunk_t  ch[5];
        unsigned i;

        le32(anim, 0xff000000UL);
        le16(anim + 4, 0);

        memset(anmf, 0, sizeof(anmf));
        /* X/2, Y/2, W-1, H-1, duration, flags, then the frame chunk */
        le24(anmf, 0);
        le24(anmf + 3, 0);
        le24(anmf + 6, 320 - 1);
        le24(anmf + 9, 240 - 1);
        le24(anmf + 12, 100);
        anmf[15] = 0;
        memcpy(anmf + 16, "VP8 ", 4);
        le32(anmf + 20, vp8.n);

        {
            size_t          fl = 16 + 8 + vp8.n + (vp8.n & 1);
            unsigned char  *f = xmalloc(fl);

            memcpy(f, anmf, 24);
            memcpy(f + 24, vp8.p, vp8.n);
            if (vp8.n & 1) {
                f[24 + vp8.n] = 0;
            }

            vp8x(x, 0x02, 320, 240);
            ch[0] = (chunk_t) { "VP8X", 10, x, 10 };
            ch[1] = (chunk_t) { "ANIM", 6, anim, 6 };
            ch[2] = (chunk_t) { "ANMF", fl, f, fl };
            c = riff(ch, 3, -1);
            emitb("anmf-one.webp", "any", "crafted ANIM + one ANMF", c);
            free(c.p);

            /* the frame off the canvas, bigger than the canvas */
            le24(f, 0xffffff);
            le24(f + 3, 0xffffff);
            c = riff(ch, 3, -1);
            emitb("anmf-offset.webp", "reject", "ANMF offset 2^25", c);
            free(c.p);

            le24(f, 0);
            le24(f + 3, 0);
            le24(f + 6, 0xffffff);
            le24(f + 9, 0xffffff);
            c = riff(ch, 3, -1);
            emitb("anmf-size.webp", "reject", "ANMF frame 2^24 x 2^24", c);
            free(c.p);

            /* animation chunks without the VP8X animation flag */
            le24(f + 6, 320 - 1);
            le24(f + 9, 240 - 1);
            vp8x(x, 0, 320, 240);
            c = riff(ch, 3, -1);
            emitb("anmf-noflag.webp", "any", "ANMF without the flag", c);
            free(c.p);

            /* ANMF size field past the end */
            vp8x(x, 0x02, 320, 240);
            ch[2] = (chunk_t) { "ANMF", 0xfffffff0UL, f, fl };
            c = riff(ch, 3, -1);
            emitb("anmf-len.webp", "reject", "ANMF size 2^32-16", c);
            free(c.p);

            /* ANIM alone, 200 ANMF */
            c = riff(ch, 2, -1);
            emitb("anim-only.webp", "reject", "ANIM without frames", c);
            free(c.p);

            {
                chunk_t  many[202];

                many[0] = ch[0];
                many[1] = ch[1];
                for (i = 0; i < 200; i++) {
                    many[2 + i] = (chunk_t) { "ANMF", fl, f, fl };
                }
                c = riff(many, 202, -1);
                emitb("anmf-200.webp", "any", "200 animation frames", c);
                free(c.p);
            }

            free(f);
        }
    }

    free(a.p);
}


static void
gen_params(void)
{
    char   path[4096];
    FILE  *f;
    int    i;
    static const char  *lines[] = {
        /* valid */
        "w=100&h=100&a=0&q=75 200",
        "w=100&h=100&a=90&q=75 200",
        "w=-&h=-&a=0&q=75 200",
        "w=-&h=50&a=270&q=1 200",
        "w=1&h=1&a=180&q=100 200",
        "w=65535&h=100&a=0&q=75 200",
        "w=007&h=0100&a=090&q=075 200",
        /* width */
        "w=-1&h=100&a=0&q=75 400",
        "w=0&h=100&a=0&q=75 400",
        "w=65536&h=100&a=0&q=75 400",
        "w=99999&h=100&a=0&q=75 400",
        "w=4294967296&h=100&a=0&q=75 400",
        "w=4294967396&h=100&a=0&q=75 400",
        "w=18446744073709551716&h=100&a=0&q=75 400",
        "w=99999999999999999999999999999&h=100&a=0&q=75 400",
        "w=abc&h=100&a=0&q=75 400",
        "w=&h=100&a=0&q=75 400",
        "w=1e3&h=100&a=0&q=75 400",
        "w=0x10&h=100&a=0&q=75 400",
        "w=+100&h=100&a=0&q=75 400",
        "w=%2B100&h=100&a=0&q=75 400",
        "w=100px&h=100&a=0&q=75 400",
        "w=100.5&h=100&a=0&q=75 400",
        "w=%00&h=100&a=0&q=75 400",
        "w=%20100&h=100&a=0&q=75 400",
        "w=--&h=100&a=0&q=75 400",
        "w=%ff%fe&h=100&a=0&q=75 400",
        /* height */
        "w=100&h=-5&a=0&q=75 400",
        "w=100&h=0&a=0&q=75 400",
        "w=100&h=65536&a=0&q=75 400",
        "w=100&h=NaN&a=0&q=75 400",
        "w=100&h=4294967396&a=0&q=75 400",
        "w=100&a=0&q=75 400",
        /* angle */
        "w=100&h=100&a=45&q=75 400",
        "w=100&h=100&a=-90&q=75 400",
        "w=100&h=100&a=360&q=75 400",
        "w=100&h=100&a=91&q=75 400",
        "w=100&h=100&a=4294967386&q=75 400",
        "w=100&h=100&a=18446744073709551706&q=75 400",
        "w=100&h=100&a=abc&q=75 400",
        "w=100&h=100&a=&q=75 400",
        "w=100&h=100&q=75 400",
        /* quality */
        "w=100&h=100&a=0&q=0 400",
        "w=100&h=100&a=0&q=101 400",
        "w=100&h=100&a=0&q=-1 400",
        "w=100&h=100&a=0&q=4294967371 400",
        "w=100&h=100&a=0&q=abc 400",
        "w=100&h=100&a=0&q= 400",
        "w=100&h=100&a=0 400",
        /* everything at once */
        "w=-1&h=-1&a=-1&q=-1 400",
        NULL
    };

    snprintf(path, sizeof(path), "%s/params.txt", dir);
    f = fopen(path, "w");
    if (f == NULL) {
        die("%s: cannot write", path);
    }

    fprintf(f, "# hostile parameters: QUERY STATUS, for tunny_image "
               "resize $arg_w $arg_h;\n# rotate $arg_a; "
               "tunny_image_jpeg_quality $arg_q; tunny_image_webp_quality "
               "$arg_q\n");

    for (i = 0; lines[i]; i++) {
        fprintf(f, "%s\n", lines[i]);
    }

    fclose(f);
}


/* PNG: made with libspng's encoder, then broken (gen_png) */

static unsigned long
png_crc(const unsigned char *p, size_t n)
{
    int            k;
    unsigned long  crc;

    crc = 0xffffffffUL;

    while (n--) {
        crc ^= *p++;
        for (k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320UL & (0UL - (crc & 1)));
        }
    }

    return crc ^ 0xffffffffUL;
}


static buf_t
png_encode(const unsigned char *pix, unsigned w, unsigned h, int ct)
{
    int               err;
    buf_t             b;
    size_t            size;
    spng_ctx         *ctx;
    struct spng_ihdr  ihdr;

    ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (ctx == NULL) {
        die("spng_ctx_new");
    }

    memset(&ihdr, 0, sizeof(ihdr));
    ihdr.width = w;
    ihdr.height = h;
    ihdr.bit_depth = 8;
    ihdr.color_type = (uint8_t) ct;
    size = (size_t) w * h * (ct == SPNG_COLOR_TYPE_TRUECOLOR ? 3 : 1);

    err = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    err = err ? err : spng_set_ihdr(ctx, &ihdr);
    err = err ? err : spng_encode_image(ctx, pix, size, SPNG_FMT_PNG,
                                        SPNG_ENCODE_FINALIZE);
    if (err) {
        die("spng: %s", spng_strerror(err));
    }

    b.p = spng_get_png_buffer(ctx, &b.n, &err);
    spng_ctx_free(ctx);

    if (b.p == NULL) {
        die("spng_get_png_buffer: %s", spng_strerror(err));
    }

    return b;
}


/* the offset of the first chunk of a type (its length field) */

static size_t
png_chunk_at(buf_t b, const char *type)
{
    size_t  at, n;

    for (at = 8; at + 12 <= b.n; at += n + 12) {
        n = (size_t) b.p[at] << 24 | b.p[at + 1] << 16 | b.p[at + 2] << 8
            | b.p[at + 3];
        if (memcmp(b.p + at + 4, type, 4) == 0) {
            return at;
        }
    }

    die("no %s chunk", type);
    return 0;
}


static void
png_fix_crc(buf_t b, size_t at)
{
    size_t  n;

    n = (size_t) b.p[at] << 24 | b.p[at + 1] << 16 | b.p[at + 2] << 8
        | b.p[at + 3];
    be32(b.p + at + 8 + n, png_crc(b.p + at + 4, n + 4));
}


/* IHDR with other dimensions, its CRC right */

static void
png_dims(buf_t b, unsigned long w, unsigned long h)
{
    be32(b.p + 16, w);
    be32(b.p + 20, h);
    png_fix_crc(b, 8);
}


static void
gen_png(void)
{
    char            name[128], desc[160];
    buf_t           b, c;
    size_t          at, cut, idat, step;
    unsigned        i, k;
    unsigned char  *zero;

    b = png_encode(pix_rgb, 320, 240, SPNG_COLOR_TYPE_TRUECOLOR);
    emitb("png-ok.png", "ok", "PNG 320x240 RGB", b);

    /* zlib bombs: the IDAT of a 2000x20000 grey image (40 MB of zeros,
     * about 40 KB compressed) under an IHDR of 2000x10 and 2000x1: the
     * data inflates 2000x, 20000x past the image */

    zero = xmalloc((size_t) 2000 * 20000);
    memset(zero, 0, (size_t) 2000 * 20000);
    c = png_encode(zero, 2000, 20000, SPNG_COLOR_TYPE_GRAYSCALE);
    free(zero);

    png_dims(c, 2000, 10);
    emitb("png-bomb-idat.png", "any", "PNG 2000x10 with the IDAT of "
          "2000x20000 (zlib bomb)", c);
    png_dims(c, 2000, 1);
    emitb("png-bomb-idat-1.png", "any", "PNG 2000x1 with the IDAT of "
          "2000x20000 (zlib bomb)", c);
    free(c.p);

    /* huge dimensions: over max_pixels, over libspng's limits, zero */

    c = bdup(b);
    png_dims(c, 100000, 100000);
    emitb("png-huge-dims.png", "reject", "PNG IHDR 100000x100000", c);
    png_dims(c, 0x7fffffffUL, 1);
    emitb("png-huge-width.png", "reject", "PNG IHDR 2^31-1 x 1", c);
    png_dims(c, 0x80000000UL, 240);
    emitb("png-width-2-31.png", "reject", "PNG IHDR width 2^31", c);
    png_dims(c, 320, 0);
    emitb("png-zero-height.png", "reject", "PNG IHDR height 0", c);
    png_dims(c, 320, 480);
    emitb("png-taller.png", "reject", "PNG IHDR twice the IDAT rows", c);
    free(c.p);

    /* lying chunk sizes, bad CRCs, a bad IHDR */

    idat = png_chunk_at(b, "IDAT");

    c = bdup(b);
    be32(c.p + idat, 0x7ffffff0UL);
    emitb("png-bad-chunk-len.png", "reject", "PNG IDAT length 2^31-16", c);
    be32(c.p + idat, 0xfffffff0UL);
    emitb("png-bad-chunk-len-2.png", "reject", "PNG IDAT length 2^32-16",
          c);
    free(c.p);

    c = bdup(b);
    c.p[idat + 8 + 2] ^= 0x55;
    emitb("png-bad-crc.png", "reject", "PNG IDAT with a bad CRC", c);
    free(c.p);

    c = bdup(b);
    be32(c.p + 8, 12);
    emitb("png-ihdr-len.png", "reject", "PNG IHDR length 12", c);
    free(c.p);

    c = bdup(b);
    c.p[24] = 7;                                /* bit depth 7 */
    png_fix_crc(c, 8);
    emitb("png-bad-depth.png", "reject", "PNG bit depth 7", c);
    free(c.p);

    c = bdup(b);
    c.p[25] = 3;                                /* palette, no PLTE */
    png_fix_crc(c, 8);
    emitb("png-no-plte.png", "reject", "PNG palette without PLTE", c);
    free(c.p);

    /* truncations: the header bytes one by one, then through IDAT */

    for (cut = 1; cut < 40; cut += (cut < 8) ? 1 : 3) {
        snprintf(name, sizeof(name), "png-cut-%05zu.png", cut);
        snprintf(desc, sizeof(desc), "PNG cut at %zu of %zu", cut, b.n);
        emit(name, "reject", desc, b.p, cut);
    }

    step = (b.n - idat) / 16 + 1;

    for (cut = idat + 12; cut + 12 < b.n; cut += step) {
        snprintf(name, sizeof(name), "png-cut-%05zu.png", cut);
        snprintf(desc, sizeof(desc), "PNG cut at %zu of %zu (IDAT)", cut,
                 b.n);
        emit(name, "reject", desc, b.p, cut);
    }

    emit("png-trunc-idat.png", "reject", "PNG cut in the middle of IDAT",
         b.p, idat + (b.n - idat) / 2);

    /* bit flips after the signature */

    for (i = 0; i < 24; i++) {
        c = bdup(b);

        for (k = 0; k <= i % 6; k++) {
            at = 8 + rand32() % (c.n - 8);
            c.p[at] ^= (unsigned char) (1u << (rand32() % 8));
        }

        snprintf(name, sizeof(name), "png-flip-%02u.png", i);
        snprintf(desc, sizeof(desc), "PNG with %u flipped bits", k);
        emitb(name, "any", desc, c);
        free(c.p);
    }

    free(b.p);
}


/*
 * GIF, written byte by byte: a screen of sw x sh with a 2-colour global
 * table (or none), one frame at x,y of w x h with the LZW data given.
 */

static buf_t
gif_make(unsigned sw, unsigned sh, int table, unsigned x, unsigned y,
    unsigned w, unsigned h, const unsigned char *lzw, size_t lzw_len)
{
    buf_t   b;
    size_t  n;

    b.p = xmalloc(64 + lzw_len);
    memcpy(b.p, "GIF89a", 6);
    le16(b.p + 6, sw);
    le16(b.p + 8, sh);
    b.p[10] = table ? 0x80 : 0x00;
    b.p[11] = 0;
    b.p[12] = 0;
    n = 13;

    if (table) {
        memcpy(b.p + n, "\x00\x00\x00\xff\xff\xff", 6);
        n += 6;
    }

    b.p[n++] = ',';
    le16(b.p + n, x);
    le16(b.p + n + 2, y);
    le16(b.p + n + 4, w);
    le16(b.p + n + 6, h);
    b.p[n + 8] = 0;
    n += 9;

    memcpy(b.p + n, lzw, lzw_len);
    n += lzw_len;
    b.p[n++] = ';';

    b.n = n;

    return b;
}


static void
gen_gif(void)
{
    char                  name[128], desc[160];
    buf_t                 b, c;
    size_t                cut;
    unsigned char         garbage[64];

    /* a valid 1x1 frame: code size 2, clear, 0, end; the screens are
     * larger than the 100x100 of the corpus, so that all is decoded */
    static const unsigned char  one[] = { 2, 2, 0x44, 0x01, 0 };

    b = gif_make(200, 200, 1, 0, 0, 1, 1, one, sizeof(one));
    emitb("gif-ok.gif", "ok", "GIF 200x200, a 1x1 frame", b);

    for (cut = 6; cut < b.n - 1; cut++) {
        snprintf(name, sizeof(name), "gif-cut-%02zu.gif", cut);
        snprintf(desc, sizeof(desc), "GIF cut at %zu of %zu", cut, b.n);
        emit(name, "reject", desc, b.p, cut);
    }
    free(b.p);

    b = gif_make(200, 200, 1, 180, 180, 32, 32, one, sizeof(one));
    emitb("gif-frame-outside.gif", "reject", "GIF frame 32x32 at 180,180 "
          "of a 200x200 screen", b);
    free(b.p);

    b = gif_make(200, 200, 1, 65535, 0, 1, 1, one, sizeof(one));
    emitb("gif-frame-left.gif", "reject", "GIF frame at x 65535", b);
    free(b.p);

    b = gif_make(200, 200, 1, 0, 0, 0, 0, one, sizeof(one));
    emitb("gif-frame-empty.gif", "reject", "GIF frame 0x0", b);
    free(b.p);

    b = gif_make(65535, 65535, 1, 0, 0, 1, 1, one, sizeof(one));
    emitb("gif-huge-screen.gif", "reject", "GIF screen 65535x65535", b);
    free(b.p);

    b = gif_make(200, 200, 0, 0, 0, 1, 1, one, sizeof(one));
    emitb("gif-no-table.gif", "reject", "GIF without a colour table", b);
    free(b.p);

    /* LZW garbage: code size 8, one block of all-ones codes (each one
     * past the codes defined so far) */

    garbage[0] = 8;
    garbage[1] = 62;
    memset(garbage + 2, 0xff, 62);
    c = gif_make(200, 200, 1, 0, 0, 16, 16, garbage, 64);
    b = bsplice(c, c.n - 1, 0, "\0", 1);
    free(c.p);
    emitb("gif-lzw-garbage.gif", "reject", "GIF with LZW garbage", b);
    free(b.p);

    /* a 200x200 screen and a trailer, no image */

    b.p = xmalloc(32);
    memcpy(b.p, "GIF89a\xc8\x00\xc8\x00\x80\x00\x00"
                "\x00\x00\x00\xff\xff\xff;", 20);
    b.n = 20;
    emitb("gif-no-image.gif", "reject", "GIF without an image", b);
    free(b.p);
}



/*
 * Real profiles (made by lcms2, icc-make.h), then broken: cut, bit
 * flips, tag offsets and sizes out of range, a header that lies about the
 * size, a device link, and CLUTs that declare 255 grid points per input
 * (a 99 MB 3-D table, a 25 GB 4-D one) in a profile of a few kB.  lcms2
 * must fail on them (or succeed), within its memory cap; the image is
 * answered as if it had no profile: "ok".
 */

static buf_t
icc_lcms(cmsHPROFILE h)
{
    buf_t  b;

    b.p = icc_save(h, &b.n);
    if (b.p == NULL) {
        die("lcms2 profile");
    }

    return b;
}


/* the offset of a tag's data, 0 if absent */

static size_t
icc_tag(buf_t b, const char *sig)
{
    size_t  i, n, off;

    n = ((size_t) b.p[128] << 24) | (b.p[129] << 16) | (b.p[130] << 8)
        | b.p[131];

    for (i = 0; i < n && 132 + i * 12 + 12 <= b.n; i++) {
        if (memcmp(b.p + 132 + i * 12, sig, 4) == 0) {
            off = ((size_t) b.p[136 + i * 12] << 24)
                  | (b.p[137 + i * 12] << 16) | (b.p[138 + i * 12] << 8)
                  | b.p[139 + i * 12];
            return off < b.n ? off : 0;
        }
    }

    return 0;
}


static void
icc_emit(const char *name, const char *what, buf_t icc, int cmyk)
{
    buf_t   c;
    jopt_t  o;

    memset(&o, 0, sizeof(o));
    o.icc = icc.p;
    o.icc_len = icc.n;

    c = cmyk ? jpeg(pix_cmyk, 320, 240, 4, JCS_CMYK, &o)
             : jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    emitb(name, "ok", what, c);
    free(c.p);
}


static void
gen_icc_lcms(void)
{
    char            name[64], what[128];
    buf_t           a, b, cm, c;
    size_t          i, k, off, n;
    unsigned        v;
    cmsStage       *clut;
    cmsContext      ctx;
    cmsPipeline    *lut;
    cmsHPROFILE     h;

    ctx = cmsCreateContext(NULL, NULL);
    if (ctx == NULL) {
        die("cmsCreateContext");
    }

    a = icc_lcms(icc_adobe(ctx));
    cm = icc_lcms(icc_cmyk(ctx));

    icc_emit("icc-lcms-adobe.jpg", "a valid Adobe RGB profile", a, 0);
    icc_emit("icc-lcms-cmyk.jpg", "a valid CMYK profile, CMYK image", cm, 1);

    /* cut short; the header still says the whole size */

    for (k = 0; k < 4; k++) {
        static const size_t  cuts[4] = { 132, 200, 300, 0 };

        b.n = cuts[k] ? cuts[k] : a.n / 2;
        b.p = a.p;
        snprintf(name, sizeof(name), "icc-lcms-cut-%zu.jpg", b.n);
        snprintf(what, sizeof(what), "Adobe RGB profile cut to %zu of %zu "
                 "bytes", b.n, a.n);
        icc_emit(name, what, b, 0);
    }

    b.n = cm.n / 3;
    b.p = cm.p;
    icc_emit("icc-lcms-cmyk-cut.jpg", "CMYK profile cut to a third", b, 1);

    /* bit flips everywhere but the signature */

    for (k = 0; k < 8; k++) {
        b.n = (k < 4) ? a.n : cm.n;
        b.p = xmalloc(b.n);
        memcpy(b.p, k < 4 ? a.p : cm.p, b.n);

        for (i = 40 + k * 13; i < b.n; i += 29 + k) {
            b.p[i] ^= (unsigned char) (1u << ((i + k) % 8));
        }

        snprintf(name, sizeof(name), "icc-lcms-flip-%zu.jpg", k);
        snprintf(what, sizeof(what), "%s profile, bit flips from byte %zu",
                 k < 4 ? "Adobe RGB" : "CMYK", 40 + k * 13);
        icc_emit(name, what, b, k >= 4);
        free(b.p);
    }

    /* every tag offset, then every tag size, far out of range */

    for (k = 0; k < 2; k++) {
        b.n = a.n;
        b.p = xmalloc(b.n);
        memcpy(b.p, a.p, b.n);

        n = ((size_t) b.p[128] << 24) | (b.p[129] << 16) | (b.p[130] << 8)
            | b.p[131];

        for (i = 0; i < n && 132 + i * 12 + 12 <= b.n; i++) {
            be32(b.p + 136 + i * 12 + k * 4, 0xfffffff0UL - i);
        }

        icc_emit(k ? "icc-lcms-tag-sizes.jpg" : "icc-lcms-tag-offsets.jpg",
                 k ? "every tag size 4 GB" : "every tag offset past 4 GB",
                 b, 0);
        free(b.p);
    }

    /* the header: 2 GB long; a device link; a tag count of 2^32 - 1 */

    for (k = 0; k < 3; k++) {
        b.n = a.n;
        b.p = xmalloc(b.n);
        memcpy(b.p, a.p, b.n);

        if (k == 0) {
            be32(b.p, 0x7fffffffUL);
        } else if (k == 1) {
            memcpy(b.p + 12, "link", 4);
        } else {
            be32(b.p + 128, 0xffffffffUL);
        }

        icc_emit(k == 0 ? "icc-lcms-size-lie.jpg"
                 : k == 1 ? "icc-lcms-link.jpg" : "icc-lcms-tag-count.jpg",
                 k == 0 ? "header size 2 GB, a few kB present"
                 : k == 1 ? "an RGB profile claiming to be a device link"
                 : "tag count 2^32 - 1", b, 0);
        free(b.p);
    }

    /* an RGB profile with a 9^3 lut16 A2B0, then 255 grid points */

    h = cmsCreateProfilePlaceholder(ctx);
    cmsSetProfileVersion(h, 2.1);
    cmsSetDeviceClass(h, cmsSigInputClass);
    cmsSetColorSpace(h, cmsSigRgbData);
    cmsSetPCS(h, cmsSigLabData);
    lut = cmsPipelineAlloc(ctx, 3, 3);
    clut = cmsStageAllocCLut16bit(ctx, 9, 3, 3, NULL);
    if (lut == NULL || clut == NULL
        || !cmsPipelineInsertStage(lut, cmsAT_END, clut)
        || !cmsWriteTag(h, cmsSigAToB0Tag, lut)
        || !cmsWriteTag(h, cmsSigMediaWhitePointTag, cmsD50_XYZ()))
    {
        die("lcms2 lut profile");
    }
    cmsPipelineFree(lut);

    b = icc_lcms(h);
    off = icc_tag(b, "A2B0");
    if (off == 0 || off + 12 > b.n || memcmp(b.p + off, "mft2", 4) != 0) {
        die("lcms2 wrote no mft2 A2B0");
    }

    icc_emit("icc-lcms-lut16.jpg", "an RGB profile with a 9^3 lut16", b, 0);
    b.p[off + 10] = 255;
    icc_emit("icc-lcms-clut-bomb.jpg", "lut16 claiming 255^3 grid points "
             "(99 MB) in a few kB", b, 0);
    free(b.p);

    /* the CMYK profile's mAB CLUT: 255 grid points in each of 4 inputs */

    b.n = cm.n;
    b.p = xmalloc(b.n);
    memcpy(b.p, cm.p, b.n);

    off = icc_tag(b, "A2B0");
    if (off == 0 || off + 28 > b.n || memcmp(b.p + off, "mAB ", 4) != 0) {
        die("lcms2 wrote no mAB A2B0");
    }

    v = ((unsigned) b.p[off + 24] << 24) | (b.p[off + 25] << 16)
        | (b.p[off + 26] << 8) | b.p[off + 27];
    if (v == 0 || off + v + 4 > b.n) {
        die("mAB without a CLUT");
    }

    memset(b.p + off + v, 255, 4);
    icc_emit("icc-lcms-cmyk-clut-bomb.jpg", "CMYK mAB claiming 255^4 grid "
             "points (25 GB)", b, 1);
    free(b.p);

    /* floating-point DToB0 with 3000 identity matrices: a chain lcms2
     * would evaluate at every grid point (refused by the library) */

    {
        static const double  id[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };

        h = icc_adobe(ctx);
        lut = cmsPipelineAlloc(ctx, 3, 3);
        for (k = 0; lut != NULL && k < 3000; k++) {
            if (!cmsPipelineInsertStage(lut, cmsAT_END,
                                        cmsStageAllocMatrix(ctx, 3, 3, id,
                                                            NULL)))
            {
                die("lcms2 matrix stage");
            }
        }
        if (lut == NULL || !cmsWriteTag(h, cmsSigDToB0Tag, lut)) {
            die("lcms2 DToB0");
        }
        cmsPipelineFree(lut);

        b = icc_lcms(h);
        icc_emit("icc-lcms-mpet.jpg", "Adobe RGB with a DToB0 chain of 3000 "
                 "matrices", b, 0);
        free(b.p);
    }

    /* WebP: the cut Adobe profile */

    b.n = a.n / 2;
    b.p = a.p;
    c = webp_mux(base_webp, b, (buf_t) { NULL, 0 }, (buf_t) { NULL, 0 });
    emitb("icc-lcms-cut.webp", "ok", "WebP with an Adobe RGB profile cut "
          "in half", c);
    free(c.p);

    free(a.p);
    free(cm.p);
    cmsDeleteContext(ctx);
}

/*
 * HEIC (gen_heic): HEIF boxes made by hand (no encoder needed: the
 * header probe answers before any decoding) -- huge ispe, grids over the
 * pixel limit, grid work bombs (one tile listed a thousand times), too
 * many tiles, boxes that lie about their sizes, no meta, no ispe, an AV1
 * item under the generic brand; with libheif (TUNNY_TOOLS_HEIF) also a
 * real HEIC, its truncations and bit flips.
 */

typedef struct {
    unsigned char  *p;
    size_t          n;
    size_t          cap;
    size_t          open[16];
    int             depth;
} hb_t;


static void
hb_put(hb_t *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            die("realloc(%zu)", b->cap);
        }
    }

    memcpy(b->p + b->n, d, n);
    b->n += n;
}


static void
hb_u8(hb_t *b, unsigned v)
{
    unsigned char  c = (unsigned char) v;

    hb_put(b, &c, 1);
}


static void
hb_u16(hb_t *b, unsigned v)
{
    unsigned char  c[2];

    be16(c, v);
    hb_put(b, c, 2);
}


static void
hb_u32(hb_t *b, unsigned long v)
{
    unsigned char  c[4];

    be32(c, v);
    hb_put(b, c, 4);
}


static void
hb_open(hb_t *b, const char *type)
{
    b->open[b->depth++] = b->n;
    hb_u32(b, 0);
    hb_put(b, type, 4);
}


static void
hb_full(hb_t *b, const char *type, unsigned version, unsigned flags)
{
    hb_open(b, type);
    hb_u32(b, (unsigned long) version << 24 | flags);
}


static void
hb_close(hb_t *b)
{
    size_t  at;

    at = b->open[--b->depth];
    be32(b->p + at, (unsigned long) (b->n - at));
}


typedef struct {
    const char     *major;          /* ftyp */
    const char     *compat;         /* 4cc's, concatenated */
    const char     *type;           /* of the primary item */
    unsigned long   w, h;           /* its ispe; 0x0: none */
    int             irot;           /* -1: none */
    unsigned        tiles;          /* of a grid: dimg references */
    unsigned        tile_items;     /* distinct tile items (1: repeated) */
    unsigned long   tw, th;         /* the tiles' ispe */
    const char     *tile_type;
    unsigned long   sps_w, sps_h;   /* an hvcC with this SPS; 0: none */
    unsigned long   grid_w, grid_h; /* the grid descriptor's output, 0:
                                       the ispe */
} heif_spec_t;


/* an SPS NAL unit of the given coded size (H.265 7.3.2.2, up to the
 * size), emulation prevention bytes put in */

typedef struct {
    unsigned char   b[64];
    unsigned        bits;
} bw_t;


static void
bw_put(bw_t *w, unsigned long v, unsigned n)
{
    while (n--) {
        if ((v >> n) & 1) {
            w->b[w->bits / 8] |= (unsigned char) (0x80 >> (w->bits % 8));
        }
        w->bits++;
    }
}


static void
bw_ue(bw_t *w, unsigned long v)
{
    unsigned  n;

    for (n = 0; ((v + 1) >> n) > 1; n++) { /* void */ }

    bw_put(w, 0, n);
    bw_put(w, v + 1, n + 1);
}


static size_t
hevc_sps(unsigned char *out, unsigned long width, unsigned long height)
{
    bw_t      w;
    size_t    i, n, o, zeros;

    memset(&w, 0, sizeof(w));

    bw_put(&w, 0, 4);               /* vps id */
    bw_put(&w, 0, 3);               /* max sub layers - 1 */
    bw_put(&w, 1, 1);               /* temporal id nesting */
    bw_put(&w, 0x01, 8);            /* Main profile */
    bw_put(&w, 0x60000000, 32);     /* compatibility */
    bw_put(&w, 0x9000, 16);         /* progressive, frame only */
    bw_put(&w, 0, 32);
    bw_put(&w, 93, 8);              /* level 3.1 */
    bw_ue(&w, 0);                   /* sps id */
    bw_ue(&w, 1);                   /* 4:2:0 */
    bw_ue(&w, width);
    bw_ue(&w, height);
    bw_put(&w, 0, 8);               /* and more that nobody reads */

    n = (w.bits + 7) / 8;

    out[0] = 33 << 1;               /* NAL header: SPS */
    out[1] = 1;
    o = 2;
    zeros = 0;

    for (i = 0; i < n; i++) {
        if (zeros >= 2 && w.b[i] <= 3) {
            out[o++] = 3;
            zeros = 0;
        }

        out[o++] = w.b[i];
        zeros = w.b[i] ? 0 : zeros + 1;
    }

    return o;
}


/* ftyp, meta (hdlr, pitm, iinf, iref, iprp), and a small mdat */

static buf_t
heif_hand(const heif_spec_t *s)
{
    hb_t      b;
    buf_t     r;
    unsigned  i, items, k, nprops;

    memset(&b, 0, sizeof(b));

    items = 1 + s->tile_items;

    hb_open(&b, "ftyp");
    hb_put(&b, s->major, 4);
    hb_u32(&b, 0);
    hb_put(&b, s->compat, strlen(s->compat));
    hb_close(&b);

    hb_full(&b, "meta", 0, 0);

    hb_full(&b, "hdlr", 0, 0);
    hb_u32(&b, 0);
    hb_put(&b, "pict", 4);
    hb_u32(&b, 0);
    hb_u32(&b, 0);
    hb_u32(&b, 0);
    hb_u8(&b, 0);
    hb_close(&b);

    hb_full(&b, "pitm", 0, 0);
    hb_u16(&b, 1);
    hb_close(&b);

    hb_full(&b, "iinf", 0, 0);
    hb_u16(&b, items);
    for (i = 0; i < items; i++) {
        hb_full(&b, "infe", 2, 0);
        hb_u16(&b, 1 + i);
        hb_u16(&b, 0);
        hb_put(&b, i == 0 ? s->type : s->tile_type, 4);
        hb_u8(&b, 0);
        hb_close(&b);
    }
    hb_close(&b);

    if (s->tiles) {
        hb_full(&b, "iref", 0, 0);
        hb_open(&b, "dimg");
        hb_u16(&b, 1);
        hb_u16(&b, s->tiles);
        for (k = 0; k < s->tiles; k++) {
            hb_u16(&b, 2 + k % s->tile_items);
        }
        hb_close(&b);
        hb_close(&b);
    }

    /* properties: 1 ispe of the primary, 2 irot, 3 ispe of the tiles */

    hb_open(&b, "iprp");
    hb_open(&b, "ipco");
    nprops = 0;

    hb_full(&b, "ispe", 0, 0);
    hb_u32(&b, s->w);
    hb_u32(&b, s->h);
    hb_close(&b);
    nprops++;

    hb_open(&b, "irot");
    hb_u8(&b, s->irot < 0 ? 0 : (unsigned) s->irot);
    hb_close(&b);
    nprops++;

    hb_full(&b, "ispe", 0, 0);
    hb_u32(&b, s->tw);
    hb_u32(&b, s->th);
    hb_close(&b);
    nprops++;

    if (s->sps_w) {
        unsigned char  sps[96];
        size_t         sps_len;

        sps_len = hevc_sps(sps, s->sps_w, s->sps_h);

        hb_open(&b, "hvcC");
        hb_u8(&b, 1);
        hb_u8(&b, 0x01);
        hb_u32(&b, 0x60000000);
        hb_put(&b, "\x90\0\0\0\0\0", 6);
        hb_u8(&b, 93);
        hb_u16(&b, 0xf000);
        hb_u8(&b, 0xfc);
        hb_u8(&b, 0xfd);
        hb_u8(&b, 0xf8);
        hb_u8(&b, 0xf8);
        hb_u16(&b, 0);
        hb_u8(&b, 0x0f);
        hb_u8(&b, 1);               /* one array: the SPS */
        hb_u8(&b, 0x80 | 33);
        hb_u16(&b, 1);
        hb_u16(&b, (unsigned) sps_len);
        hb_put(&b, sps, sps_len);
        hb_close(&b);
        nprops++;
    }

    hb_close(&b);

    hb_full(&b, "ipma", 0, 0);
    hb_u32(&b, items);
    hb_u16(&b, 1);
    hb_u8(&b, (s->w ? 1 : 0) + (s->irot >= 0 ? 1 : 0) + (s->sps_w ? 1 : 0));
    if (s->w) {
        hb_u8(&b, 0x81);
    }
    if (s->irot >= 0) {
        hb_u8(&b, 0x02);
    }
    if (s->sps_w) {
        hb_u8(&b, 0x84);
    }
    for (i = 1; i < items; i++) {
        hb_u16(&b, 1 + i);
        hb_u8(&b, 1);
        hb_u8(&b, 0x83);
    }
    hb_close(&b);                   /* ipma */
    hb_close(&b);                   /* iprp */

    /* a grid's descriptor in idat, located by iloc (construction
     * method 1): rows x columns = tiles, 32-bit output sizes */

    if (strcmp(s->type, "grid") == 0) {
        unsigned  rows;

        for (rows = 1; rows < 256; rows++) {
            if (s->tiles % rows == 0 && s->tiles / rows <= 256) {
                break;
            }
        }

        hb_open(&b, "idat");
        hb_u8(&b, 0);
        hb_u8(&b, 1);
        hb_u8(&b, rows - 1);
        hb_u8(&b, s->tiles ? s->tiles / rows - 1 : 0);
        hb_u32(&b, s->grid_w ? s->grid_w : s->w);
        hb_u32(&b, s->grid_h ? s->grid_h : s->h);
        hb_close(&b);

        hb_full(&b, "iloc", 1, 0);
        hb_u8(&b, 0x44);            /* offset and length: 4 bytes */
        hb_u8(&b, 0x00);            /* no base offset, no index */
        hb_u16(&b, 1);
        hb_u16(&b, 1);              /* item 1 */
        hb_u16(&b, 1);              /* construction method 1: idat */
        hb_u16(&b, 0);
        hb_u16(&b, 1);
        hb_u32(&b, 0);
        hb_u32(&b, 12);
        hb_close(&b);
    }

    hb_close(&b);                   /* meta */

    hb_open(&b, "mdat");
    hb_put(&b, "\0\0\0\0\0\0\0\0", 8);
    hb_close(&b);

    (void) nprops;

    r.p = b.p;
    r.n = b.n;

    return r;
}


/*
 * Animations: GIFs of 1x1 frames written byte by byte (each frame a
 * graphic control extension, a descriptor, the LZW data of one pixel),
 * animated WebPs assembled with libwebp's muxer from one small still.
 * Through "resize 100 100" a GIF gives its first frame (PNG): "any" for
 * the GIFs, whose animation limits apply to WebP output only (the unit
 * test's second pass, t/118-image-anim.t); a WebP stays WebP: its
 * animation limits apply ("reject").
 */

static buf_t
gif_anim(unsigned sw, unsigned sh, unsigned frames, unsigned bad_at,
    int bad_lzw)
{
    buf_t     b;
    size_t    n;
    unsigned  i, x, y;
    static const unsigned char  one[] = { 2, 2, 0x44, 0x01, 0 };
    static const unsigned char  garbage[] = {
        8, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0
    };

    b.p = xmalloc(64 + (size_t) frames * 40);
    memcpy(b.p, "GIF89a", 6);
    le16(b.p + 6, sw);
    le16(b.p + 8, sh);
    b.p[10] = 0x80;
    b.p[11] = 0;
    b.p[12] = 0;
    memcpy(b.p + 13, "\x00\x00\x00\xff\xff\xff", 6);
    n = 19;

    /* NETSCAPE2.0, loop forever */
    memcpy(b.p + n, "\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00", 19);
    n += 19;

    for (i = 0; i < frames; i++) {
        /* GCE: dispose 2, delay 2/100 s, no transparency */
        memcpy(b.p + n, "\x21\xf9\x04\x08\x02\x00\x00\x00", 8);
        n += 8;

        x = i % sw;
        y = (i / sw) % sh;

        if (i == bad_at && !bad_lzw) {
            x = sw - 10;
            y = sh - 10;
        }

        b.p[n] = ',';
        le16(b.p + n + 1, x);
        le16(b.p + n + 3, y);
        le16(b.p + n + 5, (i == bad_at && !bad_lzw) ? 32 : 1);
        le16(b.p + n + 7, (i == bad_at && !bad_lzw) ? 32 : 1);
        b.p[n + 9] = 0;
        n += 10;

        if (i == bad_at && bad_lzw) {
            memcpy(b.p + n, garbage, sizeof(garbage));
            n += sizeof(garbage);

        } else {
            memcpy(b.p + n, one, sizeof(one));
            n += sizeof(one);
        }
    }

    b.p[n++] = ';';
    b.n = n;

    return b;
}


/* an animated WebP of frames copies of a w x h lossless frame at 0,0 */

static buf_t
webp_anim_mux(unsigned cw, unsigned ch, unsigned w, unsigned h,
    unsigned frames)
{
    buf_t                 b, still;
    unsigned              i;
    unsigned char        *pix;
    WebPMux              *mux;
    WebPData              out;
    WebPMuxFrameInfo      f;
    WebPMuxAnimParams     ap;

    pix = xmalloc((size_t) w * h * 3);
    memset(pix, 0x80, (size_t) w * h * 3);
    still = webp_lossless(pix, w, h);
    free(pix);

    mux = WebPMuxNew();
    if (mux == NULL || WebPMuxSetCanvasSize(mux, (int) cw, (int) ch)
                       != WEBP_MUX_OK)
    {
        die("WebPMuxNew");
    }

    for (i = 0; i < frames; i++) {
        memset(&f, 0, sizeof(f));
        f.bitstream.bytes = still.p;
        f.bitstream.size = still.n;
        f.x_offset = 0;
        f.y_offset = 0;
        f.duration = 10;
        f.id = WEBP_CHUNK_ANMF;
        f.dispose_method = WEBP_MUX_DISPOSE_NONE;
        f.blend_method = WEBP_MUX_NO_BLEND;

        if (WebPMuxPushFrame(mux, &f, 1) != WEBP_MUX_OK) {
            die("WebPMuxPushFrame");
        }
    }

    ap.bgcolor = 0xffffffff;
    ap.loop_count = 0;

    WebPDataInit(&out);
    if (WebPMuxSetAnimationParams(mux, &ap) != WEBP_MUX_OK
        || WebPMuxAssemble(mux, &out) != WEBP_MUX_OK)
    {
        die("WebPMuxAssemble");
    }

    b.p = xmalloc(out.size);
    memcpy(b.p, out.bytes, out.size);
    b.n = out.size;

    WebPDataClear(&out);
    WebPMuxDelete(mux);
    free(still.p);

    return b;
}


static void
gen_heic(void)
{
    char           name[128], desc[160];
    buf_t          b, c;
    size_t         cut, at;
    unsigned       i;
    heif_spec_t    s, base;

    memset(&base, 0, sizeof(base));
    base.major = "heic";
    base.compat = "mif1heic";
    base.type = "hvc1";
    base.w = 320;
    base.h = 240;
    base.irot = -1;
    base.tile_type = "hvc1";

    /* a valid header with no image data: libheif refuses it */

    b = heif_hand(&base);
    emitb("heic-no-data.heic", "reject", "HEIC header, no image data", b);

    for (cut = 1; cut < b.n; cut += (cut < 40 ? 1 : 7)) {
        snprintf(name, sizeof(name), "heic-hand-cut-%03zu.heic", cut);
        snprintf(desc, sizeof(desc), "HEIC header cut at %zu of %zu", cut,
                 b.n);
        emit(name, "reject", desc, b.p, cut);
    }

    /* the meta box longer than the file; a box shorter than its header;
     * a 64-bit size past the end */

    c = bdup(b);
    at = 24;                        /* ftyp is 24 bytes: meta follows */
    be32(c.p + at, 0x7fffffff);
    emitb("heic-meta-lie.heic", "reject", "HEIC meta box longer than the "
          "file", c);
    be32(c.p + at, 4);
    emitb("heic-meta-tiny.heic", "reject", "HEIC meta box of 4 bytes", c);
    free(c.p);

    c = bsplice(b, at, 0, "\0\0\0\1free\xff\xff\xff\xff\0\0\0\0", 16);
    emitb("heic-largesize.heic", "reject", "HEIF box with a 64-bit size "
          "past the end", c);
    free(c.p);
    free(b.p);

    s = base;
    s.w = 65000;
    s.h = 65000;
    b = heif_hand(&s);
    emitb("heic-huge.heic", "reject", "HEIC ispe 65000x65000", b);
    free(b.p);

    s = base;
    s.w = 0;
    s.h = 0;
    b = heif_hand(&s);
    emitb("heic-no-ispe.heic", "reject", "HEIC primary item without ispe",
          b);
    free(b.p);

    s = base;
    s.irot = 1;
    s.w = 100000;
    s.h = 20;
    b = heif_hand(&s);
    emitb("heic-irot-huge.heic", "reject", "HEIC 100000x20, irot 90", b);
    free(b.p);

    /* grids: over the pixel limit; a work bomb; too many tiles; tiles
     * without a size; tiles that are not HEVC */

    s = base;
    s.type = "grid";
    s.w = 30000;
    s.h = 30000;
    s.tiles = 4;
    s.tile_items = 4;
    s.tw = 15000;
    s.th = 15000;
    b = heif_hand(&s);
    emitb("heic-grid-huge.heic", "reject", "HEIC grid 30000x30000", b);
    free(b.p);

    s.w = 512;
    s.h = 512;
    s.tiles = 1000;
    s.tile_items = 1;
    s.tw = 512;
    s.th = 512;
    b = heif_hand(&s);
    emitb("heic-grid-bomb.heic", "reject", "HEIC grid 512x512 of one "
          "512x512 tile listed 1000 times", b);
    free(b.p);

    s.tiles = 1100;
    s.tile_items = 1100;
    s.tw = 16;
    s.th = 16;
    b = heif_hand(&s);
    emitb("heic-grid-many.heic", "reject", "HEIC grid of 1100 tiles", b);
    free(b.p);

    s.tiles = 4;
    s.tile_items = 4;
    s.tw = 0;
    s.th = 0;
    b = heif_hand(&s);
    emitb("heic-grid-no-ispe.heic", "reject", "HEIC grid tiles without "
          "ispe", b);
    free(b.p);

    s.tw = 256;
    s.th = 256;
    s.tile_type = "av01";
    b = heif_hand(&s);
    emitb("heic-grid-av01.heic", "reject", "HEIC grid of AV1 tiles", b);
    free(b.p);

    s.tile_type = "hvc1";
    s.tiles = 0;
    b = heif_hand(&s);
    emitb("heic-grid-empty.heic", "reject", "HEIC grid without tiles", b);
    free(b.p);

    /* the descriptor sizes libheif's canvas: not over the ispe */

    s.tiles = 4;
    s.w = 640;
    s.h = 480;
    s.grid_w = 30000;
    s.grid_h = 30000;
    b = heif_hand(&s);
    emitb("heic-grid-lie.heic", "reject", "HEIC grid ispe 640x480, "
          "descriptor 30000x30000", b);
    free(b.p);
    s.grid_w = 0;
    s.grid_h = 0;

    /* the coded size (SPS) is what libde265 allocates: not over ispe */

    s = base;
    s.w = 64;
    s.h = 64;
    s.sps_w = 16384;
    s.sps_h = 16384;
    b = heif_hand(&s);
    emitb("heic-sps-bomb.heic", "reject", "HEIC ispe 64x64, SPS "
          "16384x16384", b);
    free(b.p);

    s.sps_w = 64;
    s.sps_h = 64;
    b = heif_hand(&s);
    emitb("heic-sps-ok.heic", "reject", "HEIC ispe 64x64, SPS 64x64, no "
          "data", b);
    free(b.p);

    /* the alpha (or any other item) larger than the image */

    s = base;
    s.tile_items = 1;
    s.tw = 20000;
    s.th = 20000;
    b = heif_hand(&s);
    emitb("heic-item-huge.heic", "reject", "HEIC 320x240 with a "
          "20000x20000 item", b);
    free(b.p);

    /* the generic brand: HEVC is a HEIC, AV1 is not (not an image) */

    s = base;
    s.major = "mif1";
    s.compat = "mif1miaf";
    b = heif_hand(&s);
    emitb("heic-mif1.heic", "reject", "mif1 HEIF with an HEVC item, no "
          "data", b);
    free(b.p);

    s.type = "av01";
    b = heif_hand(&s);
    emitb("heic-mif1-av01.heic", "reject", "mif1 HEIF with an AV1 item",
          b);
    free(b.p);

    /* an overlay (iovl: CVE-2024-41311's path in libheif) is not read */

    s = base;
    s.type = "iovl";
    b = heif_hand(&s);
    emitb("heic-overlay.heic", "reject", "HEIC whose primary item is an "
          "overlay", b);
    free(b.p);

    /* a few random flips in a hand-made grid header */

    s = base;
    s.type = "grid";
    s.w = 640;
    s.h = 480;
    s.tiles = 6;
    s.tile_items = 6;
    s.tw = 256;
    s.th = 256;
    b = heif_hand(&s);

    for (i = 0; i < 16; i++) {
        c = bdup(b);
        at = 16 + rand32() % (c.n - 16);
        c.p[at] ^= (unsigned char) (1u << (rand32() % 8));
        snprintf(name, sizeof(name), "heic-hand-flip-%02u.heic", i);
        snprintf(desc, sizeof(desc), "HEIC grid header, bit flip at %zu",
                 at);
        emitb(name, "reject", desc, c);
        free(c.p);
    }

    free(b.p);

#if (TUNNY_TOOLS_HEIF)
    {
        heic_opts_t     o;
        heic_buf_t      h;
        unsigned char  *pix;

        pix = photo(320, 240, 3);
        memset(&o, 0, sizeof(o));
        h = heic_encode(pix, 320, 240, 3, &o);
        free(pix);

        b.p = h.p;
        b.n = h.n;

        emitb("heic-ok.heic", "ok", "HEIC 320x240", b);

        for (i = 0; i < 40; i++) {
            cut = 1 + (size_t) i * (b.n - 2) / 40;
            snprintf(name, sizeof(name), "heic-cut-%05zu.heic", cut);
            snprintf(desc, sizeof(desc), "HEIC cut at %zu of %zu", cut,
                     b.n);
            emit(name, "reject", desc, b.p, cut);
        }

        for (i = 0; i < 24; i++) {
            unsigned  k, flips;

            c = bdup(b);
            flips = 1 + i % 8;

            for (k = 0; k < flips; k++) {
                at = 12 + rand32() % (c.n - 12);
                c.p[at] ^= (unsigned char) (1u << (rand32() % 8));
            }

            snprintf(name, sizeof(name), "heic-flip-%02u.heic", i);
            snprintf(desc, sizeof(desc), "HEIC with %u flipped bits",
                     flips);
            emitb(name, "any", desc, c);
            free(c.p);
        }

        free(b.p);
    }
#endif
}


static void
gen_anim(void)
{
    char      name[128], desc[160];
    buf_t     b;
    size_t    cut;

    b = gif_anim(200, 200, 3, (unsigned) -1, 0);
    emitb("anim-ok.gif", "ok", "GIF 200x200, 3 frames of 1x1", b);

    for (cut = 40; cut < b.n - 1; cut += 7) {
        snprintf(name, sizeof(name), "anim-cut-%03zu.gif", cut);
        snprintf(desc, sizeof(desc), "animated GIF cut at %zu of %zu", cut,
                 b.n);
        emit(name, "any", desc, b.p, cut);
    }
    free(b.p);

    b = gif_anim(200, 200, 20000, (unsigned) -1, 0);
    emitb("anim-frames.gif", "any", "GIF of 20000 frames (frame count "
          "bomb)", b);
    free(b.p);

    b = gif_anim(2000, 2000, 20, (unsigned) -1, 0);
    emitb("anim-pixels.gif", "any", "GIF 2000x2000 of 20 frames (80 Mpx "
          "over all frames)", b);
    free(b.p);

    b = gif_anim(200, 200, 3, 1, 0);
    emitb("anim-outside.gif", "any", "GIF whose second frame is 32x32 "
          "at 190,190 of a 200x200 screen", b);
    free(b.p);

    b = gif_anim(200, 200, 3, 2, 1);
    emitb("anim-lzw.gif", "any", "GIF whose third frame is LZW garbage",
          b);
    free(b.p);

    b = webp_anim_mux(200, 200, 200, 200, 300);
    emitb("anim-frames.webp", "reject", "animated WebP of 300 frames "
          "200x200", b);
    emit("anim-cut.webp", "reject", "animated WebP cut in its second half",
         b.p, b.n / 2 + 3);
    free(b.p);

    b = webp_anim_mux(2000, 2000, 8, 8, 20);
    emitb("anim-pixels.webp", "reject", "animated WebP 2000x2000 of 20 "
          "frames of 8x8 (80 Mpx over all frames)", b);
    free(b.p);
}


/* AVIF: made with libavif and aom, then cut, flipped and patched */

static buf_t
avif_make(unsigned w, unsigned h, unsigned grid)
{
    buf_t          b;
    unsigned       i;
    avifImage     *img, *cells[4];
    avifRWData     out = AVIF_DATA_EMPTY;
    avifEncoder   *enc;
    avifCropRect   r;
    avifRGBImage   rgb;

    img = avifImageCreate(w, h, 8, AVIF_PIXEL_FORMAT_YUV420);
    if (img == NULL) {
        die("avifImageCreate");
    }

    avifRGBImageSetDefaults(&rgb, img);
    rgb.format = AVIF_RGB_FORMAT_RGB;
    rgb.pixels = pix_rgb;
    rgb.rowBytes = 320 * 3;

    if (w > 320 || h > 240 || avifImageRGBToYUV(img, &rgb) != AVIF_RESULT_OK)
    {
        die("avifImageRGBToYUV");
    }

    enc = avifEncoderCreate();
    if (enc == NULL) {
        die("avifEncoderCreate");
    }

    enc->codecChoice = AVIF_CODEC_CHOICE_AOM;
    enc->maxThreads = 1;
    enc->speed = 10;
    enc->minQuantizer = 30;
    enc->maxQuantizer = 30;

    if (grid == 0) {
        if (avifEncoderWrite(enc, img, &out) != AVIF_RESULT_OK) {
            die("avifEncoderWrite");
        }

    } else {
        for (i = 0; i < 4; i++) {
            r.x = (i % 2) * (w / 2);
            r.y = (i / 2) * (h / 2);
            r.width = w / 2;
            r.height = h / 2;

            cells[i] = avifImageCreateEmpty();
            if (cells[i] == NULL
                || avifImageSetViewRect(cells[i], img, &r) != AVIF_RESULT_OK)
            {
                die("avifImageSetViewRect");
            }
        }

        if (avifEncoderAddImageGrid(enc, 2, 2,
                                    (const avifImage * const *) cells,
                                    AVIF_ADD_IMAGE_FLAG_SINGLE)
            != AVIF_RESULT_OK
            || avifEncoderFinish(enc, &out) != AVIF_RESULT_OK)
        {
            die("avifEncoderAddImageGrid");
        }

        for (i = 0; i < 4; i++) {
            avifImageDestroy(cells[i]);
        }
    }

    b.p = xmalloc(out.size);
    memcpy(b.p, out.data, out.size);
    b.n = out.size;

    avifRWDataFree(&out);
    avifEncoderDestroy(enc);
    avifImageDestroy(img);

    return b;
}


/* the offset of the nth box header of a type (its size field), or -1 */

static long
avif_find(buf_t b, const char *type, unsigned nth)
{
    size_t  i;

    for (i = 4; i + 4 <= b.n; i++) {
        if (memcmp(b.p + i, type, 4) == 0 && nth-- == 0) {
            return (long) i - 4;
        }
    }

    return -1;
}


/* the ispe box that says w x h: patched to nw x nh */

static int
avif_ispe(buf_t b, unsigned long w, unsigned long h, unsigned long nw,
    unsigned long nh)
{
    long      at;
    unsigned  i;

    for (i = 0; (at = avif_find(b, "ispe", i)) >= 0; i++) {
        if (rd_be32(b.p + at + 12) == w && rd_be32(b.p + at + 16) == h) {
            be32(b.p + at + 12, nw);
            be32(b.p + at + 16, nh);
            return 1;
        }
    }

    return 0;
}


static void
gen_avif(void)
{
    char      name[128], desc[160];
    long      at, meta;
    buf_t     b, g, c;
    size_t    cut, step, n;
    unsigned  i, k, flips;

    static const char  *boxes[] = {
        "ftyp", "meta", "hdlr", "pitm", "iloc", "iinf", "infe", "iprp",
        "ipco", "ispe", "av1C", "pixi", "ipma", "mdat", "colr"
    };

    b = avif_make(320, 240, 0);
    emitb("avif-ok.avif", "ok", "AVIF 320x240", b);

    g = avif_make(320, 240, 1);
    emitb("avif-grid-ok.avif", "ok", "AVIF 320x240, a 2x2 grid", g);

    /* truncations: every byte of the boxes before mdat, then the data */

    at = avif_find(b, "mdat", 0);
    if (at < 0) {
        die("AVIF without mdat");
    }

    meta = at;
    step = (size_t) meta / 40 + 1;

    for (cut = 1; cut < b.n; cut += (cut < (size_t) meta) ? step
                                    : (b.n - (size_t) meta) / 12 + 1)
    {
        snprintf(name, sizeof(name), "avif-cut-%05zu.avif", cut);
        snprintf(desc, sizeof(desc), "AVIF cut at %zu of %zu", cut, b.n);
        emit(name, "reject", desc, b.p, cut);
    }

    emit("avif-cut-last.avif", "reject", "AVIF without its last byte", b.p,
         b.n - 1);

    at = avif_find(g, "mdat", 0);
    snprintf(desc, sizeof(desc), "AVIF grid cut in its second cell");
    emit("avif-grid-cut.avif", "reject", desc, g.p,
         (size_t) at + (g.n - (size_t) at) / 3);

    /* bit flips: in the boxes, and anywhere */

    for (i = 0; i < 24; i++) {
        c = bdup(i < 12 ? b : g);
        flips = 1 + i % 6;
        n = (i % 2) ? c.n : (size_t) avif_find(c, "mdat", 0);

        for (k = 0; k < flips; k++) {
            at = 12 + rand32() % (n - 12);
            c.p[at] ^= (unsigned char) (1u << (rand32() % 8));
        }

        snprintf(name, sizeof(name), "avif-flip-%02u.avif", i);
        snprintf(desc, sizeof(desc), "AVIF%s with %u flipped bits%s",
                 i < 12 ? "" : " grid", flips,
                 (i % 2) ? "" : " in the boxes");
        emitb(name, "any", desc, c);
        free(c.p);
    }

    /* box sizes that lie: each box past the file, past its parent (by
     * one), zero (to the end), one (a 64-bit size follows), below the
     * header */

    for (i = 0; i < sizeof(boxes) / sizeof(boxes[0]); i++) {
        at = avif_find(b, boxes[i], 0);
        if (at < 0) {
            continue;
        }

        /* the probe walks every box up to meta and all of meta but not
         * mdat, which libavif may never look at past the extents */

        c = bdup(b);
        be32(c.p + at, 0x7ffffff0UL);
        snprintf(name, sizeof(name), "avif-box-%s-huge.avif", boxes[i]);
        snprintf(desc, sizeof(desc), "AVIF %s box of 2 GB", boxes[i]);
        emitb(name, strcmp(boxes[i], "mdat") == 0 ? "any" : "reject", desc,
              c);

        be32(c.p + at, rd_be32(b.p + at) + 1);
        snprintf(name, sizeof(name), "avif-box-%s-plus1.avif", boxes[i]);
        snprintf(desc, sizeof(desc), "AVIF %s box one byte too long",
                 boxes[i]);
        emitb(name, "any", desc, c);

        be32(c.p + at, 0);
        snprintf(name, sizeof(name), "avif-box-%s-zero.avif", boxes[i]);
        snprintf(desc, sizeof(desc), "AVIF %s box of size 0", boxes[i]);
        emitb(name, "any", desc, c);

        be32(c.p + at, 1);
        snprintf(name, sizeof(name), "avif-box-%s-large.avif", boxes[i]);
        snprintf(desc, sizeof(desc), "AVIF %s box of size 1 (64-bit size "
                 "from the payload)", boxes[i]);
        emitb(name, "any", desc, c);

        be32(c.p + at, 7);
        snprintf(name, sizeof(name), "avif-box-%s-short.avif", boxes[i]);
        snprintf(desc, sizeof(desc), "AVIF %s box of size 7", boxes[i]);
        emitb(name, "any", desc, c);
        free(c.p);
    }

    /* the type of a box renamed: no pitm, no ispe, no ipma */

    for (i = 0; i < 3; i++) {
        static const char  *gone[] = { "pitm", "ispe", "ipma" };

        c = bdup(b);
        at = avif_find(c, gone[i], 0);
        if (at < 0) {
            die("AVIF without %s", gone[i]);
        }
        memcpy(c.p + at + 4, "free", 4);
        snprintf(name, sizeof(name), "avif-no-%s.avif", gone[i]);
        snprintf(desc, sizeof(desc), "AVIF without %s", gone[i]);
        emitb(name, "reject", desc, c);
        free(c.p);
    }

    /* dimensions: a huge ispe, a zero one, one that differs from the
     * AV1 frame */

    c = bdup(b);
    if (!avif_ispe(c, 320, 240, 100000, 100000)) {
        die("AVIF ispe");
    }
    emitb("avif-huge-ispe.avif", "reject", "AVIF ispe 100000x100000", c);
    avif_ispe(c, 100000, 100000, 0, 240);
    emitb("avif-zero-ispe.avif", "reject", "AVIF ispe 0x240", c);
    avif_ispe(c, 0, 240, 640, 480);
    emitb("avif-ispe-lies.avif", "any", "AVIF ispe 640x480 of a 320x240 "
          "frame (libavif scales the frame to the ispe, which max_pixels "
          "bounds)", c);
    free(c.p);

    /* grids: the grid item's ispe huge, its grid box huge (the ispe as
     * it was), 256x256 cells of the four there are */

    c = bdup(g);
    if (!avif_ispe(c, 320, 240, 60000, 60000)) {
        die("AVIF grid ispe");
    }
    emitb("avif-grid-huge-ispe.avif", "reject", "AVIF grid, ispe "
          "60000x60000", c);
    free(c.p);

    /* the ImageGrid payload (libavif puts it in mdat): version 0, flags 0
     * (16-bit sizes), rows - 1, columns - 1, width 320, height 240 */

    at = -1;
    for (n = 0; n + 8 <= g.n; n++) {
        if (memcmp(g.p + n, "\0\0\1\1\x01\x40\0\xf0", 8) == 0) {
            at = (long) n;
            break;
        }
    }

    if (at < 0) {
        die("AVIF grid without its ImageGrid payload");
    }

    c = bdup(g);
    be16(c.p + at + 4, 60000);
    be16(c.p + at + 6, 60000);
    emitb("avif-grid-huge-dims.avif", "reject", "AVIF grid box "
          "60000x60000 under an ispe of 320x240", c);
    free(c.p);

    c = bdup(g);
    c.p[at + 2] = 255;
    c.p[at + 3] = 255;
    emitb("avif-grid-256x256.avif", "reject", "AVIF grid of 256x256 cells, "
          "4 present", c);
    free(c.p);

    c = bdup(g);
    if (!avif_ispe(c, 160, 120, 16000, 16000)) {
        die("AVIF cell ispe");
    }
    emitb("avif-grid-huge-cell.avif", "any", "AVIF grid, a cell's ispe "
          "16000x16000 (the grid's 320x240 bounds the output)", c);
    free(c.p);

    free(b.p);
    free(g.p);
}


int
main(int argc, char **argv)
{
    char      path[4096];
    unsigned  i;
    jopt_t    o;

    if (argc == 5 && (strcmp(argv[1], "--scan-bomb") == 0
                      || strcmp(argv[1], "--webp-slow") == 0
                      || strcmp(argv[1], "--jpeg-big") == 0))
    {
        /*
         * one big file, for measurements and timing tests:
         * --scan-bomb W H FILE, --webp-slow W H FILE, --jpeg-big W H FILE
         * (a baseline photo of noisy gradients, quality 90)
         */
        buf_t           b;
        FILE           *f;
        unsigned        w, h;
        unsigned char  *p;

        w = (unsigned) atoi(argv[2]);
        h = (unsigned) atoi(argv[3]);

        if (argv[1][2] == 's') {
            b = jpeg_scan_script(w, h, 1, 0);

        } else if (argv[1][2] == 'w') {
            b = webp_slow(w, h);

        } else {
            memset(&o, 0, sizeof(o));
            o.quality = 90;
            p = photo(w, h, 3);
            b = jpeg(p, w, h, 3, JCS_RGB, &o);
            free(p);
        }

        f = fopen(argv[4], "wb");
        if (f == NULL || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) != 0) {
            die("%s: write failed", argv[4]);
        }

        free(b.p);
        return 0;
    }

    if (argc != 2) {
        fprintf(stderr, "usage: gen-hostile DIR | gen-hostile "
                        "--scan-bomb|--webp-slow|--jpeg-big W H FILE\n");
        return 2;
    }

    dir = argv[1];

    snprintf(path, sizeof(path), "%s/MANIFEST", dir);
    manifest = fopen(path, "w");
    if (manifest == NULL) {
        die("%s: cannot write (does the directory exist?)", path);
    }

    fprintf(manifest, "# NAME EXPECT WHAT (EXPECT: reject = 4xx with a "
                      "reason, ok = 200, any = 200 or 4xx, never 5xx)\n");

    pix_rgb = photo(320, 240, 3);
    pix_gray = photo(320, 240, 1);
    pix_cmyk = photo(320, 240, 4);

    /* Adobe-inverted CMYK: keep the K channel light */
    for (i = 0; i < 320 * 240; i++) {
        pix_cmyk[i * 4 + 3] = 200 + pix_cmyk[i * 4 + 3] % 56;
    }

    memset(&o, 0, sizeof(o));
    base_jpg = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    o.progressive = 1;
    prog_jpg = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);
    o.progressive = 0;
    o.arith = 1;
    arith_jpg = jpeg(pix_rgb, 320, 240, 3, JCS_RGB, &o);

    base_webp = webp_lossy(pix_rgb, 320, 240, 80);
    ll_webp = webp_lossless(pix_rgb, 320, 240);

    gen_not_images();
    gen_jpeg_variants();
    gen_jpeg_fast();
    gen_bombs();
    gen_exif();
    gen_icc();
    gen_icc_lcms();
    gen_webp();
    gen_png();
    gen_gif();
    gen_anim();

    gen_truncations("baseline", base_jpg, "baseline JPEG", 2);
    gen_truncations("progressive", prog_jpg, "progressive JPEG", 2);
    gen_truncations("arith", arith_jpg, "arithmetic JPEG", 2);
    gen_truncations("lossy", base_webp, "lossy WebP", 0);
    gen_truncations("lossless", ll_webp, "lossless WebP", 0);

    gen_bitflips("baseline", base_jpg, "baseline JPEG", 24, 2);
    gen_bitflips("progressive", prog_jpg, "progressive JPEG", 12, 2);
    gen_bitflips("arith", arith_jpg, "arithmetic JPEG", 12, 2);
    gen_bitflips("lossy", base_webp, "lossy WebP", 16, 12);
    gen_bitflips("lossless", ll_webp, "lossless WebP", 16, 12);

    gen_params();
    gen_heic();
    gen_avif();

    fclose(manifest);

    fprintf(stderr, "gen-hostile: %u files in %s\n", nfiles, dir);

    return 0;
}
