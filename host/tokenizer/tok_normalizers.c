/* Normalizers (HF tokenizers::normalizers): Unicode forms, Lowercase, Strip,
 * Prepend, Replace, Sequence; BertNormalizer and Precompiled are in
 * tok_encoders.c. */
#include "tokenizer/tok_internal.h"

/* ------------------------------------------------------------------ */
/* normalizers                                                         */


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

void tok_norm_apply(ll_tokenizer *t, const normnode *nd, const char *s, size_t n, sbuf *out) {
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
        while (pos < n && tok_rx_next((regex_t_ *)&nd->rx, s, n, pos, &ms, &me)) {
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
            tok_norm_apply(t, &nd->kids[i], a.p, a.n, &b);
            sbuf tmp = a; a = b; b = tmp;
        }
        sb_add(out, a.p, a.n);
        free(a.p);
        free(b.p);
        return;
    }
    }
}
