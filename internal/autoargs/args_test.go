package autoargs

import (
	"errors"
	"reflect"
	"testing"

	"github.com/dkms-go/dkms/internal/hook"
)

func TestParse(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tree, empty := "/t", ""
	tests := []struct {
		name string
		args []string
		want Args
	}{
		{"nothing", nil, Args{}},
		{"kernels in order", []string{"-k", "6.1.0-1-amd64", "--kernel", "6.2", "--kernelver", "6.3"},
			Args{Hook: hook.Options{Kernels: []string{"6.1.0-1-amd64", "6.2", "6.3"}}}},
		{"an empty kernel adds none", []string{"-k", "", "-k", "6.1"}, Args{Hook: hook.Options{Kernels: []string{"6.1"}}}},
		{"a kernel value that looks like an option", []string{"-k", "--boot"}, Args{Hook: hook.Options{Kernels: []string{"--boot"}}}},
		{"modes", []string{"--all-kernels", "--remove", "--preinst", "--boot", "--strict"},
			Args{Hook: hook.Options{AllKernels: true, Remove: true, Preinst: true, Boot: true, Strict: true}}},
		{"hook and jobs", []string{"--hook", "postinst", "-j", "3"}, Args{Hook: hook.Options{Hook: "postinst", Jobs: 3}}},
		{"load", []string{"--load"}, Args{Hook: hook.Options{Load: &yes}}},
		{"the last of load and no-load wins", []string{"--load", "--no-load"}, Args{Hook: hook.Options{Load: &no}}},
		{"trees", []string{"--dkmstree", "/t", "--sourcetree", "", "--installtree", "/t", "--no-depmod"},
			Args{DKMSTree: &tree, SourceTree: &empty, InstallTree: &tree, NoDepmod: true}},
		{"help stops parsing", []string{"--remove", "-h", "--bogus"}, Args{Hook: hook.Options{Remove: true}, Help: true}},
		{"long help", []string{"--help"}, Args{Help: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.args)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args      []string
		msg       string
		showUsage bool
	}{
		{[]string{"--bogus"}, `unknown argument "--bogus"`, true},
		{[]string{"-k", "6.1", "6.2"}, `unknown argument "6.2"`, true},
		{[]string{"-k"}, "-k needs a value", false},
		{[]string{"--kernel"}, "--kernel needs a value", false},
		{[]string{"--hook"}, "--hook needs a value", false},
		{[]string{"--dkmstree"}, "--dkmstree needs a value", false},
		{[]string{"--sourcetree"}, "--sourcetree needs a value", false},
		{[]string{"--installtree"}, "--installtree needs a value", false},
		{[]string{"-j"}, "-j needs a value", false},
		{[]string{"-j", "0"}, `-j needs a positive number, got "0"`, false},
		{[]string{"-j", "-2"}, `-j needs a positive number, got "-2"`, false},
		{[]string{"-j", "x"}, `-j needs a positive number, got "x"`, false},
		{[]string{"-j", ""}, `-j needs a positive number, got ""`, false},
		{[]string{"--bogus", "--help"}, `unknown argument "--bogus"`, true},
		{[]string{"--boot", "-j"}, "-j needs a value", false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.args)
		var e *Error
		if !errors.As(err, &e) || e.Msg != tt.msg || e.ShowUsage != tt.showUsage {
			t.Errorf("Parse(%q) = %+v, %v; want error %q (usage %v)", tt.args, got, err, tt.msg, tt.showUsage)
			continue
		}
		if !reflect.DeepEqual(got, Args{}) {
			t.Errorf("Parse(%q) returned %+v with its error", tt.args, got)
		}
	}
}
