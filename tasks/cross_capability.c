/* tasks/cross_capability.c — task family `cross-capability` (TASKS.md section
 * 3): individual capabilities and pairs that must be used together on one
 * task, so that the weakest-link analysis (section 6) can compare a cross
 * score with the two individual ones.
 *
 * Subtasks (capability label in brackets; the label is the item's only
 * capability, so the report aggregates each score under exactly one label):
 *   reasoning [Reasoning], spanish_reasoning [Spanish&Reasoning],
 *   english [English], spanish [Spanish], coding [Coding],
 *   coding_reasoning [Coding&Reasoning], long_context [Long Context],
 *   long_context_coding [Long Context&Coding].
 * A cross item also records the two individual capabilities behind it in
 * meta.individual (["Spanish","Reasoning"]), readable with SQL as
 * json_extract(item_json, '$.meta.individual[0]') and '[1]'. Setting: `default`.
 *
 * Params (all optional):
 *   "source": "synthetic" (default) | "file:PATH" (a CrossEval export, JSONL
 *             or CSV, see tasks/crosseval.h)
 *   "max_tokens": 1024 (model answers), "judge_max_tokens": 2048 (file mode)
 *
 * Synthetic mode (3.2 B): rule-graded generators, one request per item
 * (greedy) plus an optional log-likelihood request for the gold answer line;
 * grading 3.3 mapped to 1-5. The primary score is (r-1)/4 in [0, 1], like
 * every family's; the 3.5 scale r' = (r-1)*24.75+1 = 1 + 99 * score is the
 * metric score_1to100 (its mean is the capability score; the weakest-link
 * analysis computes the same from the primary score), with score_1to5 and
 * exact (r >= 4). S&R items are the R items (same seed, same instance) in Spanish.
 * A failed request is not a model answer: the item is unscored (score NaN,
 * flag no_response); for long_context and long_context_coding it is counted as
 * skipped_context (the usual cause is a prompt longer than the model's
 * context; prompts are never truncated).
 *
 * File mode (3.2 A, 3.4): the prompt verbatim as one user turn (with the
 * attachment placed before it), judged by the reference-calibrated judge:
 * round 0 the model answer; round 1 the judge (temperature 0, seed 42); then
 * up to 4 re-asks, each continuing the judge conversation with its last
 * judgement and the note "The rating must be between 1 and 5." (5 attempts in
 * all), then judge_failed (no score, counted apart). An answer of fewer than 2
 * words (after <think> removal) is rated 1 without a judge call. Without a
 * judge the items cannot be graded: needs_judge refuses the run.
 */
#include "tasks/task.h"

#include "common/rng.h"
#include "graders/extract.h"
#include "graders/judge.h"
#include "graders/normalize.h"
#include "tasks/cross_capability.h"
#include "tasks/crosseval.h"
#include "tasks/data.h"
#include "tasks/textbuf.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FAMILY "cross-capability"
#define JUDGE_ATTEMPTS 5
#define JUDGE_SEED 42

static const char *const subtasks[] = {"reasoning",   "spanish_reasoning", "english",      "spanish",
                                       "coding",      "coding_reasoning",  "long_context", "long_context_coding",
                                       NULL};
static const char *const subtask_caps[] = {"Reasoning", "Spanish&Reasoning", "English",      "Spanish",
                                           "Coding",    "Coding&Reasoning",  "Long Context", "Long Context&Coding",
                                           NULL};
/* the two individual capabilities behind each subtask (NULL for individual ones) */
static const char *const subtask_parts[][2] = {{NULL, NULL},        {"Spanish", "Reasoning"}, {NULL, NULL},
                                               {NULL, NULL},        {NULL, NULL},             {"Coding", "Reasoning"},
                                               {NULL, NULL},        {"Long Context", "Coding"}};
static const char *const settings[] = {"default", NULL};
enum { ST_R, ST_SR, ST_E, ST_S, ST_C, ST_CR, ST_L, ST_LC };

static const char SUFFIX_EN[] = "\n\nGive your final answer on the last line as \"Answer: <answer>\".";
static const char SUFFIX_ES[] =
    "\n\nResponde en español. Escribe la respuesta final en la última línea como \"Respuesta: <respuesta>\".";

typedef struct {
    char *source;
    int max_tokens, judge_max_tokens;
    cb_crosseval *file; /* file mode */
} cc_state;

static int subtask_index(const char *name) {
    for (int i = 0; subtasks[i]; i++)
        if (strcmp(subtasks[i], name) == 0) return i;
    return -1;
}

/* ---- params ---------------------------------------------------------------------- */

static void state_free(void *vs) {
    cc_state *s = vs;
    if (!s) return;
    free(s->source);
    cb_crosseval_free(s->file);
    free(s);
}

static int get_int(const cJSON *params, const char *key, int def, const char *path, int *out, cb_err *err) {
    const cJSON *j = params ? cJSON_GetObjectItemCaseSensitive(params, key) : NULL;
    *out = def;
    if (!j) return 0;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 1 || j->valuedouble > 65536)
        return cb_err_set(err, CB_EUSAGE, "%s.%s: expected an integer from 1 to 65536", path, key);
    *out = (int)j->valuedouble;
    return 0;
}

static int state_parse(const cJSON *params, const char *path, void **out, cb_err *err) {
    *out = NULL;
    for (const cJSON *c = params ? params->child : NULL; c; c = c->next)
        if (strcmp(c->string, "source") && strcmp(c->string, "max_tokens") && strcmp(c->string, "judge_max_tokens"))
            return cb_err_set(err, CB_EUSAGE,
                              "%s.%s: unknown parameter of cross-capability (expected source, max_tokens, "
                              "judge_max_tokens)",
                              path, c->string);
    cc_state *s = calloc(1, sizeof *s);
    if (!s) return cb_err_set(err, CB_ENOMEM, "out of memory");
    int rc;
    const cJSON *src = params ? cJSON_GetObjectItemCaseSensitive(params, "source") : NULL;
    const char *v = "synthetic";
    if (src) {
        if (!cJSON_IsString(src)) {
            rc = cb_err_set(err, CB_EUSAGE, "%s.source: expected \"synthetic\" or \"file:PATH\"", path);
            goto out;
        }
        v = src->valuestring;
    }
    if (strcmp(v, "synthetic") != 0 && (strncmp(v, "file:", 5) != 0 || !v[5])) {
        rc = cb_err_set(err, CB_EUSAGE, "%s.source: expected \"synthetic\" or \"file:PATH\", got \"%.80s\"", path, v);
        goto out;
    }
    if (!(s->source = strdup(v))) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = get_int(params, "max_tokens", 1024, path, &s->max_tokens, err)) ||
        (rc = get_int(params, "judge_max_tokens", 2048, path, &s->judge_max_tokens, err)))
        goto out;
    if (strncmp(v, "file:", 5) == 0 && (rc = cb_crosseval_load(v + 5, &s->file, err))) goto out;
    *out = s;
    s = NULL;
out:
    state_free(s);
    return rc;
}

static cJSON *state_to_json(const void *vs) {
    const cc_state *s = vs;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "source", s->source);
    cJSON_AddNumberToObject(o, "max_tokens", s->max_tokens);
    cJSON_AddNumberToObject(o, "judge_max_tokens", s->judge_max_tokens);
    return o;
}

static int check_cell(const void *vs, const char *subtask, const char *setting, const char *path, cb_err *err) {
    (void)setting;
    const cc_state *s = vs;
    if (!s->file) return 0;
    if (cb_crosseval_count(s->file, subtask) == 0)
        return cb_err_set(err, CB_EUSAGE,
                          "%s.subtasks: %s has no text-only item in %s (%d rows skipped_unsupported: image or tool "
                          "use)",
                          path, subtask, s->source + 5, cb_crosseval_skipped_unsupported(s->file));
    return 0;
}

static int needs_judge(const void *vs) {
    const cc_state *s = vs;
    return s && s->file != NULL; /* file mode has no rule-based fallback */
}

/* ---- small text helpers ---------------------------------------------------------- */


static int pick(cb_rng *r, int n) { return (int)cb_rng_uniform(r, (uint64_t)n); }
static int range(cb_rng *r, int lo, int hi) { return lo + pick(r, hi - lo + 1); } /* [lo, hi] */

/* 0 easy, 1 medium, 2 hard with probabilities 0.1 / 0.3 / 0.6 */
static int draw_difficulty(cb_rng *r) {
    double u = cb_rng_float(r);
    return u < 0.1 ? 0 : u < 0.4 ? 1 : 2;
}
static const char *const DIFF_NAMES[] = {"easy", "medium", "hard"};

/* ---- R and S&R: the word-problem program ----------------------------------------- */

