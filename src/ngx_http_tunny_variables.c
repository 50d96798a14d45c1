/*
 * ngx_tunny_module: the $tunny_* variables, read from the request's
 * context (ngx_http_tunny_job.c fills it).  Event loop only.
 */

#include "ngx_http_tunny_common.h"


static ngx_int_t ngx_http_tunny_set_variable(ngx_http_variable_value_t *v,
    u_char *data, size_t len);
static ngx_int_t ngx_http_tunny_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tunny_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tunny_pool_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tunny_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tunny_reject_reason_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_tunny_vars[] = {

    { ngx_string("tunny_outcome"), NULL, ngx_http_tunny_outcome_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_queue_time"), NULL, ngx_http_tunny_time_variable,
      offsetof(ngx_http_tunny_ctx_t, queue_ns), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_run_time"), NULL, ngx_http_tunny_time_variable,
      offsetof(ngx_http_tunny_ctx_t, run_ns), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_pool"), NULL, ngx_http_tunny_pool_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_error"), NULL, ngx_http_tunny_error_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tunny_reject_reason"), NULL,
      ngx_http_tunny_reject_reason_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_tunny_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_tunny_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_set_variable(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_outcome_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *name;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->outcome == NGX_TUNNY_OUTCOME_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = &ngx_tunny_outcome_names[ctx->outcome];

    return ngx_http_tunny_set_variable(v, name->data, name->len);
}


/* seconds with millisecond precision, "-" when the phase did not happen */

static ngx_int_t
ngx_http_tunny_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    uint64_t               ns, ms;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->outcome == NGX_TUNNY_OUTCOME_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    ns = *(uint64_t *) ((char *) ctx + data);

    if (ns == NGX_TUNNY_STATS_NO_TIME) {
        return ngx_http_tunny_set_variable(v, (u_char *) "-", 1);
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ms = (ns + 500000) / 1000000;

    return ngx_http_tunny_set_variable(v, p,
                                       ngx_sprintf(p, "%uL.%03uL", ms / 1000,
                                                   ms % 1000) - p);
}


static ngx_int_t
ngx_http_tunny_pool_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->pcf == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_tunny_set_variable(v, ctx->pcf->name.data,
                                       ctx->pcf->name.len);
}


static ngx_int_t
ngx_http_tunny_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->error.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_tunny_set_variable(v, ctx->error.data, ctx->error.len);
}


/* "queue", "wait", "memory", "key" or "closed": why the request was refused */

static ngx_int_t
ngx_http_tunny_reject_reason_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t             *name;
    ngx_http_tunny_ctx_t  *ctx;

    ctx = ngx_http_tunny_get_ctx(r, 0);

    if (ctx == NULL || ctx->reject_reason == NGX_TUNNY_ADMITTED) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = &ngx_tunny_reject_reasons[ctx->reject_reason];

    return ngx_http_tunny_set_variable(v, name->data, name->len);
}
