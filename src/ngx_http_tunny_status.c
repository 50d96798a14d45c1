/*
 * ngx_tunny_module: tunny_status, the content handler of the metrics
 * (Prometheus text, or JSON with ?format=json) and of the health answer.
 * Event loop only.
 */

#include "ngx_http_tunny_common.h"


ngx_int_t
ngx_http_tunny_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   arg, reason, type;
    ngx_buf_t                  *b;
    ngx_uint_t                  json;
    ngx_http_tunny_loc_conf_t  *tlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_module);

    if (tlcf->status == NGX_HTTP_TUNNY_STATUS_HEALTH) {

        rc = ngx_tunny_stats_health(r->pool, &reason);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_str_set(&reason, "ok");
            rc = NGX_OK;
        }

        b = ngx_create_temp_buf(r->pool, reason.len + 1);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        b->last = ngx_cpymem(b->last, reason.data, reason.len);
        *b->last++ = '\n';

        ngx_str_set(&type, "text/plain");

        return ngx_http_tunny_send(r, rc == NGX_OK
                                      ? NGX_HTTP_OK
                                      : NGX_HTTP_SERVICE_UNAVAILABLE,
                                   &type, b);
    }

    json = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK
        && arg.len == 4 && ngx_strncmp(arg.data, "json", 4) == 0)
    {
        json = 1;
    }

    if (ngx_tunny_stats_render(r->pool, json, &b) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json) {
        ngx_str_set(&type, NGX_TUNNY_STATS_JSON_TYPE);

    } else {
        ngx_str_set(&type, NGX_TUNNY_STATS_PROMETHEUS_TYPE);
    }

    return ngx_http_tunny_send(r, NGX_HTTP_OK, &type, b);
}
