"""A stand-in for the part of GitHub's REST API that the workflows, `retrain github` and CML use, served over HTTP on
loopback, with the repository's branches and workflow files read from a real bare `origin`.

Every request is held to GitHub's own OpenAPI description (@octokit/openapi, generated/api.github.com.json; the
operations this project calls are extracted in tests/e2e/stubs/openapi/github-rest.json, with the package version):
a call outside the extract, a missing required field, a wrong type, is refused with GitHub's answer and recorded in
`violations`, and so is any answer of this stand-in that is not valid against the operation's response schema (the
`github` fixture fails the test when there are any). Answers are the description's own example for the operation
with this stand-in's fields over it (the example's `octocat/Hello-World` renamed to this repository).

Behaviours, from GitHub's REST documentation (docs.github.com/rest) unless another source is named:
- pulls/list: `state` (default open), `head` (`user:ref-name`, exact), `base`, `per_page` (default 30, at most 100),
  `page`; newest first (sort=created, direction desc by default); a `Link` header with rel="next" and rel="last";
- pulls/create: `head` (`branch` or `user:branch`), `base`, `title`, `body`; 201; 422 "Validation Failed" when the
  head or base branch does not exist or an open PR from that head into that base exists ("A pull request already
  exists for user:branch.");
- pulls/get, pulls/update (`state`: open or closed): 404 "Not Found" for an unknown number;
- issues and pull requests share one sequence of numbers; issues/list-for-repo (`state`, default open; `labels`,
  comma-separated, every one must be on the issue; newest first; paginated like pulls) lists pull requests too,
  each with a `pull_request` key ("GitHub's REST API considers every pull request an issue");
- issues/create: `title`, `body`, `labels`; a label the repository does not have is created, colour ededed and no
  description (ballerina-attic/ballerina-extended-library#453 for issues/create; github/docs#35718 for the colour);
- issues/list-comments (paginated like pulls, oldest first), issues/create-comment, issues/update-comment, on issues
  and pull requests alike;
- issues/get-label, issues/update-label (`new_name`, `color`, `description`): 404 for an unknown label;
  issues/create-label: colour ededed unless given, 422 "Validation Failed" with code already_exists for a name the
  repository has (yegor256/0pdd#160);
- repos/create-commit-status: `state` one of error, failure, pending, success (else 422: the description's enum),
  `context` (default "default"), `description`, `target_url`; 201;
- actions/create-workflow-dispatch: 204; 404 for a workflow file the ref does not have, 422 "No ref found for" an
  unknown ref, "Workflow does not have 'workflow_dispatch' trigger" (fcetool/fcetool#1), "Unexpected inputs
  provided", "Cannot trigger a 'workflow_dispatch' on a disabled workflow" (benc-uk/workflow-dispatch#72);
- actions/list-repo-workflows: the `.github/workflows/*.yml` (and .yaml) of origin's default branch, main: id, name
  (the file's `name:`, else its path), path, state from `workflow_states` (file name: active, disabled_manually,
  disabled_inactivity, disabled_fork): active, or disabled_fork for every workflow of a fork until it is enabled (a
  fork starts with its workflows disabled: "Disabling and enabling a workflow"; the repository's TOOLCHAIN.md);
  actions/enable-workflow (by id or file name) makes it active;
- actions/get|set-github-actions-permissions-repository (`enabled`, `allowed_actions`), actions/get|set-github-
  actions-default-workflow-permissions-repository (`default_workflow_permissions` read or write, read for
  repositories made since February 2023 (GitHub changelog, 2023-02-02); `can_approve_pull_request_reviews`, false):
  the repository's admin only;
- repos/get-environment (404 for an unknown one), repos/create-or-update-environment (`wait_timer`, `reviewers`,
  `prevent_self_review`, `deployment_branch_policy` {protected_branches, custom_branch_policies}: one of the two
  true and the other false, else 422, as the description's 422 says; null allows every branch),
  repos/list|create|get-deployment-branch-policy (`name`, `type` branch or tag; 404 unless the environment has
  custom_branch_policies; 303 to the existing policy for a name it has, as the description says). Plan limits ("About
  deployment environments"): in a private repository, environments, their secrets and deployment branches need GitHub
  Pro, Team or Enterprise, and the other protection rules (wait timer, required reviewers) Enterprise. GitHub answers
  a plan without the feature 422 "Fail to create protected rule, please ensure billing plan include protected branch
  gate." (integrations/terraform-provider-github#1262, #1311; pulumi/pulumi-github#251, on Team private repositories
  for reviewers and wait timers); that answer is used for every environment write on a Free private repository too
  (no record of GitHub's answer there was found), and such a repository shows no environment (404);
- repos/get-branch-protection, repos/update-branch-protection (`required_status_checks` {strict, contexts, checks
  [{context, app_id}]}, `enforce_admins`, `required_pull_request_reviews`, `restrictions`, each null to turn it off):
  `protection` holds each branch's protection as GET answers it; 404 "Branch not protected" for a branch without,
  "Branch not found" for none; in a private repository on GitHub Free, 403 "Upgrade to GitHub Pro or make this
  repository public to enable this feature." (ossf/allstar#37 and openshift/release#58320 for GET,
  OpenDigitalProductFactory/opendigitalproductfactory#103 for PUT); without admin rights 404 "Not Found"
  (ossf/scorecard#138: the endpoint answers only admins; octokit/octokit.rb#870); repos/get-branch: `protected`;
- actions/get|create|update-repo-variable: 404 for an unknown name, 409 for creating a known one (cli/cli#6928);
  actions/list-repo-secrets and actions/list-environment-secrets: names and dates, never values;
- actions/list-self-hosted-runners-for-repo: `runners` (id, name, os, status online or offline, busy, labels), the
  repository's admin only;
- the repository's admin only, as above: without admin rights GitHub answers 403 "Must have admin rights to
  Repository." (tchelovilar/github-org-runner-exporter#15 for runners, infrahouse/infrahouse-toolkit#85);
  repos/get shows the token's `permissions`, `private`, `visibility` and `fork`;
- repos/get-release-by-tag (any repository): its assets with `url` and `digest` ("sha256:<hex>"), 404 for an unknown
  tag; repos/get-release-asset with `Accept: application/octet-stream`: 302 to the storage, which refuses a request
  that carries the token (S3: "Only one auth mechanism allowed");
- a PR whose head branch is deleted is closed (origin's post-receive hook logs what it received to pushes.log);
- every call needs a token (`Authorization: Bearer|token <token>`), else 401 "Requires authentication"; error bodies
  carry `status` as a string, as GitHub's do (openshift/release#58320).
A PR, issue or comment made with the workflow's token is by `github-actions[bot]`."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
import subprocess
import threading
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.stubs.openapi import DOCS, Call, Description, Refused

BOT = "github-actions[bot]"
ADMIN_ONLY = "Must have admin rights to Repository."
UPGRADE = "Upgrade to GitHub Pro or make this repository public to enable this feature."
BILLING = "Fail to create protected rule, please ensure billing plan include protected branch gate."
ANY_REPOSITORY = ("repos/get-release-by-tag", "repos/get-release-asset")  # the rest answer for `repository` only
Answer = tuple[int, Any, dict[str, str]]


@functools.cache
def description() -> Description:
    return Description()


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
        if errors:
            self.body["errors"] = errors


def _merged(base: Any, own: Any) -> Any:
    """`own` over `base`: objects merged key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(own, dict):
        return {**base, **{key: _merged(base.get(key), value) for key, value in own.items()}}
    return copy.deepcopy(own)


