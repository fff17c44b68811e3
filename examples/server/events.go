package main

import (
	"context"
	"log/slog"

	"github.com/gousers/users"
)

// securityMessage is the message of every line of the security log.
const securityMessage = "security event"

// securityLog returns the Service's Config.OnEvent: it logs every users.Event to log as one
// structured line, securityMessage with the event's type, the account (user ID, and the
// username of a sign-in), who acted for someone else (actor), the deletion ticket and step,
// and the client's address and User-Agent. A failed or throttled sign-in is a warning; the
// rest is information. An Event holds no secret, and nothing else is logged: a username typed
// for no account (which may be a password typed into the wrong box) is never in an event.
// The function is quick and safe for concurrent use, as OnEvent must be.
func securityLog(log *slog.Logger) func(users.Event) {
	return func(e users.Event) {
		level := slog.LevelInfo
		switch e.Type {
		case users.EventSignInFailed, users.EventSignInThrottled:
			level = slog.LevelWarn
		}
		attrs := make([]slog.Attr, 0, 8)
		attrs = append(attrs, slog.String("event", string(e.Type)), slog.Time("at", e.Time))
		for _, a := range []struct{ key, value string }{
			{"user", e.UserID}, {"username", e.Username}, {"actor", e.ActorID}, {"ticket", e.TicketID}, {"step", e.Step},
		} {
			if a.value != "" {
				attrs = append(attrs, slog.String(a.key, a.value))
			}
		}
		if e.Client != (users.Client{}) {
			attrs = append(attrs, slog.Any("client", e.Client))
		}
		log.LogAttrs(context.Background(), level, securityMessage, attrs...)
	}
}
