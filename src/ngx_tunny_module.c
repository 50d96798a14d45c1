/*
 * ngx_tunny_module: the core module.
 *
 * The tunny_pool directive (main context), pool sizing, and the life of
 * the pools in each worker process: started in init_process (after fork,
 * never in the master), stopped in exit_process; then the worker's event
 * loop scheduling beside them (tunny_event_loop, ngx_tunny_loop.c).
 *
 * Runs in the master (configuration) and in the event loop of each worker
 * process; nothing here runs in a pool thread.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <sys/resource.h>
#include <dlfcn.h>
#include "ngx_tunny_module.h"
#include "ngx_tunny_stats.h"


#define NGX_TUNNY_DEFAULT_MAX_QUEUE   64
#define NGX_TUNNY_DEFAULT_STACK       (2 * 1024 * 1024)
#define NGX_TUNNY_MIN_STACK           (64 * 1024)
#define NGX_TUNNY_MAX_STACK           (256 * 1024 * 1024)
#define NGX_TUNNY_DEFAULT_MEMORY      (256 * 1024 * 1024)
#define NGX_TUNNY_MIN_MEMORY          (1024 * 1024)
#define NGX_TUNNY_DEFAULT_NICE        19
#define NGX_TUNNY_MAX_THREADS         512


static void *ngx_tunny_create_conf(ngx_cycle_t *cycle);
static char *ngx_tunny_init_conf(ngx_cycle_t *cycle, void *conf);
static char *ngx_tunny_pool_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_tunny_pool_param(ngx_conf_t *cf,
    ngx_tunny_pool_conf_t *pcf, ngx_str_t *arg);
static ngx_tunny_pool_conf_t *ngx_tunny_pool_find(ngx_conf_t *cf,
    ngx_tunny_conf_t *tcf, ngx_str_t *name);
typedef uint64_t (*ngx_tunny_cgroup_parse_pt)(FILE *f);

static ngx_uint_t ngx_tunny_usable_cpus(ngx_log_t *log);
static uint64_t ngx_tunny_cgroup_limit(const char *file,
    ngx_tunny_cgroup_parse_pt parse);
static uint64_t ngx_tunny_cgroup_cpus(FILE *f);
static uint64_t ngx_tunny_cgroup_memory(FILE *f);
static char *ngx_tunny_event_loop_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_tunny_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_tunny_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_tunny_effective_nice(ngx_log_t *log,
    ngx_tunny_pool_conf_t *pcf);
static ngx_uint_t ngx_tunny_has_cap_sys_nice(void);
static void ngx_tunny_pin_module(ngx_log_t *log);
static void ngx_tunny_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_tunny_commands[] = {

    { ngx_string("tunny_pool"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_1MORE,
      ngx_tunny_pool_directive,
      0,
      0,
      NULL },

    { ngx_string("tunny_event_loop"),
      NGX_MAIN_CONF|NGX_DIRECT_CONF|NGX_CONF_1MORE,
      ngx_tunny_event_loop_directive,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_core_module_t  ngx_tunny_module_ctx = {
    ngx_string("tunny"),
    ngx_tunny_create_conf,
    ngx_tunny_init_conf
};


ngx_module_t  ngx_tunny_module = {
    NGX_MODULE_V1,
    &ngx_tunny_module_ctx,                 /* module context */
    ngx_tunny_commands,                    /* module directives */
    NGX_CORE_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_tunny_init_module,                 /* init module */
    ngx_tunny_init_process,                /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_tunny_exit_process,                /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The CPU set of the master, taken at configuration time before
 * worker_cpu_affinity pins the workers: pool threads get it, so that they
 * spread over the CPU budget instead of competing with their own event
 * loop on the worker's CPU.  Written in the master, inherited by fork,
 * read-only in workers.
 */
static cpu_set_t   ngx_tunny_cpuset;
static ngx_uint_t  ngx_tunny_cpuset_valid;


static ngx_str_t  ngx_tunny_default_name = ngx_string("default");


