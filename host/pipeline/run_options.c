/* The options of `layerlaw run`, shared by the command line and sweep files
 * (run_options.h). */
#include "pipeline/run_options.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend.h"
#include "capture/capture.h"
#include "io/corpus.h"
#include "core/ll_util.h"
#include "probe/measures.h"
#include "probe/probe.h"

#define OFF(f) offsetof(ll_run_opts, f)

const char *const ll_weights_names[] = {"checkpoint", "random", NULL, NULL};
#define NOOFF ((size_t)-1)

/* canonical position of the options every sweep configuration has held from
 * the start (their order is part of each point's key); other options enter a
 * point's configuration only when the sweep sets them, so adding an option
 * never changes the key of a point that does not use it */
static const char *const CANON[] = {"docs", "seed", "max_length", "batch_size", "batch_tokens", "keep_order",
                                    "position", "norm", "norm_last", "fit_from", "ridge", "shuffle_vocab",
                                    "embedding_entry", "measure", "backend", "device", "compute", "threads", NULL};

const ll_run_option ll_run_options[] = {
    /* input */
    {"model", NULL, LL_RO_STR, OFF(model), 0, 0, NULL, NULL, LL_RO_CLI, "DIR", "HF checkpoint folder", "input:", NULL},
    {"tokens", NULL, LL_RO_STR, OFF(tokens), 0, 0, NULL, NULL, LL_RO_DATA, "FILE", "pre-tokenised input (one JSON array of ids per line)", NULL, NULL},
    {"data", NULL, LL_RO_STR, OFF(data), 0, 0, NULL, NULL, LL_RO_DATA, "TEXT", "raw text input (txt / JSONL, optionally .gz)", NULL, NULL},
    {"tokenizer", NULL, LL_RO_STR, OFF(tokenizer), 0, 0, NULL, NULL, LL_RO_DATA, "T", "tokenizer.json, its folder or a .gguf (default: the model)", NULL, NULL},
    {"split", NULL, LL_RO_ENUM, NOOFF, 0, 0, ll_corpus_split_names, NULL, LL_RO_DATA, "S", "auto|line|paragraph|file|jsonl (default auto: jsonl for .jsonl[.gz], else line)", NULL, NULL},
    {"text-field", NULL, LL_RO_STR, OFF(text_field), 0, 0, NULL, NULL, LL_RO_DATA, "F", "JSONL field holding the text (default text)", NULL, NULL},
    {"docs", "docs", LL_RO_LONG, OFF(docs), 1, 1e15, NULL, NULL, LL_RO_SWEEP, "N", "sample N documents uniformly without replacement (portable RNG)", NULL, "10"},
    {"seed", "seed", LL_RO_U64, OFF(seed), 0, 0, NULL, "0", LL_RO_SWEEP, "S", "the sampling seed (default 0; with --docs)", NULL, "1"},
    {"max-length", "max_length", LL_RO_INT, OFF(max_length), 0, 1 << 30, NULL, "512", LL_RO_SWEEP, "L", "cut sequences to L tokens (default 512; 0 = no cut)", NULL, "32"},
    {"out", NULL, LL_RO_STR, NOOFF, 0, 0, NULL, NULL, LL_RO_CLI, "DIR", "results folder: law.json, layers.csv", NULL, NULL},
    /* measurement */
    {"position", "position", LL_RO_ENUM, NOOFF, 0, 0, ll_position_names, "next", LL_RO_SWEEP, "P", "next|current|previous|next-next: which token a feature predicts (default next)", "measurement:", "current"},
    {"norm", "norm", LL_RO_ENUM, NOOFF, 0, 0, ll_norm_choices, "initialized", LL_RO_SWEEP, "N", "initialized (default: a fresh norm of the model's own kind and eps,\nas the authors) | layernorm | rmsnorm | standardize | none", NULL, "standardize"},
    {"norm-last", "norm_last", LL_RO_FLAG, OFF(norm_last), 0, 0, NULL, "false", LL_RO_SWEEP, NULL, "normalise the last entry too (default: as the authors, not)", NULL, "true"},
    {"fit-from", "fit_from", LL_RO_INT, OFF(fit_from), 0, 1 << 20, NULL, "1", LL_RO_SWEEP, "K", "first entry of the law fit (default 1)", NULL, "2"},
    {"ridge", "ridge", LL_RO_DOUBLE, OFF(ridge), 0, 1e300, NULL, "0", LL_RO_SWEEP, "LAMBDA", "ridge penalty (default 0: OLS, minimum norm)", NULL, "0.5"},
    {"shuffle-vocab", "shuffle_vocab", LL_RO_U64, OFF(shuffle_seed), 0, 0, NULL, NULL, LL_RO_SWEEP, "S", "the shuffled-vocabulary control: labels mapped through a random\npermutation (seed S) of the label ids present, as the authors (same as fit)", NULL, "3"},
    {"dump-hidden", NULL, LL_RO_STR, OFF(dump_hidden), 0, 0, NULL, NULL, LL_RO_CLI, "F.npy", "also write the raw features, (N, E, d) float32, examples in input order", NULL, NULL},
    {"measure", "measure", LL_RO_ENUM, NOOFF, 0, 0, ll_measure_choices, "pr", LL_RO_SWEEP, "M", "pr|fuzziness|onehot: what is measured per entry (default pr;\nfuzziness = separation fuzziness tr(Sw pinv(Sb)), docs/measures.md)", NULL, "fuzziness"},
    {"max-classes", "max_classes", LL_RO_INT, OFF(max_classes), 0, 2147483647, NULL, "0", LL_RO_SWEEP, "M", "fuzziness/onehot: keep the M-1 most frequent classes, pool the rest\n(default 0: all classes while their sums fit in 8 GiB)", NULL, "16"},
    {"folds", "folds", LL_RO_INT, OFF(folds), 2, LL_FOLDS_MAX, NULL, NULL, LL_RO_SWEEP, "K", "held-out PR over K folds of sequences and a jackknife of the law\n(default off; the probe statistics then stay on the host)", NULL, "3"},
    {"fold-seed", "fold_seed", LL_RO_U64, OFF(fold_seed), 0, 0, NULL, "0", LL_RO_SWEEP, "S", "seed of the fold hash (default 0; with --folds)", NULL, "5"},
    {"embedding-entry", "embedding_entry", LL_RO_FLAG, OFF(embedding_entry), 0, 0, NULL, "false", LL_RO_SWEEP, NULL, "rwkv/mamba: entry 0 = the token embeddings and no raw last block\n(default: HF's hidden_states, entry 0 = block 1's output, as the paper)", NULL, "true"},
    /* labels for the figures */
    {"series", "series", LL_RO_STR, OFF(series), 0, 0, NULL, NULL, LL_RO_MODEL, "NAME", "the model's series (family) in figures, e.g. Pythia (default: the model\nname without its size); recorded in law.json", "labels (figures and report):", "Pythia"},
    {"label", NULL, LL_RO_STR, OFF(label), 0, 0, NULL, NULL, LL_RO_MODEL, "NAME", "the model's name in figures (default: the folder name; a sweep's name:)", NULL, NULL},
    {"weights", "weights", LL_RO_ENUM, NOOFF, 0, 0, ll_weights_names, NULL, LL_RO_SWEEP | LL_RO_MODEL, "W", "checkpoint | random: say that the weights are random (a synthetic\nshape is random by itself); figures mark such models", NULL, "random"},
    /* execution */
    {"batch-size", "batch_size", LL_RO_INT, OFF(batch_size), 1, 1 << 20, NULL, "64", LL_RO_SWEEP, "B", "at most B sequences per forward batch, right-padded (default 64)", "execution:", "3"},
    {"batch-tokens", "batch_tokens", LL_RO_LONG, OFF(batch_tokens), 1, 1e12, NULL, "4096", LL_RO_SWEEP, "N", "at most N padded tokens per batch (default 4096; a longer\nsequence goes alone): bounds the activation memory; with --stages the\ndefault is the largest batch that keeps the pipeline bubble <= 10%", NULL, "64"},
    {"keep-order", "keep_order", LL_RO_FLAG, OFF(keep_order), 0, 0, NULL, "false", LL_RO_SWEEP, NULL, "batch sequences in input order (default: longest first, less padding;\nimplied by --dump-hidden)", NULL, "true"},
    {"threads", "threads", LL_RO_INT, OFF(threads), 0, 4096, NULL, "0", LL_RO_SWEEP, "T", "threads (default: all cores)", NULL, "1"},
    {"backend", "backend", LL_RO_ENUM, NOOFF, 0, 0, ll_backend_names, "auto", LL_RO_SWEEP, "B", "auto|cpu|cuda (default auto: cuda when a device is present)", NULL, "cpu"},
    {"device", "device", LL_RO_INT, OFF(device), 0, 1024, NULL, "0", LL_RO_SWEEP, "N", "cuda: the device to use (default 0; under mpirun/srun the rank's\nlocal rank: one rank per GPU)", NULL, "0"},
    {"stages", NULL, LL_RO_INT, OFF(stages), 1, 4096, NULL, NULL, LL_RO_CLI, "S", "layer (pipeline) parallel under mpirun/srun: each rank runs one of S\nconsecutive blocks of layers and loads only their weights; ranks = replicas x S\n(default 1: every rank runs the whole model; docs/distributed.md)", NULL, NULL},
    {"compute", "compute", LL_RO_ENUM, NOOFF, 0, 0, ll_compute_names, "auto", LL_RO_SWEEP, "C", "auto (default: bf16 on CUDA, fp32 on the CPU) | bf16 (CUDA: weights kept\nas stored, bf16 GEMMs with fp32 accumulation) | fp32", NULL, "fp32"},
    {"dtype", NULL, LL_RO_ENUM, NOOFF, 0, 0, ll_compute_names, NULL, LL_RO_CLI, "C", "the same as --compute", NULL, NULL},
};
const int ll_n_run_options = (int)(sizeof ll_run_options / sizeof ll_run_options[0]);

