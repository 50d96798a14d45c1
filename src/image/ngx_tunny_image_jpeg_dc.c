
/*
 * ngx_tunny_module: the DC-only decode of a progressive JPEG at DCT scale
 * 1/8 by the module's own entropy decoder, without libjpeg's decoder.
 *
 * At 1/8 a component whose blocks scale to one pixel reads nothing but
 * its DC coefficient (libjpeg's jpeg_idct_1x1), and in a progressive file
 * the DC coefficients are complete after the DC scans (first and
 * refinement): the AC scans need not be decoded at all.  libjpeg, given
 * only the DC scans (ngx_tunny_image_jpeg_dc_only()), still allocates and
 * zeroes the whole image's coefficients (64 a block) and visits every
 * block; this decoder keeps one coefficient a block (two bytes) and makes
 * the 1/8 pixels from them as libjpeg does: the descaled dequantized DC
 * through libjpeg's range-limit table, then libjpeg's YCbCr to RGB
 * integer tables (libjpeg-turbo's vector conversions give those same
 * bytes).  t/unit compares the pixels with libjpeg's whole decode, bit for
 * bit.
 *
 * Taken only where that is simple and exact, else libjpeg decodes (0 is
 * returned before any output exists): Huffman coding, 8 bits, grey or
 * YCbCr where every component's block is one pixel at 1/8 (4:4:4, 4:2:2,
 * 4:4:0: at 1/8 libjpeg upsamples by replication, not "fancy"; in 4:2:0
 * it scales the chroma to 2x2 blocks, which need their AC), the whole
 * frame (not a crop's region), quantisation tables before the first scan
 * (below 32768), every DC scan's table defined in the file, a progression
 * libjpeg accepts without a warning, restart markers in their order, no
 * code or bit missing, only markers libjpeg takes between the scans, an
 * EOI, the scan budget, and every coefficient complete at the end
 * (libjpeg smooths no block then).  What it cannot see, as
 * ngx_tunny_image_jpeg_dc_only(): damage inside the AC scans it skips.
 *
 * Runs in the thread of ngx_tunny_image_process().
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "ngx_tunny_image_jpeg.h"


#define NGX_TUNNY_IMAGE_DC_LOOK     9       /* bits of the code table */
#define NGX_TUNNY_IMAGE_DC_FAST     11      /* of code + difference */

#define NGX_TUNNY_IMAGE_DC_RANGE    (1 << 20)   /* |DC| before the shift */


/* a DC Huffman table as a scan uses it (libjpeg's derived table) */
typedef struct {
    unsigned char                   len[1 << NGX_TUNNY_IMAGE_DC_LOOK];
    unsigned char                   sym[1 << NGX_TUNNY_IMAGE_DC_LOOK];
    /* a code and its difference bits within FAST bits: both, decoded */
    unsigned char                   flen[1 << NGX_TUNNY_IMAGE_DC_FAST];
    int16_t                         fval[1 << NGX_TUNNY_IMAGE_DC_FAST];
    int32_t                         maxcode[17];   /* -1: no code */
    int32_t                         valoff[17];
    unsigned char                   val[256];
} ngx_tunny_image_dctab_t;


/* a table as defined (DHT, or jpeg_read_header()'s) */
typedef struct {
    unsigned char                   bits[17];
    unsigned char                   val[256];
    int                             defined;
} ngx_tunny_image_dcdef_t;


/* the entropy-coded data of a scan, its bits from the top of buf */
typedef struct {
    const unsigned char            *p;
    const unsigned char            *end;
    uint64_t                        buf;
    int                             n;             /* bits in buf */
    int                             marker;        /* no data after p */
} ngx_tunny_image_dcbits_t;


/*
 * the DC coefficients of a component: its blocks in rows of stride, as
 * many as interleaved scans cover (whole MCUs), of which a scan of it
 * alone covers the width x height it has
 */
typedef struct {
    int16_t                        *coef;
    size_t                          stride;        /* MCU columns x h */
    unsigned                        width;         /* width_in_blocks */
    unsigned                        height;        /* height_in_blocks */
    unsigned                        h, v;          /* sampling */
} ngx_tunny_image_dccomp_t;


