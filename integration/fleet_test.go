package integration_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/drover-cm/drover/integration"
)

func TestFleetSmoke(t *testing.T) {
	f := integration.Start(t, 2)
	h := f.Hosts[0]
	for _, c := range []struct{ user, cmd, stdin string }{
		{"root", "id -un; hostname", ""},
		{"deploy", "id -un; sudo -n id -un", ""},
		{"pwuser", "id -un; sudo -S -p '' id -un", integration.PasswordUserPassword + "\n"},
		{"pwuser", "id -un; sudo -S -p '' id -un", "wrong\n"},
	} {
		cmd := exec.Command("ssh", append(f.SSHArgs(h, c.user), c.cmd)...)
		cmd.Stdin = strings.NewReader(c.stdin)
		out, err := cmd.CombinedOutput()
		t.Logf("%s: %q err=%v", c.user, out, err)
	}
}
