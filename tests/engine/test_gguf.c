/* tests/engine/test_gguf.c — GGUF reader and writer.
 *
 * Round trips files made by the writer (every metadata type, every tensor
 * type, 1-4 dims, alignment 32 and 64, versions 2 and 3, copied and callback
 * tensors), reads the real stories260K.gguf when the shared folder is there,
 * and feeds the reader a table of hand-built malformed files plus every
 * truncation of a small valid file: each must fail with CB_EFORMAT and a
 * message naming a byte offset, without crashing (the ASan build runs this).
 */
#include "engine/gguf.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------- */

static void tmp_path(char *buf, size_t n, const char *tag) {
    snprintf(buf, n, "/tmp/cb_test_gguf_%ld_%s.gguf", (long)getpid(), tag);
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Byte builder for hand-made (mostly malformed) files. */
typedef struct bb {
    uint8_t d[4096];
    size_t n;
} bb;

static void put(bb *b, const void *p, size_t n) {
    cr_assert(b->n + n <= sizeof b->d);
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void u32(bb *b, uint32_t v) { put(b, &v, 4); }
static void u64(bb *b, uint64_t v) { put(b, &v, 8); }
static void str(bb *b, const char *s) {
    u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void hdr(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b->n = 0;
    put(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}
static void kv_u32(bb *b, const char *k, uint32_t v) {
    str(b, k);
    u32(b, CB_GGUF_U32);
    u32(b, v);
}
static void tinfo(bb *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off) {
    str(b, name);
    u32(b, nd);
    for (uint32_t i = 0; i < nd; i++) u64(b, ne[i]);
    u32(b, type);
    u64(b, off);
}
static void pad(bb *b, size_t a) {
    while (b->n % a) b->d[b->n++] = 0;
}
static void zeros(bb *b, size_t n) {
    cr_assert(b->n + n <= sizeof b->d);
    memset(b->d + b->n, 0, n);
    b->n += n;
}

/* Opens b and expects CB_EFORMAT with "byte" and `want` in the message. */
static void expect_bad(const bb *b, const char *want, const char *what) {
    cb_err e = {0};
    cb_gguf *g = (cb_gguf *)1;
    /* a heap copy of exactly n bytes so ASan catches any read past the end */
    uint8_t *copy = malloc(b->n ? b->n : 1);
    memcpy(copy, b->d, b->n);
    int rc = cb_gguf_open_mem(copy, b->n, &g, &e);
    cr_expect_eq(rc, CB_EFORMAT, "%s: rc %d (msg '%s')", what, rc, e.msg);
    cr_expect_null(g, "%s: handle not NULL on failure", what);
    cr_expect(strstr(e.msg, "byte") != NULL, "%s: message lacks 'byte': %s", what, e.msg);
    if (want) cr_expect(strstr(e.msg, want) != NULL, "%s: message lacks '%s': %s", what, want, e.msg);
    cb_gguf_free(rc ? NULL : g);
    free(copy);
}

/* A minimal valid file with one F32 tensor [4] at offset 0 and one key. */
static void valid_small(bb *b) {
    uint64_t ne[1] = {4};
    hdr(b, 3, 1, 1);
    kv_u32(b, "a.b", 7);
    tinfo(b, "t", 1, ne, CB_GGML_F32, 0);
    pad(b, 32);
    zeros(b, 16);
}

Test(gguf, valid_small_builder_file_opens) {
    bb b;
    valid_small(&b);
    cb_err e = {0};
    cb_gguf *g;
    cr_assert_eq(cb_gguf_open_mem(b.d, b.n, &g, &e), 0, "%s", e.msg);
    cr_expect_eq(cb_gguf_n_tensors(g), 1);
    cr_expect_str_eq(cb_gguf_path(g), "<memory>");
    cr_expect_eq(cb_gguf_data_offset(g), 96);
    cb_gguf_free(g);
}

/* ---- round trip ----------------------------------------------------------- */

static int fill_pattern(void *ctx, uint64_t idx, void *buf, uint64_t n) {
    uint8_t *p = buf;
    for (uint64_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + idx + (uintptr_t)ctx);
    return 0;
}

static void pattern(uint8_t *p, uint64_t n, unsigned seed) {
    for (uint64_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 13 + seed);
}

typedef struct tspec {
    const char *name;
    uint32_t type;
    uint32_t nd;
    uint64_t ne[4];
} tspec;

static const tspec specs[] = {
    {"f32.1d", CB_GGML_F32, 1, {5}},
    {"f16.2d", CB_GGML_F16, 2, {3, 7}},
    {"bf16.3d", CB_GGML_BF16, 3, {2, 3, 5}},
    {"q8_0.4d", CB_GGML_Q8_0, 4, {64, 2, 1, 3}},
    {"q8_0.1d", CB_GGML_Q8_0, 1, {32}},
    {"f32.4d", CB_GGML_F32, 4, {1, 1, 1, 1}},
    {"blk.0.attn_q.weight", CB_GGML_F16, 2, {32, 32}},
    {"q4_0.2d", CB_GGML_Q4_0, 2, {64, 3}},
    {"q4_1.2d", CB_GGML_Q4_1, 2, {32, 5}},
    {"q5_0.1d", CB_GGML_Q5_0, 1, {96}},
    {"q5_1.2d", CB_GGML_Q5_1, 2, {32, 1}},
    {"q4_k.2d", CB_GGML_Q4_K, 2, {256, 3}},
    {"q5_k.2d", CB_GGML_Q5_K, 2, {512, 1}},
    {"q6_k.3d", CB_GGML_Q6_K, 3, {256, 1, 2}},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static uint64_t spec_bytes(const tspec *s) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < s->nd; d++) n *= s->ne[d];
    /* the block sizes written out (kernels.h's structs), not taken from the code under test */
    switch (s->type) {
    case CB_GGML_F32: return 4 * n;
    case CB_GGML_Q8_0: return n / 32 * 34;
    case CB_GGML_Q4_0: return n / 32 * 18;
    case CB_GGML_Q4_1: return n / 32 * 20;
    case CB_GGML_Q5_0: return n / 32 * 22;
    case CB_GGML_Q5_1: return n / 32 * 24;
    case CB_GGML_Q4_K: return n / 256 * 144;
    case CB_GGML_Q5_K: return n / 256 * 176;
    case CB_GGML_Q6_K: return n / 256 * 210;
    default: return 2 * n;
    }
}

static void round_trip(uint32_t version, uint32_t align) {
    char path[256];
    char tag[32];
    snprintf(tag, sizeof tag, "rt_v%u_a%u", version, align);
    tmp_path(path, sizeof path, tag);
    cb_err e = {0};
    cb_gguf_writer *w;
    cr_assert_eq(cb_gguf_writer_new(version, align, &w, &e), 0, "%s", e.msg);
    cb_gguf_writer_set_u8(w, "v.u8", 200);
    cb_gguf_writer_set_i8(w, "v.i8", -100);
    cb_gguf_writer_set_u16(w, "v.u16", 60000);
    cb_gguf_writer_set_i16(w, "v.i16", -30000);
    cb_gguf_writer_set_u32(w, "v.u32", 4000000000u);
    cb_gguf_writer_set_i32(w, "v.i32", -2000000000);
    cb_gguf_writer_set_u64(w, "v.u64", 18000000000000000000ull);
    cb_gguf_writer_set_i64(w, "v.i64", -9000000000000000000ll);
    cb_gguf_writer_set_f32(w, "v.f32", 1.5f);
    cb_gguf_writer_set_f64(w, "v.f64", 2.25);
    cb_gguf_writer_set_bool(w, "v.bool", 1);
    cb_gguf_writer_set_str(w, "v.str", "h\xc3\xa9llo");
    cb_gguf_writer_set_str(w, "v.empty", "");
    const char *strs[] = {"<unk>", "", "\xe2\x96\x81the", "x"};
    cb_gguf_writer_set_arr_str(w, "a.str", strs, 4);
    const float fl[] = {0.5f, -1.0f, 3.25f};
    cb_gguf_writer_set_arr_f32(w, "a.f32", fl, 3);
    const int32_t in[] = {-1, 0, 6, 2147483647};
    cb_gguf_writer_set_arr_i32(w, "a.i32", in, 4);
    const uint64_t u6[] = {1, 18000000000000000000ull};
    cb_gguf_writer_set_arr(w, "a.u64", CB_GGUF_U64, u6, 2);
    const double d6[] = {0.125, -8.0};
    cb_gguf_writer_set_arr(w, "a.f64", CB_GGUF_F64, d6, 2);
    const uint8_t bo[] = {1, 0, 1};
    cb_gguf_writer_set_arr(w, "a.bool", CB_GGUF_BOOL, bo, 3);
    cb_gguf_writer_set_arr_i32(w, "a.empty", NULL, 0);

    uint8_t *datas[N_SPECS];
    for (size_t i = 0; i < N_SPECS; i++) {
        uint64_t nb = spec_bytes(&specs[i]);
        datas[i] = malloc(nb);
        pattern(datas[i], nb, (unsigned)i);
        cr_assert_eq(cb_gguf_writer_add_tensor(w, specs[i].name, specs[i].type, specs[i].nd, specs[i].ne, datas[i]),
                     0);
    }
    uint64_t ne_fn[2] = {64, 3};
    cr_assert_eq(cb_gguf_writer_add_tensor_fn(w, "fn.q8", CB_GGML_Q8_0, 2, ne_fn, fill_pattern, (void *)5), 0);
    uint64_t ne_z[1] = {3};
    cr_assert_eq(cb_gguf_writer_add_tensor(w, "zeros", CB_GGML_F32, 1, ne_z, NULL), 0);
    cr_assert_eq(cb_gguf_writer_write(w, path, &e), 0, "%s", e.msg);
    cb_gguf_writer_free(w);

    cb_gguf *g;
    cr_assert_eq(cb_gguf_open(path, &g, &e), 0, "%s", e.msg);
    cr_expect_eq(cb_gguf_version(g), version);
    cr_expect_eq(cb_gguf_alignment(g), align);
    cr_expect_eq(cb_gguf_n_kv(g), 20u + (align != 32));
    uint64_t u;
    int64_t s;
    float f;
    int bv;
    cb_gguf_str st;
    cr_expect_eq(cb_gguf_get_u64(g, "v.u8", &u), 0);
    cr_expect_eq(u, 200);
    cr_expect_eq(cb_gguf_get_i64(g, "v.i8", &s), 0);
    cr_expect_eq(s, -100);
    cr_expect_eq(cb_gguf_get_u64(g, "v.i8", &u), 2, "negative i8 is not a u64");
    cr_expect_eq(cb_gguf_get_u64(g, "v.u16", &u), 0);
    cr_expect_eq(u, 60000);
    cr_expect_eq(cb_gguf_get_i64(g, "v.i16", &s), 0);
    cr_expect_eq(s, -30000);
    cr_expect_eq(cb_gguf_get_i64(g, "v.u32", &s), 0);
    cr_expect_eq(s, 4000000000ll);
    cr_expect_eq(cb_gguf_get_i64(g, "v.i32", &s), 0);
    cr_expect_eq(s, -2000000000);
    cr_expect_eq(cb_gguf_get_u64(g, "v.u64", &u), 0);
    cr_expect_eq(u, 18000000000000000000ull);
    cr_expect_eq(cb_gguf_get_i64(g, "v.u64", &s), 2, "u64 above INT64_MAX is not an i64");
    cr_expect_eq(cb_gguf_get_i64(g, "v.i64", &s), 0);
    cr_expect_eq(s, -9000000000000000000ll);
    cr_expect_eq(cb_gguf_get_f32(g, "v.f32", &f), 0);
    cr_expect_eq(f, 1.5f);
    cr_expect_eq(cb_gguf_get_f32(g, "v.f64", &f), 0);
    cr_expect_eq(f, 2.25f);
    cr_expect_eq(cb_gguf_get_bool(g, "v.bool", &bv), 0);
    cr_expect_eq(bv, 1);
    cr_expect_eq(cb_gguf_get_str(g, "v.str", &st), 0);
    cr_expect_eq(st.len, 6);
    cr_expect_eq(memcmp(st.ptr, "h\xc3\xa9llo", 6), 0);
    cr_expect_eq(cb_gguf_get_str(g, "v.empty", &st), 0);
    cr_expect_eq(st.len, 0);
    /* wrong types and absent keys leave the output untouched */
    u = 99;
    cr_expect_eq(cb_gguf_get_u64(g, "v.str", &u), 2);
    cr_expect_eq(cb_gguf_get_u64(g, "nope", &u), 1);
    cr_expect_eq(u, 99);
    cr_expect_eq(cb_gguf_get_str(g, "v.u8", &st), 2);
    cr_expect_eq(cb_gguf_get_f32(g, "v.u8", &f), 2);
    cr_expect_eq(cb_gguf_get_bool(g, "v.u8", &bv), 2);
    cr_expect_eq(cb_gguf_find_key(g, "nope"), -1);
    cr_expect_eq(cb_gguf_find_key(g, "v.u8"), 0 + (align != 32));

    uint32_t et;
    uint64_t cnt;
    cr_expect_eq(cb_gguf_get_arr(g, "a.str", &et, &cnt), 0);
    cr_expect_eq(et, CB_GGUF_STRING);
    cr_expect_eq(cnt, 4);
    for (uint64_t i = 0; i < 4; i++) {
        cr_expect_eq(cb_gguf_arr_str(g, "a.str", i, &st), 0);
        cr_expect_eq(st.len, strlen(strs[i]));
        cr_expect_eq(memcmp(st.ptr, strs[i], st.len), 0);
    }
    cr_expect_eq(cb_gguf_arr_str(g, "a.str", 4, &st), 1, "index out of range");
    cr_expect_eq(cb_gguf_arr_f32(g, "a.str", 0, &f), 2);
    cr_expect_eq(cb_gguf_arr_str(g, "v.str", 0, &st), 2, "not an array");
    for (uint64_t i = 0; i < 3; i++) {
        cr_expect_eq(cb_gguf_arr_f32(g, "a.f32", i, &f), 0);
        cr_expect_eq(f, fl[i]);
    }
    for (uint64_t i = 0; i < 4; i++) {
        cr_expect_eq(cb_gguf_arr_i64(g, "a.i32", i, &s), 0);
        cr_expect_eq(s, in[i]);
    }
    cr_expect_eq(cb_gguf_arr_i64(g, "a.u64", 0, &s), 0);
    cr_expect_eq(s, 1);
    cr_expect_eq(cb_gguf_arr_i64(g, "a.u64", 1, &s), 2, "u64 above INT64_MAX");
    cr_expect_eq(cb_gguf_arr_f32(g, "a.f64", 1, &f), 0);
    cr_expect_eq(f, -8.0f);
    cr_expect_eq(cb_gguf_get_arr(g, "a.bool", &et, &cnt), 0);
    cr_expect_eq(et, CB_GGUF_BOOL);
    cr_expect_eq(cnt, 3);
    cr_expect_eq(cb_gguf_get_arr(g, "a.empty", &et, &cnt), 0);
    cr_expect_eq(cnt, 0);
    cr_expect_eq(cb_gguf_arr_i64(g, "a.empty", 0, &s), 1);

    cr_expect_eq(cb_gguf_n_tensors(g), N_SPECS + 2);
    for (size_t i = 0; i < N_SPECS; i++) {
        const cb_gguf_tensor *t = cb_gguf_find_tensor(g, specs[i].name);
        cr_assert_not_null(t, "%s", specs[i].name);
        cr_expect_eq(t, cb_gguf_tensor_at(g, i));
        cr_expect_eq(t->type, specs[i].type);
        cr_expect_eq(t->n_dims, specs[i].nd);
        uint64_t n = 1;
        for (uint32_t d = 0; d < 4; d++) {
            uint64_t want = d < specs[i].nd ? specs[i].ne[d] : 1;
            cr_expect_eq(t->ne[d], want, "%s ne[%u]", t->name, d);
            n *= want;
        }
        cr_expect_eq(t->n_elems, n);
        cr_expect_eq(t->n_bytes, spec_bytes(&specs[i]));
        cr_expect_eq(t->offset % align, 0);
        cr_expect_eq((cb_gguf_data_offset(g) + t->offset) % align, 0);
        cr_expect_eq(memcmp(t->data, datas[i], t->n_bytes), 0, "%s data", t->name);
    }
    const cb_gguf_tensor *t = cb_gguf_find_tensor(g, "fn.q8");
    cr_assert_not_null(t);
    cr_expect_eq(t->n_bytes, 2 * 3 * 34);
    uint8_t want[204];
    fill_pattern((void *)5, N_SPECS, want, sizeof want);
    cr_expect_eq(memcmp(t->data, want, sizeof want), 0);
    t = cb_gguf_find_tensor(g, "zeros");
    cr_assert_not_null(t);
    const float *z = t->data;
    cr_expect(z[0] == 0 && z[1] == 0 && z[2] == 0);
    cr_expect_null(cb_gguf_find_tensor(g, "absent"));
    cr_expect_null(cb_gguf_tensor_at(g, N_SPECS + 2));
    cr_expect_eq(cb_gguf_file_size(g) % align, 0, "each tensor is followed by padding");
    cb_gguf_free(g);
    for (size_t i = 0; i < N_SPECS; i++) free(datas[i]);
    unlink(path);
}

Test(gguf, round_trip_v3_align32) { round_trip(3, 32); }
Test(gguf, round_trip_v3_align64) { round_trip(3, 64); }
Test(gguf, round_trip_v2_align32) { round_trip(2, 32); }
Test(gguf, round_trip_v2_align64) { round_trip(2, 64); }

Test(gguf, writer_errors_are_sticky_and_reported) {
    char path[256];
    tmp_path(path, sizeof path, "werr");
    cb_err e = {0};
    cb_gguf_writer *w;
    cr_expect_eq(cb_gguf_writer_new(1, 32, &w, &e), CB_EUSAGE);
    cr_expect_eq(cb_gguf_writer_new(3, 24, &w, &e), CB_EUSAGE);
    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    cr_expect_eq(cb_gguf_writer_set_u32(w, "k", 1), 0);
    cr_expect_eq(cb_gguf_writer_set_u32(w, "k", 2), CB_EUSAGE);
    cr_expect_eq(cb_gguf_writer_write(w, path, &e), CB_EUSAGE);
    cr_expect(strstr(e.msg, "duplicate key 'k'") != NULL, "%s", e.msg);
    cr_expect_eq(access(path, F_OK), -1, "no file written");
    cb_gguf_writer_free(w);

    uint64_t ne[2] = {33, 2};
    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    cr_expect_eq(cb_gguf_writer_add_tensor(w, "q", 11, 2, ne, NULL), CB_EUNSUP);
    cr_expect_eq(cb_gguf_writer_write(w, path, &e), CB_EUNSUP);
    cr_expect(strstr(e.msg, "Q3_K") != NULL, "%s", e.msg);
    cb_gguf_writer_free(w);
    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    cr_expect_eq(cb_gguf_writer_add_tensor(w, "q", CB_GGML_Q4_K, 2, ne, NULL), CB_EUSAGE);
    cr_expect_eq(cb_gguf_writer_write(w, path, &e), CB_EUSAGE);
    cr_expect(strstr(e.msg, "Q4_K needs ne[0] to be a multiple of 256") != NULL, "%s", e.msg);
    cb_gguf_writer_free(w);

    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    cr_expect_eq(cb_gguf_writer_add_tensor(w, "q", CB_GGML_Q8_0, 2, ne, NULL), CB_EUSAGE);
    cb_gguf_writer_free(w);

    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    ne[0] = 4;
    cr_expect_eq(cb_gguf_writer_add_tensor(w, "a", CB_GGML_F32, 2, ne, NULL), 0);
    cr_expect_eq(cb_gguf_writer_add_tensor(w, "a", CB_GGML_F32, 2, ne, NULL), CB_EUSAGE);
    cb_gguf_writer_free(w);
    cb_gguf_writer_free(NULL);
}

static int fill_fail(void *ctx, uint64_t idx, void *buf, uint64_t n) { return CB_EIO; }

Test(gguf, writer_fill_failure_leaves_no_file) {
    char path[256];
    tmp_path(path, sizeof path, "fillfail");
    cb_err e = {0};
    cb_gguf_writer *w;
    uint64_t ne[1] = {8};
    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    cr_assert_eq(cb_gguf_writer_add_tensor_fn(w, "t", CB_GGML_F32, 1, ne, fill_fail, NULL), 0);
    cr_expect_eq(cb_gguf_writer_write(w, path, &e), CB_EIO);
    cr_expect(strstr(e.msg, "'t'") != NULL, "%s", e.msg);
    cr_expect_eq(access(path, F_OK), -1);
    cr_expect_eq(cb_gguf_writer_write(w, "/nonexistent-dir/x.gguf", &e), CB_EIO);
    cb_gguf_writer_free(w);
}

Test(gguf, copy_kv_copies_prefix_only) {
    char src_path[256], dst_path[256];
    tmp_path(src_path, sizeof src_path, "cpsrc");
    tmp_path(dst_path, sizeof dst_path, "cpdst");
    cb_err e = {0};
    cb_gguf_writer *w;
    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    const char *toks[] = {"<unk>", "<s>", "</s>"};
    const float sc[] = {0, -1, -2};
    const int32_t ty[] = {2, 3, 3};
    cb_gguf_writer_set_str(w, "general.name", "src");
    cb_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    cb_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    cb_gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", sc, 3);
    cb_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", ty, 3);
    cb_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    cb_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", 1);
    cr_assert_eq(cb_gguf_writer_write(w, src_path, &e), 0, "%s", e.msg);
    cb_gguf_writer_free(w);

    cb_gguf *src;
    cr_assert_eq(cb_gguf_open(src_path, &src, &e), 0, "%s", e.msg);
    cr_assert_eq(cb_gguf_writer_new(2, 32, &w, &e), 0);
    cb_gguf_writer_set_str(w, "general.name", "dst");
    cr_expect_eq(cb_gguf_writer_copy_kv(w, src, "tokenizer."), 0);
    cb_gguf_free(src);
    cr_assert_eq(cb_gguf_writer_write(w, dst_path, &e), 0, "%s", e.msg);
    cb_gguf_writer_free(w);

    cb_gguf *g;
    cr_assert_eq(cb_gguf_open(dst_path, &g, &e), 0, "%s", e.msg);
    cr_expect_eq(cb_gguf_n_kv(g), 7);
    cb_gguf_str s;
    cr_expect_eq(cb_gguf_get_str(g, "general.name", &s), 0);
    cr_expect_eq(memcmp(s.ptr, "dst", 3), 0);
    cr_expect_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", 2, &s), 0);
    cr_expect_eq(s.len, 4);
    cr_expect_eq(memcmp(s.ptr, "</s>", 4), 0);
    float f;
    cr_expect_eq(cb_gguf_arr_f32(g, "tokenizer.ggml.scores", 2, &f), 0);
    cr_expect_eq(f, -2.0f);
    int64_t v;
    cr_expect_eq(cb_gguf_arr_i64(g, "tokenizer.ggml.token_type", 0, &v), 0);
    cr_expect_eq(v, 2);
    cr_expect_eq(cb_gguf_get_i64(g, "tokenizer.ggml.bos_token_id", &v), 0);
    cr_expect_eq(v, 1);
    int b;
    cr_expect_eq(cb_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b), 0);
    cr_expect_eq(b, 1);
    cb_gguf_free(g);
    unlink(src_path);
    unlink(dst_path);
}

/* ---- real files ------------------------------------------------------------ */

Test(gguf, reads_stories260K) {
    const char *dir = getenv("CAPBENCH_MODEL_DIR");
    if (!dir) cr_skip_test("CAPBENCH_MODEL_DIR is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/stories260K.gguf", dir);
    if (access(path, R_OK) != 0) cr_skip_test("%s is absent", path);
    cb_err e = {0};
    cb_gguf *g;
    cr_assert_eq(cb_gguf_open(path, &g, &e), 0, "%s", e.msg);
    cr_expect_eq(cb_gguf_version(g), 3);
    cr_expect_eq(cb_gguf_n_kv(g), 19);
    cr_expect_eq(cb_gguf_n_tensors(g), 48);
    cr_expect_eq(cb_gguf_alignment(g), 32);
    cr_expect_eq(cb_gguf_data_offset(g), 14176);
    cr_expect_eq(cb_gguf_file_size(g), 1185376);
    uint64_t u;
    cr_expect_eq(cb_gguf_get_u64(g, "llama.embedding_length", &u), 0);
    cr_expect_eq(u, 64);
    cr_expect_eq(cb_gguf_get_u64(g, "llama.block_count", &u), 0);
    cr_expect_eq(u, 5);
    cb_gguf_str s;
    cr_expect_eq(cb_gguf_get_str(g, "general.architecture", &s), 0);
    cr_expect_eq(s.len, 5);
    cr_expect_eq(memcmp(s.ptr, "llama", 5), 0);
    float eps;
    cr_expect_eq(cb_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &eps), 0);
    cr_expect_float_eq(eps, 1e-5f, 1e-9f);
    uint32_t et;
    uint64_t n;
    cr_expect_eq(cb_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n), 0);
    cr_expect_eq(et, CB_GGUF_STRING);
    cr_expect_eq(n, 512);
    cr_expect_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", 1, &s), 0);
    cr_expect_eq(s.len, 3);
    cr_expect_eq(memcmp(s.ptr, "<s>", 3), 0);
    const cb_gguf_tensor *t = cb_gguf_find_tensor(g, "token_embd.weight");
    cr_assert_not_null(t);
    cr_expect_eq(t->type, CB_GGML_F32);
    cr_expect_eq(t->ne[0], 64);
    cr_expect_eq(t->ne[1], 512);
    cr_expect_eq(t->offset, 0);
    t = cb_gguf_find_tensor(g, "blk.4.ffn_down.weight");
    cr_assert_not_null(t);
    cr_expect_eq(t->ne[0], 172);
    cr_expect_eq(t->ne[1], 64);
    cb_gguf_free(g);
}

