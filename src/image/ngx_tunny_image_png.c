
/*
 * ngx_tunny_module: PNG decoding and encoding through libspng: grey, RGB,
 * palette, 1..16 bits (16 is reduced to 8), tRNS as alpha, Adam7, the
 * iCCP profile kept, APNG as its default image (libspng skips the
 * animation chunks).
 *
 * Limits, all before pixel memory: the IHDR dimensions through
 * ngx_tunny_image_limit() (max_pixels), spng_set_image_limits() and
 * spng_set_chunk_limits() (chunk and ancillary cache sizes).  The work is
 * bounded by the image size: libspng inflates IDAT one scanline at a time
 * into a buffer of the scanline's size and stops at the last row, so
 * IDAT data that would inflate past height x scanline is never inflated
 * (t/tools/gen-hostile.c makes such a zlib bomb; t/unit checks it).
 *
 * A plain PNG (8 bits, not interlaced, no tRNS: most photos and
 * illustrations) skips libspng's row loop: ngx_tunny_image_png_idat()
 * inflates its image data with libdeflate and unfilters it (an exact
 * shortcut, NGX_TUNNY_IMAGE_FAST_INFLATE); libspng still reads the
 * header and the chunks before IDAT, and decodes whatever that path
 * declines.
 *
 * A non-interlaced PNG well over its target is shrunk on load: its rows go
 * into ngx_tunny_image_shrink_row() as they are decoded, by the box factor
 * of ngx_tunny_image_box_factor(); through libspng the full-size image is
 * never stored.  Adam7 rows come pass by pass: decoded whole.
 *
 * The encoder leaves an output of up to 512 x 512 pixels at levels 0-6
 * to ngx_tunny_image_png_deflate() (our filters, one libdeflate call: the
 * same pixels in other bytes, NGX_TUNNY_IMAGE_FAST_DEFLATE); libspng
 * writes the others row by row.
 *
 * Cancellation: rows are decoded and encoded one at a time
 * (SPNG_DECODE_PROGRESSIVE, SPNG_ENCODE_PROGRESSIVE) with the cancel
 * checkpoint every NGX_TUNNY_IMAGE_CHECK_ROWS rows; for Adam7 the count
 * runs over the rows of all seven passes.
 *
 * Runs in the thread of ngx_tunny_image_process(); each call has its own
 * libspng context, freed before it returns.
 */


#include <stdlib.h>
#include <string.h>

#include <spng.h>

#include "ngx_tunny_image_int.h"


#define NGX_TUNNY_IMAGE_PNG_MAX_SIDE   1000000
#define NGX_TUNNY_IMAGE_PNG_MAX_CHUNK  (16 * 1024 * 1024)
#define NGX_TUNNY_IMAGE_PNG_MAX_CACHE  (32 * 1024 * 1024)


static int ngx_tunny_image_png_plain(const struct spng_ihdr *ihdr,
    unsigned channels);
static int ngx_tunny_image_png_spng(ngx_tunny_image_run_t *run,
    spng_ctx *ctx, int fmt, unsigned channels,
    ngx_tunny_image_shrink_t *shrink);
static int ngx_tunny_image_png_format(spng_ctx *ctx,
    const struct spng_ihdr *ihdr, unsigned *channels);
static int ngx_tunny_image_png_rows(ngx_tunny_image_run_t *run,
    spng_ctx *ctx, unsigned char *data, size_t stride,
    ngx_tunny_image_shrink_t *shrink);
static void ngx_tunny_image_png_icc(ngx_tunny_image_run_t *run,
    spng_ctx *ctx);


/* decoder */

