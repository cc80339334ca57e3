package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/weirgw/weir/internal/config"
	"github.com/weirgw/weir/internal/failure"
	"github.com/weirgw/weir/internal/policy"
	"github.com/weirgw/weir/internal/policy/cache"
	"github.com/weirgw/weir/internal/policy/ratelimit"
	"github.com/weirgw/weir/internal/store"
	"github.com/weirgw/weir/internal/telemetry"
)

// policyDeps is what building a policy may need.
type policyDeps struct {
	store store.Store
	// cache is where cache policies keep responses (over store, or in
	// memory) and count outcomes.
	cache cache.Deps
	// scope names the policies' owner in store keys: "api/NAME" or
	// "gateway".
	scope string
}

// buildPolicy maps a config kind to its constructor: the one place that
// knows every kind.
func buildPolicy(spec config.Policy, d policyDeps) (policy.Policy, error) {
	rd := ratelimit.Deps{Store: d.store, Scope: d.scope}
	switch spec.Kind {
	case config.KindRateLimit:
		return ratelimit.NewRateLimit(spec, rd)
	case config.KindQuota:
		return ratelimit.NewQuota(spec, rd)
	case config.KindSpikeArrest:
		return ratelimit.NewSpikeArrest(spec, rd)
	case config.KindCache, config.KindCacheLookup, config.KindCacheStore:
		return cache.New(spec, d.cache)
	}
	return nil, fmt.Errorf("unknown policy kind %q", spec.Kind)
}

// buildLists builds every policy of ps.
func buildLists(ps config.Policies, d policyDeps) (policy.Lists, error) {
	var l policy.Lists
	for _, list := range []struct {
		specs []config.Policy
		out   *[]policy.Entry
	}{{ps.Inbound, &l.Inbound}, {ps.Outbound, &l.Outbound}, {ps.OnError, &l.OnError}} {
		for _, spec := range list.specs {
			p, err := buildPolicy(spec, d)
			if err != nil {
				return l, fmt.Errorf("%s:%d:%d: policy %q (%s): %w", spec.Pos.File, spec.Pos.Line, spec.Pos.Col, spec.Name, spec.Kind, err)
			}
			*list.out = append(*list.out, policy.Entry{Policy: p, When: policy.NewCondition(spec.When)})
		}
	}
	return l, nil
}

// buildChains compiles each API's chain (the gateway-wide lists merged in)
// into apis, which are in cfg.APIs order. An API without policies gets a
// nil chain, which costs a request nothing.
func buildChains(cfg *config.Config, st store.Store, cs cache.Deps, apis []*api) error {
	gw, err := buildLists(cfg.Policies, policyDeps{store: st, cache: cs, scope: "gateway"})
	if err != nil {
		return err
	}
	for i, a := range cfg.APIs {
		own, err := buildLists(a.Policies, policyDeps{store: st, cache: cs, scope: "api/" + a.Name})
		if err != nil {
			return err
		}
		c, err := policy.NewChain(policy.Merge(gw, own))
		if err != nil {
			var pe *policy.PhaseError
			if errors.As(err, &pe) {
				return fmt.Errorf("%s:%d:%d: api %q: %w", a.Pos.File, a.Pos.Line, a.Pos.Col, a.Name, err)
			}
			return err
		}
		apis[i].chain = c
	}
	return nil
}

// serveChain serves a request routed to an API with policies: inbound
// policies, then the backend through the outbound wrappers, with on_error
// policies on any failure before the response started.
func (s *Server) serveChain(w http.ResponseWriter, r *http.Request, a *api, rest string, rec *telemetry.Record) {
	c := a.chain
	x := c.Start(w, r, rec, a.name)
	// Deferred, so that Finishers run even when the response is aborted
	// (the abort panics through here).
	defer c.End(x)
	out, fe := c.Inbound(x)
	if fe != nil {
		s.failChain(w, rec, c, x, fe)
		return
	}
	if out == policy.Responded {
		return
	}
	if fe := forwardFailure(s.fwd.Forward(c.Writer(x), r, a.target, rest, rec)); fe != nil {
		s.failChain(w, rec, c, x, fe)
	}
}

// failChain runs the on_error policies, then writes the error response
// unless one of them answered.
func (s *Server) failChain(w http.ResponseWriter, rec *telemetry.Record, c *policy.Chain, x *policy.Exchange, fe *failure.Error) {
	if fe.Reason == failure.ClientConnectionFailure {
		s.fail(w, rec, fe) // nobody to answer, nothing to handle
		return
	}
	// The failure stays in the record even when a policy answers for it.
	rec.Error, rec.Detail = string(fe.Reason), fe.Error()
	out, fe := c.OnError(x, fe)
	if out == policy.Responded {
		return
	}
	s.fail(w, rec, fe)
}
