package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"slipway.dev/slipway/internal/auth"
	"slipway.dev/slipway/internal/store/sqlite"
)

// seededID is the ID of the deployment that seed creates.
const seededID = "20261122-130049-x5ucaa3ign"

const pollPath = "/components/v1/tool/mytool/deployment/" + seededID

// setupLimited returns a handler over a fakeService, with real deploy tokens,
// whose rate limits (cfg's, the defaults unless set) run on a settable clock
// that only moves when the test moves it. seed has run: "mytool" has a config
// and deployment seededID.
func setupLimited(t *testing.T, cfg Config) *tokenBundle {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "slipway.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	clock := &testClock{t: time.Date(2026, 11, 22, 13, 0, 50, 0, time.UTC)}
	tokens, err := auth.New(db, bytes.Repeat([]byte{7}, auth.KeySize), clock.now)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminToken = testToken
	cfg.DeployTokens = tokens
	cfg.NowFunc = clock.now
	svc := newFakeService()
	b := &tokenBundle{testBundle: &testBundle{svc: svc, handler: NewHandler(svc, cfg)}, tokens: tokens, clock: clock}
	// Off the clock: seeding must not spend the budget the tests measure.
	b.clock.add(-time.Hour)
	b.seed(t)
	b.clock.add(time.Hour)
	return b
}

// tooMany is the 429 body for tool after secs.
func tooMany(tool string, secs int) string {
	return fmt.Sprintf(`{"messages":{"error":["Too many requests for tool %s; retry in %d s"],"info":[],"warning":[]}}`+"\n", tool, secs)
}

