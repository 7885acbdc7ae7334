package cloudtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// Known DigitalOcean slugs; anything else is refused with 422 like the API.
var (
	doRegions = []string{"ams3", "fra1", "lon1", "nyc1", "nyc3", "sfo3"}
	doSizes   = map[string][3]int{ // memory MB, vcpus, disk GB
		"s-1vcpu-1gb": {1024, 1, 25}, "s-1vcpu-2gb": {2048, 1, 50}, "s-2vcpu-2gb": {2048, 2, 60}, "s-2vcpu-4gb": {4096, 2, 80},
	}
	doImages = []string{"debian-12-x64", "ubuntu-24-04-x64", "ubuntu-22-04-x64"}
	doTagRE  = regexp.MustCompile(`^[a-zA-Z0-9_\-:]+$`)
)

// patchDO fixes the DigitalOcean spec's known defects (see
// shared/apispecs/README.md): godo sends "ssh_keys": null when a droplet has
// no keys, which the real API accepts.
func patchDO(doc *openapi3.T) {
	if s := doc.Components.Schemas["droplet_create"]; s != nil && s.Value != nil {
		if k := s.Value.Properties["ssh_keys"]; k != nil && k.Value != nil {
			k.Value.Nullable = true
		}
	}
}

type doDroplet struct {
	id       int
	name     string
	region   string
	size     string
	diskSize string // the size whose disk the droplet has (resize with disk)
	image    string
	tags     []string
	addr     string
	polls    int // reads left before it is active
	off      bool
	pending  *doAction // the action in progress: the droplet is locked
	created  time.Time
	userData string
}

// doAction is a droplet action in progress or done. It completes after
// Options.PollsUntilRunning reads, and takes effect then.
type doAction struct {
	id      int
	typ     string
	size    string
	disk    bool
	droplet *doDroplet
	polls   int
	status  string
	started time.Time
	done    time.Time
}

type doFake struct {
	srv      *Server
	opts     Options
	droplets map[int]*doDroplet
	actions  map[int]*doAction
	nextID   int
	nextAct  int
}

// NewDigitalOcean starts a fake DigitalOcean API v2. Point godo at its URL.
func NewDigitalOcean(opts Options) (*Server, error) {
	sp, err := loadSpec("digitalocean-v2.openapi", patchDO)
	if err != nil {
		return nil, err
	}
	f := &doFake{opts: opts, droplets: map[int]*doDroplet{}, actions: map[int]*doAction{}, nextID: 3164444, nextAct: 36804636}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/droplets", f.create)
	mux.HandleFunc("GET /v2/droplets", f.list)
	mux.HandleFunc("GET /v2/droplets/{id}", f.get)
	mux.HandleFunc("DELETE /v2/droplets/{id}", f.delete)
	mux.HandleFunc("POST /v2/droplets/{id}/actions", f.action)
	mux.HandleFunc("GET /v2/droplets/{id}/actions/{action}", f.getAction)
	s := &Server{limit: opts.InstanceLimit}
	f.srv = s
	s.v = &validating{spec: sp, next: f.withFailures(mux)}
	s.Server = httptest.NewServer(s.v)
	return s, nil
}

func doError(w http.ResponseWriter, status int, id, msg string) {
	writeJSON(w, status, map[string]any{"id": id, "message": msg, "request_id": "4d9d8375-3c56-4925-a3e7-eceb8f2f5e4a"})
}

