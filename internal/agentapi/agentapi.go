// Package agentapi is the wire contract of the agent's HTTP API: the request
// and response bodies and the error shape, shared by the agent and the
// Terraform provider's client so that both sides speak the same JSON.
package agentapi

import (
	"strings"
	"time"
)

// Limits on the fields the agent stores. Every record it writes to its
// state topic must stay below the topic's max.message.bytes (1 MB by
// default), or a failover could start and then fail to record its end. A
// request over a limit is refused (400) naming the field. Names of clusters,
// mirrors and policies are at most 100 bytes (see the agent's name rule).
const (
	MaxIDBytes       = 256      // request_id, requested_by, sasl.username
	MaxNameBytes     = 100      // a cluster, mirror or policy name, also where one is referred to
	MaxSecretBytes   = 4096     // sasl.password
	MaxPEMBytes      = 64 << 10 // each of tls.ca_pem, tls.cert_pem, tls.key_pem
	MaxHostPortBytes = 261      // a bootstrap server: a 255-byte host name, ':' and a port
	MaxRegexBytes    = 1024     // each regular expression of a selector
	MaxListItems     = 100      // bootstrap servers, each list of regular expressions, a policy's clusters and mirrors
	MaxDurationBytes = 64       // refresh_interval, checkpoint_interval, drain_timeout
	// MaxBodyBytes is the largest request body: a larger one is refused
	// whole (413), never read in part.
	MaxBodyBytes = 1 << 20
)

// Cluster is a Kafka cluster the agent can reach. Secrets (the SASL password
// and the TLS key) are write-only: a stored Cluster never carries them back.
type Cluster struct {
	Name             string   `json:"name"`
	BootstrapServers []string `json:"bootstrap_servers"`
	SASL             *SASL    `json:"sasl,omitempty"`
	TLS              *TLS     `json:"tls,omitempty"`
}

// SASL mechanisms the agent supports.
var SASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// SASL holds a cluster's SASL credentials.
type SASL struct {
	Mechanism string `json:"mechanism"`
	Username  string `json:"username"`
	// Password is accepted on PUT and never returned.
	Password string `json:"password,omitempty"`
	// PasswordSet says, in answers, whether a password is stored.
	PasswordSet bool `json:"password_set,omitempty"`
}

