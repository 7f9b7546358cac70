/* The shared-memory cache table on a heap block, and on a shared mapping with a forked
 * writer racing the reader. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <apr_general.h>

#include "cache/cache_table.h"
#include "util/shm_block.h"

#define SEC(n) ((apr_time_t)(n) * APR_USEC_PER_SEC)
#define T0 SEC(1800000000)

static apr_pool_t *pool;

static void *fresh_block(apr_uint32_t capacity)
{
    void *mem = malloc(profile_cache_table_size(capacity));

    assert_non_null(mem);
    memset(mem, 0xa5, profile_cache_table_size(capacity));  /* garbage, as in a reused block */
    return mem;
}

static profile_cache_entry_t entry(const char *body, apr_time_t fetched, int ttl_s, int stale_s)
{
    profile_cache_entry_t e;

    e.status = 200;
    e.tier = 1;
    e.fetched_at = fetched;
    e.expires_at = fetched + SEC(ttl_s);
    e.stale_until = e.expires_at + SEC(stale_s);
    e.body = body;
    e.body_len = strlen(body);
    e.etag = profile_fnv1a(PROFILE_FNV1A_INIT, body, e.body_len) | 1;
    return e;
}

static int put(profile_cache_table_t *t, const char *key, const char *body, apr_time_t now)
{
    profile_cache_entry_t e = entry(body, now, 300, 600);

    return profile_cache_table_put(t, key, &e, now);
}

/* The body under key at now, or NULL on a miss. */
static const char *get(profile_cache_table_t *t, const char *key, apr_time_t now)
{
    profile_cache_entry_t e;

    return profile_cache_table_get(t, pool, key, now, &e) == 1 ? e.body : NULL;
}

static void test_put_get_replace(void **state)
{
    void *mem = fresh_block(16);
    profile_cache_table_t *t = profile_cache_table_init(mem, 16);
    profile_cache_entry_t in = entry("{\"username\":\"alice\"", T0, 300, 600), out;
    profile_cache_table_stats_t st;

    (void)state;
    assert_non_null(t);
    assert_null(get(t, "alice", T0));
    in.tier = 2;
    assert_int_equal(profile_cache_table_put(t, "alice", &in, T0), 0);
    assert_int_equal(profile_cache_table_get(t, pool, "alice", T0 + 1, &out), 1);
    assert_int_equal(out.status, 200);
    assert_int_equal(out.tier, 2);
    assert_int_equal(out.fetched_at, in.fetched_at);
    assert_int_equal(out.expires_at, in.expires_at);
    assert_int_equal(out.stale_until, in.stale_until);
    assert_int_equal(out.etag, in.etag);
    assert_int_equal(out.body_len, in.body_len);
    assert_string_equal(out.body, in.body);
    assert_null(get(t, "alic", T0));
    assert_null(get(t, "alicee", T0));

    /* A negative entry: empty body. */
    in = entry("", T0, 60, 0);
    in.status = 404;
    in.tier = -1;
    assert_int_equal(profile_cache_table_put(t, "ghost", &in, T0), 0);
    assert_int_equal(profile_cache_table_get(t, pool, "ghost", T0, &out), 1);
    assert_int_equal(out.status, 404);
    assert_int_equal(out.tier, -1);
    assert_int_equal(out.body_len, 0);
    assert_string_equal(out.body, "");

    assert_int_equal(put(t, "alice", "second version, longer than the first", T0 + 5), 0);
    assert_string_equal(get(t, "alice", T0 + 6), "second version, longer than the first");
    profile_cache_table_stats(t, T0 + 6, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.capacity, 16);
    assert_int_equal(st.body_bytes, strlen("second version, longer than the first"));
    assert_int_equal(st.block_bytes, profile_cache_table_size(16));
    assert_int_equal(st.evictions, 0);
    assert_int_equal(st.expired, 0);
    free(mem);
}

