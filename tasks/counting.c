/* tasks/counting.c — task family `counting` (TASKS.md section 1): can a model
 * perceive and count the characters of one word?
 *
 * Subtasks: char_occur, substring_occur, word_len, distinct_char.
 * Settings (prompt templates, crossed with subtasks):
 *   plain           the question alone; greedy, 512 tokens
 *   direct          + " Directly answer the number." / " Directly answer Yes or No."; greedy, 16 tokens
 *   cot             + the work-through instruction asking for "Answer: <value>"; greedy, 1024 tokens
 *   sc              as cot, 5 samples at temperature 0.7, top-k 40; majority vote (ties: earliest sample)
 *   spelled         the word's letters joined by "-", plus the separator note; greedy, 512
 *   spelled_space   the same with " " (the spec's variant ` `)
 *   spelled_comma   the same with "," (the spec's variant `,`)
 *   fewshot4/8      4 or 8 user/assistant demo pairs (plain question -> bare answer), then the question;
 *                   demo candidates of item i are the items at index 2^40 + 64*i + m of the same subtask
 *                   (m = 0, 1, ...), so the pool is disjoint from every test index below 2^40; a
 *                   candidate is skipped when its word is the item's or its question equals or is one
 *                   letter from the item's or an accepted demo's question; substring_occur takes k/2
 *                   positives and k/2 negatives, shuffled by a generator seeded with the item's seed;
 *                   greedy, 512
 *   para1, para2    the paraphrased templates; greedy, 512
 *
 * Params ("params" of a suite task entry, all optional):
 *   "words": "pseudo" (default) | "seed" | "file:<path>"   word source (path relative to the cwd)
 *   "ambiguity_filter": true (default)    char_occur: skip words that hold x in the other case;
 *                                         distinct_char: skip words whose distinct count changes
 *                                         under case folding
 *   "absent_rate": 0 (default) .. 1       char_occur: fraction of items asking for a letter absent
 *                                         from the word (gold 0)
 *   "candidates": true (default)          add the optional log-likelihood requests for the
 *                                         candidate-normalized answer distribution (1.5)
 *
 * Generation (harness decisions where the spec leaves room; all draws from the
 * item's xoshiro256** stream, in this order):
 *   pseudo word: syllables = 1 + uniform(6); per syllable: onset with
 *     probability 0.75 (uniform over the 32 onsets), nucleus (uniform over 10),
 *     coda with probability 0.35 (uniform over 18); words outside 3..18 letters
 *     are redrawn; then the first letter is capitalized with probability 0.1.
 *   file word: uniform over the sorted, de-duplicated list.
 *   seed word: enumerated, item i uses word i mod 15 in the order of TASKS.md
 *     1.6 (no draw); with the filter on, a word whose distinct count changes
 *     under case folding (Missourianism) is replaced for distinct_char by the
 *     next seed word in order, and char_occur redraws the position, not the word.
 *   A pseudo or file word rejected by a filter is replaced by the next draw of
 *   the same stream (at most 1000 draws, else the item fails with an error
 *   naming the filter).
 *   char_occur: if absent_rate > 0, u = float(); u < absent_rate picks x
 *     uniformly among lowercase letters absent from the word (with the filter
 *     on: absent in both cases); otherwise x = Y[uniform(len)].
 *   substring_occur (pseudo/file): items 2j and 2j+1 share word and positive substring, both
 *     drawn from the stream of item 2j's seed; item 2j is the positive, item
 *     2j+1 the negative (the stream continues: position uniform(l), replacement
 *     letter uniform among the 25 other letters of the same case, repeated
 *     until the result is not a substring of Y). Balanced for even n.
 *     (Each item's recorded `seed` is still its own per-item seed of 0.2.)
 *     Seed words: item i is positive when i is even, drawn from its own stream;
 *     so n = 30 gives every seed word one positive and one negative item.
 *   Item meta: word, x (char/substring), len, len_bin, distinct, gold, source,
 *     absent (char_occur), polarity (substring_occur), candidates.
 *
 * Requests: 1 GENERATE (5 for sc, seeds splitmix64(item_seed + k + 1)), then,
 * when meta.candidates, one optional LOGLIK per candidate answer. These
 * depend on the item only, not on the setting: context = the `direct` prompt
 * (rebuilt from meta) with the assistant prefix, then cont_prefix "Answer:";
 * continuation " c" for c = 0..len+3 (numeric subtasks), " Yes" / " No"
 * (substring_occur). Only the continuation is scored.
 *
 * Grading (TASKS.md 1.4, 1.5; grader_version counting/2): graders/answer.h
 * reads the committed answer (markers, answer span, self-corrections, hedges,
 * attached units, statements, bare answers) with the item's last user turn as
 * the question whose leading copy is dropped; correct iff equal to gold; no
 * value (nothing committed, or hedged) -> unparsed. Flags: marker/no_marker,
 * self_corrected, hedged, format_violation (cot/sc: no marker; direct: more
 * than one sentence or 12 words or more), number_word, overflow, no_response,
 * vote_tie, truncated. The grade's span offsets are the raw bytes of the span
 * read in the (winning) response. Metrics: abs_error, signed_error
 * (pred - gold), off_by_one (numeric, parsed only); soft_correct (numeric: gold
 * appears anywhere as a number or number word; substring: the word yes/no of
 * the gold appears anywhere, both present count as correct); token/char edit
 * distance of extracted vs gold; sc_agreement (winner's votes / 5); with all
 * candidate log-likelihoods present: q_gold, expected_error = sum q_c |c - gold|
 * (numeric), brier (substring), gold_logprob (sum over the gold candidate's
 * continuation tokens only), gold_logprob_mean (per token, when the token count
 * is known), gold_prob.
 */