static void *
ngx_tunny_create_conf(ngx_cycle_t *cycle)
{
    ngx_tunny_conf_t  *tcf;

    tcf = ngx_pcalloc(cycle->pool, sizeof(ngx_tunny_conf_t));
    if (tcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&tcf->pools, cycle->pool, 4,
                       sizeof(ngx_tunny_pool_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    ngx_tunny_loop_create_conf(&tcf->loop);

    return tcf;
}


ngx_tunny_conf_t *
ngx_tunny_get_conf(ngx_cycle_t *cycle)
{
    return (ngx_tunny_conf_t *) ngx_get_conf(cycle->conf_ctx,
                                             ngx_tunny_module);
}


static ngx_tunny_pool_conf_t *
ngx_tunny_pool_find(ngx_conf_t *cf, ngx_tunny_conf_t *tcf, ngx_str_t *name)
{
    ngx_uint_t              i;
    ngx_tunny_pool_conf_t  *pcf, **pcfp;

    pcfp = tcf->pools.elts;

    for (i = 0; i < tcf->pools.nelts; i++) {
        if (pcfp[i]->name.len == name->len
            && ngx_strncmp(pcfp[i]->name.data, name->data, name->len) == 0)
        {
            return pcfp[i];
        }
    }

    if (tcf->pools.nelts == NGX_TUNNY_STATS_MAX_POOLS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "too many tunny pools, at most %d",
                           NGX_TUNNY_STATS_MAX_POOLS);
        return NULL;
    }

    pcf = ngx_pcalloc(cf->pool, sizeof(ngx_tunny_pool_conf_t));
    if (pcf == NULL) {
        return NULL;
    }

    pcfp = ngx_array_push(&tcf->pools);
    if (pcfp == NULL) {
        return NULL;
    }

    *pcfp = pcf;

    pcf->name = *name;
    pcf->threads = NGX_CONF_UNSET;
    pcf->max_queue = NGX_CONF_UNSET;
    pcf->nice = NGX_CONF_UNSET;
    pcf->stack_size = NGX_CONF_UNSET_SIZE;
    pcf->max_memory = NGX_CONF_UNSET_SIZE;
    pcf->index = tcf->pools.nelts - 1;
    pcf->file = cf->conf_file->file.name.data;
    pcf->line = cf->conf_file->line;

    return pcf;
}


ngx_tunny_pool_conf_t *
ngx_tunny_pool_use(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_tunny_conf_t  *tcf;

    tcf = ngx_tunny_get_conf(cf->cycle);

    if (name == NULL) {
        name = &ngx_tunny_default_name;
    }

    return ngx_tunny_pool_find(cf, tcf, name);
}


/* the parameters of tunny_pool: NAME=VALUE, a number or a size in a range */

typedef struct {
    ngx_str_t                   name;       /* with its "=" */
    ngx_uint_t                  size;       /* a size (else a number) */
    size_t                      offset;     /* in ngx_tunny_pool_conf_t */
    ngx_int_t                   min;
    ngx_int_t                   max;
    char                       *range;      /* for the message */
} ngx_tunny_pool_param_t;


static ngx_tunny_pool_param_t  ngx_tunny_pool_params[] = {

    { ngx_string("threads="), 0, offsetof(ngx_tunny_pool_conf_t, threads),
      1, NGX_TUNNY_MAX_THREADS, " (1..512 or auto)" },

    { ngx_string("max_queue="), 0,
      offsetof(ngx_tunny_pool_conf_t, max_queue), 0, 1048576,
      " (0..1048576)" },

    { ngx_string("nice="), 0, offsetof(ngx_tunny_pool_conf_t, nice),
      -20, 19, " (-20..19)" },

    { ngx_string("stack="), 1, offsetof(ngx_tunny_pool_conf_t, stack_size),
      NGX_TUNNY_MIN_STACK, NGX_TUNNY_MAX_STACK, " (64k..256m)" },

    { ngx_string("max_memory="), 1,
      offsetof(ngx_tunny_pool_conf_t, max_memory), NGX_TUNNY_MIN_MEMORY,
      NGX_MAX_INT_T_VALUE, " (1m or more)" },

    { ngx_null_string, 0, 0, 0, 0, NULL }
};


/*
 * tunny_pool NAME [threads=N|auto] [max_queue=N] [nice=N] [stack=SIZE]
 *     [max_memory=SIZE]
 */

static char *
ngx_tunny_pool_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_tunny_conf_t *tcf = conf;

    ngx_str_t              *value;
    ngx_uint_t              i;
    ngx_tunny_pool_conf_t  *pcf;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > NGX_TUNNY_STATS_NAME_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tunny_pool name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    pcf = ngx_tunny_pool_find(cf, tcf, &value[1]);
    if (pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pcf->declared) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate tunny_pool \"%V\", first declared "
                           "in %s:%ui", &value[1], pcf->file, pcf->line);
        return NGX_CONF_ERROR;
    }

    pcf->declared = 1;
    pcf->file = cf->conf_file->file.name.data;
    pcf->line = cf->conf_file->line;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "threads=auto") == 0) {
            continue;
        }

        if (ngx_tunny_pool_param(cf, pcf, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_tunny_event_loop_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_tunny_conf_t *tcf = conf;

    return ngx_tunny_loop_directive(cf, &tcf->loop);
}


static ngx_int_t
ngx_tunny_pool_param(ngx_conf_t *cf, ngx_tunny_pool_conf_t *pcf,
    ngx_str_t *arg)
{
    u_char                  *p;
    ssize_t                  size;
    ngx_int_t                n;
    ngx_str_t                v;
    ngx_uint_t               neg;
    ngx_tunny_pool_param_t  *pp;

    for (pp = ngx_tunny_pool_params; pp->name.len; pp++) {
        if (arg->len > pp->name.len
            && ngx_strncmp(arg->data, pp->name.data, pp->name.len) == 0)
        {
            break;
        }
    }

    if (pp->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in tunny_pool \"%V\"",
                           arg, &pcf->name);
        return NGX_ERROR;
    }

    v.data = arg->data + pp->name.len;
    v.len = arg->len - pp->name.len;
    p = (u_char *) pcf + pp->offset;

    if (pp->size) {
        size = ngx_parse_size(&v);

        if (size != NGX_ERROR && size >= pp->min && size <= pp->max) {
            *(size_t *) p = (size_t) size;
            return NGX_OK;
        }

    } else {
        neg = (v.data[0] == '-');
        n = ngx_atoi(v.data + neg, v.len - neg);

        if (n != NGX_ERROR) {
            n = neg ? -n : n;

            if (n >= pp->min && n <= pp->max) {
                *(ngx_int_t *) p = n;
                return NGX_OK;
            }
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid %*s value \"%V\" in tunny_pool \"%V\"%s",
                       pp->name.len - 1, pp->name.data, arg, &pcf->name,
                       pp->range);

    return NGX_ERROR;
}


static char *
ngx_tunny_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_tunny_conf_t *tcf = conf;

    size_t                  memory;
    uint64_t                limit;
    ngx_uint_t              i, cpus, workers;
    ngx_core_conf_t        *ccf;
    ngx_tunny_pool_conf_t  *pcf, **pcfp;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    ngx_tunny_loop_init_conf(&tcf->loop);

    workers = (ccf->worker_processes > 0) ? ccf->worker_processes : 1;

    /*
     * the master's CPU set, for threads=N and auto alike; taken here,
     * before worker_cpu_affinity pins the workers
     */

    cpus = ngx_tunny_usable_cpus(cycle->log);

    /*
     * the memory budget of a pool in each worker: 256M, or less in a
     * cgroup with memory.max, where the pools of all workers may reserve
     * half of it together, leaving the rest to nginx, caches and the
     * page cache
     */

    memory = NGX_TUNNY_DEFAULT_MEMORY;
    limit = ngx_tunny_cgroup_limit("memory.max", ngx_tunny_cgroup_memory);

    if (limit > 0 && tcf->pools.nelts > 0) {
        limit /= 2 * workers * tcf->pools.nelts;
        limit = ngx_max(limit, NGX_TUNNY_MIN_MEMORY);

        if (limit < memory) {
            memory = (size_t) limit;
        }
    }

    pcfp = tcf->pools.elts;

    for (i = 0; i < tcf->pools.nelts; i++) {
        pcf = pcfp[i];

        if (!pcf->declared
            && !(pcf->name.len == ngx_tunny_default_name.len
                 && ngx_strncmp(pcf->name.data, "default", 7) == 0))
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "unknown tunny_pool \"%V\" in %s:%ui",
                          &pcf->name, pcf->file, pcf->line);
            return NGX_CONF_ERROR;
        }

        if (pcf->threads == NGX_CONF_UNSET) {
            pcf->threads = ngx_max(cpus / workers, 1);
        }

        ngx_conf_init_value(pcf->max_queue, NGX_TUNNY_DEFAULT_MAX_QUEUE);
        ngx_conf_init_size_value(pcf->stack_size, NGX_TUNNY_DEFAULT_STACK);
        ngx_conf_init_size_value(pcf->max_memory, memory);

        /*
         * by default the lowest priority: measured with
         * "./ngx_tunny_module bench engine", a saturated pool at nice 5
         * or 10 still costs a static file a p99 of about 2 ms on 2 cores,
         * at nice 19 about 0.2 ms
         */

        ngx_conf_init_value(pcf->nice, NGX_TUNNY_DEFAULT_NICE);
    }

    return NGX_CONF_OK;
}


