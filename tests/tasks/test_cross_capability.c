/* tests/tasks/test_cross_capability.c — the cross-capability family (TASKS.md
 * 3): every 3.6 worked example; the 1-5 mapping table of 3.3 on canned
 * responses; generator determinism (item i independent of n and shard, S&R
 * the same instances as R); the C&R and L&C golds recomputed here by an
 * independent interpreter of the program text in the prompt; the file mode
 * loader on a tiny export written here (JSONL and CSV, errors with line and
 * field) and the judge path through the real rounds (good, missing rating,
 * out of range -> re-ask up to 5 attempts, several scores, short answers
 * without a judge call). */
#include "graders/grader.h"
#include "tasks/cross_capability.h"
#include "tasks/crosseval.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The 3.5 scale of a grade (metric score_1to100); the primary score is (r-1)/4. */
static double scaled(const cb_grade *g) {
    double v = NAN;
    cr_assert(cb_grade_get_metric(g, "score_1to100", &v), "score_1to100 missing");
    cr_assert_float_eq(g->score, (v - 1.0) / 99.0, 1e-12, "primary score = (scaled - 1) / 99");
    return v;
}

static cb_item *item_json(const char *subtask, const char *prompt, const char *gold_json, const char *meta) {
    char *json = NULL;
    cJSON *pj = cJSON_CreateString(prompt);
    char *ps = cJSON_PrintUnformatted(pj);
    cr_assert(asprintf(&json,
                       "{\"id\":\"cross-capability/%s/default/0\",\"seed\":\"5\",\"turns\":[{\"role\":\"user\","
                       "\"text\":%s}],\"gold\":%s,\"grader\":\"rule\",\"capabilities\":[\"x\"],\"meta\":%s}",
                       subtask, ps, gold_json, meta) > 0);
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j, "%s", json);
    cb_item *it = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_item_from_json(j, "test", &it, &err), 0, "%s", err.msg);
    cJSON_Delete(j);
    cJSON_free(ps);
    cJSON_Delete(pj);
    free(json);
    return it;
}

