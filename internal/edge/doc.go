// Package edge is Slipway's front door: the reverse proxy in front of the
// tools' published components.
//
// A request goes through three seams:
//
//   - [Hosts] maps its Host to an instance (a tool, or "<tool>--<env>" for
//     another environment): [LocalhostHosts] is the "<instance>.localhost"
//     rule; other Hosts (an apps domain, custom domains) live beside it.
//   - [Backends] picks the address of a replica that is up, counting the
//     request in flight until it is answered (the runtime drains a replaced
//     generation on that count), or says why there is none: the tool is
//     deploying, crash-looping, stopped, or publishes nothing.
//   - [Proxy] forwards it with [httputil.ReverseProxy]: HTTP/1.1, HTTP/2
//     when served over TLS, WebSocket (and any Upgrade) and streamed
//     responses (server-sent events, chunked bodies) passed on as they come,
//     never buffered. When there is no replica up it answers a short page,
//     in HTML or text, that names the tool and its state and nothing else
//     (no address, port, path or dial error).
//
// [Limits] are the server settings: timeouts for a request's headers, an
// idle connection and the app's answer, a cap on header and body sizes,
// and a stall timeout that cuts a client which takes or sends nothing for
// that long (a slow reader cannot hold a connection forever) without ever
// cutting a stream that moves. There is no overall write timeout, which
// would end event streams and WebSockets.
package edge
