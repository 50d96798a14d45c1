/*
 * ngx_tunny_module: metrics in shared memory.
 *
 * One shared memory zone "tunny_stats" (fixed size, tag &ngx_tunny_module)
 * holds, for up to NGX_TUNNY_STATS_MAX_POOLS pool names, the counters and
 * histograms, and for up to NGX_TUNNY_STATS_MAX_WORKERS worker processes a
 * slot of gauges.  Any worker renders the numbers of the whole server:
 * counters are shared, gauges are summed over the slots of live processes.
 * The zone is reused on reload (same name, size and tag), so counters
 * survive "nginx -s reload"; pools are found by name, so a reload that adds
 * or removes pools keeps the numbers of the others.
 *
 * Who calls what, from which thread:
 *
 *   ngx_tunny_stats_add_zone()       configuration (http postconfiguration)
 *   ngx_tunny_stats_init_process()   worker init_process, before the pools
 *                                    start
 *   ngx_tunny_stats_unready()        worker exit_process, before the pools stop
 *   ngx_tunny_stats_exit_process()   worker exit_process, after the pools
 *                                    stopped
 *   ngx_tunny_stats_ready()          worker init_process, after the pools
 *                                    started
 *   ngx_tunny_stats_gauges() hooks,
 *   ngx_tunny_stats_threads(),
 *   ngx_tunny_stats_job(),
 *   ngx_tunny_stats_bytes(),
 *   ngx_tunny_stats_render(),
 *   ngx_tunny_stats_health()         event loop of a worker
 *
 * Every function is a no-op (or returns NGX_DECLINED) in a process without
 * the zone (no http block) or before init_process.
 */

#ifndef _NGX_TUNNY_STATS_H_INCLUDED_
#define _NGX_TUNNY_STATS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_tunny_pool.h"


/* pool names ever seen by one zone; a configuration may not use more */
#define NGX_TUNNY_STATS_MAX_POOLS     32

/* worker processes alive at once, all generations together */
#define NGX_TUNNY_STATS_MAX_WORKERS   256

/* longest pool name, bytes; tunny_pool should refuse longer names */
#define NGX_TUNNY_STATS_NAME_LEN      64

/* histogram buckets, +Inf included */
#define NGX_TUNNY_STATS_NBUCKETS      14

/* job outcomes, as $tunny_outcome and tunny_jobs_total{outcome} name them */
#define NGX_TUNNY_OUTCOME_NONE       0
#define NGX_TUNNY_OUTCOME_OK         1
#define NGX_TUNNY_OUTCOME_ERROR      2
#define NGX_TUNNY_OUTCOME_REJECTED   3
#define NGX_TUNNY_OUTCOME_TIMEOUT    4
#define NGX_TUNNY_OUTCOME_CANCELLED  5
#define NGX_TUNNY_OUTCOME_CLOSED     6
#define NGX_TUNNY_OUTCOME_N          7

/* queue_ns / run_ns of ngx_tunny_stats_job(): the phase did not happen */
#define NGX_TUNNY_STATS_NO_TIME       ((uint64_t) -1)

/* Content-Type of ngx_tunny_stats_render() output */
#define NGX_TUNNY_STATS_PROMETHEUS_TYPE                                       \
    "text/plain; version=0.0.4; charset=utf-8"
#define NGX_TUNNY_STATS_JSON_TYPE     "application/json"


/*
 * Configuration: add the zone to cf->cycle.  Call once from the http
 * module's postconfiguration.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_tunny_stats_add_zone(ngx_conf_t *cf);

/*
 * Worker init_process (NGX_PROCESS_WORKER or NGX_PROCESS_SINGLE), before
 * any pool starts: claim this process's gauge slot and find (or add) each
 * pool's entry by name.  pools[i]->index must be < NGX_TUNNY_STATS_MAX_POOLS
 * (pools beyond it, or beyond the zone's name table, get no metrics; an
 * alert is logged).  Returns NGX_OK, also when the cycle has no zone
 * (metrics off); NGX_ERROR only on a broken zone.
 */
ngx_int_t ngx_tunny_stats_init_process(ngx_cycle_t *cycle,
    ngx_tunny_pool_conf_t **pools, ngx_uint_t npools);

