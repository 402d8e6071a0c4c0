#include "sweep/slurm.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ll_sb_shell_quote(ll_sbuf *b, const char *s) {
    ll_sb_add(b, "'", 1);
    for (const char *p = s; *p; p++) {
        const char *q = strchr(p, '\'');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        ll_sb_add(b, p, n);
        if (!q) break;
        ll_sb_add(b, "'\\''", 4);
        p = q;
    }
    ll_sb_add(b, "'", 1);
}

int ll_slurm_tasks(int n_points, int chunk) {
    if (chunk < 1) chunk = 1;
    int t = n_points / chunk + (n_points % chunk != 0);
    return t < 1 ? 1 : t;
}

/* A control character (newline, CR, ...) ends a #SBATCH line or a comment:
 * nothing can quote it there. */
static int has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

/* A comment line's copy of a value: control characters as '?'. */
static void sb_comment_text(ll_sbuf *b, const char *s) {
    for (; *s; s++) {
        char c = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
        ll_sb_add(b, &c, 1);
    }
}

/* Slurm's file name patterns: a literal % is %%. */
static void sb_slurm_filename(ll_sbuf *b, const char *s) {
    for (; *s; s++) ll_sb_add(b, *s == '%' ? "%%" : s, *s == '%' ? 2 : 1);
}

static void abs_path(const char *p, char *buf, size_t cap) {
    if (!realpath(p, buf)) snprintf(buf, cap, "%s", p);
}

/* The #SBATCH header: job name (only [A-Za-z0-9._-] kept), the array, the
 * task logs, the user's extra lines. */
static int slurm_header(ll_sbuf *b, const ll_sweep *sw, const ll_slurm_opts *o, const char *out_abs, int tasks) {
    if (has_control(sw->name)) {
        ll_set_error("%s: name: a control character (newline?) cannot go into the Slurm job name", o->cfg_path);
        return -1;
    }
    if (has_control(out_abs)) {
        ll_set_error("%s: a control character (newline?) in the output folder cannot go into an #SBATCH line", out_abs);
        return -1;
    }
    for (int i = 0; i < o->n_sbatch; i++)
        if (has_control(o->sbatch[i])) {
            ll_set_error("--sbatch: a control character (newline?) cannot go into an #SBATCH line");
            return -1;
        }
    ll_sb_puts(b, "#!/bin/bash\n# written by: layerlaw sweep ");
    sb_comment_text(b, o->cfg_path);
    ll_sb_puts(b, " --slurm  (sweep ");
    sb_comment_text(b, sw->name);
    ll_sb_printf(b, ", %d points, %d per task)\n# submit:     sbatch ", o->n_points, o->chunk);
    sb_comment_text(b, out_abs);
    ll_sb_puts(b, "/sweep.sbatch\n"
                  "# Every task writes the same results store; a task resubmitted after a failure\n"
                  "# or a time limit skips the points already recorded.\n"
                  "#SBATCH --job-name=layerlaw-");
    for (const char *c = sw->name; *c; c++) {
        char ch = (strchr("._-", *c) || (*c >= '0' && *c <= '9') || ((*c | 32) >= 'a' && (*c | 32) <= 'z')) ? *c : '_';
        ll_sb_add(b, &ch, 1);
    }
    ll_sb_printf(b, "\n#SBATCH --array=0-%d\n#SBATCH --output=", tasks - 1);
    sb_slurm_filename(b, out_abs);
    ll_sb_puts(b, "/slurm/%A_%a.out\n");
    for (int i = 0; i < o->n_sbatch; i++) ll_sb_printf(b, "#SBATCH %s\n", o->sbatch[i]);
    return 0;
}

int ll_sweep_write_slurm(const ll_sweep *sw, const ll_slurm_opts *o, char *path_out, size_t cap) {
    int tasks = ll_slurm_tasks(o->n_points, o->chunk);
    char bin[4096], cfg_abs[4096], out_abs[4096], store_abs[4096], cwd[4096];
    ssize_t bl = readlink("/proc/self/exe", bin, sizeof bin - 1);
    if (bl <= 0) snprintf(bin, sizeof bin, "layerlaw");
    else bin[bl] = 0;
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    abs_path(o->cfg_path, cfg_abs, sizeof cfg_abs);
    abs_path(o->out, out_abs, sizeof out_abs);
    abs_path(o->store, store_abs, sizeof store_abs);
    ll_sbuf b = {0};
    if (slurm_header(&b, sw, o, out_abs, tasks) != 0) { free(b.s); return -1; }
    ll_sb_puts(&b, "set -euo pipefail\n# relative paths in the sweep file are taken from here\ncd ");
    ll_sb_shell_quote(&b, cwd);
    ll_sb_puts(&b, "\nmkdir -p -- ");
    ll_sbuf sd = {0};
    ll_sb_printf(&sd, "%s/slurm", out_abs);
    ll_sb_shell_quote(&b, sd.s);
    free(sd.s);
    ll_sb_puts(&b, "\nexport LAYERLAW_QUIET=1\nexec ");
    ll_sb_shell_quote(&b, bin);
    ll_sb_puts(&b, " sweep ");
    ll_sb_shell_quote(&b, cfg_abs);
    ll_sb_puts(&b, " --out ");
    ll_sb_shell_quote(&b, out_abs);
    ll_sb_puts(&b, " --store ");
    ll_sb_shell_quote(&b, store_abs);
    ll_sb_printf(&b, " --journal delete --tasks %d --task \"$SLURM_ARRAY_TASK_ID\"", tasks);
    for (int i = 0; i < o->n_only; i++) {
        ll_sb_puts(&b, " --only ");
        ll_sb_shell_quote(&b, o->only[i]);
    }
    ll_sb_puts(&b, " --quiet\n");
    snprintf(path_out, cap, "%s/sweep.sbatch", o->out);
    int rc = ll_write_file_atomic(path_out, b.s, b.n);
    if (rc == 0) chmod(path_out, 0755);
    free(b.s);
    return rc;
}
