/* engine/chat.h — chat templates: turning a conversation into the exact prompt
 * text a chat model was trained on.
 *
 * The local backend renders a request's messages with cb_chat_render, stores
 * that text with the sample (cb_response.rendered_prompt), and tokenizes it
 * with special tokens parsed. We do NOT run the Jinja program stored in the
 * GGUF's `tokenizer.chat_template`; like other engines we recognise the
 * well-known families by distinctive substrings (cb_chat_detect) and render
 * each family with a fixed C routine. A template we do not recognise falls
 * back (see cb_chat_detect) and the caller is told why so it can warn.
 *
 * BOS rule (one rule for every template, "none" included):
 *   The rendered text starts with `bos_text` when the caller passes a non-empty
 *   one, and templates never hard-code a BOS of their own at the start. The
 *   caller therefore tokenizes the rendered text with add_bos = 0 and special
 *   tokens parsed, and passes bos_text = the vocab's BOS token text (e.g. "<s>",
 *   "<|begin_of_text|>", "<bos>") exactly when the vocab wants a BOS
 *   (tokenizer.ggml.add_bos_token, true by default for SPM vocabs), else NULL.
 *   That way the stored prompt is exactly what the model saw and there is
 *   never a double BOS. llama2 repeats bos_text before every later [INST]
 *   turn, as its published template does.
 *   End-of-sequence markers inside the templates are literal: llama2, mistral
 *   and zephyr close turns with "</s>", which is the EOS text of those vocabs.
 *
 * Message text is inserted verbatim (no trimming), so what the task wrote is
 * what the model sees. This module does not tokenize, and does not guard against
 * message text that contains special-token text (the tokenizer decides that).
 */
#ifndef CB_CHAT_H
#define CB_CHAT_H

#include "common/err.h"

#include <stddef.h>

/* Roles; the values equal cb_role in runner/backend.h (system 0, user 1,
 * assistant 2) so the runner can copy role values across unchanged. */
enum { CB_CHAT_ROLE_SYSTEM = 0, CB_CHAT_ROLE_USER = 1, CB_CHAT_ROLE_ASSISTANT = 2 };

typedef struct cb_chat_msg {
    int role;          /* CB_CHAT_ROLE_* */
    const char *text;  /* NUL-terminated, borrowed; NULL reads as "" */
} cb_chat_msg;

/* Template families. Renderings (S system, U user, A assistant text; B = bos_text,
 * "|" separates the pieces only for reading; "prefix" is what add_assistant_prefix
 * appends after the last message):
 *
 *   CHATML  B <|im_start|>system\nS<|im_end|>\n <|im_start|>user\nU<|im_end|>\n
 *           <|im_start|>assistant\nA<|im_end|>\n      prefix <|im_start|>assistant\n
 *   LLAMA2  B [INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] | " A </s>" | B [INST] U2 [/INST]
 *           (system wraps into the next user turn; no separate prefix: "[/INST]"
 *           already opens the answer)
 *   LLAMA3  B <|start_header_id|>ROLE<|end_header_id|>\n\nTEXT<|eot_id|> per message
 *           prefix <|start_header_id|>assistant<|end_header_id|>\n\n
 *   ZEPHYR  B <|system|>\nS</s>\n <|user|>\nU</s>\n <|assistant|>\nA</s>\n
 *           prefix <|assistant|>\n
 *   MISTRAL B [INST] U [/INST]A</s>[INST] U2 [/INST]
 *           (Mistral-7B-Instruct v0.1/v0.2 published template; a system message is
 *           folded into the next user turn as "S\n\nU"; no separate prefix.
 *           v3/v7 templates are detected as this family too and rendered this way.)
 *   GEMMA   B <start_of_turn>user\nU<end_of_turn>\n <start_of_turn>model\nA<end_of_turn>\n
 *           prefix <start_of_turn>model\n (system folded into the next user turn as
 *           "S\n\nU"; the assistant role is called "model")
 *   PHI3    B <|system|>\nS<|end|>\n <|user|>\nU<|end|>\n <|assistant|>\nA<|end|>\n
 *           prefix <|assistant|>\n
 *   NONE    plain text for base models: B then the message texts, a user message
 *           followed by "\n" before an assistant message, every other boundary
 *           "\n\n"; prefix "\n" when the last message is a user message. So a
 *           few-shot conversation renders "Q1\nA1\n\nQ2\n" and a lone prompt
 *           "Once upon a time" renders unchanged without the prefix.
 */