const ll_run_option *ll_run_option_find(const char *s) {
    for (int i = 0; i < ll_n_run_options; i++)
        if (!strcmp(ll_run_options[i].name, s) || (ll_run_options[i].key && !strcmp(ll_run_options[i].key, s)))
            return &ll_run_options[i];
    return NULL;
}

/* the word of an enumerated option as its list holds it (static storage:
 * a name, or an alias after the names), or NULL */
static const char *enum_word(const ll_run_option *d, const char *s) {
    const char *const *c = d->choices;
    for (int pass = 0; pass < 2; pass++, c++)
        for (; *c; c++)
            if (!strcmp(*c, s)) return *c;
    return NULL;
}
/* "'v' is not one of a, b, c (did you mean b?)" */
static void not_one_of(const ll_run_option *d, const char *pre, const char *v) {
    char list[256], dym[96] = "";
    size_t k = 0, n = 0;
    list[0] = 0;
    for (const char *const *c = d->choices; *c; c++, n++) k += (size_t)snprintf(list + k, k < sizeof list ? sizeof list - k : 0, "%s%s", n ? ", " : "", *c);
    const char *m = ll_did_you_mean(v, d->choices, n);
    if (m) snprintf(dym, sizeof dym, " (did you mean %s?)", m);
    ll_set_error("%s'%s' is not one of %s%s", pre, v, list, dym);
}

