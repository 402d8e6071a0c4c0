/* Layer (pipeline) parallel (docs/distributed.md): a model split into
 * consecutive blocks of layers.
 *
 * In one process: every stage loaded on its own (only its layers' weights
 * read), run one after the other with the residual stream handed over in
 * memory, gives every entry of the unsplit model BIT FOR BIT (the same
 * float32 operations on the same inputs; nothing is re-associated), for
 * every family that can be split, with 2 and 3 stages.
 *
 * Under mpirun (CPU backend): `run --stages S` equals one process bitwise
 * (S = 2, 3; one replica: no reduce at all), a grid of replicas x stages
 * equals the data-parallel job of as many replicas bitwise and one process
 * to 1e-12 (the reduce's order, test_dist.c), a stage failing in the middle
 * of the forward ends the job with its rank in the message and nothing
 * written, and so does a stage rank that is killed. */
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "capture/capture.h"
#include "core/ll_util.h"
#include "harness.h"
#include "io/safetensors.h"
#include "io/tokens.h"
#include "model/model.h"
#include "ops/ops.h"
#include "stage_fixture.h"
#include "st_writer.h"
#include "test_util.h"

/* ---- in one process ---- */

static void check_split(const char *name, int S, int embedding_entry) {
    char dir[600];
    snprintf(dir, sizeof dir, "tests/fixtures/models/%s", name);
    ll_model *full = ll_model_load(dir);
    REQUIRE_MSG(full, "%s", ll_last_error());
    if (embedding_entry) REQUIRE(ll_model_set_embedding_entry(full, 1) == 0);
    const int E = ll_model_n_entries(full), C = ll_model_dim(full), L = full->cfg.n_layer;
    REQUIRE_MSG(S <= L, "%s: %d layers", name, L);
    int32_t *toks = NULL;
    int lens[4], B, T;
    REQUIRE(first_batch(dir, 4, &toks, lens, &B, &T) == 0);
    const size_t n = (size_t)B * T * C;
    float **want = ll_xcalloc((size_t)E, sizeof(float *)), **got = ll_xcalloc((size_t)E, sizeof(float *));
    for (int e = 0; e < E; e++) {
        want[e] = ll_xcalloc(n, sizeof(float));
        got[e] = ll_xcalloc(n, sizeof(float));
    }
    void *ctx = ll_cpu_ctx_new(1);
    const ll_ops *ops = ll_cpu_ops();
    rec_cap rf = {.base = {.on_entry = rec_on_entry}, .ent = want, .n = n};
    REQUIRE_MSG(ll_model_forward(full, ops, ctx, toks, lens, B, T, &rf.base) == 0, "%s", ll_last_error());
    CHECK_INT(rf.calls, E);

    host_link link = {.buf = ll_xcalloc(n, sizeof(float)), .n = n};
    double layer_params = 0;
    int next_entry = 0;
    for (int k = 0; k < S; k++) {
        ll_load_opts lo = {.stage = k, .n_stages = S};
        ll_model *m = ll_model_load_ex(dir, &lo);
        REQUIRE_MSG(m, "%s stage %d/%d: %s", name, k, S, ll_last_error());
        if (embedding_entry) REQUIRE(ll_model_set_embedding_entry(m, 1) == 0);
        CHECK_INT(m->stage_first, (int)((long)k * L / S));
        CHECK_INT(m->stage_end, (int)((long)(k + 1) * L / S));
        /* only this stage's layers were read: fewer bytes; the model-level tensors in full */
        CHECK_MSG(m->arena_bytes < full->arena_bytes, "%s stage %d: arena %zu >= unsplit %zu", name, k,
                  m->arena_bytes, full->arena_bytes);
        CHECK(m->n_params_top == full->n_params_top);
        layer_params += (double)(m->n_params - m->n_params_top);
        for (int l = 0; l < L; l++) CHECK(ll_model_layer_loaded(m, l) == (l >= m->stage_first && l < m->stage_end));
        int e_lo, e_hi;
        ll_model_stage_entries(m, &e_lo, &e_hi);
        CHECK_INT(e_lo, next_entry); /* the stages' entries partition 0..E-1 */
        next_entry = e_hi + 1;
        m->stage_send = host_link_send;
        m->stage_recv = host_link_recv;
        m->stage_u = &link;
        rec_cap rs = {.base = {.on_entry = rec_on_entry}, .ent = got, .n = n};
        REQUIRE_MSG(ll_model_forward(m, ops, ctx, toks, lens, B, T, &rs.base) == 0, "%s stage %d: %s", name, k,
                    ll_last_error());
        CHECK_MSG(rs.calls == e_hi - e_lo + 1 && rs.first == e_lo && rs.last == e_hi,
                  "%s stage %d/%d: emitted %d entries %d..%d, expected %d..%d", name, k, S, rs.calls, rs.first,
                  rs.last, e_lo, e_hi);
        CHECK_INT(link.sent, k < S - 1 ? k + 1 : S - 1);
        ll_model_free(m);
    }
    CHECK_INT(next_entry, E);
    CHECK_MSG(layer_params == (double)(full->n_params - full->n_params_top), "%s: layer params %g over the stages, %zu unsplit",
              name, layer_params, full->n_params - full->n_params_top);
    /* every entry at every real position, bit for bit */
    int bad = -1;
    for (int e = 0; e < E && bad < 0; e++)
        for (int b = 0; b < B && bad < 0; b++)
            if (memcmp(want[e] + (size_t)b * T * C, got[e] + (size_t)b * T * C, sizeof(float) * lens[b] * C)) bad = e;
    CHECK_MSG(bad < 0, "%s, %d stages%s: entry %d differs from the unsplit model", name, S,
              embedding_entry ? " (embedding entry)" : "", bad);
    for (int e = 0; e < E; e++) {
        free(want[e]);
        free(got[e]);
    }
    free(want);
    free(got);
    free(link.buf);
    free(toks);
    ll_cpu_ctx_free(ctx);
    ll_model_free(full);
}

