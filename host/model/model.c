/* HF checkpoint loading: config.json → ll_model_config, the family's tensor
 * declarations → one arena filled from safetensors (F32/F16/BF16/F64 →
 * F32, GPT-2 Conv1D transposed), and the forward dispatch. */
#include "model/model.h"
#include "model/weights.h"
#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "capture/capture.h"
#include "core/ll_util.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "backend/oom.h"
#include "model/config.h"
#include "probe/probe.h" /* ll_splitmix64 */

/* ---- config.json: the generic part; the family reads its own keys ---- */
static int parse_config_root(ll_model *m, cJSON *root, const char *path, const ll_family **famp);
static int parse_config(ll_model *m, const char *dir, const ll_family **famp) {
    char path[4096];
    ll_path_join(path, sizeof path, dir, "config.json");
    cJSON *root = ll_json_load(path);
    if (!root) return -1;
    if (!cJSON_IsObject(root)) {
        ll_set_error("%s: not a JSON object", path);
        cJSON_Delete(root);
        return -1;
    }
    int rc = parse_config_root(m, root, path, famp);
    cJSON_Delete(root);
    return rc;
}

/* config.json's object, or the one a GGUF file's metadata gives (path names it in errors) */
static int parse_config_root(ll_model *m, cJSON *root, const char *path, const ll_family **famp) {
    ll_config rd = {root, path, 0}, *r = &rd;
    int rc = -1;
    ll_model_config *c = &m->cfg;
    memset(c, 0, sizeof *c);
    cJSON *mt = ll_cfg_item(r, "model_type");
    if (!mt || !cJSON_IsString(mt)) {
        ll_set_error("%s: missing key 'model_type'", path);
        goto done;
    }
    const ll_family *fam = ll_family_find(mt->valuestring);
    if (!fam) {
        ll_set_error("%s: unknown model_type '%s' (supported: %s)", path, mt->valuestring, ll_family_supported());
        goto done;
    }
    snprintf(c->model_type, sizeof c->model_type, "%s", mt->valuestring);
    c->attn_scale_mult = 1.0;
    m->family = fam;
    *famp = fam;
    if (fam->parse_config(m, r) != 0 || ll_cfg_ok(r) != 0) goto done;
    /* what every family must have produced */
    if (c->d_model <= 0 || c->n_layer <= 0 || c->vocab <= 0 || c->d_ff < 0) {
        ll_set_error("%s: hidden size, layer count and vocab_size must be positive", path);
        goto done;
    }
    if (!(c->norm_eps >= 0) || !isfinite(c->norm_eps)) {
        ll_set_error("%s: norm epsilon %g (must be a non-negative number)", path, c->norm_eps);
        goto done;
    }
    m->stage_first = 0;
    m->stage_end = c->n_layer;
    rc = 0;
done:
    return rc;
}

/* ---- the loader ---- */
typedef struct {
    ll_weight *dst;
    const ll_st_tensor *t; /* NULL: scratch (zeros) or synthetic (random) */
    int flags;
    ll_dtype dtype;
    int64_t rows, cols;
    size_t off, bytes;
    char *synth_name; /* synthetic: the tensor's name (seeds its values) */
    int synth_ndim;
    int bad; /* set by fill: a non-finite value */
    int top; /* a model-level tensor (not bound for a layer) */
} ld_req;

struct ll_loader {
    ll_model *m;
    ll_safetensors st;
    const char *where;  /* file name used in errors */
    const char *prefix; /* the checkpoint's model prefix ("" or family->hf_prefix) */
    int keep_half;
    int synthetic; /* no tensor store: every wanted tensor is made up */
    uint64_t seed;
    unsigned char *claimed; /* [st.n_tensors] */
    int cur_layer;     /* the layer ll_bind is binding (-1: model-level) */
    int skipping;      /* the tensor being bound is another stage's layer's: check, do not load */
    ld_req *reqs;
    int n, cap;
};

static ld_req *ld_push(ll_loader *ld) {
    if (ld->n == ld->cap) {
        ld->cap = ld->cap ? 2 * ld->cap : 64;
        ld->reqs = ll_xrealloc(ld->reqs, sizeof(ld_req) * ld->cap);
    }
    ld_req *q = &ld->reqs[ld->n++];
    memset(q, 0, sizeof *q);
    q->top = ld->cur_layer < 0;
    return q;
}

