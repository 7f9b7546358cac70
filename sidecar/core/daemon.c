/* Process plumbing of the sidecar: the pid file (locked with flock for the process lifetime,
 * so a stale file left by a crash is recognised and replaced), daemonizing with a readiness
 * pipe (the starting command only returns once the daemon listens, or fails with its error),
 * and the signal thread (sigwait; flags polled by the main loop). */
#define _GNU_SOURCE             /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/daemon.h"
#include "core/log.h"

/* ---- pid file ------------------------------------------------------------------------- */

static char pid_path[LIVE_PATH_MAX];
static int pid_fd = -1;
static atomic_int pid_active;

static long read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return (pid > 0 && (*end == '\n' || *end == '\0')) ? pid : 0;
}

static int same_file(int fd, const char *path)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev
           && a.st_ino == b.st_ino;
}

int live_pidfile_create(const char *path, int *stale_pid, char *err, size_t errlen)
{
    *stale_pid = 0;
    if (strlen(path) >= sizeof pid_path) {
        snprintf(err, errlen, "pid file path too long: %s", path);
        return -1;
    }
    /* A previous owner may unlink the file between our open and our lock: retry then. */
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
        if (fd < 0) {
            snprintf(err, errlen, "cannot create pid file %s: %s", path, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            long other = read_pid(fd);
            close(fd);
            if (e == EWOULDBLOCK && other > 0)
                snprintf(err, errlen, "profile-live is already running (pid %ld, pid file %s)",
                         other, path);
            else if (e == EWOULDBLOCK)
                snprintf(err, errlen, "profile-live is already running (pid file %s is locked)",
                         path);
            else
                snprintf(err, errlen, "cannot lock pid file %s: %s", path, strerror(e));
            return -1;
        }
        if (!same_file(fd, path)) {
            close(fd);
            continue;
        }
        /* We hold the lock, so whoever wrote a pid here is gone: the file is stale (even when
         * the number now belongs to an unrelated process). */
        long old = read_pid(fd);
        if (old > 0 && old != (long)getpid())
            *stale_pid = (int)old;
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
            snprintf(err, errlen, "cannot write pid file %s: %s", path, strerror(errno));
            unlink(path);
            close(fd);
            return -1;
        }
        memcpy(pid_path, path, strlen(path) + 1);
        pid_fd = fd;
        atomic_store(&pid_active, 1);
        return 0;
    }
    snprintf(err, errlen, "pid file %s keeps being replaced by another process", path);
    return -1;
}

void live_pidfile_remove(void)
{
    if (!atomic_exchange(&pid_active, 0))
        return;
    if (same_file(pid_fd, pid_path))
        unlink(pid_path);
    close(pid_fd);
    pid_fd = -1;
}

/* ---- daemonizing ---------------------------------------------------------------------- */

static int ready_fd = -1;

/* The original process: waits for the daemon's word. Every startup step of the daemon is
 * bounded by its own timeouts, so this ends too. Returns the exit status. */
static int wait_ready(int fd)
{
    char msg[1024];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, msg + len, sizeof msg - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof msg - 1)
            break;
    }
    msg[len] = '\0';
    if (len > 0 && msg[0] == 'R')
        return 0;
    if (len > 1 && msg[0] == 'E')
        fprintf(stderr, "profile-live: %s\n", msg + 1);
    else
        fprintf(stderr, "profile-live: the daemon exited during startup (see its log_file)\n");
    return 1;
}

