/* layerlaw tokenize: text -> token ids (one JSON array per document). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "io/corpus.h"
#include "core/ll_util.h"
#include "tokenizer/tokenizer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: layerlaw tokenize --tokenizer DIR|FILE [options] > ids.jsonl\n\n"
            "Encodes documents with an HF tokenizer.json (BPE) exactly as PyPI `tokenizers`\n"
            "does (add_special_tokens=True, right truncation), one JSON array of ids per\n"
            "document on stdout.\n\n"
            "options:\n"
            "  --tokenizer P     tokenizer.json, or a folder holding it (required)\n"
            "  --text FILE       input (plain text or JSONL, gzip or not); stdin if absent or '-'\n"
            "  --split S         auto|line|paragraph|file|jsonl (default auto: jsonl for\n"
            "                    names ending .jsonl, .ndjson (+ .gz), else line)\n"
            "  --text-field F    JSONL field holding the text (default text)\n"
            "  --docs N          sample N documents uniformly without replacement\n"
            "  --seed S          seed for --docs (default 0; splitmix64 + Algorithm S)\n"
            "  --max-length N    truncate to N ids, special tokens included\n"
            "  --no-special      do not add BOS/EOS (add_special_tokens=False)\n"
            "  --stats           print documents, bytes, ids and MB/s on stderr\n");
}

static void put_ids(FILE *out, const int32_t *ids, int n, char *buf, size_t cap) {
    size_t k = 0;
    buf[k++] = '[';
    for (int i = 0; i < n; i++) {
        if (k + 16 > cap) { fwrite(buf, 1, k, out); k = 0; }
        if (i) buf[k++] = ',';
        char tmp[16];
        int v = ids[i], m = 0;
        if (v < 0) { buf[k++] = '-'; v = -v; }
        do { tmp[m++] = (char)('0' + v % 10); v /= 10; } while (v);
        while (m) buf[k++] = tmp[--m];
    }
    buf[k++] = ']';
    buf[k++] = '\n';
    fwrite(buf, 1, k, out);
}

int cmd_tokenize(int argc, char **argv) {
    const char *tok_path = NULL, *text = "-", *split_s = "auto", *field = "text";
    long long docs = 0;
    unsigned long long seed = 0;
    int max_length = 0, add_special = 1, stats = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        int has = i + 1 < argc;
        char *end;
        if (!strcmp(a, "--tokenizer") && has) tok_path = argv[++i];
        else if (!strcmp(a, "--text") && has) text = argv[++i];
        else if (!strcmp(a, "--split") && has) split_s = argv[++i];
        else if (!strcmp(a, "--text-field") && has) field = argv[++i];
        else if (!strcmp(a, "--docs") && has) {
            docs = strtoll(argv[++i], &end, 10);
            if (*end || docs <= 0) return cli_fail("--docs needs a positive integer, got '%s'", argv[i]);
        } else if (!strcmp(a, "--seed") && has) {
            seed = strtoull(argv[++i], &end, 10);
            if (*end || argv[i][0] == '-') return cli_fail("--seed needs a non-negative integer, got '%s'", argv[i]);
        } else if (!strcmp(a, "--max-length") && has) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v <= 0 || v > 1 << 30) return cli_fail("--max-length needs a positive integer, got '%s'", argv[i]);
            max_length = (int)v;
        } else if (!strcmp(a, "--no-special")) add_special = 0;
        else if (!strcmp(a, "--stats")) stats = 1;
        else { usage(stderr); return cli_fail("tokenize: unknown or incomplete option '%s'", a); }
    }
    if (!tok_path) { usage(stderr); return cli_fail("tokenize: --tokenizer is required"); }
    int split = ll_corpus_split_from_name(split_s);
    if (split < 0) return cli_fail("--split must be auto, line, paragraph, file or jsonl, got '%s'", split_s);
    double t0 = ll_now();
    ll_tokenizer *tk = ll_tokenizer_load(tok_path);
    if (!tk) return cli_fail_lib();
    if (max_length > 0 && add_special && max_length < ll_tokenizer_num_special(tk)) {
        ll_tokenizer_free(tk);
        return cli_fail("--max-length %d is smaller than the %d special tokens", max_length, ll_tokenizer_num_special(tk));
    }
    double t1 = ll_now();
    ll_corpus *c = ll_corpus_open_sampled(text, split, field, docs, (uint64_t)seed);
    if (!c) { ll_tokenizer_free(tk); return cli_fail_lib(); }
    static char obuf[1 << 16];
    setvbuf(stdout, NULL, _IOFBF, 1 << 20);
    const char *doc;
    size_t len;
    int r;
    long long nd = 0, nb = 0, ni = 0;
    double ttok = 0, tcpu = 0;
    while ((r = ll_corpus_next(c, &doc, &len)) == 1) {
        int32_t *ids;
        int n;
        double a = ll_now();
        clock_t ca = clock();
        if (ll_tokenizer_encode(tk, doc, len, add_special, max_length, &ids, &n) != 0) { r = -1; break; }
        ttok += ll_now() - a;
        tcpu += (double)(clock() - ca) / CLOCKS_PER_SEC;
        put_ids(stdout, ids, n, obuf, sizeof obuf);
        free(ids);
        nd++; nb += (long long)len; ni += n;
    }
    int rc = 0;
    if (r < 0) rc = cli_fail_lib();
    if (fflush(stdout) != 0 && rc == 0) rc = cli_fail("tokenize: cannot write to stdout");
    if (stats && rc == 0)
        fprintf(stderr, "layerlaw: tokenize: %lld documents, %lld bytes, %lld ids; load %.3f s, encode %.3f s (%.2f MB/s), "
                "encode cpu %.3f s (%.2f MB/s), total %.3f s\n",
                nd, nb, ni, t1 - t0, ttok, ttok > 0 ? nb / ttok / 1e6 : 0.0, tcpu, tcpu > 0 ? nb / tcpu / 1e6 : 0.0,
                ll_now() - t0);
    ll_corpus_close(c);
    ll_tokenizer_free(tk);
    return rc;
}
