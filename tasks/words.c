/* tasks/words.c — word list parsing (see words.h). Words are stored as fixed
 * 19-byte slots in one array: no per-word allocation and a plain qsort. */
#include "tasks/words.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef char slot[CB_WORD_MAX + 1];

struct cb_wordlist {
    slot *w;
    size_t n;
};

static const char *const seed_words[] = {
    "strawberry", "Missourianism", "Elvis",     "confusable", "limnologically",
    "streetward", "coupleress",    "bookkeeper", "Mississippi", "onomatopoeia",
    "banana",     "committee",     "rhythm",     "queueing",    "parallel",
};

static int is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int cmp_slot(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

void cb_wordlist_free(cb_wordlist *w) {
    if (!w) return;
    free(w->w);
    free(w);
}

size_t cb_wordlist_size(const cb_wordlist *w) { return w->n; }
const char *cb_wordlist_word(const cb_wordlist *w, size_t i) { return w->w[i]; }

/* Sorts and removes duplicates in place. */
static void sort_unique(cb_wordlist *w) {
    if (w->n == 0) return;
    qsort(w->w, w->n, sizeof *w->w, cmp_slot);
    size_t k = 1;
    for (size_t i = 1; i < w->n; i++)
        if (strcmp(w->w[i], w->w[k - 1]) != 0) memcpy(w->w[k++], w->w[i], sizeof(slot));
    w->n = k;
}

int cb_wordlist_parse(const char *text, size_t len, const char *name, cb_wordlist **out, cb_err *err) {
    *out = NULL;
    if (!name) name = "word list";
    /* upper bound on words: lines of at least 4 bytes ("abc\n") */
    size_t cap = len / 4 + 1;
    cb_wordlist *w = calloc(1, sizeof *w);
    if (!w || !(w->w = malloc(cap * sizeof *w->w))) {
        cb_wordlist_free(w);
        return cb_err_set(err, CB_ENOMEM, "%s: out of memory", name);
    }
    size_t i = 0, lines = 0;
    while (i < len) {
        size_t s = i;
        while (i < len && text[i] != '\n') i++;
        size_t e = i;
        if (i < len) i++; /* skip '\n' */
        lines++;
        if (e > s && text[e - 1] == '\r') e--;
        size_t wl = e - s;
        if (wl < CB_WORD_MIN || wl > CB_WORD_MAX) continue;
        size_t k = s;
        while (k < e && is_alpha((unsigned char)text[k])) k++;
        if (k != e) continue;
        if (w->n >= cap) continue; /* cannot happen: each kept line takes >= 3 bytes + separator */
        memcpy(w->w[w->n], text + s, wl);
        w->w[w->n][wl] = '\0';
        w->n++;
    }
    sort_unique(w);
    if (w->n == 0) {
        cb_wordlist_free(w);
        return cb_err_set(err, CB_EUSAGE, "%s: none of the %zu lines is a word of 3 to 18 ASCII letters", name, lines);
    }
    *out = w;
    return 0;
}

int cb_wordlist_load(const char *path, cb_wordlist **out, cb_err *err) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cb_err_set(err, CB_EUSAGE, "%s: is a directory, expected a word list (one word per line)", path);
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    int rc = 0;
    if (!f) return cb_err_set(err, CB_EIO, "%s: cannot open word list: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    const size_t limit = (size_t)64 << 20;
    buf = malloc(cap);
    if (!buf) {
        rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= limit) {
                rc = cb_err_set(err, CB_EUSAGE, "%s: word list larger than 64 MiB", path);
                goto out;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        rc = cb_err_set(err, CB_EIO, "%s: read error", path);
        goto out;
    }
    rc = cb_wordlist_parse(buf, n, path, out, err);
out:
    free(buf);
    fclose(f);
    return rc;
}

int cb_wordlist_seed(cb_wordlist **out, cb_err *err) {
    *out = NULL;
    size_t n = sizeof seed_words / sizeof seed_words[0];
    cb_wordlist *w = calloc(1, sizeof *w);
    if (!w || !(w->w = malloc(n * sizeof *w->w))) {
        cb_wordlist_free(w);
        return cb_err_set(err, CB_ENOMEM, "seed word list: out of memory");
    }
    for (size_t i = 0; i < n; i++) snprintf(w->w[i], sizeof(slot), "%s", seed_words[i]);
    w->n = n; /* kept in the order of TASKS.md 1.6: the seed source enumerates it */
    *out = w;
    return 0;
}
