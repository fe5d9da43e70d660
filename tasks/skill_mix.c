/* tasks/skill_mix.c — task family `skill-mix` (TASKS.md section 2): can a
 * model compose k language skills in a few sentences on a random topic?
 *
 * Subtasks k1..k6 (k skills per item; a task entry without "subtasks" runs
 * k1..k5, the spec's default). Setting `two_turn` (the two-turn student
 * conversation of 2.4).
 *
 * Params (all optional):
 *   "skills": "public" | "ext" | "all" (default) | "file:PATH"
 *             built-in lists (tasks/data/skills.csv: the paper's released
 *             subset, pool "public", and the harness extension, pool "ext") or
 *             a CSV in the public skills.csv format (category,skill,definition,
 *             example,status; optional aliases, pool). Rows whose status is
 *             "remove", "in review" or "maybe" are ignored.
 *   "topics": "public" | "ext" | "all" (default) | "file:PATH" (one per line)
 *   "split":  "all" (default) | "train" | "heldout" (2.3: train = literary and
 *             rhetorical skills and the first half of the topic list shuffled
 *             with the constant 20240601)
 *   "generations": G = 3, "judge_runs": J = 3, "gen_agg": "max" | "mean",
 *   "name_penalty": true (2.5 override 2; the reference code has it off),
 *   "max_tokens": 512 (student turns), "judge_max_tokens": 1024 (judgements); lower
 *             them for small-context models (the spec's values are the defaults)
 *
 * Rounds (tasks/task.h next_round): 0: G first turns (temperature 0.7, 512
 * tokens); 1: G second turns quoting each first reply; 2: J judge requests per
 * generation whose graded text has >= 3 words (judge at temperature 0.7);
 * 3: one re-ask for each judgement that yielded fewer than k + 3 points.
 * Without a judge the rounds stop after 1 and grading is the rule-based proxy
 * (2.6), marked "proxy".
 *
 * Grading (2.5, 2.6): per generation, each rubric point is the majority
 * (round half to even of the mean) of the valid judgements; then the sentence
 * limit and naming overrides; Full Marks, All Skills and Skill Fraction per
 * generation; the item takes the maximum (or mean) over generations. The
 * primary score is Full Marks. A generation with no valid judgement is left
 * out (flag judge_parse_error); an item with none at all is judge_failed: no
 * score, counted apart in the report.
 */
#include "tasks/task.h"

#include "common/rng.h"
#include "graders/judge.h"
#include "tasks/csv.h"
#include "tasks/data.h"
#include "tasks/textbuf.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <strings.h>

#define MAX_K 6
#define MAX_G 8
#define MAX_J 8
#define TOPIC_SPLIT_SEED 20240601ull

static const char *const subtasks[] = {"k1", "k2", "k3", "k4", "k5", "k6", NULL};
static const char *const default_subtasks[] = {"k1", "k2", "k3", "k4", "k5", NULL};
static const char *const subtask_caps[] = {"skill_composition_k1", "skill_composition_k2", "skill_composition_k3",
                                           "skill_composition_k4", "skill_composition_k5", "skill_composition_k6",
                                           NULL};
static const char *const settings[] = {"two_turn", NULL};
#define FAMILY_CAP "skill_composition"

/* ---- skills and topics ----------------------------------------------------------- */

typedef struct {
    char *category, *name, *definition, *example, *pool;
    char **variants; /* lowercased name variants for the naming penalty */
    int *everyday;   /* variant i matches only when followed by "fallacy" */
    int n_variants;
} skill;

typedef struct {
    char *name, *pool;
} topic;

typedef struct {
    skill *skills;
    int n_skills;
    topic *topics;
    int n_topics;
    int *train_topic; /* per topic (sorted order): 1 in the train half */
    char *skills_param, *topics_param, *split;
    int G, J, gen_mean, name_penalty, max_tokens, judge_max_tokens;
} sm_state;

static void skill_free(skill *k) {
    free(k->category);
    free(k->name);
    free(k->definition);
    free(k->example);
    free(k->pool);
    for (int i = 0; i < k->n_variants; i++) free(k->variants[i]);
    free(k->variants);
    free(k->everyday);
}

static void state_free(void *vs) {
    sm_state *s = vs;
    if (!s) return;
    for (int i = 0; i < s->n_skills; i++) skill_free(&s->skills[i]);
    for (int i = 0; i < s->n_topics; i++) {
        free(s->topics[i].name);
        free(s->topics[i].pool);
    }
    free(s->skills);
    free(s->topics);
    free(s->train_topic);
    free(s->skills_param);
    free(s->topics_param);
    free(s->split);
    free(s);
}

static int skill_cmp(const void *a, const void *b) {
    return strcmp(((const skill *)a)->name, ((const skill *)b)->name);
}
static int topic_cmp(const void *a, const void *b) {
    return strcmp(((const topic *)a)->name, ((const topic *)b)->name);
}

/* Lowercases, turns hyphens into spaces and collapses spaces. */
static char *norm_variant(const char *s, size_t n) {
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i] == '-' ? ' ' : (char)tolower((unsigned char)s[i]);
        if (c == ' ' && (w == 0 || o[w - 1] == ' ')) continue;
        o[w++] = c;
    }
    while (w && o[w - 1] == ' ') w--;
    o[w] = 0;
    return o;
}

static int add_variant(skill *k, const char *text, size_t n, int everyday) {
    char *v = norm_variant(text, n);
    if (!v) return CB_ENOMEM;
    if (!v[0]) {
        free(v);
        return 0;
    }
    for (int i = 0; i < k->n_variants; i++)
        if (strcmp(k->variants[i], v) == 0) { /* "~x" marks the name's own variant as everyday */
            k->everyday[i] |= everyday;
            free(v);
            return 0;
        }
    char **nv = realloc(k->variants, (size_t)(k->n_variants + 1) * sizeof *nv);
    if (nv) k->variants = nv;
    int *ne = nv ? realloc(k->everyday, (size_t)(k->n_variants + 1) * sizeof *ne) : NULL;
    if (!ne) {
        free(v);
        return CB_ENOMEM;
    }
    k->everyday = ne;
    k->variants[k->n_variants] = v;
    k->everyday[k->n_variants++] = everyday;
    return 0;
}

/* Loads skills from CSV text, keeping those of `pool` ("all" = every row).
 * Built-in rows carry their pool; a user file's rows are pool "file". */
