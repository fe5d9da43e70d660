/* tests/runner/test_families_e2e.c — structured-output and knowledge-capacity
 * end to end through the real binary, scheduler, local engine and SQLite
 * (skipped without ../shared): the BPC subtask with llama.cpp's windowing
 * reproduces the reference perplexity of perplexity_text.txt within 0.1% at
 * n_ctx 128 and 256; the knowledge bits are measured for every probed person
 * and the report carries bits, bits per parameter, BPC and the H-Score rows;
 * regrade from the stored responses gives the same grades. */
#include <cjson/cJSON.h>
#include "tests/util/cbtest.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_dir[64], g_shared[1024];
static const char *g_bin;

static void setup(void) {
    g_bin = getenv("CAPBENCH_BIN");
    const char *sd = getenv("CAPBENCH_SHARED_DIR"), *md = getenv("CAPBENCH_MODEL_DIR");
    char model[1200], ref[1200];
    snprintf(g_shared, sizeof g_shared, "%s", sd ? sd : "");
    snprintf(model, sizeof model, "%s/stories260K.gguf", md ? md : "");
    snprintf(ref, sizeof ref, "%s/reference/stories260K/perplexity.json", g_shared);
    if (!g_bin) cr_skip_test("CAPBENCH_BIN not set (run under CTest)");
    if (!md || access(model, R_OK) != 0) cr_skip_test("stories260K.gguf not found in CAPBENCH_MODEL_DIR (../shared absent)");
    if (!sd || access(ref, R_OK) != 0) cr_skip_test("reference/stories260K/perplexity.json not found (../shared absent)");
    cr_assert_eq(cbt_tmpdir(g_dir, sizeof g_dir, "cbfam"), 0);
}

static void teardown(void) {
    if (g_dir[0]) cbt_rmrf(g_dir);
}

static cJSON *load(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    cJSON *j = cJSON_Parse(b);
    free(b);
    cr_assert_not_null(j, "%s: not JSON", path);
    return j;
}

static const cJSON *find_task(const cJSON *arr, const char *task) {
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) if (strcmp(cJSON_GetObjectItem(e, "task")->valuestring, task) == 0) return e;
    return NULL;
}

