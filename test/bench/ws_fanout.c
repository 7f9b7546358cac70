/* ws_fanout: the WebSocket subscriber side of the live bench (test/bench/run live).
 *
 *   ws_fanout [-n CONNECTIONS] [-d SECONDS] [-p PROCESSES] [-r RAMP] [-t CONNECT_TIMEOUT]
 *             [-H 'Name: value']... [-v] ws://HOST:PORT/PATH?QUERY
 *
 * Opens CONNECTIONS WebSocket clients (libwebsockets 4.1, spread over PROCESSES forked
 * processes, each with its own single-threaded event loop), at most RAMP handshakes in flight
 * per process, and waits until all are open (at most CONNECT_TIMEOUT seconds). It then counts,
 * for SECONDS, every complete text message received ("deliveries") and its latency: receive
 * time (CLOCK_REALTIME) minus the message's "time" field (ISO-8601 UTC with milliseconds, as
 * the sidecar writes it: the time the event was created, so latency is creation → receipt and
 * reads up to 1 ms high). Per connection it also checks that "offset" values are contiguous.
 * When the window opens, one line goes to stderr ("ws_fanout: 1000 of 1000 connected in 0.84 s;
 * measuring 10 s"), so a caller can sample the server while every client is connected.
 * At the end one JSON line goes to stdout:
 *   {"connections":1000,"connected":1000,"connect_s":0.8,"duration_s":10.0,"deliveries":…,
 *    "deliveries_per_s":…,"p50_ms":…,"p99_ms":…,"max_ms":…,"min_conn_deliveries":…,
 *    "idle_connections":0,"gaps":0,"errors":0,"connect_failed":0,"closed":0,"close_1000":0,
 *    "close_1001":0,"close_1008":0,"close_1011":0,"close_4008":0,"close_other":0,
 *    "first_error":null}
 * min_conn_deliveries: the fewest messages one connection (open at the end) received in the
 * window; idle_connections: how many received none (a stalled path shows here); close_N: close
 * frames with code N the server sent before the end (4008: the subscriber lagged too far).
 * errors = connect_failed + closed (connections that closed before the end) + undecodable
 * messages. Exit status: 0, 1 on bad usage or a failed setup, 2 when not every connection
 * opened or errors is not 0 (the JSON is printed all the same).
 * The URL is never printed: it may carry an api_key. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#define MAX_PROCS     64
#define MAX_HEADERS   16
#define MAX_MESSAGE   (1 << 20)          /* a longer message is an error */
#define HIST_STEP_US  100                /* histogram bucket width: 0.1 ms */
#define HIST_BUCKETS  100001             /* 0 .. 10 s, the last one holds everything above */

/* Close codes the sidecar documents (ws/server.h); anything else is counted as "other". */
static const unsigned close_codes[] = { 1000, 1001, 1008, 1011, 4008 };
#define NCODES (sizeof(close_codes) / sizeof(close_codes[0]))

/* Counters of one process, in memory shared with the parent. */
typedef struct {
    uint64_t deliveries;                 /* messages received inside the window */
    uint64_t gaps;                       /* offsets that did not follow the previous one */
    uint64_t bad;                        /* messages without a readable "time" */
    uint64_t connect_failed;
    uint64_t closed;                     /* connections that ended before the stop */
    uint64_t open_at_end;                /* connections open at the stop */
    uint64_t idle;                       /* of those, how many received nothing in the window */
    uint64_t min_conn;                   /* fewest deliveries of one of those */
    uint64_t closes[NCODES + 1];         /* close frames from the server before the stop */
    uint64_t hist[HIST_BUCKETS];         /* latency of the messages inside the window */
} stats_t;

typedef struct {
    int open;                            /* connections open now, all processes */
    int failed;                          /* connections that never opened */
    int stop;                            /* the parent's order to close and exit */
    int64_t start_us, end_us;            /* the window (CLOCK_REALTIME), 0 until set */
    char first_error[200];
    int error_taken;
    stats_t stats[MAX_PROCS];
} shared_t;

/* Per connection (lws allocates and zeroes it). */
typedef struct {
    char *buf;                           /* a message that arrived in parts */
    size_t len, cap;
    int64_t last_offset;                 /* 0 before the first offset */
    uint64_t in_window;                  /* messages counted for this connection */
    int open;
    int slot;                            /* in me.conns */
} conn_t;

static struct {
    const char *host, *path;
    char host_header[300];
    int port;
    const char *hdr_name[MAX_HEADERS];   /* "name:" */
    const char *hdr_value[MAX_HEADERS];
    int headers;
    int connections, procs, ramp, connect_timeout, verbose;
    double duration;
} opt;

