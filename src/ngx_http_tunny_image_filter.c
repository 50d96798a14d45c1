/*
 * ngx_tunny_module: tunny_image, the header and body filters: hold the
 * header, copy the body, decide (pass, answer, or post the job), send the
 * answer.  Everything here runs in the event loop.
 */


#include "ngx_http_tunny_image_common.h"


#define NGX_HTTP_TUNNY_IMAGE_MIN_ALLOC   65536


static ngx_int_t ngx_http_tunny_image_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_tunny_image_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_tunny_image_start(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_tunny_image_read(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_tunny_image_file(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_buf_t *b);
static ngx_int_t ngx_http_tunny_image_file_rest(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_image_more(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);
static ngx_uint_t ngx_http_tunny_image_passes(ngx_http_request_t *r,
    ngx_http_tunny_image_conf_t *conf, int type);
static ngx_int_t ngx_http_tunny_image_send(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, u_char *pos, size_t len);
static ngx_int_t ngx_http_tunny_image_json(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_image_finalize(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_int_t status);
static void ngx_http_tunny_image_set_type(ngx_http_request_t *r, int type);
static void ngx_http_tunny_image_cleanup(void *data);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* postconfiguration */

ngx_int_t
ngx_http_tunny_image_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tunny_image_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_tunny_image_body_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_image_header_filter(ngx_http_request_t *r)
{
    off_t                         len;
    ngx_str_t                    *enc;
    ngx_http_tunny_image_ctx_t   *ctx;
    ngx_http_tunny_image_conf_t  *conf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx) {

        /*
         * our own answer from the upload handler, or an error response
         * after ngx_http_filter_finalize_request() or a status returned
         * from this filter (the glue's header filter adds Retry-After to
         * a 503): pass it
         */

        ctx->phase = NGX_HTTP_TUNNY_IMAGE_PASS;

        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.status != NGX_HTTP_OK
        || r->header_only
        || (r->method & NGX_HTTP_HEAD))
    {
        return ngx_http_next_header_filter(r);
    }

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_OFF) {
        return ngx_http_next_header_filter(r);
    }

    if (r->headers_out.content_type.len
            >= sizeof("multipart/x-mixed-replace") - 1
        && ngx_strncasecmp(r->headers_out.content_type.data,
                           (u_char *) "multipart/x-mixed-replace",
                           sizeof("multipart/x-mixed-replace") - 1)
           == 0)
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_tunny_image_create_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (r->headers_out.content_encoding
        && r->headers_out.content_encoding->hash
        && r->headers_out.content_encoding->value.len
        && !(r->headers_out.content_encoding->value.len == 8
             && ngx_strncasecmp(r->headers_out.content_encoding->value.data,
                                (u_char *) "identity", 8) == 0))
    {
        enc = &r->headers_out.content_encoding->value;

        (void) ngx_http_tunny_image_error(r, 0,
                         "Content-Encoding %*s not supported",
                         (size_t) ngx_min(enc->len, 32), enc->data);

        ngx_http_clean_header(r);

        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    len = r->headers_out.content_length_n;

    if (conf->mode != NGX_HTTP_TUNNY_IMAGE_TEST
        && len > (off_t) conf->buffer_size)
    {
        (void) ngx_http_tunny_image_error(r, 0,
                         "Content-Length %O exceeds tunny_image_buffer %uz",
                         len, conf->buffer_size);

        ngx_http_clean_header(r);

        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    if (r->headers_out.refresh) {
        r->headers_out.refresh->hash = 0;
    }

    /*
     * no r->main_filter_need_in_memory: with sendfile the copy filter
     * hands over a static file or a cache hit as a file buffer, of which
     * the loop reads only what the probe needs (ngx_http_tunny_image_file)
     */

    r->allow_ranges = 0;

    /* hold the header back until the body has been seen */

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_image_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                    rc;
    ngx_chain_t                 *cl;
    ngx_http_tunny_image_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_image_filter_module);

    if (ctx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tunny image filter phase:%ui in:%p", ctx->phase, in);

    switch (ctx->phase) {

    case NGX_HTTP_TUNNY_IMAGE_PASS:
        return ngx_http_next_body_filter(r, in);

    case NGX_HTTP_TUNNY_IMAGE_WAIT:

        /* the writer looks in while the job runs; nothing to send yet */

        for (cl = in; cl; cl = cl->next) {
            cl->buf->pos = cl->buf->last;
            cl->buf->file_pos = cl->buf->file_last;
        }

        return NGX_AGAIN;

    case NGX_HTTP_TUNNY_IMAGE_SEND:
        return ngx_http_tunny_image_answer(r, ctx);

    case NGX_HTTP_TUNNY_IMAGE_START:

        if (in == NULL) {
            return NGX_OK;
        }

        rc = ngx_http_tunny_image_start(r, ctx, in);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* fall through */

    default: /* NGX_HTTP_TUNNY_IMAGE_READ, NGX_HTTP_TUNNY_IMAGE_DISCARD */

        if (in == NULL) {
            return NGX_OK;
        }

        rc = ngx_http_tunny_image_read(r, ctx, in);

        if (rc == NGX_AGAIN) {
            r->buffered |= NGX_HTTP_TUNNY_IMAGE_BUFFERED;
            return NGX_OK;
        }

        if (rc != NGX_OK) {
            return ngx_http_tunny_image_finalize(r, ctx, rc);
        }

        return ngx_http_tunny_image_decide(r, ctx);
    }
}


/*
 * The first buffer decides cheaply what needs no copy: no image at all,
 * "test", and PNG/GIF that pass through.  NGX_DECLINED: read the body.
 */

static ngx_int_t
ngx_http_tunny_image_start(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_chain_t *in)
{
    int                           type;
    off_t                         n;
    u_char                       *p, head[32];
    ngx_buf_t                    *b;
    ngx_int_t                     rc;
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    ctx->phase = NGX_HTTP_TUNNY_IMAGE_READ;

    b = in->buf;
    p = b->pos;
    n = ngx_buf_in_memory(b) ? b->last - b->pos : 0;

    if (n == 0 && b->in_file) {
        /* the first bytes of a file buffer, for the sniff alone */

        p = head;
        n = ngx_min(b->file_last - b->file_pos, (off_t) sizeof(head));

        if (n > 0
            && ngx_http_tunny_image_read_file(r, b->file, head, (size_t) n,
                                              b->file_pos)
               != NGX_OK)
        {
            return ngx_http_tunny_image_finalize(r, ctx, NGX_ERROR);
        }
    }

    if (n < 16 && !(b->last_buf || b->last_in_chain)) {
        /* too little to tell; decide on the whole body */
        return NGX_DECLINED;
    }

    type = ngx_tunny_image_sniff(p, (size_t) n);

    if (type == NGX_TUNNY_IMAGE_NONE) {

        if (conf->mode == NGX_HTTP_TUNNY_IMAGE_SIZE) {
            ctx->phase = NGX_HTTP_TUNNY_IMAGE_DISCARD;
            return NGX_DECLINED;
        }

        /* let the read complete and decide: empty bodies land there */

        if (n == 0) {
            return NGX_DECLINED;
        }

        return ngx_http_tunny_image_finalize(r, ctx,
                   ngx_http_tunny_image_error(r,
                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                       "not an image (Content-Type: %*s)",
                       (size_t) ngx_min(r->headers_out.content_type.len, 64),
                       r->headers_out.content_type.data));
    }

    ctx->type = type;

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_SIZE) {
        return NGX_DECLINED;
    }

    if (ngx_http_tunny_image_passes(r, conf, type)) {

        /* as image_filter: the type of what is really sent */

        ngx_http_tunny_image_set_type(r, type);

        ngx_http_clear_accept_ranges(r);

        ctx->phase = NGX_HTTP_TUNNY_IMAGE_PASS;

        rc = ngx_http_next_header_filter(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return NGX_ERROR;
        }

        return ngx_http_next_body_filter(r, in);
    }

    /* JPEG or WebP to transform: refuse before the big buffer exists */

    rc = ngx_http_tunny_admit(r);

    if (rc != NGX_OK) {
        return ngx_http_tunny_image_finalize(r, ctx, rc);
    }

    return NGX_DECLINED;
}


/*
 * Test mode, or a type the library does not transform: the image goes
 * out as it came.  Called once per request, from start or decide.
 */

static ngx_uint_t
ngx_http_tunny_image_passes(ngx_http_request_t *r,
    ngx_http_tunny_image_conf_t *conf, int type)
{
    if (conf->mode != NGX_HTTP_TUNNY_IMAGE_TRANSFORM) {
        return 1;
    }

    if (ngx_tunny_image_transforms(type)) {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "tunny_image: %s image passed through unchanged",
                  ngx_tunny_image_type_name(type));

    return 1;
}


/* NGX_OK: last buffer seen; NGX_AGAIN: more to come; else a status */

static ngx_int_t
ngx_http_tunny_image_read(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_chain_t *in)
{
    size_t        size;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    rc = NGX_AGAIN;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            size = b->last - b->pos;
            ctx->received += size;

            if (size && ctx->phase == NGX_HTTP_TUNNY_IMAGE_READ) {
                rc = ngx_http_tunny_image_append(r, ctx, b->pos, size);
                if (rc != NGX_AGAIN) {
                    return rc;
                }
            }

            b->pos = b->last;

        } else if (b->in_file && b->file_last > b->file_pos) {
            ctx->received += b->file_last - b->file_pos;

            if (ctx->phase == NGX_HTTP_TUNNY_IMAGE_READ) {
                rc = ngx_http_tunny_image_file(r, ctx, b);
                if (rc != NGX_AGAIN) {
                    return rc;
                }
            }
        }

        b->file_pos = b->file_last;

        if (b->last_buf || b->last_in_chain) {
            r->buffered &= ~NGX_HTTP_TUNNY_IMAGE_BUFFERED;
            return NGX_OK;
        }
    }

    return ngx_http_tunny_image_more(r, ctx);
}


/*
 * A file buffer (sendfile on: a static file, a cache hit, a temporary
 * file of proxy buffering).  When it holds the whole body and more than
 * the probe needs, the loop reads only the prefix and keeps a dup() of
 * the descriptor: the pool thread reads the rest (ngx_http_tunny_image_run)
 * and the loop never copies the megabytes of a big photo.  Other file
 * buffers are read here, as the copy filter would.  NGX_AGAIN or a status.
 */

static ngx_int_t
ngx_http_tunny_image_file(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_buf_t *b)
{
    size_t     size, n;
    ngx_int_t  rc;

    size = (size_t) (b->file_last - b->file_pos);
    n = size;

    if (ctx->len == 0
        && ctx->file == NGX_INVALID_FILE
        && (b->last_buf || b->last_in_chain)
        && size > NGX_HTTP_TUNNY_IMAGE_PREFIX)
    {
        n = NGX_HTTP_TUNNY_IMAGE_PREFIX;
    }

    /* the buffer and the reservation hold the whole body */

    rc = ngx_http_tunny_image_reserve(r, ctx, size);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_tunny_image_read_file(r, b->file, ctx->image + ctx->len,
                                       n, b->file_pos)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->len += n;

    if (n == size) {
        return NGX_AGAIN;
    }

    ctx->file = dup(b->file->fd);

    if (ctx->file == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                      "tunny_image: dup() of \"%V\" failed", &b->file->name);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->file_pos = b->file_pos + n;
    ctx->file_rest = size - n;

    return NGX_AGAIN;
}


/* the loop reads the rest of a file-backed body after all: NGX_OK */

static ngx_int_t
ngx_http_tunny_image_file_rest(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    ngx_file_t  file;

    if (ctx->file == NGX_INVALID_FILE) {
        return NGX_OK;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = ctx->file;
    file.log = r->connection->log;
    ngx_str_set(&file.name, "image body");

    if (ngx_http_tunny_image_read_file(r, &file, ctx->image + ctx->len,
                                       ctx->file_rest, ctx->file_pos)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->len += ctx->file_rest;
    ctx->file_rest = 0;

    (void) ngx_close_file(ctx->file);
    ctx->file = NGX_INVALID_FILE;

    return NGX_OK;
}


/*
 * A chain without the last buffer: NGX_AGAIN, more is coming, unless the
 * upstream gave up on the body it promised ("upstream prematurely closed
 * connection", a read error or timeout, a bad chunk).  Then
 * ngx_http_upstream_finalize_request() has cleared u->cleanup and, the
 * header being sent as far as it knows (it is held here), it sends a flush
 * instead of the last buffer and finalizes the request with what this
 * filter returns: NGX_OK would leave the request in ngx_http_writer() until
 * send_timeout, holding the partial body.  The header is still ours, so
 * the client gets a 502 and the connection is closed.  u->header_sent
 * tells the upstream's own body from one that follows a finalized upstream
 * in the same request (error_page after proxy_intercept_errors keeps
 * r->upstream): only the former went through this header filter.
 */

static ngx_int_t
ngx_http_tunny_image_more(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    ngx_http_upstream_t  *u;

    u = r->upstream;

    if (u == NULL || !u->header_sent || u->cleanup != NULL) {
        return NGX_AGAIN;
    }

    if (r->headers_out.content_length_n >= 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tunny_image: upstream body incomplete: %O of %O bytes",
                      ctx->received, r->headers_out.content_length_n);

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tunny_image: upstream body incomplete: %O bytes "
                      "without its end", ctx->received);
    }

    return NGX_HTTP_BAD_GATEWAY;
}


/*
 * size bytes of file at offset into buf, in the event loop: NGX_OK, or
 * NGX_ERROR logged (ngx_read_file() logs a failed read, not a short one:
 * a file that shrank since it was opened)
 */

ngx_int_t
ngx_http_tunny_image_read_file(ngx_http_request_t *r, ngx_file_t *file,
    u_char *buf, size_t size, off_t offset)
{
    ssize_t  n;

    n = ngx_read_file(file, buf, size, offset);

    if (n == (ssize_t) size) {
        return NGX_OK;
    }

    if (n != NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tunny_image: read %z of %uz bytes at %O from \"%V\"",
                      n, size, offset, &file->name);
    }

    return NGX_ERROR;
}