Test(families_e2e, run_report_reference_perplexity, .init = setup, .fini = teardown) {
    char suite[128], db[128], rep[128], rep2[128];
    snprintf(suite, sizeof suite, "%s/suite.json", g_dir);
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    snprintf(rep, sizeof rep, "%s/report.json", g_dir);
    snprintf(rep2, sizeof rep2, "%s/report2.json", g_dir);
    FILE *f = fopen(suite, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"name\": \"families\", \"seed\": 7, \"batch_size\": 16,\n"
            " \"model\": {\"backend\": \"local\", \"path\": null, \"device\": \"cpu\", \"n_ctx\": 2048},\n"
            " \"tasks\": [\n"
            "  {\"family\": \"knowledge-capacity\", \"subtasks\": [\"bits\"], \"n\": 4, \"params\": {\"persons\": 4}},\n"
            "  {\"family\": \"knowledge-capacity\", \"subtasks\": [\"qa\"], \"n\": 4, \"label\": \"qa\","
            " \"params\": {\"persons\": 4}},\n"
            "  {\"family\": \"knowledge-capacity\", \"subtasks\": [\"bpc\"], \"n\": 1, \"label\": \"bpc\","
            " \"params\": {\"bpc_block\": 255, \"bpc_stride\": 128}},\n"
            "  {\"family\": \"knowledge-capacity\", \"subtasks\": [\"bpc\"], \"n\": 1, \"label\": \"ppl128\","
            " \"params\": {\"bpc_files\": [\"%s/reference/stories260K/perplexity_text.txt\"],"
            " \"bpc_windowing\": \"llamacpp\", \"bpc_block\": 128}},\n"
            "  {\"family\": \"knowledge-capacity\", \"subtasks\": [\"bpc\"], \"n\": 1, \"label\": \"ppl256\","
            " \"params\": {\"bpc_files\": [\"%s/reference/stories260K/perplexity_text.txt\"],"
            " \"bpc_windowing\": \"llamacpp\", \"bpc_block\": 256}},\n"
            "  {\"family\": \"structured-output\", \"settings\": [\"plain\", \"formatcot\"], \"n\": 1,"
            " \"params\": {\"max_tokens\": 64}}\n"
            " ]}\n",
            g_shared, g_shared);
    fclose(f);
    cr_assert_eq(cbt_sh("'%s' run --suite '%s' --db '%s' --threads 2 --quiet", g_bin, suite, db), 0);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format json > '%s'", g_bin, db, rep), 0);
    cJSON *r = load(rep);
    const cJSON *fam = cJSON_GetObjectItem(r, "families");
    cr_assert_not_null(fam, "report has no families section");

    /* perplexity through the BPC path, llama.cpp windowing, vs llama.cpp */
    char refp[1200];
    snprintf(refp, sizeof refp, "%s/reference/stories260K/perplexity.json", g_shared);
    cJSON *ref = load(refp);
    const cJSON *run;
    int checked = 0;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(ref, "runs")) {
        int n_ctx = (int)cJSON_GetObjectItem(run, "n_ctx")->valuedouble;
        double want = cJSON_GetObjectItem(run, "final_ppl")->valuedouble;
        int n_chunks = (int)cJSON_GetObjectItem(run, "n_chunks")->valuedouble;
        char task[64];
        snprintf(task, sizeof task, "knowledge-capacity:ppl%d", n_ctx);
        const cJSON *c = find_task(cJSON_GetObjectItem(fam, "compression"), task);
        cr_assert_not_null(c, "%s missing", task);
        double got = cJSON_GetObjectItem(c, "ppl")->valuedouble;
        cr_expect_eq((int)cJSON_GetObjectItem(c, "tokens")->valuedouble, n_chunks * (n_ctx - n_ctx / 2 - 1));
        cr_expect(fabs(got - want) <= 1e-3 * want, "n_ctx %d: PPL %.5f, llama.cpp %.4f (%.4f%%)", n_ctx, got, want,
                  100 * fabs(got - want) / want);
        cr_log_info("n_ctx %d: capbench PPL %.5f, llama.cpp %.4f, difference %.4f%%", n_ctx, got, want,
                    100 * fabs(got - want) / want);
        checked++;
    }
    cr_expect_eq(checked, 2);
    cJSON_Delete(ref);

    /* BPC over the built-in text: every token but the first scored */
    const cJSON *b = find_task(cJSON_GetObjectItem(fam, "compression"), "knowledge-capacity:bpc");
    cr_assert_not_null(b);
    double bpc = cJSON_GetObjectItem(b, "bpc")->valuedouble;
    cr_expect(bpc > 0.1 && bpc < 8, "BPC %f", bpc);
    cr_expect_gt(cJSON_GetObjectItem(b, "chars")->valuedouble, 2500);

    /* knowledge bits: every person measured; bits per parameter on the GGUF's counts */
    const cJSON *k = find_task(cJSON_GetObjectItem(fam, "knowledge"), "knowledge-capacity");
    cr_assert_not_null(k);
    cr_expect_eq(cJSON_GetObjectItem(k, "probed")->valuedouble, 4);
    cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(k, "bits")));
    double P = cJSON_GetObjectItem(k, "n_params")->valuedouble;
    cr_expect_gt(P, 200000);
    cr_expect_lt(cJSON_GetObjectItem(k, "n_params_nonembd")->valuedouble, P);
    cr_expect(fabs(cJSON_GetObjectItem(k, "bits_per_param")->valuedouble -
                   cJSON_GetObjectItem(k, "bits")->valuedouble / P) < 1e-9);
    /* B_max = N log2(N0/N) + N log2 S0 with the built-in lists */
    double N = 4, want_max = N * (log2(1.6e8) - log2(N)) + N * log2(2.0 * 67200 * 200 * 300 * 100 * 263);
    cr_expect(fabs(cJSON_GetObjectItem(k, "bits_max")->valuedouble - want_max) < 1e-6 * want_max);

    /* structured output rows, and the P-Score note */
    cr_expect_gt(cJSON_GetArraySize(cJSON_GetObjectItem(fam, "structured")), 0);
    cr_expect(cJSON_IsString(cJSON_GetObjectItem(fam, "p_score")));
    cJSON_Delete(r);

    /* the text report shows the sections */
    cr_expect_eq(cbt_sh("'%s' report --db '%s' | grep -q 'Knowledge capacity: bits'", g_bin, db), 0);
    cr_expect_eq(cbt_sh("'%s' report --db '%s' | grep -q 'P-Score: not computed'", g_bin, db), 0);

    /* regrade from the stored responses (token log-probs and spans kept) changes nothing */
    cr_assert_eq(cbt_sh("'%s' regrade 1 --db '%s' >/dev/null 2>&1", g_bin, db), 0);
    cr_assert_eq(cbt_sh("'%s' report --db '%s' --format json > '%s'", g_bin, db, rep2), 0);
    cJSON *a = load(rep), *c = load(rep2);
    char *sa = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "families"));
    char *sc = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "families"));
    cr_expect_str_eq(sa, sc);
    free(sa);
    free(sc);
    cJSON_Delete(a);
    cJSON_Delete(c);
}
