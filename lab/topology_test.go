package lab

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestStalePID(t *testing.T) {
	self := os.Getpid()
	for _, tt := range []struct {
		name    string
		ns      string
		wantPID int
		wantOK  bool
	}{
		{"lab namespace", "weirlab4242-gw", 4242, true},
		{"this process's", nsPrefix + strconv.Itoa(self) + "-gw", 0, false},
		{"someone else's namespace", "docker-1234-gw", 0, false},
		{"no role", "weirlab4242", 0, false},
		{"no pid", "weirlab-gw", 0, false},
		{"init", "weirlab1-gw", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pid, ok := stalePID(tt.ns)
			if pid != tt.wantPID || ok != tt.wantOK {
				t.Errorf("got %d %v, want %d %v", pid, ok, tt.wantPID, tt.wantOK)
			}
		})
	}
}

func TestNATRules(t *testing.T) {
	for _, tt := range []struct {
		name    string
		spec    netSpec
		want    []string
		wantNot []string
	}{
		{"model", netSpec{model: true, ports: 64}, []string{
			"-A POSTROUTING -o b1 -j MASQUERADE",
			"--connlimit-above 64 --connlimit-mask 32 --connlimit-daddr",
			"--hashlimit-mode dstip,dstport --hashlimit-upto 960/hour --hashlimit-burst 64 --hashlimit-htable-expire 240000",
			"--comment " + ruleBudget + " -j DROP",
		}, nil},
		{"model, 8 ports", netSpec{model: true, ports: 8}, []string{"--hashlimit-upto 120/hour --hashlimit-burst 8"}, nil},
		{"plain NAT", netSpec{ports: 64}, []string{"-A POSTROUTING -o b1 -j MASQUERADE", "--comment " + ruleAccept + " -j ACCEPT"},
			[]string{"connlimit", "hashlimit", "DROP"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := natRules(tt.spec)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("rules lack %q:\n%s", w, got)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("rules have %q:\n%s", w, got)
				}
			}
			if n := strings.Count(got, "COMMIT"); n != 2 {
				t.Errorf("got %d COMMITs, want 2", n)
			}
		})
	}
}

func TestWriteSysctlsRefuses(t *testing.T) {
	for _, kv := range []string{"net.ipv4.ip_forward", "=1", "../../etc/passwd=x", "net/ipv4/ip_forward=1"} {
		t.Run(kv, func(t *testing.T) {
			if err := WriteSysctls([]string{kv}); err == nil {
				t.Errorf("got nil error for %q, want one", kv)
			}
		})
	}
}
