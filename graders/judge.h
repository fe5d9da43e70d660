/* graders/judge.h — reading what a judge model wrote (TASKS.md 2.5, 3.4) and
 * the rule-based measures judged families share: the skill-mix rubric table,
 * the 1-5 rating of a CrossEval judgement, the two 0-10 scores of a
 * Struc-Bench P-Score judgement, sentence counting. Pure functions
 * over text: no model is called here (the scheduler sends judge requests; see
 * tasks/task.h next_round). Judgements are untrusted text: every scan is
 * bounded by the terminator, and tests/fuzz/fuzz_judge.c runs these parsers on
 * arbitrary bytes. */
#ifndef CB_JUDGE_H
#define CB_JUDGE_H

#include <stddef.h>

#define CB_RUBRIC_MAX 16 /* k + 3 with k <= 13 */

/* Skill-mix rubric (2.5): k skill criteria (skill names, as listed to the
 * judge) then topic, sense, limit. Parses the table after "Here's the grading
 * table:" (or the whole text) and before "Explanation:"; rows are matched to
 * criteria by name (the skill name, or "topic"/"pertains", "sense", "at most"),
 * else by position; the fallback format is lines "Point
 * earned: 0|1" in order. OUT points[0..k+3): 0/1, or -1 where no valid point
 * was found. Returns the number of valid points (k + 3 when the judgement is
 * complete). */
int cb_judge_parse_rubric(const char *judgement, const char *const *skills, int k, int points[CB_RUBRIC_MAX]);

/* CrossEval rating (3.4): the first "X/5" or "X out of 5" (optionally
 * bracketed) after the last "evaluation score" heading, else the last one in
 * the text. Returns 1 and writes *rating when found (any number; callers check
 * 1..5), else 0. */
int cb_judge_parse_rating(const char *judgement, double *rating);

/* Struc-Bench P-Score judgement (4.5): the two scores of one call. Reads,
 * after the last "</think>" when there is one, every ``` fence whose info
 * string is empty or "json" (any case) and takes the last whose content
 * starts with a JSON object holding both "content_similarity" and
 * "structural_similarity" (numbers, or strings that are a plain decimal
 * number); failing that, the last `content_similarity` and the last
 * `structural_similarity` in the text (the key with or without quotes, then
 * ':' and a plain decimal number, optionally quoted). Each score must lie in
 * [0, 10] (a decimal such as 7.5 is read as written); anything else makes
 * that source unreadable. Returns 1 and writes both scores, else 0 (the
 * caller re-asks or counts judge_failed; never a zero score). */
int cb_judge_parse_similarity(const char *judgement, double *content, double *structure);

/* Sentences of a text (2.5 override 1): common abbreviations ("Mr. ", "e.g. ",
 * ...) do not end a sentence; a sentence ends at [.!?] plus closing quotes or
 * brackets, whitespace, then an opening quote or bracket and [A-Z0-9]. An
 * empty text has 0. `single_space` = 1 applies the reference implementation's
 * rule instead (exactly one space between the two sentences). */
int cb_count_sentences(const char *text, int single_space);

/* Words (whitespace-separated runs) of a text. */
int cb_count_words(const char *text);

#endif
