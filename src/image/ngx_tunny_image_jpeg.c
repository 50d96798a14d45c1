
/*
 * ngx_tunny_module: JPEG decoding and encoding through the libjpeg API of
 * libjpeg-turbo: DCT scaling, scanline batches with cancel checkpoints
 * between them, ICC profiles, CMYK/YCCK to RGB (through the embedded
 * profile: ngx_tunny_image_colour.c), setjmp error handling.
 *
 * Runs in the thread of ngx_tunny_image_process().  libjpeg reports every
 * error by calling error_exit, which longjmp()s back to the one setjmp(),
 * in ngx_tunny_image_jpeg_call().  Everything needed after the jump (the
 * libjpeg objects, the error code, the message) lives in an
 * ngx_tunny_image_jpeg_t in the frame of its caller, which never calls
 * setjmp() itself: no local of the frame that called setjmp() is read
 * after the jump.
 */


#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "ngx_tunny_image_int.h"


#define NGX_TUNNY_IMAGE_LINES       16      /* rows between cancel checks */

/*
 * The work of a multi-scan JPEG grows with its scans, not its pixels: each
 * scan is one pass of the entropy decoder over the blocks of its
 * components.  libjpeg's jpeg_simple_progression() emits 10 scans for
 * colour (6 for grey), jpegtran -progressive 10, mozjpeg's scan
 * optimisation at most about 12; 64 leaves a margin of 5 and is still 11
 * times less than the 700 scans of a legal successive-approximation bomb.
 * The passes bound the rest: a scan over all blocks of the frame counts 1,
 * a scan of one component its share; the simple progression costs 5.3
 * (4:2:0) to 6 (grey) passes, 24 leaves a margin of 4.  Both are
 * checked as each SOS is read, before its data is decoded.
 */
#define NGX_TUNNY_IMAGE_MAX_SCANS   64
#define NGX_TUNNY_IMAGE_MAX_PASSES  24


typedef struct {
    struct jpeg_error_mgr           pub;
    jmp_buf                         jmp;
    ngx_tunny_image_run_t          *run;
    int                             rc;            /* NGX_TUNNY_IMAGE_E* */
    int                             eof;           /* JWRN_JPEG_EOF seen */
    int                             scan;          /* last counted scan */
    uint64_t                        blocks;        /* decoded so far */
    char                            msg[JMSG_LENGTH_MAX];
} ngx_tunny_image_jerr_t;


typedef struct {
    struct jpeg_destination_mgr     pub;
    ngx_tunny_image_buf_t          *buf;
    size_t                          used;
} ngx_tunny_image_jdest_t;


typedef struct {
    ngx_tunny_image_run_t          *run;
    ngx_tunny_image_jerr_t          jerr;
    struct jpeg_progress_mgr        progress;
    int                             decoder;       /* or encoder */
    int                             created;
    j_common_ptr                    common;        /* dinfo or cinfo */
    struct jpeg_decompress_struct   dinfo;
    struct jpeg_compress_struct     cinfo;
    ngx_tunny_image_jdest_t         dest;
} ngx_tunny_image_jpeg_t;


/* the work between jpeg_create_*() and jpeg_destroy(): 0, or -1 and the
 * reason in j->jerr */
typedef int (*ngx_tunny_image_jpeg_pt)(ngx_tunny_image_jpeg_t *j);


static void ngx_tunny_image_jpeg_init(ngx_tunny_image_jpeg_t *j,
    ngx_tunny_image_run_t *run, int decoder);
static int ngx_tunny_image_jpeg_call(ngx_tunny_image_jpeg_t *j,
    ngx_tunny_image_jpeg_pt work);
static int ngx_tunny_image_jpeg_failed(ngx_tunny_image_jpeg_t *j);
static int ngx_tunny_image_jpeg_scans(j_decompress_ptr dinfo);
static int ngx_tunny_image_jpeg_complete(ngx_tunny_image_jpeg_t *j);
static int ngx_tunny_image_jpeg_decompress(ngx_tunny_image_jpeg_t *j);
static int ngx_tunny_image_jpeg_header(ngx_tunny_image_jpeg_t *j,
    unsigned *cmyk);
static int ngx_tunny_image_jpeg_read(ngx_tunny_image_jpeg_t *j,
    unsigned cmyk);
static unsigned ngx_tunny_image_jpeg_batch(ngx_tunny_image_jpeg_t *j,
    unsigned done, unsigned total, JSAMPROW *rows, unsigned char *base,
    size_t stride);
