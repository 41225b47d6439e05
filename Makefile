# Every task a developer or a workflow runs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements-dev.lock)
# the minor version pyproject's requires-python names (">=3.11,<3.12")
PYTHON_VERSION := $(shell sed -n 's/^requires-python = ">=\([0-9]*\.[0-9]*\).*/\1/p' pyproject.toml)
# /usr/sbin (nginx) and /sbin too: Debian gives users other than root a PATH without them, and a self-hosted runner
# keeps the PATH of the user who configured it
export PATH := $(BIN):$(PATH)$(if $(filter /usr/sbin,$(subst :, ,$(PATH))),,:/usr/local/sbin:/usr/sbin:/sbin)
# Telemetry off in everything the project runs; nothing may reach the internet at run time.
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export BENTOML_DO_NOT_TRACK := true
export ITERATIVE_DO_NOT_TRACK := 1

BASE ?= main
RUN ?= local
CLOUD_TYPE ?= m
IDLE_TIMEOUT ?= 300
DEPLOY_TARGET ?= local
# Values that may come from workflow inputs reach recipes as environment variables ("$$BASE"), never pasted into the
# command text by make, and workflows set them in `env:`, never as make arguments (make expands those): an input
# cannot inject shell code.
export BASE RUN REASON CLOUD CLOUD_TYPE CLOUD_SPOT IDLE_TIMEOUT DEPLOY_TARGET

.PHONY: help python setup setup-dev data validate featurize drift tune train evaluate retrain repro summary compare report monitor alert serve bento serve-host github deploy smoke rollback undeploy promote bench-serve bench-scale test \
	rules ci-remote ci-params ci-tune ci-runner ci-base ci-retrain ci-gate ci-publish ci-pr ci-checks ci-status ci-comment ci-monitor ci-alert ci-blind-alert ci-deploy-alert ci-health ci-revert gate cml lint typecheck lock-check static pytest bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The venv is rebuilt when these change; `LOCKS=` (empty) uses an existing VENV as it is (the workflow tests do).
LOCKS ?= pyproject.toml requirements.lock requirements-dev.lock requirements-remotes.lock
# DVC's plugin for each storage URL scheme in use (the DVC remote: $$DVC_REMOTE_URL, .dvc/config, .dvc/config.local;
# the inference log and labels: $$RETRAIN_INFERENCE_LOG, $$RETRAIN_LABELS, $$RETRAIN_LOG_SHIP), pinned by
# requirements-remotes.lock: the pyproject extras s3, gs, azure, ssh. A local folder or http(s) needs none.
REMOTES := s3 gs azure ssh
SCHEMES = $(filter $(REMOTES),$(shell { printf '%s\n' "$${DVC_REMOTE_URL:-}" "$${RETRAIN_INFERENCE_LOG:-}" \
  "$${RETRAIN_LABELS:-}" "$${RETRAIN_LOG_SHIP:-}"; sed -n 's/^ *url *= *//p' .dvc/config \
  .dvc/config.local 2>/dev/null; } | sed -n 's|^\([a-z0-9]*\)://.*|\1|p'))

# The venv's Python: $(PYTHON) when it is Python $(PYTHON_VERSION) (a laptop; a GitHub-hosted runner after
# actions/setup-python), else uv's managed CPython $(PYTHON_VERSION), installed once per user into
# ~/.local/share/uv/python by uv at the pin of requirements-dev.lock (bootstrapped with $(PYTHON) when no uv of that
# version is on PATH): a self-hosted runner, whose system actions/setup-python does not support. `make python` prints it.
define find-python
python=$$(command -v "$(PYTHON)" || true); \
if [[ "$$("$${python:-false}" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
      != "$(PYTHON_VERSION)" ]]; then \
  uv=$$(command -v uv || true); bootstrap=""; \
  if [[ "$$("$${uv:-false}" --version 2>/dev/null)" != "uv $(UV_VERSION)"* ]]; then \
    bootstrap=$$(mktemp -d); trap 'rm -rf "$$bootstrap"' EXIT; $(PYTHON) -m venv "$$bootstrap"; \
    "$$bootstrap/bin/pip" install --quiet "uv==$(UV_VERSION)"; uv="$$bootstrap/bin/uv"; fi; \
  find=("$$uv" python find --system --managed-python "$(PYTHON_VERSION)"); \
  python=$$("$${find[@]}" 2>/dev/null) \
    || { "$$uv" python install --no-bin "$(PYTHON_VERSION)" >&2; python=$$("$${find[@]}"); }; fi
