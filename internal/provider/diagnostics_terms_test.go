package provider

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Every message of the agent that names one of its HTTP requests (or the
// forget_diverged query) reads, once through terraformTerms, without it:
// the test finds them in the agent's sources, so a new one cannot slip by.
func TestAgentMessagesReachTerraformInItsTerms(t *testing.T) {
	verbs := regexp.MustCompile(`(PUT|POST|GET|DELETE) /v1/|\?forget_diverged`)
	fill := strings.NewReplacer("%s", "lh", "%q", `"europe"`, "%[2]q", `"europe"`, "%d", "1", "%v", "refused")
	var found int
	for _, dir := range []string{"../agent", "../failover", "../store"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "routes.go") {
				continue
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, 0) // comments dropped: only literals
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(parsed, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || !verbs.MatchString(s) || strings.Contains(s, "{name}") || strings.HasPrefix(s, "/v1/") {
					return true // a route pattern or a path the agent calls, not a message
				}
				found++
				if got := terraformTerms(fill.Replace(s)); verbs.MatchString(got) {
					t.Errorf("%s: the agent's message %q reaches Terraform as %q", f, s, got)
				}
				return true
			})
		}
	}
	if found < 5 {
		t.Fatalf("found %d agent messages naming HTTP requests, want the known ones (at least 5): is the scan looking in the right place?", found)
	}
}