Test(gguf, reads_llama_spm_vocab) {
    const char *dir = getenv("CAPBENCH_SHARED_DIR");
    if (!dir) cr_skip_test("CAPBENCH_SHARED_DIR is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/reference/tokenizer/ggml-vocab-llama-spm.gguf", dir);
    if (access(path, R_OK) != 0) cr_skip_test("%s is absent", path);
    cb_err e = {0};
    cb_gguf *g;
    cr_assert_eq(cb_gguf_open(path, &g, &e), 0, "%s", e.msg);
    cr_expect_eq(cb_gguf_n_tensors(g), 0);
    uint32_t et;
    uint64_t n;
    cr_expect_eq(cb_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n), 0);
    cr_expect_eq(n, 32000);
    cb_gguf_str s;
    cr_expect_eq(cb_gguf_arr_str(g, "tokenizer.ggml.tokens", 3, &s), 0);
    cr_expect_eq(s.len, 6);
    cr_expect_eq(memcmp(s.ptr, "<0x00>", 6), 0);
    cb_gguf_free(g);
}

Test(gguf, open_errors) {
    cb_err e = {0};
    cb_gguf *g;
    cr_expect_eq(cb_gguf_open("/nonexistent/model.gguf", &g, &e), CB_EIO);
    cr_expect(strstr(e.msg, "/nonexistent/model.gguf") != NULL, "%s", e.msg);
    cr_expect_eq(cb_gguf_open("/tmp", &g, &e), CB_EIO);
    char path[256];
    tmp_path(path, sizeof path, "empty");
    FILE *f = fopen(path, "wb");
    fclose(f);
    cr_expect_eq(cb_gguf_open(path, &g, &e), CB_EFORMAT);
    cr_expect(strstr(e.msg, "byte 0") != NULL, "%s", e.msg);
    cr_expect(strstr(e.msg, path) != NULL, "message names the file: %s", e.msg);
    unlink(path);
}

