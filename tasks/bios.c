/* tasks/bios.c — bioS generator: field lists, persons, renderings (see
 * bios.h for the rules and the file formats). No I/O except loading and
 * writing the field files.
 */
#include "tasks/bios.h"

#include "common/rng.h"
#include "tasks/task.h"
#include "tasks/textbuf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct list {
    char **v;
    size_t n, cap;
} list;

struct cb_bios_fields {
    list l[CB_BIOS_NLISTS];
    char **company_city; /* parallel to l[CB_BIOS_COMPANY] */
};

static const char *const file_names[CB_BIOS_NLISTS] = {"first_name.txt", "middle_name.txt", "last_name.txt",
                                                        "city.txt",       "university.txt",  "major.txt",
                                                        "company.txt"};

static const char *const months[12] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};

int cb_bios_fields_new(cb_bios_fields **out, cb_err *err) {
    *out = calloc(1, sizeof **out);
    return *out ? 0 : cb_err_set(err, CB_ENOMEM, "out of memory");
}

void cb_bios_fields_free(cb_bios_fields *f) {
    if (!f) return;
    for (int k = 0; k < CB_BIOS_NLISTS; k++) {
        for (size_t i = 0; i < f->l[k].n; i++) free(f->l[k].v[i]);
        free(f->l[k].v);
    }
    free(f->company_city); /* points into the company strings */
    free(f);
}

static int list_add(list *l, const char *s, size_t n) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return CB_ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    char *c = malloc(n + 1);
    if (!c) return CB_ENOMEM;
    memcpy(c, s, n);
    c[n] = '\0';
    l->v[l->n++] = c;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorts the list, checks for duplicates, splits company lines. */
static int finish_list(cb_bios_fields *f, int k, const char *name, cb_err *err) {
    list *l = &f->l[k];
    if (l->n == 0) return cb_err_set(err, CB_EFORMAT, "%s: empty list (expected one value per line)", name);
    qsort(l->v, l->n, sizeof *l->v, cmp_str);
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(l->v[i], l->v[i - 1]) == 0)
            return cb_err_set(err, CB_EFORMAT, "%s: duplicate value \"%.200s\" (every value must be distinct)", name,
                              l->v[i]);
    if (k == CB_BIOS_COMPANY) {
        free(f->company_city);
        f->company_city = calloc(l->n, sizeof *f->company_city);
        if (!f->company_city) return cb_err_set(err, CB_ENOMEM, "out of memory");
        for (size_t i = 0; i < l->n; i++) {
            char *semi = strchr(l->v[i], ';');
            /* validated in cb_bios_fields_parse; split "Name; City, ST" */
            *semi = '\0';
            char *c = semi + 1;
            while (*c == ' ') c++;
            f->company_city[i] = c;
        }
        for (size_t i = 1; i < l->n; i++)
            if (strcmp(l->v[i], l->v[i - 1]) == 0)
                return cb_err_set(err, CB_EFORMAT, "%s: duplicate company \"%.200s\"", name, l->v[i]);
    }
    return 0;
}

int cb_bios_fields_parse(cb_bios_fields *f, int k, const char *name, const char *buf, size_t len, cb_err *err) {
    if (k < 0 || k >= CB_BIOS_NLISTS) return cb_err_set(err, CB_EUSAGE, "unknown bioS list %d", k);
    list *l = &f->l[k];
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    l->n = 0;
    size_t a = 0;
    int line = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && buf[i] != '\n') continue;
        line++;
        size_t b = i;
        if (b > a && buf[b - 1] == '\r') b--;
        size_t s = a;
        a = i + 1;
        while (s < b && buf[s] == ' ') s++;
        size_t e = b;
        while (e > s && buf[e - 1] == ' ') e--;
        if (s == e) continue;
        for (size_t q = s; q < e; q++) {
            unsigned char c = (unsigned char)buf[q];
            if (c < 0x20 || c == 0x7f)
                return cb_err_set(err, CB_EFORMAT, "%s:%d: control byte 0x%02x at column %zu (expected text)", name,
                                  line, c, q - s + 1);
        }
        if (e - s > 200) return cb_err_set(err, CB_EFORMAT, "%s:%d: value longer than 200 bytes", name, line);
        if (k == CB_BIOS_COMPANY) {
            const char *semi = memchr(buf + s, ';', e - s);
            size_t after = semi ? (size_t)(semi - (buf + s)) + 1 : 0;
            while (semi && s + after < e && buf[s + after] == ' ') after++;
            if (!semi || semi == buf + s || s + after >= e)
                return cb_err_set(err, CB_EFORMAT, "%s:%d: expected \"Company name; City, ST\"", name, line);
        }
        if (list_add(l, buf + s, e - s)) return cb_err_set(err, CB_ENOMEM, "out of memory");
    }
    return finish_list(f, k, name, err);
}

