/* Lists the migration files of a directory. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profilectl.h"

#define SQL_SUFFIX     ".sql"
#define SQL_SUFFIX_LEN (sizeof(SQL_SUFFIX) - 1)

/* The version of a file named NNN_name.sql (NNN 001..999, name not empty), else 0. */
static int migration_version(const char *file)
{
    size_t len = strlen(file);
    if (len < 5 + SQL_SUFFIX_LEN || strcmp(file + len - SQL_SUFFIX_LEN, SQL_SUFFIX) != 0)
        return 0;
    if (!isdigit((unsigned char)file[0]) || !isdigit((unsigned char)file[1])
        || !isdigit((unsigned char)file[2]) || file[3] != '_')
        return 0;
    return (file[0] - '0') * 100 + (file[1] - '0') * 10 + (file[2] - '0');
}

static int by_version(const void *a, const void *b)
{
    const profile_ctl_migration_t *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Appends file to *list; -1 when out of memory. */
static int add_migration(profile_ctl_migration_t **list, size_t *n, size_t *cap,
                         const char *dir, const char *file, int version)
{
    profile_ctl_migration_t *m;
    size_t name_len = strlen(file) - SQL_SUFFIX_LEN, path_len = strlen(dir) + strlen(file) + 2;

    if (*n == *cap) {
        size_t grown = *cap ? *cap * 2 : 16;
        profile_ctl_migration_t *bigger = realloc(*list, grown * sizeof(*bigger));
        if (!bigger)
            return -1;
        *list = bigger;
        *cap = grown;
    }
    m = &(*list)[*n];
    m->version = version;
    m->name = malloc(name_len + 1);
    m->path = malloc(path_len);
    if (!m->name || !m->path) {
        free(m->name);
        free(m->path);
        return -1;
    }
    memcpy(m->name, file, name_len);
    m->name[name_len] = '\0';
    snprintf(m->path, path_len, "%s/%s", dir, file);
    (*n)++;
    return 0;
}

static int check_unique(const profile_ctl_migration_t *list, size_t n)
{
    size_t i;
    for (i = 1; i < n; i++)
        if (list[i].version == list[i - 1].version) {
            fprintf(stderr, "profilectl: %s and %s have the same version %03d\n",
                    list[i - 1].path, list[i].path, list[i].version);
            return -1;
        }
    return 0;
}

int profile_ctl_sqldir_list(const char *dir, profile_ctl_migration_t **out, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;
    int version, failed = 0;

    *out = NULL;
    *n = 0;
    if (!d) {
        fprintf(stderr, "profilectl: cannot open the migrations directory %s: %s "
                "(see --sql-dir)\n", dir, strerror(errno));
        return -1;
    }
    while (!failed && (e = readdir(d))) {
        if ((version = migration_version(e->d_name)) > 0) {
            if ((failed = add_migration(out, n, &cap, dir, e->d_name, version) != 0))
                fprintf(stderr, "profilectl: out of memory\n");
        }
        else if (strlen(e->d_name) > SQL_SUFFIX_LEN
                 && !strcmp(e->d_name + strlen(e->d_name) - SQL_SUFFIX_LEN, SQL_SUFFIX)) {
            fprintf(stderr, "profilectl: ignoring %s/%s: not named NNN_name.sql "
                    "(NNN from 001 to 999)\n", dir, e->d_name);
        }
    }
    closedir(d);
    if (failed) {
        profile_ctl_sqldir_free(*out, *n);
        return -1;
    }
    if (*n == 0) {
        fprintf(stderr, "profilectl: no migrations (NNN_name.sql) in %s (see --sql-dir)\n", dir);
        return -1;
    }
    qsort(*out, *n, sizeof(**out), by_version);
    if (check_unique(*out, *n) != 0) {
        profile_ctl_sqldir_free(*out, *n);
        return -1;
    }
    return 0;
}

void profile_ctl_sqldir_free(profile_ctl_migration_t *list, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        free(list[i].name);
        free(list[i].path);
    }
    free(list);
}
