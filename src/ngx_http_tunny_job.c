/*
 * ngx_tunny_module: the HTTP glue of a job: per-location admission (503 +
 * Retry-After), posting to the location's pool, the total time limit
 * (504), detaching the job when the client goes away, resuming the
 * waiting request, and recording the outcome for the variables and the
 * metrics.  Event loop only.  The ownership of a waiting request is
 * described at ngx_http_tunny_ctx_t in ngx_http_tunny_common.h.
 */

#include "ngx_http_tunny_common.h"


static void ngx_http_tunny_ctx_cleanup(void *data);
static ngx_int_t ngx_http_tunny_admission(ngx_http_request_t *r,
    ngx_http_tunny_loc_conf_t *tlcf, ngx_tunny_admission_t *adm);
static ngx_int_t ngx_http_tunny_refuse(ngx_http_request_t *r,
    ngx_tunny_pool_conf_t *pcf, ngx_uint_t reason, uint64_t wait_ns);
static void ngx_http_tunny_record_outcome(ngx_http_tunny_ctx_t *ctx,
    ngx_uint_t outcome, uint64_t t_post, uint64_t t_start, uint64_t t_end);
static void ngx_http_tunny_job_done(ngx_tunny_job_t *job);
static void ngx_http_tunny_timeout_handler(ngx_event_t *ev);
static void ngx_http_tunny_request_cleanup(void *data);
static void ngx_http_tunny_detach(ngx_http_tunny_ctx_t *ctx,
    ngx_uint_t outcome);


ngx_http_output_header_filter_pt  ngx_http_tunny_next_header_filter;


/* context ---------------------------------------------------------------- */

/*
 * The context lives in r->ctx and is also registered as a pool cleanup:
 * ngx_http_filter_finalize_request() zeroes r->ctx of every module but the
 * finalizing filter, and the variables must still find the outcome for
 * the access log.
 */

ngx_http_tunny_ctx_t *
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

/* what this request asks of its pool: the location's limits, its key */

