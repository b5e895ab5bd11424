#!/usr/bin/env bash
# Offline checks of the deployment code: template.yaml (SAM) and infra/ (Terraform).
#
#   bash scripts/lint-deploy.sh          cfn-lint template.yaml; `tofu fmt -check` and an HCL
#                                        parse of every infra/ file
#   bash scripts/lint-deploy.sh json     print {"template": <template.yaml as JSON>,
#                                        "infra": {"<file>": <parsed HCL>}} for localtest/suites/deploy
#
# It installs what it needs into a cache directory (MIRRORLESS_CACHE, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/mirrorless): a Python venv with pinned cfn-lint and
# python-hcl2 from PyPI, and OpenTofu built from the Go module proxy. Nothing reaches AWS or the
# Terraform registry, so provider schemas are NOT checked: see docs/deploy.md.
#
# Exit status: 0 clean, 1 a check failed, 3 a tool could not be installed (under CI=true that
# is 1: the checks must run there).
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION=1.58.0
PYTHON_HCL2_VERSION=8.1.4
TOFU_VERSION=v1.10.10

cache=${MIRRORLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mirrorless}
venv=$cache/deploy-venv-cfnlint$CFN_LINT_VERSION-hcl$PYTHON_HCL2_VERSION
tofu=$cache/tofu-$TOFU_VERSION/tofu
mode=${1:-check}

log() { printf 'lint-deploy: %s\n' "$*" >&2; }
unavailable() {
	log "cannot install $1"
	if [ "${CI:-}" = true ]; then exit 1; fi
	exit 3
}

ensure_venv() {
	[ -x "$venv/bin/cfn-lint" ] && [ -f "$venv/.complete" ] && return 0
	log "installing cfn-lint $CFN_LINT_VERSION and python-hcl2 $PYTHON_HCL2_VERSION into $venv (once)"
	command -v python3 >/dev/null || unavailable "a Python venv: python3 is not on PATH"
	rm -rf "$venv"
	mkdir -p "$cache"
	python3 -m venv "$venv" >&2 || unavailable "a Python venv (python3 -m venv failed)"
	"$venv/bin/pip" install --quiet --disable-pip-version-check \
		"cfn-lint==$CFN_LINT_VERSION" "python-hcl2==$PYTHON_HCL2_VERSION" >&2 ||
		unavailable "cfn-lint/python-hcl2 from PyPI"
	touch "$venv/.complete"
}

# OpenTofu's go.mod has a replace directive, so `go install ...@version` refuses it; building
# inside the downloaded module (which honours the replace) works.
ensure_tofu() {
	[ -x "$tofu" ] && return 0
	log "building OpenTofu $TOFU_VERSION from the Go module proxy into $tofu (once; a few minutes)"
	command -v go >/dev/null || unavailable "OpenTofu: go is not on PATH"
	local dir
	dir=$(go mod download -json "github.com/opentofu/opentofu@$TOFU_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p') || unavailable "OpenTofu (go mod download)"
	[ -n "$dir" ] || unavailable "OpenTofu (go mod download printed no directory)"
	mkdir -p "$(dirname "$tofu")"
	(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags='-s -w' \
		-o "$tofu.tmp" ./cmd/tofu) >&2 || unavailable "OpenTofu (go build)"
	mv "$tofu.tmp" "$tofu"
}

# Parse every .tf file under infra/ with python-hcl2 (a full HCL2 grammar) and print them as JSON.
hcl_json() {
	"$venv/bin/python" - "$@" <<'EOF'
import json, pathlib, sys
import hcl2
out = {}
bad = False
for p in sorted(pathlib.Path("infra").rglob("*.tf")):
    try:
        with open(p) as f:
            out[str(p)] = hcl2.load(f)
    except Exception as e:  # report every file, then fail
        print(f"lint-deploy: {p}: HCL parse error: {e}", file=sys.stderr)
        bad = True
if bad:
    sys.exit(1)
json.dump(out, sys.stdout)
EOF
}

case $mode in
check)
	ensure_venv
	ensure_tofu
	status=0
	log "cfn-lint template.yaml"
	"$venv/bin/cfn-lint" --non-zero-exit-code informational template.yaml || status=1
	log "tofu fmt -check -recursive infra/"
	if ! env -u TF_CLI_CONFIG_FILE "$tofu" fmt -no-color -check -diff -recursive infra/; then
		log "infra/ is not tofu-fmt clean: run $tofu fmt -recursive infra/"
		status=1
	fi
	log "HCL parse of infra/"
	hcl_json >/dev/null || status=1
	[ "$status" = 0 ] && log "ok"
	exit "$status"
	;;
json)
	ensure_venv
	infra=$(hcl_json)
	"$venv/bin/python" - "$infra" <<'EOF'
import json, sys
from cfnlint.decode import decode
tpl, matches = decode("template.yaml")
if matches:
    for m in matches:
        print(f"lint-deploy: template.yaml: {m}", file=sys.stderr)
    sys.exit(1)
json.dump({"template": tpl, "infra": json.loads(sys.argv[1])}, sys.stdout, default=str)
EOF
	;;
*)
	echo "usage: $0 [check|json]" >&2
	exit 2
	;;
esac
