/* engine/gguf.c — GGUF v2/v3 reader (mmap, validated) and streaming writer.
 *
 * The reader maps the file read-only and walks it once, checking every count,
 * length, offset and size against the bytes that remain before anything is
 * allocated or dereferenced; the first problem is reported with its byte
 * offset. After a successful open every accessor is safe without further
 * checks: string values are pointers into the mapping, keys and tensor names
 * are NUL-terminated copies, arrays of strings get an offset table so element
 * i is O(1). Tensor types are limited to CB_GGUF_SUPPORTED_TYPES (sizes
 * from the kernels' block table); anything else is refused by name. The reader does not interpret metadata.
 *
 * The writer collects metadata (serialized at set time) and tensor infos, then
 * writes header, padding and tensor data in one pass to "<path>.tmp.<pid>" and
 * renames it over path. Tensor bytes either come from a copy made at add time
 * or from a fill callback called at write time into one reused buffer sized
 * for the largest callback tensor, so a multi-GB model never sits in memory.
 * The format itself is written out in gguf.h.
 */
#include "engine/gguf.h"

#include "kernels/kernels.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian fields with memcpy; a big-endian host needs byte swaps"
#endif

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as little-endian u32 */
#define GGUF_DEFAULT_ALIGN 32u
#define GGUF_MAX_STR 65535u    /* longest key or tensor name accepted */

/* Minimum encoded sizes, used to bound counts by the bytes that remain. */
#define KV_MIN_BYTES 13u     /* u64 key len + u32 type + 1-byte value */
#define TINFO_MIN_BYTES 32u  /* u64 name len + u32 n_dims + u64 ne + u32 type + u64 offset */

typedef struct gguf_kv {
    char *key;
    uint32_t type;       /* CB_GGUF_* */
    uint64_t val_off;    /* scalar/string: start of value; array: first element */
    uint32_t elem_type;  /* arrays only */
    uint64_t count;      /* arrays only */
    uint64_t *str_offs;  /* arrays of strings: offset of each element's u64 length */
} gguf_kv;

struct cb_gguf {
    const uint8_t *base;
    uint64_t size;
    void *map;           /* non-NULL when we own an mmap */
    char *path;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_start;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    cb_gguf_tensor *tensors;
    /* open-addressing hash tables of index+1 (0 = empty), size a power of two */
    uint64_t *key_ht;
    uint64_t key_ht_size;
    uint64_t *tensor_ht;
    uint64_t tensor_ht_size;
};

/* ---- type tables ---------------------------------------------------------- */

static const char *const ggml_type_names[40] = {
    "F32",     "F16",     "Q4_0",     "Q4_1",       "Q4_2",       "Q4_3",       "Q5_0",    "Q5_1",
    "Q8_0",    "Q8_1",    "Q2_K",     "Q3_K",       "Q4_K",       "Q5_K",       "Q6_K",    "Q8_K",
    "IQ2_XXS", "IQ2_XS",  "IQ3_XXS",  "IQ1_S",      "IQ4_NL",     "IQ3_S",      "IQ2_S",   "IQ4_XS",
    "I8",      "I16",     "I32",      "I64",        "F64",        "IQ1_M",      "BF16",    "Q4_0_4_4",
    "Q4_0_4_8", "Q4_0_8_8", "TQ1_0",  "TQ2_0",      "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4",
};

const char *cb_ggml_type_name(uint32_t type) {
    if (type < sizeof ggml_type_names / sizeof ggml_type_names[0]) return ggml_type_names[type];
    return "?";
}

static const char *value_type_name(uint32_t t) {
    static const char *const n[] = {"u8",   "i8",  "u16",    "i16",   "u32", "i32", "f32",
                                    "bool", "string", "array", "u64", "i64", "f64"};
    return t < sizeof n / sizeof n[0] ? n[t] : "?";
}

/* Size of one scalar of value type t; 0 for string/array/unknown. */
static uint64_t scalar_size(uint32_t t) {
    switch (t) {
    case CB_GGUF_U8: case CB_GGUF_I8: case CB_GGUF_BOOL: return 1;
    case CB_GGUF_U16: case CB_GGUF_I16: return 2;
    case CB_GGUF_U32: case CB_GGUF_I32: case CB_GGUF_F32: return 4;
    case CB_GGUF_U64: case CB_GGUF_I64: case CB_GGUF_F64: return 8;
    default: return 0;
    }
}

static int is_int_type(uint32_t t) {
    return t <= CB_GGUF_I32 || t == CB_GGUF_U64 || t == CB_GGUF_I64;
}

static int supported_type(uint32_t t) {
    switch (t) {
    case CB_GGML_F32: case CB_GGML_F16: case CB_GGML_BF16: case CB_GGML_Q8_0: case CB_GGML_Q4_0:
    case CB_GGML_Q4_1: case CB_GGML_Q5_0: case CB_GGML_Q5_1: case CB_GGML_Q4_K: case CB_GGML_Q5_K:
    case CB_GGML_Q6_K: return 1;
    default: return 0;
    }
}

/* Bytes of n elements of a supported tensor type (n a multiple of its block
 * size, checked by the caller); -1 on overflow or a bad type. */
static int tensor_bytes(uint32_t type, uint64_t n, uint64_t *out) {
    if (!supported_type(type)) return -1;
    uint64_t be = (uint64_t)cb_type_block_elems(type);
    if (n % be) return -1;
    return __builtin_mul_overflow(n / be, (uint64_t)cb_type_block_bytes(type), out) ? -1 : 0;
}

/* ---- hashing -------------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Inserts index idx (name names[idx]) into ht; returns the index of an equal
 * name already present, or -1 after inserting. */
