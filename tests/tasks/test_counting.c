/* tests/tasks/test_counting.c — the counting family: spec validation with
 * JSON-path errors, deterministic index-based generation, word sources and
 * filters, prompts of every setting, requests, JSON round trips, and grading
 * on the worked examples of TASKS.md 1.6 plus nasty responses. */
#include "tasks/task.h"
#include "tasks/words.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cb_task_spec *spec_of(const char *params_json, const char *subtask, const char *setting, int64_t n,
                             uint64_t seed) {
    cb_err e;
    cJSON *p = params_json ? cJSON_Parse(params_json) : NULL;
    const char *st[1] = {subtask}, *se[1] = {setting};
    cb_task_spec *s = NULL;
    int rc = cb_task_spec_new("counting", subtask ? st : NULL, subtask ? 1 : 0, setting ? se : NULL,
                              setting ? 1 : 0, n, seed, p, "$.tasks[0]", &s, &e);
    cJSON_Delete(p);
    cr_assert_eq(rc, 0, "%s", e.msg);
    return s;
}

static cb_item *item_of(const cb_task_spec *s, int64_t index) {
    cb_err e;
    cb_item *it;
    cr_assert_eq(cb_task_generate(s, 0, index, &it, &e), 0, "%s", e.msg);
    return it;
}

static const char *meta_s(const cb_item *it, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(it->meta, k);
    cr_assert(cJSON_IsString(v), "meta.%s", k);
    return v->valuestring;
}

static const char *last_user(const cb_item *it) { return it->turns[it->n_turns - 1].text; }

/* ---- registry and spec validation ---- */

Test(counting, registry) {
    int n;
    const cb_task_family *const *f = cb_task_families(&n);
    cr_assert_geq(n, 1);
    cr_assert_str_eq(f[0]->name, "counting");
    const cb_task_family *c = cb_task_family_find("counting");
    cr_assert_not_null(c);
    cr_assert_null(cb_task_family_find("nope"));
    cr_assert_eq(cb_task_family_subtask(c, "word_len"), 2);
    cr_assert_eq(cb_task_family_setting(c, "sc"), 3);
    cr_assert_str_eq(cb_task_family_subtask_capability(c, "char_occur"), "char_counting");
    cr_assert_str_eq(c->capability, "char_perception");
    cr_assert_str_eq(c->default_setting, "direct");
}

