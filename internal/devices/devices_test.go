package devices

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// writeSys creates <root>/sys/devices/<rel>/modalias files with the given
// contents.
func writeSys(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, "sys", "devices", rel, "modalias")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o444); err != nil {
			t.Fatal(err)
		}
	}
}

func TestModaliasesFakeSys(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeSys(t, root, map[string]string{
		"pci0000:00/0000:00:1f.6":                  "pci:v00008086d000015BCsv000017AAsd00002292bc02sc00i00\n",
		"pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0": "usb:v0BDAp8179d0000dc00dsc00dp00icFFiscFFipFFin00\n",
		"virtual/dmi/id":                           "dmi:bvnLENOVO:bvrN2HET50W(1.33):svnLENOVO:pn20QDCTO1WW:pvrThinkPadX1Carbon7th:\n",
		"LNXSYSTM:00/LNXSYBUS:00/PNP0C0A:00":       "acpi:PNP0C0A:\n",
		"platform/57000000.gpu":                    "of:NgpuT(null)Cnvidia,tegra210-gpu\n",
		"platform/duplicate":                       "acpi:PNP0C0A:\n",
		"platform/empty":                           "",
		"platform/blank-line":                      "\n",
		"platform/no-newline":                      "platform:serial8250",
	})
	dev := filepath.Join(root, "sys", "devices")
	// sysfs is full of links back up the tree; none may be followed.
	for _, l := range []struct{ at, to string }{
		{"pci0000:00/0000:00:1f.6/subsystem", dev},
		{"pci0000:00/0000:00:14.0/usb1/1-2/port", "../../.."},
		{"platform/self", "."},
	} {
		if err := os.Symlink(l.to, filepath.Join(dev, l.at)); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink named modalias is not a device's own attribute.
	if err := os.Symlink(filepath.Join(dev, "platform/no-newline/modalias"), filepath.Join(dev, "platform/modalias")); err != nil {
		t.Fatal(err)
	}
	// Files with other names are ignored.
	if err := os.WriteFile(filepath.Join(dev, "platform", "uevent"), []byte("MODALIAS=platform:x\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	got, err := Modaliases(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"acpi:PNP0C0A:",
		"dmi:bvnLENOVO:bvrN2HET50W(1.33):svnLENOVO:pn20QDCTO1WW:pvrThinkPadX1Carbon7th:",
		"of:NgpuT(null)Cnvidia,tegra210-gpu",
		"pci:v00008086d000015BCsv000017AAsd00002292bc02sc00i00",
		"platform:serial8250",
		"usb:v0BDAp8179d0000dc00dsc00dp00icFFiscFFipFFin00",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Modaliases =\n%q\nwant\n%q", got, want)
	}
}

func TestModaliasesMissing(t *testing.T) {
	t.Parallel()
	if _, err := Modaliases(t.TempDir()); err == nil {
		t.Error("Modaliases without sys/devices: want error")
	}
}

func TestModaliasesEmpty(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sys", "devices"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Modaliases(root)
	if err != nil || len(got) != 0 {
		t.Errorf("Modaliases(empty) = %q, %v", got, err)
	}
}

// TestModaliasesRealSys walks the machine's own /sys: it must terminate
// quickly and only return well-formed, sorted, unique aliases.
func TestModaliasesRealSys(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/sys/devices"); err != nil {
		t.Skipf("no /sys/devices: %v", err)
	}
	start := time.Now()
	got, err := Modaliases("/")
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("walking /sys took %v", d)
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Error("result not sorted and unique")
	}
	for _, a := range got {
		if a == "" {
			t.Error("empty alias returned")
		}
	}
	t.Logf("%d modaliases on this machine", len(got))
}

func TestMatching(t *testing.T) {
	t.Parallel()
	modules := map[string][]string{
		"e1000e":     {"pci:v00008086d000015BCsv*sd*bc*sc*i*", "pci:v00008086d000015BDsv*sd*bc*sc*i*"},
		"intel_any":  {"pci:v00008086d*sv*sd*bc*sc*i*"},
		"rtl8192cu":  {"usb:v0BDAp8179d*dc*dsc*dp*ic*isc*ip*in*"},
		"thinkpad":   {"dmi*:svn*LENOVO*:pn*:*"},
		"ac":         {"acpi*:PNP0C0A:*"},
		"nouveau":    {"of:N*T*Cnvidia,tegra210-gpu", "of:N*T*Cnvidia,tegra210-gpuC*"},
		"absent_pci": {"pci:v000010DEd*sv*sd*bc03sc*i*"},
		"no_aliases": nil,
	}
	aliases := []string{
		"acpi:PNP0C0A:",
		"dmi:bvnLENOVO:bvrN2HET50W(1.33):svnLENOVO:pn20QDCTO1WW:pvrThinkPadX1Carbon7th:",
		"of:NgpuT(null)Cnvidia,tegra210-gpu",
		"pci:v00008086d000015BCsv000017AAsd00002292bc02sc00i00",
		"usb:v0BDAp8179d0000dc00dsc00dp00icFFiscFFipFFin00",
	}
	got := Matching(aliases, modules)
	want := []string{"ac", "e1000e", "intel_any", "nouveau", "rtl8192cu", "thinkpad"}
	if !slices.Equal(got, want) {
		t.Errorf("Matching = %q, want %q", got, want)
	}
	if got := Matching(nil, modules); len(got) != 0 {
		t.Errorf("Matching(no devices) = %q", got)
	}
}
