/*
 * ngx_tunny_module: tunny_compress, the filters: the header held until
 * the first chunk decides, the body cut into chunks (fill), the tasks'
 * output into the output buffers (drain) and on (push), the encoder's
 * start, the uncompressed fallback and the compressed header.  Event
 * loop only.
 */

#include "ngx_http_tunny_compress_common.h"


static ngx_int_t ngx_http_tunny_compress_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_tunny_compress_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_tunny_compress_fill(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);
static ngx_int_t ngx_http_tunny_compress_drain(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_tunny_compress_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_tunny_compress_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_tunny_compress_body_filter;

    return NGX_OK;
}


/* header and body filters (loop) ----------------------------------------- */

static ngx_int_t
ngx_http_tunny_compress_header_filter(ngx_http_request_t *r)
{
    ngx_int_t                        encoding;
    ngx_uint_t                       st;
    ngx_pool_cleanup_t              *cln;
    ngx_http_tunny_compress_ctx_t   *ctx;
    ngx_http_tunny_compress_conf_t  *conf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_compress_filter_module);

    if (ctx) {
        /* an error page after the header was held: it goes out as is */
        ctx->phase = NGX_HTTP_TUNNY_COMPRESS_PASS;
        r->connection->buffered &= ~NGX_HTTP_TUNNY_COMPRESS_BUFFERED;
        return ngx_http_next_header_filter(r);
    }

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    st = r->headers_out.status;

    if (!conf->enable
        || r != r->main
        || r->header_only
        || (st != NGX_HTTP_OK && st != NGX_HTTP_FORBIDDEN
            && st != NGX_HTTP_NOT_FOUND)
        || (r->headers_out.content_encoding
            && r->headers_out.content_encoding->value.len)
        || (r->headers_out.content_length_n != -1
            && r->headers_out.content_length_n < conf->min_length)
        || ngx_http_test_content_type(r, &conf->types) == NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    /* a range of the identity: the range filter answers it */

    if (r->headers_in.range && r->allow_ranges
        && r->headers_out.content_length_n != -1)
    {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_tunny_compress_vary(r) != NGX_OK) {
        return NGX_ERROR;
    }

    /* HEAD: the body would be compressed to be thrown away */

    encoding = (r->method & NGX_HTTP_HEAD)
               ? NGX_DECLINED : ngx_http_tunny_compress_negotiate(r, conf);

    if (encoding == NGX_DECLINED) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_tunny_compress_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_tunny_compress_cleanup;
    cln->data = ctx;

    ctx->phase = NGX_HTTP_TUNNY_COMPRESS_HOLD;
    ctx->last_out = &ctx->out;

    ctx->params.encoding = (int) encoding;
    ctx->params.level = (int) conf->level[encoding];

    if (encoding == NGX_TUNNY_COMPRESS_BROTLI) {
        for (ctx->params.window_bits = 10;
             ((size_t) 1 << ctx->params.window_bits) < conf->brotli_window;
             ctx->params.window_bits++)
        {
            /* void */
        }
    }

    if (r->headers_out.content_length_n > 0) {
        ctx->params.size_hint = (uint64_t) r->headers_out.content_length_n;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_tunny_compress_filter_module);

    r->main_filter_need_in_memory = 1;

    /* hold the header back until the first chunk decides */

    return NGX_OK;
}


static ngx_int_t
ngx_http_tunny_compress_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_tunny_compress_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tunny_compress_filter_module);

    if (ctx == NULL || ctx->phase == NGX_HTTP_TUNNY_COMPRESS_PASS
        || ctx->phase == NGX_HTTP_TUNNY_COMPRESS_DONE)
    {
        return ngx_http_next_body_filter(r, in);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tunny compress filter phase:%ui in:%p posted:%d",
                   ctx->phase, in, ctx->posted);

    if (in) {
        if (ngx_chain_add_copy(r->pool, &ctx->in, in) != NGX_OK) {
            return NGX_ERROR;
        }

        r->connection->buffered |= NGX_HTTP_TUNNY_COMPRESS_BUFFERED;
    }

    return ngx_http_tunny_compress_push(r, ctx);
}


/*
 * Move everything as far as it goes: the last task's output into the
 * output buffers and on to the next filter, the input into the chunk, the
 * chunk to the pool.  NGX_AGAIN while something is held, NGX_OK when all
 * has gone through, NGX_ERROR.
 */

