package modules

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
)

// releaseModule deploys an application as immutable release directories with
// an atomically switched `current` link, a health check and rollback.
type releaseModule struct{}

var releaseSpec = &contract.Spec{
	Name:    "release",
	Summary: "Deploy an application release: atomic switch of current, health check, automatic rollback.",
	Doc: `Deploys source into path/releases/<id>/, links the shared paths into it, runs
the build commands inside it, then switches path/current to it atomically (a new
link renamed over the old one: current never disappears), runs the switch
action (restart or reload a service, or a command) and the health check. If
anything before the switch fails, current is untouched. If the switch action or
the health check fails, current is switched back to the previous release, the
switch action runs again and the health check is repeated; the task fails and
says the host was rolled back.

The release id is the deploy time plus the first 12 hex digits of the sha256 of
the source, so deploying the same artifact again changes nothing (and
switches back to it if it is an older, kept release). Releases beyond keep are
pruned, never the current or the previous one. Deploy records (time, who,
source checksum, release, result) are appended to path/.drover/deploys.log on
the host; the host is the source of truth, there is no controller-side state.
See docs/releases.md, and "drover releases" / "drover rollback".`,
	Attributes: []contract.Attribute{
		{Name: "path", Type: cty.String, Required: true, Doc: "Absolute application directory on the host: releases/, shared/, current and .drover/ live in it."},
		{Name: "source", Type: cty.String, Required: true, Doc: "A local .tar, .tar.gz or .tgz file, or a local directory, relative to the playbook's directory, pushed from the controller and unpacked into the new release; or git::URL?ref=REF (a branch, tag or commit; default HEAD), resolved and exported on the target with its git (the release checksum is then the commit)."},
		{Name: "shared", Type: cty.List(cty.String), Default: cty.ListValEmpty(cty.String), Doc: "Paths relative to the release that are symbolic links into path/shared/, kept across releases. A missing shared path is seeded from the release's copy, or created as a directory."},
		{Name: "build", Type: cty.List(cty.String), Default: cty.ListValEmpty(cty.String), Doc: "Shell commands run in order inside the new release directory before the switch (environment: RELEASE_DIR, APP_DIR, SHARED_DIR). A failure leaves current untouched."},
		{Name: "keep", Type: cty.Number, Default: cty.NumberIntVal(5), Doc: "How many ready releases to keep (at least 2); older ones are removed, never the current or the previous one."},
		{Name: "switch", Type: cty.Map(cty.String), Doc: "What makes the new release live after current is switched: { service = \"app\", action = \"restart\" } (action: restart or reload; systemctl, rc-service, service or /etc/init.d) or { command = \"...\" } (run in the new current). Unset: nothing."},
		{Name: "healthcheck", Type: cty.Map(cty.String), Block: true, Doc: "A nested block telling that the live release works: http = \"http://127.0.0.1:8080/health\" with expect = 200 (the default), or command = \"...\" (exit status 0 is healthy); timeout (default \"30s\") and interval (default \"1s\") between tries. Unset: no health check."},
	},
	Outputs: []contract.Attribute{
		{Name: "changed", Type: cty.Bool, Doc: "Whether the deploy switched current."},
	},
	Example: `release "app" {
  path   = "/srv/app"
  source = "dist/app-1.4.2.tar.gz"
  shared = ["log", "config/.env"]
  build  = ["bin/setup"]
  keep   = 5
  switch = { service = "app", action = "restart" }
  healthcheck {
    http    = "http://127.0.0.1:8080/health"
    expect  = 200
    timeout = "30s"
  }
}`,
}

func (releaseModule) Spec() *contract.Spec { return releaseSpec }

// releaseConfig is what a deploy and a rollback need on the host besides the
// artifact: it is written to path/.drover/ so that `drover rollback` runs the
// same switch action and health check without the playbook.
type releaseConfig struct {
	Name        string
	App         string
	SwitchCmd   string // sh script; "" for none
	HealthCmd   string // sh script; "" for none
	SwitchDesc  string
	HealthDesc  string
	Keep        int
	Shared      []string
	Build       []string
	SourceLabel string
}

var releaseNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

