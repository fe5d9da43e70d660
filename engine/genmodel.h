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
 *   "tiny256":        n_embd 256,  n_layer 8,  n_head 4,  n_head_kv 2, n_ff 512,  ctx 512
 *                     (every row a multiple of 256, so K-quant types need no fallback)
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
 * Matrix types (--type): f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k,
 * q6_k put every matrix in that type; q4_k_m is llama.cpp's Q4_K_M recipe:
 * output.weight Q6_K; attn_v and ffn_down Q6_K on the "more bits" layers
 * (the first and last eighth, and every third layer in between: l < n/8,
 * l >= 7n/8 or (l - n/8) % 3 == 2; for 22 layers: 0, 1, 4, 7, 10, 13, 16, 19,
 * 20, 21); every other matrix, token_embd included, Q4_K. A K-quant matrix
 * whose rows are not a multiple of 256 (the tiny shape) falls back as
 * llama-quantize does: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0. Values are
 * quantized with cb_quantize_row (round to nearest, see kernels/cpu/quant.c).
 * Metadata: general.architecture "llama", general.name, general.file_type
 * (llama.cpp's ftype: 0 F32, 1 F16, 7 Q8_0, 2 Q4_0, 3 Q4_1, 8 Q5_0, 9 Q5_1,
 * 14 q4_k (Q4_K_S), 15 Q4_K_M, 16 q5_k (Q5_K_S), 18 Q6_K), llama.* hyperparameters (context_length,
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
    /* "tinyllama-1.1b", "tiny" or "tiny256". Required. */
    const char *shape;
    /* Matrix dtype or mixture (see above; norms are always F32). Required. */
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
