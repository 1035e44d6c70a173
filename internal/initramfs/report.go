package initramfs

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is the verdict for one DKMS module.
type Status string

// The verdicts.
const (
	// StatusIdentical: every copy in the image equals the installed file.
	StatusIdentical Status = "identical"
	// StatusAbsent: no module of that name is in the image; fine, the
	// module loads from the root file system.
	StatusAbsent Status = "absent"
	// StatusShadowed: a module of that name in the image differs from the
	// installed DKMS file and is the one the kernel loads.
	StatusShadowed Status = "shadowed"
)

// ModuleReport is the verdict for one installed DKMS module file.
type ModuleReport struct {
	DKMSModule
	Status Status `json:"status"`
	// InitramfsPaths are the copies in the image with the same module
	// name, the one modprobe in the initramfs would pick first.
	InitramfsPaths []string `json:"initramfs_paths,omitempty"`
	// LoadsFirst is set for shadowed modules: the initramfs copy, which the
	// kernel loads during early boot, before the root file system with the
	// DKMS module is mounted.
	LoadsFirst string `json:"loads_first,omitempty"`
	// StaleImage: the image is older than the installed module file.
	StaleImage bool `json:"stale_image"`
}

// Report is the result of Check.
type Report struct {
	Kernel       string         `json:"kernel"`
	Policy       Policy         `json:"policy"`
	Image        string         `json:"image,omitempty"`
	ImageMissing bool           `json:"image_missing"`
	ImageTime    time.Time      `json:"image_time,omitzero"`
	Modules      []ModuleReport `json:"modules"`
	// Regenerated is set when the generator ran successfully; Before then
	// holds the results from the image as it was.
	Regenerated    bool           `json:"regenerated"`
	Generator      []string       `json:"generator,omitempty"`
	GeneratorError string         `json:"generator_error,omitempty"`
	Before         []ModuleReport `json:"before,omitempty"`
}

// Shadowed reports whether any DKMS module is shadowed by the image (after
// regeneration, if it ran).
func (r *Report) Shadowed() bool {
	for _, m := range r.Modules {
		if m.Status == StatusShadowed {
			return true
		}
	}
	return false
}

// Stale reports whether the image is older than some installed DKMS module.
func (r *Report) Stale() bool {
	for _, m := range r.Modules {
		if m.StaleImage {
			return true
		}
	}
	return false
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	switch {
	case r.Policy == PolicyOff:
		fmt.Fprintf(&b, "initramfs check for kernel %s is off\n", r.Kernel)
	case r.ImageMissing:
		fmt.Fprintf(&b, "No initramfs image for kernel %s; nothing to check.\n", r.Kernel)
	default:
		fmt.Fprintf(&b, "initramfs check for kernel %s: %s\n", r.Kernel, r.Image)
		if r.Regenerated {
			fmt.Fprintf(&b, "Regenerated the image with: %s\n", strings.Join(r.Generator, " "))
			if r.Before != nil {
				b.WriteString("Before regeneration:\n")
				writeModules(&b, r.Before)
				b.WriteString("After regeneration:\n")
			}
		}
		writeModules(&b, r.Modules)
		if len(r.Modules) == 0 {
			b.WriteString("  no DKMS modules installed for this kernel\n")
		}
	}
	if r.GeneratorError != "" {
		fmt.Fprintf(&b, "Could not regenerate the initramfs: %s\n", r.GeneratorError)
	}
	if r.Shadowed() && !r.Regenerated && r.Policy != PolicyRegenerate {
		fmt.Fprintf(&b, "Rebuild the initramfs for kernel %s (or set the initramfs policy to regenerate) so the DKMS modules load at boot.\n", r.Kernel)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeModules(b *strings.Builder, mods []ModuleReport) {
	for _, m := range mods {
		label := strings.ToUpper(string(m.Status))
		if m.Status != StatusShadowed {
			label = string(m.Status)
		}
		fmt.Fprintf(b, "  %s/%s %s: %s", m.Module, m.Version, m.Name, label)
		if m.StaleImage {
			b.WriteString(" (image older than module)")
		}
		b.WriteString("\n")
		if m.Status == StatusShadowed {
			fmt.Fprintf(b, "    loads first: %s (in the initramfs, during early boot)\n", m.LoadsFirst)
			for _, p := range m.InitramfsPaths[1:] {
				fmt.Fprintf(b, "    also in the initramfs: %s\n", p)
			}
			fmt.Fprintf(b, "    DKMS module: %s\n", m.Path)
		}
	}
}
