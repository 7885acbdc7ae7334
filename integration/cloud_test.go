package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/linode/linodego"

	"github.com/drover-cm/drover/cloud"
	"github.com/drover-cm/drover/cloud/cloudtest"
	"github.com/drover-cm/drover/cloud/digitalocean"
	"github.com/drover-cm/drover/cloud/linode"
)

// The SDK-backed providers against the Prism mock server serving the same
// official specs as the in-process fakes (patched the same way): a second,
// independent validator of every request drover sends. Prism is stateless
// (it answers with the spec's examples), so this checks requests (create,
// list, get, delete, and a resize: DigitalOcean's droplet actions, Linode's
// resize), not the lifecycle; the in-process fakes check that.
//
// Prism is found at $DROVER_PRISM or as `prism` on PATH
// (npm install @stoplight/prism-cli@5.14). Without it the test skips, unless
// DROVER_REQUIRE_CLOUD_MOCKS=1, when it fails.
func TestCloudProvidersAgainstPrism(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mock servers; skipped in -short mode")
	}
	prism := findMock(t, "DROVER_PRISM", "prism", "the Prism mock server", "npm install @stoplight/prism-cli@5.14; DROVER_PRISM=path")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	mocks := map[string]*prismMock{}
	var mu sync.Mutex
	for _, p := range []string{"digitalocean", "linode"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := startPrism(t, ctx, prism, p)
			mu.Lock()
			mocks[p] = m
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	bo := cloud.Backoff{Attempts: 1}
	do, err := digitalocean.New(digitalocean.Config{Token: "prism", BaseURL: mocks["digitalocean"].url, Backoff: bo, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	li, err := linode.New(linode.Config{Token: "prism", BaseURL: mocks["linode"].url, Backoff: bo, Poll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]cloud.Spec{
		"digitalocean": {Region: "ams3", Size: "s-1vcpu-1gb", Image: "debian-12-x64", SSHKeys: []string{"3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45"}},
		"linode":       {Region: "eu-central", Size: "g6-nanode-1", Image: "linode/debian12", RootPassword: "aComplexP@ssword", SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0bQ2eXl2bRrQkKpy5v0u2pZ8k6mD4i2Jg7yY0xqNp ops"}},
	}
	for _, p := range []cloud.Provider{do, li} {
		m := mocks[p.Name()]
		for i := range 3 {
			s := specs[p.Name()]
			s.Name = fmt.Sprintf("web-%d", i)
			s.Tags = []string{"drover:ci:web", "role:web"}
			s.UserData = "#cloud-config\n"
			_, err := p.Create(ctx, s)
			refused(t, p.Name()+" create", err)
		}
		_, err := p.List(ctx, "drover:ci:web")
		refused(t, p.Name()+" list by tag", err)
		_, err = p.Get(ctx, "3164444")
		refused(t, p.Name()+" get", err)
		refused(t, p.Name()+" delete", p.Delete(ctx, "3164444"))
		resize(t, ctx, p, m.url)
		if v := m.requestViolations(); len(v) > 0 {
			t.Errorf("%s: Prism found requests that do not validate:\n%s", p.Name(), strings.Join(v, "\n"))
		}
	}

	// The deliberate negative test: Prism must see an invalid request.
	req, _ := http.NewRequest("POST", mocks["digitalocean"].url+"/v2/droplets", strings.NewReader(`{"name":"bad name!","region":"ams3","size":"s-1vcpu-1gb","image":"debian-12-x64"}`))
	req.Header.Set("Authorization", "Bearer prism")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode < 400 {
		t.Errorf("Prism accepted an invalid droplet name: HTTP %d", res.StatusCode)
	}
	// ... and log it, so that the log check above means something.
	deadline := time.Now().Add(5 * time.Second)
	for len(mocks["digitalocean"].requestViolations()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(mocks["digitalocean"].requestViolations()) == 0 {
		t.Error("Prism's log shows no violation for the invalid request: the log check is blind")
	}
}

// resize sends the requests of a resize. Prism never shows progress: its
// DigitalOcean actions stay "in-progress" (Resize waits on the power-off
// until its deadline), and its Linode events are generated from the schema
// (linodego cannot read their time_remaining, so Resize fails after listing
// them). The requests Resize does not reach are sent with the SDKs directly.
func resize(t *testing.T, ctx context.Context, p cloud.Provider, url string) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err := p.(cloud.Resizer).Resize(rctx, "3164444", "g6-standard-2")
	cancel()
	refused(t, p.Name()+" resize", err)
	if err == nil {
		t.Errorf("%s resize against Prism succeeded: Prism shows no progress", p.Name())
	}
	if p.Name() == "linode" {
		c := linodego.NewClient(&http.Client{})
		c.SetToken("prism")
		c.SetBaseURL(url)
		c.SetAPIVersion("v4")
		c.SetRetryCount(0)
		autoDisk := true
		err := c.ResizeInstance(ctx, 123, linodego.InstanceResizeOptions{Type: "g6-standard-2", MigrationType: linodego.ColdMigration, AllowAutoDiskResize: &autoDisk})
		var le *linodego.Error
		if errors.As(err, &le) && le.Code >= 400 && le.Code < 500 && le.Code != 404 {
			t.Errorf("linode resize request: the mock refused it: %v", err)
		}
		return
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("digitalocean resize against Prism: %v, want it waiting on the power-off until its deadline", err)
	}
	c := godo.NewFromToken("prism")
	c.BaseURL, _ = neturl.Parse(url + "/")
	_, _, err = c.DropletActions.Resize(ctx, 3164444, "s-2vcpu-2gb", true)
	refused(t, "digitalocean resize action", apiError(err))
	_, _, err = c.DropletActions.PowerOn(ctx, 3164444)
	refused(t, "digitalocean power-on action", apiError(err))
}

func apiError(err error) error {
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return &cloud.APIError{Provider: "digitalocean", Status: er.Response.StatusCode, Message: er.Message}
	}
	return err
}

// refused fails when the mock refused the request as invalid (4xx). Other
// outcomes are fine: Prism answers with the spec's examples, which may not
// describe the instance asked for.
func refused(t *testing.T, what string, err error) {
	t.Helper()
	var ae *cloud.APIError
	if errors.As(err, &ae) && ae.Status >= 400 && ae.Status < 500 && ae.Status != 404 {
		t.Errorf("%s: the mock refused the request: %v", what, err)
	}
}

type prismMock struct {
	url string
	mu  sync.Mutex
	log []string
}

func (m *prismMock) requestViolations() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.log {
		ll := strings.ToLower(l)
		if (strings.Contains(ll, "violation") && strings.Contains(ll, "request")) || strings.Contains(ll, "request did not pass") {
			out = append(out, l)
		}
	}
	return out
}

func startPrism(t *testing.T, ctx context.Context, prism, provider string) *prismMock {
	spec, err := cloudtest.PatchedSpec(provider)
	if err != nil {
		t.Error(err)
		return nil
	}
	path := filepath.Join(t.TempDir(), provider+".json")
	if err := os.WriteFile(path, spec, 0o644); err != nil {
		t.Error(err)
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Error(err)
		return nil
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.CommandContext(ctx, prism, "mock", "-h", "127.0.0.1", "-p", fmt.Sprint(port), path)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Errorf("starting prism: %v", err)
		return nil
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	m := &prismMock{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			m.mu.Lock()
			m.log = append(m.log, sc.Text())
			m.mu.Unlock()
			if strings.Contains(sc.Text(), "Prism is listening") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
		return m
	case <-time.After(90 * time.Second):
		m.mu.Lock()
		t.Errorf("prism (%s) did not start in 90s:\n%s", provider, strings.Join(m.log, "\n"))
		m.mu.Unlock()
		return nil
	}
}

// findMock finds a mock server's program at $env or as name on PATH. When it
// is missing the test skips, unless DROVER_REQUIRE_CLOUD_MOCKS=1 (CI), when it
// fails: a cloud test must not pass there without its independent peer.
func findMock(t *testing.T, env, name, what, install string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		bin, _ = exec.LookPath(name)
	}
	if bin == "" {
		if os.Getenv("DROVER_REQUIRE_CLOUD_MOCKS") == "1" {
			t.Fatalf("DROVER_REQUIRE_CLOUD_MOCKS=1 but %s is not installed (%s)", what, install)
		}
		t.Skipf("%s is not installed (%s)", what, install)
	}
	return bin
}
