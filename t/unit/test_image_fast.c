
/*
 * Unit tests of the exact JPEG shortcuts of the image library, TAP output:
 *
 *   test_image_fast [FIXTURE_DIR]
 *
 * The DC-only decode of progressive JPEGs at 1/8 and the region decode
 * of crop must give the pixels of the whole decode, bit for bit.  Every
 * check here decodes the same bytes twice, through
 * ngx_tunny_image_pixels_fast() with the shortcut and without it, and
 * compares: the decoded frame (DC only) and the pixels the encoder would
 * get (both).  The JPEGs are made here: photo-like pixels encoded with
 * each sampling (4:2:0, 4:2:2, 4:4:4, grey), with and without restart
 * markers, then made progressive from their coefficients as jpegtran
 * -progressive does (the baseline and the progressive copy hold the same
 * coefficients, so a third decode, of the baseline, must agree too), and
 * with scan scripts of our own: DC refinement scans before and after AC
 * scans, DC of each component in a scan of its own, two DC refinements,
 * a file whose AC never reaches full precision (the shortcut must stay
 * off).  With FIXTURE_DIR, its JPEGs are made progressive and checked the
 * same way.  TUNNY_BENCH=0 (valgrind, ASan) runs fewer crop cases.
 *
 * The inflate shortcut of plain PNGs (libdeflate and our own unfilter in
 * place of libspng's row loop) likewise against libspng: PNGs written
 * here, filtered row by row with each filter type or a random one, their
 * IDAT in one chunk or many, grey, RGB and RGBA of many sizes, decoded
 * with the SSE2 kernels and without; and files the shortcut must leave
 * to libspng (a bad CRC, a filter type 5, a stream that inflates short or
 * long, IDAT chunks split by another chunk, tRNS) with libspng's answer.
 *
 * The PNG writer of small outputs (our filters and one libdeflate call in
 * place of libspng's encoder) against libspng's writer: both files, of
 * every colour type, many sizes, levels 0, 1, 6 and 9, decoded by
 * libspng to the same pixels; the same bytes with the SSE2 filters and
 * without; the ICC profile kept; over its size limit, libspng's file.
 */


#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <libdeflate.h>
#include <spng.h>

#include "tap.h"
#include "ngx_tunny_image_int.h"
#include "../tools/icc-make.h"






typedef struct {
    unsigned char  *data;
    unsigned long   len;
} blob_t;


/* photo-like pixels: gradients, hard edges, texture and noise */

static unsigned char *
photo(unsigned w, unsigned h, unsigned comps, unsigned seed)
{
    unsigned        x, y, c, v, r;
    unsigned char  *p, *d;

    p = malloc((size_t) w * h * comps);
    if (p == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }

    r = seed * 2654435761u + 1;
    d = p;

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            for (c = 0; c < comps; c++) {
                r = r * 1103515245u + 12345u;

                v = (x * (60 + 40 * c)) / (w ? w : 1)
                    + (y * (90 - 30 * c)) / (h ? h : 1);

                /* a disc and stripes: edges of every direction */

                if ((x - w / 3) * (x - w / 3) + (y - h / 2) * (y - h / 2)
                    < (w / 5) * (w / 5))
                {
                    v += 70 + 20 * c;
                }

                if (((x + 2 * y) / 7) % 3 == 0 && x > w / 2) {
                    v += 50;
                }

                v += (r >> 24) % 24;

                *d++ = (unsigned char) (v > 255 ? 255 : v);
            }
        }
    }

    return p;
}


/* an APP1 with only the EXIF orientation o (little-endian TIFF) */

static void
write_exif(struct jpeg_compress_struct *c, unsigned o)
{
    unsigned char  e[] = {
        'E', 'x', 'i', 'f', 0, 0,
        'I', 'I', 42, 0, 8, 0, 0, 0,
        1, 0,
        0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0
    };

    e[6 + 8 + 2 + 8] = (unsigned char) o;

    jpeg_write_marker(c, JPEG_APP0 + 1, e, sizeof(e));
}


typedef struct {
    unsigned        w, h;
    unsigned        comps;             /* 1 or 3 */
    unsigned        hs, vs;            /* luma sampling: 2 2, 2 1, 1 1 */
    unsigned        restart;           /* rows, 0: none */
    unsigned        orientation;       /* 0: no EXIF */
    int             quality;
} spec_t;


static blob_t encode_pixels(const spec_t *s, unsigned char *p);


static blob_t
encode(const spec_t *s, unsigned seed)
{
    blob_t          b;
    unsigned char  *p;

    p = photo(s->w, s->h, s->comps, seed);
    b = encode_pixels(s, p);
    free(p);

    return b;
}


static blob_t
encode_pixels(const spec_t *s, unsigned char *p)
{
    int                           i;
    blob_t                        b;
    JSAMPROW                      row;
    struct jpeg_error_mgr         jerr;
    struct jpeg_compress_struct   c;

    b.data = NULL;
    b.len = 0;

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &b.data, &b.len);

    c.image_width = s->w;
    c.image_height = s->h;
    c.input_components = (int) s->comps;
    c.in_color_space = s->comps == 1 ? JCS_GRAYSCALE : JCS_RGB;

    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, s->quality, TRUE);

    if (s->comps == 3) {
        c.comp_info[0].h_samp_factor = (int) s->hs;
        c.comp_info[0].v_samp_factor = (int) s->vs;

        for (i = 1; i < 3; i++) {
            c.comp_info[i].h_samp_factor = 1;
            c.comp_info[i].v_samp_factor = 1;
        }
    }

    c.restart_in_rows = (int) s->restart;

    jpeg_start_compress(&c, TRUE);

    if (s->orientation) {
        write_exif(&c, s->orientation);
    }

    while (c.next_scanline < s->h) {
        row = p + (size_t) c.next_scanline * s->w * s->comps;
        jpeg_write_scanlines(&c, &row, 1);
    }

    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    return b;
}


/* scan scripts */

#define SCRIPT_SIMPLE     0    /* jpeg_simple_progression(): DC Al 1 first,
                                  its refinement after AC scans */
#define SCRIPT_DC_EACH    1    /* DC of each component alone, Al 0 */
#define SCRIPT_DC_TWICE   2    /* DC Al 2, refined twice, AC between */
#define SCRIPT_AC_SHORT   3    /* luma AC stops at Al 1: incomplete */
#define SCRIPT_N          4

static const char  *script_name[SCRIPT_N] = {
    "simple progression", "DC per component", "two DC refinements",
    "luma AC incomplete"
};


static void
scan(jpeg_scan_info *si, int *n, int ncomp, int c0, int ss, int se, int ah,
    int al)
{
    int  i;

    si[*n].comps_in_scan = ncomp;

    for (i = 0; i < ncomp; i++) {
        si[*n].component_index[i] = c0 + i;
    }

    si[*n].Ss = ss;
    si[*n].Se = se;
    si[*n].Ah = ah;
    si[*n].Al = al;
    (*n)++;
}


