/* libFuzzer: sweep files (YAML or JSON) through ll_sweep_load (libyaml, the
 * alias and nesting bounds, the option checks, the point expansion), then the
 * points' filters and the shell quoting the Slurm script uses, checked by
 * unquoting it again.  Points are bounded lower than a real sweep's million
 * (LAYERLAW_SWEEP_MAX_POINTS) to stay inside the fuzzer's memory limit. */
#include "fuzz_util.h"
#include "sweep/slurm.h"
#include "sweep/sweep.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    setenv("LAYERLAW_SWEEP_MAX_POINTS", "20000", 1);
    return 0;
}

/* The inverse of ll_sb_shell_quote for its own output: 'a'\''b' -> a'b. */
static void check_quote(const char *s) {
    ll_sbuf b = {0};
    ll_sb_shell_quote(&b, s);
    size_t n = strlen(s), k = 0;
    char *u = malloc(n + 1);
    const char *q = b.s;
    if (*q++ != '\'') abort();
    for (;;) {
        if (*q == '\'') {
            if (!strncmp(q, "'\\''", 4)) { u[k++] = '\''; q += 4; continue; }
            if (q[1] != 0) abort(); /* a closing quote before the end: the word would split */
            break;
        }
        if (!*q) abort();
        u[k++] = *q++;
    }
    u[k] = 0;
    if (k != n || memcmp(u, s, n)) abort();
    free(u);
    free(b.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fz_write("sweep.yaml", data, size);
    fz_reset_error();
    ll_sweep *s = ll_sweep_load(p);
    if (!s) { fz_check_error(); return 0; }
    if (s->n_points < 1 || s->n_points > 20000 || !s->name) abort();
    check_quote(s->name);
    for (int i = 0; i < s->n_points; i++) {
        const ll_sweep_point *pt = &s->points[i];
        if (strlen(pt->key) != 16 || strspn(pt->key, "0123456789abcdef") != 16) abort();
        if (i < 8) {
            check_quote(pt->model_path);
            char v[128];
            for (int a = 0; a < s->n_axes; a++)
                ll_sweep_value_str(cJSON_GetObjectItemCaseSensitive(pt->axes, s->axis_names[a]), v, sizeof v);
            char *f[2] = {"model=x,y", "key=0"};
            if (ll_sweep_point_matches(s, pt, f, 2) < 0) abort();
        }
    }
    ll_sweep_free(s);
    return 0;
}
