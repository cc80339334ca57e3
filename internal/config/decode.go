package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// place is where a setting is in the file: its key and its value. For a list
// item both are the item.
type place struct{ key, val Pos }

// decoder walks a yaml.Node tree into a Config, one small table of fields per
// struct, without reflection. It records the place of every setting present
// in the file under a slash-separated path ("transport/keepalive_timeout",
// "apis/0/target/endpoints/1"); presence in that map is what "set" means when
// a target's transport is merged over the gateway's.
type decoder struct {
	file   string
	src    []byte
	lookup func(string) (string, bool)
	errs   Problems
	places map[string]place
	// bad holds the paths whose values failed to decode. Validation skips
	// them and everything under them, so one mistake is reported once.
	bad map[string]bool
	// defs, undocumented and at are Schema's: the shared definitions, the
	// keys found without a schema or description, and the dotted path of
	// the mapping being described.
	defs         map[string]jsonSchema
	undocumented []string
	at           string
	// keys, when not nil, records the keys of every table mapping decodes
	// with, by path: the schema's test compares them with the schema.
	keys map[string][]string
	// work counts the nodes decoded, up to limit. Without aliases a file
	// cannot hold more nodes than bytes; aliases may repeat a block, but a
	// "billion laughs" file must not make Load run for hours.
	work, limit int
}

func newDecoder(file string, src []byte, lookup func(string) (string, bool)) *decoder {
	return &decoder{
		file:   file,
		src:    src,
		lookup: lookup,
		places: make(map[string]place),
		bad:    make(map[string]bool),
		limit:  2*len(src) + 10000,
	}
}

// visit counts n nodes of work and reports whether decoding may go on. Past
// the limit it reports one problem and marks the whole file bad, so that
// validation of the half-decoded config adds nothing.
func (d *decoder) visit(n int) bool {
	if d.work > d.limit {
		return false
	}
	d.work += n
	if d.work > d.limit {
		d.fail("", Pos{File: d.file, Line: 1, Col: 1}, "the file repeats aliased blocks too often (more than %d values)", d.limit)
		return false
	}
	return true
}

// field is one key of a YAML mapping: how to decode its value, and what the
// schema says of it. A struct's decoder is its table of fields: a new key is
// a new row, and `weir schema` is generated from the same rows (schema.go).
type field struct {
	name   string
	decode func(path string, n *yaml.Node)
	// schema returns the JSON Schema of the value, read when the schema is
	// generated (so a default is the value the row decodes over). A row
	// without one makes Schema fail.
	schema func() jsonSchema
	// doc is the key's one-line description in the schema: what it does,
	// its default and what zero means, as in the field's doc comment (the
	// reference) in fewer words.
	doc string
	// required marks a key the checker insists on, for editors.
	required bool
}

// about returns f with its one-line description.
func (f field) about(doc string) field {
	f.doc = doc
	return f
}

// need returns f marked as required.
func (f field) need() field {
	f.required = true
	return f
}

// property is an Apigee-style property that sets a transport field, given in
// integer milliseconds.
type property struct {
	name  string // property key, e.g. "keepalive.timeout.millis"
	field string // the transport key it sets, e.g. "keepalive_timeout"
	set   func(t *Transport, d time.Duration)
}

// gatewayProperties are the properties accepted in the gateway's
// transport.properties.
func gatewayProperties() []property {
	return []property{
		{"HTTPTransport.keepalive.timeout.millis", "keepalive_timeout", func(t *Transport, d time.Duration) { t.KeepaliveTimeout = d }},
	}
}

// targetProperties are the properties accepted in target.properties and
// target.transport.properties.
func targetProperties() []property {
	return []property{
		{"keepalive.timeout.millis", "keepalive_timeout", func(t *Transport, d time.Duration) { t.KeepaliveTimeout = d }},
		{"connect.timeout.millis", "connect_timeout", func(t *Transport, d time.Duration) { t.ConnectTimeout = d }},
		{"io.timeout.millis", "response_timeout", func(t *Transport, d time.Duration) { t.ResponseTimeout = d }},
	}
}

// config decodes the document's root into c, which holds the defaults.
func (d *decoder) config(root *yaml.Node, c *Config) {
	d.mapping("", root, d.configFields(c))
}