static int
script(jpeg_scan_info *si, int kind, int ncomp)
{
    int  n, c;

    n = 0;

    switch (kind) {

    case SCRIPT_DC_EACH:
        for (c = 0; c < ncomp; c++) {
            scan(si, &n, 1, c, 0, 0, 0, 0);
        }
        for (c = 0; c < ncomp; c++) {
            scan(si, &n, 1, c, 1, 9, 0, 0);
            scan(si, &n, 1, c, 10, 63, 0, 0);
        }
        break;

    case SCRIPT_DC_TWICE:
        scan(si, &n, ncomp, 0, 0, 0, 0, 2);
        for (c = 0; c < ncomp; c++) {
            scan(si, &n, 1, c, 1, 63, 0, 1);
        }
        scan(si, &n, ncomp, 0, 0, 0, 2, 1);
        scan(si, &n, 1, 0, 1, 63, 1, 0);
        scan(si, &n, ncomp, 0, 0, 0, 1, 0);
        for (c = 1; c < ncomp; c++) {
            scan(si, &n, 1, c, 1, 63, 1, 0);
        }
        break;

    case SCRIPT_AC_SHORT:
        scan(si, &n, ncomp, 0, 0, 0, 0, 0);
        scan(si, &n, 1, 0, 1, 63, 0, 1);
        for (c = 1; c < ncomp; c++) {
            scan(si, &n, 1, c, 1, 63, 0, 0);
        }
        break;

    default:
        return 0;
    }

    return n;
}


/*
 * The progressive copy of a JPEG from its coefficients, as jpegtran
 * -progressive (SCRIPT_SIMPLE) or with a script; restart: an interval in
 * MCU rows for the copy, 0: none.  An input libjpeg cannot transcode, or
 * that is not a plain YCbCr / grey Huffman JPEG of 64x64 to 16 MP (the
 * fixtures have others, and one that claims 60000x60000), gives an empty
 * blob.
 */

typedef struct {
    struct jpeg_error_mgr           pub;
    jmp_buf                         jmp;
} xerr_t;


typedef struct {
    xerr_t                          e;         /* of both */
    int                             dcreated, ccreated;
    struct jpeg_decompress_struct   d;
    struct jpeg_compress_struct     c;
    jpeg_scan_info                  si[64];
    blob_t                          b;
} xcode_t;


static void
xcode_exit(j_common_ptr c)
{
    longjmp(((xerr_t *) c->err)->jmp, 1);
}


static void
xcode_emit(j_common_ptr c, int level)
{
    (void) c;
    (void) level;
}


static void
xcode_free(xcode_t *x)
{
    if (x->ccreated) {
        jpeg_destroy_compress(&x->c);
    }

    if (x->dcreated) {
        jpeg_destroy_decompress(&x->d);
    }

    x->ccreated = 0;
    x->dcreated = 0;
}


static void
xcode_run(xcode_t *x, const blob_t *in, int kind, unsigned restart)
{
    jvirt_barray_ptr       *coef;
    jpeg_saved_marker_ptr   mk;

    jpeg_create_decompress(&x->d);
    x->dcreated = 1;
    jpeg_mem_src(&x->d, in->data, in->len);
    jpeg_save_markers(&x->d, JPEG_APP0 + 1, 0xffff);
    (void) jpeg_read_header(&x->d, TRUE);

    if (x->d.arith_code || x->d.data_precision != 8
        || (x->d.jpeg_color_space != JCS_YCbCr
            && x->d.jpeg_color_space != JCS_GRAYSCALE)
        || x->d.image_width < 64 || x->d.image_height < 64
        || (uint64_t) x->d.image_width * x->d.image_height > 16000000)
    {
        return;
    }

    coef = jpeg_read_coefficients(&x->d);

    jpeg_create_compress(&x->c);
    x->ccreated = 1;
    jpeg_mem_dest(&x->c, &x->b.data, &x->b.len);
    jpeg_copy_critical_parameters(&x->d, &x->c);

    if (kind == SCRIPT_SIMPLE) {
        jpeg_simple_progression(&x->c);

    } else {
        x->c.num_scans = script(x->si, kind, x->d.num_components);
        x->c.scan_info = x->si;
    }

    x->c.restart_in_rows = (int) restart;

    jpeg_write_coefficients(&x->c, coef);

    for (mk = x->d.marker_list; mk != NULL; mk = mk->next) {
        jpeg_write_marker(&x->c, mk->marker, mk->data, mk->data_length);
    }

    jpeg_finish_compress(&x->c);
}


static blob_t
progressive(const blob_t *in, int kind, unsigned restart)
{
    blob_t    b;
    xcode_t  *x;

    x = calloc(1, sizeof(xcode_t));
    if (x == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }

    x->d.err = jpeg_std_error(&x->e.pub);
    x->c.err = &x->e.pub;
    x->e.pub.error_exit = xcode_exit;
    x->e.pub.emit_message = xcode_emit;

    if (setjmp(x->e.jmp)) {
        xcode_free(x);
        free(x->b.data);
        x->b.data = NULL;
        x->b.len = 0;

    } else {
        xcode_run(x, in, kind, restart);
        xcode_free(x);
    }

    b = x->b;
    free(x);

    return b;
}


/* the pixels of a run, copied out of the state */

typedef struct {
    int             rc;
    unsigned        fast;              /* res.fast */
    unsigned        w, h, ch;
    unsigned char  *data;              /* w * h * ch, packed */
    char            error[160];
} out_t;


static out_t
run(ngx_tunny_image_state_t *st, const blob_t *b,
    const ngx_tunny_image_params_t *p, unsigned fast)
{
    out_t                     o;
    unsigned                  y;
    ngx_tunny_image_pix_t     pix;
    ngx_tunny_image_result_t  res;

    memset(&o, 0, sizeof(out_t));

    o.rc = ngx_tunny_image_pixels_fast(st, b->data, b->len, p, &res, &pix,
                                       fast);
    o.fast = res.fast;
    memcpy(o.error, res.error, sizeof(o.error));

    if (o.rc != NGX_TUNNY_IMAGE_OK) {
        return o;
    }

    o.w = pix.width;
    o.h = pix.height;
    o.ch = pix.channels;
    o.data = malloc((size_t) o.w * o.h * o.ch + 1);

    if (o.data == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }

    for (y = 0; y < o.h; y++) {
        memcpy(o.data + (size_t) y * o.w * o.ch,
               pix.data + (size_t) y * pix.stride, (size_t) o.w * o.ch);
    }

    return o;
}


