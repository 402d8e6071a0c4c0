#include "sweep/sweep.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "backend/backend.h"
#include "capture/capture.h"
#include "core/ll_util.h"
#include "probe/probe.h"
#include "pipeline/run_options.h"
#include "report/provenance.h"

/* ---- YAML -> cJSON ------------------------------------------------------ */

static int plain_is(const char *s, const char *const *words) {
    for (; *words; words++)
        if (!strcmp(s, *words)) return 1;
    return 0;
}

/* YAML 1.2 core schema for plain scalars: null, booleans, numbers; anything
 * else (and every quoted scalar) is a string. */
static cJSON *scalar_to_json(const yaml_node_t *n) {
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return cJSON_CreateString(s);
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    if (plain_is(s, nulls)) return cJSON_CreateNull();
    if (plain_is(s, trues)) return cJSON_CreateTrue();
    if (plain_is(s, falses)) return cJSON_CreateFalse();
    if (*s && (isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') && s[1]))) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        /* numbers only: no hex/inf/nan spellings, nothing after */
        if (!*end && errno == 0 && isfinite(v) && !strpbrk(s, "xXnN")) return cJSON_CreateNumber(v);
    }
    return cJSON_CreateString(s);
}

/* Bounds on what a small file may become: nesting (libyaml's scanner costs
 * O(depth) per token, so a deep flow collection is quadratic) and the nodes
 * produced, aliases expanded ("billion laughs": 600 bytes -> 1.4 GB). */
#define YAML_MAX_DEPTH 64
typedef struct {
    yaml_document_t *doc;
    const char *name;
    size_t nodes, max_nodes;
} yaml_walk;

/* Index of the first string equal to an earlier one (sorted copy), or -1. */
typedef struct { const char *s; int i; } str_idx;
static int cmp_str_idx(const void *a, const void *b) {
    const str_idx *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}
static int first_duplicate(const char *const *strs, int n, int *earlier) {
    if (n < 2) return -1;
    str_idx *v = ll_xmalloc(sizeof *v * (size_t)n);
    for (int i = 0; i < n; i++) v[i] = (str_idx){strs[i], i};
    qsort(v, (size_t)n, sizeof *v, cmp_str_idx);
    int dup = -1;
    for (int i = 1; i < n; i++)
        if (!strcmp(v[i - 1].s, v[i].s) && (dup < 0 || v[i].i < dup)) dup = v[i].i, *earlier = v[i - 1].i;
    free(v);
    return dup;
}

static cJSON *node_to_json(yaml_walk *w, yaml_node_t *n, int depth) {
    if (!n) { ll_set_error("%s: empty YAML node", w->name); return NULL; }
    if (depth > YAML_MAX_DEPTH) {
        ll_set_error("%s: line %lu: nesting deeper than %d (recursive alias?)", w->name,
                     (unsigned long)n->start_mark.line + 1, YAML_MAX_DEPTH);
        return NULL;
    }
    if (++w->nodes > w->max_nodes) {
        ll_set_error("%s: line %lu: more than %zu values once aliases are expanded (an alias bomb?)", w->name,
                     (unsigned long)n->start_mark.line + 1, w->max_nodes);
        return NULL;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE: return scalar_to_json(n);
    case YAML_SEQUENCE_NODE: {
        cJSON *a = cJSON_CreateArray(), *last = NULL;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            cJSON *c = node_to_json(w, yaml_document_get_node(w->doc, *it), depth + 1);
            if (!c) { cJSON_Delete(a); return NULL; }
            /* appended after the last (cJSON_AddItemToArray walks the list: quadratic) */
            if (!last) a->child = c;
            else last->next = c, c->prev = last;
            last = c;
            a->child->prev = last;
        }
        return a;
    }
    case YAML_MAPPING_NODE: {
        cJSON *o = cJSON_CreateObject(), *last = NULL;
        size_t np = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start), i = 0;
        const char **keys = ll_xmalloc(sizeof *keys * (np + 1));
        unsigned long *lines = ll_xmalloc(sizeof *lines * (np + 1));
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++, i++) {
            yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
            if (!k || k->type != YAML_SCALAR_NODE) {
                ll_set_error("%s: line %lu: a mapping key must be a plain scalar", w->name,
                             (unsigned long)(k ? k->start_mark.line : n->start_mark.line) + 1);
                cJSON_Delete(o);
                free(keys);
                free(lines);
                return NULL;
            }
            cJSON *v = node_to_json(w, yaml_document_get_node(w->doc, p->value), depth + 1);
            if (!v) { cJSON_Delete(o); free(keys); free(lines); return NULL; }
            v->string = ll_xstrdup((const char *)k->data.scalar.value);
            keys[i] = v->string;
            lines[i] = (unsigned long)k->start_mark.line + 1;
            if (!last) o->child = v;
            else last->next = v, v->prev = last;
            last = v;
            o->child->prev = last;
        }
        int e, d = first_duplicate(keys, (int)np, &e);
        if (d >= 0) ll_set_error("%s: line %lu: duplicate key '%s'", w->name, lines[d], keys[d]);
        free(keys);
        free(lines);
        if (d >= 0) { cJSON_Delete(o); return NULL; }
        return o;
    }
    default: ll_set_error("%s: empty YAML node", w->name); return NULL;
    }
}

