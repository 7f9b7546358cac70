/* The WebSocket loop's pure logic: the frame ring (wrap, lookup, eviction, gaps), channel
 * state merges (publish, probe, follow), subscriber start/plan decisions (gap-free resume),
 * the channel table (cap, sweep) and the upgrade request parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ws/channel.h"
#include "ws/request.h"

#define NOW (1000LL * 1000000)

static live_frame_t *mk(int64_t offset, int final)
{
    char json[64];
    int n = snprintf(json, sizeof(json), "{\"offset\":%lld}", (long long)offset);
    live_frame_t *f = live_frame_new(offset, final ? LIVE_EV_STATUS : LIVE_EV_COMMENT, final,
                                     json, (size_t)n);
    assert_non_null(f);
    return f;
}

/* A chain of frames first..last (the last one final when final is set). */
static live_frame_t *chain(int64_t first, int64_t last, int final)
{
    live_frame_t *head = NULL, **tail = &head;

    for (int64_t o = first; o <= last; o++) {
        *tail = mk(o, final && o == last);
        tail = &(*tail)->next;
    }
    return head;
}

static void test_ring_wrap_and_lookup(void **state)
{
    live_ring_t r;

    (void)state;
    assert_int_equal(live_ring_init(&r, 4), 0);
    assert_int_equal(live_ring_first(&r), 0);
    assert_null(live_ring_get(&r, 1));
    for (int64_t o = 1; o <= 4; o++)
        assert_int_equal(live_ring_push(&r, mk(o, 0)), LIVE_RING_APPENDED);
    assert_int_equal(live_ring_first(&r), 1);
    assert_int_equal(live_ring_last(&r), 4);
    /* Wrap several times: the oldest frame is evicted, lookups stay exact. */
    for (int64_t o = 5; o <= 23; o++) {
        assert_int_equal(live_ring_push(&r, mk(o, 0)), LIVE_RING_APPENDED);
        assert_int_equal(live_ring_first(&r), o - 3);
        assert_int_equal(live_ring_last(&r), o);
        for (int64_t q = o - 3; q <= o; q++)
            assert_int_equal(live_ring_get(&r, q)->offset, q);
        assert_null(live_ring_get(&r, o - 4));
        assert_null(live_ring_get(&r, o + 1));
    }
    assert_int_equal(live_ring_push(&r, mk(22, 0)), LIVE_RING_DUP);
    assert_int_equal(live_ring_last(&r), 23);
    /* A gap restarts the ring at the new frame. */
    assert_int_equal(live_ring_push(&r, mk(30, 0)), LIVE_RING_GAP);
    assert_int_equal(live_ring_first(&r), 30);
    assert_int_equal(live_ring_last(&r), 30);
    assert_null(live_ring_get(&r, 23));
    live_ring_free(&r);
}

static void test_ring_of_one(void **state)
{
    live_ring_t r;

    (void)state;
    assert_int_equal(live_ring_init(&r, 0), 0);   /* at least one slot */
    assert_null(r.slot);                          /* allocated with the first frame */
    live_ring_free(&r);
    live_ring_push(&r, mk(7, 0));
    live_ring_push(&r, mk(8, 0));
    assert_int_equal(live_ring_first(&r), 8);
    assert_non_null(live_ring_get(&r, 8));
    live_ring_free(&r);
}

static live_channel_t *new_channel(live_channels_t *t, const char *id, uint32_t cap)
{
    live_channel_t *ch;

    assert_int_equal(live_channels_init(t, 100, cap), 0);
    ch = live_channel_get(t, id, 0, NOW);
    assert_non_null(ch);
    assert_int_equal(ch->state, LIVE_CH_UNKNOWN);
    return ch;
}