int ll_loader_has(const ll_loader *ld, const char *name) { return !ld->synthetic && ll_st_find(&ld->st, name) != NULL; }

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *s) {
    size_t k = 0;
    k += snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++) k += snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

static void req_layout(ll_loader *ld, ld_req *q, int ndim, const int64_t *shape, int flags, int64_t numel,
                       ll_st_dtype file_dtype) {
    q->flags = flags;
    if (ndim <= 1) { q->rows = ndim ? shape[0] : 1; q->cols = 1; }
    else if (ndim == 2 && (flags & LL_LOAD_TRANSPOSE)) { q->rows = shape[1]; q->cols = shape[0]; }
    else { q->rows = shape[0]; q->cols = numel / (shape[0] ? shape[0] : 1); }
    q->dtype = LL_DT_F32;
    if (ld->keep_half && ndim >= 2 && !(flags & LL_LOAD_F32)) {
        if (file_dtype == LL_ST_F16) q->dtype = LL_DT_F16;
        if (file_dtype == LL_ST_BF16) q->dtype = LL_DT_BF16;
    }
    q->bytes = (size_t)numel * ll_dtype_size(q->dtype);
}

int ll_loader_want(ll_loader *ld, ll_weight *dst, const char *name, int ndim, const int64_t *shape, int flags) {
    memset(dst, 0, sizeof *dst);
    if (ld->synthetic) {
        if (flags & LL_LOAD_OPTIONAL) return 0; /* the config did not ask for it */
        if (ld->skipping) return 0;             /* another stage's layer */
        int64_t numel = 1;
        for (int i = 0; i < ndim; i++) numel *= shape[i];
        ld_req *q = ld_push(ld);
        q->dst = dst;
        q->synth_name = ll_xstrdup(name);
        q->synth_ndim = ndim;
        req_layout(ld, q, ndim, shape, flags, numel, LL_ST_BF16);
        return 0;
    }
    const ll_st_tensor *t = ll_st_find(&ld->st, name);
    if (!t) {
        if (flags & LL_LOAD_OPTIONAL) return 0;
        ll_set_error("%s: tensor '%s' is missing", ld->where, name);
        return -1;
    }
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char a[128], b[128];
        fmt_shape(a, sizeof a, t->ndim, t->shape);
        fmt_shape(b, sizeof b, ndim, shape);
        ll_set_error("%s: tensor '%s' has shape %s, expected %s", ld->where, name, a, b);
        return -1;
    }
    if (t->dtype != LL_ST_F32 && t->dtype != LL_ST_F16 && t->dtype != LL_ST_BF16 && t->dtype != LL_ST_F64) {
        ll_set_error("%s: tensor '%s' has dtype %s (expected F32, F16 or BF16)", ld->where, name,
                     ll_st_dtype_name(t->dtype));
        return -1;
    }
    ld->claimed[t - ld->st.tensors] = 1;
    if (ld->skipping) return 0; /* another stage's layer: checked, not loaded */
    ld_req *q = ld_push(ld);
    q->dst = dst;
    q->t = t;
    req_layout(ld, q, ndim, shape, flags, t->numel, t->dtype);
    return 0;
}

int ll_loader_wantf(ll_loader *ld, ll_weight *dst, int ndim, const int64_t *shape, int flags, const char *fmt, ...) {
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ll_loader_want(ld, dst, name, ndim, shape, flags);
}

int ll_bind(ll_loader *ld, ll_weight *dst, const ll_tensor_role *role, int layer, int ndim, const int64_t *shape,
            int flags) {
    char tail[480];
    if (layer >= 0) snprintf(tail, sizeof tail, role->hf, layer);
    else snprintf(tail, sizeof tail, "%s", role->hf);
    ld->cur_layer = layer;
    ld->skipping = layer >= 0 && !ll_model_layer_loaded(ld->m, layer);
    int rc = ll_loader_wantf(ld, dst, ndim, shape, flags, "%s%s", role->top ? "" : ld->prefix, tail);
    ld->cur_layer = -1;
    ld->skipping = 0;
    return rc;
}

