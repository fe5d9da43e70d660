/* tasks/knowledge_capacity.c — task family `knowledge-capacity` (TASKS.md
 * sections 5 and 7): how much factual knowledge a model holds, in bits, from
 * its own log-probabilities over synthetic bioS biographies, plus
 * bits-per-character on raw text.
 *
 * Subtasks (one setting, "default"):
 *   bits  item j = person j of the population (tasks/bios.h). Requests: one
 *         LOGLIK of the person's evaluation rendering after an empty raw
 *         context (the separator: the BOS token; TASKS.md 7 step 3), then six
 *         GENERATE completions (greedy, 24 tokens, raw prompts): the rendering
 *         up to each value of K, ending before the space that precedes it
 *         (5.3). Score: the fraction of the six completions that start with
 *         the exact value (the discontinuous companion); metrics: loss_name,
 *         loss_value (nats), bits_name, bits_<attribute> for K, bits_value,
 *         bits_total (per person; the report sums them and multiplies by
 *         persons / probed), acc_<attribute>.
 *   qa    item i asks about person persons/2 + i/6 (the test half, Part 3.1
 *         style), attribute i % 6 (birth date, birth city, university, major,
 *         employer, working city): "Question: What is the {phrase} of
 *         {name}?\nAnswer:", greedy, 32 tokens, stop at a newline; exact match
 *         of normalize_span forms; optional gold log-prob of " {value}".
 *   bpc   item i = document i of the corpus (a file; the built-in
 *         tasks/data/bpc_sample.txt by default). One ROLLING request with the
 *         chosen windowing; metrics ce_nats, n_tokens, n_chars, n_bytes, bpc,
 *         bits_per_byte, ppl; score = exp(-ce / n_tokens) (the geometric-mean
 *         token probability). The report pools items: BPC = sum CE / (ln 2 *
 *         sum chars).
 *
 * Params (all optional):
 *   "persons": 1000        population size N (bits: j < N; qa: N/2 + i/6 < N)
 *   "mode": "bioS"         rendering mode the model was trained with
 *                          ("bioS" | "bioS_simple"; 7 step 1)
 *   "fields": "builtin"    or a directory holding the seven field files
 *   "bpc_files": [..]      corpus files (paths relative to the cwd);
 *                          default: the built-in sample
 *   "bpc_windowing": "blocks" (5.6) | "llamacpp" (llama-perplexity chunks)
 *   "bpc_block": 1900, "bpc_stride": 512   (llamacpp: block = n_ctx, stride unused)
 */
#include "tasks/task.h"

#include "common/rng.h"
#include "graders/editdist.h"
#include "graders/extract.h"
#include "graders/kbits.h"
#include "graders/match.h"
#include "tasks/bios.h"
#include "tasks/data.h"
#include "tasks/textbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_BITS, ST_QA, ST_BPC };

static const char *const subtasks[] = {"bits", "qa", "bpc", NULL};
static const char *const subtask_caps[] = {"knowledge_storage", "knowledge_extraction", "compression", NULL};
static const char *const settings[] = {"default", NULL};

#define FAMILY "knowledge-capacity"
#define FAMILY_CAP "knowledge_capacity"
#define N_COMPLETE 6
#define LN2 0.69314718055994530942


/* The six K attributes in completion order (5.3). */
static const int k_attrs[N_COMPLETE] = {CB_BATTR_BIRTH_DATE, CB_BATTR_BIRTH_CITY, CB_BATTR_UNIVERSITY,
                                        CB_BATTR_MAJOR,      CB_BATTR_EMPLOYER,   CB_BATTR_GENDER};
static const char *const bits_names[CB_BATTR_N] = {"bits_name", "bits_birth_date", "bits_birth_city",
                                                   "bits_university", "bits_major", "bits_employer", "bits_gender",
                                                   "bits_work_city"};
static const char *const acc_names[CB_BATTR_N] = {"acc_name", "acc_birth_date", "acc_birth_city", "acc_university",
                                                  "acc_major", "acc_employer", "acc_gender", "acc_work_city"};

typedef struct doc {
    char *name;
    char *text;
    size_t len;
} doc;

