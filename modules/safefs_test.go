package modules

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/drover-cm/drover/engine/shell"
)

// TestSafeFS runs the library on this machine, as root, in a tree where
// "other" (nobody, uid 65534) owns the directory u and has planted links
// and hard links; the fleet tests race the same against a live attacker.
func TestSafeFS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown to another user)")
	}
	for _, sh := range []string{"sh", "dash", "bash", "busybox"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		t.Run(sh, func(t *testing.T) { testSafeFS(t, sh) })
	}
}

func testSafeFS(t *testing.T, sh string) {
	cases := []struct {
		name   string
		setup  string // run first, in the tree's root
		script string // after safeFS, with set -e
		fails  string // stderr must contain this; "" for success
		after  string // its output (in the root, after script) must be exactly this
	}{
		{name: "cd through a root link in a root directory",
			setup:  "mkdir -p r/real && ln -s real r/link",
			script: `drover_cd "$R/r/link"; pwd -P | sed "s|^$R/||"`,
			after:  "r/real\n"},
		{name: "cd through a relative link and ..",
			setup:  "mkdir -p r/a/b && ln -s ../a r/a/up",
			script: `drover_cd "$R/r/a/up/b/.."; pwd -P | sed "s|^$R/||"`,
			after:  "r/a\n"},
		{name: "cd through another user's link is refused",
			setup:  "ln -s /etc u/etc",
			script: `drover_cd "$R/u/etc"`,
			fails:  "is a symbolic link in a directory that nobody or others can change"},
		{name: "install into another user's directory",
			setup:  "printf new > u/.x.tmp",
			script: `drover_cd "$R/u"; drover_install .x.tmp x 0:0 0640`,
			after:  "u/x root 640 new"},
		{name: "install refuses a temp file swapped for a link",
			setup:  "ln -s ../canary u/.x.tmp",
			script: `drover_cd "$R/u"; drover_install .x.tmp x nobody 0666`,
			fails:  "was replaced by another user",
			after:  "canary root 600 secret"},
		{name: "install refuses a temp file swapped for a hard link",
			setup:  "ln canary u/.x.tmp",
			script: `drover_cd "$R/u"; drover_install .x.tmp x nobody 0666`,
			fails:  "was replaced by another user",
			after:  "canary root 600 secret"},
		{name: "meta in another user's directory",
			setup:  "printf data > u/f && chown nobody u/f",
			script: `drover_cd "$R/u"; drover_meta f 0:0 0604`,
			after:  "u/f root 604 data"},
		{name: "meta refuses a link",
			setup:  "ln -s ../canary u/f",
			script: `drover_cd "$R/u"; drover_meta f nobody 0666`,
			fails:  "no longer a regular file",
			after:  "canary root 600 secret"},
		{name: "meta refuses a hard link",
			setup:  "ln canary u/f",
			script: `drover_cd "$R/u"; drover_meta f nobody 0666`,
			fails:  "has another name",
			after:  "canary root 600 secret"},
		{name: "meta refuses setuid in another user's directory",
			setup:  "printf x > u/f && chown nobody u/f",
			script: `drover_cd "$R/u"; drover_meta f 0:0 4755`,
			fails:  "refusing to make",
			after:  "u/f nobody 644 x"},
		{name: "meta sets setuid in a root directory",
			setup:  "mkdir r && printf x > r/f",
			script: `drover_cd "$R/r"; drover_meta f 0:0 4755`,
			after:  "r/f root 4755 x"},
		{name: "read a regular file",
			setup:  "printf 'k1\nk2\n' > u/f",
			script: `drover_cd "$R/u"; drover_read f > "$R/out"; chmod 600 "$R/out"`,
			after:  "out root 600 k1\nk2\n"},
		{name: "read refuses a link",
			setup:  "ln -s ../canary u/f",
			script: `drover_cd "$R/u"; drover_read f`,
			fails:  "is a symbolic link"},
		{name: "read refuses a hard link",
			setup:  "ln canary u/f",
			script: `drover_cd "$R/u"; drover_read f`,
			fails:  "has another name"},
		{name: "mkcd makes the missing parents",
			// The guard: these tests run as root on this machine, and a
			// mkcd that ended anywhere else must not chown it.
			script: `drover_mkcd "$R/u/a/b"; [ . -ef "$R/u/a/b" ] || { echo "mkcd ended in $PWD" >&2; exit 1; }; chown nobody .; chmod 0750 .`,
			after:  "u/a/b nobody 750 "},
		{name: "stage in another user's setgid directory (its private directory is 02700)",
			setup:  "chmod 2775 u",
			script: `drover_cd "$R/u"; drover_stage; printf x > f; drover_unstage; ls -A "$R/u"`,
			after:  ""},
		{name: "stage names its private directory beside NAME in the temp-name scheme",
			script: `drover_cd "$R/u"; drover_stage conf; case ${PWD##*/} in .conf.drover-$_frun-????????????) ;; *) echo "staged in $PWD" >&2; exit 1 ;; esac; drover_unstage; ls -A "$R/u"`,
			after:  ""},
		// The sweep of a killed run's staging directory (transport.StaleTemps
		// chose it): emptied only when still a private directory of ours.
		{name: "rmstale removes a stale staging directory and what drover put in it",
			setup:  "mkdir -m 700 u/.c.drover-1000000000-aBcDeF012345 && mkdir u/.c.drover-1000000000-aBcDeF012345/x && : > u/.c.drover-1000000000-aBcDeF012345/x/y && : > u/.c.drover-1000000000-aBcDeF012345/f",
			script: `drover_cd "$R/u"; drover_rmstale .c.drover-1000000000-aBcDeF012345; ls -A "$R/u"`,
			after:  ""},
		{name: "rmstale leaves a directory that is not private",
			setup:  "mkdir -m 755 u/.c.drover-1000000000-aBcDeF012345 && : > u/.c.drover-1000000000-aBcDeF012345/f",
			script: `drover_cd "$R/u"; drover_rmstale .c.drover-1000000000-aBcDeF012345; ls -A "$R/u/.c.drover-1000000000-aBcDeF012345"`,
			after:  "f\n"},
		{name: "rmstale leaves a private directory holding more than drover's staging names (root's own directory, renamed to a staging name by the owner of its parent)",
			setup:  "mkdir -m 700 u/.c.drover-1000000000-aBcDeF012345 && : > u/.c.drover-1000000000-aBcDeF012345/data && : > u/.c.drover-1000000000-aBcDeF012345/f",
			script: `drover_cd "$R/u"; drover_rmstale .c.drover-1000000000-aBcDeF012345; ls -A "$R/u/.c.drover-1000000000-aBcDeF012345"`,
			after:  "data\nf\n"},
		{name: "rmstale removes a link, never what it points to",
			setup:  "mkdir -m 700 r && : > r/keep && ln -s ../r u/.c.drover-1000000000-aBcDeF012345",
			script: `drover_cd "$R/u"; drover_rmstale .c.drover-1000000000-aBcDeF012345; ls -A "$R/u"; ls -A "$R/r"`,
			after:  "keep\n"},
		{name: "stage leaves nothing behind",
			script: `drover_cd "$R/u"; drover_stage; : > f; drover_unstage; ls -A "$R/u"`,
			after:  ""},
		// A directory swapped for a link between drover's test and its cd
		// (a cd that swaps it first plays the race).
		{name: "cd refuses a directory swapped for a link as it enters",
			setup:  "mkdir -p r/real u/a && chown nobody u/a",
			script: `cd() { if [ "$3" = a ] && [ ! -L a ]; then mv a a.old && ln -s ../r/real a; fi; command cd "$@"; }; drover_cd "$R/u/a"`,
			fails:  "was replaced by a link while drover entered it"},
		// Where nobody but root (or the connecting user) can change any
		// directory on the way, the path cannot be redirected: drover_cd
		// enters it at once, and the library works on the names there.
		{name: "cd enters a path only root can change at once",
			setup:  "mkdir -p r/a",
			script: `drover_cd "$R/r/a"; [ "$_ffix" = "$R/r/a" ]; pwd -P | sed "s|^$R/||"`,
			after:  "r/a\n"},
		{name: "cd walks a path through another user's directory",
			setup:  "mkdir u/a && chown nobody u/a",
			script: `drover_cd "$R/u/a"; echo "${_ffix:-walked}"`,
			after:  "walked\n"},
		{name: "cd walks a path through a group-writable directory",
			setup:  "mkdir -p r/a && chmod 0775 r",
			script: `drover_cd "$R/r/a"; echo "${_ffix:-walked}"`,
			after:  "walked\n"},
		{name: "cd walks into a sticky world-writable directory",
			setup:  "mkdir r && chmod 1777 r",
			script: `drover_cd "$R/r"; echo "${_ffix:-walked}"`,
			after:  "walked\n"},
		{name: "cd walks a path with a link",
			setup:  "mkdir -p r/real && ln -s real r/link",
			script: `drover_cd "$R/r/link"; echo "${_ffix:-walked}"`,
			after:  "walked\n"},
		{name: "cd walks a path with ..",
			setup:  "mkdir -p r/a",
			script: `drover_cd "$R/r/a/.."; echo "${_ffix:-walked}"`,
			after:  "walked\n"},
		{name: "a cd elsewhere ends the shortcut",
			setup:  "mkdir -p r/a u/b && chown 12345 u/b && printf new > u/b/.x.tmp",
			script: `drover_cd "$R/r/a"; [ -n "$_ffix" ]; cd "$R/u/b"; drover_install .x.tmp x 0:0 0640`,
			after:  "u/b/x root 640 new"},
		{name: "install in a root directory",
			setup:  "mkdir r && printf new > r/.x.tmp",
			script: `_fsyncs="$R/syncs"; drover_cd "$R/r"; drover_install .x.tmp x nobody 0640; [ "$(cat "$R/syncs")" = "$R/r" ]`,
			after:  "r/x nobody 640 new"},
		{name: "install in a root directory refuses a link",
			setup:  "mkdir r && ln -s ../canary r/.x.tmp",
			script: `drover_cd "$R/r"; drover_install .x.tmp x nobody 0666`,
			fails:  "is no longer a regular file",
			after:  "canary root 600 secret"},
		{name: "stage in a root directory leaves nothing behind",
			setup:  "mkdir r",
			script: `drover_cd "$R/r"; drover_stage; : > f; : > y; drover_unstage; ls -A "$R/r"`,
			after:  ""},
		{name: "mkcd makes missing parents in a root directory",
			setup:  "mkdir r",
			script: `drover_mkcd "$R/r/a/b"; [ . -ef "$R/r/a/b" ] || { echo "mkcd ended in $PWD" >&2; exit 1; }; chmod 0700 .`,
			after:  "r/a/b root 700 "},
	}
	for _, c := range cases {
		for _, noProc := range []bool{false, true} {
			if noProc && !strings.Contains(c.script, "$R/u") {
				continue // the walk is for other users' directories
			}
			name := c.name
			if noProc {
				// Without /proc, drover_enter and drover_stage compare
				// device and inode numbers read by stat.
				name += " (no /proc)"
				c.script = "_fpf=\n" + c.script
			}
			t.Run(name, func(t *testing.T) { runSafeFSCase(t, sh, c.setup, c.script, c.fails, c.after) })
		}
	}
}