static int64_t ht_insert(uint64_t *ht, uint64_t size, const char *name, uint64_t idx,
                         const char *(*name_of)(const void *, uint64_t), const void *ctx) {
    uint64_t m = size - 1, h = hash_str(name) & m;
    for (;;) {
        if (!ht[h]) {
            ht[h] = idx + 1;
            return -1;
        }
        if (!strcmp(name_of(ctx, ht[h] - 1), name)) return (int64_t)(ht[h] - 1);
        h = (h + 1) & m;
    }
}

static int64_t ht_find(const uint64_t *ht, uint64_t size, const char *name,
                       const char *(*name_of)(const void *, uint64_t), const void *ctx) {
    if (!ht || !size) return -1;
    uint64_t m = size - 1, h = hash_str(name) & m;
    for (;;) {
        if (!ht[h]) return -1;
        if (!strcmp(name_of(ctx, ht[h] - 1), name)) return (int64_t)(ht[h] - 1);
        h = (h + 1) & m;
    }
}

static const char *kv_name_of(const void *ctx, uint64_t i) { return ((const cb_gguf *)ctx)->kv[i].key; }
static const char *tensor_name_of(const void *ctx, uint64_t i) {
    return ((const cb_gguf *)ctx)->tensors[i].name;
}

static uint64_t ht_size_for(uint64_t n) {
    uint64_t s = 8;
    while (s < 2 * n) s <<= 1;
    return s;
}

/* ---- reading -------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    uint64_t len;
    uint64_t pos;
    const char *path;
    cb_err *err;
} rd;

__attribute__((format(printf, 3, 4))) static int fail_at(rd *r, uint64_t off, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cb_err_set(r->err, CB_EFORMAT, "%s: byte %llu: %s", r->path, (unsigned long long)off, msg);
}

static int need(rd *r, uint64_t n, const char *what) {
    if (n > r->len - r->pos)
        return fail_at(r, r->pos, "expected %s (%llu bytes) but the file ends at byte %llu", what,
                       (unsigned long long)n, (unsigned long long)r->len);
    return 0;
}

static int rd_u32(rd *r, uint32_t *v, const char *what) {
    if (need(r, 4, what)) return CB_EFORMAT;
    memcpy(v, r->p + r->pos, 4);
    r->pos += 4;
    return 0;
}

static int rd_u64(rd *r, uint64_t *v, const char *what) {
    if (need(r, 8, what)) return CB_EFORMAT;
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return 0;
}

/* Reads a GGUF string header and skips its bytes; *off = offset of its length. */
static int rd_str(rd *r, uint64_t *len, const char *what) {
    uint64_t at = r->pos;
    if (rd_u64(r, len, what)) return CB_EFORMAT;
    if (*len > r->len - r->pos)
        return fail_at(r, at, "%s length %llu runs past the end of the %llu-byte file", what,
                       (unsigned long long)*len, (unsigned long long)r->len);
    r->pos += *len;
    return 0;
}

/* Reads a key or tensor name into a NUL-terminated copy. */
static int rd_name(rd *r, char **out, const char *what) {
    uint64_t at = r->pos, len;
    if (rd_str(r, &len, what)) return CB_EFORMAT;
    if (len == 0) return fail_at(r, at, "%s is empty", what);
    if (len > GGUF_MAX_STR)
        return fail_at(r, at, "%s length %llu exceeds the limit of %u", what, (unsigned long long)len,
                       GGUF_MAX_STR);
    const uint8_t *s = r->p + r->pos - len;
    if (memchr(s, 0, len)) return fail_at(r, at + 8, "%s contains a NUL byte", what);
    char *c = malloc(len + 1);
    if (!c) return cb_err_set(r->err, CB_ENOMEM, "%s: out of memory reading %s", r->path, what);
    memcpy(c, s, len);
    c[len] = 0;
    *out = c;
    return 0;
}

static int parse_kv(rd *r, gguf_kv *kv) {
    uint32_t t;
    uint64_t type_at = r->pos;
    if (rd_u32(r, &t, "value type")) return CB_EFORMAT;
    kv->type = t;
    kv->val_off = r->pos;
    if (t == CB_GGUF_STRING) {
        uint64_t len;
        return rd_str(r, &len, "string value");
    }
    if (t == CB_GGUF_ARRAY) {
        uint32_t et;
        uint64_t et_at = r->pos, count, count_at;
        if (rd_u32(r, &et, "array element type")) return CB_EFORMAT;
        count_at = r->pos;
        if (rd_u64(r, &count, "array count")) return CB_EFORMAT;
        kv->elem_type = et;
        kv->count = count;
        kv->val_off = r->pos;
        uint64_t remain = r->len - r->pos;
        if (et == CB_GGUF_ARRAY)
            return fail_at(r, et_at, "key '%s': arrays of arrays are not supported", kv->key);
        if (et == CB_GGUF_STRING) {
            if (count > remain / 8)
                return fail_at(r, count_at,
                               "key '%s': array of %llu strings exceeds what the %llu bytes left can hold",
                               kv->key, (unsigned long long)count, (unsigned long long)remain);
            if (count) {
                kv->str_offs = malloc(count * sizeof *kv->str_offs);
                if (!kv->str_offs)
                    return cb_err_set(r->err, CB_ENOMEM, "%s: out of memory for key '%s'", r->path, kv->key);
            }
            for (uint64_t i = 0; i < count; i++) {
                uint64_t len;
                kv->str_offs[i] = r->pos;
                if (rd_str(r, &len, "array string")) return CB_EFORMAT;
            }
            return 0;
        }
        uint64_t es = scalar_size(et);
        if (!es)
            return fail_at(r, et_at, "key '%s': unknown array element type %u (expected 0..12)", kv->key, et);
        if (count > remain / es)
            return fail_at(r, count_at,
                           "key '%s': array of %llu %s elements exceeds what the %llu bytes left can hold",
                           kv->key, (unsigned long long)count, value_type_name(et),
                           (unsigned long long)remain);
        r->pos += count * es;
        return 0;
    }
    uint64_t s = scalar_size(t);
    if (!s) return fail_at(r, type_at, "key '%s': unknown value type %u (expected 0..12)", kv->key, t);
    if (need(r, s, value_type_name(t))) return CB_EFORMAT;
    r->pos += s;
    return 0;
}

