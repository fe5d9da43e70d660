/* common/sha256.c — SHA-256 through OpenSSL libcrypto's EVP digest interface.
 *
 * The only file that includes OpenSSL headers. It wraps EVP_MD_CTX in an
 * opaque streaming context, and adds one-shot helpers for buffers and files.
 * It does not implement SHA-256 itself.
 */
#include "common/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cb_sha256 {
    EVP_MD_CTX *md;
    int failed; /* an EVP call returned an error */
};

int cb_sha256_init(cb_sha256 **out, cb_err *err) {
    *out = NULL;
    cb_sha256 *s = calloc(1, sizeof *s);
    if (!s) return cb_err_set(err, CB_ENOMEM, "sha256: out of memory");
    s->md = EVP_MD_CTX_new();
    if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
        cb_sha256_free(s);
        return cb_err_set(err, CB_ERUNTIME, "sha256: libcrypto could not start a SHA-256 digest");
    }
    *out = s;
    return 0;
}

void cb_sha256_update(cb_sha256 *s, const void *data, size_t n) {
    if (n && EVP_DigestUpdate(s->md, data, n) != 1) s->failed = 1;
}

int cb_sha256_final(cb_sha256 *s, uint8_t raw[32], char hex[65]) {
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (hex) hex[0] = 0;
    if (s->failed || EVP_DigestFinal_ex(s->md, d, &len) != 1 || len != 32) {
        s->failed = 1;
        return CB_ERUNTIME;
    }
    if (raw) memcpy(raw, d, 32);
    if (hex) {
        static const char digits[] = "0123456789abcdef";
        for (int i = 0; i < 32; i++) {
            hex[2 * i] = digits[d[i] >> 4];
            hex[2 * i + 1] = digits[d[i] & 15];
        }
        hex[64] = 0;
    }
    return 0;
}

void cb_sha256_free(cb_sha256 *s) {
    if (!s) return;
    EVP_MD_CTX_free(s->md);
    free(s);
}

void cb_sha256_hex(const void *data, size_t n, char hex[65]) {
    cb_sha256 *s;
    hex[0] = 0;
    if (cb_sha256_init(&s, NULL)) return;
    cb_sha256_update(s, data, n);
    cb_sha256_final(s, NULL, hex);
    cb_sha256_free(s);
}

int cb_sha256_file(const char *path, char hex[65], int64_t *size, cb_err *err) {
    int rc = 0, fd = -1;
    cb_sha256 *s = NULL;
    uint8_t *buf = NULL;
    int64_t total = 0;
    enum { CHUNK = 1 << 20 };
    hex[0] = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = cb_err_set(err, CB_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (!(buf = malloc(CHUNK))) {
        rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory for the read buffer", path);
        goto out;
    }
    if ((rc = cb_sha256_init(&s, err))) goto out;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = cb_err_set(err, CB_EIO, "%s: read failed at byte %lld: %s", path, (long long)total,
                            strerror(errno));
            goto out;
        }
        if (n == 0) break;
        cb_sha256_update(s, buf, (size_t)n);
        total += n;
    }
    if (cb_sha256_final(s, NULL, hex)) {
        rc = cb_err_set(err, CB_ERUNTIME, "%s: libcrypto SHA-256 failed", path);
        goto out;
    }
    if (size) *size = total;
out:
    cb_sha256_free(s);
    free(buf);
    if (fd >= 0) close(fd);
    return rc;
}
