/* HF tokenizer.json BPE tokenizer.  Mirrors huggingface/tokenizers (Rust):
 *   AddedVocabulary::extract_and_normalize -> PreTokenizer -> BPE -> PostProcessor
 * See tokenizer.h and docs/tokenizer.md. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/tokenizer.h"

#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include <pthread.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>
#include "core/ll_util.h"
#include "io/gguf.h"
#include "tokenizer/tok_encoders.h"

/* ------------------------------------------------------------------ */
/* small utilities                                                     */

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
static uint64_t hash_bytes(const void *p, size_t n) {
    pthread_once(&g_hash_once, hash_key_init);
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, p, (unsigned long long)n, g_hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

typedef ll_tbuf sbuf;
static void sb_reserve(sbuf *b, size_t extra) {
    if (b->n + extra + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + extra + 1) c *= 2;
        b->p = ll_xrealloc(b->p, c);
        b->cap = c;
    }
}
static void sb_add(sbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_clear(sbuf *b) { b->n = 0; if (b->p) b->p[0] = 0; }

typedef ll_ibuf ibuf;
static void ib_add(ibuf *b, int32_t x) { ll_ibuf_add(b, x); }

static int utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return 4;
}
static int32_t utf8_decode(const char *s, size_t n, int *len) {
    int32_t cp;
    utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &cp);
    if (l <= 0) { *len = 1; return 0xFFFD; }
    *len = (int)l;
    return cp;
}
/* start of the last code point of s[0..n) */
static size_t utf8_last_start(const char *s, size_t n) {
    size_t i = n;
    while (i > 0) {
        i--;
        if (((unsigned char)s[i] & 0xC0) != 0x80) break;
    }
    return i;
}
/* Rust char::is_whitespace (Unicode White_Space) */
static int is_ws(int32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}
/* Rust regex \w (HF's single_word check uses ^\w / \w$): Alphabetic, marks,
 * decimal digits, connector punctuation, Join_Control */
static int is_word_cp(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_ME) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC || c == 0x200C || c == 0x200D ||
           /* Other_Alphabetic symbols (circled / squared letters, category So) */
           (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
           (c >= 0x1F170 && c <= 0x1F189);
}

/* Python bytes.decode('utf-8', 'replace'): each maximal ill-formed subpart -> U+FFFD */
char *ll_utf8_sanitize(const char *s, size_t len, size_t *out_len, int copy) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    /* fast scan */
    int bad = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80) { i++; continue; }
        int need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; lo = 0xA0; }
        else if (c == 0xED) { need = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) need = 2;
        else if (c == 0xF0) { need = 3; lo = 0x90; }
        else if (c == 0xF4) { need = 3; hi = 0x8F; }
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else { bad = 1; break; }
        size_t k = 1;
        for (; k <= (size_t)need; k++) {
            if (i + k >= len) break;
            unsigned char d = u[i + k];
            unsigned char l2 = k == 1 ? lo : 0x80, h2 = k == 1 ? hi : 0xBF;
            if (d < l2 || d > h2) break;
        }
        if (k <= (size_t)need) { bad = 1; break; }
        i += need + 1;
    }
    if (!bad && !copy) { *out_len = len; return NULL; }
    sbuf b = {0};
    sb_reserve(&b, len + 16);
    sb_add(&b, s, i);
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80) { sb_add(&b, (const char *)u + i, 1); i++; continue; }
        int need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; lo = 0xA0; }
        else if (c == 0xED) { need = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) need = 2;
        else if (c == 0xF0) { need = 3; lo = 0x90; }
        else if (c == 0xF4) { need = 3; hi = 0x8F; }
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else { sb_add(&b, "\xEF\xBF\xBD", 3); i++; continue; }
        size_t k = 1;
        for (; k <= (size_t)need; k++) {
            if (i + k >= len) break;
            unsigned char d = u[i + k];
            unsigned char l2 = k == 1 ? lo : 0x80, h2 = k == 1 ? hi : 0xBF;
            if (d < l2 || d > h2) break;
        }
        if (k <= (size_t)need) { sb_add(&b, "\xEF\xBF\xBD", 3); i += k; continue; }
        sb_add(&b, (const char *)u + i, need + 1);
        i += need + 1;
    }
    if (!b.p) sb_reserve(&b, 0);
    *out_len = b.n;
    return b.p;
}

/* ------------------------------------------------------------------ */
/* hash maps                                                           */

typedef struct { const char *k; uint32_t klen; int32_t v; } sm_ent;
typedef struct { sm_ent *e; size_t cap, n; } strmap;

static void sm_init(strmap *m, size_t expect) {
    size_t c = 64;
    while (c < expect * 2) c *= 2;
    m->e = ll_xcalloc(c, sizeof *m->e);
    m->cap = c;
    m->n = 0;
}
static int32_t sm_get(const strmap *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    size_t i = hash_bytes(k, n) & (m->cap - 1);
    for (;;) {
        const sm_ent *e = &m->e[i];
        if (!e->k) return -1;
        if (e->klen == n && memcmp(e->k, k, n) == 0) return e->v;
        i = (i + 1) & (m->cap - 1);
    }
}
static void sm_put(strmap *m, const char *k, size_t n, int32_t v); 
static void sm_grow(strmap *m) {
    strmap old = *m;
    sm_init(m, old.cap);
    for (size_t i = 0; i < old.cap; i++)
        if (old.e[i].k) sm_put(m, old.e[i].k, old.e[i].klen, old.e[i].v);
    free(old.e);
}
/* key memory must outlive the map */
static void sm_put(strmap *m, const char *k, size_t n, int32_t v) {
    if ((m->n + 1) * 2 > m->cap) sm_grow(m);
    size_t i = hash_bytes(k, n) & (m->cap - 1);
    for (;;) {
        sm_ent *e = &m->e[i];
        if (!e->k) { e->k = k; e->klen = (uint32_t)n; e->v = v; m->n++; return; }
        if (e->klen == n && memcmp(e->k, k, n) == 0) { e->v = v; return; }
        i = (i + 1) & (m->cap - 1);
    }
}

typedef struct { uint64_t key; uint32_t rank; int32_t id; } pm_ent;
typedef struct { pm_ent *e; size_t cap, n; } pairmap;
#define PM_EMPTY UINT64_MAX
static uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}
static void pm_init(pairmap *m, size_t expect) {
    size_t c = 64;
    while (c < expect * 2) c *= 2;
    m->e = ll_xmalloc(c * sizeof *m->e);
    for (size_t i = 0; i < c; i++) m->e[i].key = PM_EMPTY;
    m->cap = c;
    m->n = 0;
}
static void pm_put(pairmap *m, uint64_t key, uint32_t rank, int32_t id) {
    size_t i = mix64(key) & (m->cap - 1);
    for (;;) {
        pm_ent *e = &m->e[i];
        if (e->key == PM_EMPTY) { e->key = key; e->rank = rank; e->id = id; m->n++; return; }
        if (e->key == key) { e->rank = rank; e->id = id; return; } /* later merge wins, as HashMap::collect */
        i = (i + 1) & (m->cap - 1);
    }
}
static const pm_ent *pm_get(const pairmap *m, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = mix64(key) & (m->cap - 1);
    for (;;) {
        const pm_ent *e = &m->e[i];
        if (e->key == PM_EMPTY) return NULL;
        if (e->key == key) return e;
        i = (i + 1) & (m->cap - 1);
    }
}

/* word -> ids cache */
typedef struct { uint64_t h; uint32_t koff, klen, ioff, nids; } wc_ent;
typedef struct {
    wc_ent *e; size_t cap, n;
    sbuf keys; ibuf ids;
} wcache;
#define WC_CAP (1u << 17)
#define WC_MAX_ENTRIES (1u << 16)
#define WC_MAX_WORD 256
static void wc_clear(wcache *c) {
    if (!c->e) c->e = ll_xmalloc(WC_CAP * sizeof *c->e);
    c->cap = WC_CAP;
    for (size_t i = 0; i < c->cap; i++) c->e[i].nids = UINT32_MAX;
    c->n = 0;
    sb_clear(&c->keys);
    c->ids.n = 0;
}
static const wc_ent *wc_get(const wcache *c, const char *k, size_t n, uint64_t h) {
    size_t i = h & (c->cap - 1);
    for (;;) {
        const wc_ent *e = &c->e[i];
        if (e->nids == UINT32_MAX) return NULL;
        if (e->h == h && e->klen == n && memcmp(c->keys.p + e->koff, k, n) == 0) return e;
        i = (i + 1) & (c->cap - 1);
    }
}
static void wc_put(wcache *c, const char *k, size_t n, uint64_t h, const int32_t *ids, size_t nids) {
    if (c->n >= WC_MAX_ENTRIES || c->keys.n > (64u << 20)) wc_clear(c);
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

/* ------------------------------------------------------------------ */
/* regex (PCRE2, UTF + UCP, JIT)                                       */

typedef struct {
    pcre2_code *re;
    pcre2_match_data *md;
} regex_t_;

/* PCRE2 counts U+180E MONGOLIAN VOWEL SEPARATOR as \s (its \h list keeps
 * it, from before Unicode 6.3); Oniguruma, the engine of HF tokenizers, does
 * not.  Rewrite the pattern so that they agree:
 *   \s -> [^\S\x{180E}]        \S -> [\S\x{180E}]
 *   [..\s..]  -> (?:(?!\x{180E})[..\s..])
 *   [^..\s..] -> (?:[^..\s..]|\x{180E}) */
static void onig_compat(const char *pat, size_t n, sbuf *out) {
    for (size_t i = 0; i < n; i++) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            const char *rep = NULL;
            if (pat[i + 1] == 's') rep = "[^\\S\\x{180E}]";
            else if (pat[i + 1] == 'S') rep = "[\\S\\x{180E}]";
            if (rep) sb_add(out, rep, strlen(rep));
            else sb_add(out, pat + i, 2);
            i++;
            continue;
        }
        if (c == '[') {
            /* find the end of the class */
            size_t j = i + 1;
            int neg = 0, has_s = 0;
            if (j < n && pat[j] == '^') { neg = 1; j++; }
            if (j < n && pat[j] == ']') j++;
            for (; j < n && pat[j] != ']'; j++) {
                if (pat[j] == '\\' && j + 1 < n) { if (pat[j + 1] == 's') has_s = 1; j++; }
                else if (pat[j] == '[' && j + 1 < n && pat[j + 1] == ':') { /* [:posix:] */
                    const char *e = strstr(pat + j + 2, ":]");
                    if (e && (size_t)(e - pat) < n) j = (size_t)(e - pat) + 1;
                }
            }
            if (j >= n || !has_s) { sb_add(out, pat + i, (j < n ? j + 1 : n) - i); i = j < n ? j : n; continue; }
            if (neg) {
                sb_add(out, "(?:", 3);
                sb_add(out, pat + i, j + 1 - i);
                sb_add(out, "|\\x{180E})", 10);
            } else {
                sb_add(out, "(?:(?!\\x{180E})", 15);
                sb_add(out, pat + i, j + 1 - i);
                sb_add(out, ")", 1);
            }
            i = j;
            continue;
        }
        sb_add(out, pat + i, 1);
    }
}

