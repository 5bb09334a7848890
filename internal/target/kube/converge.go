package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// An unchanged Apply writes nothing: before each server-side apply the
// driver reads the object and extracts from its managedFields what the
// slipway field manager owns (client-go's Extract<Kind>). When that equals
// the apply configuration about to be sent, the apply would change
// nothing and is skipped. Owned fields are compared, not an annotation of
// the desired state, so an object edited by someone else (who then owns
// the edited field) is applied again, and a field slipway stops setting
// (a removed port, a deleted envvar) differs and is applied away.

// applyIfChanged server-side applies want unless the object there already
// has it as slipway's fields. get reads the object, extract takes
// slipway's apply configuration from it, apply writes want.
func applyIfChanged[T any, AC any](ctx context.Context, what string, want AC,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	name string,
	extract func(T, string) (AC, error),
	apply func(context.Context, AC, metav1.ApplyOptions) (T, error),
) error {
	cur, err := get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		if owns(cur, want, extract) {
			return nil
		}
	case ignoreNotFound(err) != nil:
		return fmt.Errorf("read %s: %w", what, err)
	}
	if _, err := apply(ctx, want, applyOpts); err != nil {
		return fmt.Errorf("apply %s: %w", what, err)
	}
	return nil
}

// owns tells whether slipway's fields of cur are want.
func owns[T any, AC any](cur T, want AC, extract func(T, string) (AC, error)) bool {
	have, err := extract(cur, FieldManager)
	return err == nil && sameApply(have, want)
}

// sameApply tells whether two apply configurations would apply the same
// fields with the same values. They are compared as JSON: it is what is
// sent, and it writes quantities in their canonical form either way.
func sameApply(a, b any) bool {
	ja, err := json.Marshal(a)
	if err != nil {
		return false
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false
	}
	var va, vb any
	if json.Unmarshal(ja, &va) != nil || json.Unmarshal(jb, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// deleteIfPresent deletes an object that get finds, and sends nothing for
// one that is not there.
func deleteIfPresent[T any](ctx context.Context, what, name string,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	del func(context.Context, string, metav1.DeleteOptions) error,
) error {
	if _, err := get(ctx, name, metav1.GetOptions{}); err != nil {
		if err = ignoreNotFound(err); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
		return nil
	}
	if err := ignoreNotFound(del(ctx, name, metav1.DeleteOptions{PropagationPolicy: propagation})); err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	return nil
}
