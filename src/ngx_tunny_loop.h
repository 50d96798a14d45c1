/*
 * ngx_tunny_loop: the scheduling of a worker's event loop beside its
 * pools (tunny_event_loop).
 *
 * By default a worker that runs pools puts its event loop thread at the
 * lowest real-time priority (SCHED_FIFO 1) while it behaves as an event
 * loop: a thread that wakes up for a request then gets a CPU at once,
 * ahead of its own pool threads and of every other normal process, on a
 * busy host too.  A loop that computes for "limit" without sleeping (a
 * request flood, heavy work in another module) is dropped back to normal
 * scheduling for "retry", so it can never starve the machine.
 *
 * ngx_tunny_loop_init_master() runs in the master (as root, before the
 * workers are forked), the rest in each worker's event loop.
 */

#ifndef _NGX_TUNNY_LOOP_H_INCLUDED_
#define _NGX_TUNNY_LOOP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct {
    ngx_flag_t                  realtime;
    ngx_int_t                   priority;   /* SCHED_FIFO priority */
    ngx_msec_t                  limit;      /* CPU time without a sleep */
    ngx_msec_t                  retry;      /* normal for that long */
} ngx_tunny_loop_conf_t;


/* configuration: tunny_event_loop realtime [...] | normal */
char *ngx_tunny_loop_directive(ngx_conf_t *cf, ngx_tunny_loop_conf_t *lcf);

/* configuration: NGX_CONF_UNSET everywhere, then the defaults */
void ngx_tunny_loop_create_conf(ngx_tunny_loop_conf_t *lcf);
void ngx_tunny_loop_init_conf(ngx_tunny_loop_conf_t *lcf);

/*
 * master (init_module): the resource limits that let the workers, once
 * they are no longer root, take the priority (RLIMIT_RTPRIO) and that arm
 * the kernel's watchdog (RLIMIT_RTTIME); inherited by the workers
 */
void ngx_tunny_loop_init_master(ngx_cycle_t *cycle,
    ngx_tunny_loop_conf_t *lcf);

/* worker (init_process, after its pool threads started) */
ngx_int_t ngx_tunny_loop_init_process(ngx_cycle_t *cycle,
    ngx_tunny_loop_conf_t *lcf);


#endif /* _NGX_TUNNY_LOOP_H_INCLUDED_ */
