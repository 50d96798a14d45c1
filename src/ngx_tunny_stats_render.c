/*
 * ngx_tunny_module: the metrics of the pools of this configuration, as
 * Prometheus text or JSON, and the health answer.  Event loop only; reads
 * the zone laid out in ngx_tunny_stats_int.h.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_tunny_pool.h"
#include "ngx_tunny_stats_int.h"


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


static char  *ngx_tunny_stats_le[NGX_TUNNY_STATS_NBUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"
};


/* loop: the pools of this process's configuration, gauges summed */

static ngx_tunny_stats_snap_t *
ngx_tunny_stats_snapshot(ngx_pool_t *pool, ngx_uint_t *n)
{
    ngx_int_t                     threads, queued, busy, memory;
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
        memory = 0;

        for (j = 0; j < nlive; j++) {
            g = &live[j]->d.gauge[entry];

            if (!g->configured) {
                continue;
            }

            threads += (ngx_atomic_int_t) g->threads;
            queued += (ngx_atomic_int_t) g->value[NGX_TUNNY_GAUGE_QUEUED];
            busy += (ngx_atomic_int_t) g->value[NGX_TUNNY_GAUGE_BUSY];
            memory += (ngx_atomic_int_t) g->value[NGX_TUNNY_GAUGE_MEMORY];
            s->wait = ngx_max(s->wait, g->value[NGX_TUNNY_GAUGE_WAIT]);
            s->keys += g->value[NGX_TUNNY_GAUGE_KEYS];
        }

        s->threads = threads > 0 ? threads : 0;
        s->queued = queued > 0 ? queued : 0;
        s->busy = busy > 0 ? busy : 0;
        s->memory = memory > 0 ? memory : 0;

        /* jobs first: ngx_tunny_stats_job() adds them last */

        for (b = 0; b < NGX_TUNNY_OUTCOME_N; b++) {
            s->jobs[b] = e->jobs[b];
        }

        for (b = 0; b < NGX_TUNNY_REFUSED_N; b++) {
            s->rejections[b] = e->rejections[b];
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
     * HELP/TYPE lines, and per pool at most 64 lines of at most 160 bytes
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

        size += 64 * (160 + len);
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
    ngx_uint_t                       ns;      /* nanoseconds, as seconds */
} ngx_tunny_stats_gauge_family_t;


static ngx_tunny_stats_gauge_family_t  ngx_tunny_stats_gauge_families[] = {
    { "tunny_pool_threads", "Live pool threads, summed over the worker "
      "processes", offsetof(ngx_tunny_stats_snap_t, threads), 0 },
    { "tunny_pool_queue_length", "Jobs waiting for a pool thread, summed "
      "over the worker processes", offsetof(ngx_tunny_stats_snap_t, queued),
      0 },
    { "tunny_pool_busy_threads", "Pool threads running a job, summed over "
      "the worker processes", offsetof(ngx_tunny_stats_snap_t, busy), 0 },
    { "tunny_pool_memory_bytes", "Memory reserved by the jobs of the pool "
      "(max_memory), summed over the worker processes",
      offsetof(ngx_tunny_stats_snap_t, memory), 0 },
    { "tunny_pool_predicted_wait_seconds", "Predicted queue wait of a new "
      "job, the largest over the worker processes",
      offsetof(ngx_tunny_stats_snap_t, wait), 1 },
    { "tunny_pool_fair_keys", "tunny_fair_key values with jobs queued or "
      "running, summed over the worker processes",
      offsetof(ngx_tunny_stats_snap_t, keys), 0 },
    { NULL, NULL, 0, 0 }
};


static u_char *
ngx_tunny_stats_prometheus(u_char *p, u_char *last,
    ngx_tunny_stats_snap_t *snap, ngx_uint_t n)
{
    ngx_uint_t                       i, o;
    ngx_atomic_uint_t                v;
    ngx_tunny_stats_snap_t          *s;
    ngx_tunny_stats_gauge_family_t  *g;

    for (g = ngx_tunny_stats_gauge_families; g->name; g++) {
        p = ngx_slprintf(p, last, "# HELP %s %s.\n# TYPE %s gauge\n",
                         g->name, g->help, g->name);

        for (i = 0; i < n; i++) {
            s = &snap[i];
            v = *(ngx_atomic_uint_t *) ((u_char *) s + g->offset);

            if (g->ns) {
                p = ngx_slprintf(p, last, "%s{pool=\"%V\"} %uA.%09uA\n",
                                 g->name, &s->name, v / 1000000000,
                                 v % 1000000000);

            } else {
                p = ngx_slprintf(p, last, "%s{pool=\"%V\"} %uA\n",
                                 g->name, &s->name, v);
            }
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
            "# HELP tunny_rejections_total Refused requests by reason.\n"
            "# TYPE tunny_rejections_total counter\n");

    for (i = 0; i < n; i++) {
        s = &snap[i];

        for (o = NGX_TUNNY_REFUSED_QUEUE; o < NGX_TUNNY_REFUSED_N; o++) {
            p = ngx_slprintf(p, last,
                             "tunny_rejections_total{pool=\"%V\","
                             "reason=\"%V\"} %uA\n",
                             &s->name, &ngx_tunny_reject_reasons[o],
                             s->rejections[o]);
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
 *     "max_queue":M,"memory_bytes":N,"predicted_wait_seconds":S,
 *     "fair_keys":K,
 *     "jobs":{"ok":N,...,"closed":N},"rejections":{"queue":N,...},
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
                         "\"memory_bytes\":%uA,"
                         "\"predicted_wait_seconds\":%uA.%09uA,"
                         "\"fair_keys\":%uA,\"jobs\":{",
                         i ? "," : "", &s->name, s->threads, s->queued,
                         s->busy, s->max_queue, s->memory,
                         s->wait / 1000000000, s->wait % 1000000000,
                         s->keys);

        for (o = NGX_TUNNY_OUTCOME_OK; o < NGX_TUNNY_OUTCOME_N; o++) {
            p = ngx_slprintf(p, last, "%s\"%V\":%uA",
                             o == NGX_TUNNY_OUTCOME_OK ? "" : ",",
                             &ngx_tunny_outcome_names[o], s->jobs[o]);
        }

        p = ngx_slprintf(p, last, "},\"rejections\":{");

        for (o = NGX_TUNNY_REFUSED_QUEUE; o < NGX_TUNNY_REFUSED_N; o++) {
            p = ngx_slprintf(p, last, "%s\"%V\":%uA",
                             o == NGX_TUNNY_REFUSED_QUEUE ? "" : ",",
                             &ngx_tunny_reject_reasons[o], s->rejections[o]);
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
    ngx_atomic_uint_t         wait;
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

        if (!slot->d.u.s.ready || !ngx_tunny_stats_live(slot)) {
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
            queued = (ngx_atomic_int_t) g->value[NGX_TUNNY_GAUGE_QUEUED];
            busy = (ngx_atomic_int_t) g->value[NGX_TUNNY_GAUGE_BUSY];
            wait = g->value[NGX_TUNNY_GAUGE_WAIT];
            max_queue = g->max_queue;

            threads = ngx_max(threads, 0);
            queued = ngx_max(queued, 0);
            busy = ngx_max(busy, 0);

            if (threads > 0
                && !ngx_tunny_pool_full_at((ngx_uint_t) queued,
                                           (ngx_uint_t) busy,
                                           (ngx_uint_t) threads, max_queue)
                && (g->max_wait == 0 || wait <= g->max_wait))
            {
                continue;
            }

            name.len = sh->pools[entry].d.len;
            name.data = sh->pools[entry].d.name;

            p = ngx_pnalloc(pool, sizeof("pool \"\": queue /, busy /, "
                                         "predicted wait ms > ms") - 1
                                  + 6 * NGX_INT_T_LEN + 2 * name.len);
            if (p == NULL) {
                return NGX_ERROR;
            }

            reason->data = p;

            p = ngx_cpymem(p, "pool \"", sizeof("pool \"") - 1);
            p = ngx_tunny_stats_prom_escape(p, &name);

            if (threads == 0) {
                p = ngx_sprintf(p, "\": no live threads");

            } else if (wait > g->max_wait && g->max_wait) {
                p = ngx_sprintf(p, "\": predicted wait %uA ms > %uA ms",
                                wait / 1000000, g->max_wait / 1000000);

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
