/* tests/runner/test_config.c — suite configs: a table of bad configs and the
 * message each must give (JSON path + what was expected), the shipped suites,
 * canonical JSON / hash stability, seed overrides, and the exit code 2 of
 * `capbench run` on a bad config through the real binary. */
#include "runner/config.h"

#include "tasks/task.h"

#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OKTASK "\"tasks\":[{\"family\":\"counting\",\"n\":2}]"

static int parse(const char *text, cb_suite **s, cb_err *err) {
    cb_err_clear(err);
    return cb_suite_parse("t.json", text, strlen(text), s, err);
}

typedef struct {
    const char *json;
    const char *expect; /* substring of the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"", "invalid JSON near line 1"},
    {"{\"tasks\":[", "invalid JSON"},
    {"[]", "$: expected an object, got an array"},
    {"{}", "$: missing required key \"tasks\""},
    {"{\"tasks\":[]}", "$.tasks: expected a non-empty array"},
    {"{\"tasks\":{}}", "$.tasks: expected a non-empty array of task entries, got an object"},
    {"{\"taks\":[]}", "$: unknown key \"taks\""},
    {"{\"seed\":-1," OKTASK "}", "$.seed: expected a non-negative integer"},
    {"{\"seed\":1.5," OKTASK "}", "$.seed: expected a non-negative integer"},
    {"{\"seed\":\"12x\"," OKTASK "}", "$.seed: expected an unsigned 64-bit integer"},
    {"{\"batch_size\":0," OKTASK "}", "$.batch_size: expected an integer from 1 to 65536, got 0"},
    {"{\"batch_size\":\"64\"," OKTASK "}", "$.batch_size: expected an integer from 1 to 65536, got \"64\""},
    {"{\"db\":\"\"," OKTASK "}", "$.db: expected a non-empty string"},
    {"{\"model\":[]," OKTASK "}", "$.model: expected an object"},
    {"{\"model\":{\"backend\":\"vllm\"}," OKTASK "}", "$.model.backend: expected one of \"local\", \"openai\""},
    {"{\"model\":{\"device\":\"tpu\"}," OKTASK "}", "$.model.device: expected one of \"cpu\", \"cuda\""},
    {"{\"model\":{\"threads\":-2}," OKTASK "}", "$.model.threads: expected an integer from 0 to 1024"},
    {"{\"model\":{\"n_ctx\":1}," OKTASK "}", "$.model.n_ctx: expected an integer from 16"},
    {"{\"model\":{\"pth\":\"x\"}," OKTASK "}", "$.model: unknown key \"pth\""},
    {"{\"model\":{\"backend\":\"openai\"}," OKTASK "}", "$.model: backend \"openai\" needs \"base_url\""},
    {"{\"model\":{\"backend\":\"openai\",\"base_url\":\"http://h/v1\"}," OKTASK "}",
     "backend \"openai\" needs \"model\""},
    {"{\"model\":{\"backend\":\"openai\",\"base_url\":\"ftp://h\",\"model\":\"m\"}," OKTASK "}",
     "base_url: expected an http:// or https:// URL"},
    {"{\"model\":{\"backend\":\"openai\",\"base_url\":\"http://h\",\"model\":\"m\",\"api_key_env\":\"sk-abc.def\"},"
     OKTASK "}",
     "api_key_env must be the NAME of an environment variable"},
    {"{\"model\":{\"timeout_s\":0}," OKTASK "}", "$.model.timeout_s: expected a number from"},
    {"{\"model\":{\"logprobs\":1}," OKTASK "}", "$.model.logprobs: expected true or false, got 1"},
    {"{\"generation\":{\"temperature\":-1}," OKTASK "}", "$.generation.temperature: expected a number from 0 to 10"},
    {"{\"generation\":{\"top_p\":0}," OKTASK "}", "$.generation.top_p: expected a number"},
    {"{\"generation\":{\"max_tokens\":0}," OKTASK "}", "$.generation.max_tokens: expected an integer from 1"},
    {"{\"generation\":{\"beam\":2}," OKTASK "}", "$.generation: unknown key \"beam\""},
    {"{\"tasks\":[1]}", "$.tasks[0]: expected an object, got 1"},
    {"{\"tasks\":[{\"n\":2}]}", "$.tasks[0]: missing required key \"family\""},
    {"{\"tasks\":[{\"family\":\"counting\"}]}", "$.tasks[0]: missing required key \"n\""},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":0}]}", "$.tasks[0].n: expected an integer from 1 to 10000000, got 0"},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":\"ten\"}]}", "$.tasks[0].n: expected an integer from 1 to 10000000, got \"ten\""},
    {"{\"tasks\":[{\"family\":\"countin\",\"n\":2}]}", "countin"},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"subtasks\":[]}]}", "$.tasks[0].subtasks: expected a non-empty array"},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"subtasks\":[\"word_len\",\"word_len\"]}]}",
     "$.tasks[0].subtasks[1]: \"word_len\" is listed twice"},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"subtasks\":[3]}]}", "$.tasks[0].subtasks[0]: expected a non-empty string, got 3"},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"subtasks\":[\"vowels\"]}]}", "vowels"},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"settings\":[\"tot\"]}]}", "tot"},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"params\":[]}]}", "$.tasks[0].params: expected an object"},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"extra\":1}]}", "$.tasks[0]: unknown key \"extra\""},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2},{\"family\":\"counting\",\"n\":3}]}",
     "$.tasks[1]: a second \"counting\" entry needs a distinct \"label\""},
    {"{\"tasks\":[{\"family\":\"counting\",\"n\":2,\"label\":\"a b\"}]}", "label: expected letters, digits"},
    {"{\"name\":\"x\",\"name\":\"y\"," OKTASK "}", "key \"name\" appears twice"},
};

Test(config, bad_configs_name_path_and_expectation) {
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        cb_suite *s = NULL;
        cb_err err;
        int rc = parse(bad_cases[i].json, &s, &err);
        cr_assert_neq(rc, 0, "case %zu (%s) should fail", i, bad_cases[i].json);
        cr_assert_null(s);
        cr_assert_eq(err.code, CB_EUSAGE, "case %zu: code %d (%s)", i, err.code, err.msg);
        cr_assert(strstr(err.msg, "t.json: ") == err.msg, "case %zu: message must start with the file: %s", i,
                  err.msg);
        cr_assert(strstr(err.msg, bad_cases[i].expect) != NULL, "case %zu: message \"%s\" lacks \"%s\"", i,
                  err.msg, bad_cases[i].expect);
    }
}

Test(config, defaults_and_values) {
    cb_suite *s = NULL;
    cb_err err;
    const char *j = "{\"name\":\"n1\",\"seed\":\"18446744073709551615\",\"db\":\"x.db\","
                    "\"model\":{\"backend\":\"openai\",\"base_url\":\"http://127.0.0.1:1/v1\",\"model\":\"m\","
                    "\"api_key_env\":\"MY_KEY\",\"concurrency\":3},"
                    "\"generation\":{\"temperature\":0.5},"
                    "\"tasks\":[{\"family\":\"counting\",\"n\":4,\"subtasks\":[\"word_len\"],\"seed\":9}]}";
    cr_assert_eq(parse(j, &s, &err), 0, "%s", err.msg);
    cr_assert_str_eq(s->name, "n1");
    cr_assert_eq(s->seed, UINT64_MAX);
    cr_assert_str_eq(s->db, "x.db");
    cr_assert_str_eq(s->model.backend, "openai");
    cr_assert_str_eq(s->model.api_key_env, "MY_KEY");
    cr_assert_eq(s->model.concurrency, 3);
    cr_assert_eq(s->model.max_retries, 2);
    cr_assert_eq(s->gen_set, CB_GEN_TEMPERATURE);
    cr_assert_float_eq(s->temperature, 0.5f, 1e-6);
    cr_assert_eq(s->n_tasks, 1);
    cr_assert_eq(s->tasks[0].seed, 9);
    cr_assert_eq(s->tasks[0].n, 4);
    /* seed override: entries with their own seed keep it */
    cb_suite_set_seed(s, 5);
    cr_assert_eq(s->seed, 5);
    cr_assert_eq(s->tasks[0].seed, 9);
    char *js = cb_suite_to_json(s);
    cr_assert_not_null(js);
    cr_assert(strstr(js, "MY_KEY") != NULL); /* the variable name, never a key */
    free(js);
    cb_suite_free(s);
}