/* Grades a synthetic item on one model response (the log-likelihood request skipped). */
static void grade1(const cb_item *it, const char *response, cb_grade *g) {
    cb_task_resp r[4];
    memset(r, 0, sizeof r);
    r[0].ok = response != NULL;
    r[0].text = response;
    cb_err err = {0};
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

static void expect(const cb_item *it, const char *response, int r) {
    cb_grade g;
    grade1(it, response, &g);
    cr_assert_float_eq(metric(&g, "score_1to5"), r, 1e-12, "%s -> %g (%s), expected %d", response,
                       metric(&g, "score_1to5"), g.reason, r);
    cr_assert_float_eq(scaled(&g), (r - 1) * 24.75 + 1, 1e-9);
    cr_assert_float_eq(metric(&g, "exact"), r >= 4, 1e-12);
    cr_assert_str_eq(g.grading, "rule");
}

static const char SR_PROMPT[] =
    "Mara tiene 12 libros. Mara compra 3 cajas con 4 libros en cada caja. Mara regala 5 libros a un amigo. ¿Cuántos "
    "libros tiene Mara ahora?\n\nResponde en español. Escribe la respuesta final en la última línea como "
    "\"Respuesta: <respuesta>\".";

/* 3.6 example 2 */
Test(cross_capability, worked_example_spanish_reasoning) {
    cb_item *it = item_json("spanish_reasoning", SR_PROMPT, "19", "{\"source\":\"synthetic\"}");
    cr_assert_eq(it->n_reqs, 2, "the answer and the optional gold log-likelihood");
    cr_assert_str_eq(it->reqs[1].cont_prefix, "Respuesta:");
    cr_assert_str_eq(it->reqs[1].continuation, " 19");
    expect(it, "Mara tiene 12 libros y compra 12 más, luego regala 5 a un amigo.\nRespuesta: 19", 5);
    expect(it, "Respuesta: 19", 5);
    expect(it, "Answer: 19", 4);
    expect(it, "Mara has 12 books and buys 12 more, then she gives 5 to a friend, so she has 19 now.\nRespuesta: 19",
           4);
    expect(it, "Respuesta: 18", 2);
    cb_grade g;
    grade1(it, "Respuesta: 18", &g);
    cr_assert_float_eq(scaled(&g), 25.75, 1e-9);
    cb_item_free(it);
}

/* 3.6 example 1 is in the file-mode tests below; example 3: */
Test(cross_capability, worked_example_trace) {
    cr_assert_eq(cb_cross_trace(4, 1, 2, 4, 3, 0), 17);
    cb_item *it = item_json("coding_reasoning", "x = 4\ny = 1\n...", "17", "{\"source\":\"synthetic\"}");
    expect(it, "Answer: 17", 5);
    expect(it, "Answer: 16", 2); /* arithmetic near miss */
    expect(it, "Answer: 19 (x = 8)", 1);
    cb_item_free(it);
}

/* ---- an independent interpreter of the L&C module text -------------------------- */

typedef struct {
    const char *src[1000];
    const char *p;
} mod;

static int64_t ev_expr(mod *m, int64_t x, int depth);
static void sp(mod *m) {
    while (*m->p == ' ') m->p++;
}
static int64_t ev_factor(mod *m, int64_t x, int depth) {
    sp(m);
    if (*m->p == 'x') {
        m->p++;
        return x;
    }
    if (m->p[0] == 'f' && m->p[1] == '_') {
        int id = (int)strtol(m->p + 2, (char **)&m->p, 10);
        cr_assert(strncmp(m->p, "(x)", 3) == 0);
        m->p += 3;
        cr_assert(id >= 0 && id < 1000 && m->src[id], "f_%d undefined", id);
        cr_assert(depth < 32);
        const char *save = m->p;
        m->p = m->src[id];
        int64_t v = ev_expr(m, x, depth + 1);
        m->p = save;
        return v;
    }
    cr_assert(isdigit((unsigned char)*m->p), "unexpected '%c'", *m->p);
    return strtoll(m->p, (char **)&m->p, 10);
}
static int64_t ev_term(mod *m, int64_t x, int depth) {
    int64_t v = ev_factor(m, x, depth);
    for (sp(m); *m->p == '*'; sp(m)) {
        m->p++;
        v *= ev_factor(m, x, depth);
    }
    return v;
}
static int64_t ev_expr(mod *m, int64_t x, int depth) {
    int64_t v = ev_term(m, x, depth);
    for (sp(m); *m->p == '+' || *m->p == '-'; sp(m)) {
        char op = *m->p++;
        int64_t t = ev_term(m, x, depth);
        v = op == '+' ? v + t : v - t;
    }
    return v;
}
/* Evaluates f_<id>(v) over every "def f_N(x): return EXPR" line of text. */
static int64_t run_module(const char *text, int id, int64_t v) {
    mod m;
    memset(&m, 0, sizeof m);
    for (const char *p = text; (p = strstr(p, "def f_")); p++) {
        int n = atoi(p + 6);
        const char *r = strstr(p, "return ");
        cr_assert(n >= 0 && n < 1000 && r);
        m.src[n] = r + 7;
    }
    m.p = "";
    const char *save = m.p;
    m.p = m.src[id];
    cr_assert_not_null(m.p);
    int64_t out = ev_expr(&m, v, 0);
    m.p = save;
    return out;
}

/* 3.6 example 4 */
Test(cross_capability, worked_example_long_context_coding) {
    const char *text = "def f_12(x): return f_87(x) + 3\ndef f_40(x): return x - 1\ndef f_87(x): return 2 * x - f_5(x)\n"
                       "def f_9(x): return 3 * x\ndef f_5(x): return x + 4\n";
    cr_assert_eq(run_module(text, 12, 3), 2);
    cb_item *it = item_json("long_context_coding", text, "2", "{\"source\":\"synthetic\"}");
    expect(it, "Answer: 2", 5);
    expect(it, "Answer: 3", 2);
    cb_item_free(it);
}

/* ---- generators ------------------------------------------------------------------ */

static cb_task_spec *spec(const char *sub, int64_t n, const char *params) {
    cJSON *p = params ? cJSON_Parse(params) : NULL;
    cb_task_spec *s = NULL;
    cb_err err = {0};
    const char *subs[] = {sub};
    cr_assert_eq(cb_task_spec_new("cross-capability", sub ? subs : NULL, sub ? 1 : 0, NULL, 0, n, 42, p, "$.tasks[0]",
                                  &s, &err),
                 0, "%s", err.msg);
    cJSON_Delete(p);
    return s;
}

static char *jsonl(const cb_task_spec *s, int64_t k) {
    cb_item *it = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_task_spec_item(s, k, &it, &err), 0, "%s", err.msg);
    char *j = cb_item_to_jsonl(it);
    cb_item_free(it);
    return j;
}

