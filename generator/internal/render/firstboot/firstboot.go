package firstboot

import (
	"fmt"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// Paths on the node. The script reads Dir and StateDir from KSGEN_HOOK_DIR
// and KSGEN_STATE_DIR when set, so tests can run it in a scratch root.
const (
	Dir      = "/opt/ksgen"
	StateDir = "/var/lib/ksgen"
	Script   = Dir + "/bootstrap.sh"
	Unit     = "ksgen-bootstrap.service"
	// NodeName holds a joining node's name, as its kubelet registers it,
	// which the script asks the API about: kept out of the script so that
	// the script is the same on every node of a kind.
	NodeName = Dir + "/node-name"
	// PhaseDir holds one <phase>.done marker per finished phase.
	PhaseDir = StateDir + "/phases"
	// Done is written when every phase has finished; the unit does not start
	// again once it exists.
	Done = StateDir + "/bootstrapped"
	// RunDir holds what lasts one boot: the failure count, and the copy of
	// the output that reports take their tail from.
	RunDir = "/run/ksgen"
	// Report, when present, is the script the bootstrap runs to report its
	// phases to ksgen serve, at ReportURL (the node's own report address,
	// with its fetch token), trusting ServeCA.
	Report    = Dir + "/report"
	ReportURL = Dir + "/report-url"
	ServeCA   = Dir + "/serve-ca.crt"
)

// A report carries at most this much of the bootstrap's output.
const (
	ReportLines = 40
	ReportBytes = 8 << 10
)

type reportData struct {
	Dir, RunDir  string
	Lines, Bytes int
}

// Reporting is the files that make the bootstrap report its phases to url,
// trusting ca. The URL carries the node's token: 0600.
func Reporting(url string, ca []byte) ([]fileset.File, error) {
	script, err := templates.Execute("report.sh.tmpl", reportData{Dir: Dir, RunDir: RunDir, Lines: ReportLines, Bytes: ReportBytes})
	if err != nil {
		return nil, fmt.Errorf("report script: %w", err)
	}
	return []fileset.File{
		{Path: Report, Mode: fileset.ModeExec, Content: script},
		{Path: ReportURL, Mode: fileset.ModeSecret, Content: []byte(url + "\n")},
		{Path: ServeCA, Mode: fileset.ModePublic, Content: ca},
	}, nil
}

// Phases the script runs before the post hooks, in order. Each post hook is
// a phase of its own, named "post-" and the hook's file name.
const (
	PhasePrep    = "prep"    // swap, kernel modules, sysctls, timezone, containerd
	PhaseKubeadm = "kubeadm" // kubeadm init or join; recorded the moment it succeeds
	PhaseAdmin   = "admin-kubeconfig"
)

// Stage is when the hooks of a slot run.
type Stage string

// Stages.
const (
	Pre     Stage = "pre"     // once, before the first kubeadm attempt
	Attempt Stage = "attempt" // before every kubeadm attempt
	Post    Stage = "post"    // after kubeadm succeeded, each hook a resumable phase
)

// Slot is a hook's place in the protocol: its stage and its order there.
type Slot struct {
	Stage Stage
	Order int
	Name  string
}

// The slots renderers fill. Order decides the run order within a stage.
var (
	// APIServerDirect points the endpoint at a live control plane for the
	// attempt, on nodes whose own endpoint only works after they joined.
	APIServerDirect = Slot{Attempt, 10, "apiserver-direct"}
	// APIServerLocal and APIServerOwn point the endpoint at the node's own
	// load balancer or apiserver once it has joined.
	APIServerLocal = Slot{Post, 10, "apiserver-local"}
	APIServerOwn   = Slot{Post, 10, "apiserver-own"}
	// KubeVipAdmin takes kube-vip's super-admin rights away after init.
	KubeVipAdmin = Slot{Post, 10, "kube-vip-admin"}
	// KubeProxyLocal points kube-proxy at 127.0.0.1 with the internal LB.
	KubeProxyLocal = Slot{Post, 20, "kube-proxy-local"}
	CNI            = Slot{Post, 50, "cni"}
	NodeLocalDNS   = Slot{Post, 52, "nodelocaldns"}
	Storage        = Slot{Post, 55, "storage"}
	Addons         = Slot{Post, 60, "addons"}
	KubeSphere     = Slot{Post, 70, "kubesphere"}
)

// File is the hook's name in its stage's directory, e.g. "50-cni".
func (s Slot) File() string { return fmt.Sprintf("%02d-%s", s.Order, s.Name) }

// Path is where the hook is written on the node.
func (s Slot) Path() string { return Dir + "/" + string(s.Stage) + ".d/" + s.File() }

// Phase is the name of the marker a post hook leaves when it has run.
func (s Slot) Phase() string { return string(s.Stage) + "-" + s.File() }

type hookData struct {
	Script string // relative to the hook directory; "" when Argv is a command
	Argv   []string
}

// Exec is a hook that runs script, a file under Dir, with args.
func Exec(s Slot, script string, args ...string) (fileset.File, error) {
	rel, ok := cutDir(script)
	if !ok {
		return fileset.File{}, fmt.Errorf("hook %s: %s is not under %s", s.File(), script, Dir)
	}
	return hook(s, hookData{Script: rel, Argv: args})
}

// Command is a hook that runs argv, a command the image has.
func Command(s Slot, argv ...string) (fileset.File, error) {
	return hook(s, hookData{Argv: argv})
}

func hook(s Slot, d hookData) (fileset.File, error) {
	b, err := templates.Execute("hook.sh.tmpl", d)
	if err != nil {
		return fileset.File{}, fmt.Errorf("hook %s: %w", s.File(), err)
	}
	return fileset.File{Path: s.Path(), Mode: fileset.ModeExec, Content: b}, nil
}

func cutDir(path string) (string, bool) {
	if len(path) > len(Dir)+1 && path[:len(Dir)+1] == Dir+"/" {
		return path[len(Dir)+1:], true
	}
	return "", false
}

type scriptData struct {
	Action          plan.Action
	Init            bool
	ControlPlane    bool
	Kubeadm         string // the kubeadm command: init or join
	NodeNameFile    string // NodeName, relative to Dir
	Endpoint        string
	CRISocket       string
	BinDir          string
	Timezone        string
	EtcdDataDir     string // stacked etcd's data directory on control planes, else ""
	AdminKubeconfig bool
	Phases          phaseNames
}

type phaseNames struct{ Prep, Kubeadm, Admin string }

type unitData struct {
	Action plan.Action
	Script string
	Done   string
}

// Render adds the bootstrap script and its unit to p. Nodes that run no
// kubeadm (etcd-only, load balancers) get neither.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if n.Action == plan.None {
		return nil
	}
	d := scriptData{
		Action:          n.Action,
		Init:            n.Action == plan.Init,
		ControlPlane:    n.ControlPlane,
		Kubeadm:         "join",
		NodeNameFile:    NodeName[len(Dir)+1:],
		Endpoint:        c.Endpoint.HostPort(),
		CRISocket:       c.CRISocket,
		BinDir:          images.BinDir(n.OS),
		Timezone:        c.Timezone,
		AdminKubeconfig: n.ControlPlane,
		Phases:          phaseNames{PhasePrep, PhaseKubeadm, PhaseAdmin},
	}
	if d.Init {
		d.Kubeadm = "init"
	}
	if n.ControlPlane && c.Etcd.Type == plan.EtcdKubeadm {
		d.EtcdDataDir = c.Etcd.DataDir
	}
	// The script depends on the node's kind, not on the node.
	script, err := plan.Shared(c, d, func(d scriptData) ([]byte, error) {
		return templates.Execute("bootstrap.sh.tmpl", d)
	})
	if err != nil {
		return fmt.Errorf("bootstrap script: %w", err)
	}
	// The unit depends only on the action: render it once per kind of node.
	unit, err := plan.Shared(c, unitData{Action: n.Action, Script: Script, Done: Done}, func(d unitData) ([]byte, error) {
		return templates.Execute("ksgen-bootstrap.service.tmpl", d)
	})
	if err != nil {
		return fmt.Errorf("bootstrap unit: %w", err)
	}
	p.AddFile(fileset.File{Path: Script, Mode: fileset.ModeExec, Content: script})
	if !d.Init {
		p.AddFile(fileset.File{Path: NodeName, Mode: fileset.ModePublic, Content: []byte(n.Name + "\n")})
	}
	p.AddUnit(fileset.Unit{Name: Unit, Enabled: true, Contents: string(unit)})
	return nil
}