endef

python: ## print the Python 3.11 that makes the venv: $PYTHON if it is 3.11, else uv's managed one (installed if need be)
	@$(find-python); echo "$$python"

$(VENV)/.runtime: $(filter-out requirements-dev.lock,$(LOCKS))
	@$(find-python); echo "$$python -m venv $(VENV)"; "$$python" -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime $(filter requirements-dev.lock,$(LOCKS))
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -r requirements-dev.lock
	touch $@

$(VENV)/.remote-%: $(VENV)/.runtime $(filter requirements-remotes.lock,$(LOCKS))
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -c requirements-remotes.lock "dvc-$*"
	touch $@

# setup also compiles the package's modules that changed (0.05 s when none did): uv compiles site-packages alone, and
# with PYTHONDONTWRITEBYTECODE set (as on these machines) each process would compile them again
setup: $(VENV)/.runtime $(SCHEMES:%=$(VENV)/.remote-%) ## create .venv: the locked runtime, the DVC remote's plugin
	@$(BIN)/python -m compileall -q src

setup-dev: setup $(VENV)/.dev ## setup, plus the dev tools (pytest, ruff, mypy, uv)

# What the DVC remote holds is pulled (`--allow-missing`: a new, empty bucket is no error; one DVC cannot read is);
# the bundled batches it lacks are regenerated, checked against their pointers' md5 and pushed (unless DVC_PUSH=false).
data: setup ## the batches the pointers name: pulled from the DVC remote; the bundled ones it lacks regenerated and pushed
	if [[ -n "$$(dvc remote list)" ]]; then dvc pull --allow-missing; fi
	retrain bootstrap

repro: data ## dvc repro: run the stages whose inputs changed (each one's time and memory: reports/usage/)
	rm -rf reports/usage
	dvc repro

validate featurize drift tune train evaluate: data  # `make <stage>`: dvc repro of that stage and what it needs
	dvc repro $@

retrain: repro summary report ## setup, data, dvc repro, headline metrics, then compare with $(BASE) and the verdict

summary: setup ## print the headline metrics of the current model
	retrain summary

compare: setup ## champion ($(BASE)) against the working tree's model; exits 3 when the gate blocks (for CI)
	retrain compare --base "$$BASE"

report: setup ## compare, then render reports/report.md and print the verdict (a blocked gate is not an error here)
	retrain compare --base "$$BASE" || [[ $$? == 3 ]]
	retrain report --base "$$BASE"

monitor: setup ## decide from the inference log ($$RETRAIN_INFERENCE_LOG) whether to retrain: reports/monitor.json
	retrain monitor

alert: setup ## render reports/alert.md from the last verdict; POST it to $$RETRAIN_WEBHOOK_URL when retraining
	retrain alert

# --- what the workflows run (each works on a laptop too) -----------------------------------------------------------
CML_VERSION := 0.20.6

# CML's standalone binary (Node 16 inside), never @dvcorg/cml from npm: on the runner's Node (>= 18) that crashes when
# it publishes an image (its mime detection fetches a .wasm by path once a global fetch exists). Downloaded from the
# release with the job's token ($$GITHUB_TOKEN: iterative/setup-cml asks anonymously, within the runner address's 60
# calls an hour, and failed after whole retrains) and checked against the sha256 digest the release API reports.
cml: setup ## CML $(CML_VERSION)'s standalone binary into the venv, unless a cml is on PATH ($$GITHUB_TOKEN reads the release)
	command -v cml >/dev/null || GITHUB_API_URL="$${CML_API_URL:-https://api.github.com}" \
	  retrain github download iterative/cml "v$(CML_VERSION)" \
	    "cml-linux-$$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')" "$(BIN)/cml"

github: setup ## configure this clone's GitHub repository for the loop (`gh auth login` first), then check it
	retrain github setup
	retrain github doctor

ci-remote: setup  # the DVC remote from $$DVC_REMOTE_URL (a repository variable), when set
	if [[ -n "$${DVC_REMOTE_URL:-}" ]]; then dvc remote add --local --force --default ci "$$DVC_REMOTE_URL"; \
	  dvc remote modify --local ci verify true; fi  # pulled files are checked against their md5