Test(cross_capability, determinism_independent_of_n_and_shard) {
    static const char *const subs[] = {"reasoning", "spanish_reasoning", "english", "spanish",
                                       "coding", "coding_reasoning", "long_context", "long_context_coding"};
    for (int s = 0; s < 8; s++) {
        cb_task_spec *a = spec(subs[s], 3, NULL), *b = spec(subs[s], 12, NULL);
        for (int k = 0; k < 3; k++) {
            char *x = jsonl(a, k), *y = jsonl(b, k);
            cr_assert_str_eq(x, y, "%s item %d differs with n", subs[s], k);
            /* a shard builds item k alone, by index */
            cb_item *it = NULL;
            cb_err err = {0};
            cr_assert_eq(cb_task_generate(b, 0, k, &it, &err), 0, "%s", err.msg);
            char *z = cb_item_to_jsonl(it);
            cr_assert_str_eq(x, z);
            cb_item_free(it);
            free(x), free(y), free(z);
        }
        cb_task_spec_free(a);
        cb_task_spec_free(b);
    }
}

/* The digits of a text in order (the numbers of a word problem). */
static void numbers(const char *t, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = t; *p && n + 2 < cap; p++)
        if (isdigit((unsigned char)*p)) out[n++] = *p;
        else if (n && out[n - 1] != ' ') out[n++] = ' ';
    out[n] = 0;
}

Test(cross_capability, spanish_reasoning_same_instances_as_reasoning) {
    cb_task_spec *r = spec("reasoning", 40, NULL), *sr = spec("spanish_reasoning", 40, NULL);
    int hard = 0;
    for (int k = 0; k < 40; k++) {
        cb_item *a = NULL, *b = NULL;
        cb_err err = {0};
        cr_assert_eq(cb_task_spec_item(r, k, &a, &err), 0);
        cr_assert_eq(cb_task_spec_item(sr, k, &b, &err), 0);
        cr_assert_eq(a->seed, b->seed, "same seed");
        cr_assert_eq(a->gold_int, b->gold_int);
        cr_assert(a->gold_int >= 1 && a->gold_int <= 10000);
        char na[512], nb[512];
        numbers(a->turns[0].text, na, sizeof na);
        numbers(b->turns[0].text, nb, sizeof nb);
        cr_assert_str_eq(na, nb, "same numbers in the same order");
        cr_assert(strstr(b->turns[0].text, "¿Cuántos") && strstr(b->turns[0].text, "Respuesta:"));
        cr_assert(strstr(a->turns[0].text, "How many") && strstr(a->turns[0].text, "Answer: <answer>"));
        cr_assert_str_eq(a->capabilities[0], "Reasoning");
        cr_assert_str_eq(b->capabilities[0], "Spanish&Reasoning");
        cr_assert_eq(b->n_capabilities, 1);
        const cJSON *ind = cJSON_GetObjectItemCaseSensitive(b->meta, "individual");
        cr_assert_str_eq(cJSON_GetArrayItem(ind, 0)->valuestring, "Spanish");
        cr_assert_str_eq(cJSON_GetArrayItem(ind, 1)->valuestring, "Reasoning");
        hard += strcmp(cJSON_GetObjectItemCaseSensitive(a->meta, "difficulty")->valuestring, "hard") == 0;
        /* the model's correct answer scores 5 */
        char ans[64];
        snprintf(ans, sizeof ans, "Answer: %lld", (long long)a->gold_int);
        cb_grade g;
        grade1(a, ans, &g);
        cr_assert_float_eq(scaled(&g), 100, 1e-9);
        cb_item_free(a);
        cb_item_free(b);
    }
    cr_assert(hard >= 15 && hard <= 35, "about 60%% hard, got %d of 40", hard);
    cb_task_spec_free(r);
    cb_task_spec_free(sr);
}

/* An independent run of the trace program read back from the prompt. */
static int64_t run_trace(const char *t) {
    int A, B, N, K = 0, M, C;
    const char *p = strstr(t, "x = ");
    cr_assert(p && sscanf(p, "x = %d\ny = %d\nfor i in range(%d):", &A, &B, &N) == 3, "%s", t);
    const char *j = strstr(t, "for j in range(");
    if (j) K = atoi(j + 15);
    cr_assert(sscanf(strstr(t, ") % ") + 4, "%d", &M) == 1);
    cr_assert(sscanf(strstr(t, "x = x + ") + 8, "%d", &C) == 1);
    long long x = A, y = B;
    for (int i = 0; i < N; i++)
        for (int jj = 0; jj < (K ? K : 1); jj++) {
            long long v = x + i + (K ? jj : 0);
            if (v % M == 0) y += x;
            else x += C;
        }
    return x + y;
}

