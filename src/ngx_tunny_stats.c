/*
 * ngx_tunny_module: metrics in shared memory.
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
 *   pool->jobs[], pool->queue, pool->run, pool->bytes_*
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
 *   slot->gauge[i].configured, .max_queue
 *       the owner's loop, in init_process, under shpool->mutex, before
 *       slot->pid is published.
 *
 *   slot->gauge[i].threads, .queued, .busy
 *       the owner's threads, any of them (pool threads or loop), with
 *       ngx_atomic_fetch_add() of a signed delta; readers clamp the sums
 *       at 0 (a -1 may land before its +1 in another thread).
 *
 *   process-local statics (ngx_tunny_stats_sh, _slot, _map[])
 *       written by the loop in init_process before the pool threads are
 *       created (pthread_create orders them), read-only while threads
 *       run; exit_process clears them after the threads were joined.
 *       They are static arrays, not nginx pool memory: on a fast shutdown
 *       threads may still read them while nginx destroys the cycle pool.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_tunny_pool.h"
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
} ngx_tunny_stats_pool_data_t;


typedef union {
    ngx_tunny_stats_pool_data_t  d;
    u_char                       pad[ngx_tunny_stats_pad(
                                         ngx_tunny_stats_pool_data_t)];
} ngx_tunny_stats_pool_t;


typedef struct {
    ngx_atomic_t               configured;
    ngx_atomic_t               max_queue;
    ngx_atomic_t               threads;
    ngx_atomic_t               queued;
    ngx_atomic_t               busy;
} ngx_tunny_stats_gauge_t;


typedef struct {
    /* alone in its line: read by every reader, written twice a lifetime */
    union {
        ngx_atomic_t           pid;
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
    ngx_atomic_uint_t          jobs[NGX_TUNNY_OUTCOME_N];
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


static ngx_int_t ngx_tunny_stats_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_shm_zone_t *ngx_tunny_stats_find_zone(ngx_cycle_t *cycle);
static ngx_tunny_stats_slot_t *ngx_tunny_stats_claim_slot(
    ngx_tunny_stats_sh_t *sh, ngx_log_t *log);
static ngx_uint_t ngx_tunny_stats_entry(ngx_tunny_stats_sh_t *sh,
    ngx_str_t *name, ngx_uint_t *mine);
static ngx_uint_t ngx_tunny_stats_live(ngx_tunny_stats_slot_t *slot);
static void ngx_tunny_stats_queued(ngx_uint_t index, ngx_int_t delta);
static void ngx_tunny_stats_busy(ngx_uint_t index, ngx_int_t delta);
static void ngx_tunny_stats_observe(ngx_tunny_stats_hist_t *h,
    uint64_t ns);
static ngx_tunny_stats_snap_t *ngx_tunny_stats_snapshot(ngx_pool_t *pool,
    ngx_uint_t *n);
static u_char *ngx_tunny_stats_prometheus(u_char *p, u_char *last,
    ngx_tunny_stats_snap_t *snap, ngx_uint_t n);
static u_char *ngx_tunny_stats_prom_hist(u_char *p, u_char *last,
    ngx_tunny_stats_snap_t *snap, ngx_uint_t n, char *name, ngx_uint_t run);
static u_char *ngx_tunny_stats_json(u_char *p, u_char *last,
    ngx_tunny_stats_snap_t *snap, ngx_uint_t n);
static u_char *ngx_tunny_stats_json_hist(u_char *p, u_char *last,
    ngx_atomic_uint_t *bucket, ngx_atomic_uint_t sum);
static u_char *ngx_tunny_stats_prom_escape(u_char *dst, ngx_str_t *src);


static ngx_str_t  ngx_tunny_stats_zone_name = ngx_string("tunny_stats");


/* upper bounds, nanoseconds; the last bucket is +Inf */
static uint64_t  ngx_tunny_stats_bounds[NGX_TUNNY_STATS_NBUCKETS - 1] = {
    1000000,
    2500000,
    5000000,
    10000000,
    25000000,
    50000000,
    100000000,
    250000000,
    500000000,
    1000000000,
    2500000000,
    5000000000,
    10000000000
};


static char  *ngx_tunny_stats_le[NGX_TUNNY_STATS_NBUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"
};


static ngx_tunny_pool_gauges_t  ngx_tunny_stats_hooks = {
    ngx_tunny_stats_queued,
    ngx_tunny_stats_busy
};


/* process-local state, see the invariant above */
static ngx_tunny_stats_sh_t    *ngx_tunny_stats_sh;
static ngx_tunny_stats_slot_t  *ngx_tunny_stats_slot;
static ngx_tunny_stats_map_t    ngx_tunny_stats_map[NGX_TUNNY_STATS_MAX_POOLS];
static ngx_uint_t               ngx_tunny_stats_nmap;


ngx_int_t
ngx_tunny_stats_add_zone(ngx_conf_t *cf)
{
    size_t           size;
    ngx_shm_zone_t  *shm_zone;

    /*
     * the size depends on nothing in the configuration, so the zone
     * always matches the one of the previous cycle and is reused
     */

    size = ngx_align(sizeof(ngx_tunny_stats_sh_t), ngx_pagesize)
           + 16 * ngx_pagesize;

    shm_zone = ngx_shared_memory_add(cf, &ngx_tunny_stats_zone_name, size,
                                     &ngx_tunny_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_tunny_stats_init_zone;
    shm_zone->noreuse = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_tunny_stats_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t       *shpool;
    ngx_tunny_stats_sh_t  *sh, *osh;

    osh = data;

    if (osh) {
        /* reload: same name, size and tag, keep the counters */

        if (osh->magic != NGX_TUNNY_STATS_MAGIC
            || osh->size != sizeof(ngx_tunny_stats_sh_t))
        {
            ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                          "tunny_stats zone of an incompatible build");
            return NGX_ERROR;
        }

        shm_zone->data = osh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_tunny_stats_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->magic = NGX_TUNNY_STATS_MAGIC;
    sh->size = sizeof(ngx_tunny_stats_sh_t);

    shpool->data = sh;
    shm_zone->data = sh;

    shpool->log_ctx = (u_char *) " in tunny_stats zone";

    return NGX_OK;
}


static ngx_shm_zone_t *
ngx_tunny_stats_find_zone(ngx_cycle_t *cycle)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *shm_zone;

    part = &cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].tag == &ngx_tunny_module
            && shm_zone[i].shm.name.len == ngx_tunny_stats_zone_name.len
            && ngx_strncmp(shm_zone[i].shm.name.data,
                           ngx_tunny_stats_zone_name.data,
                           ngx_tunny_stats_zone_name.len)
               == 0)
        {
            return &shm_zone[i];
        }
    }
}