typedef struct kc_state {
    int64_t persons;
    cb_bios_mode mode;
    char *fields_param;
    cb_bios_fields *fields;
    int bpc_llamacpp;
    int block, stride;
    doc *docs;
    int n_docs;
    cJSON *bpc_files; /* as given (canonical params), or NULL */
} kc_state;

static void state_free(void *p) {
    kc_state *st = p;
    if (!st) return;
    cb_bios_fields_free(st->fields);
    free(st->fields_param);
    for (int i = 0; i < st->n_docs; i++) {
        free(st->docs[i].name);
        free(st->docs[i].text);
    }
    free(st->docs);
    cJSON_Delete(st->bpc_files);
    free(st);
}

/* Reads a corpus file; strips one trailing newline (documents are its lines
 * joined by "\n", TASKS.md 5.6; llama-perplexity -f strips one too). */
static int read_doc(const char *path, doc *d, cb_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return cb_err_set(err, CB_EIO, "%s: cannot open (%s)", path, strerror(errno));
    cb_textbuf b;
    cb_textbuf_init(&b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) cb_textbuf_add(&b, chunk, got);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || cb_textbuf_failed(&b)) {
        cb_textbuf_free(&b);
        return cb_err_set(err, bad ? CB_EIO : CB_ENOMEM, "%s: %s", path, bad ? "read error" : "out of memory");
    }
    if (b.n > 0 && b.s[b.n - 1] == '\n') b.s[--b.n] = '\0';
    if (b.n == 0 || memchr(b.s, '\0', b.n)) {
        cb_textbuf_free(&b);
        return cb_err_set(err, CB_EFORMAT, "%s: %s", path, b.n == 0 ? "empty file (expected text)" : "contains a NUL byte (expected UTF-8 text)");
    }
    d->text = b.s;
    d->len = b.n;
    d->name = strdup(path);
    return d->name ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

static int int_param(const cJSON *it, const char *path, int64_t lo, int64_t hi, int64_t *out, cb_err *err) {
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < (double)lo ||
        it->valuedouble > (double)hi)
        return cb_err_set(err, CB_EUSAGE, "%s.%s: expected an integer from %" PRId64 " to %" PRId64, path, it->string,
                          lo, hi);
    *out = (int64_t)it->valuedouble;
    return 0;
}

