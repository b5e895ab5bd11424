// Package kafka builds franz-go clients from MM2 client settings: one
// function maps a cluster's properties to kgo options, and each role
// (source consumer, target producer, admin) appends its own.
package kafka

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
)

// Role is how a client is used; it picks which client.* keys apply.
type Role string

const (
	Consumer Role = "consumer"
	Producer Role = "producer"
	Admin    Role = "admin"
)

// KeyName gives the name a client setting's key is reported by: the key as
// the user wrote it (config.Config.KeyName), or a prefix and the key.
type KeyName func(k string) string

// Prefix names every key as prefix+k ("A.producer." and "linger.ms").
func Prefix(prefix string) KeyName { return func(k string) string { return prefix + k } }

// Options maps MM2 client properties (already resolved for one role of
// one cluster) to kgo options. Keys that have no franz-go equivalent are
// returned as warnings; values that would break exactly-once, or that
// cannot be honoured, are errors naming the key by name.
func Options(bootstrap []string, props map[string]string, role Role, name KeyName, logger *slog.Logger) (opts []kgo.Opt, warnings []string, err error) {
	opts = []kgo.Opt{kgo.SeedBrokers(bootstrap...)}
	if logger != nil {
		opts = append(opts, kgo.WithLogger(slogAdapter{logger}))
	}
	var problems []string
	bad := func(k, format string, args ...any) {
		problems = append(problems, name(k)+": "+fmt.Sprintf(format, args...))
	}
	ms := func(k, v string) (time.Duration, bool) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			bad(k, "%q is not a number of milliseconds", v)
			return 0, false
		}
		return time.Duration(n) * time.Millisecond, true
	}
	i32 := func(k, v string) (int32, bool) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n <= 0 {
			bad(k, "%q is not a positive number of bytes", v)
			return 0, false
		}
		return int32(n), true
	}
	for k, v := range props {
		switch k {
		case "client.id":
			opts = append(opts, kgo.ClientID(v))
		case "security.protocol":
			// securityOptions, below.
		case "bootstrap.servers":
			// The cluster's own list is used.
		case "request.timeout.ms":
			if d, ok := ms(k, v); ok && role == Producer {
				opts = append(opts, kgo.ProduceRequestTimeout(d))
			}
		case "retry.backoff.ms":
			if d, ok := ms(k, v); ok {
				opts = append(opts, kgo.RetryBackoffFn(func(int) time.Duration { return d }))
			}
		case "metadata.max.age.ms":
			if d, ok := ms(k, v); ok {
				opts = append(opts, kgo.MetadataMaxAge(d))
			}
		case "connections.max.idle.ms":
			if d, ok := ms(k, v); ok {
				opts = append(opts, kgo.ConnIdleTimeout(d))
			}
		case "socket.connection.setup.timeout.ms":
			if d, ok := ms(k, v); ok {
				opts = append(opts, kgo.DialTimeout(d))
			}
		default:
			if strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.") {
				continue // securityOptions, below
			}
			o, known, err := roleOption(role, k, v, ms, i32)
			if err != "" {
				bad(k, "%s", err)
			} else if o != nil {
				opts = append(opts, o)
			} else if !known {
				warnings = append(warnings, name(k)+" has no franz-go equivalent and is ignored")
			}
		}
	}
	sec, w, p := securityOptions(props, name)
	opts, warnings, problems = append(opts, sec...), append(warnings, w...), append(problems, p...)
	// Keys and values come from the file: no raw control or bidi
	// character, no megabyte of it, reaches a log line or the terminal.
	for i := range warnings {
		warnings[i] = config.Sanitize(warnings[i], maxMessage)
	}
	for i := range problems {
		problems[i] = config.Sanitize(problems[i], maxMessage)
	}
	if len(problems) > 0 {
		return nil, warnings, &OptionsError{Problems: problems}
	}
	return opts, warnings, nil
}

// OptionsError lists every problem Options found with client settings,
// each naming its key.
type OptionsError struct{ Problems []string }

func (e *OptionsError) Error() string { return strings.Join(e.Problems, "; ") }

// maxMessage bounds one client-option warning or problem.
const maxMessage = 1024

// ignoredKeys are Java client settings that mean nothing here (serializers,
// group membership, settings mirrorless fixes itself); no warning.
var ignoredKeys = map[string]bool{
	"key.serializer": true, "value.serializer": true, "key.deserializer": true, "value.deserializer": true,
	"enable.auto.commit": true, "auto.commit.interval.ms": true, "group.id": true, "auto.offset.reset": true,
	"isolation.level": true, "max.poll.records": true, "max.poll.interval.ms": true, "session.timeout.ms": true,
	"heartbeat.interval.ms": true, "retries": true, "delivery.timeout.ms": true, "max.in.flight.requests.per.connection": true,
	"transactional.id": true, "client.dns.lookup": true, "reconnect.backoff.ms": true, "reconnect.backoff.max.ms": true,
	"send.buffer.bytes": true, "receive.buffer.bytes": true, "socket.connection.setup.timeout.max.ms": true,
	"buffer.memory": true, "default.api.timeout.ms": true,
}