int
ngx_tunny_image_png_decode(ngx_tunny_image_run_t *run)
{
    int                        rc, err, fmt;
    unsigned                   ch, k;
    spng_ctx                  *ctx;
    struct spng_ihdr           ihdr;
    ngx_tunny_image_shrink_t   shrink;

    /*
     * zlib's Adler-32 of the inflated data is not checked (5% of a
     * photo's decode, as libvips does): the CRC of each IDAT chunk, which
     * libspng still checks, covers the same bytes before inflating
     */

    ctx = spng_ctx_new(SPNG_CTX_IGNORE_ADLER32);
    if (ctx == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding PNG");
    }

    rc = NGX_TUNNY_IMAGE_OK;

    err = spng_set_image_limits(ctx, NGX_TUNNY_IMAGE_PNG_MAX_SIDE,
                                NGX_TUNNY_IMAGE_PNG_MAX_SIDE);
    if (err == 0) {
        err = spng_set_chunk_limits(ctx, NGX_TUNNY_IMAGE_PNG_MAX_CHUNK,
                                    NGX_TUNNY_IMAGE_PNG_MAX_CACHE);
    }

    if (err == 0) {
        err = spng_set_png_buffer(ctx, run->in, run->len);
    }

    if (err == 0) {
        err = spng_get_ihdr(ctx, &ihdr);
    }

    if (err != 0) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                   "PNG decode failed: %s",
                                   spng_strerror(err));
        goto done;
    }

    rc = ngx_tunny_image_limit(run, ihdr.width, ihdr.height);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    if (ihdr.width != run->info.width || ihdr.height != run->info.height) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                   "PNG decode failed: "
                                   "inconsistent headers");
        goto done;
    }

    fmt = ngx_tunny_image_png_format(ctx, &ihdr, &ch);

    k = ihdr.interlace_method ? 1 : ngx_tunny_image_box_factor(run);

    if (k > 1) {
        /* the rows, one at a time, into the shrink */
        rc = ngx_tunny_image_shrink_init(run, &shrink, k, ihdr.width,
                                         ihdr.height, ch);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            goto done;
        }
    }

    /*
     * iCCP comes before IDAT: read before the image data, so that damage
     * after it, which libspng meets only when it decodes through to IEND,
     * does not lose the profile (nor make the two paths differ)
     */

    ngx_tunny_image_png_icc(run, ctx);

    rc = NGX_TUNNY_IMAGE_DECLINED;

    if ((run->fast & NGX_TUNNY_IMAGE_FAST_INFLATE)
        && ngx_tunny_image_png_plain(&ihdr, ch))
    {
        rc = ngx_tunny_image_png_idat(run, ihdr.width, ihdr.height, ch,
                                      k > 1 ? &shrink : NULL);
    }

    if (rc == NGX_TUNNY_IMAGE_DECLINED) {
        rc = ngx_tunny_image_png_spng(run, ctx, fmt, ch,
                                      k > 1 ? &shrink : NULL);
    }

    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    ngx_tunny_image_icc_check(run, ch == 1 ? 1 : 3);

    if (k > 1) {
        run->pix = shrink.out;
        run->box = k;
    }

done:

    spng_ctx_free(ctx);

    return rc;
}


/*
 * PNG's own layout is what the pipeline takes (ngx_tunny_image_png_idat()
 * can give it): 8 bits, not interlaced, and grey, RGB or RGBA as libspng
 * would give them (no tRNS turning them into RGBA).
 */

static int
ngx_tunny_image_png_plain(const struct spng_ihdr *ihdr, unsigned channels)
{
    if (ihdr->bit_depth != 8 || ihdr->interlace_method != 0) {
        return 0;
    }

    switch (ihdr->color_type) {

    case SPNG_COLOR_TYPE_GRAYSCALE:
        return channels == 1;

    case SPNG_COLOR_TYPE_TRUECOLOR:
        return channels == 3;

    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA:
        return channels == 4;

    default:
        return 0;
    }
}


/*
 * Through libspng's row loop, into the shrink when there is one, else
 * into BUF_DEC as run->pix.
 */

static int
ngx_tunny_image_png_spng(ngx_tunny_image_run_t *run, spng_ctx *ctx, int fmt,
    unsigned channels, ngx_tunny_image_shrink_t *shrink)
{
    int             rc, err;
    size_t          stride;
    unsigned char  *data;

    stride = (size_t) run->info.width * channels;

    if (shrink) {
        data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_ROW,
                                       stride);

    } else {
        data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                       stride * run->info.height);
    }

    if (data == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding PNG");
    }

    err = spng_decode_image(ctx, NULL, 0, fmt,
                            SPNG_DECODE_TRNS|SPNG_DECODE_PROGRESSIVE);
    if (err != 0) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "PNG decode failed: %s",
                                     spng_strerror(err));
    }

    rc = ngx_tunny_image_png_rows(run, ctx, data, stride, shrink);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (shrink == NULL) {
        run->pix.data = data;
        run->pix.width = run->info.width;
        run->pix.height = run->info.height;
        run->pix.channels = channels;
        run->pix.stride = stride;
        run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;
    }

    return NGX_TUNNY_IMAGE_OK;
}


/*
 * The pixel layout for the pipeline: grey stays grey when libspng can
 * give it as G8 (8 bits or less, no tRNS); alpha (an alpha channel or a
 * tRNS chunk) gives RGBA; everything else RGB.
 */

static int
ngx_tunny_image_png_format(spng_ctx *ctx, const struct spng_ihdr *ihdr,
    unsigned *channels)
{
    int               trns;
    struct spng_trns  t;

    trns = (spng_get_trns(ctx, &t) == 0);

    if (ihdr->color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA
        || ihdr->color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA
        || trns)
    {
        *channels = 4;
        return SPNG_FMT_RGBA8;
    }

    if (ihdr->color_type == SPNG_COLOR_TYPE_GRAYSCALE
        && ihdr->bit_depth <= 8)
    {
        *channels = 1;
        return SPNG_FMT_G8;
    }

    *channels = 3;
    return SPNG_FMT_RGB8;
}


