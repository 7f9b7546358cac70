/* Process plumbing of the sidecar: pid file, daemonizing, and the signal thread.
 *
 * Signals: live_signals_block() (main, before any other thread exists) blocks SIGTERM, SIGINT,
 * SIGHUP (and SIGPIPE, which is also ignored) so every later thread inherits the mask; the
 * signal thread takes them with sigwait, sets flags the main loop polls and wakes it with the
 * function given to live_signals_set_wake (live_server_wake once the server exists). */
#ifndef LIVE_DAEMON_H
#define LIVE_DAEMON_H

#include <stddef.h>

/* Creates (and locks, for the process lifetime) the pid file. An existing file whose process
 * is gone is stale and replaced (*stale_pid gets its pid, else 0). -1 with err when another
 * instance holds it or the file cannot be written. */
int  live_pidfile_create(const char *path, int *stale_pid, char *err, size_t errlen);
/* Removes the pid file created above (idempotent, any thread). */
void live_pidfile_remove(void);

/* Double fork, setsid, chdir /, stdin/stdout/stderr to /dev/null. Returns 0 in the daemon;
 * the original process waits until the daemon calls live_daemon_ready and exits with 0 (ready)
 * or 1 (printing the daemon's error), also 1 when the daemon dies first. -1 with err when a
 * fork fails (nothing happened then). */
int  live_daemonize(char *err, size_t errlen);
/* Tells the waiting parent the startup is over: error NULL = ready. No-op when not
 * daemonized or already told. */
void live_daemon_ready(const char *error);

int  live_signals_block(void);
int  live_signals_start(void);
/* wake is called (from the signal thread) after each signal; NULL: none. Once this returns,
 * the previous function is no longer running or about to run. */
void live_signals_set_wake(void (*wake)(void));
/* SIGTERM/SIGINT received (since start). */
int  live_signals_stop_requested(void);
/* 1 once per SIGHUP batch (clears the flag). */
int  live_signals_take_reload(void);
/* The drain began: a further SIGTERM/SIGINT removes the pid file and exits at once. */
void live_signals_set_draining(void);
/* Ends the signal thread. */
void live_signals_stop(void);

#endif
