// Package targettest is the conformance suite of [target.Driver]: every
// driver runs it from its tests, so they all honour the same contract.
//
// It is imported only by tests.
//
// # Two halves
//
// [RunContract] checks what a driver promises about its bookkeeping, and
// can be passed by a driver whose workloads run nowhere real (a Kubernetes
// driver on a control plane whose kubelet is kwok: pods become Running and
// Ready, Job pods complete, but no process runs):
//
//   - Apply is idempotent: unchanged spec hash and artifact key change
//     nothing; a new spec hash, artifact key or RestartToken restarts once;
//   - WaitHealthy returns once the runtime says the generation is ready;
//   - Status and List report the typed [target.State], the spec hash,
//     build key, type, replica count, Since, URL (published components
//     only), and for scheduled components the concrete schedule and NextRun;
//   - RunOnce is idempotent by run ID, sequentially and concurrently;
//   - Remove forgets the component, and removing an unknown one is not an
//     error;
//   - with a [RestartFactory], a new driver on the same state, after
//     [target.Lifecycle.Restore], adopts what runs and restarts nothing,
//     keeps schedules, and returns a finished run's result again;
//   - with a [CrashFactory], a driver that dies in the middle of Apply or
//     RunOnce leaves a state the next one converges from, starting each
//     workload once.
//
// The driver's [Capabilities] add checks to the contract where it can make
// them (for example that a run's output appears once in its logs), and
// [RunExecution] checks what needs real execution: HTTP, TCP, script and
// stayed-up health checks, crash loops and the [target.KeptError] of a bad
// version, exit codes, Run.Timeout, and logs with Lines and Follow. Each of
// its tests skips, saying why, when the driver lacks the capability it
// needs, so a driver without execution runs [RunContract] only, and a
// driver that runs processes runs [Run], which is both.
//
// # Waiting
//
// Tests wait on the driver's own blocking calls (WaitHealthy, RunOnce,
// Logs with Follow) and otherwise poll Status every 20ms until a state is
// reached; none sleeps to let time pass.
package targettest
