/* runner/cmd_analyze.c — the commands that turn a results database into
 * answers: `capbench analyze weakest-link|profile|alteration`, `capbench
 * leaderboard` and `capbench compare`.
 *
 * They only read: databases are opened read-only, nothing is written but the
 * output (stdout or -o FILE). The numbers come from results/analysis.h and
 * results/leaderboard.h; this file parses flags, picks runs and prints.
 * compare exits 3 under --fail-on-regression when a capability regressed, so
 * a nightly job can gate on it; every other error is 2 (bad input) or 1.
 */
#include "results/analysis.h"
#include "results/leaderboard.h"
#include "results/store.h"
#include "runner/cliutil.h"
#include "runner/commands.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 256
#define MAX_EXCLUDE 32

/* One run's item sets, loaded from a store. */
typedef struct {
    cb_run_info info;
    cb_item_score_set set;
    cb_run_caps caps;
    char model[256];
} loaded_run;

static void loaded_clear(loaded_run *r) {
    cb_run_caps_clear(&r->caps);
    cb_item_score_set_clear(&r->set);
    cb_run_info_clear(&r->info);
}

static int load_run(cb_store *st, int64_t id, loaded_run *r, cb_err *err) {
    memset(r, 0, sizeof *r);
    int rc = cb_store_run_get(st, id, &r->info, err);
    if (!rc) rc = cb_store_item_scores(st, id, &r->set, err);
    if (!rc) rc = cb_run_caps_build(&r->set, r->info.seed, &r->caps, err);
    const char *base = strrchr(r->info.model_id, '/');
    snprintf(r->model, sizeof r->model, "%s", base ? base + 1 : r->info.model_id);
    return rc;
}

static int open_ro(const char *db, cb_store **st, cb_err *err) {
    return cb_store_open(db, cb_cli_db_writable(db) ? CB_STORE_OPEN_EXISTING : CB_STORE_OPEN_READONLY, st, err);
}

static int parse_double(const char *flag, const char *v, double lo, double hi, double *out, cb_err *err) {
    char *end = NULL;
    errno = 0;
    double x = v ? strtod(v, &end) : NAN;
    if (!v || errno || end == v || *end || !(x >= lo && x <= hi))
        return cb_err_set(err, CB_EUSAGE, "%s: expected a number from %g to %g, got \"%s\"", flag, lo, hi, v ? v : "");
    *out = x;
    return 0;
}

static int parse_b(const char *v, int *out, cb_err *err) {
    double x;
    int rc = parse_double("--bootstrap", v, 0, 100000, &x, err);
    if (!rc && x != floor(x)) rc = cb_err_set(err, CB_EUSAGE, "--bootstrap: expected an integer, got \"%s\"", v);
    if (!rc) *out = (int)x;
    return rc;
}

static void pnum(double v, const char *fmt) {
    if (isfinite(v))
        printf(fmt, v);
    else
        printf("%s", "-");
}

/* ---- analyze weakest-link ------------------------------------------------------- */

