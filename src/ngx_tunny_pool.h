/*
 * ngx_tunny_module: the per-process worker pool.
 *
 * A pool is configured in the master (ngx_tunny_pool_conf_t, cycle pool)
 * and comes alive in each worker process (ngx_tunny_pool_t, malloc()ed in
 * init_process, so that threads never touch memory nginx may free).
 *
 * Threads: the event loop thread ("loop") posts and cancels jobs and
 * completes them; pool threads ("thread") only take queued jobs, run
 * job->process and push the job to the done list.
 *
 * Ownership and locking (the invariant):
 *   pool->mutex guards: pool->queue, pool->done, pool->waiting,
 *       pool->busy, pool->alive, pool->stopping, pool->notify_fd,
 *       thr->job, job->queue, job->state.
 *   The eventfd is written under pool->mutex, only on the empty to
 *   non-empty transition of pool->done; notify_fd is -1 once the loop has
 *   closed it, so a late thread never writes to a reused descriptor.
 *   job->cancel      written by loop (atomic store), read by thread
 *                    (atomic load) while the job runs.
 *   job->process, job->complete, job->t_post: written by loop before post,
 *                    read-only afterwards.
 *   job->t_start     written by the thread under pool->mutex when it
 *                    takes the job; read by loop under the mutex (cancel)
 *                    or after the job came back on the done list.
 *   job->t_end, job->failed, job->bytes_*: written by the running thread,
 *                    read by loop after the job came back on the done list
 *                    (the mutex hand-over orders the accesses).
 *   job->data        owned by loop only; NULL means "orphan": nobody waits
 *                    for the job any more and completion just frees it.
 *   Everything else a job refers to is owned by the job (malloc()ed) and
 *   touched by one thread at a time: by loop before post and after
 *   completion, by the running thread in between.
 */

#ifndef _NGX_TUNNY_POOL_H_INCLUDED_
#define _NGX_TUNNY_POOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <pthread.h>
#include <sched.h>


#define NGX_TUNNY_MAX_STATE_KEYS  4

#define NGX_TUNNY_JOB_NEW      0
#define NGX_TUNNY_JOB_QUEUED   1
#define NGX_TUNNY_JOB_RUNNING  2
#define NGX_TUNNY_JOB_DONE     3

/* job outcomes, as $tunny_outcome and the metrics label them */
#define NGX_TUNNY_OUTCOME_NONE       0
#define NGX_TUNNY_OUTCOME_OK         1
#define NGX_TUNNY_OUTCOME_ERROR      2
#define NGX_TUNNY_OUTCOME_REJECTED   3
#define NGX_TUNNY_OUTCOME_TIMEOUT    4
#define NGX_TUNNY_OUTCOME_CANCELLED  5
#define NGX_TUNNY_OUTCOME_CLOSED     6
#define NGX_TUNNY_OUTCOME_N          7


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


struct ngx_tunny_job_s {
    ngx_queue_t                 queue;     /* in pool->queue or pool->done */
    ngx_tunny_pool_t           *pool;
    ngx_uint_t                  state;
    int                         cancel;    /* atomic */

    ngx_tunny_job_process_pt    process;
    ngx_tunny_job_complete_pt   complete;
    ngx_tunny_job_free_pt       free;
    void                       *data;      /* loop only; NULL: orphan */

    uint64_t                    t_post;    /* monotonic ns */
    uint64_t                    t_start;   /* 0: never ran */
    uint64_t                    t_end;

    /* results, written by the thread that runs the job */
    unsigned                    failed:1;  /* outcome "error" */
    size_t                      bytes_in;  /* image bytes, for metrics */
    size_t                      bytes_out;
};


/* per-thread state: created lazily by its user, destroyed at thread exit */
typedef struct {
    void                      (*destroy)(void *state);
    void                      (*trim)(void *state); /* after every job */
} ngx_tunny_state_ops_t;


struct ngx_tunny_thread_s {
    ngx_tunny_pool_t           *pool;
    pthread_t                   tid;
    ngx_uint_t                  index;
    ngx_tunny_job_t            *job;        /* running job, pool->mutex */
    void                       *state[NGX_TUNNY_MAX_STATE_KEYS];
};


