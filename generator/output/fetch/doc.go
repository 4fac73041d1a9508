// Package delivery is how payloads reach machines that cannot take them
// whole: per-node fetch tokens, the certificate ksgen serve presents, and the
// small pointer configs a machine boots with to fetch its full payload.
//
// Stage: output. It takes rendered and encoded nodes and gives files on disk;
// it must not import delivery.
package fetch