Test(gguf, type_names) {
    for (uint32_t t = 0; t < 40; t++) cr_expect_str_neq(cb_ggml_type_name(t), "?", "type %u", t);
    cr_expect_str_eq(cb_ggml_type_name(0), "F32");
    cr_expect_str_eq(cb_ggml_type_name(1), "F16");
    cr_expect_str_eq(cb_ggml_type_name(8), "Q8_0");
    cr_expect_str_eq(cb_ggml_type_name(12), "Q4_K");
    cr_expect_str_eq(cb_ggml_type_name(30), "BF16");
    cr_expect_str_eq(cb_ggml_type_name(39), "MXFP4");
    cr_expect_str_eq(cb_ggml_type_name(40), "?");
}

/* ---- malformed files -------------------------------------------------------- */

Test(gguf, malformed_header) {
    bb b;
    valid_small(&b);
    b.d[3] = 'X';
    expect_bad(&b, "magic", "bad magic");
    valid_small(&b);
    b.d[4] = 1;
    expect_bad(&b, "version 1", "version 1");
    valid_small(&b);
    b.d[4] = 4;
    expect_bad(&b, "version 4", "version 4");
    hdr(&b, 3, 1000000000000000000ull, 0);
    zeros(&b, 1176);
    expect_bad(&b, "n_tensors 1000000000000000000 exceeds what a 1200-byte file can hold", "n_tensors huge");
    hdr(&b, 3, 0, UINT64_MAX);
    zeros(&b, 64);
    expect_bad(&b, "n_kv", "n_kv huge");
    hdr(&b, 3, 3, 3);
    zeros(&b, 100);
    expect_bad(&b, "exceed", "combined counts");
    bb e = {.n = 0};
    expect_bad(&e, "empty", "empty");
}