int cb_bios_fields_load(const char *dir, cb_bios_fields **out, cb_err *err) {
    int rc = cb_bios_fields_new(out, err);
    if (rc) return rc;
    for (int k = 0; k < CB_BIOS_NLISTS && !rc; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, file_names[k]);
        FILE *fp = fopen(path, "rb");
        if (!fp) {
            rc = cb_err_set(err, CB_EIO, "%s: cannot open (%s)", path, strerror(errno));
            break;
        }
        cb_textbuf b;
        cb_textbuf_init(&b);
        char chunk[8192];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) cb_textbuf_add(&b, chunk, got);
        int bad = ferror(fp);
        fclose(fp);
        if (bad) rc = cb_err_set(err, CB_EIO, "%s: read error", path);
        else if (cb_textbuf_failed(&b)) rc = cb_err_set(err, CB_ENOMEM, "out of memory");
        else rc = cb_bios_fields_parse(*out, k, path, cb_textbuf_str(&b), b.n, err);
        cb_textbuf_free(&b);
    }
    if (rc) {
        cb_bios_fields_free(*out);
        *out = NULL;
    }
    return rc;
}

int cb_bios_fields_write(const cb_bios_fields *f, const char *dir, cb_err *err) {
    for (int k = 0; k < CB_BIOS_NLISTS; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, file_names[k]);
        FILE *fp = fopen(path, "wb");
        if (!fp) return cb_err_set(err, CB_EIO, "%s: cannot create (%s)", path, strerror(errno));
        for (size_t i = 0; i < f->l[k].n; i++) {
            if (k == CB_BIOS_COMPANY) fprintf(fp, "%s; %s\n", f->l[k].v[i], f->company_city[i]);
            else fprintf(fp, "%s\n", f->l[k].v[i]);
        }
        if (fclose(fp) != 0) return cb_err_set(err, CB_EIO, "%s: write error", path);
    }
    return 0;
}

/* ---- built-in lists ---- */

static const char *const syl_a[] = {"al", "bar", "cor", "dal", "el", "far", "gal", "hen", "is", "jor", "kal",
                                    "lor", "mal", "nel", "or", "per", "quil", "ros", "sal", "tam", "ul", "val",
                                    "wil", "yar", "zen", "bri", "cas", "dor", "fen", "gor"};
static const char *const syl_b[] = {"a", "e", "i", "o", "ia", "en", "an", "on", "is", "ar", "el", "in",
                                    "us", "et", "ey", "ora", "ith", "and", "ell", "ane"};
static const char *const city_suffix[] = {"ville", "ton", "burg", "field", "port", "wood", "dale", "ford",
                                          "view", "haven", "mont", "brook"};
static const char *const states[] = {"AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL",
                                     "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT",
                                     "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI",
                                     "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY"};
static const char *const univ_forms[] = {"University of %s", "%s Institute of Technology", "%s State University",
                                         "%s College"};
