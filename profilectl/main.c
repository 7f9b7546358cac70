/* profilectl: command line, choice of the database, connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profilectl.h"
#include "schema_version.h"

#ifndef PROFILE_VERSION
#define PROFILE_VERSION "0.1.0"
#endif
#ifndef PROFILE_SQL_DIR
#define PROFILE_SQL_DIR "/usr/local/share/mod_profile/sql"
#endif

#define CONNECT_TIMEOUT_S "10"

typedef struct {
    const char *conf;
    const char *database;
    const char *sql_dir;
    const char *command;
    int status;
    profile_ctl_user_args_t user;
} profile_ctl_args_t;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: profilectl [--conf FILE] [--database CONNINFO] [--sql-dir DIR] migrate [--status]\n"
        "       profilectl [--conf FILE] [--database CONNINFO] user add --username NAME\n"
        "                  --email EMAIL (--password-stdin | --password PASSWORD)\n"
        "                  [--admin | --role ROLE] [--hash m=KIB,t=N,p=N] [--if-missing]\n"
        "       profilectl --help | --version\n"
        "\n"
        "Commands:\n"
        "  migrate             apply the pending migrations, each in its own transaction\n"
        "  migrate --status    list every migration as applied or pending; changes nothing\n"
        "  user add            create an account; the schema must be current. An existing\n"
        "                      username (compared case-insensitively) is an error\n"
        "\n"
        "Options of user add:\n"
        "  --username NAME     3 to 32 of A-Z a-z 0-9 _ . -\n"
        "  --email EMAIL       the account's address, unique case-insensitively\n"
        "  --password-stdin    read the password from the first line of standard input\n"
        "  --password PASSWORD take it from the command line (other local users can see it)\n"
        "  --admin             the same as --role admin\n"
        "  --role ROLE         admin, user (default) or readonly\n"
        "  --hash m=KIB,t=N,p=N\n"
        "                      argon2id parameters (default m=19456,t=2,p=1); a hash made with\n"
        "                      other ones than ProfilePasswordHashing is redone at login\n"
        "  --if-missing        when the username exists, change nothing and exit 0\n"
        "\n"
        "Options:\n"
        "  --database CONNINFO libpq connection string or postgresql:// URI\n"
        "  --conf FILE         take it from the first ProfileDatabase directive in FILE\n"
        "                      (an httpd configuration file; Include is not followed)\n"
        "  --sql-dir DIR       the migrations, files named NNN_name.sql\n"
        "                      (default " PROFILE_SQL_DIR ")\n"
        "These options go before the command.\n"
        "\n"
        "The database is --database, else --conf FILE, else the environment variable\n"
        "PROFILE_DATABASE. Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "profilectl: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'profilectl --help'.\n");
    return PROFILE_CTL_EXIT_USAGE;
}

/* Matches --name VALUE and --name=VALUE; 1 when argv[*i] is this option. */
static int option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0)
        return 0;
    if (argv[*i][len] == '=') {
        *value = argv[*i] + len + 1;
        return 1;
    }
    if (argv[*i][len] != '\0')
        return 0;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

/* -1 to go on, else the exit status (after --help, --version or a usage error). */
static int parse_args(int argc, char **argv, profile_ctl_args_t *a)
{
    const struct {
        const char *name;
        const char **slot;
    } options[] = { { "--conf", &a->conf }, { "--database", &a->database },
                    { "--sql-dir", &a->sql_dir } };
    size_t k, n_options = sizeof(options) / sizeof(options[0]);
    int i;

    for (i = 1; i < argc; i++) {
        const char *v = NULL;
        for (k = 0; k < n_options && !option_value(argc, argv, &i, options[k].name, &v); k++)
            ;
        if (k < n_options) {
            if (!v || !*v)
                return usage_error("%s needs a value", options[k].name);
            *options[k].slot = v;
        }
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return PROFILE_CTL_EXIT_OK;
        }
        else if (!strcmp(argv[i], "--version")) {
            printf("profilectl %s (schema version %d)\n", PROFILE_VERSION, PROFILE_SCHEMA_VERSION);
            return PROFILE_CTL_EXIT_OK;
        }
        else if (!strcmp(argv[i], "--status"))
            a->status = 1;
        else if (argv[i][0] == '-')
            return usage_error("unknown option '%s'", argv[i]);
        else if (a->command)
            return usage_error("unexpected argument '%s'", argv[i]);
        else if (!strcmp(argv[i], "user")) {
            /* Everything after "user" belongs to it. */
            a->command = argv[i];
            return profile_ctl_user_parse(argc - i - 1, argv + i + 1, &a->user);
        }
        else if (strcmp(argv[i], "migrate") != 0)
            return usage_error("unknown command '%s'", argv[i]);
        else
            a->command = argv[i];
    }
    if (!a->command)
        return usage_error("%s", "no command given");
    return -1;
}

