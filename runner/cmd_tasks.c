/* runner/cmd_tasks.c — the task-registry commands: `capbench tasks` lists
 * families, subtasks, settings and capabilities; `capbench items` prints
 * generated items as JSONL; `capbench grade` grades JSONL items that carry a
 * model response. They use only tasks/ and graders/ — no model, no database —
 * so graders can be checked from the shell.
 *
 * `capbench grade` input, one JSON object per line (blank lines skipped):
 *   an item record as printed by `capbench items`, plus
 *   "response": "text" | ["text", ...]   one string per GENERATE request of the
 *                                        item (an array of 5 for setting sc;
 *                                        null marks a failed sample)
 *   "candidate_logprobs": [n, ...]       optional: one log-prob sum per
 *                                        log-likelihood request, in order
 *                                        (null = skipped)
 * or, for any family and required for multi-round ones (skill-mix's second
 * turn, judge-graded items):
 *   "responses": [x, ...]                one entry per request in the order the
 *                                        run sends them: the item's own requests,
 *                                        then each later round's (for skill-mix:
 *                                        G first turns, G second turns, the
 *                                        judgements of each generation, re-asks);
 *                                        a string (text, judgements included), a
 *                                        number (log-likelihood) or null (failed
 *                                        or skipped). Judgements already attached
 *                                        here are graded offline, no judge called;
 *                                        without any judgement entries the
 *                                        family's judge-less grading applies.
 * Output: the same object with "extracted", "score", "unparsed", "flags",
 * "metrics", "reason" and "grader_version" added. A bad line is reported on
 * stderr as "line N: field ...: ..." and skipped; the exit status is then 2.
 */
#include "runner/commands.h"

#include "tasks/task.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- capbench tasks ---- */

static int tasks_usage(FILE *f) {
    fprintf(f, "usage: capbench tasks [--json]\n"
               "Lists task families with their subtasks (and capability labels), settings and grader version.\n");
    return f == stdout ? 0 : 2;
}

static cJSON *family_json(const cb_task_family *f) {
    cJSON *o = cJSON_CreateObject(), *subs, *sets;
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", f->name);
    cJSON_AddStringToObject(o, "summary", f->summary);
    cJSON_AddStringToObject(o, "capability", f->capability);
    cJSON_AddStringToObject(o, "grader_version", f->grader_version);
    subs = cJSON_AddArrayToObject(o, "subtasks");
    for (int i = 0; subs && f->subtasks[i]; i++) {
        cJSON *s = cJSON_CreateObject();
        if (!s) break;
        cJSON_AddStringToObject(s, "name", f->subtasks[i]);
        cJSON_AddStringToObject(s, "capability", f->subtask_capabilities[i]);
        cJSON_AddItemToArray(subs, s);
    }
    sets = cJSON_AddArrayToObject(o, "settings");
    for (int i = 0; sets && f->settings[i]; i++) cJSON_AddItemToArray(sets, cJSON_CreateString(f->settings[i]));
    cJSON_AddStringToObject(o, "default_setting", f->default_setting);
    return o;
}

int cb_cmd_tasks(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return tasks_usage(stdout);
        else {
            fprintf(stderr, "capbench tasks: unknown option '%s'\n", argv[i]);
            return tasks_usage(stderr);
        }
    }
    int n;
    const cb_task_family *const *fam = cb_task_families(&n);
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *arr = root ? cJSON_AddArrayToObject(root, "families") : NULL;
        for (int i = 0; arr && i < n; i++) cJSON_AddItemToArray(arr, family_json(fam[i]));
        char *s = root ? cJSON_Print(root) : NULL;
        cJSON_Delete(root);
        if (!s) {
            fprintf(stderr, "capbench tasks: out of memory\n");
            return 1;
        }
        printf("%s\n", s);
        free(s);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        const cb_task_family *f = fam[i];
        printf("%s — %s\n", f->name, f->summary);
        printf("  capability: %s\n  grader:     %s\n  subtasks:\n", f->capability, f->grader_version);
        for (int k = 0; f->subtasks[k]; k++)
            printf("    %-18s capability %s\n", f->subtasks[k], f->subtask_capabilities[k]);
        printf("  settings:  ");
        for (int k = 0; f->settings[k]; k++)
            printf(" %s%s", f->settings[k], strcmp(f->settings[k], f->default_setting) == 0 ? " (default)" : "");
        printf("\n");
    }
    return 0;
}

/* ---- shared option helpers ---- */

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* ---- capbench items ---- */