static void expect_spec_error(const char *family, const char *sub, const char *set, int64_t n, const char *params,
                              int code, const char *needle) {
    cb_err e;
    cb_err_clear(&e);
    cJSON *p = params ? cJSON_Parse(params) : NULL;
    const char *st[2] = {sub, "word_len"}, *se[1] = {set};
    cb_task_spec *s = NULL;
    int rc = cb_task_spec_new(family, sub ? st : NULL, sub ? 1 : 0, set ? se : NULL, set ? 1 : 0, n, 1, p,
                              "$.tasks[2]", &s, &e);
    cJSON_Delete(p);
    cr_assert_eq(rc, code, "rc %d msg %s", rc, e.msg);
    cr_assert_null(s);
    cr_assert(strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
}

Test(counting, spec_errors_name_the_path) {
    expect_spec_error("countin", NULL, NULL, 5, NULL, CB_EUSAGE, "$.tasks[2].family: unknown task family \"countin\"");
    expect_spec_error("counting", "char", NULL, 5, NULL, CB_EUSAGE,
                      "$.tasks[2].subtasks[0]: unknown subtask \"char\" of family counting (expected one of "
                      "char_occur, substring_occur, word_len, distinct_char)");
    expect_spec_error("counting", NULL, "zeroshot", 5, NULL, CB_EUSAGE, "$.tasks[2].settings[0]: unknown setting");
    expect_spec_error("counting", NULL, NULL, 0, NULL, CB_EUSAGE, "$.tasks[2].n:");
    expect_spec_error("counting", NULL, NULL, 5, "{\"words\": 3}", CB_EUSAGE, "$.tasks[2].params.words: expected");
    expect_spec_error("counting", NULL, NULL, 5, "{\"words\": \"nltk\"}", CB_EUSAGE, "got \"nltk\"");
    expect_spec_error("counting", NULL, NULL, 5, "{\"absent_rate\": 1.5}", CB_EUSAGE,
                      "$.tasks[2].params.absent_rate: expected a number from 0 to 1");
    expect_spec_error("counting", NULL, NULL, 5, "{\"ambiguity_filter\": 1}", CB_EUSAGE,
                      "$.tasks[2].params.ambiguity_filter: expected true or false");
    expect_spec_error("counting", NULL, NULL, 5, "{\"colour\": 1}", CB_EUSAGE, "$.tasks[2].params.colour: unknown key");
    expect_spec_error("counting", NULL, NULL, 5, "[1]", CB_EUSAGE, "$.tasks[2].params: expected an object");
    expect_spec_error("counting", NULL, NULL, 5, "{\"words\": \"file:/nonexistent/words.txt\"}", CB_EIO,
                      "$.tasks[2].params.words: /nonexistent/words.txt: cannot open");
}

Test(counting, spec_cells_and_params_json) {
    cb_err e;
    const char *st[2] = {"word_len", "char_occur"}, *se[3] = {"cot", "direct", "sc"};
    cb_task_spec *s;
    cr_assert_eq(cb_task_spec_new("counting", st, 2, se, 3, 7, 9, NULL, "$", &s, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_task_spec_n_cells(s), 6);
    cr_assert_eq(cb_task_spec_n_items(s), 42);
    const char *a, *b;
    cb_task_spec_cell(s, 4, &a, &b);
    cr_assert_str_eq(a, "char_occur");
    cr_assert_str_eq(b, "direct");
    cb_item *it;
    cr_assert_eq(cb_task_spec_item(s, 4 * 7 + 3, &it, &e), 0);
    cr_assert_str_eq(it->id, "counting/char_occur/direct/3");
    cb_item_free(it);
    cr_assert_neq(cb_task_spec_item(s, 42, &it, &e), 0);
    cJSON *pj = cb_task_spec_params_json(s);
    char *ps = cJSON_PrintUnformatted(pj);
    cr_assert_str_eq(ps, "{\"words\":\"pseudo\",\"ambiguity_filter\":true,\"absent_rate\":0,\"candidates\":true}");
    free(ps);
    cJSON_Delete(pj);
    cb_task_spec_free(s);
    /* defaults: all subtasks, the default setting */
    s = spec_of(NULL, NULL, NULL, 3, 1);
    cr_assert_eq(cb_task_spec_n_cells(s), 4);
    cb_task_spec_cell(s, 3, &a, &b);
    cr_assert_str_eq(a, "distinct_char");
    cr_assert_str_eq(b, "direct");
    cb_task_spec_free(s);
}

/* ---- determinism ---- */

Test(counting, item_independent_of_n_and_reproducible) {
    const char *subs[4] = {"char_occur", "substring_occur", "word_len", "distinct_char"};
    for (int k = 0; k < 4; k++) {
        cb_task_spec *a = spec_of(NULL, subs[k], "cot", 10, 77);
        cb_task_spec *b = spec_of(NULL, subs[k], "cot", 100000, 77);
        cb_task_spec *c = spec_of(NULL, subs[k], "cot", 10, 78);
        int differ = 0;
        for (int64_t i = 0; i < 10; i++) {
            cb_item *x = item_of(a, i), *y = item_of(b, i), *z = item_of(c, i);
            char *sx = cb_item_to_jsonl(x), *sy = cb_item_to_jsonl(y), *sz = cb_item_to_jsonl(z);
            cr_assert_str_eq(sx, sy);
            cr_assert_eq(x->seed, cb_task_item_seed(77, "counting", subs[k], i));
            if (strcmp(sx, sz) != 0) differ++;
            free(sx);
            free(sy);
            free(sz);
            cb_item_free(x);
            cb_item_free(y);
            cb_item_free(z);
        }
        cr_assert_geq(differ, 8, "%s: seeds 77 and 78 gave %d differing items of 10", subs[k], differ);
        cb_task_spec_free(a);
        cb_task_spec_free(b);
        cb_task_spec_free(c);
    }
}

Test(counting, same_word_across_settings) {
    cb_task_spec *a = spec_of(NULL, "char_occur", "direct", 5, 3);
    cb_task_spec *b = spec_of(NULL, "char_occur", "para2", 5, 3);
    for (int i = 0; i < 5; i++) {
        cb_item *x = item_of(a, i), *y = item_of(b, i);
        cr_assert_str_eq(meta_s(x, "word"), meta_s(y, "word"));
        cr_assert_str_eq(x->gold, y->gold);
        cb_item_free(x);
        cb_item_free(y);
    }
    cb_task_spec_free(a);
    cb_task_spec_free(b);
}

/* ---- word sources and generation rules ---- */

static int only_letters(const char *w) {
    for (; *w; w++)
        if (!((*w >= 'a' && *w <= 'z') || (*w >= 'A' && *w <= 'Z'))) return 0;
    return 1;
}

Test(counting, pseudo_words) {
    cb_task_spec *s = spec_of("{\"words\":\"pseudo\"}", "word_len", "plain", 3000, 5);
    int caps = 0, minl = 99, maxl = 0;
    for (int i = 0; i < 3000; i++) {
        cb_item *it = item_of(s, i);
        const char *w = meta_s(it, "word");
        int l = (int)strlen(w);
        cr_assert(l >= 3 && l <= 18, "%s", w);
        cr_assert(only_letters(w), "%s", w);
        for (int k = 1; k < l; k++) cr_assert(w[k] >= 'a' && w[k] <= 'z', "only the first letter may be capital: %s", w);
        caps += w[0] >= 'A' && w[0] <= 'Z';
        minl = l < minl ? l : minl;
        maxl = l > maxl ? l : maxl;
        cr_assert_eq(it->gold_int, l);
        cr_assert_str_eq(meta_s(it, "source"), "pseudo");
        cb_item_free(it);
    }
    /* capitalization probability 0.1 (but filters do not apply to word_len) */
    cr_assert(caps > 200 && caps < 420, "capitalized %d of 3000", caps);
    cr_assert_eq(minl, 3);
    cr_assert_geq(maxl, 15);
    cb_task_spec_free(s);
}

Test(counting, substring_pairs_balanced_and_correct) {
    cb_task_spec *s = spec_of("{\"words\":\"pseudo\"}", "substring_occur", "direct", 400, 11);
    int yes = 0;
    for (int i = 0; i < 400; i += 2) {
        cb_item *p = item_of(s, i), *n = item_of(s, i + 1);
        const char *w = meta_s(p, "word");
        cr_assert_str_eq(w, meta_s(n, "word"));
        cr_assert_str_eq(p->gold, "Yes");
        cr_assert_str_eq(n->gold, "No");
        cr_assert_str_eq(meta_s(p, "polarity"), "positive");
        const char *xp = meta_s(p, "x"), *xn = meta_s(n, "x");
        size_t l = strlen(xp);
        cr_assert(l >= 3 && l <= 14);
        cr_assert_eq(strlen(xn), l);
        cr_assert_not_null(strstr(w, xp));
        cr_assert_null(strstr(w, xn), "negative \"%s\" is in \"%s\"", xn, w);
        int diff = 0;
        for (size_t k = 0; k < l; k++) {
            if (xp[k] == xn[k]) continue;
            diff++;
            int up_p = xp[k] >= 'A' && xp[k] <= 'Z', up_n = xn[k] >= 'A' && xn[k] <= 'Z';
            cr_assert_eq(up_p, up_n, "replacement keeps the letter case");
        }
        cr_assert_eq(diff, 1);
        yes++;
        cb_item_free(p);
        cb_item_free(n);
    }
    cr_assert_eq(yes, 200);
    cb_task_spec_free(s);
}

Test(counting, ambiguity_filter) {
    /* the seed list holds Missourianism, Mississippi, Elvis: case traps */
    cb_task_spec *s = spec_of("{\"words\":\"seed\"}", "char_occur", "plain", 500, 2);
    for (int i = 0; i < 500; i++) {
        cb_item *it = item_of(s, i);
        const char *w = meta_s(it, "word"), *x = meta_s(it, "x");
        char o = (x[0] >= 'a' && x[0] <= 'z') ? (char)(x[0] - 32) : (char)(x[0] + 32);
        cr_assert_null(strchr(w, o), "item %d: %s has %c and %c", i, w, x[0], o);
        int cnt = 0;
        for (const char *p = w; *p; p++) cnt += *p == x[0];
        cr_assert_eq(it->gold_int, cnt);
        cr_assert_geq(cnt, 1);
        cb_item_free(it);
    }
    cb_task_spec_free(s);
    s = spec_of("{\"words\":\"seed\",\"ambiguity_filter\":false}", "char_occur", "plain", 500, 2);
    int amb = 0;
    for (int i = 0; i < 500; i++) {
        cb_item *it = item_of(s, i);
        const char *w = meta_s(it, "word"), *x = meta_s(it, "x");
        char o = (x[0] >= 'a' && x[0] <= 'z') ? (char)(x[0] - 32) : (char)(x[0] + 32);
        amb += strchr(w, o) != NULL;
        cb_item_free(it);
    }
    cr_assert_gt(amb, 0, "without the filter, case-ambiguous items occur");
    cb_task_spec_free(s);

    s = spec_of("{\"words\":\"pseudo\"}", "distinct_char", "plain", 1000, 2);
    for (int i = 0; i < 1000; i++) {
        cb_item *it = item_of(s, i);
        const char *w = meta_s(it, "word");
        unsigned char seen[128] = {0}, seenf[128] = {0};
        int d = 0, df = 0;
        for (const char *p = w; *p; p++) {
            int c = *p, f = (c >= 'A' && c <= 'Z') ? c + 32 : c;
            if (!seen[c]) seen[c] = 1, d++;
            if (!seenf[f]) seenf[f] = 1, df++;
        }
        cr_assert_eq(it->gold_int, d);
        cr_assert_eq(d, df, "%s changes distinct count under folding", w);
        cb_item_free(it);
    }
    cb_task_spec_free(s);
}

Test(counting, absent_rate) {
    cb_task_spec *s = spec_of("{\"words\":\"pseudo\",\"absent_rate\":1}", "char_occur", "direct", 200, 4);
    for (int i = 0; i < 200; i++) {
        cb_item *it = item_of(s, i);
        const char *w = meta_s(it, "word"), *x = meta_s(it, "x");
        cr_assert_eq(it->gold_int, 0);
        cr_assert(x[0] >= 'a' && x[0] <= 'z');
        cr_assert_null(strchr(w, x[0]));
        cr_assert_null(strchr(w, x[0] - 32));
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(it->meta, "absent")));
        cb_item_free(it);
    }
    cb_task_spec_free(s);
    s = spec_of("{\"absent_rate\":0.5}", "char_occur", "direct", 400, 4);
    int absent = 0;
    for (int i = 0; i < 400; i++) {
        cb_item *it = item_of(s, i);
        absent += it->gold_int == 0;
        cb_item_free(it);
    }
    cr_assert(absent > 140 && absent < 260, "%d of 400 absent", absent);
    cb_task_spec_free(s);
}

