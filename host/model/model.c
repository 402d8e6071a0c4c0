/* HF checkpoint loading: config.json → ll_model_config, the family's tensor
 * declarations → one arena filled from safetensors (F32/F16/BF16/F64 →
 * F32, GPT-2 Conv1D transposed), and the forward dispatch. */
#include "model/model.h"
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "capture/capture.h"
#include "core/ll_util.h"
#include "io/gguf.h"
#include "io/safetensors.h"

/* ---- the family table: one line per family ---- */
static const ll_family *const ll_families[] = {
    &ll_family_gpt2, &ll_family_gpt_neox, &ll_family_llama, &ll_family_mistral, &ll_family_qwen2,
    &ll_family_rwkv, &ll_family_mamba, /* host/families/rwkv.c, host/forward_mamba.c */
};
#define N_FAMILIES (int)(sizeof ll_families / sizeof ll_families[0])

static const char *const arch_names[LL_ARCH_COUNT] = {"gpt2", "gpt_neox", "llama", "mistral", "qwen2", "rwkv", "mamba"};
const char *ll_arch_name(ll_arch a) { return (a >= 0 && a < LL_ARCH_COUNT) ? arch_names[a] : "?"; }

/* ---- config.json ---- */
typedef struct {
    cJSON *root;
    const char *path;
    int err;
} cfg_reader;

static cJSON *cfg_item(cfg_reader *r, const char *key) {
    cJSON *j = cJSON_GetObjectItemCaseSensitive(r->root, key);
    return (j && !cJSON_IsNull(j)) ? j : NULL;
}
/* Integer: the first present key of a NULL-terminated list; def if none
 * (def == INT32_MIN: required). */
static int cfg_int(cfg_reader *r, int def, const char *k1, const char *k2) {
    const char *keys[2] = {k1, k2};
    for (int i = 0; i < 2; i++) {
        if (!keys[i]) continue;
        cJSON *j = cfg_item(r, keys[i]);
        if (!j) continue;
        if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || fabs(j->valuedouble) > 2e9) {
            if (!r->err) ll_set_error("%s: '%s' is not an integer", r->path, keys[i]);
            r->err = 1;
            return 0;
        }
        return (int)j->valuedouble;
    }
    if (def == INT32_MIN) {
        if (!r->err) ll_set_error("%s: missing key '%s'", r->path, k1);
        r->err = 1;
        return 0;
    }
    return def;
}
static double cfg_num(cfg_reader *r, cJSON *obj, double def, const char *key) {
    cJSON *j = cJSON_GetObjectItemCaseSensitive(obj ? obj : r->root, key);
    if (!j || cJSON_IsNull(j)) return def;
    if (!cJSON_IsNumber(j)) {
        if (!r->err) ll_set_error("%s: '%s' is not a number", r->path, key);
        r->err = 1;
        return def;
    }
    return j->valuedouble;
}
static int cfg_bool(cfg_reader *r, int def, const char *key) {
    cJSON *j = cfg_item(r, key);
    if (!j) return def;
    if (cJSON_IsBool(j)) return cJSON_IsTrue(j);
    if (cJSON_IsNumber(j)) return j->valuedouble != 0;
    if (!r->err) ll_set_error("%s: '%s' is not a boolean", r->path, key);
    r->err = 1;
    return def;
}
static int parse_act(cfg_reader *r, const char *key, const char *def, ll_act *out) {
    cJSON *j = cfg_item(r, key);
    const char *s = j && cJSON_IsString(j) ? j->valuestring : def;
    if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast")) *out = LL_ACT_GELU_TANH;
    else if (!strcmp(s, "gelu")) *out = LL_ACT_GELU_ERF;
    else if (!strcmp(s, "silu") || !strcmp(s, "swish")) *out = LL_ACT_SILU;
    else if (!strcmp(s, "relu")) *out = LL_ACT_RELU;
    else {
        ll_set_error("%s: unsupported %s '%s'", r->path, key, s);
        return -1;
    }
    return 0;
}

/* RoPE: theta, partial factor and scaling from rope_parameters (transformers
 * v5) or rope_theta / rope_scaling / rotary_pct / rotary_emb_base (v4). */
