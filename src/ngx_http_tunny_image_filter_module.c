
/*
 * ngx_tunny_module: image header/body filter and the tunny_image_upload
 * content handler.
 *
 * Which thread runs what:
 *   loop   (the nginx event loop of a worker): everything in this file
 *          except ngx_http_tunny_image_process() and the state ops; that
 *          includes the filters, the upload handler, the resume callback
 *          and ngx_http_tunny_image_job_free().
 *   thread (a pool thread): ngx_http_tunny_image_process() and the
 *          per-thread state ops (state destroy/trim).  They call only
 *          ngx_tunny_image_*() and touch only the job and the thread's own
 *          ngx_tunny_image_state_t: no nginx memory, API or logging.
 *
 * Who owns what:
 *   ctx (r->pool) and everything it points to belongs to the loop.  The
 *       input buffer ctx->image and the output ctx->out are malloc()ed; a
 *       pool cleanup on r->pool frees whatever ctx still holds when the
 *       request goes away.
 *   job (malloc()ed, ngx_http_tunny_image_job_t): before
 *       ngx_http_tunny_post() succeeds it is the loop's; ctx->image has
 *       been moved into job->in.  From then on the pool owns it: the thread
 *       reads in/in_len/params and writes rc/res/failed.  On
 *       NGX_OK the glue hands it back to the resume callback, which moves
 *       in or res.data back into ctx and frees the rest; if the request
 *       terminates first the job becomes an orphan and the pool frees it
 *       with ngx_http_tunny_image_job_free().  The job never points into
 *       nginx memory, so it may outlive the request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_tunny_pool.h"
#include "ngx_http_tunny_common.h"
#include "ngx_tunny_image.h"


#define NGX_HTTP_TUNNY_IMAGE_OFF         0
#define NGX_HTTP_TUNNY_IMAGE_TEST        1
#define NGX_HTTP_TUNNY_IMAGE_SIZE        2
#define NGX_HTTP_TUNNY_IMAGE_TRANSFORM   3


#define NGX_HTTP_TUNNY_IMAGE_ORIGINAL    0
#define NGX_HTTP_TUNNY_IMAGE_JPEG        1
#define NGX_HTTP_TUNNY_IMAGE_WEBP        2
#define NGX_HTTP_TUNNY_IMAGE_AUTO        3


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


#define NGX_HTTP_TUNNY_IMAGE_MAX_DIM     65535
#define NGX_HTTP_TUNNY_IMAGE_MIN_ALLOC   65536

/* per-thread scratch memory kept between jobs */
#define NGX_HTTP_TUNNY_IMAGE_STATE_CAP   (4 * 1024 * 1024)


typedef struct {
    ngx_uint_t                   mode;
    ngx_uint_t                   ops;          /* NGX_TUNNY_IMAGE_OP_* */
    ngx_uint_t                   width;        /* 0: any */
    ngx_uint_t                   height;
    ngx_uint_t                   angle;
    ngx_http_complex_value_t    *wcv;
    ngx_http_complex_value_t    *hcv;
    ngx_http_complex_value_t    *acv;

    ngx_uint_t                   format;
    ngx_http_complex_value_t    *jpeg_quality;
    ngx_http_complex_value_t    *webp_quality;
    ngx_flag_t                   interlace;
    ngx_int_t                    sharpen;
    size_t                       buffer_size;
    ngx_int_t                    max_pixels;
} ngx_http_tunny_image_conf_t;


typedef struct {
    ngx_uint_t                   phase;
    int                          type;         /* of the input */

    u_char                      *image;        /* malloc()ed input */
    size_t                       len;
    size_t                       size;         /* allocated */

    u_char                      *out;          /* malloc()ed output */
    size_t                       out_len;
    int                          out_type;

    ngx_int_t                    status;       /* error to answer */

    unsigned                     vary:1;
    unsigned                     asis:1;
    unsigned                     upload:1;
} ngx_http_tunny_image_ctx_t;


typedef struct {
    ngx_tunny_job_t              job;          /* must be first */

    ngx_int_t                    key;          /* per-thread state key */
    ngx_tunny_image_params_t     params;

    u_char                      *in;           /* malloc()ed */
    size_t                       in_len;

    int                          rc;           /* NGX_TUNNY_IMAGE_* result */
    ngx_tunny_image_result_t     res;
} ngx_http_tunny_image_job_t;


