/* results/family_report.c — knowledge-capacity and structured-output report
 * sections (see family_report.h). Reads only the built cb_report: no store
 * access, no statistics beyond the arithmetic written in the header.
 */
#include "results/family_report.h"

#include "results/store.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LN2 0.69314718055994530942
#define P_NO_JUDGE "not computed: no judge"
#define P_JUDGED                                                                                                     \
    "judged (TASKS.md 4.5: both orders, temperature 0.1; answers that are no table score 0 without a judge call; "  \
    "judge_failed items are excluded from P and counted in P fail)"

static int family_is(const char *task, const char *fam) {
    size_t n = strlen(fam);
    return strncmp(task, fam, n) == 0 && (task[n] == '\0' || task[n] == ':');
}

/* ---- metric sums ---- */

static const char *const NAMES[] = {
    /* knowledge-capacity bits */
    "bits_total", "bits_name", "bits_value", "loss_name", "loss_value", "bits_birth_date", "bits_birth_city",
    "bits_university", "bits_major", "bits_employer", "bits_gender",
    /* bpc */
    "ce_nats", "n_chars", "n_bytes", "n_tokens",
    /* structured-output */
    "parsed", "empty", "h_content", "h_structure", "h_content_empty", "h_structure_empty", "h_content_blank",
    "h_structure_blank", "tag_coverage", "tag_hallucination", "tag_misplacement", "tag_formatting", "p_content",
    "p_structure", "p_judge_failed"};
#define N_NAMES ((int)(sizeof NAMES / sizeof NAMES[0]))

/* One sum group: a (task, subtask, setting) cell with cap "", or (structured-
 * output only) a capability label with the other keys "". */
typedef struct {
    char task[128], subtask[128], setting[128], cap[128];
    double sum[N_NAMES];
    int64_t n[N_NAMES];
} fgroup;

struct cb_family_stats {
    fgroup *g;
    size_t n, cap;
};

void cb_family_stats_free(cb_family_stats *fs) {
    if (!fs) return;
    free(fs->g);
    free(fs);
}

static fgroup *group_of(cb_family_stats *fs, const char *task, const char *sub, const char *set, const char *cap,
                        cb_err *err) {
    for (size_t i = 0; i < fs->n; i++)
        if (!strcmp(fs->g[i].task, task) && !strcmp(fs->g[i].subtask, sub) && !strcmp(fs->g[i].setting, set) &&
            !strcmp(fs->g[i].cap, cap))
            return &fs->g[i];
    if (fs->n == fs->cap) {
        size_t nc = fs->cap ? fs->cap * 2 : 16;
        fgroup *ng = realloc(fs->g, nc * sizeof *ng);
        if (!ng) {
            cb_err_set(err, CB_ENOMEM, "report: out of memory");
            return NULL;
        }
        fs->g = ng;
        fs->cap = nc;
    }
    fgroup *g = &fs->g[fs->n++];
    memset(g, 0, sizeof *g);
    snprintf(g->task, sizeof g->task, "%s", task);
    snprintf(g->subtask, sizeof g->subtask, "%s", sub);
    snprintf(g->setting, sizeof g->setting, "%s", set);
    snprintf(g->cap, sizeof g->cap, "%s", cap);
    return g;
}

static void add_metrics(fgroup *g, const cJSON *m) {
    for (int k = 0; k < N_NAMES; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, NAMES[k]);
        if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
            g->sum[k] += v->valuedouble;
            g->n[k]++;
        }
    }
}

static int family_sample(void *ud, const cb_sample *smp, cb_err *err) {
    cb_family_stats *fs = ud;
    const char *task = smp->task ? smp->task : "";
    int so = family_is(task, "structured-output");
    if (smp->error || !smp->metrics_json || !(family_is(task, "knowledge-capacity") || so)) return 0;
    const char *sub = smp->subtask ? smp->subtask : "", *set = smp->setting ? smp->setting : "";
    fgroup *g = group_of(fs, task, sub, set, "", err);
    if (!g) return CB_ENOMEM;
    cJSON *m = cJSON_Parse(smp->metrics_json);
    if (!m) return 0; /* not ours to judge: the general report shows the sample */
    add_metrics(g, m);
    for (int c = 0; so && c < 2; c++) { /* per capability label too, as the general report pools them */
        if (!smp->cap[c] || !smp->cap[c][0]) continue;
        fgroup *gc = group_of(fs, "", "", "", smp->cap[c], err);
        if (!gc) {
            cJSON_Delete(m);
            return CB_ENOMEM;
        }
        add_metrics(gc, m);
    }
    cJSON_Delete(m);
    return 0;
}