/* 1 when a and b are the same pixels; diag() of the first difference */

static int
same(const out_t *a, const out_t *b, const char *what)
{
    size_t  i, n;

    if (a->rc != NGX_TUNNY_IMAGE_OK || b->rc != NGX_TUNNY_IMAGE_OK) {
        diag("%s: rc %d (%s) / %d (%s)", what, a->rc, a->error, b->rc,
             b->error);
        return 0;
    }

    if (a->w != b->w || a->h != b->h || a->ch != b->ch) {
        diag("%s: %ux%ux%u / %ux%ux%u", what, a->w, a->h, a->ch, b->w, b->h,
             b->ch);
        return 0;
    }

    n = (size_t) a->w * a->h * a->ch;

    for (i = 0; i < n; i++) {
        if (a->data[i] != b->data[i]) {
            diag("%s: first difference at x %zu y %zu channel %zu: %u / %u",
                 what, i / a->ch % a->w, i / a->ch / a->w, i % a->ch,
                 a->data[i], b->data[i]);
            return 0;
        }
    }

    return 1;
}


static void
out_free(out_t *o)
{
    free(o->data);
    o->data = NULL;
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

    if (angle) {
        p->ops |= NGX_TUNNY_IMAGE_OP_ROTATE;
    }

    p->jpeg_quality = 80;
    p->webp_quality = 80;
    p->max_pixels = 100000000;
}


/*
 * One progressive file at a box that decodes at 1/8: the shortcut's
 * decoded frame and output against the whole decode's, and against the
 * baseline's (NULL: none); expect: whether the shortcut must be taken.
 */

static void
dc_case(ngx_tunny_image_state_t *st, const blob_t *prog, const blob_t *base,
    unsigned box, int expect, int own, const char *what)
{
    out_t                     fast, slow, ref;
    ngx_tunny_image_params_t  p;

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, box, box, 0);

    /* the decoded frames */

    fast = run(st, prog, &p, NGX_TUNNY_IMAGE_FAST_DC | NGX_TUNNY_IMAGE_DECODED);
    slow = run(st, prog, &p, NGX_TUNNY_IMAGE_DECODED);

    ok(same(&fast, &slow, what), "%s: DC-only frame %ux%u = whole decode",
       what, fast.w, fast.h);

    ok(!!(fast.fast & NGX_TUNNY_IMAGE_FAST_DC) == expect,
       "%s: DC-only decode %s", what, expect ? "taken" : "not taken");

    ok(!!(fast.fast & NGX_TUNNY_IMAGE_DC_OWN) == (expect && own),
       "%s: %s", what, (expect && own) ? "by the module's own decoder"
                                       : "not by the module's own decoder");

    ok(!(slow.fast & NGX_TUNNY_IMAGE_FAST_DC), "%s: off when not allowed",
       what);

    if (base != NULL) {
        ref = run(st, base, &p, NGX_TUNNY_IMAGE_DECODED);
        ok(same(&fast, &ref, what), "%s: = the baseline's frame", what);
        out_free(&ref);
    }

    out_free(&fast);
    out_free(&slow);

    /* the pixels the encoder gets */

    fast = run(st, prog, &p, NGX_TUNNY_IMAGE_FAST_ALL);
    slow = run(st, prog, &p, 0);

    ok(same(&fast, &slow, what), "%s: fit %u output %ux%u = whole decode",
       what, box, fast.w, fast.h);

    out_free(&fast);
    out_free(&slow);
}


static void
test_dc_only(ngx_tunny_image_state_t *st)
{
    int           k;
    char          what[160];
    blob_t        base, prog;
    unsigned      i, r;
    spec_t        s;

    static const struct {
        unsigned  w, h, comps, hs, vs;
        const char *name;
    }  kinds[] = {
        { 1024, 768, 3, 2, 2, "4:2:0" },
        { 1000, 751, 3, 2, 1, "4:2:2" },
        { 1000, 751, 3, 1, 2, "4:4:0" },
        { 997, 640, 3, 1, 1, "4:4:4" },
        { 1031, 777, 1, 1, 1, "grey" },
    };

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        for (r = 0; r < 2; r++) {

            memset(&s, 0, sizeof(spec_t));
            s.w = kinds[i].w;
            s.h = kinds[i].h;
            s.comps = kinds[i].comps;
            s.hs = kinds[i].hs;
            s.vs = kinds[i].vs;
            s.quality = 85;

            base = encode(&s, i * 7 + r);

            for (k = 0; k < SCRIPT_N; k++) {
                prog = progressive(&base, k, r);

                snprintf(what, sizeof(what), "%s %ux%u%s, %s", kinds[i].name,
                         s.w, s.h, r ? ", restart markers" : "",
                         script_name[k]);

                /*
                 * 1024 / 32 = 32: need 128 = 1024 / 8; the module's own
                 * decoder where every component scales to 1x1 (all but
                 * 4:2:0, whose chroma libjpeg scales to 2x2)
                 */
                dc_case(st, &prog, k != SCRIPT_AC_SHORT ? &base : NULL,
                        s.w / 32, k != SCRIPT_AC_SHORT,
                        kinds[i].hs == 1 || kinds[i].vs == 1, what);

                free(prog.data);
            }

            free(base.data);
        }
    }

    /* a scale over 1/8: the shortcut has no part in it */

    memset(&s, 0, sizeof(spec_t));
    s.w = 1024;
    s.h = 768;
    s.comps = 3;
    s.hs = 2;
    s.vs = 2;
    s.quality = 85;

    base = encode(&s, 99);
    prog = progressive(&base, SCRIPT_SIMPLE, 0);
    dc_case(st, &prog, &base, 200, 0, 0,
            "4:2:0 at fit 200 (DCT 2/8 or more)");
    free(prog.data);
    free(base.data);
}


/* the longest code of a JPEG's DC tables, as libjpeg reads its header */

static int
dc_longest(const blob_t *b)
{
    int                             k, l, longest;
    JHUFF_TBL                      *t;
    struct jpeg_error_mgr           jerr;
    struct jpeg_decompress_struct   d;

    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, b->data, b->len);
    (void) jpeg_read_header(&d, TRUE);

    longest = 0;

    for (k = 0; k < NUM_HUFF_TBLS; k++) {
        t = d.dc_huff_tbl_ptrs[k];

        for (l = 1; t != NULL && l <= 16; l++) {
            longest = t->bits[l] ? l : longest;
        }
    }

    jpeg_destroy_decompress(&d);

    return longest;
}


/*
 * Long DC codes: a grey 512x512 of nearly flat blocks whose DC
 * differences fall in the 12 categories, each half as often as the one
 * before, so that the optimal DC table libjpeg writes for the progressive
 * copy is a chain of codes of 1 to 12 bits.  The module's decoder reads a
 * code and its difference bits at once where both fit 11 bits, else a
 * code of up to 9 bits from a table and a longer one by the canonical
 * code's limits: this file takes all three ways (categories 6 and up do
 * not fit, the codes of categories 9 to 11 are 10 to 12 bits long).
 */

