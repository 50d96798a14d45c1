/*
 * ngx_tunny_module: metrics in shared memory, private header of
 * ngx_tunny_stats.c (the zone, its slots and counters) and
 * ngx_tunny_stats_render.c (Prometheus, JSON, health).
 *
 * Layout of the zone (one ngx_slab_calloc(), kept in shpool->data):
 *
 *   sh->pools[NGX_TUNNY_STATS_MAX_POOLS]    name table + counters
 *   sh->slots[NGX_TUNNY_STATS_MAX_WORKERS]  per-process gauges
 *
 * Every pool entry and every slot is padded to 128 bytes (two cache lines
 * with the adjacent-line prefetcher), so that workers do not share lines
 * they write: the pool threads of one worker write only that worker's slot.
 *
 * The invariant (who writes which field, from which thread, how):
 *
 *   pool->used, pool->name, pool->len
 *       any worker's loop, in init_process, under shpool->mutex; name and
 *       len are written before used = 1 (memory barrier).  An entry is
 *       reused for another name only when no live slot has it configured,
 *       again under the mutex.  Readers (render, health) read without the
 *       lock the entries of their own pools, which cannot be reused while
 *       they live.
 *
 *   pool->jobs[], pool->queue, pool->run, pool->bytes_*, rejections[]
 *       any worker's loop (ngx_tunny_stats_job), ngx_atomic_fetch_add();
 *       zeroed only when the entry is taken for a new name (under the
 *       mutex, while nobody can write it).  Histogram buckets are stored
 *       per bucket, not cumulative; _count is the sum of the buckets, so
 *       _count always equals the +Inf bucket.
 *
 *   slot->pid
 *       claimed (0 or a dead pid -> own pid) by the owner's loop in
 *       init_process under shpool->mutex, after the owner zeroed the
 *       gauges (memory barrier between); set to 0 by the owner's loop in
 *       exit_process after zeroing the gauges again.  Readers skip 0 and
 *       pids that no longer exist (kill(pid, 0) fails with ESRCH).
 *
 *   slot->gauge[i].configured, .max_queue, .max_wait
 *       the owner's loop, in init_process, under shpool->mutex, before
 *       slot->pid is published.
 *
 *   slot->gauge[i].threads, .value[NGX_TUNNY_GAUGE_*]
 *       the owner's loop (the pool moves its gauges from the loop only),
 *       with ngx_atomic_fetch_add() of a signed delta (the predicted wait:
 *       a plain store of the value); readers in other processes clamp the
 *       sums at 0.
 *
 *   slot->d.u.s.ready
 *       set by the owner's loop once its pools have started (after
 *       slot->pid was published), cleared with the pid; health skips a
 *       slot that is not ready, so a starting worker is not "no live
 *       threads".
 *
 *   process-local globals (ngx_tunny_stats_sh, _slot, _map[], _nmap)
 *       written and read by the loop only (init_process, exit_process,
 *       the gauge hooks, rendering).
 */

#ifndef _NGX_TUNNY_STATS_INT_H_INCLUDED_
#define _NGX_TUNNY_STATS_INT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_tunny_stats.h"


#define NGX_TUNNY_STATS_LINE       128
#define NGX_TUNNY_STATS_MAGIC      0x796e6e7574737473   /* "tstsnnuy" */
#define NGX_TUNNY_STATS_NONE       ((ngx_uint_t) -1)

#define ngx_tunny_stats_pad(type)                                             \
    ngx_align(sizeof(type), NGX_TUNNY_STATS_LINE)


typedef struct {
    ngx_atomic_t               bucket[NGX_TUNNY_STATS_NBUCKETS];
    ngx_atomic_t               sum;          /* nanoseconds */
} ngx_tunny_stats_hist_t;


typedef struct {
    ngx_atomic_t               used;
    size_t                     len;
    u_char                     name[NGX_TUNNY_STATS_NAME_LEN];

    ngx_atomic_t               jobs[NGX_TUNNY_OUTCOME_N];
    ngx_tunny_stats_hist_t     queue;
    ngx_tunny_stats_hist_t     run;
    ngx_atomic_t               bytes_in;
    ngx_atomic_t               bytes_out;
    ngx_atomic_t               rejections[NGX_TUNNY_REFUSED_N];
} ngx_tunny_stats_pool_data_t;


