/* graders/table_html.c — HTML tables and lists through gumbo, an HTML5
 * parser (TASKS.md 4.4 "HTML"). The only file that includes gumbo.h.
 *
 * gumbo builds the DOM the way a browser would (character references
 * decoded, unclosed cells closed, stray end tags dropped), so prose around
 * the table, missing </td> and upper-case tags need no special code here.
 * The walk is iterative (a deeply nested input cannot exhaust the C stack):
 * each recognized element that was in the source adds "<tag>" on entry and
 * "</tag>" on exit to the structure sequence; cells are collected per the
 * mode chosen from the gold.
 */
#include "graders/table.h"

#include <gumbo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int recognized(GumboTag t) {
    switch (t) {
    case GUMBO_TAG_TABLE: case GUMBO_TAG_TR: case GUMBO_TAG_TH: case GUMBO_TAG_TD:
    case GUMBO_TAG_UL: case GUMBO_TAG_OL: case GUMBO_TAG_LI: case GUMBO_TAG_DIV:
    case GUMBO_TAG_SPAN: case GUMBO_TAG_P: case GUMBO_TAG_A: case GUMBO_TAG_IMG:
    case GUMBO_TAG_EMBED: case GUMBO_TAG_PRE: case GUMBO_TAG_H1: case GUMBO_TAG_H2:
    case GUMBO_TAG_H3: case GUMBO_TAG_H4: case GUMBO_TAG_H5: case GUMBO_TAG_H6:
    case GUMBO_TAG_INPUT: case GUMBO_TAG_BUTTON:
        return 1;
    default:
        return 0;
    }
}

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return CB_ENOMEM;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

typedef struct {
    const GumboNode *node;
    unsigned next; /* index of the next child to visit */
} frame;

typedef struct {
    frame *f;
    int n, cap;
} fstack;

static int push(fstack *s, const GumboNode *node) {
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 64;
        frame *nf = realloc(s->f, (size_t)nc * sizeof *nf);
        if (!nf) return CB_ENOMEM;
        s->f = nf;
        s->cap = nc;
    }
    s->f[s->n].node = node;
    s->f[s->n].next = 0;
    s->n++;
    return 0;
}

static const GumboVector *children(const GumboNode *n) {
    if (n->type == GUMBO_NODE_DOCUMENT) return &n->v.document.children;
    if (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE) return &n->v.element.children;
    return NULL;
}

static int is_text(const GumboNode *n) {
    return n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA;
}

/* Text of every descendant of n (own = 1: direct text children only). */
static int node_text(const GumboNode *n, int own, sbuf *b, fstack *s) {
    b->n = 0;
    if (sb_add(b, "", 0)) return CB_ENOMEM;
    int base = s->n;
    if (push(s, n)) return CB_ENOMEM;
    while (s->n > base) {
        frame *f = &s->f[s->n - 1];
        const GumboVector *ch = children(f->node);
        if (!ch || f->next >= ch->length) {
            s->n--;
            continue;
        }
        const GumboNode *c = ch->data[f->next++];
        if (is_text(c)) {
            const char *t = c->v.text.text;
            if (sb_add(b, t, strlen(t))) return CB_ENOMEM;
        } else if (!own && children(c) && push(s, c)) {
            return CB_ENOMEM;
        }
    }
    return 0;
}

static int has_text(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f') return 1;
    return 0;
}

static int is_cell(GumboTag t, cb_html_cells mode) {
    if (mode == CB_HTML_CELLS_TABLE) return t == GUMBO_TAG_TH || t == GUMBO_TAG_TD;
    if (mode == CB_HTML_CELLS_LIST) return t == GUMBO_TAG_LI;
    return recognized(t);
}

static int tag_event(cb_table *t, GumboTag tag, int end) {
    char buf[32];
    snprintf(buf, sizeof buf, "<%s%s>", end ? "/" : "", gumbo_normalized_tagname(tag));
    return cb_table_add_tag(t, buf);
}

int cb_table_parse_html(const char *text, size_t len, cb_html_cells mode, cb_table *out, cb_err *err) {
    int rc = 0;
    fstack s = {0}, ts = {0};
    sbuf b = {0};
    GumboOutput *g = gumbo_parse_with_options(&kGumboDefaultOptions, text, len);
    if (!g) return cb_err_set(err, CB_ENOMEM, "out of memory (HTML parser)");
    if (push(&s, g->document)) goto oom;
    while (s.n > 0) {
        frame *f = &s.f[s.n - 1];
        const GumboNode *n = f->node;
        const GumboVector *ch = children(n);
        int el = n->type == GUMBO_NODE_ELEMENT;
        int in_src = el && recognized(n->v.element.tag) && !(n->parse_flags & GUMBO_INSERTION_BY_PARSER);
        if (f->next == 0 && el) {
            /* entering the element */
            GumboTag tag = n->v.element.tag;
            if (in_src && tag_event(out, tag, 0)) goto oom;
            if (mode == CB_HTML_CELLS_TABLE && tag == GUMBO_TAG_TR && cb_table_add_row(out)) goto oom;
            if (is_cell(tag, mode)) {
                if (node_text(n, mode == CB_HTML_CELLS_ANY, &b, &ts)) goto oom;
                if (mode != CB_HTML_CELLS_ANY || has_text(b.p)) {
                    if (cb_table_add_cell(out, b.p, b.n)) goto oom;
                    GumboAttribute *cs = mode == CB_HTML_CELLS_TABLE
                                             ? gumbo_get_attribute(&n->v.element.attributes, "colspan")
                                             : NULL;
                    long span = cs ? strtol(cs->value, NULL, 10) : 1;
                    if (span > 64) span = 64;
                    for (long k = 1; k < span; k++)
                        if (cb_table_add_cell(out, "", 0)) goto oom;
                }
            }
        }
        if (!ch || f->next >= ch->length) {
            if (in_src && tag_event(out, n->v.element.tag, 1)) goto oom;
            s.n--;
            continue;
        }
        const GumboNode *c = ch->data[f->next++];
        if ((c->type == GUMBO_NODE_ELEMENT || c->type == GUMBO_NODE_TEMPLATE) && push(&s, c)) goto oom;
    }
    cb_table_finish(out);
    out->found = out->n_tags > 0;
out:
    free(s.f);
    free(ts.f);
    free(b.p);
    gumbo_destroy_output(&kGumboDefaultOptions, g);
    return rc;
oom:
    rc = cb_err_set(err, CB_ENOMEM, "out of memory (HTML table)");
    goto out;
}

static int tag_in(const char *s, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        if (strncasecmp(p + 1, name, n) == 0) {
            char c = p[1 + n];
            if (c == '>' || c == ' ' || c == '\t' || c == '\n' || c == '/') return 1;
        }
    }
    return 0;
}

cb_html_cells cb_table_html_mode(const char *gold) {
    if (tag_in(gold, "table")) return CB_HTML_CELLS_TABLE;
    if (tag_in(gold, "ul") || tag_in(gold, "ol") || tag_in(gold, "li")) return CB_HTML_CELLS_LIST;
    return CB_HTML_CELLS_ANY;
}