static void wl_print_table(const cb_wl_cell *cells, size_t n, const cb_wl_summary *s, double delta, int md) {
    const char *sep = md ? " | " : "  ";
    if (md)
        printf("| run | model | cross | S_X | S_Y | S_X&Y | weak | strong | gap | z | category | law | bootstrap |\n"
               "|---:|---|---|---:|---:|---:|---|---|---:|---:|---|---|---|\n");
    else
        printf("%-5s %-22s %-28s %7s %7s %7s %-14s %-14s %6s %7s %-20s %-4s %s\n", "run", "model", "cross", "S_X",
               "S_Y", "S_X&Y", "weak", "strong", "gap", "z", "category", "law", "bootstrap (modal, freq)");
    for (size_t i = 0; i < n; i++) {
        const cb_wl_cell *c = &cells[i];
        if (md) printf("| ");
        if (c->refused) {
            printf(md ? "%lld | %s | %s | refused: %s |||||||||\n" : "%-5lld %-22s %-28s refused: %s\n",
                   (long long)c->run_id, c->model, c->cross, c->why);
            continue;
        }
        const char *weak = c->cat == CB_WL_NO_CLEAR_WEAK ? "-" : c->weak_is_x ? c->x : c->y;
        const char *strong = c->cat == CB_WL_NO_CLEAR_WEAK ? "-" : c->weak_is_x ? c->y : c->x;
        if (md)
            printf("%lld | %s | %s | %.2f | %.2f | %.2f | %s | %s | %.2f | ", (long long)c->run_id, c->model, c->cross,
                   c->a, c->b, c->c, weak, strong, c->t - c->w);
        else
            printf("%-5lld %-22.22s %-28.28s %7.2f %7.2f %7.2f %-14.14s %-14.14s %6.2f ", (long long)c->run_id,
                   c->model, c->cross, c->a, c->b, c->c, weak, strong, c->t - c->w);
        if (md)
            pnum(c->z, "%.3f");
        else if (isfinite(c->z))
            printf("%7.3f", c->z);
        else
            printf("%7s", "-");
        printf(md ? " | %s | %s | %s %.2f%s |\n" : " %-20s %-4s %s %.2f%s\n", cb_wl_category_name(c->cat),
               c->cat == CB_WL_NO_CLEAR_WEAK ? "-" : cb_wl_obeys(c->cat) ? "yes" : "no", cb_wl_category_name(c->modal),
               c->modal_freq, c->unstable ? " UNSTABLE" : "");
    }
    (void)sep;
    printf("\n%zu of %zu cross scores below both individual scores (gap > %g points); %zu between and nearer the "
           "weaker, %zu at the midpoint, %zu nearer the stronger, %zu above both; %zu cells without a clear weak "
           "capability.\n",
           s->n_below_both, s->n_tally, delta, s->counts[CB_WL_BETWEEN_NEAR_WEAK], s->counts[CB_WL_MIDPOINT],
           s->counts[CB_WL_BETWEEN_NEAR_STRONG], s->counts[CB_WL_ABOVE_BOTH], s->counts[CB_WL_NO_CLEAR_WEAK]);
    printf("law of the weakest link holds in %zu of %zu (", s->n_obey, s->n_tally);
    pnum(100 * s->frac_obey, "%.1f%%");
    printf("); mean c - w = ");
    pnum(s->mean_c_minus_w, "%.2f");
    printf(" points; %zu unstable cells (bootstrap modal frequency < 0.8)\n", s->n_unstable);
    printf("threshold sensitivity (below both / near weak / midpoint / near strong / above both / no clear weak):\n");
    for (int d = 0; d < CB_WL_NDELTAS; d++)
        printf("  delta %g: %zu / %zu / %zu / %zu / %zu / %zu\n", cb_wl_deltas[d],
               s->counts_delta[d][CB_WL_BELOW_BOTH], s->counts_delta[d][CB_WL_BETWEEN_NEAR_WEAK],
               s->counts_delta[d][CB_WL_MIDPOINT], s->counts_delta[d][CB_WL_BETWEEN_NEAR_STRONG],
               s->counts_delta[d][CB_WL_ABOVE_BOTH], s->counts_delta[d][CB_WL_NO_CLEAR_WEAK]);
    int any = 0;
    for (int b = 0; b < CB_WL_HIST_BINS; b++)
        if (s->hist[b]) {
            if (!any) printf("z histogram (bin width 0.25, ends collect |z| > 6):\n");
            any = 1;
            printf("  [%+.2f, %+.2f): %zu\n", -6 + 0.25 * b, -6 + 0.25 * (b + 1), s->hist[b]);
        }
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static int wl_print_json(const cb_wl_cell *cells, size_t n, const cb_wl_summary *s, double delta) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "cells");
    cJSON_AddNumberToObject(root, "delta", delta);
    for (size_t i = 0; i < n; i++) {
        const cb_wl_cell *c = &cells[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "run_id", (double)c->run_id);
        cJSON_AddStringToObject(o, "model", c->model);
        cJSON_AddStringToObject(o, "cross", c->cross);
        cJSON_AddStringToObject(o, "x", c->x);
        cJSON_AddStringToObject(o, "y", c->y);
        if (c->refused) {
            cJSON_AddStringToObject(o, "refused", c->why);
        } else {
            cJSON_AddNumberToObject(o, "a", c->a);
            cJSON_AddNumberToObject(o, "b", c->b);
            cJSON_AddNumberToObject(o, "c", c->c);
            cJSON_AddNumberToObject(o, "n_a", (double)c->n_a);
            cJSON_AddNumberToObject(o, "n_b", (double)c->n_b);
            cJSON_AddNumberToObject(o, "n_c", (double)c->n_c);
            if (c->cat != CB_WL_NO_CLEAR_WEAK) {
                cJSON_AddStringToObject(o, "weak", c->weak_is_x ? c->x : c->y);
                cJSON_AddStringToObject(o, "strong", c->weak_is_x ? c->y : c->x);
            }
            cJSON_AddItemToObject(o, "z", num_or_null(c->z));
            cJSON_AddNumberToObject(o, "c_minus_w", c->c_minus_w);
            cJSON_AddNumberToObject(o, "c_minus_m", c->c_minus_m);
            cJSON_AddStringToObject(o, "category", cb_wl_category_name(c->cat));
            cJSON *cd = cJSON_AddObjectToObject(o, "category_by_delta");
            for (int d = 0; d < CB_WL_NDELTAS; d++) {
                char k[16];
                snprintf(k, sizeof k, "%g", cb_wl_deltas[d]);
                cJSON_AddStringToObject(cd, k, cb_wl_category_name(c->cat_delta[d]));
            }
            cJSON_AddStringToObject(o, "modal", cb_wl_category_name(c->modal));
            cJSON_AddNumberToObject(o, "modal_freq", c->modal_freq);
            cJSON_AddBoolToObject(o, "unstable", c->unstable);
            cJSON_AddNumberToObject(o, "shared_pairs", c->shared);
        }
        cJSON_AddItemToArray(arr, o);
    }
    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddNumberToObject(sum, "cells", (double)s->n_cells);
    cJSON_AddNumberToObject(sum, "tallied", (double)s->n_tally);
    cJSON *cc = cJSON_AddObjectToObject(sum, "counts");
    for (int k = 0; k < CB_WL_NCAT; k++) cJSON_AddNumberToObject(cc, cb_wl_category_name((cb_wl_category)k), (double)s->counts[k]);
    cJSON_AddNumberToObject(sum, "obey", (double)s->n_obey);
    cJSON_AddItemToObject(sum, "frac_obey", num_or_null(s->frac_obey));
    cJSON_AddItemToObject(sum, "mean_c_minus_w", num_or_null(s->mean_c_minus_w));
    cJSON_AddNumberToObject(sum, "unstable", (double)s->n_unstable);
    cJSON *h = cJSON_AddArrayToObject(sum, "z_hist");
    for (int b = 0; b < CB_WL_HIST_BINS; b++) cJSON_AddItemToArray(h, cJSON_CreateNumber((double)s->hist[b]));
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt) return -1;
    puts(txt);
    free(txt);
    return 0;
}

