package clientip

import (
	"strings"
)

// parseForwarded parses Forwarded header values (RFC 7239 §4) into the
// chain of their for= nodes. An element without for=, or whose node is
// "unknown" or obfuscated (§6.2, §6.3), is a hidden node. Anything off the
// grammar is malformed.
func parseForwarded(values []string) ([]hop, error) {
	joined := strings.Join(values, ",")
	if len(joined) > maxHeaderLen {
		return nil, errMalformed
	}
	var out []hop
	p := fwdParser{s: joined}
	for {
		p.skipOWS()
		if p.done() {
			return nil, errMalformed // empty header or trailing comma
		}
		h, err := p.element()
		if err != nil {
			return nil, err
		}
		out = append(out, h)
		p.skipOWS()
		if p.done() {
			return out, nil
		}
		if p.s[p.i] != ',' {
			return nil, errMalformed
		}
		p.i++
	}
}

type fwdParser struct {
	s string
	i int
}

func (p *fwdParser) done() bool { return p.i >= len(p.s) }

func (p *fwdParser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// element parses pairs separated by ";" up to a "," or the end.
func (p *fwdParser) element() (hop, error) {
	var h hop
	seenFor := false
	for {
		p.skipOWS()
		name := p.token()
		if name == "" || p.done() || p.s[p.i] != '=' {
			return hop{}, errMalformed
		}
		p.i++
		value, ok := p.value()
		if !ok {
			return hop{}, errMalformed
		}
		if strings.EqualFold(name, "for") {
			if seenFor {
				return hop{}, errMalformed // RFC 7239 §4: each parameter once
			}
			seenFor = true
			switch {
			case strings.EqualFold(value, "unknown"), obfuscated(value):
			default:
				a, ok := parseNode(value, false)
				if !ok {
					return hop{}, errMalformed
				}
				h.addr = a
			}
		}
		p.skipOWS()
		if p.done() || p.s[p.i] == ',' {
			return h, nil
		}
		if p.s[p.i] != ';' {
			return hop{}, errMalformed
		}
		p.i++
	}
}

// token reads an RFC 7230 token.
func (p *fwdParser) token() string {
	start := p.i
	for !p.done() && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// value reads a token or a quoted-string (unescaped).
func (p *fwdParser) value() (string, bool) {
	if p.done() {
		return "", false
	}
	if p.s[p.i] != '"' {
		t := p.token()
		return t, t != ""
	}
	p.i++
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), true
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", false
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c < 0x20 && c != '\t' || c == 0x7f:
			return "", false
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", false // unterminated
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
