/* The upstream gate and circuit breaker of breaker.h over one memory block: a header with the
 * breaker's words, then PROFILE_BREAKER_MAX_CONCURRENT gate slots.
 *
 * Words (any thread of any child process, no lock):
 * - A gate slot (only the first max_concurrent are used) is one 64-bit word: 0 when free,
 *   else a claim = the claim time in whole milliseconds (rounded up) << TAG_BITS | a tag
 *   from a shared counter, never 0. Holder and start time share one word so that a claim,
 *   a take-back and a release are each one compare-and-swap: with two words a taker could
 *   read the previous holder's start time before the new holder wrote its own and take a
 *   slot that was claimed a moment ago. 42 bits of milliseconds last until the year 2109.
 * - The handle given to the caller (*slot) is tag << 8 | index. Release compares the tag
 *   and then swaps the exact word it read to 0, so a holder whose slot was taken back (it
 *   looked dead) cannot free its successor's claim. Tags repeat after 2^22 - 1 claims: only
 *   a holder taken back and then resumed after exactly that many claims could err, by one.
 * - open_until: 0 closed; later than now: open; else half-open. Only two kinds of change:
 *   closed -> open by a CAS from 0 (its winner opened the circuit), and any change of a
 *   non-zero value by the trial holder, by a CAS from the value it read. Results of fetches
 *   that are not the trial are ignored while open_until is non-zero: while the circuit is
 *   open, the trial alone decides. The values are times that only grow from one opening to
 *   the next, so a CAS from a value read earlier cannot succeed on a later opening (no ABA).
 *   (A trial taken back as dead that was in fact only slow, and that read trial just before
 *   the take-back, can still decide once; its successor's CAS then fails: either verdict is
 *   a real fetch's.)
 * - trial: the gate word of the half-open trial, 0 when none. Claimed by a CAS from 0 (or
 *   from a claim older than stale_after: the trial holder died); after winning it the taker
 *   reads open_until again (a trial that just finished changes open_until before it clears
 *   trial, so the re-read sees its verdict) and keeps the trial only if still half-open.
 *   The holder changes open_until first and clears trial after, so between the two nobody
 *   can start a second trial of the same half-open period.
 * - failures: consecutive failures, an atomic add; a success stores 0. A success and a
 *   failure racing each other leave either count: both orders are real histories.
 * Every access is sequentially consistent: there are a few per upstream fetch, so their
 * cost does not matter and the argument above needs no reasoning about weaker orders. */
#include <stddef.h>
#include <string.h>
#include "http/breaker.h"

/* "PBREAKR" with the layout version in the low byte: bump it when the struct changes. */
#define PROFILE_BREAKER_MAGIC 0x50425245414b5201ULL
#define TAG_BITS 22
#define TAG_MASK ((APR_UINT64_C(1) << TAG_BITS) - 1)
#define INDEX_BITS 8           /* PROFILE_BREAKER_MAX_CONCURRENT = 1 << INDEX_BITS */
#define MAX_MS ((APR_UINT64_C(1) << (64 - TAG_BITS)) - 1)
#if PROFILE_BREAKER_MAX_CONCURRENT != 1 << INDEX_BITS
#error "the slot handle holds the gate index in INDEX_BITS bits"
#endif
#define SEQ __ATOMIC_SEQ_CST

struct profile_breaker_t {
    apr_uint64_t magic;
    apr_uint64_t tags;         /* last tag handed out */
    apr_int64_t open_until;
    apr_uint64_t trial;
    apr_uint32_t failures;
    apr_uint64_t slots[PROFILE_BREAKER_MAX_CONCURRENT];
};

apr_size_t profile_breaker_size(void)
{
    return sizeof(profile_breaker_t);
}

profile_breaker_t *profile_breaker_init(void *mem)
{
    profile_breaker_t *b = mem;

    if (b->magic == PROFILE_BREAKER_MAGIC)
        return b;
    memset(b, 0, sizeof(*b));
    b->magic = PROFILE_BREAKER_MAGIC;
    return b;
}

static apr_uint64_t claim_word(profile_breaker_t *b, apr_time_t now)
{
    apr_uint64_t tag = __atomic_add_fetch(&b->tags, 1, SEQ) % TAG_MASK + 1;
    apr_uint64_t ms = now > 0 ? ((apr_uint64_t)now + 999) / 1000 : 0;

    return (ms < MAX_MS ? ms : MAX_MS) << TAG_BITS | tag;
}

/* A claim older than stale_after: its holder is taken for dead. */
static int claim_stale(apr_uint64_t word, apr_time_t now, apr_interval_time_t stale_after)
{
    apr_time_t since = (apr_time_t)(word >> TAG_BITS) * 1000;

    return now - since > stale_after;
}

static int is_mine(apr_uint64_t word, int slot)
{
    return word && (word & TAG_MASK) == (apr_uint64_t)slot >> INDEX_BITS;
}

static int gate_size(const profile_breaker_limits_t *l)
{
    if (l->max_concurrent < 1)
        return 1;
    return l->max_concurrent < PROFILE_BREAKER_MAX_CONCURRENT ? l->max_concurrent
                                                             : PROFILE_BREAKER_MAX_CONCURRENT;
}

