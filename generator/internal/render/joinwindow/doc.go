// Package joinwindow keeps the secrets bundle's bootstrap token valid for as
// long as the ksgen document's join window says, so that a node rendered
// from the bundle joins whenever it boots. Every control plane runs a keeper
// from a systemd timer; the cluster's current token lives in the Secret
// kube-system/ksgen-join-token, which the keepers seed from the bundle's
// token and the operator replaces to rotate it (StateManifest).
//
// Stage: render. It takes the plan (and the bundle's keys) and adds files and
// units to a node's fileset.Set; it must not import an encoder, the output or
// delivery, nor the raw spec (generator/layers_test.go checks).
package joinwindow