// configFields are the top-level keys.
func (d *decoder) configFields(c *Config) []field {
	return []field{
		d.strField("listen", &c.Listen).about("Address client traffic is served on (host:port)."),
		d.durationField("drain_timeout", &c.DrainTimeout).about("On SIGTERM/SIGINT, how long in-flight requests may finish before weir exits anyway; 0: exit without waiting."),
		d.mapField("admin", func() []field {
			return []field{
				d.strField("listen", &c.Admin.Listen).about(`Admin API address (host:port); "off" disables it.`),
				d.strField("token", &c.Admin.Token).about("Bearer token the admin API requires on every route but /healthz, /readyz and the status page's static files; required when admin.listen is not loopback. Default none."),
			}
		}, nil).about("The admin listener: /status, /pools, /metrics, /reload, the status page."),
		d.mapField("log", func() []field {
			return []field{
				d.strField("requests", &c.Log.Requests).about(`Request log: "stdout", "stderr", "off", or a file path (appended); one JSON object per line.`),
			}
		}, nil).about("The request log."),
		// transport comes before apis: targets start from its values.
		d.transportField("transport", &c.Transport, gatewayProperties()).about("Defaults for every target's backend connections; a target's own transport overrides them key by key."),
		{name: "apis", decode: func(p string, n *yaml.Node) { d.apis(p, n, c) }, schema: func() jsonSchema {
			s := listSchema(d.objectSchema(d.apiFields(newAPI(&c.Transport))))
			s["minItems"] = 1
			return s
		}, doc: "The APIs clients call (at least one).", required: true},
		{name: "store", decode: func(p string, n *yaml.Node) { d.storeBlock(p, n, &c.Store) }, schema: func() jsonSchema {
			return d.objectSchema(d.storeFields(&c.Store))
		}, doc: "Where policies keep state (counters, cached responses): memory (default, per instance) or redis (shared by every instance)."},
		d.policiesField("policies", &c.Policies).about("Gateway-wide policies: inbound ones run before every API's own, outbound and on_error ones after."),
		d.intField("instances", &c.Instances).about("How many weir instances serve the same backends (each has its own port ledger); 0: discovered through a redis store (each instance registers itself), 1 with a memory store."),
	}
}

// transportField is a transport block decoded over t (which holds the
// inherited values); known are the Apigee properties it accepts.
func (d *decoder) transportField(name string, t *Transport, known []property) field {
	return field{name: name, decode: func(p string, n *yaml.Node) { d.transport(p, n, t, known) }, schema: func() jsonSchema {
		return d.objectSchema(d.transportFields(t, known))
	}}
}

// transport decodes a transport block over t, which holds the inherited
// values, then folds in the block's own properties.
func (d *decoder) transport(path string, n *yaml.Node, t *Transport, known []property) {
	d.mapping(path, n, d.transportFields(t, known))
	d.fold(join(path, "properties"), t.Properties, path, t, known)
}

// transportFields are the keys of a transport block.
func (d *decoder) transportFields(t *Transport, known []property) []field {
	return []field{
		d.durationField("connect_timeout", &t.ConnectTimeout).about("Bound on TCP connect + TLS handshake + CONNECT through a proxy; must be > 0."),
		d.durationField("response_timeout", &t.ResponseTimeout).about("From the request's last byte written to the response head; 0: no deadline. Past it: 504 BackendTimeout."),
		d.durationField("keepalive_timeout", &t.KeepaliveTimeout).about("How long an idle backend connection is kept; 0 turns keep-alive off (a connection and an outbound port per request; weir validate warns)."),
		d.intField("max_connections", &t.MaxConnections).about("Cap on connections (active + idle + dialing) per destination; requests over it wait FIFO. 0: unlimited."),
		d.intField("max_idle", &t.MaxIdle).about("Cap on idle connections per destination; extra ones close on release. 0: no cap of its own."),
		d.durationField("queue_timeout", &t.QueueTimeout).about("How long a request may wait under max_connections before 503 ConnectionLimitReached; 0: fail at once."),
		d.intField("max_requests_per_connection", &t.MaxRequestsPerConnection).about("Close a connection after this many requests; 0: unlimited."),
		d.durationField("max_connection_lifetime", &t.MaxConnectionLifetime).about("Close a connection (when idle) after this age, with up to 10% jitter; 0: unlimited."),
		d.durationField("resolve_interval", &t.ResolveInterval).about("How often endpoint host names are re-resolved (vanished addresses are drained); 0: resolve once, at load."),
		d.listField("source_addresses", &t.SourceAddresses).about("Local IPs outbound connections bind to, round-robin: each multiplies the (source, destination) port tuples. Default: the kernel picks."),
		d.strField("egress_proxy", &t.EgressProxy).about("Forward proxy http://host:port: plain HTTP in absolute form, HTTPS through pooled CONNECT tunnels. Default: direct."),
		d.mapField("tls", func() []field { return d.tlsFields(&t.TLS) }, nil).about("TLS to https:// endpoints."),
		d.propertiesField("properties", &t.Properties, known).about("Apigee-style names for the settings above, in integer milliseconds; a setting given both ways is an error."),
	}
}