static void analyze_usage(FILE *f) {
    fputs("usage: capbench analyze weakest-link [--db FILE] [--run ID]... [--delta D] [--bootstrap B]\n"
          "                                     [--exclude MODEL]... [--format table|md|json]\n"
          "       capbench analyze profile [--db FILE] [--run ID] [--bootstrap B] [--format table|json]\n"
          "       capbench analyze alteration --run BASE --run ALTERED [--db FILE]\n"
          "\n"
          "weakest-link (TASKS.md section 6): for every cross capability X&Y with X and Y in the run,\n"
          "the scaled scores S = 1 + 99*score of X, Y and X&Y, the weak and strong capability (gap\n"
          "over --delta, default 3 points), z on the -1 (weak) .. +1 (strong) scale, the category,\n"
          "its bootstrap stability (B = 1000 item resamples; unstable below 0.8) and the tally.\n"
          "Default runs: the latest run of every model and step. --exclude leaves a model (as\n"
          "shown in the model column) out of the tally (the judge's own family).\n"
          "profile: every capability of one run (default: the latest) with its 95% CI and the\n"
          "bootstrap probability of being the weakest.\n"
          "alteration: two runs of one model; per cross capability the changes of X, Y and X&Y,\n"
          "rises/falls beyond 2 SE, and whether the cross score follows the weaker capability.\n",
          f);
}

static int cmd_weakest_link(const char *db, const int64_t *ids, size_t nids, double delta, int B,
                            const char *const *exclude, int fmt, cb_err *err) {
    cb_store *st = NULL;
    int64_t *sel = NULL;
    size_t nsel = 0, ncells = 0;
    cb_wl_cell *all = NULL;
    int rc = open_ro(db, &st, err);
    if (rc) return rc;
    if (nids == 0) {
        if ((rc = cb_leaderboard_default_runs(st, &sel, &nsel, err))) goto out;
        ids = sel;
        nids = nsel;
    }
    for (size_t i = 0; i < nids; i++) {
        loaded_run r;
        cb_wl_cell *cells = NULL;
        size_t n = 0;
        rc = load_run(st, ids[i], &r, err);
        if (!rc) rc = cb_wl_analyze(&r.caps, ids[i], delta, B, &cells, &n, err);
        if (!rc) {
            cb_wl_cell *na = realloc(all, (ncells + n + 1) * sizeof *na);
            if (!na) {
                rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            } else {
                all = na;
                for (size_t k = 0; k < n; k++) {
                    all[ncells] = cells[k];
                    snprintf(all[ncells].model, sizeof all[ncells].model, "%s", r.model);
                    ncells++;
                }
            }
        }
        free(cells);
        loaded_clear(&r);
        if (rc) goto out;
    }
    cb_wl_summary s;
    cb_wl_summarize(all, ncells, exclude, &s);
    if (ncells == 0) fprintf(stderr, "capbench analyze: no cross capability (a label \"X&Y\") in the chosen runs\n");
    if (fmt == 2) {
        if (wl_print_json(all, ncells, &s, delta)) rc = cb_err_set(err, CB_ENOMEM, "out of memory writing JSON");
    } else {
        wl_print_table(all, ncells, &s, delta, fmt == 1);
    }
out:
    free(all);
    free(sel);
    cb_store_close(st);
    return rc;
}

