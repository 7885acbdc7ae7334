// Host preparation before its overlay is mounted: its own files written
// straight into the upper layer (keys, sshd drop-in, users, sudo rules).

package integration

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// prepare writes the host's own files into its overlay upper layer before the
// overlay is mounted: host key, sshd drop-in, hostname, users, sudo rules and
// authorized keys. Writing them from here costs no process per file.
func (h *Host) prepare() error {
	f := h.fleet
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			return err
		}
	}
	u := upper{lower: f.Lower, dir: filepath.Join(h.Dir, "upper")}

	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "root@"+h.Name)
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	h.HostKey = signer.PublicKey()
	h.Fingerprint = ssh.FingerprintSHA256(h.HostKey)
	if err := u.write("etc/ssh/drover_fleet_host_ed25519_key", pem.EncodeToMemory(block), 0o600, 0, 0); err != nil {
		return err
	}
	if err := u.write("etc/ssh/drover_fleet_host_ed25519_key.pub", ssh.MarshalAuthorizedKey(h.HostKey), 0o644, 0, 0); err != nil {
		return err
	}
	if err := h.writeSSHDConfig(); err != nil {
		return err
	}
	if err := u.write("etc/hostname", []byte(h.Name+"\n"), 0o644, 0, 0); err != nil {
		return err
	}
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n", h.Name)
	if err := u.write("etc/hosts", []byte(hosts), 0o644, 0, 0); err != nil {
		return err
	}
	if f.Lower != "/" {
		// The rootfs keeps the resolv.conf of the day it was built.
		if rc, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			if err := u.write("etc/resolv.conf", rc, 0o644, 0, 0); err != nil {
				return err
			}
		}
	}
	// The machine's root dotfiles may be slow or chatty; hosts get Debian's.
	bashrc, _ := os.ReadFile(filepath.Join(f.Lower, "usr/share/base-files/dot.bashrc"))
	profile, _ := os.ReadFile(filepath.Join(f.Lower, "usr/share/base-files/dot.profile"))
	if err := u.write("root/.bashrc", bashrc, 0o644, 0, 0); err != nil {
		return err
	}
	if err := u.write("root/.profile", profile, 0o644, 0, 0); err != nil {
		return err
	}
	if err := u.write("root/.ssh/authorized_keys", []byte(f.PublicKey+"\n"), 0o600, 0, 0); err != nil {
		return err
	}
	return h.addUsers(u, bashrc, profile)
}

func (h *Host) writeSSHDConfig() error {
	u := upper{lower: h.fleet.Lower, dir: filepath.Join(h.Dir, "upper")}
	// The first value of an option wins in sshd_config, and Debian's
	// sshd_config includes sshd_config.d/*.conf at its top, so this file's
	// settings override the stock ones.
	conf := fmt.Sprintf(`# drover test fleet: %s
Port %d
ListenAddress 127.0.0.1
HostKey /etc/ssh/drover_fleet_host_ed25519_key
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile .ssh/authorized_keys
UseDNS no
MaxStartups 200
MaxSessions 200
AllowTcpForwarding yes
PrintMotd no
PrintLastLog no
`, h.Name, h.Port)
	return u.write("etc/ssh/sshd_config.d/00-drover-fleet.conf", []byte(conf), 0o644, 0, 0)
}

// fleetUIDs are the first UID tried for the fleet's users; the next free ones
// are used if the lower layer already has them.
const fleetUID = 2001