def _renamed(node: Any, names: dict[str, str]) -> Any:
    """Every string of `node` with each old name replaced by the new one, in order."""
    if isinstance(node, str):
        for old, new in names.items():
            node = node.replace(old, new)
        return node
    if isinstance(node, dict):
        return {key: _renamed(value, names) for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(value, names) for value in node]
    return node


def _id(text: str) -> int:
    """A stable id for a user, repository, workflow or label."""
    return zlib.crc32(text.encode()) % 100_000_000 + 1


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class GitHubStandIn:
    origin: Path  # the bare repository that holds the branches
    repository: str = "acme/retrain"
    token: str = "test-token"
    # the repository and the token
    private: bool = False
    plan: str = "free"  # the owner's plan: free, pro, team or enterprise
    fork: bool = False
    admin: bool = True  # the token has admin rights on the repository
    # Actions settings
    actions_enabled: bool = True
    allowed_actions: str = "all"
    workflow_permissions: dict[str, Any] = field(
        default_factory=lambda: {"default_workflow_permissions": "read", "can_approve_pull_request_reviews": False}
    )
    workflow_states: dict[str, str] = field(default_factory=dict)  # file name: state (default active)
    variables: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)  # repository secrets: names only
    environment_secrets: dict[str, set[str]] = field(default_factory=dict)
    runners: list[dict[str, Any]] = field(default_factory=list)
    # name: deployment_branch_policy, branch_policies [{name, type}], wait_timer, reviewers, prevent_self_review
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    protection: dict[str, dict[str, Any]] = field(default_factory=dict)  # branch: protection as GET answers it
    # issues, pull requests and what is posted on them
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # name: color, description
    comments: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    releases: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)  # (repository, tag): assets
    tampered: set[str] = field(default_factory=set)  # assets whose storage serves bytes the digest does not name
    # what the test reads
    calls: list[tuple[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)  # requests and answers the description does not allow
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    @property
    def name(self) -> str:
        return self.repository.split("/")[1]

    # --- the test's side ---------------------------------------------------------------------------------------
    def start(self) -> GitHubStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in._serve(self)

            do_POST = do_PATCH = do_PUT = do_DELETE = do_GET  # noqa: N815

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
        return self._new_pull(head, owner, f"{owner}/{self.name}", base, title, "", fork is not None, "contributor")

    def open_issue(self, title: str, labels: tuple[str, ...] = (), body: str = "", user: str = "contributor") -> int:
        """An issue opened by someone else, with labels the repository has (or gets)."""
        for name in labels:
            self.labels.setdefault(name, {"color": "ededed", "description": None})
        return self._new_issue(title, body, list(labels), user)

    def issues_labelled(self, label: str) -> list[dict[str, Any]]:
        """The open issues (not pull requests) with `label`, oldest first."""
        return [i for _, i in sorted(self.issues.items()) if i["state"] == "open" and label in i["labels"]]

    def open_pulls(self) -> list[dict[str, Any]]:
        return [pull for pull in self.pulls.values() if pull["state"] == "open"]

    def comments_on(self, number: int) -> list[str]:
        return [comment["body"] for comment in self.comments if comment["issue"] == number]

    # --- the API -----------------------------------------------------------------------------------------------
    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(request.path)
        download = re.fullmatch(r"/storage/(\d+)", parts.path)
        if download:
            return self._storage(request, int(download.group(1)))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        accept = request.headers.get("Accept", "")
        with self._lock:
            self.calls.append((request.command, parts.path))
            try:
                call = description().request(request.command, parts.path, parts.query, raw, accept)
            except Refused as refused:
                self.violations.append(f"refused: {refused.problem}")
                return self._send(request, refused.status, refused.body, {})
            try:
                if request.headers.get("Authorization", "").split(" ")[-1] != self.token:
                    raise ApiError(401, "Requires authentication")
                self._received()
                status, answer, headers = self._route(call)
            except ApiError as error:
                status, answer, headers = error.status, error.body, {}
            for problem in description().answer(call.operation, status, answer):
                self.violations.append(f"the stand-in's answer to {request.command} {request.path}: {problem}")
        self._send(request, status, answer, headers)

    def _send(self, request: BaseHTTPRequestHandler, status: int, answer: Any, headers: dict[str, str]) -> None:
        data = b"" if answer is None else json.dumps(answer).encode()
        request.send_response(status)
        for name, value in ({"Content-Type": "application/json"} if data else {}).items():
            request.send_header(name, value)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _route(self, call: Call) -> Answer:
        name = call.operation.name
        if name not in ANY_REPOSITORY and f"{call.path['owner']}/{call.path['repo']}" != self.repository:
            raise ApiError(404, "Not Found")
        handlers: dict[str, Callable[[Call], Answer]] = {
            "pulls/list": self._list_pulls,
            "pulls/create": self._create_pull,
            "pulls/get": self._get_pull,
            "pulls/update": self._update_pull,
            "issues/list-comments": self._list_comments,
            "issues/create-comment": self._create_comment,
            "issues/update-comment": self._update_comment,
            "repos/create-commit-status": self._create_status,
            "actions/create-workflow-dispatch": self._dispatch,
            "repos/get-release-by-tag": self._release,
            "repos/get-release-asset": self._asset,
            "issues/get-label": self._get_label,
            "issues/create-label": self._create_label,
            "issues/update-label": self._update_label,
            "issues/list-for-repo": self._list_issues,
            "issues/create": self._create_issue,
            "repos/get": self._get_repository,
            "actions/get-github-actions-permissions-repository": self._get_actions_permissions,
            "actions/set-github-actions-permissions-repository": self._set_actions_permissions,
            "actions/list-repo-workflows": self._list_workflows,
            "actions/enable-workflow": self._enable_workflow,
            "actions/get-github-actions-default-workflow-permissions-repository": self._get_workflow_permissions,
            "actions/set-github-actions-default-workflow-permissions-repository": self._set_workflow_permissions,
            "repos/get-environment": self._get_environment,
            "repos/create-or-update-environment": self._put_environment,
            "repos/list-deployment-branch-policies": self._list_branch_policies,
            "repos/create-deployment-branch-policy": self._create_branch_policy,
            "repos/get-deployment-branch-policy": self._get_branch_policy,
            "repos/get-branch-protection": self._get_protection,
            "repos/update-branch-protection": self._put_protection,
            "actions/get-repo-variable": self._get_variable,
            "actions/create-repo-variable": self._create_variable,
            "actions/update-repo-variable": self._update_variable,
            "actions/list-repo-secrets": self._list_secrets,
            "actions/list-environment-secrets": self._list_environment_secrets,
            "actions/list-self-hosted-runners-for-repo": self._list_runners,
            "repos/get-branch": self._get_branch,
        }
        return handlers[name](call)

    # --- shared pieces -----------------------------------------------------------------------------------------
    def _example(self, operation: str, status: str) -> Any:
        """The description's example answer, its repository renamed to this one and its API URL to this server."""
        names = {"https://api.github.com": self.url, "octocat/Hello-World": self.repository}
        return _renamed(description().example(operation, status), names)

    def _user(self, login: str) -> dict[str, Any]:
        user = _renamed(description().example("pulls/get", "200")["user"], {"https://api.github.com": self.url})
        user = _renamed(user, {"octocat": login})
        kind = "Bot" if login.endswith("[bot]") else "User"
        return dict(user) | {"login": login, "id": _id(login), "node_id": f"U_{_id(login)}", "type": kind}

    def _repo(self, full_name: str, fork: bool) -> dict[str, Any]:
        """A repository as a PR's head or base shows it."""
        owner, name = full_name.split("/")
        repo = description().example("pulls/get", "200")["base"]["repo"]
        repo = _renamed(repo, {"https://api.github.com": self.url, "octocat/Hello-World": full_name})
        own = {"id": _id(full_name), "name": name, "full_name": full_name, "owner": self._user(owner), "fork": fork}
        own |= {"private": self.private, "visibility": "private" if self.private else "public"}
        return dict(_merged(repo, own | {"default_branch": "main"}))

    def _page(self, call: Call, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` (`per_page`, default 30, at most 100; `page`) and its Link header."""
        per_page = min(int(call.query.get("per_page", 30)), 100)
        page = int(call.query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        path = call.operation.template.format(**call.path)
        links = []
        for rel, number in (("next", page + 1), ("last", last)):
            if page < last:
                url = f"{self.url}{path}?{urllib.parse.urlencode({**call.query, 'page': number})}"
                links.append(f'<{url}>; rel="{rel}"')
        return items[(page - 1) * per_page : page * per_page], {"Link": ", ".join(links)} if links else {}

    def _listed(self, call: Call, key: str, items: list[Any]) -> Answer:
        """A list GitHub wraps in an object with its `total_count`."""
        page, headers = self._page(call, items)
        return 200, {"total_count": len(items), key: page}, headers

    def _admin(self) -> None:
        if not self.admin:
            raise ApiError(403, ADMIN_ONLY)

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
                        pull["state"], pull["closed_at"] = "closed", _now()

    def _git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "--git-dir", str(self.origin), *args], capture_output=True, text=True, check=False
        )

    def _branch(self, name: str) -> str | None:
        return self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{name}").stdout.strip() or None

    def _number(self) -> int:
        """The next number of an issue or a pull request: they share one sequence."""
        return max([*self.pulls, *self.issues, 0]) + 1

    # --- pull requests -----------------------------------------------------------------------------------------
    def _new_pull(
        self, ref: str, owner: str, full_name: str, base: str, title: str, body: str, fork: bool, user: str
    ) -> int:
        number, now = self._number(), _now()
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
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        }
        return number

    def _pull(self, number: int) -> dict[str, Any]:
        if number not in self.pulls:
            raise ApiError(404, "Not Found")
        return self.pulls[number]

    def _view(self, pull: dict[str, Any], operation: str = "pulls/get", status: str = "200") -> dict[str, Any]:
        """A PR as the API shows it: the head's sha is the branch's tip now (GitHub follows pushes)."""
        example = self._example(operation, status)
        number, head, base = pull["number"], pull["head"], pull["base"]
        view = _renamed(example[0] if isinstance(example, list) else example, {"/1347": f"/{number}"})
        sha = head["sha"]
        if not head["repo"]["fork"] and pull["state"] == "open":
            sha = self._branch(head["ref"]) or sha
        head_owner = head["label"].split(":")[0]
        own = {
            "id": _id(f"pull {number}"),
            "node_id": f"PR_{number}",
            "number": number,
            "state": pull["state"],
            "title": pull["title"],
            "body": pull["body"],
            "html_url": pull["html_url"],
            "statuses_url": f"{self.url}/repos/{self.repository}/statuses/{sha}",
            "user": self._user(pull["user"]["login"]),
            "locked": False,
            "active_lock_reason": None,
            "labels": [],
            "milestone": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "created_at": pull["created_at"],
            "updated_at": pull["updated_at"],
            "closed_at": pull["closed_at"],
            "merged_at": None,
            "merge_commit_sha": None,
            "author_association": "NONE" if head["repo"]["fork"] else "COLLABORATOR",
            "draft": False,
            "head": {
                "label": head["label"],
                "ref": head["ref"],
                "sha": sha,
                "user": self._user(head_owner),
                "repo": self._repo(head["repo"]["full_name"], head["repo"]["fork"]),
            },
            "base": {
                "label": base["label"],
                "ref": base["ref"],
                "sha": self._branch(base["ref"]) or "0" * 40,
                "user": self._user(self.owner),
                "repo": self._repo(self.repository, self.fork),
            },
        }
        if "merged" in view:  # pull-request, not pull-request-simple
            own |= {"merged": False, "merged_by": None, "mergeable": None, "rebaseable": None}
            own |= {"mergeable_state": "unknown", "comments": len(self.comments_on(number))}
        return dict(_merged(view, own))

    def _list_pulls(self, call: Call) -> Answer:
        state = call.query.get("state", "open")
        pulls = [
            self._view(pull, "pulls/list", "200")
            for pull in sorted(self.pulls.values(), key=lambda p: p["number"], reverse=True)
            if state in ("all", pull["state"])
            and call.query.get("head", pull["head"]["label"]) == pull["head"]["label"]
            and call.query.get("base", pull["base"]["ref"]) == pull["base"]["ref"]
        ]
        page, headers = self._page(call, pulls)
        return 200, page, headers

    def _create_pull(self, call: Call) -> Answer:
        body = call.body
        owner, _, ref = str(body["head"]).rpartition(":")
        owner, base = owner or self.owner, str(body["base"])
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
        return 201, self._view(self.pulls[number], "pulls/create", "201"), {}

    def _get_pull(self, call: Call) -> Answer:
        return 200, self._view(self._pull(call.path["pull_number"])), {}

    def _update_pull(self, call: Call) -> Answer:
        pull = self._pull(call.path["pull_number"])
        body = call.body or {}
        if body.get("state") == "closed" and pull["state"] == "open":
            pull["closed_at"] = _now()
        elif body.get("state") == "open":
            pull["closed_at"] = None
        pull.update({key: body[key] for key in ("state", "title", "body") if key in body})
        pull["updated_at"] = _now()
        return 200, self._view(pull, "pulls/update", "200"), {}

    # --- issues, labels and comments ---------------------------------------------------------------------------
    def _new_issue(self, title: str, body: str, labels: list[str], user: str) -> int:
        number, now = self._number(), _now()
        self.issues[number] = {
            "number": number,
            "state": "open",
            "title": title,
            "body": body,
            "labels": labels,
            "user": {"login": user},
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        }
        return number

    def _issue_or_pull(self, number: int) -> dict[str, Any]:
        found = self.issues.get(number) or self.pulls.get(number)
        if found is None:
            raise ApiError(404, "Not Found")
        return found

    def _issue_view(self, number: int, operation: str = "issues/create", status: str = "201") -> dict[str, Any]:
        """An issue, or a pull request as an issue (with its `pull_request` key)."""
        item = self._issue_or_pull(number)
        example = self._example(operation, status)
        view = _renamed(example[0] if isinstance(example, list) else example, {"/1347": f"/{number}"})
        view.pop("pull_request", None)
        html = f"https://github.com/{self.repository}/issues/{number}"
        own = {
            "id": _id(f"issue {number}"),
            "node_id": f"I_{number}",
            "number": number,
            "title": item["title"],
            "body": item["body"],
            "state": item["state"],
            "state_reason": None if item["state"] == "open" else "completed",
            "user": self._user(item["user"]["login"]),
            "labels": [self._label_view(name) for name in item.get("labels", [])],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(self.comments_on(number)),
            "created_at": item["created_at"],
            "updated_at": item["updated_at"],
            "closed_at": item["closed_at"],
            "closed_by": None,
            "author_association": "NONE",
            "html_url": item.get("html_url", html),
        }
        if number in self.pulls:
            api = f"{self.url}/repos/{self.repository}/pulls/{number}"
            own["pull_request"] = {"url": api, "html_url": item["html_url"], "merged_at": None}
            own["pull_request"] |= {"diff_url": f"{item['html_url']}.diff", "patch_url": f"{item['html_url']}.patch"}
        return dict(_merged(view, own))

    def _list_issues(self, call: Call) -> Answer:
        state = call.query.get("state", "open")
        wanted = {name.strip() for name in str(call.query.get("labels", "")).split(",") if name.strip()}
        numbers = [
            number
            for number in sorted({*self.issues, *self.pulls}, reverse=True)
            if state in ("all", self._issue_or_pull(number)["state"])
            and wanted <= set(self._issue_or_pull(number).get("labels", []))
        ]
        page, headers = self._page(call, numbers)
        return 200, [self._issue_view(number, "issues/list-for-repo", "200") for number in page], headers

    def _create_issue(self, call: Call) -> Answer:
        body = call.body
        names = [label if isinstance(label, str) else label.get("name", "") for label in body.get("labels", [])]
        for name in names:  # a label the repository lacks is created
            self.labels.setdefault(name, {"color": "ededed", "description": None})
        number = self._new_issue(str(body["title"]), str(body.get("body") or ""), names, BOT)
        return 201, self._issue_view(number), {}

    def _label_view(self, name: str) -> dict[str, Any]:
        label = self.labels[name]
        own = {"id": _id(f"label {name}"), "node_id": f"LA_{_id(name)}", "name": name, "default": False}
        own |= {"url": f"{self.url}/repos/{self.repository}/labels/{urllib.parse.quote(name, safe='')}"}
        own |= {"color": label.get("color", "ededed"), "description": label.get("description")}
        return dict(_merged(self._example("issues/get-label", "200"), own))

    def _label(self, name: str) -> dict[str, Any]:
        if name not in self.labels:
            raise ApiError(404, "Not Found")
        return self.labels[name]

    def _get_label(self, call: Call) -> Answer:
        self._label(call.path["name"])
        return 200, self._label_view(call.path["name"]), {}

    def _create_label(self, call: Call) -> Answer:
        name = str(call.body["name"])
        if name in self.labels:
            raise ApiError(422, "Validation Failed", [{"resource": "Label", "code": "already_exists", "field": "name"}])
        self.labels[name] = {"color": call.body.get("color", "ededed"), "description": call.body.get("description")}
        return 201, self._label_view(name), {}

    def _update_label(self, call: Call) -> Answer:
        name, body = call.path["name"], call.body or {}
        label = self._label(name)
        label.update({key: body[key] for key in ("color", "description") if key in body})
        if body.get("new_name", name) != name:
            self.labels[body["new_name"]] = self.labels.pop(name)
            for item in [*self.issues.values(), *self.pulls.values()]:
                item["labels"] = [body["new_name"] if n == name else n for n in item.get("labels", [])]
            name = body["new_name"]
        return 200, self._label_view(name), {}

    def _comment_view(self, comment: dict[str, Any]) -> dict[str, Any]:
        api = f"{self.url}/repos/{self.repository}/issues"
        own = {"id": comment["id"], "node_id": f"IC_{comment['id']}", "url": f"{api}/comments/{comment['id']}"}
        own |= {"html_url": comment["html_url"], "issue_url": f"{api}/{comment['issue']}", "body": comment["body"]}
        own |= {"user": self._user(comment["user"]["login"]), "author_association": "NONE"}
        own |= {"created_at": comment["created_at"], "updated_at": comment["updated_at"]}
        return dict(_merged(self._example("issues/create-comment", "201"), own))

    def _list_comments(self, call: Call) -> Answer:
        number = call.path["issue_number"]
        self._issue_or_pull(number)
        comments = [self._comment_view(c) for c in self.comments if c["issue"] == number]
        page, headers = self._page(call, comments)
        return 200, page, headers

    def _create_comment(self, call: Call) -> Answer:
        number = call.path["issue_number"]
        kind = "pull" if number in self.pulls else "issues"
        self._issue_or_pull(number)
        comment_id, now = len(self.comments) + 1, _now()
        comment = {"id": comment_id, "issue": number, "body": str(call.body["body"]), "user": {"login": BOT}}
        comment["html_url"] = f"https://github.com/{self.repository}/{kind}/{number}#issuecomment-{comment_id}"
        comment |= {"created_at": now, "updated_at": now}
        self.comments.append(comment)
        return 201, self._comment_view(comment), {}

    def _update_comment(self, call: Call) -> Answer:
        comment_id = call.path["comment_id"]
        if not 0 < comment_id <= len(self.comments):
            raise ApiError(404, "Not Found")
        comment = self.comments[comment_id - 1]
        comment["body"], comment["updated_at"] = str(call.body["body"]), _now()
        return 200, self._comment_view(comment), {}

    # --- commit statuses, workflows and dispatches -------------------------------------------------------------
    def _create_status(self, call: Call) -> Answer:
        sha, body = call.path["sha"], call.body
        status = {"sha": sha, "context": body.get("context") or "default"}
        status |= {key: body.get(key) for key in ("state", "description", "target_url")}
        self.statuses.append(status)
        now, number = _now(), len(self.statuses)
        own = {key: status[key] for key in ("state", "description", "target_url", "context")}
        own |= {"id": number, "node_id": f"SC_{number}", "url": f"{self.url}/repos/{self.repository}/statuses/{sha}"}
        own |= {"creator": self._user(BOT), "created_at": now, "updated_at": now}
        return 201, _merged(self._example("repos/create-commit-status", "201"), own), {}

    def _workflow_files(self) -> dict[str, dict[str, Any]]:
        """The workflows of origin's default branch, by file name: path, name, id, the parsed file."""
        listed = self._git("ls-tree", "--name-only", "refs/heads/main", ".github/workflows/").stdout.split()
        found = {}
        for path in sorted(p for p in listed if p.endswith((".yml", ".yaml"))):
            parsed = yaml.safe_load(self._git("show", f"refs/heads/main:{path}").stdout) or {}
            name = parsed.get("name", path) if isinstance(parsed, dict) else path
            found[Path(path).name] = {"path": path, "name": str(name), "id": _id(path)}
        return found

    def _workflow_state(self, file: str) -> str:
        return self.workflow_states.get(file, "disabled_fork" if self.fork else "active")

    def _workflow(self, workflow_id: int | str) -> str:
        """The file name of a workflow given by id or file name; 404 if origin's main has none."""
        for file, workflow in self._workflow_files().items():
            if str(workflow_id) in (file, str(workflow["id"])):  # the path parameter is text
                return file
        raise ApiError(404, "Not Found")

    def _list_workflows(self, call: Call) -> Answer:
        example = self._example("actions/list-repo-workflows", "200")["workflows"][0]
        workflows = []
        for file, workflow in self._workflow_files().items():
            own = {"id": workflow["id"], "node_id": f"W_{workflow['id']}", "name": workflow["name"]}
            own |= {"path": workflow["path"], "state": self._workflow_state(file)}
            own |= {"url": f"{self.url}/repos/{self.repository}/actions/workflows/{workflow['id']}"}
            own |= {"html_url": f"https://github.com/{self.repository}/blob/main/{workflow['path']}"}
            own |= {"badge_url": f"https://github.com/{self.repository}/workflows/{workflow['name']}/badge.svg"}
            workflows.append(_merged(example, own))
        return self._listed(call, "workflows", workflows)

    def _enable_workflow(self, call: Call) -> Answer:
        self.workflow_states[self._workflow(call.path["workflow_id"])] = "active"
        return 204, None, {}

    def _dispatch(self, call: Call) -> Answer:
        given, body = call.path["workflow_id"], call.body
        workflow = self._workflow(given) if str(given).isdigit() else str(given)  # an id, or a file name
        ref = str(body["ref"])
        branch = ref.removeprefix("refs/heads/")
        if not self._branch(branch):
            raise ApiError(422, f"No ref found for: {ref}")
        shown = self._git("show", f"refs/heads/{branch}:.github/workflows/{workflow}")
        if shown.returncode:
            raise ApiError(404, "Not Found")
        parsed = yaml.safe_load(shown.stdout)
        triggers = parsed.get(True, parsed.get("on")) or {}  # YAML 1.1 reads a bare `on` as True
        if "workflow_dispatch" not in triggers:
            raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
        if self._workflow_state(workflow) != "active":
            raise ApiError(422, "Cannot trigger a 'workflow_dispatch' on a disabled workflow")
        declared = set((triggers["workflow_dispatch"] or {}).get("inputs") or {})
        unexpected = sorted(set(body.get("inputs") or {}) - declared)
        if unexpected:
            raise ApiError(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
        self.dispatches.append({"workflow": workflow, "ref": ref, "inputs": body.get("inputs") or {}})
        return 204, None, {}

    # --- the repository and its Actions settings ---------------------------------------------------------------
    def _get_repository(self, call: Call) -> Answer:
        example = _renamed(self._example("repos/get", "200"), {"Hello-World": self.name})
        for key in ("parent", "source", "template_repository", "organization"):
            example.pop(key, None)
        visibility = "private" if self.private else "public"
        permissions = {"admin": self.admin, "maintain": self.admin, "push": True, "triage": True, "pull": True}
        own = {"id": _id(self.repository), "node_id": f"R_{_id(self.repository)}", "name": self.name}
        own |= {"full_name": self.repository, "owner": self._user(self.owner), "private": self.private}
        own |= {"visibility": visibility, "fork": self.fork, "default_branch": "main", "language": "Python"}
        own |= {"permissions": permissions, "description": None, "homepage": None, "license": None}
        if self.fork:  # a fork names the repository it was forked from
            upstream = self._repo(f"upstream/{self.name}", False) | {"language": "Python"}
            own |= {"parent": upstream, "source": upstream}
        return 200, _merged(example, own), {}

    def _get_actions_permissions(self, call: Call) -> Answer:
        self._admin()
        answer: dict[str, Any] = {"enabled": self.actions_enabled}
        if self.actions_enabled:
            answer["allowed_actions"] = self.allowed_actions
            if self.allowed_actions == "selected":
                answer["selected_actions_url"] = (
                    f"{self.url}/repos/{self.repository}/actions/permissions/selected-actions"
                )
        return 200, answer, {}

    def _set_actions_permissions(self, call: Call) -> Answer:
        self._admin()
        self.actions_enabled = call.body["enabled"]
        self.allowed_actions = call.body.get("allowed_actions", self.allowed_actions)
        return 204, None, {}

    def _get_workflow_permissions(self, call: Call) -> Answer:
        self._admin()
        return 200, dict(self.workflow_permissions), {}

    def _set_workflow_permissions(self, call: Call) -> Answer:
        self._admin()
        self.workflow_permissions.update(call.body)
        return 204, None, {}

    def _get_variable(self, call: Call) -> Answer:
        name = call.path["name"]
        if name not in self.variables:
            raise ApiError(404, "Not Found")
        now = _now()
        return 200, {"name": name, "value": self.variables[name], "created_at": now, "updated_at": now}, {}

    def _create_variable(self, call: Call) -> Answer:
        name = str(call.body["name"])
        if name in self.variables:
            raise ApiError(409, "Already exists - Variable already exists")
        self.variables[name] = str(call.body["value"])
        return 201, {}, {}

    def _update_variable(self, call: Call) -> Answer:
        name = call.path["name"]
        if name not in self.variables:
            raise ApiError(404, "Not Found")
        value = self.variables.pop(name)
        self.variables[str(call.body.get("name", name))] = str(call.body.get("value", value))
        return 204, None, {}

    def _secrets(self, call: Call, names: set[str]) -> Answer:
        now = _now()
        return self._listed(call, "secrets", [{"name": n, "created_at": now, "updated_at": now} for n in sorted(names)])

    def _list_secrets(self, call: Call) -> Answer:
        return self._secrets(call, self.secrets)

    def _list_environment_secrets(self, call: Call) -> Answer:
        name = self._environment(call.path["environment_name"])
        return self._secrets(call, self.environment_secrets.get(name, set()))

    def _list_runners(self, call: Call) -> Answer:
        self._admin()
        example = self._example("actions/list-self-hosted-runners-for-repo", "200")["runners"][0]
        return self._listed(call, "runners", [_merged(example, runner) for runner in self.runners])

    # --- environments ------------------------------------------------------------------------------------------
    def _environments_allowed(self) -> bool:
        """Environments exist in public repositories, and in private ones on GitHub Pro, Team or Enterprise."""
        return not self.private or self.plan != "free"

    def _environment(self, name: str) -> str:
        if name not in self.environments or not self._environments_allowed():
            raise ApiError(404, "Not Found")
        return name

    def _environment_view(self, name: str) -> dict[str, Any]:
        environment, base = self.environments[name], _id(f"environment {name}")
        rules: list[dict[str, Any]] = []
        if environment.get("wait_timer"):
            rules.append({"id": base + 1, "node_id": f"GA_{base + 1}", "type": "wait_timer"})
            rules[-1]["wait_timer"] = environment["wait_timer"]
        if environment.get("reviewers"):
            reviewers = [
                {"type": r.get("type", "User"), "reviewer": self._user(f"reviewer-{r.get('id')}") | {"id": r.get("id")}}
                for r in environment["reviewers"]
            ]
            rules.append({"id": base + 2, "node_id": f"GA_{base + 2}", "type": "required_reviewers"})
            rules[-1] |= {"prevent_self_review": bool(environment.get("prevent_self_review")), "reviewers": reviewers}
        if environment.get("deployment_branch_policy"):
            rules.append({"id": base + 3, "node_id": f"GA_{base + 3}", "type": "branch_policy"})
        quoted = urllib.parse.quote(name, safe="")
        own = {"id": base, "node_id": f"EN_{base}", "name": name, "protection_rules": rules}
        own |= {"url": f"{self.url}/repos/{self.repository}/environments/{quoted}"}
        own |= {
            "html_url": f"https://github.com/{self.repository}/deployments/activity_log?environments_filter={quoted}"
        }
        own |= {"created_at": environment.setdefault("created_at", _now()), "updated_at": _now()}
        view = dict(_merged(self._example("repos/get-environment", "200"), own))
        view["deployment_branch_policy"] = environment.get("deployment_branch_policy")
        view["protection_rules"] = rules
        return view

    def _get_environment(self, call: Call) -> Answer:
        return 200, self._environment_view(self._environment(call.path["environment_name"])), {}

    def _put_environment(self, call: Call) -> Answer:
        self._admin()
        name, body = call.path["environment_name"], call.body or {}
        rules = {"wait_timer", "reviewers", "prevent_self_review"} & set(body)
        if not self._environments_allowed() or (self.private and self.plan != "enterprise" and rules):
            raise ApiError(422, BILLING)
        policy = body.get("deployment_branch_policy")
        if policy and policy["protected_branches"] == policy["custom_branch_policies"]:
            raise ApiError(422, "protected_branches and custom_branch_policies cannot have the same value")
        environment = self.environments.setdefault(name, {})
        environment.update(
            {key: body[key] for key in ("wait_timer", "reviewers", "prevent_self_review") if key in body}
        )
        environment["deployment_branch_policy"] = policy
        environment.setdefault("branch_policies", [])
        return 200, self._environment_view(name), {}

    def _branch_policies(self, call: Call) -> list[dict[str, Any]]:
        """The custom deployment branch policies of an environment that has them, else 404 (the description)."""
        environment = self.environments[self._environment(call.path["environment_name"])]
        if not (environment.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
            raise ApiError(404, "Not Found")
        policies: list[dict[str, Any]] = environment.setdefault("branch_policies", [])
        return policies

    def _policy_view(self, environment: str, index: int, policy: dict[str, Any]) -> dict[str, Any]:
        number = _id(f"policy {environment} {index}")
        return {"id": number, "node_id": f"BP_{number}", "name": policy["name"], "type": policy.get("type", "branch")}

    def _list_branch_policies(self, call: Call) -> Answer:
        name = call.path["environment_name"]
        views = [self._policy_view(name, i, p) for i, p in enumerate(self._branch_policies(call))]
        page, headers = self._page(call, views)
        return 200, {"total_count": len(views), "branch_policies": page}, headers

    def _create_branch_policy(self, call: Call) -> Answer:
        self._admin()
        policies, name = self._branch_policies(call), call.path["environment_name"]
        policy = {"name": call.body["name"], "type": call.body.get("type", "branch")}
        if policy in policies:  # the same name pattern: 303 to the policy that has it
            view = self._policy_view(name, policies.index(policy), policy)
            location = f"{self.url}/repos/{self.repository}/environments/{urllib.parse.quote(name, safe='')}"
            return 303, None, {"Location": f"{location}/deployment-branch-policies/{view['id']}"}
        policies.append(policy)
        return 200, self._policy_view(name, len(policies) - 1, policy), {}

    def _get_branch_policy(self, call: Call) -> Answer:
        name = call.path["environment_name"]
        for index, policy in enumerate(self._branch_policies(call)):
            view = self._policy_view(name, index, policy)
            if view["id"] == call.path["branch_policy_id"]:
                return 200, view, {}
        raise ApiError(404, "Not Found")

    # --- branches and their protection -------------------------------------------------------------------------
    def _protectable(self, branch: str) -> str:
        if self.private and self.plan == "free":
            raise ApiError(403, UPGRADE)
        if not self.admin:
            raise ApiError(404, "Not Found")
        if not self._branch(branch):
            raise ApiError(404, "Branch not found")
        return branch

    def _protection_view(self, branch: str) -> dict[str, Any]:
        """The branch's protection as GET answers it, with the URLs of its parts."""
        url = f"{self.url}/repos/{self.repository}/branches/{urllib.parse.quote(branch, safe='')}/protection"
        view: dict[str, Any] = {"url": url, **copy.deepcopy(self.protection[branch])}
        checks = view.get("required_status_checks")
        if checks is not None:
            checks.setdefault("checks", [{"context": c, "app_id": None} for c in checks.get("contexts", [])])
            checks.setdefault("contexts", [c["context"] for c in checks["checks"]])
            checks |= {"url": f"{url}/required_status_checks", "contexts_url": f"{url}/required_status_checks/contexts"}
            checks.setdefault("strict", False)
        for part in ("enforce_admins", "required_pull_request_reviews", "restrictions", "required_signatures"):
            if view.get(part) is not None:
                view[part] = {"url": f"{url}/{part}", **view[part]}
        if view.get("restrictions") is not None:
            for kind in ("users", "teams", "apps"):
                view["restrictions"] |= {
                    f"{kind}_url": f"{url}/restrictions/{kind}",
                    kind: view["restrictions"].get(kind, []),
                }
        return {key: value for key, value in view.items() if value is not None}

    def _get_protection(self, call: Call) -> Answer:
        branch = self._protectable(call.path["branch"])
        if branch not in self.protection:
            raise ApiError(404, "Branch not protected")
        return 200, self._protection_view(branch), {}

    def _put_protection(self, call: Call) -> Answer:
        branch, body = self._protectable(call.path["branch"]), call.body
        protection: dict[str, Any] = {}
        checks = body["required_status_checks"]
        if checks is not None:
            given = checks.get("checks") or [{"context": c} for c in checks.get("contexts", [])]
            listed = [{"context": c["context"], "app_id": c.get("app_id")} for c in given]
            protection["required_status_checks"] = {"strict": checks["strict"], "checks": listed}
            protection["required_status_checks"]["contexts"] = [c["context"] for c in listed]
        protection["enforce_admins"] = {"enabled": bool(body["enforce_admins"])}
        reviews = body["required_pull_request_reviews"]
        if reviews is not None:
            protection["required_pull_request_reviews"] = {
                "dismiss_stale_reviews": reviews.get("dismiss_stale_reviews", False),
                "require_code_owner_reviews": reviews.get("require_code_owner_reviews", False),
                "required_approving_review_count": reviews.get("required_approving_review_count", 1),
                "require_last_push_approval": reviews.get("require_last_push_approval", False),
            }
        if body["restrictions"] is not None:
            users = [self._user(login) for login in body["restrictions"].get("users", [])]
            protection["restrictions"] = {"users": users, "teams": [], "apps": []}
        for flag in ("required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations"):
            protection[flag] = {"enabled": bool(body.get(flag))}
        protection["required_conversation_resolution"] = {"enabled": bool(body.get("required_conversation_resolution"))}
        self.protection[branch] = protection
        view = self._protection_view(branch)
        if "required_pull_request_reviews" in view:  # protected-branch: the lists of who may dismiss and bypass
            reviews_view = view["required_pull_request_reviews"]
            reviews_view["dismissal_restrictions"] = {
                "url": f"{view['url']}/dismissal_restrictions",
                "users": [],
                "teams": [],
            }
            reviews_view["dismissal_restrictions"] |= {"users_url": "", "teams_url": ""}
        view["required_signatures"] = {"url": f"{view['url']}/required_signatures", "enabled": False}
        return 200, view, {}

    def _get_branch(self, call: Call) -> Answer:
        branch = call.path["branch"]
        sha = self._branch(branch)
        if not sha:
            raise ApiError(404, "Branch not found")
        example = _renamed(self._example("repos/get-branch", "200"), {"7fd1a60b01f91b314f59955a4e4d4e80d8edf11d": sha})
        url = f"{self.url}/repos/{self.repository}/branches/{urllib.parse.quote(branch, safe='')}"
        protected = branch in self.protection
        protection = (
            self._protection_view(branch)
            if protected
            else {
                "enabled": False,
                "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
            }
        )
        own = {"name": branch, "protected": protected, "protection_url": f"{url}/protection"}
        own |= {"_links": {"self": url, "html": f"https://github.com/{self.repository}/tree/{branch}"}}
        view = _merged(example, own)
        view["protection"] = protection
        view["commit"]["sha"] = sha
        return 200, view, {}

    # --- releases ----------------------------------------------------------------------------------------------
    def _assets(self) -> list[tuple[str, str, str, bytes]]:
        return [
            (repo, tag, name, data) for (repo, tag), assets in self.releases.items() for name, data in assets.items()
        ]

    def _asset_view(self, number: int) -> dict[str, Any]:
        repository, tag, name, data = self._assets()[number - 1]
        own = {"id": number, "node_id": f"RA_{number}", "name": name, "size": len(data), "state": "uploaded"}
        own |= {"url": f"{self.url}/repos/{repository}/releases/assets/{number}", "label": None}
        own |= {"browser_download_url": f"https://github.com/{repository}/releases/download/{tag}/{name}"}
        own |= {"digest": f"sha256:{hashlib.sha256(data).hexdigest()}", "content_type": "application/octet-stream"}
        return dict(_merged(self._example("repos/get-release-asset", "200"), own))

    def _release(self, call: Call) -> Answer:
        repository, tag = f"{call.path['owner']}/{call.path['repo']}", call.path["tag"]
        numbers = [i for i, (r, t, _, _) in enumerate(self._assets(), 1) if (r, t) == (repository, tag)]
        if not numbers:
            raise ApiError(404, "Not Found")
        example = _renamed(self._example("repos/get-release-by-tag", "200"), {"v1.0.0": tag})
        example = _renamed(example, {self.repository: repository})
        own = {"tag_name": tag, "name": tag, "assets": [self._asset_view(i) for i in numbers]}
        view = _merged(example, own)
        view["assets"] = own["assets"]
        return 200, view, {}

    def _asset(self, call: Call) -> Answer:
        repository, number = f"{call.path['owner']}/{call.path['repo']}", call.path["asset_id"]
        if not 0 < number <= len(self._assets()) or self._assets()[number - 1][0] != repository:
            raise ApiError(404, "Not Found")
        if "octet-stream" not in call.accept:
            return 200, self._asset_view(number), {}
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
