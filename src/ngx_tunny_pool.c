/*
 * ngx_tunny_module: the per-process worker pool.
 *
 * See ngx_tunny_pool.h for the ownership and locking invariant.  Functions
 * marked "loop" run in the nginx event loop thread of a worker process;
 * functions marked "thread" run in a pool thread and touch only the pool
 * structure (malloc()ed), the job and its own ngx_tunny_thread_t.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "ngx_tunny_pool.h"


static void *ngx_tunny_thread_cycle(void *data);
static void ngx_tunny_thread_setup(ngx_tunny_thread_t *thr);
static void ngx_tunny_pool_notify_handler(ngx_event_t *ev);
static void ngx_tunny_pool_drain(ngx_tunny_pool_t *pool);
static ngx_uint_t ngx_tunny_pool_full(ngx_tunny_pool_t *pool,
    ngx_uint_t limit);


ngx_str_t  ngx_tunny_outcome_names[] = {
    ngx_string(""),
    ngx_string("ok"),
    ngx_string("error"),
    ngx_string("rejected"),
    ngx_string("timeout"),
    ngx_string("cancelled"),
    ngx_string("closed")
};


/* set at configuration time in the master, read-only in workers */
static ngx_tunny_state_ops_t  *ngx_tunny_state_ops[NGX_TUNNY_MAX_STATE_KEYS];
static ngx_uint_t              ngx_tunny_state_nkeys;


uint64_t
ngx_tunny_now_ns(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


ngx_int_t
ngx_tunny_state_key(ngx_tunny_state_ops_t *ops)
{
    ngx_uint_t  i;

    /* the same ops keep their key across reloads */

    for (i = 0; i < ngx_tunny_state_nkeys; i++) {
        if (ngx_tunny_state_ops[i] == ops) {
            return i;
        }
    }

    if (ngx_tunny_state_nkeys == NGX_TUNNY_MAX_STATE_KEYS) {
        return NGX_ERROR;
    }

    ngx_tunny_state_ops[ngx_tunny_state_nkeys] = ops;

    return ngx_tunny_state_nkeys++;
}


/* loop */

ngx_tunny_pool_t *
ngx_tunny_pool_start(ngx_cycle_t *cycle, ngx_tunny_pool_conf_t *pcf,
    ngx_uint_t nthreads, ngx_int_t nice, cpu_set_t *cpuset,
    ngx_tunny_pool_gauges_t *gauges)
{
    int                 fd, err;
    size_t              len;
    sigset_t            set, oset;
    ngx_uint_t          i;
    pthread_attr_t      attr;
    ngx_connection_t   *c;
    ngx_tunny_pool_t   *pool;
    ngx_tunny_thread_t *thr;

    /*
     * malloc(), not the cycle pool: on a fast shutdown the threads are
     * not joined and may still touch the pool while nginx frees its pools
     */

    pool = ngx_calloc(sizeof(ngx_tunny_pool_t), cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    pool->threads = ngx_calloc(nthreads * sizeof(ngx_tunny_thread_t),
                               cycle->log);
    if (pool->threads == NULL) {
        ngx_free(pool);
        return NULL;
    }

    pool->conf = pcf;
    pool->index = pcf->index;
    pool->max_queue = pcf->max_queue;
    pool->nice = nice;
    pool->cpuset = cpuset;
    pool->gauges = gauges;
    pool->notify_fd = -1;
    ngx_queue_init(&pool->queue);
    ngx_queue_init(&pool->done);

    len = ngx_min(pcf->name.len, sizeof(pool->name) - 7);
    ngx_memcpy(pool->name, "tunny:", 6);
    ngx_memcpy(pool->name + 6, pcf->name.data, len);
    pool->name[6 + len] = '\0';

    err = pthread_mutex_init(&pool->mutex, NULL);
    if (err) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                      "tunny_pool \"%V\": pthread_mutex_init() failed",
                      &pcf->name);
        goto free;
    }

    err = pthread_cond_init(&pool->cond, NULL);
    if (err) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                      "tunny_pool \"%V\": pthread_cond_init() failed",
                      &pcf->name);
        (void) pthread_mutex_destroy(&pool->mutex);
        goto free;
    }

    /* from here on ngx_tunny_pool_stop() undoes whatever was done */

    fd = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "tunny_pool \"%V\": eventfd() failed", &pcf->name);
        goto failed;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        (void) close(fd);
        goto failed;
    }

    pool->notify_fd = fd;
    pool->conn = c;

    c->data = pool;
    c->read->handler = ngx_tunny_pool_notify_handler;
    c->read->log = cycle->log;
    c->write->log = cycle->log;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        goto failed;
    }

    err = pthread_attr_init(&attr);
    if (err) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                      "pthread_attr_init() failed");
        goto failed;
    }

    err = pthread_attr_setstacksize(&attr, pcf->stack_size);
    if (err) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                      "pthread_attr_setstacksize(%uz) failed",
                      pcf->stack_size);
        (void) pthread_attr_destroy(&attr);
        goto failed;
    }

    /* the threads must never take the signals nginx handles */

    (void) sigfillset(&set);
    (void) sigdelset(&set, SIGILL);
    (void) sigdelset(&set, SIGFPE);
    (void) sigdelset(&set, SIGSEGV);
    (void) sigdelset(&set, SIGBUS);

    (void) pthread_sigmask(SIG_SETMASK, &set, &oset);

    for (i = 0; i < nthreads; i++) {
        thr = &pool->threads[i];
        thr->pool = pool;
        thr->index = i;

        err = pthread_create(&thr->tid, &attr, ngx_tunny_thread_cycle, thr);
        if (err) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                          "tunny_pool \"%V\": pthread_create() failed",
                          &pcf->name);
            break;
        }

        pool->nthreads++;
    }

    (void) pthread_sigmask(SIG_SETMASK, &oset, NULL);
    (void) pthread_attr_destroy(&attr);

    if (pool->nthreads == 0) {
        goto failed;
    }

    return pool;

