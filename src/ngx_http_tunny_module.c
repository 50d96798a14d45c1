/*
 * ngx_tunny_module: HTTP glue.
 *
 * Per-location pool configuration, admission (503 + Retry-After), the
 * total time limit (504), detaching jobs when the client goes away, the
 * resumption of waiting requests, the $tunny_* variables, and two content
 * handlers: tunny_burn (diagnostic CPU load) and tunny_status (metrics and
 * health).
 *
 * Everything in this file runs in the event loop, except
 * ngx_http_tunny_burn_process(), which runs in a pool thread and touches
 * only its job.
 *
 * A waiting request owns: its context (r->pool), the deadline timer in
 * the context, a request cleanup that detaches the job.  The job is owned
 * by the pool from post to completion; ctx->job points to it while the
 * request waits, job->data points back to the context.  Either side can
 * end first:
 *   job done first:      completion clears ctx->job, deletes the timer,
 *                        disarms the cleanup and resumes the request;
 *   deadline first:      the timer handler detaches the job (it becomes an
 *                        orphan or is dropped from the queue) and resumes
 *                        the request with 504;
 *   request ends first:  the cleanup detaches the job and deletes the
 *                        timer.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_tunny_module.h"
#include "ngx_tunny_stats.h"
#include "ngx_http_tunny_module.h"


#define NGX_HTTP_TUNNY_STATUS_OFF      0
#define NGX_HTTP_TUNNY_STATUS_METRICS  1
#define NGX_HTTP_TUNNY_STATUS_HEALTH   2



typedef struct {
    ngx_tunny_pool_conf_t      *pool;
    ngx_flag_t                  needs_pool;
    ngx_uint_t                  queue_limit;
    ngx_msec_t                  timeout;
    time_t                      retry_after;
    ngx_flag_t                  ignore_client_abort;
    ngx_msec_t                  burn;
    ngx_uint_t                  status;
} ngx_http_tunny_loc_conf_t;


typedef struct {
    ngx_http_request_t         *request;
    ngx_tunny_job_t            *job;        /* attached job, or NULL */
    ngx_http_tunny_resume_pt    resume;
    ngx_event_t                 timer;      /* tunny_timeout */
    ngx_http_cleanup_t         *cleanup;
    ngx_tunny_pool_conf_t      *pool;

    ngx_uint_t                  outcome;    /* NGX_TUNNY_OUTCOME_* */
    uint64_t                    queue_ns;   /* or NGX_TUNNY_STATS_NO_TIME */
    uint64_t                    run_ns;
    ngx_str_t                   error;
} ngx_http_tunny_ctx_t;


typedef struct {
    ngx_tunny_job_t             job;        /* first: the pool's part */
    uint64_t                    ns;
    ngx_str_t                   pool;
} ngx_http_tunny_burn_job_t;


static ngx_http_tunny_ctx_t *ngx_http_tunny_get_ctx(ngx_http_request_t *r,
    ngx_uint_t create);
static void ngx_http_tunny_ctx_cleanup(void *data);
static void ngx_http_tunny_finish(ngx_http_tunny_ctx_t *ctx,
    ngx_uint_t outcome, uint64_t t_post, uint64_t t_start, uint64_t t_end,
    size_t bytes_in, size_t bytes_out);
static void ngx_http_tunny_job_done(ngx_tunny_job_t *job);
static void ngx_http_tunny_timeout_handler(ngx_event_t *ev);
static void ngx_http_tunny_request_cleanup(void *data);
static void ngx_http_tunny_detach(ngx_http_tunny_ctx_t *ctx,
    ngx_uint_t outcome);
static ngx_int_t ngx_http_tunny_refuse(ngx_http_request_t *r,
    ngx_http_tunny_ctx_t *ctx, ngx_tunny_pool_conf_t *pcf,
    ngx_uint_t outcome);

static ngx_int_t ngx_http_tunny_burn_handler(ngx_http_request_t *r);
static void ngx_http_tunny_burn_process(ngx_tunny_job_t *job,
    ngx_tunny_thread_t *thr);
