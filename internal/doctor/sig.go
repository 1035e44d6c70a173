package doctor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// efiGlobal is the EFI global variable GUID SecureBoot lives under.
const efiGlobal = "8be4df61-93ca-11d2-aa0d-00e098032b8c"

// sigState is what the signature checks need beyond one kernel, read once.
type sigState struct {
	o          *Options
	ctx        context.Context
	efi        bool   // the machine booted through UEFI
	secureBoot string // on, off or unknown
	sbErr      string
	lockdown   string // the running kernel's lockdown mode; "" unknown
	// sigEnforce: the running kernel enforces now (module.sig_enforce is
	// set, or was switched on through /sys, which cannot be undone)
	sigEnforce bool
	cmdline    []string // /proc/cmdline
	keyIDs     map[string]bool
	keysErr    error
	cert       *x509.Certificate
	certErr    error

	mu      sync.Mutex
	testKey *mokAnswer
	listNew *mokAnswer
}

type mokAnswer struct {
	out []byte
	err error
}

func newSigState(ctx context.Context, o *Options) *sigState {
	s := &sigState{o: o, ctx: ctx, secureBoot: "off"}
	if st, err := os.Stat(o.sys("/sys/firmware/efi")); err == nil && st.IsDir() {
		s.efi = true
		s.readSecureBoot()
	}
	if b, err := os.ReadFile(o.sys("/sys/kernel/security/lockdown")); err == nil {
		s.lockdown = "none"
		for _, w := range strings.Fields(string(b)) {
			if strings.HasPrefix(w, "[") {
				s.lockdown = strings.Trim(w, "[]")
			}
		}
	}
	if b, err := os.ReadFile(o.sys("/sys/module/module/parameters/sig_enforce")); err == nil {
		s.sigEnforce = strings.TrimSpace(string(b)) == "Y"
	}
	if b, err := os.ReadFile(o.sys("/proc/cmdline")); err == nil {
		s.cmdline = strings.Fields(string(b))
	}
	s.keyIDs, s.keysErr = readKeyIDs(o.sys("/proc/keys"))
	if o.Cert != "" {
		s.cert, s.certErr = readCert(o.Cert)
	}
	return s
}

// readSecureBoot reads the SecureBoot EFI variable (4 bytes of attributes,
// then the value), else asks mokutil.
func (s *sigState) readSecureBoot() {
	b, err := os.ReadFile(s.o.sys("/sys/firmware/efi/efivars/SecureBoot-" + efiGlobal))
	if err == nil && len(b) == 5 {
		s.secureBoot = map[bool]string{true: "on", false: "off"}[b[4] == 1]
		return
	}
	out, merr := s.o.run(s.ctx, "mokutil", "--sb-state")
	switch {
	case bytes.Contains(out, []byte("SecureBoot enabled")):
		s.secureBoot = "on"
	case bytes.Contains(out, []byte("SecureBoot disabled")):
		s.secureBoot = "off"
	default:
		s.secureBoot = "unknown"
		s.sbErr = "the SecureBoot EFI variable cannot be read"
		if err != nil {
			s.sbErr += " (" + err.Error() + ")"
		}
		if merr != nil {
			s.sbErr += " and mokutil --sb-state failed: " + merr.Error()
		}
	}
}

// readKeyIDs collects the key identifiers (hex) in the descriptions of the
// asymmetric keys in /proc/keys: "<CN>: <subject key id or serial>".
func readKeyIDs(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 9 || !strings.HasPrefix(fs[7], "asymmetri") {
			continue
		}
		for _, w := range fs[8:] {
			w = strings.ToLower(strings.TrimSuffix(w, ":"))
			if len(w) >= 8 && isHex(w) {
				ids[w] = true
			}
		}
	}
	return ids, sc.Err()
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseCertificate(b)
}

