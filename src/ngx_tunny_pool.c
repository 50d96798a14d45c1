/*
 * ngx_tunny_module: the per-process worker pool, its event-loop side:
 * start and stop, admission, dispatch to idle threads, cancellation, the
 * memory budget, the cost estimates, and the completion of finished jobs.
 * The threads are in ngx_tunny_pool_thread.c; who owns what is said in
 * ngx_tunny_pool_int.h.  Everything here runs in the event loop.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <sys/eventfd.h>
#include "ngx_tunny_pool_int.h"


static ngx_int_t ngx_tunny_pool_notify_init(ngx_cycle_t *cycle,
    ngx_tunny_pool_t *tp);
static void ngx_tunny_pool_notify_close(ngx_tunny_pool_t *tp,
    ngx_uint_t joined);
static void ngx_tunny_pool_dispatch(ngx_tunny_pool_t *tp,
    ngx_tunny_thread_t *thr, ngx_tunny_job_t *job);
static void ngx_tunny_pool_gauge(ngx_tunny_pool_t *tp, ngx_uint_t gauge,
    ngx_int_t delta);
static uint64_t ngx_tunny_pool_predict(ngx_tunny_pool_t *tp, ngx_str_t *key);
static void ngx_tunny_pool_show(ngx_tunny_pool_t *tp);
static void ngx_tunny_pool_learn(ngx_tunny_job_t *job);
static void ngx_tunny_pool_notify_handler(ngx_event_t *ev);
static ngx_tunny_job_t *ngx_tunny_pool_take_done(ngx_tunny_pool_t *tp);



uint64_t
ngx_tunny_now_ns(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


/* loop */

ngx_tunny_pool_t *
ngx_tunny_pool_start(ngx_cycle_t *cycle, ngx_tunny_pool_conf_t *pcf,
    cpu_set_t *cpuset, ngx_tunny_pool_gauges_t *gauges)
{
    size_t             len;
    ngx_tunny_pool_t  *tp;

    /*
     * malloc(), not the cycle pool: on a fast shutdown the threads are
     * not joined and may still touch the pool while nginx frees its pools
     */

    tp = ngx_calloc(sizeof(ngx_tunny_pool_t), cycle->log);
    if (tp == NULL) {
        return NULL;
    }

    tp->threads = ngx_calloc(pcf->threads * sizeof(ngx_tunny_thread_t),
                             cycle->log);
    if (tp->threads == NULL) {
        ngx_free(tp);
        return NULL;
    }

    tp->index = pcf->index;
    tp->max_queue = pcf->max_queue;
    tp->max_memory = pcf->max_memory;
    tp->nice = pcf->nice;
    tp->cpuset = cpuset;
    tp->gauges = gauges;
    tp->notify_fd = -1;
    ngx_tunny_queue_init(&tp->queue);
    ngx_queue_init(&tp->idle);

    len = ngx_min(pcf->name.len, sizeof(tp->name) - 7);
    ngx_memcpy(tp->name, "tunny:", 6);
    ngx_memcpy(tp->name + 6, pcf->name.data, len);
    tp->name[6 + len] = '\0';

    for (tp->nsems = 0; tp->nsems < (ngx_uint_t) pcf->threads; tp->nsems++) {
        if (sem_init(&tp->threads[tp->nsems].wake, 0, 0) == -1) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                          "tunny_pool \"%V\": sem_init() failed",
                          &pcf->name);
            ngx_tunny_pool_stop(tp, 1);
            return NULL;
        }
    }

    /* from here on ngx_tunny_pool_stop() undoes whatever was done */

    if (ngx_tunny_pool_notify_init(cycle, tp) != NGX_OK
        || ngx_tunny_pool_spawn(cycle, tp, pcf) == 0)
    {
        ngx_tunny_pool_stop(tp, 1);
        return NULL;
    }

    return tp;
}


/* loop: the eventfd and its connection */

