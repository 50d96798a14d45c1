
/*
 * ngx_tunny_module: nginx-free image processing (see ngx_tunny_image.h).
 *
 * JPEG through the libjpeg API of libjpeg-turbo (DCT scaling, scanline
 * cancellation checkpoints, ICC, setjmp error handling), WebP through
 * libwebp (built-in scaling, progress hook), a separable Catmull-Rom
 * resampler, orthogonal transforms for EXIF orientation and rotation.
 * No global mutable state: everything lives in the per-thread state or on
 * the stack of one call.
 */


#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <jpeglib.h>
#include <jerror.h>

#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/mux.h>
#include <webp/demux.h>

#include "ngx_tunny_image.h"


#define NGX_TUNNY_IMAGE_LINES       16      /* rows between cancel checks */
#define NGX_TUNNY_IMAGE_MAX_SCANS   1000    /* progressive JPEG scans */
#define NGX_TUNNY_IMAGE_WEBP_CHUNK  65536   /* bytes fed per WebP step */
#define NGX_TUNNY_IMAGE_WEBP_MAX    16383
#define NGX_TUNNY_IMAGE_JPEG_MAX    65500
#define NGX_TUNNY_IMAGE_FP          14      /* resampler weight bits */

/* scratch buffers of the state */
#define NGX_TUNNY_IMAGE_BUF_DEC     0       /* decoded pixels */
#define NGX_TUNNY_IMAGE_BUF_A       1       /* pipeline ping */
#define NGX_TUNNY_IMAGE_BUF_B       2       /* pipeline pong */
#define NGX_TUNNY_IMAGE_BUF_TMP     3       /* resampler intermediate */
#define NGX_TUNNY_IMAGE_BUF_WTS     4       /* resampler weights, accum */
#define NGX_TUNNY_IMAGE_BUF_ROW     5       /* CMYK rows */
#define NGX_TUNNY_IMAGE_BUF_OUT     6       /* encoder output */
#define NGX_TUNNY_IMAGE_NBUFS       7


typedef struct {
    unsigned char                  *data;
    size_t                          size;
} ngx_tunny_image_buf_t;


struct ngx_tunny_image_state_s {
    ngx_tunny_image_buf_t           buf[NGX_TUNNY_IMAGE_NBUFS];
};


typedef struct {
    ngx_tunny_image_info_t          info;
    size_t                          app_bytes;     /* JPEG APPn segments */
    unsigned                        vp8x_flags;
    const char                     *error;         /* why no dimensions */
} ngx_tunny_image_probe_t;


typedef struct {
    unsigned char                  *data;
    unsigned                        width;
    unsigned                        height;
    unsigned                        channels;      /* 1, 3 or 4 */
    size_t                          stride;
    int                             buf;           /* state buffer index */
} ngx_tunny_image_pix_t;


/* src.x = xx * x + xy * y + x0; src.y = yx * x + yy * y + y0 */
typedef struct {
    long                            xx, xy, x0;
    long                            yx, yy, y0;
} ngx_tunny_image_map_t;


typedef struct {
    unsigned                        uw, uh;        /* upright input */
    unsigned                        rw, rh;        /* upright, resized */
    unsigned                        fw, fh;        /* after the rotation */
    unsigned                        cx, cy;        /* cut window */
    unsigned                        cw, ch;
    unsigned                        tw, th;        /* stored orientation */
} ngx_tunny_image_geo_t;


typedef struct {
    struct jpeg_error_mgr           pub;
    jmp_buf                         jmp;
    const int                      *cancel;
    int                             rc;
    char                            msg[JMSG_LENGTH_MAX];
} ngx_tunny_image_jerr_t;


typedef struct {
    struct jpeg_destination_mgr     pub;
    ngx_tunny_image_buf_t          *buf;
    size_t                          used;
} ngx_tunny_image_jdest_t;


typedef struct {
    ngx_tunny_image_state_t        *st;
    const ngx_tunny_image_params_t *params;
    ngx_tunny_image_result_t       *res;
    const unsigned char            *in;
    size_t                          len;

    ngx_tunny_image_probe_t         probe;
    ngx_tunny_image_geo_t           geo;
    int                             out_type;

    unsigned char                  *icc;           /* malloc()ed */
    unsigned int                    icc_len;

    ngx_tunny_image_pix_t           pix;

    /* libjpeg objects live here, not in a frame that calls setjmp() */
    struct jpeg_decompress_struct   dinfo;
    struct jpeg_compress_struct     cinfo;
    ngx_tunny_image_jerr_t          jerr;
    struct jpeg_progress_mgr        jprogress;
    ngx_tunny_image_jdest_t         jdest;
    int                             jcreated;
} ngx_tunny_image_job_t;


static int ngx_tunny_image_error(ngx_tunny_image_result_t *res, int rc,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;


/* helpers */

static int
ngx_tunny_image_error(ngx_tunny_image_result_t *res, int rc,
    const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(res->error, sizeof(res->error), fmt, args);
    va_end(args);

    return rc;
}


static int
ngx_tunny_image_cancelled(const int *cancel)
{
    return cancel != NULL && __atomic_load_n(cancel, __ATOMIC_RELAXED);
}


static unsigned
ngx_tunny_image_be16(const unsigned char *p)
{
    return (unsigned) p[0] << 8 | p[1];
}


static unsigned
ngx_tunny_image_le16(const unsigned char *p)
{
    return (unsigned) p[1] << 8 | p[0];
}


static uint32_t
ngx_tunny_image_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}


static uint32_t
ngx_tunny_image_le32(const unsigned char *p)
{
    return (uint32_t) p[3] << 24 | (uint32_t) p[2] << 16
           | (uint32_t) p[1] << 8 | p[0];
}


static uint32_t
ngx_tunny_image_le24(const unsigned char *p)
{
    return (uint32_t) p[2] << 16 | (uint32_t) p[1] << 8 | p[0];
}


static unsigned char *
ngx_tunny_image_buf_get(ngx_tunny_image_state_t *st, int i, size_t size)
{
    ngx_tunny_image_buf_t  *b;

    b = &st->buf[i];

    if (b->data != NULL && b->size >= size) {
        return b->data;
    }

    free(b->data);

    /* round up a little so that slightly bigger jobs reuse the buffer */
    size = (size + 65535) & ~(size_t) 65535;

    b->data = malloc(size);
    b->size = b->data ? size : 0;

    return b->data;
}


static int
ngx_tunny_image_buf_grow(ngx_tunny_image_buf_t *b, size_t size)
{
    unsigned char  *p;

    if (b->size >= size) {
        return 0;
    }

    p = realloc(b->data, size);
    if (p == NULL) {
        return -1;
    }

    b->data = p;
    b->size = size;

    return 0;
}


/* public: names */

const char *
ngx_tunny_image_type_name(int type)
{
    switch (type) {
    case NGX_TUNNY_IMAGE_JPEG:
        return "jpeg";
    case NGX_TUNNY_IMAGE_WEBP:
        return "webp";
    case NGX_TUNNY_IMAGE_PNG:
        return "png";
    case NGX_TUNNY_IMAGE_GIF:
        return "gif";
    default:
        return "";
    }
}


const char *
ngx_tunny_image_mime_type(int type)
{
    switch (type) {
    case NGX_TUNNY_IMAGE_JPEG:
        return "image/jpeg";
    case NGX_TUNNY_IMAGE_WEBP:
        return "image/webp";
    case NGX_TUNNY_IMAGE_PNG:
        return "image/png";
    case NGX_TUNNY_IMAGE_GIF:
        return "image/gif";
    default:
        return "";
    }
}


/* probe */

static int
ngx_tunny_image_exif_orientation(const unsigned char *p, size_t len)
{
    int       le;
    size_t    ifd, n, i;
    unsigned  v;
    uint32_t  off;

    /* p points to the TIFF header inside "Exif\0\0" */

    if (len < 8) {
        return 1;
    }

    if (p[0] == 'I' && p[1] == 'I') {
        le = 1;

    } else if (p[0] == 'M' && p[1] == 'M') {
        le = 0;

    } else {
        return 1;
    }

    if ((le ? ngx_tunny_image_le16(p + 2) : ngx_tunny_image_be16(p + 2))
        != 42)
    {
        return 1;
    }

    off = le ? ngx_tunny_image_le32(p + 4) : ngx_tunny_image_be32(p + 4);

    if (off < 8 || off > len - 2) {
        return 1;
    }

    ifd = off;
    n = le ? ngx_tunny_image_le16(p + ifd) : ngx_tunny_image_be16(p + ifd);

    if (n > (len - ifd - 2) / 12) {
        n = (len - ifd - 2) / 12;
    }

    for (i = 0; i < n; i++) {
        const unsigned char  *e = p + ifd + 2 + 12 * i;

        v = le ? ngx_tunny_image_le16(e) : ngx_tunny_image_be16(e);
        if (v != 0x0112) {
            continue;
        }

        /* type SHORT, count 1; the value is left-justified in the field */

        v = le ? ngx_tunny_image_le16(e + 2) : ngx_tunny_image_be16(e + 2);
        if (v != 3) {
            return 1;
        }

        v = le ? ngx_tunny_image_le16(e + 8) : ngx_tunny_image_be16(e + 8);

        return (v >= 1 && v <= 8) ? (int) v : 1;
    }

    return 1;
}


