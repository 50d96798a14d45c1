
/*
 * webp-anim-info FILE [X,Y ...]: what an animated WebP holds, through
 * libwebp's demuxer and WebPAnimDecoder (the tests' view of the module's
 * output, t/118-image-anim.t):
 *
 *   canvas WxH frames N loop L
 *   frame I DURATION r,g,b,a ...    (the composed canvas at each X,Y)
 *
 * A still WebP is one frame ("loop 0").  Exit status 1 and a message on
 * stdout when the file is no WebP libwebp can decode.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>


int
main(int argc, char **argv)
{
    int                      i, x, y, ts, prev, n;
    long                     len;
    FILE                    *f;
    uint8_t                 *buf, *px;
    WebPData                 data;
    WebPAnimInfo             info;
    WebPAnimDecoder         *dec;
    WebPAnimDecoderOptions   opts;

    if (argc < 2) {
        fprintf(stderr, "usage: webp-anim-info FILE [X,Y ...]\n");
        return 2;
    }

    f = fopen(argv[1], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        printf("cannot read %s\n", argv[1]);
        return 1;
    }

    buf = malloc(len ? (size_t) len : 1);
    if (buf == NULL || (len && fread(buf, 1, (size_t) len, f) != (size_t) len))
    {
        printf("cannot read %s\n", argv[1]);
        return 1;
    }

    fclose(f);

    data.bytes = buf;
    data.size = (size_t) len;

    if (!WebPAnimDecoderOptionsInit(&opts)) {
        printf("libwebp version mismatch\n");
        return 1;
    }

    opts.color_mode = MODE_RGBA;
    opts.use_threads = 0;

    dec = WebPAnimDecoderNew(&data, &opts);
    if (dec == NULL || !WebPAnimDecoderGetInfo(dec, &info)) {
        printf("not a WebP libwebp decodes\n");
        return 1;
    }

    printf("canvas %ux%u frames %u loop %u\n", info.canvas_width,
           info.canvas_height, info.frame_count, info.loop_count);

    prev = 0;
    n = 0;

    while (WebPAnimDecoderHasMoreFrames(dec)) {
        if (!WebPAnimDecoderGetNext(dec, &px, &ts)) {
            printf("frame %d: decoding failed\n", n);
            return 1;
        }

        printf("frame %d %d", n, ts - prev);
        prev = ts;

        for (i = 2; i < argc; i++) {
            if (sscanf(argv[i], "%d,%d", &x, &y) != 2 || x < 0 || y < 0
                || (unsigned) x >= info.canvas_width
                || (unsigned) y >= info.canvas_height)
            {
                printf(" -");
                continue;
            }

            printf(" %u,%u,%u,%u",
                   px[((size_t) y * info.canvas_width + x) * 4],
                   px[((size_t) y * info.canvas_width + x) * 4 + 1],
                   px[((size_t) y * info.canvas_width + x) * 4 + 2],
                   px[((size_t) y * info.canvas_width + x) * 4 + 3]);
        }

        printf("\n");
        n++;
    }

    WebPAnimDecoderDelete(dec);
    free(buf);

    return 0;
}
