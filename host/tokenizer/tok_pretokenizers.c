/* Pre-tokenizers (HF tokenizers::pre_tokenizers): ByteLevel, Split,
 * Metaspace, Sequence; BertPreTokenizer and WhitespaceSplit are in
 * tok_encoders.c. */
#include "tokenizer/tok_internal.h"

char tok_bl_map[256][3];
unsigned char tok_bl_len[256];
void tok_bytelevel_init(void) {
    static int done = 0;
    if (done) return;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int cp;
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) cp = b;
        else cp = 256 + n++;
        tok_bl_len[b] = (unsigned char)utf8proc_encode_char(cp, (utf8proc_uint8_t *)tok_bl_map[b]);
    }
    done = 1;
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
    while (pos < n && tok_rx_next(rx, s, n, pos, &ms, &me)) {
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
                sb_add(&out->s, tok_bl_map[c], tok_bl_len[c]);
            }
            p->len = out->s.n - p->off;
        }
    }
    free(m.r);
    free(r.r);
}


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
                sb_add(&out->s, tok_bl_map[c], tok_bl_len[c]);
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

void tok_pret_apply(ll_tokenizer *t, const pretnode *nd, plist *in, plist *out) {
    if (nd->type == P_SEQ) {
        plist a = {0}, b = {0};
        for (size_t i = 0; i < in->n; i++) pl_push(&a, in->s.p + in->p[i].off, in->p[i].len, in->p[i].id, in->p[i].start);
        for (int k = 0; k < nd->nkids; k++) {
            pl_clear(&b);
            tok_pret_apply(t, &nd->kids[k], &a, &b);
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
