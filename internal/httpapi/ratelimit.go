package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Default rate limits (see [Config]). A client that polls a deployment once
// a second, or even five times a second, is never limited; a client that
// polls in a tight loop gets 429 after about a second.
const (
	// DefaultToolRate is the default sustained rate of requests per second
	// to one tool's routes, all credentials together.
	DefaultToolRate = 20
	// DefaultToolBurst is the default number of requests to one tool's
	// routes that may come at once.
	DefaultToolBurst = 40
	// DefaultPollRate is the default sustained rate of GET …/deployment/{id}
	// requests per second for one credential, tool and deployment.
	DefaultPollRate = 10
	// DefaultPollBurst is the default number of such requests that may come
	// at once.
	DefaultPollBurst = 10
)

const (
	// limiterIdle is how long a bucket may go untouched before a sweep drops
	// it. Any bucket this old has refilled, so dropping it changes nothing.
	limiterIdle = 10 * time.Minute
	// limiterSweepEvery is how often (by the limiter's clock) a request also
	// sweeps out idle buckets.
	limiterSweepEvery = time.Minute
	// limiterMaxBuckets bounds the memory of the limiter between sweeps.
	// When it is reached, buckets that have refilled are dropped; if none
	// has, requests that would need a new bucket are not limited by it
	// (existing, busy buckets keep limiting).
	limiterMaxBuckets = 100_000
)

// rateLimit is a token bucket's rate (tokens per second) and capacity. The
// zero rateLimit is off.
type rateLimit struct {
	rate  float64
	burst float64
}

func (l rateLimit) on() bool { return l.rate > 0 && l.burst > 0 }

// newRateLimit returns the limit of rate and burst, with 0 meaning the given
// defaults and a negative value meaning off.
func newRateLimit(rate float64, burst int, defRate float64, defBurst int) rateLimit {
	if rate < 0 || burst < 0 {
		return rateLimit{}
	}
	if rate == 0 {
		rate = defRate
	}
	if burst == 0 {
		burst = defBurst
	}
	return rateLimit{rate: rate, burst: float64(burst)}
}

// bucketKind says what a bucket counts.
type bucketKind uint8

const (
	toolBucket bucketKind = iota + 1 // all requests to one tool's routes
	pollBucket                       // GET …/deployment/{id} for one credential, tool and deployment
	// webhookBucket counts one tool's webhook deliveries, which carry no
	// credential (their signature is checked by the handler): anyone can
	// send them, so they never spend the tool's own budget.
	webhookBucket
)

// bucketKey names a bucket. Credentials are named by kind ("admin",
// "deploy") or by id ("tool-token:<id>"), never by their secret: a tool has
// one deploy token.
type bucketKey struct {
	kind       bucketKind
	credential string
	tool       string
	deployment string
}

// bucket is a token bucket; last is when it was last refilled (and touched).
type bucket struct {
	tokens float64
	last   time.Time
}

// refill adds the tokens earned since b.last, up to lim.burst.
func (b *bucket) refill(now time.Time, lim rateLimit) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(lim.burst, b.tokens+d.Seconds()*lim.rate)
		b.last = now
	}
}

// limiter holds the token buckets in memory. Its zero value is not usable;
// see newLimiter.
type limiter struct {
	now       func() time.Time
	tool      rateLimit
	poll      rateLimit
	mu        sync.Mutex
	buckets   map[bucketKey]*bucket
	lastSweep time.Time
}

func newLimiter(now func() time.Time, tool, poll rateLimit) *limiter {
	if now == nil {
		now = time.Now
	}
	return &limiter{now: now, tool: tool, poll: poll, buckets: map[bucketKey]*bucket{}}
}

// limitOf returns the limit of a bucket kind.
func (l *limiter) limitOf(k bucketKind) rateLimit {
	if k == pollBucket {
		return l.poll
	}
	return l.tool
}

// allow takes one token from each bucket of keys (whose limits are on), or
// none at all: when one of them is empty it returns false and how long until
// all of them have a token. A refused request costs nothing.
func (l *limiter) allow(keys ...bucketKey) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= limiterSweepEvery || now.Before(l.lastSweep) {
		l.sweep(now, false)
		l.lastSweep = now
	}
	var found [2]*bucket
	bs := found[:0]
	var wait time.Duration
	for _, k := range keys {
		lim := l.limitOf(k.kind)
		if !lim.on() {
			continue
		}
		b := l.buckets[k]
		if b == nil {
			if len(l.buckets) >= limiterMaxBuckets {
				l.sweep(now, true)
			}
			if len(l.buckets) >= limiterMaxBuckets {
				continue // fail open rather than grow without bound
			}
			b = &bucket{tokens: lim.burst, last: now}
			l.buckets[k] = b
		}
		b.refill(now, lim)
		if b.tokens < 1 {
			wait = max(wait, time.Duration((1-b.tokens)/lim.rate*float64(time.Second)))
		}
		bs = append(bs, b)
	}
	if wait > 0 {
		return false, wait
	}
	for _, b := range bs {
		b.tokens--
	}
	return true, 0
}

// sweep drops the buckets untouched for limiterIdle, and with full also
// those that have refilled (which are no different from a new bucket).
func (l *limiter) sweep(now time.Time, full bool) {
	for k, b := range l.buckets {
		if now.Sub(b.last) >= limiterIdle {
			delete(l.buckets, k)
			continue
		}
		if full {
			lim := l.limitOf(k.kind)
			b.refill(now, lim)
			if b.tokens >= lim.burst {
				delete(l.buckets, k)
			}
		}
	}
}

// len returns the number of buckets held.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// isPollRoute reports whether a route is the polling route,
// GET …/deployment/{deploy_id}.
func isPollRoute(method, path string) bool {
	return method == http.MethodGet && strings.HasSuffix(path, "/deployment/{deploy_id}")
}

// isWebhookRoute reports whether a route is the one forges post pushes
// to, POST /triggers/v1/tool/{tool}/webhook.
func isWebhookRoute(method, path string) bool {
	return method == http.MethodPost && strings.HasPrefix(path, "/triggers/") && strings.HasSuffix(path, "/webhook")
}

// rateLimited wraps the handler of a tool route (one with {tool} in its
// path) with the rate limits; other routes (healthz, openapi.json) are
// returned as they are. It must run after authentication, so that requests
// without a valid credential never spend a tool's budget.
func (a *api) rateLimited(method, path string, next http.Handler) http.Handler {
	if a.limits == nil || !strings.Contains(path, "{tool}") {
		return next
	}
	poll := isPollRoute(method, path)
	if !a.limits.tool.on() && (!poll || !a.limits.poll.on()) {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tool, err := toolName(r)
		if err != nil {
			next.ServeHTTP(w, r) // the handler answers the invalid name
			return
		}
		keys := [2]bucketKey{{kind: toolBucket, tool: tool}}
		if isWebhookRoute(method, path) {
			keys[0].kind = webhookBucket
		}
		n := 1
		if poll {
			keys[1] = bucketKey{kind: pollBucket, credential: credentialOf(r.Context()), tool: tool, deployment: r.PathValue("deploy_id")}
			n = 2
		}
		if ok, wait := a.limits.allow(keys[:n]...); !ok {
			secs := retryAfterSeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeErrorFor(w, r, http.StatusTooManyRequests,
				fmt.Sprintf("Too many requests for tool %s; retry in %d s", tool, secs))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// retryAfterSeconds rounds wait up to whole seconds, at least 1.
func retryAfterSeconds(wait time.Duration) int {
	secs := math.Ceil(wait.Seconds())
	if secs < 1 {
		return 1
	}
	if secs > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(secs)
}
