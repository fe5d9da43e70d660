/* common/err.c — cb_err helpers (see err.h). */
#include "common/err.h"

#include <stdio.h>
#include <string.h>

int cb_err_set(cb_err *e, int code, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int cb_err_prefix(cb_err *e, const char *fmt, ...) {
    if (!e) return 0;
    char head[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s%s", head, old);
    return e->code;
}

void cb_err_clear(cb_err *e) {
    if (!e) return;
    e->code = CB_OK;
    e->msg[0] = '\0';
}

int cb_err_exit_code(const cb_err *e) {
    if (!e || e->code == CB_OK) return 0;
    if (e->code == CB_EUSAGE || e->code == CB_EFORMAT || e->code == CB_EUNSUP) return 2;
    if (e->code == CB_EINTR) return 130;
    return 1;
}
