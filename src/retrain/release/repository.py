"""The GitHub repository the loop runs in: every setting it needs, set (`retrain github setup`) and read back
(`retrain github doctor`) through GitHub's REST API, from one list that also makes the README's table of the same
steps by hand. Secrets are read by name only (GitHub never returns a value).

A private repository on GitHub Free has neither branch protection nor environments (GitHub answers 403 "Upgrade to
GitHub Pro or make this repository public to enable this feature.", and 422 to an environment's branch rule):
doctor names that limit, and what it costs: the
write secrets stay repository secrets, which the `pull_request` run of any branch pushed to the repository can read.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrain.io import http, vcs
from retrain.io.github import GitHub, GitHubError

PROTECTED = "main"  # the branch the loop merges into, deploys from, and whose environments' secrets it reads
REQUIRED_CHECKS = ("test", "gate")  # ci.yml's job or status, pr.yml's job or status
WORKFLOWS = ("ci.yml", "pr.yml", "retrain.yml", "deploy.yml", "monitor.yml", "health.yml")
SCHEDULED = ("retrain.yml", "monitor.yml", "health.yml")
# The issues the workflows raise (`retrain github issue`): label -> (color, description).
LABELS = {
    "retrain-alert": ("FBCA04", "monitoring asked for a retrain"),
    "monitoring-blind": ("B60205", "monitoring cannot read the inference log"),
    "deploy-failed": ("B60205", "a deploy failed; see the issue"),
    "deploy-rolled-back": ("B60205", "the health check put the previous release back"),
}
# Environment -> the secrets that belong in it (GitHub gives an environment's secrets only to jobs of the branches
# its policy allows: `main`, whatever a branch's copy of a workflow says).
# `retrain` (retrain.yml, monitor.yml) is not `production` (deploy.yml), whose optional reviewers a weekly retrain
# must not wait for; a secret both use is in both.
ENVIRONMENTS = {
    "retrain": (
        *("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_TRACKING_TOKEN", "RETRAIN_TUNE_STORAGE"),
        *("CML_RUNNER_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS_DATA"),
        *("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID"),
    ),
    "production": (
        *("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_TRACKING_TOKEN"),
        *("BENTO_CLOUD_API_KEY", "REGISTRY_PASSWORD"),
    ),
}
UPGRADE = "GitHub Free has no {what} in a private repository (GitHub Pro, Team or Enterprise, or a public repository)"
RISK = (
    "the write secrets stay repository secrets, which the pull_request run of any branch pushed to this repository "
    "can read: give write access to people you would give those credentials"
)


@dataclass
class Finding:
    """One line of doctor's answer: a setting that is missing or wrong (or a warning), and where to fix it."""

    setting: str
    problem: str
    url: str
    limit: str = ""
    warning: bool = False
    plan: bool = False  # GitHub refused it for the plan (not a hint that the plan may not have it)

    def line(self) -> str:
        mark = "warning" if self.warning else "missing"
        return f"{mark}: {self.setting}: {self.problem}" + (f" [{self.limit}]" if self.limit else "") + f" ({self.url})"


@dataclass
class Repository:
    """The settings of `github.repository`, read lazily and kept for one run of setup or doctor."""

    github: GitHub
    variables: Mapping[str, str] = field(default_factory=dict)  # the variables setup is given
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"repos/{self.github.repository}"

    def page(self, path: str) -> str:
        return f"https://github.com/{self.github.repository}/{path}"

    def get(self, path: str, missing: Any = None) -> Any:
        """GET `path` under the repository; `missing` when GitHub answers 404."""
        try:
            return self.github.call("GET", f"{self.base}/{path}" if path else self.base)
        except GitHubError as error:
            if error.status == 404:
                return missing
            raise

    @property
    def info(self) -> dict[str, Any]:
        if "info" not in self._cache:
            self._cache["info"] = self.get("")
        info: dict[str, Any] = self._cache["info"]
        return info

    @property
    def private(self) -> bool:
        return bool(self.info.get("private"))

    def variable(self, name: str) -> str:
        found = self.get(f"actions/variables/{name}")
        return str(found["value"]) if found else ""

    def secrets(self, environment: str = "") -> set[str]:
        path = f"environments/{environment}/secrets" if environment else "actions/secrets"
        found = self.get(path, {"secrets": []})
        return {secret["name"] for secret in found["secrets"]}


@dataclass(frozen=True)
class Setting:
    """A setting setup makes and doctor reads: its name, its settings page, the step by hand, what is wrong with it
    now (an empty list when it is right), how to make it right, and the plan feature it needs in a private
    repository (else empty)."""

    name: str
    page: str
    manual: str
    check: Callable[[Repository], list[str]]
    apply: Callable[[Repository], None]
    paid_when_private: str = ""