static int items_usage(FILE *f) {
    fprintf(f,
            "usage: capbench items --task FAMILY[/SUBTASK] [--setting S[,S...]] [--n N] [--seed S]\n"
            "                      [--words pseudo|seed|file:PATH] [--params JSON]\n"
            "Prints N items per (subtask, setting) as JSONL (fields id, seed, turns, gold, grader,\n"
            "capabilities, meta). Defaults: all subtasks, the family's default setting, N 10, seed 0.\n"
            "--params is the family's params object (as in a suite file); --words overrides its \"words\".\n");
    return f == stdout ? 0 : 2;
}

int cb_cmd_items(int argc, char **argv) {
    const char *task = NULL, *setting_arg = NULL, *words = NULL, *params_arg = NULL;
    int64_t n = 10;
    uint64_t seed = 0;
    int rc = 2;
    char family[64] = "", subtask[64] = "", *setbuf = NULL;
    const char *sub_list[1], *set_list[64];
    int n_set = 0;
    cJSON *params = NULL;
    cb_task_spec *spec = NULL;
    cb_err err;
    cb_err_clear(&err);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return items_usage(stdout);
        if (i + 1 >= argc) {
            fprintf(stderr, "capbench items: %s needs a value\n", a);
            return items_usage(stderr);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--task") == 0) task = v;
        else if (strcmp(a, "--setting") == 0) setting_arg = v;
        else if (strcmp(a, "--words") == 0) words = v;
        else if (strcmp(a, "--params") == 0) params_arg = v;
        else if (strcmp(a, "--n") == 0) {
            if (parse_i64(v, 1, 10000000, &n)) {
                fprintf(stderr, "capbench items: --n: expected an integer from 1 to 10000000, got '%s'\n", v);
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_u64(v, &seed)) {
                fprintf(stderr, "capbench items: --seed: expected an unsigned 64-bit integer, got '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "capbench items: unknown option '%s'\n", a);
            return items_usage(stderr);
        }
    }
    if (!task) {
        fprintf(stderr, "capbench items: --task is required\n");
        return items_usage(stderr);
    }
    const char *slash = strchr(task, '/');
    size_t fl = slash ? (size_t)(slash - task) : strlen(task);
    if (fl == 0 || fl >= sizeof family || (slash && (strlen(slash + 1) == 0 || strlen(slash + 1) >= sizeof subtask))) {
        fprintf(stderr, "capbench items: --task: expected FAMILY or FAMILY/SUBTASK, got '%s'\n", task);
        return 2;
    }
    memcpy(family, task, fl);
    family[fl] = '\0';
    if (slash) snprintf(subtask, sizeof subtask, "%s", slash + 1);
    sub_list[0] = subtask;

    if (setting_arg) {
        if (!(setbuf = strdup(setting_arg))) goto oom;
        char *p = setbuf;
        while (p && n_set < 64) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            set_list[n_set++] = p;
            p = comma ? comma + 1 : NULL;
        }
    }
    if (params_arg) {
        params = cJSON_Parse(params_arg);
        if (!cJSON_IsObject(params)) {
            fprintf(stderr, "capbench items: --params: expected a JSON object\n");
            goto out;
        }
    }
    if (words) {
        if (!params && !(params = cJSON_CreateObject())) goto oom;
        cJSON_DeleteItemFromObjectCaseSensitive(params, "words");
        if (!cJSON_AddStringToObject(params, "words", words)) goto oom;
    }
    if (cb_task_spec_new(family, slash ? sub_list : NULL, slash ? 1 : 0, n_set ? set_list : NULL, n_set, n, seed,
                         params, "--task", &spec, &err)) {
        fprintf(stderr, "capbench items: %s\n", err.msg);
        rc = cb_err_exit_code(&err);
        goto out;
    }
    int64_t total = cb_task_spec_n_items(spec);
    for (int64_t k = 0; k < total; k++) {
        cb_item *it;
        if (cb_task_spec_item(spec, k, &it, &err)) {
            fprintf(stderr, "capbench items: %s\n", err.msg);
            rc = cb_err_exit_code(&err);
            goto out;
        }
        char *line = cb_item_to_jsonl(it);
        cb_item_free(it);
        if (!line) goto oom;
        fputs(line, stdout);
        fputc('\n', stdout);
        free(line);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "capbench items: write error on stdout\n");
        rc = 1;
        goto out;
    }
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "capbench items: out of memory\n");
    rc = 1;
out:
    cb_task_spec_free(spec);
    cJSON_Delete(params);
    free(setbuf);
    return rc;
}

/* ---- capbench grade ---- */