static ngx_int_t ngx_http_tunny_image_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_tunny_image_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_tunny_image_start(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_tunny_image_read(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_tunny_image_reserve(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, size_t size);
static ngx_int_t ngx_http_tunny_image_append(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, u_char *p, size_t size);
static ngx_int_t ngx_http_tunny_image_decide(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_image_answer(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_image_send(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, u_char *pos, size_t len);
static ngx_int_t ngx_http_tunny_image_json(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_image_finalize(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_int_t status);

static int ngx_http_tunny_image_type(u_char *p, size_t len);
static void ngx_http_tunny_image_set_type(ngx_http_request_t *r, int type);
static ngx_int_t ngx_http_tunny_image_error(ngx_http_request_t *r,
    ngx_int_t status, const char *fmt, ...);
static ngx_int_t ngx_http_tunny_image_params(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_tunny_image_params_t *p);
static ngx_int_t ngx_http_tunny_image_get_value(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, ngx_uint_t dflt, ngx_uint_t *v,
    ngx_int_t (*parse)(ngx_str_t *value), const char *what);
static ngx_int_t ngx_http_tunny_image_dim(ngx_str_t *value);
static ngx_int_t ngx_http_tunny_image_angle(ngx_str_t *value);
static ngx_int_t ngx_http_tunny_image_quality(ngx_str_t *value);
static ngx_uint_t ngx_http_tunny_image_accepts_webp(ngx_http_request_t *r);
static ngx_int_t ngx_http_tunny_image_add_header(ngx_http_request_t *r,
    ngx_str_t *key, ngx_str_t *value);

static ngx_int_t ngx_http_tunny_image_post(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);
static void ngx_http_tunny_image_resume(ngx_http_request_t *r,
    ngx_tunny_job_t *job, ngx_int_t rc);
static ngx_int_t ngx_http_tunny_image_result(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_tunny_job_t *job, ngx_int_t rc);
static void ngx_http_tunny_image_process(ngx_tunny_job_t *job,
    ngx_tunny_thread_t *thr);
static void ngx_http_tunny_image_job_free(ngx_tunny_job_t *job);
static void ngx_http_tunny_image_state_destroy(void *state);
static void ngx_http_tunny_image_state_trim(void *state);

static ngx_http_tunny_image_ctx_t *ngx_http_tunny_image_create_ctx(
    ngx_http_request_t *r);
static void ngx_http_tunny_image_cleanup(void *data);

static ngx_int_t ngx_http_tunny_image_upload_handler(ngx_http_request_t *r);
static void ngx_http_tunny_image_upload_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_tunny_image_upload_read(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);

static void *ngx_http_tunny_image_create_conf(ngx_conf_t *cf);
static char *ngx_http_tunny_image_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tunny_image(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tunny_image_compile(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t *v, ngx_http_complex_value_t **cvp,
    ngx_int_t (*parse)(ngx_str_t *value));
static char *ngx_http_tunny_image_quality_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_tunny_image_upload(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_tunny_image_filter_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_tunny_image_formats[] = {
    { ngx_string("original"), NGX_HTTP_TUNNY_IMAGE_ORIGINAL },
    { ngx_string("jpeg"), NGX_HTTP_TUNNY_IMAGE_JPEG },
    { ngx_string("webp"), NGX_HTTP_TUNNY_IMAGE_WEBP },
    { ngx_string("auto"), NGX_HTTP_TUNNY_IMAGE_AUTO },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_tunny_image_sharpen_bounds = {
    ngx_conf_check_num_bounds, 0, 1000
};


static ngx_conf_num_bounds_t  ngx_http_tunny_image_max_pixels_bounds = {
    ngx_conf_check_num_bounds, 1, -1
};


static ngx_command_t  ngx_http_tunny_image_filter_commands[] = {

    { ngx_string("tunny_image"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_tunny_image,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_image_format"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, format),
      &ngx_http_tunny_image_formats },

    { ngx_string("tunny_image_jpeg_quality"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_image_quality_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, jpeg_quality),
      NULL },

    { ngx_string("tunny_image_webp_quality"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_image_quality_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, webp_quality),
      NULL },

    { ngx_string("tunny_image_interlace"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, interlace),
      NULL },

    { ngx_string("tunny_image_sharpen"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, sharpen),
      &ngx_http_tunny_image_sharpen_bounds },

    { ngx_string("tunny_image_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, buffer_size),
      NULL },

    { ngx_string("tunny_image_max_pixels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, max_pixels),
      &ngx_http_tunny_image_max_pixels_bounds },

    { ngx_string("tunny_image_upload"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tunny_image_upload,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tunny_image_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_tunny_image_filter_init,      /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tunny_image_create_conf,      /* create location configuration */
    ngx_http_tunny_image_merge_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_tunny_image_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_tunny_image_filter_module_ctx, /* module context */
    ngx_http_tunny_image_filter_commands,  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* written at configuration time, read by every thread afterwards */
static ngx_int_t  ngx_http_tunny_image_key = NGX_ERROR;

static ngx_tunny_state_ops_t  ngx_http_tunny_image_state_ops = {
    ngx_http_tunny_image_state_destroy,
    ngx_http_tunny_image_state_trim
};


static ngx_str_t  ngx_http_tunny_image_vary = ngx_string("Vary");
static ngx_str_t  ngx_http_tunny_image_accept = ngx_string("Accept");


/* loop */

static ngx_int_t
ngx_http_tunny_image_header_filter(ngx_http_request_t *r)
{
    off_t                         len;
    ngx_str_t                    *enc;
    ngx_http_tunny_image_ctx_t   *ctx;
    ngx_http_tunny_image_conf_t  *conf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx) {

        /*
         * our own answer from the upload handler, or an error response
         * after ngx_http_filter_finalize_request() or a status returned
         * from this filter (the glue's header filter adds Retry-After to
         * a 503): pass it
         */

        ctx->phase = NGX_HTTP_TUNNY_IMAGE_PASS;

        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.status != NGX_HTTP_OK
        || r->header_only
        || (r->method & NGX_HTTP_HEAD))
    {
        return ngx_http_next_header_filter(r);
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_OFF) {
        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.content_type.len
            >= sizeof("multipart/x-mixed-replace") - 1
        && ngx_strncasecmp(r->headers_out.content_type.data,
                           (u_char *) "multipart/x-mixed-replace",
                           sizeof("multipart/x-mixed-replace") - 1)
           == 0)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_tunny_image_create_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->hash
        && r->headers_out.content_encoding->value.len
        && !(r->headers_out.content_encoding->value.len == 8
             && ngx_strncasecmp(r->headers_out.content_encoding->value.data,
                                (u_char *) "identity", 8) == 0))
    {
        enc = &r->headers_out.content_encoding->value;

        (void) ngx_http_tunny_image_error(r, 0,
                         "Content-Encoding %*s not supported",
                         (size_t) ngx_min(enc->len, 32), enc->data);

        ngx_http_clean_header(r);

        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    len = r->headers_out.content_length_n;

    if (conf->mode != NGX_HTTP_TUNNY_IMAGE_TEST
        && len > (off_t) conf->buffer_size)
    {
        (void) ngx_http_tunny_image_error(r, 0,
                         "Content-Length %O exceeds tunny_image_buffer %uz",
                         len, conf->buffer_size);

        ngx_http_clean_header(r);

        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    if (r->headers_out.refresh) {
        r->headers_out.refresh->hash = 0;
    }

    r->main_filter_need_in_memory = 1;
    r->allow_ranges = 0;

    /* hold the header back until the body has been seen */

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_image_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                    rc;
    ngx_chain_t                 *cl;
    ngx_http_tunny_image_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tunny image filter phase:%ui in:%p", ctx->phase, in);

    switch (ctx->phase) {

    case NGX_HTTP_TUNNY_IMAGE_PASS:
        return ngx_http_next_body_filter(r, in);

    case NGX_HTTP_TUNNY_IMAGE_WAIT:

        /* the writer looks in while the job runs; nothing to send yet */

        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

        return NGX_AGAIN;

    case NGX_HTTP_TUNNY_IMAGE_SEND:
        return ngx_http_tunny_image_answer(r, ctx);

    case NGX_HTTP_TUNNY_IMAGE_START:

        if (in == NULL) {
            return NGX_OK;
        }

        rc = ngx_http_tunny_image_start(r, ctx, in);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* fall through */

    default: /* NGX_HTTP_TUNNY_IMAGE_READ, NGX_HTTP_TUNNY_IMAGE_DISCARD */

        if (in == NULL) {
            return NGX_OK;
        }

        rc = ngx_http_tunny_image_read(r, ctx, in);

        if (rc == NGX_AGAIN) {
            r->buffered |= NGX_HTTP_TUNNY_IMAGE_BUFFERED;
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            return ngx_http_tunny_image_finalize(r, ctx, rc);
        }

        return ngx_http_tunny_image_decide(r, ctx);
    }
}


/*
 * The first buffer decides cheaply what needs no copy: no image at all,
 * "test", and PNG/GIF that pass through.  NGX_DECLINED: read the body.
 */

static ngx_int_t
ngx_http_tunny_image_start(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_chain_t *in)
{
    int                           type;
    size_t                        n;
    ngx_buf_t                    *b;
    ngx_int_t                     rc;
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    ctx->phase = NGX_HTTP_TUNNY_IMAGE_READ;

    b = in->buf;
    n = ngx_buf_in_memory(b) ? (size_t) (b->last - b->pos) : 0;

    if (n < 16 && !(b->last_buf || b->last_in_chain)) {
        /* too little to tell; decide on the whole body */
        return NGX_DECLINED;
    }

    type = ngx_http_tunny_image_type(b->pos, n);

    if (type == NGX_TUNNY_IMAGE_NONE) {

        if (conf->mode == NGX_HTTP_TUNNY_IMAGE_SIZE) {
            ctx->phase = NGX_HTTP_TUNNY_IMAGE_DISCARD;
            return NGX_DECLINED;
        }

        /* let the read complete and decide: empty bodies land there */

        if (n == 0) {
            return NGX_DECLINED;
        }

        return ngx_http_tunny_image_finalize(r, ctx,
                   ngx_http_tunny_image_error(r,
                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                       "not an image (Content-Type: %*s)",
                       (size_t) ngx_min(r->headers_out.content_type.len, 64),
                       r->headers_out.content_type.data));
    }

    ctx->type = type;

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_SIZE) {
        return NGX_DECLINED;
    }

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_TEST
        || type == NGX_TUNNY_IMAGE_PNG
        || type == NGX_TUNNY_IMAGE_GIF)
    {
        if (conf->mode != NGX_HTTP_TUNNY_IMAGE_TEST) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "tunny_image: %s image passed through unchanged",
                          ngx_tunny_image_type_name(type));
        }

        /* as image_filter: the type of what is really sent */

        ngx_http_tunny_image_set_type(r, type);

        ngx_http_clear_accept_ranges(r);

        ctx->phase = NGX_HTTP_TUNNY_IMAGE_PASS;

        rc = ngx_http_next_header_filter(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return NGX_ERROR;
        }

        return ngx_http_next_body_filter(r, in);
    }

    /* JPEG or WebP to transform: refuse before the big buffer exists */

    rc = ngx_http_tunny_admit(r);

    if (rc != NGX_OK) {
        return ngx_http_tunny_image_finalize(r, ctx, rc);
    }

    return NGX_DECLINED;
}


/* NGX_OK: last buffer seen; NGX_AGAIN: more to come; else a status */

static ngx_int_t
ngx_http_tunny_image_read(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_chain_t *in)
{
    size_t        size;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    rc = NGX_AGAIN;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            size = b->last - b->pos;

            if (size && ctx->phase == NGX_HTTP_TUNNY_IMAGE_READ) {
                rc = ngx_http_tunny_image_append(r, ctx, b->pos, size);
                if (rc != NGX_AGAIN) {
                    return rc;
                }
            }

            b->pos = b->last;

        } else if (b->in_file && b->file_last > b->file_pos) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "tunny_image: body buffer not in memory");
            return NGX_ERROR;
        }

        b->file_pos = b->file_last;

        if (b->last_buf || b->last_in_chain) {
            r->buffered &= ~NGX_HTTP_TUNNY_IMAGE_BUFFERED;
            return NGX_OK;
        }
    }

    return NGX_AGAIN;
}


/* room for size more bytes, within tunny_image_buffer */

static ngx_int_t
ngx_http_tunny_image_reserve(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, size_t size)
{
    off_t                         clen;
    size_t                        need, alloc;
    u_char                       *image;
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    if (size > conf->buffer_size - ctx->len) {
        return ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                   "body exceeds tunny_image_buffer %uz", conf->buffer_size);
    }

    need = ctx->len + size;

    if (need <= ctx->size) {
        return NGX_OK;
    }

    clen = ctx->upload ? r->headers_in.content_length_n
                       : r->headers_out.content_length_n;

    if (ctx->size == 0 && clen > 0 && (off_t) need <= clen) {
        alloc = (size_t) clen;

    } else {
        alloc = ngx_max(ctx->size * 2, NGX_HTTP_TUNNY_IMAGE_MIN_ALLOC);

        while (alloc < need) {
            alloc *= 2;
        }
    }

    if (alloc > conf->buffer_size) {
        alloc = conf->buffer_size;
    }

    image = realloc(ctx->image, alloc);
    if (image == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "tunny_image: realloc(%uz) failed", alloc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->image = image;
    ctx->size = alloc;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_image_append(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, u_char *p, size_t size)
{
    ngx_int_t  rc;

    rc = ngx_http_tunny_image_reserve(r, ctx, size);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memcpy(ctx->image + ctx->len, p, size);
    ctx->len += size;

    return NGX_AGAIN;
}


/* the whole body is in ctx->image: answer, or post the job */

static ngx_int_t
ngx_http_tunny_image_decide(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_tunny_image_info_t        info;
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    if (ctx->phase == NGX_HTTP_TUNNY_IMAGE_DISCARD) {
        return ngx_http_tunny_image_json(r, ctx);
    }

    ctx->type = ngx_http_tunny_image_type(ctx->image, ctx->len);

    if (ctx->type == NGX_TUNNY_IMAGE_NONE) {

        if (conf->mode == NGX_HTTP_TUNNY_IMAGE_SIZE) {
            return ngx_http_tunny_image_json(r, ctx);
        }

        if (ctx->len == 0) {
            rc = ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                            "empty body");

        } else {
            rc = ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                            "not an image");
        }

        return ngx_http_tunny_image_finalize(r, ctx, rc);
    }

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_SIZE) {
        return ngx_http_tunny_image_json(r, ctx);
    }

    if (conf->mode != NGX_HTTP_TUNNY_IMAGE_TRANSFORM
        || ctx->type == NGX_TUNNY_IMAGE_PNG
        || ctx->type == NGX_TUNNY_IMAGE_GIF)
    {
        if (conf->mode == NGX_HTTP_TUNNY_IMAGE_TRANSFORM) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "tunny_image: %s image passed through unchanged",
                          ngx_tunny_image_type_name(ctx->type));
        }

        ctx->asis = 1;
        ctx->phase = NGX_HTTP_TUNNY_IMAGE_SEND;

        return ngx_http_tunny_image_answer(r, ctx);
    }

    /* cheap checks in the loop: they need no job and no pool thread */

    if (ngx_tunny_image_probe(ctx->image, ctx->len, &info)
        != NGX_TUNNY_IMAGE_NONE
        && (uint64_t) info.width * info.height > (uint64_t) conf->max_pixels)
    {
        return ngx_http_tunny_image_finalize(r, ctx,
                   ngx_http_tunny_image_error(r,
                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                       "%uix%ui image exceeds tunny_image_max_pixels %i",
                       (ngx_uint_t) info.width, (ngx_uint_t) info.height,
                       conf->max_pixels));
    }

    rc = ngx_http_tunny_image_post(r, ctx);

    if (rc == NGX_OK) {
        ctx->phase = NGX_HTTP_TUNNY_IMAGE_WAIT;

        if (!ctx->upload) {
            r->buffered |= NGX_HTTP_TUNNY_IMAGE_BUFFERED;
        }

        return NGX_AGAIN;
    }

    return ngx_http_tunny_image_finalize(r, ctx, rc);
}


/* ctx->phase == SEND: the answer of a job, an "as is" or an error */

static ngx_int_t
ngx_http_tunny_image_answer(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    if (ctx->status) {
        return ngx_http_tunny_image_finalize(r, ctx, ctx->status);
    }

    if (ctx->vary
        && ngx_http_tunny_image_add_header(r, &ngx_http_tunny_image_vary,
                                           &ngx_http_tunny_image_accept)
           != NGX_OK)
    {
        return ngx_http_tunny_image_finalize(r, ctx, NGX_ERROR);
    }

    if (ctx->asis) {
        ngx_http_tunny_image_set_type(r, ctx->type);
        return ngx_http_tunny_image_send(r, ctx, ctx->image, ctx->len);
    }

    ngx_http_tunny_image_set_type(r, ctx->out_type);
    ngx_http_weak_etag(r);

    return ngx_http_tunny_image_send(r, ctx, ctx->out, ctx->out_len);
}


static ngx_int_t
ngx_http_tunny_image_send(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, u_char *pos, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return ngx_http_tunny_image_finalize(r, ctx, NGX_ERROR);
    }

    b->pos = pos;
    b->last = pos + len;
    b->memory = len ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);

    r->buffered &= ~NGX_HTTP_TUNNY_IMAGE_BUFFERED;
    ctx->phase = NGX_HTTP_TUNNY_IMAGE_PASS;

    if (ctx->upload) {
        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }

        return ngx_http_output_filter(r, &out);
    }

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    if (r->header_only) {
        return rc;
    }

    return ngx_http_next_body_filter(r, &out);
}


