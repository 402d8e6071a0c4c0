/* layerlaw run: forward an HF checkpoint over pre-tokenised sequences, fold
 * every hidden-state entry into the probe statistics as it is computed
 * (fused capture), then solve the probes and fit the law. */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <unistd.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend_info.h"
#include "capture/capture.h"
#include "cli/cli.h"
#include "backend/cuda_backend.h"
#include "core/ll_util.h"
#include "model/model.h"
#include "ops/ops.h"
#include "probe/probe.h"
#include "report/report.h"
#include "io/tokens.h"
#include "io/corpus.h"
#include "io/token_stream.h"

static void run_usage(FILE *f) {
    fprintf(f,
            "usage: layerlaw run --model DIR --tokens FILE --out DIR [options]\n"
            "       layerlaw run --model DIR --data TEXT --out DIR [--docs N --seed S] [options]\n\n"
            "  DIR   an HF checkpoint folder: config.json + model.safetensors (or sharded with\n"
            "        model.safetensors.index.json, or pytorch_model.bin); model_type one of\n"
            "        %s\n"
            "  FILE  pre-tokenised sequences, one JSON array of token ids per line\n\n"
            "  TEXT  raw text: plain (a document per line, or per paragraph / file: --split), or\n"
            "        JSON Lines with a text field (--text-field, default text); either may be .gz.\n"
            "        Tokenised with the model folder's tokenizer.json (or --tokenizer) exactly as HF\n"
            "        AutoTokenizer does (special tokens added, truncation at --max-length)\n\n"
            "options:\n"
            "  --tokenizer T       tokenizer.json or its folder (default: the model folder)\n"
            "  --split S           auto|line|paragraph|file|jsonl (default auto: jsonl for .jsonl[.gz], else line)\n"
            "  --text-field F      JSONL field holding the text (default text)\n"
            "  --docs N --seed S   sample N documents uniformly without replacement (portable RNG, seed S, default 0)\n"
            "  --batch-size B      at most B sequences per forward batch, right-padded (default 64)\n"
            "  --batch-tokens N    at most N padded tokens per batch (default 4096; a longer\n"
            "                      sequence goes alone): bounds the activation memory\n"
            "  --max-length L      cut sequences to L tokens (default 512; 0 = no cut)\n"
            "  --threads T         threads (default: all cores)\n"
            "  --position P        next|current|previous|next-next: which token a feature predicts (default next)\n"
            "  --norm N            initialized (default: a fresh norm of the model's own kind and eps,\n"
            "                      as the authors) | layernorm | rmsnorm | standardize | none\n"
            "  --norm-last         normalise the last entry too (default: as the authors, not)\n"
            "  --fit-from K        first entry of the law fit (default 1)\n"
            "  --ridge LAMBDA      ridge penalty (default 0: OLS, minimum norm)\n"
            "  --shuffle-vocab S   the shuffled-vocabulary control: labels mapped through a random permutation\n"
            "                      (seed S) of the label ids present, as the authors (same as fit)\n"
            "  --dump-hidden F.npy also write the raw features, (N, E, d) float32, examples in input order\n"
            "  --keep-order        batch sequences in input order (default: longest first, less padding;\n"
            "                      implied by --dump-hidden)\n"
            "  --embedding-entry   rwkv/mamba: entry 0 = the token embeddings and no raw last block\n"
            "                      (default: HF's hidden_states, entry 0 = block 1's output, as the paper)\n"
            "  --backend B         auto|cpu|cuda (default auto: cuda when a device is present)\n"
            "  --device N          cuda: the device to use (default 0)\n"
            "  --compute C         auto (default: bf16 on CUDA, fp32 on the CPU) | bf16 (CUDA: weights kept as\n"
            "                      stored, bf16 GEMMs with fp32 accumulation) | fp32 (bit-closer checks); --dtype C alike\n"
            "  --quiet             no table on stdout\n", ll_family_supported());
}

/* A capture wrapper that measures the time spent in the sink (so that the
 * forward's own throughput can be reported) and, per entry, the forward time
 * since the previous entry (entry 0: embeddings; entry e: block e, the last
 * one with the final norm).  `last` is set before each batch. */
typedef struct {
    ll_capture base;
    ll_capture *inner;
    double seconds;
    double last;
    double *fwd_s, *cap_s; /* [E] */
    int E;
} timed_cap;

static int timed_on_entry(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B, int T,
                          int C) {
    timed_cap *t = (timed_cap *)self;
    double t0 = ll_now();
    int rc = t->inner->on_entry(t->inner, e, h, tokens, lens, B, T, C);
    double t1 = ll_now();
    if (e >= 0 && e < t->E) { t->fwd_s[e] += t0 - t->last; t->cap_s[e] += t1 - t0; }
    t->last = t1;
    t->seconds += t1 - t0;
    return rc;
}