func (releaseModule) Configure(cfg contract.Config) (contract.Task, error) {
	a := readAttrs(releaseSpec, cfg)
	app, _ := a.absPath("path")
	src, _ := a.str("source")
	_, shared, _ := a.strOrList("shared")
	_, build, _ := a.strOrList("build")
	sw := a.strMap("switch")
	hc := a.strMap("healthcheck")
	keep := 5
	if v := a.get("keep"); v != cty.NilVal {
		bf := v.AsBigFloat()
		if !bf.IsInt() {
			a.fail("keep", "must be a whole number")
		} else {
			k, _ := bf.Int64()
			keep = int(k)
		}
	}
	if a.err != nil {
		return nil, a.err
	}
	if app == "/" {
		return nil, &contract.AttrError{Attr: "path", Msg: "cannot be /"}
	}
	if keep < 2 {
		return nil, &contract.AttrError{Attr: "keep", Msg: fmt.Sprintf("must be at least 2 (the current and the previous release are always kept), not %d", keep)}
	}
	name := cfg.Name
	if !releaseNameRE.MatchString(name) {
		name = path.Base(app)
	}
	for _, s := range shared {
		if msg := checkRelPath(s); msg != "" {
			return nil, &contract.AttrError{Attr: "shared", Msg: fmt.Sprintf("%q %s", s, msg)}
		}
	}
	for _, b := range build {
		if strings.TrimSpace(b) == "" {
			return nil, &contract.AttrError{Attr: "build", Msg: "a build command is empty"}
		}
	}
	swCmd, swDesc, err := switchScript(sw)
	if err != nil {
		return nil, &contract.AttrError{Attr: "switch", Msg: err.Error()}
	}
	hcCmd, hcDesc, err := healthScript(hc)
	if err != nil {
		return nil, &contract.AttrError{Attr: "healthcheck", Msg: err.Error()}
	}
	if src == "" {
		return nil, &contract.AttrError{Attr: "source", Msg: "must name a local file or directory"}
	}
	t := &releaseTask{
		cfg: releaseConfig{
			Name: name, App: app, SwitchCmd: swCmd, HealthCmd: hcCmd, SwitchDesc: swDesc, HealthDesc: hcDesc,
			Keep: keep, Shared: shared, Build: build, SourceLabel: src,
		},
		stamp: releaseTime(),
		who:   whoAmI(),
	}
	if strings.HasPrefix(src, "git::") {
		g, err := parseGitSource(src)
		if err != nil {
			return nil, &contract.AttrError{Attr: "source", Msg: err.Error()}
		}
		t.git = g
		return t, nil
	}
	local, err := LocalPath(cfg, src)
	if err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: err.Error()}
	}
	art, err := loadArtifact(local)
	if err != nil {
		return nil, &contract.AttrError{Attr: "source", Msg: err.Error(), Err: err}
	}
	t.art = art
	return t, nil
}

// gitSource is a `git::URL?ref=REF` source, checked out on the target.
type gitSource struct {
	URL, Ref string
}

var gitRefRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./-]*$`)

func parseGitSource(src string) (*gitSource, error) {
	u := strings.TrimPrefix(src, "git::")
	ref := "HEAD"
	if i := strings.LastIndex(u, "?ref="); i >= 0 {
		u, ref = u[:i], u[i+len("?ref="):]
	}
	switch {
	case u == "":
		return nil, fmt.Errorf("%q: want git::URL or git::URL?ref=REF (a branch, tag or commit)", src)
	case gitURLError(u) != "":
		return nil, fmt.Errorf("%s; want git::URL or git::URL?ref=REF (a branch, tag or commit)", gitURLError(u))
	case !gitRefRE.MatchString(ref) || strings.Contains(ref, ".."):
		return nil, fmt.Errorf("%q is not a valid git ref", ref)
	}
	return &gitSource{URL: u, Ref: ref}, nil
}

// checkRelPath returns why p is not a clean relative path inside a release,
// or "".
func checkRelPath(p string) string {
	switch {
	case p == "" || strings.HasPrefix(p, "/"):
		return "must be a relative path inside the release"
	case strings.ContainsRune(p, 0) || strings.ContainsRune(p, '\n'):
		return "must not contain a NUL byte or a newline"
	case path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return "must be a clean relative path without . or .. (e.g. \"log\" or \"config/.env\")"
	}
	return ""
}

// artifact is the content pushed to the host: a tar stream (optionally
// gzipped) and its sha256.
type artifact struct {
	data []byte
	gz   bool
	sum  string // hex sha256 of data
}

// loadArtifact reads a local tarball, or packs a local directory into a
// deterministic tar (sorted names, zero times, numeric owner 0), so that the
// same content always has the same checksum.
func loadArtifact(p string) (*artifact, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read the source: %w", err)
	}
	var data []byte
	gz := false
	if st.IsDir() {
		if data, err = tarDir(p); err != nil {
			return nil, fmt.Errorf("packing %s: %w", p, err)
		}
	} else {
		low := strings.ToLower(p)
		switch {
		case strings.HasSuffix(low, ".tar.gz") || strings.HasSuffix(low, ".tgz"):
			gz = true
		case strings.HasSuffix(low, ".tar"):
		default:
			return nil, fmt.Errorf("%s is neither a directory nor a .tar, .tar.gz or .tgz file", p)
		}
		if data, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("cannot read the source: %w", err)
		}
	}
	h := sha256.Sum256(data)
	return &artifact{data: data, gz: gz, sum: hex.EncodeToString(h[:])}, nil
}

func tarDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, p := range names {
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return nil, err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func whoAmI() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		name += "@" + h
	}
	return name
}

// switchScript turns the switch attribute into a sh script.
func switchScript(sw map[string]string) (script, desc string, err error) {
	if len(sw) == 0 {
		return "", "", nil
	}
	for k := range sw {
		switch k {
		case "service", "action", "command":
		default:
			return "", "", fmt.Errorf("unknown key %q: use service (with action) or command", k)
		}
	}
	svc, cmd := sw["service"], sw["command"]
	switch {
	case svc != "" && cmd != "":
		return "", "", fmt.Errorf("set service or command, not both")
	case cmd != "":
		return cmd + "\n", "command " + strconv.Quote(cmd), nil
	case svc == "":
		return "", "", fmt.Errorf("needs service = \"NAME\" or command = \"...\"")
	}
	action := sw["action"]
	if action == "" {
		action = "restart"
	}
	if action != "restart" && action != "reload" {
		return "", "", fmt.Errorf("action must be \"restart\" or \"reload\", not %q", action)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_@][A-Za-z0-9_@.:-]*$`).MatchString(svc) {
		return "", "", fmt.Errorf("%q is not a service name", svc)
	}
	s, act := shell.Quote(svc), shell.Quote(action)
	script = "s=" + s + "\na=" + act + `
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl "$a" "$s"
elif command -v rc-service >/dev/null 2>&1; then rc-service "$s" "$a"
elif command -v service >/dev/null 2>&1; then service "$s" "$a"
elif [ -x "/etc/init.d/$s" ]; then "/etc/init.d/$s" "$a"
else printf '%s\n' "no init system found to $a $s" >&2; exit 1
fi
`
	return script, action + " service " + svc, nil
}

