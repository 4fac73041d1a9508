package joinwindow

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// Paths, units and cluster objects of the keeper.
const (
	Script  = firstboot.Dir + "/join-window"
	Service = "ksgen-join-window.service"
	Timer   = "ksgen-join-window.timer"
	// TokenPath is a control plane's copy of the bundle's token (0600),
	// which seeds the state Secret.
	TokenPath = "/etc/ksgen/join-token"
	// StateSecret, in kube-system, holds the cluster's current token under
	// the key "token".
	StateSecret = "ksgen-join-token"
	// Label marks the bootstrap-token Secrets the keepers manage.
	Label = "ksgen.io/join-token"
	// OpenedAnnotation plus a token ID is the state Secret's annotation that
	// records when the token was first installed, where a bounded window starts.
	OpenedAnnotation = "ksgen.io/opened-"
	// Description and Groups are those kubeadm init gives the bundle's token.
	Description = "ksgen: joins the nodes rendered with this cluster's secrets bundle"
	Groups      = "system:bootstrappers:kubeadm:default-node-token"
	kubeconfig  = "/etc/kubernetes/admin.conf"
)

// Keeps reports whether the node runs the keeper (and holds TokenPath):
// every control plane.
func Keeps(n *plan.Node) bool { return n.ControlPlane && n.Action != plan.None }

// Render adds the keeper, its service and its timer to control planes.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if !Keeps(n) {
		return nil
	}
	binDir := images.BinDir(n.OS)
	f, err := plan.Shared(c, sharedKey{BinDir: binDir}, func(k sharedKey) (rendered, error) { return render(c, k.BinDir) })
	if err != nil {
		return err
	}
	p.AddFile(fileset.File{Path: Script, Mode: fileset.ModeExec, Content: f.script})
	p.AddUnit(fileset.Unit{Name: Service, Contents: string(f.service)})
	p.AddUnit(fileset.Unit{Name: Timer, Enabled: true, Contents: string(f.timer)})
	return nil
}

// TokenFile is a control plane's copy of the bundle's token.
func TokenFile(token string) fileset.File {
	return fileset.File{Path: TokenPath, Mode: fileset.ModeSecret, Content: []byte(token)}
}

// StateManifest is the Secret that makes token the cluster's join token:
// applied to a running cluster (kubectl apply --server-side), the keepers
// create the token and delete the one it replaces within a minute.
func StateManifest(token string) []byte {
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: kube-system
type: Opaque
data:
  token: %s
`, StateSecret, base64.StdEncoding.EncodeToString([]byte(token))))
}

type rendered struct{ script, service, timer []byte }

// sharedKey is what render reads beyond the cluster.
type sharedKey struct{ BinDir string }

func render(c *plan.Cluster, binDir string) (rendered, error) {
	var r rendered
	var err error
	window, always, ttl := c.JoinWindow, c.JoinAlways, c.BootstrapTokenTTL
	data := templates.JoinWindow{
		BinDir:           binDir,
		Kubeconfig:       kubeconfig,
		TokenFile:        TokenPath,
		StateSecret:      StateSecret,
		Label:            Label,
		OpenedAnnotation: OpenedAnnotation,
		Description:      Description,
		Groups:           Groups,
		WindowSeconds:    int64(window / time.Second),
		TTLSeconds:       int64(ttl / time.Second),
	}
	if always {
		data.WindowSeconds = -1
	}
	if r.script, err = templates.Execute("join-window.sh.tmpl", data); err != nil {
		return r, fmt.Errorf("join-window script: %w", err)
	}
	unit := templates.JoinWindowUnit{Script: Script, Kubeconfig: kubeconfig, Service: Service}
	if r.service, err = templates.Execute("ksgen-join-window.service.tmpl", unit); err != nil {
		return r, fmt.Errorf("%s: %w", Service, err)
	}
	if r.timer, err = templates.Execute("ksgen-join-window.timer.tmpl", unit); err != nil {
		return r, fmt.Errorf("%s: %w", Timer, err)
	}
	return r, nil
}
