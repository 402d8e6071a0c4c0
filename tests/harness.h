/* Minimal test harness: each TEST() registers itself at start-up; the runner
 * (tests/harness.c) forks one child per test so a crash fails only that test,
 * and ends with the line "N passed, N failed" that CI reads. */
#ifndef LL_HARNESS_H
#define LL_HARNESS_H
#include <math.h>
#include <stdio.h>

typedef void (*ll_test_fn)(void);
void ll_test_register(const char *name, const char *file, ll_test_fn fn);
void ll_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ll_test_failures(void);
/* Path of a test data file, rel = "data/<sub-path>": tests/data/<sub-path>
 * (the project's copy, tests/data/README.md), or $LAYERLAW_SHARED/data/<sub-path>
 * when that is set; returned in a static ring buffer. */
const char *ll_shared_path(const char *rel);
/* Path of the layerlaw binary (env LAYERLAW_BIN, default build/layerlaw). */
const char *ll_bin_path(void);
/* Fresh empty temporary directory for this test (removed by the runner). */
const char *ll_test_tmpdir(void);
/* Runs a shell command, returns its exit status (or -1); output captured to
 * *out (malloc'd, may be NULL) if out != NULL. */
int ll_run_cmd(const char *cmd, char **out);

#define TEST(name)                                                         \
    static void test_##name(void);                                         \
    __attribute__((constructor)) static void ll_reg_##name(void) {        \
        ll_test_register(#name, __FILE__, test_##name);                    \
    }                                                                      \
    static void test_##name(void)

#define CHECK(cond)                                                        \
    do { if (!(cond)) ll_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); } while (0)
#define CHECK_MSG(cond, ...)                                               \
    do { if (!(cond)) ll_test_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define REQUIRE(cond)                                                      \
    do { if (!(cond)) { ll_test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond); return; } } while (0)
#define REQUIRE_MSG(cond, ...)                                             \
    do { if (!(cond)) { ll_test_fail(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)
#define CHECK_INT(a, b)                                                    \
    do { long long _a = (a), _b = (b);                                     \
         if (_a != _b) ll_test_fail(__FILE__, __LINE__, "%s = %lld, expected %s = %lld", #a, _a, #b, _b); } while (0)
/* |a-b| <= tol */
#define CHECK_NEAR(a, b, tol)                                              \
    do { double _a = (a), _b = (b), _t = (tol);                            \
         if (!(fabs(_a - _b) <= _t)) ll_test_fail(__FILE__, __LINE__, "%s = %.12g, %s = %.12g, |diff| %.3g > %.3g", #a, _a, #b, _b, fabs(_a - _b), _t); } while (0)
/* |a-b| <= rtol*|b| */
#define CHECK_REL(a, b, rtol)                                              \
    do { double _a = (a), _b = (b), _t = (rtol);                           \
         double _r = fabs(_a - _b) / (fabs(_b) > 0 ? fabs(_b) : 1.0);      \
         if (!(_r <= _t)) ll_test_fail(__FILE__, __LINE__, "%s = %.12g, %s = %.12g, rel diff %.3g > %.3g", #a, _a, #b, _b, _r, _t); } while (0)
#endif
