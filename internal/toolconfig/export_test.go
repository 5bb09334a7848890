package toolconfig

import "slices"

// RunFieldNames returns the run fields the parser knows, sorted, so that a
// test can hold the JSON Schema to them.
func RunFieldNames() []string {
	var names []string
	for n := range runFields {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ExtensionFieldNames returns the fields of x-slipway the parser knows,
// sorted.
func ExtensionFieldNames() []string { return slices.Sorted(slices.Values(extensionFields)) }
