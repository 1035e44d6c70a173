package hook

import (
	"strings"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/sirupsen/logrus"
)

// JournalHook sends logrus entries to the systemd journal with their fields
// (MODULE, VERSION, KERNEL, PHASE) as journal fields.
type JournalHook struct{}

// Levels implements logrus.Hook.
func (JournalHook) Levels() []logrus.Level { return logrus.AllLevels }

// Fire implements logrus.Hook.
func (JournalHook) Fire(en *logrus.Entry) error {
	vars := map[string]string{"SYSLOG_IDENTIFIER": "dkms-autoinstall"}
	for k, v := range en.Data {
		if s, ok := v.(string); ok {
			vars[strings.ToUpper(k)] = s
		}
	}
	return journal.Send(en.Message, priority(en.Level), vars)
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

// NewLogger returns the logger: to the journal when it is there and
// wanted (the boot unit), else text on stderr (kernel hooks).
func NewLogger(useJournal bool, stderr interface{ Write([]byte) (int, error) }) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(stderr)
	l.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true, DisableColors: true})
	if useJournal && journal.Enabled() {
		l.SetOutput(discard{})
		l.AddHook(JournalHook{})
	}
	return l
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