ci-base:  # a dispatch may come from any ref: retrain the base (a branch), so that its PR holds the base and the retrain
	git checkout -q --detach "refs/remotes/origin/$${BASE#origin/}" 2>/dev/null \
	  || { echo "base '$$BASE' is not a branch of origin: a retrain PR needs a branch to merge into" >&2; exit 2; }

ci-params: ci-remote  # params overrides from $$RETRAIN_PARAMS and $$RETRAIN_TUNE
	retrain set-params $$([[ "$${RETRAIN_TUNE:-}" == true ]] && echo tune.enabled=true)

ci-retrain: ci-params ## params overrides ($$RETRAIN_PARAMS), data, dvc repro, dvc push, compare with $(BASE), report
	$(MAKE) --no-print-directory repro
	if [[ -n "$$(dvc remote list)" && "$${DVC_PUSH:-true}" == true ]]; then dvc push; fi  # PR jobs: DVC_PUSH=false
	$(MAKE) --no-print-directory report

ci-tune: ci-params ## one of N runners adding trials to the shared study ($$RETRAIN_TUNE_STORAGE, e.g. PostgreSQL)
	: "$${RETRAIN_TUNE_STORAGE:?set it to a database URL that every tuning runner reaches}"
	$(MAKE) --no-print-directory data
	dvc repro featurize  # the training window the study is named after
	retrain tune

ci-runner: cml ## start a cloud runner (label cml-retrain) for one job: cml runner launch, idle timeout, single job
	[[ "$$CLOUD" =~ ^(aws|gcp|azure)$$ && "$$CLOUD_TYPE" =~ ^[A-Za-z0-9.+-]+$$ && "$$IDLE_TIMEOUT" =~ ^[0-9]+$$ ]] \
	  || { echo "CLOUD must be aws, gcp or azure; CLOUD_TYPE a machine type; IDLE_TIMEOUT seconds" >&2; exit 2; }
	cml runner launch --cloud="$$CLOUD" --cloud-region="$${CLOUD_REGION:-us-west}" --cloud-type="$$CLOUD_TYPE" \
	  $$([[ "$${CLOUD_SPOT:-}" == true ]] && echo --cloud-spot) --idle-timeout="$$IDLE_TIMEOUT" --single \
	  --labels=cml-retrain

# One retrain PR per base, branch retrain/<base> (`retrain github propose`, release/propose.py): each retrain commits
# its outputs as one commit on top of the base and force-pushes the branch (with a lease), so a later retrain replaces
# the content of the open PR instead of opening a second one; the PR is found by its exact head and base over every
# page (never CML's `pr create`, which takes the first of 30 PRs whose head ends with the branch name); when the base
# changed a workflow file, which GitHub refuses to push for a GITHUB_TOKEN, the branch is pushed anew and the old PR
# closed with a link. The commit message is the reason without markers that skip CI.
# A PR opened with GITHUB_TOKEN starts no workflow, so its required checks come from here: the verdict as the commit
# status `gate`, and ci.yml dispatched on the branch (workflow_dispatch is an event the token may start), which posts
# the commit status `test` when it ends (`test` is pending until then).
# The report's PNGs: `publish` uploads them to CML's asset host (public by URL); `commit` commits them to the retrain
# PR's branch and links them by absolute blob URL of that commit (readable by whoever can read the repository; a
# person's PR then gets its report with each image replaced by a pointer to the run's artifact). The variable
# REPORT_IMAGES chooses.
REPORT_IMAGES ?= publish
export REPORT_IMAGES
PUBLISHED := dvc.lock params.yaml models/model.json metrics tuning/best.json tuning/trials.json reports/validation.json \
  reports/drift.json reports/cost.json
# the commits the workflows make are the Actions bot's
BOT := GIT_AUTHOR_NAME="github-actions[bot]" GIT_AUTHOR_EMAIL="41898282+github-actions[bot]@users.noreply.github.com" \
  GIT_COMMITTER_NAME="github-actions[bot]" GIT_COMMITTER_EMAIL="41898282+github-actions[bot]@users.noreply.github.com"
ci-publish: cml ## unless the model is the champion: the one PR retrain/<base>, its report comment, statuses, ci.yml
	if retrain unchanged; then \
	  echo "nothing to retrain on: same data, same params, same model" | tee -a "$${GITHUB_STEP_SUMMARY:-/dev/null}"; \
	else $(MAKE) --no-print-directory ci-pr; fi

