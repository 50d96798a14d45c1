/*
 * ngx_tunny_module: metrics in shared memory: the zone, the slots of the
 * worker processes, the counters.  The layout and the invariant are in
 * ngx_tunny_stats_int.h.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_tunny_pool.h"
#include "ngx_tunny_stats_int.h"


static ngx_int_t ngx_tunny_stats_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_shm_zone_t *ngx_tunny_stats_find_zone(ngx_cycle_t *cycle);
static ngx_tunny_stats_slot_t *ngx_tunny_stats_claim_slot(
    ngx_tunny_stats_sh_t *sh, ngx_log_t *log);
static ngx_uint_t ngx_tunny_stats_entry(ngx_tunny_stats_sh_t *sh,
    ngx_str_t *name, ngx_uint_t *mine);
static void ngx_tunny_stats_gauge_add(ngx_uint_t index, ngx_uint_t gauge,
    ngx_int_t delta);
static void ngx_tunny_stats_gauge_set(ngx_uint_t index, ngx_uint_t gauge,
    uint64_t value);
static void ngx_tunny_stats_observe(ngx_tunny_stats_hist_t *h,
    uint64_t ns);


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


static ngx_tunny_pool_gauges_t  ngx_tunny_stats_hooks = {
    ngx_tunny_stats_gauge_add,
    ngx_tunny_stats_gauge_set
};


/* process-local state, see the invariant in ngx_tunny_stats_int.h */
ngx_tunny_stats_sh_t    *ngx_tunny_stats_sh;
ngx_tunny_stats_slot_t  *ngx_tunny_stats_slot;
ngx_tunny_stats_map_t    ngx_tunny_stats_map[NGX_TUNNY_STATS_MAX_POOLS];
ngx_uint_t               ngx_tunny_stats_nmap;


ngx_str_t  ngx_tunny_reject_reasons[] = {
    ngx_string(""),
    ngx_string("queue"),
    ngx_string("wait"),
    ngx_string("memory"),
    ngx_string("key"),
    ngx_string("closed")
};


ngx_str_t  ngx_tunny_outcome_names[] = {
    ngx_string(""),
    ngx_string("ok"),
    ngx_string("error"),
    ngx_string("rejected"),
    ngx_string("timeout"),
    ngx_string("cancelled"),
    ngx_string("closed")
};


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
            g->max_wait = (ngx_atomic_uint_t) pcf->max_wait * 1000000;
            g->configured = 1;
        }
    }

    if (slot) {
        /* the gauges are zero and configured: publish the slot */
        ngx_memory_barrier();
        slot->d.u.s.pid = (ngx_atomic_uint_t) ngx_pid;
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
        pid = (ngx_pid_t) slot->d.u.s.pid;

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
                    && slot->d.u.s.pid != 0
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

        if (slot->d.u.s.pid == 0 || !ngx_tunny_stats_live(slot)) {
            ngx_memzero(&slot->d.gauge[free],
                        sizeof(ngx_tunny_stats_gauge_t));
        }
    }

    ngx_memory_barrier();
    e->used = 1;

    return free;
}


ngx_uint_t
ngx_tunny_stats_live(ngx_tunny_stats_slot_t *slot)
{
    ngx_pid_t  pid;

    pid = (ngx_pid_t) slot->d.u.s.pid;

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
ngx_tunny_stats_ready(void)
{
    if (ngx_tunny_stats_slot) {
        ngx_tunny_stats_slot->d.u.s.ready = 1;
    }
}


/*
 * worker exit_process, before the pools stop: health no longer counts
 * this process, whose threads are about to end (threads write no "ready")
 */

void
ngx_tunny_stats_unready(void)
{
    if (ngx_tunny_stats_slot) {
        ngx_tunny_stats_slot->d.u.s.ready = 0;
        ngx_memory_barrier();
    }
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

    slot->d.u.s.ready = 0;

    ngx_memory_barrier();

    slot->d.u.s.pid = 0;

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


/* loop */

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


/* loop: add delta to a gauge of this worker's slot */

static void
ngx_tunny_stats_gauge_add(ngx_uint_t index, ngx_uint_t gauge,
    ngx_int_t delta)
{
    ngx_tunny_stats_gauge_t  *g;

    g = ngx_tunny_stats_gauge(index);

    if (g && gauge < NGX_TUNNY_STATS_NGAUGES) {
        (void) ngx_atomic_fetch_add(&g->value[gauge],
                                    (ngx_atomic_int_t) delta);
    }
}


/* loop: set a gauge of this worker's slot */

static void
ngx_tunny_stats_gauge_set(ngx_uint_t index, ngx_uint_t gauge,
    uint64_t value)
{
    ngx_tunny_stats_gauge_t  *g;

    g = ngx_tunny_stats_gauge(index);

    if (g && gauge < NGX_TUNNY_STATS_NGAUGES) {
        g->value[gauge] = (ngx_atomic_uint_t) value;
    }
}


void
ngx_tunny_stats_threads(ngx_uint_t index, ngx_int_t delta)
{
    ngx_tunny_stats_gauge_t  *g;

    g = ngx_tunny_stats_gauge(index);

    if (g) {
        (void) ngx_atomic_fetch_add(&g->threads, (ngx_atomic_int_t) delta);
    }
}


/* loop: the entry of this process's pool "index", or NULL */

static ngx_tunny_stats_pool_data_t *
ngx_tunny_stats_pool(ngx_uint_t index)
{
    ngx_uint_t  entry;

    if (ngx_tunny_stats_sh == NULL || index >= NGX_TUNNY_STATS_MAX_POOLS) {
        return NULL;
    }

    entry = ngx_tunny_stats_map[index].entry;

    if (entry == NGX_TUNNY_STATS_NONE) {
        return NULL;
    }

    return &ngx_tunny_stats_sh->pools[entry].d;
}


/* loop */

void
ngx_tunny_stats_job(ngx_uint_t index, ngx_uint_t outcome, uint64_t queue_ns,
    uint64_t run_ns)
{
    ngx_tunny_stats_pool_data_t  *e;

    e = ngx_tunny_stats_pool(index);

    if (e == NULL
        || outcome == NGX_TUNNY_OUTCOME_NONE
        || outcome >= NGX_TUNNY_OUTCOME_N)
    {
        return;
    }

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

    /* last: a reader that sees the job counted sees its observations */

    (void) ngx_atomic_fetch_add(&e->jobs[outcome], 1);
}


/* loop */

void
ngx_tunny_stats_reject(ngx_uint_t index, ngx_uint_t reason)
{
    ngx_tunny_stats_pool_data_t  *e;

    e = ngx_tunny_stats_pool(index);

    if (e && reason > NGX_TUNNY_ADMITTED && reason < NGX_TUNNY_REFUSED_N) {
        (void) ngx_atomic_fetch_add(&e->rejections[reason], 1);
    }
}


/* loop */

void
ngx_tunny_stats_bytes(ngx_uint_t index, size_t in, size_t out)
{
    ngx_tunny_stats_pool_data_t  *e;

    e = ngx_tunny_stats_pool(index);

    if (e == NULL) {
        return;
    }

    if (in) {
        (void) ngx_atomic_fetch_add(&e->bytes_in, in);
    }

    if (out) {
        (void) ngx_atomic_fetch_add(&e->bytes_out, out);
    }
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