int cb_family_stats_build(cb_store *s, int64_t run_id, cb_family_stats **out, cb_err *err) {
    *out = NULL;
    cb_family_stats *fs = calloc(1, sizeof *fs);
    if (!fs) return cb_err_set(err, CB_ENOMEM, "report: out of memory");
    int rc = cb_store_foreach_sample(s, run_id, family_sample, fs, err);
    if (rc || fs->n == 0) {
        cb_family_stats_free(fs);
        return rc;
    }
    *out = fs;
    return 0;
}

/* Mean of metric `name` over the sum group of key: its (task, subtask,
 * setting) cell, or with by_cap its capability label (NaN when absent). */
static double metric_in(const cb_report *r, const cb_group *key, int by_cap, const char *name, int64_t *n) {
    if (n) *n = 0;
    const cb_family_stats *fs = r->families;
    for (size_t i = 0; fs && i < fs->n; i++) {
        const fgroup *g = &fs->g[i];
        if (by_cap ? strcmp(g->cap, key->capability) != 0
                   : (g->cap[0] || strcmp(g->task, key->task) || strcmp(g->subtask, key->subtask) ||
                      strcmp(g->setting, key->setting)))
            continue;
        for (int k = 0; k < N_NAMES; k++)
            if (strcmp(NAMES[k], name) == 0) {
                if (n) *n = g->n[k];
                return g->n[k] > 0 ? g->sum[k] / (double)g->n[k] : NAN;
            }
    }
    return NAN;
}

static double metric(const cb_report *r, const cb_group *key, const char *name, int64_t *n) {
    return metric_in(r, key, 0, name, n);
}

/* 1 when the run's stored suite has a "judge" section. */
static int run_has_judge(const cb_report *r) {
    cJSON *cfg = r->run.config_json ? cJSON_Parse(r->run.config_json) : NULL;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, "judge");
    int yes = j && !cJSON_IsNull(j);
    cJSON_Delete(cfg);
    return yes;
}

/* params.persons of the suite entry that produced task name `task`
 * ("knowledge-capacity" or "knowledge-capacity:LABEL"); 1000 by default. */
static double persons_of(const cb_report *r, const char *task) {
    double persons = 1000;
    cJSON *cfg = r->run.config_json ? cJSON_Parse(r->run.config_json) : NULL;
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(cfg, "tasks"), *t;
    const char *colon = strchr(task, ':');
    cJSON_ArrayForEach(t, tasks) {
        const cJSON *fam = cJSON_GetObjectItemCaseSensitive(t, "family");
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(t, "label");
        if (!cJSON_IsString(fam) || strcmp(fam->valuestring, "knowledge-capacity") != 0) continue;
        int want_label = colon != NULL;
        if (want_label != cJSON_IsString(lab)) continue;
        if (want_label && strcmp(lab->valuestring, colon + 1) != 0) continue;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "params"), "persons");
        if (cJSON_IsNumber(p) && p->valuedouble >= 2) persons = p->valuedouble;
        break;
    }
    cJSON_Delete(cfg);
    return persons;
}

static const char *const ATTRS[] = {"name", "birth_date", "birth_city", "university", "major", "employer", "gender"};
#define N_ATTRS 7

/* One knowledge bits row. */
typedef struct {
    const cb_group *g;
    double N, probed, bits, bmax, bcons, acc;
    double attr[N_ATTRS];
} krow;