static int load_skills(sm_state *s, const char *name, const char *text, size_t len, const char *pool, int builtin,
                       const char *path, cb_err *err) {
    cb_csv csv;
    int rc = cb_csv_parse(name, text, len, &csv, err);
    if (rc) return rc;
    int c_cat = cb_csv_col(&csv, "category"), c_sk = cb_csv_col(&csv, "skill"), c_def = cb_csv_col(&csv, "definition");
    int c_ex = cb_csv_col(&csv, "example"), c_st = cb_csv_col(&csv, "status"), c_al = cb_csv_col(&csv, "aliases");
    int c_pool = cb_csv_col(&csv, "pool");
    if (c_cat < 0 || c_sk < 0 || c_def < 0 || c_ex < 0) {
        rc = cb_err_set(err, CB_EUSAGE,
                        "%s: line 1: expected the columns category,skill,definition,example (status, aliases, pool "
                        "optional)",
                        name);
        goto out;
    }
    s->skills = calloc((size_t)(csv.nrows ? csv.nrows : 1), sizeof *s->skills);
    if (!s->skills) goto nomem;
    for (int r = 1; r < csv.nrows; r++) {
        char **row = csv.rows[r];
        int nc = csv.ncols[r];
#define COL(c) ((c) >= 0 && (c) < nc ? row[c] : "")
        const char *st = COL(c_st);
        if (strcasecmp(st, "remove") == 0 || strcasecmp(st, "in review") == 0 || strcasecmp(st, "maybe") == 0)
            continue;
        const char *rpool = builtin ? COL(c_pool) : "file";
        if (strcmp(pool, "all") != 0 && strcmp(pool, rpool) != 0) continue;
        if (!COL(c_sk)[0] || !COL(c_def)[0]) {
            rc = cb_err_set(err, CB_EUSAGE, "%s: line %d: a skill needs a name and a definition", name, csv.lines[r]);
            goto out;
        }
        skill *k = &s->skills[s->n_skills++];
        if (!(k->category = strdup(COL(c_cat))) || !(k->name = strdup(COL(c_sk))) ||
            !(k->definition = strdup(COL(c_def))) || !(k->example = strdup(COL(c_ex))) || !(k->pool = strdup(rpool)))
            goto nomem;
        const char *paren = strchr(k->name, '(');
        if ((rc = add_variant(k, k->name, paren ? (size_t)(paren - k->name) : strlen(k->name), 0))) goto nomem;
        for (const char *a = COL(c_al); *a;) {
            const char *bar = strchr(a, '|');
            size_t n = bar ? (size_t)(bar - a) : strlen(a);
            int everyday = *a == '~';
            if ((rc = add_variant(k, a + everyday, n - (size_t)everyday, everyday))) goto nomem;
            a += n + (bar != NULL);
        }
#undef COL
        for (int j = 0; j < s->n_skills - 1; j++)
            if (strcmp(s->skills[j].name, k->name) == 0) {
                rc = cb_err_set(err, CB_EUSAGE, "%s: line %d: skill \"%s\" is listed twice", name, csv.lines[r],
                                k->name);
                goto out;
            }
    }
    if (s->n_skills == 0) rc = cb_err_set(err, CB_EUSAGE, "%s.skills: no skill left in %s (pool %s)", path, name, pool);
    qsort(s->skills, (size_t)s->n_skills, sizeof *s->skills, skill_cmp); /* 0.2: lists sorted as read */
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "out of memory");
out:
    cb_csv_free(&csv);
    return rc;
}

static int add_topics(sm_state *s, const char *text, const char *pool) {
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *a = p, *e = p + n;
        while (a < e && isspace((unsigned char)*a)) a++;
        while (e > a && isspace((unsigned char)e[-1])) e--;
        if (e > a) {
            topic *nt = realloc(s->topics, (size_t)(s->n_topics + 1) * sizeof *nt);
            if (!nt) return CB_ENOMEM;
            s->topics = nt;
            topic *t = &s->topics[s->n_topics];
            t->name = strndup(a, (size_t)(e - a));
            t->pool = strdup(pool);
            if (!t->name || !t->pool) return CB_ENOMEM;
            s->n_topics++;
        }
        p += n + (nl != NULL);
    }
    return 0;
}

