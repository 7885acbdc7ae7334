// Package cloudtest holds in-process, stateful fakes of the cloud APIs drover
// provisions on (DigitalOcean v2, Linode v4, EC2), for tests that drive the
// real SDKs with their base URL pointed at an httptest server.
//
// The DigitalOcean and Linode fakes validate every request they receive and
// every response they send against the provider's official OpenAPI spec
// (testdata/: trimmed to the operations served, gzipped JSON, Apache-2.0),
// with the spec's known defects patched at
// load (see patchDO and patchLinode). A request or response that does not
// validate is recorded as a violation; tests assert there are none.
package cloudtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/dlclark/regexp2"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

//go:embed testdata/*.json.gz
var specs embed.FS

// spec is a loaded, patched OpenAPI document and its router.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	specMu    sync.Mutex
	specCache = map[string]*spec{}
)

// loadSpec reads testdata/<name>.json.gz once per process and applies patch.
// The files are the official specs trimmed to the paths the fakes serve and
// the components those use, unchanged (tools/cloudmock/trim-spec.py).
func loadSpec(name string, patch func(*openapi3.T)) (*spec, error) {
	specMu.Lock()
	defer specMu.Unlock()
	if s := specCache[name]; s != nil {
		return s, nil
	}
	f, err := specs.Open("testdata/" + name + ".json.gz")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", name, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", name, err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", name, err)
	}
	if patch != nil {
		patch(doc)
	}
	// Serve the spec from any host: the fakes listen on loopback.
	doc.Servers = openapi3.Servers{{URL: "/"}}
	// The specs' own examples break their schemas (see the README of the
	// specs); what matters here is the schemas, so examples go unchecked.
	r, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation(),
		openapi3.DisableSchemaDefaultsValidation(), openapi3.SetRegexCompiler(ecmaRegexp))
	if err != nil {
		return nil, fmt.Errorf("spec %s: router: %w", name, err)
	}
	s := &spec{doc: doc, router: r}
	specCache[name] = s
	return s, nil
}

// ecmaRegexp compiles the spec's patterns as ECMAScript regular expressions
// (Linode's use look-ahead, which Go's RE2 cannot compile).
func ecmaRegexp(expr string) (openapi3.RegexMatcher, error) {
	re, err := regexp2.Compile(expr, regexp2.ECMAScript)
	if err != nil {
		return nil, err
	}
	return regexp2Matcher{re}, nil
}

type regexp2Matcher struct{ re *regexp2.Regexp }

func (m regexp2Matcher) MatchString(s string) bool {
	ok, err := m.re.MatchString(s)
	return err == nil && ok
}

// validating wraps a fake's handler: each request is validated before the
// handler sees it (an invalid one is answered 400 and recorded), and each
// response is validated before it is sent.
type validating struct {
	spec *spec
	next http.Handler

	mu         sync.Mutex
	violations []string
	requests   int
}

func (v *validating) violate(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.violations = append(v.violations, fmt.Sprintf(format, args...))
}

func (v *validating) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	v.requests++
	v.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := v.spec.router.FindRoute(r)
	if err != nil {
		v.violate("%s %s: no such operation in the spec: %v", r.Method, r.URL.Path, err)
		http.Error(w, "not in spec", http.StatusNotFound)
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		RegexCompiler:      ecmaRegexp,
		MultiError:         true,
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		v.violate("request %s %s %s: %v", r.Method, r.URL.Path, clip(body), err)
		http.Error(w, "request does not validate against the spec: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	v.next.ServeHTTP(rec, r)
	res := rec.Result()
	out := rec.Body.Bytes()
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(out)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		v.violate("response %d to %s %s %s: %v", res.StatusCode, r.Method, r.URL.Path, clip(out), err)
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	w.Write(out)
}

// Violations returns the requests and responses that did not validate.
func (v *validating) Violations() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.violations...)
}

// Requests counts the requests received.
func (v *validating) Requests() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.requests
}

// walkSchemas calls fn once for every schema reachable from the document.
func walkSchemas(doc *openapi3.T, fn func(*openapi3.Schema)) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		fn(s)
		for _, p := range s.Properties {
			walk(p)
		}
		for _, l := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range l {
				walk(x)
			}
		}
		walk(s.Items)
		walk(s.Not)
		walk(s.AdditionalProperties.Schema)
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, pi := range doc.Paths.Map() {
		for _, op := range pi.Operations() {
			for _, p := range append(op.Parameters, pi.Parameters...) {
				if p.Value != nil {
					walk(p.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, rr := range op.Responses.Map() {
				if rr.Value == nil {
					continue
				}
				for _, mt := range rr.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
}

func clip(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}
