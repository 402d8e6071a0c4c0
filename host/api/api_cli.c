/* ll_api_cli: the command line (host/cli/main.c) in this process, for
 * `python -m layerlaw` and layerlaw.run().  Only in build/liblayerlaw.so,
 * which links host/cli in. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include "api/layerlaw_api.h"
#include "core/ll_util.h"

int main(int argc, char **argv); /* host/cli/main.c */

int ll_api_cli(int argc, char **argv) {
    /* the CLI re-executes itself for libgomp's spin setting: not in a host process */
    setenv("LAYERLAW_NO_REEXEC", "1", 1);
    ll_set_error("%s", "");
    /* the library removes its temporary files on SIGINT/SIGTERM/SIGHUP by
     * installing handlers: give the host process its own back afterwards */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction old[3];
    for (int k = 0; k < 3; k++) sigaction(sigs[k], NULL, &old[k]);
    int rc = main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    for (int k = 0; k < 3; k++) sigaction(sigs[k], &old[k], NULL);
    return rc;
}