/* configuration, from the tunny_pool directive; lives in the cycle pool */
typedef struct {
    ngx_str_t                   name;
    ngx_int_t                   threads;    /* NGX_CONF_UNSET: auto */
    ngx_int_t                   max_queue;
    ngx_int_t                   nice;       /* NGX_CONF_UNSET: default */
    size_t                      stack_size;
    ngx_uint_t                  index;
    ngx_uint_t                  declared;   /* by tunny_pool, not a use */
    u_char                     *file;       /* declared or first used */
    ngx_uint_t                  line;
    ngx_tunny_pool_t           *pool;       /* live pool in this worker */
} ngx_tunny_pool_conf_t;


/* stats hooks, set by the stats module; called from any thread */
typedef struct {
    void                      (*queued)(ngx_uint_t index, ngx_int_t delta);
    void                      (*busy)(ngx_uint_t index, ngx_int_t delta);
} ngx_tunny_pool_gauges_t;


struct ngx_tunny_pool_s {
    pthread_mutex_t             mutex;
    pthread_cond_t              cond;
    ngx_queue_t                 queue;      /* queued jobs, FIFO */
    ngx_queue_t                 done;       /* finished jobs */
    ngx_uint_t                  waiting;    /* jobs in queue */
    ngx_uint_t                  busy;       /* jobs running */
    ngx_uint_t                  stopping;   /* refuse posts, threads exit */
    int                         notify_fd;  /* eventfd, -1 once closed */

    ngx_uint_t                  nthreads;   /* started */
    ngx_uint_t                  alive;      /* threads in their loop */
    ngx_tunny_thread_t         *threads;

    /* read-only after start */
    ngx_tunny_pool_conf_t      *conf;
    ngx_uint_t                  max_queue;
    ngx_uint_t                  index;
    ngx_int_t                   nice;
    cpu_set_t                  *cpuset;     /* NULL: inherit */
    char                        name[16];   /* thread name */
    ngx_tunny_pool_gauges_t    *gauges;
    ngx_connection_t           *conn;       /* eventfd; loop only */
};


/* monotonic clock in nanoseconds; safe in any thread */
uint64_t ngx_tunny_now_ns(void);

/* configuration time: a key for a piece of per-thread state */
ngx_int_t ngx_tunny_state_key(ngx_tunny_state_ops_t *ops);

#define ngx_tunny_thread_state(thr, key)  ((thr)->state[key])
#define ngx_tunny_thread_set_state(thr, key, st)  (thr)->state[key] = (st)

/* loop: start the threads and register the eventfd */
ngx_tunny_pool_t *ngx_tunny_pool_start(ngx_cycle_t *cycle,
    ngx_tunny_pool_conf_t *pcf, ngx_uint_t nthreads, ngx_int_t nice,
    cpu_set_t *cpuset, ngx_tunny_pool_gauges_t *gauges);

/* loop: stop; join the threads unless the process is terminating */
void ngx_tunny_pool_stop(ngx_tunny_pool_t *pool, ngx_uint_t join);

/*
 * loop: queue a job.  limit is the admission threshold: the number of
 * jobs waiting for a thread at which the job is refused (capped at the
 * pool's max_queue).  Returns NGX_OK, NGX_BUSY (queue at limit) or
 * NGX_DECLINED (pool stopping).
 */
ngx_int_t ngx_tunny_job_post(ngx_tunny_pool_t *pool, ngx_tunny_job_t *job,
    ngx_uint_t limit);

/*
 * loop: detach a job from its waiter.  A queued job is unlinked and freed
 * at once (it never runs); a running or finished job becomes an orphan
 * with its cancel flag set and is freed on completion.  *t_start gets the
 * time the job started running, 0 if it never did.
 * Returns NGX_OK if the job never ran, NGX_AGAIN otherwise.
 */
ngx_int_t ngx_tunny_job_cancel(ngx_tunny_job_t *job, uint64_t *t_start);

/* thread: has the loop given up on this job? */
#define ngx_tunny_job_cancelled(job)                                        \
    __atomic_load_n(&(job)->cancel, __ATOMIC_RELAXED)

/* loop: what ngx_tunny_job_post() would answer now, without posting */
ngx_int_t ngx_tunny_pool_admits(ngx_tunny_pool_t *pool, ngx_uint_t limit);

void ngx_tunny_job_free(ngx_tunny_job_t *job);

/* "ok", "error", ... ; index by NGX_TUNNY_OUTCOME_* */
extern ngx_str_t  ngx_tunny_outcome_names[];


#endif /* _NGX_TUNNY_POOL_H_INCLUDED_ */
