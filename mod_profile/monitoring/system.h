/* Host facts for /monitoring/detailed: free disk space and the memory of httpd's processes.
 * Pure C + APR (no httpd calls), so the helpers are unit tested directly. */
#ifndef PROFILE_SYSTEM_H
#define PROFILE_SYSTEM_H

#include <sys/types.h>
#include <apr_errno.h>

typedef struct {
    apr_uint64_t free_bytes;   /* available to unprivileged processes */
    apr_uint64_t total_bytes;
    double free_percent;
} profile_disk_usage_t;

/* Space on the file system that holds path. */
apr_status_t profile_disk_usage(const char *path, profile_disk_usage_t *out);

/* Resident set size of process pid, in bytes (from /proc/<pid>/statm). */
apr_status_t profile_process_rss(pid_t pid, apr_uint64_t *rss_bytes);

/* Sums the RSS of the n processes in pids (sorted in place), skipping zeros, repeats and
 * processes that are gone; *counted says how many were summed. */
void profile_processes_rss(pid_t *pids, int n, apr_uint64_t *rss_bytes, int *counted);

#endif
