package users

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Client is where a request comes from: the address of the client and the User-Agent it sent.
// WithClient puts it in a context; the Service then counts failed password checks by the
// account and this address (see Throttle), and records it in every Event it emits for the
// request. A Client holds no secret. It is a value: safe to copy and share.
type Client struct {
	// Addr is the client's IP address; the zero Addr when it is not known. The HTTP adapter
	// sets the connection's address, or the one a trusted proxy writes in a header.
	Addr netip.Addr
	// UserAgent is the User-Agent the client sent, at most MaxUserAgent bytes of valid UTF-8.
	UserAgent string
}

// MaxUserAgent is the longest User-Agent, in bytes, that WithClient keeps: a longer one is cut.
const MaxUserAgent = 256

type clientKey struct{}

// WithClient returns a copy of ctx carrying c as the client of the request: every Service
// method called with it counts failed password checks by c.Addr (see Throttle) and records c in
// the events it emits. c.Addr is kept without its zone and with an IPv4-mapped IPv6 address
// unmapped; c.UserAgent is cut to MaxUserAgent bytes and made valid UTF-8. The HTTP adapter
// sets the client of every request. A context without a client counts as one address.
func WithClient(ctx context.Context, c Client) context.Context {
	c.Addr = c.Addr.Unmap().WithZone("")
	c.UserAgent = cutUserAgent(c.UserAgent)
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the client WithClient put in ctx, and false when there is none.
func ClientFrom(ctx context.Context) (Client, bool) {
	c, ok := ctx.Value(clientKey{}).(Client)
	return c, ok
}

// clientOf returns the client of ctx: the zero Client when there is none.
func clientOf(ctx context.Context) Client {
	c, _ := ClientFrom(ctx)
	return c
}

// LogValue logs the client as a group of its address and User-Agent, leaving out what is not
// known.
func (c Client) LogValue() slog.Value {
	var attrs []slog.Attr
	if c.Addr.IsValid() {
		attrs = append(attrs, slog.String("addr", c.Addr.String()))
	}
	if c.UserAgent != "" {
		attrs = append(attrs, slog.String("userAgent", c.UserAgent))
	}
	return slog.GroupValue(attrs...)
}

// cutUserAgent returns ua cut to at most MaxUserAgent bytes, on a rune boundary, as valid
// UTF-8.
func cutUserAgent(ua string) string {
	if len(ua) > MaxUserAgent {
		n := MaxUserAgent
		for n > 0 && !utf8.RuneStart(ua[n]) {
			n--
		}
		ua = ua[:n]
	}
	if !utf8.ValidString(ua) {
		ua = strings.ToValidUTF8(ua, "\uFFFD")
		if len(ua) > MaxUserAgent { // replacement runes are longer than the bytes they replace
			return cutUserAgent(ua)
		}
	}
	return ua
}

// backgroundFor runs job as background does, with the client of ctx in the job's context, so
// that the events the job emits record who asked for it.
func (s *service) backgroundFor(ctx context.Context, job func(ctx context.Context)) {
	c, ok := ClientFrom(ctx)
	if !ok {
		s.background(job)
		return
	}
	s.background(func(bg context.Context) { job(context.WithValue(bg, clientKey{}, c)) })
}
