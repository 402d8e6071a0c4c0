/* Ranks (host/dist): the assignment, the hwloc binding plan on a committed
 * 2-socket / 8-GPU topology, and real multi-process jobs under Open MPI's
 * mpirun (--oversubscribe, CPU backend).
 *
 * Oracles: the fit fixtures' PRs come from numpy's float64 pseudo-inverse
 * (tools/make_fit_fixtures.py); the binding plan and the assignment are
 * derived by hand from the topology (2 packages × 16 cores × 2 PUs, GPUs
 * 0-3 behind package 0, 4-7 behind package 1) and the token counts.
 * Tolerances: a job of P ranks equals the single process to 1e-12 relative
 * on every PR (the reduce is the exact merge, re-associated: measured
 * ≤ 1.6e-14 on these fixtures); the same P twice gives the same bits (the
 * chain runs in rank order); the fixture oracle to 1e-9 as test_fit.c. */
#include <cJSON.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "core/ll_util.h"
#include "dist/dist.h"
#include "dist/topo.h"
#include "io/npy.h"
#include "test_util.h"

#define TOPO "tests/fixtures/topo/2s8g.xml"
#define MPIRUN LL_TEST_MPIRUN
#define have_mpi_binary ll_test_have_mpi


static void check_assign(int P, const int64_t *len, long n, const int *want) {
    int o[32];
    ll_dist_assign_p(P, len, n, o);
    for (long i = 0; i < n; i++) CHECK_MSG(o[i] == want[i], "P %d: sequence %ld on rank %d, expected %d", P, i, o[i], want[i]);
}

TEST(dist_assign_balances_tokens) {
    /* hand-derived: rank of sequence i = floor(tokens before i · P / total) */
    int64_t four[] = {4, 4, 4, 4};
    check_assign(1, four, 4, (int[]){0, 0, 0, 0});
    check_assign(2, four, 4, (int[]){0, 0, 1, 1});
    check_assign(3, four, 4, (int[]){0, 0, 1, 2});        /* before 0,4,8,12 of 16 */
    int64_t ones[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    check_assign(3, ones, 10, (int[]){0, 0, 0, 0, 1, 1, 1, 2, 2, 2});
    int64_t longfirst[] = {10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}; /* 20 tokens: the long one is rank 0's share */
    check_assign(2, longfirst, 11, (int[]){0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
    int64_t zero[] = {0, 0};
    check_assign(2, zero, 2, (int[]){0, 0});
    ll_dist *d = ll_dist_init(NULL, NULL); /* not under a launcher: rank 0 of 1 */
    REQUIRE(d);
    CHECK_INT(ll_dist_size(d), 1);
    CHECK_INT(ll_dist_rank(d), 0);
    ll_dist_finalize(d);
}

TEST(dist_single_process_calls_do_nothing) {
    ll_dist *d = ll_dist_init(NULL, NULL);
    REQUIRE(d);
    ll_stats *st = ll_stats_new(2, 3, LL_TARGET_ID, 0);
    double X[6] = {1, 2, 3, 4, 5, 7}, y[2] = {1, 2};
    ll_stats_add(st, 0, X, y, 2);
    size_t n = ll_stats_pack_len(st);
    double *before = malloc(n * sizeof(double)), *after = malloc(n * sizeof(double));
    ll_stats_pack(st, before);
    CHECK_INT(ll_dist_reduce_stats(d, st), 0);
    ll_stats_pack(st, after);
    CHECK(memcmp(before, after, n * sizeof(double)) == 0);
    CHECK_INT(ll_dist_any_failed(d, 0), -1);
    CHECK_INT(ll_dist_any_failed(d, 1), 0);
    CHECK(strcmp(ll_dist_transport(d), "none") == 0);
    free(before); free(after);
    ll_stats_free(st);
    ll_dist_finalize(d);
}

/* The plan on the committed topology: each GPU's rank gets the 4 cores (8
 * PUs) of its quarter of the GPU's package. */
TEST(topo_plan_binds_ranks_next_to_their_gpu) {
    ll_topo *t = ll_topo_load(TOPO);
    REQUIRE_MSG(t, "%s", ll_last_error());
    CHECK_INT(ll_topo_gpu_count(t), 8);
    static const char *bus[8] = {"0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
                                 "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"};
    for (int g = 0; g < 8; g++) {
        CHECK(ll_topo_gpu_busid(t, g) && strcmp(ll_topo_gpu_busid(t, g), bus[g]) == 0);
        ll_topo_binding b;
        REQUIRE(ll_topo_plan(t, g, 8, bus[g], &b) == 0);
        char want[32];
        snprintf(want, sizeof want, "%d-%d", 8 * g, 8 * g + 7);
        CHECK_MSG(strcmp(b.cpus, want) == 0, "GPU %d: cpus %s, expected %s", g, b.cpus, want);
        CHECK_INT(b.cores, 4);
        CHECK(b.bound);
        CHECK_MSG(strstr(b.text, g < 4 ? "package 0, NUMA 0" : "package 1, NUMA 1"), "GPU %d: %s", g, b.text);
    }
    /* the CUDA spelling of a PCI id (8-digit domain, upper case) is found too */
    ll_topo_binding b;
    REQUIRE(ll_topo_plan(t, 0, 1, "00000000:DB:00.0", &b) == 0);
    CHECK(strcmp(b.cpus, "56-63") == 0);
    /* an id not in the machine is an error naming it */
    CHECK(ll_topo_plan(t, 0, 1, "0000:01:00.0", &b) == -1);
    CHECK(strstr(ll_last_error(), "0000:01:00.0") != NULL);
    /* CPU-only, 3 ranks: cores [0,10), [10,21), [21,32) = PUs 0-19, 20-41, 42-63 */
    static const char *cpu3[3] = {"0-19", "20-41", "42-63"};
    static const int ncore3[3] = {10, 11, 11};
    for (int r = 0; r < 3; r++) {
        REQUIRE(ll_topo_plan(t, r, 3, NULL, &b) == 0);
        CHECK_MSG(strcmp(b.cpus, cpu3[r]) == 0, "rank %d: %s", r, b.cpus);
        CHECK_INT(b.cores, ncore3[r]);
    }
    /* more ranks than cores: no binding, one thread each */
    REQUIRE(ll_topo_plan(t, 0, 40, NULL, &b) == 0);
    CHECK(!b.bound);
    CHECK_INT(b.cores, 1);
    ll_topo_free(t);
}

TEST(topo_command_prints_the_machine) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s topo --xml %s --ranks 8 2>&1", ll_bin_path(), TOPO);
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    REQUIRE_MSG(st == 0, "exit %d: %s", st, o ? o : "");
    CHECK(strstr(o, "machine: 2 packages, 2 NUMA nodes, 32 cores, 64 PUs, 8 NVIDIA GPUs"));
    CHECK(strstr(o, "GPU 5: 0000:ab:00.0 [10de:2330]"));
    CHECK(strstr(o, "near package 1, NUMA 1: 16 cores, cpus 32-63"));
    CHECK(strstr(o, "NIC 0000:1a:00.0 [15b3:101b] mlx5_0,ib0, near package 0, NUMA 0"));
    CHECK(strstr(o, "rank 5 of 8: bound to 4 cores, cpus 40-47 (package 1, NUMA 1), near GPU 0000:ab:00.0"));
    free(o);
    snprintf(cmd, sizeof cmd, "%s topo --xml /nonexistent.xml 2>&1", ll_bin_path());
    st = ll_run_cmd(cmd, &o);
    CHECK_INT(st, 2);
    CHECK(o && strstr(o, "/nonexistent.xml"));
    free(o);
}

/* ---- real jobs under mpirun ---- */


/* `layerlaw fit` on fixture `name` with P ranks (0: no mpirun) into out;
 * returns the exit status, output in *o. */
static int fit_job(const char *name, int P, const char *out, const char *extra_env, char **o) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s %s%s%s fit --features tests/fixtures/fit/%s.F.npy --labels tests/fixtures/fit/%s.Y.npy --out %s "
             "--quiet %s 2>&1",
             extra_env ? extra_env : "", P ? MPIRUN " -np " : "", P ? (P == 1 ? "1 " : P == 2 ? "2 " : "3 ") : "",
             ll_bin_path(), name, name, out, strcmp(name, "onehot") == 0 ? "--target onehot" : "");
    return ll_run_cmd(cmd, o);
}