/* A first pass over libyaml's events: nesting deeper than YAML_MAX_DEPTH is
 * refused as soon as it is seen (before the quadratic part can grow). */
static int yaml_check_depth(const char *text, size_t len, const char *name) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) { ll_set_error("%s: cannot initialise libyaml", name); return -1; }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int depth = 0, rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) break; /* the syntax error is reported by the load */
        yaml_event_type_t t = ev.type;
        unsigned long line = (unsigned long)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) depth++;
        else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) depth--;
        if (depth > YAML_MAX_DEPTH) {
            ll_set_error("%s: line %lu: nesting deeper than %d", name, line, YAML_MAX_DEPTH);
            rc = -1;
            break;
        }
        if (t == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

cJSON *ll_yaml_parse(const char *text, size_t len, const char *name) {
    size_t i = 0;
    while (i < len && isspace((unsigned char)text[i])) i++;
    if (i < len && (text[i] == '{' || text[i] == '[')) { /* JSON */
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
        if (!j) {
            long line = 1;
            for (const char *c = text; end && c < end; c++) line += *c == '\n';
            ll_set_error("%s: line %ld: invalid JSON", name, line);
        }
        return j;
    }
    if (yaml_check_depth(text, len, name) != 0) return NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) { ll_set_error("%s: cannot initialise libyaml", name); return NULL; }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        ll_set_error("%s: line %lu: YAML: %s%s%s", name, (unsigned long)parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                     parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    /* a file without aliases has fewer nodes than bytes: 8 per byte is room */
    yaml_walk w = {.doc = &doc, .name = name, .max_nodes = 1024 + 8 * len};
    cJSON *j = root ? node_to_json(&w, root, 0) : NULL;
    if (!root) ll_set_error("%s: empty document", name);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return j;
}

cJSON *ll_yaml_load(const char *path) {
    size_t len;
    char *t = ll_read_file(path, &len);
    if (!t) return NULL;
    cJSON *j = ll_yaml_parse(t, len, path);
    free(t);
    return j;
}

/* ---- the options a point resolves ---------------------------------------- */

/* The axes and options of a sweep are those of `layerlaw run`, from its one
 * option table (pipeline/run_options.h): same names (with '_'), values,
 * checks and defaults. */
static const ll_run_option *find_opt(const char *name) {
    const ll_run_option *d = ll_run_option_find(name);
    return d && d->key && !strcmp(d->key, name) && (d->where & LL_RO_SWEEP) ? d : NULL;
}

/* the sweep option names, NULL-terminated (for the messages) */
static const char *const *opt_list(void) {
    static const char *names[128];
    if (!names[0]) {
        int n = 0;
        for (int i = 0; i < ll_n_run_options && n < 127; i++)
            if (ll_run_options[i].key && (ll_run_options[i].where & LL_RO_SWEEP)) names[n++] = ll_run_options[i].key;
        names[n] = NULL;
    }
    return names;
}
static void opt_names(char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (const char *const *n = opt_list(); *n && k < cap; n++) k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? ", " : "", *n);
}
/* " (did you mean 'x'?)" or "" */
static const char *did_you_mean(char *buf, size_t cap, const char *word) {
    const char *const *l = opt_list();
    size_t n = 0;
    while (l[n]) n++;
    const char *m = ll_did_you_mean(word, l, n);
    if (m) snprintf(buf, cap, "did you mean '%s'? ", m);
    else buf[0] = 0;
    return buf;
}

/* the order of a point's configuration: the options every configuration
 * holds (their canonical order), then the others in table order */
static int config_order(const ll_run_option **ord) {
    int n = 0;
    for (int c = 1;; c++) {
        int found = 0;
        for (int i = 0; i < ll_n_run_options; i++)
            if (ll_run_option_canon(&ll_run_options[i]) == c) { ord[n++] = &ll_run_options[i]; found = 1; }
        if (!found) break;
    }
    for (int i = 0; i < ll_n_run_options; i++)
        if (ll_run_options[i].key && (ll_run_options[i].where & LL_RO_SWEEP) && !ll_run_option_canon(&ll_run_options[i]))
            ord[n++] = &ll_run_options[i];
    return n;
}

/* ---- models and data ------------------------------------------------------ */

typedef struct {
    char *name, *path, *kind;
    char *series;    /* series: (figures), or NULL */
    cJSON *weights;  /* weights: random|checkpoint (checked), or NULL */
    cJSON *own_data; /* a model's own data entry (object) or NULL */
} model_ent;

typedef struct {
    char *name;
    cJSON *fields; /* tokens|data, tokenizer, split, text_field (resolved) */
} data_ent;

