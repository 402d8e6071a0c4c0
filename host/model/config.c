/* config.json readers for the family files (see config.h). */
#include "model/config.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/ll_util.h"

int ll_cfg_fail(ll_config *r, const char *fmt, ...) {
    if (!r->err) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        ll_set_error("%s: %s", r->path, msg);
    }
    r->err = 1;
    return -1;
}

int ll_cfg_ok(const ll_config *r) { return r->err ? -1 : 0; }

cJSON *ll_cfg_item(ll_config *r, const char *key) {
    cJSON *j = cJSON_GetObjectItemCaseSensitive(r->root, key);
    return (j && !cJSON_IsNull(j)) ? j : NULL;
}

int ll_cfg_has(ll_config *r, const char *key) { return ll_cfg_item(r, key) != NULL; }

int ll_cfg_int(ll_config *r, const char *key, const char *alt, int def) {
    const char *keys[2] = {key, alt};
    for (int i = 0; i < 2; i++) {
        if (!keys[i]) continue;
        cJSON *j = ll_cfg_item(r, keys[i]);
        if (!j) continue;
        if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || fabs(j->valuedouble) > 2e9) {
            ll_cfg_fail(r, "'%s' is not an integer", keys[i]);
            return 0;
        }
        return (int)j->valuedouble;
    }
    if (def == LL_CFG_REQUIRED) {
        ll_cfg_fail(r, "missing key '%s'", key);
        return 0;
    }
    return def;
}

int ll_cfg_size(ll_config *r, const char *key, const char *alt, int def, int lo, int hi) {
    if (r->err) return def == LL_CFG_REQUIRED ? 0 : def;
    const char *used = (alt && !ll_cfg_has(r, key) && ll_cfg_has(r, alt)) ? alt : key;
    int v = ll_cfg_int(r, key, alt, def);
    if (r->err) return 0;
    if (v < lo || v > hi) {
        if (lo == 1 && v <= 0) ll_cfg_fail(r, "'%s' is %d (must be positive)", used, v);
        else if (lo == 0 && v < 0) ll_cfg_fail(r, "'%s' is %d (must not be negative)", used, v);
        else ll_cfg_fail(r, "'%s' is %d (must be between %d and %d)", used, v, lo, hi);
        return 0;
    }
    return v;
}

double ll_cfg_num(ll_config *r, cJSON *obj, const char *key, double def) {
    cJSON *j = cJSON_GetObjectItemCaseSensitive(obj ? obj : r->root, key);
    if (!j || cJSON_IsNull(j)) return def;
    if (!cJSON_IsNumber(j)) {
        ll_cfg_fail(r, "'%s' is not a number", key);
        return def;
    }
    return j->valuedouble;
}

int ll_cfg_bool(ll_config *r, const char *key, int def) {
    cJSON *j = ll_cfg_item(r, key);
    if (!j) return def;
    if (cJSON_IsBool(j)) return cJSON_IsTrue(j);
    if (cJSON_IsNumber(j)) return j->valuedouble != 0;
    ll_cfg_fail(r, "'%s' is not a boolean", key);
    return def;
}

const char *ll_cfg_str(ll_config *r, const char *key, const char *def) {
    cJSON *j = ll_cfg_item(r, key);
    return j && cJSON_IsString(j) ? j->valuestring : def;
}

int ll_cfg_act(ll_config *r, const char *key, const char *def, ll_act *out) {
    const char *s = ll_cfg_str(r, key, def);
    if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast")) *out = LL_ACT_GELU_TANH;
    else if (!strcmp(s, "gelu")) *out = LL_ACT_GELU_ERF;
    else if (!strcmp(s, "silu") || !strcmp(s, "swish")) *out = LL_ACT_SILU;
    else if (!strcmp(s, "relu")) *out = LL_ACT_RELU;
    else return ll_cfg_fail(r, "unsupported %s '%s'", key, s);
    return 0;
}

const char *ll_act_name(ll_act a) {
    switch (a) {
    case LL_ACT_GELU_TANH: return "gelu_tanh";
    case LL_ACT_GELU_ERF: return "gelu";
    case LL_ACT_SILU: return "silu";
    case LL_ACT_RELU: return "relu";
    }
    return "?";
}