static int read_prs(const char *out, double *pr, int cap, cJSON **ranks) {
    char p[700];
    cJSON *j = load_json(ll_path_join(p, sizeof p, out, "law.json"));
    if (!j) return -1;
    const cJSON *layers = cJSON_GetObjectItem(j, "layers");
    int n = cJSON_GetArraySize(layers);
    for (int e = 0; e < n && e < cap; e++)
        pr[e] = cJSON_GetObjectItem(cJSON_GetArrayItem(layers, e), "pr")->valuedouble;
    if (ranks) *ranks = cJSON_DetachItemFromObject(cJSON_GetObjectItem(j, "timing") ? j : j, "ranks");
    cJSON_Delete(j);
    return n;
}

static void check_jobs_equal_single(const char *name) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI (install libopenmpi-dev: scripts/install-deps.sh)",
                ll_bin_path());
    char out[600], *o = NULL;
    double one[64], pr[64], again[64];
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "single");
    int st = fit_job(name, 0, out, NULL, &o);
    REQUIRE_MSG(st == 0, "single: exit %d: %s", st, o ? o : "");
    free(o);
    int E = read_prs(out, one, 64, NULL);
    REQUIRE(E > 1);
    char path[700];
    snprintf(path, sizeof path, "tests/fixtures/fit/%s.json", name);
    cJSON *exp = load_json(path);
    REQUIRE(exp);
    const cJSON *pe = cJSON_GetObjectItem(exp, "pr_exact");
    long N = (long)cJSON_GetObjectItem(exp, "N")->valuedouble;
    for (int P = 1; P <= 3; P++) {
        char o2[600];
        snprintf(o2, sizeof o2, "%s/np%d", ll_test_tmpdir(), P);
        st = fit_job(name, P, o2, NULL, &o);
        REQUIRE_MSG(st == 0, "np %d: exit %d: %s", P, st, o ? o : "");
        /* one line of the notice, not one per rank */
        const char *first = o ? strstr(o, "fit uses the CPU backend") : NULL;
        CHECK_MSG(first && !strstr(first + 1, "fit uses the CPU backend"), "np %d: %s", P, o ? o : "");
        free(o);
        cJSON *ranks = NULL;
        REQUIRE(read_prs(o2, pr, 64, &ranks) == E);
        for (int e = 0; e < E; e++) {
            CHECK_REL(pr[e], one[e], 1e-12);
            CHECK_REL(pr[e], cJSON_GetArrayItem(pe, e)->valuedouble, 1e-9);
        }
        if (P == 1) {
            CHECK_MSG(ranks == NULL, "np 1: a ranks member in law.json");
        } else {
            REQUIRE_MSG(ranks, "np %d: no ranks member in law.json", P);
            CHECK_INT((int)cJSON_GetObjectItem(ranks, "ranks")->valuedouble, P);
            const cJSON *docs = cJSON_GetObjectItem(ranks, "documents");
            CHECK_INT(cJSON_GetArraySize(docs), P);
            long sum = 0;
            for (int r = 0; r < P; r++) {
                long n = (long)cJSON_GetArrayItem(docs, r)->valuedouble;
                /* floor(i·P/N) blocks: sizes differ by at most one */
                CHECK_MSG(n == N / P || n == N / P + 1, "np %d rank %d: %ld examples of %ld", P, r, n, N);
                sum += n;
            }
            CHECK_INT(sum, N);
            CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(ranks, "binding")), P);
        }
        cJSON_Delete(ranks);
        if (P == 3) { /* the same rank count twice: the same bits */
            snprintf(o2, sizeof o2, "%s/np3b", ll_test_tmpdir());
            st = fit_job(name, 3, o2, NULL, &o);
            free(o);
            REQUIRE(st == 0);
            REQUIRE(read_prs(o2, again, 64, NULL) == E);
            CHECK(memcmp(again, pr, (size_t)E * sizeof(double)) == 0);
        }
    }
    cJSON_Delete(exp);
}

