/* The parts of host/tokenizer/ that its files share (internal: nothing
 * outside host/tokenizer/ includes this).  The tokenizer follows HF
 * tokenizers' own modules, one file each:
 *   tok_hash.c          the tables keyed by text (SipHash-2-4 under a
 *                       per-process key), the merge-pair table, the word cache
 *   tok_text.c          UTF-8 sanitising, the regex engine (PCRE2 made to
 *                       match like Oniguruma)
 *   tok_normalizers.c   normalizers (NFC/NFD/NFKC/NFKD, Strip, Prepend,
 *                       Replace, Sequence; BERT and Precompiled in tok_encoders.c)
 *   tok_added.c         the added vocabulary (AddedVocabulary::find_matches)
 *   tok_pretokenizers.c pre-tokenizers (ByteLevel, Split, Metaspace, Sequence;
 *                       BERT and WhitespaceSplit in tok_encoders.c)
 *   tok_bpe.c           models: BPE, and the dispatch to WordPiece / Unigram
 *                       (tok_encoders.c) through the word cache
 *   tok_load.c          the JSON loader (tokenizer.json, or a GGUF model's)
 *                       and the post-processors' special ids
 *   tokenizer.c         encode (the pipeline) and the lookups */
#ifndef LL_TOK_INTERNAL_H
#define LL_TOK_INTERNAL_H
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "core/ll_util.h"
#include "tokenizer/tok_encoders.h"
#include "tokenizer/tokenizer.h"

/* ---- byte and id buffers, UTF-8 helpers ---- */
typedef ll_tbuf sbuf;
static inline void sb_reserve(sbuf *b, size_t extra) {
    if (b->n + extra + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + extra + 1) c *= 2;
        b->p = ll_xrealloc(b->p, c);
        b->cap = c;
    }
}
static inline void sb_add(sbuf *b, const char *s, size_t n) {
    sb_reserve(b, n);
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static inline void sb_clear(sbuf *b) { b->n = 0; if (b->p) b->p[0] = 0; }

typedef ll_ibuf ibuf;
static inline void ib_add(ibuf *b, int32_t x) { ll_ibuf_add(b, x); }

static inline int utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return 4;
}
static inline int32_t utf8_decode(const char *s, size_t n, int *len) {
    int32_t cp;
    utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &cp);
    if (l <= 0) { *len = 1; return 0xFFFD; }
    *len = (int)l;
    return cp;
}
/* start of the last code point of s[0..n) */
static inline size_t utf8_last_start(const char *s, size_t n) {
    size_t i = n;
    while (i > 0) {
        i--;
        if (((unsigned char)s[i] & 0xC0) != 0x80) break;
    }
    return i;
}
/* Rust char::is_whitespace (Unicode White_Space) */
static inline int is_ws(int32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}
/* Rust regex \w (HF's single_word check uses ^\w / \w$): Alphabetic, marks,
 * decimal digits, connector punctuation, Join_Control */
static inline int is_word_cp(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_MN && k <= UTF8PROC_CATEGORY_ME) || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_PC || c == 0x200C || c == 0x200D ||
           /* Other_Alphabetic symbols (circled / squared letters, category So) */
           (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
           (c >= 0x1F170 && c <= 0x1F189);
}


/* ---- hash tables (tok_hash.c) ---- */
/* SipHash-2-4 of n bytes under the process's key */
uint64_t tok_hash_bytes(const void *p, size_t n);
typedef struct { const char *k; uint32_t klen; int32_t v; } sm_ent;
typedef struct { sm_ent *e; size_t cap, n; } strmap;
typedef struct { uint64_t key; uint32_t rank; int32_t id; } pm_ent;
typedef struct { pm_ent *e; size_t cap, n; } pairmap;
#define PM_EMPTY UINT64_MAX
/* word -> ids cache */
typedef struct { uint64_t h; uint32_t koff, klen, ioff, nids; } wc_ent;
typedef struct {
    wc_ent *e; size_t cap, n;
    sbuf keys; ibuf ids;
} wcache;
#define WC_CAP (1u << 17)
#define WC_MAX_ENTRIES (1u << 16)
#define WC_MAX_WORD 256
void tok_sm_init(strmap *m, size_t expect);
int32_t tok_sm_get(const strmap *m, const char *k, size_t n);
/* key memory must outlive the map */
void tok_sm_put(strmap *m, const char *k, size_t n, int32_t v);
void tok_pm_init(pairmap *m, size_t expect);
void tok_pm_put(pairmap *m, uint64_t key, uint32_t rank, int32_t id);
const pm_ent *tok_pm_get(const pairmap *m, int32_t a, int32_t b);
void tok_wc_clear(wcache *c);
const wc_ent *tok_wc_get(const wcache *c, const char *k, size_t n, uint64_t h);
void tok_wc_put(wcache *c, const char *k, size_t n, uint64_t h, const int32_t *ids, size_t nids);

/* ---- regex (tok_text.c: PCRE2, UTF + UCP, JIT) ---- */
typedef struct {
    pcre2_code *re;
    pcre2_match_data *md;
} regex_t_;
/* pattern (literal: a plain string) compiled; -1 + error naming `name` */
int tok_rx_compile(regex_t_ *r, const char *pat, size_t n, int literal, const char *name);
void tok_rx_free(regex_t_ *r);
/* next non-empty match at or after pos; returns 1 and [ms, me) or 0 */
int tok_rx_next(regex_t_ *r, const char *s, size_t n, size_t pos, size_t *ms, size_t *me);
/* A matching error other than "no match" (PCRE2's match or depth limit,
 * reached by a catastrophically backtracking pattern) is recorded here and
 * fails the encoding: treating it as "no match" would silently change the ids. */
extern _Thread_local int tok_rx_error;

/* ---- pieces ---- */
/* ------------------------------------------------------------------ */
/* pieces                                                              */

typedef struct { size_t off, len; int32_t id; int start; } piece;
typedef struct { sbuf s; piece *p; size_t n, cap; } plist;
static inline void pl_clear(plist *l) { sb_clear(&l->s); l->n = 0; }
static inline void pl_push(plist *l, const char *s, size_t len, int32_t id, int start) {
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
static inline void pl_free(plist *l) { free(l->s.p); free(l->p); }

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

/* ---- the pipeline's stages ---- */
/* normalizers (tok_normalizers.c): appends nd(s[0..n)) to out */
void tok_norm_apply(ll_tokenizer *t, const normnode *nd, const char *s, size_t n, sbuf *out);
/* added vocabulary (tok_added.c) */
void tok_addset_build(addset *s);
void tok_addset_free(addset *s);
/* Splits s (a piece with original-start flag `start`) on the added tokens
 * of set into out, as AddedVocabulary::find_matches does. */
void tok_extract_added(ll_tokenizer *t, const addset *set, const char *s, size_t n, int start, plist *out);
/* pre-tokenizers (tok_pretokenizers.c); ByteLevel's byte-to-character map */
extern char tok_bl_map[256][3];
extern unsigned char tok_bl_len[256];
void tok_bytelevel_init(void);
void tok_pret_apply(ll_tokenizer *t, const pretnode *nd, plist *in, plist *out);
/* models (tok_bpe.c): one pre-token's ids appended to out, through the word cache */
int tok_model_tokenize(ll_tokenizer *t, const char *w, size_t n, ibuf *out);
#endif
