/* Capture sinks: probe statistics, .npy dump, tee. */
#include "capture/capture.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/ll_util.h"
#include "io/npy.h"

const char *const ll_position_names[] = {"next", "current", "previous", "next-next", NULL, NULL};

int ll_position_parse(const char *s, ll_position *out) {
    for (int i = 0; ll_position_names[i]; i++)
        if (!strcmp(s, ll_position_names[i])) {
            *out = (ll_position)i;
            return 0;
        }
    char msg[256];
    ll_set_error("position: %s", ll_not_one_of(msg, sizeof msg, s, (const char *const *)ll_position_names, 4));
    return -1;
}

const char *ll_position_name(ll_position p) { return (unsigned)p < 4 ? ll_position_names[p] : "?"; }

void ll_position_range(ll_position p, int len, int *j0, int *j1, int *off) {
    *j0 = 0; *j1 = len - 1; *off = 1;
    switch (p) {
    case LL_POS_NEXT: *j0 = 0; *j1 = len - 1; *off = 1; break;
    case LL_POS_CURRENT: *j0 = 0; *j1 = len; *off = 0; break;
    case LL_POS_PREVIOUS: *j0 = 1; *j1 = len; *off = -1; break;
    case LL_POS_NEXT_NEXT: *j0 = 0; *j1 = len - 2; *off = 2; break;
    }
    if (*j1 < *j0) *j1 = *j0;
}

long ll_position_count(ll_position p, int len) {
    int j0, j1, off;
    ll_position_range(p, len, &j0, &j1, &off);
    return j1 - j0;
}

long ll_capture_select(ll_position pos, const int32_t *tokens, const int *lens, int B, int T,
                       const ll_classmap *relabel_ids, const int64_t *relabel_to, const ll_classmap *cmap,
                       int64_t *rows, double *y) {
    long k = 0;
    for (int b = 0; b < B; b++) {
        int j0, j1, off;
        ll_position_range(pos, lens[b], &j0, &j1, &off);
        for (int j = j0; j < j1; j++, k++) {
            rows[k] = (int64_t)b * T + j;
            int64_t lab = tokens[(size_t)b * T + j + off];
            if (relabel_ids) {
                int ri = ll_classmap_index(relabel_ids, lab);
                if (ri < 0) { ll_set_error("capture: label %lld is not in the shuffled vocabulary", (long long)lab); return -1; }
                lab = relabel_to[ri];
            }
            if (cmap) {
                int ci = ll_classmap_index(cmap, lab);
                if (ci < 0) { ll_set_error("capture: label %lld is not in the class map", (long long)lab); return -1; }
                y[k] = ci;
            } else {
                y[k] = (double)lab;
            }
        }
    }
    return k;
}

typedef enum { SINK_PROBE = 1, SINK_DUMP, SINK_TEE } sink_kind;

typedef struct {
    sink_kind kind;
    /* probe */
    ll_stats *st;
    ll_position pos;
    ll_norm norm;
    double eps;
    int norm_last;
    const ll_classmap *cmap;
    const ll_classmap *relabel_ids; /* label id -> relabel_to[index] (shuffled vocabulary) */
    const int64_t *relabel_to;
    long examples;
    double *X, *y;
    size_t cap_rows;
    ll_folds *folds;        /* held-out PR: rows go to their fold's statistics */
    const int *row_fold;    /* [row_fold_n] fold of each batch row */
    int row_fold_n;
    int *fid;               /* [cap_rows] fold of each example */
    int64_t *sel; /* the batch's example rows */
    size_t cap_sel;
    /* dump */
    int fd;
    ll_private_file pf; /* nameless until finished: a killed run leaves nothing */
    char path[4096];
    int32_t *labels;   /* [N] the label of each example (the raw token id) */
    long N, base, written;
    int E, d;
    size_t hdr;
    float *row;
    /* tee */
    ll_capture **sinks;
    int n;
    const ll_ops *ops; /* device tee: downloads once for the host sinks */
    void *ctx;
    float *hbuf;
    size_t hcap;
} sink;

static long batch_examples(ll_position pos, const int *lens, int B) {
    long n = 0;
    for (int b = 0; b < B; b++) n += ll_position_count(pos, lens[b]);
    return n;
}

