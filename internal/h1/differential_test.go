package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// corpus holds valid responses, each with the request method, that net/http
// and h1 must read alike.
var corpus = []struct {
	name, method, in string
}{
	{"content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\nDate: Sat, 22 Nov 2025 10:54:00 GMT\r\n\r\n{\"ok\": true}\n"},
	{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"},
	{"chunked trailers", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, X-Count\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\nx-count: 3\r\n\r\n"},
	{"close-delimited", "GET", "HTTP/1.1 200 OK\r\nServer: old\r\n\r\nthe rest of the stream"},
	{"HTTP/1.0 close-delimited", "GET", "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html></html>"},
	{"HTTP/1.0 keep-alive", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 4\r\n\r\nbody"},
	{"Connection: close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbody"},
	{"HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n"},
	{"204", "GET", "HTTP/1.1 204 No Content\r\nX-Id: 1\r\n\r\n"},
	{"304", "GET", "HTTP/1.1 304 Not Modified\r\nEtag: \"abc\"\r\nCache-Control: max-age=60\r\n\r\n"},
	{"100", "POST", "HTTP/1.1 100 Continue\r\n\r\n"},
	{"redirect", "GET", "HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n"},
	{"404 custom reason", "GET", "HTTP/1.1 404 Nothing Here\r\nContent-Length: 9\r\n\r\nnot found"},
	{"no reason", "GET", "HTTP/1.1 500\r\nContent-Length: 1\r\n\r\nx"},
	{"many fields", "GET", "HTTP/1.1 200 OK\r\nset-cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\nvary: Accept-Encoding\r\nVary: Origin\r\nx-custom-thing: v\r\nAccess-Control-Allow-Origin: *\r\nStrict-Transport-Security: max-age=63072000\r\nContent-Length: 2\r\n\r\nok"},
	{"repeated identical Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"},
	{"bare LF", "GET", "HTTP/1.1 200 OK\nContent-Length: 2\nX-A:   spaced out   \n\nok"},
	{"obs-fold", "GET", "HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\n\tthree\r\nContent-Length: 0\r\n\r\n"},
	{"empty value", "GET", "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n"},
	{"obs-text", "GET", "HTTP/1.1 200 OK\r\nX-Name: Zo\xc3\xab\r\nContent-Length: 0\r\n\r\n"},
	{"big chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"2000\r\n" + strings.Repeat("a", 0x2000) + "\r\n1\r\nb\r\n0\r\n\r\n"},
	{"big content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + strings.Repeat("z", 20000)},
}

// goResult reads in with net/http.
func goResult(in, method string) (*http.Response, []byte, error, error) {
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(in)), &http.Request{Method: method})
	if err != nil {
		return nil, nil, err, nil
	}
	body, berr := io.ReadAll(resp.Body)
	return resp, body, nil, berr
}

// normalize undoes what net/http does to a header beyond parsing it:
// it removes Transfer-Encoding, Connection when it holds close (HTTP/1.1),
// and Content-Length and Trailer of a chunked message, and folds identical
// Content-Length fields into one.
func normalize(h http.Header, minor int, chunked bool) http.Header {
	h = maps.Clone(h)
	delete(h, "Transfer-Encoding")
	if minor == 1 {
		for _, v := range h["Connection"] {
			for tok := range strings.SplitSeq(v, ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "close") {
					delete(h, "Connection")
				}
			}
		}
	}
	if chunked {
		delete(h, "Content-Length")
		delete(h, "Trailer")
	}
	if cl := h["Content-Length"]; len(cl) > 1 {
		h["Content-Length"] = cl[:1]
	}
	return h
}

func TestDifferentialNetHTTP(t *testing.T) {
	for _, tt := range corpus {
		t.Run(tt.name, func(t *testing.T) {
			gresp, gbody, gerr, gberr := goResult(tt.in, tt.method)
			if gerr != nil || gberr != nil {
				t.Fatalf("net/http: %v, %v", gerr, gberr)
			}
			r := &Response{Header: http.Header{}}
			if err := ReadResponse(bufio.NewReader(strings.NewReader(tt.in)), tt.method, r); err != nil {
				t.Fatalf("ReadResponse: %v", err)
			}
			body, err := io.ReadAll(&r.Body)
			if err != nil {
				t.Fatalf("body: %v", err)
			}
			status := strconv.Itoa(r.StatusCode)
			if r.Reason != "" {
				status += " " + r.Reason
			}
			if status != gresp.Status || r.ProtoMinor != gresp.ProtoMinor {
				t.Errorf("status: got %q HTTP/1.%d, want %q HTTP/1.%d", status, r.ProtoMinor, gresp.Status, gresp.ProtoMinor)
			}
			if got, want := normalize(r.Header, r.ProtoMinor, r.Chunked), gresp.Header; !equalHeader(got, want) {
				t.Errorf("header: got %v, want %v", got, want)
			}
			if !bytes.Equal(body, gbody) {
				t.Errorf("body: got %q, want %q", body, gbody)
			}
			gtrailer := http.Header{}
			for k, vs := range gresp.Trailer {
				if vs != nil {
					gtrailer[k] = vs
				}
			}
			if !equalHeader(r.Trailer, gtrailer) {
				t.Errorf("trailer: got %v, want %v", r.Trailer, gtrailer)
			}
			if r.Close != gresp.Close {
				t.Errorf("Close: got %v, want %v", r.Close, gresp.Close)
			}
			if tt.method != "HEAD" && r.ContentLength != gresp.ContentLength {
				t.Errorf("ContentLength: got %d, want %d", r.ContentLength, gresp.ContentLength)
			}
		})
	}
}

// equalHeader compares headers treating nil and empty alike.
func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

// FuzzReadResponse checks that ReadResponse never panics, that Read and
// WriteTo agree, that only the documented errors come out, and that where
// net/http and h1 both read a whole message they read the same status
// and body.
func FuzzReadResponse(f *testing.F) {
	for _, c := range corpus {
		f.Add([]byte(c.in), c.method == "HEAD")
	}
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 ;a\r\nx\r\n0\r\n\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nframes",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		got := fuzzRead(in, method, false)
		viaWriteTo := fuzzRead(in, method, true)
		if got != viaWriteTo {
			t.Fatalf("Read and WriteTo differ: %+v vs %+v", got, viaWriteTo)
		}
		switch got.headErr {
		case errNone, errEOF, errUnexpected, errProtocol, errTooLarge:
		default:
			t.Fatalf("undocumented head error %q", got.headErr)
		}
		switch got.bodyErr {
		case errNone, errUnexpected, errProtocol, errTooLarge:
		default:
			t.Fatalf("undocumented body error %q", got.bodyErr)
		}
		if got.headErr == errNone && got.complete != (got.bodyErr == errNone) {
			t.Fatalf("got Complete %v with body error %q", got.complete, got.bodyErr)
		}
		if got.headErr != errNone || got.bodyErr != errNone {
			return
		}
		gresp, gbody, gerr, gberr := goResult(string(in), method)
		if gerr != nil || gberr != nil {
			return
		}
		if got.code != gresp.StatusCode {
			t.Fatalf("status: got %d, net/http %d", got.code, gresp.StatusCode)
		}
		if got.body != string(gbody) {
			t.Fatalf("body: got %q, net/http %q", got.body, gbody)
		}
	})
}

// fuzzResult is the comparable part of a parse.
type fuzzResult struct {
	headErr, bodyErr string
	code             int
	body             string
	complete         bool
}

func fuzzRead(in []byte, method string, writeTo bool) fuzzResult {
	r := &Response{Header: http.Header{}}
	if err := ReadResponse(bufio.NewReader(bytes.NewReader(in)), method, r); err != nil {
		return fuzzResult{headErr: errClass(err)}
	}
	var body bytes.Buffer
	var err error
	if writeTo {
		_, err = r.Body.WriteTo(&body)
		if errors.As(err, new(*WriteError)) {
			panic("bytes.Buffer failed")
		}
	} else {
		_, err = body.ReadFrom(&r.Body)
	}
	return fuzzResult{code: r.StatusCode, body: body.String(), bodyErr: errClass(err), complete: r.Body.Complete()}
}
