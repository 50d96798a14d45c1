/*
 * ngx_tunny_module: the tunny_image module: its directives, its location
 * configuration and the installation of its filters.  Everything here runs
 * at configuration time.
 */


#include "ngx_http_tunny_image_common.h"


static void *ngx_http_tunny_image_create_conf(ngx_conf_t *cf);
static char *ngx_http_tunny_image_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tunny_image(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tunny_image_compile(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_tunny_image_num_t *num, ngx_int_t (*parse)(ngx_str_t *value),
    const char *invalid);
static char *ngx_http_tunny_image_quality_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_tunny_image_background(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_tunny_image_upload(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tunny_image_formats_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_tunny_image_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_tunny_image_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_tunny_image_fast_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_conf_enum_t  ngx_http_tunny_image_formats[] = {
    { ngx_string("original"), NGX_HTTP_TUNNY_IMAGE_ORIGINAL },
    { ngx_string("jpeg"), NGX_HTTP_TUNNY_IMAGE_JPEG },
    { ngx_string("webp"), NGX_HTTP_TUNNY_IMAGE_WEBP },
    { ngx_string("png"), NGX_HTTP_TUNNY_IMAGE_PNG },
    { ngx_string("avif"), NGX_HTTP_TUNNY_IMAGE_AVIF },
    { ngx_string("auto"), NGX_HTTP_TUNNY_IMAGE_AUTO },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_tunny_image_colours[] = {
    { ngx_string("srgb"), NGX_TUNNY_IMAGE_COLOUR_SRGB },
    { ngx_string("keep"), NGX_TUNNY_IMAGE_COLOUR_KEEP },
    { ngx_string("strip"), NGX_TUNNY_IMAGE_COLOUR_STRIP },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_http_tunny_image_sharpen_bounds = {
    ngx_conf_check_num_bounds, 0, 1000
};


static ngx_conf_num_bounds_t  ngx_http_tunny_image_png_compression_bounds = {
    ngx_conf_check_num_bounds, 0, 9
};


static ngx_conf_num_bounds_t  ngx_http_tunny_image_avif_speed_bounds = {
    ngx_conf_check_num_bounds, 0, 10
};


static ngx_conf_num_bounds_t  ngx_http_tunny_image_max_pixels_bounds = {
    ngx_conf_check_num_bounds, 1, -1
};


static ngx_conf_num_bounds_t  ngx_http_tunny_image_max_frames_bounds = {
    ngx_conf_check_num_bounds, 0, NGX_TUNNY_IMAGE_FRAMES_CAP
};


static ngx_command_t  ngx_http_tunny_image_filter_commands[] = {

    { ngx_string("tunny_image"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_tunny_image,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_image_format"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, format),
      &ngx_http_tunny_image_formats },

    { ngx_string("tunny_image_jpeg_quality"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_image_quality_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, jpeg_quality),
      NULL },

    { ngx_string("tunny_image_webp_quality"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_image_quality_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, webp_quality),
      NULL },

    { ngx_string("tunny_image_png_compression"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, png_compression),
      &ngx_http_tunny_image_png_compression_bounds },

    { ngx_string("tunny_image_fast"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, fast),
      NULL },

    { ngx_string("tunny_image_avif_quality"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_image_quality_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, avif_quality),
      NULL },

    { ngx_string("tunny_image_avif_speed"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, avif_speed),
      &ngx_http_tunny_image_avif_speed_bounds },

    { ngx_string("tunny_image_formats"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_tunny_image_formats_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("tunny_image_interlace"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, interlace),
      NULL },

    { ngx_string("tunny_image_sharpen"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, sharpen),
      &ngx_http_tunny_image_sharpen_bounds },

    { ngx_string("tunny_image_colour"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, colour),
      &ngx_http_tunny_image_colours },

    { ngx_string("tunny_image_background"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_tunny_image_background,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, background),
      NULL },

    { ngx_string("tunny_image_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, buffer_size),
      NULL },

    { ngx_string("tunny_image_max_pixels"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, max_pixels),
      &ngx_http_tunny_image_max_pixels_bounds },

    { ngx_string("tunny_image_max_frames"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_tunny_image_conf_t, max_frames),
      &ngx_http_tunny_image_max_frames_bounds },

    { ngx_string("tunny_image_upload"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tunny_image_upload,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_tunny_image_filter_module_ctx = {
    ngx_http_tunny_image_add_variables,    /* preconfiguration */
    ngx_http_tunny_image_init,             /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_tunny_image_create_conf,      /* create location configuration */
    ngx_http_tunny_image_merge_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_tunny_image_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_tunny_image_filter_module_ctx, /* module context */
    ngx_http_tunny_image_filter_commands,  /* module directives */
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
ngx_http_tunny_image_create_conf(ngx_conf_t *cf)
{
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tunny_image_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->ops = 0;
     *     conf->width = { 0, NULL };
     *     conf->height = { 0, NULL };
     *     conf->angle = { 0, NULL };
     *     conf->jpeg_quality.cv = NULL;
     *     conf->webp_quality.cv = NULL;
     *     conf->avif_quality.cv = NULL;
     *     conf->nformats = 0;
     */

    conf->mode = NGX_CONF_UNSET_UINT;
    conf->format = NGX_CONF_UNSET_UINT;
    conf->jpeg_quality.value = NGX_CONF_UNSET_UINT;
    conf->webp_quality.value = NGX_CONF_UNSET_UINT;
    conf->png_compression = NGX_CONF_UNSET;
    conf->avif_quality.value = NGX_CONF_UNSET_UINT;
    conf->avif_speed = NGX_CONF_UNSET;
    conf->interlace = NGX_CONF_UNSET;
    conf->fast = NGX_CONF_UNSET;
    conf->sharpen = NGX_CONF_UNSET;
    conf->colour = NGX_CONF_UNSET_UINT;
    conf->background = NGX_CONF_UNSET_UINT;
    conf->buffer_size = NGX_CONF_UNSET_SIZE;
    conf->max_pixels = NGX_CONF_UNSET;
    conf->max_frames = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_tunny_image_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tunny_image_conf_t *prev = parent;
    ngx_http_tunny_image_conf_t *conf = child;

    if (conf->mode == NGX_CONF_UNSET_UINT) {

        if (prev->mode == NGX_CONF_UNSET_UINT) {
            conf->mode = NGX_HTTP_TUNNY_IMAGE_OFF;

        } else {
            conf->mode = prev->mode;
            conf->ops = prev->ops;
            conf->width = prev->width;
            conf->height = prev->height;
            conf->angle = prev->angle;
        }
    }

    ngx_conf_merge_uint_value(conf->format, prev->format,
                              NGX_HTTP_TUNNY_IMAGE_ORIGINAL);
    if (conf->jpeg_quality.value == NGX_CONF_UNSET_UINT) {

        /* 75 is libjpeg's default quality */

        conf->jpeg_quality.cv = prev->jpeg_quality.cv;
        ngx_conf_merge_uint_value(conf->jpeg_quality.value,
                                  prev->jpeg_quality.value, 75);
    }

    if (conf->webp_quality.value == NGX_CONF_UNSET_UINT) {

        /* 80 is libwebp's default quality */

        conf->webp_quality.cv = prev->webp_quality.cv;
        ngx_conf_merge_uint_value(conf->webp_quality.value,
                                  prev->webp_quality.value, 80);
    }

    /* zlib level: see README, "PNG compression" for the measurement */
    ngx_conf_merge_value(conf->png_compression, prev->png_compression,
                         6);

    if (conf->avif_quality.value == NGX_CONF_UNSET_UINT) {

        /* see README, "AVIF": sizes and quality measured */

        conf->avif_quality.cv = prev->avif_quality.cv;
        ngx_conf_merge_uint_value(conf->avif_quality.value,
                                  prev->avif_quality.value, 63);
    }

    /* libaom effort: see README, "AVIF", CPU time per megapixel */
    ngx_conf_merge_value(conf->avif_speed, prev->avif_speed, 8);

    if (conf->nformats == 0) {
        conf->nformats = prev->nformats;
        ngx_memcpy(conf->formats, prev->formats, sizeof(conf->formats));
    }

    if (conf->nformats == 0) {
        /* today's configurations keep their output */
        conf->formats[0] = NGX_TUNNY_IMAGE_WEBP;
        conf->nformats = 1;
    }

    if (conf->format == NGX_HTTP_TUNNY_IMAGE_AVIF
        && !ngx_tunny_image_encodes(NGX_TUNNY_IMAGE_AVIF))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tunny_image_format avif\": ngx_tunny_module "
                           "was built without libavif");
        return NGX_CONF_ERROR;
    }

    ngx_conf_merge_value(conf->interlace, prev->interlace, 0);
    ngx_conf_merge_value(conf->fast, prev->fast, 1);
    ngx_conf_merge_value(conf->sharpen, prev->sharpen, 0);

    /* sRGB without a profile, as sharp and imgproxy: see README */
    ngx_conf_merge_uint_value(conf->colour, prev->colour,
                              NGX_TUNNY_IMAGE_COLOUR_SRGB);

    /* white, as image_filter without transparency */
    ngx_conf_merge_uint_value(conf->background, prev->background,
                              NGX_TUNNY_IMAGE_BG_SET | 0xffffff);
    ngx_conf_merge_size_value(conf->buffer_size, prev->buffer_size,
                              10 * 1024 * 1024);
    ngx_conf_merge_value(conf->max_pixels, prev->max_pixels, 50000000);

    /* animations to animated WebP: see README, "Animations" */
    ngx_conf_merge_value(conf->max_frames, prev->max_frames, 200);

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_image(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tunny_image_conf_t *imcf = conf;

    char       *rv;
    ngx_str_t  *value;
    ngx_uint_t  op, mask;

    value = cf->args->elts;

    if (cf->args->nelts == 2) {

        if (ngx_strcmp(value[1].data, "off") == 0) {
            imcf->mode = NGX_HTTP_TUNNY_IMAGE_OFF;

        } else if (ngx_strcmp(value[1].data, "test") == 0) {
            imcf->mode = NGX_HTTP_TUNNY_IMAGE_TEST;

        } else if (ngx_strcmp(value[1].data, "size") == 0) {
            imcf->mode = NGX_HTTP_TUNNY_IMAGE_SIZE;

        } else {
            goto invalid;
        }

        imcf->ops = 0;

        return NGX_CONF_OK;
    }

    if (cf->args->nelts == 3) {

        if (ngx_strcmp(value[1].data, "rotate") != 0) {
            goto invalid;
        }

        rv = ngx_http_tunny_image_compile(cf, &value[2], &imcf->angle,
                                          ngx_http_tunny_image_angle,
                                          "invalid value \"%V\"");
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        if (imcf->angle.cv == NULL && imcf->angle.value == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid angle \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        op = NGX_TUNNY_IMAGE_OP_ROTATE;
        mask = op;

    } else {

        if (ngx_strcmp(value[1].data, "resize") == 0) {
            op = NGX_TUNNY_IMAGE_OP_RESIZE;

        } else if (ngx_strcmp(value[1].data, "crop") == 0) {
            op = NGX_TUNNY_IMAGE_OP_CROP;

        } else {
            goto invalid;
        }

        rv = ngx_http_tunny_image_compile(cf, &value[2], &imcf->width,
                                          ngx_http_tunny_image_dim,
                                          "invalid value \"%V\"");
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        rv = ngx_http_tunny_image_compile(cf, &value[3], &imcf->height,
                                          ngx_http_tunny_image_dim,
                                          "invalid value \"%V\"");
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        /* resize and crop exclude each other */
        mask = NGX_TUNNY_IMAGE_OP_RESIZE|NGX_TUNNY_IMAGE_OP_CROP;
    }

    /* rotate combines with resize or crop, as in image_filter */

    if (imcf->mode != NGX_HTTP_TUNNY_IMAGE_TRANSFORM) {
        imcf->ops = 0;
    }

    imcf->mode = NGX_HTTP_TUNNY_IMAGE_TRANSFORM;
    imcf->ops = (imcf->ops & ~mask) | op;

    ngx_http_tunny_use_pool(cf);

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[1]);

    return NGX_CONF_ERROR;
}


/*
 * A constant is checked and stored now, a value with variables is parsed
 * per request; invalid: the message for a bad constant, with one %V.
 */

static char *
ngx_http_tunny_image_compile(ngx_conf_t *cf, ngx_str_t *value,
    ngx_http_tunny_image_num_t *num, ngx_int_t (*parse)(ngx_str_t *value),
    const char *invalid)
{
    ngx_int_t                          n;
    ngx_http_complex_value_t           cv;
    ngx_http_compile_complex_value_t   ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = &cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cv.lengths == NULL) {
        n = parse(value);

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, invalid, value);
            return NGX_CONF_ERROR;
        }

        num->value = (ngx_uint_t) n;
        num->cv = NULL;

        return NGX_CONF_OK;
    }

    num->value = 0;

    num->cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (num->cv == NULL) {
        return NGX_CONF_ERROR;
    }

    *num->cv = cv;

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_image_quality_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t                   *value;
    ngx_http_tunny_image_num_t  *q;

    q = (ngx_http_tunny_image_num_t *) (p + cmd->offset);

    if (q->value != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_tunny_image_compile(cf, &value[1], q,
                                        ngx_http_tunny_image_quality,
                                        "invalid quality \"%V\", "
                                        "must be 1..100");
}


/*
 * tunny_image_background RRGGBB | RGB, hex, with an optional "#" (which
 * starts a comment in nginx.conf unless the value is quoted)
 */

static char *
ngx_http_tunny_image_background(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_int_t    n;
    ngx_str_t   *value, hex;
    ngx_uint_t  *bg;

    bg = (ngx_uint_t *) (p + cmd->offset);

    if (*bg != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    hex = value[1];

    if (hex.len && hex.data[0] == '#') {
        hex.data++;
        hex.len--;
    }

    n = NGX_ERROR;

    if (hex.len == 3 || hex.len == 6) {
        n = ngx_hextoi(hex.data, hex.len);
    }

    if (n == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid colour \"%V\", must be RRGGBB or RGB "
                           "in hex (\"#RRGGBB\" quoted)", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (hex.len == 3) {
        /* abc is aabbcc */
        n = ((n >> 8) & 0xf) * 0x110000 + ((n >> 4) & 0xf) * 0x1100
            + (n & 0xf) * 0x11;
    }

    *bg = NGX_TUNNY_IMAGE_BG_SET | (ngx_uint_t) n;

    return NGX_CONF_OK;
}


static char *
ngx_http_tunny_image_upload(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_tunny_image_upload_handler;

    ngx_http_tunny_use_pool(cf);

    return NGX_CONF_OK;
}


/*
 * $tunny_image_fast: the exact shortcuts the image job took
 * (NGX_TUNNY_IMAGE_FAST_*, in the order of their bits), joined by ",":
 * "dc", "region", "inflate", "deflate"; empty when none
 */

static ngx_str_t  ngx_http_tunny_image_fast_names[] = {
    ngx_string("dc"),
    ngx_string("region"),
    ngx_string("inflate"),
    ngx_string("deflate")
};


static ngx_int_t
ngx_http_tunny_image_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;
    static ngx_str_t      name = ngx_string("tunny_image_fast");

    var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_tunny_image_fast_variable;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_image_fast_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   i, fast;
    ngx_http_tunny_image_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    fast = ctx ? ctx->fast & NGX_TUNNY_IMAGE_FAST_ALL : 0;

    len = 0;

    for (i = 0; i < sizeof(ngx_http_tunny_image_fast_names)
                    / sizeof(ngx_str_t); i++)
    {
        if (fast & (1 << i)) {
            len += ngx_http_tunny_image_fast_names[i].len + 1;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; i < sizeof(ngx_http_tunny_image_fast_names)
                    / sizeof(ngx_str_t); i++)
    {
        if (fast & (1 << i)) {
            if (p != v->data) {
                *p++ = ',';
            }

            p = ngx_copy(p, ngx_http_tunny_image_fast_names[i].data,
                         ngx_http_tunny_image_fast_names[i].len);
        }
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = (v->len == 0);     /* "-" in a log, as $tunny_error */

    return NGX_OK;
}


/*
 * tunny_image_formats avif webp jpeg png: the types tunny_image_format
 * auto may answer with, in the order of preference for equal q-values
 */

static char *
ngx_http_tunny_image_formats_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_tunny_image_conf_t *imcf = conf;

    int          type;
    ngx_str_t   *value;
    ngx_uint_t   i, j;

    if (imcf->nformats != 0) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "avif") == 0) {
            type = NGX_TUNNY_IMAGE_AVIF;

        } else if (ngx_strcmp(value[i].data, "webp") == 0) {
            type = NGX_TUNNY_IMAGE_WEBP;

        } else if (ngx_strcmp(value[i].data, "jpeg") == 0) {
            type = NGX_TUNNY_IMAGE_JPEG;

        } else if (ngx_strcmp(value[i].data, "png") == 0) {
            type = NGX_TUNNY_IMAGE_PNG;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid format \"%V\" (avif, webp, jpeg, "
                               "png)", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (!ngx_tunny_image_encodes(type)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "format \"%V\": ngx_tunny_module was built "
                               "without libavif", &value[i]);
            return NGX_CONF_ERROR;
        }

        for (j = 0; j < imcf->nformats; j++) {
            if (imcf->formats[j] == type) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "format \"%V\" is given twice",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        imcf->formats[imcf->nformats++] = type;
    }

    return NGX_CONF_OK;
}


/* postconfiguration: the per-thread state key, then the filters */

static ngx_int_t
ngx_http_tunny_image_init(ngx_conf_t *cf)
{
    if (ngx_http_tunny_image_job_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_tunny_image_filter_init(cf);
}
