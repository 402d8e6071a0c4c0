/* The command line under misuse (issue 15, phase 2): outputs checked before
 * any computation, nothing left behind by a killed run, non-finite
 * activations named at their first entry, --dump-hidden's labels and sidecar
 * (fit on a dump reproduces run), the exit-code table (0 success, 1 runtime
 * failure, 2 bad input or usage) for run, fit and tokenize alike. */
#include "harness.h"
#include "core/ll_util.h"
#include "io/safetensors.h"
#include <cJSON.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODEL "configs/stories260K-hf"
#define TOKS MODEL "/alice-200x128.tok512.jsonl"
#define TEXT MODEL "/alice-200.jsonl"

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* runs `layerlaw ARGS` with TMPDIR=<tmp>/t; *err = stderr; returns the exit status */
static int cli(const char *args, char **err) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/t && TMPDIR=%s/t %s %s 2>&1 >/dev/null", ll_test_tmpdir(), ll_test_tmpdir(),
             ll_bin_path(), args);
    return ll_run_cmd(cmd, err);
}

static int lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

static double law_pr(const cJSON *law, int e) {
    const cJSON *l = cJSON_GetArrayItem(cJSON_GetObjectItem(law, "layers"), e);
    return cJSON_GetObjectItem(l, "pr")->valuedouble;
}

static cJSON *read_json(const char *path) {
    size_t n;
    char *t = ll_read_file(path, &n);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    return j;
}

/* --dump-hidden into a folder that does not exist yet: created; beside the
 * features come F.labels.npy and F.json, and `fit --features F.npy` with no
 * other flag gives run's PRs (1e-12 relative: the same float64 statistics,
 * summed in other batches: rounding only) and the same law. */
TEST(cli_dump_sidecar_fit_reproduces_run) {
    char args[4096], *err = NULL, p[1024];
    const char *t = ll_test_tmpdir();
    snprintf(args, sizeof args, "run --model " MODEL " --tokens " TOKS " --max-length 40 --threads 2 --quiet "
             "--shuffle-vocab 11 --out %s/new/a/out --dump-hidden %s/new/b/h.npy", t, t);
    REQUIRE_MSG(cli(args, &err) == 0, "%s", err);
    free(err);
    snprintf(p, sizeof p, "%s/new/b/h.labels.npy", t);
    CHECK(ll_path_exists(p));
    snprintf(p, sizeof p, "%s/new/b/h.json", t);
    cJSON *side = read_json(p);
    REQUIRE(side);
    CHECK(!strcmp(cJSON_GetObjectItem(side, "norm")->valuestring, "rmsnorm")); /* stories260K is a Llama: a fresh RMSNorm */
    CHECK(!strcmp(cJSON_GetObjectItem(side, "shuffle_vocab_seed")->valuestring, "11"));
    cJSON_Delete(side);
    snprintf(args, sizeof args, "fit --features %s/new/b/h.npy --out %s/fit --quiet --threads 2", t, t);
    err = NULL;
    REQUIRE_MSG(cli(args, &err) == 0, "%s", err);
    free(err);
    snprintf(p, sizeof p, "%s/new/a/out/law.json", t);
    cJSON *a = read_json(p);
    snprintf(p, sizeof p, "%s/fit/law.json", t);
    cJSON *b = read_json(p);
    REQUIRE(a && b);
    for (int e = 0; e < 6; e++) CHECK_REL(law_pr(b, e), law_pr(a, e), 1e-12);
    CHECK_REL(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "fit"), "slope")->valuedouble,
              cJSON_GetObjectItem(cJSON_GetObjectItem(a, "fit"), "slope")->valuedouble, 1e-9);
    const cJSON *cf = cJSON_GetObjectItem(b, "config");
    CHECK(!strcmp(cJSON_GetObjectItem(cf, "norm")->valuestring, "rmsnorm"));
    CHECK(cJSON_GetObjectItem(cf, "shuffle_vocab_seed")->valuedouble == 11);
    /* an explicit option wins over the sidecar: --norm none changes the PRs */
    snprintf(args, sizeof args, "fit --features %s/new/b/h.npy --out %s/fit2 --quiet --norm none", t, t);
    CHECK_INT(cli(args, NULL), 0);
    snprintf(p, sizeof p, "%s/fit2/law.json", t);
    cJSON *c = read_json(p);
    REQUIRE(c);
    CHECK(!strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "config"), "norm")->valuestring, "none"));
    CHECK(law_pr(c, 1) != law_pr(b, 1));
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* Outputs that cannot be written are refused before any computation: exit
 * 2, one line naming the path, nothing created. */
