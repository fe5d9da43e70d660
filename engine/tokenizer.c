/* engine/tokenizer.c — vocabulary loading, special-token splitting, the
 * SentencePiece (SPM) encoder and detokenization.
 *
 * Loading copies the token texts into one arena, builds an open-addressing
 * hash table text -> id, precomputes each token's printed piece, applies
 * llama.cpp's load-time fixes (default ids, EOG detection, EOG-looking tokens
 * forced to CONTROL) and, for gpt2 vocabs, hands over to tokenizer_bpe.c.
 *
 * Encoding first cuts the raw text at special-token texts (llama.cpp's
 * partition: for each special token, longest text first, every raw fragment
 * is split at each non-overlapping occurrence), then encodes each raw
 * fragment with SPM or BPE. SPM merging is a linked list of symbols plus a
 * binary heap of candidate pairs keyed by the merged piece's score, so an
 * n-byte fragment costs O(n log n).
 *
 * Not here: the BPE pre-tokenizer and merges (tokenizer_bpe.c).
 */
#include "engine/tokenizer.h"
#include "engine/tokenizer_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_MAX_TEXT ((size_t)1 << 30)

/* ---- small utilities ------------------------------------------------------ */

uint64_t tok_hash(const char *s, size_t n, uint64_t seed) {
    /* FNV-1a over the bytes, then a final avalanche (splitmix64 finaliser). */
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

int32_t tok_find(const cb_tokenizer *t, const char *s, size_t n) {
    uint32_t i = (uint32_t)tok_hash(s, n, 0) & t->ht_mask;
    for (;;) {
        int32_t id = t->ht[i];
        if (id < 0) return -1;
        const tok_span *sp = &t->text[id];
        if (sp->len == n && memcmp(t->arena + sp->off, s, n) == 0) return id;
        i = (i + 1) & t->ht_mask;
    }
}

int tok_push(tok_vec *v, int32_t id) {
    if (v->err) return v->err;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        if (cap > (size_t)INT_MAX) cap = (size_t)INT_MAX;
        if (v->n >= cap) return v->err = CB_ENOMEM;
        int32_t *p = realloc(v->v, cap * sizeof *p);
        if (!p) return v->err = CB_ENOMEM;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = id;
    return 0;
}

static int bigram_less(const tok_bigram *a, const tok_bigram *b) {
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

void tok_heap_push(tok_heap *h, tok_bigram b) {
    if (h->err) return;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        tok_bigram *p = realloc(h->v, cap * sizeof *p);
        if (!p) {
            h->err = CB_ENOMEM;
            return;
        }
        h->v = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_less(&b, &h->v[parent])) break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = b;
}

int tok_heap_pop(tok_heap *h, tok_bigram *out) {
    if (h->n == 0) return 1;
    *out = h->v[0];
    tok_bigram last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_less(&h->v[c + 1], &h->v[c])) c++;
        if (!bigram_less(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n > 0) h->v[i] = last;
    return 0;
}

/* ---- loading --------------------------------------------------------------- */

void cb_tokenizer_spec_init(cb_tokenizer_spec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->bos = spec->eos = spec->unk = spec->eot = spec->eom = -1;
    spec->add_bos = spec->add_eos = spec->add_space_prefix = -1;
}

static const char *const k_eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", /* <｜end▁of▁sentence｜> */
    "<|end_of_text|>", "<end_of_utterance>", "_<EOT>", NULL};
static const char *const k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", NULL};

static int text_in(const char *s, size_t n, const char *const *list) {
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, s, n) == 0) return 1;
    return 0;
}

static int32_t id_or_none(int64_t id, int32_t n_vocab) {
    return (id >= 0 && id < n_vocab) ? (int32_t)id : -1;
}

/* Printed bytes of token id (llama_token_to_piece with special = true),
 * written to out (room for the text's length). */
