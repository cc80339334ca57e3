package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// schemaFile is the committed schema the examples' modelines point at.
const schemaFile = "../../weir.schema.json"

// TestSchemaCommitted checks that weir.schema.json is what Schema writes
// now (go test ./internal/config -update rewrites it).
func TestSchemaCommitted(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("weir.schema.json is not what weir schema writes now: run go test ./internal/config -update")
	}
}

// TestSchemaKeysMatchDecoder decodes a document holding every key the
// schema has (every policy kind in the lists it may run in) and compares,
// at every mapping, the keys of the table the decoder used with the keys
// the schema lists there: a key the decoder accepts that the schema lacks,
// or the reverse, fails.
func TestSchemaKeysMatchDecoder(t *testing.T) {
	var root map[string]any
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	doc := probeDoc(root, root["$defs"].(map[string]any), "", want)
	data, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	n, err := parseYAML("probe.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder("probe.yaml", data, envOf(nil))
	d.keys = map[string][]string{}
	d.config(n, defaultConfig("probe.yaml", data))

	for path, keys := range d.keys {
		slices.Sort(keys)
		w, ok := want[path]
		switch {
		case !ok:
			t.Errorf("the decoder reads a mapping at %q that the schema does not describe (keys %v)", path, keys)
		case !slices.Equal(keys, w):
			t.Errorf("keys at %q: decoder %v, schema %v", path, keys, w)
		}
	}
	for path, w := range want {
		if _, ok := d.keys[path]; !ok {
			t.Errorf("the schema describes a mapping at %q (keys %v) that the decoder never reads", path, w)
		}
	}
	if len(want) < 20 {
		t.Errorf("mappings compared: got %d, want the whole config (20 or more)", len(want))
	}
}

// probeDoc builds a document with every key of schema s (at path), null
// where the value is not a mapping or a list of mappings, recording in
// want the keys of every mapping by the decoder's path.
func probeDoc(s, defs map[string]any, path string, want map[string][]string) any {
	if ref, ok := s["$ref"].(string); ok {
		s = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
	}
	if c, ok := s["const"]; ok {
		return c
	}
	if props, ok := s["properties"].(map[string]any); ok {
		m := map[string]any{}
		var keys []string
		for k, ps := range props {
			keys = append(keys, k)
			m[k] = probeDoc(ps.(map[string]any), defs, join(path, k), want)
		}
		slices.Sort(keys)
		want[path] = keys
		return m
	}
	items, ok := s["items"].(map[string]any)
	if !ok {
		return nil
	}
	branches := []any{items}
	if alts, ok := items["oneOf"].([]any); ok {
		branches = alts
	}
	var l []any
	for _, br := range branches {
		item := probeDoc(br.(map[string]any), defs, join(path, strconv.Itoa(len(l))), want)
		if item == nil {
			return nil // a list of scalars
		}
		l = append(l, item)
	}
	return l
}

// TestSchemaNeedsEveryRowDescribed checks that a row without a
// description or schema makes Schema's generator report it.
func TestSchemaNeedsEveryRowDescribed(t *testing.T) {
	d := newDecoder("", nil, nil)
	var s string
	d.objectSchema([]field{
		d.strField("ok", &s).about("described"),
		d.strField("bare", &s),
		{name: "custom", decode: func(string, *yaml.Node) {}, doc: "no schema"},
	})
	if want := []string{"bare", "custom"}; !slices.Equal(d.undocumented, want) {
		t.Errorf("undocumented: got %v, want %v", d.undocumented, want)
	}
	if got := (&SchemaError{Keys: d.undocumented}).Error(); !strings.HasSuffix(got, ": bare, custom") {
		t.Errorf("error: got %q, want one naming bare, custom", got)
	}
}

// readGlob returns the files matching pattern, by slash path.
func readGlob(t *testing.T, pattern string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.ToSlash(f)] = data
	}
	return out
}

// deployConfigs returns the weir configs of deploy/'s Kubernetes
// ConfigMaps (data key weir.yaml), by file.
func deployConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for f, data := range readGlob(t, "../../deploy/kubernetes/*.yaml") {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var m struct {
				Kind string            `yaml:"kind"`
				Data map[string]string `yaml:"data"`
			}
			if err := dec.Decode(&m); err != nil {
				break
			}
			if cfg, ok := m.Data["weir.yaml"]; ok && m.Kind == "ConfigMap" {
				out[f+" weir.yaml"] = []byte(cfg)
			}
		}
	}
	return out
}