static int ngx_tunny_image_jpeg_compress(ngx_tunny_image_jpeg_t *j);
static void ngx_tunny_image_jpeg_settings(ngx_tunny_image_jpeg_t *j);


int
ngx_tunny_image_jpeg_decode(ngx_tunny_image_run_t *run)
{
    ngx_tunny_image_jpeg_t  j;

    ngx_tunny_image_jpeg_init(&j, run, 1);

    return ngx_tunny_image_jpeg_call(&j, ngx_tunny_image_jpeg_decompress);
}


int
ngx_tunny_image_jpeg_encode(ngx_tunny_image_run_t *run)
{
    ngx_tunny_image_jpeg_t  j;

    ngx_tunny_image_jpeg_init(&j, run, 0);

    return ngx_tunny_image_jpeg_call(&j, ngx_tunny_image_jpeg_compress);
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


/* error handling shared by decoder and encoder */

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
     * are tolerated; but a marker or the end of the input where the
     * entropy decoder needs more bits (JWRN_HIT_MARKER) means missing
     * data: libjpeg would pad it with grey and, worse, can pass rows of its
     * own uninitialised buffers through (stale heap memory, maybe from
     * another request's image).
     *
     * The end of the input alone (JWRN_JPEG_EOF: libjpeg inserts an EOI)
     * is also what a file missing only its final EOI gives, because the
     * Huffman decoder reads ahead of the bits it needs: it is decided once
     * the image is read, in ngx_tunny_image_jpeg_complete().  The
     * arithmetic decoder says nothing when it runs out of data, so there
     * the end of the input stays fatal.
     */

    if (jerr->pub.msg_code == JWRN_JPEG_EOF
        && cinfo->is_decompressor
        && !((j_decompress_ptr) cinfo)->arith_code)
    {
        if (!jerr->eof) {
            jerr->eof = 1;
            (*cinfo->err->format_message)(cinfo, jerr->msg);
        }

        return;
    }

    if (jerr->pub.msg_code == JWRN_JPEG_EOF
        || jerr->pub.msg_code == JWRN_HIT_MARKER)
    {
        /* after the end of the input, that stays the reason */

        if (!jerr->eof) {
            (*cinfo->err->format_message)(cinfo, jerr->msg);
        }

        longjmp(jerr->jmp, 1);
    }
}


/*
 * After the last scanline, when the input ended without an EOI: 0 when no
 * image data was missing, -1 otherwise (the reason in j->jerr).  A single
 * scan decoded to its last row without JWRN_HIT_MARKER had every bit it
 * needed.  A progressive image is complete when every coefficient of
 * every component reached full precision (Al 0): a file cut between scans
 * lacks the later ones, and a cut inside a scan hits a marker.  A
 * sequential image in several scans cannot be checked that way: fatal.
 */

static int
ngx_tunny_image_jpeg_complete(ngx_tunny_image_jpeg_t *j)
{
    int               c, k;
    j_decompress_ptr  dinfo;

    dinfo = &j->dinfo;

    if (!j->jerr.eof) {
        return 0;
    }

    if (!dinfo->progressive_mode) {
        return jpeg_has_multiple_scans(dinfo) ? -1 : 0;
    }

    for (c = 0; c < dinfo->num_components; c++) {
        for (k = 0; k < DCTSIZE2; k++) {
            if (dinfo->coef_bits[c][k] != 0) {
                return -1;
            }
        }
    }

    return 0;
}


static void
ngx_tunny_image_jpeg_progress(j_common_ptr cinfo)
{
    ngx_tunny_image_jerr_t  *jerr;

    jerr = (ngx_tunny_image_jerr_t *) cinfo->err;

    if (ngx_tunny_image_checkpoint(jerr->run, 0) != NGX_TUNNY_IMAGE_OK) {
        jerr->rc = NGX_TUNNY_IMAGE_ECANCEL;
        longjmp(jerr->jmp, 1);
    }

    if (cinfo->is_decompressor
        && ngx_tunny_image_jpeg_scans((j_decompress_ptr) cinfo) != 0)
    {
        jerr->rc = NGX_TUNNY_IMAGE_ELIMIT;
        longjmp(jerr->jmp, 1);
    }
}


/*
 * The scan limits, at the first call of the progress monitor after each
 * SOS (libjpeg calls it before every iMCU row it reads): 0, or -1 with the
 * reason in res->error.
 */

static int
ngx_tunny_image_jpeg_scans(j_decompress_ptr dinfo)
{
    int                      i;
    uint64_t                 frame;
    jpeg_component_info     *comp;
    ngx_tunny_image_jerr_t  *jerr;

    jerr = (ngx_tunny_image_jerr_t *) dinfo->err;

    if (dinfo->input_scan_number == jerr->scan) {
        return 0;
    }

    jerr->scan = dinfo->input_scan_number;

    if (jerr->scan > NGX_TUNNY_IMAGE_MAX_SCANS) {
        (void) ngx_tunny_image_error(jerr->run->res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "JPEG has more than %d scans",
                                     NGX_TUNNY_IMAGE_MAX_SCANS);
        return -1;
    }

    frame = 0;

    for (i = 0; i < dinfo->num_components; i++) {
        comp = &dinfo->comp_info[i];
        frame += (uint64_t) comp->width_in_blocks * comp->height_in_blocks;
    }

    for (i = 0; i < dinfo->comps_in_scan; i++) {
        comp = dinfo->cur_comp_info[i];
        jerr->blocks += (uint64_t) comp->width_in_blocks
                        * comp->height_in_blocks;
    }

    if (jerr->blocks > frame * NGX_TUNNY_IMAGE_MAX_PASSES) {
        (void) ngx_tunny_image_error(jerr->run->res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "JPEG scans need more than %d passes "
                                     "over the image",
                                     NGX_TUNNY_IMAGE_MAX_PASSES);
        return -1;
    }

    return 0;
}


static void
ngx_tunny_image_jpeg_init(ngx_tunny_image_jpeg_t *j,
    ngx_tunny_image_run_t *run, int decoder)
{
    ngx_tunny_image_jerr_t  *jerr;

    j->run = run;
    j->decoder = decoder;
    j->created = 0;
    j->common = decoder ? (j_common_ptr) &j->dinfo : (j_common_ptr) &j->cinfo;

    jerr = &j->jerr;

    jpeg_std_error(&jerr->pub);
    jerr->pub.error_exit = ngx_tunny_image_jpeg_error_exit;
    jerr->pub.emit_message = ngx_tunny_image_jpeg_emit_message;
    jerr->run = run;
    jerr->rc = NGX_TUNNY_IMAGE_EINPUT;
    jerr->eof = 0;
    jerr->scan = 0;
    jerr->blocks = 0;
    jerr->msg[0] = '\0';

    memset(&j->progress, 0, sizeof(struct jpeg_progress_mgr));
    j->progress.progress_monitor = ngx_tunny_image_jpeg_progress;
}


/* the setjmp() frame around the life of a decompressor or a compressor */

static int
ngx_tunny_image_jpeg_call(ngx_tunny_image_jpeg_t *j,
    ngx_tunny_image_jpeg_pt work)
{
    if (setjmp(j->jerr.jmp)) {
        return ngx_tunny_image_jpeg_failed(j);
    }

    j->common->err = &j->jerr.pub;

    if (j->decoder) {
        jpeg_create_decompress(&j->dinfo);

    } else {
        jpeg_create_compress(&j->cinfo);
    }

    j->created = 1;
    j->common->progress = &j->progress;

    if (work(j) != 0) {
        return ngx_tunny_image_jpeg_failed(j);
    }

    jpeg_destroy(j->common);
    j->created = 0;

    return NGX_TUNNY_IMAGE_OK;
}


/* after a longjmp() or a failed check: j->jerr says why */

static int
ngx_tunny_image_jpeg_failed(ngx_tunny_image_jpeg_t *j)
{
    ngx_tunny_image_result_t  *res;

    if (j->created) {
        jpeg_destroy(j->common);
        j->created = 0;
    }

    res = j->run->res;

    switch (j->jerr.rc) {

    case NGX_TUNNY_IMAGE_ECANCEL:
    case NGX_TUNNY_IMAGE_ELIMIT:
        /* res->error set already */
        return j->jerr.rc;

    case NGX_TUNNY_IMAGE_ENOMEM:
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory %s JPEG",
                                     j->decoder ? "decoding" : "encoding");

    default:

        if (j->decoder) {
            return ngx_tunny_image_error(res, j->jerr.rc,
                                         "truncated or corrupt JPEG: %s",
                                         j->jerr.msg);
        }

        /* no input can cause this: report as an internal failure */
        return ngx_tunny_image_error(res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "JPEG encode failed: %s", j->jerr.msg);
    }
}