Test(gguf, malformed_kv) {
    bb b;
    hdr(&b, 3, 0, 1);
    u64(&b, 1000);
    put(&b, "abc", 3);
    zeros(&b, 10);
    expect_bad(&b, "key length 1000", "key length past EOF");

    hdr(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, CB_GGUF_STRING);
    u64(&b, UINT64_MAX - 3);
    zeros(&b, 8);
    expect_bad(&b, "string value length", "string length huge");

    hdr(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, 13);
    zeros(&b, 8);
    expect_bad(&b, "unknown value type 13", "unknown value type");

    hdr(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, CB_GGUF_ARRAY);
    u32(&b, CB_GGUF_U32);
    u64(&b, 1ull << 62);
    zeros(&b, 16);
    expect_bad(&b, "array of 4611686018427387904 u32", "array count huge");

    hdr(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, CB_GGUF_ARRAY);
    u32(&b, CB_GGUF_STRING);
    u64(&b, 1ull << 40);
    zeros(&b, 16);
    expect_bad(&b, "strings exceeds", "string array count huge");

    hdr(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, CB_GGUF_ARRAY);
    u32(&b, CB_GGUF_ARRAY);
    u64(&b, 1);
    u32(&b, CB_GGUF_U8);
    u64(&b, 1);
    zeros(&b, 8);
    expect_bad(&b, "arrays of arrays", "nested array");

    hdr(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, CB_GGUF_ARRAY);
    u32(&b, 77);
    u64(&b, 1);
    zeros(&b, 8);
    expect_bad(&b, "unknown array element type 77", "bad element type");

    hdr(&b, 3, 0, 2);
    kv_u32(&b, "dup", 1);
    kv_u32(&b, "dup", 2);
    expect_bad(&b, "duplicate key 'dup'", "duplicate key");

    hdr(&b, 3, 0, 1);
    kv_u32(&b, "", 1);
    zeros(&b, 4);
    expect_bad(&b, "key is empty", "empty key");

    hdr(&b, 3, 0, 1);
    u64(&b, 3);
    put(&b, "a\0b", 3);
    u32(&b, CB_GGUF_U8);
    zeros(&b, 4);
    expect_bad(&b, "NUL", "NUL in key");

    hdr(&b, 3, 0, 1);
    str(&b, "k");
    u32(&b, CB_GGUF_U64);
    u32(&b, 0);
    expect_bad(&b, "expected u64", "scalar past EOF");
}

