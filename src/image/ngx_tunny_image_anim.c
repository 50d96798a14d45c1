
/*
 * ngx_tunny_module: animations written as animated WebP.  An animated GIF
 * (ngx_tunny_image_gif.c composes each frame on its logical screen:
 * disposal, transparency, frame rectangles) or an animated WebP
 * (libwebp's WebPAnimDecoder, which composes on its canvas: blending,
 * disposal) gives its frames one at a time as whole canvases; each goes
 * through the steps of a still (resample to the geometry of the canvas,
 * rotate/cut, sharpen) and into libwebp's WebPAnimEncoder, with its
 * duration; the loop count is kept.  An animation written as anything
 * else gives its first frame (the still pipeline; for an animated WebP
 * ngx_tunny_image_anim_decode()).
 *
 * Durations: a GIF frame's delay (1/100 s; 0 and 1 are played as 100 ms,
 * as browsers and gif2webp do); a WebP frame's own.  Loop count: a GIF's
 * NETSCAPE2.0 count n means n repetitions after the first play, WebP's
 * loop count is the number of plays: n + 1 (0 stays "forever"); a GIF
 * without the block plays once: 1.  A WebP's loop count is kept as is.
 * The background colour hint is libwebp's default (browsers ignore it).
 *
 * Limits, before any pixel memory: tunny_image_max_frames (more frames:
 * 415, see the README for why not the first frame), max_pixels over all
 * frames (canvas width * height * frames), every GIF frame rectangle
 * inside the screen (ngx_tunny_image_gif_scan(), then again as each frame
 * is read), the WebP container as libwebp's demuxer validates it (frames
 * inside the canvas).
 *
 * Memory: one frame at a time: the canvas (and for a GIF what a "restore
 * to previous" frame covers; for a WebP the decoder's second canvas), a
 * copy for the resampler (which premultiplies its source in place), the
 * resampler's buffers and two output frames, and the encoder's three
 * canvases and candidate encodings of one frame; the encoded frames.
 * ngx_tunny_image_memory() is that prediction for the memory budget.
 *
 * Cancellation: the checkpoint before each frame, every 64 rows of the
 * GIF decoder and of the resampler and rotation; not inside a WebP
 * frame's decode or inside WebPAnimEncoderAdd(): the encoder encodes each
 * frame from its own copy, without the picture's progress hook, so a
 * cancel waits for at most one frame's decode and encode (a few candidate
 * encodes of one output frame).
 *
 * Runs in the thread of ngx_tunny_image_process(), libwebp without
 * threads.  ngx_tunny_image_anim_count(), ngx_tunny_image_animates() and
 * ngx_tunny_image_memory() touch no state: the event loop calls them.
 */


#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/mux.h>
#include <webp/demux.h>

#include "ngx_tunny_image_int.h"


/* the source of the frames */
typedef struct {
    ngx_tunny_image_gif_t           gif;
    unsigned char                  *canvas;        /* GIF: BUF_DEC */
    WebPAnimDecoder                *dec;           /* WebP */
    WebPData                        data;
    unsigned                        width;         /* the canvas */
    unsigned                        height;
    unsigned                        frames;
    int                             loop;          /* WebP's: 0 forever */
    int                             end;           /* WebP: the last
                                                      frame's end, ms */
} ngx_tunny_image_anim_src_t;


static int ngx_tunny_image_anim_open(ngx_tunny_image_run_t *run,
    ngx_tunny_image_anim_src_t *src);
static int ngx_tunny_image_anim_gif_open(ngx_tunny_image_run_t *run,
    ngx_tunny_image_anim_src_t *src);
static int ngx_tunny_image_anim_webp_open(ngx_tunny_image_run_t *run,
    ngx_tunny_image_anim_src_t *src);
static int ngx_tunny_image_anim_limits(ngx_tunny_image_run_t *run,
    unsigned width, unsigned height, unsigned frames);
static int ngx_tunny_image_anim_next(ngx_tunny_image_run_t *run,
    ngx_tunny_image_anim_src_t *src, int *duration);
