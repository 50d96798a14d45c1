/*
 * ngx_tunny_loop: a worker's event loop at a real-time priority while it
 * behaves as an event loop (tunny_event_loop).
 *
 * Why: the pool threads run at nice 19 SCHED_BATCH, yet a loop woken on a
 * CPU that a pool thread, another session's process (a hog in its own
 * autogroup) or a kernel thread held waited up to a tick (4 ms at HZ
 * 250), a few times in a thousand wake-ups, and that set the static p99
 * (bench sched; a 100 us EEVDF slice for the loop did not change it).  A
 * SCHED_FIFO loop preempts every normal thread the moment it wakes.
 *
 * The guard: the kernel's RLIMIT_RTTIME watchdog sends SIGXCPU to a
 * real-time thread that has run "limit" without sleeping; the handler
 * puts the loop back to SCHED_OTHER at once (it keeps its nice value,
 * worker_priority), and the loop's timer logs it and gives the priority
 * back after "retry".  A saturated loop gains nothing from the priority
 * and must not starve the host: it loses it within limit + one tick.
 *
 * Threads and state: everything here runs in the worker's main thread
 * (the event loop), the signal handler too: the pool threads, nginx's
 * thread pools and every thread of the worker block all signals, so the
 * process-directed SIGXCPU reaches the main thread.  The handler only
 * makes one system call and sets ngx_tunny_loop_overran; the loop's timer
 * reads and clears it; both address the thread by ngx_pid, the worker's
 * pid, which is its main thread's id.  SCHED_RESET_ON_FORK: a thread or process the loop
 * creates later (another module's thread pool) starts as SCHED_OTHER.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include "ngx_tunny_loop.h"


#define NGX_TUNNY_LOOP_PRIORITY   1
#define NGX_TUNNY_LOOP_LIMIT      50          /* ms */
#define NGX_TUNNY_LOOP_RETRY      10000       /* ms */
#define NGX_TUNNY_LOOP_TICK       1000        /* ms, the loop's timer */


static ngx_int_t ngx_tunny_loop_realtime(void);
static ngx_int_t ngx_tunny_loop_arm_watchdog(ngx_tunny_loop_conf_t *lcf,
    ngx_log_t *log);
static void ngx_tunny_loop_sigxcpu(int signo);
static void ngx_tunny_loop_timer_handler(ngx_event_t *ev);


/* the loop's; ngx_tunny_loop_overran is also written by the handler */
static volatile sig_atomic_t   ngx_tunny_loop_overran;
static ngx_tunny_loop_conf_t  *ngx_tunny_loop_conf;
static ngx_uint_t              ngx_tunny_loop_normal;
static ngx_msec_t              ngx_tunny_loop_normal_since;
static ngx_event_t             ngx_tunny_loop_timer;
static ngx_connection_t        ngx_tunny_loop_dummy;


void
ngx_tunny_loop_create_conf(ngx_tunny_loop_conf_t *lcf)
{
    lcf->realtime = NGX_CONF_UNSET;
    lcf->priority = NGX_CONF_UNSET;
    lcf->limit = NGX_CONF_UNSET_MSEC;
    lcf->retry = NGX_CONF_UNSET_MSEC;
}


void
ngx_tunny_loop_init_conf(ngx_tunny_loop_conf_t *lcf)
{
    /*
     * realtime by default: measured with "./ngx_tunny_module bench image
     * --hog" (see the README, tunny_event_loop), a static file beside a
     * saturated pool and a nice-0 hog of another session: p99 0.61-0.75
     * ms in every round instead of 2.6-4.6 ms, the pool's share unchanged
     */

    ngx_conf_init_value(lcf->realtime, 1);
    ngx_conf_init_value(lcf->priority, NGX_TUNNY_LOOP_PRIORITY);
    ngx_conf_init_msec_value(lcf->limit, NGX_TUNNY_LOOP_LIMIT);
    ngx_conf_init_msec_value(lcf->retry, NGX_TUNNY_LOOP_RETRY);
}


/*
 * tunny_event_loop realtime [priority=N] [limit=TIME] [retry=TIME];
 * tunny_event_loop normal;
 */

