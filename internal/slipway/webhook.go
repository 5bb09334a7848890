package slipway

import "time"

// The [Deployment.Trigger] of deployments that outside events created.
const (
	// TriggerPush: a push webhook.
	TriggerPush = "push"
	// TriggerPoll: polling found a new commit.
	TriggerPoll = "poll"
)

// Webhook is a tool's push webhook: where the forge sends pushes and
// whether a secret is set. The secret itself is shown once, when it is
// made, and never again.
type Webhook struct {
	Tool string
	// Configured is false until a secret is made; pushes are refused
	// until then.
	Configured bool
	// Path is the route a forge posts to, relative to the server's URL.
	Path      string
	CreatedAt time.Time
}

// WebhookPath returns the route that receives tool's push webhooks.
func WebhookPath(tool string) string { return "/triggers/v1/tool/" + tool + "/webhook" }

// WebhookOutcome is what became of a webhook delivery.
type WebhookOutcome string

// The outcomes of a delivery whose signature held.
const (
	// WebhookDeployed: the push created a deployment.
	WebhookDeployed WebhookOutcome = "deployed"
	// WebhookPong: a forge's test delivery (GitHub's ping), answered.
	WebhookPong WebhookOutcome = "pong"
	// WebhookRefused: nothing was deployed, for the reason in Message (a
	// ref no component follows, a deleted branch, another event, a body
	// that is not a push).
	WebhookRefused WebhookOutcome = "refused"
	// WebhookFailed: the push was for the tool, but the deployment could
	// not be created (Message says why).
	WebhookFailed WebhookOutcome = "failed"
	// WebhookReceived: recorded, not decided yet (a server that stopped
	// midway leaves it so).
	WebhookReceived WebhookOutcome = "received"
)

// WebhookDelivery is one signed delivery a tool's webhook received, as the
// delivery log keeps it. Deliveries whose signature did not hold are never
// recorded (anyone can send them).
type WebhookDelivery struct {
	Tool string
	// ID is the forge's delivery ID (X-GitHub-Delivery and the like); a
	// second delivery with the same ID is refused as a replay.
	ID         string
	Provider   string
	Event      string
	ReceivedAt time.Time
	// Ref, Commit and Pusher are the push's, when it was one.
	Ref     string
	Commit  string
	Pusher  string
	Outcome WebhookOutcome
	Message string
	// DeploymentID is the deployment the push created.
	DeploymentID string
}