static int parse_tensor(rd *r, cb_gguf *g, uint64_t i) {
    cb_gguf_tensor *t = &g->tensors[i];
    uint64_t at = r->pos;
    int rc = rd_name(r, &t->name, "tensor name");
    if (rc) return rc;
    int64_t dup = ht_insert(g->tensor_ht, g->tensor_ht_size, t->name, i, tensor_name_of, g);
    if (dup >= 0) return fail_at(r, at, "duplicate tensor name '%s' (also tensor %lld)", t->name, (long long)dup);
    uint64_t nd_at = r->pos;
    if (rd_u32(r, &t->n_dims, "n_dims")) return CB_EFORMAT;
    if (t->n_dims < 1 || t->n_dims > 4)
        return fail_at(r, nd_at, "tensor '%s': n_dims %u is outside 1..4", t->name, t->n_dims);
    uint64_t n = 1;
    for (uint32_t d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne_at = r->pos;
        if (rd_u64(r, &t->ne[d], "dimension")) return CB_EFORMAT;
        if (t->ne[d] == 0)
            return fail_at(r, ne_at, "tensor '%s': ne[%u] is 0 (expected >= 1)", t->name, d);
        if (t->ne[d] > (uint64_t)INT64_MAX || __builtin_mul_overflow(n, t->ne[d], &n) || n > (uint64_t)INT64_MAX)
            return fail_at(r, ne_at, "tensor '%s': element count overflows at ne[%u] = %llu", t->name, d,
                           (unsigned long long)t->ne[d]);
    }
    t->n_elems = n;
    uint64_t type_at = r->pos;
    if (rd_u32(r, &t->type, "tensor type")) return CB_EFORMAT;
    if (!supported_type(t->type)) {
        if (t->type < 40)
            return fail_at(r, type_at, "tensor '%s': type %s is not supported (supported: " CB_GGUF_SUPPORTED_TYPES ")",
                           t->name, cb_ggml_type_name(t->type));
        return fail_at(r, type_at, "tensor '%s': unknown type id %u (supported: " CB_GGUF_SUPPORTED_TYPES ")",
                       t->name, t->type);
    }
    if (t->ne[0] % (uint64_t)cb_type_block_elems(t->type))
        return fail_at(r, type_at, "tensor '%s': %s needs ne[0] to be a multiple of %lld, got %llu", t->name,
                       cb_ggml_type_name(t->type), (long long)cb_type_block_elems(t->type),
                       (unsigned long long)t->ne[0]);
    if (tensor_bytes(t->type, n, &t->n_bytes))
        return fail_at(r, type_at, "tensor '%s': byte size overflows", t->name);
    uint64_t off_at = r->pos;
    if (rd_u64(r, &t->offset, "tensor offset")) return CB_EFORMAT;
    if (t->offset % g->alignment)
        return fail_at(r, off_at, "tensor '%s': offset %llu is not a multiple of the alignment %u", t->name,
                       (unsigned long long)t->offset, g->alignment);
    return 0;
}

static int cmp_offset(const void *a, const void *b, void *ctx) {
    const cb_gguf_tensor *ts = ctx;
    uint64_t x = ts[*(const uint64_t *)a].offset, y = ts[*(const uint64_t *)b].offset;
    return x < y ? -1 : x > y;
}

/* Refuses tensors whose data regions share a byte (the reference reader does
 * too): sorted by offset, each must end at or before the next one starts.
 * Offsets and sizes were checked against the file already, so the sums fit. */
static int check_overlap(rd *r, const cb_gguf *g) {
    if (g->n_tensors < 2) return 0;
    uint64_t *ix = malloc(g->n_tensors * sizeof *ix);
    if (!ix)
        return cb_err_set(r->err, CB_ENOMEM, "%s: out of memory checking %llu tensors", g->path,
                          (unsigned long long)g->n_tensors);
    for (uint64_t i = 0; i < g->n_tensors; i++) ix[i] = i;
    qsort_r(ix, (size_t)g->n_tensors, sizeof *ix, cmp_offset, g->tensors);
    int rc = 0;
    for (uint64_t i = 0; i + 1 < g->n_tensors; i++) {
        const cb_gguf_tensor *a = &g->tensors[ix[i]], *b = &g->tensors[ix[i + 1]];
        if (a->offset + a->n_bytes <= b->offset) continue;
        uint64_t a0 = g->data_start + a->offset, b0 = g->data_start + b->offset;
        rc = fail_at(r, b0,
                     "tensor data overlaps: '%s' occupies bytes %llu..%llu and '%s' starts at byte %llu "
                     "(data offsets %llu and %llu)",
                     a->name, (unsigned long long)a0, (unsigned long long)(a0 + a->n_bytes - 1), b->name,
                     (unsigned long long)b0, (unsigned long long)a->offset, (unsigned long long)b->offset);
        break;
    }
    free(ix);
    return rc;
}

