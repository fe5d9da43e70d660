/* tasks/cross_capability.h — pieces of the cross-capability family
 * (tasks/cross_capability.c, TASKS.md section 3) that tests and tools use
 * directly: the trace-program semantics, the 1-5 -> 1-100 map, the Spanish
 * detector and the judge prompt. The family itself is reached through the
 * registry (tasks/task.h). */
#ifndef CB_TASKS_CROSS_CAPABILITY_H
#define CB_TASKS_CROSS_CAPABILITY_H

#include <stdint.h>

typedef struct cJSON cJSON;

/* The C&R trace program of 3.2 executed in C: x = A, y = B; for i in
 * range(N): (for j in range(K) when K > 0:) if (x + i (+ j)) % M == 0: y += x
 * else x += C; returns x + y. M >= 1. */
int64_t cb_cross_trace(int64_t A, int64_t B, int64_t C, int64_t M, int64_t N, int64_t K);

/* r' = (r - 1) * 24.75 + 1 (3.5). */
double cb_cross_scale(double r);

/* "Response is Spanish" (3.3): >= 3 hits in the two stopword lists
 * (tasks/data/stopwords_es.txt, stopwords_en.txt) with >= 60% Spanish; with
 * fewer hits, marker_es (the answer marker was "Respuesta:") decides. */
int cb_cross_is_spanish(const char *text, int marker_es);

/* The 3.4 judge user prompt for a file-mode item's meta and a response
 * (malloc'd; NULL on allocation failure). */
char *cb_cross_judge_prompt(const cJSON *meta, const char *response);

#endif