typedef struct {
    ngx_tunny_image_run_t          *run;
    j_decompress_ptr                dinfo;
    ngx_tunny_image_dccomp_t        comp[MAX_COMPONENTS];
    unsigned                        mcu_cols;      /* interleaved scans */
    unsigned                        mcu_rows;
    unsigned                        restart;       /* MCUs, 0: none */
    ngx_tunny_image_dcdef_t         def[NUM_HUFF_TBLS];
    ngx_tunny_image_dctab_t         tab[MAX_COMPS_IN_SCAN];
    int                             bits[MAX_COMPONENTS][DCTSIZE2];
} ngx_tunny_image_dc_t;


#define NGX_TUNNY_IMAGE_DC_NO       0       /* not taken */
#define NGX_TUNNY_IMAGE_DC_YES      1

/*
 * the bit reader and the per-block steps, inlined into the scan loop: its
 * bit buffer then stays in registers (a third of the decode's CPU)
 */
#if (defined __GNUC__)
#define NGX_TUNNY_IMAGE_DC_INLINE   inline __attribute__((always_inline))
#else
#define NGX_TUNNY_IMAGE_DC_INLINE   inline
#endif


static int ngx_tunny_image_dc_usable(ngx_tunny_image_run_t *run,
    j_decompress_ptr dinfo);
static int ngx_tunny_image_dc_walk(ngx_tunny_image_dc_t *dc);
static int ngx_tunny_image_dc_dht(ngx_tunny_image_dc_t *dc,
    const unsigned char *p, size_t l);
static int ngx_tunny_image_dc_table(ngx_tunny_image_dctab_t *t,
    const ngx_tunny_image_dcdef_t *def);
static int ngx_tunny_image_dc_scan(ngx_tunny_image_dc_t *dc,
    const ngx_tunny_image_jscan_t *scan, const unsigned char *data,
    const unsigned char *end);
static int ngx_tunny_image_dc_block(ngx_tunny_image_dc_t *dc,
    ngx_tunny_image_dcbits_t *b, const ngx_tunny_image_jscan_t *scan,
    int n, int16_t *coef, int *pred);
static int ngx_tunny_image_dc_pixels(ngx_tunny_image_dc_t *dc);


int
ngx_tunny_image_jpeg_dc_decode(ngx_tunny_image_run_t *run,
    j_decompress_ptr dinfo)
{
    int                        c, k, rc;
    size_t                     size;
    unsigned char             *p;
    ngx_tunny_image_dc_t       dc;
    jpeg_component_info       *ci;
    ngx_tunny_image_dccomp_t  *comp;

    if (!ngx_tunny_image_dc_usable(run, dinfo)) {
        return NGX_TUNNY_IMAGE_DC_NO;
    }

    dc.run = run;
    dc.dinfo = dinfo;
    dc.mcu_cols = (dinfo->image_width + 8 * dinfo->max_h_samp_factor - 1)
                  / (8 * dinfo->max_h_samp_factor);
    dc.mcu_rows = (dinfo->image_height + 8 * dinfo->max_v_samp_factor - 1)
                  / (8 * dinfo->max_v_samp_factor);
    dc.restart = dinfo->restart_interval;

    size = 0;

    for (c = 0; c < dinfo->num_components; c++) {
        ci = &dinfo->comp_info[c];
        comp = &dc.comp[c];

        comp->h = ci->h_samp_factor;
        comp->v = ci->v_samp_factor;
        comp->width = ci->width_in_blocks;
        comp->height = ci->height_in_blocks;
        comp->stride = (size_t) dc.mcu_cols * comp->h;

        size += comp->stride * dc.mcu_rows * comp->v;
    }

    p = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_RAW,
                                size * sizeof(int16_t));
    if (p == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding JPEG");
    }

    for (c = 0; c < dinfo->num_components; c++) {
        dc.comp[c].coef = (int16_t *) p;
        p += dc.comp[c].stride * dc.mcu_rows * dc.comp[c].v
             * sizeof(int16_t);

        for (k = 0; k < DCTSIZE2; k++) {
            dc.bits[c][k] = -1;
        }
    }

    for (k = 0; k < NUM_HUFF_TBLS; k++) {
        dc.def[k].defined = (dinfo->dc_huff_tbl_ptrs[k] != NULL);

        if (dc.def[k].defined) {
            memcpy(dc.def[k].bits, dinfo->dc_huff_tbl_ptrs[k]->bits, 17);
            memcpy(dc.def[k].val, dinfo->dc_huff_tbl_ptrs[k]->huffval, 256);
        }
    }

    rc = ngx_tunny_image_dc_walk(&dc);
    if (rc != NGX_TUNNY_IMAGE_DC_YES) {
        return rc;
    }

    return ngx_tunny_image_dc_pixels(&dc);
}


