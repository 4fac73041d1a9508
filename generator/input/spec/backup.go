package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DefaultBackupPeriod is KubeKey's etcd.backupPeriod: 1440 minutes, daily.
const DefaultBackupPeriod = 1440

// DailyBackupTime is when the daily etcd backup runs, in the node's time
// zone: 02:00, after midnight's own daily jobs (systemd's "daily" timers).
const DailyBackupTime = "02:00:00"

// backupPeriods are the etcd.backupPeriod values (minutes, KubeKey's unit)
// that a systemd calendar repeats at exactly that period, every hour and
// every day: the divisors of an hour, whole hours that divide a day, and a
// day. Any other value would fire at uneven gaps (45 → :00 and :45) or
// drift against the day, so it is refused at load time.
var backupPeriods = []int{1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, DefaultBackupPeriod}

// BackupCalendar is the OnCalendar expression of an etcd.backupPeriod, ok
// false when the period is not one of BackupPeriods. Under an hour and in
// whole hours it is KubeKey's expression (30 → "*-*-* *:00/30:00", 120 →
// "*-*-* 00/2:00:00"); a day is daily at DailyBackupTime, with no drift
// from boot times: the timer is Persistent, so a run missed while the node
// was off happens at its next boot.
func BackupCalendar(minutes int) (calendar string, ok bool) {
	if !slices.Contains(backupPeriods, minutes) {
		return "", false
	}
	switch {
	case minutes == DefaultBackupPeriod:
		return "*-*-* " + DailyBackupTime, true
	case minutes < 60:
		return fmt.Sprintf("*-*-* *:00/%d:00", minutes), true
	default:
		return fmt.Sprintf("*-*-* 00/%d:00:00", minutes/60), true
	}
}

// BackupPeriods returns the etcd.backupPeriod values BackupCalendar takes,
// in ascending order.
func BackupPeriods() []int { return slices.Clone(backupPeriods) }

// backupPeriodsText lists backupPeriods for an error message.
func backupPeriodsText() string {
	s := make([]string, len(backupPeriods))
	for i, p := range backupPeriods {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
