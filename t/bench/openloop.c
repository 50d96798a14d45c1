
/*
 * Open-loop load for `./ngx_tunny_module bench overload`:
 *
 *   openloop PORT RATE SECONDS [--tag T] [--rss PID,...] URL...
 *
 * Starts one request every 1/RATE seconds for SECONDS, each on a new
 * HTTP/1.0 connection to 127.0.0.1:PORT, whatever the answers (an open
 * loop: the offered load does not fall when the server slows down, as it
 * would with wrk's closed loop), cycling through the URLs.  One thread,
 * epoll, no allocation per request but its slot: the client's own delay
 * stays far below what it measures (a Python asyncio client added
 * milliseconds to every answer on a loaded 2-core machine).  A request's
 * latency runs from its connect() to the server's close.  Prints one JSON
 * object: the statuses (0: a socket error or a timeout, 30 s to connect,
 * 120 s in all), and for the admitted (2xx) and the refused (503) answers
 * their count and latency p50/p99/max in ms.  With --rss, the largest
 * summed RSS (kB) of those processes, sampled every 100 ms.  Only
 * loopback is ever contacted.
 */


#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define MAX_PIDS      16
#define HEAD_MAX      64
#define IO_TIMEOUT    120.0


typedef struct {
    int       fd;
    int       sent;        /* bytes of the request written */
    int       len;         /* bytes of the first line read */
    int       status;
    double    t0;
    char      head[HEAD_MAX];
} conn_t;


typedef struct {
    int       status;
    double    ms;
} result_t;


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static long
rss_kb(const int *pids, int npids)
{
    int    i;
    long   total, kb;
    char   path[64], line[256];
    FILE  *f;

    total = 0;

    for (i = 0; i < npids; i++) {
        snprintf(path, sizeof(path), "/proc/%d/status", pids[i]);

        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }

        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "VmRSS: %ld", &kb) == 1) {
                total += kb;
                break;
            }
        }

        fclose(f);
    }

    return total;
}


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* "p50_ms": v (the value at index min(n - 1, n * p) of the sorted list) */

static void
print_pct(const char *name, double *v, int n, double p, int comma)
{
    int  i;

    if (n == 0) {
        printf("\"%s\": null%s", name, comma ? ", " : "");
        return;
    }

    i = (int) (n * p);
    if (i > n - 1) {
        i = n - 1;
    }

    printf("\"%s\": %.2f%s", name, v[i], comma ? ", " : "");
}


static void
print_class(const char *name, const result_t *res, int nres, int lo, int hi,
    int with_max)
{
    int      i, n;
    double  *v;

    v = malloc(sizeof(double) * (nres ? nres : 1));
    if (v == NULL) {
        perror("malloc");
        exit(1);
    }

    n = 0;

    for (i = 0; i < nres; i++) {
        if (res[i].status >= lo && res[i].status <= hi) {
            v[n++] = res[i].ms;
        }
    }

    qsort(v, n, sizeof(double), cmp_double);

    printf("\"%s\": {\"n\": %d, ", name, n);
    print_pct("p50_ms", v, n, 0.5, 1);
    print_pct("p99_ms", v, n, 0.99, with_max);

    if (with_max) {
        print_pct("max_ms", v, n, 1.0, 0);
    }

    printf("}");

    free(v);
}


static void
finish(conn_t *c, int status, result_t *res, int *nres)
{
    res[*nres].status = status;
    res[*nres].ms = (now() - c->t0) * 1000;
    (*nres)++;

    close(c->fd);
    c->fd = -1;
}