static char *expand_home(const char *p) {
    if (p[0] == '~' && (p[1] == '/' || p[1] == 0)) {
        const char *h = getenv("HOME");
        size_t n = strlen(h ? h : "") + strlen(p) + 1;
        char *r = ll_xmalloc(n);
        snprintf(r, n, "%s%s", h ? h : "", p + 1);
        return r;
    }
    return ll_xstrdup(p);
}

static char *base_name(const char *p) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && p[b - 1] != '/') b--;
    char *r = ll_xmalloc(n - b + 1);
    memcpy(r, p + b, n - b);
    r[n - b] = 0;
    const char *ext[] = {".jsonl.gz", ".jsonl", ".txt.gz", ".txt", ".json", ".gguf", NULL};
    for (int i = 0; ext[i]; i++) {
        size_t e = strlen(ext[i]), m = strlen(r);
        if (m > e && !strcmp(r + m - e, ext[i])) { r[m - e] = 0; break; }
    }
    return r;
}

static int has_data_keys(const cJSON *o) {
    return cJSON_GetObjectItemCaseSensitive(o, "tokens") || cJSON_GetObjectItemCaseSensitive(o, "data");
}

static int parse_data(const char *file, const cJSON *o, data_ent *d) {
    memset(d, 0, sizeof *d);
    if (!cJSON_IsObject(o)) { ll_set_error("%s: data: expected an object with tokens or data", file); return -1; }
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(o, "tokens"), *dat = cJSON_GetObjectItemCaseSensitive(o, "data");
    if (!!tok == !!dat || !cJSON_IsString(tok ? tok : dat)) {
        ll_set_error("%s: data: give exactly one of tokens (a token file) and data (raw text), as a string", file);
        return -1;
    }
    const cJSON *tz = cJSON_GetObjectItemCaseSensitive(o, "tokenizer"), *sp = cJSON_GetObjectItemCaseSensitive(o, "split"),
                *tf = cJSON_GetObjectItemCaseSensitive(o, "text_field"), *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (tok && (tz || sp || tf)) { ll_set_error("%s: data: tokenizer, split and text_field apply to data (raw text) only", file); return -1; }
    if ((tz && !cJSON_IsString(tz)) || (sp && !cJSON_IsString(sp)) || (tf && !cJSON_IsString(tf)) || (nm && !cJSON_IsString(nm))) {
        ll_set_error("%s: data: tokenizer, split, text_field and name must be strings", file);
        return -1;
    }
    d->fields = cJSON_CreateObject();
    char *p = expand_home((tok ? tok : dat)->valuestring);
    if (tok) {
        cJSON_AddStringToObject(d->fields, "tokens", p);
        cJSON_AddNullToObject(d->fields, "data");
    } else {
        cJSON_AddNullToObject(d->fields, "tokens");
        cJSON_AddStringToObject(d->fields, "data", p);
    }
    if (tz) { char *t = expand_home(tz->valuestring); cJSON_AddStringToObject(d->fields, "tokenizer", t); free(t); }
    else cJSON_AddNullToObject(d->fields, "tokenizer");
    cJSON_AddStringToObject(d->fields, "split", tok ? "auto" : sp ? sp->valuestring : "auto");
    cJSON_AddStringToObject(d->fields, "text_field", tok ? "text" : tf ? tf->valuestring : "text");
    d->name = nm ? ll_xstrdup(nm->valuestring) : base_name(p);
    free(p);
    return 0;
}

static void data_free(data_ent *d) {
    free(d->name);
    cJSON_Delete(d->fields);
}

static const char *model_kind(const char *path) {
    size_t n = strlen(path);
    return n > 5 && !strcmp(path + n - 5, ".gguf") ? "gguf" : "dir";
}