Test(config, hash_is_stable_and_sensitive) {
    cb_suite *a = NULL, *b = NULL, *c = NULL;
    cb_err err;
    cr_assert_eq(parse("{\"seed\":1," OKTASK "}", &a, &err), 0, "%s", err.msg);
    cr_assert_eq(parse("{ \"seed\" : 1 , \"batch_size\": 7, " OKTASK " }", &b, &err), 0, "%s", err.msg);
    cr_assert_eq(parse("{\"seed\":2," OKTASK "}", &c, &err), 0, "%s", err.msg);
    char ha[65], hb[65], hc[65];
    cb_suite_hash(a, ha);
    cb_suite_hash(b, hb);
    cb_suite_hash(c, hc);
    cr_assert_str_eq(ha, hb, "whitespace and batch size do not change results, so not the hash");
    cr_assert_str_neq(ha, hc);
    cb_suite_free(a);
    cb_suite_free(b);
    cb_suite_free(c);
}

static const char *src_dir(void) {
    const char *d = getenv("CAPBENCH_SOURCE_DIR");
    return d ? d : ".";
}

/* Every shipped suite (each JSON file in configs/) loads, names only registered families,
 * subtasks and settings (cb_suite_load and the task specs check them) and
 * yields items; the nightly and full suites run all five families, and full
 * has a judge for the judge-graded ones. */
