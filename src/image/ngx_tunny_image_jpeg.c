
/*
 * ngx_tunny_module: JPEG decoding and encoding through the libjpeg API of
 * libjpeg-turbo: DCT scaling, scanline batches with cancel checkpoints
 * between them, ICC profiles, CMYK/YCCK to RGB (through the embedded
 * profile: ngx_tunny_image_colour.c), setjmp error handling, and two
 * exact shortcuts: the DC-only decode of a progressive JPEG at 1/8 (by
 * the module's own decoder where every component's block is one pixel,
 * ngx_tunny_image_jpeg_dc.c; here libjpeg's without the AC scans
 * otherwise), the decode of the region a crop needs.
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

#include "ngx_tunny_image_jpeg.h"


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

/* the kept parts of a progressive JPEG without its skipped AC scans */
#define NGX_TUNNY_IMAGE_SEGS        (NGX_TUNNY_IMAGE_MAX_SCANS + 1)

/* iMCU rows skipped between two cancel checkpoints */
#define NGX_TUNNY_IMAGE_SKIP_ROWS   32


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


/* a source of several parts of the input, in order (the DC-only decode) */
typedef struct {
    struct jpeg_source_mgr          pub;
    const unsigned char            *seg[NGX_TUNNY_IMAGE_SEGS];
    size_t                          len[NGX_TUNNY_IMAGE_SEGS];
    unsigned                        n;
    unsigned                        next;          /* the one to give */
} ngx_tunny_image_jsrc_t;


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
    ngx_tunny_image_jsrc_t          src;
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
static int ngx_tunny_image_jpeg_dc_only(ngx_tunny_image_jpeg_t *j);
static int ngx_tunny_image_jpeg_region(ngx_tunny_image_jpeg_t *j,
    unsigned *top, unsigned *bottom);
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


/*
 * The DCT scale to decode at for a need that scale n covers: libjpeg-turbo
 * has vector IDCTs for the scales 1/4, 1/2 and 8/8 only (jsimd_idct_2x2,
 * _4x4, islow) and a scalar one for the others, so some larger scales cost
 * less in all.  Measured with djpeg on the 3 MP thumbnail corpus (CPU per
 * decode relative to 4/8): 2/8 0.96, 3/8 1.07, 4/8 1, 5/8 1.40, 6/8 1.64,
 * 8/8 1.26; and the whole job with t/bench/cpu/tunny-cpu (interleaved,
 * medians): fit 256 of 3 MP at 4/8 instead of 3/8 18.9 vs 20.0 ms, the
 * 8-24 MP photos to fit 1024 with 3/8 -> 4/8 and 6/8, 7/8 -> 8/8 92.0 vs
 * 97.4 ms.  5/8 stays: 8/8 decodes 2.56 times its pixels (the buffer and
 * the resampler's work) for a gain in the noise.  A larger scale only
 * leaves more of the shrink to the resampler: never less quality.
 */

unsigned
ngx_tunny_image_dct_scale_fast(unsigned n)
{
    static const unsigned char  fast[9] = { 1, 1, 2, 4, 4, 5, 8, 8, 8 };

    return n <= 8 ? fast[n] : 8;
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
    jpeg_component_info     *comp;
    ngx_tunny_image_jerr_t  *jerr;

    jerr = (ngx_tunny_image_jerr_t *) dinfo->err;

    if (dinfo->input_scan_number == jerr->scan) {
        return 0;
    }

    jerr->scan = dinfo->input_scan_number;

    for (i = 0; i < dinfo->comps_in_scan; i++) {
        comp = dinfo->cur_comp_info[i];
        jerr->blocks += (uint64_t) comp->width_in_blocks
                        * comp->height_in_blocks;
    }

    switch (ngx_tunny_image_jpeg_budget(dinfo, jerr->scan, jerr->blocks)) {

    case 1:
        (void) ngx_tunny_image_error(jerr->run->res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "JPEG has more than %d scans",
                                     NGX_TUNNY_IMAGE_MAX_SCANS);
        return -1;

    case 2:
        (void) ngx_tunny_image_error(jerr->run->res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "JPEG scans need more than %d passes "
                                     "over the image",
                                     NGX_TUNNY_IMAGE_MAX_PASSES);
        return -1;

    default:
        return 0;
    }
}


/*
 * The one scan budget: 0 while scans and the blocks they decode (all of
 * the scans so far) are within it, 1: too many scans, 2: too many passes
 */