static ngx_int_t
ngx_http_tunny_admission(ngx_http_request_t *r,
    ngx_http_tunny_loc_conf_t *tlcf, ngx_tunny_admission_t *adm)
{
    adm->queue_limit = tlcf->queue_limit;
    adm->key_limit = tlcf->fair_key_queue;
    adm->max_wait_ns = (uint64_t) tlcf->max_wait * 1000000;
    adm->cost = tlcf->cost;
    adm->continues = 0;

    ngx_str_set(&adm->key, "");

    if (tlcf->fair_key
        && ngx_http_complex_value(r, tlcf->fair_key, &adm->key) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (adm->key.len == 0) {
        ngx_str_set(&adm->key, "");
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_tunny_admit(ngx_http_request_t *r)
{
    uint64_t                    wait;
    ngx_uint_t                  rc;
    ngx_tunny_admission_t       adm;
    ngx_http_tunny_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    if (tlcf->pcf == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "tunny: no pool for this location "
                      "(ngx_http_tunny_use_pool() not called)");
        return NGX_ERROR;
    }

    if (ngx_http_tunny_admission(r, tlcf, &adm) != NGX_OK) {
        return NGX_ERROR;
    }

    wait = 0;

    rc = tlcf->pcf->tp ? ngx_tunny_pool_admit(tlcf->pcf->tp, &adm, &wait)
                       : NGX_TUNNY_REFUSED_CLOSED;

    if (rc == NGX_TUNNY_ADMITTED) {
        return NGX_OK;
    }

    return ngx_http_tunny_refuse(r, tlcf->pcf, rc, wait);
}


ngx_int_t
ngx_http_tunny_reserve(ngx_http_request_t *r, size_t size)
{
    ngx_int_t                   rc;
    ngx_http_tunny_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    if (tlcf->pcf == NULL) {
        /* a location that posts nothing (tunny_image size) has no budget */
        return NGX_OK;
    }

    if (tlcf->pcf->tp == NULL) {
        return ngx_http_tunny_refuse(r, tlcf->pcf, NGX_TUNNY_REFUSED_CLOSED,
                                     0);
    }

    rc = ngx_tunny_pool_reserve(tlcf->pcf->tp, size);

    if (rc == NGX_BUSY) {
        return ngx_http_tunny_refuse(r, tlcf->pcf, NGX_TUNNY_REFUSED_MEMORY,
                                     0);
    }

    return rc;
}


ngx_tunny_pool_conf_t *
ngx_http_tunny_pool_conf(ngx_http_request_t *r)
{
    ngx_http_tunny_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    return tlcf->pcf;
}


void
ngx_http_tunny_release(ngx_tunny_pool_conf_t *pcf, size_t size)
{
    if (size && pcf && pcf->tp) {
        ngx_tunny_pool_release(pcf->tp, size);
    }
}


ngx_int_t
ngx_http_tunny_post(ngx_http_request_t *r, ngx_tunny_job_t *job,
    ngx_tunny_pool_conf_t *pcf, ngx_uint_t continues,
    ngx_http_tunny_resume_pt resume)
{
    uint64_t                    wait;
    ngx_uint_t                  rc;
    ngx_connection_t           *c;
    ngx_http_cleanup_t         *cln;
    ngx_http_tunny_ctx_t       *ctx;
    ngx_tunny_admission_t       adm;
    ngx_http_tunny_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    if (pcf == NULL) {
        pcf = tlcf->pcf;
    }

    ctx = ngx_http_tunny_get_ctx(r, 1);
    if (ctx == NULL || ctx->job || pcf == NULL) {
        return NGX_ERROR;
    }

    ctx->pcf = pcf;

    if (pcf->tp == NULL) {
        /* no pool in this process: nginx -s reload in single process mode */
        return ngx_http_tunny_refuse(r, pcf, NGX_TUNNY_REFUSED_CLOSED, 0);
    }

    /* allocate everything that can fail before the job leaves our hands */

    if (ngx_http_tunny_admission(r, tlcf, &adm) != NGX_OK) {
        return NGX_ERROR;
    }

    adm.continues = continues;

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

    wait = 0;

    rc = ngx_tunny_job_post(pcf->tp, job, &adm, &wait);

    if (rc != NGX_TUNNY_ADMITTED) {
        job->data = NULL;
        return ngx_http_tunny_refuse(r, pcf, rc, wait);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tunny post job %p to pool \"%V\"", job, &ctx->pcf->name);

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

    /*
     * watch the client while the job waits or runs; then as before.
     *
     * Not while an upstream still runs (a filter posting as the body
     * streams in): it watches the client itself (proxy_ignore_client_abort)
     * and finalizes the request through its own finalization, which takes
     * its cleanup out first.  ngx_http_test_reading() would terminate the
     * request with that cleanup in place: run from
     * ngx_http_terminate_request(), it frees the request (the client's EOF
     * is seen), and the termination goes on in freed memory.
     */

    ctx->read_handler = r->read_event_handler;

    if (r->upstream && r->upstream->cleanup) {
        return NGX_OK;
    }

    if (tlcf->ignore_client_abort) {
        r->read_event_handler = ngx_http_block_reading;
        return NGX_OK;
    }

    r->read_event_handler = ngx_http_test_reading;

    /* an EOF that arrived before is not signalled again (EPOLLET) */

    if (c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }

    return NGX_OK;
}


/*
 * A refused request: 503, outcome "rejected" ("closed" when the pool is
 * not running), the reason counted and kept for $tunny_reject_reason;
 * Retry-After (added by the header filter) is the predicted wait when the
 * wait was the reason, tunny_retry_after otherwise.
 */

static ngx_int_t
ngx_http_tunny_refuse(ngx_http_request_t *r, ngx_tunny_pool_conf_t *pcf,
    ngx_uint_t reason, uint64_t wait_ns)
{
    ngx_http_tunny_ctx_t       *ctx;
    ngx_http_tunny_loc_conf_t  *tlcf;

    static const char  *why[] = {
        "", "queue is full", "predicted wait exceeds tunny_max_wait",
        "max_memory is reserved", "queue of this tunny_fair_key is full",
        "is not running"
    };

    ctx = ngx_http_tunny_get_ctx(r, 1);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    if (reason == NGX_TUNNY_REFUSED_WAIT) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tunny: pool \"%V\" %s (%uL ms > %M ms), answering 503",
                      &pcf->name, why[reason], wait_ns / 1000000,
                      tlcf->max_wait);

        ctx->retry_after = (time_t) ((wait_ns + 999999999) / 1000000000);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tunny: pool \"%V\" %s, answering 503", &pcf->name,
                      why[reason]);

        ctx->retry_after = tlcf->retry_after;
    }

    ctx->pcf = pcf;
    ctx->reject_reason = reason;

    ngx_tunny_stats_reject(pcf->index, reason);

    ngx_http_tunny_record_outcome(ctx, reason == NGX_TUNNY_REFUSED_CLOSED
                                       ? NGX_TUNNY_OUTCOME_CLOSED
                                       : NGX_TUNNY_OUTCOME_REJECTED,
                                  0, 0, 0);

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/*
 * Records the outcome of a request's job (once), for the variables and
 * the metrics.  t_post == 0: never queued; t_start == 0: never ran.
 */

