/* tests/tasks/test_knowledge_capacity.c — the bioS generator (list sizes and
 * value spaces, persons independent of N, names without replacement,
 * rendering spans), the bits grader on a hand-computed case, the QA and BPC
 * graders, field-file errors, and export-bios byte-for-byte reproducibility
 * through the real binary. */
#include "graders/grader.h"
#include "tests/util/cbtest.h"
#include "tasks/bios.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LN2 0.69314718055994530942

Test(bios, builtin_lists_and_value_spaces) {
    cb_bios_fields *f = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_bios_fields_builtin(&f, &err), 0, "%s", err.msg);
    const size_t want[CB_BIOS_NLISTS] = {400, 400, 1000, 200, 300, 100, 263};
    for (int k = 0; k < CB_BIOS_NLISTS; k++) {
        cr_expect_eq(cb_bios_list_size(f, k), want[k], "list %d", k);
        for (size_t i = 1; i < cb_bios_list_size(f, k); i++)
            cr_expect_lt(strcmp(cb_bios_list_item(f, k, i - 1), cb_bios_list_item(f, k, i)), 0, "list %d sorted", k);
    }
    /* TASKS.md 5.2: log2 N0 = 27.25, log2 S0 = 47.59 */
    cr_expect(fabs(cb_bios_log2_n0(f) - 27.2535) < 1e-4);
    cr_expect(fabs(cb_bios_log2_s0(f) - 47.5916) < 1e-4);
    cr_expect(fabs(cb_bios_log2_attr(f, CB_BATTR_BIRTH_DATE) - 16.04) < 0.01);
    cb_bios_fields_free(f);
}

Test(bios, persons_and_renderings) {
    cb_bios_fields *f = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_bios_fields_builtin(&f, &err), 0);
    /* names are distinct over a population (sampling without replacement) */
    enum { N = 3000 };
    uint64_t *keys = malloc(N * sizeof *keys);
    for (int j = 0; j < N; j++) {
        cb_bios_person p;
        cb_bios_person_get(f, 11, j, &p);
        keys[j] = ((uint64_t)p.first * 400 + p.middle) * 1000 + p.last;
        for (int k = 0; k < j; k++) cr_assert_neq(keys[k], keys[j], "persons %d and %d share a name", k, j);
    }
    free(keys);
    /* person 5 is the same whatever else is drawn; another seed differs */
    cb_bios_person a, b, c;
    cb_bios_person_get(f, 11, 5, &a);
    cb_bios_person_get(f, 11, 5, &b);
    cb_bios_person_get(f, 12, 5, &c);
    cr_expect_eq(memcmp(&a, &b, sizeof a), 0);
    cr_expect_neq(a.seed, c.seed);
    /* spans hold the values; bioS_simple is one fixed rendering, bioS varies */
    for (int mode = 0; mode < 2; mode++) {
        cb_bios_render r0, r1;
        cr_assert_eq(cb_bios_render_person(f, &a, (cb_bios_mode)mode, 0, &r0, &err), 0);
        cr_assert_eq(cb_bios_render_person(f, &a, (cb_bios_mode)mode, 1, &r1, &err), 0);
        if (mode == CB_BIOS_MODE_SIMPLE) cr_expect_str_eq(r0.text, r1.text);
        for (int at = 0; at < CB_BATTR_N; at++) {
            char v[256];
            cb_bios_value(f, &a, at, v, sizeof v);
            cr_assert_geq(r0.span[at][0], 0, "attribute %d has no span", at);
            size_t n = (size_t)(r0.span[at][1] - r0.span[at][0]);
            if (at == CB_BATTR_GENDER) {
                const char *pr = r0.text + r0.span[at][0];
                cr_expect(strncmp(pr, a.male ? "He" : "She", n) == 0 || strncmp(pr, a.male ? "His" : "Her", n) == 0);
            } else if (at == CB_BATTR_BIRTH_DATE && r0.date2[0] >= 0) {
                cr_expect_eq(strncmp(r0.text + r0.span[at][0], v, n), 0); /* "March 9" of "March 9, 1951" */
            } else {
                cr_expect_eq(n, strlen(v), "attribute %d", at);
                cr_expect_eq(strncmp(r0.text + r0.span[at][0], v, n), 0, "attribute %d: %s", at, r0.text);
            }
        }
        cr_expect_eq(r0.span[CB_BATTR_NAME][0], 0);
        /* the employer sentence precedes the working-city sentence */
        cr_expect_lt(r0.span[CB_BATTR_EMPLOYER][0], r0.span[CB_BATTR_WORK_CITY][0]);
        cb_bios_render_clear(&r0);
        cb_bios_render_clear(&r1);
    }
    cb_bios_fields_free(f);
}

