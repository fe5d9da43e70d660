/* tests/common/test_err.c — cb_err: messages, prefixes and exit codes. */
#include "common/err.h"

#include <criterion/criterion.h>
#include <string.h>

Test(err, set_and_prefix) {
    cb_err e;
    cb_err_clear(&e);
    cr_assert_eq(e.code, CB_OK);
    cr_assert_eq(cb_err_set(&e, CB_EFORMAT, "bad magic at byte %d", 0), CB_EFORMAT);
    cb_err_prefix(&e, "%s: ", "model.gguf");
    cr_assert_str_eq(e.msg, "model.gguf: bad magic at byte 0");
    cr_assert_eq(cb_err_exit_code(&e), 2);
    cb_err_set(&e, CB_EUNSUP, "x");
    cr_assert_eq(cb_err_exit_code(&e), 2, "input this build cannot handle is bad input");
    cb_err_set(&e, CB_EIO, "x");
    cr_assert_eq(cb_err_exit_code(&e), 1);
    cb_err_set(&e, CB_EINTR, "x");
    cr_assert_eq(cb_err_exit_code(&e), 130);
    cr_assert_eq(cb_err_set(NULL, CB_EIO, "ignored"), CB_EIO);
}
