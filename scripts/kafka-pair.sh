#!/usr/bin/env bash
# kafka-pair.sh: two single-node KRaft Apache Kafka clusters ("A" and "B") on
# loopback, run from Apache Kafka's Maven Central jars with the local JDK (17+).
# No Docker needed; nothing is downloaded except through Maven.
# ACLs are enforced (StandardAuthorizer), with User:ANONYMOUS, i.e. every
# PLAINTEXT client, as super user.
#
# Each broker listens on loopback on three client ports (its controller is on +1):
#   client port      PLAINTEXT
#   client port + 2  SASL_SSL, SCRAM-SHA-256 and SCRAM-SHA-512, user mirror /
#                    mirror-secret (created at format time; a super user too)
#   client port + 3  SSL, no client certificate (so the client is User:ANONYMOUS)
# Both TLS listeners use a server certificate for IP 127.0.0.1 signed by a
# test CA made at each fresh `start` (openssl, else keytool) in $KAFKA_PAIR_DIR;
# its certificate is $KAFKA_PAIR_DIR/ca.pem (MIRROR_TEST_CA).
#
#   scripts/kafka-pair.sh start              resolve jars (cached), format, start A and B,
#                                            wait until both answer, print `export` lines
#   scripts/kafka-pair.sh stop               stop both (SIGTERM, then SIGKILL), remove data
#   scripts/kafka-pair.sh status             say which are up (exit 0 only if both are)
#   scripts/kafka-pair.sh env                print the `export` lines only
#   scripts/kafka-pair.sh stop-broker A|B    SIGTERM one broker, keep its data
#   scripts/kafka-pair.sh kill-broker A|B    SIGKILL one broker (crash), keep its data
#   scripts/kafka-pair.sh start-broker A|B   start one broker on its data dir and wait for it
#   scripts/kafka-pair.sh restart-broker A|B stop-broker + start-broker
#   scripts/kafka-pair.sh pause-broker A|B   freeze one broker (SIGSTOP): it keeps its sockets, answers nothing
#   scripts/kafka-pair.sh resume-broker A|B  unfreeze it (SIGCONT)
#   scripts/kafka-pair.sh run CLASS [ARG...] run a Java main on the Kafka classpath, e.g.
#                                            run org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:19092 --list
#
# Typical use:   eval "$(scripts/kafka-pair.sh start)"; go test ./...; scripts/kafka-pair.sh stop
# Only the `export` lines go to stdout; progress and errors go to stderr.
#
# Environment:
#   KAFKA_VERSION       Kafka version (4.x), default 4.1.1
#   KAFKA_PAIR_DIR      state dir (configs, data, logs, pid files),
#                       default ${TMPDIR:-/tmp}/mirrorless-kafka-pair
#   KAFKA_CACHE_DIR     jar cache, default ~/.cache/mirrorless/kafka-$KAFKA_VERSION
#   KAFKA_A_PORT        client port of cluster A, default 19092 (controller +1,
#                       SASL_SSL +2, SSL +3)
#   KAFKA_B_PORT        client port of cluster B, default 29092 (likewise)
#   KAFKA_PAIR_TIMEOUT  seconds to wait for a broker to come up, default 90
#   KAFKA_HEAP_OPTS     default "-Xms256m -Xmx512m"
#   KAFKA_JVM_OPTS      extra JVM flags for the brokers
#   KAFKA_BROKER_PROPS  extra server.properties lines for both brokers, separated by
#                       newlines or spaces, e.g. "broker.session.timeout.ms=3000"
#                       (it is 9 s by default, so start-broker after kill-broker takes ~12 s:
#                       the restarted controller waits out the dead incarnation's session).
#                       Applied whenever a broker is (re)started, so keep it set for later
#                       start-broker/restart-broker calls too.
#   KAFKA_PAIR_CDS      1 (default) or 0: class-data sharing archive for faster starts
#   KAFKA_PAIR_OPENSSL  openssl command that makes the test CA and server certificate,
#                       default openssl; if it is not found, the JDK's keytool does
#   JAVA_HOME           JDK to use (else `java` on PATH)
set -euo pipefail

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
PAIR_DIR=${KAFKA_PAIR_DIR:-${TMPDIR:-/tmp}/mirrorless-kafka-pair}
CACHE_DIR=${KAFKA_CACHE_DIR:-$HOME/.cache/mirrorless/kafka-$KAFKA_VERSION}
A_PORT=${KAFKA_A_PORT:-19092}
B_PORT=${KAFKA_B_PORT:-29092}
TIMEOUT=${KAFKA_PAIR_TIMEOUT:-90}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
JVM_OPTS=${KAFKA_JVM_OPTS:-}
BROKER_PROPS=${KAFKA_BROKER_PROPS:-}
USE_CDS=${KAFKA_PAIR_CDS:-1}
CDS_ARCHIVE= # set by check_java
HOST=127.0.0.1
SCRAM_USER=mirror
SCRAM_PASSWORD=mirror-secret
STOP_TIMEOUT=30
DEP_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
LIB=$CACHE_DIR/lib
STAMP=$CACHE_DIR/.resolved
OPENSSL=${KAFKA_PAIR_OPENSSL:-openssl}
TLS_DIR=$PAIR_DIR/tls
P12_PASSWORD=kafka-pair # of the PKCS12 key store that keytool makes (no secret: a test CA)
if [[ -n ${JAVA_HOME:-} ]]; then JAVA=$JAVA_HOME/bin/java; else JAVA=java; fi
if [[ -n ${JAVA_HOME:-} ]]; then KEYTOOL=$JAVA_HOME/bin/keytool; else KEYTOOL=keytool; fi

