package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ksgen/ksgen/generator/delivery/fleet"
	"github.com/ksgen/ksgen/generator/delivery/serve"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/output/fetch"
	"github.com/ksgen/ksgen/generator/plan"
)

// reportsFunc reads the nodes' first-boot reports from ksgen serve.
type reportsFunc func(ctx context.Context) (*fleet.View, error)

// serveReports reads ksgen serve's fleet JSON at serveURL with the operator
// token derived from b, trusting only the serve CA, as the nodes do.
func serveReports(serveURL string, b *pki.Bundle) (reportsFunc, error) {
	u, err := url.Parse(serveURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("--serve-url %q: want https://HOST:PORT, ksgen serve's address", serveURL)
	}
	tokens, err := fetch.NewTokens(b)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fetch.ServeCA(b).Cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	endpoint := strings.TrimSuffix(serveURL, "/") + serve.FleetPath(tokens.Operator()) + serve.FleetJSON
	return func(ctx context.Context) (*fleet.View, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			// The error names the URL, which holds the token.
			return nil, fmt.Errorf("ksgen serve at %s: %s", serveURL, strings.ReplaceAll(err.Error(), tokens.Operator(), "<token>"))
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("ksgen serve at %s: %s (was it started with this secrets bundle?)", serveURL, resp.Status)
		}
		var v fleet.View
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&v); err != nil {
			return nil, fmt.Errorf("ksgen serve at %s: %w", serveURL, err)
		}
		return &v, nil
	}, nil
}

// addReports gives each host its last report; a failure to read them is
// shown, not fatal: the API view stands on its own.
func (sc *statusChecker) addReports(ctx context.Context, st *clusterStatus) {
	if sc.reports == nil {
		return
	}
	v, err := sc.reports(ctx)
	if err != nil {
		st.ReportsErr = oneLine(err.Error(), 160)
		return
	}
	st.Reports = true
	byName := map[string]fleet.Node{}
	for _, n := range v.Nodes {
		byName[n.Name] = n
	}
	for i := range st.Hosts {
		h := &st.Hosts[i]
		n, ok := byName[h.Name]
		if !ok {
			n = fleet.Node{Name: h.Name, Bootstraps: h.Expected}
		}
		h.Report = &n
	}
}

// reported is a host's last report in a few words, for what is failing:
// its phase, and the error when it failed or retries.
func reported(n *fleet.Node) string {
	if n == nil {
		return ""
	}
	if n.Last == nil {
		return "; " + n.Phase()
	}
	s := "; last reported phase " + n.Phase()
	if n.Failing() {
		s += prefixed(": ", oneLine(n.LastError(), 100))
	}
	return s
}

// reportedError is the last error a host that is not Ready reported, for
// the table's DETAIL column.
func reportedError(h hostStatus) string {
	if h.Ready || h.Report == nil || !h.Report.Failing() {
		return ""
	}
	return "last error: " + oneLine(h.Report.LastError(), 100)
}

// reportsOnly is the hosts as their reports alone show them, for when the
// API never answered: nil without reports.
func (sc *statusChecker) reportsOnly(c *plan.Cluster) *clusterStatus {
	if sc.reports == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	st := &clusterStatus{Hosts: hostsOf(c, nil), APIDown: true}
	for i := range st.Hosts {
		if st.Hosts[i].Expected {
			st.Hosts[i].Detail = "registration unknown"
		}
	}
	sc.addReports(ctx, st)
	return st
}
