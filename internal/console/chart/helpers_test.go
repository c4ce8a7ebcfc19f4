package chart

import (
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// node is a parsed SVG element.
type node struct {
	name     string
	attrs    map[string]string
	children []*node
	text     string // character data directly inside, concatenated
	parent   *node
}

// parseSVG parses out with a strict XML decoder, failing the test on any
// error, so every test also checks well-formedness.
func parseSVG(t *testing.T, out string) *node {
	t.Helper()
	root, err := decodeSVG(out)
	if err != nil {
		t.Fatalf("output is not well-formed XML: %v\n%s", err, out)
	}
	return root
}

func decodeSVG(out string) (*node, error) {
	dec := xml.NewDecoder(strings.NewReader(out))
	dec.Strict = true
	var root, cur *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attrs: map[string]string{}, parent: cur}
			for _, a := range tok.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if cur == nil {
				if root != nil {
					return nil, errString("more than one root element")
				}
				root = n
			} else {
				cur.children = append(cur.children, n)
			}
			cur = n
		case xml.EndElement:
			cur = cur.parent
		case xml.CharData:
			if cur != nil {
				cur.text += string(tok)
			}
		}
	}
	if root == nil {
		return nil, errString("no root element")
	}
	return root, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// walk visits n and its descendants in document order.
func (n *node) walk(f func(*node)) {
	f(n)
	for _, c := range n.children {
		c.walk(f)
	}
}

// all returns the descendants (and n) named name, in document order.
func (n *node) all(name string) []*node {
	var out []*node
	n.walk(func(c *node) {
		if c.name == name {
			out = append(out, c)
		}
	})
	return out
}

func (n *node) hasClass(class string) bool {
	for _, c := range strings.Fields(n.attrs["class"]) {
		if c == class {
			return true
		}
	}
	return false
}

// byClass returns the elements carrying class, in document order.
func (n *node) byClass(class string) []*node {
	var out []*node
	n.walk(func(c *node) {
		if c.hasClass(class) {
			out = append(out, c)
		}
	})
	return out
}

// fullText is all character data inside n.
func (n *node) fullText() string {
	var b strings.Builder
	n.walk(func(c *node) { b.WriteString(c.text) })
	return strings.TrimSpace(b.String())
}

// texts returns the content of every <text> element.
func (n *node) texts() []string {
	var out []string
	for _, t := range n.all("text") {
		out = append(out, t.fullText())
	}
	return out
}

// title is the <title> child of n, or "".
func (n *node) title() string {
	for _, c := range n.children {
		if c.name == "title" {
			return c.text
		}
	}
	return ""
}

func (n *node) f(t *testing.T, attr string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attrs[attr], 64)
	if err != nil {
		t.Fatalf("<%s> attribute %s=%q: %v", n.name, attr, n.attrs[attr], err)
	}
	return v
}

type pt struct{ x, y float64 }

// pathPoints reads the coordinates of a path made of M and L commands.
func pathPoints(t *testing.T, d string) []pt {
	t.Helper()
	var out []pt
	fields := strings.Fields(d)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if f == "Z" {
			continue
		}
		if !strings.HasPrefix(f, "M") && !strings.HasPrefix(f, "L") || i+1 >= len(fields) {
			t.Fatalf("unexpected path token %q in %q", f, d)
		}
		x, err1 := strconv.ParseFloat(f[1:], 64)
		y, err2 := strconv.ParseFloat(fields[i+1], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad coordinates %q %q in %q", f, fields[i+1], d)
		}
		out = append(out, pt{x, y})
		i++
	}
	return out
}

// parseTick reverses formatTick: "1.5M" → 1500000.
func parseTick(t *testing.T, s string) int64 {
	t.Helper()
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			mult, s = float64(u.div), strings.TrimSuffix(s, u.suffix)
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("tick label %q is not a number", s)
	}
	return int64(math.Round(v * mult))
}

func near(a, b float64) bool { return math.Abs(a-b) <= 0.15 }