static int
ngx_tunny_image_probe_jpeg(const unsigned char *p, size_t len,
    ngx_tunny_image_probe_t *pr)
{
    int     exif;
    size_t  pos, seg;
    unsigned  m;

    exif = 0;
    pos = 2;

    while (pos < len) {

        if (p[pos] != 0xff) {
            /* garbage between markers, libjpeg skips it too */
            pos++;
            continue;
        }

        while (pos < len && p[pos] == 0xff) {
            pos++;
        }

        if (pos >= len) {
            break;
        }

        m = p[pos++];

        if (m == 0x00 || m == 0x01 || (m >= 0xd0 && m <= 0xd8)) {
            /* no length: stuffing, TEM, RSTn, SOI */
            continue;
        }

        if (m == 0xd9 || m == 0xda) {
            pr->error = "JPEG without a frame header";
            return 0;
        }

        if (len - pos < 2) {
            break;
        }

        seg = ngx_tunny_image_be16(p + pos);
        if (seg < 2) {
            pr->error = "bad JPEG marker length";
            return 0;
        }

        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {

            /* SOFn: length, precision, height, width, components */

            if (seg < 8) {
                pr->error = "bad JPEG frame header";
                return 0;
            }

            if (len - pos < 7) {
                break;
            }

            pr->info.height = ngx_tunny_image_be16(p + pos + 3);
            pr->info.width = ngx_tunny_image_be16(p + pos + 5);

            return 1;
        }

        if (m >= 0xe0 && m <= 0xef) {
            pr->app_bytes += seg + 2;

            if (m == 0xe1 && !exif && seg >= 8 && len - pos >= seg
                && memcmp(p + pos + 2, "Exif\0\0", 6) == 0)
            {
                exif = 1;
                pr->info.orientation =
                    ngx_tunny_image_exif_orientation(p + pos + 8, seg - 8);
            }
        }

        if (len - pos < seg) {
            break;
        }

        pos += seg;
    }

    pr->error = "truncated JPEG header";

    return 0;
}


static int
ngx_tunny_image_probe_webp(const unsigned char *p, size_t len,
    ngx_tunny_image_probe_t *pr)
{
    uint32_t  bits;

    if (len < 30 && !(len >= 25 && memcmp(p + 12, "VP8L", 4) == 0)) {
        pr->error = "truncated WebP header";
        return 0;
    }

    if (memcmp(p + 12, "VP8 ", 4) == 0) {
        if (p[23] != 0x9d || p[24] != 0x01 || p[25] != 0x2a) {
            pr->error = "bad VP8 frame header";
            return 0;
        }

        pr->info.width = ngx_tunny_image_le16(p + 26) & 0x3fff;
        pr->info.height = ngx_tunny_image_le16(p + 28) & 0x3fff;

        return 1;
    }

    if (memcmp(p + 12, "VP8L", 4) == 0) {
        if (p[20] != 0x2f) {
            pr->error = "bad VP8L header";
            return 0;
        }

        bits = ngx_tunny_image_le32(p + 21);
        pr->info.width = (bits & 0x3fff) + 1;
        pr->info.height = ((bits >> 14) & 0x3fff) + 1;

        return 1;
    }

    if (memcmp(p + 12, "VP8X", 4) == 0) {
        pr->vp8x_flags = p[20];
        pr->info.width = ngx_tunny_image_le24(p + 24) + 1;
        pr->info.height = ngx_tunny_image_le24(p + 27) + 1;

        return 1;
    }

    pr->error = "unknown WebP chunk";

    return 0;
}


static int
ngx_tunny_image_probe_ex(const unsigned char *p, size_t len,
    ngx_tunny_image_probe_t *pr)
{
    memset(pr, 0, sizeof(ngx_tunny_image_probe_t));
    pr->info.orientation = 1;
    pr->error = "not an image";

    if (p == NULL || len < 3) {
        return 0;
    }

    if (p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        pr->info.type = NGX_TUNNY_IMAGE_JPEG;
        return ngx_tunny_image_probe_jpeg(p, len, pr);
    }

    if (len >= 12 && memcmp(p, "RIFF", 4) == 0
        && memcmp(p + 8, "WEBP", 4) == 0)
    {
        pr->info.type = NGX_TUNNY_IMAGE_WEBP;
        return ngx_tunny_image_probe_webp(p, len, pr);
    }

    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
        pr->info.type = NGX_TUNNY_IMAGE_PNG;

        if (len < 24 || memcmp(p + 12, "IHDR", 4) != 0) {
            pr->error = "truncated PNG header";
            return 0;
        }

        pr->info.width = ngx_tunny_image_be32(p + 16);
        pr->info.height = ngx_tunny_image_be32(p + 20);

        return 1;
    }

    if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0
                     || memcmp(p, "GIF89a", 6) == 0))
    {
        pr->info.type = NGX_TUNNY_IMAGE_GIF;

        if (len < 10) {
            pr->error = "truncated GIF header";
            return 0;
        }

        pr->info.width = ngx_tunny_image_le16(p + 6);
        pr->info.height = ngx_tunny_image_le16(p + 8);

        return 1;
    }

    return 0;
}


int
ngx_tunny_image_probe(const unsigned char *in, size_t len,
    ngx_tunny_image_info_t *info)
{
    ngx_tunny_image_probe_t  pr;

    if (!ngx_tunny_image_probe_ex(in, len, &pr)
        || pr.info.width == 0 || pr.info.height == 0)
    {
        memset(info, 0, sizeof(ngx_tunny_image_info_t));
        info->orientation = 1;
        return NGX_TUNNY_IMAGE_NONE;
    }

    *info = pr.info;

    return info->type;
}


unsigned
ngx_tunny_image_dct_scale(unsigned src_w, unsigned src_h, unsigned need_w,
    unsigned need_h)
{
    unsigned  n;

    /* libjpeg: output = ceil(input * n / 8) */

    for (n = 1; n < 8; n++) {
        if (((uint64_t) src_w * n + 7) / 8 >= need_w
            && ((uint64_t) src_h * n + 7) / 8 >= need_h)
        {
            return n;
        }
    }

    return 8;
}


/* state */

ngx_tunny_image_state_t *
ngx_tunny_image_state_create(void)
{
    return calloc(1, sizeof(ngx_tunny_image_state_t));
}


void
ngx_tunny_image_state_destroy(ngx_tunny_image_state_t *st)
{
    int  i;

    if (st == NULL) {
        return;
    }

    for (i = 0; i < NGX_TUNNY_IMAGE_NBUFS; i++) {
        free(st->buf[i].data);
    }

    free(st);
}


void
ngx_tunny_image_state_trim(ngx_tunny_image_state_t *st, size_t cap)
{
    int  i;

    if (st == NULL) {
        return;
    }

    for (i = 0; i < NGX_TUNNY_IMAGE_NBUFS; i++) {
        if (st->buf[i].size > cap) {
            free(st->buf[i].data);
            st->buf[i].data = NULL;
            st->buf[i].size = 0;
        }
    }
}


/* geometry, image_filter semantics */

