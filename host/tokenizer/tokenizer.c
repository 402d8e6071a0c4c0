/* HF tokenizer.json tokenizer.  Mirrors huggingface/tokenizers (Rust):
 *   AddedVocabulary::extract_and_normalize -> PreTokenizer -> Model -> PostProcessor
 * See tokenizer.h and docs/tokenizer.md.
 *
 * This file: encode (the pipeline: added tokens, normalizer,
 * pre-tokenizer, model, truncation, post-processor) and the lookups.  The
 * stages live in their own files (tok_internal.h lists them). */
#include "tokenizer/tok_internal.h"

/* ------------------------------------------------------------------ */
/* encode                                                              */

int ll_tokenizer_encode(ll_tokenizer *t, const char *text, size_t len, int add_special, int max_length,
                        int32_t **ids, int *n) {
    *ids = NULL;
    *n = 0;
    tok_rx_error = 0;
    size_t clen;
    char *clean = ll_utf8_sanitize(text, len, &clen, 0);
    const char *s = clean ? clean : text;
    plist *a = &t->la, *b = &t->lb;
    pl_clear(a);
    pl_clear(b);
    /* 1. non-normalized added tokens on the raw text */
    tok_extract_added(t, &t->set_raw, s, clen, 1, a);
    /* 2. normalize the other pieces, then the normalized added tokens */
    for (size_t i = 0; i < a->n; i++) {
        piece p = a->p[i];
        const char *ps = a->s.p + p.off;
        if (p.id >= 0) { pl_push(b, ps, p.len, p.id, p.start); continue; }
        if (t->norm) {
            sb_clear(&t->t2);
            sb_add(&t->t2, "", 0);
            t->norm_cut_front = 0;
            tok_norm_apply(t, t->norm, ps, p.len, &t->t2);
            tok_extract_added(t, &t->set_norm, t->t2.p, t->t2.n, p.start && !t->norm_cut_front, b);
        } else {
            tok_extract_added(t, &t->set_norm, ps, p.len, p.start, b);
        }
    }
    /* 3. pre-tokenize */
    plist *pre = b;
    if (t->pret) {
        pl_clear(a);
        tok_pret_apply(t, t->pret, b, a);
        pre = a;
    }
    if (tok_rx_error) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(tok_rx_error, msg, sizeof msg) < 0) strcpy((char *)msg, "?");
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
        if (tok_model_tokenize(t, pre->s.p + p.off, p.len, o) != 0) { free(clean); return -1; }
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

int ll_tokenizer_vocab_size(const ll_tokenizer *t) { return t->vocab_size; }
int ll_tokenizer_num_special(const ll_tokenizer *t) { return t->n_special; }
int32_t ll_tokenizer_token_to_id(const ll_tokenizer *t, const char *tok) {
    int32_t id = tok_sm_get(&t->added_map, tok, strlen(tok));
    if (id >= 0) return id;
    return tok_sm_get(&t->vocab, tok, strlen(tok));
}
const char *ll_tokenizer_id_to_token(const ll_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->vocab_size) return NULL;
    return t->id2tok[id];
}
