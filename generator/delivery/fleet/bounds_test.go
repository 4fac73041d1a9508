package fleet_test

import (
	"testing"

	"github.com/ksgen/ksgen/generator/delivery/fleet"
	"github.com/ksgen/ksgen/generator/internal/render/firstboot"
)

// The server keeps what the nodes send: a bound below the nodes' would cut
// every report, one above it would let a report grow past what a node
// writes.
func TestBoundsMatchTheNodes(t *testing.T) {
	if fleet.MaxLogLines != firstboot.ReportLines || fleet.MaxLogBytes != firstboot.ReportBytes {
		t.Errorf("fleet keeps %d lines / %d bytes, the nodes send %d / %d",
			fleet.MaxLogLines, fleet.MaxLogBytes, firstboot.ReportLines, firstboot.ReportBytes)
	}
}
