/*
 * ngx_tunny_module: tunny_image, the job shared by the filter and the
 * upload handler: posting it, the thread side, the resumption, the
 * results, and the per-thread library state.
 *
 * Threads: ngx_http_tunny_image_process() and the state ops run in a pool
 * thread (marked "thread"), touch only the job and the thread's own
 * ngx_tunny_image_state_t, and call no nginx API (the pool's thread-side
 * state accessors aside); everything else runs in the event loop.
 * Ownership of the job: see ngx_http_tunny_image_common.h.
 */


#include "ngx_http_tunny_image_common.h"


/* per-thread scratch memory kept between jobs */
#define NGX_HTTP_TUNNY_IMAGE_STATE_CAP   (4 * 1024 * 1024)


static void ngx_http_tunny_image_resume(ngx_http_request_t *r,
    ngx_tunny_job_t *job, ngx_int_t rc);
static ngx_int_t ngx_http_tunny_image_result(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_tunny_job_t *job, ngx_int_t rc);
static void ngx_http_tunny_image_process(ngx_tunny_job_t *job,
    ngx_tunny_thread_t *thr);
static void ngx_http_tunny_image_job_free(ngx_tunny_job_t *job);
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


/* loop: move the input into a job and post it */

ngx_int_t
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
    j->info = ctx->info;

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

    j->rc = ngx_tunny_image_process(st, j->in, j->in_len, &j->info,
                                    &j->params, &j->res);

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