static void
ngx_tunny_image_geometry(const ngx_tunny_image_params_t *p, int orientation,
    unsigned sw, unsigned sh, ngx_tunny_image_geo_t *g)
{
    uint64_t  dx, dy, mw, mh;

    if (orientation >= 5) {
        g->uw = sh;
        g->uh = sw;

    } else {
        g->uw = sw;
        g->uh = sh;
    }

    dx = g->uw;
    dy = g->uh;
    mw = p->width;
    mh = p->height;

    if (p->ops & NGX_TUNNY_IMAGE_OP_RESIZE) {

        if (mw && dx > mw) {
            dy = dy * mw / dx;
            dy = dy ? dy : 1;
            dx = mw;
        }

        if (mh && dy > mh) {
            dx = dx * mh / dy;
            dx = dx ? dx : 1;
            dy = mh;
        }

    } else if ((p->ops & NGX_TUNNY_IMAGE_OP_CROP) && mw && mh) {

        /* cover the box; with "-" in a dimension crop only cuts */

        if (dx * mh < mw * dy) {
            if (dx > mw) {
                dy = dy * mw / dx;
                dy = dy ? dy : 1;
                dx = mw;
            }

        } else {
            if (dy > mh) {
                dx = dx * mh / dy;
                dx = dx ? dx : 1;
                dy = mh;
            }
        }
    }

    g->rw = (unsigned) dx;
    g->rh = (unsigned) dy;

    if (p->angle == 90 || p->angle == 270) {
        g->fw = g->rh;
        g->fh = g->rw;

    } else {
        g->fw = g->rw;
        g->fh = g->rh;
    }

    /* image_filter cuts after the rotation */

    g->cx = 0;
    g->cy = 0;
    g->cw = g->fw;
    g->ch = g->fh;

    if (p->ops & NGX_TUNNY_IMAGE_OP_CROP) {
        if (mw && g->fw > mw) {
            g->cx = (g->fw - (unsigned) mw) / 2;
            g->cw = (unsigned) mw;
        }

        if (mh && g->fh > mh) {
            g->cy = (g->fh - (unsigned) mh) / 2;
            g->ch = (unsigned) mh;
        }
    }

    if (orientation >= 5) {
        g->tw = g->rh;
        g->th = g->rw;

    } else {
        g->tw = g->rw;
        g->th = g->rh;
    }
}


/* JPEG: error handling shared by decoder and encoder */

static void
ngx_tunny_image_jpeg_error_exit(j_common_ptr cinfo)
{
    ngx_tunny_image_jerr_t  *jerr;

    jerr = (ngx_tunny_image_jerr_t *) cinfo->err;

    if (jerr->pub.msg_code == JERR_OUT_OF_MEMORY) {
        jerr->rc = NGX_TUNNY_IMAGE_ENOMEM;
    }

    (*cinfo->err->format_message)(cinfo, jerr->msg);

    longjmp(jerr->jmp, 1);
}


static void
ngx_tunny_image_jpeg_emit_message(j_common_ptr cinfo, int level)
{
    ngx_tunny_image_jerr_t  *jerr;

    jerr = (ngx_tunny_image_jerr_t *) cinfo->err;

    if (level >= 0) {
        /* trace messages */
        return;
    }

    jerr->pub.num_warnings++;

    /*
     * As libgd, corrupt-data warnings (extraneous bytes, bad Huffman codes)
     * are tolerated; but running out of data, or a marker in the middle of
     * the entropy-coded data, means a truncated file: libjpeg would pad it
     * with grey and, worse, can pass rows of its own uninitialised buffers
     * through (stale heap memory, maybe from another request's image).
     */

    if (jerr->pub.msg_code == JWRN_JPEG_EOF
        || jerr->pub.msg_code == JWRN_HIT_MARKER)
    {
        (*cinfo->err->format_message)(cinfo, jerr->msg);
        longjmp(jerr->jmp, 1);
    }
}


static void
ngx_tunny_image_jpeg_progress(j_common_ptr cinfo)
{
    ngx_tunny_image_jerr_t  *jerr;

    jerr = (ngx_tunny_image_jerr_t *) cinfo->err;

    if (ngx_tunny_image_cancelled(jerr->cancel)) {
        jerr->rc = NGX_TUNNY_IMAGE_ECANCEL;
        snprintf(jerr->msg, sizeof(jerr->msg), "cancelled");
        longjmp(jerr->jmp, 1);
    }

    if (cinfo->is_decompressor
        && ((j_decompress_ptr) cinfo)->input_scan_number
           > NGX_TUNNY_IMAGE_MAX_SCANS)
    {
        snprintf(jerr->msg, sizeof(jerr->msg), "too many scans");
        longjmp(jerr->jmp, 1);
    }
}


static void
ngx_tunny_image_jpeg_err_init(ngx_tunny_image_job_t *job)
{
    ngx_tunny_image_jerr_t  *jerr;

    jerr = &job->jerr;

    jpeg_std_error(&jerr->pub);
    jerr->pub.error_exit = ngx_tunny_image_jpeg_error_exit;
    jerr->pub.emit_message = ngx_tunny_image_jpeg_emit_message;
    jerr->cancel = job->params->cancel;
    jerr->rc = NGX_TUNNY_IMAGE_EINPUT;
    jerr->msg[0] = '\0';

    memset(&job->jprogress, 0, sizeof(struct jpeg_progress_mgr));
    job->jprogress.progress_monitor = ngx_tunny_image_jpeg_progress;

    job->jcreated = 0;
}


static int
ngx_tunny_image_jpeg_decode_failed(ngx_tunny_image_job_t *job)
{
    if (job->jcreated) {
        jpeg_destroy_decompress(&job->dinfo);
        job->jcreated = 0;
    }

    switch (job->jerr.rc) {

    case NGX_TUNNY_IMAGE_ECANCEL:
        return ngx_tunny_image_error(job->res, job->jerr.rc, "cancelled");

    case NGX_TUNNY_IMAGE_ENOMEM:
        return ngx_tunny_image_error(job->res, job->jerr.rc,
                                     "out of memory decoding JPEG");

    case NGX_TUNNY_IMAGE_ELIMIT:
        /* res->error set already */
        return job->jerr.rc;

    default:
        return ngx_tunny_image_error(job->res, job->jerr.rc,
                                     "truncated or corrupt JPEG: %s",
                                     job->jerr.msg);
    }
}


static int
ngx_tunny_image_icc_matches(const unsigned char *icc, size_t len,
    unsigned channels)
{
    const char  *cs;

    /* profile data colour space at offset 16 must match the pixels */

    if (icc == NULL || len < 132 || memcmp(icc + 36, "acsp", 4) != 0) {
        return 0;
    }

    cs = (channels == 1) ? "GRAY" : "RGB ";

    return memcmp(icc + 16, cs, 4) == 0;
}


static void
ngx_tunny_image_cmyk_to_rgb(const unsigned char *s, unsigned char *d,
    unsigned n, int inverted)
{
    unsigned  i, c, m, y, k;

    for (i = 0; i < n; i++) {
        c = s[0];
        m = s[1];
        y = s[2];
        k = s[3];

        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }

        /* Adobe stores inverted values: 255 means no ink */

        d[0] = (unsigned char) ((c * k + 127) / 255);
        d[1] = (unsigned char) ((m * k + 127) / 255);
        d[2] = (unsigned char) ((y * k + 127) / 255);

        s += 4;
        d += 3;
    }
}


