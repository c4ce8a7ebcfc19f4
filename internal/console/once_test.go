package console

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestReveal_ShownOnceOnlyOnItsPageInItsSession: the sealed credential is
// read by the page it was meant for, in the session that made it, before
// it expires, and once.
func TestReveal_ShownOnceOnlyOnItsPageInItsSession(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	c := &Console{cfg: Config{Now: func() time.Time { return now }}, secrets: consoleKeys{flow: make([]byte, 32)}}
	alice := &visit{csrf: "alice-session-csrf"}
	const page = "/console/t/acme/users"

	// The POST seals the password and redirects.
	post := httptest.NewRecorder()
	ok, err := c.revealAfterRedirect(post, httptest.NewRequest(http.MethodPost, page, nil), alice, page, revealUserCreated, map[string]string{"password": "pw-1"})
	if err != nil || !ok {
		t.Fatalf("revealAfterRedirect = %v, %v", ok, err)
	}
	if post.Code != http.StatusSeeOther || post.Header().Get("Location") != page+"?done="+revealUserCreated {
		t.Fatalf("POST answered %d to %q, want 303 to the page", post.Code, post.Header().Get("Location"))
	}
	sealed := post.Result().Cookies()[0]

	get := func(path string, v *visit, kind string, at time.Time) (string, *httptest.ResponseRecorder) {
		now = at
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.AddCookie(sealed)
		w := httptest.NewRecorder()
		var got struct{ Password string }
		c.takeReveal(w, r, v, kind, &got)
		return got.Password, w
	}
	tests := []struct {
		name string
		path string
		v    *visit
		kind string
		at   time.Time
		want string
	}{
		{"another page", "/console/t/acme/keys", alice, revealUserCreated, now, ""},
		{"another kind", page, alice, revealPasswordReset, now, ""},
		{"another session", page, &visit{csrf: "mallory-session-csrf"}, revealUserCreated, now, ""},
		{"expired", page, alice, revealUserCreated, now.Add(revealTTL + time.Second), ""},
		{"its page, session and kind", page, alice, revealUserCreated, now, "pw-1"},
	}
	for _, tt := range tests {
		got, w := get(tt.path, tt.v, tt.kind, tt.at)
		if got != tt.want {
			t.Errorf("%s: revealed %q, want %q", tt.name, got, tt.want)
		}
		if tt.want != "" {
			cleared := false
			for _, ck := range w.Result().Cookies() {
				cleared = cleared || ck.Name == revealCookie && ck.MaxAge < 0
			}
			if !cleared {
				t.Errorf("%s: the cookie was not cleared when the credential was shown", tt.name)
			}
		}
	}
}
