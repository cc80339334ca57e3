package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults and special values of the top-level settings.
const (
	// DefaultListen is the default client listener address.
	DefaultListen = "127.0.0.1:8080"
	// DefaultAdminListen is the default admin listener address.
	DefaultAdminListen = "127.0.0.1:9901"
	// DefaultDrainTimeout is the default Config.DrainTimeout.
	DefaultDrainTimeout = 30 * time.Second
	// DefaultRequestLog is the default Log.Requests.
	DefaultRequestLog = "stdout"
	// Off turns off admin.listen or log.requests.
	Off = "off"
)

// DefaultTransport returns the built-in transport settings, the base every
// gateway and target transport block is merged over.
func DefaultTransport() Transport {
	return Transport{
		ConnectTimeout:   3 * time.Second,
		ResponseTimeout:  55 * time.Second,
		KeepaliveTimeout: 60 * time.Second,
		QueueTimeout:     5 * time.Second,
		ResolveInterval:  30 * time.Second,
	}
}

// Load reads, decodes, defaults, merges and validates the config file at
// path. On failure it returns nil and Problems holding every error found,
// each with its file:line:col; a file that cannot be read is one Problem
// without a place that wraps the *fs.PathError. Warnings about valid but
// unwise settings are in the returned Config's Warnings.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, Problems{{File: path, Msg: "cannot read config: " + msg, Err: err}}
	}
	return Parse(path, data)
}

// Parse is Load for a file already read: name is used in problems and as
// Config.File. ${NAME} references are taken from the process environment.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, os.LookupEnv)
}

// parse is Parse with the environment given, so tests need not change the
// process's.
func parse(name string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	c := defaultConfig(name, data)
	d := newDecoder(name, data, lookup)
	d.config(root, c)
	normalize(c)
	k := newChecker(c, d.places, d.bad, Pos{File: name, Line: 1, Col: 1})
	k.check()
	if errs := append(d.errs, k.errs...).sorted(); len(errs) > 0 {
		return nil, errs
	}
	if len(k.warns) > 0 {
		c.Warnings = k.warns.sorted()
	}
	return c, nil
}

// defaultConfig is what a file named name with bytes data decodes over:
// the defaults of every top-level setting.
func defaultConfig(name string, data []byte) *Config {
	sum := sha256.Sum256(data)
	return &Config{
		File:         name,
		Hash:         hex.EncodeToString(sum[:]),
		Listen:       DefaultListen,
		DrainTimeout: DefaultDrainTimeout,
		Admin:        Admin{Listen: DefaultAdminListen},
		Log:          Log{Requests: DefaultRequestLog},
		Transport:    DefaultTransport(),
		Store:        DefaultStore(),
	}
}

// parseYAML returns the root node of the file's single YAML document, nil
// for an empty file.
func parseYAML(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil, nil
	case err != nil:
		return nil, Problems{syntaxProblem(name, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Problems{syntaxProblem(name, err)}
	default:
		return nil, Problems{{File: name, Line: next.Line, Col: next.Column, Msg: "a config file holds one YAML document; found a second"}}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// syntaxProblem turns a yaml.v3 syntax error into a Problem. yaml.v3 gives
// syntax errors no type and no column, only text of the form
// "yaml: line N: message", so the line is read from that text; column 1
// stands for "somewhere on this line".
func syntaxProblem(name string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n > 0 {
				line, msg = n, text
			}
		}
	}
	return Problem{File: name, Line: line, Col: 1, Msg: "invalid YAML: " + msg}
}

// normalize puts values in canonical form before validation: a base path
// loses its trailing slash ("/hello/" serves the same requests as
// "/hello") and host names are lowercased (they match case-insensitively).
func normalize(c *Config) {
	for i := range c.APIs {
		a := &c.APIs[i]
		if len(a.BasePath) > 1 && strings.HasSuffix(a.BasePath, "/") && !strings.HasSuffix(a.BasePath, "//") {
			a.BasePath = strings.TrimSuffix(a.BasePath, "/")
		}
		for j, h := range a.Hosts {
			a.Hosts[j] = strings.ToLower(h)
		}
	}
}