static void
test_dc_long_codes(ngx_tunny_image_state_t *st)
{
    int             d, k, m, nd, left[12], owed, longest;
    blob_t          base, prog;
    spec_t          s;
    unsigned        bx, by, x, y, i, t, v, rem, r;
    unsigned char  *p, *q;

    p = malloc(512 * 512);
    if (p == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }

    for (k = 0; k < 12; k++) {
        left[k] = 1 << (11 - k);
    }

    /* first -1016 (from the predictor 0), then +2032: category 11 */

    d = -1016;
    r = 12345;
    left[10]--;
    left[11]--;
    owed = 0;

    for (k = 0; k < 11; k++) {
        owed += left[k];
    }

    for (i = 0; i < 64 * 64; i++) {
        if (i == 1) {
            d = 1016;

        } else if (i > 1) {
            /* a category still owed, at random */

            do {
                r = r * 1103515245 + 12345;
                k = (int) ((r >> 16) % 11);
            } while (left[k] == 0 && owed > 0);

            if (left[k] > 0) {
                left[k]--;
                owed--;
            }
            m = k ? (1 << (k - 1)) + (int) ((r >> 8) % (1U << (k - 1))) : 0;
            nd = d > 0 ? d - m : d + m;
            d = nd < -1016 ? -1016 : (nd > 1016 ? 1016 : nd);
        }

        /* a block whose pixels sum to 64 * 128 + 8 * d: its DC is d */

        bx = i % 64;
        by = i / 64;
        t = (unsigned) (64 * 128 + 8 * d);
        v = t / 64;
        rem = t % 64;

        for (y = 0; y < 8; y++) {
            q = p + (by * 8 + y) * 512 + bx * 8;

            for (x = 0; x < 8; x++) {
                q[x] = (unsigned char) (v + (y * 8 + x < rem));
            }
        }
    }

    memset(&s, 0, sizeof(spec_t));
    s.w = 512;
    s.h = 512;
    s.comps = 1;
    s.quality = 100;

    base = encode_pixels(&s, p);
    prog = progressive(&base, SCRIPT_DC_EACH, 0);

    longest = dc_longest(&prog);

    ok(longest >= 12,
       "long DC codes: the progressive file's DC table has codes of up to "
       "%d bits", longest);

    dc_case(st, &prog, &base, 512 / 32, 1, 1, "grey 512x512, long DC codes");

    free(prog.data);
    free(base.data);
    free(p);
}


/* the JPEG fixtures of FIXTURE_DIR, made progressive */

static void
test_dc_fixtures(ngx_tunny_image_state_t *st, const char *dir)
{
    int              n;
    long             len;
    char             path[4096], what[512];
    FILE            *f;
    DIR             *d;
    blob_t           base, prog;
    size_t           l;
    struct dirent   *e;

    d = opendir(dir);
    if (d == NULL) {
        ok(0, "fixtures: cannot open %s", dir);
        return;
    }

    n = 0;

    while ((e = readdir(d)) != NULL) {
        l = strlen(e->d_name);

        if (l < 5 || strcmp(e->d_name + l - 4, ".jpg") != 0) {
            continue;
        }

        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);

        f = fopen(path, "rb");
        if (f == NULL) {
            continue;
        }

        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);

        base.data = malloc(len > 0 ? (size_t) len : 1);
        base.len = (unsigned long) (len > 0 ? len : 0);

        if (base.data == NULL
            || fread(base.data, 1, base.len, f) != base.len)
        {
            fclose(f);
            free(base.data);
            continue;
        }

        fclose(f);

        prog = progressive(&base, SCRIPT_SIMPLE, 0);

        if (prog.data == NULL) {
            free(base.data);
            continue;
        }

        snprintf(what, sizeof(what), "fixture %s, progressive", e->d_name);

        /* the smallest box of the file's own width that decodes at 1/8 */
        {
            out_t                     fast, slow;
            ngx_tunny_image_params_t  p;

            params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 8, 8, 0);

            fast = run(st, &prog, &p, NGX_TUNNY_IMAGE_FAST_DC
                                      | NGX_TUNNY_IMAGE_DECODED);
            slow = run(st, &prog, &p, NGX_TUNNY_IMAGE_DECODED);

            if (fast.rc != NGX_TUNNY_IMAGE_OK && fast.rc == slow.rc) {
                ok(1, "%s: rejected alike (%s)", what, fast.error);

            } else {
                ok(same(&fast, &slow, what), "%s: DC-only frame = whole "
                   "decode (%s)", what,
                   (fast.fast & NGX_TUNNY_IMAGE_FAST_DC) ? "taken"
                                                         : "not taken");
            }

            out_free(&fast);
            out_free(&slow);
        }

        free(prog.data);
        free(base.data);
        n++;
    }

    closedir(d);

    ok(n > 0, "fixtures: %d JPEGs made progressive", n);
}


/*
 * Crop: region decode against the whole frame, for sizes, samplings,
 * restart markers, progressive copies, boxes, EXIF orientations and
 * rotations.
 */

