package manifest

import (
	"encoding/json"

	"sigs.k8s.io/yaml"
)

// YAML is obj, a typed Kubernetes object, as the YAML a node applies or
// kubelet reads: its JSON encoding (so the API's own field names and
// omissions) without the empty fields Go's encoding of the types adds: the
// status only the API server sets, and a pod's empty container resources.
func YAML(obj any) ([]byte, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	delete(doc, "status")
	spec, _ := doc["spec"].(map[string]any)
	containers, _ := spec["containers"].([]any)
	for _, c := range containers {
		if c, ok := c.(map[string]any); ok {
			if r, ok := c["resources"].(map[string]any); ok && len(r) == 0 {
				delete(c, "resources")
			}
		}
	}
	return yaml.Marshal(doc)
}