/* The index of the slot claimed with word, or -1 when every usable slot is held. */
static int gate_claim(profile_breaker_t *b, const profile_breaker_limits_t *l, apr_time_t now,
                      apr_uint64_t word)
{
    int i, n = gate_size(l);

    for (i = 0; i < n; i++) {
        apr_uint64_t cur = __atomic_load_n(&b->slots[i], SEQ);

        /* A failed CAS reloads cur: look at the new holder before trying again. */
        while (!cur || claim_stale(cur, now, l->stale_after)) {
            if (__atomic_compare_exchange_n(&b->slots[i], &cur, word, 0, SEQ, SEQ))
                return i;
        }
    }
    return -1;
}

static void gate_release(profile_breaker_t *b, int index, apr_uint64_t word)
{
    /* Fails only when the claim was taken back: the slot is someone else's now. */
    __atomic_compare_exchange_n(&b->slots[index], &word, 0, 0, SEQ, SEQ);
}

/* Half-open: GO when word became the trial (or the circuit closed meanwhile), else OPEN. */
static profile_breaker_verdict_t trial_claim(profile_breaker_t *b,
                                             const profile_breaker_limits_t *l, apr_time_t now,
                                             apr_uint64_t word)
{
    apr_uint64_t cur = __atomic_load_n(&b->trial, SEQ);
    apr_int64_t until;

    if (cur && !claim_stale(cur, now, l->stale_after))
        return PROFILE_BREAKER_OPEN;
    if (!__atomic_compare_exchange_n(&b->trial, &cur, word, 0, SEQ, SEQ))
        return PROFILE_BREAKER_OPEN;
    until = __atomic_load_n(&b->open_until, SEQ);
    if (until && until <= now)
        return PROFILE_BREAKER_GO;
    /* The previous trial finished in between: closed (fetch as usual) or open again. */
    __atomic_compare_exchange_n(&b->trial, &word, 0, 0, SEQ, SEQ);
    return until ? PROFILE_BREAKER_OPEN : PROFILE_BREAKER_GO;
}

profile_breaker_verdict_t profile_breaker_enter(profile_breaker_t *b,
                                                const profile_breaker_limits_t *l,
                                                apr_time_t now, int *slot)
{
    apr_int64_t until = __atomic_load_n(&b->open_until, SEQ);
    profile_breaker_verdict_t v;
    apr_uint64_t word;
    int index;

    if (until > now)
        return PROFILE_BREAKER_OPEN;
    word = claim_word(b, now);
    index = gate_claim(b, l, now, word);
    if (index < 0)
        return PROFILE_BREAKER_BUSY;
    if (until && (v = trial_claim(b, l, now, word)) != PROFILE_BREAKER_GO) {
        gate_release(b, index, word);
        return v;
    }
    *slot = (int)((word & TAG_MASK) << INDEX_BITS) | index;
    return PROFILE_BREAKER_GO;
}

static int open_if_closed(profile_breaker_t *b, apr_time_t until)
{
    apr_int64_t closed = 0;

    return __atomic_compare_exchange_n(&b->open_until, &closed, until, 0, SEQ, SEQ);
}

profile_breaker_change_t profile_breaker_done(profile_breaker_t *b,
                                              const profile_breaker_limits_t *l, int slot,
                                              apr_time_t now, profile_fetch_outcome_t outcome,
                                              apr_interval_time_t retry_after)
{
    profile_breaker_change_t change = PROFILE_BREAKER_UNCHANGED;
    int index = slot & (PROFILE_BREAKER_MAX_CONCURRENT - 1);
    apr_uint64_t word = __atomic_load_n(&b->slots[index], SEQ);
    apr_uint64_t trial = __atomic_load_n(&b->trial, SEQ);
    apr_int64_t until = __atomic_load_n(&b->open_until, SEQ);
    apr_time_t reopen = now + (outcome == PROFILE_FETCH_THROTTLED && retry_after > 0
                               ? retry_after : l->cooldown);

    if (outcome == PROFILE_FETCH_SUCCEEDED)
        __atomic_store_n(&b->failures, 0, SEQ);
    else if ((int)__atomic_add_fetch(&b->failures, 1, SEQ) >= l->threshold
             || outcome == PROFILE_FETCH_THROTTLED)
        if (open_if_closed(b, reopen))
            change = PROFILE_BREAKER_OPENED;
    if (is_mine(trial, slot)) {
        if (until && __atomic_compare_exchange_n(&b->open_until, &until,
                                                 outcome == PROFILE_FETCH_SUCCEEDED ? 0 : reopen,
                                                 0, SEQ, SEQ))
            change = outcome == PROFILE_FETCH_SUCCEEDED ? PROFILE_BREAKER_CLOSED
                                                        : PROFILE_BREAKER_REOPENED;
        __atomic_compare_exchange_n(&b->trial, &trial, 0, 0, SEQ, SEQ);
    }
    if (is_mine(word, slot))
        gate_release(b, index, word);
    return change;
}

void profile_breaker_state(profile_breaker_t *b, apr_time_t now, profile_breaker_state_t *out)
{
    apr_int64_t until = __atomic_load_n(&b->open_until, SEQ);
    int i;

    out->state = !until ? "closed" : until > now ? "open" : "half_open";
    out->consecutive_failures = (int)__atomic_load_n(&b->failures, SEQ);
    out->open_until = until;
    out->in_flight = 0;
    for (i = 0; i < PROFILE_BREAKER_MAX_CONCURRENT; i++)
        out->in_flight += __atomic_load_n(&b->slots[i], SEQ) != 0;
}
