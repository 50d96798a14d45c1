
/*
 * ngx_tunny_module: HEIC, the HEVC-coded images of HEIF (phone photos).
 *
 * Two parts:
 *
 *   The header probe (always built, no library): the ISO BMFF boxes
 *   ftyp, meta (pitm, iinf, iref, iloc, idat, iprp: ipco + ipma) read in
 *   place, no allocation, no state, bounded by the input: the primary
 *   item, its type (hvc1, or a grid of hvc1 tiles), its size from ispe
 *   with irot applied (the displayed size; libheif reports the same);
 *   for a grid its descriptor (rows x columns = the tiles, its output,
 *   the canvas libheif allocates, no larger than the ispe) and the work
 *   bound: at most NGX_TUNNY_IMAGE_HEIF_MAX_TILES tiles, together no more
 *   pixels than the rows and columns that cover the grid, (w + tw) x
 *   (h + th); for every HEVC item (image, tile, alpha) the coded size of
 *   its SPS (what libde265 allocates) within 64 of its ispe, and no item
 *   larger than the image.  The HTTP module
 *   calls it in the event loop (through ngx_tunny_image_probe()), so its
 *   loops are bounded: at most NGX_TUNNY_IMAGE_HEIF_MAX_PROPS properties
 *   and NGX_TUNNY_IMAGE_HEIF_MAX_ITEMS items, each box read once per
 *   question (a few passes over meta in all).
 *
 *   The decoder (libheif with libde265; built when src/image/Makefile
 *   finds libheif, else a HEIC answers "HEIC support not built"): the
 *   primary image, decoded by heif_decode_image() to interleaved 8-bit
 *   RGB or, with an alpha auxiliary image, RGBA.  libheif applies the
 *   transformative properties (irot, imir, clap) itself; the EXIF
 *   orientation of a HEIF is informative (HEIF and MIAF: the properties
 *   are the orientation, an Exif Orientation tag only describes it, and
 *   writers such as Apple's set both), so it is never applied on top:
 *   the orientation is applied exactly once.  The ICC profile (colr
 *   rICC / prof) is kept as the other decoders keep theirs.
 *
 * Limits, before pixel memory: max_pixels on the probe's size (in the
 * loop and again here), libheif's own size limit per item side
 * (heif_context_set_maximum_image_size_limit(), which it checks on every
 * ispe while reading the boxes), the size of the image handle checked
 * against the probe.  Tiles are decoded in this thread
 * (heif_context_set_max_decoding_threads(0)); libheif's libde265 plugin
 * runs one worker thread of its own per HEVC stream.
 *
 * Cancellation: libheif 1.15 has no cancel hook (its progress callbacks
 * cannot stop a decode; cancel_decoding came with 1.17), so the flag is
 * looked at before the decode, after it, and every
 * NGX_TUNNY_IMAGE_CHECK_ROWS rows of the copy: a cancelled job runs on
 * for at most one heif_decode_image() of the whole image (its cost per
 * megapixel is in the README).
 *
 * Runs in the thread of ngx_tunny_image_process(), except the probe
 * functions (any thread, the event loop among them); each decode has its
 * own libheif context, freed before it returns.
 */


#include <stdlib.h>
#include <string.h>

#if (NGX_TUNNY_IMAGE_HAVE_HEIF)
#include <libheif/heif.h>
#endif

#include "ngx_tunny_image_int.h"


#define NGX_TUNNY_IMAGE_HEIF_MAX_PROPS   512     /* ipco children */
#define NGX_TUNNY_IMAGE_HEIF_MAX_ITEMS   8192    /* iinf, ipma entries */
#define NGX_TUNNY_IMAGE_HEIF_MAX_TILES   1024    /* of a grid */
#define NGX_TUNNY_IMAGE_HEIF_MAX_ICC     (16 * 1024 * 1024)

#define ngx_tunny_image_heif_4cc(s)                                          \
    ((uint32_t) (unsigned char) (s)[0] << 24                                 \
     | (uint32_t) (unsigned char) (s)[1] << 16                               \
     | (uint32_t) (unsigned char) (s)[2] << 8                                \
     | (uint32_t) (unsigned char) (s)[3])


/* a box read in place: its type and payload */
typedef struct {
    uint32_t                        type;
    const unsigned char            *p;             /* payload */
    size_t                          len;
} ngx_tunny_image_heif_box_t;


/* what the probe knows of the meta box */
typedef struct {
    ngx_tunny_image_heif_box_t      iinf;
    ngx_tunny_image_heif_box_t      iref;
    ngx_tunny_image_heif_box_t      ipma;
    ngx_tunny_image_heif_box_t      iloc;
    ngx_tunny_image_heif_box_t      idat;
    const unsigned char            *file;          /* the input */
    size_t                          file_len;
    unsigned                        iinf_version;
    unsigned                        iref_version;
    unsigned                        ipma_version;
    unsigned                        ipma_flags;
    uint32_t                        primary;
    int                             has_primary;

    /* the children of ipco, 1-based as ipma counts them */
    unsigned                        nprops;
    ngx_tunny_image_heif_box_t      props[NGX_TUNNY_IMAGE_HEIF_MAX_PROPS];
} ngx_tunny_image_heif_meta_t;


/* a walk over the entries of iinf or ipma */
typedef struct {
    const unsigned char            *pos;           /* NULL: not started */
    const unsigned char            *end;
    uint32_t                        n;
    uint32_t                        i;
} ngx_tunny_image_heif_iter_t;


/* the properties of one item the probe needs */
typedef struct {
    int                             has_ispe;
    uint32_t                        width;
    uint32_t                        height;
    unsigned                        irot;          /* 0..3, x 90 ccw */
    const ngx_tunny_image_heif_box_t  *hvcc;       /* or NULL */
} ngx_tunny_image_heif_props_t;


/* an HEVC bit string, the emulation prevention bytes taken out */
typedef struct {
    const unsigned char            *p;
    const unsigned char            *end;
    unsigned                        zeros;
    unsigned                        cur;
    unsigned                        left;
    int                             err;
} ngx_tunny_image_heif_bits_t;


