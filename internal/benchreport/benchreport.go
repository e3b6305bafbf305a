// Package benchreport writes a benchmark's figures where readers find them:
// a section of a Markdown file between two marker comments, which a later
// run replaces and nothing else touches, and a bar chart as a PNG.
package benchreport

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Markers answers the comments that open and close section name.
func Markers(name string) (begin, end string) {
	return "<!-- " + name + ":begin -->", "<!-- " + name + ":end -->"
}

// ReplaceSection answers doc with the text between section name's markers
// replaced by body; without the markers, doc with the section appended.
// A marker without its pair, or a pair in the wrong order, is an error:
// the file was edited by hand and what to replace is not clear.
func ReplaceSection(doc, name, body string) (string, error) {
	begin, end := Markers(name)
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	b, e := strings.Count(doc, begin), strings.Count(doc, end)
	switch {
	case b == 0 && e == 0:
		if doc != "" && !strings.HasSuffix(doc, "\n") {
			doc += "\n"
		}
		return doc + "\n" + begin + "\n" + body + end + "\n", nil
	case b != 1 || e != 1:
		return "", fmt.Errorf("section %s: want one %q and one %q, found %d and %d", name, begin, end, b, e)
	}
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if j < i {
		return "", fmt.Errorf("section %s: %q comes before %q", name, end, begin)
	}
	return doc[:i+len(begin)] + "\n" + body + doc[j:], nil
}

// WriteSection replaces section name of the file at path (see
// ReplaceSection) and keeps the file's mode.
func WriteSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, err := ReplaceSection(string(old), name, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(doc), info.Mode().Perm())
}

// Machine describes this machine in a line: CPU model, cores, memory (from
// /proc on Linux; what is unknown is left out).
func Machine() string {
	parts := []string{}
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				parts = append(parts, strings.TrimSpace(v))
				break
			}
		}
	}
	parts = append(parts, fmt.Sprintf("%d cores", runtime.NumCPU()))
	if info, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
					parts = append(parts, fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20)))
				}
				break
			}
		}
	}
	return strings.Join(parts, ", ")
}

// LoadAverage is /proc/loadavg's 1, 5 and 15 minute load averages, "" where
// unknown: how busy the machine was besides the benchmark.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
