/* tests/common/test_sha256.c — SHA-256 helpers against known digests:
 * FIPS 180-2 vectors ("abc", empty, the 448-bit two-block message), streaming
 * in uneven pieces equal to one-shot, file hashing with size, a missing file,
 * and the pinned sha256 of the shared stories260K.gguf (skipped if absent).
 */
#include "common/sha256.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define TWO_BLOCK "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define TWO_BLOCK_MSG "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

Test(sha256, known_vectors) {
    char hex[65];
    cb_sha256_hex("abc", 3, hex);
    cr_expect_str_eq(hex, ABC);
    cb_sha256_hex(NULL, 0, hex);
    cr_expect_str_eq(hex, EMPTY);
    cb_sha256_hex(TWO_BLOCK_MSG, strlen(TWO_BLOCK_MSG), hex);
    cr_expect_str_eq(hex, TWO_BLOCK);
}

Test(sha256, streaming_matches_one_shot) {
    cb_sha256 *s;
    cb_err e = {0};
    cr_assert_eq(cb_sha256_init(&s, &e), 0, "%s", e.msg);
    const char *m = TWO_BLOCK_MSG;
    size_t n = strlen(m);
    cb_sha256_update(s, m, 1);
    cb_sha256_update(s, m + 1, 0);
    cb_sha256_update(s, m + 1, 30);
    cb_sha256_update(s, m + 31, n - 31);
    char hex[65];
    uint8_t raw[32];
    cr_expect_eq(cb_sha256_final(s, raw, hex), 0);
    cr_expect_str_eq(hex, TWO_BLOCK);
    cr_expect_eq(raw[0], 0x24);
    cr_expect_eq(raw[31], 0xc1);
    cb_sha256_free(s);
    cb_sha256_free(NULL);
}

Test(sha256, file_and_size) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/cb_test_sha256_%ld", (long)getpid());
    /* 3 MiB + 3 bytes spans several 1 MiB reads */
    size_t n = (3u << 20) + 3;
    char *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (char)(i * 31 + 7);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    char want[65], hex[65];
    cb_sha256_hex(buf, n, want);
    int64_t size = -1;
    cb_err e = {0};
    cr_assert_eq(cb_sha256_file(path, hex, &size, &e), 0, "%s", e.msg);
    cr_expect_str_eq(hex, want);
    cr_expect_eq(size, (int64_t)n);
    unlink(path);
    free(buf);
    cr_expect_eq(cb_sha256_file(path, hex, &size, &e), CB_EIO);
    cr_expect(strstr(e.msg, path) != NULL, "%s", e.msg);
}

Test(sha256, stories260K_pinned_digest) {
    const char *dir = getenv("CAPBENCH_MODEL_DIR");
    if (!dir) cr_skip_test("CAPBENCH_MODEL_DIR is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/stories260K.gguf", dir);
    if (access(path, R_OK) != 0) cr_skip_test("%s is absent", path);
    char hex[65];
    int64_t size;
    cb_err e = {0};
    cr_assert_eq(cb_sha256_file(path, hex, &size, &e), 0, "%s", e.msg);
    cr_expect_str_eq(hex, "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
    cr_expect_eq(size, 1185376);
}