// compiled compiles the schema with the validator.
func compiled(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("weir.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("weir.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// instance turns a YAML document into the validator's JSON value.
func instance(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// docConfigs returns the configs of the docs: every examples/*.yaml, every
// ```yaml block of README.md, every deploy/ config, and the config tests'
// good files, by name.
func docConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	out := readGlob(t, "../../examples/*.yaml")
	for f, data := range readGlob(t, "testdata/good/*.yaml") {
		out[f] = data
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1) {
		out["README.md block "+strconv.Itoa(i+1)] = m[1]
	}
	for name, data := range deployConfigs(t) {
		out[name] = data
	}
	return out
}

// TestSchemaValidatesDocs validates every config of the docs against the
// schema with a maintained validator, and loads each: a doc the schema
// refuses, or that weir would refuse, fails.
func TestSchemaValidatesDocs(t *testing.T) {
	sch := compiled(t)
	docs := docConfigs(t)
	var examples, blocks int
	for name, data := range docs {
		switch {
		case strings.HasPrefix(name, "../../examples/"):
			examples++
		case strings.HasPrefix(name, "README.md"):
			blocks++
		}
		t.Run(name, func(t *testing.T) {
			if err := sch.Validate(instance(t, data)); err != nil {
				t.Errorf("schema: %v", err)
			}
			if _, err := parse(name, data, anyEnv); err != nil {
				t.Errorf("load: %v", err)
			}
		})
	}
	if examples == 0 || blocks < 2 {
		t.Errorf("docs found: %d examples, %d README blocks; want some of each", examples, blocks)
	}
}

// anyEnv sets every variable a doc refers to: the config tests' own, an
// admin token, and any other as empty (so a ${VAR:-default} takes its
// default).
func anyEnv(name string) (string, bool) {
	if v, ok := goldenEnv()[name]; ok {
		return v, true
	}
	if name == "WEIR_ADMIN_TOKEN" {
		return "a-token-of-32-random-characters!", true
	}
	return "", true
}

// TestSchemaRefuses checks that the schema catches what editors should
// flag: unknown keys, wrong types, a policy in the wrong list, a missing
// kind's required key.
func TestSchemaRefuses(t *testing.T) {
	sch := compiled(t)
	for _, tt := range []struct{ name, doc string }{
		{"unknown top-level key", "listne: 1\napis: []\n"},
		{"unknown transport key", "transport: {keepalive: 5s}\napis: []\n"},
		{"negative duration", "transport: {keepalive_timeout: -5s}\napis: []\n"},
		{"bare number as duration", "drain_timeout: 30\napis: []\n"},
		{"yes as a boolean", "transport: {tls: {insecure_skip_verify: yes}}\napis: []\n"},
		{"no apis", "listen: 127.0.0.1:8080\n"},
		{"api without name", "apis: [{base_path: /a, target: {endpoints: [http://b]}}]\n"},
		{"unknown policy kind", "policies: {inbound: [{kind: rate-limit}]}\napis: []\n"},
		{"outbound kind inbound", "policies: {inbound: [{kind: cache-store}]}\napis: []\n"},
		{"key of another kind", "policies: {inbound: [{kind: spike-arrest, rate: 10ps, calls: 5}]}\napis: []\n"},
		{"missing required setting", "policies: {inbound: [{kind: rate-limit-by-key, calls: 5}]}\napis: []\n"},
		{"bad enum", "store: {kind: memcached}\napis: []\n"},
		{"on_error policy", "policies: {on_error: [{kind: cache}]}\napis: []\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := sch.Validate(instance(t, []byte(tt.doc))); err == nil {
				t.Errorf("schema: got valid, want invalid:\n%s", tt.doc)
			}
		})
	}
	for _, ok := range []string{
		"apis: [{name: a, base_path: /a, target: {endpoints: ['${B}'], transport: {max_connections: '${N}', keepalive_timeout: 0}}}]\n",
		"transport: {properties: {HTTPTransport.keepalive.timeout.millis: '5000'}}\napis: [{name: a, base_path: /a, target: {endpoints: [http://b]}}]\n",
		"store: {kind: '${KIND}', cache_max_bytes: 64MiB}\napis: [{name: a, base_path: /a, target: {endpoints: [http://b]}}]\n",
	} {
		if err := sch.Validate(instance(t, []byte(ok))); err != nil {
			t.Errorf("schema: got %v, want valid:\n%s", err, ok)
		}
	}
}

// TestExamplesCarryModeline checks that every example points editors at
// the committed schema.
func TestExamplesCarryModeline(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		line, _, _ := strings.Cut(string(data), "\n")
		const want = "# yaml-language-server: $schema=../weir.schema.json"
		if line != want {
			t.Errorf("%s: first line %q, want %q", f, line, want)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(f), "../weir.schema.json")); err != nil {
			t.Errorf("%s: the modeline's schema: %v", f, err)
		}
	}
}
