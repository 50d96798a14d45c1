
/*
 * ngx_tunny_module: WebP decoding and encoding through libwebp: the
 * decoder's built-in scaling, input fed to the incremental decoder in
 * steps sized to a few milliseconds of work with a cancel checkpoint
 * between them, the encoder's progress hook as a cancel checkpoint, ICCP
 * chunks read with the demuxer and written with the muxer.
 *
 * Runs in the thread of ngx_tunny_image_process(); libwebp is used
 * without threads (the decoder's use_threads is 0, the encoder's
 * thread_level stays 0), so the progress hook runs in that thread too.
 */


#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/mux.h>
#include <webp/demux.h>

#include "ngx_tunny_image_int.h"


/*
 * libwebp has no hook inside a decoding call: the only place to look at
 * the cancel flag is between two WebPIUpdate() calls, each of which
 * decodes what the bytes given so far allow.  A lossless file of 16 KB can
 * hold 50 Mpx of work (0.3 s), so the step is measured in time, not
 * bytes: each step is the last one scaled to take 2 ms of the thread's
 * CPU (at most twice, at least a quarter of it, within 64 B .. 1 MB;
 * a quarter more after a step of next to no work).
 * Steps stay large enough to amortise what a suspended lossless decoder
 * decodes again (up to 8 rows, back to its last sync point).  libwebp
 * parses a lossless header only once it has an eighth of the data: the
 * first decoding step can hold that much work.
 */
#define NGX_TUNNY_IMAGE_WEBP_STEP       256
#define NGX_TUNNY_IMAGE_WEBP_STEP_MIN   64
#define NGX_TUNNY_IMAGE_WEBP_STEP_MAX   (1 << 20)
#define NGX_TUNNY_IMAGE_WEBP_STEP_NS    2000000


static int ngx_tunny_image_webp_features(ngx_tunny_image_run_t *run,
    WebPDecoderConfig *config);
static int ngx_tunny_image_webp_feed(ngx_tunny_image_run_t *run,
    WebPDecoderConfig *config);
static size_t ngx_tunny_image_webp_step(size_t step, int64_t ns);
static int64_t ngx_tunny_image_webp_now(void);


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


/* decoder */

int
ngx_tunny_image_webp_decode(ngx_tunny_image_run_t *run)
{
    int                  rc;
    size_t               size;
    unsigned             w, h, ch;
    unsigned char       *data;
    WebPData             container;
    WebPDemuxer         *dmux;
    WebPDecoderConfig    config;

    rc = ngx_tunny_image_webp_features(run, &config);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    ch = config.input.has_alpha ? 4 : 3;
    w = config.input.width;
    h = config.input.height;

    if (run->geo.nw < w || run->geo.nh < h) {
        /* libwebp's area-averaging rescaler, row by row while decoding */
        config.options.use_scaling = 1;
        config.options.scaled_width = (int) run->geo.nw;
        config.options.scaled_height = (int) run->geo.nh;
        w = run->geo.nw;
        h = run->geo.nh;
    }

    size = (size_t) w * ch * h;

    data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC, size);
    if (data == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding WebP");
    }

    config.output.colorspace = (ch == 4) ? MODE_RGBA : MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = data;
    config.output.u.RGBA.stride = (int) (w * ch);
    config.output.u.RGBA.size = size;
    config.options.use_threads = 0;

    rc = ngx_tunny_image_webp_feed(run, &config);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    container.bytes = run->in;
    container.size = run->len;

    dmux = WebPDemux(&container);
    if (dmux != NULL) {
        ngx_tunny_image_webp_icc(run, dmux);
        WebPDemuxDelete(dmux);
    }

    ngx_tunny_image_icc_check(run, 3);

    run->pix.data = data;
    run->pix.width = w;
    run->pix.height = h;
    run->pix.channels = ch;
    run->pix.stride = (size_t) w * ch;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    return NGX_TUNNY_IMAGE_OK;
}


/* what libwebp reads from the header, checked before any allocation */

