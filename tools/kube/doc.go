// Package kube pins the tests' Kubernetes control plane (kube-apiserver,
// kube-controller-manager and kube-scheduler from k8s.io/kubernetes, and
// etcd, at the versions Kubernetes pins) as tool directives of a module of
// its own, so that k8s.io/kubernetes never enters Slipway's go.mod.
// scripts/kube-bin.sh builds them; kwok/ is kwok's module, apart because
// its newer grpc and otel would move the apiserver's.
//
// The replace block maps every k8s.io staging module, which
// k8s.io/kubernetes requires at v0.0.0, to the release's v0.N.M. To move
// to another release, change the require and the replace block together,
// then run `go get -tool` for each tool at its pinned version (never
// @latest: the module proxy refuses it for some modules).
package kube
