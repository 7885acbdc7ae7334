package cloudtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Options shape a fake's behaviour.
type Options struct {
	// Address returns the public IPv4 address of the n-th instance created
	// (from 0). Nil gives 192.0.2.<n+10> (TEST-NET-1). Tests that configure
	// the created hosts return the loopback addresses of fleet hosts.
	Address func(n int) string
	// PollsUntilRunning is how many reads of a new instance report it
	// pending before it is running, and how many reads of an action
	// (a DigitalOcean droplet action, a Linode resize) report it in
	// progress. Zero means 1.
	PollsUntilRunning int
	// HostKeys returns the SSH host keys (authorized_keys lines) a fake whose
	// API reports them (EC2's console output) shows for the n-th instance
	// created; nil shows none.
	HostKeys func(n int) []string
	// InstanceLimit is the account's droplet limit (the DigitalOcean fake
	// enforces it): a create beyond it is refused with 422. Zero is no limit.
	InstanceLimit int
}

func (o Options) address(n int) string {
	if o.Address != nil {
		return o.Address(n)
	}
	return fmt.Sprintf("192.0.2.%d", n+10)
}

func (o Options) polls() int {
	if o.PollsUntilRunning <= 0 {
		return 1
	}
	return o.PollsUntilRunning
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	v *validating // nil for EC2 (no official spec here)

	mu       sync.Mutex
	failures []injected
	requests int
	creates  int
	deletes  int
	limit    int
}

// SetInstanceLimit changes the account's instance limit (0: none), as if
// support had raised it.
func (s *Server) SetInstanceLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

type injected struct {
	status int
	body   string
	header http.Header
}

// Violations returns the requests and responses that did not validate
// against the official spec.
func (s *Server) Violations() []string {
	if s.v == nil {
		return nil
	}
	return s.v.Violations()
}

// FailNext makes the next n requests fail with status and the API's error
// body for it (e.g. 429 with a rate-limit message).
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, injected{status: status})
	}
}

// Counts returns the requests received and the instances created and
// deleted so far.
func (s *Server) Counts() (requests, creates, deletes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.creates, s.deletes
}

// takeFailure pops an injected failure, counting the request.
func (s *Server) takeFailure() (injected, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if len(s.failures) == 0 {
		return injected{}, false
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return f, true
}

// AssertValid fails t if any request or response did not validate.
func (s *Server) AssertValid(t testing.TB) {
	t.Helper()
	for _, v := range s.Violations() {
		t.Errorf("spec violation: %s", v)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func hasString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func validTag(t string) bool {
	return t != "" && !strings.ContainsAny(t, " \t\n")
}
