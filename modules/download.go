package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// Download fetches a file from a URL onto the host and verifies its checksum.
type Download struct{}

func (Download) Spec() *contract.Spec {
	return &contract.Spec{
		Name:    "download",
		Summary: "Fetch a file from a URL, verified by its sha256 checksum.",
		Doc: `Fetches url to path unless path already holds a file with that checksum.
The checksum is required: it makes the task idempotent without fetching, and
guarantees what lands on the host.

With on = "target" (the default) the host fetches the file itself, with curl
or wget (whichever it has), into a temporary file beside path; the checksum is
verified before the file is renamed into place, so a failed or corrupted
download leaves nothing behind. With on = "controller" drover fetches it
(the host needs no network access or HTTP client), verifies it, and uploads
it.`,
		Attributes: []contract.Attribute{
			{Name: "url", Type: cty.String, Required: true, Doc: "http, https or ftp URL (with on = \"controller\": http or https)."},
			{Name: "path", Type: cty.String, Required: true, Doc: "Absolute path of the file on the host. Its directory must exist."},
			{Name: "checksum", Type: cty.String, Required: true, Doc: "\"sha256:\" and 64 hex digits."},
			{Name: "mode", Type: cty.String, Default: cty.StringVal("0644"), Doc: "File mode, octal."},
			{Name: "owner", Type: cty.String, Doc: "Owning user. Unset: the connecting user (root with become)."},
			{Name: "group", Type: cty.String, Doc: "Owning group. Unset with owner set: the owner's login group."},
			{Name: "on", Type: cty.String, Default: cty.StringVal("target"), Doc: "Where the file is fetched: \"target\" (curl or wget on the host) or \"controller\"."},
		},
		Example: `download "node_exporter" {
  url      = "https://github.com/prometheus/node_exporter/releases/download/v1.8.2/node_exporter-1.8.2.linux-amd64.tar.gz"
  path     = "/opt/node_exporter.tar.gz"
  checksum = "sha256:6809dd0b3ec45fd6e992c19071d6b5253aed3ead7bf0686885a51d85c6643c66"
}`,
	}
}

var sha256Checksum = regexp.MustCompile(`^sha256:([0-9a-fA-F]{64})$`)

type downloadTask struct {
	url, path, sum string // sum: lowercase hex
	mode           os.FileMode
	owner, group   string
	controller     bool
}

func (Download) Configure(cfg contract.Config) (contract.Task, error) {
	a, err := newSysVals(Download{}.Spec(), cfg)
	if err != nil {
		return nil, err
	}
	t := &downloadTask{url: a.str("url"), path: a.str("path"), owner: a.str("owner"), group: a.str("group")}
	u, err := url.Parse(t.url)
	if err != nil || u.Host == "" || !(u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "ftp") {
		return nil, &contract.AttrError{Attr: "url", Msg: fmt.Sprintf("%q is not an http, https or ftp URL", t.url)}
	}
	if !path.IsAbs(t.path) || strings.HasSuffix(t.path, "/") || hasNewline(t.path) {
		return nil, &contract.AttrError{Attr: "path", Msg: fmt.Sprintf("must be the absolute path of a file, got %q", t.path)}
	}
	t.path = path.Clean(t.path)
	m := sha256Checksum.FindStringSubmatch(a.str("checksum"))
	if m == nil {
		return nil, &contract.AttrError{Attr: "checksum", Msg: fmt.Sprintf("must be \"sha256:\" followed by 64 hex digits, got %q", a.str("checksum"))}
	}
	t.sum = strings.ToLower(m[1])
	if t.mode, err = parseMode(a.str("mode")); err != nil {
		return nil, err
	}
	if t.owner != "" {
		if err := checkAccountName("owner", t.owner); err != nil {
			return nil, err
		}
	}
	if t.group != "" {
		if err := checkAccountName("group", t.group); err != nil {
			return nil, err
		}
	}
	switch a.str("on") {
	case "", "target":
	case "controller":
		if u.Scheme == "ftp" {
			return nil, &contract.AttrError{Attr: "url", Msg: "on = \"controller\" fetches http and https URLs only"}
		}
		t.controller = true
	default:
		return nil, &contract.AttrError{Attr: "on", Msg: fmt.Sprintf("must be \"target\" or \"controller\", got %q", a.str("on"))}
	}
	return t, nil
}

