package transport

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/shell"
)

// fakeSudo behaves like sudo for the options drover uses: -n never reads
// stdin and fails when a password is needed; -S reads the password one line
// at a time (as sudo does, byte by byte), retrying three times. The policy
// comes from FAKE_SUDO_POLICY: nopasswd, password, deny.
const fakeSudo = `#!/bin/sh
printf '%s\n' "$*" >> "$FAKE_SUDO_ARGV"
mode=n
while [ $# -gt 0 ]; do
	case "$1" in
	-n) mode=n; shift;;
	-S) mode=S; shift;;
	-p) shift 2;;
	-u) shift 2;;
	--) shift; break;;
	*) break;;
	esac
done
case "$FAKE_SUDO_POLICY" in
deny) echo "tester is not in the sudoers file." >&2; exit 1;;
nopasswd) ;;
password)
	if [ "$mode" = n ]; then echo "sudo: a password is required" >&2; exit 1; fi
	tries=0
	while :; do
		IFS= read -r pw || { echo "sudo: no password was provided" >&2; exit 1; }
		printf '%s\n' "$pw" >> "$FAKE_SUDO_ARGV.tries"
		[ "$pw" = "$(cat "$FAKE_SUDO_PASSWORD_FILE")" ] && break
		tries=$((tries+1))
		if [ $tries -ge "${FAKE_SUDO_TRIES:-3}" ]; then echo "sudo: $tries incorrect password attempts" >&2; exit 1; fi
		echo "Sorry, try again." >&2
	done;;
esac
exec "$@"
`

// withFakeSudo puts fakeSudo first in PATH with the given policy.
func withFakeSudo(t *testing.T, policy, password string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sudo"), []byte(fakeSudo), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_SUDO_POLICY", policy)
	// In a file: in the environment the password would be visible to the
	// commands, which the test checks it is not.
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_SUDO_PASSWORD_FILE", pwFile)
	t.Setenv("FAKE_SUDO_ARGV", filepath.Join(dir, "argv"))
}

const becomePassword = "pa$$ 'word\" `x`"

func TestBecome(t *testing.T) {
	type conns struct {
		name    string
		connect func(t *testing.T, b BecomeConfig) Conn
	}
	transports := []conns{
		{"local", func(t *testing.T, b BecomeConfig) Conn {
			c, err := Local{}.Connect(context.Background(), Target{Name: "local", Local: true, Become: b})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}},
		{"ssh", func(t *testing.T, b BecomeConfig) Conn {
			f := newFixture(t)
			f.target.Become = b
			return f.connect(t)
		}},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			for _, policy := range []string{"nopasswd", "password"} {
				for _, withPassword := range []bool{false, true} {
					name := policy
					if withPassword {
						name += "/with password"
					}
					t.Run(name, func(t *testing.T) {
						withFakeSudo(t, policy, becomePassword)
						b := BecomeConfig{Enabled: true, User: "someone-else"}
						if withPassword {
							b.Password = []byte(becomePassword)
						}
						c := tr.connect(t, b)
						if policy == "password" && !withPassword {
							_, err := c.Run(context.Background(), Cmd{Command: "true"})
							if KindOf(err) != ErrBecome || !strings.Contains(err.Error(), "--ask-become-pass") {
								t.Fatalf("err = %v, want ErrBecome asking for a password", err)
							}
							return
						}
						testBecomeConn(t, c)
					})
				}
			}
			t.Run("wrong password", func(t *testing.T) {
				withFakeSudo(t, "password", "right")
				c := tr.connect(t, BecomeConfig{Enabled: true, User: "someone-else", Password: []byte(becomePassword)})
				for _, stdin := range []io.Reader{nil, strings.NewReader("secret input\n")} {
					res, err := c.Run(context.Background(), Cmd{Command: "cat", Stdin: stdin})
					if KindOf(err) != ErrBecome || !strings.Contains(err.Error(), "become password") {
						t.Fatalf("err = %v, want ErrBecome about the password", err)
					}
					for _, s := range []string{err.Error(), string(res.Stdout), string(res.Stderr)} {
						if strings.Contains(s, becomePassword) || strings.Contains(s, "secret input") {
							t.Fatalf("password or input leaked: %q", s)
						}
					}
				}
			})
			t.Run("more tries than marks", func(t *testing.T) {
				// A sudo allowed more tries than the preamble has lines
				// reads on: it must find end of file, not the command.
				withFakeSudo(t, "password", "right")
				t.Setenv("FAKE_SUDO_TRIES", "10")
				// Such a sudo waits for more passwords: the run fails
				// when the start timeout ends.
				defer func(d time.Duration) { becomeStartTimeout = d }(becomeStartTimeout)
				becomeStartTimeout = time.Second
				c := tr.connect(t, BecomeConfig{Enabled: true, User: "someone-else", Password: []byte(becomePassword)})
				for _, stdin := range []io.Reader{nil, strings.NewReader("secret input\n")} {
					_, err := c.Run(context.Background(), Cmd{Command: "s=script-secret; cat", Stdin: stdin})
					if KindOf(err) != ErrBecome {
						t.Fatalf("err = %v, want ErrBecome", err)
					}
				}
				tries, _ := os.ReadFile(os.Getenv("FAKE_SUDO_ARGV") + ".tries")
				if bytes.Contains(tries, []byte("script-secret")) || bytes.Contains(tries, []byte("secret input")) {
					t.Fatalf("sudo read the command or its input as passwords:\n%s", tries)
				}
			})
			t.Run("not allowed", func(t *testing.T) {
				withFakeSudo(t, "deny", "")
				c := tr.connect(t, BecomeConfig{Enabled: true, User: "someone-else"})
				err := c.Put(context.Background(), filepath.Join(t.TempDir(), "f"), strings.NewReader("x"), PutOptions{})
				if KindOf(err) != ErrBecome || !strings.Contains(err.Error(), "sudoers") {
					t.Fatalf("err = %v", err)
				}
			})
		})
	}
}

