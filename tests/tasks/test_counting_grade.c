/* tests/tasks/test_counting_grade.c — grading counting items: the worked
 * examples of TASKS.md 1.6 (including the candidate-distribution example),
 * nasty responses, self-consistency votes, flags and missing responses. */
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cb_grader_ctx *g;

static void setup(void) {
    cb_err e;
    cr_assert_eq(cb_grader_ctx_new(&g, &e), 0, "%s", e.msg);
}
static void teardown(void) { cb_grader_ctx_free(g); }

TestSuite(cgrade, .init = setup, .fini = teardown);

/* An item from a hand-written record. gold_json is "3" or "\"Yes\"". */
static cb_item *mk(const char *subtask, const char *setting, const char *word, const char *x, const char *gold_json,
                   int candidates) {
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"id\":\"counting/%s/%s/0\",\"seed\":\"1\",\"turns\":[{\"role\":\"user\",\"text\":\"q\"}],"
             "\"gold\":%s,\"grader\":\"rule\",\"capabilities\":[\"char_perception\"],"
             "\"meta\":{\"word\":\"%s\"%s%s%s,\"candidates\":%s}}",
             subtask, setting, gold_json, word, x ? ",\"x\":\"" : "", x ? x : "", x ? "\"" : "",
             candidates ? "true" : "false");
    cJSON *j = cJSON_Parse(buf);
    cr_assert_not_null(j, "%s", buf);
    cb_item *it;
    cb_err e;
    cr_assert_eq(cb_item_from_json(j, "test", &it, &e), 0, "%s", e.msg);
    cJSON_Delete(j);
    return it;
}

/* Grades with one text per GENERATE request (n_text of them) and the given
 * candidate log-probs (NULL = candidates skipped). */
static void grade_with(cb_item *it, const char *const *texts, int n_text, const double *lp, cb_grade *out) {
    cb_task_resp r[64];
    memset(r, 0, sizeof r);
    cr_assert_leq(it->n_reqs, 64);
    int t = 0;
    for (int i = 0; i < it->n_reqs; i++) {
        if (it->reqs[i].kind == CB_TREQ_GENERATE) {
            if (t < n_text && texts[t]) {
                r[i].ok = 1;
                r[i].text = texts[t];
            }
            t++;
        } else if (lp) {
            r[i].ok = 1;
            r[i].logprob_sum = lp[i - t];
            r[i].n_tokens = 3;
        }
    }
    cb_err e;
    cr_assert_eq(cb_item_grade(g, it, r, it->n_reqs, out, &e), 0, "%s", e.msg);
}

static void grade1(cb_item *it, const char *text, cb_grade *out) {
    const char *t[1] = {text};
    grade_with(it, t, 1, NULL, out);
}

static double metric(const cb_grade *gr, const char *name) {
    double v;
    cr_assert(cb_grade_get_metric(gr, name, &v), "metric %s missing", name);
    return v;
}

/* ---- TASKS.md 1.6 worked examples ---- */

Test(cgrade, worked_strawberry_direct) {
    cb_item *it = mk("char_occur", "direct", "strawberry", "r", "3", 0);
    cb_grade gr;
    grade1(it, "2", &gr);
    cr_assert_eq(gr.score, 0);
    cr_assert_eq(gr.unparsed, 0);
    cr_assert_str_eq(gr.extracted, "2");
    cr_assert_float_eq(metric(&gr, "abs_error"), 1, 1e-12);
    cr_assert_float_eq(metric(&gr, "signed_error"), -1, 1e-12);
    cr_assert_float_eq(metric(&gr, "off_by_one"), 1, 1e-12);
    cr_assert_float_eq(metric(&gr, "soft_correct"), 0, 1e-12);
    cr_assert_float_eq(metric(&gr, "char_edit_distance"), 1, 1e-12);
    cr_assert(gr.flags & CB_GRADE_NO_MARKER);
    cr_assert_not(gr.flags & CB_GRADE_FORMAT_VIOLATION);
    cr_assert_not(cb_grade_get_metric(&gr, "q_gold", NULL));
    cb_item_free(it);
}

