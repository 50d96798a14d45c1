
/*
 * ubsan-options.so: preloaded (after libasan) into nginx by
 * ./ngx_tunny_module test --asan and soak --asan.
 *
 * UBSan initialises lazily, at its first report, and then reads
 * UBSAN_OPTIONS from /proc/self/environ -- which nginx has overwritten with
 * its process title by then (ngx_setproctitle), so the options would be
 * lost in the workers: no abort_on_error, the report ends in exit(1).
 * Keep a copy taken when nginx starts and give it to UBSan through its
 * __ubsan_default_options() hook.
 */


#include <stdlib.h>
#include <string.h>


const char *__ubsan_default_options(void);

static char  ngx_tunny_ubsan_options[4096];


__attribute__((constructor)) static void
ngx_tunny_ubsan_save_options(void)
{
    const char  *s;

    s = getenv("UBSAN_OPTIONS");

    if (s != NULL) {
        strncpy(ngx_tunny_ubsan_options, s,
                sizeof(ngx_tunny_ubsan_options) - 1);
    }
}


const char *
__ubsan_default_options(void)
{
    return ngx_tunny_ubsan_options;
}
