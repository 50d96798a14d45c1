
/*
 * ngx_tunny_module: GIF decoding through giflib, frame by frame, each
 * frame composed onto the logical screen: the screen starts transparent,
 * the transparency index of a frame's graphic control extension leaves
 * the screen under it as it was, and before the next frame its disposal
 * method is applied (1: keep, 2: clear its rectangle to transparent, as
 * browsers do rather than to the background colour, 3: restore what was
 * under it).  For a still output only the first frame is read
 * (ngx_tunny_image_gif_decode()); ngx_tunny_image_anim.c reads them all.
 * There is no GIF encoder: a transformed GIF is written as PNG
 * (ngx_tunny_image_plan()) or as WebP.
 *
 * Limits, before pixel memory: the logical screen through
 * ngx_tunny_image_limit() (max_pixels), and every frame rectangle must
 * lie inside the screen (415 otherwise).  Only the records up to the
 * frame asked for are read (extensions are skipped block by block:
 * bounded by the input).  LZW errors answer 415 with giflib's reason.
 * ngx_tunny_image_gif_scan() walks the blocks of the whole file without
 * decoding: frames, loop count, rectangles (the probe and the animation
 * check them before any pixel is decoded).
 *
 * Cancellation: a frame is decoded one line at a time with the cancel
 * checkpoint every NGX_TUNNY_IMAGE_CHECK_ROWS lines.
 *
 * Runs in the thread of ngx_tunny_image_process(); each call has its own
 * giflib handle, closed before it returns.  The scan touches no state.
 */


#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "ngx_tunny_image_int.h"


static int ngx_tunny_image_gif_read(GifFileType *gif, GifByteType *buf,
    int n);
static int ngx_tunny_image_gif_records(ngx_tunny_image_run_t *run,
    ngx_tunny_image_gif_t *g);
static int ngx_tunny_image_gif_frame(ngx_tunny_image_run_t *run,
    GifFileType *gif, int transparent, unsigned char *canvas);
static void ngx_tunny_image_gif_dispose(ngx_tunny_image_gif_t *g,
    unsigned char *canvas);
static int ngx_tunny_image_gif_save(ngx_tunny_image_run_t *run,
    ngx_tunny_image_gif_t *g, const unsigned char *canvas);
static void ngx_tunny_image_gif_rgb(ngx_tunny_image_pix_t *pix);
static int ngx_tunny_image_gif_fail(ngx_tunny_image_run_t *run, int error);


/* the first frame, for a still output */

int
ngx_tunny_image_gif_decode(ngx_tunny_image_run_t *run)
{
    int                    rc;
    size_t                 size;
    unsigned char         *canvas;
    ngx_tunny_image_gif_t  g;

    rc = ngx_tunny_image_gif_open(run, &g);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    size = (size_t) g.width * g.height * 4;

    canvas = ngx_tunny_image_buf_get(run->st, NGX_TUNNY_IMAGE_BUF_DEC, size);
    if (canvas == NULL) {
        rc = ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                   "out of memory decoding GIF");
        goto done;
    }

    /* the screen outside the frame is transparent */
    memset(canvas, 0, size);

    rc = ngx_tunny_image_gif_next(run, &g, canvas);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        goto done;
    }

    run->pix.data = canvas;
    run->pix.width = g.width;
    run->pix.height = g.height;
    run->pix.channels = 4;
    run->pix.stride = (size_t) g.width * 4;
    run->pix.buf = NGX_TUNNY_IMAGE_BUF_DEC;

    /* no transparency index, a frame covering the screen: RGB */

    if (g.transparent < 0 && g.w == g.width && g.h == g.height) {
        ngx_tunny_image_gif_rgb(&run->pix);
    }

done:

    ngx_tunny_image_gif_close(&g);

    return rc;
}


/* the screen, checked before any pixel memory; g is closed by the caller
 * on any result */

int
ngx_tunny_image_gif_open(ngx_tunny_image_run_t *run,
    ngx_tunny_image_gif_t *g)
{
    int           error;
    GifFileType  *gif;

    memset(g, 0, sizeof(ngx_tunny_image_gif_t));
    g->in = run->in;
    g->len = run->len;
    g->transparent = -1;

    error = 0;

    gif = DGifOpen(g, ngx_tunny_image_gif_read, &error);
    if (gif == NULL) {
        return ngx_tunny_image_gif_fail(run, error);
    }

    g->gif = gif;
    g->width = (unsigned) gif->SWidth;
    g->height = (unsigned) gif->SHeight;

    if (ngx_tunny_image_limit(run, g->width, g->height)
        != NGX_TUNNY_IMAGE_OK)
    {
        return NGX_TUNNY_IMAGE_ELIMIT;
    }

    if (g->width != run->info.width || g->height != run->info.height) {
        return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_EINPUT,
                                     "GIF decode failed: "
                                     "inconsistent headers");
    }

    return NGX_TUNNY_IMAGE_OK;
}


