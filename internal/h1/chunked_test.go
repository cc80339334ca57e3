package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestChunkedWriter(t *testing.T) {
	tests := []struct {
		name    string
		chunks  []string
		trailer http.Header
		want    string
	}{
		{name: "no chunks", want: "0\r\n\r\n"},
		{name: "empty writes are skipped", chunks: []string{"", "a", ""}, want: "1\r\na\r\n0\r\n\r\n"},
		{
			name:   "hex sizes",
			chunks: []string{"hello", strings.Repeat("x", 26), strings.Repeat("y", 4096)},
			want:   "5\r\nhello\r\n1a\r\n" + strings.Repeat("x", 26) + "\r\n1000\r\n" + strings.Repeat("y", 4096) + "\r\n0\r\n\r\n",
		},
		{
			name:    "trailer",
			chunks:  []string{"abc"},
			trailer: http.Header{"X-Checksum": {"900150983cd24fb0"}},
			want:    "3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\n\r\n",
		},
		{
			name:    "trailer with several values",
			trailer: http.Header{"X-A": {"1", "2"}},
			want:    "0\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			bw := bufio.NewWriterSize(&out, 64)
			var cw ChunkedWriter
			cw.Reset(bw)
			for _, c := range tt.chunks {
				if n, err := cw.Write([]byte(c)); n != len(c) || err != nil {
					t.Fatalf("Write: got %d, %v, want %d, nil", n, err, len(c))
				}
			}
			if err := cw.Close(tt.trailer); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
			// Our own reader reads it back.
			r := &Response{}
			head := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			if err := ReadResponse(bufio.NewReader(strings.NewReader(head+out.String())), "GET", r); err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(&r.Body)
			if want := strings.Join(tt.chunks, ""); string(body) != want || err != nil {
				t.Errorf("read back: got %q, %v, want %q, nil", body, err, want)
			}
			if !equalHeader(r.Trailer, tt.trailer) {
				t.Errorf("read back trailer: got %v, want %v", r.Trailer, tt.trailer)
			}
		})
	}
}

func TestChunkedWriterClosed(t *testing.T) {
	var cw ChunkedWriter
	if _, err := cw.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("zero value Write: got %v, want ErrClosed", err)
	}
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	cw.Reset(bw)
	if _, err := cw.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []http.Header{
		{"X-Bad": {"a\r\nInjected: 1"}},
		{"X-Bad": {"a\x00"}},
		{"Bad Name": {"v"}},
		{"": {"v"}},
	} {
		if err := cw.Close(bad); !errors.Is(err, ErrInvalidField) {
			t.Errorf("Close(%q): got %v, want ErrInvalidField", bad, err)
		}
	}
	bw.Flush()
	if got := out.String(); got != "3\r\nabc\r\n" {
		t.Errorf("after invalid trailers: got %q, want nothing written", got)
	}
	if err := cw.Close(nil); err != nil {
		t.Fatalf("Close(nil): %v", err)
	}
	if _, err := cw.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: got %v, want ErrClosed", err)
	}
	if err := cw.Close(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: got %v, want ErrClosed", err)
	}
	bw.Flush()
	if got := out.String(); got != "3\r\nabc\r\n0\r\n\r\n" {
		t.Errorf("got %q, want %q", got, "3\r\nabc\r\n0\r\n\r\n")
	}
}

// TestChunkedWriterError checks that a failing connection surfaces.
func TestChunkedWriterError(t *testing.T) {
	bw := bufio.NewWriterSize(&errWriter{limit: 10}, 16)
	var cw ChunkedWriter
	cw.Reset(bw)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = cw.Write([]byte("0123456789"))
	}
	if !errors.Is(err, errSink) {
		t.Fatalf("Write: got %v, want errSink", err)
	}
	if err := cw.Close(nil); !errors.Is(err, errSink) {
		t.Errorf("Close: got %v, want errSink", err)
	}
}

func TestChunkedWriterAllocs(t *testing.T) {
	bw := bufio.NewWriter(io.Discard)
	cw := new(ChunkedWriter)
	p := []byte("some chunk of data")
	allocs := testing.AllocsPerRun(100, func() {
		cw.Reset(bw)
		cw.Write(p)
		cw.Write(p)
		cw.Close(nil)
	})
	if allocs != 0 {
		t.Errorf("got %v allocs per body, want 0", allocs)
	}
}

func TestAppendHeaderField(t *testing.T) {
	tests := []struct {
		name, field, value string
		want               string
		ok                 bool
	}{
		{name: "plain", field: "Content-Type", value: "text/plain", want: "Content-Type: text/plain\r\n", ok: true},
		{name: "empty value", field: "X-Empty", value: "", want: "X-Empty: \r\n", ok: true},
		{name: "tab and obs-text", field: "X-A", value: "a\tcaf\xc3\xa9", want: "X-A: a\tcaf\xc3\xa9\r\n", ok: true},
		{name: "token punctuation", field: "X-!#$%&'*+.^_`|~", value: "v", want: "X-!#$%&'*+.^_`|~: v\r\n", ok: true},
		{name: "CR in value", field: "X-A", value: "a\rb"},
		{name: "LF in value", field: "X-A", value: "a\nInjected: 1"},
		{name: "NUL in value", field: "X-A", value: "a\x00"},
		{name: "empty name", field: "", value: "v"},
		{name: "space in name", field: "X A", value: "v"},
		{name: "colon in name", field: "X:A", value: "v"},
		{name: "CRLF in name", field: "X\r\nA", value: "v"},
		{name: "non-ASCII name", field: "X-\xc3\xa9", value: "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("GET / HTTP/1.1\r\n")
			got, ok := AppendHeaderField(prefix, tt.field, tt.value)
			if ok != tt.ok || string(got) != string(prefix)+tt.want {
				t.Errorf("got %q, %v, want %q, %v", got, ok, string(prefix)+tt.want, tt.ok)
			}
		})
	}
}