static int rx_compile(regex_t_ *r, const char *pat, size_t n, int literal, const char *name) {
    int err;
    PCRE2_SIZE off;
    uint32_t opt = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    sbuf rw = {0};
    if (!literal) onig_compat(pat, n, &rw);
    r->re = pcre2_compile((PCRE2_SPTR)(literal ? pat : rw.p ? rw.p : ""), literal ? n : rw.n, opt, &err, &off, NULL);
    free(rw.p);
    if (!r->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        ll_set_error("%s: cannot compile regex '%.60s': %s", name, pat, (char *)msg);
        return -1;
    }
    pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    r->md = pcre2_match_data_create_from_pattern(r->re, NULL);
    return 0;
}
static void rx_free(regex_t_ *r) {
    if (r->md) pcre2_match_data_free(r->md);
    if (r->re) pcre2_code_free(r->re);
}
/* A matching error other than "no match" (PCRE2's match or depth limit,
 * reached by a catastrophically backtracking pattern) is recorded here and
 * fails the encoding: treating it as "no match" would silently change the ids. */
static _Thread_local int g_rx_error;

/* next non-empty match at or after *pos; returns 1 and [ms, me) or 0 */
static int rx_next(regex_t_ *r, const char *s, size_t n, size_t pos, size_t *ms, size_t *me) {
    while (pos <= n) {
        int rc = pcre2_match(r->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, r->md, NULL);
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH && !g_rx_error) g_rx_error = rc;
            return 0;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        if (ov[1] > ov[0]) { *ms = ov[0]; *me = ov[1]; return 1; }
        /* empty match: skip one character */
        pos = ov[0];
        if (pos >= n) return 0;
        pos += utf8_len((unsigned char)s[pos]);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* pieces                                                              */

typedef struct { size_t off, len; int32_t id; int start; } piece;
typedef struct { sbuf s; piece *p; size_t n, cap; } plist;
static void pl_clear(plist *l) { sb_clear(&l->s); l->n = 0; }
static void pl_push(plist *l, const char *s, size_t len, int32_t id, int start) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->p = ll_xrealloc(l->p, l->cap * sizeof *l->p);
    }
    piece *p = &l->p[l->n++];
    p->off = l->s.n;
    p->len = len;
    p->id = id;
    p->start = start;
    sb_add(&l->s, s, len);
}
static void pl_free(plist *l) { free(l->s.p); free(l->p); }

/* ------------------------------------------------------------------ */
/* components                                                          */

enum { N_NFC, N_NFD, N_NFKC, N_NFKD, N_PREPEND, N_REPLACE, N_SEQ, N_BERT, N_STRIP, N_LOWERCASE, N_PRECOMPILED };
typedef struct normnode {
    int type;
    ll_bert_norm bert;         /* BertNormalizer */
    int strip_left, strip_right; /* Strip */
    ll_precompiled pc;         /* Precompiled */
    char *str;   /* prepend / replace content */
    size_t strn;
    regex_t_ rx; /* replace pattern */
    int nkids;
    struct normnode *kids;
} normnode;

enum { B_REMOVED, B_ISOLATED, B_MERGED_PREV, B_MERGED_NEXT, B_CONTIGUOUS };
enum { P_BYTELEVEL, P_SPLIT, P_METASPACE, P_SEQ, P_BERT, P_WSSPLIT };
enum { M_BPE, M_WORDPIECE, M_UNIGRAM };
enum { PS_ALWAYS, PS_NEVER, PS_FIRST };
typedef struct pretnode {
    int type;
    int add_prefix_space, use_regex;  /* ByteLevel */
    regex_t_ rx; int behavior, invert; /* Split (and ByteLevel's regex) */
    char rep[8]; size_t repn; int prepend_scheme, split; /* Metaspace */
    int nkids;
    struct pretnode *kids;
} pretnode;

typedef struct {
    char *content; size_t len;
    int32_t id;
    int normalized, lstrip, rstrip, single_word, special;
} added_tok;

typedef struct {
    int n;           /* tokens */
    int *order;      /* indices sorted by first byte then length desc */
    int first[257];  /* bucket start per first byte */
    char **pat; size_t *patn; /* pattern per token index (normalized content) */
    int *tok;        /* token index */
} addset;

struct ll_tokenizer {
    char *name;
    /* model */
    int model_kind;      /* M_BPE, M_WORDPIECE, M_UNIGRAM */
    ll_wordpiece wp;     /* WordPiece (prefix = cs_prefix) */
    ll_unigram uni;      /* Unigram */
    int norm_cut_front;  /* set when a normaliser (Strip) removed the first characters of a piece */
    strmap vocab;
    char **id2tok;       /* model vocab + added */
    int vocab_size;      /* 1 + max id */
    pairmap merges;
    int byte_fallback, ignore_merges, fuse_unk;
    int32_t unk_id;      /* -1 when none */
    char *unk_token;
    char *cs_prefix; size_t cs_prefix_n;
    char *eow_suffix; size_t eow_suffix_n;
    int32_t byte_ids[256]; /* <0xAB> ids, -1 if absent */
    /* added tokens */
    added_tok *added; int nadded;
    strmap added_map;
    addset set_raw, set_norm;
    /* pipeline */
    normnode *norm;
    pretnode *pret;
    ibuf pre_ids, post_ids; int n_special;
    /* scratch */
    plist la, lb;
    sbuf t1, t2;
    ibuf out, wids;
    wcache cache;
    struct sym { int32_t id; int prev, next, len; } *syms; size_t syms_cap;
    struct hent { uint32_t rank; int pos; int32_t id, left, right; } *heap; size_t heap_cap;
    int32_t ascii_ids[128]; /* vocab id of each one-byte token, -1 if none */
};

static char bl_map[256][3];
static unsigned char bl_len[256];
static void bytelevel_init(void) {
    static int done = 0;
    if (done) return;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int cp;
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) cp = b;
        else cp = 256 + n++;
        bl_len[b] = (unsigned char)utf8proc_encode_char(cp, (utf8proc_uint8_t *)bl_map[b]);
    }
    done = 1;
}

/* ------------------------------------------------------------------ */
/* normalizers                                                         */

static void norm_apply(ll_tokenizer *t, const normnode *nd, const char *s, size_t n, sbuf *out);

static void norm_unicode(int type, const char *s, size_t n, sbuf *out) {
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0x80) i++;
    if (i == n) { sb_add(out, s, n); return; }
    int opt = UTF8PROC_STABLE;
    if (type == N_NFC) opt |= UTF8PROC_COMPOSE;
    else if (type == N_NFD) opt |= UTF8PROC_DECOMPOSE;
    else if (type == N_NFKC) opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    else opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
    if (opt & UTF8PROC_COMPOSE) {
        /* utf8proc composes an LV syllable with U+11A7 (= its TBase, which is
         * not a trailing consonant) and drops the U+11A7.  U+11A7 is a starter
         * that composes with nothing, so normalise around it. */
        const char *p = memmem(s, n, "\xE1\x86\xA7", 3);
        if (p) {
            size_t a = (size_t)(p - s);
            norm_unicode(type, s, a, out);
            sb_add(out, p, 3);
            norm_unicode(type, p + 3, n - a - 3, out);
            return;
        }
    }
    utf8proc_uint8_t *res = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &res, (utf8proc_option_t)opt);
    if (r < 0) { sb_add(out, s, n); return; } /* cannot happen on valid UTF-8 */
    sb_add(out, (const char *)res, (size_t)r);
    free(res);
}