char *
ngx_tunny_loop_directive(ngx_conf_t *cf, ngx_tunny_loop_conf_t *lcf)
{
    ngx_int_t    n;
    ngx_str_t   *value, v;
    ngx_uint_t   i;
    ngx_msec_t  *ms;

    if (lcf->realtime != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "normal") == 0) {

        if (cf->args->nelts > 2) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "tunny_event_loop normal takes no "
                               "parameters");
            return NGX_CONF_ERROR;
        }

        lcf->realtime = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "realtime") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid tunny_event_loop \"%V\" "
                           "(realtime or normal)", &value[1]);
        return NGX_CONF_ERROR;
    }

    lcf->realtime = 1;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "priority=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n < 1 || n > 99) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid tunny_event_loop \"%V\" "
                                   "(1..99)", &value[i]);
                return NGX_CONF_ERROR;
            }

            lcf->priority = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "limit=", 6) == 0) {
            v.data = value[i].data + 6;
            v.len = value[i].len - 6;
            ms = &lcf->limit;

        } else if (ngx_strncmp(value[i].data, "retry=", 6) == 0) {
            v.data = value[i].data + 6;
            v.len = value[i].len - 6;
            ms = &lcf->retry;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid tunny_event_loop parameter \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        *ms = ngx_parse_time(&v, 0);

        /* limit: the watchdog counts ticks; retry: the timer's period */

        if (*ms == (ngx_msec_t) NGX_ERROR
            || *ms < ((ms == &lcf->limit) ? 1 : NGX_TUNNY_LOOP_TICK)
            || *ms > 3600000)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid tunny_event_loop \"%V\" (%s..1h)",
                               &value[i], (ms == &lcf->limit) ? "1ms" : "1s");
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * master: an unprivileged worker may take a real-time priority up to its
 * RLIMIT_RTPRIO; the master, still root here, raises it (workers inherit
 * it across fork).  Where it cannot (nginx started by a user), the worker
 * says so and its loop keeps normal scheduling.
 */

void
ngx_tunny_loop_init_master(ngx_cycle_t *cycle, ngx_tunny_loop_conf_t *lcf)
{
    rlim_t         prio;
    struct rlimit  rl;

    if (!lcf->realtime || getrlimit(RLIMIT_RTPRIO, &rl) == -1) {
        return;
    }

    prio = (rlim_t) lcf->priority;

    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < prio) {
        rl.rlim_cur = prio;

        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < prio) {
            rl.rlim_max = prio;
        }

        if (setrlimit(RLIMIT_RTPRIO, &rl) == -1) {
            ngx_log_debug1(NGX_LOG_DEBUG_CORE, cycle->log, ngx_errno,
                           "tunny_event_loop: setrlimit(RLIMIT_RTPRIO, %d) "
                           "failed", (int) prio);
        }
    }
}


/*
 * worker, after its pools started (their threads are SCHED_BATCH
 * already): the loop goes real-time, watched by RLIMIT_RTTIME
 */

ngx_int_t
ngx_tunny_loop_init_process(ngx_cycle_t *cycle, ngx_tunny_loop_conf_t *lcf)
{
    ngx_err_t         err;
    struct sigaction  sa;

    if (!lcf->realtime) {
        return NGX_OK;
    }

    ngx_tunny_loop_conf = lcf;

    ngx_memzero(&sa, sizeof(struct sigaction));
    sa.sa_handler = ngx_tunny_loop_sigxcpu;
    sa.sa_flags = SA_RESTART;
    (void) sigemptyset(&sa.sa_mask);

    if (sigaction(SIGXCPU, &sa, NULL) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "tunny_event_loop: sigaction(SIGXCPU) failed, "
                      "the event loop keeps normal scheduling");
        return NGX_OK;
    }

    if (ngx_tunny_loop_arm_watchdog(lcf, cycle->log) != NGX_OK) {
        return NGX_OK;
    }

    if (ngx_tunny_loop_realtime() != NGX_OK) {
        err = ngx_errno;
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, err,
                      "tunny_event_loop: sched_setscheduler(SCHED_FIFO %i) "
                      "failed, the event loop keeps normal scheduling "
                      "(a worker that is not root needs an RLIMIT_RTPRIO, "
                      "which its master raises only with "
                      "CAP_SYS_RESOURCE, or CAP_SYS_NICE)", lcf->priority);
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "tunny_event_loop: realtime (SCHED_FIFO %i), limit %Mms, "
                  "retry %Mms", lcf->priority, lcf->limit, lcf->retry);

    ngx_tunny_loop_dummy.fd = (ngx_socket_t) -1;
    ngx_tunny_loop_timer.handler = ngx_tunny_loop_timer_handler;
    ngx_tunny_loop_timer.data = &ngx_tunny_loop_dummy;
    ngx_tunny_loop_timer.log = cycle->log;
    ngx_tunny_loop_timer.cancelable = 1;

    ngx_add_timer(&ngx_tunny_loop_timer, NGX_TUNNY_LOOP_TICK);

    return NGX_OK;
}