Test(counting, word_file) {
    char path[] = "/tmp/cb_words_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *text = "zebra\r\nab\nAardvark\n  spaced\nnaïve\nwith1digit\nabcdefghijklmnopqrs\nzebra\nMoon";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char params[128];
    snprintf(params, sizeof params, "{\"words\":\"file:%s\"}", path);
    cb_task_spec *s = spec_of(params, "word_len", "plain", 100, 1);
    int seen[3] = {0};
    for (int i = 0; i < 100; i++) {
        cb_item *it = item_of(s, i);
        const char *w = meta_s(it, "word");
        if (strcmp(w, "Aardvark") == 0) seen[0]++;
        else if (strcmp(w, "Moon") == 0) seen[1]++;
        else if (strcmp(w, "zebra") == 0) seen[2]++;
        else cr_assert_fail("unexpected word %s", w);
        cr_assert_str_eq(meta_s(it, "source"), "file");
        cb_item_free(it);
    }
    cr_assert(seen[0] && seen[1] && seen[2]);
    cb_task_spec_free(s);

    cb_wordlist *wl;
    cb_err e;
    cr_assert_eq(cb_wordlist_parse(text, strlen(text), "t", &wl, &e), 0);
    cr_assert_eq(cb_wordlist_size(wl), 3); /* sorted, de-duplicated */
    cr_assert_str_eq(cb_wordlist_word(wl, 0), "Aardvark");
    cr_assert_str_eq(cb_wordlist_word(wl, 1), "Moon");
    cr_assert_str_eq(cb_wordlist_word(wl, 2), "zebra");
    cb_wordlist_free(wl);
    cr_assert_eq(cb_wordlist_parse("ab\n12345\n", 9, "t", &wl, &e), CB_EUSAGE);
    cr_assert(strstr(e.msg, "none of the 2 lines"), "%s", e.msg);
    cr_assert_eq(cb_wordlist_seed(&wl, &e), 0);
    cr_assert_eq(cb_wordlist_size(wl), 15);
    cb_wordlist_free(wl);
    unlink(path);
}