static int probe_on_entry(ll_capture *c, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T, int C) {
    sink *s = c->impl;
    if (e < 0 || e >= s->st->E || C != s->st->d) {
        ll_set_error("capture: entry %d of width %d does not match the statistics (E=%d, d=%d)", e, C, s->st->E, s->st->d);
        return -1;
    }
    long n = batch_examples(s->pos, lens, B);
    if (n == 0) return 0;
    if ((size_t)n > s->cap_rows) {
        free(s->X); free(s->y); free(s->fid);
        s->cap_rows = (size_t)n;
        s->X = ll_xmalloc((size_t)n * C * sizeof(double));
        s->y = ll_xmalloc((size_t)n * sizeof(double));
        s->fid = s->folds ? ll_xmalloc((size_t)n * sizeof(int)) : NULL;
    }
    if (s->folds && (!s->row_fold || s->row_fold_n < B)) {
        ll_set_error("capture: folds of the batch's %d rows not given", B);
        return -1;
    }
    if ((size_t)n > s->cap_sel) {
        free(s->sel);
        s->cap_sel = (size_t)n;
        s->sel = ll_xmalloc((size_t)n * sizeof(int64_t));
    }
    if (ll_capture_select(s->pos, tokens, lens, B, T, s->relabel_ids, s->relabel_to, s->cmap, s->sel, s->y) < 0)
        return -1;
    for (long k = 0; k < n; k++) {
        if (s->folds) s->fid[k] = s->row_fold[s->sel[k] / T]; /* rows[k] = b*T + j */
        const float *src = h + (size_t)s->sel[k] * C;
        double *dst = s->X + (size_t)k * C;
        for (int q = 0; q < C; q++) dst[q] = src[q];
    }
    int apply = e < s->st->E - 1 || s->norm_last;
    ll_normalize_rows(s->X, n, C, apply ? s->norm : LL_NORM_NONE, s->eps);
    if (s->folds) ll_folds_add(s->folds, e, s->X, s->y, s->fid, n);
    else ll_stats_add(s->st, e, s->X, s->y, n);
    if (e == 0) s->examples += n;
    return 0;
}

ll_capture *ll_capture_probe_new(ll_stats *st, ll_position pos, ll_norm norm, double eps, int norm_last,
                                 const ll_classmap *cmap) {
    ll_capture *c = ll_xcalloc(1, sizeof *c);
    sink *s = ll_xcalloc(1, sizeof *s);
    s->kind = SINK_PROBE;
    s->st = st;
    s->pos = pos;
    s->norm = norm;
    s->eps = eps;
    s->norm_last = norm_last;
    s->cmap = cmap;
    for (int e = 0; e < st->E; e++)
        st->ones_null[e] = (norm == LL_NORM_LAYERNORM || norm == LL_NORM_STANDARDIZE) && (e < st->E - 1 || norm_last);
    c->impl = s;
    c->on_entry = probe_on_entry;
    return c;
}

int ll_capture_probe_relabel(ll_capture *c, const ll_classmap *ids, const int64_t *to) {
    sink *s = c->impl;
    if (s->kind != SINK_PROBE) { ll_set_error("capture: relabelling needs a probe sink"); return -1; }
    s->relabel_ids = ids;
    s->relabel_to = to;
    return 0;
}

int ll_capture_probe_folds(ll_capture *c, ll_folds *f) {
    sink *s = c->impl;
    if (s->kind != SINK_PROBE || s->st->target != LL_TARGET_ID || f->E != s->st->E || f->d != s->st->d) {
        ll_set_error("capture: folds need a probe sink with the id target and the same shape");
        return -1;
    }
    s->folds = f;
    for (int k = 0; k < f->K; k++) memcpy(f->fold[k]->ones_null, s->st->ones_null, (size_t)f->E * sizeof(int));
    free(s->X); free(s->y); free(s->fid); /* re-allocated with the fold ids on the next batch */
    s->X = NULL; s->y = NULL; s->fid = NULL;
    s->cap_rows = 0;
    return 0;
}

int ll_capture_probe_row_folds(ll_capture *c, const int *row_fold, int B) {
    sink *s = c->impl;
    if (s->kind != SINK_PROBE || !s->folds) { ll_set_error("capture: row folds need a probe sink with folds"); return -1; }
    for (int b = 0; b < B; b++)
        if (row_fold[b] < 0 || row_fold[b] >= s->folds->K) { ll_set_error("capture: fold %d of row %d outside 0..%d", row_fold[b], b, s->folds->K - 1); return -1; }
    s->row_fold = row_fold;
    s->row_fold_n = B;
    return 0;
}

long ll_capture_probe_examples(const ll_capture *c) {
    const sink *s = c->impl;
    return s->kind == SINK_PROBE ? s->examples : -1;
}

static int dump_on_entry(ll_capture *c, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T, int C) {
    sink *s = c->impl;
    if (e < 0 || e >= s->E || C != s->d) {
        ll_set_error("%s: entry %d of width %d does not match (E=%d, d=%d)", s->path, e, C, s->E, s->d);
        return -1;
    }
    long k = s->base;
    for (int b = 0; b < B; b++) {
        int j0, j1, off;
        ll_position_range(s->pos, lens[b], &j0, &j1, &off);
        for (int j = j0; j < j1; j++, k++) {
            if (k >= s->N) { ll_set_error("%s: more examples than the %ld announced", s->path, s->N); return -1; }
            off_t at = (off_t)s->hdr + ((off_t)k * s->E + e) * (off_t)C * 4;
            const float *src = h + ((size_t)b * T + j) * C;
            if (e == 0 && tokens) s->labels[k] = tokens[(size_t)b * T + j + off];
            ssize_t w = pwrite(s->fd, src, (size_t)C * 4, at);
            if (w != (ssize_t)C * 4) { ll_set_error("%s: write error: %s", s->path, strerror(errno)); return -1; }
        }
    }
    if (e == s->E - 1) { s->written += k - s->base; s->base = k; }
    return 0;
}

