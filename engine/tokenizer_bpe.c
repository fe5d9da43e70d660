/* engine/tokenizer_bpe.c — byte-level BPE ("gpt2" vocabularies).
 *
 * Encoding one raw fragment:
 *   1. The fragment is cut into maximal runs of valid UTF-8; each byte that is
 *      not part of a valid sequence becomes a word of its own (so any bytes
 *      encode losslessly; llama.cpp would substitute U+FFFD instead).
 *   2. Each run is split by the pre-tokenizer's regexes in order. As in
 *      llama.cpp's unicode_regex_split, every regex is applied to each piece
 *      left by the previous one on its own (lookaheads and `$` stop at the
 *      piece's end), and both the matches and the unmatched gaps between them
 *      become pieces. The regexes are PCRE2 with UTF and UCP, JIT-compiled.
 *   3. Each word's bytes are mapped through the GPT-2 byte->code point table,
 *      one symbol per byte, and adjacent symbols are merged lowest merge rank
 *      first (leftmost on ties) with a heap, as llm_tokenizer_bpe_session does.
 *      A final symbol that is not a token is spelled by its single bytes, when
 *      those are tokens.
 * The regex strings are the published pre-tokenizer patterns of each model
 * family (as listed by llama.cpp for tokenizer.ggml.pre).
 *
 * Not here: special-token splitting and decoding (tokenizer.c).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine/tokenizer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pre-tokenizer patterns ------------------------------------------------ */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACTIONS_CI "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3                                                                                  \
    RE_CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
                       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
    RE_CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"      \
                       "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
/* deepseek-llm: letters of the cased scripts, listed as code point ranges */
#define RE_DS_LETTERS                                                                              \
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"             \
    "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"          \
    "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-"          \
    "\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"             \
    "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}"                  \
    "\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"                  \
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}"          \
    "\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-"                  \
    "\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-"                  \
    "\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}"          \
    "\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-"          \
    "\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"          \
    "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}"          \
    "-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-"                 \
    "\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-"                  \
    "\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-"             \
    "\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-"          \
    "\\x{1E943}]+"
#define RE_PORO " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"

typedef struct pre_def {
    const char *names[12]; /* tokenizer.ggml.pre values, NULL-terminated */
    const char *re[TOK_MAX_RE];
    int ignore_merges;
} pre_def;