/* the answer of "tunny_image size", as image_filter gives it */

static ngx_int_t
ngx_http_tunny_image_json(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    size_t                  len;
    u_char                 *p, *last;
    ngx_tunny_image_info_t  info;

    ngx_http_clean_header(r);

    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ctx->phase == NGX_HTTP_TUNNY_IMAGE_DISCARD
        || ctx->image == NULL
        || ngx_tunny_image_probe(ctx->image, ctx->len, &info)
           == NGX_TUNNY_IMAGE_NONE
        || info.width == 0
        || info.height == 0)
    {
        p = (u_char *) "{}" CRLF;
        return ngx_http_tunny_image_send(r, ctx, p, sizeof("{}" CRLF) - 1);
    }

    len = sizeof("{ \"img\" : "
                 "{ \"width\": , \"height\": , \"type\": \"\" } }" CRLF) - 1
          + 2 * NGX_INT_T_LEN + 8;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return ngx_http_tunny_image_finalize(r, ctx, NGX_ERROR);
    }

    last = ngx_snprintf(p, len,
                        "{ \"img\" : "
                        "{ \"width\": %ui, \"height\": %ui, \"type\": \"%s\""
                        " } }" CRLF,
                        (ngx_uint_t) info.width, (ngx_uint_t) info.height,
                        ngx_tunny_image_type_name(info.type));

    return ngx_http_tunny_image_send(r, ctx, p, last - p);
}