static uint32_t ngx_tunny_image_heif_be32(const unsigned char *p);
static int ngx_tunny_image_heif_box(const unsigned char **pos,
    const unsigned char *end, ngx_tunny_image_heif_box_t *box);
static int ngx_tunny_image_heif_meta(const unsigned char *p, size_t len,
    ngx_tunny_image_heif_meta_t *m, const char **error);
static int ngx_tunny_image_heif_iinf_next(ngx_tunny_image_heif_meta_t *m,
    ngx_tunny_image_heif_iter_t *it, uint32_t *id, uint32_t *type);
static int ngx_tunny_image_heif_ipma_next(ngx_tunny_image_heif_meta_t *m,
    ngx_tunny_image_heif_iter_t *it, uint32_t *id,
    ngx_tunny_image_heif_props_t *pr);
static int ngx_tunny_image_heif_item_type(ngx_tunny_image_heif_meta_t *m,
    uint32_t id, uint32_t *type);
static int ngx_tunny_image_heif_item_props(ngx_tunny_image_heif_meta_t *m,
    uint32_t id, ngx_tunny_image_heif_props_t *pr);
static int ngx_tunny_image_heif_tiles(ngx_tunny_image_heif_meta_t *m,
    uint32_t grid, uint32_t *tiles, unsigned *n);
static int ngx_tunny_image_heif_grid(ngx_tunny_image_heif_meta_t *m,
    const ngx_tunny_image_heif_props_t *gp, uint64_t *bound,
    const char **error);
static int ngx_tunny_image_heif_id_cmp(const void *a, const void *b);
static int ngx_tunny_image_heif_item_data(ngx_tunny_image_heif_meta_t *m,
    uint32_t id, const unsigned char **data, size_t *len);
static int ngx_tunny_image_heif_coded(ngx_tunny_image_heif_meta_t *m,
    uint64_t bound, const char **error);
static int ngx_tunny_image_heif_sps(const ngx_tunny_image_heif_box_t *hvcc,
    uint32_t *w, uint32_t *h);


/* reading boxes */

static uint32_t
ngx_tunny_image_heif_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}


static uint32_t
ngx_tunny_image_heif_be16(const unsigned char *p)
{
    return (uint32_t) p[0] << 8 | p[1];
}


/*
 * The box at *pos: 1 and *pos past it; 0 at the end, -1 for a box that
 * lies about its size (shorter than its header, longer than its parent).
 * A size 0 box reaches the end of its parent.
 */

static int
ngx_tunny_image_heif_box(const unsigned char **pos, const unsigned char *end,
    ngx_tunny_image_heif_box_t *box)
{
    size_t                hdr, avail;
    uint64_t              size;
    const unsigned char  *p;

    p = *pos;
    avail = (size_t) (end - p);

    if (avail == 0) {
        return 0;
    }

    if (avail < 8) {
        return -1;
    }

    size = ngx_tunny_image_heif_be32(p);
    box->type = ngx_tunny_image_heif_be32(p + 4);
    hdr = 8;

    if (size == 1) {
        if (avail < 16) {
            return -1;
        }

        size = (uint64_t) ngx_tunny_image_heif_be32(p + 8) << 32
               | ngx_tunny_image_heif_be32(p + 12);
        hdr = 16;

    } else if (size == 0) {
        size = avail;
    }

    if (size < hdr || size > avail) {
        return -1;
    }

    box->p = p + hdr;
    box->len = (size_t) size - hdr;
    *pos = p + (size_t) size;

    return 1;
}


/* ftyp: is this an HEIC by its brands?  see ngx_tunny_image_sniff() */

int
ngx_tunny_image_heif_brands(const unsigned char *p, size_t len, int *generic)
{
    size_t    size, i;
    uint32_t  b;

    *generic = 0;

    if (len < 16 || memcmp(p + 4, "ftyp", 4) != 0) {
        return 0;
    }

    size = ngx_tunny_image_heif_be32(p);

    if (size < 16) {
        return 0;
    }

    if (size > len) {
        size = len;
    }

    /* the major brand, then the compatible ones (the minor version is
     * skipped) */

    for (i = 8; i + 4 <= size; i += 4) {

        if (i == 12) {
            continue;
        }

        b = ngx_tunny_image_heif_be32(p + i);

        switch (b) {

        case 0x68656963:    /* heic */
        case 0x68656978:    /* heix */
        case 0x68657663:    /* hevc */
        case 0x68657678:    /* hevx */
        case 0x6865696d:    /* heim */
        case 0x68656973:    /* heis */
        case 0x6865766d:    /* hevm */
        case 0x68657673:    /* hevs */
            return 1;

        case 0x61766966:    /* avif: AVIF's, whatever else it says */
        case 0x61766973:    /* avis */
            *generic = 0;
            return 0;

        case 0x6d696631:    /* mif1 */
        case 0x6d736631:    /* msf1 */
            *generic = 1;
            break;

        default:
            break;
        }
    }

    return 0;
}


/* the parts of meta the questions below read, ipco indexed */

