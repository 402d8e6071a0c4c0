/* libFuzzer: a text corpus.  The first byte picks the split (line,
 * paragraph, file, jsonl) and whether to sample documents; the rest is the
 * file (gzip is detected from its magic bytes, so gzip seeds exercise zlib). */
#include "fuzz_util.h"
#include "io/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0];
    int split = LL_SPLIT_LINE + (mode & 3);
    const char *path = fz_write(split == LL_SPLIT_JSONL ? "c.jsonl" : "c.txt", data + 1, size - 1);
    fz_reset_error();
    ll_corpus *c = (mode & 4) ? ll_corpus_open_sampled(path, split, (mode & 8) ? "t" : NULL, 1 + (mode >> 4), 7)
                              : ll_corpus_open(path, split, (mode & 8) ? "t" : NULL);
    if (!c) { fz_check_error(); return 0; }
    const char *txt;
    size_t len;
    int r;
    while ((r = ll_corpus_next(c, &txt, &len)) == 1) {
        if (len == 0 || txt[len] != 0) abort(); /* documents are never empty, and NUL-terminated */
        volatile char x = txt[len - 1]; (void)x;
    }
    if (r < 0) fz_check_error();
    ll_corpus_close(c);
    return 0;
}
