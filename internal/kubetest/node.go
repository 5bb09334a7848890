package kubetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

// fakeNodeAnnotation marks the nodes kwok manages (its
// --manage-nodes-with-annotation-selector), as kwok's own clusters do.
const fakeNodeAnnotation = "kwok.x-k8s.io/node"

// fakeNode is the Node that [Start] creates for kwok to play: roomy enough
// for any test's pods.
func fakeNode() map[string]any {
	resources := map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata": map[string]any{
			"name":        NodeName,
			"annotations": map[string]string{fakeNodeAnnotation: "fake"},
			"labels": map[string]string{
				"kubernetes.io/hostname": NodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		},
		"status": map[string]any{"capacity": resources, "allocatable": resources},
	}
}

// object is the part of an object that the waits read.
type object struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Taints []struct {
			Key string `json:"key"`
		} `json:"taints"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

// Condition tells whether a watched object (a Node, Job, Deployment,
// Pod…) has the condition typ with status True.
func Condition(obj json.RawMessage, typ string) bool {
	var o object
	if json.Unmarshal(obj, &o) != nil {
		return false
	}
	for _, c := range o.Status.Conditions {
		if c.Type == typ {
			return c.Status == "True"
		}
	}
	return false
}

// awaitReady waits for the fake node to be Ready and free of the
// not-ready taint (kwok, and the controller-manager's node lifecycle
// controller, at work), and for the default namespace's ServiceAccount
// (the controller-manager's token controllers).
func (c *Cluster) awaitReady(ctx context.Context) error {
	err := c.Watch(ctx, "/api/v1/nodes?fieldSelector="+url.QueryEscape("metadata.name="+NodeName),
		func(ev Event) (bool, error) {
			var n object
			if err := json.Unmarshal(ev.Object, &n); err != nil {
				return false, err
			}
			for _, t := range n.Spec.Taints {
				if t.Key == "node.kubernetes.io/not-ready" {
					return false, nil
				}
			}
			return Condition(ev.Object, "Ready"), nil
		})
	if err != nil {
		return fmt.Errorf("node %s ready: %w", NodeName, err)
	}
	if err := c.awaitServiceAccount(ctx, "default"); err != nil {
		return err
	}
	return nil
}

// awaitServiceAccount waits for namespace ns's ServiceAccount default,
// which pods need to be admitted.
func (c *Cluster) awaitServiceAccount(ctx context.Context, ns string) error {
	path := "/api/v1/namespaces/" + ns + "/serviceaccounts?fieldSelector=" + url.QueryEscape("metadata.name=default")
	err := c.Watch(ctx, path, func(ev Event) (bool, error) { return ev.Type == "ADDED" || ev.Type == "MODIFIED", nil })
	if err != nil {
		return fmt.Errorf("serviceaccount %s/default: %w", ns, err)
	}
	return nil
}
