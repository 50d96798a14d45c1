/*
 * ngx_tunny_module: the fair queue of a pool (see ngx_tunny_queue.h).
 * Event loop only.
 *
 * Start-time fair queuing over keys: a key's virtual time (rn.key) is the
 * start tag of its next job, that is the finish tag of the last job it
 * was served (start + estimated cost), or the queue's clock if the key
 * was idle: an idle key banks no credit, a busy one pays for every job.
 * The clock is the start tag of the job served last.  A key lives while
 * it has jobs queued or running, so that its next job starts after the
 * finish tag of the one running; it is in the ready tree only while it
 * has jobs queued.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_tunny_queue.h"


typedef struct {
    ngx_str_node_t              sn;         /* in q->keys; first */
    ngx_rbtree_node_t           rn;         /* in q->ready, key: vtime */
    ngx_queue_t                 jobs;       /* queued, FIFO by job->queue */
    ngx_uint_t                  queued;
    ngx_uint_t                  active;     /* queued + running */
    uint64_t                    work;       /* estimates of the queued */
} ngx_tunny_queue_key_t;


static ngx_tunny_queue_key_t *ngx_tunny_queue_find(ngx_tunny_queue_t *q,
    ngx_str_t *key);
static void ngx_tunny_queue_unref(ngx_tunny_queue_t *q,
    ngx_tunny_queue_key_t *k);


void
ngx_tunny_queue_init(ngx_tunny_queue_t *q)
{
    ngx_memzero(q, sizeof(ngx_tunny_queue_t));

    ngx_rbtree_init(&q->keys, &q->keys_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&q->ready, &q->ready_sentinel, ngx_rbtree_insert_value);
}


static ngx_tunny_queue_key_t *
ngx_tunny_queue_find(ngx_tunny_queue_t *q, ngx_str_t *key)
{
    ngx_str_t  cut;

    cut.data = key->data;
    cut.len = ngx_min(key->len, NGX_TUNNY_QUEUE_KEY_LEN);

    return (ngx_tunny_queue_key_t *)
               ngx_str_rbtree_lookup(&q->keys, &cut,
                                     ngx_crc32_short(key->data, key->len));
}


ngx_uint_t
ngx_tunny_queue_key_jobs(ngx_tunny_queue_t *q, ngx_str_t *key)
{
    ngx_tunny_queue_key_t  *k;

    k = ngx_tunny_queue_find(q, key);

    return k ? k->queued : 0;
}


uint64_t
ngx_tunny_queue_work_ahead(ngx_tunny_queue_t *q, ngx_str_t *key)
{
    uint64_t                mine, work;
    ngx_rbtree_node_t      *node;
    ngx_tunny_queue_key_t  *k;

    k = ngx_tunny_queue_find(q, key);

    if (q->n == 0 || (k && k->queued == q->n)) {
        /* this key alone has jobs queued: a FIFO */
        return q->work;
    }

    /*
     * while the jobs of this key ahead of the new one drain, every other
     * key is served as much work at most (the fluid model of fair
     * queuing); a new key starts at the current virtual time
     */

    mine = k ? k->work : 0;
    work = 0;

    for (node = ngx_rbtree_min(q->ready.root, q->ready.sentinel);
         node;
         node = ngx_rbtree_next(&q->ready, node))
    {
        k = ngx_rbtree_data(node, ngx_tunny_queue_key_t, rn);
        work += ngx_min(k->work, mine);
    }

    return work;
}


ngx_int_t
ngx_tunny_queue_push(ngx_tunny_queue_t *q, ngx_tunny_job_t *job,
    ngx_str_t *key, ngx_log_t *log)
{
    size_t                  len;
    ngx_tunny_queue_key_t  *k;

    k = ngx_tunny_queue_find(q, key);

    if (k == NULL) {
        len = ngx_min(key->len, NGX_TUNNY_QUEUE_KEY_LEN);

        k = ngx_alloc(sizeof(ngx_tunny_queue_key_t) + len, log);
        if (k == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(k, sizeof(ngx_tunny_queue_key_t));

        k->sn.str.len = len;
        k->sn.str.data = (u_char *) k + sizeof(ngx_tunny_queue_key_t);
        ngx_memcpy(k->sn.str.data, key->data, len);
        k->sn.node.key = ngx_crc32_short(key->data, key->len);
        ngx_queue_init(&k->jobs);

        ngx_rbtree_insert(&q->keys, &k->sn.node);
        q->nkeys++;

        k->rn.key = q->vclock;
    }

    if (k->queued == 0) {
        /* ready again: not before the clock, nor before its last finish */
        k->rn.key = ngx_max(k->rn.key, q->vclock);
        ngx_rbtree_insert(&q->ready, &k->rn);
    }

    job->qkey = k;

    ngx_queue_insert_tail(&k->jobs, &job->queue);
    k->queued++;
    k->active++;
    k->work += job->est_ns;

    q->n++;
    q->work += job->est_ns;

    return NGX_OK;
}


ngx_tunny_job_t *
ngx_tunny_queue_pop(ngx_tunny_queue_t *q)
{
    ngx_queue_t            *h;
    ngx_tunny_job_t        *job;
    ngx_rbtree_node_t      *node;
    ngx_tunny_queue_key_t  *k;

    if (q->n == 0) {
        return NULL;
    }

    node = ngx_rbtree_min(q->ready.root, q->ready.sentinel);
    k = ngx_rbtree_data(node, ngx_tunny_queue_key_t, rn);

    h = ngx_queue_head(&k->jobs);
    job = ngx_queue_data(h, ngx_tunny_job_t, queue);
    ngx_queue_remove(h);

    k->queued--;
    k->work -= job->est_ns;

    q->n--;
    q->work -= job->est_ns;

    /*
     * the job starts at the key's time, the key pays for it;
     * ngx_rbtree_delete() zeroes the node's key: the tag is kept aside
     */

    q->vclock = k->rn.key;

    ngx_rbtree_delete(&q->ready, &k->rn);
    k->rn.key = q->vclock + ngx_max(job->est_ns, 1);

    if (k->queued) {
        ngx_rbtree_insert(&q->ready, &k->rn);
    }

    /* job->qkey stays: the key lives until ngx_tunny_queue_done() */

    return job;
}


void
ngx_tunny_queue_remove(ngx_tunny_queue_t *q, ngx_tunny_job_t *job)
{
    ngx_rbtree_key_t        tag;
    ngx_tunny_queue_key_t  *k;

    k = job->qkey;

    ngx_queue_remove(&job->queue);

    k->queued--;
    k->work -= job->est_ns;

    q->n--;
    q->work -= job->est_ns;

    if (k->queued == 0) {
        /* not ready any more; its next job still starts at this tag */
        tag = k->rn.key;
        ngx_rbtree_delete(&q->ready, &k->rn);
        k->rn.key = tag;
    }

    ngx_tunny_queue_unref(q, k);
    job->qkey = NULL;
}


void
ngx_tunny_queue_done(ngx_tunny_queue_t *q, ngx_tunny_job_t *job)
{
    if (job->qkey) {
        ngx_tunny_queue_unref(q, job->qkey);
        job->qkey = NULL;
    }
}


static void
ngx_tunny_queue_unref(ngx_tunny_queue_t *q, ngx_tunny_queue_key_t *k)
{
    if (--k->active == 0) {
        ngx_rbtree_delete(&q->keys, &k->sn.node);
        q->nkeys--;
        ngx_free(k);
    }
}
