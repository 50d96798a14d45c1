/*
 * ngx_tunny_module: tasks, the public face of a job (ngx_http_tunny.h):
 * a task is a job whose process, free and completion call the user's
 * run(), free() and done().  ngx_http_tunny_task_process() runs in a pool
 * thread; everything else in the event loop.
 */

#include "ngx_http_tunny_common.h"


static void ngx_http_tunny_task_process(ngx_tunny_job_t *job,
    ngx_tunny_thread_t *thr);
static void ngx_http_tunny_task_resume(ngx_http_request_t *r,
    ngx_tunny_job_t *job, ngx_int_t rc);
static void ngx_http_tunny_task_free_job(ngx_tunny_job_t *job);


ngx_http_tunny_task_t *
ngx_http_tunny_task_create(ngx_http_request_t *r, size_t size)
{
    size_t                  head;
    ngx_http_tunny_task_t  *task;

    head = ngx_align(sizeof(ngx_http_tunny_task_t), NGX_ALIGNMENT);

    task = ngx_alloc(head + size, r->connection->log);
    if (task == NULL) {
        return NULL;
    }

    ngx_memzero(task, head + size);

    task->job.process = ngx_http_tunny_task_process;
    task->job.free = ngx_http_tunny_task_free_job;
    task->data = (u_char *) task + head;

    return task;
}


ngx_int_t
ngx_http_tunny_task_post(ngx_http_request_t *r, ngx_http_tunny_task_t *task)
{
    ngx_int_t              rc;
    ngx_http_tunny_ctx_t  *ctx;

    rc = ngx_http_tunny_post(r, &task->job, task->pcf, task->continues,
                             ngx_http_tunny_task_resume);

    if (rc == NGX_OK) {
        /* a timeout must find done() without the job, which may be gone */
        ctx = ngx_http_tunny_get_ctx(r, 0);
        ctx->done = task->done;
    }

    return rc;
}


void
ngx_http_tunny_task_destroy(ngx_http_tunny_task_t *task)
{
    ngx_http_tunny_task_free_job(&task->job);
}


/* thread */

static void
ngx_http_tunny_task_process(ngx_tunny_job_t *job, ngx_tunny_thread_t *thr)
{
    ngx_http_tunny_task_t *task = (ngx_http_tunny_task_t *) job;

    task->thr = thr;

    if (task->run(task, task->data) != NGX_OK) {
        job->failed = 1;
    }

    task->thr = NULL;
}


/* loop: done() gets the data back; the task is freed after it */

static void
ngx_http_tunny_task_resume(ngx_http_request_t *r, ngx_tunny_job_t *job,
    ngx_int_t rc)
{
    ngx_http_tunny_ctx_t   *ctx;
    ngx_http_tunny_task_t  *task;

    if (rc != NGX_OK) {
        /* the job is detached, freed by the pool or already gone */
        ctx = ngx_http_tunny_get_ctx(r, 0);
        ctx->done(r, NULL, rc);
        return;
    }

    task = (ngx_http_tunny_task_t *) job;

    task->done(r, task->data, job->failed ? NGX_ERROR : NGX_OK);

    ngx_tunny_job_free(job);
}


/* loop */

static void
ngx_http_tunny_task_free_job(ngx_tunny_job_t *job)
{
    ngx_http_tunny_task_t *task = (ngx_http_tunny_task_t *) job;

    if (task->free) {
        task->free(task->data);
    }

    ngx_free(task);
}