// TLS configures TLS towards a cluster.
type TLS struct {
	CAPEM   string `json:"ca_pem,omitempty"`
	CertPEM string `json:"cert_pem,omitempty"`
	// KeyPEM is accepted on PUT and never returned.
	KeyPEM             string `json:"key_pem,omitempty"`
	KeyPEMSet          bool   `json:"key_pem_set,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
}

// Replication policies: how a source topic is named on the target.
const (
	ReplicationIdentity = "identity" // same name
	ReplicationPrefix   = "prefix"   // "<source cluster>.<topic>"
)

// ReplicationPolicies lists the accepted replication_policy values.
var ReplicationPolicies = []string{ReplicationIdentity, ReplicationPrefix}

// Start positions for partitions a mirror has never copied.
const (
	StartEarliest = "earliest"
	StartLatest   = "latest"
)

// StartFroms lists the accepted start_from values.
var StartFroms = []string{StartEarliest, StartLatest}

// Mirror defaults, applied by the agent when a field is absent.
const (
	DefaultRefreshInterval    = 10 * time.Second
	MaxRefreshInterval        = time.Hour // a new topic waits at most this long to be mirrored
	DefaultTasksMax           = 4
	DefaultCheckpointInterval = time.Second
)

// LookEvery is how often a mirror lists its source's topics and groups for
// new ones, given its refresh_interval: a fraction of it, so that a new
// topic is copying, and a new group checkpointed, within refresh_interval
// of its creation or first commit, its copy's start included.
func LookEvery(refreshInterval time.Duration) time.Duration { return refreshInterval / 4 }

// Mirror copies matching topics from Source to Target exactly once.
type Mirror struct {
	Name              string   `json:"name"`
	Source            string   `json:"source"`
	Target            string   `json:"target"`
	Topics            Selector `json:"topics"`
	Groups            Selector `json:"groups"`
	ReplicationPolicy string   `json:"replication_policy,omitempty"`
	StartFrom         string   `json:"start_from,omitempty"`
	// ReplicationFactor 0 means the target cluster's default.
	ReplicationFactor int16  `json:"replication_factor,omitempty"`
	SyncTopicConfigs  bool   `json:"sync_topic_configs,omitempty"`
	RefreshInterval   string `json:"refresh_interval,omitempty"`
	TasksMax          int    `json:"tasks_max,omitempty"`
	// CheckpointInterval is how often group offsets are translated.
	CheckpointInterval string `json:"checkpoint_interval,omitempty"`
	// SyncGroupOffsets commits translated offsets to idle groups on the
	// target; nil means the default, true.
	SyncGroupOffsets *bool `json:"sync_group_offsets,omitempty"`
	// SyncACLs copies the source's ACLs of the mirrored topics and the
	// selected groups to the target; nil means the default, true. Mutating
	// ones are held until a failover to the target applies them.
	SyncACLs *bool `json:"sync_acls,omitempty"`
	// CreatedAt is set by the agent; start_from=latest copies what was
	// produced from then on, so a restart never skips records.
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Selector picks names by regular expressions that must match the whole name.
type Selector struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// MirrorStatus is the answer of GET /v1/mirrors/{name}/status.
type MirrorStatus struct {
	Name       string            `json:"name"`
	State      string            `json:"state"`
	Partitions []PartitionStatus `json:"partitions"`
	// LagRecords is the sum over partitions.
	LagRecords int64 `json:"lag_records"`
	// Reason says why a mirror is stopped, or why it failed (what the
	// mirror could not do with its clusters; a partition's own error is in
	// its status), or which topics it leaves to another mirror that writes
	// them.
	Reason string `json:"reason,omitempty"`
	// PartitionsNotCopying counts the mirrored partitions that no task
	// copies now: their task runs nowhere (its replica was lost and its
	// session has not ended, or the tasks are being handed over) or it
	// fails. What a region lost now would lose grows meanwhile.
	PartitionsNotCopying int `json:"partitions_not_copying"`
	// NotCopyingSince is when the first of them was last reported copied
	// (or, never reported, first found not copied); absent while every
	// partition is copied.
	NotCopyingSince time.Time `json:"not_copying_since,omitzero"`
	// ACLs is what the mirror's ACL sync did last; absent when sync_acls
	// is off or before its first round.
	ACLs *ACLSync `json:"acls,omitempty"`
}

// ACL is one Kafka ACL binding as the agent copies it. Every field is
// Kafka's own name for it: resource_type TOPIC or GROUP, pattern_type
// LITERAL or PREFIXED, operation READ, WRITE, ..., permission ALLOW or DENY.
type ACL struct {
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  string `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

// ACLSync is the state of a mirror's ACL sync into its target.
type ACLSync struct {
	// Applied are the ACLs the agent made on the target and still owns:
	// only these does it ever delete there.
	Applied []ACL `json:"applied"`
	// Held are the source's mutating ACLs (Write, Create, Delete, Alter,
	// AlterConfigs, IdempotentWrite, All) of the mirrored topics: kept,
	// not applied, until a failover to the target applies them before the
	// flip, so the standby takes no application writes until it is active.
	Held []ACL `json:"held"`
	// Errors are the ACLs the last round could not make or delete.
	Errors []ACLError `json:"errors,omitempty"`
	// Reason says why the last round synced nothing (no authorizer, no
	// permission to describe ACLs); the previous state stands meanwhile.
	Reason string `json:"reason,omitempty"`
}

// ACLError is one ACL the agent could not make or delete, and why.
type ACLError struct {
	ACL   ACL    `json:"acl"`
	Error string `json:"error"`
}

// Mirror states.
const (
	MirrorStarting = "starting"
	MirrorRunning  = "running" // also with no partition: the source has no matching topic
	MirrorFailed   = "failed"
	MirrorStopped  = "stopped" // a failover stopped it; Reason says which
)

// PartitionStatus is one mirrored partition as its task last reported it.
type PartitionStatus struct {
	Topic       string `json:"topic"`
	TargetTopic string `json:"target_topic"`
	Partition   int32  `json:"partition"`
	Task        int    `json:"task"`
	// Agent is the id of the agent replica running the task.
	Agent string `json:"agent"`
	// SourceHighWatermark is the source's high watermark as last seen,
	// by the task's fetches or the agent's watch of the source's ends.
	SourceHighWatermark int64 `json:"source_high_watermark"`
	// SourceHighWatermarkAt is when the source answered it.
	SourceHighWatermarkAt time.Time `json:"source_high_watermark_at,omitzero"`
	// LastMirroredOffset is the last source offset the mirror has passed:
	// records are copied, transaction markers and aborted records skipped.
	// -1 if none.
	LastMirroredOffset int64 `json:"last_mirrored_offset"`
	LagRecords         int64 `json:"lag_records"`
	// RecordsSkipped counts source offsets the source deleted (retention,
	// DeleteRecords) before the mirror copied them, over the partition's
	// whole history: the mirror resumed at the new log start. Offsets, not
	// records: transaction markers among them count too, so it is an upper
	// bound on the records lost that way.
	RecordsSkipped int64 `json:"records_skipped"`
	// LagMillis is how long the oldest record not yet mirrored has been
	// seen on the source (wall clock, not record timestamps).
	LagMillis        int64   `json:"lag_ms"`
	RecordsPerSecond float64 `json:"records_per_second"`
	// Starting is true while the partition's task has not finished its
	// start (fencing its earlier owners, reading its offset syncs): it
	// copies nothing yet, and the positions are what its last owner
	// published.
	Starting  bool      `json:"starting,omitempty"`
	Error     string    `json:"error,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// GroupCheckpoints is the answer of GET /v1/mirrors/{name}/groups/{group}.
type GroupCheckpoints struct {
	Mirror     string                `json:"mirror"`
	Group      string                `json:"group"`
	Partitions []PartitionCheckpoint `json:"partitions"`
	// RecordsNotMirrored sums what the group has read on the source that
	// is not on the target yet: what it would miss after a failover now.
	RecordsNotMirrored int64 `json:"records_not_mirrored"`
	// RecordsSkipped sums the partitions' RecordsSkipped.
	RecordsSkipped int64 `json:"records_skipped"`
	// LastError is the last error checkpointing the group; it is retried
	// every round, and the age of its checkpoints grows meanwhile.
	LastError string `json:"last_error,omitempty"`
}

// PartitionCheckpoint is one partition of a group's last checkpoint.
type PartitionCheckpoint struct {
	Topic       string `json:"topic"`
	TargetTopic string `json:"target_topic"`
	Partition   int32  `json:"partition"`
	// SourceOffset is the group's committed offset on the source: the
	// next record it would read there.
	SourceOffset int64 `json:"source_offset"`
	// TargetOffset is where the group resumes on the target to read
	// exactly the records it has not read yet.
	TargetOffset int64 `json:"target_offset"`
	// NotMirrored counts records the group read on the source that are not
	// on the target yet; Exact says the count is exact rather than an upper
	// bound (offsets not yet mirrored may be transaction markers).
	NotMirrored int64 `json:"records_not_mirrored"`
	// RecordsSkipped counts source offsets at or after the group's position
	// that the source deleted before the mirror copied them: the group
	// never reads them on the target, it resumes after them. Offsets, so
	// an upper bound on records; Exact is false when it is not 0.
	RecordsSkipped int64  `json:"records_skipped"`
	Exact          bool   `json:"exact"`
	Metadata       string `json:"metadata,omitempty"`
	// CheckpointedAt is when the agent last confirmed this checkpoint;
	// AgeMillis is how old that is.
	CheckpointedAt time.Time `json:"checkpointed_at"`
	AgeMillis      int64     `json:"age_ms"`
	// Synced says the translated offset is committed to the group on the
	// target; SyncSkipped says why not, when it is not.
	Synced      bool   `json:"synced"`
	SyncSkipped string `json:"sync_skipped,omitempty"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong and, where a field is to blame, which one.
type ErrorDetail struct {
	// Code is a stable machine-readable reason, e.g. "invalid_field".
	Code string `json:"code"`
	// Field is the JSON path of the offending field, e.g. "topics.include[1]".
	Field string `json:"field,omitempty"`
	// Message is a sentence a person can act on.
	Message string `json:"message"`
}

// Error codes.
const (
	CodeInvalidField  = "invalid_field"
	CodeMalformedBody = "malformed_body"
	CodeNotFound      = "not_found"
	CodeConflict      = "conflict"
	// CodeDiverged refuses to delete a policy while a cluster is diverged
	// (HTTP 409); ?forget_diverged=true deletes it anyway.
	CodeDiverged     = "diverged"
	CodeUnauthorized = "unauthorized"
	CodeInternal     = "internal"
	CodeUnavailable  = "unavailable"
	// CodeTooLarge is a request that can never be stored as sent: its body
	// or the record it makes is over a limit, which the message names.
	CodeTooLarge = "too_large"
	// CodeUnsupportedMediaType is a body sent as anything but JSON.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeNotCheckpointed answers a group the mirror has no checkpoint of
	// yet (HTTP 404): a normal state before its first checkpoint, after a
	// mirror update or a failover, unlike a mirror that does not exist.
	CodeNotCheckpointed = "not_checkpointed"
)

// Fencing modes of a policy: how a planned failover stops writes on the old
// active cluster.
const (
	FencingACL  = "acl"  // DENY Write ACLs on the mirrored topics for every principal
	FencingNone = "none" // the user stops producers; the agent only drains
)

// FencingModes lists the accepted fencing values.
var FencingModes = []string{FencingACL, FencingNone}

// Failover modes.
const (
	ModePlanned = "planned" // old active reachable: fence, drain, lose nothing
	ModeForced  = "forced"  // old active lost: flip now, report what is missing
)

// FailoverModes lists the accepted mode values.
var FailoverModes = []string{ModePlanned, ModeForced}

// Policy defaults.
const (
	DefaultMaxLagRecords = 10000
	DefaultMaxLagSeconds = 30
	DefaultDrainTimeout  = 60 * time.Second
	// MaxDrainTimeout bounds how long a planned failover keeps the old
	// active cluster fenced, and when a silent one is taken for stale.
	MaxDrainTimeout = time.Hour
)

// Policy says which clusters take part in failover, which one applications
// use now, and which mirrors keep the standbys current.
type Policy struct {
	Name     string   `json:"name"`
	Clusters []string `json:"clusters"`
	// Primary is the active cluster when the policy is created; the active
	// cluster changes only through failovers.
	Primary       string    `json:"primary"`
	Mirrors       []string  `json:"mirrors"`
	MaxLagRecords int64     `json:"max_lag_records,omitempty"`
	MaxLagSeconds int64     `json:"max_lag_seconds,omitempty"`
	Fencing       string    `json:"fencing,omitempty"`
	DrainTimeout  string    `json:"drain_timeout,omitempty"`
	CreatedAt     time.Time `json:"created_at,omitzero"`

	// Set by the agent in answers.
	Active                 string          `json:"active,omitempty"`
	ActiveBootstrapServers []string        `json:"active_bootstrap_servers,omitempty"`
	Epoch                  int64           `json:"epoch"`
	Standbys               []StandbyStatus `json:"standbys,omitempty"`
	InProgress             *FailoverRun    `json:"in_progress,omitempty"`
	LastFailover           *Failover       `json:"last_failover,omitempty"`
	// Diverged lists clusters left behind by a forced failover: they may
	// hold records never mirrored, so nothing is mirrored into them and no
	// failover goes back to them until those records are reconciled.
	Diverged []string `json:"diverged,omitempty"`
	// Quarantines are the divergent tails copied to the active cluster.
	Quarantines []Quarantine `json:"quarantines,omitempty"`
}

// StandbyStatus says whether a standby could take over now.
type StandbyStatus struct {
	Cluster string `json:"cluster"`
	// Ready: the mirrors into it are running with lag within the limits
	// and their checkpoints are fresh.
	Ready      bool   `json:"ready"`
	LagRecords int64  `json:"lag_records"`
	LagSeconds int64  `json:"lag_seconds"`
	Reason     string `json:"reason,omitempty"`
}

// Active is the discovery answer: where applications connect now.
type Active struct {
	Policy           string   `json:"policy"`
	Cluster          string   `json:"cluster"`
	BootstrapServers []string `json:"bootstrap_servers"`
	Epoch            int64    `json:"epoch"`
}

// FailoverRequest is the body of POST /v1/policies/{name}/failover.
type FailoverRequest struct {
	To   string `json:"to"`
	Mode string `json:"mode"`
	// RequestID makes the request idempotent: the same id twice flips
	// once and answers the first result.
	RequestID string `json:"request_id"`
	// ExpectedEpoch, when set, refuses the failover (409) if the epoch moved.
	ExpectedEpoch *int64 `json:"expected_epoch,omitempty"`
	// RequestedBy names who asked, for the audit record.
	RequestedBy string `json:"requested_by,omitempty"`
}

// FailoverRun is a failover under way.
type FailoverRun struct {
	RequestID string    `json:"request_id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Mode      string    `json:"mode"`
	FromEpoch int64     `json:"from_epoch"`
	Agent     string    `json:"agent"`
	StartedAt time.Time `json:"started_at"`
	// Frozen: the policy's mirrors are stopped.
	Frozen bool `json:"frozen"`
	// Fence is what a planned failover with ACL fencing denies on From,
	// stored before any ACL is made: whoever ends the failover without a
	// flip removes exactly these.
	Fence *Fence `json:"fence,omitempty"`
	// Grants are the held ACLs of the mirrors into To that this failover
	// makes there before the flip, those To lacked, stored before any is
	// made: whoever ends the failover without a flip removes exactly these.
	Grants []ACL `json:"grants,omitempty"`
}

// Fence stops writes to a cluster's topics with DENY Write ACLs, each on
// one topic by literal name: exactly those in ACLs.
type Fence struct {
	Cluster string     `json:"cluster"`
	ACLs    []FenceACL `json:"acls,omitempty"`
	// Principal, Host and Topics are the shape of records written before
	// ACLs: one principal denied on every topic. Read, never written.
	Principal string   `json:"principal,omitempty"`
	Host      string   `json:"host,omitempty"`
	Topics    []string `json:"topics,omitempty"`
}

// FenceACL denies Principal writes to each of Topics from Host.
type FenceACL struct {
	Principal string   `json:"principal"`
	Host      string   `json:"host"`
	Topics    []string `json:"topics"`
}

// Denied answers the fence's ACLs, of a record of either shape.
func (f Fence) Denied() []FenceACL {
	if f.Principal == "" {
		return f.ACLs
	}
	return append([]FenceACL{{Principal: f.Principal, Host: f.Host, Topics: f.Topics}}, f.ACLs...)
}

// Failover is the answer to a failover request and the audit record of it.
type Failover struct {
	Policy      string          `json:"policy"`
	RequestID   string          `json:"request_id"`
	From        string          `json:"from"`
	To          string          `json:"to"`
	Mode        string          `json:"mode"`
	Outcome     string          `json:"outcome"` // completed or aborted
	Reason      string          `json:"reason,omitempty"`
	Epoch       int64           `json:"epoch"`
	RequestedBy string          `json:"requested_by,omitempty"`
	Agent       string          `json:"agent"`
	StartedAt   time.Time       `json:"started_at"`
	CompletedAt time.Time       `json:"completed_at"`
	Report      *FailoverReport `json:"report,omitempty"`
}

// Failover outcomes.
const (
	OutcomeCompleted = "completed"
	OutcomeAborted   = "aborted"
)

// FailoverReport says what a failover lost and what consumers will re-read.
type FailoverReport struct {
	// RecordsLost: records on the old active that were never mirrored,
	// RecordsSkipped included.
	RecordsLost int64 `json:"records_lost"`
	// RecordsSkipped: of RecordsLost, the source offsets the old active
	// deleted (retention) before they were mirrored.
	RecordsSkipped int64             `json:"records_skipped"`
	Partitions     []PartitionLoss   `json:"partitions"`
	Groups         []GroupResumption `json:"groups"`
	// OffsetsCommitted: partitions whose translated offset was committed
	// to its group on the new active.
	OffsetsCommitted int `json:"offsets_committed"`
	// SourceLastContact is when the old active last answered the agent:
	// RecordsLost is exact as of then. Records written to it later, if it
	// took any, are not known until it returns.
	SourceLastContact *time.Time `json:"source_last_contact,omitempty"`
	// Accuracy says in words how far RecordsLost can be trusted.
	Accuracy string `json:"accuracy,omitempty"`
	// RecordsFoundOnReturn: after a forced failover, the records the lost
	// cluster turned out to hold that were never mirrored, counted one by
	// one when it returned and its tail was quarantined: the final figure
	// beside RecordsLost, what was known at the failover. Absent until then.
	RecordsFoundOnReturn *int64 `json:"records_found_on_return,omitempty"`
	// ACLsApplied are the held ACLs (see ACLSync) the flip made on the new
	// active cluster; in a forecast, those it would make.
	ACLsApplied []ACL `json:"acls_applied,omitempty"`
	// ACLErrors are the held ACLs the flip could not make there.
	ACLErrors []ACLError `json:"acl_errors,omitempty"`
}

// PartitionLoss is one mirrored partition's account.
type PartitionLoss struct {
	Mirror string `json:"mirror"`
	Topic  string `json:"topic"`
	// TargetTopic is the topic on the new active.
	TargetTopic string `json:"target_topic"`
	Partition   int32  `json:"partition"`
	// SourceHighWatermark is the last high watermark seen on the old active.
	SourceHighWatermark int64 `json:"source_high_watermark"`
	// HighWatermarkObservedAt is when the old active answered it.
	HighWatermarkObservedAt time.Time `json:"high_watermark_observed_at,omitzero"`
	// LowerBound: the partition was not observed in the last contact's
	// watch round, so RecordsLost may be below the truth.
	LowerBound bool `json:"lower_bound,omitempty"`
	// MirroredUpTo is one past the last source offset on the new active.
	MirroredUpTo int64 `json:"mirrored_up_to"`
	// RecordsLost: offsets past MirroredUpTo, or the records there when
	// they could be counted, plus RecordsSkipped.
	RecordsLost int64 `json:"records_lost"`
	// RecordsSkipped: source offsets the old active deleted (retention,
	// DeleteRecords) before they were mirrored; markers among them count.
	RecordsSkipped int64 `json:"records_skipped"`
}

// GroupResumption says where a group resumes on the new active.
type GroupResumption struct {
	Group string `json:"group"`
	// RecordsNotMirrored: records the group had read on the old active
	// that are not on the new active (lost to it, not re-read).
	RecordsNotMirrored int64 `json:"records_not_mirrored"`
	// RecordsSkipped: source offsets at or after the group's position that
	// the old active deleted before they were mirrored: the group resumes
	// after them and never reads them.
	RecordsSkipped int64 `json:"records_skipped"`
	// CheckpointedAt: the group's offsets are known up to this time; what
	// it consumed on the old active after it, it will read again.
	CheckpointedAt time.Time `json:"checkpointed_at"`
	Partitions     int       `json:"partitions"`
	// CommitError says why the group's translated offsets were not
	// committed on the new active during the failover; empty when they were.
	CommitError string `json:"commit_error,omitempty"`
	// CommitRetrying: the agent keeps committing them after the flip, also
	// after a restart, until the commit succeeds or the group has live
	// members on the new active.
	CommitRetrying bool `json:"commit_retrying,omitempty"`
}

// Forecast is what a failover now would lose and re-read, without doing it.
type Forecast struct {
	Policy          string         `json:"policy"`
	From            string         `json:"from"`
	To              string         `json:"to"`
	PlannedPossible bool           `json:"planned_possible"`
	Reason          string         `json:"reason,omitempty"`
	Report          FailoverReport `json:"report"`
}

// ReverseRequest is the body of POST /v1/policies/{name}/reverse: a cluster
// left behind by a forced failover is back, and its divergent tail is to be
// quarantined on the active cluster.
type ReverseRequest struct {
	// Cluster is the diverged cluster; empty means the only one.
	Cluster   string `json:"cluster,omitempty"`
	RequestID string `json:"request_id"`
}

// Quarantine reports the records a returned cluster held that were never
// mirrored, copied to quarantine topics on the active cluster.
type Quarantine struct {
	Policy    string `json:"policy"`
	Cluster   string `json:"cluster"`
	Active    string `json:"active"`
	RequestID string `json:"request_id"`
	// DivergedEpoch is the epoch of the forced failover that left Cluster
	// behind: which of its divergences this tail is. Each quarantined record
	// carries it in its kfo.diverged.epoch header.
	DivergedEpoch int64                  `json:"diverged_epoch,omitempty"`
	Records       int64                  `json:"records"`
	Partitions    []QuarantinedPartition `json:"partitions"`
	CompletedAt   time.Time              `json:"completed_at"`
}

// QuarantinedPartition is one partition's divergent tail.
type QuarantinedPartition struct {
	Topic string `json:"topic"`
	// QuarantineTopic holds the tail on the active cluster, same partition.
	QuarantineTopic string `json:"quarantine_topic"`
	Partition       int32  `json:"partition"`
	// FromOffset and ToOffset bound the tail on the returned cluster.
	FromOffset int64 `json:"from_offset"`
	ToOffset   int64 `json:"to_offset"`
	Records    int64 `json:"records"`
}

// ShortDuration writes a duration the way a request would, 1h rather than
// Go's 1h0m0s, for the messages and docs that name a bound.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