# --- Actions -----------------------------------------------------------------------------------------------------
def _check_actions(repo: Repository) -> list[str]:
    found = repo.get("actions/permissions")
    if not found["enabled"]:
        return ["GitHub Actions are disabled for this repository"]
    if found.get("allowed_actions") == "local_only":
        return ["only this repository's own actions may run: the workflows use actions/checkout and others"]
    return []


def _apply_actions(repo: Repository) -> None:
    found = repo.get("actions/permissions")
    allowed = "all" if found.get("allowed_actions") in (None, "local_only") else found["allowed_actions"]
    repo.github.call("PUT", f"{repo.base}/actions/permissions", {"enabled": True, "allowed_actions": allowed})


def _workflows(repo: Repository) -> dict[str, dict[str, Any]]:
    found = repo.get("actions/workflows", {"workflows": []})
    return {flow["path"].rsplit("/", 1)[-1]: flow for flow in found["workflows"]}


def _check_workflows(repo: Repository) -> list[str]:
    flows = _workflows(repo)
    problems = [f"{name} is not on the default branch" for name in WORKFLOWS if name not in flows]
    states = [(name, flows[name]["state"]) for name in WORKFLOWS if name in flows]
    return problems + [f"{name} is {state}" for name, state in states if state != "active"]


def _apply_workflows(repo: Repository) -> None:
    for name, flow in _workflows(repo).items():
        if name in WORKFLOWS and flow["state"] != "active":
            repo.github.call("PUT", f"{repo.base}/actions/workflows/{flow['id']}/enable")


def _check_pr_permission(repo: Repository) -> list[str]:
    found = repo.get("actions/permissions/workflow")
    if not found["can_approve_pull_request_reviews"]:
        return ["GitHub Actions may not create pull requests (the retrain job opens its PR with GITHUB_TOKEN)"]
    return []


def _apply_pr_permission(repo: Repository) -> None:
    found = repo.get("actions/permissions/workflow")
    body = {"default_workflow_permissions": found["default_workflow_permissions"]}
    repo.github.call(
        "PUT", f"{repo.base}/actions/permissions/workflow", body | {"can_approve_pull_request_reviews": True}
    )


# --- labels ------------------------------------------------------------------------------------------------------
def _check_labels(repo: Repository) -> list[str]:
    problems = []
    for name, (color, description) in LABELS.items():
        found = repo.get(f"labels/{urllib.parse.quote(name)}")
        if found is None:
            problems.append(f"no label {name}")
        elif (found["color"].upper(), found.get("description") or "") != (color, description):
            problems.append(f"label {name} is not color {color} with description {description!r}")
    return problems


def _apply_labels(repo: Repository) -> None:
    for name, (color, description) in LABELS.items():
        repo.github.label(name, color, description)


# --- environments ------------------------------------------------------------------------------------------------
def _check_environment(name: str) -> Callable[[Repository], list[str]]:
    def check(repo: Repository) -> list[str]:
        found = repo.get(f"environments/{name}")
        if found is None:
            return [f"no environment {name}"]
        policy = found.get("deployment_branch_policy") or {}
        if not policy.get("custom_branch_policies"):
            return [f"environment {name} takes every branch: its deployment branches must be {PROTECTED} only"]
        branches = repo.get(f"environments/{name}/deployment-branch-policies", {"branch_policies": []})
        names = sorted((p["name"], p.get("type", "branch")) for p in branches["branch_policies"])
        if names != [(PROTECTED, "branch")]:
            return [f"environment {name}'s deployment branches are {names}, not the branch {PROTECTED} alone"]
        return []

    return check


def _apply_environment(name: str) -> Callable[[Repository], None]:
    def apply(repo: Repository) -> None:
        policy = {"protected_branches": False, "custom_branch_policies": True}
        body = {**_rules(repo.get(f"environments/{name}") or {}), "deployment_branch_policy": policy}
        repo.github.call("PUT", f"{repo.base}/environments/{name}", body)
        branches = repo.get(f"environments/{name}/deployment-branch-policies", {"branch_policies": []})
        if not any(p["name"] == PROTECTED for p in branches["branch_policies"]):
            path = f"{repo.base}/environments/{name}/deployment-branch-policies"
            repo.github.call("POST", path, {"name": PROTECTED, "type": "branch"})

    return apply


