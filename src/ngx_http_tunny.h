/*
 * ngx_tunny_module: the public API, for nginx modules that offload their
 * own CPU work to a tunny pool with the guarantees tunny_burn and
 * tunny_image get: the location's admission (tunny_queue_limit,
 * tunny_max_wait, tunny_fair_key, 503 + Retry-After), its tunny_timeout
 * (504), cancellation when the client goes away, the outcome metrics and
 * the $tunny_* variables.  docs/API.md shows a whole module.
 *
 * The shape of a task:
 *
 *   configuration   the module's directive handler calls
 *                   ngx_http_tunny_use_pool(cf) in every location that
 *                   posts tasks (the location's tunny_offload pool, or the
 *                   "default" pool, then exists); per-thread state gets a
 *                   key from ngx_tunny_state_key().
 *   event loop      ngx_http_tunny_task_create() allocates the task and
 *                   its data; the module fills data (copies of everything
 *                   the thread reads: the request may be gone before the
 *                   task ends) and calls ngx_http_tunny_task_post().
 *   pool thread     run(task, data) does the work, nginx-free: no nginx
 *                   API, no r->pool memory, no logging; it polls
 *                   ngx_http_tunny_task_cancelled(task) every few ms.
 *   event loop      done(r, data, rc) once, with the request alive:
 *                   NGX_OK (run returned NGX_OK), NGX_ERROR (run failed),
 *                   NGX_HTTP_GATEWAY_TIME_OUT (tunny_timeout: run may
 *                   still be running, data must not be touched: it is
 *                   NULL).  done() answers or resumes the request as its
 *                   phase requires (a content handler finalizes it).
 *                   Not called when the request terminates first.
 *   event loop      free(data) exactly once for every task created, after
 *                   done(), or when an abandoned task comes back, or when
 *                   ngx_http_tunny_task_destroy() drops an unposted one.
 *
 * Ownership: from a successful post until done() (or forever, for a task
 * whose request went away) the task and data belong to the pool; done()
 * and free() get them back in the loop.
 */

#ifndef _NGX_HTTP_TUNNY_H_INCLUDED_
#define _NGX_HTTP_TUNNY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_tunny_pool.h"


typedef struct ngx_http_tunny_task_s  ngx_http_tunny_task_t;

/* pool thread: NGX_OK, or NGX_ERROR for the outcome "error" */
typedef ngx_int_t (*ngx_http_tunny_run_pt)(ngx_http_tunny_task_t *task,
    void *data);

/* event loop: the request's answer to the task; data NULL on timeout */
typedef void (*ngx_http_tunny_done_pt)(ngx_http_request_t *r, void *data,
    ngx_int_t rc);

/* event loop: release what data holds (not data itself); may be NULL */
typedef void (*ngx_http_tunny_free_pt)(void *data);


struct ngx_http_tunny_task_s {
    ngx_tunny_job_t             job;        /* the engine's, private */

    ngx_http_tunny_run_pt       run;
    ngx_http_tunny_done_pt      done;
    ngx_http_tunny_free_pt      free;
    void                       *data;       /* size bytes, zeroed */

    /* the pool to post to; NULL: the location's (tunny_offload) */
    ngx_tunny_pool_conf_t      *pcf;

    /*
     * the next piece of work of a request whose first task was admitted
     * (the next chunk of a stream): only a pool that is not running
     * refuses it; the queue, wait and key limits do not
     */
    unsigned                    continues:1;

    ngx_tunny_thread_t         *thr;        /* while run() runs */
};


/*
 * Event loop: a task with "size" bytes of zeroed data (task->data),
 * malloc()ed (it may outlive the request).  NULL: no memory.
 */
ngx_http_tunny_task_t *ngx_http_tunny_task_create(ngx_http_request_t *r,
    size_t size);

/*
 * Event loop: admit and post the task to its pool (task->pcf, or the
 * location's), with the location's admission settings and tunny_timeout.
 *   NGX_OK                        done() will be called (unless the
 *                                 request terminates first); the task is
 *                                 the pool's;
 *   NGX_HTTP_SERVICE_UNAVAILABLE  refused (Retry-After is set, outcome
 *                                 "rejected" or "closed"); the task is
 *                                 still the caller's: destroy it;
 *   NGX_ERROR
 * A content handler returning NGX_DONE after NGX_OK must increment
 * r->main->count first, as for a subrequest or a body read.
 */
