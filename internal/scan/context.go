package scan

import (
	"bytes"
	"regexp"
	"strconv"
)

// Matchers for secrets whose format is fixed (this project's tokens,
// providers' keys) and for secrets that only their context names: SQL's
// PASSWORD '...', Redis' AUTH and requirepass, a command line's
// --password or -p, a SQL statement's parameters.

// matchSA01Token finds this project's tokens: the prefix and exactly 43
// characters of unpadded URL-safe base64 (32 bytes, so the last character
// carries four bits and is one of AEIMQUYcgkosw048).
func matchSA01Token(prefix string) func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	return func(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
		if string(b[ks:ke]) != prefix || (ks > 0 && isTokenChar(b[ks-1])) {
			return
		}
		end := ke
		for end < len(b) && isTokenChar(b[end]) && end-ke <= 43 {
			end++
		}
		switch n := end - ke; {
		case n == 0:
			return
		case n != 43:
			if n >= 16 {
				drop(ks, end, "not 43 characters after "+prefix)
			}
			return
		}
		if bytes.IndexByte([]byte("AEIMQUYcgkosw048"), b[end-1]) < 0 {
			drop(ks, end, "does not decode to 32 bytes")
			return
		}
		emit(ks, end)
	}
}

// matchDeepSeek finds sk- and exactly 32 lowercase hex characters.
func matchDeepSeek(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	if string(b[ks:ke]) != "sk-" || (ks > 0 && (isTokenChar(b[ks-1]) || b[ks-1] == '.')) {
		return
	}
	end := ke
	for end < len(b) && lowerHex(b[end]) && end-ke <= 32 {
		end++
	}
	if end-ke != 32 || (end < len(b) && isTokenChar(b[end])) {
		return
	}
	emit(ks, end)
}

// azureNamed is a 32-hex Azure key assigned to a name that says so: after
// "azure", an OpenAI, AI-services or Cognitive Services name; after
// "ocp-apim-", the subscription key header.
var azureNamed = regexp.MustCompile(`(?i)^(?:[_-]?(?:openai|ai|cognitive)[\w.-]{0,20}|subscription-key)["']?\s{0,3}(?:=|:=|:|=>)\s{0,3}["']?([a-f0-9]{32})(?:[^A-Za-z0-9]|$)`)

// matchAzureAIKey finds the keys of Azure OpenAI and other Azure AI
// services: the 84-character format (52 alphanumerics, "JQQJ99", and 26
// more) anywhere, and the older 32 hex characters where an Azure OpenAI
// name (AZURE_OPENAI_API_KEY, Ocp-Apim-Subscription-Key) is assigned them.
func matchAzureAIKey(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	if string(b[ks:ke]) != "JQQJ99" {
		if !bytes.EqualFold(b[ks:ke], []byte("jqqj99")) && assignmentFollows(b, ke) {
			we := min(len(b), ke+128)
			if loc := azureNamed.FindSubmatchIndex(b[ke:we]); loc != nil {
				emit(ke+loc[2], ke+loc[3])
			}
		}
		return
	}
	start := ks
	for start > 0 && ks-start < 53 && isAlnum(b[start-1]) {
		start--
	}
	end := ke
	for end < len(b) && end-ke < 27 && isAlnum(b[end]) {
		end++
	}
	if ks-start != 52 || end-ke != 26 || (start > 0 && isTokenChar(b[start-1])) || (end < len(b) && isTokenChar(b[end])) {
		return
	}
	if entropy(b[start:ks]) < 4.0 {
		drop(start, end, "low entropy")
		return
	}
	emit(start, end)
}

// matchGitLab finds GitLab tokens, legacy (glpat- and 20 characters) and
// routable (glpat-, 27 or more, a dot and 9 characters of version and
// checksum).
func matchGitLab(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	prefixTokenTail(string(b[ks:ke]), tokenChar, 20, 300, func(b []byte, end int) int {
		if end+10 <= len(b) && b[end] == '.' {
			for i := end + 1; i < end+10; i++ {
				if !('a' <= b[i] && b[i] <= 'z' || '0' <= b[i] && b[i] <= '9') {
					return end
				}
			}
			if end+10 == len(b) || !isTokenChar(b[end+10]) {
				return end + 10
			}
		}
		return end
	})(b, ks, ke, emit, drop)
}