static void
test_region(ngx_tunny_image_state_t *st)
{
    char                      what[256];
    blob_t                    base, prog, short_ac, *b;
    unsigned                  i, k, o, a, pr, n, taken;
    out_t                     fast, slow;
    spec_t                    s;
    ngx_tunny_image_params_t  p;

    static const struct {
        unsigned  w, h, comps, hs, vs, restart;
    }  kinds[] = {
        { 1000, 700, 3, 2, 2, 0 },
        { 701, 999, 3, 2, 2, 1 },
        { 1280, 720, 3, 2, 1, 0 },
        { 777, 555, 3, 1, 1, 2 },
        { 900, 613, 1, 1, 1, 0 },
    };

    static const struct {
        unsigned  w, h;
    }  boxes[] = {
        { 300, 300 },       /* the bench's crop */
        { 100, 400 },
        { 640, 90 },
        { 40, 40 },         /* DCT 1/8 with the margin */
        { 500, 0 },         /* "-": only cuts */
        { 0, 333 },
        { 699, 500 },       /* nearly all of it */
    };

    n = 0;
    taken = 0;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {

        memset(&s, 0, sizeof(spec_t));
        s.w = kinds[i].w;
        s.h = kinds[i].h;
        s.comps = kinds[i].comps;
        s.hs = kinds[i].hs;
        s.vs = kinds[i].vs;
        s.restart = kinds[i].restart;
        s.quality = 80;

        for (o = 1; o <= 8; o++) {

            /* every orientation on the first kind, two on the others */

            if (i > 0 && o != 1 && o != 6) {
                continue;
            }

            if (!bench && i > 1 && o != 1) {
                continue;
            }

            s.orientation = (o == 1) ? 0 : o;
            base = encode(&s, i * 31 + o);
            prog = progressive(&base, SCRIPT_SIMPLE, 0);
            short_ac = progressive(&base, SCRIPT_AC_SHORT, 0);

            for (pr = 0; pr < 3; pr++) {

                /*
                 * progressive: upright and one orientation of the first
                 * kind, upright of the others; the incomplete one (libjpeg
                 * smooths it) upright only
                 */

                if ((pr == 1 && o != 1 && !(i == 0 && o == 6))
                    || (pr == 2 && (!bench || o != 1)))
                {
                    continue;
                }

                b = (pr == 0) ? &base : (pr == 1) ? &prog : &short_ac;

                for (k = 0; k < sizeof(boxes) / sizeof(boxes[0]); k++) {
                    for (a = 0; a < 360; a += 90) {

                        if (a && (k % 3) != (a / 90) % 3) {
                            continue;
                        }

                        if (!bench && (k > 3 || a)) {
                            continue;
                        }

                        params_init(&p, NGX_TUNNY_IMAGE_OP_CROP,
                                    boxes[k].w, boxes[k].h, a);

                        fast = run(st, b, &p, NGX_TUNNY_IMAGE_FAST_REGION);
                        slow = run(st, b, &p, 0);

                        snprintf(what, sizeof(what),
                                 "%ux%u %s%s%s, orientation %u, crop %u %u, "
                                 "rotate %u", s.w, s.h,
                                 s.comps == 1 ? "grey"
                                 : s.hs == 2 && s.vs == 2 ? "4:2:0"
                                 : s.hs == 2 ? "4:2:2" : "4:4:4",
                                 s.restart ? ", restart" : "",
                                 pr == 1 ? ", progressive"
                                 : pr == 2 ? ", progressive, AC incomplete"
                                 : "", o, boxes[k].w,
                                 boxes[k].h, a);

                        if (!same(&fast, &slow, what)) {
                            ok(0, "%s: region decode = whole frame", what);
                        }

                        n++;
                        taken += !!(fast.fast & NGX_TUNNY_IMAGE_FAST_REGION);

                        if (slow.fast & NGX_TUNNY_IMAGE_FAST_REGION) {
                            ok(0, "%s: region decode when not allowed",
                               what);
                        }

                        out_free(&fast);
                        out_free(&slow);
                    }
                }
            }

            free(short_ac.data);
            free(prog.data);
            free(base.data);
        }
    }

    ok(1, "crop: %u cases compared (a failure is listed above)", n);
    ok(taken * 2 > n, "crop: region decode taken in %u of %u cases", taken,
       n);
}


/* resize and the other operations: the window is the whole image */

static void
test_region_not_crop(ngx_tunny_image_state_t *st)
{
    blob_t                    base;
    out_t                     o;
    spec_t                    s;
    ngx_tunny_image_params_t  p;

    memset(&s, 0, sizeof(spec_t));
    s.w = 800;
    s.h = 600;
    s.comps = 3;
    s.hs = 2;
    s.vs = 2;
    s.quality = 80;

    base = encode(&s, 5);

    params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE, 300, 300, 90);
    o = run(st, &base, &p, NGX_TUNNY_IMAGE_FAST_ALL);

    ok(o.rc == NGX_TUNNY_IMAGE_OK && o.w == 225 && o.h == 300
       && !(o.fast & NGX_TUNNY_IMAGE_FAST_REGION),
       "resize: the whole frame is decoded (%ux%u, fast %u)", o.w, o.h,
       o.fast);

    out_free(&o);
    free(base.data);
}


/*
 * A truncated file is still rejected by crop (the rows below the window
 * are not decoded only when the input ends with an EOI)
 */

static void
test_region_truncated(ngx_tunny_image_state_t *st)
{
    blob_t                    base, cut;
    out_t                     o;
    spec_t                    s;
    ngx_tunny_image_params_t  p;

    memset(&s, 0, sizeof(spec_t));
    s.w = 640;
    s.h = 960;
    s.comps = 3;
    s.hs = 2;
    s.vs = 2;
    s.quality = 80;

    base = encode(&s, 11);

    cut.data = base.data;
    cut.len = base.len * 3 / 4;

    params_init(&p, NGX_TUNNY_IMAGE_OP_CROP, 200, 200, 0);
    o = run(st, &cut, &p, NGX_TUNNY_IMAGE_FAST_ALL);

    ok(o.rc == NGX_TUNNY_IMAGE_EINPUT,
       "crop of a truncated JPEG: still rejected (rc %d: %s)", o.rc,
       o.error);

    out_free(&o);

    o = run(st, &base, &p, NGX_TUNNY_IMAGE_FAST_ALL);

    ok(o.rc == NGX_TUNNY_IMAGE_OK && (o.fast & NGX_TUNNY_IMAGE_FAST_REGION),
       "crop of the whole file: region decode (rc %d, fast %u)", o.rc,
       o.fast);

    out_free(&o);
    free(base.data);
}


/* PNG: files written here, their filters applied by this code */

typedef struct {
    unsigned        w, h, ct;          /* colour type 0, 2 or 6 */
    int             filter;            /* 0..4, or -1: a random one a row */
    size_t          chunk;             /* IDAT data a chunk, 0: one */
    unsigned        seed;
    int             damage;            /* PNG_* below */
    const blob_t   *icc;               /* an iCCP of this profile */
} png_spec_t;

#define PNG_CLEAN       0
#define PNG_BAD_CRC     1              /* of the last IDAT */
#define PNG_FILTER_5    2              /* an unknown filter type */
#define PNG_SHORT       3              /* one row short */
#define PNG_LONG        4              /* one row more */
#define PNG_SPLIT       5              /* a tEXt between two IDAT */
#define PNG_TRNS        6              /* a tRNS (colour key) */
#define PNG_AFTER       7              /* a bad CRC after the IDAT run */


/* the colour types and sizes of the PNG checks */
static const unsigned  png_cts[] = { 0, 2, 6 };
static const unsigned  png_ws[] = { 1, 2, 3, 5, 17, 64, 333 };
static const unsigned  png_hs[] = { 1, 2, 7, 40 };

#define PNG_N(a)  (sizeof(a) / sizeof((a)[0]))


static unsigned
png_channels(unsigned ct)
{
    return ct == 6 ? 4 : ct == 2 ? 3 : 1;
}


static void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}