/* Worker init_process, once every pool started: health counts us now */
void ngx_tunny_stats_ready(void);
void ngx_tunny_stats_unready(void);

/*
 * Worker exit_process, after every pool was stopped and its threads joined:
 * zero and release the slot.  When ngx_terminate is set the threads may
 * still run: the slot is left alone and counts no more once the process is
 * gone (its pid is reclaimed by the next worker that starts).
 */
void ngx_tunny_stats_exit_process(ngx_cycle_t *cycle);

/*
 * The hooks to give ngx_tunny_pool_start(); NULL when metrics are off.
 * queued(index, delta) and busy(index, delta) are called by the event
 * loop; index is the pool conf's index.
 */
ngx_tunny_pool_gauges_t *ngx_tunny_stats_gauges(void);

/* Event loop: live threads of pool "index" (+n after start, -n after stop) */
void ngx_tunny_stats_threads(ngx_uint_t index, ngx_int_t delta);

/*
 * Event loop, exactly once per job or refused request, when its outcome is
 * known:
 *   outcome    NGX_TUNNY_OUTCOME_OK .. _CLOSED (NONE is ignored);
 *   queue_ns   post to start (ran) or post to detach (never ran), or
 *              NGX_TUNNY_STATS_NO_TIME if the job was never queued;
 *   run_ns     start to end, or NGX_TUNNY_STATS_NO_TIME if it never ran.
 *
 * What feeds what:
 *   tunny_jobs_total{outcome}    +1, every call;
 *   tunny_job_queue_seconds      queue_ns, unless it is NO_TIME or the
 *                                outcome is rejected/closed (such jobs never
 *                                entered a queue): ok, error, and the
 *                                timeouts/cancels that reached the queue;
 *   tunny_job_run_seconds        run_ns of outcome ok and error only (jobs
 *                                that ran to completion; NO_TIME counts as 0)
 *                                so that its _count == ok + error; a job
 *                                stopped by timeout or cancel has no complete
 *                                run and is not observed.
 */
void ngx_tunny_stats_job(ngx_uint_t index, ngx_uint_t outcome,
    uint64_t queue_ns, uint64_t run_ns);

/*
 * Event loop: a request refused for reason (NGX_TUNNY_REFUSED_*), besides
 * its outcome: tunny_rejections_total{reason}.
 */
void ngx_tunny_stats_reject(ngx_uint_t index, ngx_uint_t reason);

/*
 * Event loop: image bytes given to the pool (in) and produced by it (out)
 * for one request: tunny_image_bytes_total{direction}.
 */
void ngx_tunny_stats_bytes(ngx_uint_t index, size_t in, size_t out);

/*
 * Event loop: the metrics of the pools of this process's configuration,
 * as Prometheus text exposition format 0.0.4 (json == 0) or JSON, in one
 * buffer from "pool" (last_buf is not set).  NGX_OK, NGX_DECLINED (metrics
 * off) or NGX_ERROR.
 */
ngx_int_t ngx_tunny_stats_render(ngx_pool_t *pool, ngx_uint_t json,
    ngx_buf_t **out);

/*
 * Event loop: NGX_OK when, in every live worker process, every pool of
 * this process's configuration has live threads and would admit a job at
 * its max_queue (ngx_tunny_pool_full_at(), the admission rule of
 * ngx_tunny_job_post()); NGX_BUSY otherwise.  reason is set from "pool"
 * ("ok", or e.g. "pool \"img\": queue 8/8, busy 2/2").  NGX_DECLINED:
 * metrics off.
 */
ngx_int_t ngx_tunny_stats_health(ngx_pool_t *pool, ngx_str_t *reason);


/* "queue", "wait", ... ; index by NGX_TUNNY_REFUSED_* */
extern ngx_str_t  ngx_tunny_reject_reasons[];

/* "ok", "error", ... ; index by NGX_TUNNY_OUTCOME_* */
extern ngx_str_t  ngx_tunny_outcome_names[];

extern ngx_module_t  ngx_tunny_module;


#endif /* _NGX_TUNNY_STATS_H_INCLUDED_ */
