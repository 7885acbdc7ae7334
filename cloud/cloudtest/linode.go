package cloudtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

var (
	linodeRegions = []string{"us-east", "eu-central", "eu-west", "ap-south"}
	linodeTypes   = map[string][3]int{ // memory MB, vcpus, disk MB
		"g6-nanode-1": {1024, 1, 25600}, "g6-standard-1": {2048, 1, 51200}, "g6-standard-2": {4096, 2, 81920},
	}
	linodeImages = []string{"linode/debian12", "linode/ubuntu24.04", "linode/ubuntu22.04"}
)

// patchLinode fixes the Linode spec's known defects (see
// shared/apispecs/README.md):
//   - the X-Filter header is a JSON string, not an object;
//   - allOf groups whose first member forbids additional properties and whose
//     others add properties can never match under strict JSON Schema: they are
//     merged into one schema;
//   - timestamps carry no UTC offset ("2018-01-01T00:01:01"), which is the
//     real API's format and what linodego parses: date-time is relaxed.
func patchLinode(doc *openapi3.T) {
	for _, pi := range doc.Paths.Map() {
		for _, op := range pi.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil && p.Value.Name == "X-Filter" && p.Value.In == "header" {
					p.Value.Schema = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
				}
			}
		}
	}
	walkSchemas(doc, func(s *openapi3.Schema) {
		if s.Format == "date-time" {
			s.Format = ""
			s.Pattern = `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}`
		}
		if len(s.AllOf) < 2 {
			return
		}
		closed := false
		for _, m := range s.AllOf {
			if m.Value != nil && m.Value.AdditionalProperties.Has != nil && !*m.Value.AdditionalProperties.Has {
				closed = true
			}
		}
		if !closed {
			return
		}
		merged := openapi3.Schemas{}
		var required []string
		for _, m := range s.AllOf {
			if m.Value == nil {
				continue
			}
			for k, v := range m.Value.Properties {
				merged[k] = v
			}
			for _, r := range m.Value.Required {
				if !hasString(required, r) {
					required = append(required, r)
				}
			}
		}
		no := false
		s.AllOf = nil
		s.Type = &openapi3.Types{openapi3.TypeObject}
		s.Properties = merged
		s.Required = required
		s.AdditionalProperties = openapi3.AdditionalProperties{Has: &no}
	})
}

type linode struct {
	id       int
	label    string
	region   string
	typ      string
	image    string
	tags     []string
	addr     string
	polls    int
	resizing *linodeEvent // the resize in progress
	created  time.Time
	userData bool
}

// linodeEvent is an account event: the fake makes one per resize
// ("linode_resize"), which finishes after Options.PollsUntilRunning reads of
// the event or of the Linode, when the Linode takes its new type.
type linodeEvent struct {
	id      int
	linode  *linode
	newType string
	polls   int
	status  string
	created time.Time
}

type linodeFake struct {
	srv     *Server
	opts    Options
	linodes map[int]*linode
	nextID  int
	events  []*linodeEvent
}

// NewLinode starts a fake Linode API v4. Point linodego at its URL (the
// client adds /v4).
func NewLinode(opts Options) (*Server, error) {
	sp, err := loadSpec("linode-v4.openapi", patchLinode)
	if err != nil {
		return nil, err
	}
	f := &linodeFake{opts: opts, linodes: map[int]*linode{}, nextID: 123}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v4/linode/instances", f.create)
	mux.HandleFunc("GET /v4/linode/instances", f.list)
	mux.HandleFunc("GET /v4/linode/instances/{id}", f.get)
	mux.HandleFunc("DELETE /v4/linode/instances/{id}", f.delete)
	mux.HandleFunc("POST /v4/linode/instances/{id}/resize", f.resize)
	mux.HandleFunc("GET /v4/account/events", f.listEvents)
	mux.HandleFunc("GET /v4/account/events/{id}", f.getEvent)
	s := &Server{}
	f.srv = s
	s.v = &validating{spec: sp, next: f.withFailures(mux)}
	s.Server = httptest.NewServer(s.v)
	return s, nil
}

func linodeError(w http.ResponseWriter, status int, field, reason string) {
	e := map[string]any{"reason": reason}
	if field != "" {
		e["field"] = field
	}
	writeJSON(w, status, map[string]any{"errors": []any{e}})
}

