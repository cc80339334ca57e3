package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one error or warning in a config file, with its place.
type Problem struct {
	// File is the config file's path as given to Load or Parse.
	File string
	// Line and Col are 1-based. Both are 0 when the problem has no place in
	// the file (the file could not be read, or the Config was built in code).
	Line, Col int
	// Msg says what is wrong and, where it helps, how to fix it.
	Msg string
	// Warning marks a valid but unwise setting; it does not fail the load.
	Warning bool
	// Err is the underlying error when the problem wraps one (reading the
	// file); nil otherwise. Problems.Unwrap exposes it to errors.Is/As.
	Err error
}

// String formats p as "FILE:LINE:COL: message" or
// "FILE:LINE:COL: warning: message", the form editors and CI logs link to.
// Without a place it is "FILE: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(":")
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", p.Line, p.Col)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is a list of problems sorted by file, line and column. As an
// error it is every problem, one per line.
type Problems []Problem

// Error returns every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the underlying errors of the problems that have one, so
// errors.Is(err, fs.ErrNotExist) works on Load's result.
func (ps Problems) Unwrap() []error {
	var errs []error
	for _, p := range ps {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// sorted returns ps sorted by file, line and column (keeping the order of
// problems at one place) with exact duplicates removed: a setting inherited
// by many targets is reported once, at the setting.
func (ps Problems) sorted() Problems {
	seen := make(map[Problem]bool, len(ps))
	out := make(Problems, 0, len(ps))
	for _, p := range ps {
		k := p
		k.Err = nil // errors need not be comparable
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
		)
	})
	return out
}
