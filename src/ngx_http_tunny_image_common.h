/*
 * ngx_tunny_module: what the files of the tunny_image module share, and
 * nothing else includes.
 *
 *   ngx_http_tunny_image_module.c   module, directives, configuration
 *   ngx_http_tunny_image_filter.c   header and body filters, the answer
 *   ngx_http_tunny_image_upload.c   the tunny_image_upload handler
 *   ngx_http_tunny_image_job.c      the job: post, thread side, resume
 *   ngx_http_tunny_image_params.c   per-request parameters, reasons
 *
 * Which thread runs what:
 *   loop   (the nginx event loop of a worker): everything in these files
 *          except what ngx_http_tunny_image_job.c marks "thread"; that
 *          includes the filters, the upload handler, the resume callback
 *          and the job free function.
 *   thread (a pool thread): the task's run function and the per-thread
 *          state ops.  They call only ngx_tunny_image_*() and the task
 *          API's thread-side state accessors, and touch only the task's
 *          data and the thread's own ngx_tunny_image_state_t: no nginx
 *          memory, API or logging.
 *
 * Who owns what:
 *   ctx (r->pool) and everything it points to belongs to the loop.  The
 *       input buffer ctx->image and the output ctx->out are malloc()ed; a
 *       pool cleanup on r->pool frees whatever ctx still holds when the
 *       request goes away, and releases its max_memory reservation.
 *   ctx->file: a file-backed body (a static file, a cache hit) is not
 *       copied by the loop: it reads a prefix for the probe into
 *       ctx->image and keeps a dup() of the descriptor; the thread reads
 *       the rest into the same buffer (pread, the offset travels with
 *       the task).  The descriptor moves with ctx->image, is the job's
 *       while it runs and is closed by free() or the pool cleanup.
 *   the task's data (ngx_http_tunny_image_job_t, in the malloc()ed task):
 *       before ngx_http_tunny_task_post() succeeds it is the loop's;
 *       ctx->image and the reservation have been moved into it.  From then
 *       on the pool owns it: the thread reads in/in_len/info/params and
 *       writes rc/res, and frees in once the library is done with it
 *       (unless the answer is the input as is: rc ASIS).  done() moves in
 *       or res.data back into ctx; free()
 *       frees the rest and releases the reservation, also for a task whose
 *       request went away.  The data never points into nginx memory, so
 *       it may outlive the request.
 */


#ifndef _NGX_HTTP_TUNNY_IMAGE_COMMON_H_INCLUDED_
#define _NGX_HTTP_TUNNY_IMAGE_COMMON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tunny.h"
#include "ngx_tunny_image.h"


/* conf->mode */
#define NGX_HTTP_TUNNY_IMAGE_OFF         0
#define NGX_HTTP_TUNNY_IMAGE_TEST        1
#define NGX_HTTP_TUNNY_IMAGE_SIZE        2
#define NGX_HTTP_TUNNY_IMAGE_TRANSFORM   3


/* conf->format */
#define NGX_HTTP_TUNNY_IMAGE_ORIGINAL    0
#define NGX_HTTP_TUNNY_IMAGE_JPEG        1
#define NGX_HTTP_TUNNY_IMAGE_WEBP        2
#define NGX_HTTP_TUNNY_IMAGE_AUTO        3
#define NGX_HTTP_TUNNY_IMAGE_PNG         4
#define NGX_HTTP_TUNNY_IMAGE_AVIF        5


/* tunny_image_formats: at most one of each type it may name */
#define NGX_HTTP_TUNNY_IMAGE_NFORMATS    4


/* ctx->phase */
#define NGX_HTTP_TUNNY_IMAGE_START       0  /* header held, no body yet */
#define NGX_HTTP_TUNNY_IMAGE_READ        1  /* copying the body */
#define NGX_HTTP_TUNNY_IMAGE_DISCARD     2  /* no image: drop body, "{}" */
#define NGX_HTTP_TUNNY_IMAGE_WAIT        3  /* job posted */
#define NGX_HTTP_TUNNY_IMAGE_SEND        4  /* resumed, answer pending */
#define NGX_HTTP_TUNNY_IMAGE_PASS        5  /* everything passes */


/*
 * r->buffered bit while the filter holds the response (reading the body
 * or waiting for the job): 0x01 SSI, 0x02 SUB and 0x04 COPY are taken and
 * the field is 4 bits wide.
 */
#define NGX_HTTP_TUNNY_IMAGE_BUFFERED    0x08

/* what the loop reads of a file-backed body: enough for any probe */
#define NGX_HTTP_TUNNY_IMAGE_PREFIX      65536

/* the job's rc when the thread could not read the file (a 500) */
#define NGX_HTTP_TUNNY_IMAGE_EREAD       (-100)


/*
 * A number of the configuration: a constant, checked and stored at
 * configuration time, or a value with variables, parsed per request.
 */
typedef struct {
    ngx_uint_t                   value;        /* when cv == NULL */
    ngx_http_complex_value_t    *cv;
} ngx_http_tunny_image_num_t;