TEST(mpi_fit_ranks_equal_single_process) { check_jobs_equal_single("well"); }
TEST(mpi_fit_ranks_equal_single_process_onehot) { check_jobs_equal_single("onehot"); }

/* A NaN only rank 2 reads (the last of 3 blocks): the job ends with the
 * failing rank named once, and nothing written. */
TEST(mpi_failing_rank_stops_the_job) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    ll_npy F;
    REQUIRE(ll_npy_open("tests/fixtures/fit/well.F.npy", &F) == 0);
    long N = (long)F.shape[0];
    int E = (int)F.shape[1], d = (int)F.shape[2];
    size_t n = (size_t)N * E * d;
    float *x = malloc(n * sizeof(float));
    double *tmp = malloc((size_t)d * sizeof(double));
    for (size_t i = 0; i < n; i += (size_t)d) {
        ll_npy_read_f64(&F, i, (size_t)d, tmp);
        for (int j = 0; j < d; j++) x[i + (size_t)j] = (float)tmp[j];
    }
    ll_npy_close(&F);
    long bad = N - 3; /* in rank 2's block for 3 ranks */
    x[((size_t)bad * E + 1) * d + 4] = NAN;
    char fp[600], cmd[4096], out[600];
    ll_path_join(fp, sizeof fp, ll_test_tmpdir(), "bad.F.npy");
    int64_t shape[3] = {N, E, d};
    REQUIRE(ll_npy_save(fp, LL_DT_F32, 3, shape, x) == 0);
    free(x); free(tmp);
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "out");
    snprintf(cmd, sizeof cmd,
             MPIRUN " -np 3 %s fit --features %s --labels tests/fixtures/fit/well.Y.npy --out %s --quiet 2>&1",
             ll_bin_path(), fp, out);
    char *o = NULL;
    int st = ll_run_cmd(cmd, &o);
    CHECK_MSG(st != 0, "exit 0: %s", o ? o : "");
    char want[700];
    snprintf(want, sizeof want, "layerlaw: rank 2: %s: non-finite value (NaN or Inf) in example %ld, entry 1", fp, bad);
    const char *hit = o ? strstr(o, want) : NULL;
    CHECK_MSG(hit, "expected '%s' in: %s", want, o ? o : "");
    CHECK_MSG(hit && !strstr(hit + strlen(want), "non-finite"), "printed more than once: %s", o);
    free(o);
    char lp[700];
    CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "law.json")));
}

/* Rank 1 dies (SIGKILL, injected as the reduce starts): mpirun ends the
 * job, rank 0 never writes a result. */
TEST(mpi_killed_rank_leaves_no_result) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    char out[600], *o = NULL;
    ll_path_join(out, sizeof out, ll_test_tmpdir(), "out");
    int st = fit_job("well", 3, out, "LAYERLAW_FAULT=kill:1", &o);
    CHECK_MSG(st != 0, "exit 0: %s", o ? o : "");
    free(o);
    char lp[700];
    CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "law.json")));
    CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "layers.csv")));
}

/* ---- layerlaw run under mpirun: the model fixtures and stories260K ---- */

static int run_job(const char *model, const char *tokens, int P, const char *out, const char *extra, char **o) {
    return ll_test_run_job(NULL, P, model, tokens, out, extra, o);
}

/* Every sequence forwarded alone (--batch-size 1 --threads 1): the features
 * are the same bits whichever rank computes them, so a job of P ranks
 * differs from one process only by the order in which the statistics are
 * merged: PR to 1e-12 relative (measured ≤ 5.9e-16: a few ulps).  With the
 * default batching the forward's float32 rounding depends on the batch
 * (padding, GEMM shapes), as in one process (test_run.c's batch-size test):
 * 1e-7 relative. */
