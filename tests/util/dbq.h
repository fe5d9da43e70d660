/* tests/util/dbq.h — one number from a query on a results database file, for
 * the end-to-end tests that check what `capbench` stored. Header-only
 * (static inline, Criterion asserts): the .c files of tests/util link into every test,
 * also the builds without SQLite. */
#ifndef CB_TESTS_DBQ_H
#define CB_TESTS_DBQ_H

#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>

/* The first column of the first row of sql on db: a number (NaN for NULL).
 * Asserts that the database opens, the query prepares and a row comes back. */
static inline double cbt_q_num(const char *db, const char *sql) {
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", db);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* The same as an integer (0 for NULL). */
static inline int64_t cbt_q_int(const char *db, const char *sql) {
    sqlite3 *h = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", db);
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

#endif
