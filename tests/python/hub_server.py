"""A local stand-in for the Hugging Face hub's HTTP API, for tests with no internet.

It answers what huggingface_hub (and layerlaw) ask of the hub:

  GET  /api/models/ORG/NAME/revision/REV         {id, sha, siblings: [{rfilename}], ...}
  GET  /api/models/ORG/NAME/tree/REV[/PATH]      [{type, oid, size, path, lfs?}] (?recursive=)
  HEAD/GET /ORG/NAME/resolve/REV/FILE            small files: 200 + ETag (git blob id);
                                                 LFS files: 302 to /lfs/SHA256 with
                                                 X-Linked-Etag (SHA-256) and X-Linked-Size
  GET  /lfs/SHA256                               the bytes (a "CDN": no token needed)

with X-Repo-Commit, Range (206), and the hub's error codes (X-Error-Code
RepoNotFound / RevisionNotFound / EntryNotFound / GatedRepo).  Repositories
are folders on disk; a revision maps to a commit id derived from the files.

Faults for the tests (HubServer.faults: a list of [predicate, action], each
used once, in order): "cut:N" (send N bytes of the body, then drop the
connection), "500", "503", "429:S" (Retry-After S), "stall:S" (send half, then
nothing for S seconds), "wrong" (bytes with one flipped), "401", "403", "404".
HubServer.log records (method, path, range, has_auth, status).

Run alone: python3 tests/python/hub_server.py ORG/NAME=FOLDER[@REV,REV] ... [--port P]
"""
import hashlib
import http.server
import json
import os
import pathlib
import re
import socketserver
import sys
import threading
import time
import urllib.parse

LFS_EXT = (".safetensors", ".bin", ".gguf", ".npy", ".pt", ".h5", ".msgpack")
LFS_MIN = 10 * 1024 * 1024


def git_blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, repo_id, folder, revisions=("main",), gated_token=None, files=None):
        self.id = repo_id
        self.files = {}
        folder = pathlib.Path(folder)
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if p.is_file() and (files is None or rel in files):
                self.files[rel] = p.read_bytes()
        h = hashlib.sha1()
        for k in sorted(self.files):
            h.update(k.encode() + b"\0" + git_blob_id(self.files[k]).encode())
        self.commit = h.hexdigest()
        self.revisions = {r: self.commit for r in revisions}
        self.gated_token = gated_token  # None: public; a string: the token that opens it

    def is_lfs(self, name):
        return name.endswith(LFS_EXT) or len(self.files[name]) >= LFS_MIN


