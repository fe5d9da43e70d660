/* tasks/task.h — the task registry: task families, task specs, items, the
 * model requests an item needs, and grading an item from its responses.
 *
 * Pipeline position: the runner turns each suite "tasks" entry into a
 * cb_task_spec (cb_task_spec_new validates family, subtasks, settings and the
 * family "params" object), enumerates items by index (cb_task_spec_item), sends
 * each item's requests (item->reqs, in task terms; the runner maps them to
 * runner/backend.h cb_request), and grades the responses with cb_item_grade.
 * Items serialize to JSON (cb_item_to_json / cb_item_from_json) so that the
 * results store can keep them and `capbench regrade` can re-grade without
 * regenerating.
 *
 * This module does not know runner/ or results/: no cb_request, no SQLite.
 *
 * ---- Determinism (TASKS.md 0.2) ----
 * Item (subtask, setting, index) depends only on (family params, task seed,
 * subtask, index) and the setting's prompt — never on n, on the shard, or on
 * other items. The per-item seed does not include the setting, so index i of
 * every setting asks about the same word (paired comparisons across settings).
 * Generation and grading are thread-safe for a shared const spec; grading needs
 * one cb_grader_ctx per thread.
 *
 * ---- Requests and responses ----
 * item->reqs[0..n_reqs) lists what the item needs from the model, flattened:
 * one entry = one backend call. Self-consistency ("sc") is 5 GENERATE entries
 * with different seeds. Log-likelihood entries (candidate answers) are marked
 * `optional`: the runner skips them when the backend cannot score (or when the
 * user turned them off), passing ok = 0 in the matching response; the grade
 * then lacks only the metrics that need them. Responses are passed to
 * cb_item_grade in the same order: resps[i] answers reqs[i].
 *
 * ---- Capabilities ----
 * Each item carries one or two capability labels; the report aggregates the
 * item's score under each label. Counting items carry the family capability
 * "char_perception" and the subtask's own label (see `capbench tasks`):
 *   char_occur -> char_counting, substring_occur -> substring_detection,
 *   word_len -> length_counting, distinct_char -> distinct_counting.
 * (A cross capability will be a single label written "X&Y".)
 *
 * ---- Adding a family ----
 * Write tasks/<family>.c defining a const cb_task_family, and add one line to
 * the table in tasks/registry.c.
 */
#ifndef CB_TASK_H
#define CB_TASK_H

#include "common/err.h"
#include "graders/grader.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cJSON cJSON;

/* ---- turns ----------------------------------------------------------------- */

/* Same numeric values as runner/backend.h cb_role, so a cast maps them. */
typedef enum { CB_TURN_SYSTEM = 0, CB_TURN_USER = 1, CB_TURN_ASSISTANT = 2 } cb_turn_role;

typedef struct cb_turn {
    cb_turn_role role;
    const char *text; /* owned by the item */
} cb_turn;

/* "system" / "user" / "assistant"; and back (returns -1 for an unknown name). */
const char *cb_turn_role_name(cb_turn_role r);
int cb_turn_role_parse(const char *name);

/* ---- requests in task terms ------------------------------------------------ */

typedef enum {
    CB_TREQ_GENERATE = 0, /* turns -> text */
    CB_TREQ_LOGLIK = 1,   /* turns rendered with the assistant prefix, then
                             `continuation` scored: sum of log p (natural log) */
    CB_TREQ_ROLLING = 2   /* `prompt` (a whole text) scored token by token in
                             windows (rolling_mode, window, stride) */
} cb_treq_kind;

/* Windowing of a ROLLING request (same values as engine/engine.h cb_rolling_mode). */
typedef enum {
    CB_TROLL_WINDOWS = 0,    /* every token once, windows of `window` inputs advancing by `stride` */
    CB_TROLL_PERPLEXITY = 1, /* llama.cpp llama-perplexity chunks of `window` tokens, second halves scored */
    CB_TROLL_BLOCKS = 2      /* TASKS.md 5.6: windows of window+1 tokens after BOS, start advancing by
                                stride, each token scored once, the text's first token never */
} cb_troll_mode;

/* Who answers a request: the model under test, or the suite's judge model
 * (LLM-as-judge, two-phase: the family builds judge requests from the model's
 * responses in a later round, the scheduler sends them, the family parses the
 * judgements when grading; graders never call a model). */
typedef enum { CB_TARGET_MODEL = 0, CB_TARGET_JUDGE = 1 } cb_treq_target;