ngx_int_t
ngx_tunny_stats_init_process(ngx_cycle_t *cycle,
    ngx_tunny_pool_conf_t **pools, ngx_uint_t npools)
{
    ngx_uint_t               i, k, entry, max_queue;
    ngx_uint_t               mine[NGX_TUNNY_STATS_MAX_POOLS];
    ngx_shm_zone_t          *shm_zone;
    ngx_slab_pool_t         *shpool;
    ngx_tunny_stats_sh_t    *sh;
    ngx_tunny_stats_slot_t  *slot;
    ngx_tunny_stats_gauge_t *g;
    ngx_tunny_pool_conf_t   *pcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ngx_tunny_stats_sh = NULL;
    ngx_tunny_stats_slot = NULL;
    ngx_tunny_stats_nmap = 0;

    for (i = 0; i < NGX_TUNNY_STATS_MAX_POOLS; i++) {
        ngx_tunny_stats_map[i].entry = NGX_TUNNY_STATS_NONE;
        ngx_tunny_stats_map[i].max_queue = 0;
        mine[i] = 0;
    }

    shm_zone = ngx_tunny_stats_find_zone(cycle);

    if (shm_zone == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                       "tunny stats: no zone, metrics off");
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    sh = shm_zone->data;

    if (sh == NULL || sh->magic != NGX_TUNNY_STATS_MAGIC) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "tunny_stats zone is not initialized");
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&shpool->mutex);

    slot = ngx_tunny_stats_claim_slot(sh, cycle->log);

    for (i = 0; i < npools; i++) {
        pcf = pools[i];

        if (pcf->index >= NGX_TUNNY_STATS_MAX_POOLS) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "tunny_pool \"%V\": no metrics, more than %d "
                          "pools", &pcf->name, NGX_TUNNY_STATS_MAX_POOLS);
            continue;
        }

        if (pcf->name.len > NGX_TUNNY_STATS_NAME_LEN) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "tunny_pool \"%V\": no metrics, name longer "
                          "than %d bytes", &pcf->name,
                          NGX_TUNNY_STATS_NAME_LEN);
            continue;
        }

        entry = ngx_tunny_stats_entry(sh, &pcf->name, mine);

        if (entry == NGX_TUNNY_STATS_NONE) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "tunny_pool \"%V\": no metrics, the tunny_stats "
                          "zone holds %d pool names in use",
                          &pcf->name, NGX_TUNNY_STATS_MAX_POOLS);
            continue;
        }

        mine[entry] = 1;

        max_queue = pcf->max_queue > 0 ? (ngx_uint_t) pcf->max_queue : 0;

        ngx_tunny_stats_map[pcf->index].entry = entry;
        ngx_tunny_stats_map[pcf->index].max_queue = max_queue;

        if (pcf->index >= ngx_tunny_stats_nmap) {
            ngx_tunny_stats_nmap = pcf->index + 1;
        }

        if (slot) {
            g = &slot->d.gauge[entry];
            g->max_queue = max_queue;
            g->configured = 1;
        }
    }

    if (slot) {
        /* the gauges are zero and configured: publish the slot */
        ngx_memory_barrier();
        slot->d.u.pid = (ngx_atomic_uint_t) ngx_pid;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_tunny_stats_sh = sh;
    ngx_tunny_stats_slot = slot;

    for (k = 0; k < NGX_TUNNY_STATS_MAX_POOLS; k++) {
        if (mine[k]) {
            ngx_log_debug3(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                           "tunny stats: pool \"%*s\" entry %ui",
                           sh->pools[k].d.len, sh->pools[k].d.name, k);
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                   "tunny stats: slot %i, pid %P",
                   slot ? (ngx_int_t) (slot - sh->slots) : -1, ngx_pid);

    return NGX_OK;
}


/* under shpool->mutex: a free slot, or one of a process that is gone */

static ngx_tunny_stats_slot_t *
ngx_tunny_stats_claim_slot(ngx_tunny_stats_sh_t *sh, ngx_log_t *log)
{
    ngx_uint_t               i;
    ngx_pid_t                pid;
    ngx_tunny_stats_slot_t  *slot, *found;

    found = NULL;

    for (i = 0; i < NGX_TUNNY_STATS_MAX_WORKERS; i++) {
        slot = &sh->slots[i];
        pid = (ngx_pid_t) slot->d.u.pid;

        if (pid == ngx_pid) {
            /* ours already (single process mode, init twice) */
            found = slot;
            break;
        }

        if (found == NULL && (pid == 0 || !ngx_tunny_stats_live(slot))) {
            found = slot;
        }
    }

    if (found == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "tunny_stats: all %d worker slots in use, the gauges "
                      "of this process are not counted",
                      NGX_TUNNY_STATS_MAX_WORKERS);
        return NULL;
    }

    /*
     * readers skip the slot while its pid is 0 or dead; the pid is
     * published by the caller once the gauges are zero and configured
     */

    ngx_memzero(found->d.gauge, sizeof(found->d.gauge));

    return found;
}


