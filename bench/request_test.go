package bench

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Request
		// status is the refusal's status (0: accepted); next, when set, is
		// the request line after the body, proving the body was consumed.
		status int
		err    error
		next   bool
	}{
		{name: "default size", in: "GET /bench HTTP/1.1\r\nHost: x\r\n\r\n", want: Request{Size: DefaultSize, KeepAlive: true}},
		{name: "query", in: "GET /bench?size=10&delay=20&max_age=60&other=x HTTP/1.1\r\n\r\n",
			want: Request{Size: 10, Delay: 20 * time.Millisecond, MaxAge: 60, KeepAlive: true}},
		{name: "close asked by query", in: "GET /b?close=1 HTTP/1.1\r\n\r\n", want: Request{Size: DefaultSize}},
		{name: "Connection: close", in: "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", want: Request{Size: DefaultSize}},
		{name: "HTTP/1.0 closes", in: "GET / HTTP/1.0\r\n\r\n", want: Request{Size: DefaultSize}},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", want: Request{Size: DefaultSize, KeepAlive: true}},
		{name: "Content-Length body", in: "POST /?size=1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET", want: Request{Size: 1, KeepAlive: true}, next: true},
		{name: "same Content-Length twice", in: "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhiGET", want: Request{Size: DefaultSize, KeepAlive: true}, next: true},
		{name: "chunked body", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET", want: Request{Size: DefaultSize, KeepAlive: true}, next: true},
		{name: "both framings", in: "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400},
		{name: "differing Content-Lengths", in: "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", status: 400},
		{name: "signed Content-Length", in: "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", status: 400},
		{name: "gzip coding", in: "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", status: 501},
		{name: "bad chunk size", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", status: 400},
		{name: "chunk longer than its size", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", status: 400},
		{name: "bare LF", in: "GET / HTTP/1.1\nHost: x\n\n", status: 400},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", status: 400},
		{name: "absolute form", in: "GET http://x/ HTTP/1.1\r\n\r\n", status: 400},
		{name: "HTTP/2 preface", in: "PRI * HTTP/2.0\r\n\r\n", status: 400},
		{name: "HTTP/1.2", in: "GET / HTTP/1.2\r\n\r\n", status: 505},
		{name: "size too big", in: "GET /?size=999999999999 HTTP/1.1\r\n\r\n", status: 400},
		{name: "negative delay", in: "GET /?delay=-1 HTTP/1.1\r\n\r\n", status: 400},
		{name: "delay too long", in: "GET /?delay=10001 HTTP/1.1\r\n\r\n", status: 400},
		{name: "head too large", in: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", status: 431},
		{name: "many headers", in: "GET / HTTP/1.1\r\n" + strings.Repeat("X-A: "+strings.Repeat("b", 1000)+"\r\n", 70) + "\r\n", status: 431},
		{name: "nothing", in: "", err: io.EOF},
		{name: "cut in the head", in: "GET / HTTP/1.1\r\nHost", err: io.ErrUnexpectedEOF},
		{name: "cut in the body", in: "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", err: io.ErrUnexpectedEOF},
		{name: "cut in a chunk", in: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 16<<10)
			got, err := ReadRequest(br)
			var rerr *RequestError
			switch {
			case tt.status != 0:
				if !errors.As(err, &rerr) || rerr.Status != tt.status {
					t.Fatalf("got error %v, want a RequestError with status %d", err, tt.status)
				}
				return
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("got error %v, want %v", err, tt.err)
				}
				return
			case err != nil:
				t.Fatalf("got error %v, want %+v", err, tt.want)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if tt.next {
				rest, _ := io.ReadAll(br)
				if string(rest) != "GET" {
					t.Errorf("after the request, got %q left, want %q", rest, "GET")
				}
			}
		})
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add("GET /bench?size=10&delay=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	f.Add("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	f.Add("POST / HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc")
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReaderSize(strings.NewReader(in), 4096)
		for range 4 {
			req, err := ReadRequest(br)
			if err != nil {
				var rerr *RequestError
				if errors.As(err, &rerr) && (rerr.Status < 400 || rerr.Status > 599) {
					t.Fatalf("refusal with status %d", rerr.Status)
				}
				return
			}
			if req.Size < 0 || req.Size > MaxSize || req.Delay < 0 || req.Delay > MaxDelay || req.MaxAge < 0 {
				t.Fatalf("accepted out-of-range request %+v", req)
			}
		}
	})
}