/* decoder */

static int
ngx_tunny_image_jpeg_decompress(ngx_tunny_image_jpeg_t *j)
{
    unsigned          cmyk;
    j_decompress_ptr  dinfo;

    dinfo = &j->dinfo;

    jpeg_mem_src(dinfo, j->run->in, (unsigned long) j->run->len);
    jpeg_save_markers(dinfo, JPEG_APP0 + 2, 0xffff);

    (void) jpeg_read_header(dinfo, TRUE);

    if (ngx_tunny_image_jpeg_header(j, &cmyk) != 0) {
        return -1;
    }

    (void) jpeg_start_decompress(dinfo);

    /* no jpeg_finish_decompress(): trailing garbage is no concern */

    if (ngx_tunny_image_jpeg_read(j, cmyk) != 0) {
        return -1;
    }

    return ngx_tunny_image_jpeg_complete(j);
}


/* what jpeg_read_header() found: limits, colours, ICC, the DCT scale */

static int
ngx_tunny_image_jpeg_header(ngx_tunny_image_jpeg_t *j, unsigned *cmyk)
{
    j_decompress_ptr        dinfo;
    ngx_tunny_image_run_t  *run;

    dinfo = &j->dinfo;
    run = j->run;

    /* the probe may have been misled: check what libjpeg will allocate */

    if (ngx_tunny_image_limit(run, dinfo->image_width, dinfo->image_height)
        != NGX_TUNNY_IMAGE_OK)
    {
        j->jerr.rc = NGX_TUNNY_IMAGE_ELIMIT;
        return -1;
    }

    if (dinfo->image_width != run->info.width
        || dinfo->image_height != run->info.height)
    {
        snprintf(j->jerr.msg, sizeof(j->jerr.msg),
                 "inconsistent frame headers");
        return -1;
    }

    *cmyk = 0;

    switch (dinfo->jpeg_color_space) {

    case JCS_GRAYSCALE:
        dinfo->out_color_space = JCS_GRAYSCALE;
        run->pix.channels = 1;
        break;

    case JCS_CMYK:
    case JCS_YCCK:
        dinfo->out_color_space = JCS_CMYK;
        run->pix.channels = 3;
        *cmyk = 1;
        break;

    default:
        dinfo->out_color_space = JCS_EXT_RGB;
        run->pix.channels = 3;
        break;
    }

    /* a CMYK profile is for ngx_tunny_image_cmyk_init(), which drops it */

    if (jpeg_read_icc_profile(dinfo, &run->icc, &run->icc_len) && !*cmyk) {
        ngx_tunny_image_icc_check(run, run->pix.channels);
    }

    dinfo->scale_num = run->geo.scale;
    dinfo->scale_denom = 8;
    dinfo->dct_method = JDCT_ISLOW;

    return 0;
}


