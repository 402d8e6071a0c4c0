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
#include "hub/hub.h"
#include "pipeline/pipeline.h"
#include "pipeline/run_options.h"
#include "report/provenance.h"
#include "probe/measures.h"
#include "capture/capture.h"
#include "model/family.h"
#include "backend/backend.h"
#include "io/corpus.h"
#include <stdlib.h>
#include "report/report.h"

/* words of a ", "-separated list after `head`, wrapped at 88 columns with
 * continuation lines indented by 8 */
static void wrapped(ll_sbuf *b, const char *head, const char *list, const char *tail) {
    size_t col = strlen(head);
    ll_sb_puts(b, head);
    for (const char *p = list; *p;) {
        const char *e = strstr(p, ", ");
        size_t n = e ? (size_t)(e - p) + 1 : strlen(p); /* the word and its comma */
        if (col + 1 + n > 88) { ll_sb_puts(b, "\n       "); col = 7; }
        ll_sb_printf(b, " %.*s", (int)n, p);
        col += 1 + n;
        p += e ? n + 1 : n;
    }
    ll_sb_puts(b, tail);
}

/* The usage text; the families and GGUF architectures come from the family
 * registry (host/families/list.h).  Into b (free b->s). */
static void run_usage(ll_sbuf *b) {
    ll_sb_puts(b, "usage: layerlaw run --model DIR --tokens FILE --out DIR [options]\n"
                  "       layerlaw run --model DIR --data TEXT --out DIR [--docs N --seed S] [options]\n\n"
                  "  DIR   an HF checkpoint folder: config.json + model.safetensors (or sharded with\n"
                  "        model.safetensors.index.json, or pytorch_model.bin) with model_type one of\n");
    wrapped(b, "       ", ll_family_supported(), ";\n");
    ll_sb_puts(b, "        or a llama.cpp .gguf file (its metadata gives the config and the tokenizer;\n"
                  "        docs/gguf.md) with general.architecture one of\n");
    wrapped(b, "       ", ll_family_gguf_supported(), ";\n");
    ll_sb_puts(b, "        or a hub id ORG/NAME[@REVISION] (ORG/NAME/FILE.gguf), fetched into the Hugging\n"
                  "        Face cache or found there (docs/hub.md)\n");
    ll_sb_puts(b, "  FILE  pre-tokenised sequences, one JSON array of token ids per line\n"
                  "  TEXT  raw text: plain (a document per line, or per paragraph / file: --split), or\n"
                  "        JSON Lines with a text field (--text-field, default text); either may be .gz.\n"
                  "        Tokenised with the model folder's tokenizer.json (or --tokenizer) exactly as HF\n"
                  "        AutoTokenizer does (special tokens added, truncation at --max-length)\n");
}

/* the ll_opt kind of a shared run option (pipeline/run_options.h) */
static ll_opt_kind opt_kind(const ll_run_option *d) {
    switch (d->kind) {
    case LL_RO_INT: return LL_OPT_INT;
    case LL_RO_LONG: return LL_OPT_LONG;
    case LL_RO_U64: return LL_OPT_U64;
    case LL_RO_DOUBLE: return LL_OPT_DOUBLE;
    case LL_RO_FLAG: return LL_OPT_FLAG;
    case LL_RO_ENUM: return LL_OPT_CHOICE;
    default: return LL_OPT_STR;
    }
}

