/* bench/engine_hellaswag.h — four-choice items in the plain-text layout that
 * llama.cpp's perplexity tool reads for HellaSwag (--hellaswag), so that the
 * same file can be scored by both engines and compared item by item.
 *
 * Layout: lines separated by "\n" (a "\r" before it is dropped), six per
 * item, in order:
 *   1  context (the text every ending continues)
 *   2  the gold ending's index, a decimal integer 0..3
 *   3  ending 0
 *   4  ending 1
 *   5  ending 2
 *   6  ending 3
 * A final "\n" after the last item is optional; no other blank trailing lines.
 * An ending is scored as the continuation " " + ending after the context.
 * Contexts and endings must be non-empty and hold no NUL byte; lines are at
 * most 1 MiB and the file at most 1 GiB.
 *
 * The file is untrusted input: every length is checked before use and an
 * error names the file and the 1-based line (CB_EFORMAT), so exit code 2.
 */
#ifndef CB_ENGINE_HELLASWAG_H
#define CB_ENGINE_HELLASWAG_H

#include "common/err.h"

#include <stddef.h>

typedef struct cb_mc_item {
    const char *context;    /* NUL-terminated, into the set's buffer */
    const char *endings[4]; /* NUL-terminated, into the set's buffer */
    size_t ending_len[4];   /* bytes (acc_norm divides by these) */
    int gold;               /* 0..3 */
    int line;               /* 1-based line of the context */
} cb_mc_item;

typedef struct cb_mc_set {
    cb_mc_item *items;
    int n;
    char *buf;              /* one copy of the text, lines NUL-terminated */
} cb_mc_set;

/* Parses len bytes of data (name is used in messages only). On success *out
 * owns its memory (cb_mc_set_free). Errors: CB_EFORMAT (message: "name:
 * line N: what was expected"), CB_ENOMEM. On error *out is empty. */
int cb_hellaswag_parse(const char *data, size_t len, const char *name, cb_mc_set *out, cb_err *err);
/* Reads and parses the file at path. Errors as above plus CB_EIO. */
int cb_hellaswag_load(const char *path, cb_mc_set *out, cb_err *err);
void cb_mc_set_free(cb_mc_set *s); /* NULL or an empty set is a no-op; leaves *s empty */

#endif
