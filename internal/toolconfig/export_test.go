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
