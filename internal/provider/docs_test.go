package provider

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDocsAreUpToDate regenerates the docs as `make docs` does, into a
// temporary directory, and fails when the committed docs/ differ.
func TestDocsAreUpToDate(t *testing.T) {
	tf := cliOrSkip(t, "to check that docs/ is up to date")
	// The committed docs come from Terraform 1.11+, whose schema marks
	// write-only attributes; OpenTofu 1.10 and older Terraform leave that out.
	if v, _ := exec.Command(tf, "version").Output(); !writeOnlyAware(string(v)) {
		t.Skipf("%s is not Terraform 1.11 or later (%q): its schema JSON omits write-only flags, so it cannot reproduce docs/", tf, strings.SplitN(string(v), "\n", 2)[0])
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	tmp := t.TempDir()
	run := func(dir string, env []string, name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
		}
		return out
	}

	binDir := filepath.Join(tmp, "bin")
	run(root, nil, goBin, "build", "-o", filepath.Join(binDir, "terraform-provider-kafka"), "./provider")
	work := filepath.Join(tmp, "work")
	writeFile(t, filepath.Join(work, "cli.tfrc"), `provider_installation {
  dev_overrides {
    "registry.terraform.io/kafka-failover/kafka" = "`+binDir+`"
  }
  direct {}
}
`)
	writeFile(t, filepath.Join(work, "main.tf"), `terraform {
  required_providers {
    kafka = { source = "registry.terraform.io/kafka-failover/kafka" }
  }
}
`)
	schema := run(work, []string{"TF_CLI_CONFIG_FILE=" + filepath.Join(work, "cli.tfrc"), "CHECKPOINT_DISABLE=1"}, tf, "providers", "schema", "-json")
	// tfplugindocs finds the schema by the provider's short name.
	schema = bytes.ReplaceAll(schema, []byte(`"registry.terraform.io/kafka-failover/kafka"`), []byte(`"kafka"`))
	writeFile(t, filepath.Join(tmp, "schema.json"), string(schema))

	site := filepath.Join(tmp, "site")
	for _, dir := range []string{"examples", "templates"} {
		if _, err := os.Stat(filepath.Join(root, dir)); err == nil {
			if err := os.CopyFS(filepath.Join(site, dir), os.DirFS(filepath.Join(root, dir))); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(root, nil, goBin, "tool", "tfplugindocs", "generate", "--provider-dir", site,
		"--provider-name", "kafka", "--rendered-provider-name", "kafka-failover", "--providers-schema", filepath.Join(tmp, "schema.json"))

	want, got := readTree(t, filepath.Join(site, "docs")), readTree(t, filepath.Join(root, "docs"))
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("docs/%s is missing: run make docs", name)
		} else if g != w {
			t.Errorf("docs/%s is stale: run make docs", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/%s is not generated any more: run make docs", name)
		}
	}
}

// cliOrSkip answers the CLI of TF_ACC_TERRAFORM_PATH, or terraform on the
// PATH, and skips the test, which needs it for why, when there is neither.
func cliOrSkip(t *testing.T, why string) string {
	t.Helper()
	if cli := os.Getenv("TF_ACC_TERRAFORM_PATH"); cli != "" {
		return cli
	}
	cli, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("no terraform CLI: set TF_ACC_TERRAFORM_PATH (make test does) " + why)
	}
	return cli
}

// writeOnlyAware says whether `terraform version` output is Terraform 1.11+.
func writeOnlyAware(version string) bool {
	rest, ok := strings.CutPrefix(version, "Terraform v")
	if !ok {
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(rest, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 1 || (major == 1 && minor >= 11)
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readTree answers every file under dir by its slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}
