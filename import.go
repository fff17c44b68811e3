package users

import (
	"context"
	"errors"
)

// Import and Export are being written; until then they refuse.

func (s *service) Import(ctx context.Context, us []*User) ([]ImportResult, error) {
	return nil, internal(errors.New("users: Import is not implemented yet"))
}

func (s *service) Export(ctx context.Context, fn func(*User) error) error {
	return internal(errors.New("users: Export is not implemented yet"))
}