static int
ngx_tunny_image_webp_features(ngx_tunny_image_run_t *run,
    WebPDecoderConfig *config)
{
    int            rc;
    VP8StatusCode  status;

    if (!WebPInitDecoderConfig(config)) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP decoder version mismatch");
    }

    status = WebPGetFeatures(run->in, run->len, &config->input);
    if (status != VP8_STATUS_OK) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: %s",
                                     ngx_tunny_image_webp_status(status));
    }

    if (config->input.has_animation) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "animated WebP not supported");
    }

    rc = ngx_tunny_image_limit(run, (unsigned) config->input.width,
                               (unsigned) config->input.height);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if ((unsigned) config->input.width != run->info.width
        || (unsigned) config->input.height != run->info.height)
    {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: "
                                     "inconsistent headers");
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* the input in steps: a cancel checkpoint between them */

static int
ngx_tunny_image_webp_feed(ngx_tunny_image_run_t *run,
    WebPDecoderConfig *config)
{
    int             rc;
    size_t          have, step;
    int64_t         ns;
    VP8StatusCode   status;
    WebPIDecoder   *idec;

    idec = WebPIDecode(NULL, 0, config);
    if (idec == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP decode failed: out of memory");
    }

    have = 0;
    step = NGX_TUNNY_IMAGE_WEBP_STEP;
    status = VP8_STATUS_SUSPENDED;
    rc = NGX_TUNNY_IMAGE_OK;

    while (have < run->len) {

        rc = ngx_tunny_image_checkpoint(run, 0);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            break;
        }

        have += (run->len - have > step) ? step : run->len - have;

        ns = ngx_tunny_image_webp_now();
        status = WebPIUpdate(idec, run->in, have);
        ns = ngx_tunny_image_webp_now() - ns;

        if (status != VP8_STATUS_SUSPENDED) {
            break;
        }

        step = ngx_tunny_image_webp_step(step, ns);
    }

    WebPIDelete(idec);
    WebPFreeDecBuffer(&config->output);

    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (status != VP8_STATUS_OK) {
        return ngx_tunny_image_error(run->res,
                                     status == VP8_STATUS_OUT_OF_MEMORY
                                     ? NGX_TUNNY_IMAGE_ENOMEM
                                     : NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: %s",
                                     ngx_tunny_image_webp_status(status));
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* the next step after one of step bytes that took ns */

static size_t
ngx_tunny_image_webp_step(size_t step, int64_t ns)
{
    uint64_t  next;

    if (ns < NGX_TUNNY_IMAGE_WEBP_STEP_NS / 16) {
        /*
         * next to nothing decoded: maybe a header still incomplete, which
         * is then decoded with all the data there is: grow by a quarter
         */
        next = (uint64_t) step + step / 4;

    } else if (ns <= NGX_TUNNY_IMAGE_WEBP_STEP_NS / 2) {
        next = (uint64_t) step * 2;

    } else {
        next = (uint64_t) step * NGX_TUNNY_IMAGE_WEBP_STEP_NS / (uint64_t) ns;

        if (next < step / 4) {
            next = step / 4;
        }
    }

    if (next < NGX_TUNNY_IMAGE_WEBP_STEP_MIN) {
        next = NGX_TUNNY_IMAGE_WEBP_STEP_MIN;
    }

    if (next > NGX_TUNNY_IMAGE_WEBP_STEP_MAX) {
        next = NGX_TUNNY_IMAGE_WEBP_STEP_MAX;
    }

    return (size_t) next;
}


/* the thread's CPU time in nanoseconds: what a step of decoding costs */

static int64_t
ngx_tunny_image_webp_now(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
        return 0;
    }

    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


/* the source's ICCP chunk into run->icc (a still or an animation) */

void
ngx_tunny_image_webp_icc(ngx_tunny_image_run_t *run, WebPDemuxer *dmux)
{
    WebPChunkIterator  it;

    if ((WebPDemuxGetI(dmux, WEBP_FF_FORMAT_FLAGS) & ICCP_FLAG)
        && WebPDemuxGetChunk(dmux, "ICCP", 1, &it))
    {
        if (it.chunk.size > 0 && it.chunk.size < 0x1000000) {
            run->icc = malloc(it.chunk.size);
            if (run->icc) {
                memcpy(run->icc, it.chunk.bytes, it.chunk.size);
                run->icc_len = (unsigned int) it.chunk.size;
            }
        }

        WebPDemuxReleaseChunkIterator(&it);
    }
}


/* encoder */

static int
ngx_tunny_image_webp_progress(int percent, const WebPPicture *pic)
{
    (void) percent;

    return ngx_tunny_image_checkpoint(pic->user_data, 0)
           == NGX_TUNNY_IMAGE_OK;
}


int
ngx_tunny_image_webp_encode(ngx_tunny_image_run_t *run)
{
    int                     ok, rc;
    WebPConfig              config;
    WebPPicture             pic;
    WebPMemoryWriter        wr;
    ngx_tunny_image_pix_t  *pix;

    pix = &run->pix;

    if (!WebPConfigInit(&config) || !WebPPictureInit(&pic)) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP encoder version mismatch");
    }

    config.quality = (float) run->params->webp_quality;
    config.method = 4;

    pic.use_argb = 0;
    pic.width = (int) pix->width;
    pic.height = (int) pix->height;

    ok = (pix->channels == 4)
         ? WebPPictureImportRGBA(&pic, pix->data, (int) pix->stride)
         : WebPPictureImportRGB(&pic, pix->data, (int) pix->stride);

    if (!ok) {
        WebPPictureFree(&pic);
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory encoding WebP");
    }

    WebPMemoryWriterInit(&wr);
    pic.writer = WebPMemoryWrite;
    pic.custom_ptr = &wr;
    pic.progress_hook = ngx_tunny_image_webp_progress;
    pic.user_data = run;

    ok = WebPEncode(&config, &pic);

    if (!ok) {
        if (pic.error_code == VP8_ENC_ERROR_USER_ABORT) {
            /* the progress hook saw the cancel flag: res->error is set */
            rc = NGX_TUNNY_IMAGE_ECANCEL;

        } else if (pic.error_code == VP8_ENC_ERROR_OUT_OF_MEMORY
                   || pic.error_code == VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY)
        {
            rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                       "out of memory encoding WebP");

        } else {
            rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                       "WebP encode failed: error %d",
                                       (int) pic.error_code);
        }

        WebPPictureFree(&pic);
        WebPMemoryWriterClear(&wr);
        return rc;
    }

    WebPPictureFree(&pic);

    rc = ngx_tunny_image_webp_output(run, wr.mem, wr.size, 0);

    WebPMemoryWriterClear(&wr);

    return rc;
}