static void
png_chunk(blob_t *b, const char *type, const unsigned char *data,
    size_t len, int bad_crc)
{
    unsigned char  *p;

    p = b->data + b->len;

    put32(p, (uint32_t) len);
    memcpy(p + 4, type, 4);
    memcpy(p + 8, data, len);
    put32(p + 8 + len, libdeflate_crc32(0, p + 4, len + 4) ^ (bad_crc ? 1 : 0));

    b->len += 12 + len;
}


static unsigned
png_paeth(int a, int b, int c)
{
    int  p, pa, pb, pc;

    p = a + b - c;
    pa = abs(p - a);
    pb = abs(p - b);
    pc = abs(p - c);

    return (pa <= pb && pa <= pc) ? a : (pb <= pc) ? b : c;
}


static blob_t
png_make(const png_spec_t *s)
{
    int                             f;
    size_t                          len, line, size, zlen, i, n, part;
    unsigned                        x, y, ch, rows, r;
    blob_t                          b;
    unsigned char                  *px, *raw, *z, ihdr[13], *cur, *up;
    struct libdeflate_compressor   *c;

    ch = png_channels(s->ct);
    px = photo(s->w, s->h, ch, s->seed);
    len = (size_t) s->w * ch;
    line = len + 1;

    rows = s->h + (s->damage == PNG_LONG ? 1 : 0)
           - (s->damage == PNG_SHORT ? 1 : 0);

    size = line * rows;
    raw = calloc(size + 1, 1);
    z = malloc(size + 1024);
    b.data = malloc(size + 4096 + (s->icc ? s->icc->len + 1024 : 0));

    if (raw == NULL || z == NULL || b.data == NULL) {
        printf("Bail out! out of memory\n");
        exit(1);
    }

    r = s->seed * 7919 + 3;

    for (y = 0; y < rows; y++) {
        r = r * 1103515245u + 12345u;
        f = s->filter >= 0 ? s->filter : (int) ((r >> 16) % 5);

        if (s->damage == PNG_FILTER_5 && y == s->h / 2) {
            f = 5;
        }

        raw[y * line] = (unsigned char) f;

        if (y >= s->h) {
            continue;
        }

        cur = px + (size_t) y * len;
        up = y ? cur - len : NULL;

        for (x = 0; x < len; x++) {
            int  a, bb, cc, v;

            a = x >= ch ? cur[x - ch] : 0;
            bb = up ? up[x] : 0;
            cc = (up && x >= ch) ? up[x - ch] : 0;

            switch (f) {
            case 1: v = cur[x] - a; break;
            case 2: v = cur[x] - bb; break;
            case 3: v = cur[x] - ((a + bb) >> 1); break;
            case 4: v = cur[x] - (int) png_paeth(a, bb, cc); break;
            default: v = cur[x]; break;
            }

            raw[y * line + 1 + x] = (unsigned char) v;
        }
    }

    c = libdeflate_alloc_compressor(6);
    zlen = libdeflate_zlib_compress(c, raw, size, z, size + 1024);

    if (zlen == 0) {
        printf("Bail out! libdeflate_zlib_compress\n");
        exit(1);
    }

    memcpy(b.data, "\211PNG\r\n\032\n", 8);
    b.len = 8;

    put32(ihdr, s->w);
    put32(ihdr + 4, s->h);
    ihdr[8] = 8;
    ihdr[9] = (unsigned char) s->ct;
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    png_chunk(&b, "IHDR", ihdr, 13, 0);

    if (s->icc) {
        unsigned char  *iccp;
        size_t          n;

        n = libdeflate_zlib_compress_bound(c, s->icc->len);
        iccp = malloc(13 + n);
        if (iccp == NULL) {
            printf("Bail out! out of memory\n");
            exit(1);
        }

        memcpy(iccp, "ICC profile\0\0", 13);
        n = libdeflate_zlib_compress(c, s->icc->data, s->icc->len,
                                     iccp + 13, n);
        png_chunk(&b, "iCCP", iccp, 13 + n, 0);
        free(iccp);
    }

    libdeflate_free_compressor(c);

    if (s->damage == PNG_TRNS) {
        static const unsigned char  key[6] = { 0, 60, 0, 60, 0, 60 };

        png_chunk(&b, "tRNS", key, s->ct == 2 ? 6 : 2, 0);
    }

    part = s->chunk ? s->chunk : zlen;

    if (s->damage == PNG_SPLIT && part >= zlen) {
        part = zlen / 2 + 1;
    }

    for (i = 0, n = 0; i < zlen; i += n) {
        n = zlen - i < part ? zlen - i : part;

        png_chunk(&b, "IDAT", z + i, n,
                  s->damage == PNG_BAD_CRC && i + n == zlen);

        if (s->damage == PNG_SPLIT && i == 0) {
            png_chunk(&b, "tEXt", (const unsigned char *) "a\0b", 3, 0);
        }
    }

    png_chunk(&b, "tEXt", (const unsigned char *) "after\0idat", 10,
              s->damage == PNG_AFTER);
    png_chunk(&b, "IEND", (const unsigned char *) "", 0, 0);

    free(px);
    free(raw);
    free(z);

    return b;
}


/*
 * One PNG, decoded whole, then resized to a quarter (shrunk on load and
 * resampled), with the shortcut and without; taken: whether it must be.
 */

static int
png_case(ngx_tunny_image_state_t *st, const png_spec_t *s, int taken,
    const char *what)
{
    int                       good;
    blob_t                    b;
    out_t                     fast, slow;
    unsigned                  pass;
    ngx_tunny_image_params_t  p;

    b = png_make(s);
    good = 1;

    for (pass = 0; pass < 2 && good; pass++) {

        if (pass == 0) {
            /* the whole decoded frame (a rotation: no shrink on load) */
            params_init(&p, 0, 0, 0, 90);

        } else {
            params_init(&p, NGX_TUNNY_IMAGE_OP_RESIZE,
                        (s->w + 3) / 4, (s->h + 3) / 4, 0);
        }

        fast = run(st, &b, &p, NGX_TUNNY_IMAGE_FAST_INFLATE
                               | (pass ? 0 : NGX_TUNNY_IMAGE_DECODED));
        slow = run(st, &b, &p, pass ? 0 : NGX_TUNNY_IMAGE_DECODED);

        if (fast.rc == NGX_TUNNY_IMAGE_ASIS
            && slow.rc == NGX_TUNNY_IMAGE_ASIS)
        {
            /* 1 x 1 resized to 1 x 1: nothing decoded */

        } else if (!!(fast.fast & NGX_TUNNY_IMAGE_FAST_INFLATE) != taken) {
            diag("%s %ux%u ct %u filter %d chunk %zu: shortcut %s", what,
                 s->w, s->h, s->ct, s->filter, s->chunk,
                 taken ? "not taken" : "taken");
            good = 0;

        } else if (fast.rc != NGX_TUNNY_IMAGE_OK
                   || slow.rc != NGX_TUNNY_IMAGE_OK)
        {
            if (fast.rc != slow.rc || strcmp(fast.error, slow.error) != 0) {
                diag("%s: rc %d (%s) / %d (%s)", what, fast.rc, fast.error,
                     slow.rc, slow.error);
                good = 0;
            }

        } else {
            good = same(&fast, &slow, what);
        }

        out_free(&fast);
        out_free(&slow);
    }

    free(b.data);

    return good;
}