def _rules(found: dict[str, Any]) -> dict[str, Any]:
    """An environment's protection rules as GET shows them, as its PUT takes them back (a PUT sets every rule it is
    given: its reviewers and wait timer are sent again, so that setup keeps them)."""
    rules: dict[str, Any] = {}
    for rule in found.get("protection_rules", []):
        if rule.get("type") == "wait_timer":
            rules["wait_timer"] = rule["wait_timer"]
        elif rule.get("type") == "required_reviewers":
            rules["prevent_self_review"] = bool(rule.get("prevent_self_review"))
            rules["reviewers"] = [{"type": r["type"], "id": r["reviewer"]["id"]} for r in rule.get("reviewers", [])]
    return rules


# --- branch protection -------------------------------------------------------------------------------------------
def _check_protection(repo: Repository) -> list[str]:
    try:
        found = repo.github.call("GET", f"{repo.base}/branches/{PROTECTED}/protection")
    except GitHubError as error:  # 404 also when the token may not read it: only this message says "none"
        if (
            error.status == 404
            and isinstance(error.answer, dict)
            and error.answer.get("message") == "Branch not protected"
        ):
            return [f"{PROTECTED} is not protected"]
        raise
    problems = []
    if "required_pull_request_reviews" not in found:
        problems.append(f"{PROTECTED} takes pushes without a pull request")
    checks = {c["context"]: c.get("app_id") for c in (found.get("required_status_checks") or {}).get("checks", [])}
    for context in REQUIRED_CHECKS:
        if context not in checks:
            problems.append(f"the check {context} is not required on {PROTECTED}")
        elif checks[context] not in (None, -1):
            problems.append(f"the check {context} is pinned to the app {checks[context]}: statuses cannot satisfy it")
    return problems


def _apply_protection(repo: Repository) -> None:
    """`test` and `gate` required from any source, and pull requests required, on top of whatever rule `main`
    already has: its other checks, reviews, restrictions and flags are kept (a PUT replaces the whole rule)."""
    found = repo.get(f"branches/{PROTECTED}/protection") or {}
    status = found.get("required_status_checks") or {}
    kept = [c for c in status.get("checks", []) if c["context"] not in REQUIRED_CHECKS]
    checks = [{"context": c["context"], **({"app_id": c["app_id"]} if c.get("app_id") else {})} for c in kept]
    reviews = found.get("required_pull_request_reviews") or {}
    review_keys = ("dismiss_stale_reviews", "require_code_owner_reviews", "require_last_push_approval")
    restrictions = found.get("restrictions")

    def enabled(name: str) -> bool:
        return bool((found.get(name) or {}).get("enabled"))

    body = {
        # `contexts` is required though deprecated: a context there is pinned to the app that last set it, so none;
        # app_id -1 in `checks`: any source, a check or a commit status (repos/update-branch-protection)
        "required_status_checks": {
            "strict": bool(status.get("strict")),
            "contexts": [],
            "checks": [*checks, *({"context": check, "app_id": -1} for check in REQUIRED_CHECKS)],
        },
        "enforce_admins": enabled("enforce_admins"),
        "required_pull_request_reviews": {
            "required_approving_review_count": reviews.get("required_approving_review_count", 0),
            **{key: reviews[key] for key in review_keys if key in reviews},
        },
        "restrictions": None
        if restrictions is None
        else {
            "users": [user["login"] for user in restrictions.get("users", [])],
            "teams": [team["slug"] for team in restrictions.get("teams", [])],
            "apps": [app["slug"] for app in restrictions.get("apps", [])],
        },
        **{
            flag: enabled(flag)
            for flag in ("required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations")
        },
        "required_conversation_resolution": enabled("required_conversation_resolution"),
    }
    repo.github.call("PUT", f"{repo.base}/branches/{PROTECTED}/protection", body)


# --- variables -----------------------------------------------------------------------------------------------------
def _check_variables(repo: Repository) -> list[str]:
    return [
        f"variable {name} is {found!r}, not {value!r}" if found else f"no variable {name} (setup was given {value!r})"
        for name, value in repo.variables.items()
        if (found := repo.variable(name)) != value
    ]


def _apply_variables(repo: Repository) -> None:
    for name, value in repo.variables.items():
        if repo.get(f"actions/variables/{name}") is None:
            repo.github.call("POST", f"{repo.base}/actions/variables", {"name": name, "value": value})
        else:
            repo.github.call("PATCH", f"{repo.base}/actions/variables/{name}", {"name": name, "value": value})