func (f *linodeFake) withFailures(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail, ok := f.srv.takeFailure(); ok {
			if fail.status == 429 {
				w.Header().Set("Retry-After", "1")
				linodeError(w, 429, "", "Too many requests")
			} else {
				linodeError(w, fail.status, "", "Please try again")
			}
			return
		}
		f.srv.mu.Lock()
		defer f.srv.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (f *linodeFake) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Label    string   `json:"label"`
		Region   string   `json:"region"`
		Type     string   `json:"type"`
		Image    string   `json:"image"`
		RootPass string   `json:"root_pass"`
		Keys     []string `json:"authorized_keys"`
		Tags     []string `json:"tags"`
		Metadata *struct {
			UserData string `json:"user_data"`
		} `json:"metadata"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		linodeError(w, 400, "", err.Error())
		return
	}
	switch {
	case !hasString(linodeRegions, req.Region):
		linodeError(w, 400, "region", "region is not valid")
		return
	case linodeTypes[req.Type] == [3]int{}:
		linodeError(w, 400, "type", "A valid plan type by that ID was not found")
		return
	case req.Image != "" && !hasString(linodeImages, req.Image):
		linodeError(w, 400, "image", "image is not valid")
		return
	case req.Image != "" && req.RootPass == "":
		linodeError(w, 400, "root_pass", "root_pass is required when deploying an image")
		return
	}
	for _, l := range f.linodes {
		if l.label == req.Label {
			linodeError(w, 400, "label", "Label must be unique among your Linodes")
			return
		}
	}
	for _, t := range req.Tags {
		if len(t) < 3 || len(t) > 50 {
			linodeError(w, 400, "tags", fmt.Sprintf("tag %q must be 3-50 characters", t))
			return
		}
	}
	l := &linode{
		id: f.nextID, label: req.Label, region: req.Region, typ: req.Type, image: req.Image,
		tags: append([]string{}, req.Tags...), addr: f.opts.address(f.srv.creates),
		polls: f.opts.polls(), created: time.Now().UTC().Truncate(time.Second),
		userData: req.Metadata != nil && req.Metadata.UserData != "",
	}
	if l.label == "" {
		l.label = fmt.Sprintf("linode%d", l.id)
	}
	f.nextID++
	f.srv.creates++
	f.linodes[l.id] = l
	writeJSON(w, 200, f.json(l, true))
}

// xFilter reads the X-Filter header (a JSON object), answering 400 when it
// is not one.
func xFilter(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var filter map[string]any
	if x := r.Header.Get("X-Filter"); x != "" {
		if err := json.Unmarshal([]byte(x), &filter); err != nil {
			linodeError(w, 400, "X-Filter", "Cannot parse filter: "+err.Error())
			return nil, false
		}
	}
	return filter, true
}

// list serves the part of X-Filter the fake understands: {"tags": "t"} and
// {"label": "l"}.
func (f *linodeFake) list(w http.ResponseWriter, r *http.Request) {
	filter, ok := xFilter(w, r)
	if !ok {
		return
	}
	ids := make([]int, 0, len(f.linodes))
	for id := range f.linodes {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := []any{}
	for _, id := range ids {
		l := f.linodes[id]
		if t, ok := filter["tags"].(string); ok && !hasString(l.tags, t) {
			continue
		}
		if lb, ok := filter["label"].(string); ok && l.label != lb {
			continue
		}
		out = append(out, f.json(l, false))
	}
	writeJSON(w, 200, map[string]any{"data": out, "page": 1, "pages": 1, "results": len(out)})
}

func (f *linodeFake) lookup(w http.ResponseWriter, r *http.Request) *linode {
	id, _ := strconv.Atoi(r.PathValue("id"))
	l := f.linodes[id]
	if l == nil {
		linodeError(w, 404, "", "Not found")
	}
	return l
}

func (f *linodeFake) get(w http.ResponseWriter, r *http.Request) {
	if l := f.lookup(w, r); l != nil {
		if l.polls > 0 {
			l.polls--
		}
		if l.resizing != nil {
			l.resizing.progress()
		}
		writeJSON(w, 200, f.json(l, false))
	}
}

// resize starts a resize (a migration) and its event: the instance reports
// "migrating" until the event finishes, then runs with the new type. Like
// the API, it refuses an unknown type, the current type, a Linode that is
// busy, and a type whose disk is smaller than the Linode's.
func (f *linodeFake) resize(w http.ResponseWriter, r *http.Request) {
	l := f.lookup(w, r)
	if l == nil {
		return
	}
	var req struct {
		Type string `json:"type"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		linodeError(w, 400, "", err.Error())
		return
	}
	switch {
	case linodeTypes[req.Type] == [3]int{}:
		linodeError(w, 400, "type", "A valid plan type by that ID was not found")
	case l.polls > 0 || l.resizing != nil:
		linodeError(w, 400, "", "Linode busy.")
	case req.Type == l.typ:
		linodeError(w, 400, "type", "Linode is already running this service plan.")
	case linodeTypes[req.Type][2] < linodeTypes[l.typ][2]:
		linodeError(w, 400, "type", fmt.Sprintf("The Linode's disks use %d MB; the %s plan allows %d MB: shrink the disks first.", linodeTypes[l.typ][2], req.Type, linodeTypes[req.Type][2]))
	default:
		ev := &linodeEvent{id: 5000 + len(f.events), linode: l, newType: req.Type, polls: f.opts.polls(),
			status: "started", created: time.Now().UTC().Truncate(time.Second)}
		f.events = append(f.events, ev)
		l.resizing = ev
		writeJSON(w, 200, map[string]any{})
	}
}

