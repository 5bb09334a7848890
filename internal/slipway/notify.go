package slipway

import (
	"slices"
	"time"
)

// NotifyEvent names what a notification tells.
type NotifyEvent string

// The events a tool's notification subscriptions can ask for.
const (
	// NotifyDeploymentStarted: a deployment began resolving and planning.
	NotifyDeploymentStarted NotifyEvent = "deployment.started"
	// NotifyDeploymentSucceeded: a deployment ended successful.
	NotifyDeploymentSucceeded NotifyEvent = "deployment.succeeded"
	// NotifyDeploymentFailed: a deployment ended failed or timed out.
	NotifyDeploymentFailed NotifyEvent = "deployment.failed"
	// NotifyDeploymentRolledBack: a rollback deployment (manual or
	// automatic) ended successful: sent instead of deployment.succeeded.
	NotifyDeploymentRolledBack NotifyEvent = "deployment.rolled_back"
	// NotifyQuestionPending: a question was asked (a gate, or `slipway ask`).
	NotifyQuestionPending NotifyEvent = "question.pending"
	// NotifyQuestionAnswered: a question was answered (or stopped by an
	// answer).
	NotifyQuestionAnswered NotifyEvent = "question.answered"
	// NotifyFlowMessage: a flow run's notify step (its message).
	NotifyFlowMessage NotifyEvent = "flow.notify"
)

// NotifyEvents lists every event, in the order they are documented.
var NotifyEvents = []NotifyEvent{
	NotifyDeploymentStarted, NotifyDeploymentSucceeded, NotifyDeploymentFailed, NotifyDeploymentRolledBack,
	NotifyQuestionPending, NotifyQuestionAnswered, NotifyFlowMessage,
}

// NotifyKind is how a subscription is notified.
type NotifyKind string

// The kinds of subscriptions.
const (
	// NotifyWebhook: an HMAC-signed JSON POST to a URL.
	NotifyWebhook NotifyKind = "webhook"
	// NotifyEmail: an email through the server's SMTP server.
	NotifyEmail NotifyKind = "email"
)

// NotifySubscription is one of a tool's outbound notification targets.
// A webhook's signing secret is shown once, when it is made, and never
// again.
type NotifySubscription struct {
	ID   string
	Tool string
	Kind NotifyKind
	// Target is the webhook's URL or the email address.
	Target string
	// Events is what it is sent; empty means every event.
	Events    []NotifyEvent
	CreatedAt time.Time
	CreatedBy string
}

// Wants reports whether s is sent ev.
func (s NotifySubscription) Wants(ev NotifyEvent) bool {
	return len(s.Events) == 0 || slices.Contains(s.Events, ev)
}

// NotifyState is where a delivery stands.
type NotifyState string

// The states of a delivery.
const (
	// NotifyPending: not sent yet, or waiting for its next attempt.
	NotifyPending NotifyState = "pending"
	// NotifyDelivered: an attempt succeeded (a 2xx answer, or the SMTP
	// server took the message).
	NotifyDelivered NotifyState = "delivered"
	// NotifyFailed: every attempt failed; a redelivery may try again.
	NotifyFailed NotifyState = "failed"
)

// NotifyDelivery is one notification to one subscription: the outbox
// row, recorded with the event that caused it, and its attempts.
type NotifyDelivery struct {
	ID             string
	Tool           string
	SubscriptionID string
	Event          NotifyEvent
	// Subject is what the event is about (a deployment or a question
	// ID): one delivery per subscription, event and subject.
	Subject string
	// Payload is the JSON body a webhook is sent (an email is written
	// from it).
	Payload     []byte
	CreatedAt   time.Time
	State       NotifyState
	Attempts    int
	MaxAttempts int
	// LastStatus is the HTTP status (or SMTP reply code) of the last
	// attempt, 0 when it got none.
	LastStatus int
	LastError  string
	UpdatedAt  time.Time
}

// NotifyAttempt is one try at sending a delivery.
type NotifyAttempt struct {
	DeliveryID string
	// N numbers the delivery's attempts from 1.
	N          int
	Tool       string
	At         time.Time
	StatusCode int
	Error      string
	Duration   time.Duration
	// Response is the start of the answer's body (at most 1 KiB).
	Response string
}

// Notification is an event a tool's subscriptions may be told of: what
// the engine hands the notifier in the transaction that records it.
type Notification struct {
	Event NotifyEvent
	Tool  string
	At    time.Time
	// Deployment is the deployment it is about (for a question, the
	// question's, when it has one).
	Deployment *Deployment
	Question   *Question
	// Message is a flow's notify step's text.
	Message string
	// Subject, when set, is what the notification is about instead of
	// the deployment or question (a flow run's step: "<run>/<step>").
	Subject string
}

// NotifySubscriptionRequest is what a tool asks to be notified of.
type NotifySubscriptionRequest struct {
	Kind NotifyKind
	// Target is the webhook's URL or the email address.
	Target string
	// Events are event names; none: every event.
	Events []string
}
