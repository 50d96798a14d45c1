/*
 * ngx_tunny_module: tunny_compress, the negotiation: the encoding that the
 * request's Accept-Encoding takes, and the response's Vary.  Event loop
 * only.
 */

#include "ngx_http_tunny_compress_common.h"


static ngx_uint_t ngx_http_tunny_compress_qvalue(u_char **pp, u_char *end);


/* Accept-Encoding ---------------------------------------------------------- */

/*
 * The configured encoding the client takes with the highest q-value, the
 * configured order breaking ties; "*" stands for those not named, q=0
 * excludes, an identity named with a higher q-value than the best wins.
 * The index of the encoding, or NGX_DECLINED.
 */

ngx_int_t
ngx_http_tunny_compress_negotiate(ngx_http_request_t *r,
    ngx_http_tunny_compress_conf_t *conf)
{
    u_char           *p, *end, *name;
    size_t            len;
    ngx_int_t         q[NGX_TUNNY_COMPRESS_N], star, identity, best, bq, e;
    ngx_uint_t        i, n, qv, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (i = 0; i < NGX_TUNNY_COMPRESS_N; i++) {
        q[i] = -1;
    }

    star = -1;
    identity = -1;
    found = 0;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (n = 0; /* void */; n++) {

        if (n >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            n = 0;
        }

        if (h[n].key.len != sizeof("Accept-Encoding") - 1
            || ngx_strncasecmp(h[n].key.data, (u_char *) "Accept-Encoding",
                               sizeof("Accept-Encoding") - 1) != 0)
        {
            continue;
        }

        found = 1;
        p = h[n].value.data;
        end = p + h[n].value.len;

        while (p < end) {

            while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
                p++;
            }

            name = p;

            while (p < end && *p != ' ' && *p != '\t' && *p != ','
                   && *p != ';')
            {
                p++;
            }

            len = p - name;
            qv = 1000;

            /* parameters: only q counts */

            while (p < end && *p != ',') {
                if (*p == ';' || *p == ' ' || *p == '\t') {
                    p++;
                    continue;
                }

                if (end - p >= 2 && (*p == 'q' || *p == 'Q') && p[1] == '=') {
                    p += 2;
                    qv = ngx_http_tunny_compress_qvalue(&p, end);
                    continue;
                }

                while (p < end && *p != ';' && *p != ',') {
                    p++;
                }
            }

            if (len == 0) {
                continue;
            }

            if (len == 1 && *name == '*') {
                star = ngx_max(star, (ngx_int_t) qv);
                continue;
            }

            if (len == 8 && ngx_strncasecmp(name, (u_char *) "identity", 8)
                            == 0)
            {
                identity = ngx_max(identity, (ngx_int_t) qv);
                continue;
            }

            e = ngx_tunny_compress_lookup(name, len);

            if (e >= 0) {
                q[e] = ngx_max(q[e], (ngx_int_t) qv);
            }
        }
    }

    if (!found) {
        return NGX_DECLINED;
    }

    best = NGX_DECLINED;
    bq = 0;

    for (i = 0; i < conf->nencodings; i++) {
        e = conf->encodings[i];
        qv = (q[e] >= 0) ? (ngx_uint_t) q[e] : (star >= 0) ? (ngx_uint_t) star
                                                           : 0;

        if ((ngx_int_t) qv > bq) {
            best = e;
            bq = qv;
        }
    }

    if (best != NGX_DECLINED && identity > bq) {
        return NGX_DECLINED;
    }

    return best;
}


/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in 1/1000 */

static ngx_uint_t
ngx_http_tunny_compress_qvalue(u_char **pp, u_char *end)
{
    u_char      *p;
    ngx_uint_t   q, scale;

    p = *pp;

    if (p == end || (*p != '0' && *p != '1')) {
        q = 0;
        goto skip;
    }

    q = (*p++ - '0') * 1000;

    if (p < end && *p == '.') {
        p++;

        for (scale = 100; p < end && *p >= '0' && *p <= '9' && scale;
             scale /= 10)
        {
            q += (*p++ - '0') * scale;
        }
    }

    if (q > 1000) {
        q = 0;
    }

skip:

    /* anything else up to the next parameter or coding: not a qvalue */

    if (p < end && *p != ';' && *p != ',' && *p != ' ' && *p != '\t') {
        q = 0;
    }

    while (p < end && *p != ';' && *p != ',') {
        p++;
    }

    *pp = p;

    return q;
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
