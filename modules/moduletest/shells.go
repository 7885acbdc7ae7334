package moduletest

import (
	"testing"

	"github.com/drover-cm/drover/modules/moduletest/shconn"
)

// Aliases of package shconn, kept for existing callers. Packages that
// moduletest imports (engine/remote, engine/facts) must import shconn
// directly in their own tests.
type ShellConn = shconn.ShellConn

// Shells: see shconn.Shells.
func Shells() map[string][]string { return shconn.Shells() }

// BusyboxPath: see shconn.BusyboxPath.
func BusyboxPath(dir string) (string, error) { return shconn.BusyboxPath(dir) }

// Busybox: see shconn.Busybox.
func Busybox(t testing.TB) *ShellConn { return shconn.Busybox(t) }