Test(bios, field_file_errors) {
    cb_bios_fields *f = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_bios_fields_new(&f, &err), 0);
    cr_expect_eq(cb_bios_fields_parse(f, CB_BIOS_FIRST, "first_name.txt", "Ann\nBo\nAnn\n", 11, &err), CB_EFORMAT);
    cr_expect(strstr(err.msg, "duplicate") && strstr(err.msg, "first_name.txt"), "%s", err.msg);
    cr_expect_eq(cb_bios_fields_parse(f, CB_BIOS_COMPANY, "company.txt", "Acme Labs\n", 10, &err), CB_EFORMAT);
    cr_expect(strstr(err.msg, "company.txt:1") && strstr(err.msg, "City, ST"), "%s", err.msg);
    cr_expect_eq(cb_bios_fields_parse(f, CB_BIOS_CITY, "city.txt", "\n\n", 2, &err), CB_EFORMAT);
    cr_expect(strstr(err.msg, "empty"), "%s", err.msg);
    cr_expect_eq(cb_bios_fields_parse(f, CB_BIOS_MAJOR, "major.txt", "Art\x01x\n", 6, &err), CB_EFORMAT);
    cr_expect_eq(cb_bios_fields_parse(f, CB_BIOS_COMPANY, "company.txt", "B; Y, TX\r\nA;X, AL\n", 18, &err), 0);
    cr_expect_str_eq(cb_bios_list_item(f, CB_BIOS_COMPANY, 0), "A");
    cr_expect_str_eq(cb_bios_company_city(f, 0), "X, AL");
    cb_bios_fields_free(f);
    cr_expect_eq(cb_bios_fields_load("/nonexistent-dir", &f, &err), CB_EIO);
    cr_expect(strstr(err.msg, "first_name.txt"), "%s", err.msg);
}

static cb_item *gen(const char *sub, int64_t index, const char *params_json) {
    cb_err err;
    cb_err_clear(&err);
    cJSON *params = params_json ? cJSON_Parse(params_json) : NULL;
    cb_task_spec *s = NULL;
    const char *subs[] = {sub};
    cr_assert_eq(cb_task_spec_new("knowledge-capacity", subs, 1, NULL, 0, 4, 5, params, "$", &s, &err), 0, "%s",
                 err.msg);
    cb_item *it = NULL;
    cr_assert_eq(cb_task_generate(s, 0, index, &it, &err), 0, "%s", err.msg);
    cb_task_spec_free(s);
    cJSON_Delete(params);
    return it;
}

static double metric(const cb_grade *g, const char *name) {
    double v = NAN;
    cr_assert(cb_grade_get_metric(g, name, &v), "metric %s missing (%s)", name, g->reason);
    return v;
}

/* Hand-computed: one token per fact span with log-prob -ln 2 (one bit), the
 * name as one token at -3 ln 2, every other byte in one-byte tokens at 0. */
