package pgtest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Relay is a TCP relay between keyshift and PostgreSQL that a test breaks
// in one of the two ways a network fails:
//   - Cut closes every relayed connection and refuses new ones (the
//     database is gone); Restore lets connections through again.
//   - Freeze stops forwarding bytes in both directions without closing
//     anything (the database is reachable but answers nothing, as when a
//     network silently drops packets); bytes and closes that arrive
//     meanwhile are held and delivered after Thaw, as TCP retransmission
//     would deliver them.
//
// Point a store at Addr instead of the database's own address.
type Relay struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	down   bool
	frozen bool
	thawed *sync.Cond
	conns  map[net.Conn]struct{}
}

// NewRelay starts a relay to target (host:port) on a loopback port; it is
// thawed and closed when the test ends.
func NewRelay(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	r.thawed = sync.NewCond(&r.mu)
	go r.serve()
	t.Cleanup(func() {
		r.Thaw()
		_ = ln.Close()
		r.Cut()
	})
	return r
}

// Addr is the relay's host:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Cut closes every relayed connection and refuses new ones until Restore.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
	for c := range r.conns {
		_ = c.Close()
	}
	clear(r.conns)
}

// Restore lets new connections through again after Cut.
func (r *Relay) Restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = false
}

// Freeze stops forwarding in both directions, holding what arrives.
func (r *Relay) Freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen = true
}

// Thaw forwards again, delivering what was held.
func (r *Relay) Thaw() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frozen = false
	r.thawed.Broadcast()
}

// waitThawed blocks while the relay is frozen.
func (r *Relay) waitThawed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.frozen {
		r.thawed.Wait()
	}
}

func (r *Relay) serve() {
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.relay(in)
	}
}

func (r *Relay) relay(in net.Conn) {
	r.mu.Lock()
	down := r.down
	r.mu.Unlock()
	if down {
		_ = in.Close() // a database that is not there
		return
	}
	out, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		_ = in.Close()
		return
	}
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		_ = in.Close() // cut while dialling
		_ = out.Close()
		return
	}
	r.conns[in], r.conns[out] = struct{}{}, struct{}{}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.pipe(out, in); close(done) }()
	r.pipe(in, out)
	<-done
	r.mu.Lock()
	delete(r.conns, in)
	delete(r.conns, out)
	r.mu.Unlock()
}

// pipe copies src to dst, holding bytes (and the close) while frozen, and
// closes both ends when either side ends.
func (r *Relay) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		r.waitThawed()
		n, err := src.Read(buf)
		r.waitThawed()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
}