static int
ngx_tunny_image_jpeg_decode(ngx_tunny_image_job_t *job)
{
    unsigned                        i, n, cmyk;
    size_t                          stride;
    JSAMPROW                        rows[NGX_TUNNY_IMAGE_LINES];
    unsigned char                  *data, *row;
    uint64_t                        pixels;
    j_decompress_ptr                dinfo;

    dinfo = &job->dinfo;

    ngx_tunny_image_jpeg_err_init(job);

    if (setjmp(job->jerr.jmp)) {
        return ngx_tunny_image_jpeg_decode_failed(job);
    }

    dinfo->err = &job->jerr.pub;
    jpeg_create_decompress(dinfo);
    job->jcreated = 1;

    dinfo->progress = &job->jprogress;

    jpeg_mem_src(dinfo, job->in, (unsigned long) job->len);
    jpeg_save_markers(dinfo, JPEG_APP0 + 2, 0xffff);

    (void) jpeg_read_header(dinfo, TRUE);

    /* the probe may have been misled: check what libjpeg will allocate */

    pixels = (uint64_t) dinfo->image_width * dinfo->image_height;

    if (job->params->max_pixels && pixels > job->params->max_pixels) {
        ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ELIMIT,
                              "%ux%u exceeds tunny_image_max_pixels (%llu)",
                              dinfo->image_width, dinfo->image_height,
                              (unsigned long long) job->params->max_pixels);
        job->jerr.rc = NGX_TUNNY_IMAGE_ELIMIT;
        return ngx_tunny_image_jpeg_decode_failed(job);
    }

    if (dinfo->image_width != job->probe.info.width
        || dinfo->image_height != job->probe.info.height)
    {
        snprintf(job->jerr.msg, sizeof(job->jerr.msg),
                 "inconsistent frame headers");
        return ngx_tunny_image_jpeg_decode_failed(job);
    }

    cmyk = 0;

    switch (dinfo->jpeg_color_space) {

    case JCS_GRAYSCALE:
        dinfo->out_color_space = JCS_GRAYSCALE;
        job->pix.channels = 1;
        break;

    case JCS_CMYK:
    case JCS_YCCK:
        dinfo->out_color_space = JCS_CMYK;
        job->pix.channels = 3;
        cmyk = 1;
        break;

    default:
        dinfo->out_color_space = JCS_EXT_RGB;
        job->pix.channels = 3;
        break;
    }

    if (!cmyk && jpeg_read_icc_profile(dinfo, &job->icc, &job->icc_len)) {
        if (!ngx_tunny_image_icc_matches(job->icc, job->icc_len,
                                         job->pix.channels))
        {
            free(job->icc);
            job->icc = NULL;
            job->icc_len = 0;
        }
    }

    dinfo->scale_num = ngx_tunny_image_dct_scale(dinfo->image_width,
                                                 dinfo->image_height,
                                                 job->geo.tw, job->geo.th);
    dinfo->scale_denom = 8;
    dinfo->dct_method = JDCT_ISLOW;

    (void) jpeg_start_decompress(dinfo);

    stride = (size_t) dinfo->output_width * job->pix.channels;

    data = ngx_tunny_image_buf_get(job->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                   stride * dinfo->output_height);
    row = NULL;

    if (cmyk) {
        row = ngx_tunny_image_buf_get(job->st, NGX_TUNNY_IMAGE_BUF_ROW,
                                      (size_t) dinfo->output_width * 4
                                      * NGX_TUNNY_IMAGE_LINES);
    }

    if (data == NULL || (cmyk && row == NULL)) {
        job->jerr.rc = NGX_TUNNY_IMAGE_ENOMEM;
        return ngx_tunny_image_jpeg_decode_failed(job);
    }

    while (dinfo->output_scanline < dinfo->output_height) {

        if (ngx_tunny_image_cancelled(job->params->cancel)) {
            job->jerr.rc = NGX_TUNNY_IMAGE_ECANCEL;
            return ngx_tunny_image_jpeg_decode_failed(job);
        }

        n = dinfo->output_height - dinfo->output_scanline;
        if (n > NGX_TUNNY_IMAGE_LINES) {
            n = NGX_TUNNY_IMAGE_LINES;
        }

        for (i = 0; i < n; i++) {
            rows[i] = cmyk
                ? row + (size_t) i * dinfo->output_width * 4
                : data + (size_t) (dinfo->output_scanline + i) * stride;
        }

        i = dinfo->output_scanline;

        while (dinfo->output_scanline < i + n) {
            (void) jpeg_read_scanlines(dinfo,
                                       rows + (dinfo->output_scanline - i),
                                       i + n - dinfo->output_scanline);
        }

        if (cmyk) {
            for (n = 0; i + n < dinfo->output_scanline; n++) {
                ngx_tunny_image_cmyk_to_rgb(rows[n], data + (i + n) * stride,
                                            dinfo->output_width,
                                            dinfo->saw_Adobe_marker);
            }
        }
    }

    job->pix.data = data;
    job->pix.width = dinfo->output_width;
    job->pix.height = dinfo->output_height;
    job->pix.stride = stride;
    job->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    /* no jpeg_finish_decompress(): trailing garbage is no concern */

    jpeg_destroy_decompress(dinfo);
    job->jcreated = 0;

    return NGX_TUNNY_IMAGE_OK;
}


/* JPEG encoder destination: a state buffer, copied out at the end */

static void
ngx_tunny_image_jdest_init(j_compress_ptr cinfo)
{
    ngx_tunny_image_jdest_t  *dest;

    dest = (ngx_tunny_image_jdest_t *) cinfo->dest;

    if (dest->buf->size < 65536
        && ngx_tunny_image_buf_grow(dest->buf, 65536) != 0)
    {
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 1);
    }

    dest->pub.next_output_byte = dest->buf->data;
    dest->pub.free_in_buffer = dest->buf->size;
    dest->used = 0;
}


static boolean
ngx_tunny_image_jdest_empty(j_compress_ptr cinfo)
{
    size_t                    old;
    ngx_tunny_image_jdest_t  *dest;

    dest = (ngx_tunny_image_jdest_t *) cinfo->dest;

    /* the whole buffer is full */

    old = dest->buf->size;

    if (ngx_tunny_image_buf_grow(dest->buf, old * 2) != 0) {
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 2);
    }

    dest->pub.next_output_byte = dest->buf->data + old;
    dest->pub.free_in_buffer = dest->buf->size - old;

    return TRUE;
}


static void
ngx_tunny_image_jdest_term(j_compress_ptr cinfo)
{
    ngx_tunny_image_jdest_t  *dest;

    dest = (ngx_tunny_image_jdest_t *) cinfo->dest;

    dest->used = dest->buf->size - dest->pub.free_in_buffer;
}


static int
ngx_tunny_image_jpeg_encode_failed(ngx_tunny_image_job_t *job)
{
    if (job->jcreated) {
        jpeg_destroy_compress(&job->cinfo);
        job->jcreated = 0;
    }

    switch (job->jerr.rc) {

    case NGX_TUNNY_IMAGE_ECANCEL:
        return ngx_tunny_image_error(job->res, job->jerr.rc, "cancelled");

    case NGX_TUNNY_IMAGE_ENOMEM:
        return ngx_tunny_image_error(job->res, job->jerr.rc,
                                     "out of memory encoding JPEG");

    default:
        /* no input can cause this: report as an internal failure */
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "JPEG encode failed: %s",
                                     job->jerr.msg);
    }
}


static int
ngx_tunny_image_jpeg_encode(ngx_tunny_image_job_t *job)
{
    unsigned          i, n;
    JSAMPROW          rows[NGX_TUNNY_IMAGE_LINES];
    j_compress_ptr    cinfo;
    ngx_tunny_image_pix_t  *pix;

    cinfo = &job->cinfo;
    pix = &job->pix;

    ngx_tunny_image_jpeg_err_init(job);

    if (setjmp(job->jerr.jmp)) {
        return ngx_tunny_image_jpeg_encode_failed(job);
    }

    cinfo->err = &job->jerr.pub;
    jpeg_create_compress(cinfo);
    job->jcreated = 1;

    cinfo->progress = &job->jprogress;

    job->jdest.pub.init_destination = ngx_tunny_image_jdest_init;
    job->jdest.pub.empty_output_buffer = ngx_tunny_image_jdest_empty;
    job->jdest.pub.term_destination = ngx_tunny_image_jdest_term;
    job->jdest.buf = &job->st->buf[NGX_TUNNY_IMAGE_BUF_OUT];
    job->jdest.used = 0;
    cinfo->dest = &job->jdest.pub;

    cinfo->image_width = pix->width;
    cinfo->image_height = pix->height;
    cinfo->input_components = (int) pix->channels;

    switch (pix->channels) {
    case 1:
        cinfo->in_color_space = JCS_GRAYSCALE;
        break;
    case 4:
        cinfo->in_color_space = JCS_EXT_RGBX;
        break;
    default:
        cinfo->in_color_space = JCS_EXT_RGB;
        break;
    }

    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, job->params->jpeg_quality, TRUE);
    cinfo->optimize_coding = TRUE;
    cinfo->dct_method = JDCT_ISLOW;

    /* jpeg_set_defaults() chose 2x2 (4:2:0) luma sampling for colour */

    if (job->params->interlace) {
        jpeg_simple_progression(cinfo);
    }

    jpeg_start_compress(cinfo, TRUE);

    if (job->icc) {
        jpeg_write_icc_profile(cinfo, job->icc, job->icc_len);
    }

    while (cinfo->next_scanline < cinfo->image_height) {

        if (ngx_tunny_image_cancelled(job->params->cancel)) {
            job->jerr.rc = NGX_TUNNY_IMAGE_ECANCEL;
            return ngx_tunny_image_jpeg_encode_failed(job);
        }

        n = cinfo->image_height - cinfo->next_scanline;
        if (n > NGX_TUNNY_IMAGE_LINES) {
            n = NGX_TUNNY_IMAGE_LINES;
        }

        for (i = 0; i < n; i++) {
            rows[i] = pix->data + (cinfo->next_scanline + i) * pix->stride;
        }

        (void) jpeg_write_scanlines(cinfo, rows, n);
    }

    jpeg_finish_compress(cinfo);

    job->res->data = malloc(job->jdest.used);
    if (job->res->data == NULL) {
        job->jerr.rc = NGX_TUNNY_IMAGE_ENOMEM;
        return ngx_tunny_image_jpeg_encode_failed(job);
    }

    memcpy(job->res->data, job->jdest.buf->data, job->jdest.used);
    job->res->len = job->jdest.used;

    jpeg_destroy_compress(cinfo);
    job->jcreated = 0;

    return NGX_TUNNY_IMAGE_OK;
}


