// Package serve is ksgen serve: an HTTPS server, read-only over a rendered
// tree, that hands each node its own full payload at
// /<node>/<token>/<payload> (config.ign or user-data, whichever the node's OS
// boots; the other is 404), where token is the node's fetch
// token (delivery.Tokens). Any other node's path, a wrong token or an
// unknown node is refused with 403, so a node holding its own pointer config
// learns nothing about the others.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ksgen/ksgen/generator/delivery"
	"github.com/ksgen/ksgen/generator/pki"
	"github.com/ksgen/ksgen/generator/tree"
)

// contentTypes are the payload files served, and their types.
var contentTypes = map[string]string{
	delivery.IgnitionFile:  "application/vnd.coreos.ignition+json",
	delivery.CloudInitFile: "text/plain; charset=utf-8",
}

// Handler serves a rendered tree's payloads.
type Handler struct {
	dir    string
	tokens *delivery.Tokens
	log    *slog.Logger
}

// NewHandler serves dir, which must be a ksgen output (it has index.json).
// Files are read at each request, so a new render swapped into dir is
// served at once.
func NewHandler(dir string, tokens *delivery.Tokens, log *slog.Logger) (*Handler, error) {
	if _, err := os.Stat(filepath.Join(dir, tree.IndexFile)); err != nil {
		return nil, fmt.Errorf("serve %s: not a ksgen output: %w", dir, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{dir: dir, tokens: tokens, log: log}, nil
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
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
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
