/* graders/answer.h — reading the answer a response commits to (TASKS.md 0.4):
 * answer_span, extract_count and yes_no over normalize_answer_text, the way a
 * careful human grader reads a short answer. Used by the counting family; any
 * family that asks for one count or one yes/no can use it.
 *
 * Pipeline (each step on the normalized text; offsets map back to raw bytes):
 *   1. `<think>…</think>` reasoning is skipped (an unclosed `<think>` hides the
 *      rest; a lone `</think>` hides what precedes it).
 *   2. A leading copy of the question is removed (optionally after a
 *      `Question:`/`Q:`/`User:`/`Human:` label): the longest run of the
 *      question's sentences the response repeats, compared case-insensitively
 *      with whitespace and quote marks ignored.
 *   3. The response is cut at the first later line that starts a new turn:
 *      `Question:`, `Q:`, `User:`, `Human:`, or a `###` heading whose title is a
 *      turn label (Instruction, Input, Response, Question, User, Human,
 *      Assistant, System, Prompt, Example). A `###` heading with any other
 *      title ("### Step 1") is markdown, not a new turn.
 *   4. Markers `Answer`, `Final answer`, `The answer`, `Respuesta` followed by
 *      `:` or `is`/`es` (and `\boxed{`) count only with a value on the rest of
 *      the same line. With a marker, the span is the rest of the line after the
 *      last one (flag marker); inside it the value attached to the unit wins,
 *      then a statement, then the first value. Without one (flag no_marker),
 *      the span is the first sentence that holds a value (answer-first
 *      settings) or the last one (reasoning settings); sentences end at
 *      `.`/`!`/`?` before a space or the end, and at line ends; a line
 *      enumerator "3." does not end a sentence and is not a value.
 *   5. Self-correction: a cue after the span's value (wait, actually,
 *      correction, oops, I miscounted, let me recount, recount, on second
 *      thought, my mistake, `no,` with a value later in its sentence; Spanish
 *      espera, en realidad) moves the span to the first sentence after the
 *      last cue that holds a value (the rest of the cue's sentence first);
 *      flag self_corrected. Without such a sentence the span stays.
 *   6. Counts: digits (`-?[0-9]+` with `,ddd` thousands groups; `3.0` is 3,
 *      other decimals and digits glued to letters ("3rd", "r2") are no
 *      count), number words zero..ninety-nine (`twenty-one`, `twenty one`),
 *      once/twice/thrice (not "once upon", "at once"), none = 0, `a single`
 *      = 1, `no` + the asked unit = 0, Spanish cero..noventa y nueve and
 *      ninguno/ninguna = 0 (`once` is 11 only in a response that reads as
 *      Spanish). A value right after not / never / a word ending in n't /
 *      `no es` is rejected. A sentence commits to: the first value attached
 *      to the unit, else the first value in a statement (there is/are/was/were
 *      N, hay N; is/are/was/were/equals/gives/makes/has/contains/count/see/get/
 *      find/=/: N ending a clause; N in total/altogether; total of N), else
 *      the value of a bare answer (only the value, unit words, fillers and
 *      punctuation). Two different values offered as alternatives (`3 or 4`,
 *      `3-4`, `3/4`, `3 to 4`, `between 2 and 3`) -> no value, flag hedged.
 *   7. Yes/no: the first polar expression: yes words (yes, yeah, yep, yup,
 *      true, correct, indeed, sí; sure/certainly/absolutely/of course/si only
 *      before a clause end), `it is`/`it does`/`it can` ending a clause, the
 *      containment verbs (appears, occurs, contains, is part of, is contained,
 *      is present, is found, can be found, is included, is a substring, is in
 *      the word; Spanish aparece, contiene, forma/es parte, se encuentra);
 *      no words (no as an interjection, nope, nah, not really, false,
 *      incorrect, wrong), a negation before a containment verb or a yes word
 *      ("does not appear", "is not part of", "isn't correct"), and negated
 *      `it is`/`it does`/`isn't`/`doesn't` ending a clause. `no` before a noun
 *      (no doubt, no problem, no matter, no idea, no one) is not polar.
 *      `yes and no`, `yes or no`, `yes/no` -> no value, flag hedged.
 */
#ifndef CB_ANSWER_H
#define CB_ANSWER_H

#include "graders/grader.h"

#include <stdint.h>

typedef enum {
    CB_ASK_COUNT = 0, /* a non-negative count */
    CB_ASK_YESNO = 1  /* yes or no */
} cb_ask_kind;

/* The unit a count question asks about: decides which values are "attached". */
typedef enum {
    CB_UNIT_NONE = 0,
    CB_UNIT_LETTER = 1,   /* occurrences of one letter: "N x's", "N times", "x appears N" */
    CB_UNIT_LENGTH = 2,   /* "N letters/characters" */
    CB_UNIT_DISTINCT = 3  /* "N distinct/unique/different" */
} cb_unit_kind;

typedef struct cb_answer_req {
    cb_ask_kind kind;
    cb_unit_kind unit;
    char letter;          /* CB_UNIT_LETTER: the asked ASCII letter */
    int reasoning;        /* 1: reasoning setting (cot, sc): last valued sentence */
    const char *question; /* text whose leading copy is removed (the prompt's last user turn); NULL = none */
} cb_answer_req;

typedef struct cb_answer {
    int found;            /* 1: value holds the committed answer */
    int64_t value;        /* the count, or 1 = yes / 0 = no */
    unsigned flags;       /* CB_GRADE_MARKER or CB_GRADE_NO_MARKER, and SELF_CORRECTED, HEDGED,
                             NUMBER_WORD, OVERFLOW */
    int64_t span_start, span_end; /* raw byte offsets of the span read; -1/-1 when none */
    int has_marker;       /* a marker with a value occurred */
    int n_sentences;      /* sentences holding a word or number, think blocks excluded, whole response */
    int n_words;          /* whitespace-separated words holding a letter or digit, same text */
} cb_answer;

/* Reads the answer of a raw model response (NUL-terminated, any bytes).
 * Errors: CB_ENOMEM only. */
int cb_answer_extract(const char *response, const cb_answer_req *req, cb_answer *out, cb_err *err);

/* Paper-compatible soft match (TASKS.md 1.4) on the normalized response:
 * count: gold appears anywhere as a number or number word; yes/no: the word
 * "yes" (gold 1) or "no" (gold 0) appears anywhere. Returns 1/0, or -1 on
 * allocation failure. */
int cb_answer_soft(const char *response, cb_ask_kind kind, int64_t gold);

/* yes_no over a span that needs no span selection: the first polar
 * expression in text (normalized first). Returns 1 yes, 0 no, -1 none or
 * hedged or allocation failure. */
int cb_answer_yes_no(const char *text);

#endif