/* WebP */

static const char *
ngx_tunny_image_webp_status(VP8StatusCode status)
{
    switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY:
        return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
        return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
        return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
        return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
    case VP8_STATUS_NOT_ENOUGH_DATA:
        return "truncated data";
    default:
        return "error";
    }
}


static void
ngx_tunny_image_webp_icc(ngx_tunny_image_job_t *job)
{
    WebPData           data;
    WebPDemuxer       *dmux;
    WebPChunkIterator  it;

    data.bytes = job->in;
    data.size = job->len;

    dmux = WebPDemux(&data);
    if (dmux == NULL) {
        return;
    }

    if ((WebPDemuxGetI(dmux, WEBP_FF_FORMAT_FLAGS) & ICCP_FLAG)
        && WebPDemuxGetChunk(dmux, "ICCP", 1, &it))
    {
        if (it.chunk.size > 0 && it.chunk.size < 0x1000000) {
            job->icc = malloc(it.chunk.size);
            if (job->icc) {
                memcpy(job->icc, it.chunk.bytes, it.chunk.size);
                job->icc_len = (unsigned int) it.chunk.size;
            }
        }

        WebPDemuxReleaseChunkIterator(&it);
    }

    WebPDemuxDelete(dmux);
}


static int
ngx_tunny_image_webp_decode(ngx_tunny_image_job_t *job)
{
    int                  rc;
    size_t               have, size;
    uint64_t             pixels;
    unsigned             w, h, ch;
    unsigned char       *data;
    VP8StatusCode        status;
    WebPIDecoder        *idec;
    WebPDecoderConfig    config;

    if (!WebPInitDecoderConfig(&config)) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP decoder version mismatch");
    }

    status = WebPGetFeatures(job->in, job->len, &config.input);
    if (status != VP8_STATUS_OK) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: %s",
                                     ngx_tunny_image_webp_status(status));
    }

    if (config.input.has_animation) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "animated WebP not supported");
    }

    pixels = (uint64_t) config.input.width * config.input.height;

    if (job->params->max_pixels && pixels > job->params->max_pixels) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "%dx%d exceeds tunny_image_max_pixels "
                                     "(%llu)",
                                     config.input.width, config.input.height,
                                     (unsigned long long)
                                         job->params->max_pixels);
    }

    if ((unsigned) config.input.width != job->probe.info.width
        || (unsigned) config.input.height != job->probe.info.height)
    {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: "
                                     "inconsistent headers");
    }

    ch = config.input.has_alpha ? 4 : 3;
    w = config.input.width;
    h = config.input.height;

    if (job->geo.tw < w || job->geo.th < h) {
        /* libwebp's area-averaging rescaler, row by row while decoding */
        config.options.use_scaling = 1;
        config.options.scaled_width = (int) job->geo.tw;
        config.options.scaled_height = (int) job->geo.th;
        w = job->geo.tw;
        h = job->geo.th;
    }

    size = (size_t) w * ch * h;

    data = ngx_tunny_image_buf_get(job->st, NGX_TUNNY_IMAGE_BUF_DEC, size);
    if (data == NULL) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding WebP");
    }

    config.output.colorspace = (ch == 4) ? MODE_RGBA : MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = data;
    config.output.u.RGBA.stride = (int) (w * ch);
    config.output.u.RGBA.size = size;
    config.options.use_threads = 0;

    idec = WebPIDecode(NULL, 0, &config);
    if (idec == NULL) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP decode failed: out of memory");
    }

    /* feed the input in steps: a cancellation checkpoint between them */

    have = 0;
    status = VP8_STATUS_SUSPENDED;
    rc = NGX_TUNNY_IMAGE_OK;

    while (have < job->len) {

        if (ngx_tunny_image_cancelled(job->params->cancel)) {
            rc = ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ECANCEL,
                                       "cancelled");
            break;
        }

        have += (job->len - have > NGX_TUNNY_IMAGE_WEBP_CHUNK)
                ? NGX_TUNNY_IMAGE_WEBP_CHUNK : job->len - have;

        status = WebPIUpdate(idec, job->in, have);

        if (status != VP8_STATUS_SUSPENDED) {
            break;
        }
    }

    WebPIDelete(idec);
    WebPFreeDecBuffer(&config.output);

    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (status != VP8_STATUS_OK) {
        return ngx_tunny_image_error(job->res,
                                     status == VP8_STATUS_OUT_OF_MEMORY
                                     ? NGX_TUNNY_IMAGE_ENOMEM
                                     : NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: %s",
                                     ngx_tunny_image_webp_status(status));
    }

    ngx_tunny_image_webp_icc(job);

    if (job->icc && !ngx_tunny_image_icc_matches(job->icc, job->icc_len, 3)) {
        free(job->icc);
        job->icc = NULL;
        job->icc_len = 0;
    }

    job->pix.data = data;
    job->pix.width = w;
    job->pix.height = h;
    job->pix.channels = ch;
    job->pix.stride = (size_t) w * ch;
    job->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    return NGX_TUNNY_IMAGE_OK;
}


static int
ngx_tunny_image_webp_progress(int percent, const WebPPicture *pic)
{
    (void) percent;

    return !ngx_tunny_image_cancelled((const int *) pic->user_data);
}


static int
ngx_tunny_image_webp_encode(ngx_tunny_image_job_t *job)
{
    int                  ok, rc;
    WebPMux             *mux;
    WebPData             img, icc, out;
    WebPConfig           config;
    WebPPicture          pic;
    WebPMemoryWriter     wr;
    ngx_tunny_image_pix_t  *pix;

    pix = &job->pix;

    if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP encoder version mismatch");
    }

    config.quality = (float) job->params->webp_quality;
    config.method = 4;

    pic.use_argb = 0;
    pic.width = (int) pix->width;
    pic.height = (int) pix->height;

    ok = (pix->channels == 4)
         ? WebPPictureImportRGBA(&pic, pix->data, (int) pix->stride)
         : WebPPictureImportRGB(&pic, pix->data, (int) pix->stride);

    if (!ok) {
        WebPPictureFree(&pic);
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory encoding WebP");
    }

    WebPMemoryWriterInit(&wr);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &wr;
    pic.progress_hook = ngx_tunny_image_webp_progress;
    pic.user_data = (void *) job->params->cancel;

    ok = WebPEncode(&config, &pic);

    if (!ok) {
        if (pic.error_code == VP8_ENC_ERROR_USER_ABORT) {
            rc = ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ECANCEL,
                                       "cancelled");

        } else if (pic.error_code == VP8_ENC_ERROR_OUT_OF_MEMORY
                   || pic.error_code == VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY)
        {
            rc = ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                       "out of memory encoding WebP");

        } else {
            rc = ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                       "WebP encode failed: error %d",
                                       (int) pic.error_code);
        }

        WebPPictureFree(&pic);
        WebPMemoryWriterClear(&wr);
        return rc;
    }

    WebPPictureFree(&pic);

    rc = NGX_TUNNY_IMAGE_OK;

    if (job->icc == NULL) {
        job->res->data = malloc(wr.size);

        if (job->res->data) {
            memcpy(job->res->data, wr.mem, wr.size);
            job->res->len = wr.size;
        }

    } else {
        WebPDataInit(&out);

        img.bytes = wr.mem;
        img.size = wr.size;
        icc.bytes = job->icc;
        icc.size = job->icc_len;

        mux = WebPMuxNew();

        if (mux != NULL
            && WebPMuxSetImage(mux, &img, 0) == WEBP_MUX_OK
            && WebPMuxSetChunk(mux, "ICCP", &icc, 0) == WEBP_MUX_OK
            && WebPMuxAssemble(mux, &out) == WEBP_MUX_OK)
        {
            job->res->data = malloc(out.size);

            if (job->res->data) {
                memcpy(job->res->data, out.bytes, out.size);
                job->res->len = out.size;
            }
        }

        WebPDataClear(&out);
        WebPMuxDelete(mux);
    }

    WebPMemoryWriterClear(&wr);

    if (job->res->data == NULL) {
        rc = ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "out of memory encoding WebP");
    }

    return rc;
}


/* resampling: separable Catmull-Rom, integer weights */

static double
ngx_tunny_image_cubic(double x)
{
    x = fabs(x);

    if (x < 1.0) {
        return (1.5 * x - 2.5) * x * x + 1.0;
    }

    if (x < 2.0) {
        return ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0;
    }

    return 0.0;
}


