
/*
 * ngx_tunny_module: AVIF decoding (libavif with dav1d) and encoding
 * (libavif with libaom).
 *
 * Decoder: the primary image (of a sequence: its first image), 8, 10 or
 * 12 bits reduced to 8, alpha kept (un-premultiplied), the ICC profile
 * kept; irot/imir become the orientation in the probe
 * (ngx_tunny_image_probe.c) and are applied once by the pipeline.
 *
 * Limits, all before pixel memory: avifDecoderParse() reads the boxes
 * only; the dimensions it found (for a grid: the grid's output size,
 * which libavif checks against imageSizeLimit and against the ispe of
 * the grid item) go through ngx_tunny_image_limit() (max_pixels) before
 * avifDecoderNextImage() decodes anything; imageSizeLimit is max_pixels
 * too, so dav1d refuses any cell or frame above it (a grid's cells are
 * each at most the grid), imageDimensionLimit keeps libavif's 32768.
 *
 * Cancellation: dav1d decodes the whole image (every cell of a grid) in
 * one avifDecoderNextImage() call, looked at before and after; the YUV
 * to RGB conversion runs in strips of NGX_TUNNY_IMAGE_AVIF_STRIP rows,
 * with the checkpoint between them.  The encoder is one
 * avifEncoderWrite() call (libavif 0.11 has no progress hook and libaom
 * none libavif would pass on): the cancel flag is looked at before it
 * and after it, and the bound of the cancellation is the duration of
 * that call, measured in the README ("AVIF").
 *
 * Threads: one.  The pool thread is the unit of parallelism; a decoder
 * or encoder of several threads would take cores the pool did not
 * account for.
 *
 * Runs in the thread of ngx_tunny_image_process(); each call has its own
 * decoder or encoder, destroyed before it returns.
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_tunny_image_int.h"


#if (NGX_TUNNY_IMAGE_HAVE_AVIF)

#include <avif/avif.h>


/* rows per YUV to RGB strip (even: 4:2:0 chroma rows are pairs) */
#define NGX_TUNNY_IMAGE_AVIF_STRIP   128

/* rows above and below a strip for the chroma upsampling filter */
#define NGX_TUNNY_IMAGE_AVIF_MARGIN  2

#define NGX_TUNNY_IMAGE_AVIF_MAX_ICC (16 * 1024 * 1024)

/* libavif's encoder by params->avif_codec (NGX_TUNNY_IMAGE_AVIF_*) */
static const avifCodecChoice  ngx_tunny_image_avif_codecs[] = {
    AVIF_CODEC_CHOICE_AOM,
    AVIF_CODEC_CHOICE_SVT,
    AVIF_CODEC_CHOICE_RAV1E
};


static int ngx_tunny_image_avif_rgb(ngx_tunny_image_run_t *run,
    const avifImage *image, unsigned char *data, size_t stride,
    unsigned channels);
static void ngx_tunny_image_avif_icc(ngx_tunny_image_run_t *run,
    const avifImage *image);
static int ngx_tunny_image_avif_failed(ngx_tunny_image_run_t *run,
    int rc, const char *what, avifResult r, const avifDiagnostics *diag);


/* decoder */

int
ngx_tunny_image_avif_decode(ngx_tunny_image_run_t *run)
{
    int             rc;
    size_t          size, stride;
    uint64_t        limit;
    unsigned        ch;
    avifResult      r;
    avifImage      *image;
    avifDecoder    *dec;
    unsigned char  *data;

    dec = avifDecoderCreate();
    if (dec == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding AVIF");
    }

    dec->codecChoice = AVIF_CODEC_CHOICE_DAV1D;
    dec->maxThreads = 1;
    dec->ignoreExif = AVIF_TRUE;
    dec->ignoreXMP = AVIF_TRUE;

    /* files without a pixi box are common and harmless */
    dec->strictFlags = AVIF_STRICT_CLAP_VALID
                       |AVIF_STRICT_ALPHA_ISPE_REQUIRED;

    limit = run->params->max_pixels;

    if (limit > 0 && limit < AVIF_DEFAULT_IMAGE_SIZE_LIMIT) {
        dec->imageSizeLimit = (uint32_t) limit;
    }

    r = avifDecoderSetIOMemory(dec, run->in, run->len);

    if (r == AVIF_RESULT_OK) {
        r = avifDecoderParse(dec);
    }

    if (r != AVIF_RESULT_OK) {
        rc = ngx_tunny_image_avif_failed(run, NGX_TUNNY_IMAGE_EINPUT,
                                         "AVIF decode failed", r, &dec->diag);
        goto done;
    }

    image = dec->image;

    rc = ngx_tunny_image_limit(run, image->width, image->height);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    if (image->width != run->info.width
        || image->height != run->info.height)
    {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                   "AVIF decode failed: "
                                   "inconsistent headers (%ux%u, ispe "
                                   "%ux%u)", image->width, image->height,
                                   run->info.width, run->info.height);
        goto done;
    }

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    /* the first image: the primary item, or a sequence's first frame */

    r = avifDecoderNextImage(dec);

    if (r != AVIF_RESULT_OK) {
        rc = ngx_tunny_image_avif_failed(run, NGX_TUNNY_IMAGE_EINPUT,
                                         "AVIF decode failed", r, &dec->diag);
        goto done;
    }

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    image = dec->image;

    /* the AV1 frame may disagree with the boxes that were checked */

    if (image->width != run->info.width
        || image->height != run->info.height
        || image->yuvPlanes[AVIF_CHAN_Y] == NULL)
    {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                   "AVIF decode failed: the AV1 frame is "
                                   "%ux%u, the container says %ux%u",
                                   image->width, image->height,
                                   run->info.width, run->info.height);
        goto done;
    }

    ch = (image->alphaPlane != NULL) ? 4 : 3;

    stride = (size_t) image->width * ch;
    size = stride * image->height;

    data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC, size);
    if (data == NULL) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "out of memory decoding AVIF");
        goto done;
    }

    rc = ngx_tunny_image_avif_rgb(run, image, data, stride, ch);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    ngx_tunny_image_avif_icc(run, image);
    ngx_tunny_image_icc_check(run, 3);

    run->pix.data = data;
    run->pix.width = image->width;
    run->pix.height = image->height;
    run->pix.channels = ch;
    run->pix.stride = stride;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