/* Every family that can be split (t5 cannot: tested below). */
TEST(stages_in_process_equal_unsplit_every_family) {
    static const char *fam[] = {"gpt2",     "llama_gqa", "mistral", "qwen2",  "neox_parallel", "neox_sequential",
                                "phi",      "phi3",      "gemma",   "gemma2", "qwen3",         "openai-gpt",
                                "bert",     "roberta",   "rwkv",    "mamba",  "mamba2",        "llama_bf16"};
    for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++)
        for (int S = 2; S <= 3; S++) check_split(fam[i], S, 0);
}

TEST(stages_in_process_embedding_entry) {
    check_split("rwkv", 2, 1);
    check_split("rwkv", 3, 1);
    check_split("mamba", 2, 1);
    check_split("mamba", 3, 1);
}

TEST(stages_refused_where_they_cannot_be) {
    ll_load_opts lo = {.stage = 0, .n_stages = 2};
    CHECK(ll_model_load_ex("tests/fixtures/models/t5", &lo) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "t5 family cannot be split"), "%s", ll_last_error());
    lo.n_stages = 4; /* the gpt2 fixture has 3 layers */
    CHECK(ll_model_load_ex("tests/fixtures/models/gpt2", &lo) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "4 stages for 3 layers"), "%s", ll_last_error());
    ll_load_opts bad = {.layer_first = 2, .layer_end = 1};
    CHECK(ll_model_load_ex("tests/fixtures/models/gpt2", &bad) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "not a range"), "%s", ll_last_error());
    /* a later stage without a link: an error, not a crash */
    ll_load_opts s1 = {.stage = 1, .n_stages = 2};
    ll_model *m = ll_model_load_ex("tests/fixtures/models/gpt2", &s1);
    REQUIRE(m);
    int32_t toks[3] = {1, 2, 3};
    int lens[1] = {3};
    void *ctx = ll_cpu_ctx_new(1);
    CHECK(ll_model_forward(m, ll_cpu_ops(), ctx, toks, lens, 1, 3, NULL) == -1);
    CHECK_MSG(strstr(ll_last_error(), "no previous stage"), "%s", ll_last_error());
    ll_cpu_ctx_free(ctx);
    ll_model_free(m);
}

/* tmp/sub: the gpt2 fixture with every value of tensor `name` set to v (NaN
 * or a huge finite value), or without it when drop. */
