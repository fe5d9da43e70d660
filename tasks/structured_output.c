/* tasks/structured_output.c — task family `structured-output` (TASKS.md
 * section 4, Struc-Bench): turn prose into an exact table in raw text, HTML
 * or LaTeX.
 *
 * Subtasks: raw (two "|" tables, team and player, from a basketball game
 * report), html (one <table> from a domain description), latex (one
 * table/tabular environment with caption and column spec).
 * Settings: plain (instruction + input), formatcot (plus a rule-based
 * "Format requirements" block derived from the gold: column and row names in
 * order, delimiters, empty cells, caption and spec), oneshot (one solved
 * example: item 10^6 + index of the same subtask as a user/assistant pair).
 * Params: "max_tokens" (default 2048), "judge_max_tokens" (P-Score
 * judgements, default 512).
 *
 * Generation (all draws from the item's xoshiro256** stream, in code order):
 *   raw: two distinct teams (city + nickname lists; the row label is the
 *     nickname), 3..7 players per team with syllable names (never containing
 *     "team" or "player"; unique in the item), realistic ranges for every
 *     statistic (quarter points sum to the total; the winner scores more);
 *     Wins/Losses/Total points always mentioned, other team statistics with
 *     p = 0.3 per team, player Points always, other player statistics with
 *     p = 0.5; players are mentioned in a shuffled order of both rosters.
 *   html / latex: one of four domains (products, cities, experiments,
 *     employees); 3..8 columns: the domain's label column plus 2..7 of its 7
 *     others (sampled, kept in the domain's order); 3..12 rows with distinct
 *     labels; one description sentence per row states every cell once.
 *     latex adds a caption (per-domain list) and a spec: "l" for the label
 *     column, "r" for numbers, "l"/"c" for text, "|" between two columns with
 *     p = 0.5.
 *
 * Grading (TASKS.md 4.4-4.5; graders/table.h parses): the response is
 * stripped of a surrounding code fence and parsed; the gold is parsed with
 * the same parser. Primary score: exact table match (0/1). Metrics: the H
 * components, h_content_raw / h_structure_raw (sums), h_content /
 * h_structure (means, similarities clipped to [0,1]), the baselines
 * h_*_empty (an empty table) and h_*_blank (the gold's shape, blank cells),
 * parsed, empty (0/1, so the report can count empty answers apart from
 * responses without a table), and the diagnostic tags tag_coverage, tag_hallucination,
 * tag_misplacement, tag_formatting (0/1). An empty response is unparsed
 * with flag "empty"; a response without a table is unparsed; both score 0 on
 * every component (they stay in every mean) and are reported apart.
 *
 * P-Score (4.5; needs the suite's judge; tasks/task.h next_round): round 0 is
 * the model's answer. When it parses as a table and a judge is configured,
 * round 1 asks the judge twice at temperature 0.1 (prediction as Table 1
 * with tag TAG_P, then the gold as Table 1 with TAG_P + 1), the texts being
 * the fence-stripped, trimmed prediction and the gold. A judgement that
 * graders/judge.c cannot read is re-asked once in round 2 (TAG_P_REASK + order:
 * the same conversation, the unreadable answer, then a note asking for the
 * json block, and a fresh seed). Per order the first readable judgement
 * counts; p_content / p_structure = mean over the readable orders of the
 * score / 10, p_orders = how many orders were readable; no readable order
 * at all is p_judge_failed = 1 (no P metrics: never a zero). A response that
 * does not parse as a table scores p_content = p_structure = 0 by rule (no
 * judge call, judge or not); a parsed response without a judge has no P
 * metrics, and the report then says "not computed: no judge". A failed model
 * request has none either (the sample is failed). The primary score stays
 * the exact match; P is a secondary metric.
 */
#include "tasks/task.h"

#include "common/rng.h"
#include "graders/judge.h"
#include "graders/table.h"
#include "tasks/textbuf.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_RAW, ST_HTML, ST_LATEX, ST_COUNT };
enum { S_PLAIN, S_FORMATCOT, S_ONESHOT };

static const char *const subtasks[] = {"raw", "html", "latex", NULL};
static const char *const subtask_caps[] = {"text_table", "html_table", "latex_table", NULL};
static const char *const settings[] = {"plain", "formatcot", "oneshot", NULL};

#define FAMILY "structured-output"
#define FAMILY_CAP "structured_output"
#define DEMO_OFFSET INT64_C(1000000)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

typedef struct so_state {
    int max_tokens, judge_max_tokens;
} so_state;

static void state_free(void *p) { free(p); }

static int state_parse(const cJSON *params, const char *path, void **out, cb_err *err) {
    *out = NULL;
    so_state *st = calloc(1, sizeof *st);
    if (!st) return cb_err_set(err, CB_ENOMEM, "%s: out of memory", path);
    st->max_tokens = 2048;
    st->judge_max_tokens = 512;
    const cJSON *it;
    cJSON_ArrayForEach(it, params) {
        int *dst = strcmp(it->string, "max_tokens") == 0         ? &st->max_tokens
                   : strcmp(it->string, "judge_max_tokens") == 0 ? &st->judge_max_tokens
                                                                 : NULL;
        if (!dst) {
            free(st);
            return cb_err_set(err, CB_EUSAGE, "%s.%s: unknown key (expected max_tokens or judge_max_tokens)", path,
                              it->string);
        }
        if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 1e6 ||
            it->valuedouble != floor(it->valuedouble)) {
            free(st);
            return cb_err_set(err, CB_EUSAGE, "%s.%s: expected an integer from 1 to 1000000", path, it->string);
        }
        *dst = (int)it->valuedouble;
    }
    *out = st;
    return 0;
}

static cJSON *state_to_json(const void *p) {
    const so_state *st = p;
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddNumberToObject(o, "max_tokens", st->max_tokens) ||
              !cJSON_AddNumberToObject(o, "judge_max_tokens", st->judge_max_tokens))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- a generated table record ---------------------------------------------- */

#define MAX_ROWS 16
#define MAX_COLS 12
#define CELL 48

typedef struct rec {
    int n_rows, n_cols;             /* data rows; columns incl. the label column */
    char head[MAX_COLS][CELL];      /* head[0]: label column name ("" for raw) */
    char cell[MAX_ROWS][MAX_COLS][CELL]; /* cell[r][0] = row label; "" = not given */
} rec;

/* ---- syllable names ---- */

static const char *const syl[] = {"ka", "lo", "ren", "mi", "sa", "to", "vel", "na", "dor", "li", "mar", "ta",
                                  "ven", "ro", "bel", "co", "di", "fen", "ga", "hol", "jo", "ker", "lan", "mo",
                                  "nor", "pe", "quin", "ras", "sel", "tor", "ul", "wen", "zar", "bri", "cal", "del"};

static void syl_name(cb_rng *r, char *out, size_t cap, int lo, int hi) {
    int n = (int)cb_rng_range(r, lo, hi);
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *s = syl[cb_rng_uniform(r, NELEM(syl))];
        size_t l = strlen(s);
        if (k + l + 1 > cap) break;
        memcpy(out + k, s, l);
        k += l;
    }
    out[k] = '\0';
    if (k) out[0] = (char)(out[0] - 'a' + 'A');
}

static int bad_name(const char *s) {
    char low[CELL];
    size_t n = strlen(s);
    if (n >= sizeof low) n = sizeof low - 1;
    for (size_t i = 0; i < n; i++) low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    low[n] = '\0';
    return strstr(low, "team") || strstr(low, "player");
}

/* ---- raw: game report ---- */

static const char *const cities[] = {"Arden", "Bayport", "Cedar Falls", "Dunmore", "Eastvale", "Fairhaven",
                                     "Glenrock", "Harbor City", "Ironwood", "Jasper", "Kingsford", "Lakemont",
                                     "Millbrook", "Northgate", "Oakridge", "Pinecrest", "Quarry Hill", "Riverton",
                                     "Stonebridge", "Tidewater", "Upton", "Valemont", "Westfield", "Yorkshire Bay"};
