/*
 * ngx_tunny_module: tunny_image, the task shared by the filter and the
 * upload handler (on the public task API, ngx_http_tunny.h): posting it,
 * the thread side, the answer, and the per-thread library state.
 *
 * Threads: ngx_http_tunny_image_run() and the state ops run in a pool
 * thread (marked "thread"), touch only the task's data and the thread's
 * own ngx_tunny_image_state_t, and call no nginx API (the task API's
 * thread-side state accessors aside); everything else runs in the event
 * loop.  Ownership: see ngx_http_tunny_image_common.h.
 */


#include "ngx_http_tunny_image_common.h"


/* per-thread scratch memory kept between jobs */
#define NGX_HTTP_TUNNY_IMAGE_STATE_CAP   (4 * 1024 * 1024)


static void ngx_http_tunny_image_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc);
static ngx_int_t ngx_http_tunny_image_result(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_http_tunny_image_job_t *j);
static ngx_int_t ngx_http_tunny_image_run(ngx_http_tunny_task_t *task,
    void *data);
static ngx_int_t ngx_http_tunny_image_pread(ngx_http_tunny_image_job_t *j);
static void ngx_http_tunny_image_free(void *data);
static void ngx_http_tunny_image_state_destroy(void *state);
static void ngx_http_tunny_image_state_trim(void *state);


/* written at configuration time, read by every thread afterwards */
static ngx_int_t  ngx_http_tunny_image_key = NGX_ERROR;

static ngx_tunny_state_ops_t  ngx_http_tunny_image_state_ops = {
    ngx_http_tunny_image_state_destroy,
    ngx_http_tunny_image_state_trim
};


/* configuration time: the key of the per-thread ngx_tunny_image_state_t */

