/* The C ABI of the Python package (layerlaw_api.h): streaming statistics with
 * the arithmetic of `layerlaw fit` (host/pipeline/fit.c: rows to float64,
 * blocks of --batch-rows examples, ll_normalize_rows, ll_stats_add per entry,
 * ll_stats_solve), the law, and the result files. */
#include "api/layerlaw_api.h"
#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend.h"
#include "backend/backend_info.h"
#include "core/ll_util.h"
#include "probe/probe.h"
#include "report/plot.h"
#include "report/report.h"

struct ll_api_stats {
    ll_stats *st;
    int E, d, norm_last, threads;
    ll_norm norm;
    double eps;
    long batch;     /* rows per folded block (fit's --batch-rows) */
    long pending;   /* rows of the block in progress */
    long count;     /* examples added */
    double **blk;   /* [E][batch*d], allocated at the first add */
    double *ylab;   /* [batch] */
    /* device statistics (ll_api_stats_add_device): the CUDA backend's probe */
    ll_backend *dev_b;
    ll_capture *dev_c;
    int dev_device;
    int32_t *dev_tok; /* [batch] */
};

/* ---- warnings: kept until the binding takes them ---- */
static pthread_mutex_t g_wmu = PTHREAD_MUTEX_INITIALIZER;
static char g_warn[8192];
static size_t g_wlen;

static void keep_warning(const char *line, void *ud) {
    (void)ud;
    pthread_mutex_lock(&g_wmu);
    size_t n = strlen(line);
    if (g_wlen + n + 2 < sizeof g_warn) {
        memcpy(g_warn + g_wlen, line, n);
        g_wlen += n;
        g_warn[g_wlen++] = '\n';
        g_warn[g_wlen] = 0;
    }
    pthread_mutex_unlock(&g_wmu);
}
static void enter(void) { ll_set_warn_handler(keep_warning, NULL); }

size_t ll_api_take_warnings(char *buf, size_t cap) {
    pthread_mutex_lock(&g_wmu);
    size_t n = g_wlen;
    if (buf && cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(buf, g_warn, k);
        buf[k] = 0;
    }
    g_wlen = 0;
    g_warn[0] = 0;
    pthread_mutex_unlock(&g_wmu);
    return n;
}

int ll_api_version(void) { return LL_API_VERSION; }
const char *ll_api_layerlaw_version(void) { return LL_VERSION; }
int ll_api_cuda_compiled(void) { return ll_cuda_compiled(); }
const char *ll_api_last_error(void) { return ll_last_error(); }

static int nthreads(int threads) { return threads > 0 ? threads : omp_get_num_procs(); }

ll_api_stats *ll_api_stats_new(int E, int d, int norm, double eps, int norm_last, long batch_rows, int threads) {
    enter();
    if (norm < LL_NORM_NONE || norm > LL_NORM_STANDARDIZE) { ll_set_error("statistics: unknown norm %d", norm); return NULL; }
    if (batch_rows < 1 || batch_rows > (1L << 24)) { ll_set_error("statistics: batch_rows %ld outside 1..16777216", batch_rows); return NULL; }
    if (!(eps >= 0 && eps <= 1)) { ll_set_error("statistics: eps %g outside [0, 1]", eps); return NULL; }
    ll_stats *st = ll_stats_new(E, d, LL_TARGET_ID, 0);
    if (!st) return NULL;
    ll_api_stats *s = ll_xcalloc(1, sizeof *s);
    s->st = st;
    s->E = E; s->d = d; s->norm = (ll_norm)norm; s->eps = eps; s->norm_last = norm_last != 0;
    s->batch = batch_rows;
    s->threads = nthreads(threads);
    /* as fit: the ones direction is deflated on the entries a centring norm touched */
    for (int e = 0; e < E; e++)
        st->ones_null[e] = (s->norm == LL_NORM_LAYERNORM || s->norm == LL_NORM_STANDARDIZE) && (e < E - 1 || s->norm_last);
    return s;
}