Test(cross_capability, trace_and_module_golds_recomputed) {
    cb_task_spec *cr = spec("coding_reasoning", 30, NULL), *lc = spec("long_context_coding", 6, NULL);
    for (int k = 0; k < 30; k++) {
        cb_item *it = NULL;
        cb_err err = {0};
        cr_assert_eq(cb_task_spec_item(cr, k, &it, &err), 0);
        cr_assert_eq(run_trace(it->turns[0].text), it->gold_int, "item %d", k);
        cb_item_free(it);
    }
    for (int k = 0; k < 6; k++) {
        cb_item *it = NULL;
        cb_err err = {0};
        cr_assert_eq(cb_task_spec_item(lc, k, &it, &err), 0);
        const char *q = strstr(it->turns[0].text, "What is the value of f_");
        cr_assert_not_null(q);
        int id = 0, v = 0;
        cr_assert_eq(sscanf(q, "What is the value of f_%d(%d)?", &id, &v), 2);
        cr_assert_eq(run_module(it->turns[0].text, id, v), it->gold_int, "item %d", k);
        int n = cJSON_GetObjectItemCaseSensitive(it->meta, "functions")->valueint;
        cr_assert(n >= 200 && n <= 800);
        int chain = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it->meta, "chain"));
        cr_assert(chain >= 3 && chain <= 5, "the queried function reaches 2-4 others");
        cb_item_free(it);
    }
    cb_task_spec_free(cr);
    cb_task_spec_free(lc);
}

Test(cross_capability, coding_gold_is_the_buggy_line) {
    cb_task_spec *s = spec("coding", 40, NULL);
    for (int k = 0; k < 40; k++) {
        cb_item *it = NULL;
        cb_err err = {0};
        cr_assert_eq(cb_task_spec_item(s, k, &it, &err), 0);
        const char *diff = cJSON_GetObjectItemCaseSensitive(it->meta, "difficulty")->valuestring;
        int lines = cJSON_GetObjectItemCaseSensitive(it->meta, "lines")->valueint;
        if (!strcmp(diff, "easy")) cr_assert(lines <= 6);
        if (!strcmp(diff, "medium")) cr_assert(lines >= 7 && lines <= 12, "%d", lines);
        cr_assert(it->gold_int >= 1 && it->gold_int <= lines);
        char tag[16];
        snprintf(tag, sizeof tag, "\n%2d | ", (int)it->gold_int);
        cr_assert(strstr(it->turns[0].text, tag) || it->gold_int == 1, "line %d is numbered", (int)it->gold_int);
        char ans[32];
        snprintf(ans, sizeof ans, "Answer: %d", (int)it->gold_int + 1);
        cb_grade g;
        grade1(it, ans, &g);
        cr_assert_float_eq(metric(&g, "score_1to5"), 1, 1e-12, "a near miss on a line number is wrong");
        cb_item_free(it);
    }
    cb_task_spec_free(s);
}

Test(cross_capability, long_context_lengths_and_skipped_context) {
    cb_task_spec *s = spec("long_context", 10, NULL);
    for (int k = 0; k < 10; k++) {
        cb_item *it = NULL;
        cb_err err = {0};
        cr_assert_eq(cb_task_spec_item(s, k, &it, &err), 0);
        int target = cJSON_GetObjectItemCaseSensitive(it->meta, "target_chars")->valueint;
        size_t len = strlen(it->turns[0].text);
        cr_assert(len >= (size_t)target && len < (size_t)target + 2000, "%zu vs %d", len, target);
        if (it->gold_type == CB_GOLD_INT) {
            char rec[64];
            snprintf(rec, sizeof rec, "is stored in locker %lld.", (long long)it->gold_int);
            cr_assert_not_null(strstr(it->turns[0].text, rec));
        } else {
            char rec[64];
            snprintf(rec, sizeof rec, "belongs to %s.", it->gold);
            cr_assert_not_null(strstr(it->turns[0].text, rec));
        }
        cb_grade g;
        grade1(it, NULL, &g); /* the backend refused the prompt */
        cr_assert(isnan(g.score));
        cr_assert_float_eq(metric(&g, "skipped_context"), 1, 1e-12);
        cr_assert(g.flags & CB_GRADE_NO_RESPONSE);
        cb_item_free(it);
    }
    cb_task_spec_free(s);
}