class HubServer:
    def __init__(self, repos=(), host="127.0.0.1", port=0):
        self.repos = {r.id: r for r in repos}
        self.faults = []
        self.log = []
        self.lock = threading.Lock()
        self.blobs = {}
        for r in repos:
            for name, data in r.files.items():
                self.blobs[hashlib.sha256(data).hexdigest()] = data
        outer = self

        class Handler(_Handler):
            server_ref = outer

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Server((host, port), Handler)
        self.port = self.httpd.server_address[1]
        self.endpoint = f"http://{host}:{self.port}"
        self.thread = None

    def add(self, repo):
        self.repos[repo.id] = repo
        for data in repo.files.values():
            self.blobs[hashlib.sha256(data).hexdigest()] = data

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def take_fault(self, method, path):
        with self.lock:
            for i, (pred, action) in enumerate(self.faults):
                if pred(method, path):
                    del self.faults[i]
                    return action
        return None

    def requests(self, method=None, pattern=""):
        with self.lock:
            return [e for e in self.log if (method is None or e[0] == method) and re.search(pattern, e[1])]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_ref = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_HEAD(self):
        self.route(head=True)

    def do_GET(self):
        self.route(head=False)

    # -- helpers ---------------------------------------------------------------
    def send(self, status, body=b"", headers=None, head=False, ctype="application/json"):
        srv = self.server_ref
        with srv.lock:
            srv.log.append((self.command, self.path, self.headers.get("Range"),
                            self.headers.get("Authorization") is not None, status))
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def error(self, status, code, msg, head):
        body = json.dumps({"error": msg}).encode()
        self.send(status, body, {"X-Error-Code": code, "X-Error-Message": msg}, head)

    def auth_ok(self, repo):
        if repo.gated_token is None:
            return True
        return self.headers.get("Authorization") == f"Bearer {repo.gated_token}"

    def fault_status(self, action, head):
        if action in ("500", "503"):
            self.send(int(action), b'{"error":"server error"}', {}, head)
            return True
        if action.startswith("429"):
            ra = action.split(":")[1] if ":" in action else "1"
            self.send(429, b'{"error":"slow down"}', {"Retry-After": ra}, head)
            return True
        if action in ("401", "403"):
            self.error(int(action), "GatedRepo", "Access to this model is restricted", head)
            return True
        if action == "404":
            self.error(404, "EntryNotFound", "Entry not found", head)
            return True
        return False

    # -- routes ----------------------------------------------------------------
    def route(self, head):
        srv = self.server_ref
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(u.path)
        action = srv.take_fault(self.command, self.path)
        if action and self.fault_status(action, head):
            return
        m = re.match(r"^/api/models/([^/]+/[^/]+)/(revision|tree)/([^/]+)(/.*)?$", u.path)
        if m:
            return self.api(urllib.parse.unquote(m.group(1)), m.group(2), urllib.parse.unquote(m.group(3)),
                            urllib.parse.unquote(m.group(4) or ""), urllib.parse.parse_qs(u.query), head)
        m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", u.path)
        if m:
            return self.resolve(urllib.parse.unquote(m.group(1)), urllib.parse.unquote(m.group(2)),
                                urllib.parse.unquote(m.group(3)), head, action)
        m = re.match(r"^/lfs/([0-9a-f]{64})$", path)
        if m and m.group(1) in srv.blobs:
            data = srv.blobs[m.group(1)]
            return self.bytes_out(data, {"ETag": f'"{m.group(1)}"'}, head, action)
        self.error(404, "RepoNotFound", "Repository not found", head)

    def find(self, repo_id, rev, head):
        repo = self.server_ref.repos.get(repo_id)
        if repo is None:
            self.error(404, "RepoNotFound", "Repository not found", head)
            return None, None
        if not self.auth_ok(repo):
            self.error(401 if self.headers.get("Authorization") is None else 403, "GatedRepo",
                       "Access to model is restricted. You must have access to it and be authenticated", head)
            return None, None
        commit = repo.revisions.get(rev, rev if rev == repo.commit else None)
        if commit is None:
            self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
            return None, None
        return repo, commit

    def api(self, repo_id, kind, rev, sub, query, head):
        repo, commit = self.find(repo_id, rev, head)
        if repo is None:
            return
        if kind == "revision":
            body = {"_id": "x" * 24, "id": repo.id, "modelId": repo.id, "sha": commit, "private": False,
                    "gated": repo.gated_token is not None and "manual", "disabled": False, "downloads": 0,
                    "likes": 0, "tags": [], "lastModified": "2024-01-01T00:00:00.000Z",
                    "createdAt": "2024-01-01T00:00:00.000Z",
                    "siblings": [{"rfilename": f} for f in sorted(repo.files)]}
            return self.send(200, json.dumps(body).encode(), {}, head)
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = sub.lstrip("/")
        out, dirs = [], set()
        for name in sorted(repo.files):
            if prefix and not name.startswith(prefix + "/"):
                continue
            rest = name[len(prefix) + 1:] if prefix else name
            if not recursive and "/" in rest:
                d = (prefix + "/" if prefix else "") + rest.split("/")[0]
                if d not in dirs:
                    dirs.add(d)
                    out.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": d})
                continue
            data = repo.files[name]
            e = {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": name}
            if repo.is_lfs(name):
                e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            out.append(e)
        self.send(200, json.dumps(out).encode(), {}, head)

    def resolve(self, repo_id, rev, name, head, action):
        repo, commit = self.find(repo_id, rev, head)
        if repo is None:
            return
        if name not in repo.files:
            return self.error(404, "EntryNotFound", f"{name} does not exist on \"{rev}\"", head)
        data = repo.files[name]
        hdr = {"X-Repo-Commit": commit}
        if repo.is_lfs(name):
            sha = hashlib.sha256(data).hexdigest()
            hdr.update({"X-Linked-Etag": f'"{sha}"', "X-Linked-Size": len(data), "ETag": f'"{git_blob_id(data)}"',
                        "Location": f"{self.server_ref.endpoint.replace('127.0.0.1', 'localhost')}/lfs/{sha}"})
            return self.send(302, b"", hdr, head)
        hdr["ETag"] = f'"{git_blob_id(data)}"'
        self.bytes_out(data, hdr, head, action)

    def bytes_out(self, data, hdr, head, action):
        start = 0
        rng = self.headers.get("Range")
        status = 200
        if rng:
            m = re.match(r"bytes=(\d+)-$", rng)
            if m:
                start = int(m.group(1))
                if start >= len(data):
                    hdr = dict(hdr, **{"Content-Range": f"bytes */{len(data)}"})
                    return self.send(416, b"", hdr, head)
                status = 206
                hdr = dict(hdr, **{"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        body = data[start:]
        if action == "wrong" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if action and (action.startswith("cut:") or action.startswith("stall:")):
            srv = self.server_ref
            with srv.lock:
                srv.log.append((self.command, self.path, rng, self.headers.get("Authorization") is not None, status))
            self.send_response(status)
            for k, v in hdr.items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            if action.startswith("cut:"):
                n = min(int(action.split(":")[1]), len(body) - 1)
                self.wfile.write(body[:n])
                self.wfile.flush()
            else:
                half = len(body) // 2
                self.wfile.write(body[:half])
                self.wfile.flush()
                time.sleep(float(action.split(":")[1]))
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        self.send(status, body, hdr, head, ctype="application/octet-stream")


def main(argv):
    port = 0
    repos = []
    args = list(argv)
    if "--port" in args:
        i = args.index("--port")
        port = int(args[i + 1])
        del args[i:i + 2]
    for a in args:
        rid, folder = a.split("=", 1)
        revs = ("main",)
        if "@" in folder:
            folder, r = folder.split("@", 1)
            revs = tuple(r.split(","))
        repos.append(Repo(rid, folder, revs))
    s = HubServer(repos, port=port)
    print(s.endpoint, flush=True)
    s.httpd.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
