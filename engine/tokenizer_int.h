/* engine/tokenizer_int.h — private layout of cb_tokenizer, shared by
 * tokenizer.c (loading, special tokens, SPM, decoding) and tokenizer_bpe.c
 * (byte-level BPE: pre-tokenizer regexes, byte mapping, ranked merges).
 * Nothing outside those two files includes it.
 */
#ifndef CB_TOKENIZER_INT_H
#define CB_TOKENIZER_INT_H

#include "engine/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

#define TOK_MAX_RE 8

/* A byte range of the arena. */
typedef struct tok_span {
    uint32_t off, len;
} tok_span;

/* One gpt2 merge "a b": the bytes of a then b, contiguous in merge_arena. */
typedef struct tok_merge {
    uint32_t off, len_a, len; /* len = len_a + len_b */
} tok_merge;

/* Growable id vector; err is set (and pushes ignored) after a failed grow. */
typedef struct tok_vec {
    int32_t *v;
    size_t n, cap;
    int err;
} tok_vec;

struct cb_tokenizer {
    int type;              /* CB_TOK_SPM / CB_TOK_BPE */
    char pre[32];          /* BPE pre-tokenizer name */
    int32_t n_vocab;
    char *arena;           /* token texts, then pieces */
    size_t arena_len;
    tok_span *text;        /* [n_vocab] vocabulary text */
    tok_span *piece;       /* [n_vocab] printed bytes (special = true) */
    float *scores;         /* [n_vocab] */
    uint8_t *types;        /* [n_vocab] CB_TOKTYPE_* after fixes */
    uint8_t *eog;          /* [n_vocab] 1 = end of generation */
    int32_t *ht;           /* text -> id, open addressing, -1 = empty */
    uint32_t ht_mask;
    int32_t *special;      /* ids matched in raw text, longest text first */
    uint8_t *rstrip;       /* [n_vocab] 1 = whitespace after the token is dropped; NULL = none */
    int n_special;
    int32_t byte_tok[256]; /* SPM: id of <0xXX> (or the 1-byte text), -1 */
    int32_t bos, eos, unk, eot, eom;
    int add_bos, add_eos, add_space_prefix;

    /* BPE */
    char *merge_arena;
    tok_merge *merges;     /* rank = index */
    int64_t n_merges;
    int32_t *mht;          /* merge -> rank, -1 = empty */
    uint32_t mht_mask;
    void *re[TOK_MAX_RE];  /* pcre2_code_8 * */
    int n_re;
    int ignore_merges;     /* llama3: a word that is a token is kept whole */
    uint16_t byte_cp[256]; /* byte -> code point of the GPT-2 table */
    int16_t cp_byte[324];  /* code point -> byte, -1 if none */
};

/* A linked symbol of a word being merged: bytes [start, start + n) of the
 * word; n == 0 once merged into its left neighbour. */
typedef struct tok_sym {
    int32_t prev, next;
    uint32_t start, n;
} tok_sym;

/* A candidate merge of symbols left and right; smaller key first, then the
 * leftmost (SPM key = -score, BPE key = rank). size = bytes of the pair when
 * queued, so a stale entry is recognised when the symbols have changed. */
typedef struct tok_bigram {
    double key;
    int32_t left, right;
    uint32_t size;
} tok_bigram;

typedef struct tok_heap {
    tok_bigram *v;
    size_t n, cap;
    int err;
} tok_heap;

void tok_heap_push(tok_heap *h, tok_bigram b);
int tok_heap_pop(tok_heap *h, tok_bigram *out); /* 0 = got one, 1 = empty */
/* Byte length of the UTF-8 sequence that starts with byte c, by its top
 * nibble (llama.cpp's rule: continuation bytes count as 1). */
static inline uint32_t tok_utf8_len(unsigned char c) {
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 if invalid
 * (overlong forms, surrogates, values over U+10FFFF, truncation). */
static inline size_t tok_utf8_valid(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    size_t len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;
    if (c == 0xED && s[1] > 0x9F) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;
    if (c == 0xF4 && s[1] > 0x8F) return 0;
    return len;
}

uint64_t tok_hash(const char *s, size_t n, uint64_t seed);
int32_t tok_find(const cb_tokenizer *t, const char *s, size_t n);
int tok_push(tok_vec *v, int32_t id);

/* tokenizer_bpe.c */
void tok_bpe_byte_tables(cb_tokenizer *t);
int tok_bpe_setup(cb_tokenizer *t, const char *pre, cb_err *err);
int tok_bpe_merges(cb_tokenizer *t, const char *const *merges, const size_t *lens, int64_t n,
                   cb_err *err);
void tok_bpe_free(cb_tokenizer *t);
/* Bytes of a NORMAL BPE token's text mapped back through the byte table into
 * out (capacity >= len of text); returns the number of bytes. */
size_t tok_bpe_unmap(const cb_tokenizer *t, const char *s, size_t n, char *out);
/* Encodes one raw-text fragment and appends ids. */
int tok_bpe_encode(const cb_tokenizer *t, const char *s, size_t n, tok_vec *out, cb_err *err);

#endif