void ll_loader_scratch(ll_loader *ld, ll_weight *dst, int64_t n) {
    memset(dst, 0, sizeof *dst);
    ld_req *q = ld_push(ld);
    q->dst = dst;
    q->rows = n;
    q->cols = 1;
    q->dtype = LL_DT_F32;
    q->bytes = sizeof(float) * (size_t)(n > 0 ? n : 1);
}

/* 1 if every value is finite (F32, or the raw bits of F16/BF16). */
static int all_finite(const void *p, ll_dtype dt, size_t n) {
    if (dt == LL_DT_F32) {
        const uint32_t *u = p;
        uint32_t bad = 0;
        for (size_t i = 0; i < n; i++) bad |= ((u[i] & 0x7f800000u) == 0x7f800000u);
        return !bad;
    }
    const uint16_t *h = p;
    const uint16_t mask = dt == LL_DT_F16 ? 0x7c00 : 0x7f80;
    uint16_t bad = 0;
    for (size_t i = 0; i < n; i++) bad |= ((h[i] & mask) == mask);
    return !bad;
}

/* Synthetic values: uniform with std 1/sqrt(fan_in) for matrices (fan_in =
 * elements per row), 1 for 1-D "*.weight" tensors (norm weights), uniform
 * with std 0.1/sqrt(n) for other vectors; seeded by (seed, name). */
static void fill_synthetic(const ld_req *q, void *out, uint64_t seed) {
    uint64_t st = seed;
    for (const char *c = q->synth_name; *c; c++) st = (st ^ (unsigned char)*c) * 0x100000001b3ull;
    const size_t n = (size_t)q->rows * (size_t)q->cols;
    const size_t len = strlen(q->synth_name);
    const int ones = q->synth_ndim == 1 && len > 7 && !strcmp(q->synth_name + len - 7, ".weight");
    const double fan = q->synth_ndim >= 2 ? (double)q->cols : (double)n;
    const float a = (float)(sqrt(3.0 / (fan > 0 ? fan : 1)) * (q->synth_ndim >= 2 ? 1.0 : 0.1));
    for (size_t i = 0; i < n; i++) {
        float v = 1.0f;
        if (!ones) {
            uint64_t r = ll_splitmix64(&st);
            v = a * (float)((double)(r >> 11) * (2.0 / 9007199254740992.0) - 1.0);
        }
        if (q->dtype == LL_DT_F32) ((float *)out)[i] = v;
        else ((uint16_t *)out)[i] = ll_f32_to_bf16(v);
    }
}

static void fill_req(ld_req *q, char *arena, uint64_t seed) {
    void *out = arena + q->off;
    const ll_st_tensor *t = q->t;
    if (!t) {
        if (q->synth_name) fill_synthetic(q, out, seed);
        else memset(out, 0, q->bytes);
        return;
    }
    if (q->dtype != LL_DT_F32) { memcpy(out, t->data, q->bytes); }
    else if (q->flags & LL_LOAD_TRANSPOSE) {
        /* stored [in = cols, out = rows] → [rows, cols], in tiles of 64×64 */
        const int64_t in = q->cols, o = q->rows, TB = 64;
        float *tmp = ll_xmalloc(sizeof(float) * (size_t)(TB * o));
        float *dst = out;
        for (int64_t i0 = 0; i0 < in; i0 += TB) {
            const int64_t bi = LL_MIN(TB, in - i0);
            ll_st_to_f32(t, i0 * o, bi * o, tmp);
            for (int64_t j0 = 0; j0 < o; j0 += TB) {
                const int64_t bj = LL_MIN(TB, o - j0);
                for (int64_t j = j0; j < j0 + bj; j++)
                    for (int64_t i = 0; i < bi; i++) dst[j * in + i0 + i] = tmp[i * o + j];
            }
        }
        free(tmp);
    } else {
        ll_st_to_f32(t, 0, t->numel, out);
    }
    q->bad = !all_finite(out, q->dtype, (size_t)t->numel);
    /* the source pages are not needed any more: drop them from this
     * process's resident set (file-backed, read-only: re-read if touched) */
    if (t->file < 0) return; /* a buffer the store owns (dequantised GGUF data): not file-backed */
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)t->data & ~(uintptr_t)(pg - 1), b = (uintptr_t)t->data + t->nbytes;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