/* what the file must be for this decoder, as jpeg_read_header() read it */

static int
ngx_tunny_image_dc_usable(ngx_tunny_image_run_t *run, j_decompress_ptr dinfo)
{
    int                   c;
    JQUANT_TBL           *q;
    jpeg_component_info  *comp;

    if (!(run->fast & NGX_TUNNY_IMAGE_FAST_DC)
        || !dinfo->progressive_mode
        || dinfo->arith_code
        || dinfo->data_precision != 8
        || dinfo->scale_num != 1
        || dinfo->scale_denom != 8
        || dinfo->Ss != 0                       /* the first scan: DC */
        || dinfo->Se != 0
        || dinfo->Ah != 0
        || dinfo->Al > 13
        || dinfo->max_h_samp_factor > 2
        || dinfo->max_v_samp_factor > 2
        || run->geo.dw != 0)
    {
        return 0;
    }

    if (!(dinfo->num_components == 1
          && dinfo->jpeg_color_space == JCS_GRAYSCALE
          && dinfo->out_color_space == JCS_GRAYSCALE)
        && !(dinfo->num_components == 3
             && dinfo->jpeg_color_space == JCS_YCbCr
             && dinfo->out_color_space == JCS_EXT_RGB))
    {
        return 0;
    }

    jpeg_calc_output_dimensions(dinfo);

    for (c = 0; c < dinfo->num_components; c++) {
        comp = &dinfo->comp_info[c];

        /* replicated by libjpeg's plain upsampling (no fancy at 1/8) */

        if (comp->DCT_scaled_size != 1
            || dinfo->max_h_samp_factor % comp->h_samp_factor != 0
            || dinfo->max_v_samp_factor % comp->v_samp_factor != 0
            || comp->quant_tbl_no < 0
            || comp->quant_tbl_no >= NUM_QUANT_TBLS)
        {
            return 0;
        }

        q = dinfo->quant_tbl_ptrs[comp->quant_tbl_no];

        if (q == NULL || q->quantval[0] > 32767) {
            return 0;
        }
    }

    return 1;
}


/*
 * The scans from the first one (its header read by jpeg_read_header()) to
 * the EOI: the DC ones decoded, the AC ones skipped, the tables and
 * restart intervals between them followed
 */