int
ngx_tunny_image_jpeg_budget(j_decompress_ptr dinfo, int scans,
    uint64_t blocks)
{
    int                   i;
    uint64_t              frame;
    jpeg_component_info  *comp;

    if (scans > NGX_TUNNY_IMAGE_MAX_SCANS) {
        return 1;
    }

    frame = 0;

    for (i = 0; i < dinfo->num_components; i++) {
        comp = &dinfo->comp_info[i];
        frame += (uint64_t) comp->width_in_blocks * comp->height_in_blocks;
    }

    return blocks > frame * NGX_TUNNY_IMAGE_MAX_PASSES ? 2 : 0;
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
    int               rc;
    unsigned          cmyk;
    j_decompress_ptr  dinfo;

    dinfo = &j->dinfo;

    jpeg_mem_src(dinfo, j->run->in, (unsigned long) j->run->len);
    jpeg_save_markers(dinfo, JPEG_APP0 + 2, 0xffff);

    (void) jpeg_read_header(dinfo, TRUE);

    if (ngx_tunny_image_jpeg_header(j, &cmyk) != 0) {
        return -1;
    }

    /* the module's own DC-only decoder, where it applies */

    rc = ngx_tunny_image_jpeg_dc_decode(j->run, dinfo);

    if (rc == 1) {
        j->run->res->fast |= NGX_TUNNY_IMAGE_FAST_DC | NGX_TUNNY_IMAGE_DC_OWN;
        return 0;
    }

    if (rc < 0) {
        j->jerr.rc = rc;                        /* res->error set */
        return -1;
    }

    if (ngx_tunny_image_jpeg_dc_only(j)) {
        j->run->res->fast |= NGX_TUNNY_IMAGE_FAST_DC;
    }

    (void) jpeg_start_decompress(dinfo);

    /* no jpeg_finish_decompress(): trailing garbage is no concern */

    if (ngx_tunny_image_jpeg_read(j, cmyk) != 0) {
        return -1;
    }

    return ngx_tunny_image_jpeg_complete(j);
}


/*
 * The DC-only decode by libjpeg, where the module's own decoder
 * (ngx_tunny_image_jpeg_dc.c) declined: 4:2:0, whose chroma libjpeg
 * scales to 2x2 blocks, a file it does not take.  At the DCT scale 1/8
 * the IDCT of a component whose
 * scaled block is 1x1 reads the DC coefficient alone (jpeg_idct_1x1; a
 * 4:2:0 chroma component is scaled to 2x2 and reads AC coefficients too).
 * In a progressive JPEG a scan with Ss > 0 holds AC coefficients of one
 * component only, so those scans of the 1x1 components need not be
 * entropy-decoded: libjpeg is given the file without them, through a
 * source of the parts in between.  The DC scans (first and refinement,
 * wherever they are) and every other scan and marker stay, so the
 * coefficients the output reads are the ones of the whole decode.
 *
 * Taken only when it is exact and the file is plain: Huffman coding, the
 * first scan a DC scan, every later scan header valid as libjpeg checks
 * it, an EOI (a truncated file is decoded whole, and rejected as today),
 * the scan budget kept by the whole file, and every coefficient of every
 * component complete at the end.  Without the last, libjpeg would apply
 * block smoothing to the whole decode (libjpeg-turbo 2.1 then also
 * changes DC); with it the whole decode does not smooth, and neither does
 * this one (do_block_smoothing off: its skipped AC would otherwise look
 * unknown).  What this decode cannot see is damage inside a skipped scan
 * (corrupt or missing entropy data, an undefined table there): the whole
 * decode rejects some of those, this one answers from the parts the
 * output is made of.
 *
 * 1: taken (dinfo->src replaced), 0: decode as usual.
 */

static void
ngx_tunny_image_jsrc_init(j_decompress_ptr dinfo)
{
    (void) dinfo;
}


static boolean
ngx_tunny_image_jsrc_fill(j_decompress_ptr dinfo)
{
    ngx_tunny_image_jsrc_t  *src;

    static const JOCTET      eoi[2] = { 0xff, JPEG_EOI };

    src = (ngx_tunny_image_jsrc_t *) dinfo->src;

    if (src->next < src->n) {
        src->pub.next_input_byte = src->seg[src->next];
        src->pub.bytes_in_buffer = src->len[src->next];
        src->next++;
        return TRUE;
    }

    /* as jpeg_mem_src(): the end of the input, a fake EOI */

    WARNMS(dinfo, JWRN_JPEG_EOF);

    src->pub.next_input_byte = eoi;
    src->pub.bytes_in_buffer = 2;

    return TRUE;
}