// quotedAt parses a value quoted with q at b[i] (q doubled inside it
// stands for itself, as SQL writes it; a backslash escapes in C style
// strings) and returns its bounds.
func quotedAt(b []byte, i int, q byte, doubled bool) (vs, ve int, ok bool) {
	if i >= len(b) || b[i] != q {
		return 0, 0, false
	}
	vs = i + 1
	for j := vs; j < len(b) && j-vs < 512; j++ {
		switch b[j] {
		case '\n':
			return 0, 0, false
		case '\\':
			if !doubled {
				j++
			}
		case q:
			if doubled && j+1 < len(b) && b[j+1] == q {
				j++
				continue
			}
			return vs, j, true
		}
	}
	return 0, 0, false
}

// reportPassword emits b[vs:ve], a value its context names as a
// password, or drops it saying why it is not one.
func reportPassword(b []byte, vs, ve int, emit func(int, int), drop func(int, int, string)) {
	if r := judgeValue(nil, b[vs:ve], true, namePassword); r != "" {
		drop(vs, ve, r)
		return
	}
	emit(vs, ve)
}

// matchSQLPassword finds the password of CREATE/ALTER ROLE/USER ...
// PASSWORD '...' and MySQL's IDENTIFIED BY '...'.
func matchSQLPassword(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	kw := bytes.ToLower(b[ks:ke])
	if ks > 0 && isNameChar(b[ks-1]) {
		return
	}
	if !bytes.HasPrefix(kw, []byte("identified")) {
		// PASSWORD '...' belongs to a role or user statement on its line.
		ls := max(0, ks-256)
		if nl := bytes.LastIndexByte(b[ls:ks], '\n'); nl >= 0 {
			ls += nl + 1
		}
		if indexFold(b[ls:ks], "role ") < 0 && indexFold(b[ls:ks], "user ") < 0 {
			return
		}
	}
	q := ke - 1 // the keyword ends with the opening quote
	if b[q] != '\'' {
		return
	}
	vs, ve, ok := quotedAt(b, q, '\'', true)
	if !ok {
		return
	}
	reportPassword(b, vs, ve, emit, drop)
}

// matchRedisPassword finds Redis passwords: MONITOR's "AUTH" "pw" and
// "AUTH" "user" "pw", requirepass and masterauth (redis.conf, CONFIG SET),
// and redis-cli -a pw.
func matchRedisPassword(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	kw := string(bytes.ToLower(b[ks:ke]))
	le := len(b)
	if nl := bytes.IndexByte(b[ke:min(len(b), ke+600)], '\n'); nl >= 0 {
		le = ke + nl
	} else {
		le = min(le, ke+600)
	}
	line := b[:le]
	report := func(vs, ve int) { reportPassword(b, vs, ve, emit, drop) }
	switch kw {
	case `"auth" "`:
		// MONITOR output: the arguments are quoted; the last one is the
		// password.
		var args [][2]int
		i := ke - 1
		for len(args) < 3 {
			vs, ve, ok := quotedAt(line, i, '"', false)
			if !ok {
				break
			}
			args = append(args, [2]int{vs, ve})
			i = ve + 1
			if i+1 < len(line) && line[i] == ' ' && line[i+1] == '"' {
				i++
				continue
			}
			break
		}
		if len(args) == 1 || len(args) == 2 {
			report(args[len(args)-1][0], args[len(args)-1][1])
		}
	case "requirepass", "masterauth":
		if ks > 0 && isNameChar(b[ks-1]) && b[ks-1] != '-' {
			return
		}
		i := ke
		if i < len(line) && line[i] == '"' {
			i++ // "requirepass" "pw"
		}
		sp := i
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == sp || i >= len(line) {
			return
		}
		vs, ve := cliValue(line, i)
		if ve > vs {
			report(vs, ve)
		}
	case "redis-cli":
		for _, flag := range []string{" -a ", " --pass ", " --user-pass "} {
			if j := bytes.Index(line[ke:], []byte(flag)); j >= 0 {
				vs, ve := cliValue(line, ke+j+len(flag))
				if ve > vs {
					report(vs, ve)
				}
				return
			}
		}
	}
}