static size_t make_piece(const cb_tokenizer *t, int32_t id, char *out) {
    const char *s = t->arena + t->text[id].off;
    size_t n = t->text[id].len;
    switch (t->types[id]) {
    case CB_TOKTYPE_CONTROL:
    case CB_TOKTYPE_UNKNOWN:
    case CB_TOKTYPE_USER_DEFINED:
        memcpy(out, s, n);
        return n;
    case CB_TOKTYPE_NORMAL:
        if (t->type == CB_TOK_BPE) return tok_bpe_unmap(t, s, n, out);
        {
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                if (i + 2 < n && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x96 &&
                    (unsigned char)s[i + 2] == 0x81) {
                    out[k++] = ' ';
                    i += 2;
                } else {
                    out[k++] = s[i];
                }
            }
            return k;
        }
    case CB_TOKTYPE_BYTE:
        if (t->type == CB_TOK_SPM && n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
            unsigned v = 0;
            for (int i = 3; i < 5; i++) {
                char c = s[i];
                unsigned d = (c >= '0' && c <= '9')   ? (unsigned)(c - '0')
                             : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10)
                             : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
                                                      : 16u;
                if (d > 15) return 0;
                v = v * 16 + d;
            }
            out[0] = (char)v;
            return 1;
        }
        return 0;
    default: /* unused, undefined: printed as nothing */
        return 0;
    }
}

static int cmp_special(const void *a, const void *b, void *ctx) {
    const cb_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->text[x].len != t->text[y].len) return t->text[x].len > t->text[y].len ? -1 : 1;
    return (x > y) - (x < y);
}

