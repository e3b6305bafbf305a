package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

func TestMirrorStatusSaysWhyATLSSourceCannotBeRead(t *testing.T) {
	src := kafkatest.NewClusterOfKind(t, kafkatest.Dev, "north-america", kafkatest.ClusterOptions{Secure: true})
	dst := kafkatest.Cluster(t, "europe")
	a := startAgent(t, dst.BootstrapString())
	other, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	declared := src.Declared()
	declared.TLS.CAPEM = other.CAPEM // not the CA that signed the brokers
	a.mustPut("/v1/clusters/north-america", declared)
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: dst.Bootstrap()})
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
	kafkatest.Eventually(t, saysWhyWithin, "the status says the source's certificate is not trusted", func() (bool, string) {
		st := a.status("na-to-eu")
		return st.State == agentapi.MirrorFailed && strings.Contains(st.Reason, "certificate"), fmt.Sprintf("%+v", st)
	})
}

// saysWhyWithin bounds how soon a mirror with refresh_interval 1s says why
// its source refuses the agent: a refresh that cannot list the source gives
// up within refresh_interval with the broker's own error, where franz-go's
// default would retry for 30 s. The rest is the test's margin.
const saysWhyWithin = 10 * time.Second

// A source the agent cannot log in to, or may not read, says so in the
// mirror's status, not only in the agent's log.
func TestMirrorStatusSaysWhyASecureSourceRefusesTheAgent(t *testing.T) {
	src := kafkatest.NewCluster(t, "north-america", kafkatest.ClusterOptions{Secure: true, Users: map[string]string{"nobody": "nobody-secret-pw"}})
	dst := kafkatest.Cluster(t, "europe")
	a := startAgent(t, dst.BootstrapString())
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: dst.Bootstrap()})
	// A dev cluster closes the connection on a wrong password (see
	// devcluster's list of differences): its status can only say EOF.
	wrongPassword := []string{"SASL_AUTHENTICATION_FAILED"}
	if kafkatest.Kind() != kafkatest.Apache {
		wrongPassword = []string{"EOF"}
	}
	for _, c := range []struct {
		what, password, user string
		failed               bool
		want                 []string
	}{
		{"a wrong password", "not-the-password", "", true, wrongPassword},
		// Kafka leaves out of metadata what a user may not describe.
		{"a user without ACLs", "nobody-secret-pw", "nobody", false, []string{"may lack the Describe and Read ACLs"}},
	} {
		t.Run(c.what, func(t *testing.T) {
			declared := src.Declared()
			declared.SASL.Password = c.password
			if c.user != "" {
				declared.SASL.Username = c.user
			}
			a.mustPut("/v1/clusters/north-america", declared)
			a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
				Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
			kafkatest.Eventually(t, saysWhyWithin, "the status says why north-america refuses the agent", func() (bool, string) {
				st := a.status("na-to-eu")
				if (st.State == agentapi.MirrorFailed) != c.failed {
					return false, fmt.Sprintf("%+v", st)
				}
				for _, w := range c.want {
					if strings.Contains(st.Reason, w) {
						return true, ""
					}
				}
				return false, fmt.Sprintf("%+v", st)
			})
			if code := a.call("DELETE", "/v1/mirrors/na-to-eu", nil, nil); code != 204 {
				t.Fatalf("DELETE mirror: %d", code)
			}
		})
	}
}