TEST(cli_outputs_checked_first) {
    const char *t = ll_test_tmpdir();
    char args[4096], p[1024], *err = NULL;
    snprintf(p, sizeof p, "%s/afile", t);
    FILE *f = fopen(p, "w");
    REQUIRE(f);
    fclose(f);
    static const char *bad[] = {
        "run --model " MODEL " --tokens " TOKS " --out %s/afile",
        "run --model " MODEL " --tokens " TOKS " --out %s/afile/sub",
        "run --model " MODEL " --tokens " TOKS " --out %s/ok --dump-hidden %s/afile/h.npy",
        "run --model " MODEL " --tokens " TOKS " --out %s/ok --dump-hidden %s",
        "fit --features x.npy --labels y.npy --out %s/afile",
    };
    for (int i = 0; i < 5; i++) {
        snprintf(args, sizeof args, bad[i], t, t);
        double t0 = ll_now();
        CHECK_MSG(cli(args, &err) == 2, "case %d: %s", i, err);
        CHECK_MSG(lines(err) == 1 && !strncmp(err, "layerlaw: ", 10) && strstr(err, t), "case %d: %s", i, err);
        CHECK_MSG(ll_now() - t0 < 5, "case %d: took %.1f s: checked after the computation?", i, ll_now() - t0);
        free(err);
        err = NULL;
    }
    snprintf(p, sizeof p, "%s/ok", t);
    CHECK(!ll_path_exists(p));
}

/* Killed mid-run (SIGKILL, or SIGTERM): no --dump-hidden temporary file in
 * its folder, no --data token file in TMPDIR, no results. */
static void killed_run(int sig) {
    const char *t = ll_test_tmpdir();
    char out[1024], tmpd[1024], bin[PATH_MAX];
    snprintf(out, sizeof out, "%s/out", t);
    snprintf(tmpd, sizeof tmpd, "%s/tmp", t);
    REQUIRE(ll_mkdirs(out) == 0 && ll_mkdirs(tmpd) == 0);
    REQUIRE(realpath(ll_bin_path(), bin));
    char dump[1100];
    snprintf(dump, sizeof dump, "%s/h.npy", out);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("TMPDIR", tmpd, 1);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
        execl(bin, bin, "run", "--model", MODEL, "--data", TEXT, "--out", out, "--dump-hidden", dump, "--batch-size", "1",
              "--threads", "1", "--quiet", (char *)NULL);
        _exit(127);
    }
    REQUIRE(pid > 0);
    /* wait until the dump is open (a descriptor on a file in the out folder) */
    int open_seen = 0;
    for (int k = 0; k < 1200 && !open_seen; k++) { /* up to 30 s: sanitizer builds on busy cores */
        char fdd[64];
        snprintf(fdd, sizeof fdd, "/proc/%d/fd", (int)pid);
        DIR *d = opendir(fdd);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char lp[600], target[2048];
            snprintf(lp, sizeof lp, "%s/%s", fdd, e->d_name);
            ssize_t n = readlink(lp, target, sizeof target - 1);
            if (n > 0) { target[n] = 0; if (strstr(target, out)) open_seen = 1; }
        }
        if (d) closedir(d);
        if (!open_seen) usleep(25000);
    }
    CHECK_MSG(open_seen, "the dump was never opened");
    usleep(100000);
    CHECK_INT(kill(pid, sig), 0);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == sig, "status %d", st);
    CHECK_MSG(count_files(out) == 0, "%d files left in the out folder", count_files(out));
    CHECK_MSG(count_files(tmpd) == 0, "%d files left in TMPDIR", count_files(tmpd));
}
TEST(cli_kill9_leaves_nothing) { killed_run(SIGKILL); }
TEST(cli_sigterm_leaves_nothing) { killed_run(SIGTERM); }

