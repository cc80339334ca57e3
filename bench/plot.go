package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Plot geometry, in pixels.
const (
	panelW    = 600
	panelH    = 330
	panelCols = 2
	margin    = 16
	legendH   = 36
	titleH    = 44
	axisW     = 64 // room for the y-axis labels
	glyphW    = 7  // basicfont.Face7x13
	glyphH    = 13
)

// Colours of the background, text, gridlines and whiskers.
func white() color.RGBA    { return color.RGBA{255, 255, 255, 255} }
func ink() color.RGBA      { return color.RGBA{30, 30, 30, 255} }
func gridInk() color.RGBA  { return color.RGBA{225, 225, 225, 255} }
func rangeInk() color.RGBA { return color.RGBA{60, 60, 60, 255} }

// peerColor is a peer's bar colour: weir stands out; a -defaults row is a
// lighter shade of its program's colour.
func peerColor(peer string) color.RGBA {
	switch peer {
	case "weir":
		return color.RGBA{230, 85, 13, 255}
	case "nginx":
		return color.RGBA{49, 163, 84, 255}
	case "nginx-defaults":
		return color.RGBA{161, 217, 155, 255}
	case "haproxy":
		return color.RGBA{49, 130, 189, 255}
	case "caddy":
		return color.RGBA{117, 107, 177, 255}
	case "caddy-defaults":
		return color.RGBA{188, 189, 220, 255}
	default:
		return color.RGBA{150, 150, 150, 255}
	}
}

// darker is c at 60% brightness (the p50 part of a latency bar).
func darker(c color.RGBA) color.RGBA {
	return color.RGBA{uint8(float64(c.R) * 0.6), uint8(float64(c.G) * 0.6), uint8(float64(c.B) * 0.6), 255}
}

// bar is one peer's bar in a panel: Value is its height; Low and High an
// optional range drawn as a whisker; Inner an optional lower segment in a
// darker shade (p50 inside p99).
type bar struct {
	Peer               string
	Value, Low, High   float64
	Inner              float64
	HasRange, HasInner bool
	Label              string
}

// panel is one scenario's bars.
type panel struct {
	Title string
	Bars  []bar
}

// chart is one PNG: a title, a legend and panels on a grid.
type chart struct {
	Title  string
	Peers  []string // legend order
	Panels []panel
	Note   string // under the legend
}

// metric is what one chart plots.
type metric struct {
	file, title, note string
	bar               func(c *Cell) (bar, bool)
}

// metrics are the suite's plots.
func metrics() []metric {
	return []metric{
		{
			file: "per-cpu", title: "Requests per CPU-second of the proxy (higher is better)",
			note: "bar: median over the rounds; whisker: min to max",
			bar: func(c *Cell) (bar, bool) {
				s := c.PerCPUSecond
				return bar{Value: s.Median, Low: s.Min, High: s.Max, HasRange: s.N > 1, Label: fmtShort(s.Median)}, s.N > 0
			},
		},
		{
			file: "latency", title: "Latency in ms: p50 (dark) within p99 (whole bar), lower is better",
			note: "label: p50 / p99, medians over the rounds",
			bar: func(c *Cell) (bar, bool) {
				return bar{Value: c.P99.Median, Inner: c.P50.Median, HasInner: true,
					Label: fmtFloat(c.P50.Median) + "/" + fmtFloat(c.P99.Median)}, c.P99.N > 0
			},
		},
		{
			file: "memory", title: "Peak resident memory of the proxy in MiB (lower is better)",
			note: "bar: median over the rounds; whisker: min to max",
			bar: func(c *Cell) (bar, bool) {
				s := c.PeakRSS
				return bar{Value: s.Median / (1 << 20), Low: s.Min / (1 << 20), High: s.Max / (1 << 20), HasRange: s.N > 1,
					Label: fmtFloat(s.Median / (1 << 20))}, s.N > 0
			},
		},
	}
}