static int state_parse(const cJSON *params, const char *path, void **out, cb_err *err) {
    *out = NULL;
    kc_state *st = calloc(1, sizeof *st);
    if (!st) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    int rc = 0;
    st->persons = 1000;
    st->mode = CB_BIOS_MODE_BIOS;
    st->block = 1900;
    st->stride = 512;
    const char *fields = "builtin";
    const cJSON *it;
    int64_t v;
    cJSON_ArrayForEach(it, params) {
        const char *k = it->string;
        if (strcmp(k, "persons") == 0) {
            if ((rc = int_param(it, path, 2, INT64_C(1000000000), &v, err))) goto out;
            st->persons = v;
        } else if (strcmp(k, "mode") == 0) {
            if (!cJSON_IsString(it) || (strcmp(it->valuestring, "bioS") && strcmp(it->valuestring, "bioS_simple"))) {
                rc = cb_err_set(err, CB_EUSAGE, "%s.mode: expected \"bioS\" or \"bioS_simple\"", path);
                goto out;
            }
            st->mode = strcmp(it->valuestring, "bioS") == 0 ? CB_BIOS_MODE_BIOS : CB_BIOS_MODE_SIMPLE;
        } else if (strcmp(k, "fields") == 0) {
            if (!cJSON_IsString(it) || !it->valuestring[0]) {
                rc = cb_err_set(err, CB_EUSAGE, "%s.fields: expected \"builtin\" or a directory path", path);
                goto out;
            }
            fields = it->valuestring;
        } else if (strcmp(k, "bpc_files") == 0) {
            const cJSON *f;
            int n = cJSON_GetArraySize(it);
            if (!cJSON_IsArray(it) || n < 1) {
                rc = cb_err_set(err, CB_EUSAGE, "%s.bpc_files: expected a non-empty array of file paths", path);
                goto out;
            }
            cJSON_ArrayForEach(f, it) if (!cJSON_IsString(f)) {
                rc = cb_err_set(err, CB_EUSAGE, "%s.bpc_files: expected file path strings", path);
                goto out;
            }
            if (!(st->bpc_files = cJSON_Duplicate(it, 1))) goto oom;
        } else if (strcmp(k, "bpc_windowing") == 0) {
            if (!cJSON_IsString(it) || (strcmp(it->valuestring, "blocks") && strcmp(it->valuestring, "llamacpp"))) {
                rc = cb_err_set(err, CB_EUSAGE, "%s.bpc_windowing: expected \"blocks\" or \"llamacpp\"", path);
                goto out;
            }
            st->bpc_llamacpp = strcmp(it->valuestring, "llamacpp") == 0;
        } else if (strcmp(k, "bpc_block") == 0 || strcmp(k, "bpc_stride") == 0) {
            if ((rc = int_param(it, path, 1, 1 << 20, &v, err))) goto out;
            *(k[4] == 'b' ? &st->block : &st->stride) = (int)v;
        } else {
            rc = cb_err_set(err, CB_EUSAGE,
                            "%s.%s: unknown key (expected persons, mode, fields, bpc_files, bpc_windowing, bpc_block, "
                            "bpc_stride)",
                            path, k);
            goto out;
        }
    }
    if (!st->bpc_llamacpp && st->stride > st->block) {
        rc = cb_err_set(err, CB_EUSAGE, "%s.bpc_stride: %d is larger than bpc_block %d", path, st->stride, st->block);
        goto out;
    }
    if (!(st->fields_param = strdup(fields))) goto oom;
    if (strcmp(fields, "builtin") == 0) rc = cb_bios_fields_builtin(&st->fields, err);
    else rc = cb_bios_fields_load(fields, &st->fields, err);
    if (rc) {
        cb_err_prefix(err, "%s.fields: ", path);
        goto out;
    }
    if (st->bpc_files) {
        int n = cJSON_GetArraySize(st->bpc_files);
        if (!(st->docs = calloc((size_t)n, sizeof *st->docs))) goto oom;
        const cJSON *f;
        cJSON_ArrayForEach(f, st->bpc_files) {
            if ((rc = read_doc(f->valuestring, &st->docs[st->n_docs], err))) {
                cb_err_prefix(err, "%s.bpc_files: ", path);
                goto out;
            }
            st->n_docs++;
        }
    } else {
        if (!(st->docs = calloc(1, sizeof *st->docs))) goto oom;
        size_t n = 0;
        const char *sample = cb_data_file("bpc_sample.txt", &n);
        if (!sample) {
            rc = cb_err_set(err, CB_ERUNTIME, "%s: tasks/data/bpc_sample.txt was not compiled in", path);
            goto out;
        }
        if (n > 0 && sample[n - 1] == '\n') n--;
        st->docs[0].name = strdup("builtin:bpc_sample.txt");
        st->docs[0].text = malloc(n + 1);
        st->n_docs = 1;
        if (!st->docs[0].name || !st->docs[0].text) goto oom;
        memcpy(st->docs[0].text, sample, n);
        st->docs[0].text[n] = '\0';
        st->docs[0].len = n;
    }
    *out = st;
    st = NULL;
out:
    state_free(st);
    return rc;
oom:
    rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    goto out;
}

