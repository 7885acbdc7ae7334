package modules

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/remote"
	"github.com/drover-cm/drover/modules/contract"
)

func TestWaitForDiff(t *testing.T) {
	runSysDiff(t, WaitFor{}, "waitfor", []sysCase{
		{name: "port-bash", values: obj("port", "127.0.0.1:5432"), out: "tool.bash=/bin/bash\ntool.nc=/bin/nc\ntool.timeout=/usr/bin/timeout\n"},
		{name: "port-nc", values: obj("port", "[::1]:80"), out: "tool.nc=/bin/nc\n"},
		{name: "port-no-tool", values: obj("port", "db:5432"), out: "tool.timeout=/usr/bin/timeout\n"},
		{name: "http-curl", values: obj("http", "http://127.0.0.1:8080/health?x=$(id)", "status", intVal(204)), out: "tool.curl=/usr/bin/curl\n"},
		{name: "http-wget", values: obj("http", "https://example.org/"), out: "tool.wget=/bin/wget\n"},
		{name: "http-no-tool", values: obj("http", "https://example.org/"), out: ""},
		{name: "command", values: obj("command", hostileText, "timeout", "5m", "interval", "10s"), out: "tool.timeout=/usr/bin/timeout\n"},
	})
	runSysConfigErrors(t, WaitFor{}, []sysConfigCase{
		{"nothing", obj("timeout", "1s"), "exactly one of"},
		{"two", obj("port", "h:1", "command", "true"), "exactly one of"},
		{"no port number", obj("port", "localhost"), "not host:port"},
		{"port out of range", obj("port", "h:70000"), "not host:port"},
		{"hostile host", obj("port", "$(id):22"), "not host:port"},
		{"ftp url", obj("http", "ftp://h/"), "not an http"},
		{"bad status", obj("http", "http://h/", "status", intVal(42)), "not an HTTP status"},
		{"empty command", obj("command", " "), "must not be empty"},
		{"bad timeout", obj("command", "true", "timeout", "soon"), "duration"},
		{"negative interval", obj("command", "true", "interval", "-1s"), "duration"},
	})
}

// wait_for against real listeners with every shell: dash and bash find bash
// and curl; busybox has nc, wget and timeout.
func TestWaitForLocal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/teapot" {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	cases := []struct {
		name   string
		values cty.Value
		err    string
	}{
		{"port open", obj("port", ln.Addr().String(), "timeout", "5s"), ""},
		{"port closed", obj("port", closedAddr, "timeout", "1500ms", "interval", "200ms"), "not ready after 1.5s"},
		{"http ok", obj("http", srv.URL+"/", "timeout", "5s"), ""},
		{"http status", obj("http", srv.URL+"/teapot", "status", intVal(418), "timeout", "5s"), ""},
		{"http wrong status", obj("http", srv.URL+"/teapot", "timeout", "1s", "interval", "200ms"), "status 418, want 200"},
		{"command", obj("command", "test -n \"$HOME$PATH\"", "timeout", "5s"), ""},
		{"command fails", obj("command", "echo nope >&2; exit 3", "timeout", "1s", "interval", "200ms"), "exit status 3: nope"},
		{"command hangs", obj("command", "sleep 20", "timeout", "1s"), "not ready after 1s"},
	}
	for name, conn := range systemShellConns(t) {
		for _, c := range cases {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				task, err := WaitFor{}.Configure(contract.Config{Values: c.values})
				if err != nil {
					t.Fatal(err)
				}
				outs, err := remote.CheckAll(context.Background(), conn, []contract.Task{task})
				if err != nil {
					t.Fatal(err)
				}
				plan, err := task.Diff(outs[0])
				if err != nil {
					t.Fatal(err)
				}
				if plan.Changed() {
					t.Error("wait_for plans a change")
				}
				begin := time.Now()
				res, err := remote.Apply(context.Background(), conn, plan)
				if c.err == "" {
					if err != nil || !strings.HasPrefix(string(res.Stdout), "ready after") {
						t.Errorf("err = %v, stdout %q", err, res.Stdout)
					}
				} else if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("err = %v, want %q", err, c.err)
				}
				if d := time.Since(begin); d > 5*time.Second {
					t.Errorf("took %s", d)
				}
			})
		}
	}
}