static int set_enum(ll_run_opts *o, const ll_run_option *d, const char *w) {
    const char *k = d->name;
    if (!strcmp(k, "position")) return ll_position_parse(w, &o->position);
    if (!strcmp(k, "norm")) {
        o->norm_initialized = !strcmp(w, "initialized") || !strcmp(w, "initialized-LN");
        return o->norm_initialized ? 0 : ll_norm_parse(w, &o->norm);
    }
    if (!strcmp(k, "measure")) {
        ll_measure m;
        if (ll_measure_parse(w, &m) != 0) return -1;
        o->measure = m;
        return 0;
    }
    if (!strcmp(k, "weights")) { o->weights = w; return 0; }
    if (!strcmp(k, "split")) { o->split = w; return 0; }
    if (!strcmp(k, "backend")) { o->backend = w; return 0; }
    if (!strcmp(k, "compute") || !strcmp(k, "dtype")) { o->compute = w; return 0; }
    ll_set_error("--%s: not an option of run", k);
    return -1;
}

static int parse_num(const ll_run_option *d, const char *t, double *out, unsigned long long *u) {
    char *end;
    errno = 0;
    if (d->kind == LL_RO_U64) {
        if (!*t || *t == '-' || *t == '+' || *t == ' ') goto bad;
        *u = strtoull(t, &end, 10);
        if (*end || errno) goto bad;
        *out = (double)*u;
        return 0;
    }
    *out = strtod(t, &end);
    if (!*t || *end || errno || !isfinite(*out)) goto bad;
    if (d->kind != LL_RO_DOUBLE && *out != floor(*out)) goto bad;
    if ((d->min != 0 || d->max != 0) && (*out < d->min || *out > d->max)) {
        ll_set_error("--%s: %s is out of range (%.17g..%.17g)", d->name, t, d->min, d->max);
        return -1;
    }
    return 0;
bad:
    ll_set_error("--%s: '%s' is not %s", d->name, t,
                 d->kind == LL_RO_DOUBLE ? "a number" : d->kind == LL_RO_U64 ? "a whole number >= 0" : "a whole number");
    return -1;
}