static const char *const PEOPLE[] = {"Mara", "Tom", "Lucia", "Pablo", "Ana", "Leo", "Sofia", "Diego",
                                     "Nora", "Hugo", "Elena", "Ivan", "Clara", "Marco", "Rosa", "Samuel"};
static const char *const ITEMS_EN[] = {"books", "pencils", "notebooks", "screws", "balloons", "stamps", "buttons",
                                       "plates"};
static const char *const ITEMS_ES[] = {"libros", "lápices", "cuadernos", "tornillos", "globos", "sellos", "botones",
                                       "platos"};
#define N_PEOPLE 16
#define N_ITEMS 8

enum { OP_ADD, OP_GIVE, OP_BOXES, OP_DOUBLE, OP_SPLIT, N_OPS };

typedef struct {
    int person, item, start, n_ops, diff;
    int op[8], a[8], b[8];
    int distractor_at, distractor_person, distractor_n; /* hard: sentence index (-1 none) */
    int64_t gold;
} word_problem;

/* Divisors a of v with 2 <= a <= 12 and a < v, written to d; returns the count. */
static int divisors(int v, int *d) {
    int n = 0;
    for (int a = 2; a <= 12 && a < v; a++)
        if (v % a == 0) d[n++] = a;
    return n;
}

static void make_word_problem(uint64_t seed, word_problem *w) {
    cb_rng r;
    cb_rng_seed(&r, seed);
    memset(w, 0, sizeof *w);
    w->diff = draw_difficulty(&r);
    w->person = pick(&r, N_PEOPLE);
    w->item = pick(&r, N_ITEMS);
    w->start = range(&r, 5, 50);
    w->n_ops = w->diff == 0 ? 2 : w->diff == 1 ? range(&r, 3, 4) : range(&r, 5, 7);
    int v = w->start;
    for (int k = 0; k < w->n_ops; k++) {
        for (int tries = 0;; tries++) {
            int op = pick(&r, N_OPS), a = 0, b = 0, nv = -1;
            int d[12], nd;
            switch (op) {
            case OP_ADD: a = range(&r, 2, 20), nv = v + a; break;
            case OP_GIVE:
                if (v >= 3) a = range(&r, 2, v - 1 < 20 ? v - 1 : 20), nv = v - a;
                break;
            case OP_BOXES: a = range(&r, 2, 5), b = range(&r, 2, 12), nv = v + a * b; break;
            case OP_DOUBLE: nv = 2 * v; break;
            case OP_SPLIT:
                if ((nd = divisors(v, d)) > 0) a = d[pick(&r, nd)], nv = v / a;
                break;
            }
            if (tries > 64 && nv < 1) op = OP_GIVE, a = 2, nv = v - 2; /* unreachable in practice: v >= 3 here */
            if (nv >= 1 && nv <= 10000) {
                w->op[k] = op, w->a[k] = a, w->b[k] = b;
                v = nv;
                break;
            }
        }
    }
    w->gold = v;
    w->distractor_at = -1;
    if (w->diff == 2) {
        w->distractor_at = range(&r, 1, w->n_ops); /* after the opening sentence */
        w->distractor_person = (w->person + 1 + pick(&r, N_PEOPLE - 1)) % N_PEOPLE;
        w->distractor_n = range(&r, 5, 50);
    }
}

/* The problem text in English (es = 0) or Spanish (es = 1), without the suffix. */
static char *word_problem_text(const word_problem *w, int es) {
    const char *P = PEOPLE[w->person], *it = es ? ITEMS_ES[w->item] : ITEMS_EN[w->item];
    char *t = cb_str_appendf(NULL, es ? "%s tiene %d %s." : "%s has %d %s.", P, w->start, it);
    for (int k = 0; k < w->n_ops && t; k++) {
        if (w->distractor_at == k + 1) /* hard: another person's items, after k + 1 sentences */
            t = cb_str_appendf(t, es ? " %s tiene %d %s." : " %s has %d %s.", PEOPLE[w->distractor_person], w->distractor_n, it);
        if (!t) break;
        switch (w->op[k]) {
        case OP_ADD: t = cb_str_appendf(t, es ? " %s compra %d %s más." : " %s buys %d more %s.", P, w->a[k], it); break;
        case OP_GIVE:
            t = cb_str_appendf(t, es ? " %s regala %d %s a un amigo." : " %s gives %d %s to a friend.", P, w->a[k], it);
            break;
        case OP_BOXES:
            t = es ? cb_str_appendf(t, " %s compra %d cajas con %d %s en cada caja.", P, w->a[k], w->b[k], it)
                   : cb_str_appendf(t, " %s buys %d boxes with %d %s in each box.", P, w->a[k], w->b[k], it);
            break;
        case OP_DOUBLE:
            t = es ? cb_str_appendf(t, " La cantidad de %s de %s se duplica.", it, P)
                   : cb_str_appendf(t, " The number of %s that %s has doubles.", it, P);
            break;
        case OP_SPLIT:
            t = es ? cb_str_appendf(t, " %s reparte los %s en %d bolsas iguales y se queda con una.", P, it, w->a[k])
                   : cb_str_appendf(t, " %s shares the %s equally among %d bags and keeps one bag.", P, it, w->a[k]);
            break;
        }
    }
    if (t) t = cb_str_appendf(t, es ? " ¿Cuántos %s tiene %s ahora?" : " How many %s does %s have now?", it, P);
    return t;
}

/* ---- E and S: extractive QA over town profiles ------------------------------------ */

static const char *const TOWNS[] = {"Aldmoor",   "Brackenfield", "Corvale",  "Dunmere",   "Eastwick",  "Fernhollow",
                                    "Glenrock",  "Harrowby",     "Ivybridge", "Kestrel Bay", "Larkspur", "Millbrook",
                                    "Northcliff", "Oakhaven",    "Pinehurst", "Redwater"};
static const char *const RIVERS[] = {"Alder", "Brent", "Colne", "Dove", "Esk", "Frome", "Lune", "Ouse", "Tamar", "Wey"};
static const char *const MAYORS[] = {"Anna Keller",  "Brian Osei",    "Carla Mendes",   "David Lin",   "Elena Petrova",
                                     "Frank Moreau", "Grace Adeyemi", "Hugo Santos",    "Irene Costa", "Jonas Berg"};
static const char *const MONTHS_EN[] = {"January", "February", "March",     "April",   "May",      "June",
                                        "July",    "August",   "September", "October", "November", "December"};
static const char *const MONTHS_ES[] = {"enero", "febrero", "marzo",      "abril",   "mayo",      "junio",
                                        "julio", "agosto",  "septiembre", "octubre", "noviembre", "diciembre"};
static const char *const TWINS[] = {"Arles", "Bruges", "Coimbra", "Delft", "Graz", "Lucca", "Nantes", "Ronda",
                                    "Tartu", "Uppsala"};
enum { A_YEAR, A_RIVER, A_MAYOR, A_MONTH, A_POP, A_TWIN, N_ATTR };

/* Writes the text of attribute a of town t (values v[t][a]) into buf. */
static void attr_text(int a, int v, int es, char *buf, size_t cap) {
    switch (a) {
    case A_YEAR:
    case A_POP: snprintf(buf, cap, "%d", v); break;
    case A_RIVER: snprintf(buf, cap, "%s", RIVERS[v]); break;
    case A_MAYOR: snprintf(buf, cap, "%s", MAYORS[v]); break;
    case A_MONTH: snprintf(buf, cap, "%s", es ? MONTHS_ES[v] : MONTHS_EN[v]); break;
    default: snprintf(buf, cap, "%s", TWINS[v]); break;
    }
}

/* Draws n distinct values of [0, pool) into out (partial Fisher-Yates). */
static void distinct(cb_rng *r, int pool, int n, int *out) { /* pool <= 128 */
    int idx[128];
    for (int i = 0; i < pool; i++) idx[i] = i;
    for (int i = 0; i < n; i++) {
        int j = i + pick(r, pool - i);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        out[i] = idx[i];
    }
}