static int
ngx_tunny_image_dc_walk(ngx_tunny_image_dc_t *dc)
{
    int                       n, k, rc, scans;
    size_t                    i, len, l, end;
    unsigned                  m;
    uint64_t                  blocks;
    const unsigned char      *in, *q;
    j_decompress_ptr          dinfo;
    ngx_tunny_image_jscan_t   scan;

    dinfo = dc->dinfo;
    in = dc->run->in;
    len = dc->run->len;

    q = dinfo->src->next_input_byte;

    if (q < in || q > in + len) {
        return NGX_TUNNY_IMAGE_DC_NO;
    }

    i = (size_t) (q - in);

    /* the first scan, as libjpeg read its header */

    scan.ns = dinfo->comps_in_scan;
    scan.ss = dinfo->Ss;
    scan.se = dinfo->Se;
    scan.ah = dinfo->Ah;
    scan.al = dinfo->Al;

    for (n = 0; n < scan.ns; n++) {
        scan.ci[n] = dinfo->cur_comp_info[n]->component_index;
        scan.td[n] = dinfo->cur_comp_info[n]->dc_tbl_no;
    }

    scans = 1;
    blocks = 0;

    for (n = 0; n < scan.ns; n++) {
        blocks += (uint64_t) dc->comp[scan.ci[n]].width
                  * dc->comp[scan.ci[n]].height;
    }

    for ( ;; ) {

        /* the scan in scan, its entropy-coded data from i */

        end = ngx_tunny_image_jpeg_ecs_end(in, i, len);

        for (n = 0; n < scan.ns; n++) {

            /* a DC progression libjpeg would warn about: not taken */

            if (scan.ss == 0
                && dc->bits[scan.ci[n]][0] != (scan.ah ? scan.ah : -1))
            {
                return NGX_TUNNY_IMAGE_DC_NO;
            }

            for (k = scan.ss; k <= scan.se; k++) {
                dc->bits[scan.ci[n]][k] = scan.al;
            }
        }

        if (scan.ss == 0) {
            rc = ngx_tunny_image_dc_scan(dc, &scan, in + i, in + end);
            if (rc != NGX_TUNNY_IMAGE_DC_YES) {
                return rc;
            }
        }

        /* the markers to the next scan */

        i = end;

        for ( ;; ) {
            if (ngx_tunny_image_jpeg_marker(in, len, &i, &m, &l) != 0) {
                return NGX_TUNNY_IMAGE_DC_NO;           /* no EOI */
            }

            if (m == JPEG_EOI || m == 0xda) {
                break;
            }

            switch (m) {

            case 0xc4:                                  /* DHT */
                if (ngx_tunny_image_dc_dht(dc, in + i, l) != 0) {
                    return NGX_TUNNY_IMAGE_DC_NO;
                }
                break;

            case 0xdd:                                  /* DRI */
                if (l != 4) {
                    return NGX_TUNNY_IMAGE_DC_NO;
                }

                dc->restart = ((unsigned) in[i + 4] << 8) | in[i + 5];
                break;

            case 0x00:                          /* garbage to libjpeg */
            case 0x01:                          /* TEM */
            case 0xdc:                          /* DNL, skipped by libjpeg */
            case 0xfe:                          /* COM */
                break;

            default:

                /* APPn and RSTn pass; DQT, SOI, SOF, DAC, unknown: not */

                if (!(m >= 0xe0 && m <= 0xef) && !(m >= 0xd0 && m <= 0xd7))
                {
                    return NGX_TUNNY_IMAGE_DC_NO;
                }
            }

            i += 2 + l;
        }

        if (m == JPEG_EOI) {
            break;
        }

        if (ngx_tunny_image_jpeg_sos(dinfo, in + i, l, &scan) != 0) {
            return NGX_TUNNY_IMAGE_DC_NO;
        }

        scans++;

        for (n = 0; n < scan.ns; n++) {
            blocks += (uint64_t) dc->comp[scan.ci[n]].width
                      * dc->comp[scan.ci[n]].height;
        }

        if (ngx_tunny_image_jpeg_budget(dinfo, scans, blocks) != 0) {
            return NGX_TUNNY_IMAGE_DC_NO;
        }

        i += 2 + l;
    }

    for (n = 0; n < dinfo->num_components; n++) {
        for (k = 0; k < DCTSIZE2; k++) {
            if (dc->bits[n][k] != 0) {
                return NGX_TUNNY_IMAGE_DC_NO;
            }
        }
    }

    return NGX_TUNNY_IMAGE_DC_YES;
}


/* a DHT segment at p (its 0xFF), l its length: its DC tables kept */

static int
ngx_tunny_image_dc_dht(ngx_tunny_image_dc_t *dc, const unsigned char *p,
    size_t l)
{
    unsigned  tc, th, i, count;

    p += 4;
    l -= 2;

    while (l > 16) {
        tc = p[0] >> 4;
        th = p[0] & 0x0f;

        count = 0;

        for (i = 1; i <= 16; i++) {
            count += p[i];
        }

        /* as libjpeg's get_dht() */

        if (count > 256 || count > l - 17 || tc > 1 || th >= NUM_HUFF_TBLS) {
            return -1;
        }

        if (tc == 0) {
            dc->def[th].bits[0] = 0;
            memcpy(dc->def[th].bits + 1, p + 1, 16);
            memset(dc->def[th].val, 0, 256);
            memcpy(dc->def[th].val, p + 17, count);
            dc->def[th].defined = 1;
        }

        p += 17 + count;
        l -= 17 + count;
    }

    return l == 0 ? 0 : -1;
}