static void
ngx_tunny_image_jsrc_skip(j_decompress_ptr dinfo, long n)
{
    struct jpeg_source_mgr  *src;

    src = dinfo->src;

    while (n > 0 && (size_t) n > src->bytes_in_buffer) {
        n -= (long) src->bytes_in_buffer;
        (void) ngx_tunny_image_jsrc_fill(dinfo);
    }

    if (n > 0) {
        src->next_input_byte += n;
        src->bytes_in_buffer -= (size_t) n;
    }
}


static void
ngx_tunny_image_jsrc_term(j_decompress_ptr dinfo)
{
    (void) dinfo;
}


static int
ngx_tunny_image_jpeg_dc_only(ngx_tunny_image_jpeg_t *j)
{
    int                      c, k, any, scans;
    int                      bits[MAX_COMPONENTS][DCTSIZE2];
    size_t                   i, len, start, l, end;
    unsigned                 m, n, dropped;
    uint64_t                 blocks;
    const unsigned char     *in, *q;
    j_decompress_ptr         dinfo;
    jpeg_component_info     *comp;
    ngx_tunny_image_jsrc_t  *src;
    ngx_tunny_image_jscan_t  scan;

    dinfo = &j->dinfo;
    in = j->run->in;
    len = j->run->len;
    src = &j->src;

    if (!(j->run->fast & NGX_TUNNY_IMAGE_FAST_DC)
        || !dinfo->progressive_mode
        || dinfo->arith_code
        || dinfo->scale_num != 1
        || dinfo->Ss != 0
        || dinfo->num_components > MAX_COMPONENTS)
    {
        return 0;
    }

    /* the scaled block sizes libjpeg will use */

    jpeg_calc_output_dimensions(dinfo);

    any = 0;

    for (c = 0; c < dinfo->num_components; c++) {
        any |= (dinfo->comp_info[c].DCT_scaled_size == 1);

        for (k = 0; k < DCTSIZE2; k++) {
            bits[c][k] = -1;
        }
    }

    if (!any) {
        return 0;
    }

    /* the first scan, its header read by jpeg_read_header() */

    q = dinfo->src->next_input_byte;

    if (q < in || q > in + len) {
        return 0;
    }

    i = (size_t) (q - in);

    scans = 1;
    blocks = 0;

    for (n = 0; n < (unsigned) dinfo->comps_in_scan; n++) {
        comp = dinfo->cur_comp_info[n];
        blocks += (uint64_t) comp->width_in_blocks * comp->height_in_blocks;
        bits[comp->component_index][0] = dinfo->Al;
    }

    src->n = 0;
    start = i;
    dropped = 0;

    i = ngx_tunny_image_jpeg_ecs_end(in, i, len);

    /* the rest: markers and scans, to the EOI */

    for ( ;; ) {

        if (ngx_tunny_image_jpeg_marker(in, len, &i, &m, &l) != 0) {
            return 0;                   /* no EOI */
        }

        if (m == JPEG_EOI) {
            break;
        }

        if (m != 0xda) {
            i += 2 + l;
            continue;
        }

        if (ngx_tunny_image_jpeg_sos(dinfo, in + i, l, &scan) != 0) {
            return 0;
        }

        /* the budget of the whole file, as the whole decode counts it */

        scans++;

        for (n = 0; n < (unsigned) scan.ns; n++) {
            comp = &dinfo->comp_info[scan.ci[n]];
            blocks += (uint64_t) comp->width_in_blocks
                      * comp->height_in_blocks;

            for (k = scan.ss; k <= scan.se; k++) {
                bits[scan.ci[n]][k] = scan.al;
            }
        }

        if (ngx_tunny_image_jpeg_budget(dinfo, scans, blocks) != 0) {
            return 0;
        }

        end = ngx_tunny_image_jpeg_ecs_end(in, i + 2 + l, len);

        if (scan.ss == 0
            || dinfo->comp_info[scan.ci[0]].DCT_scaled_size != 1)
        {
            i = end;
            continue;
        }

        /* an AC scan the output does not read: a part ends before it */

        if (i > start) {
            src->seg[src->n] = in + start;
            src->len[src->n] = i - start;
            src->n++;
        }

        start = end;
        i = end;
        dropped++;
    }

    for (c = 0; c < dinfo->num_components; c++) {
        for (k = 0; k < DCTSIZE2; k++) {
            if (bits[c][k] != 0) {
                return 0;
            }
        }
    }

    if (dropped == 0) {
        return 0;
    }

    src->seg[src->n] = in + start;
    src->len[src->n] = i + 2 - start;
    src->n++;

    src->pub.init_source = ngx_tunny_image_jsrc_init;
    src->pub.fill_input_buffer = ngx_tunny_image_jsrc_fill;
    src->pub.skip_input_data = ngx_tunny_image_jsrc_skip;
    src->pub.resync_to_restart = jpeg_resync_to_restart;
    src->pub.term_source = ngx_tunny_image_jsrc_term;
    src->pub.next_input_byte = src->seg[0];
    src->pub.bytes_in_buffer = src->len[0];
    src->next = 1;

    dinfo->src = &src->pub;
    dinfo->do_block_smoothing = FALSE;

    return 1;
}


