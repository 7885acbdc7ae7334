// Command webapp is the recipe book's tiny web app: it serves the release
// that dir's current link points to when it starts (VERSION) and answers
// /health with 200, or 500 when the release carries a BROKEN marker, so a
// broken release fails its health check and is rolled back.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	dir := flag.String("dir", "", "the release directory (APP/current)")
	check := flag.Bool("check", false, "check the flags and exit")
	flag.Parse()
	if _, _, err := net.SplitHostPort(*addr); err != nil || *dir == "" {
		log.Fatalf("webapp: -addr HOST:PORT and -dir DIR are required (%v)", err)
	}
	if *check {
		return
	}
	// Read once: a new release goes live on restart, as a real app's would.
	version, broken := "none", false
	if root, err := filepath.EvalSymlinks(*dir); err == nil {
		if b, err := os.ReadFile(filepath.Join(root, "VERSION")); err == nil {
			version = strings.TrimSpace(string(b))
		}
		_, err = os.Stat(filepath.Join(root, "BROKEN"))
		broken = err == nil
	}
	host, _ := os.Hostname()
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case version == "none":
			http.Error(w, "no release", http.StatusServiceUnavailable)
		case broken:
			http.Error(w, "broken release", http.StatusInternalServerError)
		default:
			fmt.Fprintln(w, "ok")
		}
	})
	http.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, version) })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "release %s from %s\n", version, host)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
