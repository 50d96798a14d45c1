/*
 * ngx_tunny_module: what the files of the tunny_compress module share, and
 * nothing else includes.
 *
 *   ngx_http_tunny_compress_module.c     module, directives, configuration
 *   ngx_http_tunny_compress_filter.c     header and body filters, chunks,
 *                                        output buffers, start, fallback
 *   ngx_http_tunny_compress_task.c       the task: post, thread side, done,
 *                                        free, resume, cleanup
 *   ngx_http_tunny_compress_negotiate.c  Accept-Encoding, Vary
 *
 * tunny_compress is a body filter that compresses responses (brotli,
 * zstd, gzip) on the pool, at the levels one cannot afford in the event
 * loop.  It uses only the public task API
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
 * started, the next chunks are posted as the continuation of an admitted
 * request (task->continues): no admission limit refuses them, only a pool
 * that is not running.  Such a refusal, a failed or a timed-out task end
 * the request with the connection closed (the header is gone, the stream
 * cannot be completed).
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


#ifndef _NGX_HTTP_TUNNY_COMPRESS_COMMON_H_INCLUDED_
#define _NGX_HTTP_TUNNY_COMPRESS_COMMON_H_INCLUDED_


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

    off_t                       bytes_in;
    off_t                       bytes_out;

    unsigned                    posted:1;  /* a task is in flight */
    unsigned                    sealed:1;  /* chunk_end decided */
    unsigned                    marked:1;  /* res_end put on a buffer */
} ngx_http_tunny_compress_ctx_t;


/* the data of a task: the thread's while it runs */
typedef struct {
    ngx_tunny_compress_t           *enc;
    ngx_tunny_pool_conf_t          *pcf;
    size_t                          reserved;
    u_char                         *in;
    size_t                          len;
    int                             end;
    ngx_tunny_compress_buf_t        out;
} ngx_http_tunny_compress_task_t;


/* ngx_http_tunny_compress_filter.c */
ngx_int_t ngx_http_tunny_compress_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_tunny_compress_push(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
u_char *ngx_http_tunny_compress_buffer(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
ngx_int_t ngx_http_tunny_compress_start(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
ngx_int_t ngx_http_tunny_compress_fallback(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx, const char *why);
ngx_int_t ngx_http_tunny_compress_send_header(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);

/* ngx_http_tunny_compress_task.c */
ngx_int_t ngx_http_tunny_compress_post(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
void ngx_http_tunny_compress_resume(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
void ngx_http_tunny_compress_cleanup(void *data);
void ngx_http_tunny_compress_release(ngx_http_tunny_compress_ctx_t *ctx);

/* ngx_http_tunny_compress_negotiate.c */
ngx_int_t ngx_http_tunny_compress_negotiate(ngx_http_request_t *r,
    ngx_http_tunny_compress_conf_t *conf);
ngx_int_t ngx_http_tunny_compress_vary(ngx_http_request_t *r);


extern ngx_module_t  ngx_http_tunny_compress_filter_module;


#endif /* _NGX_HTTP_TUNNY_COMPRESS_COMMON_H_INCLUDED_ */