log() { printf 'kafka-pair: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}

client_port() { if [[ $1 == A ]]; then echo "$A_PORT"; else echo "$B_PORT"; fi; }
controller_port() { echo $(($(client_port "$1") + 1)); }
sasl_ssl_port() { echo $(($(client_port "$1") + 2)); }
ssl_port() { echo $(($(client_port "$1") + 3)); }
bdir() { echo "$PAIR_DIR/$1"; }

check_name() { [[ ${1:-} == A || ${1:-} == B ]] || die "expected broker name A or B, got '${1:-}'"; }

print_env() {
	echo "export MIRROR_TEST_A=$HOST:$A_PORT"
	echo "export MIRROR_TEST_B=$HOST:$B_PORT"
	echo "export MIRROR_TEST_A_SASL_SSL=$HOST:$(sasl_ssl_port A)"
	echo "export MIRROR_TEST_B_SASL_SSL=$HOST:$(sasl_ssl_port B)"
	echo "export MIRROR_TEST_A_SSL=$HOST:$(ssl_port A)"
	echo "export MIRROR_TEST_B_SSL=$HOST:$(ssl_port B)"
	echo "export MIRROR_TEST_CA=$PAIR_DIR/ca.pem"
	echo "export MIRROR_TEST_SCRAM_USER=$SCRAM_USER"
	echo "export MIRROR_TEST_SCRAM_PASSWORD=$SCRAM_PASSWORD"
}

# ---------------------------------------------------------------- locking
# Serialise commands on one state dir. The lock fd must not leak into the
# JVMs (they would hold the lock for their whole life): launch closes fd 8/9.
lock_pair() {
	command -v flock >/dev/null || return 0
	mkdir -p "$PAIR_DIR"
	exec 9>"$PAIR_DIR/.lock"
	flock -w 300 9 || die "another kafka-pair.sh holds $PAIR_DIR/.lock"
}

# ---------------------------------------------------------------- jars
check_java() {
	command -v "$JAVA" >/dev/null || die "no java found (set JAVA_HOME or put a JDK 17+ on PATH)"
	local props v vm
	props=$("$JAVA" -XshowSettings:properties -version 2>&1)
	v=$(sed -n 's/^ *java\.specification\.version = //p' <<<"$props")
	[[ ${v%%.*} =~ ^[0-9]+$ ]] || die "cannot tell the Java version of $JAVA"
	((${v%%.*} >= 17)) || die "Kafka $KAFKA_VERSION needs Java 17+, $JAVA is Java $v"
	vm=$(sed -n 's/^ *java\.vm\.version = //p' <<<"$props" | tr -c 'A-Za-z0-9._+\n-' _)
	# A class-data sharing archive only fits the JVM build (and jars) it was made with.
	CDS_ARCHIVE=$CACHE_DIR/broker-cds-${vm:-unknown}.jsa
}

write_pom() { # extra dependency XML in $1
	cat >"$CACHE_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- written by scripts/kafka-pair.sh: resolves Apache Kafka's broker and tools jars -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.mirrorless</groupId>
  <artifactId>kafka-pair-deps</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
$1
  </dependencies>
</project>
EOF
}

mvn_run() { # args... ; output to $CACHE_DIR/mvn.log, tail on failure
	if ! mvn -B -q -Dstyle.color=never -f "$CACHE_DIR/pom.xml" "$@" >>"$CACHE_DIR/mvn.log" 2>&1; then
		log "Maven output (last 30 lines of $CACHE_DIR/mvn.log):"
		tail -n 30 "$CACHE_DIR/mvn.log" | sed 's/\x1b\[[0-9;]*m//g' >&2
		die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (+ kafka-tools, log4j binding); see above"
	fi
}

resolve_jars() {
	[[ -f $STAMP && -d $LIB ]] && return 0
	command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch the Kafka jars into $CACHE_DIR"
	local major=${KAFKA_VERSION%%.*}
	if ! [[ $major =~ ^[0-9]+$ ]] || ((major < 4)); then
		die "KAFKA_VERSION=$KAFKA_VERSION: only Kafka 4.x and later are supported (log4j2, KRaft-only)"
	fi
	mkdir -p "$CACHE_DIR"
	exec 8>"$CACHE_DIR/.lock"
	if command -v flock >/dev/null; then flock -w 600 8 || die "cannot lock $CACHE_DIR/.lock"; fi
	if [[ -f $STAMP && -d $LIB ]]; then
		exec 8>&-
		return 0
	fi
	log "resolving Kafka $KAFKA_VERSION jars with Maven into $CACHE_DIR (first run only)"
	local t0=$SECONDS tmp=$CACHE_DIR/lib.tmp
	: >"$CACHE_DIR/mvn.log"
	rm -rf "$tmp"
	write_pom ""
	mvn_run "$DEP_PLUGIN:copy-dependencies" -DoutputDirectory="$tmp"
	# Kafka 4.x brings log4j-api/log4j-core (KIP-653) and slf4j-api but no
	# slf4j->log4j2 binding; add the one matching those versions.
	local core slf4j binding
	core=$(find "$tmp" -name 'log4j-core-*.jar' | sed -n '1s#.*/log4j-core-\(.*\)\.jar$#\1#p')
	slf4j=$(find "$tmp" -name 'slf4j-api-*.jar' | sed -n '1s#.*/slf4j-api-\(.*\)\.jar$#\1#p')
	[[ -n $core ]] || core=2.24.3
	if [[ $slf4j == 1.* ]]; then binding=log4j-slf4j-impl; else binding=log4j-slf4j2-impl; fi
	write_pom "    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>$binding</artifactId><version>$core</version></dependency>"
	mvn_run "$DEP_PLUGIN:copy-dependencies" -DoutputDirectory="$tmp"
	[[ -f $tmp/kafka_2.13-$KAFKA_VERSION.jar ]] || die "Maven ran but $tmp/kafka_2.13-$KAFKA_VERSION.jar is missing"
	rm -rf "$LIB"
	rm -f "$CACHE_DIR"/*.jsa
	mv "$tmp" "$LIB"
	echo "kafka_2.13:$KAFKA_VERSION log4j-core:$core $binding slf4j-api:$slf4j" >"$STAMP"
	log "resolved $(find "$LIB" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
	exec 8>&-
}

# ---------------------------------------------------------------- logging
write_log_configs() {
	mkdir -p "$PAIR_DIR"
	# Broker: everything from INFO up to <broker>/logs/server.log (rolled at
	# 50 MB), WARN and up also to stderr, which goes to <broker>/logs/stdout.log.
	cat >"$PAIR_DIR/log4j2-broker.properties" <<'EOF'
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
appender.err.filter.threshold.type = ThresholdFilter
appender.err.filter.threshold.level = warn
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
rootLogger.appenderRef.err.ref = STDERR
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
	# Tools (StorageTool, `run`): errors only, to stderr.
	cat >"$PAIR_DIR/log4j2-tools.properties" <<'EOF'
status = error
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = error
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# ---------------------------------------------------------------- TLS
# A test CA and one server certificate for IP $HOST (30 days), shared by both
# clusters, in $TLS_DIR; the CA certificate also in $PAIR_DIR/ca.pem for
# clients. With openssl the brokers read a PEM key store (certificate chain and
# unencrypted PKCS#8 key in one file), with keytool a PKCS12 one.
certs_openssl() { # dir
	local t=$1
	"$OPENSSL" req -x509 -newkey rsa:2048 -nodes -days 30 -keyout "$t/ca.key" -out "$t/ca.pem" \
		-subj "/CN=mirrorless kafka-pair test CA" || return 1
	"$OPENSSL" req -newkey rsa:2048 -nodes -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=$HOST" || return 1
	printf '%s\n' "subjectAltName=IP:$HOST" "basicConstraints=CA:FALSE" \
		"keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$t/server.ext"
	"$OPENSSL" x509 -req -days 30 -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
		-extfile "$t/server.ext" -out "$t/server.crt" || return 1
	"$OPENSSL" pkcs8 -topk8 -nocrypt -in "$t/server.key" -out "$t/server.p8" || return 1
	cat "$t/server.crt" "$t/ca.pem" "$t/server.p8" >"$t/server.pem"
}

certs_keytool() { # dir
	local t=$1
	local -a kt=(-noprompt -storetype PKCS12 -storepass "$P12_PASSWORD")
	local -a key=(-keyalg RSA -keysize 2048 -validity 30)
	"$KEYTOOL" -genkeypair "${kt[@]}" "${key[@]}" -keystore "$t/ca.p12" -alias ca \
		-dname "CN=mirrorless kafka-pair test CA" -ext bc:c -ext ku:c=keyCertSign,cRLSign || return 1
	"$KEYTOOL" -exportcert "${kt[@]}" -keystore "$t/ca.p12" -alias ca -rfc -file "$t/ca.pem" || return 1
	"$KEYTOOL" -genkeypair "${kt[@]}" "${key[@]}" -keystore "$t/server.p12" -alias server -dname "CN=$HOST" || return 1
	"$KEYTOOL" -certreq "${kt[@]}" -keystore "$t/server.p12" -alias server -file "$t/server.csr" || return 1
	"$KEYTOOL" -gencert "${kt[@]}" -keystore "$t/ca.p12" -alias ca -infile "$t/server.csr" -outfile "$t/server.crt" \
		-rfc -validity 30 -ext "san=ip:$HOST" -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth || return 1
	cat "$t/server.crt" "$t/ca.pem" >"$t/chain.pem"
	"$KEYTOOL" -importcert "${kt[@]}" -keystore "$t/server.p12" -alias server -file "$t/chain.pem" || return 1
}

make_certs() {
	local tmp=$TLS_DIR.tmp tool
	rm -rf "$tmp"
	mkdir -p "$tmp"
	if command -v "$OPENSSL" >/dev/null; then tool=openssl; else tool=keytool; fi
	[[ $tool == openssl ]] || command -v "$KEYTOOL" >/dev/null || die "neither openssl nor keytool found: cannot make the test certificates"
	if ! "certs_$tool" "$tmp" >"$tmp/gen.log" 2>&1; then
		cat "$tmp/gen.log" >&2
		die "$tool could not make the test certificates (in $tmp)"
	fi
	rm -rf "$TLS_DIR"
	mv "$tmp" "$TLS_DIR"
	cp "$TLS_DIR/ca.pem" "$PAIR_DIR/ca.pem.tmp"
	mv -f "$PAIR_DIR/ca.pem.tmp" "$PAIR_DIR/ca.pem"
	log "made a test CA ($PAIR_DIR/ca.pem) and a server certificate for $HOST with $tool"
}

ensure_certs() {
	[[ -s $PAIR_DIR/ca.pem && (-s $TLS_DIR/server.pem || -s $TLS_DIR/server.p12) ]] || make_certs
}

# server.properties lines of the key store of listener $1 (lower case).
keystore_props() { # listener
	if [[ -s $TLS_DIR/server.pem ]]; then
		printf '%s\n' "listener.name.$1.ssl.keystore.type=PEM" "listener.name.$1.ssl.keystore.location=$TLS_DIR/server.pem"
	else
		printf '%s\n' "listener.name.$1.ssl.keystore.type=PKCS12" "listener.name.$1.ssl.keystore.location=$TLS_DIR/server.p12" \
			"listener.name.$1.ssl.keystore.password=$P12_PASSWORD" "listener.name.$1.ssl.key.password=$P12_PASSWORD"
	fi
}

# ---------------------------------------------------------------- configs
write_server_config() { # X
	local d cp ctl sp tp
	d=$(bdir "$1")
	cp=$(client_port "$1")
	ctl=$(controller_port "$1")
	sp=$(sasl_ssl_port "$1")
	tp=$(ssl_port "$1")
	mkdir -p "$d/logs"
	cat >"$d/server.properties" <<EOF
# cluster $1, written by scripts/kafka-pair.sh
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$ctl
listeners=PLAINTEXT://$HOST:$cp,SASL_SSL://$HOST:$sp,SSL://$HOST:$tp,CONTROLLER://$HOST:$ctl
advertised.listeners=PLAINTEXT://$HOST:$cp,SASL_SSL://$HOST:$sp,SSL://$HOST:$tp
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
log.dirs=$d/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Tests copy records with old (2020) timestamps on purpose. Under the default
# 7-day time retention the broker would delete them at its first retention
# check, 30 s after start, on the source and on the copies alike. Topics that
# need time retention set retention.ms themselves.
log.retention.ms=-1
# ACLs are enforced (KRaft's StandardAuthorizer) so that ACL sync can be tested
# against a real broker: without an authorizer, DescribeAcls/CreateAcls only
# answer SECURITY_DISABLED. Every PLAINTEXT and SSL client (the tests, and this
# combined node's own inter-broker and broker->controller connections) is
# User:ANONYMOUS; making it a super user keeps full rights everywhere and needs
# no ACL for the controller. The SCRAM user of the SASL_SSL listener is one too.
# allow.everyone.if.no.acl.found therefore stays at Kafka's default (false): any
# other principal, such as the ones tests put into ACLs, gets only what its
# ACLs grant.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:$SCRAM_USER
# SASL_SSL: SCRAM only; the credentials are written into the metadata log at
# format time (StorageTool --add-scram).
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# SASL_SSL and SSL: the test CA's server certificate; no client certificates.
$(keystore_props sasl_ssl)
$(keystore_props ssl)
EOF
	if [[ -n $BROKER_PROPS ]]; then
		echo "# from KAFKA_BROKER_PROPS" >>"$d/server.properties"
		tr ' ' '\n' <<<"$BROKER_PROPS" | sed '/^$/d' >>"$d/server.properties"
	fi
}

# Kafka cluster ids are 16 random bytes in unpadded base64url (what
# `StorageTool random-uuid` prints); avoid a leading '-' as Kafka does.
new_cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
		[[ $id != -* ]] && break
	done
	echo "$id"
}

# Format <X>/data with a fresh cluster id. Runs in the background; the caller waits.
format_storage() { # X
	local d
	d=$(bdir "$1")
	rm -rf "$d/data"
	local -a fast=(-XX:TieredStopAtLevel=1)
	[[ $USE_CDS == 1 && -s $CDS_ARCHIVE ]] && fast+=(-XX:SharedArchiveFile="$CDS_ARCHIVE")
	"$JAVA" "${fast[@]}" -Dlog4j2.configurationFile="$PAIR_DIR/log4j2-tools.properties" -cp "$LIB/*" \
		kafka.tools.StorageTool format -t "$(new_cluster_id)" -c "$d/server.properties" \
		--add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" \
		--add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" \
		>"$d/logs/format.log" 2>&1 8>&- 9>&-
}

format_all() { # X...
	local x pids=() failed=()
	for x in "$@"; do
		format_storage "$x" &
		pids+=($!)
	done
	local i=0
	for x in "$@"; do
		wait "${pids[$i]}" || failed+=("$x")
		i=$((i + 1))
	done
	for x in ${failed[@]+"${failed[@]}"}; do
		log "formatting cluster $x failed:"
		cat "$(bdir "$x")/logs/format.log" >&2
	done
	((${#failed[@]} == 0)) || die "StorageTool format failed"
}

# ---------------------------------------------------------------- processes
# Print the pid of broker X if its JVM is alive (and really is that broker).
broker_pid() { # X
	local d f pid cmd
	d=$(bdir "$1")
	f=$d/pid
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/cmdline ]]; then
		cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	else
		cmd=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
	fi
	# An exited-but-unreaped JVM (zombie) has an empty command line.
	[[ $cmd == *kafka.Kafka*"$d/server.properties"* ]] || return 1
	echo "$pid"
}

port_in_use() { # port
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# One Kafka Metadata v4 round trip (no JVM): prints the number of live brokers
# in the response; fails if the port is closed or the answer is malformed.
metadata_probe() { # port
	# shellcheck disable=SC2016
	timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 2
		# size=25 | api_key=3 (Metadata) api_version=4 correlation_id=1 client_id="kafka-pair"
		# | topics=[] (none) allow_auto_topic_creation=false
		printf "\x00\x00\x00\x19\x00\x03\x00\x04\x00\x00\x00\x01\x00\x0akafka-pair\x00\x00\x00\x00\x00" >&3
		# size(4) correlation_id(4) throttle_time_ms(4) brokers.length(4)
		hex=$(od -An -v -tx1 -N 16 <&3 | tr -d " \n")
		[[ ${#hex} == 32 && ${hex:8:8} == 00000001 ]] || exit 3
		echo $((16#${hex:24:8}))
	' "$HOST" "$1" 2>/dev/null
}

broker_answers() { # X
	local n
	n=$(metadata_probe "$(client_port "$1")") || return 1
	((n >= 1)) && port_in_use "$(sasl_ssl_port "$1")" && port_in_use "$(ssl_port "$1")"
}

launch() { # X
	local d off
	d=$(bdir "$1")
	[[ -f $d/data/meta.properties ]] || die "cluster $1 has no formatted storage in $d/data"
	check_ports_free "$1"
	write_server_config "$1"
	mkdir -p "$d/logs"
	touch "$d/logs/server.log"
	off=$(wc -c <"$d/logs/server.log")
	echo "$off" >"$d/logs/.started-offset"
	rm -f "$d/pid"
	local heap
	read -r -a heap <<<"$HEAP_OPTS"
	local -a extra=()
	[[ -n $JVM_OPTS ]] && read -r -a extra <<<"$JVM_OPTS"
	local -a detach=()
	command -v setsid >/dev/null && detach=(setsid)
	# Class-data sharing (JDK AppCDS) roughly halves the JVM's start-up on this
	# 2-core machine. Without an archive yet, this broker records one when it
	# exits gracefully (collect_cds moves it into the cache); later starts map it.
	local -a cds=()
	rm -f "$d/cds-dump"
	if [[ $USE_CDS == 1 ]]; then
		if [[ -s $CDS_ARCHIVE ]]; then
			cds=(-XX:SharedArchiveFile="$CDS_ARCHIVE")
		elif [[ ! -e $PAIR_DIR/A/cds-dump && ! -e $PAIR_DIR/B/cds-dump ]]; then
			echo "$CDS_ARCHIVE.$$.$1.tmp" >"$d/cds-dump"
			cds=(-XX:ArchiveClassesAtExit="$CDS_ARCHIVE.$$.$1.tmp")
		fi
	fi
	echo "=== $(date '+%F %T') starting cluster $1" >>"$d/logs/stdout.log"
	# The inner shell writes its own pid (exec keeps it) so the pid file names the JVM.
	# shellcheck disable=SC2016
	nohup ${detach[@]+"${detach[@]}"} bash -c 'echo $$ >"$0"; exec "$@"' "$d/pid" \
		"$JAVA" "${heap[@]}" ${extra[@]+"${extra[@]}"} ${cds[@]+"${cds[@]}"} -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
		-Dkafka.logs.dir="$d/logs" -Dlog4j2.configurationFile="$PAIR_DIR/log4j2-broker.properties" \
		-cp "$LIB/*" kafka.Kafka "$d/server.properties" \
		</dev/null >>"$d/logs/stdout.log" 2>&1 8>&- 9>&- &
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s $d/pid ]] && break
		sleep 0.1
	done
	[[ -s $d/pid ]] || die "cluster $1: the JVM did not start (see $d/logs/stdout.log)"
}

check_ports_free() { # X...
	local x p
	for x in "$@"; do
		for p in "$(client_port "$x")" "$(controller_port "$x")" "$(sasl_ssl_port "$x")" "$(ssl_port "$x")"; do
			if port_in_use "$p"; then
				die "port $HOST:$p (cluster $x) is already in use by another process"
			fi
		done
	done
}

# Brokers launched by this command; if it fails, they are stopped again.
LAUNCHED=()
stop_launched_on_failure() {
	local rc=$? x
	((rc != 0)) || return 0
	for x in ${LAUNCHED[@]+"${LAUNCHED[@]}"}; do
		if broker_pid "$x" >/dev/null; then
			log "stopping cluster $x, started by this failed command"
			signal_and_wait "$x" TERM 10 || signal_and_wait "$x" KILL 5 || true
		fi
		collect_cds "$x" drop
		rm -f "$(bdir "$x")/pid"
	done
	return "$rc"
}

fail_broker() { # X message
	local d
	d=$(bdir "$1")
	log "cluster $1 ($HOST:$(client_port "$1")): $2"
	log "---- last 40 lines of $d/logs/server.log"
	tail -n 40 "$d/logs/server.log" >&2 2>/dev/null || true
	log "---- last 20 lines of $d/logs/stdout.log"
	tail -n 20 "$d/logs/stdout.log" >&2 2>/dev/null || true
	die "cluster $1 did not come up"
}

started_line_seen() { # X
	local d off
	d=$(bdir "$1")
	off=$(cat "$d/logs/.started-offset" 2>/dev/null || echo 0)
	# server.log may have rolled over since the launch.
	(($(wc -c <"$d/logs/server.log" 2>/dev/null || echo 0) >= off)) || off=0
	# No `grep -q` here: it would exit at the first match, tail would die of
	# SIGPIPE and pipefail would turn the match into a failure.
	tail -c +"$((off + 1))" "$d/logs/server.log" 2>/dev/null | grep -F 'Kafka Server started' >/dev/null
}

# Wait until each broker has logged "Kafka Server started" and answers a
# Metadata request that lists at least one live (unfenced) broker.
wait_ready() { # X...
	local deadline=$((SECONDS + TIMEOUT)) pending=("$@") next x
	while ((${#pending[@]} > 0)); do
		next=()
		for x in "${pending[@]}"; do
			broker_pid "$x" >/dev/null || fail_broker "$x" "the JVM exited during startup"
			if started_line_seen "$x" && broker_answers "$x"; then
				log "cluster $x is up on $HOST:$(client_port "$x") (pid $(broker_pid "$x"))"
			else
				next+=("$x")
			fi
		done
		pending=(${next[@]+"${next[@]}"})
		((${#pending[@]} == 0)) && break
		((SECONDS < deadline)) || fail_broker "${pending[0]}" "not up after ${TIMEOUT}s"
		sleep 0.2
	done
}

# True once pid has fully exited (its sockets closed): gone, or a zombie.
pid_gone() { # pid
	kill -0 "$1" 2>/dev/null || return 0
	local st
	if [[ -r /proc/$1/stat ]]; then
		st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 0
	else
		st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	fi
	[[ -z $st ]] && return 0
	[[ $st == Z* ]] || return 1
	# A zombie thread-group leader may still have exiting threads holding the
	# sockets; gone once only the leader is left.
	[[ ! -d /proc/$1/task ]] || (($(find "/proc/$1/task" -mindepth 1 -maxdepth 1 | wc -l) <= 1))
}

# Send SIG to broker X and wait up to SECS for it to go; fails if still alive.
signal_and_wait() { # X SIG SECS
	local pid i
	pid=$(broker_pid "$1") || return 0
	kill -s "$2" "$pid" 2>/dev/null || true
	for ((i = 0; i < $3 * 10; i++)); do
		pid_gone "$pid" && return 0
		sleep 0.1
	done
	return 1
}

# After broker X has exited: keep (gracefully stopped) or drop the class-data
# archive it was asked to write at exit.
collect_cds() { # X keep|drop
	local m tmp
	m=$(bdir "$1")/cds-dump
	[[ -f $m ]] || return 0
	tmp=$(<"$m")
	rm -f "$m"
	if [[ $2 == keep && -s $tmp ]] && started_line_seen "$1"; then
		[[ -n $CDS_ARCHIVE ]] || check_java
		mv -f "$tmp" "$CDS_ARCHIVE" && log "saved class-data archive $CDS_ARCHIVE (faster starts from now on)"
	fi
	rm -f "$tmp"
}

stop_brokers() { # X...
	local x pid
	for x in "$@"; do
		if pid=$(broker_pid "$x"); then
			log "stopping cluster $x (pid $pid)"
			kill -s TERM "$pid" 2>/dev/null || true
		fi
	done
	for x in "$@"; do
		if signal_and_wait "$x" TERM "$STOP_TIMEOUT"; then
			collect_cds "$x" keep
		else
			log "cluster $x did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
			signal_and_wait "$x" KILL 10 || die "cannot kill cluster $x (pid $(broker_pid "$x"))"
			collect_cds "$x" drop
		fi
		rm -f "$(bdir "$x")/pid"
	done
}

# ---------------------------------------------------------------- commands
cmd_start() {
	lock_pair
	local x running=() down=()
	for x in A B; do
		if broker_pid "$x" >/dev/null; then running+=("$x"); else down+=("$x"); fi
	done
	if ((${#down[@]} == 0)); then
		log "already running (A pid $(broker_pid A), B pid $(broker_pid B))"
		print_env
		return 0
	fi
	check_ports_free "${down[@]}"
	check_java
	resolve_jars
	write_log_configs
	trap stop_launched_on_failure EXIT
	local t0=$SECONDS fresh=()
	if ((${#running[@]} == 0)); then
		# Nothing running: start from clean storage and logs, and a new CA.
		rm -rf "$PAIR_DIR/A" "$PAIR_DIR/B"
		make_certs
		fresh=(A B)
	else
		ensure_certs
		log "cluster ${running[*]} already running; starting ${down[*]}"
		for x in "${down[@]}"; do
			[[ -f $(bdir "$x")/data/meta.properties ]] || fresh+=("$x")
		done
	fi
	if ((${#fresh[@]} > 0)); then
		for x in "${fresh[@]}"; do write_server_config "$x"; done
		format_all "${fresh[@]}"
	fi
	for x in "${down[@]}"; do
		LAUNCHED+=("$x")
		launch "$x"
	done
	wait_ready "${down[@]}"
	LAUNCHED=()
	log "ready in $((SECONDS - t0))s (state in $PAIR_DIR)"
	print_env
}

cmd_stop() {
	lock_pair
	stop_brokers A B
	rm -rf "$PAIR_DIR/A/data" "$PAIR_DIR/B/data" "$PAIR_DIR/A/pid" "$PAIR_DIR/B/pid"
	log "stopped; data removed (logs kept in $PAIR_DIR/A/logs, $PAIR_DIR/B/logs)"
}

cmd_status() {
	local x pid all=0 cid
	for x in A B; do
		if pid=$(broker_pid "$x"); then
			cid=$(sed -n 's/^cluster\.id=//p' "$(bdir "$x")/data/meta.properties" 2>/dev/null || true)
			if broker_answers "$x"; then
				echo "$x: up      $HOST:$(client_port "$x") pid $pid cluster.id ${cid:-?} (SASL_SSL $HOST:$(sasl_ssl_port "$x"), SSL $HOST:$(ssl_port "$x"))"
			else
				echo "$x: running $HOST:$(client_port "$x") pid $pid but not answering (starting or stuck)"
				all=1
			fi
		else
			echo "$x: down    $HOST:$(client_port "$x")"
			all=1
		fi
	done
	# The same `export` lines as `start` and `env`, for a pair that is up.
	((all == 0)) && print_env
	return "$all"
}

cmd_start_broker() { # X
	check_name "${1:-}"
	lock_pair
	if broker_pid "$1" >/dev/null; then
		log "cluster $1 already running (pid $(broker_pid "$1"))"
		return 0
	fi
	check_ports_free "$1"
	check_java
	resolve_jars
	write_log_configs
	ensure_certs
	trap stop_launched_on_failure EXIT
	if [[ ! -f $(bdir "$1")/data/meta.properties ]]; then
		log "cluster $1 has no storage; formatting a new one"
		write_server_config "$1"
		format_all "$1"
	fi
	local t0=$SECONDS
	LAUNCHED=("$1")
	launch "$1"
	wait_ready "$1"
	LAUNCHED=()
	log "cluster $1 ready in $((SECONDS - t0))s"
}

cmd_stop_broker() { # X
	check_name "${1:-}"
	lock_pair
	broker_pid "$1" >/dev/null || log "cluster $1 is not running"
	stop_brokers "$1"
}

cmd_kill_broker() { # X
	check_name "${1:-}"
	lock_pair
	local pid
	if pid=$(broker_pid "$1"); then
		log "killing cluster $1 (pid $pid) with SIGKILL"
		signal_and_wait "$1" KILL 10 || die "cluster $1 (pid $pid) survived SIGKILL"
	else
		log "cluster $1 is not running"
	fi
	collect_cds "$1" drop
	rm -f "$(bdir "$1")/pid"
}

cmd_signal_broker() { # X SIG
	check_name "${1:-}"
	local pid
	pid=$(broker_pid "$1") || die "cluster $1 is not running"
	log "sending SIG$2 to cluster $1 (pid $pid)"
	kill -s "$2" "$pid"
}

cmd_run() {
	(($# > 0)) || die "usage: run CLASS [ARG...]"
	check_java
	resolve_jars
	write_log_configs
	exec "$JAVA" -Dlog4j2.configurationFile="$PAIR_DIR/log4j2-tools.properties" -cp "$LIB/*" "$@"
}

main() {
	local cmd=${1:-}
	(($# > 0)) && shift
	case $cmd in
	start) cmd_start ;;
	stop) cmd_stop ;;
	status) cmd_status ;;
	env) print_env ;;
	start-broker) cmd_start_broker "$@" ;;
	stop-broker) cmd_stop_broker "$@" ;;
	kill-broker) cmd_kill_broker "$@" ;;
	restart-broker)
		cmd_stop_broker "$@"
		cmd_start_broker "$@"
		;;
	pause-broker) cmd_signal_broker "${1:-}" STOP ;;
	resume-broker) cmd_signal_broker "${1:-}" CONT ;;
	run) cmd_run "$@" ;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
}

main "$@"