/* the difference of s bits r (HUFF_EXTEND) */

static NGX_TUNNY_IMAGE_DC_INLINE int
ngx_tunny_image_dc_extend(int r, int s)
{
    return (s == 0) ? 0 : (r < (1 << (s - 1))) ? r - (1 << s) + 1 : r;
}


/*
 * The decoding table of a DC table, checked as libjpeg's
 * jpeg_make_d_derived_tbl() checks it: 0, or -1
 */

static int
ngx_tunny_image_dc_table(ngx_tunny_image_dctab_t *t,
    const ngx_tunny_image_dcdef_t *def)
{
    int       i, l, p, n, si, s;
    uint32_t  code, c, k, r;
    uint32_t  codes[257];
    char      size[257];

    p = 0;

    for (l = 1; l <= 16; l++) {
        n = def->bits[l];

        if (p + n > 256) {
            return -1;
        }

        while (n--) {
            size[p++] = (char) l;
        }
    }

    size[p] = 0;
    n = p;

    code = 0;
    si = size[0];
    p = 0;

    while (size[p]) {
        while (size[p] == si) {
            codes[p++] = code++;
        }

        if (code >= (1U << si)) {
            return -1;
        }

        code <<= 1;
        si++;
    }

    for (i = 0; i < n; i++) {
        if (def->val[i] > 15) {
            return -1;
        }
    }

    p = 0;

    for (l = 1; l <= 16; l++) {
        if (def->bits[l]) {
            t->valoff[l] = p - (int32_t) codes[p];
            p += def->bits[l];
            t->maxcode[l] = (int32_t) codes[p - 1];

        } else {
            t->maxcode[l] = -1;
        }
    }

    memcpy(t->val, def->val, 256);
    memset(t->len, 0, sizeof(t->len));
    memset(t->flen, 0, sizeof(t->flen));

    for (i = 0; i < n; i++) {
        s = size[i];

        if (s > NGX_TUNNY_IMAGE_DC_LOOK) {
            continue;
        }

        c = codes[i] << (NGX_TUNNY_IMAGE_DC_LOOK - s);

        for (k = 0; k < (1U << (NGX_TUNNY_IMAGE_DC_LOOK - s)); k++) {
            t->len[c + k] = (unsigned char) s;
            t->sym[c + k] = def->val[i];
        }

        /* each difference r of the code's s bits, with the code */

        l = s + def->val[i];

        if (l > NGX_TUNNY_IMAGE_DC_FAST) {
            continue;
        }

        for (r = 0; r < (1U << def->val[i]); r++) {
            c = ((codes[i] << def->val[i]) | r)
                << (NGX_TUNNY_IMAGE_DC_FAST - l);

            for (k = 0; k < (1U << (NGX_TUNNY_IMAGE_DC_FAST - l)); k++) {
                t->flen[c + k] = (unsigned char) l;
                t->fval[c + k] = (int16_t) ngx_tunny_image_dc_extend(r,
                                                             def->val[i]);
            }
        }
    }

    return 0;
}


/* the bits of the data up to its next marker, as libjpeg's bit reader */

static NGX_TUNNY_IMAGE_DC_INLINE void
ngx_tunny_image_dc_fill(ngx_tunny_image_dcbits_t *b)
{
    unsigned              c;
    const unsigned char  *q;

    while (b->n <= 56 && !b->marker) {

        if (b->p >= b->end) {
            b->marker = 1;
            break;
        }

        c = *b->p;

        if (c == 0xff) {
            for (q = b->p + 1; q < b->end && *q == 0xff; q++) {
                /* void */
            }

            if (q >= b->end || *q != 0x00) {
                b->marker = 1;                  /* b->p at its 0xFF */
                break;
            }

            b->p = q + 1;                       /* a stuffed 0xFF */

        } else {
            b->p++;
        }

        b->buf |= (uint64_t) c << (56 - b->n);
        b->n += 8;
    }
}


/* n (1..16) bits; -1 when the data has fewer */