// testBecomeConn checks that commands, stdin, exit codes and files pass
// through the become wrapper unchanged, and that the password never reaches
// the command.
func testBecomeConn(t *testing.T, c Conn) {
	ctx := context.Background()
	res, err := c.Run(ctx, Cmd{Command: "cat; echo err >&2; exit 4", Stdin: strings.NewReader("line1\n" + becomePassword + "-not-the-password\nlast")})
	if err != nil {
		t.Fatal(err)
	}
	if want := "line1\n" + becomePassword + "-not-the-password\nlast"; string(res.Stdout) != want || string(res.Stderr) != "err\n" || res.ExitCode != 4 {
		t.Fatalf("got %q %q %d", res.Stdout, res.Stderr, res.ExitCode)
	}
	res, err = c.Run(ctx, Cmd{Command: "cat"})
	if err != nil || len(res.Stdout) != 0 {
		t.Fatalf("command without stdin read %q (%v)", res.Stdout, err)
	}
	res, err = c.Run(ctx, Cmd{Command: shell.Join("printf", "%s", "it's $(x)")})
	if err != nil || string(res.Stdout) != "it's $(x)" {
		t.Fatalf("quoting: %q %v", res.Stdout, err)
	}
	// sudo's arguments (readable by every user, logged by sudo) never hold
	// the command.
	for _, stdin := range []io.Reader{nil, strings.NewReader("x")} {
		if res, err := c.Run(ctx, Cmd{Command: "s=sudo-argv-secret; echo ok", Stdin: stdin}); err != nil || string(res.Stdout) != "ok\n" {
			t.Fatalf("got %q %v", res.Stdout, err)
		}
	}
	if argv, err := os.ReadFile(os.Getenv("FAKE_SUDO_ARGV")); err != nil || len(argv) == 0 || bytes.Contains(argv, []byte("sudo-argv-secret")) {
		t.Fatalf("sudo's arguments (%v):\n%s", err, argv)
	}
	// Environment and command lines of the command never hold the password.
	res, _ = c.Run(ctx, Cmd{Command: "env; ps -o args= -p $$ 2>/dev/null"})
	if bytes.Contains(res.Stdout, []byte(becomePassword)) {
		t.Fatal("the password is visible to the command")
	}
	testPutGet(t, c, t.TempDir())
}

func TestBecomeSkippedForSameUser(t *testing.T) {
	c, err := withBecome(&localConn{}, Target{Become: BecomeConfig{Enabled: true, User: "alice"}}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*becomeConn); ok {
		t.Fatal("become wrapper used although the login user is the become user")
	}
}

// TestRealSudo runs the become protocol against the real sudo, when the
// environment names a user that may sudo with a password:
// DROVER_SUDO_TEST_USER, DROVER_SUDO_TEST_PASSWORD (root needed to su).
func TestRealSudo(t *testing.T) {
	user, pw := os.Getenv("DROVER_SUDO_TEST_USER"), os.Getenv("DROVER_SUDO_TEST_PASSWORD")
	if user == "" || os.Geteuid() != 0 {
		t.Skip("set DROVER_SUDO_TEST_USER and DROVER_SUDO_TEST_PASSWORD and run as root")
	}
	if _, err := exec.LookPath("sudo"); err != nil {
		t.Skip("no sudo")
	}
	as := &suConn{Conn: &localConn{}, user: user}
	for _, tc := range []struct {
		pw   string
		kind ErrorKind
	}{{pw, ErrOther}, {"wrong", ErrBecome}} {
		c, _ := withBecome(as, Target{Name: "sudo", Local: true, Become: BecomeConfig{Enabled: true, Password: []byte(tc.pw)}}, user)
		res, err := c.Run(context.Background(), Cmd{Command: "id -un; cat", Stdin: strings.NewReader("input\n")})
		if KindOf(err) != tc.kind {
			t.Fatalf("password %q: err %v", tc.pw, err)
		}
		if err == nil && string(res.Stdout) != "root\ninput\n" {
			t.Fatalf("got %q", res.Stdout)
		}
		if err != nil && strings.Contains(err.Error(), tc.pw) {
			t.Fatalf("password in error: %v", err)
		}
		if err == nil {
			testPutGet(t, c, t.TempDir())
		}
	}
}

// suConn runs commands as another local user, standing in for an SSH login.
type suConn struct {
	Conn
	user string
}

func (s *suConn) Run(ctx context.Context, cmd Cmd) (Result, error) {
	cmd.Command = shell.Join("su", "-s", "/bin/sh", s.user, "-c", cmd.Command)
	return s.Conn.Run(ctx, cmd)
}