static int
ngx_tunny_image_heif_meta(const unsigned char *p, size_t len,
    ngx_tunny_image_heif_meta_t *m, const char **error)
{
    int                          rc, found;
    const unsigned char         *pos, *end, *q, *qend;
    ngx_tunny_image_heif_box_t   box, child, prop;

    memset(m, 0, offsetof(ngx_tunny_image_heif_meta_t, props));

    m->file = p;
    m->file_len = len;

    /* the top-level boxes up to meta; mdat and the rest are not read */

    pos = p;
    end = p + len;
    found = 0;

    while ((rc = ngx_tunny_image_heif_box(&pos, end, &box)) == 1) {
        if (box.type == ngx_tunny_image_heif_4cc("meta")) {
            found = 1;
            break;
        }
    }

    if (!found) {
        *error = (rc < 0) ? "truncated or corrupt HEIF box"
                          : "HEIF without a meta box";
        return 0;
    }

    if (box.len < 4) {
        *error = "truncated HEIF meta box";
        return 0;
    }

    /* meta is a full box: version and flags, then its children */

    pos = box.p + 4;
    end = box.p + box.len;

    while ((rc = ngx_tunny_image_heif_box(&pos, end, &child)) == 1) {

        switch (child.type) {

        case 0x7069746d:    /* pitm */
            if (child.len < 6) {
                break;
            }

            m->primary = (child.p[0] == 0)
                         ? ngx_tunny_image_heif_be16(child.p + 4)
                         : (child.len >= 8
                            ? ngx_tunny_image_heif_be32(child.p + 4) : 0);
            m->has_primary = (child.p[0] == 0 || child.len >= 8);
            break;

        case 0x69696e66:    /* iinf */
            if (child.len >= 4) {
                m->iinf = child;
                m->iinf_version = child.p[0];
            }
            break;

        case 0x69726566:    /* iref */
            if (child.len >= 4) {
                m->iref = child;
                m->iref_version = child.p[0];
            }
            break;

        case 0x696c6f63:    /* iloc */
            if (child.len >= 8) {
                m->iloc = child;
            }
            break;

        case 0x69646174:    /* idat */
            m->idat = child;
            break;

        case 0x69707270:    /* iprp: ipco and ipma */
            q = child.p;
            qend = child.p + child.len;

            while (ngx_tunny_image_heif_box(&q, qend, &prop) == 1) {

                if (prop.type == ngx_tunny_image_heif_4cc("ipma")
                    && prop.len >= 8 && m->ipma.p == NULL)
                {
                    m->ipma = prop;
                    m->ipma_version = prop.p[0];
                    m->ipma_flags = prop.p[3];

                } else if (prop.type == ngx_tunny_image_heif_4cc("ipco")
                           && m->nprops == 0)
                {
                    const unsigned char  *c, *cend;

                    c = prop.p;
                    cend = prop.p + prop.len;

                    while (ngx_tunny_image_heif_box(&c, cend,
                                                    &m->props[m->nprops])
                           == 1)
                    {
                        if (++m->nprops == NGX_TUNNY_IMAGE_HEIF_MAX_PROPS) {
                            *error = "HEIF with too many properties";
                            return 0;
                        }
                    }
                }
            }

            break;

        default:
            break;
        }
    }

    if (rc < 0) {
        *error = "truncated or corrupt HEIF meta box";
        return 0;
    }

    if (!m->has_primary || m->iinf.p == NULL) {
        *error = "HEIF without a primary image";
        return 0;
    }

    if (m->ipma.p == NULL || m->nprops == 0) {
        *error = "HEIF without item properties";
        return 0;
    }

    return 1;
}


/*
 * The entries of iinf, one at a time (infe version 2 or 3, the others
 * skipped): 1 with the item's id and type, 0 at the end or on a lie.
 */

static int
ngx_tunny_image_heif_iinf_next(ngx_tunny_image_heif_meta_t *m,
    ngx_tunny_image_heif_iter_t *it, uint32_t *id, uint32_t *type)
{
    size_t                       hdr;
    ngx_tunny_image_heif_box_t   infe;

    if (it->pos == NULL) {
        hdr = (m->iinf_version == 0) ? 6 : 8;

        if (m->iinf.len < hdr) {
            return 0;
        }

        it->n = (m->iinf_version == 0)
                ? ngx_tunny_image_heif_be16(m->iinf.p + 4)
                : ngx_tunny_image_heif_be32(m->iinf.p + 4);
        it->pos = m->iinf.p + hdr;
        it->end = m->iinf.p + m->iinf.len;
        it->i = 0;
    }

    while (it->i < it->n && it->i < NGX_TUNNY_IMAGE_HEIF_MAX_ITEMS) {
        it->i++;

        if (ngx_tunny_image_heif_box(&it->pos, it->end, &infe) != 1) {
            return 0;
        }

        if (infe.type != ngx_tunny_image_heif_4cc("infe") || infe.len < 4) {
            continue;
        }

        if (infe.p[0] == 2 && infe.len >= 12) {
            *id = ngx_tunny_image_heif_be16(infe.p + 4);
            *type = ngx_tunny_image_heif_be32(infe.p + 8);
            return 1;
        }

        if (infe.p[0] == 3 && infe.len >= 14) {
            *id = ngx_tunny_image_heif_be32(infe.p + 4);
            *type = ngx_tunny_image_heif_be32(infe.p + 10);
            return 1;
        }
    }

    return 0;
}


/*
 * The entries of ipma, one at a time: 1 with the item's id and its ispe
 * and irot (the properties it is associated with), 0 at the end or on a
 * lie.
 */

