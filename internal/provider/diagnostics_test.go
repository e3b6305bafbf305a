package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
)

func TestAgentFieldPathsMapToSchemaPaths(t *testing.T) {
	for field, want := range map[string]path.Path{
		"name":                 path.Root("name"),
		"bootstrap_servers[1]": path.Root("bootstrap_servers").AtListIndex(1),
		"topics.include[0]":    path.Root("topics").AtName("include").AtListIndex(0),
		"sasl.password_wo":     path.Root("sasl").AtName("password_wo"),
	} {
		got, ok := fieldPath(field)
		if !ok || !got.Equal(want) {
			t.Errorf("fieldPath(%q) = %v, %v; want %v", field, got, ok, want)
		}
	}
	for _, bad := range []string{"", "a..b", "x[y]", "Topics"} {
		if _, ok := fieldPath(bad); ok {
			t.Errorf("fieldPath(%q) accepted", bad)
		}
	}
}