/*
 * Row by row, in pass order for Adam7, with the cancel checkpoint: into
 * data at the row's place, or, with a shrink, each into data (one row)
 * and from there into the shrink.  libspng answers SPNG_EOI for the last
 * row, once it is decoded.
 */

static int
ngx_tunny_image_png_rows(ngx_tunny_image_run_t *run, spng_ctx *ctx,
    unsigned char *data, size_t stride, ngx_tunny_image_shrink_t *shrink)
{
    int                    rc, err;
    unsigned               n;
    struct spng_row_info   ri;

    for (n = 0; /* void */; n++) {

        rc = ngx_tunny_image_checkpoint(run, n);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }

        err = spng_get_row_info(ctx, &ri);

        if (err == 0) {
            if (ri.row_num >= run->info.height) {
                err = SPNG_EINTERNAL;

            } else {
                err = spng_decode_row(ctx, shrink
                                           ? data
                                           : data + ri.row_num * stride,
                                      stride);
            }
        }

        if (shrink && (err == 0 || err == SPNG_EOI)) {
            ngx_tunny_image_shrink_row(shrink, data);
        }

        if (err == SPNG_EOI) {
            return NGX_TUNNY_IMAGE_OK;
        }

        if (err != 0) {
            return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                         "PNG decode failed: %s",
                                         spng_strerror(err));
        }
    }
}


static void
ngx_tunny_image_png_icc(ngx_tunny_image_run_t *run, spng_ctx *ctx)
{
    struct spng_iccp  iccp;

    if (spng_get_iccp(ctx, &iccp) != 0
        || iccp.profile_len == 0
        || iccp.profile_len >= NGX_TUNNY_IMAGE_PNG_MAX_CHUNK)
    {
        return;
    }

    run->icc = malloc(iccp.profile_len);
    if (run->icc == NULL) {
        return;
    }

    memcpy(run->icc, iccp.profile, iccp.profile_len);
    run->icc_len = (unsigned int) iccp.profile_len;
}


/* encoder */

int
ngx_tunny_image_png_encode(ngx_tunny_image_run_t *run)
{
    int                     rc, err;
    void                   *png;
    size_t                  len;
    unsigned                y;
    spng_ctx               *ctx;
    struct spng_ihdr        ihdr;
    struct spng_iccp        iccp;
    ngx_tunny_image_pix_t  *pix;

    rc = ngx_tunny_image_png_deflate(run);
    if (rc != NGX_TUNNY_IMAGE_DECLINED) {
        return rc;
    }

    pix = &run->pix;

    ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (ctx == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory encoding PNG");
    }

    memset(&ihdr, 0, sizeof(struct spng_ihdr));
    ihdr.width = pix->width;
    ihdr.height = pix->height;
    ihdr.bit_depth = 8;
    ihdr.color_type = (pix->channels == 4)
                      ? SPNG_COLOR_TYPE_TRUECOLOR_ALPHA
                      : (pix->channels == 3) ? SPNG_COLOR_TYPE_TRUECOLOR
                                             : SPNG_COLOR_TYPE_GRAYSCALE;

    err = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);

    if (err == 0) {
        err = spng_set_option(ctx, SPNG_IMG_COMPRESSION_LEVEL,
                              run->params->png_compression);
    }

    if (err == 0) {
        err = spng_set_ihdr(ctx, &ihdr);
    }

    if (err == 0 && run->icc) {
        memset(&iccp, 0, sizeof(struct spng_iccp));
        memcpy(iccp.profile_name, "ICC profile", sizeof("ICC profile"));
        iccp.profile_len = run->icc_len;
        iccp.profile = (char *) run->icc;

        err = spng_set_iccp(ctx, &iccp);
    }

    if (err == 0) {
        err = spng_encode_image(ctx, NULL, 0, SPNG_FMT_PNG,
                                SPNG_ENCODE_PROGRESSIVE
                                |SPNG_ENCODE_FINALIZE);
    }

    for (y = 0; err == 0 && y < pix->height; y++) {

        rc = ngx_tunny_image_checkpoint(run, y);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            spng_ctx_free(ctx);
            return rc;
        }

        err = spng_encode_row(ctx, pix->data + y * pix->stride,
                              (size_t) pix->width * pix->channels);
    }

    if (err != 0 && err != SPNG_EOI) {
        spng_ctx_free(ctx);
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "PNG encode failed: %s",
                                     spng_strerror(err));
    }

    png = spng_get_png_buffer(ctx, &len, &err);

    spng_ctx_free(ctx);

    if (png == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "PNG encode failed: %s",
                                     spng_strerror(err));
    }

    /* libspng's buffer comes from its default allocator, malloc() */

    run->res->data = png;
    run->res->len = len;

    return NGX_TUNNY_IMAGE_OK;
}