SETTINGS = (
    Setting(
        "actions",
        "settings/actions",
        "Settings → Actions → General → Actions permissions: allow actions (all, or this repository's and the ones "
        "the workflows pin)",
        _check_actions,
        _apply_actions,
    ),
    Setting(
        "workflows",
        "actions",
        f"Actions tab: enable each of {', '.join(WORKFLOWS)} (a fork starts with its workflows disabled; GitHub "
        "disables schedules after 60 days without activity in a public repository)",
        _check_workflows,
        _apply_workflows,
    ),
    Setting(
        "workflow permissions",
        "settings/actions",
        "Settings → Actions → General → Workflow permissions: tick *Allow GitHub Actions to create and approve pull "
        "requests*",
        _check_pr_permission,
        _apply_pr_permission,
    ),
    Setting(
        "labels",
        "labels",
        "Issues → Labels: " + ", ".join(f"`{name}` ({color})" for name, (color, _) in LABELS.items()),
        _check_labels,
        _apply_labels,
    ),
    *(
        Setting(
            f"environment {name}",
            "settings/environments",
            f"Settings → Environments → New environment `{name}`: *Deployment branches* → *Selected branches* → "
            f"`{PROTECTED}`; the write secrets you use of {', '.join(secrets)}",
            _check_environment(name),
            _apply_environment(name),
            "environments",
        )
        for name, secrets in ENVIRONMENTS.items()
    ),
    Setting(
        "branch protection",
        "settings/branches",
        f"Settings → Branches → rule for `{PROTECTED}`: *Require a pull request before merging*, *Require status "
        f"checks to pass*: {' and '.join(f'`{c}`' for c in REQUIRED_CHECKS)}, from any source",
        _check_protection,
        _apply_protection,
        "branch protection",
    ),
    Setting(
        "variables",
        "settings/variables/actions",
        "Settings → Secrets and variables → Actions → Variables: the ones in the table below",
        _check_variables,
        _apply_variables,
    ),
)


def _upgrade(repo: Repository, setting: Setting, error: GitHubError) -> Finding | None:
    """A plan limit, when GitHub refuses a paid feature for the plan: 403 "Upgrade to GitHub Pro or make this
    repository public to enable this feature." (branch protection), 422 "... please ensure billing plan include ..."
    (an environment's rules). Another refusal (a token without admin rights, an organisation's policy) is not."""
    message = str(error.answer.get("message", "")) if isinstance(error.answer, dict) else ""
    if setting.paid_when_private and ("Upgrade to GitHub Pro" in message or "billing plan" in message):
        what = UPGRADE.format(what=setting.paid_when_private)
        return Finding(setting.name, "not available", repo.page(setting.page), what, plan=True)
    return None


def read(repo: Repository) -> list[Finding]:
    """What is missing or wrong in the settings, one finding per problem."""
    findings = []
    for setting in SETTINGS:
        try:
            problems = setting.check(repo)
        except GitHubError as error:
            upgrade = _upgrade(repo, setting, error)
            if upgrade is None and error.status in (403, 404):
                problems = [f"cannot be read with this token ({error}): it needs admin rights on the repository"]
            elif upgrade is None:
                raise
            else:
                findings.append(upgrade)
                continue
        # a private repository's missing environment reads as 404 on every plan: the limit is named when it may apply
        limit = UPGRADE.format(what=setting.paid_when_private) if setting.paid_when_private and repo.private else ""
        findings += [Finding(setting.name, problem, repo.page(setting.page), limit) for problem in problems]
    return findings


def setup(repo: Repository, say: Callable[[str], None]) -> list[Finding]:
    """Make every setting right (those already right are left alone); what the plan forbids, and what setup leaves
    to a person (an environment that admits other branches too: setup deletes none of a team's policies), as
    findings."""
    limits = []
    for setting in SETTINGS:
        try:
            if not setting.check(repo):
                say(f"already set: {setting.name}")
                continue
            setting.apply(repo)
            left = [Finding(setting.name, problem, repo.page(setting.page)) for problem in setting.check(repo)]
            limits += left
            say("\n".join(f"not set, by hand: {f.line()}" for f in left) if left else f"set: {setting.name}")
        except GitHubError as error:
            limit = _upgrade(repo, setting, error)
            if limit is None:
                raise
            limits.append(limit)
            say(limit.line())
    return limits