failed:

    ngx_tunny_pool_stop(pool, 1);

    return NULL;

free:

    ngx_free(pool->threads);
    ngx_free(pool);

    return NULL;
}


/* loop */

void
ngx_tunny_pool_stop(ngx_tunny_pool_t *pool, ngx_uint_t join)
{
    ngx_uint_t        i, dropped;
    ngx_queue_t       queued, *q;
    ngx_tunny_job_t  *job;

    /* phase 1: refuse new jobs; phase 2: drop queued, flag running */

    ngx_queue_init(&queued);

    (void) pthread_mutex_lock(&pool->mutex);

    pool->stopping = 1;

    if (!ngx_queue_empty(&pool->queue)) {
        ngx_queue_add(&queued, &pool->queue);
        ngx_queue_init(&pool->queue);
    }

    dropped = pool->waiting;
    pool->waiting = 0;

    for (i = 0; i < pool->nthreads; i++) {
        if (pool->threads[i].job) {
            __atomic_store_n(&pool->threads[i].job->cancel, 1,
                             __ATOMIC_RELAXED);
        }
    }

    (void) pthread_cond_broadcast(&pool->cond);

    if (!join) {
        /* from now on the threads must not write the eventfd */
        pool->notify_fd = -1;
    }

    (void) pthread_mutex_unlock(&pool->mutex);

    if (dropped && pool->gauges) {
        pool->gauges->queued(pool->index, -(ngx_int_t) dropped);
    }

    while (!ngx_queue_empty(&queued)) {
        q = ngx_queue_head(&queued);
        ngx_queue_remove(q);
        job = ngx_queue_data(q, ngx_tunny_job_t, queue);
        ngx_tunny_job_free(job);
    }

    /* phase 3: wait for the running jobs, unless the process terminates */

    if (join) {
        for (i = 0; i < pool->nthreads; i++) {
            (void) pthread_join(pool->threads[i].tid, NULL);
        }

        pool->notify_fd = -1;
    }

    if (pool->conn) {
        ngx_close_connection(pool->conn);
        pool->conn = NULL;
    }

    if (!join) {
        /* threads may still run: leave the memory to the exiting process */
        return;
    }

    /* jobs finished meanwhile: nobody waits for them any more */

    while (!ngx_queue_empty(&pool->done)) {
        q = ngx_queue_head(&pool->done);
        ngx_queue_remove(q);
        job = ngx_queue_data(q, ngx_tunny_job_t, queue);
        ngx_tunny_job_free(job);
    }

    (void) pthread_cond_destroy(&pool->cond);
    (void) pthread_mutex_destroy(&pool->mutex);

    ngx_free(pool->threads);
    ngx_free(pool);
}