// healthScript turns the healthcheck attribute into a sh script that retries
// until healthy or the timeout, then fails with what it last saw.
func healthScript(hc map[string]string) (script, desc string, err error) {
	if len(hc) == 0 {
		return "", "", nil
	}
	for k := range hc {
		switch k {
		case "http", "expect", "command", "timeout", "interval":
		default:
			return "", "", fmt.Errorf("unknown key %q: use http (with expect) or command, and timeout, interval", k)
		}
	}
	dur := func(k, def string) (float64, error) {
		s := hc[k]
		if s == "" {
			s = def
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%s must be a positive duration like %q, not %q", k, def, s)
		}
		return d.Seconds(), nil
	}
	timeout, err := dur("timeout", "30s")
	if err != nil {
		return "", "", err
	}
	interval, err := dur("interval", "1s")
	if err != nil {
		return "", "", err
	}
	url, cmd := hc["http"], hc["command"]
	var probe string
	switch {
	case url != "" && cmd != "":
		return "", "", fmt.Errorf("set http or command, not both")
	case cmd != "":
		probe = "probe() { out=$(sh -c " + shell.Quote(cmd) + " 2>&1) && return 0; got=\"command failed: $out\"; return 1; }\n"
		desc = "command " + strconv.Quote(cmd)
	case url != "":
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			return "", "", fmt.Errorf("http must be an http:// or https:// URL, not %q", url)
		}
		expect := hc["expect"]
		if expect == "" {
			expect = "200"
		}
		if n, err := strconv.Atoi(expect); err != nil || n < 100 || n > 599 {
			return "", "", fmt.Errorf("expect must be an HTTP status code, not %q", expect)
		}
		probe = "u=" + shell.Quote(url) + "\nexpect=" + expect + `
probe() {
  if command -v curl >/dev/null 2>&1; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$u") || code=000
  elif command -v wget >/dev/null 2>&1; then
    code=$(wget -S -O /dev/null -T 5 "$u" 2>&1 | awk '/^ *HTTP\//{c=$2} END{print c+0}')
  elif command -v python3 >/dev/null 2>&1; then
    code=$(python3 -c 'import sys,urllib.request,urllib.error
try: print(urllib.request.urlopen(sys.argv[1],timeout=5).status)
except urllib.error.HTTPError as e: print(e.code)
except Exception: print(0)' "$u")
  else
    got="no curl, wget or python3 on the host to probe $u"; return 1
  fi
  [ "$code" = "$expect" ] && return 0
  got="$u answered $code, want $expect"; return 1
}
`
		desc = fmt.Sprintf("GET %s expects %s", url, expect)
	default:
		return "", "", fmt.Errorf("needs http = \"URL\" or command = \"...\"")
	}
	script = probe + fmt.Sprintf(`got=
start=$(date +%%s)
while :; do
  if probe; then exit 0; fi
  now=$(date +%%s)
  if [ $((now - start)) -ge %d ]; then printf 'health check failed after %gs: %%s\n' "$got" >&2; exit 1; fi
  sleep %g
done
`, int(timeout+0.999), timeout, interval)
	return script, desc, nil
}

var (
	idMu   sync.Mutex
	idLast time.Time
)

// releaseTime is the time part of a new release id, in milliseconds and
// strictly increasing within this process, so that ids sort in deploy order.
func releaseTime() string {
	idMu.Lock()
	defer idMu.Unlock()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if !now.After(idLast) {
		now = idLast.Add(time.Millisecond)
	}
	idLast = now
	return now.Format("20060102T150405.000Z")
}
