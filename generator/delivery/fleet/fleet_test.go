package fleet_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ksgen/ksgen/generator/delivery/fleet"
)

func form(log string) url.Values {
	return url.Values{"phase": {"kubeadm"}, "event": {"failed"}, "attempt": {"1"}, "status": {"1"}, "log": {log}}
}

// A report keeps the last lines within both bounds, and never the
// bootstrap token kubeadm init prints in its join command.
func TestReportLogIsBoundedAndMasked(t *testing.T) {
	t.Parallel()
	var long strings.Builder
	for i := range 100 {
		fmt.Fprintf(&long, "line %03d %s\n", i, strings.Repeat("x", 300))
	}
	r, err := fleet.ParseReport(form(long.String()))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(r.Log, "\n")
	if len(r.Log) > fleet.MaxLogBytes || len(lines) > fleet.MaxLogLines || !strings.HasPrefix(lines[len(lines)-1], "line 099 ") || !strings.HasPrefix(lines[0], "line ") {
		t.Errorf("log of %d bytes, %d lines, last %.12q, first %.12q: want the last whole lines within %d bytes and %d lines",
			len(r.Log), len(lines), lines[len(lines)-1], lines[0], fleet.MaxLogBytes, fleet.MaxLogLines)
	}
	r, err = fleet.ParseReport(form("kubeadm join lb.kubesphere.local:6443 --token abcdef.0123456789abcdef \\\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.Log, "abcdef.0123456789abcdef") || !strings.Contains(r.Log, "--token <bootstrap token>") {
		t.Errorf("bootstrap token not masked: %q", r.Log)
	}
}

// The history keeps the last HistorySize reports, oldest first; each
// node's latest report and last failure stay whatever the history drops.
func TestHistoryIsBounded(t *testing.T) {
	t.Parallel()
	s := fleet.NewStore(func() time.Time { return time.Unix(0, 0) })
	s.Add("node1", fleet.Report{Phase: "kubeadm", Event: fleet.EventFailed, Status: 1, Log: "boom"})
	for i := range fleet.HistorySize + 10 {
		s.Add("node2", fleet.Report{Phase: "prep", Event: fleet.EventStart, Attempt: i})
	}
	h := s.History()
	if len(h) != fleet.HistorySize || h[0].Attempt != 10 || h[len(h)-1].Attempt != fleet.HistorySize+9 {
		t.Errorf("history: %d entries from attempt %d to %d", len(h), h[0].Attempt, h[len(h)-1].Attempt)
	}
	v := s.View("c", []fleet.Host{{Name: "node1", Action: "join"}, {Name: "lb1", Action: "none"}, {Name: "node3", Action: "join"}})
	var got []string
	for _, n := range v.Nodes {
		got = append(got, n.Name+"="+n.Phase())
	}
	want := "node1=kubeadm: failed (exit 1) lb1=no bootstrap node3=no report yet node2=prep: start"
	if strings.Join(got, " ") != want {
		t.Errorf("view %q, want %q", strings.Join(got, " "), want)
	}
	if v.Nodes[0].LastError() != "boom" || v.Nodes[3].Reports != fleet.HistorySize+10 {
		t.Errorf("node1 error %q, node2 %d reports", v.Nodes[0].LastError(), v.Nodes[3].Reports)
	}
}