static const char *altered_gpt2(const char *sub, const char *name, float v, int drop) {
    static char dir[1024];
    ll_path_join(dir, sizeof dir, ll_test_tmpdir(), sub);
    ll_mkdirs(dir);
    char a[1200], b[1200];
    snprintf(a, sizeof a, "cp tests/fixtures/models/gpt2/config.json tests/fixtures/models/gpt2/tokens.jsonl %s/", dir);
    if (ll_run_cmd(a, NULL) != 0) return NULL;
    ll_safetensors st;
    if (ll_st_open_file(&st, "tests/fixtures/models/gpt2/model.safetensors")) return NULL;
    st_entry *es = calloc((size_t)st.n_tensors, sizeof *es);
    float *vals = NULL;
    int n = 0, hit = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const ll_st_tensor *t = &st.tensors[i];
        if (!strcmp(t->name, name)) {
            hit = 1;
            if (drop || t->dtype != LL_ST_F32) continue;
            vals = malloc(t->nbytes);
            for (size_t k = 0; k < t->nbytes / 4; k++) vals[k] = v;
            es[n] = st_entry_of(t);
            es[n++].data = vals;
            continue;
        }
        es[n++] = st_entry_of(t);
    }
    snprintf(b, sizeof b, "%s/model.safetensors", dir);
    int rc = hit ? st_write(b, es, n) : -1;
    free(es);
    free(vals);
    ll_st_close(&st);
    return rc == 0 ? dir : NULL;
}

/* A stage reads only its own layers: a NaN in layer 2 stops stage 1 (layers
 * 1-2) at load, naming the tensor, and never reaches stage 0 (layer 0); a
 * tensor missing from another stage's layer is still an error (every
 * stage checks the whole checkpoint's names and shapes). */
TEST(stages_read_only_their_layers) {
    const char *d = altered_gpt2("nan2", "transformer.h.2.mlp.c_fc.weight", NAN, 0);
    REQUIRE(d);
    ll_load_opts s0 = {.stage = 0, .n_stages = 2}, s1 = {.stage = 1, .n_stages = 2};
    ll_model *m = ll_model_load_ex(d, &s0);
    CHECK_MSG(m, "stage 0 read layer 2: %s", ll_last_error());
    ll_model_free(m);
    CHECK(ll_model_load_ex(d, &s1) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "transformer.h.2.mlp.c_fc.weight") && strstr(ll_last_error(), "non-finite"), "%s",
              ll_last_error());
    d = altered_gpt2("miss2", "transformer.h.2.attn.c_attn.weight", 0, 1);
    REQUIRE(d);
    CHECK(ll_model_load_ex(d, &s0) == NULL);
    CHECK_MSG(strstr(ll_last_error(), "transformer.h.2.attn.c_attn.weight") && strstr(ll_last_error(), "missing"), "%s",
              ll_last_error());
}

/* ---- under mpirun ---- */

#define have_mpi_binary ll_test_have_mpi

/* `run` of model on tokens with P ranks (0: no mpirun) and options. */
static int job(const char *model, const char *tokens, int P, const char *out, const char *extra, char **o) {
    char ex[1024];
    snprintf(ex, sizeof ex, "--threads 1 %s", extra ? extra : "");
    return ll_test_run_job(NULL, P, model, tokens, out, ex, o);
}

static cJSON *law_of(const char *out) {
    char p[700];
    return load_json(ll_path_join(p, sizeof p, out, "law.json"));
}
static double entry_val(const cJSON *law, int e, const char *k) {
    return jnum(cJSON_GetArrayItem(cJSON_GetObjectItem(law, "layers"), e), k);
}

/* max relative difference of pr/rss/tss over the entries (-1: shapes differ) */
static double law_diff(const cJSON *a, const cJSON *b) {
    int E = cJSON_GetArraySize(cJSON_GetObjectItem(a, "layers"));
    if (E < 2 || E != cJSON_GetArraySize(cJSON_GetObjectItem(b, "layers"))) return -1;
    double mx = 0;
    static const char *k[3] = {"pr", "rss", "tss"};
    for (int e = 0; e < E; e++)
        for (int i = 0; i < 3; i++) {
            double x = entry_val(a, e, k[i]), y = entry_val(b, e, k[i]);
            double r = x == y ? 0 : fabs(x - y) / fabs(x);
            if (!(r <= mx)) mx = r;
        }
    return mx;
}