/*
 * An error from inside the body filter: the header is still held, so the
 * error page replaces it.  NGX_ERROR stops the producer of the body, as in
 * image_filter.
 */

static ngx_int_t
ngx_http_tunny_image_finalize(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_int_t status)
{
    r->buffered &= ~NGX_HTTP_TUNNY_IMAGE_BUFFERED;
    ctx->status = 0;

    if (ctx->upload) {
        /* the upload handler finalizes the request itself */
        return status;
    }

    if (status == NGX_ERROR || status < NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->phase = NGX_HTTP_TUNNY_IMAGE_PASS;
        return NGX_ERROR;
    }

    /*
     * the rest of the source body is dropped and the connection closed
     * after the error page: say so in its header, or a keep-alive client
     * sends its next request into a closing connection
     */

    r->keepalive = 0;

    return ngx_http_filter_finalize_request(r,
                                         &ngx_http_tunny_image_filter_module,
                                         status);
}


static int
ngx_http_tunny_image_type(u_char *p, size_t len)
{
    if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        return NGX_TUNNY_IMAGE_JPEG;
    }

    if (len >= 12
        && ngx_strncmp(p, "RIFF", 4) == 0
        && ngx_strncmp(p + 8, "WEBP", 4) == 0)
    {
        return NGX_TUNNY_IMAGE_WEBP;
    }

    if (len >= 8
        && p[0] == 0x89 && p[1] == 'P' && p[2] == 'N' && p[3] == 'G'
        && p[4] == 0x0d && p[5] == 0x0a && p[6] == 0x1a && p[7] == 0x0a)
    {
        return NGX_TUNNY_IMAGE_PNG;
    }

    if (len >= 6
        && p[0] == 'G' && p[1] == 'I' && p[2] == 'F' && p[3] == '8'
        && (p[4] == '7' || p[4] == '9') && p[5] == 'a')
    {
        return NGX_TUNNY_IMAGE_GIF;
    }

    return NGX_TUNNY_IMAGE_NONE;
}


