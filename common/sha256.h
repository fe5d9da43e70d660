/* common/sha256.h — SHA-256 of buffers, streams and files (hex digests).
 *
 * Used to pin model files (stored with every result), config hashes for
 * --resume, and determinism checks of generated models. The hashing itself is
 * OpenSSL libcrypto's EVP interface; this header keeps OpenSSL out of every
 * other module (only common/sha256.c includes it).
 */
#ifndef CB_SHA256_H
#define CB_SHA256_H

#include "common/err.h"

#include <stddef.h>
#include <stdint.h>

/* Streaming context: cb_sha256_init, any number of cb_sha256_update, then
 * cb_sha256_final, then cb_sha256_free. Opaque; one per thread. */
typedef struct cb_sha256 cb_sha256;

/* Allocates a fresh context in *out. Errors: CB_ENOMEM, CB_ERUNTIME (libcrypto failed). */
int cb_sha256_init(cb_sha256 **out, cb_err *err);
/* Hashes n more bytes of data (data may be NULL when n == 0). */
void cb_sha256_update(cb_sha256 *s, const void *data, size_t n);
/* Writes the digest: raw (32 bytes, may be NULL) and hex (64 lowercase hex
 * digits + NUL, may be NULL). The context cannot be updated afterwards.
 * Returns 0, or CB_ERUNTIME if libcrypto failed at any point. */
int cb_sha256_final(cb_sha256 *s, uint8_t raw[32], char hex[65]);
void cb_sha256_free(cb_sha256 *s); /* NULL is a no-op */

/* One-shot digest of a buffer into hex[65]. On the (allocation) failure of
 * libcrypto, hex is set to the empty string. */
void cb_sha256_hex(const void *data, size_t n, char hex[65]);

/* Hashes the file at path in 1 MiB reads: hex digest into hex[65] and, when
 * size is non-NULL, its length in bytes. Errors: CB_EIO (open/read), CB_ENOMEM,
 * CB_ERUNTIME. */
int cb_sha256_file(const char *path, char hex[65], int64_t *size, cb_err *err);

#endif