static ngx_int_t
ngx_tunny_pool_notify_init(ngx_cycle_t *cycle, ngx_tunny_pool_t *tp)
{
    int                fd;
    ngx_connection_t  *c;

    fd = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "tunny pool: eventfd() failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, cycle->log);
    if (c == NULL) {
        (void) close(fd);
        return NGX_ERROR;
    }

    tp->notify_fd = fd;
    tp->conn = c;

    c->data = tp;
    c->read->handler = ngx_tunny_pool_notify_handler;
    c->read->log = cycle->log;
    c->write->log = cycle->log;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * loop: unregister the eventfd.  Threads that were not joined may still
 * write it: then the descriptor stays open until the process exits.
 */

static void
ngx_tunny_pool_notify_close(ngx_tunny_pool_t *tp, ngx_uint_t joined)
{
    ngx_connection_t  *c;

    c = tp->conn;

    if (c == NULL) {
        return;
    }

    tp->conn = NULL;

    if (joined) {
        ngx_close_connection(c);
        tp->notify_fd = -1;
        return;
    }

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);
}


ngx_uint_t
ngx_tunny_pool_threads(ngx_tunny_pool_t *tp)
{
    return tp->nthreads;
}


/* loop */

void
ngx_tunny_pool_stop(ngx_tunny_pool_t *tp, ngx_uint_t join)
{
    ngx_uint_t           i;
    ngx_tunny_job_t     *job, *next;
    ngx_tunny_thread_t  *thr;

    /* phase 1: refuse new jobs; phase 2: drop queued, flag running */

    tp->stopping = 1;

    while ((job = ngx_tunny_queue_pop(&tp->queue)) != NULL) {
        ngx_tunny_queue_done(&tp->queue, job);
        ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_QUEUED, -1);
        ngx_tunny_job_free(job);
    }

    /*
     * every thread gets one more wake-up: an idle one leaves at once, a
     * busy one (or one that was just handed a job) when its job is done
     */

    for (i = 0; i < tp->nthreads; i++) {
        thr = &tp->threads[i];

        if (thr->running) {
            __atomic_store_n(&thr->running->cancel, 1, __ATOMIC_RELAXED);
        }

        (void) sem_post(&thr->wake);
    }

    if (!join) {
        /* threads may still run: leave the memory to the exiting process */
        ngx_tunny_pool_notify_close(tp, 0);
        return;
    }

    /* phase 3: wait for the running jobs */

    for (i = 0; i < tp->nthreads; i++) {
        (void) pthread_join(tp->threads[i].tid, NULL);
    }

    ngx_tunny_pool_notify_close(tp, 1);

    if (tp->busy) {
        ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_BUSY, -(ngx_int_t) tp->busy);
        tp->busy = 0;
    }

    if (tp->memory) {
        /* what the requests of this worker still hold is theirs to free */
        ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_MEMORY,
                             -(ngx_int_t) tp->memory);
        tp->memory = 0;
    }

    /* jobs finished meanwhile: nobody waits for them any more */

    for (job = ngx_tunny_pool_take_done(tp); job; job = next) {
        next = job->next;
        ngx_tunny_queue_done(&tp->queue, job);
        ngx_tunny_job_free(job);
    }

    for (i = 0; i < tp->nsems; i++) {
        (void) sem_destroy(&tp->threads[i].wake);
    }

    ngx_free(tp->threads);
    ngx_free(tp);
}


/* loop */

ngx_uint_t
ngx_tunny_pool_admit(ngx_tunny_pool_t *tp, ngx_tunny_admission_t *adm,
    uint64_t *wait_ns)
{
    uint64_t  wait;

    if (wait_ns) {
        *wait_ns = 0;
    }

    if (tp->stopping) {
        return NGX_TUNNY_REFUSED_CLOSED;
    }

    if (adm->continues) {
        /* more work of a request admitted before: it keeps its place */
        return NGX_TUNNY_ADMITTED;
    }

    if (ngx_tunny_pool_full_at(tp->queue.n, tp->busy, tp->nthreads,
                               ngx_min(adm->queue_limit, tp->max_queue)))
    {
        return NGX_TUNNY_REFUSED_QUEUE;
    }

    if (!ngx_queue_empty(&tp->idle)) {
        /* it runs at once */
        return NGX_TUNNY_ADMITTED;
    }

    if (adm->key_limit
        && ngx_tunny_queue_key_jobs(&tp->queue, &adm->key) >= adm->key_limit)
    {
        return NGX_TUNNY_REFUSED_KEY;
    }

    if (adm->max_wait_ns == 0 && wait_ns == NULL) {
        return NGX_TUNNY_ADMITTED;
    }

    wait = ngx_tunny_pool_predict(tp, &adm->key);

    if (wait_ns) {
        *wait_ns = wait;
    }

    if (adm->max_wait_ns && wait > adm->max_wait_ns) {
        return NGX_TUNNY_REFUSED_WAIT;
    }

    return NGX_TUNNY_ADMITTED;
}


