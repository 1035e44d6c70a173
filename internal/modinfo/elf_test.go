package modinfo

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"slices"
	"testing"
)

// buildELF assembles a minimal 64-bit little-endian relocatable ELF file
// whose only content section is .modinfo, so Parse can be tested (and
// fuzzed with small inputs) without real kernel modules.
func buildELF(modinfo []byte, flags elf.SectionFlag) []byte {
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modOff := uint64(ehsize)
	strOff := modOff + uint64(len(modinfo))
	shOff := strOff + uint64(len(shstrtab))

	var b bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shOff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.Write(&b, binary.LittleEndian, hdr)
	b.Write(modinfo)
	b.Write(shstrtab)
	sections := []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(flags), Off: modOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstrtab)), Addralign: 1},
	}
	for _, s := range sections {
		binary.Write(&b, binary.LittleEndian, s)
	}
	return b.Bytes()
}

func TestParseSynthetic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		modinfo string
		flags   elf.SectionFlag
		want    []Field
		wantErr bool
	}{
		{"typical", "version=1.0\x00license=GPL\x00srcversion=0123ABC\x00depends=\x00",
			elf.SHF_ALLOC, []Field{{"version", "1.0"}, {"license", "GPL"}, {"srcversion", "0123ABC"}, {"depends", ""}}, false},
		{"aligned padding", "alias=a\x00\x00\x00\x00alias=b\x00", elf.SHF_ALLOC, []Field{{"alias", "a"}, {"alias", "b"}}, false},
		{"empty section", "", elf.SHF_ALLOC, nil, false},
		{"compressed section refused", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", elf.SHF_COMPRESSED, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, err := Parse(buildELF([]byte(tt.modinfo), tt.flags))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !slices.Equal(info.fields, tt.want) {
				t.Errorf("fields = %q, want %q", info.fields, tt.want)
			}
		})
	}
}

func TestParseTruncated(t *testing.T) {
	t.Parallel()
	data := buildELF([]byte("version=1.0\x00"), elf.SHF_ALLOC)
	for n := range len(data) {
		// Must not panic; an error or a (partial) result are both fine.
		Parse(data[:n])
	}
	// Section pointing past the end of the file.
	bad := bytes.Clone(data)
	shdr1 := len(bad) - 2*64                             // section headers are last; .modinfo is the second
	binary.LittleEndian.PutUint64(bad[shdr1+24:], 1<<40) // its sh_offset
	if _, err := Parse(bad); err == nil {
		t.Error("section beyond end of file: want error")
	}
}