// enforcement decides whether kernel k refuses modules without a trusted
// signature, and why. cmdline is the boot entry's command line for k when
// the bootloader configuration names one, else the running kernel's.
func (kc *kernelCtx) enforcement(cmdline []string) {
	o, s, k := kc.o, kc.s, kc.k
	if cmdline == nil {
		cmdline = s.cmdline
	}
	cfg := readConfig(o.sys("/boot/config-"+k), kc.kr.Headers+"/.config")
	if cfg != nil && cfg["CONFIG_MODULE_SIG"] == "" {
		return // the kernel cannot check signatures at all
	}
	var why []string
	if cfg["CONFIG_MODULE_SIG_FORCE"] == "y" {
		why = append(why, "CONFIG_MODULE_SIG_FORCE")
	}
	for _, a := range cmdline {
		switch {
		case a == "module.sig_enforce" || a == "module.sig_enforce=1" || a == "module.sig_enforce=y":
			why = append(why, "module.sig_enforce=1")
		case a == "lockdown=integrity" || a == "lockdown=confidentiality":
			why = append(why, a)
		}
	}
	if k == o.Running && s.sigEnforce {
		why = append(why, "module.sig_enforce=1")
	}
	if k == o.Running && s.lockdown != "" && s.lockdown != "none" {
		why = append(why, "lockdown ("+s.lockdown+")")
	}
	if s.secureBoot == "on" && (cfg == nil || cfg["CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT"] == "y" || cfg["CONFIG_IMA_ARCH_POLICY"] == "y") {
		why = append(why, "Secure Boot")
	}
	if s.secureBoot == "unknown" && len(why) == 0 {
		kc.kr.Problems = append(kc.kr.Problems, Problem{Verdict: Unchecked,
			Detail: "cannot tell whether Secure Boot is on, so whether kernel " + k + " refuses unsigned modules: " + s.sbErr,
			Advice: "install mokutil, or run as root so that efivars can be read"})
	}
	kc.enforced = len(why) > 0
	kc.kr.SignatureEnforced = kc.enforced
	kc.kr.EnforcedBy = dedupe(why)
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// readConfig reads the first readable kernel config; nil when none is.
func readConfig(paths ...string) map[string]string {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		cfg := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if name, val, ok := strings.Cut(line, "="); ok && strings.HasPrefix(name, "CONFIG_") {
				cfg[name] = strings.Trim(val, `"`)
			}
		}
		return cfg
	}
	return nil
}

// checkSignature: the kernel refuses the module unless it is signed by a
// key in its keyrings (built in, or enrolled in MOK and loaded at boot).
func (kc *kernelCtx) checkSignature(ctx context.Context, row *ModuleReport, path, id string) {
	s, k := kc.s, kc.k
	by := strings.Join(kc.kr.EnforcedBy, ", ")
	sig, err := ReadSignature(path)
	if errors.Is(err, ErrUnsigned) {
		kc.kr.add(row, Problem{Verdict: Unsigned, Detail: "not signed, and kernel " + k + " refuses unsigned modules (" + by + ")",
			Advice:  "DKMS signs what it builds when it finds the kernel's sign-file and a key (mok_signing_key, mok_certificate in framework.conf; dkms generate_mok makes one); then reinstall",
			Command: "dkms install --force " + id + " -k " + k})
		return
	}
	if err != nil {
		kc.kr.add(row, Problem{Verdict: Unchecked, Detail: "reading the signature: " + err.Error()})
		return
	}
	row.Signer = sig.Signer
	ours := s.cert != nil && signedBy(sig, s.cert)
	if s.keyIDs != nil && s.keyIDs[sigKeyID(sig, s.cert, ours)] {
		return // in the kernel's keyrings now
	}
	if !ours {
		detail := "signed by " + sig.Signer + ", a key that is neither in the kernel's keyrings nor DKMS's certificate"
		if s.cert == nil {
			detail = "signed by " + sig.Signer + ", a key not in the kernel's keyrings (DKMS's certificate " + kc.o.Cert + " cannot be read)"
		}
		if s.keyIDs == nil {
			kc.kr.add(row, Problem{Verdict: Unchecked, Detail: "signed by " + sig.Signer + "; the kernel's keyrings cannot be read: " + s.keysErr.Error()})
			return
		}
		kc.kr.add(row, Problem{Verdict: Untrusted, Detail: detail,
			Advice:  "enroll that key's certificate with mokutil --import, or reinstall so that DKMS signs it with its own key",
			Command: "dkms install --force " + id + " -k " + k})
		return
	}
	enrolled, pending, merr := s.mok(ctx)
	switch {
	case merr == nil && enrolled:
		return
	case merr == nil && pending:
		kc.kr.add(row, Problem{Verdict: EnrollPending, Detail: "signed with " + kc.o.Cert + ", whose enrollment in MOK is pending",
			Advice: enrollAdvice})
		return
	case merr != nil && s.keyIDs == nil:
		kc.kr.add(row, Problem{Verdict: Unchecked, Detail: "cannot tell whether the certificate " + kc.o.Cert +
			" is trusted: the kernel's keyrings cannot be read (" + s.keysErr.Error() + ") and " + merr.Error()})
		return
	}
	detail := "signed with " + kc.o.Cert + " (" + sig.Signer + "), which kernel " + k + " does not trust: it is not in the kernel's keyrings"
	if merr != nil {
		detail += " and MOK cannot be read (" + merr.Error() + ")"
	} else {
		detail += " nor enrolled in MOK"
	}
	advice := "mokutil asks for a one-time password; " + enrollAdvice
	if !s.efi {
		advice = "this machine did not boot through UEFI, so MOK is not available to it and the kernel trusts only its built-in keys; on a UEFI machine: " + advice
	}
	kc.kr.add(row, Problem{Verdict: Untrusted, Detail: detail, Command: "mokutil --import " + kc.o.Cert, Advice: advice})
}

