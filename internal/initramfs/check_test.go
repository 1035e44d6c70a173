package initramfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const kver = "6.1.0-56-amd64"

// fixture is a boot directory with one image and a DKMS install tree.
type fixture struct {
	boot, tree string
	image      string
}

func newFixture(t *testing.T, imageFiles ...file) *fixture {
	t.Helper()
	root := t.TempDir()
	f := &fixture{boot: filepath.Join(root, "boot"), tree: filepath.Join(root, "lib/modules")}
	for _, d := range []string{f.boot, filepath.Join(f.tree, kver, "updates/dkms")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.image = filepath.Join(f.boot, "initrd.img-"+kver)
	if imageFiles != nil {
		if err := os.WriteFile(f.image, compress(t, Zstd, mkCPIO(t, imageFiles...)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// install writes a DKMS module file and returns its description.
func (f *fixture) install(t *testing.T, module, file string, body []byte) DKMSModule {
	t.Helper()
	p := filepath.Join(f.tree, kver, "updates/dkms", file)
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	return DKMSModule{Module: module, Version: "1.0", Name: trimModuleSuffix(file), Path: p}
}

func setMtime(t *testing.T, path string, when time.Time) {
	t.Helper()
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

const inTree = "usr/lib/modules/" + kver + "/kernel/drivers/"

func TestCheckVerdicts(t *testing.T) {
	t.Parallel()
	other := append(slices0(moduleELF), "other build"...)
	tests := []struct {
		name      string
		image     []file
		file      string
		body      []byte
		want      Status
		wantPaths []string
		wantFirst string
	}{
		{name: "identical", image: []file{{name: "usr/lib/modules/" + kver + "/updates/dkms/foo.ko", body: moduleELF}}, file: "foo.ko", body: moduleELF, want: StatusIdentical, wantPaths: []string{"usr/lib/modules/" + kver + "/updates/dkms/foo.ko"}},
		{name: "identical compressed in image", image: []file{{name: "lib/modules/" + kver + "/extra/foo.ko.xz", body: compress(t, XZ, moduleELF)}}, file: "foo.ko", body: moduleELF, want: StatusIdentical, wantPaths: []string{"lib/modules/" + kver + "/extra/foo.ko.xz"}},
		{name: "identical compressed installed", image: []file{{name: inTree + "foo.ko", body: moduleELF}}, file: "foo.ko.zst", body: compress(t, Zstd, moduleELF), want: StatusIdentical, wantPaths: []string{inTree + "foo.ko"}},
		{name: "absent", image: []file{{name: inTree + "bar.ko", body: moduleELF}}, file: "foo.ko", body: moduleELF, want: StatusAbsent},
		{name: "shadowed by in-tree", image: []file{{name: inTree + "block/loop.ko", body: other}}, file: "loop.ko", body: moduleELF, want: StatusShadowed, wantPaths: []string{inTree + "block/loop.ko"}, wantFirst: inTree + "block/loop.ko"},
		{name: "shadowed dash underscore", image: []file{{name: inTree + "foo_bar.ko", body: other}}, file: "foo-bar.ko", body: moduleELF, want: StatusShadowed, wantPaths: []string{inTree + "foo_bar.ko"}, wantFirst: inTree + "foo_bar.ko"},
		{name: "shadowed by older dkms build", image: []file{{name: inTree + "zfs.ko", body: moduleELF}, {name: "usr/lib/modules/" + kver + "/updates/dkms/zfs.ko", body: other}}, file: "zfs.ko", body: moduleELF, want: StatusShadowed, wantPaths: []string{"usr/lib/modules/" + kver + "/updates/dkms/zfs.ko", inTree + "zfs.ko"}, wantFirst: "usr/lib/modules/" + kver + "/updates/dkms/zfs.ko"},
		{name: "same name not a module", image: []file{{name: "etc/foo", body: other}}, file: "foo.ko", body: moduleELF, want: StatusAbsent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.image...)
			m := f.install(t, "pkg", tt.file, tt.body)
			rep, err := Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, InstallTree: f.tree, Modules: []DKMSModule{m}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Image != f.image || rep.ImageMissing || rep.Policy != PolicyWarn || len(rep.Modules) != 1 {
				t.Fatalf("report %+v", rep)
			}
			got := rep.Modules[0]
			if got.Status != tt.want || strings.Join(got.InitramfsPaths, ",") != strings.Join(tt.wantPaths, ",") || got.LoadsFirst != tt.wantFirst {
				t.Errorf("got %s %q first %q, want %s %q first %q", got.Status, got.InitramfsPaths, got.LoadsFirst, tt.want, tt.wantPaths, tt.wantFirst)
			}
			if rep.Shadowed() != (tt.want == StatusShadowed) {
				t.Errorf("Shadowed() = %v", rep.Shadowed())
			}
		})
	}
}

func slices0(b []byte) []byte { return append([]byte(nil), b...) }

func TestCheckStaleImage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, file{name: "init", body: []byte("x")})
	m := f.install(t, "pkg", "foo.ko", moduleELF)
	now := time.Now()
	setMtime(t, f.image, now.Add(-time.Hour))
	setMtime(t, m.Path, now)
	rep, err := Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, Modules: []DKMSModule{m}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Stale() || !rep.Modules[0].StaleImage || rep.Modules[0].Status != StatusAbsent {
		t.Fatalf("want a stale image with the module absent, got %+v", rep.Modules)
	}
	setMtime(t, f.image, now.Add(time.Hour))
	if rep, err = Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, Modules: []DKMSModule{m}}); err != nil || rep.Stale() {
		t.Fatalf("newer image reported stale: %+v, %v", rep, err)
	}
}

func TestCheckMissingImageAndPolicyOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.install(t, "pkg", "foo.ko", moduleELF)
	rep, err := Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, Modules: []DKMSModule{m}, Policy: PolicyRegenerate, Generator: []string{"false"}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.ImageMissing || rep.Shadowed() || rep.Generator != nil || rep.GeneratorError != "" {
		t.Fatalf("missing image: %+v", rep)
	}
	rep, err = Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, Modules: []DKMSModule{{Path: "/nonexistent"}}, Policy: PolicyOff})
	if err != nil || len(rep.Modules) != 0 || rep.Policy != PolicyOff {
		t.Fatalf("policy off read something: %+v, %v", rep, err)
	}
	if _, err := Check(context.Background(), Options{Kernel: kver, Policy: "sometimes"}); err == nil {
		t.Fatal("invalid policy accepted")
	}
	if _, err := Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, Modules: []DKMSModule{{Path: "/nonexistent/x.ko"}}}); err == nil {
		t.Fatal("missing installed module file accepted")
	}
}

// TestCheckRegenerateFake drives the regenerate policy with a generator
// that replaces the image, and with generators that fail or are missing.
func TestCheckRegenerateFake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		generator func(f *fixture, clean string) []string
		wantRegen bool
		wantErr   string
		want      Status
	}{
		{name: "fixed", generator: func(f *fixture, clean string) []string { return []string{"cp", clean, f.image} }, wantRegen: true, want: StatusIdentical},
		{name: "fails", generator: func(*fixture, string) []string { return []string{"sh", "-c", "echo no space left >&2; exit 3"} }, wantErr: "exit status 3\nno space left", want: StatusShadowed},
		{name: "missing", generator: func(*fixture, string) []string { return []string{"/nonexistent/update-initramfs"} }, wantErr: "/nonexistent/update-initramfs", want: StatusShadowed},
		{name: "empty", generator: func(*fixture, string) []string { return []string{} }, wantErr: ErrNoGenerator.Error(), want: StatusShadowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, file{name: inTree + "foo.ko", body: []byte("in-tree foo")})
			m := f.install(t, "pkg", "foo.ko", moduleELF)
			clean := filepath.Join(t.TempDir(), "clean")
			if err := os.WriteFile(clean, compress(t, Gzip, mkCPIO(t, file{name: "usr/lib/modules/" + kver + "/updates/dkms/foo.ko", body: moduleELF})), 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, Modules: []DKMSModule{m}, Policy: PolicyRegenerate, Generator: tt.generator(f, clean)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Regenerated != tt.wantRegen || !strings.Contains(rep.GeneratorError, tt.wantErr) || (tt.wantErr == "") != (rep.GeneratorError == "") {
				t.Errorf("regenerated %v, generator error %q; want %v, %q", rep.Regenerated, rep.GeneratorError, tt.wantRegen, tt.wantErr)
			}
			if rep.Modules[0].Status != tt.want {
				t.Errorf("status %s, want %s", rep.Modules[0].Status, tt.want)
			}
			if tt.wantRegen && (len(rep.Before) != 1 || rep.Before[0].Status != StatusShadowed) {
				t.Errorf("before = %+v, want the shadowed result", rep.Before)
			}
		})
	}
}