/* room for size more bytes, within tunny_image_buffer */

ngx_int_t
ngx_http_tunny_image_reserve(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, size_t size)
{
    off_t                         clen;
    size_t                        need, alloc;
    u_char                       *image;
    ngx_int_t                     rc;
    ngx_http_tunny_image_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    if (size > conf->buffer_size - ctx->len) {
        return ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                   "body exceeds tunny_image_buffer %uz", conf->buffer_size);
    }

    need = ctx->len + size;

    if (need <= ctx->size) {
        return NGX_OK;
    }

    clen = ctx->upload ? r->headers_in.content_length_n
                       : r->headers_out.content_length_n;

    if (ctx->size == 0 && clen > 0 && (off_t) need <= clen) {
        alloc = (size_t) clen;

    } else {
        alloc = ngx_max(ctx->size * 2, NGX_HTTP_TUNNY_IMAGE_MIN_ALLOC);

        while (alloc < need) {
            alloc *= 2;
        }
    }

    if (alloc > conf->buffer_size) {
        alloc = conf->buffer_size;
    }

    /* the pool's memory budget holds the buffer too */

    rc = ngx_http_tunny_reserve(r, alloc - ctx->size);

    if (rc == NGX_DECLINED) {
        return ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                   "a body of %uz bytes exceeds the pool's max_memory",
                   alloc);
    }

    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_HTTP_INTERNAL_SERVER_ERROR : rc;
    }

    ctx->pcf = ngx_http_tunny_pool_conf(r);
    ctx->reserved += alloc - ctx->size;

    image = realloc(ctx->image, alloc);
    if (image == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "tunny_image: realloc(%uz) failed", alloc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->image = image;
    ctx->size = alloc;

    return NGX_OK;
}