func runSafeFSCase(t *testing.T, sh, setup, script, fails, after string) {
	c := struct{ setup, script, fails, after string }{setup, script, fails, after}
	{
		{
			root := t.TempDir()
			prep := "cd " + shell.Quote(root) + " && printf secret > canary && chmod 600 canary && mkdir u && chown nobody u\n" + c.setup
			if out, err := exec.Command("sh", "-c", prep).CombinedOutput(); err != nil {
				t.Fatalf("setup: %v\n%s", err, out)
			}
			cmd := exec.Command(sh, "-c", "set -e\n"+safeFS+c.script)
			if sh == "busybox" {
				cmd = exec.Command(sh, "sh", "-c", "set -e\n"+safeFS+c.script)
			}
			cmd.Env = append(os.Environ(), "R="+root)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			switch {
			case c.fails == "" && err != nil:
				t.Fatalf("failed: %v\n%s", err, stderr.String())
			case c.fails != "" && err == nil:
				t.Fatalf("succeeded; want an error with %q", c.fails)
			case c.fails != "" && !strings.Contains(stderr.String(), c.fails):
				t.Fatalf("stderr %q does not say %q", stderr.String(), c.fails)
			}
			if c.after == "" && c.fails != "" {
				return
			}
			got := string(out)
			if p, _, ok := strings.Cut(c.after, " "); ok {
				st, err := exec.Command("sh", "-c", "cd "+shell.Quote(root)+" && printf '%s ' \"$(stat -c '%n %U %a' "+p+")\" && { [ -d "+p+" ] || cat "+p+"; }").Output()
				if err != nil {
					t.Fatal(err)
				}
				got += string(st)
			}
			if got != c.after {
				t.Errorf("got %q, want %q", got, c.after)
			}
		}
	}
}
