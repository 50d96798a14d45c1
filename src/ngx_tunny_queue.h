/*
 * ngx_tunny_module: the queue of a pool, private to ngx_tunny_pool.c.
 *
 * Jobs wait per key (the location's tunny_fair_key, "" without one); the
 * next job comes from the key that has been served the least estimated
 * work so far (start-time fair queuing, see ngx_tunny_queue.c).  With one
 * key this is a FIFO.
 *
 * A key exists only while it has jobs queued or running: there are never
 * more keys than max_queue + threads, so a flood of distinct keys is
 * bounded by the queue limits.
 *
 * Event loop only: no locks, nothing here is seen by a pool thread.
 */

#ifndef _NGX_TUNNY_QUEUE_H_INCLUDED_
#define _NGX_TUNNY_QUEUE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_tunny_pool.h"


/* longer fair keys are cut: their first bytes and their hash tell them */
#define NGX_TUNNY_QUEUE_KEY_LEN  1024


typedef struct {
    ngx_rbtree_t                keys;       /* ngx_tunny_queue_key_t by key */
    ngx_rbtree_node_t           keys_sentinel;
    ngx_rbtree_t                ready;      /* by virtual time */
    ngx_rbtree_node_t           ready_sentinel;
    ngx_uint_t                  n;          /* jobs queued */
    ngx_uint_t                  nkeys;      /* keys alive */
    uint64_t                    work;       /* their estimates, ns */
    uint64_t                    vclock;     /* virtual time */
} ngx_tunny_queue_t;


void ngx_tunny_queue_init(ngx_tunny_queue_t *q);

/* jobs of "key" queued now */
ngx_uint_t ngx_tunny_queue_key_jobs(ngx_tunny_queue_t *q, ngx_str_t *key);

/*
 * Estimated queued work (ns) that a new job of "key" would wait for
 * before it starts: with several keys, each drains at most as much as
 * this key has queued ahead of it (the fluid model of fair queuing).
 */
uint64_t ngx_tunny_queue_work_ahead(ngx_tunny_queue_t *q, ngx_str_t *key);

/* queue job (job->est_ns set) under key; NGX_OK or NGX_ERROR (memory) */
ngx_int_t ngx_tunny_queue_push(ngx_tunny_queue_t *q, ngx_tunny_job_t *job,
    ngx_str_t *key, ngx_log_t *log);

/*
 * the next job in fair order, unlinked, to run now; NULL when empty.
 * Every job popped is given back with ngx_tunny_queue_done() once it ran.
 */
ngx_tunny_job_t *ngx_tunny_queue_pop(ngx_tunny_queue_t *q);
void ngx_tunny_queue_done(ngx_tunny_queue_t *q, ngx_tunny_job_t *job);

/* unlink a queued job that will not run */
void ngx_tunny_queue_remove(ngx_tunny_queue_t *q, ngx_tunny_job_t *job);


#endif /* _NGX_TUNNY_QUEUE_H_INCLUDED_ */
