package hook

import (
	"os"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestDoctorAfterBoot: after the boot unit built for its kernel, every
// problem dkms doctor's checks find is one journal entry with MODULE,
// VERSION, KERNEL and PROBLEM, and the unit's status line names the first.
func TestDoctorAfterBoot(t *testing.T) {
	t.Parallel()
	s := buildingSystem(t, nil, []string{"bad"})
	r := s.run(Options{Boot: true, Kernels: []string{fk}}, func(r *Runner) { r.Doctor = true })
	var found *logrus.Entry
	for i, en := range r.entries {
		if en.Data["PHASE"] != "doctor" {
			continue
		}
		if _, ok := en.Data["PROBLEM"].(string); !ok || en.Data["KERNEL"] != fk {
			t.Errorf("doctor entry %q lacks PROBLEM or KERNEL: %v", en.Message, en.Data)
		}
		if en.Data["MODULE"] == "bad" && en.Data["VERSION"] == "1.0" && en.Data["PROBLEM"] == "build-failed" {
			found = &r.entries[i]
		}
	}
	if found == nil {
		t.Fatalf("no build-failed entry for bad/1.0:\n%s", r.messages())
	}
	log := s.dkms + "/bad/1.0/build/make.log"
	if want := "bad/1.0 for kernel " + fk + ": build-failed: the build of bad/1.0 for kernel " + fk +
		" failed: error: this does not build; see " + log; !strings.HasPrefix(found.Message, want) {
		t.Errorf("entry %q\nwant prefix %q", found.Message, want)
	}
	if n := len(r.notes); n == 0 || !strings.HasPrefix(r.notes[n-1], "READY=1\nSTATUS=bad/1.0 for kernel "+fk+": build-failed; see "+log) {
		t.Errorf("status %q", r.notes)
	}
	// Nothing new at the next boot: no checks, the fast path stays fast.
	if err := os.RemoveAll(s.dkms + "/bad"); err != nil {
		t.Fatal(err)
	}
	r = s.run(Options{Boot: true, Kernels: []string{fk}}, func(r *Runner) { r.Doctor = true })
	if len(r.entries) != 0 || len(r.notes) != 1 || r.notes[0] != "READY=1\nSTATUS=DKMS modules are up to date" {
		t.Errorf("nothing-to-do boot: notes %q, log:\n%s", r.notes, r.messages())
	}
}

// TestDoctorAfterHook: a kernel installed without its headers; the hook
// says which module the next boot will lack, and why, in one line.
func TestDoctorAfterHook(t *testing.T) {
	t.Parallel()
	s, r := postinstWithoutHeaders(t, "", func(r *Runner) { r.Doctor = true })
	k := s.noHeaders
	s.wantLog(r, noHeadersSkipped(k)+
		"warning: good/1.0 for kernel "+k+": headers-missing: good/1.0 cannot be built: no kernel headers at "+s.inst+"/"+k+"/build; "+
		"install the headers: apt-get install linux-headers-"+k+"; the headers package's hook then builds it (or run dkms autoinstall -k "+k+")\n"+
		"warning: kernel "+k+": headers-missing: no kernel headers at "+s.inst+"/"+k+"/build (dkms looks there for include/); "+
		"install the headers: apt-get install linux-headers-"+k+"\n")
}

// TestDoctorAfterHookNothingToDo: a hook run that finds every module
// installed for its kernel runs no checks (they ran when it was built),
// so the second hook for the same kernel costs what it did before.
func TestDoctorAfterHookNothingToDo(t *testing.T) {
	t.Parallel()
	s := buildingSystem(t, []string{"good"}, nil)
	doctor := func(r *Runner) { r.Doctor = true }
	first := s.run(Options{Hook: "postinst", Kernels: []string{fk}}, doctor)
	if first.code != 0 {
		t.Fatalf("first run: exit %d\n%s", first.code, first.messages())
	}
	if _, err := os.Stat(s.inst + "/" + fk + "/updates/dkms/good.ko"); err != nil {
		t.Fatalf("first run did not install good: %v\n%s", err, first.messages())
	}
	checked := false
	for _, en := range first.entries {
		checked = checked || en.Data["PHASE"] == "doctor"
	}
	if !checked {
		t.Fatalf("the run that built good ran no checks (the fake module is not ELF, so they report it):\n%s", first.messages())
	}
	second := s.run(Options{Hook: "postinst", Kernels: []string{fk}}, doctor)
	for _, en := range second.entries {
		if en.Data["PHASE"] == "doctor" {
			t.Errorf("nothing-to-do hook ran the checks: %q", en.Message)
		}
	}
	if second.code != 0 {
		t.Errorf("second run: exit %d\n%s", second.code, second.messages())
	}
}

// TestDoctorAfterHookDepmodPending: a kernel hook runs before the kernel
// package's own depmod (the header hook even before the image is
// configured), so a kernel without modules.dep is no problem to report
// from a hook; after the boot unit's run it is one.
func TestDoctorAfterHookDepmodPending(t *testing.T) {
	t.Parallel()
	doctor := func(r *Runner) { r.Doctor = true }
	notInDep := func(r run) []string {
		var lines []string
		for _, en := range r.entries {
			if en.Data["PHASE"] == "doctor" && en.Data["PROBLEM"] == "not-in-modules-dep" {
				lines = append(lines, en.Message)
			}
		}
		return lines
	}
	s := buildingSystem(t, []string{"good"}, nil)
	if _, err := os.Stat(s.inst + "/" + fk + "/modules.dep"); !os.IsNotExist(err) {
		t.Fatalf("the fixture's kernel has a modules.dep (%v): the test needs one without", err)
	}
	hook := s.run(Options{Hook: "postinst", Kernels: []string{fk}}, doctor)
	if _, err := os.Stat(s.inst + "/" + fk + "/updates/dkms/good.ko"); err != nil {
		t.Fatalf("the hook did not install good: %v\n%s", err, hook.messages())
	}
	if l := notInDep(hook); len(l) != 0 {
		t.Errorf("the hook reported the missing modules.dep: %q", l)
	}
	s2 := buildingSystem(t, []string{"good"}, nil)
	boot := s2.run(Options{Boot: true, Kernels: []string{fk}}, doctor)
	if l := notInDep(boot); len(l) != 1 || !strings.Contains(l[0], "modules.dep cannot be read") {
		t.Errorf("after the boot unit's run, want one not-in-modules-dep entry for the missing file, got %q\n%s", l, boot.messages())
	}
}
