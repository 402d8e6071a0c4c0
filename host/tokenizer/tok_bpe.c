/* Models (HF tokenizers::models): BPE (merge_word with a heap of merge
 * candidates), the dispatch to WordPiece / Unigram (tok_encoders.c), and the
 * word cache in front of them. */
#include "tokenizer/tok_internal.h"

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
        int32_t id = kn == 1 && (unsigned char)key[0] < 128 ? t->ascii_ids[(unsigned char)key[0]] : tok_sm_get(&t->vocab, key, kn);
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
        const pm_ent *e = tok_pm_get(&t->merges, S[i].id, S[i + 1].id);
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
            const pm_ent *e2 = tok_pm_get(&t->merges, S[cur.prev].id, cur.id);
            if (e2) heap_push(t, &hn, e2->rank, cur.prev, e2->id, S[cur.prev].id, cur.id);
        }
        if (cur.next >= 0) {
            const pm_ent *e3 = tok_pm_get(&t->merges, cur.id, S[cur.next].id);
            if (e3) heap_push(t, &hn, e3->rank, top.pos, e3->id, cur.id, S[cur.next].id);
        }
    }
    for (size_t i = 0; i < ns; i++) if (S[i].len) ib_add(out, S[i].id);
    return 0;
}

static int32_t vocab_get(const void *vocab, const char *k, size_t n) { return tok_sm_get(vocab, k, n); }

/* one pre-token through the model (no cache) */
static int model_word(ll_tokenizer *t, const char *w, size_t n, ibuf *out) {
    if (t->model_kind == M_WORDPIECE) return ll_wordpiece_word(&t->wp, w, n, vocab_get, &t->vocab, out, t->name);
    if (t->model_kind == M_UNIGRAM) return ll_unigram_word(&t->uni, w, n, vocab_get, &t->vocab, out, t->name);
    return bpe_word(t, w, n, out);
}

int tok_model_tokenize(ll_tokenizer *t, const char *w, size_t n, ibuf *out) {
    if (n == 0) return 0;
    if (t->ignore_merges) {
        int32_t id = tok_sm_get(&t->vocab, w, n);
        if (id >= 0) { ib_add(out, id); return 0; }
    }
    if (n > WC_MAX_WORD) return model_word(t, w, n, out);
    uint64_t h = tok_hash_bytes(w, n);
    const wc_ent *e = tok_wc_get(&t->cache, w, n, h);
    if (e) {
        for (uint32_t i = 0; i < e->nids; i++) ib_add(out, t->cache.ids.v[e->ioff + i]);
        return 0;
    }
    size_t before = out->n;
    if (model_word(t, w, n, out) != 0) return -1;
    /* out->v is NULL when nothing was ever added (a word that gives no ids) */
    tok_wc_put(&t->cache, w, n, h, out->n > before ? out->v + before : NULL, out->n - before);
    return 0;
}