typedef struct {
    ngx_uint_t                   mode;
    ngx_uint_t                   ops;          /* NGX_TUNNY_IMAGE_OP_* */
    ngx_http_tunny_image_num_t   width;        /* 0: any */
    ngx_http_tunny_image_num_t   height;
    ngx_http_tunny_image_num_t   angle;

    ngx_uint_t                   format;
    ngx_http_tunny_image_num_t   jpeg_quality;
    ngx_http_tunny_image_num_t   webp_quality;
    ngx_int_t                    png_compression;
    ngx_http_tunny_image_num_t   avif_quality;
    ngx_int_t                    avif_speed;
    int                          formats[NGX_HTTP_TUNNY_IMAGE_NFORMATS];
    ngx_uint_t                   nformats;     /* 0: unset */
    ngx_flag_t                   interlace;
    ngx_flag_t                   fast;         /* the exact shortcuts */
    ngx_int_t                    sharpen;
    ngx_uint_t                   colour;       /* NGX_TUNNY_IMAGE_COLOUR_* */
    ngx_uint_t                   background;   /* NGX_TUNNY_IMAGE_BG_SET |
                                                  0xRRGGBB */
    size_t                       buffer_size;
    ngx_int_t                    max_pixels;
    ngx_int_t                    max_frames;
} ngx_http_tunny_image_conf_t;


typedef struct {
    ngx_uint_t                   phase;
    int                          type;         /* of the input, sniffed */
    ngx_tunny_image_info_t       info;         /* the header's probe */

    u_char                      *image;        /* malloc()ed input */
    size_t                       len;
    size_t                       size;         /* allocated */
    off_t                        received;     /* body bytes seen */

    ngx_fd_t                     file;         /* dup()ed, or -1 */
    off_t                        file_pos;     /* of the body's rest */
    size_t                       file_rest;    /* bytes after image+len */

    u_char                      *out;          /* malloc()ed output */
    size_t                       out_len;
    int                          out_type;
    unsigned                     fast;         /* res.fast of the job */

    ngx_int_t                    status;       /* error to answer */

    ngx_tunny_pool_conf_t       *pcf;          /* of the reservation */
    size_t                       reserved;     /* max_memory bytes held */

    unsigned                     probed:1;     /* info: OK */
    unsigned                     vary:1;
    unsigned                     asis:1;
    unsigned                     upload:1;
} ngx_http_tunny_image_ctx_t;


/* the data of an image task (ngx_http_tunny.h) */
typedef struct {
    ngx_int_t                    key;          /* per-thread state key */
    ngx_tunny_image_params_t     params;
    ngx_tunny_image_info_t       info;         /* ctx->info: the probe of in */

    u_char                      *in;           /* malloc()ed */
    size_t                       in_len;

    ngx_fd_t                     file;         /* the thread reads the */
    off_t                        file_pos;     /* last file_rest bytes */
    size_t                       file_rest;    /* of in from here */

    int                          rc;           /* NGX_TUNNY_IMAGE_* result */
    ngx_tunny_image_result_t     res;

    ngx_tunny_pool_conf_t       *pcf;          /* of the reservation */
    size_t                       reserved;     /* max_memory bytes held */
} ngx_http_tunny_image_job_t;


/* ngx_http_tunny_image_filter.c */
ngx_int_t ngx_http_tunny_image_filter_init(ngx_conf_t *cf);
ngx_http_tunny_image_ctx_t *ngx_http_tunny_image_create_ctx(
    ngx_http_request_t *r);
ngx_int_t ngx_http_tunny_image_reserve(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, size_t size);
ngx_int_t ngx_http_tunny_image_append(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, u_char *p, size_t size);
ngx_int_t ngx_http_tunny_image_read_file(ngx_http_request_t *r,
    ngx_file_t *file, u_char *buf, size_t size, off_t offset);

ngx_int_t ngx_http_tunny_image_decide(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);
ngx_int_t ngx_http_tunny_image_answer(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);

/* ngx_http_tunny_image_upload.c */
ngx_int_t ngx_http_tunny_image_upload_handler(ngx_http_request_t *r);

/* ngx_http_tunny_image_job.c */
ngx_int_t ngx_http_tunny_image_job_init(ngx_conf_t *cf);
ngx_int_t ngx_http_tunny_image_post(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);

/* ngx_http_tunny_image_params.c */
ngx_int_t ngx_http_tunny_image_params(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_tunny_image_params_t *p);
ngx_int_t ngx_http_tunny_image_dim(ngx_str_t *value);
ngx_int_t ngx_http_tunny_image_angle(ngx_str_t *value);
ngx_int_t ngx_http_tunny_image_quality(ngx_str_t *value);
ngx_int_t ngx_http_tunny_image_vary_accept(ngx_http_request_t *r);
ngx_int_t ngx_http_tunny_image_error(ngx_http_request_t *r,
    ngx_int_t status, const char *fmt, ...);


extern ngx_module_t  ngx_http_tunny_image_filter_module;


#endif /* _NGX_HTTP_TUNNY_IMAGE_COMMON_H_INCLUDED_ */