static int parse(cb_gguf *g, cb_err *err) {
    rd r = {.p = g->base, .len = g->size, .pos = 0, .path = g->path, .err = err};
    uint32_t magic;
    if (g->size == 0) return fail_at(&r, 0, "file is empty (expected the GGUF magic)");
    if (rd_u32(&r, &magic, "GGUF magic")) return CB_EFORMAT;
    if (magic != GGUF_MAGIC)
        return fail_at(&r, 0, "bad magic 0x%08x (expected \"GGUF\", 0x%08x)", magic, GGUF_MAGIC);
    if (rd_u32(&r, &g->version, "version")) return CB_EFORMAT;
    if (g->version == 1)
        return fail_at(&r, 4, "GGUF version 1 is not supported (expected 2 or 3; convert the file again)");
    if (g->version != 2 && g->version != 3)
        return fail_at(&r, 4, "unknown GGUF version %u (expected 2 or 3)", g->version);
    if (rd_u64(&r, &g->n_tensors, "n_tensors")) return CB_EFORMAT;
    if (rd_u64(&r, &g->n_kv, "n_kv")) return CB_EFORMAT;
    uint64_t remain = g->size - r.pos;
    if (g->n_tensors > remain / TINFO_MIN_BYTES)
        return fail_at(&r, 8, "n_tensors %llu exceeds what a %llu-byte file can hold",
                       (unsigned long long)g->n_tensors, (unsigned long long)g->size);
    if (g->n_kv > remain / KV_MIN_BYTES)
        return fail_at(&r, 16, "n_kv %llu exceeds what a %llu-byte file can hold", (unsigned long long)g->n_kv,
                       (unsigned long long)g->size);
    if (g->n_tensors * TINFO_MIN_BYTES + g->n_kv * KV_MIN_BYTES > remain)
        return fail_at(&r, 8, "n_tensors %llu and n_kv %llu exceed what a %llu-byte file can hold",
                       (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv,
                       (unsigned long long)g->size);

    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->key_ht_size = ht_size_for(g->n_kv);
    g->key_ht = calloc(g->key_ht_size, sizeof *g->key_ht);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    g->tensor_ht_size = ht_size_for(g->n_tensors);
    g->tensor_ht = calloc(g->tensor_ht_size, sizeof *g->tensor_ht);
    if (!g->kv || !g->key_ht || !g->tensors || !g->tensor_ht)
        return cb_err_set(err, CB_ENOMEM, "%s: out of memory for %llu keys and %llu tensors", g->path,
                          (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors);

    g->alignment = GGUF_DEFAULT_ALIGN;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        uint64_t at = r.pos;
        int rc = rd_name(&r, &kv->key, "key");
        if (rc) return rc;
        int64_t dup = ht_insert(g->key_ht, g->key_ht_size, kv->key, i, kv_name_of, g);
        if (dup >= 0) return fail_at(&r, at, "duplicate key '%s' (also key %lld)", kv->key, (long long)dup);
        uint64_t type_at = r.pos;
        rc = parse_kv(&r, kv);
        if (rc) return rc;
        if (!strcmp(kv->key, "general.alignment")) {
            uint32_t a;
            if (kv->type != CB_GGUF_U32)
                return fail_at(&r, type_at, "general.alignment has type %s (expected u32)",
                               value_type_name(kv->type));
            memcpy(&a, g->base + kv->val_off, 4);
            if (a == 0 || (a & (a - 1)))
                return fail_at(&r, kv->val_off, "general.alignment %u is not a nonzero power of two", a);
            g->alignment = a;
        }
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        int rc = parse_tensor(&r, g, i);
        if (rc) return rc;
    }
    uint64_t pad = (g->alignment - r.pos % g->alignment) % g->alignment;
    g->data_start = r.pos + pad;
    if (g->data_start > g->size) {
        if (g->n_tensors)
            return fail_at(&r, r.pos, "expected %llu bytes of padding before the tensor data but the file ends at byte %llu",
                           (unsigned long long)pad, (unsigned long long)g->size);
        g->data_start = g->size; /* vocab-only files may omit the trailing padding */
    }
    uint64_t data_len = g->size - g->data_start;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        cb_gguf_tensor *t = &g->tensors[i];
        if (t->offset > data_len || t->n_bytes > data_len - t->offset)
            return fail_at(&r, g->data_start + (t->offset < data_len ? t->offset : data_len),
                           "tensor '%s': data at offset %llu + %llu bytes runs past the end of the %llu-byte file "
                           "(data section starts at byte %llu)",
                           t->name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes,
                           (unsigned long long)g->size, (unsigned long long)g->data_start);
        t->data = g->base + g->data_start + t->offset;
    }
    return check_overlap(&r, g);
}

static int open_common(cb_gguf *g, cb_gguf **out, cb_err *err) {
    int rc = parse(g, err);
    if (rc) {
        if (err && !err->code) cb_err_set(err, rc, "%s: invalid GGUF", g->path);
        cb_gguf_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int cb_gguf_open_mem(const void *buf, size_t len, cb_gguf **out, cb_err *err) {
    *out = NULL;
    cb_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup("<memory>"))) {
        free(g);
        return cb_err_set(err, CB_ENOMEM, "<memory>: out of memory");
    }
    g->base = buf;
    g->size = len;
    return open_common(g, out, err);
}

int cb_gguf_open(const char *path, cb_gguf **out, cb_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cb_err_set(err, CB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return cb_err_set(err, CB_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cb_err_set(err, CB_EIO, "%s: not a regular file", path);
    }
    cb_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        close(fd);
        return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    }
    g->size = (uint64_t)st.st_size;
    if (g->size > 0) {
        void *m = mmap(NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            cb_gguf_free(g);
            return cb_err_set(err, CB_EIO, "%s: cannot mmap %llu bytes: %s", path,
                              (unsigned long long)st.st_size, strerror(e));
        }
        g->map = m;
        g->base = m;
    }
    close(fd);
    return open_common(g, out, err);
}

void cb_gguf_free(cb_gguf *g) {
    if (!g) return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str_offs);
        }
    if (g->tensors)
        for (uint64_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g->key_ht);
    free(g->tensor_ht);
    if (g->map) munmap(g->map, (size_t)g->size);
    free(g->path);
    free(g);
}

/* ---- accessors ------------------------------------------------------------ */

uint32_t cb_gguf_version(const cb_gguf *g) { return g->version; }
uint32_t cb_gguf_alignment(const cb_gguf *g) { return g->alignment; }
const char *cb_gguf_path(const cb_gguf *g) { return g->path; }
uint64_t cb_gguf_file_size(const cb_gguf *g) { return g->size; }
uint64_t cb_gguf_data_offset(const cb_gguf *g) { return g->data_start; }