/*
 * The next batch of scanlines, done of total, after a cancel checkpoint:
 * its size n, at most NGX_TUNNY_IMAGE_LINES, with rows[i] = base + i *
 * stride; 0: cancelled.
 */

static unsigned
ngx_tunny_image_jpeg_batch(ngx_tunny_image_jpeg_t *j, unsigned done,
    unsigned total, JSAMPROW *rows, unsigned char *base, size_t stride)
{
    unsigned  i, n;

    if (ngx_tunny_image_checkpoint(j->run, 0) != NGX_TUNNY_IMAGE_OK) {
        j->jerr.rc = NGX_TUNNY_IMAGE_ECANCEL;
        return 0;
    }

    n = total - done;
    if (n > NGX_TUNNY_IMAGE_LINES) {
        n = NGX_TUNNY_IMAGE_LINES;
    }

    for (i = 0; i < n; i++) {
        rows[i] = base + i * stride;
    }

    return n;
}


/* the scanlines, in batches, into the decode buffer */

static int
ngx_tunny_image_jpeg_read(ngx_tunny_image_jpeg_t *j, unsigned cmyk)
{
    unsigned                i, n;
    size_t                  stride;
    JSAMPROW                rows[NGX_TUNNY_IMAGE_LINES];
    unsigned char          *data, *row, *line;
    j_decompress_ptr        dinfo;
    ngx_tunny_image_run_t  *run;
    ngx_tunny_image_cmyk_t  ck;

    dinfo = &j->dinfo;
    run = j->run;

    stride = (size_t) dinfo->output_width * run->pix.channels;

    data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                   stride * dinfo->output_height);
    row = NULL;

    if (cmyk) {
        row = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_ROW,
                                      (size_t) dinfo->output_width * 4
                                      * NGX_TUNNY_IMAGE_LINES);
    }

    if (data == NULL || (cmyk && row == NULL)) {
        j->jerr.rc = NGX_TUNNY_IMAGE_ENOMEM;
        return -1;
    }

    /* CMYK: through the embedded profile with lcms2 (or the inversion) */

    ck.xf = NULL;
    ck.inverted = 0;

    if (cmyk) {
        ngx_tunny_image_cmyk_init(run, &ck, dinfo->saw_Adobe_marker);
    }

    while (dinfo->output_scanline < dinfo->output_height) {

        /* CMYK rows go through the row buffer, converted below */

        i = dinfo->output_scanline;
        line = cmyk ? row : data + (size_t) i * stride;

        n = ngx_tunny_image_jpeg_batch(j, i, dinfo->output_height, rows, line,
                                       cmyk ? (size_t) dinfo->output_width * 4
                                            : stride);
        if (n == 0) {
            return -1;
        }

        while (dinfo->output_scanline < i + n) {
            (void) jpeg_read_scanlines(dinfo,
                                       rows + (dinfo->output_scanline - i),
                                       i + n - dinfo->output_scanline);
        }

        if (cmyk) {
            for (n = 0; i + n < dinfo->output_scanline; n++) {
                ngx_tunny_image_cmyk_row(&ck, rows[n],
                                         data + (i + n) * stride,
                                         dinfo->output_width);
            }
        }
    }

    run->pix.data = data;
    run->pix.width = dinfo->output_width;
    run->pix.height = dinfo->output_height;
    run->pix.stride = stride;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    return 0;
}