typedef struct cb_treq {
    cb_treq_kind kind;
    cb_treq_target target;    /* CB_TARGET_MODEL unless a judge request */
    int tag;                  /* family-defined (which generation / judge run / re-ask this is) */
    int optional;             /* 1: may be skipped (response ok = 0); GENERATE entries are never optional */
    const cb_turn *turns;     /* context; points into item-owned storage */
    int n_turns;
    const char *prompt;       /* when set: a raw completion prompt (GENERATE / LOGLIK context, no
                                 chat template; turns ignored) or the text of a ROLLING request */
    const char *const *stop;  /* GENERATE stop strings (n_stop), item-owned */
    int n_stop;
    /* ROLLING */
    cb_troll_mode rolling_mode;
    int window, stride;       /* tokens; 0 = the backend's defaults (the model context) */
    /* GENERATE decoding (family defaults; a suite's "generation" block may override) */
    int max_tokens;
    float temperature;        /* 0 = greedy */
    int top_k;                /* 0 = off */
    uint64_t seed;            /* sampling seed (derived from the item seed) */
    /* LOGLIK */
    const char *cont_prefix;  /* text placed after the assistant prefix as part of the
                                 context (not scored), e.g. "Answer:"; NULL = none */
    const char *continuation; /* owned by the item; only its tokens are scored */
    int want_tokens;          /* LOGLIK: per-token log-probs and byte spans wanted (knowledge bits) */
} cb_treq;

/* One response, in the order of item->reqs. Strings are borrowed for the call. */
typedef struct cb_task_resp {
    int ok;               /* 0: skipped or failed (no text / no log-prob) */
    const char *text;     /* GENERATE output (NULL = "") */
    int truncated;        /* GENERATE stopped at max_tokens */
    double logprob_sum;   /* LOGLIK / ROLLING: sum of natural-log probabilities of the scored tokens */
    int n_tokens;         /* LOGLIK / ROLLING: tokens scored (0 = unknown) */
    const double *token_logprobs; /* n_tokens per-token log-probs in text order, or NULL */
    const int64_t *token_spans;   /* 2 * n_tokens: byte span [start, end) of each scored token in the
                                     continuation (LOGLIK) or text (ROLLING), clamped to it; NULL when
                                     the backend cannot tell (TASKS.md 0.3 item 2) */
    int cached;           /* judge request answered from the judgement cache (no call made) */
    int text_ref;         /* storage only: the text is kept in the sample's `response` column */
} cb_task_resp;

/* ---- items ----------------------------------------------------------------- */

typedef enum {
    CB_GRADER_RULE = 0,   /* rule-based extraction and matching */
    CB_GRADER_JUDGE = 1,  /* LLM-as-judge (two-phase) */
    CB_GRADER_LOGPROB = 2 /* scored from log-likelihoods only */
} cb_grader_kind;

const char *cb_grader_kind_name(cb_grader_kind k); /* "rule" / "judge" / "logprob" */

typedef enum {
    CB_GOLD_STRING = 0, /* gold is text ("Yes", a table) */
    CB_GOLD_INT = 1     /* gold is an integer (gold_int; gold holds its decimal text) */
} cb_gold_type;

typedef struct cb_task_family cb_task_family;
typedef struct cb_item_mem cb_item_mem;

/* One evaluation item (TASKS.md 0.1). Read-only for callers: every pointer is
 * owned by the item and lives until cb_item_free. */
typedef struct cb_item {
    const cb_task_family *family;
    const char *id;            /* "family/subtask/setting/index" */
    const char *subtask;
    const char *setting;
    int64_t index;             /* 0-based within (subtask, setting) */
    uint64_t seed;             /* per-item seed, TASKS.md 0.2 */
    const cb_turn *turns;      /* the prompt: system/user/assistant turns, last one a user turn */
    int n_turns;
    cb_gold_type gold_type;
    const char *gold;          /* canonical gold text: "3", "Yes" */
    int64_t gold_int;          /* valid when gold_type == CB_GOLD_INT */
    cb_grader_kind grader;
    const char *capabilities[2];
    int n_capabilities;        /* 1 or 2 */
    cJSON *meta;               /* family-specific JSON object (word, difficulty, ...) */
    const cb_treq *reqs;       /* what the item needs from the model */
    int n_reqs;
    cb_item_mem *mem;          /* private: the item's string arena */
} cb_item;

void cb_item_free(cb_item *it); /* NULL is a no-op */

/* JSON record (one JSONL line when printed unformatted):
 *   {"id":"counting/char_occur/direct/0","seed":"1234...",   seed as a decimal
 *    "turns":[{"role":"user","text":"..."}],                  string (u64 exact)
 *    "gold":3 | "Yes", "grader":"rule",
 *    "capabilities":["char_perception","char_counting"],
 *    "meta":{...}}
 * Requests are not stored: cb_item_from_json rebuilds them from the record.
 * Caller owns the result (cJSON_Delete); NULL on allocation failure. */
