// Package fleet keeps what the nodes report of their first boot to ksgen
// serve (each node's latest report, its last failure and a bounded history,
// in memory only) and shows it as the fleet page and as JSON for ksgen
// status.
//
// Stage: delivery. It takes a rendered output tree and hands it to machines;
// it imports the output, the secrets bundle and the shared tables, never the
// plan, a renderer or an encoder.
package fleet