void
ngx_tunny_image_gif_close(ngx_tunny_image_gif_t *g)
{
    int  error;

    if (g->gif != NULL) {
        (void) DGifCloseFile(g->gif, &error);
        g->gif = NULL;
    }

    free(g->saved);
    g->saved = NULL;
    g->saved_size = 0;
}


/*
 * The next frame onto canvas (width x height RGBA, as the previous call
 * left it; transparent before the first): the last frame's disposal, then
 * this one.  NGX_TUNNY_IMAGE_END after the last frame (the trailer, or the
 * end of the input between two frames, which browsers accept too).
 */

int
ngx_tunny_image_gif_next(ngx_tunny_image_run_t *run,
    ngx_tunny_image_gif_t *g, unsigned char *canvas)
{
    int           rc;
    GifFileType  *gif;

    gif = g->gif;

    if (g->frames > 0) {
        ngx_tunny_image_gif_dispose(g, canvas);
    }

    rc = ngx_tunny_image_gif_records(run, g);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    g->x = (unsigned) gif->Image.Left;
    g->y = (unsigned) gif->Image.Top;
    g->w = (unsigned) gif->Image.Width;
    g->h = (unsigned) gif->Image.Height;

    if (g->dispose == DISPOSE_PREVIOUS) {
        rc = ngx_tunny_image_gif_save(run, g, canvas);
        if (rc != NGX_TUNNY_IMAGE_OK) {
            return rc;
        }
    }

    rc = ngx_tunny_image_gif_frame(run, gif, g->transparent, canvas);
    if (rc != NGX_TUNNY_IMAGE_OK) {
        return rc;
    }

    /*
     * DGifGetImageDesc() keeps a record of every descriptor read (with a
     * copy of its colour table) for giflib's high-level API; frame by
     * frame none is needed: dropped, so that memory does not grow with
     * the frames
     */

    GifFreeSavedImages(gif);
    gif->SavedImages = NULL;
    gif->ImageCount = 0;

    g->frames++;

    return NGX_TUNNY_IMAGE_OK;
}


static int
ngx_tunny_image_gif_read(GifFileType *gif, GifByteType *buf, int n)
{
    size_t                  have;
    ngx_tunny_image_gif_t  *g;

    g = gif->UserData;

    if (n <= 0) {
        return 0;
    }

    have = g->len - g->pos;
    if ((size_t) n > have) {
        n = (int) have;
    }

    memcpy(buf, g->in + g->pos, (size_t) n);
    g->pos += (size_t) n;

    return n;
}


/*
 * The records up to the next image descriptor: the disposal, delay and
 * transparency index of the last graphic control extension before it, the
 * frame rectangle checked against the screen.
 */