static void norm_apply(ll_tokenizer *t, const normnode *nd, const char *s, size_t n, sbuf *out) {
    switch (nd->type) {
    case N_NFC: case N_NFD: case N_NFKC: case N_NFKD: norm_unicode(nd->type, s, n, out); return;
    case N_BERT: ll_bert_normalize(&nd->bert, s, n, out); return;
    case N_PRECOMPILED: ll_precompiled_normalize(&nd->pc, s, n, out); return;
    case N_LOWERCASE: {
        const ll_bert_norm lc = {0, 0, 0, 1};
        ll_bert_normalize(&lc, s, n, out);
        return;
    }
    case N_STRIP: {
        size_t a = 0, b = n;
        while (nd->strip_left && a < b) {
            int l;
            int32_t c = utf8_decode(s + a, b - a, &l);
            if (!ll_is_rust_whitespace(c)) break;
            a += (size_t)l;
        }
        if (a > 0) t->norm_cut_front = 1; /* the piece no longer starts at its original offset */
        while (nd->strip_right && b > a) {
            size_t st = utf8_last_start(s + a, b - a) + a;
            int l;
            int32_t c = utf8_decode(s + st, b - st, &l);
            if (!ll_is_rust_whitespace(c)) break;
            b = st;
        }
        sb_add(out, s + a, b - a);
        return;
    }
    case N_PREPEND:
        if (n) sb_add(out, nd->str, nd->strn);
        sb_add(out, s, n);
        return;
    case N_REPLACE: {
        size_t pos = 0, ms, me;
        while (pos < n && rx_next((regex_t_ *)&nd->rx, s, n, pos, &ms, &me)) {
            sb_add(out, s + pos, ms - pos);
            sb_add(out, nd->str, nd->strn);
            pos = me;
        }
        sb_add(out, s + pos, n - pos);
        return;
    }
    case N_SEQ: {
        sbuf a = {0}, b = {0};
        sb_add(&a, s, n);
        for (int i = 0; i < nd->nkids; i++) {
            sb_clear(&b);
            sb_add(&b, "", 0);
            norm_apply(t, &nd->kids[i], a.p, a.n, &b);
            sbuf tmp = a; a = b; b = tmp;
        }
        sb_add(out, a.p, a.n);
        free(a.p);
        free(b.p);
        return;
    }
    }
}

/* ------------------------------------------------------------------ */
/* added tokens                                                        */

static addset *g_sort_set;
static int cmp_set(const void *a, const void *b) {
    const addset *s = g_sort_set;
    int i = *(const int *)a, j = *(const int *)b;
    unsigned char fi = (unsigned char)s->pat[i][0], fj = (unsigned char)s->pat[j][0];
    if (fi != fj) return fi < fj ? -1 : 1;
    if (s->patn[i] != s->patn[j]) return s->patn[i] > s->patn[j] ? -1 : 1;
    return i - j;
}
static void addset_build(addset *s) {
    s->order = ll_xmalloc((s->n + 1) * sizeof(int));
    for (int i = 0; i < s->n; i++) s->order[i] = i;
    g_sort_set = s;
    qsort(s->order, s->n, sizeof(int), cmp_set);
    int k = 0;
    for (int b = 0; b < 256; b++) {
        s->first[b] = k;
        while (k < s->n && (unsigned char)s->pat[s->order[k]][0] == b) k++;
    }
    s->first[256] = s->n;
}
static void addset_free(addset *s) {
    for (int i = 0; i < s->n; i++) free(s->pat[i]);
    free(s->pat); free(s->patn); free(s->tok); free(s->order);
}

/* Splits s (a piece with original-start flag `start`) on the added tokens
 * of set into out, as AddedVocabulary::find_matches does. */
static void extract_added(ll_tokenizer *t, const addset *set, const char *s, size_t n, int start, plist *out) {
    if (set->n == 0 || n == 0) { if (n) pl_push(out, s, n, -1, start); return; }
    size_t pos = 0, start_off = 0;
    while (pos < n) {
        unsigned char c = (unsigned char)s[pos];
        int found = -1;
        for (int k = set->first[c]; k < set->first[c + 1]; k++) {
            int i = set->order[k];
            if (set->patn[i] <= n - pos && memcmp(s + pos, set->pat[i], set->patn[i]) == 0) { found = i; break; }
        }
        if (found < 0) { pos++; continue; }
        size_t ms = pos, me = pos + set->patn[found];
        pos = me; /* the matcher continues after the match, whatever happens below */
        const added_tok *at = &t->added[set->tok[found]];
        if (at->single_word) {
            int sp_start = 1, sp_stop = 1;
            if (ms > 0) {
                int l;
                size_t ls = utf8_last_start(s, ms);
                if (is_word_cp(utf8_decode(s + ls, ms - ls, &l))) sp_start = 0;
            }
            if (me < n) {
                int l;
                if (is_word_cp(utf8_decode(s + me, n - me, &l))) sp_stop = 0;
            }
            if (!sp_start || !sp_stop) continue;
        }
        size_t st = ms, sp = me;
        if (at->lstrip) {
            size_t ns = ms;
            while (ns > 0) {
                size_t ls = utf8_last_start(s, ns);
                int l;
                if (!is_ws(utf8_decode(s + ls, ns - ls, &l))) break;
                ns = ls;
            }
            st = ns > start_off ? ns : start_off;
        }
        if (at->rstrip) {
            while (sp < n) {
                int l;
                int32_t cp = utf8_decode(s + sp, n - sp, &l);
                if (!is_ws(cp)) break;
                sp += l;
            }
        }
        if (st < start_off) st = start_off; /* overlap after an rstrip: keep pieces ordered */
        if (start_off < st) pl_push(out, s + start_off, st - start_off, -1, start && start_off == 0);
        pl_push(out, s + st, sp - st, at->id, start && st == 0);
        start_off = sp;
        if (pos < sp) pos = sp;
    }
    if (start_off < n) pl_push(out, s + start_off, n - start_off, -1, start && start_off == 0);
}

/* ------------------------------------------------------------------ */
/* pre-tokenizers                                                      */

typedef struct { size_t a, b; int m; } rng;
typedef struct { rng *r; size_t n, cap; } rlist;
static void rl_push(rlist *l, size_t a, size_t b, int m) {
    if (l->n == l->cap) { l->cap = l->cap ? l->cap * 2 : 64; l->r = ll_xrealloc(l->r, l->cap * sizeof *l->r); }
    l->r[l->n].a = a; l->r[l->n].b = b; l->r[l->n].m = m; l->n++;
}

/* NormalizedString::split(pattern, behavior) on s; pushes the (non-empty)
 * pieces to out. */
static void split_pattern(regex_t_ *rx, int behavior, int invert, const char *s, size_t n, int start,
                          plist *out, int bytelevel) {
    rlist m = {0}, r = {0};
    size_t pos = 0, ms, me, prev = 0;
    if (n == 0) return;
    while (pos < n && rx_next(rx, s, n, pos, &ms, &me)) {
        if (prev != ms) rl_push(&m, prev, ms, 0);
        rl_push(&m, ms, me, 1);
        prev = me;
        pos = me;
    }
    if (prev != n) rl_push(&m, prev, n, 0);
    if (invert) for (size_t i = 0; i < m.n; i++) m.r[i].m = !m.r[i].m;
    switch (behavior) {
    case B_REMOVED:
        for (size_t i = 0; i < m.n; i++) if (!m.r[i].m) rl_push(&r, m.r[i].a, m.r[i].b, 0);
        break;
    case B_ISOLATED:
        for (size_t i = 0; i < m.n; i++) rl_push(&r, m.r[i].a, m.r[i].b, 0);
        break;
    case B_MERGED_PREV: {
        int prevm = 0;
        for (size_t i = 0; i < m.n; i++) {
            if (m.r[i].m && !prevm) {
                if (r.n) r.r[r.n - 1].b = m.r[i].b;
                else rl_push(&r, m.r[i].a, m.r[i].b, 1);
            } else rl_push(&r, m.r[i].a, m.r[i].b, 0);
            prevm = m.r[i].m;
        }
        break;
    }
    case B_MERGED_NEXT: {
        int prevm = 0;
        for (size_t k = m.n; k-- > 0;) {
            if (m.r[k].m && !prevm) {
                if (r.n) r.r[r.n - 1].a = m.r[k].a;
                else rl_push(&r, m.r[k].a, m.r[k].b, 1);
            } else rl_push(&r, m.r[k].a, m.r[k].b, 0);
            prevm = m.r[k].m;
        }
        for (size_t i = 0, j = r.n ? r.n - 1 : 0; i < j; i++, j--) { rng tmp = r.r[i]; r.r[i] = r.r[j]; r.r[j] = tmp; }
        break;
    }
    case B_CONTIGUOUS: {
        int prevm = 0;
        for (size_t i = 0; i < m.n; i++) {
            if (m.r[i].m == prevm && r.n) r.r[r.n - 1].b = m.r[i].b;
            else if (m.r[i].m == prevm) rl_push(&r, m.r[i].a, m.r[i].b, 0);
            else rl_push(&r, m.r[i].a, m.r[i].b, 0);
            prevm = m.r[i].m;
        }
        break;
    }
    }
    for (size_t i = 0; i < r.n; i++) {
        if (r.r[i].b <= r.r[i].a) continue;
        int st = start && r.r[i].a == 0;
        if (!bytelevel) pl_push(out, s + r.r[i].a, r.r[i].b - r.r[i].a, -1, st);
        else {
            /* byte map while pushing */
            pl_push(out, "", 0, -1, st);
            piece *p = &out->p[out->n - 1];
            for (size_t j = r.r[i].a; j < r.r[i].b; j++) {
                unsigned char c = (unsigned char)s[j];
                sb_add(&out->s, bl_map[c], bl_len[c]);
            }
            p->len = out->s.n - p->off;
        }
    }
    free(m.r);
    free(r.r);
}

static void pret_apply(ll_tokenizer *t, const pretnode *nd, plist *in, plist *out);

typedef struct { plist *out; const char *s; int start; } emit_ctx;
static void emit_range(void *ud, size_t off, size_t len) {
    emit_ctx *e = ud;
    pl_push(e->out, e->s + off, len, -1, e->start && off == 0);
}