static int get_string(const cJSON *params, const char *key, const char *def, const char *const *choices,
                      const char *path, char **out, cb_err *err) {
    const cJSON *j = params ? cJSON_GetObjectItemCaseSensitive(params, key) : NULL;
    const char *v = def;
    if (j) {
        if (!cJSON_IsString(j)) return cb_err_set(err, CB_EUSAGE, "%s.%s: expected a string", path, key);
        v = j->valuestring;
    }
    int ok = !choices || (strncmp(v, "file:", 5) == 0 && choices[0] && strcmp(choices[0], "*file") == 0);
    for (int i = 0; choices && choices[i] && !ok; i++) ok = strcmp(choices[i], v) == 0;
    if (!ok) {
        char list[256] = "";
        for (int i = 0; choices[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     strcmp(choices[i], "*file") == 0 ? "file:PATH" : choices[i]);
        return cb_err_set(err, CB_EUSAGE, "%s.%s: expected one of %s, got \"%.80s\"", path, key, list, v);
    }
    return (*out = strdup(v)) ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

static int get_count(const cJSON *params, const char *key, int def, int lo, int hi, const char *path, int *out,
                     cb_err *err) {
    const cJSON *j = params ? cJSON_GetObjectItemCaseSensitive(params, key) : NULL;
    *out = def;
    if (!j) return 0;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < lo || j->valuedouble > hi)
        return cb_err_set(err, CB_EUSAGE, "%s.%s: expected an integer from %d to %d", path, key, lo, hi);
    *out = (int)j->valuedouble;
    return 0;
}

static int state_parse(const cJSON *params, const char *path, void **out, cb_err *err) {
    static const char *const keys[] = {"skills",       "topics",     "split",           "generations", "judge_runs",
                                       "gen_agg",      "name_penalty", "max_tokens", "judge_max_tokens", NULL};
    static const char *const pools[] = {"*file", "public", "ext", "all", NULL};
    static const char *const splits[] = {"all", "train", "heldout", NULL};
    static const char *const aggs[] = {"max", "mean", NULL};
    *out = NULL;
    for (const cJSON *c = params ? params->child : NULL; c; c = c->next) {
        int known = 0;
        for (int i = 0; keys[i]; i++) known |= strcmp(c->string, keys[i]) == 0;
        if (!known)
            return cb_err_set(err, CB_EUSAGE,
                              "%s.%s: unknown parameter of skill-mix (expected skills, topics, split, generations, "
                              "judge_runs, gen_agg, name_penalty, max_tokens, judge_max_tokens)",
                              path, c->string);
    }
    sm_state *s = calloc(1, sizeof *s);
    if (!s) return cb_err_set(err, CB_ENOMEM, "out of memory");
    char *agg = NULL, *text = NULL;
    int rc;
    if ((rc = get_string(params, "skills", "all", pools, path, &s->skills_param, err)) ||
        (rc = get_string(params, "topics", "all", pools, path, &s->topics_param, err)) ||
        (rc = get_string(params, "split", "all", splits, path, &s->split, err)) ||
        (rc = get_string(params, "gen_agg", "max", aggs, path, &agg, err)) ||
        (rc = get_count(params, "generations", 3, 1, MAX_G, path, &s->G, err)) ||
        (rc = get_count(params, "judge_runs", 3, 1, MAX_J, path, &s->J, err)) ||
        (rc = get_count(params, "max_tokens", 512, 1, 65536, path, &s->max_tokens, err)) ||
        (rc = get_count(params, "judge_max_tokens", 1024, 1, 65536, path, &s->judge_max_tokens, err)))
        goto out;
    s->gen_mean = strcmp(agg, "mean") == 0;
    const cJSON *np = params ? cJSON_GetObjectItemCaseSensitive(params, "name_penalty") : NULL;
    if (np && !cJSON_IsBool(np)) {
        rc = cb_err_set(err, CB_EUSAGE, "%s.name_penalty: expected true or false", path);
        goto out;
    }
    s->name_penalty = !np || cJSON_IsTrue(np);
    /* skills */
    size_t len = 0;
    if (strncmp(s->skills_param, "file:", 5) == 0) {
        if ((rc = cb_read_file(s->skills_param + 5, &text, &len, err))) goto out;
        rc = load_skills(s, s->skills_param + 5, text, len, "all", 0, path, err);
        free(text);
        text = NULL;
    } else {
        const char *d = cb_data_file("skills.csv", &len);
        rc = d ? load_skills(s, "tasks/data/skills.csv", d, len, s->skills_param, 1, path, err)
               : cb_err_set(err, CB_ERUNTIME, "tasks/data/skills.csv was not compiled in");
    }
    if (rc) goto out;
    /* topics */
    if (strncmp(s->topics_param, "file:", 5) == 0) {
        if ((rc = cb_read_file(s->topics_param + 5, &text, &len, err))) goto out;
        rc = add_topics(s, text, "file");
    } else {
        int pub = strcmp(s->topics_param, "ext") != 0, ext = strcmp(s->topics_param, "public") != 0;
        const char *d;
        rc = 0;
        if (pub && (d = cb_data_file("topics_public.txt", NULL))) rc = add_topics(s, d, "public");
        if (!rc && ext && (d = cb_data_file("topics_ext.txt", NULL))) rc = add_topics(s, d, "ext");
    }
    if (rc) {
        rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        goto out;
    }
    if (s->n_topics == 0) {
        rc = cb_err_set(err, CB_EUSAGE, "%s.topics: no topic in %s", path, s->topics_param);
        goto out;
    }
    qsort(s->topics, (size_t)s->n_topics, sizeof *s->topics, topic_cmp);
    for (int i = 1; i < s->n_topics; i++)
        if (strcmp(s->topics[i - 1].name, s->topics[i].name) == 0) {
            rc = cb_err_set(err, CB_EUSAGE, "%s.topics: topic \"%s\" is listed twice", path, s->topics[i].name);
            goto out;
        }
    /* topic split: a shuffle of the sorted list seeded with a fixed constant */
    if (!(s->train_topic = calloc((size_t)s->n_topics, sizeof *s->train_topic))) goto nomem;
    {
        int *perm = malloc((size_t)s->n_topics * sizeof *perm);
        if (!perm) goto nomem;
        for (int i = 0; i < s->n_topics; i++) perm[i] = i;
        cb_rng r;
        cb_rng_seed(&r, TOPIC_SPLIT_SEED);
        for (int i = s->n_topics - 1; i > 0; i--) {
            int j = (int)cb_rng_uniform(&r, (uint64_t)i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < (s->n_topics + 1) / 2; i++) s->train_topic[perm[i]] = 1;
        free(perm);
    }
    *out = s;
    s = NULL;
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "out of memory");
out:
    free(agg);
    free(text);
    state_free(s);
    return rc;
}

static cJSON *state_to_json(const void *vs) {
    const sm_state *s = vs;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "skills", s->skills_param);
    cJSON_AddStringToObject(o, "topics", s->topics_param);
    cJSON_AddStringToObject(o, "split", s->split);
    cJSON_AddNumberToObject(o, "generations", s->G);
    cJSON_AddNumberToObject(o, "judge_runs", s->J);
    cJSON_AddStringToObject(o, "gen_agg", s->gen_mean ? "mean" : "max");
    cJSON_AddBoolToObject(o, "name_penalty", s->name_penalty);
    cJSON_AddNumberToObject(o, "max_tokens", s->max_tokens);
    cJSON_AddNumberToObject(o, "judge_max_tokens", s->judge_max_tokens);
    return o;
}

static int train_skill(const skill *k) {
    return strcmp(k->category, "literary") == 0 || strcmp(k->category, "rhetorical") == 0;
}

/* Indices of the skills and topics an item of this split may use. */
static int pools_of(const sm_state *s, int *sk, int *nsk, int *tp, int *ntp) {
    int heldout = strcmp(s->split, "heldout") == 0, all = strcmp(s->split, "all") == 0;
    *nsk = *ntp = 0;
    for (int i = 0; i < s->n_skills; i++)
        if (all || train_skill(&s->skills[i]) != heldout) sk[(*nsk)++] = i;
    for (int i = 0; i < s->n_topics; i++)
        if (all || s->train_topic[i] != heldout) tp[(*ntp)++] = i;
    return 0;
}

