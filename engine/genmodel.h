/* engine/genmodel.h — writes random-weight llama-architecture GGUF models.
 *
 * Used for performance work and engine tests where a real model's weights do
 * not matter but its shapes, dtypes and file layout do (`capbench gen-model`).
 * Weights are N(0, 0.02) (Box-Muller over xoshiro256** seeded through
 * splitmix64), norm weights are 1.0. Output is a byte-for-byte function of
 * (shape, type, seed, vocab source) on a given libm.
 *
 * Shapes (all llama arch, rope freq base 10000, rms eps 1e-5, vocab 32000
 * unless a vocab file with another token count is used):
 *   "tinyllama-1.1b": n_embd 2048, n_layer 22, n_head 32, n_head_kv 4, n_ff 5632, ctx 2048
 *   "tiny":           n_embd 64,   n_layer 2,  n_head 4,  n_head_kv 2, n_ff 160,  ctx 512
 *
 * Tensors (ne = [K, N], N rows of K), names as llama.cpp's llama arch:
 *   token_embd.weight [n_embd, vocab]            matrix type
 *   blk.L.attn_norm.weight [n_embd]              F32
 *   blk.L.attn_q.weight [n_embd, n_embd]         matrix type
 *   blk.L.attn_k.weight, attn_v.weight [n_embd, n_head_kv*head_dim]
 *   blk.L.attn_output.weight [n_embd, n_embd]
 *   blk.L.ffn_norm.weight [n_embd]               F32
 *   blk.L.ffn_gate.weight, ffn_up.weight [n_embd, n_ff]
 *   blk.L.ffn_down.weight [n_ff, n_embd]
 *   output_norm.weight [n_embd]                  F32
 *   output.weight [n_embd, vocab]                matrix type (not tied)
 * Metadata: general.architecture "llama", general.name, general.file_type
 * (0 F32, 1 F16, 7 Q8_0), llama.* hyperparameters (context_length,
 * embedding_length, block_count, feed_forward_length, attention.head_count,
 * attention.head_count_kv, rope.dimension_count, rope.freq_base,
 * attention.layer_norm_rms_epsilon, vocab_size), capbench.genmodel.seed, and
 * every "tokenizer." key of the vocab source.
 */
#ifndef CB_GENMODEL_H
#define CB_GENMODEL_H

#include "common/err.h"

#include <stdint.h>

typedef struct cb_genmodel_opts {
    /* "tinyllama-1.1b" or "tiny". Required. */
    const char *shape;
    /* Matrix dtype: "f32", "f16" or "q8_0" (norms are always F32). Required. */
    const char *type;
    /* RNG seed; every value (including 0) gives a distinct, reproducible model. */
    uint64_t seed;
    /* Vocab source: a GGUF whose "tokenizer." keys are copied (e.g. a llama.cpp
     * ggml-vocab-*.gguf); its token count becomes the vocab size. NULL means the
     * default, $CAPBENCH_SHARED_DIR/reference/tokenizer/ggml-vocab-llama-spm.gguf
     * when that file exists, otherwise a synthesized SPM vocab (see synth_vocab). */
    const char *vocab_path;
    /* Nonzero: ignore vocab_path and the default and synthesize a 32000-token
     * SPM vocab: <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF> (type 6),
     * then "▁" and lowercase pieces with and without "▁" by increasing length,
     * scores decreasing; bos 1, eos 2, unk 0. Output then does not depend on
     * the environment. */
    int synth_vocab;
    /* Output path (written via a temporary file and renamed). Required. */
    const char *out_path;
    /* Worker threads for generating values; 0 = one per online CPU. The output
     * does not depend on it. */
    int n_threads;
} cb_genmodel_opts;

/* Generates the model described by o and writes it to o->out_path, streaming
 * one tensor at a time (peak memory ~ the largest tensor). Errors: CB_EUSAGE
 * (unknown shape/type, missing path), CB_EFORMAT (vocab file unreadable as GGUF
 * or without tokenizer.ggml.tokens), CB_EIO, CB_ENOMEM. */
int cb_genmodel_write(const cb_genmodel_opts *o, cb_err *err);

#endif