/* ---- prompts and requests ---- */

Test(counting, prompts_of_every_setting) {
    struct {
        const char *setting;
        const char *expect;
    } cases[] = {
        {"plain", "How many distinct characters in the word \"%s\"?"},
        {"direct", "How many distinct characters in the word \"%s\"? Directly answer the number."},
        {"cot", "How many distinct characters in the word \"%s\"?\n\nWork through the word one character at a time "
                "and show your counting. Then give the result on a final line in the form \"Answer: <value>\"."},
        {"para1", "How many different characters appear in \"%s\"?"},
        {"para2", "Count the unique characters of the word \"%s\"."},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cb_task_spec *s = spec_of(NULL, "distinct_char", cases[k].setting, 1, 8);
        cb_item *it = item_of(s, 0);
        char want[512];
        snprintf(want, sizeof want, cases[k].expect, meta_s(it, "word"));
        cr_assert_eq(it->n_turns, 1);
        cr_assert_eq(it->turns[0].role, CB_TURN_USER);
        cr_assert_str_eq(it->turns[0].text, want);
        cb_item_free(it);
        cb_task_spec_free(s);
    }
    /* substring direct, char para */
    cb_task_spec *s = spec_of(NULL, "substring_occur", "direct", 1, 8);
    cb_item *it = item_of(s, 0);
    char want[512];
    snprintf(want, sizeof want, "Is the substring \"%s\" part of the word \"%s\"? Directly answer Yes or No.",
             meta_s(it, "x"), meta_s(it, "word"));
    cr_assert_str_eq(last_user(it), want);
    cb_item_free(it);
    cb_task_spec_free(s);
    s = spec_of(NULL, "char_occur", "para1", 1, 8);
    it = item_of(s, 0);
    snprintf(want, sizeof want, "In the word \"%s\", how many times does the letter '%s' occur?", meta_s(it, "word"),
             meta_s(it, "x"));
    cr_assert_str_eq(last_user(it), want);
    cb_item_free(it);
    cb_task_spec_free(s);
}