static void check_stages_job(const char *model, const char *tokens, const char *extra) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    char out[600], *o = NULL;
    snprintf(out, sizeof out, "%s/one", ll_test_tmpdir());
    int st = job(model, tokens, 0, out, extra, &o);
    REQUIRE_MSG(st == 0, "one process: exit %d: %s", st, o ? o : "");
    free(o);
    cJSON *one = law_of(out);
    REQUIRE(one);
    const cJSON *m1 = cJSON_GetObjectItem(one, "model"), *t1 = cJSON_GetObjectItem(one, "throughput");
    for (int S = 2; S <= 3; S++) {
        char ex[600];
        /* the one process's batches (the default micro-batch of --stages is smaller) */
        snprintf(ex, sizeof ex, "--stages %d --batch-tokens 4096 %s", S, extra ? extra : "");
        snprintf(out, sizeof out, "%s/stages%d", ll_test_tmpdir(), S);
        st = job(model, tokens, S, out, ex, &o);
        REQUIRE_MSG(st == 0, "--stages %d: exit %d: %s", S, st, o ? o : "");
        free(o);
        cJSON *j = law_of(out);
        REQUIRE(j);
        CHECK_MSG(law_diff(one, j) == 0, "--stages %d: PR differs from one process (max rel %.3g)", S, law_diff(one, j));
        CHECK(cJSON_Compare(cJSON_GetObjectItem(one, "fit"), cJSON_GetObjectItem(j, "fit"), 1));
        /* the record: the whole model's parameters, the job's tokens, per-entry weight bytes as one process */
        const cJSON *m = cJSON_GetObjectItem(j, "model"), *t = cJSON_GetObjectItem(j, "throughput");
        CHECK(jnum(m, "n_params") == jnum(m1, "n_params"));
        CHECK(jnum(t, "tokens") == jnum(t1, "tokens"));
        CHECK(cJSON_Compare(cJSON_GetObjectItem(t, "per_entry_bytes"), cJSON_GetObjectItem(t1, "per_entry_bytes"), 1));
        CHECK(cJSON_Compare(cJSON_GetObjectItem(t, "per_entry_flops"), cJSON_GetObjectItem(t1, "per_entry_flops"), 1));
        const cJSON *sj = cJSON_GetObjectItem(j, "stages");
        REQUIRE_MSG(sj, "--stages %d: no stages member", S);
        CHECK(jnum(sj, "stages") == S && jnum(sj, "replicas") == 1);
        const cJSON *lay = cJSON_GetObjectItem(sj, "layers"), *ent = cJSON_GetObjectItem(sj, "entries");
        REQUIRE(cJSON_GetArraySize(lay) == S && cJSON_GetArraySize(ent) == S);
        double prev_end = 0, prev_e = -1;
        for (int k = 0; k < S; k++) {
            CHECK(cJSON_GetArrayItem(cJSON_GetArrayItem(lay, k), 0)->valuedouble == prev_end);
            CHECK(cJSON_GetArrayItem(cJSON_GetArrayItem(ent, k), 0)->valuedouble == prev_e + 1);
            prev_end = cJSON_GetArrayItem(cJSON_GetArrayItem(lay, k), 1)->valuedouble;
            prev_e = cJSON_GetArrayItem(cJSON_GetArrayItem(ent, k), 1)->valuedouble;
        }
        CHECK(prev_end == jnum(m1, "n_layers"));
        CHECK(prev_e == cJSON_GetArraySize(cJSON_GetObjectItem(one, "layers")) - 1);
        CHECK(jnum(sj, "micro_batch_tokens") == 4096 && cJSON_IsFalse(cJSON_GetObjectItem(sj, "micro_batch_tokens_chosen")));
        cJSON_Delete(j);
        /* without --batch-tokens: micro-batches of T / (9 (S - 1)) tokens (256..4096) so
         * that the fill-and-drain bubble (S-1)/(M+S-1) stays <= 10%; other batches than
         * one process's, so the float32 forward rounds differently: 1e-7 (as test_run.c's
         * batch-size test) */
        snprintf(ex, sizeof ex, "--stages %d %s", S, extra ? extra : "");
        snprintf(out, sizeof out, "%s/stages%d-auto", ll_test_tmpdir(), S);
        st = job(model, tokens, S, out, ex, &o);
        REQUIRE_MSG(st == 0, "--stages %d (auto micro-batch): exit %d: %s", S, st, o ? o : "");
        free(o);
        j = law_of(out);
        REQUIRE(j);
        double r = law_diff(one, j);
        CHECK_MSG(r >= 0 && r <= 1e-7, "--stages %d auto micro-batch: max rel %.3g vs one process", S, r);
        sj = cJSON_GetObjectItem(j, "stages");
        const double T = jnum(t1, "tokens"), want = fmax(256, fmin(4096, floor(T / (9.0 * (S - 1)))));
        CHECK_MSG(jnum(sj, "micro_batch_tokens") == want, "--stages %d: micro-batch %g tokens, expected %g for %g tokens",
                  S, jnum(sj, "micro_batch_tokens"), want, T);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(sj, "micro_batch_tokens_chosen")));
        const double M = jnum(sj, "micro_batches");
        CHECK(M >= 1 && fabs(jnum(sj, "bubble_bound_pct") - 100.0 * (S - 1) / (M + S - 1)) < 1e-9);
        if (T >= 256.0 * 9 * (S - 1)) CHECK_MSG(jnum(sj, "bubble_bound_pct") <= 10.0 + 1e-9, "bubble %g%%", jnum(sj, "bubble_bound_pct"));
        cJSON_Delete(j);
    }
    cJSON_Delete(one);
}