int cb_tokenizer_from_spec(const cb_tokenizer_spec *spec, cb_tokenizer **out, cb_err *err) {
    int rc = 0;
    cb_tokenizer *t = NULL;
    *out = NULL;
    if (!spec->model || !spec->tokens || spec->n_vocab <= 0) {
        rc = cb_err_set(err, CB_EFORMAT, "tokenizer: needs a model type and a non-empty vocab");
        goto out;
    }
    int type;
    if (strcmp(spec->model, "llama") == 0) {
        type = CB_TOK_SPM;
    } else if (strcmp(spec->model, "gpt2") == 0) {
        type = CB_TOK_BPE;
    } else {
        rc = cb_err_set(err, CB_EUNSUP,
                        "tokenizer: tokenizer.ggml.model '%s' is not supported (llama, gpt2)",
                        spec->model);
        goto out;
    }
    int32_t nv = spec->n_vocab;
    if (nv > (1 << 26)) {
        rc = cb_err_set(err, CB_EFORMAT, "tokenizer: vocab of %d tokens is too large", nv);
        goto out;
    }
    t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->type = type;
    t->n_vocab = nv;
    t->text = calloc((size_t)nv, sizeof *t->text);
    t->piece = calloc((size_t)nv, sizeof *t->piece);
    t->scores = calloc((size_t)nv, sizeof *t->scores);
    t->types = calloc((size_t)nv, 1);
    t->eog = calloc((size_t)nv, 1);
    if (!t->text || !t->piece || !t->scores || !t->types || !t->eog) goto nomem;

    /* texts into the arena (pieces never exceed their text's length) */
    size_t total = 0;
    for (int32_t i = 0; i < nv; i++) {
        const char *s = spec->tokens[i];
        size_t n = spec->token_lens ? spec->token_lens[i] : (s ? strlen(s) : 0);
        if (!s && n) {
            rc = cb_err_set(err, CB_EFORMAT, "tokenizer: token %d has no text", i);
            goto out;
        }
        if (n > ((size_t)1 << 20)) {
            rc = cb_err_set(err, CB_EFORMAT, "tokenizer: token %d is %zu bytes long", i, n);
            goto out;
        }
        total += n;
    }
    if (total > ((size_t)1 << 30)) {
        rc = cb_err_set(err, CB_EFORMAT, "tokenizer: token texts total %zu bytes", total);
        goto out;
    }
    t->arena = malloc(2 * total + 1);
    if (!t->arena) goto nomem;
    size_t off = 0;
    for (int32_t i = 0; i < nv; i++) {
        size_t n = spec->token_lens ? spec->token_lens[i] : (spec->tokens[i] ? strlen(spec->tokens[i]) : 0);
        if (n) memcpy(t->arena + off, spec->tokens[i], n);
        t->text[i].off = (uint32_t)off;
        t->text[i].len = (uint32_t)n;
        off += n;
        t->scores[i] = spec->scores ? spec->scores[i] : 0.0f;
        int ty = spec->types ? spec->types[i] : CB_TOKTYPE_NORMAL;
        t->types[i] = (uint8_t)((ty >= 0 && ty <= CB_TOKTYPE_BYTE) ? ty : CB_TOKTYPE_UNDEFINED);
    }

    /* hash table: later ids overwrite earlier ones with the same text */
    uint32_t size = 1;
    while (size < 2u * (uint32_t)nv) size <<= 1;
    t->ht = malloc((size_t)size * sizeof *t->ht);
    if (!t->ht) goto nomem;
    memset(t->ht, 0xff, (size_t)size * sizeof *t->ht);
    t->ht_mask = size - 1;
    for (int32_t i = 0; i < nv; i++) {
        const char *s = t->arena + t->text[i].off;
        size_t n = t->text[i].len;
        uint32_t h = (uint32_t)tok_hash(s, n, 0) & t->ht_mask;
        for (;;) {
            int32_t id = t->ht[h];
            if (id < 0 || (t->text[id].len == n && memcmp(t->arena + t->text[id].off, s, n) == 0)) {
                t->ht[h] = i;
                break;
            }
            h = (h + 1) & t->ht_mask;
        }
    }

    /* special ids and flags */
    t->bos = id_or_none(spec->bos, nv);
    t->eos = id_or_none(spec->eos, nv);
    t->unk = id_or_none(spec->unk, nv);
    t->eot = id_or_none(spec->eot, nv);
    t->eom = id_or_none(spec->eom, nv);
    if (type == CB_TOK_SPM) {
        if (spec->bos < 0 && nv > 1) t->bos = 1;
        if (spec->eos < 0 && nv > 2) t->eos = 2;
        if (spec->unk < 0) t->unk = 0;
    }
    t->add_bos = spec->add_bos >= 0 ? !!spec->add_bos : (type == CB_TOK_SPM);
    t->add_eos = spec->add_eos >= 0 ? !!spec->add_eos : 0;
    t->add_space_prefix =
        type == CB_TOK_SPM ? (spec->add_space_prefix >= 0 ? !!spec->add_space_prefix : 1) : 0;

    /* EOT/EOM detection and end-of-generation set; such tokens become CONTROL */
    for (int32_t i = 0; i < nv; i++) {
        const char *s = t->arena + t->text[i].off;
        size_t n = t->text[i].len;
        int is_eot = text_in(s, n, k_eot_texts);
        int is_eom = n == 10 && memcmp(s, "<|eom_id|>", 10) == 0;
        int is_eog = text_in(s, n, k_eog_texts);
        if (is_eot && t->eot < 0) t->eot = i;
        if (is_eom && t->eom < 0) t->eom = i;
        if (is_eot || is_eom || is_eog) t->types[i] = CB_TOKTYPE_CONTROL;
        if (is_eog) t->eog[i] = 1;
    }
    if (t->eos >= 0) t->eog[t->eos] = 1;
    if (t->eot >= 0) t->eog[t->eot] = 1;
    if (t->eom >= 0) t->eog[t->eom] = 1;

    if (type == CB_TOK_BPE) {
        tok_bpe_byte_tables(t);
        rc = tok_bpe_setup(t, spec->pre ? spec->pre : "default", err);
        if (rc) goto out;
        if (!spec->merges && spec->n_merges) {
            rc = cb_err_set(err, CB_EFORMAT, "tokenizer: merges missing");
            goto out;
        }
        rc = tok_bpe_merges(t, spec->merges, spec->merge_lens, spec->n_merges, err);
        if (rc) goto out;
    }

    /* pieces, after the texts in the arena */
    for (int32_t i = 0; i < nv; i++) {
        size_t n = make_piece(t, i, t->arena + off);
        t->piece[i].off = (uint32_t)off;
        t->piece[i].len = (uint32_t)n;
        off += n;
    }
    t->arena_len = off;

    /* special tokens matched in raw text, longest first */
    int n_special = 0;
    for (int32_t i = 0; i < nv; i++) {
        int ty = t->types[i];
        if ((ty == CB_TOKTYPE_CONTROL || ty == CB_TOKTYPE_UNKNOWN || ty == CB_TOKTYPE_USER_DEFINED) &&
            t->text[i].len > 0)
            n_special++;
    }
    if (n_special) {
        t->special = malloc((size_t)n_special * sizeof *t->special);
        if (!t->special) goto nomem;
        for (int32_t i = 0; i < nv; i++) {
            int ty = t->types[i];
            if ((ty == CB_TOKTYPE_CONTROL || ty == CB_TOKTYPE_UNKNOWN ||
                 ty == CB_TOKTYPE_USER_DEFINED) &&
                t->text[i].len > 0)
                t->special[t->n_special++] = i;
        }
        qsort_r(t->special, (size_t)t->n_special, sizeof *t->special, cmp_special, t);
    }
    if (spec->phi3_rstrip && t->n_special) {
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>", NULL};
        t->rstrip = calloc((size_t)nv, 1);
        if (!t->rstrip) goto nomem;
        for (int k = 0; k < t->n_special; k++) {
            int32_t id = t->special[k];
            t->rstrip[id] = !text_in(t->arena + t->text[id].off, t->text[id].len, keep);
        }
    }

    /* SPM byte fallback: <0xXX>, else the one-byte text itself */
    for (int b = 0; b < 256; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        int32_t id = type == CB_TOK_SPM ? tok_find(t, buf, 6) : -1;
        if (id < 0) {
            char c = (char)b;
            id = tok_find(t, &c, 1);
        }
        t->byte_tok[b] = id;
    }

    *out = t;
    t = NULL;
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory loading %d tokens", spec->n_vocab);
out:
    cb_tokenizer_free(t);
    return rc;
}

