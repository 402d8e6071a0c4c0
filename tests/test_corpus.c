/* Corpus reader and sampling tests. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/corpus.h"
#include "harness.h"
#include "core/ll_util.h"

static const char *tmpfile_with(const char *name, const char *data, size_t n, int gz) {
    static char p[8][700];
    static int k = 0;
    char *path = p[k++ % 8];
    ll_path_join(path, 700, ll_test_tmpdir(), name);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g) return NULL;
        gzwrite(g, data, (unsigned)n);
        gzclose(g);
    } else if (ll_write_file_atomic(path, data, n) != 0) return NULL;
    return path;
}

/* all documents joined with '|' */
static char *all_docs(const char *path, int split, const char *field, int *ndocs, int *rc) {
    ll_corpus *c = ll_corpus_open(path, split, field);
    *ndocs = 0;
    *rc = -2;
    if (!c) return NULL;
    size_t cap = 1 << 16, k = 0;
    char *out = malloc(cap);
    out[0] = 0;
    const char *t;
    size_t n;
    int r;
    while ((r = ll_corpus_next(c, &t, &n)) == 1) {
        while (k + n + 2 > cap) { cap *= 2; out = realloc(out, cap); }
        memcpy(out + k, t, n);
        k += n;
        out[k++] = '|';
        out[k] = 0;
        (*ndocs)++;
    }
    *rc = r;
    ll_corpus_close(c);
    return out;
}

static const char TEXT[] = "first line\r\nsecond line\n\n  \nthird\r\n\r\npara two a\npara two b\r\n";

TEST(corpus_line_paragraph_file) {
    for (int gz = 0; gz < 2; gz++) {
        const char *p = tmpfile_with(gz ? "t.txt.gz" : "t.txt", TEXT, sizeof TEXT - 1, gz);
        REQUIRE(p);
        int n, rc;
        char *s = all_docs(p, LL_SPLIT_LINE, NULL, &n, &rc);
        CHECK_INT(rc, 0);
        CHECK_MSG(s && !strcmp(s, "first line|second line|  |third|para two a|para two b|"), "line: %s", s);
        CHECK_INT(n, 6);
        free(s);
        s = all_docs(p, LL_SPLIT_PARAGRAPH, NULL, &n, &rc);
        CHECK_MSG(s && !strcmp(s, "first line\nsecond line|third|para two a\npara two b|"), "paragraph: %s", s);
        free(s);
        s = all_docs(p, LL_SPLIT_FILE, NULL, &n, &rc);
        CHECK_INT(n, 1);
        CHECK_MSG(s && strlen(s) == sizeof TEXT && !memcmp(s, TEXT, sizeof TEXT - 1), "file: %s", s);
        free(s);
        s = all_docs(p, LL_SPLIT_AUTO, NULL, &n, &rc);
        CHECK_INT(n, 6);
        free(s);
    }
    /* no trailing newline, empty file */
    const char *p = tmpfile_with("n.txt", "a\nb", 3, 0);
    int n, rc;
    char *s = all_docs(p, LL_SPLIT_LINE, NULL, &n, &rc);
    CHECK(s && !strcmp(s, "a|b|"));
    free(s);
    p = tmpfile_with("e.txt", "", 0, 0);
    s = all_docs(p, LL_SPLIT_FILE, NULL, &n, &rc);
    CHECK_INT(n, 0);
    CHECK_INT(rc, 0);
    free(s);
}

TEST(corpus_long_lines_streamed) {
    /* lines longer than the read chunk, gzip, many documents */
    size_t len = 0, cap = 40 * 200002;
    char *d = malloc(cap);
    for (int i = 0; i < 40; i++) {
        int L = i * 9973 % 200000 + 1;
        for (int j = 0; j < L; j++) d[len++] = (char)('a' + (i + j) % 26);
        d[len++] = '\n';
    }
    const char *p = tmpfile_with("long.txt.gz", d, len, 1);
    ll_corpus *c = ll_corpus_open(p, LL_SPLIT_LINE, NULL);
    REQUIRE(c);
    const char *t;
    size_t n, off = 0;
    int k = 0;
    while (ll_corpus_next(c, &t, &n) == 1) {
        CHECK_MSG(!memcmp(t, d + off, n) && d[off + n] == '\n', "doc %d differs", k);
        CHECK_INT(ll_corpus_doc_line(c), k + 1);
        off += n + 1;
        k++;
    }
    CHECK_INT(k, 40);
    ll_corpus_close(c);
    free(d);
}

