// Package layering holds the test that keeps weir's import graph layered
// as ARCHITECTURE.md's "Layering" section says: the leaves import no weir
// package, the shared-state store does not depend on the backend side,
// only cmd/weir composes (imports the gateway), no production package
// imports the test rigs (internal/weirtest), the doctor sits below or
// beside the gateway, and route and proxy do not import each other. A new
// rule is one row of the table in layering_test.go.
package layering
