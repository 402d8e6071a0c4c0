/* Pieces of the tokenizer.json pipeline that encoder models need (BERT's
 * WordPiece, T5's SentencePiece Unigram), kept out of tokenizer.c, which
 * calls them.  Internal to host/tokenizer/.  Semantics follow
 * huggingface/tokenizers 0.23 (see docs/tokenizer.md, "Encoder tokenizers"):
 *
 *   BertNormalizer   clean_text: drop U+0000, U+FFFD and characters of category
 *                    Cc/Cf/Co/Cs (not Cn) except \t \n \r; map white space to ' ';
 *                    handle_chinese_chars: ' ' around CJK ideographs;
 *                    strip_accents (default = lowercase): NFD then drop Mn;
 *                    lowercase: per character full lower case (U+0130 -> "i\u0307").
 *   BertPreTokenizer split on white space (removed), then isolate every
 *                    punctuation character (ASCII punctuation or category P*).
 *   WhitespaceSplit  split on white space (removed).
 *   WordPiece        greedy longest match from the left, continuing pieces
 *                    prefixed ("##"); a word that cannot be covered, or longer
 *                    than max_input_chars_per_word characters, is one unk.
 *   Unigram          Viterbi over the characters: the best sum of piece scores
 *                    (float64), ties keep the first candidate found (starts in
 *                    order, shorter pieces first); a character that starts no
 *                    piece costs min_score - 10 as unk; consecutive unks are fused
 *                    (fuse_unk); byte_fallback emits <0xAB> pieces for unk text.
 *
 * "White space" is Rust's char::is_whitespace (Unicode White_Space). */
#ifndef LL_TOK_ENCODERS_H
#define LL_TOK_ENCODERS_H
#include <stddef.h>
#include <stdint.h>

typedef struct { char *p; size_t n, cap; } ll_sbuf;
typedef struct { int32_t *v; size_t n, cap; } ll_ibuf;
void ll_sbuf_add(ll_sbuf *b, const char *s, size_t n);
void ll_ibuf_add(ll_ibuf *b, int32_t x);

/* vocab lookup: id of the n bytes at k, or -1 */
typedef int32_t (*ll_vocab_get)(const void *vocab, const char *k, size_t n);

int ll_is_rust_whitespace(int32_t c);

typedef struct { int clean_text, handle_chinese_chars, strip_accents, lowercase; } ll_bert_norm;
/* Appends the normalised s[0..n) to out (valid UTF-8 in, valid UTF-8 out). */
void ll_bert_normalize(const ll_bert_norm *cfg, const char *s, size_t n, ll_sbuf *out);

/* Calls emit(ud, off, len) for each pre-token of s[0..n) (byte ranges of s). */
typedef void (*ll_emit_range)(void *ud, size_t off, size_t len);
void ll_bert_pretokenize(const char *s, size_t n, ll_emit_range emit, void *ud);
void ll_whitespace_split(const char *s, size_t n, ll_emit_range emit, void *ud);

typedef struct {
    const char *prefix; size_t prefix_n; /* continuing_subword_prefix ("##") */
    int max_chars;                       /* max_input_chars_per_word */
    int32_t unk_id;                      /* -1: no unk token */
} ll_wordpiece;
/* Appends the ids of one word; -1 + ll_set_error(name...) if a word needs the
 * unk token and there is none. */
int ll_wordpiece_word(const ll_wordpiece *wp, const char *w, size_t n, ll_vocab_get get, const void *vocab,
                      ll_ibuf *out, const char *name);

typedef struct {
    double *score;        /* per id */
    int n;                /* pieces */
    int32_t unk_id;       /* -1: none */
    double unk_score;     /* min score - 10 */
    int byte_fallback, fuse_unk;
    size_t max_piece;     /* longest piece in bytes */
    int32_t byte_ids[256];
    /* scratch */
    struct ll_uni_node { double score; int32_t id; int start; } *nodes; size_t nodes_cap;
    ll_sbuf fused;
    ll_ibuf rev;
} ll_unigram;
int ll_unigram_word(ll_unigram *u, const char *w, size_t n, ll_vocab_get get, const void *vocab, ll_ibuf *out,
                    const char *name);
void ll_unigram_free(ll_unigram *u);

/* SentencePiece's Precompiled normalizer (precompiled_charsmap: u32 trie size,
 * a darts double-array trie of the UTF-8 keys, NUL-terminated replacements).
 * Per extended grapheme cluster (utf8proc): a cluster shorter than 6 bytes
 * whose bytes START with a key is replaced by that (shortest) key's string —
 * as HF's spm_precompiled does; otherwise each character is replaced when it
 * starts with a key, or kept. */
typedef struct {
    uint32_t *trie;
    size_t ntrie;
    char *norm;
    size_t nnorm;
} ll_precompiled;
/* b64: the tokenizer.json "precompiled_charsmap" (base64).  0, or -1 + error naming `name`. */
int ll_precompiled_init(ll_precompiled *p, const char *b64, const char *name);
void ll_precompiled_normalize(const ll_precompiled *p, const char *s, size_t n, ll_sbuf *out);
void ll_precompiled_free(ll_precompiled *p);
#endif
