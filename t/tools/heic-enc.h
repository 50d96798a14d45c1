
/*
 * HEIC encoding for the fixture generators (gen-heic.c, gen-hostile.c):
 * libheif's own HEVC encoder (x265, built into Debian's libheif), from
 * 8-bit RGB or RGBA pixels, with an orientation (written by libheif as
 * irot/imir), an EXIF block and an ICC profile.  Only built when
 * src/image/Makefile finds libheif (TUNNY_TOOLS_HEIF).
 */

#ifndef _TUNNY_HEIC_ENC_H_INCLUDED_
#define _TUNNY_HEIC_ENC_H_INCLUDED_


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>


typedef struct {
    int                   orientation;   /* EXIF semantics, 0/1: none */
    const unsigned char  *exif;          /* TIFF data, or NULL */
    size_t                exif_len;
    const unsigned char  *icc;           /* or NULL */
    size_t                icc_len;
    int                   quality;       /* 0: 90 */
} heic_opts_t;


typedef struct {
    unsigned char        *p;
    size_t                n;
} heic_buf_t;


static inline struct heif_error
heic_write(struct heif_context *ctx, const void *data, size_t size,
    void *user)
{
    heic_buf_t         *b = user;
    struct heif_error   ok = { heif_error_Ok, heif_suberror_Unspecified,
                               "ok" };

    (void) ctx;

    b->p = malloc(size ? size : 1);
    if (b->p == NULL) {
        fprintf(stderr, "heic: out of memory\n");
        exit(1);
    }

    memcpy(b->p, data, size);
    b->n = size;

    return ok;
}


static inline void
heic_check(struct heif_error err, const char *what)
{
    if (err.code != heif_error_Ok) {
        fprintf(stderr, "heic: %s: %s\n", what, err.message);
        exit(1);
    }
}


/* a HEIC of w x h pixels, channels 3 (RGB) or 4 (RGBA), malloc()ed */

static inline heic_buf_t
heic_encode(const unsigned char *pix, unsigned w, unsigned h,
    unsigned channels, const heic_opts_t *o)
{
    int                            stride;
    unsigned                       y;
    uint8_t                       *plane;
    heic_buf_t                     out;
    struct heif_image             *img;
    struct heif_writer             writer;
    struct heif_context           *ctx;
    struct heif_encoder           *enc;
    struct heif_image_handle      *handle;
    struct heif_encoding_options  *eo;

    ctx = heif_context_alloc();

    heic_check(heif_context_get_encoder_for_format(ctx, heif_compression_HEVC,
                                                   &enc),
               "no HEVC encoder in libheif");

    heic_check(heif_encoder_set_lossy_quality(enc,
                                              o->quality ? o->quality : 90),
               "quality");
    (void) heif_encoder_set_parameter(enc, "preset", "ultrafast");

    heic_check(heif_image_create((int) w, (int) h, heif_colorspace_RGB,
                                 channels == 4
                                 ? heif_chroma_interleaved_RGBA
                                 : heif_chroma_interleaved_RGB, &img),
               "image");
    heic_check(heif_image_add_plane(img, heif_channel_interleaved, (int) w,
                                    (int) h, 8),
               "plane");

    plane = heif_image_get_plane(img, heif_channel_interleaved, &stride);

    for (y = 0; y < h; y++) {
        memcpy(plane + (size_t) y * stride,
               pix + (size_t) y * w * channels, (size_t) w * channels);
    }

    if (o->icc) {
        heic_check(heif_image_set_raw_color_profile(img, "prof", o->icc,
                                                    o->icc_len),
                   "ICC");
    }

    eo = heif_encoding_options_alloc();
    eo->save_alpha_channel = (channels == 4);
    if (o->orientation > 1) {
        eo->image_orientation = (enum heif_orientation) o->orientation;
    }

    heic_check(heif_context_encode_image(ctx, img, enc, eo, &handle),
               "encode");

    if (o->exif) {
        heic_check(heif_context_add_exif_metadata(ctx, handle, o->exif,
                                                  (int) o->exif_len),
                   "EXIF");
    }

    memset(&out, 0, sizeof(out));
    writer.writer_api_version = 1;
    writer.write = heic_write;
    heic_check(heif_context_write(ctx, &writer, &out), "write");

    heif_encoding_options_free(eo);
    heif_image_handle_release(handle);
    heif_image_release(img);
    heif_encoder_release(enc);
    heif_context_free(ctx);

    return out;
}


/* TIFF data with one IFD entry: Orientation (big-endian) */

static inline size_t
heic_exif_orientation(unsigned char *b, int orientation)
{
    static const unsigned char  tiff[26] = {
        'M', 'M', 0, 42, 0, 0, 0, 8,
        0, 1,
        0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0,
        0, 0, 0, 0
    };

    memcpy(b, tiff, sizeof(tiff));
    b[19] = (unsigned char) orientation;

    return sizeof(tiff);
}


#endif /* _TUNNY_HEIC_ENC_H_INCLUDED_ */