Test(knowledge_capacity, bits_hand_computed) {
    cb_item *it = gen("bits", 2, "{\"persons\": 10}");
    cr_assert_eq(it->n_reqs, 7);
    cr_expect_eq(it->reqs[0].kind, CB_TREQ_LOGLIK);
    cr_expect_str_eq(it->reqs[0].prompt, "");
    const cJSON *m = it->meta;
    const char *text = cJSON_GetObjectItem(m, "text")->valuestring;
    size_t len = strlen(text);
    const cJSON *spans = cJSON_GetObjectItem(m, "spans");
    /* mark span starts/ends */
    int *owner = calloc(len, sizeof *owner);
    const char *keys[] = {"name", "birth_date", "birth_date_2", "birth_city", "university", "major", "employer",
                          "gender", "work_city"};
    for (int k = 0; k < 9; k++) {
        const cJSON *a = cJSON_GetObjectItem(spans, keys[k]);
        if (!a) continue;
        int s = (int)cJSON_GetArrayItem(a, 0)->valuedouble, e = (int)cJSON_GetArrayItem(a, 1)->valuedouble;
        for (int i = s; i < e; i++) owner[i] = k + 1;
    }
    int64_t *tok = malloc(2 * len * sizeof *tok);
    double *lp = malloc(len * sizeof *lp);
    int nt = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i + 1;
        if (owner[i]) while (j < len && owner[j] == owner[i]) j++;
        tok[2 * nt] = (int64_t)i;
        tok[2 * nt + 1] = (int64_t)j;
        lp[nt] = owner[i] == 1 ? -3 * LN2 : owner[i] ? -LN2 : 0.0;
        nt++;
        i = j;
    }
    int split = cJSON_GetObjectItem(spans, "birth_date_2") != NULL;
    cb_task_resp r[7];
    memset(r, 0, sizeof r);
    r[0] = (cb_task_resp){.ok = 1, .logprob_sum = 0, .n_tokens = nt, .token_logprobs = lp, .token_spans = tok};
    /* completions: the first three right (with a leading space), the rest wrong */
    char right[3][256];
    const char *attrs[] = {"birth_date", "birth_city", "university"};
    for (int k = 0; k < 3; k++) {
        const cJSON *a = cJSON_GetObjectItem(spans, attrs[k]);
        int s = (int)cJSON_GetArrayItem(a, 0)->valuedouble, e = (int)cJSON_GetArrayItem(a, 1)->valuedouble;
        snprintf(right[k], sizeof right[k], " %.*s. More text", e - s, text + s);
        r[1 + k] = (cb_task_resp){.ok = 1, .text = right[k]};
    }
    for (int k = 3; k < 6; k++) r[1 + k] = (cb_task_resp){.ok = 1, .text = "nothing like it"};
    cb_grader_ctx *gc = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_grader_ctx_new(&gc, &err), 0);
    cb_grade g;
    cb_grade_init(&g);
    cr_assert_eq(cb_item_grade(gc, it, r, 7, &g, &err), 0, "%s", err.msg);
    cr_expect(fabs(g.score - 0.5) < 1e-12, "score %f (%s)", g.score, g.reason);
    double log2_n0 = cJSON_GetObjectItem(m, "log2_n0")->valuedouble;
    double log2_s0 = cJSON_GetObjectItem(m, "log2_s0")->valuedouble;
    cr_expect(fabs(metric(&g, "loss_name") - 3 * LN2) < 1e-12);
    cr_expect(fabs(metric(&g, "bits_name") - (log2_n0 - 3)) < 1e-9);
    cr_expect(fabs(metric(&g, "bits_birth_city") - (log2(200) - 1)) < 1e-9);
    /* the split date is two tokens (two bits) */
    cr_expect(fabs(metric(&g, "bits_birth_date") - (log2(67200) - (split ? 2 : 1))) < 1e-9);
    cr_expect(fabs(metric(&g, "bits_gender") - 0) < 1e-9);
    double value = log2_s0 - 6 - split;
    cr_expect(fabs(metric(&g, "bits_value") - value) < 1e-9);
    cr_expect(fabs(metric(&g, "bits_total") - (log2_n0 - 3 + value)) < 1e-9);
    cr_expect_eq(metric(&g, "acc_birth_city"), 1.0);
    cr_expect_eq(metric(&g, "acc_employer"), 0.0);
    /* without token offsets the bits are not measured, never zero-filled */
    r[0].token_spans = NULL;
    cb_grade_init(&g);
    cr_assert_eq(cb_item_grade(gc, it, r, 7, &g, &err), 0);
    cr_expect_not(cb_grade_get_metric(&g, "bits_total", NULL));
    cr_expect(strstr(g.reason, "offsets"), "%s", g.reason);
    cb_grader_ctx_free(gc);
    free(owner);
    free(tok);
    free(lp);
    cb_item_free(it);
}

