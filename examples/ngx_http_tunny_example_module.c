/*
 * An example of a third-party module on the tunny task API, built apart
 * from ngx_tunny_module and loaded after it (its tunny symbols resolve to
 * ngx_tunny_module.so): "tunny_example_sum ROUNDS" answers the FNV-1a hash
 * of a ROUNDS-long chain of rounds, computed on the location's pool, with
 * the pool's admission (503), tunny_timeout (504) and cancellation.
 * ngx_http_tunny_example_run() runs in a pool thread; the rest in the
 * event loop.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tunny.h"


typedef struct {
    ngx_uint_t                  rounds;
} ngx_http_tunny_example_conf_t;


typedef struct {
    uint64_t                    rounds;     /* the thread's copy */
    uint64_t                    hash;       /* the thread's answer */
} ngx_http_tunny_example_task_t;


static ngx_int_t ngx_http_tunny_example_run(ngx_http_tunny_task_t *task,
    void *data);
static void ngx_http_tunny_example_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc);
static char *ngx_http_tunny_example_sum(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_tunny_example_create_conf(ngx_conf_t *cf);


static ngx_command_t  ngx_http_tunny_example_commands[] = {

    { ngx_string("tunny_example_sum"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_example_sum,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tunny_example_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL,
    ngx_http_tunny_example_create_conf,
    NULL
};


ngx_module_t  ngx_http_tunny_example_module = {
    NGX_MODULE_V1,
    &ngx_http_tunny_example_module_ctx,
    ngx_http_tunny_example_commands,
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_tunny_example_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_http_tunny_task_t          *task;
    ngx_http_tunny_example_task_t  *t;
    ngx_http_tunny_example_conf_t  *conf;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_example_module);

    task = ngx_http_tunny_task_create(r, sizeof(ngx_http_tunny_example_task_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    task->run = ngx_http_tunny_example_run;
    task->done = ngx_http_tunny_example_done;

    t = task->data;
    t->rounds = conf->rounds;

    rc = ngx_http_tunny_task_post(r, task);

    if (rc != NGX_OK) {
        ngx_http_tunny_task_destroy(task);
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    r->main->count++;

    return NGX_DONE;
}


/* thread: FNV-1a over the round numbers, a look at the flag every 64k */

static ngx_int_t
ngx_http_tunny_example_run(ngx_http_tunny_task_t *task, void *data)
{
    ngx_http_tunny_example_task_t *t = data;

    uint64_t  i, h;

    h = 14695981039346656037ULL;

    for (i = 0; i < t->rounds; i++) {
        if ((i & 0xffff) == 0 && ngx_http_tunny_task_cancelled(task)) {
            return NGX_ERROR;
        }

        h = (h ^ (i & 0xff)) * 1099511628211ULL;
    }

    t->hash = h;

    return NGX_OK;
}


static void
ngx_http_tunny_example_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_int_t                       rv;
    ngx_buf_t                      *b;
    ngx_chain_t                     out;
    ngx_http_tunny_example_task_t  *t;

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc == NGX_ERROR
                                     ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc);
        return;
    }

    t = data;

    b = ngx_create_temp_buf(r->pool, sizeof("sum  rounds ") + 2 * NGX_INT64_LEN);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->last = ngx_sprintf(b->last, "sum %016xL rounds %uL\n", t->hash,
                          t->rounds);
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain");

    rv = ngx_http_send_header(r);

    if (rv == NGX_ERROR || rv > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rv);
        return;
    }

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));
}


static char *
ngx_http_tunny_example_sum(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_example_conf_t *ecf = conf;

    ngx_int_t                  n;
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    if (n == NGX_ERROR) {
        return "invalid number of rounds";
    }

    ecf->rounds = (ngx_uint_t) n;

    /* the location posts tasks: its tunny_offload pool, or "default" */

    ngx_http_tunny_use_pool(cf);

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tunny_example_handler;

    return NGX_CONF_OK;
}


static void *
ngx_http_tunny_example_create_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_tunny_example_conf_t));
}