void ll_api_stats_free(ll_api_stats *s) {
    if (!s) return;
    if (s->blk)
        for (int e = 0; e < s->E; e++) free(s->blk[e]);
    free(s->blk);
    free(s->ylab);
    if (s->dev_c) s->dev_b->probe_free(s->dev_c);
    if (s->dev_b) ll_backend_close(s->dev_b);
    free(s->dev_tok);
    ll_stats_free(s->st);
    free(s);
}

long ll_api_stats_count(const ll_api_stats *s) { return s ? s->count : 0; }

static double elem(int dtype, const char *p, size_t j) {
    switch (dtype) {
    case LL_API_F32: return ((const float *)p)[j];
    case LL_API_F64: return ((const double *)p)[j];
    case LL_API_F16: return ll_f16_to_f32(((const uint16_t *)p)[j]);
    default: return ll_bf16_to_f32(((const uint16_t *)p)[j]);
    }
}
static size_t elem_size(int dtype) { return dtype == LL_API_F32 ? 4 : dtype == LL_API_F64 ? 8 : 2; }

/* Normalises and folds rows [0, nb) of blk (entry e) into st: fit's loop body. */
static void fold_block(const ll_api_stats *s, ll_stats *st, double **blk, const double *y, long nb) {
    int nt = s->threads < s->E ? s->threads : s->E;
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int e = 0; e < s->E; e++) {
        int apply = e < s->E - 1 || s->norm_last;
        ll_normalize_rows(blk[e], nb, s->d, apply ? s->norm : LL_NORM_NONE, s->eps);
        ll_stats_add(st, e, blk[e], y, nb);
    }
    openblas_set_num_threads(saved);
}

int ll_api_stats_add(ll_api_stats *s, int dtype, const void *const *base, const int64_t *row_stride,
                     const int64_t *labels, long n) {
    enter();
    if (!s || !base || !row_stride || (n > 0 && !labels) || n < 0) { ll_set_error("statistics: bad arguments to add"); return -1; }
    if (dtype < LL_API_F32 || dtype > LL_API_BF16) { ll_set_error("statistics: unknown dtype %d", dtype); return -1; }
    if (n == 0) return 0;
    const int E = s->E, d = s->d;
    const size_t es = elem_size(dtype);
    /* every value checked before anything changes */
    long bad_i = -1;
    int bad_e = 0;
    int nt = s->threads < E ? s->threads : E;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int e = 0; e < E; e++) {
        for (long i = 0; i < n; i++) {
            const char *row = (const char *)base[e] + (size_t)i * (size_t)row_stride[e] * es;
            int ok = 1;
            for (int j = 0; j < d && ok; j++) ok = isfinite(elem(dtype, row, (size_t)j));
            if (!ok) {
#pragma omp critical
                if (bad_i < 0 || i < bad_i || (i == bad_i && e < bad_e)) { bad_i = i; bad_e = e; }
                break;
            }
        }
    }
    if (bad_i >= 0) {
        ll_set_error("example %ld, entry %d: non-finite value (NaN or Inf)", bad_i, bad_e);
        return -2;
    }
    if (!s->blk) {
        size_t cells;
        if (ll_mul3_size((size_t)s->batch, (size_t)d, sizeof(double), &cells)) { ll_set_error("statistics: block too large"); return -1; }
        s->blk = calloc((size_t)E, sizeof(double *));
        s->ylab = malloc((size_t)s->batch * sizeof(double));
        int fail = !s->blk || !s->ylab;
        for (int e = 0; e < E && !fail; e++) fail = !(s->blk[e] = malloc(cells));
        if (fail) {
            if (s->blk)
                for (int e = 0; e < E; e++) free(s->blk[e]);
            free(s->blk); free(s->ylab);
            s->blk = NULL; s->ylab = NULL;
            ll_set_error("statistics: out of memory for a block of %ld rows x %d entries x %d features (lower batch_rows)",
                         s->batch, E, d);
            return -1;
        }
    }
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    for (long i0 = 0; i0 < n;) {
        long m = LL_MIN(s->batch - s->pending, n - i0);
        const long p = s->pending;
        const int full = p + m == s->batch;
        for (long i = 0; i < m; i++) s->ylab[p + i] = (double)labels[i0 + i];
        /* each entry's rows converted into its block and, when the block is
         * full, normalised and folded by the same thread (fit's loop body) */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int e = 0; e < E; e++) {
            for (long i = 0; i < m; i++) {
                const char *row = (const char *)base[e] + (size_t)(i0 + i) * (size_t)row_stride[e] * es;
                double *dst = s->blk[e] + (size_t)(p + i) * d;
                if (dtype == LL_API_F32) {
                    const float *r = (const float *)row;
                    for (int j = 0; j < d; j++) dst[j] = r[j];
                } else if (dtype == LL_API_F64) {
                    memcpy(dst, row, (size_t)d * sizeof(double));
                } else {
                    for (int j = 0; j < d; j++) dst[j] = elem(dtype, row, (size_t)j);
                }
            }
            if (full) {
                int apply = e < E - 1 || s->norm_last;
                ll_normalize_rows(s->blk[e], s->batch, d, apply ? s->norm : LL_NORM_NONE, s->eps);
                ll_stats_add(s->st, e, s->blk[e], s->ylab, s->batch);
            }
        }
        s->pending = full ? 0 : p + m;
        s->count += m;
        i0 += m;
    }
    openblas_set_num_threads(saved);
    return 0;
}

