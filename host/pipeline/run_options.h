/* The options of `layerlaw run`, in one table shared by the command line
 * (host/cli/cmd_run.c builds its parser from it) and sweep files
 * (host/sweep/sweep.c takes its axes and options from it), so the two cannot
 * drift: every measurement option of `run` is a sweep axis or option with the
 * same value syntax, checked by the same code, and sets the same field of
 * ll_run_opts.  docs/sweeps.md lists them. */
#ifndef LL_RUN_OPTIONS_H
#define LL_RUN_OPTIONS_H
#include <cJSON.h>
#include <stddef.h>
#include "pipeline/pipeline.h"

typedef enum {
    LL_RO_STR,    /* const char * */
    LL_RO_ENUM,   /* one of `choices`; stored by the option's own setter */
    LL_RO_INT,    /* int, bounds min..max */
    LL_RO_LONG,   /* long long, bounds */
    LL_RO_U64,    /* uint64_t */
    LL_RO_DOUBLE, /* double, finite, bounds */
    LL_RO_FLAG,   /* int 0/1 (command line: a flag; sweep: true/false) */
} ll_ro_kind;

/* where an option may appear */
enum {
    LL_RO_SWEEP = 1, /* a sweep axis or option (key), and run --name */
    LL_RO_MODEL = 2, /* a key of a sweep's model entry (label is its name:) */
    LL_RO_DATA = 4,  /* a key of a sweep's data entry */
    LL_RO_CLI = 8,   /* run only: where the run reads or writes (per process) */
};

typedef struct {
    const char *name;   /* run --name */
    const char *key;    /* sweep key (name with '_'); NULL: none */
    ll_ro_kind kind;
    size_t off;         /* the field in ll_run_opts (not for LL_RO_ENUM) */
    double min, max;    /* numeric bounds (min == max == 0: none) */
    const char *const *choices; /* LL_RO_ENUM: the library's list (ll_position_names, ...):
                                   names, NULL, aliases, NULL */
    const char *def;    /* the default as the sweep writes it (NULL: null = unset) */
    unsigned where;
    const char *arg, *help, *group; /* help: metavariable, text, heading before it (or NULL) */
    const char *sample; /* a valid value other than the default (the test walks the table with it) */
} ll_run_option;

/* the values of run --weights: checkpoint (the default) | random */
extern const char *const ll_weights_names[];
extern const ll_run_option ll_run_options[];
extern const int ll_n_run_options;
/* by run name ("max-length") or sweep key ("max_length"); NULL when none */
const ll_run_option *ll_run_option_find(const char *name_or_key);

/* Sets the option in o from its text (run --name TEXT, or "1" for a flag).
 * -1 + error "--name: ..." on a bad value. */
int ll_run_option_set(ll_run_opts *o, const ll_run_option *d, const char *text);
/* A sweep value of the option, checked and normalised (the form the point's
 * configuration holds and its key hashes).  NULL + error naming file and key. */
cJSON *ll_run_option_check(const ll_run_option *d, const cJSON *v, const char *file);
/* Its default in that form (null when it has none). */
cJSON *ll_run_option_default(const ll_run_option *d);
/* 1.. for the options every sweep configuration holds (their order in it),
 * 0 for the others: those enter a configuration only when set, so a new
 * option never changes the key of an existing point */
int ll_run_option_canon(const ll_run_option *d);
/* Sets o from a resolved configuration (a sweep point's): every option of
 * the table whose key it holds.  -1 + error on a value it cannot take. */
int ll_run_opts_from_config(ll_run_opts *o, const cJSON *config);
/* The run's labelling options in law.json's config: series, label and
 * weights (what the figures group and mark by); called by the pipeline. */
void ll_run_options_to_config(const ll_run_opts *o, cJSON *config);
#endif
