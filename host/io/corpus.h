/* Text corpora: a streaming iterator over documents, and portable sampling.
 *
 * Formats (gzip-compressed or not: detected from the magic bytes, read with
 * zlib, streamed, never loaded whole):
 *   LL_SPLIT_LINE       plain text, one document per line.  Line ends are LF
 *                       or CRLF (the CR is dropped); empty lines are skipped.
 *   LL_SPLIT_PARAGRAPH  plain text, documents separated by blank lines (lines
 *                       that are empty or hold only spaces, tabs, CR); the
 *                       lines of a paragraph are joined with "\n".
 *   LL_SPLIT_FILE       the whole file is one document (bytes as they are).
 *   LL_SPLIT_JSONL      JSON Lines: each non-blank line a JSON object whose
 *                       string field `text_field` (default "text") is the
 *                       document.
 *   LL_SPLIT_AUTO       JSONL when the name ends in .jsonl, .ndjson,
 *                       .jsonl.gz or .ndjson.gz, else LINE.
 * Documents of zero length are skipped in every format.
 * path "-" reads stdin (no sampling then: it needs two passes).
 *
 * Errors (ll_util.h convention): "<path>:<line>: <problem>" for a bad JSONL
 * line, "<path>: <problem>" for an unreadable / corrupt file. */
#ifndef LL_CORPUS_H
#define LL_CORPUS_H
#include <stddef.h>
#include <stdint.h>

enum { LL_SPLIT_AUTO = 0, LL_SPLIT_LINE, LL_SPLIT_PARAGRAPH, LL_SPLIT_FILE, LL_SPLIT_JSONL };
/* "auto" "line" "paragraph" "file" "jsonl" -> LL_SPLIT_*, or -1 */
int ll_corpus_split_from_name(const char *name);
/* The values of --split, NULL-terminated, then an empty alias list (cli/opts.h's
 * LL_OPT_CHOICE form). */
extern const char *const ll_corpus_split_names[];

typedef struct ll_corpus ll_corpus;

/* text_field: JSONL field (NULL = "text"). NULL + ll_set_error on failure. */
ll_corpus *ll_corpus_open(const char *path, int split, const char *text_field);
/* Next document: 1 and *text, *len (owned by the corpus, valid until the next
 * call; NUL-terminated), 0 at the end, -1 on error (ll_set_error). */
int ll_corpus_next(ll_corpus *c, const char **text, size_t *len);
/* 0-based index of the document last returned (in the whole file, also when
 * sampling) and the 1-based line where it starts. */
long long ll_corpus_doc_index(const ll_corpus *c);
long long ll_corpus_doc_line(const ll_corpus *c);
void ll_corpus_close(ll_corpus *c);

/* Counts the documents (one streaming pass). 0 / -1. */
int ll_corpus_count(const char *path, int split, const char *text_field, long long *n_docs);

/* Portable sampling of k of n indices, uniformly without replacement:
 * RNG splitmix64(seed) (Steele, Lea, Flood 2014; constants
 * 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB), selection
 * sampling (Knuth TAOCP vol. 2, 3.4.2, Algorithm S): for i = 0..n-1,
 * index i is taken when uniform(n - i) < k - taken, where uniform(m) is an
 * unbiased integer in [0, m) (64-bit draw, rejection of the top
 * 2^64 mod m values, then mod m).  Integer arithmetic only, so the same
 * on every machine.  out[] (k entries) comes back in increasing order.
 * k >= n takes every index. Returns the number taken. */
long long ll_sample_indices(long long n, long long k, uint64_t seed, long long *out);

/* Opens a corpus that returns only the k documents chosen by
 * ll_sample_indices(count, k, seed) (in file order): two streaming passes.
 * k <= 0 means every document (same as ll_corpus_open). */
ll_corpus *ll_corpus_open_sampled(const char *path, int split, const char *text_field, long long k,
                                  uint64_t seed);
#endif
