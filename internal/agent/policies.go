package agent

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/failover"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

func (s *server) putPolicy(w http.ResponseWriter, r *http.Request) {
	var p agentapi.Policy
	if err := decode(r, &p); err != nil {
		s.badBody(w, r, err)
		return
	}
	if err := nameFromPath(r, "policy", &p.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	created, err := storeObject("policy", p.Name, func() error { return s.validatePolicy(&p) }, func() (bool, error) {
		_, created, err := s.Store.PutPolicy(r.Context(), p)
		return created, err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Log.Info("policy stored", "policy", p.Name, "clusters", strings.Join(p.Clusters, ","))
	s.answerPolicy(w, r, p.Name, putStatus(created))
}

// validatePolicy checks p and fills in its defaults.
func (s *server) validatePolicy(p *agentapi.Policy) error {
	if p.Active != "" || p.Epoch != 0 || p.InProgress != nil || p.LastFailover != nil || len(p.Standbys) > 0 || len(p.ActiveBootstrapServers) > 0 || !p.CreatedAt.IsZero() || len(p.Diverged) > 0 || len(p.Quarantines) > 0 {
		return invalid("active", "active, epoch and the other read-only fields are set by the agent; leave them out (the active cluster changes only through POST /v1/policies/%s/failover)", p.Name)
	}
	if len(p.Clusters) < 2 {
		return invalid("clusters", "give at least two cluster names: the active one and a standby")
	}
	// An update may name a mirror or cluster that is gone: Terraform deletes
	// a replaced one before it applies the policy again. The policy then
	// says it is missing (see standbys).
	prev, err := s.Store.GetPolicy(p.Name)
	exists := err == nil
	for i, c := range p.Clusters {
		if _, err := s.Store.GetCluster(c); err != nil && !exists {
			return invalid(fmt.Sprintf("clusters[%d]", i), "no cluster named %q: create it with PUT /v1/clusters/%s first", c, c)
		}
		if slices.Index(p.Clusters, c) != i {
			return invalid(fmt.Sprintf("clusters[%d]", i), "cluster %q is listed twice", c)
		}
	}
	switch {
	case exists && p.Primary != "" && p.Primary != prev.Primary:
		return invalid("primary", "is the active cluster when the policy was created (%s) and cannot change; the active cluster is now %s and changes only through a failover", prev.Primary, prev.Active)
	case exists:
		p.Primary = prev.Primary
	case p.Primary == "":
		return invalid("primary", "required: the cluster applications use now, one of %s", strings.Join(p.Clusters, ", "))
	}
	if !slices.Contains(p.Clusters, p.Primary) {
		return invalid("primary", "%q is not one of the policy's clusters (%s)", p.Primary, strings.Join(p.Clusters, ", "))
	}
	if exists && !slices.Contains(p.Clusters, prev.Active) {
		return invalid("clusters", "must keep %s, the active cluster", prev.Active)
	}
	if len(p.Mirrors) == 0 {
		return invalid("mirrors", "give the mirrors that keep the standbys current, e.g. [\"na-to-eu\"]")
	}
	for i, mn := range p.Mirrors {
		m, err := s.Store.GetMirror(mn)
		if err != nil && exists {
			continue
		}
		if err != nil {
			return invalid(fmt.Sprintf("mirrors[%d]", i), "no mirror named %q: create it with PUT /v1/mirrors/%s first", mn, mn)
		}
		if !slices.Contains(p.Clusters, m.Source) || !slices.Contains(p.Clusters, m.Target) {
			return invalid(fmt.Sprintf("mirrors[%d]", i), "mirror %s copies %s to %s; both must be clusters of the policy", mn, m.Source, m.Target)
		}
	}
	if p.MaxLagRecords == 0 {
		p.MaxLagRecords = agentapi.DefaultMaxLagRecords
	}
	if p.MaxLagRecords < 0 {
		return invalid("max_lag_records", "must be positive")
	}
	if p.MaxLagSeconds == 0 {
		p.MaxLagSeconds = agentapi.DefaultMaxLagSeconds
	}
	if p.MaxLagSeconds < 0 {
		return invalid("max_lag_seconds", "must be positive")
	}
	if p.Fencing == "" {
		p.Fencing = agentapi.FencingACL
	}
	if !slices.Contains(agentapi.FencingModes, p.Fencing) {
		return invalid("fencing", "%q is not a fencing mode: use acl (DENY Write ACLs on the old active) or none (you stop the producers)", p.Fencing)
	}
	if p.DrainTimeout == "" {
		p.DrainTimeout = agentapi.DefaultDrainTimeout.String()
	}
	if d, err := time.ParseDuration(p.DrainTimeout); err != nil || d < time.Second || d > agentapi.MaxDrainTimeout {
		return invalid("drain_timeout", "%q is not a duration from 1s to %s: write it like \"60s\" or \"5m\"", p.DrainTimeout, agentapi.ShortDuration(agentapi.MaxDrainTimeout))
	}
	return nil
}

// answerPolicy answers a policy with its live state and standby readiness.
func (s *server) answerPolicy(w http.ResponseWriter, r *http.Request, name string, status int) {
	p, err := s.Store.GetPolicy(name)
	if err != nil {
		s.notFound(w, "policy", name, err, r)
		return
	}
	p.Standbys = s.standbys(p)
	p.LastFailover = withFoundOnReturn(p.LastFailover, p.Quarantines)
	writeJSON(w, status, p)
}

// withFoundOnReturn answers a forced failover with what the quarantine of
// the cluster it left behind counted, once that cluster returned: the
// exact loss, next to the figure known at the failover.
func withFoundOnReturn(f *agentapi.Failover, quarantines []agentapi.Quarantine) *agentapi.Failover {
	if f == nil || f.Report == nil || f.Mode != agentapi.ModeForced {
		return f
	}
	for _, q := range quarantines {
		if q.Cluster == f.From && q.DivergedEpoch == f.Epoch {
			out, rep := *f, *f.Report // the store's copy stays as it is
			rep.RecordsFoundOnReturn = &q.Records
			out.Report = &rep
			return &out
		}
	}
	return f
}

// standbys says, per standby, whether it could take over now.
func (s *server) standbys(p agentapi.Policy) []agentapi.StandbyStatus {
	var out []agentapi.StandbyStatus
	for _, c := range p.Clusters {
		if c == p.Active {
			continue
		}
		sb := agentapi.StandbyStatus{Cluster: c, Reason: "no mirror of the policy copies " + p.Active + " to " + c}
		for _, mn := range p.Mirrors {
			m, err := s.Store.GetMirror(mn)
			if err != nil || m.Source != p.Active || m.Target != c {
				continue
			}
			st := s.Status(mn)
			sb.Reason = ""
			sb.LagRecords += st.LagRecords
			for _, part := range st.Partitions {
				sb.LagSeconds = max(sb.LagSeconds, part.LagMillis/1000)
			}
			switch {
			case st.State != agentapi.MirrorRunning:
				sb.Reason = fmt.Sprintf("mirror %s is %s", mn, st.State)
			case sb.LagRecords > p.MaxLagRecords || sb.LagSeconds > p.MaxLagSeconds:
				sb.Reason = fmt.Sprintf("lag %d records / %ds is over the limits", sb.LagRecords, sb.LagSeconds)
			}
		}
		if why := s.missingReason(p, c); why != "" && sb.Reason != "" {
			sb.Reason += "; " + why
		}
		if slices.Contains(p.Diverged, c) {
			sb.Reason = fmt.Sprintf("%s was left behind by a forced failover and may hold records never mirrored; it cannot take over until they are reconciled: POST /v1/policies/%s/reverse once it is back", c, p.Name)
		}
		sb.Ready = sb.Reason == ""
		out = append(out, sb)
	}
	return out
}

func (s *server) getPolicy(w http.ResponseWriter, r *http.Request) {
	s.answerPolicy(w, r, r.PathValue("name"), http.StatusOK)
}

func (s *server) listPolicies(w http.ResponseWriter, _ *http.Request) {
	out := []agentapi.Policy{}
	for _, n := range s.Store.Policies() {
		if p, err := s.Store.GetPolicy(n); err == nil {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) deletePolicy(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := s.Store.GetPolicy(name); err != nil {
		s.notFound(w, "policy", name, err, r)
		return
	}
	// This replica's state may lag one where a forced failover just
	// completed: the divergence must be seen before the policy goes.
	if err := s.Store.CatchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	st, ok := s.Store.PolicyState(name)
	if ok && st.InProgress != nil {
		writeError(w, http.StatusConflict, agentapiErr(codeConflict, "", "a failover of this policy is under way: wait for it to end"))
		return
	}
	// The policy is the only record that a cluster holds records written
	// after the last mirrored offset: deleting it would forget them, and a
	// new policy would treat the cluster as a clean standby.
	forget := r.URL.Query().Get("forget_diverged") == "true"
	diverged := slices.Sorted(maps.Keys(st.Diverged))
	if len(diverged) > 0 && !forget {
		writeError(w, http.StatusConflict, agentapiErr(agentapi.CodeDiverged, "", fmt.Sprintf(
			"%s was left behind by a forced failover and may hold records that never reached %s: "+
				"reconcile it first with POST /v1/policies/%s/reverse once it is back (its divergent tail is quarantined and it is rebuilt), "+
				"or, if it will not come back and those records may be forgotten, delete with ?forget_diverged=true",
			strings.Join(diverged, ", "), st.Active, name)))
		return
	}
	// Marked before the policy goes, so that its mirrors never run
	// unfrozen in between.
	for c, epoch := range st.Diverged {
		if err := s.Store.ForgetDivergence(r.Context(), store.ForgottenDivergence{Cluster: c, Policy: name, Epoch: epoch, At: time.Now().UTC()}); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if err := s.Store.DeletePolicy(r.Context(), name); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(diverged) > 0 {
		s.Log.Warn("policy deleted with diverged clusters; their divergent records are forgotten", "policy", name, "diverged", diverged)
	} else {
		s.Log.Info("policy deleted", "policy", name)
	}
	w.WriteHeader(http.StatusNoContent)
}

// active is the discovery answer applications and DNS can follow.
func (s *server) active(w http.ResponseWriter, r *http.Request) {
	p, err := s.Store.GetPolicy(r.PathValue("name"))
	if err != nil {
		s.notFound(w, "policy", r.PathValue("name"), err, r)
		return
	}
	writeJSON(w, http.StatusOK, agentapi.Active{Policy: p.Name, Cluster: p.Active, BootstrapServers: p.ActiveBootstrapServers, Epoch: p.Epoch})
}

func (s *server) failover(w http.ResponseWriter, r *http.Request) {
	var req agentapi.FailoverRequest
	if err := decode(r, &req); err != nil {
		s.badBody(w, r, err)
		return
	}
	res, err := s.Failover.Failover(r.Context(), r.PathValue("name"), req)
	if err != nil {
		s.failoverError(w, r, err, "the failover was aborted and nothing flipped")
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// reverse quarantines the divergent tail of a returned cluster.
func (s *server) reverse(w http.ResponseWriter, r *http.Request) {
	var req agentapi.ReverseRequest
	if err := decode(r, &req); err != nil {
		s.badBody(w, r, err)
		return
	}
	q, err := s.Failover.Reverse(r.Context(), r.PathValue("name"), req)
	if err != nil {
		s.failoverError(w, r, err, "nothing was quarantined; it is safe to retry")
		return
	}
	writeJSON(w, http.StatusOK, q)
}

func (s *server) forecast(w http.ResponseWriter, r *http.Request) {
	fc, err := s.Failover.Forecast(r.Context(), r.PathValue("name"), r.URL.Query().Get("to"))
	if err != nil {
		s.failoverError(w, r, err, "no forecast")
		return
	}
	writeJSON(w, http.StatusOK, fc)
}

// failoverError answers a refusal with its status and field; any other
// error with what it means for the user.
func (s *server) failoverError(w http.ResponseWriter, r *http.Request, err error, meaning string) {
	var ref *failover.Refused
	if errors.As(err, &ref) {
		code := codeConflict
		switch ref.Status {
		case http.StatusBadRequest:
			code = codeInvalid
		case http.StatusNotFound:
			code = codeNotFound
		}
		writeError(w, ref.Status, agentapiErr(code, ref.Field, ref.Message))
		return
	}
	s.Log.Error("policy request failed", "policy", r.PathValue("name"), "path", r.URL.Path, "error", err)
	writeError(w, http.StatusConflict, agentapiErr("aborted", "", meaning+": "+err.Error()))
}