/*
 * CPUs this process may use: its affinity mask, capped by a cgroup v2
 * cpu.max quota anywhere up its cgroup path.  Also remembers the mask.
 */

static ngx_uint_t
ngx_tunny_usable_cpus(ngx_log_t *log)
{
    uint64_t    quota;
    ngx_uint_t  cpus;

    cpus = ngx_ncpu > 0 ? ngx_ncpu : 1;

    CPU_ZERO(&ngx_tunny_cpuset);

    if (sched_getaffinity(0, sizeof(cpu_set_t), &ngx_tunny_cpuset) == 0) {
        cpus = CPU_COUNT(&ngx_tunny_cpuset);
        ngx_tunny_cpuset_valid = 1;
    }

    quota = ngx_tunny_cgroup_limit("cpu.max", ngx_tunny_cgroup_cpus);

    if (quota > 0 && quota < cpus) {
        cpus = quota;
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                       "tunny: cgroup cpu.max allows %uL CPUs", quota);
    }

    return cpus ? cpus : 1;
}


/*
 * The smallest limit that "file" sets anywhere up this process's cgroup v2
 * path (the leaf and every parent may carry one), parsed by "parse"
 * (0: no limit in that file).  0 when none is set.
 */

static uint64_t
ngx_tunny_cgroup_limit(const char *file, ngx_tunny_cgroup_parse_pt parse)
{
    FILE      *f;
    char       line[512], path[640], *p, *slash;
    uint64_t   limit, n;

    f = fopen("/proc/self/cgroup", "r");
    if (f == NULL) {
        return 0;
    }

    p = NULL;

    while (fgets(line, sizeof(line), f)) {
        if (ngx_strncmp(line, "0::", 3) == 0) {
            p = line + 3;
            p[strcspn(p, "\n")] = '\0';
            break;
        }
    }

    (void) fclose(f);

    if (p == NULL) {
        return 0;
    }

    limit = 0;

    for ( ;; ) {
        (void) snprintf(path, sizeof(path), "/sys/fs/cgroup%s/%s",
                        (p[0] == '/' && p[1] == '\0') ? "" : p, file);

        f = fopen(path, "r");

        if (f) {
            n = parse(f);

            if (n > 0 && (limit == 0 || n < limit)) {
                limit = n;
            }

            (void) fclose(f);
        }

        slash = strrchr(p, '/');

        if (slash == NULL || (slash == p && p[1] == '\0')) {
            break;
        }

        if (slash == p) {
            p[1] = '\0';

        } else {
            *slash = '\0';
        }
    }

    return limit;
}


