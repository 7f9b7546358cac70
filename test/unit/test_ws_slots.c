/* The per-principal count of open WebSocket streams (ws/ws_table.c): the cap, release, the
 * reclaim of slots whose process died, a full table; and the session id of a /ws path
 * (store/live_sessions.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <apr_general.h>
#include "store/live_sessions.h"
#include "ws/ws_table.h"

#define DEAD_PID 666u

static int alive_but_dead_pid(apr_uint32_t pid)
{
    return pid != DEAD_PID;
}

static profile_ws_table_t *new_table(apr_uint32_t slots, void **mem)
{
    *mem = calloc(1, profile_ws_table_size(slots));
    assert_non_null(*mem);
    return profile_ws_table_init(*mem, slots);
}

static void test_cap_per_principal(void **state)
{
    void *mem;
    profile_ws_table_t *t = new_table(64, &mem);
    apr_uint32_t alice = profile_ws_tag("key:alice"), bob = profile_ws_tag("key:bob");
    int slots[3], open, i;
    (void)state;

    assert_int_not_equal(alice, bob);
    for (i = 0; i < 3; i++) {
        slots[i] = profile_ws_table_acquire(t, alice, 100, 3, alive_but_dead_pid, &open);
        assert_true(slots[i] >= 0);
        assert_int_equal(open, i + 1);
    }
    /* The fourth is refused and leaves no slot behind. */
    assert_int_equal(profile_ws_table_acquire(t, alice, 100, 3, alive_but_dead_pid, &open),
                     PROFILE_WS_OVER_LIMIT);
    assert_int_equal(open, 3);
    assert_int_equal(profile_ws_table_count(t, alive_but_dead_pid), 3);
    /* Another principal has its own count; another process of the same principal does not. */
    assert_true(profile_ws_table_acquire(t, bob, 100, 3, alive_but_dead_pid, &open) >= 0);
    assert_int_equal(open, 1);
    assert_int_equal(profile_ws_table_acquire(t, alice, 101, 3, alive_but_dead_pid, &open),
                     PROFILE_WS_OVER_LIMIT);
    /* A release makes room. */
    profile_ws_table_release(t, slots[1], alice, 100);
    assert_true(profile_ws_table_acquire(t, alice, 101, 3, alive_but_dead_pid, &open) >= 0);
    assert_int_equal(open, 3);
    assert_int_equal(profile_ws_table_count(t, alive_but_dead_pid), 4);
    /* max 0: no cap. */
    for (i = 0; i < 10; i++)
        assert_true(profile_ws_table_acquire(t, bob, 100, 0, alive_but_dead_pid, &open) >= 0);
    assert_int_equal(open, 11);
    free(mem);
}

static void test_release_only_own_word(void **state)
{
    void *mem;
    profile_ws_table_t *t = new_table(64, &mem);
    apr_uint32_t tag = profile_ws_tag("user:7");
    int open, slot = profile_ws_table_acquire(t, tag, 100, 1, alive_but_dead_pid, &open);
    (void)state;

    assert_true(slot >= 0);
    /* A wrong pid, tag or index changes nothing. */
    profile_ws_table_release(t, slot, tag, 101);
    profile_ws_table_release(t, slot, tag + 1, 100);
    profile_ws_table_release(t, -1, tag, 100);
    profile_ws_table_release(t, 64, tag, 100);
    assert_int_equal(profile_ws_table_count(t, alive_but_dead_pid), 1);
    profile_ws_table_release(t, slot, tag, 100);
    assert_int_equal(profile_ws_table_count(t, alive_but_dead_pid), 0);
    free(mem);
}

