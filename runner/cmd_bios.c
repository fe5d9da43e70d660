/* runner/cmd_bios.c — `capbench export-bios`: writes a bioS training corpus
 * and its probe sets (TASKS.md 5.2) for users who train models on synthetic
 * biographies and then measure their knowledge bits with the
 * knowledge-capacity family. The generator is tasks/bios.c; this file only
 * writes files. Same arguments -> the same bytes (no timestamps anywhere).
 *
 * Output directory layout:
 *   train.txt       N x E renderings in a shuffled order, each followed by the
 *                   EOS marker and a newline ("<text><|endoftext|>\n")
 *   probe.jsonl     one line per person: the evaluation rendering the bits
 *                   probe scores, with the character spans of every fact
 *   persons.jsonl   one line per person: index and every attribute value
 *   qa_train.jsonl  QA pairs of the first half of the persons (fine-tuning)
 *   qa_test.jsonl   QA pairs of the second half (knowledge extraction test)
 *   fields/         the seven field lists used (tasks/bios.h format)
 *   manifest.json   the arguments, value-space sizes, log2 N0 / S0, and the
 *                   suite task entry that probes a model trained on train.txt
 */
#include "runner/commands.h"

#include "common/rng.h"
#include "tasks/bios.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: capbench export-bios --n N --seed S -o DIR [--exposures E] [--mode bioS|bioS_simple]\n"
            "                            [--fields DIR] [--eos TEXT]\n"
            "\n"
            "Writes a synthetic-biography (bioS) training corpus and its probe sets into DIR:\n"
            "train.txt (N persons x E exposures, shuffled, each rendering followed by the EOS\n"
            "marker), probe.jsonl, persons.jsonl, qa_train.jsonl, qa_test.jsonl, fields/ and\n"
            "manifest.json (with the knowledge-capacity task entry that probes the trained model).\n"
            "\n"
            "  --n N          persons (2 .. 100000000)\n"
            "  --seed S       generator seed (the probe's task seed)\n"
            "  -o DIR         output directory (created; existing files are overwritten)\n"
            "  --exposures E  renderings per person in train.txt (default 100; bioS_simple repeats one)\n"
            "  --mode M       bioS (templates and sentence order drawn per exposure, default) or bioS_simple\n"
            "  --fields DIR   field lists to use (default: the built-in lists)\n"
            "  --eos TEXT     separator after each rendering (default <|endoftext|>)\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!s || !*s || *s == '-') return -1;
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno || *e || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* JSON line with the person's attribute values. */
static cJSON *person_json(const cb_bios_fields *f, const cb_bios_person *p, int64_t j) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "index", (double)j)) goto fail;
    for (int a = 0; a < CB_BATTR_N; a++) {
        char v[512];
        cb_bios_value(f, p, a, v, sizeof v);
        if (!cJSON_AddStringToObject(o, cb_bios_attr_name(a), v)) goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

static int put_line(FILE *fp, cJSON *o) {
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return -1;
    int rc = fprintf(fp, "%s\n", s) < 0 ? -1 : 0;
    free(s);
    return rc;
}

static FILE *open_out(const char *dir, const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    return fopen(path, "wb");
}

int cb_cmd_export_bios(int argc, char **argv) {
    uint64_t n = 0, seed = 0, exposures = 100;
    int have_n = 0, have_seed = 0;
    const char *dir = NULL, *fields_dir = NULL, *eos = "<|endoftext|>";
    cb_bios_mode mode = CB_BIOS_MODE_BIOS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        int takes = strcmp(a, "--n") == 0 || strcmp(a, "--seed") == 0 || strcmp(a, "-o") == 0 ||
                    strcmp(a, "--exposures") == 0 || strcmp(a, "--mode") == 0 || strcmp(a, "--fields") == 0 ||
                    strcmp(a, "--eos") == 0;
        if (!takes) {
            fprintf(stderr, "capbench export-bios: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "capbench export-bios: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--n") == 0) {
            if (parse_u64(v, 2, 100000000, &n)) {
                fprintf(stderr, "capbench export-bios: --n: expected an integer from 2 to 100000000, got '%s'\n", v);
                return 2;
            }
            have_n = 1;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(v, 0, UINT64_MAX, &seed)) {
                fprintf(stderr, "capbench export-bios: --seed: expected a non-negative 64-bit integer, got '%s'\n", v);
                return 2;
            }
            have_seed = 1;
        } else if (strcmp(a, "--exposures") == 0) {
            if (parse_u64(v, 1, 100000, &exposures)) {
                fprintf(stderr, "capbench export-bios: --exposures: expected an integer from 1 to 100000, got '%s'\n",
                        v);
                return 2;
            }
        } else if (strcmp(a, "--mode") == 0) {
            if (strcmp(v, "bioS") == 0) mode = CB_BIOS_MODE_BIOS;
            else if (strcmp(v, "bioS_simple") == 0) mode = CB_BIOS_MODE_SIMPLE;
            else {
                fprintf(stderr, "capbench export-bios: --mode: expected bioS or bioS_simple, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "-o") == 0) {
            dir = v;
        } else if (strcmp(a, "--fields") == 0) {
            fields_dir = v;
        } else {
            eos = v;
        }
    }
    if (!have_n || !have_seed || !dir) {
        fprintf(stderr, "capbench export-bios: --n, --seed and -o are required\n");
        usage(stderr);
        return 2;
    }

    int rc = 0;
    cb_err err;
    cb_err_clear(&err);
    cb_bios_fields *f = NULL;
    FILE *fp = NULL, *fq[2] = {NULL, NULL};
    char path[4096], fdir[4096];
    cJSON *man = NULL;
    if (fields_dir ? cb_bios_fields_load(fields_dir, &f, &err) : cb_bios_fields_builtin(&f, &err)) goto fail;
    snprintf(fdir, sizeof fdir, "%s/fields", dir);
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(fdir, 0755) != 0 && errno != EEXIST)) {
        cb_err_set(&err, CB_EIO, "%s: cannot create (%s)", fdir, strerror(errno));
        goto fail;
    }
    if (cb_bios_fields_write(f, fdir, &err)) goto fail;
    uint64_t M = cb_bios_list_size(f, CB_BIOS_FIRST) * cb_bios_list_size(f, CB_BIOS_MIDDLE) *
                 cb_bios_list_size(f, CB_BIOS_LAST);
    if (n > M) {
        cb_err_set(&err, CB_EUSAGE, "--n %" PRIu64 " is more than the %" PRIu64 " distinct names of the field lists",
                   n, M);
        goto fail;
    }

    /* persons, probe and QA sets */
    FILE *fpp = open_out(dir, "persons.jsonl", path, sizeof path);
    FILE *fpr = fpp ? open_out(dir, "probe.jsonl", path, sizeof path) : NULL;
    fq[0] = fpr ? open_out(dir, "qa_train.jsonl", path, sizeof path) : NULL;
    fq[1] = fq[0] ? open_out(dir, "qa_test.jsonl", path, sizeof path) : NULL;
    if (!fq[1]) {
        cb_err_set(&err, CB_EIO, "%s: cannot create (%s)", path, strerror(errno));
        if (fpp) fclose(fpp);
        if (fpr) fclose(fpr);
        if (fq[0]) fclose(fq[0]);
        fq[0] = NULL;
        goto fail;
    }
    int bad = 0;
    for (uint64_t j = 0; j < n && !bad; j++) {
        cb_bios_person p;
        cb_bios_person_get(f, seed, (int64_t)j, &p);
        bad |= put_line(fpp, person_json(f, &p, (int64_t)j));
        cb_bios_render r;
        if (cb_bios_render_person(f, &p, mode, CB_BIOS_EVAL, &r, &err)) {
            bad = 2;
            break;
        }
        cJSON *o = cJSON_CreateObject(), *sp = o ? cJSON_AddObjectToObject(o, "spans") : NULL;
        if (sp && cJSON_AddNumberToObject(o, "index", (double)j) && cJSON_AddStringToObject(o, "text", r.text)) {
            for (int a = 0; a < CB_BATTR_N; a++) {
                if (r.span[a][0] < 0) continue;
                cJSON *pair = cJSON_CreateArray();
                cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)r.span[a][0]));
                cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)r.span[a][1]));
                cJSON_AddItemToObject(sp, cb_bios_attr_name(a), pair);
            }
        }
        cb_bios_render_clear(&r);
        bad |= put_line(fpr, o);
        char name[512], q[1024], v[512];
        cb_bios_value(f, &p, CB_BATTR_NAME, name, sizeof name);
        for (int k = 0; k < 6 && !bad; k++) {
            int a = cb_bios_qa_attrs[k];
            cb_bios_value(f, &p, a, v, sizeof v);
            snprintf(q, sizeof q, "Question: What is the %s of %s?\nAnswer:", cb_bios_attr_phrase(a), name);
            cJSON *x = cJSON_CreateObject();
            if (x) {
                cJSON_AddNumberToObject(x, "person", (double)j);
                cJSON_AddStringToObject(x, "attribute", cb_bios_attr_name(a));
                cJSON_AddStringToObject(x, "prompt", q);
                cJSON_AddStringToObject(x, "answer", v);
            }
            bad |= put_line(fq[j >= n / 2], x);
        }
    }
    bad |= (fclose(fpp) != 0) | (fclose(fpr) != 0) | (fclose(fq[0]) != 0) | (fclose(fq[1]) != 0);
    fq[0] = fq[1] = NULL;
    if (bad == 2) goto fail;
    if (bad) {
        cb_err_set(&err, CB_EIO, "%s: write error", dir);
        goto fail;
    }

    /* training corpus: (person, exposure) pairs in a keyed permutation order */
    if (!(fp = open_out(dir, "train.txt", path, sizeof path))) {
        cb_err_set(&err, CB_EIO, "%s: cannot create (%s)", path, strerror(errno));
        goto fail;
    }
    uint64_t total = n * exposures;
    uint64_t key = cb_splitmix64(seed ^ cb_fnv1a64_str("export-bios/shuffle"));
    for (uint64_t k = 0; k < total; k++) {
        uint64_t x = cb_bios_permute(k, total, key);
        cb_bios_person p;
        cb_bios_person_get(f, seed, (int64_t)(x / exposures), &p);
        cb_bios_render r;
        if (cb_bios_render_person(f, &p, mode, x % exposures, &r, &err)) goto fail;
        int w = fprintf(fp, "%s%s\n", r.text, eos);
        cb_bios_render_clear(&r);
        if (w < 0) {
            cb_err_set(&err, CB_EIO, "%s: write error", path);
            goto fail;
        }
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        cb_err_set(&err, CB_EIO, "%s: write error", path);
        goto fail;
    }
    fp = NULL;

    /* manifest */
    man = cJSON_CreateObject();
    cJSON *sizes = cJSON_AddObjectToObject(man, "list_sizes"), *task = cJSON_AddObjectToObject(man, "probe_task");
    cJSON_AddNumberToObject(man, "persons", (double)n);
    char seedtxt[24];
    snprintf(seedtxt, sizeof seedtxt, "%" PRIu64, seed);
    cJSON_AddStringToObject(man, "seed", seedtxt); /* a string: u64 exact */
    cJSON_AddNumberToObject(man, "exposures", (double)exposures);
    cJSON_AddStringToObject(man, "mode", mode == CB_BIOS_MODE_BIOS ? "bioS" : "bioS_simple");
    cJSON_AddStringToObject(man, "eos", eos);
    cJSON_AddStringToObject(man, "fields", fields_dir ? fields_dir : "builtin");
    for (int k = 0; k < CB_BIOS_NLISTS; k++) {
        static const char *const nm[] = {"first_name", "middle_name", "last_name", "city", "university", "major",
                                          "company"};
        cJSON_AddNumberToObject(sizes, nm[k], (double)cb_bios_list_size(f, k));
    }
    cJSON_AddNumberToObject(man, "log2_n0", cb_bios_log2_n0(f));
    cJSON_AddNumberToObject(man, "log2_s0", cb_bios_log2_s0(f));
    cJSON_AddStringToObject(task, "family", "knowledge-capacity");
    cJSON *subs = cJSON_AddArrayToObject(task, "subtasks");
    cJSON_AddItemToArray(subs, cJSON_CreateString("bits"));
    cJSON_AddNumberToObject(task, "n", (double)n);
    cJSON *params = cJSON_AddObjectToObject(task, "params");
    cJSON_AddNumberToObject(params, "persons", (double)n);
    cJSON_AddStringToObject(params, "mode", mode == CB_BIOS_MODE_BIOS ? "bioS" : "bioS_simple");
    cJSON_AddStringToObject(params, "fields", fdir);
    cJSON_AddStringToObject(task, "note", "run with the suite seed equal to \"seed\" above");
    char *txt = cJSON_Print(man);
    if (!txt || !(fp = open_out(dir, "manifest.json", path, sizeof path)) || fprintf(fp, "%s\n", txt) < 0) {
        free(txt);
        cb_err_set(&err, CB_EIO, "%s: cannot write", path);
        goto fail;
    }
    free(txt);
    if (fclose(fp) != 0) {
        fp = NULL;
        cb_err_set(&err, CB_EIO, "%s: write error", path);
        goto fail;
    }
    fp = NULL;
    fprintf(stderr, "capbench export-bios: %" PRIu64 " persons x %" PRIu64 " exposures -> %s\n", n, exposures, dir);
    goto out;
fail:
    fprintf(stderr, "capbench export-bios: %s\n", err.msg);
    rc = cb_err_exit_code(&err);
    if (rc == 0) rc = 1;
out:
    if (fp) fclose(fp);
    cJSON_Delete(man);
    cb_bios_fields_free(f);
    return rc;
}