static int cmd_profile(const char *db, int64_t id, int B, int json, cb_err *err) {
    cb_store *st = NULL;
    loaded_run r;
    cb_profile_row *rows = NULL;
    size_t n = 0, weakest = SIZE_MAX;
    memset(&r, 0, sizeof r);
    int rc = open_ro(db, &st, err);
    if (rc) return rc;
    if (id == 0 && (rc = cb_store_run_latest(st, &id, err))) goto out;
    if ((rc = load_run(st, id, &r, err))) goto out;
    if ((rc = cb_profile(&r.caps, B, &rows, &n, &weakest, err))) goto out;
    if (json) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "capabilities");
        cJSON_AddNumberToObject(root, "run_id", (double)id);
        cJSON_AddStringToObject(root, "model", r.model);
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "capability", rows[i].cap->capability);
            cJSON_AddNumberToObject(o, "n", (double)rows[i].cap->n);
            cJSON_AddItemToObject(o, "mean", num_or_null(rows[i].cap->mean));
            cJSON_AddItemToObject(o, "ci_low", num_or_null(rows[i].cap->ci_low));
            cJSON_AddItemToObject(o, "ci_high", num_or_null(rows[i].cap->ci_high));
            cJSON_AddNumberToObject(o, "p_weakest", rows[i].p_weakest);
            cJSON_AddItemToArray(arr, o);
        }
        if (weakest != SIZE_MAX) {
            cJSON_AddStringToObject(root, "weakest", rows[weakest].cap->capability);
            cJSON_AddNumberToObject(root, "p_weakest", rows[weakest].p_weakest);
        }
        char *txt = cJSON_Print(root);
        cJSON_Delete(root);
        if (txt) puts(txt);
        free(txt);
    } else {
        printf("run %lld (%s), %zu capabilities\n%-32s %6s %7s %17s %9s\n", (long long)id, r.model, n, "capability",
               "n", "mean", "95% CI", "p_weakest");
        for (size_t i = 0; i < n; i++) {
            const cb_cap_data *c = rows[i].cap;
            printf("%-32.32s %6zu %7.3f  [", c->capability, c->n, c->mean);
            pnum(c->ci_low, "%.3f");
            printf(", ");
            pnum(c->ci_high, "%.3f");
            printf("] %9.3f%s\n", rows[i].p_weakest, i == weakest ? "  <- weakest" : "");
        }
        if (weakest != SIZE_MAX)
            printf("weakest: %s (%.3f; bootstrap probability of being the weakest %.2f)\n",
                   rows[weakest].cap->capability, rows[weakest].cap->mean, rows[weakest].p_weakest);
    }
out:
    free(rows);
    loaded_clear(&r);
    cb_store_close(st);
    return rc;
}

static const char *dir_name(cb_alt_dir d) { return d > 0 ? "rise" : d < 0 ? "fall" : "unchanged"; }

