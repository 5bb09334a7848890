// Package deploy is Slipway's deployment pipeline: [Plan] turns a desired
// tool config and the live state into steps (pure, table-tested), and the
// [Engine] advances a deployment one durable step at a time: each step is a
// job of the runner, and a step's result commits in the same transaction
// that enqueues the steps it unblocks.
package deploy
