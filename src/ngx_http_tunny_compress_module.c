/*
 * ngx_tunny_module: tunny_compress, a body filter that compresses
 * responses (brotli, zstd, gzip) on the pool, at the levels one cannot
 * afford in the event loop.  It uses only the public task API
 * (ngx_http_tunny.h) and the nginx-free codecs of src/compress.
 *
 * The body is cut into chunks (tunny_compress_chunk); each chunk is one
 * task, compressed by the request's streaming encoder, in order, one task
 * in flight per request.  The next chunk fills while a task runs; input
 * beyond it waits in the upstream's buffers (backpressure), and no task is
 * posted while the compressed output waits for the client in all of
 * tunny_compress_buffers.
 *
 * The first chunk decides, the header being held until then: its task
 * done, the response goes out compressed; refused by admission or the
 * memory budget, failed or timed out, it goes out uncompressed with the
 * original header (the first chunk was kept for that).  Once compression
 * started: a refused post is retried (10 ms, doubling to 250 ms) while the
 * response stalls for less than send_timeout, a failed or timed-out task
 * ends the request with the connection closed (the header is gone, the
 * stream cannot be completed).
 *
 * Ownership (event loop unless said): the context (r->pool) owns the
 * encoder state, the reservation, the chunk buffers and the last task's
 * output while no task is in flight.  A posted task owns the encoder, the
 * reservation, its chunk and its output buffer (all malloc()ed) until
 * done() hands them back; if the request goes away first, the task's
 * free() releases them when the pool gives the task back.
 * ngx_http_tunny_compress_run() runs in a pool thread and touches only its
 * task's data.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tunny.h"
#include "compress/ngx_tunny_compress.h"


/* c->buffered: a low-level bit of nginx's (0x10 write, 0x20 gzip) */
#define NGX_HTTP_TUNNY_COMPRESS_BUFFERED  0x40

/* ctx->phase */
#define NGX_HTTP_TUNNY_COMPRESS_HOLD      0  /* header held, first chunk */
#define NGX_HTTP_TUNNY_COMPRESS_FIRST     1  /* its task is in flight */
#define NGX_HTTP_TUNNY_COMPRESS_STREAM    2  /* compressing, header sent */
#define NGX_HTTP_TUNNY_COMPRESS_DONE      3  /* the last buffer is out */
#define NGX_HTTP_TUNNY_COMPRESS_PASS      4  /* uncompressed */

#define NGX_HTTP_TUNNY_COMPRESS_RETRY_MIN  10
#define NGX_HTTP_TUNNY_COMPRESS_RETRY_MAX  250


typedef struct {
    ngx_flag_t                  enable;
    ngx_uint_t                  nencodings;
    ngx_int_t                   encodings[NGX_TUNNY_COMPRESS_N];
    ngx_hash_t                  types;
    ngx_array_t                *types_keys;
    ssize_t                     min_length;
    size_t                      chunk;
    ngx_bufs_t                  bufs;
    ngx_int_t                   level[NGX_TUNNY_COMPRESS_N];
    size_t                      brotli_window;
} ngx_http_tunny_compress_conf_t;


typedef struct {
    ngx_http_request_t         *request;
    ngx_uint_t                  phase;
    ngx_tunny_compress_params_t params;

    ngx_tunny_compress_t       *enc;       /* NULL while a task has it */
    ngx_tunny_pool_conf_t      *pcf;
    size_t                      reserved;  /* travels with enc */

    u_char                     *chunk;     /* filling, malloc()ed */
    size_t                      chunk_len;
    int                         chunk_end; /* PROCESS, FLUSH, FINISH */
    u_char                     *spare;     /* the other chunk buffer */

    ngx_tunny_compress_buf_t    res;       /* the last task's output */
    size_t                      res_pos;
    int                         res_end;   /* its chunk's end, to mark */

    ngx_chain_t                *in;        /* input not taken yet */
    ngx_chain_t                *out;
    ngx_chain_t               **last_out;
    ngx_chain_t                *busy;
    ngx_chain_t                *free;
    ngx_int_t                   bufs;

    ngx_event_t                 retry;
    ngx_msec_t                  retry_delay;
    ngx_msec_t                  stalled;   /* first refusal, or 0 */

    off_t                       bytes_in;
    off_t                       bytes_out;

    unsigned                    posted:1;  /* a task is in flight */
    unsigned                    sealed:1;  /* chunk_end decided */
    unsigned                    marked:1;  /* res_end put on a buffer */
    unsigned                    last:1;    /* the last buffer was taken */
} ngx_http_tunny_compress_ctx_t;


/* the data of a task: the thread's while it runs */
typedef struct {
    ngx_http_tunny_compress_ctx_t  *ctx;   /* for done() only */
    ngx_tunny_compress_t           *enc;
    ngx_tunny_pool_conf_t          *pcf;
    size_t                          reserved;
    u_char                         *in;
    size_t                          len;
    int                             end;
    ngx_tunny_compress_buf_t        out;
} ngx_http_tunny_compress_task_t;


