/* `user add`: creates an account (the first admin, or the dev stack's seed user) with an
 * argon2id password hash, through the module's own store and hashing code. */
#include <apr_general.h>
#include <apr_pools.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/identity.h"
#include "auth/password.h"
#include "profilectl.h"
#include "store/schema.h"
#include "store/users.h"

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "profilectl: user add: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'profilectl --help'.\n");
    return PROFILE_CTL_EXIT_USAGE;
}

/* "m=19456,t=2,p=1" (commas or spaces, any order, each at most once). */
static int parse_hash(const char *spec, profile_argon2_params_t *out)
{
    char copy[128], *tok, *save = NULL;
    int *slot, seen = 0;
    long v;

    if (strlen(spec) >= sizeof(copy))
        return -1;
    strcpy(copy, spec);
    for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *end;
        int bit;
        if (tok[0] == 'm' && tok[1] == '=')
            slot = &out->memory_kib, bit = 1;
        else if (tok[0] == 't' && tok[1] == '=')
            slot = &out->iterations, bit = 2;
        else if (tok[0] == 'p' && tok[1] == '=')
            slot = &out->parallelism, bit = 4;
        else
            return -1;
        v = strtol(tok + 2, &end, 10);
        if (end == tok + 2 || *end || (seen & bit) || v < 1 || v > 4194304)
            return -1;
        *slot = (int)v;
        seen |= bit;
    }
    return out->iterations <= 100 && out->parallelism <= 64
           && out->memory_kib >= 8 * out->parallelism ? 0 : -1;
}

/* One line of stdin without its line end; -1 after printing why there is none. */
static int read_password(char *buf, size_t size)
{
    size_t n;

    if (!fgets(buf, (int)size, stdin)) {
        fprintf(stderr, "profilectl: user add: no password on standard input\n");
        return -1;
    }
    n = strlen(buf);
    if (n == size - 1 && buf[n - 1] != '\n' && !feof(stdin)) {
        fprintf(stderr, "profilectl: user add: the password is longer than %d bytes\n",
                PROFILE_PASSWORD_MAX_BYTES);
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 0;
}

static int set_role(profile_ctl_user_args_t *a, const char *name)
{
    profile_role_t role = profile_role_parse(name);
    if (role == PROFILE_ROLE_NONE)
        return usage_error("--role must be admin, user or readonly, got '%s'", name);
    if (a->role != PROFILE_ROLE_NONE && a->role != role)
        return usage_error("%s", "--admin and --role disagree");
    a->role = role;
    return -1;
}

/* Option value of --name VALUE or --name=VALUE at argv[*i]; NULL when argv[*i] is not it. */
static const char *value_of(int argc, char **argv, int *i, const char *name, int *missing)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0)
        return NULL;
    if (argv[*i][len] == '=')
        return argv[*i] + len + 1;
    if (argv[*i][len] != '\0')
        return NULL;
    if (*i + 1 < argc)
        return argv[++*i];
    *missing = 1;
    return NULL;
}

