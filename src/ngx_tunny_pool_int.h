/*
 * ngx_tunny_module: the pool's private header, shared by
 * ngx_tunny_pool.c (the loop side: start, stop, admission, dispatch,
 * completion) and ngx_tunny_pool_thread.c (the threads).
 *
 * Threads: the event loop thread of the worker ("loop") posts, dispatches,
 * cancels and completes jobs; a pool thread ("thread") runs the job it was
 * handed and gives it back.  As in Go's tunny, a thread asks for work by
 * being idle and the loop hands each job to one idle thread: the queue,
 * the counters and the admission decision belong to the loop alone, so
 * the loop never takes a lock, and nothing it does can wait for a thread
 * (a thread preempted anywhere cannot hold up the loop).
 *
 * The invariant (who owns each field, how it is handed over):
 *
 *   tp->queue (ngx_tunny_queue.c), tp->idle, tp->busy, tp->memory,
 *   tp->stopping, tp->conn, thr->running, thr->idle, job->queue,
 *   job->qkey, job->state, job->thr, job->est_ns, job->t_post,
 *   job->t_dispatch, job->data, the ngx_tunny_cost_t estimates
 *       loop only.
 *
 *   job->t_start
 *       stored by the thread (atomic) when it starts the job, so that run
 *       and queue times do not count the thread's wake-up; the loop loads
 *       it (atomic) when it detaches a running job, or plainly once the
 *       job came back.
 *
 *   thr->handoff
 *       the job handed to an idle thread: stored by the loop (atomic),
 *       then sem_post(&thr->wake); taken by the thread after its sem_wait()
 *       returns, with an atomic exchange for NULL.  A wake-up that finds
 *       NULL means "leave" (ngx_tunny_pool_stop posts every thread once).
 *       The loop stores a job only into the slot of an idle thread (one
 *       whose previous job came back), so a slot never holds two.
 *
 *   the job while it runs (everything the job refers to, job->failed,
 *   job->t_end)
 *       the thread's, from sem_wait() until it pushes the job on tp->done;
 *       the loop's again once it took the job off tp->done.
 *
 *   tp->done
 *       finished jobs, a lock-free LIFO linked by job->next: threads push
 *       with a compare-and-swap (release), the loop takes the whole list
 *       with one atomic exchange (acquire).
 *
 *   job->cancel
 *       written by the loop (atomic store), read by the thread (atomic
 *       load) while the job runs.
 *
 *   tp->notify_fd
 *       an eventfd, written by a thread that pushed onto an empty tp->done.
 *       It stays open as long as any thread may write it: closed after the
 *       threads were joined, never closed when they are left running (fast
 *       shutdown), so a late write can never reach a reused descriptor.
 *
 *   everything else in tp and thr
 *       read-only while threads run; thr->state[] is the thread's own.
 *
 * The gauges are moved by the loop only: busy drops when the loop takes a
 * finished job back, before any completion handler answers a client, so a
 * client that has its answer never sees its job counted as busy.
 */

#ifndef _NGX_TUNNY_POOL_INT_H_INCLUDED_
#define _NGX_TUNNY_POOL_INT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <pthread.h>
#include <semaphore.h>
#include "ngx_tunny_pool.h"
#include "ngx_tunny_queue.h"


#define NGX_TUNNY_JOB_QUEUED   1
#define NGX_TUNNY_JOB_RUNNING  2
#define NGX_TUNNY_JOB_DONE     3


struct ngx_tunny_thread_s {
    ngx_tunny_pool_t           *tp;
    pthread_t                   tid;
    sem_t                       wake;
    ngx_tunny_job_t            *handoff;
    ngx_tunny_job_t            *running;    /* loop: the job it runs */
    ngx_queue_t                 idle;       /* loop: in tp->idle */
    void                       *state[NGX_TUNNY_MAX_STATE_KEYS];
};


struct ngx_tunny_pool_s {
    /* loop only */
    ngx_tunny_queue_t           queue;      /* jobs waiting, fair order */
    ngx_queue_t                 idle;       /* threads waiting for a job */
    ngx_uint_t                  busy;       /* threads running a job */
    size_t                      memory;     /* reserved */
    ngx_uint_t                  stopping;
    ngx_connection_t           *conn;       /* of notify_fd */

    ngx_tunny_job_t            *done;       /* atomic LIFO */

    /* read-only while threads run */
    int                         notify_fd;
    ngx_uint_t                  nthreads;   /* started, the first ones */
    ngx_uint_t                  nsems;      /* initialised semaphores */
    ngx_tunny_thread_t         *threads;
    ngx_uint_t                  max_queue;
    size_t                      max_memory;
    ngx_uint_t                  index;
    ngx_int_t                   nice;
    cpu_set_t                  *cpuset;
    ngx_tunny_pool_gauges_t    *gauges;
    char                        name[16];   /* thread name */
};


/* ngx_tunny_pool_thread.c */

/* loop: create the threads; returns how many started */
ngx_uint_t ngx_tunny_pool_spawn(ngx_cycle_t *cycle, ngx_tunny_pool_t *tp,
    ngx_tunny_pool_conf_t *pcf);


#endif /* _NGX_TUNNY_POOL_INT_H_INCLUDED_ */
