package kubetest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Requests counts the API requests that pass through an http.RoundTripper
// it wraps ([Requests.Wrap], the shape of client-go's
// rest.Config.WrapTransport), by verb: get, list, watch, create, update,
// patch, delete, deletecollection (the apiserver's names, from the method
// and the query).
type Requests struct {
	mu sync.Mutex
	n  map[string]int
}

// Wrap returns rt counting into r.
func (r *Requests) Wrap(rt http.RoundTripper) http.RoundTripper {
	return countingTransport{r: r, rt: rt}
}

type countingTransport struct {
	r  *Requests
	rt http.RoundTripper
}

func (c countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.r.add(verb(req))
	return c.rt.RoundTrip(req)
}

func (r *Requests) add(v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[v]++
}

// verb is a request's verb: get (a list too: the path alone does not
// tell a collection from an object), watch, create, update, patch or
// delete, from the method and the query.
func verb(req *http.Request) string {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		if w := req.URL.Query().Get("watch"); w == "true" || w == "1" {
			return "watch"
		}
		return "get"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(req.Method)
}

// Counts returns the counts so far, by verb.
func (r *Requests) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.n)
}

// Writes returns how many requests so far were not reads (get, watch).
func (r *Requests) Writes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for v, c := range r.n {
		if v != "get" && v != "watch" {
			n += c
		}
	}
	return n
}

// Total returns how many requests there were so far.
func (r *Requests) Total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.n {
		n += c
	}
	return n
}

// Reset forgets the counts so far.
func (r *Requests) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.n)
}

// String lists the counts, "get=3 patch=1".
func (r *Requests) String() string {
	c := r.Counts()
	var b strings.Builder
	for _, v := range slices.Sorted(maps.Keys(c)) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", v, c[v])
	}
	return b.String()
}
