// Package manifest prints the typed Kubernetes objects renderers build
// (static pods, the NodeLocalDNS objects) in one layout.
//
// Stage: render. It takes typed objects and gives their YAML; it must not
// import an encoder, the output or delivery.
package manifest