/*
 * Where the entropy-coded data from i ends: the first 0xFF of the marker
 * after it (0xFF 0x00 is a stuffed byte, RSTn belong to the data, 0xFF
 * runs are fill), as libjpeg's bit reader finds it; len when none.
 */

size_t
ngx_tunny_image_jpeg_ecs_end(const unsigned char *in, size_t i, size_t len)
{
    size_t                k, m;
    const unsigned char  *p;

    while (i < len) {
        p = memchr(in + i, 0xff, len - i);
        if (p == NULL) {
            return len;
        }

        k = (size_t) (p - in);

        for (m = k + 1; m < len && in[m] == 0xff; m++) {
            /* void */
        }

        if (m >= len) {
            return len;
        }

        if (in[m] != 0x00 && !(in[m] >= 0xd0 && in[m] <= 0xd7)) {
            return k;
        }

        i = m + 1;
    }

    return len;
}


int
ngx_tunny_image_jpeg_marker(const unsigned char *in, size_t len, size_t *i,
    unsigned *m, size_t *l)
{
    size_t  k;

    for (k = *i; /* void */ ; k++) {
        if (k + 1 >= len) {
            return -1;
        }

        if (in[k] == 0xff && in[k + 1] != 0xff) {
            break;                      /* else garbage, fill */
        }
    }

    *i = k;
    *m = in[k + 1];
    *l = 0;

    if (*m == JPEG_EOI || *m == 0x00 || *m == 0x01
        || (*m >= 0xd0 && *m <= 0xd8))
    {
        return 0;                       /* no length */
    }

    if (k + 4 > len) {
        return -1;
    }

    *l = ((size_t) in[k + 2] << 8) | in[k + 3];

    return (*l < 2 || k + 2 + *l > len) ? -1 : 0;
}