Test(cgrade, worked_strawberry_cot) {
    cb_item *it = mk("char_occur", "cot", "strawberry", "r", "3", 0);
    cb_grade gr;
    grade1(it, "s, t, r (1), a, w, b, e, r (2), r (3), y ... Answer: 3", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert_str_eq(gr.extracted, "3");
    cr_assert_eq(gr.flags & (CB_GRADE_NO_MARKER | CB_GRADE_FORMAT_VIOLATION), 0);
    cr_assert_float_eq(metric(&gr, "abs_error"), 0, 1e-12);
    cr_assert_float_eq(metric(&gr, "off_by_one"), 0, 1e-12);
    cr_assert_float_eq(metric(&gr, "soft_correct"), 1, 1e-12);
    /* cot without the marker: graded on the whole text, flagged */
    grade1(it, "I count three r's, so 3", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert(gr.flags & CB_GRADE_FORMAT_VIOLATION);
    cr_assert(gr.flags & CB_GRADE_NO_MARKER);
    cb_item_free(it);
}

Test(cgrade, worked_missourianism_word_form) {
    cb_item *it = mk("char_occur", "plain", "Missourianism", "m", "1", 0);
    cb_grade gr;
    grade1(it, "There are two m's.", &gr);
    cr_assert_eq(gr.score, 0);
    cr_assert_str_eq(gr.extracted, "2");
    cr_assert(gr.flags & CB_GRADE_NUMBER_WORD);
    cr_assert_float_eq(metric(&gr, "signed_error"), 1, 1e-12);
    cb_item_free(it);
}

Test(cgrade, worked_substring) {
    cb_item *yes = mk("substring_occur", "plain", "strawberry", "raw", "\"Yes\"", 1);
    cb_item *no = mk("substring_occur", "plain", "strawberry", "rae", "\"No\"", 1);
    cb_grade gr;
    grade1(yes, "Answer: Yes", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert_str_eq(gr.extracted, "Yes");
    /* "Yes, it is." for gold No: wrong; Brier from q_Yes */
    const char *t[1] = {"Yes, it is."};
    const double lp[2] = {log(0.8), log(0.2)}; /* Yes, No */
    grade_with(no, t, 1, lp, &gr);
    cr_assert_eq(gr.score, 0);
    cr_assert_str_eq(gr.extracted, "Yes");
    cr_assert_float_eq(metric(&gr, "q_gold"), 0.2, 1e-12);
    cr_assert_float_eq(metric(&gr, "brier"), 0.8 * 0.8 + 0.8 * 0.8, 1e-12);
    cr_assert_float_eq(metric(&gr, "soft_correct"), 0, 1e-12);
    cr_assert_float_eq(metric(&gr, "gold_logprob"), log(0.2), 1e-12);
    cr_assert_float_eq(metric(&gr, "gold_logprob_mean"), log(0.2) / 3, 1e-12);
    cr_assert_float_eq(metric(&gr, "gold_prob"), 0.2, 1e-12);
    cb_item_free(yes);
    cb_item_free(no);
}

Test(cgrade, worked_distinct) {
    cb_item *it = mk("distinct_char", "cot", "strawberry", NULL, "8", 0);
    cb_grade gr;
    grade1(it, "Answer: 8", &gr);
    cr_assert_eq(gr.score, 1);
    cb_item_free(it);
}

/* ---- TASKS.md 1.4 worked extraction examples ---- */

typedef struct {
    const char *subtask, *setting, *word, *x, *gold_json;
    const char *response;
    const char *value;   /* "" = no value */
    unsigned flags;      /* flags the table lists (must be set) */
    unsigned not_flags;  /* flags that must not be set */
    const char *grade;   /* correct / wrong / unparsed */
} worked;

Test(cgrade, worked_extraction_examples_1_4) {
    enum { NM = CB_GRADE_NO_MARKER, M = CB_GRADE_MARKER, FV = CB_GRADE_FORMAT_VIOLATION,
           SC = CB_GRADE_SELF_CORRECTED, H = CB_GRADE_HEDGED };
    static const worked cases[] = {
        {"char_occur", "direct", "banana", "n", "2", "2", "2", NM, FV, "correct"},
        {"char_occur", "direct", "banana", "n", "2", "**Two.**", "2", NM, FV, "correct"},
        {"char_occur", "direct", "banana", "b", "1", "One day, a little cat found two hats.", "", NM, FV, "unparsed"},
        {"char_occur", "direct", "banana", "n", "2", "Once upon a time there was one cat who had two hats.", "1",
         NM | FV, 0, "wrong"},
        {"char_occur", "direct", "banana", "n", "2", "The word \"banana\" has 6 letters and 3 a's.", "", NM, FV,
         "unparsed"},
        {"char_occur", "plain", "banana", "n", "2", "There are 2 n's in \"banana\" (positions 3 and 5).", "2", NM, 0,
         "correct"},
        {"char_occur", "plain", "banana", "n", "2", "I see 3 n's. Wait, let me look again: b-a-n-a-n-a. There are 2.",
         "2", SC, 0, "correct"},
        {"char_occur", "cot", "banana", "n", "2", "b, a, n (1), a, n (2), a. Answer: 2 n's (at 3 and 5)", "2", M, FV | NM,
         "correct"},
        {"char_occur", "cot", "banana", "n", "2", "Answer: 2 or 3", "", M | H, NM, "unparsed"},
        {"char_occur", "cot", "banana", "n", "2", "Counting gives 2.", "2", NM | FV, M, "correct"},
        {"char_occur", "cot", "banana", "z", "0", "Answer: none", "0", M, 0, "correct"},
        {"substring_occur", "direct", "banana", "nan", "\"Yes\"", "Yep, it does.", "Yes", NM, FV, "correct"},
        {"substring_occur", "direct", "banana", "nab", "\"No\"", "The sequence does not appear in the word.", "No", NM,
         FV, "correct"},
        {"substring_occur", "direct", "banana", "nab", "\"No\"", "Yes. Actually, no.", "No", SC, 0, "correct"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const worked *c = &cases[i];
        cb_item *it = mk(c->subtask, c->setting, c->word, c->x, c->gold_json, 0);
        cb_grade gr;
        grade1(it, c->response, &gr);
        const char *grade = gr.unparsed ? "unparsed" : gr.score > 0 ? "correct" : "wrong";
        cr_assert_str_eq(grade, c->grade, "case %zu '%s'", i, c->response);
        cr_assert_str_eq(gr.extracted, c->value, "case %zu '%s'", i, c->response);
        cr_assert_eq(gr.flags & c->flags, c->flags, "case %zu '%s': flags %#x", i, c->response, gr.flags);
        cr_assert_eq(gr.flags & c->not_flags, 0, "case %zu '%s': flags %#x", i, c->response, gr.flags);
        cb_item_free(it);
    }
}

/* The grade's span is a byte range of the RAW response, also when
 * normalization changed the bytes before it. */
Test(cgrade, span_offsets_are_raw_bytes) {
    cb_item *it = mk("char_occur", "cot", "banana", "n", "2", 0);
    cb_grade gr;
    const char *r = "\xef\xbc\x91, \xe2\x80\x9cn\xe2\x80\x9d... **Answer:** \xef\xbc\x92 n's";
    grade1(it, r, &gr);
    cr_assert_eq(gr.score, 1);
    const char *want = strstr(r, "\xef\xbc\x92");
    cr_assert_eq(gr.span_start, want - r);
    cr_assert_eq(gr.span_end, (int64_t)strlen(r));
    grade1(it, "I see 3 n's. Wait, let me look again: b-a-n-a-n-a. There are 2.", &gr);
    cr_assert_eq(gr.span_start, 51); /* "There are 2." */
    cr_assert_eq(gr.span_end, 63);
    grade1(it, "nothing here", &gr);
    cr_assert(gr.unparsed);
    cr_assert_eq(gr.span_start, -1);
    cr_assert_eq(gr.span_end, -1);
    cb_item_free(it);
}

Test(cgrade, worked_candidate_distribution) {
    /* gold 3; log-prob sums for Answer: 0..4 = -6.0, -3.0, -0.4, -1.2, -4.0; 5..13 negligible */
    cb_item *it = mk("char_occur", "direct", "strawberry", "r", "3", 1);
    cr_assert_eq(it->n_reqs, 1 + 14);
    double lp[14] = {-6.0, -3.0, -0.4, -1.2, -4.0};
    for (int c = 5; c < 14; c++) lp[c] = -1000;
    const char *t[1] = {"2"};
    cb_grade gr;
    grade_with(it, t, 1, lp, &gr);
    cr_assert_eq(gr.score, 0);
    cr_assert_float_eq(metric(&gr, "q_gold"), 0.289, 5e-4);
    cr_assert_float_eq(metric(&gr, "expected_error"), 0.76, 5e-3);
    /* the q vector itself: 0.002, 0.048, 0.643, 0.289, 0.018 */
    double z = 0, q[5];
    for (int c = 0; c < 5; c++) z += exp(lp[c]);
    for (int c = 0; c < 5; c++) q[c] = exp(lp[c]) / z;
    cr_assert_float_eq(q[0], 0.002, 5e-4);
    cr_assert_float_eq(q[1], 0.048, 5e-4);
    cr_assert_float_eq(q[2], 0.643, 5e-4);
    cr_assert_float_eq(q[4], 0.018, 5e-4);
    cr_assert_float_eq(metric(&gr, "gold_logprob"), -1.2, 1e-12);
    /* a skipped candidate drops the candidate metrics, not the grade */
    cb_task_resp r[15];
    memset(r, 0, sizeof r);
    r[0].ok = 1;
    r[0].text = "3";
    for (int c = 0; c < 14; c++) {
        r[1 + c].ok = c != 7;
        r[1 + c].logprob_sum = lp[c];
    }
    cb_err e;
    cr_assert_eq(cb_item_grade(g, it, r, 15, &gr, &e), 0);
    cr_assert_eq(gr.score, 1);
    cr_assert_not(cb_grade_get_metric(&gr, "q_gold", NULL));
    /* wrong response count is an error */
    cr_assert_eq(cb_item_grade(g, it, r, 3, &gr, &e), CB_EUSAGE);
    cb_item_free(it);
}

/* ---- nasty responses ---- */

typedef struct {
    const char *response;
    double score;
    int unparsed;
    const char *extracted;
} ncase;

Test(cgrade, nasty_numeric) {
    cb_item *it = mk("char_occur", "plain", "strawberry", "r", "3", 0);
    static const ncase cases[] = {
        {"There are 3 r's", 1, 0, "3"},
        {"**3**", 1, 0, "3"},
        {"three", 1, 0, "3"},
        {"Answer: 3\n\nActually, 2", 0, 0, "2"}, /* self-correction after the marker */
        {"Answer: 2\n\nAnswer: 3", 1, 0, "3"},   /* the last marker */
        {"", 0, 1, ""},
        {"I cannot count letters.", 0, 1, ""},
        {"r2d2 has 4", 0, 0, "4"},                /* statement "has N" ending the clause */
        {"r2d2", 0, 1, ""},                       /* digits glued to letters are no count */
        {"1,000", 0, 0, "1000"},
        {"1,2", 0, 1, ""},                        /* a list, not a thousands group */
        {"Thrice!", 1, 0, "3"},
        {"The letter r appears 3 times in strawberry (10 letters).", 1, 0, "3"}, /* attached to the unit */
        {"Answer: 99999999999999999999999", 0, 0, "9223372036854775807"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cb_grade gr;
        grade1(it, cases[i].response, &gr);
        cr_assert_float_eq(gr.score, cases[i].score, 1e-12, "case %zu '%s'", i, cases[i].response);
        cr_assert_eq(gr.unparsed, cases[i].unparsed, "case %zu", i);
        cr_assert_str_eq(gr.extracted, cases[i].extracted, "case %zu", i);
        if (gr.unparsed) {
            cr_assert_not(cb_grade_get_metric(&gr, "abs_error", NULL));
            cr_assert_float_eq(metric(&gr, "char_edit_distance"), 1, 1e-12); /* "" vs "3" */
        }
    }
    /* soft correctness: "3" appears as last digits of the whole response even though the marker says 2 */
    cb_grade gr;
    grade1(it, "Answer: 2 ... wait, it is 3", &gr);
    cr_assert_eq(gr.score, 1);
    grade1(it, "three r's; Answer: 2", &gr);
    cr_assert_eq(gr.score, 0);
    cr_assert_float_eq(metric(&gr, "soft_correct"), 1, 1e-12); /* gold's number word appears */
    cb_item_free(it);
}

Test(cgrade, nasty_yes_no) {
    cb_item *it = mk("substring_occur", "direct", "strawberry", "raw", "\"Yes\"", 0);
    cb_grade gr;
    grade1(it, "Yes, it is.", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert_not(gr.flags & CB_GRADE_FORMAT_VIOLATION); /* one sentence of 3 words */
    grade1(it, "Yes, it is. The sequence appears in the word.", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert(gr.flags & CB_GRADE_FORMAT_VIOLATION); /* direct: more than one sentence */
    grade1(it, "Yes.", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert_not(gr.flags & CB_GRADE_FORMAT_VIOLATION);
    grade1(it, "No.", &gr);
    cr_assert_eq(gr.score, 0);
    cr_assert_str_eq(gr.extracted, "No");
    cr_assert_float_eq(metric(&gr, "soft_correct"), 0, 1e-12);
    grade1(it, "I don't know", &gr);
    cr_assert_eq(gr.score, 0);
    cr_assert_eq(gr.unparsed, 1);
    cr_assert_str_eq(gr.extracted, "");
    grade1(it, "No... wait, yes", &gr);
    cr_assert_eq(gr.score, 1); /* self-corrected */
    cr_assert(gr.flags & CB_GRADE_SELF_CORRECTED);
    cr_assert_float_eq(metric(&gr, "soft_correct"), 1, 1e-12); /* lenient: both words present */
    cb_item_free(it);
}

Test(cgrade, direct_format_and_missing) {
    cb_item *it = mk("word_len", "direct", "banana", NULL, "6", 0);
    cb_grade gr;
    grade1(it, " 6.\n", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert_not(gr.flags & CB_GRADE_FORMAT_VIOLATION);
    grade1(it, "The word has 6 letters", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert_not(gr.flags & CB_GRADE_FORMAT_VIOLATION);
    grade1(it, "The word banana is spelled b-a-n-a-n-a and so it has exactly 6 letters in it.", &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert(gr.flags & CB_GRADE_FORMAT_VIOLATION); /* 15 words */
    grade1(it, NULL, &gr); /* ok = 0: failed request */
    cr_assert_eq(gr.unparsed, 1);
    cr_assert(gr.flags & CB_GRADE_NO_RESPONSE);
    cr_assert_eq(gr.score, 0);
    cb_task_resp r = {.ok = 1, .text = "6", .truncated = 1};
    cb_err e;
    cr_assert_eq(cb_item_grade(g, it, &r, 1, &gr, &e), 0);
    cr_assert(gr.flags & CB_GRADE_TRUNCATED);
    cJSON *j = cb_grade_to_json(&gr);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "unparsed")) == 0);
    cJSON_Delete(j);
    cb_item_free(it);
}

Test(cgrade, self_consistency_vote) {
    cb_item *it = mk("char_occur", "sc", "strawberry", "r", "3", 0);
    cr_assert_eq(it->n_reqs, 5);
    cb_grade gr;
    const char *t1[5] = {"Answer: 2", "Answer: 3", "Answer: 3", "no idea", "Answer: 2"};
    grade_with(it, t1, 5, NULL, &gr);
    cr_assert_eq(gr.score, 0, "tie 2 vs 3: the earliest sample (2) wins");
    cr_assert_str_eq(gr.extracted, "2");
    cr_assert(gr.flags & CB_GRADE_VOTE_TIE);
    cr_assert_float_eq(metric(&gr, "sc_agreement"), 0.4, 1e-12);
    const char *t2[5] = {"Answer: 2", "Answer: 3", "Answer: 3", "three. Answer: three", NULL};
    grade_with(it, t2, 5, NULL, &gr);
    cr_assert_eq(gr.score, 1);
    cr_assert_not(gr.flags & CB_GRADE_VOTE_TIE);
    cr_assert_float_eq(metric(&gr, "sc_agreement"), 0.6, 1e-12);
    const char *t3[5] = {"hmm", "I count 5.", NULL, NULL, NULL};
    grade_with(it, t3, 5, NULL, &gr);
    cr_assert_str_eq(gr.extracted, "5");
    cr_assert(gr.flags & CB_GRADE_FORMAT_VIOLATION);
    const char *t4[5] = {NULL, NULL, NULL, NULL, NULL};
    grade_with(it, t4, 5, NULL, &gr);
    cr_assert(gr.unparsed);
    cr_assert(gr.flags & CB_GRADE_NO_RESPONSE);
    const char *t5[5] = {"nothing", "nada", NULL, NULL, NULL};
    grade_with(it, t5, 5, NULL, &gr);
    cr_assert(gr.unparsed);
    cr_assert_not(gr.flags & CB_GRADE_NO_RESPONSE);
    cb_item_free(it);
}

static int tok_chars(void *user, const char *text, int32_t *ids, int cap) {
    (void)user;
    int n = (int)strlen(text);
    for (int i = 0; i < n && i < cap; i++) ids[i] = text[i];
    return n;
}

Test(cgrade, token_edit_distance_with_tokenizer) {
    cb_item *it = mk("word_len", "plain", "onomatopoeia", NULL, "12", 0);
    cb_grader_ctx_set_tokenizer(g, tok_chars, NULL);
    cb_grade gr;
    grade1(it, "It has 13 letters", &gr);
    cr_assert_float_eq(metric(&gr, "token_edit_distance"), 1, 1e-12);
    cr_assert_float_eq(metric(&gr, "token_edit_distance_norm"), 0.5, 1e-12);
    cr_assert_not(cb_grade_get_metric(&gr, "char_edit_distance", NULL));
    cb_item_free(it);
}

Test(cgrade, generated_items_grade_their_own_gold) {
    /* every generated item answers correctly to its gold, in each setting's format */
    const char *subs[4] = {"char_occur", "substring_occur", "word_len", "distinct_char"};
    const char *sets[3] = {"direct", "cot", "sc"};
    for (int s = 0; s < 4; s++) {
        for (int k = 0; k < 3; k++) {
            cb_err e;
            const char *st[1] = {subs[s]}, *se[1] = {sets[k]};
            cb_task_spec *sp;
            cr_assert_eq(cb_task_spec_new("counting", st, 1, se, 1, 50, 3, NULL, "$", &sp, &e), 0);
            for (int i = 0; i < 50; i++) {
                cb_item *it;
                cr_assert_eq(cb_task_spec_item(sp, i, &it, &e), 0);
                char ans[64];
                snprintf(ans, sizeof ans, "%s%s", k ? "Answer: " : "", it->gold);
                const char *t[5] = {ans, ans, ans, ans, ans};
                cb_grade gr;
                grade_with(it, t, 5, NULL, &gr);
                cr_assert_eq(gr.score, 1, "%s: %s", it->id, ans);
                cr_assert_eq(gr.flags & CB_GRADE_FORMAT_VIOLATION, 0, "%s", it->id);
                cb_item_free(it);
            }
            cb_task_spec_free(sp);
        }
    }
}
