/*
 * ngx_tunny_module: tunny_image, per request: the job's parameters from
 * configuration and variables, the output type negotiated on Accept, and the
 * reason behind a 4xx.  Everything here runs in the event loop.
 */


#include "ngx_http_tunny_image_common.h"


#define NGX_HTTP_TUNNY_IMAGE_MAX_DIM     65535


static ngx_int_t ngx_http_tunny_image_get_value(ngx_http_request_t *r,
    ngx_http_tunny_image_num_t *num, ngx_uint_t *v,
    ngx_int_t (*parse)(ngx_str_t *value), const char *what);
static int ngx_http_tunny_image_pick(ngx_http_request_t *r,
    ngx_http_tunny_image_conf_t *conf, int type);
static ngx_uint_t ngx_http_tunny_image_accepted(ngx_http_tunny_media_t *m,
    int type);
static ngx_int_t ngx_http_tunny_image_add_header(ngx_http_request_t *r,
    ngx_str_t *key, ngx_str_t *value);


static ngx_str_t  ngx_http_tunny_image_vary = ngx_string("Vary");
static ngx_str_t  ngx_http_tunny_image_accept = ngx_string("Accept");


/* the job's parameters, from configuration and variables */

ngx_int_t
ngx_http_tunny_image_params(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_tunny_image_params_t *p)
{
    ngx_int_t                     rc;
    ngx_uint_t                    v;
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    ngx_memzero(p, sizeof(ngx_tunny_image_params_t));

    v = 0;
    p->ops = conf->ops;

    if (conf->ops & (NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_CROP)) {

        rc = ngx_http_tunny_image_get_value(r, &conf->width, &v,
                                            ngx_http_tunny_image_dim,
                                            "width");
        if (rc != NGX_OK) {
            return rc;
        }

        p->width = v;

        rc = ngx_http_tunny_image_get_value(r, &conf->height, &v,
                                            ngx_http_tunny_image_dim,
                                            "height");
        if (rc != NGX_OK) {
            return rc;
        }

        p->height = v;
    }

    if (conf->ops & NGX_TUNNY_IMAGE_OP_ROTATE) {

        rc = ngx_http_tunny_image_get_value(r, &conf->angle, &v,
                                            ngx_http_tunny_image_angle,
                                            "angle");
        if (rc != NGX_OK) {
            return rc;
        }

        p->angle = v;

        if (v == 0) {
            p->ops &= ~NGX_TUNNY_IMAGE_OP_ROTATE;
        }
    }

    switch (conf->format) {

    case NGX_HTTP_TUNNY_IMAGE_JPEG:
        p->out_type = NGX_TUNNY_IMAGE_JPEG;
        break;

    case NGX_HTTP_TUNNY_IMAGE_WEBP:
        p->out_type = NGX_TUNNY_IMAGE_WEBP;
        break;

    case NGX_HTTP_TUNNY_IMAGE_PNG:
        p->out_type = NGX_TUNNY_IMAGE_PNG;
        break;

    case NGX_HTTP_TUNNY_IMAGE_AVIF:
        p->out_type = NGX_TUNNY_IMAGE_AVIF;
        break;

    case NGX_HTTP_TUNNY_IMAGE_AUTO:
        ctx->vary = 1;
        p->out_type = ngx_http_tunny_image_pick(r, conf, ctx->type);
        break;

    default: /* NGX_HTTP_TUNNY_IMAGE_ORIGINAL */
        p->out_type = 0;
    }

    rc = ngx_http_tunny_image_get_value(r, &conf->jpeg_quality, &v,
                                        ngx_http_tunny_image_quality,
                                        "JPEG quality");
    if (rc != NGX_OK) {
        return rc;
    }

    p->jpeg_quality = (int) v;

    rc = ngx_http_tunny_image_get_value(r, &conf->webp_quality, &v,
                                        ngx_http_tunny_image_quality,
                                        "WebP quality");
    if (rc != NGX_OK) {
        return rc;
    }

    p->webp_quality = (int) v;

    rc = ngx_http_tunny_image_get_value(r, &conf->avif_quality, &v,
                                        ngx_http_tunny_image_quality,
                                        "AVIF quality");
    if (rc != NGX_OK) {
        return rc;
    }

    p->avif_quality = (int) v;
    p->avif_speed = (int) conf->avif_speed;

    p->png_compression = (int) conf->png_compression;
    p->interlace = conf->interlace ? 1 : 0;
    p->fast_off = conf->fast ? 0 : NGX_TUNNY_IMAGE_FAST_ALL;
    p->sharpen = (int) conf->sharpen;
    p->colour = (int) conf->colour;
    p->background = (uint32_t) conf->background;
    p->max_pixels = (uint64_t) conf->max_pixels;
    p->max_frames = (unsigned) conf->max_frames;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_image_get_value(ngx_http_request_t *r,
    ngx_http_tunny_image_num_t *num, ngx_uint_t *v,
    ngx_int_t (*parse)(ngx_str_t *value), const char *what)
{
    ngx_int_t  n;
    ngx_str_t  val;

    if (num->cv == NULL) {
        *v = num->value;
        return NGX_OK;
    }

    if (ngx_http_complex_value(r, num->cv, &val) != NGX_OK) {
        return NGX_ERROR;
    }

    n = parse(&val);

    if (n == NGX_ERROR) {
        return ngx_http_tunny_image_error(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid %s '%*s'", what,
                                          (size_t) ngx_min(val.len, 32),
                                          val.data);
    }

    *v = (ngx_uint_t) n;

    return NGX_OK;
}


/* "-" (any, 0) or 1..65535 */

ngx_int_t
ngx_http_tunny_image_dim(ngx_str_t *value)
{
    ngx_int_t  n;

    if (value->len == 1 && value->data[0] == '-') {
        return NGX_TUNNY_IMAGE_ANY;
    }

    n = ngx_atoi(value->data, value->len);

    if (n <= 0 || n > NGX_HTTP_TUNNY_IMAGE_MAX_DIM) {
        return NGX_ERROR;
    }

    return n;
}


/* 90, 180, 270; 0 only from a variable (no rotation) */

ngx_int_t
ngx_http_tunny_image_angle(ngx_str_t *value)
{
    ngx_int_t  n;

    n = ngx_atoi(value->data, value->len);

    if (n == 0 || n == 90 || n == 180 || n == 270) {
        return n;
    }

    return NGX_ERROR;
}


ngx_int_t
ngx_http_tunny_image_quality(ngx_str_t *value)
{
    ngx_int_t  n;

    n = ngx_atoi(value->data, value->len);

    if (n < 1 || n > 100) {
        return NGX_ERROR;
    }

    return n;
}


/*
 * tunny_image_format auto: of the types of tunny_image_formats, the one
 * the Accept header gives the highest q (the first of equal ones);
 * when none is accepted, the input's own type if the client takes it,
 * else JPEG.  AVIF and WebP count only when named with a q above 0:
 * "image/any" and "any/any" do not imply them (browsers that decode them
 * say so); JPEG and PNG may be taken by a range.  0: the input's type.
 */

static int
ngx_http_tunny_image_pick(ngx_http_request_t *r,
    ngx_http_tunny_image_conf_t *conf, int type)
{
    ngx_str_t               accept = ngx_string("Accept");
    ngx_uint_t              i, n, best;
    const char             *name;
    ngx_http_tunny_media_t  media[NGX_HTTP_TUNNY_IMAGE_NFORMATS + 1];

    n = conf->nformats;

    for (i = 0; i <= n; i++) {
        name = ngx_tunny_image_type_name(i < n ? conf->formats[i] : type);

        ngx_str_set(&media[i].type, "image");
        media[i].subtype.data = (u_char *) name;
        media[i].subtype.len = ngx_strlen(name);

        if (media[i].subtype.len == 0) {
            /* not an image type: it matches nothing */
            ngx_str_set(&media[i].subtype, "-");
        }
    }

    ngx_http_tunny_negotiate(r, &accept, media, n + 1);

    best = n;

    for (i = 0; i < n; i++) {
        if (ngx_http_tunny_image_accepted(&media[i], conf->formats[i])
            && (best == n || media[i].q > media[best].q))
        {
            best = i;
        }
    }

    if (best < n) {
        return conf->formats[best];
    }

    if ((type == NGX_TUNNY_IMAGE_WEBP || type == NGX_TUNNY_IMAGE_AVIF)
        && !ngx_http_tunny_image_accepted(&media[n], type))
    {
        return NGX_TUNNY_IMAGE_JPEG;
    }

    return 0;
}


static ngx_uint_t
ngx_http_tunny_image_accepted(ngx_http_tunny_media_t *m, int type)
{
    if (type == NGX_TUNNY_IMAGE_WEBP || type == NGX_TUNNY_IMAGE_AVIF) {
        return m->specificity == 3 && m->q > 0;
    }

    return m->specificity > 0 && m->q > 0;
}


/* the answer depends on Accept (tunny_image_format auto) */

ngx_int_t
ngx_http_tunny_image_vary_accept(ngx_http_request_t *r)
{
    return ngx_http_tunny_image_add_header(r, &ngx_http_tunny_image_vary,
                                           &ngx_http_tunny_image_accept);
}


static ngx_int_t
ngx_http_tunny_image_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *key;
    h->value = *value;
    h->lowcase_key = NULL;

    return NGX_OK;
}


/*
 * The reason behind a 4xx: "tunny_image: " + fmt, with anything that could
 * garble a log line replaced.  Returns status.
 */

ngx_int_t
ngx_http_tunny_image_error(ngx_http_request_t *r, ngx_int_t status,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;
    u_char    reason[256];

    p = ngx_cpymem(reason, "tunny_image: ", sizeof("tunny_image: ") - 1);

    va_start(args, fmt);
    last = ngx_vslprintf(p, reason + sizeof(reason) - 1, fmt, args);
    va_end(args);

    for ( /* void */ ; p < last; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '\\') {
            *p = '?';
        }
    }

    *last = '\0';

    ngx_http_tunny_set_error(r, (const char *) reason);

    return status;
}