static void spell(const char *w, char sep, char *out) {
    int n = 0;
    for (int i = 0; w[i]; i++) {
        if (i) out[n++] = sep;
        out[n++] = w[i];
    }
    out[n] = '\0';
}

Test(counting, spelled_variants) {
    const char *set[3] = {"spelled", "spelled_space", "spelled_comma"};
    const char seps[3] = {'-', ' ', ','};
    const char *what[3] = {"hyphens", "spaces", "commas"};
    for (int k = 0; k < 3; k++) {
        cb_task_spec *s = spec_of(NULL, "char_occur", set[k], 1, 21);
        cb_item *it = item_of(s, 0);
        char sp[64], want[512];
        spell(meta_s(it, "word"), seps[k], sp);
        snprintf(want, sizeof want,
                 "How many %s's in the word \"%s\"?\nThe letters of the word are separated by %s; the separators are "
                 "not part of the word.",
                 meta_s(it, "x"), sp, what[k]);
        cr_assert_str_eq(last_user(it), want);
        cb_item_free(it);
        cb_task_spec_free(s);
    }
}

/* Whether two strings are equal or one letter apart (as the family's rule). */
static int one_letter_apart(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb) {
        int d = 0;
        for (size_t i = 0; i < la; i++) d += a[i] != b[i];
        return d <= 1;
    }
    if (la + 1 != lb && lb + 1 != la) return 0;
    if (la < lb) {
        const char *t = a;
        a = b;
        b = t;
    }
    size_t i = 0;
    while (b[i] && a[i] == b[i]) i++;
    return strcmp(a + i + 1, b + i) == 0;
}

Test(counting, fewshot_demos_substring_balanced_shuffled) {
    cb_task_spec *s4 = spec_of(NULL, "substring_occur", "fewshot4", 40, 6);
    cb_task_spec *s8 = spec_of(NULL, "substring_occur", "fewshot8", 40, 6);
    cb_task_spec *sp = spec_of(NULL, "substring_occur", "plain", 40, 6);
    int first_yes = 0;
    for (int i = 0; i < 40; i++) {
        cb_item *a = item_of(s4, i), *b = item_of(s8, i), *p = item_of(sp, i);
        cr_assert_eq(a->n_turns, 9);
        cr_assert_eq(b->n_turns, 17);
        cr_assert_str_eq(last_user(a), last_user(p));
        cr_assert_str_eq(last_user(b), last_user(p));
        const cb_item *its[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            const cb_item *it = its[k];
            int nd = (it->n_turns - 1) / 2, yes = 0;
            for (int t = 0; t < nd; t++) {
                cr_assert_eq(it->turns[2 * t].role, CB_TURN_USER);
                cr_assert_eq(it->turns[2 * t + 1].role, CB_TURN_ASSISTANT);
                const char *ans = it->turns[2 * t + 1].text;
                cr_assert(strcmp(ans, "Yes") == 0 || strcmp(ans, "No") == 0);
                yes += strcmp(ans, "Yes") == 0;
                cr_assert_not(one_letter_apart(it->turns[2 * t].text, last_user(p)), "%s: demo near the item", it->id);
                for (int u = 0; u < t; u++)
                    cr_assert_not(one_letter_apart(it->turns[2 * t].text, it->turns[2 * u].text),
                                  "%s: demos %d and %d differ by one letter", it->id, u, t);
            }
            cr_assert_eq(yes, nd / 2, "%s: %d Yes of %d demos", it->id, yes, nd);
        }
        first_yes += strcmp(b->turns[1].text, "Yes") == 0;
        cb_item_free(a);
        cb_item_free(b);
        cb_item_free(p);
    }
    /* the order is shuffled per item, not always Yes first */
    cr_assert(first_yes > 5 && first_yes < 35, "first demo was Yes in %d of 40 items", first_yes);
    cb_task_spec_free(s4);
    cb_task_spec_free(s8);
    cb_task_spec_free(sp);
}

