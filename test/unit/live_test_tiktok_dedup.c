/* The tiktok source's bounded id set (tiktok/dedup.c): repeats are caught, the oldest id is
 * forgotten once capacity distinct ids came after it, and a long random run agrees with a
 * brute-force model (exercising the hash table's backward-shift deletion). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tiktok/dedup.h"

static void test_repeats(void **state)
{
    live_dedup_t *d = live_dedup_new(8192);

    (void)state;
    assert_non_null(d);
    assert_int_equal(live_dedup_seen(d, 7301), 0);
    assert_int_equal(live_dedup_seen(d, 7301), 1);
    assert_int_equal(live_dedup_seen(d, 0), 0);
    assert_int_equal(live_dedup_seen(d, 0), 1);
    assert_int_equal(live_dedup_seen(d, UINT64_MAX), 0);
    assert_int_equal(live_dedup_seen(d, UINT64_MAX), 1);
    assert_int_equal(live_dedup_seen(d, 7302), 0);
    live_dedup_free(d);
}

static void test_eviction(void **state)
{
    live_dedup_t *d = live_dedup_new(8192);
    uint64_t base = 7300000000000000000ULL;

    (void)state;
    assert_non_null(d);
    for (uint64_t i = 0; i < 8192; i++)
        assert_int_equal(live_dedup_seen(d, base + i), 0);
    for (uint64_t i = 0; i < 8192; i++)          /* all still remembered */
        assert_int_equal(live_dedup_seen(d, base + i), 1);
    assert_int_equal(live_dedup_seen(d, base + 8192), 0);   /* forgets base + 0 */
    assert_int_equal(live_dedup_seen(d, base + 1), 1);
    assert_int_equal(live_dedup_seen(d, base + 0), 0);      /* new again; forgets base + 1 */
    assert_int_equal(live_dedup_seen(d, base + 1), 0);
    assert_int_equal(live_dedup_seen(d, base + 8192), 1);
    live_dedup_free(d);
}

/* Random ids from a small range against a model: the last cap distinct ids inserted. */
static void test_against_model(void **state)
{
    enum { CAP = 37, RANGE = 120, STEPS = 200000 };
    uint64_t model[CAP];
    size_t head = 0, count = 0;
    uint32_t seed = 12345;
    live_dedup_t *d = live_dedup_new(CAP);

    (void)state;
    assert_non_null(d);
    for (int step = 0; step < STEPS; step++) {
        uint64_t key;
        int in_model = 0;
        seed = seed * 1103515245u + 12345u;
        key = (seed >> 8) % RANGE;
        if (step % 3 == 0)
            key *= 0x10000;                       /* spread some keys apart */
        for (size_t i = 0; i < count; i++)
            if (model[i] == key)
                in_model = 1;
        assert_int_equal(live_dedup_seen(d, key), in_model);
        if (!in_model) {
            model[head] = key;
            head = (head + 1) % CAP;
            if (count < CAP)
                count++;
        }
    }
    live_dedup_free(d);
}

static void test_keys(void **state)
{
    (void)state;
    assert_true(live_dedup_key("7301234567890123456") == 7301234567890123456ULL);
    assert_true(live_dedup_key("42") == 42);
    assert_true(live_dedup_key("0") == 0);
    assert_true(live_dedup_key("abc") == live_dedup_key("abc"));
    assert_true(live_dedup_key("abc") != live_dedup_key("abd"));
    assert_true(live_dedup_key("042") != 42);            /* not canonical: hashed */
    assert_true(live_dedup_key("") == live_dedup_key(NULL));
    assert_true(live_dedup_key("99999999999999999999999") != 0);
    assert_null(live_dedup_new(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeats),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