// tlsFields are the keys of a TLS block, for backends and for the store.
func (d *decoder) tlsFields(t *TLS) []field {
	return []field{
		d.strField("server_name", &t.ServerName).about("SNI and the name verified. Default: the endpoint's (or Redis address's) host."),
		d.strField("ca_file", &t.CAFile).about("PEM bundle of CAs to trust. Default: the system roots."),
		d.strField("cert_file", &t.CertFile).about("Client certificate (PEM) for mutual TLS; with key_file. Default none."),
		d.strField("key_file", &t.KeyFile).about("Client certificate's key (PEM); with cert_file. Default none."),
		d.boolField("insecure_skip_verify", &t.InsecureSkipVerify).about("Turn certificate verification off (weir validate warns)."),
	}
}

// apis decodes the list of APIs. Every target starts from the gateway's
// transport and inherits the places of the gateway settings it does not
// override, so warnings and errors about an inherited setting point at the
// gateway's line (once) rather than at every target.
func (d *decoder) apis(path string, n *yaml.Node, c *Config) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(path, d.pos(n), "expected a list of APIs, got %s", describe(n))
		return
	}
	if !d.visit(len(n.Content)) {
		return
	}
	type inherited struct {
		suffix string
		at     place
	}
	var gw []inherited
	for p, at := range d.places {
		if s, ok := strings.CutPrefix(p, "transport/"); ok {
			gw = append(gw, inherited{"/" + s, at})
		}
	}
	c.APIs = make([]API, len(n.Content))
	for i, item := range n.Content {
		p := join(path, strconv.Itoa(i))
		item = resolve(item)
		d.places[p] = place{d.pos(item), d.pos(item)}
		d.api(p, item, &c.APIs[i], &c.Transport)
		tp := join(p, "target/transport")
		for _, in := range gw {
			if _, set := d.places[tp+in.suffix]; !set {
				d.places[tp+in.suffix] = in.at
			}
		}
	}
}

// newAPI returns an API whose target starts from the gateway transport gw.
func newAPI(gw *Transport) *API {
	a := &API{}
	a.Target.Transport = gw.clone()
	a.Target.Transport.Properties = nil // properties stay where they were written
	return a
}

// api decodes one API; its target starts from the gateway transport gw.
func (d *decoder) api(path string, n *yaml.Node, a *API, gw *Transport) {
	*a = *newAPI(gw)
	a.Pos = d.pos(n)
	d.mapping(path, n, d.apiFields(a))
}

// apiFields are the keys of an API.
func (d *decoder) apiFields(a *API) []field {
	t := &a.Target
	return []field{
		d.strField("name", &a.Name).about("Unique name (letters, digits, _ . -); in logs and metrics.").need(),
		d.strField("base_path", &a.BasePath).about("Path prefix, matched on a segment boundary (longest first) and replaced by the endpoint's path.").need(),
		d.listField("hosts", &a.Hosts).about("Host header values this API serves (port ignored; *.example.com matches one label). Default: any host."),
		d.mapField("target", func() []field {
			return []field{
				d.listField("endpoints", &t.Endpoints).about("Backend base URLs (http:// or https://), spread round-robin; a host name resolves to all its addresses.").need(),
				d.transportField("transport", &t.Transport, targetProperties()).about("This target's transport, over the gateway's key by key."),
				d.propertiesField("properties", &t.Properties, targetProperties()).about("Apigee-style transport names for this target, in integer milliseconds."),
			}
		}, func(p string) {
			d.fold(join(p, "properties"), t.Properties, join(p, "transport"), &t.Transport, targetProperties())
		}).about("Where the API's requests go.").need(),
		d.policiesField("policies", &a.Policies).about("The API's policies: its inbound ones run after the gateway's, its outbound and on_error ones before."),
	}
}

