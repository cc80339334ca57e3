package expr

import (
	"strconv"
	"unicode/utf8"
)

// Error is a compile error in a condition or a template, at a byte offset
// of its source. The policy layer adds the offset to where the string
// stands in the config file to report FILE:LINE:COL.
type Error struct {
	// Source is the condition or template that failed to compile.
	Source string
	// Offset is the byte offset in Source of the character at fault;
	// len(Source) when the source ended too early.
	Offset int
	// Msg says what is wrong, without the place.
	Msg string
}

// Error returns "column C: MSG" (or "line L, column C: MSG" for a source
// of several lines).
func (e *Error) Error() string {
	line, col := LineCol(e.Source, e.Offset)
	s := "column " + strconv.Itoa(col) + ": " + e.Msg
	if line > 1 || containsNewline(e.Source) {
		s = "line " + strconv.Itoa(line) + ", " + s
	}
	return s
}

// LineCol returns the 1-based line and column of a byte offset in src.
// Columns count characters (runes), not bytes, as editors do; an offset
// past the end is taken as the end.
func LineCol(src string, offset int) (line, col int) {
	offset = max(0, min(offset, len(src)))
	line, start := 1, 0
	for i := 0; i < offset; i++ {
		if src[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCountInString(src[start:offset]) + 1
}

func containsNewline(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return true
		}
	}
	return false
}

func errorAt(src string, off int, msg string) *Error {
	return &Error{Source: src, Offset: off, Msg: msg}
}