static int ngx_tunny_image_anim_frame(ngx_tunny_image_run_t *run,
    WebPAnimEncoder *enc, const WebPConfig *config, int timestamp);
static int ngx_tunny_image_anim_output(ngx_tunny_image_run_t *run,
    WebPAnimEncoder *enc);
static void ngx_tunny_image_anim_close(ngx_tunny_image_anim_src_t *src);
static unsigned ngx_tunny_image_anim_webp_count(const unsigned char *p,
    size_t len);


/* the decisions, for the event loop too */

int
ngx_tunny_image_animates(const ngx_tunny_image_info_t *info,
    const ngx_tunny_image_params_t *params)
{
    if (info->frames < 2) {
        return 0;
    }

    if (info->type == NGX_TUNNY_IMAGE_GIF) {
        return params->out_type == NGX_TUNNY_IMAGE_WEBP;
    }

    if (info->type == NGX_TUNNY_IMAGE_WEBP) {
        return params->out_type == NGX_TUNNY_IMAGE_WEBP
               || params->out_type == 0;
    }

    return 0;
}


/*
 * Bytes per canvas pixel: the canvas, what lies under a "previous" frame
 * (GIF) or the decoder's second canvas (WebP), the resampler's copy:
 * 3 x RGBA.  Per output pixel: two pipeline frames, the picture given to
 * the encoder, the encoder's three canvases (ARGB), the candidate
 * encodings of a frame (YUV and ARGB copies, about four): 11 x 4.  The
 * resampler's intermediate: canvas width x output height x 4.
 */
#define NGX_TUNNY_IMAGE_ANIM_CANVAS_BYTES  12
#define NGX_TUNNY_IMAGE_ANIM_OUTPUT_BYTES  44

size_t
ngx_tunny_image_memory(const ngx_tunny_image_info_t *info,
    const ngx_tunny_image_params_t *params)
{
    uint64_t               n;
    ngx_tunny_image_geo_t  g;

    if (!ngx_tunny_image_animates(info, params)) {
        return 0;
    }

    ngx_tunny_image_geometry(params, 1, info->width, info->height, &g);

    n = (uint64_t) info->width * info->height
        * NGX_TUNNY_IMAGE_ANIM_CANVAS_BYTES
        + (uint64_t) info->width * g.th * 4
        + (uint64_t) g.tw * g.th * NGX_TUNNY_IMAGE_ANIM_OUTPUT_BYTES;

    return (size_t) n;                  /* at most about 2^41: 64 bits */
}


/* frames of a GIF or an animated WebP, from their blocks; 1 otherwise */

unsigned
ngx_tunny_image_anim_count(const unsigned char *p, size_t len, int type)
{
    ngx_tunny_image_gif_scan_t  s;

    if (type == NGX_TUNNY_IMAGE_GIF) {
        ngx_tunny_image_gif_scan(p, len, &s);
        return s.frames ? s.frames : 1;
    }

    if (type == NGX_TUNNY_IMAGE_WEBP && len >= 30
        && memcmp(p + 12, "VP8X", 4) == 0 && (p[20] & ANIMATION_FLAG))
    {
        return ngx_tunny_image_anim_webp_count(p, len);
    }

    return 1;
}


/* the ANMF chunks of a RIFF file, walked chunk by chunk */

static unsigned
ngx_tunny_image_anim_webp_count(const unsigned char *p, size_t len)
{
    size_t    pos, size;
    unsigned  n;

    n = 0;
    pos = 12;

    while (len - pos >= 8) {
        size = (size_t) p[pos + 4] | ((size_t) p[pos + 5] << 8)
               | ((size_t) p[pos + 6] << 16) | ((size_t) p[pos + 7] << 24);

        if (memcmp(p + pos, "ANMF", 4) == 0
            && n < NGX_TUNNY_IMAGE_FRAMES_CAP)
        {
            n++;
        }

        if (size > len - pos - 8) {
            break;
        }

        pos += 8 + size + (size & 1);

        if (pos > len) {
            break;
        }
    }

    return n ? n : 1;
}


/* the whole animation, out_type WebP (ngx_tunny_image_animates()) */