Test(config, shipped_suites_parse) {
    char pat[1024];
    snprintf(pat, sizeof pat, "%s/configs/*.json", src_dir());
    glob_t gl;
    cr_assert_eq(glob(pat, 0, NULL, &gl), 0, "no suites match %s", pat);
    cr_assert_geq(gl.gl_pathc, 3, "smoke, nightly and full at least");
    int n_families = 0;
    const cb_task_family *const *fams = cb_task_families(&n_families);
    cr_assert_eq(n_families, 5);
    for (size_t i = 0; i < gl.gl_pathc; i++) {
        const char *path = gl.gl_pathv[i];
        cb_suite *s = NULL;
        cb_err err;
        cb_err_clear(&err);
        cr_assert_eq(cb_suite_load(path, &s, &err), 0, "%s", err.msg);
        int seen[8] = {0};
        for (int t = 0; t < s->n_tasks; t++) {
            cb_task_spec *spec = NULL;
            cr_assert_eq(cb_suite_task_spec(s, t, 0, &spec, &err), 0, "%s: %s", path, err.msg);
            cr_assert_gt(cb_task_spec_n_items(spec), 0);
            for (int f = 0; f < n_families; f++) seen[f] |= cb_task_spec_family(spec) == fams[f];
            cb_task_spec_free(spec);
        }
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (strcmp(base, "nightly.json") == 0 || strcmp(base, "full.json") == 0) {
            for (int f = 0; f < n_families; f++) cr_expect(seen[f], "%s lacks family %s", path, fams[f]->name);
            cr_expect(s->has_judge, "%s: skill-mix and P-Score need a judge", path);
        }
        cb_suite_free(s);
    }
    globfree(&gl);
}

Test(config, missing_file) {
    cb_suite *s = NULL;
    cb_err err;
    cb_err_clear(&err);
    cr_assert_neq(cb_suite_load("/nonexistent/suite.json", &s, &err), 0);
    cr_assert(strstr(err.msg, "/nonexistent/suite.json: cannot open suite config") != NULL, "%s", err.msg);
    cr_assert_eq(cb_err_exit_code(&err), 2);
}

/* The binary: a bad config exits 2 and names the path; nothing else runs. */
Test(config, run_exits_2_on_bad_config) {
    const char *bin = getenv("CAPBENCH_BIN");
    if (!bin) cr_skip_test("CAPBENCH_BIN not set (run under CTest)");
    char dir[] = "/tmp/cbcfgXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cfg[256], db[256], cmd[1200], out[256];
    snprintf(cfg, sizeof cfg, "%s/bad.json", dir);
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(out, sizeof out, "%s/err.txt", dir);
    FILE *f = fopen(cfg, "w");
    fputs("{\"tasks\":[{\"family\":\"counting\",\"n\":-3}]}", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' run --suite '%s' --db '%s' 2>'%s'", bin, cfg, db, out);
    int st = system(cmd);
    cr_assert(WIFEXITED(st));
    cr_assert_eq(WEXITSTATUS(st), 2);
    char msg[1024] = "";
    f = fopen(out, "r");
    size_t got = fread(msg, 1, sizeof msg - 1, f);
    msg[got] = 0;
    fclose(f);
    cr_assert(strstr(msg, "$.tasks[0].n: expected an integer from 1") != NULL, "%s", msg);
    cr_assert_neq(access(db, F_OK), 0, "no database is created for a config that does not parse");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