void cb_tokenizer_free(cb_tokenizer *t) {
    if (!t) return;
    tok_bpe_free(t);
    free(t->special);
    free(t->rstrip);
    free(t->ht);
    free(t->eog);
    free(t->types);
    free(t->scores);
    free(t->piece);
    free(t->text);
    free(t->arena);
    free(t);
}

/* Reads a string array key into pointer/length arrays (pointing into g). */
static int read_str_arr(const cb_gguf *g, const char *key, int required, const char ***ptrs,
                        size_t **lens, int64_t *count, cb_err *err) {
    uint32_t et;
    uint64_t n;
    *ptrs = NULL;
    *lens = NULL;
    *count = 0;
    int r = cb_gguf_get_arr(g, key, &et, &n);
    if (r == 1 && !required) return 0;
    if (r || et != CB_GGUF_STRING)
        return cb_err_set(err, CB_EFORMAT, "%s: %s missing or not a string array", cb_gguf_path(g),
                          key);
    if (n > ((uint64_t)1 << 26))
        return cb_err_set(err, CB_EFORMAT, "%s: %s has %llu entries", cb_gguf_path(g), key,
                          (unsigned long long)n);
    *ptrs = malloc((n ? n : 1) * sizeof **ptrs);
    *lens = malloc((n ? n : 1) * sizeof **lens);
    if (!*ptrs || !*lens) return cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory");
    for (uint64_t i = 0; i < n; i++) {
        cb_gguf_str s;
        if (cb_gguf_arr_str(g, key, i, &s))
            return cb_err_set(err, CB_EFORMAT, "%s: %s[%llu] unreadable", cb_gguf_path(g), key,
                              (unsigned long long)i);
        (*ptrs)[i] = s.ptr;
        (*lens)[i] = (size_t)s.len;
    }
    *count = (int64_t)n;
    return 0;
}

static int32_t get_id(const cb_gguf *g, const char *key) {
    int64_t v;
    if (cb_gguf_get_i64(g, key, &v) == 0) return (v >= 0 && v <= INT32_MAX) ? (int32_t)v : -2;
    uint64_t u;
    if (cb_gguf_get_u64(g, key, &u) == 0) return u <= INT32_MAX ? (int32_t)u : -2;
    return -1;
}

static int get_flag(const cb_gguf *g, const char *key) {
    int b;
    return cb_gguf_get_bool(g, key, &b) == 0 ? !!b : -1;
}

/* A Phi-3 model: architecture "phi3", or a name containing "phi3" / "phi-3"
 * in any case (the rule the reference engine keys its vocab fix on). */
static int is_phi3(const cb_gguf *g) {
    cb_gguf_str s;
    if (cb_gguf_get_str(g, "general.architecture", &s) == 0 && s.len == 4 && memcmp(s.ptr, "phi3", 4) == 0)
        return 1;
    if (cb_gguf_get_str(g, "general.name", &s) != 0) return 0;
    for (uint64_t i = 0; i < s.len; i++) {
        static const char *const pats[] = {"phi3", "phi-3"};
        for (int k = 0; k < 2; k++) {
            size_t n = strlen(pats[k]), j = 0;
            while (j < n && i + j < s.len && (s.ptr[i + j] | 0x20) == pats[k][j]) j++;
            if (j == n) return 1;
        }
    }
    return 0;
}