// fold applies the Apigee properties props (written at propsPath) to t, the
// transport at tpath. A property for a setting already given at this level,
// either as a key or as another property, is an error at the property.
func (d *decoder) fold(propsPath string, props map[string]string, tpath string, t *Transport, known []property) {
	for _, a := range known {
		s, ok := props[a.name]
		if !ok {
			continue
		}
		pp := join(propsPath, a.name)
		at := d.places[pp]
		fp := join(tpath, a.field)
		if prev, set := d.places[fp]; set {
			d.fail(pp, at.key, "%s sets %s, which is already set at line %d; keep one", a.name, a.field, prev.key.Line)
			continue
		}
		if d.bad[pp] {
			continue
		}
		ms, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil && errors.Is(err, strconv.ErrRange):
			d.fail(pp, at.val, "%s is too large, got %s", a.name, s)
		case err != nil:
			d.fail(pp, at.val, "expected integer milliseconds like 3000, got %q", s)
		case ms < 0:
			d.fail(pp, at.val, "%s must not be negative, got %d", a.name, ms)
		case ms > math.MaxInt64/int64(time.Millisecond):
			d.fail(pp, at.val, "%s is too large, got %d", a.name, ms)
		default:
			a.set(t, time.Duration(ms)*time.Millisecond)
			d.places[fp] = at
		}
	}
}

// mapping decodes the mapping n at path with the given fields. It reports
// keys that are unknown, duplicated or not strings, records the place of
// every known key, then decodes the values in the table's order, so a row
// may rely on an earlier one. A null value is an empty mapping.
func (d *decoder) mapping(path string, n *yaml.Node, fields []field) {
	if d.keys != nil {
		for _, f := range fields {
			d.keys[path] = append(d.keys[path], f.name)
		}
	}
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(path, d.pos(n), "expected a mapping (key: value lines), got %s", describe(n))
		return
	}
	if !d.visit(len(n.Content) / 2) {
		return
	}
	vals := make([]*yaml.Node, len(fields))
	first := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		switch {
		case k == nil || k.Kind != yaml.ScalarNode:
			d.problem(d.pos(k), "expected a key, got %s", describe(k))
			continue
		case k.ShortTag() == "!!merge":
			d.problem(d.pos(k), "merge keys (<<) are not supported")
			continue
		}
		if prev, dup := first[k.Value]; dup {
			d.problem(d.pos(k), "duplicate key %q (first at line %d)", k.Value, prev.Line)
			continue
		}
		first[k.Value] = k
		idx := slices.IndexFunc(fields, func(f field) bool { return f.name == k.Value })
		if idx < 0 {
			names := make([]string, len(fields))
			for j, f := range fields {
				names[j] = f.name
			}
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := suggest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.problem(d.pos(k), "%s", msg)
			continue
		}
		vals[idx] = v
		d.places[join(path, k.Value)] = place{d.pos(k), d.pos(resolve(v))}
	}
	for i, f := range fields {
		if vals[i] != nil {
			f.decode(join(path, f.name), vals[i])
		}
	}
}

func (d *decoder) strField(name string, out *string) field {
	return field{name: name, decode: func(p string, n *yaml.Node) { d.str(p, n, out) }, schema: func() jsonSchema {
		return withDefault(stringSchema(), *out, *out != "")
	}}
}

func (d *decoder) durationField(name string, out *time.Duration) field {
	return field{name: name, decode: func(p string, n *yaml.Node) { d.duration(p, n, out) }, schema: func() jsonSchema {
		return withDefault(durationSchema(), formatDuration(*out), *out != 0)
	}}
}

func (d *decoder) intField(name string, out *int) field {
	return field{name: name, decode: func(p string, n *yaml.Node) { d.integer(p, n, out) }, schema: func() jsonSchema {
		return withDefault(integerSchema(), *out, *out != 0)
	}}
}

func (d *decoder) boolField(name string, out *bool) field {
	return field{name: name, decode: func(p string, n *yaml.Node) { d.boolean(p, n, out) }, schema: func() jsonSchema {
		return withDefault(boolSchema(), *out, true)
	}}
}