static const char *const company_forms[] = {"%s Industries", "%s Labs", "%s Group", "%s Systems", "%s Partners"};
static const char *const majors[100] = {
    "Accounting", "Aerospace Engineering", "African Studies", "Agricultural Science", "Anthropology",
    "Applied Mathematics", "Archaeology", "Architecture", "Art History", "Astronomy", "Biochemistry",
    "Bioengineering", "Biology", "Biomedical Engineering", "Botany", "Business Administration",
    "Chemical Engineering", "Chemistry", "Child Development", "Civil Engineering", "Classics",
    "Cognitive Science", "Communications", "Comparative Literature", "Computer Engineering", "Computer Science",
    "Construction Management", "Creative Writing", "Criminal Justice", "Dance", "Data Science", "Dentistry",
    "Earth Sciences", "Ecology", "Economics", "Education", "Electrical Engineering", "English Literature",
    "Environmental Science", "Epidemiology", "Film Studies", "Finance", "Fine Arts", "Food Science", "Forestry",
    "French", "Genetics", "Geography", "Geology", "German", "Graphic Design", "Health Administration", "History",
    "Hospitality Management", "Human Resources", "Industrial Design", "Industrial Engineering",
    "Information Systems", "International Relations", "Journalism", "Kinesiology", "Labor Studies", "Linguistics",
    "Management", "Marine Biology", "Marketing", "Materials Science", "Mathematics", "Mechanical Engineering",
    "Media Studies", "Microbiology", "Music", "Music Theory", "Neuroscience", "Nuclear Engineering", "Nursing",
    "Nutrition", "Oceanography", "Pharmacology", "Philosophy", "Photography", "Physics", "Physiology",
    "Political Science", "Psychology", "Public Health", "Public Policy", "Religious Studies", "Robotics",
    "Social Work", "Sociology", "Software Engineering", "Spanish", "Sports Management", "Statistics",
    "Supply Chain Management", "Theater", "Urban Planning", "Veterinary Science", "Zoology"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A capitalized pseudo-word of 2..3 syllables (syl_a then alternating). */
static void word(cb_rng *r, char *buf, size_t cap) {
    int n = 2 + (int)cb_rng_uniform(r, 2);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const char *s = (i % 2 == 0) ? syl_a[cb_rng_uniform(r, NELEM(syl_a))] : syl_b[cb_rng_uniform(r, NELEM(syl_b))];
        size_t l = strlen(s);
        if (k + l + 1 >= cap) break;
        memcpy(buf + k, s, l);
        k += l;
    }
    buf[k] = '\0';
    buf[0] = (char)(buf[0] - 'a' + 'A');
}

static int contains(const list *l, const char *s) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) return 1;
    return 0;
}

/* Fills list k with n distinct values from gen(r, buf); fixed seed per list. */
static int fill_builtin(cb_bios_fields *f, int k, size_t n, const cb_bios_fields *cities, cb_err *err) {
    cb_rng r;
    char seedname[64];
    snprintf(seedname, sizeof seedname, "bios/builtin/%s", file_names[k]);
    cb_rng_seed(&r, cb_fnv1a64_str(seedname));
    list *l = &f->l[k];
    while (l->n < n) {
        char w[96], v[160];
        word(&r, w, sizeof w);
        switch (k) {
        case CB_BIOS_CITY:
            snprintf(v, sizeof v, "%s%s, %s", w, city_suffix[cb_rng_uniform(&r, NELEM(city_suffix))],
                     states[cb_rng_uniform(&r, NELEM(states))]);
            break;
        case CB_BIOS_UNIV:
            snprintf(v, sizeof v, univ_forms[cb_rng_uniform(&r, NELEM(univ_forms))], w);
            break;
        case CB_BIOS_COMPANY: {
            char name[120];
            snprintf(name, sizeof name, company_forms[cb_rng_uniform(&r, NELEM(company_forms))], w);
            int dup = 0;
            for (size_t i = 0; i < l->n && !dup; i++) dup = strncmp(l->v[i], name, strlen(name)) == 0 && l->v[i][strlen(name)] == ';';
            if (dup) continue;
            const list *c = &cities->l[CB_BIOS_CITY];
            snprintf(v, sizeof v, "%s; %s", name, c->v[cb_rng_uniform(&r, c->n)]);
            break;
        }
        default:
            snprintf(v, sizeof v, "%s", w);
        }
        if (contains(l, v)) continue;
        if (list_add(l, v, strlen(v))) return cb_err_set(err, CB_ENOMEM, "out of memory");
    }
    return finish_list(f, k, file_names[k], err);
}

int cb_bios_fields_builtin(cb_bios_fields **out, cb_err *err) {
    int rc = cb_bios_fields_new(out, err);
    if (rc) return rc;
    cb_bios_fields *f = *out;
    static const size_t sizes[CB_BIOS_NLISTS] = {400, 400, 1000, 200, 300, 100, 263};
    for (int k = 0; k < CB_BIOS_NLISTS && !rc; k++) {
        if (k == CB_BIOS_MAJOR) {
            for (size_t i = 0; i < NELEM(majors) && !rc; i++)
                if (list_add(&f->l[k], majors[i], strlen(majors[i]))) rc = cb_err_set(err, CB_ENOMEM, "out of memory");
            if (!rc) rc = finish_list(f, k, file_names[k], err);
        } else {
            rc = fill_builtin(f, k, sizes[k], f, err);
        }
    }
    if (rc) {
        cb_bios_fields_free(f);
        *out = NULL;
    }
    return rc;
}

