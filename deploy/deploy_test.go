package deploy

import (
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/yannh/kubeconform/pkg/validator"
	"gopkg.in/yaml.v3"

	"github.com/weirgw/weir/internal/config"
)

// manifests returns deploy/kubernetes's files, by name.
func manifests(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("kubernetes/*.yaml: %v %v", files, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// kubeconform returns a validator that reads the schemas of testdata
// only (no network), strict: unknown fields are errors.
func kubeconform(t *testing.T) validator.Validator {
	t.Helper()
	dir, err := filepath.Abs(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := validator.New([]string{dir + "/{{ .NormalizedKubernetesVersion }}{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"},
		validator.Opts{Strict: true, KubernetesVersion: kubernetesVersion, SkipKinds: map[string]struct{}{"Kustomization": {}}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestManifestsValidate checks every manifest against the Kubernetes API's
// schemas with kubeconform, and that the validation bites: a misspelt
// field, a wrong type and an unknown kind fail.
func TestManifestsValidate(t *testing.T) {
	v := kubeconform(t)
	kinds := map[string]int{}
	for name, b := range manifests(t) {
		for _, res := range v.Validate(name, io.NopCloser(bytes.NewReader(b))) {
			sig, _ := res.Resource.Signature()
			switch res.Status {
			case validator.Valid:
				kinds[sig.Kind]++
			case validator.Skipped:
				if sig.Kind != "Kustomization" {
					t.Errorf("%s: %s skipped", name, sig.Kind)
				}
			default:
				t.Errorf("%s: %s %s: %v %v", name, sig.Kind, sig.Name, res.Err, res.ValidationErrors)
			}
		}
	}
	want := map[string]int{"ConfigMap": 1, "Deployment": 2, "Service": 2, "PodDisruptionBudget": 1, "HorizontalPodAutoscaler": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("valid %s: got %d, want %d", k, kinds[k], n)
		}
	}

	deployment := manifests(t)["kubernetes/deployment.yaml"]
	for _, tc := range []struct{ name, from, to string }{
		{"misspelt field", "readinessProbe:", "readynessProbe:"},
		{"wrong type", "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: forty"},
		{"unknown kind", "kind: Deployment", "kind: Deploymint"},
	} {
		bad := bytes.Replace(deployment, []byte(tc.from), []byte(tc.to), 1)
		for _, res := range v.Validate(tc.name, io.NopCloser(bytes.NewReader(bad))) {
			if res.Status == validator.Valid {
				t.Errorf("%s: got valid, want invalid", tc.name)
			}
		}
	}
}

// object is a manifest as a tree.
type object = map[string]any

// objects decodes every document of deploy/kubernetes.
func objects(t *testing.T) []object {
	t.Helper()
	var out []object
	for name, b := range manifests(t) {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out = append(out, o)
		}
	}
	return out
}

// get walks a path of keys and indexes ("spec", "template", 0 ...).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(object)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// find returns the object of kind and name.
func find(t *testing.T, objs []object, kind, name string) object {
	t.Helper()
	for _, o := range objs {
		if o["kind"] == kind && get(o, "metadata", "name") == name {
			return o
		}
	}
	t.Fatalf("no %s %s in deploy/kubernetes", kind, name)
	return nil
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestManifestsFitWeir checks that the manifests agree with weir and with
// each other: the ConfigMap's config loads, the probes hit /readyz and
// /healthz on the admin port, the termination grace covers preStop and
// drain_timeout, the config is mounted as a directory (so it updates and
// weir reloads it), the pod runs as the image's non-root user on a
// read-only root file system, every ${VAR} the config uses is set, and the
// selectors and references meet.
func TestManifestsFitWeir(t *testing.T) {
	objs := objects(t)
	cm := find(t, objs, "ConfigMap", "weir")
	src, _ := get(cm, "data", "weir.yaml").(string)
	vars := regexp.MustCompile(`\$\{([A-Z_]+)`).FindAllStringSubmatch(src, -1)
	cfg, err := config.Parse("configmap weir.yaml", []byte(strings.NewReplacer("${WEIR_ADMIN_TOKEN}", "0123456789abcdef0123", "${REDIS_PASSWORD}", "pw").Replace(src)))
	if err != nil {
		t.Fatalf("the ConfigMap's config: %v", err)
	}
	if cfg.Log.Requests != "stdout" && cfg.Log.Requests != "stderr" && cfg.Log.Requests != "off" {
		t.Errorf("log.requests %q: on a read-only root file system the request log goes to stdout", cfg.Log.Requests)
	}

	dep := find(t, objs, "Deployment", "weir")
	pod := get(dep, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	ports := map[string]int{}
	for _, p := range get(c, "ports").([]any) {
		ports[get(p, "name").(string)] = get(p, "containerPort").(int)
	}
	if ports["http"] != port(t, cfg.Listen) || ports["admin"] != port(t, cfg.Admin.Listen) {
		t.Errorf("container ports %v: want http %d (listen) and admin %d (admin.listen)", ports, port(t, cfg.Listen), port(t, cfg.Admin.Listen))
	}
	for _, probe := range []struct{ key, path string }{{"readinessProbe", "/readyz"}, {"livenessProbe", "/healthz"}} {
		if get(c, probe.key, "httpGet", "path") != probe.path || get(c, probe.key, "httpGet", "port") != "admin" {
			t.Errorf("%s: got %v, want GET %s on the admin port", probe.key, get(c, probe.key), probe.path)
		}
	}
	grace, _ := get(pod, "terminationGracePeriodSeconds").(int)
	pause, _ := get(c, "lifecycle", "preStop", "sleep", "seconds").(int)
	if pause <= 0 || time.Duration(grace)*time.Second < time.Duration(pause)*time.Second+cfg.DrainTimeout+time.Second {
		t.Errorf("terminationGracePeriodSeconds %d: want at least preStop's %d s + drain_timeout %v + 1 s", grace, pause, cfg.DrainTimeout)
	}

	args := get(c, "args").([]any)
	file := args[slices.Index(args, any("-c"))+1].(string)
	var mounted bool
	for _, m := range get(c, "volumeMounts").([]any) {
		vol := get(m, "name")
		for _, v := range get(pod, "volumes").([]any) {
			if get(v, "name") == vol && get(v, "configMap", "name") == "weir" {
				mounted = get(m, "mountPath") == filepath.Dir(file) && get(m, "subPath") == nil
			}
		}
	}
	if !mounted {
		t.Errorf("the ConfigMap must be mounted as the directory of %s, without subPath (a subPath mount never updates)", file)
	}

	if get(c, "securityContext", "readOnlyRootFilesystem") != true || get(pod, "securityContext", "runAsNonRoot") != true {
		t.Errorf("security: want readOnlyRootFilesystem and runAsNonRoot, got %v and %v", get(c, "securityContext"), get(pod, "securityContext"))
	}
	if uid := get(pod, "securityContext", "runAsUser"); uid != dockerfileUID(t) {
		t.Errorf("runAsUser %v: want the image's USER %d", uid, dockerfileUID(t))
	}
	set := map[string]bool{}
	for _, e := range get(c, "env").([]any) {
		set[get(e, "name").(string)] = true
	}
	for _, v := range vars {
		if !set[v[1]] {
			t.Errorf("the config refers to ${%s}, which the container's env does not set", v[1])
		}
	}
	if get(c, "resources", "requests", "cpu") == nil {
		t.Error("no cpu request: the HorizontalPodAutoscaler scales on CPU utilisation of the request")
	}

	labels := get(dep, "spec", "template", "metadata", "labels").(object)
	matches := func(sel any) bool {
		m, ok := sel.(object)
		if !ok || len(m) == 0 {
			return false
		}
		for k, v := range m {
			if labels[k] != v {
				return false
			}
		}
		return true
	}
	for _, sel := range []struct {
		what string
		sel  any
	}{
		{"the Deployment's selector", get(dep, "spec", "selector", "matchLabels")},
		{"the Service's selector", get(find(t, objs, "Service", "weir"), "spec", "selector")},
		{"the PodDisruptionBudget's selector", get(find(t, objs, "PodDisruptionBudget", "weir"), "spec", "selector", "matchLabels")},
	} {
		if !matches(sel.sel) {
			t.Errorf("%s %v does not select the pods %v", sel.what, sel.sel, labels)
		}
	}
	hpa := find(t, objs, "HorizontalPodAutoscaler", "weir")
	if get(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" || get(hpa, "spec", "scaleTargetRef", "name") != "weir" || get(dep, "spec", "replicas") != nil {
		t.Errorf("the HorizontalPodAutoscaler must own the Deployment's replicas: got target %v, replicas %v", get(hpa, "spec", "scaleTargetRef"), get(dep, "spec", "replicas"))
	}
	redisSvc := find(t, objs, "Service", "weir-redis")
	if cfg.Store.Kind != config.StoreRedis || cfg.Store.Address != get(redisSvc, "metadata", "name").(string)+":"+strconv.Itoa(get(redisSvc, "spec", "ports", 0, "port").(int)) {
		t.Errorf("store %+v: want redis at the weir-redis Service", cfg.Store)
	}
}

// dockerfile returns the Dockerfile's instructions, continuation lines
// joined, comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur += cont + " "
			continue
		}
		out = append(out, cur+line)
		cur = ""
	}
	return out
}

// stages splits the instructions into build stages (each from its FROM).
func stages(t *testing.T) [][]string {
	var out [][]string
	for _, ins := range dockerfile(t) {
		if strings.HasPrefix(ins, "FROM ") {
			out = append(out, nil)
		}
		if len(out) > 0 {
			out[len(out)-1] = append(out[len(out)-1], ins)
		}
	}
	return out
}

// dockerfileUID is the final stage's USER id.
func dockerfileUID(t *testing.T) int {
	t.Helper()
	st := stages(t)
	for _, ins := range st[len(st)-1] {
		if u, ok := strings.CutPrefix(ins, "USER "); ok {
			uid, err := strconv.Atoi(strings.Split(u, ":")[0])
			if err != nil {
				t.Fatalf("USER %q: want a numeric id (Kubernetes' runAsNonRoot checks it)", u)
			}
			return uid
		}
	}
	t.Fatal("the final stage has no USER")
	return 0
}

// TestDockerfile checks the image build: multi-stage, the final stage on
// a static base (no shell, no libc) running the binary as a non-root user
// with nothing to write; and that its build command makes a static binary
// (it is run here, outside docker: on a cold build cache that compiles
// weir and the standard library with the image's flags, a few minutes on
// two busy cores; cached after). -short skips the build.
func TestDockerfile(t *testing.T) {
	st := stages(t)
	if len(st) < 2 {
		t.Fatalf("stages: got %d, want a build stage and a runtime stage", len(st))
	}
	final := st[len(st)-1]
	base := strings.Fields(final[0])[1]
	if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("final base %q: want distroless static or scratch", base)
	}
	if uid := dockerfileUID(t); uid == 0 {
		t.Error("USER 0: want a non-root user")
	}
	var build string
	for _, ins := range final {
		switch {
		case strings.HasPrefix(ins, "RUN "), strings.HasPrefix(ins, "VOLUME "):
			t.Errorf("final stage %q: the runtime image runs nothing at build and needs no writable volume", ins)
		case strings.HasPrefix(ins, "ENTRYPOINT "):
			if ins != `ENTRYPOINT ["/weir"]` {
				t.Errorf("%s: want the binary, exec form", ins)
			}
		}
	}
	if !slices.Contains(final, "COPY --from=build /out/weir /weir") {
		t.Error("the final stage must copy the binary from the build stage")
	}
	for _, ins := range st[0] {
		if strings.Contains(ins, "go build") {
			build = strings.TrimPrefix(ins, "RUN ")
		}
	}
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Fatalf("build command %q: want CGO_ENABLED=0 (a static binary)", build)
	}
	if testing.Short() {
		return
	}
	out := filepath.Join(t.TempDir(), "weir")
	cmdline := strings.NewReplacer("${VERSION}", "test", "/out/weir", out, "./cmd/weir", "github.com/weirgw/weir/cmd/weir").Replace(build)
	cmd := exec.Command("sh", "-c", cmdline)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: want a static binary", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v: want none", libs)
	}
}