static void
ngx_http_tunny_image_set_type(ngx_http_request_t *r, int type)
{
    const char  *mime;

    mime = ngx_tunny_image_mime_type(type);

    if (mime == NULL || *mime == '\0') {
        return;
    }

    r->headers_out.content_type.data = (u_char *) mime;
    r->headers_out.content_type.len = ngx_strlen(mime);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
}


/*
 * The reason behind a 4xx: "tunny_image: " + fmt, with anything that could
 * garble a log line replaced.  Returns status.
 */

static ngx_int_t
ngx_http_tunny_image_error(ngx_http_request_t *r, ngx_int_t status,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;
    u_char    reason[256];

    p = ngx_cpymem(reason, "tunny_image: ", sizeof("tunny_image: ") - 1);

    va_start(args, fmt);
    last = ngx_vslprintf(p, reason + sizeof(reason) - 1, fmt, args);
    va_end(args);

    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '\\') {
            *p = '?';
        }
    }

    *last = '\0';

    ngx_http_tunny_set_error(r, (const char *) reason);

    return status;
}


/* the job's parameters, from configuration and variables */

static ngx_int_t
ngx_http_tunny_image_params(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_tunny_image_params_t *p)
{
    ngx_int_t                     rc;
    ngx_uint_t                    v;
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    ngx_memzero(p, sizeof(ngx_tunny_image_params_t));

    v = 0;
    p->ops = conf->ops;

    if (conf->ops & (NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_CROP)) {

        rc = ngx_http_tunny_image_get_value(r, conf->wcv, conf->width, &v,
                                            ngx_http_tunny_image_dim,
                                            "width");
        if (rc != NGX_OK) {
            return rc;
        }

        p->width = v;

        rc = ngx_http_tunny_image_get_value(r, conf->hcv, conf->height, &v,
                                            ngx_http_tunny_image_dim,
                                            "height");
        if (rc != NGX_OK) {
            return rc;
        }

        p->height = v;
    }

    if (conf->ops & NGX_TUNNY_IMAGE_OP_ROTATE) {

        rc = ngx_http_tunny_image_get_value(r, conf->acv, conf->angle, &v,
                                            ngx_http_tunny_image_angle,
                                            "angle");
        if (rc != NGX_OK) {
            return rc;
        }

        p->angle = v;

        if (v == 0) {
            p->ops &= ~NGX_TUNNY_IMAGE_OP_ROTATE;
        }
    }

    switch (conf->format) {

    case NGX_HTTP_TUNNY_IMAGE_JPEG:
        p->out_type = NGX_TUNNY_IMAGE_JPEG;
        break;

    case NGX_HTTP_TUNNY_IMAGE_WEBP:
        p->out_type = NGX_TUNNY_IMAGE_WEBP;
        break;

    case NGX_HTTP_TUNNY_IMAGE_AUTO:
        ctx->vary = 1;

        if (ngx_http_tunny_image_accepts_webp(r)) {
            p->out_type = NGX_TUNNY_IMAGE_WEBP;

        } else if (ctx->type == NGX_TUNNY_IMAGE_WEBP) {
            p->out_type = NGX_TUNNY_IMAGE_JPEG;

        } else {
            p->out_type = 0;
        }

        break;

    default: /* NGX_HTTP_TUNNY_IMAGE_ORIGINAL */
        p->out_type = 0;
    }

    rc = ngx_http_tunny_image_get_value(r, conf->jpeg_quality, 75, &v,
                                        ngx_http_tunny_image_quality,
                                        "JPEG quality");
    if (rc != NGX_OK) {
        return rc;
    }

    p->jpeg_quality = (int) v;

    rc = ngx_http_tunny_image_get_value(r, conf->webp_quality, 80, &v,
                                        ngx_http_tunny_image_quality,
                                        "WebP quality");
    if (rc != NGX_OK) {
        return rc;
    }

    p->webp_quality = (int) v;

    p->interlace = conf->interlace ? 1 : 0;
    p->sharpen = (int) conf->sharpen;
    p->max_pixels = (uint64_t) conf->max_pixels;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_image_get_value(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, ngx_uint_t dflt, ngx_uint_t *v,
    ngx_int_t (*parse)(ngx_str_t *value), const char *what)
{
    ngx_int_t  n;
    ngx_str_t  val;

    if (cv == NULL) {
        *v = dflt;
        return NGX_OK;
    }

    if (ngx_http_complex_value(r, cv, &val) != NGX_OK) {
        return NGX_ERROR;
    }

    n = parse(&val);

    if (n == NGX_ERROR) {
        return ngx_http_tunny_image_error(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid %s '%*s'", what,
                                          (size_t) ngx_min(val.len, 32),
                                          val.data);
    }

    *v = (ngx_uint_t) n;

    return NGX_OK;
}


/* "-" (any, 0) or 1..65535 */

static ngx_int_t
ngx_http_tunny_image_dim(ngx_str_t *value)
{
    ngx_int_t  n;

    if (value->len == 1 && value->data[0] == '-') {
        return NGX_TUNNY_IMAGE_ANY;
    }

    n = ngx_atoi(value->data, value->len);

    if (n <= 0 || n > NGX_HTTP_TUNNY_IMAGE_MAX_DIM) {
        return NGX_ERROR;
    }

    return n;
}


/* 90, 180, 270; 0 only from a variable (no rotation) */

static ngx_int_t
ngx_http_tunny_image_angle(ngx_str_t *value)
{
    ngx_int_t  n;

    n = ngx_atoi(value->data, value->len);

    if (n == 0 || n == 90 || n == 180 || n == 270) {
        return n;
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_tunny_image_quality(ngx_str_t *value)
{
    ngx_int_t  n;

    n = ngx_atoi(value->data, value->len);

    if (n < 1 || n > 100) {
        return NGX_ERROR;
    }

    return n;
}


static ngx_uint_t
ngx_http_tunny_image_accepts_webp(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("Accept") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1)
               != 0)
        {
            continue;
        }

        if (ngx_strlcasestrn(h[i].value.data,
                             h[i].value.data + h[i].value.len,
                             (u_char *) "image/webp",
                             sizeof("image/webp") - 2)
            != NULL)
        {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_tunny_image_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *key;
    h->value = *value;
    h->lowcase_key = NULL;

    return NGX_OK;
}


/* the job */

static ngx_int_t
ngx_http_tunny_image_post(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_http_tunny_image_job_t  *j;

    j = ngx_alloc(sizeof(ngx_http_tunny_image_job_t), r->connection->log);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(j, sizeof(ngx_http_tunny_image_job_t));

    rc = ngx_http_tunny_image_params(r, ctx, &j->params);

    if (rc != NGX_OK) {
        ngx_free(j);
        return rc;
    }

    j->job.process = ngx_http_tunny_image_process;
    j->job.free = ngx_http_tunny_image_job_free;
    j->key = ngx_http_tunny_image_key;

    /* the input moves to the job */

    j->in = ctx->image;
    j->in_len = ctx->len;

    ctx->image = NULL;
    ctx->len = 0;
    ctx->size = 0;

    rc = ngx_http_tunny_post(r, &j->job, NULL, ngx_http_tunny_image_resume);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    /* refused: the job is still ours */

    ctx->image = j->in;
    ctx->len = j->in_len;
    ctx->size = j->in_len;

    ngx_free(j);

    return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
}


/* loop: the glue calls this once per posted job */

static void
ngx_http_tunny_image_resume(ngx_http_request_t *r, ngx_tunny_job_t *job,
    ngx_int_t rc)
{
    ngx_http_tunny_image_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tunny_image: resumed request has no context");

        if (job) {
            ngx_tunny_job_free(job);
        }

        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    r->buffered &= ~NGX_HTTP_TUNNY_IMAGE_BUFFERED;

    ctx->status = ngx_http_tunny_image_result(r, ctx, job, rc);
    ctx->phase = NGX_HTTP_TUNNY_IMAGE_SEND;

    if (ctx->upload) {
        ngx_http_finalize_request(r, ngx_http_tunny_image_answer(r, ctx));
        return;
    }

    /* ngx_http_writer() drives the body filter once more (in == NULL) */

    r->write_event_handler(r);
}


/* takes the job's results into ctx and frees the job; 0 or a status */

static ngx_int_t
ngx_http_tunny_image_result(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_tunny_job_t *job, ngx_int_t rc)
{
    const char                  *reason;
    ngx_int_t                    status;
    ngx_http_tunny_image_job_t  *j;

    if (rc != NGX_OK || job == NULL) {
        return (rc == NGX_OK) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    j = (ngx_http_tunny_image_job_t *) job;

    ngx_http_tunny_count_bytes(r, j->in_len,
                               j->rc == NGX_TUNNY_IMAGE_OK ? j->res.len
                               : j->rc == NGX_TUNNY_IMAGE_ASIS ? j->in_len
                               : 0);

    j->res.error[sizeof(j->res.error) - 1] = '\0';
    reason = j->res.error[0] ? j->res.error : "invalid image";

    status = 0;

    switch (j->rc) {

    case NGX_TUNNY_IMAGE_OK:
        ctx->out = j->res.data;
        ctx->out_len = j->res.len;
        ctx->out_type = j->res.type;
        j->res.data = NULL;
        break;

    case NGX_TUNNY_IMAGE_ASIS:
        ctx->image = j->in;
        ctx->len = j->in_len;
        ctx->size = j->in_len;
        ctx->asis = 1;
        j->in = NULL;
        break;

    case NGX_TUNNY_IMAGE_EINPUT:
    case NGX_TUNNY_IMAGE_ELIMIT:
        status = ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                            "%s", reason);
        break;

    case NGX_TUNNY_IMAGE_EPARAM:
        status = ngx_http_tunny_image_error(r, NGX_HTTP_BAD_REQUEST,
                                            "%s", reason);
        break;

    case NGX_TUNNY_IMAGE_ECANCEL:
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "tunny_image: job cancelled");
        status = NGX_HTTP_GATEWAY_TIME_OUT;
        break;

    default: /* NGX_TUNNY_IMAGE_ENOMEM and anything unknown */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tunny_image: %s (%d)", reason, j->rc);
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_tunny_job_free(job);

    return status;
}


/* thread: no nginx API, memory or logging here */

static void
ngx_http_tunny_image_process(ngx_tunny_job_t *job, ngx_tunny_thread_t *thr)
{
    ngx_tunny_image_state_t     *st;
    ngx_http_tunny_image_job_t  *j;

    j = (ngx_http_tunny_image_job_t *) job;

    st = ngx_tunny_thread_state(thr, j->key);

    if (st == NULL) {
        st = ngx_tunny_image_state_create();

        if (st == NULL) {
            j->rc = NGX_TUNNY_IMAGE_ENOMEM;
            (void) snprintf(j->res.error, sizeof(j->res.error),
                            "cannot create image state");
            job->failed = 1;
            return;
        }

        ngx_tunny_thread_set_state(thr, j->key, st);
    }

    j->params.cancel = &job->cancel;

    j->rc = ngx_tunny_image_process(st, j->in, j->in_len, &j->params,
                                    &j->res);

    if (j->rc != NGX_TUNNY_IMAGE_OK && j->rc != NGX_TUNNY_IMAGE_ASIS) {
        job->failed = 1;
    }
}


/* loop (called by the glue for orphans, or by ngx_tunny_job_free()) */

static void
ngx_http_tunny_image_job_free(ngx_tunny_job_t *job)
{
    ngx_http_tunny_image_job_t  *j;

    j = (ngx_http_tunny_image_job_t *) job;

    if (j->in) {
        ngx_free(j->in);
    }

    if (j->res.data) {
        ngx_free(j->res.data);
    }

    ngx_free(j);
}


/* thread */

static void
ngx_http_tunny_image_state_destroy(void *state)
{
    ngx_tunny_image_state_destroy(state);
}


/* thread */

static void
ngx_http_tunny_image_state_trim(void *state)
{
    ngx_tunny_image_state_trim(state, NGX_HTTP_TUNNY_IMAGE_STATE_CAP);
}


static ngx_http_tunny_image_ctx_t *
ngx_http_tunny_image_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_tunny_image_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tunny_image_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_tunny_image_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_tunny_image_filter_module);

    return ctx;
}


