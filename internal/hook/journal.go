package hook

import (
	"fmt"
	"io"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/sirupsen/logrus"
)

// JournalHook sends logrus entries to the systemd journal with their fields
// (MODULE, VERSION, KERNEL, PHASE) as journal fields, so that
// `journalctl -u dkms-autoinstall MODULE=nvidia` finds one module's story.
type JournalHook struct{}

// Levels implements logrus.Hook.
func (JournalHook) Levels() []logrus.Level { return logrus.AllLevels }

// Fire implements logrus.Hook.
func (JournalHook) Fire(en *logrus.Entry) error {
	return journal.Send(en.Message, priority(en.Level), JournalFields(en))
}

// JournalFields returns the journal fields of an entry: its logrus fields
// under journal-valid names plus SYSLOG_IDENTIFIER.
func JournalFields(en *logrus.Entry) map[string]string {
	vars := map[string]string{"SYSLOG_IDENTIFIER": "dkms-autoinstall"}
	for k, v := range en.Data {
		if name := journalName(k); name != "" {
			vars[name] = fmt.Sprint(v)
		}
	}
	return vars
}

// journalName maps a logrus field name to a journal field name: upper-case
// letters, digits and underscores, not starting with an underscore (those
// are trusted fields the journal sets itself) or a digit.
func journalName(k string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(k) {
		switch {
		case c >= 'A' && c <= 'Z', c == '_', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_0123456789")
	return s
}

func priority(l logrus.Level) journal.Priority {
	switch l {
	case logrus.PanicLevel, logrus.FatalLevel:
		return journal.PriCrit
	case logrus.ErrorLevel:
		return journal.PriErr
	case logrus.WarnLevel:
		return journal.PriWarning
	case logrus.InfoLevel:
		return journal.PriInfo
	}
	return journal.PriDebug
}

// NewLogger returns the logger: to the journal when it is wanted (the boot
// unit) and systemd connected our stderr to the journal (so a run of
// --boot by hand still talks to the terminal), else text on stderr
// (kernel hooks, which may run under debconf and must keep stdout clean).
func NewLogger(useJournal bool, stderr io.Writer) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(stderr)
	l.SetFormatter(plainFormatter{})
	if !useJournal || !journal.Enabled() {
		return l
	}
	if ok, err := journal.StderrIsJournalStream(); err == nil && ok {
		l.SetOutput(io.Discard)
		l.AddHook(JournalHook{})
	}
	return l
}

// plainFormatter writes "dkms-autoinstall: [error: ]message" lines: people
// read them in apt's output, where key=value records would be noise.
type plainFormatter struct{}

func (plainFormatter) Format(en *logrus.Entry) ([]byte, error) {
	prefix := "dkms-autoinstall: "
	switch {
	case en.Level <= logrus.ErrorLevel:
		prefix += "error: "
	case en.Level == logrus.WarnLevel:
		prefix += "warning: "
	}
	return []byte(prefix + en.Message + "\n"), nil
}
