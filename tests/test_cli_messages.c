/* Messages of the command line (issue 22, item 6): every list a message
 * names comes from its table; a near miss gets "did you mean"; every bad
 * value names its option; every subcommand answers --help. */
#include "harness.h"
#include "core/ll_util.h"
#include "model/family.h"
#include <stdlib.h>
#include <string.h>

TEST(did_you_mean) {
    static const char *const pos[] = {"next", "current", "previous", "next-next"};
    static const char *const cmds[] = {"fit", "run", "tokenize", "info", "plot", "report", "bench", "sweep", "topo"};
    CHECK(ll_did_you_mean("nxt", pos, 4) && !strcmp(ll_did_you_mean("nxt", pos, 4), "next"));
    CHECK(!strcmp(ll_did_you_mean("curent", pos, 4), "current"));
    CHECK(!strcmp(ll_did_you_mean("prev", pos, 4), "previous")); /* a prefix of 3+ letters */
    CHECK(!strcmp(ll_did_you_mean("rn", cmds, 9), "run"));
    CHECK(!strcmp(ll_did_you_mean("tokenise", cmds, 9), "tokenize"));
    CHECK(!strcmp(ll_did_you_mean("swep", cmds, 9), "sweep"));
    CHECK(ll_did_you_mean("sideways", pos, 4) == NULL);    /* nothing near */
    CHECK(ll_did_you_mean("x", cmds, 9) == NULL);          /* 1 edit from nothing useful */
    CHECK(ll_did_you_mean("bogus-command", cmds, 9) == NULL);
    CHECK(ll_did_you_mean("next", NULL, 0) == NULL);
    CHECK_INT(ll_edit_distance("kitten", 6, "sitting", 7), 3);
    CHECK_INT(ll_edit_distance("", 0, "abc", 3), 3);
    CHECK_INT(ll_edit_distance("cdua", 4, "cuda", 4), 1); /* a transposition is one edit */
    static const char *const be[] = {"auto", "cpu", "cuda"};
    CHECK(!strcmp(ll_did_you_mean("cdua", be, 3), "cuda"));
    char buf[256];
    CHECK(!strcmp(ll_not_one_of(buf, sizeof buf, "nxt", pos, 4),
                  "'nxt' is not one of next, current, previous, next-next (did you mean next?)"));
    CHECK(!strcmp(ll_not_one_of(buf, sizeof buf, "zzz", pos, 2), "'zzz' is not one of next, current"));
    /* a short buffer is cut, never overrun */
    char small[8];
    ll_not_one_of(small, sizeof small, "nxt", pos, 4);
    CHECK_INT(strlen(small), 7);
}

/* runs `layerlaw ARGS`; *out = stdout, *err = stderr (either may be NULL) */
static int cli2(const char *args, char **out, char **err) {
    char cmd[4096], ef[1100];
    snprintf(ef, sizeof ef, "%s/stderr", ll_test_tmpdir());
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", ll_bin_path(), args, ef);
    int rc = ll_run_cmd(cmd, out);
    if (err) *err = ll_read_file(ef, NULL);
    return rc;
}