/* Appends the model entries of one item of `models:` (revisions expanded). */
static int parse_model(const char *file, const cJSON *it, model_ent **ms, int *n, int *cap) {
    const char *path = NULL, *name = NULL, *kind = NULL, *series = NULL;
    const cJSON *we_raw = NULL;
    cJSON *weights = NULL;
    const cJSON *revs = NULL, *own = NULL;
    if (cJSON_IsString(it)) {
        path = it->valuestring;
    } else if (cJSON_IsObject(it)) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "path"), *s = cJSON_GetObjectItemCaseSensitive(it, "synthetic"),
                    *nm = cJSON_GetObjectItemCaseSensitive(it, "name"), *hb = cJSON_GetObjectItemCaseSensitive(it, "hub");
        if (!!p + !!s + !!hb != 1 || !cJSON_IsString(p ? p : s ? s : hb)) {
            ll_set_error("%s: models: each entry needs exactly one of path (a folder or .gguf), synthetic (a shape file) and hub (ORG/NAME), as a string", file);
            return -1;
        }
        for (const cJSON *c = it->child; c; c = c->next) {
            static const char *const known[] = {"path", "synthetic", "hub", "name", "series", "weights", "revisions", "tokens",
                                                "data", "tokenizer", "split", "text_field", "comment", NULL};
            if (!plain_is(c->string, known)) {
                const char *m = ll_did_you_mean(c->string, known, sizeof known / sizeof known[0] - 1);
                char dym[96] = "";
                if (m) snprintf(dym, sizeof dym, "did you mean '%s'? ", m);
                ll_set_error("%s: models: unknown key '%s' (%spath, synthetic, hub, name, series, weights, revisions, tokens, data, tokenizer, split, text_field, comment)", file, c->string, dym);
                return -1;
            }
        }
        if (nm && !cJSON_IsString(nm)) { ll_set_error("%s: models: name must be a string", file); return -1; }
        const cJSON *se = cJSON_GetObjectItemCaseSensitive(it, "series");
        if (se && !cJSON_IsString(se)) { ll_set_error("%s: models: series must be a string", file); return -1; }
        series = se ? se->valuestring : NULL;
        we_raw = cJSON_GetObjectItemCaseSensitive(it, "weights");
        path = (p ? p : s ? s : hb)->valuestring;
        name = nm ? nm->valuestring : NULL;
        kind = s ? "synthetic" : hb ? "hub" : NULL;
        if (hb && (strchr(path, '@') || !strchr(path, '/'))) {
            ll_set_error("%s: models: hub: '%s': ORG/NAME (or ORG/NAME/FILE.gguf), the revision under revisions:", file, path);
            return -1;
        }
        revs = cJSON_GetObjectItemCaseSensitive(it, "revisions");
        if (revs && (!cJSON_IsArray(revs) || cJSON_GetArraySize(revs) == 0)) {
            ll_set_error("%s: models: revisions must be a non-empty list", file);
            return -1;
        }
        if (has_data_keys(it)) own = it;
    } else {
        ll_set_error("%s: models: each entry is a path or an object", file);
        return -1;
    }
    if (we_raw && !(weights = ll_run_option_check(ll_run_option_find("weights"), we_raw, file))) return -1;
    int nrev = revs ? cJSON_GetArraySize(revs) : 1;
    for (int r = 0; r < nrev; r++) {
        char *full, *nm;
        if (revs) {
            const cJSON *rv = cJSON_GetArrayItem(revs, r);
            char rs[128];
            if (cJSON_IsString(rv)) snprintf(rs, sizeof rs, "%s", rv->valuestring);
            else if (cJSON_IsNumber(rv)) snprintf(rs, sizeof rs, "%.0f", rv->valuedouble);
            else { ll_set_error("%s: models: a revision must be a string or a number", file); cJSON_Delete(weights); return -1; }
            const char *ph = kind && !strcmp(kind, "hub") ? NULL : strstr(path, "{rev}");
            size_t len = strlen(path) + strlen(rs) + 2;
            char *tmp = ll_xmalloc(len);
            if (ph) snprintf(tmp, len, "%.*s%s%s", (int)(ph - path), path, rs, ph + 5);
            else snprintf(tmp, len, kind && !strcmp(kind, "hub") ? "%s@%s" : "%s/%s", path, rs);
            full = kind && !strcmp(kind, "hub") ? ll_xstrdup(tmp) : expand_home(tmp);
            free(tmp);
            char *b = name ? ll_xstrdup(name) : base_name(ph || !strcmp(kind ? kind : "", "hub") ? path : full);
            if (ph && !name) { /* "pythia-160m/{rev}": the folder above */
                free(b);
                char *up = ll_xstrdup(path);
                up[ph - path] = 0;
                b = base_name(up);
                free(up);
            }
            size_t nl = strlen(b) + strlen(rs) + 2;
            nm = ll_xmalloc(nl);
            snprintf(nm, nl, "%s@%s", b, rs);
            free(b);
        } else {
            full = kind && !strcmp(kind, "hub") ? ll_xstrdup(path) : expand_home(path);
            nm = name ? ll_xstrdup(name) : base_name(full);
        }
        if (kind && !strcmp(kind, "synthetic")) {
            /* a shape folder (configs/shapes/gpt2) or its config.json */
            size_t fl = strlen(full);
            if (fl < 11 || strcmp(full + fl - 11, "config.json")) {
                char *c = ll_xmalloc(fl + 13);
                snprintf(c, fl + 13, "%s%sconfig.json", full, fl && full[fl - 1] == '/' ? "" : "/");
                free(full);
                full = c;
            } else if (!name && !strcmp(nm, "config")) { /* ".../gpt2/config.json": the folder's name */
                char *up = ll_xstrdup(full);
                up[fl - 11] = 0;
                free(nm);
                nm = base_name(up);
                free(up);
            }
        }
        if (*n == *cap) { *cap = *cap ? 2 * *cap : 8; *ms = ll_xrealloc(*ms, sizeof **ms * (size_t)*cap); }
        model_ent *m = &(*ms)[(*n)++];
        m->path = full;
        m->name = nm;
        m->kind = ll_xstrdup(kind ? kind : model_kind(full));
        m->series = series ? ll_xstrdup(series) : NULL;
        m->weights = weights ? cJSON_Duplicate(weights, 1) : NULL;
        m->own_data = own ? cJSON_Duplicate(own, 1) : NULL;
        if (m->own_data) { /* keep only the data keys */
            cJSON_DeleteItemFromObjectCaseSensitive(m->own_data, "path");
            cJSON_DeleteItemFromObjectCaseSensitive(m->own_data, "synthetic");
            cJSON_DeleteItemFromObjectCaseSensitive(m->own_data, "hub");
            cJSON_DeleteItemFromObjectCaseSensitive(m->own_data, "comment");
            cJSON_DeleteItemFromObjectCaseSensitive(m->own_data, "revisions");
            cJSON_DeleteItemFromObjectCaseSensitive(m->own_data, "name");
            cJSON_DeleteItemFromObjectCaseSensitive(m->own_data, "series");
            cJSON_DeleteItemFromObjectCaseSensitive(m->own_data, "weights");
        }
    }
    cJSON_Delete(weights);
    return 0;
}