int ll_run_option_set(ll_run_opts *o, const ll_run_option *d, const char *t) {
    char *base = (char *)o;
    double v = 0;
    unsigned long long u = 0;
    switch (d->kind) {
    case LL_RO_STR:
        if (d->off == NOOFF) { ll_set_error("--%s: not stored in the run's options", d->name); return -1; }
        *(const char **)(base + d->off) = t;
        return 0;
    case LL_RO_ENUM: {
        const char *w = enum_word(d, t);
        if (!w) {
            char pre[96];
            snprintf(pre, sizeof pre, "--%s: ", d->name);
            not_one_of(d, pre, t);
            return -1;
        }
        return set_enum(o, d, w);
    }
    case LL_RO_FLAG:
        if (!strcmp(t, "1") || !strcmp(t, "true")) *(int *)(base + d->off) = 1;
        else if (!strcmp(t, "0") || !strcmp(t, "false")) *(int *)(base + d->off) = 0;
        else { ll_set_error("--%s: expected true or false, got '%s'", d->name, t); return -1; }
        return 0;
    default: break;
    }
    if (parse_num(d, t, &v, &u) != 0) return -1;
    switch (d->kind) {
    case LL_RO_INT: *(int *)(base + d->off) = (int)v; break;
    case LL_RO_LONG: *(long long *)(base + d->off) = (long long)v; break;
    case LL_RO_U64: *(uint64_t *)(base + d->off) = (uint64_t)u; break;
    case LL_RO_DOUBLE: *(double *)(base + d->off) = v; break;
    default: break;
    }
    if (!strcmp(d->name, "shuffle-vocab")) o->have_shuffle = 1;
    return 0;
}

