// Package tools pins the developer tools that `make lint` builds, in a
// module of their own so that their dependencies never enter Slipway's.
package tools