static void test_dead_process_reclaimed(void **state)
{
    void *mem;
    profile_ws_table_t *t = new_table(64, &mem);
    apr_uint32_t tag = profile_ws_tag("key:alice");
    int open, i;
    (void)state;

    /* A child that held two streams died without releasing them. */
    for (i = 0; i < 2; i++)
        assert_true(profile_ws_table_acquire(t, tag, DEAD_PID, 2, alive_but_dead_pid,
                                             &open) >= 0);
    /* Its slots do not count against the principal any more. */
    for (i = 0; i < 2; i++) {
        assert_true(profile_ws_table_acquire(t, tag, 100, 2, alive_but_dead_pid, &open) >= 0);
        assert_int_equal(open, i + 1);
    }
    assert_int_equal(profile_ws_table_count(t, alive_but_dead_pid), 2);
    free(mem);
}

static void test_full_table(void **state)
{
    void *mem;
    profile_ws_table_t *t = new_table(4, &mem);
    int open, i, dead_slot = -1;
    (void)state;

    for (i = 0; i < 4; i++) {
        int slot = profile_ws_table_acquire(t, (apr_uint32_t)i, i == 2 ? DEAD_PID : 100, 0,
                                            alive_but_dead_pid, &open);
        assert_true(slot >= 0);
        if (i == 2)
            dead_slot = slot;
    }
    /* Full of live slots but one: the dead one is taken over. */
    assert_int_equal(profile_ws_table_acquire(t, 9, 100, 0, alive_but_dead_pid, &open),
                     dead_slot);
    assert_int_equal(profile_ws_table_acquire(t, 10, 100, 0, alive_but_dead_pid, &open),
                     PROFILE_WS_TABLE_FULL);
    assert_int_equal(profile_ws_table_count(t, alive_but_dead_pid), 4);
    free(mem);
}

static void test_init_keeps_a_table(void **state)
{
    void *mem;
    profile_ws_table_t *t = new_table(16, &mem);
    int open;
    (void)state;

    assert_true(profile_ws_table_acquire(t, 1, 100, 0, alive_but_dead_pid, &open) >= 0);
    /* A restart with the same size keeps the count. */
    t = profile_ws_table_init(mem, 16);
    assert_int_equal(profile_ws_table_count(t, alive_but_dead_pid), 1);
    free(mem);
}

static const char *id_of(apr_pool_t *p, const char *path)
{
    return profile_live_session_id_of_path(p, path);
}

static void test_session_id_of_path(void **state)
{
    apr_pool_t *p;
    (void)state;

    apr_pool_create(&p, NULL);
    assert_string_equal(id_of(p, "/ws/comments/test-session"), "test-session");
    assert_string_equal(id_of(p, "/ws/comments/A_b-9"), "A_b-9");
    assert_string_equal(id_of(p, "/ws/comments/comments/x"), "x");
    assert_null(id_of(p, "/ws/comments/"));
    assert_null(id_of(p, "/ws/comments/a/"));
    assert_null(id_of(p, "/ws/comments/a.b"));
    assert_null(id_of(p, "/ws/comments/a b"));
    assert_null(id_of(p, "/ws/other/abc"));
    assert_null(id_of(p, NULL));
    assert_null(id_of(p,
        "/ws/comments/a123456789b123456789c123456789d123456789e123456789f123456789abcde"));
    assert_non_null(id_of(p,
        "/ws/comments/a123456789b123456789c123456789d123456789e123456789f123456789abcd"));
    apr_pool_destroy(p);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(profile_live_status_ok("stopping"));
    assert_false(profile_live_status_ok("Live"));
    assert_true(profile_live_event_type_ok("viewers"));
    assert_false(profile_live_event_type_ok("comments"));
    assert_false(profile_live_session_id_ok(""));
    assert_false(profile_live_session_id_ok("a/b"));
    assert_true(profile_live_session_id_ok("test-session"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_per_principal),
        cmocka_unit_test(test_release_only_own_word),
        cmocka_unit_test(test_dead_process_reclaimed),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_init_keeps_a_table),
        cmocka_unit_test(test_session_id_of_path),
        cmocka_unit_test(test_names),
    };
    int rc;

    apr_initialize();
    rc = cmocka_run_group_tests_name("ws_slots", tests, NULL, NULL);
    apr_terminate();
    return rc;
}