static const pre_def k_pre[] = {
    {{"default", NULL},
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
     0},
    {{"gpt-2", "phi-2", "roberta-bpe", "mpt", "olmo", "jais", "gigachat", "jina-es", "jina-de",
      "jina-v1-en", "jina-v2-es", NULL},
     {RE_GPT2},
     0},
    {{"jina-v2-de", "jina-v2-code", NULL}, {RE_GPT2}, 0},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", NULL}, {RE_LLAMA3}, 1},
    {{"dbrx", "smaug-bpe", "chatglm-bpe", NULL}, {RE_LLAMA3}, 0},
    {{"qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", NULL}, {RE_QWEN2}, 0},
    {{"deepseek-llm", NULL},
     {"[\\r\\n]", RE_DS_LETTERS,
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", RE_CJK, "\\p{N}+"},
     0},
    {{"deepseek-coder", NULL}, {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}, 0},
    {{"deepseek-v3", NULL},
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}"
      "\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     0},
    {{"falcon", NULL}, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, 0},
    {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", NULL},
     {"\\p{N}", RE_GPT2},
     0},
    {{"poro-chat", "bloom", "gpt3-finnish", NULL}, {RE_PORO}, 0},
    {{"viking", NULL}, {RE_PORO, "\\p{N}"}, 0},
    {{"tekken", NULL},
     {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?"
      "((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     0},
    {{"chameleon", NULL},
     {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
      "[\\p{P}!-/:-@\\[-`{-~]", RE_GPT2},
     0},
};

int tok_bpe_setup(cb_tokenizer *t, const char *pre, cb_err *err) {
    const pre_def *def = NULL;
    for (size_t i = 0; i < sizeof k_pre / sizeof k_pre[0] && !def; i++)
        for (int j = 0; k_pre[i].names[j]; j++)
            if (strcmp(k_pre[i].names[j], pre) == 0) def = &k_pre[i];
    if (!def)
        return cb_err_set(err, CB_EUNSUP, "tokenizer: unknown pre-tokenizer tokenizer.ggml.pre = '%s'",
                          pre);
    snprintf(t->pre, sizeof t->pre, "%s", pre);
    t->ignore_merges = def->ignore_merges;
    for (int i = 0; i < TOK_MAX_RE && def->re[i]; i++) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)def->re[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return cb_err_set(err, CB_ERUNTIME,
                              "tokenizer: pre-tokenizer '%s' regex %d does not compile at %zu: %s",
                              pre, i, (size_t)eo, (const char *)msg);
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
        t->re[t->n_re++] = re;
    }
    return 0;
}

void tok_bpe_free(cb_tokenizer *t) {
    for (int i = 0; i < t->n_re; i++) pcre2_code_free((pcre2_code *)t->re[i]);
    t->n_re = 0;
    free(t->mht);
    free(t->merges);
    free(t->merge_arena);
}

/* ---- byte <-> code point table (GPT-2) ------------------------------------- */

void tok_bpe_byte_tables(cb_tokenizer *t) {
    /* Printable bytes map to themselves; the other 68 to 256, 257, ... in
     * byte order. */
    int next = 256;
    for (int i = 0; i < 324; i++) t->cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        int cp = keep ? b : next++;
        t->byte_cp[b] = (uint16_t)cp;
        t->cp_byte[cp] = (int16_t)b;
    }
}

size_t tok_bpe_unmap(const cb_tokenizer *t, const char *s, size_t n, char *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t l = tok_utf8_valid(u + i, n - i);
        if (l == 0) {
            out[k++] = s[i++];
            continue;
        }
        uint32_t cp = l == 1 ? u[i] : l == 2 ? ((u[i] & 0x1Fu) << 6 | (u[i + 1] & 0x3Fu)) : 0x110000;
        if (cp < 324 && t->cp_byte[cp] >= 0) {
            out[k++] = (char)t->cp_byte[cp];
        } else { /* not a byte-level symbol: keep the character as is */
            memcpy(out + k, s + i, l);
            k += l;
        }
        i += l;
    }
    return k;
}

/* ---- merges ---------------------------------------------------------------- */

static int32_t merge_rank(const cb_tokenizer *t, const char *s, uint32_t len_a, uint32_t len) {
    if (!t->mht) return -1;
    uint32_t i = (uint32_t)tok_hash(s, len, len_a) & t->mht_mask;
    for (;;) {
        int32_t r = t->mht[i];
        if (r < 0) return -1;
        const tok_merge *m = &t->merges[r];
        if (m->len == len && m->len_a == len_a && memcmp(t->merge_arena + m->off, s, len) == 0)
            return r;
        i = (i + 1) & t->mht_mask;
    }
}