static int parse_rope(cfg_reader *r, ll_model_config *c, double def_partial, double def_theta) {
    cJSON *rp = cfg_item(r, "rope_parameters");
    cJSON *rs = cfg_item(r, "rope_scaling");
    if (rp && !cJSON_IsObject(rp)) { ll_set_error("%s: 'rope_parameters' is not an object", r->path); return -1; }
    if (rs && !cJSON_IsObject(rs)) { ll_set_error("%s: 'rope_scaling' is not an object", r->path); return -1; }
    double theta = cfg_num(r, NULL, def_theta, "rotary_emb_base");
    theta = cfg_num(r, NULL, theta, "rope_theta");
    double partial = cfg_num(r, NULL, def_partial, "rotary_pct");
    partial = cfg_num(r, NULL, partial, "partial_rotary_factor");
    cJSON *sc = rs;
    if (rp) {
        theta = cfg_num(r, rp, theta, "rope_theta");
        partial = cfg_num(r, rp, partial, "partial_rotary_factor");
        sc = rp;
    }
    c->rope_theta = theta;
    c->rotary_dims = (int)(c->head_dim * partial);
    c->rotary_dims &= ~1;
    c->rope_scaling.type = LL_ROPE_SCALING_NONE;
    if (sc) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(sc, "rope_type");
        if (!t || cJSON_IsNull(t)) t = cJSON_GetObjectItemCaseSensitive(sc, "type");
        const char *ty = t && cJSON_IsString(t) ? t->valuestring : "default";
        if (!strcmp(ty, "default")) {
        } else if (!strcmp(ty, "llama3")) {
            c->rope_scaling.type = LL_ROPE_SCALING_LLAMA3;
            c->rope_scaling.factor = cfg_num(r, sc, 8.0, "factor");
            c->rope_scaling.low_freq_factor = cfg_num(r, sc, 1.0, "low_freq_factor");
            c->rope_scaling.high_freq_factor = cfg_num(r, sc, 4.0, "high_freq_factor");
            c->rope_scaling.original_max_pos = (int)cfg_num(r, sc, 8192, "original_max_position_embeddings");
        } else if (!strcmp(ty, "linear")) {
            c->rope_scaling.type = LL_ROPE_SCALING_LINEAR;
            c->rope_scaling.factor = cfg_num(r, sc, 1.0, "factor");
        } else {
            ll_set_error("%s: unsupported rope scaling type '%s'", r->path, ty);
            return -1;
        }
    }
    return r->err ? -1 : 0;
}

static int parse_config_root(cJSON *root, const char *path, ll_model_config *c);
static int parse_config(const char *dir, ll_model_config *c) {
    char path[4096];
    ll_path_join(path, sizeof path, dir, "config.json");
    size_t len;
    char *txt = ll_read_file(path, &len);
    if (!txt) return -1;
    cJSON *root = cJSON_Parse(txt);
    free(txt);
    if (!root || !cJSON_IsObject(root)) {
        ll_set_error("%s: not a valid JSON object", path);
        cJSON_Delete(root);
        return -1;
    }
    int rc = parse_config_root(root, path, c);
    cJSON_Delete(root);
    return rc;
}