const enrollAdvice = "the next boot stops in MokManager (a blue screen) before the kernel starts: choose \"Enroll MOK\", " +
	"\"Continue\", \"Yes\", type that password, then \"Reboot\"; skipping it leaves the module refused"

func signedBy(sig *Signature, c *x509.Certificate) bool {
	if sig.SubjectKeyID != nil {
		return bytes.Equal(sig.SubjectKeyID, c.SubjectKeyId)
	}
	return bytes.Equal(sig.Issuer, c.RawIssuer) && sig.Serial != nil && sig.Serial.Cmp(c.SerialNumber) == 0
}

// sigKeyID is the identifier the kernel's key description shows for the
// signer: its subject key id when known, else its serial.
func sigKeyID(sig *Signature, c *x509.Certificate, ours bool) string {
	if ours && c.SubjectKeyId != nil {
		return hex.EncodeToString(c.SubjectKeyId)
	}
	if sig.SubjectKeyID != nil {
		return hex.EncodeToString(sig.SubjectKeyID)
	}
	if sig.Serial != nil {
		return hex.EncodeToString(sig.Serial.Bytes())
	}
	return ""
}

// mok asks mokutil, once per run, whether DKMS's certificate is enrolled
// and whether an enrollment of it is pending.
func (s *sigState) mok(ctx context.Context) (enrolled, pending bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.testKey == nil {
		out, err := s.o.run(ctx, "mokutil", "--test-key", s.o.Cert)
		s.testKey = &mokAnswer{out, err}
	}
	tk := s.testKey
	switch {
	case bytes.Contains(tk.out, []byte("is already enrolled")):
		return true, false, nil
	case bytes.Contains(tk.out, []byte("enrollment request")):
		// mokutil's answer for a key that --import already queued
		return false, true, nil
	case !bytes.Contains(tk.out, []byte("not enrolled")):
		return false, false, mokError("--test-key", tk)
	}
	if s.listNew == nil {
		out, err := s.o.run(ctx, "mokutil", "--list-new")
		s.listNew = &mokAnswer{out, err}
	}
	sum := sha1.Sum(s.cert.Raw)
	norm := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(string(s.listNew.out)))
	return false, strings.Contains(norm, hex.EncodeToString(sum[:])), nil
}

func mokError(arg string, a *mokAnswer) error {
	msg := strings.TrimSpace(string(a.out))
	if a.err != nil && msg == "" {
		var xe *exec.ExitError
		if errors.As(a.err, &xe) {
			msg = strings.TrimSpace(string(xe.Stderr))
		}
		if msg == "" {
			msg = a.err.Error()
		}
	}
	if msg == "" {
		msg = "no answer"
	}
	return errors.New("mokutil " + arg + ": " + firstLine(msg))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