func (f *doFake) withFailures(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail, ok := f.srv.takeFailure(); ok {
			switch fail.status {
			case 429:
				w.Header().Set("ratelimit-limit", "5000")
				w.Header().Set("ratelimit-remaining", "0")
				w.Header().Set("ratelimit-reset", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10))
				doError(w, 429, "too_many_requests", "API rate limit exceeded.")
			default:
				doError(w, fail.status, "server_error", "Server was unable to give you a response.")
			}
			return
		}
		f.srv.mu.Lock()
		defer f.srv.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (f *doFake) create(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name     string   `json:"name"`
		Region   string   `json:"region"`
		Size     string   `json:"size"`
		Image    any      `json:"image"`
		Tags     []string `json:"tags"`
		UserData string   `json:"user_data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		doError(w, 400, "bad_request", err.Error())
		return
	}
	image, _ := req.Image.(string)
	switch {
	case req.Name == "":
		doError(w, 422, "unprocessable_entity", "You must specify a name.")
		return
	case !hasString(doRegions, req.Region):
		doError(w, 422, "unprocessable_entity", "You specified an invalid region for Droplet creation.")
		return
	case doSizes[req.Size] == [3]int{}:
		doError(w, 422, "unprocessable_entity", "You specified an invalid size for Droplet creation.")
		return
	case !hasString(doImages, image):
		doError(w, 422, "unprocessable_entity", "You specified an invalid image for Droplet creation.")
		return
	}
	for _, t := range req.Tags {
		if !doTagRE.MatchString(t) {
			doError(w, 422, "unprocessable_entity", fmt.Sprintf("tag %q: tags may contain letters, numbers, colons, dashes, and underscores", t))
			return
		}
	}
	if f.srv.limit > 0 && len(f.droplets) >= f.srv.limit {
		doError(w, 422, "unprocessable_entity", "creating this/these droplet(s) will exceed your droplet limit")
		return
	}
	d := &doDroplet{
		id: f.nextID, name: req.Name, region: req.Region, size: req.Size, diskSize: req.Size, image: image,
		tags: append([]string{}, req.Tags...), addr: f.opts.address(f.srv.creates),
		polls: f.opts.polls(), created: time.Now().UTC().Truncate(time.Second), userData: req.UserData,
	}
	f.nextID++
	f.srv.creates++
	f.droplets[d.id] = d
	writeJSON(w, 202, map[string]any{
		"droplet": f.json(d, true),
		"links":   map[string]any{"actions": []any{map[string]any{"id": 7515, "rel": "create", "href": "https://api.digitalocean.com/v2/actions/7515"}}},
	})
}

func (f *doFake) list(w http.ResponseWriter, r *http.Request) {
	tag := r.URL.Query().Get("tag_name")
	var out []any
	ids := make([]int, 0, len(f.droplets))
	for id := range f.droplets {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		d := f.droplets[id]
		if tag == "" || hasString(d.tags, tag) {
			out = append(out, f.json(d, false))
		}
	}
	if out == nil {
		out = []any{}
	}
	// One page holds everything the tests create.
	writeJSON(w, 200, map[string]any{"droplets": out, "links": map[string]any{}, "meta": map[string]any{"total": len(out)}})
}

func (f *doFake) lookup(w http.ResponseWriter, r *http.Request) *doDroplet {
	id, _ := strconv.Atoi(r.PathValue("id"))
	d := f.droplets[id]
	if d == nil {
		doError(w, 404, "not_found", "The resource you were accessing could not be found.")
	}
	return d
}

func (f *doFake) get(w http.ResponseWriter, r *http.Request) {
	if d := f.lookup(w, r); d != nil {
		if d.polls > 0 {
			d.polls--
		}
		writeJSON(w, 200, map[string]any{"droplet": f.json(d, false)})
	}
}

func (f *doFake) delete(w http.ResponseWriter, r *http.Request) {
	if d := f.lookup(w, r); d != nil {
		delete(f.droplets, d.id)
		f.srv.deletes++
		w.WriteHeader(204)
	}
}

// action starts a droplet action. The fake knows power_off, power_on and
// resize, with the real API's rules: one action at a time, resize only when
// powered off, a disk never shrinks.
func (f *doFake) action(w http.ResponseWriter, r *http.Request) {
	d := f.lookup(w, r)
	if d == nil {
		return
	}
	var req struct {
		Type string `json:"type"`
		Size string `json:"size"`
		Disk bool   `json:"disk"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		doError(w, 400, "bad_request", err.Error())
		return
	}
	refuse := func(msg string) { doError(w, 422, "unprocessable_entity", msg) }
	switch {
	case d.pending != nil:
		refuse("Droplet already has a pending event.")
		return
	case d.polls > 0:
		refuse("Droplet is still being created.")
		return
	}
	switch req.Type {
	case "power_off":
		if d.off {
			refuse("Droplet is already powered off.")
			return
		}
	case "power_on":
		if !d.off {
			refuse("Droplet is already powered on.")
			return
		}
	case "resize":
		switch {
		case doSizes[req.Size] == [3]int{}:
			refuse("You specified an invalid size for Droplet resize.")
			return
		case !d.off:
			refuse("Droplet must be powered off before resizing.")
			return
		case doSizes[req.Size][2] < doSizes[d.diskSize][2]:
			refuse(fmt.Sprintf("Size %s has a smaller disk than the Droplet's (%d GB): a disk cannot shrink.", req.Size, doSizes[d.diskSize][2]))
			return
		}
	default:
		refuse(fmt.Sprintf("The fake does not implement the %q action.", req.Type))
		return
	}
	a := &doAction{id: f.nextAct, typ: req.Type, size: req.Size, disk: req.Disk, droplet: d,
		polls: f.opts.polls(), status: "in-progress", started: time.Now().UTC().Truncate(time.Second)}
	f.nextAct++
	f.actions[a.id] = a
	d.pending = a
	writeJSON(w, 201, map[string]any{"action": a.json()})
}

