package git

// SetPickWalk sets how many first-parent commits c's CherryPick reads (a
// short history then tests the bound).
func SetPickWalk(c *Client, n int) { c.pickWalk = n }
