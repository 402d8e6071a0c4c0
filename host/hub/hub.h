/* Models by name: Hugging Face hub ids and huggingface_hub's cache.
 *
 * The one place where a model or tokenizer name given by a user (`--model`,
 * `--tokenizer`, a sweep's `hub:`) becomes a local path is
 * ll_model_path_resolve.  A name is a hub id when it has the shape
 *
 *     ORG/NAME[@REVISION]                a model repository (its folder)
 *     ORG/NAME/FILE.gguf[@REVISION]      one GGUF file of a repository
 *
 * (REVISION: a branch, a tag or a 40-hex commit; default main) and no local
 * file or folder of that name exists: a local path that exists always wins,
 * and a name that starts with `/`, `./`, `../` or `~` is always local.
 *
 * The cache is huggingface_hub's, byte for byte in layout, so that what
 * either downloads the other uses:
 *
 *   $HF_HUB_CACHE | $HUGGINGFACE_HUB_CACHE | $HF_HOME/hub |
 *   $XDG_CACHE_HOME/huggingface/hub | ~/.cache/huggingface/hub
 *     models--ORG--NAME/blobs/<etag>                 the bytes (etag: the LFS SHA-256, else the git blob id)
 *     models--ORG--NAME/snapshots/<commit>/<file>    relative symlinks to ../../blobs/<etag>
 *     models--ORG--NAME/refs/<revision>              the commit a branch/tag resolved to
 *   .locks/models--ORG--NAME/<etag>.lock             flock(2), as huggingface_hub's filelock
 *
 * Network: $HF_ENDPOINT (default https://huggingface.co), the bearer token
 * $HF_TOKEN or the file $HF_TOKEN_PATH | $HF_HOME/token (never written
 * anywhere), $HF_HUB_OFFLINE=1 or ll_hub_set_offline (cache only),
 * $HF_HUB_DISABLE_PROGRESS_BARS.  Knobs for tests and slow links:
 * $LAYERLAW_HUB_RETRY_S (how long transient failures are retried, default
 * 120), $LAYERLAW_HUB_STALL_S (a transfer with no byte for this long is cut
 * and resumed, default 30), $LAYERLAW_HUB_JOBS (files fetched at once,
 * default 4).  docs/hub.md has the whole story. */
#ifndef LL_HUB_H
#define LL_HUB_H
#include <stddef.h>
struct cJSON;

typedef struct {
    char org[100], name[100];
    char repo[200];      /* ORG/NAME */
    char file[512];      /* FILE.gguf inside the repository, "" for the model folder */
    char revision[256];  /* as asked; "main" when not given */
} ll_hub_spec;

/* 1: a hub id (no local path of that name exists), 0: a local path,
 * -1: a hub id with a malformed revision (error set). */
int ll_hub_spec_parse(const char *spec, ll_hub_spec *out);
/* The cache root as huggingface_hub computes it (see above). */
const char *ll_hub_cache_dir(char *buf, size_t cap);
/* "models--ORG--NAME" */
void ll_hub_repo_folder(const char *repo, char *buf, size_t cap);
/* The symlink target of snapshots/COMMIT/FILE: "../../blobs/ETAG", one
 * more "../" per folder in FILE. */
void ll_hub_blob_link(const char *file, const char *etag, char *buf, size_t cap);
/* Cache only (--offline), on top of $HF_HUB_OFFLINE. */
void ll_hub_set_offline(int on);
int ll_hub_offline(void);

enum { LL_HUB_NEED_MODEL = 1, LL_HUB_NEED_TOKENIZER = 2 };
/* A model or tokenizer name → a local path (*local, malloc'd; the name
 * itself for a local path).  Hub ids are looked up in the cache and, unless
 * offline, resolved and fetched: config.json and the weights for
 * LL_HUB_NEED_MODEL (the safetensors shards the index names, else
 * model.safetensors, else pytorch_model*.bin), tokenizer.json for
 * LL_HUB_NEED_TOKENIZER; a GGUF name fetches that file only.  *prov (may be
 * NULL; NULL for a local path) receives {id, revision, commit, file,
 * endpoint, files: [{name, size, sha256, verified}]}.
 * Returns 0, 1 (runtime: no network, disk full, a server that keeps
 * failing, bytes that do not match) or 2 (bad input: unknown repository,
 * revision or file, gated or private), with one error line set. */
int ll_model_path_resolve(const char *spec, int need, char **local, struct cJSON **prov);
/* 1: a hub id whose snapshot (config.json, or its GGUF file) is in the
 * cache, 0: a hub id not cached, -1: not a hub id.  No network. */
int ll_hub_cached(const char *spec);
/* law.json for a hub run: extra.model.dir becomes the hub id (plus
 * revision, commit, snapshot), extra.provenance gets "hub": prov and
 * "hub_tokenizer": tok_prov.  Either may be NULL. */
void ll_hub_annotate(struct cJSON *extra, const struct cJSON *prov, const struct cJSON *tok_prov);
#endif