ngx_int_t
ngx_http_tunny_image_job_init(ngx_conf_t *cf)
{
    ngx_http_tunny_image_key =
                         ngx_tunny_state_key(&ngx_http_tunny_image_state_ops);

    if (ngx_http_tunny_image_key == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tunny_image: no free per-thread state key");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* loop: move the input (and its reservation) into a task and post it */

ngx_int_t
ngx_http_tunny_image_post(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_http_tunny_task_t       *task;
    ngx_http_tunny_image_job_t  *j;

    task = ngx_http_tunny_task_create(r, sizeof(ngx_http_tunny_image_job_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = task->data;
    j->file = NGX_INVALID_FILE;

    rc = ngx_http_tunny_image_params(r, ctx, &j->params);

    if (rc != NGX_OK) {
        ngx_http_tunny_task_destroy(task);
        return rc;
    }

    task->run = ngx_http_tunny_image_run;
    task->done = ngx_http_tunny_image_done;
    task->free = ngx_http_tunny_image_free;

    j->key = ngx_http_tunny_image_key;
    j->info = ctx->info;
    j->params.cancel = ngx_http_tunny_task_cancel_flag(task);

    /* the input and its reservation move to the task */

    j->in = ctx->image;
    j->in_len = ctx->len + ctx->file_rest;
    j->file = ctx->file;
    j->file_pos = ctx->file_pos;
    j->file_rest = ctx->file_rest;
    j->pcf = ctx->pcf;
    j->reserved = ctx->reserved;

    ctx->image = NULL;
    ctx->len = 0;
    ctx->size = 0;
    ctx->file = NGX_INVALID_FILE;
    ctx->file_rest = 0;
    ctx->reserved = 0;

    rc = ngx_http_tunny_task_post(r, task);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    /* refused: the task is still ours, the input goes back */

    ctx->image = j->in;
    ctx->len = j->in_len - j->file_rest;
    ctx->size = j->in_len;
    ctx->file = j->file;
    ctx->file_rest = j->file_rest;
    ctx->reserved = j->reserved;

    j->in = NULL;
    j->file = NGX_INVALID_FILE;
    j->reserved = 0;

    ngx_http_tunny_task_destroy(task);

    return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
}


/* loop: the task's answer, once per posted task; data NULL on timeout */

static void
ngx_http_tunny_image_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_http_tunny_image_job_t  *j;
    ngx_http_tunny_image_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tunny_image: resumed request has no context");
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    r->buffered &= ~NGX_HTTP_TUNNY_IMAGE_BUFFERED;

    if (data) {
        /* before the answer: a client that has it sees the memory free */
        j = data;
        ngx_http_tunny_release(j->pcf, j->reserved);
        j->reserved = 0;
    }

    ctx->status = data ? ngx_http_tunny_image_result(r, ctx, data) : rc;
    ctx->phase = NGX_HTTP_TUNNY_IMAGE_SEND;

    if (ctx->upload) {
        ngx_http_finalize_request(r, ngx_http_tunny_image_answer(r, ctx));
        return;
    }

    /* ngx_http_writer() drives the body filter once more (in == NULL) */

    r->write_event_handler(r);
}


/* takes the task's results into ctx; 0 or a status */

static ngx_int_t
ngx_http_tunny_image_result(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_http_tunny_image_job_t *j)
{
    const char  *reason;
    ngx_int_t    status;

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

    return status;
}


/* thread: no nginx API, memory or logging here */

static ngx_int_t
ngx_http_tunny_image_run(ngx_http_tunny_task_t *task, void *data)
{
    ngx_http_tunny_image_job_t *j = data;

    ngx_tunny_image_state_t  *st;

    st = ngx_http_tunny_task_state(task, j->key);

    if (st == NULL) {
        st = ngx_tunny_image_state_create();

        if (st == NULL) {
            j->rc = NGX_TUNNY_IMAGE_ENOMEM;
            (void) snprintf(j->res.error, sizeof(j->res.error),
                            "cannot create image state");
            return NGX_ERROR;
        }

        ngx_http_tunny_task_set_state(task, j->key, st);
    }

    if (j->file_rest && ngx_http_tunny_image_pread(j) != NGX_OK) {
        return NGX_ERROR;
    }

    j->rc = ngx_tunny_image_process(st, j->in, j->in_len, &j->info,
                                    &j->params, &j->res);

    /* the input of a big photo is megabytes: unmapped here, not in the loop */

    if (j->rc != NGX_TUNNY_IMAGE_ASIS) {
        free(j->in);
        j->in = NULL;
    }

    if (j->rc != NGX_TUNNY_IMAGE_OK && j->rc != NGX_TUNNY_IMAGE_ASIS) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* thread: the rest of a file-backed body (see ngx_http_tunny_image_file) */

static ngx_int_t
ngx_http_tunny_image_pread(ngx_http_tunny_image_job_t *j)
{
    int       err;
    u_char   *p;
    off_t     pos;
    size_t    rest;
    ssize_t   n;

    p = j->in + (j->in_len - j->file_rest);
    pos = j->file_pos;
    rest = j->file_rest;

    while (rest) {
        n = pread(j->file, p, rest, pos);

        if (n <= 0) {
            err = (n == 0) ? 0 : errno;

            if (err == EINTR) {
                continue;
            }

            j->rc = NGX_HTTP_TUNNY_IMAGE_EREAD;
            (void) snprintf(j->res.error, sizeof(j->res.error),
                            err ? "pread() of the image file failed (%d)"
                                : "image file truncated while read (%d)",
                            err);
            return NGX_ERROR;
        }

        p += n;
        pos += n;
        rest -= n;
    }

    return NGX_OK;
}


/* loop: after done(), or for a task whose request went away */

static void
ngx_http_tunny_image_free(void *data)
{
    ngx_http_tunny_image_job_t *j = data;

    if (j->in) {
        ngx_free(j->in);
    }

    if (j->res.data) {
        ngx_free(j->res.data);
    }

    if (j->file != NGX_INVALID_FILE) {
        (void) ngx_close_file(j->file);
    }

    ngx_http_tunny_release(j->pcf, j->reserved);
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
