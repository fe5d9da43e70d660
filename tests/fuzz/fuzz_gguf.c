/* tests/fuzz/fuzz_gguf.c — libFuzzer target for the GGUF reader.
 *
 * Opens the input with cb_gguf_open_mem and, when it is accepted, walks every
 * key (typed getters, every array element, every string byte), every tensor
 * (lookup by name, first and last data byte, and the first row decoded with
 * cb_dequantize_row, which covers the block formats on arbitrary bytes) and
 * copies all metadata into a writer, so ASan/UBSan see every pointer the
 * reader hands out. Rejected
 * inputs must carry a CB_EFORMAT message that names a byte offset.
 */
#include "engine/gguf.h"
#include "kernels/kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

static void touch_str(cb_gguf_str s) {
    uint64_t h = s.len;
    for (uint64_t i = 0; i < s.len; i++) h = h * 31 + (uint8_t)s.ptr[i];
    sink += h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cb_gguf *g = NULL;
    cb_err e = {0};
    int rc = cb_gguf_open_mem(data, size, &g, &e);
    if (rc) {
        if (rc == CB_EFORMAT && !strstr(e.msg, "byte")) abort();
        return 0;
    }
    for (uint64_t i = 0; i < cb_gguf_n_kv(g); i++) {
        const char *k = cb_gguf_key(g, i);
        if (cb_gguf_find_key(g, k) != (int64_t)i) abort();
        uint64_t u;
        int64_t s;
        float f;
        int b;
        cb_gguf_str str;
        uint32_t et;
        uint64_t n;
        if (!cb_gguf_get_u64(g, k, &u)) sink += u;
        if (!cb_gguf_get_i64(g, k, &s)) sink += (uint64_t)s;
        if (!cb_gguf_get_f32(g, k, &f)) sink += (uint64_t)(f == f);
        if (!cb_gguf_get_bool(g, k, &b)) sink += (uint64_t)b;
        if (!cb_gguf_get_str(g, k, &str)) touch_str(str);
        if (!cb_gguf_get_arr(g, k, &et, &n)) {
            for (uint64_t j = 0; j <= n; j++) { /* j == n probes the out-of-range path */
                if (!cb_gguf_arr_str(g, k, j, &str)) touch_str(str);
                if (!cb_gguf_arr_f32(g, k, j, &f)) sink += (uint64_t)(f == f);
                if (!cb_gguf_arr_i64(g, k, j, &s)) sink += (uint64_t)s;
            }
        }
        sink += cb_gguf_kv_type(g, i);
    }
    for (uint64_t i = 0; i < cb_gguf_n_tensors(g); i++) {
        const cb_gguf_tensor *t = cb_gguf_tensor_at(g, i);
        if (cb_gguf_find_tensor(g, t->name) != t) abort();
        const uint8_t *p = t->data;
        if (t->n_bytes) sink += p[0] + p[t->n_bytes - 1];
        sink += t->ne[0] + t->ne[3] + t->offset + t->type;
        /* every accepted type has a row decoder; one row must lie inside the data */
        size_t rb = cb_row_bytes(t->type, (int64_t)t->ne[0]);
        if (!rb || rb > t->n_bytes) abort();
        if (t->ne[0] <= 4096) {
            static float row[4096];
            cb_dequantize_row(t->type, t->data, row, (int64_t)t->ne[0]);
            sink += (uint64_t)(row[0] == row[0]) + (uint64_t)(row[t->ne[0] - 1] == row[t->ne[0] - 1]);
        }
    }
    cb_gguf_writer *w = NULL;
    if (!cb_gguf_writer_new(3, 32, &w, &e)) {
        cb_gguf_writer_copy_kv(w, g, "");
        cb_gguf_writer_free(w);
    }
    sink += cb_gguf_version(g) + cb_gguf_alignment(g) + cb_gguf_file_size(g) + cb_gguf_data_offset(g);
    cb_gguf_free(g);
    return 0;
}