/*
 * under shpool->mutex: the entry of "name"; a new one takes a free entry,
 * or one that no live process has configured (its counters restart)
 */

static ngx_uint_t
ngx_tunny_stats_entry(ngx_tunny_stats_sh_t *sh, ngx_str_t *name,
    ngx_uint_t *mine)
{
    ngx_uint_t                    i, k, free, busy;
    ngx_tunny_stats_slot_t       *slot;
    ngx_tunny_stats_pool_data_t  *e;

    free = NGX_TUNNY_STATS_NONE;

    for (k = 0; k < NGX_TUNNY_STATS_MAX_POOLS; k++) {
        e = &sh->pools[k].d;

        if (!e->used) {
            if (free == NGX_TUNNY_STATS_NONE) {
                free = k;
            }

            continue;
        }

        if (e->len == name->len
            && ngx_memcmp(e->name, name->data, name->len) == 0)
        {
            return k;
        }
    }

    if (free == NGX_TUNNY_STATS_NONE) {

        for (k = 0; k < NGX_TUNNY_STATS_MAX_POOLS; k++) {
            if (mine[k]) {
                continue;
            }

            busy = 0;

            for (i = 0; i < NGX_TUNNY_STATS_MAX_WORKERS; i++) {
                slot = &sh->slots[i];

                if (slot->d.gauge[k].configured
                    && slot->d.u.pid != 0
                    && ngx_tunny_stats_live(slot))
                {
                    busy = 1;
                    break;
                }
            }

            if (!busy) {
                free = k;
                break;
            }
        }

        if (free == NGX_TUNNY_STATS_NONE) {
            return NGX_TUNNY_STATS_NONE;
        }
    }

    e = &sh->pools[free].d;

    e->used = 0;
    ngx_memory_barrier();

    ngx_memzero(e, sizeof(ngx_tunny_stats_pool_data_t));
    ngx_memcpy(e->name, name->data, name->len);
    e->len = name->len;

    /* slots of dead processes may still say "configured" */

    for (i = 0; i < NGX_TUNNY_STATS_MAX_WORKERS; i++) {
        slot = &sh->slots[i];

        if (slot->d.u.pid == 0 || !ngx_tunny_stats_live(slot)) {
            ngx_memzero(&slot->d.gauge[free],
                        sizeof(ngx_tunny_stats_gauge_t));
        }
    }

    ngx_memory_barrier();
    e->used = 1;

    return free;
}