Test(gguf, malformed_alignment) {
    bb b;
    uint32_t bad[] = {0, 3, 48};
    for (size_t i = 0; i < 3; i++) {
        hdr(&b, 3, 0, 1);
        kv_u32(&b, "general.alignment", bad[i]);
        zeros(&b, 16);
        expect_bad(&b, "not a nonzero power of two", "alignment");
    }
    hdr(&b, 3, 0, 1);
    str(&b, "general.alignment");
    u32(&b, CB_GGUF_U64);
    u64(&b, 32);
    zeros(&b, 16);
    expect_bad(&b, "expected u32", "alignment not u32");
}

/* One tensor [ne...] of `type` at `off`, with `data` bytes of data after padding. */
static void one_tensor(bb *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off,
                       size_t data) {
    hdr(b, 3, 1, 0);
    tinfo(b, name, nd, ne, type, off);
    pad(b, 32);
    zeros(b, data);
}

Test(gguf, malformed_tensors) {
    bb b;
    uint64_t ne[5] = {32, 2, 1, 1, 1};
    one_tensor(&b, "t", 0, ne, CB_GGML_F32, 0, 256);
    expect_bad(&b, "n_dims 0", "n_dims 0");
    one_tensor(&b, "t", 5, ne, CB_GGML_F32, 0, 256);
    expect_bad(&b, "n_dims 5", "n_dims 5");
    uint64_t ne0[2] = {32, 0};
    one_tensor(&b, "t", 2, ne0, CB_GGML_F32, 0, 256);
    expect_bad(&b, "ne[1] is 0", "ne 0");
    uint64_t big[3] = {1ull << 32, 1ull << 32, 2};
    one_tensor(&b, "t", 3, big, CB_GGML_F32, 0, 256);
    expect_bad(&b, "overflows", "element count overflow");
    uint64_t bytes_ovf[1] = {1ull << 62};
    one_tensor(&b, "t", 1, bytes_ovf, CB_GGML_F32, 0, 256);
    expect_bad(&b, "byte size overflows", "byte size overflow");
    one_tensor(&b, "blk.0.attn_q.weight", 2, ne, 10, 0, 256);
    expect_bad(&b,
               "tensor 'blk.0.attn_q.weight': type Q2_K is not supported (supported: F32, F16, BF16, Q8_0, "
               "Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
               "Q2_K");
    one_tensor(&b, "t", 2, ne, 15, 0, 256);
    expect_bad(&b, "type Q8_K is not supported", "Q8_K (activation-only type)");
    one_tensor(&b, "t", 2, ne, 1000, 0, 256);
    expect_bad(&b, "unknown type id 1000", "unknown type id");
    uint64_t q[2] = {33, 1};
    one_tensor(&b, "t", 2, q, CB_GGML_Q8_0, 0, 256);
    expect_bad(&b, "multiple of 32", "Q8_0 ne0");
    static const uint32_t blocked[] = {CB_GGML_Q4_0, CB_GGML_Q4_1, CB_GGML_Q5_0, CB_GGML_Q5_1};
    for (int i = 0; i < 4; i++) {
        one_tensor(&b, "t", 2, q, blocked[i], 0, 256);
        expect_bad(&b, "needs ne[0] to be a multiple of 32, got 33", cb_ggml_type_name(blocked[i]));
    }
    uint64_t k32[2] = {32, 1};
    static const uint32_t kq[] = {CB_GGML_Q4_K, CB_GGML_Q5_K, CB_GGML_Q6_K};
    for (int i = 0; i < 3; i++) {
        one_tensor(&b, "t", 2, k32, kq[i], 0, 256);
        expect_bad(&b, "needs ne[0] to be a multiple of 256, got 32", cb_ggml_type_name(kq[i]));
    }
    one_tensor(&b, "t", 2, ne, CB_GGML_F32, 16, 512);
    expect_bad(&b, "not a multiple of the alignment", "offset unaligned");
    one_tensor(&b, "t", 2, ne, CB_GGML_F32, 0, 255);
    expect_bad(&b, "runs past the end", "data past EOF");
    one_tensor(&b, "t", 2, ne, CB_GGML_F32, 1ull << 60, 256);
    expect_bad(&b, "runs past the end", "offset far past EOF");
    one_tensor(&b, "t", 2, ne, CB_GGML_F32, UINT64_MAX - 31, 256);
    expect_bad(&b, "runs past the end", "offset + size overflows");

    hdr(&b, 3, 2, 0);
    tinfo(&b, "same", 1, ne, CB_GGML_F32, 0);
    tinfo(&b, "same", 1, ne, CB_GGML_F32, 128);
    pad(&b, 32);
    zeros(&b, 256);
    expect_bad(&b, "duplicate tensor name 'same'", "duplicate tensor");

    hdr(&b, 3, 1, 0);
    tinfo(&b, "t", 1, ne, CB_GGML_F32, 0);
    expect_bad(&b, "padding", "missing padding");
}