int cb_tokenizer_from_gguf(const cb_gguf *g, cb_tokenizer **out, cb_err *err) {
    int rc = 0;
    const char **tokens = NULL, **merges = NULL;
    size_t *tok_lens = NULL, *merge_lens = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    char model[32], pre[64];
    cb_tokenizer_spec spec;
    cb_tokenizer_spec_init(&spec);
    *out = NULL;

    cb_gguf_str s;
    if (cb_gguf_get_str(g, "tokenizer.ggml.model", &s)) {
        rc = cb_err_set(err, CB_EFORMAT, "%s: no tokenizer.ggml.model string", cb_gguf_path(g));
        goto out;
    }
    if (s.len >= sizeof model || memchr(s.ptr, 0, s.len)) {
        rc = cb_err_set(err, CB_EUNSUP, "%s: unsupported tokenizer.ggml.model", cb_gguf_path(g));
        goto out;
    }
    memcpy(model, s.ptr, s.len);
    model[s.len] = 0;
    spec.model = model;
    if (cb_gguf_get_str(g, "tokenizer.ggml.pre", &s) == 0) {
        if (s.len >= sizeof pre || memchr(s.ptr, 0, s.len)) {
            rc = cb_err_set(err, CB_EUNSUP, "%s: unsupported tokenizer.ggml.pre", cb_gguf_path(g));
            goto out;
        }
        memcpy(pre, s.ptr, s.len);
        pre[s.len] = 0;
        spec.pre = pre;
    }

    int64_t n_tok;
    rc = read_str_arr(g, "tokenizer.ggml.tokens", 1, &tokens, &tok_lens, &n_tok, err);
    if (rc) goto out;
    spec.n_vocab = (int32_t)n_tok;
    spec.tokens = tokens;
    spec.token_lens = tok_lens;

    uint32_t et;
    uint64_t n;
    if (cb_gguf_get_arr(g, "tokenizer.ggml.scores", &et, &n) == 0) {
        if (n != (uint64_t)n_tok) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: %llu scores for %lld tokens", cb_gguf_path(g),
                            (unsigned long long)n, (long long)n_tok);
            goto out;
        }
        scores = malloc((size_t)(n ? n : 1) * sizeof *scores);
        if (!scores) goto nomem;
        for (uint64_t i = 0; i < n; i++)
            if (cb_gguf_arr_f32(g, "tokenizer.ggml.scores", i, &scores[i])) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: tokenizer.ggml.scores is not numeric",
                                cb_gguf_path(g));
                goto out;
            }
        spec.scores = scores;
    }
    if (cb_gguf_get_arr(g, "tokenizer.ggml.token_type", &et, &n) == 0) {
        if (n != (uint64_t)n_tok) {
            rc = cb_err_set(err, CB_EFORMAT, "%s: %llu token types for %lld tokens",
                            cb_gguf_path(g), (unsigned long long)n, (long long)n_tok);
            goto out;
        }
        types = malloc((size_t)(n ? n : 1) * sizeof *types);
        if (!types) goto nomem;
        for (uint64_t i = 0; i < n; i++) {
            int64_t v;
            if (cb_gguf_arr_i64(g, "tokenizer.ggml.token_type", i, &v)) {
                rc = cb_err_set(err, CB_EFORMAT, "%s: tokenizer.ggml.token_type is not integer",
                                cb_gguf_path(g));
                goto out;
            }
            types[i] = (v >= 0 && v <= CB_TOKTYPE_BYTE) ? (int32_t)v : CB_TOKTYPE_UNDEFINED;
        }
        spec.types = types;
    }
    if (strcmp(model, "gpt2") == 0) {
        rc = read_str_arr(g, "tokenizer.ggml.merges", 1, &merges, &merge_lens, &spec.n_merges, err);
        if (rc) goto out;
        spec.merges = merges;
        spec.merge_lens = merge_lens;
    }
    spec.bos = get_id(g, "tokenizer.ggml.bos_token_id");
    spec.eos = get_id(g, "tokenizer.ggml.eos_token_id");
    spec.unk = get_id(g, "tokenizer.ggml.unknown_token_id");
    spec.eot = get_id(g, "tokenizer.ggml.eot_token_id");
    spec.eom = get_id(g, "tokenizer.ggml.eom_token_id");
    spec.add_bos = get_flag(g, "tokenizer.ggml.add_bos_token");
    spec.add_eos = get_flag(g, "tokenizer.ggml.add_eos_token");
    spec.add_space_prefix = get_flag(g, "tokenizer.ggml.add_space_prefix");
    spec.phi3_rstrip = is_phi3(g);

    rc = cb_tokenizer_from_spec(&spec, out, err);
    /* A key that is present but out of range (e.g. u32 0xFFFFFFFF) means none
     * (-2 above), which from_spec must not replace with the SPM default. */
    if (rc == 0) {
        if (spec.bos == -2) (*out)->bos = -1;
        if (spec.eos == -2) (*out)->eos = -1;
        if (spec.unk == -2) (*out)->unk = -1;
    }
    if (rc) cb_err_prefix(err, "%s: ", cb_gguf_path(g));
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory");
out:
    free(types);
    free(scores);
    free(merge_lens);
    free(merges);
    free(tok_lens);
    free(tokens);
    return rc;
}

