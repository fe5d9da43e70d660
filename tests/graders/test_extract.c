/* tests/graders/test_extract.c — answer extraction on golden tables of nasty
 * responses: markers, integers, number words, yes/no, normalization, F1. */
#include "graders/extract.h"

#include <criterion/criterion.h>
#include <string.h>

static cb_grader_ctx *g;

static void setup(void) {
    cb_err e;
    cr_assert_eq(cb_grader_ctx_new(&g, &e), 0, "%s", e.msg);
}
static void teardown(void) { cb_grader_ctx_free(g); }

TestSuite(extract, .init = setup, .fini = teardown);

Test(extract, final_segment) {
    int nm = -1;
    cr_assert_str_eq(cb_final_segment("Answer: 3", &nm), " 3");
    cr_assert_eq(nm, 0);
    cr_assert_str_eq(cb_final_segment("answer: 1 ... ANSWER:2", &nm), "2");
    cr_assert_str_eq(cb_final_segment("Respuesta: sí", &nm), " sí");
    cr_assert_eq(nm, 0);
    cr_assert_str_eq(cb_final_segment("just 4", &nm), "just 4");
    cr_assert_eq(nm, 1);
    cr_assert_str_eq(cb_final_segment("", &nm), "");
    cr_assert_eq(nm, 1);
    cr_assert_str_eq(cb_final_segment(NULL, &nm), "");
    /* "Answer" without a colon is not a marker */
    cr_assert_str_eq(cb_final_segment("The answer is 5", &nm), "The answer is 5");
    cr_assert_eq(nm, 1);
    cr_assert_str_eq(cb_final_segment("Answer: 3\n\nActually, 2", &nm), " 3\n\nActually, 2");
}

typedef struct {
    const char *text;
    int found;
    long long value;
    int from_word;
} int_case;

