/*
 * ngx_tunny_module: tunny_image_upload, a content handler whose source
 * image is the request body (in memory or in a temporary file).  The body
 * goes into the same ctx->image as the filter's, then the filter's
 * decision and answer apply.  Everything here runs in the event loop.
 */


#include "ngx_http_tunny_image_common.h"


static void ngx_http_tunny_image_upload_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_tunny_image_upload_read(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);


/* tunny_image_upload: the source image is the request body */

ngx_int_t
ngx_http_tunny_image_upload_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_tunny_image_ctx_t   *ctx;
    ngx_http_tunny_image_conf_t  *conf;

    if (!(r->method & (NGX_HTTP_POST|NGX_HTTP_PUT))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    if (r->headers_in.content_length_n > (off_t) conf->buffer_size) {
        return ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "Content-Length %O exceeds tunny_image_buffer %uz",
                         r->headers_in.content_length_n, conf->buffer_size);
    }

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_TRANSFORM) {
        rc = ngx_http_tunny_admit(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx == NULL) {
        ctx = ngx_http_tunny_image_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->upload = 1;
    ctx->phase = NGX_HTTP_TUNNY_IMAGE_READ;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_tunny_image_upload_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_tunny_image_upload_body(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_tunny_image_ctx_t   *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_tunny_image_upload_read(r, ctx);

    if (rc == NGX_OK) {
        rc = ngx_http_tunny_image_decide(r, ctx);

        if (ctx->phase == NGX_HTTP_TUNNY_IMAGE_WAIT) {
            /* the job runs; the resume callback finalizes */
            return;
        }
    }

    ngx_http_finalize_request(r, rc);
}


/* the request body, in memory or in a temporary file, into ctx->image */

static ngx_int_t
ngx_http_tunny_image_upload_read(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    off_t                         size;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_chain_t                  *cl;
    ngx_http_tunny_image_conf_t  *conf;

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            size = b->file_last - b->file_pos;

            if (size > (off_t) (conf->buffer_size - ctx->len)) {
                return ngx_http_tunny_image_error(r,
                                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                       "body exceeds tunny_image_buffer %uz",
                                       conf->buffer_size);
            }

            if (size == 0) {
                continue;
            }

            /* make room, then read straight into the buffer */

            rc = ngx_http_tunny_image_reserve(r, ctx, (size_t) size);
            if (rc != NGX_OK) {
                return rc;
            }

            if (ngx_http_tunny_image_read_file(r, b->file,
                                               ctx->image + ctx->len,
                                               (size_t) size, b->file_pos)
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->len += (size_t) size;

            continue;
        }

        if (ngx_buf_in_memory(b) && b->last > b->pos) {
            rc = ngx_http_tunny_image_append(r, ctx, b->pos,
                                             b->last - b->pos);
            if (rc != NGX_AGAIN) {
                return rc;
            }
        }
    }

    return NGX_OK;
}