/* does the process of a claimed slot still exist? */

static ngx_uint_t
ngx_tunny_stats_live(ngx_tunny_stats_slot_t *slot)
{
    ngx_pid_t  pid;

    pid = (ngx_pid_t) slot->d.u.pid;

    if (pid == 0) {
        return 0;
    }

    if (pid == ngx_pid) {
        return 1;
    }

    if (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
        return 0;
    }

    /* alive, or EPERM: exists under another user */

    return 1;
}


void
ngx_tunny_stats_exit_process(ngx_cycle_t *cycle)
{
    ngx_tunny_stats_slot_t  *slot;

    slot = ngx_tunny_stats_slot;

    if (slot == NULL) {
        return;
    }

    if (ngx_terminate) {
        /* threads may still run and write the slot: leave it */
        return;
    }

    ngx_tunny_stats_slot = NULL;

    ngx_memzero(slot->d.gauge, sizeof(slot->d.gauge));

    ngx_memory_barrier();

    slot->d.u.pid = 0;

    ngx_log_debug0(NGX_LOG_DEBUG_CORE, cycle->log, 0,
                   "tunny stats: slot released");
}


ngx_tunny_pool_gauges_t *
ngx_tunny_stats_gauges(void)
{
    if (ngx_tunny_stats_slot == NULL) {
        return NULL;
    }

    return &ngx_tunny_stats_hooks;
}


/* any thread */

static ngx_inline ngx_tunny_stats_gauge_t *
ngx_tunny_stats_gauge(ngx_uint_t index)
{
    ngx_uint_t               entry;
    ngx_tunny_stats_slot_t  *slot;

    slot = ngx_tunny_stats_slot;

    if (slot == NULL || index >= NGX_TUNNY_STATS_MAX_POOLS) {
        return NULL;
    }

    entry = ngx_tunny_stats_map[index].entry;

    if (entry == NGX_TUNNY_STATS_NONE) {
        return NULL;
    }

    return &slot->d.gauge[entry];
}


/* any thread: add delta to the gauge at "offset" of this worker's slot */

static void
ngx_tunny_stats_gauge_add(ngx_uint_t index, size_t offset, ngx_int_t delta)
{
    ngx_tunny_stats_gauge_t  *g;

    g = ngx_tunny_stats_gauge(index);

    if (g) {
        (void) ngx_atomic_fetch_add((ngx_atomic_t *) ((u_char *) g + offset),
                                    (ngx_atomic_int_t) delta);
    }
}


void
ngx_tunny_stats_threads(ngx_uint_t index, ngx_int_t delta)
{
    ngx_tunny_stats_gauge_add(index,
                              offsetof(ngx_tunny_stats_gauge_t, threads),
                              delta);
}


static void
ngx_tunny_stats_queued(ngx_uint_t index, ngx_int_t delta)
{
    ngx_tunny_stats_gauge_add(index,
                              offsetof(ngx_tunny_stats_gauge_t, queued),
                              delta);
}


static void
ngx_tunny_stats_busy(ngx_uint_t index, ngx_int_t delta)
{
    ngx_tunny_stats_gauge_add(index, offsetof(ngx_tunny_stats_gauge_t, busy),
                              delta);
}


/* loop */

