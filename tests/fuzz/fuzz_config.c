/* tests/fuzz/fuzz_config.c — libFuzzer target for suite configs
 * (runner/config.c): a config file is user input, parsed and validated before
 * anything runs. The input bytes are the JSON text.
 *
 * Checks beyond "no crash, no leak": a parse that fails leaves a message that
 * names the file; one that succeeds gives a canonical JSON text that cJSON
 * reads back, a 64-digit hash, and a task spec for every entry (the registry's
 * validation of subtasks, settings and params) that the registry accepts.
 * Inputs that mention "file:" are skipped: a word-file path would make the
 * target read arbitrary files (/dev/zero, a FIFO); the word-file parser has
 * its own target (fuzz_taskfile).
 */
#include "runner/config.h"
#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (memmem(data, size, "file:", 5)) return 0;
    cb_suite *s = NULL;
    cb_err err;
    cb_err_clear(&err);
    int rc = cb_suite_parse("fuzz.json", (const char *)data, size, &s, &err);
    if (rc) {
        if (s || !strstr(err.msg, "fuzz.json")) abort();
        return 0;
    }
    char *json = cb_suite_to_json(s);
    if (!json) abort();
    cJSON *back = cJSON_Parse(json);
    if (!cJSON_IsObject(back)) abort();
    cJSON_Delete(back);
    free(json);
    char hex[65];
    cb_suite_hash(s, hex);
    if (strlen(hex) != 64) abort();
    for (int i = 0; i < s->n_tasks; i++) {
        cb_task_spec *spec = NULL;
        /* the config validated this entry through the same registry call */
        if (cb_suite_task_spec(s, i, 2, &spec, &err)) abort();
        cb_task_spec_free(spec);
    }
    cb_suite_free(s);
    return 0;
}
