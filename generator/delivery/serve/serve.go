package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ksgen/ksgen/generator/delivery/fleet"
	"github.com/ksgen/ksgen/generator/input/pki"
	"github.com/ksgen/ksgen/generator/output/fetch"
	"github.com/ksgen/ksgen/generator/output/tree"
)

// contentTypes are the payload files served, and their types.
var contentTypes = map[string]string{
	fetch.IgnitionFile:  "application/vnd.coreos.ignition+json",
	fetch.CloudInitFile: "text/plain; charset=utf-8",
}

// FleetPrefix is the first path segment of the fleet page: no node is
// called that, since node names are DNS names, which have no "_".
const FleetPrefix = "_fleet"

// FleetJSON is the fleet page's data as JSON (fleet.View).
const FleetJSON = "nodes.json"

// FleetPath is the fleet page's path for the operator token.
func FleetPath(token string) string { return "/" + FleetPrefix + "/" + token + "/" }

// Handler serves a rendered tree's payloads, takes the nodes' reports and
// shows them.
type Handler struct {
	dir    string
	tokens *fetch.Tokens
	log    *slog.Logger
	fleet  *fleet.Store
}

// NewHandler serves dir, which must be a ksgen output (it has index.json).
// Files are read at each request, so a new render swapped into dir is
// served at once.
func NewHandler(dir string, tokens *fetch.Tokens, log *slog.Logger) (*Handler, error) {
	if _, err := os.Stat(filepath.Join(dir, tree.IndexFile)); err != nil {
		return nil, fmt.Errorf("serve %s: not a ksgen output: %w", dir, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{dir: dir, tokens: tokens, log: log, fleet: fleet.NewStore(nil)}, nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// ServeHTTP serves one payload and logs the access: method, path with the
// token masked, node, status and duration.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	node, logPath := h.serve(sw, r)
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "access",
		slog.String("method", r.Method), slog.String("path", logPath), slog.String("node", node),
		slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)),
		slog.String("remote", r.RemoteAddr))
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (node, logPath string) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) != 3 {
		http.Error(w, "forbidden", http.StatusForbidden)
		return "", "(not a payload path)"
	}
	node, token, file := parts[0], parts[1], parts[2]
	logPath = "/" + node + "/<token>/" + file
	if node == FleetPrefix {
		h.fleetPage(w, r, token, file)
		return "", logPath
	}
	if file == fetch.ReportFile {
		h.report(w, r, node, token)
		return node, logPath
	}
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return node, logPath
	}
	ctype, ok := contentTypes[file]
	if !ok || node == "" || node == "." || node == ".." || !h.tokens.Valid(node, token) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return node, logPath
	}
	f, err := os.OpenInRoot(h.dir, node+"/"+file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(w, "not found", http.StatusNotFound)
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return node, logPath
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.Error(w, "not found", http.StatusNotFound)
		return node, logPath
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, file, st.ModTime(), f)
	return node, logPath
}

// allow answers 405 and returns false unless r's method is one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// report records a node's first-boot report. The token must be that
// node's; the body is bounded.
func (h *Handler) report(w http.ResponseWriter, r *http.Request, node, token string) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	if node == "" || !h.tokens.Valid(node, token) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, fleet.MaxBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "report too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "bad report: "+err.Error(), http.StatusBadRequest)
		}
		return
	}
	rep, err := fleet.ParseReport(r.PostForm)
	if err != nil {
		http.Error(w, "bad report: "+err.Error(), http.StatusBadRequest)
		return
	}
	h.fleet.Add(node, rep)
	w.WriteHeader(http.StatusNoContent)
}

// fleetPage serves the fleet page ("") or its JSON to the operator.
func (h *Handler) fleetPage(w http.ResponseWriter, r *http.Request, token, file string) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	if !h.tokens.ValidOperator(token) || (file != "" && file != FleetJSON) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	cluster, hosts, err := readHosts(h.dir)
	if err != nil {
		h.log.Error("fleet page", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := h.fleet.View(cluster, hosts)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if file == FleetJSON {
		v.History = h.fleet.History()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
		return
	}
	// Nothing but the page's inline style may load or run.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b bytes.Buffer
	if err := fleet.WritePage(&b, v, time.Now()); err != nil {
		h.log.Error("fleet page", "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b.Bytes())
}

// readHosts reads the rendered cluster's name and hosts from index.json,
// at each look, so a new render swapped into dir shows at once.
func readHosts(dir string) (string, []fleet.Host, error) {
	raw, err := os.ReadFile(filepath.Join(dir, tree.IndexFile))
	if err != nil {
		return "", nil, err
	}
	var idx struct {
		Cluster string       `json:"cluster"`
		Nodes   []fleet.Host `json:"nodes"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return "", nil, fmt.Errorf("%s: %w", tree.IndexFile, err)
	}
	return idx.Cluster, idx.Nodes, nil
}

// Server is ksgen serve's HTTPS server.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen binds addr and prepares TLS with cert; Serve then serves h.
func Listen(addr string, cert pki.KeyPair, h http.Handler) (*Server, error) {
	pair, err := tls.X509KeyPair(cert.Cert, cert.Key)
	if err != nil {
		return nil, fmt.Errorf("serve certificate: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	return &Server{
		ln: tls.NewListener(ln, tlsConfig),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          nil,
		},
	}, nil
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx is done, then shuts down gracefully: it stops
// accepting, lets requests in flight finish for up to grace, and returns.
func (s *Server) Serve(ctx context.Context, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