/* loop */

ngx_int_t
ngx_tunny_job_post(ngx_tunny_pool_t *pool, ngx_tunny_job_t *job,
    ngx_uint_t limit)
{
    uint64_t  now;

    now = ngx_tunny_now_ns();

    (void) pthread_mutex_lock(&pool->mutex);

    if (pool->stopping) {
        (void) pthread_mutex_unlock(&pool->mutex);
        return NGX_DECLINED;
    }

    if (ngx_tunny_pool_full(pool, limit)) {
        (void) pthread_mutex_unlock(&pool->mutex);
        return NGX_BUSY;
    }

    job->pool = pool;
    job->state = NGX_TUNNY_JOB_QUEUED;
    job->cancel = 0;
    job->t_post = now;
    job->t_start = 0;
    job->t_end = 0;

    ngx_queue_insert_tail(&pool->queue, &job->queue);
    pool->waiting++;

    (void) pthread_cond_signal(&pool->cond);

    (void) pthread_mutex_unlock(&pool->mutex);

    if (pool->gauges) {
        pool->gauges->queued(pool->index, 1);
    }

    return NGX_OK;
}


/* loop */

ngx_int_t
ngx_tunny_job_cancel(ngx_tunny_job_t *job, uint64_t *t_start)
{
    ngx_tunny_pool_t  *pool;

    pool = job->pool;

    job->data = NULL;

    (void) pthread_mutex_lock(&pool->mutex);

    *t_start = job->t_start;

    if (job->state == NGX_TUNNY_JOB_QUEUED) {
        ngx_queue_remove(&job->queue);
        pool->waiting--;

        (void) pthread_mutex_unlock(&pool->mutex);

        if (pool->gauges) {
            pool->gauges->queued(pool->index, -1);
        }

        ngx_tunny_job_free(job);

        return NGX_OK;
    }

    /* running or done: the completion handler frees the orphan */

    __atomic_store_n(&job->cancel, 1, __ATOMIC_RELAXED);

    (void) pthread_mutex_unlock(&pool->mutex);

    return NGX_AGAIN;
}


/* loop */

ngx_int_t
ngx_tunny_pool_admits(ngx_tunny_pool_t *pool, ngx_uint_t limit)
{
    ngx_int_t  rc;

    (void) pthread_mutex_lock(&pool->mutex);

    rc = pool->stopping ? NGX_DECLINED
                        : ngx_tunny_pool_full(pool, limit) ? NGX_BUSY : NGX_OK;

    (void) pthread_mutex_unlock(&pool->mutex);

    return rc;
}


/*
 * Under pool->mutex.  A job would wait if all threads are busy: it is
 * admitted only while fewer than "limit" (at most max_queue) jobs wait
 * ahead of it.
 */

static ngx_uint_t
ngx_tunny_pool_full(ngx_tunny_pool_t *pool, ngx_uint_t limit)
{
    limit = ngx_min(limit, pool->max_queue);

    return pool->waiting + pool->busy >= pool->nthreads + limit;
}


void
ngx_tunny_job_free(ngx_tunny_job_t *job)
{
    if (job->free) {
        job->free(job);

    } else {
        ngx_free(job);
    }
}


/* thread */