static int build_arena(ll_model *m, ll_loader *ld) {
    size_t total = 0;
    for (int i = 0; i < ld->n; i++) {
        ld->reqs[i].off = total;
        total += (ld->reqs[i].bytes + 63) & ~(size_t)63;
    }
    m->arena = ll_xmalloc_aligned(total ? total : 64);
    m->arena_bytes = total;
    m->slots = ll_xmalloc(sizeof(ll_weight *) * (ld->n ? ld->n : 1));
    m->n_slots = ld->n;
    size_t np = 0, np_top = 0;
    const uint64_t seed = ld->seed;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : np, np_top)
    for (int i = 0; i < ld->n; i++) {
        fill_req(&ld->reqs[i], m->arena, seed);
        size_t k = 0;
        if (ld->reqs[i].t) k = (size_t)ld->reqs[i].t->numel;
        else if (ld->reqs[i].synth_name) k = (size_t)(ld->reqs[i].rows * ld->reqs[i].cols);
        np += k;
        if (ld->reqs[i].top) np_top += k;
    }
    m->n_params = np;
    m->n_params_top = np_top;
    for (int i = 0; i < ld->n; i++) {
        ld_req *q = &ld->reqs[i];
        q->dst->data = (char *)m->arena + q->off;
        q->dst->dtype = q->dtype;
        q->dst->rows = q->rows;
        q->dst->cols = q->cols;
        m->slots[i] = q->dst;
    }
    for (int i = 0; i < ld->n; i++)
        if (ld->reqs[i].bad) {
            ll_set_error("%s: tensor '%s' has non-finite values (inf or nan)", ld->where, ld->reqs[i].t->name);
            return -1;
        }
    return 0;
}

/* After bind: every checkpoint tensor must have been claimed by a role,
 * unless the family names it harmless. */
static int check_unclaimed(const ll_model *m, const ll_loader *ld) {
    for (int i = 0; i < ld->st.n_tensors; i++) {
        if (ld->claimed[i]) continue;
        const char *name = ld->st.tensors[i].name;
        const char *bare = name;
        size_t pl = strlen(ld->prefix);
        if (pl && !strncmp(name, ld->prefix, pl)) bare = name + pl;
        if (m->family->harmless && (m->family->harmless(name) || m->family->harmless(bare))) continue;
        ll_set_error("%s: tensor '%s' is not used by the %s model", ld->where, name, m->cfg.model_type);
        return -1;
    }
    return 0;
}

static void loader_free(ll_loader *ld) {
    if (!ld->synthetic) ll_st_close(&ld->st);
    for (int i = 0; i < ld->n; i++) free(ld->reqs[i].synth_name);
    free(ld->reqs);
    free(ld->claimed);
}

/* config → model (shared by ll_model_load_ex and ll_model_synthetic) */
static ll_model *new_model(const char *dir) {
    ll_model *m = ll_xcalloc(1, sizeof *m);
    m->dir = ll_xstrdup(dir);
    const ll_family *fam = NULL;
    if (parse_config(m, dir, &fam) != 0) {
        ll_model_free(m);
        return NULL;
    }
    return m;
}

/* The layer range of ll_load_opts (both 0: all), checked. */
static int set_layer_range(ll_model *m, ll_loader *ld, const ll_load_opts *opts) {
    const int L = m->cfg.n_layer;
    int first = opts ? opts->layer_first : 0, end = opts ? opts->layer_end : 0;
    if (opts && opts->n_stages > 1) {
        const int S = opts->n_stages, k = opts->stage;
        if (S > L) {
            ll_set_error("%s: %d stages for %d layers (at most one stage per layer)", m->dir, S, L);
            return -1;
        }
        if (k < 0 || k >= S) {
            ll_set_error("%s: stage %d of %d", m->dir, k, S);
            return -1;
        }
        first = (int)((long)k * L / S);
        end = (int)((long)(k + 1) * L / S);
    }
    if (first == 0 && end == 0) end = L;
    if (first < 0 || end <= first || end > L) {
        ll_set_error("%s: layers [%d, %d) are not a range of the model's %d layers", m->dir, first, end, L);
        return -1;
    }
    if ((first > 0 || end < L) && !m->family->layer_split) {
        ll_set_error("%s: the %s family cannot be split into layer stages (layer parallel)", m->dir,
                     m->cfg.model_type);
        return -1;
    }
    m->stage_first = first;
    m->stage_end = end;
    ld->cur_layer = -1;
    return 0;
}

