package kubetest

import (
	"bytes"
	"encoding/json"
	"testing"

	"sigs.k8s.io/yaml"
)

// Manifest renders objects read back from the cluster as YAML documents,
// stripped of what the server sets that differs from one run to the next
// (uid, resourceVersion, timestamps, managedFields, status, generation,
// the Service's cluster IPs, a Job's controller-uid selector and labels,
// the Deployment's revision), and with namespace ns written NAMESPACE.
// The defaults the apiserver fills in stay: they are what runs.
func Manifest(t testing.TB, ns string, objs ...any) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		m, err := Strip(o)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(bytes.ReplaceAll(y, []byte(ns), []byte("NAMESPACE")))
	}
	return b.Bytes()
}

// Strip returns o as JSON fields without the server's varying ones.
func Strip(o any) (map[string]any, error) {
	j, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	md, _ := m["metadata"].(map[string]any)
	for _, k := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink"} {
		delete(md, k)
	}
	if a, ok := md["annotations"].(map[string]any); ok {
		delete(a, "deployment.kubernetes.io/revision")
	}
	dropControllerUID := func(lbl any) {
		if l, ok := lbl.(map[string]any); ok {
			delete(l, "controller-uid")
			delete(l, "batch.kubernetes.io/controller-uid")
		}
	}
	dropControllerUID(md["labels"])
	spec, _ := m["spec"].(map[string]any)
	switch m["kind"] {
	case "Service":
		delete(spec, "clusterIP")
		delete(spec, "clusterIPs")
	case "Job":
		delete(spec, "selector")
		if tpl, ok := spec["template"].(map[string]any); ok {
			if tmd, ok := tpl["metadata"].(map[string]any); ok {
				dropControllerUID(tmd["labels"])
			}
		}
	}
	return m, nil
}
