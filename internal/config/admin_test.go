package config

import (
	"errors"
	"testing"
)

func TestAdminToken(t *testing.T) {
	t.Parallel()
	const tok = "0123456789abcdef0123456789abcdef"
	for _, tt := range []struct {
		name    string
		admin   string
		env     map[string]string
		errs    []string // want exactly these problems
		warns   []string
		wantTok string
	}{
		{name: "default loopback, no token", admin: ""},
		{name: "loopback IPv4, no token", admin: "admin: {listen: 127.0.0.2:9901}"},
		{name: "loopback IPv6, no token", admin: "admin: {listen: '[::1]:9901'}"},
		{name: "localhost, no token", admin: "admin: {listen: 'localhost:9901'}"},
		{name: "off, no token", admin: "admin: {listen: 'off'}"},
		{
			name:  "all interfaces, no token",
			admin: "admin: {listen: '0.0.0.0:9901'}",
			errs:  []string{`t.yaml:1:17: admin.listen "0.0.0.0:9901" is not a loopback address: set admin.token (for example token: ${WEIR_ADMIN_TOKEN}) so the admin API requires a bearer token, or listen on 127.0.0.1`},
		},
		{
			name:  "empty host, no token",
			admin: "admin:\n  listen: :9901",
			errs:  []string{`t.yaml:2:11: admin.listen ":9901" is not a loopback address: set admin.token (for example token: ${WEIR_ADMIN_TOKEN}) so the admin API requires a bearer token, or listen on 127.0.0.1`},
		},
		{
			name:  "host name, no token",
			admin: "admin: {listen: 'gw.internal:9901'}",
			errs:  []string{`t.yaml:1:17: admin.listen "gw.internal:9901" is not a loopback address: set admin.token (for example token: ${WEIR_ADMIN_TOKEN}) so the admin API requires a bearer token, or listen on 127.0.0.1`},
		},
		{name: "all interfaces with token", admin: "admin: {listen: '0.0.0.0:9901', token: " + tok + "}", wantTok: tok},
		{
			name:    "token from the environment",
			admin:   "admin: {listen: '0.0.0.0:9901', token: '${WEIR_ADMIN_TOKEN}'}",
			env:     map[string]string{"WEIR_ADMIN_TOKEN": tok},
			wantTok: tok,
		},
		{
			name:  "token from an empty variable",
			admin: "admin: {listen: '0.0.0.0:9901', token: '${WEIR_ADMIN_TOKEN:-}'}",
			errs:  []string{`t.yaml:1:17: admin.listen "0.0.0.0:9901" is not a loopback address: set admin.token (for example token: ${WEIR_ADMIN_TOKEN}) so the admin API requires a bearer token, or listen on 127.0.0.1`},
		},
		{
			name:  "token with a space",
			admin: "admin: {token: 'two words and more characters'}",
			errs:  []string{`t.yaml:1:16: admin.token must be visible ASCII characters without spaces (it is sent as Authorization: Bearer TOKEN)`},
		},
		{
			name:    "short token",
			admin:   "admin:\n  token: short",
			warns:   []string{`t.yaml:2:3: warning: admin.token is 5 characters: use 32 or more random characters`},
			wantTok: "short",
		},
		{
			name:  "bad address is reported once",
			admin: "admin: {listen: 'nope'}",
			errs:  []string{`t.yaml:1:17: admin.listen "nope" must be host:port, like 127.0.0.1:8080`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse("t.yaml", []byte(tt.admin+"\n"+oneAPI), envOf(tt.env))
			var got []string
			var ps Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					got = append(got, p.String())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !equalStrings(got, tt.errs) {
				t.Fatalf("problems:\ngot  %q\nwant %q", got, tt.errs)
			}
			if err != nil {
				return
			}
			var warns []string
			for _, w := range c.Warnings {
				warns = append(warns, w.String())
			}
			if !equalStrings(warns, tt.warns) {
				t.Errorf("warnings:\ngot  %q\nwant %q", warns, tt.warns)
			}
			if c.Admin.Token != tt.wantTok {
				t.Errorf("token: got %q, want %q", c.Admin.Token, tt.wantTok)
			}
			if verr := c.Validate(); verr != nil {
				t.Errorf("Validate of a loaded config: got %v, want nil", verr)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
