/*
 * ngx_tunny_module: tunny_compress, the tasks: a sealed chunk posted to
 * the pool, compressed there (run, in a pool thread), handed back (done),
 * freed; the resumption of the request, and what the context still holds
 * when the stream ends or the request goes.
 */

#include "ngx_http_tunny_compress_common.h"


static ngx_int_t ngx_http_tunny_compress_run(ngx_http_tunny_task_t *task,
    void *data);
static int ngx_http_tunny_compress_cancelled(void *data);
static void ngx_http_tunny_compress_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc);
static void ngx_http_tunny_compress_task_free(void *data);


/*
 * The sealed chunk to the pool: the first one through the location's
 * admission, the next ones as its continuation (task->continues), which
 * only a pool that is not running refuses.  NGX_OK (posted), NGX_DECLINED
 * (the first chunk was refused: the response went out uncompressed),
 * NGX_ERROR (also a refused next chunk: the stream cannot be completed).
 */

ngx_int_t
ngx_http_tunny_compress_post(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    u_char                          *in;
    ngx_int_t                        rc;
    ngx_http_tunny_task_t           *task;
    ngx_http_tunny_compress_task_t  *t;

    if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_HOLD) {
        rc = ngx_http_tunny_compress_start(r, ctx);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* the first chunk stays with us, in case its task does not come back */

    in = ctx->chunk;

    if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_HOLD) {
        in = ngx_http_tunny_compress_buffer(r, ctx);
        if (in == NULL) {
            return ngx_http_tunny_compress_fallback(r, ctx, "no memory");
        }

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
    task->continues = (ctx->phase != NGX_HTTP_TUNNY_COMPRESS_HOLD);

    t = task->data;
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

    /*
     * in the middle of the stream: the pool is not running (the worker
     * exits), it will not take the next chunk later either
     */

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "tunny_compress: the pool is not running, the stream "
                  "cannot be completed, closing the connection");

    return NGX_ERROR;
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


/*
 * loop: push what the task brought, then let the request's own writer (or
 * the upstream) run: it finalizes the request once everything is out, and
 * an upstream reuses the buffers the filter took.
 */

void
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

void
ngx_http_tunny_compress_cleanup(void *data)
{
    ngx_http_tunny_compress_ctx_t *ctx = data;

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

void
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