static int
ngx_tunny_image_heif_ipma_next(ngx_tunny_image_heif_meta_t *m,
    ngx_tunny_image_heif_iter_t *it, uint32_t *id,
    ngx_tunny_image_heif_props_t *pr)
{
    size_t                        idlen, alen;
    unsigned                      k, count, index;
    ngx_tunny_image_heif_box_t   *prop;

    idlen = (m->ipma_version < 1) ? 2 : 4;
    alen = (m->ipma_flags & 1) ? 2 : 1;

    if (it->pos == NULL) {
        it->n = ngx_tunny_image_heif_be32(m->ipma.p + 4);
        it->pos = m->ipma.p + 8;
        it->end = m->ipma.p + m->ipma.len;
        it->i = 0;
    }

    if (it->i >= it->n || it->i >= NGX_TUNNY_IMAGE_HEIF_MAX_ITEMS
        || (size_t) (it->end - it->pos) < idlen + 1)
    {
        return 0;
    }

    it->i++;

    *id = (idlen == 2) ? ngx_tunny_image_heif_be16(it->pos)
                       : ngx_tunny_image_heif_be32(it->pos);
    count = it->pos[idlen];
    it->pos += idlen + 1;

    if ((size_t) (it->end - it->pos) < count * alen) {
        return 0;
    }

    memset(pr, 0, sizeof(ngx_tunny_image_heif_props_t));

    for (k = 0; k < count; k++, it->pos += alen) {
        index = (alen == 2)
                ? (unsigned) ngx_tunny_image_heif_be16(it->pos) & 0x7fff
                : (unsigned) it->pos[0] & 0x7f;

        if (index == 0 || index > m->nprops) {
            continue;
        }

        prop = &m->props[index - 1];

        if (prop->type == ngx_tunny_image_heif_4cc("ispe")
            && prop->len >= 12 && !pr->has_ispe)
        {
            pr->has_ispe = 1;
            pr->width = ngx_tunny_image_heif_be32(prop->p + 4);
            pr->height = ngx_tunny_image_heif_be32(prop->p + 8);

        } else if (prop->type == ngx_tunny_image_heif_4cc("irot")
                   && prop->len >= 1 && pr->has_ispe)
        {
            /*
             * a transformation applies to the ispe before it (the order
             * HEIF prescribes, and the one libheif reads the size in:
             * libheif 1.15 itself writes an ispe already rotated, after
             * its irot)
             */
            pr->irot = prop->p[0] & 3;

        } else if (prop->type == ngx_tunny_image_heif_4cc("hvcC")) {
            pr->hvcc = prop;
        }
    }

    return 1;
}


/* the item type of one item: 1, or 0 if not listed */

static int
ngx_tunny_image_heif_item_type(ngx_tunny_image_heif_meta_t *m, uint32_t id,
    uint32_t *type)
{
    uint32_t                      item, t;
    ngx_tunny_image_heif_iter_t   it;

    memset(&it, 0, sizeof(ngx_tunny_image_heif_iter_t));

    while (ngx_tunny_image_heif_iinf_next(m, &it, &item, &t)) {
        if (item == id) {
            *type = t;
            return 1;
        }
    }

    return 0;
}


/* ispe and irot of one item: 1, or 0 if it has no ipma entry */

static int
ngx_tunny_image_heif_item_props(ngx_tunny_image_heif_meta_t *m, uint32_t id,
    ngx_tunny_image_heif_props_t *pr)
{
    uint32_t                      item;
    ngx_tunny_image_heif_iter_t   it;

    memset(&it, 0, sizeof(ngx_tunny_image_heif_iter_t));

    while (ngx_tunny_image_heif_ipma_next(m, &it, &item, pr)) {
        if (item == id) {
            return 1;
        }
    }

    memset(pr, 0, sizeof(ngx_tunny_image_heif_props_t));

    return 0;
}


/*
 * The dimg references of a grid item, at most MAX_TILES, in tiles[]: 1
 * (n = 0 without any), 0 for too many, -1 for a reference box that lies.
 */

static int
ngx_tunny_image_heif_tiles(ngx_tunny_image_heif_meta_t *m, uint32_t grid,
    uint32_t *tiles, unsigned *n)
{
    size_t                       idlen;
    uint32_t                     from, count, k;
    const unsigned char         *pos, *end, *r;
    ngx_tunny_image_heif_box_t   ref;

    *n = 0;

    if (m->iref.p == NULL) {
        return 1;
    }

    idlen = (m->iref_version == 0) ? 2 : 4;
    pos = m->iref.p + 4;
    end = m->iref.p + m->iref.len;

    while (ngx_tunny_image_heif_box(&pos, end, &ref) == 1) {

        if (ref.type != ngx_tunny_image_heif_4cc("dimg")
            || ref.len < idlen + 2)
        {
            continue;
        }

        r = ref.p;
        from = (idlen == 2) ? ngx_tunny_image_heif_be16(r)
                            : ngx_tunny_image_heif_be32(r);
        count = ngx_tunny_image_heif_be16(r + idlen);
        r += idlen + 2;

        if (from != grid) {
            continue;
        }

        if (count > NGX_TUNNY_IMAGE_HEIF_MAX_TILES) {
            return 0;
        }

        if ((size_t) (ref.p + ref.len - r) < count * idlen) {
            return -1;
        }

        for (k = 0; k < count; k++, r += idlen) {
            tiles[k] = (idlen == 2) ? ngx_tunny_image_heif_be16(r)
                                    : ngx_tunny_image_heif_be32(r);
        }

        *n = count;

        return 1;
    }

    return 1;
}


static int
ngx_tunny_image_heif_id_cmp(const void *a, const void *b)
{
    uint32_t  x, y;

    x = *(const uint32_t *) a;
    y = *(const uint32_t *) b;

    return (x > y) - (x < y);
}


/*
 * The first extent of an item's data, through iloc (versions 0..2,
 * construction method 0, the file, or 1, idat): 1 with it, 0 when the
 * item has no location, -1 for a location that lies.
 */

static uint64_t
ngx_tunny_image_heif_uint(const unsigned char *p, unsigned size)
{
    uint64_t  v;

    v = 0;

    while (size--) {
        v = v << 8 | *p++;
    }

    return v;
}


