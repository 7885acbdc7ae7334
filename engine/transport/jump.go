package transport

import (
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// hopPool shares ProxyJump connections between the targets behind them:
// 200 hosts behind one bastion make one connection to the bastion, not 200
// (which would also trip sshd's MaxStartups there). A hop is closed when the
// last connection through it closes.
type hopPool struct {
	mu   sync.Mutex
	hops map[string]*sharedHop
}

type sharedHop struct {
	key    string
	ready  chan struct{} // closed when the dial has finished
	dead   chan struct{} // closed when the connection has ended
	client *ssh.Client
	err    error
	refs   int
}

// hopKey identifies the chain of hops up to and including hops[last]: the
// same hop reached another way is another connection.
func hopKey(hops []Target) string {
	var b strings.Builder
	for _, h := range hops {
		fmt.Fprintf(&b, "%s@%s|%q|%q|%d|%t|%t>", loginUser(h), joinAddr(h.Address, h.Port), h.Identities, h.KnownHostsFiles, h.ConnectTimeout, h.AcceptNewHostKeys, h.IdentitiesOnly)
	}
	return b.String()
}

// acquire returns the live connection for key, dialling it with dial when
// there is none; concurrent callers wait for one dial. dialed says whether
// this call made the handshake.
func (p *hopPool) acquire(key string, dial func() (*ssh.Client, error)) (h *sharedHop, dialed bool, err error) {
	p.mu.Lock()
	if p.hops == nil {
		p.hops = map[string]*sharedHop{}
	}
	if h = p.hops[key]; h != nil && !h.isDead() {
		h.refs++
		p.mu.Unlock()
		<-h.ready // bounded by the hop's connect timeout
		if h.err != nil {
			p.release(h)
			return nil, false, h.err
		}
		return h, false, nil
	}
	h = &sharedHop{key: key, ready: make(chan struct{}), dead: make(chan struct{}), refs: 1}
	p.hops[key] = h
	p.mu.Unlock()

	h.client, h.err = dial()
	if h.err != nil {
		close(h.dead)
		close(h.ready)
		p.release(h)
		return nil, true, h.err
	}
	close(h.ready)
	go func() {
		_ = h.client.Wait()
		close(h.dead)
	}()
	return h, true, nil
}

func (h *sharedHop) isDead() bool {
	select {
	case <-h.dead:
		return true
	default:
		return false
	}
}

// release drops one reference; the last one closes the connection.
func (p *hopPool) release(h *sharedHop) {
	p.mu.Lock()
	h.refs--
	last := h.refs == 0
	if last && p.hops[h.key] == h {
		delete(p.hops, h.key)
	}
	p.mu.Unlock()
	if last && h.client != nil {
		h.client.Close()
		<-h.dead
	}
}
