package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ksgen/ksgen/generator"
	"github.com/ksgen/ksgen/generator/profile/osprofile"
)

// printRenderSummary prints one row per rendered node (host, roles, OS,
// kubeadm action, the payload its OS boots, relative to the output
// directory, its size and the clouds whose user-data limit it fits) from the render's index.json, then how to boot
// the machines and see them come up.
func printRenderSummary(w io.Writer, f *renderFlags, rawIndex []byte) error {
	var idx generator.Index
	if err := json.Unmarshal(rawIndex, &idx); err != nil {
		return fmt.Errorf("summary: read index.json: %w", err)
	}
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	// Payload paths are relative to f.out, which the line above names, so
	// the table does not widen with the output directory's path.
	fmt.Fprintln(tw, "\nHOST\tROLES\tOS\tACTION\tPAYLOAD\tSIZE\tFITS USER-DATA OF")
	pointers, payloads, pxe := false, false, false
	for _, n := range idx.Nodes {
		path, size, fits := "-", "-", "-"
		var file *generator.FileIndex
		for i := range n.Files {
			switch fi := &n.Files[i]; {
			case n.Payload != "" && fi.Path == n.Payload:
				file = fi
			case strings.HasSuffix(fi.Path, ".pointer"):
				pointers = true
			}
		}
		if file != nil {
			payloads = true
			pxe = pxe || osprofile.Of(n.OS).PXE
			path = n.Name + "/" + file.Path
			size = humanBytes(file.Bytes)
			var ok []string
			for _, cloud := range slices.Sorted(maps.Keys(file.Clouds)) {
				if file.Clouds[cloud].Fits {
					ok = append(ok, cloud)
				}
			}
			fits = strings.Join(ok, ",")
			if fits == "" {
				fits = "none: serve it (--serve-url)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, strings.Join(n.Roles, ","), n.OS, n.Action, path, size, fits)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := io.WriteString(w, trimLines(table.String())); err != nil {
		return err
	}
	how := "with its PAYLOAD as user-data"
	switch {
	case f.matchbox.dir != "":
		how = "by PXE through matchbox (" + f.matchbox.dir + "), or with its PAYLOAD as user-data"
	case !payloads:
		how = "with a first-boot config you build from its <host>/rootfs/ (no payload format was rendered)"
	case pointers:
		how = "with its .pointer config as user-data, while ksgen serve runs at --serve-url"
	case pxe:
		how += " (or PXE: ksgen export matchbox)"
	}
	status := "ksgen status -f " + f.file + " --wait"
	if f.serveURL != "" {
		// The nodes report their first boot to ksgen serve: status shows it.
		status = "ksgen status -f " + f.file + " --serve-url " + f.serveURL + " --wait"
	}
	_, err := fmt.Fprintf(w, "\nnext: boot every machine %s, in any order (the others wait for %s's API); then: %s\n", how, firstInit(&idx), status)
	return err
}

// firstInit names the node that runs kubeadm init, or "-".
func firstInit(idx *generator.Index) string {
	for _, n := range idx.Nodes {
		if n.Action == "init" {
			return n.Name
		}
	}
	return "-"
}

// humanBytes writes a size in bytes or KiB, one decimal.
func humanBytes(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}
