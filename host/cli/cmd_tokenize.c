#include <errno.h>
/* layerlaw tokenize: text -> token ids (one JSON array per document). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "io/corpus.h"
#include "core/ll_util.h"
#include "hub/hub.h"
#include "tokenizer/tokenizer.h"

static const char TOK_USAGE[] =
    "usage: layerlaw tokenize --tokenizer DIR|FILE|ORG/NAME[@REV] [options] > ids.jsonl\n\n"
    "Encodes documents with an HF tokenizer.json (BPE) exactly as PyPI `tokenizers`\n"
    "does (add_special_tokens=True, right truncation), one JSON array of ids per\n"
    "document on stdout.\n";

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
    uint64_t seed = 0;
    int max_length = 0, no_special = 0, stats = 0, seen_seed = 0, offline = 0;
    const ll_opt opts[] = {
        {"tokenizer", LL_OPT_STR, &tok_path, 0, 0, "P", "tokenizer.json, a folder holding it, a .gguf model, or a hub id (required)"},
        {"text", LL_OPT_STR, &text, 0, 0, "FILE", "input (plain text or JSONL, gzip or not); stdin if absent or '-'"},
        {"split", LL_OPT_CHOICE, &split_s, 0, 0, "S", "auto|line|paragraph|file|jsonl (default auto: jsonl for\nnames ending .jsonl, .ndjson (+ .gz), else line)", NULL, 0, ll_corpus_split_names},
        {"text-field", LL_OPT_STR, &field, 0, 0, "F", "JSONL field holding the text (default text)"},
        {"docs", LL_OPT_LONG, &docs, 1, 1e15, "N", "sample N documents uniformly without replacement"},
        {"seed", LL_OPT_U64, &seed, 0, 0, "S", "seed for --docs (default 0; splitmix64 + Algorithm S)", &seen_seed},
        {"max-length", LL_OPT_INT, &max_length, 1, 1 << 30, "N", "truncate to N ids, special tokens included"},
        {"no-special", LL_OPT_FLAG, &no_special, 0, 0, NULL, "do not add BOS/EOS (add_special_tokens=False)"},
        {"stats", LL_OPT_FLAG, &stats, 0, 0, NULL, "print documents, bytes, ids and MB/s on stderr"},
        {"offline", LL_OPT_FLAG, &offline, 0, 0, NULL, "hub ids from the cache only, no network (as HF_HUB_OFFLINE=1)"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    int prc = ll_opts_parse(TOK_USAGE, opts, argc, argv, NULL);
    if (prc) return prc == 1 ? 0 : 2;
    const int add_special = !no_special;
    if (!tok_path) return cli_fail("tokenize: --tokenizer is required; see layerlaw tokenize --help");
    if (seen_seed && !docs) return cli_fail("tokenize: --seed chooses which documents --docs samples: give --docs too");
    int split = ll_corpus_split_from_name(split_s);
    if (split < 0) return cli_fail("--split must be auto, line, paragraph, file or jsonl, got '%s'", split_s);
    /* a hub id ORG/NAME[@REV]: its tokenizer.json (host/hub/hub.h) */
    char *hub_tok = NULL;
    if (offline) ll_hub_set_offline(1);
    int hrc = ll_model_path_resolve(tok_path, LL_HUB_NEED_TOKENIZER, &hub_tok, NULL);
    if (hrc) { cli_fail_lib(); return hrc; }
    double t0 = ll_now();
    ll_tokenizer *tk = ll_tokenizer_load(hub_tok);
    free(hub_tok);
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
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) {
        cli_fail("tokenize: cannot write to stdout: %s", strerror(errno));
        rc = 1; /* a runtime failure (disk full, closed pipe), not bad input */
    }
    if (stats && rc == 0)
        fprintf(stderr, "layerlaw: tokenize: %lld documents, %lld bytes, %lld ids; load %.3f s, encode %.3f s (%.2f MB/s), "
                "encode cpu %.3f s (%.2f MB/s), total %.3f s\n",
                nd, nb, ni, t1 - t0, ttok, ttok > 0 ? nb / ttok / 1e6 : 0.0, tcpu, tcpu > 0 ? nb / tcpu / 1e6 : 0.0,
                ll_now() - t0);
    ll_corpus_close(c);
    ll_tokenizer_free(tk);
    return rc;
}
