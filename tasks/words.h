/* tasks/words.h — word lists for the counting family: parsing a word file
 * (untrusted input: fuzzed by tests/fuzz/fuzz_taskfile.c) and the built-in
 * seed list of TASKS.md 1.6.
 *
 * File format: UTF-8/ASCII text, one word per line ("\n" or "\r\n"). Only
 * lines matching ^[A-Za-z]{3,18}$ are kept (TASKS.md 1.2); everything else
 * (blank lines, comments, accents, digits, surrounding spaces) is skipped.
 * The kept words are sorted bytewise and de-duplicated, so the same set of
 * words gives the same items whatever the file order (TASKS.md 0.2).
 */
#ifndef CB_WORDS_H
#define CB_WORDS_H

#include "common/err.h"

#include <stddef.h>

#define CB_WORD_MIN 3
#define CB_WORD_MAX 18

typedef struct cb_wordlist cb_wordlist;

/* Parses len bytes of text (need not be NUL-terminated). `name` is used in
 * messages. Errors: CB_EUSAGE when no line is a usable word, CB_ENOMEM. */
int cb_wordlist_parse(const char *text, size_t len, const char *name, cb_wordlist **out, cb_err *err);
/* Reads and parses a file (at most 64 MiB). Errors: CB_EIO, as parse. */
int cb_wordlist_load(const char *path, cb_wordlist **out, cb_err *err);
/* The built-in seed list: the 15 words of TASKS.md 1.6 in the spec's order
 * (not sorted: the `seed` word source enumerates it, item i -> word i mod 15). */
int cb_wordlist_seed(cb_wordlist **out, cb_err *err);
void cb_wordlist_free(cb_wordlist *w); /* NULL is a no-op */

size_t cb_wordlist_size(const cb_wordlist *w);
/* Word i (0 <= i < size), NUL-terminated, 3..18 ASCII letters. */
const char *cb_wordlist_word(const cb_wordlist *w, size_t i);

#endif