int64_t cb_gguf_find_key(const cb_gguf *g, const char *key) {
    return ht_find(g->key_ht, g->key_ht_size, key, kv_name_of, g);
}

static const gguf_kv *kv_get(const cb_gguf *g, const char *key) {
    int64_t i = cb_gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kv[i];
}

/* Reads a scalar of integer type t at off as signed/unsigned 64-bit. */
static void read_int(const uint8_t *p, uint32_t t, int64_t *s, uint64_t *u, int *neg) {
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; uint64_t u64; int64_t i64;
    *neg = 0;
    switch (t) {
    case CB_GGUF_U8: memcpy(&u8, p, 1); *u = u8; *s = u8; break;
    case CB_GGUF_I8: memcpy(&i8, p, 1); *s = i8; *u = (uint64_t)i8; *neg = i8 < 0; break;
    case CB_GGUF_U16: memcpy(&u16, p, 2); *u = u16; *s = u16; break;
    case CB_GGUF_I16: memcpy(&i16, p, 2); *s = i16; *u = (uint64_t)i16; *neg = i16 < 0; break;
    case CB_GGUF_U32: memcpy(&u32, p, 4); *u = u32; *s = u32; break;
    case CB_GGUF_I32: memcpy(&i32, p, 4); *s = i32; *u = (uint64_t)i32; *neg = i32 < 0; break;
    case CB_GGUF_U64: memcpy(&u64, p, 8); *u = u64; *s = (int64_t)u64; *neg = u64 > (uint64_t)INT64_MAX ? -1 : 0; break;
    default: memcpy(&i64, p, 8); *s = i64; *u = (uint64_t)i64; *neg = i64 < 0; break;
    }
}

int cb_gguf_get_u64(const cb_gguf *g, const char *key, uint64_t *out) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv) return 1;
    if (!is_int_type(kv->type)) return 2;
    int64_t s; uint64_t u; int neg;
    read_int(g->base + kv->val_off, kv->type, &s, &u, &neg);
    if (neg > 0) return 2;
    *out = u;
    return 0;
}

int cb_gguf_get_i64(const cb_gguf *g, const char *key, int64_t *out) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv) return 1;
    if (!is_int_type(kv->type)) return 2;
    int64_t s; uint64_t u; int neg;
    read_int(g->base + kv->val_off, kv->type, &s, &u, &neg);
    if (neg < 0) return 2;
    *out = s;
    return 0;
}

static int read_float(const uint8_t *p, uint32_t t, float *out) {
    if (t == CB_GGUF_F32) {
        memcpy(out, p, 4);
        return 0;
    }
    if (t == CB_GGUF_F64) {
        double d;
        memcpy(&d, p, 8);
        *out = (float)d;
        return 0;
    }
    return 2;
}

int cb_gguf_get_f32(const cb_gguf *g, const char *key, float *out) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv) return 1;
    return read_float(g->base + kv->val_off, kv->type, out);
}

int cb_gguf_get_bool(const cb_gguf *g, const char *key, int *out) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv) return 1;
    if (kv->type != CB_GGUF_BOOL) return 2;
    *out = g->base[kv->val_off] != 0;
    return 0;
}

static void str_at(const cb_gguf *g, uint64_t off, cb_gguf_str *out) {
    uint64_t len;
    memcpy(&len, g->base + off, 8);
    out->ptr = (const char *)g->base + off + 8;
    out->len = len;
}

int cb_gguf_get_str(const cb_gguf *g, const char *key, cb_gguf_str *out) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv) return 1;
    if (kv->type != CB_GGUF_STRING) return 2;
    str_at(g, kv->val_off, out);
    return 0;
}

int cb_gguf_get_arr(const cb_gguf *g, const char *key, uint32_t *elem_type, uint64_t *count) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv) return 1;
    if (kv->type != CB_GGUF_ARRAY) return 2;
    *elem_type = kv->elem_type;
    *count = kv->count;
    return 0;
}

/* Array element lookup shared by arr_*: returns 1 if absent or i out of range. */
static int arr_elem(const cb_gguf *g, const char *key, uint64_t i, const gguf_kv **kv_out) {
    const gguf_kv *kv = kv_get(g, key);
    if (!kv) return 1;
    if (kv->type != CB_GGUF_ARRAY) return 2;
    if (i >= kv->count) return 1;
    *kv_out = kv;
    return 0;
}

int cb_gguf_arr_str(const cb_gguf *g, const char *key, uint64_t i, cb_gguf_str *out) {
    const gguf_kv *kv;
    int rc = arr_elem(g, key, i, &kv);
    if (rc) return rc;
    if (kv->elem_type != CB_GGUF_STRING) return 2;
    str_at(g, kv->str_offs[i], out);
    return 0;
}

int cb_gguf_arr_f32(const cb_gguf *g, const char *key, uint64_t i, float *out) {
    const gguf_kv *kv;
    int rc = arr_elem(g, key, i, &kv);
    if (rc) return rc;
    uint64_t es = scalar_size(kv->elem_type);
    if (kv->elem_type != CB_GGUF_F32 && kv->elem_type != CB_GGUF_F64) return 2;
    return read_float(g->base + kv->val_off + i * es, kv->elem_type, out);
}

int cb_gguf_arr_i64(const cb_gguf *g, const char *key, uint64_t i, int64_t *out) {
    const gguf_kv *kv;
    int rc = arr_elem(g, key, i, &kv);
    if (rc) return rc;
    if (!is_int_type(kv->elem_type)) return 2;
    int64_t s; uint64_t u; int neg;
    read_int(g->base + kv->val_off + i * scalar_size(kv->elem_type), kv->elem_type, &s, &u, &neg);
    if (neg < 0) return 2;
    *out = s;
    return 0;
}