static NGX_TUNNY_IMAGE_DC_INLINE int
ngx_tunny_image_dc_get(ngx_tunny_image_dcbits_t *b, int n)
{
    int  v;

    if (b->n < n) {
        ngx_tunny_image_dc_fill(b);

        if (b->n < n) {
            return -1;
        }
    }

    v = (int) (b->buf >> (64 - n));
    b->buf <<= n;
    b->n -= n;

    return v;
}


/* a symbol; -1 for a code the table does not have or missing bits */

static NGX_TUNNY_IMAGE_DC_INLINE int
ngx_tunny_image_dc_huff(ngx_tunny_image_dcbits_t *b,
    const ngx_tunny_image_dctab_t *t)
{
    int       l;
    int32_t   code;
    unsigned  look;

    if (b->n < 16) {
        ngx_tunny_image_dc_fill(b);
    }

    look = (unsigned) (b->buf >> (64 - NGX_TUNNY_IMAGE_DC_LOOK));
    l = t->len[look];

    if (l != 0) {
        if (l > b->n) {
            return -1;
        }

        b->buf <<= l;
        b->n -= l;

        return t->sym[look];
    }

    for (l = NGX_TUNNY_IMAGE_DC_LOOK + 1; l <= 16 && l <= b->n; l++) {
        code = (int32_t) (b->buf >> (64 - l));

        if (code <= t->maxcode[l]) {
            b->buf <<= l;
            b->n -= l;

            return t->val[(code + t->valoff[l]) & 0xff];
        }
    }

    return -1;
}


/*
 * A restart marker where the data of a restart interval ends: the bits
 * left dropped, the bytes to it skipped (as libjpeg's next_marker()), the
 * marker the one expected.  0, or -1.
 */

static NGX_TUNNY_IMAGE_DC_INLINE int
ngx_tunny_image_dc_restart(ngx_tunny_image_dcbits_t *b, int *next)
{
    const unsigned char  *q;

    q = b->p;

    for ( ;; ) {
        while (q < b->end && *q != 0xff) {
            q++;
        }

        while (q < b->end && *q == 0xff) {
            q++;
        }

        if (q >= b->end) {
            return -1;
        }

        if (*q != 0x00) {
            break;
        }

        q++;
    }

    if (*q != JPEG_RST0 + *next) {
        return -1;
    }

    *next = (*next + 1) & 7;

    b->p = q + 1;
    b->buf = 0;
    b->n = 0;
    b->marker = 0;

    return 0;
}


/*
 * A DC scan (first or refinement) into the components' coefficients: an
 * interleaved scan in MCUs (each h x v blocks of each component, dummy
 * blocks past the edges included, as libjpeg), a scan of one component
 * in its own width x height blocks, one MCU each
 */