/*
 * For each of dst outputs: first source index, tap count, and max_taps
 * weights in Q14 that sum to exactly 1 << 14.
 */

static void
ngx_tunny_image_weights(unsigned src, unsigned dst, int *starts, int *counts,
    int16_t *weights, int max_taps, double *tw)
{
    int       i, j, lo, hi, n, sum, best;
    double    scale, fscale, support, center, w, total;

    scale = (double) src / dst;
    fscale = scale > 1.0 ? scale : 1.0;
    support = 2.0 * fscale;

    for (i = 0; i < (int) dst; i++) {

        center = (i + 0.5) * scale;

        lo = (int) floor(center - support + 0.5);
        hi = (int) floor(center + support + 0.5);

        if (lo < 0) {
            lo = 0;
        }

        if (hi > (int) src) {
            hi = (int) src;
        }

        n = hi - lo;
        if (n > max_taps) {
            n = max_taps;
        }

        if (n <= 0) {
            lo = (int) (center < src ? center : src - 1);
            n = 1;
        }

        total = 0.0;

        for (j = 0; j < n; j++) {
            w = ngx_tunny_image_cubic((lo + j + 0.5 - center) / fscale);
            tw[j] = w;
            total += w;
        }

        if (total == 0.0) {
            tw[0] = total = 1.0;
            for (j = 1; j < n; j++) {
                tw[j] = 0.0;
            }
        }

        sum = 0;
        best = 0;

        for (j = 0; j < n; j++) {
            weights[j] = (int16_t) lrint(tw[j] / total
                                         * (1 << NGX_TUNNY_IMAGE_FP));
            sum += weights[j];

            if (weights[j] > weights[best]) {
                best = j;
            }
        }

        weights[best] = (int16_t) (weights[best]
                                   + (1 << NGX_TUNNY_IMAGE_FP) - sum);

        starts[i] = lo;
        counts[i] = n;
        weights += max_taps;
    }
}


static unsigned char
ngx_tunny_image_clamp(int32_t v)
{
    v = (v + (1 << (NGX_TUNNY_IMAGE_FP - 1))) >> NGX_TUNNY_IMAGE_FP;

    return (unsigned char) (v < 0 ? 0 : (v > 255 ? 255 : v));
}


static int
ngx_tunny_image_resample(ngx_tunny_image_job_t *job, unsigned dw,
    unsigned dh)
{
    int                     taps_x, taps_y, *sx, *nx, *sy, *ny, k;
    double                 *tw;
    unsigned                x, y, c, ch, sw, sh;
    size_t                  need, tstride, dstride;
    int16_t                *wx, *wy;
    const int16_t          *w;
    int32_t                *acc, a0, a1, a2, a3;
    unsigned char          *tmp, *dst, *wbuf;
    unsigned char          *t, *d;
    const unsigned char    *s, *p;
    ngx_tunny_image_pix_t  *pix;
    int                     out;

    pix = &job->pix;
    sw = pix->width;
    sh = pix->height;
    ch = pix->channels;

    if (sw == dw && sh == dh) {
        return NGX_TUNNY_IMAGE_OK;
    }

    taps_x = (int) ceil(4.0 * (sw > dw ? (double) sw / dw : 1.0)) + 2;
    taps_y = (int) ceil(4.0 * (sh > dh ? (double) sh / dh : 1.0)) + 2;

    /* taps * outputs stays near 4 * inputs: no cap needed */

    need = sizeof(double) * (taps_x > taps_y ? taps_x : taps_y)
           + sizeof(int32_t) * dw * ch
           + (sizeof(int) * 2 + sizeof(int16_t) * taps_x) * dw
           + (sizeof(int) * 2 + sizeof(int16_t) * taps_y) * dh + 64;

    wbuf = ngx_tunny_image_buf_get(job->st, NGX_TUNNY_IMAGE_BUF_WTS, need);

    tstride = (size_t) dw * ch;
    tmp = ngx_tunny_image_buf_get(job->st, NGX_TUNNY_IMAGE_BUF_TMP,
                                  tstride * sh);

    out = pix->buf == NGX_TUNNY_IMAGE_BUF_A
          ? NGX_TUNNY_IMAGE_BUF_B : NGX_TUNNY_IMAGE_BUF_A;
    dstride = (size_t) dw * ch;
    dst = ngx_tunny_image_buf_get(job->st, out, dstride * dh);

    if (wbuf == NULL || tmp == NULL || dst == NULL) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory resampling");
    }

    /* carve: the widest types first for alignment */

    tw = (double *) wbuf;
    acc = (int32_t *) (tw + (taps_x > taps_y ? taps_x : taps_y));
    sx = (int *) (acc + (size_t) dw * ch);
    nx = sx + dw;
    sy = nx + dw;
    ny = sy + dh;
    wx = (int16_t *) (ny + dh);
    wy = wx + (size_t) taps_x * dw;

    ngx_tunny_image_weights(sw, dw, sx, nx, wx, taps_x, tw);
    ngx_tunny_image_weights(sh, dh, sy, ny, wy, taps_y, tw);

    /* horizontal pass: sh rows of dw pixels into tmp */

    for (y = 0; y < sh; y++) {

        if ((y & 63) == 0 && ngx_tunny_image_cancelled(job->params->cancel)) {
            return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ECANCEL,
                                         "cancelled");
        }

        s = pix->data + y * pix->stride;
        t = tmp + y * tstride;

        switch (ch) {

        case 3:
            for (x = 0; x < dw; x++) {
                p = s + (size_t) sx[x] * 3;
                w = wx + (size_t) x * taps_x;
                a0 = a1 = a2 = 0;

                for (k = 0; k < nx[x]; k++) {
                    a0 += w[k] * p[0];
                    a1 += w[k] * p[1];
                    a2 += w[k] * p[2];
                    p += 3;
                }

                t[0] = ngx_tunny_image_clamp(a0);
                t[1] = ngx_tunny_image_clamp(a1);
                t[2] = ngx_tunny_image_clamp(a2);
                t += 3;
            }

            break;

        case 4:
            for (x = 0; x < dw; x++) {
                p = s + (size_t) sx[x] * 4;
                w = wx + (size_t) x * taps_x;
                a0 = a1 = a2 = a3 = 0;

                for (k = 0; k < nx[x]; k++) {
                    a0 += w[k] * p[0];
                    a1 += w[k] * p[1];
                    a2 += w[k] * p[2];
                    a3 += w[k] * p[3];
                    p += 4;
                }

                t[0] = ngx_tunny_image_clamp(a0);
                t[1] = ngx_tunny_image_clamp(a1);
                t[2] = ngx_tunny_image_clamp(a2);
                t[3] = ngx_tunny_image_clamp(a3);
                t += 4;
            }

            break;

        default:
            for (x = 0; x < dw; x++) {
                p = s + sx[x];
                w = wx + (size_t) x * taps_x;
                a0 = 0;

                for (k = 0; k < nx[x]; k++) {
                    a0 += w[k] * p[k];
                }

                t[x] = ngx_tunny_image_clamp(a0);
            }

            break;
        }
    }

    /* vertical pass */

    for (y = 0; y < dh; y++) {

        if ((y & 63) == 0 && ngx_tunny_image_cancelled(job->params->cancel)) {
            return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ECANCEL,
                                         "cancelled");
        }

        memset(acc, 0, sizeof(int32_t) * tstride);
        w = wy + (size_t) y * taps_y;

        for (k = 0; k < ny[y]; k++) {
            int32_t  wk = w[k];

            s = tmp + (size_t) (sy[y] + k) * tstride;

            for (c = 0; c < tstride; c++) {
                acc[c] += wk * s[c];
            }
        }

        d = dst + y * dstride;

        for (c = 0; c < tstride; c++) {
            d[c] = ngx_tunny_image_clamp(acc[c]);
        }
    }

    pix->data = dst;
    pix->width = dw;
    pix->height = dh;
    pix->stride = dstride;
    pix->buf = out;

    return NGX_TUNNY_IMAGE_OK;
}


/* orthogonal transforms: EXIF orientation, rotation, centre cut */

