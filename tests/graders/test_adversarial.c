/* tests/graders/test_adversarial.c — the counting grader against
 * tests/graders/adversarial.tsv: responses (markdown, other scripts, keycaps,
 * self-corrections, prose with several numbers, refusals, run-on text, story
 * text, Spanish, hedges, negations, yes/no idioms) whose value, grade and key
 * flags were written down by hand before the grader ran on them. Every row is
 * graded as a real counting item whose prompt is the setting's question, and
 * all disagreements are listed before the test fails. */
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The prompt the counting family gives for (subtask, setting): the question
 * plus the direct / cot suffix (other settings: the bare question). */
static void prompt(const char *sub, const char *set, const char *w, const char *x, char *buf, size_t cap) {
    int n;
    if (strcmp(sub, "char_occur") == 0) n = snprintf(buf, cap, "How many %s's in the word \"%s\"?", x, w);
    else if (strcmp(sub, "substring_occur") == 0)
        n = snprintf(buf, cap, "Is the substring \"%s\" part of the word \"%s\"?", x, w);
    else if (strcmp(sub, "word_len") == 0) n = snprintf(buf, cap, "How many characters in the word \"%s\"?", w);
    else n = snprintf(buf, cap, "How many distinct characters in the word \"%s\"?", w);
    const char *suffix = "";
    if (strcmp(set, "direct") == 0)
        suffix = strcmp(sub, "substring_occur") == 0 ? " Directly answer Yes or No." : " Directly answer the number.";
    else if (strcmp(set, "cot") == 0 || strcmp(set, "sc") == 0)
        suffix = "\n\nWork through the word one character at a time and show your counting. Then give the result on "
                 "a final line in the form \"Answer: <value>\".";
    snprintf(buf + n, cap - (size_t)n, "%s", suffix);
}

static cb_item *make_item(const char *sub, const char *set, const char *w, const char *x, const char *gold) {
    char q[512];
    prompt(sub, set, w, x, q, sizeof q);
    cJSON *j = cJSON_CreateObject(), *turns = cJSON_AddArrayToObject(j, "turns"), *t = cJSON_CreateObject();
    char id[128];
    snprintf(id, sizeof id, "counting/%s/%s/0", sub, set);
    cJSON_AddStringToObject(j, "id", id);
    cJSON_AddStringToObject(j, "seed", "1");
    cJSON_AddStringToObject(t, "role", "user");
    cJSON_AddStringToObject(t, "text", q);
    cJSON_AddItemToArray(turns, t);
    if (strcmp(sub, "substring_occur") == 0) cJSON_AddStringToObject(j, "gold", gold);
    else cJSON_AddNumberToObject(j, "gold", atof(gold));
    cJSON_AddStringToObject(j, "grader", "rule");
    cJSON *caps = cJSON_AddArrayToObject(j, "capabilities");
    cJSON_AddItemToArray(caps, cJSON_CreateString("char_perception"));
    cJSON *m = cJSON_AddObjectToObject(j, "meta");
    cJSON_AddStringToObject(m, "word", w);
    if (strcmp(x, "-") != 0) cJSON_AddStringToObject(m, "x", x);
    cJSON_AddBoolToObject(m, "candidates", 0);
    cb_item *it = NULL;
    cb_err e;
    cr_assert_eq(cb_item_from_json(j, "adversarial.tsv", &it, &e), 0, "%s", e.msg);
    cJSON_Delete(j);
    return it;
}

static void unescape(char *s) {
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static int flag_bit(const char *name) {
    for (int b = 0; b < CB_GRADE_NFLAGS; b++)
        if (strcmp(cb_grade_flag_name(b), name) == 0) return b;
    return -1;
}

/* Whether the grade's flags satisfy a "-" / "a,!b" column; names an unknown flag as a failure. */
static int flags_ok(const cb_grade *g, char *spec, char *why, size_t cap) {
    if (strcmp(spec, "-") == 0) return 1;
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        int neg = tok[0] == '!';
        int b = flag_bit(tok + neg);
        if (b < 0) {
            snprintf(why, cap, "unknown flag %s", tok);
            return 0;
        }
        int set = (g->flags >> b) & 1;
        if (set == neg) {
            snprintf(why, cap, "flag %s %s", tok + neg, neg ? "set" : "missing");
            return 0;
        }
    }
    return 1;
}

Test(adversarial, hand_graded_table) {
    const char *src = getenv("CAPBENCH_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/graders/adversarial.tsv", src ? src : ".");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s (CAPBENCH_SOURCE_DIR set by CTest)", path);
    cb_grader_ctx *g;
    cb_err e;
    cr_assert_eq(cb_grader_ctx_new(&g, &e), 0, "%s", e.msg);
    char line[8192];
    int rows = 0, bad = 0, lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        char *col[9];
        int n = 0;
        for (char *p = line; n < 9; n++) {
            col[n] = p;
            char *tab = n < 8 ? strchr(p, '\t') : NULL;
            if (n < 8) {
                cr_assert_not_null(tab, "%s:%d: expected 9 tab-separated columns", path, lineno);
                *tab = '\0';
                p = tab + 1;
            }
        }
        unescape(col[8]);
        cb_item *it = make_item(col[0], col[1], col[2], col[3], col[4]);
        cb_task_resp r = {.ok = 1, .text = col[8]};
        cb_grade gr;
        cr_assert_eq(cb_item_grade(g, it, &r, 1, &gr, &e), 0, "%s", e.msg);
        const char *grade = gr.unparsed ? "unparsed" : gr.score > 0 ? "correct" : "wrong";
        const char *value = gr.unparsed ? "-" : gr.extracted;
        char why[128] = "";
        int ok = strcmp(value, col[5]) == 0 && strcmp(grade, col[6]) == 0;
        if (!ok) snprintf(why, sizeof why, "got %s (%s), expected %s (%s)", value, grade, col[5], col[6]);
        else ok = flags_ok(&gr, col[7], why, sizeof why);
        if (gr.span_start >= 0)
            cr_assert(gr.span_start <= gr.span_end && gr.span_end <= (int64_t)strlen(col[8]), "%s:%d: span", path,
                      lineno);
        if (!ok) {
            bad++;
            cr_log_error("%s:%d [%s/%s] %s: %s", path, lineno, col[0], col[1], why, col[8]);
        }
        rows++;
        cb_item_free(it);
    }
    fclose(f);
    cb_grader_ctx_free(g);
    cr_assert_geq(rows, 100, "the table must hold at least 100 responses, has %d", rows);
    cr_assert_eq(bad, 0, "%d of %d hand-graded responses disagree (listed above)", bad, rows);
}
