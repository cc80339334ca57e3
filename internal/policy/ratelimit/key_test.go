package ratelimit

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzQueryValue: the key's query lookup agrees with net/url on every
// query net/url accepts, so no spelling of a parameter escapes its counter.
func FuzzQueryValue(f *testing.F) {
	for _, q := range []string{"key=v", "a=1&key=%76", "api%5Fkey=v", "key=a+b&key=c", "=&&key", "key=%zz"} {
		f.Add(q, "key")
	}
	f.Fuzz(func(t *testing.T, q, name string) {
		got := queryValue(q, name)
		if strings.Contains(q, ";") {
			return
		}
		vals, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		if want := vals.Get(name); got != want {
			t.Errorf("queryValue(%q, %q) = %q, want %q", q, name, got, want)
		}
	})
}
