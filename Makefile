# mirrorless — common tasks. Every target works on a fresh machine with Go
# (and, for `test`, a JDK 17 with Maven, which fetch and run real Kafka).

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUNCTIONS   := mirror reconcile checkpoint
# What `mirror -version` prints (Go stamps vcs.revision itself where it can;
# COMMIT covers builds it cannot, such as git worktrees or -buildvcs=false).
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
RUNNER      := github.com/mirrorless/mirrorless/functions/internal/runner
LDFLAGS     := -s -w -X $(RUNNER).version=$(VERSION) -X $(RUNNER).commit=$(COMMIT)
GOBUILD     := CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags='$(LDFLAGS)'
DIST        ?= dist
# Files packaged next to each bootstrap, landing in /var/task/<name> (the properties file, a PEM
# trust store): BUNDLE="mm2.properties certs/ca.pem".
BUNDLE      ?= $(wildcard mm2.properties)
BUNDLE_NAMES = $(sort $(notdir $(BUNDLE)))
# nobundle: say so when nothing is bundled, since the functions' default PropertiesFile is the
# bundled mm2.properties and a deployment without it or Properties exits 2 on every run.
nobundle = test -n "$(BUNDLE)" || echo "note: no mm2.properties at the repository's root, so none is bundled: set the Properties parameter (Terraform: properties) when deploying, or save it there and build again (docs/deploy.md, section 2)" >&2
# stage DIR: copy BUNDLE into DIR and fix every file's mode and time (1980-01-01 UTC, the
# earliest a zip records), so a package's bytes depend on its contents only.
stage = { for b in $(BUNDLE); do install -m 0644 "$$b" $(1)/ || exit 1; done && \
	chmod 0755 $(1)/bootstrap && TZ=UTC touch -t 198001010000 $(1)/bootstrap $(addprefix $(1)/,$(BUNDLE_NAMES)); }

.PHONY: demo test test-fast fuzz build kafka-up kafka-down clean bench local lint-deploy faults soak

## demo: copy a seeded `test` topic between two embedded clusters and show both sides
demo:
	go run ./localtest/cmd/demo

## test: everything, on a real Apache Kafka pair started from Maven Central
test:
	bash scripts/test.sh

## fuzz: every fuzz target for FUZZTIME each (default 1m); failing inputs land in testdata/fuzz
fuzz:
	FUZZTIME=$${FUZZTIME:-1m} bash scripts/fuzz.sh

## test-fast: unit and in-process (kfake) tests only; no real brokers
test-fast:
	go vet ./...
	go -C localtest/bench vet ./...
	go test -race ./core/... ./functions/...

## build: one static linux/arm64 `bootstrap` per function, zipped for Lambda (provided.al2023)
##        into $(DIST) (default dist/), with the BUNDLE files next to it (default: mm2.properties
##        if there is one). The zips are reproducible: the same sources and files give the same
##        bytes (fixed file times, modes and order), so Terraform redeploys only what changed.
build:
	@for f in $(FUNCTIONS); do \
		rm -rf $(DIST)/$$f && mkdir -p $(DIST)/$$f && \
		$(GOBUILD) -o $(DIST)/$$f/bootstrap ./functions/$$f && \
		$(call stage,$(DIST)/$$f) && \
		(cd $(DIST)/$$f && rm -f ../$$f.zip && TZ=UTC zip -q -X -D ../$$f.zip bootstrap $(BUNDLE_NAMES)) || exit 1; \
		printf '%-10s %s bytes (zip %s bytes)\n' $$f $$(stat -c %s $(DIST)/$$f/bootstrap) $$(stat -c %s $(DIST)/$$f.zip); \
	done
	@$(nobundle)

## build-<Name>Function: what `sam build` runs for each function (template.yaml's
##        Metadata: BuildMethod makefile), in a copy of the repository with ARTIFACTS_DIR set
build-%Function:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: sam build sets it; use make build" >&2; exit 2; }
	@f=$$(echo '$*' | tr A-Z a-z); test -d functions/$$f || { echo "no function $$f in functions/" >&2; exit 2; }; \
		$(GOBUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$$f
	@$(call stage,$(ARTIFACTS_DIR))
	@$(nobundle)

## bench: mirrorless vs a raw pipe and MirrorMaker 2 on a real Kafka pair (BENCH_SCALE=0.01 for a smoke run)
bench:
	bash scripts/bench.sh

## local: run the three functions on their schedules against MIRROR_PROPERTIES_FILE's clusters
##        (ARGS="-mirror 10s" to change intervals; see localtest/cmd/scheduler)
local:
	go run ./localtest/cmd/scheduler $(ARGS)

## lint-deploy: cfn-lint, sam validate --lint and sam build of template.yaml; tofu fmt and an HCL parse of infra/ (tools cached on first use)
lint-deploy:
	bash scripts/lint-deploy.sh

## faults: the long fault suite (broker kills and freezes, 2,000 partitions) on a Kafka pair of its own
faults:
	bash localtest/suites/faults/run.sh

## soak: 30 minutes of load with periodic kills and restarts (scripts/soak.sh MINUTES for another length)
soak:
	bash scripts/soak.sh

## kafka-up / kafka-down: the real Kafka pair on 127.0.0.1:19092 and :29092
kafka-up:
	bash scripts/kafka-pair.sh start
kafka-down:
	bash scripts/kafka-pair.sh stop

staticcheck:
	go run $(STATICCHECK) ./...
	cd localtest/bench && go run $(STATICCHECK) ./...

clean:
	rm -rf dist
