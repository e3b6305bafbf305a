package benchreport

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Bar is one bar of a panel.
type Bar struct {
	Label string // under the bar; short: about 12 characters fit
	Value float64
}

// Panel is a bar chart with its own scale, from 0 to its largest value.
type Panel struct {
	Title string // above the bars, e.g. "throughput (records/s)"
	Bars  []Bar
}

// Sizes of the chart, in pixels; basicfont.Face7x13 is 7 wide, 13 high.
const (
	slot     = 96  // width per bar
	barWidth = 56  // of the slot
	plotTop  = 64  // the tallest bar's top
	plotBot  = 280 // the bars' base line
	height   = 310
	margin   = 16
)

// bars are the bars' colors, in turn; the text and axes are black.
var bars = []color.RGBA{{0x4c, 0x72, 0xb0, 0xff}, {0xdd, 0x84, 0x52, 0xff}, {0x55, 0xa8, 0x68, 0xff}, {0xc4, 0x4e, 0x52, 0xff}}

// barColors gives each label its color, in the order labels first appear:
// a system keeps its color across panels.
func barColors(panels []Panel) map[string]color.RGBA {
	out := map[string]color.RGBA{}
	for _, p := range panels {
		for _, b := range p.Bars {
			if _, ok := out[b.Label]; !ok {
				out[b.Label] = bars[len(out)%len(bars)]
			}
		}
	}
	return out
}

// panelWidth is the width of p, its title included.
func panelWidth(p Panel) int {
	return max(slot*len(p.Bars), 7*len(p.Title)+8)
}

// barRects answers where each bar of each panel is drawn.
func barRects(panels []Panel) [][]image.Rectangle {
	out := make([][]image.Rectangle, len(panels))
	x := margin
	for i, p := range panels {
		top := 0.0
		for _, b := range p.Bars {
			top = max(top, b.Value)
		}
		w := panelWidth(p)
		left := x + (w-slot*len(p.Bars))/2
		for j, b := range p.Bars {
			h := 0
			if top > 0 && b.Value > 0 {
				h = max(int(float64(plotBot-plotTop)*b.Value/top+0.5), 1)
			}
			x0 := left + j*slot + (slot-barWidth)/2
			out[i] = append(out[i], image.Rect(x0, plotBot-h, x0+barWidth, plotBot))
		}
		x += w + 2*margin
	}
	return out
}

// Chart draws the panels side by side under a title, each bar with its
// value above it and its label under it.
func Chart(title string, panels ...Panel) *image.RGBA {
	width := margin
	for _, p := range panels {
		width += panelWidth(p) + 2*margin
	}
	width = max(width-margin, 7*len(title)+2*margin)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, margin, 20, title)
	rects, colors := barRects(panels), barColors(panels)
	x := margin
	for i, p := range panels {
		w := panelWidth(p)
		text(img, x+(w-7*len(p.Title))/2, 44, p.Title)
		draw.Draw(img, image.Rect(x, plotBot, x+w, plotBot+1), image.Black, image.Point{}, draw.Src)
		for j, r := range rects[i] {
			b := p.Bars[j]
			draw.Draw(img, r, image.NewUniform(colors[b.Label]), image.Point{}, draw.Src)
			value := label(b.Value)
			center := r.Min.X + barWidth/2
			text(img, center-7*len(value)/2, r.Min.Y-4, value)
			text(img, center-7*len(b.Label)/2, plotBot+16, b.Label)
		}
		x += w + 2*margin
	}
	return img
}

// label prints a value with the digits that matter at its size.
func label(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// text draws s in black with its baseline at y.
func text(img draw.Image, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.Black, Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// WritePNG writes Chart(title, panels...) to path.
func WritePNG(path, title string, panels ...Panel) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, Chart(title, panels...)); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