int
main(int argc, char **argv)
{
    int                  i, j, nev, port, npids, nurls, ep, n, k, fd, live;
    int                  nres, r, first, pids[MAX_PIDS], codes[600];
    long                 peak, rss;
    char                 req[4096], buf[65536], *tag, *p, **urls;
    double               rate, secs, start, t, due, next_rss;
    size_t               len;
    conn_t              *conns, *c;
    result_t            *res;
    struct epoll_event   ev, evs[64];
    struct sockaddr_in   sin;

    tag = "";
    npids = 0;
    urls = malloc(sizeof(char *) * argc);
    nurls = 0;

    if (urls == NULL) {
        perror("malloc");
        return 1;
    }

    for (i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc) {
            tag = argv[++i];

        } else if (strcmp(argv[i], "--rss") == 0 && i + 1 < argc) {
            for (p = strtok(argv[++i], ","); p && npids < MAX_PIDS;
                 p = strtok(NULL, ","))
            {
                pids[npids++] = atoi(p);
            }

        } else {
            urls[nurls++] = argv[i];
        }
    }

    if (argc < 5 || nurls == 0) {
        fprintf(stderr, "usage: openloop PORT RATE SECONDS [--tag T] "
                "[--rss PID,...] URL...\n");
        return 2;
    }

    port = atoi(argv[1]);
    rate = atof(argv[2]);
    secs = atof(argv[3]);

    if (rate <= 0 || secs <= 0) {
        fprintf(stderr, "openloop: RATE and SECONDS must be positive\n");
        return 2;
    }

    n = (int) (rate * secs) + 2;

    conns = calloc(n, sizeof(conn_t));
    res = calloc(n, sizeof(result_t));
    if (conns == NULL || res == NULL) {
        perror("calloc");
        return 1;
    }

    ep = epoll_create1(0);
    if (ep == -1) {
        perror("epoll_create1");
        return 1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short) port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    start = now();
    next_rss = start;
    peak = 0;
    k = 0;          /* requests started */
    live = 0;
    nres = 0;

    for ( ;; ) {
        t = now();

        if (npids && t >= next_rss) {
            rss = rss_kb(pids, npids);
            peak = rss > peak ? rss : peak;
            next_rss = t + 0.1;
        }

        /* start every request that is due */

        while (k < n && t - start < secs && t >= start + k / rate) {
            c = &conns[k];
            c->t0 = now();

            fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            c->fd = fd;

            if (fd == -1
                || (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) == -1
                    && errno != EINPROGRESS))
            {
                if (fd != -1) {
                    finish(c, 0, res, &nres);

                } else {
                    res[nres].status = 0;
                    res[nres++].ms = 0;
                }

                k++;
                continue;
            }

            ev.events = EPOLLOUT | EPOLLIN;
            ev.data.u32 = (unsigned) k;
            (void) epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);

            live++;
            k++;
        }

        if (live == 0 && (t - start >= secs || k == n)) {
            break;
        }

        /* wait until the next start, the next RSS sample or an event */

        due = (k < n && t - start < secs) ? start + k / rate : t + 0.1;
        if (npids && next_rss < due) {
            due = next_rss;
        }

        nev = epoll_wait(ep, evs, 64,
                         due > t ? (int) ((due - t) * 1000) : 0);

        for (j = 0; j < nev; j++) {
            c = &conns[evs[j].data.u32];

            if (c->fd == -1) {
                continue;
            }

            if ((evs[j].events & EPOLLOUT) && c->sent >= 0) {
                len = (size_t) snprintf(req, sizeof(req),
                                        "GET %s HTTP/1.0\r\nHost: bench\r\n"
                                        "\r\n",
                                        urls[evs[j].data.u32 % nurls]);

                r = (int) write(c->fd, req + c->sent, len - c->sent);

                if (r > 0) {
                    c->sent += r;
                }

                if (r == -1 && errno != EAGAIN) {
                    finish(c, 0, res, &nres);
                    live--;
                    continue;
                }

                if ((size_t) c->sent == len) {
                    c->sent = -1;       /* written: read only */
                    ev.events = EPOLLIN;
                    ev.data.u32 = evs[j].data.u32;
                    (void) epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }

            if (!(evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                continue;
            }

            for ( ;; ) {
                r = (int) read(c->fd, buf, sizeof(buf));

                if (r > 0) {
                    if (c->len < HEAD_MAX - 1) {
                        len = (size_t) r < (size_t) (HEAD_MAX - 1 - c->len)
                              ? (size_t) r
                              : (size_t) (HEAD_MAX - 1 - c->len);
                        memcpy(c->head + c->len, buf, len);
                        c->len += (int) len;
                    }

                    continue;
                }

                if (r == -1 && errno == EAGAIN) {
                    break;
                }

                /* the end (or an error): the status of "HTTP/1.x NNN" */

                c->head[c->len] = '\0';
                c->status = 0;

                if (r == 0 && strncmp(c->head, "HTTP/", 5) == 0) {
                    p = strchr(c->head, ' ');
                    c->status = p ? atoi(p + 1) : 0;
                }

                finish(c, c->status, res, &nres);
                live--;
                break;
            }
        }

        /* timeouts */

        t = now();

        for (i = 0; i < k; i++) {
            c = &conns[i];

            if (c->fd != -1
                && t - c->t0 > (c->sent >= 0 ? 30.0 : IO_TIMEOUT))
            {
                finish(c, 0, res, &nres);
                live--;
            }
        }
    }

    memset(codes, 0, sizeof(codes));

    for (i = 0; i < nres; i++) {
        if (res[i].status >= 0 && res[i].status < 600) {
            codes[res[i].status]++;
        }
    }

    printf("{\"tag\": \"%s\", \"offered_per_s\": %g, \"seconds\": %g, "
           "\"sent\": %d, \"statuses\": {", tag, rate, secs, k);

    for (i = 0, first = 1; i < 600; i++) {
        if (codes[i]) {
            printf("%s\"%d\": %d", first ? "" : ", ", i, codes[i]);
            first = 0;
        }
    }

    printf("}, ");
    print_class("admitted", res, nres, 200, 299, 1);
    printf(", ");
    print_class("refused", res, nres, 503, 503, 0);
    printf(", \"peak_rss_kb\": %ld}\n", peak);

    return 0;
}
