package bench

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Machine is where the suite ran.
type Machine struct {
	CPU    string `json:"cpu"`
	Cores  int    `json:"cores"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	// LoadBefore and LoadAfter are /proc/loadavg's 1, 5 and 15 minute
	// figures when the suite started and ended: other work on the machine
	// shows there.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
	// Revision is the weir source the binary was built from, when known.
	Revision string `json:"revision,omitempty"`
}

// readMachine reads the CPU model, core count and kernel from proc.
func readMachine(proc string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadBefore: loadAverage(proc), CPU: "unknown", Kernel: "unknown"}
	if b, err := os.ReadFile(filepath.Join(proc, "cpuinfo")); err == nil {
		m.CPU = CPUModel(b)
	}
	if b, err := os.ReadFile(filepath.Join(proc, "sys", "kernel", "osrelease")); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// CPUModel is the first "model name" of a /proc/cpuinfo, or "unknown".
func CPUModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage(proc string) string {
	b, err := os.ReadFile(filepath.Join(proc, "loadavg"))
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