Test(counting, fewshot_demos_numeric_from_pool) {
    cb_task_spec *s4 = spec_of(NULL, "char_occur", "fewshot4", 3, 6);
    cb_task_spec *s8 = spec_of(NULL, "char_occur", "fewshot8", 3, 6);
    cb_task_spec *sp = spec_of(NULL, "char_occur", "plain", 3, 6);
    cb_item *a = item_of(s4, 2), *b = item_of(s8, 2);
    for (int t = 0; t < 8; t++) cr_assert_str_eq(a->turns[t].text, b->turns[t].text); /* prefix */
    /* the first demo of index 2 is pool item 2^40 + 64*2 (+ m for skipped near-duplicates) */
    int found = 0;
    for (int m = 0; m < 4 && !found; m++) {
        cb_item *d = item_of(sp, (INT64_C(1) << 40) + 64 * 2 + m);
        if (strcmp(a->turns[0].text, d->turns[0].text) == 0) {
            cr_assert_str_eq(a->turns[1].text, d->gold);
            found = 1;
        }
        cb_item_free(d);
    }
    cr_assert(found, "first demo not among the first pool items");
    cb_item_free(a);
    cb_item_free(b);
    cb_task_spec_free(s4);
    cb_task_spec_free(s8);
    cb_task_spec_free(sp);
}

Test(counting, seed_words_enumerated) {
    static const char *const order[15] = {"strawberry", "Missourianism", "Elvis",     "confusable", "limnologically",
                                          "streetward", "coupleress",    "bookkeeper", "Mississippi", "onomatopoeia",
                                          "banana",     "committee",     "rhythm",     "queueing",    "parallel"};
    const char *subs[3] = {"char_occur", "word_len", "substring_occur"};
    for (int k = 0; k < 3; k++) {
        cb_task_spec *s = spec_of("{\"words\":\"seed\"}", subs[k], "direct", 30, 9);
        for (int i = 0; i < 30; i++) {
            cb_item *it = item_of(s, i);
            cr_assert_str_eq(meta_s(it, "word"), order[i % 15], "%s item %d", subs[k], i);
            if (k == 2) cr_assert_str_eq(it->gold, i % 2 ? "No" : "Yes");
            cb_item_free(it);
        }
        cb_task_spec_free(s);
    }
    /* distinct_char: Missourianism fails the case filter and is replaced by the next word in order */
    cb_task_spec *s = spec_of("{\"words\":\"seed\"}", "distinct_char", "direct", 15, 9);
    cb_item *it = item_of(s, 1);
    cr_assert_str_eq(meta_s(it, "word"), "Elvis");
    cb_item_free(it);
    it = item_of(s, 0);
    cr_assert_str_eq(meta_s(it, "word"), "strawberry");
    cr_assert_eq(it->gold_int, 8);
    cb_item_free(it);
    cb_task_spec_free(s);
}