static int cmd_alteration(const char *db, int64_t base, int64_t alt, cb_err *err) {
    cb_store *st = NULL;
    loaded_run a, b;
    cb_alt_row *rows = NULL;
    size_t n = 0;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int rc = open_ro(db, &st, err);
    if (rc) return rc;
    if ((rc = load_run(st, base, &a, err)) || (rc = load_run(st, alt, &b, err))) goto out;
    if ((rc = cb_alteration(&a.caps, &b.caps, &rows, &n, err))) goto out;
    printf("alteration: run %lld (baseline) -> run %lld; changes in scaled points, +- 2 SE\n", (long long)base,
           (long long)alt);
    size_t opp = 0, tallied = 0, follows = 0;
    for (size_t i = 0; i < n; i++) {
        const cb_alt_row *r = &rows[i];
        printf("%-28s %s %+.2f (%s, SE %.2f)  %s %+.2f (%s, SE %.2f)  cross %+.2f (%s, SE %.2f)  weak: %s%s\n", r->cross,
               r->x, r->d[0], dir_name(r->dir[0]), r->se[0], r->y, r->d[1], dir_name(r->dir[1]), r->se[1], r->d[2],
               dir_name(r->dir[2]), r->se[2], r->weak_is_x ? r->x : r->y,
               r->tallied ? (r->follows_weak ? "  -> follows the weak link" : "  -> follows the strong link") : "");
        opp += r->opposite;
        tallied += r->tallied;
        follows += r->follows_weak;
    }
    printf("%zu of %zu cross capabilities had one individual capability rise and the other fall; in %zu of %zu of "
           "those with a cross change the cross score moved with the weaker one\n",
           opp, n, follows, tallied);
out:
    free(rows);
    loaded_clear(&a);
    loaded_clear(&b);
    cb_store_close(st);
    return rc;
}

int cb_cmd_analyze(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH, *what = NULL;
    int64_t ids[MAX_RUNS];
    size_t nids = 0, nex = 0;
    const char *exclude[MAX_EXCLUDE + 1] = {0};
    double delta = CB_WL_DEFAULT_DELTA;
    int B = CB_BOOTSTRAP_B, fmt = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            analyze_usage(stdout);
            return 0;
        }
        if (a[0] != '-') {
            if (what) {
                rc = cb_err_set(&err, CB_EUSAGE, "unexpected argument '%s' (see capbench analyze --help)", a);
                goto out;
            }
            what = a;
            continue;
        }
        if (!v) {
            rc = cb_err_set(&err, CB_EUSAGE, "%s: unknown option or missing value (see capbench analyze --help)", a);
            goto out;
        }
        i++;
        if (strcmp(a, "--db") == 0) {
            db = v;
        } else if (strcmp(a, "--run") == 0) {
            if (nids == MAX_RUNS) {
                rc = cb_err_set(&err, CB_EUSAGE, "--run: at most %d runs", MAX_RUNS);
                goto out;
            }
            if ((rc = cb_cli_parse_run_id(v, &ids[nids++], &err))) goto out;
        } else if (strcmp(a, "--delta") == 0) {
            if ((rc = parse_double(a, v, 0, 99, &delta, &err))) goto out;
        } else if (strcmp(a, "--bootstrap") == 0) {
            if ((rc = parse_b(v, &B, &err))) goto out;
        } else if (strcmp(a, "--exclude") == 0) {
            if (nex == MAX_EXCLUDE) {
                rc = cb_err_set(&err, CB_EUSAGE, "--exclude: at most %d models", MAX_EXCLUDE);
                goto out;
            }
            exclude[nex++] = v;
        } else if (strcmp(a, "--format") == 0) {
            fmt = strcmp(v, "table") == 0 ? 0 : strcmp(v, "md") == 0 ? 1 : strcmp(v, "json") == 0 ? 2 : -1;
            if (fmt < 0) {
                rc = cb_err_set(&err, CB_EUSAGE, "--format: expected table, md or json, got \"%s\"", v);
                goto out;
            }
        } else {
            rc = cb_err_set(&err, CB_EUSAGE, "unknown option '%s' (see capbench analyze --help)", a);
            goto out;
        }
    }
    if (!what) {
        rc = cb_err_set(&err, CB_EUSAGE, "which analysis? weakest-link, profile or alteration");
    } else if (strcmp(what, "weakest-link") == 0) {
        rc = cmd_weakest_link(db, ids, nids, delta, B, exclude, fmt, &err);
    } else if (strcmp(what, "profile") == 0) {
        if (nids > 1)
            rc = cb_err_set(&err, CB_EUSAGE, "profile takes one --run");
        else
            rc = cmd_profile(db, nids ? ids[0] : 0, B, fmt == 2, &err);
    } else if (strcmp(what, "alteration") == 0) {
        if (nids != 2)
            rc = cb_err_set(&err, CB_EUSAGE, "alteration needs --run BASE --run ALTERED");
        else
            rc = cmd_alteration(db, ids[0], ids[1], &err);
    } else {
        rc = cb_err_set(&err, CB_EUSAGE, "unknown analysis '%s' (expected weakest-link, profile or alteration)", what);
    }
out:
    if (rc) {
        fprintf(stderr, "capbench analyze: %s\n", err.msg);
        if (!what) analyze_usage(stderr);
        return cb_err_exit_code(&err);
    }
    return 0;
}

