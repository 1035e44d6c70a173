package initramfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Policy says what Check does about a shadowing image (framework.conf).
type Policy string

// The policies; the CLI defaults to PolicyWarn.
const (
	PolicyOff        Policy = "off"
	PolicyWarn       Policy = "warn"
	PolicyRegenerate Policy = "regenerate"
)

// ParsePolicy validates a policy name from framework.conf or the command
// line; "" means warn.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case "":
		return PolicyWarn, nil
	case PolicyOff, PolicyWarn, PolicyRegenerate:
		return p, nil
	}
	return "", fmt.Errorf("invalid initramfs policy %q (want off, warn or regenerate)", s)
}

// ErrNoImage is returned by Locate when no initramfs image exists for the
// kernel. That is normal on Debian right after a module install from the
// kernel's postinst hook, because initramfs-tools' hook runs after DKMS's.
var ErrNoImage = errors.New("no initramfs image")

// ErrNoGenerator means none of update-initramfs, dracut and mkinitcpio is
// installed, so the regenerate policy cannot act.
var ErrNoGenerator = errors.New("no initramfs generator found (update-initramfs, dracut, mkinitcpio)")

// Options describe one check.
type Options struct {
	Kernel      string
	BootDir     string // "" means /boot
	Image       string // explicit image path (kernel-install layout), optional
	InstallTree string // "" means /lib/modules
	// Modules are what DKMS installed for Kernel.
	Modules []DKMSModule
	Policy  Policy // "" means warn
	// Generator overrides the regeneration command (tests); nil detects
	// update-initramfs, dracut or mkinitcpio.
	Generator []string
	// CacheDir keeps each image's module index between runs (index.go);
	// "" reads the image every time.
	CacheDir string
}

// DKMSModule is one module file DKMS installed.
type DKMSModule struct {
	Module  string `json:"module"`  // DKMS module (package) name
	Version string `json:"version"` // DKMS module version
	Name    string `json:"name"`    // kernel module name without .ko*
	Path    string `json:"path"`    // installed file
}

