/* graders/grader_priv.h — the body of cb_grader_ctx, shared by the graders/
 * files only (not part of the public interface). */
#ifndef CB_GRADER_PRIV_H
#define CB_GRADER_PRIV_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "graders/grader.h"

enum { CB_RE_NUMWORD_EN, CB_RE_NUMWORD_ES, CB_RE_COUNT };

struct cb_grader_ctx {
    pcre2_code *re[CB_RE_COUNT];
    pcre2_match_data *md;   /* shared by every pattern (one match at a time) */
    cb_tokenize_fn tokenize;
    void *tok_user;
};

#endif
