package benchreport

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceSectionReplacesOnlyTheTextBetweenItsMarkers(t *testing.T) {
	doc := "# Title\n\nbefore\n<!-- s:begin -->\nold figures\n<!-- s:end -->\nafter\n"
	got, err := ReplaceSection(doc, "s", "new figures")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Title\n\nbefore\n<!-- s:begin -->\nnew figures\n<!-- s:end -->\nafter\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	again, err := ReplaceSection(got, "s", "new figures\n")
	if err != nil || again != want {
		t.Fatalf("a second write of the same body changed the file: %q, %v", again, err)
	}
}

func TestReplaceSectionAppendsTheSectionWhenTheFileHasNoMarkers(t *testing.T) {
	got, err := ReplaceSection("# Title\nbody", "s", "figures")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Title\nbody\n\n<!-- s:begin -->\nfigures\n<!-- s:end -->\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestReplaceSectionRefusesMarkersWithoutTheirPairOrOutOfOrder(t *testing.T) {
	for name, doc := range map[string]string{
		"begin only":  "<!-- s:begin -->\nx\n",
		"end first":   "<!-- s:end -->\nx\n<!-- s:begin -->\n",
		"begin twice": "<!-- s:begin -->\n<!-- s:begin -->\n<!-- s:end -->\n",
		"end only":    "x\n<!-- s:end -->\n",
	} {
		if _, err := ReplaceSection(doc, "s", "y"); err == nil || !strings.Contains(err.Error(), "section s") {
			t.Errorf("%s: got error %v, want one naming section s", name, err)
		}
	}
}

func TestWritePNGDrawsEachBarToScaleInItsSystemsColor(t *testing.T) {
	panels := []Panel{
		{Title: "throughput (records/s)", Bars: []Bar{{"loop", 50000}, {"MM2", 17000}, {"agent", 48000}}},
		{Title: "lag p99 (ms)", Bars: []Bar{{"MM2", 400}, {"agent", 100}}},
	}
	path := filepath.Join(t.TempDir(), "chart.png")
	if err := WritePNG(path, "a chart", panels...); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the file is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() != height {
		t.Fatalf("size %v", b)
	}
	for i, p := range panels {
		top := 0.0
		for _, b := range p.Bars {
			top = max(top, b.Value)
		}
		for j, r := range barRects(panels)[i] {
			if !r.In(img.Bounds()) {
				t.Fatalf("panel %d bar %d at %v is outside the image %v", i, j, r, img.Bounds())
			}
			x := r.Min.X + r.Dx()/2
			// The bar's pixels, counted up from the base line in its
			// color, say its height; the pixel above is not the bar's.
			h := 0
			for y := plotBot - 1; y >= 0 && sameColor(img, x, y, barColors(panels)[p.Bars[j].Label]); y-- {
				h++
			}
			want := float64(plotBot-plotTop) * p.Bars[j].Value / top
			if d := float64(h) - want; d < -1 || d > 1 {
				t.Errorf("panel %q bar %q: %d pixels high, want %.1f", p.Title, p.Bars[j].Label, h, want)
			}
		}
	}
}

func sameColor(img image.Image, x, y int, c interface{ RGBA() (r, g, b, a uint32) }) bool {
	r1, g1, b1, a1 := img.At(x, y).RGBA()
	r2, g2, b2, a2 := c.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

func TestMachineNamesTheCores(t *testing.T) {
	if m := Machine(); !strings.Contains(m, "cores") {
		t.Fatalf("Machine() = %q", m)
	}
}