/* ---- special-token partition --------------------------------------------- */

/* isspace() in the C locale, without the locale. */
static int is_space_c(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

typedef struct frag {
    int32_t id; /* -1 = raw text */
    uint32_t off, len;
} frag;

typedef struct frag_vec {
    frag *v;
    size_t n, cap;
} frag_vec;

static int frag_push(frag_vec *f, int32_t id, uint32_t off, uint32_t len) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        frag *p = realloc(f->v, cap * sizeof *p);
        if (!p) return CB_ENOMEM;
        f->v = p;
        f->cap = cap;
    }
    f->v[f->n++] = (frag){id, off, len};
    return 0;
}

/* Splits text into raw fragments and special tokens (llama.cpp's
 * tokenizer_st_partition). pairs: bitmap of the byte pairs present in text,
 * used to skip tokens that cannot occur. */
static int partition(const cb_tokenizer *t, const char *text, uint32_t len, int parse_special,
                     frag_vec *cur, cb_err *err) {
    int rc = 0;
    frag_vec nxt = {0};
    uint8_t *pairs = NULL;
    uint8_t present[32] = {0};
    if (len == 0) return 0;
    if ((rc = frag_push(cur, -1, 0, len))) goto nomem;
    if (t->n_special == 0) return 0;
    pairs = calloc(8192, 1);
    if (!pairs) goto nomem;
    for (uint32_t i = 0; i < len; i++) {
        unsigned a = (unsigned char)text[i];
        present[a >> 3] |= (uint8_t)(1u << (a & 7));
        if (i + 1 < len) {
            unsigned p = a << 8 | (unsigned char)text[i + 1];
            pairs[p >> 3] |= (uint8_t)(1u << (p & 7));
        }
    }
    for (int k = 0; k < t->n_special; k++) {
        int32_t id = t->special[k];
        int ty = t->types[id];
        if (!parse_special && ty != CB_TOKTYPE_USER_DEFINED) continue;
        const char *s = t->arena + t->text[id].off;
        uint32_t n = t->text[id].len;
        if (n > len) continue;
        int possible = 1;
        unsigned a0 = (unsigned char)s[0];
        if (!(present[a0 >> 3] & (1u << (a0 & 7)))) possible = 0;
        for (uint32_t i = 0; possible && i + 1 < n; i++) {
            unsigned p = (unsigned)(unsigned char)s[i] << 8 | (unsigned char)s[i + 1];
            if (!(pairs[p >> 3] & (1u << (p & 7)))) possible = 0;
        }
        if (!possible) continue;
        int changed = 0;
        nxt.n = 0;
        for (size_t f = 0; f < cur->n; f++) {
            frag fr = cur->v[f];
            const char *hit = NULL;
            if (fr.id < 0 && fr.len >= n) hit = memmem(text + fr.off, fr.len, s, n);
            if (!hit) {
                if (changed && (rc = frag_push(&nxt, fr.id, fr.off, fr.len))) goto nomem;
                continue;
            }
            if (!changed) {
                changed = 1;
                for (size_t j = 0; j < f; j++)
                    if ((rc = frag_push(&nxt, cur->v[j].id, cur->v[j].off, cur->v[j].len)))
                        goto nomem;
            }
            uint32_t pos = fr.off, end = fr.off + fr.len;
            while (hit) {
                uint32_t at = (uint32_t)(hit - text);
                if (at > pos && (rc = frag_push(&nxt, -1, pos, at - pos))) goto nomem;
                if ((rc = frag_push(&nxt, id, at, n))) goto nomem;
                pos = at + n;
                if (t->rstrip && t->rstrip[id]) /* drop the whitespace that follows, within this fragment */
                    while (pos < end && is_space_c(text[pos])) pos++;
                hit = end - pos >= n ? memmem(text + pos, end - pos, s, n) : NULL;
            }
            if (pos < end && (rc = frag_push(&nxt, -1, pos, end - pos))) goto nomem;
        }
        if (changed) {
            frag_vec tmp = *cur;
            *cur = nxt;
            nxt = tmp;
        }
    }
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory splitting special tokens");
out:
    free(nxt.v);
    free(pairs);
    return rc;
}

