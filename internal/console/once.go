package console

import (
	"crypto/hmac"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Credentials the console shows once (a new client secret, the secret of a
// converted key, a generated password, a webhook signing secret) are the
// result of a POST. Rendered in the POST's own answer, a reload of that page
// repeats the POST: a second client, a second rotation that pushes the
// secret just shown out of its slot, a second password reset. So the POST
// does its work, seals what must be shown into a short-lived cookie bound
// to the session and to the page it redirects to (303 See Other), and that
// page shows it and clears the cookie in the same answer. A reload shows
// the page without the credential and repeats nothing.
const (
	revealCookie = "keyshift_console_reveal"
	// revealTTL bounds how long a sealed credential waits for its page.
	revealTTL = 2 * time.Minute
	// maxRevealCookie keeps the cookie within what every browser stores
	// (4096 bytes per cookie, name and attributes included).
	maxRevealCookie = 3800
)

// Kinds of one-time reveals; each is also the page's "done" flash.
const (
	revealClientCreated = "client-created"
	revealSecretRotated = "secret-rotated"
	revealKeyConverted  = "key-converted"
	revealUserCreated   = "user-created"
	revealPasswordReset = "password-reset"
	revealWebhookSaved  = "webhook-saved"
)

// shownOnceNote is added to the flash of a page reached again after its
// credential was shown (a reload, the back button).
const shownOnceNote = " It was shown once and is not shown again."

type reveal struct {
	Kind    string          `json:"k"`
	Path    string          `json:"p"` // the only page that may show it
	Session string          `json:"s"` // the session's CSRF token: another session cannot use it
	Expires int64           `json:"e"`
	Data    json.RawMessage `json:"d"`
}

// revealAfterRedirect answers a POST that created a credential: it seals
// data for the page at path and redirects there. It reports false (and
// writes nothing) when data is too large for a cookie; the caller then
// renders the credential in this answer, as a last resort.
func (c *Console) revealAfterRedirect(w http.ResponseWriter, r *http.Request, v *visit, path, kind string, data any) (bool, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return false, err
	}
	sealed, err := c.seal(revealCookie, reveal{Kind: kind, Path: path, Session: v.csrf, Expires: c.now().Add(revealTTL).Unix(), Data: raw})
	if err != nil {
		return false, err
	}
	if len(sealed) > maxRevealCookie {
		return false, nil
	}
	c.setCookie(w, revealCookie, sealed, int(revealTTL/time.Second))
	http.Redirect(w, r, (&url.URL{Path: path, RawQuery: "done=" + kind}).String(), http.StatusSeeOther)
	return true, nil
}

// takeReveal fills into with the credential of kind that the POST before
// this page left for it, and clears it so that it is shown once. It must
// run before the page is written.
func (c *Console) takeReveal(w http.ResponseWriter, r *http.Request, v *visit, kind string, into any) bool {
	if c.cookie(r, revealCookie) == "" {
		return false
	}
	var rv reveal
	if !c.unseal(r, revealCookie, &rv) || c.now().Unix() > rv.Expires || !hmac.Equal([]byte(rv.Session), []byte(v.csrf)) {
		c.setCookie(w, revealCookie, "", -1) // of no use to anyone
		return false
	}
	if rv.Path != r.URL.Path || rv.Kind != kind {
		return false // for another page, or another kind on this one
	}
	c.setCookie(w, revealCookie, "", -1)
	return json.Unmarshal(rv.Data, into) == nil
}

// revealFlash is the flash of a page that may show the credential of kind
// once: the usual message, and a note when the page is reached again for
// that kind and the credential is no longer there.
func revealFlash(r *http.Request, kind string, shown bool) string {
	f := flash(r)
	if f != "" && !shown && r.URL.Query().Get("done") == kind && revealKinds[kind] {
		f += shownOnceNote
	}
	return f
}

var revealKinds = map[string]bool{
	revealClientCreated: true, revealSecretRotated: true, revealKeyConverted: true,
	revealUserCreated: true, revealPasswordReset: true, revealWebhookSaved: true,
}
