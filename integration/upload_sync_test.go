package integration_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/integration"
)

// TestUploadsSyncBeforeRename traces the host's real sshd (strace from this
// machine: the hosts are namespaces on its kernel) while drover writes
// files every way it can: SFTP Put as root, Put through sudo, and inline
// uploads in an apply batch (drover_put). For every file, the temporary
// file is fsynced before it is renamed onto the path, and the directory
// after. Skipped without strace, unless DROVER_REQUIRE_FLEET=1 (CI installs
// it).
func TestUploadsSyncBeforeRename(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		if os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
			t.Fatal("DROVER_REQUIRE_FLEET=1 but strace is not installed (apt-get install strace)")
		}
		t.Skip("strace is not installed here")
	}
	f := integration.Start(t, 1)
	h := f.Hosts[0]
	// /srv/sync can be changed by anyone (safeFS walks it and installs
	// through a private directory); /srv/fixed only by root (safeFS enters
	// it at once and renames there, syncing it at the end of the batch; the
	// binary file goes by SFTP, before the batch that renames it).
	h.Exec(t, "mkdir -p /srv/sync /srv/fixed && chmod 777 /srv/sync && chmod 755 /srv/fixed")
	pid := listenerPID(t, h.Port)
	out := filepath.Join(t.TempDir(), "strace")
	tr := exec.Command("strace", "-f", "-qq", "--pidns-translation", "-e", "signal=none", "-e", "trace=openat,open,fsync,fdatasync,rename,renameat,renameat2,close,chdir,clone,clone3,fork,vfork",
		"-o", out, "-p", strconv.Itoa(pid))
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if tr.ProcessState == nil {
			tr.Process.Kill()
			tr.Wait()
		}
	}()
	waitTraced(t, pid)

	// SFTP Put, then Put through sudo, then inline uploads (a file task
	// as root and one with become).
	c := dial(t, target(f, h, "root"), options(f))
	if err := c.Put(context.Background(), "/srv/sync/sftp", strings.NewReader("one\n"), transport.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	bt := target(f, h, integration.DeployUser)
	bt.Become = transport.BecomeConfig{Enabled: true}
	b := dial(t, bt, options(f))
	if err := b.Put(context.Background(), "/srv/sync/become", strings.NewReader("two\n"), transport.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e := newEngineAs(t, f, integration.DeployUser, map[string]string{"site.hcl": `
play "p" {
  hosts = "fleet"
  file "mine" {
    path    = "/srv/sync/inline"
    content = "three\n"
  }
  file "roots" {
    path    = "/srv/sync/inline-root"
    content = "four\n"
    become  = true
  }
  file "fixed" {
    path    = "/srv/fixed/inline"
    content = "five\n"
    become  = true
  }
  file "binary" {
    path    = "/srv/fixed/binary"
    content = "six\u0000\n"
    become  = true
  }
}
`})
	if o, res := e.apply(context.Background(), nil); !res.Recap.OK() {
		t.Fatalf("apply:\n%s", o)
	}
	time.Sleep(200 * time.Millisecond) // strace writes what it saw
	tr.Process.Signal(syscall.SIGINT)
	tr.Wait()

	events := straceEvents(t, out)
	for _, p := range []string{"/srv/sync/sftp", "/srv/sync/become", "/srv/sync/inline", "/srv/sync/inline-root", "/srv/fixed/inline", "/srv/fixed/binary"} {
		checkDurable(t, events, p)
	}
}

// checkDurable finds the rename onto p in events and follows it back to the
// file first written (a module may rename an uploaded temporary file once
// more): that file was fsynced before its rename, and the directory after
// the last rename, onto p. So p never names a file whose content is not on
// disk.
func checkDurable(t *testing.T, events []string, p string) {
	t.Helper()
	dst, at, last := p, len(events), -1
	for i := at - 1; i >= 0; i-- {
		if f := strings.Fields(events[i]); len(f) == 3 && f[0] == "rename" && f[2] == dst {
			dst, at = f[1], i
			if last < 0 {
				last = i
			}
		}
	}
	if last < 0 {
		t.Errorf("no rename onto %s traced:\n%s", p, strings.Join(events, "\n"))
		return
	}
	synced := slices.Contains(events[:at], "fsync "+dst)
	dirSynced := slices.Contains(events[last+1:], "fsync "+path.Dir(p))
	if !synced || !dirSynced {
		t.Errorf("%s: %s synced before its rename: %v; directory synced after the rename onto it: %v\n%s", p, dst, synced, dirSynced, strings.Join(events, "\n"))
	}
}

var (
	straceOpen   = regexp.MustCompile(`^(\d+) +open(?:at)?\((?:AT_FDCWD, )?"([^"]*)".* = (\d+)$`)
	straceFsync  = regexp.MustCompile(`^(\d+) +f(?:data)?sync\((\d+)\) += 0$`)
	straceRename = regexp.MustCompile(`^(\d+) +rename(?:at2?)?\((?:AT_FDCWD, )?"([^"]*)", (?:AT_FDCWD, )?"([^"]*)".*\) = 0$`)
	straceClose  = regexp.MustCompile(`^(\d+) +close\((\d+)\)`)
	straceChdir  = regexp.MustCompile(`^(\d+) +chdir\("([^"]*)"\) += 0$`)
	straceFork   = regexp.MustCompile(`^(\d+) +(?:(?:clone3?|v?fork)\(|<\.\.\. (?:clone3?|v?fork) resumed>).*\) += \d+ /\* (\d+) in strace's PID NS \*/$`)
)

// straceEvents reads strace -f output into "fsync PATH" and "rename OLD NEW"
// events, resolving file descriptors per process and relative paths against
// each process's working directory (followed through chdir and fork: the
// file modules work inside the target's directory, with names relative to
// it, so that no component can be swapped under them).
func straceEvents(t *testing.T, file string) []string {
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fds := map[string]string{} // "pid fd" → path
	cwd := map[string]string{} // pid → working directory ("/" until known)
	abs := func(pid, p string) string {
		if path.IsAbs(p) {
			return path.Clean(p)
		}
		d := cwd[pid]
		if d == "" {
			d = "/"
		}
		return path.Join(d, p)
	}
	var events []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := straceOpen.FindStringSubmatch(l); m != nil {
			fds[m[1]+" "+m[3]] = abs(m[1], m[2])
		} else if m := straceFsync.FindStringSubmatch(l); m != nil {
			events = append(events, "fsync "+fds[m[1]+" "+m[2]])
		} else if m := straceRename.FindStringSubmatch(l); m != nil {
			events = append(events, "rename "+abs(m[1], m[2])+" "+abs(m[1], m[3]))
		} else if m := straceChdir.FindStringSubmatch(l); m != nil {
			cwd[m[1]] = abs(m[1], m[2])
		} else if m := straceFork.FindStringSubmatch(l); m != nil {
			cwd[m[2]] = cwd[m[1]]
		} else if m := straceClose.FindStringSubmatch(l); m != nil {
			delete(fds, m[1]+" "+m[2])
		}
	}
	return events
}

// listenerPID is the PID of the process listening on 127.0.0.1:port.
func listenerPID(t *testing.T, port int) int {
	out, err := exec.Command("ss", "-Hltnp", "sport = :"+strconv.Itoa(port)).Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	m := regexp.MustCompile(`pid=(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no listener on port %d: %s", port, out)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	return pid
}

// waitTraced waits until pid has a tracer.
func waitTraced(t *testing.T, pid int) {
	for range 100 {
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if m := regexp.MustCompile(`TracerPid:\s+(\d+)`).FindSubmatch(st); m != nil && string(m[1]) != "0" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("strace did not attach")
}