static int
ngx_tunny_image_gif_records(ngx_tunny_image_run_t *run,
    ngx_tunny_image_gif_t *g)
{
    int             code;
    unsigned        delay;
    GifByteType    *ext;
    GifFileType    *gif;
    GifRecordType   type;
    GifImageDesc   *d;

    gif = g->gif;

    g->transparent = -1;
    g->dispose = DISPOSAL_UNSPECIFIED;
    g->delay = 0;

    for ( ;; ) {

        if (g->frames > 0 && g->pos >= g->len) {
            return NGX_TUNNY_IMAGE_END;
        }

        if (DGifGetRecordType(gif, &type) == GIF_ERROR) {
            return ngx_tunny_image_gif_fail(run, gif->Error);
        }

        if (type == IMAGE_DESC_RECORD_TYPE) {
            break;
        }

        if (type == TERMINATE_RECORD_TYPE) {

            if (g->frames > 0) {
                return NGX_TUNNY_IMAGE_END;
            }

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
            g->transparent = (ext[1] & 0x01) ? ext[4] : -1;
            g->dispose = (ext[1] >> 2) & 0x07;

            /*
             * 1/100 s; 0 and 1 are played as 100 ms by browsers (and by
             * libwebp's gif2webp): so are they here
             */

            delay = (unsigned) ext[2] | ((unsigned) ext[3] << 8);
            g->delay = (delay <= 1) ? 100 : delay * 10;
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


/* a frame's lines into the canvas, in GIF's interlace order */

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

                /* the transparent index, or one past the table: as is */

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


/* the last frame's disposal method, on its rectangle */

static void
ngx_tunny_image_gif_dispose(ngx_tunny_image_gif_t *g, unsigned char *canvas)
{
    unsigned        y;
    size_t          row;
    unsigned char  *d;

    row = (size_t) g->w * 4;

    for (y = 0; y < g->h; y++) {
        d = canvas + ((size_t) (g->y + y) * g->width + g->x) * 4;

        if (g->dispose == DISPOSE_BACKGROUND) {
            memset(d, 0, row);

        } else if (g->dispose == DISPOSE_PREVIOUS && g->saved != NULL) {
            memcpy(d, g->saved + y * row, row);
        }
    }
}


/* what a "restore to previous" frame covers, before it is drawn */

static int
ngx_tunny_image_gif_save(ngx_tunny_image_run_t *run,
    ngx_tunny_image_gif_t *g, const unsigned char *canvas)
{
    unsigned        y;
    size_t          row, size;
    unsigned char  *p;

    row = (size_t) g->w * 4;
    size = row * g->h;

    if (size > g->saved_size) {
        p = realloc(g->saved, size);
        if (p == NULL) {
            return ngx_tunny_image_error(run->res, NGX_TUNNY_IMAGE_ENOMEM,
                                         "out of memory decoding GIF");
        }

        g->saved = p;
        g->saved_size = size;
    }

    for (y = 0; y < g->h; y++) {
        memcpy(g->saved + y * row,
               canvas + ((size_t) (g->y + y) * g->width + g->x) * 4, row);
    }

    return NGX_TUNNY_IMAGE_OK;
}


/*
 * The blocks of a GIF, walked without decoding: each step skips a header
 * or a sub-block, so the walk is bounded by the input (a few microseconds
 * per 100 KB); the event loop runs it in the probe.  Stops at the trailer,
 * at the end of the input, or at a byte that starts no block.
 */

static unsigned
ngx_tunny_image_gif_le16(const unsigned char *p)
{
    return (unsigned) p[0] | ((unsigned) p[1] << 8);
}


void
ngx_tunny_image_gif_scan(const unsigned char *p, size_t len,
    ngx_tunny_image_gif_scan_t *s)
{
    int       app, first;
    size_t    pos, n;
    unsigned  sw, sh, x, y, w, h, label;

    memset(s, 0, sizeof(ngx_tunny_image_gif_scan_t));
    s->loop = -1;

    if (len < 13) {
        return;
    }

    sw = ngx_tunny_image_gif_le16(p + 6);
    sh = ngx_tunny_image_gif_le16(p + 8);
    pos = 13;

    if (p[10] & 0x80) {
        pos += (size_t) 3 << ((p[10] & 0x07) + 1);
    }

    while (pos < len) {

        switch (p[pos++]) {

        case 0x3b:
            return;

        case 0x21:
            if (pos >= len) {
                return;
            }

            label = p[pos++];
            app = 0;
            first = 1;

            while (pos < len) {
                n = p[pos++];

                if (n == 0) {
                    break;
                }

                if (pos + n > len) {
                    return;
                }

                if (label == 0xff && first && n == 11
                    && (memcmp(p + pos, "NETSCAPE2.0", 11) == 0
                        || memcmp(p + pos, "ANIMEXTS1.0", 11) == 0))
                {
                    app = 1;

                } else if (app && n >= 3 && p[pos] == 1) {
                    s->loop = (int) ngx_tunny_image_gif_le16(p + pos + 1);
                }

                first = 0;
                pos += n;
            }

            break;

        case 0x2c:
            if (pos + 10 > len) {
                return;
            }

            x = ngx_tunny_image_gif_le16(p + pos);
            y = ngx_tunny_image_gif_le16(p + pos + 2);
            w = ngx_tunny_image_gif_le16(p + pos + 4);
            h = ngx_tunny_image_gif_le16(p + pos + 6);

            if (p[pos + 8] & 0x80) {
                pos += (size_t) 3 << ((p[pos + 8] & 0x07) + 1);
            }

            pos += 10;              /* the descriptor, LZW code size */

            if (!s->outside && (x + w > sw || y + h > sh)) {
                s->outside = 1;
                s->x = x;
                s->y = y;
                s->w = w;
                s->h = h;
            }

            if (s->frames < NGX_TUNNY_IMAGE_FRAMES_CAP) {
                s->frames++;
            }

            while (pos < len) {
                n = p[pos++];

                if (n == 0) {
                    break;
                }

                pos += n;
            }

            break;

        default:
            return;
        }
    }
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