size_t cb_bios_list_size(const cb_bios_fields *f, int k) { return f->l[k].n; }
const char *cb_bios_list_item(const cb_bios_fields *f, int k, size_t i) { return f->l[k].v[i]; }
const char *cb_bios_company_city(const cb_bios_fields *f, size_t i) { return f->company_city[i]; }

double cb_bios_log2_n0(const cb_bios_fields *f) {
    return log2((double)f->l[CB_BIOS_FIRST].n) + log2((double)f->l[CB_BIOS_MIDDLE].n) +
           log2((double)f->l[CB_BIOS_LAST].n);
}

double cb_bios_log2_attr(const cb_bios_fields *f, int a) {
    switch (a) {
    case CB_BATTR_NAME: return cb_bios_log2_n0(f);
    case CB_BATTR_BIRTH_DATE: return log2(12.0 * 28.0 * 200.0);
    case CB_BATTR_BIRTH_CITY: return log2((double)f->l[CB_BIOS_CITY].n);
    case CB_BATTR_UNIVERSITY: return log2((double)f->l[CB_BIOS_UNIV].n);
    case CB_BATTR_MAJOR: return log2((double)f->l[CB_BIOS_MAJOR].n);
    case CB_BATTR_EMPLOYER: return log2((double)f->l[CB_BIOS_COMPANY].n);
    case CB_BATTR_GENDER: return 1.0;
    default: return 0.0; /* working city: determined by the employer */
    }
}

double cb_bios_log2_s0(const cb_bios_fields *f) {
    double s = 0;
    for (int a = CB_BATTR_BIRTH_DATE; a <= CB_BATTR_GENDER; a++) s += cb_bios_log2_attr(f, a);
    return s;
}

/* ---- persons ---- */

/* Keyed permutation of [0, n): Feistel on 2h bits, cycle-walking. */
uint64_t cb_bios_permute(uint64_t x, uint64_t n, uint64_t key) {
    int bits = 2;
    while (bits < 64 && (UINT64_C(1) << bits) < n) bits += 2;
    int h = bits / 2;
    uint64_t mask = (UINT64_C(1) << h) - 1;
    do {
        uint64_t L = x >> h, R = x & mask;
        for (int round = 0; round < 4; round++) {
            uint64_t F = cb_splitmix64(key ^ ((uint64_t)round << 56) ^ R) & mask;
            uint64_t nl = R;
            R = L ^ F;
            L = nl;
        }
        x = (L << h) | R;
    } while (x >= n);
    return x;
}

void cb_bios_person_get(const cb_bios_fields *f, uint64_t seed, int64_t j, cb_bios_person *p) {
    memset(p, 0, sizeof *p);
    uint64_t M = f->l[CB_BIOS_MIDDLE].n, L = f->l[CB_BIOS_LAST].n;
    uint64_t N0 = (uint64_t)f->l[CB_BIOS_FIRST].n * M * L;
    uint64_t key = cb_splitmix64(seed ^ cb_fnv1a64_str("knowledge-capacity/names"));
    uint64_t idx = cb_bios_permute((uint64_t)j % N0, N0, key);
    p->first = (size_t)(idx / (M * L));
    p->middle = (size_t)((idx / L) % M);
    p->last = (size_t)(idx % L);
    p->seed = cb_task_item_seed(seed, "knowledge-capacity", "bios", j);
    cb_rng r;
    cb_rng_seed(&r, p->seed);
    p->male = (int)cb_rng_uniform(&r, 2);
    p->month = 1 + (int)cb_rng_uniform(&r, 12);
    p->day = 1 + (int)cb_rng_uniform(&r, 28);
    p->year = 1900 + (int)cb_rng_uniform(&r, 200);
    p->city = (size_t)cb_rng_uniform(&r, f->l[CB_BIOS_CITY].n);
    p->univ = (size_t)cb_rng_uniform(&r, f->l[CB_BIOS_UNIV].n);
    p->major = (size_t)cb_rng_uniform(&r, f->l[CB_BIOS_MAJOR].n);
    p->company = (size_t)cb_rng_uniform(&r, f->l[CB_BIOS_COMPANY].n);
}

