// Package serve is ksgen serve: an HTTPS server, read-only over a rendered
// tree, that hands each node its own full payload at
// /<node>/<token>/<payload> (config.ign or user-data, whichever the node's OS
// boots; the other is 404), where token is the node's fetch
// token (fetch.Tokens). Any other node's path, a wrong token or an
// unknown node is refused with 403, so a node holding its own pointer config
// learns nothing about the others.
//
// Nodes POST their first-boot reports to /<node>/<token>/report, under the
// same rule; the operator reads them, with the operator token, on the fleet
// page /_fleet/<token>/ and as JSON at /_fleet/<token>/nodes.json. Reports
// live in memory only.
//
// Stage: delivery. It takes a rendered output tree and hands it to machines;
// it imports the output, the secrets bundle and the shared tables, never the
// plan, a renderer or an encoder.
package serve