static void pret_piece(ll_tokenizer *t, const pretnode *nd, const char *s, size_t n, int start, plist *out) {
    switch (nd->type) {
    case P_BYTELEVEL: {
        const char *src = s;
        size_t sn = n;
        sbuf *tmp = &t->t1;
        if (nd->add_prefix_space && !(n > 0 && s[0] == ' ')) {
            sb_clear(tmp);
            sb_add(tmp, " ", 1);
            sb_add(tmp, s, n);
            src = tmp->p;
            sn = tmp->n;
        }
        if (nd->use_regex) split_pattern((regex_t_ *)&nd->rx, B_ISOLATED, 0, src, sn, start, out, 1);
        else if (sn) {
            pl_push(out, "", 0, -1, start);
            piece *p = &out->p[out->n - 1];
            for (size_t j = 0; j < sn; j++) {
                unsigned char c = (unsigned char)src[j];
                sb_add(&out->s, bl_map[c], bl_len[c]);
            }
            p->len = out->s.n - p->off;
        }
        return;
    }
    case P_SPLIT: split_pattern((regex_t_ *)&nd->rx, nd->behavior, nd->invert, s, n, start, out, 0); return;
    case P_BERT: case P_WSSPLIT: {
        emit_ctx e = {out, s, start};
        if (nd->type == P_BERT) ll_bert_pretokenize(s, n, emit_range, &e);
        else ll_whitespace_split(s, n, emit_range, &e);
        return;
    }
    case P_METASPACE: {
        sbuf *b = &t->t1;
        sb_clear(b);
        int pre = 0;
        int starts_rep = n >= nd->repn && memcmp(s, nd->rep, nd->repn) == 0;
        int starts_sp = n > 0 && s[0] == ' ';
        if (nd->prepend_scheme == PS_ALWAYS) pre = !(starts_rep || starts_sp);
        else if (nd->prepend_scheme == PS_FIRST) pre = !(starts_rep || starts_sp) && start;
        if (pre) sb_add(b, nd->rep, nd->repn);
        for (size_t i = 0; i < n; i++) {
            if (s[i] == ' ') sb_add(b, nd->rep, nd->repn);
            else sb_add(b, s + i, 1);
        }
        if (!b->n) return;
        if (!nd->split) { pl_push(out, b->p, b->n, -1, start); return; }
        /* MergedWithNext on the replacement character */
        size_t a = 0;
        for (size_t i = 0; i + nd->repn <= b->n; i++) {
            if (i > a && memcmp(b->p + i, nd->rep, nd->repn) == 0) {
                pl_push(out, b->p + a, i - a, -1, start && a == 0);
                a = i;
            }
        }
        if (a < b->n) pl_push(out, b->p + a, b->n - a, -1, start && a == 0);
        return;
    }
    }
}

static void pret_apply(ll_tokenizer *t, const pretnode *nd, plist *in, plist *out) {
    if (nd->type == P_SEQ) {
        plist a = {0}, b = {0};
        for (size_t i = 0; i < in->n; i++) pl_push(&a, in->s.p + in->p[i].off, in->p[i].len, in->p[i].id, in->p[i].start);
        for (int k = 0; k < nd->nkids; k++) {
            pl_clear(&b);
            pret_apply(t, &nd->kids[k], &a, &b);
            plist tmp = a; a = b; b = tmp;
        }
        for (size_t i = 0; i < a.n; i++) pl_push(out, a.s.p + a.p[i].off, a.p[i].len, a.p[i].id, a.p[i].start);
        pl_free(&a);
        pl_free(&b);
        return;
    }
    for (size_t i = 0; i < in->n; i++) {
        piece p = in->p[i];
        if (p.id >= 0) { pl_push(out, in->s.p + p.off, p.len, p.id, p.start); continue; }
        pret_piece(t, nd, in->s.p + p.off, p.len, p.start, out);
    }
}

/* ------------------------------------------------------------------ */
/* BPE                                                                 */

static int heap_less(const struct hent *a, const struct hent *b) {
    if (a->rank != b->rank) return a->rank < b->rank;
    return a->pos < b->pos;
}
static void heap_push(ll_tokenizer *t, size_t *hn, uint32_t rank, int pos, int32_t id, int32_t left, int32_t right) {
    if (*hn == t->heap_cap) {
        t->heap_cap = t->heap_cap ? t->heap_cap * 2 : 256;
        t->heap = ll_xrealloc(t->heap, t->heap_cap * sizeof *t->heap);
    }
    struct hent e = {rank, pos, id, left, right};
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&e, &t->heap[p])) break;
        t->heap[i] = t->heap[p];
        i = p;
    }
    t->heap[i] = e;
}
static struct hent heap_pop(ll_tokenizer *t, size_t *hn) {
    struct hent top = t->heap[0];
    struct hent last = t->heap[--(*hn)];
    size_t i = 0, n = *hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_less(&t->heap[c + 1], &t->heap[c])) c++;
        if (!heap_less(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n) t->heap[i] = last;
    return top;
}

static void sym_push(ll_tokenizer *t, size_t *ns, int32_t id, int len) {
    if (*ns == t->syms_cap) {
        t->syms_cap = t->syms_cap ? t->syms_cap * 2 : 256;
        t->syms = ll_xrealloc(t->syms, t->syms_cap * sizeof *t->syms);
    }
    t->syms[*ns].id = id;
    t->syms[*ns].len = len;
    (*ns)++;
}

/* BPE::merge_word + Word::merge_all; appends ids to out */
static int bpe_word(ll_tokenizer *t, const char *w, size_t n, ibuf *out) {
    size_t ns = 0;
    int have_unk = 0;
    int32_t unk_id = -1;
    int unk_len = 0;
    sbuf *b = &t->t2;
    for (size_t i = 0; i < n;) {
        int cl = utf8_len((unsigned char)w[i]);
        if (i + cl > n) cl = (int)(n - i);
        int is_first = i == 0, is_last = i + cl >= n;
        const char *key = w + i;
        size_t kn = cl;
        if ((!is_first && t->cs_prefix_n) || (is_last && t->eow_suffix_n)) {
            sb_clear(b);
            if (!is_first && t->cs_prefix_n) sb_add(b, t->cs_prefix, t->cs_prefix_n);
            sb_add(b, w + i, cl);
            if (is_last && t->eow_suffix_n) sb_add(b, t->eow_suffix, t->eow_suffix_n);
            key = b->p;
            kn = b->n;
        }
        int32_t id = kn == 1 && (unsigned char)key[0] < 128 ? t->ascii_ids[(unsigned char)key[0]] : sm_get(&t->vocab, key, kn);
        if (id >= 0) {
            if (have_unk) { sym_push(t, &ns, unk_id, unk_len); have_unk = 0; }
            sym_push(t, &ns, id, cl);
        } else {
            int done = 0;
            if (t->byte_fallback) {
                int ok = 1;
                for (size_t j = 0; j < kn; j++) if (t->byte_ids[(unsigned char)key[j]] < 0) ok = 0;
                if (ok) {
                    for (size_t j = 0; j < kn; j++) sym_push(t, &ns, t->byte_ids[(unsigned char)key[j]], 1);
                    done = 1;
                }
            }
            if (!done) {
                if (t->unk_token) {
                    if (t->unk_id < 0) {
                        ll_set_error("%s: unk_token '%s' is not in the vocab", t->name, t->unk_token);
                        return -1;
                    }
                    if (have_unk && t->fuse_unk) unk_len += cl;
                    else {
                        if (have_unk) sym_push(t, &ns, unk_id, unk_len);
                        have_unk = 1; unk_id = t->unk_id; unk_len = cl;
                    }
                }
                /* no unk token: the character is dropped, as HF does */
            }
        }
        i += cl;
    }
    if (have_unk) sym_push(t, &ns, unk_id, unk_len);
    if (ns == 0) return 0;
    struct sym *S = t->syms;
    for (size_t i = 0; i < ns; i++) {
        S[i].prev = (int)i - 1;
        S[i].next = i + 1 < ns ? (int)i + 1 : -1;
    }
    size_t hn = 0;
    for (size_t i = 0; i + 1 < ns; i++) {
        const pm_ent *e = pm_get(&t->merges, S[i].id, S[i + 1].id);
        if (e) heap_push(t, &hn, e->rank, (int)i, e->id, S[i].id, S[i + 1].id);
    }
    while (hn) {
        struct hent top = heap_pop(t, &hn);
        S = t->syms;
        if (S[top.pos].len == 0 || S[top.pos].next == -1) continue;
        int np = S[top.pos].next;
        struct sym right = S[np];
        /* stale entry? the pair (left, right) determines the merge */
        if (S[top.pos].id != top.left || right.id != top.right) continue;
        S[top.pos].id = top.id;
        S[top.pos].len += right.len;
        S[top.pos].next = right.next;
        S[np].len = 0;
        if (right.next >= 0) S[right.next].prev = top.pos;
        struct sym cur = S[top.pos];
        if (cur.prev >= 0) {
            const pm_ent *e2 = pm_get(&t->merges, S[cur.prev].id, cur.id);
            if (e2) heap_push(t, &hn, e2->rank, cur.prev, e2->id, S[cur.prev].id, cur.id);
        }
        if (cur.next >= 0) {
            const pm_ent *e3 = pm_get(&t->merges, cur.id, S[cur.next].id);
            if (e3) heap_push(t, &hn, e3->rank, top.pos, e3->id, cur.id, S[cur.next].id);
        }
    }
    for (size_t i = 0; i < ns; i++) if (S[i].len) ib_add(out, S[i].id);
    return 0;
}

static int32_t vocab_get(const void *vocab, const char *k, size_t n) { return sm_get(vocab, k, n); }

