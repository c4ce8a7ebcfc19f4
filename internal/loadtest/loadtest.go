// Package loadtest drives client_credentials token requests at a server over
// keep-alive connections and reports throughput and latency. It also provides
// the baseline every figure is compared with: a bare net/http handler that
// parses the same form and makes one ES256 signature per request, so results
// are ratios measured in the same run on the same (shared, noisy) machine.
package loadtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Target is a token endpoint and the client credentials to use at it.
type Target struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scope        string
}

// Options bound a run.
type Options struct {
	Duration    time.Duration // default 10 s
	Concurrency int           // default 16
}

// Result summarises a run.
type Result struct {
	Requests  int
	Errors    int
	Elapsed   time.Duration
	PerSecond float64
	P50, P99  time.Duration
	latencies []time.Duration // sorted; kept so rounds can be merged
}

// merge adds the requests of another run to r.
func (r Result) merge(o Result) Result {
	all := append(append([]time.Duration(nil), r.latencies...), o.latencies...)
	slices.Sort(all)
	return summarise(all, r.Errors+o.Errors, r.Elapsed+o.Elapsed)
}

func summarise(sorted []time.Duration, errs int, elapsed time.Duration) Result {
	res := Result{Requests: len(sorted), Errors: errs, Elapsed: elapsed, latencies: sorted}
	if elapsed > 0 {
		res.PerSecond = float64(len(sorted)) / elapsed.Seconds()
	}
	if len(sorted) > 0 {
		res.P50 = sorted[len(sorted)/2]
		res.P99 = sorted[len(sorted)*99/100]
	}
	return res
}

// Compare loads a and b in alternating rounds of one second each until each
// has had opts.Duration, so that load from elsewhere on a shared machine
// falls on both alike. It returns the merged result of each.
func Compare(ctx context.Context, a, b Target, opts Options) (Result, Result, error) {
	if opts.Duration <= 0 {
		opts.Duration = 10 * time.Second
	}
	round := opts
	round.Duration = time.Second
	var ra, rb Result
	for done := time.Duration(0); done < opts.Duration; done += round.Duration {
		x, err := Run(ctx, a, round)
		if err != nil {
			return Result{}, Result{}, err
		}
		y, err := Run(ctx, b, round)
		if err != nil {
			return Result{}, Result{}, err
		}
		ra, rb = ra.merge(x), rb.merge(y)
	}
	return ra, rb, nil
}

func (r Result) String() string {
	return fmt.Sprintf("%9.0f tokens/s  p50 %7s  p99 %7s  (%d ok, %d errors)",
		r.PerSecond, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Requests, r.Errors)
}

// Run sends token requests until opts.Duration has passed or ctx is done.
func Run(ctx context.Context, t Target, opts Options) (Result, error) {
	if opts.Duration <= 0 {
		opts.Duration = 10 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	tr := &http.Transport{MaxIdleConns: opts.Concurrency, MaxIdleConnsPerHost: opts.Concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	form := url.Values{"grant_type": {"client_credentials"}}
	if t.Scope != "" {
		form.Set("scope", t.Scope)
	}
	body := form.Encode()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(t.ClientID)+":"+url.QueryEscape(t.ClientSecret)))

	// One warm-up request checks the target before the clock starts.
	if err := tokenRequest(ctx, hc, t.TokenURL, basic, body); err != nil {
		return Result{}, fmt.Errorf("warm-up request to %s: %w", t.TokenURL, err)
	}
	runCtx, cancel := context.WithTimeout(ctx, opts.Duration)
	defer cancel()
	type workerResult struct {
		lat  []time.Duration
		errs int
	}
	results := make([]workerResult, opts.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := workerResult{lat: make([]time.Duration, 0, 1<<14)}
			for runCtx.Err() == nil {
				t0 := time.Now()
				if err := tokenRequest(runCtx, hc, t.TokenURL, basic, body); err != nil {
					if runCtx.Err() == nil {
						wr.errs++
					}
					continue
				}
				wr.lat = append(wr.lat, time.Since(t0))
			}
			results[i] = wr
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	errs := 0
	for _, wr := range results {
		all = append(all, wr.lat...)
		errs += wr.errs
	}
	slices.Sort(all)
	return summarise(all, errs, elapsed), nil
}

func tokenRequest(ctx context.Context, hc *http.Client, tokenURL, basic, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basic)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return fmt.Errorf("decode token response: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return fmt.Errorf("token endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// BaselineHandler is the yardstick: it parses the same form, reads the
// Basic credentials and makes one ES256 signature over a JWT-sized payload,
// with none of the checks a real authorization server makes.
func BaselineHandler() http.Handler {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("generate baseline key: " + err.Error())
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"at+jwt","kid":"baseline"}`))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		id, _, ok := r.BasicAuth()
		if !ok {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		now := time.Now().Unix()
		payload, _ := json.Marshal(map[string]any{"iss": "http://baseline", "sub": id, "client_id": id,
			"aud": "http://baseline", "iat": now, "exp": now + 86400, "jti": fmt.Sprint(now), "scope": r.PostForm.Get("scope")})
		signing := header + "." + base64.RawURLEncoding.EncodeToString(payload)
		sum := sha256.Sum256([]byte(signing))
		rr, ss, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		sig := make([]byte, 64)
		rr.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
		token := signing + "." + base64.RawURLEncoding.EncodeToString(sig)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 86400})
	})
}