TEST(corpus_jsonl) {
    const char js[] = "{\"text\": \"hello\\nworld\", \"id\": 1}\n\n{\"id\":2,\"text\":\"caf\\u00e9 \\ud83d\\ude00\"}\r\n"
                      "{\"text\": \"\"}\n{\"body\": \"b\", \"text\": \"third\"}\n";
    for (int gz = 0; gz < 2; gz++) {
        const char *p = tmpfile_with(gz ? "a.jsonl.gz" : "a.jsonl", js, sizeof js - 1, gz);
        int n, rc;
        char *s = all_docs(p, LL_SPLIT_AUTO, NULL, &n, &rc);
        CHECK_INT(rc, 0);
        CHECK_MSG(s && !strcmp(s, "hello\nworld|caf\xc3\xa9 \xf0\x9f\x98\x80|third|"), "jsonl: %s", s);
        free(s);
    }
    const char *p = tmpfile_with("b.jsonl", js, sizeof js - 1, 0);
    int n, rc;
    char *s = all_docs(p, LL_SPLIT_JSONL, "body", &n, &rc);
    CHECK_INT(rc, -1);
    CHECK_MSG(strstr(ll_last_error(), "b.jsonl:1: no field 'body'"), "error: %s", ll_last_error());
    free(s);
}

TEST(corpus_errors) {
    int n, rc;
    const char bad[] = "{\"text\": \"ok\"}\n{\"text\": \"also ok\"}\n{\"text\": broken}\n";
    const char *p = tmpfile_with("bad.jsonl", bad, sizeof bad - 1, 0);
    char *s = all_docs(p, LL_SPLIT_AUTO, NULL, &n, &rc);
    CHECK_INT(rc, -1);
    CHECK_INT(n, 2);
    CHECK_MSG(strstr(ll_last_error(), "bad.jsonl:3: not valid JSON") && !strchr(ll_last_error(), '\n'), "%s", ll_last_error());
    free(s);
    const char nf[] = "{\"text\": \"ok\"}\n{\"text\": 5}\n";
    p = tmpfile_with("nf.jsonl", nf, sizeof nf - 1, 0);
    s = all_docs(p, LL_SPLIT_AUTO, NULL, &n, &rc);
    CHECK_INT(rc, -1);
    CHECK_MSG(strstr(ll_last_error(), "nf.jsonl:2: not a string: field 'text'"), "%s", ll_last_error());
    free(s);
    /* corrupt gzip: valid header, damaged deflate data; and a truncated one */
    size_t len = 200000;
    char *d = malloc(len);
    for (size_t i = 0; i < len; i++) d[i] = (i % 61 == 60) ? '\n' : (char)('a' + (i * 7919) % 26);
    char gzp[700];
    ll_path_join(gzp, sizeof gzp, ll_test_tmpdir(), "ok.txt.gz");
    gzFile g = gzopen(gzp, "wb");
    gzwrite(g, d, (unsigned)len);
    gzclose(g);
    size_t gl;
    char *gzd = ll_read_file(gzp, &gl);
    REQUIRE(gzd && gl > 100);
    char *cor = malloc(gl);
    memcpy(cor, gzd, gl);
    for (size_t i = gl / 2; i < gl / 2 + 64; i++) cor[i] ^= 0x5a;
    p = tmpfile_with("corrupt.txt.gz", cor, gl, 0);
    s = all_docs(p, LL_SPLIT_LINE, NULL, &n, &rc);
    CHECK_INT(rc, -1);
    CHECK_MSG(strstr(ll_last_error(), "corrupt.txt.gz") && !strchr(ll_last_error(), '\n'), "%s", ll_last_error());
    free(s);
    p = tmpfile_with("trunc.txt.gz", gzd, gl / 2, 0);
    s = all_docs(p, LL_SPLIT_LINE, NULL, &n, &rc);
    CHECK_INT(rc, -1);
    CHECK_MSG(strstr(ll_last_error(), "trunc.txt.gz"), "%s", ll_last_error());
    free(s);
    CHECK(ll_corpus_open("/nonexistent/x.txt", LL_SPLIT_LINE, NULL) == NULL);
    CHECK(strstr(ll_last_error(), "/nonexistent/x.txt") != NULL);
    free(d); free(gzd); free(cor);

    /* the CLI: one line "layerlaw: file:line: problem", exit 2 */
    char cmd[2000];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --text %s/bad.jsonl 2>&1 >/dev/null", ll_bin_path(),
             ll_shared_path("data/tokenizers/gpt2"), ll_test_tmpdir());
    CHECK_INT(ll_run_cmd(cmd, &out), 2);
    CHECK_MSG(out && !strncmp(out, "layerlaw: ", 10) && strstr(out, "bad.jsonl:3: not valid JSON") &&
              strchr(out, '\n') == out + strlen(out) - 1, "output: %s", out ? out : "");
    free(out);
    out = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --text %s/corrupt.txt.gz 2>&1 >/dev/null", ll_bin_path(),
             ll_shared_path("data/tokenizers/gpt2"), ll_test_tmpdir());
    CHECK_INT(ll_run_cmd(cmd, &out), 2);
    CHECK_MSG(out && strstr(out, "corrupt.txt.gz"), "output: %s", out ? out : "");
    free(out);
}

