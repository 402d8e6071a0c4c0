/* Sweep files and their points.
 *
 * A sweep file (YAML, read with libyaml, or JSON) names models, data and the
 * axes to cross; every combination is one point, one run of the library
 * pipeline.  docs/sweeps.md has the format; in short:
 *
 *   name: positions
 *   out: results/sweeps/positions        # default output folder
 *   models:                              # folders, .gguf files, synthetic shapes
 *     - configs/stories260K-hf
 *     - {path: ~/models/pythia-160m/{rev}, name: pythia-160m, revisions: [step1000, step143000]}
 *     - {synthetic: configs/shapes/gpt2}     # a shape folder (its config.json)
 *     - {path: tests/fixtures/models/gpt2, tokens: tests/fixtures/models/gpt2/tokens.jsonl}
 *   data:                                # one entry, or a list (then data is an axis)
 *     tokens: configs/stories260K-hf/alice-200x128.tok512.jsonl
 *   axes: {position: [next, current, previous, next-next], norm: [initialized, none]}
 *   options: {batch_size: 16, threads: 2}
 *
 * Each point's configuration is resolved in full (defaults filled in) and
 * its key is the first 16 hex digits of the SHA-256 of that configuration
 * printed canonically, so the same measurement has the same key whichever
 * file or spelling asked for it. */
#ifndef LL_SWEEP_H
#define LL_SWEEP_H
#include <cJSON.h>

typedef struct {
    char key[17];
    int index;           /* 0-based, in expansion order */
    char *model_name;    /* label (default: the path's last component) */
    char *model_path;    /* as written, ~ expanded; for synthetic the shape's config.json */
    char *model_kind;    /* "dir" | "gguf" | "synthetic" */
    char *series;        /* the model entry's series: (figures), or NULL */
    char *data_name;
    cJSON *axes;         /* {axis: value} for every axis of the sweep (data too when it varies) */
    cJSON *config;       /* the resolved configuration (what the key hashes) */
} ll_sweep_point;

typedef struct {
    char *name, *file;
    char *out;           /* NULL when the file gives none */
    char *store;         /* NULL: OUT/results.sqlite */
    char *journal;       /* NULL: wal */
    int n_points;
    ll_sweep_point *points;
    int n_axes;
    char **axis_names;   /* in file order (and "data" first when it varies) */
} ll_sweep;

/* YAML (1.1 scalars: null/~, true/false, numbers; quoted scalars stay
 * strings) or JSON, by content.  NULL + error naming the file and line. */
cJSON *ll_yaml_load(const char *path);
cJSON *ll_yaml_parse(const char *text, size_t len, const char *name);

ll_sweep *ll_sweep_load(const char *path);
void ll_sweep_free(ll_sweep *s);

/* --only filters: "axis=v1,v2" (also model=NAME, data=NAME, key=PREFIX);
 * all filters must match (AND), any value of one filter (OR).
 * 1 match, 0 not, -1 a malformed filter (error set). */
int ll_sweep_point_matches(const ll_sweep *s, const ll_sweep_point *p, char *const *filters, int n);
/* A value as the summary and the filters print it: strings bare, null "-". */
void ll_sweep_value_str(const cJSON *v, char *buf, size_t cap);
#endif
