/* engine/tokenizer.h — text <-> token ids for the local engine.
 *
 * Two vocabulary types, configured from GGUF metadata (or from plain arrays):
 *   - "llama": SentencePiece BPE (SPM). Spaces become U+2581 "▁", a dummy
 *     space is prefixed to the text, adjacent pieces are merged by the score of
 *     the merged piece (highest first, leftmost on ties), and characters that
 *     end up outside the vocabulary are spelled as byte tokens <0xXX>.
 *   - "gpt2": byte-level BPE. The text is split by the pre-tokenizer regexes
 *     that tokenizer.ggml.pre names, each byte is mapped to a printable code
 *     point (the GPT-2 byte<->unicode table), and symbol pairs are merged by
 *     the rank of "a b" in tokenizer.ggml.merges (lowest rank first).
 * Both follow llama.cpp's observable behaviour (build 4748), which for the
 * vectors in shared/reference/tokenizer equals the Hugging Face tokenizers.
 *
 * GGUF keys read (all under "tokenizer.ggml."):
 *   model (str, required: "llama" | "gpt2"), pre (str; gpt2 only, absent =
 *   "default"), tokens (str[], required), scores (f32[], SPM), token_type
 *   (i32[]: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte;
 *   absent = all normal), merges (str[], required for gpt2),
 *   bos_token_id / eos_token_id / unknown_token_id / eot_token_id /
 *   eom_token_id (ids out of range mean "none"), add_bos_token,
 *   add_eos_token, add_space_prefix (bools).
 *
 * Special tokens: the texts of control (3) and unknown (2) tokens are matched
 * in the raw text when parse_special is on; user-defined (4) token texts are
 * always matched (as llama.cpp and HF tokenizers do). Longer texts win; the
 * text between them is tokenized normally. For SPM the dummy space is added
 * to the first text fragment and to every fragment that follows a special
 * token ("a</s>b" -> ▁a </s> ▁b).
 *
 * Deliberate differences from llama.cpp, both on invalid UTF-8 only: SPM
 * makes each byte that starts no valid sequence a symbol of its own (llama.cpp
 * groups by the lead byte's length and can swallow a following space), and
 * BPE encodes such bytes as byte-level words (llama.cpp substitutes U+FFFD).
 * Either way encoding stays lossless. SPM cannot tell a literal U+2581 in
 * the text from an escaped space, so it decodes to ' ' (as in llama.cpp).
 *
 * Not here: WordPiece (bert), Unigram (t5) and RWKV vocabularies (rejected with
 * CB_EUNSUP), Unicode normalisation (none of the supported types uses it), and
 * the HF "clean up tokenization spaces" rewrite on decode (decode is exact).
 *
 * Thread safety: a tokenizer is immutable after construction; encode, piece
 * and decode may run concurrently on one handle.
 */
#ifndef CB_TOKENIZER_H
#define CB_TOKENIZER_H

#include "common/err.h"
#include "engine/gguf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cb_tokenizer cb_tokenizer;

enum { CB_TOK_SPM = 1, CB_TOK_BPE = 2 };

/* tokenizer.ggml.token_type values. */
enum {
    CB_TOKTYPE_UNDEFINED = 0, CB_TOKTYPE_NORMAL = 1, CB_TOKTYPE_UNKNOWN = 2,
    CB_TOKTYPE_CONTROL = 3, CB_TOKTYPE_USER_DEFINED = 4, CB_TOKTYPE_UNUSED = 5,
    CB_TOKTYPE_BYTE = 6
};

/* A vocabulary given as plain arrays (tests, fuzzing, converters). All
 * pointers are borrowed for the duration of cb_tokenizer_from_spec only; the
 * tokenizer copies what it keeps. */
typedef struct cb_tokenizer_spec {
    const char *model;              /* "llama" or "gpt2" */
    const char *pre;                /* gpt2 pre-tokenizer name; NULL = "default" */
    int32_t n_vocab;
    const char *const *tokens;      /* n_vocab token texts */
    const size_t *token_lens;       /* byte lengths; NULL = strlen of each */
    const float *scores;            /* n_vocab; NULL = all 0 */
    const int32_t *types;           /* n_vocab CB_TOKTYPE_*; NULL = all normal */
    const char *const *merges;      /* gpt2: "left right", rank = index */
    const size_t *merge_lens;       /* NULL = strlen of each */
    int64_t n_merges;
    int32_t bos, eos, unk, eot, eom; /* -1 = none / default (see below) */
    int add_bos, add_eos, add_space_prefix; /* -1 = default for the type */
    /* Phi-3 vocabularies: every special token except <unk>, <s> and
     * <|endoftext|> (so </s>, <|end|>, <|user|>, ...) has the rstrip
     * attribute: whitespace right after it in the text is dropped when it is
     * matched (as Phi-3's tokenizer.json declares and llama.cpp applies).
     * cb_tokenizer_from_gguf sets it for general.architecture "phi3" or a
     * general.name containing "phi3" / "phi-3" (any case). 0 = off. */
    int phi3_rstrip;
} cb_tokenizer_spec;

/* Fills spec with "absent" markers: ids -1, flags -1, everything else 0. */
void cb_tokenizer_spec_init(cb_tokenizer_spec *spec);

/* Builds a tokenizer from arrays. Defaults: SPM bos 1, eos 2, unk 0 when those
 * ids are -1 and exist; BPE has no default ids. add_bos defaults to 1 for SPM
 * and 0 for BPE, add_eos to 0, add_space_prefix to 1 (SPM only; BPE never
 * prefixes). Errors: CB_EFORMAT (empty vocab, malformed merge, id length
 * overflow), CB_EUNSUP (other model types, unknown pre-tokenizer),
 * CB_ENOMEM. On success *out is owned by the caller (cb_tokenizer_free). */
