/* HF tokenizer.json (BPE, WordPiece, Unigram) in C: gives the ids PyPI `tokenizers` gives
 * (Tokenizer.from_file(...).encode(text, add_special_tokens=...), with
 * truncation enabled as transformers' AutoTokenizer does it).
 *
 * Supported (see docs/tokenizer.md for the exact semantics):
 *   added tokens   leftmost-longest extraction before normalisation
 *                  (normalized:false) and after it (normalized:true);
 *                  lstrip / rstrip / single_word
 *   normalizers    NFC NFD NFKC NFKD (utf8proc), Prepend, Replace (String or
 *                  Regex pattern), BertNormalizer, Strip, Lowercase,
 *                  Precompiled (SentencePiece charsmaps), Sequence
 *   pre-tokenizers ByteLevel (add_prefix_space, use_regex), Split (String or
 *                  Regex, all five behaviours, invert), Metaspace
 *                  (prepend_scheme first/always/never, split), BertPreTokenizer,
 *                  WhitespaceSplit, Sequence
 *   model          WordPiece, Unigram (host/tokenizer/tok_encoders.c);
 *                  BPE: merges as "a b" strings or [a, b] pairs, byte_fallback,
 *                  ignore_merges, unk_token + fuse_unk,
 *                  continuing_subword_prefix, end_of_word_suffix
 *   post-process   ByteLevel (no-op for ids), TemplateProcessing,
 *                  RobertaProcessing, BertProcessing, Sequence
 * Anything else (WordLevel, Nmt, other pre-tokenizers) is rejected at load
 * time with an "unsupported" error.
 *
 * Input text is bytes; ill-formed UTF-8 is first decoded as Python's
 * bytes.decode('utf-8', errors='replace') does (each maximal ill-formed
 * subsequence becomes U+FFFD), because the Python library only takes str.
 *
 * Errors follow host/core/ll_util.h: NULL / -1 and ll_set_error("<file>: ..."). */
#ifndef LL_TOKENIZER_H
#define LL_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

typedef struct ll_tokenizer ll_tokenizer;

/* path_or_dir: a tokenizer.json file, a folder holding tokenizer.json, or a
 * .gguf model file (its tokenizer.ggml.* metadata, see docs/gguf.md). */
ll_tokenizer *ll_tokenizer_load(const char *path_or_dir);
/* The same from JSON text in memory; `name` is used in error messages. */
ll_tokenizer *ll_tokenizer_load_json(const char *json, size_t len, const char *name);
void ll_tokenizer_free(ll_tokenizer *t);

/* Encodes len bytes of text.  add_special: 1 = run the post-processor
 * (e.g. BOS for Llama/Mistral), as add_special_tokens=True does.
 * max_length > 0: right truncation so that the result, special tokens
 * included, has at most max_length ids (error if max_length is smaller
 * than the number of special tokens); <= 0: no truncation.
 * *ids is malloc'd (free() it; never NULL on success, even when *n == 0).
 * Returns 0, or -1 with ll_set_error.  Not thread-safe for one tokenizer
 * (it owns a word cache); use one ll_tokenizer per thread. */
int ll_tokenizer_encode(ll_tokenizer *t, const char *text, size_t len, int add_special,
                        int max_length, int32_t **ids, int *n);

/* Number of ids: 1 + the largest id of the model vocab, the added tokens and
 * the post-processor's special tokens, so that every id encode returns is
 * below it (GPT-NeoX-20B: 50277, GPT-2: 50257, Mistral: 32000). */
int ll_tokenizer_vocab_size(const ll_tokenizer *t);
/* Number of ids add_special adds to one sequence (Mistral: 1, GPT-2: 0). */
int ll_tokenizer_num_special(const ll_tokenizer *t);
/* Id of a token string (model vocab or added token), or -1. */
int32_t ll_tokenizer_token_to_id(const ll_tokenizer *t, const char *token);
/* Token string of an id (model vocab or added token), or NULL.  The string
 * is owned by the tokenizer. */
const char *ll_tokenizer_id_to_token(const ll_tokenizer *t, int32_t id);

/* Utility: Python's bytes.decode('utf-8', errors='replace') then
 * .encode('utf-8').  Returns a malloc'd NUL-terminated string, *out_len set.
 * Returns NULL (no allocation) when the input is already valid UTF-8 and
 * copy == 0. */
char *ll_utf8_sanitize(const char *s, size_t len, size_t *out_len, int copy);
#endif
