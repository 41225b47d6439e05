"""GitHub's REST API with the standard library: the few calls the workflows make (pull requests, comments, commit
statuses, workflow dispatches), every page of a list, and the job's own token. Paths, fields and answers are those of
GitHub's OpenAPI description (@octokit/openapi, api.github.com.json)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrain.errors import BadInput, Failed
from retrain.io import vcs

API = "https://api.github.com"
PER_PAGE = 100  # the largest page GitHub serves
STATES = ("error", "failure", "pending", "success")  # repos/create-commit-status
DESCRIPTION = 140  # characters GitHub keeps of a commit status's description


class _Refuse(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None  # the redirect is an HTTPError with its Location, for the caller to follow


_NO_REDIRECT = urllib.request.build_opener(_Refuse)


class GitHubError(Failed):
    """GitHub answered an error: the method, the path, the status and GitHub's own message."""

    def __init__(self, method: str, path: str, status: int, answer: Any) -> None:
        message = answer.get("message", "") if isinstance(answer, dict) else str(answer)[:200]
        errors = answer.get("errors", []) if isinstance(answer, dict) else []
        details = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
        super().__init__(f"GitHub {method} {path}: {status} {message}{f' ({details})' if details else ''}")
        self.status, self.answer = status, answer


@dataclass(frozen=True)
class GitHub:
    repository: str  # owner/name
    token: str
    api: str = API

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> GitHub:
        """The repository, API and token a workflow step has: GITHUB_REPOSITORY, GITHUB_API_URL, and GITHUB_TOKEN
        (else GH_TOKEN), which the step must be given (`env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`)."""
        repository = env.get("GITHUB_REPOSITORY", "")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise BadInput(
                "GITHUB_REPOSITORY must name the repository as owner/name (GitHub Actions sets it; at a clone, "
                "origin's github.com URL names it)"
            )
        token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
        if not token:
            raise BadInput("no GitHub token: set GITHUB_TOKEN (in a workflow: ${{ secrets.GITHUB_TOKEN }})")
        return cls(repository, token, (env.get("GITHUB_API_URL") or API).rstrip("/"))

    @classmethod
    def for_checkout(cls, root: Path, env: Mapping[str, str] = os.environ) -> GitHub:
        """For a person at a clone: the repository from GITHUB_REPOSITORY, else origin's github.com URL; the token
        from GITHUB_TOKEN or GH_TOKEN, else `gh auth token` (after `gh auth login`)."""
        repository = env.get("GITHUB_REPOSITORY", "")
        if not repository:
            found = re.search(r"github\.com[:/]([\w.-]+/[\w.-]+?)(?:\.git)?/?$", vcs.origin_url(root))
            repository = found.group(1) if found else ""
        token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or ""
        gh = shutil.which("gh", path=env.get("PATH"))
        if not token and gh:
            token = subprocess.run([gh, "auth", "token"], capture_output=True, text=True, check=False).stdout.strip()
        if not token:
            raise BadInput("no GitHub token: run `gh auth login`, or set GITHUB_TOKEN to a token with admin rights")
        return cls.from_environment({**env, "GITHUB_REPOSITORY": repository, "GITHUB_TOKEN": token})

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    def call(self, method: str, path: str, body: Any = None, query: Mapping[str, Any] | None = None) -> Any:
        """One request; its JSON answer (None for 204). An error answer is GitHubError."""
        answer, _ = self._send(method, self._url(path, query), body)
        return answer

    def pages(self, path: str, query: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list, page after page, following the `Link: <...>; rel="next"` header."""
        url: str | None = self._url(path, {"per_page": PER_PAGE, **(query or {})})
        while url:
            answer, headers = self._send("GET", url, None)
            yield from answer
            found = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("Link", ""))
            url = found.group(1) if found else None

    def release_asset(self, repository: str, tag: str, name: str) -> bytes:
        """The asset `name` of `repository`'s release `tag`, fetched with this token (an anonymous call shares the
        runner address's 60 an hour) and checked against the sha256 digest the release API reports for it."""
        release = self.call("GET", f"repos/{repository}/releases/tags/{urllib.parse.quote(tag)}")
        asset = next((a for a in release.get("assets", []) if a.get("name") == name), None)
        if asset is None:
            raise BadInput(f"{repository} {tag} has no asset {name}")
        digest = asset.get("digest") or ""
        if not digest.startswith("sha256:"):
            raise Failed(f"the release API reports no sha256 digest for {name} of {repository} {tag}: not installed")
        request = urllib.request.Request(asset["url"], headers=self._headers() | {"Accept": "application/octet-stream"})
        try:  # GitHub answers 302 to its storage, which must not get the token: followed by hand, without it
            with _NO_REDIRECT.open(request, timeout=60) as response:
                data = response.read()
        except urllib.error.HTTPError as error:
            if error.code not in (301, 302, 303, 307, 308):
                raise GitHubError("GET", asset["url"], error.code, error.read().decode(errors="replace")) from None
            with urllib.request.urlopen(error.headers["Location"], timeout=60) as response:
                data = response.read()
        if f"sha256:{hashlib.sha256(data).hexdigest()}" != digest:
            raise Failed(f"{name} of {repository} {tag} does not match the digest the release API reports ({digest})")
        return bytes(data)

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "retrain",
        }

    def _url(self, path: str, query: Mapping[str, Any] | None) -> str:
        return f"{self.api}/{path.lstrip('/')}" + (f"?{urllib.parse.urlencode(query)}" if query else "")

    def _send(self, method: str, url: str, body: Any) -> tuple[Any, Mapping[str, str]]:
        request = urllib.request.Request(
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=self._headers() | ({"Content-Type": "application/json"} if body is not None else {}),
        )
        path = urllib.parse.urlsplit(url).path
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return (json.loads(raw) if raw else None), response.headers
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = raw.decode(errors="replace")
            raise GitHubError(method, path, error.code, answer) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise Failed(f"GitHub {method} {path}: no answer from {self.api} ({reason})") from None

    # --- the calls the workflows make ----------------------------------------------------------------------------

    def pulls(self, branch: str, base: str, state: str = "open") -> list[dict[str, Any]]:
        """The pull requests from this repository's `branch` into `base`, over every page. GitHub filters on
        `head=owner:branch` exactly; the answer is checked too, so a fork's PR from a branch of the same name (whose
        head is `contributor:branch`) is never taken for ours."""
        query = {"state": state, "head": f"{self.owner}:{branch}", "base": base}
        return [
            pull
            for pull in self.pages(f"repos/{self.repository}/pulls", query)
            if pull["head"]["ref"] == branch
            and (pull["head"].get("repo") or {}).get("full_name") == self.repository
            and pull["base"]["ref"] == base
        ]

    def open_pull(self, branch: str, base: str, title: str, body: str) -> dict[str, Any]:
        pull: dict[str, Any] = self.call(
            "POST", f"repos/{self.repository}/pulls", {"head": branch, "base": base, "title": title, "body": body}
        )
        return pull

    def close_pull(self, number: int, comment: str) -> None:
        self.call("POST", f"repos/{self.repository}/issues/{number}/comments", {"body": comment})
        self.call("PATCH", f"repos/{self.repository}/pulls/{number}", {"state": "closed"})

    def status(self, sha: str, context: str, state: str, description: str = "", url: str = "") -> None:
        """The commit status `context` on `sha`: what branch protection requires by name, from any source."""
        if state not in STATES:
            raise BadInput(f"a commit status is one of {', '.join(STATES)}, not {state!r}")
        body = {"state": state, "context": context, "description": description[:DESCRIPTION]}
        self.call("POST", f"repos/{self.repository}/statuses/{sha}", body | ({"target_url": url} if url else {}))

    def dispatch(self, workflow: str, ref: str, inputs: Mapping[str, str] | None = None) -> None:
        """Start `workflow` (its file name) on `ref`: one of the two events a GITHUB_TOKEN may start."""
        path = f"repos/{self.repository}/actions/workflows/{urllib.parse.quote(workflow)}/dispatches"
        self.call("POST", path, {"ref": ref, "inputs": dict(inputs or {})})

    def label(self, name: str, color: str, description: str) -> None:
        """The label `name` with this color and description: made, or updated when it differs (`gh label create
        --force`)."""
        path = f"repos/{self.repository}/labels/{urllib.parse.quote(name)}"
        wanted = {"color": color, "description": description}
        try:
            found = self.call("GET", path)
        except GitHubError as error:
            if error.status != 404:
                raise
            self.call("POST", f"repos/{self.repository}/labels", {"name": name, **wanted})
            return
        if (str(found.get("color", "")).upper(), found.get("description") or "") != (color.upper(), description):
            self.call("PATCH", path, wanted)

    def raise_issue(self, label: str, title: str, body: str) -> str:
        """The newest open issue labelled `label` gets `body` as a comment, or an issue is opened with `title` and
        `body`: one issue per kind of alert, however often it fires. The comment's or the issue's html_url. (The
        issues list also holds pull requests, which carry `pull_request`: never taken.)"""
        query = {"labels": label, "state": "open", "sort": "created", "direction": "desc"}
        found = next((i for i in self.pages(f"repos/{self.repository}/issues", query) if "pull_request" not in i), None)
        if found is not None:
            path = f"repos/{self.repository}/issues/{found['number']}/comments"
            return str(self.call("POST", path, {"body": body})["html_url"])
        made = self.call("POST", f"repos/{self.repository}/issues", {"title": title, "body": body, "labels": [label]})
        return str(made["html_url"])
