package contract_test

import (
	"os/exec"
	"reflect"
	"testing"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/modules/contract"
	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

// TestShListRoundTrip prints hostile lines with ShList in every local POSIX
// shell and reads them back with KV.List: quotes, "=", backslashes, printf
// directives, leading spaces and tabs, option-like words and a line that
// looks like another record come back byte for byte; empty lines are left
// out.
func TestShListRoundTrip(t *testing.T) {
	lines := []string{"plain", `it's "quoted"`, "k=v=w", `back\slash\n`, "%s %d %%", "  indented\ttab ", "-n", "blob x 3", "tail t", "l.1=forged"}
	val := ""
	for _, l := range lines {
		val += l + "\n\n"
	}
	script := "v=" + shell.Quote(val) + "\n" + contract.ShList("l", "v") + "x='a b'; set -- $x; echo \"after=$#\"\n"
	for name, argv := range shconn.Shells() {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(argv[0], append(argv[1:], script)...).Output()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			st, err := contract.ParseKV(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.List("l"); !reflect.DeepEqual(got, lines) {
				t.Errorf("got  %q\nwant %q", got, lines)
			}
			if st.Vals["after"] != "2" {
				t.Error("the fragment left the shell's IFS or globbing changed for what follows")
			}
		})
	}
}
