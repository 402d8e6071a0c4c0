/* layerlaw run: options → ll_run_opts → the library pipeline
 * (host/pipeline/pipeline.h) → the report (host/report/report.h).  Nothing
 * here computes. */
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/opts.h"
#include "core/ll_util.h"
#include "dist/agree.h"
#include "dist/dist.h"
#include "pipeline/pipeline.h"
#include "report/provenance.h"
#include "probe/measures.h"
#include "capture/capture.h"
#include "model/family.h"
#include "backend/backend.h"
#include "io/corpus.h"
#include <stdlib.h>
#include "report/report.h"

/* The usage text; the families and GGUF architectures come from the family
 * registry (host/families/list.h).  Into b (free b->s). */
static void run_usage(ll_sbuf *b) {
    ll_sb_printf(b,
                 "usage: layerlaw run --model DIR --tokens FILE --out DIR [options]\n"
                 "       layerlaw run --model DIR --data TEXT --out DIR [--docs N --seed S] [options]\n\n"
                 "  DIR   an HF checkpoint folder: config.json + model.safetensors (or sharded with\n"
                 "        model.safetensors.index.json, or pytorch_model.bin); model_type one of\n"
                 "        %s;\n"
                 "        or a llama.cpp .gguf file (general.architecture one of %s;\n"
                 "        its metadata gives the config and the tokenizer; docs/gguf.md)\n"
                 "  FILE  pre-tokenised sequences, one JSON array of token ids per line\n"
                 "  TEXT  raw text: plain (a document per line, or per paragraph / file: --split), or\n"
                 "        JSON Lines with a text field (--text-field, default text); either may be .gz.\n"
                 "        Tokenised with the model folder's tokenizer.json (or --tokenizer) exactly as HF\n"
                 "        AutoTokenizer does (special tokens added, truncation at --max-length)\n",
                 ll_family_supported(), ll_family_gguf_supported());
}