/* The commands as `layerlaw --help` lists them (the command table) */
static int usage_commands(char names[][32], int cap) {
    char *out = NULL;
    int n = 0;
    if (cli2("--help", &out, NULL) != 0 || !out) { free(out); return -1; }
    const char *p = strstr(out, "commands:\n");
    for (p = p ? strchr(p, '\n') + 1 : NULL; p && *p == ' ' && n < cap; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (sscanf(p, " %31s", names[n]) == 1) n++;
    free(out);
    return n;
}

/* `layerlaw` alone: usage on stderr, exit 2; every command of the usage
 * answers --help (usage on stdout, exit 0, nothing on stderr); an unknown
 * command lists every command of the usage, with "did you mean". */
TEST(cli_every_command_help) {
    char names[32][32];
    int n = usage_commands(names, 32);
    REQUIRE_MSG(n >= 9, "layerlaw --help lists %d commands", n);
    char *out = NULL, *err = NULL, args[1200];
    CHECK_INT(cli2("", &out, &err), 2);
    CHECK_MSG(out && !*out && err && strstr(err, "usage: layerlaw <command>"), "bare layerlaw: stdout '%s' stderr '%s'", out, err);
    free(out); free(err);
    for (int i = 0; i < n; i++) {
        snprintf(args, sizeof args, "%s --help", names[i]);
        int rc = cli2(args, &out, &err);
        char want[1200];
        snprintf(want, sizeof want, "usage: layerlaw %s", names[i]);
        CHECK_MSG(rc == 0 && out && strstr(out, want) && err && !*err, "'layerlaw %s': exit %d, stdout '%.200s', stderr '%s'",
                  args, rc, out, err);
        free(out); free(err);
    }
    CHECK_INT(cli2("rn", NULL, &err), 2);
    CHECK_MSG(err && strstr(err, "unknown command 'rn' (did you mean run?)"), "%s", err);
    for (int i = 0; i < n; i++) CHECK_MSG(err && strstr(err, names[i]), "'rn': '%s' not listed: %s", names[i], err);
    free(err);
}

/* A bad enumerated value: one line naming the option, the choices (from the
 * library's table) and the nearest one */
TEST(cli_bad_choice_named) {
    static const struct { const char *args, *line; } c[] = {
        {"run --model m --tokens t --out o --position nxt",
         "layerlaw: --position: 'nxt' is not one of next, current, previous, next-next (did you mean next?)\n"},
        {"run --model m --tokens t --out o --measure fuzz",
         "layerlaw: --measure: 'fuzz' is not one of pr, fuzziness, onehot (did you mean fuzziness?)\n"},
        {"run --model m --tokens t --out o --norm rms",
         "layerlaw: --norm: 'rms' is not one of initialized, layernorm, rmsnorm, standardize, none (did you mean rmsnorm?)\n"},
        {"run --model m --tokens t --out o --position sideways",
         "layerlaw: --position: 'sideways' is not one of next, current, previous, next-next\n"},
        {"run --model m --tokens t --out o --backend cdua",
         "layerlaw: --backend: 'cdua' is not one of auto, cpu, cuda (did you mean cuda?)\n"},
        {"tokenize --tokenizer t --split lines",
         "layerlaw: --split: 'lines' is not one of auto, line, paragraph, file, jsonl (did you mean line?)\n"},
        {"sweep s.yaml --journal wall", "layerlaw: --journal: 'wall' is not one of wal, delete (did you mean wal?)\n"},
        {"sweep s.yaml --slurm-chunk 0",
         "layerlaw: sweep: --slurm-chunk: bad value '0' (an integer from 1 to 2147483647)\n"},
        {"topo --rank 2", "layerlaw: topo: unknown option '--rank' (did you mean --ranks?); see layerlaw topo --help\n"},
        {"topo --ranks 0", "layerlaw: topo: --ranks: bad value '0' (an integer from 1 to 4096)\n"},
        {"report --each x", "layerlaw: report: unknown option '--each'; see layerlaw report --help\n"},
        {"info extra", "layerlaw: info: unexpected argument 'extra' (see layerlaw info --help)\n"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *err = NULL;
        int rc = cli2(c[i].args, NULL, &err);
        CHECK_MSG(rc == 2 && err && !strcmp(err, c[i].line), "'%s': exit %d, stderr '%s', expected '%s'", c[i].args, rc, err,
                  c[i].line);
        free(err);
    }
    /* aliases are accepted, not shown: the error is then about the model */
    char *err = NULL;
    CHECK_INT(cli2("run --model /nonexistent --tokens t --out o --norm standardization --quiet", NULL, &err), 2);
    CHECK_MSG(err && !strstr(err, "--norm"), "%s", err);
    free(err);
}

/* Operands may come after options and before them (plot PATH --out DIR) */
TEST(cli_operands_mixed) {
    char *err = NULL, args[2048];
    snprintf(args, sizeof args, "plot %s/none --format png", ll_test_tmpdir());
    CHECK_INT(cli2(args, NULL, &err), 2);
    CHECK_MSG(err && strstr(err, "--out is required"), "%s", err);
    free(err);
    /* after "--" everything is an operand: "--weird" is a path (not found) */
    snprintf(args, sizeof args, "plot --out %s/o -- --weird", ll_test_tmpdir());
    CHECK_INT(cli2(args, NULL, &err), 2);
    CHECK_MSG(err && strstr(err, "--weird") && !strstr(err, "unknown option"), "%s", err);
    free(err);
    /* a command without operands refuses them, "--" or not */
    CHECK_INT(cli2("topo -- extra", NULL, &err), 2);
    CHECK_MSG(err && strstr(err, "unexpected argument 'extra'"), "%s", err);
    free(err);
}

static int g_warnings;
static char g_warning[256];
static void count_warning(const char *line, void *ud) {
    (void)ud;
    g_warnings++;
    snprintf(g_warning, sizeof g_warning, "%s", line);
}

/* One environment prefix: LAYERLAW_*; an old LL_CUDA_* name is read as a
 * deprecated alias, with one warning per process; the new name wins. */
TEST(env_renamed) {
    ll_set_warn_handler(count_warning, NULL);
    unsetenv("LAYERLAW_T_X");
    unsetenv("LL_T_X");
    CHECK(ll_getenv_renamed("LAYERLAW_T_X", "LL_T_X") == NULL);
    setenv("LL_T_X", "0", 1);
    const char *v = ll_getenv_renamed("LAYERLAW_T_X", "LL_T_X");
    CHECK(v && !strcmp(v, "0"));
    CHECK_INT(g_warnings, 1);
    CHECK_MSG(!strcmp(g_warning, "LL_T_X is deprecated: use LAYERLAW_T_X"), "%s", g_warning);
    ll_getenv_renamed("LAYERLAW_T_X", "LL_T_X");
    CHECK_INT(g_warnings, 1); /* once */
    setenv("LAYERLAW_T_X", "1", 1);
    v = ll_getenv_renamed("LAYERLAW_T_X", "LL_T_X");
    CHECK(v && !strcmp(v, "1"));
    CHECK_INT(g_warnings, 1);
    ll_set_warn_handler(NULL, NULL);
}

/* run --help names every registered family and GGUF architecture (the
 * registry, host/families/list.h, not a copy) */
TEST(cli_run_help_lists_registry) {
    char *out = NULL;
    REQUIRE(cli2("run --help", &out, NULL) == 0 && out);
    char *flat = ll_xstrdup(out); /* the wrapped lists as one line */
    for (char *p = flat; *p; p++)
        if (*p == '\n') *p = ' ';
    REQUIRE(ll_family_count() >= 17);
    for (int i = 0; i < ll_family_count(); i++) {
        const ll_family *f = ll_family_at(i);
        char w[128];
        snprintf(w, sizeof w, " %s", f->model_type); /* followed by ',' or, the last one, ';' */
        const char *hit = strstr(flat, w);
        CHECK_MSG(hit && (hit[strlen(w)] == ',' || hit[strlen(w)] == ';'), "run --help lacks model_type %s", f->model_type);
        if (f->gguf_arch && f->gguf_config) { /* the architectures that load */
            snprintf(w, sizeof w, " %s", f->gguf_arch);
            int found = 0;
            for (const char *q = flat; (q = strstr(q, w)); q++)
                if (strchr(",; ", q[strlen(w)]) && q[strlen(w)]) found = 1;
            CHECK_MSG(found, "run --help lacks GGUF architecture %s", f->gguf_arch);
        }
    }
    free(flat);
    free(out);
}
