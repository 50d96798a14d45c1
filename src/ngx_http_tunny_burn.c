/*
 * ngx_tunny_module: tunny_burn, a content handler whose job spins on the
 * pool for the configured time: a diagnostic CPU load for tests and
 * benchmarks, and the smallest complete user of ngx_http_tunny_post().
 * ngx_http_tunny_burn_process() runs in a pool thread and touches only
 * its job; the rest runs in the event loop.
 */

#include "ngx_http_tunny_common.h"


typedef struct {
    ngx_tunny_job_t             job;        /* first: the pool's part */
    uint64_t                    ns;
    ngx_str_t                   pool;
} ngx_http_tunny_burn_job_t;


static void ngx_http_tunny_burn_process(ngx_tunny_job_t *job,
    ngx_tunny_thread_t *thr);
static void ngx_http_tunny_burn_resume(ngx_http_request_t *r,
    ngx_tunny_job_t *job, ngx_int_t rc);


ngx_int_t
ngx_http_tunny_burn_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   value;
    ngx_msec_t                  ms;
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

    ms = tlcf->burn;

    if (tlcf->burn_cv) {
        if (ngx_http_complex_value(r, tlcf->burn_cv, &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ms = ngx_parse_time(&value, 0);

        if (ms == (ngx_msec_t) NGX_ERROR) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "tunny_burn: invalid time \"%V\"", &value);
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    /* the job owns a copy of everything the thread reads */

    bj = ngx_alloc(sizeof(ngx_http_tunny_burn_job_t) + tlcf->pcf->name.len,
                   r->connection->log);
    if (bj == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(bj, sizeof(ngx_http_tunny_burn_job_t));

    bj->job.process = ngx_http_tunny_burn_process;
    bj->ns = (uint64_t) ms * 1000000;
    bj->pool.len = tlcf->pcf->name.len;
    bj->pool.data = (u_char *) bj + sizeof(ngx_http_tunny_burn_job_t);
    ngx_memcpy(bj->pool.data, tlcf->pcf->name.data, bj->pool.len);

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