// check429 checks a 429 response: the status line, Retry-After and the body.
func check429(t *testing.T, w *httptest.ResponseRecorder, tool string, wantSecs int) {
	t.Helper()
	resp := w.Result()
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", resp.StatusCode)
	}
	if got := http.StatusText(resp.StatusCode); got != "Too Many Requests" {
		t.Errorf("reason phrase %q", got)
	}
	ra := resp.Header.Get("Retry-After")
	secs, err := strconv.Atoi(ra)
	if err != nil || secs < 1 {
		t.Errorf("Retry-After %q, want a positive whole number of seconds", ra)
	}
	if wantSecs > 0 && secs != wantSecs {
		t.Errorf("Retry-After %d, want %d", secs, wantSecs)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if diff := cmp.Diff(tooMany(tool, secs), body.String()); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

// TestRateLimit_PollingNeverLimited polls one deployment for 60 simulated
// seconds, with the admin token and with the deploy token, once a second and
// five times a second: never a 429.
func TestRateLimit_PollingNeverLimited(t *testing.T) {
	t.Parallel()
	for _, perSecond := range []int{1, 5} {
		for _, cred := range []string{"admin", "deploy"} {
			t.Run(fmt.Sprintf("%s/%dPerSecond", cred, perSecond), func(t *testing.T) {
				t.Parallel()
				b := setupLimited(t, Config{})
				req := request{method: "GET", path: pollPath}
				if cred == "deploy" {
					req = request{method: "GET", path: pollPath + "?token=" + b.createToken(t, "mytool"), noAuth: true}
				}
				step := time.Second / time.Duration(perSecond)
				for i := range 60 * perSecond {
					if w := b.do(t, req); w.Code != http.StatusOK {
						t.Fatalf("request %d at %v: %d %s", i, time.Duration(i)*step, w.Code, w.Body)
					}
					b.clock.add(step)
				}
			})
		}
	}
}

// TestRateLimit_Flood sends 100 requests for one deployment in one instant:
// the burst (10) gets through, the rest get 429, and a second later polling
// works again.
func TestRateLimit_Flood(t *testing.T) {
	t.Parallel()
	b := setupLimited(t, Config{})
	ok := 0
	for i := range 100 {
		w := b.do(t, request{method: "GET", path: pollPath})
		if w.Code == http.StatusOK {
			if i >= DefaultPollBurst {
				t.Fatalf("request %d: 200 after the burst", i)
			}
			ok++
			continue
		}
		if i < DefaultPollBurst {
			t.Fatalf("request %d: %d within the burst: %s", i, w.Code, w.Body)
		}
		check429(t, w, "mytool", 1)
	}
	if ok != DefaultPollBurst {
		t.Errorf("%d requests got through, want %d", ok, DefaultPollBurst)
	}
	// The refused requests spent nothing of the tool's budget: the other
	// routes of the tool still have their burst minus the 10 polls.
	for i := range DefaultToolBurst - DefaultPollBurst {
		if w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/deployment"}); w.Code != http.StatusOK {
			t.Fatalf("list %d: %d %s", i, w.Code, w.Body)
		}
	}
	check429(t, b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/deployment"}), "mytool", 1)

	b.clock.add(time.Second)
	if w := b.do(t, request{method: "GET", path: pollPath}); w.Code != http.StatusOK {
		t.Fatalf("after a second: %d %s", w.Code, w.Body)
	}
}

// TestRateLimit_PerCredential: the deploy token and the admin token poll
// the same deployment from separate buckets; the unprefixed path shares the
// prefixed one's.
func TestRateLimit_PerCredential(t *testing.T) {
	t.Parallel()
	b := setupLimited(t, Config{})
	token := b.createToken(t, "mytool")
	viaToken := request{method: "GET", path: "/v1/tool/mytool/deployment/" + seededID + "?token=" + token, noAuth: true}
	for i := range DefaultPollBurst {
		if w := b.do(t, viaToken); w.Code != http.StatusOK {
			t.Fatalf("deploy token %d: %d %s", i, w.Code, w.Body)
		}
	}
	check429(t, b.do(t, request{method: "GET", path: pollPath + "?token=" + token, noAuth: true}), "mytool", 1)
	if w := b.do(t, request{method: "GET", path: pollPath}); w.Code != http.StatusOK {
		t.Fatalf("admin after the deploy token's flood: %d %s", w.Code, w.Body)
	}
}

// TestRateLimit_ToolsAreSeparate floods one tool's routes; another tool is
// not limited.
func TestRateLimit_ToolsAreSeparate(t *testing.T) {
	t.Parallel()
	b := setupLimited(t, Config{})
	for i := range 100 {
		w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/deployment"})
		if i < DefaultToolBurst && w.Code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
		if i >= DefaultToolBurst {
			check429(t, w, "mytool", 1)
		}
	}
	for i := range DefaultToolBurst {
		if w := b.do(t, request{method: "GET", path: "/components/v1/tool/othertool/deployment"}); w.Code != http.StatusOK {
			t.Fatalf("other tool, request %d: %d %s", i, w.Code, w.Body)
		}
	}
	// Polling is within the tool's budget too.
	check429(t, b.do(t, request{method: "GET", path: pollPath}), "mytool", 1)
}

// TestRateLimit_UnauthenticatedNotCounted floods a tool's routes without a
// valid credential: all 401, and the tool's budget is untouched.
func TestRateLimit_UnauthenticatedNotCounted(t *testing.T) {
	t.Parallel()
	b := setupLimited(t, Config{})
	b.createToken(t, "mytool")
	b.clock.add(time.Minute) // the token's creation is forgotten
	strangers := []request{
		{method: "GET", path: "/components/v1/tool/mytool/deployment", noAuth: true},
		{method: "GET", path: "/components/v1/tool/mytool/config", header: map[string]string{"Authorization": "Bearer nope"}},
		{method: "GET", path: pollPath, noAuth: true},
		{method: "GET", path: pollPath + "?token=00000000-0000-4000-8000-000000000000", noAuth: true},
		{method: "GET", path: pollPath, header: map[string]string{"Authorization": "Bearer nope"}},
		{method: "POST", path: "/components/v1/tool/mytool/deployment?token=nope", noAuth: true},
	}
	for _, req := range strangers {
		for i := range 100 {
			if w := b.do(t, req); w.Code != http.StatusUnauthorized {
				t.Fatalf("%s %s, request %d: %d %s", req.method, req.path, i, w.Code, w.Body)
			}
		}
	}
	for i := range DefaultPollBurst {
		if w := b.do(t, request{method: "GET", path: pollPath}); w.Code != http.StatusOK {
			t.Fatalf("poll %d: %d %s", i, w.Code, w.Body)
		}
	}
	for i := range DefaultToolBurst - DefaultPollBurst {
		if w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/config"}); w.Code != http.StatusOK {
			t.Fatalf("config %d: %d %s", i, w.Code, w.Body)
		}
	}
	check429(t, b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/config"}), "mytool", 1)
}

// TestRateLimit_PublicRoutes: healthz and openapi.json are never limited.
func TestRateLimit_PublicRoutes(t *testing.T) {
	t.Parallel()
	b := setupLimited(t, Config{})
	for _, path := range []string{"/components/v1/healthz", "/v1/healthz", "/openapi.json"} {
		for i := range 200 {
			if w := b.do(t, request{method: "GET", path: path, noAuth: true}); w.Code != http.StatusOK {
				t.Fatalf("%s, request %d: %d", path, i, w.Code)
			}
		}
	}
}

// TestRateLimit_Settings: explicit rates and bursts, whole-second
// Retry-After rounded up, and negative values turning limits off.
func TestRateLimit_Settings(t *testing.T) {
	t.Parallel()
	t.Run("Slow", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t, Config{PollRate: 0.4, PollBurst: 2})
		for range 2 {
			if w := b.do(t, request{method: "GET", path: pollPath}); w.Code != http.StatusOK {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		check429(t, b.do(t, request{method: "GET", path: pollPath}), "mytool", 3) // 2.5 s, rounded up
		b.clock.add(2 * time.Second)
		check429(t, b.do(t, request{method: "GET", path: pollPath}), "mytool", 1) // 0.5 s
		b.clock.add(500 * time.Millisecond)
		if w := b.do(t, request{method: "GET", path: pollPath}); w.Code != http.StatusOK {
			t.Fatalf("after 2.5 s: %d %s", w.Code, w.Body)
		}
	})
	t.Run("Off", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t, Config{ToolRate: -1, PollBurst: -1})
		for i := range 500 {
			if w := b.do(t, request{method: "GET", path: pollPath}); w.Code != http.StatusOK {
				t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
			}
		}
	})
	t.Run("ToolOffPollOn", func(t *testing.T) {
		t.Parallel()
		b := setupLimited(t, Config{ToolBurst: -1})
		for i := range 500 {
			if w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/deployment"}); w.Code != http.StatusOK {
				t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
			}
		}
		for range DefaultPollBurst {
			b.do(t, request{method: "GET", path: pollPath})
		}
		check429(t, b.do(t, request{method: "GET", path: pollPath}), "mytool", 1)
	})
}

