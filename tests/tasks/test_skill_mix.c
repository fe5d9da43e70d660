/* tests/tasks/test_skill_mix.c — the skill-mix family (TASKS.md 2): the 2.7
 * worked examples run through the real rounds (first turn, second turn, judge,
 * re-ask) with canned responses, the metrics, the overrides, judge_failed and
 * the proxy; generator determinism (item i independent of n and shard),
 * splits and config-time refusals. */
#include "graders/grader.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 2.7 item: k = 2, skills (metaphor, red herring), topic Gardening, s = 1. */
static cb_item *example_item(int G, int J, int k3) {
    char json[4096];
    snprintf(json, sizeof json,
             "{\"id\":\"skill-mix/k%d/two_turn/0\",\"seed\":\"77\",\"turns\":[{\"role\":\"user\",\"text\":\"write\"}],"
             "\"gold\":\"\",\"grader\":\"judge\",\"capabilities\":[\"skill_composition\",\"skill_composition_k%d\"],"
             "\"meta\":{\"skills\":[\"metaphor\",\"red herring\"%s],\"variants\":[[\"metaphor\"],[\"red herring\"]%s],"
             "\"k\":%d,\"topic\":\"Gardening\",\"skill_block\":\"...\",\"sentence_limit\":%d,\"limit_words\":\"%s\","
             "\"generations\":%d,\"judge_runs\":%d,\"gen_agg\":\"max\",\"name_penalty\":true,\"max_tokens\":512,"
             "\"judge_max_tokens\":1024}}",
             k3 ? 3 : 2, k3 ? 3 : 2, k3 ? ",\"modus ponens\"" : "", k3 ? ",[\"modus ponens\"]" : "", k3 ? 3 : 2,
             k3 ? 2 : 1, k3 ? "two sentences" : "one sentence", G, J);
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j);
    cb_item *it = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_item_from_json(j, "test", &it, &err), 0, "%s", err.msg);
    cJSON_Delete(j);
    return it;
}

/* Canned answers by request tag: first turns, second turns (per generation),
 * judge outputs (per generation and run), re-asks. */
typedef struct {
    const char *t2[4];        /* second-turn reply per generation */
    const char *judge[4][4];  /* [generation][run] */
    const char *reask[4][4];
    int calls_judge, calls_model;
} script;

static const char *answer_for(script *s, const cb_treq *t) {
    if (t->tag < 100) return "Answer: a first draft. Explanation: none";
    if (t->tag < 200) return s->t2[t->tag - 100];
    if (t->tag < 400) return s->judge[(t->tag - 200) / 16][(t->tag - 200) % 16];
    return s->reask[(t->tag - 400) / 16][(t->tag - 400) % 16];
}

/* Runs the item's rounds with the script as both model and judge, then grades. */
static void run_item(cb_item *it, script *s, int have_judge, cb_grade *g) {
    cb_task_resp r[128];
    memset(r, 0, sizeof r);
    cb_err err = {0};
    int done = 0;
    for (int round = 0; round < 8; round++) {
        for (int k = done; k < it->n_reqs; k++) {
            const char *a = answer_for(s, &it->reqs[k]);
            if (it->reqs[k].target == CB_TARGET_JUDGE) s->calls_judge++;
            else s->calls_model++;
            r[k].ok = a != NULL;
            r[k].text = a;
        }
        done = it->n_reqs;
        int added = 0;
        cr_assert_eq(cb_item_next_round(it, r, it->n_reqs, round, have_judge, &added, &err), 0, "%s", err.msg);
        if (!added) break;
    }
    cb_grader_ctx *gc = NULL;
    cr_assert_eq(cb_grader_ctx_new(&gc, &err), 0);
    cb_grade_init(g);
    cr_assert_eq(cb_item_grade(gc, it, r, it->n_reqs, g, &err), 0, "%s", err.msg);
    cb_grader_ctx_free(gc);
}

