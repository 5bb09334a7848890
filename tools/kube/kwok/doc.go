// Package kwok pins kwok, the fake kubelet of the tests' Kubernetes
// control plane, in a module of its own: in tools/kube it would move the
// apiserver's grpc and otel past the versions Kubernetes pins.
// scripts/kube-bin.sh builds it, and takes its node and pod stages from
// its module.
package kwok