static void test_publish_freshens_and_ends(void **state)
{
    live_channels_t t;
    live_channel_t *ch = new_channel(&t, "s1", 8);
    live_link_t sub;
    int64_t base = -1;
    unsigned flags;

    (void)state;
    live_channel_sub_add(ch, &sub, NOW);
    assert_int_equal(live_channel_plan(ch, 1), LIVE_PLAN_WAIT);        /* pending */
    flags = live_channel_append(ch, chain(501, 505, 0), 1, NOW, &base);
    assert_true(flags & LIVE_CH_F_FRESHENED);
    assert_true(flags & LIVE_CH_F_APPENDED);
    assert_int_equal(base, 500);
    /* A subscriber without since waiting for "now" gets this first batch. */
    assert_int_equal(live_channel_start(ch, -1, base), 501);
    assert_int_equal(live_channel_start(ch, -1, ch->last_offset), 506);
    assert_int_equal(ch->state, LIVE_CH_ACTIVE);
    assert_int_equal(ch->last_offset, 505);
    assert_true(ch->captured);
    assert_int_equal(live_channel_plan(ch, 503), LIVE_PLAN_RING);
    assert_int_equal(live_channel_plan(ch, 506), LIVE_PLAN_WAIT);
    assert_int_equal(live_channel_plan(ch, 400), LIVE_PLAN_HISTORY);
    /* Duplicates are dropped, the final event ends the channel. */
    flags = live_channel_append(ch, chain(504, 507, 1), 1, NOW, &base);
    assert_int_equal(flags, LIVE_CH_F_APPENDED);
    assert_int_equal(ch->last_offset, 507);
    assert_int_equal(ch->state, LIVE_CH_ENDED);
    assert_int_equal(live_channel_plan(ch, 508), LIVE_PLAN_END);
    /* A late subscriber without since gets the final event, then the close. */
    assert_int_equal(live_channel_start(ch, -1, ch->last_offset), 507);
    assert_int_equal(live_channel_start(ch, 3, ch->last_offset), 4);
    /* A restart continues the offsets and revives the channel. */
    live_channel_append(ch, chain(508, 508, 0), 1, NOW, &base);
    assert_int_equal(ch->state, LIVE_CH_ACTIVE);
    live_channel_sub_del(ch, &sub, NOW);
    live_channels_destroy(&t);
}

static void test_probe_results(void **state)
{
    live_channels_t t;
    live_channel_t *ch = new_channel(&t, "s2", 8);
    live_fetch_kind_t kind;
    live_link_t sub;
    int64_t after = 0, base = -1;
    unsigned flags;

    (void)state;
    assert_false(live_channel_need_fetch(ch, NOW, &kind, &after));    /* nobody asks */
    live_channel_sub_add(ch, &sub, NOW);
    assert_true(live_channel_need_fetch(ch, NOW, &kind, &after));
    assert_int_equal(kind, LIVE_FETCH_PROBE);
    assert_true(after == LIVE_PROBE_AFTER);
    ch->fetch_id = 9;
    assert_false(live_channel_need_fetch(ch, NOW, &kind, &after));    /* one at a time */

    /* Not found: waiting, subscribers start at 1. */
    flags = live_channel_apply(ch, 0, NULL, 0, NULL, NOW, &base);
    assert_true(flags & LIVE_CH_F_FRESHENED);
    assert_int_equal(base, 0);
    assert_int_equal(ch->state, LIVE_CH_ABSENT);
    assert_int_equal(ch->fetch_id, 0);
    assert_int_equal(live_channel_start(ch, -1, base), 1);
    assert_int_equal(live_channel_plan(ch, 1), LIVE_PLAN_WAIT);
    assert_false(live_channel_need_fetch(ch, NOW, &kind, &after));

    /* Another sidecar starts it: the channel follows from offset 0. */
    live_channel_remote(ch, 3);
    assert_true(live_channel_need_fetch(ch, NOW, &kind, &after));
    assert_int_equal(kind, LIVE_FETCH_FOLLOW);
    assert_int_equal(after, 0);
    ch->fetch_id = 10;
    ch->fetch_kind = kind;
    flags = live_channel_apply(ch, 1, "live", 3, chain(1, 3, 0), NOW, &base);
    assert_true(flags & LIVE_CH_F_APPENDED);
    assert_int_equal(ch->state, LIVE_CH_ACTIVE);
    assert_int_equal(ch->last_offset, 3);
    assert_false(live_channel_need_fetch(ch, NOW, &kind, &after));
    live_channel_sub_del(ch, &sub, NOW);
    live_channels_destroy(&t);
}

static void test_probe_found_and_final(void **state)
{
    live_channels_t t;
    live_channel_t *ch = new_channel(&t, "s3", 8);
    live_link_t sub;
    int64_t base = -1;

    (void)state;
    live_channel_sub_add(ch, &sub, NOW);
    live_channel_apply(ch, 1, "live", 100, NULL, NOW, &base);
    assert_int_equal(base, 100);
    assert_int_equal(ch->state, LIVE_CH_ACTIVE);
    assert_int_equal(live_channel_plan(ch, 50), LIVE_PLAN_HISTORY);  /* baseline, ring empty */
    assert_int_equal(live_channel_plan(ch, 101), LIVE_PLAN_WAIT);
    /* Our persister's frames continue the baseline; a probe that read ahead of a publish
     * in flight makes those frames duplicates. */
    live_channel_append(ch, chain(99, 103, 0), 1, NOW, &base);
    assert_int_equal(live_ring_first(&ch->ring), 101);
    assert_int_equal(ch->last_offset, 103);
    live_channel_sub_del(ch, &sub, NOW);
    live_channels_destroy(&t);

    ch = new_channel(&t, "s4", 8);
    live_channel_sub_add(ch, &sub, NOW);
    live_channel_apply(ch, 1, "ended", 10, NULL, NOW, &base);
    assert_int_equal(ch->state, LIVE_CH_ENDED);
    assert_int_equal(live_channel_start(ch, -1, base), 10);         /* its final event */
    assert_int_equal(live_channel_plan(ch, 10), LIVE_PLAN_HISTORY);
    assert_int_equal(live_channel_plan(ch, 11), LIVE_PLAN_END);
    live_channel_sub_del(ch, &sub, NOW);
    live_channels_destroy(&t);
}

