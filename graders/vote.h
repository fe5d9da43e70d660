/* graders/vote.h — majority vote over extracted answers (self-consistency).
 * Ties go to the answer whose first occurrence is the earliest sample. */
#ifndef CB_VOTE_H
#define CB_VOTE_H

/* answers[i] is sample i's extracted answer, or NULL when sample i was
 * unparsed (it takes no part). Returns the index of the first sample holding
 * the winning answer, or -1 when every answer is NULL. *count receives the
 * winner's votes and *tie 1 when another answer had as many (both may be NULL). */
int cb_majority_vote(const char *const *answers, int n, int *count, int *tie);

#endif
