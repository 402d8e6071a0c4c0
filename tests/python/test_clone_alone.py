"""Nothing a user runs points outside the repository (issue 26).

1. README.md, docs/ and configs/ name no path outside the repository: no `../`
   that leaves it (from the file's folder and from the root, where commands
   run), no absolute path of the machines this was written on (/work/...),
   no `~/models` or `~/data` (folders a clone does not have; a hub id names a
   model instead).  `~/.cache/...` (caches layerlaw creates) is fine.
2. Every shipped sweep, run with --dry-run in a copy of the repository's
   files alone (no ../shared, an empty HOME and hub cache), lists every point as
   resolvable: a local model, data, token and tokenizer path that exists in the
   copy, or a hub id to fetch.  Offline (--offline), only hub points may be
   missing, and the sweep file must say so."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEXT_EXT = {".md", ".yaml", ".yml", ".json", ".txt", ".sbatch", ".sh", ".py", ".csv", ""}

UP = re.compile(r"(?<![\w/.~$-])((?:\.\./)+[\w.{}@-][\w./{}@-]*)")


def up_outside(m, line, folder):
    """A ../ path leaves the repository: from the root (where commands run), or,
    for a Markdown link target, from the file's folder."""
    link = line[:m.start()].endswith("](")
    return outside(m.group(1), folder if link else ROOT)
ABS = re.compile(r"(?<![\w.])(/work/[\w./-]*)")
HOME_DIRS = re.compile(r"(?<![\w/])(~/(?:models|data)\b[\w./{}-]*)")


def shipped_text_files():
    files = [ROOT / "README.md"]
    for top in ("docs", "configs"):
        for p in sorted((ROOT / top).rglob("*")):
            if p.is_file() and p.suffix in TEXT_EXT and p.stat().st_size < 4 << 20:
                files.append(p)
    return files


def outside(target, base):
    t = os.path.normpath(os.path.join(base, target))
    return os.path.relpath(t, ROOT).startswith("..")


def test_docs_and_configs_name_no_path_outside_the_repository():
    bad = []
    for f in shipped_text_files():
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        rel = f.relative_to(ROOT)
        for n, line in enumerate(text.splitlines(), 1):
            for m in UP.finditer(line):
                if up_outside(m, line, f.parent):
                    bad.append(f"{rel}:{n}: {m.group(1)}")
            for rx in (ABS, HOME_DIRS):
                for m in rx.finditer(line):
                    bad.append(f"{rel}:{n}: {m.group(1)}")
    assert not bad, "paths outside the repository:\n" + "\n".join(bad)


def test_the_check_itself_catches_what_it_should(tmp_path):
    # the patterns above on lines that must fail and lines that must pass
    lines_bad = ["--tokenizer ../shared/data/tokenizers/gpt2", "[x](../../outside.md)", "data: /work/shared/data/x.txt",
                 "--model ~/models/pythia-160m", "  data: ~/data/bookcorpus.jsonl.gz"]
    lines_ok = ["see [the README](../README.md)", "tests/data/../data/corpora", "cache in ~/.cache/layerlaw", "--model EleutherAI/pythia-160m",
                "tests/data/tokenizers/gpt2", "a/b/../c"]
    docs = ROOT / "docs"

    def flagged(line):
        return (any(up_outside(m, line, docs) for m in UP.finditer(line))
                or ABS.search(line) or HOME_DIRS.search(line))
    assert all(flagged(x) for x in lines_bad)
    assert not any(flagged(x) for x in lines_ok)


def repo_copy(dst):
    """The repository's own files (tracked and new, not ignored) into dst."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                             check=True).stdout
        names = [x for x in out.decode().split("\0") if x]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(ROOT)) for top in ("configs", "data", "tests") for p in (ROOT / top).rglob("*")
                 if p.is_file()]
    for n in names:
        src = ROOT / n
        if not src.is_file():
            continue
        d = dst / n
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, d)
    return dst


POINT = re.compile(r"^\d+\s+[0-9a-f]{16}\s+(\S+)\s+(\S+)\s.*?\s{2}(done|todo|failed|missing)(?:: (.*)|( \(fetched from the hub\)))?$")


def dry_run(bin_, sweep, clone, env, *extra):
    r = subprocess.run([str(bin_), "sweep", str(sweep), "--dry-run", *extra], cwd=clone, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (sweep.name, r.stderr)
    pts = [POINT.match(x) for x in r.stdout.splitlines()[2:-1]]
    assert pts and all(pts), (sweep.name, r.stdout)
    return pts


def test_every_shipped_sweep_resolves_in_a_clone_alone(layerlaw_bin, tmp_path):
    clone = repo_copy(tmp_path / "clone")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "LAYERLAW_SHARED"))}
    env.update(HOME=str(home), HF_HUB_CACHE=str(tmp_path / "hubcache"), HF_ENDPOINT="http://127.0.0.1:9",
               LAYERLAW_CACHE=str(tmp_path / "llcache"), LAYERLAW_QUIET="1")
    sweeps = sorted((clone / "configs/sweeps").glob("*.yaml"))
    assert len(sweeps) >= 8
    for sw in sweeps:
        text = sw.read_text()
        body = "\n".join(line.split("#")[0] for line in text.splitlines())
        # every file a point reads is in the copy (or a tokenizer named by hub id)
        for key, val in re.findall(r"(?<![\w-])(data|tokens|tokenizer|path|synthetic):[ \t]*\"?([^\s,}\"]+)", body):
            if val in ("null", "~"):
                continue
            p = clone / val.replace("{rev}", "")
            is_hub = key == "tokenizer" and re.fullmatch(r"[\w.-]+/[\w.-]+(@\S+)?", val) and not p.exists()
            assert p.exists() or is_hub, f"{sw.name}: {key}: {val} is not in the repository"
        pts = dry_run(layerlaw_bin, sw, clone, env)
        for m in pts:
            model, kind, status, where, fetch = m.groups()
            assert status != "missing", f"{sw.name}: {model} missing: {where}"
            assert (kind == "hub") == bool(fetch), (sw.name, m.group(0))
        # offline: a hub model not cached is missing, and the file says so
        off = dry_run(layerlaw_bin, sw, clone, env, "--offline")
        missing = [m for m in off if m.group(3) == "missing"]
        assert all(m.group(2) == "hub" for m in missing), (sw.name, [m.group(0) for m in missing])
        if missing:
            comments = " ".join(x.split("#", 1)[1] for x in text.splitlines() if "#" in x)
            assert re.search(r"(--offline|HF_HUB_OFFLINE).*missing", comments), \
                f"{sw.name}: hub models go missing offline, and the file does not say so"