static void test_lru_eviction_after_hits(void **state)
{
    void *mem = fresh_block(4);
    profile_cache_table_t *t = profile_cache_table_init(mem, 4);
    profile_cache_table_stats_t st;

    (void)state;
    assert_int_equal(put(t, "a", "A", T0 + 1), 0);
    assert_int_equal(put(t, "b", "B", T0 + 2), 0);
    assert_int_equal(put(t, "c", "C", T0 + 3), 0);
    assert_int_equal(put(t, "d", "D", T0 + 4), 0);
    assert_non_null(get(t, "a", T0 + 5));          /* a is now the most recent */
    assert_int_equal(put(t, "e", "E", T0 + 6), 0); /* evicts b */
    assert_null(get(t, "b", T0 + 7));
    assert_non_null(get(t, "c", T0 + 8));
    assert_int_equal(put(t, "f", "F", T0 + 9), 0); /* evicts d (a: 5, c: 8, e: 6) */
    assert_null(get(t, "d", T0 + 10));
    assert_int_equal(put(t, "g", "G", T0 + 11), 0); /* evicts a (5) */
    assert_null(get(t, "a", T0 + 12));
    assert_string_equal(get(t, "c", T0 + 12), "C");
    assert_string_equal(get(t, "e", T0 + 12), "E");
    assert_string_equal(get(t, "f", T0 + 12), "F");
    assert_string_equal(get(t, "g", T0 + 12), "G");
    /* Replacing does not evict. */
    assert_int_equal(put(t, "g", "G2", T0 + 13), 0);
    profile_cache_table_stats(t, T0 + 13, &st);
    assert_int_equal(st.entries, 4);
    assert_int_equal(st.evictions, 3);
    assert_int_equal(st.body_bytes, 5);
    free(mem);
}

/* An entry past stale_until is useless: it goes before any live one, however recently used. */
static void test_dead_entries_evicted_first(void **state)
{
    void *mem = fresh_block(2);
    profile_cache_table_t *t = profile_cache_table_init(mem, 2);
    profile_cache_entry_t short_lived = entry("S", T0, 1, 0);

    (void)state;
    assert_int_equal(put(t, "old", "O", T0), 0);
    assert_int_equal(profile_cache_table_put(t, "short", &short_lived, T0 + 1), 0);
    assert_int_equal(put(t, "new", "N", T0 + SEC(2)), 0);
    assert_string_equal(get(t, "old", T0 + SEC(2)), "O");
    assert_string_equal(get(t, "new", T0 + SEC(2)), "N");
    free(mem);
}

/* n keys whose index home position (hash & mask) is home. */
static void colliding_keys(int n, apr_uint32_t mask, apr_uint32_t home, char keys[][16])
{
    int found = 0, i;

    for (i = 0; found < n; i++) {
        snprintf(keys[found], 16, "k%d", i);
        if ((profile_fnv1a(PROFILE_FNV1A_INIT, keys[found], strlen(keys[found])) & mask) == home)
            found++;
    }
}

static void check_present(profile_cache_table_t *t, char keys[][16], const int *present, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        const char *body = get(t, keys[i], T0);

        if (present[i])
            assert_string_equal(body, keys[i]);
        else
            assert_null(body);
    }
}

/* Capacity 8: an index of 16 positions. Keys sharing a home position form one probe run; a
 * run that starts at the last position wraps around to the first. Every order of deletion
 * keeps the others findable. */
static void run_collisions(apr_uint32_t home)
{
    void *mem = fresh_block(8);
    profile_cache_table_t *t = profile_cache_table_init(mem, 8);
    char keys[8][16];
    int present[8], order, i;

    colliding_keys(5, 15, home, keys);
    colliding_keys(3, 15, (home + 1) & 15, keys + 5);   /* displaced by the first run */
    for (order = 0; order < 3; order++) {
        for (i = 0; i < 8; i++) {
            assert_int_equal(put(t, keys[i], keys[i], T0), 0);
            present[i] = 1;
        }
        check_present(t, keys, present, 8);
        for (i = 0; i < 8; i++) {
            int k = order == 0 ? i : order == 1 ? 7 - i : (i * 3) % 8;

            assert_int_equal(profile_cache_table_delete(t, keys[k]), 1);
            assert_int_equal(profile_cache_table_delete(t, keys[k]), 0);
            present[k] = 0;
            check_present(t, keys, present, 8);
        }
    }
    free(mem);
}

static void test_delete_backward_shift(void **state)
{
    (void)state;
    run_collisions(3);
    run_collisions(15);
}

