package deploy

import (
	"sync"

	"slipway.dev/slipway/internal/store"
)

// broker wakes the watchers of a deployment when its events change. It
// carries no data: watchers re-read the store, which is the record. Within
// one server process [Engine.tx] wakes them after each commit; the changes
// other replicas commit reach it through [Engine.Heard] (the store's
// notifications), and a slow re-read (RecheckInterval) is the safety net.
type broker struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

func newBroker() *broker { return &broker{waiters: map[string]chan struct{}{}} }

// wait returns a channel that is closed at the next notify for id. Take it
// before reading the store so that no change is missed.
func (b *broker) wait(id string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch, ok := b.waiters[id]
	if !ok {
		ch = make(chan struct{})
		b.waiters[id] = ch
	}
	return ch
}

// notify wakes every current waiter of id.
func (b *broker) notify(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch, ok := b.waiters[id]; ok {
		close(ch)
		delete(b.waiters, id)
	}
}

// notifyAll wakes every current waiter.
func (b *broker) notifyAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, ch := range b.waiters {
		close(ch)
		delete(b.waiters, id)
	}
}

// changed returns a channel that is closed at the next change of a
// deployment's events made by this process (see broker.wait).
func (e *Engine) changed(deploymentID string) <-chan struct{} {
	return e.events.wait(deploymentID)
}

// notify wakes the watchers of a deployment.
func (e *Engine) notify(deploymentID string) {
	e.events.notify(deploymentID)
}

// Heard wakes the watchers of the deployment that c names, or every
// watcher when c.All says changes may have been missed: the server hands
// it what the store's [store.Notifier] heard other replicas commit.
func (e *Engine) Heard(c store.Change) {
	if c.All {
		e.events.notifyAll()
		return
	}
	e.events.notify(c.DeploymentID)
}