/*
 * loop: the predicted time until a new job of "key" starts, with every
 * thread busy: the estimated work queued ahead of it plus what remains of
 * the running jobs, spread over the threads
 */

static uint64_t
ngx_tunny_pool_predict(ngx_tunny_pool_t *tp, ngx_str_t *key)
{
    uint64_t             now, work, elapsed;
    ngx_uint_t           i;
    ngx_tunny_job_t     *job;

    work = key ? ngx_tunny_queue_work_ahead(&tp->queue, key)
               : tp->queue.work;

    now = ngx_tunny_now_ns();

    for (i = 0; i < tp->nthreads; i++) {
        job = tp->threads[i].running;

        if (job == NULL) {
            return work / tp->nthreads;
        }

        elapsed = now - job->t_dispatch;

        if (job->est_ns > elapsed) {
            work += job->est_ns - elapsed;
        }
    }

    return work / tp->nthreads;
}


/*
 * loop: the gauges that are values, after every change of the queue: the
 * predicted wait of the typical new job, and the live fair keys
 */

static void
ngx_tunny_pool_show(ngx_tunny_pool_t *tp)
{
    if (tp->gauges) {
        tp->gauges->set(tp->index, NGX_TUNNY_GAUGE_WAIT,
                        ngx_queue_empty(&tp->idle)
                        ? ngx_tunny_pool_predict(tp, NULL) : 0);
        tp->gauges->set(tp->index, NGX_TUNNY_GAUGE_KEYS, tp->queue.nkeys);
    }
}


/* loop */

ngx_uint_t
ngx_tunny_job_post(ngx_tunny_pool_t *tp, ngx_tunny_job_t *job,
    ngx_tunny_admission_t *adm, uint64_t *wait_ns)
{
    ngx_uint_t           rc;
    ngx_queue_t         *q;
    ngx_tunny_thread_t  *thr;

    rc = ngx_tunny_pool_admit(tp, adm, wait_ns);

    if (rc != NGX_TUNNY_ADMITTED) {
        return rc;
    }

    job->tp = tp;
    job->thr = NULL;
    job->next = NULL;
    job->qkey = NULL;
    job->cost = adm->cost;
    job->est_ns = adm->cost ? ngx_tunny_cost_predict(adm->cost) : 0;
    job->cancel = 0;
    job->failed = 0;
    job->t_post = ngx_tunny_now_ns();
    job->t_start = 0;
    job->t_end = 0;
    job->t_dispatch = 0;

    /* through the queue even to an idle thread: its key pays for it */

    if (ngx_tunny_queue_push(&tp->queue, job, &adm->key, ngx_cycle->log)
        != NGX_OK)
    {
        return NGX_TUNNY_REFUSED_MEMORY;
    }

    job->state = NGX_TUNNY_JOB_QUEUED;

    if (!ngx_queue_empty(&tp->idle)) {
        /* an idle thread means an empty queue: this job comes out */
        q = ngx_queue_head(&tp->idle);
        thr = ngx_queue_data(q, ngx_tunny_thread_t, idle);
        ngx_tunny_pool_dispatch(tp, thr, ngx_tunny_queue_pop(&tp->queue));

    } else {
        ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_QUEUED, 1);
    }

    ngx_tunny_pool_show(tp);

    return NGX_TUNNY_ADMITTED;
}


/* loop: hand a job to an idle thread */

static void
ngx_tunny_pool_dispatch(ngx_tunny_pool_t *tp, ngx_tunny_thread_t *thr,
    ngx_tunny_job_t *job)
{
    ngx_queue_remove(&thr->idle);

    job->state = NGX_TUNNY_JOB_RUNNING;
    job->thr = thr;
    job->t_dispatch = ngx_tunny_now_ns();

    thr->running = job;
    tp->busy++;

    ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_BUSY, 1);

    __atomic_store_n(&thr->handoff, job, __ATOMIC_RELAXED);
    (void) sem_post(&thr->wake);
}


/* loop */

ngx_int_t
ngx_tunny_job_cancel(ngx_tunny_job_t *job)
{
    ngx_tunny_pool_t  *tp;

    tp = job->tp;

    job->data = NULL;

    if (job->state == NGX_TUNNY_JOB_QUEUED) {
        ngx_tunny_queue_remove(&tp->queue, job);

        ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_QUEUED, -1);
        ngx_tunny_pool_show(tp);

        ngx_tunny_job_free(job);

        return NGX_OK;
    }

    /* running, or on the done list: the drain frees the orphan */

    __atomic_store_n(&job->cancel, 1, __ATOMIC_RELAXED);

    return NGX_AGAIN;
}