static int check_cell(const void *vs, const char *subtask, const char *setting, const char *path, cb_err *err) {
    const sm_state *s = vs;
    int k = subtask[1] - '0';
    int *sk = malloc((size_t)(s->n_skills ? s->n_skills : 1) * sizeof *sk);
    int *tp = malloc((size_t)(s->n_topics ? s->n_topics : 1) * sizeof *tp);
    int nsk = 0, ntp = 0, rc = 0;
    if (!sk || !tp) rc = cb_err_set(err, CB_ENOMEM, "out of memory");
    if (!rc) pools_of(s, sk, &nsk, tp, &ntp);
    if (!rc && k > nsk)
        rc = cb_err_set(err, CB_EUSAGE,
                        "%s.subtasks: %s needs %d skills but the %s split of skills \"%s\" has %d (use \"ext\" or "
                        "\"all\" skills, or a smaller k)",
                        path, subtask, k, s->split, s->skills_param, nsk);
    if (!rc && ntp == 0)
        rc = cb_err_set(err, CB_EUSAGE, "%s.params.topics: the %s split has no topic", path, s->split);
    free(sk);
    free(tp);
    return rc;
}

static const char *const NUMBER_WORDS[] = {"zero", "one", "two", "three", "four", "five", "six"};

/* ---- items --------------------------------------------------------------------- */

static const char TURN1[] =
    "Hello! I am studying how language skills can be combined. Please write a\n"
    "short, natural piece of text, a few lines at most, set in the context of\n"
    "%s, that demonstrates every one of these skills: %s. Keep it\n"
    "as brief as you can, and make sure each skill can be identified in the text\n"
    "itself.\n"
    "\n"
    "Definitions and examples of the skills:\n"
    "%s\n"
    "\n"
    "Begin the text with \"Answer:\" and then give a separate explanation that\n"
    "begins with \"Explanation:\".";

static const char TURN2[] =
    "Thank you. Please review your text and improve it so that it shows all of the\n"
    "listed skills more clearly and stays on the topic. The improved text must be\n"
    "at most %s long. Again begin the text with \"Answer:\" and the\n"
    "explanation with \"Explanation:\".";

static const char JUDGE[] =
    "I would like your help grading a student's answer.\n"
    "The student's assignment: \"Write one short text, no longer than %s,\n"
    "about %s that shows every one of these skills: %s.\"\n"
    "The student's answer: \"%s\"\n"
    "What the skills mean:\n"
    "%s\n"
    "Fill in a rubric table with exactly two columns, \"Criteria\" and \"Points\n"
    "Earned\". A criterion scores 1 point if it is met and 0 otherwise. Criteria, in\n"
    "this order: %s. The \"Points Earned\" column holds a bare number.\n"
    "Put the line \"Here's the grading table:\" right before the table and finish the\n"
    "table with a \"Total Points Earned\" row. Below the table, justify the grades in\n"
    "a paragraph that starts with \"Explanation:\".";

static const char REASK[] =
    "\n\nYour previous grading could not be read: give every criterion its own table row with a bare 0 or 1.";

/* Appends printf output to a malloc'd string. */

static int build_first_round(cb_item *it, int G, int max_tokens, cb_err *err) {
    cb_treq *reqs = cb_item_alloc(it, (size_t)G * sizeof *reqs);
    if (!reqs) return cb_err_set(err, CB_ENOMEM, "out of memory");
    for (int g = 0; g < G; g++) {
        reqs[g] = (cb_treq){.kind = CB_TREQ_GENERATE,
                            .target = CB_TARGET_MODEL,
                            .tag = g,
                            .turns = it->turns,
                            .n_turns = it->n_turns,
                            .max_tokens = max_tokens,
                            .temperature = 0.7f,
                            .seed = cb_splitmix64(it->seed + (uint64_t)g + 1)};
    }
    cb_item_set_reqs(it, reqs, G);
    return 0;
}

static int generate(const void *vs, uint64_t task_seed, cb_item *it, cb_err *err) {
    (void)task_seed;
    const sm_state *s = vs;
    int k = it->subtask[1] - '0';
    int rc = 0;
    int *sk = malloc((size_t)s->n_skills * sizeof *sk), *tp = malloc((size_t)s->n_topics * sizeof *tp);
    char *csv = NULL, *block = NULL, *turn1 = NULL;
    cJSON *meta = NULL;
    if (!sk || !tp) goto nomem;
    int nsk, ntp;
    pools_of(s, sk, &nsk, tp, &ntp);
    if (k > nsk || ntp == 0) {
        rc = cb_err_set(err, CB_EUSAGE, "skill-mix: %s needs %d skills, the pool has %d", it->subtask, k, nsk);
        goto out;
    }
    cb_rng r;
    cb_rng_seed(&r, it->seed);
    /* k distinct skills (partial Fisher-Yates), one topic, then the skill order shuffled */
    int pick[MAX_K];
    for (int i = 0; i < k; i++) {
        int j = i + (int)cb_rng_uniform(&r, (uint64_t)(nsk - i));
        int t = sk[i];
        sk[i] = sk[j];
        sk[j] = t;
        pick[i] = sk[i];
    }
    int ti = tp[cb_rng_uniform(&r, (uint64_t)ntp)];
    for (int i = k - 1; i > 0; i--) {
        int j = (int)cb_rng_uniform(&r, (uint64_t)i + 1);
        int t = pick[i];
        pick[i] = pick[j];
        pick[j] = t;
    }
    int sl = k - 1 > 1 ? k - 1 : 1;
    char limit_words[32];
    snprintf(limit_words, sizeof limit_words, "%s %s", NUMBER_WORDS[sl], sl == 1 ? "sentence" : "sentences");
    const topic *tpc = &s->topics[ti];
    int heldout = !s->train_topic[ti], ext = strcmp(tpc->pool, "ext") == 0;
    meta = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(meta, "skills"), *cats = cJSON_AddArrayToObject(meta, "categories");
    cJSON *pools = cJSON_AddArrayToObject(meta, "pools"), *vars = cJSON_AddArrayToObject(meta, "variants");
    if (!names || !cats || !pools || !vars) goto nomem;
    for (int i = 0; i < k; i++) {
        const skill *q = &s->skills[pick[i]];
        csv = cb_str_appendf(csv, "%s%s", i ? ", " : "", q->name);
        size_t dl = strlen(q->definition);
        int stop = dl && strchr(".!?", q->definition[dl - 1]);
        block = cb_str_appendf(block, "%s**%s**: %s%s For example, %s", i ? "\n" : "", q->name, q->definition,
                        stop ? "" : ".", q->example);
        if (!csv || !block) goto nomem;
        cJSON_AddItemToArray(names, cJSON_CreateString(q->name));
        cJSON_AddItemToArray(cats, cJSON_CreateString(q->category));
        cJSON_AddItemToArray(pools, cJSON_CreateString(q->pool));
        cJSON *vv = cJSON_CreateArray();
        for (int v = 0; v < q->n_variants; v++) {
            char tmp[300];
            snprintf(tmp, sizeof tmp, "%s%s", q->everyday[v] ? "~" : "", q->variants[v]);
            cJSON_AddItemToArray(vv, cJSON_CreateString(tmp));
        }
        cJSON_AddItemToArray(vars, vv);
        heldout &= !train_skill(q);
        ext |= strcmp(q->pool, "ext") == 0;
    }
    turn1 = cb_str_appendf(NULL, TURN1, tpc->name, csv, block);
    if (!turn1) goto nomem;
    cJSON_AddNumberToObject(meta, "k", k);
    cJSON_AddStringToObject(meta, "topic", tpc->name);
    cJSON_AddStringToObject(meta, "topic_pool", tpc->pool);
    cJSON_AddStringToObject(meta, "skill_block", block);
    cJSON_AddNumberToObject(meta, "sentence_limit", sl);
    cJSON_AddStringToObject(meta, "limit_words", limit_words);
    cJSON_AddStringToObject(meta, "split", s->split);
    cJSON_AddBoolToObject(meta, "heldout", heldout);
    cJSON_AddBoolToObject(meta, "ext", ext);
    cJSON_AddNumberToObject(meta, "generations", s->G);
    cJSON_AddNumberToObject(meta, "judge_runs", s->J);
    cJSON_AddStringToObject(meta, "gen_agg", s->gen_mean ? "mean" : "max");
    cJSON_AddBoolToObject(meta, "name_penalty", s->name_penalty);
    cJSON_AddNumberToObject(meta, "max_tokens", s->max_tokens);
    cJSON_AddNumberToObject(meta, "judge_max_tokens", s->judge_max_tokens);
    cb_turn t = {CB_TURN_USER, turn1};
    if (cb_item_set_turns(it, &t, 1) || cb_item_set_gold_str(it, "") ||
        cb_item_set_capabilities(it, FAMILY_CAP, subtask_caps[k - 1]))
        goto nomem;
    it->grader = CB_GRADER_JUDGE;
    it->meta = meta;
    meta = NULL;
    rc = build_first_round(it, s->G, s->max_tokens, err);
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "out of memory");
out:
    cJSON_Delete(meta);
    free(sk);
    free(tp);
    free(csv);
    free(block);
    free(turn1);
    return rc;
}

