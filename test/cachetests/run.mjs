// Runs the http-cache-tests suite (as its cli.mjs does: every test but the
// browser-only ones, Surrogate-Control included) against the base URL in
// argv[2], and prints one JSON array: each test's id, kind, raw result and
// the suite's own verdict (lib/display.mjs's determineTestResult).
import fetch from 'node-fetch'
import { runTests, getResults } from 'http-cache-tests/client/runner.mjs'
import { determineTestResult } from 'http-cache-tests/lib/display.mjs'
import tests from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'

const verdicts = { '-': 'untested', '✅': 'pass', '⛔️': 'fail', '⚠️': 'optional_fail', Y: 'yes', N: 'no', '🔹': 'setup_fail', '⁉️': 'harness_fail', '⚪️': 'dependency_fail', '↻': 'retry' }

const base = process.argv[2]
if (!base) {
  console.error('usage: node run.mjs BASE_URL')
  process.exit(2)
}
tests.push(surrogate)
runTests(tests, fetch, false, base)
  .then(() => {
    const results = getResults()
    const out = []
    for (const suite of tests) {
      for (const test of suite.tests) {
        if (test.browser_only === true) continue
        const raw = results[test.id]
        out.push({
          id: test.id,
          kind: test.kind || 'required',
          passed: raw === true,
          verdict: verdicts[determineTestResult(tests, test.id, results)[2]] || 'unknown',
          detail: Array.isArray(raw) ? raw.join(': ') : ''
        })
      }
    }
    console.log(JSON.stringify(out))
  })
  .catch(err => {
    console.error(err)
    process.exit(1)
  })
