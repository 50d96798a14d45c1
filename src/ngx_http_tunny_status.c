/*
 * ngx_tunny_module: tunny_status, the content handler of the metrics
 * (Prometheus text, JSON with ?format=json, the status page with
 * ?format=html or for a client whose Accept prefers text/html) and of the
 * health answer.  Event loop only.
 */

#include "ngx_http_tunny_common.h"
#include "ngx_http_tunny_status_html.h"


static ngx_int_t ngx_http_tunny_status_page(ngx_http_request_t *r,
    ngx_uint_t vary);
static ngx_uint_t ngx_http_tunny_status_wants_html(ngx_http_request_t *r);
static ngx_int_t ngx_http_tunny_status_header(ngx_http_request_t *r,
    char *key, char *value);


#define NGX_HTTP_TUNNY_STATUS_PROMETHEUS  0
#define NGX_HTTP_TUNNY_STATUS_JSON        1
#define NGX_HTTP_TUNNY_STATUS_HTML        2


ngx_int_t
ngx_http_tunny_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_str_t                   arg, reason, type;
    ngx_buf_t                  *b;
    ngx_uint_t                  format, vary;
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

    /* ?format= decides; without it, the Accept header (and Vary says so) */

    format = NGX_HTTP_TUNNY_STATUS_PROMETHEUS;
    vary = 0;

    if (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK) {

        if (arg.len == 4 && ngx_strncmp(arg.data, "json", 4) == 0) {
            format = NGX_HTTP_TUNNY_STATUS_JSON;

        } else if (arg.len == 4 && ngx_strncmp(arg.data, "html", 4) == 0) {
            format = NGX_HTTP_TUNNY_STATUS_HTML;
        }

    } else {
        vary = 1;

        if (ngx_http_tunny_status_wants_html(r)) {
            format = NGX_HTTP_TUNNY_STATUS_HTML;
        }
    }

    if (format == NGX_HTTP_TUNNY_STATUS_HTML) {
        return ngx_http_tunny_status_page(r, vary);
    }

    if (ngx_tunny_stats_render(r->pool, format == NGX_HTTP_TUNNY_STATUS_JSON,
                               &b)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (vary && ngx_http_tunny_status_header(r, "Vary", "Accept") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (format == NGX_HTTP_TUNNY_STATUS_JSON) {
        ngx_str_set(&type, NGX_TUNNY_STATS_JSON_TYPE);

    } else {
        ngx_str_set(&type, NGX_TUNNY_STATS_PROMETHEUS_TYPE);
    }

    return ngx_http_tunny_send(r, NGX_HTTP_OK, &type, b);
}


/*
 * The status page: static, it reads the numbers itself from ?format=json
 * of the same location.  Never cached: a cache would serve a page that
 * outlives its Content-Security-Policy hashes after an upgrade.
 */

static ngx_int_t
ngx_http_tunny_status_page(ngx_http_request_t *r, ngx_uint_t vary)
{
    ngx_str_t   type;
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = ngx_http_tunny_status_html;
    b->last = b->pos + sizeof(ngx_http_tunny_status_html) - 1;
    b->memory = 1;

    if (ngx_http_tunny_status_header(r, "Cache-Control", "no-store")
           != NGX_OK
        || ngx_http_tunny_status_header(r, "Content-Security-Policy",
                                        NGX_HTTP_TUNNY_STATUS_HTML_CSP)
           != NGX_OK
        || ngx_http_tunny_status_header(r, "X-Content-Type-Options",
                                        "nosniff")
           != NGX_OK
        || (vary && ngx_http_tunny_status_header(r, "Vary", "Accept")
                    != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&type, "text/html; charset=utf-8");

    return ngx_http_tunny_send(r, NGX_HTTP_OK, &type, b);
}


/*
 * Content negotiation between the page (text/html) and the metrics
 * (text/plain, the Prometheus text format).  The quality of each is the
 * one of the most specific media range of the Accept header(s) matching
 * it (type/subtype, then type/any, then any/any; parameters other than q
 * are not compared; among equally specific ranges the highest q), 0 when
 * none matches.  The page only when its quality is higher than the one of
 * the metrics: a browser's "text/html,...,any/any;q=0.8" gets it; curl's
 * any/any (a tie), Prometheus' "...,text/plain;version=0.0.4;q=0.5,
 * any/any;q=0.1", no Accept at all, or one that cannot be parsed keep the
 * metrics.
 */

static ngx_uint_t
ngx_http_tunny_status_wants_html(ngx_http_request_t *r)
{
    ngx_str_t               accept = ngx_string("Accept");
    ngx_http_tunny_media_t  media[2];

    ngx_str_set(&media[0].type, "text");
    ngx_str_set(&media[0].subtype, "html");
    ngx_str_set(&media[1].type, "text");
    ngx_str_set(&media[1].subtype, "plain");

    ngx_http_tunny_negotiate(r, &accept, media, 2);

    return media[0].q > media[1].q;
}


static ngx_int_t
ngx_http_tunny_status_header(ngx_http_request_t *r, char *key, char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.len = ngx_strlen(key);
    h->key.data = (u_char *) key;
    h->value.len = ngx_strlen(value);
    h->value.data = (u_char *) value;
    h->lowcase_key = NULL;

    return NGX_OK;
}