static const char *const nicknames[] = {"Badgers", "Comets", "Falcons", "Foxes", "Giants", "Hornets",
                                        "Jaguars", "Knights", "Lynx", "Mustangs", "Owls", "Pilots",
                                        "Rams", "Ravens", "Rockets", "Sharks", "Stallions", "Storm",
                                        "Titans", "Vipers", "Wolves", "Yetis", "Bison", "Herons"};
static const char *const weekdays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

enum { T_WINS, T_LOSSES, T_TOTAL, T_Q1, T_Q2, T_Q3, T_Q4, T_FG, T_REB, T_AST, T_TOV, T_NCOL };
static const char *const team_cols[T_NCOL] = {"Wins", "Losses", "Total points", "Points in 1st quarter",
                                              "Points in 2nd quarter", "Points in 3rd quarter",
                                              "Points in 4th quarter", "Percentage of field goals", "Rebounds",
                                              "Assists", "Turnovers"};
enum { P_PTS, P_REB, P_AST, P_MIN, P_FGM, P_FGA, P_3PM, P_STL, P_BLK, P_TOV, P_NCOL };
static const char *const player_cols[P_NCOL] = {"Points", "Rebounds", "Assists", "Minutes played",
                                                "Field goals made", "Field goal attempts", "3-pointers made",
                                                "Steals", "Blocks", "Turnovers"};

typedef struct game {
    char team[2][CELL];
    int tv[2][T_NCOL];
    int tm[2][T_NCOL]; /* mentioned */
    int n_players;
    char pname[14][CELL];
    int pv[14][P_NCOL];
    int pm[14][P_NCOL];
    char weekday[12];
} game;

static const char *pl(int v, const char *one, const char *many) { return v == 1 ? one : many; }

static void gen_game(cb_rng *r, game *g) {
    memset(g, 0, sizeof *g);
    int c0 = (int)cb_rng_uniform(r, NELEM(cities)), c1 = (int)cb_rng_uniform(r, NELEM(cities) - 1);
    if (c1 >= c0) c1++;
    int n0 = (int)cb_rng_uniform(r, NELEM(nicknames)), n1 = (int)cb_rng_uniform(r, NELEM(nicknames) - 1);
    if (n1 >= n0) n1++;
    (void)c0;
    (void)c1; /* the city shapes nothing but the draw order; row labels are nicknames */
    snprintf(g->team[0], CELL, "%s", nicknames[n0]);
    snprintf(g->team[1], CELL, "%s", nicknames[n1]);
    snprintf(g->weekday, sizeof g->weekday, "%s", weekdays[cb_rng_uniform(r, 7)]);
    for (int t = 0; t < 2; t++) {
        int *v = g->tv[t];
        v[T_WINS] = (int)cb_rng_range(r, 5, 60);
        v[T_LOSSES] = (int)cb_rng_range(r, 5, 60);
        v[T_TOTAL] = 0;
        for (int q = T_Q1; q <= T_Q4; q++) v[T_TOTAL] += v[q] = (int)cb_rng_range(r, 15, 38);
        v[T_FG] = (int)cb_rng_range(r, 36, 58);
        v[T_REB] = (int)cb_rng_range(r, 32, 58);
        v[T_AST] = (int)cb_rng_range(r, 14, 32);
        v[T_TOV] = (int)cb_rng_range(r, 7, 21);
        g->tm[t][T_WINS] = g->tm[t][T_LOSSES] = g->tm[t][T_TOTAL] = 1;
        for (int k = T_Q1; k < T_NCOL; k++) g->tm[t][k] = cb_rng_float(r) < 0.3;
    }
    if (g->tv[0][T_TOTAL] == g->tv[1][T_TOTAL]) { /* no ties: the home side's last quarter gets a point */
        g->tv[0][T_Q4]++;
        g->tv[0][T_TOTAL]++;
    }
    if (g->tv[1][T_TOTAL] > g->tv[0][T_TOTAL]) { /* the winner is named first, so it is row 1 */
        char tn[CELL];
        int tv[T_NCOL], tm[T_NCOL];
        memcpy(tn, g->team[0], CELL), memcpy(g->team[0], g->team[1], CELL), memcpy(g->team[1], tn, CELL);
        memcpy(tv, g->tv[0], sizeof tv), memcpy(g->tv[0], g->tv[1], sizeof tv), memcpy(g->tv[1], tv, sizeof tv);
        memcpy(tm, g->tm[0], sizeof tm), memcpy(g->tm[0], g->tm[1], sizeof tm), memcpy(g->tm[1], tm, sizeof tm);
    }
    int per[2] = {(int)cb_rng_range(r, 3, 7), (int)cb_rng_range(r, 3, 7)};
    g->n_players = per[0] + per[1];
    for (int p = 0; p < g->n_players; p++) {
        for (int tries = 0;; tries++) {
            char f[CELL / 2], l[CELL / 2];
            syl_name(r, f, sizeof f, 1, 2);
            syl_name(r, l, sizeof l, 2, 3);
            snprintf(g->pname[p], CELL, "%s %s", f, l);
            int dup = 0;
            for (int q = 0; q < p; q++) dup |= strcmp(g->pname[q], g->pname[p]) == 0;
            if (!dup && !bad_name(g->pname[p])) break;
        }
        int *v = g->pv[p];
        v[P_MIN] = (int)cb_rng_range(r, 12, 42);
        v[P_FGA] = (int)cb_rng_range(r, 2, 24);
        v[P_FGM] = (int)cb_rng_range(r, 0, v[P_FGA]);
        v[P_3PM] = (int)cb_rng_range(r, 0, v[P_FGM] < 6 ? v[P_FGM] : 6);
        v[P_PTS] = 2 * v[P_FGM] + v[P_3PM] + (int)cb_rng_range(r, 0, 8);
        v[P_REB] = (int)cb_rng_range(r, 0, 14);
        v[P_AST] = (int)cb_rng_range(r, 0, 11);
        v[P_STL] = (int)cb_rng_range(r, 0, 4);
        v[P_BLK] = (int)cb_rng_range(r, 0, 4);
        v[P_TOV] = (int)cb_rng_range(r, 0, 6);
        g->pm[p][P_PTS] = 1;
        for (int k = 1; k < P_NCOL; k++) g->pm[p][k] = cb_rng_float(r) < 0.5;
    }
    /* mention order: both rosters shuffled together */
    int order[14];
    for (int p = 0; p < g->n_players; p++) order[p] = p;
    cb_rng_shuffle(r, order, (size_t)g->n_players, sizeof order[0]);
    game tmp = *g;
    for (int p = 0; p < g->n_players; p++) {
        memcpy(g->pname[p], tmp.pname[order[p]], CELL);
        memcpy(g->pv[p], tmp.pv[order[p]], sizeof g->pv[p]);
        memcpy(g->pm[p], tmp.pm[order[p]], sizeof g->pm[p]);
    }
}