static int gen_towns(cb_item *it, cb_rng *r, int es, int diff, char **text, char **gold, cJSON *meta) {
    int nt = diff == 0 ? 1 : diff == 1 ? 3 : 6;
    int town[6], val[6][N_ATTR];
    distinct(r, 16, nt, town);
    static const int pools[N_ATTR] = {0, 10, 10, 12, 0, 10};
    for (int a = 0; a < N_ATTR; a++) {
        int d[6];
        if (a == A_YEAR || a == A_POP) {
            for (int t = 0; t < nt; t++) {
                int lo = a == A_YEAR ? 1200 : 800, hi = a == A_YEAR ? 1899 : 99000;
                /* hard: values overlap (two towns founded in the same year) */
                val[t][a] = diff == 2 && t > 0 && pick(r, 3) == 0 ? val[pick(r, t)][a] : range(r, lo, hi);
            }
            continue;
        }
        if (diff == 2) { /* hard: values drawn from a pool of 3, so towns share them */
            int small[3];
            distinct(r, pools[a], 3, small);
            for (int t = 0; t < nt; t++) d[t] = small[pick(r, 3)];
        } else {
            distinct(r, pools[a], nt, d);
        }
        for (int t = 0; t < nt; t++) val[t][a] = d[t];
    }
    char *p = NULL;
    for (int t = 0; t < nt; t++) {
        const char *T = TOWNS[town[t]];
        char y[16], pop[16];
        snprintf(y, sizeof y, "%d", val[t][A_YEAR]);
        snprintf(pop, sizeof pop, "%d", val[t][A_POP]);
        p = es ? cb_str_appendf(p,
                         "%s%s fue fundada en %s. Está junto al río %s. Su alcalde es %s. La fiesta del pueblo se "
                         "celebra cada %s. %s tiene %s habitantes. Su ciudad hermana es %s.",
                         t ? "\n\n" : "", T, y, RIVERS[val[t][A_RIVER]], MAYORS[val[t][A_MAYOR]],
                         MONTHS_ES[val[t][A_MONTH]], T, pop, TWINS[val[t][A_TWIN]])
               : cb_str_appendf(p,
                         "%s%s was founded in %s. It lies on the river %s. Its mayor is %s. The town festival is held "
                         "every %s. %s has a population of %s. Its twin town is %s.",
                         t ? "\n\n" : "", T, y, RIVERS[val[t][A_RIVER]], MAYORS[val[t][A_MAYOR]],
                         MONTHS_EN[val[t][A_MONTH]], T, pop, TWINS[val[t][A_TWIN]]);
        if (!p) return CB_ENOMEM;
    }
    int qt = pick(r, nt), qa = pick(r, N_ATTR);
    static const char *const Q_EN[] = {"In which year was %s founded?",
                                       "On which river does %s lie?",
                                       "Who is the mayor of %s?",
                                       "In which month is the town festival of %s held?",
                                       "What is the population of %s?",
                                       "What is the twin town of %s?"};
    static const char *const Q_ES[] = {"¿En qué año fue fundada %s?",
                                       "¿Junto a qué río está %s?",
                                       "¿Quién es el alcalde de %s?",
                                       "¿En qué mes se celebra la fiesta del pueblo de %s?",
                                       "¿Cuántos habitantes tiene %s?",
                                       "¿Cuál es la ciudad hermana de %s?"};
    char q[160], g[64];
    snprintf(q, sizeof q, es ? Q_ES[qa] : Q_EN[qa], TOWNS[town[qt]]);
    attr_text(qa, val[qt][qa], es, g, sizeof g);
    p = cb_str_appendf(p, es ? "\n\nLee el texto y responde a la pregunta.\nPregunta: %s" : "\n\nRead the text and answer "
                                                                                      "the question.\nQuestion: %s",
                q);
    if (!p) return CB_ENOMEM;
    static const char *const ANAMES[] = {"founding_year", "river", "mayor", "festival_month", "population", "twin_town"};
    cJSON_AddStringToObject(meta, "attribute", ANAMES[qa]);
    cJSON_AddStringToObject(meta, "town", TOWNS[town[qt]]);
    cJSON_AddNumberToObject(meta, "towns", nt);
    cJSON *others = cJSON_AddArrayToObject(meta, "others");
    for (int t = 0; t < nt; t++) {
        char o[64];
        attr_text(qa, val[t][qa], es, o, sizeof o);
        int dup = strcmp(o, g) == 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, others) dup |= strcmp(e->valuestring, o) == 0;
        if (!dup) cJSON_AddItemToArray(others, cJSON_CreateString(o));
    }
    (void)it;
    *text = p;
    return (*gold = strdup(g)) ? 0 : CB_ENOMEM;
}

/* ---- C: bug localization ---------------------------------------------------------- */

enum { BUG_INIT, BUG_OP, BUG_RANGE, BUG_RETURN, N_BUGS };
static const char *const BUG_NAMES[] = {"wrong_initial_value", "wrong_operator", "off_by_one_range",
                                        "wrong_returned_variable"};

/* A template: lines (without the def line's docstring), the purpose, and for
 * each bug kind the line it replaces and the buggy text. */
typedef struct {
    const char *name, *params, *purpose;
    const char *lines[6];
    int n_lines;
    int bug_line[N_BUGS];
    const char *bug_text[N_BUGS];
} fn_template;

static const fn_template FUNCS[] = {
    {"total", "xs", "return the sum of the numbers in xs",
     {"def total(xs):", "    acc = 0", "    for i in range(len(xs)):", "        acc = acc + xs[i]", "    return acc"},
     5, {1, 3, 2, 4},
     {"    acc = 1", "        acc = acc - xs[i]", "    for i in range(len(xs) - 1):", "    return i"}},
    {"largest", "xs", "return the largest number in the non-empty list xs",
     {"def largest(xs):", "    best = xs[0]", "    for i in range(1, len(xs)):", "        if xs[i] > best:",
      "            best = xs[i]", "    return best"},
     6, {1, 3, 2, 5},
     {"    best = 0", "        if xs[i] < best:", "    for i in range(1, len(xs) - 1):", "    return i"}},
    {"count_even", "xs", "return how many numbers in xs are even",
     {"def count_even(xs):", "    count = 0", "    for i in range(len(xs)):", "        if xs[i] % 2 == 0:",
      "            count = count + 1", "    return count"},
     6, {1, 3, 2, 5},
     {"    count = 1", "        if xs[i] % 2 != 0:", "    for i in range(1, len(xs)):", "    return i"}},
    {"reverse", "s", "return the string s reversed",
     {"def reverse(s):", "    out = \"\"", "    for i in range(len(s) - 1, -1, -1):", "        out = out + s[i]",
      "    return out"},
     5, {1, 3, 2, 4},
     {"    out = \" \"", "        out = s[i] + out", "    for i in range(len(s) - 1, 0, -1):", "    return s"}},
    {"factorial", "n", "return n! (the product 1 * 2 * ... * n)",
     {"def factorial(n):", "    result = 1", "    for k in range(1, n + 1):", "        result = result * k",
      "    return result"},
     5, {1, 3, 2, 4},
     {"    result = 0", "        result = result + k", "    for k in range(1, n):", "    return k"}},
    {"mean", "xs", "return the mean of the numbers in the non-empty list xs",
     {"def mean(xs):", "    total = 0", "    for x in xs:", "        total = total + x", "    return total / len(xs)"},
     5, {1, 3, 2, 4},
     {"    total = 1", "        total = total * x", "    for x in xs[1:]:", "    return x / len(xs)"}},
    {"is_sorted", "xs", "return True when xs is sorted in increasing order",
     {"def is_sorted(xs):", "    ok = True", "    for i in range(len(xs) - 1):", "        if xs[i] > xs[i + 1]:",
      "            ok = False", "    return ok"},
     6, {1, 3, 2, 5},
     {"    ok = False", "        if xs[i] < xs[i + 1]:", "    for i in range(len(xs) - 2):", "    return i"}},
    {"index_of", "xs, target", "return the index of the first element of xs equal to target, or -1",
     {"def index_of(xs, target):", "    pos = -1", "    for i in range(len(xs)):",
      "        if xs[i] == target and pos == -1:", "            pos = i", "    return pos"},
     6, {1, 3, 2, 5},
     {"    pos = 0", "        if xs[i] != target and pos == -1:", "    for i in range(1, len(xs)):", "    return i"}},
};
#define N_FUNCS 8

/* Appends the template's lines (medium/hard: a docstring and a comment line
 * after the def) with the bug applied when `bug` >= 0; OUT *bug_at: the
 * 1-based line number (counting from *next) of the bug. */
static char *emit_fn(char *p, const fn_template *f, int longer, int bug, int *next, int *bug_at) {
    for (int i = 0; i < f->n_lines && p; i++) {
        const char *line = bug >= 0 && f->bug_line[bug] == i ? f->bug_text[bug] : f->lines[i];
        if (bug >= 0 && f->bug_line[bug] == i) *bug_at = *next;
        p = cb_str_appendf(p, "%2d | %s\n", (*next)++, line);
        if (p && longer && i == 0) {
            p = cb_str_appendf(p, "%2d |     \"\"\"%c%s.\"\"\"\n", (*next)++, toupper((unsigned char)f->purpose[0]),
                        f->purpose + 1);
            if (p) p = cb_str_appendf(p, "%2d |     # one pass over the input\n", (*next)++);
        }
    }
    return p;
}