// Locate returns the initramfs image of kernel: image when given, else the
// first existing one of the names Debian (initrd.img-K), Fedora and dracut
// (initramfs-K.img) and SUSE (initrd-K) use in bootDir.
func Locate(bootDir, kernel, image string) (string, error) {
	if image != "" {
		if _, err := os.Stat(image); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("%w for kernel %s: %s", ErrNoImage, kernel, image)
			}
			return "", err
		}
		return image, nil
	}
	if bootDir == "" {
		bootDir = "/boot"
	}
	for _, name := range candidateNames(kernel) {
		p := filepath.Join(bootDir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%w for kernel %s in %s", ErrNoImage, kernel, bootDir)
}

func candidateNames(kernel string) []string {
	return []string{"initrd.img-" + kernel, "initramfs-" + kernel + ".img", "initrd-" + kernel}
}

// locate adds Arch's naming, where the image is named after the kernel
// package recorded in the module tree (/boot/initramfs-linux.img).
func (o *Options) locate() (string, error) {
	img, err := Locate(o.BootDir, o.Kernel, o.Image)
	if !errors.Is(err, ErrNoImage) || o.Image != "" {
		return img, err
	}
	base, rerr := os.ReadFile(filepath.Join(o.installTree(), o.Kernel, "pkgbase"))
	if rerr != nil {
		return "", err
	}
	p := filepath.Join(o.bootDir(), "initramfs-"+strings.TrimSpace(string(base))+".img")
	if _, serr := os.Stat(p); serr != nil {
		return "", err
	}
	return p, nil
}

func (o *Options) bootDir() string {
	if o.BootDir == "" {
		return "/boot"
	}
	return o.BootDir
}

func (o *Options) installTree() string {
	if o.InstallTree == "" {
		return "/lib/modules"
	}
	return o.InstallTree
}

// Check compares the initramfs of o.Kernel with the DKMS modules in
// o.Modules. With PolicyOff it reads nothing and returns an empty report.
// A missing image is not an error: the report says so (ImageMissing).
// With PolicyRegenerate and a shadowed module it runs the generator and
// checks again; generator problems are recorded in the report, which keeps
// the pre-regeneration results in Before.
func Check(ctx context.Context, o Options) (*Report, error) {
	if o.Policy == "" {
		o.Policy = PolicyWarn
	}
	if _, err := ParsePolicy(string(o.Policy)); err != nil {
		return nil, err
	}
	rep := &Report{Kernel: o.Kernel, Policy: o.Policy, Modules: []ModuleReport{}}
	if o.Policy == PolicyOff {
		return rep, nil
	}
	installed, err := hashInstalled(o.Modules)
	if err != nil {
		return nil, err
	}
	if err := o.checkOnce(rep, installed); err != nil {
		return nil, err
	}
	if o.Policy != PolicyRegenerate || rep.ImageMissing || !rep.Shadowed() {
		return rep, nil
	}
	argv, err := o.generator(rep.Image)
	if err != nil {
		rep.GeneratorError = err.Error()
		return rep, nil
	}
	rep.Generator = argv
	if out, err := runGenerator(ctx, argv); err != nil {
		rep.GeneratorError = fmt.Sprintf("%s: %v%s", strings.Join(argv, " "), err, tail(out))
		return rep, nil
	}
	rep.Regenerated = true
	rep.Before = rep.Modules
	rep.Modules = []ModuleReport{}
	if err := o.checkOnce(rep, installed); err != nil {
		return nil, fmt.Errorf("checking regenerated image: %w", err)
	}
	return rep, nil
}

type installedModule struct {
	DKMSModule
	hash  string
	mtime time.Time
}

func hashInstalled(mods []DKMSModule) ([]installedModule, error) {
	out := make([]installedModule, 0, len(mods))
	d := &decoders{}
	defer d.close()
	for _, m := range mods {
		if m.Name == "" {
			m.Name = trimModuleSuffix(filepath.Base(m.Path))
		}
		f, err := os.Open(m.Path)
		if err != nil {
			return nil, fmt.Errorf("reading installed module %s: %w", m.Name, err)
		}
		fi, err := f.Stat()
		if err == nil {
			var h string
			h, err = d.hashContent(m.Path, f, fi.Size())
			out = append(out, installedModule{DKMSModule: m, hash: h, mtime: fi.ModTime()})
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading installed module %s: %w", m.Path, err)
		}
	}
	return out, nil
}

// checkOnce reads the image once and fills rep.
func (o *Options) checkOnce(rep *Report, installed []installedModule) error {
	img, err := o.locate()
	if errors.Is(err, ErrNoImage) {
		rep.Image, rep.ImageMissing = "", true
		return nil
	}
	if err != nil {
		return err
	}
	rep.Image, rep.ImageMissing = img, false
	f, err := os.Open(img)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	rep.ImageTime = fi.ModTime().UTC()

	want := map[string]bool{}
	for _, m := range installed {
		want[strings.ReplaceAll(m.Name, "-", "_")] = true
	}
	copies, cached := readIndex(o.CacheDir, img, fi, want)
	if !cached {
		copies = map[string][]Entry{}
		var all []Entry
		err = List(f, func(e Entry) error {
			if !e.Mode.IsRegular() {
				return nil
			}
			n := moduleName(e.Path)
			if n != "" && want[n] {
				copies[n] = append(copies[n], e)
			}
			if n != "" && o.CacheDir != "" {
				all = append(all, e)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading %s: %w", img, err)
		}
		writeIndex(o.CacheDir, img, fi, all)
	}
	for _, m := range installed {
		rep.Modules = append(rep.Modules, judge(m, copies[strings.ReplaceAll(m.Name, "-", "_")], fi.ModTime()))
	}
	return nil
}

func judge(m installedModule, copies []Entry, imageTime time.Time) ModuleReport {
	r := ModuleReport{DKMSModule: m.DKMSModule, Status: StatusAbsent, StaleImage: imageTime.Before(m.mtime)}
	if len(copies) == 0 {
		return r
	}
	// Later entries overwrite earlier ones when the kernel unpacks, and
	// modprobe prefers updates/ over the rest, as depmod's default search
	// order does.
	sort.SliceStable(copies, func(i, j int) bool { return loadRank(copies[i].Path) < loadRank(copies[j].Path) })
	r.Status = StatusIdentical
	for _, c := range copies {
		r.InitramfsPaths = append(r.InitramfsPaths, c.Path)
		if c.Hash != m.hash {
			r.Status = StatusShadowed
		}
	}
	if r.Status == StatusShadowed {
		r.LoadsFirst = copies[0].Path
	}
	return r
}

func loadRank(p string) int {
	switch {
	case strings.Contains(p, "/updates/"):
		return 0
	case strings.Contains(p, "/extra/"):
		return 1
	}
	return 2
}

// generator returns the command that rebuilds image for o.Kernel.
func (o *Options) generator(image string) ([]string, error) {
	if o.Generator != nil {
		return o.Generator, nil
	}
	k := o.Kernel
	if _, err := exec.LookPath("update-initramfs"); err == nil {
		if image == filepath.Join("/boot", "initrd.img-"+k) {
			return []string{"update-initramfs", "-u", "-k", k}, nil
		}
		// update-initramfs only knows /boot; mkinitramfs writes anywhere.
		return []string{"mkinitramfs", "-o", image, k}, nil
	}
	if _, err := exec.LookPath("dracut"); err == nil {
		return []string{"dracut", "-f", image, k}, nil
	}
	if _, err := exec.LookPath("mkinitcpio"); err == nil {
		return []string{"mkinitcpio", "-k", k, "-g", image}, nil
	}
	return nil, ErrNoGenerator
}

func runGenerator(ctx context.Context, argv []string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, ErrNoGenerator
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// tail keeps the last lines of generator output for the report.
func tail(out []byte) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	s := strings.Join(lines, "\n")
	if s == "" {
		return ""
	}
	return "\n" + s
}

func trimModuleSuffix(base string) string {
	for _, suf := range moduleSuffixes {
		if name, ok := strings.CutSuffix(base, suf); ok {
			return name
		}
	}
	return base
}