enum {
    CB_CHAT_NONE = 0,
    CB_CHAT_CHATML,
    CB_CHAT_LLAMA2,
    CB_CHAT_LLAMA3,
    CB_CHAT_ZEPHYR,
    CB_CHAT_MISTRAL,
    CB_CHAT_GEMMA,
    CB_CHAT_PHI3,
    CB_CHAT_N_TEMPLATES
};

/* Name of a template ("none", "chatml", "llama2", "llama3", "zephyr", "mistral",
 * "gemma", "phi3"); "?" for an out-of-range value. Static string. */
const char *cb_chat_template_name(int tmpl);

/* Parses a --chat-template argument (ASCII case-insensitive) into *out.
 * Errors: CB_EUSAGE for NULL or an unknown name; the message lists the valid
 * names. *out is untouched on error. err may be NULL. */
int cb_chat_template_by_name(const char *name, int *out, cb_err *err);

/* Detects the family of a GGUF `tokenizer.chat_template` (jinja, len bytes, need
 * not be NUL-terminated; NULL or len 0 = the key is absent). First match wins:
 *   1. "<|im_sep|>"                           -> not recognised (phi-4 style
 *                                                chatml variant, not rendered here)
 *   2. "<|im_start|>"                         -> chatml
 *   3. "<|start_header_id|>"                  -> llama3
 *   4. "<start_of_turn>"                      -> gemma
 *   5. "<|user|>" and "<|end|>"               -> phi3   (phi3 before zephyr: both
 *                                                use <|user|>, only phi3 has <|end|>)
 *   6. "<|user|>"                             -> zephyr (its turns end in eos_token,
 *                                                i.e. "</s>", often not spelled out)
 *   7. "[INST]" and "<<SYS>>"                 -> llama2
 *   8. "[INST]"                               -> mistral
 * Otherwise (absent or unrecognised): chatml when vocab_has_im_start is nonzero
 * (the vocab has a <|im_start|> token), else none.
 * Writes the family to *out and, when reason is non-NULL, a static sentence that
 * says what matched or why it fell back. Returns 1 when a family marker was
 * recognised, 0 when *out is a fallback (the runner should warn with *reason). */
int cb_chat_detect(const char *jinja, size_t len, int vocab_has_im_start, int *out,
                   const char **reason);

/* Renders msgs[0..n) with template tmpl (layouts above) into *out, a malloc'd
 * NUL-terminated string the caller frees. add_assistant_prefix appends the
 * template's assistant prefix after the last message (for generation and for
 * scoring a continuation). bos_text: see the BOS rule at the top (NULL or "" =
 * no BOS in the text).
 * Errors (*out is NULL on error):
 *   CB_EUSAGE  bad tmpl, n < 0, msgs NULL with n > 0, a role outside 0..2;
 *              for llama2/mistral/gemma (which fold system text into a user turn)
 *              a system message with no user message after it; for llama2 and
 *              mistral, roles that do not alternate user/assistant (after folding
 *              system messages) or a conversation that starts with an assistant.
 *   CB_ENOMEM  allocation failed or the size overflowed. */
int cb_chat_render(int tmpl, const cb_chat_msg *msgs, int n, int add_assistant_prefix,
                   const char *bos_text, char **out, cb_err *err);

/* Stop strings implied by the template: its end-of-turn marker and, where the
 * family has one, the marker that opens the next user turn, so generation stops
 * at the end of the assistant's turn even if the EOS token is not emitted.
 * Returns a static array of *n strings (NULL-terminated); none -> *n = 0. An
 * out-of-range tmpl reads as none. n may be NULL. */
const char *const *cb_chat_stop_strings(int tmpl, int *n);

#endif