done:

    avifDecoderDestroy(dec);

    return rc;
}


/*
 * YUV (any depth, any subsampling) to 8-bit RGB or RGBA, in strips with a
 * checkpoint between them.  Each strip is converted with a margin of rows
 * above and below into BUF_ROW, so that the chroma upsampling filter sees
 * the same neighbours as in one conversion of the whole image, and only
 * its own rows are copied out.
 */

static int
ngx_tunny_image_avif_rgb(ngx_tunny_image_run_t *run, const avifImage *image,
    unsigned char *data, size_t stride, unsigned channels)
{
    int            rc;
    unsigned       y, y0, y1, top, n;
    avifImage     *view;
    avifResult     r;
    avifCropRect   rect;
    avifRGBImage   rgb;
    unsigned char *tmp;

    tmp = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_ROW,
                                  stride * (NGX_TUNNY_IMAGE_AVIF_STRIP
                                            + 2 * NGX_TUNNY_IMAGE_AVIF_MARGIN));
    if (tmp == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding AVIF");
    }

    view = avifImageCreateEmpty();
    if (view == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding AVIF");
    }

    rc = NGX_TUNNY_IMAGE_OK;

    for (y = 0; y < image->height; y += NGX_TUNNY_IMAGE_AVIF_STRIP) {

        rc = ngx_tunny_image_checkpoint(run, 0);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            break;
        }

        y0 = (y > NGX_TUNNY_IMAGE_AVIF_MARGIN)
             ? y - NGX_TUNNY_IMAGE_AVIF_MARGIN : 0;
        y1 = y + NGX_TUNNY_IMAGE_AVIF_STRIP + NGX_TUNNY_IMAGE_AVIF_MARGIN;
        y1 = (y1 < image->height) ? y1 : image->height;

        rect.x = 0;
        rect.y = y0;
        rect.width = image->width;
        rect.height = y1 - y0;

        r = avifImageSetViewRect(view, image, &rect);

        if (r == AVIF_RESULT_OK) {
            avifRGBImageSetDefaults(&rgb, view);

            rgb.depth = 8;
            rgb.format = (channels == 4) ? AVIF_RGB_FORMAT_RGBA
                                         : AVIF_RGB_FORMAT_RGB;
            rgb.chromaUpsampling = AVIF_CHROMA_UPSAMPLING_BEST_QUALITY;
            rgb.alphaPremultiplied = AVIF_FALSE;
            rgb.pixels = tmp;
            rgb.rowBytes = (uint32_t) stride;

            r = avifImageYUVToRGB(view, &rgb);
        }

        if (r != AVIF_RESULT_OK) {
            rc = ngx_tunny_image_avif_failed(run, NGX_TUNNY_IMAGE_EINPUT,
                                             "AVIF colour conversion failed",
                                             r, NULL);
            break;
        }

        top = y - y0;
        n = image->height - y;
        n = (n < NGX_TUNNY_IMAGE_AVIF_STRIP) ? n : NGX_TUNNY_IMAGE_AVIF_STRIP;

        memcpy(data + (size_t) y * stride, tmp + (size_t) top * stride,
               (size_t) n * stride);
    }

    avifImageDestroy(view);

    return rc;
}


static void
ngx_tunny_image_avif_icc(ngx_tunny_image_run_t *run, const avifImage *image)
{
    if (image->icc.size == 0
        || image->icc.size >= NGX_TUNNY_IMAGE_AVIF_MAX_ICC)
    {
        return;
    }

    run->icc = malloc(image->icc.size);
    if (run->icc == NULL) {
        return;
    }

    memcpy(run->icc, image->icc.data, image->icc.size);
    run->icc_len = (unsigned int) image->icc.size;
}