void
ngx_tunny_stats_job(ngx_uint_t index, ngx_uint_t outcome, uint64_t queue_ns,
    uint64_t run_ns, size_t bytes_in, size_t bytes_out)
{
    ngx_uint_t                    entry;
    ngx_tunny_stats_pool_data_t  *e;

    if (ngx_tunny_stats_sh == NULL
        || index >= NGX_TUNNY_STATS_MAX_POOLS
        || outcome == NGX_TUNNY_OUTCOME_NONE
        || outcome >= NGX_TUNNY_OUTCOME_N)
    {
        return;
    }

    entry = ngx_tunny_stats_map[index].entry;

    if (entry == NGX_TUNNY_STATS_NONE) {
        return;
    }

    e = &ngx_tunny_stats_sh->pools[entry].d;

    if (queue_ns != NGX_TUNNY_STATS_NO_TIME
        && outcome != NGX_TUNNY_OUTCOME_REJECTED
        && outcome != NGX_TUNNY_OUTCOME_CLOSED)
    {
        ngx_tunny_stats_observe(&e->queue, queue_ns);
    }

    if (outcome == NGX_TUNNY_OUTCOME_OK
        || outcome == NGX_TUNNY_OUTCOME_ERROR)
    {
        ngx_tunny_stats_observe(&e->run,
                                run_ns == NGX_TUNNY_STATS_NO_TIME ? 0 : run_ns);
    }

    if (bytes_in) {
        (void) ngx_atomic_fetch_add(&e->bytes_in, bytes_in);
    }

    if (bytes_out) {
        (void) ngx_atomic_fetch_add(&e->bytes_out, bytes_out);
    }

    /* last: a reader that sees the job counted sees its observations */

    (void) ngx_atomic_fetch_add(&e->jobs[outcome], 1);
}


static void
ngx_tunny_stats_observe(ngx_tunny_stats_hist_t *h, uint64_t ns)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_TUNNY_STATS_NBUCKETS - 1; i++) {
        if (ns <= ngx_tunny_stats_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->sum, (ngx_atomic_uint_t) ns);
    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
}


/* loop: the pools of this process's configuration, gauges summed */

static ngx_tunny_stats_snap_t *
ngx_tunny_stats_snapshot(ngx_pool_t *pool, ngx_uint_t *n)
{
    ngx_int_t                     threads, queued, busy;
    ngx_uint_t                    i, j, k, b, entry, nlive;
    ngx_atomic_uint_t             cq, cr;
    ngx_tunny_stats_sh_t         *sh;
    ngx_tunny_stats_snap_t       *snap, *s;
    ngx_tunny_stats_slot_t       *slot, **live;
    ngx_tunny_stats_gauge_t      *g;
    ngx_tunny_stats_pool_data_t  *e;

    sh = ngx_tunny_stats_sh;

    snap = ngx_pcalloc(pool, (ngx_tunny_stats_nmap + 1)
                             * sizeof(ngx_tunny_stats_snap_t));
    if (snap == NULL) {
        return NULL;
    }

    live = ngx_palloc(pool, NGX_TUNNY_STATS_MAX_WORKERS
                            * sizeof(ngx_tunny_stats_slot_t *));
    if (live == NULL) {
        return NULL;
    }

    nlive = 0;

    for (j = 0; j < NGX_TUNNY_STATS_MAX_WORKERS; j++) {
        slot = &sh->slots[j];

        if (ngx_tunny_stats_live(slot)) {
            live[nlive++] = slot;
        }
    }

    ngx_memory_barrier();

    k = 0;

    for (i = 0; i < ngx_tunny_stats_nmap; i++) {
        entry = ngx_tunny_stats_map[i].entry;

        if (entry == NGX_TUNNY_STATS_NONE) {
            continue;
        }

        e = &sh->pools[entry].d;
        s = &snap[k++];

        s->name.len = e->len;
        s->name.data = e->name;
        s->max_queue = ngx_tunny_stats_map[i].max_queue;

        threads = 0;
        queued = 0;
        busy = 0;

        for (j = 0; j < nlive; j++) {
            g = &live[j]->d.gauge[entry];

            if (!g->configured) {
                continue;
            }

            threads += (ngx_atomic_int_t) g->threads;
            queued += (ngx_atomic_int_t) g->queued;
            busy += (ngx_atomic_int_t) g->busy;
        }

        s->threads = threads > 0 ? threads : 0;
        s->queued = queued > 0 ? queued : 0;
        s->busy = busy > 0 ? busy : 0;

        /* jobs first: ngx_tunny_stats_job() adds them last */

        for (b = 0; b < NGX_TUNNY_OUTCOME_N; b++) {
            s->jobs[b] = e->jobs[b];
        }

        ngx_memory_barrier();

        cq = 0;
        cr = 0;

        for (b = 0; b < NGX_TUNNY_STATS_NBUCKETS; b++) {
            cq += e->queue.bucket[b];
            cr += e->run.bucket[b];
            s->queue[b] = cq;
            s->run[b] = cr;
        }

        s->queue_sum = e->queue.sum;
        s->run_sum = e->run.sum;
        s->bytes_in = e->bytes_in;
        s->bytes_out = e->bytes_out;
    }

    *n = k;

    return snap;
}


