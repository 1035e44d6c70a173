package modinfo

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dkms-go/dkms/internal/compress"
	"github.com/dkms-go/dkms/internal/testenv"
)

var debianKernel = testenv.DebianKernelName()

func TestParseSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		want []Field
	}{
		{"empty", "", nil},
		{"only padding", "\x00\x00\x00", nil},
		{"one", "version=1.0\x00", []Field{{"version", "1.0"}}},
		{"no trailing nul", "license=GPL", []Field{{"license", "GPL"}}},
		{"padding between", "a=1\x00\x00\x00b=2\x00", []Field{{"a", "1"}, {"b", "2"}}},
		{"leading padding", "\x00\x00a=1\x00", []Field{{"a", "1"}}},
		{"empty value", "depends=\x00", []Field{{"depends", ""}}},
		{"equals in value", "parm=x:a=b (int)\x00", []Field{{"parm", "x:a=b (int)"}}},
		{"no equals", "weird\x00", []Field{{"weird", ""}}},
		{"repeats", "alias=a\x00alias=b\x00alias=a\x00", []Field{{"alias", "a"}, {"alias", "b"}, {"alias", "a"}}},
		{"vermagic trailing blank", "vermagic=6.1 SMP \x00", []Field{{"vermagic", "6.1 SMP "}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := parseSection([]byte(tt.raw)).fields
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	info := parseSection([]byte("version=2.1\x00alias=pci:v1*\x00srcversion=ABC\x00alias=usb:v2*\x00depends=\x00"))
	tests := []struct {
		key string
		get string
		all []string // nil for an absent key, [""] for an empty one
	}{
		{"version", "2.1", []string{"2.1"}},
		{"alias", "pci:v1*", []string{"pci:v1*", "usb:v2*"}},
		{"depends", "", []string{""}},
		{"license", "", nil},
	}
	for _, tt := range tests {
		if got := info.Get(tt.key); got != tt.get {
			t.Errorf("Get(%q) = %q, want %q", tt.key, got, tt.get)
		}
		if got := info.All(tt.key); !slices.Equal(got, tt.all) {
			t.Errorf("All(%q) = %q, want %q", tt.key, got, tt.all)
		}
	}
	if info.Version() != "2.1" || info.SrcVersion() != "ABC" {
		t.Errorf("Version/SrcVersion = %q/%q", info.Version(), info.SrcVersion())
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	if _, err := Parse([]byte("not an elf file")); err == nil {
		t.Error("Parse(garbage): want error")
	}
	// An ELF without .modinfo: the test binary itself.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); !errors.Is(err, ErrNoModinfo) {
		t.Errorf("Parse(test binary) = %v, want ErrNoModinfo", err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.ko")); err == nil {
		t.Error("Read(missing): want error")
	}
}

// sampleModules returns every nth module of the installed Debian kernel.
func sampleModules(t *testing.T, n int) []string {
	t.Helper()
	root := filepath.Join("/lib/modules", debianKernel, "kernel")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("modules of %s not installed: %v", debianKernel, err)
	}
	var all []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), ".ko") {
			all = append(all, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var picked []string
	for i := 0; i < len(all); i += n {
		picked = append(picked, all[i])
	}
	return picked
}

// kmodFields runs `modinfo -0` and keeps the raw key=value records, dropping
// what kmod synthesises rather than reads from .modinfo: the filename, the
// signature fields and the parm lines it merges with parmtype.
func kmodFields(t *testing.T, path string) []Field {
	t.Helper()
	out, err := exec.Command("modinfo", "-0", path).Output()
	if err != nil {
		t.Fatalf("modinfo %s: %v", path, err)
	}
	var fields []Field
	for rec := range strings.SplitSeq(string(out), "\x00") {
		if rec == "" || strings.HasPrefix(rec, "filename:") || strings.HasPrefix(rec, "parm:") {
			continue
		}
		key, value, _ := strings.Cut(rec, "=")
		switch key {
		case "sig_id", "signer", "sig_key", "sig_hashalgo", "signature":
			continue
		}
		fields = append(fields, Field{key, value})
	}
	return fields
}

func ourFields(info *Info) []Field {
	var fields []Field
	for _, f := range info.fields {
		if f.Key != "parm" && f.Key != "parmtype" {
			fields = append(fields, f)
		}
	}
	return fields
}

// TestDifferentialKmod compares every .modinfo record of a sample of real
// modules with what kmod's modinfo reports.
func TestDifferentialKmod(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("modinfo"); err != nil {
		t.Skip("modinfo (kmod) not installed")
	}
	mods := sampleModules(t, 40)
	if len(mods) < 50 {
		t.Fatalf("only %d modules sampled", len(mods))
	}
	for _, m := range mods {
		info, err := Read(m)
		if err != nil {
			t.Errorf("Read(%s): %v", m, err)
			continue
		}
		want := kmodFields(t, m)
		got := ourFields(info)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", m, got, want)
		}
	}
}

// TestDifferentialFields checks the fields dkms uses against modinfo -F,
// which is how upstream dkms reads them.
func TestDifferentialFields(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("modinfo"); err != nil {
		t.Skip("modinfo (kmod) not installed")
	}
	for _, m := range sampleModules(t, 400) {
		info, err := Read(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"version", "srcversion", "alias", "depends", "license"} {
			out, err := exec.Command("modinfo", "-F", key, m).Output()
			if err != nil {
				t.Fatalf("modinfo -F %s %s: %v", key, m, err)
			}
			want := string(out)
			got := ""
			for _, v := range info.All(key) {
				got += v + "\n"
			}
			if got != want {
				t.Errorf("%s %s: got %q, modinfo -F says %q", m, key, got, want)
			}
		}
	}
}

// TestCompressedModules reads compressed copies of real modules made with
// the real compressors.
func TestCompressedModules(t *testing.T) {
	t.Parallel()
	mods := sampleModules(t, 500)
	tests := []struct{ suffix, tool string }{
		{compress.Gz, "gzip"}, {compress.Xz, "xz"}, {compress.Zst, "zstd"},
	}
	for _, tt := range tests {
		t.Run(tt.tool, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath(tt.tool); err != nil {
				t.Skipf("%s not installed", tt.tool)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dir := t.TempDir()
			for i, m := range mods[:3] {
				data, err := os.ReadFile(m)
				if err != nil {
					t.Fatal(err)
				}
				plain, err := Parse(data)
				if err != nil {
					t.Fatal(err)
				}
				copyPath := filepath.Join(dir, string(rune('a'+i))+".ko")
				if err := os.WriteFile(copyPath, data, 0o644); err != nil {
					t.Fatal(err)
				}
				packed, err := compress.CompressTo(ctx, copyPath, tt.suffix, compress.DefaultOpts(), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Read(packed)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got.fields, plain.fields) {
					t.Errorf("%s: compressed copy reads differently", m)
				}
				if out, err := exec.Command("modinfo", "-F", "srcversion", packed).Output(); err == nil {
					if want := strings.TrimSuffix(string(out), "\n"); got.SrcVersion() != want {
						t.Errorf("%s: srcversion %q, modinfo says %q", packed, got.SrcVersion(), want)
					}
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("\x7fELF"))
	f.Add([]byte{})
	// Real modules are too big for the fuzzer to mutate at useful speed;
	// a minimal ELF with a .modinfo section gives it the structure.
	f.Add(buildELF([]byte("version=1.0\x00alias=pci:v*d*\x00\x00depends=\x00"), elf.SHF_ALLOC))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Parse(data)
		if err != nil {
			return
		}
		// Every record must come back through the accessors unchanged.
		for _, fld := range info.fields {
			if !slices.Contains(info.All(fld.Key), fld.Value) {
				t.Fatalf("All(%q) misses %q", fld.Key, fld.Value)
			}
			if strings.ContainsRune(fld.Key, '=') || bytes.IndexByte([]byte(fld.Key+fld.Value), 0) >= 0 {
				t.Fatalf("bad record %q", fld)
			}
		}
	})
}