func (d *decoder) listField(name string, out *[]string) field {
	return field{name: name, decode: func(p string, n *yaml.Node) { d.list(p, n, out) }, schema: func() jsonSchema {
		return withDefault(listSchema(stringSchema()), *out, len(*out) > 0)
	}}
}

func (d *decoder) sizeField(name string, out *int64) field {
	return field{name: name, decode: func(p string, n *yaml.Node) { d.size(p, n, out) }, schema: func() jsonSchema {
		return withDefault(sizeSchema(), formatSize(*out), *out != 0)
	}}
}

// mapField is a key whose value is a mapping with the given fields; then,
// when not nil, runs after the mapping was decoded.
func (d *decoder) mapField(name string, fields func() []field, then func(path string)) field {
	return field{name: name, decode: func(p string, n *yaml.Node) {
		d.mapping(p, n, fields())
		if then != nil {
			then(p)
		}
	}, schema: func() jsonSchema { return d.objectSchema(fields()) }}
}

// propertiesField decodes a properties mapping whose keys must be known properties.
func (d *decoder) propertiesField(name string, out *map[string]string, known []property) field {
	rows := func(m map[string]string) []field {
		fields := make([]field, len(known))
		for i, a := range known {
			fields[i] = field{name: a.name, decode: func(p string, n *yaml.Node) {
				var s string
				if d.str(p, n, &s) {
					m[a.name] = s
				}
			}, schema: millisSchema, doc: "Sets " + a.field + ", in integer milliseconds."}
		}
		return fields
	}
	return field{name: name, decode: func(p string, n *yaml.Node) {
		m := make(map[string]string)
		d.mapping(p, n, rows(m))
		if len(m) > 0 {
			*out = m
		}
	}, schema: func() jsonSchema { return d.objectSchema(rows(nil)) }}
}

// scalar returns the value of the scalar n after ${ENV} substitution. what
// names the expected type for the error when n is not a scalar. ok is false
// when a problem was reported.
func (d *decoder) scalar(path string, n *yaml.Node, what string) (s string, null, ok bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		d.fail(path, d.pos(n), "expected %s, got %s", what, describe(n))
		return "", false, false
	}
	if !d.visit(1) {
		return "", false, false
	}
	if isNull(n) {
		return "", true, true
	}
	s, probs := expand(n.Value, d.lookup)
	for _, p := range probs {
		d.fail(path, d.offsetPos(n, p.off), "%s", p.msg)
	}
	return s, false, len(probs) == 0
}

// str decodes any scalar as a string; null is "".
func (d *decoder) str(path string, n *yaml.Node, out *string) bool {
	s, _, ok := d.scalar(path, n, "a string")
	if ok {
		*out = s
	}
	return ok
}

// duration decodes a Go duration string. A bare number other than 0 is an
// error: "30" could mean seconds or milliseconds.
func (d *decoder) duration(path string, n *yaml.Node, out *time.Duration) {
	const what = "a duration like 30s"
	s, null, ok := d.scalar(path, n, what)
	if !ok {
		return
	}
	at := d.pos(resolve(n))
	if null {
		d.fail(path, at, "expected %s, got nothing", what)
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		if isNumber(s) {
			d.fail(path, at, "expected %s, got %q (a number needs a unit: %ss or %sms)", what, s, s, s)
		} else {
			d.fail(path, at, "expected %s, got %q", what, s)
		}
		return
	}
	if v < 0 {
		d.fail(path, at, "%s must not be negative, got %s", base(path), s)
		return
	}
	*out = v
}

// integer decodes a non-negative decimal integer.
func (d *decoder) integer(path string, n *yaml.Node, out *int) {
	const what = "an integer"
	s, null, ok := d.scalar(path, n, what)
	if !ok {
		return
	}
	at := d.pos(resolve(n))
	if null {
		d.fail(path, at, "expected %s, got nothing", what)
		return
	}
	v, err := strconv.Atoi(s)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		d.fail(path, at, "%s is too large, got %s", base(path), s)
	case err != nil:
		d.fail(path, at, "expected %s, got %q", what, s)
	case v < 0:
		d.fail(path, at, "%s must not be negative, got %d", base(path), v)
	default:
		*out = v
	}
}