static void check_run_ranks(const char *model, const char *tokens) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    static const char *alone = "--batch-size 1 --threads 1 --keep-order";
    char out[600], *o = NULL;
    double one[256], dflt[256], pr[256];
    snprintf(out, sizeof out, "%s/single", ll_test_tmpdir());
    int st = run_job(model, tokens, 0, out, alone, &o);
    REQUIRE_MSG(st == 0, "single: exit %d: %s", st, o ? o : "");
    free(o);
    int E = read_prs(out, one, 256, NULL);
    REQUIRE(E > 1);
    snprintf(out, sizeof out, "%s/single-default", ll_test_tmpdir());
    st = run_job(model, tokens, 0, out, NULL, &o);
    free(o);
    REQUIRE(st == 0 && read_prs(out, dflt, 256, NULL) == E);
    for (int P = 1; P <= 3; P++) {
        snprintf(out, sizeof out, "%s/np%d", ll_test_tmpdir(), P);
        st = run_job(model, tokens, P, out, alone, &o);
        REQUIRE_MSG(st == 0, "np %d: exit %d: %s", P, st, o ? o : "");
        const char *first = o ? strstr(o, "using the CPU backend") : NULL;
        CHECK_MSG(first && !strstr(first + 1, "using the CPU backend"), "np %d: notice not once: %s", P, o ? o : "");
        free(o);
        cJSON *ranks = NULL;
        REQUIRE(read_prs(out, pr, 256, &ranks) == E);
        for (int e = 0; e < E; e++) CHECK_REL(pr[e], one[e], P == 1 ? 0 : 1e-12);
        if (P > 1) {
            REQUIRE_MSG(ranks, "np %d: no ranks member", P);
            CHECK_INT((int)cJSON_GetObjectItem(ranks, "ranks")->valuedouble, P);
            CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(ranks, "documents")), P);
            CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(ranks, "tokens")), P);
            /* CPU ranks: the host reduce, never the device-resident one */
            const cJSON *red = cJSON_GetObjectItem(ranks, "reduce");
            CHECK_MSG(cJSON_IsString(red) && !strncmp(red->valuestring, "MPI chain", 9), "np %d: reduce '%s'", P,
                      cJSON_IsString(red) ? red->valuestring : "(none)");
        }
        cJSON_Delete(ranks);
    }
    snprintf(out, sizeof out, "%s/np3-default", ll_test_tmpdir());
    st = run_job(model, tokens, 3, out, NULL, &o);
    free(o);
    REQUIRE(st == 0 && read_prs(out, pr, 256, NULL) == E);
    for (int e = 0; e < E; e++) CHECK_REL(pr[e], dflt[e], 1e-7);
    /* the throughput record counts the job's tokens, not rank 0's */
    char p1[700], p3[700];
    snprintf(p1, sizeof p1, "%s/single-default/law.json", ll_test_tmpdir());
    snprintf(p3, sizeof p3, "%s/np3-default/law.json", ll_test_tmpdir());
    cJSON *j1 = load_json(p1), *j3 = load_json(p3);
    REQUIRE(j1 && j3);
    double t1 = cJSON_GetObjectItem(cJSON_GetObjectItem(j1, "throughput"), "tokens")->valuedouble;
    double t3 = cJSON_GetObjectItem(cJSON_GetObjectItem(j3, "throughput"), "tokens")->valuedouble;
    CHECK_MSG(t1 == t3 && t1 > 0, "tokens: one process %g, 3 ranks %g", t1, t3);
    const cJSON *f1 = cJSON_GetObjectItem(cJSON_GetObjectItem(j1, "throughput"), "per_entry_flops");
    const cJSON *f3 = cJSON_GetObjectItem(cJSON_GetObjectItem(j3, "throughput"), "per_entry_flops");
    if (f1 || f3) {
        REQUIRE(f1 && f3 && cJSON_GetArraySize(f1) == cJSON_GetArraySize(f3));
        for (int e = 0; e < cJSON_GetArraySize(f1); e++)
            CHECK_REL(cJSON_GetArrayItem(f3, e)->valuedouble, cJSON_GetArrayItem(f1, e)->valuedouble, 1e-12);
    }
    cJSON_Delete(j1);
    cJSON_Delete(j3);
}

TEST(mpi_run_ranks_gpt2) {
    check_run_ranks("tests/fixtures/models/gpt2", "tests/fixtures/models/gpt2/tokens.jsonl");
}
TEST(mpi_run_ranks_llama_gqa) {
    check_run_ranks("tests/fixtures/models/llama_gqa", "tests/fixtures/models/llama_gqa/tokens.jsonl");
}
TEST(mpi_run_ranks_mamba) {
    check_run_ranks("tests/fixtures/models/mamba", "tests/fixtures/models/mamba/tokens.jsonl");
}
TEST(mpi_run_ranks_stories260k) {
    const char *model = ll_shared_path("data/checkpoints/stories260K-hf");
    char tok[600];
    snprintf(tok, sizeof tok, "%s/alice-200x128.tok512.jsonl", model);
    check_run_ranks(model, tok);
}

/* A bad shard only rank 2 sees (its node's copy of the model is cut short):
 * the job stops with rank 2's error, printed once, and writes nothing. */
