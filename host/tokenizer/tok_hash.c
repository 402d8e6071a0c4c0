/* The tokenizer's hash tables (host/tokenizer/tok_internal.h): the text-keyed
 * tables (vocabulary, added tokens, the word cache) and the merge-pair table. */
#include <pthread.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>
#include "tokenizer/tok_internal.h"

/* The hash of the tables keyed by text (the vocabulary, the word cache):
 * SipHash-2-4 (libsodium's crypto_shorthash) under a key drawn at random once
 * per process.  The word cache is keyed by words of the input text, which an
 * adversary may choose: with a fixed, public hash a corpus of colliding words
 * would make every lookup walk one long probe chain (quadratic time); with a
 * secret key nobody can aim at a bucket.  Nothing produced depends on the
 * key (the tables are only looked up, never listed). */
static unsigned char g_hash_key[crypto_shorthash_KEYBYTES];
static pthread_once_t g_hash_once = PTHREAD_ONCE_INIT;
static void hash_key_init(void) {
    if (sodium_init() < 0) { /* no entropy source: a key from the clock and the process */
        uint64_t s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&s;
        for (size_t i = 0; i < sizeof g_hash_key; i++) g_hash_key[i] = (unsigned char)(ll_splitmix64(&s) >> 56);
        return;
    }
    randombytes_buf(g_hash_key, sizeof g_hash_key);
}
uint64_t tok_hash_bytes(const void *p, size_t n) {
    pthread_once(&g_hash_once, hash_key_init);
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, p, (unsigned long long)n, g_hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

/* ------------------------------------------------------------------ */
/* hash maps                                                           */


void tok_sm_init(strmap *m, size_t expect) {
    size_t c = 64;
    while (c < expect * 2) c *= 2;
    m->e = ll_xcalloc(c, sizeof *m->e);
    m->cap = c;
    m->n = 0;
}
int32_t tok_sm_get(const strmap *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    size_t i = tok_hash_bytes(k, n) & (m->cap - 1);
    for (;;) {
        const sm_ent *e = &m->e[i];
        if (!e->k) return -1;
        if (e->klen == n && memcmp(e->k, k, n) == 0) return e->v;
        i = (i + 1) & (m->cap - 1);
    }
}
static void sm_grow(strmap *m) {
    strmap old = *m;
    tok_sm_init(m, old.cap);
    for (size_t i = 0; i < old.cap; i++)
        if (old.e[i].k) tok_sm_put(m, old.e[i].k, old.e[i].klen, old.e[i].v);
    free(old.e);
}
/* key memory must outlive the map */
void tok_sm_put(strmap *m, const char *k, size_t n, int32_t v) {
    if ((m->n + 1) * 2 > m->cap) sm_grow(m);
    size_t i = tok_hash_bytes(k, n) & (m->cap - 1);
    for (;;) {
        sm_ent *e = &m->e[i];
        if (!e->k) { e->k = k; e->klen = (uint32_t)n; e->v = v; m->n++; return; }
        if (e->klen == n && memcmp(e->k, k, n) == 0) { e->v = v; return; }
        i = (i + 1) & (m->cap - 1);
    }
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}
void tok_pm_init(pairmap *m, size_t expect) {
    size_t c = 64;
    while (c < expect * 2) c *= 2;
    m->e = ll_xmalloc(c * sizeof *m->e);
    for (size_t i = 0; i < c; i++) m->e[i].key = PM_EMPTY;
    m->cap = c;
    m->n = 0;
}
void tok_pm_put(pairmap *m, uint64_t key, uint32_t rank, int32_t id) {
    size_t i = mix64(key) & (m->cap - 1);
    for (;;) {
        pm_ent *e = &m->e[i];
        if (e->key == PM_EMPTY) { e->key = key; e->rank = rank; e->id = id; m->n++; return; }
        if (e->key == key) { e->rank = rank; e->id = id; return; } /* later merge wins, as HashMap::collect */
        i = (i + 1) & (m->cap - 1);
    }
}
const pm_ent *tok_pm_get(const pairmap *m, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = mix64(key) & (m->cap - 1);
    for (;;) {
        const pm_ent *e = &m->e[i];
        if (e->key == PM_EMPTY) return NULL;
        if (e->key == key) return e;
        i = (i + 1) & (m->cap - 1);
    }
}

void tok_wc_clear(wcache *c) {
    if (!c->e) c->e = ll_xmalloc(WC_CAP * sizeof *c->e);
    c->cap = WC_CAP;
    for (size_t i = 0; i < c->cap; i++) c->e[i].nids = UINT32_MAX;
    c->n = 0;
    sb_clear(&c->keys);
    c->ids.n = 0;
}
const wc_ent *tok_wc_get(const wcache *c, const char *k, size_t n, uint64_t h) {
    size_t i = h & (c->cap - 1);
    for (;;) {
        const wc_ent *e = &c->e[i];
        if (e->nids == UINT32_MAX) return NULL;
        if (e->h == h && e->klen == n && memcmp(c->keys.p + e->koff, k, n) == 0) return e;
        i = (i + 1) & (c->cap - 1);
    }
}
void tok_wc_put(wcache *c, const char *k, size_t n, uint64_t h, const int32_t *ids, size_t nids) {
    if (c->n >= WC_MAX_ENTRIES || c->keys.n > (64u << 20)) tok_wc_clear(c);
    size_t i = h & (c->cap - 1);
    while (c->e[i].nids != UINT32_MAX) i = (i + 1) & (c->cap - 1);
    wc_ent *e = &c->e[i];
    e->h = h;
    e->koff = (uint32_t)c->keys.n;
    e->klen = (uint32_t)n;
    sb_add(&c->keys, k, n);
    e->ioff = (uint32_t)c->ids.n;
    e->nids = (uint32_t)nids;
    for (size_t j = 0; j < nids; j++) ib_add(&c->ids, ids[j]);
    c->n++;
}