/* ---- leaderboard --------------------------------------------------------------------- */

static void leaderboard_usage(FILE *f) {
    fputs("usage: capbench leaderboard [--db FILE] [-o FILE] [--format html|md|csv|json] [--run ID]...\n"
          "                            [--bootstrap B]\n"
          "\n"
          "Models and checkpoints x capabilities: the latest run of every model file and step\n"
          "label (or the --run runs), overall rank, per-capability mean with its 95% CI and rank,\n"
          "the weakest capability with its bootstrap probability, the weakest-link cells and\n"
          "trends over runs labelled `capbench run --label step=N` (lines grouped by the label\n"
          "series=NAME, default the suite). html is one self-contained file (inline CSS and SVG,\n"
          "no network). Default format: html with -o FILE.html, else md.\n",
          f);
}

int cb_cmd_leaderboard(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH, *outp = NULL, *fmt_s = NULL;
    int64_t ids[MAX_RUNS];
    size_t nids = 0;
    int B = CB_BOOTSTRAP_B, rc = 0;
    cb_store *st = NULL;
    cb_leaderboard *lb = NULL;
    FILE *f = NULL;
    char tmp[4200] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            leaderboard_usage(stdout);
            return 0;
        }
        if (!v || a[0] != '-') {
            rc = cb_err_set(&err, CB_EUSAGE, "%s: unknown option or missing value (see capbench leaderboard --help)", a);
            goto out;
        }
        i++;
        if (strcmp(a, "--db") == 0)
            db = v;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
            outp = v;
        else if (strcmp(a, "--format") == 0)
            fmt_s = v;
        else if (strcmp(a, "--bootstrap") == 0)
            rc = parse_b(v, &B, &err);
        else if (strcmp(a, "--run") == 0 && nids < MAX_RUNS)
            rc = cb_cli_parse_run_id(v, &ids[nids++], &err);
        else
            rc = cb_err_set(&err, CB_EUSAGE, "unknown option '%s' (see capbench leaderboard --help)", a);
        if (rc) goto out;
    }
    cb_lb_format fmt = CB_LB_MD;
    if (fmt_s) {
        if ((rc = cb_lb_format_parse(fmt_s, &fmt, &err))) goto out;
    } else if (outp) {
        const char *dot = strrchr(outp, '.');
        if (dot && strcmp(dot, ".csv") == 0) fmt = CB_LB_CSV;
        else if (dot && strcmp(dot, ".json") == 0) fmt = CB_LB_JSON;
        else if (dot && strcmp(dot, ".md") == 0) fmt = CB_LB_MD;
        else fmt = CB_LB_HTML;
    }
    if ((rc = open_ro(db, &st, &err))) goto out;
    if ((rc = cb_leaderboard_build(st, ids, nids, B, &lb, &err))) goto out;
    if (outp) {
        /* write beside the target and rename, so a reader never sees half a page */
        snprintf(tmp, sizeof tmp, "%s.tmp", outp);
        if (!(f = fopen(tmp, "w"))) {
            rc = cb_err_set(&err, CB_EIO, "%s: %s", tmp, strerror(errno));
            goto out;
        }
    }
    rc = cb_leaderboard_write(lb, fmt, f ? f : stdout, &err);
    if (f) {
        if (fclose(f) != 0 && !rc) rc = cb_err_set(&err, CB_EIO, "%s: %s", tmp, strerror(errno));
        f = NULL;
        if (!rc && rename(tmp, outp) != 0) rc = cb_err_set(&err, CB_EIO, "%s: %s", outp, strerror(errno));
        if (rc) remove(tmp);
        else fprintf(stderr, "leaderboard: %s\n", outp);
    }
out:
    if (f) fclose(f);
    cb_leaderboard_free(lb);
    cb_store_close(st);
    if (rc) {
        fprintf(stderr, "capbench leaderboard: %s\n", err.msg);
        return cb_err_exit_code(&err);
    }
    return 0;
}

/* ---- compare ----------------------------------------------------------------------------- */

static void compare_usage(FILE *f) {
    fputs("usage: capbench compare RUN_A RUN_B [--db FILE] [--format table|md|json] [--threshold T]\n"
          "                        [--bootstrap B] [--fail-on-regression]\n"
          "\n"
          "Paired comparison of two runs (A the baseline, B the candidate) on the items both share\n"
          "(joined on the item content hash, else the item id), per capability: the mean\n"
          "difference B - A with a paired bootstrap 95% CI, McNemar's exact test for 0/1 scores,\n"
          "and REGRESSION where B - A < -T (default 0.02) and the CI lies below 0.\n"
          "A run is ID (in --db), FILE:ID or FILE:latest (another database, e.g. last night's).\n"
          "--fail-on-regression: exit 3 when any capability regressed. md output suits a CI comment.\n",
          f);
}