static int krow_fill(const cb_report *r, size_t i, krow *k) {
    const cb_group *g = &r->settings[i];
    if (!family_is(g->task, "knowledge-capacity") || strcmp(g->subtask, "bits") != 0) return 0;
    memset(k, 0, sizeof *k);
    k->g = g;
    k->N = persons_of(r, g->task);
    int64_t n = 0;
    double bt = metric(r, g, "bits_total", &n);
    k->probed = (double)n;
    k->acc = g->sum.mean;
    /* log2 N0 and log2 S0 come back from the means of the name and value terms:
     * every item of a group carries the same constants, so they are read from
     * the per-person maxima bits_name + loss_name / ln 2 (the name term of a
     * zero loss) and bits_value + loss_value / ln 2 */
    double l2n0 = metric(r, g, "bits_name", NULL) + metric(r, g, "loss_name", NULL) / LN2;
    double l2s0 = metric(r, g, "bits_value", NULL) + metric(r, g, "loss_value", NULL) / LN2;
    k->bits = k->N * bt;
    k->bmax = k->N * (l2n0 - log2(k->N)) + k->N * l2s0;
    /* conservative: N0 - N in the name term */
    k->bcons = k->bits - k->N * (l2n0 - log2(exp2(l2n0) - k->N));
    for (int a = 0; a < N_ATTRS; a++) {
        char name[48];
        snprintf(name, sizeof name, "bits_%s", ATTRS[a]);
        k->attr[a] = k->N * metric(r, g, name, NULL);
    }
    return 1;
}

typedef struct {
    const cb_group *g;
    double docs, tokens, chars, bpc, bpb, ppl;
} crow;

static int crow_fill(const cb_report *r, size_t i, crow *c) {
    const cb_group *g = &r->settings[i];
    if (!family_is(g->task, "knowledge-capacity") || strcmp(g->subtask, "bpc") != 0) return 0;
    int64_t n = 0;
    double ce = metric(r, g, "ce_nats", &n), ch = metric(r, g, "n_chars", NULL), by = metric(r, g, "n_bytes", NULL),
           tk = metric(r, g, "n_tokens", NULL);
    c->g = g;
    c->docs = (double)n;
    c->tokens = tk * (double)n;
    c->chars = ch * (double)n;
    c->bpc = ce / (LN2 * ch);
    c->bpb = ce / (LN2 * by);
    c->ppl = exp(ce / tk);
    return 1;
}

typedef struct {
    const cb_group *g;
    double v[16];
    double p_content, p_structure, p_n, p_fail; /* NaN (not computed) without a judge */
} srow;

static const char *const S_METRICS[] = {"parsed",           "empty",           "h_content",         "h_structure",
                                        "h_content_empty",  "h_structure_empty", "h_content_blank", "h_structure_blank",
                                        "tag_coverage",     "tag_hallucination", "tag_misplacement", "tag_formatting"};
#define N_S 12

/* A structured-output row of the cell group g (by_cap 0) or the capability
 * group g (by_cap 1); 0 when g has no structured-output samples. */
static int srow_of(const cb_report *r, const cb_group *g, int by_cap, int judge, srow *s) {
    int64_t n = 0;
    if (by_cap) {
        (void)metric_in(r, g, 1, "h_content", &n);
        if (n == 0) return 0;
    } else if (!family_is(g->task, "structured-output")) {
        return 0;
    }
    s->g = g;
    for (int k = 0; k < N_S; k++) s->v[k] = metric_in(r, g, by_cap, S_METRICS[k], NULL);
    int64_t pn = 0, fn = 0;
    s->p_content = metric_in(r, g, by_cap, "p_content", &pn);
    s->p_structure = metric_in(r, g, by_cap, "p_structure", NULL);
    double f = metric_in(r, g, by_cap, "p_judge_failed", &fn);
    s->p_n = (double)pn;
    s->p_fail = fn ? f * (double)fn : 0;
    if (!judge) s->p_content = s->p_structure = s->p_n = s->p_fail = NAN;
    return 1;
}

static int srow_fill(const cb_report *r, size_t i, srow *s) { return srow_of(r, &r->settings[i], 0, 1, s); }

int cb_family_structured_values(const cb_report *r, const cb_group *g, int by_cap, double out[6]) {
    srow s;
    if (!r->families || !srow_of(r, g, by_cap, run_has_judge(r), &s)) return 0;
    out[0] = s.v[2];
    out[1] = s.v[3];
    out[2] = s.p_content;
    out[3] = s.p_structure;
    out[4] = s.p_n;
    out[5] = s.p_fail;
    return 1;
}

