package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-cm/drover/integration"
)

// TestUpDown: help exits 0, and "down -dir" stops the fleet "up -dir"
// runs, which tears its hosts down.
func TestUpDown(t *testing.T) {
	if err := integration.Available(false); err != nil {
		if os.Getenv("DROVER_REQUIRE_FLEET") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "fleet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "--help").Output(); err != nil || !strings.Contains(string(out), "fleet down") {
		t.Errorf("--help: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "f")
	up := exec.Command(bin, "up", "-n", "1", "-dir", dir)
	var out bytes.Buffer
	up.Stdout, up.Stderr = &out, &out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer up.Process.Kill()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, pidFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fleet up:\n%s", out.String())
		}
	}
	// Reap up as soon as it exits: down waits for the process to be gone.
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()
	start := time.Now()
	down, err := exec.Command(bin, "down", "-dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(down), "stopped the fleet in "+dir) || time.Since(start) > 20*time.Second {
		t.Errorf("down: %v after %v\n%s", err, time.Since(start), down)
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "fleet: stopping") {
			t.Errorf("up after down: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("up still runs after down:\n%s", out.String())
	}
}
