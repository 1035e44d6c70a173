package hook

import (
	"bytes"
	"errors"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/sirupsen/logrus"
)

func TestJournalFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		data logrus.Fields
		want map[string]string
	}{
		{nil, map[string]string{"SYSLOG_IDENTIFIER": "dkms-autoinstall"}},
		{logrus.Fields{"MODULE": "nvidia", "VERSION": "550.1", "KERNEL": "6.1.0-56-amd64", "PHASE": "build"},
			map[string]string{"SYSLOG_IDENTIFIER": "dkms-autoinstall", "MODULE": "nvidia", "VERSION": "550.1",
				"KERNEL": "6.1.0-56-amd64", "PHASE": "build"}},
		// logrus' WithError key and non-string values still reach the journal.
		{logrus.Fields{"error": errors.New("boom"), "code": 10},
			map[string]string{"SYSLOG_IDENTIFIER": "dkms-autoinstall", "ERROR": "boom", "CODE": "10"}},
		// Journal field names: A-Z, 0-9 and _, no leading _ (trusted fields).
		{logrus.Fields{"make.log": "/x", "_PID": "1", "9lives": "y"},
			map[string]string{"SYSLOG_IDENTIFIER": "dkms-autoinstall", "MAKE_LOG": "/x", "PID": "1", "LIVES": "y"}},
	}
	for _, c := range cases {
		got := JournalFields(&logrus.Entry{Data: c.data})
		if len(got) != len(c.want) {
			t.Errorf("%v: got %v, want %v", c.data, got, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%v: %s=%q, want %q", c.data, k, got[k], v)
			}
		}
	}
}

func TestPriority(t *testing.T) {
	t.Parallel()
	for l, want := range map[logrus.Level]journal.Priority{
		logrus.PanicLevel: journal.PriCrit, logrus.FatalLevel: journal.PriCrit, logrus.ErrorLevel: journal.PriErr,
		logrus.WarnLevel: journal.PriWarning, logrus.InfoLevel: journal.PriInfo, logrus.DebugLevel: journal.PriDebug,
		logrus.TraceLevel: journal.PriDebug,
	} {
		if got := priority(l); got != want {
			t.Errorf("priority(%v) = %v, want %v", l, got, want)
		}
	}
}

// TestStderrLogger: hooks log plain prefixed lines on stderr (apt shows
// them); the fields stay out of the text.
func TestStderrLogger(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := NewLogger(false, &b)
	l.WithField("MODULE", "m").Info("building m/1 for k (1/2)")
	l.Warn("the initramfs holds other copies")
	l.WithFields(logrus.Fields{"MODULE": "m", "PHASE": "build"}).Error("module m/1 failed for kernel k (status 10); see /l")
	want := "dkms-autoinstall: building m/1 for k (1/2)\n" +
		"dkms-autoinstall: warning: the initramfs holds other copies\n" +
		"dkms-autoinstall: error: module m/1 failed for kernel k (status 10); see /l\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
