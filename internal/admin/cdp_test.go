package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A minimal Chrome DevTools Protocol client over --remote-debugging-pipe:
// chromium reads commands from fd 3 and writes replies and events to fd 4,
// each a JSON object ended by a NUL byte. No WebSocket, no dependency.

// chromiumFlags keep a headless chromium to itself: no GPU, no QUIC, no
// background or component traffic, no first-run work.
func chromiumFlags() []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
		"--disable-domain-reliability", "--disable-breakpad", "--hide-scrollbars",
		"--remote-debugging-pipe",
	}
}

// browser is a running headless chromium.
type browser struct {
	cmd    *exec.Cmd
	in     *os.File // our end of chromium's fd 3
	out    *os.File // our end of chromium's fd 4
	mu     sync.Mutex
	nextID int
	calls  map[int]chan cdpReply
	events chan cdpReply // events, dropped when nobody reads them
	done   chan struct{} // closed when the reader stops
}

type cdpReply struct {
	ID        int             `json:"id"`
	SessionID string          `json:"sessionId"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	Result    json.RawMessage `json:"result"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// cdpError is an error answer to a command.
type cdpError struct {
	Method  string
	Code    int
	Message string
}

func (e *cdpError) Error() string { return fmt.Sprintf("%s: %d %s", e.Method, e.Code, e.Message) }

// startBrowser starts chromium with a fresh profile; it is stopped when the
// test ends.
func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe() // commands: we write, chromium reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe() // replies: chromium writes fd 4, we read
	if err != nil {
		t.Fatal(err)
	}
	args := append(chromiumFlags(), "--user-data-dir="+t.TempDir(), "--window-size=1280,1600", "about:blank")
	cmd := exec.Command(path, args...)
	cmd.ExtraFiles = []*os.File{cmdR, evW}
	// Its own process group, so a chromium that does not exit can be
	// stopped with its helpers and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	cmdR.Close()
	evW.Close()
	b := &browser{cmd: cmd, in: cmdW, out: evR, calls: map[int]chan cdpReply{}, events: make(chan cdpReply, 256), done: make(chan struct{})}
	go b.read()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, _ = b.call(ctx, "", "Browser.close", nil)
		cancel()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		b.in.Close()
		b.out.Close()
		if t.Failed() {
			t.Logf("chromium stderr (tail):\n%s", stderr.String())
		}
	})
	return b
}

// read dispatches replies to their callers and events to b.events.
func (b *browser) read() {
	defer close(b.done)
	r := bufio.NewReaderSize(b.out, 1<<20)
	for {
		msg, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpReply
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil {
			continue
		}
		if m.ID == 0 {
			select {
			case b.events <- m:
			default:
			}
			continue
		}
		b.mu.Lock()
		ch := b.calls[m.ID]
		delete(b.calls, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

// call sends one command (to a page when session is set) and waits for its
// result.
func (b *browser) call(ctx context.Context, session, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpReply, 1)
	b.calls[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := b.in.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, &cdpError{Method: method, Code: m.Error.Code, Message: m.Error.Message}
		}
		return m.Result, nil
	case <-b.done:
		return nil, fmt.Errorf("%s: %w", method, errBrowserGone)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

var errBrowserGone = errors.New("chromium closed the debugging pipe")

// page is one tab, attached.
type page struct {
	b       *browser
	session string
}

// newPage opens a tab of width x height CSS pixels.
func (b *browser) newPage(ctx context.Context, width, height int) (*page, error) {
	res, err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		return nil, err
	}
	var tgt struct {
		TargetID string `json:"targetId"`
	}
	if err := json.Unmarshal(res, &tgt); err != nil {
		return nil, err
	}
	res, err = b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": tgt.TargetID, "flatten": true})
	if err != nil {
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := json.Unmarshal(res, &att); err != nil {
		return nil, err
	}
	p := &page{b: b, session: att.SessionID}
	if _, err := p.call(ctx, "Runtime.enable", nil); err != nil {
		return nil, err
	}
	_, err = p.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false})
	return p, err
}

func (p *page) call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	return p.b.call(ctx, p.session, method, params)
}

// navigate loads url.
func (p *page) navigate(ctx context.Context, url string) error {
	res, err := p.call(ctx, "Page.navigate", map[string]any{"url": url})
	if err != nil {
		return err
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := json.Unmarshal(res, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return fmt.Errorf("navigating to %s: %s", url, nav.ErrorText)
	}
	return nil
}

// eval evaluates a JavaScript expression that yields a string, and returns
// it.
func (p *page) eval(ctx context.Context, expr string) (string, error) {
	res, err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return "", err
	}
	var ev struct {
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &ev); err != nil {
		return "", err
	}
	if ev.ExceptionDetails != nil {
		return "", fmt.Errorf("evaluating: %s %s", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception.Description)
	}
	var s string
	if err := json.Unmarshal(ev.Result.Value, &s); err != nil {
		return "", fmt.Errorf("evaluating: got a %s, want a string", ev.Result.Type)
	}
	return s, nil
}

// screenshot returns the whole page as PNG.
func (p *page) screenshot(ctx context.Context) ([]byte, error) {
	res, err := p.call(ctx, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	if err != nil {
		return nil, err
	}
	var shot struct {
		Data []byte `json:"data"` // base64 in JSON: decoded by encoding/json
	}
	err = json.Unmarshal(res, &shot)
	return shot.Data, err
}

// tailBuffer keeps the last 16 KiB written: chromium's stderr, for a
// failing test's log.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 16<<10 {
		t.b = append([]byte(nil), t.b[len(t.b)-16<<10:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var _ io.Writer = (*tailBuffer)(nil)