Test(knowledge_capacity, qa_and_limits) {
    cb_item *it = gen("qa", 7, "{\"persons\": 10}");
    cr_expect_str_eq(cJSON_GetObjectItem(it->meta, "attribute")->valuestring, "birth_city"); /* 7 % 6 = 1 */
    cr_expect_eq((int)cJSON_GetObjectItem(it->meta, "person")->valuedouble, 6);             /* 10/2 + 7/6 */
    cr_expect(strncmp(it->reqs[0].prompt, "Question: What is the birth city of ", 36) == 0);
    cr_expect_str_eq(it->reqs[0].stop[0], "\n");
    cb_grader_ctx *gc = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_grader_ctx_new(&gc, &err), 0);
    char ans[300];
    snprintf(ans, sizeof ans, "  the %s\nQuestion: next", it->gold);
    cb_task_resp r[2] = {{.ok = 1, .text = ans}, {.ok = 1, .logprob_sum = -2.0, .n_tokens = 4}};
    cb_grade g;
    cb_grade_init(&g);
    cr_assert_eq(cb_item_grade(gc, it, r, 2, &g, &err), 0);
    cr_expect_eq(g.score, 1.0, "%s", g.reason);
    cr_expect(fabs(metric(&g, "gold_logprob_mean") + 0.5) < 1e-12);
    r[0].text = " \n";
    cb_grade_init(&g);
    cr_assert_eq(cb_item_grade(gc, it, r, 2, &g, &err), 0);
    cr_expect(g.unparsed && (g.flags & CB_GRADE_EMPTY));
    cb_grader_ctx_free(gc);
    cb_item_free(it);
    /* persons outside the population are a usage error naming the param */
    cJSON *params = cJSON_Parse("{\"persons\": 4}");
    cb_task_spec *s = NULL;
    const char *subs[] = {"bits"};
    cr_assert_eq(cb_task_spec_new("knowledge-capacity", subs, 1, NULL, 0, 8, 1, params, "$", &s, &err), 0);
    cb_item *x = NULL;
    cr_expect_eq(cb_task_generate(s, 0, 4, &x, &err), CB_EUSAGE);
    cr_expect(strstr(err.msg, "params.persons"), "%s", err.msg);
    cb_task_spec_free(s);
    cJSON_Delete(params);
    params = cJSON_Parse("{\"bpc_stride\": 600, \"bpc_block\": 512}");
    cr_expect_eq(cb_task_spec_new("knowledge-capacity", subs, 1, NULL, 0, 8, 1, params, "$.tasks[2]", &s, &err),
                 CB_EUSAGE);
    cr_expect(strstr(err.msg, "$.tasks[2].params.bpc_stride"), "%s", err.msg);
    cJSON_Delete(params);
}

Test(knowledge_capacity, bpc_grade) {
    cb_item *it = gen("bpc", 0, NULL);
    cr_assert_eq(it->reqs[0].kind, CB_TREQ_ROLLING);
    cr_expect_eq(it->reqs[0].rolling_mode, CB_TROLL_BLOCKS);
    cr_expect_eq(it->reqs[0].window, 1900);
    cr_expect_eq(it->reqs[0].stride, 512);
    const char *text = it->reqs[0].prompt;
    cr_expect(strncmp(text, "The lighthouse", 14) == 0);
    /* two scored tokens covering bytes 3..14 ("lighthouse" with its space):
     * 11 characters, CE 11 ln 2 nats -> exactly 1 bit per character */
    int64_t sp[] = {3, 4, 4, 14};
    double lp[] = {-4 * LN2, -7 * LN2};
    cb_task_resp r = {.ok = 1, .logprob_sum = -11 * LN2, .n_tokens = 2, .token_logprobs = lp, .token_spans = sp};
    cb_grader_ctx *gc = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_grader_ctx_new(&gc, &err), 0);
    cb_grade g;
    cb_grade_init(&g);
    cr_assert_eq(cb_item_grade(gc, it, &r, 1, &g, &err), 0);
    cr_expect_eq(metric(&g, "n_chars"), 11);
    cr_expect(fabs(metric(&g, "bpc") - 1.0) < 1e-12);
    cr_expect(fabs(metric(&g, "ppl") - exp(5.5 * LN2)) < 1e-9);
    r.ok = 0;
    cb_grade_init(&g);
    cr_assert_eq(cb_item_grade(gc, it, &r, 1, &g, &err), 0);
    cr_expect(g.unparsed && (g.flags & CB_GRADE_NO_RESPONSE));
    cb_grader_ctx_free(gc);
    cb_item_free(it);
}

