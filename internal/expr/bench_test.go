package expr

import (
	"testing"
)

// hotConditions are the common cases that must not allocate: comparisons
// of variables with literals, and and/or/not of a few.
var hotConditions = []struct{ name, cond string }{
	{"string equals", `request.verb = "POST"`},
	{"integer compare", `response.status.code >= 500`},
	{"integer against a string", `response.status.code = "503"`},
	{"case-insensitive", `request.header.x-tier := "SILVER"`},
	{"null check", `request.header.x != null`},
	{"starts with", `proxy.pathsuffix =| "/sta"`},
	{"glob", `proxy.pathsuffix ~ "/stat*s"`},
	{"path", `proxy.pathsuffix MatchesPath "/statuses/**"`},
	{"regex", `request.header.accept ~~ "application/(json|xml)"`},
	{"integer glob", `response.status.code ~ "5*"`},
	{"integer starts with", `response.status.code =| "50"`},
	{"integer case-insensitive", `response.status.code := "503"`},
	{"bool against a string", `flow.cachehit = "true"`},
	{"float against an integer", `client.latency > 12`},
	{"bare variable", `flow.cachehit`},
	{"and or not", `request.verb = "POST" and (proxy.pathsuffix MatchesPath "/orders/**" or request.header.x-tier == "gold") and not (request.header.x-admin = "yes")`},
}

// hotTemplates are templates of literal text and plain variables, which
// must not allocate.
var hotTemplates = []struct{ name, tmpl string }{
	{"constant", `{"error":"forbidden"}`},
	{"one variable", `{client.ip}`},
	{"JSON body", `{"error":"no deletes for {client.ip}","status":{response.status.code},"cached":{flow.cachehit}}`},
	{"defaults", `{protocol:https}://{site:example.com}/{proxy.pathsuffix}`},
}

func benchEnv() MapEnv {
	env := baseEnv()
	env["client.ip"] = StringValue("203.0.113.9")
	return env
}

func TestHotPathAllocations(t *testing.T) {
	env := benchEnv()
	for _, c := range hotConditions {
		cond, err := CompileCondition(c.cond)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { cond.Eval(env) }); n != 0 {
			t.Errorf("Eval %s (%s): got %v allocations, want 0", c.name, c.cond, n)
		}
	}
	dst := make([]byte, 0, 1024)
	for _, c := range hotTemplates {
		tm, err := CompileTemplate(c.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { tm.Append(dst[:0], env) }); n != 0 {
			t.Errorf("Append %s (%s): got %v allocations, want 0", c.name, c.tmpl, n)
		}
	}
}

func BenchmarkConditionEval(b *testing.B) {
	env := benchEnv()
	for _, c := range hotConditions {
		cond, err := CompileCondition(c.cond)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cond.Eval(env)
			}
		})
	}
}

func BenchmarkTemplateAppend(b *testing.B) {
	env := benchEnv()
	env["doc"] = StringValue(store)
	all := append([]struct{ name, tmpl string }{}, hotTemplates...)
	all = append(all,
		struct{ name, tmpl string }{"toLowerCase", `{toLowerCase(request.header.accept)}`},
		struct{ name, tmpl string }{"sha256Hex", `{sha256Hex(client.ip)}`},
		struct{ name, tmpl string }{"jsonPath", `{jsonPath('$.store.book[?(@.price < 10)].title',doc)}`},
	)
	dst := make([]byte, 0, 1024)
	for _, c := range all {
		tm, err := CompileTemplate(c.tmpl)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				dst = tm.Append(dst[:0], env)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	cond := hotConditions[len(hotConditions)-1].cond
	tmpl := hotTemplates[2].tmpl
	b.Run("condition", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CompileCondition(cond); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CompileTemplate(tmpl); err != nil {
				b.Fatal(err)
			}
		}
	})
}