static void ngx_http_tunny_burn_resume(ngx_http_request_t *r,
    ngx_tunny_job_t *job, ngx_int_t rc);
static ngx_int_t ngx_http_tunny_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_tunny_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, ngx_buf_t *b);

static ngx_int_t ngx_http_tunny_header_filter(ngx_http_request_t *r);

static ngx_int_t ngx_http_tunny_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_tunny_set_variable(ngx_http_variable_value_t *v,
    u_char *data, size_t len);
static ngx_int_t ngx_http_tunny_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tunny_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tunny_pool_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tunny_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static void *ngx_http_tunny_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tunny_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tunny_offload(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tunny_burn(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tunny_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_tunny_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_tunny_commands[] = {

    { ngx_string("tunny_offload"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_offload,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_queue_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, queue_limit),
      NULL },

    { ngx_string("tunny_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, timeout),
      NULL },

    { ngx_string("tunny_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, retry_after),
      NULL },

    { ngx_string("tunny_ignore_client_abort"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, ignore_client_abort),
      NULL },

    { ngx_string("tunny_burn"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_burn,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_tunny_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tunny_module_ctx = {
    ngx_http_tunny_add_variables,          /* preconfiguration */
    ngx_http_tunny_init,                   /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tunny_create_loc_conf,        /* create location configuration */
    ngx_http_tunny_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_tunny_module = {
    NGX_MODULE_V1,
    &ngx_http_tunny_module_ctx,            /* module context */
    ngx_http_tunny_commands,               /* module directives */
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


static ngx_http_variable_t  ngx_http_tunny_vars[] = {

    { ngx_string("tunny_outcome"), NULL, ngx_http_tunny_outcome_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_queue_time"), NULL, ngx_http_tunny_time_variable,
      offsetof(ngx_http_tunny_ctx_t, queue_ns), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_run_time"), NULL, ngx_http_tunny_time_variable,
      offsetof(ngx_http_tunny_ctx_t, run_ns), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_pool"), NULL, ngx_http_tunny_pool_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_error"), NULL, ngx_http_tunny_error_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


/* context ---------------------------------------------------------------- */

/*
 * The context lives in r->ctx and is also registered as a pool cleanup:
 * ngx_http_filter_finalize_request() zeroes r->ctx of every module but the
 * finalizing filter, and the variables must still find the outcome for
 * the access log.
 */

static ngx_http_tunny_ctx_t *
ngx_http_tunny_get_ctx(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_module);
    if (ctx) {
        return ctx;
    }

    if (r->filter_finalize) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_tunny_ctx_cleanup) {
                ctx = cln->data;

                if (ctx->request == r) {
                    ngx_http_set_ctx(r, ctx, ngx_http_tunny_module);
                    return ctx;
                }
            }
        }
    }

    if (!create) {
        return NULL;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tunny_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_tunny_ctx_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ctx->queue_ns = NGX_TUNNY_STATS_NO_TIME;
    ctx->run_ns = NGX_TUNNY_STATS_NO_TIME;

    ngx_http_set_ctx(r, ctx, ngx_http_tunny_module);

    return ctx;
}


static void
ngx_http_tunny_ctx_cleanup(void *data)
{
    /* only a marker for ngx_http_tunny_get_ctx() */
}


/* admission and posting ---------------------------------------------------- */

ngx_int_t
ngx_http_tunny_admit(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_tunny_pool_t           *pool;
    ngx_http_tunny_ctx_t       *ctx;
    ngx_http_tunny_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    if (tlcf->pool == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tunny: no pool for this location "
                      "(ngx_http_tunny_use_pool() not called)");
        return NGX_ERROR;
    }

    pool = tlcf->pool->pool;

    rc = pool ? ngx_tunny_pool_admits(pool, tlcf->queue_limit) : NGX_DECLINED;

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    ctx = ngx_http_tunny_get_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_tunny_refuse(r, ctx, tlcf->pool,
                                 rc == NGX_BUSY ? NGX_TUNNY_OUTCOME_REJECTED
                                                : NGX_TUNNY_OUTCOME_CLOSED);
}


ngx_int_t
ngx_http_tunny_post(ngx_http_request_t *r, ngx_tunny_job_t *job,
    ngx_http_tunny_resume_pt resume)
{
    ngx_int_t                   rc;
    ngx_connection_t           *c;
    ngx_tunny_pool_t           *pool;
    ngx_http_cleanup_t         *cln;
    ngx_http_tunny_ctx_t       *ctx;
    ngx_http_tunny_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    ctx = ngx_http_tunny_get_ctx(r, 1);
    if (ctx == NULL || ctx->job || tlcf->pool == NULL) {
        return NGX_ERROR;
    }

    ctx->pool = tlcf->pool;

    pool = tlcf->pool->pool;

    if (pool == NULL) {
        /* no pool in this process: nginx -s reload in single process mode */
        return ngx_http_tunny_refuse(r, ctx, tlcf->pool,
                                     NGX_TUNNY_OUTCOME_CLOSED);
    }

    /* allocate everything that can fail before the job leaves our hands */

    if (ctx->cleanup == NULL) {
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        ctx->cleanup = cln;
    }

    ctx->cleanup->handler = NULL;

    job->data = ctx;
    job->complete = ngx_http_tunny_job_done;

    rc = ngx_tunny_job_post(pool, job, tlcf->queue_limit);

    if (rc != NGX_OK) {
        job->data = NULL;
        return ngx_http_tunny_refuse(r, ctx, tlcf->pool,
                                     rc == NGX_BUSY
                                     ? NGX_TUNNY_OUTCOME_REJECTED
                                     : NGX_TUNNY_OUTCOME_CLOSED);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tunny post job %p to pool \"%V\"", job, &ctx->pool->name);

    ctx->job = job;
    ctx->resume = resume;
    ctx->outcome = NGX_TUNNY_OUTCOME_NONE;

    ctx->cleanup->handler = ngx_http_tunny_request_cleanup;
    ctx->cleanup->data = ctx;

    /* the deadline; it also keeps a gracefully exiting worker alive */

    c = r->connection;

    ctx->timer.handler = ngx_http_tunny_timeout_handler;
    ctx->timer.data = ctx;
    ctx->timer.log = c->log;

    ngx_add_timer(&ctx->timer, tlcf->timeout);

    /* watch the client while the job waits or runs */

    if (tlcf->ignore_client_abort) {
        r->read_event_handler = ngx_http_block_reading;

    } else {
        r->read_event_handler = ngx_http_test_reading;

        /* an EOF that arrived before is not signalled again (EPOLLET) */

        if (c->read->ready) {
            ngx_post_event(c->read, &ngx_posted_events);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_refuse(ngx_http_request_t *r, ngx_http_tunny_ctx_t *ctx,
    ngx_tunny_pool_conf_t *pcf, ngx_uint_t outcome)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "tunny: pool \"%V\" %s, answering 503", &pcf->name,
                  outcome == NGX_TUNNY_OUTCOME_REJECTED
                  ? "queue is full" : "is not running");

    ctx->pool = pcf;

    /* the header filter adds Retry-After to the 503 */

    ngx_http_tunny_finish(ctx, outcome, 0, 0, 0, 0, 0);

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/*
 * Records the outcome of a request's job (once), for the variables and
 * the metrics.  t_post == 0: never queued; t_start == 0: never ran.
 */

static void
ngx_http_tunny_finish(ngx_http_tunny_ctx_t *ctx, ngx_uint_t outcome,
    uint64_t t_post, uint64_t t_start, uint64_t t_end, size_t bytes_in,
    size_t bytes_out)
{
    ctx->outcome = outcome;

    if (t_post) {
        ctx->queue_ns = (t_start ? t_start : t_end) - t_post;
        ctx->run_ns = t_start ? t_end - t_start : NGX_TUNNY_STATS_NO_TIME;

    } else {
        ctx->queue_ns = NGX_TUNNY_STATS_NO_TIME;
        ctx->run_ns = NGX_TUNNY_STATS_NO_TIME;
    }

    ngx_tunny_stats_job(ctx->pool->index, outcome,
                        ctx->queue_ns, ctx->run_ns, bytes_in, bytes_out);
}


/* completion, deadline, abort ---------------------------------------------- */

static void
ngx_http_tunny_job_done(ngx_tunny_job_t *job)
{
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = job->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "tunny job %p done", job);

    ctx->job = NULL;
    job->data = NULL;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ctx->cleanup->handler = NULL;

    ngx_http_tunny_finish(ctx, job->failed ? NGX_TUNNY_OUTCOME_ERROR
                                           : NGX_TUNNY_OUTCOME_OK,
                          job->t_post, job->t_start, job->t_end,
                          job->bytes_in, job->bytes_out);

    ctx->resume(r, job, NGX_OK);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_tunny_timeout_handler(ngx_event_t *ev)
{
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ev->data;
    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "tunny: job timed out in pool \"%V\", answering 504",
                  &ctx->pool->name);

    ctx->cleanup->handler = NULL;

    ngx_http_tunny_detach(ctx, NGX_TUNNY_OUTCOME_TIMEOUT);

    ctx->resume(r, NULL, NGX_HTTP_GATEWAY_TIME_OUT);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_tunny_request_cleanup(void *data)
{
    ngx_http_tunny_ctx_t  *ctx = data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->request->connection->log, 0,
                   "tunny request gone, detaching job %p", ctx->job);

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ngx_http_tunny_detach(ctx, NGX_TUNNY_OUTCOME_CANCELLED);
}


/* queued: the job is dropped and never runs; running: it is flagged */

static void
ngx_http_tunny_detach(ngx_http_tunny_ctx_t *ctx, ngx_uint_t outcome)
{
    uint64_t          t_post, t_start;
    ngx_tunny_job_t  *job;

    job = ctx->job;

    if (job == NULL) {
        return;
    }

    ctx->job = NULL;
    t_post = job->t_post;

    (void) ngx_tunny_job_cancel(job, &t_start);

    ngx_http_tunny_finish(ctx, outcome, t_post, t_start, ngx_tunny_now_ns(),
                          0, 0);
}


/* Retry-After on the 503 of a refused job, whichever module sends it */

static ngx_int_t
ngx_http_tunny_header_filter(ngx_http_request_t *r)
{
    ngx_table_elt_t            *h;
    ngx_http_tunny_ctx_t       *ctx;
    ngx_http_tunny_loc_conf_t  *tlcf;

    if (r->headers_out.status != NGX_HTTP_SERVICE_UNAVAILABLE) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL
        || (ctx->outcome != NGX_TUNNY_OUTCOME_REJECTED
            && ctx->outcome != NGX_TUNNY_OUTCOME_CLOSED))
    {
        return ngx_http_next_header_filter(r);
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");

    h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%T", tlcf->retry_after)
                   - h->value.data;

    return ngx_http_next_header_filter(r);
}


void
ngx_http_tunny_set_error(ngx_http_request_t *r, const char *reason)
{
    size_t                 len;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 1);
    if (ctx == NULL || ctx->error.len) {
        return;
    }

    len = ngx_strlen(reason);

    ctx->error.data = ngx_pnalloc(r->pool, len);
    if (ctx->error.data == NULL) {
        return;
    }

    ngx_memcpy(ctx->error.data, reason, len);
    ctx->error.len = len;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "%V", &ctx->error);
}


/* tunny_burn --------------------------------------------------------------- */

static ngx_int_t
ngx_http_tunny_burn_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_tunny_burn_job_t  *bj;
    ngx_http_tunny_loc_conf_t  *tlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    /* the job owns a copy of everything the thread reads */

    bj = ngx_alloc(sizeof(ngx_http_tunny_burn_job_t) + tlcf->pool->name.len,
                   r->connection->log);
    if (bj == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(bj, sizeof(ngx_http_tunny_burn_job_t));

    bj->job.process = ngx_http_tunny_burn_process;
    bj->ns = (uint64_t) tlcf->burn * 1000000;
    bj->pool.len = tlcf->pool->name.len;
    bj->pool.data = (u_char *) bj + sizeof(ngx_http_tunny_burn_job_t);
    ngx_memcpy(bj->pool.data, tlcf->pool->name.data, bj->pool.len);

    rc = ngx_http_tunny_post(r, &bj->job, ngx_http_tunny_burn_resume);

    if (rc != NGX_OK) {
        ngx_free(bj);
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    r->main->count++;

    return NGX_DONE;
}


/* thread: spin for the configured time, looking at the cancel flag */

static void
ngx_http_tunny_burn_process(ngx_tunny_job_t *job, ngx_tunny_thread_t *thr)
{
    ngx_http_tunny_burn_job_t *bj = (ngx_http_tunny_burn_job_t *) job;

    uint64_t  end;

    end = ngx_tunny_now_ns() + bj->ns;

    while (ngx_tunny_now_ns() < end) {
        if (ngx_tunny_job_cancelled(job)) {
            job->failed = 1;
            return;
        }
    }
}


static void
ngx_http_tunny_burn_resume(ngx_http_request_t *r, ngx_tunny_job_t *job,
    ngx_int_t rc)
{
    ngx_buf_t                  *b;
    ngx_str_t                   type = ngx_string("text/plain");
    ngx_http_tunny_burn_job_t  *bj;

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    bj = (ngx_http_tunny_burn_job_t *) job;

    b = ngx_create_temp_buf(r->pool, sizeof("tunny_burn: pool \"\" ms\n")
                                     + bj->pool.len + NGX_INT64_LEN);
    if (b == NULL) {
        ngx_tunny_job_free(job);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->last = ngx_sprintf(b->last, "tunny_burn: pool \"%V\" %uL ms\n",
                          &bj->pool, bj->ns / 1000000);

    ngx_tunny_job_free(job);

    ngx_http_finalize_request(r, ngx_http_tunny_send(r, NGX_HTTP_OK, &type,
                                                     b));
}


/* sends a complete in-memory response; returns a code for finalize */

static ngx_int_t
ngx_http_tunny_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* tunny_status ------------------------------------------------------------- */

static ngx_int_t
ngx_http_tunny_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   arg, reason, type;
    ngx_buf_t                  *b;
    ngx_uint_t                  json;
    ngx_http_tunny_loc_conf_t  *tlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    if (tlcf->status == NGX_HTTP_TUNNY_STATUS_HEALTH) {

        rc = ngx_tunny_stats_health(r->pool, &reason);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_str_set(&reason, "ok");
            rc = NGX_OK;
        }

        b = ngx_create_temp_buf(r->pool, reason.len + 1);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last = ngx_cpymem(b->last, reason.data, reason.len);
        *b->last++ = '\n';

        ngx_str_set(&type, "text/plain");

        return ngx_http_tunny_send(r, rc == NGX_OK
                                      ? NGX_HTTP_OK
                                      : NGX_HTTP_SERVICE_UNAVAILABLE,
                                   &type, b);
    }

    json = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK
        && arg.len == 4 && ngx_strncmp(arg.data, "json", 4) == 0)
    {
        json = 1;
    }

    if (ngx_tunny_stats_render(r->pool, json, &b) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json) {
        ngx_str_set(&type, NGX_TUNNY_STATS_JSON_TYPE);

    } else {
        ngx_str_set(&type, NGX_TUNNY_STATS_PROMETHEUS_TYPE);
    }

    return ngx_http_tunny_send(r, NGX_HTTP_OK, &type, b);
}


/* variables ---------------------------------------------------------------- */

static ngx_int_t
ngx_http_tunny_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_tunny_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_set_variable(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *name;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->outcome == NGX_TUNNY_OUTCOME_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = &ngx_tunny_outcome_names[ctx->outcome];

    return ngx_http_tunny_set_variable(v, name->data, name->len);
}


/* seconds with millisecond precision, "-" when the phase did not happen */

static ngx_int_t
ngx_http_tunny_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    uint64_t               ns, ms;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->outcome == NGX_TUNNY_OUTCOME_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    ns = *(uint64_t *) ((char *) ctx + data);

    if (ns == NGX_TUNNY_STATS_NO_TIME) {
        return ngx_http_tunny_set_variable(v, (u_char *) "-", 1);
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ms = (ns + 500000) / 1000000;

    return ngx_http_tunny_set_variable(v, p,
                                       ngx_sprintf(p, "%uL.%03uL", ms / 1000,
                                                   ms % 1000) - p);
}


static ngx_int_t
ngx_http_tunny_pool_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->pool == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_tunny_set_variable(v, ctx->pool->name.data,
                                       ctx->pool->name.len);
}


static ngx_int_t
ngx_http_tunny_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->error.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_tunny_set_variable(v, ctx->error.data, ctx->error.len);
}


/* configuration ------------------------------------------------------------ */

static void *
ngx_http_tunny_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tunny_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tunny_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->status = NGX_HTTP_TUNNY_STATUS_OFF;
     */

    conf->pool = NGX_CONF_UNSET_PTR;
    conf->needs_pool = NGX_CONF_UNSET;
    conf->queue_limit = NGX_CONF_UNSET_UINT;
    conf->timeout = NGX_CONF_UNSET_MSEC;
    conf->retry_after = NGX_CONF_UNSET;
    conf->ignore_client_abort = NGX_CONF_UNSET;
    conf->burn = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_http_tunny_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tunny_loc_conf_t *prev = parent;
    ngx_http_tunny_loc_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->pool, prev->pool, NULL);
    ngx_conf_merge_value(conf->needs_pool, prev->needs_pool, 0);

    /* the default pool exists only if something uses it */

    if (conf->pool == NULL && conf->needs_pool) {
        conf->pool = ngx_tunny_pool_use(cf, NULL);
        if (conf->pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ngx_conf_merge_uint_value(conf->queue_limit, prev->queue_limit,
                              NGX_MAX_UINT32_VALUE);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 30000);
    ngx_conf_merge_value(conf->retry_after, prev->retry_after, 1);
    ngx_conf_merge_value(conf->ignore_client_abort,
                         prev->ignore_client_abort, 0);

    if (conf->timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tunny_timeout must be greater than 0");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_offload(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_loc_conf_t *tlcf = conf;

    ngx_str_t  *value;

    if (tlcf->pool != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    tlcf->pool = ngx_tunny_pool_use(cf, &value[1]);
    if (tlcf->pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_burn(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_loc_conf_t *tlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (tlcf->burn != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    tlcf->burn = ngx_parse_time(&value[1], 0);
    if (tlcf->burn == (ngx_msec_t) NGX_ERROR) {
        return "invalid value";
    }

    tlcf->needs_pool = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tunny_burn_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_loc_conf_t *tlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (tlcf->status != NGX_HTTP_TUNNY_STATUS_OFF) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 1
        || ngx_strcmp(value[1].data, "metrics") == 0)
    {
        tlcf->status = NGX_HTTP_TUNNY_STATUS_METRICS;

    } else if (ngx_strcmp(value[1].data, "health") == 0) {
        tlcf->status = NGX_HTTP_TUNNY_STATUS_HEALTH;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", "
                           "expected \"metrics\" or \"health\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tunny_status_handler;

    return NGX_CONF_OK;
}


void
ngx_http_tunny_use_pool(ngx_conf_t *cf)
{
    ngx_http_tunny_loc_conf_t  *tlcf;

    tlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_tunny_module);
    tlcf->needs_pool = 1;
}


static ngx_int_t
ngx_http_tunny_init(ngx_conf_t *cf)
{
    if (ngx_tunny_stats_add_zone(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tunny_header_filter;

    return NGX_OK;
}