static void num(char *buf, size_t cap, double v, int prec) {
    if (isfinite(v)) snprintf(buf, cap, "%.*f", prec, v);
    else snprintf(buf, cap, "-");
}

/* Prints one row of cells: aligned text, or a Markdown row. */
static void row(FILE *f, int md, const int *w, int n, char cells[][32]) {
    for (int k = 0; k < n; k++) {
        if (md) fprintf(f, "| %s ", cells[k]);
        else fprintf(f, k ? "  %*s" : "%-*s", w[k], cells[k]);
    }
    fputs(md ? "|\n" : "\n", f);
}

static void head(FILE *f, int md, const char *title, const int *w, int n, const char *const *names) {
    char cells[24][32];
    fprintf(f, md ? "### %s\n\n" : "%s\n", title);
    for (int k = 0; k < n; k++) snprintf(cells[k], sizeof cells[k], "%s", names[k]);
    row(f, md, w, n, cells);
    if (md) {
        for (int k = 0; k < n; k++) fputs("|---", f);
        fputs("|\n", f);
    }
}

int cb_family_report_write(const cb_report *r, FILE *f, int md) {
    int any_k = 0, any_c = 0, any_s = 0;
    for (size_t i = 0; i < r->n_settings; i++) {
        krow k;
        crow c;
        srow s;
        any_k |= krow_fill(r, i, &k);
        any_c |= crow_fill(r, i, &c);
        any_s |= srow_fill(r, i, &s);
    }
    double P = (double)r->run.n_params, Pn = (double)r->run.n_params_nonembd;
    if (any_k) {
        static const char *const names[] = {"task", "persons", "probed", "bits", "bits max", "bits/param",
                                            "bits/param (non-emb)", "max bits/param", "completion acc"};
        static const int w[] = {28, 8, 6, 14, 14, 10, 20, 14, 14};
        head(f, md, "Knowledge capacity: bits (TASKS.md 7; params from the GGUF)", w, 9, names);
        for (size_t i = 0; i < r->n_settings; i++) {
            krow k;
            if (!krow_fill(r, i, &k)) continue;
            char c[9][32];
            snprintf(c[0], 32, "%s", k.g->task);
            num(c[1], 32, k.N, 0);
            num(c[2], 32, k.probed, 0);
            num(c[3], 32, k.bits, 0);
            num(c[4], 32, k.bmax, 0);
            num(c[5], 32, P > 0 ? k.bits / P : NAN, 4);
            num(c[6], 32, Pn > 0 ? k.bits / Pn : NAN, 4);
            num(c[7], 32, P > 0 ? k.bmax / P : NAN, 4);
            num(c[8], 32, k.acc, 3);
            row(f, md, w, 9, c);
            fprintf(f, "%s  per attribute (bits, unclamped):", md ? "\n" : "");
            for (int a = 0; a < N_ATTRS; a++) {
                char v[32];
                num(v, sizeof v, k.attr[a], 0);
                fprintf(f, " %s %s%s", ATTRS[a], v, a + 1 < N_ATTRS ? "," : "");
            }
            char cons[32];
            num(cons, sizeof cons, k.bcons, 0);
            fprintf(f, "; conservative (N0 - N) %s%s\n", cons, md ? "\n" : "");
            if (!(k.probed > 0))
                fprintf(f, "  bits not measured: the backend returned no per-token log-probs with offsets\n");
        }
        fprintf(f, "  params: %lld total, %lld non-embedding%s\n\n", (long long)r->run.n_params,
                (long long)r->run.n_params_nonembd, P > 0 ? "" : " (unknown: bits per parameter not shown)");
    }
    if (any_c) {
        static const char *const names[] = {"task", "documents", "tokens", "chars", "BPC", "bits/byte", "PPL"};
        static const int w[] = {28, 9, 10, 10, 8, 9, 9};
        head(f, md, "Compression: bits per character (TASKS.md 5.6; pooled over documents)", w, 7, names);
        for (size_t i = 0; i < r->n_settings; i++) {
            crow k;
            if (!crow_fill(r, i, &k)) continue;
            char c[7][32];
            snprintf(c[0], 32, "%s", k.g->task);
            num(c[1], 32, k.docs, 0);
            num(c[2], 32, k.tokens, 0);
            num(c[3], 32, k.chars, 0);
            num(c[4], 32, k.bpc, 4);
            num(c[5], 32, k.bpb, 4);
            num(c[6], 32, k.ppl, 4);
            row(f, md, w, 7, c);
        }
        fputc('\n', f);
    }
    if (any_s) {
        static const char *const names[] = {"task/subtask/setting", "n",        "exact",    "parsed",  "empty",
                                            "no table",             "H cont",   "H struct", "H0 cont", "H0 struct",
                                            "Hb cont",              "Hb struct", "cover",   "halluc",  "misplace",
                                            "format",               "P cont",   "P struct", "P n",     "P fail"};
        static const int w[] = {34, 4, 6, 6, 6, 8, 6, 8, 7, 9, 7, 9, 6, 6, 8, 6, 6, 8, 4, 6};
        int judge = run_has_judge(r);
        head(f, md, "Structured output: H-Score and P-Score (TASKS.md 4.5; H0 = empty table, Hb = blank gold-shaped table)",
             w, 20, names);
        /* the cells, then each capability label pooled over its cells */
        for (size_t i = 0; i < r->n_settings + r->n_capabilities; i++) {
            srow s;
            int cap = i >= r->n_settings;
            const cb_group *g = cap ? &r->capabilities[i - r->n_settings] : &r->settings[i];
            if (!srow_of(r, g, cap, judge, &s)) continue;
            char c[20][32];
            if (cap) snprintf(c[0], 32, "capability %.20s", g->capability);
            else snprintf(c[0], 32, "%.12s/%.8s/%.10s", g->task, g->subtask, g->setting);
            num(c[1], 32, (double)g->sum.n_scored, 0);
            num(c[2], 32, g->sum.mean, 3);
            num(c[3], 32, s.v[0], 3);
            num(c[4], 32, s.v[1], 3);
            num(c[5], 32, g->sum.unparsed_rate - (isfinite(s.v[1]) ? s.v[1] : 0), 3);
            for (int k = 2; k < N_S; k++) num(c[k + 4], 32, s.v[k], 3);
            num(c[16], 32, s.p_content, 3);
            num(c[17], 32, s.p_structure, 3);
            num(c[18], 32, s.p_n, 0);
            num(c[19], 32, s.p_fail, 0);
            row(f, md, w, 20, c);
        }
        fprintf(f, "%sP-Score: %s.\n\n", md ? "\n" : "", judge ? P_JUDGED : P_NO_JUDGE);
    }
    return ferror(f) ? -1 : 0;
}

