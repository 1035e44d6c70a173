package vm

import (
	"errors"
	"testing"
)

func TestChooseAccel(t *testing.T) {
	t.Parallel()
	const vmx = "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse\n"
	const svm = "flags\t\t: fpu svm\n"
	const plain = "flags\t\t: fpu vme de pse sse hypervisor\n"
	denied := errors.New("permission denied")
	tests := []struct {
		name    string
		probe   AccelProbe
		want    string
		wantErr bool
	}{
		{"vmx host", AccelProbe{CPUInfo: vmx}, "kvm", false},
		{"svm host", AccelProbe{CPUInfo: svm}, "kvm", false},
		{"no hw virt", AccelProbe{CPUInfo: plain}, "tcg", false},
		{"kvm not openable", AccelProbe{CPUInfo: vmx, KVMOpenErr: denied}, "tcg", false},
		{"kvm_pvm backend", AccelProbe{CPUInfo: vmx, KVMPVMLoaded: true}, "tcg", false},
		{"vmx only in model name", AccelProbe{CPUInfo: "model name\t: vmx-like\nflags\t: sse\n"}, "tcg", false},
		{"empty cpuinfo", AccelProbe{}, "tcg", false},
		{"override tcg on good host", AccelProbe{Override: "tcg", CPUInfo: vmx}, "tcg", false},
		{"override kvm on pvm host", AccelProbe{Override: "kvm", KVMPVMLoaded: true, KVMOpenErr: denied}, "kvm", false},
		{"bad override", AccelProbe{Override: "hvf", CPUInfo: vmx}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ChooseAccel(tt.probe)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got.Name != tt.want {
				t.Errorf("accel = %q, want %q", got.Name, tt.want)
			}
			if err == nil && got.Reason == "" {
				t.Error("no reason given for the choice")
			}
		})
	}
}