/* one pre-token through the model (no cache) */
static int model_word(ll_tokenizer *t, const char *w, size_t n, ibuf *out) {
    if (t->model_kind == M_WORDPIECE) return ll_wordpiece_word(&t->wp, w, n, vocab_get, &t->vocab, out, t->name);
    if (t->model_kind == M_UNIGRAM) return ll_unigram_word(&t->uni, w, n, vocab_get, &t->vocab, out, t->name);
    return bpe_word(t, w, n, out);
}

static int model_tokenize(ll_tokenizer *t, const char *w, size_t n, ibuf *out) {
    if (n == 0) return 0;
    if (t->ignore_merges) {
        int32_t id = sm_get(&t->vocab, w, n);
        if (id >= 0) { ib_add(out, id); return 0; }
    }
    if (n > WC_MAX_WORD) return model_word(t, w, n, out);
    uint64_t h = hash_bytes(w, n);
    const wc_ent *e = wc_get(&t->cache, w, n, h);
    if (e) {
        for (uint32_t i = 0; i < e->nids; i++) ib_add(out, t->cache.ids.v[e->ioff + i]);
        return 0;
    }
    size_t before = out->n;
    if (model_word(t, w, n, out) != 0) return -1;
    /* out->v is NULL when nothing was ever added (a word that gives no ids) */
    wc_put(&t->cache, w, n, h, out->n > before ? out->v + before : NULL, out->n - before);
    return 0;
}

/* ------------------------------------------------------------------ */
/* encode                                                              */

int ll_tokenizer_encode(ll_tokenizer *t, const char *text, size_t len, int add_special, int max_length,
                        int32_t **ids, int *n) {
    *ids = NULL;
    *n = 0;
    g_rx_error = 0;
    size_t clen;
    char *clean = ll_utf8_sanitize(text, len, &clen, 0);
    const char *s = clean ? clean : text;
    plist *a = &t->la, *b = &t->lb;
    pl_clear(a);
    pl_clear(b);
    /* 1. non-normalized added tokens on the raw text */
    extract_added(t, &t->set_raw, s, clen, 1, a);
    /* 2. normalize the other pieces, then the normalized added tokens */
    for (size_t i = 0; i < a->n; i++) {
        piece p = a->p[i];
        const char *ps = a->s.p + p.off;
        if (p.id >= 0) { pl_push(b, ps, p.len, p.id, p.start); continue; }
        if (t->norm) {
            sb_clear(&t->t2);
            sb_add(&t->t2, "", 0);
            t->norm_cut_front = 0;
            norm_apply(t, t->norm, ps, p.len, &t->t2);
            extract_added(t, &t->set_norm, t->t2.p, t->t2.n, p.start && !t->norm_cut_front, b);
        } else {
            extract_added(t, &t->set_norm, ps, p.len, p.start, b);
        }
    }
    /* 3. pre-tokenize */
    plist *pre = b;
    if (t->pret) {
        pl_clear(a);
        pret_apply(t, t->pret, b, a);
        pre = a;
    }
    if (g_rx_error) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(g_rx_error, msg, sizeof msg) < 0) strcpy((char *)msg, "?");
        ll_set_error("%s: a regex of the normalizer or pre-tokenizer failed on a %zu-byte text (%s); its ids would be wrong",
                     t->name, len, (const char *)msg);
        free(clean);
        return -1;
    }
    /* 4. model */
    ibuf *o = &t->out;
    o->n = 0;
    for (size_t i = 0; i < pre->n; i++) {
        piece p = pre->p[i];
        if (p.id >= 0) { ib_add(o, p.id); continue; }
        if (model_tokenize(t, pre->s.p + p.off, p.len, o) != 0) { free(clean); return -1; }
    }
    free(clean);
    /* 5. truncation + post-processing */
    size_t keep = o->n;
    int nsp = add_special ? t->n_special : 0;
    if (max_length > 0) {
        if (max_length < nsp) {
            ll_set_error("%s: max_length %d is smaller than the %d special tokens", t->name, max_length, nsp);
            return -1;
        }
        if (keep > (size_t)(max_length - nsp)) keep = (size_t)(max_length - nsp);
    }
    size_t total = keep + (size_t)nsp;
    int32_t *r = ll_xmalloc((total ? total : 1) * sizeof *r);
    size_t k = 0;
    if (add_special) for (size_t i = 0; i < t->pre_ids.n; i++) r[k++] = t->pre_ids.v[i];
    if (keep) memcpy(r + k, o->v, keep * sizeof *r); /* o->v is NULL when nothing was encoded yet */
    k += keep;
    if (add_special) for (size_t i = 0; i < t->post_ids.n; i++) r[k++] = t->post_ids.v[i];
    *ids = r;
    *n = (int)k;
    return 0;
}

/* ------------------------------------------------------------------ */
/* loading                                                             */

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
/* 1 / 0 for booleans; dflt when absent or null; -1 on wrong type */
static int jbool(const cJSON *o, const char *k, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v)) return dflt;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return -1;
}
static int jint(const cJSON *v, int32_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (d != floor(d) || d < 0 || d > INT32_MAX) return -1;
    *out = (int32_t)d;
    return 0;
}

static int load_pattern(ll_tokenizer *t, const cJSON *pat, regex_t_ *rx, const char *where) {
    if (!cJSON_IsObject(pat)) { ll_set_error("%s: %s.pattern must be an object", t->name, where); return -1; }
    const char *re = jstr(pat, "Regex"), *st = jstr(pat, "String");
    if (re) return rx_compile(rx, re, strlen(re), 0, t->name);
    if (st) return rx_compile(rx, st, strlen(st), 1, t->name);
    ll_set_error("%s: %s.pattern needs a \"Regex\" or \"String\"", t->name, where);
    return -1;
}

static void norm_free(normnode *n) {
    if (!n) return;
    free(n->str);
    rx_free(&n->rx);
    ll_precompiled_free(&n->pc);
    for (int i = 0; i < n->nkids; i++) norm_free(&n->kids[i]);
    free(n->kids);
}
static int load_norm(ll_tokenizer *t, const cJSON *j, normnode *nd) {
    memset(nd, 0, sizeof *nd);
    const char *ty = cJSON_IsObject(j) ? jstr(j, "type") : NULL;
    if (!ty) { ll_set_error("%s: normalizer must be an object with a \"type\"", t->name); return -1; }
    if (!strcmp(ty, "NFC")) nd->type = N_NFC;
    else if (!strcmp(ty, "NFD")) nd->type = N_NFD;
    else if (!strcmp(ty, "NFKC")) nd->type = N_NFKC;
    else if (!strcmp(ty, "NFKD")) nd->type = N_NFKD;
    else if (!strcmp(ty, "Lowercase")) nd->type = N_LOWERCASE;
    else if (!strcmp(ty, "Precompiled")) {
        nd->type = N_PRECOMPILED;
        const char *cm = jstr(j, "precompiled_charsmap");
        if (!cm) { ll_set_error("%s: normalizer Precompiled needs a string \"precompiled_charsmap\"", t->name); return -1; }
        if (ll_precompiled_init(&nd->pc, cm, t->name) != 0) return -1;
    }
    else if (!strcmp(ty, "BertNormalizer")) {
        nd->type = N_BERT;
        int ct = jbool(j, "clean_text", 1), cc = jbool(j, "handle_chinese_chars", 1), lc = jbool(j, "lowercase", 1);
        int sa = jbool(j, "strip_accents", -2); /* null / absent: follows lowercase */
        if (ct < 0 || cc < 0 || lc < 0 || sa == -1) {
            ll_set_error("%s: normalizer BertNormalizer: clean_text/handle_chinese_chars/strip_accents/lowercase must be booleans", t->name);
            return -1;
        }
        nd->bert.clean_text = ct; nd->bert.handle_chinese_chars = cc; nd->bert.lowercase = lc;
        nd->bert.strip_accents = sa == -2 ? lc : sa;
    } else if (!strcmp(ty, "Strip")) {
        nd->type = N_STRIP;
        nd->strip_left = jbool(j, "strip_left", 1);
        nd->strip_right = jbool(j, "strip_right", 1);
        if (nd->strip_left < 0 || nd->strip_right < 0) { ll_set_error("%s: normalizer Strip: strip_left/strip_right must be booleans", t->name); return -1; }
    } else if (!strcmp(ty, "Prepend")) {
        nd->type = N_PREPEND;
        const char *p = jstr(j, "prepend");
        if (!p) { ll_set_error("%s: normalizer Prepend needs a string \"prepend\"", t->name); return -1; }
        nd->str = ll_xstrdup(p); nd->strn = strlen(p);
    } else if (!strcmp(ty, "Replace")) {
        nd->type = N_REPLACE;
        const char *c = jstr(j, "content");
        if (!c) { ll_set_error("%s: normalizer Replace needs a string \"content\"", t->name); return -1; }
        nd->str = ll_xstrdup(c); nd->strn = strlen(c);
        if (load_pattern(t, cJSON_GetObjectItemCaseSensitive(j, "pattern"), &nd->rx, "normalizer Replace") != 0) return -1;
    } else if (!strcmp(ty, "Sequence")) {
        nd->type = N_SEQ;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "normalizers");
        if (!cJSON_IsArray(arr)) { ll_set_error("%s: normalizer Sequence needs an array \"normalizers\"", t->name); return -1; }
        nd->nkids = cJSON_GetArraySize(arr);
        nd->kids = ll_xcalloc(nd->nkids ? nd->nkids : 1, sizeof *nd->kids);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) if (load_norm(t, it, &nd->kids[i++]) != 0) { nd->nkids = i; return -1; }
    } else {
        ll_set_error("%s: unsupported normalizer type '%s'", t->name, ty);
        return -1;
    }
    return 0;
}

