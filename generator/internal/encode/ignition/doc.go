// Package ignition encodes a node payload as Butane source and the Ignition
// config Butane translates it to, for Fedora CoreOS (Butane fcos 1.6.0 →
// Ignition 3.5.0) and Flatcar (Butane flatcar 1.1.0 → Ignition 3.4.0).
//
// Encode is pure and deterministic: the same payload and options give the same
// bytes. It builds Butane's own Go types, translates them with the Butane
// library, treats every report entry (warning or error) as an error, merges an
// optional user snippet as the child of the generated config (as
// terraform-provider-ct does), and parses everything it emits with Ignition's
// own parser.
//
// Stage: encode. It takes one node's fileset.Set and gives that node's payload
// bytes; of ksgen it imports only the file set.
package ignition