int
ngx_tunny_image_anim(ngx_tunny_image_run_t *run)
{
    int                          rc, duration;
    int64_t                      ts;
    WebPConfig                   config;
    WebPAnimEncoder             *enc;
    WebPAnimEncoderOptions       opts;
    ngx_tunny_image_anim_src_t   src;

    enc = NULL;
    duration = 0;

    rc = ngx_tunny_image_anim_open(run, &src);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    if (!WebPConfigInit(&config) || !WebPAnimEncoderOptionsInit(&opts)) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "WebP encoder version mismatch");
        goto done;
    }

    /* the settings of a still WebP (ngx_tunny_image_webp_encode()) */

    config.quality = (float) run->params->webp_quality;
    config.method = 4;

    opts.anim_params.loop_count = src.loop;

    enc = WebPAnimEncoderNew((int) run->geo.cw, (int) run->geo.ch, &opts);
    if (enc == NULL) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "out of memory encoding WebP");
        goto done;
    }

    ts = 0;

    for ( ;; ) {

        rc = ngx_tunny_image_checkpoint(run, 0);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            goto done;
        }

        rc = ngx_tunny_image_anim_next(run, &src, &duration);

        if (rc == NGX_TUNNY_IMAGE_END) {
            break;
        }

        if (rc != NGX_TUNNY_IMAGE_OK) {
            goto done;
        }

        rc = ngx_tunny_image_anim_frame(run, enc, &config, (int) ts);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            goto done;
        }

        ts += duration;

        if (ts > INT_MAX) {
            rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ELIMIT,
                                       "animation longer than %d ms",
                                       INT_MAX);
            goto done;
        }
    }

    /* the frames are sRGB now, or the profile goes with them (keep) */

    ngx_tunny_image_colour_end(run);

    if (!WebPAnimEncoderAdd(enc, NULL, (int) ts, NULL)) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "WebP encode failed: %s",
                                   WebPAnimEncoderGetError(enc));
        goto done;
    }

    rc = ngx_tunny_image_anim_output(run, enc);

done:

    if (enc != NULL) {
        WebPAnimEncoderDelete(enc);
    }

    ngx_tunny_image_anim_close(&src);

    return rc;
}


/*
 * The first frame of an animated WebP on its canvas, into BUF_DEC, for a
 * still output (the still WebP decoder refuses animations)
 */

int
ngx_tunny_image_anim_decode(ngx_tunny_image_run_t *run)
{
    int                          rc, duration;
    size_t                       size;
    unsigned char               *data;
    ngx_tunny_image_anim_src_t   src;

    duration = 0;

    rc = ngx_tunny_image_anim_webp_open(run, &src);

    if (rc == NGX_TUNNY_IMAGE_OK) {
        rc = ngx_tunny_image_anim_next(run, &src, &duration);

        if (rc == NGX_TUNNY_IMAGE_END) {
            rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                       "WebP animation without a frame");
        }
    }

    if (rc == NGX_TUNNY_IMAGE_OK) {
        size = run->pix.stride * run->pix.height;

        data = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                       size);
        if (data == NULL) {
            rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                       "out of memory decoding WebP");

        } else {
            memcpy(data, run->pix.data, size);
            run->pix.data = data;
        }
    }

    ngx_tunny_image_anim_close(&src);

    return rc;
}


static int
ngx_tunny_image_anim_open(ngx_tunny_image_run_t *run,
    ngx_tunny_image_anim_src_t *src)
{
    if (run->info.type == NGX_TUNNY_IMAGE_GIF) {
        return ngx_tunny_image_anim_gif_open(run, src);
    }

    return ngx_tunny_image_anim_webp_open(run, src);
}


