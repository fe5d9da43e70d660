/* tests/util/cbtest.h — small helpers for tests that drive the built binary
 * and look at the files it leaves: shell commands with an exit status,
 * scratch directories, reading a file, searching a file for bytes.
 *
 * Linked into every test binary (like httpd.c), so it depends on nothing but
 * libc: no store, no task code. Failures to run a command are reported as
 * exit statuses, never by aborting the test.
 */
#ifndef CB_TEST_CBTEST_H
#define CB_TEST_CBTEST_H

#include <stddef.h>

/* Runs the printf-formatted command with /bin/sh. Returns its exit status, or
 * 128 + the signal that killed it, or -1 when it could not be started. */
int cbt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs bin with args (NULL-terminated, at most 14) with no shell, its stdout
 * and stderr going to dir/out.txt and dir/err.txt; when out_text/err_text are
 * not NULL they receive the files' text (malloc'd). Returns the exit status,
 * or -1 when it could not be run or ended by a signal. */
int cbt_run_bin(const char *bin, const char *dir, char *const args[], char **out_text, char **err_text);

/* Creates a fresh directory /tmp/<tag>XXXXXX into buf. Returns 0 or -1. */
int cbt_tmpdir(char *buf, size_t cap, const char *tag);
/* rm -rf dir (only paths under /tmp/ are removed). */
void cbt_rmrf(const char *dir);

/* Reads a whole file (NUL-terminated, *len bytes without the NUL; len may be
 * NULL). Returns a malloc'd buffer, or NULL when the file cannot be read. */
char *cbt_read_file(const char *path, size_t *len);
/* Like cbt_read_file, but a file that cannot be read reads as "" (still
 * malloc'd), for tests that search a command's captured output. */
char *cbt_read_text(const char *path);
/* Writes a printf-formatted text to path. Returns 0 or -1. */
int cbt_write_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Number of (possibly overlapping) occurrences of needle in the file; 0 when
 * the file does not exist. */
int cbt_file_count(const char *path, const char *needle);

#endif
