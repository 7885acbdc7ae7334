package inventory

import (
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// srcFile locates lines and columns of a non-HCL inventory file (INI, YAML)
// as hcl.Ranges, so its diagnostics print like HCL ones, with snippets.
type srcFile struct {
	name  string
	src   []byte
	lines []int // byte offset of the start of each line
	// vault decrypts !vault values in this file; nil refuses them.
	vault vaultFunc
}

func newSrcFile(name string, src []byte) *srcFile {
	f := &srcFile{name: name, src: src, lines: []int{0}}
	for i, b := range src {
		if b == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	return f
}

// pos returns the position of the col-th character (1-based) of line.
func (f *srcFile) pos(line, col int) hcl.Pos {
	if line < 1 {
		line = 1
	}
	if line > len(f.lines) {
		line = len(f.lines)
	}
	off := f.lines[line-1]
	for c := 1; c < col && off < len(f.src) && f.src[off] != '\n'; c++ {
		_, n := utf8.DecodeRune(f.src[off:])
		off += n
	}
	return hcl.Pos{Line: line, Column: max(col, 1), Byte: off}
}

// lineRange covers line without its end-of-line characters.
func (f *srcFile) lineRange(line int) hcl.Range {
	start := f.pos(line, 1)
	end := start
	for end.Byte < len(f.src) && f.src[end.Byte] != '\n' && f.src[end.Byte] != '\r' {
		_, n := utf8.DecodeRune(f.src[end.Byte:])
		end.Byte += n
		end.Column++
	}
	return hcl.Range{Filename: f.name, Start: start, End: end}
}

// rangeAt covers n characters from line:col, clipped to the line.
func (f *srcFile) rangeAt(line, col, n int) hcl.Range {
	start := f.pos(line, col)
	end := start
	for i := 0; i < n && end.Byte < len(f.src) && f.src[end.Byte] != '\n' && f.src[end.Byte] != '\r'; i++ {
		_, sz := utf8.DecodeRune(f.src[end.Byte:])
		end.Byte += sz
		end.Column++
	}
	return hcl.Range{Filename: f.name, Start: start, End: end}
}

func (f *srcFile) hclFile() *hcl.File { return &hcl.File{Bytes: f.src} }