func roleOption(role Role, k, v string, ms func(string, string) (time.Duration, bool), i32 func(string, string) (int32, bool)) (opt kgo.Opt, known bool, problem string) {
	if ignoredKeys[k] {
		return nil, true, ""
	}
	switch role {
	case Consumer:
		switch k {
		case "fetch.max.bytes":
			if n, ok := i32(k, v); ok {
				return kgo.FetchMaxBytes(n), true, ""
			}
			return nil, true, ""
		case "max.partition.fetch.bytes":
			if n, ok := i32(k, v); ok {
				return kgo.FetchMaxPartitionBytes(n), true, ""
			}
			return nil, true, ""
		case "fetch.min.bytes":
			if n, ok := i32(k, v); ok {
				return kgo.FetchMinBytes(n), true, ""
			}
			return nil, true, ""
		case "fetch.max.wait.ms":
			if d, ok := ms(k, v); ok {
				return kgo.FetchMaxWait(d), true, ""
			}
			return nil, true, ""
		}
	case Producer:
		switch k {
		case "acks":
			if s := strings.TrimSpace(v); s != "all" && s != "-1" {
				return nil, true, fmt.Sprintf("%q: transactions need acks=all", v)
			}
			return nil, true, ""
		case "enable.idempotence":
			if strings.TrimSpace(strings.ToLower(v)) != "true" {
				return nil, true, fmt.Sprintf("%q: exactly-once needs the idempotent producer", v)
			}
			return nil, true, ""
		case "linger.ms":
			if d, ok := ms(k, v); ok {
				return kgo.ProducerLinger(d), true, ""
			}
			return nil, true, ""
		case "batch.size":
			if n, ok := i32(k, v); ok {
				return kgo.ProducerBatchMaxBytes(n), true, ""
			}
			return nil, true, ""
		case "compression.type":
			c, err := compression(v)
			if err != "" {
				return nil, true, err
			}
			return kgo.ProducerBatchCompression(c), true, ""
		case "transaction.timeout.ms":
			if d, ok := ms(k, v); ok {
				return kgo.TransactionTimeout(d), true, ""
			}
			return nil, true, ""
		case "max.request.size":
			if n, ok := i32(k, v); ok {
				return kgo.BrokerMaxWriteBytes(n), true, ""
			}
			return nil, true, ""
		}
	}
	return nil, false, ""
}

func compression(v string) (kgo.CompressionCodec, string) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "none", "uncompressed":
		return kgo.NoCompression(), ""
	case "gzip":
		return kgo.GzipCompression(), ""
	case "snappy":
		return kgo.SnappyCompression(), ""
	case "lz4":
		return kgo.Lz4Compression(), ""
	case "zstd":
		return kgo.ZstdCompression(), ""
	}
	return kgo.NoCompression(), fmt.Sprintf("%q is not one of none, gzip, snappy, lz4, zstd", v)
}

// Ping checks that a cluster answers a metadata request within timeout,
// so an unreachable or wrong bootstrap fails fast with a clear error
// instead of retrying until the invocation deadline.
func Ping(ctx context.Context, cl *kgo.Client, alias string, bootstrap []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := cl.Ping(ctx)
	var unknownCA x509.UnknownAuthorityError
	var badName x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.UnsupportedSaslMechanism):
		return fmt.Errorf("cluster %s (%s) refused the credentials: %w (check the sasl.mechanism and sasl.jaas.config settings of %s)", alias, strings.Join(bootstrap, ","), err, alias)
	case errors.As(err, &unknownCA) || errors.As(err, &badName) || errors.As(err, &invalid):
		return fmt.Errorf("cluster %s (%s) failed the TLS certificate check: %w (check %s.ssl.truststore.* and ssl.endpoint.identification.algorithm)", alias, strings.Join(bootstrap, ","), err, alias)
	default:
		return fmt.Errorf("cluster %s (%s) is unreachable: %w (check %s.bootstrap.servers, %s.security.protocol and the network path)", alias, strings.Join(bootstrap, ","), err, alias, alias)
	}
}

// slogAdapter lets kgo log through slog (kgo logs little at Info).
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case a.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelDebug
	case a.l.Enabled(ctx, slog.LevelInfo):
		return kgo.LogLevelWarn // kgo's info level is chatty per connection
	case a.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	default:
		return kgo.LogLevelError
	}
}

func (a slogAdapter) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var l slog.Level
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	case kgo.LogLevelInfo:
		l = slog.LevelInfo
	default:
		l = slog.LevelDebug
	}
	a.l.Log(context.Background(), l, "kgo: "+msg, keyvals...)
}