static int
ngx_tunny_image_dc_scan(ngx_tunny_image_dc_t *dc,
    const ngx_tunny_image_jscan_t *scan, const unsigned char *data,
    const unsigned char *end)
{
    int                        n, next, pred[MAX_COMPS_IN_SCAN];
    size_t                     stride[MAX_COMPS_IN_SCAN];
    int16_t                   *row[MAX_COMPS_IN_SCAN], *p;
    unsigned                   cols, rows, x, y, bx, by, left;
    unsigned                   h[MAX_COMPS_IN_SCAN], v[MAX_COMPS_IN_SCAN];
    ngx_tunny_image_dcbits_t   b;
    ngx_tunny_image_dccomp_t  *comp;

    /* an MCU: h x v blocks of each component, 1 x 1 of one alone */

    cols = dc->mcu_cols;
    rows = dc->mcu_rows;

    for (n = 0; n < scan->ns; n++) {
        comp = &dc->comp[scan->ci[n]];

        stride[n] = comp->stride;
        h[n] = scan->ns > 1 ? comp->h : 1;
        v[n] = scan->ns > 1 ? comp->v : 1;

        if (scan->ns == 1) {
            cols = comp->width;
            rows = comp->height;
        }

        if (scan->ah == 0) {
            if (scan->td[n] >= NUM_HUFF_TBLS
                || !dc->def[scan->td[n]].defined
                || ngx_tunny_image_dc_table(&dc->tab[n],
                                            &dc->def[scan->td[n]])
                   != 0)
            {
                return NGX_TUNNY_IMAGE_DC_NO;
            }
        }

        pred[n] = 0;
    }

    b.p = data;
    b.end = end;
    b.buf = 0;
    b.n = 0;
    b.marker = 0;

    next = 0;
    left = dc->restart;

    for (y = 0; y < rows; y++) {

        if (ngx_tunny_image_checkpoint(dc->run, y) != NGX_TUNNY_IMAGE_OK) {
            return NGX_TUNNY_IMAGE_ECANCEL;
        }

        for (n = 0; n < scan->ns; n++) {
            row[n] = dc->comp[scan->ci[n]].coef + stride[n] * y * v[n];
        }

        for (x = 0; x < cols; x++) {

            if (dc->restart) {
                if (left == 0) {
                    if (ngx_tunny_image_dc_restart(&b, &next) != 0) {
                        return NGX_TUNNY_IMAGE_DC_NO;
                    }

                    for (n = 0; n < scan->ns; n++) {
                        pred[n] = 0;
                    }

                    left = dc->restart;
                }

                left--;
            }

            for (n = 0; n < scan->ns; n++) {
                p = row[n] + x * h[n];

                if (h[n] == 1 && v[n] == 1) {
                    if (ngx_tunny_image_dc_block(dc, &b, scan, n, p, pred)
                        != NGX_TUNNY_IMAGE_DC_YES)
                    {
                        return NGX_TUNNY_IMAGE_DC_NO;
                    }

                    continue;
                }

                for (by = 0; by < v[n]; by++, p += stride[n]) {
                    for (bx = 0; bx < h[n]; bx++) {
                        if (ngx_tunny_image_dc_block(dc, &b, scan, n, p + bx,
                                                     pred)
                            != NGX_TUNNY_IMAGE_DC_YES)
                        {
                            return NGX_TUNNY_IMAGE_DC_NO;
                        }
                    }
                }
            }
        }
    }

    return NGX_TUNNY_IMAGE_DC_YES;
}


/* one block of the scan's component n: its DC, or a bit of it */

static NGX_TUNNY_IMAGE_DC_INLINE int
ngx_tunny_image_dc_block(ngx_tunny_image_dc_t *dc,
    ngx_tunny_image_dcbits_t *b, const ngx_tunny_image_jscan_t *scan, int n,
    int16_t *coef, int *pred)
{
    int      s, r;
    int32_t  v;

    unsigned                        look;
    const ngx_tunny_image_dctab_t  *t;

    if (scan->ah) {
        r = ngx_tunny_image_dc_get(b, 1);
        if (r < 0) {
            return NGX_TUNNY_IMAGE_DC_NO;
        }

        *coef = (int16_t) (*coef | (r << scan->al));

        return NGX_TUNNY_IMAGE_DC_YES;
    }

    /* the code and its difference at once, or one after the other */

    t = &dc->tab[n];

    if (b->n < 16) {
        ngx_tunny_image_dc_fill(b);
    }

    look = (unsigned) (b->buf >> (64 - NGX_TUNNY_IMAGE_DC_FAST));
    r = t->flen[look];

    if (r != 0 && r <= b->n) {
        b->buf <<= r;
        b->n -= r;
        s = t->fval[look];

    } else {
        s = ngx_tunny_image_dc_huff(b, t);
        if (s < 0) {
            return NGX_TUNNY_IMAGE_DC_NO;
        }

        if (s) {
            r = ngx_tunny_image_dc_get(b, s);
            if (r < 0) {
                return NGX_TUNNY_IMAGE_DC_NO;
            }

            s = ngx_tunny_image_dc_extend(r, s);
        }
    }

    pred[n] += s;

    if (pred[n] <= -NGX_TUNNY_IMAGE_DC_RANGE
        || pred[n] >= NGX_TUNNY_IMAGE_DC_RANGE)
    {
        return NGX_TUNNY_IMAGE_DC_NO;
    }

    v = pred[n] * (1 << scan->al);

    if (v < -32768 || v > 32767) {
        return NGX_TUNNY_IMAGE_DC_NO;
    }

    *coef = (int16_t) v;

    return NGX_TUNNY_IMAGE_DC_YES;
}