func (e *linodeEvent) progress() {
	if e.status != "started" {
		return
	}
	if e.polls--; e.polls <= 0 {
		e.status = "finished"
		e.linode.typ = e.newType
		e.linode.resizing = nil
	}
}

func (e *linodeEvent) json() map[string]any {
	pct := 50
	if e.status == "finished" {
		pct = 100
	}
	return map[string]any{
		"id": e.id, "action": "linode_resize", "status": e.status, "created": e.created.Format(linodeTime),
		"entity":           map[string]any{"id": e.linode.id, "label": e.linode.label, "type": "linode", "url": fmt.Sprintf("/v4/linode/instances/%d", e.linode.id)},
		"percent_complete": pct, "read": false, "seen": false, "message": nil, "time_remaining": nil, "username": "drover",
	}
}

// listEvents serves the filters linodego's event poller sends: equality on
// action, entity.type and entity.id, newest first.
func (f *linodeFake) listEvents(w http.ResponseWriter, r *http.Request) {
	filter, ok := xFilter(w, r)
	if !ok {
		return
	}
	out := []any{}
	for i := len(f.events) - 1; i >= 0; i-- {
		e := f.events[i]
		if a, ok := filter["action"].(string); ok && a != "linode_resize" {
			continue
		}
		if t, ok := filter["entity.type"].(string); ok && t != "linode" {
			continue
		}
		if id, ok := filter["entity.id"].(float64); ok && int(id) != e.linode.id {
			continue
		}
		out = append(out, e.json())
	}
	writeJSON(w, 200, map[string]any{"data": out, "page": 1, "pages": 1, "results": len(out)})
}

func (f *linodeFake) getEvent(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	for _, e := range f.events {
		if e.id == id {
			e.progress()
			writeJSON(w, 200, e.json())
			return
		}
	}
	linodeError(w, 404, "", "Not found")
}

func (f *linodeFake) delete(w http.ResponseWriter, r *http.Request) {
	if l := f.lookup(w, r); l != nil {
		delete(f.linodes, l.id)
		f.srv.deletes++
		writeJSON(w, 200, map[string]any{})
	}
}

// linodeTime is the API's timestamp format: no UTC offset.
const linodeTime = "2006-01-02T15:04:05"

func (f *linodeFake) json(l *linode, fresh bool) map[string]any {
	sp := linodeTypes[l.typ]
	status := "running"
	switch {
	case fresh || l.polls > 0:
		status = "provisioning"
	case l.resizing != nil:
		status = "migrating" // the spec has no "resizing": a resize is a migration
	}
	var image any
	if l.image != "" {
		image = l.image
	}
	return map[string]any{
		"alerts":       map[string]any{"cpu": 90 * sp[1], "io": 10000, "network_in": 10, "network_out": 10, "transfer_quota": 80},
		"backups":      map[string]any{"available": false, "enabled": false, "schedule": map[string]any{"day": nil, "window": nil}},
		"capabilities": []string{}, "created": l.created.Format(linodeTime), "updated": l.created.Format(linodeTime),
		"group": "", "has_user_data": l.userData, "hypervisor": "kvm", "id": l.id, "image": image,
		// The address is assigned at creation, as the real API does.
		"ipv4": []string{l.addr}, "ipv6": nil, "label": l.label, "lke_cluster_id": nil,
		"region": l.region,
		"specs":  map[string]any{"disk": sp[2], "gpus": 0, "memory": sp[0], "transfer": 1000, "vcpus": sp[1]},
		"status": status, "tags": l.tags, "type": l.typ, "watchdog_enabled": true,
	}
}