static void
ngx_http_tunny_image_cleanup(void *data)
{
    ngx_http_tunny_image_ctx_t  *ctx = data;

    if (ctx->image) {
        ngx_free(ctx->image);
        ctx->image = NULL;
    }

    if (ctx->out) {
        ngx_free(ctx->out);
        ctx->out = NULL;
    }
}


/* tunny_image_upload: the source image is the request body */

static ngx_int_t
ngx_http_tunny_image_upload_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_tunny_image_ctx_t   *ctx;
    ngx_http_tunny_image_conf_t  *conf;

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_PUT))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    if (r->headers_in.content_length_n > (off_t) conf->buffer_size) {
        return ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "Content-Length %O exceeds tunny_image_buffer %uz",
                         r->headers_in.content_length_n, conf->buffer_size);
    }

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_TRANSFORM) {
        rc = ngx_http_tunny_admit(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx == NULL) {
        ctx = ngx_http_tunny_image_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->upload = 1;
    ctx->phase = NGX_HTTP_TUNNY_IMAGE_READ;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_tunny_image_upload_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_tunny_image_upload_body(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_tunny_image_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_tunny_image_upload_read(r, ctx);

    if (rc == NGX_OK) {
        rc = ngx_http_tunny_image_decide(r, ctx);

        if (ctx->phase == NGX_HTTP_TUNNY_IMAGE_WAIT) {
            /* the job runs; the resume callback finalizes */
            return;
        }
    }

    ngx_http_finalize_request(r, rc);
}


/* the request body, in memory or in a temporary file, into ctx->image */

static ngx_int_t
ngx_http_tunny_image_upload_read(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    off_t                         size;
    ssize_t                       n;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_chain_t                  *cl;
    ngx_http_tunny_image_conf_t  *conf;

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            size = b->file_last - b->file_pos;

            if (size > (off_t) (conf->buffer_size - ctx->len)) {
                return ngx_http_tunny_image_error(r,
                                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                       "body exceeds tunny_image_buffer %uz",
                                       conf->buffer_size);
            }

            if (size == 0) {
                continue;
            }

            /* make room, then read straight into the buffer */

            rc = ngx_http_tunny_image_reserve(r, ctx, (size_t) size);
            if (rc != NGX_OK) {
                return rc;
            }

            n = ngx_read_file(b->file, ctx->image + ctx->len, (size_t) size,
                              b->file_pos);

            if (n != (ssize_t) size) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "tunny_image: read %z of %O bytes from \"%V\"",
                              n, size, &b->file->name);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->len += (size_t) n;

            continue;
        }

        if (ngx_buf_in_memory(b) && b->last > b->pos) {
            rc = ngx_http_tunny_image_append(r, ctx, b->pos,
                                             b->last - b->pos);
            if (rc != NGX_AGAIN) {
                return rc;
            }
        }
    }

    return NGX_OK;
}