/* "ID" | "FILE:ID" | "FILE:latest" -> file (default db) and id. */
static int parse_run_spec(const char *spec, const char *db, char *file, size_t cap, int64_t *id, int *latest,
                          cb_err *err) {
    const char *colon = strrchr(spec, ':');
    *latest = 0;
    if (!colon) {
        snprintf(file, cap, "%s", db);
        if (strcmp(spec, "latest") == 0) {
            *latest = 1;
            return 0;
        }
        return cb_cli_parse_run_id(spec, id, err);
    }
    if (colon == spec || (size_t)(colon - spec) >= cap)
        return cb_err_set(err, CB_EUSAGE, "bad run '%s' (expected ID, FILE:ID or FILE:latest)", spec);
    snprintf(file, cap, "%.*s", (int)(colon - spec), spec);
    if (strcmp(colon + 1, "latest") == 0) {
        *latest = 1;
        return 0;
    }
    return cb_cli_parse_run_id(colon + 1, id, err);
}

static int load_spec(const char *spec, const char *db, loaded_run *r, cb_err *err) {
    char file[4096];
    int64_t id = 0;
    int latest = 0;
    cb_store *st = NULL;
    memset(r, 0, sizeof *r);
    int rc = parse_run_spec(spec, db, file, sizeof file, &id, &latest, err);
    if (!rc) rc = open_ro(file, &st, err);
    if (!rc && latest) rc = cb_store_run_latest(st, &id, err);
    if (!rc) rc = load_run(st, id, r, err);
    cb_store_close(st);
    return rc;
}

static void cmp_print(const loaded_run *a, const loaded_run *b, const cb_cmp_row *rows, size_t n, double thr, int md) {
    size_t nreg = 0;
    for (size_t i = 0; i < n; i++) nreg += rows[i].regression;
    if (md) {
        printf("### capbench compare: run %lld (%s) -> run %lld (%s)\n\n", (long long)a->info.id, a->model,
               (long long)b->info.id, b->model);
        printf("%s\n\n| capability | n | A | B | B - A | 95%% CI | McNemar p | |\n|---|---:|---:|---:|---:|---|---:|---|\n",
               nreg ? "**Regression** in at least one capability." : "No regression.");
    } else {
        printf("run %lld (%s) -> run %lld (%s); paired on shared items; regression: B - A < -%g with the CI below 0\n",
               (long long)a->info.id, a->model, (long long)b->info.id, b->model, thr);
        printf("%-32s %6s %7s %7s %8s %19s %10s\n", "capability", "n", "A", "B", "B - A", "95% CI", "McNemar p");
    }
    for (size_t i = 0; i < n; i++) {
        const cb_cmp_row *r = &rows[i];
        const char *flag = r->regression ? "REGRESSION" : r->improvement ? "improvement" : "";
        if (md) {
            printf("| %s | %zu | %.3f | %.3f | %+.3f | [%+.3f, %+.3f] | ", r->capability, r->n_pairs, r->mean_a,
                   r->mean_b, r->diff, r->ci_low, r->ci_high);
            if (r->binary)
                printf("%.3g (%lld+/%lld-)", r->p_mcnemar, (long long)r->n_gain, (long long)r->n_loss);
            else
                printf("-");
            printf(" | %s |\n", r->regression ? ":red_circle: regression" : r->improvement ? "improvement" : "");
        } else {
            printf("%-32.32s %6zu %7.3f %7.3f %+8.3f  [%+.3f, %+.3f] ", r->capability, r->n_pairs, r->mean_a,
                   r->mean_b, r->diff, r->ci_low, r->ci_high);
            if (r->binary)
                printf("%10.3g", r->p_mcnemar);
            else
                printf("%10s", "-");
            printf("  %s\n", flag);
        }
    }
    if (n == 0) printf("%s", md ? "\nThe runs share no scored item.\n" : "the runs share no scored item\n");
    else if (!md) printf("%zu of %zu capabilities regressed\n", nreg, n);
}