static int run_main(ll_dist *dist, int argc, char **argv) {
    ll_run_opts o;
    ll_run_opts_default(&o);
    const char *outdir = NULL, *pos_s = "next", *norm_s = "initialized";
    int quiet = 0, seen_btok = 0, seen_seed = 0, seen_shuffle = 0, seen_device = 0;
    const char *measure_s = "pr"; /* measures (docs/measures.md) */
    int seen_fseed = 0;
    const ll_opt opts[] = {
        {NULL, LL_OPT_GROUP, NULL, 0, 0, NULL, "input:"},
        {"model", LL_OPT_STR, &o.model, 0, 0, "DIR", "HF checkpoint folder"},
        {"tokens", LL_OPT_STR, &o.tokens, 0, 0, "FILE", "pre-tokenised input (one JSON array of ids per line)"},
        {"data", LL_OPT_STR, &o.data, 0, 0, "TEXT", "raw text input (txt / JSONL, optionally .gz)"},
        {"tokenizer", LL_OPT_STR, &o.tokenizer, 0, 0, "T", "tokenizer.json, its folder or a .gguf (default: the model)"},
        {"split", LL_OPT_CHOICE, &o.split, 0, 0, "S", "auto|line|paragraph|file|jsonl (default auto: jsonl for .jsonl[.gz], else line)", NULL, 0, ll_corpus_split_names},
        {"text-field", LL_OPT_STR, &o.text_field, 0, 0, "F", "JSONL field holding the text (default text)"},
        {"docs", LL_OPT_LONG, &o.docs, 1, 1e15, "N", "sample N documents uniformly without replacement (portable RNG)"},
        {"seed", LL_OPT_U64, &o.seed, 0, 0, "S", "the sampling seed (default 0; with --docs)", &seen_seed},
        {"max-length", LL_OPT_INT, &o.max_length, 0, 1 << 30, "L", "cut sequences to L tokens (default 512; 0 = no cut)"},
        {"out", LL_OPT_STR, &outdir, 0, 0, "DIR", "results folder: law.json, layers.csv"},
        {NULL, LL_OPT_GROUP, NULL, 0, 0, NULL, "measurement:"},
        {"position", LL_OPT_CHOICE, &pos_s, 0, 0, "P", "next|current|previous|next-next: which token a feature predicts (default next)", NULL, 0, ll_position_names},
        {"norm", LL_OPT_CHOICE, &norm_s, 0, 0, "N", "initialized (default: a fresh norm of the model's own kind and eps,\nas the authors) | layernorm | rmsnorm | standardize | none", NULL, 0, ll_norm_choices},
        {"norm-last", LL_OPT_FLAG, &o.norm_last, 0, 0, NULL, "normalise the last entry too (default: as the authors, not)"},
        {"fit-from", LL_OPT_INT, &o.fit_from, 0, 1 << 20, "K", "first entry of the law fit (default 1)"},
        {"ridge", LL_OPT_DOUBLE, &o.ridge, 0, 1e300, "LAMBDA", "ridge penalty (default 0: OLS, minimum norm)"},
        {"shuffle-vocab", LL_OPT_U64, &o.shuffle_seed, 0, 0, "S", "the shuffled-vocabulary control: labels mapped through a random\npermutation (seed S) of the label ids present, as the authors (same as fit)", &seen_shuffle},
        {"dump-hidden", LL_OPT_STR, &o.dump_hidden, 0, 0, "F.npy", "also write the raw features, (N, E, d) float32, examples in input order"},
        {"measure", LL_OPT_CHOICE, &measure_s, 0, 0, "M", "pr|fuzziness|onehot: what is measured per entry (default pr;\nfuzziness = separation fuzziness tr(Sw pinv(Sb)), docs/measures.md)", NULL, 0, ll_measure_choices},
        {"max-classes", LL_OPT_INT, &o.max_classes, 0, 2147483647, "M", "fuzziness/onehot: keep the M-1 most frequent classes, pool the rest\n(default 0: all classes while their sums fit in 8 GiB)"},
        {"folds", LL_OPT_INT, &o.folds, 2, LL_FOLDS_MAX, "K", "held-out PR over K folds of sequences and a jackknife of the law\n(default off; the probe statistics then stay on the host)"},
        {"fold-seed", LL_OPT_U64, &o.fold_seed, 0, 0, "S", "seed of the fold hash (default 0)", &seen_fseed},
        {"embedding-entry", LL_OPT_FLAG, &o.embedding_entry, 0, 0, NULL, "rwkv/mamba: entry 0 = the token embeddings and no raw last block\n(default: HF's hidden_states, entry 0 = block 1's output, as the paper)"},
        {NULL, LL_OPT_GROUP, NULL, 0, 0, NULL, "execution:"},
        {"batch-size", LL_OPT_INT, &o.batch_size, 1, 1 << 20, "B", "at most B sequences per forward batch, right-padded (default 64)"},
        {"batch-tokens", LL_OPT_LONG, &o.batch_tokens, 1, 1e12, "N", "at most N padded tokens per batch (default 4096; a longer\nsequence goes alone): bounds the activation memory; with --stages the\ndefault is the largest batch that keeps the pipeline bubble <= 10%", &seen_btok},
        {"keep-order", LL_OPT_FLAG, &o.keep_order, 0, 0, NULL, "batch sequences in input order (default: longest first, less padding;\nimplied by --dump-hidden)"},
        {"threads", LL_OPT_INT, &o.threads, 0, 4096, "T", "threads (default: all cores)"},
        {"backend", LL_OPT_CHOICE, &o.backend, 0, 0, "B", "auto|cpu|cuda (default auto: cuda when a device is present)", NULL, 0, ll_backend_names},
        {"device", LL_OPT_INT, &o.device, 0, 1024, "N", "cuda: the device to use (default 0; under mpirun/srun the rank's\nlocal rank: one rank per GPU)", &seen_device},
        {"stages", LL_OPT_INT, &o.stages, 1, 4096, "S", "layer (pipeline) parallel under mpirun/srun: each rank runs one of S\nconsecutive blocks of layers and loads only their weights; ranks = replicas x S\n(default 1: every rank runs the whole model; docs/distributed.md)"},
        {"compute", LL_OPT_CHOICE, &o.compute, 0, 0, "C", "auto (default: bf16 on CUDA, fp32 on the CPU) | bf16 (CUDA: weights kept\nas stored, bf16 GEMMs with fp32 accumulation) | fp32", NULL, 0, ll_compute_names},
        {"dtype", LL_OPT_CHOICE, &o.compute, 0, 0, "C", "the same as --compute", NULL, 0, ll_compute_names},
        {"quiet", LL_OPT_FLAG, &quiet, 0, 0, NULL, "no table on stdout"},
        {NULL, 0, NULL, 0, 0, NULL, NULL}};
    ll_sbuf usage = {0};
    run_usage(&usage);
    int prc = ll_opts_parse(usage.s, opts, argc, argv, NULL);
    free(usage.s);
    if (prc) return prc == 1 ? 0 : 2;
    if (o.tokens && o.data) return cli_fail("run: give --tokens or --data, not both");
    if (!o.model || !(o.tokens || o.data) || !outdir)
        return cli_fail("run: --model, --tokens (or --data) and --out are required; see layerlaw run --help");
    if (!o.data && (o.tokenizer || o.docs || strcmp(o.split, "auto") || strcmp(o.text_field, "text") || seen_seed))
        return cli_fail("run: --tokenizer, --split, --text-field, --docs and --seed apply to --data only");
    if (seen_seed && !o.docs) return cli_fail("run: --seed chooses which documents --docs samples: give --docs too");
    if (ll_position_parse(pos_s, &o.position) != 0) return cli_fail_lib();
    o.norm_initialized = !strcmp(norm_s, "initialized") || !strcmp(norm_s, "initialized-LN");
    if (!o.norm_initialized && ll_norm_parse(norm_s, &o.norm) != 0) return cli_fail_lib();
    o.have_shuffle = seen_shuffle;
    ll_measure measure;
    if (ll_measure_parse(measure_s, &measure) != 0) return cli_fail_lib();
    o.measure = measure;
    if (o.max_classes == 1) return cli_fail("--max-classes: 1 is not a class budget (0 or >= 2)");
    if (seen_fseed && !o.folds) return cli_fail("--fold-seed needs --folds");
    o.progress = 1;
    /* only rank 0 writes: only its folder (and the dump's) is checked; every
     * rank learns the verdict, and the ranks agree on their inputs (dist/agree.h) */
    int crc = ll_dist_rank(dist) == 0 && (ll_report_check_outdir(outdir) != 0 ||
                                          (o.dump_hidden && ll_check_output_path(o.dump_hidden, "--dump-hidden") != 0)) ? 2 : 0;
    const char *in0[4] = {o.model, o.tokens, o.data, o.tokenizer};
    if ((crc = ll_dist_check_job(dist, crc, argc, argv, in0, 4)) != 0) {
        if (ll_dist_rank(dist) == 0) cli_fail_lib();
        return crc;
    }
    if (o.data && !o.tokenizer) { /* the model folder's tokenizer.json, or say how to give one */
        char tj[4200];
        struct stat mst;
        ll_path_join(tj, sizeof tj, o.model, "tokenizer.json");
        if (stat(o.model, &mst) == 0 && S_ISDIR(mst.st_mode) && !ll_path_exists(tj))
            return cli_fail("%s: no tokenizer.json in the model folder: give one with --tokenizer FILE (or its folder)", o.model);
    }
    cli_defer_errors(0);
    if (!seen_device && ll_dist_size(dist) > 1) o.device = ll_dist_local_rank(dist);
    if (!seen_btok && o.stages > 1) o.batch_tokens = 0; /* chosen by the pipeline (bubble <= 10%) */
    const int argc0 = argc;
    char **const argv0 = argv;
    o.dist = dist;
    ll_run_result r;
    int rc = ll_run_pipeline(&o, &r);
    if (rc != 0) {
        if (r.rank == 0) cli_fail_lib();
    } else if (r.rank == 0) {
        /* where the result came from: build, host, argv, input hashes */
        const char *inputs[4] = {o.model, o.tokens, o.data, o.tokenizer};
        if (!r.extra) r.extra = cJSON_CreateObject();
        cJSON_AddItemToObject(r.extra, "provenance", ll_provenance(argc0 + 1, argv0 - 1, inputs, 4));
        if (ll_report_write_run(outdir, &r) != 0) {
            rc = 1;
            cli_fail_lib();
        } else {
            if (r.measure != LL_MEASURE_FUZZINESS) cli_run_figure(outdir); /* the figure draws PR */
            if (!quiet) {
                ll_report_more more;
                const double *ho[3] = {r.pr_heldout, r.pr_heldout_fold_mean, r.pr_heldout_fold_sd};
                ll_report_print_more(stdout, r.res, r.E, r.have_law ? &r.law : NULL, r.N, r.d,
                                     ll_report_more_for(r.measure, ho, &more));
                ll_report_print_gpu_timing(stdout, r.extra);
            }
        }
    }
    ll_run_result_free(&r);
    return rc;
}

int cmd_run(int argc, char **argv) {
    ll_dist *dist = ll_dist_init(&argc, &argv);
    if (!dist) return cli_fail_lib();
    /* option errors are the same on every rank: rank 0 says them, once */
    if (ll_dist_rank(dist) != 0) cli_defer_errors(1);
    int rc = run_main(dist, argc, argv);
    cli_defer_errors(0);
    ll_dist_finalize(dist);
    return rc;
}