static void pret_free(pretnode *n) {
    if (!n) return;
    rx_free(&n->rx);
    for (int i = 0; i < n->nkids; i++) pret_free(&n->kids[i]);
    free(n->kids);
}
static const char *GPT2_RE =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int load_pret(ll_tokenizer *t, const cJSON *j, pretnode *nd) {
    memset(nd, 0, sizeof *nd);
    const char *ty = cJSON_IsObject(j) ? jstr(j, "type") : NULL;
    if (!ty) { ll_set_error("%s: pre_tokenizer must be an object with a \"type\"", t->name); return -1; }
    if (!strcmp(ty, "ByteLevel")) {
        nd->type = P_BYTELEVEL;
        nd->add_prefix_space = jbool(j, "add_prefix_space", 1);
        nd->use_regex = jbool(j, "use_regex", 1);
        if (nd->add_prefix_space < 0 || nd->use_regex < 0) {
            ll_set_error("%s: pre_tokenizer ByteLevel: add_prefix_space/use_regex must be booleans", t->name);
            return -1;
        }
        if (nd->use_regex && rx_compile(&nd->rx, GPT2_RE, strlen(GPT2_RE), 0, t->name) != 0) return -1;
        bytelevel_init();
    } else if (!strcmp(ty, "BertPreTokenizer")) {
        nd->type = P_BERT;
    } else if (!strcmp(ty, "WhitespaceSplit")) {
        nd->type = P_WSSPLIT;
    } else if (!strcmp(ty, "Split")) {
        nd->type = P_SPLIT;
        const char *bh = jstr(j, "behavior");
        if (!bh) { ll_set_error("%s: pre_tokenizer Split needs a string \"behavior\"", t->name); return -1; }
        if (!strcmp(bh, "Removed")) nd->behavior = B_REMOVED;
        else if (!strcmp(bh, "Isolated")) nd->behavior = B_ISOLATED;
        else if (!strcmp(bh, "MergedWithPrevious")) nd->behavior = B_MERGED_PREV;
        else if (!strcmp(bh, "MergedWithNext")) nd->behavior = B_MERGED_NEXT;
        else if (!strcmp(bh, "Contiguous")) nd->behavior = B_CONTIGUOUS;
        else { ll_set_error("%s: pre_tokenizer Split: unknown behavior '%s'", t->name, bh); return -1; }
        nd->invert = jbool(j, "invert", 0);
        if (nd->invert < 0) { ll_set_error("%s: pre_tokenizer Split: invert must be a boolean", t->name); return -1; }
        if (load_pattern(t, cJSON_GetObjectItemCaseSensitive(j, "pattern"), &nd->rx, "pre_tokenizer Split") != 0) return -1;
    } else if (!strcmp(ty, "Metaspace")) {
        nd->type = P_METASPACE;
        const char *rep = jstr(j, "replacement");
        if (!rep) rep = jstr(j, "str_rep");
        if (!rep || !*rep || strlen(rep) > 4) { ll_set_error("%s: pre_tokenizer Metaspace needs a one-character \"replacement\"", t->name); return -1; }
        nd->repn = strlen(rep);
        memcpy(nd->rep, rep, nd->repn);
        const char *ps = jstr(j, "prepend_scheme");
        if (ps) {
            if (!strcmp(ps, "always")) nd->prepend_scheme = PS_ALWAYS;
            else if (!strcmp(ps, "never")) nd->prepend_scheme = PS_NEVER;
            else if (!strcmp(ps, "first")) nd->prepend_scheme = PS_FIRST;
            else { ll_set_error("%s: pre_tokenizer Metaspace: unknown prepend_scheme '%s'", t->name, ps); return -1; }
        } else {
            int ap = jbool(j, "add_prefix_space", 1);
            if (ap < 0) { ll_set_error("%s: pre_tokenizer Metaspace: add_prefix_space must be a boolean", t->name); return -1; }
            nd->prepend_scheme = ap ? PS_ALWAYS : PS_NEVER;
        }
        nd->split = jbool(j, "split", 1);
        if (nd->split < 0) { ll_set_error("%s: pre_tokenizer Metaspace: split must be a boolean", t->name); return -1; }
    } else if (!strcmp(ty, "Sequence")) {
        nd->type = P_SEQ;
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "pretokenizers");
        if (!cJSON_IsArray(arr)) { ll_set_error("%s: pre_tokenizer Sequence needs an array \"pretokenizers\"", t->name); return -1; }
        nd->nkids = cJSON_GetArraySize(arr);
        nd->kids = ll_xcalloc(nd->nkids ? nd->nkids : 1, sizeof *nd->kids);
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) if (load_pret(t, it, &nd->kids[i++]) != 0) { nd->nkids = i; return -1; }
    } else {
        ll_set_error("%s: unsupported pre_tokenizer type '%s'", t->name, ty);
        return -1;
    }
    return 0;
}

static int add_special_ids(ll_tokenizer *t, ibuf *dst, const cJSON *pair, const char *what) {
    /* ["</s>", 2] */
    int32_t id;
    if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || jint(cJSON_GetArrayItem(pair, 1), &id) != 0) {
        ll_set_error("%s: post_processor: \"%s\" must be [token, id]", t->name, what);
        return -1;
    }
    ib_add(dst, id);
    return 0;
}

static int load_post(ll_tokenizer *t, const cJSON *j) {
    const char *ty = cJSON_IsObject(j) ? jstr(j, "type") : NULL;
    if (!ty) { ll_set_error("%s: post_processor must be an object with a \"type\"", t->name); return -1; }
    if (!strcmp(ty, "ByteLevel")) return 0;
    if (!strcmp(ty, "Sequence")) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "processors");
        if (!cJSON_IsArray(arr)) { ll_set_error("%s: post_processor Sequence needs an array \"processors\"", t->name); return -1; }
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) if (load_post(t, it) != 0) return -1;
        return 0;
    }
    ibuf pre = {0}, post = {0};
    int rc = 0;
    if (!strcmp(ty, "RobertaProcessing") || !strcmp(ty, "BertProcessing")) {
        if (add_special_ids(t, &pre, cJSON_GetObjectItemCaseSensitive(j, "cls"), "cls") != 0 ||
            add_special_ids(t, &post, cJSON_GetObjectItemCaseSensitive(j, "sep"), "sep") != 0) rc = -1;
    } else if (!strcmp(ty, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
        if (!cJSON_IsArray(single) || (sp && !cJSON_IsObject(sp))) {
            ll_set_error("%s: post_processor TemplateProcessing needs an array \"single\" and an object \"special_tokens\"", t->name);
            rc = -1;
        } else {
            int seen_a = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, single) {
                const cJSON *stok = cJSON_GetObjectItemCaseSensitive(it, "SpecialToken");
                const cJSON *seq = cJSON_GetObjectItemCaseSensitive(it, "Sequence");
                if (seq) {
                    const char *sid = jstr(seq, "id");
                    if (!sid || strcmp(sid, "A") != 0 || seen_a) {
                        ll_set_error("%s: post_processor TemplateProcessing: \"single\" must use the sequence $A once", t->name);
                        rc = -1; break;
                    }
                    seen_a = 1;
                } else if (stok) {
                    const char *sid = jstr(stok, "id");
                    const cJSON *def = sid && sp ? cJSON_GetObjectItemCaseSensitive(sp, sid) : NULL;
                    const cJSON *idl = def ? cJSON_GetObjectItemCaseSensitive(def, "ids") : NULL;
                    if (!cJSON_IsArray(idl)) {
                        ll_set_error("%s: post_processor TemplateProcessing: special token '%s' is not in \"special_tokens\"", t->name, sid ? sid : "?");
                        rc = -1; break;
                    }
                    const cJSON *x;
                    cJSON_ArrayForEach(x, idl) {
                        int32_t id;
                        if (jint(x, &id) != 0) { ll_set_error("%s: post_processor TemplateProcessing: bad id for '%s'", t->name, sid); rc = -1; break; }
                        ib_add(seen_a ? &post : &pre, id);
                    }
                    if (rc) break;
                } else {
                    ll_set_error("%s: post_processor TemplateProcessing: bad item in \"single\"", t->name);
                    rc = -1; break;
                }
            }
            if (!rc && !seen_a) { ll_set_error("%s: post_processor TemplateProcessing: \"single\" has no $A", t->name); rc = -1; }
        }
    } else {
        ll_set_error("%s: unsupported post_processor type '%s'", t->name, ty);
        rc = -1;
    }
    if (rc == 0) {
        /* compose: this processor wraps what the previous ones produced */
        ibuf np = {0}, npost = {0};
        for (size_t i = 0; i < pre.n; i++) ib_add(&np, pre.v[i]);
        for (size_t i = 0; i < t->pre_ids.n; i++) ib_add(&np, t->pre_ids.v[i]);
        for (size_t i = 0; i < t->post_ids.n; i++) ib_add(&npost, t->post_ids.v[i]);
        for (size_t i = 0; i < post.n; i++) ib_add(&npost, post.v[i]);
        free(t->pre_ids.v); free(t->post_ids.v);
        t->pre_ids = np; t->post_ids = npost;
        t->n_special = (int)(np.n + npost.n);
    }
    free(pre.v); free(post.v);
    return rc;
}