static ll_model *finish_load(ll_model *m, ll_loader *ld, const ll_load_opts *opts) {
    ld->m = m;
    if (set_layer_range(m, ld, opts) != 0) goto fail;
    if (m->family->bind(m, ld) != 0) goto fail;
    if (!ld->synthetic && check_unclaimed(m, ld) != 0) goto fail;
    if (build_arena(m, ld) != 0) goto fail;
    loader_free(ld);
    if (m->family->prepare && m->family->prepare(m) != 0) { ll_model_free(m); return NULL; }
    return m;
fail:
    loader_free(ld);
    ll_model_free(m);
    return NULL;
}

/* The loader on an open tensor store (taken over) for a model whose config
 * is already parsed into m. */
static ll_model *load_store(ll_model *m, ll_safetensors *st, const char *where, const ll_load_opts *opts) {
    ll_loader ld;
    memset(&ld, 0, sizeof ld);
    ld.st = *st;
    memset(st, 0, sizeof *st);
    ld.where = where;
    ld.keep_half = opts ? opts->keep_half : 0;
    ld.claimed = ll_xcalloc((size_t)(ld.st.n_tensors ? ld.st.n_tensors : 1), 1);
    /* the model prefix ("model.", "transformer.", ...) if the checkpoint uses it */
    ld.prefix = "";
    const char *pre = m->family->hf_prefix;
    if (pre && *pre)
        for (int i = 0; i < ld.st.n_tensors; i++)
            if (!strncmp(ld.st.tensors[i].name, pre, strlen(pre))) { ld.prefix = pre; break; }
    return finish_load(m, &ld, opts);
}

ll_model *ll_model_load_st(const char *dir, void *store, const char *where, const ll_load_opts *opts) {
    ll_model *m = new_model(dir);
    if (!m) { ll_st_close(store); return NULL; }
    return load_store(m, store, where, opts);
}

/* A .gguf file (host/io/gguf.h): the config from its metadata, the tensors
 * (dequantised, llama.cpp's conversions undone) renamed to the family's HF
 * names (ll_family_rename_gguf), then the same bind. */
static ll_model *load_gguf(const char *path, const ll_load_opts *opts) {
    ll_safetensors st;
    cJSON *cj;
    const ll_family *fam;
    if (ll_family_load_gguf(path, &st, &cj, &fam)) return NULL;
    cJSON *ga = cJSON_GetObjectItemCaseSensitive(cj, "gguf_architecture");
    ll_model *m = ll_xcalloc(1, sizeof *m);
    m->dir = ll_xstrdup(path);
    const ll_family *pf = NULL;
    int rc = fam ? parse_config_root(m, cj, path, &pf) : -1;
    if (!fam) ll_set_error("%s: no model family for GGUF architecture '%s'", path, cJSON_IsString(ga) ? ga->valuestring : "?");
    else if (rc == 0 && pf != fam) {
        ll_set_error("%s: GGUF architecture '%s' is not the %s family", path, ga->valuestring, pf->model_type);
        rc = -1;
    }
    cJSON_Delete(cj);
    if (rc == 0 && ll_family_rename_gguf(fam, &st, path) != 0) rc = -1;
    if (rc) { ll_model_free(m); ll_st_close(&st); return NULL; }
    return load_store(m, &st, path, opts);
}

