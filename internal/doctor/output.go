package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteText writes r for a person: a header line
//
//	weir doctor: SOURCE (pools N[, log records N[, other lines skipped N]]): N findings
//
// then each finding as
//
//	[SEVERITY] RULE SUBJECT (SOURCE)
//	  summary
//	  evidence: name=value[unit] ...
//	  fix: mitigation
//
// separated by blank lines, most severe first.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "weir doctor: %s (pools %d", r.Source, r.Pools)
	if r.LogRecords > 0 || r.LogSkipped > 0 {
		fmt.Fprintf(&b, ", log records %d", r.LogRecords)
		if r.LogSkipped > 0 {
			fmt.Fprintf(&b, ", other lines skipped %d", r.LogSkipped)
		}
	}
	b.WriteByte(')')
	switch n := len(r.Findings); n {
	case 0:
		b.WriteString(": no findings\n")
	case 1:
		b.WriteString(": 1 finding\n")
	default:
		fmt.Fprintf(&b, ": %d findings\n", n)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n[%s] %s %s (%s)\n  %s\n  evidence:", strings.ToUpper(f.Severity.String()), f.Rule, f.Subject, f.Source, f.Summary)
		for _, e := range f.Evidence {
			fmt.Fprintf(&b, " %s=%s%s", e.Name, FormatValue(e.Value), e.Unit)
		}
		fmt.Fprintf(&b, "\n  fix: %s\n", f.Mitigation)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes r as one indented JSON object (see Report and Finding
// for the fields).
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// FormatValue renders a figure: integers as integers, others with up to
// three decimals.
func FormatValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}