static void
test_png_inflate(ngx_tunny_image_state_t *st)
{
    int                 good, filter;
    unsigned            ct, wi, hi, v, n;
    png_spec_t          s;
    static const char     *fname[] = { "none", "sub", "up", "avg", "paeth" };

    for (v = 0; v < 2; v++) {
        ngx_tunny_image_vector_max(v ? NGX_TUNNY_IMAGE_VECTOR_NONE
                                     : NGX_TUNNY_IMAGE_VECTOR_AVX2);

        for (ct = 0; ct < PNG_N(png_cts); ct++) {
            for (filter = -1; filter <= 4; filter++) {
                good = 1;
                n = 0;

                for (wi = 0; wi < PNG_N(png_ws); wi++) {
                    for (hi = 0; hi < PNG_N(png_hs); hi++) {
                        memset(&s, 0, sizeof(png_spec_t));
                        s.w = png_ws[wi];
                        s.h = png_hs[hi];
                        s.ct = png_cts[ct];
                        s.filter = filter;
                        s.chunk = (wi + hi) % 3 == 0 ? 0 : 7 + 100 * hi;
                        s.seed = wi * 31 + hi * 7 + ct;

                        good &= png_case(st, &s, 1, "inflate");
                        n++;
                    }
                }

                ok(good, "PNG inflate, %s, colour type %u, filter %s: "
                   "%u sizes as libspng", v ? "scalar" : "SSE2", png_cts[ct],
                   filter < 0 ? "random" : fname[filter], n);
            }
        }
    }

    ngx_tunny_image_vector_max(NGX_TUNNY_IMAGE_VECTOR_AVX2);
}


static void
test_png_declined(ngx_tunny_image_state_t *st)
{
    int                 d;
    unsigned            ct;
    png_spec_t          s;
    static const char  *dname[] = { "clean", "bad IDAT CRC", "filter 5",
                                    "a row short", "a row long",
                                    "IDAT split by tEXt", "tRNS" };

    for (d = PNG_BAD_CRC; d <= PNG_TRNS; d++) {
        for (ct = 0; ct <= 2; ct += 2) {
            memset(&s, 0, sizeof(png_spec_t));
            s.w = 90;
            s.h = 60;
            s.ct = ct;
            s.filter = -1;
            s.chunk = 500;
            s.seed = (unsigned) d;
            s.damage = d;

            ok(png_case(st, &s, 0, dname[d]),
               "PNG %s, colour type %u: left to libspng, its answer",
               dname[d], ct);
        }
    }
}


/*
 * Damage after the image data: libspng does not stop at a bad CRC there
 * (it reads no further than the last row), and the shortcut does not look
 */

static void
test_png_after(ngx_tunny_image_state_t *st)
{
    png_spec_t  s;

    memset(&s, 0, sizeof(png_spec_t));
    s.w = 90;
    s.h = 60;
    s.ct = 6;
    s.filter = -1;
    s.seed = 5;
    s.damage = PNG_AFTER;

    ok(png_case(st, &s, 1, "after IDAT"),
       "PNG with a bad CRC after IDAT: the shortcut taken, libspng's "
       "pixels");
}


/* a PNG decoded by libspng: its pixels as stored, its profile */

typedef struct {
    int                 rc;
    struct spng_ihdr    ihdr;
    unsigned char      *px;
    size_t              n;
    unsigned char      *icc;
    size_t              icc_len;
} png_read_t;


static png_read_t
png_read(const unsigned char *data, size_t len)
{
    spng_ctx          *ctx;
    png_read_t         r;
    struct spng_iccp   iccp;

    memset(&r, 0, sizeof(png_read_t));

    ctx = spng_ctx_new(0);
    if (ctx == NULL) {
        printf("Bail out! spng_ctx_new\n");
        exit(1);
    }

    r.rc = spng_set_png_buffer(ctx, data, len);

    if (r.rc == 0) {
        r.rc = spng_get_ihdr(ctx, &r.ihdr);
    }

    if (r.rc == 0) {
        r.rc = spng_decoded_image_size(ctx, SPNG_FMT_PNG, &r.n);
    }

    if (r.rc == 0) {
        r.px = malloc(r.n);
        if (r.px == NULL) {
            printf("Bail out! out of memory\n");
            exit(1);
        }

        r.rc = spng_decode_image(ctx, r.px, r.n, SPNG_FMT_PNG, 0);
    }

    if (r.rc == 0 && spng_get_iccp(ctx, &iccp) == 0) {
        r.icc = malloc(iccp.profile_len);
        if (r.icc == NULL) {
            printf("Bail out! out of memory\n");
            exit(1);
        }

        memcpy(r.icc, iccp.profile, iccp.profile_len);
        r.icc_len = iccp.profile_len;
    }

    spng_ctx_free(ctx);

    return r;
}


/* 1 when a and b are the same image with the same profile */

static int
png_same(const png_read_t *a, const png_read_t *b, const char *what)
{
    if (a->rc != 0 || b->rc != 0) {
        diag("%s: libspng: %s / %s", what, spng_strerror(a->rc),
             spng_strerror(b->rc));
        return 0;
    }

    if (a->ihdr.width != b->ihdr.width || a->ihdr.height != b->ihdr.height
        || a->ihdr.color_type != b->ihdr.color_type
        || a->ihdr.bit_depth != b->ihdr.bit_depth
        || a->ihdr.interlace_method != b->ihdr.interlace_method)
    {
        diag("%s: IHDR %ux%u type %u depth %u / %ux%u type %u depth %u",
             what, a->ihdr.width, a->ihdr.height, a->ihdr.color_type,
             a->ihdr.bit_depth, b->ihdr.width, b->ihdr.height,
             b->ihdr.color_type, b->ihdr.bit_depth);
        return 0;
    }

    if (a->n != b->n || memcmp(a->px, b->px, a->n) != 0) {
        diag("%s: other pixels", what);
        return 0;
    }

    if (a->icc_len != b->icc_len
        || (a->icc_len && memcmp(a->icc, b->icc, a->icc_len) != 0))
    {
        diag("%s: profile of %zu / %zu bytes", what, a->icc_len,
             b->icc_len);
        return 0;
    }

    return 1;
}


static void
png_read_free(png_read_t *r)
{
    free(r->px);
    free(r->icc);
}