# --- doctor's other checks: what the configured features need ------------------------------------------------------
def features(repo: Repository, environments: bool) -> list[Finding]:
    """Secrets by name for the features the variables configure, the schedule rule, the MLflow server, and a runner
    with DEPLOY_RUNNER's labels. `environments`: the repository has them (else secrets are repository secrets)."""
    findings: list[Finding] = []
    secrets_page = repo.page("settings/secrets/actions")
    repo_secrets = repo.secrets()
    env_secrets = {name: repo.secrets(name) for name in ENVIRONMENTS} if environments else {}

    def need(name: str, environment: str, why: str) -> None:
        if name in env_secrets.get(environment, set()):
            return
        if name in repo_secrets:
            if environments:
                problem = f"secret {name} is a repository secret: move it to the environment {environment}"
                findings.append(
                    Finding("secrets", f"{problem} ({RISK})", repo.page("settings/environments"), warning=True)
                )
            return
        where = f"the environment {environment}" if environments else "the repository's secrets"
        findings.append(Finding("secrets", f"no secret {name} in {where} ({why})", secrets_page))

    remote, target = repo.variable("DVC_REMOTE_URL"), repo.variable("DEPLOY_TARGET")
    if remote.startswith("s3://"):
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            need(name, "retrain", "the retrain job pushes to the DVC remote")
            if target:
                need(name, "production", "the deploy job pulls the model from the DVC remote")
        for name in ("DVC_READ_AWS_ACCESS_KEY_ID", "DVC_READ_AWS_SECRET_ACCESS_KEY"):
            if name not in repo_secrets:
                findings.append(Finding("secrets", f"no secret {name} (pr.yml reads the DVC remote)", secrets_page))
    if target == "bentocloud":
        need("BENTO_CLOUD_API_KEY", "production", "DEPLOY_TARGET is bentocloud")
    if not environments:
        findings.append(Finding("secrets", RISK, secrets_page, UPGRADE.format(what="environments"), warning=True))
    if not repo.private:
        findings.append(
            Finding(
                "workflows",
                f"GitHub disables the schedules of {', '.join(SCHEDULED)} after 60 days without activity in a public "
                "repository: `make github` enables them again",
                repo.page("actions"),
                warning=True,
            )
        )
    uri = repo.variable("MLFLOW_TRACKING_URI")
    if uri.startswith(("http://", "https://")):
        status, answer = http.request(uri.rstrip("/") + "/health", timeout=10)
        if status != 200:
            problem = f"the MLflow server {uri} does not answer /health: {status or answer.decode(errors='replace')}"
            findings.append(Finding("MLflow", problem, repo.page("settings/variables/actions")))
    if target == "local":
        findings += _runner(repo, repo.variable("DEPLOY_RUNNER"))
    return findings


def _runner(repo: Repository, labels_json: str) -> list[Finding]:
    page = repo.page("settings/actions/runners")
    try:
        labels = set(json.loads(labels_json)) if labels_json else set()
    except ValueError:
        return [Finding("runner", f"DEPLOY_RUNNER is not a JSON list of labels: {labels_json!r}", page)]
    if not labels:
        return [Finding("runner", "DEPLOY_TARGET is local but DEPLOY_RUNNER names no runner labels", page)]
    try:
        runners = repo.get("actions/runners", {"runners": []})["runners"]
    except GitHubError as error:
        if error.status != 403:
            raise
        return [
            Finding("runner", "reading the repository's runners needs admin rights: not checked", page, warning=True)
        ]
    matching = [r for r in runners if labels <= {label["name"] for label in r["labels"]}]
    if not any(r["status"] == "online" for r in matching):
        state = "offline" if matching else "registered"
        return [Finding("runner", f"no runner with the labels {sorted(labels)} is {state}", page)]
    return []


def doctor(repo: Repository, root: Path) -> list[Finding]:
    """Every setting read back, then what the configured features need, and the DVC remote (from the variable
    DVC_REMOTE_URL, with this machine's credentials) holding what this checkout's dvc.lock and pointers name."""
    findings = read(repo)
    environments = not any(f.plan for f in findings)  # branch protection refused for the plan: Free, private
    findings += features(repo, environments)
    remote = repo.variable("DVC_REMOTE_URL")
    if remote:
        try:
            missing = vcs.missing_on_remote(root, remote)
        except Exception as error:  # DVC raises many kinds: credentials, network, a bad URL
            missing, reason = [], str(error).strip().splitlines()[-1:] or [type(error).__name__]
            findings.append(Finding("DVC remote", f"{remote} cannot be read from here: {reason[0]}", repo.page("")))
        if missing:
            problem = (
                f"{remote} lacks {len(missing)} file(s) that dvc.lock names ({', '.join(missing[:3])}): `dvc push`"
            )
            findings.append(Finding("DVC remote", problem, repo.page("settings/variables/actions")))
    return findings


def manual_table() -> str:
    """The README's table: each setting, what to do by hand, and the plan it needs in a private repository."""
    rows = [
        f"| {s.name} | {s.manual} | {'GitHub Pro, Team or Enterprise' if s.paid_when_private else ''} |"
        for s in SETTINGS
    ]
    return "| setting | by hand | a private repository needs |\n|---|---|---|\n" + "\n".join(rows) + "\n"
