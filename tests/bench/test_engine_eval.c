/* tests/bench/test_engine_eval.c — `capbench bench --workload eval` through the
 * built binary on a generated tiny model: our HellaSwag-layout sample file
 * and generated items give a JSON report whose accuracy equals acc/acc_norm
 * computed here from the engine's own scores, with prefix sharing saving
 * tokens and the unshared scores identical, and the kernel yardstick's rates;
 * bad input exits 2 naming the line.
 */
#include "bench/engine_hellaswag.h"
#include "engine/engine.h"
#include "engine/genmodel.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char model_path[256];

static void make_model(void) {
    snprintf(model_path, sizeof model_path, "/tmp/cb_test_eval_%ld.gguf", (long)getpid());
    cb_genmodel_opts o = {.shape = "tiny", .type = "f32", .seed = 5, .synth_vocab = 1, .out_path = model_path,
                          .n_threads = 1};
    cb_err e;
    cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg);
}
static void drop_model(void) { unlink(model_path); }
TestSuite(eval_bench, .init = make_model, .fini = drop_model);

/* `$CAPBENCH_BIN args` with stdout (and stderr when `err`) into out; the exit status. */
static int run_cli(const char *args, int with_stderr, char *out, size_t cap) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin || !*bin) cr_skip_test("CAPBENCH_BIN is not set");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s %s", bin, args, with_stderr ? "2>&1" : "2>/dev/null");
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *sample_path(char *buf, size_t cap) {
    const char *src = getenv("CAPBENCH_SOURCE_DIR");
    if (!src || !*src) cr_skip_test("CAPBENCH_SOURCE_DIR is not set");
    snprintf(buf, cap, "%s/tests/bench/hellaswag_sample.txt", src);
    return buf;
}

static double num(const cJSON *o, const char *path) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *tok = buf, *dot; cur && tok; tok = dot ? dot + 1 : NULL) {
        dot = strchr(tok, '.');
        if (dot) *dot = '\0';
        cur = cJSON_GetObjectItem(cur, tok);
    }
    cr_assert(cur && cJSON_IsNumber(cur), "JSON field %s missing", path);
    return cur->valuedouble;
}

Test(eval_bench, sample_file_json_matches_engine_scores) {
    char items[1024], args[2048], out[8192];
    sample_path(items, sizeof items);
    snprintf(args, sizeof args, "bench --workload eval --model '%s' --items '%s' --threads 2 --json", model_path,
             items);
    cr_assert_eq(run_cli(args, 0, out, sizeof out), 0, "%s", out);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "not JSON: %s", out);
    cr_expect_eq(num(j, "n_items"), 8);
    cr_expect_gt(num(j, "items_per_s"), 0);
    cr_expect_gt(num(j, "tokens_per_s"), 0);
    cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "prefix_sharing"), "scores_identical")));
    cr_expect_lt(num(j, "prefix_sharing.tokens_fed_shared"), num(j, "prefix_sharing.tokens_fed_unshared"));
    cr_expect_eq(num(j, "generation.n"), 8);
    cr_expect_eq(num(j, "generation.tokens"), 8 * 64);
    /* the kernel yardstick: the model's FFN shape, batched and one token at a time */
    cr_expect_eq(num(j, "kernel.tokens"), 60);
    cr_expect_gt(num(j, "kernel.K"), 0);
    cr_expect_gt(num(j, "kernel.batched_gflops"), 0);
    cr_expect_gt(num(j, "kernel.one_at_a_time_gflops"), 0);
    cr_expect_gt(num(j, "scoring_gflops"), 0);
    cr_expect_gt(num(j, "scoring_fraction_of_kernel"), 0);
    double st = num(j, "stages.tokenize_s") + num(j, "stages.context_prefill_s") +
                num(j, "stages.continuation_scoring_s") + num(j, "stages.softmax_and_scheduling_s");
    cr_expect(fabs(st - num(j, "wall_s")) <= 0.01 + 0.02 * num(j, "wall_s"), "stages %g, wall %g", st,
              num(j, "wall_s"));

    /* acc and acc_norm from the engine directly, one ending at a time */
    cb_mc_set s;
    cb_err e;
    cr_assert_eq(cb_hellaswag_load(items, &s, &e), 0, "%s", e.msg);
    cb_engine_opts o = {.model_path = model_path, .n_threads = 1, .n_ctx = 256, .n_seq = 1};
    cb_engine *en = NULL;
    cr_assert_eq(cb_engine_open(&o, &en, &e), 0, "%s", e.msg);
    int hit = 0, hit_norm = 0;
    for (int i = 0; i < s.n; i++) {
        double ll[4];
        for (int c = 0; c < 4; c++) {
            char cont[512];
            snprintf(cont, sizeof cont, " %s", s.items[i].endings[c]);
            cb_engine_req rq = {.kind = CB_ENGINE_LOGLIK, .text = s.items[i].context, .add_bos = -1,
                                .cont_text = cont};
            cb_engine_result r;
            cr_assert_eq(cb_engine_run(en, &rq, &r, 1, &e), 0, "%s", e.msg);
            cr_assert_eq(r.status, 0);
            ll[c] = r.logprob;
            cb_engine_result_clear(&r);
        }
        int b = 0, bn = 0;
        for (int c = 1; c < 4; c++) {
            if (ll[c] > ll[b]) b = c;
            if (ll[c] / (double)strlen(s.items[i].endings[c]) > ll[bn] / (double)strlen(s.items[i].endings[bn]))
                bn = c;
        }
        hit += b == s.items[i].gold;
        hit_norm += bn == s.items[i].gold;
    }
    cr_expect(fabs(num(j, "acc") - hit / 8.0) < 1e-9, "acc %g, engine %g", num(j, "acc"), hit / 8.0);
    cr_expect(fabs(num(j, "acc_norm") - hit_norm / 8.0) < 1e-9, "acc_norm %g, engine %g", num(j, "acc_norm"),
              hit_norm / 8.0);
    cb_engine_free(en);
    cb_mc_set_free(&s);
    cJSON_Delete(j);
}