/*
 * One PNG turned by 90 degrees into a PNG at level: our writer's file
 * (taken: whether it must be ours) against libspng's, decoded by
 * libspng; our SSE2 filters' bytes against the scalar ones'
 */

static int
deflate_case(ngx_tunny_image_state_t *st, const png_spec_t *s, int level,
    int taken, const char *what)
{
    int                       good, rc[3];
    blob_t                    b;
    png_read_t                a, z;
    ngx_tunny_image_params_t  p;
    ngx_tunny_image_result_t  ours, scalar, spng;

    b = png_make(s);
    good = 1;

    params_init(&p, 0, 0, 0, 90);
    p.out_type = NGX_TUNNY_IMAGE_PNG;
    p.png_compression = level;
    p.colour = NGX_TUNNY_IMAGE_COLOUR_KEEP;

    rc[0] = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &ours);

    ngx_tunny_image_vector_max(NGX_TUNNY_IMAGE_VECTOR_NONE);
    rc[1] = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &scalar);
    ngx_tunny_image_vector_max(NGX_TUNNY_IMAGE_VECTOR_AVX2);

    p.fast_off = NGX_TUNNY_IMAGE_FAST_DEFLATE;
    rc[2] = ngx_tunny_image_process(st, b.data, b.len, NULL, &p, &spng);

    if (rc[0] != NGX_TUNNY_IMAGE_OK || rc[1] != NGX_TUNNY_IMAGE_OK
        || rc[2] != NGX_TUNNY_IMAGE_OK)
    {
        diag("%s %ux%u ct %u level %d: rc %d (%s) / %d / %d (%s)", what,
             s->w, s->h, s->ct, level, rc[0], ours.error, rc[1], rc[2],
             spng.error);
        good = 0;

    } else if (!!(ours.fast & NGX_TUNNY_IMAGE_FAST_DEFLATE) != taken
               || (spng.fast & NGX_TUNNY_IMAGE_FAST_DEFLATE))
    {
        diag("%s %ux%u ct %u level %d: writer %s", what, s->w, s->h, s->ct,
             level, taken ? "not taken" : "taken");
        good = 0;

    } else if (ours.len != scalar.len
               || memcmp(ours.data, scalar.data, ours.len) != 0)
    {
        diag("%s %ux%u ct %u level %d: SSE2 %zu bytes, scalar %zu", what,
             s->w, s->h, s->ct, level, ours.len, scalar.len);
        good = 0;

    } else {
        a = png_read(ours.data, ours.len);
        z = png_read(spng.data, spng.len);

        good = png_same(&a, &z, what);

        if (good && s->icc
            && (a.icc_len != s->icc->len
                || memcmp(a.icc, s->icc->data, a.icc_len) != 0))
        {
            diag("%s: the source's profile not kept", what);
            good = 0;
        }

        png_read_free(&a);
        png_read_free(&z);
    }

    if (rc[0] == NGX_TUNNY_IMAGE_OK) {
        free(ours.data);
    }

    if (rc[1] == NGX_TUNNY_IMAGE_OK) {
        free(scalar.data);
    }

    if (rc[2] == NGX_TUNNY_IMAGE_OK) {
        free(spng.data);
    }

    free(b.data);

    return good;
}


static void
test_png_deflate(ngx_tunny_image_state_t *st)
{
    int                    good;
    blob_t                 icc[2];
    size_t                 len;
    unsigned               ct, wi, hi, li, n;
    png_spec_t             s;
    static const int       levels[] = { 0, 1, 6, 9 };

    for (ct = 0; ct < PNG_N(png_cts); ct++) {
        for (li = 0; li < 4; li++) {
            good = 1;
            n = 0;

            for (wi = 0; wi < PNG_N(png_ws); wi++) {
                for (hi = 0; hi < PNG_N(png_hs); hi++) {
                    memset(&s, 0, sizeof(png_spec_t));
                    s.w = png_ws[wi];
                    s.h = png_hs[hi];
                    s.ct = png_cts[ct];
                    s.filter = -1;
                    s.seed = wi * 17 + hi * 5 + ct;

                    good &= deflate_case(st, &s, levels[li],
                                         levels[li] <= 6, "deflate");
                    n++;
                }
            }

            ok(good, "PNG writer, colour type %u, level %d: %u sizes, %s",
               png_cts[ct], levels[li], n, levels[li] <= 6
               ? "libspng's pixels, SSE2 and scalar the same bytes"
               : "libspng's file");
        }
    }

    /* the size limit: 512 x 512 pixels (of the turned image) */

    for (ct = 0; ct < PNG_N(png_cts); ct++) {
        memset(&s, 0, sizeof(png_spec_t));
        s.ct = png_cts[ct];
        s.filter = -1;
        s.seed = ct;
        s.w = 300;
        s.h = 512 * 512 / s.w;

        good = deflate_case(st, &s, 6, 1, "limit");

        s.h++;
        good &= deflate_case(st, &s, 6, 0, "limit + 1");

        ok(good, "PNG writer, colour type %u: %ux%u ours, %ux%u libspng's",
           png_cts[ct], s.h - 1, s.w, s.h, s.w);
    }

    /* the profile: iCCP kept (tunny_image_colour keep) */

    icc[0].data = icc_save(icc_gray18(NULL), &len);
    icc[0].len = len;
    icc[1].data = icc_save(icc_adobe(NULL), &len);
    icc[1].len = len;

    if (icc[0].data == NULL || icc[1].data == NULL) {
        printf("Bail out! icc_save\n");
        exit(1);
    }

    for (ct = 0; ct < PNG_N(png_cts); ct++) {
        memset(&s, 0, sizeof(png_spec_t));
        s.w = 64;
        s.h = 40;
        s.ct = png_cts[ct];
        s.filter = -1;
        s.seed = 11 + ct;
        s.icc = &icc[ct ? 1 : 0];

        ok(deflate_case(st, &s, 6, 1, "iCCP"),
           "PNG writer, colour type %u: the iCCP profile of %lu bytes kept",
           png_cts[ct], s.icc->len);
    }

    free(icc[0].data);
    free(icc[1].data);
}


int
main(int argc, char **argv)
{
    ngx_tunny_image_state_t  *st;

    tap_init();

    st = ngx_tunny_image_state_create();
    if (st == NULL) {
        printf("Bail out! state_create\n");
        return 1;
    }

    test_dc_only(st);
    test_dc_long_codes(st);

    if (argc > 1) {
        test_dc_fixtures(st, argv[1]);
    }

    test_region(st);
    test_region_not_crop(st);
    test_region_truncated(st);
    test_png_inflate(st);
    test_png_declined(st);
    test_png_after(st);
    test_png_deflate(st);

    ngx_tunny_image_state_destroy(st);

    return tap_done();
}