uint64_t cb_gguf_n_kv(const cb_gguf *g) { return g->n_kv; }
const char *cb_gguf_key(const cb_gguf *g, uint64_t i) { return i < g->n_kv ? g->kv[i].key : NULL; }
uint32_t cb_gguf_kv_type(const cb_gguf *g, uint64_t i) { return i < g->n_kv ? g->kv[i].type : UINT32_MAX; }

uint64_t cb_gguf_n_tensors(const cb_gguf *g) { return g->n_tensors; }
const cb_gguf_tensor *cb_gguf_tensor_at(const cb_gguf *g, uint64_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}
const cb_gguf_tensor *cb_gguf_find_tensor(const cb_gguf *g, const char *name) {
    int64_t i = ht_find(g->tensor_ht, g->tensor_ht_size, name, tensor_name_of, g);
    return i < 0 ? NULL : &g->tensors[i];
}

/* ---- writer --------------------------------------------------------------- */

typedef struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[4];
    uint64_t n_bytes;
    uint64_t offset;     /* relative to the data section, assigned at write time */
    void *data;          /* copy made at add time; NULL = zeros or fill */
    cb_gguf_fill_fn fill;
    void *ctx;
} wtensor;

struct cb_gguf_writer {
    uint32_t version;
    uint32_t alignment;
    uint8_t *meta;       /* serialized KV pairs: string key | u32 type | value */
    size_t meta_len, meta_cap;
    uint64_t n_kv;
    char **keys;         /* for the duplicate check */
    size_t keys_cap;
    wtensor *tensors;
    uint64_t n_tensors, tensors_cap;
    cb_err first;        /* first error from a set/add call, reported by write */
};

__attribute__((format(printf, 3, 4))) static int wfail(cb_gguf_writer *w, int code, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!w->first.code) cb_err_set(&w->first, code, "gguf writer: %s", msg);
    return code;
}

static int meta_put(cb_gguf_writer *w, const void *p, size_t n) {
    if (n == 0) return 0;
    if (n > SIZE_MAX - w->meta_len) return wfail(w, CB_ENOMEM, "metadata size overflows");
    if (w->meta_len + n > w->meta_cap) {
        size_t cap = w->meta_cap ? w->meta_cap : 4096;
        while (cap < w->meta_len + n) {
            if (cap > SIZE_MAX / 2) return wfail(w, CB_ENOMEM, "metadata size overflows");
            cap *= 2;
        }
        uint8_t *m = realloc(w->meta, cap);
        if (!m) return wfail(w, CB_ENOMEM, "out of memory for %zu bytes of metadata", cap);
        w->meta = m;
        w->meta_cap = cap;
    }
    memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
    return 0;
}

static int meta_u32(cb_gguf_writer *w, uint32_t v) { return meta_put(w, &v, 4); }
static int meta_u64(cb_gguf_writer *w, uint64_t v) { return meta_put(w, &v, 8); }
static int meta_str(cb_gguf_writer *w, const char *s, uint64_t len) {
    if (meta_u64(w, len)) return w->first.code;
    return meta_put(w, s, (size_t)len);
}

/* Checks key and appends "key | type"; the caller appends the value. */
static int begin_kv(cb_gguf_writer *w, const char *key, uint32_t type) {
    size_t len = key ? strlen(key) : 0;
    if (len == 0 || len > GGUF_MAX_STR) return wfail(w, CB_EUSAGE, "key must be 1..%u bytes", GGUF_MAX_STR);
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return wfail(w, CB_EUSAGE, "duplicate key '%s'", key);
    if (w->n_kv == w->keys_cap) {
        size_t cap = w->keys_cap ? 2 * w->keys_cap : 32;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k) return wfail(w, CB_ENOMEM, "out of memory for key '%s'", key);
        w->keys = k;
        w->keys_cap = cap;
    }
    char *copy = strdup(key);
    if (!copy) return wfail(w, CB_ENOMEM, "out of memory for key '%s'", key);
    if (meta_str(w, key, len) || meta_u32(w, type)) {
        free(copy);
        return w->first.code;
    }
    w->keys[w->n_kv++] = copy;
    return 0;
}