/* Finite but huge weights in layer 3 (0-based 2): every up_proj weight is
 * 3e38, so its outputs overflow float32 (the load-time check of non-finite
 * weights passes: they are finite); entries 0..2 are finite, entry 3 is the
 * first that is not; the run stops there with exit 2, naming it. */
TEST(cli_nonfinite_entry_named) {
    const char *t = ll_test_tmpdir();
    char dir[1024], p[1200], args[4096], *err = NULL;
    snprintf(dir, sizeof dir, "%s/nanmodel", t);
    REQUIRE(ll_mkdirs(dir) == 0);
    static const char *copy[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        char src[600];
        snprintf(src, sizeof src, MODEL "/%s", copy[i]);
        size_t n;
        char *d = ll_read_file(src, &n);
        REQUIRE(d);
        snprintf(p, sizeof p, "%s/%s", dir, copy[i]);
        REQUIRE(ll_write_file_atomic(p, d, n) == 0);
        free(d);
    }
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    ll_safetensors st;
    REQUIRE_MSG(ll_st_open_file(&st, p) == 0, "%s", ll_last_error());
    const ll_st_tensor *w = ll_st_find(&st, "model.layers.2.mlp.up_proj.weight");
    REQUIRE(w && w->dtype == LL_ST_F32);
    long off = (long)((const char *)w->data - (const char *)st.maps[w->file]);
    long nw = (long)w->numel;
    ll_st_close(&st);
    FILE *f = fopen(p, "r+b");
    REQUIRE(f);
    float huge = 3e38f;
    fseek(f, off, SEEK_SET);
    for (long i = 0; i < nw; i++) fwrite(&huge, 4, 1, f);
    fclose(f);
    snprintf(args, sizeof args, "run --model %s --tokens " TOKS " --max-length 16 --out %s/o --quiet", dir, t);
    CHECK_INT(cli(args, &err), 2);
    CHECK_MSG(err && strstr(err, "hidden-state entry 3 is not finite (NaN") && strstr(err, dir), "%s", err);
    snprintf(p, sizeof p, "%s/o", t);
    CHECK(count_files(p) == 0);
    free(err);
}

/* --data on a model folder without tokenizer.json says to give --tokenizer;
 * --docs above the corpus size warns and uses every document. */
TEST(cli_data_hints) {
    const char *t = ll_test_tmpdir();
    char dir[1024], p[1200], args[4096], *err = NULL;
    snprintf(dir, sizeof dir, "%s/notok", t);
    REQUIRE(ll_mkdirs(dir) == 0);
    char abs[PATH_MAX];
    REQUIRE(realpath(MODEL, abs));
    static const char *ln[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        char src[PATH_MAX + 64];
        snprintf(src, sizeof src, "%s/%s", abs, ln[i]);
        snprintf(p, sizeof p, "%s/%s", dir, ln[i]);
        REQUIRE(symlink(src, p) == 0);
    }
    snprintf(args, sizeof args, "run --model %s --data " TEXT " --out %s/o --quiet", dir, t);
    CHECK_INT(cli(args, &err), 2);
    CHECK_MSG(err && lines(err) == 1 && strstr(err, "--tokenizer") && strstr(err, dir), "%s", err);
    free(err);
    snprintf(args, sizeof args, "run --model %s --tokenizer " MODEL " --data " TEXT " --docs 5000 --max-length 8 --out %s/o2 --quiet",
             dir, t);
    err = NULL;
    CHECK_INT(cli(args, &err), 0);
    CHECK_MSG(err && strstr(err, "warning: --docs 5000: " TEXT " has only 200 documents"), "%s", err);
    free(err);
}