static double metric(const cb_grade *g, const char *name) {
    double v = NAN;
    cr_assert(cb_grade_get_metric(g, name, &v), "metric %s missing", name);
    return v;
}

static char *table(int m, int r, int topic, int sense, int limit) {
    char *t = NULL;
    cr_assert(asprintf(&t,
                       "Here's the grading table:\n| Criteria | Points Earned |\n|---|---|\n"
                       "| Correctly illustrates metaphor | %d |\n| Correctly illustrates red herring | %d |\n"
                       "| Pertains to Gardening | %d |\n| Text makes sense | %d |\n| At most one sentence | %d |\n"
                       "| Total Points Earned | %d |\nExplanation: fine.",
                       m, r, topic, sense, limit, m + r + topic + sense + limit) > 0);
    return t;
}

Test(skill_mix, worked_example_row_1) {
    cb_item *it = example_item(1, 1, 0);
    char *j = table(1, 0, 1, 1, 1);
    script s = {.t2 = {"Answer: My garden is a battlefield, and the weeds are winning.\nExplanation: metaphor."},
                .judge = {{j}}};
    cb_grade g;
    run_item(it, &s, 1, &g);
    cr_assert_eq(s.calls_model, 2);
    cr_assert_eq(s.calls_judge, 1);
    cr_assert_float_eq(metric(&g, "full_marks"), 0, 1e-12);
    cr_assert_float_eq(metric(&g, "all_skills"), 0, 1e-12);
    cr_assert_float_eq(metric(&g, "skill_fraction"), 0.5, 1e-12);
    cr_assert_float_eq(g.score, 0, 1e-12);
    cr_assert_str_eq(g.grading, "judge");
    free(j);
    cb_item_free(it);
}

Test(skill_mix, worked_example_row_2) {
    cb_item *it = example_item(1, 1, 0);
    char *j = table(1, 1, 1, 1, 1);
    script s = {.t2 = {"Answer: Asked why the tomatoes died, Tom replied, \"Isn't the sunset lovely?\" and surveyed his "
                       "garden, a graveyard of good intentions.\nExplanation: both."},
                .judge = {{j}}};
    cb_grade g;
    run_item(it, &s, 1, &g);
    cr_assert_float_eq(metric(&g, "full_marks"), 1, 1e-12);
    cr_assert_float_eq(metric(&g, "all_skills"), 1, 1e-12);
    cr_assert_float_eq(metric(&g, "skill_fraction"), 1, 1e-12);
    cr_assert_float_eq(metric(&g, "sentences"), 1, 1e-12);
    free(j);
    cb_item_free(it);
}

Test(skill_mix, worked_example_row_3_overrides) {
    cb_item *it = example_item(1, 1, 0);
    char *j = table(1, 1, 1, 1, 1);
    script s = {.t2 = {"Answer: Here is a metaphor: my garden is a jungle. Also, the weather is nice.\nExplanation: x"},
                .judge = {{j}}};
    cb_grade g;
    run_item(it, &s, 1, &g);
    /* metaphor named -> 0; two sentences -> limit 0 */
    cr_assert_float_eq(metric(&g, "full_marks"), 0, 1e-12);
    cr_assert_float_eq(metric(&g, "all_skills"), 0, 1e-12);
    cr_assert_float_eq(metric(&g, "skill_fraction"), 0, 1e-12);
    cr_assert(strstr(g.extracted, "metaphor=0") && strstr(g.extracted, "limit=0"), "%s", g.extracted);
    free(j);
    cb_item_free(it);
}

