package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    ProcStat
		wantErr bool
	}{
		{name: "plain", line: "1234 (nginx) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 3 4 20 0 1 0 100 1000 200",
			want: ProcStat{PPID: 1, Ticks: 325}},
		{name: "name with spaces and parens", line: "77 (a) b (c)) R 42 77 77 0 -1 0 0 0 0 0 7 8 0 0 20 0 1 0 1 1 1",
			want: ProcStat{PPID: 42, Ticks: 15}},
		{name: "no name", line: "77 a R 42", wantErr: true},
		{name: "too short", line: "77 (a) R 42 1 2", wantErr: true},
		{name: "not a number", line: "77 (a) R x 77 77 0 -1 0 0 0 0 0 7 8", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (nginx) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 3 4 20 0 1 0 100 1000 200"))
	f.Add([]byte("1 ()) ) S"))
	f.Fuzz(func(t *testing.T, line []byte) {
		st, err := ParseStat(line)
		if err == nil && st.Ticks < 0 && !strings.Contains(string(line), "-") {
			t.Fatalf("negative ticks %d from %q", st.Ticks, line)
		}
	})
}

func TestParseStatusField(t *testing.T) {
	status := []byte("Name:\tnginx\nVmPeak:\t  20000 kB\nVmHWM:\t   18432 kB\nVmRSS:\t 9000 kB\n")
	tests := []struct {
		name, field string
		want        int64
		wantErr     bool
	}{
		{name: "VmHWM", field: "VmHWM", want: 18432},
		{name: "VmRSS", field: "VmRSS", want: 9000},
		{name: "missing", field: "VmSwap", wantErr: true},
		{name: "not kB", field: "Name", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatusField(status, tt.field)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzParseStatusField(f *testing.F) {
	f.Add([]byte("VmHWM:\t   18432 kB\n"))
	f.Fuzz(func(t *testing.T, status []byte) {
		if n, err := ParseStatusField(status, "VmHWM"); err == nil && n < 0 {
			t.Fatalf("negative size %d", n)
		}
	})
}

const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   2: 0100007F:1F90 0100007F:D432 06 00000000:00000000 03:00000BB8 00000000     0        0 0 3 0000000000000000
   3: 0100007F:D433 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:D434 0100007F:1F91 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
`

func TestTimeWaitLeft(t *testing.T) {
	got, err := TimeWaitLeft(strings.NewReader(procNetTCP), 0x1F90)
	if err != nil {
		t.Fatal(err)
	}
	// 0x1770 = 6000 ticks, 0x0BB8 = 3000.
	want := []time.Duration{60 * time.Second, 30 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"title\nshort line\n", "title\n 1: 0100007F:1F90 0100007F:D432 06 0:0 03:zz 0\n"} {
		if _, err := TimeWaitLeft(strings.NewReader(bad), 0x1F90); err == nil {
			t.Errorf("TimeWaitLeft(%q): got no error, want one", bad)
		}
	}
}

func FuzzTimeWaitLeft(f *testing.F) {
	f.Add(procNetTCP, 8080)
	f.Fuzz(func(t *testing.T, table string, port int) {
		left, err := TimeWaitLeft(strings.NewReader(table), port)
		if err != nil {
			return
		}
		if len(left) > strings.Count(table, "\n")+1 {
			t.Fatalf("%d sockets from %d lines", len(left), strings.Count(table, "\n")+1)
		}
		for _, l := range left {
			if l < 0 {
				t.Fatalf("negative time left %v", l)
			}
		}
	})
}

// TestTimeWaitSince makes a TIME_WAIT socket on loopback (the client
// closes first) and finds it: entered within the last few seconds, but not
// within none.
func TestTimeWaitSince(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // the active close: TIME_WAIT on the client's side
	s.Read(make([]byte, 1))
	s.Close()
	var n int
	for deadline := time.Now().Add(5 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n, err = timeWaitSince("/proc", port, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n != 1 {
		t.Errorf("TIME_WAIT sockets on port %d in the last 10s: got %d, want 1", port, n)
	}
	if n, err := timeWaitSince("/proc", port, -time.Second); err != nil || n != 0 {
		t.Errorf("TIME_WAIT sockets that entered it in the future: got %d, %v; want 0", n, err)
	}
}

// TestProcessTree reads a real process tree: a shell and its sleeping
// child, as nginx's master and worker.
func TestProcessTree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait()
	}()
	pid := cmd.Process.Pid
	var pids []int
	for deadline := time.Now().Add(10 * time.Second); len(pids) < 2; time.Sleep(20 * time.Millisecond) {
		var err error
		if pids, err = procTree("/proc", pid); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("got process tree %v, want the shell and its sleep", pids)
		}
	}
	if pids[0] != pid {
		t.Errorf("got tree %v, want it to start with %d", pids, pid)
	}
	cpu, err := TreeCPU("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 {
		t.Errorf("CPU of a shell that counted to 20000: got %v s, want > 0", cpu)
	}
	if err := ResetPeakRSS("/proc", pid); err != nil {
		t.Fatal(err)
	}
	rss, err := TreePeakRSS("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 {
		t.Errorf("peak RSS of two processes: got %d, want > 0", rss)
	}
	if _, err := TreeCPU("/proc", 1<<30); !os.IsNotExist(err) {
		t.Errorf("a missing process: got %v, want a not-exist error", err)
	}
}

func TestPorts(t *testing.T) {
	proc := t.TempDir()
	dir := filepath.Join(proc, "sys", "net", "ipv4")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "ip_local_port_range"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("32768\t60999\n")
	p, err := newPorts(proc)
	if err != nil {
		t.Fatal(err)
	}
	// A port taken by someone else is passed over.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.next))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := p.next
	seen := map[int]bool{}
	for range 20 {
		port, err := p.pick()
		if err != nil {
			t.Fatal(err)
		}
		if port == taken || seen[port] || port < 16384 || port >= 32768 {
			t.Fatalf("got port %d (taken %d, seen %v), want a new free one in 16384..32767", port, taken, seen)
		}
		seen[port] = true
	}
	for _, bad := range []string{"", "1000 2000", "x 60999"} {
		write(bad)
		if _, err := newPorts(proc); err == nil {
			t.Errorf("range %q: got no error, want one", bad)
		}
	}
}