static void
ngx_http_tunny_record_outcome(ngx_http_tunny_ctx_t *ctx, ngx_uint_t outcome,
    uint64_t t_post, uint64_t t_start, uint64_t t_end)
{
    ctx->outcome = outcome;

    if (t_post) {
        ctx->queue_ns = (t_start ? t_start : t_end) - t_post;
        ctx->run_ns = t_start ? t_end - t_start : NGX_TUNNY_STATS_NO_TIME;

    } else {
        ctx->queue_ns = NGX_TUNNY_STATS_NO_TIME;
        ctx->run_ns = NGX_TUNNY_STATS_NO_TIME;
    }

    ngx_tunny_stats_job(ctx->pcf->index, outcome,
                        ctx->queue_ns, ctx->run_ns);
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
    r->read_event_handler = ctx->read_handler;

    ngx_http_tunny_record_outcome(ctx, job->failed ? NGX_TUNNY_OUTCOME_ERROR
                                           : NGX_TUNNY_OUTCOME_OK,
                          job->t_post, job->t_start, job->t_end);

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
                  &ctx->pcf->name);

    ctx->cleanup->handler = NULL;
    r->read_event_handler = ctx->read_handler;

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
    t_start = ngx_tunny_job_started(job);

    (void) ngx_tunny_job_cancel(job);

    ngx_http_tunny_record_outcome(ctx, outcome, t_post, t_start,
                                  ngx_tunny_now_ns());
}


ngx_int_t
ngx_http_tunny_header_filter(ngx_http_request_t *r)
{
    ngx_table_elt_t       *h;
    ngx_http_tunny_ctx_t  *ctx;

    if (r->headers_out.status != NGX_HTTP_SERVICE_UNAVAILABLE) {
        return ngx_http_tunny_next_header_filter(r);
    }

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL
        || (ctx->outcome != NGX_TUNNY_OUTCOME_REJECTED
            && ctx->outcome != NGX_TUNNY_OUTCOME_CLOSED))
    {
        return ngx_http_tunny_next_header_filter(r);
    }

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

    h->value.len = ngx_sprintf(h->value.data, "%T", ctx->retry_after)
                   - h->value.data;

    return ngx_http_tunny_next_header_filter(r);
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


void
ngx_http_tunny_count_bytes(ngx_http_request_t *r, size_t in, size_t out)
{
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx && ctx->pcf) {
        ngx_tunny_stats_bytes(ctx->pcf->index, in, out);
    }
}


ngx_tunny_pool_conf_t *
ngx_http_tunny_pool_lookup(ngx_conf_t *cf, ngx_str_t *name)
{
    return ngx_tunny_pool_use(cf, name);
}