cJSON *cb_item_to_json(const cb_item *it);

/* Same, printed as one unformatted line (no newline); malloc'd, caller frees. */
char *cb_item_to_jsonl(const cb_item *it);

/* Rebuilds an item from its JSON record (extra keys such as "response" are
 * ignored). `where` prefixes error messages ("line 3"). Errors: CB_EFORMAT
 * naming the field and what was expected; CB_EUSAGE for an unknown family. */
int cb_item_from_json(const cJSON *j, const char *where, cb_item **out, cb_err *err);

/* Grades the item from its responses (resps[i] answers item->reqs[i];
 * n_resps must equal item->n_reqs). Pure: same inputs, same grade. A missing
 * required response is not an error: the grade is unparsed with flag
 * no_response. Errors (CB_EUSAGE) only for a wrong n_resps. */
int cb_item_grade(cb_grader_ctx *g, const cb_item *it, const cb_task_resp *resps, int n_resps,
                  cb_grade *out, cb_err *err);

/* ---- families and the registry --------------------------------------------- */

/* Driver table of a task family. NULL-terminated name lists. */
struct cb_task_family {
    const char *name;                  /* registry name: "counting" */
    const char *summary;               /* one line for `capbench tasks` */
    const char *grader_version;        /* stored with every result, e.g. "counting/1";
                                          bumped whenever grading changes */
    const char *capability;            /* family-level capability label */
    const char *const *subtasks;
    const char *const *subtask_capabilities; /* parallel to subtasks */
    const char *const *settings;
    const char *default_setting;       /* used when a task entry lists no settings */
    /* Validates the family "params" object (NULL = all defaults) and builds the
     * immutable family state (e.g. a loaded word list). `path` is the JSON path
     * of the object ("$.tasks[0].params"); messages name "path.key". */
    int (*params_parse)(const cJSON *params, const char *path, void **state, cb_err *err);
    void (*params_free)(void *state);
    /* Canonical params with defaults filled (for the config hash); caller owns. */
    cJSON *(*params_to_json)(const void *state);
    /* Fills a blank item (id, subtask, setting, index and seed already set;
     * turns, gold, meta, capabilities and requests to be set by the family). */
    int (*generate)(const void *state, uint64_t task_seed, cb_item *it, cb_err *err);
    /* Rebuilds item->reqs from turns/meta after cb_item_from_json. */
    int (*build_requests)(cb_item *it, cb_err *err);
    /* Grades; see cb_item_grade. */
    int (*grade)(cb_grader_ctx *g, const cb_item *it, const cb_task_resp *resps, int n_resps,
                 cb_grade *out, cb_err *err);
    /* Optional (NULL = every request is known up front). Multi-round items:
     * after each round the scheduler passes every response so far (resps[i]
     * answers it->reqs[i], n_resps == it->n_reqs); the family appends the next
     * round's requests with cb_item_append_reqs (a second student turn that
     * quotes the first reply, judge requests built from the student's text, a
     * re-ask after an unparseable judgement) or appends nothing when the item
     * is complete. Must be a pure function of (item, responses, have_judge) so
     * that regrade can replay the rounds from stored responses without a
     * model. have_judge: the suite configured a judge (without one, families
     * with a rule-based fallback append no judge requests). */
    int (*next_round)(cb_item *it, const cb_task_resp *resps, int n_resps, int round, int have_judge,
                      cb_err *err);
    /* Optional: 1 when items of this spec cannot be graded without a judge
     * (no rule-based fallback); the run then refuses to start without one. */
    int (*needs_judge)(const void *state);
    /* Optional: checks a chosen (subtask, setting) cell against the params at
     * config time (e.g. k larger than the skill pool); messages name `path`
     * (the task entry's JSON path). */
    int (*check_cell)(const void *state, const char *subtask, const char *setting, const char *path, cb_err *err);
    /* Optional: the subtasks a task entry without "subtasks" runs (NULL = all). */
    const char *const *default_subtasks;
};

/* The registered families, in registry order; *n receives the count. */
const cb_task_family *const *cb_task_families(int *n);
/* Family by name, or NULL. */
const cb_task_family *cb_task_family_find(const char *name);
/* Index of a subtask / setting name in the family's list, or -1. */
int cb_task_family_subtask(const cb_task_family *f, const char *subtask);
int cb_task_family_setting(const cb_task_family *f, const char *setting);
/* Capability label of a subtask (NULL when unknown). */
const char *cb_task_family_subtask_capability(const cb_task_family *f, const char *subtask);

/* ---- task specs ------------------------------------------------------------- */

