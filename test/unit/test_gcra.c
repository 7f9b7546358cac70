/* GCRA decisions on a simulated clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ratelimit/gcra.h"

#define SEC(n) ((apr_int64_t)(n) * 1000000)
#define MS(n) ((apr_int64_t)(n) * 1000)
#define T0 SEC(1800000000)

/* One request at now against the bucket *tat; stores the new TAT when allowed. */
static int hit(const profile_gcra_t *g, apr_int64_t *tat, apr_int64_t now,
               profile_gcra_result_t *res)
{
    profile_gcra_result_t local;

    if (!res)
        res = &local;
    profile_gcra_decide(g, *tat, now, res);
    if (res->allowed)
        *tat = res->new_tat;
    return res->allowed;
}

static void test_init(void **state)
{
    profile_gcra_t g;

    (void)state;
    profile_gcra_init(&g, 10, 60, 0);
    assert_int_equal(g.emission_us, SEC(6));
    assert_int_equal(g.burst, 10);
    assert_int_equal(g.capacity_us, SEC(60));
    profile_gcra_init(&g, 3, 7, 5);
    assert_int_equal(g.emission_us, 2333334);       /* rounded up */
    assert_int_equal(g.capacity_us, 5 * 2333334);
    profile_gcra_init(&g, 0, 0, -1);                /* nonsense clamps to 1 per second */
    assert_int_equal(g.emission_us, SEC(1));
    assert_int_equal(g.burst, 1);
}

static void test_burst_from_empty(void **state)
{
    profile_gcra_t g;
    profile_gcra_result_t res;
    apr_int64_t tat = 0;
    int i;

    (void)state;
    profile_gcra_init(&g, 10, 60, 0);
    for (i = 0; i < 10; i++) {
        assert_true(hit(&g, &tat, T0, &res));
        assert_int_equal(res.remaining, 9 - i);
        assert_int_equal(res.retry_after_us, 0);
        assert_int_equal(res.reset_after_us, SEC(6) * (i + 1));
    }
    assert_false(hit(&g, &tat, T0, &res));
    assert_int_equal(res.remaining, 0);
    assert_int_equal(res.retry_after_us, SEC(6));
    assert_int_equal(res.reset_after_us, SEC(60));
    assert_int_equal(res.new_tat, tat);             /* a refusal leaves the state alone */
    assert_int_equal(tat, T0 + SEC(60));
}

static void test_retry_after_is_exact(void **state)
{
    profile_gcra_t g;
    profile_gcra_result_t res;
    apr_int64_t tat = 0;
    int i;

    (void)state;
    profile_gcra_init(&g, 10, 60, 0);
    for (i = 0; i < 10; i++)
        hit(&g, &tat, T0, NULL);
    assert_false(hit(&g, &tat, T0 + SEC(2), &res));
    assert_int_equal(res.retry_after_us, SEC(4));
    assert_int_equal(res.reset_after_us, SEC(58));
    assert_false(hit(&g, &tat, T0 + SEC(6) - 1, &res));
    assert_int_equal(res.retry_after_us, 1);
    assert_true(hit(&g, &tat, T0 + SEC(6), &res));
    assert_int_equal(res.remaining, 0);
    assert_int_equal(res.reset_after_us, SEC(60));
    /* A long pause fills the bucket again, not beyond. */
    assert_true(hit(&g, &tat, T0 + SEC(3600), &res));
    assert_int_equal(res.remaining, 9);
}

static void test_steady_rate(void **state)
{
    profile_gcra_t g;
    apr_int64_t tat = 0, t;
    int per_window[10] = {0};
    int i;

    (void)state;
    profile_gcra_init(&g, 10, 60, 0);
    for (i = 0; i < 10; i++)
        hit(&g, &tat, T0, NULL);
    /* A client retrying every 100 ms after spending the burst gets exactly the rate. */
    for (t = T0 + MS(100); t < T0 + SEC(600) + MS(100); t += MS(100))
        if (hit(&g, &tat, t, NULL))
            per_window[(t - T0 - MS(100)) / SEC(60)]++;
    for (i = 0; i < 10; i++)
        assert_int_equal(per_window[i], 10);
}

/* A fixed window would allow 10 at 59.9 s and 10 more at 60.1 s; GCRA does not, and no
 * sliding 60 s window ever holds more than burst + requests - 1 (19). */
