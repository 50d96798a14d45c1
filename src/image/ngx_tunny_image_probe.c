
/*
 * ngx_tunny_module: what the first bytes of an image say (see
 * ngx_tunny_image.h): the type from the magic bytes, the dimensions and
 * the EXIF orientation from the header.  No decoding, no allocation, no
 * state: the HTTP module calls these in the event loop.
 */


#include <string.h>

#include "ngx_tunny_image_int.h"


/* the types: names, and whether the library transforms them */

/* a header probe: 1 with the dimensions in info, or 0 and info->error */
typedef int (*ngx_tunny_image_probe_pt)(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info);


typedef struct {
    const char                     *name;
    const char                     *mime;
    int                             transforms;
    ngx_tunny_image_probe_pt        probe;
    const char                     *zero;          /* the probe's error */
} ngx_tunny_image_type_t;


static int ngx_tunny_image_probe_jpeg(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info);
static int ngx_tunny_image_probe_webp(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info);
static int ngx_tunny_image_probe_png(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info);
static int ngx_tunny_image_probe_gif(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info);
static int ngx_tunny_image_sniff_heic(const unsigned char *p, size_t len);


/* indexed by the type: NGX_TUNNY_IMAGE_NONE .. NGX_TUNNY_IMAGE_HEIC */

static const ngx_tunny_image_type_t  ngx_tunny_image_types[] = {
    { "", "", 0, NULL, NULL },
    { "jpeg", "image/jpeg", 1, ngx_tunny_image_probe_jpeg,
      "JPEG with zero width or height" },
    { "webp", "image/webp", 1, ngx_tunny_image_probe_webp,
      "WebP with zero width or height" },
    { "png", "image/png", 1, ngx_tunny_image_probe_png,
      "PNG with zero width or height" },
    { "gif", "image/gif", 1, ngx_tunny_image_probe_gif,
      "GIF with zero width or height" },
    [NGX_TUNNY_IMAGE_HEIC] =
    { "heic", "image/heic", 1, ngx_tunny_image_heif_probe,
      "HEIC with zero width or height" }
};


static const ngx_tunny_image_type_t *
ngx_tunny_image_type(int type)
{
    if (type < 0
        || type >= (int) (sizeof(ngx_tunny_image_types)
                          / sizeof(ngx_tunny_image_types[0]))
        || ngx_tunny_image_types[type].name == NULL)
    {
        type = NGX_TUNNY_IMAGE_NONE;
    }

    return &ngx_tunny_image_types[type];
}


const char *
ngx_tunny_image_type_name(int type)
{
    return ngx_tunny_image_type(type)->name;
}


const char *
ngx_tunny_image_mime_type(int type)
{
    return ngx_tunny_image_type(type)->mime;
}


int
ngx_tunny_image_transforms(int type)
{
    return ngx_tunny_image_type(type)->transforms;
}


int
ngx_tunny_image_sniff(const unsigned char *p, size_t len)
{
    if (p == NULL || len < 3) {
        return NGX_TUNNY_IMAGE_NONE;
    }

    if (p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        return NGX_TUNNY_IMAGE_JPEG;
    }

    if (len >= 12 && memcmp(p, "RIFF", 4) == 0
        && memcmp(p + 8, "WEBP", 4) == 0)
    {
        return NGX_TUNNY_IMAGE_WEBP;
    }

    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
        return NGX_TUNNY_IMAGE_PNG;
    }

    if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0
                     || memcmp(p, "GIF89a", 6) == 0))
    {
        return NGX_TUNNY_IMAGE_GIF;
    }

    if (ngx_tunny_image_sniff_heic(p, len)) {
        return NGX_TUNNY_IMAGE_HEIC;
    }

    return NGX_TUNNY_IMAGE_NONE;
}


/*
 * HEIC: an ftyp with one of the HEVC brands (heic heix hevc hevx heim heis
 * hevm hevs), or the generic mif1/msf1 (no AVIF brand) with an HEVC
 * primary image when the meta box is within the bytes given
 */

static int
ngx_tunny_image_sniff_heic(const unsigned char *p, size_t len)
{
    int  generic;

    if (ngx_tunny_image_heif_brands(p, len, &generic)) {
        return 1;
    }

    return generic && ngx_tunny_image_heif_is_hevc(p, len);
}


/* byte order */

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


