package users

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/bcrypt"
)

// MaxImportBatch bounds the users of one Import call.
const MaxImportBatch = 10_000

// Ceilings on the cost of an imported hash: what one sign-in may cost. Anyone may ask for a
// sign-in, so a hash that takes long or much memory to verify would let anyone tie up the
// server. Import rejects a hash above any of them (ErrInvalid naming "passwordHash"), and
// sign-in refuses to verify one that reached the store another way: it counts as a wrong
// password, and is logged. argon2id: at most 64 MiB (Config.MaxHashMemory admits such a
// hash), 4 iterations and 4 lanes; bcrypt: cost 12, about a quarter of a second. The
// argon2id ceilings rise to Config.Argon2 when that is higher, for the Service's own hashes.
const (
	MaxImportedBcryptCost        = 12
	MaxImportedArgon2Memory      = 64 * 1024 // KiB
	MaxImportedArgon2Iterations  = 4
	MaxImportedArgon2Parallelism = 4
)

// maxImportRefusals bounds the users of one Import call that the store may refuse, each
// tried again alone while the batch is stored again, before Import gives up and returns the
// store's error: a store failing every write is not a batch of bad users.
const maxImportRefusals = 8

// refusedErr is the rejection of an imported user whom the store refused with err: err itself
// when it is one of the package's errors a client may see, and otherwise an ErrInvalid that
// does not repeat the store's words.
func refusedErr(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal {
		return err
	}
	return &Error{Code: CodeInvalid, Message: "the store refused this user", Cause: err}
}

// exportPage is how many users Export reads from the store at a time.
const exportPage = MaxLimit

// isBcrypt reports whether encoded has the form of a bcrypt hash: $2a$, $2b$ or $2y$, as other
// systems (Tyk, Amadis) store them.
func isBcrypt(encoded string) bool {
	return len(encoded) == 60 && strings.HasPrefix(encoded, "$2") && strings.IndexByte("aby", encoded[2]) >= 0 && encoded[3] == '$'
}

// verifyBcrypt checks password against a bcrypt hash in constant time. A match always asks
// for a rehash: bcrypt hashes are replaced by the configured hasher's. A hash above
// MaxImportedBcryptCost is an error, and is not computed.
func verifyBcrypt(password, encoded string) (ok, rehash bool, err error) {
	if cost, err := bcrypt.Cost([]byte(encoded)); err != nil || cost > MaxImportedBcryptCost {
		return false, false, errCostlyHash
	}
	err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
	switch {
	case err == nil:
		return true, true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword), errors.Is(err, bcrypt.ErrPasswordTooLong):
		return false, false, nil
	}
	return false, false, err
}

// checkImportedHash returns an ErrInvalid naming "passwordHash" unless encoded is empty, a
// readable argon2id hash with usable parameters (see argon2ParamsUsable) or a readable bcrypt
// hash.
func checkImportedHash(encoded string) error {
	switch {
	case encoded == "":
		return nil
	case strings.HasPrefix(encoded, "$argon2id$"):
		p, _, _, err := argon2id.DecodeHash(encoded)
		if err != nil || !argon2ParamsUsable(p) {
			break
		}
		if !argon2ParamsAffordable(p, nil) {
			return invalid("passwordHash", "costs more to verify than an imported hash may (argon2id: at most m=%d, t=%d, p=%d)",
				MaxImportedArgon2Memory, MaxImportedArgon2Iterations, MaxImportedArgon2Parallelism)
		}
		return nil
	case isBcrypt(encoded):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil {
			break
		}
		if cost > MaxImportedBcryptCost {
			return invalid("passwordHash", "costs more to verify than an imported hash may (bcrypt: at most cost %d)", MaxImportedBcryptCost)
		}
		return nil
	}
	return invalid("passwordHash", "must be an argon2id or bcrypt hash")
}

// checkImportedID returns an ErrInvalid naming "id" unless id is 1 to 64 characters that are
// safe in a URL path without escaping: IDs from other systems are kept as they are.
func checkImportedID(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return invalid("id", "must be 1 to 64 characters")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return invalid("id", "may hold only letters, digits, '-', '_', '.' and '~'")
		}
	}
	return nil
}

