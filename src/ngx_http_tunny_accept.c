/*
 * ngx_tunny_module: content negotiation: the quality that the request's
 * Accept (media types) or Accept-Encoding (codings) headers give to each
 * of a list of candidates, q-values parsed as RFC 9110 says.  Used by
 * tunny_status (page or metrics), tunny_image (WebP) and tunny_compress.
 * Event loop only.
 */

#include "ngx_http_tunny_common.h"


static void ngx_http_tunny_accept_value(ngx_str_t *value,
    ngx_http_tunny_media_t *media, ngx_uint_t n);
static void ngx_http_tunny_accept_match(ngx_str_t *type, ngx_str_t *subtype,
    ngx_int_t q, ngx_http_tunny_media_t *media, ngx_uint_t n);
static ngx_int_t ngx_http_tunny_accept_qvalue(u_char *p, u_char *end);
static u_char *ngx_http_tunny_accept_ows(u_char *p, u_char *end);
static u_char *ngx_http_tunny_accept_token(u_char *p, u_char *end);


void
ngx_http_tunny_negotiate(ngx_http_request_t *r, ngx_str_t *name,
    ngx_http_tunny_media_t *media, ngx_uint_t n)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (i = 0; i < n; i++) {
        media[i].specificity = 0;
        media[i].q = 0;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            ngx_http_tunny_accept_value(&h[i].value, media, n);
        }
    }
}


/*
 * One header value: #( element [ weight ] ), an element being a media
 * range, type "/" subtype (Accept), or a token (Accept-Encoding), then
 * *( OWS ";" OWS name "=" ( token / quoted-string ) ).  An element that
 * does not parse, or whose q is not a qvalue, is skipped up to the next
 * comma.
 */

static void
ngx_http_tunny_accept_value(ngx_str_t *value,
    ngx_http_tunny_media_t *media, ngx_uint_t n)
{
    u_char     *p, *end, *val;
    ngx_int_t   q;
    ngx_str_t   type, subtype, name;
    ngx_uint_t  valid;

    p = value->data;
    end = p + value->len;

    for ( ;; ) {

        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        if (p == end) {
            return;
        }

        valid = 1;
        q = 1000;

        type.data = p;
        p = ngx_http_tunny_accept_token(p, end);
        type.len = p - type.data;

        ngx_str_null(&subtype);

        if (p < end && *p == '/') {
            subtype.data = ++p;
            p = ngx_http_tunny_accept_token(p, end);
            subtype.len = p - subtype.data;
        }

        if (type.len == 0 || subtype.len == 0) {
            valid = 0;
        }

        while (valid) {
            p = ngx_http_tunny_accept_ows(p, end);

            if (p == end || *p != ';') {
                break;
            }

            name.data = ngx_http_tunny_accept_ows(p + 1, end);
            p = ngx_http_tunny_accept_token(name.data, end);
            name.len = p - name.data;

            if (name.len == 0 || p == end || *p != '=') {
                valid = 0;
                break;
            }

            val = ++p;

            if (p < end && *p == '"') {

                for (p++; p < end && *p != '"'; p++) {
                    if (*p == '\\' && p + 1 < end) {
                        p++;
                    }
                }

                if (p == end) {
                    valid = 0;
                    break;
                }

                p++;

            } else {
                p = ngx_http_tunny_accept_token(p, end);
            }

            if (name.len == 1 && (name.data[0] | 0x20) == 'q') {
                q = ngx_http_tunny_accept_qvalue(val, p);

                if (q == NGX_ERROR) {
                    valid = 0;
                }
            }
        }

        p = ngx_http_tunny_accept_ows(p, end);

        if (p < end && *p != ',') {
            valid = 0;

            while (p < end && *p != ',') {
                p++;
            }
        }

        if (valid) {
            ngx_http_tunny_accept_match(&type, &subtype, q, media, n);
        }
    }
}


static void
ngx_http_tunny_accept_match(ngx_str_t *type, ngx_str_t *subtype,
    ngx_int_t q, ngx_http_tunny_media_t *media, ngx_uint_t n)
{
    ngx_uint_t  i, specificity, any_type, any_subtype;

    any_type = (type->len == 1 && type->data[0] == '*');
    any_subtype = (subtype->len == 1 && subtype->data[0] == '*');

    for (i = 0; i < n; i++) {

        if (media[i].subtype.len == 0) {

            /* a coding: "*" or the coding itself, with no subtype */

            if (subtype->len) {
                continue;
            }

            if (any_type) {
                specificity = 1;

            } else if (type->len == media[i].type.len
                       && ngx_strncasecmp(type->data, media[i].type.data,
                                          type->len)
                          == 0)
            {
                specificity = 3;

            } else {
                continue;
            }

        } else if (subtype->len == 0) {
            continue;

        } else if (any_type) {
            if (!any_subtype) {
                continue;
            }

            specificity = 1;

        } else if (type->len != media[i].type.len
                   || ngx_strncasecmp(type->data, media[i].type.data,
                                      type->len)
                      != 0)
        {
            continue;

        } else if (any_subtype) {
            specificity = 2;

        } else if (subtype->len == media[i].subtype.len
                   && ngx_strncasecmp(subtype->data, media[i].subtype.data,
                                      subtype->len)
                      == 0)
        {
            specificity = 3;

        } else {
            continue;
        }

        if (specificity > media[i].specificity
            || (specificity == media[i].specificity && q > media[i].q))
        {
            media[i].specificity = specificity;
            media[i].q = q;
        }
    }
}


/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), x 1000 */

static ngx_int_t
ngx_http_tunny_accept_qvalue(u_char *p, u_char *end)
{
    ngx_int_t  q, unit;

    if (p == end || (*p != '0' && *p != '1')) {
        return NGX_ERROR;
    }

    q = (*p++ - '0') * 1000;

    if (p == end) {
        return q;
    }

    if (*p++ != '.') {
        return NGX_ERROR;
    }

    for (unit = 100; p < end && unit > 0; p++, unit /= 10) {
        if (*p < '0' || *p > '9') {
            return NGX_ERROR;
        }

        q += (*p - '0') * unit;
    }

    if (p != end || q > 1000) {
        return NGX_ERROR;
    }

    return q;
}


static u_char *
ngx_http_tunny_accept_ows(u_char *p, u_char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p;
}


/* the end of a token: up to white space or a separator of Accept */

static u_char *
ngx_http_tunny_accept_token(u_char *p, u_char *end)
{
    while (p < end) {
        switch (*p) {
        case ' ':
        case '\t':
        case '/':
        case ';':
        case ',':
        case '=':
        case '"':
            return p;
        }

        p++;
    }

    return p;
}
