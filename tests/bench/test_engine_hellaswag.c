/* tests/bench/test_engine_hellaswag.c — bench/engine_hellaswag.c: the
 * HellaSwag plain-text layout reader on our sample file
 * (tests/bench/hellaswag_sample.txt) and on malformed inputs, each refused
 * with the line that is wrong.
 */
#include "bench/engine_hellaswag.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void expect_bad(const char *text, size_t len, const char *want) {
    cb_mc_set s;
    cb_err e;
    cb_err_clear(&e);
    int rc = cb_hellaswag_parse(text, len, "t.txt", &s, &e);
    cr_expect_eq(rc, CB_EFORMAT, "accepted: %s", want);
    cr_expect(strstr(e.msg, want) != NULL, "message '%s' lacks '%s'", e.msg, want);
    cr_expect(strncmp(e.msg, "t.txt: ", 7) == 0, "message '%s' does not name the file", e.msg);
    cr_expect_eq(s.n, 0);
    cr_expect_null(s.items);
}
#define BAD(lit, want) expect_bad(lit, sizeof(lit) - 1, want)

Test(hellaswag, sample_file) {
    const char *src = getenv("CAPBENCH_SOURCE_DIR");
    if (!src || !*src) cr_skip_test("CAPBENCH_SOURCE_DIR is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/bench/hellaswag_sample.txt", src);
    cb_mc_set s;
    cb_err e;
    cr_assert_eq(cb_hellaswag_load(path, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(s.n, 8);
    cr_expect_str_eq(s.items[0].context,
                     "A man fills a kettle with water and puts it on the stove. He");
    cr_expect_eq(s.items[0].gold, 0);
    cr_expect_str_eq(s.items[0].endings[3], "reads the kettle a story about the sea.");
    cr_expect_eq(s.items[0].ending_len[3], strlen("reads the kettle a story about the sea."));
    cr_expect_eq(s.items[7].line, 43);
    cr_expect_eq(s.items[7].gold, 3);
    int golds[8] = {0, 2, 1, 3, 0, 2, 1, 3};
    for (int i = 0; i < 8; i++) cr_expect_eq(s.items[i].gold, golds[i], "item %d", i);
    cb_mc_set_free(&s);
    cr_expect_eq(cb_hellaswag_load("/nonexistent/items.txt", &s, &e), CB_EIO);
    cr_expect(strstr(e.msg, "/nonexistent/items.txt") != NULL, "%s", e.msg);
    cb_mc_set_free(&s); /* empty: no-op */
    cb_mc_set_free(NULL);
}

Test(hellaswag, layout_details) {
    cb_mc_set s;
    cb_err e;
    /* CRLF line ends, no final newline, gold with spaces around */
    static const char crlf[] = "ctx\r\n 1 \r\ne0\r\ne1\r\ne2\r\ne3";
    cr_assert_eq(cb_hellaswag_parse(crlf, sizeof crlf - 1, "x", &s, &e), 0, "%s", e.msg);
    cr_expect_eq(s.n, 1);
    cr_expect_eq(s.items[0].gold, 1);
    cr_expect_str_eq(s.items[0].endings[3], "e3");
    cr_expect_eq(s.items[0].ending_len[0], 2);
    cb_mc_set_free(&s);
    static const char two[] = "a\n0\nb\nc\nd\ne\nf\n3\ng\nh\ni\nj\n";
    cr_assert_eq(cb_hellaswag_parse(two, sizeof two - 1, "x", &s, &e), 0, "%s", e.msg);
    cr_expect_eq(s.n, 2);
    cr_expect_eq(s.items[1].line, 7);
    cr_expect_str_eq(s.items[1].endings[0], "g");
    cb_mc_set_free(&s);
}

Test(hellaswag, malformed_inputs_name_the_line) {
    BAD("", "empty");
    BAD("ctx\n0\na\nb\nc\n", "5 lines is not a multiple of 6");
    BAD("ctx\n0\na\nb\nc\nd\nctx2\n1\n", "the incomplete last item starts at line 7");
    BAD("ctx\n4\na\nb\nc\nd\n", "line 2: gold ending index '4'");
    BAD("ctx\nx\na\nb\nc\nd\n", "line 2: gold ending index 'x'");
    BAD("ctx\n\na\nb\nc\nd\n", "line 2: gold ending index ''");
    BAD("ctx\n01\na\nb\nc\nd\n", "line 2");
    BAD("ctx\n-1\na\nb\nc\nd\n", "line 2");
    BAD("ctx\n0\na\n\nc\nd\n", "line 4: empty ending (item 1)");
    BAD("ctx\n0\na\nb\nc\nd\n\n0\na\nb\nc\nd\n", "line 7: empty context (item 2)");
    BAD("ctx\n0\na\nb\nc\nd\n\n", "7 lines");
    BAD("ctx\n0\na\nb\0x\nc\nd\n", "line 4: a NUL byte");
}