static void
ngx_tunny_image_map_orientation(int o, long w, long h,
    ngx_tunny_image_map_t *m)
{
    /* upright (x, y) -> stored (x, y); w, h: stored size */

    static const long  t[9][6] = {
        { 1, 0, 0, 0, 1, 0 },
        { 1, 0, 0, 0, 1, 0 },       /* 1 */
        { -1, 0, 1, 0, 1, 0 },      /* 2 mirror horizontal */
        { -1, 0, 1, 0, -1, 1 },     /* 3 rotate 180 */
        { 1, 0, 0, 0, -1, 1 },      /* 4 mirror vertical */
        { 0, 1, 0, 1, 0, 0 },       /* 5 transpose */
        { 0, 1, 0, -1, 0, 1 },      /* 6 rotate 90 cw to view */
        { 0, -1, 1, -1, 0, 1 },     /* 7 transverse */
        { 0, -1, 1, 1, 0, 0 }       /* 8 rotate 90 ccw to view */
    };

    if (o < 1 || o > 8) {
        o = 1;
    }

    m->xx = t[o][0];
    m->xy = t[o][1];
    m->x0 = t[o][2] * (w - 1);
    m->yx = t[o][3];
    m->yy = t[o][4];
    m->y0 = t[o][5] * (h - 1);
}


static void
ngx_tunny_image_map_angle(unsigned angle, long w, long h,
    ngx_tunny_image_map_t *m)
{
    /* rotated (x, y) -> upright (x, y), counter-clockwise as gd; w, h: up */

    memset(m, 0, sizeof(ngx_tunny_image_map_t));

    switch (angle) {

    case 90:
        m->xy = -1;
        m->x0 = w - 1;
        m->yx = 1;
        break;

    case 180:
        m->xx = -1;
        m->x0 = w - 1;
        m->yy = -1;
        m->y0 = h - 1;
        break;

    case 270:
        m->xy = 1;
        m->yx = -1;
        m->y0 = h - 1;
        break;

    default:
        m->xx = 1;
        m->yy = 1;
        break;
    }
}


static void
ngx_tunny_image_map_compose(const ngx_tunny_image_map_t *outer,
    const ngx_tunny_image_map_t *inner, ngx_tunny_image_map_t *r)
{
    ngx_tunny_image_map_t  m;

    /* r(p) = outer(inner(p)) */

    m.xx = outer->xx * inner->xx + outer->xy * inner->yx;
    m.xy = outer->xx * inner->xy + outer->xy * inner->yy;
    m.x0 = outer->xx * inner->x0 + outer->xy * inner->y0 + outer->x0;
    m.yx = outer->yx * inner->xx + outer->yy * inner->yx;
    m.yy = outer->yx * inner->xy + outer->yy * inner->yy;
    m.y0 = outer->yx * inner->x0 + outer->yy * inner->y0 + outer->y0;

    *r = m;
}


static int
ngx_tunny_image_transform(ngx_tunny_image_job_t *job)
{
    int                     out;
    long                    sx, sy;
    ptrdiff_t               step;
    unsigned                x, y, c, ch;
    size_t                  dstride;
    unsigned char          *dst, *d;
    const unsigned char    *s;
    ngx_tunny_image_map_t   mo, ma, m;
    ngx_tunny_image_pix_t  *pix;
    ngx_tunny_image_geo_t  *g;

    pix = &job->pix;
    g = &job->geo;
    ch = pix->channels;

    ngx_tunny_image_map_orientation(job->probe.info.orientation,
                                    pix->width, pix->height, &mo);
    ngx_tunny_image_map_angle(job->params->angle, g->rw, g->rh, &ma);
    ngx_tunny_image_map_compose(&mo, &ma, &m);

    /* the cut window offset */

    m.x0 += m.xx * (long) g->cx + m.xy * (long) g->cy;
    m.y0 += m.yx * (long) g->cx + m.yy * (long) g->cy;

    if (m.xx == 1 && m.xy == 0 && m.yx == 0 && m.yy == 1) {

        if (m.x0 == 0 && m.y0 == 0
            && g->cw == pix->width && g->ch == pix->height)
        {
            return NGX_TUNNY_IMAGE_OK;
        }

        /* only a cut: no copy, a window into the same buffer */

        pix->data += (size_t) m.y0 * pix->stride + (size_t) m.x0 * ch;
        pix->width = g->cw;
        pix->height = g->ch;

        return NGX_TUNNY_IMAGE_OK;
    }

    out = pix->buf == NGX_TUNNY_IMAGE_BUF_A
          ? NGX_TUNNY_IMAGE_BUF_B : NGX_TUNNY_IMAGE_BUF_A;
    dstride = (size_t) g->cw * ch;

    dst = ngx_tunny_image_buf_get(job->st, out, dstride * g->ch);
    if (dst == NULL) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory rotating");
    }

    step = (ptrdiff_t) m.yx * (ptrdiff_t) pix->stride
           + (ptrdiff_t) m.xx * (ptrdiff_t) ch;

    for (y = 0; y < g->ch; y++) {

        if ((y & 63) == 0 && ngx_tunny_image_cancelled(job->params->cancel)) {
            return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ECANCEL,
                                         "cancelled");
        }

        sx = m.xy * (long) y + m.x0;
        sy = m.yy * (long) y + m.y0;

        s = pix->data + (size_t) sy * pix->stride + (size_t) sx * ch;
        d = dst + y * dstride;

        switch (ch) {

        case 1:
            for (x = 0; x < g->cw; x++) {
                d[x] = *s;
                s += step;
            }
            break;

        case 3:
            for (x = 0; x < g->cw; x++) {
                d[0] = s[0];
                d[1] = s[1];
                d[2] = s[2];
                d += 3;
                s += step;
            }
            break;

        default:
            for (x = 0; x < g->cw; x++) {
                for (c = 0; c < ch; c++) {
                    d[c] = s[c];
                }
                d += ch;
                s += step;
            }
            break;
        }
    }

    pix->data = dst;
    pix->width = g->cw;
    pix->height = g->ch;
    pix->stride = dstride;
    pix->buf = out;

    return NGX_TUNNY_IMAGE_OK;
}


/* unsharp mask with a 3x3 [1 2 1] blur, amount = percent / 100 */

static int
ngx_tunny_image_sharpen(ngx_tunny_image_job_t *job, int percent)
{
    int                     out, amount, v, b;
    unsigned                x, y, c, ch, w, h, xl, xr;
    size_t                  dstride;
    unsigned char          *dst, *d;
    const unsigned char    *up, *mid, *dn;
    ngx_tunny_image_pix_t  *pix;

    pix = &job->pix;
    w = pix->width;
    h = pix->height;
    ch = pix->channels;

    if (percent > 500) {
        percent = 500;
    }

    amount = percent * 256 / 100;

    out = pix->buf == NGX_TUNNY_IMAGE_BUF_A
          ? NGX_TUNNY_IMAGE_BUF_B : NGX_TUNNY_IMAGE_BUF_A;
    dstride = (size_t) w * ch;

    dst = ngx_tunny_image_buf_get(job->st, out, dstride * h);
    if (dst == NULL) {
        return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory sharpening");
    }

    for (y = 0; y < h; y++) {

        if ((y & 63) == 0 && ngx_tunny_image_cancelled(job->params->cancel)) {
            return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ECANCEL,
                                         "cancelled");
        }

        mid = pix->data + y * pix->stride;
        up = y ? mid - pix->stride : mid;
        dn = (y + 1 < h) ? mid + pix->stride : mid;
        d = dst + y * dstride;

        for (x = 0; x < w; x++) {
            xl = (x ? x - 1 : 0) * ch;
            xr = (x + 1 < w ? x + 1 : x) * ch;

            for (c = 0; c < ch; c++) {
                unsigned  xc = x * ch + c;

                if (c == 3) {
                    d[xc] = mid[xc];
                    continue;
                }

                b = up[xl + c] + 2 * up[xc] + up[xr + c]
                    + 2 * (mid[xl + c] + 2 * mid[xc] + mid[xr + c])
                    + dn[xl + c] + 2 * dn[xc] + dn[xr + c];

                /* b is 16 * blur */

                v = mid[xc] + (((mid[xc] * 16 - b) * amount) >> 12);
                d[xc] = (unsigned char) (v < 0 ? 0 : (v > 255 ? 255 : v));
            }
        }
    }

    pix->data = dst;
    pix->stride = dstride;
    pix->buf = out;

    return NGX_TUNNY_IMAGE_OK;
}


/* channel fix-ups before encoding */