static shared_t *shm;

/* The state of the current (child) process. */
static struct {
    struct lws_context *ctx;
    stats_t *st;
    int to_open, started, pending, done;
    int cb_failures;                     /* CONNECTION_ERROR callbacks so far */
    conn_t **conns;                      /* the open connections, by slot (NULL: closed) */
    int nconns;
    lws_sorted_usec_list_t sul_connect, sul_stop;
} me;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void note_error(const char *fmt, ...)
{
    va_list ap;
    if (__atomic_exchange_n(&shm->error_taken, 1, __ATOMIC_ACQ_REL))
        return;
    va_start(ap, fmt);
    vsnprintf(shm->first_error, sizeof(shm->first_error), fmt, ap);
    va_end(ap);
}

/* ---- message decoding ---- */

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" → epoch µs; -1 when it is not that. */
static int64_t parse_time(const char *s, size_t n)
{
    int y, mo, d, h, mi, sec, frac = 0, fdig = 0;
    size_t i = 19;

    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59
        || sec < 0 || sec > 60)
        return -1;
    if (s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (fdig < 6)
                frac = frac * 10 + (s[i] - '0'), fdig++;
        while (fdig < 6)
            frac *= 10, fdig++;
    }
    if (i >= n || s[i] != 'Z')
        return -1;
    return ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000) + frac;
}

