/* Text primitives of the tokenizer: UTF-8 sanitising (ll_utf8_sanitize,
 * tokenizer.h) and the regex engine (tok_internal.h). */
#include "tokenizer/tok_internal.h"

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
/* regex (PCRE2, UTF + UCP, JIT)                                       */


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

int tok_rx_compile(regex_t_ *r, const char *pat, size_t n, int literal, const char *name) {
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
void tok_rx_free(regex_t_ *r) {
    if (r->md) pcre2_match_data_free(r->md);
    if (r->re) pcre2_code_free(r->re);
}
/* A matching error other than "no match" (PCRE2's match or depth limit,
 * reached by a catastrophically backtracking pattern) is recorded here and
 * fails the encoding: treating it as "no match" would silently change the ids. */
_Thread_local int tok_rx_error;

/* next non-empty match at or after *pos; returns 1 and [ms, me) or 0 */
int tok_rx_next(regex_t_ *r, const char *s, size_t n, size_t pos, size_t *ms, size_t *me) {
    while (pos <= n) {
        int rc = pcre2_match(r->re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, r->md, NULL);
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH && !tok_rx_error) tok_rx_error = rc;
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
