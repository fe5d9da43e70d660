/* runner/backend.c — helpers shared by all backends. */
#include "runner/backend.h"

#include <stdlib.h>
#include <string.h>

void cb_response_clear(cb_response *r) {
    if (!r) return;
    free(r->error);
    free(r->text);
    free(r->rendered_prompt);
    free(r->finish_reason);
    free(r->token_logprobs);
    free(r->token_spans);
    memset(r, 0, sizeof *r);
}