TEST(mpi_run_bad_shard_on_one_rank) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    const char *tmp = ll_test_tmpdir();
    char cmd[4096], *o = NULL;
    snprintf(cmd, sizeof cmd,
             "cp -r tests/fixtures/models/gpt2 %s/bad && truncate -s 1000 %s/bad/model.safetensors", tmp, tmp);
    REQUIRE(ll_run_cmd(cmd, NULL) == 0);
    snprintf(cmd, sizeof cmd,
             MPIRUN " -np 3 sh -c 'm=tests/fixtures/models/gpt2; [ \"$OMPI_COMM_WORLD_RANK\" = 2 ] && m=%s/bad; "
                    "exec %s run --backend cpu --model $m --tokens tests/fixtures/models/gpt2/tokens.jsonl --out %s/out "
                    "--quiet' 2>&1",
             tmp, ll_bin_path(), tmp);
    int st = ll_run_cmd(cmd, &o);
    CHECK_INT(st, 2);
    /* rank 2 was started with another --model: refused before any work, by
     * the ranks' agreement on their inputs (host/dist/agree.c) */
    char want[700];
    snprintf(want, sizeof want, "layerlaw: rank 2: its command line differs from rank 0's");
    const char *hit = o ? strstr(o, want) : NULL;
    CHECK_MSG(hit, "expected '%s...' in: %s", want, o ? o : "");
    CHECK_MSG(hit && !strstr(hit + strlen(want), "differs"), "printed more than once: %s", o);
    free(o);
    char lp[700];
    snprintf(lp, sizeof lp, "%s/out/law.json", tmp);
    CHECK(!ll_path_exists(lp));
}

/* A rank killed as the reduce starts: no result. */
TEST(mpi_run_killed_rank_leaves_no_result) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    char out[600], *o = NULL, cmd[2048];
    snprintf(out, sizeof out, "%s/out", ll_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "LAYERLAW_FAULT=kill:2 " MPIRUN " -np 3 %s run --backend cpu --model tests/fixtures/models/gpt2 "
             "--tokens tests/fixtures/models/gpt2/tokens.jsonl --out %s --quiet 2>&1",
             ll_bin_path(), out);
    int st = ll_run_cmd(cmd, &o);
    CHECK_MSG(st != 0, "exit 0: %s", o ? o : "");
    free(o);
    char lp[700];
    CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "law.json")));
    CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "layers.csv")));
}

/* The other measures under ranks (docs/measures.md): one-hot PR goes through
 * the spread solve with class sums, separation fuzziness through the reduce
 * onto rank 0.  Same features as one process (every sequence alone), so 1e-12
 * relative (measured 2.6e-16 one-hot, 1.5e-15 fuzziness on gpt2). */
static double layer_val(const cJSON *law, int e, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(law, "layers"), e), key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}
TEST(mpi_run_ranks_other_measures) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    static const char *m[2] = {"onehot", "fuzziness"}, *key[2] = {"pr", "separation_fuzziness"};
    const char *model = "tests/fixtures/models/gpt2", *tok = "tests/fixtures/models/gpt2/tokens.jsonl";
    for (int k = 0; k < 2; k++) {
        char extra[200], o1[600], o2[600], p[700], *o = NULL;
        snprintf(extra, sizeof extra, "--batch-size 1 --threads 1 --keep-order --measure %s", m[k]);
        snprintf(o1, sizeof o1, "%s/%s-1", ll_test_tmpdir(), m[k]);
        snprintf(o2, sizeof o2, "%s/%s-2", ll_test_tmpdir(), m[k]);
        int st = run_job(model, tok, 0, o1, extra, &o);
        REQUIRE_MSG(st == 0, "%s: exit %d: %s", m[k], st, o ? o : "");
        free(o);
        st = run_job(model, tok, 2, o2, extra, &o);
        REQUIRE_MSG(st == 0, "%s np 2: exit %d: %s", m[k], st, o ? o : "");
        free(o);
        cJSON *a = load_json(ll_path_join(p, sizeof p, o1, "law.json"));
        cJSON *b = load_json(ll_path_join(p, sizeof p, o2, "law.json"));
        REQUIRE(a && b);
        int E = cJSON_GetArraySize(cJSON_GetObjectItem(a, "layers"));
        REQUIRE(E > 1 && E == cJSON_GetArraySize(cJSON_GetObjectItem(b, "layers")));
        for (int e = 0; e < E; e++) {
            double x = layer_val(a, e, key[k]), y = layer_val(b, e, key[k]);
            REQUIRE_MSG(isfinite(x), "%s entry %d: no %s", m[k], e, key[k]);
            CHECK_REL(y, x, 1e-12);
        }
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
}

/* The device-resident reduce's driver (ll_dist_reduce_solve_device: counts and
 * means, shift in place, per-entry sums onto the owning rank, unpack, block
 * solve, gather), which on GPUs cannot run here, run over the CPU backend's
 * host-memory table (LAYERLAW_DEVREDUCE_ON_HOST=1, sums by the MPI chain).
 * Oracle: the host reduce of the same job.  Both shift with the same
 * arithmetic, sum in the same order and solve the same matrices, so the PRs
 * must be the same BITS (tolerance 0), for np 2 and 3, with a ridge too;
 * ranks.reduce names the path.  One-hot and fuzziness keep the host reduce
 * (the table is offered for the id target only).  A rank killed as that
 * reduce starts (LAYERLAW_FAULT) leaves no result. */