ll_model *ll_model_load_ex(const char *dir, const ll_load_opts *opts) {
    if (ll_is_gguf_path(dir)) return load_gguf(dir, opts);
    /* the config first: a bad config is reported before the weights are opened */
    ll_model *probe = new_model(dir);
    if (!probe) return NULL;
    ll_model_free(probe);
    ll_safetensors st;
    if (ll_model_open_weights(&st, dir)) return NULL; /* the format dispatch: model/weights.c */
    char where[4096];
    if (st.n_files == 1) snprintf(where, sizeof where, "%s", st.paths[0]);
    else ll_path_join(where, sizeof where, dir, "model.safetensors.index.json");
    return ll_model_load_st(dir, &st, where, opts);
}

ll_model *ll_model_load(const char *dir) { return ll_model_load_ex(dir, NULL); }

ll_model *ll_model_synthetic(const char *config_json_path, const ll_load_opts *opts, uint64_t seed) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", config_json_path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    if (strcmp(base, "config.json") != 0) {
        ll_set_error("%s: a synthetic model needs a path to a file named config.json", config_json_path);
        return NULL;
    }
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    ll_model *m = new_model(dir);
    if (!m) return NULL;
    ll_loader ld;
    memset(&ld, 0, sizeof ld);
    ld.where = config_json_path;
    ld.synthetic = 1;
    ld.seed = seed;
    ld.keep_half = opts ? opts->keep_half : 0;
    ld.prefix = "";
    return finish_load(m, &ld, opts);
}

void ll_model_free(ll_model *m) {
    if (!m) return;
    if (m->ws && m->dev_ops) m->dev_ops->free(m->dev_ctx, m->ws);
    else if (m->ws) free(m->ws);
    if (m->dev_arena && m->dev_ops) m->dev_ops->free(m->dev_ctx, m->dev_arena);
    free(m->arena);
    free(m->slots);
    free(m->layers);
    free(m->family_data);
    free(m->host_buf);
    free(m->dir);
    free(m);
}

void ll_model_add_slot(ll_model *m, ll_weight *w) {
    m->slots = ll_xrealloc(m->slots, sizeof(ll_weight *) * (m->n_slots + 1));
    m->slots[m->n_slots++] = w;
}

int ll_model_n_entries(const ll_model *m) { return m->cfg.n_layer + 1; }

/* ---- layer (pipeline) parallel ---- */
static int entry_of_layer(const ll_model *m, int l) {
    return m->family->entry_of_layer ? m->family->entry_of_layer(m, l) : l + 1;
}

void ll_model_stage_entries(const ll_model *m, int *e_lo, int *e_hi) {
    const int L = m->cfg.n_layer, first = m->stage_first, end = m->stage_end;
    *e_lo = first <= 0 ? 0 : entry_of_layer(m, first - 1) + 1;
    *e_hi = end >= L ? L : entry_of_layer(m, end - 1);
}

int ll_model_layer_loaded(const ll_model *m, int l) { return l >= m->stage_first && l < m->stage_end; }

int ll_model_stage_begin(ll_model *m, const ll_ops *ops, void *ctx, float *x, size_t n) {
    if (m->stage_first == 0) return 0;
    if (!m->stage_recv) {
        ll_set_error("%s: layers from %d: no previous stage to receive the hidden states from", m->dir,
                     m->stage_first);
        return -1;
    }
    return m->stage_recv(m->stage_u, ops, ctx, x, n) == 0 ? 1 : -1;
}

int ll_model_stage_after(ll_model *m, const ll_ops *ops, void *ctx, int l, const float *x, size_t n) {
    if (l + 1 != m->stage_end || m->stage_end == m->cfg.n_layer) return 0;
    if (!m->stage_send) {
        ll_set_error("%s: layers up to %d: no next stage to send the hidden states to", m->dir, m->stage_end);
        return -1;
    }
    return m->stage_send(m->stage_u, ops, ctx, x, n) == 0 ? 1 : -1;
}
int ll_model_dim(const ll_model *m) { return m->cfg.d_model; }

ll_norm ll_model_fresh_norm(const ll_model *m, double *eps) {
    if (m->family->fresh_norm) return m->family->fresh_norm(m, eps);
    if (eps) *eps = m->cfg.norm_eps;
    return m->cfg.norm;
}