/* ---- SPM ------------------------------------------------------------------- */

static void spm_try_add(const cb_tokenizer *t, const char *buf, const tok_sym *sym, tok_heap *h,
                        int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    uint32_t n = sym[left].n + sym[right].n;
    int32_t id = tok_find(t, buf + sym[left].start, n);
    if (id < 0) return;
    tok_heap_push(h, (tok_bigram){-(double)t->scores[id], left, right, n});
}

/* Encodes one raw fragment: optional dummy space, ' ' -> U+2581, then merges
 * by score; symbols left outside the vocab are spelled as byte tokens. */
static int spm_encode(const cb_tokenizer *t, const char *s, size_t n, int prefix, tok_vec *out,
                      cb_err *err) {
    int rc = 0;
    char *buf = NULL;
    tok_sym *sym = NULL;
    tok_heap heap = {0};
    size_t cap = 3 * (n + 1);
    buf = malloc(cap);
    if (!buf) goto nomem;
    size_t m = 0;
    if (prefix) {
        memcpy(buf, "\xe2\x96\x81", 3);
        m = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(buf + m, "\xe2\x96\x81", 3);
            m += 3;
        } else {
            buf[m++] = s[i];
        }
    }
    if (m == 0) goto out;
    sym = malloc(m * sizeof *sym);
    if (!sym) goto nomem;
    int32_t ns = 0;
    for (size_t off = 0; off < m;) {
        /* one symbol per valid UTF-8 character; a byte that starts no valid
         * sequence is a symbol of its own, so it falls back to its byte token
         * and its neighbours are untouched (llama.cpp groups by the lead
         * byte's length instead, which can swallow a following space). */
        uint32_t l = (uint32_t)tok_utf8_valid((const unsigned char *)buf + off, m - off);
        if (l == 0) l = 1;
        sym[ns] = (tok_sym){ns - 1, -1, (uint32_t)off, l};
        off += l;
        if (off < m) sym[ns].next = ns + 1;
        ns++;
    }
    for (int32_t i = 1; i < ns; i++) spm_try_add(t, buf, sym, &heap, i - 1, i);
    tok_bigram b;
    while (!heap.err && tok_heap_pop(&heap, &b) == 0) {
        tok_sym *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        spm_try_add(t, buf, sym, &heap, l->prev, b.left);
        spm_try_add(t, buf, sym, &heap, b.left, l->next);
    }
    if (heap.err) goto nomem;
    for (int32_t i = 0; i != -1; i = sym[i].next) {
        int32_t id = tok_find(t, buf + sym[i].start, sym[i].n);
        if (id >= 0) {
            tok_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < sym[i].n; j++) {
            int32_t bid = t->byte_tok[(unsigned char)buf[sym[i].start + j]];
            if (bid < 0) bid = t->unk;
            if (bid >= 0) tok_push(out, bid);
        }
    }
    if (out->err) goto nomem;
    goto out;
nomem:
    rc = cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory encoding %zu bytes", n);
out:
    free(heap.v);
    free(sym);
    free(buf);
    return rc;
}

/* ---- encode ---------------------------------------------------------------- */

static int encode_vec(const cb_tokenizer *t, const char *text, size_t len, int add_bos,
                      int parse_special, tok_vec *out, cb_err *err) {
    int rc = 0;
    frag_vec frags = {0};
    if (len > TOK_MAX_TEXT) {
        return cb_err_set(err, CB_ENOMEM, "tokenizer: text of %zu bytes is over the 1 GiB limit",
                          len);
    }
    if (add_bos && t->bos >= 0) tok_push(out, t->bos);
    rc = partition(t, text, (uint32_t)len, parse_special, &frags, err);
    if (rc) goto out;
    int prev_special = 1;
    for (size_t i = 0; i < frags.n && !rc; i++) {
        frag f = frags.v[i];
        if (f.id >= 0) {
            tok_push(out, f.id);
            prev_special = 1;
        } else if (t->type == CB_TOK_SPM) {
            rc = spm_encode(t, text + f.off, f.len, t->add_space_prefix && prev_special, out, err);
            prev_special = 0;
        } else {
            rc = tok_bpe_encode(t, text + f.off, f.len, out, err);
        }
    }
    if (!rc && out->err) rc = cb_err_set(err, CB_ENOMEM, "tokenizer: too many tokens");
out:
    free(frags.v);
    return rc;
}