int cb_gguf_writer_new(uint32_t version, uint32_t alignment, cb_gguf_writer **out, cb_err *err) {
    *out = NULL;
    if (version != 2 && version != 3)
        return cb_err_set(err, CB_EUSAGE, "gguf writer: version %u is not supported (expected 2 or 3)", version);
    if (alignment == 0 || (alignment & (alignment - 1)))
        return cb_err_set(err, CB_EUSAGE, "gguf writer: alignment %u is not a nonzero power of two", alignment);
    cb_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return cb_err_set(err, CB_ENOMEM, "gguf writer: out of memory");
    w->version = version;
    w->alignment = alignment;
    if (alignment != GGUF_DEFAULT_ALIGN && cb_gguf_writer_set_u32(w, "general.alignment", alignment)) {
        int rc = cb_err_set(err, w->first.code, "%s", w->first.msg);
        cb_gguf_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void cb_gguf_writer_free(cb_gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    free(w->meta);
    free(w);
}

static int set_scalar(cb_gguf_writer *w, const char *key, uint32_t type, const void *v, size_t n) {
    if (begin_kv(w, key, type)) return w->first.code;
    return meta_put(w, v, n);
}

int cb_gguf_writer_set_u8(cb_gguf_writer *w, const char *key, uint8_t v) {
    return set_scalar(w, key, CB_GGUF_U8, &v, 1);
}
int cb_gguf_writer_set_i8(cb_gguf_writer *w, const char *key, int8_t v) {
    return set_scalar(w, key, CB_GGUF_I8, &v, 1);
}
int cb_gguf_writer_set_u16(cb_gguf_writer *w, const char *key, uint16_t v) {
    return set_scalar(w, key, CB_GGUF_U16, &v, 2);
}
int cb_gguf_writer_set_i16(cb_gguf_writer *w, const char *key, int16_t v) {
    return set_scalar(w, key, CB_GGUF_I16, &v, 2);
}
int cb_gguf_writer_set_i64(cb_gguf_writer *w, const char *key, int64_t v) {
    return set_scalar(w, key, CB_GGUF_I64, &v, 8);
}
int cb_gguf_writer_set_f64(cb_gguf_writer *w, const char *key, double v) {
    return set_scalar(w, key, CB_GGUF_F64, &v, 8);
}
int cb_gguf_writer_set_u32(cb_gguf_writer *w, const char *key, uint32_t v) {
    return set_scalar(w, key, CB_GGUF_U32, &v, 4);
}
int cb_gguf_writer_set_i32(cb_gguf_writer *w, const char *key, int32_t v) {
    return set_scalar(w, key, CB_GGUF_I32, &v, 4);
}
int cb_gguf_writer_set_u64(cb_gguf_writer *w, const char *key, uint64_t v) {
    return set_scalar(w, key, CB_GGUF_U64, &v, 8);
}
int cb_gguf_writer_set_f32(cb_gguf_writer *w, const char *key, float v) {
    return set_scalar(w, key, CB_GGUF_F32, &v, 4);
}
int cb_gguf_writer_set_bool(cb_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return set_scalar(w, key, CB_GGUF_BOOL, &b, 1);
}
int cb_gguf_writer_set_str(cb_gguf_writer *w, const char *key, const char *v) {
    if (!v) return wfail(w, CB_EUSAGE, "key '%s': NULL string", key ? key : "?");
    if (begin_kv(w, key, CB_GGUF_STRING)) return w->first.code;
    return meta_str(w, v, strlen(v));
}

int cb_gguf_writer_set_arr_str(cb_gguf_writer *w, const char *key, const char *const *v, uint64_t n) {
    if (begin_kv(w, key, CB_GGUF_ARRAY) || meta_u32(w, CB_GGUF_STRING) || meta_u64(w, n)) return w->first.code;
    for (uint64_t i = 0; i < n; i++) {
        if (!v[i]) return wfail(w, CB_EUSAGE, "key '%s': element %llu is NULL", key, (unsigned long long)i);
        if (meta_str(w, v[i], strlen(v[i]))) return w->first.code;
    }
    return 0;
}

static int set_arr_scalar(cb_gguf_writer *w, const char *key, uint32_t et, const void *v, uint64_t n, size_t es) {
    if (n > SIZE_MAX / es) return wfail(w, CB_ENOMEM, "key '%s': array too large", key ? key : "?");
    if (begin_kv(w, key, CB_GGUF_ARRAY) || meta_u32(w, et) || meta_u64(w, n)) return w->first.code;
    return n ? meta_put(w, v, (size_t)n * es) : 0;
}

int cb_gguf_writer_set_arr(cb_gguf_writer *w, const char *key, uint32_t elem_type, const void *v, uint64_t n) {
    uint64_t es = scalar_size(elem_type);
    if (!es) return wfail(w, CB_EUSAGE, "key '%s': array element type %u is not a scalar", key ? key : "?", elem_type);
    return set_arr_scalar(w, key, elem_type, v, n, (size_t)es);
}

int cb_gguf_writer_set_arr_f32(cb_gguf_writer *w, const char *key, const float *v, uint64_t n) {
    return set_arr_scalar(w, key, CB_GGUF_F32, v, n, 4);
}
int cb_gguf_writer_set_arr_i32(cb_gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    return set_arr_scalar(w, key, CB_GGUF_I32, v, n, 4);
}

/* Bytes of the value of kv i (after its u32 type), from the validated mapping. */
static uint64_t kv_value_end(const cb_gguf *g, const gguf_kv *kv) {
    if (kv->type == CB_GGUF_STRING) {
        uint64_t len;
        memcpy(&len, g->base + kv->val_off, 8);
        return kv->val_off + 8 + len;
    }
    if (kv->type == CB_GGUF_ARRAY) {
        if (kv->elem_type != CB_GGUF_STRING) return kv->val_off + kv->count * scalar_size(kv->elem_type);
        if (!kv->count) return kv->val_off;
        uint64_t last = kv->str_offs[kv->count - 1], len;
        memcpy(&len, g->base + last, 8);
        return last + 8 + len;
    }
    return kv->val_off + scalar_size(kv->type);
}

int cb_gguf_writer_copy_kv(cb_gguf_writer *w, const cb_gguf *src, const char *prefix) {
    size_t plen = strlen(prefix);
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const gguf_kv *kv = &src->kv[i];
        if (strncmp(kv->key, prefix, plen)) continue;
        /* value bytes start after the u32 type; arrays start 12 bytes before their first element */
        uint64_t start = kv->type == CB_GGUF_ARRAY ? kv->val_off - 12 : kv->val_off;
        uint64_t end = kv_value_end(src, kv);
        if (begin_kv(w, kv->key, kv->type) || meta_put(w, src->base + start, (size_t)(end - start)))
            return w->first.code;
    }
    return 0;
}

static int add_tensor_common(cb_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                             const uint64_t *ne, wtensor **out) {
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > GGUF_MAX_STR) return wfail(w, CB_EUSAGE, "tensor name must be 1..%u bytes", GGUF_MAX_STR);
    if (n_dims < 1 || n_dims > 4) return wfail(w, CB_EUSAGE, "tensor '%s': n_dims %u is outside 1..4", name, n_dims);
    if (!supported_type(type))
        return wfail(w, CB_EUNSUP, "tensor '%s': type %s is not supported (supported: " CB_GGUF_SUPPORTED_TYPES ")",
                     name, cb_ggml_type_name(type));
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] == 0 || __builtin_mul_overflow(n, ne[d], &n) || n > (uint64_t)INT64_MAX)
            return wfail(w, CB_EUSAGE, "tensor '%s': ne[%u] = %llu is 0 or overflows the element count", name, d,
                         (unsigned long long)ne[d]);
    if (ne[0] % (uint64_t)cb_type_block_elems(type))
        return wfail(w, CB_EUSAGE, "tensor '%s': %s needs ne[0] to be a multiple of %lld", name,
                     cb_ggml_type_name(type), (long long)cb_type_block_elems(type));
    uint64_t nb;
    if (tensor_bytes(type, n, &nb)) return wfail(w, CB_EUSAGE, "tensor '%s': byte size overflows", name);
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name)) return wfail(w, CB_EUSAGE, "duplicate tensor name '%s'", name);
    if (w->n_tensors == w->tensors_cap) {
        uint64_t cap = w->tensors_cap ? 2 * w->tensors_cap : 64;
        wtensor *t = realloc(w->tensors, cap * sizeof *t);
        if (!t) return wfail(w, CB_ENOMEM, "out of memory for tensor '%s'", name);
        w->tensors = t;
        w->tensors_cap = cap;
    }
    wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return wfail(w, CB_ENOMEM, "out of memory for tensor '%s'", name);
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->n_bytes = nb;
    w->n_tensors++;
    *out = t;
    return 0;
}

