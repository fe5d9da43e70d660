/* tests/tasks/test_cli.c — `capbench tasks`, `items` and `grade` end to end
 * through the built binary (CAPBENCH_BIN): JSONL shape, determinism, grading
 * of responses added to generated items, and line-numbered input errors. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin(void) {
    const char *b = getenv("CAPBENCH_BIN");
    if (!b || access(b, X_OK) != 0) return NULL;
    return b;
}

#define NEED_BIN()                                                                                   \
    const char *B = bin();                                                                           \
    if (!B) cr_skip_test("CAPBENCH_BIN is not set or not executable: the CLI tests need the binary")

/* Runs a shell command; returns its stdout (malloc'd) and exit status. */
static char *run(const char *cmd, int *status) {
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(cli, tasks_json) {
    NEED_BIN();
    char cmd[1024];
    int st;
    snprintf(cmd, sizeof cmd, "'%s' tasks --json", B);
    char *out = run(cmd, &st);
    cr_assert_eq(st, 0);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "%s", out);
    cJSON *fam = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "families"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(fam, "name")->valuestring, "counting");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(fam, "subtasks")), 4);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(fam, "settings")), 11);
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' tasks", B);
    out = run(cmd, &st);
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, "substring_occur") && strstr(out, "direct (default)"), "%s", out);
    free(out);
}

Test(cli, items_shape_and_determinism) {
    NEED_BIN();
    char cmd[1024];
    int st;
    snprintf(cmd, sizeof cmd, "'%s' items --task counting/word_len --setting plain,cot --n 5 --seed 3", B);
    char *a = run(cmd, &st);
    cr_assert_eq(st, 0);
    cr_assert_eq(count_lines(a), 10);
    snprintf(cmd, sizeof cmd, "'%s' items --task counting/word_len --setting plain --n 3 --seed 3", B);
    char *b = run(cmd, &st);
    cr_assert_eq(st, 0);
    cr_assert_eq(strncmp(a, b, strlen(b)), 0, "the first 3 items do not depend on n");
    char *line = a;
    for (int i = 0; i < 10; i++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        cr_assert_not_null(j);
        const char *id = cJSON_GetObjectItem(j, "id")->valuestring;
        char want[64];
        snprintf(want, sizeof want, "counting/word_len/%s/%d", i < 5 ? "plain" : "cot", i % 5);
        cr_assert_str_eq(id, want);
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(j, "seed")));
        cr_assert_str_eq(cJSON_GetObjectItem(j, "grader")->valuestring, "rule");
        cJSON *meta = cJSON_GetObjectItem(j, "meta");
        cr_assert_eq((int)cJSON_GetObjectItem(j, "gold")->valuedouble,
                     (int)strlen(cJSON_GetObjectItem(meta, "word")->valuestring));
        cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "capabilities")), 2);
        cJSON_Delete(j);
        line = nl + 1;
    }
    free(a);
    free(b);
    snprintf(cmd, sizeof cmd, "'%s' items --task counting/nope --n 2 2>&1", B);
    char *e = run(cmd, &st);
    cr_assert_eq(st, 2);
    cr_assert(strstr(e, "unknown subtask \"nope\""), "%s", e);
    free(e);
    snprintf(cmd, sizeof cmd, "'%s' items --task counting --n 0 2>&1", B);
    e = run(cmd, &st);
    cr_assert_eq(st, 2);
    free(e);
    snprintf(cmd, sizeof cmd, "'%s' items --task counting --words file:/nonexistent 2>&1", B);
    e = run(cmd, &st);
    cr_assert_eq(st, 1);
    cr_assert(strstr(e, "cannot open word list"), "%s", e);
    free(e);
}

