"""A small stand-in of the Hugging Face Hub's HTTP API, for download tests with the real huggingface_hub client.

It answers what huggingface_hub 2.4 asks while downloading, the way the Hub answers it:

    GET  /api/models/{repo}[/revision/{rev}]      model info: id, sha, siblings (RepoNotFound: 401, RevisionNotFound: 404)
    GET  /api/models/{repo}/tree/{rev}[/{path}]    file listing (?recursive=true): oid (git sha1), size, lfs {oid, size}
    HEAD /{repo}/resolve/{rev}/{file}             small files: 200, ETag (git sha1), Content-Length, X-Repo-Commit;
                                                  LFS files: 302 to the "CDN" with X-Linked-Etag (sha256), X-Linked-Size
    GET  the same                                 the bytes (small files), or the same 302 (LFS)
    GET  /cdn/{sha256} on a second port           the LFS bytes, with Range requests answered 206

The CDN listens on its own port so that it is another origin: huggingface_hub follows redirects that stay on the
Hub and stops at the first one that leaves it (the file's metadata is on that redirect), as with the real CDN.

Knobs for tests: ``slow_after(name, bytes, seconds)`` sends the first bytes of a file at once and the rest slowly;
``cut_after(name, bytes)`` closes the connection once that many bytes of the file are sent (the next request for
it is whole again); ``requests`` records every request (method, path, Range header, status, body bytes sent).
Both servers listen on 127.0.0.1 only, on free ports, and stop with ``stop()`` (the fixture calls it).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".h5", ".msgpack", ".onnx")


def git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass(frozen=True)
class HubFile:
    name: str
    content: bytes
    lfs: bool

    @property
    def etag(self) -> str:
        """What the Hub gives as the file's ETag, and so the blob's name in the cache."""
        return hashlib.sha256(self.content).hexdigest() if self.lfs else git_blob_sha1(self.content)


@dataclass
class HubRepo:
    repo_id: str
    gated: bool = False
    commits: dict[str, dict[str, HubFile]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def commit(self, files: dict[str, bytes], branch: str = "main", lfs: tuple[str, ...] | None = None) -> str:
        """A new commit holding exactly ``files`` (LFS by suffix unless named in ``lfs``); the branch moves to it."""
        entries = {
            name: HubFile(name, content, (name in lfs) if lfs is not None else name.endswith(LFS_SUFFIXES))
            for name, content in files.items()
        }
        digest = hashlib.sha1(self.repo_id.encode())
        for name in sorted(entries):
            digest.update(name.encode() + b"\0" + entries[name].etag.encode())
        digest.update(str(len(self.commits)).encode())
        sha = digest.hexdigest()
        self.commits[sha] = entries
        self.refs[branch] = sha
        return sha

    def resolve(self, revision: str) -> str | None:
        if revision in self.refs:
            return self.refs[revision]
        return revision if revision in self.commits else None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None
    status: int
    sent: int  # body bytes written


class StandInHub:
    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[Request] = []
        self.tokens: set[str] = set()  # tokens that may read gated repos
        self._slow: dict[str, tuple[int, float]] = {}
        self._cut: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._servers: list[ThreadingHTTPServer] = []
        self.url = ""
        self.cdn_url = ""

    # -- what the tests set up

    def add_repo(self, repo_id: str, files: dict[str, bytes] | None = None, gated: bool = False) -> HubRepo:
        repo = HubRepo(repo_id, gated=gated)
        if files is not None:
            repo.commit(files)
        self.repos[repo_id] = repo
        return repo

    def slow_after(self, name: str, at_once: int, seconds: float) -> None:
        """Send the first ``at_once`` bytes of file ``name`` at once, the rest spread over ``seconds``."""
        self._slow[name] = (at_once, seconds)

    def cut_after(self, name: str, sent: int) -> None:
        """Close the next response for ``name`` once ``sent`` bytes of it are sent (Content-Length says more)."""
        self._cut[name] = sent

    def fast(self) -> None:
        self._slow.clear()
        self._cut.clear()

    def file(self, name: str) -> HubFile:
        for repo in self.repos.values():
            for files in repo.commits.values():
                if name in files:
                    return files[name]
        raise KeyError(name)

    def gets_of(self, name: str) -> list[Request]:
        """The GET requests that sent the bytes of file ``name`` (resolve for small files, the CDN for LFS)."""
        f = self.file(name)
        if f.lfs:
            return [r for r in self.requests if r.method == "GET" and r.path == f"/cdn/{f.etag}"]
        return [r for r in self.requests if r.method == "GET" and "/resolve/" in r.path and r.path.endswith("/" + quote(name))]

    # -- lifecycle

    def start(self) -> "StandInHub":
        for role in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self, role))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self._servers.append(server)
            host, port = server.server_address[:2]
            if role == "hub":
                self.url = f"http://{host}:{port}"
            else:
                self.cdn_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    # -- serving

    def _arrived(self, request: Request) -> int:
        """Logged in the order requests arrive (a slow answer ends after a later one): its place in ``requests``."""
        with self._lock:
            self.requests.append(request)
            return len(self.requests) - 1

    def _record(self, place: int, request: Request) -> None:
        with self._lock:
            self.requests[place] = request

    def _find_repo(self, path: str) -> tuple[HubRepo | None, str]:
        """The repo a path starts with (ids are org/name or a bare name), and the rest of the path."""
        for repo_id in sorted(self.repos, key=len, reverse=True):
            if path == repo_id or path.startswith(repo_id + "/"):
                return self.repos[repo_id], path[len(repo_id):]
        parts = path.split("/")
        return None, "/" + "/".join(parts[2:])


def _handler_for(hub: StandInHub, role: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet test output
            pass

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        # -- answers

        def _serve(self, head: bool) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            self._sent = 0
            self._status = 0
            place = hub._arrived(Request(self.command, url.path, self.headers.get("Range"), 0, 0))
            try:
                if role == "cdn":
                    self._cdn(url.path, head)
                elif path.startswith("/api/models/"):
                    self._api(path[len("/api/models/"):], parse_qs(url.query))
                else:
                    self._resolve(url.path, head)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                hub._record(place, Request(self.command, url.path, self.headers.get("Range"), self._status, self._sent))

        def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
            body = json.dumps({"error": message}).encode()
            self._status = status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, payload) -> None:
            body = json.dumps(payload).encode()
            self._status = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self._sent = len(body)

        def _api(self, rest: str, query: dict) -> None:
            repo, tail = hub._find_repo(rest)
            if repo is None:
                # The Hub says 401 for a repo it does not show (missing, private or gated without a token).
                return self._error(401, "RepoNotFound", "Repository not found")
            revision = "main"
            if tail.startswith("/revision/"):
                revision = tail[len("/revision/"):]
                tail = ""
            elif tail.startswith("/tree/"):
                revision, _, _ = tail[len("/tree/"):].partition("/")
            commit = repo.resolve(revision)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            files = repo.commits[commit]
            if tail.startswith("/tree/"):
                return self._json(_tree(files, recursive=query.get("recursive", ["false"])[0].lower() == "true"))
            return self._json(
                {
                    "id": repo.repo_id,
                    "modelId": repo.repo_id,
                    "sha": commit,
                    "private": False,
                    "gated": "manual" if repo.gated else False,
                    "siblings": [{"rfilename": name} for name in sorted(files)],
                }
            )

        def _resolve(self, raw_path: str, head: bool) -> None:
            repo, tail = hub._find_repo(unquote(raw_path).lstrip("/"))
            if repo is None or not tail.startswith("/resolve/"):
                return self._error(401, "RepoNotFound", "Repository not found")
            # /resolve/{quoted revision}/{quoted file}: the revision is quoted whole (refs%2Fpr%2F1).
            raw_tail = raw_path.split("/resolve/", 1)[1]
            raw_revision, _, raw_name = raw_tail.partition("/")
            revision, name = unquote(raw_revision), unquote(raw_name)
            commit = repo.resolve(revision)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            if repo.gated and self._token() not in hub.tokens:
                return self._error(401, "GatedRepo", "Access to model is restricted. You must have access to it and be authenticated.")
            f = repo.commits[commit].get(name)
            if f is None:
                return self._error(404, "EntryNotFound", f"{name} does not exist", commit=commit)
            if f.lfs:
                self._status = 302
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn_url}/cdn/{f.etag}")
                self.send_header("ETag", f'"{git_blob_sha1(b"pointer " + f.etag.encode())}"')
                self.send_header("X-Linked-Etag", f'"{f.etag}"')
                self.send_header("X-Linked-Size", str(len(f.content)))
                self.send_header("X-Repo-Commit", commit)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._bytes(f, head, extra={"ETag": f'"{f.etag}"', "X-Repo-Commit": commit})

        def _cdn(self, raw_path: str, head: bool) -> None:
            digest = raw_path.rsplit("/", 1)[-1]
            for repo in hub.repos.values():
                for files in repo.commits.values():
                    for f in files.values():
                        if f.lfs and f.etag == digest:
                            return self._bytes(f, head, extra={"ETag": f'"{f.etag}"'})
            self._status = 404
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _bytes(self, f: HubFile, head: bool, extra: dict[str, str]) -> None:
            size = len(f.content)
            start = 0
            wanted = self.headers.get("Range")
            if wanted and wanted.startswith("bytes=") and wanted.endswith("-"):
                start = int(wanted[len("bytes="):-1])
            if start >= size and size:
                self._status = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._status = 206 if start else 200
            self.send_response(self._status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(size - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.end_headers()
            if head:
                return
            body = memoryview(f.content)[start:]
            cut = hub._cut.pop(f.name, None)
            if cut is not None:
                body = body[: max(0, cut - start)]
                self.close_connection = True
            slow = hub._slow.get(f.name)
            if slow is None:
                self.wfile.write(body)
                self._sent = len(body)
                return
            at_once, seconds = slow
            first = max(0, at_once - start)
            self.wfile.write(body[:first])
            self.wfile.flush()
            self._sent = first
            rest = body[first:]
            pieces = 20
            step = max(1, -(-len(rest) // pieces))
            for offset in range(0, len(rest), step):
                if hub._stopping.wait(seconds / pieces):
                    self.close_connection = True
                    return
                self.wfile.write(rest[offset : offset + step])
                self.wfile.flush()
                self._sent += len(rest[offset : offset + step])

        def _token(self) -> str | None:
            auth = self.headers.get("Authorization") or ""
            return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

    return Handler


def _tree(files: dict[str, HubFile], recursive: bool) -> list[dict]:
    """The Hub's tree listing: folders, then files with their git oid and size, LFS ones with the sha256."""
    entries: list[dict] = []
    folders: set[str] = set()
    for name in sorted(files):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in folders:
                folders.add(folder)
                entries.append({"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(), "size": 0, "path": folder})
        if len(parts) > 1 and not recursive:
            continue
        f = files[name]
        entry = {"type": "file", "oid": git_blob_sha1(f.content), "size": len(f.content), "path": name}
        if f.lfs:
            entry["lfs"] = {"oid": f.etag, "size": len(f.content), "pointerSize": 134}
        entries.append(entry)
    if not recursive:
        entries = [e for e in entries if "/" not in e["path"]]
    return entries


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` (a file growing, a request arriving) until true or ``timeout`` passes."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