static int build_requests(cb_item *it, cb_err *err) {
    int G = cb_item_meta_int(it, "generations", 3);
    if (G < 1 || G > MAX_G || it->n_turns < 1)
        return cb_err_set(err, CB_EFORMAT, "%s: meta.generations must be 1..%d and the item needs its turn", it->id,
                          MAX_G);
    return build_first_round(it, G, cb_item_meta_int(it, "max_tokens", 512), err);
}

/* ---- the graded text ----------------------------------------------------------- */

/* The text a reply offers for grading (2.4): <think> blocks and markdown
 * emphasis removed; after the last "Answer:" and before the next
 * "Explanation"; without a marker, before the first "Explanation". OUT
 * *no_marker. malloc'd. */
static char *graded_text(const char *reply, int *no_marker) {
    size_t n = strlen(reply ? reply : "");
    char *t = malloc(n + 1), *o = t;
    if (!t) return NULL;
    for (const char *p = reply ? reply : ""; *p;) {
        if (strncasecmp(p, "<think>", 7) == 0) {
            const char *e = strcasestr(p, "</think>");
            p = e ? e + 8 : p + strlen(p);
            continue;
        }
        if (*p == '*' || (*p == '_' && p[1] == '_')) {
            p += *p == '_' ? 2 : 1;
            continue;
        }
        *o++ = *p++;
    }
    *o = 0;
    char *ans = NULL, *p = t;
    while ((p = strcasestr(p, "answer:"))) ans = p++;
    *no_marker = ans == NULL;
    char *start = ans ? ans + 7 : t;
    char *ex = strcasestr(start, "explanation");
    if (ex) *ex = 0;
    while (isspace((unsigned char)*start)) start++;
    size_t l = strlen(start);
    while (l && isspace((unsigned char)start[l - 1])) start[--l] = 0;
    memmove(t, start, l + 1);
    return t;
}

/* Whether `variant` occurs in the lowercased answer as whole words (hyphens as
 * spaces); an everyday variant only when followed by "fallacy". */
static int names_skill(const char *answer_norm, const char *variant, int everyday) {
    size_t n = strlen(variant);
    for (const char *p = answer_norm; (p = strstr(p, variant)); p++) {
        int lb = p == answer_norm || !isalnum((unsigned char)p[-1]);
        int rb = !isalnum((unsigned char)p[n]);
        if (!lb || !rb) continue;
        if (!everyday) return 1;
        const char *q = p + n;
        while (*q == ' ') q++;
        if (strncmp(q, "fallacy", 7) == 0) return 1;
    }
    return 0;
}

/* ---- rounds -------------------------------------------------------------------- */

enum { TAG_T1 = 0, TAG_T2 = 100, TAG_JUDGE = 200, TAG_REASK = 400 };

static int judge_prompt(cb_item *it, const char *answer, int reask, char **out) {
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(it->meta, "skills");
    char *csv = NULL, *items = NULL;
    const cJSON *n;
    int i = 0;
    cJSON_ArrayForEach(n, names) {
        if (!cJSON_IsString(n)) continue;
        csv = cb_str_appendf(csv, "%s%s", i ? ", " : "", n->valuestring);
        char low[256];
        size_t j = 0;
        for (; n->valuestring[j] && j < sizeof low - 1; j++) low[j] = (char)tolower((unsigned char)n->valuestring[j]);
        low[j] = 0;
        items = cb_str_appendf(items, "%s\"Correctly illustrates %s\"", i ? ", " : "", low);
        i++;
        if (!csv || !items) break;
    }
    if (csv && items)
        items = cb_str_appendf(items, ", \"Pertains to %s\", \"Text makes sense\", \"At most %s\"", cb_item_meta_str(it, "topic", ""),
                        cb_item_meta_str(it, "limit_words", ""));
    char *p = csv && items ? cb_str_appendf(NULL, JUDGE, cb_item_meta_str(it, "limit_words", ""), cb_item_meta_str(it, "topic", ""), csv, answer,
                                     cb_item_meta_str(it, "skill_block", ""), items)
                           : NULL;
    if (p && reask) p = cb_str_appendf(p, "%s", REASK);
    free(csv);
    free(items);
    *out = p;
    return p ? 0 : CB_ENOMEM;
}