/* config.json's object (or the one a GGUF file's metadata gives); path names it in errors */
static int parse_config_root(cJSON *root, const char *path, ll_model_config *c) {
    cfg_reader rd = {root, path, 0}, *r = &rd;
    int rc = -1;
    memset(c, 0, sizeof *c);
    cJSON *mt = cfg_item(r, "model_type");
    if (!mt || !cJSON_IsString(mt)) {
        ll_set_error("%s: missing key 'model_type'", path);
        goto done;
    }
    snprintf(c->model_type, sizeof c->model_type, "%s", mt->valuestring);
    int found = 0;
    for (int a = 0; a < LL_ARCH_COUNT; a++)
        if (!strcmp(mt->valuestring, arch_names[a])) { c->arch = (ll_arch)a; found = 1; }
    if (!found) {
        ll_set_error("%s: unknown model_type '%s' (supported: gpt2, gpt_neox, llama, mistral, qwen2, rwkv, mamba)", path,
                     mt->valuestring);
        goto done;
    }
    c->attn_scale_mult = 1.0;
    c->tie_embeddings = cfg_bool(r, 1, "tie_word_embeddings");
    switch (c->arch) {
    case LL_ARCH_GPT2:
        c->d_model = cfg_int(r, INT32_MIN, "n_embd", "hidden_size");
        c->n_layer = cfg_int(r, INT32_MIN, "n_layer", "num_hidden_layers");
        c->n_head = cfg_int(r, INT32_MIN, "n_head", "num_attention_heads");
        c->n_kv_head = c->n_head;
        c->d_ff = cfg_int(r, 4 * c->d_model, "n_inner", NULL);
        c->vocab = cfg_int(r, INT32_MIN, "vocab_size", NULL);
        c->max_pos = cfg_int(r, INT32_MIN, "n_positions", "max_position_embeddings");
        c->norm = LL_NORM_LAYERNORM;
        c->norm_eps = cfg_num(r, NULL, 1e-5, "layer_norm_epsilon");
        c->qkv_bias = c->o_bias = c->mlp_bias = 1;
        if (parse_act(r, "activation_function", "gelu_new", &c->act)) goto done;
        if (!cfg_bool(r, 1, "scale_attn_weights")) c->attn_scale_mult = 0; /* no scaling: handled in forward */
        c->scale_attn_by_inverse_layer_idx = cfg_bool(r, 0, "scale_attn_by_inverse_layer_idx");
        break;
    case LL_ARCH_GPT_NEOX:
        c->d_model = cfg_int(r, INT32_MIN, "hidden_size", NULL);
        c->n_layer = cfg_int(r, INT32_MIN, "num_hidden_layers", NULL);
        c->n_head = cfg_int(r, INT32_MIN, "num_attention_heads", NULL);
        c->n_kv_head = c->n_head;
        c->d_ff = cfg_int(r, INT32_MIN, "intermediate_size", NULL);
        c->vocab = cfg_int(r, INT32_MIN, "vocab_size", NULL);
        c->max_pos = cfg_int(r, 0, "max_position_embeddings", NULL);
        c->norm = LL_NORM_LAYERNORM;
        c->norm_eps = cfg_num(r, NULL, 1e-5, "layer_norm_eps");
        c->parallel_residual = cfg_bool(r, 1, "use_parallel_residual");
        c->qkv_bias = c->o_bias = cfg_bool(r, 1, "attention_bias");
        c->mlp_bias = 1;
        c->tie_embeddings = cfg_bool(r, 0, "tie_word_embeddings");
        if (parse_act(r, "hidden_act", "gelu", &c->act)) goto done;
        break;
    case LL_ARCH_LLAMA:
    case LL_ARCH_MISTRAL:
    case LL_ARCH_QWEN2:
        c->d_model = cfg_int(r, INT32_MIN, "hidden_size", NULL);
        c->n_layer = cfg_int(r, INT32_MIN, "num_hidden_layers", NULL);
        c->n_head = cfg_int(r, INT32_MIN, "num_attention_heads", NULL);
        c->n_kv_head = cfg_int(r, c->n_head, "num_key_value_heads", NULL);
        c->d_ff = cfg_int(r, INT32_MIN, "intermediate_size", NULL);
        c->vocab = cfg_int(r, INT32_MIN, "vocab_size", NULL);
        c->max_pos = cfg_int(r, 0, "max_position_embeddings", NULL);
        c->norm = LL_NORM_RMSNORM;
        c->norm_eps = cfg_num(r, NULL, 1e-6, "rms_norm_eps");
        c->qkv_bias = c->o_bias = cfg_bool(r, 0, "attention_bias");
        c->mlp_bias = cfg_bool(r, 0, "mlp_bias");
        if (c->arch == LL_ARCH_QWEN2) { c->qkv_bias = 1; c->o_bias = 0; c->mlp_bias = 0; }
        if (parse_act(r, "hidden_act", "silu", &c->act)) goto done;
        if (c->arch == LL_ARCH_MISTRAL) c->sliding_window = cfg_int(r, 0, "sliding_window", NULL);
        if (c->arch == LL_ARCH_QWEN2 && cfg_bool(r, 0, "use_sliding_window")) {
            c->sliding_window = cfg_int(r, 0, "sliding_window", NULL);
            c->window_from_layer = cfg_int(r, c->n_layer, "max_window_layers", NULL);
        }
        break;
    case LL_ARCH_RWKV:
        c->d_model = cfg_int(r, INT32_MIN, "hidden_size", NULL);
        c->n_layer = cfg_int(r, INT32_MIN, "num_hidden_layers", NULL);
        c->attention_hidden_size = cfg_int(r, c->d_model, "attention_hidden_size", NULL);
        c->d_ff = cfg_int(r, 4 * c->d_model, "intermediate_size", NULL);
        c->vocab = cfg_int(r, INT32_MIN, "vocab_size", NULL);
        c->max_pos = cfg_int(r, 0, "context_length", NULL);
        c->norm = LL_NORM_LAYERNORM;
        c->norm_eps = cfg_num(r, NULL, 1e-5, "layer_norm_epsilon");
        c->rescale_every = cfg_int(r, 6, "rescale_every", NULL);
        c->tie_embeddings = cfg_bool(r, 0, "tie_word_embeddings");
        break;
    case LL_ARCH_MAMBA: {
        c->d_model = cfg_int(r, INT32_MIN, "hidden_size", NULL);
        c->n_layer = cfg_int(r, INT32_MIN, "num_hidden_layers", NULL);
        c->vocab = cfg_int(r, INT32_MIN, "vocab_size", NULL);
        c->d_state = cfg_int(r, 16, "state_size", NULL);
        c->d_conv = cfg_int(r, 4, "conv_kernel", NULL);
        c->expand = cfg_int(r, 2, "expand", NULL);
        c->d_inner = cfg_int(r, c->expand * c->d_model, "intermediate_size", NULL);
        c->norm = LL_NORM_RMSNORM;
        c->norm_eps = cfg_num(r, NULL, 1e-5, "layer_norm_epsilon");
        c->use_bias = cfg_bool(r, 0, "use_bias");
        c->use_conv_bias = cfg_bool(r, 1, "use_conv_bias");
        c->residual_in_fp32 = cfg_bool(r, 1, "residual_in_fp32");
        cJSON *tr = cfg_item(r, "time_step_rank");
        if (!tr || (cJSON_IsString(tr) && !strcmp(tr->valuestring, "auto")))
            c->dt_rank = (c->d_model + 15) / 16;
        else
            c->dt_rank = cfg_int(r, 0, "time_step_rank", NULL);
        break;
    }
    default: break;
    }
    if (r->err) goto done;
    /* head_dim and rope (transformer families) */
    if (c->arch <= LL_ARCH_QWEN2) {
        if (c->n_head <= 0 || c->n_kv_head <= 0 || c->n_head % c->n_kv_head) {
            ll_set_error("%s: num_attention_heads %d not a multiple of num_key_value_heads %d", path, c->n_head,
                         c->n_kv_head);
            goto done;
        }
        int hd_def = c->n_head > 0 && c->d_model % c->n_head == 0 ? c->d_model / c->n_head : -1;
        c->head_dim = cfg_int(r, hd_def, "head_dim", NULL);
        if (c->head_dim <= 0) {
            ll_set_error("%s: hidden_size %d not divisible by num_attention_heads %d", path, c->d_model, c->n_head);
            goto done;
        }
        if (c->arch == LL_ARCH_GPT_NEOX) {
            if (parse_rope(r, c, 0.25, 10000.0)) goto done;
        } else if (c->arch != LL_ARCH_GPT2) {
            if (parse_rope(r, c, 1.0, 10000.0)) goto done;
        }
    }
    if (c->d_model <= 0 || c->n_layer <= 0 || c->vocab <= 0 || c->d_ff < 0) {
        ll_set_error("%s: hidden size, layer count and vocab_size must be positive", path);
        goto done;
    }
    if (c->norm_eps < 0) { ll_set_error("%s: negative norm epsilon", path); goto done; }
    rc = r->err ? -1 : 0;
done:
    return rc;
}