static int
ngx_tunny_image_heif_item_data(ngx_tunny_image_heif_meta_t *m, uint32_t id,
    const unsigned char **data, size_t *len)
{
    unsigned              version, osize, lsize, bsize, isize, method;
    uint32_t              n, i, item, extents;
    uint64_t              base, off, length;
    const unsigned char  *p, *end, *from;
    size_t                from_len, need;

    if (m->iloc.p == NULL) {
        return 0;
    }

    p = m->iloc.p;
    end = m->iloc.p + m->iloc.len;
    version = p[0];

    if (version > 2) {
        return -1;
    }

    osize = p[4] >> 4;
    lsize = p[4] & 15;
    bsize = p[5] >> 4;
    isize = (version == 1 || version == 2) ? (p[5] & 15) : 0;

    if ((osize != 0 && osize != 4 && osize != 8)
        || (lsize != 0 && lsize != 4 && lsize != 8)
        || (bsize != 0 && bsize != 4 && bsize != 8)
        || (isize != 0 && isize != 4 && isize != 8))
    {
        return -1;
    }

    if (version < 2) {
        n = ngx_tunny_image_heif_be16(p + 6);
        p += 8;

    } else {
        if (m->iloc.len < 10) {
            return -1;
        }

        n = ngx_tunny_image_heif_be32(p + 6);
        p += 10;
    }

    for (i = 0; i < n && i < NGX_TUNNY_IMAGE_HEIF_MAX_ITEMS; i++) {

        need = (version < 2 ? 2 : 4) + (version ? 2 : 0) + 2 + bsize + 2;

        if ((size_t) (end - p) < need) {
            return -1;
        }

        item = (version < 2) ? ngx_tunny_image_heif_be16(p)
                             : ngx_tunny_image_heif_be32(p);
        p += (version < 2) ? 2 : 4;

        method = 0;

        if (version) {
            method = ngx_tunny_image_heif_be16(p) & 15;
            p += 2;
        }

        p += 2;                                 /* data_reference_index */
        base = ngx_tunny_image_heif_uint(p, bsize);
        p += bsize;
        extents = ngx_tunny_image_heif_be16(p);
        p += 2;

        need = (size_t) extents * (isize + osize + lsize);

        if ((size_t) (end - p) < need) {
            return -1;
        }

        if (item != id) {
            p += need;
            continue;
        }

        if (extents == 0 || method > 1) {
            return -1;
        }

        p += isize;
        off = ngx_tunny_image_heif_uint(p, osize);
        p += osize;
        length = ngx_tunny_image_heif_uint(p, lsize);

        if (method == 0) {
            from = m->file;
            from_len = m->file_len;

        } else {
            from = m->idat.p;
            from_len = m->idat.len;
        }

        if (from == NULL || base > from_len || off > from_len - base) {
            return -1;
        }

        off += base;

        /* length 0: to the end */

        if (length > from_len - off) {
            return -1;
        }

        if (length == 0) {
            length = from_len - off;
        }

        *data = from + off;
        *len = (size_t) length;

        return 1;
    }

    return 0;
}


/*
 * A grid's tiles: HEVC, each with its size, together no more pixels than
 * the rows and columns that cover the grid hold, (w + tw) x (h + th):
 * tiles that repeat one small HEVC stream thousands of times (iloc may
 * point every tile at the same bytes, and a tile listed twice is decoded
 * twice) are a work bomb.  The tile ids sorted and counted, then one pass
 * over iinf and one over ipma, each entry looked up by bisection.
 */

static int
ngx_tunny_image_heif_grid(ngx_tunny_image_heif_meta_t *m,
    const ngx_tunny_image_heif_props_t *gp, uint64_t *bound,
    const char **error)
{
    int                           rc;
    size_t                        dlen;
    uint32_t                      id, type, *u, ow, oh;
    unsigned                      n, nu, i, k;
    uint64_t                      area, cover, tw, th;
    const unsigned char          *d;
    ngx_tunny_image_heif_iter_t   it;
    ngx_tunny_image_heif_props_t  tp;
    uint32_t                      tiles[NGX_TUNNY_IMAGE_HEIF_MAX_TILES];
    uint16_t                      mult[NGX_TUNNY_IMAGE_HEIF_MAX_TILES];
    unsigned char                 seen[NGX_TUNNY_IMAGE_HEIF_MAX_TILES];

    rc = ngx_tunny_image_heif_tiles(m, m->primary, tiles, &n);

    if (rc == 0) {
        *error = "HEIC grid with too many tiles";
        return 0;
    }

    if (rc < 0 || n == 0) {
        *error = "HEIC grid without tiles";
        return 0;
    }

    /* the distinct ids in tiles[0 .. nu), how often each is listed */

    qsort(tiles, n, sizeof(uint32_t), ngx_tunny_image_heif_id_cmp);

    nu = 0;

    for (i = 0; i < n; i++) {
        if (nu > 0 && tiles[nu - 1] == tiles[i]) {
            mult[nu - 1]++;
            continue;
        }

        tiles[nu] = tiles[i];
        mult[nu] = 1;
        seen[nu] = 0;
        nu++;
    }

    memset(&it, 0, sizeof(ngx_tunny_image_heif_iter_t));

    while (ngx_tunny_image_heif_iinf_next(m, &it, &id, &type)) {
        u = bsearch(&id, tiles, nu, sizeof(uint32_t),
                    ngx_tunny_image_heif_id_cmp);
        if (u == NULL) {
            continue;
        }

        if (type != ngx_tunny_image_heif_4cc("hvc1")) {
            *error = "HEIC grid tile that is not HEVC";
            return 0;
        }

        seen[u - tiles] |= 1;
    }

    area = 0;
    tw = 0;
    th = 0;

    memset(&it, 0, sizeof(ngx_tunny_image_heif_iter_t));

    while (ngx_tunny_image_heif_ipma_next(m, &it, &id, &tp)) {
        u = bsearch(&id, tiles, nu, sizeof(uint32_t),
                    ngx_tunny_image_heif_id_cmp);
        if (u == NULL || (seen[u - tiles] & 2)) {
            continue;
        }

        if (!tp.has_ispe || tp.width == 0 || tp.height == 0) {
            *error = "HEIC grid tile without a size (ispe)";
            return 0;
        }

        k = (unsigned) (u - tiles);
        seen[k] |= 2;

        area += (uint64_t) tp.width * tp.height * mult[k];
        tw = tp.width > tw ? tp.width : tw;
        th = tp.height > th ? tp.height : th;
    }

    for (k = 0; k < nu; k++) {
        if (!(seen[k] & 1)) {
            *error = "HEIC grid tile that is not HEVC";
            return 0;
        }

        if (!(seen[k] & 2)) {
            *error = "HEIC grid tile without a size (ispe)";
            return 0;
        }
    }

    cover = ((uint64_t) gp->width + tw) * ((uint64_t) gp->height + th);

    if (area > cover) {
        *error = "HEIC grid tiles larger than the grid";
        return 0;
    }

    /*
     * the grid descriptor sizes the canvas libheif allocates: its
     * rows x columns are the tiles, its output no larger than the ispe
     * that max_pixels judged
     */

    rc = ngx_tunny_image_heif_item_data(m, m->primary, &d, &dlen);

    if (rc <= 0 || dlen < 8 || d[0] != 0 || dlen < ((d[1] & 1) ? 12 : 8)) {
        *error = "HEIC grid without a grid descriptor";
        return 0;
    }

    if ((unsigned) (d[2] + 1) * (d[3] + 1) != n) {
        *error = "HEIC grid of a number of tiles other than its rows "
                 "and columns";
        return 0;
    }

    ow = (d[1] & 1) ? ngx_tunny_image_heif_be32(d + 4)
                    : ngx_tunny_image_heif_be16(d + 4);
    oh = (d[1] & 1) ? ngx_tunny_image_heif_be32(d + 8)
                    : ngx_tunny_image_heif_be16(d + 6);

    if (ow > gp->width || oh > gp->height || ow == 0 || oh == 0) {
        *error = "HEIC grid larger than its ispe";
        return 0;
    }

    *bound = cover;

    return 1;
}


