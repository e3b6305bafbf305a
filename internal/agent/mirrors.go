package agent

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

func (s *server) putMirror(w http.ResponseWriter, r *http.Request) {
	var m agentapi.Mirror
	if err := decode(r, &m); err != nil {
		s.badBody(w, r, err)
		return
	}
	if err := nameFromPath(r, "mirror", &m.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	var stored agentapi.Mirror
	created, err := storeObject("mirror", m.Name, func() error {
		if err := s.validateMirror(&m); err != nil {
			return err
		}
		why, err := s.overlapOnTopics(r.Context(), m)
		if err == nil && why != "" {
			err = conflict("topics", "%s", why)
		}
		return err
	}, func() (created bool, err error) {
		stored, created, err = s.Store.PutMirror(r.Context(), m)
		return created, err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("mirror stored", "mirror", m.Name, "source", m.Source, "target", m.Target)
	writeJSON(w, putStatus(created), stored)
}

// validateMirror checks m and fills in the defaults, so that the stored
// object says what the agent does.
func (s *server) validateMirror(m *agentapi.Mirror) error {
	if !m.CreatedAt.IsZero() {
		return invalid("created_at", "is set by the agent; leave it out")
	}
	if m.Source == "" {
		return invalid("source", "required: the name of the cluster to copy from")
	}
	if m.Target == "" {
		return invalid("target", "required: the name of the cluster to copy to")
	}
	if m.Source == m.Target {
		return invalid("target", "is the same cluster as source (%q): a mirror copies between two different clusters", m.Source)
	}
	for field, name := range map[string]string{"source": m.Source, "target": m.Target} {
		if _, err := s.Store.GetCluster(name); err != nil {
			return invalid(field, "no cluster named %q: create it with PUT /v1/clusters/%s first", name, name)
		}
	}
	if len(m.Topics.Include) == 0 {
		return invalid("topics.include", `give at least one regular expression of topics to mirror, for example ["LH\\..*"]`)
	}
	for field, sel := range map[string]agentapi.Selector{"topics": m.Topics, "groups": m.Groups} {
		if _, err := mirror.CompileSelector(field, sel); err != nil {
			var fe *mirror.FieldError
			if errors.As(err, &fe) {
				return invalid(fe.Field, "is not a valid regular expression: %v", fe.Err)
			}
			return err
		}
	}
	if m.ReplicationPolicy == "" {
		m.ReplicationPolicy = agentapi.ReplicationIdentity
	}
	if !slices.Contains(agentapi.ReplicationPolicies, m.ReplicationPolicy) {
		return invalid("replication_policy", "%q is not a policy: use %s", m.ReplicationPolicy, strings.Join(agentapi.ReplicationPolicies, " or "))
	}
	if m.StartFrom == "" {
		m.StartFrom = agentapi.StartEarliest
	}
	if !slices.Contains(agentapi.StartFroms, m.StartFrom) {
		return invalid("start_from", "%q is not a start position: use %s", m.StartFrom, strings.Join(agentapi.StartFroms, " or "))
	}
	if m.ReplicationFactor < 0 {
		return invalid("replication_factor", "must be positive, or left out for the target cluster's default")
	}
	if m.RefreshInterval == "" {
		m.RefreshInterval = agentapi.DefaultRefreshInterval.String()
	}
	d, err := time.ParseDuration(m.RefreshInterval)
	if err != nil {
		return invalid("refresh_interval", "%q is not a duration: write it like \"10s\" or \"1m\"", m.RefreshInterval)
	}
	if d < time.Second || d > agentapi.MaxRefreshInterval {
		return invalid("refresh_interval", "%s is out of range: use 1s to %s", m.RefreshInterval, agentapi.ShortDuration(agentapi.MaxRefreshInterval))
	}
	if m.CheckpointInterval == "" {
		m.CheckpointInterval = agentapi.DefaultCheckpointInterval.String()
	}
	cd, err := time.ParseDuration(m.CheckpointInterval)
	if err != nil {
		return invalid("checkpoint_interval", "%q is not a duration: write it like \"1s\" or \"500ms\"", m.CheckpointInterval)
	}
	if cd < 100*time.Millisecond || cd > time.Hour {
		return invalid("checkpoint_interval", "%s is out of range: use 100ms to 1h", m.CheckpointInterval)
	}
	if m.SyncGroupOffsets == nil {
		on := true
		m.SyncGroupOffsets = &on
	}
	if m.SyncACLs == nil {
		on := true
		m.SyncACLs = &on
	}
	if m.TasksMax == 0 {
		m.TasksMax = agentapi.DefaultTasksMax
	}
	if m.TasksMax < 1 || m.TasksMax > 1024 {
		return invalid("tasks_max", "%d is out of range: use 1 to 1024", m.TasksMax)
	}
	// tasks_max may change: progress is kept per source partition, and the
	// tasks of a new tasks_max fence those of the old (mirror.TransactionalID).
	if prev, err := s.Store.GetMirror(m.Name); err == nil {
		if prev.Source != m.Source || prev.Target != m.Target {
			return invalid("source", "a mirror's source and target cannot change (%s -> %s): create a new mirror instead", prev.Source, prev.Target)
		}
		if prev.ReplicationPolicy != m.ReplicationPolicy {
			return invalid("replication_policy", "cannot change on an existing mirror: its target topics already have names; create a new mirror instead")
		}
		return nil
	}
	// A mirror created again resumes from the offset syncs its namesake
	// left on the target: they only fit the same source and target topics.
	if rm, ok := s.Store.Retired(m.Name, m.Target); ok {
		field, was, is := "source", rm.Source, m.Source
		if rm.Source == m.Source {
			field, was, is = "replication_policy", rm.ReplicationPolicy, m.ReplicationPolicy
		}
		if was != is {
			return conflict(field, "a deleted mirror named %q copied from %s into %s with replication_policy %s; its offset syncs on %s (topic %s) say where that copy stands, and a mirror of the same name created again resumes from them, so it cannot have %s %s: give the new mirror another name",
				m.Name, rm.Source, m.Target, rm.ReplicationPolicy, m.Target, offsetsync.Topic(m.Name), field, is)
		}
	}
	return nil
}

func (s *server) getMirror(w http.ResponseWriter, r *http.Request) {
	m, err := s.Store.GetMirror(r.PathValue("name"))
	if err != nil {
		s.notFound(w, "mirror", r.PathValue("name"), err, r)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *server) listMirrors(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Store.Mirrors())
}

func (s *server) deleteMirror(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.Store.GetMirror(name); err != nil {
		s.notFound(w, "mirror", name, err, r)
		return
	}
	if s.keptForPolicy(w, r, s.Store.MirrorNeeded, name) {
		return
	}
	if err := s.Store.DeleteMirror(r.Context(), name); err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("mirror deleted", "mirror", name)
	w.WriteHeader(http.StatusNoContent)
}

// groupCheckpoints answers a group's last checkpoints in a mirror.
func (s *server) groupCheckpoints(w http.ResponseWriter, r *http.Request) {
	name, group := r.PathValue("name"), r.PathValue("group")
	if _, err := s.Store.GetMirror(name); err != nil {
		s.notFound(w, "mirror", name, err, r)
		return
	}
	cps, ok := s.Groups(name, group)
	if !ok {
		writeError(w, http.StatusNotFound, agentapiErr(agentapi.CodeNotCheckpointed, "", fmt.Sprintf("mirror %q has no checkpoint of group %q yet: check that groups.include matches it and that it has committed offsets on topics the mirror copies", name, group)))
		return
	}
	writeJSON(w, http.StatusOK, cps)
}

func (s *server) mirrorStatus(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.Store.GetMirror(name); err != nil {
		s.notFound(w, "mirror", name, err, r)
		return
	}
	writeJSON(w, http.StatusOK, s.Status(name))
}
