/* Pass 2 of a run: the token file read again in windows of ~1M tokens, this
 * rank's sequences batched (longest first, or input order with --keep-order
 * / --dump-hidden: the dump is in input order), each batch forwarded with
 * every entry handed to the sinks. */
#include <stdlib.h>
#include <string.h>
#include "core/ll_util.h"
#include "pipeline/run_state.h"

/* The next window: this rank's non-empty sequences, up to ~win tokens, in
 * S->wids / S->woff (S->wseq: each one's index in the input, its fold).
 * Returns the number of sequences (*eof at the end), or -1. */
static int64_t read_window(run_state *S, long long win, int64_t *wcap_ids, int64_t *wcap_seq, long long *seen_seq,
                           int *eof) {
    int64_t nw = 0;
    S->woff[0] = 0;
    while (S->woff[nw] < win) {
        const int32_t *ids;
        int n, cut;
        int rr = ll_token_reader_next(S->rd, &ids, &n, &cut);
        if (rr < 0) return -1;
        if (rr == 0) { *eof = 1; break; }
        long long q = (*seen_seq)++;
        if (n == 0 || q >= S->n_seq || S->owner[q] != S->me) continue;
        if (S->woff[nw] + n > *wcap_ids) {
            while (S->woff[nw] + n > *wcap_ids) *wcap_ids *= 2;
            S->wids = ll_xrealloc(S->wids, sizeof(int32_t) * (size_t)*wcap_ids);
        }
        if (nw + 1 > *wcap_seq) {
            *wcap_seq *= 2;
            S->woff = ll_xrealloc(S->woff, sizeof(int64_t) * (size_t)(*wcap_seq + 1));
            S->wseq = ll_xrealloc(S->wseq, sizeof(int64_t) * (size_t)(*wcap_seq + 1));
        }
        S->wseq[nw] = q;
        memcpy(S->wids + S->woff[nw], ids, sizeof(int32_t) * (size_t)n);
        S->woff[nw + 1] = S->woff[nw] + n;
        nw++;
    }
    return nw;
}

/* One batch: counted, its rows' folds set, forwarded into the sinks. */
static int forward_batch(run_state *S, const ll_batch *bt) {
    const ll_run_opts *o = S->o;
    for (int b = 0; b < bt->B; b++) {
        S->done_tok += bt->lens[b];
        if (bt->lens[b] <= S->longest) S->len_hist[bt->lens[b]]++;
    }
    S->padded += (long long)bt->B * bt->T;
    if (S->fold_cap) {
        for (int b = 0; b < bt->B; b++) S->rowf[b] = ll_fold_of((uint64_t)S->wseq[bt->seq[b]], o->fold_seed, o->folds);
        if (ll_capture_probe_row_folds(S->fold_cap, S->rowf, bt->B) != 0) return -1;
    }
    S->n_batches++;
    if (S->probe && S->be->probe_batch_start) S->be->probe_batch_start(S->probe);
    S->tc.last = ll_now();
    if (ll_model_forward(S->m, S->ops, S->be->ctx, bt->tokens, bt->lens, bt->B, bt->T, &S->tc.base) != 0) {
        if (S->tc.nonfinite) S->rc = 2; /* the model or input, not the machine */
        /* the other stages wait in a hand-over: they cannot join a failure
         * check, so the job ends here (said once, by this rank) */
        if (S->nst > 1) ll_dist_abort(o->dist, S->rc);
        return -1;
    }
    return 0;
}

int run_forward(run_state *S) {
    const ll_run_opts *o = S->o;
    /* progress: this rank's non-empty sequences forwarded so far (not the
     * ones read into a window, which run ahead by up to a window) */
    long long mine = 0, my_seq = 0;
    for (long long q = 0; q < S->n_seq; q++) mine += S->owner[q] == S->me && S->seq_len[q] > 0;
    ll_progress prog;
    ll_progress_init(&prog, "sequences", mine);
    prog.label = o->progress_label;
    if (o->progress <= 0 || S->rank != 0) prog.enabled = 0;
    double t_run0 = ll_now();
    S->len_hist = ll_xcalloc((size_t)S->longest + 1, sizeof(long long));
    const int keep_order = o->keep_order || o->dump_hidden;
    long long win = LL_MAX(64LL * S->btok, 1LL << 20);
    if (getenv("LAYERLAW_WINDOW_TOKENS")) win = LL_MAX(1LL, atoll(getenv("LAYERLAW_WINDOW_TOKENS"))); /* tests */
    S->rd = ll_token_reader_open(S->tok_path, o->max_length);
    if (!S->rd) return -1;
    S->batcher = ll_batcher_new(o->batch_size, S->btok, S->longest, 0);
    int64_t wcap_ids = 4096, wcap_seq = 256;
    S->wids = ll_xmalloc(sizeof(int32_t) * (size_t)wcap_ids);
    S->woff = ll_xmalloc(sizeof(int64_t) * (size_t)(wcap_seq + 1));
    S->wseq = ll_xmalloc(sizeof(int64_t) * (size_t)(wcap_seq + 1));
    long long seen_seq = 0;
    for (int eof = 0; !eof;) {
        int64_t nw = read_window(S, win, &wcap_ids, &wcap_seq, &seen_seq, &eof);
        if (nw < 0) return -1;
        ll_batcher_window(S->batcher, S->wids, S->woff, nw, keep_order);
        ll_batch bt;
        while (ll_batcher_next(S->batcher, &bt)) {
            if (forward_batch(S, &bt) != 0) return -1;
            my_seq += bt.B;
            ll_progress_update(&prog, my_seq, S->done_tok);
        }
    }
    if (S->ops->sync && S->ops->sync(S->be->ctx) != 0) return -1;
    if (S->link && ll_stage_link_finish(S->link) != 0) ll_dist_abort(o->dist, 1);
    ll_progress_end(&prog, my_seq, S->done_tok);
    S->r->run_s = ll_now() - t_run0;
    if (S->dumpcap && run_write_dump(S) != 0) return -1;
    return 0;
}
