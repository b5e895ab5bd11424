package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var methodColors = map[string]color.RGBA{
	"pipe":       {R: 0x99, G: 0x99, B: 0x99, A: 0xff},
	"mirrorless": {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"mm2":        {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"mm2-eos":    {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

// chart draws three grouped bar charts side by side (throughput, CPU per
// GiB, peak RSS; one group per workload, one bar per method) into a PNG.
func chart(results []*result, path string) error {
	var workloads, methods []string
	seenW, seenM := map[string]bool{}, map[string]bool{}
	byKey := map[[2]string]*result{}
	for _, r := range results {
		if !seenW[r.Workload] {
			seenW[r.Workload] = true
			workloads = append(workloads, r.Workload)
		}
		if !seenM[r.Method] {
			seenM[r.Method] = true
			methods = append(methods, r.Method)
		}
		byKey[[2]string{r.Workload, r.Method}] = r
	}
	panels := []struct {
		title, y string
		val      func(*result) float64
	}{
		{"Throughput (higher is better)", "MB/s (wall, incl. start-up)", (*result).mbps},
		{"CPU per GiB copied (lower is better)", "CPU-seconds / GiB", (*result).cpuPerGiB},
		{"Peak RSS of the copier (lower is better)", "MiB", func(r *result) float64 { return float64(r.MaxRSS) / (1 << 20) }},
	}
	const cols = 3
	img := vgimg.New(vg.Points(float64(cols)*340), vg.Points(300))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: cols, PadX: vg.Points(10), PadY: vg.Points(10), PadTop: vg.Points(5), PadBottom: vg.Points(5), PadLeft: vg.Points(5), PadRight: vg.Points(5)}
	width := vg.Points(18)
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.Y.Label.Text = pn.y
		p.Y.Min = 0
		p.Legend.Top = true
		p.Legend.Left = true
		top := 0.0
		for j, m := range methods {
			vals := make(plotter.Values, len(workloads))
			for k, w := range workloads {
				if r := byKey[[2]string{w, m}]; r != nil && r.Err == "" {
					vals[k] = pn.val(r)
					top = max(top, vals[k])
				}
			}
			bars, err := plotter.NewBarChart(vals, width)
			if err != nil {
				return err
			}
			bars.Color = methodColors[m]
			bars.LineStyle.Width = 0
			bars.Offset = width * vg.Length(float64(j)-float64(len(methods)-1)/2)
			p.Add(bars)
			if i == 0 {
				p.Legend.Add(m, bars)
			}
		}
		p.Y.Max = top * 1.25 // room for the legend
		p.NominalX(workloads...)
		p.Draw(tiles.At(dc, i, 0))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