static int run_job_env(const char *env, const char *model, const char *tokens, int P, const char *out,
                       const char *extra, char **o) {
    return ll_test_run_job(env, P, model, tokens, out, extra, o);
}
static const char *reduce_of(const char *out, char *buf, size_t cap) {
    char p[700];
    cJSON *j = load_json(ll_path_join(p, sizeof p, out, "law.json"));
    const cJSON *r = j ? cJSON_GetObjectItem(cJSON_GetObjectItem(j, "ranks"), "reduce") : NULL;
    snprintf(buf, cap, "%s", cJSON_IsString(r) ? r->valuestring : "(none)");
    cJSON_Delete(j);
    return buf;
}
TEST(mpi_run_device_reduce_driver_equals_host_reduce) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    const char *model = "tests/fixtures/models/gpt2", *tok = "tests/fixtures/models/gpt2/tokens.jsonl";
    static const char *extras[3] = {"--batch-size 1 --threads 1 --keep-order",
                                    "--batch-size 1 --threads 1 --keep-order --ridge 0.5",
                                    "--batch-size 1 --threads 1 --keep-order --measure onehot"};
    static const int nps[3] = {2, 3, 3};
    for (int k = 0; k < 3; k++) {
        char oh[600], od[600], rs[400], *o = NULL;
        double ph[256], pd[256];
        snprintf(oh, sizeof oh, "%s/host-%d", ll_test_tmpdir(), k);
        snprintf(od, sizeof od, "%s/drv-%d", ll_test_tmpdir(), k);
        int st = run_job_env("LAYERLAW_DEVREDUCE_ON_HOST=0", model, tok, nps[k], oh, extras[k], &o);
        REQUIRE_MSG(st == 0, "host reduce, %s: exit %d: %s", extras[k], st, o ? o : "");
        free(o);
        st = run_job_env("LAYERLAW_DEVREDUCE_ON_HOST=1", model, tok, nps[k], od, extras[k], &o);
        REQUIRE_MSG(st == 0, "device reduce's driver, %s: exit %d: %s", extras[k], st, o ? o : "");
        free(o);
        int E = read_prs(oh, ph, 256, NULL);
        REQUIRE(E > 1 && read_prs(od, pd, 256, NULL) == E);
        for (int e = 0; e < E; e++)
            CHECK_MSG(pd[e] == ph[e], "%s np %d entry %d: driver %.17g, host reduce %.17g", extras[k], nps[k], e, pd[e],
                      ph[e]);
        reduce_of(od, rs, sizeof rs);
        if (k < 2) CHECK_MSG(strstr(rs, "device reduce's driver") != NULL, "%s: reduce '%s'", extras[k], rs);
        else CHECK_MSG(!strncmp(rs, "MPI chain", 9), "one-hot: reduce '%s' (expected the host reduce)", rs);
        CHECK_MSG(!strncmp(reduce_of(oh, rs, sizeof rs), "MPI chain", 9), "host: reduce '%s'", rs);
    }
    /* a rank that dies as the driver starts: no result */
    char out[600], lp[700], *o = NULL;
    snprintf(out, sizeof out, "%s/killed", ll_test_tmpdir());
    int st = run_job_env("LAYERLAW_DEVREDUCE_ON_HOST=1 LAYERLAW_FAULT=kill:1", model, tok, 2, out, "--threads 1", &o);
    CHECK_MSG(st != 0, "a killed rank: exit 0: %s", o ? o : "");
    free(o);
    CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "law.json")));
}

/* ---- held-out PR (--folds) under ranks (host/dist/dist_folds.h) ----
 *
 * Every fold's statistics are reduced like the total statistics; a job of P
 * ranks then differs from one process only by the merge order, as above.
 * Oracle: the one-process result (itself checked against HF hidden states +
 * numpy in test_measures.c).  Compared: per entry pr, pr_heldout and its fold
 * mean / sd; heldout.pr_fold and pr_train; the jackknife estimate, se and
 * interval of slope and Pearson r: all to 1e-12 relative (measured, np 2/3:
 * pr_heldout ≤ 9.1e-15, fold sd ≤ 1.5e-13, jackknife lo/hi ≤ 8.2e-14, se
 * ≤ 3.5e-13 — the se is a difference of nearly equal leave-one-out values,
 * so it carries the most rounding); the examples per fold exactly (a
 * sequence's fold comes from its index in the whole input, not in a rank's
 * block); the same np twice: the same bits. */

/* |a−b|/|b| into *worst, and the check. */
static void check_rel_track(double a, double b, double rtol, double *worst, const char *what, int e) {
    double r = a == b ? 0 : fabs(a - b) / (fabs(b) > 0 ? fabs(b) : 1.0);
    if (r > *worst) *worst = r;
    CHECK_MSG(r <= rtol, "%s [%d]: %.17g vs one process %.17g, rel diff %.3g > %.3g", what, e, a, b, r, rtol);
}

static const cJSON *jpath(const cJSON *j, const char *a, const char *b, const char *c) {
    const cJSON *v = cJSON_GetObjectItem(j, a);
    if (v && b) v = cJSON_GetObjectItem(v, b);
    if (v && c) v = cJSON_GetObjectItem(v, c);
    return v;
}

/* b (P ranks) against a (one process): returns the largest relative
 * difference, *worst_ho that of the per-entry held-out PR. */
