"""Models by hub id (host/hub): against a local hub server (hub_server.py) and the
real huggingface_hub client, with no internet.

Checked: the cache written by either is used by the other (huggingface_hub
with local_files_only=True; layerlaw with the server gone), `run` on a hub id
equals `run` on the same folder byte for byte (layers.csv), only the files a
run needs are fetched, faults (cut connection → Range resume, 500 then
success, 429 + Retry-After, wrong bytes, 401/403/404, a stalled server, a
server that keeps failing, no network), two processes at once, provenance,
the token never written."""
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from hub_server import HubServer, Repo  # noqa: E402

hh = pytest.importorskip("huggingface_hub")

ROOT = pathlib.Path(__file__).resolve().parents[2]
GPT2 = ROOT / "tests/fixtures/models/gpt2"
SHARDED = ROOT / "tests/fixtures/models/gpt2_sharded"
RWKV_BIN = ROOT / "tests/fixtures/models/rwkv_bin"
STORIES = ROOT / "configs/stories260K-hf"
TOKEN = "hf_layerlawTestToken0123456789"


@pytest.fixture
def hub():
    s = HubServer([
        Repo("test-org/gpt2", GPT2, ("main", "step1", "step8")),
        Repo("test-org/gpt2-sharded", SHARDED),
        Repo("test-org/rwkv-bin", RWKV_BIN),
        Repo("test-org/stories260K", STORIES),
        Repo("test-org/gated", GPT2, gated_token=TOKEN),
    ]).start()
    yield s
    s.stop()


def env_for(tmp_path, hub=None, **kw):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    e.update(HF_HUB_CACHE=str(tmp_path / "cache"), HF_HOME=str(tmp_path / "hfhome"), LAYERLAW_QUIET="1",
             LAYERLAW_CACHE=str(tmp_path / "llcache"), LAYERLAW_HUB_RETRY_S="20", LAYERLAW_HUB_STALL_S="2")
    e["HF_ENDPOINT"] = hub.endpoint if hub else "http://127.0.0.1:9"  # port 9: nothing listens
    e.update({k: str(v) for k, v in kw.items()})
    return e