Test(counting, requests) {
    cb_task_spec *s = spec_of(NULL, "char_occur", "sc", 2, 1);
    cb_item *it = item_of(s, 0);
    int len = (int)strlen(meta_s(it, "word"));
    cr_assert_eq(it->n_reqs, 5 + len + 4);
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(it->reqs[k].kind, CB_TREQ_GENERATE);
        cr_assert_eq(it->reqs[k].optional, 0);
        cr_assert_float_eq(it->reqs[k].temperature, 0.7, 1e-6);
        cr_assert_eq(it->reqs[k].top_k, 40);
        cr_assert_eq(it->reqs[k].max_tokens, 1024);
        for (int j = 0; j < k; j++) cr_assert_neq(it->reqs[k].seed, it->reqs[j].seed);
        cr_assert_eq(it->reqs[k].turns, it->turns);
    }
    for (int c = 0; c < len + 4; c++) {
        const cb_treq *q = &it->reqs[5 + c];
        char want[32];
        snprintf(want, sizeof want, " %d", c);
        cr_assert_eq(q->kind, CB_TREQ_LOGLIK);
        cr_assert_eq(q->optional, 1);
        cr_assert_str_eq(q->continuation, want);
        cr_assert_str_eq(q->cont_prefix, "Answer:");
        cr_assert_eq(q->n_turns, 1);
        cr_assert(strstr(q->turns[0].text, "Directly answer the number."));
    }
    cb_item_free(it);
    cb_task_spec_free(s);

    s = spec_of("{\"candidates\":false}", "word_len", "direct", 1, 1);
    it = item_of(s, 0);
    cr_assert_eq(it->n_reqs, 1);
    cr_assert_eq(it->reqs[0].max_tokens, 16);
    cr_assert_float_eq(it->reqs[0].temperature, 0, 1e-9);
    cb_item_free(it);
    cb_task_spec_free(s);

    s = spec_of(NULL, "substring_occur", "direct", 1, 1);
    it = item_of(s, 0);
    cr_assert_eq(it->n_reqs, 3);
    cr_assert_str_eq(it->reqs[1].continuation, " Yes");
    cr_assert_str_eq(it->reqs[2].continuation, " No");
    cr_assert_str_eq(it->reqs[1].cont_prefix, "Answer:");
    cr_assert_str_eq(it->reqs[1].turns[0].text, it->turns[0].text); /* direct: the same prompt text */
    cr_assert_eq(it->n_capabilities, 2);
    cr_assert_str_eq(it->capabilities[0], "char_perception");
    cr_assert_str_eq(it->capabilities[1], "substring_detection");
    cb_item_free(it);
    cb_task_spec_free(s);
}

/* The candidate requests depend on the item only: identical in every setting. */
Test(counting, candidate_requests_identical_across_settings) {
    const char *subs[2] = {"char_occur", "substring_occur"};
    const char *sets[5] = {"direct", "plain", "cot", "fewshot8", "spelled_comma"};
    for (int k = 0; k < 2; k++) {
        cb_item *ref = NULL;
        for (int t = 0; t < 5; t++) {
            cb_task_spec *s = spec_of(NULL, subs[k], sets[t], 4, 13);
            cb_item *it = item_of(s, 3);
            int ng = strcmp(sets[t], "sc") == 0 ? 5 : 1;
            if (!ref) {
                ref = it;
                cb_task_spec_free(s);
                continue;
            }
            cr_assert_eq(it->n_reqs - ng, ref->n_reqs - 1);
            for (int r = 1; r < ref->n_reqs; r++) {
                const cb_treq *a = &ref->reqs[r], *b = &it->reqs[ng + r - 1];
                cr_assert_eq(b->kind, CB_TREQ_LOGLIK);
                cr_assert_eq(a->n_turns, b->n_turns);
                cr_assert_str_eq(a->turns[0].text, b->turns[0].text, "%s/%s", subs[k], sets[t]);
                cr_assert_str_eq(a->cont_prefix, b->cont_prefix);
                cr_assert_str_eq(a->continuation, b->continuation);
            }
            cb_item_free(it);
            cb_task_spec_free(s);
        }
        cb_item_free(ref);
    }
}

/* ---- JSON round trip ---- */