static int cmp_json(const loaded_run *a, const loaded_run *b, const cb_cmp_row *rows, size_t n, double thr) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "capabilities");
    cJSON_AddNumberToObject(root, "run_a", (double)a->info.id);
    cJSON_AddNumberToObject(root, "run_b", (double)b->info.id);
    cJSON_AddNumberToObject(root, "threshold", thr);
    int nreg = 0;
    for (size_t i = 0; i < n; i++) {
        const cb_cmp_row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "capability", r->capability);
        cJSON_AddNumberToObject(o, "n_pairs", (double)r->n_pairs);
        cJSON_AddItemToObject(o, "mean_a", num_or_null(r->mean_a));
        cJSON_AddItemToObject(o, "mean_b", num_or_null(r->mean_b));
        cJSON_AddItemToObject(o, "diff", num_or_null(r->diff));
        cJSON_AddItemToObject(o, "ci_low", num_or_null(r->ci_low));
        cJSON_AddItemToObject(o, "ci_high", num_or_null(r->ci_high));
        if (r->binary) {
            cJSON_AddNumberToObject(o, "n_gain", (double)r->n_gain);
            cJSON_AddNumberToObject(o, "n_loss", (double)r->n_loss);
            cJSON_AddNumberToObject(o, "p_mcnemar", r->p_mcnemar);
        }
        cJSON_AddBoolToObject(o, "regression", r->regression);
        cJSON_AddBoolToObject(o, "improvement", r->improvement);
        nreg += r->regression;
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddNumberToObject(root, "regressions", nreg);
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt) return -1;
    puts(txt);
    free(txt);
    return 0;
}

int cb_cmd_compare(int argc, char **argv) {
    cb_err err = {0};
    const char *db = CB_STORE_DEFAULT_PATH, *spec[2] = {NULL, NULL};
    double thr = 0.02;
    int B = CB_BOOTSTRAP_B, fmt = 0, fail = 0, rc = 0, nspec = 0;
    loaded_run a, b;
    cb_cmp_row *rows = NULL;
    size_t n = 0;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            compare_usage(stdout);
            return 0;
        }
        if (strcmp(o, "--fail-on-regression") == 0) {
            fail = 1;
            continue;
        }
        if (o[0] != '-') {
            if (nspec == 2) {
                rc = cb_err_set(&err, CB_EUSAGE, "unexpected argument '%s': compare takes two runs", o);
                goto out;
            }
            spec[nspec++] = o;
            continue;
        }
        if (!v) {
            rc = cb_err_set(&err, CB_EUSAGE, "%s: unknown option or missing value (see capbench compare --help)", o);
            goto out;
        }
        i++;
        if (strcmp(o, "--db") == 0) {
            db = v;
        } else if (strcmp(o, "--threshold") == 0) {
            rc = parse_double(o, v, 0, 1, &thr, &err);
        } else if (strcmp(o, "--bootstrap") == 0) {
            rc = parse_b(v, &B, &err);
        } else if (strcmp(o, "--format") == 0) {
            fmt = strcmp(v, "table") == 0 ? 0 : strcmp(v, "md") == 0 ? 1 : strcmp(v, "json") == 0 ? 2 : -1;
            if (fmt < 0) rc = cb_err_set(&err, CB_EUSAGE, "--format: expected table, md or json, got \"%s\"", v);
        } else {
            rc = cb_err_set(&err, CB_EUSAGE, "unknown option '%s' (see capbench compare --help)", o);
        }
        if (rc) goto out;
    }
    if (nspec != 2) {
        rc = cb_err_set(&err, CB_EUSAGE, "compare needs two runs: capbench compare RUN_A RUN_B");
        goto out;
    }
    if ((rc = load_spec(spec[0], db, &a, &err)) || (rc = load_spec(spec[1], db, &b, &err))) goto out;
    if ((rc = cb_compare(&a.caps, &b.caps, a.info.seed, thr, B, &rows, &n, &err))) goto out;
    if (fmt == 2) {
        if (cmp_json(&a, &b, rows, n, thr)) rc = cb_err_set(&err, CB_ENOMEM, "out of memory writing JSON");
    } else {
        cmp_print(&a, &b, rows, n, thr, fmt == 1);
    }
out:
    {
        int nreg = 0;
        for (size_t i = 0; i < n; i++) nreg += rows[i].regression;
        free(rows);
        loaded_clear(&a);
        loaded_clear(&b);
        if (rc) {
            fprintf(stderr, "capbench compare: %s\n", err.msg);
            return cb_err_exit_code(&err);
        }
        if (fail && nreg) {
            fprintf(stderr, "capbench compare: %d capabilities regressed (--fail-on-regression)\n", nreg);
            return 3;
        }
    }
    return 0;
}
