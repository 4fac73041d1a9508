package consumers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Diagnostic is one problem the YAML language server reports in a file.
type Diagnostic struct {
	Line    int // 1-based
	Message string
}

// YAMLLanguageServer opens each file in yaml-language-server, the server
// editors (VS Code's YAML extension, Neovim, Helix) run for YAML, and returns
// the diagnostics it publishes for each, by path. Every file's schema comes
// from its own "# yaml-language-server: $schema=…" lines; the schema store
// is off, so nothing is fetched from the network.
func YAMLLanguageServer(files []string) (map[string][]Diagnostic, error) {
	if err := lookPaths("npm install -g yaml-language-server; .ci/run does", "yaml-language-server"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "yaml-language-server", "--stdio")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	c := &lspConn{w: stdin, r: textproto.NewReader(bufio.NewReader(stdout))}

	uris := map[string]string{} // uri -> path
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		uris["file://"+abs] = f
	}
	settings := map[string]any{"validate": true, "schemaStore": map[string]any{"enable": false}, "schemas": map[string]any{}}
	dir, _ := filepath.Abs(filepath.Dir(files[0]))
	if err := c.send(map[string]any{"id": 1, "method": "initialize", "params": map[string]any{
		"processId": os.Getpid(), "rootUri": "file://" + dir,
		"capabilities": map[string]any{"workspace": map[string]any{"configuration": true}},
	}}); err != nil {
		return nil, err
	}
	out := map[string][]Diagnostic{}
	for len(out) < len(files) {
		msg, err := c.receive()
		if err != nil {
			return nil, fmt.Errorf("yaml-language-server: %w (diagnostics for %d of %d files)", err, len(out), len(files))
		}
		switch {
		case msg.Method == "workspace/configuration":
			var p struct{ Items []struct{ Section string } }
			_ = json.Unmarshal(msg.Params, &p)
			result := make([]any, len(p.Items))
			for i, item := range p.Items {
				if item.Section == "yaml" {
					result[i] = settings
				}
			}
			err = c.send(map[string]any{"id": msg.ID, "result": result})
		case msg.Method != "" && msg.ID != nil:
			err = c.send(map[string]any{"id": msg.ID, "result": nil})
		case string(msg.ID) == "1":
			err = c.initialized(settings, uris)
		case msg.Method == "textDocument/publishDiagnostics":
			var p struct {
				URI         string
				Diagnostics []struct {
					Message string
					Range   struct{ Start struct{ Line int } }
				}
			}
			if err := json.Unmarshal(msg.Params, &p); err != nil {
				return nil, err
			}
			path, ok := uris[p.URI]
			if _, done := out[path]; !ok || done {
				continue
			}
			out[path] = []Diagnostic{}
			for _, d := range p.Diagnostics {
				out[path] = append(out[path], Diagnostic{Line: d.Range.Start.Line + 1, Message: d.Message})
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lspConn speaks the language server protocol's framing: a Content-Length
// header, a blank line, then a JSON-RPC message.
type lspConn struct {
	w io.Writer
	r *textproto.Reader
}

type lspMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

func (c *lspConn) send(msg map[string]any) error {
	msg["jsonrpc"] = "2.0"
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.w, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return err
}

func (c *lspConn) receive() (*lspMessage, error) {
	header, err := c.r.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(header.Get("Content-Length"))
	if err != nil || n <= 0 {
		return nil, errors.New("a message without Content-Length")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r.R, body); err != nil {
		return nil, err
	}
	var msg lspMessage
	return &msg, json.Unmarshal(body, &msg)
}

// initialized completes the handshake and opens every file.
func (c *lspConn) initialized(settings map[string]any, uris map[string]string) error {
	if err := c.send(map[string]any{"method": "initialized", "params": map[string]any{}}); err != nil {
		return err
	}
	if err := c.send(map[string]any{"method": "workspace/didChangeConfiguration", "params": map[string]any{"settings": map[string]any{"yaml": settings}}}); err != nil {
		return err
	}
	for uri, path := range uris {
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := c.send(map[string]any{"method": "textDocument/didOpen", "params": map[string]any{
			"textDocument": map[string]any{"uri": uri, "languageId": "yaml", "version": 1, "text": string(text)},
		}}); err != nil {
			return err
		}
	}
	return nil
}