ngx_int_t
ngx_http_tunny_image_append(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, u_char *p, size_t size)
{
    ngx_int_t  rc;

    rc = ngx_http_tunny_image_reserve(r, ctx, size);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memcpy(ctx->image + ctx->len, p, size);
    ctx->len += size;

    return NGX_AGAIN;
}


/* the whole body is in ctx->image: answer, or post the job */

ngx_int_t
ngx_http_tunny_image_decide(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_http_tunny_image_conf_t  *conf;
    char                          reason[NGX_MAX_ERROR_STR];

    conf = ngx_http_get_module_loc_conf(r, ngx_http_tunny_image_filter_module);

    if (ctx->phase == NGX_HTTP_TUNNY_IMAGE_DISCARD) {
        return ngx_http_tunny_image_json(r, ctx);
    }

    if (ctx->type == NGX_TUNNY_IMAGE_NONE) {
        /* start had too few bytes to tell, or this is an upload */
        ctx->type = ngx_tunny_image_sniff(ctx->image, ctx->len);
    }

    if (ctx->type == NGX_TUNNY_IMAGE_NONE) {

        if (conf->mode == NGX_HTTP_TUNNY_IMAGE_SIZE) {
            return ngx_http_tunny_image_json(r, ctx);
        }

        if (ctx->len == 0) {
            rc = ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                            "empty body");

        } else {
            rc = ngx_http_tunny_image_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                            "not an image");
        }

        return ngx_http_tunny_image_finalize(r, ctx, rc);
    }

    /*
     * the one probe of the header, now that the body is complete: for the
     * "size" answer, the max-pixels check, and the job, which answers a
     * failed probe with its reason
     */

    ctx->probed = (ngx_tunny_image_probe(ctx->image, ctx->len, &ctx->info)
                   == NGX_TUNNY_IMAGE_OK);

    if (!ctx->probed && ctx->file != NGX_INVALID_FILE) {
        /* a header longer than the prefix, or a bad one: all of it here */

        rc = ngx_http_tunny_image_file_rest(r, ctx);
        if (rc != NGX_OK) {
            return ngx_http_tunny_image_finalize(r, ctx, rc);
        }

        ctx->probed = (ngx_tunny_image_probe(ctx->image, ctx->len,
                                             &ctx->info)
                       == NGX_TUNNY_IMAGE_OK);
    }

    if (conf->mode == NGX_HTTP_TUNNY_IMAGE_SIZE) {
        return ngx_http_tunny_image_json(r, ctx);
    }

    if (ngx_http_tunny_image_passes(r, conf, ctx->type)) {
        rc = ngx_http_tunny_image_file_rest(r, ctx);
        if (rc != NGX_OK) {
            return ngx_http_tunny_image_finalize(r, ctx, rc);
        }

        ctx->asis = 1;
        ctx->phase = NGX_HTTP_TUNNY_IMAGE_SEND;

        return ngx_http_tunny_image_answer(r, ctx);
    }

    /* cheap checks in the loop: they need no job and no pool thread */

    if (ngx_tunny_image_check_pixels(&ctx->info, (uint64_t) conf->max_pixels,
                                     reason, sizeof(reason))
        != NGX_TUNNY_IMAGE_OK)
    {
        return ngx_http_tunny_image_finalize(r, ctx,
                   ngx_http_tunny_image_error(r,
                       NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "%s", reason));
    }

    rc = ngx_http_tunny_image_post(r, ctx);

    if (rc == NGX_OK) {
        ctx->phase = NGX_HTTP_TUNNY_IMAGE_WAIT;

        if (!ctx->upload) {
            r->buffered |= NGX_HTTP_TUNNY_IMAGE_BUFFERED;
        }

        return NGX_AGAIN;
    }

    return ngx_http_tunny_image_finalize(r, ctx, rc);
}