/* ---- expansion --------------------------------------------------------------- */

void ll_sweep_free(ll_sweep *s) {
    if (!s) return;
    for (int i = 0; i < s->n_points; i++) {
        ll_sweep_point *p = &s->points[i];
        free(p->model_name);
        free(p->model_path);
        free(p->model_kind);
        free(p->series);
        free(p->data_name);
        cJSON_Delete(p->axes);
        cJSON_Delete(p->config);
    }
    free(s->points);
    for (int i = 0; i < s->n_axes; i++) free(s->axis_names[i]);
    free(s->axis_names);
    free(s->name);
    free(s->file);
    free(s->out);
    free(s->store);
    free(s->journal);
    free(s);
}

static int opt_str(const char *file, const cJSON *root, const char *k, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) { ll_set_error("%s: %s: expected a string", file, k); return -1; }
    *out = expand_home(v->valuestring);
    return 0;
}

/* What ll_sweep_load gathers before the points are made. */
typedef struct {
    const char *path;
    model_ent *ms;
    int nm, mcap;
    data_ent *ds;
    int nd;
    cJSON *fixed;           /* option -> normalised value */
    cJSON ***axv;           /* per axis: its normalised values (owned), indexable */
    int *axn;               /* per axis: number of values */
    const ll_run_option **axo;
    int nax;
} sweep_build;

/* At most a million points (LAYERLAW_SWEEP_MAX_POINTS may lower it: the
 * fuzzing harness does, to stay within its memory limit). */
static long max_points(void) {
    const char *e = getenv("LAYERLAW_SWEEP_MAX_POINTS");
    long v = e && *e ? atol(e) : 0;
    return v > 0 && v < 1000000 ? v : 1000000;
}
#define MAX_POINTS max_points()

static void build_free(sweep_build *b) {
    for (int i = 0; i < b->nm; i++) {
        free(b->ms[i].name); free(b->ms[i].path); free(b->ms[i].kind); free(b->ms[i].series);
        cJSON_Delete(b->ms[i].weights); cJSON_Delete(b->ms[i].own_data);
    }
    free(b->ms);
    for (int i = 0; i < b->nd; i++) data_free(&b->ds[i]);
    free(b->ds);
    for (int a = 0; a < b->nax; a++) {
        for (int k = 0; b->axv && k < b->axn[a]; k++) cJSON_Delete(b->axv[a][k]);
        if (b->axv) free(b->axv[a]);
    }
    free(b->axv);
    free(b->axn);
    free(b->axo);
    cJSON_Delete(b->fixed);
}

/* The top-level keys, name, out, store, journal. */
static int load_head(sweep_build *b, const cJSON *root, ll_sweep *s) {
    const char *path = b->path;
    if (!cJSON_IsObject(root)) { ll_set_error("%s: a sweep file is a mapping (name, models, data, axes, options)", path); return -1; }
    for (const cJSON *c = root->child; c; c = c->next) {
        static const char *const known[] = {"name", "out", "store", "journal", "models", "data", "axes", "options", "comment", "description", NULL};
        if (!plain_is(c->string, known)) {
            ll_set_error("%s: unknown key '%s' (name, out, store, journal, models, data, axes, options, comment)", path, c->string);
            return -1;
        }
    }
    if (opt_str(path, root, "name", &s->name) || opt_str(path, root, "out", &s->out) ||
        opt_str(path, root, "store", &s->store) || opt_str(path, root, "journal", &s->journal))
        return -1;
    if (!s->name) s->name = base_name(path);
    if (s->journal && strcmp(s->journal, "wal") && strcmp(s->journal, "delete")) {
        ll_set_error("%s: journal: unknown mode '%s' (wal|delete)", path, s->journal);
        return -1;
    }
    return 0;
}

