
/*
 * ngx_tunny_module: GIF decoding through giflib, the first frame only:
 * composed onto the logical screen (transparent where the frame does not
 * cover it), the transparency index of its graphic control extension as
 * alpha.  There is no GIF encoder: a transformed GIF is written as PNG
 * (ngx_tunny_image_plan()).
 *
 * Limits, before pixel memory: the logical screen through
 * ngx_tunny_image_limit() (max_pixels), and a frame rectangle that must
 * lie inside the screen, so that the frame is no larger than the screen.
 * Only the records before the first image are read (extensions are
 * skipped block by block: bounded by the input), the frames after it are
 * never decoded.  LZW errors answer 415 with giflib's reason.
 *
 * Cancellation: the frame is decoded one line at a time with the cancel
 * checkpoint every NGX_TUNNY_IMAGE_CHECK_ROWS lines.
 *
 * Runs in the thread of ngx_tunny_image_process(); each call has its own
 * giflib handle, closed before it returns.
 */


#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "ngx_tunny_image_int.h"


/* the input as giflib reads it */
typedef struct {
    const unsigned char  *in;
    size_t                len;
    size_t                pos;
} ngx_tunny_image_gif_src_t;


static int ngx_tunny_image_gif_read(GifFileType *gif, GifByteType *buf,
    int n);
static int ngx_tunny_image_gif_first(ngx_tunny_image_run_t *run,
    GifFileType *gif, int *transparent);
static int ngx_tunny_image_gif_frame(ngx_tunny_image_run_t *run,
    GifFileType *gif, int transparent, unsigned char *canvas);
static void ngx_tunny_image_gif_rgb(ngx_tunny_image_pix_t *pix);
static int ngx_tunny_image_gif_fail(ngx_tunny_image_run_t *run, int error);


int
ngx_tunny_image_gif_decode(ngx_tunny_image_run_t *run)
{
    int                         rc, error, transparent;
    size_t                      size;
    unsigned                    w, h;
    GifFileType                *gif;
    unsigned char              *canvas;
    ngx_tunny_image_gif_src_t   src;

    src.in = run->in;
    src.len = run->len;
    src.pos = 0;

    error = 0;

    gif = DGifOpen(&src, ngx_tunny_image_gif_read, &error);
    if (gif == NULL) {
        return ngx_tunny_image_gif_fail(run, error);
    }

    w = (unsigned) gif->SWidth;
    h = (unsigned) gif->SHeight;

    rc = ngx_tunny_image_limit(run, w, h);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    if (w != run->info.width || h != run->info.height) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                   "GIF decode failed: "
                                   "inconsistent headers");
        goto done;
    }

    rc = ngx_tunny_image_gif_first(run, gif, &transparent);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    size = (size_t) w * h * 4;

    canvas = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC, size);
    if (canvas == NULL) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "out of memory decoding GIF");
        goto done;
    }

    /* the screen outside the frame is transparent */
    memset(canvas, 0, size);

    rc = ngx_tunny_image_gif_frame(run, gif, transparent, canvas);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    run->pix.data = canvas;
    run->pix.width = w;
    run->pix.height = h;
    run->pix.channels = 4;
    run->pix.stride = (size_t) w * 4;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    /* no transparency index, a frame covering the screen: RGB */

    if (transparent < 0
        && (unsigned) gif->Image.Width == w
        && (unsigned) gif->Image.Height == h)
    {
        ngx_tunny_image_gif_rgb(&run->pix);
    }

done:

    (void) DGifCloseFile(gif, &error);

    return rc;
}


static int
ngx_tunny_image_gif_read(GifFileType *gif, GifByteType *buf, int n)
{
    size_t                      have;
    ngx_tunny_image_gif_src_t  *src;

    src = gif->UserData;

    if (n <= 0) {
        return 0;
    }

    have = src->len - src->pos;
    if ((size_t) n > have) {
        n = (int) have;
    }

    memcpy(buf, src->in + src->pos, (size_t) n);
    src->pos += (size_t) n;

    return n;
}


/*
 * The records up to the first image descriptor: the transparency index
 * of the last graphic control extension before it (-1: none), the frame
 * rectangle checked against the screen.
 */