// parseMode reads an octal file mode such as "0644" or "755".
func parseMode(s string) (os.FileMode, error) {
	if s == "" {
		return 0o644, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, &contract.AttrError{Attr: "mode", Msg: fmt.Sprintf("%q is not an octal file mode such as \"0644\"", s)}
	}
	return os.FileMode(n), nil
}

func (t *downloadTask) Provides() []contract.Resource {
	return []contract.Resource{{Kind: "path", Name: t.path}}
}

func (t *downloadTask) Uses() []contract.Resource {
	r := []contract.Resource{{Kind: "path", Name: path.Dir(t.path)}}
	if t.owner != "" {
		r = append(r, contract.Resource{Kind: "user", Name: t.owner})
	}
	if t.group != "" {
		r = append(r, contract.Resource{Kind: "group", Name: t.group})
	}
	return r
}

func (t *downloadTask) Check() string {
	p := shell.Quote(t.path)
	return shTools("curl", "wget", "sha256sum") + fmt.Sprintf(`if [ -f %[1]s ]; then
printf 'sum=%%s\n' "$(sha256sum < %[1]s | cut -d' ' -f1)"
printf 'stat=%%s\n' "$(stat -c '%%a %%U %%G' %[1]s)"
elif [ -e %[1]s ]; then echo notfile=1
fi
`, p)
}

func (t *downloadTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	subject := t.path
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	if st.has("notfile") {
		return nil, fmt.Errorf("%s exists and is not a regular file; remove it or choose another path", t.path)
	}
	if !st.has("tool.sha256sum") {
		return nil, fmt.Errorf("%s: sha256sum is not installed on the host (coreutils or busybox)", subject)
	}
	p := &contract.Plan{}
	cur := st.vals["sum"]
	if cur == t.sum {
		// Content is right; fix the mode and ownership only.
		f := strings.Fields(st.vals["stat"])
		var attrs []contract.AttrChange
		var fix metaFix
		if len(f) == 3 {
			owned := (t.owner == "" || f[1] == t.owner) && (t.group == "" || f[2] == t.group)
			if t.owner != "" && f[1] != t.owner {
				attrs = append(attrs, contract.AttrChange{Name: "owner", Old: f[1], New: t.owner})
			}
			if t.group != "" && f[2] != t.group {
				attrs = append(attrs, contract.AttrChange{Name: "group", Old: f[2], New: t.group})
			}
			if !owned {
				fix.Owner = t.chownSpec()
			}
			// chown clears setuid/setgid bits, so chmod runs after it.
			if m, err := strconv.ParseUint(f[0], 8, 32); err != nil || os.FileMode(m) != t.mode || !owned {
				if err != nil || os.FileMode(m) != t.mode {
					attrs = append(attrs, contract.AttrChange{Name: "mode", Old: fmt.Sprintf("%04s", f[0]), New: fmt.Sprintf("%04o", uint32(t.mode))})
				}
				fix.Mode = fmt.Sprintf("%04o", uint32(t.mode))
			}
		}
		if len(attrs) > 0 {
			p.Changes = append(p.Changes, contract.Change{Action: contract.Update, Subject: subject, Attrs: attrs})
			p.Steps = append(p.Steps, contract.Step{Script: safeFS + safeMeta(t.path, false, fix)})
		}
		return p, nil
	}
	change := contract.Change{Action: contract.Create, Subject: subject, Attrs: []contract.AttrChange{{Name: "checksum", New: "sha256:" + t.sum}, {Name: "from", New: t.url}}}
	if cur != "" {
		change.Action = contract.Update
		change.Attrs[0].Old = "sha256:" + cur
	}
	p.Changes = append(p.Changes, change)
	if t.controller {
		p.Steps = append(p.Steps, contract.Step{Func: t.fetchOnController})
		return p, nil
	}
	var fetch string
	switch {
	case st.has("tool.curl"):
		fetch = shell.Join("curl", "-fsSL", "--retry", "2", "-o") + ` "$t" ` + shell.Quote(t.url)
	case st.has("tool.wget"):
		fetch = shell.Join("wget", "-q", "-O") + ` "$t" ` + shell.Quote(t.url)
	default:
		return nil, fmt.Errorf("%s: neither curl nor wget is installed on the host; install one or set on = \"controller\"", subject)
	}
	p.Steps = append(p.Steps, contract.Step{Script: t.installScript(fetch)})
	return p, nil
}

