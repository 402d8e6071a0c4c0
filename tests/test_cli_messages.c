/* Messages of the command line (issue 22, item 6): every list a message
 * names comes from its table; a near miss gets "did you mean"; every bad
 * value names its option; every subcommand answers --help. */
#include "harness.h"
#include "core/ll_util.h"
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
    char buf[256];
    CHECK(!strcmp(ll_not_one_of(buf, sizeof buf, "nxt", pos, 4),
                  "'nxt' is not one of next, current, previous, next-next (did you mean next?)"));
    CHECK(!strcmp(ll_not_one_of(buf, sizeof buf, "zzz", pos, 2), "'zzz' is not one of next, current"));
    /* a short buffer is cut, never overrun */
    char small[8];
    ll_not_one_of(small, sizeof small, "nxt", pos, 4);
    CHECK_INT(strlen(small), 7);
}