#include "tasks/task.h"

#include "common/rng.h"
#include "graders/answer.h"
#include "graders/vote.h"
#include "tasks/words.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_CHAR, ST_SUB, ST_LEN, ST_DISTINCT, ST_COUNT };
enum {
    S_PLAIN, S_DIRECT, S_COT, S_SC, S_SPELLED, S_SPELLED_SPACE, S_SPELLED_COMMA,
    S_FEW4, S_FEW8, S_PARA1, S_PARA2, S_COUNT
};

static const char *const subtasks[] = {"char_occur", "substring_occur", "word_len", "distinct_char", NULL};
static const char *const subtask_caps[] = {"char_counting", "substring_detection", "length_counting",
                                           "distinct_counting", NULL};
static const char *const settings[] = {"plain",    "direct",   "cot",   "sc",    "spelled", "spelled_space",
                                       "spelled_comma", "fewshot4", "fewshot8", "para1", "para2", NULL};

#define FAMILY_CAP "char_perception"
#define SC_SAMPLES 5
#define DEMO_OFFSET (INT64_C(1) << 40)
#define DEMO_STRIDE 64 /* demo candidates of item i: DEMO_OFFSET + DEMO_STRIDE * i + m, m < DEMO_STRIDE */
#define MAX_DRAWS 1000

typedef enum { SRC_PSEUDO, SRC_SEED, SRC_FILE } word_source;
static const char *const source_names[] = {"pseudo", "seed", "file"};

typedef struct counting_state {
    word_source src;
    char *words_param; /* as given: "pseudo", "seed", "file:<path>" */
    cb_wordlist *wl;   /* seed or file list */
    int ambiguity_filter;
    double absent_rate;
    int candidates;
} counting_state;

/* ---- params ---- */

static void state_free(void *p) {
    counting_state *st = p;
    if (!st) return;
    cb_wordlist_free(st->wl);
    free(st->words_param);
    free(st);
}

static int state_parse(const cJSON *params, const char *path, void **out, cb_err *err) {
    *out = NULL;
    counting_state *st = calloc(1, sizeof *st);
    int rc = 0;
    if (!st) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    st->ambiguity_filter = 1;
    st->candidates = 1;
    const char *words = "pseudo";
    const cJSON *it;
    cJSON_ArrayForEach(it, params) {
        const char *k = it->string;
        if (strcmp(k, "words") == 0) {
            if (!cJSON_IsString(it)) {
                rc = cb_err_set(err, CB_EUSAGE, "%s.words: expected \"pseudo\", \"seed\" or \"file:<path>\"", path);
                goto out;
            }
            words = it->valuestring;
        } else if (strcmp(k, "ambiguity_filter") == 0 || strcmp(k, "candidates") == 0) {
            if (!cJSON_IsBool(it)) {
                rc = cb_err_set(err, CB_EUSAGE, "%s.%s: expected true or false", path, k);
                goto out;
            }
            *(k[0] == 'a' ? &st->ambiguity_filter : &st->candidates) = cJSON_IsTrue(it);
        } else if (strcmp(k, "absent_rate") == 0) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= 1)) {
                rc = cb_err_set(err, CB_EUSAGE, "%s.absent_rate: expected a number from 0 to 1", path);
                goto out;
            }
            st->absent_rate = it->valuedouble;
        } else {
            rc = cb_err_set(err, CB_EUSAGE,
                            "%s.%s: unknown key (expected words, ambiguity_filter, absent_rate, candidates)", path, k);
            goto out;
        }
    }
    if (strcmp(words, "pseudo") == 0) {
        st->src = SRC_PSEUDO;
    } else if (strcmp(words, "seed") == 0) {
        st->src = SRC_SEED;
        if ((rc = cb_wordlist_seed(&st->wl, err)) != 0) goto out;
    } else if (strncmp(words, "file:", 5) == 0 && words[5]) {
        st->src = SRC_FILE;
        if ((rc = cb_wordlist_load(words + 5, &st->wl, err)) != 0) {
            cb_err_prefix(err, "%s.words: ", path);
            goto out;
        }
    } else {
        rc = cb_err_set(err, CB_EUSAGE, "%s.words: expected \"pseudo\", \"seed\" or \"file:<path>\", got \"%.200s\"",
                        path, words);
        goto out;
    }
    if (!(st->words_param = strdup(words))) {
        rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    *out = st;
    st = NULL;
out:
    state_free(st);
    return rc;
}

