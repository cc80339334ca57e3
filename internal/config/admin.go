package config

import (
	"net"
	"net/netip"
	"strings"
)

// minAdminToken is the token length below which weir warns: a bearer
// token is a password that cannot be rate-limited by a human's patience.
const minAdminToken = 16

// adminToken checks the admin listener's token: required when the listener
// is not loopback (anyone who can reach it could reload the config and read
// the backend topology), and made of characters a bearer header can carry.
func (k *checker) adminToken(a Admin) {
	if a.Token != "" {
		if !validAdminToken(a.Token) {
			k.errorf("admin/token", "admin.token must be visible ASCII characters without spaces (it is sent as Authorization: Bearer TOKEN)")
		} else if len(a.Token) < minAdminToken {
			k.warnf("admin/token", "admin.token is %d characters: use %d or more random characters", len(a.Token), 2*minAdminToken)
		}
	}
	host, port, err := net.SplitHostPort(a.Listen)
	if err != nil || !validPort(port, true) || host != "" && !validHostOrIP(host) {
		return // reported as a bad address
	}
	if a.Token == "" && !loopbackHost(host) {
		k.errorf("admin/listen", "admin.listen %q is not a loopback address: set admin.token (for example token: ${WEIR_ADMIN_TOKEN}) so the admin API requires a bearer token, or listen on 127.0.0.1", a.Listen)
	}
}

// loopbackHost reports whether a listener host binds loopback only: a
// loopback IP or "localhost". An empty host is every interface.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// validAdminToken reports whether t is visible ASCII without spaces.
func validAdminToken(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}
