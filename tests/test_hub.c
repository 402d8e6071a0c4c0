/* host/hub: hub ids, the cache layout (huggingface_hub's), offline resolution
 * from a cache built here.  Network behaviour is tested against a local hub
 * server in tests/python/test_hub.py. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "core/ll_util.h"
#include "hub/hub.h"

TEST(hub_spec_parse) {
    ll_hub_spec s;
    CHECK_INT(ll_hub_spec_parse("EleutherAI/pythia-160m", &s), 1);
    CHECK(!strcmp(s.repo, "EleutherAI/pythia-160m") && !strcmp(s.revision, "main") && !s.file[0]);
    CHECK_INT(ll_hub_spec_parse("EleutherAI/pythia-160m@step1000", &s), 1);
    CHECK(!strcmp(s.revision, "step1000") && !strcmp(s.org, "EleutherAI") && !strcmp(s.name, "pythia-160m"));
    CHECK_INT(ll_hub_spec_parse("bartowski/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_K_M.gguf@v1.0", &s), 1);
    CHECK(!strcmp(s.repo, "bartowski/SmolLM2-135M-Instruct-GGUF") && !strcmp(s.file, "SmolLM2-135M-Instruct-Q4_K_M.gguf") &&
          !strcmp(s.revision, "v1.0"));
    CHECK_INT(ll_hub_spec_parse("org/name@refs/pr/12", &s), 1);
    CHECK(!strcmp(s.revision, "refs/pr/12"));
    /* local meanings */
    CHECK_INT(ll_hub_spec_parse("./org/name", &s), 0);
    CHECK_INT(ll_hub_spec_parse("../org/name", &s), 0);
    CHECK_INT(ll_hub_spec_parse("/abs/org/name", &s), 0);
    CHECK_INT(ll_hub_spec_parse("~/models/x", &s), 0);
    CHECK_INT(ll_hub_spec_parse("gpt2", &s), 0);                  /* no organisation: a local name */
    CHECK_INT(ll_hub_spec_parse("a/b/c", &s), 0);                 /* three parts, not a .gguf */
    CHECK_INT(ll_hub_spec_parse("org/na--me", &s), 0);            /* not a hub name */
    CHECK_INT(ll_hub_spec_parse("org/.name", &s), 0);
    CHECK_INT(ll_hub_spec_parse("org/name/../x.gguf", &s), 0);
    CHECK_INT(ll_hub_spec_parse("configs/stories260K-hf", &s), 0); /* exists: the local path wins */
    /* a hub id with a bad revision: an error */
    CHECK_INT(ll_hub_spec_parse("org/name@", &s), -1);
    CHECK_INT(ll_hub_spec_parse("org/name@a..b", &s), -1);
    CHECK_INT(ll_hub_spec_parse("org/name@a b", &s), -1);
    CHECK(strstr(ll_last_error(), "not a revision") != NULL);
}

TEST(hub_cache_layout) {
    char b[4096];
    ll_hub_repo_folder("EleutherAI/pythia-160m", b, sizeof b);
    CHECK(!strcmp(b, "models--EleutherAI--pythia-160m"));
    ll_hub_blob_link("config.json", "abc", b, sizeof b);
    CHECK(!strcmp(b, "../../blobs/abc"));
    ll_hub_blob_link("sub/dir/model.gguf", "abc", b, sizeof b);
    CHECK(!strcmp(b, "../../../../blobs/abc"));
    /* the cache root, as huggingface_hub's constants compute it */
    char *save[4];
    const char *names[4] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"};
    for (int i = 0; i < 4; i++) save[i] = getenv(names[i]) ? ll_xstrdup(getenv(names[i])) : NULL;
    for (int i = 0; i < 4; i++) unsetenv(names[i]);
    setenv("XDG_CACHE_HOME", "/x", 1);
    CHECK(!strcmp(ll_hub_cache_dir(b, sizeof b), "/x/huggingface/hub"));
    setenv("HF_HOME", "/h", 1);
    CHECK(!strcmp(ll_hub_cache_dir(b, sizeof b), "/h/hub"));
    setenv("HF_HUB_CACHE", "/c", 1);
    CHECK(!strcmp(ll_hub_cache_dir(b, sizeof b), "/c"));
    for (int i = 0; i < 4; i++) {
        if (save[i]) setenv(names[i], save[i], 1);
        else unsetenv(names[i]);
        free(save[i]);
    }
}

