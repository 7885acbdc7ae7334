package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/drover-cm/drover/engine/transport/transporttest"
)

// TestBecomePutSyncs: a Put through sudo fsyncs the temporary file before
// the rename and the directory after.
func TestBecomePutSyncs(t *testing.T) {
	withFakeSudo(t, "nopasswd", "")
	log := transporttest.FakeSync(t, "f")
	c, err := Local{}.Connect(context.Background(), Target{Name: "local", Local: true, Become: BecomeConfig{Enabled: true, User: "someone-else"}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(context.Background(), p, strings.NewReader("new"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(log)
	transporttest.CheckSyncOrder(t, got, p, "new")
}

// TestSyncFuncs runs SyncFuncs with each sync at hand: dash with coreutils,
// busybox's own sync, and a sync that takes no operand (the fallback).
func TestSyncFuncs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("x"), 0o644)
	noOperand := filepath.Join(t.TempDir(), "sync")
	os.WriteFile(noOperand, []byte("#!/bin/sh\n[ $# -eq 0 ] || { echo 'sync: extra operand' >&2; exit 1; }\necho global >> \"$0.log\"\n"), 0o755)
	script := SyncFuncs + `drover_sync "$1" && drover_syncdir "$1" && drover_syncdir /f && drover_syncdir f && echo ok`
	cases := map[string][]string{"dash": {"sh", "-c", script, "sh", f}}
	if bb, err := exec.LookPath("busybox"); err == nil {
		// busybox sh finds its own applets first.
		cases["busybox"] = []string{bb, "sh", "-c", strings.ReplaceAll(script, "sync --", "busybox sync --"), "sh", f}
	}
	fallback := strings.NewReplacer(" sync -- ", " "+noOperand+" -- ", "|| sync;", "|| "+noOperand+";").Replace(script)
	cases["no operand"] = []string{"sh", "-c", fallback, "sh", f}
	for name, argv := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err != nil || string(out) != "ok\n" {
				t.Fatalf("%v: %q", err, out)
			}
		})
	}
	if b, _ := os.ReadFile(noOperand + ".log"); strings.Count(string(b), "global") != 4 {
		t.Errorf("fallback: %q; want a global sync for each call", b)
	}
}

// TestSFTPPutSyncs: over SFTP, Put sends fsync@openssh.com for the
// temporary file before renaming it and for the directory after, when the
// server offers the extension (pkg/sftp's server does not: a proxy in front
// of it offers and answers it, and logs what the client asked).
func TestSFTPPutSyncs(t *testing.T) {
	f := newFixture(t)
	var pr *sftpProxy
	f.srv.sftpWrap = func(ch io.ReadWriteCloser) io.ReadWriteCloser {
		pr = newSFTPProxy(ch)
		return pr
	}
	c := f.connect(t)
	p := filepath.Join(t.TempDir(), "f")
	if err := c.Put(context.Background(), p, strings.NewReader("new"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	got := pr.events()
	var tmp string
	for _, e := range got {
		if strings.HasPrefix(e, "open "+filepath.Dir(p)+"/.f.drover-") {
			tmp = strings.TrimPrefix(e, "open ")
			break
		}
	}
	want := []string{"open " + tmp, "fsync " + tmp, "rename " + tmp + " " + p, "open " + filepath.Dir(p), "fsync " + filepath.Dir(p)}
	if tmp == "" || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("SFTP requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
}

// sftpProxy stands between an SFTP client's channel and pkg/sftp's server:
// it adds fsync@openssh.com to the server's version packet, answers fsync
// requests itself (status OK), and logs opens, fsyncs and renames by path.
type sftpProxy struct {
	ch      io.ReadWriteCloser
	in      *io.PipeReader // client requests for the server
	wmu     sync.Mutex     // serialises packets to the client
	out     []byte         // server output not yet a whole packet
	mu      sync.Mutex
	log     []string
	opening map[uint32]string // request id → path
	handles map[string]string // handle → path
}

func newSFTPProxy(ch io.ReadWriteCloser) *sftpProxy {
	pr, pw := io.Pipe()
	p := &sftpProxy{ch: ch, in: pr, opening: map[uint32]string{}, handles: map[string]string{}}
	go func() {
		for {
			pkt, err := readPacket(ch)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if reply := p.request(pkt); reply != nil {
				p.send(reply)
				continue
			}
			if _, err := pw.Write(pkt); err != nil {
				return
			}
		}
	}()
	return p
}

func (p *sftpProxy) events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

func (p *sftpProxy) Read(b []byte) (int, error) { return p.in.Read(b) }
func (p *sftpProxy) Close() error               { return p.ch.Close() }

// Write takes the server's output, packet by packet.
func (p *sftpProxy) Write(b []byte) (int, error) {
	p.out = append(p.out, b...)
	for len(p.out) >= 4 {
		n := int(binary.BigEndian.Uint32(p.out)) + 4
		if len(p.out) < n {
			break
		}
		pkt := append([]byte(nil), p.out[:n]...)
		p.out = p.out[n:]
		if err := p.send(p.response(pkt)); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func (p *sftpProxy) send(pkt []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.ch.Write(pkt)
	return err
}

// request logs a client packet; for fsync it returns the answer.
func (p *sftpProxy) request(pkt []byte) []byte {
	r := sftpReader{b: pkt[5:]}
	id := r.uint32()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch pkt[4] {
	case 3: // SSH_FXP_OPEN
		p.opening[id] = r.str()
	case 200: // SSH_FXP_EXTENDED
		switch r.str() {
		case "fsync@openssh.com":
			p.log = append(p.log, "fsync "+p.handles[r.str()])
			return sftpPacket(101, id, 0, "", "") // SSH_FXP_STATUS OK
		case "posix-rename@openssh.com":
			old := r.str()
			p.log = append(p.log, "rename "+old+" "+r.str())
		}
	}
	return nil
}

// response logs handles and offers fsync in the version packet.
func (p *sftpProxy) response(pkt []byte) []byte {
	switch pkt[4] {
	case 2: // SSH_FXP_VERSION: append an extension pair
		return appendStrings(pkt, "fsync@openssh.com", "1")
	case 102: // SSH_FXP_HANDLE
		r := sftpReader{b: pkt[5:]}
		id := r.uint32()
		h := r.str()
		p.mu.Lock()
		if path, ok := p.opening[id]; ok {
			p.handles[h] = path
			p.log = append(p.log, "open "+path)
		}
		p.mu.Unlock()
	}
	return pkt
}

func readPacket(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	pkt := make([]byte, 4+binary.BigEndian.Uint32(hdr[:]))
	copy(pkt, hdr[:])
	_, err := io.ReadFull(r, pkt[4:])
	return pkt, err
}

type sftpReader struct{ b []byte }

func (r *sftpReader) uint32() uint32 {
	if len(r.b) < 4 {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *sftpReader) str() string {
	n := int(r.uint32())
	if n > len(r.b) {
		n = len(r.b)
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// sftpPacket builds a packet of type typ: id, a uint32, then strings.
func sftpPacket(typ byte, id, code uint32, strs ...string) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0, 0, typ})
	binary.Write(&b, binary.BigEndian, id)
	binary.Write(&b, binary.BigEndian, code)
	return appendStrings(b.Bytes(), strs...)
}

// appendStrings appends SFTP strings to pkt and fixes its length.
func appendStrings(pkt []byte, strs ...string) []byte {
	for _, s := range strs {
		pkt = binary.BigEndian.AppendUint32(pkt, uint32(len(s)))
		pkt = append(pkt, s...)
	}
	binary.BigEndian.PutUint32(pkt, uint32(len(pkt)-4))
	return pkt
}
