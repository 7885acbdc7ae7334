package modules

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/drover-cm/drover/engine/shell"
	"github.com/drover-cm/drover/engine/transport"
	"github.com/drover-cm/drover/modules/contract"
)

// WaitFor waits until a TCP port accepts connections, a URL answers with a
// status, or a command succeeds, as seen from the host.
type WaitFor struct{}

func (WaitFor) Spec() *contract.Spec {
	return &contract.Spec{
		Name:    "wait_for",
		Summary: "Wait until a port is open, a URL answers or a command succeeds on the host.",
		Doc: `Probes from the host every interval until the condition holds, and fails
with the last probe's error after timeout. Set exactly one of port, http and
command. It changes nothing and always reports no change; its plan has no
changes but it still runs when the play is applied.

A port is probed with bash's /dev/tcp or nc, a URL with curl or wget,
whichever the host has (the plan fails early when it has none). Each probe
is bounded by the time left, so a probe that hangs cannot outlast timeout.`,
		Attributes: []contract.Attribute{
			{Name: "port", Type: cty.String, Doc: "\"host:port\" that must accept a TCP connection, e.g. \"127.0.0.1:5432\"."},
			{Name: "http", Type: cty.String, Doc: "http or https URL that must answer with status."},
			{Name: "status", Type: cty.Number, Default: cty.NumberIntVal(200), Doc: "HTTP status http must answer with."},
			{Name: "command", Type: cty.String, Doc: "POSIX sh command that must exit 0."},
			{Name: "timeout", Type: cty.String, Default: cty.StringVal("60s"), Doc: "How long to wait in total, as a duration: \"90s\", \"5m\"."},
			{Name: "interval", Type: cty.String, Default: cty.StringVal("1s"), Doc: "Pause between probes."},
		},
		Example: `wait_for "api_up" {
  http    = "http://127.0.0.1:8080/healthz"
  status  = 200
  timeout = "2m"
}`,
	}
}

var hostName = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

type waitForTask struct {
	kind              string // "port", "http", "command"
	host, port        string
	url               string
	status            int
	command           string
	timeout, interval time.Duration
}

func (WaitFor) Configure(cfg contract.Config) (contract.Task, error) {
	a, err := newSysVals(WaitFor{}.Spec(), cfg)
	if err != nil {
		return nil, err
	}
	t := &waitForTask{}
	n := 0
	for _, k := range []string{"port", "http", "command"} {
		if a.set(k) {
			n++
			t.kind = k
		}
	}
	if n != 1 {
		return nil, &contract.AttrError{Attr: "port", Msg: "set exactly one of port, http and command"}
	}
	switch t.kind {
	case "port":
		h, p, err := net.SplitHostPort(a.str("port"))
		pn, perr := strconv.Atoi(p)
		if err != nil || perr != nil || pn < 1 || pn > 65535 || !hostName.MatchString(h) {
			return nil, &contract.AttrError{Attr: "port", Msg: fmt.Sprintf("%q is not host:port (e.g. \"127.0.0.1:5432\")", a.str("port"))}
		}
		t.host, t.port = h, p
	case "http":
		t.url = a.str("http")
		u, err := url.Parse(t.url)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || hasNewline(t.url) {
			return nil, &contract.AttrError{Attr: "http", Msg: fmt.Sprintf("%q is not an http or https URL", t.url)}
		}
		st, ok, err := a.integer("status")
		if err != nil {
			return nil, err
		}
		t.status = 200
		if ok {
			if st < 100 || st > 599 {
				return nil, &contract.AttrError{Attr: "status", Msg: fmt.Sprintf("%d is not an HTTP status", st)}
			}
			t.status = int(st)
		}
	case "command":
		t.command = a.str("command")
		if strings.TrimSpace(t.command) == "" {
			return nil, &contract.AttrError{Attr: "command", Msg: "must not be empty"}
		}
	}
	if t.timeout, err = parseWaitDuration("timeout", a.str("timeout"), 60*time.Second); err != nil {
		return nil, err
	}
	if t.interval, err = parseWaitDuration("interval", a.str("interval"), time.Second); err != nil {
		return nil, err
	}
	return t, nil
}

func parseWaitDuration(attr, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &contract.AttrError{Attr: attr, Msg: fmt.Sprintf("%q is not a positive duration such as \"30s\" or \"2m\"", s)}
	}
	return d, nil
}

func (t *waitForTask) subject() string {
	switch t.kind {
	case "port":
		return "wait_for port " + net.JoinHostPort(t.host, t.port)
	case "http":
		return "wait_for " + t.url
	}
	return "wait_for command"
}

func (t *waitForTask) Check() string {
	switch t.kind {
	case "port":
		return shTools("bash", "nc", "timeout")
	case "http":
		return shTools("curl", "wget", "timeout")
	}
	return shTools("timeout")
}