/* The skill names of the item, in rubric order. */
static int skill_names(const cb_item *it, const char **names, int cap) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(it->meta, "skills"), *n;
    int k = 0;
    cJSON_ArrayForEach(n, arr) if (cJSON_IsString(n) && k < cap) names[k++] = n->valuestring;
    return k;
}

static int next_round(cb_item *it, const cb_task_resp *resps, int n_resps, int round, int have_judge, cb_err *err) {
    int G = cb_item_meta_int(it, "generations", 3), J = cb_item_meta_int(it, "judge_runs", 3);
    cb_treq add[MAX_G * MAX_J];
    int na = 0;
    if (round == 0) { /* second turns, quoting each first reply */
        for (int k = 0; k < n_resps; k++) {
            if (it->reqs[k].tag >= TAG_T2 || !resps[k].ok) continue;
            cb_turn *t = cb_item_alloc(it, 3 * sizeof *t);
            char *t2 = NULL;
            if (!t || asprintf(&t2, TURN2, cb_item_meta_str(it, "limit_words", "")) < 0)
                return cb_err_set(err, CB_ENOMEM, "out of memory");
            t[0] = it->turns[0];
            t[1] = (cb_turn){CB_TURN_ASSISTANT, cb_item_strdup(it, resps[k].text ? resps[k].text : "", -1)};
            t[2] = (cb_turn){CB_TURN_USER, cb_item_strdup(it, t2, -1)};
            free(t2);
            if (!t[1].text || !t[2].text) return cb_err_set(err, CB_ENOMEM, "out of memory");
            int g = it->reqs[k].tag;
            add[na++] = (cb_treq){.kind = CB_TREQ_GENERATE,
                                  .tag = TAG_T2 + g,
                                  .turns = t,
                                  .n_turns = 3,
                                  .max_tokens = cb_item_meta_int(it, "max_tokens", 512),
                                  .temperature = 0.7f,
                                  .seed = cb_splitmix64(it->seed ^ (0x5F2ull << 32) ^ (uint64_t)(g + 1))};
        }
    } else if (round == 1 && have_judge) { /* J judgements of each graded text of 3+ words */
        for (int k = 0; k < n_resps; k++) {
            int tag = it->reqs[k].tag;
            if (tag < TAG_T2 || tag >= TAG_JUDGE || !resps[k].ok) continue;
            int nm;
            char *ans = graded_text(resps[k].text, &nm);
            if (!ans) return cb_err_set(err, CB_ENOMEM, "out of memory");
            if (cb_count_words(ans) >= 3) {
                char *prompt = NULL;
                if (judge_prompt(it, ans, 0, &prompt)) {
                    free(ans);
                    return cb_err_set(err, CB_ENOMEM, "out of memory");
                }
                cb_turn *t = cb_item_alloc(it, sizeof *t);
                if (t) *t = (cb_turn){CB_TURN_USER, cb_item_strdup(it, prompt, -1)};
                free(prompt);
                if (!t || !t->text) {
                    free(ans);
                    return cb_err_set(err, CB_ENOMEM, "out of memory");
                }
                int g = tag - TAG_T2;
                for (int j = 0; j < J; j++)
                    add[na++] = (cb_treq){.kind = CB_TREQ_GENERATE,
                                          .target = CB_TARGET_JUDGE,
                                          .tag = TAG_JUDGE + g * 16 + j,
                                          .turns = t,
                                          .n_turns = 1,
                                          .max_tokens = cb_item_meta_int(it, "judge_max_tokens", 1024),
                                          .temperature = 0.7f,
                                          .seed = cb_splitmix64(it->seed ^ (0x3D6Eull << 32) ^ (uint64_t)(g * 16 + j))};
            }
            free(ans);
        }
    } else if (round == 2) { /* one re-ask of each judgement that could not be read */
        const char *names[MAX_K];
        int k = skill_names(it, names, MAX_K);
        for (int q = 0; q < n_resps; q++) {
            int tag = it->reqs[q].tag;
            if (tag < TAG_JUDGE || tag >= TAG_REASK) continue;
            int pts[CB_RUBRIC_MAX];
            if (resps[q].ok && cb_judge_parse_rubric(resps[q].text, names, k, pts) == k + 3) continue;
            const cb_treq *o = &it->reqs[q];
            /* the same judge prompt with the re-ask note, a fresh seed */
            char *prompt = NULL;
            if (asprintf(&prompt, "%s%s", o->turns[0].text, REASK) < 0)
                return cb_err_set(err, CB_ENOMEM, "out of memory");
            cb_turn *t = cb_item_alloc(it, sizeof *t);
            if (t) *t = (cb_turn){CB_TURN_USER, cb_item_strdup(it, prompt, -1)};
            free(prompt);
            if (!t || !t->text) return cb_err_set(err, CB_ENOMEM, "out of memory");
            cb_treq rq = *o;
            rq.tag = TAG_REASK + (tag - TAG_JUDGE);
            rq.turns = t;
            rq.seed = cb_splitmix64(o->seed ^ 0xA5A5ull);
            add[na++] = rq;
        }
    }
    (void)G;
    return na ? (cb_item_append_reqs(it, add, na) ? cb_err_set(err, CB_ENOMEM, "out of memory") : 0) : 0;
}

/* ---- grading ------------------------------------------------------------------- */

/* round half to even of the mean of v[0..n) (0/1 values) */
static int majority(const int *v, int n) {
    int ones = 0;
    for (int i = 0; i < n; i++) ones += v[i];
    if (2 * ones > n) return 1;
    if (2 * ones < n) return 0;
    return 0; /* exactly one half: round half to even gives 0 */
}