/*
 * What libde265 allocates is the coded size of each HEVC stream, from
 * its SPS, not the ispe: every HEVC item (the image, its tiles, its alpha)
 * must have an ispe, and an SPS no larger than it plus one coding block
 * (64) each way; and no item may be larger than the image (bound: its
 * pixels, or the tiles that cover a grid), so that the alpha or a depth
 * map cannot be the bomb.  One pass over ipma.
 */

static int
ngx_tunny_image_heif_coded(ngx_tunny_image_heif_meta_t *m, uint64_t bound,
    const char **error)
{
    int                           rc;
    uint32_t                      id, w, h;
    ngx_tunny_image_heif_iter_t   it;
    ngx_tunny_image_heif_props_t  pr;

    memset(&it, 0, sizeof(ngx_tunny_image_heif_iter_t));

    while (ngx_tunny_image_heif_ipma_next(m, &it, &id, &pr)) {

        if (pr.has_ispe && (uint64_t) pr.width * pr.height > bound) {
            *error = "HEIF item larger than its image";
            return 0;
        }

        if (pr.hvcc == NULL) {
            continue;
        }

        if (!pr.has_ispe) {
            *error = "HEIC image without a size (ispe)";
            return 0;
        }

        rc = ngx_tunny_image_heif_sps(pr.hvcc, &w, &h);

        if (rc < 0) {
            *error = "HEIC with a broken SPS";
            return 0;
        }

        /* either way round: libheif 1.15 writes a rotated ispe */

        if (rc > 0
            && ((uint64_t) w * h > ((uint64_t) pr.width + 64)
                                   * ((uint64_t) pr.height + 64)
                || (w > h ? w : h) > (pr.width > pr.height ? pr.width
                                                           : pr.height)
                                     + 64))
        {
            *error = "HEIC coded size larger than its ispe";
            return 0;
        }
    }

    return 1;
}


static unsigned
ngx_tunny_image_heif_bit(ngx_tunny_image_heif_bits_t *b)
{
    unsigned  c;

    if (b->left == 0) {

        if (b->p >= b->end) {
            b->err = 1;
            return 0;
        }

        c = *b->p++;

        /* 00 00 03: the 03 is not data */

        if (b->zeros >= 2 && c == 3) {
            if (b->p >= b->end) {
                b->err = 1;
                return 0;
            }

            c = *b->p++;
            b->zeros = 0;
        }

        b->zeros = (c == 0) ? b->zeros + 1 : 0;
        b->cur = c;
        b->left = 8;
    }

    b->left--;

    return (b->cur >> b->left) & 1;
}


static uint32_t
ngx_tunny_image_heif_bits(ngx_tunny_image_heif_bits_t *b, unsigned n)
{
    uint32_t  v;

    v = 0;

    while (n--) {
        v = v << 1 | ngx_tunny_image_heif_bit(b);
    }

    return v;
}


static uint32_t
ngx_tunny_image_heif_ue(ngx_tunny_image_heif_bits_t *b)
{
    unsigned  n;

    n = 0;

    while (!ngx_tunny_image_heif_bit(b)) {
        if (b->err || ++n > 31) {
            b->err = 1;
            return 0;
        }
    }

    return (uint32_t) ((1u << n) - 1) + ngx_tunny_image_heif_bits(b, n);
}


/*
 * The coded size in the first SPS of an hvcC (ISO/IEC 14496-15, H.265
 * 7.3.2.2): 1 and the size, 0 without an SPS, -1 for a broken one.
 */