/* cpu.max: "QUOTA PERIOD" or "max PERIOD": CPUs, rounded up */

static uint64_t
ngx_tunny_cgroup_cpus(FILE *f)
{
    long long  q, period;

    if (fscanf(f, "%lld %lld", &q, &period) == 2 && q > 0 && period > 0) {
        return (uint64_t) ((q + period - 1) / period);
    }

    return 0;
}


/* memory.max: bytes, or "max" */

static uint64_t
ngx_tunny_cgroup_memory(FILE *f)
{
    unsigned long long  n;

    if (fscanf(f, "%llu", &n) == 1) {
        return (uint64_t) n;
    }

    return 0;
}


/* master, root still: what the workers' event loops will need */

static ngx_int_t
ngx_tunny_init_module(ngx_cycle_t *cycle)
{
    ngx_tunny_conf_t  *tcf;

    tcf = ngx_tunny_get_conf(cycle);

    if (tcf != NULL && tcf->pools.nelts > 0) {
        ngx_tunny_loop_init_master(cycle, &tcf->loop);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_tunny_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t              i;
    ngx_tunny_conf_t       *tcf;
    ngx_tunny_pool_conf_t  *pcf, **pcfp;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    tcf = ngx_tunny_get_conf(cycle);

    if (tcf == NULL || tcf->pools.nelts == 0) {
        return NGX_OK;
    }

    ngx_tunny_pin_module(cycle->log);

    pcfp = tcf->pools.elts;

    if (ngx_tunny_stats_init_process(cycle, pcfp, tcf->pools.nelts)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < tcf->pools.nelts; i++) {
        pcf = pcfp[i];

        pcf->nice = ngx_tunny_effective_nice(cycle->log, pcf);

        pcf->tp = ngx_tunny_pool_start(cycle, pcf,
                                       ngx_tunny_cpuset_valid
                                       ? &ngx_tunny_cpuset : NULL,
                                       ngx_tunny_stats_gauges());
        if (pcf->tp == NULL) {
            return NGX_ERROR;
        }

        ngx_tunny_stats_threads(pcf->index,
                                ngx_tunny_pool_threads(pcf->tp));

        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "tunny_pool \"%V\": %ui threads, max_queue %ui, "
                      "nice %i, max_memory %uzk", &pcf->name,
                      ngx_tunny_pool_threads(pcf->tp), pcf->max_queue,
                      pcf->nice, pcf->max_memory / 1024);
    }

    /* health may count this process only now that its threads exist */

    ngx_tunny_stats_ready();

    /* after the pool threads started: they must not inherit the policy */

    return ngx_tunny_loop_init_process(cycle, &tcf->loop);
}


