package spec

import (
	"fmt"
	"path"
	"regexp"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ksgen/ksgen/images"
)

// StorageSettings decides the cluster's default StorageClass. KubeKey
// installs OpenEBS local PV as the default class when KubeSphere is enabled
// (or with kk's --with-local-storage) and skips it when a default class
// already exists; ksgen decides the same from the spec, before any machine
// boots.
type StorageSettings struct {
	// OpenEBS installs OpenEBS local PV (hostpath, class "local") at first
	// boot. Absent: on when KubeSphere is enabled, as with KubeKey.
	OpenEBS Toggle `json:"openebs,omitempty"`
	// DefaultStorageClass names the StorageClass that an addon (a CSI
	// driver from spec.addons) creates and marks default. OpenEBS's class is
	// then installed without the default annotation, so the cluster never
	// has two defaults.
	DefaultStorageClass string `json:"defaultStorageClass,omitempty"`
}

// HostResources declares a machine's size in the ksgen document; validate
// compares it with what KubeSphere's enabled components request.
type HostResources struct {
	CPU    string `json:"cpu,omitempty"`    // cores: 8, 7500m
	Memory string `json:"memory,omitempty"` // 16Gi, 16G
}

// OpenEBSEnabled reports whether the init node installs OpenEBS local PV.
func (s *Spec) OpenEBSEnabled() bool {
	if e := s.Config.Spec.Storage.OpenEBS.Enabled; e != nil {
		return *e
	}
	return s.KubeSphere != nil
}

// OpenEBSDefault reports whether OpenEBS's class is the default one: it is
// installed and the ksgen document names no other default.
func (s *Spec) OpenEBSDefault() bool {
	d := s.Config.Spec.Storage.DefaultStorageClass
	return s.OpenEBSEnabled() && (d == "" || d == images.OpenEBSClass)
}

// hasStorageClass reports whether a PersistentVolumeClaim for class name
// ("" = the default class) can bind in the cluster the spec describes.
// ksgen cannot look inside addons' charts, so a class named explicitly is
// assumed to come from an addon when the spec has any.
func (s *Spec) hasStorageClass(name string) bool {
	def := s.Config.Spec.Storage.DefaultStorageClass
	switch {
	case name == "":
		return s.OpenEBSDefault() || def != ""
	case name == images.OpenEBSClass:
		return s.OpenEBSEnabled()
	case name == def:
		return true
	}
	return len(s.Cluster.Spec.Addons) > 0
}

// openEBSPath is what the OpenEBS base path may hold: it is written into a
// manifest by sed and into the StorageClass's config.
var openEBSPath = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)

// storage checks the storage settings of both documents.
func (v *validator) storage() {
	bp := v.s.Cluster.Spec.Storage.OpenEBS.BasePath
	if !openEBSPath.MatchString(bp) || path.Clean(bp) != bp || bp == "/" {
		v.errorf("spec.storage.openebs.basePath", ErrInvalidValue, "basePath %q must be an absolute, clean path other than / (letters, digits, . _ - /)", bp)
	}
	st := v.s.Config.Spec.Storage
	if st.DefaultStorageClass != "" {
		if errs := validation.IsDNS1123Subdomain(st.DefaultStorageClass); len(errs) > 0 {
			v.errorf("ksgen.spec.storage.defaultStorageClass", ErrInvalidValue, "defaultStorageClass %q is not a StorageClass name: %s", st.DefaultStorageClass, errs[0])
		}
		if st.DefaultStorageClass != images.OpenEBSClass && len(v.s.Cluster.Spec.Addons) == 0 {
			v.warnf("ksgen.spec.storage.defaultStorageClass", ErrNoStorage, "defaultStorageClass %q: spec.addons is empty, so nothing creates it", st.DefaultStorageClass)
		}
		if st.DefaultStorageClass == images.OpenEBSClass && !v.s.OpenEBSEnabled() {
			v.errorf("ksgen.spec.storage.defaultStorageClass", ErrConflict, "defaultStorageClass %q is OpenEBS's class, but OpenEBS is disabled", st.DefaultStorageClass)
		}
	}
}

// quantity parses a declared size; bad values are errors at their path.
func (v *validator) quantity(p, value string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(value)
	if err != nil || q.Sign() <= 0 {
		v.errorf(p, ErrInvalidValue, "%q is not a positive quantity like 8, 500m or 16Gi", value)
		return resource.Quantity{}, false
	}
	return q, true
}

// hostResources validates a declared size.
func (v *validator) hostResources(p string, r *HostResources) {
	if r == nil {
		return
	}
	if r.CPU == "" || r.Memory == "" {
		v.errorf(p, ErrRequired, "resources needs both cpu and memory")
	}
	if r.CPU != "" {
		v.quantity(p+".cpu", r.CPU)
	}
	if r.Memory != "" {
		v.quantity(p+".memory", r.Memory)
	}
}

// HostSize returns a host's declared size (its own, else its roles'), and
// false when the ksgen document declares none.
func (s *Spec) HostSize(host string) (cpu, memory resource.Quantity, ok bool) {
	r := s.Config.Spec.Hosts[host].Resources
	if r == nil {
		for _, role := range []string{RoleWorker, RoleControlPlane, RoleMaster, RoleEtcd} {
			in := role
			if role == RoleMaster {
				in = RoleControlPlane // s.Roles folds master into control-plane
			}
			if s.hasRole(host, in) && s.Config.Spec.Roles[role].Resources != nil {
				r = s.Config.Spec.Roles[role].Resources
				break
			}
		}
	}
	if r == nil {
		return cpu, memory, false
	}
	c, err1 := resource.ParseQuantity(r.CPU)
	m, err2 := resource.ParseQuantity(r.Memory)
	if err1 != nil || err2 != nil {
		return cpu, memory, false
	}
	return c, m, true
}

func (s *Spec) hasRole(host, role string) bool { return slices.Contains(s.Roles[role], host) }

func formatCPU(q resource.Quantity) string {
	return fmt.Sprintf("%.2f", float64(q.MilliValue())/1000)
}

func formatMemory(q resource.Quantity) string {
	return fmt.Sprintf("%.1f GiB", float64(q.Value())/(1<<30))
}
