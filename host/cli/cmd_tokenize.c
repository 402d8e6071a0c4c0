/* placeholder until the tokenize subcommand lands */
#include "cli.h"
int cmd_tokenize(int argc, char **argv) { (void)argc; (void)argv; return cli_fail("'tokenize' is not implemented yet"); }
