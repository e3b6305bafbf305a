package provider

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// TestAccFailoverPlanFitsOnAScreenOverAThousandPartitions mirrors a topic
// of 1,000 partitions and reads terraform's own output: the plan of a forced
// failover with records at risk on every partition, and the plan of the
// failover back after a planned one (which shows the last report replaced),
// each fit on a screen; terraform show -json of the first holds the forecast
// with every partition counted. Applying the saved plan does not repeat the
// forecast's warning: after apply, the result speaks.
func TestAccFailoverPlanFitsOnAScreenOverAThousandPartitions(t *testing.T) {
	e := startEnv(t)
	tf := newTerraformCLI(t)
	const topic, partitions, screen = "LH.wide", 1000, 80
	kafkatest.CreateTopic(t, e.source.Bootstrap(), topic, partitions, nil, e.sourceOpts()...)
	prod := kafkatest.NewProducer(t, e.source.Bootstrap(), e.sourceOpts()...)
	prod.Produce(t, topic, partitions, 1)
	config := func(active, mode string) string {
		return cliHeader + failoverConfigWith(e, "  fencing = \"none\"\n  max_lag_records = 100000", active, mode)
	}
	tf.write(config("north-america", "planned"))
	tf.run("apply", "-input=false", "-auto-approve")
	if err := recordsMirrored(t, e, topic, partitions)(nil); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	holdMirrorWrites(t, e, topic, release)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	prod.Produce(t, topic, partitions, 1)
	waitForecast(t, e, func(at int64) bool { return at == partitions })

	tf.write(config("europe", "forced"))
	out := tf.run("plan", "-input=false", "-out=forced.tfplan")
	if lines := planLines(out); lines > screen || !strings.Contains(out, "Warning: Failover Forecast: 1000 Records At Risk") {
		t.Errorf("the plan of a forced failover over %d partitions at risk is %d lines, want at most %d:\n%s", partitions, lines, screen, out)
	}
	var plan struct {
		ResourceChanges []struct {
			Address string `json:"address"`
			Change  struct {
				After map[string]json.RawMessage `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(tf.run("show", "-json", "forced.tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	var forecast struct {
		RecordsAtRisk    int64             `json:"records_at_risk"`
		PartitionsAtRisk int64             `json:"partitions_at_risk"`
		Partitions       []json.RawMessage `json:"partitions"`
	}
	for _, rc := range plan.ResourceChanges {
		if rc.Address == "kafka_failover.lh" {
			if err := json.Unmarshal(rc.Change.After["forecast"], &forecast); err != nil {
				t.Fatalf("forecast in terraform show -json: %v: %s", err, rc.Change.After["forecast"])
			}
		}
	}
	if forecast.RecordsAtRisk != partitions || forecast.PartitionsAtRisk != partitions || len(forecast.Partitions) != listedPartitions {
		t.Errorf("planned forecast: %d records at risk in %d partitions, %d listed; want %d, %d, %d",
			forecast.RecordsAtRisk, forecast.PartitionsAtRisk, len(forecast.Partitions), partitions, partitions, listedPartitions)
	}

	close(release)
	waitForecast(t, e, func(at int64) bool { return at == 0 })
	tf.write(config("europe", "planned"))
	tf.run("plan", "-input=false", "-out=planned.tfplan")
	if out := tf.run("apply", "-input=false", "planned.tfplan"); strings.Contains(out, "Failover Forecast") {
		t.Errorf("applying the saved plan repeats the forecast:\n%s", out)
	}

	tf.write(config("north-america", "planned"))
	out = tf.run("plan", "-input=false")
	if lines := planLines(out); lines > screen || !strings.Contains(out, "partitions_total") {
		t.Errorf("the plan of the failover back is %d lines, want at most %d:\n%s", lines, screen, out)
	}
}

// planLines counts the lines of terraform plan's output from its actions on:
// what a reviewer reads, without the refresh's progress.
func planLines(out string) int {
	_, actions, _ := strings.Cut(out, "Terraform will perform the following actions:")
	return strings.Count(actions, "\n")
}