// boolean decodes true or false (any case). YAML 1.1's yes/no/on/off are
// refused: they are a classic source of surprises.
func (d *decoder) boolean(path string, n *yaml.Node, out *bool) {
	const what = "true or false"
	s, null, ok := d.scalar(path, n, what)
	if !ok {
		return
	}
	switch strings.ToLower(s) {
	case "true":
		*out = true
	case "false":
		*out = false
	default:
		got := strconv.Quote(s)
		if null {
			got = "nothing"
		}
		d.fail(path, d.pos(resolve(n)), "expected %s, got %s", what, got)
	}
}

// list decodes a list of strings; null is an empty list. Items that fail
// keep their index (as ""), so paths and slice indexes agree.
func (d *decoder) list(path string, n *yaml.Node, out *[]string) {
	n = resolve(n)
	if isNull(n) {
		*out = nil
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(path, d.pos(n), "expected a list, got %s", describe(n))
		return
	}
	if !d.visit(len(n.Content)) {
		return
	}
	var l []string
	if len(n.Content) > 0 {
		l = make([]string, len(n.Content))
	}
	for i, item := range n.Content {
		p := join(path, strconv.Itoa(i))
		at := d.pos(resolve(item))
		d.places[p] = place{at, at}
		d.str(p, item, &l[i])
	}
	*out = l
}

// problem reports an error that does not spoil the value at a path (an
// unknown or duplicate key).
func (d *decoder) problem(at Pos, format string, args ...any) {
	d.errs = append(d.errs, Problem{File: at.File, Line: at.Line, Col: at.Col, Msg: fmt.Sprintf(format, args...)})
}

// fail reports an error in the value at path and marks the path bad.
func (d *decoder) fail(path string, at Pos, format string, args ...any) {
	d.problem(at, format, args...)
	d.bad[path] = true
}

func (d *decoder) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: d.file, Line: 1, Col: 1}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

// offsetPos is the place of byte off of the scalar n's value: exact when the
// value appears verbatim in its line (plain or quoted without escapes),
// otherwise the scalar's own place.
func (d *decoder) offsetPos(n *yaml.Node, off int) Pos {
	at := d.pos(n)
	line := d.line(n.Line)
	i := 0
	for c := 1; c < n.Column && i < len(line); c++ {
		_, w := utf8.DecodeRune(line[i:])
		i += w
	}
	col := n.Column
	switch n.Style {
	case 0:
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		i++
		col++
	default:
		return at
	}
	prefix := n.Value[:off]
	if i <= len(line) && bytes.HasPrefix(line[i:], []byte(prefix)) {
		at.Col = col + utf8.RuneCountInString(prefix)
	}
	return at
}

// line returns the text of 1-based line n of the source.
func (d *decoder) line(n int) []byte {
	s := d.src
	for ; n > 1; n-- {
		i := bytes.IndexByte(s, '\n')
		if i < 0 {
			return nil
		}
		s = s[i+1:]
	}
	if i := bytes.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// clone returns a copy of t that shares no slice or map with it.
func (t Transport) clone() Transport {
	t.SourceAddresses = slices.Clone(t.SourceAddresses)
	if t.Properties != nil {
		m := make(map[string]string, len(t.Properties))
		for k, v := range t.Properties {
			m[k] = v
		}
		t.Properties = m
	}
	return t
}

// resolve follows YAML aliases (*name) to the anchored node. The parser
// rejects unknown anchors; the bound guards against alias chains.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or a YAML null (~, null or nothing).
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what n is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	default:
		return "an alias"
	}
}

// isNumber reports whether s is a plain decimal number like 30 or 1.5.
func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	digits := false
	for _, c := range s {
		switch {
		case '0' <= c && c <= '9':
			digits = true
		case c != '.':
			return false
		}
	}
	return digits && strings.Count(s, ".") <= 1
}

// join appends a key to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "/" + key
}

// base is the last key of a path: the setting's name in messages.
func base(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// suggest returns the known key closest to an unknown one, or "" when none
// is close: a small edit distance (case ignored), or one key being a dotted
// suffix of the other (an Apigee property given at the wrong level).
func suggest(key string, known []string) string {
	limit := 1
	switch {
	case len(key) > 12:
		limit = 3
	case len(key) > 4:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, k := range known {
		if strings.HasSuffix(k, "."+key) || strings.HasSuffix(key, "."+k) {
			return k
		}
		if dist := editDistance(strings.ToLower(key), strings.ToLower(k)); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions, so
// "listne" is one edit from "listen".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: two back (for transpositions), previous and current.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
