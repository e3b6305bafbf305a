package readme_test

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// TestTheSnapshotReleaseInstallsWithAPlainTerraformInit builds the release
// the way `make release-snapshot` does (the committed .goreleaser.yaml,
// restricted to this machine's OS and architecture so that it takes one
// build per binary), lays the provider out as a filesystem mirror, and runs
// a configuration the way CI pipelines and Terraform Cloud do: a plain
// `terraform init` (no dev_overrides) that pins the archive in
// .terraform.lock.hcl, then plan and apply against the agent from the
// release's own archive. A tampered archive is then refused by the lock.
// It runs with every CLI it finds: terraform (or the OpenTofu that
// ensure-tools built) and OpenTofu when installed beside it.
func TestTheSnapshotReleaseInstallsWithAPlainTerraformInit(t *testing.T) {
	goreleaser := os.Getenv("KFO_GORELEASER")
	if goreleaser == "" {
		t.Skip("KFO_GORELEASER is unset: the release is built with GoReleaser; `make test` sets it (scripts/ensure-tools.sh)")
	}
	clis := terraformCLIs(t)
	if len(clis) == 0 {
		t.Skip("TF_ACC_TERRAFORM_PATH is unset: the test drives the terraform CLI; `make test` sets it (scripts/ensure-tools.sh)")
	}
	dist := buildSnapshotRelease(t, goreleaser)

	var meta struct{ Version string }
	readJSON(t, filepath.Join(dist, "metadata.json"), &meta)
	version := meta.Version
	target := runtime.GOOS + "_" + runtime.GOARCH
	zipName := fmt.Sprintf("terraform-provider-kafka_%s_%s.zip", version, target)
	sums := readSums(t, filepath.Join(dist, fmt.Sprintf("terraform-provider-kafka_%s_SHA256SUMS", version)))
	if got, want := sums[zipName], fileSHA256(t, filepath.Join(dist, zipName)); got != want {
		t.Fatalf("SHA256SUMS lists %s as %q; the archive's digest is %s", zipName, got, want)
	}
	manifest, err := os.ReadFile("terraform-registry-manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sums[fmt.Sprintf("terraform-provider-kafka_%s_manifest.json", version)], sha256Hex(manifest); got != want {
		t.Errorf("SHA256SUMS lists the registry manifest as %q, want %s (the committed terraform-registry-manifest.json)", got, want)
	}
	var m struct {
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		}
	}
	if err := json.Unmarshal(manifest, &m); err != nil || len(m.Metadata.ProtocolVersions) != 1 || m.Metadata.ProtocolVersions[0] != "6.0" {
		t.Errorf("terraform-registry-manifest.json declares protocol versions %v (%v), want [6.0]: the provider serves protocol 6", m.Metadata.ProtocolVersions, err)
	}

	// The agent from its archive says the release's version.
	agentBin := extractAgent(t, filepath.Join(dist, fmt.Sprintf("kafka-failover-agent_%s_%s.tar.gz", version, target)))
	if out, err := exec.Command(agentBin, "--version").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "kafka-failover-agent "+version {
		t.Errorf("the released agent's --version answers %q (%v), want %q", out, err, "kafka-failover-agent "+version)
	}
	agentURL, token := startReleasedAgent(t, agentBin)
	cluster := kafkatest.Cluster(t, "north-america")

	for _, cli := range clis {
		t.Run(cli.name, func(t *testing.T) {
			// The packed filesystem-mirror layout:
			// HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip.
			mirror := t.TempDir()
			dir := filepath.Join(mirror, cli.registry, "kafka-failover", "kafka")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			copyFile(t, filepath.Join(dist, zipName), filepath.Join(dir, zipName))
			work := t.TempDir()
			writeFile(t, filepath.Join(work, "cli.tfrc"), fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["%s/kafka-failover/kafka"]
  }
}
`, mirror, cli.registry))
			writeFile(t, filepath.Join(work, "main.tf"), fmt.Sprintf(`terraform {
  required_providers {
    kafka = {
      source  = "kafka-failover/kafka"
      version = "= %s"
    }
  }
}

provider "kafka" {
  agent_url = %q
}

resource "kafka_cluster" "north_america" {
  name              = "north-america"
  bootstrap_servers = [%q]
}
`, version, agentURL, cluster.Bootstrap()[0]))
			env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(work, "cli.tfrc"), "CHECKPOINT_DISABLE=1",
				"KAFKA_FAILOVER_TOKEN="+token, "TF_IN_AUTOMATION=1")
			tf := func(args ...string) (string, error) {
				cmd := exec.Command(cli.path, args...)
				cmd.Dir, cmd.Env = work, env
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			must := func(args ...string) string {
				t.Helper()
				out, err := tf(args...)
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", cli.name, strings.Join(args, " "), err, out)
				}
				return out
			}

			must("init", "-input=false")
			lock, err := os.ReadFile(filepath.Join(work, ".terraform.lock.hcl"))
			if err != nil {
				t.Fatalf("init wrote no lock file: %v", err)
			}
			h1, err := dirhash.HashZip(filepath.Join(dist, zipName), dirhash.Hash1)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{fmt.Sprintf("%s/kafka-failover/kafka", cli.registry), fmt.Sprintf("version     = %q", version), h1} {
				if !strings.Contains(string(lock), want) {
					t.Errorf(".terraform.lock.hcl lacks %q:\n%s", want, lock)
				}
			}
			must("apply", "-input=false", "-auto-approve")
			if out, err := tf("plan", "-input=false", "-detailed-exitcode"); err != nil {
				t.Errorf("the plan after apply is not empty (exit %v):\n%s", err, out)
			}

			// What the lock file is for: an archive that is not the one
			// locked is refused, and nothing is installed from it.
			tamperArchive(t, filepath.Join(dist, zipName), filepath.Join(dir, zipName))
			if err := os.RemoveAll(filepath.Join(work, ".terraform")); err != nil {
				t.Fatal(err)
			}
			out, err := tf("init", "-input=false")
			if err == nil {
				t.Fatalf("init installed an archive whose checksum is not the locked one:\n%s", out)
			}
			if !strings.Contains(strings.ToLower(out), "checksum") {
				t.Errorf("init refused the tampered archive, but without naming the checksum:\n%s", out)
			}
		})
	}
}

type terraformCLI struct{ name, path, registry string }

// terraformCLIs answers the CLIs to run: TF_ACC_TERRAFORM_PATH, and
// OpenTofu too when ensure-tools cached one that is not already that.
// OpenTofu resolves "kafka-failover/kafka" on its own registry's hostname.
func terraformCLIs(t *testing.T) []terraformCLI {
	var clis []terraformCLI
	add := func(path string) {
		out, err := exec.Command(path, "version").Output()
		if err != nil {
			t.Fatalf("%s version: %v", path, err)
		}
		if strings.HasPrefix(string(out), "OpenTofu") {
			clis = append(clis, terraformCLI{"opentofu", path, "registry.opentofu.org"})
		} else {
			clis = append(clis, terraformCLI{"terraform", path, "registry.terraform.io"})
		}
	}
	main := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if main == "" {
		return nil
	}
	add(main)
	tofuDir := os.Getenv("KFO_TOOLS_DIR")
	if tofuDir == "" {
		home, _ := os.UserHomeDir()
		tofuDir = filepath.Join(home, ".cache", "kafka-failover", "tools")
	}
	if tofu := filepath.Join(tofuDir, "tofu"); clis[0].name != "opentofu" {
		if _, err := os.Stat(tofu); err == nil {
			add(tofu)
		}
	}
	return clis
}

// buildSnapshotRelease runs GoReleaser on the committed configuration with
// only this machine's target and dist/ in a temporary directory, so that
// the clone is left as it was.
func buildSnapshotRelease(t *testing.T, goreleaser string) string {
	t.Helper()
	cfg, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(cfg)
	for key, value := range map[string]string{"goos": runtime.GOOS, "goarch": runtime.GOARCH} {
		re := regexp.MustCompile(`(?m)^(\s+)` + key + `: \[.*\]$`)
		if n := len(re.FindAllString(text, -1)); n != 2 {
			t.Fatalf(".goreleaser.yaml has %d %s lists, want 2 (provider and agent): update this test with it", n, key)
		}
		text = re.ReplaceAllString(text, "${1}"+key+": ["+value+"]")
	}
	dist := filepath.Join(t.TempDir(), "dist")
	hostCfg := filepath.Join(t.TempDir(), "goreleaser.yaml")
	writeFile(t, hostCfg, text+"\ndist: "+dist+"\n")
	cmd := exec.Command(goreleaser, "release", "--snapshot", "--clean", "--skip=sign", "-f", hostCfg)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(runtime.GOROOT(), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser release --snapshot: %v\n%s", err, out)
	}
	return dist
}

// startReleasedAgent runs the released agent beside a dev cluster that
// holds its state, and answers its URL and token.
func startReleasedAgent(t *testing.T, bin string) (url, token string) {
	t.Helper()
	state := kafkatest.Cluster(t, "europe")
	token = "release-test-token-0123456789"
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, token+"\n")
	addr := kafkatest.FreeAddr(t)
	cmd := exec.Command(bin, "run", "--listen", addr, "--state-bootstrap", strings.Join(state.Bootstrap(), ","), "--token-file", tokenFile)
	logs, err := os.Create(filepath.Join(t.TempDir(), "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("agent log:\n%s", b)
		}
	})
	url = "http://" + addr
	kafkatest.AwaitReady(t, url, "", exited)
	return url, token
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readSums parses a SHA256SUMS file: name -> hex digest.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if digest, name, ok := strings.Cut(sc.Text(), "  "); ok {
			sums[name] = digest
		}
	}
	return sums
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256Hex(b)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamperArchive rewrites a provider archive as someone who swapped it
// would: a valid zip whose binary has one byte more.
func tamperArchive(t *testing.T, from, to string) {
	t.Helper()
	r, err := zip.OpenReader(from)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out)
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, ExternalAttrs: f.ExternalAttrs})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(append(b, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// extractAgent takes the agent binary out of its release archive.
func extractAgent(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s holds no kafka-failover-agent", archive)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "kafka-failover-agent" {
			bin := filepath.Join(t.TempDir(), h.Name)
			out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
			return bin
		}
	}
}

// TestTheAgentsDockerfilePassesHadolint lints the container build that
// RELEASING.md documents: no image can be built here, so the linter is
// what checks it.
func TestTheAgentsDockerfilePassesHadolint(t *testing.T) {
	hadolint := os.Getenv("KFO_HADOLINT")
	if hadolint == "" {
		t.Skip("KFO_HADOLINT is unset: `make test` sets it (scripts/ensure-tools.sh fetches hadolint)")
	}
	if out, err := exec.Command(hadolint, "--no-color", "Dockerfile").CombinedOutput(); err != nil {
		t.Errorf("hadolint Dockerfile: %v\n%s", err, out)
	}
}