/* A session that ended here and was started again under its id (/connect names it): a new
 * subscriber must not be told "ended" from memory; the channel asks the database again. */
static void test_restarted_session_is_probed_again(void **state)
{
    live_channels_t t;
    live_channel_t *ch = new_channel(&t, "s9", 8);
    live_link_t sub;
    int64_t base = -1;

    (void)state;
    live_channel_append(ch, chain(1, 5, 1), 1, NOW, &base);         /* captured, ended */
    assert_int_equal(ch->state, LIVE_CH_ENDED);
    live_channel_sub_add(ch, &sub, NOW);                             /* still within grace */
    assert_int_equal(live_channel_plan(ch, 6), LIVE_PLAN_WAIT);     /* not END: re-probe */
    live_fetch_kind_t kind;
    int64_t after;
    assert_true(live_channel_need_fetch(ch, NOW, &kind, &after));
    assert_int_equal(kind, LIVE_FETCH_PROBE);
    live_channel_apply(ch, 1, "connecting", 5, NULL, NOW, &base);
    assert_int_equal(ch->state, LIVE_CH_ACTIVE);
    assert_int_equal(live_channel_plan(ch, 6), LIVE_PLAN_WAIT);
    live_channel_append(ch, chain(6, 7, 0), 1, NOW, &base);          /* the new capture */
    assert_int_equal(live_channel_plan(ch, 6), LIVE_PLAN_RING);
    live_channel_sub_del(ch, &sub, NOW);
    live_channels_destroy(&t);
}

static void test_follow_waits_for_own_publish(void **state)
{
    live_channels_t t;
    live_channel_t *ch = new_channel(&t, "s5", 8);
    live_fetch_kind_t kind;
    live_link_t sub;
    int64_t base, after;

    (void)state;
    live_channel_append(ch, chain(1, 5, 0), 1, NOW, &base);
    live_channel_sub_add(ch, &sub, NOW);
    assert_true(ch->fresh);                                         /* captured: no probe */
    live_channel_remote(ch, 8);                 /* our own NOTIFY, ahead of the publish */
    assert_false(live_channel_need_fetch(ch, NOW + 1000000, &kind, &after));
    /* No publish within the grace period: the capture moved, follow the database. */
    assert_true(live_channel_need_fetch(ch, NOW + LIVE_CAPTURE_GRACE_US, &kind, &after));
    assert_int_equal(kind, LIVE_FETCH_FOLLOW);
    assert_int_equal(after, 5);
    /* A follow answer with nothing new stops asking for phantom offsets. */
    ch->fetch_id = 1;
    live_channel_apply(ch, 1, "live", 5, NULL, NOW + LIVE_CAPTURE_GRACE_US, &base);
    assert_false(live_channel_need_fetch(ch, NOW + LIVE_CAPTURE_GRACE_US, &kind, &after));
    live_channel_sub_del(ch, &sub, NOW);

    /* Unsubscribed and no longer captured: the next subscriber re-probes. */
    live_channel_sub_add(ch, &sub, NOW + LIVE_CAPTURE_GRACE_US);
    assert_false(ch->fresh);
    assert_int_equal(live_channel_plan(ch, 6), LIVE_PLAN_WAIT);
    assert_true(live_channel_need_fetch(ch, NOW + LIVE_CAPTURE_GRACE_US, &kind, &after));
    assert_int_equal(kind, LIVE_FETCH_PROBE);
    /* Same last offset: the ring is kept for resumes. */
    ch->fetch_id = 2;
    live_channel_apply(ch, 1, "live", 5, NULL, NOW, &base);
    assert_int_equal(live_ring_first(&ch->ring), 1);
    assert_int_equal(base, 5);
    live_channel_sub_del(ch, &sub, NOW);
    live_channels_destroy(&t);
}

