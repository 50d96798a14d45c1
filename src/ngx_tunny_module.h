/*
 * ngx_tunny_module: the core module (tunny_pool, per-process pools).
 */

#ifndef _NGX_TUNNY_MODULE_H_INCLUDED_
#define _NGX_TUNNY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_tunny_pool.h"
#include "ngx_tunny_loop.h"


typedef struct {
    ngx_array_t                 pools;      /* ngx_tunny_pool_conf_t * */
    ngx_tunny_loop_conf_t       loop;       /* tunny_event_loop */
} ngx_tunny_conf_t;


/*
 * Configuration time (any context): the pool named "name", declared by
 * tunny_pool before or after this use.  An unknown name fails the
 * configuration at its end, with the file and line of its first use.
 */
ngx_tunny_pool_conf_t *ngx_tunny_pool_use(ngx_conf_t *cf, ngx_str_t *name);

/* all pools of a cycle */
ngx_tunny_conf_t *ngx_tunny_get_conf(ngx_cycle_t *cycle);


extern ngx_module_t  ngx_tunny_module;


#endif /* _NGX_TUNNY_MODULE_H_INCLUDED_ */