int cb_bios_value(const cb_bios_fields *f, const cb_bios_person *p, int a, char *buf, size_t cap) {
    switch (a) {
    case CB_BATTR_NAME:
        return snprintf(buf, cap, "%s %s %s", f->l[CB_BIOS_FIRST].v[p->first], f->l[CB_BIOS_MIDDLE].v[p->middle],
                        f->l[CB_BIOS_LAST].v[p->last]);
    case CB_BATTR_BIRTH_DATE: return snprintf(buf, cap, "%s %d, %d", months[p->month - 1], p->day, p->year);
    case CB_BATTR_BIRTH_CITY: return snprintf(buf, cap, "%s", f->l[CB_BIOS_CITY].v[p->city]);
    case CB_BATTR_UNIVERSITY: return snprintf(buf, cap, "%s", f->l[CB_BIOS_UNIV].v[p->univ]);
    case CB_BATTR_MAJOR: return snprintf(buf, cap, "%s", f->l[CB_BIOS_MAJOR].v[p->major]);
    case CB_BATTR_EMPLOYER: return snprintf(buf, cap, "%s", f->l[CB_BIOS_COMPANY].v[p->company]);
    case CB_BATTR_GENDER: return snprintf(buf, cap, "%s", p->male ? "male" : "female");
    case CB_BATTR_WORK_CITY: return snprintf(buf, cap, "%s", f->company_city[p->company]);
    default: return snprintf(buf, cap, "%s", "");
    }
}

/* ---- rendering ---- */

/* Sentence kinds in the fixed (bioS_simple) order. */
enum { SEN_DATE, SEN_CITY, SEN_UNIV, SEN_MAJOR, SEN_EMPLOYER, SEN_WORK, SEN_N };

/* Templates: "{N}" subject (full name or pronoun), "{P}" possessive subject
 * (full name + "'s" or His/Her), "{V}" value, "{MD}" / "{Y}" split date. */
static const char *const t_date[] = {"{N} was born on {V}.", "{N} came into the world on {V}.", "{P} birthday is {V}.",
                                     "{N} celebrates a birthday every {MD}, having been born in {Y}."};
static const char *const t_city[] = {"{N} was born in {V}.", "{N} grew up in {V}.", "{N} is originally from {V}."};
static const char *const t_univ[] = {"{N} studied at {V}.", "{N} graduated from {V}.", "{N} earned a degree at {V}."};
static const char *const t_major[] = {"{N} majored in {V}.", "{N} specialized in {V}.",
                                      "{N} focused on {V} in college."};
static const char *const t_emp[] = {"{N} worked for {V}.", "{N} was employed by {V}.", "{N} held a job at {V}."};
static const char *const t_work[] = {"{N} worked in {V}.", "{N} was based in {V}."};

static const char *const *const templates[SEN_N] = {t_date, t_city, t_univ, t_major, t_emp, t_work};
static const int n_templates[SEN_N] = {4, 3, 3, 3, 3, 2};
static const int sen_attr[SEN_N] = {CB_BATTR_BIRTH_DATE, CB_BATTR_BIRTH_CITY, CB_BATTR_UNIVERSITY, CB_BATTR_MAJOR,
                                    CB_BATTR_EMPLOYER, CB_BATTR_WORK_CITY};

void cb_bios_render_clear(cb_bios_render *r) {
    free(r->text);
    memset(r, 0, sizeof *r);
}