/* Tensor data regions that share a byte are refused with both byte ranges. */
Test(gguf, overlapping_tensor_data) {
    bb b = {.n = 0};
    uint64_t ne[1] = {32}; /* 128 bytes of F32 */
    /* header 24 + 2 x 33-byte infos = 90, padded: data starts at byte 96 */
    hdr(&b, 3, 2, 0);
    tinfo(&b, "b", 1, ne, CB_GGML_F32, 64);
    tinfo(&b, "a", 1, ne, CB_GGML_F32, 0);
    pad(&b, 32);
    zeros(&b, 256);
    expect_bad(&b, "byte 160: tensor data overlaps: 'a' occupies bytes 96..223 and 'b' starts at byte 160 "
                   "(data offsets 0 and 64)",
               "overlap");
    hdr(&b, 3, 2, 0); /* the same region twice */
    tinfo(&b, "a", 1, ne, CB_GGML_F32, 0);
    tinfo(&b, "b", 1, ne, CB_GGML_F32, 0);
    pad(&b, 32);
    zeros(&b, 256);
    expect_bad(&b, "overlaps", "same offset");
    hdr(&b, 3, 2, 0); /* back to back is fine */
    tinfo(&b, "a", 1, ne, CB_GGML_F32, 128);
    tinfo(&b, "b", 1, ne, CB_GGML_F32, 0);
    pad(&b, 32);
    zeros(&b, 256);
    cb_gguf *g = NULL;
    cb_err e = {0};
    cr_expect_eq(cb_gguf_open_mem(b.d, b.n, &g, &e), 0, "%s", e.msg);
    cb_gguf_free(g);
}

