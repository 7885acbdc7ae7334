package transport

import (
	"encoding/binary"
	"io"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// newSFTPClient starts the sftp subsystem with privateCreate between the
// client and the server.
//
// pkg/sftp opens files with no attributes, so the server creates them with
// its default mode (0666 less its umask: usually 0644), and Put can only
// chmod the handle one round trip later. Another user who opens the
// temporary file in between keeps a descriptor that reads the upload as it
// is written, whatever the mode becomes. The library offers no way to pass
// attributes at creation (up to v1.13.12), so the requests are amended on
// the wire: every SSH_FXP_OPEN that may create a file and carries no
// attributes gets permissions 0600, which the server passes to open(2).
// Put then sets the final mode on the handle before writing.
func newSFTPClient(c *ssh.Client, opts ...sftp.ClientOption) (*sftp.Client, error) {
	s, err := c.NewSession()
	if err != nil {
		return nil, err
	}
	w, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	r, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.RequestSubsystem("sftp"); err != nil {
		s.Close()
		return nil, err
	}
	return sftp.NewClientPipe(r, &privateCreate{w: w, s: s}, opts...)
}

const (
	sshFxpOpen        = 3
	sshFxfCreat       = 0x08
	sshFileXferAttrPm = 0x04 // SSH_FILEXFER_ATTR_PERMISSIONS
)

// privateCreate is the client's request stream, passed through except for
// the SSH_FXP_OPEN requests that create files (see newSFTPClient). Requests
// are length-prefixed packets; only an open is held until it is complete,
// everything else (the file data) goes straight through.
type privateCreate struct {
	w    io.WriteCloser
	s    *ssh.Session
	head []byte // the start of a packet: length and type
	open []byte // an open request being gathered
	pass uint32 // bytes left of a packet being passed through
}

func (p *privateCreate) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		switch {
		case p.pass > 0:
			k := min(uint32(len(b)), p.pass)
			if _, err := p.w.Write(b[:k]); err != nil {
				return 0, err
			}
			p.pass -= k
			b = b[k:]
		case p.open != nil:
			want := 4 + int(binary.BigEndian.Uint32(p.open))
			k := min(len(b), want-len(p.open))
			p.open = append(p.open, b[:k]...)
			b = b[k:]
			if len(p.open) == want {
				out := privateOpen(p.open)
				p.open = nil
				if _, err := p.w.Write(out); err != nil {
					return 0, err
				}
			}
		default:
			k := min(len(b), 5-len(p.head))
			p.head = append(p.head, b[:k]...)
			b = b[k:]
			if len(p.head) < 5 {
				continue
			}
			size := binary.BigEndian.Uint32(p.head)
			if p.head[4] == sshFxpOpen {
				p.open = append(make([]byte, 0, 4+size), p.head...)
			} else {
				if _, err := p.w.Write(p.head); err != nil {
					return 0, err
				}
				p.pass = size - 1
			}
			p.head = p.head[:0]
		}
	}
	return n, nil
}

func (p *privateCreate) Close() error {
	err := p.w.Close()
	p.s.Close()
	return err
}

// privateOpen is pkt, a whole SSH_FXP_OPEN request (length, type, id, path,
// pflags, attrs), with permissions 0600 when it may create a file and sets
// no attributes of its own; any other request is returned as it is.
func privateOpen(pkt []byte) []byte {
	if len(pkt) < 13 {
		return pkt
	}
	l := int(binary.BigEndian.Uint32(pkt[9:]))
	rest := pkt[13:]
	if l > len(rest) || len(rest)-l != 8 {
		return pkt
	}
	pflags := binary.BigEndian.Uint32(rest[l:])
	if pflags&sshFxfCreat == 0 || binary.BigEndian.Uint32(rest[l+4:]) != 0 {
		return pkt
	}
	out := make([]byte, 0, len(pkt)+4)
	out = binary.BigEndian.AppendUint32(out, uint32(len(pkt)))
	out = append(out, pkt[4:len(pkt)-4]...)
	out = binary.BigEndian.AppendUint32(out, sshFileXferAttrPm)
	return binary.BigEndian.AppendUint32(out, 0o600)
}