int cb_bios_render_person(const cb_bios_fields *f, const cb_bios_person *p, cb_bios_mode mode, uint64_t exposure,
                          cb_bios_render *out, cb_err *err) {
    memset(out, 0, sizeof *out);
    for (int a = 0; a < CB_BATTR_N; a++) out->span[a][0] = out->span[a][1] = -1;
    out->date2[0] = out->date2[1] = -1;
    uint64_t r_ix = mode == CB_BIOS_MODE_SIMPLE ? 0 : exposure;
    cb_rng r;
    cb_rng_seed(&r, cb_splitmix64(p->seed ^ ((r_ix + 1) * UINT64_C(0x9E3779B97F4A7C15))));
    int order[SEN_N] = {SEN_DATE, SEN_CITY, SEN_UNIV, SEN_MAJOR, SEN_EMPLOYER, SEN_WORK};
    if (mode == CB_BIOS_MODE_BIOS) {
        cb_rng_shuffle(&r, order, SEN_N, sizeof order[0]);
        int pe = 0, pw = 0;
        for (int i = 0; i < SEN_N; i++) {
            if (order[i] == SEN_EMPLOYER) pe = i;
            if (order[i] == SEN_WORK) pw = i;
        }
        if (pw < pe) { /* move working city right after the employer */
            for (int i = pw; i < pe; i++) order[i] = order[i + 1];
            order[pe] = SEN_WORK;
        }
    }
    char name[256], val[256], md[64], y[16];
    cb_bios_value(f, p, CB_BATTR_NAME, name, sizeof name);
    snprintf(md, sizeof md, "%s %d", months[p->month - 1], p->day);
    snprintf(y, sizeof y, "%d", p->year);
    cb_textbuf b;
    cb_textbuf_init(&b);
    for (int i = 0; i < SEN_N; i++) {
        int s = order[i];
        const char *t = templates[s][cb_rng_uniform(&r, (uint64_t)n_templates[s])];
        int attr = sen_attr[s];
        cb_bios_value(f, p, attr, val, sizeof val);
        if (i > 0) cb_textbuf_puts(&b, " ");
        for (const char *c = t; *c;) {
            if (c[0] == '{') {
                const char *e = strchr(c, '}');
                size_t n = (size_t)(e - c - 1);
                int64_t at = (int64_t)b.n;
                if (n == 1 && c[1] == 'N') {
                    if (i == 0) {
                        cb_textbuf_puts(&b, name);
                        out->span[CB_BATTR_NAME][0] = at;
                        out->span[CB_BATTR_NAME][1] = (int64_t)b.n;
                    } else {
                        cb_textbuf_puts(&b, p->male ? "He" : "She");
                    }
                } else if (n == 1 && c[1] == 'P') {
                    if (i == 0) {
                        cb_textbuf_puts(&b, name);
                        out->span[CB_BATTR_NAME][0] = at;
                        out->span[CB_BATTR_NAME][1] = (int64_t)b.n;
                        cb_textbuf_puts(&b, "'s");
                    } else {
                        cb_textbuf_puts(&b, p->male ? "His" : "Her");
                    }
                } else {
                    /* {V} the value, {MD} / {Y} the two parts of a split date */
                    const char *v = c[1] == 'V' ? val : c[1] == 'M' ? md : y;
                    cb_textbuf_puts(&b, v);
                    int64_t *sp = c[1] == 'Y' ? out->date2 : out->span[attr];
                    if (sp[0] < 0) {
                        sp[0] = at;
                        sp[1] = (int64_t)b.n;
                    }
                }
                if (i == 1 && c == t) { /* the first pronoun opens sentence 2 */
                    out->span[CB_BATTR_GENDER][0] = at;
                    out->span[CB_BATTR_GENDER][1] = (int64_t)b.n;
                }
                c = e + 1;
            } else {
                cb_textbuf_add(&b, c, 1);
                c++;
            }
        }
    }
    if (cb_textbuf_failed(&b)) {
        cb_textbuf_free(&b);
        return cb_err_set(err, CB_ENOMEM, "out of memory (bioS rendering)");
    }
    out->text = b.s;
    out->len = b.n;
    return 0;
}

const int cb_bios_qa_attrs[6] = {CB_BATTR_BIRTH_DATE, CB_BATTR_BIRTH_CITY, CB_BATTR_UNIVERSITY,
                                 CB_BATTR_MAJOR,      CB_BATTR_EMPLOYER,   CB_BATTR_WORK_CITY};

const char *cb_bios_attr_phrase(int a) {
    static const char *const ph[CB_BATTR_N] = {"name",  "birth date", "birth city", "university",
                                               "major", "employer",   "gender",     "working city"};
    return a >= 0 && a < CB_BATTR_N ? ph[a] : "";
}

const char *cb_bios_attr_name(int a) {
    static const char *const nm[CB_BATTR_N] = {"name",  "birth_date", "birth_city", "university",
                                               "major", "employer",   "gender",     "work_city"};
    return a >= 0 && a < CB_BATTR_N ? nm[a] : "";
}