/* ---- the 1-5 mapping table -------------------------------------------------------- */

Test(cross_capability, mapping_table_numeric) {
    cb_item *it = item_json("reasoning", "How many?", "200", "{\"source\":\"synthetic\"}");
    expect(it, "She has 200 now.\nAnswer: 200", 5);
    expect(it, "Answer: **200**", 5);
    expect(it, "Answer: 200 (150 + 50)", 5);
    expect(it, "So she has 200 books.", 4);           /* no marker */
    expect(it, "Answer: 210", 2);                     /* within 5% */
    expect(it, "Answer: 211", 1);
    expect(it, "Answer: 150", 1);
    expect(it, "Answer: 190\nAnswer: 200", 5);        /* the last marker with a value */
    expect(it, "Answer: 200\nAnswer: <answer>", 5);   /* an echoed instruction has no value */
    cb_grade g;
    grade1(it, "I do not know.", &g);
    cr_assert(g.unparsed);
    cr_assert_float_eq(scaled(&g), 1, 1e-12);
    cb_item_free(it);
    cb_item *c = item_json("coding", "Which line?", "4", "{\"source\":\"synthetic\"}");
    expect(c, "Answer: 4", 5);
    expect(c, "Answer: 5", 1); /* line numbers: no near miss */
    cb_item_free(c);
    cb_item *l = item_json("long_context", "Which locker?", "417", "{\"source\":\"synthetic\"}");
    expect(l, "Answer: 418", 1);
    cb_item_free(l);
}

Test(cross_capability, mapping_table_span) {
    cb_item *it = item_json("english", "Who is the mayor of Corvale?", "\"Grace Adeyemi\"",
                            "{\"source\":\"synthetic\",\"others\":[\"David Lin\",\"Anna Keller\"]}");
    expect(it, "Answer: Grace Adeyemi", 5);
    expect(it, "Answer: The mayor of Corvale is Grace Adeyemi.", 5);
    expect(it, "The mayor is Grace Adeyemi.", 4);            /* no marker: the last sentence */
    expect(it, "Answer: Grace", 3);                          /* F1 = 2/3 */
    expect(it, "Answer: Grace Adeyemi or David Lin", 3);     /* another value of the attribute: not correct */
    expect(it, "Answer: it is probably Mrs Grace from the town hall in Corvale", 2); /* 0 < F1 < 0.5 */
    expect(it, "Answer: David Lin", 1);
    cb_item_free(it);
    cb_item *es = item_json("spanish", "¿Quién?", "\"Grace Adeyemi\"", "{\"source\":\"synthetic\",\"others\":[]}");
    expect(es, "El alcalde de la ciudad es Grace Adeyemi, que vive en el pueblo.\nRespuesta: Grace Adeyemi", 5);
    expect(es, "The mayor of the town is Grace Adeyemi, and she has been there for years.\nAnswer: Grace Adeyemi", 4);
    cb_item_free(es);
}

Test(cross_capability, spanish_detection) {
    cr_assert(cb_cross_is_spanish("El perro de la casa es muy grande y tiene hambre.", 0));
    cr_assert(!cb_cross_is_spanish("The dog of the house is very big and it is hungry.", 1));
    cr_assert(cb_cross_is_spanish("19", 1));  /* fewer than 3 hits: the marker decides */
    cr_assert(!cb_cross_is_spanish("19", 0));
    /* 3 Spanish, 2 English hits: 60% */
    cr_assert(cb_cross_is_spanish("de la que the and", 0));
    cr_assert(!cb_cross_is_spanish("de la the and it", 0));
}

/* ---- file mode ------------------------------------------------------------------- */

static char tmpdir[256];