TEST(corpus_sampling_properties) {
    long long out[1000];
    /* sorted, distinct, k of them; deterministic in the seed */
    for (uint64_t seed = 0; seed < 50; seed++) {
        long long k = ll_sample_indices(1000, 37, seed, out);
        CHECK_INT(k, 37);
        for (int i = 1; i < 37; i++) CHECK(out[i] > out[i - 1]);
        CHECK(out[0] >= 0 && out[36] < 1000);
        long long again[37];
        ll_sample_indices(1000, 37, seed, again);
        CHECK(!memcmp(out, again, sizeof again));
    }
    long long a[37], b[37];
    ll_sample_indices(1000, 37, 1, a);
    ll_sample_indices(1000, 37, 2, b);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK_INT(ll_sample_indices(5, 10, 3, out), 5);
    CHECK(out[0] == 0 && out[4] == 4);
    CHECK_INT(ll_sample_indices(0, 10, 3, out), 0);
    /* uniform: each of 20 indices is chosen with probability 5/20 */
    int cnt[20] = {0};
    int trials = 20000;
    for (int s = 0; s < trials; s++) {
        long long o[5];
        ll_sample_indices(20, 5, (uint64_t)s * 7919u + 11u, o);
        for (int i = 0; i < 5; i++) cnt[o[i]]++;
    }
    double chi = 0, e = trials * 5.0 / 20;
    for (int i = 0; i < 20; i++) chi += (cnt[i] - e) * (cnt[i] - e) / e;
    CHECK_MSG(chi < 45.3, "chi-square %.1f over 19 dof (p < 0.001)", chi); /* 19 dof, 99.9%: 43.8 */
    /* pairs: the 190 pairs of 20 are equally likely for k = 2 */
    int pc[20][20] = {{0}};
    for (int s = 0; s < 38000; s++) {
        long long o[2];
        ll_sample_indices(20, 2, (uint64_t)s + 1000003u, o);
        pc[o[0]][o[1]]++;
    }
    double chi2 = 0, e2 = 38000.0 / 190;
    for (int i = 0; i < 20; i++)
        for (int j = i + 1; j < 20; j++) chi2 += (pc[i][j] - e2) * (pc[i][j] - e2) / e2;
    CHECK_MSG(chi2 < 260, "pair chi-square %.1f over 189 dof", chi2); /* 99.9%: ~256 */
}

TEST(corpus_sampled_iterator) {
    char buf[4000];
    size_t k = 0;
    for (int i = 0; i < 100; i++) k += snprintf(buf + k, sizeof buf - k, "doc %d\n%s", i, i % 10 == 0 ? "\n" : "");
    const char *p = tmpfile_with("s.txt", buf, k, 0);
    long long n;
    REQUIRE(ll_corpus_count(p, LL_SPLIT_LINE, NULL, &n) == 0);
    CHECK_INT(n, 100);
    long long idx[10];
    REQUIRE(ll_sample_indices(100, 10, 42, idx) == 10);
    ll_corpus *c = ll_corpus_open_sampled(p, LL_SPLIT_LINE, NULL, 10, 42);
    REQUIRE(c);
    const char *t;
    size_t len;
    int got = 0;
    while (ll_corpus_next(c, &t, &len) == 1) {
        char want[32];
        snprintf(want, sizeof want, "doc %lld", idx[got]);
        CHECK_MSG(!strcmp(t, want), "sampled doc %d is '%s', expected '%s'", got, t, want);
        CHECK_INT(ll_corpus_doc_index(c), idx[got]);
        got++;
    }
    CHECK_INT(got, 10);
    ll_corpus_close(c);
    /* the CLI gives the same documents twice, and --docs from stdin is an error */
    char cmd[2000];
    char *o1 = NULL, *o2 = NULL;
    snprintf(cmd, sizeof cmd, "%s tokenize --tokenizer %s --text %s --docs 7 --seed 9", ll_bin_path(),
             ll_shared_path("data/tokenizers/gpt2"), ll_shared_path("data/corpora/tinyshakespeare.txt"));
    CHECK_INT(ll_run_cmd(cmd, &o1), 0);
    CHECK_INT(ll_run_cmd(cmd, &o2), 0);
    CHECK(o1 && o2 && !strcmp(o1, o2));
    int lines = 0;
    for (char *q = o1; q && *q; q++) lines += *q == '\n';
    CHECK_INT(lines, 7);
    free(o1); free(o2);
    snprintf(cmd, sizeof cmd, "echo hi | %s tokenize --tokenizer %s --docs 3 2>/dev/null", ll_bin_path(),
             ll_shared_path("data/tokenizers/gpt2"));
    CHECK_INT(ll_run_cmd(cmd, NULL), 2);
}