static cJSON *state_to_json(const void *p) {
    const counting_state *st = p;
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (!cJSON_AddStringToObject(o, "words", st->words_param) ||
        !cJSON_AddBoolToObject(o, "ambiguity_filter", st->ambiguity_filter) ||
        !cJSON_AddNumberToObject(o, "absent_rate", st->absent_rate) ||
        !cJSON_AddBoolToObject(o, "candidates", st->candidates)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- words ---- */

static const char *const onsets[] = {"b",  "c",  "d",  "f",  "g",  "h",  "j",  "k",  "l",   "m",  "n",
                                     "p",  "r",  "s",  "t",  "v",  "w",  "z",  "bl", "br",  "ch", "cr",
                                     "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th", "tr"};
static const char *const nuclei[] = {"a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou"};
static const char *const codas[] = {"b", "d", "g",  "k",  "l",  "m",  "n",  "p",  "r",
                                    "s", "t", "x", "ck", "ng", "nd", "rr", "ss", "st"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void append(char *buf, int *n, const char *s) {
    while (*s) buf[(*n)++] = *s++;
}

/* Pseudo-word into w (>= 64 bytes); returns its length (3..18). */
static int pseudo_word(cb_rng *r, char *w) {
    for (;;) {
        int n = 0;
        int syl = 1 + (int)cb_rng_uniform(r, 6);
        for (int s = 0; s < syl; s++) {
            if (cb_rng_float(r) < 0.75) append(w, &n, onsets[cb_rng_uniform(r, NELEM(onsets))]);
            append(w, &n, nuclei[cb_rng_uniform(r, NELEM(nuclei))]);
            if (cb_rng_float(r) < 0.35) append(w, &n, codas[cb_rng_uniform(r, NELEM(codas))]);
        }
        w[n] = '\0';
        if (n < CB_WORD_MIN || n > CB_WORD_MAX) continue;
        if (cb_rng_float(r) < 0.1) w[0] = (char)(w[0] - 'a' + 'A');
        return n;
    }
}

static int draw_word(const counting_state *st, cb_rng *r, char *w) {
    if (st->src == SRC_PSEUDO) return pseudo_word(r, w);
    const char *s = cb_wordlist_word(st->wl, (size_t)cb_rng_uniform(r, cb_wordlist_size(st->wl)));
    size_t n = strlen(s);
    memcpy(w, s, n + 1);
    return (int)n;
}

static int other_case(int c) {
    if (c >= 'a' && c <= 'z') return c - 'a' + 'A';
    if (c >= 'A' && c <= 'Z') return c - 'A' + 'a';
    return c;
}

static int count_char(const char *w, int c) {
    int n = 0;
    for (; *w; w++) n += (unsigned char)*w == c;
    return n;
}

/* Distinct characters, case-sensitive (folded = 0) or ASCII-case-folded. */
static int distinct_chars(const char *w, int folded) {
    unsigned char seen[256] = {0};
    int n = 0;
    for (; *w; w++) {
        int c = (unsigned char)*w;
        if (folded && c >= 'A' && c <= 'Z') c += 32;
        if (!seen[c]) {
            seen[c] = 1;
            n++;
        }
    }
    return n;
}

/* ---- the subtask core: word, x, gold ---- */

typedef struct core {
    char word[64];
    int len;
    char x[CB_WORD_MAX + 1];
    int64_t gold;     /* numeric gold; substring: 1 = Yes, 0 = No */
    int absent;       /* char_occur: x drawn from absent letters */
    int positive;     /* substring_occur */
} core;

static int gen_core(const counting_state *st, uint64_t task_seed, int subtask, int64_t index, core *c,
                    cb_err *err) {
    memset(c, 0, sizeof *c);
    cb_rng r;
    int enumerated = st->src == SRC_SEED; /* item i uses seed word i mod 15 (TASKS.md 1.2) */
    if (subtask == ST_SUB && !enumerated)
        cb_rng_seed(&r, cb_task_item_seed(task_seed, "counting", subtasks[ST_SUB], index & ~(int64_t)1));
    else
        cb_rng_seed(&r, cb_task_item_seed(task_seed, "counting", subtasks[subtask], index));
    uint64_t shift = 0; /* enumerated: words skipped by a word-level filter */
    for (int draw = 0; draw < MAX_DRAWS; draw++) {
        if (enumerated) {
            size_t n = cb_wordlist_size(st->wl);
            const char *w = cb_wordlist_word(st->wl, (size_t)(((uint64_t)index + shift) % n));
            c->len = (int)strlen(w);
            memcpy(c->word, w, (size_t)c->len + 1);
        } else {
            c->len = draw_word(st, &r, c->word);
        }
        switch (subtask) {
        case ST_CHAR:
            if (st->absent_rate > 0 && cb_rng_float(&r) < st->absent_rate) {
                char cand[26];
                int nc = 0;
                for (int l = 'a'; l <= 'z'; l++)
                    if (!strchr(c->word, l) && !(st->ambiguity_filter && strchr(c->word, other_case(l))))
                        cand[nc++] = (char)l;
                if (nc == 0) continue;
                c->x[0] = cand[cb_rng_uniform(&r, (uint64_t)nc)];
                c->x[1] = '\0';
                c->gold = 0;
                c->absent = 1;
                return 0;
            } else {
                int ch = (unsigned char)c->word[cb_rng_uniform(&r, (uint64_t)c->len)];
                if (st->ambiguity_filter && other_case(ch) != ch && strchr(c->word, other_case(ch))) continue;
                c->x[0] = (char)ch;
                c->x[1] = '\0';
                c->gold = count_char(c->word, ch);
                return 0;
            }
        case ST_SUB: {
            int maxl = c->len < 14 ? c->len : 14;
            int l = (int)cb_rng_range(&r, 3, maxl);
            int start = (int)cb_rng_uniform(&r, (uint64_t)(c->len - l + 1));
            memcpy(c->x, c->word + start, (size_t)l);
            c->x[l] = '\0';
            c->positive = !(index & 1); /* enumerated: word w is item w and w + 15, one of each parity */
            c->gold = c->positive;
            if (c->positive) return 0;
            char neg[CB_WORD_MAX + 1];
            for (int tries = 0; tries < 100000; tries++) {
                memcpy(neg, c->x, (size_t)l + 1);
                int p = (int)cb_rng_uniform(&r, (uint64_t)l);
                int orig = (unsigned char)neg[p];
                int upper = orig >= 'A' && orig <= 'Z';
                int o = upper ? orig - 'A' : orig - 'a';
                int k = (int)cb_rng_uniform(&r, 25);
                if (k >= o) k++; /* skip the original letter */
                neg[p] = (char)((upper ? 'A' : 'a') + k);
                if (!strstr(c->word, neg)) {
                    memcpy(c->x, neg, (size_t)l + 1);
                    return 0;
                }
            }
            return cb_err_set(err, CB_ERUNTIME, "counting/substring_occur/%" PRId64 ": no negative substring found",
                              index);
        }
        case ST_LEN:
            c->gold = c->len;
            return 0;
        case ST_DISTINCT:
            c->gold = distinct_chars(c->word, 0);
            if (st->ambiguity_filter && distinct_chars(c->word, 1) != c->gold) {
                shift++; /* enumerated: the next seed word in order */
                continue;
            }
            return 0;
        }
    }
    return cb_err_set(err, CB_EUSAGE,
                      "counting/%s/%" PRId64 ": no word from source \"%s\" passed the ambiguity filter in %d draws",
                      subtasks[subtask], index, st->words_param, MAX_DRAWS);
}

/* ---- prompts ---- */

#define DIRECT_NUM " Directly answer the number."
#define DIRECT_YN " Directly answer Yes or No."
#define CAND_PREFIX "Answer:"
#define COT_SUFFIX                                                                                               \
    "\n\nWork through the word one character at a time and show your counting. Then give the result on a final " \
    "line in the form \"Answer: <value>\"."

/* The question of a subtask in template variant v (0 plain, 1 para1, 2 para2). */
static int question(int subtask, int v, const char *Y, const char *x, char *buf, size_t cap) {
    switch (subtask) {
    case ST_CHAR:
        if (v == 1) return snprintf(buf, cap, "In the word \"%s\", how many times does the letter '%s' occur?", Y, x);
        if (v == 2) return snprintf(buf, cap, "Count the letter '%s' in \"%s\". How many are there?", x, Y);
        return snprintf(buf, cap, "How many %s's in the word \"%s\"?", x, Y);
    case ST_SUB:
        if (v == 1) return snprintf(buf, cap, "Does \"%s\" contain the letter sequence \"%s\"?", Y, x);
        if (v == 2) return snprintf(buf, cap, "Can \"%s\" be found inside the word \"%s\"?", x, Y);
        return snprintf(buf, cap, "Is the substring \"%s\" part of the word \"%s\"?", x, Y);
    case ST_LEN:
        if (v == 1) return snprintf(buf, cap, "How many letters does \"%s\" have?", Y);
        if (v == 2) return snprintf(buf, cap, "What is the length, in characters, of \"%s\"?", Y);
        return snprintf(buf, cap, "How many characters in the word \"%s\"?", Y);
    default:
        if (v == 1) return snprintf(buf, cap, "How many different characters appear in \"%s\"?", Y);
        if (v == 2) return snprintf(buf, cap, "Count the unique characters of the word \"%s\".", Y);
        return snprintf(buf, cap, "How many distinct characters in the word \"%s\"?", Y);
    }
}

static void direct_prompt(int subtask, const char *Y, const char *x, char *buf, size_t cap) {
    int n = question(subtask, 0, Y, x, buf, cap);
    snprintf(buf + n, cap - (size_t)n, "%s", subtask == ST_SUB ? DIRECT_YN : DIRECT_NUM);
}

static const char *gold_text(int subtask, int64_t gold, char *buf, size_t cap) {
    if (subtask == ST_SUB) return gold ? "Yes" : "No";
    snprintf(buf, cap, "%" PRId64, gold);
    return buf;
}

/* ---- requests ---- */

static int setting_max_tokens(int s) {
    switch (s) {
    case S_DIRECT: return 16;
    case S_COT:
    case S_SC: return 1024;
    default: return 512;
    }
}

static const char *meta_str(const cJSON *meta, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int valid_word(const char *w, int min) {
    size_t n = w ? strlen(w) : 0;
    if ((int)n < min || n > CB_WORD_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= 'A' && w[i] <= 'Z'))) return 0;
    return 1;
}

static int build_requests(cb_item *it, cb_err *err) {
    int st = cb_task_family_subtask(it->family, it->subtask);
    int se = cb_task_family_setting(it->family, it->setting);
    const char *Y = meta_str(it->meta, "word");
    const char *x = meta_str(it->meta, "x");
    if (!valid_word(Y, 1)) return cb_err_set(err, CB_EFORMAT, "field \"meta.word\": expected 1 to 18 ASCII letters");
    if ((st == ST_CHAR || st == ST_SUB) && !valid_word(x, 1))
        return cb_err_set(err, CB_EFORMAT, "field \"meta.x\": expected 1 to 18 ASCII letters");
    if (it->gold_type != (st == ST_SUB ? CB_GOLD_STRING : CB_GOLD_INT) ||
        (st == ST_SUB && strcmp(it->gold, "Yes") != 0 && strcmp(it->gold, "No") != 0))
        return cb_err_set(err, CB_EFORMAT, "field \"gold\": expected %s",
                          st == ST_SUB ? "\"Yes\" or \"No\"" : "an integer");
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(it->meta, "candidates");
    int cands = cJSON_IsTrue(jc);
    int len = (int)strlen(Y);
    int n_gen = se == S_SC ? SC_SAMPLES : 1;
    int n_cand = cands ? (st == ST_SUB ? 2 : len + 4) : 0;
    cb_treq *reqs = cb_item_alloc(it, (size_t)(n_gen + n_cand) * sizeof *reqs);
    if (!reqs) return cb_err_set(err, CB_ENOMEM, "out of memory");
    for (int k = 0; k < n_gen; k++) {
        cb_treq *q = &reqs[k];
        q->kind = CB_TREQ_GENERATE;
        q->turns = it->turns;
        q->n_turns = it->n_turns;
        q->max_tokens = setting_max_tokens(se);
        if (se == S_SC) {
            q->temperature = 0.7f;
            q->top_k = 40;
            q->seed = cb_splitmix64(it->seed + (uint64_t)k + 1);
        } else {
            q->seed = it->seed;
        }
    }
    if (n_cand) {
        /* The candidates depend on the item only, never on the setting: the
         * `direct` prompt rebuilt from meta, context suffix "Answer:", then
         * " c" / " Yes" / " No" scored (TASKS.md 1.5). Identical requests across
         * settings let the scheduler compute them once. */
        char buf[512];
        direct_prompt(st, Y, x, buf, sizeof buf);
        cb_turn *t = cb_item_alloc(it, sizeof *t);
        if (!t || !(t->text = cb_item_strdup(it, buf, -1))) return cb_err_set(err, CB_ENOMEM, "out of memory");
        t->role = CB_TURN_USER;
        const char *prefix = cb_item_strdup(it, CAND_PREFIX, -1);
        if (!prefix) return cb_err_set(err, CB_ENOMEM, "out of memory");
        for (int c = 0; c < n_cand; c++) {
            cb_treq *q = &reqs[n_gen + c];
            char cb[32];
            if (st == ST_SUB) snprintf(cb, sizeof cb, " %s", c == 0 ? "Yes" : "No");
            else snprintf(cb, sizeof cb, " %d", c);
            q->kind = CB_TREQ_LOGLIK;
            q->optional = 1;
            q->turns = t;
            q->n_turns = 1;
            q->cont_prefix = prefix;
            if (!(q->continuation = cb_item_strdup(it, cb, -1))) return cb_err_set(err, CB_ENOMEM, "out of memory");
        }
    }
    cb_item_set_reqs(it, reqs, n_gen + n_cand);
    return 0;
}

/* ---- generation ---- */

static const char *len_bin(int len) {
    if (len <= 6) return "3-6";
    if (len <= 10) return "7-10";
    if (len <= 14) return "11-14";
    return "15-18";
}

/* Whether two questions are equal or differ by one letter (one substitution,
 * insertion or deletion). */
static int near_dup(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la < lb) {
        const char *t = a;
        a = b;
        b = t;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    if (la - lb > 1) return 0;
    size_t i = 0;
    while (i < lb && a[i] == b[i]) i++;
    if (la == lb) return i == la || strcmp(a + i + 1, b + i + 1) == 0;
    return strcmp(a + i + 1, b + i) == 0;
}

typedef struct demo {
    char q[512];
    char a[32];
} demo;

/* The k few-shot demos of item it (TASKS.md 1.3): candidates from the demo
 * pool at index DEMO_OFFSET + DEMO_STRIDE * index + m, in order of m; a
 * candidate is skipped when its question equals or is one letter from the
 * item's question or an accepted demo's. substring_occur takes k/2 positives
 * (even m) and k/2 negatives (odd m) and shuffles them with a generator
 * seeded by the item's seed; other subtasks keep pool order (so fewshot4
 * demos are a prefix of fewshot8 demos). */
static int pick_demos(const counting_state *st, uint64_t task_seed, int sub, const cb_item *it, const core *c, int k,
                      demo *out, cb_err *err) {
    char itq[512];
    question(sub, 0, c->word, c->x, itq, sizeof itq);
    int got = 0, pos = 0, neg = 0;
    for (int m = 0; m < DEMO_STRIDE && got < k; m++) {
        core d;
        int rc = gen_core(st, task_seed, sub, DEMO_OFFSET + DEMO_STRIDE * it->index + m, &d, err);
        if (rc) return rc;
        if (sub == ST_SUB && (d.positive ? pos : neg) >= k / 2) continue;
        demo *o = &out[got];
        question(sub, 0, d.word, d.x, o->q, sizeof o->q);
        int dup = near_dup(o->q, itq) || strcmp(d.word, c->word) == 0;
        for (int j = 0; j < got && !dup; j++) dup = near_dup(o->q, out[j].q);
        if (dup) continue;
        char gb[32];
        snprintf(o->a, sizeof o->a, "%s", gold_text(sub, d.gold, gb, sizeof gb));
        if (sub == ST_SUB && d.positive) pos++;
        else if (sub == ST_SUB) neg++;
        got++;
    }
    if (got < k)
        return cb_err_set(err, CB_EUSAGE, "%s: only %d of %d few-shot demos found in %d pool items (word source \"%s\")",
                          it->id, got, k, DEMO_STRIDE, st->words_param);
    if (sub == ST_SUB) { /* shuffle an index array (cb_rng_shuffle takes elements up to 64 bytes) */
        cb_rng r;
        cb_rng_seed(&r, it->seed);
        int order[8];
        demo tmp[8];
        for (int j = 0; j < k; j++) order[j] = j;
        cb_rng_shuffle(&r, order, (size_t)k, sizeof order[0]);
        for (int j = 0; j < k; j++) tmp[j] = out[order[j]];
        memcpy(out, tmp, (size_t)k * sizeof *out);
    }
    return 0;
}

static int generate(const void *state, uint64_t task_seed, cb_item *it, cb_err *err) {
    const counting_state *st = state;
    int sub = cb_task_family_subtask(it->family, it->subtask);
    int se = cb_task_family_setting(it->family, it->setting);
    core c;
    int rc = gen_core(st, task_seed, sub, it->index, &c, err);
    if (rc) return rc;

    /* turns: up to 8 demo pairs + the question */
    cb_turn turns[2 * 8 + 1];
    demo demos[8];
    char qbuf[1024];
    int nt = 0;
    int n_demo = se == S_FEW4 ? 4 : se == S_FEW8 ? 8 : 0;
    if (n_demo && (rc = pick_demos(st, task_seed, sub, it, &c, n_demo, demos, err))) return rc;
    for (int j = 0; j < n_demo; j++) {
        turns[nt++] = (cb_turn){CB_TURN_USER, demos[j].q};
        turns[nt++] = (cb_turn){CB_TURN_ASSISTANT, demos[j].a};
    }
    if (se == S_SPELLED || se == S_SPELLED_SPACE || se == S_SPELLED_COMMA) {
        char sep = se == S_SPELLED ? '-' : se == S_SPELLED_SPACE ? ' ' : ',';
        const char *what = se == S_SPELLED ? "hyphens" : se == S_SPELLED_SPACE ? "spaces" : "commas";
        char sp[2 * CB_WORD_MAX];
        int n = 0;
        for (int i = 0; i < c.len; i++) {
            if (i) sp[n++] = sep;
            sp[n++] = c.word[i];
        }
        sp[n] = '\0';
        int q = question(sub, 0, sp, c.x, qbuf, sizeof qbuf);
        snprintf(qbuf + q, sizeof qbuf - (size_t)q,
                 "\nThe letters of the word are separated by %s; the separators are not part of the word.", what);
    } else {
        int v = se == S_PARA1 ? 1 : se == S_PARA2 ? 2 : 0;
        int q = question(sub, v, c.word, c.x, qbuf, sizeof qbuf);
        const char *suffix = se == S_DIRECT ? (sub == ST_SUB ? DIRECT_YN : DIRECT_NUM)
                             : (se == S_COT || se == S_SC) ? COT_SUFFIX
                                                           : "";
        snprintf(qbuf + q, sizeof qbuf - (size_t)q, "%s", suffix);
    }
    turns[nt++] = (cb_turn){CB_TURN_USER, qbuf};
    if (cb_item_set_turns(it, turns, nt)) goto oom;
    if (sub == ST_SUB ? cb_item_set_gold_str(it, c.gold ? "Yes" : "No") : cb_item_set_gold_int(it, c.gold)) goto oom;
    if (cb_item_set_capabilities(it, FAMILY_CAP, subtask_caps[sub])) goto oom;

    cJSON *m = cJSON_CreateObject();
    if (!m) goto oom;
    it->meta = m;
    int distinct = distinct_chars(c.word, 0);
    if (!cJSON_AddStringToObject(m, "word", c.word)) goto oom;
    if ((sub == ST_CHAR || sub == ST_SUB) && !cJSON_AddStringToObject(m, "x", c.x)) goto oom;
    if (!cJSON_AddNumberToObject(m, "len", c.len) || !cJSON_AddStringToObject(m, "len_bin", len_bin(c.len)) ||
        !cJSON_AddNumberToObject(m, "distinct", distinct) || !cJSON_AddStringToObject(m, "source", source_names[st->src]))
        goto oom;
    if (sub == ST_SUB ? !cJSON_AddStringToObject(m, "gold", c.gold ? "Yes" : "No")
                      : !cJSON_AddNumberToObject(m, "gold", (double)c.gold))
        goto oom;
    if (sub == ST_CHAR && !cJSON_AddBoolToObject(m, "absent", c.absent)) goto oom;
    if (sub == ST_SUB && !cJSON_AddStringToObject(m, "polarity", c.positive ? "positive" : "negative")) goto oom;
    if (!cJSON_AddBoolToObject(m, "candidates", st->candidates)) goto oom;
    return build_requests(it, err);
oom:
    return cb_err_set(err, CB_ENOMEM, "%s: out of memory", it->id);
}

/* ---- grading ---- */

typedef struct answer {
    cb_answer x;    /* what extraction read */
    char text[24];  /* canonical extracted answer ("3", "Yes") when found */
} answer;

/* Words a direct answer may have before it counts as more than the bare
 * answer (TASKS.md 1.4 "more than 12 words"; see docs/extraction.md for why
 * the limit is applied as "12 or more"). */
#define DIRECT_MAX_WORDS 11

static int extract(const cb_item *it, int sub, int se, const char *text, answer *a, cb_err *err) {
    memset(a, 0, sizeof *a);
    cb_answer_req req = {
        .kind = sub == ST_SUB ? CB_ASK_YESNO : CB_ASK_COUNT,
        .unit = sub == ST_CHAR ? CB_UNIT_LETTER : sub == ST_LEN ? CB_UNIT_LENGTH : sub == ST_DISTINCT ? CB_UNIT_DISTINCT
                                                                                                      : CB_UNIT_NONE,
        .reasoning = se == S_COT || se == S_SC,
        .question = it->n_turns > 0 ? it->turns[it->n_turns - 1].text : NULL,
    };
    const char *x = meta_str(it->meta, "x");
    if (sub == ST_CHAR && x) req.letter = x[0];
    int rc = cb_answer_extract(text ? text : "", &req, &a->x, err);
    if (rc) return rc;
    if ((se == S_COT || se == S_SC) && !a->x.has_marker) a->x.flags |= CB_GRADE_FORMAT_VIOLATION;
    if (se == S_DIRECT && (a->x.n_sentences > 1 || a->x.n_words > DIRECT_MAX_WORDS))
        a->x.flags |= CB_GRADE_FORMAT_VIOLATION;
    if (a->x.found) {
        if (sub == ST_SUB) snprintf(a->text, sizeof a->text, "%s", a->x.value ? "Yes" : "No");
        else snprintf(a->text, sizeof a->text, "%" PRId64, a->x.value);
    }
    return 0;
}

static int grade(cb_grader_ctx *g, const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out,
                 cb_err *err) {
    int sub = cb_task_family_subtask(it->family, it->subtask);
    int se = cb_task_family_setting(it->family, it->setting);
    int n_gen = se == S_SC ? SC_SAMPLES : 1;
    if (n_resps < n_gen) return cb_err_set(err, CB_EUSAGE, "%s: %d responses, need %d", it->id, n_resps, n_gen);
    int64_t gold = sub == ST_SUB ? strcmp(it->gold, "Yes") == 0 : it->gold_int;

    answer ans[SC_SAMPLES];
    const char *votes[SC_SAMPLES];
    int any_ok = 0;
    for (int k = 0; k < n_gen; k++) {
        votes[k] = NULL;
        memset(&ans[k], 0, sizeof ans[k]);
        if (!resps[k].ok) continue;
        any_ok = 1;
        int rc = extract(it, sub, se, resps[k].text, &ans[k], err);
        if (rc) return rc;
        if (ans[k].x.found) votes[k] = ans[k].text;
    }
    int win = 0, count = 0, tie = 0;
    if (se == S_SC) {
        win = cb_majority_vote(votes, n_gen, &count, &tie);
        if (win < 0) { /* nothing parsed: report the first answered sample */
            win = 0;
            while (win < n_gen - 1 && !resps[win].ok) win++;
        }
    }
    const answer *a = &ans[win];
    const char *text = resps[win].ok && resps[win].text ? resps[win].text : "";
    out->flags = a->x.flags;
    if (resps[win].ok) {
        out->span_start = a->x.span_start;
        out->span_end = a->x.span_end;
    }
    if (tie) out->flags |= CB_GRADE_VOTE_TIE;
    if (resps[win].ok && resps[win].truncated) out->flags |= CB_GRADE_TRUNCATED;

    if (!any_ok) {
        out->unparsed = 1;
        out->flags |= CB_GRADE_NO_RESPONSE;
        cb_grade_set_reason(out, "no response");
    } else if (!a->x.found) {
        out->unparsed = 1;
        cb_grade_set_reason(out, "%s", (a->x.flags & CB_GRADE_HEDGED) ? "hedged: alternatives offered, no single answer"
                                       : sub == ST_SUB ? "no committed yes/no answer"
                                                       : "no committed count");
    } else {
        cb_grade_set_extracted(out, a->text);
        out->score = a->x.value == gold ? 1.0 : 0.0;
        cb_grade_set_reason(out, "%s: expected %s, got %s", out->score > 0 ? "correct" : "wrong", it->gold, a->text);
    }

    /* continuous metrics */
    if (sub != ST_SUB && a->x.found) {
        double e = (double)a->x.value - (double)gold;
        cb_grade_add_metric(out, "abs_error", fabs(e));
        cb_grade_add_metric(out, "signed_error", e);
        cb_grade_add_metric(out, "off_by_one", fabs(e) == 1.0);
    }
    if (any_ok) {
        int soft = cb_answer_soft(text, sub == ST_SUB ? CB_ASK_YESNO : CB_ASK_COUNT, gold);
        if (soft < 0) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", it->id);
        cb_grade_add_metric(out, "soft_correct", soft);
    }
    cb_grader_add_edit_metrics(g, out, out->extracted, it->gold);
    if (se == S_SC && count > 0) cb_grade_add_metric(out, "sc_agreement", (double)count / n_gen);

    /* candidate-normalized answer distribution */
    int n_cand = n_resps - n_gen;
    int all = n_cand > 0;
    for (int c = 0; c < n_cand && all; c++)
        if (!resps[n_gen + c].ok || !isfinite(resps[n_gen + c].logprob_sum)) all = 0;
    if (all) {
        const cb_task_resp *cr = resps + n_gen;
        double mx = -INFINITY, z = 0;
        for (int c = 0; c < n_cand; c++) mx = fmax(mx, cr[c].logprob_sum);
        for (int c = 0; c < n_cand; c++) z += exp(cr[c].logprob_sum - mx);
        /* candidate index of gold: numeric c == value; substring 0 = Yes, 1 = No */
        int gi = sub == ST_SUB ? (gold ? 0 : 1) : (int)gold;
        if (gi >= 0 && gi < n_cand) {
            double q_gold = exp(cr[gi].logprob_sum - mx) / z;
            cb_grade_add_metric(out, "q_gold", q_gold);
            if (sub == ST_SUB) {
                double brier = 0;
                for (int c = 0; c < n_cand; c++) {
                    double q = exp(cr[c].logprob_sum - mx) / z;
                    brier += (q - (c == gi)) * (q - (c == gi));
                }
                cb_grade_add_metric(out, "brier", brier);
            } else {
                double ee = 0;
                for (int c = 0; c < n_cand; c++) ee += exp(cr[c].logprob_sum - mx) / z * fabs((double)(c - gi));
                cb_grade_add_metric(out, "expected_error", ee);
            }
            cb_grade_add_metric(out, "gold_logprob", cr[gi].logprob_sum);
            if (cr[gi].n_tokens > 0)
                cb_grade_add_metric(out, "gold_logprob_mean", cr[gi].logprob_sum / cr[gi].n_tokens);
            cb_grade_add_metric(out, "gold_prob", exp(cr[gi].logprob_sum));
        }
    }
    return 0;
}

const cb_task_family cb_family_counting = {
    .name = "counting",
    .summary = "count the characters of one word: letter occurrences, substrings, length, distinct letters",
    .grader_version = "counting/2",
    .capability = FAMILY_CAP,
    .subtasks = subtasks,
    .subtask_capabilities = subtask_caps,
    .settings = settings,
    .default_setting = "direct",
    .params_parse = state_parse,
    .params_free = state_free,
    .params_to_json = state_to_json,
    .generate = generate,
    .build_requests = build_requests,
    .grade = grade,
};