/* Random operations against a model: the table holds exactly what the model holds. */
static void test_random_against_model(void **state)
{
    enum { CAP = 32, KEYS = 64 };
    void *mem = fresh_block(CAP);
    profile_cache_table_t *t = profile_cache_table_init(mem, CAP);
    char keys[KEYS][16];
    int present[KEYS] = { 0 }, n = 0, i, k;
    profile_cache_table_stats_t st;

    (void)state;
    srand(7);
    for (i = 0; i < KEYS; i++)
        snprintf(keys[i], 16, "user%d", i);
    for (i = 0; i < 20000; i++) {
        k = rand() % KEYS;
        if (rand() % 3 == 0) {
            assert_int_equal(profile_cache_table_delete(t, keys[k]), present[k]);
            n -= present[k];
            present[k] = 0;
        } else if (n < CAP || present[k]) {
            assert_int_equal(put(t, keys[k], keys[k], T0), 0);
            n += !present[k];
            present[k] = 1;
        }
    }
    check_present(t, keys, present, KEYS);
    profile_cache_table_stats(t, T0, &st);
    assert_int_equal(st.entries, n);
    assert_int_equal(st.evictions, 0);
    free(mem);
}

static void test_expiry(void **state)
{
    void *mem = fresh_block(8);
    profile_cache_table_t *t = profile_cache_table_init(mem, 8);
    profile_cache_entry_t a = entry("A", T0, 10, 100), b = entry("B", T0, 20, 0),
                          c = entry("C", T0, 300, 0);
    profile_cache_table_stats_t st;

    (void)state;
    assert_int_equal(profile_cache_table_put(t, "a", &a, T0), 0);
    assert_int_equal(profile_cache_table_put(t, "b", &b, T0), 0);
    assert_int_equal(profile_cache_table_put(t, "c", &c, T0), 0);
    /* Expired but within stale_until: still served (the caller marks it stale). */
    assert_string_equal(get(t, "a", T0 + SEC(50)), "A");
    assert_null(get(t, "a", T0 + SEC(110)));
    assert_null(get(t, "b", T0 + SEC(20)));
    assert_string_equal(get(t, "b", T0 + SEC(20) - 1), "B");
    profile_cache_table_stats(t, T0 + SEC(15), &st);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.entries, 3);
    assert_int_equal(profile_cache_table_clear_expired(t, T0 + SEC(5)), 0);
    assert_int_equal(profile_cache_table_clear_expired(t, T0 + SEC(25)), 2);
    assert_int_equal(profile_cache_table_clear_expired(t, T0 + SEC(25)), 0);
    assert_null(get(t, "a", T0 + SEC(30)));
    assert_string_equal(get(t, "c", T0 + SEC(30)), "C");
    profile_cache_table_stats(t, T0 + SEC(30), &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.body_bytes, 1);
    free(mem);
}

static void test_limits(void **state)
{
    void *mem = fresh_block(4);
    profile_cache_table_t *t = profile_cache_table_init(mem, 4);
    char *big = malloc(PROFILE_CACHE_BODY_MAX + 2);
    profile_cache_entry_t e;

    (void)state;
    memset(big, 'x', PROFILE_CACHE_BODY_MAX + 1);
    big[PROFILE_CACHE_BODY_MAX + 1] = '\0';
    e = entry(big, T0, 300, 0);
    assert_int_equal(profile_cache_table_put(t, "big", &e, T0), -1);
    assert_null(get(t, "big", T0));
    e.body_len = PROFILE_CACHE_BODY_MAX;       /* exactly the largest */
    assert_int_equal(profile_cache_table_put(t, "big", &e, T0), 0);
    assert_int_equal(profile_cache_table_get(t, pool, "big", T0, &e), 1);
    assert_int_equal(e.body_len, PROFILE_CACHE_BODY_MAX);
    assert_int_equal(put(t, "abcdefghijklmnopqrstuvwx", "24", T0), 0);
    assert_string_equal(get(t, "abcdefghijklmnopqrstuvwx", T0), "24");
    assert_int_equal(put(t, "abcdefghijklmnopqrstuvwxy", "25", T0), -1);
    assert_null(get(t, "abcdefghijklmnopqrstuvwxy", T0));
    assert_int_equal(put(t, "", "empty key", T0), -1);
    assert_int_equal(profile_cache_table_delete(t, "abcdefghijklmnopqrstuvwxy"), 0);
    free(big);
    free(mem);
}