ngx_int_t
ngx_http_tunny_compress_push(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    ngx_int_t                        rc, drained;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    for ( ;; ) {

        if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_PASS) {
            /* the fallback sent all; the writer drives what is left */
            return NGX_OK;
        }

        drained = ngx_http_tunny_compress_drain(r, ctx);

        if (drained == NGX_ERROR) {
            return NGX_ERROR;
        }

        /*
         * as the postpone filter above does: no empty call down unless a
         * filter below holds something (the write filter would complain)
         */

        if (ctx->out
            || (r->connection->buffered & ~NGX_HTTP_TUNNY_COMPRESS_BUFFERED))
        {
            rc = ngx_http_next_body_filter(r, ctx->out);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy,
                                    &ctx->out,
                                    (ngx_buf_tag_t)
                                        &ngx_http_tunny_compress_filter_module);
            ctx->last_out = &ctx->out;

            if (drained == NGX_AGAIN && ctx->free) {
                continue;
            }
        }

        if (drained == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_DONE) {
            ngx_http_tunny_compress_release(ctx);
            r->connection->buffered &= ~NGX_HTTP_TUNNY_COMPRESS_BUFFERED;
            ngx_http_tunny_count_bytes(r, (size_t) ctx->bytes_in,
                                       (size_t) ctx->bytes_out);
            return ctx->busy ? NGX_AGAIN : NGX_OK;
        }

        /* the output is out; take input, unless the first chunk waits */

        if (ctx->phase == NGX_HTTP_TUNNY_COMPRESS_FIRST) {
            return NGX_AGAIN;
        }

        if (ngx_http_tunny_compress_fill(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }

        /* posting waits while the output waits in all the buffers */

        if (!ctx->sealed || ctx->posted
            || (ctx->bufs >= conf->bufs.num && ctx->free == NULL))
        {
            return (ctx->posted || ctx->in || ctx->busy || ctx->sealed)
                   ? NGX_AGAIN : NGX_OK;
        }

        rc = ngx_http_tunny_compress_post(r, ctx);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            /* the response went out uncompressed */
            return NGX_OK;
        }

        /* posted: fill the next chunk meanwhile */
    }
}


/* input into the chunk, until it is full or a flush or the end seals it */

static ngx_int_t
ngx_http_tunny_compress_fill(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    size_t                           n;
    ngx_buf_t                       *b;
    ngx_chain_t                     *cl;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    while (ctx->in && !ctx->sealed) {
        b = ctx->in->buf;

        if (ngx_buf_size(b) && !ngx_buf_in_memory(b)) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "tunny_compress: a file buffer reached the filter");
            return NGX_ERROR;
        }

        if (ctx->chunk == NULL) {
            ctx->chunk = ngx_http_tunny_compress_buffer(r, ctx);
            if (ctx->chunk == NULL) {
                return NGX_ERROR;
            }
        }

        if (ngx_buf_in_memory(b)) {
            n = ngx_min((size_t) (b->last - b->pos),
                        conf->chunk - ctx->chunk_len);

            ngx_memcpy(ctx->chunk + ctx->chunk_len, b->pos, n);

            ctx->chunk_len += n;
            ctx->bytes_in += n;
            b->pos += n;

            if (b->in_file) {
                b->file_pos = b->file_last;
            }
        }

        if (!ngx_buf_in_memory(b) || b->pos == b->last) {

            if (b->last_buf) {
                ctx->chunk_end = NGX_TUNNY_COMPRESS_FINISH;
                ctx->sealed = 1;

            } else if (b->flush) {
                ctx->chunk_end = NGX_TUNNY_COMPRESS_FLUSH;
                ctx->sealed = 1;
            }

            cl = ctx->in;
            ctx->in = cl->next;
            ngx_free_chain(r->pool, cl);
        }

        if (!ctx->sealed && ctx->chunk_len == conf->chunk) {
            ctx->chunk_end = NGX_TUNNY_COMPRESS_PROCESS;
            ctx->sealed = 1;
        }
    }

    return NGX_OK;
}


/* a chunk buffer (tunny_compress_chunk bytes): the spare one, or a new one */

u_char *
ngx_http_tunny_compress_buffer(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    u_char                          *p;
    ngx_http_tunny_compress_conf_t  *conf;

    if (ctx->spare) {
        p = ctx->spare;
        ctx->spare = NULL;
        return p;
    }

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    return ngx_alloc(conf->chunk, r->connection->log);
}


/*
 * The last task's output into the output buffers; its flush or end goes
 * on the last of them.  NGX_OK (all taken), NGX_AGAIN (no free buffer),
 * NGX_ERROR.
 */

static ngx_int_t
ngx_http_tunny_compress_drain(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    size_t                           n;
    ngx_buf_t                       *b;
    ngx_chain_t                     *cl;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    b = NULL;

    while (ctx->res_pos < ctx->res.len) {

        if (ctx->free) {
            cl = ctx->free;
            ctx->free = cl->next;
            b = cl->buf;
            b->flush = 0;

        } else if (ctx->bufs < conf->bufs.num) {
            b = ngx_create_temp_buf(r->pool, conf->bufs.size);
            if (b == NULL) {
                return NGX_ERROR;
            }

            b->tag = (ngx_buf_tag_t) &ngx_http_tunny_compress_filter_module;
            b->recycled = 1;
            ctx->bufs++;

            cl = ngx_alloc_chain_link(r->pool);
            if (cl == NULL) {
                return NGX_ERROR;
            }

            cl->buf = b;

        } else {
            return NGX_AGAIN;
        }

        n = ngx_min((size_t) (b->end - b->last), ctx->res.len - ctx->res_pos);

        b->last = ngx_cpymem(b->last, ctx->res.data + ctx->res_pos, n);
        ctx->res_pos += n;
        ctx->bytes_out += n;

        cl->next = NULL;
        *ctx->last_out = cl;
        ctx->last_out = &cl->next;
    }

    if (ctx->marked || ctx->res_end == NGX_TUNNY_COMPRESS_PROCESS) {
        return NGX_OK;
    }

    /* a flush or the end: on the last output buffer, or an empty one */

    if (b == NULL) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = NULL;
        *ctx->last_out = cl;
        ctx->last_out = &cl->next;
    }

    if (ctx->res_end == NGX_TUNNY_COMPRESS_FINISH) {
        b->last_buf = 1;
        ctx->phase = NGX_HTTP_TUNNY_COMPRESS_DONE;

    } else {
        b->flush = 1;
    }

    ctx->marked = 1;

    return NGX_OK;
}


