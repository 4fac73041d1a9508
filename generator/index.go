package generator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/ksgen/ksgen/generator/plan"
)

// Index is index.json: what was rendered for every node, with sizes that
// tell whether a payload fits a cloud's user-data limit.
type Index struct {
	Cluster           string      `json:"cluster"`
	KubernetesVersion string      `json:"kubernetesVersion"`
	KubeadmAPI        string      `json:"kubeadmAPIVersion"`
	Endpoint          string      `json:"controlPlaneEndpoint"`
	LoadBalancer      string      `json:"loadBalancer"`
	Nodes             []NodeIndex `json:"nodes"`
}

// NodeIndex describes one node's output.
type NodeIndex struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	OS    string   `json:"os"`
	// Format is the payload format the node's OS boots (its osprofile's);
	// Payload is the file of Files that holds it, "" when --format left
	// that format out.
	Format  string      `json:"format"`
	Payload string      `json:"payload,omitempty"`
	MAC     string      `json:"mac,omitempty"` // from the ksgen document, for PXE exports
	Action  string      `json:"action"`
	Files   []FileIndex `json:"files"`
}

// FileIndex describes one written file. Payloads (what a machine is booted
// with) also carry their gzip and gzip+base64 sizes.
type FileIndex struct {
	Path   string `json:"path"`
	Bytes  int    `json:"bytes"`
	Gzip   int    `json:"gzipBytes,omitempty"`
	Base64 int    `json:"gzipBase64Bytes,omitempty"`
	SHA256 string `json:"sha256"`
	// Clouds measures a payload against each cloud's user-data limit.
	Clouds map[string]CloudFit `json:"clouds,omitempty"`
	// Pointer marks a cloud user-data file that holds a pointer config
	// fetching the full payload from ksgen serve.
	Pointer bool `json:"pointer,omitempty"`
}

func newIndex(c *plan.Cluster) *Index {
	return &Index{
		Cluster:           c.Name,
		KubernetesVersion: c.KubernetesVersion(),
		KubeadmAPI:        c.KubeadmAPI,
		Endpoint:          c.Endpoint.HostPort(),
		LoadBalancer:      string(c.Endpoint.Mode),
	}
}

func (idx *Index) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(idx, "", "  ")
	return append(b, '\n'), err
}

// describe indexes a file.
func describe(path string, content []byte) FileIndex {
	sum := sha256.Sum256(content)
	return FileIndex{Path: path, Bytes: len(content), SHA256: hex.EncodeToString(sum[:])}
}

// describePayload indexes a payload with its sizes and cloud fits.
func describePayload(path string, m measured) FileIndex {
	f := describe(path, m.raw)
	f.Gzip = len(m.gz)
	f.Base64 = base64.StdEncoding.EncodedLen(len(m.gz))
	f.Clouds = fits(m)
	return f
}