/* ctx->phase == SEND: the answer of a job, an "as is" or an error */

ngx_int_t
ngx_http_tunny_image_answer(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    if (ctx->status) {
        return ngx_http_tunny_image_finalize(r, ctx, ctx->status);
    }

    if (ctx->vary
        && ngx_http_tunny_image_vary_accept(r) != NGX_OK)
    {
        return ngx_http_tunny_image_finalize(r, ctx, NGX_ERROR);
    }

    if (ctx->asis) {
        ngx_http_tunny_image_set_type(r, ctx->type);
        return ngx_http_tunny_image_send(r, ctx, ctx->image, ctx->len);
    }

    ngx_http_tunny_image_set_type(r, ctx->out_type);
    ngx_http_weak_etag(r);

    return ngx_http_tunny_image_send(r, ctx, ctx->out, ctx->out_len);
}


static ngx_int_t
ngx_http_tunny_image_send(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, u_char *pos, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return ngx_http_tunny_image_finalize(r, ctx, NGX_ERROR);
    }

    b->pos = pos;
    b->last = pos + len;
    b->memory = len ? 1 : 0;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ngx_http_clear_accept_ranges(r);

    r->buffered &= ~NGX_HTTP_TUNNY_IMAGE_BUFFERED;
    ctx->phase = NGX_HTTP_TUNNY_IMAGE_PASS;

    if (ctx->upload) {
        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }

        return ngx_http_output_filter(r, &out);
    }

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    if (r->header_only) {
        return rc;
    }

    return ngx_http_next_body_filter(r, &out);
}


