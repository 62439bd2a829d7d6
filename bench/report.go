package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
)

// Column names, in table order.
const (
	ours    = "ours"
	cpp     = "C++ CoolKey"
	opensc  = "OpenSC"
	softhsm = "SoftHSM"
)

var columns = []string{ours, cpp, opensc, softhsm}

// results holds every sample by metric and module, and the reasons a
// module has no figure for a metric.
type results struct {
	mu      sync.Mutex
	samples map[string]map[string][]float64
	na      map[string]map[string]string
}

func newResults() *results {
	return &results{samples: map[string]map[string][]float64{}, na: map[string]map[string]string{}}
}

func (r *results) add(metric, mod string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.samples[metric] == nil {
		r.samples[metric] = map[string][]float64{}
	}
	r.samples[metric][mod] = append(r.samples[metric][mod], v)
}

// notApplicable records why mod has no figure for metric.
func (r *results) notApplicable(metric, mod, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.na[metric] == nil {
		r.na[metric] = map[string]string{}
	}
	r.na[metric][mod] = why
}

// median returns the median of mod's samples for metric.
func (r *results) median(metric, mod string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.samples[metric][mod]
	if len(s) == 0 {
		return 0, false
	}
	return median(s), true
}

func (r *results) count(metric, mod string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples[metric][mod])
}

func median(s []float64) float64 {
	c := slices.Clone(s)
	slices.Sort(c)
	n := len(c)
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// target is what a row must meet; check returns the target's text and
// whether it is met, from the medians (ok false: no figure to judge).
type target func(r *results) (text string, met, ok bool)

// row is one line of the results table.
type row struct {
	scenario string
	metric   string // key in results
	what     string
	decimals int
	target   target
}

// atMost is a target on our median: at most limit.
func atMost(metric string, limit float64, text string) target {
	return func(r *results) (string, bool, bool) {
		v, ok := r.median(metric, ours)
		return text, ok && v <= limit, ok
	}
}

// ratioAtMost is a target on the ratio of our median to another module's.
func ratioAtMost(metric, other string, limit float64) target {
	return func(r *results) (string, bool, bool) {
		a, okA := r.median(metric, ours)
		b, okB := r.median(metric, other)
		text := fmt.Sprintf("ours/%s ≤ %s", short(other), trimFloat(limit))
		if !okA || !okB || b == 0 {
			return text, false, false
		}
		return text, a/b <= limit, true
	}
}

// diffAtMost is a target on our median minus another module's.
func diffAtMost(metric, other string, limit float64, unit string) target {
	return func(r *results) (string, bool, bool) {
		a, okA := r.median(metric, ours)
		b, okB := r.median(metric, other)
		text := fmt.Sprintf("ours − %s ≤ %s %s", short(other), trimFloat(limit), unit)
		return text, okA && okB && a-b <= limit, okA && okB
	}
}

func short(col string) string {
	if col == cpp {
		return "C++"
	}
	return col
}

func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}

func formatValue(v float64, decimals int) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.*f", decimals, v)
}

// table renders rows as Markdown: medians, ratios ours/theirs, targets.
func (r *results) table(rows []row) string {
	var b strings.Builder
	b.WriteString("| Scenario | Measure | ours | C++ CoolKey | OpenSC | SoftHSM | ours/C++ | ours/OpenSC | Target | Met |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, w := range rows {
		cells := []string{w.scenario, w.what}
		for _, col := range columns {
			if v, ok := r.median(w.metric, col); ok {
				cells = append(cells, formatValue(v, w.decimals))
			} else if _, ok := r.na[w.metric][col]; ok {
				cells = append(cells, "n/a")
			} else {
				cells = append(cells, "")
			}
		}
		for _, col := range []string{cpp, opensc} {
			a, okA := r.median(w.metric, ours)
			b, okB := r.median(w.metric, col)
			if okA && okB && b != 0 {
				cells = append(cells, fmt.Sprintf("%.2f", a/b))
			} else {
				cells = append(cells, "")
			}
		}
		if w.target != nil {
			text, met, ok := w.target(r)
			cells = append(cells, text)
			switch {
			case !ok:
				cells = append(cells, "?")
			case met:
				cells = append(cells, "yes")
			default:
				cells = append(cells, "**no**")
			}
		} else {
			cells = append(cells, "", "")
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// notes lists the reasons behind the n/a cells of the rows, once per
// scenario and module.
func (r *results) notes(rows []row) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, w := range rows {
		for _, col := range columns {
			if why, ok := r.na[w.metric][col]; ok {
				line := fmt.Sprintf("- %s, %s: %s\n", w.scenario, col, why)
				if !seen[line] {
					seen[line] = true
					b.WriteString(line)
				}
			}
		}
	}
	return b.String()
}