TEST(mpi_stages_equal_one_process_gpt2) {
    check_stages_job("tests/fixtures/models/gpt2", "tests/fixtures/models/gpt2/tokens.jsonl", NULL);
}
TEST(mpi_stages_equal_one_process_mamba_onehot) {
    check_stages_job("tests/fixtures/models/mamba", "tests/fixtures/models/mamba/tokens.jsonl", "--measure onehot");
}
TEST(mpi_stages_equal_one_process_stories260k) {
    const char *model = ll_shared_path("data/checkpoints/stories260K-hf");
    char tok[600];
    snprintf(tok, sizeof tok, "%s/alice-200x128.tok512.jsonl", model);
    check_stages_job(model, tok, NULL);
}

/* 2 replicas x 2 stages and 2 x 3: each stage's entries reduced over its 2
 * replicas.  Equal to the data-parallel job of 2 ranks bitwise (the same
 * sequences per replica, the same two-term sums) and to one process to
 * 1e-12 relative (the reduce's order; measured 4e-16).  Every sequence alone
 * (--batch-size 1) so that the features do not depend on the batching. */
TEST(mpi_stages_grid_replicas_x_stages) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    const char *model = "tests/fixtures/models/llama_gqa", *tok = "tests/fixtures/models/llama_gqa/tokens.jsonl";
    char out[600], *o = NULL;
    snprintf(out, sizeof out, "%s/one", ll_test_tmpdir());
    REQUIRE(job(model, tok, 0, out, "--batch-size 1", &o) == 0);
    free(o);
    cJSON *one = law_of(out);
    snprintf(out, sizeof out, "%s/dp2", ll_test_tmpdir());
    int st = job(model, tok, 2, out, "--batch-size 1", &o);
    REQUIRE_MSG(st == 0, "np 2: %s", o ? o : "");
    free(o);
    cJSON *dp2 = law_of(out);
    REQUIRE(one && dp2);
    for (int S = 2; S <= 3; S++) {
        char ex[200];
        snprintf(ex, sizeof ex, "--batch-size 1 --stages %d", S);
        snprintf(out, sizeof out, "%s/grid%d", ll_test_tmpdir(), S);
        st = job(model, tok, 2 * S, out, ex, &o);
        REQUIRE_MSG(st == 0, "np %d --stages %d: exit %d: %s", 2 * S, S, st, o ? o : "");
        free(o);
        cJSON *g = law_of(out);
        REQUIRE(g);
        CHECK_MSG(law_diff(dp2, g) == 0, "2 x %d grid vs 2 data-parallel ranks: max rel %.3g", S, law_diff(dp2, g));
        double r = law_diff(one, g);
        CHECK_MSG(r >= 0 && r <= 1e-12, "2 x %d grid vs one process: max rel %.3g", S, r);
        const cJSON *sj = cJSON_GetObjectItem(g, "stages"), *rk = cJSON_GetObjectItem(g, "ranks");
        CHECK(sj && jnum(sj, "replicas") == 2 && jnum(sj, "stages") == S);
        CHECK(rk && jnum(rk, "ranks") == 2 * S && cJSON_GetArraySize(cJSON_GetObjectItem(rk, "documents")) == 2);
        cJSON_Delete(g);
    }
    cJSON_Delete(one);
    cJSON_Delete(dp2);
}