static int run_main(ll_dist *dist, int argc, char **argv) {
    ll_run_opts o;
    ll_run_opts_default(&o);
    const char *outdir = NULL;
    int quiet = 0, offline = 0;
    /* the parser is built from run's one option table (shared with sweep
     * files, pipeline/run_options.h): enumerated values and --out are read as
     * text (checked against the library's lists) and set through the table,
     * the rest straight into ll_run_opts */
    enum { MAXO = 96 };
    ll_opt opts[MAXO];
    const char *text[MAXO] = {0};
    int seen[MAXO] = {0}, no = 0;
    for (int i = 0; i < ll_n_run_options && no < MAXO - 4; i++) {
        const ll_run_option *d = &ll_run_options[i];
        if (d->group) opts[no++] = (ll_opt){.kind = LL_OPT_GROUP, .help = d->group};
        int as_text = d->kind == LL_RO_ENUM || d->off == (size_t)-1;
        opts[no++] = (ll_opt){.name = d->name, .kind = opt_kind(d),
                              .dst = as_text ? (void *)&text[i] : (void *)((char *)&o + d->off), .min = d->min, .max = d->max,
                              .arg = d->arg, .help = d->help, .seen = &seen[i], .choices = d->choices};
    }
    opts[no++] = (ll_opt){.name = "quiet", .kind = LL_OPT_FLAG, .dst = &quiet, .help = "no table on stdout"};
    opts[no++] = (ll_opt){.name = "offline", .kind = LL_OPT_FLAG, .dst = &offline,
                          .help = "hub ids (ORG/NAME[@REV], docs/hub.md) from the cache only, no network"};
    opts[no++] = (ll_opt){0};
    ll_sbuf usage = {0};
    run_usage(&usage);
    int prc = ll_opts_parse(usage.s, opts, argc, argv, NULL);
    free(usage.s);
    if (prc) return prc == 1 ? 0 : 2;
    int seen_seed = 0, seen_btok = 0, seen_device = 0, seen_fseed = 0;
    for (int i = 0; i < ll_n_run_options; i++) {
        const ll_run_option *d = &ll_run_options[i];
        if (!seen[i]) continue;
        if (!strcmp(d->name, "out")) outdir = text[i];
        else if (d->kind == LL_RO_ENUM && ll_run_option_set(&o, d, text[i]) != 0) return cli_fail_lib();
        seen_seed |= !strcmp(d->name, "seed");
        seen_btok |= !strcmp(d->name, "batch-tokens");
        seen_device |= !strcmp(d->name, "device");
        seen_fseed |= !strcmp(d->name, "fold-seed");
        if (!strcmp(d->name, "shuffle-vocab")) o.have_shuffle = 1;
    }
    if (o.tokens && o.data) return cli_fail("run: give --tokens or --data, not both");
    if (!o.model || !(o.tokens || o.data) || !outdir)
        return cli_fail("run: --model, --tokens (or --data) and --out are required; see layerlaw run --help");
    if (!o.data && (o.tokenizer || o.docs || strcmp(o.split, "auto") || strcmp(o.text_field, "text") || seen_seed))
        return cli_fail("run: --tokenizer, --split, --text-field, --docs and --seed apply to --data only");
    if (seen_seed && !o.docs) return cli_fail("run: --seed chooses which documents --docs samples: give --docs too");
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
    /* hub ids (host/hub/hub.h): from here on local paths */
    char *hub_model = NULL, *hub_tok = NULL;
    cJSON *hub_prov = NULL, *hub_tprov = NULL;
    if (offline) ll_hub_set_offline(1);
    int hrc = ll_model_path_resolve(o.model, LL_HUB_NEED_MODEL | (o.data && !o.tokenizer ? LL_HUB_NEED_TOKENIZER : 0),
                                    &hub_model, &hub_prov);
    if (!hrc && o.tokenizer) hrc = ll_model_path_resolve(o.tokenizer, LL_HUB_NEED_TOKENIZER, &hub_tok, &hub_tprov);
    if (hrc) { cli_fail_lib(); free(hub_model); cJSON_Delete(hub_prov); return hrc; }
    o.model = hub_model;
    if (hub_tok) o.tokenizer = hub_tok;
    if (o.data && !o.tokenizer) { /* the model folder's tokenizer.json, or say how to give one */
        char tj[4200];
        struct stat mst;
        ll_path_join(tj, sizeof tj, o.model, "tokenizer.json");
        if (stat(o.model, &mst) == 0 && S_ISDIR(mst.st_mode) && !ll_path_exists(tj)) {
            int frc = cli_fail("%s: no tokenizer.json in the model folder: give one with --tokenizer FILE (or its folder)", o.model);
            free(hub_model);
            cJSON_Delete(hub_prov);
            return frc;
        }
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
        ll_hub_annotate(r.extra, hub_prov, hub_tprov);
        if (ll_run_result_write(outdir, &r) != 0) {
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
    free(hub_model);
    free(hub_tok);
    cJSON_Delete(hub_prov);
    cJSON_Delete(hub_tprov);
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
