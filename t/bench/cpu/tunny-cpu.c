
/*
 * CPU time per image of the image library alone (no HTTP, one thread):
 * the whole job of ngx_tunny_image_process(), as the bench image runs it
 * (the module's defaults: JPEG and WebP q80, PNG level 6, AVIF q63 speed
 * 8, colour srgb).
 *
 *   tunny-cpu [-r RUNS] [-s|-F] [-v 0|1|2] [-o jpeg|webp|png|avif]
 *             fit|crop W H FILE...
 *
 * Each file is processed RUNS times (default 7) after one warm-up; the
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID: a shared machine adds wall
 * time, not CPU time) of every run is taken, and the file's median
 * printed with the shortcuts the job took ("dc (own)": the DC-only decode
 * by the module's own decoder).  The last line: the median
 * and the mean of the files' medians.  -s: without the exact decode
 * shortcuts (tunny_image_fast off), for the comparison.  -o: the output
 * type (default: the input's, as tunny_image_format's default).  -v: the
 * highest instruction set of the vector kernels (0 scalar, 1 SSE2, 2 AVX2
 * where the CPU has it, the default), to compare them.
 *
 * -F: the floor of a JPEG job instead, what no JPEG server can go below
 * with libjpeg-turbo: the decode at the smallest DCT scale that covers
 * the job's output (no margin for a resampler), then the q80 encode of an
 * output-sized corner of those pixels with the encoder settings of the
 * module (optimized Huffman tables, islow), no resampling, no colour step.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>

#include "ngx_tunny_image.h"
#include "ngx_tunny_image_int.h"


static double
cpu_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x, y;

    x = *(const double *) a;
    y = *(const double *) b;

    return (x > y) - (x < y);
}


static unsigned char *
slurp(const char *path, size_t *len)
{
    long            n;
    FILE           *f;
    unsigned char  *p;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    p = malloc(n > 0 ? (size_t) n : 1);
    if (p == NULL || n <= 0 || fread(p, 1, (size_t) n, f) != (size_t) n) {
        fclose(f);
        free(p);
        return NULL;
    }

    fclose(f);
    *len = (size_t) n;

    return p;
}


/* -F: the floor of one JPEG to a w x h output; 0, or -1 */

static int
floor_job(const unsigned char *in, size_t len, unsigned w, unsigned h)
{
    int                            rc;
    size_t                         stride;
    JSAMPROW                       row;
    unsigned char                 *pix, *out;
    unsigned long                  size;
    struct jpeg_error_mgr          jerr;
    struct jpeg_compress_struct    c;
    struct jpeg_decompress_struct  d;

    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, in, (unsigned long) len);

    if (jpeg_read_header(&d, TRUE) != JPEG_HEADER_OK) {
        jpeg_destroy_decompress(&d);
        return -1;
    }

    d.scale_num = ngx_tunny_image_dct_scale(d.image_width, d.image_height,
                                            w, h);
    d.scale_denom = 8;
    d.out_color_space = JCS_EXT_RGB;
    d.dct_method = JDCT_ISLOW;

    jpeg_start_decompress(&d);

    stride = (size_t) d.output_width * 3;
    pix = malloc(stride * d.output_height);
    rc = (pix == NULL || d.output_width < w || d.output_height < h) ? -1 : 0;

    while (rc == 0 && d.output_scanline < d.output_height) {
        row = pix + stride * d.output_scanline;
        jpeg_read_scanlines(&d, &row, 1);
    }

    jpeg_abort_decompress(&d);
    jpeg_destroy_decompress(&d);

    if (rc != 0) {
        free(pix);
        return -1;
    }

    out = NULL;
    size = 0;

    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &size);

    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_EXT_RGB;

    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 80, TRUE);
    c.optimize_coding = TRUE;
    c.dct_method = JDCT_ISLOW;
    jpeg_start_compress(&c, TRUE);

    while (c.next_scanline < h) {
        row = pix + stride * c.next_scanline;
        jpeg_write_scanlines(&c, &row, 1);
    }

    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);

    free(out);
    free(pix);

    return 0;
}


