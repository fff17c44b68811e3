package users

import (
	"context"
	"strings"
	"time"
)

// apiKeyPrefixLen is how many leading characters of an API key are kept to tell keys apart.
// They leave 208 of its 256 random bits unknown.
const apiKeyPrefixLen = 8

// apiKeyOf describes the API key t, with its secret key when given (only when it is issued).
func apiKeyOf(t *Token, key string) *APIKey {
	return &APIKey{
		ID: t.ID, Name: t.Name, Prefix: t.Prefix, Key: key, Created: t.Created, Expires: t.Expires,
		LastUsed: t.LastUsed, CreatedBy: t.CreatedBy,
	}
}

// newAPIKey returns a new API-key token, as it is stored, and its secret.
func newAPIKey(userID, id, name, createdBy string, created, expires time.Time) (*Token, string) {
	secret := randomSecret()
	t := &Token{
		Digest: DigestOf(secret), Kind: TokenAPIKey, UserID: userID, Created: created,
		Expires: expires, ID: id, Name: name, Prefix: secret[:apiKeyPrefixLen], CreatedBy: createdBy,
	}
	return t, secret
}

func (s *service) CreateAPIKey(ctx context.Context, userID string, in NewAPIKey) (*APIKey, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, invalid("name", "is required")
	}
	if err := checkText("name", name); err != nil {
		return nil, err
	}
	now := s.now()
	t, secret := newAPIKey(userID, newID(), name, actorID(ctx, userID), now, CanonicalTime(in.Expires))
	if !t.Expires.IsZero() && !t.Expires.After(now) {
		return nil, invalid("expires", "must be in the future")
	}
	var owner *User
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		u, err := lookup(ctx, tx, ActionCreateKey, userID)
		if err != nil {
			return err
		}
		if u.Status == StatusDisabled {
			return conflict("status", "the account is disabled")
		}
		keys, err := tx.ListTokens(ctx, userID, TokenAPIKey)
		if err != nil {
			return err
		}
		if len(keys) >= s.cfg.MaxAPIKeys {
			return conflict("", "the user has as many API keys as allowed; delete one first")
		}
		for _, k := range keys {
			if k.Name == name {
				return conflict("name", "the user has an API key of this name")
			}
		}
		owner = u
		return tx.PutToken(ctx, t)
	})
	if err != nil {
		return nil, s.storeErr(ctx, "create API key", err)
	}
	s.keyMinted(ctx, owner, t)
	return apiKeyOf(t, secret), nil
}

// keyMinted reports the new API key t of owner: an event and, when someone else made it,
// a mail telling the owner at once.
func (s *service) keyMinted(ctx context.Context, owner *User, t *Token) {
	s.emit(ctx, Event{Type: EventAPIKeyCreated, UserID: owner.ID, ActorID: t.CreatedBy})
	if t.CreatedBy != "" && s.cfg.Mailer != nil && owner.Email != "" {
		m := Mail{Kind: MailAPIKeyCreated, To: owner.Email, UserID: owner.ID, Name: mailName(owner), KeyName: t.Name}
		s.background(func(ctx context.Context) { s.send(ctx, m) })
	}
}

func (s *service) APIKeys(ctx context.Context, userID string) ([]*APIKey, error) {
	var keys []*APIKey
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if _, err := lookup(ctx, tx, ActionManageKeys, userID); err != nil {
			return err
		}
		ts, err := tx.ListTokens(ctx, userID, TokenAPIKey)
		keys = make([]*APIKey, len(ts))
		for i, t := range ts {
			keys[i] = apiKeyOf(t, "")
		}
		return err
	})
	if err != nil {
		return nil, s.storeErr(ctx, "list API keys", err)
	}
	return keys, nil
}

// findAPIKey returns the user's API key keyID, or ErrNotFound.
func findAPIKey(ctx context.Context, tx Store, userID, keyID string) (*Token, error) {
	keys, err := tx.ListTokens(ctx, userID, TokenAPIKey)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.ID == keyID {
			return k, nil
		}
	}
	return nil, notFound("API key")
}

func (s *service) RotateAPIKey(ctx context.Context, userID, keyID string) (*APIKey, error) {
	var t *Token
	var owner *User
	var secret string
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		u, err := lookup(ctx, tx, ActionCreateKey, userID)
		if err != nil {
			return err
		}
		old, err := findAPIKey(ctx, tx, userID, keyID)
		if err != nil {
			return err
		}
		now := s.now()
		if old.Expired(now) {
			return conflict("expires", "the API key has expired; create a new one")
		}
		if err := tx.DeleteToken(ctx, old.Digest); err != nil {
			return err
		}
		owner = u
		t, secret = newAPIKey(userID, old.ID, old.Name, actorID(ctx, userID), now, old.Expires)
		return tx.PutToken(ctx, t)
	})
	if err != nil {
		return nil, s.storeErr(ctx, "rotate API key", err)
	}
	s.emit(ctx, Event{Type: EventAPIKeyRevoked, UserID: userID, ActorID: t.CreatedBy})
	s.keyMinted(ctx, owner, t)
	return apiKeyOf(t, secret), nil
}

func (s *service) DeleteAPIKey(ctx context.Context, userID, keyID string) error {
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if _, err := lookup(ctx, tx, ActionManageKeys, userID); err != nil {
			return err
		}
		t, err := findAPIKey(ctx, tx, userID, keyID)
		if err != nil {
			return err
		}
		return tx.DeleteToken(ctx, t.Digest)
	})
	if err != nil {
		return s.storeErr(ctx, "delete API key", err)
	}
	s.emit(ctx, Event{Type: EventAPIKeyRevoked, UserID: userID, ActorID: actorID(ctx, userID)})
	return nil
}
