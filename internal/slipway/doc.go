// Package slipway holds Slipway's domain types: tools, tool configs and their
// components, deployments with their steps, builds and live runs, and the
// application error type.
//
// It imports nothing but the standard library, so every other package may
// import it; a dependency test keeps it that way. Adapters (store, target,
// builder, HTTP) exchange these types and never each other's.
//
// # Statuses
//
// The deployment, build and run status vocabularies are Toolforge's and are
// closed (see TOOLFORGE-COMPAT.md §4.2): real CI clients treat any deployment
// status other than pending or running as final, so every in-between phase
// (queued, building, waiting for health) is reported as pending or running,
// with the detail in the long status.
package slipway