/* encoder destination: a state buffer, copied out at the end */

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


/* encoder */

static int
ngx_tunny_image_jpeg_compress(ngx_tunny_image_jpeg_t *j)
{
    unsigned                n;
    JSAMPROW                rows[NGX_TUNNY_IMAGE_LINES];
    unsigned char          *line;
    j_compress_ptr          cinfo;
    ngx_tunny_image_pix_t  *pix;
    ngx_tunny_image_run_t  *run;

    cinfo = &j->cinfo;
    run = j->run;
    pix = &run->pix;

    ngx_tunny_image_jpeg_settings(j);

    jpeg_start_compress(cinfo, TRUE);

    if (run->icc) {
        jpeg_write_icc_profile(cinfo, run->icc, run->icc_len);
    }

    while (cinfo->next_scanline < cinfo->image_height) {

        line = pix->data + (size_t) cinfo->next_scanline * pix->stride;

        n = ngx_tunny_image_jpeg_batch(j, cinfo->next_scanline,
                                       cinfo->image_height, rows, line,
                                       pix->stride);
        if (n == 0) {
            return -1;
        }

        (void) jpeg_write_scanlines(cinfo, rows, n);
    }

    jpeg_finish_compress(cinfo);

    run->res->data = malloc(j->dest.used);
    if (run->res->data == NULL) {
        j->jerr.rc = NGX_TUNNY_IMAGE_ENOMEM;
        return -1;
    }

    memcpy(run->res->data, j->dest.buf->data, j->dest.used);
    run->res->len = j->dest.used;

    return 0;
}


/* destination, pixels and quality of the encoder */

static void
ngx_tunny_image_jpeg_settings(ngx_tunny_image_jpeg_t *j)
{
    j_compress_ptr                   cinfo;
    const ngx_tunny_image_pix_t     *pix;
    const ngx_tunny_image_params_t  *params;

    cinfo = &j->cinfo;
    pix = &j->run->pix;
    params = j->run->params;

    j->dest.pub.init_destination = ngx_tunny_image_jdest_init;
    j->dest.pub.empty_output_buffer = ngx_tunny_image_jdest_empty;
    j->dest.pub.term_destination = ngx_tunny_image_jdest_term;
    j->dest.buf = &j->run->st->buf[NGX_TUNNY_IMAGE_BUF_OUT];
    j->dest.used = 0;
    cinfo->dest = &j->dest.pub;

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
    jpeg_set_quality(cinfo, params->jpeg_quality, TRUE);
    cinfo->optimize_coding = TRUE;
    cinfo->dct_method = JDCT_ISLOW;

    /* jpeg_set_defaults() chose 2x2 (4:2:0) luma sampling for colour */

    if (params->interlace) {
        jpeg_simple_progression(cinfo);
    }
}