static int load_models(sweep_build *b, const cJSON *root) {
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (cJSON_IsString(models) || cJSON_IsObject(models)) return parse_model(b->path, models, &b->ms, &b->nm, &b->mcap);
    if (cJSON_IsArray(models) && models->child) {
        for (const cJSON *it = models->child; it; it = it->next)
            if (parse_model(b->path, it, &b->ms, &b->nm, &b->mcap)) return -1;
        return 0;
    }
    ll_set_error("%s: models: a non-empty list of model folders, .gguf files or {synthetic: shape.json}", b->path);
    return -1;
}

static int load_data(sweep_build *b, const cJSON *root) {
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (data) {
        int n = cJSON_IsArray(data) ? cJSON_GetArraySize(data) : 1;
        if (n == 0) { ll_set_error("%s: data: an empty list", b->path); return -1; }
        b->ds = ll_xcalloc((size_t)n, sizeof *b->ds);
        const cJSON *it = cJSON_IsArray(data) ? data->child : data;
        for (int i = 0; i < n; i++, it = it->next) {
            if (parse_data(b->path, it, &b->ds[i])) return -1;
            b->nd++;
        }
        const char **names = ll_xmalloc(sizeof *names * (size_t)b->nd);
        for (int i = 0; i < b->nd; i++) names[i] = b->ds[i].name;
        int e, d = first_duplicate(names, b->nd, &e);
        free(names);
        if (d >= 0) { ll_set_error("%s: data: two entries named '%s' (give them names)", b->path, b->ds[d].name); return -1; }
    }
    for (int i = 0; i < b->nm; i++)
        if (!b->ms[i].own_data && b->nd == 0) {
            ll_set_error("%s: model '%s' has no data (give data: at the top, or tokens:/data: in its entry)", b->path, b->ms[i].name);
            return -1;
        }
    return 0;
}

/* One axis: its values checked and normalised, none twice. */
static int load_axis(sweep_build *b, int a, const cJSON *c) {
    const char *path = b->path;
    const ll_run_option *o = b->axo[a];
    int n = cJSON_IsArray(c) ? cJSON_GetArraySize(c) : 1;
    if (n == 0) { ll_set_error("%s: axes: '%s' has no values", path, o->key); return -1; }
    if (n > MAX_POINTS) { ll_set_error("%s: axes: '%s' has %d values: more than %ld", path, o->key, n, MAX_POINTS); return -1; }
    b->axv[a] = ll_xcalloc((size_t)n, sizeof(cJSON *));
    const cJSON *it = cJSON_IsArray(c) ? c->child : c;
    for (int k = 0; k < n; k++, it = it->next) {
        if (!(b->axv[a][k] = ll_run_option_check(o, it, path))) return -1;
        b->axn[a] = k + 1;
    }
    char **txt = ll_xmalloc(sizeof *txt * (size_t)n);
    for (int k = 0; k < n; k++) txt[k] = cJSON_PrintUnformatted(b->axv[a][k]);
    int e, d = first_duplicate((const char *const *)txt, n, &e);
    for (int k = 0; k < n; k++) free(txt[k]);
    free(txt);
    if (d >= 0) { ll_set_error("%s: axes: '%s' lists a value twice", path, o->key); return -1; }
    return 0;
}

static int load_options_axes(sweep_build *b, const cJSON *root) {
    const char *path = b->path;
    b->fixed = cJSON_CreateObject();
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(root, "options");
    const cJSON *axes = cJSON_GetObjectItemCaseSensitive(root, "axes");
    if ((opts && !cJSON_IsObject(opts)) || (axes && !cJSON_IsObject(axes))) {
        ll_set_error("%s: options and axes are mappings (name: value / name: [values])", path);
        return -1;
    }
    char names[512];
    opt_names(names, sizeof names);
    char dym[96];
    for (const cJSON *c = opts ? opts->child : NULL; c; c = c->next) {
        const ll_run_option *o = find_opt(c->string);
        if (!o) { ll_set_error("%s: options: unknown option '%s' (%s%s)", path, c->string, did_you_mean(dym, sizeof dym, c->string), names); return -1; }
        cJSON *v = ll_run_option_check(o, c, path);
        if (!v) return -1;
        cJSON_AddItemToObject(b->fixed, o->key, v);
    }
    int nax = axes ? cJSON_GetArraySize(axes) : 0;
    b->axv = ll_xcalloc((size_t)nax + 1, sizeof *b->axv);
    b->axn = ll_xcalloc((size_t)nax + 1, sizeof *b->axn);
    b->axo = ll_xcalloc((size_t)nax + 1, sizeof *b->axo);
    for (const cJSON *c = axes ? axes->child : NULL; c; c = c->next) {
        const ll_run_option *o = find_opt(c->string);
        if (!o) { ll_set_error("%s: axes: unknown axis '%s' (%s%s)", path, c->string, did_you_mean(dym, sizeof dym, c->string), names); return -1; }
        if (cJSON_GetObjectItemCaseSensitive(b->fixed, o->key)) { ll_set_error("%s: '%s' is both an option and an axis", path, o->key); return -1; }
        b->axo[b->nax] = o;
        b->nax++;
        if (load_axis(b, b->nax - 1, c)) return -1;
    }
    return 0;
}