int cb_gguf_writer_add_tensor(cb_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                              const uint64_t *ne, const void *data) {
    wtensor *t;
    if (add_tensor_common(w, name, type, n_dims, ne, &t)) return w->first.code;
    if (data && t->n_bytes) {
        if (t->n_bytes > SIZE_MAX || !(t->data = malloc((size_t)t->n_bytes)))
            return wfail(w, CB_ENOMEM, "out of memory copying tensor '%s' (%llu bytes)", name,
                         (unsigned long long)t->n_bytes);
        memcpy(t->data, data, (size_t)t->n_bytes);
    }
    return 0;
}

int cb_gguf_writer_add_tensor_fn(cb_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                 const uint64_t *ne, cb_gguf_fill_fn fill, void *ctx) {
    if (!fill) return wfail(w, CB_EUSAGE, "tensor '%s': NULL fill callback", name ? name : "?");
    wtensor *t;
    if (add_tensor_common(w, name, type, n_dims, ne, &t)) return w->first.code;
    t->fill = fill;
    t->ctx = ctx;
    return 0;
}

static int put(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1; }

static int put_zeros(FILE *f, uint64_t n) {
    static const uint8_t z[4096];
    while (n) {
        size_t k = n > sizeof z ? sizeof z : (size_t)n;
        if (put(f, z, k)) return -1;
        n -= k;
    }
    return 0;
}

int cb_gguf_writer_write(cb_gguf_writer *w, const char *path, cb_err *err) {
    if (w->first.code) return cb_err_set(err, w->first.code, "%s: %s", path, w->first.msg);
    int rc = 0;
    FILE *f = NULL;
    void *buf = NULL;
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) return cb_err_set(err, CB_EUSAGE, "%s: path too long", path);

    uint64_t off = 0, max_fill = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        t->offset = off;
        if (t->fill && t->n_bytes > max_fill) max_fill = t->n_bytes;
        uint64_t end = off + t->n_bytes;
        off = end + (w->alignment - end % w->alignment) % w->alignment;
    }
    if (max_fill) {
        if (max_fill > SIZE_MAX || !(buf = malloc((size_t)max_fill))) {
            rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory for a %llu-byte tensor buffer", path,
                            (unsigned long long)max_fill);
            goto out;
        }
    }
    f = fopen(tmp, "wb");
    if (!f) {
        rc = cb_err_set(err, CB_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    uint32_t magic = GGUF_MAGIC;
    uint64_t pos = 24 + w->meta_len;
    int bad = put(f, &magic, 4) || put(f, &w->version, 4) || put(f, &w->n_tensors, 8) || put(f, &w->n_kv, 8) ||
              put(f, w->meta, w->meta_len);
    for (uint64_t i = 0; i < w->n_tensors && !bad; i++) {
        wtensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        bad = put(f, &len, 8) || put(f, t->name, (size_t)len) || put(f, &t->n_dims, 4) ||
              put(f, t->ne, 8 * (size_t)t->n_dims) || put(f, &t->type, 4) || put(f, &t->offset, 8);
        pos += 8 + len + 4 + 8ull * t->n_dims + 4 + 8;
    }
    if (!bad) bad = put_zeros(f, (w->alignment - pos % w->alignment) % w->alignment);
    uint64_t written = 0;
    for (uint64_t i = 0; i < w->n_tensors && !bad; i++) {
        wtensor *t = &w->tensors[i];
        if (t->fill) {
            int frc = t->fill(t->ctx, i, buf, t->n_bytes);
            if (frc) {
                rc = cb_err_set(err, frc > 0 ? frc : CB_ERUNTIME, "%s: fill callback for tensor '%s' failed (%d)",
                                path, t->name, frc);
                goto out;
            }
            bad = put(f, buf, (size_t)t->n_bytes);
        } else if (t->data) {
            bad = put(f, t->data, (size_t)t->n_bytes);
        } else {
            bad = put_zeros(f, t->n_bytes);
        }
        written = t->offset + t->n_bytes;
        if (!bad) bad = put_zeros(f, (w->alignment - written % w->alignment) % w->alignment);
    }
    if (bad || fflush(f) != 0) {
        rc = cb_err_set(err, CB_EIO, "%s: write failed: %s", tmp, strerror(errno));
        goto out;
    }
    FILE *ff = f;
    f = NULL;
    if (fclose(ff) != 0) {
        rc = cb_err_set(err, CB_EIO, "%s: close failed: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = cb_err_set(err, CB_EIO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        goto out;
    }
out:
    if (f) fclose(f);
    if (rc) unlink(tmp);
    free(buf);
    return rc;
}
