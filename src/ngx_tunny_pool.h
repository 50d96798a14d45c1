/*
 * ngx_tunny_module: the per-process worker pool.
 *
 * A pool is configured in the master (ngx_tunny_pool_conf_t, parsed by the
 * core module) and comes alive in each worker process as an opaque
 * ngx_tunny_pool_t (ngx_tunny_pool_start() in init_process).  Its users
 * post jobs from the event loop; a pool thread runs job->process; the
 * loop gets the job back through job->complete.
 *
 * The event loop never waits for a pool thread: it takes no lock that a
 * thread holds, and every call below returns without blocking.  The
 * invariant (who owns what) is written in ngx_tunny_pool.c.
 */

#ifndef _NGX_TUNNY_POOL_H_INCLUDED_
#define _NGX_TUNNY_POOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <sched.h>


#define NGX_TUNNY_MAX_STATE_KEYS  4


typedef struct ngx_tunny_pool_s    ngx_tunny_pool_t;
typedef struct ngx_tunny_job_s     ngx_tunny_job_t;
typedef struct ngx_tunny_thread_s  ngx_tunny_thread_t;

/* runs in a pool thread; must poll ngx_tunny_job_cancelled() */
typedef void (*ngx_tunny_job_process_pt)(ngx_tunny_job_t *job,
    ngx_tunny_thread_t *thr);

/* runs in the event loop once the job is done, unless it is an orphan */
typedef void (*ngx_tunny_job_complete_pt)(ngx_tunny_job_t *job);

/* runs in the event loop to release a job (default: free(job)) */
typedef void (*ngx_tunny_job_free_pt)(ngx_tunny_job_t *job);


/*
 * A job: embedded first in the user's own job structure, malloc()ed (the
 * request that posts it may be gone before it ends).
 */
struct ngx_tunny_job_s {
    /* the user's: set before ngx_tunny_job_post(), read-only after */
    ngx_tunny_job_process_pt    process;
    ngx_tunny_job_complete_pt   complete;
    ngx_tunny_job_free_pt       free;
    void                       *data;      /* loop only; NULL: orphan */

    /* written by process() in the thread, read by complete() */
    unsigned                    failed:1;  /* the work failed */

    /* the pool's (ngx_tunny_pool.c), readable by the loop */
    uint64_t                    t_post;    /* monotonic ns */
    uint64_t                    t_start;   /* 0: never ran */
    uint64_t                    t_end;

    ngx_queue_t                 queue;
    ngx_tunny_job_t            *next;
    ngx_tunny_pool_t           *tp;
    ngx_tunny_thread_t         *thr;
    ngx_uint_t                  state;
    int                         cancel;    /* atomic */
};


/* per-thread state: created lazily by its user, destroyed at thread exit */
typedef struct {
    void                      (*destroy)(void *state);
    void                      (*trim)(void *state); /* after every job */
} ngx_tunny_state_ops_t;


/* a pool's configuration, from the tunny_pool directive; cycle pool */
typedef struct {
    ngx_str_t                   name;
    ngx_int_t                   threads;    /* NGX_CONF_UNSET: auto */
    ngx_int_t                   max_queue;
    ngx_int_t                   nice;
    size_t                      stack_size;
    ngx_uint_t                  index;      /* in the cycle's pool list */
    ngx_uint_t                  declared;   /* by tunny_pool, not a use */
    u_char                     *file;       /* declared or first used */
    ngx_uint_t                  line;
    ngx_tunny_pool_t           *tp;         /* live pool in this worker */
} ngx_tunny_pool_conf_t;


/* gauge hooks, set by the stats module; called by the event loop */
typedef struct {
    void                      (*queued)(ngx_uint_t index, ngx_int_t delta);
    void                      (*busy)(ngx_uint_t index, ngx_int_t delta);
} ngx_tunny_pool_gauges_t;


/*
 * The admission rule, in one place: with "threads" threads, "busy" of
 * them running and "queued" jobs waiting, a new job is refused once
 * "limit" jobs wait ahead of it with every thread busy.
 */
static ngx_inline ngx_uint_t
ngx_tunny_pool_full_at(ngx_uint_t queued, ngx_uint_t busy,
    ngx_uint_t threads, ngx_uint_t limit)
{
    return queued + busy >= threads + limit;
}


/* monotonic clock in nanoseconds; safe in any thread */
uint64_t ngx_tunny_now_ns(void);

/* configuration time: a key for a piece of per-thread state */
ngx_int_t ngx_tunny_state_key(ngx_tunny_state_ops_t *ops);

/* thread: the state of key in this thread (NULL until set) */
void *ngx_tunny_thread_state(ngx_tunny_thread_t *thr, ngx_int_t key);
void ngx_tunny_thread_set_state(ngx_tunny_thread_t *thr, ngx_int_t key,
    void *state);

/*
 * loop (init_process): start pcf->threads threads with the CPU set
 * cpuset (NULL: inherit) and register the eventfd.  NULL on failure.
 */
ngx_tunny_pool_t *ngx_tunny_pool_start(ngx_cycle_t *cycle,
    ngx_tunny_pool_conf_t *pcf, cpu_set_t *cpuset,
    ngx_tunny_pool_gauges_t *gauges);

/* loop: threads started */
ngx_uint_t ngx_tunny_pool_threads(ngx_tunny_pool_t *tp);

/*
 * loop (exit_process): refuse new jobs, drop the queued ones, flag the
 * running ones; then join the threads and free everything (join), or
 * leave running threads to the exiting process (!join, fast shutdown).
 */
void ngx_tunny_pool_stop(ngx_tunny_pool_t *tp, ngx_uint_t join);

/*
 * loop: queue a job.  limit is the admission threshold (capped at the
 * pool's max_queue, see ngx_tunny_pool_full_at()).  Returns NGX_OK,
 * NGX_BUSY (full) or NGX_DECLINED (pool stopping).
 */
ngx_int_t ngx_tunny_job_post(ngx_tunny_pool_t *tp, ngx_tunny_job_t *job,
    ngx_uint_t limit);

/* loop: what ngx_tunny_job_post() would answer now, without posting */
ngx_int_t ngx_tunny_pool_admits(ngx_tunny_pool_t *tp, ngx_uint_t limit);

/*
 * loop: detach a job from its waiter.  A queued job is unlinked and freed
 * at once (it never runs); a running job becomes an orphan with its
 * cancel flag set and is freed when it comes back.  Returns NGX_OK if the
 * job never ran (it is gone: read job->t_post before), NGX_AGAIN otherwise.
 */
ngx_int_t ngx_tunny_job_cancel(ngx_tunny_job_t *job);

/* loop: release a job (job->free, or free()) */
void ngx_tunny_job_free(ngx_tunny_job_t *job);

/* thread: has the loop given up on this job? */
#define ngx_tunny_job_cancelled(job)                                        \
    __atomic_load_n(&(job)->cancel, __ATOMIC_RELAXED)


#endif /* _NGX_TUNNY_POOL_H_INCLUDED_ */