static int gen_coding(cb_rng *r, int diff, char **text, int64_t *gold, cJSON *meta) {
    const fn_template *f = &FUNCS[pick(r, N_FUNCS)];
    int bug = pick(r, N_BUGS), next = 1, bug_at = 0;
    char *p = NULL;
    if (diff < 2) {
        p = cb_str_appendf(NULL, "The Python function below should %s. Exactly one of its lines contains a bug. Which line "
                          "number is it?\n\n",
                    f->purpose);
        p = p ? emit_fn(p, f, diff == 1, bug, &next, &bug_at) : NULL;
        cJSON_AddStringToObject(meta, "bug_in", f->name);
    } else { /* helper + caller, the bug in either */
        int in_caller = pick(r, 2);
        const char *extra = strchr(f->params, ',') ? ", target" : "";
        p = cb_str_appendf(NULL,
                    "The Python function main below should %s, using the helper %s. Exactly one line of the program "
                    "contains a bug. Which line number is it?\n\n",
                    f->purpose, f->name);
        p = p ? emit_fn(p, f, 1, in_caller ? -1 : bug, &next, &bug_at) : NULL;
        if (in_caller) bug = pick(r, 2) ? BUG_RANGE : BUG_RETURN;
        const char *l3 = in_caller && bug == BUG_RANGE ? "values[1:]" : "values";
        if (p) p = cb_str_appendf(p, "%2d | def main(data%s):\n", next++, extra);
        if (p) p = cb_str_appendf(p, "%2d |     values = data[:]\n", next++);
        if (in_caller && bug == BUG_RANGE) bug_at = next;
        if (p) p = cb_str_appendf(p, "%2d |     answer = %s(%s%s)\n", next++, f->name, l3, extra);
        if (in_caller && bug == BUG_RETURN) bug_at = next;
        if (p) p = cb_str_appendf(p, "%2d |     return %s\n", next++, in_caller && bug == BUG_RETURN ? "values" : "answer");
        cJSON_AddStringToObject(meta, "bug_in", in_caller ? "main" : f->name);
    }
    if (!p) return CB_ENOMEM;
    size_t l = strlen(p);
    if (l && p[l - 1] == '\n') p[l - 1] = 0;
    cJSON_AddStringToObject(meta, "function", f->name);
    cJSON_AddStringToObject(meta, "bug", BUG_NAMES[bug]);
    cJSON_AddNumberToObject(meta, "lines", next - 1);
    *text = p;
    *gold = bug_at;
    return 0;
}

/* ---- C&R: trace a loop program ----------------------------------------------------- */

/* Runs the 3.2 trace program (inner loop of K iterations when K > 0). */
int64_t cb_cross_trace(int64_t A, int64_t B, int64_t C, int64_t M, int64_t N, int64_t K) {
    int64_t x = A, y = B;
    for (int64_t i = 0; i < N; i++) {
        if (K <= 0) {
            if ((x + i) % M == 0) y = y + x;
            else x = x + C;
        } else {
            for (int64_t j = 0; j < K; j++) {
                if ((x + i + j) % M == 0) y = y + x;
                else x = x + C;
            }
        }
    }
    return x + y;
}

static int gen_trace(cb_rng *r, int diff, char **text, int64_t *gold, cJSON *meta) {
    int A = range(r, 1, 20), B = range(r, 1, 20), C = range(r, 1, 9), M = range(r, 2, 5);
    int N = diff == 0 ? 3 : diff == 1 ? 6 : 10, K = diff == 2 ? range(r, 2, 3) : 0;
    char *p = cb_str_appendf(NULL, "What does this Python program print?\n\nx = %d\ny = %d\nfor i in range(%d):\n", A, B, N);
    if (p && K)
        p = cb_str_appendf(p,
                    "    for j in range(%d):\n        if (x + i + j) %% %d == 0:\n            y = y + x\n"
                    "        else:\n            x = x + %d\nprint(x + y)",
                    K, M, C);
    else if (p)
        p = cb_str_appendf(p, "    if (x + i) %% %d == 0:\n        y = y + x\n    else:\n        x = x + %d\nprint(x + y)", M,
                    C);
    if (!p) return CB_ENOMEM;
    cJSON *c = cJSON_AddObjectToObject(meta, "constants");
    cJSON_AddNumberToObject(c, "A", A);
    cJSON_AddNumberToObject(c, "B", B);
    cJSON_AddNumberToObject(c, "C", C);
    cJSON_AddNumberToObject(c, "M", M);
    cJSON_AddNumberToObject(c, "N", N);
    cJSON_AddNumberToObject(c, "K", K);
    *gold = cb_cross_trace(A, B, C, M, N, K);
    *text = p;
    return 0;
}

/* ---- L: needle retrieval ----------------------------------------------------------- */

static const char *const COLOURS[] = {"red",    "blue",   "green", "yellow", "black",
                                      "white",  "orange", "purple", "grey",  "brown"};
static const char *const OBJECTS[] = {"lamp",  "box",   "kettle", "umbrella", "camera", "drill",
                                      "helmet", "clock", "radio",  "jacket",   "basket", "guitar"};
static const char *const OWNERS[] = {"Alice", "Bruno", "Chloe", "Daniel", "Emma",  "Felix", "Greta", "Henry",
                                     "Isla",  "James", "Kira",  "Liam",   "Maya",  "Noah",  "Olga",  "Peter"};
static const char *const F_ADJ[] = {"quiet", "busy", "old", "narrow", "bright", "dusty", "small", "long"};
static const char *const F_NOUN[] = {"corridor", "hallway", "office", "staircase",
                                     "courtyard", "workshop", "garden", "kitchen"};
static const char *const F_VERB[] = {"was cleaned", "was painted", "stayed empty", "was repaired", "was visited",
                                     "was locked"};
static const char *const F_TIME[] = {"on Monday", "last week", "in the morning", "after lunch", "before noon",
                                     "at night"};

static const int LC_CHARS[] = {8000, 32000, 96000};

static int gen_needle(cb_rng *r, int diff, char **text, char **gold_s, int64_t *gold_i, cJSON *meta) {
    int target = LC_CHARS[diff], nrec = 10 + target / 2000;
    int combo[120], lockers[64], owner[64], pos[64];
    distinct(r, 120, nrec, combo);
    for (int i = 0; i < nrec; i++) {
        for (;;) {
            int v = range(r, 100, 999), dup = 0;
            for (int j = 0; j < i; j++) dup |= lockers[j] == v;
            if (!dup) {
                lockers[i] = v;
                break;
            }
        }
        owner[i] = pick(r, 16);
        pos[i] = pick(r, target);
    }
    /* record order by position (insertion sort keeps it deterministic) */
    int order[64];
    for (int i = 0; i < nrec; i++) {
        int j = i;
        while (j > 0 && pos[order[j - 1]] > pos[i]) order[j] = order[j - 1], j--;
        order[j] = i;
    }
    /* hard: owner sentences at their own positions */
    int opos[64], oorder[64];
    for (int i = 0; i < nrec; i++) opos[i] = diff == 2 ? pick(r, target) : target + 1;
    for (int i = 0; i < nrec; i++) {
        int j = i;
        while (j > 0 && opos[oorder[j - 1]] > opos[i]) oorder[j] = oorder[j - 1], j--;
        oorder[j] = i;
    }
    char *p = cb_str_appendf(NULL, "Read the following notes and answer the question at the end.\n\n");
    size_t len0 = p ? strlen(p) : 0;
    int ri = 0, oi = 0, sentences = 0;
    while (p && (strlen(p) - len0 < (size_t)target || ri < nrec || (diff == 2 && oi < nrec))) {
        size_t len = strlen(p) - len0;
        if (ri < nrec && (size_t)pos[order[ri]] <= len) {
            int k = order[ri++];
            p = cb_str_appendf(p, "The %s %s is stored in locker %d.", COLOURS[combo[k] / 12], OBJECTS[combo[k] % 12],
                        lockers[k]);
        } else if (diff == 2 && oi < nrec && (size_t)opos[oorder[oi]] <= len) {
            int k = oorder[oi++];
            p = cb_str_appendf(p, "Locker %d belongs to %s.", lockers[k], OWNERS[owner[k]]);
        } else if (len >= (size_t)target) { /* past the target: the remaining records */
            if (ri < nrec) pos[order[ri]] = 0;
            else opos[oorder[oi]] = 0;
            continue;
        } else {
            p = cb_str_appendf(p, "The %s %s %s %s.", F_ADJ[pick(r, 8)], F_NOUN[pick(r, 8)], F_VERB[pick(r, 6)],
                        F_TIME[pick(r, 6)]);
        }
        if (p) p = cb_str_appendf(p, "%s", ++sentences % 6 == 0 ? "\n" : " ");
    }
    int q = pick(r, nrec);
    if (p)
        p = diff == 2 ? cb_str_appendf(p, "\n\nQuestion: Who owns the locker in which the %s %s is stored?",
                                COLOURS[combo[q] / 12], OBJECTS[combo[q] % 12])
                      : cb_str_appendf(p, "\n\nQuestion: In which locker is the %s %s stored?", COLOURS[combo[q] / 12],
                                OBJECTS[combo[q] % 12]);
    if (!p) return CB_ENOMEM;
    cJSON_AddNumberToObject(meta, "target_chars", target);
    cJSON_AddNumberToObject(meta, "records", nrec);
    if (diff == 2) {
        cJSON_AddNumberToObject(meta, "locker", lockers[q]);
        cJSON *others = cJSON_AddArrayToObject(meta, "others");
        for (int i = 0; i < 16; i++) {
            int used = 0;
            for (int k = 0; k < nrec; k++) used |= owner[k] == i;
            if (used && i != owner[q]) cJSON_AddItemToArray(others, cJSON_CreateString(OWNERS[i]));
        }
        *gold_s = strdup(OWNERS[owner[q]]);
        if (!*gold_s) {
            free(p);
            return CB_ENOMEM;
        }
    } else {
        *gold_i = lockers[q];
    }
    *text = p;
    return 0;
}