Test(skill_mix, k3_points_and_max_over_generations) {
    cb_item *it = example_item(3, 1, 1);
    /* (1,1,1, 1,1,0): Full 0, All Skills 1, Fraction 0 — the limit point comes from the judge here and the
     * answer has 3 sentences for a limit of 2, so the override agrees */
    const char *t0 = "Here's the grading table:\n| Correctly illustrates metaphor | 1 |\n| Correctly illustrates red "
                     "herring | 1 |\n| Correctly illustrates modus ponens | 1 |\n| Pertains to Gardening | 1 |\n| Text "
                     "makes sense | 1 |\n| At most two sentences | 0 |\n";
    const char *t1 = "Here's the grading table:\n| Correctly illustrates metaphor | 1 |\n| Correctly illustrates red "
                     "herring | 1 |\n| Correctly illustrates modus ponens | 1 |\n| Pertains to Gardening | 1 |\n| Text "
                     "makes sense | 1 |\n| At most two sentences | 1 |\n";
    script s = {.t2 = {"Answer: One garden. Two gardens grow. Three weeds win.", "Answer: The garden is a war. If it "
                                                                                   "rains, weeds grow; so they grow.",
                       "Answer: One garden. Two gardens grow. Three weeds win."},
                .judge = {{t0}, {t1}, {t0}}};
    cb_grade g;
    run_item(it, &s, 1, &g);
    cr_assert_float_eq(metric(&g, "full_marks"), 1, 1e-12, "max over generations (0, 1, 0)");
    cr_assert_float_eq(metric(&g, "all_skills"), 1, 1e-12);
    cb_item_free(it);
    it = example_item(1, 1, 1);
    script s1 = {.t2 = {"Answer: One garden. Two gardens grow. Three weeds win."}, .judge = {{t0}}};
    run_item(it, &s1, 1, &g);
    cr_assert_float_eq(metric(&g, "full_marks"), 0, 1e-12);
    cr_assert_float_eq(metric(&g, "all_skills"), 1, 1e-12);
    cr_assert_float_eq(metric(&g, "skill_fraction"), 0, 1e-12);
    cb_item_free(it);
}

Test(skill_mix, reask_majority_and_judge_failed) {
    /* J = 3: one judgement unreadable then readable on re-ask; votes 1,1,0 -> 1 */
    cb_item *it = example_item(1, 3, 0);
    char *a = table(1, 1, 1, 1, 1), *b = table(0, 1, 1, 1, 1);
    script s = {.t2 = {"Answer: My garden is a battlefield where weeds win."},
                .judge = {{a, "I cannot grade this.", b}},
                .reask = {{NULL, a, NULL}}};
    cb_grade g;
    run_item(it, &s, 1, &g);
    cr_assert_eq(s.calls_judge, 4, "3 judgements + 1 re-ask");
    cr_assert(strstr(g.extracted, "metaphor=1"), "%s", g.extracted);
    cb_item_free(it);
    /* nothing readable even after re-asks: judge_failed, no score, never zeros */
    it = example_item(1, 2, 0);
    script f = {.t2 = {"Answer: My garden is a battlefield where weeds win."},
                .judge = {{"no table", "still no table"}},
                .reask = {{"nope", "nope"}}};
    run_item(it, &f, 1, &g);
    cr_assert_eq(f.calls_judge, 4);
    cr_assert(isnan(g.score));
    cr_assert_float_eq(metric(&g, "judge_failed"), 1, 1e-12);
    cr_assert_float_eq(metric(&g, "judge_parse_errors"), 2, 1e-12);
    cb_item_free(it);
    free(a);
    free(b);
}

Test(skill_mix, empty_answer_scores_zero_without_a_judge_call) {
    cb_item *it = example_item(1, 3, 0);
    script s = {.t2 = {"Answer: Ok.\nExplanation: short"}};
    cb_grade g;
    run_item(it, &s, 1, &g);
    cr_assert_eq(s.calls_judge, 0);
    cr_assert_float_eq(g.score, 0, 1e-12);
    cr_assert(strstr(g.extracted, "limit=0"), "an empty answer must not earn the limit point: %s", g.extracted);
    cb_item_free(it);
}