/* the answer of "tunny_image size", as image_filter gives it */

static ngx_int_t
ngx_http_tunny_image_json(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx)
{
    size_t   len;
    u_char  *p, *last;

    ngx_http_clean_header(r);

    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (!ctx->probed) {
        p = (u_char *) "{}" CRLF;
        return ngx_http_tunny_image_send(r, ctx, p, sizeof("{}" CRLF) - 1);
    }

    len = sizeof("{ \"img\" : "
                 "{ \"width\": , \"height\": , \"type\": \"\" } }" CRLF) - 1
          + 2 * NGX_INT_T_LEN + 8;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return ngx_http_tunny_image_finalize(r, ctx, NGX_ERROR);
    }

    last = ngx_snprintf(p, len,
                        "{ \"img\" : "
                        "{ \"width\": %ui, \"height\": %ui, \"type\": \"%s\""
                        " } }" CRLF,
                        (ngx_uint_t) ctx->info.width,
                        (ngx_uint_t) ctx->info.height,
                        ngx_tunny_image_type_name(ctx->info.type));

    return ngx_http_tunny_image_send(r, ctx, p, last - p);
}


/*
 * An error from inside the body filter: the header is still held, so the
 * error page replaces it.  NGX_ERROR stops the producer of the body, as in
 * image_filter.  The image buffers are released at once.
 */

