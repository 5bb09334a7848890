// Package kube is the [target.Driver] that runs components on Kubernetes,
// through client-go with server-side apply (field manager "slipway").
//
// # Objects
//
// Each tool instance ([slipway.InstanceName]) has a namespace of its own,
// named by [Config.Namespace] (default "tool-<instance>"), created on its
// first Apply. In it, a component named c is:
//
//   - continuous: a Deployment c (replicas, cpu and memory as requests and
//     limits, startup, readiness and liveness probes from the health check
//     fields, a rolling update that starts a new pod before it stops an old
//     one), a Service c when it has a port, and an Ingress c when it is
//     published, at the host [Config.IngressHost] gives;
//   - scheduled: a CronJob c (the Toolforge macro schedules made concrete
//     by [target.ActualSchedule], UTC, never two runs at once; timeout →
//     activeDeadlineSeconds, retry → backoffLimit);
//   - one-off: a Job c-<hash of the run ID> per run, kept after it ends so
//     its logs and result can be read.
//
// Every object carries the labels app.kubernetes.io/managed-by=slipway,
// slipway.dev/tool and slipway.dev/component, and a component's Deployment,
// CronJob and Job the annotations slipway.dev/spec-hash, slipway.dev/build-key
// and slipway.dev/restart-token, from which Apply decides whether anything
// changed. The tool's envvars ([target.Spec.SecretEnv]) live in the Secret
// "slipway-env" of the namespace, which every container reads with envFrom;
// the config's variables ([target.Spec.Env]) are plain container env and win
// over a Secret entry of the same name, as on localexec. A one-off run that
// may ask questions gets its ask token in a Secret of its own, owned by its
// Job.
//
// # Tenancy
//
// A tool's namespace enforces the restricted Pod Security Standard, and
// its pods run as the ServiceAccount [ServiceAccount] with a securityContext
// that meets it. The driver gives that account read access to its own
// namespace only (a Role and RoleBinding), bounds the namespace with a
// ResourceQuota and LimitRange from [Config.Quota], and admits ingress
// from the namespace itself and [Config.IngressNamespace] only (a
// NetworkPolicy, which needs a network plugin that enforces it). See
// tenancy.go and SECURITY.md.
//
// # Health
//
// WaitHealthy and RunOnce follow watches of the component's Deployment (or
// Job) and its pods, not polling loops: a rollout is healthy when the
// Deployment controller saw the newest spec and every replica of it is
// updated and available; it has failed when the controller gives up
// (progressDeadlineSeconds is [Config.StartupTimeout]) or a pod of it
// cannot start (image pull errors, crash loops), and the failure says why.
// A pod the API server refuses (the quota, Pod Security) fails a rollout
// (the Deployment's ReplicaFailure) and a run (the Job's FailedCreate
// events; the Job is deleted so that the run never starts later).
//
// # Lifecycle
//
// Workloads outlive the server: [Driver.Stop] only ends the driver's own
// watches, and [Driver.Restore] is a reconcile that applies each live spec
// (changing nothing that already runs it) and prunes, in the namespaces of
// the restored instances, the components the store no longer has.
package kube