Test(gguf, truncation_at_every_byte) {
    char path[256];
    tmp_path(path, sizeof path, "trunc");
    cb_err e = {0};
    cb_gguf_writer *w;
    cr_assert_eq(cb_gguf_writer_new(3, 32, &w, &e), 0);
    const char *strs[] = {"a", "bc"};
    const float fl[] = {1, 2};
    cb_gguf_writer_set_str(w, "general.architecture", "llama");
    cb_gguf_writer_set_u32(w, "x.u32", 5);
    cb_gguf_writer_set_arr_str(w, "x.strs", strs, 2);
    cb_gguf_writer_set_arr_f32(w, "x.f32", fl, 2);
    uint64_t ne[2] = {32, 2};
    cb_gguf_writer_add_tensor(w, "a", CB_GGML_Q8_0, 2, ne, NULL);
    cb_gguf_writer_add_tensor(w, "b", CB_GGML_F16, 1, ne, NULL);
    cr_assert_eq(cb_gguf_writer_write(w, path, &e), 0, "%s", e.msg);
    cb_gguf_writer_free(w);
    size_t len;
    uint8_t *full = read_all(path, &len);
    unlink(path);
    cb_gguf *g;
    cr_assert_eq(cb_gguf_open_mem(full, len, &g, &e), 0, "%s", e.msg);
    /* the last tensor "b" ends at data_start + 128 + 64; anything shorter must fail */
    uint64_t need = cb_gguf_data_offset(g) + cb_gguf_find_tensor(g, "b")->offset + 64;
    cb_gguf_free(g);
    for (size_t n = 0; n < need; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, full, n);
        cb_gguf *h = NULL;
        cb_err e2 = {0};
        int rc = cb_gguf_open_mem(cut, n, &h, &e2);
        cr_expect_eq(rc, CB_EFORMAT, "truncated to %zu bytes: rc %d", n, rc);
        cr_expect(strstr(e2.msg, "byte") != NULL, "truncated to %zu: %s", n, e2.msg);
        cr_expect_null(h);
        free(cut);
    }
    for (size_t n = need; n <= len; n++) {
        cb_gguf *h = NULL;
        cr_expect_eq(cb_gguf_open_mem(full, n, &h, &e), 0, "%zu bytes: %s", n, e.msg);
        cb_gguf_free(h);
    }
    free(full);
}
