package config

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kelseyhightower/envconfig"
)

// Settings are the per-invocation knobs, read from MIRROR_* environment
// variables. The MM2 properties file says what to replicate; these say how
// much one invocation may do.
type Settings struct {
	// PropertiesFile is the MM2 properties file (MIRROR_PROPERTIES_FILE).
	PropertiesFile string `envconfig:"PROPERTIES_FILE" desc:"path of connect-mirror-maker.properties"`
	// Properties is the file's content inline, for deployments that pass
	// it as a parameter (MIRROR_PROPERTIES). It wins over PropertiesFile.
	Properties string `envconfig:"PROPERTIES" desc:"inline properties (instead of a file)"`

	// TimeBudget bounds an invocation, in Lambda too, where the
	// invocation's deadline also does: the earlier of the two applies
	// (Invoker.StopAt), and fan-out sizes its window on it.
	TimeBudget time.Duration `envconfig:"TIME_BUDGET" default:"50s" desc:"how long one invocation may run (in Lambda the function's deadline too: the earlier applies)"`
	// SafetyMargin is kept free before the deadline to end the last
	// transaction and release leases.
	SafetyMargin time.Duration `envconfig:"SAFETY_MARGIN" default:"5s" desc:"time kept before the deadline to finish cleanly (less than MIRROR_TIME_BUDGET)"`
	// MaxUnits caps the partitions one invocation works at once: those of
	// the work group it holds (core/mirror), each group one transactional
	// producer whatever its partitions.
	MaxUnits int `envconfig:"MAX_UNITS" default:"4096" desc:"partitions one invocation works at once at most"`
	// Groups pins the number of work groups of each flow: a partition
	// belongs to one group, and a group is copied by one transactional
	// producer at a time. 0 lets every schedule tick set it to the
	// invocations it runs (its fan-out); a change fences every writer of
	// the old assignment first.
	Groups int `envconfig:"GROUPS" default:"0" desc:"mirror: work groups per flow, each one transactional producer over its partitions (0: each tick sets it to the invocations it runs)"`
	// Tail keeps an invocation that has caught up fetching until its
	// budget ends, so new records are copied within about a second while
	// it runs, at the cost of paying for the whole budget.
	Tail bool `envconfig:"TAIL" default:"false" desc:"mirror: once caught up, keep copying new records until the budget ends (latency ~1 s, billed for the whole budget) instead of exiting"`
	// MaxConcurrency caps the mirror invocations one schedule tick runs at
	// once, counting itself (MirrorMaxConcurrency): the tick sizes the
	// backlog and starts up to this many (core/fanout). 1 turns fan-out off.
	MaxConcurrency int `envconfig:"MAX_CONCURRENCY" default:"10" desc:"mirror: invocations one schedule tick runs at once at most, itself included (1: no fan-out)"`
	// ScheduleInterval is how often the mirror is scheduled, so the tick
	// can size fan-out to clear the backlog within one interval: a
	// duration (1m) or EventBridge's rate(...) expression; a cron(...)
	// expression, or empty, leaves it unknown and the time budget stands
	// in for it.
	ScheduleInterval string `envconfig:"SCHEDULE_INTERVAL" default:"1m" desc:"mirror: the schedule's interval, a duration or rate(1 minute) (cron: the time budget is used)"`
	// FanoutRate is the copy rate expected of one invocation, in records
	// per second, for sizing fan-out: tune it from RecordsReplicated.
	FanoutRate int `envconfig:"FANOUT_RECORDS_PER_SECOND" default:"50000" desc:"mirror: records per second one invocation is expected to copy, for sizing fan-out"`
	// FanoutIndex is this process's number among the mirror processes one
	// tick runs at once (the local scheduler sets it; in Lambda the
	// worker's event carries it); -1: not one of several.
	FanoutIndex int `envconfig:"FANOUT_INDEX" default:"-1" desc:"mirror: this process's number among the processes one tick runs at once (set by the local scheduler; -1: alone)"`
	// BatchRecords and BatchBytes bound one transaction.
	BatchRecords int `envconfig:"BATCH_RECORDS" default:"100000" desc:"records per transaction at most"`
	BatchBytes   int `envconfig:"BATCH_BYTES" default:"33554432" desc:"bytes per transaction at most"`
	// TransactionTimeout is the target transaction timeout: how long a
	// crashed invocation's open transaction can hold back read_committed
	// consumers of the remote partition if nobody fences it first.
	TransactionTimeout time.Duration `envconfig:"TRANSACTION_TIMEOUT" default:"30s" desc:"target transaction timeout"`
	// LeaseTTL is how long a claim on a partition lasts without renewal;
	// a running invocation renews its leases every third of it, so a
	// crashed or killed one frees its partitions within LeaseTTL.
	LeaseTTL time.Duration `envconfig:"LEASE_TTL" default:"20s" desc:"how long an unrenewed partition lease lasts"`
	// ProgressRefresh re-commits the position of a partition that has had
	// nothing to copy for this long. Kafka expires a group's committed
	// offsets after offsets.retention.minutes (7 days by default) without
	// a commit; an idle partition must not lose its place.
	ProgressRefresh time.Duration `envconfig:"PROGRESS_REFRESH" default:"24h" desc:"re-commit an idle partition's position this often (keep it under the broker's offsets.retention.minutes)"`
	// ResetPolicy decides what the mirror does with a partition whose
	// committed position no longer fits the source (data deleted before it
	// was copied, topic recreated, position past the end, source log
	// diverged from what was copied): stop (the
	// default: the partition stays stopped, loudly) or earliest (resume
	// from the source's earliest offset and report exactly what was skipped).
	ResetPolicy string `envconfig:"RESET_POLICY" default:"stop" desc:"mirror: stop or earliest, for a partition whose source data is gone, was recreated or diverged (unclean leader election)"`
	// CheckpointIndexSyncs bounds the offset syncs the checkpoint function
	// keeps per source partition. Syncs inside a linear run go first at no
	// cost, and the newest half are never thinned otherwise, so a group
	// within the transactions those syncs cover translates exactly; older
	// history gets coarser geometrically (offsetsync.Index).
	CheckpointIndexSyncs int `envconfig:"CHECKPOINT_INDEX_SYNCS" default:"4096" desc:"checkpoint: offset syncs kept per partition for translation"`
	// ConnectTimeout bounds the first round trip to each cluster, so an
	// unreachable broker fails fast instead of retrying until the deadline.
	ConnectTimeout time.Duration `envconfig:"CONNECT_TIMEOUT" default:"10s" desc:"how long to wait for a cluster to answer at start"`
	// Flows restricts the invocation to some enabled flows (`A->B`).
	Flows    []string `envconfig:"FLOWS" desc:"only these flows, e.g. A->B (default: every enabled flow)"`
	LogLevel string   `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	// DryRun makes reconcile print its plan without changing anything.
	DryRun bool `envconfig:"DRY_RUN" default:"false" desc:"reconcile: print the plan, change nothing"`
	// Metrics turns the CloudWatch EMF lines on or off; empty means on in
	// Lambda, off outside it (the runner decides).
	Metrics string `envconfig:"METRICS" desc:"emf or off: CloudWatch metric lines (default: emf in Lambda, on stdout; off outside, where emf writes them to stderr)"`
	// Deployment names the deployment in every metric (dimension
	// Deployment), so that two stacks in one account and region, or two
	// pairs with the same flow names, do not feed each other's alarms.
	Deployment string `envconfig:"DEPLOYMENT" default:"mirrorless" desc:"the deployment's name, the Deployment dimension of every metric (SAM sets it to the stack name, Terraform to var.name)"`
}

// Upper bounds of MIRROR_BATCH_RECORDS and MIRROR_BATCH_BYTES: far above
// what a transaction within a Lambda invocation carries, and far enough
// below the integer limits that the budgets derived from them (twice the
// bytes in flight, the producer's record buffer) cannot overflow.
const (
	MaxBatchRecords = 10_000_000
	MaxBatchBytes   = 1 << 30
)

// MaxConcurrencyLimit bounds MIRROR_MAX_CONCURRENCY: Lambda's default
// account concurrency is 1,000, shared by every function of the account.
const MaxConcurrencyLimit = 1000

// MaxGroups bounds the work groups of a flow (MIRROR_GROUPS, and what a
// tick sets): changing the assignment fences every group's transactional
// id up to the most ever used, one InitProducerID each.
const MaxGroups = 1000

// Reset policies (MIRROR_RESET_POLICY).
const (
	ResetStop     = "stop"
	ResetEarliest = "earliest"
)

// Metrics settings (MIRROR_METRICS).
const (
	MetricsEMF = "emf"
	MetricsOff = "off"
)

// LoadSettings reads MIRROR_* variables and checks them, reporting every
// problem at once.
func LoadSettings() (Settings, error) {
	var s Settings
	if err := envconfig.Process("MIRROR", &s); err != nil {
		if pe, ok := errors.AsType[*envconfig.ParseError](err); ok {
			// KeyName is already the variable's name (MIRROR_TIME_BUDGET).
			return s, fmt.Errorf("environment variable %s=%s is not %s", pe.KeyName, quoteClip(pe.Value, 64), typeWords(pe.TypeName))
		}
		return s, fmt.Errorf("read environment: %w", err)
	}
	return s, s.Validate()
}

// Validate checks the settings' values.
func (s Settings) Validate() error {
	var problems []string
	if s.PropertiesFile == "" && s.Properties == "" {
		problems = append(problems, "MIRROR_PROPERTIES_FILE is not set: point it at your connect-mirror-maker.properties")
	}
	if s.TimeBudget <= 0 {
		problems = append(problems, "MIRROR_TIME_BUDGET must be positive")
	}
	if s.SafetyMargin < 0 {
		problems = append(problems, "MIRROR_SAFETY_MARGIN must not be negative")
	} else if s.TimeBudget > 0 && s.SafetyMargin >= s.TimeBudget {
		// Every invocation would stop before it starts: it would claim
		// and fence units and copy nothing, and still exit 0.
		problems = append(problems, fmt.Sprintf("MIRROR_SAFETY_MARGIN (%s) must be less than MIRROR_TIME_BUDGET (%s): the margin is kept free at the end of the budget, so nothing would be left to work in", s.SafetyMargin, s.TimeBudget))
	}
	if s.MaxUnits < 1 {
		problems = append(problems, "MIRROR_MAX_UNITS must be at least 1")
	}
	if s.Groups < 0 || s.Groups > MaxGroups {
		problems = append(problems, fmt.Sprintf("MIRROR_GROUPS must be between 0 (set by each tick) and %d", MaxGroups))
	}
	if s.MaxConcurrency < 1 || s.MaxConcurrency > MaxConcurrencyLimit {
		problems = append(problems, fmt.Sprintf("MIRROR_MAX_CONCURRENCY must be between 1 and %d", MaxConcurrencyLimit))
	}
	if _, err := s.Interval(); err != nil {
		problems = append(problems, err.Error())
	}
	if s.FanoutIndex < -1 || s.FanoutIndex >= MaxConcurrencyLimit {
		problems = append(problems, fmt.Sprintf("MIRROR_FANOUT_INDEX must be between -1 and %d", MaxConcurrencyLimit-1))
	}
	if s.FanoutRate < 1 {
		problems = append(problems, "MIRROR_FANOUT_RECORDS_PER_SECOND must be at least 1")
	}
	if s.BatchRecords < 1 || s.BatchRecords > MaxBatchRecords {
		problems = append(problems, fmt.Sprintf("MIRROR_BATCH_RECORDS must be between 1 and %d", MaxBatchRecords))
	}
	if s.BatchBytes < 1024 || s.BatchBytes > MaxBatchBytes {
		problems = append(problems, fmt.Sprintf("MIRROR_BATCH_BYTES must be between 1024 and %d (1 GiB)", MaxBatchBytes))
	}
	if s.TransactionTimeout < time.Second || s.TransactionTimeout > 15*time.Minute {
		problems = append(problems, "MIRROR_TRANSACTION_TIMEOUT must be between 1s and 15m (the broker's transaction.max.timeout.ms default)")
	}
	if s.LeaseTTL < time.Second {
		problems = append(problems, "MIRROR_LEASE_TTL must be at least 1s")
	}
	if s.ProgressRefresh <= 0 {
		problems = append(problems, "MIRROR_PROGRESS_REFRESH must be positive")
	}
	if s.ResetPolicy != "" && s.ResetPolicy != ResetStop && s.ResetPolicy != ResetEarliest {
		problems = append(problems, fmt.Sprintf("MIRROR_RESET_POLICY=%q is not %s or %s", s.ResetPolicy, ResetStop, ResetEarliest))
	}
	if s.CheckpointIndexSyncs < 16 {
		problems = append(problems, "MIRROR_CHECKPOINT_INDEX_SYNCS must be at least 16")
	}
	if s.ConnectTimeout <= 0 {
		problems = append(problems, "MIRROR_CONNECT_TIMEOUT must be positive")
	}
	if _, err := s.Level(); err != nil {
		problems = append(problems, err.Error())
	}
	if d := s.Deployment; strings.TrimSpace(d) != d || d == "" || len(d) > 1024 || strings.IndexFunc(d, unicode.IsControl) >= 0 {
		problems = append(problems, fmt.Sprintf("MIRROR_DEPLOYMENT=%q must be 1 to 1024 characters, without control characters or surrounding spaces (it is a CloudWatch dimension value)", d))
	}
	if m := strings.ToLower(strings.TrimSpace(s.Metrics)); m != "" && m != MetricsEMF && m != MetricsOff {
		problems = append(problems, fmt.Sprintf("MIRROR_METRICS=%q is not one of %s, %s", s.Metrics, MetricsEMF, MetricsOff))
	}
	if len(problems) > 0 {
		return errors.New("invalid settings: " + strings.Join(problems, "; "))
	}
	return nil
}

// Interval is MIRROR_SCHEDULE_INTERVAL as a duration; 0 when it is
// unknown (empty or a cron expression).
func (s Settings) Interval() (time.Duration, error) {
	v := strings.TrimSpace(s.ScheduleInterval)
	bad := fmt.Errorf("MIRROR_SCHEDULE_INTERVAL=%s is not a duration (1m), rate(<n> <unit>) or cron(...)", quoteClip(v, 64))
	switch {
	case v == "" || strings.HasPrefix(v, "cron("):
		return 0, nil
	case strings.HasPrefix(v, "rate(") && strings.HasSuffix(v, ")"):
		f := strings.Fields(v[len("rate(") : len(v)-1])
		if len(f) != 2 {
			return 0, bad
		}
		n, err := strconv.Atoi(f[0])
		unit := map[string]time.Duration{"minute": time.Minute, "minutes": time.Minute, "hour": time.Hour, "hours": time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}[f[1]]
		if err != nil || n < 1 || n > 100_000 || unit == 0 {
			return 0, bad
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// typeWords says what a MIRROR_* variable of a Go type must hold.
func typeWords(goType string) string {
	switch goType {
	case "time.Duration":
		return "a duration (a number with a unit: 50s, 2m, 1h30m)"
	case "int", "int64", "int32":
		return "a whole number"
	case "bool":
		return "a boolean (true or false)"
	}
	return "a valid " + goType
}

// quoteClip quotes s Go-style (control and invalid bytes escaped), cut to
// n bytes first.
func quoteClip(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + fmt.Sprintf(" (%d bytes more)", len(s)-n)
}

// Level is the slog level of LogLevel.
func (s Settings) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s.LogLevel)); err != nil {
		return 0, fmt.Errorf("MIRROR_LOG_LEVEL=%q is not one of debug, info, warn, error", s.LogLevel)
	}
	return l, nil
}

// LoadConfig reads the properties named by the settings.
func (s Settings) LoadConfig() (*Config, error) { return s.LoadConfigResolving(nil) }

// LoadConfigResolving reads the properties named by the settings, lets
// resolve rewrite their values (secret placeholders), then validates them.
func (s Settings) LoadConfigResolving(resolve func(*Properties) error) (*Config, error) {
	var props *Properties
	var err error
	if s.Properties != "" {
		if props, err = ParseProperties(strings.NewReader(s.Properties)); err != nil {
			return nil, fmt.Errorf("parse MIRROR_PROPERTIES: %w", err)
		}
	} else if props, err = ReadProperties(s.PropertiesFile); err != nil {
		return nil, err
	}
	if resolve != nil {
		if err := resolve(props); err != nil {
			return nil, err
		}
	}
	source := s.PropertiesFile
	if s.Properties != "" {
		source = ""
	}
	return parseFrom(props, source)
}

// SelectFlows applies the Flows setting.
func (s Settings) SelectFlows(cfg *Config) ([]*Flow, error) {
	if len(s.Flows) == 0 {
		return cfg.Flows, nil
	}
	var out []*Flow
	for _, name := range s.Flows {
		name = strings.TrimSpace(name)
		var found *Flow
		for _, f := range cfg.Flows {
			if f.Name() == name {
				found = f
			}
		}
		if found == nil {
			var names []string
			for _, f := range cfg.Flows {
				names = append(names, f.Name())
			}
			fix := fmt.Sprintf("name one of those, or enable it in the properties file (%s.enabled = true)", name)
			if !strings.Contains(name, "->") {
				fix = "write a flow as source->target, e.g. A->B"
			}
			return nil, fmt.Errorf("MIRROR_FLOWS names %s, which is not an enabled flow (enabled: %s): %s", quoteClip(name, 64), strings.Join(names, ", "), fix)
		}
		if slices.Contains(out, found) {
			// The same flow twice would run two copies of it side by side,
			// each fencing the other's partitions.
			return nil, fmt.Errorf("MIRROR_FLOWS names %s twice: name each flow once", quoteClip(name, 64))
		}
		out = append(out, found)
	}
	return out, nil
}

// Setting documents one MIRROR_* environment variable: its name, default
// and description, taken from the Settings field's tags, so that the
// programs' -h output and the struct cannot drift apart.
type Setting struct {
	Name, Default, Desc string
}

// Describe lists every setting, in the order Settings declares them.
func Describe() []Setting {
	t := reflect.TypeFor[Settings]()
	out := make([]Setting, 0, t.NumField())
	for f := range t.Fields() {
		key := f.Tag.Get("envconfig")
		if key == "" || !f.IsExported() {
			continue
		}
		out = append(out, Setting{Name: "MIRROR_" + key, Default: f.Tag.Get("default"), Desc: f.Tag.Get("desc")})
	}
	return out
}
