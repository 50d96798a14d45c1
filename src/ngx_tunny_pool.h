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
 * The running cost estimate of one kind of job (a location): EWMAs of the
 * run time of its finished jobs (the first one replacing the seed) and of
 * their distance from it.  A job is predicted to cost est_ns + 3 dev_ns
 * (for a normal spread, about its 99th percentile): the jobs of one
 * location differ (photos of 8 and 24 MP), and a prediction at their mean
 * let the admitted jobs wait up to twice tunny_max_wait (bench overload,
 * tunny_max_wait 1s: admitted p99 2.3 s at the mean, 1.6 s at + 2 dev_ns,
 * 1.2 s at + 3 dev_ns, at the same throughput).  Configuration memory,
 * moved by the loop of each worker only.
 */
typedef struct {
    uint64_t                    est_ns;
    uint64_t                    dev_ns;
    ngx_uint_t                  samples;
} ngx_tunny_cost_t;

#define ngx_tunny_cost_predict(cost)  ((cost)->est_ns + 3 * (cost)->dev_ns)

/* until a job of its kind finishes, a job is assumed to cost this much */
#define NGX_TUNNY_COST_SEED      1000000000


/* why a job is refused; the metrics label them (tunny_rejections_total) */
#define NGX_TUNNY_ADMITTED          0
#define NGX_TUNNY_REFUSED_QUEUE     1   /* tunny_queue_limit / max_queue */
#define NGX_TUNNY_REFUSED_WAIT      2   /* predicted wait > tunny_max_wait */
#define NGX_TUNNY_REFUSED_MEMORY    3   /* max_memory reserved */
#define NGX_TUNNY_REFUSED_KEY       4   /* tunny_fair_key_queue */
#define NGX_TUNNY_REFUSED_CLOSED    5   /* the pool is not running */
#define NGX_TUNNY_REFUSED_N         6


/* what a post asks of the pool, per location and request */
typedef struct {
    ngx_uint_t                  queue_limit;  /* capped at max_queue */
    ngx_uint_t                  key_limit;    /* per key; 0: none */
    uint64_t                    max_wait_ns;  /* 0: off */
    ngx_tunny_cost_t           *cost;         /* NULL: not estimated */
    ngx_str_t                   key;          /* fair key; "": none */
    ngx_uint_t                  continues;    /* admitted before: no limit */
} ngx_tunny_admission_t;


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
    uint64_t                    t_start;   /* 0: never ran; atomic */
    uint64_t                    t_end;
    uint64_t                    t_dispatch;

    ngx_queue_t                 queue;
    ngx_tunny_job_t            *next;
    ngx_tunny_pool_t           *tp;
    ngx_tunny_thread_t         *thr;
    void                       *qkey;
    ngx_tunny_cost_t           *cost;
    uint64_t                    est_ns;
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
    size_t                      max_memory; /* reserved bytes, per worker */
    ngx_msec_t                  max_wait;   /* largest tunny_max_wait */
    ngx_uint_t                  index;      /* in the cycle's pool list */
    ngx_uint_t                  declared;   /* by tunny_pool, not a use */
    u_char                     *file;       /* declared or first used */
    ngx_uint_t                  line;
    ngx_tunny_pool_t           *tp;         /* live pool in this worker */
} ngx_tunny_pool_conf_t;


/* the gauges a pool moves */
#define NGX_TUNNY_GAUGE_QUEUED   0      /* jobs waiting (delta) */
#define NGX_TUNNY_GAUGE_BUSY     1      /* threads running a job (delta) */
#define NGX_TUNNY_GAUGE_MEMORY   2      /* bytes reserved (delta) */
#define NGX_TUNNY_GAUGE_WAIT     3      /* predicted wait, ns (value) */
#define NGX_TUNNY_GAUGE_KEYS     4      /* fair keys alive (value) */

/* gauge hooks, set by the stats module; called by the event loop */
typedef struct {
    void                      (*add)(ngx_uint_t index, ngx_uint_t gauge,
                                     ngx_int_t delta);
    void                      (*set)(ngx_uint_t index, ngx_uint_t gauge,
                                     uint64_t value);
} ngx_tunny_pool_gauges_t;


/*
 * The queue-length rule, in one place: with "threads" threads, "busy" of
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
 * loop: admit and queue a job, as "adm" asks.  Returns NGX_TUNNY_ADMITTED
 * (the job belongs to the pool) or the reason of a refusal
 * (NGX_TUNNY_REFUSED_*, the job is still the caller's).  *wait_ns, if
 * not NULL, gets the predicted time until the job starts (admitted or
 * not), for Retry-After.
 */
ngx_uint_t ngx_tunny_job_post(ngx_tunny_pool_t *tp, ngx_tunny_job_t *job,
    ngx_tunny_admission_t *adm, uint64_t *wait_ns);

/* loop: what ngx_tunny_job_post() would answer now, without posting */
ngx_uint_t ngx_tunny_pool_admit(ngx_tunny_pool_t *tp,
    ngx_tunny_admission_t *adm, uint64_t *wait_ns);

/*
 * loop: the memory budget (max_memory).  reserve: NGX_OK, NGX_BUSY (the
 * budget is taken by others now) or NGX_DECLINED (size alone is more than
 * the whole budget); every NGX_OK is paired with a release of the size.
 */
ngx_int_t ngx_tunny_pool_reserve(ngx_tunny_pool_t *tp, size_t size);
void ngx_tunny_pool_release(ngx_tunny_pool_t *tp, size_t size);

/*
 * loop: detach a job from its waiter.  A queued job is unlinked and freed
 * at once (it never runs); a running job becomes an orphan with its
 * cancel flag set and is freed when it comes back.  Returns NGX_OK if the
 * job never ran (it is gone: read job->t_post before), NGX_AGAIN otherwise.
 */
ngx_int_t ngx_tunny_job_cancel(ngx_tunny_job_t *job);

/* loop: release a job (job->free, or free()) */
void ngx_tunny_job_free(ngx_tunny_job_t *job);

/* loop: when the job started running in its thread; 0: not (yet) */
#define ngx_tunny_job_started(job)                                          \
    __atomic_load_n(&(job)->t_start, __ATOMIC_RELAXED)

/* thread: has the loop given up on this job? */
#define ngx_tunny_job_cancelled(job)                                        \
    __atomic_load_n(&(job)->cancel, __ATOMIC_RELAXED)


#endif /* _NGX_TUNNY_POOL_H_INCLUDED_ */
