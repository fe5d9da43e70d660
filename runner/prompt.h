/* runner/prompt.h — the one place a request becomes prompt text, for every
 * backend that sends text (the local engine, and the `completions` mode of the
 * OpenAI-compatible backend). Because both call this, a model with chat template
 * `none` (or no template) sees exactly the same prompt, byte for byte, whichever
 * backend runs it, and the stored prompts of the two runs are equal.
 *
 *   GENERATE       r->prompt verbatim when set; else r->messages rendered with
 *                  the template (engine/chat.h) including the assistant prefix.
 *   LOGLIKELIHOOD  the same context, then r->cont_prefix (context, never
 *                  scored); r->continuation is not part of the returned text.
 *
 * Template `none` renders plain text ("Q1\nA1\n\nQ2\n" for a few-shot
 * conversation, see chat.h) and never puts BOS text in it: BOS is added by
 * whoever tokenizes (the engine per the vocab, or the server). Other templates
 * put bos_text first when given (chat.h's BOS rule): the local backend passes
 * the vocab's BOS text, the remote backend passes NULL because the server adds
 * BOS itself. The `chat` mode of the remote backend does not come here: it sends
 * the turns and the server templates them.
 *
 * This module does not tokenize and knows no backend.
 */
#ifndef CB_PROMPT_H
#define CB_PROMPT_H

#include "runner/backend.h"

/* Renders the context text of r (GENERATE or LOGLIKELIHOOD, see above) with
 * template tmpl (CB_CHAT_*) into *out, malloc'd, caller frees.
 * bos_text: ignored for template none and for a raw r->prompt; else chat.h's rule.
 * Errors (*out NULL): CB_EUSAGE for messages NULL with n_messages > 0, a
 * ROLLING request, or a conversation the template cannot render (chat.h's
 * message); CB_ENOMEM. */
int cb_prompt_context(int tmpl, const cb_request *r, const char *bos_text, char **out, cb_err *err);

#endif