static const char *write_export(const char *name, const char *text) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cb-cross-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define ROW(id, cap, prompt, att)                                                                                      \
    "{\"prompt_id\":\"" id "\",\"capability\":\"" cap "\",\"difficulty\":\"hard\",\"l1_category\":\"Factual "        \
    "Questions\",\"l2_category\":\"History\",\"prompt\":\"" prompt "\",\"attached_file\":\"" att "\","                \
    "\"response_1\":\"Ref one.\",\"response_1_human_1_rating\":5,\"response_1_human_2_rating\":\"4\","               \
    "\"response_1_human_1_explanation\":\"Great.\",\"response_1_human_2_explanation\":\"Good.\","                    \
    "\"response_2\":\"Ref two.\",\"response_2_human_1_rating\":2,\"response_2_human_2_rating\":3,"                   \
    "\"response_2_human_1_explanation\":\"Wrong date.\",\"response_2_human_2_explanation\":\"Vague.\","              \
    "\"response_3\":\"Ref three.\",\"response_3_human_1_rating\":1,\"response_3_human_2_rating\":1,"                 \
    "\"response_3_human_1_explanation\":\"Off topic.\",\"response_3_human_2_explanation\":\"Useless.\"}\n"

static const char EXPORT[] = ROW("p1", "English", "When did the Berlin Wall fall?", "")
    ROW("p2", "Image Recognition", "What is in the picture?", "img.png")
    ROW("p3", "Long Context", "Summarize the report.", "report.txt")
    ROW("p4", "English", "Name a prime number.", "");

typedef struct {
    const char *model;
    const char *judge[6];
    int calls_judge, calls_model;
} script;

