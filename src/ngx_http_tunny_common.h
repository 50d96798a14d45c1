/*
 * ngx_tunny_module: the HTTP glue's private header, shared by
 *
 *   ngx_http_tunny_module.c      module, directives, location configuration
 *   ngx_http_tunny_job.c         admission, posting, deadline, client abort,
 *                                outcomes
 *   ngx_http_tunny_task.c        tasks: the public API (ngx_http_tunny.h)
 *                                over jobs
 *   ngx_http_tunny_variables.c   $tunny_* variables
 *   ngx_http_tunny_burn.c        tunny_burn (a diagnostic CPU load)
 *   ngx_http_tunny_status.c      tunny_status (metrics and health)
 *
 * Everything here runs in the event loop, except the run() of tasks
 * (ngx_http_tunny_burn_run(), ngx_http_tunny_task_process()), which run
 * in a pool thread.
 */

#ifndef _NGX_HTTP_TUNNY_COMMON_H_INCLUDED_
#define _NGX_HTTP_TUNNY_COMMON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_tunny_module.h"
#include "ngx_tunny_stats.h"
#include "ngx_http_tunny.h"


/*
 * Called once per posted job, in the event loop, with the request's log
 * set:
 *   rc == NGX_OK: the job finished; job is handed back to the caller, who
 *       reads its results and releases it with ngx_tunny_job_free();
 *   rc == NGX_HTTP_GATEWAY_TIME_OUT: tunny_timeout expired; job is NULL
 *       (the glue already detached it).
 * Not called when the request terminates first (client abort, shutdown):
 * the glue detaches the job then.
 */
typedef void (*ngx_http_tunny_resume_pt)(ngx_http_request_t *r,
    ngx_tunny_job_t *job, ngx_int_t rc);


#define NGX_HTTP_TUNNY_STATUS_OFF      0
#define NGX_HTTP_TUNNY_STATUS_METRICS  1
#define NGX_HTTP_TUNNY_STATUS_HEALTH   2


typedef struct {
    ngx_tunny_pool_conf_t      *pcf;
    ngx_flag_t                  needs_pool;
    ngx_uint_t                  queue_limit;
    ngx_msec_t                  timeout;
    time_t                      retry_after;
    ngx_flag_t                  ignore_client_abort;
    ngx_msec_t                  max_wait;   /* 0: off */
    ngx_http_complex_value_t   *fair_key;
    ngx_uint_t                  fair_key_queue;
    ngx_tunny_cost_t           *cost;       /* of this location's jobs */
    ngx_msec_t                  burn;
    ngx_http_complex_value_t   *burn_cv;
    ngx_uint_t                  status;
} ngx_http_tunny_loc_conf_t;


/*
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

typedef struct {
    ngx_http_request_t         *request;
    ngx_tunny_job_t            *job;        /* attached job, or NULL */
    ngx_http_tunny_resume_pt    resume;
    ngx_http_tunny_done_pt      done;       /* of a task */
    ngx_http_event_handler_pt   read_handler; /* before the job */
    ngx_event_t                 timer;      /* tunny_timeout */
    ngx_http_cleanup_t         *cleanup;
    ngx_tunny_pool_conf_t      *pcf;

    ngx_uint_t                  outcome;    /* NGX_TUNNY_OUTCOME_* */
    ngx_uint_t                  reject_reason; /* NGX_TUNNY_REFUSED_* */
    time_t                      retry_after;
    uint64_t                    queue_ns;   /* or NGX_TUNNY_STATS_NO_TIME */
    uint64_t                    run_ns;
    ngx_str_t                   error;
} ngx_http_tunny_ctx_t;


/* ngx_http_tunny_job.c */

/*
 * The request's context, found again after ngx_http_filter_finalize_request()
 * zeroed r->ctx; created if create is set.  NULL: none, or out of memory.
 */
ngx_http_tunny_ctx_t *ngx_http_tunny_get_ctx(ngx_http_request_t *r,
    ngx_uint_t create);

/* Retry-After on the 503 of a refused job, whichever module sends it */
ngx_int_t ngx_http_tunny_header_filter(ngx_http_request_t *r);
extern ngx_http_output_header_filter_pt  ngx_http_tunny_next_header_filter;


/*
 * Admit (continues: only a stopped pool refuses) and post the job to pcf
 * (NULL: the location's pool), arm the
 * tunny_timeout timer, watch the client connection and register the
 * detach cleanup; resume() is called once unless the request terminates
 * first.  NGX_OK, NGX_HTTP_SERVICE_UNAVAILABLE (refused; the job is still
 * the caller's) or NGX_ERROR.
 */
ngx_int_t ngx_http_tunny_post(ngx_http_request_t *r, ngx_tunny_job_t *job,
    ngx_tunny_pool_conf_t *pcf, ngx_uint_t continues,
    ngx_http_tunny_resume_pt resume);


/* ngx_http_tunny_variables.c: preconfiguration */
ngx_int_t ngx_http_tunny_add_variables(ngx_conf_t *cf);


/* ngx_http_tunny_burn.c, ngx_http_tunny_status.c: content handlers */
ngx_int_t ngx_http_tunny_burn_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_tunny_status_handler(ngx_http_request_t *r);


/* ngx_http_tunny_module.c: send a complete in-memory response */
ngx_int_t ngx_http_tunny_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b);


#endif /* _NGX_HTTP_TUNNY_COMMON_H_INCLUDED_ */