static ngx_int_t ngx_http_tunny_compress_push(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_compress_fill(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_compress_drain(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_compress_post(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_compress_start(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_compress_fallback(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx, const char *why);
static ngx_int_t ngx_http_tunny_compress_send_header(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_compress_run(ngx_http_tunny_task_t *task,
    void *data);
static int ngx_http_tunny_compress_cancelled(void *data);
static void ngx_http_tunny_compress_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc);
static void ngx_http_tunny_compress_task_free(void *data);
static void ngx_http_tunny_compress_retry(ngx_event_t *ev);
static void ngx_http_tunny_compress_resume(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
static void ngx_http_tunny_compress_cleanup(void *data);
static void ngx_http_tunny_compress_release(
    ngx_http_tunny_compress_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_compress_negotiate(ngx_http_request_t *r,
    ngx_http_tunny_compress_conf_t *conf);
static ngx_uint_t ngx_http_tunny_compress_qvalue(u_char **pp, u_char *end);
static ngx_int_t ngx_http_tunny_compress_vary(ngx_http_request_t *r);

static void *ngx_http_tunny_compress_create_conf(ngx_conf_t *cf);
static char *ngx_http_tunny_compress_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tunny_compress_enable(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_tunny_compress_encodings(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_tunny_compress_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_tunny_compress_commands[] = {

    { ngx_string("tunny_compress"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_tunny_compress_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, enable),
      NULL },

    { ngx_string("tunny_compress_encodings"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_tunny_compress_encodings,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_compress_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_types_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, types_keys),
      &ngx_http_html_default_types[0] },

    { ngx_string("tunny_compress_min_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, min_length),
      NULL },

    { ngx_string("tunny_compress_chunk"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, chunk),
      NULL },

    { ngx_string("tunny_compress_buffers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_conf_set_bufs_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, bufs),
      NULL },

    { ngx_string("tunny_compress_brotli_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, level)
          + NGX_TUNNY_COMPRESS_BROTLI * sizeof(ngx_int_t),
      NULL },

    { ngx_string("tunny_compress_zstd_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, level)
          + NGX_TUNNY_COMPRESS_ZSTD * sizeof(ngx_int_t),
      NULL },

    { ngx_string("tunny_compress_gzip_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, level)
          + NGX_TUNNY_COMPRESS_GZIP * sizeof(ngx_int_t),
      NULL },

    { ngx_string("tunny_compress_brotli_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, brotli_window),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tunny_compress_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_tunny_compress_init,          /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tunny_compress_create_conf,   /* create location configuration */
    ngx_http_tunny_compress_merge_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_tunny_compress_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_tunny_compress_filter_module_ctx, /* module context */
    ngx_http_tunny_compress_commands,      /* module directives */
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


/* header and body filters (loop) ----------------------------------------- */

static ngx_int_t
ngx_http_tunny_compress_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                        encoding;
    ngx_uint_t                       st;
    ngx_pool_cleanup_t              *cln;
    ngx_http_tunny_compress_ctx_t   *ctx;
    ngx_http_tunny_compress_conf_t  *conf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_compress_filter_module);

    if (ctx) {
        /* an error page after the header was held: it goes out as is */
        ctx->phase = NGX_HTTP_TUNNY_COMPRESS_PASS;
        r->connection->buffered &= ~NGX_HTTP_TUNNY_COMPRESS_BUFFERED;
        return ngx_http_next_header_filter(r);
    }

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    st = r->headers_out.status;

    if (!conf->enable
        || r != r->main
        || r->header_only
        || (st != NGX_HTTP_OK && st != NGX_HTTP_FORBIDDEN
            && st != NGX_HTTP_NOT_FOUND)
        || (r->headers_out.content_encoding
            && r->headers_out.content_encoding->value.len)
        || (r->headers_out.content_length_n != -1
            && r->headers_out.content_length_n < conf->min_length)
        || ngx_http_test_content_type(r, &conf->types) == NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    /* a range of the identity: the range filter answers it */

    if (r->headers_in.range && r->allow_ranges
        && r->headers_out.content_length_n != -1)
    {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_tunny_compress_vary(r) != NGX_OK) {
        return NGX_ERROR;
    }

    /* HEAD: the body would be compressed to be thrown away */

    encoding = (r->method & NGX_HTTP_HEAD)
               ? NGX_DECLINED : ngx_http_tunny_compress_negotiate(r, conf);

    if (encoding == NGX_DECLINED) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tunny_compress_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_tunny_compress_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->phase = NGX_HTTP_TUNNY_COMPRESS_HOLD;
    ctx->last_out = &ctx->out;

    ctx->params.encoding = (int) encoding;
    ctx->params.level = (int) conf->level[encoding];

    if (encoding == NGX_TUNNY_COMPRESS_BROTLI) {
        for (ctx->params.window_bits = 10;
             ((size_t) 1 << ctx->params.window_bits) < conf->brotli_window;
             ctx->params.window_bits++)
        {
            /* void */
        }
    }

    if (r->headers_out.content_length_n > 0) {
        ctx->params.size_hint = (uint64_t) r->headers_out.content_length_n;
    }

    ctx->retry.handler = ngx_http_tunny_compress_retry;
    ctx->retry.data = ctx;
    ctx->retry.log = r->connection->log;

    ngx_http_set_ctx(r, ctx, ngx_http_tunny_compress_filter_module);

    r->main_filter_need_in_memory = 1;

    /* hold the header back until the first chunk decides */

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_compress_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_tunny_compress_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_compress_filter_module);

    if (ctx == NULL || ctx->phase == NGX_HTTP_TUNNY_COMPRESS_PASS
        || ctx->phase == NGX_HTTP_TUNNY_COMPRESS_DONE)
    {
        return ngx_http_next_body_filter(r, in);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tunny compress filter phase:%ui in:%p posted:%d",
                   ctx->phase, in, ctx->posted);

    if (in) {
        if (ngx_chain_add_copy(r->pool, &ctx->in, in) != NGX_OK) {
            return NGX_ERROR;
        }

        r->connection->buffered |= NGX_HTTP_TUNNY_COMPRESS_BUFFERED;
    }

    return ngx_http_tunny_compress_push(r, ctx);
}


/*
 * Move everything as far as it goes: the last task's output into the
 * output buffers and on to the next filter, the input into the chunk, the
 * chunk to the pool.  NGX_AGAIN while something is held, NGX_OK when all
 * has gone through, NGX_ERROR.
 */

static ngx_int_t
ngx_http_tunny_compress_push(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    ngx_int_t                        rc, drained;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    for ( ;; ) {

        if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_PASS) {
            /* the fallback sent all; the writer drives what is left */
            return NGX_OK;
        }

        drained = ngx_http_tunny_compress_drain(r, ctx);

        if (drained == NGX_ERROR) {
            return NGX_ERROR;
        }

        /*
         * as the postpone filter above does: no empty call down unless a
         * filter below holds something (the write filter would complain)
         */

        if (ctx->out
            || (r->connection->buffered & ~NGX_HTTP_TUNNY_COMPRESS_BUFFERED))
        {
            rc = ngx_http_next_body_filter(r, ctx->out);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy,
                                    &ctx->out,
                                    (ngx_buf_tag_t)
                                        &ngx_http_tunny_compress_filter_module);
            ctx->last_out = &ctx->out;

            if (drained == NGX_AGAIN && ctx->free) {
                continue;
            }
        }

        if (drained == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_DONE) {
            ngx_http_tunny_compress_release(ctx);
            r->connection->buffered &= ~NGX_HTTP_TUNNY_COMPRESS_BUFFERED;
            ngx_http_tunny_count_bytes(r, (size_t) ctx->bytes_in,
                                       (size_t) ctx->bytes_out);
            return ctx->busy ? NGX_AGAIN : NGX_OK;
        }

        /* the output is out; take input, unless the first chunk waits */

        if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_FIRST) {
            return NGX_AGAIN;
        }

        if (ngx_http_tunny_compress_fill(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        /* posting waits while the output waits in all the buffers */

        if (!ctx->sealed || ctx->posted || ctx->retry.timer_set
            || (ctx->bufs >= conf->bufs.num && ctx->free == NULL))
        {
            return (ctx->posted || ctx->in || ctx->busy || ctx->sealed)
                   ? NGX_AGAIN : NGX_OK;
        }

        rc = ngx_http_tunny_compress_post(r, ctx);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            /* the response went out uncompressed */
            return NGX_OK;
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        /* posted: fill the next chunk meanwhile */
    }
}


/* input into the chunk, until it is full or a flush or the end seals it */

static ngx_int_t
ngx_http_tunny_compress_fill(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    size_t                           n;
    ngx_buf_t                       *b;
    ngx_chain_t                     *cl;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    while (ctx->in && !ctx->sealed) {
        b = ctx->in->buf;

        if (ngx_buf_size(b) && !ngx_buf_in_memory(b)) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "tunny_compress: a file buffer reached the filter");
            return NGX_ERROR;
        }

        if (ctx->chunk == NULL) {
            ctx->chunk = ctx->spare ? ctx->spare
                                    : ngx_alloc(conf->chunk, r->connection->log);
            if (ctx->chunk == NULL) {
                return NGX_ERROR;
            }

            ctx->spare = NULL;
        }

        if (ngx_buf_in_memory(b)) {
            n = ngx_min((size_t) (b->last - b->pos),
                        conf->chunk - ctx->chunk_len);

            ngx_memcpy(ctx->chunk + ctx->chunk_len, b->pos, n);

            ctx->chunk_len += n;
            ctx->bytes_in += n;
            b->pos += n;

            if (b->in_file) {
                b->file_pos = b->file_last;
            }
        }

        if (!ngx_buf_in_memory(b) || b->pos == b->last) {

            if (b->last_buf) {
                ctx->chunk_end = NGX_TUNNY_COMPRESS_FINISH;
                ctx->sealed = 1;
                ctx->last = 1;

            } else if (b->flush) {
                ctx->chunk_end = NGX_TUNNY_COMPRESS_FLUSH;
                ctx->sealed = 1;
            }

            cl = ctx->in;
            ctx->in = cl->next;
            ngx_free_chain(r->pool, cl);
        }

        if (!ctx->sealed && ctx->chunk_len == conf->chunk) {
            ctx->chunk_end = NGX_TUNNY_COMPRESS_PROCESS;
            ctx->sealed = 1;
        }
    }

    return NGX_OK;
}


/*
 * The last task's output into the output buffers; its flush or end goes
 * on the last of them.  NGX_OK (all taken), NGX_AGAIN (no free buffer),
 * NGX_ERROR.
 */

static ngx_int_t
ngx_http_tunny_compress_drain(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    size_t                           n;
    ngx_buf_t                       *b;
    ngx_chain_t                     *cl;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    b = NULL;

    while (ctx->res_pos < ctx->res.len) {

        if (ctx->free) {
            cl = ctx->free;
            ctx->free = cl->next;
            b = cl->buf;
            b->flush = 0;

        } else if (ctx->bufs < conf->bufs.num) {
            b = ngx_create_temp_buf(r->pool, conf->bufs.size);
            if (b == NULL) {
                return NGX_ERROR;
            }

            b->tag = (ngx_buf_tag_t) &ngx_http_tunny_compress_filter_module;
            b->recycled = 1;
            ctx->bufs++;

            cl = ngx_alloc_chain_link(r->pool);
            if (cl == NULL) {
                return NGX_ERROR;
            }

            cl->buf = b;

        } else {
            return NGX_AGAIN;
        }

        n = ngx_min((size_t) (b->end - b->last), ctx->res.len - ctx->res_pos);

        b->last = ngx_cpymem(b->last, ctx->res.data + ctx->res_pos, n);
        ctx->res_pos += n;
        ctx->bytes_out += n;

        cl->next = NULL;
        *ctx->last_out = cl;
        ctx->last_out = &cl->next;
    }

    if (ctx->marked || ctx->res_end == NGX_TUNNY_COMPRESS_PROCESS) {
        return NGX_OK;
    }

    /* a flush or the end: on the last output buffer, or an empty one */

    if (b == NULL) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;
        *ctx->last_out = cl;
        ctx->last_out = &cl->next;
    }

    if (ctx->res_end == NGX_TUNNY_COMPRESS_FINISH) {
        b->last_buf = 1;
        ctx->phase = NGX_HTTP_TUNNY_COMPRESS_DONE;

    } else {
        b->flush = 1;
    }

    ctx->marked = 1;

    return NGX_OK;
}


/*
 * The sealed chunk to the pool.  NGX_OK (posted), NGX_AGAIN (refused in
 * the middle of the stream: retried), NGX_DECLINED (the first chunk was
 * refused: the response went out uncompressed), NGX_ERROR.
 */

static ngx_int_t
ngx_http_tunny_compress_post(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    u_char                          *in;
    ngx_int_t                        rc;
    ngx_msec_t                       waited;
    ngx_http_tunny_task_t           *task;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_tunny_compress_task_t  *t;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_HOLD) {
        rc = ngx_http_tunny_compress_start(r, ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* the first chunk stays with us, in case its task does not come back */

    in = ctx->chunk;

    if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_HOLD) {
        in = ctx->spare ? ctx->spare : ngx_alloc(conf->chunk, r->connection->log);
        if (in == NULL) {
            return ngx_http_tunny_compress_fallback(r, ctx, "no memory");
        }

        ctx->spare = NULL;
        ngx_memcpy(in, ctx->chunk, ctx->chunk_len);
    }

    task = ngx_http_tunny_task_create(r,
                                      sizeof(ngx_http_tunny_compress_task_t));
    if (task == NULL) {
        if (in != ctx->chunk) {
            ngx_free(in);
        }

        return (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_HOLD)
               ? ngx_http_tunny_compress_fallback(r, ctx, "no memory")
               : NGX_ERROR;
    }

    task->run = ngx_http_tunny_compress_run;
    task->done = ngx_http_tunny_compress_done;
    task->free = ngx_http_tunny_compress_task_free;

    t = task->data;
    t->ctx = ctx;
    t->enc = ctx->enc;
    t->pcf = ctx->pcf;
    t->reserved = ctx->reserved;
    t->in = in;
    t->len = ctx->chunk_len;
    t->end = ctx->chunk_end;
    t->out = ctx->res;
    t->out.len = 0;

    rc = ngx_http_tunny_task_post(r, task);

    if (rc == NGX_OK) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "tunny compress post %uz bytes end:%d task:%p",
                       t->len, t->end, task);

        ngx_memzero(&ctx->res, sizeof(ngx_tunny_compress_buf_t));
        ctx->enc = NULL;
        ctx->reserved = 0;
        ctx->posted = 1;
        ctx->stalled = 0;
        ctx->retry_delay = 0;

        if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_HOLD) {
            ctx->phase = NGX_HTTP_TUNNY_COMPRESS_FIRST;

        } else {
            ctx->chunk = NULL;
            ctx->chunk_len = 0;
            ctx->sealed = 0;
        }

        return NGX_OK;
    }

    /* refused or failed: everything is still ours */

    t->enc = NULL;
    t->reserved = 0;
    t->out.data = NULL;
    t->in = (in == ctx->chunk) ? NULL : in;

    ngx_http_tunny_task_destroy(task);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_HOLD) {
        return ngx_http_tunny_compress_fallback(r, ctx,
                                                "the pool refused the task");
    }

    /* in the middle of the stream: try again a little later */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (ctx->stalled == 0) {
        ctx->stalled = ngx_current_msec;
    }

    waited = ngx_current_msec - ctx->stalled;

    if (waited >= clcf->send_timeout) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tunny_compress: the pool refused the stream's next "
                      "chunk for %M ms, closing the connection", waited);
        return NGX_ERROR;
    }

    ctx->retry_delay = ctx->retry_delay
                       ? ngx_min(ctx->retry_delay * 2,
                                 NGX_HTTP_TUNNY_COMPRESS_RETRY_MAX)
                       : NGX_HTTP_TUNNY_COMPRESS_RETRY_MIN;

    ngx_add_timer(&ctx->retry, ctx->retry_delay);

    return NGX_AGAIN;
}


/*
 * The first chunk: a short whole body passes, otherwise the memory is
 * reserved and the encoder made.  NGX_OK, NGX_DECLINED (passed
 * uncompressed), NGX_ERROR.
 */

static ngx_int_t
ngx_http_tunny_compress_start(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    size_t                           size, memory;
    ngx_int_t                        rc;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    if (ctx->chunk_end == NGX_TUNNY_COMPRESS_FINISH
        && ctx->chunk_len < (size_t) conf->min_length)
    {
        return ngx_http_tunny_compress_fallback(r, ctx, NULL);
    }

    if (ctx->params.size_hint == 0 && ctx->chunk_end == NGX_TUNNY_COMPRESS_FINISH)
    {
        /* the whole body is in the first chunk: its size is known now */
        ctx->params.size_hint = ctx->chunk_len;
    }

    memory = ngx_tunny_compress_memory(&ctx->params);

    /* the encoder, two chunks, the task's output, the output buffers */

    size = memory + 4 * conf->chunk + conf->bufs.num * conf->bufs.size;

    rc = ngx_http_tunny_reserve(r, size);

    if (rc != NGX_OK) {
        return ngx_http_tunny_compress_fallback(r, ctx,
                                                rc == NGX_DECLINED
                                                ? "more than max_memory"
                                                : "memory budget refused");
    }

    ctx->pcf = ngx_http_tunny_pool_conf(r);
    ctx->reserved = size;

    if (ngx_tunny_compress_create(&ctx->params, &ctx->enc)
        != NGX_TUNNY_COMPRESS_OK)
    {
        ngx_http_tunny_release(ctx->pcf, ctx->reserved);
        ctx->reserved = 0;

        return ngx_http_tunny_compress_fallback(r, ctx,
                                                "the encoder failed to start");
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tunny compress start %s level:%d window:%ud "
                   "reserved:%uz", ngx_tunny_compress_name(ctx->params.encoding),
                   ctx->params.level,
                   ngx_tunny_compress_window(&ctx->params), size);

    return NGX_OK;
}


/*
 * Before the first compressed byte: the original header, the first chunk
 * and the rest of the body as they are.  NGX_DECLINED, or NGX_ERROR.
 */

static ngx_int_t
ngx_http_tunny_compress_fallback(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx, const char *why)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl, *rest;

    if (why) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tunny_compress: %s, sending uncompressed", why);
    }

    if (ctx->enc) {
        ngx_tunny_compress_destroy(ctx->enc);
        ctx->enc = NULL;
    }

    if (ctx->reserved) {
        ngx_http_tunny_release(ctx->pcf, ctx->reserved);
        ctx->reserved = 0;
    }

    ctx->phase = NGX_HTTP_TUNNY_COMPRESS_PASS;
    r->connection->buffered &= ~NGX_HTTP_TUNNY_COMPRESS_BUFFERED;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_DECLINED;
    }

    rest = ctx->in;
    ctx->in = NULL;
    cl = rest;

    if (ctx->chunk_len || ctx->chunk_end != NGX_TUNNY_COMPRESS_PROCESS) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        if (ctx->chunk_len) {
            b->memory = 1;
            b->start = ctx->chunk;
            b->pos = ctx->chunk;
            b->last = ctx->chunk + ctx->chunk_len;
            b->end = b->last;
        }

        b->last_buf = (ctx->chunk_end == NGX_TUNNY_COMPRESS_FINISH);
        b->flush = (ctx->chunk_end == NGX_TUNNY_COMPRESS_FLUSH);

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = rest;
    }

    if (ngx_http_next_body_filter(r, cl) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


/* the compressed header, once the first chunk's task is done */

static ngx_int_t
ngx_http_tunny_compress_send_header(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Content-Encoding");
    h->value.data = (u_char *) ngx_tunny_compress_name(ctx->params.encoding);
    h->value.len = ngx_strlen(h->value.data);
    r->headers_out.content_encoding = h;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_weak_etag(r);

    ctx->phase = NGX_HTTP_TUNNY_COMPRESS_STREAM;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the task (thread: run; loop: done, free) ------------------------------- */

static ngx_int_t
ngx_http_tunny_compress_run(ngx_http_tunny_task_t *task, void *data)
{
    ngx_http_tunny_compress_task_t *t = data;

    if (ngx_tunny_compress_chunk(t->enc, t->in, t->len, t->end, &t->out, 0,
                                 ngx_http_tunny_compress_cancelled, task)
        != NGX_TUNNY_COMPRESS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* thread */

static int
ngx_http_tunny_compress_cancelled(void *data)
{
    ngx_http_tunny_task_t *task = data;

    return ngx_http_tunny_task_cancelled(task);
}


static void
ngx_http_tunny_compress_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_http_tunny_compress_ctx_t   *ctx;
    ngx_http_tunny_compress_task_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_compress_filter_module);

    if (ctx == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tunny_compress: task done without a context");
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    ctx->posted = 0;

    if (rc != NGX_OK || ctx->phase == NGX_HTTP_TUNNY_COMPRESS_PASS) {

        /* a timeout (data NULL: the task keeps the encoder) or a failure */

        if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_FIRST) {
            ctx->phase = NGX_HTTP_TUNNY_COMPRESS_HOLD;

            if (ngx_http_tunny_compress_fallback(r, ctx,
                                                 rc == NGX_ERROR
                                                 ? "the task failed"
                                                 : "the task timed out")
                == NGX_ERROR)
            {
                ngx_http_finalize_request(r, NGX_ERROR);
                return;
            }

            ngx_http_tunny_compress_resume(r, ctx);
            return;
        }

        if (ctx->phase != NGX_HTTP_TUNNY_COMPRESS_PASS) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "tunny_compress: the %s of a compressed stream, "
                          "closing the connection",
                          rc == NGX_ERROR ? "task failed" : "task timed out");
            ngx_http_finalize_request(r, NGX_ERROR);
            return;
        }

        ngx_http_tunny_compress_resume(r, ctx);
        return;
    }

    /* the encoder, the reservation, both buffers come back */

    t = data;

    ctx->enc = t->enc;
    ctx->reserved = t->reserved;
    ctx->res = t->out;
    ctx->res_pos = 0;
    ctx->res_end = t->end;
    ctx->marked = 0;

    if (ctx->spare) {
        ngx_free(t->in);

    } else {
        ctx->spare = t->in;
    }

    t->enc = NULL;
    t->reserved = 0;
    t->in = NULL;
    t->out.data = NULL;

    if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_FIRST) {

        /* the decision: compressed */

        ctx->chunk_len = 0;
        ctx->sealed = 0;

        if (ngx_http_tunny_compress_send_header(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
            return;
        }
    }

    ngx_http_tunny_compress_resume(r, ctx);
}


/* loop: what a task holds, if done() did not take it back */

static void
ngx_http_tunny_compress_task_free(void *data)
{
    ngx_http_tunny_compress_task_t *t = data;

    ngx_tunny_compress_destroy(t->enc);
    ngx_free(t->in);
    ngx_free(t->out.data);

    if (t->reserved) {
        ngx_http_tunny_release(t->pcf, t->reserved);
    }
}


/* loop: after a retry delay */

static void
ngx_http_tunny_compress_retry(ngx_event_t *ev)
{
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_tunny_compress_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_tunny_compress_resume(r, ctx);

    ngx_http_run_posted_requests(c);
}


/*
 * loop: push what the task brought, then let the request's own writer (or
 * the upstream) run: it finalizes the request once everything is out, and
 * an upstream reuses the buffers the filter took.
 */

static void
ngx_http_tunny_compress_resume(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    if (ngx_http_tunny_compress_push(r, ctx) == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    r->write_event_handler(r);
}


/* r->pool cleanup: what no task holds */

static void
ngx_http_tunny_compress_cleanup(void *data)
{
    ngx_http_tunny_compress_ctx_t *ctx = data;

    if (ctx->retry.timer_set) {
        ngx_del_timer(&ctx->retry);
    }

    ngx_http_tunny_compress_release(ctx);

    if (ctx->chunk) {
        ngx_free(ctx->chunk);
        ctx->chunk = NULL;
    }
}


/*
 * the encoder, its reservation and the buffers of the tasks, as soon as
 * the stream is complete (or the request ends); not the chunk, which a
 * fallback may still be sending
 */

static void
ngx_http_tunny_compress_release(ngx_http_tunny_compress_ctx_t *ctx)
{
    ngx_tunny_compress_destroy(ctx->enc);
    ctx->enc = NULL;

    if (ctx->reserved) {
        ngx_http_tunny_release(ctx->pcf, ctx->reserved);
        ctx->reserved = 0;
    }

    if (ctx->spare) {
        ngx_free(ctx->spare);
        ctx->spare = NULL;
    }

    if (ctx->res.data) {
        ngx_free(ctx->res.data);
        ngx_memzero(&ctx->res, sizeof(ngx_tunny_compress_buf_t));
        ctx->res_pos = 0;
    }
}


/* Accept-Encoding ---------------------------------------------------------- */

/*
 * The configured encoding the client takes with the highest q-value, the
 * configured order breaking ties; "*" stands for those not named, q=0
 * excludes, an identity named with a higher q-value than the best wins.
 * The index of the encoding, or NGX_DECLINED.
 */

static ngx_int_t
ngx_http_tunny_compress_negotiate(ngx_http_request_t *r,
    ngx_http_tunny_compress_conf_t *conf)
{
    u_char           *p, *end, *name;
    size_t            len;
    ngx_int_t         q[NGX_TUNNY_COMPRESS_N], star, identity, best, bq, e;
    ngx_uint_t        i, n, qv, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
        q[i] = -1;
    }

    star = -1;
    identity = -1;
    found = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (n = 0; /* void */; n++) {

        if (n >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            n = 0;
        }

        if (h[n].key.len != sizeof("Accept-Encoding") - 1
            || ngx_strncasecmp(h[n].key.data, (u_char *) "Accept-Encoding",
                               sizeof("Accept-Encoding") - 1) != 0)
        {
            continue;
        }

        found = 1;
        p = h[n].value.data;
        end = p + h[n].value.len;

        while (p < end) {

            while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            name = p;

            while (p < end && *p != ' ' && *p != '\t' && *p != ','
                   && *p != ';')
            {
                p++;
            }

            len = p - name;
            qv = 1000;

            /* parameters: only q counts */

            while (p < end && *p != ',') {
                if (*p == ';' || *p == ' ' || *p == '\t') {
                    p++;
                    continue;
                }

                if (end - p >= 2 && (*p == 'q' || *p == 'Q') && p[1] == '=') {
                    p += 2;
                    qv = ngx_http_tunny_compress_qvalue(&p, end);
                    continue;
                }

                while (p < end && *p != ';' && *p != ',') {
                    p++;
                }
            }

            if (len == 0) {
                continue;
            }

            if (len == 1 && *name == '*') {
                star = ngx_max(star, (ngx_int_t) qv);
                continue;
            }

            if (len == 8 && ngx_strncasecmp(name, (u_char *) "identity", 8)
                            == 0)
            {
                identity = ngx_max(identity, (ngx_int_t) qv);
                continue;
            }

            e = ngx_tunny_compress_lookup(name, len);

            if (e >= 0) {
                q[e] = ngx_max(q[e], (ngx_int_t) qv);
            }
        }
    }

    if (!found) {
        return NGX_DECLINED;
    }

    best = NGX_DECLINED;
    bq = 0;

    for (i = 0; i < conf->nencodings; i++) {
        e = conf->encodings[i];
        qv = (q[e] >= 0) ? (ngx_uint_t) q[e] : (star >= 0) ? (ngx_uint_t) star
                                                           : 0;

        if ((ngx_int_t) qv > bq) {
            best = e;
            bq = qv;
        }
    }

    if (best != NGX_DECLINED && identity > bq) {
        return NGX_DECLINED;
    }

    return best;
}


/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in 1/1000 */

static ngx_uint_t
ngx_http_tunny_compress_qvalue(u_char **pp, u_char *end)
{
    u_char      *p;
    ngx_uint_t   q, scale;

    p = *pp;

    if (p == end || (*p != '0' && *p != '1')) {
        q = 0;
        goto skip;
    }

    q = (*p++ - '0') * 1000;

    if (p < end && *p == '.') {
        p++;

        for (scale = 100; p < end && *p >= '0' && *p <= '9' && scale;
             scale /= 10)
        {
            q += (*p++ - '0') * scale;
        }
    }

    if (q > 1000) {
        q = 0;
    }

skip:

    /* anything else up to the next parameter or coding: not a qvalue */

    if (p < end && *p != ';' && *p != ',' && *p != ' ' && *p != '\t') {
        q = 0;
    }

    while (p < end && *p != ';' && *p != ',') {
        p++;
    }

    *pp = p;

    return q;
}


/* Vary: Accept-Encoding, unless the response varies on it already */

static ngx_int_t
ngx_http_tunny_compress_vary(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static u_char     ae[] = "accept-encoding";

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != 4
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Vary", 4) != 0)
        {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        for ( /* void */ ; last - p >= (ssize_t) sizeof(ae) - 1; p++) {
            if (ngx_strncasecmp(p, ae, sizeof(ae) - 1) == 0) {
                return NGX_OK;
            }
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Vary");
    ngx_str_set(&h->value, "Accept-Encoding");

    return NGX_OK;
}


/* configuration ------------------------------------------------------------ */

static void *
ngx_http_tunny_compress_create_conf(ngx_conf_t *cf)
{
    ngx_uint_t                       i;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tunny_compress_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->bufs.num = 0;
     *     conf->types = { NULL };
     *     conf->types_keys = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->nencodings = NGX_CONF_UNSET_UINT;
    conf->min_length = NGX_CONF_UNSET;
    conf->chunk = NGX_CONF_UNSET_SIZE;
    conf->brotli_window = NGX_CONF_UNSET_SIZE;

    for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
        conf->level[i] = NGX_CONF_UNSET;
    }

    return conf;
}


static char *
ngx_http_tunny_compress_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tunny_compress_conf_t *prev = parent;
    ngx_http_tunny_compress_conf_t *conf = child;

    int         min, max;
    ngx_uint_t  i;

    static ngx_int_t  levels[NGX_TUNNY_COMPRESS_N] = { 11, 19, 9 };
    static char      *names[NGX_TUNNY_COMPRESS_N] = {
        "tunny_compress_brotli_level", "tunny_compress_zstd_level",
        "tunny_compress_gzip_level"
    };

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->nencodings == NGX_CONF_UNSET_UINT) {
        if (prev->nencodings == NGX_CONF_UNSET_UINT) {
            conf->nencodings = NGX_TUNNY_COMPRESS_N;

            for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
                conf->encodings[i] = i;
            }

        } else {
            conf->nencodings = prev->nencodings;
            ngx_memcpy(conf->encodings, prev->encodings,
                       sizeof(conf->encodings));
        }
    }

    if (ngx_http_merge_types(cf, &conf->types_keys, &conf->types,
                             &prev->types_keys, &prev->types,
                             ngx_http_html_default_types)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_value(conf->min_length, prev->min_length, 20);
    ngx_conf_merge_size_value(conf->chunk, prev->chunk, 64 * 1024);
    ngx_conf_merge_bufs_value(conf->bufs, prev->bufs, 8, 16 * 1024);
    ngx_conf_merge_size_value(conf->brotli_window, prev->brotli_window,
                              512 * 1024);

    for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
        ngx_conf_merge_value(conf->level[i], prev->level[i], levels[i]);

        ngx_tunny_compress_levels(i, &min, &max);

        if (conf->level[i] < min || conf->level[i] > max) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s must be between %d and %d", names[i],
                               min, max);
            return NGX_CONF_ERROR;
        }
    }

    if (conf->chunk < 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tunny_compress_chunk must be at least 1k");
        return NGX_CONF_ERROR;
    }

    if (conf->brotli_window < 1024 || conf->brotli_window > 4 * 1024 * 1024
        || (conf->brotli_window & (conf->brotli_window - 1)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tunny_compress_brotli_window must be a power of "
                           "2 from 1k to 4m");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_compress_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tunny_compress_conf_t *tccf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK && tccf->enable) {
        ngx_http_tunny_use_pool(cf);
    }

    return rv;
}


static char *
ngx_http_tunny_compress_encodings(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tunny_compress_conf_t *tccf = conf;

    ngx_int_t   e;
    ngx_str_t  *value;
    ngx_uint_t  i, j;

    if (tccf->nencodings != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    tccf->nencodings = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        e = ngx_tunny_compress_lookup(value[i].data, value[i].len);

        if (e < 0 || ngx_strcmp(value[i].data, "x-gzip") == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown encoding \"%V\" (br, zstd, gzip)",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < tccf->nencodings; j++) {
            if (tccf->encodings[j] == e) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "encoding \"%V\" is listed twice",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        tccf->encodings[tccf->nencodings++] = e;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tunny_compress_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tunny_compress_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_tunny_compress_body_filter;

    return NGX_OK;
}