/* ---- the loader ---- */
typedef struct {
    ll_weight *dst;
    const ll_st_tensor *t; /* NULL: scratch */
    int flags;
    ll_dtype dtype;
    int64_t rows, cols;
    size_t off, bytes;
} ld_req;

struct ll_loader {
    ll_model *m;
    ll_safetensors st;
    const char *where; /* file name used in errors */
    int keep_half;
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
    return q;
}

int ll_loader_has(const ll_loader *ld, const char *name) { return ll_st_find(&ld->st, name) != NULL; }

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *s) {
    size_t k = 0;
    k += snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++) k += snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

int ll_loader_want(ll_loader *ld, ll_weight *dst, const char *name, int ndim, const int64_t *shape, int flags) {
    memset(dst, 0, sizeof *dst);
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
    ld_req *q = ld_push(ld);
    q->dst = dst;
    q->t = t;
    q->flags = flags;
    if (ndim <= 1) { q->rows = ndim ? shape[0] : 1; q->cols = 1; }
    else if (ndim == 2 && (flags & LL_LOAD_TRANSPOSE)) { q->rows = shape[1]; q->cols = shape[0]; }
    else { q->rows = shape[0]; q->cols = t->numel / (shape[0] ? shape[0] : 1); }
    q->dtype = LL_DT_F32;
    if (ld->keep_half && ndim >= 2 && !(flags & LL_LOAD_F32)) {
        if (t->dtype == LL_ST_F16) q->dtype = LL_DT_F16;
        if (t->dtype == LL_ST_BF16) q->dtype = LL_DT_BF16;
    }
    q->bytes = (size_t)t->numel * ll_dtype_size(q->dtype);
    return 0;
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

static void fill_req(const ld_req *q, char *arena) {
    void *out = arena + q->off;
    const ll_st_tensor *t = q->t;
    if (!t) { memset(out, 0, q->bytes); return; }
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
    size_t np = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : np)
    for (int i = 0; i < ld->n; i++) {
        fill_req(&ld->reqs[i], m->arena);
        if (ld->reqs[i].t) np += (size_t)ld->reqs[i].t->numel;
    }
    m->n_params = np;
    for (int i = 0; i < ld->n; i++) {
        ld_req *q = &ld->reqs[i];
        q->dst->data = (char *)m->arena + q->off;
        q->dst->dtype = q->dtype;
        q->dst->rows = q->rows;
        q->dst->cols = q->cols;
        m->slots[i] = q->dst;
    }
    return 0;
}