/* The number of points, multiplied with overflow checks: more than
 * MAX_POINTS is refused (8 axes of 256 values once wrapped to 0). */
static int count_points(const sweep_build *b, long long *per_out, long long *total_out) {
    long long per = 1, total = 0;
    for (int a = 0; a < b->nax; a++) {
        per *= b->axn[a]; /* both <= MAX_POINTS here: no overflow */
        if (per > MAX_POINTS) break;
    }
    for (int i = 0; i < b->nm && per <= MAX_POINTS && total <= MAX_POINTS; i++) total += (b->ms[i].own_data ? 1 : b->nd) * per;
    if (per > MAX_POINTS || total > MAX_POINTS) {
        ll_set_error("%s: more than %ld points (the axes multiply to too many): split the sweep", b->path, MAX_POINTS);
        return -1;
    }
    *per_out = per;
    *total_out = total;
    return 0;
}

/* The configuration of one point: model, data fields, every option (the
 * axis value where it varies, else the fixed or default value); the axes
 * the point has go to *axes in file order. */
static cJSON *point_config(const sweep_build *b, const ll_sweep *s, const model_ent *m, const data_ent *d, const int *idx,
                           cJSON *axes) {
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "model", m->path);
    cJSON_AddStringToObject(cfg, "model_kind", m->kind);
    for (const cJSON *f = d->fields->child; f; f = f->next) cJSON_AddItemToObject(cfg, f->string, cJSON_Duplicate(f, 1));
    const ll_run_option *ord[128];
    const int nord = config_order(ord);
    for (int k = 0; k < nord; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b->fixed, ord[k]->key);
        for (int a = 0; a < b->nax; a++)
            if (b->axo[a] == ord[k]) v = b->axv[a][idx[a]];
        /* a model entry's weights: (random / checkpoint) */
        if (!v && m->weights && !strcmp(ord[k]->key, "weights")) v = m->weights;
        if (v) cJSON_AddItemToObject(cfg, ord[k]->key, cJSON_Duplicate(v, 1));
        else if (ll_run_option_canon(ord[k])) cJSON_AddItemToObject(cfg, ord[k]->key, ll_run_option_default(ord[k]));
    }
    const int data_axis = s->n_axes > b->nax;
    if (data_axis) cJSON_AddStringToObject(axes, "data", d->name);
    for (int a = 0; a < b->nax; a++) cJSON_AddItemToObject(axes, b->axo[a]->key, cJSON_Duplicate(b->axv[a][idx[a]], 1));
    /* held-out PR is defined for PR only (run refuses --folds with another
     * measure): folds and fold_seed apply to the points that measure pr, so
     * that measure: [pr, fuzziness, onehot] and folds: 5 sweep together */
    const cJSON *mz = cJSON_GetObjectItemCaseSensitive(cfg, "measure");
    if (cJSON_IsString(mz) && strcmp(mz->valuestring, "pr")) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "folds");
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "fold_seed");
        if (cJSON_GetObjectItemCaseSensitive(axes, "folds")) cJSON_ReplaceItemInObjectCaseSensitive(axes, "folds", cJSON_CreateNull());
        if (cJSON_GetObjectItemCaseSensitive(axes, "fold_seed")) cJSON_ReplaceItemInObjectCaseSensitive(axes, "fold_seed", cJSON_CreateNull());
    }
    return cfg;
}

/* Appends the points of one model and data entry (every combination of the
 * axes, the last axis fastest). */
static int expand_model_data(const sweep_build *b, ll_sweep *s, const model_ent *m, const data_ent *d, long long per, int *idx) {
    for (long long q = 0; q < per; q++) {
        long long r = q;
        for (int a = b->nax - 1; a >= 0; a--) {
            idx[a] = (int)(r % b->axn[a]);
            r /= b->axn[a];
        }
        ll_sweep_point *p = &s->points[s->n_points++];
        p->index = s->n_points - 1;
        p->model_name = ll_xstrdup(m->name);
        p->model_path = ll_xstrdup(m->path);
        p->model_kind = ll_xstrdup(m->kind);
        p->series = m->series ? ll_xstrdup(m->series) : NULL;
        p->data_name = ll_xstrdup(d->name);
        p->axes = cJSON_CreateObject();
        p->config = point_config(b, s, m, d, idx, p->axes);
        /* as `layerlaw run`: docs and seed sample documents of raw text */
        const cJSON *cfg = p->config;
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cfg, "tokens")) &&
            (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cfg, "docs")) ||
             cJSON_GetObjectItemCaseSensitive(cfg, "seed")->valuedouble != 0)) {
            ll_set_error("%s: model '%s': docs and seed sample documents of data: (raw text), not of a token file",
                         b->path, m->name);
            return -1;
        }
        char *canon = cJSON_PrintUnformatted(cfg);
        char hex[65];
        ll_sha256_buf(canon, strlen(canon), hex);
        free(canon);
        memcpy(p->key, hex, 16);
        p->key[16] = 0;
    }
    return 0;
}