static int
ngx_tunny_image_prepare_encode(ngx_tunny_image_job_t *job)
{
    int                     out;
    unsigned                x, y, a;
    unsigned char          *dst, *d, *s;
    ngx_tunny_image_pix_t  *pix;

    pix = &job->pix;

    if (job->out_type == NGX_TUNNY_IMAGE_JPEG && pix->channels == 4) {

        /* flatten on white: alpha would be dropped by the JPEG encoder */

        for (y = 0; y < pix->height; y++) {
            s = pix->data + y * pix->stride;

            for (x = 0; x < pix->width; x++) {
                a = s[3];

                if (a != 255) {
                    s[0] = (unsigned char) ((s[0] * a + 255 * (255 - a)
                                             + 127) / 255);
                    s[1] = (unsigned char) ((s[1] * a + 255 * (255 - a)
                                             + 127) / 255);
                    s[2] = (unsigned char) ((s[2] * a + 255 * (255 - a)
                                             + 127) / 255);
                    s[3] = 255;
                }

                s += 4;
            }
        }

        return NGX_TUNNY_IMAGE_OK;
    }

    if (job->out_type == NGX_TUNNY_IMAGE_WEBP && pix->channels == 1) {

        out = pix->buf == NGX_TUNNY_IMAGE_BUF_A
              ? NGX_TUNNY_IMAGE_BUF_B : NGX_TUNNY_IMAGE_BUF_A;

        dst = ngx_tunny_image_buf_get(job->st, out,
                                      (size_t) pix->width * 3 * pix->height);
        if (dst == NULL) {
            return ngx_tunny_image_error(job->res, NGX_TUNNY_IMAGE_ENOMEM,
                                         "out of memory");
        }

        for (y = 0; y < pix->height; y++) {
            s = pix->data + y * pix->stride;
            d = dst + (size_t) y * pix->width * 3;

            for (x = 0; x < pix->width; x++) {
                d[0] = d[1] = d[2] = s[x];
                d += 3;
            }
        }

        pix->data = dst;
        pix->channels = 3;
        pix->stride = (size_t) pix->width * 3;
        pix->buf = out;

        /* a GRAY profile does not fit RGB pixels */

        free(job->icc);
        job->icc = NULL;
        job->icc_len = 0;
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* the whole job */

static int
ngx_tunny_image_check_params(const ngx_tunny_image_params_t *p,
    ngx_tunny_image_result_t *res)
{
    if (p->angle != 0 && p->angle != 90 && p->angle != 180
        && p->angle != 270)
    {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid rotation angle %u "
                                     "(90, 180 or 270)", p->angle);
    }

    if ((p->ops & NGX_TUNNY_IMAGE_OP_RESIZE)
        && (p->ops & NGX_TUNNY_IMAGE_OP_CROP))
    {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "resize and crop are exclusive");
    }

    if (p->out_type != 0 && p->out_type != NGX_TUNNY_IMAGE_JPEG
        && p->out_type != NGX_TUNNY_IMAGE_WEBP)
    {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid output type %d", p->out_type);
    }

    if (p->sharpen < 0) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid sharpen %d", p->sharpen);
    }

    return NGX_TUNNY_IMAGE_OK;
}


static int
ngx_tunny_image_run(ngx_tunny_image_job_t *job)
{
    int                              rc, type;
    unsigned                         max;
    uint64_t                         pixels;
    const ngx_tunny_image_params_t  *p;
    ngx_tunny_image_result_t        *res;
    ngx_tunny_image_info_t          *info;

    p = job->params;
    res = job->res;
    info = &job->probe.info;

    rc = ngx_tunny_image_check_params(p, res);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (ngx_tunny_image_cancelled(p->cancel)) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_ECANCEL,
                                     "cancelled");
    }

    if (!ngx_tunny_image_probe_ex(job->in, job->len, &job->probe)) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EINPUT, "%s",
                                     job->probe.error);
    }

    type = info->type;
    res->type = type;
    res->width = info->width;
    res->height = info->height;

    if (type == NGX_TUNNY_IMAGE_PNG || type == NGX_TUNNY_IMAGE_GIF) {
        return NGX_TUNNY_IMAGE_ASIS;
    }

    if (info->width == 0 || info->height == 0) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EINPUT,
                                     "%s with zero width or height",
                                     type == NGX_TUNNY_IMAGE_JPEG
                                     ? "JPEG" : "WebP");
    }

    pixels = (uint64_t) info->width * info->height;

    if (p->max_pixels && pixels > p->max_pixels) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "%ux%u exceeds tunny_image_max_pixels "
                                     "(%llu)", info->width, info->height,
                                     (unsigned long long) p->max_pixels);
    }

    /*
     * Decompression bombs: Huffman-coded data needs at least a bit per
     * 8x8 luma block, so a JPEG shorter than pixels / 1024 bytes cannot be
     * complete (libjpeg would fill the missing part with grey at full CPU
     * cost after it met an early EOI).
     */

    if (type == NGX_TUNNY_IMAGE_JPEG && job->len < pixels / 1024) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EINPUT,
                                     "truncated or corrupt JPEG: "
                                     "%zu bytes cannot hold %ux%u",
                                     job->len, info->width, info->height);
    }

    if (type == NGX_TUNNY_IMAGE_WEBP
        && (job->probe.vp8x_flags & ANIMATION_FLAG))
    {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EINPUT,
                                     "animated WebP not supported");
    }

    job->out_type = p->out_type ? p->out_type : type;

    if ((job->out_type == NGX_TUNNY_IMAGE_JPEG
         && (p->jpeg_quality < 1 || p->jpeg_quality > 100))
        || (job->out_type == NGX_TUNNY_IMAGE_WEBP
            && (p->webp_quality < 1 || p->webp_quality > 100)))
    {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_EPARAM,
                                     "invalid %s quality %d (1..100)",
                                     ngx_tunny_image_type_name(job->out_type),
                                     job->out_type == NGX_TUNNY_IMAGE_JPEG
                                     ? p->jpeg_quality : p->webp_quality);
    }

    ngx_tunny_image_geometry(p, info->orientation, info->width, info->height,
                             &job->geo);

    /* image_filter: fits already, no rotation: send as is */

    if (p->angle == 0
        && info->orientation == 1
        && job->out_type == type
        && (p->width == 0 || job->geo.uw <= p->width
            || !(p->ops & (NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_CROP)))
        && (p->height == 0 || job->geo.uh <= p->height
            || !(p->ops & (NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_CROP)))
        /* image_filter forces a re-encode when APPn data is over 5% */
        && !(type == NGX_TUNNY_IMAGE_JPEG
             && job->len / 20 < job->probe.app_bytes))
    {
        return NGX_TUNNY_IMAGE_ASIS;
    }

    max = (job->out_type == NGX_TUNNY_IMAGE_WEBP)
          ? NGX_TUNNY_IMAGE_WEBP_MAX : NGX_TUNNY_IMAGE_JPEG_MAX;

    if (job->geo.cw > max || job->geo.ch > max) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "%ux%u is too large for %s output "
                                     "(max %u)", job->geo.cw, job->geo.ch,
                                     ngx_tunny_image_type_name(job->out_type),
                                     max);
    }

    rc = (type == NGX_TUNNY_IMAGE_JPEG)
         ? ngx_tunny_image_jpeg_decode(job)
         : ngx_tunny_image_webp_decode(job);

    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    rc = ngx_tunny_image_resample(job, job->geo.tw, job->geo.th);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    rc = ngx_tunny_image_transform(job);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (p->sharpen > 0) {
        rc = ngx_tunny_image_sharpen(job, p->sharpen);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    rc = ngx_tunny_image_prepare_encode(job);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (ngx_tunny_image_cancelled(p->cancel)) {
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_ECANCEL,
                                     "cancelled");
    }

    rc = (job->out_type == NGX_TUNNY_IMAGE_JPEG)
         ? ngx_tunny_image_jpeg_encode(job)
         : ngx_tunny_image_webp_encode(job);

    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    res->type = job->out_type;
    res->width = job->pix.width;
    res->height = job->pix.height;

    return NGX_TUNNY_IMAGE_OK;
}


int
ngx_tunny_image_process(ngx_tunny_image_state_t *st,
    const unsigned char *in, size_t len,
    const ngx_tunny_image_params_t *params, ngx_tunny_image_result_t *res)
{
    int                     rc;
    ngx_tunny_image_job_t  *job, j;

    res->data = NULL;
    res->len = 0;
    res->type = NGX_TUNNY_IMAGE_NONE;
    res->width = 0;
    res->height = 0;
    res->error[0] = '\0';

    job = &j;
    memset(job, 0, sizeof(ngx_tunny_image_job_t));

    job->st = st;
    job->params = params;
    job->res = res;
    job->in = in;
    job->len = in ? len : 0;

    rc = ngx_tunny_image_run(job);

    free(job->icc);

    if (rc != NGX_TUNNY_IMAGE_OK) {
        free(res->data);
        res->data = NULL;
        res->len = 0;

        if (rc != NGX_TUNNY_IMAGE_ASIS) {
            res->type = NGX_TUNNY_IMAGE_NONE;
            res->width = 0;
            res->height = 0;
        }
    }

    return rc;
}
