package hook

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/dkms-go/dkms/internal/engine"
	"github.com/dkms-go/dkms/internal/options"
	"github.com/dkms-go/dkms/internal/testenv"
	"github.com/dkms-go/dkms/internal/ui"
)

// fk is a fake kernel: a build directory with include/ and no compiler
// behind it; the modules of these tests build with their own Makefiles.
const fk = "6.1.0-hooktest"

// system is a throw-away machine root (testenv.Root) with headers of the
// fake kernel fk.
type system struct {
	t                     *testing.T
	r                     *testenv.Root
	root, dkms, src, inst string
	noHeaders             string // a kernel installed without headers (postinstWithoutHeaders)
}

func newSystem(t *testing.T, framework string) *system {
	t.Helper()
	r := testenv.NewRoot(t)
	r.FakeKernel(fk)
	s := &system{t: t, r: r, root: r.Dir, dkms: r.DKMS, src: r.Src, inst: r.Inst}
	s.write("/etc/dkms/framework.conf", "sign_file=/nonexistent\n"+framework)
	return s
}

func (s *system) write(rel, content string) string { return s.r.Write(rel, content, 0o644) }

// module writes <src>/<m>-1.0 with the given Makefile (run as "make all")
// and extra files, one BUILT_MODULE_NAME per name, and adds it to the dkms
// tree the way `dkms add` leaves it (the source symlink).
func (s *system) module(m, makefile string, names []string, files map[string]string) {
	s.t.Helper()
	conf := "PACKAGE_NAME=" + m + "\nPACKAGE_VERSION=1.0\nAUTOINSTALL=yes\nMAKE[0]=\"make all\"\n"
	for i, n := range names {
		conf += "BUILT_MODULE_NAME[" + strconv.Itoa(i) + "]=" + n + "\nDEST_MODULE_LOCATION[" + strconv.Itoa(i) + "]=/updates\n"
	}
	dir := "/usr/src/" + m + "-1.0"
	s.write(dir+"/dkms.conf", conf)
	s.write(dir+"/Makefile", makefile)
	for name, content := range files {
		s.write(dir+"/"+name, content)
	}
	s.r.AddSource(m, "1.0", s.root+dir)
}

// fakeModule is a module whose build writes a stand-in name.ko.
func (s *system) fakeModule(m string) {
	s.module(m, "all:\n\tprintf 'fake\\n' > "+m+".ko\n", []string{m}, nil)
}

// brokenModule is a module whose build fails.
func (s *system) brokenModule(m string) {
	s.module(m, "all:\n\techo 'error: this does not build' >&2\n\texit 1\n", []string{m}, nil)
}

// run is one dkms-autoinstall run in-process: the engine on this system, a
// Runner whose logger records entries and whose sd_notify is recorded.
type run struct {
	code     int
	out, err string
	entries  []logrus.Entry
	notes    []string
}

func (s *system) run(o Options, setup func(r *Runner)) run {
	s.t.Helper()
	ctx := context.Background()
	var out, errb bytes.Buffer
	env := append(os.Environ(), "TMPDIR="+s.root+"/tmp")
	e, err := engine.New(ctx, engine.Setup{Printer: ui.New(&out, &errb), Root: s.root, Env: env})
	if err != nil {
		s.t.Fatalf("engine.New: %v\n%s", err, errb.String())
	}
	if err := e.ApplyOptions(&options.Options{Action: "dkms-autoinstall", DKMSTree: &s.dkms, SourceTree: &s.src, InstallTree: &s.inst}); err != nil {
		s.t.Fatalf("ApplyOptions: %v\n%s", err, errb.String())
	}
	defer e.Unlock()
	log, rec := logtest.NewNullLogger()
	var mu sync.Mutex
	var res run
	r := &Runner{E: e, Log: log, Report: &errb, Notify: func(st string) {
		mu.Lock()
		res.notes = append(res.notes, st)
		mu.Unlock()
	}}
	if setup != nil {
		setup(r)
	}
	if o.Jobs == 0 {
		o.Jobs = 1
	}
	res.code = r.Run(ctx, o)
	res.out, res.err = strings.ReplaceAll(out.String(), s.root, "<root>"), strings.ReplaceAll(errb.String(), s.root, "<root>")
	for _, en := range rec.AllEntries() {
		res.entries = append(res.entries, *en)
	}
	return res
}

// messages are the logged messages, one "level: message" a line.
func (r run) messages() string {
	var b strings.Builder
	for _, en := range r.entries {
		b.WriteString(en.Level.String() + ": " + en.Message + "\n")
	}
	return b.String()
}

// postinstWithoutHeaders is the postinst hook for a kernel whose image is
// installed without its headers (s.noHeaders), with one module, good, in
// the tree.
func postinstWithoutHeaders(t *testing.T, framework string, setup func(r *Runner)) (*system, run) {
	s := newSystem(t, framework)
	s.fakeModule("good")
	s.noHeaders = "6.1.0-noheaders"
	s.write("/boot/vmlinuz-"+s.noHeaders, "x")
	return s, s.run(Options{Hook: "postinst", Kernels: []string{s.noHeaders}}, setup)
}

// noHeadersSkipped is upstream's line for a kernel without headers.
func noHeadersSkipped(k string) string {
	return "info: Automatic installation of modules for kernel " + k +
		" was skipped since the kernel headers for this kernel do not seem to be installed.\n"
}

// wantLog checks that r exited 0 and logged exactly want.
func (s *system) wantLog(r run, want string) {
	s.t.Helper()
	if r.code != 0 || r.messages() != want {
		s.t.Errorf("exit %d, log:\n%s\nwant:\n%s", r.code, r.messages(), want)
	}
}

// buildingSystem is a system that builds modules (as root, with make),
// with the good modules and the broken ones (whose build fails) in its
// tree.
func buildingSystem(t *testing.T, good, broken []string) *system {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "make")
	s := newSystem(t, "")
	for _, m := range good {
		s.fakeModule(m)
	}
	for _, m := range broken {
		s.brokenModule(m)
	}
	return s
}