int ll_cfg_rope(ll_config *r, int head_dim, double def_partial, double def_theta, ll_rope_cfg *c) {
    memset(c, 0, sizeof *c);
    cJSON *rp = ll_cfg_item(r, "rope_parameters");
    cJSON *rs = ll_cfg_item(r, "rope_scaling");
    if (rp && !cJSON_IsObject(rp)) return ll_cfg_fail(r, "'rope_parameters' is not an object");
    if (rs && !cJSON_IsObject(rs)) return ll_cfg_fail(r, "'rope_scaling' is not an object");
    double theta = ll_cfg_num(r, NULL, "rotary_emb_base", def_theta);
    const char *theta_key = ll_cfg_has(r, "rotary_emb_base") ? "rotary_emb_base" : "rope_theta";
    if (ll_cfg_has(r, "rope_theta")) theta_key = "rope_theta";
    theta = ll_cfg_num(r, NULL, "rope_theta", theta);
    double partial = ll_cfg_num(r, NULL, "rotary_pct", def_partial);
    const char *partial_key = ll_cfg_has(r, "partial_rotary_factor") ? "partial_rotary_factor" : "rotary_pct";
    partial = ll_cfg_num(r, NULL, "partial_rotary_factor", partial);
    cJSON *sc = rs;
    const char *sc_key = "rope_scaling";
    if (rp) {
        if (cJSON_GetObjectItemCaseSensitive(rp, "rope_theta")) theta_key = "rope_parameters.rope_theta";
        if (cJSON_GetObjectItemCaseSensitive(rp, "partial_rotary_factor"))
            partial_key = "rope_parameters.partial_rotary_factor";
        theta = ll_cfg_num(r, rp, "rope_theta", theta);
        partial = ll_cfg_num(r, rp, "partial_rotary_factor", partial);
        sc = rp;
        sc_key = "rope_parameters";
    }
    if (r->err) return -1;
    if (!(theta > 0) || !isfinite(theta)) return ll_cfg_fail(r, "'%s' is %g (must be positive)", theta_key, theta);
    if (!(partial >= 0) || !isfinite(partial))
        return ll_cfg_fail(r, "'%s' is %g (must not be negative)", partial_key, partial);
    double rd = head_dim * partial;
    if (rd > head_dim)
        return ll_cfg_fail(r, "'%s' is %g: %g rotary dims exceed the head size %d", partial_key, partial, rd, head_dim);
    c->theta = theta;
    c->rotary_dims = (int)rd;
    c->rotary_dims &= ~1;
    c->type = LL_ROPE_SCALING_NONE;
    if (sc) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(sc, "rope_type");
        if (!t || cJSON_IsNull(t)) t = cJSON_GetObjectItemCaseSensitive(sc, "type");
        const char *ty = t && cJSON_IsString(t) ? t->valuestring : "default";
        if (!strcmp(ty, "default")) {
        } else if (!strcmp(ty, "llama3")) {
            c->type = LL_ROPE_SCALING_LLAMA3;
            c->factor = ll_cfg_num(r, sc, "factor", 8.0);
            c->low_freq_factor = ll_cfg_num(r, sc, "low_freq_factor", 1.0);
            c->high_freq_factor = ll_cfg_num(r, sc, "high_freq_factor", 4.0);
            double omp = ll_cfg_num(r, sc, "original_max_position_embeddings", 8192);
            if (r->err) return -1;
            if (!(c->low_freq_factor > 0) || !(c->high_freq_factor > c->low_freq_factor))
                return ll_cfg_fail(r, "'%s' llama3 frequency factors %g, %g (need 0 < low < high)", sc_key,
                                   c->low_freq_factor, c->high_freq_factor);
            if (!(omp >= 1 && omp <= 2e9))
                return ll_cfg_fail(r, "'%s.original_max_position_embeddings' is %g (must be positive)", sc_key, omp);
            c->original_max_pos = (int)omp;
        } else if (!strcmp(ty, "linear")) {
            c->type = LL_ROPE_SCALING_LINEAR;
            c->factor = ll_cfg_num(r, sc, "factor", 1.0);
        } else {
            return ll_cfg_fail(r, "unsupported rope scaling type '%s'", ty);
        }
        if (r->err) return -1;
        if (c->type != LL_ROPE_SCALING_NONE && !(c->factor > 0 && isfinite(c->factor)))
            return ll_cfg_fail(r, "'%s.factor' is %g (must be positive)", sc_key, c->factor);
    }
    return r->err ? -1 : 0;
}
