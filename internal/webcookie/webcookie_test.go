package webcookie

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestJar_SetGet(t *testing.T) {
	tests := []struct {
		secure   bool
		wantName string
	}{
		{false, "sid"},
		{true, "__Host-sid"},
	}
	for _, tt := range tests {
		j := Jar{Secure: tt.secure}
		rec := httptest.NewRecorder()
		j.Set(rec, "sid", "v1", 0)
		cs := rec.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies %v", cs)
		}
		c := cs[0]
		if c.Name != tt.wantName || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tt.secure || c.Domain != "" {
			t.Fatalf("secure=%v: cookie %+v", tt.secure, c)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "sid", Value: "planted"})
		r.AddCookie(c)
		if got := j.Get(r, "sid", 10); got != "v1" && tt.secure {
			t.Fatalf("secure jar read %q, want the __Host- cookie", got)
		}
		if got := j.Get(r, "sid", 1); got != "" {
			t.Fatalf("a value over maxLen was read: %q", got)
		}
	}
}
