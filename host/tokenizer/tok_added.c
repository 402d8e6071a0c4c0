/* The added vocabulary (HF tokenizers::AddedVocabulary): matching sets and
 * the split of a text on the added tokens. */
#include "tokenizer/tok_internal.h"

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
void tok_addset_build(addset *s) {
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
void tok_addset_free(addset *s) {
    for (int i = 0; i < s->n; i++) free(s->pat[i]);
    free(s->pat); free(s->patn); free(s->tok); free(s->order);
}

/* Splits s (a piece with original-start flag `start`) on the added tokens
 * of set into out, as AddedVocabulary::find_matches does. */
void tok_extract_added(ll_tokenizer *t, const addset *set, const char *s, size_t n, int start, plist *out) {
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