static void test_recreated_session_resets(void **state)
{
    live_channels_t t;
    live_channel_t *ch = new_channel(&t, "s6", 8);
    live_link_t sub;
    int64_t base = -1;
    unsigned flags;

    (void)state;
    live_channel_append(ch, chain(1, 6, 1), 1, NOW, &base);        /* ended */
    live_channel_sub_add(ch, &sub, NOW + LIVE_CHANNEL_KEEP_US);    /* stale now */
    flags = live_channel_append(ch, chain(1, 2, 0), 1, NOW + LIVE_CHANNEL_KEEP_US, &base);
    assert_true(flags & LIVE_CH_F_RESET);
    assert_true(flags & LIVE_CH_F_FRESHENED);
    assert_int_equal(base, 0);
    assert_int_equal(live_ring_first(&ch->ring), 1);
    assert_int_equal(ch->last_offset, 2);
    assert_int_equal(ch->state, LIVE_CH_ACTIVE);
    live_channel_sub_del(ch, &sub, NOW);
    live_channels_destroy(&t);
}

/* Walks a subscriber from since to the channel's end the way the loop does: history pages
 * (limit each) while older than the ring, then the ring. Checks every offset is sent once,
 * in order. */
static void test_gap_free_resume(void **state)
{
    live_channels_t t;
    live_channel_t *ch = new_channel(&t, "s7", 16);
    live_link_t sub;
    int64_t base, next, expect, sent = 0;
    int history_reads = 0;

    (void)state;
    live_channel_append(ch, chain(1, 100, 0), 1, NOW, &base);      /* ring: 85..100 */
    live_channel_sub_add(ch, &sub, NOW);
    assert_int_equal(live_ring_first(&ch->ring), 85);
    next = live_channel_start(ch, 20, ch->last_offset);
    expect = 21;
    for (int guard = 0; guard < 1000; guard++) {
        live_plan_t plan = live_channel_plan(ch, next);
        if (plan == LIVE_PLAN_WAIT)
            break;
        if (plan == LIVE_PLAN_HISTORY) {
            /* The database answers after = next - 1, limit 30; meanwhile the session moves. */
            live_frame_t *page = chain(next, next + 29, 0);
            history_reads++;
            live_channel_append(ch, chain(ch->last_offset + 1, ch->last_offset + 7, 0), 1,
                                NOW, &base);
            for (live_frame_t *f = page; f; f = f->next) {
                if (f->offset < next)
                    continue;
                assert_int_equal(f->offset, expect);
                expect++;
                next = f->offset + 1;
                sent++;
            }
            live_frame_free_chain(page);
            continue;
        }
        assert_int_equal(plan, LIVE_PLAN_RING);
        assert_int_equal(live_ring_get(&ch->ring, next)->offset, expect);
        expect++;
        next++;
        sent++;
    }
    assert_true(history_reads >= 3);
    assert_int_equal(next, ch->last_offset + 1);
    assert_int_equal(sent, ch->last_offset - 20);
    assert_int_equal(live_channel_lag(ch, next), 0);
    assert_int_equal(live_channel_lag(ch, next - 5), 5);
    live_channel_sub_del(ch, &sub, NOW);
    live_channels_destroy(&t);
}

static void test_table_cap_and_sweep(void **state)
{
    live_channels_t t;
    live_channel_t *a, *b, *c;
    live_link_t sub;

    (void)state;
    assert_int_equal(live_channels_init(&t, 2, 4), 0);
    a = live_channel_get(&t, "a", 0, NOW);
    b = live_channel_get(&t, "b", 0, NOW + 1);
    assert_ptr_equal(live_channel_find(&t, "a"), a);
    assert_ptr_equal(live_channel_get(&t, "a", 0, NOW), a);
    assert_null(live_channel_find(&t, "zz"));
    assert_null(live_channel_get(&t, "", 0, NOW));
    live_channel_sub_add(a, &sub, NOW);
    b->fetch_id = 4;                           /* busy: not evictable */
    assert_false(live_channels_room(&t, "c"));
    assert_true(live_channels_room(&t, "a"));
    assert_null(live_channel_get(&t, "c", 0, NOW));
    c = live_channel_get(&t, "c", 1, NOW);     /* a publish exceeds the cap */
    assert_non_null(c);
    assert_int_equal(t.count, 3);
    b->fetch_id = 0;
    /* Idle long enough: b (never captured) and c go, a has a subscriber. */
    assert_int_equal(live_channels_sweep(&t, NOW + LIVE_CHANNEL_IDLE_US / 2), 0);
    assert_int_equal(live_channels_sweep(&t, NOW + LIVE_CHANNEL_IDLE_US + 2), 2);
    assert_int_equal(t.count, 1);
    assert_ptr_equal(live_channel_find(&t, "a"), a);
    live_channel_sub_del(a, &sub, NOW);
    /* A captured channel's ring is kept for resumes after its last publish. */
    live_channel_append(a, chain(1, 3, 0), 1, NOW, NULL);
    assert_int_equal(live_channels_sweep(&t, NOW + LIVE_CHANNEL_IDLE_US + 2), 0);
    assert_int_equal(live_channels_sweep(&t, NOW + LIVE_CHANNEL_KEEP_US + 2), 1);
    assert_int_equal(t.count, 0);
    live_channels_destroy(&t);
}