ngx_int_t
ngx_tunny_stats_render(ngx_pool_t *pool, ngx_uint_t json, ngx_buf_t **out)
{
    size_t                   size, len;
    u_char                  *p;
    ngx_str_t               *name;
    ngx_uint_t               i, n;
    ngx_buf_t               *b;
    ngx_tunny_stats_snap_t  *snap;

    if (ngx_tunny_stats_sh == NULL) {
        return NGX_DECLINED;
    }

    snap = ngx_tunny_stats_snapshot(pool, &n);
    if (snap == NULL) {
        return NGX_ERROR;
    }

    /*
     * the names, escaped as JSON strings or label values, replace the
     * pointers into the zone; then an upper bound of the size: the
     * HELP/TYPE lines, and per pool at most 48 lines of at most 160 bytes
     * plus the escaped name
     */

    size = 4096;

    for (i = 0; i < n; i++) {
        name = &snap[i].name;

        if (json) {
            len = name->len + ngx_escape_json(NULL, name->data, name->len);

        } else {
            len = 2 * name->len;
        }

        p = ngx_pnalloc(pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (json) {
            len = (u_char *) ngx_escape_json(p, name->data, name->len) - p;

        } else {
            len = ngx_tunny_stats_prom_escape(p, name) - p;
        }

        name->data = p;
        name->len = len;

        size += 48 * (160 + len);
    }

    b = ngx_create_temp_buf(pool, size);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (json) {
        p = ngx_tunny_stats_json(b->last, b->end, snap, n);

    } else {
        p = ngx_tunny_stats_prometheus(b->last, b->end, snap, n);
    }

    if (p == b->end) {
        /* ngx_slprintf() stops at the end: the bound above is wrong */
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "tunny_stats: metrics truncated at %uz bytes", size);
        return NGX_ERROR;
    }

    b->last = p;
    *out = b;

    return NGX_OK;
}


/* Prometheus text exposition format 0.0.4 */

typedef struct {
    char                            *name;
    char                            *help;
    size_t                           offset;  /* in ngx_tunny_stats_snap_t */
} ngx_tunny_stats_gauge_family_t;


static ngx_tunny_stats_gauge_family_t  ngx_tunny_stats_gauge_families[] = {
    { "tunny_pool_threads", "Live pool threads",
      offsetof(ngx_tunny_stats_snap_t, threads) },
    { "tunny_pool_queue_length", "Jobs waiting for a pool thread",
      offsetof(ngx_tunny_stats_snap_t, queued) },
    { "tunny_pool_busy_threads", "Pool threads running a job",
      offsetof(ngx_tunny_stats_snap_t, busy) },
    { NULL, NULL, 0 }
};