/* {"token": id, ...} (BPE, WordPiece) */
static int load_vocab_object(ll_tokenizer *t, const cJSON *vocab) {
    int nv = cJSON_GetArraySize(vocab);
    sm_init(&t->vocab, (size_t)nv);
    int32_t maxid = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        int32_t id;
        if (jint(it, &id) != 0) { ll_set_error("%s: model.vocab['%.40s'] must be a non-negative integer", t->name, it->string); return -1; }
        /* the id table is dense: an id far beyond the number of entries would
         * make it mostly holes (a 40-byte file must not allocate 128 MB) */
        if (id > 16 * 1024 * 1024 || (int64_t)id >= 4 * (int64_t)nv + 1024) {
            ll_set_error("%s: model.vocab['%.40s']: id %d is too large for a vocabulary of %d entries", t->name, it->string, id, nv);
            return -1;
        }
        if (id > maxid) maxid = id;
    }
    t->vocab_size = maxid + 1;
    t->id2tok = ll_xcalloc((size_t)t->vocab_size + 1, sizeof(char *));
    cJSON_ArrayForEach(it, vocab) {
        int32_t id = 0;
        jint(it, &id);
        if (t->id2tok[id]) { ll_set_error("%s: model.vocab: id %d is used twice ('%.40s')", t->name, id, it->string); return -1; }
        t->id2tok[id] = ll_xstrdup(it->string);
        sm_put(&t->vocab, t->id2tok[id], strlen(t->id2tok[id]), id);
    }
    return 0;
}

/* WordPiece: vocab object, unk_token, continuing_subword_prefix, max_input_chars_per_word */
static int load_wordpiece(ll_tokenizer *t, const cJSON *m) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsObject(vocab)) { ll_set_error("%s: model.vocab must be an object", t->name); return -1; }
    if (load_vocab_object(t, vocab) != 0) return -1;
    t->model_kind = M_WORDPIECE;
    const char *unk = jstr(m, "unk_token");
    t->unk_token = ll_xstrdup(unk ? unk : "[UNK]");
    t->unk_id = sm_get(&t->vocab, t->unk_token, strlen(t->unk_token));
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(m, "continuing_subword_prefix");
    const char *pfx = pj ? jstr(m, "continuing_subword_prefix") : "##";
    if (pj && !pfx) { ll_set_error("%s: model.continuing_subword_prefix must be a string", t->name); return -1; }
    t->cs_prefix = ll_xstrdup(pfx);
    t->cs_prefix_n = strlen(pfx);
    int32_t mx = 100;
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(m, "max_input_chars_per_word");
    if (mj && !cJSON_IsNull(mj) && jint(mj, &mx) != 0) {
        ll_set_error("%s: model.max_input_chars_per_word must be a non-negative integer", t->name);
        return -1;
    }
    t->wp.prefix = t->cs_prefix;
    t->wp.prefix_n = t->cs_prefix_n;
    t->wp.max_chars = mx;
    t->wp.unk_id = t->unk_id;
    return 0;
}

/* Unigram: vocab [[piece, score], ...] (id = index), unk_id, byte_fallback */
static int load_unigram(ll_tokenizer *t, const cJSON *m) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    if (!cJSON_IsArray(vocab)) { ll_set_error("%s: model.vocab must be an array of [piece, score] (Unigram)", t->name); return -1; }
    int nv = cJSON_GetArraySize(vocab);
    if (nv > 16 * 1024 * 1024) { ll_set_error("%s: model.vocab: %d pieces is too many", t->name, nv); return -1; }
    t->model_kind = M_UNIGRAM;
    ll_unigram *u = &t->uni;
    u->n = nv;
    u->score = ll_xcalloc(nv ? (size_t)nv : 1, sizeof(double));
    sm_init(&t->vocab, (size_t)nv);
    t->vocab_size = nv;
    t->id2tok = ll_xcalloc((size_t)nv + 1, sizeof(char *));
    double min_score = 1e300;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab) {
        const cJSON *pc = cJSON_GetArrayItem(it, 0), *sc = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(pc) || !cJSON_IsNumber(sc)) {
            ll_set_error("%s: model.vocab[%d] must be [piece, score]", t->name, i);
            return -1;
        }
        t->id2tok[i] = ll_xstrdup(pc->valuestring);
        size_t ln = strlen(pc->valuestring);
        sm_put(&t->vocab, t->id2tok[i], ln, i); /* a repeated piece maps to its last id, as in HF */
        if (ln > u->max_piece) u->max_piece = ln;
        u->score[i] = sc->valuedouble;
        if (sc->valuedouble < min_score) min_score = sc->valuedouble;
        i++;
    }
    u->unk_score = (nv ? min_score : 0.0) - 10.0;
    u->fuse_unk = 1;
    u->unk_id = -1;
    const cJSON *uj = cJSON_GetObjectItemCaseSensitive(m, "unk_id");
    if (uj && !cJSON_IsNull(uj)) {
        int32_t id;
        if (jint(uj, &id) != 0 || id >= nv) { ll_set_error("%s: model.unk_id must be an id of the vocab", t->name); return -1; }
        u->unk_id = id;
    }
    t->unk_id = u->unk_id;
    int bf = jbool(m, "byte_fallback", 0);
    if (bf < 0) { ll_set_error("%s: model.byte_fallback must be a boolean", t->name); return -1; }
    u->byte_fallback = bf;
    for (int b = 0; b < 256; b++) {
        char k[8];
        snprintf(k, sizeof k, "<0x%02X>", b);
        u->byte_ids[b] = sm_get(&t->vocab, k, strlen(k));
    }
    return 0;
}

static int load_model(ll_tokenizer *t, const cJSON *m) {
    if (!cJSON_IsObject(m)) { ll_set_error("%s: missing \"model\" object", t->name); return -1; }
    const char *ty = jstr(m, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(m, "merges");
    if (ty && !strcmp(ty, "WordPiece")) return load_wordpiece(t, m);
    if (ty && !strcmp(ty, "Unigram")) return load_unigram(t, m);
    if (ty && strcmp(ty, "BPE") != 0) { ll_set_error("%s: unsupported model type '%s' (BPE, WordPiece, Unigram)", t->name, ty); return -1; }
    if (!ty && !merges) { ll_set_error("%s: model has no \"type\" and no \"merges\" (only BPE is supported)", t->name); return -1; }
    if (!cJSON_IsObject(vocab)) { ll_set_error("%s: model.vocab must be an object", t->name); return -1; }
    if (!cJSON_IsArray(merges)) { ll_set_error("%s: model.merges must be an array", t->name); return -1; }
    if (load_vocab_object(t, vocab) != 0) return -1;
    const cJSON *it;
    int bf = jbool(m, "byte_fallback", 0), im = jbool(m, "ignore_merges", 0), fu = jbool(m, "fuse_unk", 0);
    if (bf < 0 || im < 0 || fu < 0) { ll_set_error("%s: model: byte_fallback/ignore_merges/fuse_unk must be booleans", t->name); return -1; }
    t->byte_fallback = bf; t->ignore_merges = im; t->fuse_unk = fu;
    const cJSON *dr = cJSON_GetObjectItemCaseSensitive(m, "dropout");
    if (dr && !cJSON_IsNull(dr) && !(cJSON_IsNumber(dr) && dr->valuedouble == 0.0)) {
        ll_set_error("%s: unsupported BPE dropout (not deterministic)", t->name);
        return -1;
    }
    const char *unk = jstr(m, "unk_token");
    t->unk_token = unk ? ll_xstrdup(unk) : NULL;
    t->unk_id = unk ? sm_get(&t->vocab, unk, strlen(unk)) : -1;
    const char *pfx = jstr(m, "continuing_subword_prefix"), *sfx = jstr(m, "end_of_word_suffix");
    if (pfx && *pfx) { t->cs_prefix = ll_xstrdup(pfx); t->cs_prefix_n = strlen(pfx); }
    if (sfx && *sfx) { t->eow_suffix = ll_xstrdup(sfx); t->eow_suffix_n = strlen(sfx); }
    for (int b = 0; b < 128; b++) {
        char k[2] = {(char)b, 0};
        t->ascii_ids[b] = sm_get(&t->vocab, k, 1);
    }
    for (int b = 0; b < 256; b++) {
        char k[8];
        snprintf(k, sizeof k, "<0x%02X>", b);
        t->byte_ids[b] = sm_get(&t->vocab, k, strlen(k));
    }
    int nm = cJSON_GetArraySize(merges);
    pm_init(&t->merges, (size_t)nm);
    int rank = 0;
    sbuf tmp = {0};
    cJSON_ArrayForEach(it, merges) {
        const char *a, *bb;
        size_t an, bn;
        if (cJSON_IsString(it)) {
            const char *s = it->valuestring;
            if (!strncmp(s, "#version", 8)) continue;
            const char *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                ll_set_error("%s: model.merges[%d] ('%.60s') is not two tokens separated by one space", t->name, rank, s);
                free(tmp.p); return -1;
            }
            a = s; an = (size_t)(sp - s); bb = sp + 1; bn = strlen(bb);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
            a = cJSON_GetArrayItem(it, 0)->valuestring; an = strlen(a);
            bb = cJSON_GetArrayItem(it, 1)->valuestring; bn = strlen(bb);
        } else {
            ll_set_error("%s: model.merges[%d] must be a string \"a b\" or a pair [a, b]", t->name, rank);
            free(tmp.p); return -1;
        }
        int32_t ia = sm_get(&t->vocab, a, an), ib = sm_get(&t->vocab, bb, bn);
        if (ia < 0 || ib < 0) {
            ll_set_error("%s: model.merges[%d]: token '%.*s' is not in the vocab", t->name, rank,
                         (int)(ia < 0 ? an : bn), ia < 0 ? a : bb);
            free(tmp.p); return -1;
        }
        sb_clear(&tmp);
        sb_add(&tmp, a, an);
        size_t skip = t->cs_prefix_n && bn >= t->cs_prefix_n ? t->cs_prefix_n : 0;
        sb_add(&tmp, bb + skip, bn - skip);
        int32_t inew = sm_get(&t->vocab, tmp.p, tmp.n);
        if (inew < 0) {
            ll_set_error("%s: model.merges[%d]: merged token '%.60s' is not in the vocab", t->name, rank, tmp.p);
            free(tmp.p); return -1;
        }
        pm_put(&t->merges, ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib, (uint32_t)rank, inew);
        rank++;
    }
    free(tmp.p);
    return 0;
}

