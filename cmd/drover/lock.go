package main

import (
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/drover-cm/drover/engine/runlock"
)

// lockTimeout is --lock-timeout of the commands that change hosts (apply,
// rollback): how long another run's per-host lock is waited for.
var lockTimeout time.Duration

func registerLockFlag(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&lockTimeout, "lock-timeout", 10*time.Second, "how long to wait for another run's lock on a host before reporting the host locked")
}

// lockHolder says who this run is, for the lock it takes: what is the
// playbook or the command.
func lockHolder(what string) runlock.Holder {
	h := runlock.Holder{User: "unknown", Controller: "unknown", PID: os.Getpid(), Start: time.Now(), Playbook: what}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	}
	if n, err := os.Hostname(); err == nil {
		h.Controller = n
	}
	if abs, err := filepath.Abs(what); err == nil && what != "" && filepath.Ext(what) != "" {
		h.Playbook = abs
	}
	return h
}
