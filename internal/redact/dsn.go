package redact

import "strings"

// Mask is what every masked value becomes.
const Mask = "****"

// MaskDSN replaces the password of a URL-form DSN with "****", exactly as
// the policy writes it (postgresql://user:****@host:5432/db,
// redis://:****@host:6379/0), and the value of every password= parameter,
// in a URL query or a key=value DSN. Anything else is returned unchanged.
//
// It errs on the side of masking: a password holding a raw '/', '?' or '#'
// (not valid in a URL, but easy to paste) is still masked.
func MaskDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		end := len(rest)
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			end = j
		}
		at := strings.LastIndex(rest[:end], "@")
		if at < 0 {
			// No userinfo in a well-formed authority. A '@' further on
			// with a ':' before any '/' is a password holding a '/', '?'
			// or '#': mask it anyway.
			if a := strings.LastIndex(rest, "@"); a >= 0 {
				c := strings.IndexByte(rest[:a], ':')
				sl := strings.IndexByte(rest[:a], '/')
				if c >= 0 && (sl < 0 || c < sl) {
					at = a
				}
			}
		}
		if at >= 0 {
			user := rest[:at]
			if c := strings.Index(user, ":"); c >= 0 {
				user = user[:c] + ":" + Mask
			}
			dsn = dsn[:i+3] + user + rest[at:]
		}
		return maskParam(dsn, "&#")
	}
	return maskParam(dsn, " ")
}

// maskParam replaces the value of every password= parameter (any case) with
// "****". A value ends at one of stop; a value in single quotes ends at the
// closing quote, with backslash escapes.
func maskParam(s, stop string) string {
	const key = "password="
	var b strings.Builder
	for {
		idx := strings.Index(strings.ToLower(s), key)
		if idx < 0 {
			b.WriteString(s)
			return b.String()
		}
		// Only a whole parameter name: start of string or after a separator.
		if idx > 0 && !strings.ContainsRune(" ?&;", rune(s[idx-1])) {
			b.WriteString(s[:idx+len(key)])
			s = s[idx+len(key):]
			continue
		}
		start := idx + len(key)
		end := start
		if end < len(s) && s[end] == '\'' {
			end++
			for end < len(s) && s[end] != '\'' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end < len(s) {
				end++
			}
			end = min(end, len(s))
		} else {
			for end < len(s) && !strings.ContainsRune(stop, rune(s[end])) {
				end++
			}
		}
		b.WriteString(s[:start])
		b.WriteString(Mask)
		s = s[end:]
	}
}

// quotedOrWordEnd returns the end of the value starting at s[start]: a
// single-quoted string (backslash escapes), or up to the next space.
func quotedOrWordEnd(s string, start int) int {
	end := start
	if end < len(s) && s[end] == '\'' {
		end++
		for end < len(s) && s[end] != '\'' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		if end < len(s) {
			end++
		}
		if end > len(s) {
			end = len(s)
		}
		return end
	}
	for end < len(s) && s[end] != ' ' {
		end++
	}
	return end
}

// MaskText masks, anywhere in free text, the password of every URL with
// credentials (scheme://user:pass@host) and the value of every
// password=... pair, writing "****" in their place. Text without either is
// returned unchanged (and unallocated).
func MaskText(s string) string {
	if !strings.Contains(s, "://") && !containsFold(s, "password=") {
		return s
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			break
		}
		j += i
		ps, pe, ok := URLPassword(s, j)
		if ok {
			b.WriteString(s[last:ps])
			b.WriteString(Mask)
			last = pe
			i = pe
			continue
		}
		i = j + 3
	}
	b.WriteString(s[last:])
	out := b.String()
	for from := 0; ; {
		idx := indexFold(out[from:], "password=")
		if idx < 0 {
			break
		}
		start := from + idx + len("password=")
		end := quotedOrWordEnd(out, start)
		if out[start:end] != Mask && end > start {
			out = out[:start] + Mask + out[end:]
			end = start + len(Mask)
		}
		from = end
		if from >= len(out) {
			break
		}
	}
	return out
}

// URLPassword finds the password of the URL whose "://" starts at s[sep]:
// it returns the password's bounds and true when the URL has a non-empty
// password that is not already "****". The URL's authority ends at the
// first '/', '?', '#', whitespace, quote, backquote or angle bracket; the userinfo
// ends at the last '@' before that, so passwords with punctuation
// (even an unescaped '@') are covered.
func URLPassword(s string, sep int) (start, end int, ok bool) {
	auth := sep + 3
	stop := auth
	for stop < len(s) && !authorityEnd(s[stop]) {
		stop++
	}
	at := strings.LastIndexByte(s[auth:stop], '@')
	if at < 0 {
		return 0, 0, false
	}
	at += auth
	colon := strings.IndexByte(s[auth:at], ':')
	if colon < 0 {
		return 0, 0, false
	}
	start, end = auth+colon+1, at
	if start >= end || s[start:end] == Mask {
		return 0, 0, false
	}
	return start, end, true
}

func authorityEnd(c byte) bool {
	switch c {
	case '/', '?', '#', ' ', '\t', '\n', '\r', '"', '\'', '<', '>', '`':
		return true
	}
	return false
}

func containsFold(s, sub string) bool { return indexFold(s, sub) >= 0 }

// indexFold is strings.Index ignoring ASCII case; sub must be lowercase.
func indexFold(s, sub string) int {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != sub[0] {
			continue
		}
		k := 1
		for k < n && lower(s[i+k]) == sub[k] {
			k++
		}
		if k == n {
			return i
		}
	}
	return -1
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
