/* The run's input: the options checked, --data tokenised into a private token
 * file, pass 1 (every sequence checked, examples counted, lengths and label
 * counts kept), the shuffled vocabulary, the class plan of fuzziness/onehot,
 * and the plan of this rank's batches. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/ll_util.h"
#include "io/corpus.h"
#include "io/token_stream.h"
#include "pipeline/run_state.h"

/* The options alone (and the job's size): 0, or 2 with the error set.  The
 * same answer on every rank. */
int run_check_opts(const ll_run_opts *o) {
    if (!o->model || !(o->tokens || o->data)) { ll_set_error("run: a model and an input (tokens or data) are required"); return 2; }
    if (o->tokens && o->data) { ll_set_error("run: give tokens or data, not both"); return 2; }
    if (o->data && ll_corpus_split_from_name(o->split ? o->split : "auto") < 0) {
        ll_set_error("--split: unknown split '%s' (auto|line|paragraph|file|jsonl)", o->split);
        return 2;
    }
    /* measures (docs/measures.md) */
    if (o->measure < LL_MEASURE_PR || o->measure > LL_MEASURE_ONEHOT) { ll_set_error("run: unknown measure %d", o->measure); return 2; }
    const int need_classes = o->measure != LL_MEASURE_PR, sepfuzz = o->measure == LL_MEASURE_FUZZINESS;
    if (o->folds && (o->folds < 2 || o->folds > LL_FOLDS_MAX)) { ll_set_error("--folds: %d, need 2..%d", o->folds, LL_FOLDS_MAX); return 2; }
    if (o->folds && need_classes) { ll_set_error("--folds: held-out PR is defined for --measure pr only"); return 2; }
    if (o->folds && o->ridge != 0) { ll_set_error("--folds: held-out PR uses the OLS probe (no --ridge)"); return 2; }
    if (sepfuzz && o->ridge != 0) { ll_set_error("--ridge: not a parameter of --measure fuzziness"); return 2; }
    /* layer stages (pipeline parallel): the ranks form a grid of replicas x
     * stages */
    const int nst = o->stages > 1 ? o->stages : 1, nranks = ll_dist_size(o->dist);
    if (nst > 1 && nranks % nst != 0) {
        ll_set_error("--stages %d: the job has %d rank%s, not a multiple of %d (start it with mpirun -np %d or more)",
                     nst, nranks, nranks == 1 ? "" : "s", nst, nst);
        return 2;
    }
    if (nst > 1 && o->folds) { ll_set_error("--folds: not with --stages"); return 2; }
    if (nst > 1 && o->dump_hidden) { ll_set_error("--dump-hidden: not with --stages"); return 2; }
    if (nst > 1 && o->extra_sink) { ll_set_error("run: extra sinks are not supported with --stages"); return 2; }
    return 0;
}

/* --data: the corpus tokenised (documents sampled) into a token file that
 * exists only as an open descriptor (unlinked at once: nothing is left
 * behind, whatever ends the process); read back through /proc/self/fd. */
static int tokenize_to_private_file(const ll_run_opts *o, char *path, size_t cap, int *fd_out, long long *n_docs) {
    const int split = ll_corpus_split_from_name(o->split ? o->split : "auto");
    ll_token_stream_opts so = {.tokenizer = o->tokenizer ? o->tokenizer : o->model, .corpus = o->data,
                               .split = split, .text_field = o->text_field ? o->text_field : "text",
                               .docs = o->docs, .seed = o->seed, .add_special = 1, .max_length = o->max_length,
                               .queue = 0};
    ll_token_stream *ts = ll_token_stream_open(&so);
    if (!ts) return 2;
    const char *tmpd = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/layerlaw-tokens-XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd >= 0) unlink(tmpl);
    int wfd = fd >= 0 ? dup(fd) : -1;
    FILE *tf = wfd >= 0 ? fdopen(wfd, "w") : NULL;
    if (!tf) {
        if (wfd >= 0) close(wfd);
        if (fd >= 0) close(fd);
        ll_token_stream_close(ts);
        ll_set_error("%s: cannot create a temporary token file", tmpl);
        return 1;
    }
    int32_t *ids;
    int n, r;
    long long di;
    *n_docs = 0;
    while ((r = ll_token_stream_next(ts, &ids, &n, &di)) == 1) {
        fputc('[', tf);
        for (int i = 0; i < n; i++) fprintf(tf, i ? ", %d" : "%d", ids[i]);
        fputs("]\n", tf);
        free(ids);
        (*n_docs)++;
    }
    ll_token_stream_close(ts);
    if (r == 0 && o->docs > 0 && *n_docs < o->docs)
        ll_warn("--docs %lld: %s has only %lld documents: all of them are used", (long long)o->docs, o->data, *n_docs);
    int werr = fclose(tf) != 0;
    if (r < 0 || werr || *n_docs == 0) {
        close(fd);
        if (r >= 0) ll_set_error("%s: %s", o->data, werr ? "cannot write the temporary token file" : "no documents");
        return werr ? 1 : 2;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    *fd_out = fd;
    return 0;
}