cJSON *ll_run_option_check(const ll_run_option *d, const cJSON *v, const char *file) {
    const char *k = d->key ? d->key : d->name;
    switch (d->kind) {
    case LL_RO_STR:
        if (!cJSON_IsString(v)) { ll_set_error("%s: %s: expected a string", file, k); return NULL; }
        return cJSON_CreateString(v->valuestring);
    case LL_RO_ENUM: {
        const char *w = cJSON_IsString(v) ? enum_word(d, v->valuestring) : NULL;
        if (!w) {
            char pre[1200];
            snprintf(pre, sizeof pre, "%s: %s: ", file, k);
            not_one_of(d, pre, cJSON_IsString(v) ? v->valuestring : "(not a string)");
            return NULL;
        }
        /* the canonical name (an alias stands for it: initialized-LN, ...) */
        ll_run_opts t;
        ll_run_opts_default(&t);
        if (set_enum(&t, d, w) != 0) return NULL;
        if (!strcmp(k, "position")) return cJSON_CreateString(ll_position_name(t.position));
        if (!strcmp(k, "norm")) return cJSON_CreateString(t.norm_initialized ? "initialized" : ll_norm_name(t.norm));
        if (!strcmp(k, "measure")) return cJSON_CreateString(ll_measure_name((ll_measure)t.measure));
        return cJSON_CreateString(w);
    }
    case LL_RO_FLAG:
        if (!cJSON_IsBool(v)) { ll_set_error("%s: %s: expected true or false", file, k); return NULL; }
        return cJSON_CreateBool(cJSON_IsTrue(v));
    default: break;
    }
    /* numbers; null where the option has no default (unset) */
    if (cJSON_IsNull(v) && !d->def) return cJSON_CreateNull();
    if (!strcmp(k, "docs") && cJSON_IsNumber(v) && v->valuedouble == 0) return cJSON_CreateNull(); /* 0: all documents */
    int whole = d->kind != LL_RO_DOUBLE;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 || (whole && v->valuedouble != floor(v->valuedouble)) ||
        (whole && v->valuedouble > 9.007199254740992e15)) {
        ll_set_error("%s: %s: expected a %s >= 0%s", file, k, whole ? "whole number" : "number", d->def ? "" : " or null");
        return NULL;
    }
    if ((d->min != 0 || d->max != 0) && (v->valuedouble < d->min || v->valuedouble > d->max)) {
        ll_set_error("%s: %s: %.17g is out of range (%.17g..%.17g)", file, k, v->valuedouble, d->min, d->max);
        return NULL;
    }
    return cJSON_CreateNumber(v->valuedouble);
}

cJSON *ll_run_option_default(const ll_run_option *d) {
    if (!d->def) return cJSON_CreateNull();
    switch (d->kind) {
    case LL_RO_STR:
    case LL_RO_ENUM: return cJSON_CreateString(d->def);
    case LL_RO_FLAG: return cJSON_CreateBool(!strcmp(d->def, "true"));
    default: return cJSON_CreateNumber(strtod(d->def, NULL));
    }
}

int ll_run_option_canon(const ll_run_option *d) {
    for (int i = 0; CANON[i]; i++)
        if (d->key && !strcmp(d->key, CANON[i])) return i + 1;
    return 0;
}

int ll_run_opts_from_config(ll_run_opts *o, const cJSON *c) {
    for (int i = 0; i < ll_n_run_options; i++) {
        const ll_run_option *d = &ll_run_options[i];
        const char *k = d->key ? d->key : NULL;
        /* the data entry's keys (tokens, data, tokenizer, split, text_field) and the model */
        if (!k && (d->where & (LL_RO_DATA | LL_RO_MODEL))) k = !strcmp(d->name, "text-field") ? "text_field" : d->name;
        if (!k && !strcmp(d->name, "model")) k = "model";
        if (!k) continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, k);
        if (!v || cJSON_IsNull(v)) continue;
        char buf[64];
        const char *t = NULL;
        if (cJSON_IsString(v)) t = v->valuestring;
        else if (cJSON_IsBool(v)) t = cJSON_IsTrue(v) ? "1" : "0";
        else if (cJSON_IsNumber(v)) { snprintf(buf, sizeof buf, "%.17g", v->valuedouble); t = buf; }
        else continue;
        if (ll_run_option_set(o, d, t) != 0) return -1;
    }
    return 0;
}

void ll_run_options_to_config(const ll_run_opts *o, cJSON *cfg) {
    if (o->series) cJSON_AddStringToObject(cfg, "series", o->series);
    if (o->label) cJSON_AddStringToObject(cfg, "label", o->label);
    cJSON_AddStringToObject(cfg, "weights", o->weights ? o->weights : o->synthetic ? "random" : "checkpoint");
}