typedef union {
    ngx_tunny_stats_pool_data_t  d;
    u_char                       pad[ngx_tunny_stats_pad(
                                         ngx_tunny_stats_pool_data_t)];
} ngx_tunny_stats_pool_t;


#define NGX_TUNNY_STATS_NGAUGES    (NGX_TUNNY_GAUGE_KEYS + 1)

typedef struct {
    ngx_atomic_t               configured;
    ngx_atomic_t               max_queue;
    ngx_atomic_t               max_wait;     /* ns, largest tunny_max_wait */
    ngx_atomic_t               threads;
    ngx_atomic_t               value[NGX_TUNNY_STATS_NGAUGES];
} ngx_tunny_stats_gauge_t;


typedef struct {
    /* alone in its line: read by every reader, written twice a lifetime */
    union {
        struct {
            ngx_atomic_t       pid;
            ngx_atomic_t       ready;
        } s;
        u_char                 pad[NGX_TUNNY_STATS_LINE];
    } u;

    ngx_tunny_stats_gauge_t    gauge[NGX_TUNNY_STATS_MAX_POOLS];
} ngx_tunny_stats_slot_data_t;


typedef union {
    ngx_tunny_stats_slot_data_t  d;
    u_char                       pad[ngx_tunny_stats_pad(
                                         ngx_tunny_stats_slot_data_t)];
} ngx_tunny_stats_slot_t;


typedef struct {
    uint64_t                   magic;
    size_t                     size;
    u_char                     pad[NGX_TUNNY_STATS_LINE - 16];

    ngx_tunny_stats_pool_t     pools[NGX_TUNNY_STATS_MAX_POOLS];
    ngx_tunny_stats_slot_t     slots[NGX_TUNNY_STATS_MAX_WORKERS];
} ngx_tunny_stats_sh_t;


/* a consistent-enough copy of one pool's numbers, for rendering */
typedef struct {
    ngx_str_t                  name;
    ngx_uint_t                 max_queue;
    ngx_atomic_uint_t          threads;
    ngx_atomic_uint_t          queued;
    ngx_atomic_uint_t          busy;
    ngx_atomic_uint_t          memory;       /* summed */
    ngx_atomic_uint_t          wait;         /* ns, the largest */
    ngx_atomic_uint_t          keys;         /* summed */
    ngx_atomic_uint_t          jobs[NGX_TUNNY_OUTCOME_N];
    ngx_atomic_uint_t          rejections[NGX_TUNNY_REFUSED_N];
    ngx_atomic_uint_t          queue[NGX_TUNNY_STATS_NBUCKETS]; /* cumul. */
    ngx_atomic_uint_t          queue_sum;
    ngx_atomic_uint_t          run[NGX_TUNNY_STATS_NBUCKETS];
    ngx_atomic_uint_t          run_sum;
    ngx_atomic_uint_t          bytes_in;
    ngx_atomic_uint_t          bytes_out;
} ngx_tunny_stats_snap_t;


/* the pools of this process's configuration, by ngx_tunny_pool_conf_t index */
typedef struct {
    ngx_uint_t                 entry;        /* in sh->pools, or NONE */
    ngx_uint_t                 max_queue;
} ngx_tunny_stats_map_t;


/* does the process of a claimed slot still exist? */
ngx_uint_t ngx_tunny_stats_live(ngx_tunny_stats_slot_t *slot);


/* process-local state, see the invariant above */
extern ngx_tunny_stats_sh_t    *ngx_tunny_stats_sh;
extern ngx_tunny_stats_slot_t  *ngx_tunny_stats_slot;
extern ngx_tunny_stats_map_t    ngx_tunny_stats_map[];
extern ngx_uint_t               ngx_tunny_stats_nmap;


#endif /* _NGX_TUNNY_STATS_INT_H_INCLUDED_ */