static void game_text(const game *g, cb_textbuf *b) {
    int w = 0, l = 1; /* gen_game puts the winner first */
    cb_textbuf_printf(b, "The %s (%d-%d) beat the %s (%d-%d) %d-%d on %s.", g->team[w], g->tv[w][T_WINS],
                      g->tv[w][T_LOSSES], g->team[l], g->tv[l][T_WINS], g->tv[l][T_LOSSES], g->tv[w][T_TOTAL],
                      g->tv[l][T_TOTAL], g->weekday);
    static const char *const qname[] = {"first", "second", "third", "fourth"};
    for (int t = 0; t < 2; t++) {
        const int *v = g->tv[t], *m = g->tm[t];
        for (int q = 0; q < 4; q++)
            if (m[T_Q1 + q])
                cb_textbuf_printf(b, " The %s scored %d points in the %s quarter.", g->team[t], v[T_Q1 + q], qname[q]);
        if (m[T_FG]) cb_textbuf_printf(b, " The %s shot %d percent from the field.", g->team[t], v[T_FG]);
        if (m[T_REB]) cb_textbuf_printf(b, " The %s grabbed %d rebounds as a team.", g->team[t], v[T_REB]);
        if (m[T_AST]) cb_textbuf_printf(b, " The %s handed out %d assists.", g->team[t], v[T_AST]);
        if (m[T_TOV]) cb_textbuf_printf(b, " The %s committed %d turnovers.", g->team[t], v[T_TOV]);
    }
    for (int p = 0; p < g->n_players; p++) {
        const char *n = g->pname[p];
        const int *v = g->pv[p], *m = g->pm[p];
        cb_textbuf_printf(b, " %s scored %d %s", n, v[P_PTS], pl(v[P_PTS], "point", "points"));
        if (m[P_REB] && m[P_AST])
            cb_textbuf_printf(b, ", grabbed %d %s and handed out %d %s", v[P_REB], pl(v[P_REB], "rebound", "rebounds"),
                              v[P_AST], pl(v[P_AST], "assist", "assists"));
        else if (m[P_REB])
            cb_textbuf_printf(b, " and grabbed %d %s", v[P_REB], pl(v[P_REB], "rebound", "rebounds"));
        else if (m[P_AST])
            cb_textbuf_printf(b, " and handed out %d %s", v[P_AST], pl(v[P_AST], "assist", "assists"));
        if (m[P_MIN]) cb_textbuf_printf(b, " in %d minutes", v[P_MIN]);
        cb_textbuf_puts(b, ".");
        if (m[P_FGM] && m[P_FGA])
            cb_textbuf_printf(b, " %s made %d of %d shots from the field", n, v[P_FGM], v[P_FGA]);
        else if (m[P_FGM])
            cb_textbuf_printf(b, " %s made %d field %s", n, v[P_FGM], pl(v[P_FGM], "goal", "goals"));
        else if (m[P_FGA])
            cb_textbuf_printf(b, " %s attempted %d field %s", n, v[P_FGA], pl(v[P_FGA], "goal", "goals"));
        if (m[P_3PM] && (m[P_FGM] || m[P_FGA]))
            cb_textbuf_printf(b, " and hit %d %s", v[P_3PM], pl(v[P_3PM], "three-pointer", "three-pointers"));
        else if (m[P_3PM])
            cb_textbuf_printf(b, " %s hit %d %s", n, v[P_3PM], pl(v[P_3PM], "three-pointer", "three-pointers"));
        if (m[P_FGM] || m[P_FGA] || m[P_3PM]) cb_textbuf_puts(b, ".");
        int extra = m[P_STL] + m[P_BLK] + m[P_TOV], said = 0;
        if (extra) {
            cb_textbuf_printf(b, " %s added", n);
            const int ks[3] = {P_STL, P_BLK, P_TOV};
            const char *one[3] = {"steal", "block", "turnover"}, *many[3] = {"steals", "blocks", "turnovers"};
            for (int k = 0; k < 3; k++) {
                if (!m[ks[k]]) continue;
                said++;
                const char *sep = said == 1 ? " " : said == extra ? " and " : ", ";
                cb_textbuf_printf(b, "%s%d %s", sep, v[ks[k]], pl(v[ks[k]], one[k], many[k]));
            }
            cb_textbuf_puts(b, ".");
        }
    }
}

/* One raw gold table: columns = statistics mentioned for some entity. */
static void raw_table(cb_textbuf *b, int n_ent, const char (*names)[CELL], int ncol, const char *const *cols,
                      const int *vals, const int *ment, int stride) {
    int use[16] = {0};
    for (int k = 0; k < ncol; k++)
        for (int e = 0; e < n_ent; e++) use[k] |= ment[e * stride + k];
    cb_textbuf_puts(b, "| |");
    for (int k = 0; k < ncol; k++)
        if (use[k]) cb_textbuf_printf(b, " %s |", cols[k]);
    cb_textbuf_puts(b, "\n");
    for (int e = 0; e < n_ent; e++) {
        cb_textbuf_printf(b, "| %s |", names[e]);
        for (int k = 0; k < ncol; k++) {
            if (!use[k]) continue;
            if (ment[e * stride + k]) cb_textbuf_printf(b, " %d |", vals[e * stride + k]);
            else cb_textbuf_puts(b, " |");
        }
        cb_textbuf_puts(b, "\n");
    }
}

static void game_gold(const game *g, cb_textbuf *b) {
    cb_textbuf_puts(b, "Team:\n");
    raw_table(b, 2, g->team, T_NCOL, team_cols, &g->tv[0][0], &g->tm[0][0], T_NCOL);
    cb_textbuf_puts(b, "Player:\n");
    raw_table(b, g->n_players, g->pname, P_NCOL, player_cols, &g->pv[0][0], &g->pm[0][0], P_NCOL);
}

/* ---- html / latex: domain tables ---- */

typedef struct col_def {
    const char *name;
    int numeric;               /* 1: integer in [lo, hi] */
    int lo, hi;
    const char *const *words;  /* text values */
    int n_words;
} col_def;

static const char *const categories[] = {"Kitchen", "Garden", "Office", "Outdoor", "Toys", "Audio", "Lighting", "Tools"};
static const char *const colors[] = {"Red", "Blue", "Green", "Black", "White", "Silver", "Yellow", "Orange"};
static const char *const suppliers[] = {"Acme", "Borel", "Corvo", "Dalton", "Elmstead", "Fenwick", "Granger"};
static const char *const countries[] = {"Norway", "Chile", "Kenya", "Canada", "Peru", "Japan", "Italy", "Ghana"};
static const char *const climates[] = {"Temperate", "Arid", "Tropical", "Polar", "Continental", "Maritime"};
static const char *const catalysts[] = {"Platinum", "Nickel", "Zeolite", "Copper", "Iron", "None"};
static const char *const statuses[] = {"Complete", "Pending", "Failed", "Repeated"};
static const char *const departments[] = {"Sales", "Finance", "Research", "Legal", "Support", "Design", "Logistics"};
static const char *const roles[] = {"Analyst", "Manager", "Engineer", "Designer", "Clerk", "Director"};
static const char *const offices[] = {"Arden", "Bayport", "Jasper", "Riverton", "Upton", "Westfield"};
static const char *const product_a[] = {"Amber", "Brisk", "Cosy", "Dapper", "Echo", "Fable", "Gusto", "Halo",
                                        "Ivory", "Jolly", "Koda", "Lumen"};
static const char *const product_b[] = {"Kettle", "Lamp", "Chair", "Speaker", "Drill", "Planter", "Clock", "Stool",
                                        "Fan", "Heater", "Blender", "Shelf"};

#define W(a) a, (int)NELEM(a)
static const col_def products[] = {
    {"Product", 0, 0, 0, NULL, 0},          {"Category", 0, 0, 0, W(categories)},
    {"Price (USD)", 1, 5, 480, NULL, 0},    {"Stock", 1, 0, 900, NULL, 0},
    {"Color", 0, 0, 0, W(colors)},          {"Weight (g)", 1, 80, 5000, NULL, 0},
    {"Supplier", 0, 0, 0, W(suppliers)},    {"Warranty (years)", 1, 1, 5, NULL, 0}};
static const col_def citytab[] = {
    {"City", 0, 0, 0, NULL, 0},                 {"Country", 0, 0, 0, W(countries)},
    {"Population (thousands)", 1, 40, 9000, NULL, 0}, {"Area (km2)", 1, 20, 3000, NULL, 0},
    {"Founded", 1, 1100, 1950, NULL, 0},         {"Climate", 0, 0, 0, W(climates)},
    {"Elevation (m)", 1, 0, 2400, NULL, 0},      {"Museums", 1, 0, 60, NULL, 0}};
static const col_def experiments[] = {
    {"Experiment", 0, 0, 0, NULL, 0},       {"Temperature (C)", 1, 10, 350, NULL, 0},
    {"Pressure (kPa)", 1, 80, 900, NULL, 0}, {"Duration (min)", 1, 5, 240, NULL, 0},
    {"Yield (percent)", 1, 1, 99, NULL, 0}, {"Catalyst", 0, 0, 0, W(catalysts)},
    {"Status", 0, 0, 0, W(statuses)},       {"Samples", 1, 1, 48, NULL, 0}};
