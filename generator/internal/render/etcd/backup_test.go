package etcd_test

import (
	"bufio"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/consumers"
)

const (
	backupTimer   = "/etc/systemd/system/backup-etcd.timer"
	backupService = "/etc/systemd/system/backup-etcd.service"
	backupScript  = "/usr/local/bin/kube-scripts/etcd-backup.sh"
)

// systemdAnalyze returns systemd-analyze's path, or skips the test when it
// is missing outside CI (Debian 12 has it in the systemd package).
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze not found (.ci/run installs systemd)")
		}
		t.Skip("systemd-analyze not found: the timer's calendar is not checked by systemd")
	}
	return path
}

// timerSetting returns the value of key= in a unit file, and how many times
// the key is set.
func timerSetting(unit, key string) (string, int) {
	var val string
	n := 0
	for line := range strings.Lines(unit) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			val = v
			n++
		}
	}
	return val, n
}

// TestBackupTimerOnTheCalendar renders the backup timer for KubeKey's
// default backupPeriod and for every other period ksgen takes, and has
// systemd compute the elapses of each OnCalendar: consecutive runs are
// exactly backupPeriod apart, through midnight, and the default runs daily
// at 02:00. No timer counts from boot, and each is Persistent, so a node
// that reboots more often than the period still backs up.
func TestBackupTimerOnTheCalendar(t *testing.T) {
	t.Parallel()
	sa := systemdAnalyze(t)
	periods := append([]int{0}, spec.BackupPeriods()...) // 0: the field left out
	for _, period := range periods {
		t.Run(strconv.Itoa(period), func(t *testing.T) {
			t.Parallel()
			lines := "    type: kubekey\n"
			want := period
			if period != 0 {
				lines += "    backupPeriod: " + strconv.Itoa(period) + "\n"
			} else {
				want = spec.DefaultBackupPeriod
			}
			r := render(t, load(t, t.TempDir(), withEtcd(dedicated, lines).yaml()))
			timer := string(r.file(t, "etcd2", backupTimer).Content)
			calendar, n := timerSetting(timer, "OnCalendar")
			if n != 1 {
				t.Fatalf("timer sets OnCalendar %d times, want once:\n%s", n, timer)
			}
			if v, _ := timerSetting(timer, "Persistent"); v != "true" {
				t.Errorf("timer is not Persistent:\n%s", timer)
			}
			for _, boot := range []string{"OnBootSec", "OnUnitActiveSec", "OnStartupSec"} {
				if _, n := timerSetting(timer, boot); n != 0 {
					t.Errorf("timer counts from boot (%s):\n%s", boot, timer)
				}
			}
			if want == spec.DefaultBackupPeriod && calendar != "*-*-* 02:00:00" {
				t.Errorf("daily OnCalendar=%s, want *-*-* 02:00:00", calendar)
			}

			// The elapses after a base time just before midnight, in UTC.
			base := time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC)
			iterations := 1440/want + 2
			cmd := exec.Command(sa, "calendar", "--base-time="+base.Format("2006-01-02 15:04:05 UTC"), "--iterations="+strconv.Itoa(iterations), calendar)
			cmd.Env = append(os.Environ(), "TZ=UTC")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze calendar %q: %v\n%s", calendar, err, out)
			}
			var elapses []time.Time
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				label, when, ok := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
				if !ok || (label != "Next elapse" && !strings.HasPrefix(label, "Iter. #")) {
					continue
				}
				at, err := time.Parse("Mon 2006-01-02 15:04:05 MST", when)
				if err != nil {
					t.Fatalf("systemd-analyze calendar: elapse %q: %v", when, err)
				}
				elapses = append(elapses, at)
			}
			if len(elapses) != iterations {
				t.Fatalf("systemd-analyze calendar %q: %d elapses, want %d:\n%s", calendar, len(elapses), iterations, out)
			}
			step := time.Duration(want) * time.Minute
			for i := 1; i < len(elapses); i++ {
				if gap := elapses[i].Sub(elapses[i-1]); gap != step {
					t.Fatalf("OnCalendar=%s: %v then %v, %v apart; backupPeriod %d wants %v", calendar, elapses[i-1], elapses[i], gap, want, step)
				}
			}
			if want == spec.DefaultBackupPeriod {
				for _, at := range elapses {
					if at.Hour() != 2 || at.Minute() != 0 || at.Second() != 0 {
						t.Errorf("daily backup at %v, want 02:00:00", at)
					}
				}
			}
		})
	}
}

// TestBackupUnitsVerify has systemd-analyze verify load the rendered timer
// and service, with the backup script at its path, in a scratch root that
// holds the host's own unit library (timers.target, sysinit.target…).
// verify fails on a bad calendar, a missing Unit= or ExecStart, and prints
// unknown settings; both count as failures here.
func TestBackupUnitsVerify(t *testing.T) {
	t.Parallel()
	r := render(t, load(t, t.TempDir(), withEtcd(dedicated, "    type: kubekey\n").yaml()))
	files, modes := map[string][]byte{}, map[string]os.FileMode{}
	for _, p := range []string{backupTimer, backupService, backupScript} {
		f := r.file(t, "etcd1", p)
		files[p], modes[p] = f.Content, f.Mode.Perm()
	}
	err := consumers.VerifyUnits(files, modes, path.Base(backupTimer), path.Base(backupService))
	if consumers.IsMissing(err) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
}