static void test_no_window_edge_doubling(void **state)
{
    profile_gcra_t g;
    apr_int64_t tat = 0, t;
    apr_int64_t allowed_at[200];
    int n = 0, i, j, second = 0;

    (void)state;
    profile_gcra_init(&g, 10, 60, 0);
    for (i = 0; i < 10; i++)
        if (hit(&g, &tat, T0 + MS(59900), NULL))
            allowed_at[n++] = T0 + MS(59900);
    assert_int_equal(n, 10);
    for (i = 0; i < 10; i++)
        second += hit(&g, &tat, T0 + MS(60100), NULL);
    assert_int_equal(second, 0);
    for (t = T0 + MS(60100); t < T0 + SEC(600); t += MS(50))
        if (hit(&g, &tat, t, NULL))
            allowed_at[n++] = t;
    for (i = 0; i < n; i++) {
        int in_window = 0;

        for (j = i; j < n && allowed_at[j] < allowed_at[i] + SEC(60); j++)
            in_window++;
        assert_true(in_window <= (i < 10 ? 19 : 10));
    }
}

static void test_uneven_interval_never_exceeds(void **state)
{
    profile_gcra_t g;
    apr_int64_t tat = 0, t;
    apr_int64_t allowed_at[64];
    int n = 0, i, j;

    (void)state;
    profile_gcra_init(&g, 3, 7, 1);
    for (t = T0; t < T0 + SEC(70) && n < 64; t += 1000)
        if (hit(&g, &tat, t, NULL))
            allowed_at[n++] = t;
    assert_true(n >= 29);
    for (i = 0; i < n; i++) {
        int in_window = 0;

        for (j = i; j < n && allowed_at[j] < allowed_at[i] + SEC(7); j++)
            in_window++;
        assert_true(in_window <= 3);
    }
}

static void test_burst_below_requests(void **state)
{
    profile_gcra_t g;
    apr_int64_t tat = 0;
    profile_gcra_result_t res;

    (void)state;
    profile_gcra_init(&g, 10, 60, 2);
    assert_true(hit(&g, &tat, T0, &res));
    assert_int_equal(res.remaining, 1);
    assert_true(hit(&g, &tat, T0, NULL));
    assert_false(hit(&g, &tat, T0, &res));
    assert_int_equal(res.retry_after_us, SEC(6));
    assert_int_equal(res.reset_after_us, SEC(12));
    assert_true(hit(&g, &tat, T0 + SEC(6), NULL));
    assert_false(hit(&g, &tat, T0 + SEC(6), NULL));
}

static void test_burst_above_requests(void **state)
{
    profile_gcra_t g;
    apr_int64_t tat = 0;
    profile_gcra_result_t res;
    int i, n = 0;

    (void)state;
    profile_gcra_init(&g, 10, 60, 30);
    for (i = 0; i < 40; i++)
        n += hit(&g, &tat, T0, NULL);
    assert_int_equal(n, 30);
    assert_false(hit(&g, &tat, T0 + SEC(5), &res));
    assert_int_equal(res.retry_after_us, SEC(1));
    assert_int_equal(res.reset_after_us, SEC(175));
    assert_true(hit(&g, &tat, T0 + SEC(6), &res));
    assert_int_equal(res.remaining, 0);
}

static void test_overflow_guarded(void **state)
{
    profile_gcra_t g;
    profile_gcra_result_t res;

    (void)state;
    profile_gcra_init(&g, 1, 86400, 1000000);
    assert_int_equal(g.capacity_us, SEC(86400) * 1000000);
    profile_gcra_init(&g, 1, 2147483647, 2147483647);
    assert_true(g.capacity_us > 0);
    assert_int_equal(g.capacity_us % g.emission_us, 0);
    profile_gcra_decide(&g, APR_INT64_MAX - 5, T0, &res);
    assert_false(res.allowed);
    assert_true(res.retry_after_us > 0);
    assert_true(res.reset_after_us > 0);
    profile_gcra_decide(&g, 0, T0, &res);
    assert_true(res.allowed);
    assert_true(res.remaining > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_burst_from_empty),
        cmocka_unit_test(test_retry_after_is_exact),
        cmocka_unit_test(test_steady_rate),
        cmocka_unit_test(test_no_window_edge_doubling),
        cmocka_unit_test(test_uneven_interval_never_exceeds),
        cmocka_unit_test(test_burst_below_requests),
        cmocka_unit_test(test_burst_above_requests),
        cmocka_unit_test(test_overflow_guarded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