static const col_def employees[] = {
    {"Employee", 0, 0, 0, NULL, 0},         {"Department", 0, 0, 0, W(departments)},
    {"Age", 1, 21, 66, NULL, 0},            {"Salary (USD)", 1, 28000, 190000, NULL, 0},
    {"Office", 0, 0, 0, W(offices)},        {"Role", 0, 0, 0, W(roles)},
    {"Start year", 1, 1990, 2024, NULL, 0}, {"Projects", 1, 0, 30, NULL, 0}};

typedef struct domain {
    const char *name, *plural;
    const col_def *cols; /* 8: the label column, then 7 others */
    const char *captions[3];
} domain;

static const domain domains[] = {
    {"products", "products", products, {"Product catalogue", "Items in stock", "Store inventory"}},
    {"cities", "cities", citytab, {"City overview", "Regional statistics", "Selected cities"}},
    {"experiments", "experiments", experiments, {"Experiment results", "Laboratory runs", "Trial summary"}},
    {"employees", "employees", employees, {"Employee records", "Staff directory", "Team members"}},
};

typedef struct dtab {
    rec t;
    int dom;
    int numeric[MAX_COLS];
    char caption[64];
    char spec[2 * MAX_COLS + 1];
} dtab;

static void row_label(cb_rng *r, int dom, int row, char *out) {
    switch (dom) {
    case 0:
        snprintf(out, CELL, "%s %s", product_a[cb_rng_uniform(r, NELEM(product_a))],
                 product_b[cb_rng_uniform(r, NELEM(product_b))]);
        break;
    case 2: {
        static const char *const pre[] = {"Run", "Trial", "Batch", "Test"};
        snprintf(out, CELL, "%s %c%d", pre[cb_rng_uniform(r, 4)], 'A' + (int)cb_rng_uniform(r, 6),
                 (int)cb_rng_range(r, 1, 99));
        break;
    }
    default: {
        char a[CELL / 2], b2[CELL / 2];
        syl_name(r, a, sizeof a, dom == 1 ? 2 : 1, dom == 1 ? 3 : 2);
        if (dom == 1) {
            snprintf(out, CELL, "%s", a);
        } else {
            syl_name(r, b2, sizeof b2, 2, 3);
            snprintf(out, CELL, "%s %s", a, b2);
        }
    }
    }
    (void)row;
}

static void gen_dtab(cb_rng *r, dtab *d) {
    memset(d, 0, sizeof *d);
    d->dom = (int)cb_rng_uniform(r, NELEM(domains));
    const domain *D = &domains[d->dom];
    int ncols = (int)cb_rng_range(r, 3, 8);
    uint32_t idx[7];
    for (int i = 0; i < 7; i++) idx[i] = (uint32_t)i + 1;
    cb_rng_sample(r, idx, 7, (size_t)(ncols - 1));
    /* keep the domain's column order */
    for (int i = 0; i < ncols - 1; i++)
        for (int j = i + 1; j < ncols - 1; j++)
            if (idx[j] < idx[i]) {
                uint32_t t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
            }
    int cols[MAX_COLS];
    cols[0] = 0;
    for (int i = 0; i < ncols - 1; i++) cols[i + 1] = (int)idx[i];
    d->t.n_cols = ncols;
    d->t.n_rows = (int)cb_rng_range(r, 3, 12);
    for (int c = 0; c < ncols; c++) {
        snprintf(d->t.head[c], CELL, "%s", D->cols[cols[c]].name);
        d->numeric[c] = D->cols[cols[c]].numeric;
    }
    for (int row = 0; row < d->t.n_rows; row++) {
        for (int tries = 0; tries < 1000; tries++) {
            row_label(r, d->dom, row, d->t.cell[row][0]);
            int dup = 0;
            for (int q = 0; q < row; q++) dup |= strcmp(d->t.cell[q][0], d->t.cell[row][0]) == 0;
            if (!dup) break;
        }
        for (int c = 1; c < ncols; c++) {
            const col_def *cd = &D->cols[cols[c]];
            if (cd->numeric) snprintf(d->t.cell[row][c], CELL, "%d", (int)cb_rng_range(r, cd->lo, cd->hi));
            else snprintf(d->t.cell[row][c], CELL, "%s", cd->words[cb_rng_uniform(r, (uint64_t)cd->n_words)]);
        }
    }
    snprintf(d->caption, sizeof d->caption, "%s", D->captions[cb_rng_uniform(r, 3)]);
    int k = 0;
    for (int c = 0; c < ncols; c++) {
        if (c > 0 && cb_rng_float(r) < 0.5) d->spec[k++] = '|';
        d->spec[k++] = c == 0 ? 'l' : d->numeric[c] ? 'r' : (cb_rng_float(r) < 0.5 ? 'l' : 'c');
    }
    d->spec[k] = '\0';
}

static void dtab_text(const dtab *d, cb_textbuf *b) {
    const rec *t = &d->t;
    cb_textbuf_printf(b, "The following describes %d %s.", t->n_rows, domains[d->dom].plural);
    for (int r = 0; r < t->n_rows; r++) {
        cb_textbuf_printf(b, " For the %s %s,", domains[d->dom].cols[0].name, t->cell[r][0]);
        for (int c = 1; c < t->n_cols; c++) {
            const char *sep = c == 1 ? "" : c == t->n_cols - 1 ? " and" : ",";
            cb_textbuf_printf(b, "%s the %s is %s", sep, t->head[c], t->cell[r][c]);
        }
        cb_textbuf_puts(b, ".");
    }
}

static void html_gold(const dtab *d, cb_textbuf *b) {
    const rec *t = &d->t;
    cb_textbuf_puts(b, "<table>\n<tr>");
    for (int c = 0; c < t->n_cols; c++) cb_textbuf_printf(b, "<th>%s</th>", t->head[c]);
    cb_textbuf_puts(b, "</tr>\n");
    for (int r = 0; r < t->n_rows; r++) {
        cb_textbuf_puts(b, "<tr>");
        for (int c = 0; c < t->n_cols; c++) cb_textbuf_printf(b, "<td>%s</td>", t->cell[r][c]);
        cb_textbuf_puts(b, "</tr>\n");
    }
    cb_textbuf_puts(b, "</table>");
}

static void latex_gold(const dtab *d, cb_textbuf *b) {
    const rec *t = &d->t;
    cb_textbuf_printf(b, "\\begin{table}\n\\centering\n\\caption{%s}\n\\begin{tabular}{%s}\n\\hline\n", d->caption,
                      d->spec);
    for (int r = -1; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++)
            cb_textbuf_printf(b, "%s%s", c ? " & " : "", r < 0 ? t->head[c] : t->cell[r][c]);
        cb_textbuf_puts(b, r < 0 ? " \\\\\n\\hline\n" : " \\\\\n");
    }
    cb_textbuf_puts(b, "\\hline\n\\end{tabular}\n\\end{table}");
}

/* ---- prompts ---- */

static void instruction(int sub, const char *text, const char *caption, const char *spec, cb_textbuf *b) {
    switch (sub) {
    case ST_RAW:
        cb_textbuf_printf(b,
                          "Below is a basketball game summary. Convert it into two tables. Write the line \"Team:\" and "
                          "then a table with one row per team, then the line \"Player:\" and then a table with one row "
                          "per player. Separate cells with \"|\", start and end every row with \"|\", put the column "
                          "names in the first row with an empty first cell, and leave a cell empty when the summary "
                          "does not give its value. Output only the tables.\n\nSummary:\n%s",
                          text);
        break;
    case ST_HTML:
        cb_textbuf_printf(b,
                          "Convert the description below into an HTML table. Use <table>, one header row of <th> "
                          "cells, then one <tr> of <td> cells per row, keeping rows and columns in the order they are "
                          "described. Output only the HTML.\n\nDescription:\n%s",
                          text);
        break;
    default:
        cb_textbuf_printf(b,
                          "Convert the description below into a LaTeX table: a table environment with \\caption{%s} "
                          "and a tabular environment with column specification %s, \\hline after the header row and "
                          "at the end, cells separated by &, rows ending with \\\\. Output only the LaTeX code.\n\n"
                          "Description:\n%s",
                          caption, spec, text);
    }
}