static int
ngx_tunny_image_anim_gif_open(ngx_tunny_image_run_t *run,
    ngx_tunny_image_anim_src_t *src)
{
    int                         rc;
    size_t                      size;
    ngx_tunny_image_gif_scan_t  s;

    memset(src, 0, sizeof(ngx_tunny_image_anim_src_t));

    rc = ngx_tunny_image_gif_open(run, &src->gif);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    src->width = src->gif.width;
    src->height = src->gif.height;

    /* the whole file's blocks, before any pixel memory */

    ngx_tunny_image_gif_scan(run->in, run->len, &s);

    if (s.outside) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "GIF frame %ux%u at %u,%u outside "
                                     "the %ux%u screen", s.w, s.h, s.x, s.y,
                                     src->width, src->height);
    }

    src->frames = s.frames;

    rc = ngx_tunny_image_anim_limits(run, src->width, src->height,
                                     src->frames);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (s.loop < 0) {
        src->loop = 1;

    } else if (s.loop == 0) {
        src->loop = 0;

    } else {
        src->loop = (s.loop < 65535) ? s.loop + 1 : 65535;
    }

    size = (size_t) src->width * src->height * 4;

    src->canvas = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC,
                                          size);
    if (src->canvas == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding GIF");
    }

    /* the screen starts transparent */
    memset(src->canvas, 0, size);

    return NGX_TUNNY_IMAGE_OK;
}


static int
ngx_tunny_image_anim_webp_open(ngx_tunny_image_run_t *run,
    ngx_tunny_image_anim_src_t *src)
{
    int                      rc;
    WebPDemuxer             *dmux;
    WebPAnimDecoderOptions   opts;

    memset(src, 0, sizeof(ngx_tunny_image_anim_src_t));

    src->data.bytes = run->in;
    src->data.size = run->len;

    /* the container alone (no pixel memory), checked before the decoder */

    dmux = WebPDemux(&src->data);
    if (dmux == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: "
                                     "invalid animation container");
    }

    src->width = WebPDemuxGetI(dmux, WEBP_FF_CANVAS_WIDTH);
    src->height = WebPDemuxGetI(dmux, WEBP_FF_CANVAS_HEIGHT);
    src->frames = WebPDemuxGetI(dmux, WEBP_FF_FRAME_COUNT);
    src->loop = (int) WebPDemuxGetI(dmux, WEBP_FF_LOOP_COUNT);

    /* its profile, for the colour step of each frame (or of the first) */

    ngx_tunny_image_webp_icc(run, dmux);
    ngx_tunny_image_icc_check(run, 3);

    WebPDemuxDelete(dmux);

    if (src->width != run->info.width || src->height != run->info.height) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: "
                                     "inconsistent headers");
    }

    if (src->frames == 0) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP animation without a frame");
    }

    rc = ngx_tunny_image_limit(run, src->width, src->height);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    /* a still output decodes the first frame only */

    if (ngx_tunny_image_animates(&run->info, run->params)) {
        rc = ngx_tunny_image_anim_limits(run, src->width, src->height,
                                         src->frames);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    if (!WebPAnimDecoderOptionsInit(&opts)) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP decoder version mismatch");
    }

    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;

    src->dec = WebPAnimDecoderNew(&src->data, &opts);
    if (src->dec == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "WebP decode failed: invalid animation");
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* the limits of an animation written as one, before any pixel memory */

static int
ngx_tunny_image_anim_limits(ngx_tunny_image_run_t *run, unsigned width,
    unsigned height, unsigned frames)
{
    uint64_t                         pixels;
    const ngx_tunny_image_params_t  *p;

    p = run->params;

    if (p->max_frames != 0 && frames > p->max_frames) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "%u frames exceed "
                                     "tunny_image_max_frames %u",
                                     frames, p->max_frames);
    }

    pixels = (uint64_t) width * height * frames;

    if (p->max_pixels != 0 && pixels > p->max_pixels) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ELIMIT,
                                     "%ux%u image of %u frames exceeds "
                                     "tunny_image_max_pixels %llu",
                                     width, height, frames,
                                     (unsigned long long) p->max_pixels);
    }

    return NGX_TUNNY_IMAGE_OK;
}


/*
 * The next frame composed on the whole canvas into run->pix, and its
 * duration in ms; NGX_TUNNY_IMAGE_END after the last
 */

