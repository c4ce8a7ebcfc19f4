package notify_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/notify"
)

// A receiver checks the signature on the raw body before decoding it, and
// deduplicates on the event id (delivery is at least once).
func ExampleVerify() {
	const secret = "whs_testsecret" // as returned once by SetWebhook
	seen := map[string]bool{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := notify.Verify(secret, r.Header.Get(notify.HeaderSignature), body, time.Now(), 0); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(notify.HeaderEventID)
		if !seen[id] {
			seen[id] = true
			fmt.Println("handling", id)
		}
		w.WriteHeader(http.StatusNoContent)
	})

	body := `{"id":"evt_1","topic":"key.disabled","tenant":"acme","created_at":"2026-11-27T06:00:00Z","data":{}}`
	for _, sig := range []string{notify.Sign(time.Now(), []byte(body), secret), notify.Sign(time.Now(), []byte(body), secret), "t=1,v1=00"} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/keyshift", strings.NewReader(body))
		req.Header.Set(notify.HeaderSignature, sig)
		req.Header.Set(notify.HeaderEventID, "evt_1")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// handling evt_1
	// 204
	// 204
	// 401
}