// cliValue parses a command-line argument at b[i]: quoted ('...' or
// "..."), or up to the next space.
func cliValue(b []byte, i int) (vs, ve int) {
	if i >= len(b) {
		return i, i
	}
	if b[i] == '\'' || b[i] == '"' {
		vs, ve, ok := quotedAt(b, i, b[i], b[i] == '\'')
		if ok {
			return vs, ve
		}
		return i, i
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return i, j
}

// matchCLIPassword finds passwords on command lines: --password VALUE
// (and --passwd, --pass), and -p VALUE after docker, podman or helm
// registry login. --password=VALUE is the generic rule's.
func matchCLIPassword(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	le := min(len(b), ke+512)
	if nl := bytes.IndexByte(b[ke:le], '\n'); nl >= 0 {
		le = ke + nl
	}
	line := b[:le]
	at := -1
	if bytes.HasPrefix(b[ks:ke], []byte("--")) {
		if ke < len(line) && line[ke] == ' ' {
			at = ke + 1
		}
	} else if j := bytes.Index(line[ke:], []byte(" -p ")); j >= 0 {
		at = ke + j + 4
	} else if j := bytes.Index(line[ke:], []byte(" --password ")); j >= 0 {
		at = ke + j + 12
	}
	if at < 0 || at >= len(line) || line[at] == '-' || line[at] == '$' {
		return
	}
	vs, ve := cliValue(line, at)
	if ve <= vs {
		return
	}
	reportPassword(b, vs, ve, emit, drop)
}

// matchSQLParameters finds secrets bound to statement parameters, as
// PostgreSQL logs them: "DETAIL:  parameters: $1 = '...', $2 = '...'"
// after the statement (on the lines before) that names each parameter's
// column: INSERT INTO t (a, b) VALUES ($1, $2), or col = $3.
func matchSQLParameters(b []byte, ks, ke int, emit func(int, int), drop func(int, int, string)) {
	ls := bytes.LastIndexByte(b[:ks], '\n') + 1
	if ls == 0 && ks > 0 {
		return // the statement is not in this buffer
	}
	// The statement: the previous line (or two, for a long statement).
	ps := max(0, ls-4096)
	stmt := b[ps:max(ps, ls-1)]
	if i := bytes.LastIndex(stmt, []byte(": ")); i >= 0 && indexFold(stmt[i:], "insert") < 0 && indexFold(stmt[i:], "update") < 0 && indexFold(stmt[i:], "select") < 0 && indexFold(stmt[i:], "delete") < 0 {
		return
	}
	if nl := bytes.LastIndexByte(stmt, '\n'); nl >= 0 {
		stmt = stmt[nl+1:]
	}
	names := sqlParamNames(stmt)
	if len(names) == 0 {
		return
	}
	le := len(b)
	if nl := bytes.IndexByte(b[ke:], '\n'); nl >= 0 {
		le = ke + nl
	}
	i := ke - 1 // at '$'
	for i < le && b[i] == '$' {
		j := i + 1
		n := 0
		for j < le && '0' <= b[j] && b[j] <= '9' && n < 1000 {
			n = n*10 + int(b[j]-'0')
			j++
		}
		if !bytes.HasPrefix(b[j:le], []byte(" = ")) {
			return
		}
		j += 3
		vs, ve, ok := quotedAt(b[:le], j, '\'', true)
		if !ok {
			return
		}
		if name := names[n]; name != nil {
			class, why := classifyName(name)
			switch {
			case class == nameNone:
				drop(vs, ve, "parameter $"+strconv.Itoa(n)+" ("+string(name)+"): "+why)
			default:
				if r := judgeValue(name, b[vs:ve], true, class); r != "" {
					drop(vs, ve, r)
				} else {
					emit(vs, ve)
				}
			}
		}
		i = ve + 1
		for i < le && (b[i] == ',' || b[i] == ' ') {
			i++
		}
	}
}

// sqlParamNames maps parameter numbers to column names in a statement:
// INSERT INTO t (a, b, c) VALUES ($1, $2, $3), and col = $N anywhere.
func sqlParamNames(stmt []byte) map[int][]byte {
	names := map[int][]byte{}
	if i := indexFold(stmt, "insert into"); i >= 0 {
		rest := stmt[i:]
		o := bytes.IndexByte(rest, '(')
		c := bytes.IndexByte(rest, ')')
		v := indexFold(rest, "values")
		if o >= 0 && c > o && v > c {
			cols := bytes.Split(rest[o+1:c], []byte(","))
			vals := rest[v:]
			vo, vc := bytes.IndexByte(vals, '('), bytes.IndexByte(vals, ')')
			if vo >= 0 && vc > vo {
				for k, p := range bytes.Split(vals[vo+1:vc], []byte(",")) {
					p = bytes.TrimSpace(p)
					if k < len(cols) && len(p) > 1 && p[0] == '$' && isNumber(p[1:]) {
						names[atoiSmall(p[1:])] = bytes.Trim(bytes.TrimSpace(cols[k]), `"`+"`")
					}
				}
			}
		}
	}
	for i := 0; ; {
		j := bytes.Index(stmt[i:], []byte(" = $"))
		if j < 0 {
			break
		}
		j += i
		e := j
		s := e
		for s > 0 && (isNameChar(stmt[s-1]) || stmt[s-1] == '"') {
			s--
		}
		k := j + 4
		n := k
		for n < len(stmt) && '0' <= stmt[n] && stmt[n] <= '9' {
			n++
		}
		if n > k && s < e {
			col := bytes.Trim(stmt[s:e], `"`)
			if d := bytes.LastIndexByte(col, '.'); d >= 0 {
				col = col[d+1:]
			}
			names[atoiSmall(stmt[k:n])] = bytes.Trim(col, `"`)
		}
		i = n
	}
	return names
}

func atoiSmall(b []byte) int {
	n := 0
	for _, c := range b {
		if n > 100000 {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// yamlEnvValue finds the value of an environment variable written as a
// Kubernetes or Compose list entry, name and value apart:
//
//   - name: DB_PASSWORD
//     value: "s3cr3t"
//
// or {"name": "DB_PASSWORD", "value": "s3cr3t"}. nameStart and ne are the
// name's bounds; it returns the value's bounds.
func yamlEnvValue(b []byte, nameStart, ne int) (vs, ve int, quoted bool, ok bool) {
	// The name is the value of a "name" key.
	i := nameStart
	if i > 0 && (b[i-1] == '"' || b[i-1] == '\'') {
		i--
	}
	for i > 0 && (b[i-1] == ' ' || b[i-1] == '\t') {
		i--
	}
	if i == 0 || b[i-1] != ':' {
		return
	}
	i--
	if i > 0 && b[i-1] == '"' {
		i--
	}
	if i < 4 || !bytes.EqualFold(b[i-4:i], []byte("name")) || (i > 4 && isNameChar(b[i-5])) {
		return
	}
	// After it: the closing quote, then on this line or the next the
	// "value" key.
	j := ne
	if j < len(b) && (b[j] == '"' || b[j] == '\'') {
		j++
	}
	for j < len(b) && (b[j] == ',' || b[j] == ' ' || b[j] == '\t') {
		j++
	}
	if j < len(b) && b[j] == '\r' {
		j++
	}
	if j < len(b) && b[j] == '\n' {
		j++
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
	}
	nq := j < len(b) && b[j] == '"'
	if nq {
		j++
	}
	if !bytes.HasPrefix(b[j:], []byte("value")) {
		return
	}
	a, ok := assignment(b, j+5, nq, 0)
	if !ok {
		return
	}
	return a.vs, a.ve, a.quoted, true
}