/*
 * The nice value the threads of this worker can really get.  Threads
 * start at the worker's own nice value; an unprivileged worker (nginx's
 * "user") may raise it but lower it only within RLIMIT_NICE or with
 * CAP_SYS_NICE, otherwise setpriority() fails and the threads keep the
 * worker's value: say so instead of claiming what did not happen.
 */

static ngx_int_t
ngx_tunny_effective_nice(ngx_log_t *log, ngx_tunny_pool_conf_t *pcf)
{
    int            cur;
    struct rlimit  rl;

    ngx_set_errno(0);
    cur = getpriority(PRIO_PROCESS, 0);

    if (cur == -1 && ngx_errno != 0) {
        return pcf->nice;
    }

    if (pcf->nice >= cur
        || ngx_tunny_has_cap_sys_nice()
        || (getrlimit(RLIMIT_NICE, &rl) == 0
            && (rl.rlim_cur == RLIM_INFINITY
                || 20 - (ngx_int_t) rl.rlim_cur <= pcf->nice)))
    {
        return pcf->nice;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "tunny_pool \"%V\": nice=%i is not permitted to this "
                  "worker (no CAP_SYS_NICE, RLIMIT_NICE too low), "
                  "its threads run at nice %d", &pcf->name, pcf->nice, cur);

    return cur;
}


/* is CAP_SYS_NICE in this process's effective capabilities? */

static ngx_uint_t
ngx_tunny_has_cap_sys_nice(void)
{
    FILE                *f;
    char                 line[128];
    unsigned long long   caps;
    ngx_uint_t           found;

    f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        return 0;
    }

    found = 0;

    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "CapEff: %llx", &caps) == 1) {
            found = (caps >> 23) & 1;    /* CAP_SYS_NICE */
            break;
        }
    }

    (void) fclose(f);

    return found;
}


/*
 * A fast shutdown leaves the pool threads running until the process
 * ends, but nginx unloads dynamic modules (dlclose in a cycle pool
 * cleanup) before it calls exit(): the module must stay mapped in worker
 * processes, or a thread still in a job would run unmapped code.
 */

static void
ngx_tunny_pin_module(ngx_log_t *log)
{
    Dl_info  info;

    if (dladdr((void *) ngx_tunny_pin_module, &info) == 0
        || info.dli_fname == NULL)
    {
        return;
    }

    if (dlopen(info.dli_fname, RTLD_NOW|RTLD_NOLOAD|RTLD_NODELETE) == NULL) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "tunny: dlopen(\"%s\", RTLD_NODELETE) failed: %s",
                      info.dli_fname, dlerror());
    }
}


static void
ngx_tunny_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t              i, n;
    ngx_tunny_conf_t       *tcf;
    ngx_tunny_pool_conf_t **pcfp;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    ngx_tunny_stats_unready();

    tcf = ngx_tunny_get_conf(cycle);

    if (tcf == NULL) {
        return;
    }

    pcfp = tcf->pools.elts;

    for (i = 0; i < tcf->pools.nelts; i++) {
        if (pcfp[i]->tp == NULL) {
            continue;
        }

        n = ngx_tunny_pool_threads(pcfp[i]->tp);

        /* a fast shutdown never waits for running jobs */

        ngx_tunny_pool_stop(pcfp[i]->tp, !ngx_terminate);
        pcfp[i]->tp = NULL;

        ngx_tunny_stats_threads(pcfp[i]->index, -(ngx_int_t) n);
    }

    ngx_tunny_stats_exit_process(cycle);
}
