package config

import (
	"fmt"
	"strings"
)

// envProblem is a failed substitution at byte offset off of a raw value.
type envProblem struct {
	off int
	msg string
}

// expand substitutes ${NAME} and ${NAME:-default} in s and turns "$$" into
// "$". As in the shell, the default is used when NAME is unset or empty. A
// "$" followed by anything else is kept, so values like "pa$word" need no
// escaping. Every failed reference is reported at its offset in s.
func expand(s string, lookup func(string) (string, bool)) (string, []envProblem) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var (
		b     strings.Builder
		probs []envProblem
	)
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "$$") {
			b.WriteByte('$')
			i += 2
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			probs = append(probs, envProblem{i, `unterminated "${" (write "$$" for a literal "$")`})
			break
		}
		ref := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validEnvName(name) {
			probs = append(probs, envProblem{i, fmt.Sprintf(`invalid reference "${%s}": want ${NAME} or ${NAME:-default}`, ref)})
			i += 2 + end + 1
			continue
		}
		switch v, set := lookup(name); {
		case set && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			probs = append(probs, envProblem{i, fmt.Sprintf("environment variable %s is not set (give a default with ${%s:-default})", name, name)})
		}
		i += 2 + end + 1
	}
	return b.String(), probs
}

// validEnvName reports whether name is a portable environment variable
// name: a letter or underscore, then letters, digits and underscores.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case i > 0 && '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}
