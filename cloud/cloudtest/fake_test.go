package cloudtest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The fakes must refuse what the official specs refuse: these requests are
// deliberately invalid, and each must be answered 400 and recorded.
func TestSpecViolationsAreCaught(t *testing.T) {
	do, err := NewDigitalOcean(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer do.Close()
	li, err := NewLinode(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer li.Close()
	tests := []struct {
		name   string
		srv    *Server
		method string
		path   string
		header map[string]string
		body   string
		want   string // in the violation
	}{
		{"droplet name breaks the pattern", do, "POST", "/v2/droplets", nil,
			`{"name":"web 0!","region":"ams3","size":"s-1vcpu-1gb","image":"debian-12-x64"}`, "name"},
		{"droplet without a name", do, "POST", "/v2/droplets", nil,
			`{"region":"ams3","size":"s-1vcpu-1gb","image":"debian-12-x64"}`, "name"},
		{"droplet tag name of the wrong type", do, "GET", "/v2/droplets?per_page=abc", nil, "", "per_page"},
		{"linode label with a double dash (ECMAScript look-ahead)", li, "POST", "/v4/linode/instances", nil,
			`{"label":"we--b","region":"us-east","type":"g6-nanode-1"}`, "label"},
		{"linode unknown property", li, "POST", "/v4/linode/instances", nil,
			`{"label":"web","region":"us-east","type":"g6-nanode-1","colour":"red"}`, "colour"},
		{"droplet action of an unknown type", do, "POST", "/v2/droplets/3164444/actions", nil, `{"type":"explode"}`, "type"},
		{"linode resize without a type", li, "POST", "/v4/linode/instances/123/resize", nil, `{"allow_auto_disk_resize":true}`, "type"},
		{"linode page_size too big", li, "GET", "/v4/linode/instances?page_size=5000", nil, "", "page_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.srv.Violations())
			req, _ := http.NewRequest(tt.method, tt.srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer x")
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 400 {
				t.Errorf("status %d (%s), want 400", res.StatusCode, b)
			}
			v := tt.srv.Violations()
			if len(v) != before+1 {
				t.Fatalf("violations %d → %d, want one more", before, len(v))
			}
			if !strings.Contains(v[len(v)-1], tt.want) {
				t.Errorf("violation %q does not mention %q", v[len(v)-1], tt.want)
			}
		})
	}
}

func TestLinodeFilterHeaderValidates(t *testing.T) {
	li, err := NewLinode(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer li.Close()
	req, _ := http.NewRequest("GET", li.URL+"/v4/linode/instances?page=1", nil)
	req.Header.Set("X-Filter", `{"tags":"drover:x:y"}`)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	li.AssertValid(t)
}
