/* tests/util/sh.h — running a shell command line from a test (the built
 * binary, rm -rf of a temp dir) and getting its exit status. */
#ifndef CB_TEST_SH_H
#define CB_TEST_SH_H

/* Formats a command line (at most 4095 bytes; longer is cut), runs it with
 * system(3) and returns its exit status, or 128 + the signal that ended it. */
int cb_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