static int expand_points(const sweep_build *b, ll_sweep *s) {
    long long per, total;
    if (count_points(b, &per, &total) != 0) return -1;
    /* axis names: data first when it varies */
    const int data_axis = b->nd > 1;
    s->n_axes = b->nax + data_axis;
    s->axis_names = ll_xcalloc((size_t)s->n_axes + 1, sizeof(char *));
    if (data_axis) s->axis_names[0] = ll_xstrdup("data");
    for (int a = 0; a < b->nax; a++) s->axis_names[a + data_axis] = ll_xstrdup(b->axo[a]->key);
    s->points = ll_xcalloc((size_t)total + 1, sizeof *s->points);
    int *idx = ll_xcalloc((size_t)b->nax + 1, sizeof(int));
    int rc = 0;
    for (int i = 0; i < b->nm && rc == 0; i++) {
        data_ent own = {0};
        const model_ent *m = &b->ms[i];
        if (m->own_data && parse_data(b->path, m->own_data, &own)) { rc = -1; break; }
        for (int di = 0; di < (m->own_data ? 1 : b->nd) && rc == 0; di++)
            rc = expand_model_data(b, s, m, m->own_data ? &own : &b->ds[di], per, idx);
        if (m->own_data) data_free(&own);
    }
    free(idx);
    return rc;
}

/* The same configuration twice (e.g. a model listed twice): an error, or
 * the store would count one point for two.  Sorted keys: n log n. */
static int check_unique(const sweep_build *b, const ll_sweep *s) {
    const char **keys = ll_xmalloc(sizeof *keys * ((size_t)s->n_points + 1));
    for (int i = 0; i < s->n_points; i++) keys[i] = s->points[i].key;
    int j, i = first_duplicate(keys, s->n_points, &j);
    free(keys);
    if (i < 0) return 0;
    ll_set_error("%s: points %d and %d are the same configuration (model '%s' listed twice?)", b->path, j + 1, i + 1,
                 s->points[i].model_name);
    return -1;
}

ll_sweep *ll_sweep_load(const char *path) {
    cJSON *root = ll_yaml_load(path);
    if (!root) return NULL;
    ll_sweep *s = ll_xcalloc(1, sizeof *s);
    s->file = ll_xstrdup(path);
    sweep_build b = {.path = path};
    int ok = load_head(&b, root, s) == 0 && load_models(&b, root) == 0 && load_data(&b, root) == 0 &&
             load_options_axes(&b, root) == 0 && expand_points(&b, s) == 0 && check_unique(&b, s) == 0;
    build_free(&b);
    cJSON_Delete(root);
    if (!ok) { ll_sweep_free(s); return NULL; }
    return s;
}

void ll_sweep_value_str(const cJSON *v, char *buf, size_t cap) {
    if (!v || cJSON_IsNull(v)) snprintf(buf, cap, "-");
    else if (cJSON_IsString(v)) snprintf(buf, cap, "%s", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNumber(v)) snprintf(buf, cap, "%.15g", v->valuedouble);
    else snprintf(buf, cap, "?");
}

int ll_sweep_point_matches(const ll_sweep *s, const ll_sweep_point *p, char *const *filters, int n) {
    for (int i = 0; i < n; i++) {
        const char *f = filters[i], *eq = strchr(f, '=');
        if (!eq || eq == f) { ll_set_error("--only: expected AXIS=VALUE[,VALUE...], got '%s'", f); return -1; }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - f), f);
        char have[512];
        int prefix = 0;
        if (!strcmp(name, "model")) snprintf(have, sizeof have, "%s", p->model_name);
        else if (!strcmp(name, "data")) snprintf(have, sizeof have, "%s", p->data_name);
        else if (!strcmp(name, "key")) { snprintf(have, sizeof have, "%s", p->key); prefix = 1; }
        else {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->config, name);
            if (!v || !find_opt(name)) {
                char list[512];
                size_t k = (size_t)snprintf(list, sizeof list, "model, data, key");
                for (int a = 0; a < s->n_axes && k < sizeof list; a++) k += (size_t)snprintf(list + k, sizeof list - k, ", %s", s->axis_names[a]);
                ll_set_error("--only: unknown name '%s' (%s, or any option)", name, list);
                return -1;
            }
            ll_sweep_value_str(v, have, sizeof have);
        }
        int any = 0;
        const char *c = eq + 1;
        while (!any) {
            const char *e = strchr(c, ',');
            size_t len = e ? (size_t)(e - c) : strlen(c);
            if (prefix ? (len > 0 && len <= strlen(have) && !strncmp(have, c, len)) : (strlen(have) == len && !strncmp(have, c, len)))
                any = 1;
            if (!e) break;
            c = e + 1;
        }
        if (!any) return 0;
    }
    return 1;
}
