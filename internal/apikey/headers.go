package apikey

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Header names of the deprecation signals.
const (
	HeaderDeprecation = "Deprecation" // RFC 9745
	HeaderSunset      = "Sunset"      // RFC 8594
	HeaderLink        = "Link"        // RFC 8288
)

// Headers returns the deprecation signals of a decision: see SetHeaders.
func Headers(d Decision, guideURL string) http.Header {
	h := make(http.Header, 3)
	SetHeaders(h, d, guideURL)
	return h
}

// SetHeaders writes the deprecation signals of a decision into h, for
// accepted and refused answers alike:
//
//	Deprecation: @1772323200
//	Sunset: Wed, 01 Jul 2026 00:00:00 GMT
//	Link: <guide>; rel="deprecation"; type="text/html", <guide>; rel="sunset"; type="text/html"
//
// Sunset is never earlier than Deprecation (RFC 8594 §3): should a timeline
// still say so, Sunset is moved to the Deprecation date. The Link relations
// are sent only with a guide URL and for the signals present, added to any
// Link the handler set. Platform keys' decisions carry no signals, so
// nothing is written for them.
func SetHeaders(h http.Header, d Decision, guideURL string) {
	// The guard calls this on every key request: the three values are built
	// in one buffer and share one string and one slice (two allocations).
	var buf [192]byte
	b := buf[:0]
	if d.Deprecation != nil {
		b = append(b, '@')
		b = strconv.AppendInt(b, d.Deprecation.Unix(), 10)
	}
	depEnd := len(b)
	if d.Sunset != nil {
		sunset := *d.Sunset
		if d.Deprecation != nil && sunset.Before(*d.Deprecation) {
			sunset = *d.Deprecation
		}
		b = sunset.UTC().AppendFormat(b, http.TimeFormat)
	}
	sunEnd := len(b)
	if guideURL != "" {
		if d.Deprecation != nil {
			b = append(b, '<')
			b = append(b, guideURL...)
			b = append(b, `>; rel="deprecation"; type="text/html"`...)
		}
		if d.Sunset != nil {
			if d.Deprecation != nil {
				b = append(b, ", "...)
			}
			b = append(b, '<')
			b = append(b, guideURL...)
			b = append(b, `>; rel="sunset"; type="text/html"`...)
		}
	}
	if len(b) == 0 {
		return
	}
	s := string(b)
	vals := make([]string, 0, 3)
	set := func(name, v string) {
		if v == "" {
			return
		}
		vals = append(vals, v)
		n := len(vals)
		h[name] = vals[n-1 : n : n]
	}
	set(HeaderDeprecation, s[:depEnd])
	set(HeaderSunset, s[depEnd:sunEnd])
	if link := s[sunEnd:]; link != "" {
		if prev := h[HeaderLink]; len(prev) > 0 {
			h[HeaderLink] = append(prev, link) // keep the handler's own links
		} else {
			set(HeaderLink, link)
		}
	}
}

// refusal is the JSON body of a refused key, as DESIGN.md gives it.
type refusal struct {
	Error             string `json:"error"`
	ErrorDescription  string `json:"error_description"`
	Sunset            string `json:"sunset,omitempty"`
	MigrationGuideURL string `json:"migration_guide_url,omitempty"`
}

// RefusalBody returns the JSON body answering a refused key (sent with HTTP
// 401):
//
//	{"error": "api_key_sunset", "error_description": "…",
//	 "sunset": "2026-07-01T00:00:00Z", "migration_guide_url": "https://…"}
//
// sunset and migration_guide_url are left out when unknown. The description
// adds the relevant dates to the decision's reason. For an accepted decision
// it returns nil: there is nothing to refuse.
func RefusalBody(d Decision, guideURL string) []byte {
	if d.Accepted {
		return nil
	}
	r := refusal{Error: d.Code, ErrorDescription: describe(d), MigrationGuideURL: guideURL}
	if d.Sunset != nil {
		r.Sunset = d.Sunset.UTC().Format(time.RFC3339)
	}
	body, err := json.Marshal(r)
	if err != nil {
		// Only strings are marshalled; this cannot fail.
		panic("apikey: marshal refusal: " + err.Error())
	}
	return body
}

// describe returns the reason with the dates that make it actionable.
func describe(d Decision) string {
	s := d.Reason
	if s == "" {
		s = "The API key is refused."
	}
	switch {
	case d.Code == CodeBrownout && d.BrownoutEnd != nil:
		s += " The brownout ends at " + d.BrownoutEnd.UTC().Format(time.RFC3339) + "."
		if d.Sunset != nil {
			s += " API keys stop working for good at " + d.Sunset.UTC().Format(time.RFC3339) + "."
		}
	case d.Code == CodeSunset && d.Sunset != nil:
		s += " They stopped being accepted at " + d.Sunset.UTC().Format(time.RFC3339) + "."
	}
	return s
}
