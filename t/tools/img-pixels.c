
/*
 * img-pixels FILE [X,Y ...]: what a test needs to know of an output
 * image, decoded with the reference libraries (libjpeg, libspng, libwebp):
 *
 *   jpeg|png|webp WIDTHxHEIGHT icc=BYTES [frames=N]
 *   X,Y R G B A          one line per point asked for (A 255 for JPEG)
 *
 * An animated WebP (frames=N) is read at its last frame, on its canvas.
 *
 * Exit 1 on anything it cannot decode.  Used by t/119-image-colour.t.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <spng.h>
#include <webp/decode.h>
#include <webp/demux.h>


static void
die(const char *what)
{
    fprintf(stderr, "img-pixels: %s\n", what);
    exit(1);
}


static unsigned char *
slurp(const char *name, size_t *len)
{
    long            n;
    FILE           *f;
    unsigned char  *p;

    f = fopen(name, "rb");
    if (f == NULL) {
        die(name);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    p = malloc(n > 0 ? (size_t) n : 1);
    if (p == NULL || fread(p, 1, (size_t) n, f) != (size_t) n) {
        die("read");
    }

    fclose(f);
    *len = (size_t) n;

    return p;
}


/* RGBA pixels of a JPEG; *icc the length of its profile */

static unsigned char *
jpeg_rgba(const unsigned char *in, size_t len, unsigned *w, unsigned *h,
    unsigned *icc)
{
    unsigned                       x;
    JOCTET                        *prof;
    JSAMPROW                       row;
    unsigned int                   plen;
    unsigned char                 *pix, *line;
    struct jpeg_error_mgr          jerr;
    struct jpeg_decompress_struct  d;

    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, in, (unsigned long) len);
    jpeg_save_markers(&d, JPEG_APP0 + 2, 0xffff);
    jpeg_read_header(&d, TRUE);

    *icc = 0;
    if (jpeg_read_icc_profile(&d, &prof, &plen)) {
        *icc = plen;
        free(prof);
    }

    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);

    *w = d.output_width;
    *h = d.output_height;

    pix = malloc((size_t) *w * *h * 4);
    line = malloc((size_t) *w * 3);
    if (pix == NULL || line == NULL) {
        die("malloc");
    }

    while (d.output_scanline < d.output_height) {
        row = line;
        jpeg_read_scanlines(&d, &row, 1);

        for (x = 0; x < *w; x++) {
            memcpy(pix + ((size_t) (d.output_scanline - 1) * *w + x) * 4,
                   line + x * 3, 3);
            pix[((size_t) (d.output_scanline - 1) * *w + x) * 4 + 3] = 255;
        }
    }

    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    free(line);

    return pix;
}


static unsigned char *
png_rgba(const unsigned char *in, size_t len, unsigned *w, unsigned *h,
    unsigned *icc)
{
    size_t            size;
    spng_ctx         *ctx;
    unsigned char    *pix;
    struct spng_ihdr  ihdr;
    struct spng_iccp  iccp;

    ctx = spng_ctx_new(0);
    if (ctx == NULL || spng_set_png_buffer(ctx, in, len) != 0
        || spng_get_ihdr(ctx, &ihdr) != 0
        || spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &size) != 0)
    {
        die("PNG header");
    }

    pix = malloc(size);
    if (pix == NULL
        || spng_decode_image(ctx, pix, size, SPNG_FMT_RGBA8,
                             SPNG_DECODE_TRNS) != 0)
    {
        die("PNG decode");
    }

    *icc = (spng_get_iccp(ctx, &iccp) == 0) ? (unsigned) iccp.profile_len
                                            : 0;
    *w = ihdr.width;
    *h = ihdr.height;

    spng_ctx_free(ctx);

    return pix;
}


/* the last frame of an animated WebP, on its canvas (WebPMalloc) */