def ll(bin_, args, env, timeout=120):
    return subprocess.run([str(bin_)] + [str(a) for a in args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def run_model(bin_, model, out, env, extra=()):
    return ll(bin_, ["run", "--model", model, "--tokens", GPT2 / "tokens.jsonl" if "stories" not in str(model)
                     else STORIES / "alice-200x128.tok512.jsonl", "--out", out, "--quiet", "--threads", "1",
                     *extra], env)


def results(out):
    """The measured numbers of a run, as text: layers.csv's index..in_fit columns
    (not the timings, run id and model path) and law.json's fit."""
    out = pathlib.Path(out)
    rows = [",".join(line.split(",")[:7]) for line in (out / "layers.csv").read_text().splitlines()]
    assert rows[0] == "index,pr,log10_pr,rss,tss,rank,in_fit"
    return rows, json.loads((out / "law.json").read_text())["fit"]


def sha256(p):
    return hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest()


def snapshot(cache, repo, commit):
    return pathlib.Path(cache) / f"models--{repo.replace('/', '--')}" / "snapshots" / commit


# ---- interop with huggingface_hub -------------------------------------------

def test_run_on_hub_id_equals_run_on_folder_and_hf_reads_it(layerlaw_bin, hub, tmp_path):
    env = env_for(tmp_path, hub)
    ref = run_model(layerlaw_bin, GPT2, tmp_path / "ref", env)
    assert ref.returncode == 0, ref.stderr
    r = run_model(layerlaw_bin, "test-org/gpt2@step1", tmp_path / "hub", env)
    assert r.returncode == 0, r.stderr
    assert results(tmp_path / "hub") == results(tmp_path / "ref")
    b = json.loads((tmp_path / "hub/law.json").read_text())
    # only config.json and the weights were fetched: not hidden.npy, tokens.jsonl, generation_config.json
    got = sorted(p.split("/")[-1] for m, p, *_ in hub.log if m == "GET" and "/resolve/" in p)
    assert got == ["config.json"], got
    assert len(hub.requests("GET", r"^/lfs/")) == 1
    # huggingface_hub finds every file layerlaw fetched, with no network
    commit = hub.repos["test-org/gpt2"].commit
    cache = tmp_path / "cache"
    for f in ("config.json", "model.safetensors"):
        p = hh.hf_hub_download("test-org/gpt2", f, revision="step1", cache_dir=cache, local_files_only=True)
        assert pathlib.Path(p).read_bytes() == (GPT2 / f).read_bytes()
        assert os.readlink(p) == "../../blobs/" + (sha256(GPT2 / f) if f.endswith(".safetensors") else
                                                   hashlib.sha1(b"blob %d\0" % len((GPT2 / f).read_bytes()) +
                                                                (GPT2 / f).read_bytes()).hexdigest())
    snap = hh.snapshot_download("test-org/gpt2", revision="step1", cache_dir=cache, local_files_only=True)
    assert pathlib.Path(snap) == snapshot(cache, "test-org/gpt2", commit)
    assert (cache / "models--test-org--gpt2/refs/step1").read_text() == commit
    assert not list(cache.rglob("*.incomplete"))
    # provenance: hub id, revision, commit, each file's SHA-256
    hp = b["provenance"]["hub"]
    assert hp["id"] == "test-org/gpt2" and hp["revision"] == "step1" and hp["commit"] == commit
    files = {f["name"]: f for f in hp["files"]}
    assert set(files) == {"config.json", "model.safetensors"}
    for n, f in files.items():
        assert f["sha256"] == sha256(GPT2 / n) and f["verified"] == "download"
    assert b["model"]["dir"] == "test-org/gpt2" and b["model"]["revision"] == "step1"
    # a second run: everything from the cache (one API call, no file request)
    n0 = len(hub.log)
    r2 = run_model(layerlaw_bin, "test-org/gpt2@step1", tmp_path / "hub2", env)
    assert r2.returncode == 0, r2.stderr
    assert [e[1] for e in hub.log[n0:]] == ["/api/models/test-org/gpt2/revision/step1"]
    assert results(tmp_path / "hub2") == results(tmp_path / "ref")


def test_cache_written_by_huggingface_hub_used_with_server_gone(layerlaw_bin, hub, tmp_path):
    cache = tmp_path / "cache"
    hh.snapshot_download("test-org/gpt2-sharded", cache_dir=cache, endpoint=hub.endpoint,
                         allow_patterns=["config.json", "*.safetensors", "*.index.json"])
    hh.snapshot_download("test-org/rwkv-bin", cache_dir=cache, endpoint=hub.endpoint,
                         allow_patterns=["config.json", "pytorch_model.bin"])
    hub.stop()
    env = env_for(tmp_path, None)  # the endpoint refuses connections
    for name, folder in (("test-org/gpt2-sharded", SHARDED), ("test-org/rwkv-bin", RWKV_BIN)):
        ref = ll(layerlaw_bin, ["run", "--model", folder, "--tokens", folder / "tokens.jsonl", "--out",
                                tmp_path / ("ref-" + folder.name), "--quiet", "--threads", "1"], env)
        assert ref.returncode == 0, ref.stderr
        for mode, e in (("down", env), ("offline", dict(env, HF_HUB_OFFLINE="1"))):
            out = tmp_path / f"{mode}-{folder.name}"
            r = ll(layerlaw_bin, ["run", "--model", name, "--tokens", folder / "tokens.jsonl", "--out", out,
                                  "--quiet", "--threads", "1"], e)
            assert r.returncode == 0, (mode, r.stderr)
            assert results(out) == results(tmp_path / ("ref-" + folder.name))
            hp = json.loads((out / "law.json").read_text())["provenance"]["hub"]
            for f in hp["files"]:
                assert f["sha256"] == sha256(folder / f["name"]), f
        # --offline flag too
        r = ll(layerlaw_bin, ["run", "--offline", "--model", name, "--tokens", folder / "tokens.jsonl", "--out",
                              tmp_path / ("flag-" + folder.name), "--quiet"], env)
        assert r.returncode == 0, r.stderr


def test_sharded_download_and_tokenizer(layerlaw_bin, hub, tmp_path):
    env = env_for(tmp_path, hub, LAYERLAW_HUB_JOBS=3)
    r = ll(layerlaw_bin, ["run", "--model", "test-org/gpt2-sharded", "--tokens", SHARDED / "tokens.jsonl",
                          "--out", tmp_path / "s", "--quiet", "--threads", "1"], env)
    assert r.returncode == 0, r.stderr
    assert len(hub.requests("GET", r"^/lfs/")) == 4  # the four shards, once each
    ref = ll(layerlaw_bin, ["run", "--model", SHARDED, "--tokens", SHARDED / "tokens.jsonl",
                            "--out", tmp_path / "sref", "--quiet", "--threads", "1"], env)
    assert results(tmp_path / "s") == results(tmp_path / "sref")
    # raw text: the model's tokenizer.json is fetched too; tokenize by hub id
    d = ll(layerlaw_bin, ["run", "--model", "test-org/stories260K", "--data", STORIES / "alice-200.jsonl",
                          "--docs", 20, "--out", tmp_path / "st", "--quiet", "--threads", "1"], env)
    assert d.returncode == 0, d.stderr
    # a hub tokenizer for a local model: recorded as provenance.hub_tokenizer
    d2 = ll(layerlaw_bin, ["run", "--model", STORIES, "--tokenizer", "test-org/stories260K", "--data",
                           STORIES / "alice-200.jsonl", "--docs", 20, "--out", tmp_path / "st2", "--quiet", "--threads", 1],
            env)
    assert d2.returncode == 0, d2.stderr
    assert results(tmp_path / "st2") == results(tmp_path / "st")
    ht = json.loads((tmp_path / "st2/law.json").read_text())["provenance"]["hub_tokenizer"]
    assert ht["id"] == "test-org/stories260K" and [f["name"] for f in ht["files"]] == ["tokenizer.json"]
    assert ht["files"][0]["sha256"] == sha256(STORIES / "tokenizer.json")
    t1 = ll(layerlaw_bin, ["tokenize", "--tokenizer", "test-org/stories260K", "--text", STORIES / "alice-200.jsonl",
                           "--docs", 5], env)
    t2 = ll(layerlaw_bin, ["tokenize", "--tokenizer", STORIES, "--text", STORIES / "alice-200.jsonl", "--docs", 5], env)
    assert t1.returncode == 0 and t1.stdout == t2.stdout and t1.stdout.count("\n") == 5
    names = sorted({p.split("/")[-1] for m, p, *_ in hub.log if m == "GET" and "stories260K/resolve" in p})
    assert names == ["config.json", "tokenizer.json"], names  # tokenizer_config.json, the corpora: never


def test_bench_on_hub_ids(layerlaw_bin, hub, tmp_path):
    env = env_for(tmp_path, hub)
    r = ll(layerlaw_bin, ["bench", "--model", "test-org/gpt2,test-org/gpt2-sharded", "--tokens", SHARDED / "tokens.jsonl",
                          "-r", 1, "--warmup", 0, "--no-peaks", "--threads", 1, "-o", "json"], env)
    assert r.returncode == 0, r.stderr
    tests = json.loads(r.stdout)["tests"]
    want = [str(snapshot(tmp_path / "cache", k, hub.repos[k].commit)) for k in ("test-org/gpt2", "test-org/gpt2-sharded")]
    assert [t["model"] for t in tests] == want
    bad = ll(layerlaw_bin, ["bench", "--model", "test-org/nope", "--tokens", GPT2 / "tokens.jsonl"], env)
    assert bad.returncode == 2 and "no model repository test-org/nope" in bad.stderr


def test_local_path_wins_and_dot_slash_forces_local(layerlaw_bin, hub, tmp_path):
    env = env_for(tmp_path, hub)
    local = tmp_path / "test-org" / "gpt2"
    local.mkdir(parents=True)
    for f in ("config.json", "model.safetensors"):
        (local / f).write_bytes((GPT2 / f).read_bytes())
    r = subprocess.run([str(layerlaw_bin), "run", "--model", "test-org/gpt2", "--tokens", str(GPT2 / "tokens.jsonl"),
                        "--out", "o", "--quiet"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not hub.log  # the folder won: no request
    r = subprocess.run([str(layerlaw_bin), "run", "--model", "./test-org/nothing", "--tokens",
                        str(GPT2 / "tokens.jsonl"), "--out", "o2", "--quiet"], env=env, cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 2 and not hub.log and "test-org/nothing" in r.stderr


def test_gguf_file_of_a_repo(layerlaw_bin, hub, tmp_path):
    src = ROOT / "tests/fixtures/gguf/qwen2.gguf"
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / src.name).write_bytes(src.read_bytes())
    (folder / "other.gguf").write_bytes(b"not fetched")
    hub.add(Repo("test-org/gguf", folder))
    env = env_for(tmp_path, hub)
    tok = tmp_path / "t.jsonl"
    tok.write_text("[1, 2, 3, 4, 5, 6]\n[7, 8, 9, 10]\n")
    a = ll(layerlaw_bin, ["run", "--model", f"test-org/gguf/{src.name}@main", "--tokens", tok, "--out",
                          tmp_path / "a", "--quiet"], env)
    b = ll(layerlaw_bin, ["run", "--model", src, "--tokens", tok, "--out", tmp_path / "b", "--quiet"], env)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert results(tmp_path / "a") == results(tmp_path / "b")
    assert json.loads((tmp_path / "a/law.json").read_text())["provenance"]["hub"]["file"] == "qwen2.gguf"
    assert [p for m, p, *_ in hub.log if "other.gguf" in p] == []


# ---- errors -------------------------------------------------------------------

def test_errors_one_line_and_exit_codes(layerlaw_bin, hub, tmp_path):
    env = env_for(tmp_path, hub)
    cases = [
        ("test-org/no-such-model", 2, "no model repository test-org/no-such-model"),
        ("test-org/gpt2@no-such-branch", 2, "no revision 'no-such-branch'"),
        ("test-org/gated", 2, "is gated or private: accept its licence on the hub and set HF_TOKEN"),
        ("test-org/gpt2/missing.gguf", 2, "has no file 'missing.gguf'"),
        ("test-org/gpt2@bad..rev", 2, "not a revision"),
    ]
    for model, code, text in cases:
        r = run_model(layerlaw_bin, model, tmp_path / "o", env)
        assert r.returncode == code, (model, r.returncode, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert any(text in x for x in lines), (model, r.stderr)
        assert not (tmp_path / "o").exists()
    # a wrong token: still gated, and the token is never printed
    r = run_model(layerlaw_bin, "test-org/gated", tmp_path / "o", dict(env, HF_TOKEN="hf_wrong_secret_value"))
    assert r.returncode == 2 and "gated or private" in r.stderr and "hf_wrong_secret_value" not in r.stderr
    # no network and nothing cached: exit 1
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", env_for(tmp_path, None))
    assert r.returncode == 1 and "no network" in r.stderr, r.stderr
    # offline, nothing cached: exit 1, names the repository; a file missing in the cache is named
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", dict(env, HF_HUB_OFFLINE="1"))
    assert r.returncode == 1 and "not in the hub cache" in r.stderr, r.stderr
    hh.hf_hub_download("test-org/gpt2", "config.json", cache_dir=tmp_path / "cache", endpoint=hub.endpoint)
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", dict(env, HF_HUB_OFFLINE="1"))
    assert r.returncode == 1 and "weights" in r.stderr and "offline" in r.stderr, r.stderr
    for f in (tmp_path / "cache").rglob("*"):
        assert not f.name.endswith(".incomplete")


def test_token_sent_to_the_hub_only_and_never_written(layerlaw_bin, hub, tmp_path):
    (tmp_path / "hfhome").mkdir()
    (tmp_path / "hfhome/token").write_text(TOKEN + "\n")  # $HF_HOME/token, as `hf auth login` writes it
    env = env_for(tmp_path, hub)
    r = run_model(layerlaw_bin, "test-org/gated", tmp_path / "o", env)
    assert r.returncode == 0, r.stderr
    api = [e for e in hub.log if e[1].startswith(("/api/", "/test-org/"))]
    assert api and all(e[3] for e in api)                     # the bearer token went to the endpoint
    assert all(not e[3] for e in hub.requests("GET", "^/lfs/"))  # not to the host a redirect named
    for f in (tmp_path / "o").iterdir():
        assert TOKEN not in f.read_text(errors="replace")
    assert TOKEN not in r.stderr + r.stdout


# ---- faults -----------------------------------------------------------------------

def lfs(m, p):
    return m == "GET" and p.startswith("/lfs/")


def test_cut_connection_resumes_with_range(layerlaw_bin, hub, tmp_path):
    hub.faults.append([lfs, "cut:50000"])
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", env_for(tmp_path, hub))
    assert r.returncode == 0, r.stderr
    gets = hub.requests("GET", "^/lfs/")
    assert len(gets) == 2 and gets[0][2] is None and gets[1][2] == "bytes=50000-" and gets[1][4] == 206, gets
    assert json.loads((tmp_path / "o/law.json").read_text())["provenance"]["hub"]["files"][1]["sha256"] == \
        sha256(GPT2 / "model.safetensors")


def test_500_then_success_and_429_retry_after(layerlaw_bin, hub, tmp_path):
    hub.faults.append([lambda m, p: "/revision/" in p, "500"])
    hub.faults.append([lfs, "429:2"])
    t0 = time.time()
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", env_for(tmp_path, hub))
    assert r.returncode == 0, r.stderr
    assert time.time() - t0 >= 2.0  # waited as Retry-After said
    assert [e[4] for e in hub.requests("GET", "/revision/")] == [500, 200]
    assert [e[4] for e in hub.requests("GET", "^/lfs/")] == [429, 200]


def test_server_that_keeps_failing_is_bounded(layerlaw_bin, hub, tmp_path):
    for _ in range(50):
        hub.faults.append([lfs, "503"])
    t0 = time.time()
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", env_for(tmp_path, hub, LAYERLAW_HUB_RETRY_S=4))
    assert r.returncode == 1 and "keeps failing" in r.stderr, r.stderr
    assert time.time() - t0 < 30
    blobs = tmp_path / "cache/models--test-org--gpt2/blobs"
    assert not (blobs / sha256(GPT2 / "model.safetensors")).exists()


def test_wrong_bytes_publish_nothing(layerlaw_bin, hub, tmp_path):
    hub.faults.append([lfs, "wrong"])
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", env_for(tmp_path, hub))
    assert r.returncode == 1 and "do not match" in r.stderr, r.stderr
    repo = tmp_path / "cache/models--test-org--gpt2"
    assert not (repo / "blobs" / sha256(GPT2 / "model.safetensors")).exists()
    assert not list(repo.rglob("*.incomplete"))
    assert not (repo / "snapshots" / hub.repos["test-org/gpt2"].commit / "model.safetensors").exists()
    # the next try fetches it whole
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", env_for(tmp_path, hub))
    assert r.returncode == 0, r.stderr


def test_stalled_server_is_cut_and_resumed(layerlaw_bin, hub, tmp_path):
    hub.faults.append([lfs, "stall:40"])  # the server would wait 40 s
    t0 = time.time()
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", env_for(tmp_path, hub, LAYERLAW_HUB_STALL_S=1))
    assert r.returncode == 0, r.stderr
    gets = hub.requests("GET", "^/lfs/")
    assert len(gets) == 2 and gets[1][2] and gets[1][2].startswith("bytes="), gets
    assert time.time() - t0 < 25  # cut long before (curl measures speed over a window of ~5 s)


def test_401_403_404_on_files(layerlaw_bin, hub, tmp_path):
    for code, exit_, text in (("401", 2, "gated or private"), ("403", 2, "gated or private"),
                              ("404", 2, "has no file")):
        hub.faults.append([lambda m, p: m == "HEAD" and p.endswith("/model.safetensors"), code])
        r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / f"o{code}", env_for(tmp_path, hub))
        assert r.returncode == exit_ and text in r.stderr, (code, r.stderr)


def test_write_failure_exit_1_then_resume(layerlaw_bin, hub, tmp_path):
    """A write that fails (as on a full disk: here a file-size limit, EFBIG) is
    exit 1 with one line; nothing is published; the next run resumes the
    partial file with a Range request."""
    import resource
    import signal

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    env = env_for(tmp_path, hub)
    r = subprocess.run([str(layerlaw_bin), "run", "--model", "test-org/gpt2", "--tokens", str(GPT2 / "tokens.jsonl"),
                        "--out", str(tmp_path / "o"), "--quiet"], env=env, capture_output=True, text=True,
                       preexec_fn=limit, timeout=120)
    assert r.returncode == 1 and "cannot write model.safetensors into the hub cache" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    blob = tmp_path / "cache/models--test-org--gpt2/blobs" / sha256(GPT2 / "model.safetensors")
    assert not blob.exists() and pathlib.Path(str(blob) + ".incomplete").stat().st_size == 100_000
    assert not (tmp_path / "o").exists()
    r = run_model(layerlaw_bin, "test-org/gpt2", tmp_path / "o", env)
    assert r.returncode == 0, r.stderr
    assert hub.requests("GET", "^/lfs/")[-1][2] == "bytes=100000-"
    assert sha256(blob) == sha256(GPT2 / "model.safetensors")


def test_two_processes_fetch_one_model_once(layerlaw_bin, hub, tmp_path):
    env = env_for(tmp_path, hub)
    hub.faults.append([lfs, "stall:1"])  # slow the first transfer so that the runs overlap
    ps = [subprocess.Popen([str(layerlaw_bin), "run", "--model", "test-org/gpt2-sharded", "--tokens",
                            str(SHARDED / "tokens.jsonl"), "--out", str(tmp_path / f"o{i}"), "--quiet",
                            "--threads", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for i in range(3)]
    outs = [p.communicate(timeout=120) for p in ps]
    assert all(p.returncode == 0 for p in ps), outs
    # each shard's bytes were fetched by one process only (a resume after the stall may add a Range request)
    full = [e for e in hub.requests("GET", "^/lfs/") if e[2] is None]
    assert len(full) == 4, hub.requests("GET", "^/lfs/")
    a = results(tmp_path / "o0")
    assert all(results(tmp_path / f"o{i}") == a for i in (1, 2))


def test_ranks_of_one_mpirun_fetch_each_file_once(layerlaw_bin, hub, tmp_path):
    import shutil
    if not shutil.which("mpirun"):
        pytest.skip("no mpirun")
    # as tests/test_util.h's MPIRUN: Open MPI's own allocations are not this test's leaks
    env = env_for(tmp_path, hub, OMPI_ALLOW_RUN_AS_ROOT=1, OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1, OMPI_MCA_btl="self,vader",
                  ASAN_OPTIONS="detect_leaks=0")
    def mpirun(model, out):
        return subprocess.run(["mpirun", "--oversubscribe", "-np", "3", str(layerlaw_bin), "run", "--model", str(model),
                               "--tokens", str(SHARDED / "tokens.jsonl"), "--out", str(out), "--quiet", "--threads",
                               "1"], env=env, capture_output=True, text=True, timeout=300)
    r = mpirun("test-org/gpt2-sharded", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert len(hub.requests("GET", "^/lfs/")) == 4 and len(hub.requests("HEAD")) == 6  # index, config, 4 shards
    ref = mpirun(SHARDED, tmp_path / "ref")
    assert ref.returncode == 0 and results(tmp_path / "o") == results(tmp_path / "ref")


# ---- sweeps -----------------------------------------------------------------------

def test_sweep_hub_entry_with_revisions(layerlaw_bin, hub, tmp_path):
    sw = tmp_path / "s.yaml"
    sw.write_text(f"""name: hubsweep
out: {tmp_path / 'out'}
models:
  - {{hub: test-org/gpt2, revisions: [main, step1, step8]}}
data:
  tokens: {GPT2 / 'tokens.jsonl'}
options: {{threads: 1}}
""")
    env = env_for(tmp_path, hub)
    d = ll(layerlaw_bin, ["sweep", sw, "--dry-run"], env)
    assert d.returncode == 0 and d.stdout.count("fetched from the hub") == 3 and not hub.log, d.stdout
    off = ll(layerlaw_bin, ["sweep", sw, "--dry-run", "--offline"], env)
    assert off.stdout.count("missing: test-org/gpt2@") == 3, off.stdout
    r = ll(layerlaw_bin, ["sweep", sw], env)
    assert r.returncode == 0, r.stderr
    laws = sorted((tmp_path / "out/points").glob("*/law.json"))
    assert len(laws) == 3
    revs = sorted(json.loads(p.read_text())["model"]["revision"] for p in laws)
    assert revs == ["main", "step1", "step8"]
    assert len(hub.requests("GET", "^/lfs/")) == 1  # one commit: its weights once
    # plot groups the revisions of one hub id into one series by step
    import shutil
    if shutil.which("gnuplot"):
        p = ll(layerlaw_bin, ["plot", tmp_path / "out", "--out", tmp_path / "fig", "--figures", "steps"], env)
        assert p.returncode == 0, p.stderr
        rows = [r.split(",") for r in (tmp_path / "fig/steps.csv").read_text().splitlines()[1:]]
        pr = [r for r in rows if r[2] == "gpt2: PR per layer by training step"]
        assert pr and {r[3] for r in pr} == {"step 1", "step 8"}  # main has no step: not in the figure


def test_transformers_loads_what_layerlaw_fetched(layerlaw_bin, hub, tmp_path):
    """transformers (from_pretrained, local_files_only=True) finds the model and
    tokenizer layerlaw fetched, and its hidden states are the fixture's."""
    transformers = pytest.importorskip("transformers")
    np = pytest.importorskip("numpy")
    env = env_for(tmp_path, hub)
    r = ll(layerlaw_bin, ["run", "--model", "test-org/stories260K", "--data", STORIES / "alice-200.jsonl", "--docs", 5,
                          "--out", tmp_path / "o", "--quiet", "--threads", 1], env)
    assert r.returncode == 0, r.stderr
    r = run_model(layerlaw_bin, "test-org/gpt2@step1", tmp_path / "g", env)
    assert r.returncode == 0, r.stderr
    cache = str(tmp_path / "cache")
    tok = transformers.AutoTokenizer.from_pretrained("test-org/stories260K", cache_dir=cache, local_files_only=True)
    ref = transformers.AutoTokenizer.from_pretrained(str(STORIES), local_files_only=True)
    text = "Alice was beginning to get very tired of sitting by her sister on the bank."
    assert tok(text)["input_ids"] == ref(text)["input_ids"]
    import torch
    m = transformers.AutoModel.from_pretrained("test-org/gpt2", revision="step1", cache_dir=cache, local_files_only=True)
    ids = [json.loads(line) for line in (GPT2 / "tokens.jsonl").read_text().splitlines()][0]
    with torch.no_grad():
        hs = m(torch.tensor([ids]), output_hidden_states=True).hidden_states
    want = np.load(GPT2 / "hidden.npy")  # HF's output_hidden_states on the fixture's first sequences
    got = np.stack([h[0].numpy() for h in hs], axis=1)  # (T, E, d)
    assert np.allclose(got, want[:len(ids)], rtol=0, atol=1e-5), float(np.abs(got - want[:len(ids)]).max())