/* Option errors, the same on every rank, said once, exit 2, before work. */
TEST(mpi_stages_option_errors) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    char out[600], *o = NULL;
    snprintf(out, sizeof out, "%s/x", ll_test_tmpdir());
    int st = job("tests/fixtures/models/gpt2", "tests/fixtures/models/gpt2/tokens.jsonl", 3, out, "--stages 2", &o);
    CHECK_INT(st, 2);
    CHECK_MSG(o && strstr(o, "--stages 2: the job has 3 ranks, not a multiple of 2"), "%s", o ? o : "");
    free(o);
    st = job("tests/fixtures/models/gpt2", "tests/fixtures/models/gpt2/tokens.jsonl", 0, out, "--stages 2", &o);
    CHECK_INT(st, 2);
    CHECK_MSG(o && strstr(o, "--stages 2: the job has 1 rank"), "%s", o ? o : "");
    free(o);
    st = job("tests/fixtures/models/t5", "tests/fixtures/models/t5/tokens.jsonl", 2, out, "--stages 2", &o);
    CHECK_INT(st, 2);
    CHECK_MSG(o && strstr(o, "rank 0: tests/fixtures/models/t5: the t5 family cannot be split"), "%s", o ? o : "");
    free(o);
    CHECK(!ll_path_exists(out));
}

/* Layer 2 of an altered gpt2 overflows (its c_fc weights are 3e38: finite,
 * so the checkpoint loads, but the activations become inf): the stage that
 * runs layer 2 finds non-finite hidden states at entry 3 in the middle of
 * the pipelined forward, while the others wait in a hand-over.  The job
 * ends with that rank's message, once, and writes nothing. */
TEST(mpi_stages_failure_mid_forward) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    const char *d = altered_gpt2("inf2", "transformer.h.2.mlp.c_fc.weight", 3e38f, 0);
    REQUIRE(d);
    char out[600], tok[1200], *o = NULL;
    snprintf(tok, sizeof tok, "%s/tokens.jsonl", d);
    snprintf(out, sizeof out, "%s/out", ll_test_tmpdir());
    /* one process: exit 2 with the message */
    int st = job(d, tok, 0, out, NULL, &o);
    CHECK_INT(st, 2);
    CHECK_MSG(o && strstr(o, "entry 3 is not finite"), "%s", o ? o : "");
    free(o);
    for (int S = 2; S <= 3; S++) {
        char ex[100], want[64];
        snprintf(ex, sizeof ex, "--stages %d", S);
        st = job(d, tok, S, out, ex, &o);
        CHECK_MSG(st != 0, "--stages %d: exit 0", S);
        snprintf(want, sizeof want, "layerlaw: rank %d: ", S - 1); /* layer 2 is in the last stage */
        const char *hit = o ? strstr(o, want) : NULL;
        CHECK_MSG(hit && strstr(hit, "entry 3 is not finite"), "--stages %d: expected '%s...entry 3 is not finite' in: %s", S, want,
                  o ? o : "");
        const char *f1 = hit ? strstr(hit, "is not finite") : NULL;
        CHECK_MSG(f1 && !strstr(f1 + 1, "is not finite"), "--stages %d: said more than once: %s", S, o ? o : "");
        free(o);
        char lp[700];
        CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "law.json")));
        CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "layers.csv")));
    }
}

/* A stage rank killed after its first hand-over (LAYERLAW_FAULT=kill:R,
 * fault injection for the tests): the launcher ends the job, no result. */
TEST(mpi_stages_killed_rank_leaves_no_result) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    char out[600], *o = NULL, lp[700];
    snprintf(out, sizeof out, "%s/out", ll_test_tmpdir());
    for (int R = 0; R < 3; R++) {
        char env[64];
        snprintf(env, sizeof env, "LAYERLAW_FAULT=kill:%d", R);
        int st = ll_test_run_job(env, 3, "tests/fixtures/models/gpt2", "tests/fixtures/models/gpt2/tokens.jsonl", out,
                                 "--batch-size 1 --stages 3", &o);
        CHECK_MSG(st != 0, "kill:%d: exit 0: %s", R, o ? o : "");
        free(o);
        CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "law.json")));
        CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "layers.csv")));
    }
}