/*
 * libjpeg's range limit of an IDCT output (dcval & 1023, as
 * prepare_range_limit_table() lays its table out)
 */

static inline unsigned char
ngx_tunny_image_dc_limit(int32_t v)
{
    v &= 1023;

    return (unsigned char) (v < 128 ? v + 128
                            : v < 512 ? 255
                            : v < 896 ? 0 : v - 896);
}


static inline unsigned char
ngx_tunny_image_dc_clamp(int v)
{
    return (unsigned char) (v < 0 ? 0 : (v > 255 ? 255 : v));
}


/*
 * The 1/8 pixels: jpeg_idct_1x1() of each block, a component sampled
 * less than the most replicated (libjpeg's h2v1_upsample(),
 * int_upsample()), then for colour libjpeg's ycc_rgb_convert() with its
 * tables (build_ycc_rgb_table(): 16-bit fractions of 1.402, 1.772,
 * 0.71414, 0.34414)
 */

static int
ngx_tunny_image_dc_pixels(ngx_tunny_image_dc_t *dc)
{
    int                        c, i, x, nc;
    int32_t                    q[MAX_COMPONENTS];
    size_t                     stride;
    unsigned                   y, w, h, sx[MAX_COMPONENTS], sy[MAX_COMPONENTS];
    unsigned char             *data, *o, v[MAX_COMPONENTS];
    const int16_t             *row[MAX_COMPONENTS];
    j_decompress_ptr           dinfo;
    ngx_tunny_image_run_t     *run;
    ngx_tunny_image_dccomp_t  *comp;
    int32_t                    cr_r[256], cb_b[256], cr_g[256], cb_g[256];

    dinfo = dc->dinfo;
    run = dc->run;
    nc = dinfo->num_components;

    for (c = 0; c < nc; c++) {
        q[c] = (int16_t) dinfo->quant_tbl_ptrs[dinfo->comp_info[c]
                                                   .quant_tbl_no]->quantval[0];

        /* an output pixel's sample: x >> sx (the factors are 1 or 2) */
        sx[c] = dinfo->max_h_samp_factor / dc->comp[c].h - 1;
        sy[c] = dinfo->max_v_samp_factor / dc->comp[c].v - 1;
    }

    for (i = 0; i < 256; i++) {
        x = i - 128;
        cr_r[i] = (int32_t) ((91881 * (int64_t) x + 32768) >> 16);
        cb_b[i] = (int32_t) ((116130 * (int64_t) x + 32768) >> 16);
        cr_g[i] = -46802 * x;
        cb_g[i] = -22554 * x + 32768;
    }

    w = dinfo->output_width;
    h = dinfo->output_height;
    stride = (size_t) w * run->pix.channels;

    data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                   stride * h);
    if (data == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding JPEG");
    }

    for (y = 0; y < h; y++) {
        o = data + stride * y;

        for (c = 0; c < nc; c++) {
            comp = &dc->comp[c];
            row[c] = comp->coef + comp->stride * (y >> sy[c]);
        }

        for (x = 0; x < (int) w; x++) {
            for (c = 0; c < nc; c++) {
                v[c] = ngx_tunny_image_dc_limit((row[c][x >> sx[c]] * q[c]
                                                 + 4) >> 3);
            }

            if (nc == 1) {
                *o++ = v[0];
                continue;
            }

            o[0] = ngx_tunny_image_dc_clamp(v[0] + cr_r[v[2]]);
            o[1] = ngx_tunny_image_dc_clamp(v[0]
                                            + ((cb_g[v[1]] + cr_g[v[2]])
                                               >> 16));
            o[2] = ngx_tunny_image_dc_clamp(v[0] + cb_b[v[1]]);
            o += 3;
        }
    }

    run->dec_w = w;
    run->dec_h = h;
    run->dec_x = 0;
    run->dec_y = 0;

    run->pix.data = data;
    run->pix.width = w;
    run->pix.height = h;
    run->pix.stride = stride;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    return NGX_TUNNY_IMAGE_DC_YES;
}