/* Rule-based proxy points (2.6): topic, sense, detectable skills. */
static int proxy_topic(const char *answer, const char *topic) {
    static const char *const stop[] = {"the", "a", "an", "of", "and", "in", "on", "to", NULL};
    char low[4096];
    size_t i = 0;
    for (; answer[i] && i < sizeof low - 1; i++) low[i] = (char)tolower((unsigned char)answer[i]);
    low[i] = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", topic);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        for (char *c = tok; *c; c++) *c = (char)tolower((unsigned char)*c);
        int is_stop = 0;
        for (int s = 0; stop[s]; s++) is_stop |= strcmp(tok, stop[s]) == 0;
        if (is_stop || !tok[0]) continue;
        size_t tl = strlen(tok);
        if (tl > 3 && tok[tl - 1] == 's') tok[tl - 1] = 0; /* stem: strip a final s */
        if (strstr(low, tok)) return 1;
    }
    return 0;
}

static int proxy_sense(const char *answer) {
    int words = 0, alpha = 0;
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", answer);
    char *w[1024];
    for (char *tok = strtok(copy, " \t\n\r"); tok && words < 1024; tok = strtok(NULL, " \t\n\r")) {
        w[words++] = tok;
        int letters = 0;
        for (char *c = tok; *c; c++) letters += isalpha((unsigned char)*c) != 0;
        alpha += letters * 2 >= (int)strlen(tok);
    }
    if (words < 4 || alpha * 5 < words * 4) return 0;
    for (int i = 0; i + 3 < words; i++) { /* no 4-gram repeated more than twice */
        int rep = 0;
        for (int j = 0; j + 3 < words; j++)
            if (!strcasecmp(w[i], w[j]) && !strcasecmp(w[i + 1], w[j + 1]) && !strcasecmp(w[i + 2], w[j + 2]) &&
                !strcasecmp(w[i + 3], w[j + 3]))
                rep++;
        if (rep > 2) return 0;
    }
    return 1;
}

/* 1/0 for a skill with a surface detector, -1 for an undetectable one. */
static int proxy_skill(const char *answer, const char *name) {
    char low[4096];
    size_t i = 0;
    for (; answer[i] && i < sizeof low - 1; i++) low[i] = (char)tolower((unsigned char)answer[i]);
    low[i] = 0;
    if (!strcmp(name, "simile")) {
        const char *as = strstr(low, " as ");
        return strstr(low, " like ") || (as && strstr(as + 3, " as ")) ? 1 : 0;
    }
    if (!strcmp(name, "rhetorical question")) return cb_count_sentences(answer, 0) > 0 && strchr(answer, '?') ? 1 : 0;
    if (!strcmp(name, "alliteration")) {
        char prev = 0;
        int run = 0;
        for (const char *p = low; *p;) {
            while (*p && !isalpha((unsigned char)*p)) p++;
            if (!*p) break;
            char c = *p;
            int cons = !strchr("aeiou", c);
            run = cons && c == prev ? run + 1 : cons ? 1 : 0;
            prev = cons ? c : 0;
            if (run >= 3) return 1;
            while (*p && isalpha((unsigned char)*p)) p++;
        }
        return 0;
    }
    if (!strcmp(name, "anaphora")) {
        char first[2][64] = {"", ""};
        int idx = 0;
        const char *p = low;
        while (*p) {
            while (*p && !isalpha((unsigned char)*p)) p++;
            int n = 0;
            while (isalpha((unsigned char)p[n]) && n < 63) n++;
            snprintf(first[idx & 1], 64, "%.*s", n, p);
            if (idx > 0 && first[0][0] && !strcmp(first[0], first[1])) return 1;
            idx++;
            const char *e = strpbrk(p, ".!?");
            if (!e) break;
            p = e + 1;
        }
        return 0;
    }
    if (!strcmp(name, "modus ponens") || !strcmp(name, "modus tollens")) {
        const char *f = strstr(low, "if ");
        return f && (strstr(f, " so ") || strstr(f, "therefore") || strstr(f, "hence")) ? 1 : 0;
    }
    return -1;
}

