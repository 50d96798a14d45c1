/*
 * ngx_tunny_module: the pool's threads: their creation, their loop (wait
 * for a job handed over, run it, give it back on the done list and wake
 * the event loop), their priority and CPU set, their per-thread state.
 * Who owns what is said in ngx_tunny_pool_int.h.  Functions marked
 * "thread" run in a pool thread; ngx_tunny_pool_spawn() in the event loop.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "ngx_tunny_pool_int.h"


static void *ngx_tunny_thread_cycle(void *data);
static void ngx_tunny_thread_setup(ngx_tunny_thread_t *thr);
static void ngx_tunny_thread_done(ngx_tunny_thread_t *thr,
    ngx_tunny_job_t *job);


/* set at configuration time in the master, read-only in workers */
static ngx_tunny_state_ops_t  *ngx_tunny_state_ops[NGX_TUNNY_MAX_STATE_KEYS];
static ngx_uint_t              ngx_tunny_state_nkeys;


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


/* thread */

void *
ngx_tunny_thread_state(ngx_tunny_thread_t *thr, ngx_int_t key)
{
    return thr->state[key];
}


/* thread */

void
ngx_tunny_thread_set_state(ngx_tunny_thread_t *thr, ngx_int_t key,
    void *state)
{
    thr->state[key] = state;
}


/* loop: create the threads; returns how many started */

ngx_uint_t
ngx_tunny_pool_spawn(ngx_cycle_t *cycle, ngx_tunny_pool_t *tp,
    ngx_tunny_pool_conf_t *pcf)
{
    int                  err;
    sigset_t             set, oset;
    ngx_uint_t           i;
    pthread_attr_t       attr;
    ngx_tunny_thread_t  *thr;

    err = pthread_attr_init(&attr);
    if (err) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                      "pthread_attr_init() failed");
        return 0;
    }

    err = pthread_attr_setstacksize(&attr, pcf->stack_size);
    if (err) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                      "pthread_attr_setstacksize(%uz) failed",
                      pcf->stack_size);
        (void) pthread_attr_destroy(&attr);
        return 0;
    }

    /* the threads must never take the signals nginx handles */

    (void) sigfillset(&set);
    (void) sigdelset(&set, SIGILL);
    (void) sigdelset(&set, SIGFPE);
    (void) sigdelset(&set, SIGSEGV);
    (void) sigdelset(&set, SIGBUS);

    (void) pthread_sigmask(SIG_SETMASK, &set, &oset);

    for (i = 0; i < (ngx_uint_t) pcf->threads; i++) {
        thr = &tp->threads[i];
        thr->tp = tp;

        err = pthread_create(&thr->tid, &attr, ngx_tunny_thread_cycle, thr);
        if (err) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, err,
                          "tunny_pool \"%V\": pthread_create() failed",
                          &pcf->name);
            break;
        }

        tp->nthreads++;
        ngx_queue_insert_tail(&tp->idle, &thr->idle);
    }

    (void) pthread_sigmask(SIG_SETMASK, &oset, NULL);
    (void) pthread_attr_destroy(&attr);

    return tp->nthreads;
}


/* thread */

static void *
ngx_tunny_thread_cycle(void *data)
{
    ngx_tunny_thread_t *thr = data;

    ngx_uint_t        i;
    ngx_tunny_job_t  *job;

    ngx_tunny_thread_setup(thr);

    for ( ;; ) {

        while (sem_wait(&thr->wake) == -1 && ngx_errno == NGX_EINTR) {
            /* void */
        }

        job = __atomic_exchange_n(&thr->handoff, NULL, __ATOMIC_RELAXED);

        if (job == NULL) {
            break;
        }

        __atomic_store_n(&job->t_start, ngx_tunny_now_ns(), __ATOMIC_RELAXED);

        job->process(job, thr);

        for (i = 0; i < ngx_tunny_state_nkeys; i++) {
            if (thr->state[i] && ngx_tunny_state_ops[i]->trim) {
                ngx_tunny_state_ops[i]->trim(thr->state[i]);
            }
        }

        ngx_tunny_thread_done(thr, job);
    }

    for (i = 0; i < ngx_tunny_state_nkeys; i++) {
        if (thr->state[i] && ngx_tunny_state_ops[i]->destroy) {
            ngx_tunny_state_ops[i]->destroy(thr->state[i]);
            thr->state[i] = NULL;
        }
    }

    return NULL;
}


/* thread: give the job back; wake the loop if the list was empty */

static void
ngx_tunny_thread_done(ngx_tunny_thread_t *thr, ngx_tunny_job_t *job)
{
    uint64_t           one;
    ngx_tunny_job_t   *head;
    ngx_tunny_pool_t  *tp;

    tp = thr->tp;

    job->t_end = ngx_tunny_now_ns();

    head = __atomic_load_n(&tp->done, __ATOMIC_RELAXED);

    do {
        job->next = head;
    } while (!__atomic_compare_exchange_n(&tp->done, &head, job, 1,
                                          __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));

    /*
     * after the push: the loop reads the counter before it takes the
     * list, so a push it did not take always has a write after its read
     */

    if (head == NULL) {
        one = 1;
        (void) write(tp->notify_fd, &one, sizeof(uint64_t));
    }
}


/* thread: lower priority, CPU mask and name; best effort */

static void
ngx_tunny_thread_setup(ngx_tunny_thread_t *thr)
{
    pid_t                tid;
    struct sched_param   sp;
    ngx_tunny_pool_t    *tp;

    tp = thr->tp;
    tid = (pid_t) syscall(SYS_gettid);

    /*
     * SCHED_BATCH: CPU-bound, no wake-up preemption of the event loop;
     * the nice value then weighs the threads against it
     */

    ngx_memzero(&sp, sizeof(struct sched_param));
    (void) sched_setscheduler(tid, SCHED_BATCH, &sp);

    (void) setpriority(PRIO_PROCESS, tid, (int) tp->nice);

    if (tp->cpuset) {
        (void) pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t),
                                      tp->cpuset);
    }

    (void) pthread_setname_np(pthread_self(), tp->name);
}
