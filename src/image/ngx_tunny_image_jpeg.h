
/*
 * ngx_tunny_module: what the two JPEG decoders share, the one of libjpeg
 * (ngx_tunny_image_jpeg.c) and the DC-only one of a progressive JPEG
 * (ngx_tunny_image_jpeg_dc.c): the walk over the markers after the first
 * scan, the check of a scan header as libjpeg makes it, the scan budget.
 * Include after <stdio.h> and <jpeglib.h>.
 */


#ifndef _NGX_TUNNY_IMAGE_JPEG_H_INCLUDED_
#define _NGX_TUNNY_IMAGE_JPEG_H_INCLUDED_


#include "ngx_tunny_image_int.h"


/* a scan header (SOS) */
typedef struct {
    int                             ns;            /* components */
    int                             ci[MAX_COMPS_IN_SCAN];  /* indexes */
    int                             td[MAX_COMPS_IN_SCAN];  /* DC tables */
    int                             ss, se;        /* spectral band */
    int                             ah, al;        /* approximation */
} ngx_tunny_image_jscan_t;


/*
 * The next marker from *i (fill and garbage between markers skipped):
 * its code in *m, its segment length in *l (0 for the markers without
 * one), *i at its 0xFF.  0, or -1 when the input ends before a whole
 * marker (no EOI).
 */
int ngx_tunny_image_jpeg_marker(const unsigned char *in, size_t len,
    size_t *i, unsigned *m, size_t *l);

/*
 * The SOS segment at in (its 0xFF, l its length), checked as libjpeg
 * checks it against the frame: 0, or -1
 */
int ngx_tunny_image_jpeg_sos(j_decompress_ptr dinfo, const unsigned char *in,
    size_t l, ngx_tunny_image_jscan_t *scan);

/* the end of the entropy-coded data from i: the 0xFF of the next marker */
size_t ngx_tunny_image_jpeg_ecs_end(const unsigned char *in, size_t i,
    size_t len);

/* the scan budget: 0 within it, 1 too many scans, 2 too many passes */
int ngx_tunny_image_jpeg_budget(j_decompress_ptr dinfo, int scans,
    uint64_t blocks);

/*
 * The DC-only decode of a progressive JPEG at DCT 1/8 by the module's own
 * entropy decoder (ngx_tunny_image_jpeg_dc.c), after jpeg_read_header():
 * 1: the pixels are in run->pix, 0: not taken (libjpeg decodes), or an
 * NGX_TUNNY_IMAGE_E* code (cancelled, out of memory) with res->error set.
 */
int ngx_tunny_image_jpeg_dc_decode(ngx_tunny_image_run_t *run,
    j_decompress_ptr dinfo);


#endif /* _NGX_TUNNY_IMAGE_JPEG_H_INCLUDED_ */
