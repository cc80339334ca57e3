package deploy

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// updateSchemas rewrites testdata/kubernetes from the Kubernetes module's
// OpenAPI document (downloading the module through the Go module proxy).
var updateSchemas = flag.Bool("update-schemas", false, "regenerate testdata/kubernetes from k8s.io/kubernetes's api/openapi-spec/swagger.json")

// kubernetesVersion is the Kubernetes release whose API the manifests are
// validated against: the module k8s.io/kubernetes at this version ships
// api/openapi-spec/swagger.json, which the schemas are made from.
const kubernetesVersion = "1.37.2"

// schemaDir is where the schemas are, in kubeconform's file layout.
const schemaDir = "testdata/kubernetes"

// schemaKinds are the API kinds the manifests use, by definition name.
var schemaKinds = []string{
	"io.k8s.api.apps.v1.Deployment",
	"io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
	"io.k8s.api.core.v1.ConfigMap",
	"io.k8s.api.core.v1.Service",
	"io.k8s.api.policy.v1.PodDisruptionBudget",
}

// TestSchemasFromOpenAPI regenerates the schemas with -update-schemas
// (this needs the Go module proxy); otherwise it checks that one exists
// for each kind the manifests use.
func TestSchemasFromOpenAPI(t *testing.T) {
	dir := filepath.Join(schemaDir, "v"+kubernetesVersion+"-strict")
	if !*updateSchemas {
		for _, def := range schemaKinds {
			if _, err := os.Stat(filepath.Join(dir, schemaFile(def))); err != nil {
				t.Errorf("%s: %v (go test ./deploy -update-schemas)", def, err)
			}
		}
		return
	}
	out, err := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@v"+kubernetesVersion).Output()
	if err != nil {
		t.Fatalf("go mod download k8s.io/kubernetes: %v", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(mod.Dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	defs := map[string]any{}
	for _, def := range schemaKinds {
		collect(spec.Definitions, def, defs)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, v any) {
		t.Helper()
		b, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("_definitions.json", map[string]any{"definitions": defs})
	for _, def := range schemaKinds {
		gvk := spec.Definitions[def]["x-kubernetes-group-version-kind"].([]any)[0].(map[string]any)
		apiVersion := gvk["version"].(string)
		if g := gvk["group"].(string); g != "" {
			apiVersion = g + "/" + apiVersion
		}
		write(schemaFile(def), map[string]any{
			"allOf": []any{
				map[string]any{"$ref": "_definitions.json#/definitions/" + def},
				map[string]any{
					"required": []string{"apiVersion", "kind"},
					"properties": map[string]any{
						"apiVersion": map[string]any{"enum": []string{apiVersion}},
						"kind":       map[string]any{"enum": []string{gvk["kind"].(string)}},
					},
				},
			},
		})
	}
}

// schemaFile is kubeconform's file name for a definition's kind:
// deployment-apps-v1.json, service-v1.json.
func schemaFile(def string) string {
	parts := strings.Split(def, ".")
	kind, version, group := parts[len(parts)-1], parts[len(parts)-2], parts[len(parts)-3]
	if group == "core" {
		return strings.ToLower(kind) + "-" + version + ".json"
	}
	return strings.ToLower(kind) + "-" + group + "-" + version + ".json"
}

// collect copies definition name and those it refers to into out, made
// strict as kubeconform's strict schemas are (an object with properties
// allows no others), int-or-string and quantities as either type, and
// without descriptions and extensions (validation does not read them).
func collect(all map[string]map[string]any, name string, out map[string]any) {
	if _, done := out[name]; done {
		return
	}
	out[name] = nil // guards cycles
	if name == quantity {
		out[name] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
		return
	}
	out[name] = strict(all[name], func(ref string) {
		collect(all, strings.TrimPrefix(ref, "#/definitions/"), out)
	})
}

// strict rewrites one schema node (see collect); refs are reported to
// found.
func strict(v any, found func(ref string)) any {
	switch n := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range n {
			if k == "description" || strings.HasPrefix(k, "x-kubernetes-") {
				continue
			}
			if k == "$ref" {
				found(val.(string))
			}
			out[k] = strict(val, found)
		}
		switch n["format"] {
		case "int-or-string":
			delete(out, "type")
			delete(out, "format")
			out["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
		}
		if props, ok := n["properties"].(map[string]any); ok && len(props) > 0 {
			if _, set := n["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, e := range n {
			out[i] = strict(e, found)
		}
		return out
	}
	return v
}

// quantity is the definition of resource quantities ("500m", 2): a string
// in the OpenAPI document, but manifests write plain numbers too (cpu: 2),
// so either type, as in kubeconform's schemas.
const quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"