static int
ngx_tunny_image_heif_sps(const ngx_tunny_image_heif_box_t *hvcc, uint32_t *w,
    uint32_t *h)
{
    size_t                        len;
    unsigned                      arrays, nalus, a, k, i, sub;
    unsigned                      profile[8], level[8];
    const unsigned char          *p, *end;
    ngx_tunny_image_heif_bits_t   b;

    if (hvcc->len < 23) {
        return -1;
    }

    p = hvcc->p + 22;
    end = hvcc->p + hvcc->len;
    arrays = *p++;

    for (a = 0; a < arrays; a++) {

        if (end - p < 3) {
            return -1;
        }

        k = p[0] & 0x3f;
        nalus = ngx_tunny_image_heif_be16(p + 1);
        p += 3;

        for (i = 0; i < nalus; i++) {

            if (end - p < 2) {
                return -1;
            }

            len = ngx_tunny_image_heif_be16(p);
            p += 2;

            if ((size_t) (end - p) < len) {
                return -1;
            }

            if (k != 33 || len < 3) {
                p += len;
                continue;
            }

            /* the SPS: after its two-byte NAL header */

            memset(&b, 0, sizeof(ngx_tunny_image_heif_bits_t));
            b.p = p + 2;
            b.end = p + len;

            (void) ngx_tunny_image_heif_bits(&b, 4);
            sub = ngx_tunny_image_heif_bits(&b, 3);
            (void) ngx_tunny_image_heif_bits(&b, 1);

            /* profile_tier_level(1, sub): the general part, 96 bits */

            (void) ngx_tunny_image_heif_bits(&b, 32);
            (void) ngx_tunny_image_heif_bits(&b, 32);
            (void) ngx_tunny_image_heif_bits(&b, 32);

            for (k = 0; k < sub; k++) {
                profile[k] = ngx_tunny_image_heif_bit(&b);
                level[k] = ngx_tunny_image_heif_bit(&b);
            }

            if (sub > 0) {
                (void) ngx_tunny_image_heif_bits(&b, 2 * (8 - sub));
            }

            for (k = 0; k < sub; k++) {
                if (profile[k]) {
                    (void) ngx_tunny_image_heif_bits(&b, 32);
                    (void) ngx_tunny_image_heif_bits(&b, 32);
                    (void) ngx_tunny_image_heif_bits(&b, 24);
                }

                if (level[k]) {
                    (void) ngx_tunny_image_heif_bits(&b, 8);
                }
            }

            (void) ngx_tunny_image_heif_ue(&b);          /* sps id */

            if (ngx_tunny_image_heif_ue(&b) == 3) {     /* chroma format */
                (void) ngx_tunny_image_heif_bit(&b);
            }

            *w = ngx_tunny_image_heif_ue(&b);
            *h = ngx_tunny_image_heif_ue(&b);

            return b.err ? -1 : 1;
        }
    }

    return 0;
}


/* the probe, for ngx_tunny_image_probe(): 1 and the size, or 0 */

int
ngx_tunny_image_heif_probe(const unsigned char *p, size_t len,
    ngx_tunny_image_info_t *info)
{
    uint32_t                       type;
    uint64_t                       bound;
    const char                    *error;
    ngx_tunny_image_heif_props_t   pr;
    ngx_tunny_image_heif_meta_t    m;

    error = NULL;

    if (!ngx_tunny_image_heif_meta(p, len, &m, &error)) {
        info->error = error;
        return 0;
    }

    if (!ngx_tunny_image_heif_item_type(&m, m.primary, &type)) {
        info->error = "HEIF primary item not listed";
        return 0;
    }

    if (type != ngx_tunny_image_heif_4cc("hvc1")
        && type != ngx_tunny_image_heif_4cc("grid"))
    {
        info->error = "HEIF primary image is not HEVC";
        return 0;
    }

    if (!ngx_tunny_image_heif_item_props(&m, m.primary, &pr)
        || !pr.has_ispe)
    {
        info->error = "HEIC primary image without a size (ispe)";
        return 0;
    }

    if (pr.width > 0xffffffu / 2 || pr.height > 0xffffffu / 2) {
        info->error = "bad HEIC dimensions";
        return 0;
    }

    bound = (uint64_t) pr.width * pr.height;

    if (type == ngx_tunny_image_heif_4cc("grid")
        && !ngx_tunny_image_heif_grid(&m, &pr, &bound, &error))
    {
        info->error = error;
        return 0;
    }

    if (!ngx_tunny_image_heif_coded(&m, bound, &error)) {
        info->error = error;
        return 0;
    }

    /* the displayed size: irot 90 or 270 swaps the sides */

    if (pr.irot & 1) {
        info->width = pr.height;
        info->height = pr.width;

    } else {
        info->width = pr.width;
        info->height = pr.height;
    }

    return 1;
}


/* for the sniff: a generic HEIF (mif1/msf1) whose primary image is HEVC */

int
ngx_tunny_image_heif_is_hevc(const unsigned char *p, size_t len)
{
    int                           rc;
    uint32_t                      type;
    unsigned                      n;
    const char                   *error;
    ngx_tunny_image_heif_meta_t   m;
    uint32_t                      tiles[NGX_TUNNY_IMAGE_HEIF_MAX_TILES];

    error = NULL;

    if (!ngx_tunny_image_heif_meta(p, len, &m, &error)
        || !ngx_tunny_image_heif_item_type(&m, m.primary, &type))
    {
        return 0;
    }

    if (type == ngx_tunny_image_heif_4cc("hvc1")) {
        return 1;
    }

    if (type != ngx_tunny_image_heif_4cc("grid")) {
        return 0;
    }

    /* a grid of HEVC tiles, by its first tile; one of too many tiles is
     * still a HEIC (the probe refuses it with that reason) */

    rc = ngx_tunny_image_heif_tiles(&m, m.primary, tiles, &n);

    if (rc == 0) {
        return 1;
    }

    return rc == 1 && n > 0
           && ngx_tunny_image_heif_item_type(&m, tiles[0], &type)
           && type == ngx_tunny_image_heif_4cc("hvc1");
}


#if (NGX_TUNNY_IMAGE_HAVE_HEIF)

/* the decoder, libheif */

static int ngx_tunny_image_heif_fail(ngx_tunny_image_run_t *run,
    const char *what, struct heif_error err);
static void ngx_tunny_image_heif_icc(ngx_tunny_image_run_t *run,
    struct heif_image_handle *h);