Test(eval_bench, generated_items_table) {
    char args[1024], out[8192];
    snprintf(args, sizeof args, "bench --workload eval --model '%s' --n 6 --threads 1", model_path);
    cr_assert_eq(run_cli(args, 0, out, sizeof out), 0, "%s", out);
    const char *want[] = {"6 four-choice items (generated)", "items/s", "tokens/s", "stages: tokenize",
                          "speed-up", "identical to the shared ones", "acc_norm"};
    for (int i = 0; i < 7; i++) cr_expect(strstr(out, want[i]) != NULL, "no '%s' in:\n%s", want[i], out);
    /* the same generated items every run: the same accuracy line */
    char out2[8192];
    cr_assert_eq(run_cli(args, 0, out2, sizeof out2), 0);
    cr_expect_str_eq(strstr(out, "accuracy:"), strstr(out2, "accuracy:"));
}

Test(eval_bench, bad_input_exits_2) {
    char args[1024], out[4096];
    char bad[256];
    snprintf(bad, sizeof bad, "/tmp/cb_test_eval_%ld_bad.txt", (long)getpid());
    FILE *f = fopen(bad, "w");
    cr_assert_not_null(f);
    fputs("ctx\n0\na\nb\nc\nd\nctx2\nseven\na\nb\nc\nd\n", f);
    fclose(f);
    snprintf(args, sizeof args, "bench --workload eval --model '%s' --items '%s'", model_path, bad);
    cr_expect_eq(run_cli(args, 1, out, sizeof out), 2);
    cr_expect(strstr(out, "line 8: gold ending index 'seven'") != NULL, "%s", out);
    unlink(bad);
    snprintf(args, sizeof args, "bench --workload eval --model '%s' --items /nonexistent.txt", model_path);
    cr_expect_eq(run_cli(args, 1, out, sizeof out), 2);
    cr_expect_eq(run_cli("bench --workload train", 1, out, sizeof out), 2);
    cr_expect_eq(run_cli("bench --workload eval --n 0", 1, out, sizeof out), 2);
    snprintf(args, sizeof args, "bench --workload eval --model /nonexistent.gguf --n 1");
    cr_expect_eq(run_cli(args, 1, out, sizeof out), 2);
}
