/* tests/engine/test_engine_bench.c — `capbench bench` through the real binary
 * on a small generated Q4_K_M model: the JSON carries the read-bandwidth
 * yardstick with its method, the last-level cache size, and per model the
 * fraction against read bandwidth and whether the weights fit in the cache;
 * a model that fits is flagged with a warning on stderr. Speeds are not
 * asserted (a measurement, not a test of speed). */
#include "engine/genmodel.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Numeric value after "\"key\":" in s; cr_assert when absent. */
static double json_num(const char *s, const char *key) {
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(s, pat);
    cr_assert_not_null(p, "no %s in %s", key, s);
    return strtod(p + strlen(pat), NULL);
}

Test(engine_bench, q4_k_m_model_read_yardstick_and_cache_warning) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin) cr_skip_test("CAPBENCH_BIN is not set (ctest sets it to the built capbench)");
    char model[256], out[256], errp[256], cmd[1024];
    snprintf(model, sizeof model, "/tmp/cb_test_bench_%ld.gguf", (long)getpid());
    snprintf(out, sizeof out, "/tmp/cb_test_bench_%ld.json", (long)getpid());
    snprintf(errp, sizeof errp, "/tmp/cb_test_bench_%ld.err", (long)getpid());
    cb_genmodel_opts o = {.shape = "tiny256", .type = "q4_k_m", .seed = 1, .synth_vocab = 1, .out_path = model,
                          .n_threads = 2};
    cb_err e = {0};
    cr_assert_eq(cb_genmodel_write(&o, &e), 0, "%s", e.msg);
    snprintf(cmd, sizeof cmd, "%s bench --model %s --threads 2 --prompt 8 --gen 2 --json > %s 2> %s", bin, model,
             out, errp);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    static char json[16384], warn[4096];
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    size_t n = fread(json, 1, sizeof json - 1, f);
    json[n] = 0;
    fclose(f);
    f = fopen(errp, "r");
    cr_assert_not_null(f);
    n = fread(warn, 1, sizeof warn - 1, f);
    warn[n] = 0;
    fclose(f);
    cr_assert(strstr(json, "\"yardstick\":\"read: 2 threads each sum their own slice") != NULL, "%s", json);
    double rd = json_num(json, "read_bandwidth_gbs"), frac = json_num(json, "b1_fraction_of_read_bw");
    double ach = json_num(json, "b1_achieved_gbs"), llc = json_num(json, "llc_bytes");
    double wb = json_num(json, "weight_bytes");
    cr_assert(rd > 0 && ach > 0, "%s", json);
    /* the JSON prints GB/s with 3 decimals: allow that rounding (a slow, loaded machine gives small values) */
    double want = ach / rd, slack = 0.0005 / ach * want + 0.0005 / rd * want + 1e-4;
    cr_assert(fabs(frac - want) <= slack, "fraction %g vs %g / %g", frac, ach, rd);
    int fits = strstr(json, "\"weights_fit_llc\":true") != NULL;
    cr_assert_eq(fits, llc > 0 && wb <= llc, "fit flag %d, weights %g, llc %g", fits, wb, llc);
    if (fits)
        cr_assert(strstr(warn, "fit in the last-level cache") && strstr(warn, "cache artefact"), "stderr: %s", warn);
    else
        cr_assert(strstr(warn, "last-level cache") == NULL, "stderr: %s", warn);
    unlink(errp);
    unlink(out);
    unlink(model);
}