int profile_ctl_user_parse(int argc, char **argv, profile_ctl_user_args_t *a)
{
    const char *v, *hash = NULL, *password = NULL;
    int i, rc, missing = 0, from_stdin = 0;

    memset(a, 0, sizeof(*a));
    a->hash.memory_kib = 19456;
    a->hash.iterations = 2;
    a->hash.parallelism = 1;
    if (argc < 1)
        return usage_error("%s", "no subcommand given (add)");
    if (strcmp(argv[0], "add") != 0)
        return usage_error("unknown subcommand '%s' (add)", argv[0]);
    for (i = 1; i < argc; i++) {
        if ((v = value_of(argc, argv, &i, "--username", &missing)))
            a->username = v;
        else if ((v = value_of(argc, argv, &i, "--email", &missing)))
            a->email = v;
        else if ((v = value_of(argc, argv, &i, "--password", &missing)))
            password = v;
        else if ((v = value_of(argc, argv, &i, "--role", &missing))) {
            if ((rc = set_role(a, v)) >= 0)
                return rc;
        }
        else if ((v = value_of(argc, argv, &i, "--hash", &missing)))
            hash = v;
        else if (missing)
            return usage_error("%s needs a value", argv[i]);
        else if (!strcmp(argv[i], "--admin")) {
            if ((rc = set_role(a, "admin")) >= 0)
                return rc;
        }
        else if (!strcmp(argv[i], "--password-stdin"))
            from_stdin = 1;
        else if (!strcmp(argv[i], "--if-missing"))
            a->if_missing = 1;
        else if (!strncmp(argv[i], "--database", 10) || !strncmp(argv[i], "--conf", 6)
                 || !strncmp(argv[i], "--sql-dir", 9))
            return usage_error("%s goes before the command", argv[i]);
        else
            return usage_error("unexpected argument '%s'", argv[i]);
    }
    if (a->role == PROFILE_ROLE_NONE)
        a->role = PROFILE_ROLE_USER;
    if (!a->username || !profile_username_length_ok(a->username)
        || !profile_username_chars_ok(a->username))
        return usage_error("--username must be 3 to 32 of A-Z a-z 0-9 _ . -, got '%s'",
                           a->username ? a->username : "");
    if (!a->email || !profile_email_ok(a->email))
        return usage_error("--email must be an address like name@example.org, got '%s'",
                           a->email ? a->email : "");
    if (hash && parse_hash(hash, &a->hash) != 0)
        return usage_error("--hash must be m=<KiB>,t=<iterations>,p=<lanes> (t 1..100, "
                           "p 1..64, m >= 8*p), got '%s'", hash);
    if (!password == !from_stdin)
        return usage_error("%s", "give exactly one of --password-stdin and --password");
    if (password && strlen(password) < sizeof(a->password))
        strcpy(a->password, password);
    else if (!password && read_password(a->password, sizeof(a->password)) != 0)
        return PROFILE_CTL_EXIT_FAILURE;
    if ((password && strlen(password) >= sizeof(a->password))
        || strlen(a->password) > PROFILE_PASSWORD_MAX_BYTES)
        return usage_error("the password is longer than %s bytes",
                           APR_STRINGIFY(PROFILE_PASSWORD_MAX_BYTES));
    if (!a->password[0])
        return usage_error("%s", "the password is empty");
    return -1;
}

/* Refuses to write into a database whose schema this build does not know yet. */
static int schema_ready(PGconn *conn)
{
    int version = 0, rc = profile_schema_current(conn, &version);

    if (rc < 0)
        fprintf(stderr, "profilectl: cannot read the schema version: %s", PQerrorMessage(conn));
    else if (rc == 0)
        fprintf(stderr, "profilectl: the database schema is at version %d, this build needs %d: "
                "run 'profilectl migrate' first\n", version, PROFILE_SCHEMA_VERSION);
    return rc == 1;
}

static int insert_user(PGconn *conn, apr_pool_t *p, const profile_ctl_user_args_t *a)
{
    const char *hash = profile_password_hash(p, a->password, &a->hash), *field = NULL;
    profile_user_t user;

    if (!hash) {
        fprintf(stderr, "profilectl: hashing the password failed (out of memory for m=%d KiB?)\n",
                a->hash.memory_kib);
        return PROFILE_CTL_EXIT_FAILURE;
    }
    switch (profile_users_create(conn, p, a->username, a->email, hash, a->role, &user, &field)) {
    case PROFILE_STORE_OK:
        printf("created user %s (id %" APR_INT64_T_FMT ", role %s)\n", user.username, user.id,
               profile_role_name(user.role));
        return PROFILE_CTL_EXIT_OK;
    case PROFILE_STORE_CONFLICT:
        if (!strcmp(field, "username")) {
            if (a->if_missing) {
                printf("user %s exists; left unchanged\n", a->username);
                return PROFILE_CTL_EXIT_OK;
            }
            fprintf(stderr, "profilectl: user %s exists\n", a->username);
        }
        else
            fprintf(stderr, "profilectl: the email %s belongs to another user\n", a->email);
        return PROFILE_CTL_EXIT_FAILURE;
    default:
        fprintf(stderr, "profilectl: creating the user failed: %s", PQerrorMessage(conn));
        return PROFILE_CTL_EXIT_FAILURE;
    }
}

int profile_ctl_user_add(PGconn *conn, profile_ctl_user_args_t *a)
{
    apr_pool_t *p = NULL;
    int rc = PROFILE_CTL_EXIT_FAILURE;

    if (schema_ready(conn)) {
        if (apr_initialize() != APR_SUCCESS)
            fprintf(stderr, "profilectl: cannot initialise APR\n");
        else {
            if (apr_pool_create(&p, NULL) == APR_SUCCESS) {
                rc = insert_user(conn, p, a);
                apr_pool_destroy(p);
            }
            apr_terminate();
        }
    }
    explicit_bzero(a->password, sizeof(a->password));
    return rc;
}