static int grade_usage(FILE *f) {
    fprintf(f, "usage: capbench grade --task FAMILY [--in FILE]\n"
               "Reads JSONL items (from `capbench items`) each with a \"response\" (a string, or an array of\n"
               "strings for self-consistency) and optional \"candidate_logprobs\"; prints each line with\n"
               "\"extracted\", \"score\", \"unparsed\", \"flags\", \"metrics\" and \"reason\" added.\n");
    return f == stdout ? 0 : 2;
}

static void set_field(cJSON *o, const char *key, cJSON *v) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddItemToObject(o, key, v);
}

/* Fills responses from a "responses" array, replaying the family's rounds
 * (tasks/task.h next_round) so later requests (second turns, judgements) line
 * up with their entries. A judge counts as present when entries remain after
 * the student's rounds. OUT *out (malloc'd, it->n_reqs entries at the end). */
static int replay_responses(cb_item *it, const cJSON *all, const char *where, cb_task_resp **out, cb_err *err) {
    if (!cJSON_IsArray(all))
        return cb_err_set(err, CB_EFORMAT, "%s: field \"responses\": expected an array (one entry per request)", where);
    int n = cJSON_GetArraySize(all);
    cb_task_resp *r = calloc((size_t)(n > 0 ? n : 1), sizeof *r);
    if (!r) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(all, i);
        if (cJSON_IsString(v)) {
            r[i].ok = 1;
            r[i].text = v->valuestring;
        } else if (cJSON_IsNumber(v)) {
            r[i].ok = 1;
            r[i].logprob_sum = v->valuedouble;
        } else if (!cJSON_IsNull(v)) {
            free(r);
            return cb_err_set(err, CB_EFORMAT, "%s: field \"responses[%d]\": expected a string, a number or null",
                              where, i);
        }
    }
    int rc = 0;
    for (int round = 0; it->n_reqs < n && !rc; round++) {
        int added = 0, before = it->n_reqs;
        /* a judge is present when the line holds entries for the requests it adds */
        rc = cb_item_next_round(it, r, it->n_reqs, round, 1, &added, err);
        if (!rc && it->n_reqs > n) { /* no judgements attached: the judge-less path */
            it->n_reqs = before;
            rc = cb_item_next_round(it, r, it->n_reqs, round, 0, &added, err);
        }
        if (!rc && !added) break;
    }
    if (!rc && it->n_reqs != n)
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"responses\": the item asks for %d requests, the line has %d",
                        where, it->n_reqs, n);
    if (rc) {
        free(r);
        return rc;
    }
    for (int i = 0; i < n; i++) /* log-likelihood entries carry no text */
        if (it->reqs[i].kind == CB_TREQ_LOGLIK && r[i].text) {
            free(r);
            return cb_err_set(err, CB_EFORMAT, "%s: field \"responses[%d]\": expected a number (a log-likelihood)",
                              where, i);
        }
    *out = r;
    return 0;
}

/* Grades one parsed line; writes the message into err on bad input. */
static int grade_line(cb_grader_ctx *g, cJSON *j, const char *family, const char *where, cb_err *err) {
    cb_item *it = NULL;
    cb_task_resp *resps = NULL;
    int rc = cb_item_from_json(j, where, &it, err);
    if (rc) return rc == CB_EUSAGE ? CB_EFORMAT : rc;
    if (strcmp(it->family->name, family) != 0) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"id\": family %s does not match --task %s", where,
                        it->family->name, family);
        goto out;
    }
    int n_gen = 0, n_ll = 0;
    for (int i = 0; i < it->n_reqs; i++) {
        if (it->reqs[i].kind == CB_TREQ_GENERATE) n_gen++;
        else n_ll++;
    }
    resps = calloc((size_t)(it->n_reqs ? it->n_reqs : 1), sizeof *resps);
    if (!resps) {
        rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
        goto out;
    }
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(j, "responses");
    if (all) {
        free(resps); /* replaced by the replayed rounds' array */
        resps = NULL;
        rc = replay_responses(it, all, where, &resps, err);
        if (rc) goto out;
        goto grade;
    }
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(j, "response");
    const cJSON *lps = cJSON_GetObjectItemCaseSensitive(j, "candidate_logprobs");
    if (cJSON_IsString(resp) && n_gen == 1) {
        /* the one generate request */
    } else if (!cJSON_IsArray(resp) || cJSON_GetArraySize(resp) != n_gen) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"response\": expected %s", where,
                        n_gen == 1 ? "a string (or an array of 1 string)" : "an array of one string per sample");
        goto out;
    }
    if (lps && !cJSON_IsNull(lps) && (!cJSON_IsArray(lps) || cJSON_GetArraySize(lps) != n_ll)) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: field \"candidate_logprobs\": expected an array of %d numbers", where,
                        n_ll);
        goto out;
    }
    int gi = 0, li = 0;
    for (int i = 0; i < it->n_reqs; i++) {
        if (it->reqs[i].kind == CB_TREQ_GENERATE) {
            const cJSON *t = cJSON_IsString(resp) ? resp : cJSON_GetArrayItem(resp, gi);
            if (cJSON_IsString(t)) {
                resps[i].ok = 1;
                resps[i].text = t->valuestring;
            } else if (!cJSON_IsNull(t)) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: field \"response[%d]\": expected a string or null", where, gi);
                goto out;
            }
            gi++;
        } else {
            const cJSON *v = cJSON_IsArray(lps) ? cJSON_GetArrayItem(lps, li) : NULL;
            if (cJSON_IsNumber(v)) {
                resps[i].ok = 1;
                resps[i].logprob_sum = v->valuedouble;
            } else if (v && !cJSON_IsNull(v)) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: field \"candidate_logprobs[%d]\": expected a number or null",
                                where, li);
                goto out;
            }
            li++;
        }
    }