func (f *doFake) getAction(w http.ResponseWriter, r *http.Request) {
	d := f.lookup(w, r)
	if d == nil {
		return
	}
	id, _ := strconv.Atoi(r.PathValue("action"))
	a := f.actions[id]
	if a == nil || a.droplet != d {
		doError(w, 404, "not_found", "The resource you were accessing could not be found.")
		return
	}
	if a.status == "in-progress" {
		if a.polls--; a.polls <= 0 {
			a.complete()
		}
	}
	writeJSON(w, 200, map[string]any{"action": a.json()})
}

// complete makes the action take effect.
func (a *doAction) complete() {
	d := a.droplet
	switch a.typ {
	case "power_off":
		d.off = true
	case "power_on":
		d.off = false
	case "resize":
		d.size = a.size
		if a.disk {
			d.diskSize = a.size
		}
	}
	a.status, a.done = "completed", time.Now().UTC().Truncate(time.Second)
	d.pending = nil
}

func (a *doAction) json() map[string]any {
	var done any
	if a.status == "completed" {
		done = a.done.Format(time.RFC3339)
	}
	return map[string]any{
		"id": a.id, "status": a.status, "type": a.typ, "started_at": a.started.Format(time.RFC3339),
		"completed_at": done, "resource_id": a.droplet.id, "resource_type": "droplet", "region_slug": a.droplet.region,
	}
}

// json is the droplet as the API shows it; a new droplet has no address yet.
func (f *doFake) json(d *doDroplet, fresh bool) map[string]any {
	sz := doSizes[d.size]
	status := "active"
	v4 := []any{}
	if fresh || d.polls > 0 {
		status = "new"
	} else {
		if d.off {
			status = "off"
		}
		v4 = []any{
			map[string]any{"ip_address": d.addr, "netmask": "255.255.255.0", "gateway": "192.0.2.1", "type": "public"},
			map[string]any{"ip_address": fmt.Sprintf("10.110.0.%d", d.id%250+2), "netmask": "255.255.240.0", "gateway": "10.110.0.1", "type": "private"},
		}
	}
	return map[string]any{
		"id": d.id, "name": d.name, "memory": sz[0], "vcpus": sz[1], "disk": doSizes[d.diskSize][2], "locked": d.pending != nil,
		"status": status, "created_at": d.created.Format(time.RFC3339), "features": []string{},
		"backup_ids": []int{}, "next_backup_window": map[string]any{"start": "2026-11-23T00:00:00Z", "end": "2026-11-23T23:00:00Z"}, "snapshot_ids": []int{},
		"image": map[string]any{
			"id": 106569146, "name": d.image, "type": "base", "distribution": "Debian", "slug": d.image,
			"public": true, "regions": doRegions, "created_at": "2024-06-10T20:05:44Z", "min_disk_size": 15,
			"size_gigabytes": 1.2, "description": "", "tags": []string{}, "status": "available", "error_message": "",
		},
		"volume_ids": []string{},
		"size": map[string]any{
			"slug": d.size, "memory": sz[0], "vcpus": sz[1], "disk": sz[2], "transfer": 1.0,
			"price_monthly": 6.0, "price_hourly": 0.00893, "regions": doRegions, "available": true,
			"description": "Basic",
		},
		"size_slug": d.size,
		"networks":  map[string]any{"v4": v4, "v6": []any{}},
		"region": map[string]any{
			"name": d.region, "slug": d.region, "features": []string{"backups", "ipv6", "metadata"},
			"available": true, "sizes": sortedKeys(doSizes),
		},
		"tags":     d.tags,
		"vpc_uuid": "760e09ef-dc84-11e8-981e-3cfdfeaae000",
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
