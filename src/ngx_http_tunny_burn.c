/*
 * ngx_tunny_module: tunny_burn, a content handler whose job spins on the
 * pool for the configured time: a diagnostic CPU load for tests and
 * benchmarks, and the smallest complete user of the task API
 * (ngx_http_tunny.h).  ngx_http_tunny_burn_run() runs in a pool thread
 * and touches only its data; the rest runs in the event loop.
 */

#include "ngx_http_tunny_common.h"


typedef struct {
    uint64_t                    ns;         /* the thread's copy */
} ngx_http_tunny_burn_t;


static ngx_int_t ngx_http_tunny_burn_run(ngx_http_tunny_task_t *task,
    void *data);
static void ngx_http_tunny_burn_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc);


ngx_int_t
ngx_http_tunny_burn_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   value;
    ngx_msec_t                  ms;
    ngx_http_tunny_task_t      *task;
    ngx_http_tunny_burn_t      *burn;
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

    task = ngx_http_tunny_task_create(r, sizeof(ngx_http_tunny_burn_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    task->run = ngx_http_tunny_burn_run;
    task->done = ngx_http_tunny_burn_done;

    burn = task->data;
    burn->ns = (uint64_t) ms * 1000000;

    rc = ngx_http_tunny_task_post(r, task);

    if (rc != NGX_OK) {
        ngx_http_tunny_task_destroy(task);
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    r->main->count++;

    return NGX_DONE;
}


/* thread: spin for the configured time, looking at the cancel flag */

static ngx_int_t
ngx_http_tunny_burn_run(ngx_http_tunny_task_t *task, void *data)
{
    ngx_http_tunny_burn_t *burn = data;

    uint64_t  end;

    end = ngx_tunny_now_ns() + burn->ns;

    while (ngx_tunny_now_ns() < end) {
        if (ngx_http_tunny_task_cancelled(task)) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_tunny_burn_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_buf_t                  *b;
    ngx_str_t                   type = ngx_string("text/plain");
    ngx_http_tunny_burn_t      *burn;
    ngx_http_tunny_loc_conf_t  *tlcf;

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc == NGX_ERROR
                                     ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc);
        return;
    }

    burn = data;
    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    b = ngx_create_temp_buf(r->pool, sizeof("tunny_burn: pool \"\" ms\n")
                                     + tlcf->pcf->name.len + NGX_INT64_LEN);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->last = ngx_sprintf(b->last, "tunny_burn: pool \"%V\" %uL ms\n",
                          &tlcf->pcf->name, burn->ns / 1000000);

    ngx_http_finalize_request(r, ngx_http_tunny_send(r, NGX_HTTP_OK, &type,
                                                     b));
}