/* configuration */

static void *
ngx_http_tunny_image_create_conf(ngx_conf_t *cf)
{
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tunny_image_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->ops = 0;
     *     conf->width = 0;
     *     conf->height = 0;
     *     conf->angle = 0;
     *     conf->wcv = NULL;
     *     conf->hcv = NULL;
     *     conf->acv = NULL;
     */

    conf->mode = NGX_CONF_UNSET_UINT;
    conf->format = NGX_CONF_UNSET_UINT;
    conf->jpeg_quality = NGX_CONF_UNSET_PTR;
    conf->webp_quality = NGX_CONF_UNSET_PTR;
    conf->interlace = NGX_CONF_UNSET;
    conf->sharpen = NGX_CONF_UNSET;
    conf->buffer_size = NGX_CONF_UNSET_SIZE;
    conf->max_pixels = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_tunny_image_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tunny_image_conf_t *prev = parent;
    ngx_http_tunny_image_conf_t *conf = child;

    if (conf->mode == NGX_CONF_UNSET_UINT) {

        if (prev->mode == NGX_CONF_UNSET_UINT) {
            conf->mode = NGX_HTTP_TUNNY_IMAGE_OFF;

        } else {
            conf->mode = prev->mode;
            conf->ops = prev->ops;
            conf->width = prev->width;
            conf->height = prev->height;
            conf->angle = prev->angle;
            conf->wcv = prev->wcv;
            conf->hcv = prev->hcv;
            conf->acv = prev->acv;
        }
    }

    ngx_conf_merge_uint_value(conf->format, prev->format,
                              NGX_HTTP_TUNNY_IMAGE_ORIGINAL);
    ngx_conf_merge_ptr_value(conf->jpeg_quality, prev->jpeg_quality, NULL);
    ngx_conf_merge_ptr_value(conf->webp_quality, prev->webp_quality, NULL);
    ngx_conf_merge_value(conf->interlace, prev->interlace, 0);
    ngx_conf_merge_value(conf->sharpen, prev->sharpen, 0);
    ngx_conf_merge_size_value(conf->buffer_size, prev->buffer_size,
                              10 * 1024 * 1024);
    ngx_conf_merge_value(conf->max_pixels, prev->max_pixels, 50000000);

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_image(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_image_conf_t *imcf = conf;

    char       *rv;
    ngx_str_t  *value;
    ngx_uint_t  op;

    value = cf->args->elts;

    if (cf->args->nelts == 2) {

        if (ngx_strcmp(value[1].data, "off") == 0) {
            imcf->mode = NGX_HTTP_TUNNY_IMAGE_OFF;

        } else if (ngx_strcmp(value[1].data, "test") == 0) {
            imcf->mode = NGX_HTTP_TUNNY_IMAGE_TEST;

        } else if (ngx_strcmp(value[1].data, "size") == 0) {
            imcf->mode = NGX_HTTP_TUNNY_IMAGE_SIZE;

        } else {
            goto invalid;
        }

        imcf->ops = 0;

        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 3) {

        if (ngx_strcmp(value[1].data, "rotate") != 0) {
            goto invalid;
        }

        rv = ngx_http_tunny_image_compile(cf, &value[2], &imcf->angle,
                                          &imcf->acv,
                                          ngx_http_tunny_image_angle);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        if (imcf->acv == NULL && imcf->angle == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid angle \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        if (imcf->mode != NGX_HTTP_TUNNY_IMAGE_TRANSFORM) {
            imcf->ops = 0;
        }

        imcf->mode = NGX_HTTP_TUNNY_IMAGE_TRANSFORM;
        imcf->ops |= NGX_TUNNY_IMAGE_OP_ROTATE;

        ngx_http_tunny_use_pool(cf);

        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "resize") == 0) {
        op = NGX_TUNNY_IMAGE_OP_RESIZE;

    } else if (ngx_strcmp(value[1].data, "crop") == 0) {
        op = NGX_TUNNY_IMAGE_OP_CROP;

    } else {
        goto invalid;
    }

    rv = ngx_http_tunny_image_compile(cf, &value[2], &imcf->width,
                                      &imcf->wcv, ngx_http_tunny_image_dim);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    rv = ngx_http_tunny_image_compile(cf, &value[3], &imcf->height,
                                      &imcf->hcv, ngx_http_tunny_image_dim);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (imcf->mode != NGX_HTTP_TUNNY_IMAGE_TRANSFORM) {
        imcf->ops = 0;
    }

    imcf->mode = NGX_HTTP_TUNNY_IMAGE_TRANSFORM;
    imcf->ops &= ~(NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_CROP);
    imcf->ops |= op;

    ngx_http_tunny_use_pool(cf);

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[1]);

    return NGX_CONF_ERROR;
}