static double check_heldout_equal(const cJSON *a, const cJSON *b, double rtol, double *worst_ho) {
    double worst = 0;
    const cJSON *la = cJSON_GetObjectItem(a, "layers"), *lb = cJSON_GetObjectItem(b, "layers");
    int E = cJSON_GetArraySize(la);
    CHECK_MSG(E > 1 && E == cJSON_GetArraySize(lb), "layers: %d vs %d", cJSON_GetArraySize(lb), E);
    static const char *keys[] = {"pr", "pr_heldout", "pr_heldout_fold_mean", "pr_heldout_fold_sd"};
    for (int e = 0; e < E && E == cJSON_GetArraySize(lb); e++)
        for (int k = 0; k < 4; k++) {
            double x = layer_val(a, e, keys[k]), y = layer_val(b, e, keys[k]);
            CHECK_MSG(isfinite(x), "one process: entry %d: no %s", e, keys[k]);
            check_rel_track(y, x, rtol, &worst, keys[k], e);
            if (k == 1) check_rel_track(y, x, rtol, worst_ho, keys[k], e);
        }
    const cJSON *ha = cJSON_GetObjectItem(a, "heldout"), *hb = cJSON_GetObjectItem(b, "heldout");
    CHECK_MSG(ha && hb, "no heldout member");
    if (!ha || !hb) return worst;
    const cJSON *fa = cJSON_GetObjectItem(ha, "fold_examples"), *fb = cJSON_GetObjectItem(hb, "fold_examples");
    int K = cJSON_GetArraySize(fa);
    CHECK_MSG(K >= 2 && K == cJSON_GetArraySize(fb), "fold_examples: %d vs %d folds", cJSON_GetArraySize(fb), K);
    for (int k = 0; k < K && K == cJSON_GetArraySize(fb); k++)
        CHECK_MSG(cJSON_GetArrayItem(fa, k)->valuedouble == cJSON_GetArrayItem(fb, k)->valuedouble,
                  "fold %d: %g examples, one process %g", k, cJSON_GetArrayItem(fb, k)->valuedouble,
                  cJSON_GetArrayItem(fa, k)->valuedouble);
    static const char *mats[] = {"pr_fold", "pr_train"};
    for (int m = 0; m < 2; m++)
        for (int e = 0; e < E; e++) {
            const cJSON *ra = cJSON_GetArrayItem(cJSON_GetObjectItem(ha, mats[m]), e);
            const cJSON *rb = cJSON_GetArrayItem(cJSON_GetObjectItem(hb, mats[m]), e);
            CHECK_MSG(cJSON_GetArraySize(ra) == K && cJSON_GetArraySize(rb) == K, "%s[%d]: not K values", mats[m], e);
            for (int k = 0; k < K && cJSON_GetArraySize(rb) == K; k++)
                check_rel_track(cJSON_GetArrayItem(rb, k)->valuedouble, cJSON_GetArrayItem(ra, k)->valuedouble, rtol,
                                &worst, mats[m], e * K + k);
        }
    static const char *par[] = {"slope", "pearson_r"}, *st[] = {"estimate", "se", "lo", "hi"};
    for (int p = 0; p < 2; p++)
        for (int s = 0; s < 4; s++) {
            const cJSON *x = jpath(ha, "jackknife", par[p], st[s]), *y = jpath(hb, "jackknife", par[p], st[s]);
            CHECK_MSG(cJSON_IsNumber(x) && cJSON_IsNumber(y), "jackknife %s %s missing", par[p], st[s]);
            if (cJSON_IsNumber(x) && cJSON_IsNumber(y)) {
                char what[64];
                snprintf(what, sizeof what, "jackknife %s %s", par[p], st[s]);
                check_rel_track(y->valuedouble, x->valuedouble, rtol, &worst, what, 0);
            }
        }
    return worst;
}

/* The result members that must be the same bits for the same rank count. */
static char *result_text(const cJSON *j) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "layers", cJSON_Duplicate(cJSON_GetObjectItem(j, "layers"), 1));
    cJSON_AddItemToObject(c, "heldout", cJSON_Duplicate(cJSON_GetObjectItem(j, "heldout"), 1));
    cJSON_AddItemToObject(c, "fit", cJSON_Duplicate(cJSON_GetObjectItem(j, "fit"), 1));
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return s;
}

/* job(P, out, &o) runs the job with P ranks (0: no mpirun) into out. */
typedef int (*folds_job_fn)(const void *ctx, int P, const char *out, char **o);

static void check_folds_ranks(folds_job_fn job, const void *ctx, const char *tag) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    char out[600], p[700], *o = NULL;
    snprintf(out, sizeof out, "%s/%s-single", ll_test_tmpdir(), tag);
    int st = job(ctx, 0, out, &o);
    REQUIRE_MSG(st == 0, "%s single: exit %d: %s", tag, st, o ? o : "");
    free(o);
    cJSON *one = load_json(ll_path_join(p, sizeof p, out, "law.json"));
    REQUIRE(one && cJSON_GetObjectItem(one, "heldout"));
    char *first3 = NULL;
    double worst = 0, worst_ho = 0;
    for (int P = 2; P <= 3; P++)
        for (int again = 0; again < (P == 3 ? 2 : 1); again++) {
            snprintf(out, sizeof out, "%s/%s-np%d%s", ll_test_tmpdir(), tag, P, again ? "b" : "");
            st = job(ctx, P, out, &o);
            REQUIRE_MSG(st == 0, "%s np %d: exit %d: %s", tag, P, st, o ? o : "");
            free(o);
            cJSON *j = load_json(ll_path_join(p, sizeof p, out, "law.json"));
            REQUIRE_MSG(j, "%s np %d: no law.json", tag, P);
            double w = check_heldout_equal(one, j, 1e-12, &worst_ho);
            if (w > worst) worst = w;
            const cJSON *ranks = cJSON_GetObjectItem(j, "ranks");
            CHECK_MSG(ranks && (int)cJSON_GetObjectItem(ranks, "ranks")->valuedouble == P, "%s np %d: ranks member", tag, P);
            if (P == 3) {
                char *txt = result_text(j);
                if (!again) first3 = txt;
                else {
                    CHECK_MSG(strcmp(txt, first3) == 0, "%s: np 3 twice: different results", tag);
                    free(txt);
                }
            }
            cJSON_Delete(j);
        }
    fprintf(stderr, "    %s: np 2/3 vs one process: largest relative difference %.2g (held-out PR %.2g)\n", tag,
            worst, worst_ho);
    free(first3);
    cJSON_Delete(one);
}

