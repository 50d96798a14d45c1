
/*
 * libFuzzer harness for the image library (src/image), built by
 * t/fuzz/build.sh: the library archive and this file with
 * clang -fsanitize=fuzzer,address,undefined.
 *
 *   ./fuzz_image -max_total_time=60 corpus/
 *
 * The first input byte picks the operation, the second the target size
 * and the pixel limit, the rest is the image.  The probe given to the
 * library is the harness's (as the HTTP module makes it) for an image of
 * even length, the library's own (info == NULL) for an odd one.
 *
 * For a JPEG the exact decode shortcuts are checked against the whole
 * decode (ngx_tunny_image_pixels_fast(), both ways): when both give
 * pixels they must be the same, and the shortcuts may not lose an image
 * the whole decode gives (they may answer where it rejects: damage in
 * the parts they do not decode).  For a PNG (the inflate shortcut) the
 * same check runs on a copy with every chunk's CRC made right:
 * libFuzzer's mutations break them, and a bad CRC keeps both decoders out
 * of the image data.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "ngx_tunny_image_int.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzz_exact(ngx_tunny_image_state_t *st, const uint8_t *data,
    size_t size, const ngx_tunny_image_params_t *p);
static void fuzz_png_crc(ngx_tunny_image_state_t *st, const uint8_t *data,
    size_t size, const ngx_tunny_image_params_t *p);


static void
fuzz_exact(ngx_tunny_image_state_t *st, const uint8_t *data, size_t size,
    const ngx_tunny_image_params_t *p)
{
    int                        rc;
    size_t                     n;
    unsigned                   y, w, h, ch;
    unsigned char             *fast;
    ngx_tunny_image_pix_t      pix;
    ngx_tunny_image_result_t   res;

    rc = ngx_tunny_image_pixels_fast(st, data, size, p, &res, &pix,
                                     NGX_TUNNY_IMAGE_FAST_ALL);

    fast = NULL;
    w = h = ch = 0;

    if (rc == NGX_TUNNY_IMAGE_OK) {
        w = pix.width;
        h = pix.height;
        ch = pix.channels;
        n = (size_t) w * ch;
        fast = malloc(n * h + 1);

        if (fast == NULL) {
            return;
        }

        for (y = 0; y < h; y++) {
            memcpy(fast + y * n, pix.data + y * pix.stride, n);
        }
    }

    if (ngx_tunny_image_pixels_fast(st, data, size, p, &res, &pix, 0)
        == NGX_TUNNY_IMAGE_OK)
    {
        if (fast == NULL) {
            abort();                    /* a shortcut lost the image */
        }

        n = (size_t) w * ch;

        if (pix.width != w || pix.height != h || pix.channels != ch) {
            abort();
        }

        for (y = 0; y < h; y++) {
            if (memcmp(fast + y * n, pix.data + y * pix.stride, n) != 0) {
                abort();                /* not exact */
            }
        }
    }

    free(fast);
}


/* a PNG's chunks with their CRCs made right, then fuzz_exact() */