/* a constant is checked now; a value with variables at run time */

static char *
ngx_http_tunny_image_compile(ngx_conf_t *cf, ngx_str_t *value, ngx_uint_t *v,
    ngx_http_complex_value_t **cvp, ngx_int_t (*parse)(ngx_str_t *value))
{
    ngx_int_t                          n;
    ngx_http_complex_value_t           cv;
    ngx_http_compile_complex_value_t   ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = &cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cv.lengths == NULL) {
        n = parse(value);

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\"", value);
            return NGX_CONF_ERROR;
        }

        *v = (ngx_uint_t) n;
        *cvp = NULL;

        return NGX_CONF_OK;
    }

    *cvp = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (*cvp == NULL) {
        return NGX_CONF_ERROR;
    }

    **cvp = cv;

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_image_quality_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    char                      *rv;
    ngx_str_t                 *value;
    ngx_http_complex_value_t  **cv;

    cv = (ngx_http_complex_value_t **) (p + cmd->offset);

    rv = ngx_http_set_complex_value_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;

    if ((*cv)->lengths == NULL
        && ngx_http_tunny_image_quality(&value[1]) == NGX_ERROR)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid quality \"%V\", must be 1..100",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_image_upload(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_tunny_image_upload_handler;

    ngx_http_tunny_use_pool(cf);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tunny_image_filter_init(ngx_conf_t *cf)
{
    ngx_http_tunny_image_key =
                         ngx_tunny_state_key(&ngx_http_tunny_image_state_ops);

    if (ngx_http_tunny_image_key == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tunny_image: no free per-thread state key");
        return NGX_ERROR;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tunny_image_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_tunny_image_body_filter;

    return NGX_OK;
}
