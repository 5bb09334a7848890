// Package toolconfig parses Slipway's tool config: Toolforge's
// config_version v1beta1 plus Slipway's extensions, from YAML or JSON, into a
// [slipway.ToolConfig].
//
// # What it accepts
//
// The format is the one of TOOLFORGE-COMPAT.md §3, with these differences:
//
//   - component_type is the discriminator (continuous, scheduled or
//     one-off). When absent, a component is scheduled if run.schedule is set
//     and continuous otherwise. Run fields that belong to another type are
//     dropped with the usual unknown-field warning, as Toolforge does.
//   - build may also be {image} (a prebuilt image; targets decide whether
//     they support it), and repository may be a file:// URL or an absolute
//     path (the server decides whether local repositories are allowed).
//   - health_check_http without a tcp port is an error at parse time.
//   - wait_for lists the components that must be running before this one
//     starts; cycles are errors.
//   - cpu and memory are parsed as Kubernetes quantities
//     (slipway.ParseCPU, slipway.ParseMemory): zero, negative, overflowing
//     and sub-byte values are errors.
//   - a top-level x-slipway mapping holds the tool-level Slipway settings
//     ([slipway.ToolPolicy]: auto_rollback, see extension.go); Toolforge
//     ignores unknown top-level keys, so the config stays valid there.
//   - text fields (command, health_check_script, filelog paths, repository,
//     source_url, reuse_from, schedule) refuse control characters (tab and
//     newline are fine in commands and scripts) and bidirectional
//     formatting characters.
//
// # Server limits
//
// What a server allows (the maximum memory and cpu of a component, the
// tool's quotas) is not part of Parse, which needs no settings: the server
// calls [CheckLimits] on the parsed config, and [Locate] gives its problems
// the line and column of their field in the document. [ParseStored] reads
// what an older Slipway stored, before the rules above.
//
// # Errors and warnings
//
// Parse walks the yaml.Node tree itself, so each [Problem] carries the line
// and column of the node at fault, and every problem in the document is
// reported at once, sorted by position. The parser checks the shape of the
// YAML; the values of a component are checked by the domain
// ([slipway.Component.ValidateWith]), whose path-addressed problems the
// parser puts at their fields' nodes. Unknown fields are not errors: they
// are dropped, each with Toolforge's warning "Unknown field <path>,
// skipped".
//
// # Set fields
//
// [slipway.ToolConfig.Raw] holds exactly the fields the user set, in the
// user's order, as compact JSON; defaults never appear in it. Parsing Raw
// again gives the same config.
//
// YAML anchors, aliases and merge keys (<<) are resolved; Raw holds the
// result. Scalars are typed as YAML 1.2 reads them (so a ref of 1234567 is
// a number and must be quoted), except that boolean fields also take the
// unquoted YAML 1.1 yes/no/on/off that Toolforge's CLI (PyYAML) reads as
// booleans. null is an error for every field but config_version, as in
// Toolforge.
package toolconfig