static void
fuzz_png_crc(ngx_tunny_image_state_t *st, const uint8_t *data, size_t size,
    const ngx_tunny_image_params_t *p)
{
    size_t          pos;
    uint32_t        len, crc;
    unsigned char  *png;

    png = malloc(size + 1);
    if (png == NULL) {
        return;
    }

    memcpy(png, data, size);

    for (pos = 8; size - pos >= 12; pos += 12 + (size_t) len) {
        len = (uint32_t) png[pos] << 24 | (uint32_t) png[pos + 1] << 16
              | (uint32_t) png[pos + 2] << 8 | png[pos + 3];

        if (len > size - pos - 12) {
            break;
        }

        crc = libdeflate_crc32(0, png + pos + 4, (size_t) len + 4);

        png[pos + 8 + len] = (unsigned char) (crc >> 24);
        png[pos + 9 + len] = (unsigned char) (crc >> 16);
        png[pos + 10 + len] = (unsigned char) (crc >> 8);
        png[pos + 11 + len] = (unsigned char) crc;
    }

    fuzz_exact(st, png, size, p);

    free(png);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned                          sel, dim;
    ngx_tunny_image_info_t            info;
    ngx_tunny_image_params_t          p;
    ngx_tunny_image_result_t          res;
    static ngx_tunny_image_state_t   *st;
    static const unsigned             dims[8] = {
        0, 1, 7, 48, 64, 100, 333, 4096
    };
    static const uint64_t             limits[4] = {
        4000000, 1000, 20000, 250000
    };

    if (st == NULL) {
        st = ngx_tunny_image_state_create();
    }

    if (size < 2) {
        return 0;
    }

    sel = data[0];
    dim = data[1];
    data += 2;
    size -= 2;

    /* the caller's probe must agree with the sniff and with itself */

    if (ngx_tunny_image_probe(data, size, &info) == NGX_TUNNY_IMAGE_OK) {
        if (info.width == 0 || info.height == 0 || info.error != NULL) {
            abort();
        }

    } else if (info.error == NULL || info.width != 0 || info.height != 0) {
        abort();
    }

    if (info.type != ngx_tunny_image_sniff(data, size)) {
        abort();
    }

    /* the frame count of a probed image: at least one, within the cap */

    if (info.error == NULL
        && (info.frames == 0 || info.frames > NGX_TUNNY_IMAGE_FRAMES_CAP))
    {
        abort();
    }

    memset(&p, 0, sizeof(p));
    p.ops = (sel & 1) ? NGX_TUNNY_IMAGE_OP_CROP : NGX_TUNNY_IMAGE_OP_RESIZE;
    p.width = (sel & 2) ? dims[dim & 7] : 0;
    p.height = (sel & 4) ? dims[(dim >> 3) & 7] : 0;
    p.angle = ((sel >> 3) & 3) * 90;
    if (p.angle) {
        p.ops |= NGX_TUNNY_IMAGE_OP_ROTATE;
    }
    /* bits 5 and 6: WebP, PNG (with interlace, which only JPEG uses) */
    p.out_type = (sel & 32) ? ((sel & 64) ? NGX_TUNNY_IMAGE_PNG
                                          : NGX_TUNNY_IMAGE_WEBP)
                            : 0;
    p.png_compression = 1;
    p.interlace = (sel & 64) != 0;
    p.sharpen = (sel & 128) ? 50 : 0;
    p.jpeg_quality = 75;
    p.webp_quality = 75;
    p.max_pixels = limits[(dim >> 6) & 3];
    /*
     * animations to WebP (bit 5): every frame, at most 8 of them (each
     * frame costs what a still of the canvas costs: more frames explore
     * no more code, only time)
     */
    p.max_frames = 8;

    p.avif_quality = 60;
    p.avif_speed = 10;

    /*
     * AVIF input is written as PNG: the decoder is what meets hostile
     * bytes, and an AV1 encode of every input would slow the fuzzer
     * tenfold
     */

    if (p.out_type == 0 && info.type == NGX_TUNNY_IMAGE_AVIF) {
        p.out_type = NGX_TUNNY_IMAGE_PNG;
    }

    /* the nginx default (profiles through lcms2) for two lengths in three,
     * the profile copied for the third; flattening on a colour */
    p.colour = (size % 3) ? NGX_TUNNY_IMAGE_COLOUR_SRGB
                          : NGX_TUNNY_IMAGE_COLOUR_KEEP;
    p.background = NGX_TUNNY_IMAGE_BG_SET | 0x336699;

    /* an odd length: the library probes for itself */

    if (ngx_tunny_image_process(st, data, size, (size & 1) ? NULL : &info, &p,
                                &res)
        == NGX_TUNNY_IMAGE_OK)
    {
        if (res.data == NULL || res.len == 0 || res.width == 0
            || res.height == 0)
        {
            abort();
        }
    }

    free(res.data);

    if (info.type == NGX_TUNNY_IMAGE_JPEG) {
        fuzz_exact(st, data, size, &p);
    }

    if (info.type == NGX_TUNNY_IMAGE_PNG) {
        fuzz_png_crc(st, data, size, &p);
    }

    ngx_tunny_image_state_trim(st, 16 * 1024 * 1024);

    return 0;
}


#ifdef TUNNY_FUZZ_REPLAY

/* replay files without libFuzzer, e.g. under valgrind */

#include <stdio.h>

int
main(int argc, char **argv)
{
    int             i;
    long            n;
    FILE           *f;
    unsigned char  *buf;

    for (i = 1; i < argc; i++) {
        f = fopen(argv[i], "rb");
        if (f == NULL) {
            continue;
        }

        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);

        buf = malloc(n + 1);
        if (buf && fread(buf, 1, n, f) == (size_t) n) {
            LLVMFuzzerTestOneInput(buf, (size_t) n);
        }

        free(buf);
        fclose(f);
    }

    return 0;
}

#endif