/*
 * The first chunk: a short whole body passes, otherwise the memory is
 * reserved and the encoder made.  NGX_OK, NGX_DECLINED (passed
 * uncompressed), NGX_ERROR.
 */

ngx_int_t
ngx_http_tunny_compress_start(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    size_t                           size, memory;
    ngx_int_t                        rc;
    ngx_http_tunny_compress_conf_t  *conf;

    conf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_tunny_compress_filter_module);

    if (ctx->chunk_end == NGX_TUNNY_COMPRESS_FINISH
        && ctx->chunk_len < (size_t) conf->min_length)
    {
        return ngx_http_tunny_compress_fallback(r, ctx, NULL);
    }

    if (ctx->params.size_hint == 0
        && ctx->chunk_end == NGX_TUNNY_COMPRESS_FINISH)
    {
        /* the whole body is in the first chunk: its size is known now */
        ctx->params.size_hint = ctx->chunk_len;
    }

    memory = ngx_tunny_compress_memory(&ctx->params);

    /* the encoder, two chunks, the task's output, the output buffers */

    size = memory + 4 * conf->chunk + conf->bufs.num * conf->bufs.size;

    rc = ngx_http_tunny_reserve(r, size);

    if (rc != NGX_OK) {
        return ngx_http_tunny_compress_fallback(r, ctx,
                                                rc == NGX_DECLINED
                                                ? "more than max_memory"
                                                : "memory budget refused");
    }

    ctx->pcf = ngx_http_tunny_pool_conf(r);
    ctx->reserved = size;

    if (ngx_tunny_compress_create(&ctx->params, &ctx->enc)
        != NGX_TUNNY_COMPRESS_OK)
    {
        ngx_http_tunny_release(ctx->pcf, ctx->reserved);
        ctx->reserved = 0;

        return ngx_http_tunny_compress_fallback(r, ctx,
                                                "the encoder failed to start");
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "tunny compress start %s level:%d window:%ud "
                   "reserved:%uz",
                   ngx_tunny_compress_name(ctx->params.encoding),
                   ctx->params.level,
                   ngx_tunny_compress_window(&ctx->params), size);

    return NGX_OK;
}


/*
 * Before the first compressed byte: the original header, the first chunk
 * and the rest of the body as they are.  NGX_DECLINED, or NGX_ERROR.
 */

ngx_int_t
ngx_http_tunny_compress_fallback(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx, const char *why)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl, *rest;

    if (why) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "tunny_compress: %s, sending uncompressed", why);
    }

    if (ctx->enc) {
        ngx_tunny_compress_destroy(ctx->enc);
        ctx->enc = NULL;
    }

    if (ctx->reserved) {
        ngx_http_tunny_release(ctx->pcf, ctx->reserved);
        ctx->reserved = 0;
    }

    ctx->phase = NGX_HTTP_TUNNY_COMPRESS_PASS;
    r->connection->buffered &= ~NGX_HTTP_TUNNY_COMPRESS_BUFFERED;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_DECLINED;
    }

    rest = ctx->in;
    ctx->in = NULL;
    cl = rest;

    if (ctx->chunk_len || ctx->chunk_end != NGX_TUNNY_COMPRESS_PROCESS) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }

        if (ctx->chunk_len) {
            b->memory = 1;
            b->start = ctx->chunk;
            b->pos = ctx->chunk;
            b->last = ctx->chunk + ctx->chunk_len;
            b->end = b->last;
        }

        b->last_buf = (ctx->chunk_end == NGX_TUNNY_COMPRESS_FINISH);
        b->flush = (ctx->chunk_end == NGX_TUNNY_COMPRESS_FLUSH);

        cl = ngx_alloc_chain_link(r->pool);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf = b;
        cl->next = rest;
    }

    if (ngx_http_next_body_filter(r, cl) == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


/* the compressed header, once the first chunk's task is done */

ngx_int_t
ngx_http_tunny_compress_send_header(ngx_http_request_t *r,
    ngx_http_tunny_compress_ctx_t *ctx)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Content-Encoding");
    h->value.data = (u_char *) ngx_tunny_compress_name(ctx->params.encoding);
    h->value.len = ngx_strlen(h->value.data);
    r->headers_out.content_encoding = h;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_weak_etag(r);

    ctx->phase = NGX_HTTP_TUNNY_COMPRESS_STREAM;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
