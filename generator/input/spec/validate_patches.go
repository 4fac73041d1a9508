package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// jsonPatchOps are RFC 6902's operations.
var jsonPatchOps = []string{"add", "remove", "replace", "move", "copy", "test"}

// kubeadmPatches checks the form of every kubeadm patch; whether it applies
// to the rendered documents is checked where they are rendered (kubeadm.Check).
func (v *validator) kubeadmPatches() {
	c := v.s.Config.Spec
	const p = "ksgen.spec"
	v.patchList(p+".kubeadmPatches", c.KubeadmPatches, "")
	for _, role := range slices.Sorted(maps.Keys(c.Roles)) {
		list := c.Roles[role].KubeadmPatches
		lp := p + ".roles." + role + ".kubeadmPatches"
		if len(list) > 0 && !slices.Contains(PatchRoles, role) {
			v.errorf(lp, ErrUnsupported, "kubeadmPatches apply to the %s roles only; role %q runs no kubeadm of its own", strings.Join(PatchRoles, " and "), role)
			continue
		}
		v.patchList(lp, list, "role "+role)
	}
	for _, host := range slices.Sorted(maps.Keys(c.Hosts)) {
		v.patchList(p+".hosts."+host+".kubeadmPatches", c.Hosts[host].KubeadmPatches, "host "+host)
	}
}

// patchList checks one list; level is "" for the cluster's, else the role
// or host it belongs to.
func (v *validator) patchList(path string, list []KubeadmPatch, level string) {
	for i, kp := range list {
		pp := fmt.Sprintf("%s[%d]", path, i)
		kind := kp.Target.Kind
		switch {
		case kind == "":
			v.errorf(pp+".target.kind", ErrRequired, "target.kind is required: one of %s", strings.Join(PatchKinds, ", "))
		case !slices.Contains(PatchKinds, kind):
			v.errorf(pp+".target.kind", ErrInvalidValue, "target.kind %q: want one of %s", kind, strings.Join(PatchKinds, ", "))
		case level != "" && ClusterWideKind(kind):
			v.errorf(pp+".target.kind", ErrUnsupported, "%s is cluster-wide (kubeadm uploads it at init and joining nodes read it from the cluster): patch it in ksgen.spec.kubeadmPatches, not for %s", kind, level)
		}
		_, hasPatch := v.s.lines[pp+".patch"]
		hasPatch = hasPatch || kp.Patch != nil
		_, hasJSON := v.s.lines[pp+".jsonPatch"]
		hasJSON = hasJSON || kp.JSONPatch != nil
		switch {
		case hasPatch && hasJSON:
			v.errorf(pp+".jsonPatch", ErrConflict, "give either patch (strategic merge) or jsonPatch (RFC 6902), not both")
		case !hasPatch && !hasJSON:
			v.errorf(pp, ErrRequired, "a kubeadm patch needs patch (strategic merge) or jsonPatch (RFC 6902)")
		case hasPatch:
			if len(kp.Patch) == 0 {
				v.errorf(pp+".patch", ErrRequired, "patch is empty")
			}
			for _, k := range []string{"apiVersion", "kind"} {
				if _, ok := kp.Patch[k]; ok {
					v.errorf(pp+".patch."+k, ErrInvalidValue, "a patch must not set %s: target.kind picks the document, ksgen its API version", k)
				}
			}
		default:
			if len(kp.JSONPatch) == 0 {
				v.errorf(pp+".jsonPatch", ErrRequired, "jsonPatch is empty")
			}
			for j, op := range kp.JSONPatch {
				v.jsonPatchOp(fmt.Sprintf("%s.jsonPatch[%d]", pp, j), op)
			}
		}
	}
}

func (v *validator) jsonPatchOp(path string, op JSONPatchOp) {
	if !slices.Contains(jsonPatchOps, op.Op) {
		v.errorf(path+".op", ErrInvalidValue, "op %q: want one of %s", op.Op, strings.Join(jsonPatchOps, ", "))
		return
	}
	if !strings.HasPrefix(op.Path, "/") {
		v.errorf(path+".path", ErrInvalidValue, "path %q must be a JSON pointer starting with /", op.Path)
	}
	if op.Path == "/apiVersion" || op.Path == "/kind" {
		v.errorf(path+".path", ErrInvalidValue, "a patch must not change %s: target.kind picks the document, ksgen its API version", op.Path[1:])
	}
	switch op.Op {
	case "move", "copy":
		if !strings.HasPrefix(op.From, "/") {
			v.errorf(path+".from", ErrRequired, "op %s needs from, a JSON pointer starting with /", op.Op)
		}
	case "add", "replace", "test":
		if _, ok := v.s.lines[path+".value"]; !ok && op.Value == nil {
			v.errorf(path, ErrRequired, "op %s needs a value", op.Op)
		}
	}
}