static cJSON *state_to_json(const void *p) {
    const kc_state *st = p;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (!cJSON_AddNumberToObject(o, "persons", (double)st->persons) ||
        !cJSON_AddStringToObject(o, "mode", st->mode == CB_BIOS_MODE_BIOS ? "bioS" : "bioS_simple") ||
        !cJSON_AddStringToObject(o, "fields", st->fields_param) ||
        !cJSON_AddStringToObject(o, "bpc_windowing", st->bpc_llamacpp ? "llamacpp" : "blocks") ||
        !cJSON_AddNumberToObject(o, "bpc_block", st->block) || !cJSON_AddNumberToObject(o, "bpc_stride", st->stride))
        goto fail;
    cJSON *files = st->bpc_files ? cJSON_Duplicate(st->bpc_files, 1) : cJSON_CreateString("builtin");
    if (!files || !cJSON_AddItemToObject(o, "bpc_files", files)) {
        cJSON_Delete(files);
        goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* ---- meta helpers ---- */

static int add_span(cJSON *o, const char *key, const int64_t sp[2]) {
    if (sp[0] < 0) return 1;
    cJSON *a = cJSON_CreateArray();
    if (!a || !cJSON_AddItemToObject(o, key, a)) {
        cJSON_Delete(a);
        return 0;
    }
    return cJSON_AddItemToArray(a, cJSON_CreateNumber((double)sp[0])) &&
           cJSON_AddItemToArray(a, cJSON_CreateNumber((double)sp[1]));
}

/* Span `key` of meta.spans checked against the text length; 0 when absent. */
static int get_span(const cJSON *spans, const char *key, size_t len, int64_t sp[2]) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(spans, key);
    sp[0] = sp[1] = -1;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 2) return 0;
    const cJSON *x = cJSON_GetArrayItem(a, 0), *y = cJSON_GetArrayItem(a, 1);
    if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y)) return 0;
    double s = x->valuedouble, e = y->valuedouble;
    if (!(s >= 0 && e > s && e <= (double)len) || s != floor(s) || e != floor(e)) return 0;
    sp[0] = (int64_t)s;
    sp[1] = (int64_t)e;
    return 1;
}