Test(skill_mix, proxy_without_judge) {
    cb_item *it = example_item(1, 3, 0);
    script s = {.t2 = {"Answer: Gardening is my joy, and I weed the beds every day with care."}};
    cb_grade g;
    run_item(it, &s, 0, &g);
    cr_assert_eq(s.calls_judge, 0);
    cr_assert_str_eq(g.grading, "proxy");
    cr_assert_float_eq(metric(&g, "proxy_topic"), 1, 1e-12);
    cr_assert_float_eq(metric(&g, "proxy_sense"), 1, 1e-12);
    cr_assert_not(cb_grade_get_metric(&g, "full_marks", NULL), "the proxy never reports Full Marks");
    cb_item_free(it);
}

/* ---- generation ---- */

static cb_task_spec *spec(const char *params_json, const char *const *subtasks, int n_sub, int64_t n, cb_err *err,
                          int *rc) {
    cJSON *p = params_json ? cJSON_Parse(params_json) : NULL;
    cb_task_spec *s = NULL;
    *rc = cb_task_spec_new("skill-mix", subtasks, n_sub, NULL, 0, n, 42, p, "$.tasks[0]", &s, err);
    cJSON_Delete(p);
    return s;
}

Test(skill_mix, item_i_independent_of_n_and_default_k) {
    cb_err err = {0};
    int rc;
    cb_task_spec *a = spec(NULL, NULL, 0, 3, &err, &rc), *b = spec(NULL, NULL, 0, 50, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(cb_task_spec_n_cells(a), 5, "default subtasks k1..k5");
    for (int c = 0; c < 5; c++)
        for (int i = 0; i < 3; i++) {
            cb_item *x = NULL, *y = NULL;
            cr_assert_eq(cb_task_generate(a, c, i, &x, &err), 0, "%s", err.msg);
            cr_assert_eq(cb_task_generate(b, c, i, &y, &err), 0, "%s", err.msg);
            char *jx = cb_item_to_jsonl(x), *jy = cb_item_to_jsonl(y);
            cr_assert_str_eq(jx, jy);
            cr_assert_eq(x->n_reqs, 3, "G first turns");
            free(jx);
            free(jy);
            cb_item_free(x);
            cb_item_free(y);
        }
    cb_task_spec_free(a);
    cb_task_spec_free(b);
}

Test(skill_mix, splits_and_refusals) {
    cb_err err = {0};
    int rc;
    const char *k5[] = {"k5"};
    /* the public train pool has 4 skills: k = 5 needs ext or all (2.3) */
    cb_task_spec *s = spec("{\"skills\":\"public\",\"split\":\"train\"}", k5, 1, 2, &err, &rc);
    cr_assert_eq(rc, CB_EUSAGE);
    cr_assert(strstr(err.msg, "k5") && strstr(err.msg, "has 4"), "%s", err.msg);
    cb_task_spec_free(s);
    const char *k2[] = {"k2"};
    s = spec("{\"skills\":\"all\",\"split\":\"heldout\"}", k2, 1, 20, &err, &rc);
    cr_assert_eq(rc, 0, "%s", err.msg);
    for (int i = 0; i < 20; i++) {
        cb_item *x = NULL;
        cr_assert_eq(cb_task_generate(s, 0, i, &x, &err), 0, "%s", err.msg);
        cJSON *cats = cJSON_GetObjectItemCaseSensitive(x->meta, "categories"), *c;
        cJSON_ArrayForEach(c, cats) {
            cr_assert(strcmp(c->valuestring, "literary") && strcmp(c->valuestring, "rhetorical"),
                      "held-out items use held-out skill categories only, got %s", c->valuestring);
        }
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x->meta, "heldout")));
        cb_item_free(x);
    }
    cb_task_spec_free(s);
    s = spec("{\"skills\":\"nope\"}", k2, 1, 2, &err, &rc);
    cr_assert_eq(rc, CB_EUSAGE);
    cr_assert(strstr(err.msg, "$.tasks[0].params.skills"), "%s", err.msg);
    s = spec("{\"skills\":\"file:/nonexistent/skills.csv\"}", k2, 1, 2, &err, &rc);
    cr_assert_eq(rc, CB_EUSAGE);
    cr_assert(strstr(err.msg, "/nonexistent/skills.csv"), "%s", err.msg);
}
