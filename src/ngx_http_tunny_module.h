/*
 * ngx_tunny_module: HTTP glue shared by the content handlers and the
 * image filter.  Everything here runs in the event loop.
 */

#ifndef _NGX_HTTP_TUNNY_MODULE_H_INCLUDED_
#define _NGX_HTTP_TUNNY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_tunny_pool.h"


/*
 * Called once per posted job, in the event loop, with the request's log
 * set:
 *   rc == NGX_OK: the job finished; job is handed back to the caller, who
 *       reads its results and releases it with ngx_tunny_job_free();
 *   rc == NGX_HTTP_GATEWAY_TIME_OUT: tunny_timeout expired; job is NULL
 *       (the glue already detached it).
 * The caller then produces the response and finalizes the request in the
 * way its phase requires (content handler or filter).
 * Not called when the request terminates first (client abort, shutdown):
 * the glue detaches the job then.
 */
typedef void (*ngx_http_tunny_resume_pt)(ngx_http_request_t *r,
    ngx_tunny_job_t *job, ngx_int_t rc);


/*
 * Admission check only, before the big buffers are allocated.
 * Returns NGX_OK, or NGX_HTTP_SERVICE_UNAVAILABLE with Retry-After set on
 * r->headers_out and the outcome recorded as "rejected" (or "closed").
 */
ngx_int_t ngx_http_tunny_admit(ngx_http_request_t *r);

/*
 * Admit and post the job to the location's pool, arm the tunny_timeout
 * timer, watch the client connection and register the detach cleanup.
 * Returns:
 *   NGX_OK: the request waits; resume() will be called exactly once
 *       unless the request terminates first; the job belongs to the pool;
 *   NGX_HTTP_SERVICE_UNAVAILABLE: refused (Retry-After set); the job is
 *       still the caller's;
 *   NGX_ERROR.
 * job->process and job->free must be set; data/complete are the glue's.
 */
ngx_int_t ngx_http_tunny_post(ngx_http_request_t *r, ngx_tunny_job_t *job,
    ngx_http_tunny_resume_pt resume);

/*
 * The memory budget of the location's pool (tunny_pool max_memory=), for
 * buffers a request holds for its job.  Returns NGX_OK (reserved: pair it
 * with ngx_http_tunny_release()), NGX_HTTP_SERVICE_UNAVAILABLE (refused
 * now, outcome "rejected", reason "memory", Retry-After set), NGX_DECLINED
 * (more than the whole budget: answer 415) or NGX_ERROR.
 */
ngx_int_t ngx_http_tunny_reserve(ngx_http_request_t *r, size_t size);

/* the location's pool, to release a reservation after the request */
ngx_tunny_pool_conf_t *ngx_http_tunny_pool_conf(ngx_http_request_t *r);
void ngx_http_tunny_release(ngx_tunny_pool_conf_t *pcf, size_t size);

/*
 * Configuration: the current location (server, http block) posts jobs;
 * without tunny_offload they go to the "default" pool, which is created
 * only when some location needs it.  Call from the directive handlers of
 * the modules that post jobs.
 */
void ngx_http_tunny_use_pool(ngx_conf_t *cf);

/*
 * The image bytes a request gave to the pool (in) and got back (out):
 * tunny_image_bytes_total.  Call once, from the resume handler.
 */
void ngx_http_tunny_count_bytes(ngx_http_request_t *r, size_t in,
    size_t out);

/*
 * The reason behind a 4xx from image work: logged once at info, exposed
 * as $tunny_error.  reason is copied.
 */
void ngx_http_tunny_set_error(ngx_http_request_t *r, const char *reason);


extern ngx_module_t  ngx_http_tunny_module;


#endif /* _NGX_HTTP_TUNNY_MODULE_H_INCLUDED_ */