/* headers */

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
    ngx_tunny_image_info_t *info)
{
    int       exif;
    size_t    pos, seg;
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
            info->error = "JPEG without a frame header";
            return 0;
        }

        if (len - pos < 2) {
            break;
        }

        seg = ngx_tunny_image_be16(p + pos);
        if (seg < 2) {
            info->error = "bad JPEG marker length";
            return 0;
        }

        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {

            /* SOFn: length, precision, height, width, components */

            if (seg < 8) {
                info->error = "bad JPEG frame header";
                return 0;
            }

            if (len - pos < 7) {
                break;
            }

            info->height = ngx_tunny_image_be16(p + pos + 3);
            info->width = ngx_tunny_image_be16(p + pos + 5);

            return 1;
        }

        if (m >= 0xe0 && m <= 0xef) {
            info->app_bytes += seg + 2;

            if (m == 0xe1 && !exif && seg >= 8 && len - pos >= seg
                && memcmp(p + pos + 2, "Exif\0\0", 6) == 0)
            {
                exif = 1;
                info->orientation =
                    ngx_tunny_image_exif_orientation(p + pos + 8, seg - 8);
            }
        }

        if (len - pos < seg) {
            break;
        }

        pos += seg;
    }

    info->error = "truncated JPEG header";

    return 0;
}


static int
ngx_tunny_image_probe_webp(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info)
{
    uint32_t  bits;

    if (len < 30 && !(len >= 25 && memcmp(p + 12, "VP8L", 4) == 0)) {
        info->error = "truncated WebP header";
        return 0;
    }

    if (memcmp(p + 12, "VP8 ", 4) == 0) {
        if (p[23] != 0x9d || p[24] != 0x01 || p[25] != 0x2a) {
            info->error = "bad VP8 frame header";
            return 0;
        }

        info->width = ngx_tunny_image_le16(p + 26) & 0x3fff;
        info->height = ngx_tunny_image_le16(p + 28) & 0x3fff;

        return 1;
    }

    if (memcmp(p + 12, "VP8L", 4) == 0) {
        if (p[20] != 0x2f) {
            info->error = "bad VP8L header";
            return 0;
        }

        bits = ngx_tunny_image_le32(p + 21);
        info->width = (bits & 0x3fff) + 1;
        info->height = ((bits >> 14) & 0x3fff) + 1;

        return 1;
    }

    if (memcmp(p + 12, "VP8X", 4) == 0) {
        info->vp8x_flags = p[20];
        info->width = ngx_tunny_image_le24(p + 24) + 1;
        info->height = ngx_tunny_image_le24(p + 27) + 1;

        return 1;
    }

    info->error = "unknown WebP chunk";

    return 0;
}


static int
ngx_tunny_image_probe_png(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info)
{
    if (len < 24 || memcmp(p + 12, "IHDR", 4) != 0) {
        info->error = "truncated PNG header";
        return 0;
    }

    if (ngx_tunny_image_be32(p + 8) != 13) {
        info->error = "bad PNG IHDR length";
        return 0;
    }

    if ((p[16] | p[20]) & 0x80) {
        /* the PNG limit: 2^31 - 1 */
        info->error = "bad PNG dimensions";
        return 0;
    }

    info->width = ngx_tunny_image_be32(p + 16);
    info->height = ngx_tunny_image_be32(p + 20);

    return 1;
}


static int
ngx_tunny_image_probe_gif(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info)
{
    if (len < 10) {
        info->error = "truncated GIF header";
        return 0;
    }

    info->width = ngx_tunny_image_le16(p + 6);
    info->height = ngx_tunny_image_le16(p + 8);

    return 1;
}


int
ngx_tunny_image_probe(const unsigned char *in, size_t len,
    ngx_tunny_image_info_t *info)
{
    int                            ok, type;
    const char                    *error;
    const ngx_tunny_image_type_t  *t;

    memset(info, 0, sizeof(ngx_tunny_image_info_t));
    info->orientation = 1;
    info->type = ngx_tunny_image_sniff(in, len);

    t = ngx_tunny_image_type(info->type);

    if (t->probe == NULL) {
        info->error = "not an image";
        ok = 0;

    } else {
        ok = t->probe(in, len, info);
    }

    if (ok && info->width != 0 && info->height != 0) {
        return NGX_TUNNY_IMAGE_OK;
    }

    /* the sniffed type and the reason stay, nothing else */

    type = info->type;
    error = ok ? t->zero : info->error;

    memset(info, 0, sizeof(ngx_tunny_image_info_t));
    info->type = type;
    info->orientation = 1;
    info->error = error;

    return NGX_TUNNY_IMAGE_EINPUT;
}