static void test_reinit(void **state)
{
    void *mem = fresh_block(64);
    profile_cache_table_t *t = profile_cache_table_init(mem, 32);

    (void)state;
    assert_true(profile_cache_table_size(64) > profile_cache_table_size(32));
    assert_int_equal(put(t, "kept", "K", T0), 0);
    t = profile_cache_table_init(mem, 32);     /* a graceful restart, same capacity */
    assert_string_equal(get(t, "kept", T0), "K");
    t = profile_cache_table_init(mem, 64);     /* another capacity: a new table */
    assert_null(get(t, "kept", T0));
    assert_int_equal(put(t, "new", "N", T0), 0);
    assert_string_equal(get(t, "new", T0), "N");
    free(mem);
}

/* A body of n copies of c; the etag says which. */
static void fill(char *buf, int c, apr_size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
}

/* A forked child rewrites a few keys with bodies of varying length and content while the
 * parent reads them: every hit is one whole version (body, length and etag agree). */
static void test_forked_writer(void **state)
{
    enum { ROUNDS = 3000 };
    apr_size_t size = profile_cache_table_size(4);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    profile_cache_table_t *t;
    static char body[PROFILE_CACHE_BODY_MAX + 1];
    pid_t child;
    int i, hits = 0, status;

    (void)state;
    assert_true(mem != MAP_FAILED);
    t = profile_cache_table_init(mem, 4);
    assert_non_null(t);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        for (i = 0; i < ROUNDS; i++) {
            int c = 'a' + i % 26;
            apr_size_t n = (apr_size_t)(i * 97) % PROFILE_CACHE_BODY_MAX;
            profile_cache_entry_t e;

            fill(body, c, n);
            e = entry(body, T0, 300, 0);
            e.etag = (apr_uint64_t)c << 32 | n;
            profile_cache_table_put(t, i % 2 ? "odd" : "even", &e, T0 + i);
            if (i % 5 == 0)
                profile_cache_table_delete(t, "even");
        }
        _exit(0);
    }
    for (i = 0; i < ROUNDS * 4; i++) {
        profile_cache_entry_t e;

        if (profile_cache_table_get(t, pool, i % 2 ? "odd" : "even", T0, &e) == 1) {
            int c = (int)(e.etag >> 32);
            apr_size_t n = (apr_size_t)(e.etag & 0xffffffff), j;

            assert_int_equal(e.body_len, n);
            for (j = 0; j < n; j++)
                assert_int_equal(e.body[j], c);
            hits++;
        }
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(get(t, "odd", T0));
    printf("# %d consistent hits while the child wrote\n", hits);
    munmap(mem, size);
}

/* Writers killed at random moments, possibly holding the mutex: the next writer takes the
 * mutex over (the table is cleared then), and the table keeps working. */
static void test_killed_writers(void **state)
{
    apr_size_t size = profile_cache_table_size(8);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    profile_cache_table_t *t;
    profile_cache_table_stats_t st;
    int round;

    (void)state;
    assert_true(mem != MAP_FAILED);
    t = profile_cache_table_init(mem, 8);
    for (round = 0; round < 10; round++) {
        pid_t child = fork();
        int status;

        assert_true(child >= 0);
        if (child == 0) {
            char key[16];
            int i;

            for (i = 0;; i++) {
                snprintf(key, sizeof(key), "w%d", i % 12);
                put(t, key, key, T0 + i);
                if (i % 3 == 0)
                    profile_cache_table_delete(t, key);
            }
        }
        usleep(2000 + (useconds_t)round * 1000);
        kill(child, SIGKILL);
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_int_equal(put(t, "parent", "P", T0), 0);
        assert_string_equal(get(t, "parent", T0), "P");
        profile_cache_table_stats(t, T0, &st);
        assert_true(st.entries >= 1 && st.entries <= 8);
    }
    munmap(mem, size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_lru_eviction_after_hits),
        cmocka_unit_test(test_dead_entries_evicted_first),
        cmocka_unit_test(test_delete_backward_shift),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_reinit),
        cmocka_unit_test(test_forked_writer),
        cmocka_unit_test(test_killed_writers),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