int
ngx_tunny_image_jpeg_sos(j_decompress_ptr dinfo, const unsigned char *in,
    size_t l, ngx_tunny_image_jscan_t *scan)
{
    int  c, k, n, ns;

    ns = (l >= 3) ? in[4] : 0;

    if (ns < 1 || ns > MAX_COMPS_IN_SCAN || l != (size_t) (6 + 2 * ns)) {
        return -1;
    }

    for (n = 0; n < ns; n++) {
        for (c = 0; c < dinfo->num_components; c++) {
            if (dinfo->comp_info[c].component_id == in[5 + 2 * n]) {
                break;
            }
        }

        if (c == dinfo->num_components) {
            return -1;
        }

        for (k = 0; k < n; k++) {
            if (scan->ci[k] == c) {
                return -1;
            }
        }

        scan->ci[n] = c;
        scan->td[n] = in[6 + 2 * n] >> 4;
    }

    scan->ns = ns;
    scan->ss = in[5 + 2 * ns];
    scan->se = in[6 + 2 * ns];
    scan->ah = in[7 + 2 * ns] >> 4;
    scan->al = in[7 + 2 * ns] & 0x0f;

    if ((scan->ss == 0 && scan->se != 0)
        || (scan->ss != 0
            && (scan->se < scan->ss || scan->se > DCTSIZE2 - 1 || ns != 1))
        || (scan->ah != 0 && scan->al != scan->ah - 1)
        || scan->al > 13)
    {
        return -1;
    }

    return 0;
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


/*
 * The region decode (crop): only the columns and rows of the scaled frame
 * the resampler reads for the window (run->geo: dx, dy, dw, dh), with a
 * margin libjpeg needs to give them exactly as the whole decode does.
 * Columns: jpeg_crop_scanline() moves the left edge to an iMCU boundary;
 * "fancy" chroma upsampling treats the edges of the crop as edges of the
 * image, so one more iMCU column each side (three for progressive, see
 * below) keeps those pixels out of the region used.  Rows: jpeg_skip_scanlines() (single scan: the skipped
 * rows are still entropy-decoded, not transformed) to two iMCU rows above
 * the first row needed, so that the upsampler's context rows are decoded
 * again before it; in steps, with a cancel checkpoint between them.  The
 * rows below the region are not decoded at all when the whole input was
 * entropy-decoded already (progressive) or ends with an EOI: a truncated
 * file is read to its end and rejected as before.
 *
 * *top, *bottom: the rows to read.  0, or -1 (cancelled).
 */

static int
ngx_tunny_image_jpeg_region(ngx_tunny_image_jpeg_t *j, unsigned *top,
    unsigned *bottom)
{
    unsigned                imcu, first, end, step;
    JDIMENSION              x, w;
    j_decompress_ptr        dinfo;
    ngx_tunny_image_geo_t  *g;
    ngx_tunny_image_run_t  *run;

    dinfo = &j->dinfo;
    run = j->run;
    g = &run->geo;

    run->dec_w = dinfo->output_width;
    run->dec_h = dinfo->output_height;
    run->dec_x = 0;
    run->dec_y = 0;

    *top = 0;
    *bottom = dinfo->output_height;

    /*
     * only the samplings the tests compare (t/unit/test_image_fast.c):
     * with 4x luma sampling (4:1:1, 4:1:0) libjpeg's crop does not give
     * the pixels of the whole decode
     */

    if (!(run->fast & NGX_TUNNY_IMAGE_FAST_REGION)
        || g->dw == 0
        || g->dx + g->dw > dinfo->output_width
        || g->dy + g->dh > dinfo->output_height
        || dinfo->max_h_samp_factor > 2
        || dinfo->max_v_samp_factor > 2)
    {
        return 0;
    }

    /*
     * columns; a progressive JPEG with coefficients still imprecise at the
     * end is smoothed block by block over 5x5 blocks of DC values, and the
     * smoothing takes the first block of the crop for the ones left of
     * it: three iMCU columns there
     */

    imcu = (unsigned) (dinfo->max_h_samp_factor * dinfo->min_DCT_scaled_size);
    imcu *= dinfo->progressive_mode ? 3 : 1;

    x = g->dx > imcu ? g->dx - imcu : 0;
    end = g->dx + g->dw + imcu;
    end = end < dinfo->output_width ? end : dinfo->output_width;
    w = end - x;

    if (w < dinfo->output_width) {
        jpeg_crop_scanline(dinfo, &x, &w);
        run->dec_x = x;
    }

    /* rows */

    imcu = (unsigned) (dinfo->max_v_samp_factor * dinfo->min_DCT_scaled_size);

    first = g->dy > 2 * imcu ? (g->dy - 2 * imcu) / imcu * imcu : 0;
    step = NGX_TUNNY_IMAGE_SKIP_ROWS * imcu;

    while (dinfo->output_scanline < first) {

        if (ngx_tunny_image_checkpoint(run, 0) != NGX_TUNNY_IMAGE_OK) {
            j->jerr.rc = NGX_TUNNY_IMAGE_ECANCEL;
            return -1;
        }

        end = first - dinfo->output_scanline;

        (void) jpeg_skip_scanlines(dinfo, end < step ? end : step);
    }

    *top = dinfo->output_scanline;
    run->dec_y = *top;

    if (jpeg_has_multiple_scans(dinfo)
        || (run->len >= 2 && run->in[run->len - 2] == 0xff
            && run->in[run->len - 1] == JPEG_EOI))
    {
        *bottom = g->dy + g->dh;
    }

    if (run->dec_x != 0 || w < run->dec_w || *top != 0
        || *bottom != run->dec_h)
    {
        run->res->fast |= NGX_TUNNY_IMAGE_FAST_REGION;
    }

    return 0;
}


/* the scanlines, in batches, into the decode buffer */

static int
ngx_tunny_image_jpeg_read(ngx_tunny_image_jpeg_t *j, unsigned cmyk)
{
    unsigned                i, n, top, bottom;
    size_t                  stride;
    JSAMPROW                rows[NGX_TUNNY_IMAGE_LINES];
    unsigned char          *data, *row, *line;
    j_decompress_ptr        dinfo;
    ngx_tunny_image_run_t  *run;
    ngx_tunny_image_cmyk_t  ck;

    dinfo = &j->dinfo;
    run = j->run;

    if (ngx_tunny_image_jpeg_region(j, &top, &bottom) != 0) {
        return -1;
    }

    stride = (size_t) dinfo->output_width * run->pix.channels;

    data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                   stride * (bottom - top));
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

    while (dinfo->output_scanline < bottom) {

        /* CMYK rows go through the row buffer, converted below */

        i = dinfo->output_scanline;
        line = cmyk ? row : data + (size_t) (i - top) * stride;

        n = ngx_tunny_image_jpeg_batch(j, i, bottom, rows, line,
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
                                         data + (i - top + n) * stride,
                                         dinfo->output_width);
            }
        }
    }

    run->pix.data = data;
    run->pix.width = dinfo->output_width;
    run->pix.height = bottom - top;
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