Test(extract, last_integer_golden) {
    static const int_case cases[] = {
        {"There are 3 r's", 1, 3, 0},
        {"**3**", 1, 3, 0},
        {"three", 1, 3, 1},
        {"There are two m's.", 1, 2, 1},
        {"Three? No, FOUR.", 1, 4, 1},
        {" 3\n\nActually, 2", 1, 2, 0}, /* final_segment of "Answer: 3\n\nActually, 2" */
        {"", 0, 0, 0},
        {"no digits here", 0, 0, 0},
        {"r2d2 has 4", 1, 4, 0},
        {"r2d2", 1, 2, 0},  /* no word boundaries in -?[0-9][0-9,]* */
        {"1,000", 1, 1000, 0},
        {"1,2,3", 1, 123, 0}, /* commas are part of the match, then removed */
        {"1, 2, 3", 1, 3, 0},
        {"3, maybe", 1, 3, 0},
        {"-4", 1, -4, 0},
        {"5-3", 1, -3, 0},
        {"3.5", 1, 5, 0},
        {"it appears twice", 1, 2, 1},
        {"once", 1, 1, 1},
        {"thrice!", 1, 3, 1},
        {"seventeen and twenty", 1, 20, 1},
        {"twenty-one", 1, 21, 1},
        {"Ninety nine", 1, 99, 1},
        {"none", 1, 0, 1},
        {"someone", 0, 0, 0},   /* "one" inside a word is not a number word */
        {"three 4", 1, 4, 0},   /* digits win over words */
        {"zero", 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cb_int_match m;
        int f = cb_last_integer(g, cases[i].text, CB_LANG_EN, &m);
        cr_assert_eq(f, cases[i].found, "case %zu '%s'", i, cases[i].text);
        if (f) {
            cr_assert_eq(m.value, cases[i].value, "case %zu '%s': %lld", i, cases[i].text, (long long)m.value);
            cr_assert_eq(m.from_word, cases[i].from_word, "case %zu", i);
        }
    }
}

Test(extract, last_integer_overflow_and_span) {
    cb_int_match m;
    cr_assert(cb_last_integer(g, "x 99999999999999999999999 y", CB_LANG_EN, &m));
    cr_assert(m.overflow);
    cr_assert_eq(m.value, INT64_MAX);
    cr_assert(cb_last_integer(g, "ab 12 cd", CB_LANG_EN, &m));
    cr_assert_eq(m.start, 3);
    cr_assert_eq(m.end, 5);
}

Test(extract, last_integer_spanish) {
    cb_int_match m;
    cr_assert(cb_last_integer(g, "Hay tres", CB_LANG_ES, &m));
    cr_assert_eq(m.value, 3);
    cr_assert(cb_last_integer(g, "once veces", CB_LANG_ES, &m));
    cr_assert_eq(m.value, 11); /* Spanish "once" is eleven */
    cr_assert(cb_last_integer(g, "DIECISÉIS", CB_LANG_ES, &m));
    cr_assert_eq(m.value, 16);
    cr_assert(cb_last_integer(g, "dieciseis", CB_LANG_ES, &m));
    cr_assert_eq(m.value, 16);
    cr_assert(cb_last_integer(g, "diecisiete", CB_LANG_ES, &m));
    cr_assert_eq(m.value, 17);
    cr_assert(cb_last_integer(g, "treinta y dos", CB_LANG_ES, &m));
    cr_assert_eq(m.value, 32);
    cr_assert(cb_last_integer(g, "veintidós", CB_LANG_ES, &m));
    cr_assert_eq(m.value, 22);
    cr_assert_not(cb_last_integer(g, "three", CB_LANG_ES, &m));
}

Test(extract, last_digits_and_number_words) {
    int64_t v;
    cr_assert(cb_last_digits("a 3 b 7 c", &v));
    cr_assert_eq(v, 7);
    cr_assert_not(cb_last_digits("three", &v));
    cr_assert(cb_has_number_word(g, "I count Three of them", 3, CB_LANG_EN));
    cr_assert_not(cb_has_number_word(g, "threesome", 3, CB_LANG_EN));
    cr_assert_not(cb_has_number_word(g, "three", 21, CB_LANG_EN));
    cr_assert_str_eq(cb_number_word(11, CB_LANG_EN), "eleven");
    cr_assert_str_eq(cb_number_word(11, CB_LANG_ES), "once");
    cr_assert_null(cb_number_word(-1, CB_LANG_EN));
}

typedef struct {
    const char *text;
    int want;
} yn_case;

Test(extract, yes_no_golden) {
    static const yn_case cases[] = {
        {"Yes, it is.", 1},
        {"No.", 0},
        {"I don't know", -1},
        {"Answer: Yes", 1},
        {" yes", 1},
        {"NO", 0},
        {"Nope", 0},
        {"Yes and no.", -1},   /* hedged */
        {"No doubt.", -1},     /* idiom, not an answer */
        {"It does not appear.", 0},
        {"Yesterday it was", -1},
        {"It is not; no.", 0},
        {"No, yes", 0}, /* the first one counts */
        {"", -1},
        {"eyes", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(cb_yes_no(g, cases[i].text, CB_LANG_EN), cases[i].want, "case %zu '%s'", i, cases[i].text);
    cr_assert_eq(cb_yes_no(g, "Sí, lo es", CB_LANG_ES), 1);
    cr_assert_eq(cb_yes_no(g, "SÍ", CB_LANG_ES), 1);
    cr_assert_eq(cb_yes_no(g, "si", CB_LANG_ES), 1);
    cr_assert_eq(cb_yes_no(g, "No lo es", CB_LANG_ES), 0);
    cr_assert_eq(cb_yes_no(g, "sin duda", CB_LANG_ES), -1);
    /* invalid UTF-8 must not break matching */
    cr_assert_eq(cb_yes_no(g, "\xff\xfe yes", CB_LANG_EN), 1);
}

Test(extract, has_word) {
    cr_assert(cb_has_word("The answer is Yes.", "yes"));
    cr_assert_not(cb_has_word("Yesterday", "yes"));
    cr_assert(cb_has_word("no", "No"));
    cr_assert_not(cb_has_word("", "no"));
}

Test(extract, normalize_span) {
    char out[128];
    cb_normalize_span("  The  Quick, brown fox!  ", CB_LANG_EN, out, sizeof out);
    cr_assert_str_eq(out, "quick brown fox");
    cb_normalize_span("An apple", CB_LANG_EN, out, sizeof out);
    cr_assert_str_eq(out, "apple");
    cb_normalize_span("theatre", CB_LANG_EN, out, sizeof out);
    cr_assert_str_eq(out, "theatre");
    cb_normalize_span("the", CB_LANG_EN, out, sizeof out);
    cr_assert_str_eq(out, "");
    cb_normalize_span("¿La CIUDAD de México?", CB_LANG_ES, out, sizeof out);
    cr_assert_str_eq(out, "ciudad de méxico");
    cb_normalize_span("“Über” — ÉCOLE…", CB_LANG_EN, out, sizeof out);
    cr_assert_str_eq(out, "über école");
    cb_normalize_span("U.S.A.", CB_LANG_EN, out, sizeof out);
    cr_assert_str_eq(out, "usa");
    cb_normalize_span("", CB_LANG_EN, out, sizeof out);
    cr_assert_str_eq(out, "");
    /* a small buffer truncates without overflow */
    char tiny[4];
    size_t n = cb_normalize_span("abcdef", CB_LANG_EN, tiny, sizeof tiny);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(tiny, "abc");
}

Test(extract, token_f1) {
    cr_assert_float_eq(cb_token_f1("the cat sat", "cat sat down", CB_LANG_EN), 0.8, 1e-12);
    cr_assert_float_eq(cb_token_f1("Paris", "paris.", CB_LANG_EN), 1.0, 1e-12);
    cr_assert_float_eq(cb_token_f1("", "", CB_LANG_EN), 1.0, 1e-12);
    cr_assert_float_eq(cb_token_f1("x", "", CB_LANG_EN), 0.0, 1e-12);
    cr_assert_float_eq(cb_token_f1("a b", "c d", CB_LANG_EN), 0.0, 1e-12);
    /* multiset: "a a" vs "a": precision 1/2, recall 1 -> 2/3 (leading "a" is an article, so use x) */
    cr_assert_float_eq(cb_token_f1("x x", "x", CB_LANG_EN), 2.0 / 3.0, 1e-12);
}

/* ---- normalize_answer_text (graders/normalize.h) ---- */

#include "graders/normalize.h"

typedef struct {
    const char *raw, *want;
} norm_case;

Test(extract, normalize_answer_text_golden) {
    static const norm_case cases[] = {
        {"\xef\xbc\x93", "3"},                          /* fullwidth 3 (NFKC) */
        {"\xf0\x9d\x9f\x91", "3"},                      /* mathematical bold 3 (NFKC) */
        {"\xd9\xa3", "3"},                              /* Arabic-Indic 3 (Nd) */
        {"\xdb\xb7", "7"},                              /* extended Arabic-Indic 7 */
        {"\xe0\xa5\xaa\xe0\xa5\xa8", "42"},             /* Devanagari 4 2 */
        {"\xe0\xb9\x90", "0"},                          /* Thai 0 */
        {"\xe2\x88\x92" "5", "-5"},                     /* U+2212 before a digit */
        {"5\xe2\x80\x93" "6", "5-6"},                   /* U+2013 before a digit */
        {"a \xe2\x80\x93 b", "a \xe2\x80\x93 b"},       /* en dash not before a digit stays */
        {"3\xef\xb8\x8f\xe2\x83\xa3", "3"},             /* keycap 3 */
        {"3\xe2\x83\xa3", "3"},                         /* keycap without the variation selector */
        {"**3** `x` __y__ *z* snake_case", "3 x y z snake_case"},
        {"r\xe2\x80\x99s isn\xe2\x80\x99t", "r's isn't"}, /* typographic apostrophes */
        {"e\xcc\x81", "\xc3\xa9"},                      /* e + combining acute composes */
        {"\xef\xac\x81", "fi"},                         /* ligature (NFKC) */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cb_normtext t;
        cb_err e;
        cr_assert_eq(cb_normalize_answer_text(cases[i].raw, strlen(cases[i].raw), &t, &e), 0);
        cr_assert_str_eq(t.text, cases[i].want, "case %zu", i);
        cr_assert_eq(t.len, strlen(cases[i].want));
        cb_normtext_free(&t);
    }
}

Test(extract, normalize_offsets_map_to_raw_bytes) {
    /* "\xef\xbc\x93 r's **bold** \xff 4\xe2\x83\xa3" */
    const char raw[] = "\xef\xbc\x93 r\xe2\x80\x99s **bold** \xff 4\xe2\x83\xa3";
    cb_normtext t;
    cb_err e;
    cr_assert_eq(cb_normalize_answer_text(raw, sizeof raw - 1, &t, &e), 0);
    cr_assert_str_eq(t.text, "3 r's bold \xef\xbf\xbd 4"); /* invalid byte -> U+FFFD */
    int64_t rs, re;
    cb_normtext_raw_range(&t, 0, 1, &rs, &re); /* "3" <- the 3-byte fullwidth digit */
    cr_assert_eq(rs, 0);
    cr_assert_eq(re, 3);
    cb_normtext_raw_range(&t, 2, 5, &rs, &re); /* "r's" <- r, U+2019, s */
    cr_assert_eq(rs, 4);
    cr_assert_eq(re, 9);
    const char *b = strstr(t.text, "bold");
    cb_normtext_raw_range(&t, (size_t)(b - t.text), (size_t)(b - t.text) + 4, &rs, &re);
    cr_assert_eq(rs, strstr(raw, "bold") - raw); /* the removed ** shift nothing */
    cr_assert_eq(re, rs + 4);
    cb_normtext_raw_range(&t, t.len - 1, t.len, &rs, &re); /* "4" <- digit + keycap */
    cr_assert_eq(re, (int64_t)sizeof raw - 1);
    cb_normtext_raw_range(&t, t.len, t.len, &rs, &re);
    cr_assert_eq(rs, (int64_t)sizeof raw - 1);
    for (size_t i = 0; i < t.len; i++) cr_assert(t.raw_start[i] <= t.raw_end[i] && t.raw_end[i] <= (int64_t)sizeof raw - 1);
    cb_normtext_free(&t);
}
