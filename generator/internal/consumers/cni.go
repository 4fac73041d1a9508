package consumers

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ksgen/ksgen/images"
)

// The CNI and DNS programs the booted end-to-end cluster runs, built from
// the Go module proxy (../shared/e2e-notes/nspawn/README.md, "Building the
// CNI and DNS images offline"):
//   - flanneld at images.FlannelVersion, the version of the kube-flannel.yml
//     ksgen applies;
//   - the flannel CNI plugin and bridge, portmap, loopback and host-local
//     from containernetworking/plugins v0.9.1 (KubeKey's default CNI
//     plugins version; github.com/flannel-io/cni-plugin, which carries the
//     flannel plugin since, is not served here);
//   - CoreDNS at the tag kubeadm deploys.
const (
	CNIPluginsVersion = "v0.9.1"
	CNIBuildTimeout   = 20 * time.Minute
)

// cniPlugins are the plugins CNIBinaries builds, by their package under
// containernetworking/plugins: flannel's conflist delegates to bridge (with
// host-local IPAM) and chains portmap; the runtime adds loopback.
var cniPlugins = map[string]string{
	"bridge": "plugins/main/bridge", "flannel": "plugins/meta/flannel", "host-local": "plugins/ipam/host-local",
	"loopback": "plugins/main/loopback", "portmap": "plugins/meta/portmap",
}

// CNI is what the booted cluster's network images carry.
type CNI struct {
	Flanneld    string
	InstallConf string // flannel's init container that writes the conflist
	Plugins     string // directory of the built plugins, by name
}

var cniBinaries = sync.OnceValues(buildCNI)

// CNIBinaries returns flanneld and the CNI plugins, built at most once per
// process and kept in the user cache directory like EtcdBinaries.
func CNIBinaries() (CNI, error) { return cniBinaries() }

func buildCNI() (CNI, error) {
	flannel, err := buildFlannel()
	if err != nil {
		return CNI{}, err
	}
	plugins, err := buildCNIPlugins()
	return CNI{Flanneld: filepath.Join(flannel, "flanneld"), InstallConf: filepath.Join(flannel, "install-conf"), Plugins: plugins}, err
}

// tencentStub is a compile-only stand-in for the tencentcloud VPC SDK
// package flanneld's tencentvpc backend imports: the module is not served
// here, and the backend is only ever chosen on Tencent Cloud. Every call
// fails, so flanneld's behaviour with the vxlan backend is unchanged.
const tencentStub = `package v20170312

import "errors"

type Filter struct {
	Name   *string
	Values []*string
}

type Route struct {
	DestinationCidrBlock, GatewayType, GatewayId, RouteType *string
	Enabled                                                 *bool
	RouteId                                                 *uint64
}

type RouteTable struct {
	RouteTableId *string
	RouteSet     []*Route
}

type DescribeRouteTablesRequest struct{ Filters []*Filter }

type DescribeRouteTablesResponse struct {
	Response *struct{ RouteTableSet []*RouteTable }
}

type RoutesRequest struct {
	RouteTableId *string
	Routes       []*Route
}

type Client struct{}

var errStub = errors.New("tencentcloud VPC: compile-only stub")

func NewClientWithSecretId(id, key, region string) (*Client, error) { return &Client{}, nil }
func NewDescribeRouteTablesRequest() *DescribeRouteTablesRequest { return &DescribeRouteTablesRequest{} }
func NewCreateRoutesRequest() *RoutesRequest                      { return &RoutesRequest{} }
func NewDeleteRoutesRequest() *RoutesRequest                      { return &RoutesRequest{} }

func (*Client) DescribeRouteTables(*DescribeRouteTablesRequest) (*DescribeRouteTablesResponse, error) {
	return nil, errStub
}
func (*Client) CreateRoutes(*RoutesRequest) (any, error) { return nil, errStub }
func (*Client) DeleteRoutes(*RoutesRequest) (any, error) { return nil, errStub }
`

// buildFlannel builds flanneld and install-conf, the two programs of
// flannel's image (its images/Dockerfile), into one directory.
func buildFlannel() (string, error) {
	const mod = "github.com/flannel-io/flannel"
	const vpc = "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc"
	v := images.FlannelVersion
	// flanneld's udp backend uses cgo: it links libc only.
	return cachedGoBuild("flannel-"+v, v+" tencent-stub-1", []string{"flanneld", "install-conf"}, CNIBuildTimeout, []string{"CGO_ENABLED=1"}, func(run goRun, bin string) error {
		if _, err := run("mod", "init", "ksgen.test/flanneld"); err != nil {
			return fmt.Errorf("build flanneld: %w", err)
		}
		stub := filepath.Join(filepath.Dir(bin), "stub/vpc")
		if err := os.MkdirAll(filepath.Join(stub, "v20170312"), 0o755); err != nil {
			return err
		}
		for f, body := range map[string]string{"go.mod": "module " + vpc + "\n\ngo 1.21\n", "v20170312/stub.go": tencentStub} {
			if err := os.WriteFile(filepath.Join(stub, f), []byte(body), 0o644); err != nil {
				return err
			}
		}
		if _, err := run("mod", "edit", "-replace", vpc+"="+stub); err != nil {
			return fmt.Errorf("build flanneld: %w", err)
		}
		// The version string flannel's Makefile sets; -X applies to both.
		ldflags := "-s -w -X " + mod + "/pkg/version.Version=" + v
		return modBuild(run, bin, []string{mod + "@" + v}, map[string]string{"flanneld": mod, "install-conf": mod + "/cmd/install_conf"}, ldflags)
	})
}

func buildCNIPlugins() (string, error) {
	const mod = "github.com/containernetworking/plugins"
	names := slices.Sorted(maps.Keys(cniPlugins))
	return cachedGoBuild("cni-plugins-"+CNIPluginsVersion, CNIPluginsVersion, names, CNIBuildTimeout, nil, func(run goRun, bin string) error {
		programs := map[string]string{}
		for name, pkg := range cniPlugins {
			programs[name] = mod + "/" + pkg
		}
		return modBuild(run, bin, []string{mod + "@" + CNIPluginsVersion}, programs, "-s -w")
	})
}

// CoreDNSBinary returns CoreDNS at version (the tag kubeadm deploys, e.g.
// v1.14.2), built once per machine and kept in the user cache directory.
func CoreDNSBinary(version string) (string, error) {
	const mod = "github.com/coredns/coredns"
	dir, err := cachedGoBuild("coredns-"+version, version, []string{"coredns"}, CNIBuildTimeout, nil, func(run goRun, bin string) error {
		return modBuild(run, bin, []string{mod + "@" + version}, map[string]string{"coredns": mod}, "-s -w")
	})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "coredns"), nil
}
