/* tests/common/test_url.c — URL credential redaction: a table of texts with and
 * without userinfo, truncation, and the in-place form. */
#include "common/url.h"

#include <criterion/criterion.h>
#include <string.h>

Test(url, redact_table) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"http://user:pass@host:8080/v1", "http://[redacted]@host:8080/v1"},
        {"https://tok@h/x", "https://[redacted]@h/x"},
        {"http://host:8080/v1", "http://host:8080/v1"},
        {"no url here", "no url here"},
        {"", ""},
        {"mail me: a@b.c", "mail me: a@b.c"},
        {"http://u:p@h", "http://[redacted]@h"},
        {"http://a:b@c@host/p", "http://[redacted]@host/p"},          /* the last '@' ends userinfo */
        {"http://host/path@not-userinfo", "http://host/path@not-userinfo"}, /* '@' after the path starts */
        {"http://host?q=a@b", "http://host?q=a@b"},
        {"HTTP 401 from http://x:y@h1/v1/chat and https://z@h2/",
         "HTTP 401 from http://[redacted]@h1/v1/chat and https://[redacted]@h2/"},
        {"'http://u:p@h' quoted", "'http://[redacted]@h' quoted"},
        {"://@", "://[redacted]@"},
        {"hf://org/repo/f.gguf", "hf://org/repo/f.gguf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        size_t n = cb_url_redact(cases[i].in, out, sizeof out);
        cr_assert_str_eq(out, cases[i].out, "case %zu: %s", i, cases[i].in);
        cr_assert_eq(n, strlen(cases[i].out), "case %zu", i);
        cr_assert_eq(cb_url_has_userinfo(cases[i].in), strcmp(cases[i].in, cases[i].out) != 0, "case %zu", i);
    }
    cr_assert_eq(cb_url_redact(NULL, NULL, 0), 0);
}

Test(url, truncation_and_in_place) {
    char small[12];
    size_t n = cb_url_redact("http://user:pass@host/v1", small, sizeof small);
    cr_assert_eq(n, strlen("http://[redacted]@host/v1"));
    cr_assert_str_eq(small, "http://[red");
    char buf[64] = "see http://a@h/x";
    cb_url_redact_inplace(buf, sizeof buf);
    cr_assert_str_eq(buf, "see http://[redacted]@h/x");
    /* a full buffer is cut, never left holding the secret */
    char tight[] = "http://ab@h";
    cb_url_redact_inplace(tight, sizeof tight);
    cr_assert_str_eq(tight, "http://[red");
    cr_assert_null(strstr(tight, "ab@"));
    char clean[32] = "http://host/v1";
    cb_url_redact_inplace(clean, sizeof clean);
    cr_assert_str_eq(clean, "http://host/v1");
}