static ngx_int_t
ngx_tunny_loop_realtime(void)
{
    struct sched_param  sp;

    ngx_memzero(&sp, sizeof(struct sched_param));
    sp.sched_priority = (int) ngx_tunny_loop_conf->priority;

    if (sched_setscheduler(ngx_pid,
                           SCHED_FIFO|SCHED_RESET_ON_FORK, &sp)
        == -1)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The soft RLIMIT_RTTIME: SIGXCPU once a real-time thread has run that
 * long without sleeping.  Set again before each promotion: the kernel
 * raises the process's soft limit by a second each time it sends the
 * signal.  The hard limit (SIGKILL) stays where it is, infinite unless
 * the operator set one.  No watchdog, no real-time loop.
 */

static ngx_int_t
ngx_tunny_loop_arm_watchdog(ngx_tunny_loop_conf_t *lcf, ngx_log_t *log)
{
    rlim_t         us;
    struct rlimit  rl;

    if (getrlimit(RLIMIT_RTTIME, &rl) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "tunny_event_loop: getrlimit(RLIMIT_RTTIME) failed, "
                      "the event loop keeps normal scheduling");
        return NGX_ERROR;
    }

    us = (rlim_t) lcf->limit * 1000;

    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= us) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "tunny_event_loop: the hard RLIMIT_RTTIME (%uL us) is "
                      "not above limit=%Mms (it would kill the worker), "
                      "the event loop keeps normal scheduling",
                      (uint64_t) rl.rlim_max, lcf->limit);
        return NGX_ERROR;
    }

    rl.rlim_cur = us;

    if (setrlimit(RLIMIT_RTTIME, &rl) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      "tunny_event_loop: setrlimit(RLIMIT_RTTIME) failed, "
                      "the event loop keeps normal scheduling");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * signal handler, in the event loop's thread: back to normal at once,
 * keeping SCHED_RESET_ON_FORK (an unprivileged thread may not clear it)
 */

static void
ngx_tunny_loop_sigxcpu(int signo)
{
    int                 err;
    struct sched_param  sp;

    err = errno;

    ngx_memzero(&sp, sizeof(struct sched_param));
    (void) sched_setscheduler(ngx_pid,
                              SCHED_OTHER|SCHED_RESET_ON_FORK, &sp);

    ngx_tunny_loop_overran = 1;

    errno = err;
}


/* loop: say what the watchdog did, and give the priority back later */

static void
ngx_tunny_loop_timer_handler(ngx_event_t *ev)
{
    ngx_tunny_loop_conf_t  *lcf;

    lcf = ngx_tunny_loop_conf;

    if (ngx_tunny_loop_overran) {
        ngx_tunny_loop_overran = 0;
        ngx_tunny_loop_normal = 1;
        ngx_tunny_loop_normal_since = ngx_current_msec;

        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "tunny_event_loop: the event loop ran for %Mms "
                      "without sleeping, normal scheduling for %Mms",
                      lcf->limit, lcf->retry);

    } else if (ngx_tunny_loop_normal
               && ngx_current_msec - ngx_tunny_loop_normal_since
                  >= lcf->retry)
    {
        if (ngx_tunny_loop_arm_watchdog(lcf, ev->log) == NGX_OK
            && ngx_tunny_loop_realtime() == NGX_OK)
        {
            ngx_tunny_loop_normal = 0;

            ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                          "tunny_event_loop: realtime again");

        } else {
            ngx_tunny_loop_normal_since = ngx_current_msec;
        }
    }

    ngx_add_timer(ev, NGX_TUNNY_LOOP_TICK);
}
