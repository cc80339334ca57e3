package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// benchHead is a typical API response head with 8 fields.
const benchHead = "HTTP/1.1 200 OK\r\n" +
	"Date: Sat, 22 Nov 2025 10:54:00 GMT\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"%s" +
	"Connection: keep-alive\r\n" +
	"Cache-Control: no-cache, no-store\r\n" +
	"Etag: \"33a64df551425fcc55e4d42a148795d9f25f89d4\"\r\n" +
	"X-Request-Id: 4bf92f3577b34da6a3ce929d0e0e4736\r\n" +
	"Server: nginx/1.25.3\r\n" +
	"\r\n"

// benchResponses are a 1 KiB Content-Length response and the same body
// chunked in two.
func benchResponses() map[string][]byte {
	body := strings.Repeat("b", 1024)
	return map[string][]byte{
		"content-length": []byte(strings.Replace(benchHead, "%s", "Content-Length: 1024\r\n", 1) + body),
		"chunked": []byte(strings.Replace(benchHead, "%s", "Transfer-Encoding: chunked\r\n", 1) +
			"200\r\n" + body[:512] + "\r\n200\r\n" + body[512:] + "\r\n0\r\n\r\n"),
	}
}

// BenchmarkReadResponse reads the head and the body as the forwarder does:
// one reused Response, Header map and copy buffer per connection.
func BenchmarkReadResponse(b *testing.B) {
	for _, name := range []string{"content-length", "chunked"} {
		in := benchResponses()[name]
		b.Run(name, func(b *testing.B) {
			rd := bytes.NewReader(in)
			br := bufio.NewReader(rd)
			r := &Response{Header: http.Header{}}
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(in)
				br.Reset(rd)
				clear(r.Header)
				if err := ReadResponse(br, "GET", r); err != nil {
					b.Fatal(err)
				}
				for {
					_, err := r.Body.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkNetHTTPReadResponse is the same work with net/http.
func BenchmarkNetHTTPReadResponse(b *testing.B) {
	for _, name := range []string{"content-length", "chunked"} {
		in := benchResponses()[name]
		b.Run(name, func(b *testing.B) {
			rd := bytes.NewReader(in)
			br := bufio.NewReader(rd)
			req := &http.Request{Method: "GET"}
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(in)
				br.Reset(rd)
				resp, err := http.ReadResponse(br, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := resp.Body.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				resp.Body.Close()
			}
		})
	}
}

func BenchmarkChunkedWriter(b *testing.B) {
	bw := bufio.NewWriterSize(io.Discard, 32<<10)
	cw := new(ChunkedWriter)
	p := make([]byte, 1024)
	b.SetBytes(int64(4 * len(p)))
	b.ReportAllocs()
	for b.Loop() {
		cw.Reset(bw)
		for range 4 {
			cw.Write(p)
		}
		cw.Close(nil)
	}
}

func BenchmarkAppendHeaderField(b *testing.B) {
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = AppendHeaderField(dst[:0], "Content-Type", "application/json; charset=utf-8")
	}
}

// TestReadResponseAllocs pins the allocation budget the package exists
// for: one string for the head and one []string for its values, none for
// the body, none for a head without fields and a standard reason.
func TestReadResponseAllocs(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want float64
	}{
		{name: "content-length", in: benchResponses()["content-length"], want: 2},
		{name: "chunked", in: benchResponses()["chunked"], want: 2},
		{name: "no fields, standard reason", in: []byte("HTTP/1.1 204 No Content\r\n\r\n"), want: 0},
		{name: "no fields, custom reason", in: []byte("HTTP/1.1 204 Nothing\r\n\r\n"), want: 1},
		{name: "chunked with trailers", in: []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n"), want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := bytes.NewReader(tt.in)
			br := bufio.NewReader(rd)
			r := &Response{Header: http.Header{}, Trailer: http.Header{}}
			buf := make([]byte, 4096)
			run := func() {
				rd.Reset(tt.in)
				br.Reset(rd)
				clear(r.Header)
				if err := ReadResponse(br, "GET", r); err != nil {
					t.Fatal(err)
				}
				for {
					if _, err := r.Body.Read(buf); err == io.EOF {
						break
					} else if err != nil {
						t.Fatal(err)
					}
				}
			}
			run() // grow the scratch buffers and maps
			if got := testing.AllocsPerRun(100, run); got != tt.want {
				t.Errorf("got %v allocs, want %v", got, tt.want)
			}
		})
	}
}