Test(counting, json_round_trip) {
    const char *sets[4] = {"direct", "sc", "fewshot4", "spelled_comma"};
    const char *subs[4] = {"char_occur", "substring_occur", "word_len", "distinct_char"};
    for (int k = 0; k < 4; k++) {
        cb_task_spec *s = spec_of(NULL, subs[k], sets[k], 4, 99);
        for (int i = 0; i < 4; i++) {
            cb_item *it = item_of(s, i), *back;
            char *line = cb_item_to_jsonl(it);
            cJSON *j = cJSON_Parse(line);
            cb_err e;
            cr_assert_eq(cb_item_from_json(j, "line 1", &back, &e), 0, "%s", e.msg);
            char *line2 = cb_item_to_jsonl(back);
            cr_assert_str_eq(line, line2);
            cr_assert_eq(back->seed, it->seed);
            cr_assert_eq(back->index, i);
            cr_assert_eq(back->n_reqs, it->n_reqs);
            for (int r = 0; r < it->n_reqs; r++) {
                cr_assert_eq(back->reqs[r].kind, it->reqs[r].kind);
                cr_assert_eq(back->reqs[r].seed, it->reqs[r].seed);
                cr_assert_eq(back->reqs[r].n_turns, it->reqs[r].n_turns);
                for (int t = 0; t < it->reqs[r].n_turns; t++)
                    cr_assert_str_eq(back->reqs[r].turns[t].text, it->reqs[r].turns[t].text);
                if (it->reqs[r].continuation)
                    cr_assert_str_eq(back->reqs[r].continuation, it->reqs[r].continuation);
            }
            free(line);
            free(line2);
            cJSON_Delete(j);
            cb_item_free(it);
            cb_item_free(back);
        }
        cb_task_spec_free(s);
    }
}

static void expect_json_error(const char *json, const char *needle) {
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j, "test JSON must parse: %s", json);
    cb_item *it = NULL;
    cb_err e;
    cb_err_clear(&e);
    cr_assert_neq(cb_item_from_json(j, "line 7", &it, &e), 0, "accepted %s", json);
    cr_assert_null(it);
    cr_assert(strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
    cJSON_Delete(j);
}

#define GOOD_TAIL                                                                                                  \
    "\"turns\":[{\"role\":\"user\",\"text\":\"q\"}],\"gold\":3,\"grader\":\"rule\",\"capabilities\":[\"a\"],"     \
    "\"meta\":{\"word\":\"strawberry\",\"x\":\"r\"}}"

Test(counting, json_errors) {
    expect_json_error("[]", "line 7: expected a JSON object");
    expect_json_error("{\"seed\":\"1\"}", "line 7: field \"id\"");
    expect_json_error("{\"id\":\"counting/char_occur/direct\",\"seed\":\"1\"}", "field \"id\": expected");
    expect_json_error("{\"id\":\"nope/a/b/0\",\"seed\":\"1\"}", "unknown task family \"nope\"");
    expect_json_error("{\"id\":\"counting/char_occur/direct/x\",\"seed\":\"1\"}", "index \"x\"");
    expect_json_error("{\"id\":\"counting/char_occur/direct/0\",\"seed\":\"-1\"}", "field \"seed\"");
    expect_json_error("{\"id\":\"counting/char_occur/direct/0\",\"seed\":\"1\",\"turns\":[]}", "field \"turns\"");
    expect_json_error("{\"id\":\"counting/char_occur/direct/0\",\"seed\":\"1\",\"turns\":[{\"role\":\"bot\","
                      "\"text\":\"q\"}]}",
                      "field \"turns[0]\"");
    expect_json_error("{\"id\":\"counting/char_occur/direct/0\",\"seed\":\"1\",\"turns\":[{\"role\":\"user\","
                      "\"text\":\"q\"}],\"gold\":2.5}",
                      "field \"gold\"");
    expect_json_error("{\"id\":\"counting/substring_occur/direct/0\",\"seed\":\"1\"," GOOD_TAIL,
                      "line 7: field \"gold\": expected \"Yes\" or \"No\"");
    expect_json_error("{\"id\":\"counting/char_occur/direct/0\",\"seed\":\"1\",\"turns\":[{\"role\":\"user\","
                      "\"text\":\"q\"}],\"gold\":3,\"grader\":\"rule\",\"capabilities\":[\"a\"],\"meta\":{\"word\":"
                      "\"straw berry\",\"x\":\"r\"}}",
                      "field \"meta.word\"");
    expect_json_error("{\"id\":\"counting/char_occur/direct/0\",\"seed\":\"1\",\"turns\":[{\"role\":\"user\","
                      "\"text\":\"q\"}],\"gold\":3,\"grader\":\"oracle\"}",
                      "field \"grader\"");
    /* and the good one parses */
    cJSON *j = cJSON_Parse("{\"id\":\"counting/char_occur/direct/0\",\"seed\":\"18446744073709551615\"," GOOD_TAIL);
    cb_item *it;
    cb_err e;
    cr_assert_eq(cb_item_from_json(j, "x", &it, &e), 0, "%s", e.msg);
    cr_assert_eq(it->seed, UINT64_MAX);
    cr_assert_eq(it->n_reqs, 1); /* no "candidates" in meta */
    cb_item_free(it);
    cJSON_Delete(j);
}