static void list_names(cb_textbuf *b, const char *const *names, int n) {
    for (int i = 0; i < n; i++) cb_textbuf_printf(b, "%s%s", i ? ", " : "", names[i]);
}

/* Format requirements derived from the parsed gold (formatcot). */
static void format_block(int sub, const cb_table *g0, const cb_table *g1, const char *caption, const char *spec,
                         cb_textbuf *b) {
    cb_textbuf_puts(b, "\n\nFormat requirements:\n");
    const cb_table *tabs[2] = {g0, g1};
    int ntab = sub == ST_RAW ? 2 : 1;
    for (int k = 0; k < ntab; k++) {
        const cb_table *t = tabs[k];
        const char *what = sub == ST_RAW ? (k == 0 ? "The team table" : "The player table") : "The table";
        int nh;
        char **h = cb_table_row(t, 0, &nh);
        int skip = sub == ST_RAW; /* raw: the empty first header cell is not a column name */
        cb_textbuf_printf(b, "%s has %d columns%s, in this order: ", what, nh - skip,
                          skip ? " after the name column" : "");
        list_names(b, (const char *const *)h + skip, nh - skip);
        cb_textbuf_printf(b, ".\nIt has %d rows after the header row; their first cells are, in order: ",
                          t->n_rows - 1);
        for (int r = 1; r < t->n_rows; r++) {
            int n;
            char **c = cb_table_row(t, r, &n);
            cb_textbuf_printf(b, "%s%s", r > 1 ? ", " : "", n ? c[0] : "");
        }
        cb_textbuf_puts(b, ".\n");
    }
    if (sub == ST_RAW)
        cb_textbuf_puts(b, "Cells are separated by \"|\"; every row starts and ends with \"|\"; the header row starts "
                           "with an empty cell. A cell whose value the summary does not give is left empty (nothing "
                           "between its bars).");
    else if (sub == ST_HTML)
        cb_textbuf_puts(b, "The header row uses <th> cells, every other row <td> cells, inside one <table>; no cell "
                           "is empty.");
    else
        cb_textbuf_printf(b, "Cells are separated by &, every row ends with \\\\, \\hline comes before the header "
                             "row, after it and at the end. The caption is \"%s\" and the column specification is "
                             "{%s}.",
                          caption, spec);
}

/* ---- items ---- */

typedef struct built {
    cb_textbuf text, gold;
    char caption[64], spec[2 * MAX_COLS + 1];
} built;

static void built_free(built *x) {
    cb_textbuf_free(&x->text);
    cb_textbuf_free(&x->gold);
}

static void build_core(uint64_t task_seed, int sub, int64_t index, built *x) {
    cb_rng r;
    cb_rng_seed(&r, cb_task_item_seed(task_seed, FAMILY, subtasks[sub], index));
    cb_textbuf_init(&x->text);
    cb_textbuf_init(&x->gold);
    x->caption[0] = x->spec[0] = '\0';
    if (sub == ST_RAW) {
        game *g = malloc(sizeof *g);
        if (!g) {
            x->text.failed = 1;
            return;
        }
        gen_game(&r, g);
        game_text(g, &x->text);
        game_gold(g, &x->gold);
        free(g);
    } else {
        dtab *d = malloc(sizeof *d);
        if (!d) {
            x->text.failed = 1;
            return;
        }
        gen_dtab(&r, d);
        dtab_text(d, &x->text);
        if (sub == ST_HTML) html_gold(d, &x->gold);
        else latex_gold(d, &x->gold);
        snprintf(x->caption, sizeof x->caption, "%s", d->caption);
        snprintf(x->spec, sizeof x->spec, "%s", d->spec);
        free(d);
    }
}

/* Parses a (gold or predicted) response of subtask sub into t0 (and t1 for
 * raw); cells per the gold's mode for HTML. */
static int parse_as(int sub, const char *text, cb_html_cells mode, cb_table *t0, cb_table *t1, cb_err *err) {
    size_t a, e;
    cb_table_strip_fence(text, &a, &e);
    if (sub == ST_RAW) return cb_table_parse_raw(text + a, e - a, t0, t1, err);
    if (sub == ST_HTML) return cb_table_parse_html(text + a, e - a, mode, t0, err);
    return cb_table_parse_latex(text + a, e - a, t0, err);
}

static int build_requests(cb_item *it, cb_err *err) {
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(it->meta, "max_tokens");
    if (!cJSON_IsNumber(mt) || mt->valuedouble < 1)
        return cb_err_set(err, CB_EFORMAT, "field \"meta.max_tokens\": expected a positive integer");
    cb_treq *q = cb_item_alloc(it, sizeof *q);
    if (!q) return cb_err_set(err, CB_ENOMEM, "out of memory");
    q->kind = CB_TREQ_GENERATE;
    q->turns = it->turns;
    q->n_turns = it->n_turns;
    q->max_tokens = (int)mt->valuedouble;
    q->seed = it->seed;
    cb_item_set_reqs(it, q, 1);
    return 0;
}

static int generate(const void *state, uint64_t task_seed, cb_item *it, cb_err *err) {
    const so_state *st = state;
    int sub = cb_task_family_subtask(it->family, it->subtask);
    int se = cb_task_family_setting(it->family, it->setting);
    int rc = 0;
    built x, demo;
    cb_textbuf prompt, demo_prompt;
    cb_textbuf_init(&prompt);
    cb_textbuf_init(&demo_prompt);
    cb_table g0, g1;
    cb_table_init(&g0);
    cb_table_init(&g1);
    build_core(task_seed, sub, it->index, &x);
    cb_textbuf_init(&demo.text);
    cb_textbuf_init(&demo.gold);
    instruction(sub, cb_textbuf_str(&x.text), x.caption, x.spec, &prompt);
    if (se == S_FORMATCOT) {
        if ((rc = parse_as(sub, cb_textbuf_str(&x.gold), CB_HTML_CELLS_TABLE, &g0, &g1, err))) goto out;
        format_block(sub, &g0, &g1, x.caption, x.spec, &prompt);
    }
    cb_turn turns[3];
    int nt = 0;
    if (se == S_ONESHOT) {
        built_free(&demo);
        build_core(task_seed, sub, DEMO_OFFSET + it->index, &demo);
        instruction(sub, cb_textbuf_str(&demo.text), demo.caption, demo.spec, &demo_prompt);
        turns[nt++] = (cb_turn){CB_TURN_USER, cb_textbuf_str(&demo_prompt)};
        turns[nt++] = (cb_turn){CB_TURN_ASSISTANT, cb_textbuf_str(&demo.gold)};
    }
    turns[nt++] = (cb_turn){CB_TURN_USER, cb_textbuf_str(&prompt)};
    if (cb_textbuf_failed(&x.text) || cb_textbuf_failed(&x.gold) || cb_textbuf_failed(&prompt) ||
        cb_textbuf_failed(&demo.text) || cb_textbuf_failed(&demo.gold) || cb_textbuf_failed(&demo_prompt))
        goto oom;
    if (cb_item_set_turns(it, turns, nt) || cb_item_set_gold_str(it, cb_textbuf_str(&x.gold)) ||
        cb_item_set_capabilities(it, FAMILY_CAP, subtask_caps[sub]))
        goto oom;
    cJSON *m = cJSON_CreateObject();
    if (!m) goto oom;
    it->meta = m;
    if (!cJSON_AddStringToObject(m, "format", subtasks[sub]) ||
        !cJSON_AddStringToObject(m, "text", cb_textbuf_str(&x.text)) ||
        !cJSON_AddNumberToObject(m, "max_tokens", st->max_tokens) ||
        !cJSON_AddNumberToObject(m, "judge_max_tokens", st->judge_max_tokens))
        goto oom;
    if (sub == ST_LATEX &&
        (!cJSON_AddStringToObject(m, "caption", x.caption) || !cJSON_AddStringToObject(m, "spec", x.spec)))
        goto oom;
    rc = build_requests(it, err);
    goto out;
oom:
    rc = cb_err_set(err, CB_ENOMEM, "%s: out of memory", it->id);
out:
    cb_table_clear(&g0);
    cb_table_clear(&g1);
    built_free(&x);
    built_free(&demo);
    cb_textbuf_free(&prompt);
    cb_textbuf_free(&demo_prompt);
    return rc;
}

