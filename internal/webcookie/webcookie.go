// Package webcookie writes and reads keyshift's browser cookies (the sign-in
// pages' session and CSRF cookies, the console's) one way: HttpOnly,
// SameSite=Lax, path "/", and on https Secure with the __Host- prefix
// (RFC 6265bis §4.1.3.2), which pins a cookie to this host so a sibling
// subdomain cannot plant one.
package webcookie

import "net/http"

// Jar names, sets and reads cookies for one origin.
type Jar struct {
	// Secure is true when the origin is https.
	Secure bool
}

// Name is the cookie name for base: __Host-base on https.
func (j Jar) Name(base string) string {
	if j.Secure {
		return "__Host-" + base
	}
	return base
}

// Set writes the cookie; maxAge < 0 deletes it, 0 makes a session cookie.
func (j Jar) Set(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: j.Name(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: j.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// Get returns the cookie's value, or "" when absent or longer than maxLen
// (no value of ours is longer; a huge one is not worth parsing).
func (j Jar) Get(r *http.Request, base string, maxLen int) string {
	c, err := r.Cookie(j.Name(base))
	if err != nil || len(c.Value) > maxLen {
		return ""
	}
	return c.Value
}