int tok_bpe_merges(cb_tokenizer *t, const char *const *merges, const size_t *lens, int64_t n,
                   cb_err *err) {
    if (n <= 0) return 0;
    if (n > ((int64_t)1 << 26))
        return cb_err_set(err, CB_EFORMAT, "tokenizer: %lld merges", (long long)n);
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t l = lens ? lens[i] : (merges[i] ? strlen(merges[i]) : 0);
        if (!merges[i] && l) return cb_err_set(err, CB_EFORMAT, "tokenizer: merge %lld missing", (long long)i);
        if (l > ((size_t)1 << 20)) return cb_err_set(err, CB_EFORMAT, "tokenizer: merge %lld too long", (long long)i);
        total += l;
    }
    if (total > ((size_t)1 << 30)) return cb_err_set(err, CB_EFORMAT, "tokenizer: merges too large");
    t->merge_arena = malloc(total + 1);
    t->merges = malloc((size_t)n * sizeof *t->merges);
    uint32_t size = 1;
    while (size < 2u * (uint32_t)n) size <<= 1;
    t->mht = malloc((size_t)size * sizeof *t->mht);
    if (!t->merge_arena || !t->merges || !t->mht)
        return cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory for %lld merges", (long long)n);
    memset(t->mht, 0xff, (size_t)size * sizeof *t->mht);
    t->mht_mask = size - 1;
    t->n_merges = n;
    size_t off = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *s = merges[i];
        size_t l = lens ? lens[i] : (s ? strlen(s) : 0);
        /* "a b": the separator is the first space after the first byte */
        const char *sp = l > 1 ? memchr(s + 1, ' ', l - 1) : NULL;
        if (!sp)
            return cb_err_set(err, CB_EFORMAT, "tokenizer: merge %lld ('%.*s') has no space", (long long)i,
                              (int)(l > 40 ? 40 : l), s ? s : "");
        size_t la = (size_t)(sp - s), lb = l - la - 1;
        memcpy(t->merge_arena + off, s, la);
        memcpy(t->merge_arena + off + la, sp + 1, lb);
        t->merges[i] = (tok_merge){(uint32_t)off, (uint32_t)la, (uint32_t)(la + lb)};
        const char *key = t->merge_arena + off;
        off += la + lb;
        /* the first occurrence of a pair keeps its rank */
        uint32_t h = (uint32_t)tok_hash(key, la + lb, la) & t->mht_mask;
        for (;;) {
            int32_t r = t->mht[h];
            if (r < 0) {
                t->mht[h] = (int32_t)i;
                break;
            }
            const tok_merge *m = &t->merges[r];
            if (m->len == la + lb && m->len_a == la && memcmp(t->merge_arena + m->off, key, la + lb) == 0)
                break;
            h = (h + 1) & t->mht_mask;
        }
    }
    return 0;
}

/* ---- encoding -------------------------------------------------------------- */

typedef struct seg {
    uint32_t off, len;
} seg;

typedef struct seg_vec {
    seg *v;
    size_t n, cap;
} seg_vec;

static int seg_push(seg_vec *s, uint32_t off, uint32_t len) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        seg *p = realloc(s->v, cap * sizeof *p);
        if (!p) return CB_ENOMEM;
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = (seg){off, len};
    return 0;
}

typedef struct bpe_scratch {
    char *buf;
    size_t buf_cap;
    tok_sym *sym;
    size_t sym_cap;
    tok_heap heap;
} bpe_scratch;

static void bpe_try_add(const cb_tokenizer *t, bpe_scratch *w, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const tok_sym *l = &w->sym[left], *r = &w->sym[right];
    int32_t rank = merge_rank(t, w->buf + l->start, l->n, l->n + r->n);
    if (rank < 0) return;
    tok_heap_push(&w->heap, (tok_bigram){(double)rank, left, right, l->n + r->n});
}

/* One pre-tokenized word (raw bytes) -> ids. */
static int bpe_word(const cb_tokenizer *t, const char *s, size_t n, bpe_scratch *w, tok_vec *out) {
    if (n == 0) return 0;
    if (2 * n > w->buf_cap) {
        char *p = realloc(w->buf, 2 * n);
        if (!p) return CB_ENOMEM;
        w->buf = p;
        w->buf_cap = 2 * n;
    }
    if (n > w->sym_cap) {
        tok_sym *p = realloc(w->sym, n * sizeof *p);
        if (!p) return CB_ENOMEM;
        w->sym = p;
        w->sym_cap = n;
    }
    uint32_t m = 0;
    int32_t ns = (int32_t)n;
    for (int32_t i = 0; i < ns; i++) {
        unsigned cp = t->byte_cp[(unsigned char)s[i]];
        uint32_t start = m;
        if (cp < 0x80) {
            w->buf[m++] = (char)cp;
        } else {
            w->buf[m++] = (char)(0xC0 | (cp >> 6));
            w->buf[m++] = (char)(0x80 | (cp & 0x3F));
        }
        w->sym[i] = (tok_sym){i - 1, i + 1 < ns ? i + 1 : -1, start, m - start};
    }
    if (t->ignore_merges) {
        int32_t id = tok_find(t, w->buf, m);
        if (id >= 0) return tok_push(out, id);
    }
    w->heap.n = 0;
    for (int32_t i = 1; i < ns; i++) bpe_try_add(t, w, i - 1, i);
    tok_bigram b;
    while (!w->heap.err && tok_heap_pop(&w->heap, &b) == 0) {
        tok_sym *l = &w->sym[b.left], *r = &w->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = b.left;
        bpe_try_add(t, w, l->prev, b.left);
        bpe_try_add(t, w, b.left, l->next);
    }
    if (w->heap.err) return CB_ENOMEM;
    for (int32_t i = 0; i != -1; i = w->sym[i].next) {
        const char *p = w->buf + w->sym[i].start;
        int32_t id = tok_find(t, p, w->sym[i].n);
        if (id >= 0) {
            tok_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < w->sym[i].n; j++) {
            int32_t bid = tok_find(t, p + j, 1);
            if (bid >= 0) tok_push(out, bid);
        }
    }
    return out->err;
}

