/* Provenance: where a result came from.  Every law.json and every sweep
 * record carries the object ll_provenance() returns:
 *
 *   utc, layerlaw_version, git_commit, build_flags, argv, host,
 *   cpu {model, threads}, gpu {name, arch, memory_gib, devices,
 *   driver_cuda_version, runtime_cuda_version, nvidia_driver} or null,
 *   inputs [{path, kind: file|dir|missing, bytes, sha256, files: [...]}]
 *
 * Content hashes are SHA-256 (libsodium's crypto_hash_sha256).  A file is hashed once
 * and remembered by (absolute path, device, inode, size, mtime, ctime: a
 * file rewritten with its size and mtime put back is hashed again) in
 * ${LAYERLAW_CACHE:-~/.cache/layerlaw}/sha256.tsv, so a 70B checkpoint costs
 * its hashing time on the first run only.  A folder's digest is the SHA-256
 * of its `sha256sum` listing ("<hex>  <name>\n" for each regular file at its
 * top level, sorted by name; hidden files left out).  The cache may be shared
 * by concurrent processes: whole lines are appended with one write(2), and a
 * line that does not parse is ignored; a cache that is not a regular file
 * (a FIFO, a link) is not used. */
#ifndef LL_PROVENANCE_H
#define LL_PROVENANCE_H
#include <cJSON.h>

/* SHA-256 of a file, lower-case hex (65 bytes with the NUL).  0 or -1. */
int ll_sha256_file(const char *path, char hex[65]);
/* SHA-256 of a buffer. */
void ll_sha256_buf(const void *data, size_t n, char hex[65]);
/* As ll_sha256_file through the cache; *from_cache (may be NULL) says
 * whether the cache answered. */
int ll_sha256_file_cached(const char *path, char hex[65], int *from_cache);
/* {path, kind, bytes, sha256[, files]} for a file or a folder; a path that
 * does not exist gives kind "missing" (never NULL). */
cJSON *ll_hash_input(const char *path);
/* The provenance object (see above).  inputs may contain NULLs (skipped). */
cJSON *ll_provenance(int argc, char **argv, const char *const *inputs, int n_inputs);
/* The build's commit ("unknown" outside git) and flags. */
const char *ll_build_commit(void);
const char *ll_build_flags(void);
/* The cache file in use (static buffer). */
const char *ll_hash_cache_path(void);
#endif
