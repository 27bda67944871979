"""A small Hugging Face Hub-compatible HTTP server for tests, on 127.0.0.1.

It answers the routes the real ``huggingface_hub`` client (and ``datasets``/``transformers`` through it) uses to
create a repository, upload files (inline base64 and LFS basic transfer), list and download them, for model and
dataset repositories alike. Everything lives in memory; every commit keeps a snapshot so a revision may be ``main``
or any commit sha the server handed out. There is no authentication: any token (or none) is accepted.

Routes:
    ``POST /api/repos/create``, ``POST /api/validate-yaml``, ``GET /api/whoami-v2``,
    ``GET /api/{models|datasets}/{id}[/revision/{rev}]``, ``POST /api/{...}/{id}/preupload/{rev}``,
    ``POST /api/{...}/{id}/commit/{rev}``, ``GET /api/{...}/{id}/tree/{rev}[/{path}]``,
    ``POST /api/{...}/{id}/paths-info/{rev}``, ``GET /api/{...}/{id}/refs``,
    ``POST /{datasets/}{id}.git/info/lfs/objects/batch``, ``PUT /lfs-upload/{oid}``,
    ``GET|HEAD /{datasets/}{id}/resolve/{rev}/{path}`` (``Range`` supported).

The client reads ``HF_ENDPOINT`` when it is imported, so code talking to this server must set
``HF_ENDPOINT=server.url``, ``HF_HUB_DISABLE_XET=1`` and unset ``HF_HUB_OFFLINE`` before importing
``huggingface_hub``; running that code in a subprocess with :meth:`HubServer.client_env` is the robust way.

Examples:
    >>> server = HubServer().start()  # doctest: +SKIP
    >>> env = server.client_env()  # doctest: +SKIP
    >>> server.files("datasets", "me/data")  # doctest: +SKIP
    {'README.md': b'...'}
    >>> server.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["HubServer", "Repo"]

_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# Files the server asks the client to send through LFS (besides anything over 1 MB).
_LFS_SUFFIXES = (".parquet", ".arrow", ".safetensors", ".bin", ".pt", ".png", ".jpg", ".gguf", ".onnx", ".zip")
_LFS_MIN_SIZE = 1_000_000


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class _File:
    data: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def oid(self) -> str:
        """The git blob id of what git stores: the file, or its LFS pointer."""
        return _git_sha1(self.pointer if self.lfs else self.data)

    @property
    def pointer(self) -> bytes:
        return (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n".encode()
        )

    def entry(self, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "file", "path": path, "oid": self.oid, "size": len(self.data)}
        if self.lfs:
            out["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": len(self.pointer)}
        return out


@dataclass
class Repo:
    """One repository: its type, id, privacy and the file snapshot of every commit (the last one is ``main``)."""

    repo_type: str
    repo_id: str
    private: bool = False
    commits: dict[str, dict[str, _File]] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    created: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        self.commit({}, "initial commit")

    @property
    def head(self) -> str:
        return self.history[-1]

    def commit(self, files: dict[str, _File], summary: str) -> str:
        sha = hashlib.sha1(f"{self.repo_id}{len(self.history)}{summary}{secrets.token_hex(8)}".encode()).hexdigest()
        self.commits[sha] = files
        self.history.append(sha)
        return sha

    def snapshot(self, revision: str) -> tuple[str, dict[str, _File]] | None:
        revision = unquote(revision)
        if revision in ("main", "HEAD"):
            return self.head, self.commits[self.head]
        if revision in self.commits:
            return revision, self.commits[revision]
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # ------------------------------------------------------------------ plumbing
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        if os.environ.get("HUB_SERVER_VERBOSE"):
            super().log_message(format, *args)

    def _body(self) -> bytes:
        """The request body, read once (keep-alive needs every body consumed, used or not)."""
        if self._raw is None:
            self._raw = self._read_body()
        return self._raw

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        raw = self._body()
        if not raw:
            return {}
        if "application/x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            return {k: v if len(v) > 1 else v[0] for k, v in parse_qs(raw.decode()).items()}
        return json.loads(raw)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, message: str, code: str | None = None, head: bool = False) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers, head=head)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = unquote(url.path)
        self.server.requests.append((method, path))
        self._raw: bytes | None = None
        if method in ("POST", "PUT"):
            self._body()
        try:
            for pattern, verb, handler in _ROUTES:
                if verb != method and not (verb == "GET" and method == "HEAD"):
                    continue
                match = pattern.fullmatch(path)
                if match:
                    handler(self, head=method == "HEAD", **match.groupdict())
                    return
            self.server.unhandled.append((method, self.path))
            self._error(404, f"no route for {method} {path}", head=method == "HEAD")
        except Exception as err:  # a test server: report the bug to the client instead of hanging up
            self.server.unhandled.append((method, f"{self.path} -> {err!r}"))
            self._error(500, f"server error: {err!r}")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    # ------------------------------------------------------------------ helpers
    def _repo(self, kind: str, repo_id: str, head: bool = False) -> Repo | None:
        repo = self.server.repos.get((_REPO_TYPES.get(kind, kind), repo_id))
        if repo is None:
            self._error(404, f"Repository {repo_id} not found", "RepoNotFound", head=head)
        return repo

    def _snapshot(self, repo: Repo, rev: str, head: bool = False) -> tuple[str, dict[str, _File]] | None:
        snap = repo.snapshot(rev)
        if snap is None:
            self._error(404, f"Invalid rev id: {rev}", "RevisionNotFound", head=head)
        return snap

    @staticmethod
    def _tree(files: dict[str, _File], prefix: str, recursive: bool) -> list[dict[str, Any]]:
        prefix = prefix.strip("/")
        base = f"{prefix}/" if prefix else ""
        entries: dict[str, dict[str, Any]] = {}
        for path in sorted(files):
            if not path.startswith(base):
                continue
            rest = path[len(base) :]
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                folder = base + "/".join(parts[:depth])
                if recursive or depth == 1:
                    entries.setdefault(
                        folder, {"type": "directory", "path": folder, "oid": _git_sha1(folder.encode())}
                    )
                if not recursive:
                    break
            if recursive or len(parts) == 1:
                entries[path] = files[path].entry(path)
        return [entries[k] for k in sorted(entries)]

    # ------------------------------------------------------------------ routes
    def whoami(self, head: bool = False) -> None:
        self._json(
            200,
            {
                "type": "user",
                "name": "tester",
                "fullname": "Test User",
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": "write"}},
            },
        )

    def agent_harnesses(self, head: bool = False) -> None:
        self._json(200, {"standardEnvVars": [], "harnesses": {}})

    def create_repo(self, head: bool = False) -> None:
        body = self._json_body()
        repo_type = body.get("type") or "model"
        name = body["name"]
        repo_id = f"{body['organization']}/{name}" if body.get("organization") else name
        if "/" not in repo_id:
            repo_id = f"tester/{repo_id}"
        url = f"{self.server.url}/{_URL_PREFIX[repo_type]}{repo_id}"
        with self.server.lock:
            if (repo_type, repo_id) in self.server.repos:
                self._json(409, {"error": "You already created this repo", "url": url})
                return
            self.server.repos[(repo_type, repo_id)] = Repo(
                repo_type, repo_id, private=bool(body.get("private")) or body.get("visibility") == "private"
            )
        self._json(200, {"url": url, "name": repo_id})

    def validate_yaml(self, head: bool = False) -> None:
        self._json(200, {"errors": [], "warnings": []})

    def repo_info(self, kind: str, repo_id: str, rev: str = "main", head: bool = False) -> None:
        repo = self._repo(kind, repo_id)
        if repo is None:
            return
        snap = self._snapshot(repo, rev or "main")
        if snap is None:
            return
        sha, files = snap
        siblings = []
        for path, f in sorted(files.items()):
            sibling: dict[str, Any] = {"rfilename": path, "size": len(f.data), "blobId": f.oid}
            if f.lfs:
                sibling["lfs"] = {"sha256": f.sha256, "size": len(f.data), "pointerSize": len(f.pointer)}
            siblings.append(sibling)
        self._json(
            200,
            {
                "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24],
                "id": repo_id,
                "modelId": repo_id,
                "author": repo_id.split("/")[0],
                "sha": sha,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "createdAt": repo.created,
                "lastModified": _now(),
                "siblings": siblings,
            },
        )

    def refs(self, kind: str, repo_id: str, head: bool = False) -> None:
        repo = self._repo(kind, repo_id)
        if repo is not None:
            self._json(
                200,
                {
                    "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo.head}],
                    "converts": [],
                    "tags": [],
                },
            )

    def tree(self, kind: str, repo_id: str, rev: str, path: str = "", head: bool = False) -> None:
        repo = self._repo(kind, repo_id)
        snap = repo and self._snapshot(repo, rev)
        if not snap:
            return
        _, files = snap
        path = (path or "").strip("/")
        if path and path not in files and not any(p.startswith(path + "/") for p in files):
            self._error(404, f"{path} does not exist on main", "EntryNotFound")
            return
        recursive = self.query.get("recursive", "false").lower() in ("1", "true")
        self._json(200, self._tree(files, path, recursive))

    def paths_info(self, kind: str, repo_id: str, rev: str, head: bool = False) -> None:
        repo = self._repo(kind, repo_id)
        snap = repo and self._snapshot(repo, rev)
        if not snap:
            return
        _, files = snap
        body = self._json_body()
        paths = body.get("paths", [])
        paths = [paths] if isinstance(paths, str) else paths
        out = []
        for path in paths:
            path = path.strip("/")
            if path in files:
                out.append(files[path].entry(path))
            elif any(p.startswith(path + "/") for p in files):
                out.append({"type": "directory", "path": path, "oid": _git_sha1(path.encode())})
        self._json(200, out)

    def preupload(self, kind: str, repo_id: str, rev: str, head: bool = False) -> None:
        repo = self._repo(kind, repo_id)
        snap = repo and self._snapshot(repo, rev)
        if not snap:
            return
        _, files = snap
        out = []
        for item in self._json_body().get("files", []):
            path = item["path"]
            lfs = path.lower().endswith(_LFS_SUFFIXES) or int(item.get("size", 0)) >= _LFS_MIN_SIZE
            existing = files.get(path)
            oid = None
            if existing is not None:
                oid = existing.sha256 if lfs else _git_sha1(existing.data)
            out.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        self._json(200, {"files": out, "commitOid": repo.head})

    def commit(self, kind: str, repo_id: str, rev: str, head: bool = False) -> None:
        repo = self._repo(kind, repo_id)
        if repo is None:
            return
        if unquote(rev) not in ("main", "HEAD"):
            self._error(400, "this test server commits to main only", "RevisionNotFound")
            return
        raw = self._body()
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        if not lines and raw:
            lines = [json.loads(raw)]
        with self.server.lock:
            files = dict(repo.commits[repo.head])
            summary = "commit"
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "header":
                    summary = value.get("summary") or summary
                elif key == "file":
                    data = (
                        base64.b64decode(value["content"])
                        if value.get("encoding") == "base64"
                        else value["content"].encode()
                    )
                    files[value["path"]] = _File(data, lfs=False)
                elif key == "lfsFile":
                    blob = self.server.lfs_objects.get(value["oid"])
                    if blob is None:
                        self._error(422, f"LFS object {value['oid']} for {value['path']} was never uploaded")
                        return
                    files[value["path"]] = _File(blob, lfs=True)
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key == "deletedFolder":
                    folder = value["path"].rstrip("/") + "/"
                    files = {p: f for p, f in files.items() if not p.startswith(folder)}
                else:
                    self._error(400, f"unsupported commit operation {key!r}")
                    return
            sha = repo.commit(files, summary)
        prefix = _URL_PREFIX[repo.repo_type]
        self._json(
            200,
            {
                "commitUrl": f"{self.server.url}/{prefix}{repo_id}/commit/{sha}",
                "commitOid": sha,
                "pullRequestUrl": None,
                "success": True,
            },
        )

    def lfs_batch(self, prefix: str, repo_id: str, head: bool = False) -> None:
        kind = "datasets" if prefix == "datasets/" else "spaces" if prefix == "spaces/" else "models"
        if self._repo(kind, repo_id) is None:
            return
        body = self._json_body()
        objects = []
        for obj in body.get("objects", []):
            entry: dict[str, Any] = {"oid": obj["oid"], "size": int(obj["size"]), "authenticated": True}
            if obj["oid"] not in self.server.lfs_objects:
                entry["actions"] = {"upload": {"href": f"{self.server.url}/lfs-upload/{obj['oid']}", "header": {}}}
            objects.append(entry)
        self._json(
            200,
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
            {"Content-Type": "application/vnd.git-lfs+json"},
        )

    def lfs_upload(self, oid: str, head: bool = False) -> None:
        server = self.server
        with server.lock:
            stopped = server.lfs_stop_after is not None and server.lfs_uploads >= server.lfs_stop_after
            if stopped and server.lfs_failures_left is not None:
                stopped = server.lfs_failures_left > 0
                server.lfs_failures_left -= 1
        if stopped:
            self._error(503, "the hub stopped during the upload")
            return
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            self._error(400, "sha256 of the uploaded bytes does not match the oid")
            return
        with self.server.lock:
            self.server.lfs_objects[oid] = data
            self.server.lfs_uploads += 1
        self._send(200)

    def resolve(self, prefix: str, repo_id: str, rev: str, path: str, head: bool = False) -> None:
        kind = "datasets" if prefix == "datasets/" else "spaces" if prefix == "spaces/" else "models"
        repo = self._repo(kind, repo_id, head=head)
        if repo is None:
            return
        snap = self._snapshot(repo, rev, head=head)
        if snap is None:
            return
        sha, files = snap
        f = files.get(path)
        if f is None:
            self._error(404, f"Entry not found: {path}", "EntryNotFound", head=head)
            return
        etag = f'"{f.sha256 if f.lfs else f.oid}"'
        headers = {
            "X-Repo-Commit": sha,
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if f.lfs:
            headers["X-Linked-Etag"] = etag
            headers["X-Linked-Size"] = str(len(f.data))
        data = f.data
        rng = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "") or "")
        if rng and not head:
            start = int(rng.group(1)) if rng.group(1) else max(0, len(data) - int(rng.group(2) or 0))
            end = int(rng.group(2)) if rng.group(1) and rng.group(2) else len(data) - 1
            end = min(end, len(data) - 1)
            if start >= len(data):
                self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            self._send(206, data[start : end + 1], headers)
            return
        self._send(200, data, headers, head=head)


_ID = r"(?P<repo_id>[^/]+/[^/]+|[^/]+)"
_KIND = r"(?P<kind>models|datasets|spaces)"
_PREFIX = r"(?P<prefix>datasets/|spaces/|)"
_ROUTES = [
    (re.compile(p), verb, handler)
    for p, verb, handler in [
        (r"/api/whoami-v2", "GET", _Handler.whoami),
        (r"/api/agent-harnesses", "GET", _Handler.agent_harnesses),
        (r"/api/repos/create", "POST", _Handler.create_repo),
        (r"/api/validate-yaml", "POST", _Handler.validate_yaml),
        (rf"/api/{_KIND}/{_ID}/refs", "GET", _Handler.refs),
        (rf"/api/{_KIND}/{_ID}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "GET", _Handler.tree),
        (rf"/api/{_KIND}/{_ID}/paths-info/(?P<rev>[^/]+)", "POST", _Handler.paths_info),
        (rf"/api/{_KIND}/{_ID}/preupload/(?P<rev>[^/]+)", "POST", _Handler.preupload),
        (rf"/api/{_KIND}/{_ID}/commit/(?P<rev>[^/]+)", "POST", _Handler.commit),
        (rf"/api/{_KIND}/{_ID}/revision/(?P<rev>[^/]+)", "GET", _Handler.repo_info),
        (rf"/api/{_KIND}/{_ID}", "GET", _Handler.repo_info),
        (rf"/{_PREFIX}{_ID}\.git/info/lfs/objects/batch", "POST", _Handler.lfs_batch),
        (r"/lfs-upload/(?P<oid>[0-9a-f]{64})", "PUT", _Handler.lfs_upload),
        (rf"/{_PREFIX}(?P<repo_id>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "GET", _Handler.resolve),
    ]
]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, _Handler)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.url = f"http://{address[0]}:{self.server_address[1]}"
        self.lfs_uploads = 0
        self.lfs_stop_after: int | None = None
        self.lfs_failures_left: int | None = None


class HubServer:
    """An in-memory Hub on ``http://127.0.0.1:PORT``, served from a daemon thread.

    Args:
        port: The port to bind; 0 (the default) picks a free one.

    Attributes:
        url: The endpoint to put in ``HF_ENDPOINT``.

    Examples:
        >>> with HubServer() as hub:  # doctest: +SKIP
        ...     subprocess.run([...], env=hub.client_env(), check=True)
        ...     assert "README.md" in hub.files("datasets", "tester/demo")
    """

    def __init__(self, port: int = 0):
        self._server = _Server(("127.0.0.1", port))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every ``(method, path)`` received, in order."""
        return self._server.requests

    @property
    def unhandled(self) -> list[tuple[str, str]]:
        """Requests no route answered or that raised inside the server (should stay empty)."""
        return self._server.unhandled

    def start(self) -> HubServer:
        """Serve in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_env(
        self, base: dict[str, str] | None = None, hf_home: str | os.PathLike | None = None
    ) -> dict[str, str]:
        """An environment for a subprocess that talks to this server through the real client.

        Args:
            base: The environment to start from (default: ``os.environ``).
            hf_home: A fresh ``HF_HOME`` for the subprocess, so no cache from another test is reused.
        """
        env = dict(os.environ if base is None else base)
        env.pop("HF_HUB_OFFLINE", None)
        env.pop("HF_DATASETS_OFFLINE", None)
        env.pop("TRANSFORMERS_OFFLINE", None)
        env.update(
            HF_ENDPOINT=self.url,
            HF_HUB_DISABLE_XET="1",
            HF_TOKEN="hf_test_token_for_local_hub",
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_ETAG_TIMEOUT="30",
            HF_HUB_DOWNLOAD_TIMEOUT="60",
        )
        if hf_home is not None:
            env["HF_HOME"] = os.fspath(hf_home)
        return env

    def stop_uploads(self, after: int = 0, times: int | None = None) -> None:
        """Act as a hub that stops mid-upload: LFS uploads after the next ``after`` get ``503``.

        Args:
            after: LFS objects still accepted before the failures start.
            times: Fail this many uploads, then accept again (a transient outage); ``None``: until
                :meth:`resume_uploads`.
        """
        with self._server.lock:
            self._server.lfs_stop_after = self._server.lfs_uploads + after
            self._server.lfs_failures_left = times

    def resume_uploads(self) -> None:
        """Accept LFS uploads again (undo :meth:`stop_uploads`)."""
        with self._server.lock:
            self._server.lfs_stop_after = None
            self._server.lfs_failures_left = None

    def create_repo(self, repo_id: str, repo_type: str = "model", private: bool = False) -> Repo:
        """Create an empty repository directly (no HTTP), e.g. to test downloads of a prepared repo."""
        repo = Repo(repo_type, repo_id, private=private)
        self._server.repos[(repo_type, repo_id)] = repo
        return repo

    def upload(self, repo_id: str, files: dict[str, bytes], repo_type: str = "model", summary: str = "upload") -> str:
        """Commit ``files`` (path -> bytes) directly, creating the repository if needed; returns the commit sha."""
        key = (repo_type, repo_id)
        repo = self._server.repos.get(key) or self.create_repo(repo_id, repo_type)
        snapshot = dict(repo.commits[repo.head])
        for path, data in files.items():
            snapshot[path] = _File(data, lfs=path.lower().endswith(_LFS_SUFFIXES) or len(data) >= _LFS_MIN_SIZE)
        return repo.commit(snapshot, summary)

    def repo(self, repo_type: str, repo_id: str) -> Repo | None:
        """The stored repository, or ``None``. ``repo_type`` is ``model``/``dataset`` (or their plural)."""
        return self._server.repos.get((_REPO_TYPES.get(repo_type, repo_type), repo_id))

    def files(self, repo_type: str, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """Path -> bytes of the repository at ``revision``; empty when it does not exist."""
        repo = self.repo(repo_type, repo_id)
        snap = repo.snapshot(revision) if repo else None
        return {path: f.data for path, f in snap[1].items()} if snap else {}

    def lfs_paths(self, repo_type: str, repo_id: str) -> set[str]:
        """Paths stored through LFS at ``main``."""
        repo = self.repo(repo_type, repo_id)
        return {p for p, f in repo.commits[repo.head].items() if f.lfs} if repo else set()