static const char *skip_ws(const char *p, const char *stop)
{
    while (p < stop && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The value of the first "key": in msg (key given with its quotes): a pointer to the first
 * byte after the colon and any white space, or NULL. A key cannot be faked inside a string
 * value, where quotes are escaped. */
static const char *field(const char *msg, size_t len, const char *key, size_t keylen)
{
    const char *p = msg, *stop = msg + len;
    while ((p = memmem(p, (size_t)(stop - p), key, keylen)) != NULL) {
        const char *v = skip_ws(p + keylen, stop);
        if (v < stop && *v == ':')
            return skip_ws(v + 1, stop);
        p += keylen;
    }
    return NULL;
}

static void on_message(conn_t *c, const char *msg, size_t len)
{
    static const char tkey[] = "\"time\"", okey[] = "\"offset\"";
    int64_t recv_us = now_us(), start, end, ev_us = -1;
    const char *v, *stop = msg + len;

    v = field(msg, len, okey, sizeof(okey) - 1);
    if (v && v < stop && *v >= '0' && *v <= '9') {
        int64_t off = 0;
        while (v < stop && *v >= '0' && *v <= '9')
            off = off * 10 + (*v++ - '0');
        if (c->last_offset && off != c->last_offset + 1)
            me.st->gaps++;
        c->last_offset = off;
    }
    v = field(msg, len, tkey, sizeof(tkey) - 1);
    if (v && v < stop && *v == '"')
        ev_us = parse_time(v + 1, (size_t)(stop - v - 1));

    start = __atomic_load_n(&shm->start_us, __ATOMIC_ACQUIRE);
    end = __atomic_load_n(&shm->end_us, __ATOMIC_ACQUIRE);
    if (!start || recv_us < start || recv_us >= end)
        return;
    if (ev_us < 0) {
        me.st->bad++;
        note_error("a message without a readable \"time\": %.*s", (int)(len < 80 ? len : 80), msg);
        return;
    }
    int64_t lat = recv_us - ev_us;
    uint64_t b = lat <= 0 ? 0 : (uint64_t)lat / HIST_STEP_US;
    me.st->hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
    me.st->deliveries++;
    c->in_window++;
}

/* ---- the lws client ---- */

static void connect_failed(void)
{
    me.pending--;
    me.st->connect_failed++;
    __atomic_add_fetch(&shm->failed, 1, __ATOMIC_ACQ_REL);
}

static void conn_closed(conn_t *c, int before_open)
{
    if (c->open) {
        c->open = 0;
        me.conns[c->slot] = NULL;
        __atomic_sub_fetch(&shm->open, 1, __ATOMIC_ACQ_REL);
        if (!me.done)
            me.st->closed++;
    }
    else if (before_open)
        connect_failed();
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    conn_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end = *p + len;
        for (int i = 0; i < opt.headers; i++)
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)opt.hdr_name[i],
                                            (const unsigned char *)opt.hdr_value[i],
                                            (int)strlen(opt.hdr_value[i]), p, end))
                return -1;
        break;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->open = 1;
        c->slot = me.nconns;
        me.conns[me.nconns++] = c;
        me.pending--;
        __atomic_add_fetch(&shm->open, 1, __ATOMIC_ACQ_REL);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        unsigned status = wsi ? lws_http_client_http_response(wsi) : 0;
        if (status)
            note_error("connect: %s (HTTP %u)", in ? (const char *)in : "failed", status);
        else
            note_error("connect: %s", in ? (const char *)in : "failed");
        me.cb_failures++;
        if (c)
            conn_closed(c, 1);
        else
            connect_failed();
        break;
    }
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (!me.done) {
            unsigned code = len >= 2 ? ((unsigned)((unsigned char *)in)[0] << 8)
                                           | ((unsigned char *)in)[1] : 0;
            size_t k = 0;
            while (k < NCODES && close_codes[k] != code)
                k++;
            me.st->closes[k]++;
            note_error("the server closed a connection with code %u", code);
        }
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c)
            break;
        if (c->open && !me.done)
            note_error("a connection closed");
        conn_closed(c, 0);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        int final = lws_is_final_fragment(wsi);
        if (lws_frame_is_binary(wsi))
            break;
        if (!c->len && final) {
            on_message(c, in, len);
            break;
        }
        if (c->len + len > MAX_MESSAGE) {
            me.st->bad++;
            note_error("a message longer than %d bytes", MAX_MESSAGE);
            return -1;
        }
        if (c->len + len > c->cap) {
            size_t cap = c->cap ? c->cap : 16384;
            while (cap < c->len + len)
                cap *= 2;
            char *nb = realloc(c->buf, cap);
            if (!nb)
                return -1;
            c->buf = nb, c->cap = cap;
        }
        memcpy(c->buf + c->len, in, len);
        c->len += len;
        if (final) {
            on_message(c, c->buf, c->len);
            c->len = 0;
        }
        break;
    }
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    { "ws-fanout", callback, sizeof(conn_t), 16384, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Tops the handshakes in flight up to opt.ramp, every millisecond until all have started. */
static void connect_more(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    while (me.started < me.to_open && me.pending < opt.ramp) {
        struct lws_client_connect_info ci;
        memset(&ci, 0, sizeof(ci));
        ci.context = me.ctx;
        ci.address = opt.host;
        ci.port = opt.port;
        ci.path = opt.path;
        ci.host = opt.host_header;
        ci.origin = opt.host_header;
        ci.protocol = NULL;
        ci.local_protocol_name = protocols[0].name;
        ci.ietf_version_or_minus_one = -1;
        me.started++;
        me.pending++;
        int reported = me.cb_failures;
        /* On NULL lws may or may not have called CONNECTION_ERROR already. */
        if (!lws_client_connect_via_info(&ci) && me.cb_failures == reported)
            connect_failed();
    }
    if (me.started < me.to_open)
        lws_sul_schedule(me.ctx, 0, &me.sul_connect, connect_more, 1000);
}

static void check_stop(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    if (__atomic_load_n(&shm->stop, __ATOMIC_ACQUIRE)) {
        /* How evenly the window's messages went to the connections still open. */
        me.st->min_conn = UINT64_MAX;
        for (int i = 0; i < me.nconns; i++) {
            const conn_t *c = me.conns[i];
            if (!c)
                continue;
            me.st->open_at_end++;
            me.st->idle += !c->in_window;
            if (c->in_window < me.st->min_conn)
                me.st->min_conn = c->in_window;
        }
        me.done = 1;
        return;
    }
    lws_sul_schedule(me.ctx, 0, &me.sul_stop, check_stop, 20000);
}

static void lws_quiet(int level, const char *line)
{
    if (opt.verbose || level == LLL_ERR)
        fprintf(stderr, "ws_fanout[%d]: %s", (int)getpid(), line);
}

static int child(int index, int count)
{
    struct lws_context_creation_info info;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        return 1;
    me.st = &shm->stats[index];
    me.to_open = count;
    me.conns = calloc((size_t)count, sizeof(*me.conns));
    if (!me.conns)
        return 1;
    lws_set_log_level(opt.verbose ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, lws_quiet);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.timeout_secs = (unsigned)opt.connect_timeout;
    info.connect_timeout_secs = (unsigned)opt.connect_timeout;
    info.fd_limit_per_thread = (unsigned)count + 64;
    me.ctx = lws_create_context(&info);
    if (!me.ctx) {
        note_error("lws_create_context failed");
        return 1;
    }
    lws_sul_schedule(me.ctx, 0, &me.sul_connect, connect_more, 1);
    lws_sul_schedule(me.ctx, 0, &me.sul_stop, check_stop, 20000);
    while (!me.done)
        if (lws_service(me.ctx, 0) < 0)
            break;
    lws_context_destroy(me.ctx);
    free(me.conns);
    return 0;
}

/* ---- the parent ---- */

static double percentile(const uint64_t *hist, uint64_t total, double q)
{
    uint64_t want = (uint64_t)((double)total * q + 0.999999), sum = 0;
    if (!total)
        return 0;
    if (want < 1)
        want = 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        sum += hist[i];
        if (sum >= want)
            return (double)(i + 1) * HIST_STEP_US / 1000.0;    /* the bucket's upper edge */
    }
    return (double)HIST_BUCKETS * HIST_STEP_US / 1000.0;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void usage(void)
{
    fprintf(stderr, "usage: ws_fanout [-n CONNECTIONS] [-d SECONDS] [-p PROCESSES] [-r RAMP]"
                    " [-t CONNECT_TIMEOUT] [-H 'Name: value']... [-v] ws://HOST:PORT/PATH\n");
    exit(1);
}

static int parse_int(const char *s, int lo, int hi, const char *what)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "ws_fanout: %s must be %d..%d\n", what, lo, hi);
        exit(1);
    }
    return (int)v;
}