static cJSON *jnum(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static void add_key(cJSON *o, const cb_group *g) {
    cJSON_AddStringToObject(o, "task", g->task);
    cJSON_AddStringToObject(o, "subtask", g->subtask);
    cJSON_AddStringToObject(o, "setting", g->setting);
}

/* One structured-output JSON entry (cell or capability row). */
static cJSON *sentry(const srow *s, int by_cap) {
    cJSON *e = cJSON_CreateObject();
    if (!e) return NULL;
    const cb_group *g = s->g;
    if (by_cap) cJSON_AddStringToObject(e, "capability", g->capability);
    else add_key(e, g);
    cJSON_AddNumberToObject(e, "n", (double)g->sum.n_scored);
    cJSON_AddItemToObject(e, "exact", jnum(g->sum.mean));
    cJSON_AddItemToObject(e, "parse_rate", jnum(s->v[0]));
    cJSON_AddItemToObject(e, "empty_rate", jnum(s->v[1]));
    cJSON_AddItemToObject(e, "no_table_rate", jnum(g->sum.unparsed_rate - (isfinite(s->v[1]) ? s->v[1] : 0)));
    static const char *const keys[] = {"h_content",       "h_structure",       "h_content_empty", "h_structure_empty",
                                       "h_content_blank", "h_structure_blank", "coverage",        "hallucination",
                                       "misplacement",    "formatting"};
    for (int k = 0; k < 10; k++) cJSON_AddItemToObject(e, keys[k], jnum(s->v[k + 2]));
    cJSON_AddItemToObject(e, "p_content", jnum(s->p_content));
    cJSON_AddItemToObject(e, "p_structure", jnum(s->p_structure));
    cJSON_AddItemToObject(e, "p_n", jnum(s->p_n));
    cJSON_AddItemToObject(e, "p_judge_failed", jnum(s->p_fail));
    return e;
}

cJSON *cb_family_report_json(const cb_report *r) {
    cJSON *o = cJSON_CreateObject(), *K = cJSON_CreateArray(), *C = cJSON_CreateArray(), *S = cJSON_CreateArray(),
          *SC = cJSON_CreateArray();
    int any = 0, any_s = 0, judge = run_has_judge(r);
    double P = (double)r->run.n_params, Pn = (double)r->run.n_params_nonembd;
    if (!o || !K || !C || !S || !SC) goto fail;
    for (size_t i = 0; i < r->n_settings; i++) {
        krow k;
        crow c;
        srow s;
        if (krow_fill(r, i, &k)) {
            cJSON *e = cJSON_CreateObject();
            if (!e) goto fail;
            cJSON_AddItemToArray(K, e);
            add_key(e, k.g);
            cJSON_AddItemToObject(e, "persons", jnum(k.N));
            cJSON_AddItemToObject(e, "probed", jnum(k.probed));
            cJSON_AddItemToObject(e, "bits", jnum(k.bits));
            cJSON_AddItemToObject(e, "bits_max", jnum(k.bmax));
            cJSON_AddItemToObject(e, "bits_conservative", jnum(k.bcons));
            cJSON_AddItemToObject(e, "bits_per_param", jnum(P > 0 ? k.bits / P : NAN));
            cJSON_AddItemToObject(e, "bits_per_param_nonembd", jnum(Pn > 0 ? k.bits / Pn : NAN));
            cJSON_AddItemToObject(e, "max_bits_per_param", jnum(P > 0 ? k.bmax / P : NAN));
            cJSON_AddNumberToObject(e, "n_params", P);
            cJSON_AddNumberToObject(e, "n_params_nonembd", Pn);
            cJSON_AddItemToObject(e, "completion_accuracy", jnum(k.acc));
            cJSON *at = cJSON_AddObjectToObject(e, "attributes");
            for (int a = 0; at && a < N_ATTRS; a++) cJSON_AddItemToObject(at, ATTRS[a], jnum(k.attr[a]));
            any = 1;
        } else if (crow_fill(r, i, &c)) {
            cJSON *e = cJSON_CreateObject();
            if (!e) goto fail;
            cJSON_AddItemToArray(C, e);
            add_key(e, c.g);
            cJSON_AddItemToObject(e, "documents", jnum(c.docs));
            cJSON_AddItemToObject(e, "tokens", jnum(c.tokens));
            cJSON_AddItemToObject(e, "chars", jnum(c.chars));
            cJSON_AddItemToObject(e, "bpc", jnum(c.bpc));
            cJSON_AddItemToObject(e, "bits_per_byte", jnum(c.bpb));
            cJSON_AddItemToObject(e, "ppl", jnum(c.ppl));
            any = 1;
        } else if (srow_of(r, &r->settings[i], 0, judge, &s)) {
            cJSON *e = sentry(&s, 0);
            if (!e) goto fail;
            cJSON_AddItemToArray(S, e);
            any = any_s = 1;
        }
    }
    for (size_t i = 0; any_s && i < r->n_capabilities; i++) {
        srow s;
        if (!srow_of(r, &r->capabilities[i], 1, judge, &s)) continue;
        cJSON *e = sentry(&s, 1);
        if (!e) goto fail;
        cJSON_AddItemToArray(SC, e);
    }
    if (!any) goto fail;
    cJSON_AddItemToObject(o, "knowledge", K);
    cJSON_AddItemToObject(o, "compression", C);
    cJSON_AddItemToObject(o, "structured", S);
    cJSON_AddItemToObject(o, "structured_capabilities", SC);
    if (any_s) cJSON_AddStringToObject(o, "p_score", judge ? P_JUDGED : P_NO_JUDGE);
    return o;
fail:
    cJSON_Delete(o);
    cJSON_Delete(K);
    cJSON_Delete(C);
    cJSON_Delete(S);
    cJSON_Delete(SC);
    return NULL;
}