/* ---- L&C: a long module of small functions ----------------------------------------- */

/* f(x) = a*x + b + s*callee(x), callee -1 for a leaf. */
typedef struct {
    int a, b, s, callee;
} lc_fn;

static int64_t lc_eval(const lc_fn *fn, int id, int64_t x, int depth) {
    const lc_fn *f = &fn[id];
    int64_t v = (int64_t)f->a * x + f->b;
    if (f->callee >= 0 && depth < 16) v += f->s * lc_eval(fn, f->callee, x, depth + 1);
    return v;
}

static char *lc_render(char *p, const lc_fn *fn, int id) {
    const lc_fn *f = &fn[id];
    p = cb_str_appendf(p, "def f_%d(x): return ", id);
    int any = 0;
    if (p && f->a) p = cb_str_appendf(p, f->a == 1 ? "x" : "%d * x", f->a), any = 1;
    if (p && f->callee >= 0)
        p = any ? cb_str_appendf(p, " %c f_%d(x)", f->s < 0 ? '-' : '+', f->callee) : cb_str_appendf(p, "f_%d(x)", f->callee);
    if (p && f->b) p = cb_str_appendf(p, " %c %d", f->b < 0 ? '-' : '+', abs(f->b));
    return p ? cb_str_appendf(p, "\n") : NULL;
}

static int gen_module(cb_rng *r, int diff, char **text, int64_t *gold, cJSON *meta) {
    int n = diff == 0 ? 200 : diff == 1 ? 400 : 800, L = range(r, 2, 4);
    lc_fn *fn = calloc((size_t)n, sizeof *fn);
    int *order = malloc((size_t)n * sizeof *order);
    if (!fn || !order) {
        free(fn);
        free(order);
        return CB_ENOMEM;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) { /* definition order: a shuffle of the ids */
        int j = pick(r, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    /* the chain: L + 1 functions at positions spread over the module */
    int chain[5];
    for (int c = 0; c <= L; c++) chain[c] = order[c * (n / (L + 1)) + pick(r, n / (L + 1))];
    for (int i = 0; i < n; i++) { /* every function a leaf first */
        fn[i] = (lc_fn){range(r, 1, 5), range(r, 1, 9) * (pick(r, 2) ? 1 : -1), 0, -1};
    }
    for (int i = 0; i < n; i++) { /* distractors: a third of them call a random leaf */
        if (pick(r, 3) == 0) {
            int c = pick(r, n);
            if (fn[c].callee < 0 && c != i) fn[i].callee = c, fn[i].s = pick(r, 2) ? 1 : -1;
        }
    }
    for (int c = 0; c < L; c++) { /* the chain: f_q -> ... -> leaf */
        lc_fn *f = &fn[chain[c]];
        f->callee = chain[c + 1];
        f->a = pick(r, 3);
        f->s = f->a == 0 || pick(r, 2) ? 1 : -1;
        f->b = f->a == 0 || pick(r, 2) ? range(r, 1, 9) * (pick(r, 2) ? 1 : -1) : 0;
    }
    fn[chain[L]].callee = -1;
    for (int i = 0; i < n; i++) /* no cycles: only leaves are called outside the chain */
        if (fn[i].callee >= 0 && fn[fn[i].callee].callee >= 0) {
            int in_chain = 0;
            for (int c = 0; c < L; c++) in_chain |= chain[c] == i;
            if (!in_chain) fn[i].callee = -1;
        }
    int v = range(r, 1, 9);
    char *p = cb_str_appendf(NULL, "Here is a Python module.\n\n");
    for (int i = 0; i < n && p; i++) p = lc_render(p, fn, order[i]);
    if (p) p = cb_str_appendf(p, "\nWhat is the value of f_%d(%d)?", chain[0], v);
    if (p) {
        *gold = lc_eval(fn, chain[0], v, 0);
        cJSON *ch = cJSON_AddArrayToObject(meta, "chain");
        for (int c = 0; c <= L; c++) cJSON_AddItemToArray(ch, cJSON_CreateNumber(chain[c]));
        cJSON_AddNumberToObject(meta, "functions", n);
        cJSON_AddNumberToObject(meta, "x", v);
    }
    free(fn);
    free(order);
    if (!p) return CB_ENOMEM;
    *text = p;
    return 0;
}

/* ---- items ------------------------------------------------------------------------- */

static int is_spanish_subtask(int st) { return st == ST_SR || st == ST_S; }
static int is_arith_subtask(int st) { return st == ST_R || st == ST_SR || st == ST_CR || st == ST_LC; }

static int set_requests(cb_item *it, int max_tokens, const char *cont_prefix, const char *gold) {
    int n = cont_prefix ? 2 : 1;
    cb_treq *reqs = cb_item_alloc(it, (size_t)n * sizeof *reqs);
    if (!reqs) return CB_ENOMEM;
    reqs[0] = (cb_treq){.kind = CB_TREQ_GENERATE, .target = CB_TARGET_MODEL, .tag = 0, .turns = it->turns,
                        .n_turns = it->n_turns, .max_tokens = max_tokens};
    if (cont_prefix) {
        char *cont = cb_item_strdup(it, gold, -1), *cp = cb_item_strdup(it, cont_prefix, -1);
        char *c2 = cont ? cb_item_alloc(it, strlen(cont) + 2) : NULL;
        if (!cp || !c2) return CB_ENOMEM;
        c2[0] = ' ';
        memcpy(c2 + 1, cont, strlen(cont) + 1);
        reqs[1] = (cb_treq){.kind = CB_TREQ_LOGLIK, .target = CB_TARGET_MODEL, .tag = 1, .optional = 1,
                            .turns = it->turns, .n_turns = it->n_turns, .cont_prefix = cp, .continuation = c2};
    }
    cb_item_set_reqs(it, reqs, n);
    return 0;
}

static int gen_file_item(const cc_state *s, cb_item *it, cJSON *meta, cb_err *err);

static int generate(const void *vs, uint64_t task_seed, cb_item *it, cb_err *err) {
    const cc_state *s = vs;
    int st = subtask_index(it->subtask);
    if (st < 0) return cb_err_set(err, CB_EUSAGE, "%s: unknown subtask %s", FAMILY, it->subtask);
    cJSON *meta = cJSON_CreateObject();
    if (!meta) return cb_err_set(err, CB_ENOMEM, "out of memory");
    int rc = 0;
    char *text = NULL, *gold_s = NULL;
    int64_t gold_i = 0;
    cJSON_AddStringToObject(meta, "source", s->file ? "file" : "synthetic");
    if (subtask_parts[st][0]) {
        cJSON *ind = cJSON_AddArrayToObject(meta, "individual");
        cJSON_AddItemToArray(ind, cJSON_CreateString(subtask_parts[st][0]));
        cJSON_AddItemToArray(ind, cJSON_CreateString(subtask_parts[st][1]));
    }
    cJSON_AddNumberToObject(meta, "max_tokens", s->max_tokens);
    if (cb_item_set_capabilities(it, subtask_caps[st], NULL)) goto nomem;
    if (s->file) {
        cJSON_AddNumberToObject(meta, "judge_max_tokens", s->judge_max_tokens);
        rc = gen_file_item(s, it, meta, err);
        if (rc) goto out;
        it->meta = meta;
        meta = NULL;
        goto out;
    }
    /* S&R renders the R instance of the same index: same seed */
    if (st == ST_SR) it->seed = cb_task_item_seed(task_seed, FAMILY, "reasoning", it->index);
    cb_rng r;
    cb_rng_seed(&r, it->seed);
    int diff = 0, es = is_spanish_subtask(st);
    if (st == ST_R || st == ST_SR) {
        word_problem w;
        make_word_problem(it->seed, &w);
        diff = w.diff;
        text = word_problem_text(&w, es);
        gold_i = w.gold;
        cJSON_AddNumberToObject(meta, "operations", w.n_ops);
        cJSON_AddBoolToObject(meta, "distractor", w.distractor_at >= 0);
        if (!text) goto nomem;
    } else {
        diff = draw_difficulty(&r);
        switch (st) {
        case ST_E:
        case ST_S: rc = gen_towns(it, &r, es, diff, &text, &gold_s, meta); break;
        case ST_C: rc = gen_coding(&r, diff, &text, &gold_i, meta); break;
        case ST_CR: rc = gen_trace(&r, diff, &text, &gold_i, meta); break;
        case ST_L: rc = gen_needle(&r, diff, &text, &gold_s, &gold_i, meta); break;
        default: rc = gen_module(&r, diff, &text, &gold_i, meta); break;
        }
        if (rc) goto nomem;
    }
    cJSON_AddStringToObject(meta, "difficulty", DIFF_NAMES[diff]);
    char *prompt = cb_str_appendf(NULL, "%s%s", text, es ? SUFFIX_ES : SUFFIX_EN);
    if (!prompt) goto nomem;
    cb_turn t = {CB_TURN_USER, prompt};
    rc = cb_item_set_turns(it, &t, 1);
    free(prompt);
    if (rc) goto nomem;
    if (gold_s ? cb_item_set_gold_str(it, gold_s) : cb_item_set_gold_int(it, gold_i)) goto nomem;
    it->grader = CB_GRADER_RULE;
    it->meta = meta;
    meta = NULL;
    if (set_requests(it, s->max_tokens, es ? "Respuesta:" : "Answer:", it->gold)) goto nomem;
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "out of memory");
out:
    cJSON_Delete(meta);
    free(text);
    free(gold_s);
    return rc;
}

static int is_file_item(const cb_item *it) { return strcmp(cb_item_meta_str(it, "source", ""), "file") == 0; }

static int build_requests(cb_item *it, cb_err *err) {
    int st = subtask_index(it->subtask);
    if (st < 0 || it->n_turns < 1) return cb_err_set(err, CB_EFORMAT, "%s: unknown subtask or no turn", it->id);
    int rc = is_file_item(it) ? set_requests(it, cb_item_meta_int(it, "max_tokens", 1024), NULL, NULL)
                              : set_requests(it, cb_item_meta_int(it, "max_tokens", 1024),
                                             is_spanish_subtask(st) ? "Respuesta:" : "Answer:", it->gold);
    return rc ? cb_err_set(err, CB_ENOMEM, "out of memory") : 0;
}

/* ---- file mode: items and the judge ------------------------------------------------ */

static int gen_file_item(const cc_state *s, cb_item *it, cJSON *meta, cb_err *err) {
    const cb_crosseval_row *row = cb_crosseval_get(s->file, it->subtask, it->index);
    if (!row)
        return cb_err_set(err, CB_EUSAGE, "%s: %s has %d text-only items of subtask %s; item %" PRId64 " asked for",
                          FAMILY, s->source + 5, cb_crosseval_count(s->file, it->subtask), it->subtask, it->index);
    cJSON_AddStringToObject(meta, "prompt_id", row->prompt_id);
    cJSON_AddStringToObject(meta, "capability_file", row->capability);
    cJSON_AddStringToObject(meta, "difficulty", row->difficulty);
    cJSON_AddStringToObject(meta, "l1_category", row->l1_category);
    cJSON_AddStringToObject(meta, "l2_category", row->l2_category);
    cJSON_AddStringToObject(meta, "attachment", row->attachment ? row->attachment : "");
    cJSON_AddStringToObject(meta, "prompt_text", row->prompt);
    cJSON_AddNumberToObject(meta, "skipped_unsupported_in_file", cb_crosseval_skipped_unsupported(s->file));
    cJSON *refs = cJSON_AddArrayToObject(meta, "references");
    for (int i = 0; i < 3; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "response", row->response[i]);
        cJSON *ra = cJSON_AddArrayToObject(o, "ratings"), *ea = cJSON_AddArrayToObject(o, "explanations");
        for (int h = 0; h < 2; h++) {
            cJSON_AddItemToArray(ra, cJSON_CreateNumber(row->rating[i][h]));
            cJSON_AddItemToArray(ea, cJSON_CreateString(row->explanation[i][h]));
        }
        cJSON_AddItemToArray(refs, o);
    }
    char *prompt = row->attachment ? cb_str_appendf(NULL, "%s\n\n%s", row->attachment, row->prompt) : strdup(row->prompt);
    if (!prompt) return cb_err_set(err, CB_ENOMEM, "out of memory");
    cb_turn t = {CB_TURN_USER, prompt};
    int rc = cb_item_set_turns(it, &t, 1) || cb_item_set_gold_str(it, "");
    free(prompt);
    it->grader = CB_GRADER_JUDGE;
    if (rc || set_requests(it, s->max_tokens, NULL, NULL)) return cb_err_set(err, CB_ENOMEM, "out of memory");
    return 0;
}