Test(cli, grade_round_trip) {
    NEED_BIN();
    char dir[] = "/tmp/cb_cli_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char items[256], graded_in[256], cmd[1024];
    snprintf(items, sizeof items, "%s/items.jsonl", dir);
    snprintf(graded_in, sizeof graded_in, "%s/in.jsonl", dir);
    int st;
    snprintf(cmd, sizeof cmd, "'%s' items --task counting --setting direct,sc --n 4 --seed 9 --words seed", B);
    char *out = run(cmd, &st);
    cr_assert_eq(st, 0);
    cr_assert_eq(count_lines(out), 32);
    /* answer every item: correct for even indices, gold+1 (or the other word) for odd */
    FILE *f = fopen(graded_in, "w");
    char *line = out;
    int expect_correct = 0;
    while (*line) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        const char *id = cJSON_GetObjectItem(j, "id")->valuestring;
        int idx = (int)strtol(strrchr(id, '/') + 1, NULL, 10);
        cJSON *gold = cJSON_GetObjectItem(j, "gold");
        char ans[64];
        if (cJSON_IsString(gold))
            snprintf(ans, sizeof ans, "Answer: %s", idx % 2 == 0 ? gold->valuestring
                                                    : strcmp(gold->valuestring, "Yes") == 0 ? "No" : "Yes");
        else
            snprintf(ans, sizeof ans, "Answer: %d", (int)gold->valuedouble + (idx % 2));
        expect_correct += idx % 2 == 0;
        if (strstr(id, "/sc/")) {
            cJSON *arr = cJSON_CreateArray();
            for (int k = 0; k < 5; k++) cJSON_AddItemToArray(arr, cJSON_CreateString(ans));
            cJSON_AddItemToObject(j, "response", arr);
        } else {
            cJSON_AddStringToObject(j, "response", ans);
        }
        char *s = cJSON_PrintUnformatted(j);
        fprintf(f, "%s\n\n", s); /* blank lines are skipped */
        free(s);
        cJSON_Delete(j);
        line = nl + 1;
    }
    fclose(f);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' grade --task counting --in '%s'", B, graded_in);
    out = run(cmd, &st);
    cr_assert_eq(st, 0);
    cr_assert_eq(count_lines(out), 32);
    int correct = 0;
    line = out;
    while (*line) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        cr_assert_not_null(j);
        cJSON *score = cJSON_GetObjectItem(j, "score");
        cr_assert(cJSON_IsNumber(score));
        correct += score->valuedouble == 1.0;
        cr_assert(cJSON_IsBool(cJSON_GetObjectItem(j, "unparsed")));
        cr_assert(cJSON_IsArray(cJSON_GetObjectItem(j, "flags")));
        cr_assert(cJSON_IsObject(cJSON_GetObjectItem(j, "metrics")));
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(j, "extracted")));
        cr_assert_str_eq(cJSON_GetObjectItem(j, "grader_version")->valuestring, "counting/2");
        cJSON_Delete(j);
        line = nl + 1;
    }
    cr_assert_eq(correct, expect_correct);
    free(out);

    /* the same through stdin */
    snprintf(cmd, sizeof cmd, "'%s' grade --task counting < '%s' | wc -l", B, graded_in);
    out = run(cmd, &st);
    cr_assert_eq(strtol(out, NULL, 10), 32);
    free(out);

    /* bad lines: reported with line number and field, good lines still graded, exit 2 */
    write_file(graded_in,
               "{\"id\":\"counting/word_len/direct/0\",\"seed\":\"1\",\"turns\":[{\"role\":\"user\",\"text\":\"q\"}],"
               "\"gold\":6,\"grader\":\"rule\",\"capabilities\":[\"c\"],\"meta\":{\"word\":\"banana\"},"
               "\"response\":\"6\"}\n"
               "{\"id\":\"counting/word_len/direct/0\",\"seed\":\"1\",\"turns\":[{\"role\":\"user\",\"text\":\"q\"}],"
               "\"gold\":6,\"grader\":\"rule\",\"capabilities\":[\"c\"],\"meta\":{\"word\":\"banana\"},"
               "\"response\":7}\n"
               "{\"id\":\"counting/word_len/direct/0\",\"seed\":\"1\",\"turns\":\"q\"}\n"
               "{broken\n");
    snprintf(cmd, sizeof cmd, "'%s' grade --task counting --in '%s' 2>&1 >/dev/null", B, graded_in);
    out = run(cmd, &st);
    cr_assert_eq(st, 2);
    cr_assert(strstr(out, "line 2: field \"response\""), "%s", out);
    cr_assert(strstr(out, "line 3: field \"turns\""), "%s", out);
    cr_assert(strstr(out, "line 4: not valid JSON"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' grade --task counting --in '%s' 2>/dev/null", B, graded_in);
    out = run(cmd, &st);
    cr_assert_eq(count_lines(out), 1);
    cr_assert(strstr(out, "\"score\":1"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' grade --task skill-mix --in '%s' 2>&1", B, graded_in);
    out = run(cmd, &st);
    cr_assert_eq(st, 2);
    free(out);
    unlink(graded_in);
    unlink(items);
    rmdir(dir);
}

/* skill-mix through `capbench grade`: the second turns and the judgements
 * attached to the line ("responses", in the order a run sends them) are graded
 * offline; without judgements the line gets the rule-based proxy. */
Test(cli, grade_judged_family_offline) {
    NEED_BIN();
    char dir[] = "/tmp/cb_cli_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char in[256], cmd[1024];
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    int st;
    snprintf(cmd, sizeof cmd, "'%s' items --task skill-mix/k1 --n 1 --seed 3", B);
    char *out = run(cmd, &st);
    cr_assert_eq(st, 0);
    cJSON *it = cJSON_Parse(out);
    cr_assert_not_null(it);
    cJSON *meta = cJSON_GetObjectItem(it, "meta");
    const char *skill = cJSON_GetArrayItem(cJSON_GetObjectItem(meta, "skills"), 0)->valuestring;
    const char *topic = cJSON_GetObjectItem(meta, "topic")->valuestring;
    int G = (int)cJSON_GetObjectItem(meta, "generations")->valuedouble;
    int J = (int)cJSON_GetObjectItem(meta, "judge_runs")->valuedouble;
    char table[1024], ans[256];
    snprintf(table, sizeof table,
             "Here's the grading table:\n| Criteria | Points Earned |\n|---|---|\n| Correctly illustrates %s | 1 |\n"
             "| Pertains to %s | 1 |\n| Text makes sense | 1 |\n| At most one sentence | 1 |\nExplanation: ok",
             skill, topic);
    snprintf(ans, sizeof ans, "Answer: A calm line on this topic that shows the skill.\nExplanation: it does");
    cJSON *with = cJSON_Duplicate(it, 1), *without = cJSON_Duplicate(it, 1);
    cJSON *a = cJSON_AddArrayToObject(with, "responses"), *b = cJSON_AddArrayToObject(without, "responses");
    for (int g = 0; g < G; g++) {
        cJSON_AddItemToArray(a, cJSON_CreateString("Answer: a first draft."));
        cJSON_AddItemToArray(b, cJSON_CreateString("Answer: a first draft."));
    }
    for (int g = 0; g < G; g++) {
        cJSON_AddItemToArray(a, cJSON_CreateString(ans));
        cJSON_AddItemToArray(b, cJSON_CreateString(ans));
    }
    for (int k = 0; k < G * J; k++) cJSON_AddItemToArray(a, cJSON_CreateString(table));
    char *l1 = cJSON_PrintUnformatted(with), *l2 = cJSON_PrintUnformatted(without);
    FILE *f = fopen(in, "w");
    fprintf(f, "%s\n%s\n", l1, l2);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' grade --task skill-mix --in '%s'", B, in);
    char *graded = run(cmd, &st);
    cr_assert_eq(st, 0, "%s", graded);
    char *nl = strchr(graded, '\n');
    cr_assert_not_null(nl);
    *nl = 0;
    cJSON *g1 = cJSON_Parse(graded), *g2 = cJSON_Parse(nl + 1);
    cr_assert_float_eq(cJSON_GetObjectItem(g1, "score")->valuedouble, 1.0, 1e-12, "%s", graded);
    cr_assert_float_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(g1, "metrics"), "full_marks")->valuedouble, 1.0, 1e-12);
    cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(g2, "metrics"), "proxy_topic"), "%s", nl + 1);
    cr_assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(g2, "metrics"), "full_marks"));
    /* a line whose entries do not match the rounds is refused, naming the field */
    cJSON_AddItemToArray(b, cJSON_CreateString("one too many"));
    cJSON_AddItemToArray(b, cJSON_CreateString("and another"));
    char *l3 = cJSON_PrintUnformatted(without);
    f = fopen(in, "w");
    fprintf(f, "%s\n", l3);
    fclose(f);
    char *bad = run(cmd, &st);
    cr_assert_eq(st, 2);
    free(bad);
    free(l1);
    free(l2);
    free(l3);
    free(graded);
    free(out);
    cJSON_Delete(g1);
    cJSON_Delete(g2);
    cJSON_Delete(with);
    cJSON_Delete(without);
    cJSON_Delete(it);
    unlink(in);
    rmdir(dir);
}