/*
 * The encoded image (a still, or an animation assembled by
 * WebPAnimEncoder) into res->data, with the ICCP chunk if there is one
 */

int
ngx_tunny_image_webp_output(ngx_tunny_image_run_t *run,
    const unsigned char *enc, size_t enc_len, int anim)
{
    size_t          size;
    WebPMux        *mux;
    WebPData        img, icc, out;
    const uint8_t  *bytes;

    WebPDataInit(&out);
    mux = NULL;
    bytes = enc;
    size = enc_len;

    if (run->icc) {
        img.bytes = enc;
        img.size = enc_len;
        icc.bytes = run->icc;
        icc.size = run->icc_len;

        if (anim) {
            mux = WebPMuxCreate(&img, 0);

        } else {
            mux = WebPMuxNew();

            if (mux != NULL && WebPMuxSetImage(mux, &img, 0) != WEBP_MUX_OK) {
                WebPMuxDelete(mux);
                mux = NULL;
            }
        }

        if (mux != NULL
            && WebPMuxSetChunk(mux, "ICCP", &icc, 0) == WEBP_MUX_OK
            && WebPMuxAssemble(mux, &out) == WEBP_MUX_OK)
        {
            bytes = out.bytes;
            size = out.size;

        } else {
            bytes = NULL;
        }
    }

    if (bytes != NULL) {
        run->res->data = malloc(size);

        if (run->res->data) {
            memcpy(run->res->data, bytes, size);
            run->res->len = size;
        }
    }

    WebPDataClear(&out);
    WebPMuxDelete(mux);

    if (run->res->data == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory encoding WebP");
    }

    return NGX_TUNNY_IMAGE_OK;
}
