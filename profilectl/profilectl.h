/* profilectl: the administration command for mod_profile's database (plain C and libpq). */
#ifndef PROFILE_CTL_H
#define PROFILE_CTL_H

#include <stddef.h>
#include <libpq-fe.h>

#include "auth/password.h"
#include "auth/principal.h"

#define PROFILE_CTL_EXIT_OK      0
#define PROFILE_CTL_EXIT_FAILURE 1
#define PROFILE_CTL_EXIT_USAGE   2

/* Largest configuration or migration file read. */
#define PROFILE_CTL_FILE_MAX (4 * 1024 * 1024)

/* file.c: the whole of a regular file of at most limit bytes, NUL-terminated, without NUL
 * bytes inside; NULL with a message in err otherwise. The caller frees it. */
char *profile_ctl_read_file(const char *path, size_t limit, char *err, size_t errlen);

/* conf.c: the value of the first ProfileDatabase directive, read the way httpd reads it
 * (comment lines, "\" continuations, quotes with \" escapes, directive name in any case).
 * Include files and ${VAR} are not expanded. Returns 1 with *value (freed by the caller),
 * 0 when there is no such directive, -1 with a message in err. */
int profile_ctl_conf_find_database(const char *text, char **value, char *err, size_t errlen);
int profile_ctl_conf_database(const char *path, char **value, char *err, size_t errlen);

/* sqldir.c: the migrations of a directory, files named NNN_name.sql (NNN from 001 to 999). */
typedef struct {
    int version;
    char *name;                /* file name without ".sql", e.g. "001_foundation" */
    char *path;
} profile_ctl_migration_t;

/* Sorted by version; 0 on success, -1 after printing why (unreadable, duplicate versions). */
int profile_ctl_sqldir_list(const char *dir, profile_ctl_migration_t **out, size_t *n);
void profile_ctl_sqldir_free(profile_ctl_migration_t *list, size_t n);

/* migrate.c: both return an exit status and print what they did. */
int profile_ctl_migrate(PGconn *conn, const profile_ctl_migration_t *list, size_t n);
int profile_ctl_migrate_status(PGconn *conn, const profile_ctl_migration_t *list, size_t n);

/* user.c: `user add`. */
typedef struct {
    const char *username;
    const char *email;
    profile_role_t role;
    profile_argon2_params_t hash;
    int if_missing;            /* an existing username is success, not an error */
    char password[PROFILE_PASSWORD_MAX_BYTES + 2]; /* room for a line end read from stdin */
} profile_ctl_user_args_t;

/* The words after "user" (argv[0] is the subcommand); reads the password from stdin when
 * asked to. -1 to go on, else the exit status after printing why. */
int profile_ctl_user_parse(int argc, char **argv, profile_ctl_user_args_t *a);
/* Checks the schema, hashes the password, inserts the user; returns an exit status. Wipes
 * the password from a. */
int profile_ctl_user_add(PGconn *conn, profile_ctl_user_args_t *a);

#endif
