package vm

import (
	"fmt"
	"os"
	"strings"
)

// Accel is a QEMU accelerator choice with the reason it was chosen, so test logs
// explain why a run was slow (TCG) or why KVM was trusted.
type Accel struct {
	Name   string // "kvm" or "tcg"
	Reason string
}

// AccelProbe holds the host facts the accelerator decision depends on. It is a
// value so the decision can be tested without the host's /dev/kvm.
type AccelProbe struct {
	Override     string // $DKMS_VM_ACCEL
	KVMOpenErr   error  // result of opening /dev/kvm read-write
	CPUInfo      string // contents of /proc/cpuinfo
	KVMPVMLoaded bool   // /sys/module/kvm_pvm exists
}

// ProbeHost reads the facts for ChooseAccel from the running host.
func ProbeHost() AccelProbe {
	p := AccelProbe{Override: os.Getenv("DKMS_VM_ACCEL")}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err == nil {
		f.Close()
	}
	p.KVMOpenErr = err
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		p.CPUInfo = string(b)
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		p.KVMPVMLoaded = true
	}
	return p
}

// ChooseAccel decides between KVM and TCG. KVM is used only when /dev/kvm opens
// read-write, the CPU advertises vmx or svm, and the paravirtual kvm_pvm backend
// is absent: under kvm_pvm Debian's kernel hangs while decompressing or dies with
// an emulation failure, and QEMU does not fall back on its own. DKMS_VM_ACCEL
// (kvm or tcg) overrides the decision.
func ChooseAccel(p AccelProbe) (Accel, error) {
	switch p.Override {
	case "kvm", "tcg":
		return Accel{Name: p.Override, Reason: "forced by DKMS_VM_ACCEL=" + p.Override}, nil
	case "":
	default:
		return Accel{}, fmt.Errorf("DKMS_VM_ACCEL=%q: want kvm or tcg", p.Override)
	}
	if p.KVMOpenErr != nil {
		return Accel{Name: "tcg", Reason: fmt.Sprintf("/dev/kvm unusable: %v", p.KVMOpenErr)}, nil
	}
	if !cpuHasVirt(p.CPUInfo) {
		return Accel{Name: "tcg", Reason: "/proc/cpuinfo shows neither vmx nor svm (paravirtual KVM backend)"}, nil
	}
	if p.KVMPVMLoaded {
		return Accel{Name: "tcg", Reason: "kvm_pvm module loaded: paravirtual KVM cannot boot Debian kernels"}, nil
	}
	return Accel{Name: "kvm", Reason: "/dev/kvm opens read-write and the CPU has hardware virtualisation"}, nil
}

func cpuHasVirt(cpuinfo string) bool {
	for _, line := range strings.Split(cpuinfo, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "flags" {
			continue
		}
		for _, f := range strings.Fields(value) {
			if f == "vmx" || f == "svm" {
				return true
			}
		}
	}
	return false
}
