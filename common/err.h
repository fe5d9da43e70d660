/* common/err.h — the error context every fallible capbench function takes.
 *
 * A fallible function returns int (0 = ok, otherwise one of CB_E*) and writes
 * a human-readable message into a caller-owned cb_err at the point of failure.
 * Messages name the file, JSON path or byte offset and what was expected.
 * Only main() turns a code into an exit status (cb_err_exit_code).
 */
#ifndef CB_ERR_H
#define CB_ERR_H

#include <stdarg.h>

enum {
    CB_OK = 0,
    CB_EUSAGE = 1,    /* bad command line, config, task file or other user input */
    CB_EFORMAT = 2,   /* malformed file or reply (GGUF, JSON, HTTP body) */
    CB_EIO = 3,       /* open/read/write/mmap failed */
    CB_ENOMEM = 4,    /* allocation failed or a size overflowed */
    CB_EUNSUP = 5,    /* valid input that this build cannot handle */
    CB_ENET = 6,      /* network / HTTP failure after retries */
    CB_ERUNTIME = 7,  /* anything else that went wrong at run time */
    CB_EINTR = 8,     /* stopped by the user (Ctrl-C) */
    CB_ENODEV = 9     /* requested device (GPU) absent or out of memory */
};

typedef struct cb_err {
    int code;
    char msg[1024];
} cb_err;

/* Records code and a printf-style message in e (which may be NULL); returns code
 * so callers can write `return cb_err_set(e, CB_EFORMAT, "...")`. */
int cb_err_set(cb_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with more context ("file.json: " + old). */
int cb_err_prefix(cb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets e to "no error". */
void cb_err_clear(cb_err *e);

/* Exit status for main: 2 for bad input (usage, format, and valid input this
 * build cannot handle: CB_EUSAGE, CB_EFORMAT, CB_EUNSUP), 130 for
 * interruption, 1 for everything else (I/O, network, memory, no device).
 * docs/errors.md lists the classes of bad input with their messages. */
int cb_err_exit_code(const cb_err *e);

#endif
