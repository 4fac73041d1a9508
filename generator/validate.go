package generator

import (
	"errors"
	"fmt"

	"github.com/ksgen/ksgen/generator/input/spec"
	"github.com/ksgen/ksgen/generator/internal/render/etcd"
	"github.com/ksgen/ksgen/generator/internal/render/kubeadm"
	"github.com/ksgen/ksgen/generator/plan"
)

// Validate is ksgen's one full validation. It completes r, the report of
// spec.Load, with what needs the plan: the kubeadm configs every node would
// get (patches included) and the files the spec names (external etcd
// certificates). ksgen validate, ksgen render, GenerateTo and the invalid
// corpus all call it, so they agree on what is wrong and on what is only a
// warning. It returns the plan once spec.Load found no errors; whether the
// findings it adds stop the run is r.Err(strict)'s to say.
func Validate(s *spec.Spec, r *spec.Report) (*plan.Cluster, error) {
	if s == nil || r.HasErrors(false) {
		return nil, r.Err(false)
	}
	c, err := plan.New(s)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	r.Entries = append(r.Entries, kubeadm.Check(c)...)
	if _, err := etcd.ReadExternal(s); err != nil {
		var e *spec.EntryError
		if !errors.As(err, &e) {
			return nil, err
		}
		r.Entries = append(r.Entries, e.Entry)
	}
	return c, nil
}
