package lab

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// conntrackPath is the conntrack table of the reading process's namespace.
const conntrackPath = "/proc/net/nf_conntrack"

// CountConntrack counts the TCP entries of a /proc/net/nf_conntrack dump
// whose original destination is in dst: the NAT mappings toward the
// backends, whatever their state (a TIME_WAIT entry still holds its port
// on a cloud NAT). Malformed lines are skipped.
func CountConntrack(dump []byte, dst netip.Prefix) int {
	n := 0
	for len(dump) > 0 {
		line := dump
		if i := bytes.IndexByte(dump, '\n'); i >= 0 {
			line, dump = dump[:i], dump[i+1:]
		} else {
			dump = nil
		}
		if conntrackDst(line, dst) {
			n++
		}
	}
	return n
}

// conntrackDst reports whether line is a TCP entry whose first dst= (the
// original direction's) is in dst. It walks the fields without allocating:
// the sampler reads the whole table ten times a second.
func conntrackDst(line []byte, dst netip.Prefix) bool {
	// "ipv4 2 tcp 6 117 TIME_WAIT src=... dst=10.200.3.2 sport=..."
	for field := 0; ; field++ {
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 {
			return false
		}
		end := bytes.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		tok := line[:end]
		line = line[end:]
		switch {
		case field < 2:
		case field == 2:
			if string(tok) != "tcp" {
				return false
			}
		default:
			if v, ok := bytes.CutPrefix(tok, []byte("dst=")); ok {
				a, err := netip.ParseAddr(string(v))
				return err == nil && dst.Contains(a)
			}
		}
	}
}

// SampleResult is what a conntrack sampler saw.
type SampleResult struct {
	Peak    int `json:"peak"`    // the most entries at once
	Last    int `json:"last"`    // entries at the last sample
	Samples int `json:"samples"` // samples taken
	Errors  int `json:"errors"`  // reads that failed
}

// SampleConntrack reads the conntrack table every interval until ctx is
// done and returns the peak count of entries toward dst.
func SampleConntrack(ctx context.Context, dst netip.Prefix, every time.Duration) SampleResult {
	var r SampleResult
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		dump, err := os.ReadFile(conntrackPath)
		if err != nil {
			r.Errors++
		} else {
			r.Last = CountConntrack(dump, dst)
			r.Peak = max(r.Peak, r.Last)
			r.Samples++
		}
		select {
		case <-ctx.Done():
			return r
		case <-t.C:
		}
	}
}

// ParseCounters returns the packet counters of `iptables-save -c` rules by
// their comment ("[12:720] -A FORWARD ... --comment weirlab-syn ...").
// Rules without a comment or a counter are left out; counters of rules
// that share a comment add up.
func ParseCounters(save string) map[string]uint64 {
	out := make(map[string]uint64)
	for line := range strings.SplitSeq(save, "\n") {
		if !strings.HasPrefix(line, "[") {
			continue
		}
		end := strings.IndexByte(line, ']')
		if end < 0 {
			continue
		}
		pkts, _, ok := strings.Cut(line[1:end], ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(pkts, 10, 64)
		if err != nil {
			continue
		}
		_, c, ok := strings.Cut(line[end:], "--comment ")
		if !ok {
			continue
		}
		var name string
		if strings.HasPrefix(c, `"`) {
			name, _, ok = strings.Cut(c[1:], `"`)
			if !ok {
				continue
			}
		} else {
			name, _, _ = strings.Cut(c, " ")
		}
		if name != "" {
			out[name] += n
		}
	}
	return out
}
