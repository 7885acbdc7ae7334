// Command fleet brings up drover's test fleet by hand, for experiments:
//
//	go run ./integration/cmd/fleet up -n 5 [-dir DIR] [-rootfs] [-systemd]
//	go run ./integration/cmd/fleet down [-dir DIR]
//	go run ./integration/cmd/fleet rootfs
//
// "up" prints how to reach the hosts and stays in the foreground until
// interrupted, then tears the fleet down. "down" stops fleets that "up"
// started (from another terminal, or in the background). "rootfs" builds
// the cached Debian rootfs (see docs/fleet.md).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/integration"
)

const usage = `usage:
  fleet up [-n N] [-dir DIR] [-rootfs] [-systemd]   start N hosts until Ctrl-C
  fleet down [-dir DIR]                             stop the fleets "fleet up" started (or the one in DIR)
  fleet rootfs                                      build the cached Debian rootfs (and its OpenRC layer)
  fleet help                                        this text
`

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "up":
		up(os.Args[2:])
	case "down":
		down(os.Args[2:])
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
	case "rootfs":
		p, err := integration.Rootfs(log.Printf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p)
		// The OpenRC hosts' layer over it (StartOpenRC).
		if _, err := integration.OpenRCRootfs(log.Printf); err != nil {
			log.Fatal(err)
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
}

func up(args []string) {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	n := fs.Int("n", 5, "number of hosts")
	dir := fs.String("dir", "", "keep the fleet's files in `DIR` (default: a temporary directory)")
	rootfs := fs.Bool("rootfs", false, "use the debootstrap'd Debian rootfs instead of this machine's /")
	systemd := fs.Bool("systemd", false, "boot systemd in each host (systemd-nspawn; implies -rootfs)")
	fs.Parse(args)

	opts := []integration.Option{integration.WithLogf(log.Printf)}
	if *dir != "" {
		opts = append(opts, integration.WithDir(*dir))
	}
	if *rootfs {
		opts = append(opts, integration.WithRootfs())
	}
	// Catch Ctrl-C before starting, so that an interrupt during start-up
	// still tears down what is up.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)

	begin := time.Now()
	var f *integration.Fleet
	var err error
	if *systemd {
		f, err = integration.NewSystemd(*n, opts...)
	} else {
		f, err = integration.New(*n, opts...)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	// "fleet down" finds us by this file and stops us with SIGTERM, so the
	// fleet is torn down by its owner, as on Ctrl-C.
	if err := os.WriteFile(filepath.Join(f.Dir, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		log.Fatal(err)
	}

	inv, ini := f.InventoryFile(), f.AnsibleInventoryFile()
	fmt.Printf("fleet: %d hosts up in %s\n\n", len(f.Hosts), time.Since(begin).Round(time.Millisecond))
	fmt.Printf("  dir          %s\n  inventory    %s\n  ansible      %s\n  key          %s\n  known_hosts  %s\n  users        root, %s (sudo NOPASSWD), %s (sudo password %s)\n\n",
		f.Dir, inv, ini, f.KeyFile, f.KnownHostsFile, integration.DeployUser, integration.PasswordUser, shell.Quote(integration.PasswordUserPassword))
	for _, h := range f.Hosts {
		fmt.Printf("  %-8s %s  %s\n", h.Name, h.HostPort(), h.Fingerprint)
	}
	h := f.Hosts[0]
	fmt.Printf("\ntry:\n  drover ping -i %s all\n", shell.Quote(inv))
	fmt.Printf("  ssh %s hostname\n", shellArgs(f.SSHArgs(h, "root")))
	fmt.Printf("  ansible -i %s fleet -m ping\n", shell.Quote(ini))
	fmt.Printf("\nCtrl-C (or fleet down) stops the fleet and removes its files.\n")

	<-sig
	fmt.Println("\nfleet: stopping")
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

// shellArgs quotes args for pasting into a shell, leaving single-letter
// flags bare for legibility.
func shellArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if len(a) == 2 && a[0] == '-' {
			q[i] = a
		} else {
			q[i] = shell.Quote(a)
		}
	}
	return strings.Join(q, " ")
}

// pidFile, in a fleet's directory, holds the PID of the "fleet up" that owns it.
const pidFile = "fleet-up.pid"

// down stops the fleets "fleet up" runs: the one in -dir, or every one under
// the fleets' base directory. Each owner gets SIGTERM and is waited for.
func down(args []string) {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	dir := fs.String("dir", "", "stop only the fleet kept in `DIR` (as given to up -dir)")
	fs.Parse(args)
	files := []string{filepath.Join(*dir, pidFile)}
	if *dir == "" {
		files, _ = filepath.Glob(filepath.Join(os.TempDir(), "drover-fleet", "*", pidFile))
	}
	stopped := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		// The PID may have been reused since: only a fleet process is
		// signalled.
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || pid <= 0 || !strings.Contains(string(cmdline), "fleet") {
			os.Remove(f)
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			log.Printf("fleet: stopping %d: %v", pid, err)
			continue
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if syscall.Kill(pid, 0) != nil {
				break
			}
		}
		fmt.Printf("fleet: stopped the fleet in %s (pid %d)\n", filepath.Dir(f), pid)
		stopped++
	}
	if stopped == 0 {
		fmt.Println("fleet: no fleet is up")
	}
}