/* The exit-code table, for run, fit and tokenize alike:
 *   0 success, 1 runtime failure, 2 bad input or usage.
 * Usage errors print one line: the error, with "did you mean" for a near
 * option, and where the help is (not the whole usage). */
TEST(cli_exit_codes) {
    const char *t = ll_test_tmpdir();
    char args[4096], *err = NULL;
    static const struct { const char *args; int rc; const char *words; } c[] = {
        {"run --modle " MODEL, 2, "did you mean --model?"},
        {"fit --fetures x.npy", 2, "did you mean --features?"},
        {"tokenize --tokenzier x", 2, "did you mean --tokenizer?"},
        {"bogus-command", 2, "bogus-command"},
        {"run --model " MODEL " --tokens " TOKS, 2, "--out"},
        {"fit --features x.npy", 2, "--labels"},
        {"run --model " MODEL " --tokens " TOKS " --out %s/o --batch-size 4294967297", 2, "--batch-size"},
        {"run --model " MODEL " --tokens " TOKS " --out %s/o --batch-size 0", 2, "--batch-size"},
        {"run --model " MODEL " --tokens " TOKS " --out %s/o --threads -1", 2, "--threads"},
        {"run --model " MODEL " --tokens " TOKS " --out %s/o --max-length 1e3", 2, "--max-length"},
        {"run --model " MODEL " --tokens " TOKS " --out %s/o --fit-from 9", 2, "--fit-from 9"},
        {"run --model " MODEL " --data " TEXT " --out %s/o --seed 4", 2, "--seed"},
        {"run --model " MODEL " --tokens " TOKS " --out %s/o --position sideways", 2, "sideways"},
        {"run --model " MODEL " --tokens " TOKS " --out %s/o --norm fancy", 2, "fancy"},
        {"fit --features x.npy --labels y.npy --out %s/o --eps -1", 2, "--eps"},
        {"fit --features x.npy --labels y.npy --out %s/o --target weird", 2, "weird"},
        {"tokenize --tokenizer " MODEL " --max-length -3", 2, "--max-length"},
        {"tokenize --tokenizer " MODEL " --docs 0", 2, "--docs"},
        {"run --model %s/missing --tokens " TOKS " --out %s/o", 2, "missing"},
        {"fit --features %s/missing.npy --labels y.npy --out %s/o", 2, "missing.npy"},
        {"tokenize --tokenizer %s/missing", 2, "missing"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        snprintf(args, sizeof args, c[i].args, t, t);
        int rc = cli(args, &err);
        CHECK_MSG(rc == c[i].rc, "'%s': exit %d, expected %d: %s", args, rc, c[i].rc, err);
        CHECK_MSG(err && lines(err) == 1 && !strncmp(err, "layerlaw: ", 10) && strstr(err, c[i].words),
                  "'%s': expected one line with '%s': %s", args, c[i].words, err);
        free(err);
        err = NULL;
    }
    /* 0: each command succeeding */
    snprintf(args, sizeof args, "run --model " MODEL " --tokens " TOKS " --max-length 16 --out %s/ok --quiet", t);
    CHECK_INT(cli(args, NULL), 0);
    snprintf(args, sizeof args, "tokenize --tokenizer " MODEL " --text " TEXT " --docs 3");
    CHECK_INT(cli(args, NULL), 0);
    /* 1: a runtime failure: the output cannot be written (stdout is /dev/full) */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer " MODEL " --text " TEXT " > /dev/full 2>/dev/null", ll_bin_path());
    CHECK_INT(ll_run_cmd(cmd, NULL), 1);
}
