package transport

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// openPacket is an SFTP request: length, typ, then body.
func openPacket(typ byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := binary.BigEndian.AppendUint32(nil, uint32(1+len(b)))
	return append(append(out, typ), b...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func sftpStr(s string) []byte { return append(u32(uint32(len(s))), s...) }

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

func TestPrivateCreate(t *testing.T) {
	create := openPacket(sshFxpOpen, u32(7), sftpStr("/srv/.k.drover-1"), u32(0x02|0x08|0x20), u32(0))
	createPrivate := openPacket(sshFxpOpen, u32(7), sftpStr("/srv/.k.drover-1"), u32(0x02|0x08|0x20), u32(sshFileXferAttrPm), u32(0o600))
	read := openPacket(sshFxpOpen, u32(8), sftpStr("/srv"), u32(0x01), u32(0))
	withAttrs := openPacket(sshFxpOpen, u32(9), sftpStr("/x"), u32(0x08), u32(sshFileXferAttrPm), u32(0o640))
	write := openPacket(6, u32(10), sftpStr("handle"), make([]byte, 8), sftpStr(string(create))) // data that looks like an open
	for _, tc := range []struct {
		name     string
		in, want []byte
	}{
		{"create gets 0600", create, createPrivate},
		{"open without create", read, read},
		{"open with its own attributes", withAttrs, withAttrs},
		{"data passes untouched", write, write},
		{"a stream", bytes.Join([][]byte{write, create, read, write, create}, nil), bytes.Join([][]byte{write, createPrivate, read, write, createPrivate}, nil)},
	} {
		for _, chunk := range []int{1, 3, 5, 13, 1 << 20} {
			var out bytes.Buffer
			p := &privateCreate{w: nopCloser{&out}}
			for in := tc.in; len(in) > 0; {
				k := min(chunk, len(in))
				if n, err := p.Write(in[:k]); err != nil || n != k {
					t.Fatalf("%s: Write = %d, %v", tc.name, n, err)
				}
				in = in[k:]
			}
			if !bytes.Equal(out.Bytes(), tc.want) {
				t.Errorf("%s (chunks of %d):\n got %x\nwant %x", tc.name, chunk, out.Bytes(), tc.want)
			}
		}
	}
}