ll_model *ll_model_load_ex(const char *dir, const ll_load_opts *opts) {
    ll_model_config cfg;
    ll_loader ld;
    memset(&ld, 0, sizeof ld);
    const int gguf = ll_is_gguf_path(dir); /* a .gguf file: host/io/gguf.h gives the store and the config */
    if (gguf) {
        cJSON *cj;
        if (ll_gguf_load_model(dir, &ld.st, &cj)) return NULL;
        int rc = parse_config_root(cj, dir, &cfg);
        cJSON_Delete(cj);
        if (rc) { ll_st_close(&ld.st); return NULL; }
    } else if (parse_config(dir, &cfg)) return NULL;
    const ll_family *fam = NULL;
    for (int i = 0; i < N_FAMILIES; i++)
        if (ll_families[i]->arch == cfg.arch) fam = ll_families[i];
    if (!fam) {
        char path[4096];
        ll_path_join(path, sizeof path, dir, "config.json");
        ll_set_error("%s: model_type '%s' is not implemented yet", path, cfg.model_type);
        ll_st_close(&ld.st);
        return NULL;
    }
    if (!gguf && ll_st_open_dir(&ld.st, dir)) return NULL;
    char where[4096];
    if (ld.st.n_files == 1) snprintf(where, sizeof where, "%s", ld.st.paths[0]);
    else ll_path_join(where, sizeof where, dir, "model.safetensors.index.json");
    ld.where = where;
    ld.keep_half = opts ? opts->keep_half : 0;
    ll_model *m = ll_xcalloc(1, sizeof *m);
    m->cfg = cfg;
    m->family = fam;
    m->dir = ll_xstrdup(dir);
    ld.m = m;
    if (fam->bind(m, &ld) != 0) goto fail;
    build_arena(m, &ld);
    ll_st_close(&ld.st);
    free(ld.reqs);
    if (fam->prepare && fam->prepare(m) != 0) { ll_model_free(m); return NULL; }
    return m;
fail:
    ll_st_close(&ld.st);
    free(ld.reqs);
    ll_model_free(m);
    return NULL;
}

ll_model *ll_model_load(const char *dir) { return ll_model_load_ex(dir, NULL); }

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
int ll_model_dim(const ll_model *m) { return m->cfg.d_model; }

ll_norm ll_model_fresh_norm(const ll_model *m, double *eps) {
    if (eps) *eps = m->cfg.norm_eps;
    return m->cfg.norm;
}

int ll_model_upload(ll_model *m, const ll_ops *ops, void *ctx) {
    if (ops->host_memory) return 0;
    if (m->dev_arena) return 0;
    if (m->ws) { free(m->ws); m->ws = NULL; m->ws_bytes = 0; }
    void *d = ops->alloc(ctx, m->arena_bytes ? m->arena_bytes : 64);
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
    m->ws = ops->host_memory ? ll_xmalloc_aligned(bytes) : ops->alloc(ctx, bytes);
    m->ws_bytes = m->ws ? bytes : 0;
    return m->ws;
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

int ll_model_forward(ll_model *m, const ll_ops *ops, void *ctx, const int32_t *tokens, const int *lens, int B, int T,
                     ll_capture *cap) {
    if (ll_model_check_batch(m, tokens, lens, B, T) != 0) return -1;
    if (m->cfg.max_pos > 0 && T > m->cfg.max_pos && m->cfg.arch == LL_ARCH_GPT2) {
        ll_set_error("%s: sequences of %d tokens exceed the model's %d positions", m->dir, T, m->cfg.max_pos);
        return -1;
    }
    return m->family->forward(m, ops, ctx, tokens, lens, B, T, cap);
}