func (t *waitForTask) Diff(out contract.CheckOutput) (*contract.Plan, error) {
	st, err := parseKV(out.Stdout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.subject(), err)
	}
	probe, err := t.probe(st)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.subject(), err)
	}
	// No Changes: waiting changes nothing; the step still runs on apply.
	return &contract.Plan{Steps: []contract.Step{{Func: func(ctx context.Context, conn transport.Conn) (transport.Result, error) {
		return t.wait(ctx, conn, probe, st.has("tool.timeout"))
	}}}}, nil
}

// probe returns the command that tests the condition once. For http it
// prints the status code.
func (t *waitForTask) probe(st kv) (string, error) {
	switch t.kind {
	case "port":
		switch {
		case st.has("tool.bash"):
			return shell.Join("bash", "-c", `exec 3<>"/dev/tcp/$1/$2"`, "wait_for", t.host, t.port), nil
		case st.has("tool.nc"):
			// OpenBSD and traditional nc have -z; busybox nc has not, but
			// runs a program once connected.
			return shell.Join("nc", "-z", "-w", "3", t.host, t.port) + " 2>/dev/null || " +
				shell.Join("nc", "-w", "3", t.host, t.port, "-e", "true"), nil
		}
		return "", errors.New("probing a port needs bash or nc on the host")
	case "http":
		switch {
		case st.has("tool.curl"):
			return shell.Join("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", t.url), nil
		case st.has("tool.wget"):
			// wget exits non-zero on 4xx/5xx; the status line is what counts.
			// No -T: busybox 1.35's wget crashes with it; timeout(1) and the
			// context bound the probe instead.
			return shell.Join("wget", "-S", "-O", "/dev/null", t.url) +
				` 2>&1 | awk '{ for (i = 1; i < NF; i++) if ($i ~ /^HTTP\//) c = $(i + 1) } END { print c }'`, nil
		}
		return "", errors.New("probing a URL needs curl or wget on the host")
	}
	return t.command, nil
}

// wait runs probe until it succeeds or the timeout passes. Each probe is
// bounded on the host by timeout(1) when the host has it, and here by the
// context; a probe whose command does not end when the context does is
// abandoned after a short grace period rather than waited for.
func (t *waitForTask) wait(ctx context.Context, conn transport.Conn, probe string, hostTimeout bool) (transport.Result, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	last := "no probe finished"
	var res transport.Result
	for attempt := 1; ; attempt++ {
		cmd := probe
		if hostTimeout {
			secs := int(math.Ceil(time.Until(deadline).Seconds()))
			cmd = "timeout " + strconv.Itoa(max(secs, 1)) + " sh -c " + shell.Quote(probe)
		}
		var err error
		res, err = runBounded(ctx, conn, cmd)
		switch {
		case err != nil && ctx.Err() != nil:
			// The timeout cut a probe short.
		case err != nil:
			return res, fmt.Errorf("%s: %w", t.subject(), err)
		case t.kind == "http":
			code := strings.TrimSpace(string(res.Stdout))
			if code == strconv.Itoa(t.status) {
				return ready(res, start, attempt), nil
			}
			if code == "" || code == "000" {
				last = "no HTTP answer"
			} else {
				last = fmt.Sprintf("status %s, want %d", code, t.status)
			}
		case res.ExitCode == 0:
			return ready(res, start, attempt), nil
		case res.ExitCode == 124 && hostTimeout:
			last = "the probe did not finish in time"
		default:
			last = fmt.Sprintf("exit status %d", res.ExitCode)
			if e := strings.TrimSpace(string(res.Stderr)); e != "" {
				last += ": " + lastLine(e)
			}
		}
		select {
		case <-ctx.Done():
			if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
				return res, fmt.Errorf("%s: %w", t.subject(), parent)
			}
			return res, fmt.Errorf("%s: not ready after %s (%d probes; last: %s)", t.subject(), t.timeout, attempt, last)
		case <-time.After(t.interval):
		}
	}
}

// probeGrace is how long a probe may outlive the timeout before it is
// abandoned.
const probeGrace = 2 * time.Second

// runBounded runs cmd and returns when it finishes, or probeGrace after ctx
// is done, whichever comes first.
func runBounded(ctx context.Context, conn transport.Conn, cmd string) (transport.Result, error) {
	type result struct {
		res transport.Result
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := conn.Run(ctx, transport.Cmd{Command: cmd})
		ch <- result{r, err}
	}()
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
	}
	select {
	case r := <-ch:
		return r.res, r.err
	case <-time.After(probeGrace):
		return transport.Result{}, ctx.Err()
	}
}

func ready(res transport.Result, start time.Time, attempts int) transport.Result {
	res.Stdout = fmt.Appendf(nil, "ready after %s (%d probes)\n", time.Since(start).Round(time.Millisecond), attempts)
	res.Stderr = nil
	res.ExitCode = 0
	return res
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
