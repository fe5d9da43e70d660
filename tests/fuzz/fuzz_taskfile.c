/* tests/fuzz/fuzz_taskfile.c — libFuzzer target for the task inputs a user
 * or a model controls: counting word files (tasks/words.c) and JSONL item
 * records with responses as read by `capbench grade` (cb_item_from_json, then
 * grading with arbitrary response text and candidate log-probs).
 *
 * The first input byte picks the mode: even -> word list, odd -> item JSON.
 * For item JSON, the bytes after the first NUL (if any) are the response text.
 */
#include "tasks/task.h"
#include "tasks/words.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_words(const uint8_t *data, size_t size) {
    cb_wordlist *w = NULL;
    cb_err e;
    if (cb_wordlist_parse((const char *)data, size, "fuzz", &w, &e) == 0) {
        size_t n = cb_wordlist_size(w);
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(cb_wordlist_word(w, i));
            if (l < CB_WORD_MIN || l > CB_WORD_MAX) abort();
            if (i && strcmp(cb_wordlist_word(w, i - 1), cb_wordlist_word(w, i)) >= 0) abort();
        }
    }
    cb_wordlist_free(w);
}

static void fuzz_item(const uint8_t *data, size_t size) {
    static cb_grader_ctx *g;
    cb_err e;
    if (!g && cb_grader_ctx_new(&g, &e)) abort();
    const uint8_t *nul = memchr(data, 0, size);
    size_t jl = nul ? (size_t)(nul - data) : size;
    char *resp = NULL;
    if (nul) {
        size_t rl = size - jl - 1;
        resp = malloc(rl + 1);
        if (!resp) return;
        memcpy(resp, nul + 1, rl);
        resp[rl] = '\0';
    }
    cJSON *j = cJSON_ParseWithLength((const char *)data, jl);
    cb_item *it = NULL;
    if (j && cb_item_from_json(j, "fuzz", &it, &e) == 0) {
        cb_task_resp *r = calloc((size_t)it->n_reqs + 1, sizeof *r);
        if (r) {
            for (int i = 0; i < it->n_reqs; i++) {
                r[i].ok = resp != NULL || (i & 1);
                r[i].text = resp;
                r[i].logprob_sum = -(double)(i * 7 % 11);
                r[i].n_tokens = i % 3;
            }
            cb_grade gr;
            if (cb_item_grade(g, it, r, it->n_reqs, &gr, &e) == 0) {
                if (!(gr.score >= 0 && gr.score <= 1)) abort();
                cJSON *gj = cb_grade_to_json(&gr);
                cJSON_Delete(gj);
            }
            free(r);
        }
        char *line = cb_item_to_jsonl(it);
        free(line);
    }
    cb_item_free(it);
    cJSON_Delete(j);
    free(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1) fuzz_item(data + 1, size - 1);
    else fuzz_words(data + 1, size - 1);
    return 0;
}
