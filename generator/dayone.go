package generator

import (
	"github.com/ksgen/ksgen/generator/internal/render/addons"
	"github.com/ksgen/ksgen/generator/internal/render/joinwindow"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
)

// The few render-stage facts the CLI needs besides a whole render; the
// renderers themselves stay internal.

// Images is every image the cluster's nodes pull: what `ksgen images list`
// prints and the Packer bake caches.
func Images(c *plan.Cluster) images.Cluster { return addons.Images(c) }

const (
	// JoinTokenPath is where a control plane keeps the bootstrap token its
	// join window renews.
	JoinTokenPath = joinwindow.TokenPath
	// JoinWindowSecret is the kube-system Secret recording the join window's
	// token.
	JoinWindowSecret = joinwindow.StateSecret
)

// JoinWindowManifest is the Secret that hands a rotated bootstrap token to a
// running cluster's join window.
func JoinWindowManifest(token string) []byte { return joinwindow.StateManifest(token) }