func TestLocate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string
		image   string
		want    string
		wantErr error
	}{
		{name: "debian", files: []string{"initrd.img-K", "initramfs-K.img"}, want: "initrd.img-K"},
		{name: "fedora dracut", files: []string{"initramfs-K.img"}, want: "initramfs-K.img"},
		{name: "suse", files: []string{"initrd-K"}, want: "initrd-K"},
		{name: "other kernel only", files: []string{"initrd.img-K2"}, wantErr: ErrNoImage},
		{name: "none", wantErr: ErrNoImage},
		{name: "kernel-install layout", files: []string{"mid/K/initrd", "initrd.img-K"}, image: "mid/K/initrd", want: "mid/K/initrd"},
		{name: "explicit missing", files: []string{"initrd.img-K"}, image: "mid/K/initrd", wantErr: ErrNoImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			boot := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(boot, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			image := ""
			if tt.image != "" {
				image = filepath.Join(boot, tt.image)
			}
			got, err := Locate(boot, "K", image)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != filepath.Join(boot, tt.want) {
				t.Fatalf("Locate = %q, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// Arch names the image after the kernel package recorded in pkgbase.
func TestCheckArchPkgbase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := os.WriteFile(filepath.Join(f.tree, kver, "pkgbase"), []byte("linux-lts\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	arch := filepath.Join(f.boot, "initramfs-linux-lts.img")
	if err := os.WriteFile(arch, compress(t, Gzip, mkCPIO(t, file{name: "usr/lib/modules/" + kver + "/updates/foo.ko", body: []byte("old")})), 0o644); err != nil {
		t.Fatal(err)
	}
	m := f.install(t, "pkg", "foo.ko", moduleELF)
	rep, err := Check(context.Background(), Options{Kernel: kver, BootDir: f.boot, InstallTree: f.tree, Modules: []DKMSModule{m}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Image != arch || !rep.Shadowed() {
		t.Fatalf("image %q shadowed %v, want %s shadowed", rep.Image, rep.Shadowed(), arch)
	}
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Policy{"": PolicyWarn, "off": PolicyOff, "warn": PolicyWarn, "regenerate": PolicyRegenerate, "Warn": "", "yes": ""} {
		got, err := ParsePolicy(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("ParsePolicy(%q) = %q, %v", in, got, err)
		}
	}
}

// TestReportGolden pins the text and JSON output.
func TestReportGolden(t *testing.T) {
	t.Parallel()
	when := time.Date(2025, 11, 16, 10, 17, 0, 0, time.UTC)
	shadow := ModuleReport{DKMSModule: DKMSModule{Module: "zfs", Version: "2.1.11", Name: "zfs", Path: "/lib/modules/K/updates/dkms/zfs.ko"}, Status: StatusShadowed,
		InitramfsPaths: []string{"usr/lib/modules/K/updates/dkms/zfs.ko", "usr/lib/modules/K/kernel/zfs.ko"}, LoadsFirst: "usr/lib/modules/K/updates/dkms/zfs.ko", StaleImage: true}
	ident := ModuleReport{DKMSModule: DKMSModule{Module: "e1000e", Version: "3.8.7", Name: "e1000e", Path: "/lib/modules/K/updates/dkms/e1000e.ko"}, Status: StatusIdentical, InitramfsPaths: []string{"usr/lib/modules/K/updates/dkms/e1000e.ko"}}
	absent := ModuleReport{DKMSModule: DKMSModule{Module: "v4l2loopback", Version: "0.12.7", Name: "v4l2loopback", Path: "/lib/modules/K/updates/dkms/v4l2loopback.ko"}, Status: StatusAbsent}
	fixedZfs := shadow
	fixedZfs.Status, fixedZfs.InitramfsPaths, fixedZfs.LoadsFirst, fixedZfs.StaleImage = StatusIdentical, shadow.InitramfsPaths[:1], "", false
	reports := map[string]*Report{
		"warn":        {Kernel: "K", Policy: PolicyWarn, Image: "/boot/initrd.img-K", ImageTime: when, Modules: []ModuleReport{shadow, ident, absent}},
		"missing":     {Kernel: "K", Policy: PolicyWarn, ImageMissing: true, Modules: []ModuleReport{}},
		"off":         {Kernel: "K", Policy: PolicyOff, Modules: []ModuleReport{}},
		"regenerated": {Kernel: "K", Policy: PolicyRegenerate, Image: "/boot/initrd.img-K", ImageTime: when, Regenerated: true, Generator: []string{"update-initramfs", "-u", "-k", "K"}, Before: []ModuleReport{shadow}, Modules: []ModuleReport{fixedZfs}},
		"nogenerator": {Kernel: "K", Policy: PolicyRegenerate, Image: "/boot/initrd.img-K", ImageTime: when, GeneratorError: ErrNoGenerator.Error(), Modules: []ModuleReport{shadow}},
	}
	for name, r := range reports {
		var text, js bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Shadowed() != r.Shadowed() {
			t.Errorf("%s: JSON does not round-trip: %v", name, err)
		}
		golden(t, name+".txt", text.Bytes())
		golden(t, name+".json", js.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n%s\nwant:\n%s", name, got, want)
	}
}