static unsigned char *
webp_anim_last(const WebPData *data, unsigned *w, unsigned *h,
    unsigned *frames)
{
    int                      ts;
    size_t                   size;
    uint8_t                 *frame;
    unsigned char           *pix;
    WebPAnimInfo             info;
    WebPAnimDecoder         *dec;
    WebPAnimDecoderOptions   opts;

    if (!WebPAnimDecoderOptionsInit(&opts)) {
        die("WebPAnimDecoderOptionsInit");
    }

    opts.color_mode = MODE_RGBA;

    dec = WebPAnimDecoderNew(data, &opts);
    if (dec == NULL || !WebPAnimDecoderGetInfo(dec, &info)) {
        die("WebP decode");
    }

    frame = NULL;
    *frames = 0;

    while (WebPAnimDecoderHasMoreFrames(dec)) {
        if (!WebPAnimDecoderGetNext(dec, &frame, &ts)) {
            die("WebP animation decode");
        }

        (*frames)++;
    }

    if (frame == NULL) {
        die("WebP animation without a frame");
    }

    *w = info.canvas_width;
    *h = info.canvas_height;
    size = (size_t) *w * *h * 4;

    pix = WebPMalloc(size);
    if (pix == NULL) {
        die("malloc");
    }

    memcpy(pix, frame, size);
    WebPAnimDecoderDelete(dec);

    return pix;
}


static unsigned char *
webp_rgba(const unsigned char *in, size_t len, unsigned *w, unsigned *h,
    unsigned *icc, unsigned *frames)
{
    int                 iw, ih;
    WebPData            data;
    WebPDemuxer        *dmux;
    unsigned char      *pix;
    WebPChunkIterator   it;

    data.bytes = in;
    data.size = len;
    *frames = 0;

    pix = WebPDecodeRGBA(in, len, &iw, &ih);

    if (pix == NULL) {
        pix = webp_anim_last(&data, w, h, frames);

    } else {
        *w = (unsigned) iw;
        *h = (unsigned) ih;
    }

    *icc = 0;

    dmux = WebPDemux(&data);

    if (dmux != NULL) {
        if (WebPDemuxGetChunk(dmux, "ICCP", 1, &it)) {
            *icc = (unsigned) it.chunk.size;
            WebPDemuxReleaseChunkIterator(&it);
        }

        WebPDemuxDelete(dmux);
    }

    return pix;
}


int
main(int argc, char **argv)
{
    int             i;
    size_t          len;
    unsigned        w, h, icc, x, y, frames;
    const char     *type;
    unsigned char  *in, *pix, *p;

    if (argc < 2) {
        fprintf(stderr, "usage: img-pixels FILE [X,Y ...]\n");
        return 2;
    }

    in = slurp(argv[1], &len);
    frames = 0;

    if (len > 3 && in[0] == 0xff && in[1] == 0xd8) {
        type = "jpeg";
        pix = jpeg_rgba(in, len, &w, &h, &icc);

    } else if (len > 8 && memcmp(in, "\x89PNG", 4) == 0) {
        type = "png";
        pix = png_rgba(in, len, &w, &h, &icc);

    } else if (len > 12 && memcmp(in + 8, "WEBP", 4) == 0) {
        type = "webp";
        pix = webp_rgba(in, len, &w, &h, &icc, &frames);

    } else {
        die("unknown type");
        return 1;
    }

    printf("%s %ux%u icc=%u", type, w, h, icc);

    if (frames) {
        printf(" frames=%u", frames);
    }

    printf("\n");

    for (i = 2; i < argc; i++) {
        if (sscanf(argv[i], "%u,%u", &x, &y) != 2 || x >= w || y >= h) {
            die("bad point");
        }

        p = pix + ((size_t) y * w + x) * 4;
        printf("%u,%u %u %u %u %u\n", x, y, p[0], p[1], p[2], p[3]);
    }

    if (strcmp(type, "webp") == 0) {
        WebPFree(pix);

    } else {
        free(pix);
    }

    free(in);

    return 0;
}