static void *
ngx_tunny_thread_cycle(void *data)
{
    ngx_tunny_thread_t *thr = data;

    uint64_t           one;
    ngx_uint_t         i, notify;
    ngx_queue_t       *q;
    ngx_tunny_job_t   *job;
    ngx_tunny_pool_t  *pool;

    pool = thr->pool;

    ngx_tunny_thread_setup(thr);

    (void) pthread_mutex_lock(&pool->mutex);

    pool->alive++;

    for ( ;; ) {

        while (!pool->stopping && ngx_queue_empty(&pool->queue)) {
            (void) pthread_cond_wait(&pool->cond, &pool->mutex);
        }

        if (pool->stopping) {
            break;
        }

        q = ngx_queue_head(&pool->queue);
        ngx_queue_remove(q);
        job = ngx_queue_data(q, ngx_tunny_job_t, queue);

        job->state = NGX_TUNNY_JOB_RUNNING;
        job->t_start = ngx_tunny_now_ns();
        pool->waiting--;
        pool->busy++;
        thr->job = job;

        (void) pthread_mutex_unlock(&pool->mutex);

        if (pool->gauges) {
            pool->gauges->queued(pool->index, -1);
            pool->gauges->busy(pool->index, 1);
        }

        job->process(job, thr);

        job->t_end = ngx_tunny_now_ns();

        for (i = 0; i < ngx_tunny_state_nkeys; i++) {
            if (thr->state[i] && ngx_tunny_state_ops[i]->trim) {
                ngx_tunny_state_ops[i]->trim(thr->state[i]);
            }
        }

        if (pool->gauges) {
            pool->gauges->busy(pool->index, -1);
        }

        (void) pthread_mutex_lock(&pool->mutex);

        notify = ngx_queue_empty(&pool->done);

        job->state = NGX_TUNNY_JOB_DONE;
        ngx_queue_insert_tail(&pool->done, &job->queue);
        pool->busy--;
        thr->job = NULL;

        if (notify && pool->notify_fd != -1) {
            one = 1;
            (void) write(pool->notify_fd, &one, sizeof(uint64_t));
        }
    }

    pool->alive--;

    (void) pthread_mutex_unlock(&pool->mutex);

    for (i = 0; i < ngx_tunny_state_nkeys; i++) {
        if (thr->state[i] && ngx_tunny_state_ops[i]->destroy) {
            ngx_tunny_state_ops[i]->destroy(thr->state[i]);
            thr->state[i] = NULL;
        }
    }

    return NULL;
}


/* thread: lower priority, CPU mask and name; best effort */

static void
ngx_tunny_thread_setup(ngx_tunny_thread_t *thr)
{
    pid_t                tid;
    struct sched_param   sp;
    ngx_tunny_pool_t    *pool;

    pool = thr->pool;
    tid = (pid_t) syscall(SYS_gettid);

    /*
     * SCHED_BATCH: CPU-bound, no wake-up preemption of the event loop;
     * the nice value then weighs the threads against it
     */

    ngx_memzero(&sp, sizeof(struct sched_param));
    (void) sched_setscheduler(tid, SCHED_BATCH, &sp);

    (void) setpriority(PRIO_PROCESS, tid, (int) pool->nice);

    if (pool->cpuset) {
        (void) pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t),
                                      pool->cpuset);
    }

    (void) pthread_setname_np(pthread_self(), pool->name);
}


/* loop: the eventfd is readable, complete the finished jobs */

static void
ngx_tunny_pool_notify_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;
    ngx_tunny_pool_t  *pool;

    c = ev->data;
    pool = c->data;

    /*
     * c->close (worker_shutdown_timeout) is a normal drain here: the
     * connection is closed in exit_process
     */

    ngx_tunny_pool_drain(pool);
}


static void
ngx_tunny_pool_drain(ngx_tunny_pool_t *pool)
{
    uint64_t          n;
    ngx_queue_t       done, *q;
    ngx_tunny_job_t  *job;

    /* read the counter first, then take the list: no lost wake-up */

    (void) read(pool->notify_fd, &n, sizeof(uint64_t));

    ngx_queue_init(&done);

    (void) pthread_mutex_lock(&pool->mutex);

    if (!ngx_queue_empty(&pool->done)) {
        ngx_queue_add(&done, &pool->done);
        ngx_queue_init(&pool->done);
    }

    (void) pthread_mutex_unlock(&pool->mutex);

    while (!ngx_queue_empty(&done)) {
        q = ngx_queue_head(&done);
        ngx_queue_remove(q);
        job = ngx_queue_data(q, ngx_tunny_job_t, queue);

        if (job->data == NULL || job->complete == NULL) {
            /* orphan: its request has gone */
            ngx_tunny_job_free(job);
            continue;
        }

        job->complete(job);
    }
}
