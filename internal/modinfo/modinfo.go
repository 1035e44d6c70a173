package modinfo

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dkms-go/dkms/internal/compress"
)

// ErrNoModinfo is returned for a valid ELF file without a .modinfo section,
// which is not a kernel module.
var ErrNoModinfo = errors.New("no .modinfo section")

// maxModuleSize bounds how much a (possibly decompressed) module may expand
// to; the largest in-tree modules are a few tens of MiB.
const maxModuleSize = 1 << 30

// Field is one record of the .modinfo section.
type Field struct {
	Key, Value string
}

// Info holds the records of a module's .modinfo section in section order;
// keys such as alias and depends may repeat.
type Info struct {
	fields []Field
}

// Read reads the module at path, decompressing it according to its suffix.
// An uncompressed module is not read whole: only its ELF headers and its
// .modinfo section are.
func Read(path string) (*Info, error) {
	if compress.Suffix(path) == "" {
		info, err := readPlain(path)
		if err != nil {
			return nil, fmt.Errorf("reading module %s: %w", path, err)
		}
		return info, nil
	}
	r, err := compress.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", path, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxModuleSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", path, err)
	}
	if len(data) > maxModuleSize {
		return nil, fmt.Errorf("reading module %s: larger than %d bytes", path, maxModuleSize)
	}
	info, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading module %s: %w", path, err)
	}
	return info, nil
}

// Parse extracts the .modinfo records from the raw ELF bytes of a module.
func Parse(data []byte) (*Info, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing ELF: %w", err)
	}
	defer f.Close()
	sec, err := modinfoSection(f, uint64(len(data)))
	if err != nil {
		return nil, err
	}
	raw := data[sec.Offset : sec.Offset+sec.Size]
	return parseSection(raw), nil
}

func readPlain(path string) (*Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("parsing ELF: %w", err)
	}
	sec, err := modinfoSection(ef, uint64(st.Size()))
	if err != nil {
		return nil, err
	}
	raw := make([]byte, sec.Size)
	if _, err := f.ReadAt(raw, int64(sec.Offset)); err != nil {
		return nil, fmt.Errorf("parsing ELF: reading .modinfo: %w", err)
	}
	return parseSection(raw), nil
}

// modinfoSection finds .modinfo and checks it lies within size bytes.
func modinfoSection(f *elf.File, size uint64) (*elf.Section, error) {
	sec := f.Section(".modinfo")
	if sec == nil || sec.Type == elf.SHT_NOBITS {
		return nil, ErrNoModinfo
	}
	// Kernel modules never compress .modinfo (it is loaded with the module),
	// and kmod cannot read such a section either; refusing it also keeps a
	// tiny crafted file from expanding into gigabytes.
	if sec.Flags&elf.SHF_COMPRESSED != 0 {
		return nil, fmt.Errorf("parsing ELF: compressed .modinfo section")
	}
	if sec.Offset > size || sec.Size > size-sec.Offset {
		return nil, fmt.Errorf("parsing ELF: .modinfo section exceeds the file")
	}
	return sec, nil
}

// parseSection splits the NUL-separated records; runs of NULs are padding
// between records. A record without "=" is a key with an empty value, as
// kmod treats it.
func parseSection(raw []byte) *Info {
	info := &Info{}
	for rec := range bytes.SplitSeq(raw, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		key, value, _ := bytes.Cut(rec, []byte{'='})
		info.fields = append(info.fields, Field{Key: string(key), Value: string(value)})
	}
	return info
}

// Get returns the first value recorded for key, or "" when there is none.
func (i *Info) Get(key string) string {
	for _, f := range i.fields {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// All returns every value recorded for key, in section order.
func (i *Info) All(key string) []string {
	var vals []string
	for _, f := range i.fields {
		if f.Key == key {
			vals = append(vals, f.Value)
		}
	}
	return vals
}

// Version returns the version field (MODULE_VERSION), "" when unversioned.
func (i *Info) Version() string { return i.Get("version") }

// SrcVersion returns the srcversion field, the checksum of the module's
// sources that modpost records.
func (i *Info) SrcVersion() string { return i.Get("srcversion") }