/* loop */

ngx_int_t
ngx_tunny_pool_reserve(ngx_tunny_pool_t *tp, size_t size)
{
    if (size > tp->max_memory) {
        return NGX_DECLINED;
    }

    if (size > tp->max_memory - tp->memory) {
        return NGX_BUSY;
    }

    tp->memory += size;

    ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_MEMORY, (ngx_int_t) size);

    return NGX_OK;
}


/* loop */

void
ngx_tunny_pool_release(ngx_tunny_pool_t *tp, size_t size)
{
    size = ngx_min(size, tp->memory);

    tp->memory -= size;

    ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_MEMORY, -(ngx_int_t) size);
}


/* loop: a finished job teaches the estimate of its kind */

static void
ngx_tunny_pool_learn(ngx_tunny_job_t *job)
{
    uint64_t           run, dev;
    ngx_tunny_cost_t  *cost;

    cost = job->cost;

    if (cost == NULL || __atomic_load_n(&job->cancel, __ATOMIC_RELAXED)) {
        /* a cancelled job stopped early: its run time says nothing */
        return;
    }

    run = job->t_end - job->t_start;

    if (cost->samples++ == 0) {
        cost->est_ns = run;
        cost->dev_ns = 0;
        return;
    }

    /*
     * EWMAs, weight 1/4: they follow a change of cost within a few jobs
     * (the deviation first, from the old mean, as TCP's RTT variance)
     */

    dev = run > cost->est_ns ? run - cost->est_ns : cost->est_ns - run;

    cost->dev_ns = cost->dev_ns - cost->dev_ns / 4 + dev / 4;
    cost->est_ns = cost->est_ns - cost->est_ns / 4 + run / 4;
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


/* loop */

static void
ngx_tunny_pool_gauge(ngx_tunny_pool_t *tp, ngx_uint_t gauge, ngx_int_t delta)
{
    if (tp->gauges) {
        tp->gauges->add(tp->index, gauge, delta);
    }
}


/* loop: the whole done list, oldest first */

static ngx_tunny_job_t *
ngx_tunny_pool_take_done(ngx_tunny_pool_t *tp)
{
    ngx_tunny_job_t  *job, *next, *fifo;

    job = __atomic_exchange_n(&tp->done, NULL, __ATOMIC_ACQUIRE);

    for (fifo = NULL; job; job = next) {
        next = job->next;
        job->next = fifo;
        fifo = job;
    }

    return fifo;
}


/* loop: the eventfd is readable, take back and complete finished jobs */

static void
ngx_tunny_pool_notify_handler(ngx_event_t *ev)
{
    uint64_t             n;
    ngx_connection_t    *c;
    ngx_tunny_job_t     *done, *job, *next;
    ngx_tunny_pool_t    *tp;
    ngx_tunny_thread_t  *thr;

    c = ev->data;
    tp = c->data;

    /*
     * c->close (worker_shutdown_timeout) is a normal drain here: the
     * connection is closed in exit_process.
     * Read the counter first, then take the list: no lost wake-up.
     */

    (void) read(tp->notify_fd, &n, sizeof(uint64_t));

    done = ngx_tunny_pool_take_done(tp);

    /* first give every freed thread its next job, then answer */

    for (job = done; job; job = job->next) {
        thr = job->thr;

        job->state = NGX_TUNNY_JOB_DONE;
        thr->running = NULL;
        tp->busy--;

        ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_BUSY, -1);
        ngx_tunny_pool_learn(job);
        ngx_tunny_queue_done(&tp->queue, job);

        ngx_queue_insert_tail(&tp->idle, &thr->idle);

        next = ngx_tunny_queue_pop(&tp->queue);

        if (next) {
            ngx_tunny_pool_gauge(tp, NGX_TUNNY_GAUGE_QUEUED, -1);
            ngx_tunny_pool_dispatch(tp, thr, next);
        }
    }

    ngx_tunny_pool_show(tp);

    for (job = done; job; job = next) {
        next = job->next;

        if (job->data == NULL || job->complete == NULL) {
            /* orphan: its request has gone */
            ngx_tunny_job_free(job);
            continue;
        }

        job->complete(job);
    }
}
