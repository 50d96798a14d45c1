/*
 * ngx_tunny_module: tunny_compress, the module: its directives, the
 * configuration (create, merge: the defaults and limits) and the filters'
 * place in the chain.  Event loop (configuration) only.
 */

#include "ngx_http_tunny_compress_common.h"


static void *ngx_http_tunny_compress_create_conf(ngx_conf_t *cf);
static char *ngx_http_tunny_compress_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tunny_compress_enable(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_tunny_compress_encodings(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_tunny_compress_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_tunny_compress_commands[] = {

    { ngx_string("tunny_compress"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_http_tunny_compress_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, enable),
      NULL },

    { ngx_string("tunny_compress_encodings"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_tunny_compress_encodings,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_compress_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_types_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, types_keys),
      &ngx_http_html_default_types[0] },

    { ngx_string("tunny_compress_min_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, min_length),
      NULL },

    { ngx_string("tunny_compress_chunk"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, chunk),
      NULL },

    { ngx_string("tunny_compress_buffers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_conf_set_bufs_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, bufs),
      NULL },

    { ngx_string("tunny_compress_brotli_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, level)
          + NGX_TUNNY_COMPRESS_BROTLI * sizeof(ngx_int_t),
      NULL },

    { ngx_string("tunny_compress_zstd_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, level)
          + NGX_TUNNY_COMPRESS_ZSTD * sizeof(ngx_int_t),
      NULL },

    { ngx_string("tunny_compress_gzip_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, level)
          + NGX_TUNNY_COMPRESS_GZIP * sizeof(ngx_int_t),
      NULL },

    { ngx_string("tunny_compress_brotli_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_compress_conf_t, brotli_window),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tunny_compress_filter_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_tunny_compress_init,          /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tunny_compress_create_conf,   /* create location configuration */
    ngx_http_tunny_compress_merge_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_tunny_compress_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_tunny_compress_filter_module_ctx, /* module context */
    ngx_http_tunny_compress_commands,      /* module directives */
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


static void *
ngx_http_tunny_compress_create_conf(ngx_conf_t *cf)
{
    ngx_uint_t                       i;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tunny_compress_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->bufs.num = 0;
     *     conf->types = { NULL };
     *     conf->types_keys = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->nencodings = NGX_CONF_UNSET_UINT;
    conf->min_length = NGX_CONF_UNSET;
    conf->chunk = NGX_CONF_UNSET_SIZE;
    conf->brotli_window = NGX_CONF_UNSET_SIZE;

    for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
        conf->level[i] = NGX_CONF_UNSET;
    }

    return conf;
}


static char *
ngx_http_tunny_compress_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tunny_compress_conf_t *prev = parent;
    ngx_http_tunny_compress_conf_t *conf = child;

    int         min, max;
    ngx_uint_t  i;

    static ngx_int_t  levels[NGX_TUNNY_COMPRESS_N] = { 11, 19, 9 };
    static char      *names[NGX_TUNNY_COMPRESS_N] = {
        "tunny_compress_brotli_level", "tunny_compress_zstd_level",
        "tunny_compress_gzip_level"
    };

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->nencodings == NGX_CONF_UNSET_UINT) {
        if (prev->nencodings == NGX_CONF_UNSET_UINT) {
            conf->nencodings = NGX_TUNNY_COMPRESS_N;

            for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
                conf->encodings[i] = i;
            }

        } else {
            conf->nencodings = prev->nencodings;
            ngx_memcpy(conf->encodings, prev->encodings,
                       sizeof(conf->encodings));
        }
    }

    if (ngx_http_merge_types(cf, &conf->types_keys, &conf->types,
                             &prev->types_keys, &prev->types,
                             ngx_http_html_default_types)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_value(conf->min_length, prev->min_length, 20);
    ngx_conf_merge_size_value(conf->chunk, prev->chunk, 64 * 1024);
    ngx_conf_merge_bufs_value(conf->bufs, prev->bufs, 8, 16 * 1024);
    ngx_conf_merge_size_value(conf->brotli_window, prev->brotli_window,
                              512 * 1024);

    for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
        ngx_conf_merge_value(conf->level[i], prev->level[i], levels[i]);

        ngx_tunny_compress_levels(i, &min, &max);

        if (conf->level[i] < min || conf->level[i] > max) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s must be between %d and %d", names[i],
                               min, max);
            return NGX_CONF_ERROR;
        }
    }

    if (conf->chunk < 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tunny_compress_chunk must be at least 1k");
        return NGX_CONF_ERROR;
    }

    if (conf->brotli_window < 1024 || conf->brotli_window > 4 * 1024 * 1024
        || (conf->brotli_window & (conf->brotli_window - 1)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tunny_compress_brotli_window must be a power of "
                           "2 from 1k to 4m");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_compress_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tunny_compress_conf_t *tccf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK && tccf->enable) {
        ngx_http_tunny_use_pool(cf);
    }

    return rv;
}


static char *
ngx_http_tunny_compress_encodings(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tunny_compress_conf_t *tccf = conf;

    ngx_int_t   e;
    ngx_str_t  *value;
    ngx_uint_t  i, j;

    if (tccf->nencodings != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    tccf->nencodings = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        e = ngx_tunny_compress_lookup(value[i].data, value[i].len);

        if (e < 0 || ngx_strcmp(value[i].data, "x-gzip") == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown encoding \"%V\" (br, zstd, gzip)",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < tccf->nencodings; j++) {
            if (tccf->encodings[j] == e) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "encoding \"%V\" is listed twice",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        tccf->encodings[tccf->nencodings++] = e;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tunny_compress_init(ngx_conf_t *cf)
{
    return ngx_http_tunny_compress_filter_init(cf);
}