static int grade(cb_grader_ctx *gctx, const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out,
                 cb_err *err) {
    (void)gctx;
    const char *names[MAX_K];
    int k = skill_names(it, names, MAX_K);
    int G = cb_item_meta_int(it, "generations", 3), sl = cb_item_meta_int(it, "sentence_limit", 1);
    int gen_mean = strcmp(cb_item_meta_str(it, "gen_agg", ""), "mean") == 0;
    const cJSON *npj = cJSON_GetObjectItemCaseSensitive(it->meta, "name_penalty");
    int name_penalty = !npj || cJSON_IsTrue(npj);
    if (k < 1 || G < 1 || G > MAX_G) return cb_err_set(err, CB_EFORMAT, "%s: meta.skills / generations", it->id);
    double best[5] = {-1, -1, -1, -1, -1}, sum[5] = {0};
    int n_graded = 0, any_judge = 0, parse_errors = 0, n_proxy = 0, any_reply = 0;
    double proxy_sum = 0;
    int proxy_n = 0, best_points[CB_RUBRIC_MAX], best_sent = -1;
    for (int g = 0; g < G; g++) {
        int t2 = -1;
        for (int q = 0; q < n_resps; q++)
            if (it->reqs[q].tag == TAG_T2 + g) t2 = q;
        if (t2 < 0 || !resps[t2].ok) continue;
        any_reply = 1;
        int nm = 0;
        char *ans = graded_text(resps[t2].text, &nm);
        if (!ans) return cb_err_set(err, CB_ENOMEM, "out of memory");
        if (nm) out->flags |= CB_GRADE_NO_MARKER;
        int pts[CB_RUBRIC_MAX];
        int have = 0, judged = 0;
        for (int i = 0; i < k + 3; i++) pts[i] = 0;
        if (cb_count_words(ans) < 3) { /* an empty answer scores 0 everywhere, no judge */
            have = 1;
        } else {
            int votes[MAX_J][CB_RUBRIC_MAX], nv = 0;
            for (int q = 0; q < n_resps && nv < MAX_J; q++) {
                int tag = it->reqs[q].tag;
                if (tag < TAG_JUDGE || tag >= TAG_REASK || (tag - TAG_JUDGE) / 16 != g) continue;
                judged = 1;
                int p[CB_RUBRIC_MAX];
                int ok = resps[q].ok && cb_judge_parse_rubric(resps[q].text, names, k, p) == k + 3;
                if (!ok) { /* its re-ask, if any */
                    for (int r = 0; r < n_resps && !ok; r++)
                        if (it->reqs[r].tag == TAG_REASK + (tag - TAG_JUDGE))
                            ok = resps[r].ok && cb_judge_parse_rubric(resps[r].text, names, k, p) == k + 3;
                }
                if (!ok) {
                    parse_errors++;
                    continue;
                }
                memcpy(votes[nv++], p, sizeof p);
            }
            if (judged) {
                any_judge = 1;
                if (nv > 0) {
                    have = 1;
                    for (int i = 0; i < k + 3; i++) {
                        int col[MAX_J];
                        for (int v = 0; v < nv; v++) col[v] = votes[v][i];
                        pts[i] = majority(col, nv);
                    }
                }
            } else { /* no judge: the rule-based proxy (per-criterion rates only) */
                n_proxy++;
                int d = 0, hit = 0;
                for (int i = 0; i < k; i++) {
                    int v = proxy_skill(ans, names[i]);
                    if (v >= 0) d++, hit += v;
                }
                int tpc = proxy_topic(ans, cb_item_meta_str(it, "topic", "")), sns = proxy_sense(ans);
                int lim = cb_count_sentences(ans, 0) <= sl;
                proxy_sum += (double)(hit + tpc + sns + lim) / (double)(d + 3);
                proxy_n++;
                cb_grade_add_metric(out, "proxy_topic", tpc);
                cb_grade_add_metric(out, "proxy_sense", sns);
                cb_grade_add_metric(out, "proxy_limit", lim);
                if (d) cb_grade_add_metric(out, "proxy_detectable_skills", (double)hit / d);
                free(ans);
                continue;
            }
        }
        if (!have) {
            free(ans);
            continue;
        }
        /* overrides: the sentence limit, and skills named outright */
        int sent = cb_count_sentences(ans, 0);
        if (cb_count_words(ans) >= 3) pts[k + 2] = sent <= sl; /* an empty answer keeps its 0 */
        if (name_penalty && cb_count_words(ans) >= 3) {
            char *low = strdup(ans);
            if (!low) {
                free(ans);
                return cb_err_set(err, CB_ENOMEM, "out of memory");
            }
            for (char *c = low; *c; c++) *c = *c == '-' ? ' ' : (char)tolower((unsigned char)*c);
            const cJSON *vars = cJSON_GetObjectItemCaseSensitive(it->meta, "variants");
            for (int i = 0; i < k; i++) {
                const cJSON *vv = cJSON_GetArrayItem(vars, i), *v;
                cJSON_ArrayForEach(v, vv) {
                    if (!cJSON_IsString(v)) continue;
                    int everyday = v->valuestring[0] == '~';
                    if (names_skill(low, v->valuestring + everyday, everyday)) pts[i] = 0;
                }
            }
            free(low);
        }
        int a = 0, b = pts[k] + pts[k + 1] + pts[k + 2];
        for (int i = 0; i < k; i++) a += pts[i];
        double m[5] = {a + b == k + 3, a == k && b >= 2, b == 3 ? (double)a / k : 0.0, (double)(a + b) / (k + 3),
                       (double)a / k};
        for (int i = 0; i < 5; i++) {
            sum[i] += m[i];
            if (m[i] > best[i]) best[i] = m[i];
        }
        if (n_graded == 0 || m[3] > 0) {
            memcpy(best_points, pts, sizeof pts);
            best_sent = sent;
        }
        n_graded++;
        free(ans);
    }
    (void)any_judge;
    if (parse_errors) cb_grade_add_metric(out, "judge_parse_errors", parse_errors);
    if (!any_reply) { /* every generation failed: no response to grade */
        out->unparsed = 1;
        out->flags |= CB_GRADE_NO_RESPONSE;
        out->score = 0;
        return 0;
    }
    if (n_proxy && !n_graded) {
        snprintf(out->grading, sizeof out->grading, "proxy");
        out->score = proxy_n ? proxy_sum / proxy_n : 0;
        cb_grade_set_reason(out, "no judge: rule-based proxy over %d generations (not the official score)", proxy_n);
        return 0;
    }
    snprintf(out->grading, sizeof out->grading, "judge");
    if (n_graded == 0) { /* judge_failed: no valid judgement at all */
        out->score = NAN;
        out->unparsed = 1;
        cb_grade_set_reason(out, "judge_failed: no judgement of any generation could be read");
        cb_grade_add_metric(out, "judge_failed", 1);
        return 0;
    }
    double agg[5];
    for (int i = 0; i < 5; i++) agg[i] = gen_mean ? sum[i] / n_graded : best[i];
    out->score = agg[0];
    cb_grade_add_metric(out, "full_marks", agg[0]);
    cb_grade_add_metric(out, "all_skills", agg[1]);
    cb_grade_add_metric(out, "skill_fraction", agg[2]);
    cb_grade_add_metric(out, "points_fraction", agg[3]);
    cb_grade_add_metric(out, "skills_unfiltered", agg[4]);
    cb_grade_add_metric(out, "generations_graded", n_graded);
    if (best_sent >= 0) cb_grade_add_metric(out, "sentences", best_sent);
    char ex[CB_GRADE_EXTRACTED_CAP] = "";
    size_t w = 0;
    for (int i = 0; i < k + 3 && w < sizeof ex; i++) {
        const char *lab = i < k ? names[i] : i == k ? "topic" : i == k + 1 ? "sense" : "limit";
        w += (size_t)snprintf(ex + w, sizeof ex - w, "%s%s=%d", i ? "; " : "", lab, best_points[i]);
    }
    cb_grade_set_extracted(out, ex);
    return 0;
}

static int needs_judge(const void *state) {
    (void)state;
    return 0; /* the rule-based proxy stands in (marked "proxy") */
}

const cb_task_family cb_family_skill_mix = {
    .name = "skill-mix",
    .summary = "compose k language skills in a short text on a random topic (judge-graded; proxy without a judge)",
    .grader_version = "skill-mix/1",
    .capability = FAMILY_CAP,
    .subtasks = subtasks,
    .subtask_capabilities = subtask_caps,
    .settings = settings,
    .default_setting = "two_turn",
    .params_parse = state_parse,
    .params_free = state_free,
    .params_to_json = state_to_json,
    .generate = generate,
    .build_requests = build_requests,
    .grade = grade,
    .next_round = next_round,
    .needs_judge = needs_judge,
    .check_cell = check_cell,
    .default_subtasks = default_subtasks,
};
