/* Generated avatars: deterministic per name, mirrored identicons, initials and their
 * colours, the requested size, nothing active in the SVG. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "profiles/avatar_svg.h"

static apr_pool_t *pool;

static const char *const names[] = {
    "alice", "bob", "alicf", "ab", "john_doe", "x.y", "__a", "_", "tiktok", "charli.damelio",
    "a1", "zz", "user_12345", "mr.beast", "khaby.lame", "bellapoarch", "addisonre", "zachking",
    "user1412",     /* its hash has no pattern bits: drawn as a checkerboard, not empty */
};
#define NAMES (sizeof(names) / sizeof(names[0]))

/* The cells of an identicon, from its path: "M<col> <row>h1v1h-1z" each. */
static void identicon_cells(const char *svg, int cells[5][5])
{
    const char *d = strstr(svg, " d=\"");
    int col, row, n;

    memset(cells, 0, sizeof(int[5][5]));
    assert_non_null(d);
    d += 4;
    while (*d == 'M') {
        assert_int_equal(sscanf(d, "M%d %dh1v1h-1z%n", &col, &row, &n), 2);
        assert_in_range(col, 0, 4);
        assert_in_range(row, 0, 4);
        cells[row][col] = 1;
        d += n;
    }
    assert_int_equal(*d, '"');
}

/* A well-formed single-element SVG document: one root, attributes quoted, nothing that
 * executes, no entity that would need escaping. */
static void check_svg(const char *svg, int size)
{
    char dims[64];
    apr_size_t i, quotes = 0;

    assert_true(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" ", 40) == 0);
    assert_true(strlen(svg) > 6 && strcmp(svg + strlen(svg) - 6, "</svg>") == 0);
    assert_null(strstr(svg + 1, "<svg"));
    snprintf(dims, sizeof(dims), " width=\"%d\" height=\"%d\" ", size, size);
    assert_non_null(strstr(svg, dims));
    assert_null(strstr(svg, "<script"));
    assert_null(strstr(svg, " on"));
    assert_null(strstr(svg, "href"));
    assert_null(strchr(svg, '&'));
    for (i = 0; svg[i]; i++)
        quotes += svg[i] == '"';
    assert_int_equal(quotes % 2, 0);
}

static void test_identicon_deterministic(void **state)
{
    const char *a, *b;
    apr_size_t i, j;

    (void)state;
    for (i = 0; i < NAMES; i++) {
        a = profile_avatar_identicon(pool, names[i], 100);
        b = profile_avatar_identicon(pool, names[i], 100);
        assert_string_equal(a, b);
        check_svg(a, 100);
        for (j = 0; j < i; j++)
            if (strcmp(a, profile_avatar_identicon(pool, names[j], 100)) == 0)
                fail_msg("\"%s\" and \"%s\" give the same identicon", names[i], names[j]);
    }
    /* Only the size attributes change with the size. */
    a = profile_avatar_identicon(pool, "alice", 720);
    check_svg(a, 720);
    b = profile_avatar_identicon(pool, "alice", 100);
    assert_int_equal(strlen(a), strlen(b));
}

