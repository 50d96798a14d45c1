/*
 * ngx_tunny_module: the HTTP module: its directives (tunny_offload,
 * tunny_queue_limit, tunny_timeout, tunny_retry_after,
 * tunny_ignore_client_abort, tunny_max_wait, tunny_fair_key,
 * tunny_fair_key_queue, tunny_burn, tunny_status), the location
 * configuration, and the installation of the Retry-After header filter.
 * The features live in the files named in ngx_http_tunny_common.h.
 */

#include "ngx_http_tunny_common.h"


static void *ngx_http_tunny_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tunny_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tunny_offload(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tunny_burn(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tunny_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_tunny_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_tunny_commands[] = {

    { ngx_string("tunny_offload"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_offload,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_queue_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, queue_limit),
      NULL },

    { ngx_string("tunny_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, timeout),
      NULL },

    { ngx_string("tunny_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, retry_after),
      NULL },

    { ngx_string("tunny_max_wait"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, max_wait),
      NULL },

    { ngx_string("tunny_fair_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, fair_key),
      NULL },

    { ngx_string("tunny_fair_key_queue"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, fair_key_queue),
      NULL },

    { ngx_string("tunny_ignore_client_abort"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_loc_conf_t, ignore_client_abort),
      NULL },

    { ngx_string("tunny_burn"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_burn,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_status"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_tunny_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tunny_module_ctx = {
    ngx_http_tunny_add_variables,          /* preconfiguration */
    ngx_http_tunny_init,                   /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tunny_create_loc_conf,        /* create location configuration */
    ngx_http_tunny_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_tunny_module = {
    NGX_MODULE_V1,
    &ngx_http_tunny_module_ctx,            /* module context */
    ngx_http_tunny_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* sends a complete in-memory response; returns a code for finalize */

ngx_int_t
ngx_http_tunny_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* configuration ------------------------------------------------------------ */

static void *
ngx_http_tunny_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tunny_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tunny_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->status = NGX_HTTP_TUNNY_STATUS_OFF;
     *     conf->burn_cv = NULL;
     */

    /* each location learns the cost of its own jobs */

    conf->cost = ngx_pcalloc(cf->pool, sizeof(ngx_tunny_cost_t));
    if (conf->cost == NULL) {
        return NULL;
    }

    conf->cost->est_ns = NGX_TUNNY_COST_SEED;

    conf->pcf = NGX_CONF_UNSET_PTR;
    conf->max_wait = NGX_CONF_UNSET_MSEC;
    conf->fair_key = NGX_CONF_UNSET_PTR;
    conf->fair_key_queue = NGX_CONF_UNSET_UINT;
    conf->needs_pool = NGX_CONF_UNSET;
    conf->queue_limit = NGX_CONF_UNSET_UINT;
    conf->timeout = NGX_CONF_UNSET_MSEC;
    conf->retry_after = NGX_CONF_UNSET;
    conf->ignore_client_abort = NGX_CONF_UNSET;
    conf->burn = NGX_CONF_UNSET_MSEC;

    return conf;
}


static char *
ngx_http_tunny_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tunny_loc_conf_t *prev = parent;
    ngx_http_tunny_loc_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->pcf, prev->pcf, NULL);
    ngx_conf_merge_value(conf->needs_pool, prev->needs_pool, 0);

    /* the default pool exists only if something uses it */

    if (conf->pcf == NULL && conf->needs_pool) {
        conf->pcf = ngx_tunny_pool_use(cf, NULL);
        if (conf->pcf == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ngx_conf_merge_uint_value(conf->queue_limit, prev->queue_limit,
                              NGX_MAX_UINT32_VALUE);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 30000);
    ngx_conf_merge_value(conf->retry_after, prev->retry_after, 1);
    ngx_conf_merge_value(conf->ignore_client_abort,
                         prev->ignore_client_abort, 0);
    ngx_conf_merge_msec_value(conf->max_wait, prev->max_wait, 0);
    ngx_conf_merge_ptr_value(conf->fair_key, prev->fair_key, NULL);
    ngx_conf_merge_uint_value(conf->fair_key_queue, prev->fair_key_queue, 0);

    /* health turns red past the largest tunny_max_wait of a pool */

    if (conf->pcf && conf->needs_pool && conf->max_wait > conf->pcf->max_wait)
    {
        conf->pcf->max_wait = conf->max_wait;
    }

    if (conf->timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tunny_timeout must be greater than 0");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_offload(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_loc_conf_t *tlcf = conf;

    ngx_str_t  *value;

    if (tlcf->pcf != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    tlcf->pcf = ngx_tunny_pool_use(cf, &value[1]);
    if (tlcf->pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_burn(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_loc_conf_t *tlcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_compile_complex_value_t   ccv;

    if (tlcf->burn != NGX_CONF_UNSET_MSEC || tlcf->burn_cv) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_script_variables_count(&value[1])) {

        /* a time evaluated per request: jobs whose cost changes */

        tlcf->burn_cv = ngx_palloc(cf->pool,
                                   sizeof(ngx_http_complex_value_t));
        if (tlcf->burn_cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[1];
        ccv.complex_value = tlcf->burn_cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

    } else {
        tlcf->burn = ngx_parse_time(&value[1], 0);
        if (tlcf->burn == (ngx_msec_t) NGX_ERROR) {
            return "invalid value";
        }
    }

    tlcf->needs_pool = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tunny_burn_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_loc_conf_t *tlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (tlcf->status != NGX_HTTP_TUNNY_STATUS_OFF) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 1
        || ngx_strcmp(value[1].data, "metrics") == 0)
    {
        tlcf->status = NGX_HTTP_TUNNY_STATUS_METRICS;

    } else if (ngx_strcmp(value[1].data, "health") == 0) {
        tlcf->status = NGX_HTTP_TUNNY_STATUS_HEALTH;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", "
                           "expected \"metrics\" or \"health\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tunny_status_handler;

    return NGX_CONF_OK;
}


void
ngx_http_tunny_use_pool(ngx_conf_t *cf)
{
    ngx_http_tunny_loc_conf_t  *tlcf;

    tlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_tunny_module);
    tlcf->needs_pool = 1;
}


static ngx_int_t
ngx_http_tunny_init(ngx_conf_t *cf)
{
    if (ngx_tunny_stats_add_zone(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_tunny_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tunny_header_filter;

    return NGX_OK;
}