/* The connection string and where it came from; NULL after printing why there is none. */
static char *choose_database(const profile_ctl_args_t *a, const char **source)
{
    char err[1024], *value = NULL;
    const char *env = getenv("PROFILE_DATABASE");
    int rc;

    if (a->database) {
        *source = "--database";
        return strdup(a->database);
    }
    if (a->conf) {
        *source = a->conf;
        if ((rc = profile_ctl_conf_database(a->conf, &value, err, sizeof(err))) < 0)
            fprintf(stderr, "profilectl: %s\n", err);
        else if (rc == 0)
            fprintf(stderr, "profilectl: %s has no ProfileDatabase directive; pass --database\n",
                    a->conf);
        return value;
    }
    if (env && *env) {
        *source = "PROFILE_DATABASE";
        return strdup(env);
    }
    fprintf(stderr, "profilectl: no database given: use --database CONNINFO, --conf FILE "
            "or the environment variable PROFILE_DATABASE\n");
    return NULL;
}

/* Shows warnings from the server; notices such as "already exists, skipping" are noise. */
static void print_warning(void *arg, const PGresult *res)
{
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    (void)arg;
    if (severity && strcmp(severity, "NOTICE") && strcmp(severity, "INFO")
        && strcmp(severity, "DEBUG") && strcmp(severity, "LOG"))
        fprintf(stderr, "profilectl: %s", PQresultErrorMessage(res));
}

/* The operator's conninfo is expanded after our connect_timeout, so theirs wins. */
static PGconn *connect_db(const char *conninfo, const char *source)
{
    const char *keywords[] = { "connect_timeout", "fallback_application_name", "dbname", NULL };
    const char *values[] = { CONNECT_TIMEOUT_S, "profilectl", conninfo, NULL };
    PGconn *conn = PQconnectdbParams(keywords, values, 1);

    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "profilectl: cannot connect to the database given by %s: %s", source,
                conn ? PQerrorMessage(conn) : "out of memory\n");
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeReceiver(conn, print_warning, NULL);
    return conn;
}

int main(int argc, char **argv)
{
    profile_ctl_args_t a = { NULL, NULL, PROFILE_SQL_DIR, NULL, 0, { 0 } };
    profile_ctl_migration_t *list = NULL;
    const char *source = NULL;
    char *conninfo;
    PGconn *conn;
    size_t n = 0;
    int migrate, rc = parse_args(argc, argv, &a);

    if (rc >= 0)
        return rc;
    migrate = !strcmp(a.command, "migrate");
    if (migrate && profile_ctl_sqldir_list(a.sql_dir, &list, &n) != 0)
        return PROFILE_CTL_EXIT_FAILURE;
    rc = PROFILE_CTL_EXIT_FAILURE;
    if ((conninfo = choose_database(&a, &source))) {
        if ((conn = connect_db(conninfo, source))) {
            if (!migrate)
                rc = profile_ctl_user_add(conn, &a.user);
            else
                rc = a.status ? profile_ctl_migrate_status(conn, list, n)
                              : profile_ctl_migrate(conn, list, n);
            PQfinish(conn);
        }
        free(conninfo);
    }
    if (migrate)
        profile_ctl_sqldir_free(list, n);
    return rc;
}