int cb_tokenizer_from_spec(const cb_tokenizer_spec *spec, cb_tokenizer **out, cb_err *err);

/* Builds a tokenizer from the tokenizer.ggml.* keys of g (see above). The
 * tokenizer copies what it needs, so g may be freed afterwards. Errors as
 * cb_tokenizer_from_spec, plus CB_EFORMAT for missing/mistyped keys. */
int cb_tokenizer_from_gguf(const cb_gguf *g, cb_tokenizer **out, cb_err *err);

void cb_tokenizer_free(cb_tokenizer *t); /* NULL is a no-op */

/* Encodes len bytes of text (any bytes: invalid UTF-8 is encoded losslessly,
 * as byte tokens for SPM and as byte-level symbols for BPE; NUL bytes are
 * ordinary bytes). add_bos != 0 prepends the BOS id (if the vocab has one);
 * callers pass cb_tokenizer_add_bos(t) to follow the model. EOS is never
 * appended. parse_special != 0 turns control/unknown token texts into their
 * ids (user-defined tokens are always matched).
 * Writes at most cap ids (ids may be NULL when cap is 0, to count); *n_out receives the number of ids the text needs
 * even when that exceeds cap, in which case CB_ENOMEM is returned ("needs N
 * tokens, buffer holds cap") and ids holds the first cap of them. Errors:
 * CB_ENOMEM (cap too small, allocation, text over 1 GiB). */
int cb_tokenizer_encode(const cb_tokenizer *t, const char *text, size_t len, int add_bos,
                        int parse_special, int32_t *ids, int cap, int *n_out, cb_err *err);

/* Same with a growing output: *ids_out is malloc'd (caller frees; NULL on
 * error) and *n_out set. Errors: CB_ENOMEM. */
int cb_tokenizer_encode_alloc(const cb_tokenizer *t, const char *text, size_t len, int add_bos,
                              int parse_special, int32_t **ids_out, int *n_out, cb_err *err);

/* The bytes one token stands for, as a model prints it: SPM "▁" -> ' ',
 * <0xXX> -> that byte; BPE byte-level symbols mapped back to bytes;
 * control/unknown/user-defined tokens as their text ("</s>"); unused tokens
 * as nothing. Copies min(len, cap - 1) bytes and a NUL (when cap > 0) and
 * returns the full length (like snprintf; a piece may contain NUL bytes, so
 * use the length), or -1 for an id outside [0, n_vocab). Generated text is
 * printed piece by piece as is: " upon" keeps its space. */
int cb_tokenizer_piece(const cb_tokenizer *t, int32_t id, char *buf, size_t cap);

/* Detokenizes n ids (llama_detokenize with remove_special = false,
 * unparse_special = false): control and unknown tokens print nothing, other
 * pieces are concatenated; for SPM with add_space_prefix one leading space is
 * stripped from the FIRST token's piece (so decode(encode(x, no BOS)) == x;
 * when ids[0] is BOS, as in llama.cpp, nothing is stripped and the dummy space
 * of the next token stays). Copies min(len, cap - 1) bytes plus NUL when cap
 * > 0 and returns the full length, or -1 when an id is out of range. */
int64_t cb_tokenizer_decode(const cb_tokenizer *t, const int32_t *ids, size_t n, char *buf,
                            size_t cap);

/* Accessors. Ids are -1 when the vocab has none. */
int cb_tokenizer_type(const cb_tokenizer *t);       /* CB_TOK_SPM or CB_TOK_BPE */
const char *cb_tokenizer_pre(const cb_tokenizer *t); /* pre-tokenizer name; "" for SPM */
int32_t cb_tokenizer_n_vocab(const cb_tokenizer *t);
int32_t cb_tokenizer_bos(const cb_tokenizer *t);
int32_t cb_tokenizer_eos(const cb_tokenizer *t);
int32_t cb_tokenizer_unk(const cb_tokenizer *t);
int32_t cb_tokenizer_eot(const cb_tokenizer *t);    /* explicit key or detected text */
int cb_tokenizer_add_bos(const cb_tokenizer *t);    /* what the model asks for */
int cb_tokenizer_add_eos(const cb_tokenizer *t);
int cb_tokenizer_add_space_prefix(const cb_tokenizer *t);
/* End of generation: EOS, EOT, EOM and the tokens whose text is one of
 * <|eot_id|> <|im_end|> <|end|> <end_of_turn> <|endoftext|> <|eom_id|> <EOT>
 * _<EOT> <|end_of_text|> <end_of_utterance> <｜end▁of▁sentence｜>. */
int cb_tokenizer_is_eog(const cb_tokenizer *t, int32_t id);
/* Token type after load-time fixes (EOG-looking tokens become CONTROL, as in
 * llama.cpp); -1 for an out-of-range id. */
int cb_tokenizer_token_type(const cb_tokenizer *t, int32_t id);
/* The token's vocabulary text (SPM "▁Once", BPE "Ġupon"), not NUL-terminated;
 * *len gets its length. Valid while t lives; NULL for an out-of-range id. */
const char *cb_tokenizer_token_text(const cb_tokenizer *t, int32_t id, size_t *len);
/* The id whose vocabulary text is exactly text[0..len), or -1. When the vocab
 * holds duplicates the highest id wins (as in llama.cpp). */
int32_t cb_tokenizer_find(const cb_tokenizer *t, const char *text, size_t len);

#endif
