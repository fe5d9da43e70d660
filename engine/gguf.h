/* engine/gguf.h — GGUF v2/v3 reader (memory-mapped, validated) and writer.
 *
 * File layout (all little-endian):
 *   u32 magic "GGUF" (0x46554747) | u32 version (2 or 3)
 *   u64 n_tensors | u64 n_kv
 *   n_kv x { string key | u32 value_type | value }
 *   n_tensors x { string name | u32 n_dims (<= 4) | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   padding to `general.alignment` (u32 metadata, default 32, a power of two)
 *   tensor data: each tensor at data_start + offset, offset a multiple of the alignment
 * string = u64 length + bytes (no NUL). Value types:
 *   0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string,
 *   9 array (u32 elem_type, u64 count, elements), 10 u64, 11 i64, 12 f64.
 * ne[0] is the fastest-varying dimension: a matrix with ne = [K, N] is N rows of K.
 *
 * The reader checks every count, length, offset and size with overflow-safe
 * arithmetic before use and reports the byte offset of the first problem.
 * Tensor data regions must not overlap (sorted by offset, each ends at or
 * before the next starts); a file where two do is refused with both byte
 * ranges.
 * It does not interpret metadata (the model and tokenizer do that).
 */
#ifndef CB_GGUF_H
#define CB_GGUF_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* ggml tensor type ids used by GGUF; the reader accepts these eleven (block
 * layouts in kernels/kernels.h; ne[0] must be a multiple of the block size:
 * 32 for Q4_0..Q8_0, 256 for the K-quants) and refuses every other id by
 * name. */
enum {
    CB_GGML_F32 = 0, CB_GGML_F16 = 1, CB_GGML_Q4_0 = 2, CB_GGML_Q4_1 = 3, CB_GGML_Q5_0 = 6,
    CB_GGML_Q5_1 = 7, CB_GGML_Q8_0 = 8, CB_GGML_Q4_K = 12, CB_GGML_Q5_K = 13, CB_GGML_Q6_K = 14,
    CB_GGML_BF16 = 30
};
#define CB_GGUF_SUPPORTED_TYPES "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K"

enum {
    CB_GGUF_U8 = 0, CB_GGUF_I8 = 1, CB_GGUF_U16 = 2, CB_GGUF_I16 = 3, CB_GGUF_U32 = 4,
    CB_GGUF_I32 = 5, CB_GGUF_F32 = 6, CB_GGUF_BOOL = 7, CB_GGUF_STRING = 8, CB_GGUF_ARRAY = 9,
    CB_GGUF_U64 = 10, CB_GGUF_I64 = 11, CB_GGUF_F64 = 12
};

typedef struct cb_gguf cb_gguf;

typedef struct cb_gguf_str {
    const char *ptr; /* points into the mapping; NOT NUL-terminated */
    uint64_t len;
} cb_gguf_str;

typedef struct cb_gguf_tensor {
    char *name;        /* NUL-terminated copy, owned by the cb_gguf */
    uint32_t n_dims;
    uint64_t ne[4];    /* unused dims are 1 */
    uint32_t type;     /* CB_GGML_* */
    uint64_t offset;   /* relative to the data section */
    uint64_t n_elems;
    uint64_t n_bytes;
    const void *data;  /* into the mapping */
} cb_gguf_tensor;

/* Opens and validates path (mmap). On success *out owns the mapping. Errors:
 * CB_EIO (open/mmap), CB_EFORMAT (message names the byte offset). */
int cb_gguf_open(const char *path, cb_gguf **out, cb_err *err);
/* Same on a caller-owned buffer that must outlive the handle (fuzzing, tests). */
int cb_gguf_open_mem(const void *buf, size_t len, cb_gguf **out, cb_err *err);
void cb_gguf_free(cb_gguf *g);

uint32_t cb_gguf_version(const cb_gguf *g);
uint32_t cb_gguf_alignment(const cb_gguf *g);
const char *cb_gguf_path(const cb_gguf *g); /* "<memory>" for open_mem */
uint64_t cb_gguf_file_size(const cb_gguf *g);
/* Byte offset of the tensor data section (header + padding), for diagnostics. */
uint64_t cb_gguf_data_offset(const cb_gguf *g);

/* Metadata lookups: return 0 and the value when key exists with a compatible
 * type (integers widen; u32/i32/u64/i64/u16/... all read as int64 or uint64),
 * otherwise nonzero (1 = absent, 2 = wrong type) and leave *out untouched. */
int64_t cb_gguf_find_key(const cb_gguf *g, const char *key); /* index or -1 */
int cb_gguf_get_u64(const cb_gguf *g, const char *key, uint64_t *out);
int cb_gguf_get_i64(const cb_gguf *g, const char *key, int64_t *out);
int cb_gguf_get_f32(const cb_gguf *g, const char *key, float *out); /* f32 or f64 */
int cb_gguf_get_bool(const cb_gguf *g, const char *key, int *out);
int cb_gguf_get_str(const cb_gguf *g, const char *key, cb_gguf_str *out);
/* Arrays: element type and count; elements read by index (same return codes;
 * an index >= count returns 1). arr_f32 reads f32/f64 elements, arr_i64 any
 * integer element type. Strings point into the file, as for get_str. */
int cb_gguf_get_arr(const cb_gguf *g, const char *key, uint32_t *elem_type, uint64_t *count);
int cb_gguf_arr_str(const cb_gguf *g, const char *key, uint64_t i, cb_gguf_str *out);
int cb_gguf_arr_f32(const cb_gguf *g, const char *key, uint64_t i, float *out);
int cb_gguf_arr_i64(const cb_gguf *g, const char *key, uint64_t i, int64_t *out);