/* ---- grading ---- */

/* Components of one format (TASKS.md 4.5), before averaging over tables. */
typedef struct comps {
    int n_content, n_structure;
    double content[3], structure[4];
    const char *cname[3], *sname[4];
} comps;

static const char *const *cells_of(const cb_table *t, int from_row, int *n) {
    if (t->n_rows <= from_row) {
        *n = 0;
        return (const char *const *)t->cells;
    }
    *n = t->n_cells - t->row_off[from_row];
    return (const char *const *)t->cells + t->row_off[from_row];
}

static double row_sim(double (*f)(const char *const *, int, const char *const *, int), const cb_table *p,
                      const cb_table *g, int header) {
    int np = 0, ng = 0;
    const char *const *pc, *const *gc;
    if (header) {
        pc = p->n_rows ? (const char *const *)cb_table_row(p, 0, &np) : NULL;
        gc = g->n_rows ? (const char *const *)cb_table_row(g, 0, &ng) : NULL;
    } else {
        pc = cells_of(p, 1, &np);
        gc = cells_of(g, 1, &ng);
    }
    return f(pc, np, gc, ng);
}

static void comps_raw(const cb_table *p, const cb_table *g, comps *c) {
    memset(c, 0, sizeof *c);
    c->n_content = 2;
    c->cname[0] = "lev_data", c->cname[1] = "ratio_data";
    c->content[0] = row_sim(cb_seq_lev_sim, p, g, 0);
    c->content[1] = row_sim(cb_seq_ro_ratio, p, g, 0);
    c->n_structure = 4;
    c->sname[0] = "rows_match", c->sname[1] = "cols_match", c->sname[2] = "lev_header", c->sname[3] = "ratio_header";
    c->structure[0] = p->n_rows == g->n_rows;
    c->structure[1] = p->n_cols == g->n_cols;
    c->structure[2] = row_sim(cb_seq_lev_sim, p, g, 1);
    c->structure[3] = row_sim(cb_seq_ro_ratio, p, g, 1);
}

static void comps_html(const cb_table *p, const cb_table *g, comps *c) {
    memset(c, 0, sizeof *c);
    c->n_content = 2;
    c->cname[0] = "lev_cells", c->cname[1] = "ratio_cells";
    const char *const *pc = (const char *const *)p->cells, *const *gc = (const char *const *)g->cells;
    c->content[0] = cb_seq_lev_sim(pc, p->n_cells, gc, g->n_cells);
    c->content[1] = cb_seq_ro_ratio(pc, p->n_cells, gc, g->n_cells);
    c->n_structure = 3;
    c->sname[0] = "cell_count_match", c->sname[1] = "lev_tags", c->sname[2] = "ratio_tags";
    c->structure[0] = p->n_cells == g->n_cells;
    const char *const *pt = (const char *const *)p->tags, *const *gt = (const char *const *)g->tags;
    c->structure[1] = cb_seq_lev_sim(pt, p->n_tags, gt, g->n_tags);
    c->structure[2] = cb_seq_ro_ratio(pt, p->n_tags, gt, g->n_tags);
}

/* Spec as a sequence of one-character strings (buf: 2 bytes per char). */
static int spec_seq(const char *spec, char *buf, const char **seq, int cap) {
    int n = 0;
    for (const char *s = spec ? spec : ""; *s && n < cap; s++, n++) {
        buf[2 * n] = *s;
        buf[2 * n + 1] = '\0';
        seq[n] = buf + 2 * n;
    }
    return n;
}

static void comps_latex(const cb_table *p, const cb_table *g, comps *c) {
    memset(c, 0, sizeof *c);
    c->n_content = 3;
    c->cname[0] = "caption_match", c->cname[1] = "lev_cells", c->cname[2] = "ratio_cells";
    const char *pcap = p->caption ? p->caption : "None", *gcap = g->caption ? g->caption : "None";
    c->content[0] = strcmp(pcap, gcap) == 0;
    const char *const *pc = (const char *const *)p->cells, *const *gc = (const char *const *)g->cells;
    c->content[1] = cb_seq_lev_sim(pc, p->n_cells, gc, g->n_cells);
    c->content[2] = cb_seq_ro_ratio(pc, p->n_cells, gc, g->n_cells);
    c->n_structure = 4;
    c->sname[0] = "lev_spec", c->sname[1] = "ratio_spec", c->sname[2] = "rows_match", c->sname[3] = "cols_match";
    char pb[256], gb[256];
    const char *ps[128], *gs[128];
    int np = spec_seq(p->spec, pb, ps, 128), ng = spec_seq(g->spec, gb, gs, 128);
    c->structure[0] = cb_seq_lev_sim(ps, np, gs, ng);
    c->structure[1] = cb_seq_ro_ratio(ps, np, gs, ng);
    c->structure[2] = p->n_rows == g->n_rows;
    c->structure[3] = p->n_cols == g->n_cols;
}

static void comps_of(int sub, const cb_table *p, const cb_table *g, comps *c) {
    if (sub == ST_RAW) comps_raw(p, g, c);
    else if (sub == ST_HTML) comps_html(p, g, c);
    else comps_latex(p, g, c);
}

/* Components over the format's tables (raw: mean of team and player). A
 * prediction table that did not parse scores 0 on every component. */
static void comps_item(int sub, cb_table *const *p, cb_table *const *g, int ntab, comps *out) {
    comps acc, c;
    memset(&acc, 0, sizeof acc);
    for (int k = 0; k < ntab; k++) {
        comps_of(sub, p[k], g[k], &c);
        if (!p[k]->found) {
            for (int i = 0; i < c.n_content; i++) c.content[i] = 0;
            for (int i = 0; i < c.n_structure; i++) c.structure[i] = 0;
        }
        if (k == 0) {
            acc = c;
        } else {
            for (int i = 0; i < c.n_content; i++) acc.content[i] += c.content[i];
            for (int i = 0; i < c.n_structure; i++) acc.structure[i] += c.structure[i];
        }
    }
    for (int i = 0; i < acc.n_content; i++) acc.content[i] /= ntab;
    for (int i = 0; i < acc.n_structure; i++) acc.structure[i] /= ntab;
    *out = acc;
}

static double clip01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

static void h_scores(const comps *c, double *cr, double *sr, double *cn, double *sn) {
    *cr = *sr = *cn = *sn = 0;
    for (int i = 0; i < c->n_content; i++) *cr += c->content[i], *cn += clip01(c->content[i]);
    for (int i = 0; i < c->n_structure; i++) *sr += c->structure[i], *sn += clip01(c->structure[i]);
    *cn /= c->n_content;
    *sn /= c->n_structure;
}

/* A copy of g with every cell blank (same shape, tags and spec; no caption). */
static int blank_copy(const cb_table *g, cb_table *b) {
    cb_table_init(b);
    for (int r = 0; r < g->n_rows; r++) {
        int n;
        cb_table_row(g, r, &n);
        if (cb_table_add_row(b)) return CB_ENOMEM;
        for (int k = 0; k < n; k++)
            if (cb_table_add_cell(b, "", 0)) return CB_ENOMEM;
    }
    for (int i = 0; i < g->n_tags; i++)
        if (cb_table_add_tag(b, g->tags[i])) return CB_ENOMEM;
    if (g->spec && !(b->spec = strdup(g->spec))) return CB_ENOMEM;
    b->n_cols = g->n_cols;
    b->found = 1;
    return 0;
}

static int tables_equal(int sub, const cb_table *p, const cb_table *g) {
    if (p->n_rows != g->n_rows || p->n_cells != g->n_cells) return 0;
    for (int r = 0; r <= p->n_rows; r++)
        if (p->row_off[r] - p->row_off[0] != g->row_off[r] - g->row_off[0]) return 0;
    for (int i = 0; i < p->n_cells; i++)
        if (strcmp(p->cells[i], g->cells[i]) != 0) return 0;
    if (sub == ST_HTML) {
        if (p->n_tags != g->n_tags) return 0;
        for (int i = 0; i < p->n_tags; i++)
            if (strcmp(p->tags[i], g->tags[i]) != 0) return 0;
    }
    if (sub == ST_LATEX) {
        if (strcmp(p->caption ? p->caption : "None", g->caption ? g->caption : "None") != 0) return 0;
        if (strcmp(p->spec ? p->spec : "", g->spec ? g->spec : "") != 0) return 0;
    }
    return 1;
}