Test(export_bios, reproducible_byte_for_byte) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin) cr_skip_test("CAPBENCH_BIN is not set (run through ctest)");
    char cmd[2048], dir[2][256];
    for (int k = 0; k < 2; k++) {
        snprintf(dir[k], sizeof dir[k], "/tmp/capbench-test-bios-%d-%d", (int)getpid(), k);
        snprintf(cmd, sizeof cmd, "rm -rf %s && %s export-bios --n 12 --seed 9 -o %s --exposures 4 2>/dev/null",
                 dir[k], bin, dir[k]);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
    }
    const char *files[] = {"train.txt", "probe.jsonl", "persons.jsonl", "qa_train.jsonl", "qa_test.jsonl",
                           "fields/company.txt"};
    for (int i = 0; i < 6; i++) {
        char p0[512], p1[512];
        snprintf(p0, sizeof p0, "%s/%s", dir[0], files[i]);
        snprintf(p1, sizeof p1, "%s/%s", dir[1], files[i]);
        size_t n0 = 0, n1 = 0;
        char *a = cbt_read_file(p0, &n0), *b = cbt_read_file(p1, &n1);
        cr_assert(a && b, "%s missing", files[i]);
        cr_expect(n0 == n1 && memcmp(a, b, n0) == 0, "%s differs between two runs", files[i]);
        if (i == 0) {
            /* 12 x 4 renderings, each ending in the EOS marker */
            int lines = 0;
            for (char *q = strstr(a, "<|endoftext|>\n"); q; q = strstr(q + 1, "<|endoftext|>\n")) lines++;
            cr_expect_eq(lines, 48);
        }
        if (i == 3 || i == 4) {
            int lines = 0;
            for (size_t q = 0; q < n0; q++) lines += a[q] == '\n';
            cr_expect_eq(lines, 36, "%s: 6 persons x 6 questions", files[i]);
        }
        free(a);
        free(b);
    }
    /* the probe rendering of person 3 is the knowledge-capacity bits item 3 of seed 9 */
    size_t n = 0;
    snprintf(cmd, sizeof cmd, "%s/probe.jsonl", dir[0]);
    char *probe = cbt_read_file(cmd, &n);
    char *line = probe;
    for (int k = 0; k < 3; k++) line = strchr(line, '\n') + 1;
    *strchr(line, '\n') = 0;
    cJSON *pj = cJSON_Parse(line);
    cJSON *params = cJSON_Parse("{\"persons\": 12}");
    cb_task_spec *s = NULL;
    const char *subs[] = {"bits"};
    cb_err err;
    cb_err_clear(&err);
    cr_assert_eq(cb_task_spec_new("knowledge-capacity", subs, 1, NULL, 0, 12, 9, params, "$", &s, &err), 0);
    cb_item *it = NULL;
    cr_assert_eq(cb_task_generate(s, 0, 3, &it, &err), 0);
    cr_expect_str_eq(cJSON_GetObjectItem(pj, "text")->valuestring, cJSON_GetObjectItem(it->meta, "text")->valuestring);
    cb_item_free(it);
    cb_task_spec_free(s);
    cJSON_Delete(params);
    cJSON_Delete(pj);
    free(probe);
    /* bad arguments exit 2 */
    snprintf(cmd, sizeof cmd, "%s export-bios --n 0 --seed 1 -o %s 2>/dev/null", bin, dir[0]);
    int st = system(cmd);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir[k]);
        cr_expect_eq(system(cmd), 0);
    }
}
