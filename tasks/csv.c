/* tasks/csv.c — RFC 4180 CSV reading for family data files (see csv.h).
 * A byte-at-a-time state machine; fields grow in a scratch buffer and are
 * copied out when complete, so no field can outgrow its stated limit. */
#include "tasks/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ROWS 1000000
#define MAX_COLS 256
#define MAX_FIELD (1 << 20)

void cb_csv_free(cb_csv *c) {
    if (!c) return;
    for (int r = 0; r < c->nrows; r++) {
        for (int k = 0; k < c->ncols[r]; k++) free(c->rows[r][k]);
        free(c->rows[r]);
    }
    free(c->rows);
    free(c->ncols);
    free(c->lines);
    memset(c, 0, sizeof *c);
}

typedef struct {
    char *buf;
    size_t len, cap;
    char **fields;
    int nf;
    int rows_cap;
} state;

static int push_char(state *s, char ch) {
    if (s->len + 2 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        char *nb = realloc(s->buf, nc);
        if (!nb) return CB_ENOMEM;
        s->buf = nb;
        s->cap = nc;
    }
    s->buf[s->len++] = ch;
    return 0;
}

static int end_field(state *s) {
    if (s->nf >= MAX_COLS) return -1;
    char *f = malloc(s->len + 1);
    if (!f) return CB_ENOMEM;
    if (s->len) memcpy(f, s->buf, s->len);
    f[s->len] = 0;
    s->fields[s->nf++] = f;
    s->len = 0;
    return 0;
}

static int end_row(cb_csv *c, state *s, int line) {
    /* a row that is one empty field is an empty line: skipped */
    if (s->nf == 1 && s->fields[0][0] == 0) {
        free(s->fields[0]);
        s->nf = 0;
        return 0;
    }
    if (c->nrows >= MAX_ROWS) return -1;
    if (c->nrows == s->rows_cap) {
        int nc = s->rows_cap ? s->rows_cap * 2 : 64;
        char ***nr = realloc(c->rows, (size_t)nc * sizeof *nr);
        if (nr) c->rows = nr;
        int *nn = nr ? realloc(c->ncols, (size_t)nc * sizeof *nn) : NULL;
        if (nn) c->ncols = nn;
        int *nl = nn ? realloc(c->lines, (size_t)nc * sizeof *nl) : NULL;
        if (!nl) return CB_ENOMEM;
        c->lines = nl;
        s->rows_cap = nc;
    }
    char **row = malloc((size_t)(s->nf ? s->nf : 1) * sizeof *row);
    if (!row) return CB_ENOMEM;
    memcpy(row, s->fields, (size_t)s->nf * sizeof *row);
    c->rows[c->nrows] = row;
    c->ncols[c->nrows] = s->nf;
    c->lines[c->nrows] = line;
    c->nrows++;
    s->nf = 0;
    return 0;
}

int cb_csv_parse(const char *name, const char *text, size_t len, cb_csv *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    state s = {0};
    int rc = 0, line = 1, row_line = 1;
    if (!(s.fields = malloc(MAX_COLS * sizeof *s.fields))) return cb_err_set(err, CB_ENOMEM, "out of memory");
    size_t i = 0;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF)
        i = 3;
    enum { START, PLAIN, QUOTED, AFTER_QUOTE } st = START;
    for (; i <= len && !rc; i++) {
        int eof = i == len;
        char ch = eof ? '\n' : text[i];
        if (!eof && ch == 0) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: line %d: NUL byte in the text", name, line);
            break;
        }
        if (st == QUOTED) {
            if (eof) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: line %d: quoted field opened on line %d is never closed",
                                name, line, row_line);
                break;
            }
            if (ch == '"') {
                if (i + 1 < len && text[i + 1] == '"') {
                    rc = push_char(&s, '"');
                    i++;
                } else {
                    st = AFTER_QUOTE;
                }
            } else {
                if (ch == '\n') line++;
                rc = push_char(&s, ch);
            }
        } else if (ch == ',' || ch == '\n' || (ch == '\r' && (i + 1 >= len || text[i + 1] == '\n'))) {
            if (ch == '\r') continue; /* the \n that follows ends the row */
            int r = end_field(&s);
            if (r < 0) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: line %d: more than %d fields", name, row_line, MAX_COLS);
                break;
            }
            if (r) rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            st = START;
            if (ch == '\n' && !rc) {
                r = end_row(out, &s, row_line);
                if (r < 0) rc = cb_err_set(err, CB_EFORMAT, "%s: more than %d rows", name, MAX_ROWS);
                else if (r) rc = cb_err_set(err, CB_ENOMEM, "out of memory");
                line++;
                row_line = line;
            }
        } else if (st == AFTER_QUOTE) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: line %d: text after a closing quote (expected , or end of line)",
                            name, line);
        } else if (ch == '"') {
            if (st == START && s.len == 0)
                st = QUOTED;
            else
                rc = cb_err_set(err, CB_EFORMAT,
                                "%s: line %d: a quote inside an unquoted field (quote the whole field and double "
                                "the quote)",
                                name, line);
        } else {
            st = PLAIN;
            rc = push_char(&s, ch);
        }
        if (!rc && s.len > MAX_FIELD)
            rc = cb_err_set(err, CB_EFORMAT, "%s: line %d: a field longer than %d bytes", name, row_line, MAX_FIELD);
    }
    for (int k = 0; k < s.nf; k++) free(s.fields[k]);
    free(s.fields);
    free(s.buf);
    if (rc) cb_csv_free(out);
    return rc;
}

int cb_csv_col(const cb_csv *c, const char *header) {
    if (c->nrows < 1) return -1;
    for (int k = 0; k < c->ncols[0]; k++) {
        const char *h = c->rows[0][k];
        while (*h == ' ') h++;
        size_t n = strlen(h);
        while (n && h[n - 1] == ' ') n--;
        if (n == strlen(header) && strncmp(h, header, n) == 0) return k;
    }
    return -1;
}

int cb_read_file(const char *path, char **text, size_t *len, cb_err *err) {
    *text = NULL;
    *len = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) return cb_err_set(err, CB_EUSAGE, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return cb_err_set(err, CB_EUSAGE, "%s: is a directory, expected a file", path);
    if (sb.st_size > (256 << 20)) return cb_err_set(err, CB_EUSAGE, "%s: larger than 256 MiB", path);
    FILE *f = fopen(path, "rb");
    if (!f) return cb_err_set(err, CB_EUSAGE, "%s: %s", path, strerror(errno));
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        fclose(f);
        return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, (size_t)sb.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return cb_err_set(err, CB_EUSAGE, "%s: read error", path);
    }
    buf[got] = 0;
    *text = buf;
    *len = got;
    return 0;
}
