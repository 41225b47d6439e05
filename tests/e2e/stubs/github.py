"""A stand-in for the part of GitHub's REST API that the workflows and CML use, served over HTTP on loopback, with
the repository's branches read from a real bare `origin`. Paths, parameters, answers and status codes follow GitHub's
OpenAPI description (@octokit/openapi, generated/api.github.com.json) and its REST documentation:

- pulls/list: `state` (default open), `head` (`user:ref-name`, exact), `base`, `per_page` (default 30, at most 100),
  `page`; newest first (sort=created, direction desc by default); a `Link` header with rel="next" and rel="last";
- pulls/create: `head` (`branch` or `user:branch`), `base`, `title`, `body`; 201; 422 "Validation Failed" when the
  head or base branch does not exist or an open PR from that head into that base exists ("A pull request already
  exists for user:branch.");
- pulls/get, pulls/update (`state`: open or closed): 404 "Not Found" for an unknown number;
- issues/list-comments (paginated like pulls), issues/create-comment, issues/update-comment;
- repos/create-commit-status: `state` one of error, failure, pending, success (else 422), `context` (default
  "default"), `description`, `target_url`; 201;
- actions/create-workflow-dispatch: 204; 404 for a workflow file the ref does not have, 422 "No ref found for" an
  unknown ref, "Workflow does not have 'workflow_dispatch' trigger", "Unexpected inputs provided";
- repos/get-release-by-tag (any repository): its assets with `url` and `digest` ("sha256:<hex>"), 404 for an unknown
  tag; repos/get-release-asset with `Accept: application/octet-stream`: 302 to the storage, which refuses a request
  that carries the token (S3: "Only one auth mechanism allowed");
- a PR whose head branch is deleted is closed (origin's post-receive hook logs what it received to pushes.log);
- every call needs a token (`Authorization: Bearer|token <token>`), else 401 "Requires authentication".
A PR or a comment made with the workflow's token is by `github-actions[bot]`."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

BOT = "github-actions[bot]"
Answer = tuple[int, Any, dict[str, str]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, {"message": message, "documentation_url": "https://docs.github.com/rest"}
        if errors:
            self.body["errors"] = errors  # type: ignore[assignment]


@dataclass
class GitHubStandIn:
    origin: Path  # the bare repository that holds the branches
    repository: str = "acme/retrain"
    token: str = "test-token"
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    releases: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)  # (repository, tag): assets
    tampered: set[str] = field(default_factory=set)  # assets whose storage serves bytes the digest does not name
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    # --- the test's side ---------------------------------------------------------------------------------------
    def start(self) -> GitHubStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in._serve(self)

            do_POST = do_PATCH = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def open_pull(self, head: str, base: str = "main", title: str = "a PR", fork: str | None = None) -> int:
        """A PR opened by someone else: from `fork`'s branch `head` (a fork's branches are not in origin), or from
        a branch of this repository."""
        owner = fork or self.owner
        name = self.repository.split("/")[1]
        return self._new_pull(head, owner, f"{owner}/{name}", base, title, "", fork is not None, "contributor")

    def open_pulls(self) -> list[dict[str, Any]]:
        return [pull for pull in self.pulls.values() if pull["state"] == "open"]

    def comments_on(self, number: int) -> list[str]:
        return [comment["body"] for comment in self.comments if comment["issue"] == number]

    # --- the API -----------------------------------------------------------------------------------------------
    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        length = int(request.headers.get("Content-Length") or 0)
        try:
            body = json.loads(request.rfile.read(length) or b"null") if length else None
        except ValueError:
            body = None
        try:
            download = re.fullmatch(r"/storage/(\d+)", parts.path)
            if download:
                return self._storage(request, int(download.group(1)))
            if request.headers.get("Authorization", "").split(" ")[-1] != self.token:
                raise ApiError(401, "Requires authentication")
            if "octet-stream" in request.headers.get("Accept", ""):
                query["accept"] = "octet-stream"
            with self._lock:
                self._received()
                self.calls.append((request.command, parts.path))
                status, answer, headers = self._route(request.command, parts.path, query, body)
        except ApiError as error:
            status, answer, headers = error.status, error.body, {}
        data = b"" if answer is None else json.dumps(answer).encode()
        request.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        repo = re.escape(self.repository)
        routes: list[tuple[str, str, Callable[..., Answer]]] = [
            ("GET", rf"/repos/{repo}/pulls", self._list_pulls),
            ("POST", rf"/repos/{repo}/pulls", self._create_pull),
            ("GET", rf"/repos/{repo}/pulls/(\d+)", self._get_pull),
            ("PATCH", rf"/repos/{repo}/pulls/(\d+)", self._update_pull),
            ("GET", rf"/repos/{repo}/issues/(\d+)/comments", self._list_comments),
            ("POST", rf"/repos/{repo}/issues/(\d+)/comments", self._create_comment),
            ("PATCH", rf"/repos/{repo}/issues/comments/(\d+)", self._update_comment),
            ("POST", rf"/repos/{repo}/statuses/([0-9a-f]{{40}})", self._create_status),
            ("POST", rf"/repos/{repo}/actions/workflows/([^/]+)/dispatches", self._dispatch),
            ("GET", r"/repos/([^/]+/[^/]+)/releases/tags/([^/]+)", self._release),
            ("GET", r"/repos/([^/]+/[^/]+)/releases/assets/(\d+)", self._asset),
        ]
        for verb, pattern, handler in routes:
            found = re.fullmatch(pattern, path)
            if found and verb == method:
                return handler(*found.groups(), query=query, body=body or {})
        raise ApiError(404, "Not Found")

    def _page(self, path: str, items: list[Any], query: dict[str, str]) -> Answer:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        links = []
        for rel, number in (("next", page + 1), ("last", last)):
            if page < last:
                url = f"{self.url}{path}?{urllib.parse.urlencode({**query, 'page': number})}"
                links.append(f'<{url}>; rel="{rel}"')
        return 200, items[(page - 1) * per_page : page * per_page], {"Link": ", ".join(links)} if links else {}

    def _received(self) -> None:
        """What origin received since the last call: a deleted branch closes the open PRs from it."""
        log = self.origin / "pushes.log"
        if not log.exists():
            return
        lines = log.read_text().splitlines()
        log.write_text("")
        for _old, new, ref in (line.split() for line in lines):
            if set(new) == {"0"} and ref.startswith("refs/heads/"):
                for pull in self.open_pulls():
                    if not pull["head"]["repo"]["fork"] and pull["head"]["ref"] == ref.removeprefix("refs/heads/"):
                        pull["state"] = "closed"

    def _assets(self) -> list[tuple[str, str, str, bytes]]:
        return [
            (repo, tag, name, data) for (repo, tag), assets in self.releases.items() for name, data in assets.items()
        ]

    def _release(self, repository: str, tag: str, query: dict[str, str], body: Any) -> Answer:
        found = [
            (i, name, data) for i, (r, t, name, data) in enumerate(self._assets(), 1) if (r, t) == (repository, tag)
        ]
        if not found:
            raise ApiError(404, "Not Found")
        assets = [
            {
                "id": i,
                "name": name,
                "size": len(data),
                "url": f"{self.url}/repos/{repository}/releases/assets/{i}",
                "digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
            }
            for i, name, data in found
        ]
        return 200, {"tag_name": tag, "assets": assets}, {}

    def _asset(self, repository: str, number: str, query: dict[str, str], body: Any) -> Answer:
        if not 0 < int(number) <= len(self._assets()) or self._assets()[int(number) - 1][0] != repository:
            raise ApiError(404, "Not Found")
        if query.get("accept") != "octet-stream":
            return 200, {"id": int(number), "name": self._assets()[int(number) - 1][2]}, {}
        return 302, None, {"Location": f"{self.url}/storage/{number}"}

    def _storage(self, request: BaseHTTPRequestHandler, number: int) -> None:
        """The storage a release asset redirects to: it refuses a second credential, as S3 does."""
        refused = "Authorization" in request.headers
        _, _, name, data = self._assets()[number - 1]
        data = b"Only one auth mechanism allowed" if refused else data + (b"#" if name in self.tampered else b"")
        request.send_response(400 if refused else 200)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _branch(self, name: str) -> str | None:
        result = subprocess.run(
            ["git", "--git-dir", str(self.origin), "rev-parse", "--verify", "--quiet", f"refs/heads/{name}"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.strip() or None

    def _view(self, pull: dict[str, Any]) -> dict[str, Any]:
        """A PR as the API shows it: the head's sha is the branch's tip now (GitHub follows pushes)."""
        view: dict[str, Any] = json.loads(json.dumps(pull))
        if not view["head"]["repo"]["fork"] and view["state"] == "open":
            view["head"]["sha"] = self._branch(view["head"]["ref"]) or view["head"]["sha"]
        return view

    def _list_pulls(self, query: dict[str, str], body: Any) -> Answer:
        state = query.get("state", "open")
        pulls = [
            self._view(pull)
            for pull in sorted(self.pulls.values(), key=lambda p: p["number"], reverse=True)
            if state in ("all", pull["state"])
            and query.get("head", pull["head"]["label"]) == pull["head"]["label"]
            and query.get("base", pull["base"]["ref"]) == pull["base"]["ref"]
        ]
        return self._page(f"/repos/{self.repository}/pulls", pulls, query)

    def _new_pull(
        self, ref: str, owner: str, full_name: str, base: str, title: str, body: str, fork: bool, user: str
    ) -> int:
        number = max([*self.pulls, 0]) + 1
        self.pulls[number] = {
            "number": number,
            "state": "open",
            "title": title,
            "body": body,
            "html_url": f"https://github.com/{self.repository}/pull/{number}",
            "user": {"login": user},
            "head": {
                "ref": ref,
                "label": f"{owner}:{ref}",
                "sha": (None if fork else self._branch(ref)) or "0" * 40,
                "repo": {"full_name": full_name, "fork": fork},
            },
            "base": {"ref": base, "label": f"{self.owner}:{base}", "repo": {"full_name": self.repository}},
        }
        return number

    def _create_pull(self, query: dict[str, str], body: dict[str, Any]) -> Answer:
        head, base = str(body.get("head", "")), str(body.get("base", ""))
        owner, _, ref = head.rpartition(":")
        owner = owner or self.owner
        if owner != self.owner or not self._branch(ref):
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        if not self._branch(base):
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": "base", "code": "invalid"}])
        label = f"{owner}:{ref}"
        if any(p["head"]["label"] == label and p["base"]["ref"] == base for p in self.open_pulls()):
            error = {
                "resource": "PullRequest",
                "code": "custom",
                "message": f"A pull request already exists for {label}.",
            }
            raise ApiError(422, "Validation Failed", [error])
        title, text = str(body.get("title", "")), str(body.get("body") or "")
        number = self._new_pull(ref, owner, self.repository, base, title, text, False, BOT)
        return 201, self._view(self.pulls[number]), {}

    def _pull(self, number: str) -> dict[str, Any]:
        if int(number) not in self.pulls:
            raise ApiError(404, "Not Found")
        return self.pulls[int(number)]

    def _get_pull(self, number: str, query: dict[str, str], body: Any) -> Answer:
        return 200, self._view(self._pull(number)), {}

    def _update_pull(self, number: str, query: dict[str, str], body: dict[str, Any]) -> Answer:
        pull = self._pull(number)
        if body.get("state") not in (None, "open", "closed"):
            raise ApiError(422, "Validation Failed", [{"resource": "PullRequest", "field": "state", "code": "invalid"}])
        pull.update({key: body[key] for key in ("state", "title", "body") if key in body})
        return 200, self._view(pull), {}

    def _list_comments(self, number: str, query: dict[str, str], body: Any) -> Answer:
        self._pull(number)
        comments = [c for c in self.comments if c["issue"] == int(number)]
        return self._page(f"/repos/{self.repository}/issues/{number}/comments", comments, query)

    def _create_comment(self, number: str, query: dict[str, str], body: dict[str, Any]) -> Answer:
        self._pull(number)
        comment_id = len(self.comments) + 1
        comment = {"id": comment_id, "issue": int(number), "body": str(body.get("body", "")), "user": {"login": BOT}}
        comment["html_url"] = f"https://github.com/{self.repository}/pull/{number}#issuecomment-{comment_id}"
        self.comments.append(comment)
        return 201, comment, {}

    def _update_comment(self, comment_id: str, query: dict[str, str], body: dict[str, Any]) -> Answer:
        if not 0 < int(comment_id) <= len(self.comments):
            raise ApiError(404, "Not Found")
        comment = self.comments[int(comment_id) - 1]
        comment["body"] = str(body.get("body", ""))
        return 200, comment, {}

    def _create_status(self, sha: str, query: dict[str, str], body: dict[str, Any]) -> Answer:
        if body.get("state") not in ("error", "failure", "pending", "success"):
            raise ApiError(422, "Validation Failed", [{"resource": "Status", "field": "state", "code": "invalid"}])
        status = {"sha": sha, "context": body.get("context") or "default"}
        status |= {key: body.get(key) for key in ("state", "description", "target_url")}
        self.statuses.append(status)
        return 201, status, {}

    def _dispatch(self, workflow: str, query: dict[str, str], body: dict[str, Any]) -> Answer:
        ref = str(body.get("ref", ""))
        if not self._branch(ref.removeprefix("refs/heads/")):
            raise ApiError(422, f"No ref found for: {ref}")
        branch = ref.removeprefix("refs/heads/")
        shown = subprocess.run(
            ["git", "--git-dir", str(self.origin), "show", f"refs/heads/{branch}:.github/workflows/{workflow}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode:
            raise ApiError(404, "Not Found")
        parsed = yaml.safe_load(shown.stdout)
        triggers = parsed.get(True, parsed.get("on")) or {}  # YAML 1.1 reads a bare `on` as True
        if "workflow_dispatch" not in triggers:
            raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
        declared = set((triggers["workflow_dispatch"] or {}).get("inputs") or {})
        unexpected = sorted(set(body.get("inputs") or {}) - declared)
        if unexpected:
            raise ApiError(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
        self.dispatches.append({"workflow": workflow, "ref": ref, "inputs": body.get("inputs") or {}})
        return 204, None, {}