static const char JUDGE_SYSTEM[] =
    "You are an expert judge of AI assistant responses. Give a 1-5 rating:\n"
    "5 - Amazing: flawless or nearly so; very little left to improve.\n"
    "4 - Pretty good: solid, needing only small fixes.\n"
    "3 - Okay: average; several aspects need work.\n"
    "2 - Pretty bad: serious flaws in helpfulness, accuracy or safety.\n"
    "1 - Horrible: so poor you would warn people away from any model producing it.";

static const char JUDGE_TAIL[] =
    "Keep your scoring consistent with them. Now judge this response:\n"
    "\n"
    "[Model Response to be Evaluated]:\n"
    "%s\n"
    "\n"
    "Write your evaluation with these sections:\n"
    "#### User Prompt Analysis      - the key requirements of the prompt\n"
    "#### Reference Examples Insights - scoring patterns and typical deductions, with point values\n"
    "#### Model Response Evaluation - pros; cons, each with a point deduction\n"
    "#### Holistic Assessment       - weigh strengths against issues; merge similar deductions so nothing is "
    "penalized twice\n"
    "#### Evaluation Score\n"
    "Score: [X]/5";

static const char REASK[] = "The rating must be between 1 and 5.";

static void fmt_rating(char *b, size_t cap, double v) {
    if (v == floor(v)) snprintf(b, cap, "%d", (int)v);
    else snprintf(b, cap, "%g", v);
}

/* The 3.4 user prompt for `response` (malloc'd; NULL on OOM). */
char *cb_cross_judge_prompt(const cJSON *meta, const char *response) {
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(meta, "attachment");
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(meta, "prompt_text");
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(meta, "references");
    char *p = NULL;
    if (cJSON_IsString(att) && att->valuestring[0]) p = cb_str_appendf(p, "[Attached]\n%s\n\n", att->valuestring);
    p = cb_str_appendf(p, "[User Prompt]:\n%s\n\nCalibrate your scale on these rated reference responses:\n\n",
                cJSON_IsString(pr) ? pr->valuestring : "");
    int i = 0;
    const cJSON *ref;
    cJSON_ArrayForEach(ref, refs) {
        const cJSON *resp = cJSON_GetObjectItemCaseSensitive(ref, "response");
        const cJSON *ra = cJSON_GetObjectItemCaseSensitive(ref, "ratings");
        const cJSON *ea = cJSON_GetObjectItemCaseSensitive(ref, "explanations");
        if (p) p = cb_str_appendf(p, "[Reference Example %d]:\nModel Response: %s\n", ++i,
                           cJSON_IsString(resp) ? resp->valuestring : "");
        for (int h = 0; h < 2 && p; h++) {
            const cJSON *rv = cJSON_GetArrayItem(ra, h), *ev = cJSON_GetArrayItem(ea, h);
            char rb[32];
            fmt_rating(rb, sizeof rb, cJSON_IsNumber(rv) ? rv->valuedouble : 0);
            p = cb_str_appendf(p, "Rating %d: %s/5 | Explanation %d: %s\n", h + 1, rb, h + 1,
                        cJSON_IsString(ev) ? ev->valuestring : "");
        }
        if (p) p = cb_str_appendf(p, "\n");
    }
    return p ? cb_str_appendf(p, JUDGE_TAIL, response) : NULL;
}