int
main(int argc, char **argv)
{
    int                        c, i, k, runs, slow, rc, out, floor;
    size_t                     len;
    double                     t, *ms, *med, sum;
    unsigned char             *in;
    ngx_tunny_image_state_t   *st;
    ngx_tunny_image_params_t   p;
    ngx_tunny_image_result_t   res;

    runs = 7;
    slow = 0;
    out = 0;
    floor = 0;

    while ((c = getopt(argc, argv, "r:so:Fv:")) != -1) {
        switch (c) {
        case 'r':
            runs = atoi(optarg);
            break;
        case 's':
            slow = 1;
            break;
        case 'F':
            floor = 1;
            break;
        case 'v':
            ngx_tunny_image_vector_max(atoi(optarg));
            break;
        case 'o':
            out = strcmp(optarg, "jpeg") == 0 ? NGX_TUNNY_IMAGE_JPEG
                  : strcmp(optarg, "webp") == 0 ? NGX_TUNNY_IMAGE_WEBP
                  : strcmp(optarg, "png") == 0 ? NGX_TUNNY_IMAGE_PNG
                  : strcmp(optarg, "avif") == 0 ? NGX_TUNNY_IMAGE_AVIF : -1;
            if (out < 0) {
                return 2;
            }
            break;
        default:
            return 2;
        }
    }

    if (runs < 1 || argc - optind < 4
        || (strcmp(argv[optind], "fit") != 0
            && strcmp(argv[optind], "crop") != 0))
    {
        fprintf(stderr, "usage: tunny-cpu [-r RUNS] [-s|-F] [-v 0|1|2] "
                        "[-o jpeg|webp|png|avif] fit|crop W H FILE...\n");
        return 2;
    }

    memset(&p, 0, sizeof(p));
    p.ops = strcmp(argv[optind], "fit") == 0 ? NGX_TUNNY_IMAGE_OP_RESIZE
                                              : NGX_TUNNY_IMAGE_OP_CROP;
    p.width = (unsigned) atoi(argv[optind + 1]);
    p.height = (unsigned) atoi(argv[optind + 2]);
    p.out_type = out;
    p.jpeg_quality = 80;
    p.webp_quality = 80;
    p.png_compression = 6;
    p.avif_quality = 63;
    p.avif_speed = 8;
    p.colour = NGX_TUNNY_IMAGE_COLOUR_SRGB;
    p.max_pixels = 100000000;
    p.fast_off = slow ? NGX_TUNNY_IMAGE_FAST_ALL : 0;

    st = ngx_tunny_image_state_create();
    ms = malloc(sizeof(double) * (size_t) runs);
    med = malloc(sizeof(double) * (size_t) argc);

    if (st == NULL || ms == NULL || med == NULL) {
        return 1;
    }

    k = 0;

    for (i = optind + 3; i < argc; i++) {
        in = slurp(argv[i], &len);
        if (in == NULL) {
            fprintf(stderr, "tunny-cpu: cannot read %s\n", argv[i]);
            return 1;
        }

        /* the job once first: the output size of the floor */

        for (c = -1; c < runs; c++) {
            t = cpu_ms();
            rc = (floor && c >= 0)
                 ? (floor_job(in, len, res.width, res.height) == 0
                    ? NGX_TUNNY_IMAGE_OK : NGX_TUNNY_IMAGE_EINPUT)
                 : ngx_tunny_image_process(st, in, len, NULL, &p, &res);
            t = cpu_ms() - t;

            if (rc != NGX_TUNNY_IMAGE_OK) {
                fprintf(stderr, "tunny-cpu: %s: rc %d %s\n", argv[i], rc,
                        floor ? "floor: not a JPEG" : res.error);
                return 1;
            }

            if (c >= 0) {
                ms[c] = t;
            }

            if (!floor || c < 0) {
                free(res.data);
            }
        }

        qsort(ms, (size_t) runs, sizeof(double), cmp_double);
        med[k++] = ms[runs / 2];

        printf("%s %ux%u %.2f ms%s%s%s\n", argv[i], res.width, res.height,
               ms[runs / 2], (res.fast & NGX_TUNNY_IMAGE_FAST_DC) ? " dc" : "",
               (res.fast & NGX_TUNNY_IMAGE_DC_OWN) ? " (own)" : "",
               (res.fast & NGX_TUNNY_IMAGE_FAST_REGION) ? " region" : "");

        free(in);
    }

    sum = 0;

    for (i = 0; i < k; i++) {
        sum += med[i];
    }

    qsort(med, (size_t) k, sizeof(double), cmp_double);

    printf("files %d median %.2f ms mean %.2f ms%s\n", k, med[k / 2],
           sum / k, slow ? " (no shortcuts)" : floor ? " (floor)" : "");

    ngx_tunny_image_state_destroy(st);
    free(ms);
    free(med);

    return 0;
}
