package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU
// times: 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcStat is what the suite reads of one process's /proc/PID/stat.
type ProcStat struct {
	PPID int
	// Ticks is user + system time of every thread of the process, live or
	// gone, in clock ticks.
	Ticks int64
}

// ParseStat reads a /proc/PID/stat line. The command name (field 2) may
// hold spaces and parentheses, so fields are counted from its last ')'.
func ParseStat(line []byte) (ProcStat, error) {
	i := bytes.LastIndexByte(line, ')')
	if i < 0 {
		return ProcStat{}, fmt.Errorf("stat %q: no command name", line)
	}
	// After ") ": state(3) ppid(4) ... utime(14) stime(15).
	f := strings.Fields(string(line[i+1:]))
	if len(f) < 13 {
		return ProcStat{}, fmt.Errorf("stat %q: %d fields after the name, want at least 13", line, len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return ProcStat{}, fmt.Errorf("stat %q: %w", line, err)
	}
	return ProcStat{PPID: ppid, Ticks: utime + stime}, nil
}

// procTree returns pid and its live descendants (nginx's workers), pid
// first.
func procTree(proc string, pid int) ([]int, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue // gone since the listing
		}
		st, err := ParseStat(b)
		if err != nil {
			return nil, err
		}
		children[st.PPID] = append(children[st.PPID], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// sumTree sums figure over pid and its live descendants: figure reads
// one of a process's /proc files (name) and returns its contribution. A
// descendant that ends meanwhile is skipped; pid itself must be there.
func sumTree(proc string, pid int, name string, figure func([]byte) (int64, error)) (int64, error) {
	pids, err := procTree(proc, pid)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, p := range pids {
		b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(p), name))
		if err != nil {
			if p == pid {
				return 0, err
			}
			continue
		}
		v, err := figure(b)
		if err != nil {
			return 0, fmt.Errorf("pid %d: %w", p, err)
		}
		total += v
	}
	return total, nil
}

// TreeCPU returns the CPU time, in seconds, that pid and its live
// descendants have used so far (user + system, all threads).
func TreeCPU(proc string, pid int) (float64, error) {
	ticks, err := sumTree(proc, pid, "stat", func(b []byte) (int64, error) {
		st, err := ParseStat(b)
		return st.Ticks, err
	})
	return float64(ticks) / clockTicks, err
}

// ResetPeakRSS resets the peak resident set size (VmHWM) of pid and its
// live descendants to their current RSS (writing 5 to clear_refs), so that
// the next TreePeakRSS covers one run only.
func ResetPeakRSS(proc string, pid int) error {
	pids, err := procTree(proc, pid)
	if err != nil {
		return err
	}
	for _, p := range pids {
		err := os.WriteFile(filepath.Join(proc, strconv.Itoa(p), "clear_refs"), []byte("5"), 0)
		if err != nil && (p == pid || !errors.Is(err, os.ErrNotExist)) {
			return fmt.Errorf("reset peak RSS of pid %d: %w", p, err)
		}
	}
	return nil
}

// TreePeakRSS returns the sum of VmHWM (peak resident memory) of pid and
// its live descendants, in bytes.
func TreePeakRSS(proc string, pid int) (int64, error) {
	return sumTree(proc, pid, "status", func(b []byte) (int64, error) {
		kib, err := ParseStatusField(b, "VmHWM")
		return kib << 10, err
	})
}

// ParseStatusField returns a "Name:   N kB" field of /proc/PID/status, in
// KiB.
func ParseStatusField(status []byte, name string) (int64, error) {
	for line := range bytes.Lines(status) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || string(k) != name {
			continue
		}
		f := strings.Fields(string(v))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("status field %s: %q, want \"N kB\"", name, bytes.TrimSpace(v))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("status field %s: %q, want \"N kB\"", name, bytes.TrimSpace(v))
		}
		return n, nil
	}
	return 0, fmt.Errorf("status has no %s field", name)
}

// tcpTimeWait is TIME_WAIT in /proc/net/tcp's st column.
const tcpTimeWait = "06"

// timeWaitLen is how long Linux holds a socket in TIME_WAIT
// (TCP_TIMEWAIT_LEN, fixed at build time).
const timeWaitLen = 60 * time.Second

// TimeWaitLeft returns, for each TIME_WAIT socket in a /proc/net/tcp
// listing with port as its local or remote port, how long its TIME_WAIT
// timer has left to run.
func TimeWaitLeft(r io.Reader, port int) ([]time.Duration, error) {
	hexPort := fmt.Sprintf(":%04X", port)
	var out []time.Duration
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	first := true
	for sc.Scan() {
		if first { // the column titles
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			return nil, fmt.Errorf("/proc/net/tcp line %q: want at least 6 fields", sc.Text())
		}
		local, remote, st, timer := f[1], f[2], f[3], f[5]
		if st != tcpTimeWait || !strings.HasSuffix(local, hexPort) && !strings.HasSuffix(remote, hexPort) {
			continue
		}
		// tr:tm->when, the timer's kind and the clock ticks left (hex).
		_, when, ok := strings.Cut(timer, ":")
		ticks, err := strconv.ParseInt(when, 16, 64)
		if !ok || err != nil || ticks < 0 {
			return nil, fmt.Errorf("/proc/net/tcp line %q: timer %q, want TT:HEXTICKS", sc.Text(), timer)
		}
		out = append(out, time.Duration(ticks)*time.Second/clockTicks)
	}
	return out, sc.Err()
}

// timeWaitSince counts the TIME_WAIT sockets with an end on port that
// entered TIME_WAIT within the last elapsed (their timers have more than
// timeWaitLen - elapsed left), from the system's IPv4 TCP table (every
// server in the suite is on 127.0.0.1). Sockets that entered and left
// TIME_WAIT within elapsed are not there to count: on loopback, Linux
// reuses a TIME_WAIT port for a new connection after 1 s.
func timeWaitSince(proc string, port int, elapsed time.Duration) (int, error) {
	f, err := os.Open(filepath.Join(proc, "net", "tcp"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	left, err := TimeWaitLeft(f, port)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range left {
		if l >= timeWaitLen-elapsed {
			n++
		}
	}
	return n, nil
}
