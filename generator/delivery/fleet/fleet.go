package fleet

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds on what one report keeps, and on the history. The log bounds are
// the ones the nodes' report script cuts to (firstboot.ReportLines and
// ReportBytes; TestBoundsMatchTheNodes holds them equal): the server cuts
// again, since a report may come from anything holding a token.
const (
	MaxLogLines = 40
	MaxLogBytes = 8 << 10
	// MaxBody bounds a report's request body: the log tail URL-encoded at
	// worst triples.
	MaxBody     = 4*MaxLogBytes + 1<<10
	HistorySize = 1000
)

// Events a bootstrap reports.
const (
	EventStart  = "start"  // a phase starts
	EventDone   = "done"   // a phase finished (phase "bootstrapped": all did)
	EventFailed = "failed" // the script failed in a phase; systemd starts it again
	EventRetry  = "retry"  // a kubeadm attempt failed; the next follows after a backoff
)

// PhaseBootstrapped is the phase of the report sent when every phase is done.
const PhaseBootstrapped = "bootstrapped"

var (
	events    = []string{EventStart, EventDone, EventFailed, EventRetry}
	phaseName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	// bootstrapToken is kubeadm's token format: kubeadm init prints its join
	// command, token included, and that must not reach the page.
	bootstrapToken = regexp.MustCompile(`\b[a-z0-9]{6}\.[a-z0-9]{16}\b`)
)

// Report is one message from a node's bootstrap.
type Report struct {
	Phase   string `json:"phase"`
	Event   string `json:"event"`
	Attempt int    `json:"attempt"` // how often this phase has started on the node
	Status  int    `json:"status"`  // the exit status, 0 unless failed or retry
	// Log is the last lines of the bootstrap's output, at most MaxLogLines
	// and MaxLogBytes, with bootstrap tokens masked.
	Log  string    `json:"log,omitempty"`
	Time time.Time `json:"time"` // when ksgen serve received it
}

// ParseReport reads a report from the form the bootstrap POSTs.
func ParseReport(form url.Values) (Report, error) {
	r := Report{Phase: form.Get("phase"), Event: form.Get("event"), Log: tail(form.Get("log"))}
	if !phaseName.MatchString(r.Phase) {
		return r, fmt.Errorf("phase %q: want a phase name", r.Phase)
	}
	if !slices.Contains(events, r.Event) {
		return r, fmt.Errorf("event %q: want one of %s", r.Event, strings.Join(events, ", "))
	}
	var err error
	if r.Attempt, err = bounded(form.Get("attempt"), 1<<20); err != nil {
		return r, fmt.Errorf("attempt: %w", err)
	}
	if r.Status, err = bounded(form.Get("status"), 255); err != nil {
		return r, fmt.Errorf("status: %w", err)
	}
	return r, nil
}

func bounded(s string, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("%q: want 0 to %d", s, max)
	}
	return n, nil
}

// tail keeps the last MaxLogLines lines and MaxLogBytes bytes of s, whole
// lines where it can, with bootstrap tokens masked.
func tail(s string) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > MaxLogLines {
		lines = lines[len(lines)-MaxLogLines:]
	}
	s = strings.Join(lines, "\n")
	if len(s) > MaxLogBytes {
		s = s[len(s)-MaxLogBytes:]
		if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
			s = s[i+1:]
		}
		s = strings.ToValidUTF8(s, "")
	}
	return bootstrapToken.ReplaceAllString(s, "<bootstrap token>")
}

// Entry is a report in the history, with the node that sent it.
type Entry struct {
	Node string `json:"node"`
	Report
}

type nodeState struct {
	reports     int
	last        Report
	lastFailure *Report
}

// Store holds the reports; it is safe for concurrent use and keeps nothing
// on disk.
type Store struct {
	mu      sync.Mutex
	nodes   map[string]*nodeState
	history []Entry // a ring of HistorySize; next is where the next entry goes
	next    int
	now     func() time.Time
}

// NewStore is an empty store; now stamps reports (nil: the clock).
func NewStore(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{nodes: map[string]*nodeState{}, now: now}
}

