package slipway

import "time"

// DeployTokenLifetime is how long a deploy token is accepted after its
// creation (Toolforge's token_lifetime). Refreshing a token starts it again.
const DeployTokenLifetime = 365 * 24 * time.Hour

// DeployToken is a tool's deploy token: a UUIDv4 string that authorizes
// creating a deployment of that tool and reading one by ID (the two routes
// CI uses), and nothing else.
type DeployToken struct {
	Token     string
	CreatedAt time.Time
}

// DeployTokenInfo says when a tool's deploy token was made and until when
// it is accepted, never the token itself.
type DeployTokenInfo struct {
	CreatedAt time.Time
	ExpiresAt time.Time
}

// APIToken describes a tool-scoped API token, never the token itself: a
// bearer that acts for Tool only, on that tool's routes.
type APIToken struct {
	ID          string
	Tool        string
	Description string
	CreatedAt   time.Time
	// LastUsedAt is the zero time when it is not recorded.
	LastUsedAt time.Time
}
