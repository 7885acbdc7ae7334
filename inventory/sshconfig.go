package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/kevinburke/ssh_config"
)

// sshConfig is a parsed ssh_config file (nil when there is none).
type sshConfig struct {
	path string
	cfg  *ssh_config.Config
}

// loadSSHConfig reads path ("" for ~/.ssh/config when it exists, "none" for
// no file). A broken default file is a warning and is ignored, so that an
// unrelated directive drover's parser does not know (such as "Match exec")
// does not stop every run; a broken explicit file is an error.
func loadSSHConfig(path string) (*sshConfig, hcl.Diagnostics) {
	if path == "none" {
		return nil, nil
	}
	explicit := path != ""
	if !explicit {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, nil
		}
		path = filepath.Join(home, ".ssh", "config")
	}
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, hcl.Diagnostics{{
			Severity: severity(explicit),
			Summary:  "Cannot read ssh_config",
			Detail:   fmt.Sprintf("%v. Fix the file, or pass another one (\"none\" disables ssh_config).", err),
		}}
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		detail := fmt.Sprintf("%s: %v.", path, err)
		if !explicit {
			detail += " drover ignores this file and uses only the inventory's settings."
		}
		return nil, hcl.Diagnostics{{
			Severity: severity(explicit),
			Summary:  "Cannot parse ssh_config",
			Detail:   detail,
		}}
	}
	return &sshConfig{path: path, cfg: cfg}, nil
}

func severity(err bool) hcl.DiagnosticSeverity {
	if err {
		return hcl.DiagError
	}
	return hcl.DiagWarning
}

// lookup returns the layer of settings ssh_config gives alias, the name
// OpenSSH would match "Host" patterns against: the fields (fields.go) with
// ssh_config keywords. Values are raw: tokens are not expanded.
func (c *sshConfig) lookup(alias string) (*settings, error) {
	s := &settings{}
	if c == nil || c.cfg == nil {
		return s, nil
	}
	vals := sshAlias{c.cfg, alias}
	for _, f := range fields {
		if f.ssh == nil {
			continue
		}
		v, err := f.parseSSH(vals)
		var bad *sshValueError
		if errors.As(err, &bad) {
			return s, fmt.Errorf("%s: %s %q for %s is not %s", c.path, f.ssh[0], bad.raw, alias, bad.want)
		}
		s.vals[f.key] = v
	}
	return s, nil
}

// sshAlias is ssh_config as it applies to one alias.
type sshAlias struct {
	cfg   *ssh_config.Config
	alias string
}

func (a sshAlias) one(keyword string) string {
	v, _ := a.cfg.Get(a.alias, keyword)
	return strings.TrimSpace(v)
}

func (a sshAlias) all(keyword string) []string {
	vs, _ := a.cfg.GetAll(a.alias, keyword)
	for i := range vs {
		vs[i] = strings.TrimSpace(vs[i])
	}
	return vs
}

// tokens are the values of OpenSSH's %-tokens for one connection.
type tokens struct {
	host       string // %h: the remote host name (after HostName)
	alias      string // %n: the name as given
	remoteUser string // %r
	port       int    // %p
}

// expandPath expands a leading ~, ${VAR} and the %-tokens OpenSSH accepts in
// IdentityFile and UserKnownHostsFile (%%, %d, %h, %n, %p, %r, %u, %l).
func expandPath(s string, t tokens) string {
	home, _ := os.UserHomeDir()
	if s == "~" {
		s = home
	} else if strings.HasPrefix(s, "~/") {
		s = filepath.Join(home, s[2:])
	}
	s = os.Expand(strings.ReplaceAll(s, "$$", "\x00"), func(v string) string { return os.Getenv(v) })
	s = strings.ReplaceAll(s, "\x00", "$")
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(home)
		case 'h':
			b.WriteString(t.host)
		case 'n':
			b.WriteString(t.alias)
		case 'p':
			b.WriteString(strconv.Itoa(t.port))
		case 'r':
			b.WriteString(t.remoteUser)
		case 'u':
			b.WriteString(currentUser())
		case 'l':
			hn, _ := os.Hostname()
			hn, _, _ = strings.Cut(hn, ".")
			b.WriteString(hn)
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// currentUser is the local user name, the default remote user. A variable so
// tests can pin it.
var currentUser = func() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}