// Add records node's report, stamped with the time it arrived.
func (s *Store) Add(node string, r Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Time = s.now().UTC()
	st := s.nodes[node]
	if st == nil {
		st = &nodeState{}
		s.nodes[node] = st
	}
	st.reports++
	st.last = r
	if r.Event == EventFailed || r.Event == EventRetry {
		f := r
		st.lastFailure = &f
	}
	e := Entry{Node: node, Report: r}
	if len(s.history) < HistorySize {
		s.history = append(s.history, e)
	} else {
		s.history[s.next] = e
	}
	s.next = (s.next + 1) % HistorySize
}

// History is the kept reports, oldest first.
func (s *Store) History() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.history) < HistorySize {
		return slices.Clone(s.history)
	}
	return append(slices.Clone(s.history[s.next:]), s.history[:s.next]...)
}

// Host is a node of the rendered cluster, as index.json lists it.
type Host struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Action is init, join, join-control-plane or none (a host that runs no
	// bootstrap, so never reports).
	Action string `json:"action"`
}

// Node is one node's line on the fleet page and in its JSON.
type Node struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles,omitempty"`
	// Bootstraps is false for hosts that run no bootstrap (load balancers,
	// dedicated etcd): they never report.
	Bootstraps  bool    `json:"bootstraps"`
	Reports     int     `json:"reports"`
	Last        *Report `json:"last,omitempty"`
	LastFailure *Report `json:"lastFailure,omitempty"`
}

// View is the whole fleet: every host of the rendered cluster in its
// order, then any other node that reported, by name.
type View struct {
	Cluster string `json:"cluster"`
	Nodes   []Node `json:"nodes"`
	// History is the kept reports, oldest first (the JSON only).
	History []Entry `json:"history,omitempty"`
}

// View is the fleet with the hosts of the rendered cluster.
func (s *Store) View(cluster string, hosts []Host) View {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := View{Cluster: cluster}
	seen := map[string]bool{}
	add := func(n Node) {
		if st := s.nodes[n.Name]; st != nil {
			last := st.last
			n.Reports, n.Last, n.LastFailure = st.reports, &last, st.lastFailure
		}
		seen[n.Name] = true
		v.Nodes = append(v.Nodes, n)
	}
	for _, h := range hosts {
		add(Node{Name: h.Name, Roles: h.Roles, Bootstraps: h.Action != "none"})
	}
	var others []string
	for name := range s.nodes {
		if !seen[name] {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	for _, name := range others {
		add(Node{Name: name, Bootstraps: true})
	}
	return v
}

// Phase says where a node's bootstrap stands, in a few words.
func (n Node) Phase() string {
	switch {
	case !n.Bootstraps && n.Last == nil:
		return "no bootstrap"
	case n.Last == nil:
		return "no report yet"
	case n.Last.Phase == PhaseBootstrapped:
		return PhaseBootstrapped
	}
	s := n.Last.Phase + ": " + n.Last.Event
	if n.Last.Event == EventFailed || n.Last.Event == EventRetry {
		s += fmt.Sprintf(" (exit %d)", n.Last.Status)
	}
	return s
}

// Failing reports whether the node's last report is a failure or a retry.
func (n Node) Failing() bool {
	return n.Last != nil && (n.Last.Event == EventFailed || n.Last.Event == EventRetry)
}

// boilerplate is the bootstrap's own lines around a failure, which say
// less than the line before them.
var boilerplate = regexp.MustCompile(`^ksgen-bootstrap: (phase \S+ failed \(exit|attempt \d+ failed; next in|report of )`)

// LastError is the telling line of the last failure's log: the last one
// that is not the bootstrap's own notice of the failure; "" without one.
func (n Node) LastError() string {
	if n.LastFailure == nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(n.LastFailure.Log, "\n"), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !boilerplate.MatchString(l) {
			line = l
			break
		}
	}
	return strings.TrimPrefix(line, "ksgen-bootstrap: ")
}