/* a copy of s's statistics with the block in progress folded in (s unchanged) */
static ll_stats *folded_copy(const ll_api_stats *s) {
    ll_stats *c = ll_stats_new(s->E, s->d, LL_TARGET_ID, 0);
    if (!c) return NULL;
    size_t len = ll_stats_pack_len(s->st);
    double *buf = malloc(len * sizeof(double));
    if (!buf) { ll_stats_free(c); ll_set_error("statistics: out of memory copying the statistics"); return NULL; }
    ll_stats_pack(s->st, buf);
    int rc = ll_stats_unpack(c, buf, len);
    free(buf);
    if (rc != 0) { ll_stats_free(c); return NULL; }
    if (s->pending > 0) {
        double **tmp = calloc((size_t)s->E, sizeof(double *));
        int fail = !tmp;
        for (int e = 0; e < s->E && !fail; e++) {
            tmp[e] = malloc((size_t)s->pending * s->d * sizeof(double));
            if (!tmp[e]) fail = 1;
            else memcpy(tmp[e], s->blk[e], (size_t)s->pending * s->d * sizeof(double));
        }
        if (!fail) fold_block(s, c, tmp, s->ylab, s->pending);
        if (tmp)
            for (int e = 0; e < s->E; e++) free(tmp[e]);
        free(tmp);
        if (fail) { ll_stats_free(c); ll_set_error("statistics: out of memory copying the block in progress"); return NULL; }
    }
    if (s->dev_c) { /* the device statistics, downloaded and merged */
        ll_stats *h = ll_stats_new(s->E, s->d, LL_TARGET_ID, 0);
        if (!h) { ll_stats_free(c); return NULL; }
        int rc = s->dev_b->probe_get_stats(s->dev_c, h);
        if (rc == 0) rc = ll_stats_merge(c, h);
        ll_stats_free(h);
        if (rc != 0) { ll_stats_free(c); return NULL; }
    }
    return c;
}