typedef struct cb_task_spec cb_task_spec;

/* Builds a spec from a suite task entry's parts.
 *   subtasks/settings: names (NULL or 0 = all subtasks / the default setting)
 *   n: items per (subtask, setting) cell, >= 1;  seed: the task seed
 *   params: the entry's "params" object (may be NULL)
 *   path: JSON path of the task entry ("$.tasks[0]"), used in messages such as
 *         "$.tasks[0].subtasks[1]: unknown subtask \"x\" of family counting
 *          (expected one of char_occur, ...)"
 * *out is owned by the caller (cb_task_spec_free). The spec is immutable and
 * may be shared between threads. Errors: CB_EUSAGE (bad names or params),
 * CB_EIO (a params file such as a word list could not be read), CB_ENOMEM. */
int cb_task_spec_new(const char *family, const char *const *subtasks, int n_subtasks,
                     const char *const *settings, int n_settings, int64_t n, uint64_t seed,
                     const cJSON *params, const char *path, cb_task_spec **out, cb_err *err);
void cb_task_spec_free(cb_task_spec *s); /* NULL is a no-op */

const cb_task_family *cb_task_spec_family(const cb_task_spec *s);
int64_t cb_task_spec_n(const cb_task_spec *s);        /* items per cell */
uint64_t cb_task_spec_seed(const cb_task_spec *s);
int cb_task_spec_n_cells(const cb_task_spec *s);      /* subtasks x settings */
/* Subtask and setting of cell c (0 <= c < n_cells); cells are subtask-major. */
void cb_task_spec_cell(const cb_task_spec *s, int c, const char **subtask, const char **setting);
int64_t cb_task_spec_n_items(const cb_task_spec *s);  /* n_cells * n */
/* Canonical params with defaults (for the config hash); caller owns. */
cJSON *cb_task_spec_params_json(const cb_task_spec *s);

/* Item k of the spec, k in [0, n_items): cell k / n, index k % n.
 * *out is owned by the caller (cb_item_free). */
int cb_task_spec_item(const cb_task_spec *s, int64_t k, cb_item **out, cb_err *err);
/* Item `index` of cell c; index may be any value >= 0 (also beyond n). */
int cb_task_generate(const cb_task_spec *s, int c, int64_t index, cb_item **out, cb_err *err);

/* Per-item seed of TASKS.md 0.2:
 * splitmix64(task_seed ^ fnv1a64("family/subtask") ^ index * 0x9E3779B97F4A7C15). */
uint64_t cb_task_item_seed(uint64_t task_seed, const char *family, const char *subtask, int64_t index);

/* ---- helpers for family implementations (tasks/item.c) ---------------------- */

/* Allocates a blank item with id/subtask/setting/index/seed set. */
int cb_item_blank(const cb_task_family *f, const char *subtask, const char *setting, int64_t index,
                  uint64_t seed, cb_item **out, cb_err *err);
/* Copies s (n bytes, or strlen when n < 0) into the item's arena; NULL on OOM. */
char *cb_item_strdup(cb_item *it, const char *s, int64_t n);
/* Allocates zeroed memory in the item's arena (8-byte aligned); NULL on OOM. */
void *cb_item_alloc(cb_item *it, size_t size);
/* Setters used by families (strings are copied into the arena). */
int cb_item_set_turns(cb_item *it, const cb_turn *turns, int n);
int cb_item_set_gold_int(cb_item *it, int64_t v);
int cb_item_set_gold_str(cb_item *it, const char *s);
int cb_item_set_capabilities(cb_item *it, const char *a, const char *b); /* b may be NULL */
/* Reads the item's meta object: the number at key as an int (def when absent
 * or not a number), the string at key (def when absent or not a string). */
int cb_item_meta_int(const cb_item *it, const char *key, int def);
const char *cb_item_meta_str(const cb_item *it, const char *key, const char *def);
/* reqs: array allocated with cb_item_alloc (strings/turns already in the arena). */
void cb_item_set_reqs(cb_item *it, cb_treq *reqs, int n);
/* Appends n requests (copied; their turns and strings must already live in the
 * item's arena) after the item's current ones. Errors: CB_ENOMEM. */
int cb_item_append_reqs(cb_item *it, const cb_treq *reqs, int n);

/* Runs the family's next_round once (no-op returning 0 for single-round
 * families). OUT *added: requests appended. */
int cb_item_next_round(cb_item *it, const cb_task_resp *resps, int n_resps, int round, int have_judge, int *added,
                       cb_err *err);
/* Whether a spec's items need a judge to be graded at all. */
int cb_task_spec_needs_judge(const cb_task_spec *s);

#endif
