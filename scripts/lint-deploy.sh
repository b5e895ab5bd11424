#!/usr/bin/env bash
# Offline checks of the deployment code: template.yaml (SAM) and infra/ (Terraform).
#
#   bash scripts/lint-deploy.sh          cfn-lint template.yaml; `sam validate --lint` and
#                                        `sam build` (no container) of template.yaml; `tofu fmt
#                                        -check`, an HCL parse of every infra/ file and `tofu
#                                        test` of infra/ with a mocked AWS provider
#   bash scripts/lint-deploy.sh json     print {"template": <template.yaml as JSON>,
#                                        "infra": {"<file>": <parsed HCL>}} for localtest/suites/deploy
#
# It installs what it needs into a cache directory (MIRRORLESS_CACHE, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/mirrorless): a Python venv with pinned aws-sam-cli, cfn-lint
# and python-hcl2 from PyPI, and OpenTofu built from the Go module proxy. Nothing reaches AWS or
# the Terraform registry, so the AWS provider's real schema is NOT checked: see docs/deploy.md.
#
# Two runs at once are safe: installs happen under a lock (flock on $cache/.install.lock), the
# venv is marked complete only when its install finished, OpenTofu is built under a name of its
# own and renamed into place, and each run builds into its own temporary directory.
#
# Exit status: 0 clean, 1 a check failed, 3 a tool could not be installed (under CI=true that
# is 1: the checks must run there).
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0 # the version aws-sam-cli $SAM_CLI_VERSION accepts (<1.59)
PYTHON_HCL2_VERSION=8.1.4
TOFU_VERSION=v1.10.10

cache=${MIRRORLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mirrorless}
venv=$cache/deploy-venv-sam$SAM_CLI_VERSION-cfnlint$CFN_LINT_VERSION-hcl$PYTHON_HCL2_VERSION
tofu=$cache/tofu-$TOFU_VERSION/tofu
mode=${1:-check}
# SAM CLI: no telemetry (its update check gives up quietly without a network).
export SAM_CLI_TELEMETRY=0

log() { printf 'lint-deploy: %s\n' "$*" >&2; }
unavailable() {
	log "cannot install $1"
	if [ "${CI:-}" = true ]; then exit 1; fi
	exit 3
}

# with_lock CMD...: run CMD holding the cache's install lock (one install at a time; a second
# run waits, then finds the tool installed).
with_lock() {
	mkdir -p "$cache"
	(
		if ! flock -n 9; then
			log "waiting for another run's install (lock $cache/.install.lock)"
			flock 9 || exit 3
		fi
		"$@"
	) 9>"$cache/.install.lock"
}

ensure_venv() {
	[ -f "$venv/.complete" ] && return 0
	with_lock install_venv || unavailable "aws-sam-cli/cfn-lint/python-hcl2 (see above)"
}

# A venv cannot be moved (its scripts name their interpreter by absolute path), so it is built
# in place under the lock and marked complete last; an unmarked venv is a broken one.
install_venv() {
	[ -f "$venv/.complete" ] && return 0
	log "installing aws-sam-cli $SAM_CLI_VERSION, cfn-lint $CFN_LINT_VERSION and python-hcl2 $PYTHON_HCL2_VERSION into $venv (once; minutes)"
	command -v python3 >/dev/null || { log "python3 is not on PATH"; return 1; }
	rm -rf "$venv"
	python3 -m venv "$venv" >&2 || { log "python3 -m venv failed"; return 1; }
	"$venv/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION" \
		"cfn-lint==$CFN_LINT_VERSION" "python-hcl2==$PYTHON_HCL2_VERSION" >&2 ||
		{ log "pip install from PyPI failed"; return 1; }
	touch "$venv/.complete"
}

ensure_tofu() {
	[ -x "$tofu" ] && return 0
	with_lock build_tofu || unavailable "OpenTofu $TOFU_VERSION (see above)"
}

# OpenTofu's go.mod has a replace directive, so `go install ...@version` refuses it; building
# inside the downloaded module (which honours the replace) works. The binary is built under a
# name of this run's own and renamed into place, so no one ever runs a half-written file.
build_tofu() {
	[ -x "$tofu" ] && return 0
	log "building OpenTofu $TOFU_VERSION from the Go module proxy into $tofu (once; a few minutes)"
	command -v go >/dev/null || { log "go is not on PATH"; return 1; }
	local dir tmp
	dir=$(go mod download -json "github.com/opentofu/opentofu@$TOFU_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p') || { log "go mod download failed"; return 1; }
	[ -n "$dir" ] || { log "go mod download printed no directory"; return 1; }
	mkdir -p "$(dirname "$tofu")"
	tmp=$(mktemp "$tofu.XXXXXX")
	if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags='-s -w' \
		-o "$tmp" ./cmd/tofu) >&2; then
		rm -f "$tmp"
		log "go build of OpenTofu failed"
		return 1
	fi
	chmod 0755 "$tmp"
	mv -f "$tmp" "$tofu"
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
	work=$(mktemp -d "${TMPDIR:-/tmp}/mirrorless-lint-deploy.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	# tofu test with mock_provider "aws": OpenTofu takes a mocked provider's schema from the
	# provider binary, and the registry is out of reach, so a stand-in that serves only the
	# schema (localtest/suites/deploy/stubaws) is installed from a filesystem mirror.
	log "tofu test of infra/ (mocked AWS provider; schema from localtest/suites/deploy/stubaws)"
	plugin=$work/mirror/registry.opentofu.org/hashicorp/aws/6.0.0/$(go env GOOS)_$(go env GOARCH)
	mkdir -p "$plugin"
	printf '%s\n' 'provider_installation {' '  filesystem_mirror {' "    path    = \"$work/mirror\"" \
		'    include = ["registry.opentofu.org/hashicorp/aws"]' '  }' '  direct {' \
		'    exclude = ["registry.opentofu.org/hashicorp/aws"]' '  }' '}' >"$work/tofurc"
	cp -r infra "$work/infra"
	if (cd localtest/suites/deploy/stubaws && go build -o "$plugin/terraform-provider-aws_v6.0.0" .) >&2 &&
		(cd "$work/infra" && export TF_CLI_CONFIG_FILE="$work/tofurc" CHECKPOINT_DISABLE=1 &&
			"$tofu" init -backend=false -input=false -no-color >/dev/null &&
			"$tofu" test -no-color) >&2; then
		:
	else
		log "tofu test of infra/ failed"
		status=1
	fi
	log "sam validate --lint (SAM CLI $SAM_CLI_VERSION)"
	"$venv/bin/sam" validate --lint --template-file template.yaml >&2 || status=1
	# sam build runs the Makefile's build-<Name>Function targets (Metadata: BuildMethod
	# makefile) in a copy of the repository; each function must come out with its bootstrap.
	build=$work/sam
	log "sam build (no container) into $build"
	if "$venv/bin/sam" build --template-file template.yaml --build-dir "$build/out" \
		--cache-dir "$build/cache" >&2; then
		for fn in $(sed -n 's/^  \([A-Z][A-Za-z]*Function\):$/\1/p' template.yaml); do
			if [ ! -x "$build/out/$fn/bootstrap" ]; then
				log "sam build left no $fn/bootstrap"
				status=1
			fi
		done
	else
		status=1
	fi
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