/* Text after <think>...</think> blocks are removed (malloc'd). */
static char *strip_think(const char *s) {
    size_t n = strlen(s ? s : "");
    char *t = malloc(n + 1), *o = t;
    if (!t) return NULL;
    for (const char *p = s ? s : ""; *p;) {
        if (strncasecmp(p, "<think>", 7) == 0) {
            const char *e = strcasestr(p, "</think>");
            p = e ? e + 8 : p + strlen(p);
            continue;
        }
        *o++ = *p++;
    }
    *o = 0;
    return t;
}

enum { TAG_ANSWER = 0, TAG_LOGLIK = 1, TAG_JUDGE = 100 };

/* 1 when judgement text holds a rating in 1..5 (written to *r). */
static int valid_rating(const cb_task_resp *resp, double *r) {
    return resp->ok && cb_judge_parse_rating(resp->text ? resp->text : "", r) && *r >= 1 && *r <= 5;
}

static int next_round(cb_item *it, const cb_task_resp *resps, int n_resps, int round, int have_judge, cb_err *err) {
    (void)round;
    if (!is_file_item(it) || !have_judge || n_resps < 1) return 0;
    int last = -1, attempts = 0;
    for (int q = 0; q < n_resps; q++)
        if (it->reqs[q].tag >= TAG_JUDGE) last = q, attempts++;
    cb_treq rq;
    if (last < 0) { /* the first judge request */
        if (!resps[0].ok) return 0;
        char *ans = strip_think(resps[0].text);
        if (!ans) return cb_err_set(err, CB_ENOMEM, "out of memory");
        int words = cb_count_words(ans);
        char *prompt = words >= 2 ? cb_cross_judge_prompt(it->meta, ans) : NULL;
        free(ans);
        if (words < 2) return 0; /* rated 1 without a judge call */
        cb_turn *t = cb_item_alloc(it, 2 * sizeof *t);
        if (t) t[0] = (cb_turn){CB_TURN_SYSTEM, cb_item_strdup(it, JUDGE_SYSTEM, -1)};
        if (t) t[1] = (cb_turn){CB_TURN_USER, prompt ? cb_item_strdup(it, prompt, -1) : NULL};
        free(prompt);
        if (!t || !t[0].text || !t[1].text) return cb_err_set(err, CB_ENOMEM, "out of memory");
        rq = (cb_treq){.kind = CB_TREQ_GENERATE, .target = CB_TARGET_JUDGE, .tag = TAG_JUDGE, .turns = t,
                       .n_turns = 2, .max_tokens = cb_item_meta_int(it, "judge_max_tokens", 2048), .temperature = 0,
                       .seed = JUDGE_SEED};
    } else {
        double r;
        if (!resps[last].ok || valid_rating(&resps[last], &r) || attempts >= JUDGE_ATTEMPTS) return 0;
        /* re-ask: the same conversation, the judge's last answer, then the note */
        const cb_treq *o = &it->reqs[last];
        cb_turn *t = cb_item_alloc(it, (size_t)(o->n_turns + 2) * sizeof *t);
        if (!t) return cb_err_set(err, CB_ENOMEM, "out of memory");
        memcpy(t, o->turns, (size_t)o->n_turns * sizeof *t);
        t[o->n_turns] = (cb_turn){CB_TURN_ASSISTANT, cb_item_strdup(it, resps[last].text ? resps[last].text : "", -1)};
        t[o->n_turns + 1] = (cb_turn){CB_TURN_USER, cb_item_strdup(it, REASK, -1)};
        if (!t[o->n_turns].text || !t[o->n_turns + 1].text) return cb_err_set(err, CB_ENOMEM, "out of memory");
        rq = *o;
        rq.tag = TAG_JUDGE + attempts;
        rq.turns = t;
        rq.n_turns = o->n_turns + 2;
    }
    return cb_item_append_reqs(it, &rq, 1) ? cb_err_set(err, CB_ENOMEM, "out of memory") : 0;
}

/* ---- grading ----------------------------------------------------------------------- */

double cb_cross_scale(double r) { return (r - 1.0) * 24.75 + 1.0; }

static void set_score(cb_grade *out, double r) {
    out->score = (r - 1.0) / 4.0;
    cb_grade_add_metric(out, "score_1to100", cb_cross_scale(r));
    cb_grade_add_metric(out, "score_1to5", r);
    cb_grade_add_metric(out, "exact", r >= 4);
}

static int grade_file(const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out, cb_err *err) {
    snprintf(out->grading, sizeof out->grading, "judge");
    if (!resps[0].ok) {
        out->score = NAN;
        out->unparsed = 1;
        out->flags |= CB_GRADE_NO_RESPONSE;
        cb_grade_set_reason(out, "no response from the model: unscored");
        return 0;
    }
    if (resps[0].truncated) out->flags |= CB_GRADE_TRUNCATED;
    char *ans = strip_think(resps[0].text);
    if (!ans) return cb_err_set(err, CB_ENOMEM, "out of memory");
    int words = cb_count_words(ans);
    free(ans);
    if (words < 2) {
        set_score(out, 1);
        cb_grade_add_metric(out, "judge_attempts", 0);
        cb_grade_set_reason(out, "answer of %d word%s: rated 1 without a judge call", words, words == 1 ? "" : "s");
        cb_grade_set_extracted(out, "1");
        return 0;
    }
    int attempts = 0;
    double r = 0;
    int found = 0;
    for (int q = 0; q < n_resps; q++) {
        if (it->reqs[q].tag < TAG_JUDGE) continue;
        attempts++;
        if (!found && valid_rating(&resps[q], &r)) found = 1;
    }
    cb_grade_add_metric(out, "judge_attempts", attempts);
    if (attempts == 0) {
        out->score = NAN;
        out->unparsed = 1;
        cb_grade_set_reason(out, "unscored: file mode needs a judge and none answered");
        return 0;
    }
    if (!found) {
        out->score = NAN;
        out->unparsed = 1;
        cb_grade_add_metric(out, "judge_failed", 1);
        cb_grade_set_reason(out, "judge_failed: no rating in 1..5 after %d attempt%s", attempts,
                            attempts == 1 ? "" : "s");
        return 0;
    }
    set_score(out, r);
    char b[32];
    fmt_rating(b, sizeof b, r);
    cb_grade_set_extracted(out, b);
    cb_grade_set_reason(out, "judge rating %s/5 (attempt %d)", b, attempts);
    return 0;
}

/* Stopword hits of the response (3.3 "response is Spanish"). */
static int in_wordlist(const char *list, const char *w) {
    size_t n = strlen(w);
    for (const char *p = list; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l == n && memcmp(p, w, n) == 0) return 1;
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

int cb_cross_is_spanish(const char *text, int marker_es) {
    const char *es = cb_data_file("stopwords_es.txt", NULL), *en = cb_data_file("stopwords_en.txt", NULL);
    int hes = 0, hen = 0;
    char w[64];
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        while (*p && !(isalpha(*p) || *p >= 0x80)) p++;
        size_t n = 0;
        while (*p && (isalpha(*p) || *p >= 0x80)) {
            if (n < sizeof w - 1) w[n++] = (char)tolower(*p);
            p++;
        }
        w[n] = 0;
        if (!n) continue;
        hes += in_wordlist(es, w);
        hen += in_wordlist(en, w);
    }
    if (hes + hen >= 3) return hes * 10 >= (hes + hen) * 6;
    return marker_es;
}

/* The response prepared for extraction: <think> removed, markdown emphasis
 * and code marks removed, cut at the first later line that starts a new turn.
 * malloc'd. */
static char *prepare(const char *resp) {
    /* TASKS.md 0.4 normalization first (NFKC, digits of every script, U+2212,
     * keycaps, markdown marks), then the think and turn cuts */
    cb_normtext nt = {0};
    if (cb_normalize_answer_text(resp ? resp : "", strlen(resp ? resp : ""), &nt, NULL)) return NULL;
    char *t = strip_think(nt.text);
    cb_normtext_free(&nt);
    if (!t) return NULL;
    char *o = t;
    for (const char *p = t; *p; p++)
        if (!(*p == '*' || *p == '`' || (*p == '_' && p[1] == '_') || (*p == '_' && p > t && p[-1] == '_'))) *o++ = *p;
    *o = 0;
    static const char *const cuts[] = {"Question:", "Q:", "User:", "Human:", "###", NULL};
    for (char *p = strchr(t, '\n'); p; p = strchr(p + 1, '\n')) {
        const char *l = p + 1;
        while (*l == ' ') l++;
        for (int i = 0; cuts[i]; i++)
            if (strncmp(l, cuts[i], strlen(cuts[i])) == 0) {
                *p = 0;
                return t;
            }
    }
    return t;
}

