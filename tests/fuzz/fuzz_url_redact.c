/* tests/fuzz/fuzz_url_redact.c — libFuzzer target for common/url.c, which
 * cleans server error text and URLs before they are printed or stored.
 * Checks beyond "no crash": the returned length equals what a large enough
 * buffer receives, a small buffer holds a prefix of it, the result never
 * contains userinfo again (redacting twice changes nothing), and the in-place
 * form agrees with the copying one whenever the result fits. */
#include "common/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = malloc(size + 1);
    if (!in) return 0;
    memcpy(in, data, size);
    in[size] = '\0'; /* text up to the first NUL, as C strings are */
    size_t need = cb_url_redact(in, NULL, 0);
    char *full = malloc(need + 1);
    if (!full) {
        free(in);
        return 0;
    }
    if (cb_url_redact(in, full, need + 1) != need || strlen(full) != need) abort();
    if (cb_url_has_userinfo(full) && strstr(full, "[redacted]") == NULL) abort();
    char twice[64];
    size_t n2 = cb_url_redact(full, twice, sizeof twice);
    if (n2 != need || strncmp(twice, full, sizeof twice - 1) != 0) abort();
    char small[8];
    cb_url_redact(in, small, sizeof small);
    if (strncmp(small, full, strlen(small)) != 0) abort();
    size_t cap = strlen(in) + 16;
    char *buf = malloc(cap);
    if (buf) {
        memcpy(buf, in, strlen(in) + 1);
        cb_url_redact_inplace(buf, cap);
        if (need < cap && strcmp(buf, full) != 0) abort();
        free(buf);
    }
    free(full);
    free(in);
    return 0;
}