// addUsers appends DeployUser and PasswordUser to the lower layer's account
// files, gives them home directories with the fleet's key, and sudo rules.
func (h *Host) addUsers(u upper, bashrc, profile []byte) error {
	passwd, err := os.ReadFile(filepath.Join(u.lower, "etc/passwd"))
	if err != nil {
		return err
	}
	group, err := os.ReadFile(filepath.Join(u.lower, "etc/group"))
	if err != nil {
		return err
	}
	shadow, err := os.ReadFile(filepath.Join(u.lower, "etc/shadow"))
	if err != nil {
		return err
	}
	hash, err := passwordHash()
	if err != nil {
		return err
	}
	used := usedIDs(passwd, group)
	id := fleetUID
	for _, user := range []struct{ name, hash string }{{DeployUser, "*"}, {PasswordUser, hash}, {AttackerUser, "*"}} {
		for used[id] {
			id++
		}
		used[id] = true
		home := "home/" + user.name
		passwd = appendLine(passwd, fmt.Sprintf("%s:x:%d:%d::/%s:/bin/bash", user.name, id, id, home))
		group = appendLine(group, fmt.Sprintf("%s:x:%d:", user.name, id))
		shadow = appendLine(shadow, fmt.Sprintf("%s:%s:19000:0:99999:7:::", user.name, user.hash))
		if err := u.mkdir(home, 0o750, id, id); err != nil {
			return err
		}
		if err := u.write(home+"/.bashrc", bashrc, 0o644, id, id); err != nil {
			return err
		}
		if err := u.write(home+"/.profile", profile, 0o644, id, id); err != nil {
			return err
		}
		if err := u.mkdir(home+"/.ssh", 0o700, id, id); err != nil {
			return err
		}
		if err := u.write(home+"/.ssh/authorized_keys", []byte(h.fleet.PublicKey+"\n"), 0o600, id, id); err != nil {
			return err
		}
	}
	if err := u.write("etc/passwd", passwd, 0o644, 0, 0); err != nil {
		return err
	}
	if err := u.write("etc/group", group, 0o644, 0, 0); err != nil {
		return err
	}
	shadowGID := 0
	if fi, err := os.Stat(filepath.Join(u.lower, "etc/shadow")); err == nil {
		shadowGID = int(fi.Sys().(*syscall.Stat_t).Gid)
	}
	if err := u.write("etc/shadow", shadow, 0o640, 0, shadowGID); err != nil {
		return err
	}
	sudoers := fmt.Sprintf("# drover test fleet\n%s ALL=(ALL:ALL) NOPASSWD: ALL\n%s ALL=(ALL:ALL) ALL\n", DeployUser, PasswordUser)
	return u.write("etc/sudoers.d/drover-fleet", []byte(sudoers), 0o440, 0, 0)
}

var passwordHashOnce = sync.OnceValues(func() (string, error) {
	cmd := exec.Command("openssl", "passwd", "-6", "-stdin")
	cmd.Stdin = strings.NewReader(PasswordUserPassword + "\n")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hash %s's password with openssl: %w", PasswordUser, err)
	}
	return strings.TrimSpace(string(out)), nil
})

func passwordHash() (string, error) { return passwordHashOnce() }

func usedIDs(files ...[]byte) map[int]bool {
	used := map[int]bool{}
	for _, f := range files {
		for _, line := range strings.Split(string(f), "\n") {
			fields := strings.Split(line, ":")
			if len(fields) > 2 {
				if id, err := strconv.Atoi(fields[2]); err == nil {
					used[id] = true
				}
			}
		}
	}
	return used
}

func appendLine(b []byte, line string) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return append(b, line+"\n"...)
}

// upper writes into an overlay upper layer. Directories it has to create on
// the way get the mode and owner of the same directory in the lower layer, so
// that the merged view shows them unchanged.
type upper struct{ lower, dir string }

func (u upper) write(rel string, data []byte, mode os.FileMode, uid, gid int) error {
	if err := u.parents(rel); err != nil {
		return err
	}
	p := filepath.Join(u.dir, rel)
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	return os.Lchown(p, uid, gid)
}

func (u upper) mkdir(rel string, mode os.FileMode, uid, gid int) error {
	if err := u.parents(rel); err != nil {
		return err
	}
	p := filepath.Join(u.dir, rel)
	if err := os.Mkdir(p, mode); err != nil && !os.IsExist(err) {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	return os.Lchown(p, uid, gid)
}

// parents creates the directories above rel in the upper layer.
func (u upper) parents(rel string) error {
	parts := strings.Split(filepath.Dir(rel), "/")
	for i := range parts {
		if parts[i] == "." {
			return nil
		}
		sub := filepath.Join(parts[:i+1]...)
		p := filepath.Join(u.dir, sub)
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		mode, uid, gid := os.FileMode(0o755), 0, 0
		if fi, err := os.Stat(filepath.Join(u.lower, sub)); err == nil && fi.IsDir() {
			st := fi.Sys().(*syscall.Stat_t)
			mode, uid, gid = fi.Mode().Perm()|fi.Mode()&(os.ModeSticky|os.ModeSetgid), int(st.Uid), int(st.Gid)
		}
		if err := os.Mkdir(p, mode); err != nil && !os.IsExist(err) {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}