static void parse_url(char *url)
{
    char *p, *colon, *slash;
    if (strncmp(url, "ws://", 5)) {
        fprintf(stderr, "ws_fanout: the URL must start with ws:// (no TLS)\n");
        exit(1);
    }
    p = url + 5;
    slash = strchr(p, '/');
    opt.path = slash ? strdup(slash) : "/";
    if (slash)
        *slash = '\0';
    snprintf(opt.host_header, sizeof(opt.host_header), "%s", p);
    colon = strrchr(p, ':');
    opt.port = 80;
    if (colon && !strchr(colon, ']')) {
        *colon = '\0';
        opt.port = parse_int(colon + 1, 1, 65535, "the port");
    }
    if (*p == '[') {                     /* [::1] */
        p++;
        p[strcspn(p, "]")] = '\0';
    }
    if (!*p)
        usage();
    opt.host = p;
}

static void raise_nofile(int want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)want
                          ? (rlim_t)want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < (rlim_t)want) {
            fprintf(stderr, "ws_fanout: RLIMIT_NOFILE is %ju, %d needed (ulimit -Hn)\n",
                    (uintmax_t)rl.rlim_cur, want);
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    pid_t pids[MAX_PROCS];
    int c, status = 0, failures = 0;
    int64_t t0, deadline, start, end;
    struct timespec tick = { 0, 5 * 1000 * 1000 };

    opt.connections = 1000;
    opt.duration = 10;
    opt.procs = 1;
    opt.ramp = 64;
    opt.connect_timeout = 30;
    while ((c = getopt(argc, argv, "n:d:p:r:t:H:v")) != -1) {
        switch (c) {
        case 'n': opt.connections = parse_int(optarg, 1, 100000, "-n"); break;
        case 'd': opt.duration = parse_int(optarg, 1, 3600, "-d"); break;
        case 'p': opt.procs = parse_int(optarg, 1, MAX_PROCS, "-p"); break;
        case 'r': opt.ramp = parse_int(optarg, 1, 10000, "-r"); break;
        case 't': opt.connect_timeout = parse_int(optarg, 1, 600, "-t"); break;
        case 'v': opt.verbose = 1; break;
        case 'H': {
            char *h = strdup(optarg), *colon = strchr(h, ':'), *name;
            if (!colon || colon == h || opt.headers == MAX_HEADERS) {
                fprintf(stderr, "ws_fanout: -H wants 'Name: value' (at most %d)\n", MAX_HEADERS);
                return 1;
            }
            *colon = '\0';
            if (asprintf(&name, "%s:", h) < 0)
                return 1;
            opt.hdr_name[opt.headers] = name;
            opt.hdr_value[opt.headers++] = colon + 1 + strspn(colon + 1, " \t");
            break;
        }
        default: usage();
        }
    }
    if (optind != argc - 1)
        usage();
    parse_url(argv[optind]);
    if (opt.procs > opt.connections)
        opt.procs = opt.connections;
    raise_nofile(opt.connections / opt.procs + 256);

    shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) {
        perror("ws_fanout: mmap");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    fflush(NULL);
    t0 = now_us();
    for (int i = 0; i < opt.procs; i++) {
        int count = opt.connections / opt.procs + (i < opt.connections % opt.procs);
        pids[i] = fork();
        if (pids[i] < 0) {
            perror("ws_fanout: fork");
            __atomic_store_n(&shm->stop, 1, __ATOMIC_RELEASE);
            opt.procs = i;
            failures = 1;
            break;
        }
        if (pids[i] == 0)
            _exit(child(i, count));
    }

    /* Wait until every connection has opened or failed, or the connect timeout. */
    deadline = t0 + (int64_t)opt.connect_timeout * 1000000 + 2000000;
    while (!failures) {
        int open = __atomic_load_n(&shm->open, __ATOMIC_ACQUIRE);
        int failed = __atomic_load_n(&shm->failed, __ATOMIC_ACQUIRE);
        if (open + failed >= opt.connections || now_us() > deadline)
            break;
        for (int i = 0; i < opt.procs; i++)
            if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
                note_error("a client process exited early (status %d)", status);
                pids[i] = 0;
                failures = 1;
            }
        nanosleep(&tick, NULL);
    }
    int connected = __atomic_load_n(&shm->open, __ATOMIC_ACQUIRE);
    double connect_s = (double)(now_us() - t0) / 1e6;

    /* The window. */
    start = now_us();
    end = start + (int64_t)(opt.duration * 1e6);
    __atomic_store_n(&shm->end_us, end, __ATOMIC_RELEASE);
    __atomic_store_n(&shm->start_us, start, __ATOMIC_RELEASE);
    fprintf(stderr, "ws_fanout: %d of %d connected in %.2f s; measuring %g s\n", connected,
            opt.connections, connect_s, opt.duration);
    if (!failures && connected > 0) {
        while (now_us() < end + 200000) {
            struct timespec ts = { 0, 50 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    __atomic_store_n(&shm->stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < opt.procs; i++) {
        if (!pids[i])
            continue;
        if (waitpid(pids[i], &status, 0) == pids[i] && (!WIFEXITED(status) || WEXITSTATUS(status))) {
            note_error("a client process failed (status %d)", status);
            failures = 1;
        }
    }

    /* Sum up. */
    static stats_t all;
    all.min_conn = UINT64_MAX;
    for (int i = 0; i < opt.procs; i++) {
        const stats_t *s = &shm->stats[i];
        all.open_at_end += s->open_at_end;
        all.idle += s->idle;
        if (s->open_at_end && s->min_conn < all.min_conn)
            all.min_conn = s->min_conn;
        all.deliveries += s->deliveries;
        all.gaps += s->gaps;
        all.bad += s->bad;
        all.connect_failed += s->connect_failed;
        all.closed += s->closed;
        for (size_t k = 0; k <= NCODES; k++)
            all.closes[k] += s->closes[k];
        for (int b = 0; b < HIST_BUCKETS; b++)
            all.hist[b] += s->hist[b];
    }
    int max_b = 0;
    for (int b = 0; b < HIST_BUCKETS; b++)
        if (all.hist[b])
            max_b = b;
    uint64_t errors = all.connect_failed + all.closed + all.bad + (uint64_t)failures;
    double secs = (double)(end - start) / 1e6;

    printf("{\"connections\":%d,\"connected\":%d,\"connect_s\":%.2f,\"duration_s\":%.2f,"
           "\"deliveries\":%" PRIu64 ",\"deliveries_per_s\":%.1f,\"p50_ms\":%.2f,"
           "\"p99_ms\":%.2f,\"max_ms\":%.2f,\"min_conn_deliveries\":%" PRIu64
           ",\"idle_connections\":%" PRIu64 ",\"gaps\":%" PRIu64 ",\"errors\":%" PRIu64
           ",\"connect_failed\":%" PRIu64 ",\"closed\":%" PRIu64 ",",
           opt.connections, connected, connect_s, secs, all.deliveries,
           (double)all.deliveries / secs, percentile(all.hist, all.deliveries, 0.50),
           percentile(all.hist, all.deliveries, 0.99),
           all.deliveries ? (double)(max_b + 1) * HIST_STEP_US / 1000.0 : 0.0,
           all.open_at_end ? all.min_conn : 0, all.idle, all.gaps,
           errors, all.connect_failed, all.closed);
    for (size_t k = 0; k <= NCODES; k++) {
        if (k < NCODES)
            printf("\"close_%u\":%" PRIu64 ",", close_codes[k], all.closes[k]);
        else
            printf("\"close_other\":%" PRIu64 ",", all.closes[k]);
    }
    fputs("\"first_error\":", stdout);
    if (shm->error_taken)
        json_string(shm->first_error);
    else
        fputs("null", stdout);
    puts("}");
    fflush(stdout);
    return connected < opt.connections || errors ? 2 : 0;
}
