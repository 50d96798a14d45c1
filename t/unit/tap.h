
/*
 * The TAP side of the unit tests, included once by each test program:
 * ok() prints a check, diag() a comment, tap_init() reads TUNNY_BENCH
 * ("0": no timing report and fewer cases, for valgrind and ASan) into
 * bench, tap_done() prints the plan and returns main()'s exit status.
 */


#ifndef TUNNY_UNIT_TAP_H
#define TUNNY_UNIT_TAP_H


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int  tests;
static int  failures;
static int  bench = 1;


static inline int
ok(int cond, const char *fmt, ...)
{
    va_list  args;

    printf("%sok %d - ", cond ? "" : "not ", ++tests);

    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);

    printf("\n");
    fflush(stdout);

    if (!cond) {
        failures++;
    }

    return cond;
}


static inline void
diag(const char *fmt, ...)
{
    va_list  args;

    printf("# ");
    va_start(args, fmt);
    vprintf(fmt, args);
    va_end(args);
    printf("\n");
}


static inline void
tap_init(void)
{
    const char  *e;

    e = getenv("TUNNY_BENCH");
    if (e && strcmp(e, "0") == 0) {
        bench = 0;
    }
}


static inline int
tap_done(void)
{
    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}


#endif /* TUNNY_UNIT_TAP_H */