static const char *meta_str(const cJSON *m, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double meta_num(const cJSON *m, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* ---- requests ---- */

static int build_requests(cb_item *it, cb_err *err) {
    int sub = cb_task_family_subtask(it->family, it->subtask);
    const char *text = meta_str(it->meta, "text");
    if (!text || !text[0]) return cb_err_set(err, CB_EFORMAT, "field \"meta.text\": expected a non-empty string");
    size_t len = strlen(text);
    if (sub == ST_BITS) {
        const cJSON *spans = cJSON_GetObjectItemCaseSensitive(it->meta, "spans");
        cb_treq *q = cb_item_alloc(it, (1 + N_COMPLETE) * sizeof *q);
        if (!q) return cb_err_set(err, CB_ENOMEM, "out of memory");
        q[0].kind = CB_TREQ_LOGLIK;
        q[0].prompt = "";
        q[0].continuation = text;
        q[0].want_tokens = 1;
        for (int k = 0; k < N_COMPLETE; k++) {
            int64_t sp[2];
            const char *key = cb_bios_attr_name(k_attrs[k]);
            if (!get_span(spans, key, len, sp) || sp[0] < 1)
                return cb_err_set(err, CB_EFORMAT, "field \"meta.spans.%s\": expected [start, end] inside meta.text",
                                  key);
            int64_t end = sp[0];
            if (text[end - 1] == ' ') end--; /* stop before the space that precedes the value */
            cb_treq *g = &q[1 + k];
            g->kind = CB_TREQ_GENERATE;
            if (!(g->prompt = cb_item_strdup(it, text, end))) return cb_err_set(err, CB_ENOMEM, "out of memory");
            g->max_tokens = 24;
            g->seed = it->seed;
        }
        cb_item_set_reqs(it, q, 1 + N_COMPLETE);
    } else if (sub == ST_QA) {
        if (!it->gold || !it->gold[0]) return cb_err_set(err, CB_EFORMAT, "field \"gold\": expected the value");
        cb_treq *q = cb_item_alloc(it, 2 * sizeof *q);
        const char **stop = cb_item_alloc(it, sizeof *stop);
        char *cont = q ? cb_item_alloc(it, strlen(it->gold) + 2) : NULL;
        if (!q || !stop || !cont) return cb_err_set(err, CB_ENOMEM, "out of memory");
        stop[0] = "\n";
        q[0].kind = CB_TREQ_GENERATE;
        q[0].prompt = text;
        q[0].max_tokens = 32;
        q[0].stop = stop;
        q[0].n_stop = 1;
        q[0].seed = it->seed;
        cont[0] = ' ';
        memcpy(cont + 1, it->gold, strlen(it->gold) + 1);
        q[1].kind = CB_TREQ_LOGLIK;
        q[1].optional = 1;
        q[1].prompt = text;
        q[1].continuation = cont;
        cb_item_set_reqs(it, q, 2);
    } else {
        const char *w = meta_str(it->meta, "windowing");
        double block = meta_num(it->meta, "block"), stride = meta_num(it->meta, "stride");
        if (!w || (strcmp(w, "blocks") && strcmp(w, "llamacpp")) || !(block >= 1) || !(stride >= 1))
            return cb_err_set(err, CB_EFORMAT,
                              "field \"meta.windowing\"/\"meta.block\"/\"meta.stride\": expected blocks|llamacpp and "
                              "positive integers");
        cb_treq *q = cb_item_alloc(it, sizeof *q);
        if (!q) return cb_err_set(err, CB_ENOMEM, "out of memory");
        q->kind = CB_TREQ_ROLLING;
        q->prompt = text;
        q->rolling_mode = strcmp(w, "llamacpp") == 0 ? CB_TROLL_PERPLEXITY : CB_TROLL_BLOCKS;
        q->window = (int)block;
        q->stride = (int)stride;
        cb_item_set_reqs(it, q, 1);
    }
    return 0;
}

/* ---- generation ---- */

static int gen_bits(const kc_state *st, uint64_t seed, cb_item *it, cb_err *err) {
    if (it->index >= st->persons)
        return cb_err_set(err, CB_EUSAGE, "%s: person %" PRId64 " is outside the population of %" PRId64
                          " (params.persons)", it->id, it->index, st->persons);
    cb_bios_person p;
    cb_bios_person_get(st->fields, seed, it->index, &p);
    cb_bios_render r;
    int rc = cb_bios_render_person(st->fields, &p, st->mode, CB_BIOS_EVAL, &r, err);
    if (rc) return rc;
    cJSON *m = cJSON_CreateObject(), *spans = NULL, *vals = NULL;
    it->meta = m;
    it->grader = CB_GRADER_LOGPROB;
    char name[256];
    cb_bios_value(st->fields, &p, CB_BATTR_NAME, name, sizeof name);
    if (!m || !cJSON_AddStringToObject(m, "text", r.text) || !cJSON_AddNumberToObject(m, "person", (double)it->index) ||
        !cJSON_AddNumberToObject(m, "persons", (double)st->persons) ||
        !cJSON_AddStringToObject(m, "mode", st->mode == CB_BIOS_MODE_BIOS ? "bioS" : "bioS_simple") ||
        !cJSON_AddNumberToObject(m, "log2_n0", cb_bios_log2_n0(st->fields)) ||
        !cJSON_AddNumberToObject(m, "log2_s0", cb_bios_log2_s0(st->fields)) ||
        !(spans = cJSON_AddObjectToObject(m, "spans")) || !(vals = cJSON_AddObjectToObject(m, "log2_v")))
        goto oom;
    for (int a = 0; a < CB_BATTR_N; a++) {
        if (!add_span(spans, cb_bios_attr_name(a), r.span[a])) goto oom;
        if (a != CB_BATTR_NAME && a != CB_BATTR_WORK_CITY &&
            !cJSON_AddNumberToObject(vals, cb_bios_attr_name(a), cb_bios_log2_attr(st->fields, a)))
            goto oom;
    }
    if (!add_span(spans, "birth_date_2", r.date2)) goto oom;
    cb_turn t = {CB_TURN_USER, r.text};
    if (cb_item_set_turns(it, &t, 1) || cb_item_set_gold_str(it, name)) goto oom;
    cb_bios_render_clear(&r);
    return build_requests(it, err);
oom:
    cb_bios_render_clear(&r);
    return cb_err_set(err, CB_ENOMEM, "%s: out of memory", it->id);
}

static int gen_qa(const kc_state *st, uint64_t seed, cb_item *it, cb_err *err) {
    int64_t j = st->persons / 2 + it->index / 6;
    if (j >= st->persons)
        return cb_err_set(err, CB_EUSAGE, "%s: question %" PRId64 " needs person %" PRId64
                          ", outside the test half of the %" PRId64 " persons (params.persons)",
                          it->id, it->index, j, st->persons);
    int attr = cb_bios_qa_attrs[it->index % 6];
    cb_bios_person p;
    cb_bios_person_get(st->fields, seed, j, &p);
    char name[256], val[256], q[640];
    cb_bios_value(st->fields, &p, CB_BATTR_NAME, name, sizeof name);
    cb_bios_value(st->fields, &p, attr, val, sizeof val);
    snprintf(q, sizeof q, "Question: What is the %s of %s?\nAnswer:", cb_bios_attr_phrase(attr), name);
    cb_turn t = {CB_TURN_USER, q};
    cJSON *m = cJSON_CreateObject();
    it->meta = m;
    if (!m || !cJSON_AddStringToObject(m, "text", q) || !cJSON_AddNumberToObject(m, "person", (double)j) ||
        !cJSON_AddStringToObject(m, "attribute", cb_bios_attr_name(attr)) || cb_item_set_turns(it, &t, 1) ||
        cb_item_set_gold_str(it, val))
        return cb_err_set(err, CB_ENOMEM, "%s: out of memory", it->id);
    return build_requests(it, err);
}

static int gen_bpc(const kc_state *st, cb_item *it, cb_err *err) {
    if (it->index >= st->n_docs)
        return cb_err_set(err, CB_EUSAGE, "%s: the corpus has %d document(s) (params.bpc_files); n must be at most %d",
                          it->id, st->n_docs, st->n_docs);
    const doc *d = &st->docs[it->index];
    cJSON *m = cJSON_CreateObject();
    it->meta = m;
    it->grader = CB_GRADER_LOGPROB;
    cb_turn t = {CB_TURN_USER, d->text};
    if (!m || !cJSON_AddStringToObject(m, "text", d->text) || !cJSON_AddStringToObject(m, "source", d->name) ||
        !cJSON_AddStringToObject(m, "windowing", st->bpc_llamacpp ? "llamacpp" : "blocks") ||
        !cJSON_AddNumberToObject(m, "block", st->block) || !cJSON_AddNumberToObject(m, "stride", st->stride) ||
        cb_item_set_turns(it, &t, 1) || cb_item_set_gold_str(it, ""))
        return cb_err_set(err, CB_ENOMEM, "%s: out of memory", it->id);
    return build_requests(it, err);
}

static int generate(const void *state, uint64_t task_seed, cb_item *it, cb_err *err) {
    const kc_state *st = state;
    int sub = cb_task_family_subtask(it->family, it->subtask);
    if (cb_item_set_capabilities(it, FAMILY_CAP, subtask_caps[sub]))
        return cb_err_set(err, CB_ENOMEM, "%s: out of memory", it->id);
    if (sub == ST_BITS) return gen_bits(st, task_seed, it, err);
    if (sub == ST_QA) return gen_qa(st, task_seed, it, err);
    return gen_bpc(st, it, err);
}

/* ---- grading ---- */

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    return s;
}

static int grade_bits(const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out, cb_err *err) {
    if (n_resps != 1 + N_COMPLETE)
        return cb_err_set(err, CB_EUSAGE, "%s: %d responses, need %d", it->id, n_resps, 1 + N_COMPLETE);
    const char *text = meta_str(it->meta, "text");
    size_t len = strlen(text);
    const cJSON *spans = cJSON_GetObjectItemCaseSensitive(it->meta, "spans");
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(it->meta, "log2_v");
    /* completions */
    int n_ok = 0, n_right = 0;
    for (int k = 0; k < N_COMPLETE; k++) {
        const cb_task_resp *r = &resps[1 + k];
        if (!r->ok) continue;
        int64_t sp[2];
        get_span(spans, cb_bios_attr_name(k_attrs[k]), len, sp);
        const char *c = skip_ws(r->text ? r->text : "");
        int right = sp[0] >= 0 && strncmp(c, text + sp[0], (size_t)(sp[1] - sp[0])) == 0;
        n_ok++;
        n_right += right;
        cb_grade_add_metric(out, acc_names[k_attrs[k]], right);
    }
    /* bits (TASKS.md 7) */
    const cb_task_resp *s = &resps[0];
    int measured = 0;
    if (s->ok && s->token_spans && s->token_logprobs && s->n_tokens > 0) {
        /* spans in text order: name, K values (the split date's second part
         * counts for the date), the working city (diagnostic only) */
        cb_kspan ks[CB_BATTR_N + 1];
        int owner[CB_BATTR_N + 1], n = 0;
        for (int a = 0; a < CB_BATTR_N; a++) {
            int64_t sp[2];
            if (get_span(spans, cb_bios_attr_name(a), len, sp)) {
                ks[n] = (cb_kspan){sp[0], sp[1]};
                owner[n++] = a;
            }
        }
        int64_t d2[2];
        if (get_span(spans, "birth_date_2", len, d2)) {
            ks[n] = (cb_kspan){d2[0], d2[1]};
            owner[n++] = CB_BATTR_BIRTH_DATE;
        }
        for (int i = 1; i < n; i++) /* insertion sort by start */
            for (int k = i; k > 0 && ks[k].start < ks[k - 1].start; k--) {
                cb_kspan t = ks[k];
                ks[k] = ks[k - 1];
                ks[k - 1] = t;
                int o = owner[k];
                owner[k] = owner[k - 1];
                owner[k - 1] = o;
            }
        double loss[CB_BATTR_N + 1];
        int ntok[CB_BATTR_N + 1];
        cb_kbits_span_losses(text, (int64_t)len, s->token_spans, s->token_logprobs, s->n_tokens, ks, n, loss, ntok);
        double L[CB_BATTR_N] = {0};
        int T[CB_BATTR_N] = {0};
        for (int i = 0; i < n; i++) {
            L[owner[i]] += loss[i];
            T[owner[i]] += ntok[i];
        }
        measured = T[CB_BATTR_NAME] > 0;
        for (int k = 0; k < N_COMPLETE; k++) measured &= T[k_attrs[k]] > 0;
        if (measured) {
            double log2_n0 = meta_num(it->meta, "log2_n0");
            double bits_value = 0, loss_value = 0;
            cb_grade_add_metric(out, "loss_name", L[CB_BATTR_NAME]);
            cb_grade_add_metric(out, bits_names[CB_BATTR_NAME], log2_n0 - L[CB_BATTR_NAME] / LN2);
            for (int k = 0; k < N_COMPLETE; k++) {
                int a = k_attrs[k];
                double b = meta_num(lv, cb_bios_attr_name(a)) - L[a] / LN2;
                cb_grade_add_metric(out, bits_names[a], b);
                bits_value += b;
                loss_value += L[a];
            }
            cb_grade_add_metric(out, "loss_value", loss_value);
            cb_grade_add_metric(out, "bits_value", bits_value);
            cb_grade_add_metric(out, "bits_total", log2_n0 - L[CB_BATTR_NAME] / LN2 + bits_value);
        }
    }
    if (n_ok == 0 && !s->ok) {
        out->unparsed = 1;
        out->flags |= CB_GRADE_NO_RESPONSE;
        cb_grade_set_reason(out, "no response");
        return 0;
    }
    out->score = n_ok ? (double)n_right / n_ok : 0;
    if (n_ok == 0) out->unparsed = 1;
    cb_grade_set_reason(out, "%d of %d completions exact; bits %s", n_right, n_ok,
                        measured ? "measured"
                        : !s->ok ? "not measured (no log-probs)"
                                 : "not measured (the backend gave no token offsets)");
    return 0;
}

static int grade_qa(cb_grader_ctx *g, const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out,
                    cb_err *err) {
    if (n_resps < 1) return cb_err_set(err, CB_EUSAGE, "%s: %d responses, need 1", it->id, n_resps);
    const cb_task_resp *r = &resps[0];
    if (r->ok && r->truncated) out->flags |= CB_GRADE_TRUNCATED;
    if (!r->ok) {
        out->unparsed = 1;
        out->flags |= CB_GRADE_NO_RESPONSE;
        cb_grade_set_reason(out, "no response");
    } else {
        /* the answer is the first line, trimmed */
        const char *a = skip_ws(r->text ? r->text : "");
        size_t n = strcspn(a, "\n");
        while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\r' || a[n - 1] == '\t')) n--;
        char ans[CB_GRADE_EXTRACTED_CAP];
        if (n >= sizeof ans) n = sizeof ans - 1;
        memcpy(ans, a, n);
        ans[n] = '\0';
        if (n == 0) {
            out->unparsed = 1;
            out->flags |= CB_GRADE_EMPTY;
            cb_grade_set_reason(out, "empty answer");
        } else {
            cb_grade_set_extracted(out, ans);
            out->score = cb_match_exact(ans, it->gold, CB_MATCH_NORMALIZE, CB_LANG_EN);
            cb_grade_set_reason(out, "%s: expected %s", out->score > 0 ? "correct" : "wrong", it->gold);
            cb_grade_add_metric(out, "token_f1", cb_token_f1(ans, it->gold, CB_LANG_EN));
        }
        cb_grader_add_edit_metrics(g, out, out->extracted, it->gold);
    }
    if (n_resps > 1 && resps[1].ok && isfinite(resps[1].logprob_sum)) {
        cb_grade_add_metric(out, "gold_logprob", resps[1].logprob_sum);
        if (resps[1].n_tokens > 0) cb_grade_add_metric(out, "gold_logprob_mean", resps[1].logprob_sum / resps[1].n_tokens);
        cb_grade_add_metric(out, "gold_prob", exp(resps[1].logprob_sum));
    }
    return 0;
}

/* Code points of s[a..b). */
static int64_t cps(const char *s, int64_t a, int64_t b) {
    int64_t n = 0;
    for (int64_t i = a; i < b; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static int grade_bpc(const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out, cb_err *err) {
    if (n_resps < 1) return cb_err_set(err, CB_EUSAGE, "%s: %d responses, need 1", it->id, n_resps);
    const cb_task_resp *r = &resps[0];
    if (!r->ok || r->n_tokens <= 0) {
        out->unparsed = 1;
        out->flags |= CB_GRADE_NO_RESPONSE;
        cb_grade_set_reason(out, "no log-probabilities (the backend cannot score text)");
        return 0;
    }
    const char *text = meta_str(it->meta, "text");
    int64_t len = (int64_t)strlen(text);
    int64_t chars = 0, bytes = 0;
    if (r->token_spans) {
        /* characters of the scored tokens, each byte counted once */
        int64_t done = 0;
        for (int t = 0; t < r->n_tokens; t++) {
            int64_t a = r->token_spans[2 * t], b = r->token_spans[2 * t + 1];
            if (a < done) a = done;
            if (b > len) b = len;
            if (b <= a) continue;
            chars += cps(text, a, b);
            bytes += b - a;
            done = b;
        }
    } else {
        chars = cps(text, 0, len); /* whole text: the first token is not excluded */
        bytes = len;
        cb_grade_set_reason(out, "no token offsets: every character counted");
    }
    double ce = -r->logprob_sum;
    cb_grade_add_metric(out, "ce_nats", ce);
    cb_grade_add_metric(out, "n_tokens", r->n_tokens);
    cb_grade_add_metric(out, "n_chars", (double)chars);
    cb_grade_add_metric(out, "n_bytes", (double)bytes);
    cb_grade_add_metric(out, "bpc", cb_kbits_bpc(ce, (double)chars));
    cb_grade_add_metric(out, "bits_per_byte", cb_kbits_bpc(ce, (double)bytes));
    cb_grade_add_metric(out, "ppl", exp(ce / r->n_tokens));
    out->score = exp(-ce / r->n_tokens);
    if (!out->reason[0])
        cb_grade_set_reason(out, "%d tokens, %" PRId64 " characters, BPC %.4f", r->n_tokens, chars,
                            cb_kbits_bpc(ce, (double)chars));
    return 0;
}

static int grade(cb_grader_ctx *g, const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out,
                 cb_err *err) {
    int sub = cb_task_family_subtask(it->family, it->subtask);
    if (sub == ST_BITS) return grade_bits(it, resps, n_resps, out, err);
    if (sub == ST_QA) return grade_qa(g, it, resps, n_resps, out, err);
    return grade_bpc(it, resps, n_resps, out, err);
}

const cb_task_family cb_family_knowledge_capacity = {
    .name = FAMILY,
    .summary = "knowledge in bits from log-probs of synthetic biographies (bioS), QA extraction, bits per character",
    .grader_version = "knowledge-capacity/1",
    .capability = FAMILY_CAP,
    .subtasks = subtasks,
    .subtask_capabilities = subtask_caps,
    .settings = settings,
    .default_setting = "default",
    .params_parse = state_parse,
    .params_free = state_free,
    .params_to_json = state_to_json,
    .generate = generate,
    .build_requests = build_requests,
    .grade = grade,
};