static int in_table(const cb_table *t, const char *s) {
    for (int i = 0; i < t->n_cells; i++)
        if (strcmp(t->cells[i], s) == 0) return 1;
    return 0;
}

/* Cell (r, c) of t or NULL. */
static const char *cell_at(const cb_table *t, int r, int c) {
    if (r >= t->n_rows) return NULL;
    int n;
    char **row = cb_table_row(t, r, &n);
    return c < n ? row[c] : NULL;
}

/* Diagnostic tags over the tables: coverage, hallucination, misplacement. */
static void diag(cb_table *const *p, cb_table *const *g, int ntab, const char *input, int *cov, int *hal, int *mis) {
    *cov = *hal = *mis = 0;
    for (int k = 0; k < ntab; k++) {
        for (int r = 0; r < g[k]->n_rows; r++) {
            int n;
            char **row = cb_table_row(g[k], r, &n);
            for (int c = 0; c < n; c++) {
                if (!row[c][0]) continue;
                if (!in_table(p[k], row[c])) *cov = 1;
                else {
                    const char *pc = cell_at(p[k], r, c);
                    if (!pc || strcmp(pc, row[c]) != 0) *mis = 1;
                }
            }
        }
        for (int i = 0; i < p[k]->n_cells; i++) {
            const char *s = p[k]->cells[i];
            if (s[0] && !in_table(g[k], s) && !(input && strstr(input, s))) *hal = 1;
        }
    }
}

static int blank_text(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return 0;
    return 1;
}

static void add_h(cb_grade *out, const comps *c, const char *cr_name, const char *sr_name, const char *cn_name,
                  const char *sn_name) {
    double cr, sr, cn, sn;
    h_scores(c, &cr, &sr, &cn, &sn);
    if (cr_name) cb_grade_add_metric(out, cr_name, cr);
    if (sr_name) cb_grade_add_metric(out, sr_name, sr);
    cb_grade_add_metric(out, cn_name, cn);
    cb_grade_add_metric(out, sn_name, sn);
}

/* ---- P-Score: judge rounds (TASKS.md 4.5) ---- */

enum { TAG_ANSWER = 0, TAG_P = 100, TAG_P_REASK = 110 }; /* + order: 0 prediction first, 1 gold first */

#define P_SYSTEM "You are a helpful data-processing assistant."
#define P_REASK                                                                                                      \
    "Your answer could not be read. Reply with a ```json block containing the keys \"content_similarity\" and "   \
    "\"structural_similarity\", each an integer from 0 to 10."
#define P_TEMPERATURE 0.1f

static const char *const p_format[] = {"text", "HTML", "LaTeX"}; /* {format} of the judge prompt */
static const char *const p_fence[] = {"text", "html", "latex"};  /* {fmt}: the fences' language */

/* Whether a response text parses as a table of the item's format (the same
 * rule grade() applies: raw needs a row in either table). */
static int parses(const cb_item *it, int sub, const char *text, int *parsed, cb_err *err) {
    cb_table t0, t1;
    cb_table_init(&t0);
    cb_table_init(&t1);
    cb_html_cells mode = sub == ST_HTML ? cb_table_html_mode(it->gold) : CB_HTML_CELLS_TABLE;
    int rc = parse_as(sub, text, mode, &t0, &t1, err);
    *parsed = !rc && (t0.found || (sub == ST_RAW && t1.found));
    cb_table_clear(&t0);
    cb_table_clear(&t1);
    return rc;
}

/* The table text shown to the judge: inside a surrounding code fence, trimmed. */
static void judge_table(const char *text, cb_textbuf *b) {
    size_t a, e;
    cb_table_strip_fence(text, &a, &e);
    while (a < e && strchr(" \t\r\n", text[a])) a++;
    while (e > a && strchr(" \t\r\n", text[e - 1])) e--;
    cb_textbuf_add(b, text + a, e - a);
}

/* The judge prompt of 4.5 with Table 1 = first, Table 2 = second. */
static void p_prompt(int sub, const char *first, const char *second, cb_textbuf *b) {
    cb_textbuf_printf(b, "Compare the two %s tables below.\nTable 1:\n```%s\n", p_format[sub], p_fence[sub]);
    judge_table(first, b);
    cb_textbuf_printf(b, "\n```\nTable 2:\n```%s\n", p_fence[sub]);
    judge_table(second, b);
    cb_textbuf_puts(b, "\n```\nGive two integer scores from 0 to 10.\n"
                       "- content_similarity: 10 when every cell holds the same data in both tables,\n"
                       "  0 when no cell does; roughly half the cells agreeing is a 5.\n"
                       "- structural_similarity: 10 when rows and columns agree in number and order\n"
                       "  and alignment matches; styling alone (font, colour) does not count.\n"
                       "Reason briefly, then give a ```json block containing the keys\n"
                       "\"content_similarity\" and \"structural_similarity\".");
}

static uint64_t p_seed(const cb_item *it, int tag) { return cb_splitmix64(it->seed ^ (0x9C0Eull << 32) ^ (uint64_t)tag); }

static int readable(const cb_task_resp *r) {
    double c, s;
    return r->ok && cb_judge_parse_similarity(r->text ? r->text : "", &c, &s);
}

/* Rounds: the two judge calls once the answer parses; then one re-ask per
 * order whose judgement could not be read (a judge request that failed at
 * the backend is not re-asked). A pure function of (item, responses, judge). */
static int next_round(cb_item *it, const cb_task_resp *resps, int n_resps, int round, int have_judge, cb_err *err) {
    (void)round;
    if (!have_judge || n_resps < 1 || !resps[0].ok) return 0;
    int sub = cb_task_family_subtask(it->family, it->subtask);
    int asked = 0, reasked = 0;
    for (int q = 0; q < n_resps; q++) {
        asked |= it->reqs[q].tag >= TAG_P && it->reqs[q].tag < TAG_P + 2;
        reasked |= it->reqs[q].tag >= TAG_P_REASK;
    }
    cb_treq rq[2];
    int n = 0;
    if (!asked) {
        int parsed = 0, rc = parses(it, sub, resps[0].text ? resps[0].text : "", &parsed, err);
        if (rc || !parsed) return rc; /* an unparsed answer scores P = 0 without a judge call */
        for (int o = 0; o < 2; o++) {
            cb_textbuf b;
            cb_textbuf_init(&b);
            p_prompt(sub, o == 0 ? resps[0].text : it->gold, o == 0 ? it->gold : resps[0].text, &b);
            cb_turn *t = cb_item_alloc(it, 2 * sizeof *t);
            if (t) {
                t[0] = (cb_turn){CB_TURN_SYSTEM, cb_item_strdup(it, P_SYSTEM, -1)};
                t[1] = (cb_turn){CB_TURN_USER, cb_textbuf_failed(&b) ? NULL : cb_item_strdup(it, cb_textbuf_str(&b), -1)};
            }
            cb_textbuf_free(&b);
            if (!t || !t[0].text || !t[1].text) return cb_err_set(err, CB_ENOMEM, "out of memory");
            rq[n++] = (cb_treq){.kind = CB_TREQ_GENERATE, .target = CB_TARGET_JUDGE, .tag = TAG_P + o, .turns = t,
                                .n_turns = 2, .max_tokens = cb_item_meta_int(it, "judge_max_tokens", 512),
                                .temperature = P_TEMPERATURE, .seed = p_seed(it, TAG_P + o)};
        }
    } else if (!reasked) {
        for (int q = 0; q < n_resps; q++) {
            const cb_treq *o = &it->reqs[q];
            if (o->tag < TAG_P || o->tag >= TAG_P + 2 || !resps[q].ok || readable(&resps[q])) continue;
            cb_turn *t = cb_item_alloc(it, (size_t)(o->n_turns + 2) * sizeof *t);
            if (!t) return cb_err_set(err, CB_ENOMEM, "out of memory");
            memcpy(t, o->turns, (size_t)o->n_turns * sizeof *t);
            t[o->n_turns] = (cb_turn){CB_TURN_ASSISTANT, cb_item_strdup(it, resps[q].text ? resps[q].text : "", -1)};
            t[o->n_turns + 1] = (cb_turn){CB_TURN_USER, cb_item_strdup(it, P_REASK, -1)};
            if (!t[o->n_turns].text || !t[o->n_turns + 1].text) return cb_err_set(err, CB_ENOMEM, "out of memory");
            rq[n] = *o;
            rq[n].tag = TAG_P_REASK + (o->tag - TAG_P);
            rq[n].turns = t;
            rq[n].n_turns = o->n_turns + 2;
            rq[n].seed = p_seed(it, rq[n].tag);
            n++;
        }
    }
    return n && cb_item_append_reqs(it, rq, n) ? cb_err_set(err, CB_ENOMEM, "out of memory") : 0;
}