int ll_api_stats_add_device(ll_api_stats *s, int device, const void *const *base, const int64_t *labels, long n) {
    enter();
    if (!s || !base || (n > 0 && !labels) || n < 0) { ll_set_error("statistics: bad arguments to add"); return -1; }
    if (n == 0) return 0;
    for (long i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] > INT32_MAX) {
            ll_set_error("labels: token id %lld of example %ld outside 0..2147483647 (the device statistics)",
                         (long long)labels[i], i);
            return -2;
        }
    if (!s->dev_c) {
        ll_backend_choice ch;
        if (ll_backend_select("cuda", "fp32", device, &ch) != 0) return -1;
        ll_backend *b = ll_backend_open(&ch, s->threads);
        if (!b) return -1;
        ll_probe_opts o;
        memset(&o, 0, sizeof o);
        o.E = s->E; o.d = s->d; o.target = LL_TARGET_ID; o.K = 0; o.max_rows = s->batch;
        /* one "sequence" of n rows whose token at j is example j's label: position current */
        o.pos = LL_POS_CURRENT; o.norm = s->norm; o.eps = s->eps; o.norm_last = s->norm_last;
        ll_capture *c = b->probe_new(b, &o);
        if (!c) { ll_backend_close(b); return -1; }
        if (!c->on_entry_device) {
            b->probe_free(c);
            ll_backend_close(b);
            ll_set_error("statistics: the backend has no device statistics");
            return -1;
        }
        s->dev_b = b; s->dev_c = c; s->dev_device = device;
        s->dev_tok = ll_xmalloc((size_t)s->batch * sizeof(int32_t));
    } else if (device != s->dev_device) {
        ll_set_error("statistics: features on CUDA device %d, the statistics are on device %d", device, s->dev_device);
        return -2;
    }
    for (long i0 = 0; i0 < n; i0 += s->batch) {
        int m = (int)LL_MIN(s->batch, n - i0);
        for (int i = 0; i < m; i++) s->dev_tok[i] = (int32_t)labels[i0 + i];
        int len = m;
        for (int e = 0; e < s->E; e++) /* every entry of a batch, in order (the sink waits at the last) */
            if (s->dev_c->on_entry_device(s->dev_c, e, (const float *)base[e] + (size_t)i0 * s->d, s->dev_tok, &len, 1, m,
                                          s->d) != 0)
                return -1;
        s->count += m;
    }
    return 0;
}

int ll_api_stats_merge(ll_api_stats *dst, const ll_api_stats *src) {
    enter();
    if (!dst || !src) { ll_set_error("statistics: bad arguments to merge"); return -1; }
    if (dst == src) { ll_set_error("statistics: cannot merge statistics into themselves"); return -1; }
    if (dst->E != src->E || dst->d != src->d || dst->norm != src->norm || dst->norm_last != src->norm_last ||
        dst->eps != src->eps) {
        ll_set_error("statistics: merge of different shapes or norms (E=%d d=%d %s vs E=%d d=%d %s)", dst->E, dst->d,
                     ll_norm_name(dst->norm), src->E, src->d, ll_norm_name(src->norm));
        return -2;
    }
    ll_stats *c = folded_copy(src);
    if (!c) return -1;
    if (dst->pending > 0) {
        fold_block(dst, dst->st, dst->blk, dst->ylab, dst->pending);
        dst->pending = 0;
    }
    int rc = ll_stats_merge(dst->st, c);
    ll_stats_free(c);
    if (rc == 0) dst->count += src->count;
    return rc;
}

int ll_api_stats_solve(const ll_api_stats *s, double ridge, double *out) {
    enter();
    if (!s || !out) { ll_set_error("statistics: bad arguments to solve"); return -1; }
    if (!(ridge >= 0 && ridge <= 1e300)) { ll_set_error("ridge %g: must be >= 0", ridge); return -2; }
    if (s->count < 2) { ll_set_error("need at least 2 examples, have %ld", s->count); return -2; }
    ll_stats *c = folded_copy(s);
    if (!c) return -1;
    ll_probe_result *res = calloc((size_t)s->E, sizeof *res);
    if (!res) { ll_stats_free(c); ll_set_error("statistics: out of memory"); return -1; }
    int rc = ll_stats_solve(c, ridge, s->threads, res);
    ll_stats_free(c);
    for (int e = 0; e < s->E && rc == 0; e++)
        if (!(res[e].tss > 0)) { ll_set_error("labels are constant: PR undefined"); rc = -2; }
    if (rc == 0)
        for (int e = 0; e < s->E; e++) {
            double *o = out + (size_t)e * 5;
            o[0] = res[e].pr; o[1] = res[e].rss; o[2] = res[e].tss; o[3] = res[e].n; o[4] = res[e].rank;
        }
    free(res);
    return rc;
}