ngx_int_t ngx_http_tunny_task_post(ngx_http_request_t *r,
    ngx_http_tunny_task_t *task);

/* Event loop: drop a task that was not posted, or was refused */
void ngx_http_tunny_task_destroy(ngx_http_tunny_task_t *task);

/* Pool thread: has the loop given up on this task?  Stop soon if so. */
#define ngx_http_tunny_task_cancelled(task)                                 \
    ngx_tunny_job_cancelled(&(task)->job)

/*
 * The cancel flag itself, for nginx-free code that polls it with
 * __atomic_load_n(flag, __ATOMIC_RELAXED) (the image library does)
 */
#define ngx_http_tunny_task_cancel_flag(task)                               \
    ((const int *) &(task)->job.cancel)

/* Pool thread, in run(): the thread's state for a ngx_tunny_state_key() */
#define ngx_http_tunny_task_state(task, key)                                \
    ngx_tunny_thread_state((task)->thr, key)
#define ngx_http_tunny_task_set_state(task, key, state)                     \
    ngx_tunny_thread_set_state((task)->thr, key, state)

/*
 * Event loop: the admission check alone, before big buffers are
 * allocated: NGX_OK, or NGX_HTTP_SERVICE_UNAVAILABLE as a refused post.
 */
ngx_int_t ngx_http_tunny_admit(ngx_http_request_t *r);

/*
 * Event loop: the memory budget of the location's pool (tunny_pool
 * max_memory=), for buffers a request holds for its task.  NGX_OK
 * (reserved: release it with ngx_http_tunny_release() when the memory is
 * freed, which may be after the request), NGX_HTTP_SERVICE_UNAVAILABLE
 * (refused now: outcome "rejected", reason "memory", Retry-After set),
 * NGX_DECLINED (more than the whole budget: the caller answers 415) or
 * NGX_ERROR.  A location without a pool has no budget: NGX_OK, and
 * ngx_http_tunny_pool_conf() is NULL, which release accepts.
 */
ngx_int_t ngx_http_tunny_reserve(ngx_http_request_t *r, size_t size);
ngx_tunny_pool_conf_t *ngx_http_tunny_pool_conf(ngx_http_request_t *r);
void ngx_http_tunny_release(ngx_tunny_pool_conf_t *pcf, size_t size);

/*
 * A candidate of content negotiation: a media type (type "image", subtype
 * "webp") or a coding (type "br", no subtype), and what the request gave
 * it: q (0..1000) from its most specific matching element (specificity 3:
 * exact, 2: type with any subtype, 1: any; 0: nothing matched, q 0).
 */
typedef struct {
    ngx_str_t                   type;
    ngx_str_t                   subtype;
    ngx_uint_t                  specificity;
    ngx_int_t                   q;
} ngx_http_tunny_media_t;

/*
 * Event loop: the qualities that the request's headers called "name"
 * (Accept, Accept-Encoding; every such header line counts) give to the n
 * candidates, q-values parsed strictly (a bad element is skipped).
 */
void ngx_http_tunny_negotiate(ngx_http_request_t *r, ngx_str_t *name,
    ngx_http_tunny_media_t *media, ngx_uint_t n);

/* Event loop: the reason behind a 4xx, logged at info, as $tunny_error */
void ngx_http_tunny_set_error(ngx_http_request_t *r, const char *reason);

/*
 * Event loop: bytes a request gave to the pool (in) and got back (out),
 * tunny_image_bytes_total{direction}; once per request, from done().
 */
void ngx_http_tunny_count_bytes(ngx_http_request_t *r, size_t in,
    size_t out);

/*
 * Configuration: the current location (server, http block) posts tasks;
 * without tunny_offload they go to the "default" pool, which is created
 * only when some location needs it.
 */
void ngx_http_tunny_use_pool(ngx_conf_t *cf);

/*
 * Configuration (any context): the pool declared by "tunny_pool NAME",
 * before or after this call (an unknown name fails the configuration at
 * its end).  For a module that keeps its own pool per location.
 */
ngx_tunny_pool_conf_t *ngx_http_tunny_pool_lookup(ngx_conf_t *cf,
    ngx_str_t *name);


extern ngx_module_t  ngx_http_tunny_module;


#endif /* _NGX_HTTP_TUNNY_H_INCLUDED_ */