static int
ngx_tunny_image_gif_first(ngx_tunny_image_run_t *run, GifFileType *gif,
    int *transparent)
{
    int             code;
    GifByteType    *ext;
    GifRecordType   type;
    GifImageDesc   *d;

    *transparent = -1;

    for ( ;; ) {

        if (DGifGetRecordType(gif, &type) == GIF_ERROR) {
            return ngx_tunny_image_gif_fail(run, gif->Error);
        }

        if (type == IMAGE_DESC_RECORD_TYPE) {
            break;
        }

        if (type == TERMINATE_RECORD_TYPE) {
            return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                         "GIF without an image");
        }

        if (type != EXTENSION_RECORD_TYPE) {
            return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                         "GIF decode failed: "
                                         "unknown record");
        }

        if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) {
            return ngx_tunny_image_gif_fail(run, gif->Error);
        }

        if (code == GRAPHICS_EXT_FUNC_CODE && ext != NULL && ext[0] >= 4) {
            *transparent = (ext[1] & 0x01) ? ext[4] : -1;
        }

        while (ext != NULL) {
            if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) {
                return ngx_tunny_image_gif_fail(run, gif->Error);
            }
        }
    }

    if (DGifGetImageDesc(gif) == GIF_ERROR) {
        return ngx_tunny_image_gif_fail(run, gif->Error);
    }

    d = &gif->Image;

    if (d->Width <= 0 || d->Height <= 0) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "GIF frame with zero width or height");
    }

    if (d->Left < 0 || d->Top < 0
        || d->Left + d->Width > gif->SWidth
        || d->Top + d->Height > gif->SHeight)
    {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "GIF frame %dx%d at %d,%d outside "
                                     "the %dx%d screen", d->Width,
                                     d->Height, d->Left, d->Top,
                                     gif->SWidth, gif->SHeight);
    }

    if (d->ColorMap == NULL && gif->SColorMap == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "GIF without a colour table");
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* the first frame's lines into the canvas, in GIF's interlace order */

static int
ngx_tunny_image_gif_frame(ngx_tunny_image_run_t *run, GifFileType *gif,
    int transparent, unsigned char *canvas)
{
    int                    rc, pass, step, start;
    unsigned               n, x, y, w, h;
    GifPixelType          *line;
    unsigned char         *d;
    ColorMapObject        *map;
    const GifColorType    *c;
    static const int       starts[4] = { 0, 4, 2, 1 };
    static const int       steps[4] = { 8, 8, 4, 2 };

    w = (unsigned) gif->Image.Width;
    h = (unsigned) gif->Image.Height;
    map = gif->Image.ColorMap ? gif->Image.ColorMap : gif->SColorMap;

    line = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_ROW, w);
    if (line == NULL) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                     "out of memory decoding GIF");
    }

    n = 0;

    for (pass = 0; pass < (gif->Image.Interlace ? 4 : 1); pass++) {

        start = gif->Image.Interlace ? starts[pass] : 0;
        step = gif->Image.Interlace ? steps[pass] : 1;

        for (y = (unsigned) start; y < h; y += (unsigned) step) {

            rc = ngx_tunny_image_checkpoint(run, n++);
            if (rc != NGX_TUNNY_IMAGE_OK) {
                return rc;
            }

            if (DGifGetLine(gif, line, (int) w) == GIF_ERROR) {
                return ngx_tunny_image_gif_fail(run, gif->Error);
            }

            d = canvas + ((size_t) (gif->Image.Top + y) * gif->SWidth
                          + gif->Image.Left) * 4;

            for (x = 0; x < w; x++, d += 4) {

                /* the transparent index, or one past the table: clear */

                if ((int) line[x] == transparent
                    || (int) line[x] >= map->ColorCount)
                {
                    continue;
                }

                c = &map->Colors[line[x]];
                d[0] = c->Red;
                d[1] = c->Green;
                d[2] = c->Blue;
                d[3] = 255;
            }
        }
    }

    return NGX_TUNNY_IMAGE_OK;
}


/* RGBA to RGB in place, forwards (the write never passes the read) */

static void
ngx_tunny_image_gif_rgb(ngx_tunny_image_pix_t *pix)
{
    size_t          i, n;
    unsigned char  *s, *d;

    n = (size_t) pix->width * pix->height;
    s = pix->data;
    d = pix->data;

    for (i = 0; i < n; i++, s += 4, d += 3) {
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
    }

    pix->channels = 3;
    pix->stride = (size_t) pix->width * 3;
}


static int
ngx_tunny_image_gif_fail(ngx_tunny_image_run_t *run, int error)
{
    const char  *s;

    s = GifErrorString(error);

    return ngx_tunny_image_error(run->res,
                                 error == D_GIF_ERR_NOT_ENOUGH_MEM
                                 ? NGX_TUNNY_IMAGE_ENOMEM
                                 : NGX_TUNNY_IMAGE_EINPUT,
                                 "GIF decode failed: %s",
                                 s ? s : "corrupt data");
}
