/* The JSON loader: tokenizer.json (or the one a GGUF model's metadata
 * describes) into an ll_tokenizer — model, normalizer, pre-tokenizer,
 * post-processor (its special ids), added tokens. */
#include <cJSON.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>
#include "io/gguf.h"
#include "tokenizer/tok_internal.h"

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
    if (re) return tok_rx_compile(rx, re, strlen(re), 0, t->name);
    if (st) return tok_rx_compile(rx, st, strlen(st), 1, t->name);
    ll_set_error("%s: %s.pattern needs a \"Regex\" or \"String\"", t->name, where);
    return -1;
}

static void norm_free(normnode *n) {
    if (!n) return;
    free(n->str);
    tok_rx_free(&n->rx);
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
    tok_rx_free(&n->rx);
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
        if (nd->use_regex && tok_rx_compile(&nd->rx, GPT2_RE, strlen(GPT2_RE), 0, t->name) != 0) return -1;
        tok_bytelevel_init();
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
    tok_sm_init(&t->vocab, (size_t)nv);
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
        tok_sm_put(&t->vocab, t->id2tok[id], strlen(t->id2tok[id]), id);
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
    t->unk_id = tok_sm_get(&t->vocab, t->unk_token, strlen(t->unk_token));
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
    tok_sm_init(&t->vocab, (size_t)nv);
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
        tok_sm_put(&t->vocab, t->id2tok[i], ln, i); /* a repeated piece maps to its last id, as in HF */
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
        u->byte_ids[b] = tok_sm_get(&t->vocab, k, strlen(k));
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
    t->unk_id = unk ? tok_sm_get(&t->vocab, unk, strlen(unk)) : -1;
    const char *pfx = jstr(m, "continuing_subword_prefix"), *sfx = jstr(m, "end_of_word_suffix");
    if (pfx && *pfx) { t->cs_prefix = ll_xstrdup(pfx); t->cs_prefix_n = strlen(pfx); }
    if (sfx && *sfx) { t->eow_suffix = ll_xstrdup(sfx); t->eow_suffix_n = strlen(sfx); }
    for (int b = 0; b < 128; b++) {
        char k[2] = {(char)b, 0};
        t->ascii_ids[b] = tok_sm_get(&t->vocab, k, 1);
    }
    for (int b = 0; b < 256; b++) {
        char k[8];
        snprintf(k, sizeof k, "<0x%02X>", b);
        t->byte_ids[b] = tok_sm_get(&t->vocab, k, strlen(k));
    }
    int nm = cJSON_GetArraySize(merges);
    tok_pm_init(&t->merges, (size_t)nm);
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
        int32_t ia = tok_sm_get(&t->vocab, a, an), ib = tok_sm_get(&t->vocab, bb, bn);
        if (ia < 0 || ib < 0) {
            ll_set_error("%s: model.merges[%d]: token '%.*s' is not in the vocab", t->name, rank,
                         (int)(ia < 0 ? an : bn), ia < 0 ? a : bb);
            free(tmp.p); return -1;
        }
        sb_clear(&tmp);
        sb_add(&tmp, a, an);
        size_t skip = t->cs_prefix_n && bn >= t->cs_prefix_n ? t->cs_prefix_n : 0;
        sb_add(&tmp, bb + skip, bn - skip);
        int32_t inew = tok_sm_get(&t->vocab, tmp.p, tmp.n);
        if (inew < 0) {
            ll_set_error("%s: model.merges[%d]: merged token '%.60s' is not in the vocab", t->name, rank, tmp.p);
            free(tmp.p); return -1;
        }
        tok_pm_put(&t->merges, ((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib, (uint32_t)rank, inew);
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
        int32_t mid = tok_sm_get(&t->vocab, c, strlen(c));
        a->id = mid >= 0 ? mid : id;
        if (tok_sm_get(&t->added_map, c, strlen(c)) >= 0) { k++; continue; } /* duplicate */
        a->content = ll_xstrdup(c);
        a->len = strlen(c);
        tok_sm_put(&t->added_map, a->content, a->len, a->id);
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
        if (a->normalized && t->norm) tok_norm_apply(t, t->norm, a->content, a->len, &p);
        else sb_add(&p, a->content, a->len);
        if (p.n == 0) { free(p.p); continue; }
        st->pat[st->n] = p.p;
        st->patn[st->n] = p.n;
        st->tok[st->n] = i;
        st->n++;
    }
    tok_addset_build(&t->set_raw);
    tok_addset_build(&t->set_norm);
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
    if (t->set_raw.pat) tok_addset_free(&t->set_raw);
    if (t->set_norm.pat) tok_addset_free(&t->set_norm);
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
    tok_sm_init(&t->added_map, 16);
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
    tok_wc_clear(&t->cache);
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
    if (ll_is_gguf_path(path)) { /* a GGUF model: the tokenizer its metadata describes (host/tokenizer/tok_gguf.c) */
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
