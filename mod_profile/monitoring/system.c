/* Disk space from statvfs(3) and process memory from /proc/<pid>/statm. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/statvfs.h>
#include "monitoring/system.h"

apr_status_t profile_disk_usage(const char *path, profile_disk_usage_t *out)
{
    struct statvfs sv;

    if (statvfs(path, &sv) != 0)
        return APR_FROM_OS_ERROR(errno);
    out->free_bytes = (apr_uint64_t)sv.f_bavail * sv.f_frsize;
    out->total_bytes = (apr_uint64_t)sv.f_blocks * sv.f_frsize;
    out->free_percent = out->total_bytes
                            ? 100.0 * (double)out->free_bytes / (double)out->total_bytes
                            : 0.0;
    return APR_SUCCESS;
}

apr_status_t profile_process_rss(pid_t pid, apr_uint64_t *rss_bytes)
{
    char path[64];
    unsigned long long size, resident;
    long page = sysconf(_SC_PAGESIZE);
    FILE *f;
    int n;

    snprintf(path, sizeof(path), "/proc/%ld/statm", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return APR_FROM_OS_ERROR(errno);
    n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    if (n != 2 || page <= 0)
        return APR_EGENERAL;
    *rss_bytes = (apr_uint64_t)resident * (apr_uint64_t)page;
    return APR_SUCCESS;
}

static int pid_cmp(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

    return (x > y) - (x < y);
}

void profile_processes_rss(pid_t *pids, int n, apr_uint64_t *rss_bytes, int *counted)
{
    int i;

    *rss_bytes = 0;
    *counted = 0;
    if (n <= 0)
        return;
    qsort(pids, (size_t)n, sizeof(*pids), pid_cmp);
    for (i = 0; i < n; i++) {
        apr_uint64_t rss;

        if (pids[i] <= 0 || (i > 0 && pids[i] == pids[i - 1]))
            continue;
        if (profile_process_rss(pids[i], &rss) == APR_SUCCESS) {
            *rss_bytes += rss;
            (*counted)++;
        }
    }
}