size_t ll_api_stats_pack_len(const ll_api_stats *s) { return s ? ll_stats_pack_len(s->st) : 0; }

int ll_api_stats_pack(const ll_api_stats *s, double *buf) {
    enter();
    ll_stats *c = folded_copy(s);
    if (!c) return -1;
    ll_stats_pack(c, buf);
    ll_stats_free(c);
    return 0;
}

int ll_api_stats_unpack(ll_api_stats *s, const double *buf, size_t len) {
    enter();
    if (!s || s->count || s->pending) { ll_set_error("statistics: unpack into statistics that are not new"); return -1; }
    if (ll_stats_unpack(s->st, buf, len) != 0) return -2;
    double n = 0;
    for (int e = 0; e < s->E; e++) n = s->st->n[e] > n ? s->st->n[e] : n;
    s->count = (long)n;
    return 0;
}

static void law_out(const ll_law *l, double *law) {
    law[0] = l->first_entry; law[1] = l->n_points; law[2] = l->slope; law[3] = l->intercept;
    law[4] = l->r2; law[5] = l->pearson_r; law[6] = l->decay_ratio; law[7] = l->overall_ratio;
}

int ll_api_law_fit(const double *pr, int E, int first, double *law) {
    enter();
    ll_law l;
    if (E - first < 2 || first < 0) {
        ll_set_error("%d entries: a law fit from entry %d needs at least %d entries", E, first, first + 2);
        return -2;
    }
    if (ll_law_fit(pr, E, first, &l) != 0) return -1;
    law_out(&l, law);
    return 0;
}

int ll_api_write(const char *outdir, const double *res, int E, int fit_from, long n_examples, int dim,
                 const char *config_json, const char *extra_json, int figure) {
    enter();
    if (!outdir || !res || E < 1) { ll_set_error("write: bad arguments"); return -1; }
    if (ll_report_check_outdir(outdir) != 0) return -1;
    cJSON *cfg = config_json ? cJSON_Parse(config_json) : NULL;
    cJSON *extra = extra_json ? cJSON_Parse(extra_json) : NULL;
    if ((config_json && !cJSON_IsObject(cfg)) || (extra_json && !cJSON_IsObject(extra))) {
        cJSON_Delete(cfg); cJSON_Delete(extra);
        ll_set_error("%s: config and extra must be JSON objects", outdir);
        return -1;
    }
    ll_probe_result *r = ll_xcalloc((size_t)E, sizeof *r);
    double *pr = ll_xmalloc((size_t)E * sizeof(double));
    for (int e = 0; e < E; e++) {
        const double *o = res + (size_t)e * 5;
        r[e].pr = o[0]; r[e].rss = o[1]; r[e].tss = o[2]; r[e].n = o[3]; r[e].rank = (int)o[4];
        pr[e] = o[0];
    }
    ll_law law;
    int have_law = fit_from >= 0 && E - fit_from >= 2 && ll_law_fit(pr, E, fit_from, &law) == 0;
    int rc = ll_report_write(outdir, r, E, have_law ? &law : NULL, n_examples, dim, cfg, extra);
    free(r);
    free(pr);
    if (rc == 0 && figure && have_law) {
        int frc = ll_plot_run_figure(outdir);
        if (frc == 1) ll_warn("no figure drawn (gnuplot is not installed: apt-get install gnuplot-nox)");
        else if (frc < 0) ll_warn("no figure drawn: %s", ll_last_error());
    }
    return rc;
}

int ll_api_write_files(const char *dir, int n, const char *const *names, const void *const *data, const size_t *lens) {
    enter();
    return ll_write_files_atomic(dir, n, names, data, lens);
}

int ll_api_figure(const char *outdir) {
    enter();
    return ll_plot_run_figure(outdir);
}