/* structured-output's P-Score through `capbench grade`: the answer, the two
 * judgements (prediction first, gold first) and the re-ask of the unreadable
 * second one, in the order a run sends them; without judgements no P. */
Test(cli, grade_structured_pscore_offline) {
    NEED_BIN();
    char dir[] = "/tmp/cb_cli_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char in[256], cmd[1024];
    snprintf(in, sizeof in, "%s/in.jsonl", dir);
    int st;
    snprintf(cmd, sizeof cmd, "'%s' items --task structured-output/html --n 1 --seed 5", B);
    char *out = run(cmd, &st);
    cr_assert_eq(st, 0);
    cJSON *it = cJSON_Parse(out);
    cr_assert_not_null(it);
    const char *gold = cJSON_GetObjectItem(it, "gold")->valuestring;
    cJSON *with = cJSON_Duplicate(it, 1), *without = cJSON_Duplicate(it, 1);
    cJSON *a = cJSON_AddArrayToObject(with, "responses"), *b = cJSON_AddArrayToObject(without, "responses");
    cJSON_AddItemToArray(a, cJSON_CreateString(gold));
    cJSON_AddItemToArray(a, cJSON_CreateString("Same.\n```json\n{\"content_similarity\": 9, \"structural_similarity\": 10}\n```"));
    cJSON_AddItemToArray(a, cJSON_CreateString("I think they match."));
    cJSON_AddItemToArray(a, cJSON_CreateString("\"content_similarity\": 7, \"structural_similarity\": 10"));
    cJSON_AddItemToArray(b, cJSON_CreateString(gold));
    char *l1 = cJSON_PrintUnformatted(with), *l2 = cJSON_PrintUnformatted(without);
    FILE *f = fopen(in, "w");
    fprintf(f, "%s\n%s\n", l1, l2);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' grade --task structured-output --in '%s'", B, in);
    char *graded = run(cmd, &st);
    cr_assert_eq(st, 0, "%s", graded);
    char *nl = strchr(graded, '\n');
    cr_assert_not_null(nl);
    *nl = 0;
    cJSON *g1 = cJSON_Parse(graded), *g2 = cJSON_Parse(nl + 1);
    cJSON *m1 = cJSON_GetObjectItem(g1, "metrics"), *m2 = cJSON_GetObjectItem(g2, "metrics");
    cr_assert_float_eq(cJSON_GetObjectItem(g1, "score")->valuedouble, 1.0, 1e-12, "the gold is an exact match");
    cr_assert_float_eq(cJSON_GetObjectItem(m1, "p_content")->valuedouble, 0.8, 1e-12, "%s", graded);
    cr_assert_float_eq(cJSON_GetObjectItem(m1, "p_structure")->valuedouble, 1.0, 1e-12);
    cr_assert_eq(cJSON_GetObjectItem(m1, "p_orders")->valuedouble, 2);
    cr_assert_eq(cJSON_GetObjectItem(m1, "p_judge_failed")->valuedouble, 0);
    cr_assert_null(cJSON_GetObjectItem(m2, "p_content"), "no judgements: P not computed (%s)", nl + 1);
    cr_assert_not_null(cJSON_GetObjectItem(m2, "h_content"));
    free(l1);
    free(l2);
    free(graded);
    free(out);
    cJSON_Delete(g1);
    cJSON_Delete(g2);
    cJSON_Delete(with);
    cJSON_Delete(without);
    cJSON_Delete(it);
    unlink(in);
    rmdir(dir);
}