static void put(const char *path, const char *text) {
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    *strrchr(d, '/') = 0;
    ll_mkdirs(d);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* A cache laid out as huggingface_hub writes it; resolved offline. */
TEST(hub_resolve_offline_from_cache) {
    char cache[1024], p[2048], q[2200];
    snprintf(cache, sizeof cache, "%s/hubcache", ll_test_tmpdir());
    const char *commit = "0123456789abcdef0123456789abcdef01234567";
    char *old = getenv("HF_HUB_CACHE") ? ll_xstrdup(getenv("HF_HUB_CACHE")) : NULL;
    setenv("HF_HUB_CACHE", cache, 1);
    setenv("HF_HUB_OFFLINE", "1", 1);
    snprintf(p, sizeof p, "%s/models--t-org--m/refs/main", cache);
    put(p, commit);
    snprintf(p, sizeof p, "%s/models--t-org--m/blobs/aaaa", cache);
    put(p, "{}");
    snprintf(p, sizeof p, "%s/models--t-org--m/blobs/bbbb", cache);
    put(p, "weights");
    snprintf(p, sizeof p, "%s/models--t-org--m/snapshots/%s", cache, commit);
    ll_mkdirs(p);
    snprintf(q, sizeof q, "%s/config.json", p);
    CHECK(symlink("../../blobs/aaaa", q) == 0);
    char *local = NULL;
    cJSON *prov = NULL;
    /* no weights cached: exit 1, naming what is missing */
    CHECK_INT(ll_model_path_resolve("t-org/m", LL_HUB_NEED_MODEL, &local, &prov), 1);
    CHECK(strstr(ll_last_error(), "weights") && strstr(ll_last_error(), "offline"));
    snprintf(q, sizeof q, "%s/model.safetensors", p);
    CHECK(symlink("../../blobs/bbbb", q) == 0);
    CHECK_INT(ll_hub_cached("t-org/m"), 1);
    CHECK_INT(ll_hub_cached("t-org/m@other"), 0);
    CHECK_INT(ll_hub_cached("./t-org/m"), -1);
    CHECK_INT(ll_model_path_resolve("t-org/m", LL_HUB_NEED_MODEL, &local, &prov), 0);
    CHECK(local && !strcmp(local, p));
    CHECK(prov && !strcmp(cJSON_GetObjectItem(prov, "commit")->valuestring, commit));
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(prov, "files")), 2);
    free(local);
    cJSON_Delete(prov);
    /* by commit: no ref needed */
    char spec[128];
    snprintf(spec, sizeof spec, "t-org/m@%s", commit);
    CHECK_INT(ll_model_path_resolve(spec, LL_HUB_NEED_MODEL, &local, NULL), 0);
    free(local);
    /* a revision not cached, offline: exit 1 naming it */
    CHECK_INT(ll_model_path_resolve("t-org/m@step9", LL_HUB_NEED_MODEL, &local, NULL), 1);
    CHECK(strstr(ll_last_error(), "t-org/m@step9") != NULL);
    /* tokenizer wanted, not cached */
    CHECK_INT(ll_model_path_resolve("t-org/m", LL_HUB_NEED_TOKENIZER, &local, NULL), 1);
    CHECK(strstr(ll_last_error(), "tokenizer.json") != NULL);
    /* a local path is returned as given */
    CHECK_INT(ll_model_path_resolve("configs/stories260K-hf", LL_HUB_NEED_MODEL, &local, &prov), 0);
    CHECK(!strcmp(local, "configs/stories260K-hf") && prov == NULL);
    free(local);
    unsetenv("HF_HUB_OFFLINE");
    if (old) setenv("HF_HUB_CACHE", old, 1);
    else unsetenv("HF_HUB_CACHE");
    free(old);
}