ll_capture *ll_capture_dump_new(const char *path, long N, int E, int d, ll_position pos) {
    sink *s = ll_xcalloc(1, sizeof *s);
    s->kind = SINK_DUMP;
    snprintf(s->path, sizeof s->path, "%s", path);
    if (ll_private_open(&s->pf, path) != 0) { free(s); return NULL; }
    s->fd = s->pf.fd;
    int64_t shape[3] = {N, E, d};
    int wfd = dup(s->fd);
    FILE *f = wfd >= 0 ? fdopen(wfd, "wb") : NULL;
    int hl = f ? ll_npy_write_header(f, LL_DT_F32, 3, shape) : -1;
    if (!f || hl < 0 || fclose(f) != 0) {
        if (!f && wfd >= 0) close(wfd);
        ll_private_discard(&s->pf);
        free(s);
        ll_set_error("%s: write error", path);
        return NULL;
    }
    s->hdr = (size_t)hl;
    s->N = N; s->E = E; s->d = d; s->pos = pos;
    if (ftruncate(s->fd, (off_t)s->hdr + (off_t)N * E * d * 4) != 0) {
        ll_set_error("%s: cannot size file: %s", path, strerror(errno));
        ll_private_discard(&s->pf);
        free(s);
        return NULL;
    }
    s->labels = ll_xmalloc(sizeof(int32_t) * (size_t)(N > 0 ? N : 1));
    ll_capture *c = ll_xcalloc(1, sizeof *c);
    c->impl = s;
    c->on_entry = dump_on_entry;
    return c;
}

int ll_capture_dump_finish(ll_capture *c) {
    sink *s = c->impl;
    if (s->kind != SINK_DUMP || s->fd < 0) { ll_set_error("capture: not an open dump"); return -1; }
    if (s->written != s->N) {
        ll_set_error("%s: %ld examples written, %ld announced", s->path, s->written, s->N);
        ll_private_discard(&s->pf);
        s->fd = -1;
        return -1;
    }
    s->fd = -1;
    return ll_private_publish(&s->pf);
}

const int32_t *ll_capture_dump_labels(const ll_capture *c, long *n) {
    const sink *s = c->impl;
    if (s->kind != SINK_DUMP) return NULL;
    if (n) *n = s->written;
    return s->labels;
}

static int tee_on_entry(ll_capture *c, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T, int C) {
    sink *s = c->impl;
    for (int i = 0; i < s->n; i++)
        if (s->sinks[i]->on_entry(s->sinks[i], e, h, tokens, lens, B, T, C) != 0) return -1;
    return 0;
}

/* Device entry: sinks that take device memory get it as it is; the host
 * sinks share one download. */
static int tee_on_entry_device(ll_capture *c, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                               int T, int C) {
    sink *s = c->impl;
    int downloaded = 0;
    for (int i = 0; i < s->n; i++) {
        ll_capture *k = s->sinks[i];
        if (k->on_entry_device) {
            if (k->on_entry_device(k, e, h, tokens, lens, B, T, C) != 0) return -1;
            continue;
        }
        if (!downloaded) {
            size_t n = (size_t)B * T * C;
            if (n > s->hcap) {
                free(s->hbuf);
                s->hbuf = ll_xmalloc_aligned(n * sizeof(float));
                s->hcap = n;
            }
            s->ops->download(s->ctx, s->hbuf, h, n * sizeof(float));
            if (s->ops->sync && s->ops->sync(s->ctx) != 0) return -1;
            downloaded = 1;
        }
        if (k->on_entry(k, e, s->hbuf, tokens, lens, B, T, C) != 0) return -1;
    }
    return 0;
}

ll_capture *ll_capture_tee_new_backend(ll_capture **sinks, int n, const ll_ops *ops, void *ctx) {
    ll_capture *c = ll_capture_tee_new(sinks, n);
    if (ops && !ops->host_memory) {
        sink *s = c->impl;
        s->ops = ops;
        s->ctx = ctx;
        c->on_entry_device = tee_on_entry_device;
    }
    return c;
}

ll_capture *ll_capture_tee_new(ll_capture **sinks, int n) {
    sink *s = ll_xcalloc(1, sizeof *s);
    s->kind = SINK_TEE;
    s->sinks = ll_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *sinks);
    memcpy(s->sinks, sinks, (size_t)n * sizeof *sinks);
    s->n = n;
    ll_capture *c = ll_xcalloc(1, sizeof *c);
    c->impl = s;
    c->on_entry = tee_on_entry;
    return c;
}

void ll_capture_free(ll_capture *c) {
    if (!c) return;
    sink *s = c->impl;
    if (s) {
        if (s->kind == SINK_DUMP && s->fd >= 0) ll_private_discard(&s->pf);
        free(s->labels);
        free(s->X); free(s->y); free(s->fid); free(s->sel); free(s->sinks); free(s->hbuf);
        free(s);
    }
    free(c);
}
