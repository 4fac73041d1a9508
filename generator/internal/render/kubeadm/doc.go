// Package kubeadm renders the kubeadm configuration each node runs at first
// boot, built with kubeadm's own API types and encoded by kubeadm's own
// scheme in the API version the target Kubernetes reads (v1beta3 below
// v1.31, v1beta4 from v1.31). Stage: render. It takes the plan and the
// bundle's credentials and gives each node's kubeadm-config.yaml; it must
// not import an encoder or the output.
//
// # Decision record: kubeadm's process-wide state
//
// Context. kubeadm is a command, not a library: it runs once per process,
// and its API packages keep state in package variables. Decoding any
// v1beta3 ClusterConfiguration sets a process-wide default that later
// v1beta4 conversions copy into timeouts.controlPlaneComponentHealthCheck,
// and the conversions dereference a nil Timeouts and panic. ksgen renders
// every node, both API versions and user patches in one process, in
// parallel, and must give byte-identical output whatever it did before.
//
// Decision.
//   - Documents are built from typed internal objects and converted once;
//     nothing decoded is ever printed (patches work on the JSON of the
//     render, and the patched result is decoded only to be validated).
//   - Every InitConfiguration and JoinConfiguration carries a non-nil
//     Timeouts, and pinTimeouts writes the v1beta4 timeouts ksgen chose over
//     whatever the conversion produced.
//   - A single-process test renders a v1beta3 spec, then a v1beta4 one, and
//     compares its kubeadm configs with the goldens (TestPatchedOutputAfterV1beta3).
//
// Consequences. Output does not depend on render order or on other specs
// rendered by the same process (ksgen serve, tests, benchmarks). A new
// kubeadm version that adds package state must be checked the same way:
// render both API versions in one process and compare.
package kubeadm
