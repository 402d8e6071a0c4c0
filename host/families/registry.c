/* The family registry: the table built from host/families/list.h, lookups by
 * model_type / alias / GGUF architecture, and GGUF → HF tensor renaming. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "core/ll_util.h"
#include "io/safetensors.h"
#include "model/family.h"

#define LL_FAMILY(name) extern const ll_family ll_family_##name;
#include "families/list.h"
#undef LL_FAMILY

static const ll_family *const families[] = {
#define LL_FAMILY(name) &ll_family_##name,
#include "families/list.h"
#undef LL_FAMILY
};
#define N_FAMILIES (int)(sizeof families / sizeof families[0])

int ll_family_count(void) { return N_FAMILIES; }
const ll_family *ll_family_at(int i) { return i >= 0 && i < N_FAMILIES ? families[i] : NULL; }

const ll_family *ll_family_find(const char *model_type) {
    if (!model_type) return NULL;
    for (int i = 0; i < N_FAMILIES; i++) {
        const ll_family *f = families[i];
        if (!strcmp(f->model_type, model_type)) return f;
        for (const char *const *a = f->aliases; a && *a; a++)
            if (!strcmp(*a, model_type)) return f;
    }
    return NULL;
}

const ll_family *ll_family_by_gguf_arch(const char *arch) {
    if (!arch) return NULL;
    for (int i = 0; i < N_FAMILIES; i++)
        if (families[i]->gguf_arch && !strcmp(families[i]->gguf_arch, arch)) return families[i];
    return NULL;
}

const char *ll_family_gguf_supported(void) {
    static char buf[1024];
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < N_FAMILIES && k < sizeof buf; i++)
        if (families[i]->gguf_arch && families[i]->gguf_config)
            k += snprintf(buf + k, sizeof buf - k, "%s%s", k ? ", " : "", families[i]->gguf_arch);
    return buf;
}

int ll_family_load_gguf(const char *path, ll_safetensors *st, cJSON **config, const ll_family **fam) {
    ll_gguf g;
    memset(st, 0, sizeof *st);
    *config = NULL;
    *fam = NULL;
    if (ll_gguf_open(&g, path)) return -1;
    const char *arch = ll_gguf_arch(&g);
    const ll_family *f = ll_family_by_gguf_arch(arch);
    if (!f || !f->gguf_config) {
        ll_set_error("%s: GGUF architecture '%s' is not supported (%s)", path, arch ? arch : "(none)",
                     ll_family_gguf_supported());
        ll_gguf_close(&g);
        return -1;
    }
    cJSON *cfg = ll_gguf_hf_config(&g);
    int rc = cfg ? 0 : -1;
    if (rc == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "model_type");
        cJSON_AddStringToObject(cfg, "model_type", f->model_type);
        rc = f->gguf_config(&g, cfg);
    }
    if (rc == 0) rc = ll_gguf_to_store(&g, st);
    if (rc == 0 && f->gguf_fixup) rc = f->gguf_fixup(&g, st);
    ll_gguf_close(&g);
    if (rc) {
        cJSON_Delete(cfg);
        ll_st_close(st);
        return -1;
    }
    *config = cfg;
    *fam = f;
    return 0;
}

const char *ll_family_supported(void) {
    static char buf[1024];
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < N_FAMILIES && k < sizeof buf; i++)
        k += snprintf(buf + k, sizeof buf - k, "%s%s", i ? ", " : "", families[i]->model_type);
    return buf;
}

/* Matches `name` against a pattern with at most one %d; *layer = the number
 * (-1 when the pattern has none).  1 on a match. */
static int match_pattern(const char *pat, const char *name, int *layer) {
    const char *d = strstr(pat, "%d");
    *layer = -1;
    if (!d) return !strcmp(pat, name);
    size_t pre = (size_t)(d - pat);
    if (strncmp(pat, name, pre)) return 0;
    const char *p = name + pre;
    if (*p < '0' || *p > '9') return 0;
    long v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > 1000000) return 0;
        p++;
    }
    if (strcmp(p, d + 2)) return 0;
    *layer = (int)v;
    return 1;
}

int ll_family_gguf_to_hf(const ll_family *f, const char *gguf_name, char *hf, size_t cap) {
    for (int i = 0; i < f->n_gguf_roles + f->n_roles; i++) {
        const ll_tensor_role *r = i < f->n_gguf_roles ? &f->gguf_roles[i] : &f->roles[i - f->n_gguf_roles];
        int layer;
        if (!r->gguf || !r->hf || !match_pattern(r->gguf, gguf_name, &layer)) continue;
        char tail[512];
        if (layer >= 0) snprintf(tail, sizeof tail, r->hf, layer);
        else snprintf(tail, sizeof tail, "%s", r->hf);
        int n = snprintf(hf, cap, "%s%s", f->hf_prefix && !r->top ? f->hf_prefix : "", tail);
        if (n < 0 || (size_t)n >= cap) {
            ll_set_error("%s: tensor name too long for its buffer", gguf_name);
            return -1;
        }
        return 0;
    }
    ll_set_error("gguf: tensor '%s' has no %s counterpart", gguf_name, f->model_type);
    return -1;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const ll_st_tensor *)a)->name, ((const ll_st_tensor *)b)->name);
}

int ll_family_rename_gguf(const ll_family *f, void *store, const char *where) {
    ll_safetensors *st = store;
    for (int i = 0; i < st->n_tensors; i++) {
        char hf[512];
        if (ll_family_gguf_to_hf(f, st->tensors[i].name, hf, sizeof hf) != 0) {
            ll_set_error("%s: tensor '%s' has no %s counterpart", where, st->tensors[i].name, f->model_type);
            return -1;
        }
        free(st->tensors[i].name);
        st->tensors[i].name = ll_xstrdup(hf);
    }
    qsort(st->tensors, (size_t)st->n_tensors, sizeof(ll_st_tensor), cmp_name);
    for (int i = 1; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, st->tensors[i - 1].name)) {
            ll_set_error("%s: two tensors map to '%s'", where, st->tensors[i].name);
            return -1;
        }
    return 0;
}