int cb_tokenizer_encode(const cb_tokenizer *t, const char *text, size_t len, int add_bos,
                        int parse_special, int32_t *ids, int cap, int *n_out, cb_err *err) {
    tok_vec v = {0};
    *n_out = 0;
    int rc = encode_vec(t, text, len, add_bos, parse_special, &v, err);
    if (rc == 0) {
        *n_out = (int)v.n;
        size_t k = cap > 0 ? (v.n < (size_t)cap ? v.n : (size_t)cap) : 0;
        if (k) memcpy(ids, v.v, k * sizeof *ids);
        if (v.n > k)
            rc = cb_err_set(err, CB_ENOMEM, "tokenizer: text needs %zu tokens, buffer holds %d",
                            v.n, cap);
    }
    free(v.v);
    return rc;
}

int cb_tokenizer_encode_alloc(const cb_tokenizer *t, const char *text, size_t len, int add_bos,
                              int parse_special, int32_t **ids_out, int *n_out, cb_err *err) {
    tok_vec v = {0};
    *ids_out = NULL;
    *n_out = 0;
    int rc = encode_vec(t, text, len, add_bos, parse_special, &v, err);
    if (rc) {
        free(v.v);
        return rc;
    }
    if (!v.v) {
        v.v = malloc(sizeof *v.v);
        if (!v.v) return cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory");
    }
    *ids_out = v.v;
    *n_out = (int)v.n;
    return 0;
}

/* ---- decode and accessors -------------------------------------------------- */

int cb_tokenizer_piece(const cb_tokenizer *t, int32_t id, char *buf, size_t cap) {
    if (id < 0 || id >= t->n_vocab) return -1;
    const tok_span *p = &t->piece[id];
    if (cap > 0) {
        size_t k = p->len < cap - 1 ? p->len : cap - 1;
        memcpy(buf, t->arena + p->off, k);
        buf[k] = 0;
    }
    return (int)p->len;
}

int64_t cb_tokenizer_decode(const cb_tokenizer *t, const int32_t *ids, size_t n, char *buf,
                            size_t cap) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab) return -1;
        int ty = t->types[id];
        if (ty == CB_TOKTYPE_CONTROL || ty == CB_TOKTYPE_UNKNOWN) continue;
        const char *s = t->arena + t->piece[id].off;
        size_t len = t->piece[id].len;
        if (i == 0 && t->add_space_prefix && len > 0 && s[0] == ' ') {
            s++;
            len--;
        }
        if (cap > 0 && total < cap - 1) {
            size_t k = len < cap - 1 - total ? len : cap - 1 - total;
            memcpy(buf + total, s, k);
        }
        total += len;
    }
    if (cap > 0) buf[total < cap - 1 ? total : cap - 1] = 0;
    return (int64_t)total;
}

int cb_tokenizer_type(const cb_tokenizer *t) { return t->type; }
const char *cb_tokenizer_pre(const cb_tokenizer *t) { return t->pre; }
int32_t cb_tokenizer_n_vocab(const cb_tokenizer *t) { return t->n_vocab; }
int32_t cb_tokenizer_bos(const cb_tokenizer *t) { return t->bos; }
int32_t cb_tokenizer_eos(const cb_tokenizer *t) { return t->eos; }
int32_t cb_tokenizer_unk(const cb_tokenizer *t) { return t->unk; }
int32_t cb_tokenizer_eot(const cb_tokenizer *t) { return t->eot; }
int cb_tokenizer_add_bos(const cb_tokenizer *t) { return t->add_bos; }
int cb_tokenizer_add_eos(const cb_tokenizer *t) { return t->add_eos; }
int cb_tokenizer_add_space_prefix(const cb_tokenizer *t) { return t->add_space_prefix; }

int cb_tokenizer_is_eog(const cb_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->eog[id];
}

int cb_tokenizer_token_type(const cb_tokenizer *t, int32_t id) {
    return (id >= 0 && id < t->n_vocab) ? t->types[id] : -1;
}

const char *cb_tokenizer_token_text(const cb_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->text[id].len;
    return t->arena + t->text[id].off;
}

int32_t cb_tokenizer_find(const cb_tokenizer *t, const char *text, size_t len) {
    return tok_find(t, text, len);
}