// WritePlots draws the suite's charts as PNG files in dir, one per metric
// and mode, and returns their paths.
func WritePlots(res *Results, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, mode := range res.Modes {
		for _, m := range metrics() {
			ch := buildChart(res, mode, m)
			if len(ch.Panels) == 0 {
				continue
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%s.png", m.file, mode))
			if err := writePNG(path, ch.draw()); err != nil {
				return nil, err
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}

// buildChart gathers one metric's panels in one mode.
func buildChart(res *Results, mode Mode, m metric) chart {
	ch := chart{Title: fmt.Sprintf("%s, %s", m.title, mode), Note: m.note}
	for _, si := range res.Scenarios {
		if !slices.Contains(si.Modes, mode) {
			continue
		}
		pn := panel{Title: si.Name}
		for _, peer := range si.Peers {
			c := res.Cell(mode, si.Name, peer)
			if c == nil {
				continue
			}
			b, ok := m.bar(c)
			if !ok {
				continue
			}
			b.Peer = peer
			pn.Bars = append(pn.Bars, b)
			if !slices.Contains(ch.Peers, peer) {
				ch.Peers = append(ch.Peers, peer)
			}
		}
		if len(pn.Bars) > 0 {
			ch.Panels = append(ch.Panels, pn)
		}
	}
	// The legend in the peers' table order.
	order := map[string]int{}
	for i, p := range Peers() {
		order[p.Name] = i
	}
	slices.SortStableFunc(ch.Peers, func(a, b string) int { return order[a] - order[b] })
	return ch
}

// draw renders the chart.
func (ch chart) draw() *image.RGBA {
	rows := (len(ch.Panels) + panelCols - 1) / panelCols
	cols := min(len(ch.Panels), panelCols)
	w := margin*2 + cols*panelW + (cols-1)*margin
	h := titleH + legendH + rows*(panelH+margin) + margin
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(white()), image.Point{}, draw.Src)
	drawText(img, margin, margin, ch.Title, 2, ink())
	x := margin
	y := titleH + 6
	for _, peer := range ch.Peers {
		fill(img, image.Rect(x, y, x+16, y+16), peerColor(peer))
		drawText(img, x+22, y+2, peer, 1, ink())
		x += 22 + len(peer)*glyphW + 24
	}
	drawText(img, x+16, y+2, "("+ch.Note+")", 1, rangeInk())
	for i, pn := range ch.Panels {
		px := margin + (i%panelCols)*(panelW+margin)
		py := titleH + legendH + (i/panelCols)*(panelH+margin)
		pn.draw(img, image.Rect(px, py, px+panelW, py+panelH))
	}
	return img
}

// draw renders one panel into r: title, y axis with gridlines, bars with
// value labels.
func (pn panel) draw(img *image.RGBA, r image.Rectangle) {
	stroke(img, r, gridInk())
	drawText(img, r.Min.X+8, r.Min.Y+6, pn.Title, 2, ink())
	top := 0.0
	for _, b := range pn.Bars {
		top = max(top, b.Value, b.High)
	}
	step, top := niceAxis(top)
	plot := image.Rect(r.Min.X+axisW, r.Min.Y+40, r.Max.X-10, r.Max.Y-12)
	for v := 0.0; v <= top+step/2; v += step {
		y := plot.Max.Y - int(v/top*float64(plot.Dy()))
		fill(img, image.Rect(plot.Min.X, y, plot.Max.X, y+1), gridInk())
		label := fmtShort(v)
		drawText(img, plot.Min.X-6-len(label)*glyphW, y-glyphH/2, label, 1, rangeInk())
	}
	fill(img, image.Rect(plot.Min.X, plot.Min.Y, plot.Min.X+1, plot.Max.Y+1), ink())
	fill(img, image.Rect(plot.Min.X, plot.Max.Y, plot.Max.X, plot.Max.Y+1), ink())
	slot := plot.Dx() / max(len(pn.Bars), 1)
	bw := min(slot*3/5, 60)
	yOf := func(v float64) int { return plot.Max.Y - int(v/top*float64(plot.Dy())) }
	for i, b := range pn.Bars {
		cx := plot.Min.X + i*slot + slot/2
		c := peerColor(b.Peer)
		fill(img, image.Rect(cx-bw/2, yOf(b.Value), cx+bw/2, plot.Max.Y), c)
		if b.HasInner {
			fill(img, image.Rect(cx-bw/2, yOf(b.Inner), cx+bw/2, plot.Max.Y), darker(c))
		}
		labelY := yOf(b.Value)
		if b.HasRange {
			fill(img, image.Rect(cx, yOf(b.High), cx+1, yOf(b.Low)+1), rangeInk())
			fill(img, image.Rect(cx-5, yOf(b.High), cx+6, yOf(b.High)+1), rangeInk())
			fill(img, image.Rect(cx-5, yOf(b.Low), cx+6, yOf(b.Low)+1), rangeInk())
			labelY = min(labelY, yOf(b.High))
		}
		drawText(img, cx-len(b.Label)*glyphW/2, labelY-glyphH-3, b.Label, 1, ink())
	}
}

// niceAxis returns a gridline step (1, 2 or 5 times a power of ten) and
// an axis top that is a multiple of it, for values up to v, leaving room
// for the labels above the bars.
func niceAxis(v float64) (step, top float64) {
	if v <= 0 {
		return 1, 4
	}
	v *= 1.12
	raw := v / 4
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * pow; step >= raw {
			break
		}
	}
	return step, math.Ceil(v/step) * step
}

// fmtShort renders an axis or bar value compactly, in three significant
// digits at most: 46.3k, 5k, 1.2M, 0.85, 0.
func fmtShort(v float64) string {
	unit := ""
	switch {
	case v >= 1e6:
		v, unit = v/1e6, "M"
	case v >= 1e3:
		v, unit = v/1e3, "k"
	}
	s := strconv.FormatFloat(v, 'f', max(2-int(math.Floor(math.Log10(max(v, 0.01)))), 0), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + unit
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// stroke draws r's outline.
func stroke(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), c)
	fill(img, image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), c)
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), c)
	fill(img, image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), c)
}

// drawText draws s with its top-left corner at (x, y) in the 7x13 bitmap
// font, each pixel scaled to scale x scale.
func drawText(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	mask := image.NewAlpha(image.Rect(0, 0, len(s)*glyphW, glyphH))
	d := font.Drawer{Dst: mask, Src: image.Opaque, Face: basicfont.Face7x13, Dot: fixed.P(0, basicfont.Face7x13.Ascent)}
	d.DrawString(s)
	b := mask.Bounds()
	for my := b.Min.Y; my < b.Max.Y; my++ {
		for mx := b.Min.X; mx < b.Max.X; mx++ {
			if mask.AlphaAt(mx, my).A < 128 {
				continue
			}
			fill(img, image.Rect(x+mx*scale, y+my*scale, x+(mx+1)*scale, y+(my+1)*scale), c)
		}
	}
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