int live_daemonize(char *err, size_t errlen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid > 0) {
        close(p[1]);
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        exit(wait_ready(p[0]));
    }
    close(p[0]);
    ready_fd = p[1];
    if (setsid() < 0) {
        live_daemon_ready("setsid failed");
        _exit(1);
    }
    pid = fork();
    if (pid < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "fork: %s", strerror(errno));
        live_daemon_ready(msg);
        _exit(1);
    }
    if (pid > 0)
        _exit(0);                /* the session leader goes: no controlling tty ever again */
    if (chdir("/") != 0) {
        live_daemon_ready("chdir /: failed");
        _exit(1);
    }
    int nul = open("/dev/null", O_RDWR | O_NOCTTY);
    if (nul < 0) {
        live_daemon_ready("cannot open /dev/null");
        _exit(1);
    }
    for (int fd = 0; fd <= 2; fd++)
        if (nul != fd)
            dup2(nul, fd);
    if (nul > 2)
        close(nul);
    return 0;
}

void live_daemon_ready(const char *error)
{
    if (ready_fd < 0)
        return;
    char msg[1024];
    int n = error == NULL ? snprintf(msg, sizeof msg, "R")
                          : snprintf(msg, sizeof msg, "E%s", error);
    if (n > (int)sizeof msg - 1)
        n = (int)sizeof msg - 1;
    ssize_t w;
    do
        w = write(ready_fd, msg, (size_t)n);
    while (w < 0 && errno == EINTR);
    close(ready_fd);
    ready_fd = -1;
}

/* ---- signals -------------------------------------------------------------------------- */

static sigset_t sig_set;                 /* what the signal thread waits for */
static pthread_t sig_thread;
static int sig_started;
static atomic_int sig_term;              /* SIGTERM/SIGINT received */
static atomic_int sig_reload;
static atomic_int sig_drain_at;          /* sig_term when the drain began; 0: not draining */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*wake_fn)(void);            /* guarded by wake_lock */

int live_signals_block(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return -1;
    sigemptyset(&sig_set);
    sigaddset(&sig_set, SIGTERM);
    sigaddset(&sig_set, SIGINT);
    sigaddset(&sig_set, SIGHUP);
    sigset_t block = sig_set;
    sigaddset(&block, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, &block, NULL) == 0 ? 0 : -1;
}

static const char *sig_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP"
                                                                                : "signal";
}

static void *signal_main(void *arg)
{
    (void)arg;
    /* Cancellation only inside sigwait: never while holding the log or wake lock. */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    for (;;) {
        int sig = 0;
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
        int r = sigwait(&sig_set, &sig);
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (r != 0)
            continue;
        if (sig == SIGHUP) {
            LIVE_INFO("received SIGHUP: reloading the configuration");
            atomic_store(&sig_reload, 1);
        } else {
            int n = atomic_fetch_add(&sig_term, 1) + 1;
            int at = atomic_load(&sig_drain_at);
            if (at > 0 && n > at) {
                LIVE_WARN("received %s again while draining: exiting at once", sig_name(sig));
                live_pidfile_remove();
                _exit(1);
            }
            LIVE_INFO("received %s: shutting down", sig_name(sig));
        }
        pthread_mutex_lock(&wake_lock);
        if (wake_fn != NULL)
            wake_fn();
        pthread_mutex_unlock(&wake_lock);
    }
    return NULL;
}

int live_signals_start(void)
{
    if (sig_started)
        return 0;
    int r = pthread_create(&sig_thread, NULL, signal_main, NULL);
    if (r != 0) {
        errno = r;
        return -1;
    }
    sig_started = 1;
    return 0;
}

void live_signals_set_wake(void (*wake)(void))
{
    pthread_mutex_lock(&wake_lock);
    wake_fn = wake;
    pthread_mutex_unlock(&wake_lock);
}

int live_signals_stop_requested(void)
{
    return atomic_load(&sig_term);
}

int live_signals_take_reload(void)
{
    return atomic_exchange(&sig_reload, 0);
}

void live_signals_set_draining(void)
{
    int n = atomic_load(&sig_term);
    atomic_store(&sig_drain_at, n > 0 ? n : 1);
}

void live_signals_stop(void)
{
    if (!sig_started)
        return;
    pthread_cancel(sig_thread);
    pthread_join(sig_thread, NULL);
    sig_started = 0;
}