// prepareImport returns the user to store for in, normalised and checked, or the reason to
// reject it.
func (s *service) prepareImport(in *User, now time.Time) (*User, error) {
	if in == nil {
		return nil, invalid("", "is empty")
	}
	u := in.Clone()
	if u.ID == "" {
		u.ID = newID()
	} else if err := checkImportedID(u.ID); err != nil {
		return nil, err
	}
	if err := u.NormalizeWith(s.NameRules()); err != nil {
		return nil, err
	}
	if err := checkImportedHash(u.PasswordHash); err != nil {
		return nil, err
	}
	if u.Created.IsZero() {
		u.Created = now
	}
	if u.Updated.IsZero() {
		u.Updated = u.Created
	}
	u.Created, u.Updated = CanonicalTime(u.Created), CanonicalTime(u.Updated)
	u.Version = 0
	return u, nil
}

func (s *service) Import(ctx context.Context, us []*User) ([]ImportResult, error) {
	if err := authorize(ctx, ActionImport, nil); err != nil {
		return nil, err
	}
	if len(us) > MaxImportBatch {
		return nil, invalid("users", "more than %d users in one import", MaxImportBatch)
	}
	results := make([]ImportResult, len(us))
	prepared := make([]*User, len(us))
	// Clashes inside the batch are found here, so that the store only meets clashes with
	// users it holds.
	seen := make(map[string]string, 3*len(us)) // key -> the field it is
	now := s.now()
	for i, in := range us {
		u, err := s.prepareImport(in, now)
		if err != nil {
			results[i] = ImportResult{Status: ImportRejected, Err: err}
			if in != nil {
				results[i].ID = in.ID
			}
			continue
		}
		results[i].ID = u.ID
		keys := [...]struct{ field, key string }{{"id", "i" + u.ID}, {"username", "u" + Fold(u.Username)}, {"email", "e" + Fold(u.Email)}}
		clash := ""
		for _, k := range keys {
			if _, ok := seen[k.key]; ok && clash == "" {
				clash = k.field
			}
		}
		if clash != "" {
			results[i].Status, results[i].Err = ImportSkipped, conflict(clash, "is taken by an earlier user of the import")
			continue
		}
		for _, k := range keys {
			seen[k.key] = k.field
		}
		prepared[i] = u
	}
	// A user the store refuses for another reason than a clash is a suspect: the batch is
	// stored again, the suspect in a savepoint of its own, so that if the store refuses it
	// again it is rejected alone, and if it does not (the store failed for a moment) it is
	// created with the others.
	suspects := make(map[int]bool)
	for {
		refused := -1
		err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
			refused = -1
			for i, u := range prepared {
				if u == nil {
					continue
				}
				var err error
				if suspects[i] {
					err = tx.Atomic(ctx, func(ctx context.Context, tx Store) error { return tx.CreateUser(ctx, u.Clone()) })
				} else {
					err = tx.CreateUser(ctx, u.Clone())
				}
				switch {
				case err == nil:
					results[i].Status, results[i].Err = ImportCreated, nil
				case errors.Is(err, ErrConflict):
					results[i].Status, results[i].Err = ImportSkipped, err
				case suspects[i] && ctx.Err() == nil:
					s.log.WarnContext(ctx, "users: the store refused an imported user", "user", u.ID, "err", err)
					results[i].Status, results[i].Err = ImportRejected, refusedErr(err)
				default:
					refused = i
					return err
				}
			}
			return nil
		})
		if err == nil {
			break
		}
		if refused < 0 || len(suspects) == maxImportRefusals || ctx.Err() != nil {
			return nil, s.storeErr(ctx, "import users", err)
		}
		suspects[refused] = true
	}
	created := 0
	for _, r := range results {
		if r.Status == ImportCreated {
			created++
		}
	}
	if created > 0 {
		s.emit(ctx, Event{Type: EventUsersImported})
	}
	return results, nil
}

func (s *service) Export(ctx context.Context, fn func(*User) error) error {
	if err := authorize(ctx, ActionExport, nil); err != nil {
		return err
	}
	q := Query{Sort: []Sort{{Field: "id"}}, Limit: exportPage}
	for {
		nq, err := q.Normalize()
		if err != nil {
			return internal(err)
		}
		page, err := s.store.ListUsers(ctx, nq)
		if err != nil {
			return s.storeErr(ctx, "list users", err)
		}
		for _, u := range page {
			if err := fn(u); err != nil {
				return err
			}
		}
		if len(page) < exportPage {
			return nil
		}
		q.Conditions = []Condition{{Field: "id", Op: OpGt, Value: page[len(page)-1].ID}}
	}
}