/* One sequence of pass 1: its ids checked against the vocabulary, its
 * length kept, its examples counted, the labels it gives marked and counted. */
static int pass1_sequence(run_state *S, ll_token_reader *rd, const int32_t *ids, int n, int cut, unsigned char *present,
                          int64_t *cap_len) {
    const ll_run_opts *o = S->o;
    const int vocab = S->m->cfg.vocab;
    for (int i = 0; i < n; i++)
        if (ids[i] >= vocab) {
            ll_set_error("%s: %s %ld: token id %d%s%s is outside the model's vocabulary (%d)", S->src, S->unit,
                         ll_token_reader_line(rd), ids[i], o->data ? " from tokenizer " : "", o->data ? S->tokz : "",
                         vocab);
            return -1;
        }
    if (S->n_seq == *cap_len) {
        *cap_len *= 2;
        S->seq_len = ll_xrealloc(S->seq_len, sizeof(int64_t) * (size_t)*cap_len);
    }
    S->seq_len[S->n_seq++] = n;
    S->n_ids += n;
    S->n_cut += cut;
    S->N += ll_position_count(o->position, n);
    if (present || S->lcount) {
        int j0, j1, off;
        ll_position_range(o->position, n, &j0, &j1, &off);
        for (int j = j0; j < j1; j++) {
            if (present) present[ids[j + off]] = 1;
            if (S->lcount) S->lcount[ids[j + off]]++;
        }
    }
    S->longest = LL_MAX(S->longest, n);
    return 0;
}

/* Pass 1 over the token file: every line and id checked, examples counted,
 * lengths kept (8 bytes a sequence; the ids themselves are not kept);
 * present[v] marks the label ids seen (NULL: not needed). */
static int pass1(run_state *S, unsigned char *present) {
    const ll_run_opts *o = S->o;
    int64_t cap_len = 1024;
    S->seq_len = ll_xmalloc(sizeof(int64_t) * (size_t)cap_len);
    S->longest = 1;
    ll_token_reader *rd = ll_token_reader_open(S->tok_path, o->max_length);
    if (!rd) return -1;
    const int32_t *ids;
    int n, cut, rr;
    while ((rr = ll_token_reader_next(rd, &ids, &n, &cut)) == 1)
        if (pass1_sequence(S, rd, ids, n, cut, present, &cap_len) != 0) { rr = -1; break; }
    ll_token_reader_close(rd);
    if (rr == 0 && S->n_ids == 0) {
        ll_set_error("%s: no tokens (empty %s)", S->src, o->data ? "corpus" : "token file");
        rr = -1;
    }
    return rr < 0 ? -1 : 0;
}

/* --shuffle-vocab: the label ids present, and the permutation among them. */
static void plan_shuffle(run_state *S, const unsigned char *present) {
    const int vocab = S->m->cfg.vocab;
    int K = 0;
    for (int v = 0; v < vocab; v++) K += present[v];
    S->shuf_ids.ids = ll_xmalloc(sizeof(int64_t) * (size_t)(K > 0 ? K : 1));
    for (int v = 0; v < vocab; v++)
        if (present[v]) S->shuf_ids.ids[S->shuf_ids.K++] = v;
    S->shuf_to = ll_xmalloc(sizeof(int64_t) * (size_t)(K > 0 ? K : 1));
    ll_vocab_permutation(&S->shuf_ids, S->o->shuffle_seed, S->shuf_to);
}

/* The classes of fuzziness/onehot: every label id (after the shuffle), or
 * under the class budget the most frequent ones and a pool. */
static int plan_classes(run_state *S) {
    const ll_run_opts *o = S->o;
    const int vocab = S->m->cfg.vocab;
    int nd = 0;
    for (int v = 0; v < vocab; v++) nd += S->lcount[v] > 0;
    S->n_distinct = nd;
    const size_t n1 = (size_t)(nd > 0 ? nd : 1);
    if (!S->shuf_to) {
        S->cls_from.ids = ll_xmalloc(sizeof(int64_t) * n1);
        for (int v = 0; v < vocab; v++)
            if (S->lcount[v] > 0) S->cls_from.ids[S->cls_from.K++] = v;
    }
    const ll_classmap *from = S->shuf_to ? &S->shuf_ids : &S->cls_from;
    int64_t *lab = ll_xmalloc(sizeof(int64_t) * n1);
    long *cnt = ll_xmalloc(sizeof(long) * n1);
    for (int k = 0; k < from->K; k++) {
        lab[k] = S->shuf_to ? S->shuf_to[k] : from->ids[k];
        cnt[k] = S->lcount[from->ids[k]];
    }
    int cap = o->max_classes > 0 ? o->max_classes : ll_classes_that_fit(S->E, S->d, 8.0 * (1 << 30));
    S->cls_to = ll_xmalloc(sizeof(int64_t) * n1);
    ll_class_plan(lab, cnt, from->K, cap, S->cls_to, &S->cmap, &S->pooled);
    free(lab);
    free(cnt);
    if (S->cmap.K < 2) {
        ll_set_error("%s: one label class only: %s undefined", S->src, ll_measure_name((ll_measure)o->measure));
        return -1;
    }
    if (S->cmap.K < nd && S->rank == 0 && o->progress >= 0)
        ll_note("%d classes: the %d most frequent kept, %d pooled into one class "
                "(%ld of %ld examples; approximate, docs/measures.md)",
                nd, S->cmap.K - 1, nd - S->cmap.K + 1, S->pooled, S->N);
    return 0;
}

