// Package clouds is the one table of the clouds whose user-data ksgen fits
// payloads to: each cloud's documented limit and how its API takes
// user-data. The spec's budget.cloud, render --cloud and index.json's fits
// all read it.
//
// A shared table: any stage may import it; it imports only other tables.
package clouds