static const int64_t *sort_off;
static int by_length_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    int64_t lx = sort_off[x + 1] - sort_off[x], ly = sort_off[y + 1] - sort_off[y];
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int timed_on_entry_device(ll_capture *self, int e, const float *h, const int32_t *tokens, const int *lens, int B,
                                 int T, int C) {
    timed_cap *t = (timed_cap *)self;
    double t0 = ll_now();
    int rc = t->inner->on_entry_device(t->inner, e, h, tokens, lens, B, T, C);
    double t1 = ll_now();
    if (e >= 0 && e < t->E) { t->fwd_s[e] += t0 - t->last; t->cap_s[e] += t1 - t0; }
    t->last = t1;
    t->seconds += t1 - t0;
    return rc;
}

int cmd_run(int argc, char **argv) {
    const char *model_dir = NULL, *tok_path = NULL, *outdir = NULL, *pos_s = "next", *norm_s = "initialized",
               *dump = NULL, *backend = "auto", *compute_s = "auto", *data_path = NULL, *tokenizer = NULL,
               *split_s = "auto", *text_field = "text";
    long long docs = 0;
    int device = 0, have_shuffle = 0;
    unsigned long long shuffle_seed = 0;
    unsigned long long seed = 0;
    char data_tmp[4096] = "";
    int batch = 64, max_len = 512, threads = 0, norm_last = 0, fit_from = 1, quiet = 0, keep_order = 0, embed_entry = 0;
    double ridge = 0;
    long long batch_tokens = 4096;
    enum { O_MODEL = 1, O_TOK, O_OUT, O_BATCH, O_MAXLEN, O_THR, O_POS, O_NORM, O_NLAST, O_FROM, O_RIDGE, O_DUMP,
           O_BACKEND, O_QUIET, O_KEEP, O_EMBED, O_BTOK, O_COMPUTE, O_DATA, O_TOKZ, O_SPLIT, O_FIELD, O_DOCS, O_SEED,
           O_DEVICE, O_SHUF, O_HELP };
    static const struct option opts[] = {
        {"model", 1, 0, O_MODEL},     {"tokens", 1, 0, O_TOK},       {"out", 1, 0, O_OUT},
        {"batch-size", 1, 0, O_BATCH}, {"max-length", 1, 0, O_MAXLEN}, {"threads", 1, 0, O_THR},
        {"position", 1, 0, O_POS},    {"norm", 1, 0, O_NORM},        {"norm-last", 0, 0, O_NLAST},
        {"fit-from", 1, 0, O_FROM},   {"ridge", 1, 0, O_RIDGE},      {"dump-hidden", 1, 0, O_DUMP},
        {"backend", 1, 0, O_BACKEND}, {"quiet", 0, 0, O_QUIET},      {"help", 0, 0, O_HELP},
        {"keep-order", 0, 0, O_KEEP}, {"embedding-entry", 0, 0, O_EMBED}, {"batch-tokens", 1, 0, O_BTOK},
        {"compute", 1, 0, O_COMPUTE}, {"dtype", 1, 0, O_COMPUTE}, {"data", 1, 0, O_DATA},     {"tokenizer", 1, 0, O_TOKZ},
        {"split", 1, 0, O_SPLIT},     {"text-field", 1, 0, O_FIELD}, {"docs", 1, 0, O_DOCS},
        {"seed", 1, 0, O_SEED},       {"device", 1, 0, O_DEVICE},
        {"shuffle-vocab", 1, 0, O_SHUF},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model_dir = optarg; break;
        case O_TOK: tok_path = optarg; break;
        case O_OUT: outdir = optarg; break;
        case O_BATCH: batch = (int)strtol(optarg, &end, 10); if (*end || batch < 1 || batch > 1 << 20) return cli_fail("--batch-size: bad value '%s'", optarg); break;
        case O_MAXLEN: max_len = (int)strtol(optarg, &end, 10); if (*end || max_len < 0) return cli_fail("--max-length: bad value '%s'", optarg); break;
        case O_THR: threads = (int)strtol(optarg, &end, 10); if (*end || threads < 0) return cli_fail("--threads: bad value '%s'", optarg); break;
        case O_POS: pos_s = optarg; break;
        case O_NORM: norm_s = optarg; break;
        case O_NLAST: norm_last = 1; break;
        case O_FROM: fit_from = (int)strtol(optarg, &end, 10); if (*end || fit_from < 0) return cli_fail("--fit-from: bad value '%s'", optarg); break;
        case O_RIDGE: ridge = strtod(optarg, &end); if (*end || !(ridge >= 0)) return cli_fail("--ridge: bad value '%s'", optarg); break;
        case O_DUMP: dump = optarg; break;
        case O_BACKEND: backend = optarg; break;
        case O_COMPUTE: compute_s = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_KEEP: keep_order = 1; break;
        case O_EMBED: embed_entry = 1; break;
        case O_BTOK: batch_tokens = strtoll(optarg, &end, 10); if (*end || batch_tokens < 1) return cli_fail("--batch-tokens: bad value '%s'", optarg); break;
        case O_DATA: data_path = optarg; break;
        case O_TOKZ: tokenizer = optarg; break;
        case O_SPLIT: split_s = optarg; break;
        case O_FIELD: text_field = optarg; break;
        case O_DOCS: docs = strtoll(optarg, &end, 10); if (*end || docs < 1) return cli_fail("--docs: bad value '%s'", optarg); break;
        case O_SEED: seed = strtoull(optarg, &end, 10); if (*end) return cli_fail("--seed: bad value '%s'", optarg); break;
        case O_DEVICE: device = (int)strtol(optarg, &end, 10); if (*end || device < 0) return cli_fail("--device: bad value '%s'", optarg); break;
        case O_SHUF: shuffle_seed = strtoull(optarg, &end, 10); if (*end) return cli_fail("--shuffle-vocab: bad seed '%s'", optarg); have_shuffle = 1; break;
        case O_HELP: run_usage(stdout); return 0;
        default: run_usage(stderr); return cli_fail("run: unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_fail("run: unexpected argument '%s'", argv[optind]);
    if (tok_path && data_path) return cli_fail("run: give --tokens or --data, not both");
    if (!model_dir || !(tok_path || data_path) || !outdir) {
        run_usage(stderr);
        return cli_fail("run: --model, --tokens (or --data) and --out are required");
    }
    if (!data_path && (tokenizer || docs || strcmp(split_s, "auto") || strcmp(text_field, "text")))
        return cli_fail("run: --tokenizer, --split, --text-field and --docs apply to --data only");
    const int split = ll_corpus_split_from_name(split_s);
    if (split < 0) return cli_fail("--split: unknown split '%s' (auto|line|paragraph|file|jsonl)", split_s);
    ll_position pos;
    if (ll_position_parse(pos_s, &pos) != 0) return cli_fail_lib();
    int norm_initialized = !strcmp(norm_s, "initialized") || !strcmp(norm_s, "initialized-LN");
    ll_norm norm = LL_NORM_NONE;
    if (!norm_initialized && ll_norm_parse(norm_s, &norm) != 0) return cli_fail_lib();
    if (strcmp(compute_s, "fp32") && strcmp(compute_s, "bf16") && strcmp(compute_s, "auto"))
        return cli_fail("--compute: unknown compute type '%s' (auto|fp32|bf16)", compute_s);
    /* backend: decided before loading (a GPU keeps bf16 weights), announced
     * after the input is validated (bad input: one line on stderr) */
    int use_cuda = 0;
    if (!strcmp(backend, "cuda") || !strcmp(backend, "auto")) {
        char why[256];
        int have = ll_cuda_available(why, sizeof why);
        if (!strcmp(backend, "cuda") && !have) return cli_fail("--backend cuda: %s", why);
        use_cuda = have;
    } else if (strcmp(backend, "cpu")) {
        return cli_fail("--backend: unknown backend '%s' (auto|cpu|cuda)", backend);
    }
#ifndef LL_HAVE_CUDA
    use_cuda = 0;
#endif
    if (!strcmp(compute_s, "auto")) compute_s = use_cuda ? "bf16" : "fp32";
    const int bf16 = !strcmp(compute_s, "bf16");
    if (bf16 && !use_cuda) return cli_fail("--compute bf16: only with the CUDA backend (the CPU computes in fp32)");
    if (threads <= 0) threads = omp_get_num_procs();

    /* everything is validated before anything is written */
    double t_load0 = ll_now();
    ll_load_opts lo = {use_cuda && bf16};
    ll_model *m = ll_model_load_ex(model_dir, &lo);
    if (!m) return cli_fail_lib();
    double t_load = ll_now() - t_load0;
    /* --data: tokenise (sampling documents) into a private temporary token
     * file, removed at the end; the two passes below then read it */
    long long n_docs = 0;
    double t_tok = 0;
    if (data_path) {
        double tt0 = ll_now();
        ll_token_stream_opts so = {.tokenizer = tokenizer ? tokenizer : model_dir, .corpus = data_path, .split = split,
                                   .text_field = text_field, .docs = docs, .seed = seed, .add_special = 1,
                                   .max_length = max_len, .queue = 0};
        ll_token_stream *ts = ll_token_stream_open(&so);
        if (!ts) { ll_model_free(m); return cli_fail_lib(); }
        const char *tmpd = getenv("TMPDIR");
        snprintf(data_tmp, sizeof data_tmp, "%s/layerlaw-tokens-XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
        int fd = mkstemp(data_tmp);
        FILE *tf = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!tf) {
            ll_token_stream_close(ts);
            ll_model_free(m);
            return cli_fail("%s: cannot create a temporary token file", data_tmp);
        }
        int32_t *ids;
        int n, r;
        long long di;
        while ((r = ll_token_stream_next(ts, &ids, &n, &di)) == 1) {
            fputc('[', tf);
            for (int i = 0; i < n; i++) fprintf(tf, i ? ", %d" : "%d", ids[i]);
            fputs("]\n", tf);
            free(ids);
            n_docs++;
        }
        ll_token_stream_close(ts);
        int werr = fclose(tf) != 0;
        if (r < 0 || werr || n_docs == 0) {
            if (r >= 0) ll_set_error("%s: %s", data_path, werr ? "cannot write the temporary token file" : "no documents");
            unlink(data_tmp);
            ll_model_free(m);
            return cli_fail_lib();
        }
        tok_path = data_tmp;
        t_tok = ll_now() - tt0;
    }
    /* what error messages name: the user's input, never the temporary file */
    const char *src = data_path ? data_path : tok_path;
    const char *unit = data_path ? "document" : "line";
    /* pass 1 over the token file: every line and id checked, the examples
     * counted; nothing kept (memory does not grow with the token count) */
    long long n_seq = 0, n_ids = 0, n_cut = 0;
    unsigned char *present = have_shuffle ? ll_xcalloc((size_t)m->cfg.vocab, 1) : NULL; /* label ids seen */
    long N = 0;
    int longest = 1;
    {
        ll_token_reader *rd = ll_token_reader_open(tok_path, max_len);
        if (!rd) { ll_model_free(m); return cli_fail_lib(); }
        const int32_t *ids;
        int n, cut, r;
        while ((r = ll_token_reader_next(rd, &ids, &n, &cut)) == 1) {
            for (int i = 0; i < n && r == 1; i++)
                if (ids[i] >= m->cfg.vocab) {
                    ll_set_error("%s: %s %ld: token id %d%s%s is outside the model's vocabulary (%d)", src, unit,
                                 ll_token_reader_line(rd), ids[i], data_path ? " from tokenizer " : "",
                                 data_path ? (tokenizer ? tokenizer : model_dir) : "", m->cfg.vocab);
                    r = -1;
                }
            if (r != 1) break;
            n_seq++;
            n_ids += n;
            n_cut += cut;
            N += ll_position_count(pos, n);
            if (present) {
                int j0, j1, off;
                ll_position_range(pos, n, &j0, &j1, &off);
                for (int j = j0; j < j1; j++) present[ids[j + off]] = 1;
            }
            longest = LL_MAX(longest, n);
        }
        ll_token_reader_close(rd);
        if (r == 0 && n_ids == 0) { ll_set_error("%s: no tokens (empty %s)", src, data_path ? "corpus" : "token file"); r = -1; }
        if (r < 0) {
            if (data_tmp[0]) unlink(data_tmp);
            free(present);
            ll_model_free(m);
            return cli_fail_lib();
        }
    }
    ll_classmap shuf_ids = {0};
    int64_t *shuf_to = NULL;
    if (present) {
        int K = 0;
        for (int v = 0; v < m->cfg.vocab; v++) K += present[v];
        shuf_ids.ids = ll_xmalloc(sizeof(int64_t) * (size_t)(K > 0 ? K : 1));
        for (int v = 0; v < m->cfg.vocab; v++)
            if (present[v]) shuf_ids.ids[shuf_ids.K++] = v;
        shuf_to = ll_xmalloc(sizeof(int64_t) * (size_t)(K > 0 ? K : 1));
        ll_vocab_permutation(&shuf_ids, shuffle_seed, shuf_to);
        free(present);
        present = NULL;
    }
    int rc = 2;
    ll_token_reader *rd2 = NULL;
    int32_t *wids = NULL;
    int64_t *woff = NULL;
    ll_stats *st = NULL;
    ll_capture *probe = NULL, *dumpcap = NULL, *tee = NULL;
    void *ctx = NULL;
    const ll_ops *ops = NULL;
#ifdef LL_HAVE_CUDA
    ll_cuda_stats *gst = NULL;
#endif
    int32_t *toks = NULL;
    int *lens = NULL;
    int64_t *order = NULL;
    double *per_entry_fwd = NULL, *per_entry_cap = NULL;
    ll_probe_result *res = NULL;
    if (embed_entry && ll_model_set_embedding_entry(m, 1) != 0) {
        cli_fail_lib();
        goto done;
    }
    const int E = ll_model_n_entries(m), d = ll_model_dim(m);
    double eps = m->cfg.norm_eps;
    if (norm_initialized) norm = ll_model_fresh_norm(m, &eps);
    if (N < 2) { cli_fail("%s: only %ld examples for position '%s' (need at least 2)", src, N, pos_s); goto done; }
    if (N <= (long)d + 1)
        fprintf(stderr, "layerlaw: warning: %s: %ld examples for %d features: the probes can fit every example "
                        "(PR near 0, no law); use more text\n", src, N, d);
    const int max_positions = ll_model_max_positions(m);
    if (max_positions > 0 && longest > max_positions) {
        cli_fail("%s: a sequence has %d tokens, more than the model's %d positions (use --max-length %d)", src,
                 longest, max_positions, max_positions);
        goto done;
    }

    cli_backend_notice(use_cuda ? "cuda" : "cpu");
    if (use_cuda) {
#ifdef LL_HAVE_CUDA
        /* the device pipeline: forward on the CUDA op table, hidden states
         * folded into device statistics where they are computed, batched
         * device solve */
        omp_set_num_threads(threads);
        ops = ll_cuda_ops();
        ctx = ll_cuda_ops_ctx_new(device, bf16 ? LL_DT_BF16 : LL_DT_F32);
        if (!ctx) { rc = 1; cli_fail_lib(); goto done; }
        if (ll_model_upload(m, ops, ctx) != 0) { rc = 1; cli_fail_lib(); goto done; }
        gst = ll_cuda_stats_new(E, d, LL_TARGET_ID, 0, (long)LL_MAX(batch_tokens, (long long)longest), LL_GRAM_FP64);
        if (!gst) { rc = 1; cli_fail_lib(); goto done; }
        probe = ll_cuda_capture_probe_new(gst, E, d, pos, norm, eps, norm_last, NULL);
        if (!probe) { rc = 1; cli_fail_lib(); goto done; }
        if (shuf_to) ll_cuda_capture_probe_relabel(probe, &shuf_ids, shuf_to);
#endif
    } else {
        ops = ll_cpu_ops();
        ctx = ll_cpu_ctx_new(threads);
        if (ll_model_upload(m, ops, ctx) != 0) { rc = 1; cli_fail_lib(); goto done; }
        st = ll_stats_new(E, d, LL_TARGET_ID, 0);
        if (!st) { rc = 1; cli_fail_lib(); goto done; }
        probe = ll_capture_probe_new(st, pos, norm, eps, norm_last, NULL);
        if (shuf_to) ll_capture_probe_relabel(probe, &shuf_ids, shuf_to);
    }
    ll_capture *sink = probe;
    if (dump) {
        dumpcap = ll_capture_dump_new(dump, N, E, d, pos);
        if (!dumpcap) { cli_fail_lib(); goto done; }
        ll_capture *both[2] = {probe, dumpcap};
        tee = ll_capture_tee_new(both, 2);
        sink = tee;
    }
    timed_cap tc = {.base = {.on_entry = timed_on_entry}, .inner = sink, .seconds = 0, .E = E};
    tc.fwd_s = ll_xcalloc((size_t)E, sizeof(double));
    tc.cap_s = ll_xcalloc((size_t)E, sizeof(double));
    per_entry_fwd = tc.fwd_s;
    per_entry_cap = tc.cap_s;
    if (sink->on_entry_device) tc.base.on_entry_device = timed_on_entry_device;

    ll_progress prog;
    ll_progress_init(&prog, "sequences", n_seq);
    double t0 = ll_now();
    long long done_tok = 0, padded = 0;
    double attn_flops = 0;
    int bmax = (int)LL_MIN((long long)batch, n_seq);
    toks = ll_xmalloc(sizeof(int32_t) * (size_t)bmax * longest);
    lens = ll_xmalloc(sizeof(int) * (size_t)bmax);
    /* pass 2: windows of about WIN tokens.  Batch order inside a window:
     * longest first (less padding; results are independent of the order up to
     * rounding), or input order with --keep-order and --dump-hidden (the dump
     * is in input order) */
    long long WIN = LL_MAX(64LL * batch_tokens, 1LL << 20);
    if (getenv("LAYERLAW_WINDOW_TOKENS")) WIN = LL_MAX(1LL, atoll(getenv("LAYERLAW_WINDOW_TOKENS"))); /* tests */
    rd2 = ll_token_reader_open(tok_path, max_len);
    if (!rd2) { rc = 1; cli_fail_lib(); goto done; }
    int64_t wcap_ids = 4096, wcap_seq = 256;
    wids = ll_xmalloc(sizeof(int32_t) * (size_t)wcap_ids);
    woff = ll_xmalloc(sizeof(int64_t) * (size_t)(wcap_seq + 1));
    order = ll_xmalloc(sizeof(int64_t) * (size_t)wcap_seq);
    long long seen_seq = 0;
    for (int eof = 0; !eof;) {
        int64_t nw = 0;
        woff[0] = 0;
        while (woff[nw] < WIN) {
            const int32_t *ids;
            int n, cut;
            int r = ll_token_reader_next(rd2, &ids, &n, &cut);
            if (r < 0) { rc = 1; cli_fail_lib(); goto done; }
            if (r == 0) { eof = 1; break; }
            seen_seq++;
            if (n == 0) continue;
            if (woff[nw] + n > wcap_ids) {
                while (woff[nw] + n > wcap_ids) wcap_ids *= 2;
                wids = ll_xrealloc(wids, sizeof(int32_t) * (size_t)wcap_ids);
            }
            if (nw + 1 > wcap_seq) {
                wcap_seq *= 2;
                woff = ll_xrealloc(woff, sizeof(int64_t) * (size_t)(wcap_seq + 1));
                order = ll_xrealloc(order, sizeof(int64_t) * (size_t)wcap_seq);
            }
            memcpy(wids + woff[nw], ids, sizeof(int32_t) * (size_t)n);
            woff[nw + 1] = woff[nw] + n;
            nw++;
        }
        for (int64_t q = 0; q < nw; q++) order[q] = q;
        if (!keep_order && !dump) {
            sort_off = woff;
            qsort(order, (size_t)nw, sizeof(int64_t), by_length_desc);
        }
    for (int64_t i0 = 0; i0 < nw;) {
        /* up to `batch` sequences and `batch_tokens` padded tokens (at least one sequence) */
        int B = 0, T = 1;
        while (i0 + B < nw && B < batch) {
            const int64_t q = order[i0 + B];
            const int len = (int)(woff[q + 1] - woff[q]), nT = LL_MAX(T, len);
            if (B > 0 && (long long)nT * (B + 1) > batch_tokens) break;
            lens[B++] = len;
            T = nT;
        }
        for (int b = 0; b < B; b++) {
            const int64_t q = order[i0 + b];
            memcpy(toks + (size_t)b * T, wids + woff[q], sizeof(int32_t) * lens[b]);
            for (int t = lens[b]; t < T; t++) toks[(size_t)b * T + t] = 0;
            done_tok += lens[b];
        }
        padded += (long long)B * T;
        for (int b = 0; b < B; b++) attn_flops += 2.0 * lens[b] * (double)lens[b] * d; /* causal QKᵀ and PV */
#ifdef LL_HAVE_CUDA
        if (use_cuda) ll_cuda_capture_mark_start(probe);
#endif
        tc.last = ll_now();
        if (ll_model_forward(m, ops, ctx, toks, lens, B, T, &tc.base) != 0) { rc = 1; cli_fail_lib(); goto done; }
        i0 += B;
    }
        ll_progress_update(&prog, seen_seq, done_tok);
    }
    ll_progress_end(&prog, n_seq, done_tok);
    double t_fwd = ll_now() - t0;
    if (dumpcap && ll_capture_dump_finish(dumpcap) != 0) { rc = 1; cli_fail_lib(); goto done; }

    double t1 = ll_now();
    res = ll_xcalloc((size_t)E, sizeof *res);
    int solved;
#ifdef LL_HAVE_CUDA
    if (use_cuda) solved = ll_cuda_stats_solve(gst, ridge, 0, res);
    else
#endif
        solved = ll_stats_solve(st, ridge, threads, res);
    if (solved != 0) { rc = 1; cli_fail_lib(); goto done; }
    for (int e = 0; e < E; e++)
        if (!(res[e].tss > 0)) { cli_fail("%s: labels are constant: PR undefined", src); goto done; }
    double *pr = ll_xmalloc((size_t)E * sizeof(double));
    for (int e = 0; e < E; e++) pr[e] = res[e].pr;
    ll_law law;
    int have_law = E - fit_from >= 2 && ll_law_fit(pr, E, fit_from, &law) == 0;
    free(pr);
    double t_solve = ll_now() - t1;

    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "command", "run");
    cJSON_AddStringToObject(cfg, "model", model_dir);
    if (data_path) {
        cJSON_AddNullToObject(cfg, "tokens");
        cJSON_AddStringToObject(cfg, "data", data_path);
        cJSON_AddStringToObject(cfg, "tokenizer", tokenizer ? tokenizer : model_dir);
        cJSON_AddStringToObject(cfg, "split", split_s);
        cJSON_AddStringToObject(cfg, "text_field", text_field);
        if (docs) cJSON_AddNumberToObject(cfg, "docs", (double)docs);
        else cJSON_AddNullToObject(cfg, "docs");
        cJSON_AddNumberToObject(cfg, "seed", (double)seed);
        cJSON_AddBoolToObject(cfg, "add_special_tokens", 1);
    } else {
        cJSON_AddStringToObject(cfg, "tokens", tok_path);
    }
    cJSON_AddNumberToObject(cfg, "batch_size", batch);
    cJSON_AddNumberToObject(cfg, "batch_tokens", (double)batch_tokens);
    cJSON_AddBoolToObject(cfg, "keep_order", keep_order || dump);
    cJSON_AddBoolToObject(cfg, "embedding_entry", embed_entry);
    cJSON_AddNumberToObject(cfg, "max_length", max_len);
    cJSON_AddNumberToObject(cfg, "threads", threads);
    cJSON_AddStringToObject(cfg, "position", ll_position_name(pos));
    cJSON_AddStringToObject(cfg, "norm", norm_initialized ? "initialized" : ll_norm_name(norm));
    cJSON_AddStringToObject(cfg, "norm_applied", ll_norm_name(norm));
    cJSON_AddNumberToObject(cfg, "eps", eps);
    cJSON_AddBoolToObject(cfg, "norm_last", norm_last);
    cJSON_AddNumberToObject(cfg, "fit_from", fit_from);
    cJSON_AddNumberToObject(cfg, "ridge", ridge);
    cJSON_AddStringToObject(cfg, "target", "id");
    if (have_shuffle) cJSON_AddNumberToObject(cfg, "shuffle_vocab_seed", (double)shuffle_seed);
    else cJSON_AddNullToObject(cfg, "shuffle_vocab_seed");
    if (dump) cJSON_AddStringToObject(cfg, "dump_hidden", dump);
    else cJSON_AddNullToObject(cfg, "dump_hidden");
    cJSON_AddStringToObject(cfg, "backend", use_cuda ? "cuda" : "cpu");
    cJSON_AddStringToObject(cfg, "compute", compute_s);
    if (use_cuda) cJSON_AddNumberToObject(cfg, "device", device);
    cJSON_AddStringToObject(cfg, "backend_requested", backend);
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "model", ll_model_describe(m));
    cJSON *tp = cJSON_AddObjectToObject(extra, "throughput");
    cJSON_AddNumberToObject(tp, "sequences", (double)n_seq);
    cJSON_AddNumberToObject(tp, "sequences_cut", (double)n_cut);
    cJSON_AddNumberToObject(tp, "tokens", (double)done_tok);
    cJSON_AddNumberToObject(tp, "padded_tokens", (double)padded);
    cJSON_AddNumberToObject(tp, "seconds", t_fwd);
    cJSON_AddNumberToObject(tp, "tokens_per_s", t_fwd > 0 ? done_tok / t_fwd : 0);
    cJSON_AddNumberToObject(tp, "capture_s", tc.seconds);
    cJSON_AddItemToObject(tp, "per_entry_forward_s", cJSON_CreateDoubleArray(tc.fwd_s, E));
    cJSON_AddItemToObject(tp, "per_entry_capture_s", cJSON_CreateDoubleArray(tc.cap_s, E));
    cJSON_AddNumberToObject(tp, "forward_s", t_fwd - tc.seconds);
    cJSON_AddNumberToObject(tp, "forward_tokens_per_s", t_fwd - tc.seconds > 0 ? done_tok / (t_fwd - tc.seconds) : 0);
    cJSON_AddNumberToObject(tp, "load_s", t_load);
    if (data_path) {
        cJSON_AddNumberToObject(tp, "documents", (double)n_docs);
        cJSON_AddNumberToObject(tp, "tokenize_s", t_tok);
    }
    cJSON *mem = cJSON_AddObjectToObject(extra, "memory");
    cJSON_AddNumberToObject(mem, "weights_bytes", (double)m->arena_bytes);
    cJSON_AddNumberToObject(mem, "workspace_bytes", (double)m->ws_bytes);
    cJSON_AddNumberToObject(tp, "solve_s", t_solve);
#ifdef LL_HAVE_CUDA
    /* per-layer device timing: CUDA events at every entry, read after the
     * run (no synchronisation inside the loop) */
    double *lms = NULL, *cms = NULL, peak = 0;
    long nbt = 0;
    if (use_cuda) {
        lms = ll_xcalloc((size_t)E, sizeof(double));
        cms = ll_xcalloc((size_t)E, sizeof(double));
        nbt = ll_cuda_capture_timing(probe, lms, cms);
        if (ll_cuda_measure_gemm_bf16(8192, 5, &peak) != 0) peak = 0;
        /* GEMM FLOPs of one layer per token: 2 x its parameters (total less the
         * embeddings), plus causal attention for the transformer families */
        const ll_model_config *mc = &m->cfg;
        double emb = (double)m->embed.rows * m->embed.cols + (double)m->pos_embed.rows * m->pos_embed.cols;
        double fl_tok = 2.0 * ((double)m->n_params - emb) / LL_MAX(mc->n_layer, 1);
        double lay_fl = fl_tok * (double)done_tok + (m->layers ? attn_flops : 0); /* transformer layers */
        cJSON *gt = cJSON_AddObjectToObject(extra, "gpu_timing");
        cJSON_AddNumberToObject(gt, "batches", (double)nbt);
        cJSON_AddNumberToObject(gt, "peak_bf16_gemm_tflops", peak);
        cJSON_AddNumberToObject(gt, "layer_flops_estimate", lay_fl);
        cJSON *pe = cJSON_AddArrayToObject(gt, "per_entry");
        for (int e = 0; e < E && nbt > 0; e++) {
            cJSON *o = cJSON_CreateObject();
            double sec = lms[e] / 1000;
            cJSON_AddNumberToObject(o, "index", e);
            cJSON_AddNumberToObject(o, "layer_ms_per_batch", lms[e] / nbt);
            cJSON_AddNumberToObject(o, "capture_ms_per_batch", cms[e] / nbt);
            cJSON_AddNumberToObject(o, "tokens_per_s", sec > 0 ? done_tok / sec : 0);
            if (e > 0 || !m->layers) { /* entry 0 of a transformer is the embedding lookup */
                cJSON_AddNumberToObject(o, "tflops", sec > 0 ? lay_fl / sec / 1e12 : 0);
                cJSON_AddNumberToObject(o, "pct_of_peak", sec > 0 && peak > 0 ? 100 * lay_fl / sec / 1e12 / peak : 0);
            }
            cJSON_AddItemToArray(pe, o);
        }
    }
#endif
    if (ll_report_write(outdir, res, E, have_law ? &law : NULL, N, d, cfg, extra) != 0) { rc = 1; cli_fail_lib(); goto done; }
    if (!quiet) ll_report_print(stdout, res, E, have_law ? &law : NULL, N, d);
#ifdef LL_HAVE_CUDA
    if (use_cuda && !quiet && nbt > 0) {
        printf("GPU per entry (%ld batches; bf16 GEMM peak measured %.0f TFLOP/s)\n", nbt, peak);
        printf("entry  layer ms/batch   tokens/s   capture ms/batch\n");
        for (int e = 0; e < E; e++)
            printf("%5d  %14.3f  %9.3g  %17.3f\n", e, lms[e] / nbt, lms[e] > 0 ? done_tok / (lms[e] / 1000) : 0,
                   cms[e] / nbt);
    }
    free(lms);
    free(cms);
#endif
    rc = 0;
done:
    if (data_tmp[0]) unlink(data_tmp);
    ll_classmap_free(&shuf_ids);
    free(shuf_to);
    free(res);
    free(toks);
    free(lens);
    free(order);
    free(per_entry_fwd);
    free(per_entry_cap);
    if (tee) ll_capture_free(tee);
    if (dumpcap) ll_capture_free(dumpcap);
    ll_token_reader_close(rd2);
    free(wids);
    free(woff);
    ll_model_free(m); /* before the backend context: device weights are freed through it */
    if (use_cuda) {
#ifdef LL_HAVE_CUDA
        if (probe) ll_cuda_capture_free(probe);
        ll_cuda_stats_free(gst);
        if (ctx) ll_cuda_ops_ctx_free(ctx);
#endif
    } else {
        if (probe) ll_capture_free(probe);
        ll_stats_free(st);
        if (ctx) ll_cpu_ctx_free(ctx);
    }
    return rc;
}
