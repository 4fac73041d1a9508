// Package matchbox exports a rendered tree for PXE: matchbox groups and
// profiles (matchbox's documented JSON), the Ignition files in matchbox's
// data layout, and a stand-alone iPXE script per host.
//
// Stage: delivery. It takes a rendered output tree and hands it to machines;
// it imports the output, the secrets bundle and the shared tables, never the
// plan, a renderer or an encoder.
package matchbox