static ngx_int_t
ngx_http_tunny_image_finalize(ngx_http_request_t *r,
    ngx_http_tunny_image_ctx_t *ctx, ngx_int_t status)
{
    r->buffered &= ~NGX_HTTP_TUNNY_IMAGE_BUFFERED;
    ctx->status = 0;

    ngx_http_tunny_image_cleanup(ctx);

    if (ctx->upload) {
        /* the upload handler finalizes the request itself */
        return status;
    }

    if (status == NGX_ERROR || status < NGX_HTTP_SPECIAL_RESPONSE) {
        ctx->phase = NGX_HTTP_TUNNY_IMAGE_PASS;
        return NGX_ERROR;
    }

    /*
     * the rest of the source body is dropped and the connection closed
     * after the error page: say so in its header, or a keep-alive client
     * sends its next request into a closing connection
     */

    r->keepalive = 0;

    return ngx_http_filter_finalize_request(r,
                                         &ngx_http_tunny_image_filter_module,
                                         status);
}


static void
ngx_http_tunny_image_set_type(ngx_http_request_t *r, int type)
{
    const char  *mime;

    mime = ngx_tunny_image_mime_type(type);

    if (mime == NULL || *mime == '\0') {
        return;
    }

    r->headers_out.content_type.data = (u_char *) mime;
    r->headers_out.content_type.len = ngx_strlen(mime);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;
}


ngx_http_tunny_image_ctx_t *
ngx_http_tunny_image_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_tunny_image_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tunny_image_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_tunny_image_cleanup;
    cln->data = ctx;

    ctx->file = NGX_INVALID_FILE;

    ngx_http_set_ctx(r, ctx, ngx_http_tunny_image_filter_module);

    return ctx;
}


static void
ngx_http_tunny_image_cleanup(void *data)
{
    ngx_http_tunny_image_ctx_t  *ctx = data;

    if (ctx->image) {
        ngx_free(ctx->image);
        ctx->image = NULL;
        ctx->len = 0;
        ctx->size = 0;
    }

    if (ctx->out) {
        ngx_free(ctx->out);
        ctx->out = NULL;
        ctx->out_len = 0;
    }

    if (ctx->file != NGX_INVALID_FILE) {
        (void) ngx_close_file(ctx->file);
        ctx->file = NGX_INVALID_FILE;
        ctx->file_rest = 0;
    }

    if (ctx->reserved) {
        ngx_http_tunny_release(ctx->pcf, ctx->reserved);
        ctx->reserved = 0;
    }
}