ci-pr: cml  # commit the outputs on the base as retrain/<base>, find or open its PR, comment, statuses, ci.yml
	images=$$([[ "$$REPORT_IMAGES" == commit ]] && echo reports/*.png || true); \
	made=$$($(BOT) retrain github propose --base "$$BASE" --reason "$${RETRAIN_REASON:-manual}" \
	  --body "$$(head -n 1 reports/report.md)" $(PUBLISHED) $$images); \
	read -r number url commit branch <<< "$$made"; echo "$$url"; \
	report=reports/report.md; publish=--publish; \
	if [[ "$$REPORT_IMAGES" == commit ]]; then report=reports/report-linked.md; publish=--no-publish; \
	  blob="https://github.com/$$GITHUB_REPOSITORY/blob/$$commit/reports"; \
	  sed -E "s#\]\(([A-Za-z0-9_]+\.png)\)#]($$blob/\1?raw=true)#g" reports/report.md > "$$report"; fi; \
	cml comment update --target="pr/$$number" "$$publish" "$$report"; \
	verdict=$$(retrain gate) && state=success || state=failure; \
	retrain github status gate "$$state" --sha "$$commit" --description "$$verdict" --url "$$url"; \
	COMMIT="$$commit" BRANCH="$$branch" URL="$$url" $(MAKE) --no-print-directory ci-checks

# The checks no pull_request run gives a PR that GITHUB_TOKEN opened or pushed: ci.yml (and, with $$PR, pr.yml)
# dispatched on its branch; each posts its result as a commit status on the commit it tested (pending until then).
ci-checks:
	retrain github status test pending --sha "$$COMMIT" --description "ci.yml started on $$BRANCH" --url "$$URL"
	retrain github dispatch ci.yml --ref "$$BRANCH"
	if [[ -n "$${PR:-}" ]]; then \
	  retrain github status gate pending --sha "$$COMMIT" --description "pr.yml started on $$BRANCH" --url "$$URL"; \
	  retrain github dispatch pr.yml --ref "$$BRANCH" --input pr="$$PR" --input base=main; fi

# ci.yml and pr.yml when dispatched: their result as the commit status $$CONTEXT on the commit the run tested
# ($$GITHUB_SHA): the checks of a dispatched run are linked to no PR and satisfy no required check; a status does.
ci-status: setup ## post the commit status $$CONTEXT ($$RESULT: a job's result) on $$GITHUB_SHA, linking $$RUN_URL
	state=$$([[ "$$RESULT" == success ]] && echo success || echo failure); \
	retrain github status "$$CONTEXT" "$$state" --sha "$$GITHUB_SHA" --url "$${RUN_URL:-}" \
	  --description "$$CONTEXT: $$RESULT (workflow_dispatch run)"

# pr.yml's check `gate` runs on every PR (a required check skipped by a `paths:` filter stays pending for ever):
# the PR's dvc.lock must describe its code and params; if it is the base's lock, nothing that affects the model
# changed and the check passes at once; else the pipeline reruns and the gate judges. A fork's PR gets no secrets.
ci-gate: setup ## pr.yml: lock check, then pass at once when dvc.lock is the base's, else retrain, comment and gate
	retrain lock-check
	if git diff --quiet "$$BASE" -- dvc.lock; then \
	  echo "gate: nothing that affects the model changed (dvc.lock is $$BASE's, and it is current)" \
	    | tee -a "$${GITHUB_STEP_SUMMARY:-/dev/null}"; \
	elif [[ "$${PR_FROM_FORK:-false}" == true ]]; then \
	  echo "gate: this PR from a fork changes the model, and fork PRs get no secrets: a maintainer must run it" \
	    "(push the branch to this repository)" >&2; exit 1; \
	else \
	  $(MAKE) --no-print-directory ci-retrain && $(MAKE) --no-print-directory ci-comment \
	    && $(MAKE) --no-print-directory gate; fi

ci-comment: cml ## update the one report comment on pull request $$PR
	if [[ "$$REPORT_IMAGES" == commit ]]; then \
	  sed -E 's#!\[([^]]*)\]\([A-Za-z0-9_]+\.png\)#(\1: in the artifact reports-'"$${RUN:-local}"' of this run)#g' \
	    reports/report.md > reports/report-linked.md; \
	  cml comment update --target="pr/$$PR" --no-publish reports/report-linked.md; \
	else cml comment update --target="pr/$$PR" --publish reports/report.md; fi

gate: setup ## exit 3 if the last compare blocked promotion
	retrain gate

ci-monitor: ci-remote ## data for the reference, then retrain monitor (step outputs `retrain`, `reason`, `blind`)
	$(MAKE) --no-print-directory data
	dvc repro featurize  # the reference window (a no-op when it is up to date)
	retrain monitor

# The one open issue with label $(1) gets the body $(2) as a comment, or is opened with it (title: its first line);
# the labels' colors and descriptions: retrain.release.repository.LABELS.
define raise-issue
retrain github issue $(1) $(2)
endef

ci-alert: setup ## dispatch the retrain workflow with the reason, open or update the alert issue, POST the webhook
	retrain alert
	retrain github dispatch retrain.yml --ref main --input reason="monitoring: $$REASON"
	$(call raise-issue,retrain-alert,reports/alert.md)

ci-blind-alert: setup ## monitoring could not see the traffic: open or update that issue, POST the webhook
	retrain alert
	$(call raise-issue,monitoring-blind,reports/alert.md)

ci-deploy-alert: setup ## open an issue: the deploy of HEAD failed (reports/deploy.log says how, and what is live now)
	{ echo "## Deploy of $$(git rev-parse --short=12 HEAD) failed"; echo; \
	  echo "The deploy of commit \`$$(git rev-parse --short=12 HEAD)\` to \`$$DEPLOY_TARGET\` failed."; \
	  echo "Run: $${RUN_URL:-local}"; echo; echo '```'; tail -n 40 reports/deploy.log || true; echo '```'; \
	} > reports/deploy-failed.md
	$(call raise-issue,deploy-failed,reports/deploy-failed.md)

# health.yml, on the serving machine's runner: a rollback by the health check that no run has reported yet gets a
# revert PR of the commit whose release it took off (-m 1 for a merge commit), opened as ci-pr opens the retrain PR,
# with ci.yml and pr.yml dispatched on it for its checks, then the issue deploy-rolled-back; only then is it recorded
# as reported, so a run that fails on the way (GitHub down, no token) leaves it for the next run, which finds the PR
# it may have opened (exact head) and updates it. A revert that changes nothing (main moved on) opens no PR, nor one
# that conflicts with main (the issue says so): neither may keep the event, and the ones after it, from being reported.
ci-health: setup ## the oldest health rollback not yet reported: a revert PR of the commit it took off, and an issue
	commit=$$(retrain health --report); \
	if [[ -z "$$commit" ]]; then echo "health: no rollback to report" | tee -a "$${GITHUB_STEP_SUMMARY:-/dev/null}"; \
	else COMMIT="$$commit" $(MAKE) --no-print-directory ci-revert; fi

ci-revert: setup  # the revert PR of $$COMMIT, the issue, then the event is reported
	retrain github fetch main  # with the job's token: the checkout keeps none, and a private origin needs one
	git checkout -q --detach origin/main
	parents=$$(git rev-list --parents -n 1 "$$COMMIT" | wc -w); \
	if ! git revert --no-commit $$([[ "$$parents" -gt 2 ]] && echo -m 1) "$$COMMIT" >/dev/null; then \
	  git revert --abort 2>/dev/null || git reset -q --hard; \
	  printf '\n%s\n' "Reverting \`$${COMMIT:0:12}\` on \`main\` as it is now failed (the run's log says why: a conflict, most likely): no revert PR; revert it by hand." \
	    | tee -a reports/health.md; \
	elif [[ -z "$$(git diff --cached --name-only)" ]]; then echo "health: reverting $$COMMIT changes nothing on main: no PR"; \
	else \
	  $(BOT) git commit -q -m "Revert $${COMMIT:0:12}: its release failed the health check"; \
	  made=$$(retrain github propose --base main --branch "revert/$${COMMIT:0:12}" --body "$$(cat reports/health.md)"); \
	  read -r number url commit branch <<< "$$made"; echo "$$url"; \
	  PR="$$number" COMMIT="$$commit" BRANCH="$$branch" URL="$$url" $(MAKE) --no-print-directory ci-checks; fi
	$(call raise-issue,deploy-rolled-back,reports/health.md)
	retrain health --reported

serve: setup ## serve the model dvc.lock names on 127.0.0.1:3000 (BentoML); logs to $$RETRAIN_INFERENCE_LOG if set
	OMP_NUM_THREADS=1 bentoml serve retrain.serving.service:Service --host 127.0.0.1 --port 3000

BENTO_VERSION ?= $(shell git rev-parse --short=12 HEAD)
# The Bento: the domain's name (`retrain name`, from params.yaml), read when a recipe needs it
BENTO = $(shell $(BIN)/retrain name):$(BENTO_VERSION)

bento: setup-dev ## build the Bento $(BENTO): the package as a wheel, the model, requirements.lock (kept if built)
	if ! bentoml get "$(BENTO)" >/dev/null 2>&1; then \
	  rm -rf dist build && python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist . && rm -rf build \
	  && bentoml build --version "$(BENTO_VERSION)" >/dev/null && echo "built Bento $(BENTO)"; fi

# The OS package $(1) for the command $(2) when it is missing: installed as root with apt-get (CI, a serving
# machine set up by root), else named, and $(3) stops.
define need
command -v $(2) >/dev/null || if [[ "$$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then \
  apt-get install -y --no-install-recommends $(1) >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends $(1) >/dev/null; }; \
else echo "$(3) needs $(2): sudo apt-get install $(1)" >&2; exit 2; fi
endef

# --- deploy: what deploy.yml runs, on a laptop too (DEPLOY_TARGET=local serves on 127.0.0.1:<deploy.port>) ---------
# The local target's folder: $$RETRAIN_DEPLOY_DIR, else ~/.local/state/retrain of the user running the job.
DEPLOY_DIR := $(or $(RETRAIN_DEPLOY_DIR),$(HOME)/.local/state/retrain)
deploy rollback undeploy: export RETRAIN_DEPLOY_DIR := $(DEPLOY_DIR)
deploy rollback undeploy: export BENTOML_HOME := $(DEPLOY_DIR)/bentoml

# Once per serving machine, for the user its runner runs as (the runner refuses to run as root by default): as root
# (sudo), for SERVE_USER, by default the user who ran sudo; the deploy folder is then in that user's home (unless
# RETRAIN_DEPLOY_DIR says otherwise), and that user's: supervisord runs as that user, and its jobs control it.
export SERVE_USER
serve-host: setup-dev ## once per serving machine, as root: supervisord for the front and releases, as $$SERVE_USER (default: $$SUDO_USER)
	$(call need,nginx-light,nginx,the local target's front)
	retrain serve-host $${SERVE_USER:+--user "$$SERVE_USER"}

deploy: setup-dev ci-remote ## pull the model dvc.lock names, build its Bento, verify it, deploy to $(DEPLOY_TARGET) (log: reports/deploy.log)
	if [[ "$$DEPLOY_TARGET" == local && "$${RUNNER_ENVIRONMENT:-}" == github-hosted ]]; then \
	  echo "DEPLOY_TARGET=local on a GitHub-hosted runner would serve from a machine that is about to vanish:" \
	    "set the variable DEPLOY_RUNNER to your serving runner's labels" >&2; exit 2; fi
	[[ "$$DEPLOY_TARGET" != local ]] || $(call need,nginx-light,nginx,the local target's front)
	mkdir -p reports
	{ if [[ -n "$$(dvc remote list)" ]]; then dvc pull --quiet --force train; fi; \
	  $(MAKE) --no-print-directory bento; \
	  retrain deploy --bento "$(BENTO)" --target "$$DEPLOY_TARGET"; } 2>&1 | tee reports/deploy.log

smoke: setup ## health, /metadata md5 = dvc.lock, golden predictions = the model file ($$SMOKE_URL, default: local)
	mkdir -p reports && retrain smoke $${SMOKE_URL:+--url "$$SMOKE_URL"} 2>&1 | tee -a reports/deploy.log

rollback: setup ## local target: put the release that was live before back (after a failed smoke test)
	mkdir -p reports && retrain deploy --previous 2>&1 | tee -a reports/deploy.log

undeploy: setup ## local target: stop the front and the live release
	retrain deploy --stop

promote: setup ## after a good deploy: MLflow alias champion -> the model dvc.lock names; record the deployment
	retrain promote

# The static checks run beside pytest, whose processes leave most of the second core idle (mypy's first run alone
# takes about 20 s): their output shows when they end, and either failing fails `make test`.
test: setup-dev ## `static` beside `pytest`: ruff, import rules, deptry, mypy, the lock check, alert rules, every test
	@log=$$(mktemp); \
	{ rc=0; $(MAKE) --no-print-directory static > "$$log" 2>&1 || rc=$$?; cat "$$log"; echo "$$rc" > "$$log.rc"; } & \
	status=0; $(MAKE) --no-print-directory pytest || status=$$?; wait; \
	static=$$(cat "$$log.rc"); rm -f "$$log" "$$log.rc"; \
	if [[ "$$static" != 0 ]]; then echo "make test: the static checks failed (their output is above)" >&2; status=1; fi; \
	exit "$$status"

static: lint typecheck lock-check rules ## the checks that run no test: lint, typecheck, lock-check, rules

lint: setup-dev ## ruff; the rooms' import rules (import-linter); declared imports (deptry); zizmor and the workflow schema
	ruff check .
	ruff format --check .
	lint-imports --no-cache
	deptry src
	zizmor --offline --quiet .github/workflows
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

rules: ## promtool check and test of the alerting rules (deploy/prometheus), where promtool is (.ci/run installs it)
	if command -v promtool >/dev/null; then promtool check rules deploy/prometheus/rules.yml \
	  && promtool test rules deploy/prometheus/rules_test.yml; \
	else echo "rules: promtool not found, alert rules not checked (apt install prometheus)"; fi

lock-check: setup ## fail, naming the stage and the file or param, when dvc.lock does not describe the code and params
	retrain lock-check

typecheck: setup-dev ## mypy --strict on src and tests
	mypy

# pytest-xdist: the tests in PYTEST_WORKERS processes (0: in this one), each test file whole in one of them, so a
# file's module fixtures are built once and its tests run in order; the remote template the e2e tests copy is built
# once per run (tests/example/e2e/conftest.py).
PYTEST_WORKERS ?= 2
pytest: setup-dev ## all tests: unit, data, model, integration, e2e; in $(PYTEST_WORKERS) processes
	pytest -n "$(PYTEST_WORKERS)" --dist loadfile --no-loadscope-reorder  # longest files first: tests/conftest.py

EVIDENTLY := .bench/evidently
$(EVIDENTLY)/.installed:  # Evidently is a benchmark-only dependency; 0.7.23 needs pandas < 3, so its own venv
	$(PYTHON) -m venv $(EVIDENTLY)
	$(EVIDENTLY)/bin/pip install --quiet "uv==$(UV_VERSION)"
	$(EVIDENTLY)/bin/uv pip install --quiet --python $(EVIDENTLY)/bin/python "evidently==0.7.23" "pandas<3" pyarrow
	touch $@

bench: setup-dev $(EVIDENTLY)/.installed ## benchmark the pipeline, drift (against Evidently), growth and tuning; tables
	python -m bench.pipeline
	python -m bench.drift --evidently $(EVIDENTLY)/bin/python
	python -m bench.scaling

bench-scale: setup-dev ## engine dask against pandas at 3x, 20x, 100x the bundled data, XGBoost on the cluster; tables (~15 min)
	python -m bench.scale

bench-serve: setup-dev repro ## the service against `mlflow models serve` of the same model under wrk, and a soak; tables
	$(call need,wrk,wrk,make bench-serve)
	python -m bench.serve

# Remote plugins first (preferring their current pins), then the runtime lock constrained by them, so that any one
# plugin installs over requirements.lock without changing a package; the dev lock is constrained by the runtime one.
lock: setup-dev ## re-resolve requirements*.lock from pyproject.toml
	uv pip compile --quiet --python-version 3.11 pyproject.toml $(REMOTES:%=--extra %) -o requirements-remotes.lock
	uv pip compile --quiet --python-version 3.11 pyproject.toml -c requirements-remotes.lock -o requirements.lock
	uv pip compile --quiet --python-version 3.11 pyproject.toml --extra dev -c requirements.lock \
	  -o requirements-dev.lock

clean: ## remove generated files (keeps .venv, data and the DVC cache)
	rm -rf .mypy_cache .pytest_cache .ruff_cache mlartifacts mlflow.db