// TestLimiter_Eviction: buckets untouched for limiterIdle are dropped by the
// next sweep; busy ones stay, and keep their state.
func TestLimiter_Eviction(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)}
	l := newLimiter(clock.now, rateLimit{rate: 20, burst: 40}, rateLimit{rate: 10, burst: 10})
	for i := range 1000 {
		if ok, _ := l.allow(bucketKey{kind: toolBucket, tool: "t"}, bucketKey{kind: pollBucket, credential: "admin", tool: "t", deployment: strconv.Itoa(i)}); !ok && i < 40 {
			t.Fatalf("request %d refused", i)
		}
	}
	if n := l.len(); n != 1001 {
		t.Fatalf("%d buckets, want 1001", n)
	}
	busy := bucketKey{kind: pollBucket, credential: "deploy", tool: "busy", deployment: "1"}
	for range limiterIdle / limiterSweepEvery {
		clock.add(limiterSweepEvery)
		for range DefaultPollBurst {
			l.allow(busy)
		}
	}
	if n := l.len(); n != 1 {
		t.Errorf("%d buckets after %v, want the busy one only", n, limiterIdle)
	}
	if ok, _ := l.allow(busy); ok {
		t.Error("the busy bucket lost its state")
	}
}

// TestLimiter_Bounded: at limiterMaxBuckets, buckets that have refilled
// make room; when none has, new keys are let through without a bucket.
func TestLimiter_Bounded(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)}
	l := newLimiter(clock.now, rateLimit{rate: 20, burst: 40}, rateLimit{rate: 10, burst: 10})
	key := func(i int) bucketKey {
		return bucketKey{kind: pollBucket, credential: "admin", tool: "t", deployment: strconv.Itoa(i)}
	}
	for i := range limiterMaxBuckets {
		l.allow(key(i))
	}
	if ok, _ := l.allow(key(-1)); !ok || l.len() != limiterMaxBuckets {
		t.Fatalf("over the cap: allowed %v with %d buckets", ok, l.len())
	}
	clock.add(time.Second) // all refilled, none idle
	l.allow(key(-1))
	if n := l.len(); n != 1 {
		t.Errorf("%d buckets, want 1", n)
	}
}

// TestRateLimit_WebhookHasItsOwnBudget floods a tool's webhook route,
// which anyone may post to: the flood is limited in a bucket of its own,
// and the tool's API budget is untouched.
func TestRateLimit_WebhookHasItsOwnBudget(t *testing.T) {
	t.Parallel()
	b := setupLimited(t, Config{})
	hook := request{method: "POST", path: "/triggers/v1/tool/mytool/webhook", body: "{}", noAuth: true}
	for i := range DefaultToolBurst {
		// No Webhooks service in this handler: 503, but the request counted.
		if w := b.do(t, hook); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("delivery %d: %d %s", i, w.Code, w.Body)
		}
	}
	check429(t, b.do(t, hook), "mytool", 1)
	for i := range DefaultToolBurst {
		if w := b.do(t, request{method: "GET", path: "/components/v1/tool/mytool/config"}); w.Code != http.StatusOK {
			t.Fatalf("config %d after the webhook flood: %d %s", i, w.Code, w.Body)
		}
	}
}