/* Finds the answer line: the rest of the line after the last marker that
 * has a value (numeric: a digit or number word; span: a letter or digit).
 * Returns a malloc'd copy, or NULL when none; *marker_es = 1 for "Respuesta:". */
static char *answer_line(cb_grader_ctx *g, const char *t, int numeric, int *marker_es) {
    const char *best = NULL;
    size_t best_n = 0;
    for (const char *p = t; *p; p++) {
        int ml = strncasecmp(p, "answer:", 7) == 0 ? 7 : strncasecmp(p, "respuesta:", 10) == 0 ? 10 : 0;
        if (!ml) continue;
        const char *s = p + ml, *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *line = strndup(s, n);
        if (!line) return NULL;
        int has = 0;
        if (numeric) {
            cb_int_match m;
            has = cb_last_integer(g, line, ml == 10 ? CB_LANG_ES : CB_LANG_EN, &m);
        } else {
            for (size_t i = 0; i < n && !has; i++) has = isalnum((unsigned char)line[i]) || (unsigned char)line[i] >= 0x80;
        }
        free(line);
        if (has) best = s, best_n = n, *marker_es = ml == 10;
    }
    return best ? strndup(best, best_n) : NULL;
}

/* The first integer of a line: -?[0-9][0-9,]* with commas removed, else a number word. */
static int first_integer(cb_grader_ctx *g, const char *line, int es, int64_t *v) {
    for (const char *p = line; *p; p++) {
        if (!isdigit((unsigned char)*p)) continue;
        int neg = p > line && p[-1] == '-';
        int64_t x = 0;
        for (; isdigit((unsigned char)*p) || *p == ','; p++)
            if (*p != ',' && x < INT64_MAX / 10 - 10) x = x * 10 + (*p - '0');
        *v = neg ? -x : x;
        return 1;
    }
    cb_int_match m;
    if (cb_last_integer(g, line, es ? CB_LANG_ES : CB_LANG_EN, &m)) {
        *v = m.value;
        return 1;
    }
    return 0;
}

/* Whether the normalized `needle` occurs in the normalized `hay` as a run of whole tokens. */
static int token_run(const char *hay, const char *needle) {
    if (!needle[0]) return 0;
    size_t n = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        if ((p == hay || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) return 1;
    return 0;
}

/* The last sentence of t (ends at . ! ? or a newline) that holds a letter or digit. */
static char *last_sentence(const char *t) {
    const char *best = t;
    size_t best_n = 0;
    for (const char *s = t; *s;) {
        size_t n = strcspn(s, ".!?\n");
        int has = 0;
        for (size_t i = 0; i < n && !has; i++) has = isalnum((unsigned char)s[i]);
        if (has) best = s, best_n = n;
        s += n + (s[n] != 0);
    }
    return strndup(best, best_n);
}

static int grade_synthetic(cb_grader_ctx *g, const cb_item *it, const cb_task_resp *resps, int n_resps,
                           cb_grade *out, cb_err *err) {
    int st = subtask_index(it->subtask);
    int es_item = is_spanish_subtask(st);
    cb_lang lang = es_item ? CB_LANG_ES : CB_LANG_EN;
    snprintf(out->grading, sizeof out->grading, "rule");
    for (int q = 0; q < n_resps; q++)
        if (it->reqs[q].tag == TAG_LOGLIK && resps[q].ok) {
            cb_grade_add_metric(out, "gold_logprob", resps[q].logprob_sum);
            if (resps[q].n_tokens > 0) cb_grade_add_metric(out, "gold_logprob_mean", resps[q].logprob_sum / resps[q].n_tokens);
        }
    if (!resps[0].ok) { /* a failed request is not an answer */
        out->score = NAN;
        out->unparsed = 1;
        out->flags |= CB_GRADE_NO_RESPONSE;
        if (st == ST_L || st == ST_LC) {
            cb_grade_add_metric(out, "skipped_context", 1);
            cb_grade_set_reason(out, "skipped_context: the request for a prompt of %zu characters failed (the usual "
                                     "cause is a context shorter than the prompt; never truncated)",
                                strlen(it->turns[0].text));
        } else {
            cb_grade_set_reason(out, "no response: the request failed (unscored)");
        }
        return 0;
    }
    if (resps[0].truncated) out->flags |= CB_GRADE_TRUNCATED;
    char *t = prepare(resps[0].text);
    if (!t) return cb_err_set(err, CB_ENOMEM, "out of memory");
    int numeric = it->gold_type == CB_GOLD_INT, marker_es = 0;
    char *line = answer_line(g, t, numeric, &marker_es);
    int marker = line != NULL, correct = 0, r = 1;
    if (!marker) out->flags |= CB_GRADE_NO_MARKER;
    int spanish_ok = !es_item || cb_cross_is_spanish(t, marker_es);
    if (es_item) cb_grade_add_metric(out, "response_spanish", cb_cross_is_spanish(t, marker_es));
    if (numeric) {
        int64_t v = 0;
        int found;
        if (marker) {
            found = first_integer(g, line, marker_es, &v);
        } else { /* no marker: the last integer of the normalized response (see docs/tasks.md: the
                  * counting extractor's answer_span needs the asked unit, which these items lack) */
            cb_int_match m;
            found = cb_last_integer(g, t, lang, &m);
            v = m.value;
        }
        if (!found) {
            out->unparsed = 1;
        } else {
            char b[32];
            snprintf(b, sizeof b, "%" PRId64, v);
            cb_grade_set_extracted(out, b);
            double e = (double)v - (double)it->gold_int;
            cb_grade_add_metric(out, "abs_error", fabs(e));
            correct = v == it->gold_int;
            double tol = fmax(1.0, 0.05 * fabs((double)it->gold_int));
            r = correct ? (marker && spanish_ok ? 5 : 4) : (is_arith_subtask(st) && fabs(e) <= tol) ? 2 : 1;
        }
    } else {
        char *src = marker ? line : last_sentence(t);
        if (!src) {
            free(t);
            free(line);
            return cb_err_set(err, CB_ENOMEM, "out of memory");
        }
        size_t cap = strlen(src) + strlen(it->gold) + 2;
        char *ns = malloc(cap), *ng = malloc(cap), *no = malloc(cap);
        if (!ns || !ng || !no) {
            free(ns), free(ng), free(no);
            if (src != line) free(src);
            free(t), free(line);
            return cb_err_set(err, CB_ENOMEM, "out of memory");
        }
        cb_normalize_span(src, lang, ns, cap);
        cb_normalize_span(it->gold, lang, ng, cap);
        if (!ns[0]) {
            out->unparsed = 1;
        } else {
            cb_grade_set_extracted(out, src);
            int other = 0;
            const cJSON *others = cJSON_GetObjectItemCaseSensitive(it->meta, "others"), *o;
            cJSON_ArrayForEach(o, others) {
                if (!cJSON_IsString(o) || strlen(o->valuestring) >= cap) continue;
                cb_normalize_span(o->valuestring, lang, no, cap);
                if (strcmp(no, ng) != 0 && token_run(ns, no)) other = 1;
            }
            correct = token_run(ns, ng) && !other;
            double f1 = cb_token_f1(src, it->gold, lang);
            if (f1 >= 0) cb_grade_add_metric(out, "token_f1", f1);
            r = correct ? (marker && spanish_ok ? 5 : 4) : f1 >= 0.5 ? 3 : f1 > 0 ? 2 : 1;
            if (other) cb_grade_add_metric(out, "other_value", 1);
        }
        free(ns), free(ng), free(no);
        if (src != line) free(src);
    }
    set_score(out, r);
    cb_grade_set_reason(out, "%s%s%s -> %d/5", out->unparsed ? "no value" : correct ? "correct" : "wrong",
                        marker ? "" : ", no marker", es_item && !spanish_ok ? ", not in Spanish" : "", r);
    free(line);
    free(t);
    return 0;
}

static int grade(cb_grader_ctx *g, const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out,
                 cb_err *err) {
    if (subtask_index(it->subtask) < 0 || n_resps < 1)
        return cb_err_set(err, CB_EFORMAT, "%s: unknown subtask or no response", it->id);
    return is_file_item(it) ? grade_file(it, resps, n_resps, out, err)
                            : grade_synthetic(g, it, resps, n_resps, out, err);
}

const cb_task_family cb_family_cross_capability = {
    .name = FAMILY,
    .summary = "individual vs. cross capabilities (CrossEval): synthetic rule-graded items, or a CrossEval export "
               "graded by a reference-calibrated judge",
    .grader_version = "cross-capability/1",
    .capability = "cross_capability",
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
    .next_round = next_round,
    .needs_judge = needs_judge,
    .check_cell = check_cell,
};
