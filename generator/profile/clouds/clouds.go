package clouds

import (
	"encoding/base64"
	"maps"
	"slices"
)

// Limit is a user-data size limit, and how the cloud's API takes user-data.
type Limit struct {
	Bytes int
	// AfterBase64 says the limit applies to the base64 text the API takes;
	// otherwise to the bytes before encoding.
	AfterBase64 bool
	// Base64 says the API takes user-data as base64 text.
	Base64 bool
	// Text says the value must be text, so cloud-init user-data goes
	// uncompressed (GCE metadata values are strings).
	Text bool
}

// Limits are the documented user-data limits: AWS EC2 16 KiB "in raw
// form, before it is base64-encoded"; Azure custom data 64 KiB of base64;
// OpenStack Nova 65535 bytes of base64; GCE metadata values 256 KiB of text.
var Limits = map[string]Limit{
	"aws":       {Bytes: 16384, Base64: true},
	"azure":     {Bytes: 65536, AfterBase64: true, Base64: true},
	"openstack": {Bytes: 65535, AfterBase64: true, Base64: true},
	"gcp":       {Bytes: 262144, Text: true},
}

// Names lists the clouds of Limits, sorted.
var Names = slices.Sorted(maps.Keys(Limits))

// Counted is the size the cloud counts for n bytes of user-data it receives.
func (l Limit) Counted(n int) int {
	if l.AfterBase64 {
		return base64.StdEncoding.EncodedLen(n)
	}
	return n
}

// Encode is what to pass to the cloud's API for the user-data b: base64
// when the API takes base64.
func (l Limit) Encode(b []byte) []byte {
	if l.Base64 {
		return []byte(base64.StdEncoding.EncodeToString(b))
	}
	return b
}