/* Applies one regex to every segment of in (offsets into text), writing the
 * matches and the gaps between them to out. */
static int re_split(const pcre2_code *re, pcre2_match_data *md, const char *text, const seg_vec *in,
                    seg_vec *out, cb_err *err) {
    out->n = 0;
    for (size_t k = 0; k < in->n; k++) {
        const char *sub = text + in->v[k].off;
        size_t len = in->v[k].len, pos = 0, last = 0;
        while (pos < len) {
            int rc = pcre2_match(re, (PCRE2_SPTR)sub, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
                rc = pcre2_match(re, (PCRE2_SPTR)sub, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                                 NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[160];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return cb_err_set(err, CB_ERUNTIME, "tokenizer: pre-tokenizer regex failed: %s",
                                  (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me <= ms) { /* empty match: step over one character */
                if (ms >= len) break;
                pos = ms + tok_utf8_len((unsigned char)sub[ms]);
                continue;
            }
            if (ms > last && seg_push(out, in->v[k].off + (uint32_t)last, (uint32_t)(ms - last)))
                goto nomem;
            if (seg_push(out, in->v[k].off + (uint32_t)ms, (uint32_t)(me - ms))) goto nomem;
            last = pos = me;
        }
        if (last < len && seg_push(out, in->v[k].off + (uint32_t)last, (uint32_t)(len - last)))
            goto nomem;
    }
    return 0;
nomem:
    return cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory pre-tokenizing");
}

/* Pre-tokenizes the valid UTF-8 run text[off, off+len) and encodes its words. */
static int encode_run(const cb_tokenizer *t, const char *text, uint32_t off, uint32_t len,
                      pcre2_match_data *md, seg_vec *a, seg_vec *b, bpe_scratch *w, tok_vec *out,
                      cb_err *err) {
    a->n = 0;
    if (seg_push(a, off, len)) return cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory");
    for (int i = 0; i < t->n_re; i++) {
        int rc = re_split((const pcre2_code *)t->re[i], md, text, a, b, err);
        if (rc) return rc;
        seg_vec tmp = *a;
        *a = *b;
        *b = tmp;
    }
    for (size_t k = 0; k < a->n; k++)
        if (bpe_word(t, text + a->v[k].off, a->v[k].len, w, out))
            return cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory encoding");
    return 0;
}

int tok_bpe_encode(const cb_tokenizer *t, const char *s, size_t n, tok_vec *out, cb_err *err) {
    int rc = 0;
    seg_vec a = {0}, b = {0};
    bpe_scratch w = {0};
    pcre2_match_data *md = pcre2_match_data_create(16, NULL);
    if (!md) {
        rc = cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory");
        goto out;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && !rc) {
        size_t start = i;
        for (;;) {
            if (i >= n) break;
            size_t l = tok_utf8_valid(u + i, n - i);
            if (l == 0) break;
            i += l;
        }
        if (i > start) rc = encode_run(t, s, (uint32_t)start, (uint32_t)(i - start), md, &a, &b, &w, out, err);
        if (!rc && i < n) { /* an invalid byte is a word of its own */
            if (bpe_word(t, s + i, 1, &w, out))
                rc = cb_err_set(err, CB_ENOMEM, "tokenizer: out of memory encoding");
            i++;
        }
    }
out:
    pcre2_match_data_free(md);
    free(w.heap.v);
    free(w.sym);
    free(w.buf);
    free(b.v);
    free(a.v);
    return rc;
}
