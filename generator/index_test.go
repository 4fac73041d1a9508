package generator

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
)

// index.json built from nodes marshaled one by one is what marshaling the
// whole index writes, whatever the number of nodes.
func TestIndexMarshalMatchesWhole(t *testing.T) {
	t.Parallel()
	node := func(name string) NodeIndex {
		return NodeIndex{Name: name, Roles: []string{"worker"}, OS: "ubuntu", Format: FormatCloudInit, Payload: "user-data", Action: "join",
			Files: []FileIndex{
				{Path: "user-data", Bytes: 3, Gzip: 23, Base64: 32, SHA256: "ab", Clouds: map[string]CloudFit{"aws": {Bytes: 23, Limit: 16384, Fits: true}}},
				{Path: "rootfs/etc/hostname", Bytes: 6, SHA256: "cd"},
			}}
	}
	for _, names := range [][]string{nil, {"node1"}, {"master1", "node1", "node2"}} {
		idx := &Index{Cluster: "c", KubernetesVersion: "v1.36.3", KubeadmAPI: "kubeadm.k8s.io/v1beta4", Endpoint: "lb:6443", LoadBalancer: "haproxy"}
		var nodes [][]byte
		for _, n := range names {
			idx.Nodes = append(idx.Nodes, node(n))
			nodes = append(nodes, marshalNode(node(n)))
		}
		if idx.Nodes == nil {
			idx.Nodes = []NodeIndex{}
		}
		want, err := json.MarshalIndent(idx, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got, err := idx.marshal(nodes)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append(want, '\n')) {
			t.Errorf("%d nodes: got\n%s\nwant\n%s", len(names), got, want)
		}
	}
}

// marshalNode writes what json.MarshalIndent writes for every field of a
// node's entry, set or not (a field added to the index and not to
// marshalNode fails here), and for strings JSON escapes.
func TestMarshalNode(t *testing.T) {
	t.Parallel()
	full := NodeIndex{}
	fill(reflect.ValueOf(&full).Elem(), "node<&>\"\\é\u2028\x01")
	cases := []NodeIndex{
		full,
		{},
		{Name: "n", Roles: []string{}, Files: []FileIndex{}},
		{Name: "n", Files: []FileIndex{{Path: "p", Clouds: map[string]CloudFit{}}, {Path: "q", Clouds: map[string]CloudFit{"gce": {}, "aws": {Fits: true}}}}},
	}
	for _, n := range cases {
		want, err := json.MarshalIndent(n, "    ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalNode(n); !bytes.Equal(got, want) {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	}
}

// fill sets every field v holds to a value that is not zero: strings to s
// (with the field's index appended inside structs), numbers to the
// string's length, true, one element per slice and two per map.
func fill(v reflect.Value, s string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int:
		v.SetInt(int64(len(s)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), s+strconv.Itoa(i))
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), s)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for _, k := range []string{"b" + s, "a"} {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, s)
			v.SetMapIndex(reflect.ValueOf(k), e)
		}
	}
}