/* encoder */

int
ngx_tunny_image_avif_encode(ngx_tunny_image_run_t *run)
{
    int                     rc, q;
    avifResult              r;
    avifImage              *image;
    avifRWData              out;
    avifEncoder            *enc;
    avifRGBImage            rgb;
    ngx_tunny_image_pix_t  *pix;

    pix = &run->pix;

    if (pix->channels != 3 && pix->channels != 4) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "AVIF encode failed: %u channels",
                                     pix->channels);
    }

    image = avifImageCreate(pix->width, pix->height, 8,
                            AVIF_PIXEL_FORMAT_YUV420);
    if (image == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory encoding AVIF");
    }

    /* sRGB as avifenc writes it; an ICC profile, if any, takes over */

    image->yuvRange = AVIF_RANGE_FULL;
    image->colorPrimaries = AVIF_COLOR_PRIMARIES_BT709;
    image->transferCharacteristics = AVIF_TRANSFER_CHARACTERISTICS_SRGB;
    image->matrixCoefficients = AVIF_MATRIX_COEFFICIENTS_BT601;

    avifRGBImageSetDefaults(&rgb, image);

    rgb.depth = 8;
    rgb.format = (pix->channels == 4) ? AVIF_RGB_FORMAT_RGBA
                                      : AVIF_RGB_FORMAT_RGB;
    rgb.alphaPremultiplied = AVIF_FALSE;
    rgb.pixels = pix->data;
    rgb.rowBytes = (uint32_t) pix->stride;

    /* allocates the planes; an alpha plane only for RGBA */

    r = avifImageRGBToYUV(image, &rgb);

    if (r != AVIF_RESULT_OK) {
        avifImageDestroy(image);
        return ngx_tunny_image_avif_failed(run, NGX_TUNNY_IMAGE_ENOMEM,
                                           "AVIF colour conversion failed",
                                           r, NULL);
    }

    if (run->icc) {
        avifImageSetProfileICC(image, run->icc, run->icc_len);
    }

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        avifImageDestroy(image);
        return rc;
    }

    enc = avifEncoderCreate();
    if (enc == NULL) {
        avifImageDestroy(image);
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory encoding AVIF");
    }

    /* the quality scale of libheif (sharp, imgproxy): q 100 is lossless */

    q = ((100 - run->params->avif_quality) * AVIF_QUANTIZER_WORST_QUALITY
         + 50) / 100;

    /* params->avif_codec is one of them (ngx_tunny_image_check_params) */

    enc->codecChoice = ngx_tunny_image_avif_codecs[run->params->avif_codec];
    enc->maxThreads = 1;
    enc->speed = run->params->avif_speed;
    enc->minQuantizer = q;
    enc->maxQuantizer = q;

    /* alpha lossless, as avifenc does: edges stay where they were */
    enc->minQuantizerAlpha = AVIF_QUANTIZER_LOSSLESS;
    enc->maxQuantizerAlpha = AVIF_QUANTIZER_LOSSLESS;

    memset(&out, 0, sizeof(avifRWData));

    r = avifEncoderWrite(enc, image, &out);

    if (r != AVIF_RESULT_OK) {
        rc = ngx_tunny_image_avif_failed(run, NGX_TUNNY_IMAGE_ENOMEM,
                                         "AVIF encode failed", r, &enc->diag);
        goto done;
    }

    /* a cancel that came during the encode: the result is not wanted */

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    run->res->data = malloc(out.size);
    if (run->res->data == NULL) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "out of memory encoding AVIF");
        goto done;
    }

    memcpy(run->res->data, out.data, out.size);
    run->res->len = out.size;

done:

    avifRWDataFree(&out);
    avifEncoderDestroy(enc);
    avifImageDestroy(image);

    return rc;
}


static int
ngx_tunny_image_avif_failed(ngx_tunny_image_run_t *run, int rc,
    const char *what, avifResult r, const avifDiagnostics *diag)
{
    if (r == AVIF_RESULT_OUT_OF_MEMORY) {
        rc = NGX_TUNNY_IMAGE_ENOMEM;
    }

    if (diag != NULL && diag->error[0] != '\0') {
        return ngx_tunny_image_error(run->res, rc, "%s: %s (%.80s)", what,
                                     avifResultToString(r), diag->error);
    }

    return ngx_tunny_image_error(run->res, rc, "%s: %s", what,
                                 avifResultToString(r));
}


#else /* !NGX_TUNNY_IMAGE_HAVE_AVIF */

/*
 * Built without libavif (src/image/Makefile AVIF=no): the type table
 * says AVIF is neither transformed nor written, so the pipeline never
 * calls these; they answer for a caller that does anyway.
 */


int
ngx_tunny_image_avif_decode(ngx_tunny_image_run_t *run)
{
    return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                 "built without AVIF support");
}


int
ngx_tunny_image_avif_encode(ngx_tunny_image_run_t *run)
{
    return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EPARAM,
                                 "built without AVIF support");
}

#endif