grade:;
    cb_grade gr;
    if ((rc = cb_item_grade(g, it, resps, it->n_reqs, &gr, err)) != 0) goto out;
    cJSON *gj = cb_grade_to_json(&gr);
    if (!gj) {
        rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", where);
        goto out;
    }
    static const char *const keys[] = {"extracted", "score", "unparsed", "flags", "metrics", "reason"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(gj, keys[k]);
        if (v) set_field(j, keys[k], v);
    }
    cJSON_Delete(gj);
    set_field(j, "grader_version", cJSON_CreateString(it->family->grader_version));
out:
    free(resps);
    cb_item_free(it);
    return rc;
}

int cb_cmd_grade(int argc, char **argv) {
    const char *family = NULL, *in_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return grade_usage(stdout);
        if (i + 1 >= argc) {
            fprintf(stderr, "capbench grade: %s needs a value\n", a);
            return grade_usage(stderr);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--task") == 0) family = v;
        else if (strcmp(a, "--in") == 0) in_path = v;
        else {
            fprintf(stderr, "capbench grade: unknown option '%s'\n", a);
            return grade_usage(stderr);
        }
    }
    if (!family) {
        fprintf(stderr, "capbench grade: --task is required\n");
        return grade_usage(stderr);
    }
    if (strchr(family, '/')) {
        fprintf(stderr, "capbench grade: --task: expected a FAMILY name, got '%s'\n", family);
        return 2;
    }
    if (!cb_task_family_find(family)) {
        fprintf(stderr, "capbench grade: --task: unknown task family '%s'\n", family);
        return 2;
    }
    FILE *in = stdin;
    if (in_path && !(in = fopen(in_path, "rb"))) {
        fprintf(stderr, "capbench grade: %s: %s\n", in_path, strerror(errno));
        return 1;
    }
    cb_grader_ctx *g = NULL;
    cb_err err;
    cb_err_clear(&err);
    int rc = 0, bad = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    if (cb_grader_ctx_new(&g, &err)) {
        fprintf(stderr, "capbench grade: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t k = 0;
        while (k < (size_t)len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r' || line[k] == '\n')) k++;
        if (k == (size_t)len) continue;
        char where[32];
        snprintf(where, sizeof where, "line %ld", lineno);
        cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
        if (!j) {
            fprintf(stderr, "capbench grade: %s: not valid JSON\n", where);
            bad = 1;
            continue;
        }
        int r = grade_line(g, j, family, where, &err);
        if (r == CB_ENOMEM) {
            fprintf(stderr, "capbench grade: %s\n", err.msg);
            cJSON_Delete(j);
            rc = 1;
            goto out;
        }
        if (r) {
            fprintf(stderr, "capbench grade: %s\n", err.msg);
            bad = 1;
            cJSON_Delete(j);
            continue;
        }
        char *s = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        if (!s) {
            fprintf(stderr, "capbench grade: out of memory\n");
            rc = 1;
            goto out;
        }
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    if (ferror(in)) {
        fprintf(stderr, "capbench grade: read error on %s\n", in_path ? in_path : "stdin");
        rc = 1;
        goto out;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "capbench grade: write error on stdout\n");
        rc = 1;
        goto out;
    }
    rc = bad ? 2 : 0;
out:
    free(line);
    cb_grader_ctx_free(g);
    if (in != stdin) fclose(in);
    return rc;
}