static u_char *
ngx_tunny_stats_prometheus(u_char *p, u_char *last,
    ngx_tunny_stats_snap_t *snap, ngx_uint_t n)
{
    ngx_uint_t                       i, o;
    ngx_tunny_stats_snap_t          *s;
    ngx_tunny_stats_gauge_family_t  *g;

    for (g = ngx_tunny_stats_gauge_families; g->name; g++) {
        p = ngx_slprintf(p, last, "# HELP %s %s, summed over the worker "
                         "processes.\n# TYPE %s gauge\n",
                         g->name, g->help, g->name);

        for (i = 0; i < n; i++) {
            s = &snap[i];
            p = ngx_slprintf(p, last, "%s{pool=\"%V\"} %uA\n", g->name,
                             &s->name,
                             *(ngx_atomic_uint_t *) ((u_char *) s
                                                     + g->offset));
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP tunny_jobs_total Jobs and refused requests by "
            "outcome.\n"
            "# TYPE tunny_jobs_total counter\n");

    for (i = 0; i < n; i++) {
        s = &snap[i];

        for (o = NGX_TUNNY_OUTCOME_OK; o < NGX_TUNNY_OUTCOME_N; o++) {
            p = ngx_slprintf(p, last,
                             "tunny_jobs_total{pool=\"%V\",outcome=\"%V\"} "
                             "%uA\n",
                             &s->name, &ngx_tunny_outcome_names[o],
                             s->jobs[o]);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP tunny_job_queue_seconds Time jobs waited in the queue "
            "(ok, error, and timeouts or cancels of queued jobs).\n"
            "# TYPE tunny_job_queue_seconds histogram\n");

    p = ngx_tunny_stats_prom_hist(p, last, snap, n,
                                  "tunny_job_queue_seconds", 0);

    p = ngx_slprintf(p, last,
            "# HELP tunny_job_run_seconds Run time of the jobs that ran to "
            "completion (ok and error).\n"
            "# TYPE tunny_job_run_seconds histogram\n");

    p = ngx_tunny_stats_prom_hist(p, last, snap, n,
                                  "tunny_job_run_seconds", 1);

    p = ngx_slprintf(p, last,
            "# HELP tunny_image_bytes_total Image bytes into and out of "
            "the pool.\n"
            "# TYPE tunny_image_bytes_total counter\n");

    for (i = 0; i < n; i++) {
        s = &snap[i];
        p = ngx_slprintf(p, last,
                         "tunny_image_bytes_total{pool=\"%V\","
                         "direction=\"in\"} %uA\n"
                         "tunny_image_bytes_total{pool=\"%V\","
                         "direction=\"out\"} %uA\n",
                         &s->name, s->bytes_in, &s->name, s->bytes_out);
    }

    return p;
}


static u_char *
ngx_tunny_stats_prom_hist(u_char *p, u_char *last,
    ngx_tunny_stats_snap_t *snap, ngx_uint_t n, char *name, ngx_uint_t run)
{
    ngx_uint_t               i, b;
    ngx_atomic_uint_t       *bucket, sum;
    ngx_tunny_stats_snap_t  *s;

    for (i = 0; i < n; i++) {
        s = &snap[i];

        bucket = run ? s->run : s->queue;
        sum = run ? s->run_sum : s->queue_sum;

        for (b = 0; b < NGX_TUNNY_STATS_NBUCKETS; b++) {
            p = ngx_slprintf(p, last,
                             "%s_bucket{pool=\"%V\",le=\"%s\"} %uA\n",
                             name, &s->name, ngx_tunny_stats_le[b],
                             bucket[b]);
        }

        p = ngx_slprintf(p, last,
                         "%s_sum{pool=\"%V\"} %uA.%09uA\n"
                         "%s_count{pool=\"%V\"} %uA\n",
                         name, &s->name, sum / 1000000000,
                         sum % 1000000000,
                         name, &s->name, bucket[NGX_TUNNY_STATS_NBUCKETS - 1]);
    }

    return p;
}


/*
 * JSON:
 *   {"pools":{"NAME":{"threads":T,"queue_length":Q,"busy_threads":B,
 *     "max_queue":M,"jobs":{"ok":N,...,"closed":N},
 *     "queue_seconds":{"buckets":{"0.001":N,...,"+Inf":N},"sum":S,
 *     "count":N},"run_seconds":{...},"image_bytes":{"in":N,"out":N}},...}}
 * with the numbers of the Prometheus output; buckets are cumulative.
 */

static u_char *
ngx_tunny_stats_json(u_char *p, u_char *last, ngx_tunny_stats_snap_t *snap,
    ngx_uint_t n)
{
    ngx_uint_t               i, o;
    ngx_tunny_stats_snap_t  *s;

    p = ngx_slprintf(p, last, "{\"pools\":{");

    for (i = 0; i < n; i++) {
        s = &snap[i];

        p = ngx_slprintf(p, last,
                         "%s\"%V\":{\"threads\":%uA,\"queue_length\":%uA,"
                         "\"busy_threads\":%uA,\"max_queue\":%ui,"
                         "\"jobs\":{",
                         i ? "," : "", &s->name, s->threads, s->queued,
                         s->busy, s->max_queue);

        for (o = NGX_TUNNY_OUTCOME_OK; o < NGX_TUNNY_OUTCOME_N; o++) {
            p = ngx_slprintf(p, last, "%s\"%V\":%uA",
                             o == NGX_TUNNY_OUTCOME_OK ? "" : ",",
                             &ngx_tunny_outcome_names[o], s->jobs[o]);
        }

        p = ngx_slprintf(p, last, "},\"queue_seconds\":");
        p = ngx_tunny_stats_json_hist(p, last, s->queue, s->queue_sum);

        p = ngx_slprintf(p, last, ",\"run_seconds\":");
        p = ngx_tunny_stats_json_hist(p, last, s->run, s->run_sum);

        p = ngx_slprintf(p, last,
                         ",\"image_bytes\":{\"in\":%uA,\"out\":%uA}}",
                         s->bytes_in, s->bytes_out);
    }

    p = ngx_slprintf(p, last, "}}\n");

    return p;
}


static u_char *
ngx_tunny_stats_json_hist(u_char *p, u_char *last, ngx_atomic_uint_t *bucket,
    ngx_atomic_uint_t sum)
{
    ngx_uint_t  b;

    p = ngx_slprintf(p, last, "{\"buckets\":{");

    for (b = 0; b < NGX_TUNNY_STATS_NBUCKETS; b++) {
        p = ngx_slprintf(p, last, "%s\"%s\":%uA", b ? "," : "",
                         ngx_tunny_stats_le[b], bucket[b]);
    }

    p = ngx_slprintf(p, last, "},\"sum\":%uA.%09uA,\"count\":%uA}",
                     sum / 1000000000, sum % 1000000000,
                     bucket[NGX_TUNNY_STATS_NBUCKETS - 1]);

    return p;
}


/* a label value: backslash, double quote and line feed are escaped */

static u_char *
ngx_tunny_stats_prom_escape(u_char *dst, ngx_str_t *src)
{
    u_char  *p, *end;

    end = src->data + src->len;

    for (p = src->data; p < end; p++) {
        switch (*p) {

        case '\\':
        case '"':
            *dst++ = '\\';
            *dst++ = *p;
            break;

        case '\n':
            *dst++ = '\\';
            *dst++ = 'n';
            break;

        default:
            *dst++ = *p;
        }
    }

    return dst;
}


ngx_int_t
ngx_tunny_stats_health(ngx_pool_t *pool, ngx_str_t *reason)
{
    u_char                   *p;
    ngx_int_t                 threads, queued, busy;
    ngx_uint_t                i, j, entry, max_queue;
    ngx_str_t                 name;
    ngx_tunny_stats_sh_t     *sh;
    ngx_tunny_stats_slot_t   *slot;
    ngx_tunny_stats_gauge_t  *g;

    sh = ngx_tunny_stats_sh;

    if (sh == NULL) {
        ngx_str_set(reason, "metrics off");
        return NGX_DECLINED;
    }

    for (j = 0; j < NGX_TUNNY_STATS_MAX_WORKERS; j++) {
        slot = &sh->slots[j];

        if (!ngx_tunny_stats_live(slot)) {
            continue;
        }

        ngx_memory_barrier();

        for (i = 0; i < ngx_tunny_stats_nmap; i++) {
            entry = ngx_tunny_stats_map[i].entry;

            if (entry == NGX_TUNNY_STATS_NONE) {
                continue;
            }

            g = &slot->d.gauge[entry];

            if (!g->configured) {
                /* a process of another configuration generation */
                continue;
            }

            threads = (ngx_atomic_int_t) g->threads;
            queued = (ngx_atomic_int_t) g->queued;
            busy = (ngx_atomic_int_t) g->busy;
            max_queue = g->max_queue;

            threads = ngx_max(threads, 0);
            queued = ngx_max(queued, 0);
            busy = ngx_max(busy, 0);

            if (threads > 0
                && (ngx_uint_t) (queued + busy)
                   < (ngx_uint_t) threads + max_queue)
            {
                continue;
            }

            name.len = sh->pools[entry].d.len;
            name.data = sh->pools[entry].d.name;

            p = ngx_pnalloc(pool, sizeof("pool \"\": queue /, busy /") - 1
                                  + 4 * NGX_INT_T_LEN + 2 * name.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            reason->data = p;

            p = ngx_cpymem(p, "pool \"", sizeof("pool \"") - 1);
            p = ngx_tunny_stats_prom_escape(p, &name);

            if (threads == 0) {
                p = ngx_sprintf(p, "\": no live threads");

            } else {
                p = ngx_sprintf(p, "\": queue %i/%ui, busy %i/%i",
                                queued, max_queue, busy, threads);
            }

            reason->len = p - reason->data;

            return NGX_BUSY;
        }
    }

    ngx_str_set(reason, "ok");

    return NGX_OK;
}