static void test_request_parsing(void **state)
{
    live_ws_request_t req = { .since = -1, .types = 0 };
    const char *why = NULL;
    char id[65];
    int seen = 0;

    (void)state;
    assert_int_equal(live_ws_parse_path("/ws/comments/test-session_1", id), 0);
    assert_string_equal(id, "test-session_1");
    assert_int_equal(live_ws_parse_path("/ws/comments/", id), LIVE_WS_PATH_BAD_ID);
    assert_int_equal(live_ws_parse_path("/ws/comments/a.b", id), LIVE_WS_PATH_BAD_ID);
    assert_int_equal(live_ws_parse_path("/ws/comments/a/b", id), LIVE_WS_PATH_BAD_ID);
    assert_int_equal(live_ws_parse_path("/ws/other/a", id), LIVE_WS_PATH_UNKNOWN);
    assert_int_equal(live_ws_parse_path(
        "/ws/comments/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", id),
        LIVE_WS_PATH_BAD_ID);                 /* 65 characters */

    assert_int_equal(live_ws_parse_arg("since=42", &req, &seen, &why), 0);
    assert_int_equal(req.since, 42);
    assert_int_equal(live_ws_parse_arg("since=43", &req, &seen, &why), -1);
    assert_int_equal(live_ws_parse_arg("api_key=x", &req, &seen, &why), 0);
    seen = 0;
    assert_int_equal(live_ws_parse_arg("since=-1", &req, &seen, &why), -1);
    seen = 0;
    assert_int_equal(live_ws_parse_arg("since=", &req, &seen, &why), -1);
    seen = 0;
    assert_int_equal(live_ws_parse_arg("since=1234567890123456789", &req, &seen, &why), -1);
    seen = 0;
    assert_int_equal(live_ws_parse_arg("since=0", &req, &seen, &why), 0);
    assert_int_equal(req.since, 0);

    assert_true(live_ws_loopback("127.0.0.1"));
    assert_true(live_ws_loopback("127.1.2.3"));
    assert_true(live_ws_loopback("[::1]"));
    assert_true(live_ws_loopback("localhost"));
    assert_false(live_ws_loopback("0.0.0.0"));
    assert_false(live_ws_loopback("10.0.0.1"));
    assert_false(live_ws_loopback("::"));
    live_ws_strip_brackets("[::1]", id, sizeof(id));
    assert_string_equal(id, "::1");
}

static void test_request_types(void **state)
{
    live_ws_request_t req = { .since = -1, .types = 0 };
    const char *why = NULL;
    int seen = 0;

    (void)state;
    assert_int_equal(live_ws_parse_arg("types=comment,gift", &req, &seen, &why), 0);
    assert_int_equal(req.types, (1u << LIVE_EV_COMMENT) | (1u << LIVE_EV_GIFT));
    assert_int_equal(live_ws_parse_arg("types=comment", &req, &seen, &why), -1);
    seen = 0;
    assert_int_equal(live_ws_parse_arg("types=nope", &req, &seen, &why), -1);
    seen = 0;
    assert_int_equal(live_ws_parse_arg("types=", &req, &seen, &why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_wrap_and_lookup),
        cmocka_unit_test(test_ring_of_one),
        cmocka_unit_test(test_publish_freshens_and_ends),
        cmocka_unit_test(test_probe_results),
        cmocka_unit_test(test_probe_found_and_final),
        cmocka_unit_test(test_restarted_session_is_probed_again),
        cmocka_unit_test(test_follow_waits_for_own_publish),
        cmocka_unit_test(test_recreated_session_resets),
        cmocka_unit_test(test_gap_free_resume),
        cmocka_unit_test(test_table_cap_and_sweep),
        cmocka_unit_test(test_request_parsing),
        cmocka_unit_test(test_request_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