int
ngx_tunny_image_heif_decode(ngx_tunny_image_run_t *run)
{
    int                             rc, alpha, w, h, stride, limit;
    unsigned                        ch, y;
    size_t                          row;
    uint64_t                        max;
    const uint8_t                  *plane;
    unsigned char                  *data;
    struct heif_error               err;
    struct heif_image              *img;
    struct heif_context            *ctx;
    struct heif_image_handle       *handle;
    struct heif_decoding_options   *opts;

    img = NULL;
    handle = NULL;
    opts = NULL;

    if (!heif_have_decoder_for_format(heif_compression_HEVC)) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "HEIC support not built (libheif "
                                     "without an HEVC decoder)");
    }

    ctx = heif_context_alloc();
    if (ctx == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding HEIC");
    }

    /*
     * libheif's limit is per side, checked on every ispe as it reads the
     * boxes (tiles, alpha, thumbnails too): no side over max_pixels or
     * over the largest side the encoders write
     */

    max = run->params->max_pixels;
    limit = (max == 0 || max >= 65536) ? 65536 : (int) max + 1;

    heif_context_set_maximum_image_size_limit(ctx, limit);

    /* the tiles in this thread: the pool is the parallelism */
    heif_context_set_max_decoding_threads(ctx, 0);

    err = heif_context_read_from_memory_without_copy(ctx, run->in, run->len,
                                                     NULL);
    if (err.code != heif_error_Ok) {
        rc = ngx_tunny_image_heif_fail(run, "HEIC read failed", err);
        goto done;
    }

    err = heif_context_get_primary_image_handle(ctx, &handle);
    if (err.code != heif_error_Ok) {
        rc = ngx_tunny_image_heif_fail(run, "HEIC read failed", err);
        goto done;
    }

    w = heif_image_handle_get_width(handle);
    h = heif_image_handle_get_height(handle);

    if (w <= 0 || h <= 0) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                   "HEIC with zero width or height");
        goto done;
    }

    rc = ngx_tunny_image_limit(run, (unsigned) w, (unsigned) h);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    /* the probe read ispe and irot; a clean aperture (clap) only cuts */

    if ((unsigned) w > run->info.width || (unsigned) h > run->info.height) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                   "HEIC decode failed: inconsistent "
                                   "headers (%dx%d, ispe %ux%u)", w, h,
                                   run->info.width, run->info.height);
        goto done;
    }

    alpha = heif_image_handle_has_alpha_channel(handle);
    ch = alpha ? 4 : 3;

    ngx_tunny_image_heif_icc(run, handle);
    ngx_tunny_image_icc_check(run, ch);

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    opts = heif_decoding_options_alloc();
    if (opts == NULL) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "out of memory decoding HEIC");
        goto done;
    }

    /* irot, imir and clap applied by libheif: the one orientation */
    opts->ignore_transformations = 0;
    opts->convert_hdr_to_8bit = 1;

    err = heif_decode_image(handle, &img, heif_colorspace_RGB,
                            alpha ? heif_chroma_interleaved_RGBA
                                  : heif_chroma_interleaved_RGB,
                            opts);
    if (err.code != heif_error_Ok) {
        rc = ngx_tunny_image_heif_fail(run, "HEIC decode failed", err);
        goto done;
    }

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    plane = heif_image_get_plane_readonly(img, heif_channel_interleaved,
                                          &stride);

    if (plane == NULL
        || heif_image_get_width(img, heif_channel_interleaved) != w
        || heif_image_get_height(img, heif_channel_interleaved) != h
        || heif_image_get_bits_per_pixel_range(img,
                                               heif_channel_interleaved)
           != 8
        || stride < w * (int) ch)
    {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                   "HEIC decode failed: unexpected "
                                   "pixel layout");
        goto done;
    }

    row = (size_t) w * ch;

    data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                   row * (size_t) h);
    if (data == NULL) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "out of memory decoding HEIC");
        goto done;
    }

    for (y = 0; y < (unsigned) h; y++) {
        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            goto done;
        }

        memcpy(data + row * y, plane + (size_t) stride * y, row);
    }

    run->pix.data = data;
    run->pix.width = (unsigned) w;
    run->pix.height = (unsigned) h;
    run->pix.channels = ch;
    run->pix.stride = row;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    rc = NGX_TUNNY_IMAGE_OK;

done:

    if (img != NULL) {
        heif_image_release(img);
    }

    if (opts != NULL) {
        heif_decoding_options_free(opts);
    }

    if (handle != NULL) {
        heif_image_handle_release(handle);
    }

    heif_context_free(ctx);

    return rc;
}


static void
ngx_tunny_image_heif_icc(ngx_tunny_image_run_t *run,
    struct heif_image_handle *h)
{
    size_t                         len;
    struct heif_error              err;
    enum heif_color_profile_type   type;

    type = heif_image_handle_get_color_profile_type(h);

    if (type != heif_color_profile_type_rICC
        && type != heif_color_profile_type_prof)
    {
        return;
    }

    len = heif_image_handle_get_raw_color_profile_size(h);

    if (len == 0 || len > NGX_TUNNY_IMAGE_HEIF_MAX_ICC) {
        return;
    }

    run->icc = malloc(len);
    if (run->icc == NULL) {
        return;
    }

    err = heif_image_handle_get_raw_color_profile(h, run->icc);

    if (err.code != heif_error_Ok) {
        ngx_tunny_image_icc_drop(run);
        return;
    }

    run->icc_len = (unsigned int) len;
}


/*
 * Every libheif error is the input's: its allocation failures come from
 * sizes the input states (libheif reports its security limits as
 * heif_error_Memory_allocation_error too), so they answer 415, not 500
 */

static int
ngx_tunny_image_heif_fail(ngx_tunny_image_run_t *run, const char *what,
    struct heif_error err)
{
    return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT, "%s: %s",
                                 what,
                                 err.message ? err.message : "corrupt data");
}


/* libheif's plugins, counted: one reference per image state (thread) */

void
ngx_tunny_image_heif_init(void)
{
    (void) heif_init(NULL);
}


void
ngx_tunny_image_heif_deinit(void)
{
    heif_deinit();
}


int
ngx_tunny_image_heif_built(void)
{
    return heif_have_decoder_for_format(heif_compression_HEVC);
}

#else

/* built without libheif: a HEIC is still probed, never decoded */

int
ngx_tunny_image_heif_decode(ngx_tunny_image_run_t *run)
{
    return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                 "HEIC support not built");
}


void
ngx_tunny_image_heif_init(void)
{
}


void
ngx_tunny_image_heif_deinit(void)
{
}


int
ngx_tunny_image_heif_built(void)
{
    return 0;
}

#endif