/* What pass 1 found, against the model: enough examples and entries, no
 * sequence longer than the model's positions. */
static int check_input(run_state *S) {
    const ll_run_opts *o = S->o;
    if (S->N < 2) {
        ll_set_error("%s: only %ld examples for position '%s' (need at least 2)", S->src, S->N,
                     ll_position_name(o->position));
        return -1;
    }
    if (S->E - o->fit_from < 2) {
        ll_set_error("--fit-from %d: %s has entries 0..%d: a law fit from entry %d needs at least %d entries",
                     o->fit_from, o->model, S->E - 1, o->fit_from, o->fit_from + 2);
        return -1;
    }
    if (S->N <= (long)S->d + 1 && S->rank == 0)
        ll_warn("%s: %ld examples for %d features: the probes can fit every example (PR near 0, no law); use more text",
                S->src, S->N, S->d);
    const int max_pos = ll_model_max_positions(S->m);
    if (max_pos > 0 && S->longest > max_pos) {
        ll_set_error("%s: a sequence has %d tokens, more than the model's %d positions (use --max-length %d)", S->src,
                     S->longest, max_pos, max_pos);
        return -1;
    }
    return 0;
}

/* The input → a token file → pass 1 → the shuffle and the class plan → the
 * checks.  Needs the model (its vocabulary, entries, positions). */
int run_read_input(run_state *S) {
    const ll_run_opts *o = S->o;
    S->tok_path = o->tokens;
    if (o->data) {
        double tt0 = ll_now();
        int trc = tokenize_to_private_file(o, S->tok_buf, sizeof S->tok_buf, &S->tok_fd, &S->n_docs);
        if (trc) { S->rc = trc; return -1; }
        S->tok_path = S->tok_buf;
        S->r->tokenize_s = ll_now() - tt0;
    }
    /* error messages name the user's input, never the private token file */
    S->src = o->data ? o->data : o->tokens;
    S->unit = o->data ? "document" : "line";
    S->tokz = o->tokenizer ? o->tokenizer : o->model;
    const int vocab = S->m->cfg.vocab;
    unsigned char *present = o->have_shuffle ? ll_xcalloc((size_t)vocab, 1) : NULL;
    if (S->need_classes) S->lcount = ll_xcalloc((size_t)vocab, sizeof(long));
    int prc = pass1(S, present);
    if (prc == 0 && present) plan_shuffle(S, present);
    free(present);
    if (prc != 0) return -1;
    S->E = ll_model_n_entries(S->m);
    S->d = ll_model_dim(S->m);
    if (S->need_classes && plan_classes(S) != 0) return -1;
    S->eps = S->m->cfg.norm_eps;
    S->norm = o->norm;
    if (o->norm_initialized) S->norm = ll_model_fresh_norm(S->m, &S->eps);
    return check_input(S);
}

/* Which sequences are this rank's, which entries its stage's, and the batch
 * (micro-batch) size.  Layer stages fill and drain a pipeline once over the
 * run: of M + S - 1 batch slots each stage idles S - 1, so a bubble <= 10%
 * needs M >= 9 (S - 1) micro-batches; unless the user chose --batch-tokens,
 * take the largest batch (<= 4096 tokens, >= 256) that gives this replica
 * that many (docs/distributed.md). */
int run_plan_batches(run_state *S) {
    const ll_run_opts *o = S->o;
    S->owner = ll_xmalloc(sizeof(int) * (size_t)(S->n_seq > 0 ? S->n_seq : 1));
    ll_dist_assign(S->dg, S->seq_len, (long)S->n_seq, S->owner);
    S->e_lo = 0;
    S->e_hi = S->E - 1;
    ll_model_stage_entries(S->m, &S->e_lo, &S->e_hi);
    S->El = S->e_hi - S->e_lo + 1;
    S->btok = o->batch_tokens > 0 ? o->batch_tokens : 4096;
    if (S->nst > 1 && o->batch_tokens <= 0) {
        long long mine_tok = 0;
        for (long long q = 0; q < S->n_seq; q++)
            if (S->owner[q] == S->me) mine_tok += S->seq_len[q];
        S->btok = LL_MAX(256LL, LL_MIN(4096LL, mine_tok / (9LL * (S->nst - 1))));
    }
    return 0;
}
