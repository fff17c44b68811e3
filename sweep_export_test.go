package users

import "context"

// Sweep runs one sweep of svc, a Service made by New, as its sweeper does, and returns how
// many tokens, tickets and throttle entries it removed.
func Sweep(ctx context.Context, svc Service) (tokens, tickets, failures int, err error) {
	c, err := svc.(*service).sweep(ctx)
	return c.tokens, c.tickets, c.failures, err
}