cJSON *ll_model_describe(const ll_model *m) {
    const ll_model_config *c = &m->cfg;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dir", m->dir);
    cJSON_AddStringToObject(j, "model_type", c->model_type);
    cJSON_AddNumberToObject(j, "n_layers", c->n_layer);
    cJSON_AddNumberToObject(j, "hidden_size", c->d_model);
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab);
    if (m->family->describe) m->family->describe(m, j);
    cJSON_AddStringToObject(j, "norm", ll_norm_name(c->norm));
    cJSON_AddNumberToObject(j, "norm_eps", c->norm_eps);
    cJSON_AddNumberToObject(j, "n_entries", ll_model_n_entries(m));
    cJSON_AddNumberToObject(j, "n_params", (double)m->n_params);
    return j;
}

int ll_model_cost(const ll_model *m, int T, ll_cost *per_entry) {
    const int E = ll_model_n_entries(m);
    memset(per_entry, 0, sizeof(ll_cost) * (size_t)E);
    if (T < 1) { ll_set_error("%s: cost at sequence length %d", m->dir, T); return -1; }
    if (!m->family->cost) { ll_set_error("%s: no cost model for %s", m->dir, m->cfg.model_type); return -1; }
    return m->family->cost(m, T, per_entry);
}

int ll_model_set_embedding_entry(ll_model *m, int on) {
    if (!m->family->set_embedding_entry) {
        ll_set_error("%s: the embedding-entry option does not apply to %s models (entry 0 is the embeddings already)",
                     m->dir, m->cfg.model_type);
        return -1;
    }
    return m->family->set_embedding_entry(m, on);
}

int ll_model_max_positions(const ll_model *m) {
    return m->family->max_positions ? m->family->max_positions(m) : 0;
}

int ll_model_upload(ll_model *m, const ll_ops *ops, void *ctx) {
    if (ops->host_memory) return 0;
    if (m->dev_arena) return 0;
    if (m->ws) { free(m->ws); m->ws = NULL; m->ws_bytes = 0; }
    ll_oom_label("the model weights of %s (%d tensors)", m->dir, m->n_slots);
    void *d = ops->alloc(ctx, m->arena_bytes ? m->arena_bytes : 64);
    ll_oom_label(NULL);
    if (!d) return -1;
    ops->upload(ctx, d, m->arena, m->arena_bytes);
    for (int i = 0; i < m->n_slots; i++)
        if (m->slots[i]->data)
            m->slots[i]->data = (char *)d + ((const char *)m->slots[i]->data - (const char *)m->arena);
    m->dev_arena = d;
    m->dev_ops = ops;
    m->dev_ctx = ctx;
    return ops->sync ? ops->sync(ctx) : 0;
}

void *ll_model_workspace(ll_model *m, const ll_ops *ops, void *ctx, size_t bytes) {
    if (m->ws && m->ws_bytes >= bytes) return m->ws;
    if (m->ws) {
        if (m->dev_ops) m->dev_ops->free(m->dev_ctx, m->ws);
        else free(m->ws);
    }
    if (!ops->host_memory) ll_oom_label("the forward pass's activations");
    m->ws = ops->host_memory ? ll_xmalloc_aligned(bytes) : ops->alloc(ctx, bytes);
    ll_oom_label(NULL);
    m->ws_bytes = m->ws ? bytes : 0;
    return m->ws;
}

double ll_weight_bytes(const ll_weight *w) {
    return w->data ? (double)w->rows * (double)w->cols * (double)ll_dtype_size(w->dtype) : 0;
}

void ll_model_upload_ids(const ll_ops *ops, void *ctx, int32_t *d_ids, const int32_t *tokens, const int *lens, int B,
                         int T) {
    const size_t N = (size_t)B * T;
    int32_t *hid = ll_xmalloc(sizeof(int32_t) * N);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) hid[(size_t)b * T + t] = t < lens[b] ? tokens[(size_t)b * T + t] : 0;
    ops->upload(ctx, d_ids, hid, sizeof(int32_t) * N);
    free(hid);
}