typedef struct { const char *model, *tokens, *extra; } run_folds_ctx;
static int run_folds_job(const void *ctx, int P, const char *out, char **o) {
    const run_folds_ctx *c = ctx;
    return run_job(c->model, c->tokens, P, out, c->extra, o);
}

/* Every sequence alone (--batch-size 1 --threads 1), in the default
 * longest-first window order: the features are the same bits on any rank. */
TEST(mpi_run_folds_gpt2) {
    run_folds_ctx c = {"tests/fixtures/models/gpt2", "tests/fixtures/models/gpt2/tokens.jsonl",
                       "--batch-size 1 --threads 1 --folds 3"};
    check_folds_ranks(run_folds_job, &c, "gpt2-folds3");
}
TEST(mpi_run_folds_llama_gqa_seed) {
    run_folds_ctx c = {"tests/fixtures/models/llama_gqa", "tests/fixtures/models/llama_gqa/tokens.jsonl",
                       "--batch-size 1 --threads 1 --folds 3 --fold-seed 11"};
    check_folds_ranks(run_folds_job, &c, "llama-folds3");
}
TEST(mpi_run_folds_stories260k) {
    const char *model = ll_shared_path("data/checkpoints/stories260K-hf");
    char tok[600];
    snprintf(tok, sizeof tok, "%s/alice-200x128.tok512.jsonl", model);
    run_folds_ctx c = {model, tok, "--batch-size 1 --threads 1 --folds 5"};
    check_folds_ranks(run_folds_job, &c, "stories-folds5");
}

typedef struct { const char *extra; } fit_folds_ctx;
static int fit_folds_job(const void *ctx, int P, const char *out, char **o) {
    const fit_folds_ctx *c = ctx;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s%s%s fit --features tests/fixtures/fit/well.F.npy --labels tests/fixtures/fit/well.Y.npy --out %s "
             "--quiet %s 2>&1",
             P ? MPIRUN " -np " : "", P ? (P == 2 ? "2 " : "3 ") : "", ll_bin_path(), out, c->extra);
    return ll_run_cmd(cmd, o);
}

/* fit: examples split into rank blocks, folds by example index, and by
 * --groups (groups of 7 consecutive examples: a group straddles the blocks'
 * edges, its examples still share one fold). */
TEST(mpi_fit_folds) {
    fit_folds_ctx c = {"--folds 5"};
    check_folds_ranks(fit_folds_job, &c, "fit-folds5");
    ll_npy Y;
    REQUIRE(ll_npy_open("tests/fixtures/fit/well.Y.npy", &Y) == 0);
    long N = (long)Y.shape[0];
    ll_npy_close(&Y);
    int64_t *g = malloc((size_t)N * sizeof(int64_t));
    for (long i = 0; i < N; i++) g[i] = i / 7;
    char gp[600], extra[800];
    ll_path_join(gp, sizeof gp, ll_test_tmpdir(), "groups.npy");
    int64_t shape[1] = {N};
    REQUIRE(ll_npy_save(gp, LL_DT_I64, 1, shape, g) == 0);
    free(g);
    snprintf(extra, sizeof extra, "--folds 4 --fold-seed 7 --groups %s", gp);
    c.extra = extra;
    check_folds_ranks(fit_folds_job, &c, "fit-groups4");
}

/* 9 sequences in 32 folds: some fold is empty (pigeonhole).  Every rank
 * knows it after the fold counts are summed; the job stops with the input
 * error (exit 2), printed once, nothing written. */
TEST(mpi_run_folds_empty_fold_is_an_input_error) {
    REQUIRE_MSG(have_mpi_binary(), "%s was built without MPI", ll_bin_path());
    char out[600], *o = NULL;
    snprintf(out, sizeof out, "%s/out", ll_test_tmpdir());
    int st = run_job("tests/fixtures/models/gpt2", "tests/fixtures/models/gpt2/tokens.jsonl", 3, out, "--folds 32", &o);
    CHECK_INT(st, 2);
    const char *want = "tests/fixtures/models/gpt2/tokens.jsonl: folds: fold ";
    const char *hit = o ? strstr(o, want) : NULL;
    CHECK_MSG(hit && strstr(hit, "of 32 has no examples"), "expected '%s... of 32 has no examples' in: %s", want, o ? o : "");
    CHECK_MSG(hit && !strstr(hit + strlen(want), want), "printed more than once: %s", o ? o : "");
    free(o);
    char lp[700];
    CHECK(!ll_path_exists(ll_path_join(lp, sizeof lp, out, "law.json")));
}