static int
ngx_tunny_image_anim_next(ngx_tunny_image_run_t *run,
    ngx_tunny_image_anim_src_t *src, int *duration)
{
    int       rc, ts;
    uint8_t  *buf;

    if (src->dec == NULL) {
        rc = ngx_tunny_image_gif_next(run, &src->gif, src->canvas);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }

        *duration = (int) src->gif.delay;
        buf = src->canvas;

    } else {
        if (!WebPAnimDecoderHasMoreFrames(src->dec)) {
            return NGX_TUNNY_IMAGE_END;
        }

        if (!WebPAnimDecoderGetNext(src->dec, &buf, &ts)) {
            return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                         "WebP decode failed: "
                                         "invalid frame");
        }

        /* the decoder gives each frame's end */

        *duration = (ts > src->end) ? ts - src->end : 0;
        src->end = ts;
    }

    run->pix.data = buf;
    run->pix.width = src->width;
    run->pix.height = src->height;
    run->pix.channels = 4;
    run->pix.stride = (size_t) src->width * 4;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    return NGX_TUNNY_IMAGE_OK;
}


/* one frame through the steps of a still, into the encoder */

static int
ngx_tunny_image_anim_frame(ngx_tunny_image_run_t *run, WebPAnimEncoder *enc,
    const WebPConfig *config, int timestamp)
{
    int                     ok, rc;
    size_t                  size;
    WebPPicture             pic;
    unsigned char          *copy;
    ngx_tunny_image_pix_t  *pix;

    pix = &run->pix;

    /* the source's profile to sRGB, into a frame of ours (a copy) */

    rc = ngx_tunny_image_colour_frame(run);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (pix->width != run->geo.tw || pix->height != run->geo.th) {

        if (pix->buf == NGX_TUNNY_IMAGE_BUF_DEC) {

            /*
             * the resampler premultiplies its source in place: it gets a
             * copy, the canvas stays as the next frame needs it
             */

            size = pix->stride * pix->height;

            copy = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_B,
                                           size);
            if (copy == NULL) {
                return ngx_tunny_image_error(run->res,
                                             NGX_TUNNY_IMAGE_ENOMEM,
                                             "out of memory resampling");
            }

            memcpy(copy, pix->data, size);
            pix->data = copy;
            pix->buf = NGX_TUNNY_IMAGE_BUF_B;
        }

        ngx_tunny_image_decoded_whole(run);

        rc = ngx_tunny_image_resample(run, pix->width, pix->height,
                                      run->geo.tw, run->geo.th);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    rc = ngx_tunny_image_transform(run);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (run->params->sharpen > 0) {
        rc = ngx_tunny_image_sharpen(run, run->params->sharpen);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    rc = ngx_tunny_image_checkpoint(run, 0);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    if (!WebPPictureInit(&pic)) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP encoder version mismatch");
    }

    pic.use_argb = 1;
    pic.width = (int) pix->width;
    pic.height = (int) pix->height;

    if (!WebPPictureImportRGBA(&pic, pix->data, (int) pix->stride)) {
        WebPPictureFree(&pic);
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory encoding WebP");
    }

    ok = WebPAnimEncoderAdd(enc, &pic, timestamp, config);

    if (!ok) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "WebP encode failed: %s",
                                   WebPAnimEncoderGetError(enc));
    }

    WebPPictureFree(&pic);

    return ok ? NGX_TUNNY_IMAGE_OK : rc;
}


static int
ngx_tunny_image_anim_output(ngx_tunny_image_run_t *run, WebPAnimEncoder *enc)
{
    int       rc;
    WebPData  out;

    WebPDataInit(&out);

    if (!WebPAnimEncoderAssemble(enc, &out)) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "WebP encode failed: %s",
                                     WebPAnimEncoderGetError(enc));
    }

    rc = ngx_tunny_image_webp_output(run, out.bytes, out.size, 1);

    WebPDataClear(&out);

    return rc;
}


static void
ngx_tunny_image_anim_close(ngx_tunny_image_anim_src_t *src)
{
    if (src->dec != NULL) {
        WebPAnimDecoderDelete(src->dec);
        src->dec = NULL;
    }

    ngx_tunny_image_gif_close(&src->gif);
}
