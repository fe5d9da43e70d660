/* runner/cliutil.h — small command-line helpers shared by the commands that
 * read a results database (report, regrade, analyze, leaderboard, compare,
 * runs, delete, export, merge). No state, no I/O beyond access(2).
 */
#ifndef CB_RUNNER_CLIUTIL_H
#define CB_RUNNER_CLIUTIL_H

#include "common/err.h"

#include <stdint.h>

/* Parses a positive run id. Errors: CB_EUSAGE naming the text. */
int cb_cli_parse_run_id(const char *s, int64_t *out, cb_err *err);

/* Whether capbench may write the database file and its folder (WAL and -shm
 * files live beside it). A missing file counts as writable, so that opening
 * it reports "no such results database". */
int cb_cli_db_writable(const char *path);

/* Adds KEY=VALUE (from `--label KEY=VALUE`) to the JSON object text *json
 * (NULL = empty; replaced by a new malloc'd text the caller frees). A repeated
 * key takes the last value. Values are stored as strings ({"step":"1000"}).
 * Errors: CB_EUSAGE for a text without '=' or with an empty key, CB_ENOMEM. */
int cb_cli_label_add(char **json, const char *kv, cb_err *err);

#endif