static void test_identicon_shape(void **state)
{
    int cells[5][5], row, col, lit;
    unsigned r, g, b;
    const char *svg, *fill;
    apr_size_t i;

    (void)state;
    for (i = 0; i < NAMES; i++) {
        svg = profile_avatar_identicon(pool, names[i], 1080);
        identicon_cells(svg, cells);
        lit = 0;
        for (row = 0; row < 5; row++)
            for (col = 0; col < 5; col++) {
                assert_int_equal(cells[row][col], cells[row][4 - col]);
                lit += cells[row][col];
            }
        assert_in_range(lit, 1, 24);
        assert_non_null(strstr(svg, "shape-rendering=\"crispEdges\""));
        assert_non_null(strstr(svg, "fill=\"#f0f0f0\""));
        fill = strstr(svg, "<path fill=\"#");
        assert_non_null(fill);
        assert_int_equal(sscanf(fill, "<path fill=\"#%2x%2x%2x\"", &r, &g, &b), 3);
        /* A colour, not a grey, and darker than the ground. */
        assert_true(abs((int)r - (int)g) + abs((int)g - (int)b) + abs((int)b - (int)r) > 60);
        assert_true(r + g + b < 3 * 0xf0 - 90);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    check_svg(profile_avatar_identicon(pool, "alice", 16), 16);
    check_svg(profile_avatar_identicon(pool, "alice", 2048), 2048);
    check_svg(profile_avatar_identicon(pool, "alice", 0), PROFILE_AVATAR_SIZE_MIN);
    check_svg(profile_avatar_identicon(pool, "alice", -5), PROFILE_AVATAR_SIZE_MIN);
    check_svg(profile_avatar_identicon(pool, "alice", 1 << 30), PROFILE_AVATAR_SIZE_MAX);
    check_svg(profile_avatar_initials(pool, "alice", 100), 100);
    check_svg(profile_avatar_initials(pool, "alice", 1080), 1080);
    check_svg(profile_avatar_initials(pool, "alice", 3), PROFILE_AVATAR_SIZE_MIN);
    check_svg(profile_avatar_initials(pool, "alice", 99999), PROFILE_AVATAR_SIZE_MAX);
}

static void test_initials_table(void **state)
{
    static const struct {
        const char *name;
        const char *initials;
    } cases[] = {
        { "john_doe", "JD" }, { "x.y", "XY" }, { "__a", "A" }, { "alice", "A" },
        { "a_b_c", "AB" }, { "a_.b", "AB" }, { "a._", "A" }, { "ab.", "A" },
        { "9lives", "9" }, { "a.1", "A1" }, { "_", "?" }, { "._", "?" }, { "", "?" },
        { "Mixed.Case", "MC" }, { "._x_y", "XY" },
    };
    char text[16];
    const char *svg;
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(profile_initials_of(pool, cases[i].name), cases[i].initials);
        svg = profile_avatar_initials(pool, cases[i].name, 100);
        check_svg(svg, 100);
        snprintf(text, sizeof(text), ">%s</text>", cases[i].initials);
        assert_non_null(strstr(svg, text));
        assert_string_equal(svg, profile_avatar_initials(pool, cases[i].name, 100));
    }
    assert_string_equal(profile_initials_of(pool, NULL), "?");
}

/* The linear value of an sRGB channel. y^2.4 = y^2 * z with z^5 = y^2, solved by Newton's
 * method so the test needs no libm. */
static double channel(unsigned c)
{
    double v = c / 255.0, y = (v + 0.055) / 1.055, z = 1.0;
    int i;

    if (v <= 0.03928)
        return v / 12.92;
    for (i = 0; i < 50; i++)
        z -= (z * z * z * z * z - y * y) / (5 * z * z * z * z);
    return y * y * z;
}

/* WCAG contrast ratio of #rrggbb against white. */
static double contrast_with_white(unsigned r, unsigned g, unsigned b)
{
    double l = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);

    return 1.05 / (l + 0.05);
}

static void test_initials_colours(void **state)
{
    char name[16], seen[64][8];
    int n_seen = 0, i, j;
    unsigned r, g, b;
    const char *svg, *fill;

    (void)state;
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        svg = profile_avatar_initials(pool, name, 100);
        assert_non_null(strstr(svg, "font-family=\"system-ui,"));
        assert_non_null(strstr(svg, "sans-serif\""));
        assert_non_null(strstr(svg, "text-anchor=\"middle\""));
        assert_non_null(strstr(svg, "fill=\"#ffffff\""));
        fill = strstr(svg, "<circle cx=\"50\" cy=\"50\" r=\"50\" fill=\"#");
        assert_non_null(fill);
        fill = strstr(fill, "#");
        assert_int_equal(sscanf(fill, "#%2x%2x%2x\"", &r, &g, &b), 3);
        if (contrast_with_white(r, g, b) < 4.5)
            fail_msg("%.7s on white: contrast %.2f", fill, contrast_with_white(r, g, b));
        for (j = 0; j < n_seen && strncmp(seen[j], fill, 7) != 0; j++)
            ;
        if (j == n_seen && n_seen < 64)
            snprintf(seen[n_seen++], sizeof(seen[0]), "%.7s", fill);
    }
    assert_true(n_seen >= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identicon_deterministic),
        cmocka_unit_test(test_identicon_shape),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_initials_table),
        cmocka_unit_test(test_initials_colours),
    };
    int rc;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    rc = cmocka_run_group_tests_name("avatar_svg", tests, NULL, NULL);
    apr_pool_destroy(pool);
    apr_terminate();
    return rc;
}
