/* graders/editdist.h — Levenshtein distance (unit costs) on Unicode code
 * points of UTF-8 strings and on token-id arrays: the continuous companions of
 * exact match (TASKS.md 0.6). O(n*m) time, O(min(n,m)) memory; callers pass
 * extracted answers and gold strings, not whole responses. */
#ifndef CB_EDITDIST_H
#define CB_EDITDIST_H

#include <stddef.h>
#include <stdint.h>

/* Number of code points of s (an invalid byte counts as one). */
size_t cb_utf8_count(const char *s);

/* Decodes s into code points (invalid bytes map to 0xDC00+byte); writes at
 * most cap and returns the total count. */
size_t cb_utf8_decode(const char *s, uint32_t *cps, size_t cap);

/* Character edit distance between a and b (NULL = ""); -1 on allocation failure. */
int64_t cb_edit_distance_utf8(const char *a, const char *b);

/* Edit distance between token sequences a[0..na) and b[0..nb); -1 on
 * allocation failure. */
int64_t cb_edit_distance_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb);

#endif