static void run_file_item(cb_item *it, script *s, int have_judge, cb_grade *g) {
    cb_task_resp r[16];
    memset(r, 0, sizeof r);
    cb_err err = {0};
    int done = 0;
    for (int round = 0; round < 10; round++) {
        for (int k = done; k < it->n_reqs; k++) {
            const cb_treq *q = &it->reqs[k];
            const char *a;
            if (q->target == CB_TARGET_JUDGE) {
                cr_assert_float_eq(q->temperature, 0, 0);
                cr_assert_eq(q->seed, 42);
                a = s->judge[s->calls_judge++];
            } else {
                a = s->model;
                s->calls_model++;
            }
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

static cb_item *file_item(const char *sub, int64_t k) {
    const char *path = write_export("export.jsonl", EXPORT);
    char att[600];
    snprintf(att, sizeof att, "%s/attachments", tmpdir);
    mkdir(att, 0700);
    snprintf(att, sizeof att, "%s/attachments/p3.txt", tmpdir);
    FILE *f = fopen(att, "w");
    fputs("REPORT: sales rose 4% in 2023.", f);
    fclose(f);
    char params[700];
    snprintf(params, sizeof params, "{\"source\":\"file:%s\"}", path);
    cb_task_spec *s = spec(sub, 1, params);
    cr_assert_eq(cb_task_spec_needs_judge(s), 1, "file mode has no rule-based fallback");
    cb_item *it = NULL;
    cb_err err = {0};
    cr_assert_eq(cb_task_generate(s, 0, k, &it, &err), 0, "%s", err.msg);
    cb_task_spec_free(s);
    return it;
}

/* 3.6 example 1 */
Test(cross_capability, worked_example_file_mode_judge) {
    cb_item *it = file_item("english", 0);
    cr_assert_str_eq(it->turns[0].text, "When did the Berlin Wall fall?", "the prompt verbatim");
    cr_assert_str_eq(it->capabilities[0], "English");
    script s = {.model = "It fell on 9 November 1989.",
                .judge = {"#### User Prompt Analysis\nA date.\n#### Evaluation Score\nScore: 4/5"}};
    cb_grade g;
    run_file_item(it, &s, 1, &g);
    cr_assert_eq(s.calls_judge, 1);
    cr_assert_float_eq(scaled(&g), 75.25, 1e-9);
    cr_assert_float_eq(metric(&g, "score_1to5"), 4, 1e-12);
    cr_assert_str_eq(g.grading, "judge");
    /* the judge prompt carries the references and the response */
    const cb_treq *j = &it->reqs[1];
    cr_assert_eq(j->target, CB_TARGET_JUDGE);
    cr_assert_eq(j->turns[0].role, CB_TURN_SYSTEM);
    cr_assert(strncmp(j->turns[0].text, "You are an expert judge of AI assistant responses. Give a 1-5 rating:", 69) == 0);
    const char *u = j->turns[1].text;
    cr_assert(strncmp(u, "[User Prompt]:\nWhen did the Berlin Wall fall?\n\nCalibrate your scale", 67) == 0, "%s", u);
    cr_assert_not_null(strstr(u, "[Reference Example 1]:\nModel Response: Ref one.\nRating 1: 5/5 | Explanation 1: "
                                 "Great.\nRating 2: 4/5 | Explanation 2: Good.\n"));
    cr_assert_not_null(strstr(u, "[Reference Example 3]:\nModel Response: Ref three.\n"));
    cr_assert_not_null(strstr(u, "[Model Response to be Evaluated]:\nIt fell on 9 November 1989.\n"));
    cr_assert(strstr(u, "#### Evaluation Score\nScore: [X]/5") && !strstr(u, "[Attached]"));
    cb_item_free(it);
}

Test(cross_capability, file_mode_attachment_and_skipped) {
    cb_item *it = file_item("long_context", 0);
    cr_assert_str_eq(it->turns[0].text, "REPORT: sales rose 4% in 2023.\n\nSummarize the report.");
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(it->meta, "skipped_unsupported_in_file")->valueint, 1);
    script s = {.model = "Sales rose by four percent.", .judge = {"Score: 5/5"}};
    cb_grade g;
    run_file_item(it, &s, 1, &g);
    cr_assert(strncmp(it->reqs[1].turns[1].text, "[Attached]\nREPORT: sales rose 4% in 2023.\n\n[User Prompt]:", 55) ==
              0);
    cr_assert_float_eq(scaled(&g), 100, 1e-9);
    cb_item_free(it);
}

Test(cross_capability, judge_reask_out_of_range_missing_and_failed) {
    cb_item *it = file_item("english", 1);
    script s = {.model = "Seven is prime.", .judge = {"Looks fine.", "#### Evaluation Score\nScore: 6/5", "Score: 3/5"}};
    cb_grade g;
    run_file_item(it, &s, 1, &g);
    cr_assert_eq(s.calls_judge, 3, "missing, out of range, then a rating");
    cr_assert_float_eq(metric(&g, "score_1to5"), 3, 1e-12);
    cr_assert_float_eq(metric(&g, "judge_attempts"), 3, 1e-12);
    /* the re-ask continues the conversation with the note */
    const cb_treq *last = &it->reqs[it->n_reqs - 1];
    cr_assert_eq(last->n_turns, 6);
    cr_assert_str_eq(last->turns[2].text, "Looks fine.");
    cr_assert_eq(last->turns[3].role, CB_TURN_USER);
    cr_assert_str_eq(last->turns[3].text, "The rating must be between 1 and 5.");
    cb_item_free(it);

    it = file_item("english", 1);
    script f = {.model = "Seven is prime.", .judge = {"no", "no", "Score: 0/5", "no", "no", "Score: 5/5"}};
    run_file_item(it, &f, 1, &g);
    cr_assert_eq(f.calls_judge, 5, "at most 5 attempts");
    cr_assert(isnan(g.score), "judge_failed is not a zero");
    cr_assert(g.unparsed);
    cr_assert_float_eq(metric(&g, "judge_failed"), 1, 1e-12);
    cb_item_free(it);
}

Test(cross_capability, judge_several_scores_and_short_answers) {
    cb_item *it = file_item("english", 1);
    script s = {.model = "Seven is prime.",
                .judge = {"Ref 1 got 5/5.\n#### Evaluation Score\n**Score:** 2/5\nA perfect answer would be 5/5."}};
    cb_grade g;
    run_file_item(it, &s, 1, &g);
    cr_assert_float_eq(metric(&g, "score_1to5"), 2, 1e-12, "the first rating after the heading");
    cb_item_free(it);

    it = file_item("english", 1);
    script t = {.model = "<think>a long thought about primes</think> Seven", .judge = {"Score: 5/5"}};
    run_file_item(it, &t, 1, &g);
    cr_assert_eq(t.calls_judge, 0, "fewer than 2 words: no judge call");
    cr_assert_float_eq(scaled(&g), 1, 1e-12);
    cb_item_free(it);

    it = file_item("english", 1);
    script u = {.model = "Seven is prime."};
    run_file_item(it, &u, 0, &g);
    cr_assert_eq(u.calls_judge, 0);
    cr_assert(isnan(g.score) && g.unparsed, "without a judge a file item is unscored");
    cb_item_free(it);
}

Test(cross_capability, export_errors_name_line_and_field) {
    cb_crosseval *c = NULL;
    cb_err err = {0};
    const char bad_rating[] = ROW("p1", "English", "x", "")
        "{\"prompt_id\":\"p2\",\"capability\":\"English\",\"prompt\":\"y\",\"response_1\":\"a\","
        "\"response_1_human_1_rating\":7}\n";
    cr_assert_eq(cb_crosseval_parse("e.jsonl", bad_rating, strlen(bad_rating), NULL, &c, &err), CB_EUSAGE);
    cr_assert_str_eq(err.msg, "e.jsonl: line 2: field response_1_human_1_rating: expected a rating from 1 to 5, got \"7\"");
    const char bad_cap[] = "{\"prompt_id\":\"p1\",\"capability\":\"Juggling\",\"prompt\":\"x\"}\n";
    cr_assert_eq(cb_crosseval_parse("e.jsonl", bad_cap, strlen(bad_cap), NULL, &c, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "line 1: field capability: unknown capability \"Juggling\""), "%s", err.msg);
    const char bad_id[] = ROW("../etc", "English", "x", "");
    cr_assert_eq(cb_crosseval_parse("e.jsonl", bad_id, strlen(bad_id), NULL, &c, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "line 1: field prompt_id"), "%s", err.msg);
    const char bad_json[] = ROW("p1", "English", "x", "") "{\"prompt_id\": tru\n";
    cr_assert_eq(cb_crosseval_parse("e.jsonl", bad_json, strlen(bad_json), NULL, &c, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "line 2: expected a JSON object, invalid JSON"), "%s", err.msg);
    /* CSV with the same fields */
    const char csv[] =
        "prompt_id,capability,difficulty,l1_category,l2_category,prompt,attached_file,response_1,response_2,"
        "response_3,response_1_human_1_rating,response_1_human_2_rating,response_2_human_1_rating,"
        "response_2_human_2_rating,response_3_human_1_rating,response_3_human_2_rating,"
        "response_1_human_1_explanation,response_1_human_2_explanation,response_2_human_1_explanation,"
        "response_2_human_2_explanation,response_3_human_1_explanation,response_3_human_2_explanation\n"
        "q1,Coding & Reasoning,easy,Coding Q&A,Loops,\"What does\nthis print?\",,a,b,c,5,4,3,3,1,2,e1,e2,e3,e4,e5,e6\n"
        "q2,Tool Use,easy,x,y,z,,a,b,c,5,4,3,3,1,2,,,,,,\n";
    cr_assert_eq(cb_crosseval_parse("e.csv", csv, strlen(csv), NULL, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(cb_crosseval_count(c, "coding_reasoning"), 1);
    cr_assert_eq(cb_crosseval_skipped_unsupported(c), 1);
    const cb_crosseval_row *r = cb_crosseval_get(c, "coding_reasoning", 0);
    cr_assert_str_eq(r->prompt, "What does\nthis print?");
    cr_assert_float_eq(r->rating[2][1], 2, 0);
    cr_assert_null(cb_crosseval_get(c, "coding_reasoning", 1));
    cb_crosseval_free(c);
    const char short_csv[] = "prompt_id,capability,prompt\nq1,English,hi\n";
    cr_assert_eq(cb_crosseval_parse("e.csv", short_csv, strlen(short_csv), NULL, &c, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "e.csv: line 2: field response_1: expected a non-empty value"), "%s", err.msg);
}

Test(cross_capability, config_time_refusals) {
    cb_err err = {0};
    cb_task_spec *s = NULL;
    cJSON *p = cJSON_Parse("{\"source\":\"crosseval\"}");
    cr_assert_eq(cb_task_spec_new("cross-capability", NULL, 0, NULL, 0, 1, 1, p, "$.tasks[0]", &s, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "$.tasks[0].params.source: expected \"synthetic\" or \"file:PATH\""), "%s", err.msg);
    cJSON_Delete(p);
    s = spec(NULL, 1, NULL);
    cr_assert_eq(cb_task_spec_needs_judge(s), 0);
    cr_assert_eq(cb_task_spec_n_cells(s), 8);
    cb_task_spec_free(s);
    const char *path = write_export("only_english.jsonl", ROW("p1", "English", "x", ""));
    char params[600];
    snprintf(params, sizeof params, "{\"source\":\"file:%s\"}", path);
    p = cJSON_Parse(params);
    const char *subs[] = {"coding"};
    cr_assert_eq(cb_task_spec_new("cross-capability", subs, 1, NULL, 0, 1, 1, p, "$.tasks[0]", &s, &err), CB_EUSAGE);
    cr_assert(strstr(err.msg, "coding has no text-only item"), "%s", err.msg);
    cJSON_Delete(p);
}