uint64_t cb_gguf_n_kv(const cb_gguf *g);
const char *cb_gguf_key(const cb_gguf *g, uint64_t i);     /* NUL-terminated copy */
uint32_t cb_gguf_kv_type(const cb_gguf *g, uint64_t i);

uint64_t cb_gguf_n_tensors(const cb_gguf *g);
const cb_gguf_tensor *cb_gguf_tensor_at(const cb_gguf *g, uint64_t i);
const cb_gguf_tensor *cb_gguf_find_tensor(const cb_gguf *g, const char *name); /* NULL if absent */

const char *cb_ggml_type_name(uint32_t type); /* "F32", "Q4_K", ... ; "?" if unknown */

/* ---- writer ---------------------------------------------------------------
 * Builds a GGUF without holding tensor data for large models: metadata and
 * tensor infos are collected, then cb_gguf_writer_write streams header +
 * padding + data to "<path>.tmp.<pid>" and renames it over path (so a failed
 * write never leaves a half file at path). Tensor data is copied at add time
 * (small test files) or produced by a fill callback at write time (generated
 * models). Tensors are laid out in add order, each at an offset that is a
 * multiple of the alignment; every tensor's data is followed by zero padding.
 *
 * The set/add functions return 0 or an error code (CB_EUSAGE: empty or
 * duplicate key/name, bad shape or ne[0] not a multiple of the type's block;
 * CB_EUNSUP: a tensor type outside CB_GGUF_SUPPORTED_TYPES; CB_ENOMEM). The first such error is remembered and
 * cb_gguf_writer_write then fails with its message, so callers may check only
 * the final write. Keys and strings are copied. */
typedef struct cb_gguf_writer cb_gguf_writer;
/* version 2 or 3; alignment a nonzero power of two. An alignment other than 32
 * is recorded automatically as the u32 key general.alignment. Errors: CB_EUSAGE. */
int cb_gguf_writer_new(uint32_t version, uint32_t alignment, cb_gguf_writer **out, cb_err *err);
void cb_gguf_writer_free(cb_gguf_writer *w); /* NULL is a no-op */
int cb_gguf_writer_set_u8(cb_gguf_writer *w, const char *key, uint8_t v);
int cb_gguf_writer_set_i8(cb_gguf_writer *w, const char *key, int8_t v);
int cb_gguf_writer_set_u16(cb_gguf_writer *w, const char *key, uint16_t v);
int cb_gguf_writer_set_i16(cb_gguf_writer *w, const char *key, int16_t v);
int cb_gguf_writer_set_u32(cb_gguf_writer *w, const char *key, uint32_t v);
int cb_gguf_writer_set_i32(cb_gguf_writer *w, const char *key, int32_t v);
int cb_gguf_writer_set_u64(cb_gguf_writer *w, const char *key, uint64_t v);
int cb_gguf_writer_set_i64(cb_gguf_writer *w, const char *key, int64_t v);
int cb_gguf_writer_set_f32(cb_gguf_writer *w, const char *key, float v);
int cb_gguf_writer_set_f64(cb_gguf_writer *w, const char *key, double v);
int cb_gguf_writer_set_bool(cb_gguf_writer *w, const char *key, int v);
int cb_gguf_writer_set_str(cb_gguf_writer *w, const char *key, const char *v);
/* Array of strings / f32 / i32 (copied). */
int cb_gguf_writer_set_arr_str(cb_gguf_writer *w, const char *key, const char *const *v, uint64_t n);
int cb_gguf_writer_set_arr_f32(cb_gguf_writer *w, const char *key, const float *v, uint64_t n);
int cb_gguf_writer_set_arr_i32(cb_gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
/* Array of any scalar value type elem_type (CB_GGUF_U8..I64/F64/BOOL, not
 * STRING or ARRAY); v holds n little-endian elements of that type. */
int cb_gguf_writer_set_arr(cb_gguf_writer *w, const char *key, uint32_t elem_type, const void *v, uint64_t n);
/* Copies every metadata key of src whose name starts with prefix (e.g. "tokenizer."),
 * value bytes unchanged. src may be freed afterwards. */
int cb_gguf_writer_copy_kv(cb_gguf_writer *w, const cb_gguf *src, const char *prefix);
/* Tensor with data copied now (data may be NULL = zeros). ne has n_dims entries. */
int cb_gguf_writer_add_tensor(cb_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                              const uint64_t *ne, const void *data);
/* Tensor whose bytes are produced at write time: fill(ctx, tensor_index, buf, n_bytes)
 * must write the whole tensor (n_bytes, laid out as GGUF stores it) into buf and
 * return 0; a nonzero return aborts the write (a positive CB_E* code is passed on,
 * otherwise CB_ERUNTIME). tensor_index counts every tensor added so far, in add
 * order. buf is one writer-owned buffer sized for the largest callback tensor. */
typedef int (*cb_gguf_fill_fn)(void *ctx, uint64_t tensor_index, void *buf, uint64_t n_bytes);
int cb_gguf_writer_add_tensor_fn(cb_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                 const uint64_t *ne, cb_gguf_fill_fn fill, void *ctx);
/* Writes the file. Errors: the first set/add error, CB_EIO, CB_ENOMEM, or the
 * fill callback's code. The writer may be written again or freed afterwards. */
int cb_gguf_writer_write(cb_gguf_writer *w, const char *path, cb_err *err);

#endif