static int load_added(ll_tokenizer *t, const cJSON *arr) {
    if (!arr || cJSON_IsNull(arr)) return 0;
    if (!cJSON_IsArray(arr)) { ll_set_error("%s: added_tokens must be an array", t->name); return -1; }
    int n = cJSON_GetArraySize(arr);
    t->added = ll_xcalloc(n ? n : 1, sizeof *t->added);
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const char *c = cJSON_IsObject(it) ? jstr(it, "content") : NULL;
        int32_t id;
        if (!c || jint(cJSON_GetObjectItemCaseSensitive(it, "id"), &id) != 0) {
            ll_set_error("%s: added_tokens[%d] needs a string \"content\" and an integer \"id\"", t->name, k);
            return -1;
        }
        if (!*c) continue;
        /* as for the model vocab: ids within a dense table of what the file holds */
        int64_t idmax = 4 * ((int64_t)t->vocab.n + n) + 1024;
        if (id > 16 * 1024 * 1024 || (int64_t)id >= idmax) {
            ll_set_error("%s: added_tokens[%d]: id %d is too large for a vocabulary of %zu entries and %d added tokens",
                         t->name, k, id, t->vocab.n, n);
            return -1;
        }
        added_tok *a = &t->added[t->nadded];
        int norm_d = !(jbool(it, "special", 0) == 1);
        a->normalized = jbool(it, "normalized", norm_d);
        a->lstrip = jbool(it, "lstrip", 0);
        a->rstrip = jbool(it, "rstrip", 0);
        a->single_word = jbool(it, "single_word", 0);
        a->special = jbool(it, "special", 0);
        if (a->normalized < 0 || a->lstrip < 0 || a->rstrip < 0 || a->single_word < 0 || a->special < 0) {
            ll_set_error("%s: added_tokens[%d]: flags must be booleans", t->name, k);
            return -1;
        }
        /* a token already in the model vocab keeps its model id */
        int32_t mid = sm_get(&t->vocab, c, strlen(c));
        a->id = mid >= 0 ? mid : id;
        if (sm_get(&t->added_map, c, strlen(c)) >= 0) { k++; continue; } /* duplicate */
        a->content = ll_xstrdup(c);
        a->len = strlen(c);
        sm_put(&t->added_map, a->content, a->len, a->id);
        t->nadded++;
        k++;
    }
    /* id table */
    int32_t maxid = t->vocab_size - 1;
    for (int i = 0; i < t->nadded; i++) if (t->added[i].id > maxid) maxid = t->added[i].id;
    if (maxid >= t->vocab_size) {
        t->id2tok = ll_xrealloc(t->id2tok, ((size_t)maxid + 2) * sizeof(char *));
        for (int32_t i = t->vocab_size; i <= maxid + 1; i++) t->id2tok[i] = NULL;
        t->vocab_size = maxid + 1;
    }
    for (int i = 0; i < t->nadded; i++)
        if (!t->id2tok[t->added[i].id]) t->id2tok[t->added[i].id] = ll_xstrdup(t->added[i].content);
    /* matching sets */
    addset *sets[2] = {&t->set_raw, &t->set_norm};
    for (int s = 0; s < 2; s++) {
        addset *st = sets[s];
        st->pat = ll_xcalloc(t->nadded + 1, sizeof(char *));
        st->patn = ll_xcalloc(t->nadded + 1, sizeof(size_t));
        st->tok = ll_xcalloc(t->nadded + 1, sizeof(int));
    }
    for (int i = 0; i < t->nadded; i++) {
        added_tok *a = &t->added[i];
        addset *st = a->normalized ? &t->set_norm : &t->set_raw;
        sbuf p = {0};
        if (a->normalized && t->norm) norm_apply(t, t->norm, a->content, a->len, &p);
        else sb_add(&p, a->content, a->len);
        if (p.n == 0) { free(p.p); continue; }
        st->pat[st->n] = p.p;
        st->patn[st->n] = p.n;
        st->tok[st->n] = i;
        st->n++;
    }
    addset_build(&t->set_raw);
    addset_build(&t->set_norm);
    return 0;
}

void ll_tokenizer_free(ll_tokenizer *t) {
    if (!t) return;
    free(t->name);
    free(t->vocab.e);
    free(t->added_map.e);
    if (t->id2tok) for (int i = 0; i <= t->vocab_size; i++) free(t->id2tok[i]);
    free(t->id2tok);
    free(t->merges.e);
    free(t->unk_token); free(t->cs_prefix); free(t->eow_suffix);
    for (int i = 0; i < t->nadded; i++) free(t->added[i].content);
    free(t->added);
    if (t->set_raw.pat) addset_free(&t->set_raw);
    if (t->set_norm.pat) addset_free(&t->set_norm);
    if (t->norm) { norm_free(t->norm); free(t->norm); }
    if (t->pret) { pret_free(t->pret); free(t->pret); }
    free(t->pre_ids.v); free(t->post_ids.v);
    pl_free(&t->la); pl_free(&t->lb);
    free(t->t1.p); free(t->t2.p);
    free(t->out.v); free(t->wids.v);
    free(t->cache.e); free(t->cache.keys.p); free(t->cache.ids.v);
    free(t->syms); free(t->heap);
    ll_unigram_free(&t->uni);
    free(t);
}

ll_tokenizer *ll_tokenizer_load_json(const char *json, size_t len, const char *name) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        const char *e = cJSON_GetErrorPtr();
        size_t off = e && e >= json && e <= json + len ? (size_t)(e - json) : 0;
        size_t line = 1;
        for (size_t i = 0; i < off; i++) if (json[i] == '\n') line++;
        ll_set_error("%s:%zu: not valid JSON", name, line);
        return NULL;
    }
    ll_tokenizer *t = ll_xcalloc(1, sizeof *t);
    t->name = ll_xstrdup(name);
    sm_init(&t->added_map, 16);
    int rc = -1;
    if (!cJSON_IsObject(root)) { ll_set_error("%s: top level must be an object", name); goto done; }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!model) { ll_set_error("%s: missing \"model\"", name); goto done; }
    if (load_model(t, model) != 0) goto done;
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (nj && !cJSON_IsNull(nj)) {
        t->norm = ll_xcalloc(1, sizeof *t->norm);
        if (load_norm(t, nj, t->norm) != 0) goto done;
    }
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (pj && !cJSON_IsNull(pj)) {
        t->pret = ll_xcalloc(1, sizeof *t->pret);
        if (load_pret(t, pj, t->pret) != 0) goto done;
    }
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    if (pp && !cJSON_IsNull(pp) && load_post(t, pp) != 0) goto done;
    if (load_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens")) != 0) goto done;
    /* the post-processor's special ids count as ids too (HF emits them as
     * given): the id range covers them, within the same bound */
    {
        int32_t maxpost = -1;
        for (size_t i = 0; i < t->pre_ids.n; i++) if (t->pre_ids.v[i] > maxpost) maxpost = t->pre_ids.v[i];
        for (size_t i = 0; i < t->post_ids.n; i++) if (t->post_ids.v[i] > maxpost) maxpost = t->post_ids.v[i];
        if (maxpost >= t->vocab_size) {
            int64_t idmax = 4 * ((int64_t)t->vocab.n + t->nadded) + 1024;
            if (maxpost > 16 * 1024 * 1024 || (int64_t)maxpost >= idmax) {
                ll_set_error("%s: post_processor: special token id %d is too large for a vocabulary of %zu entries", name,
                             maxpost, t->vocab.n);
                goto done;
            }
            t->id2tok = ll_xrealloc(t->id2tok, ((size_t)maxpost + 2) * sizeof(char *));
            for (int32_t i = t->vocab_size; i <= maxpost + 1; i++) t->id2tok[i] = NULL;
            t->vocab_size = maxpost + 1;
        }
    }
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "truncation");
    (void)tr; /* ignored: truncation is a call parameter (max_length), as in transformers */
    wc_clear(&t->cache);
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc != 0) { ll_tokenizer_free(t); return NULL; }
    return t;
}

ll_tokenizer *ll_tokenizer_load(const char *path_or_dir) {
    char buf[4096];
    const char *path = path_or_dir;
    struct stat st;
    if (stat(path_or_dir, &st) == 0 && S_ISDIR(st.st_mode)) path = ll_path_join(buf, sizeof buf, path_or_dir, "tokenizer.json");
    size_t len;
    char *js;
    if (ll_is_gguf_path(path)) { /* a GGUF model: the tokenizer its metadata describes (host/io/gguf_meta.c) */
        ll_gguf g;
        if (ll_gguf_open(&g, path)) return NULL;
        js = ll_gguf_tokenizer_json(&g);
        ll_gguf_close(&g);
        len = js ? strlen(js) : 0;
    } else {
        js = ll_read_file(path, &len);
    }
    if (!js) return NULL;
    ll_tokenizer *t = ll_tokenizer_load_json(js, len, path);
    free(js);
    return t;
}

int ll_tokenizer_vocab_size(const ll_tokenizer *t) { return t->vocab_size; }
int ll_tokenizer_num_special(const ll_tokenizer *t) { return t->n_special; }
int32_t ll_tokenizer_token_to_id(const ll_tokenizer *t, const char *tok) {
    int32_t id = sm_get(&t->added_map, tok, strlen(tok));
    if (id >= 0) return id;
    return sm_get(&t->vocab, tok, strlen(tok));
}
const char *ll_tokenizer_id_to_token(const ll_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->vocab_size) return NULL;
    return t->id2tok[id];
}
