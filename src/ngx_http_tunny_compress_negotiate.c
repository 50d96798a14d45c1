/*
 * ngx_tunny_module: tunny_compress, the negotiation: the encoding that the
 * request's Accept-Encoding takes, and the response's Vary.  Event loop
 * only.
 */

#include "ngx_http_tunny_compress_common.h"


/* the candidates: the encodings (by index), x-gzip, identity */

#define NGX_HTTP_TUNNY_COMPRESS_XGZIP     NGX_TUNNY_COMPRESS_N
#define NGX_HTTP_TUNNY_COMPRESS_IDENTITY  (NGX_TUNNY_COMPRESS_N + 1)


/*
 * The configured encoding the client takes with the highest q-value, the
 * configured order breaking ties; "*" stands for those not named, q=0
 * excludes, an identity named with a higher q-value than the best wins.
 * The qualities are the engine's (ngx_http_tunny_negotiate); gzip takes
 * the better of its names.  The index of the encoding, or NGX_DECLINED.
 */

ngx_int_t
ngx_http_tunny_compress_negotiate(ngx_http_request_t *r,
    ngx_http_tunny_compress_conf_t *conf)
{
    ngx_int_t                e, best, bq;
    ngx_uint_t               i;
    ngx_http_tunny_media_t   media[NGX_TUNNY_COMPRESS_N + 2], *m, *x;

    static ngx_str_t  accept_encoding = ngx_string("Accept-Encoding");

    ngx_memzero(media, sizeof(media));

    for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
        media[i].type.data = (u_char *) ngx_tunny_compress_name((int) i);
        media[i].type.len = ngx_strlen(media[i].type.data);
    }

    ngx_str_set(&media[NGX_HTTP_TUNNY_COMPRESS_XGZIP].type, "x-gzip");
    ngx_str_set(&media[NGX_HTTP_TUNNY_COMPRESS_IDENTITY].type, "identity");

    ngx_http_tunny_negotiate(r, &accept_encoding, media,
                             NGX_TUNNY_COMPRESS_N + 2);

    best = NGX_DECLINED;
    bq = 0;

    for (i = 0; i < conf->nencodings; i++) {
        e = conf->encodings[i];
        m = &media[e];

        if (e == NGX_TUNNY_COMPRESS_GZIP) {
            x = &media[NGX_HTTP_TUNNY_COMPRESS_XGZIP];

            if (x->specificity > m->specificity
                || (x->specificity == m->specificity && x->q > m->q))
            {
                m = x;
            }
        }

        if (m->q > bq) {
            best = e;
            bq = m->q;
        }
    }

    /* identity counts only when named: "*" does not stand for it here */

    m = &media[NGX_HTTP_TUNNY_COMPRESS_IDENTITY];

    if (best != NGX_DECLINED && m->specificity == 3 && m->q > bq) {
        return NGX_DECLINED;
    }

    return best;
}


/* Vary: Accept-Encoding, unless the response varies on it already */

ngx_int_t
ngx_http_tunny_compress_vary(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static u_char     ae[] = "accept-encoding";

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 0 || h[i].key.len != 4
            || ngx_strncasecmp(h[i].key.data, (u_char *) "Vary", 4) != 0)
        {
            continue;
        }

        p = h[i].value.data;
        last = p + h[i].value.len;

        for ( /* void */ ; last - p >= (ssize_t) sizeof(ae) - 1; p++) {
            if (ngx_strncasecmp(p, ae, sizeof(ae) - 1) == 0) {
                return NGX_OK;
            }
        }
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Vary");
    ngx_str_set(&h->value, "Accept-Encoding");

    return NGX_OK;
}
