// Package connect wires the inventory to the transport: it turns an
// inventory host (with its ProxyJump hops) into a transport.Target, and keeps
// one connection per host for the whole run in a Pool.
package connect
