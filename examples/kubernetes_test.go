package examples

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// manifests are the objects of examples/kubernetes, decoded.
type manifests struct {
	deployment     *appsv1.Deployment
	service        *corev1.Service
	secrets        map[string]*corev1.Secret
	pdb            *policyv1.PodDisruptionBudget
	serviceMonitor *monitoringv1.ServiceMonitor
}

// decodeStrict decodes one YAML document into out, refusing any field the
// type does not have (a misspelt or misplaced key is an error, not ignored).
func decodeStrict(doc []byte, out any) error {
	raw, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(out)
}

func readManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in examples/kubernetes: %v", err)
	}
	m := manifests{secrets: map[string]*corev1.Secret{}}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(raw), "\n---\n") {
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			var out any
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 Deployment":
				m.deployment = &appsv1.Deployment{}
				out = m.deployment
			case "v1 Service":
				m.service = &corev1.Service{}
				out = m.service
			case "v1 Secret":
				out = &corev1.Secret{}
			case "policy/v1 PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				out = m.pdb
			case "monitoring.coreos.com/v1 ServiceMonitor":
				m.serviceMonitor = &monitoringv1.ServiceMonitor{}
				out = m.serviceMonitor
			default:
				t.Fatalf("%s document %d: unexpected %s %s", file, i, head.APIVersion, head.Kind)
			}
			if err := decodeStrict([]byte(doc), out); err != nil {
				t.Fatalf("%s document %d (%s): %v", file, i, head.Kind, err)
			}
			if s, ok := out.(*corev1.Secret); ok {
				m.secrets[s.Name] = s
			}
		}
	}
	if m.deployment == nil || m.service == nil || m.pdb == nil || m.serviceMonitor == nil || len(m.secrets) == 0 {
		t.Fatalf("examples/kubernetes lacks an object: %+v", m)
	}
	return m
}

func TestStrictDecodingRefusesAnUnknownField(t *testing.T) {
	var d appsv1.Deployment
	err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 3\n"), &d)
	if err == nil || !strings.Contains(err.Error(), `unknown field "replica"`) {
		t.Fatalf("a misspelt field: %v, want an unknown field error", err)
	}
}

// agentHelp builds the agent and answers what `kafka-failover-agent help`
// prints: every flag of run and its KFO_* variable.
func agentHelp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kafka-failover-agent")
	if out, err := exec.Command("go", "build", "-o", bin, "../agent").CombinedOutput(); err != nil {
		t.Fatalf("go build ../agent: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "help").CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-failover-agent help: %v\n%s", err, out)
	}
	return string(out)
}

// The manifests are valid objects of the Kubernetes API and of
// prometheus-operator, and hang together: selectors match, probes ask the
// agent's /healthz and /readyz, secrets are files from the Secret, and the
// container's args and variables are ones the agent accepts.
func TestKubernetesManifestsDecodeStrictlyAndMatchTheAgent(t *testing.T) {
	m := readManifests(t)
	help := agentHelp(t)
	d := m.deployment
	labels := d.Spec.Template.Labels
	matches := func(what string, sel map[string]string) {
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%s, which the agent's pods do not carry (%v)", what, k, v, labels)
			}
		}
		if len(sel) == 0 {
			t.Errorf("%s selects nothing", what)
		}
	}
	matches("the Deployment", d.Spec.Selector.MatchLabels)
	matches("the Service", m.service.Spec.Selector)
	matches("the PodDisruptionBudget", m.pdb.Spec.Selector.MatchLabels)
	for k, v := range m.serviceMonitor.Spec.Selector.MatchLabels {
		if m.service.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, which the Service does not carry", k, v)
		}
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v: want at least 2, so that one replica's loss moves tasks rather than stopping them", d.Spec.Replicas)
	}

	c := d.Spec.Template.Spec.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness probe %+v: want GET /healthz", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v: want GET /readyz", c.ReadinessProbe)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("resource requests %v: want cpu and memory", c.Resources.Requests)
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	for _, p := range m.service.Spec.Ports {
		if !ports[p.TargetPort.String()] {
			t.Errorf("the Service's port %s targets %s, which the container does not name", p.Name, p.TargetPort.String())
		}
	}
	for _, e := range m.serviceMonitor.Spec.Endpoints {
		if !slices.ContainsFunc(m.service.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port }) || e.Path != "/metrics" {
			t.Errorf("the ServiceMonitor scrapes port %q path %q: want a port of the Service and /metrics", e.Port, e.Path)
		}
	}

	// Every flag and variable is one the agent lists; none carries a secret.
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("args %q: want run first", c.Args)
	}
	for _, a := range c.Args[1:] {
		if name, _, _ := strings.Cut(a, "="); strings.HasPrefix(a, "--") && !strings.Contains(help, name+" ") {
			t.Errorf("arg %s is no flag of kafka-failover-agent run", name)
		}
	}
	mounts := map[string]string{} // mount path -> Secret
	for _, v := range d.Spec.Template.Spec.Volumes {
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name && v.Secret != nil {
				mounts[vm.MountPath] = v.Secret.SecretName
			}
		}
	}
	word := regexp.MustCompile(`\bKFO_[A-Z_]+\b`)
	known := word.FindAllString(help, -1)
	for _, e := range c.Env {
		if !slices.Contains(known, e.Name) {
			t.Errorf("env %s is no variable the agent reads (help lists %v)", e.Name, known)
		}
		if strings.Contains(e.Name, "PASSWORD") || strings.Contains(e.Name, "TOKEN") || strings.Contains(e.Name, "KEY") {
			if !strings.HasSuffix(e.Name, "_FILE") {
				t.Errorf("env %s carries a secret itself; secrets come from files", e.Name)
			}
		}
		if !strings.HasSuffix(e.Name, "_FILE") {
			continue
		}
		// A file variable names a key of a mounted Secret.
		dir, key := filepath.Split(e.Value)
		secret := m.secrets[mounts[strings.TrimSuffix(dir, "/")]]
		if secret == nil {
			t.Errorf("env %s=%s: no Secret is mounted at %s", e.Name, e.Value, dir)
			continue
		}
		if _, ok := secret.StringData[key]; !ok {
			t.Errorf("env %s=%s: Secret %s has no key %s", e.Name, e.Value, secret.Name, key)
		}
	}
}