/* P metrics of a graded item (see the file header). */
static void add_p(const cb_item *it, const cb_task_resp *resps, int n_resps, int parsed, cb_grade *out) {
    if (!resps[0].ok) return;
    if (!parsed) {
        cb_grade_add_metric(out, "p_content", 0);
        cb_grade_add_metric(out, "p_structure", 0);
        return;
    }
    double cs = 0, ss = 0;
    int n_ord = 0, n_calls = 0;
    for (int o = 0; o < 2; o++) {
        double c = 0, s = 0;
        int got = 0;
        for (int q = 1; q < n_resps && !got; q++) { /* the first call, then its re-ask */
            int tag = it->reqs[q].tag;
            if (tag != TAG_P + o && tag != TAG_P_REASK + o) continue;
            n_calls++;
            got = resps[q].ok && cb_judge_parse_similarity(resps[q].text ? resps[q].text : "", &c, &s);
        }
        if (got) cs += c, ss += s, n_ord++;
    }
    if (!n_calls) return; /* no judge: not computed */
    if (n_ord) {
        cb_grade_add_metric(out, "p_content", cs / n_ord / 10.0);
        cb_grade_add_metric(out, "p_structure", ss / n_ord / 10.0);
        cb_grade_add_metric(out, "p_orders", n_ord);
    }
    cb_grade_add_metric(out, "p_judge_failed", n_ord == 0);
}

static int grade(cb_grader_ctx *gctx, const cb_item *it, const cb_task_resp *resps, int n_resps, cb_grade *out,
                 cb_err *err) {
    (void)gctx;
    if (n_resps < 1) return cb_err_set(err, CB_EUSAGE, "%s: %d responses, need 1", it->id, n_resps);
    int sub = cb_task_family_subtask(it->family, it->subtask);
    int ntab = sub == ST_RAW ? 2 : 1;
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(it->meta, "text");
    const char *input = cJSON_IsString(jt) ? jt->valuestring : NULL;
    cb_table gt[2], pt[2], empty[2], blank[2];
    cb_table *gp[2] = {&gt[0], &gt[1]}, *pp[2] = {&pt[0], &pt[1]}, *ep[2] = {&empty[0], &empty[1]},
             *bp[2] = {&blank[0], &blank[1]};
    for (int k = 0; k < 2; k++) {
        cb_table_init(&gt[k]);
        cb_table_init(&pt[k]);
        cb_table_init(&empty[k]);
        cb_table_init(&blank[k]);
        empty[k].found = 1; /* baseline: an empty table counts as read (lev_sim gives it 0.5) */
    }
    int rc = 0;
    cb_html_cells mode = sub == ST_HTML ? cb_table_html_mode(it->gold) : CB_HTML_CELLS_TABLE;
    if ((rc = parse_as(sub, it->gold, mode, gp[0], gp[1], err))) goto out;
    const char *text = resps[0].ok && resps[0].text ? resps[0].text : "";
    if (resps[0].ok && resps[0].truncated) out->flags |= CB_GRADE_TRUNCATED;
    int parsed = 0;
    if (!resps[0].ok) {
        out->unparsed = 1;
        out->flags |= CB_GRADE_NO_RESPONSE;
        cb_grade_set_reason(out, "no response");
    } else if (blank_text(text)) {
        out->unparsed = 1;
        out->flags |= CB_GRADE_EMPTY;
        cb_grade_set_reason(out, "empty response");
    } else {
        if ((rc = parse_as(sub, text, mode, pp[0], pp[1], err))) goto out;
        parsed = pt[0].found || (ntab == 2 && pt[1].found);
        if (!parsed) {
            out->unparsed = 1;
            cb_grade_set_reason(out, "no %s table found in the response",
                                sub == ST_RAW ? "\"|\"" : sub == ST_HTML ? "HTML" : "tabular");
        }
    }
    comps c;
    comps_item(sub, pp, gp, ntab, &c); /* unparsed: every prediction table has found = 0 -> zeros */
    int exact = parsed;
    for (int k = 0; k < ntab && exact; k++) exact = pt[k].found && tables_equal(sub, &pt[k], &gt[k]);
    out->score = exact;
    if (parsed) {
        int n;
        char **c0 = cb_table_row(&pt[0], 0, &n);
        cb_grade_set_extracted(out, pt[0].n_rows ? c0[0] : "");
        cb_grade_set_reason(out, "%s table match", exact ? "exact" : "no exact");
    }
    for (int i = 0; i < c.n_content; i++) cb_grade_add_metric(out, c.cname[i], c.content[i]);
    for (int i = 0; i < c.n_structure; i++) cb_grade_add_metric(out, c.sname[i], c.structure[i]);
    add_h(out, &c, "h_content_raw", "h_structure_raw", "h_content", "h_structure");
    cb_grade_add_metric(out, "parsed", parsed);
    if (resps[0].ok) cb_grade_add_metric(out, "empty", (out->flags & CB_GRADE_EMPTY) != 0);
    /* baselines: an empty table, and the gold's shape with blank cells */
    for (int k = 0; k < ntab; k++)
        if (blank_copy(&gt[k], &blank[k])) {
            rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            goto out;
        }
    comps_item(sub, ep, gp, ntab, &c);
    add_h(out, &c, NULL, NULL, "h_content_empty", "h_structure_empty");
    comps_item(sub, bp, gp, ntab, &c);
    add_h(out, &c, NULL, NULL, "h_content_blank", "h_structure_blank");
    /* diagnostic tags */
    int cov = 1, hal = 0, mis = 0, shape_ok = parsed;
    if (parsed) diag(pp, gp, ntab, input, &cov, &hal, &mis);
    for (int k = 0; k < ntab && shape_ok; k++)
        shape_ok = pt[k].n_rows == gt[k].n_rows && pt[k].n_cols == gt[k].n_cols;
    cb_grade_add_metric(out, "tag_coverage", cov);
    cb_grade_add_metric(out, "tag_hallucination", hal);
    cb_grade_add_metric(out, "tag_misplacement", mis);
    cb_grade_add_metric(out, "tag_formatting", !shape_ok);
    add_p(it, resps, n_resps, parsed, out);
out:
    for (int k = 0; k < 2; k++) {
        cb_table_clear(&gt[k]);
        cb_table_clear(&pt[k]);
        cb_table_clear(&blank[k]);
    }
    return rc;
}

const cb_task_family cb_family_structured_output = {
    .name = FAMILY,
    .summary = "turn prose into exact tables: raw text (team/player), HTML and LaTeX (Struc-Bench H-Score; "
               "P-Score with a judge)",
    .grader_version = "structured-output/2",
    .capability = FAMILY_CAP,
    .subtasks = subtasks,
    .subtask_capabilities = subtask_caps,
    .settings = settings,
    .default_setting = "plain",
    .params_parse = state_parse,
    .params_free = state_free,
    .params_to_json = state_to_json,
    .generate = generate,
    .build_requests = build_requests,
    .grade = grade,
    .next_round = next_round,
};
