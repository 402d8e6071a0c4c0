/* Device out-of-memory messages and the test cap on device memory.
 *
 * Plain C (built with and without CUDA) so that the message is tested on
 * machines without a GPU.  The CUDA allocator (kernels/core/cuda_context.cu)
 * calls ll_oom_set_error() when cudaMalloc reports cudaErrorMemoryAllocation
 * or when the cap LAYERLAW_CUDA_MEM_LIMIT would be exceeded; the message is
 * one line:
 *   CUDA device 0: out of memory allocating 3.2 GiB for the statistics
 *   (E=33, d=4096); free 1.1 GiB of 80.0 GiB; try a smaller --batch-tokens /
 *   --batch-size
 * (without the line breaks). */
#ifndef LL_OOM_H
#define LL_OOM_H
#include <stddef.h>

/* The environment variable that caps the device memory this process may
 * allocate through the backend's allocator (bytes; suffixes K, M, G, T with
 * or without "iB" are powers of 1024).  For tests: it makes an out-of-memory
 * failure deterministic on any card. */
#define LL_CUDA_MEM_LIMIT_ENV "LAYERLAW_CUDA_MEM_LIMIT"

/* "512", "64K", "1.5G", "2GiB" -> bytes.  0 on success; -1 + error naming
 * the variable otherwise (empty, negative, unknown suffix, trailing text). */
int ll_parse_bytes(const char *s, size_t *out);

/* Human size: "16 bytes", "3.0 KiB", "1.5 MiB", "3.2 GiB". */
void ll_format_bytes(char *buf, size_t cap, double bytes);

/* Formats the one-line message into buf (NUL-terminated, truncated at cap).
 * what: what the allocation was for ("the statistics (E=33, d=4096)");
 * NULL or "" reads "device buffers".  limited: the figures are the
 * LAYERLAW_CUDA_MEM_LIMIT cap, not the card's.  The advice depends on what:
 * model weights must fit whole (smaller batches do not help), everything
 * else scales with the batch.  Returns the length snprintf would write. */
int ll_oom_format(char *buf, size_t cap, int device, size_t bytes, const char *what, size_t free_b, size_t total_b,
                  int limited);
/* ll_oom_format into ll_set_error(). */
void ll_oom_set_error(int device, size_t bytes, const char *what, size_t free_b, size_t total_b, int limited);

/* What the next device allocations made through the generic ops->alloc are
 * for (per thread; the model code labels its weight arena and workspace).
 * NULL clears.  ll_oom_label_get() returns "" when none is set. */
void ll_oom_label(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *ll_oom_label_get(void);
#endif