int ll_model_emit(ll_model *m, const ll_ops *ops, void *ctx, ll_capture *cap, int e, const float *h,
                  const int32_t *tokens_host, const int *lens_host, int B, int T) {
    if (!cap) return 0;
    const int C = m->cfg.d_model;
    if (ops->host_memory) return cap->on_entry(cap, e, h, tokens_host, lens_host, B, T, C);
    if (cap->on_entry_device) return cap->on_entry_device(cap, e, h, tokens_host, lens_host, B, T, C);
    size_t n = (size_t)B * T * C;
    if (m->host_buf_n < n) {
        free(m->host_buf);
        m->host_buf = ll_xmalloc_aligned(n * sizeof(float));
        m->host_buf_n = n;
    }
    ops->download(ctx, m->host_buf, h, n * sizeof(float));
    if (ops->sync && ops->sync(ctx) != 0) return -1;
    return cap->on_entry(cap, e, m->host_buf, tokens_host, lens_host, B, T, C);
}

int ll_model_check_batch(const ll_model *m, const int32_t *tokens, const int *lens, int B, int T) {
    if (B <= 0 || T <= 0) { ll_set_error("%s: empty batch", m->dir); return -1; }
    for (int b = 0; b < B; b++) {
        if (lens[b] < 1 || lens[b] > T) {
            ll_set_error("%s: sequence %d has length %d (batch width %d)", m->dir, b, lens[b], T);
            return -1;
        }
        for (int t = 0; t < lens[b]; t++) {
            int32_t id = tokens[(size_t)b * T + t];
            if (id < 0 || id >= m->cfg.vocab) {
                ll_set_error("%s: token id %d (sequence %d, position %d) is outside the vocabulary (%d)", m->dir, id, b,
                             t, m->cfg.vocab);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- recurrent state ---- */
struct ll_model_state {
    const ll_family *family;
    int B;
    const ll_ops *ops;
    void *ctx;
    float *buf; /* backend memory, layout owned by the family */
    size_t n;   /* floats */
};

ll_model_state *ll_model_state_new(ll_model *m, const ll_ops *ops, void *ctx, int B) {
    const ll_family_state *fs = m->family->state;
    if (!fs) { ll_set_error("%s: no recurrent state for model_type %s", m->dir, m->cfg.model_type); return NULL; }
    if (B <= 0) { ll_set_error("%s: recurrent state for %d sequences", m->dir, B); return NULL; }
    ll_model_state *s = ll_xcalloc(1, sizeof *s);
    s->family = m->family;
    s->B = B;
    s->ops = ops;
    s->ctx = ctx;
    s->n = fs->floats(m, B);
    float *host = ll_xcalloc(s->n ? s->n : 1, sizeof(float));
    if (fs->init) fs->init(m, B, host);
    if (!ops->host_memory) ll_oom_label("the recurrent state of %d sequences", B);
    s->buf = ops->host_memory ? ll_xmalloc_aligned(s->n * sizeof(float) + 64) : ops->alloc(ctx, s->n * sizeof(float) + 64);
    ll_oom_label(NULL);
    if (!s->buf) { free(host); free(s); return NULL; }
    ops->upload(ctx, s->buf, host, s->n * sizeof(float));
    free(host);
    return s;
}

void ll_model_state_free(ll_model_state *s) {
    if (!s) return;
    if (s->ops->host_memory) free(s->buf);
    else s->ops->free(s->ctx, s->buf);
    free(s);
}

int ll_model_forward_ex(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                        ll_capture *cap, ll_model_state *state, float *logits) {
    if (ll_model_check_batch(m, tokens, lens, B, T) != 0) return -1;
    const int maxp = ll_model_max_positions(m);
    if (maxp > 0 && T > maxp) {
        ll_set_error("%s: sequences of %d tokens exceed the model's %d positions", m->dir, T, maxp);
        return -1;
    }
    if (state && (state->B != B || state->family != m->family)) {
        ll_set_error("%s: recurrent state made for %d sequences, batch has %d", m->dir, state->B, B);
        return -1;
    }
    return m->family->forward(m, ops, ctx, tokens, lens, B, T, cap, state ? state->buf : NULL, logits);
}

int ll_model_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                     ll_capture *cap) {
    return ll_model_forward_ex(m, ops, ctx, tokens, lens, B, T, cap, NULL, NULL);
}