func (t *downloadTask) chownSpec() string { return ownerSpec(t.owner, t.group) }

// installScript fetches with fetch (which writes "$t") into a private
// directory beside path (safeFS), verifies the checksum and renames the
// file into place. The temporary file is removed on any failure.
func (t *downloadTask) installScript(fetch string) string {
	var b strings.Builder
	b.WriteString(safeFS)
	b.WriteString(shRequireDir(path.Dir(t.path)))
	fmt.Fprintf(&b, "drover_cd %s\ndrover_stage %s\ntrap drover_unstage EXIT\nt=f\n", shell.Quote(path.Dir(t.path)), shell.Quote(path.Base(t.path)))
	b.WriteString(fetch + "\n")
	b.WriteString(t.verifyAndPlace())
	return b.String()
}

// verifyAndPlace checks the sha256 of f, in safeFS's private directory,
// and puts it in place with its mode and owner.
func (t *downloadTask) verifyAndPlace() string {
	var b strings.Builder
	b.WriteString("s=$(sha256sum < f | cut -d' ' -f1)\n")
	fmt.Fprintf(&b, "if [ \"$s\" != %s ]; then printf 'checksum mismatch for %%s: expected sha256:%%s, got sha256:%%s\\n' %s %s \"$s\" >&2; exit 1; fi\n",
		shell.Quote(t.sum), shell.Quote(t.url), shell.Quote(t.sum))
	owner := ""
	if t.owner != "" || t.group != "" {
		owner = t.chownSpec()
	}
	b.WriteString(shell.Join("drover_place", path.Base(t.path), owner, fmt.Sprintf("%04o", uint32(t.mode))) + "\n")
	return b.String()
}

// httpClient is the client controller-side downloads use.
var httpClient = &http.Client{}

// fetchOnController downloads the URL here, verifying the checksum while
// writing a local temporary file, uploads it beside path, then verifies it
// again on the host and renames it into place.
func (t *downloadTask) fetchOnController(ctx context.Context, conn transport.Conn) (transport.Result, error) {
	var res transport.Result
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return res, fmt.Errorf("download %s: %w", t.url, err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return res, fmt.Errorf("download %s on the controller: %w", t.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("download %s on the controller: %s", t.url, resp.Status)
	}
	f, err := os.CreateTemp("", "drover-download-")
	if err != nil {
		return res, fmt.Errorf("download %s: local temporary file: %w", t.url, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		return res, fmt.Errorf("download %s on the controller: %w", t.url, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != t.sum {
		return res, fmt.Errorf("checksum mismatch for %s: expected sha256:%s, got sha256:%s; nothing was written to the host", t.url, t.sum, got)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return res, err
	}
	tmp := tempPath(t.path)
	if err := conn.Put(ctx, tmp, f, transport.PutOptions{Mode: 0o600}); err != nil {
		return res, fmt.Errorf("uploading %s to %s: %w", t.url, tmp, err)
	}
	script := fmt.Sprintf("set -e\n%st=%s\ntrap 'rm -f \"$t\"; drover_unstage' EXIT\ndrover_cd %s\ndrover_adopt %s\n%s",
		safeFS, shell.Quote(tmp), shell.Quote(path.Dir(t.path)), shell.Quote(path.Base(tmp)), t.verifyAndPlace())
	res, err = conn.Run(ctx, transport.Cmd{Command: script})
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("installing %s: exit status %d: %s", t.path, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
	}
	return res, err
}
