package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// jsonSchema is one JSON Schema object, as encoding/json writes it (keys
// sorted, so the output is stable).
type jsonSchema = map[string]any

// SchemaDraft is the JSON Schema dialect Schema writes.
const SchemaDraft = "https://json-schema.org/draft/2020-12/schema"

// SchemaError is returned by Schema when a row of the decoder's tables
// lacks its schema or its description: a key the schema would not describe.
type SchemaError struct {
	// Keys are the keys without one, as "parent.key" paths.
	Keys []string
}

func (e *SchemaError) Error() string {
	return "config schema: keys without a schema or description: " + strings.Join(e.Keys, ", ")
}

// Schema returns the JSON Schema (draft 2020-12) of a config file. It is
// generated from the decoder's own tables of fields, so every key Load
// accepts is in it and nothing else: each with its type (a scalar may also
// be a ${VAR} reference), its default (the value the row decodes over) and
// its one-line description. A policy is one branch per kind, chosen by its
// kind key; each list admits the kinds that may run in it.
func Schema() ([]byte, error) {
	d := newDecoder("", nil, nil)
	d.defs = map[string]jsonSchema{"env": {
		"type":        "string",
		"pattern":     `\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}`,
		"description": "A value taken from the environment when the config loads: ${NAME}, or ${NAME:-default} when NAME is unset or empty.",
	}}
	root := d.objectSchema(d.configFields(defaultConfig("", nil)))
	root["type"] = "object" // a file is a mapping, never empty
	root["$schema"] = SchemaDraft
	root["title"] = "weir config"
	root["description"] = "weir's config file (YAML). Durations are Go durations (30s, 1m30s); sizes are bytes or a number with B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; any scalar may be ${VAR} or ${VAR:-default}."
	root["$defs"] = d.defs
	if len(d.undocumented) > 0 {
		return nil, &SchemaError{Keys: d.undocumented}
	}
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// objectSchema is the schema of a mapping with fields: no other keys, and
// null allowed (an empty mapping). Rows without a schema or description
// are noted in d.undocumented by their dotted path (d.at is the path of
// the mapping being described).
func (d *decoder) objectSchema(fields []field) jsonSchema {
	parent := d.at
	defer func() { d.at = parent }()
	props := make(jsonSchema, len(fields))
	var required []string
	for _, f := range fields {
		d.at = f.name
		if parent != "" {
			d.at = parent + "." + f.name
		}
		if f.schema == nil || f.doc == "" {
			d.undocumented = append(d.undocumented, d.at)
		}
		s := jsonSchema{}
		if f.schema != nil {
			s = f.schema()
		}
		s["description"] = f.doc
		props[f.name] = s
		if f.required {
			required = append(required, f.name)
		}
	}
	o := jsonSchema{"type": []string{"object", "null"}, "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

// policyListSchema is the schema of one policy list: each item is one of
// the kinds that may run in it, told apart by kind. The kinds' branches
// are in $defs, shared by every list of every scope.
func (d *decoder) policyListSchema(list string) jsonSchema {
	var branches []any
	for _, k := range policyKinds() {
		if !slices.Contains(k.lists, list) {
			continue
		}
		name := "policy." + k.name
		if _, done := d.defs[name]; !done {
			d.defs[name] = nil // guards the recursion below
			pol := &Policy{}
			at := d.at
			d.at = "policy(" + k.name + ")"
			s := d.objectSchema(append(d.commonPolicyFields(pol), k.fields(d, pol)...))
			d.at = at
			s["type"] = "object"
			kind := s["properties"].(jsonSchema)["kind"].(jsonSchema)
			delete(kind, "anyOf")
			delete(kind, "type")
			kind["const"] = k.name
			s["title"] = k.name
			d.defs[name] = s
		}
		branches = append(branches, jsonSchema{"$ref": "#/$defs/" + name})
	}
	if len(branches) == 0 {
		return jsonSchema{"type": []string{"array", "null"}, "maxItems": 0}
	}
	return listSchema(jsonSchema{"oneOf": branches})
}

// orEnv lets a scalar schema also be a ${VAR} reference: one more
// alternative of its anyOf, or an anyOf of the two.
func orEnv(s jsonSchema) jsonSchema {
	env := jsonSchema{"$ref": "#/$defs/env"}
	if alts, ok := s["anyOf"].([]any); ok && len(s) == 1 {
		return jsonSchema{"anyOf": append(alts, env)}
	}
	return jsonSchema{"anyOf": []any{s, env}}
}

// stringSchema is any scalar: the decoder takes 8080 or true as text too,
// and null as "".
func stringSchema() jsonSchema {
	return jsonSchema{"type": []string{"string", "number", "boolean", "null"}}
}

// durationSchema is a Go duration (not negative), or a bare 0.
func durationSchema() jsonSchema {
	return orEnv(jsonSchema{"anyOf": []any{
		jsonSchema{"type": "string", "pattern": `^(0|\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`},
		jsonSchema{"const": 0},
	}})
}

// integerSchema is a non-negative integer, also written as a string.
func integerSchema() jsonSchema {
	return orEnv(jsonSchema{"anyOf": []any{
		jsonSchema{"type": "integer", "minimum": 0},
		jsonSchema{"type": "string", "pattern": `^\+?[0-9]+$`},
	}})
}

// millisSchema is an Apigee property: integer milliseconds.
func millisSchema() jsonSchema { return integerSchema() }

// boolSchema is true or false (any case when quoted); never yes or no.
func boolSchema() jsonSchema {
	return orEnv(jsonSchema{"anyOf": []any{
		jsonSchema{"type": "boolean"},
		jsonSchema{"type": "string", "pattern": `^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$`},
	}})
}

// sizeSchema is a byte count: an integer, or a number with a unit.
func sizeSchema() jsonSchema {
	return orEnv(jsonSchema{"anyOf": []any{
		jsonSchema{"type": "integer", "minimum": 0},
		jsonSchema{"type": "string", "pattern": `^\s*\+?[0-9]+\s*(KiB|MiB|GiB|TiB|KB|MB|GB|TB|B)?\s*$`},
	}})
}

// listSchema is a list of items; null is an empty list.
func listSchema(items jsonSchema) jsonSchema {
	return jsonSchema{"type": []string{"array", "null"}, "items": items}
}

// keySchema is a policy key: one source, or a list of them.
func keySchema() jsonSchema {
	return jsonSchema{"anyOf": []any{stringSchema(), listSchema(stringSchema())}}
}

// ratePattern is a spike-arrest rate: Nps or Npm.
const ratePattern = `^[0-9]+p[sm]$`

// oneOf limits a string key to values (or a ${VAR} reference).
func (f field) oneOf(values ...string) field {
	f.schema = func() jsonSchema { return orEnv(jsonSchema{"enum": values}) }
	return f
}

// matching limits a string key to a pattern (or a ${VAR} reference).
func (f field) matching(pattern string) field {
	f.schema = func() jsonSchema { return orEnv(jsonSchema{"type": "string", "pattern": pattern}) }
	return f
}

// withDefault adds v as s's default when ok.
func withDefault(s jsonSchema, v any, ok bool) jsonSchema {
	if ok {
		s["default"] = v
	}
	return s
}

// formatDuration writes d as the config would: 1m rather than 1m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// formatSize writes n with the largest binary unit that divides it.
func formatSize(n int64) any {
	for _, u := range []struct {
		unit string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return fmt.Sprintf("%d%s", n/u.mult, u.unit)
		}
	}
	return n
}
