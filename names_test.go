package users_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nameCase is one input to NameRules: either it prepares to want, or it is refused with an
// ErrInvalid whose message contains refused. like, when set, is a plain name that must fold
// to the same key as the prepared one: the two are one account.
type nameCase struct {
	name    string
	in      string
	want    string
	like    string
	refused string
}

func TestNameRulesEmail(t *testing.T) {
	const plain = "admin@example.com"
	tests := []nameCase{
		{name: "plain", in: plain, want: plain},
		{name: "trimmed", in: "  admin@example.com\t", want: plain},
		{name: "local part keeps its case, domain lower-cased", in: "Admin@Example.COM", want: "Admin@example.com", like: plain},
		{name: "zero-width space", in: "admin\u200b@example.com", refused: "invisible"},
		{name: "zero-width joiner between Latin letters", in: "ad\u200dmin@example.com", refused: "letters, digits"},
		{name: "soft hyphen", in: "ad\u00admin@example.com", refused: "invisible"},
		{name: "byte-order mark first", in: "\ufeffadmin@example.com", refused: "invisible"},
		{name: "right-to-left override", in: "\u202eadmin@example.com", refused: "invisible"},
		{name: "left-to-right mark", in: "admin\u200e@example.com", refused: "invisible"},
		{name: "word joiner", in: "ad\u2060min@example.com", refused: "invisible"},
		{name: "variation selector", in: "admin\ufe0f@example.com", refused: "invisible"},
		{name: "Hangul filler", in: "admin\u3164@example.com", refused: "invisible"},
		{name: "fullwidth letter", in: "ａdmin@example.com", want: plain, like: plain},
		{name: "all fullwidth local part", in: "ａｄｍｉｎ@example.com", want: plain, like: plain},
		{name: "decomposed accent composes", in: "rene\u0301@example.com", want: "ren\u00e9@example.com", like: "ren\u00e9@example.com"},
		{name: "precomposed accent", in: "ren\u00e9@example.com", want: "ren\u00e9@example.com"},
		{name: "Cyrillic a among Latin letters", in: "\u0430dmin@example.com", refused: "Cyrillic and Latin"},
		{name: "Greek omicron among Latin letters", in: "r\u03bfot@example.com", refused: "Latin and Greek"},
		{name: "all Cyrillic", in: "\u0438\u0432\u0430\u043d@example.com", want: "\u0438\u0432\u0430\u043d@example.com"},
		{name: "all Greek", in: "\u03b1\u03bb\u03c6\u03b1@example.com", want: "\u03b1\u03bb\u03c6\u03b1@example.com"},
		{name: "Japanese: Han with Hiragana", in: "\u3084\u307e\u3060\u592a\u90ce@example.jp", want: "\u3084\u307e\u3060\u592a\u90ce@example.jp"},
		{name: "Korean with Latin digits", in: "\ud55c\uad6d99@example.kr", want: "\ud55c\uad6d99@example.kr"},
		{name: "Turkish dotless i", in: "adm\u0131n@example.com", want: "adm\u0131n@example.com", like: plain},
		{name: "Turkish capital dotted I", in: "\u0130stanbul@example.com", want: "\u0130stanbul@example.com", like: "istanbul@example.com"},
		{name: "German sharp s", in: "stra\u00dfe@example.com", want: "stra\u00dfe@example.com", like: "strasse@example.com"},
		{name: "German capital sharp s", in: "STRA\u1e9eE@example.com", want: "STRA\u1e9eE@example.com", like: "strasse@example.com"},
		{name: "emoji", in: "\U0001F600@example.com", refused: "letters, digits"},
		{name: "ligature", in: "\ufb01le@example.com", refused: "letters, digits"},
		{name: "Hebrew local part", in: "\u05e9\u05dc\u05d5\u05dd@example.com", want: "\u05e9\u05dc\u05d5\u05dd@example.com"},
		{name: "Hebrew after Latin", in: "abc\u05e9\u05dc\u05d5\u05dd@example.com", refused: "right-to-left"},
		{name: "internationalized domain in ASCII form", in: "bob@B\u00dcCHER.de", want: "bob@xn--bcher-kva.de", like: "bob@xn--bcher-kva.de"},
		{name: "look-alike domain shows as punycode", in: "user@\u0430pple.com", want: "user@xn--pple-43d.com"},
		{name: "ASCII punctuation of e-mail", in: "a.b+c_d-e@example.com", want: "a.b+c_d-e@example.com"},
		{name: "space in the local part", in: "ad min@example.com", refused: "e-mail address"},
		{name: "no-break space in the local part", in: "ad\u00a0min@example.com", refused: "spaces"},
		{name: "control character", in: "ad\x01min@example.com", refused: "e-mail address"},
		{name: "not an address", in: "admin", refused: "e-mail address"},
		{name: "display name", in: "Admin <admin@example.com>", refused: "e-mail address"},
		{name: "bad internationalized domain", in: "bob@b\u00fccher..de", refused: "e-mail address"},
		{name: "domain without a dot", in: "bob@b\u00fccher", refused: "e-mail address"},
		{name: "empty", in: "  ", refused: "required"},
		{name: "too long", in: strings.Repeat("a", 250) + "@example.com", refused: "longer"},
	}
	for _, field := range []string{"username", "email"} {
		for _, tt := range tests {
			t.Run(field+"/"+tt.name, func(t *testing.T) {
				prepare := users.NameRules{}.Email
				if field == "username" {
					prepare = users.NameRules{}.Username
				}
				checkNameCase(t, prepare, field, tt)
			})
		}
	}
}

func TestNameRulesHandle(t *testing.T) {
	rules := users.NameRules{Usernames: users.UsernameHandle}
	tests := []nameCase{
		{name: "plain", in: "alice_92", want: "alice_92"},
		{name: "lower-cased", in: "  Alice_92 ", want: "alice_92"},
		{name: "shortest", in: "abc", want: "abc"},
		{name: "longest", in: strings.Repeat("a", 64), want: strings.Repeat("a", 64)},
		{name: "too short", in: "ab", refused: "3 to 64"},
		{name: "too long", in: strings.Repeat("a", 65), refused: "3 to 64"},
		{name: "two characters after composing", in: "e\u0301e", refused: "3 to 64"},
		{name: "e-mail address", in: "alice@example.com", refused: "without @"},
		{name: "zero-width space", in: "ali\u200bce", refused: "invisible"},
		{name: "soft hyphen", in: "ali\u00adce", refused: "invisible"},
		{name: "byte-order mark", in: "\ufeffalice", refused: "invisible"},
		{name: "right-to-left override", in: "alice\u202e", refused: "invisible"},
		{name: "fullwidth", in: "ＡＬＩＣＥ", want: "alice", like: "alice"},
		{name: "decomposed accent composes", in: "rene\u0301e", want: "ren\u00e9e", like: "ren\u00e9e"},
		{name: "Cyrillic a among Latin letters", in: "\u0430lice", refused: "Cyrillic and Latin"},
		{name: "Greek alpha among Latin letters", in: "\u03b1lice", refused: "Greek and Latin"},
		{name: "all Cyrillic", in: "\u0418\u0432\u0430\u043d", want: "\u0438\u0432\u0430\u043d"},
		{name: "Turkish dotless i", in: "al\u0131ce", want: "al\u0131ce", like: "alice"},
		{name: "Turkish capital dotted I", in: "AL\u0130CE", want: "ali\u0307ce", like: "alice"},
		{name: "German sharp s", in: "Stra\u00dfe", want: "stra\u00dfe", like: "strasse"},
		{name: "emoji", in: "alice\U0001F600", refused: "letters, digits"},
		{name: "space", in: "ali ce", refused: "spaces"},
		{name: "empty", in: "", refused: "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkNameCase(t, rules.Username, "username", tt) })
	}

	t.Run("e-mail addresses keep the address rules", func(t *testing.T) {
		got, err := rules.Email("Alice@Example.com")
		require.NoError(t, err)
		assert.Equal(t, "Alice@example.com", got)
	})
}

func TestNameRulesAllowMixedScripts(t *testing.T) {
	tests := []struct {
		name  string
		rules users.NameRules
		in    string
	}{
		{"address", users.NameRules{AllowMixedScripts: true}, "\u0430dmin@example.com"},
		{"handle", users.NameRules{Usernames: users.UsernameHandle, AllowMixedScripts: true}, "\u0430lice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rules.Username(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.in, got)
			_, err = tt.rules.Username("alice\u200b")
			assert.ErrorIs(t, err, users.ErrInvalid, "invisible characters stay refused")
		})
	}
}

// checkNameCase runs one nameCase through prepare.
func checkNameCase(t *testing.T, prepare func(string) (string, error), field string, tt nameCase) {
	t.Helper()
	got, err := prepare(tt.in)
	if tt.refused != "" {
		require.Error(t, err, "prepared to %q", got)
		assert.ErrorIs(t, err, users.ErrInvalid)
		var e *users.Error
		require.True(t, errors.As(err, &e))
		assert.Equal(t, field, e.Field)
		assert.Contains(t, e.Message, tt.refused)
		if trimmed := strings.TrimSpace(tt.in); len(trimmed) > 1 {
			assert.NotContains(t, err.Error(), trimmed, "the message never repeats the input")
		}
		return
	}
	require.NoError(t, err)
	assert.Equal(t, tt.want, got)
	again, err := prepare(got)
	require.NoError(t, err, "a prepared name prepares again")
	assert.Equal(t, got, again, "a prepared name prepares to itself")
	if tt.like != "" {
		assert.Equal(t, users.Fold(tt.like), users.Fold(got), "folds as %q", tt.like)
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ASCII lower-cased", "Alice@Example.COM", "alice@example.com"},
		{"fullwidth", "ＡＬＩＣＥ", "alice"},
		{"ligature", "\ufb01le", "file"},
		{"decomposed accent", "rene\u0301", "ren\u00e9"},
		{"precomposed accent", "REN\u00c9", "ren\u00e9"},
		{"zero-width space dropped", "ad\u200bmin", "admin"},
		{"soft hyphen dropped", "ad\u00admin", "admin"},
		{"byte-order mark dropped", "\ufeffadmin", "admin"},
		{"right-to-left override dropped", "admin\u202e", "admin"},
		{"variation selector dropped", "a\ufe0fb", "ab"},
		{"sharp s", "Stra\u00dfe", "strasse"},
		{"capital sharp s", "STRA\u1e9eE", "strasse"},
		{"final sigma", "\u039f\u0394\u039f\u03a3 \u03bf\u03b4\u03bf\u03c2", "\u03bf\u03b4\u03bf\u03c3 \u03bf\u03b4\u03bf\u03c3"},
		{"dotless i", "\u0131", "i"},
		{"capital dotted I", "\u0130", "i"},
		{"i with a dot above", "i\u0307", "i"},
		{"Cyrillic stays Cyrillic", "\u0410", "\u0430"},
		{"titlecase digraph", "\u01c5emal", "d\u017eemal"},
		{"fullwidth percent becomes the wildcard", "100\uff05", "100%"},
		{"invalid UTF-8", "a\xffB", "a\ufffdb"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := users.Fold(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, got, users.Fold(got), "idempotent")
		})
	}

	t.Run("folded ASCII does not allocate", func(t *testing.T) {
		s := strings.Repeat("alice@example.com", 2)
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = users.Fold(s) }))
	})
}

// TestServiceRefusesLookAlikes creates a user, then tries to create users whose usernames
// (or e-mail addresses) look the same: each is refused, as invalid or as taken, and never
// becomes a second account. Signing in with a look-alike that folds alike reaches the first.
func TestServiceRefusesLookAlikes(t *testing.T) {
	for _, mode := range []struct {
		name   string
		form   users.UsernameForm
		first  string
		others []string
	}{
		{"e-mail usernames", users.UsernameEmail, "admin@example.com", []string{
			"ADMIN@example.com", "admin@EXAMPLE.com", "admin\u200b@example.com", "ad\u00admin@example.com",
			"\ufeffadmin@example.com", "admin\u202e@example.com", "ａdmin@example.com", "\u0430dmin@example.com",
			"adm\u0131n@example.com", "ADM\u0130N@example.com",
		}},
		{"handles", users.UsernameHandle, "admin", []string{
			"ADMIN", "admin\u200b", "ad\u00admin", "\ufeffadmin", "admin\u202e", "\u0430dmin", "ＡＤＭＩＮ",
			"adm\u0131n", "ADM\u0130N",
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, func(c *users.Config) { c.Usernames = mode.form })
			ctx := context.Background()
			first, err := h.svc.Create(ctx, users.NewUser{Username: mode.first, Email: "first@example.com", Password: alicePassword})
			require.NoError(t, err)
			for i, name := range mode.others {
				_, err := h.svc.Create(ctx, users.NewUser{Username: name, Email: "other" + string(rune('a'+i)) + "@example.com", Password: alicePassword})
				require.Error(t, err, "%+q makes a second account", name)
				assert.True(t, errors.Is(err, users.ErrInvalid) || errors.Is(err, users.ErrConflict), "%+q: %v", name, err)
			}
			n, err := h.svc.Count(ctx, users.Query{})
			require.NoError(t, err)
			assert.Equal(t, 1, n)

			for _, name := range []string{mode.others[0], mode.others[1], mode.others[6]} {
				sess, err := h.svc.SignIn(ctx, name, alicePassword)
				if assert.NoError(t, err, "sign in as %+q", name) {
					assert.Equal(t, first.ID, sess.User.ID)
				}
				got, err := h.svc.GetByUsername(ctx, name)
				if assert.NoError(t, err, "GetByUsername(%+q)", name) {
					assert.Equal(t, first.ID, got.ID)
				}
			}
		})
	}

	t.Run("e-mail addresses", func(t *testing.T) {
		h := newHarness(t)
		ctx := context.Background()
		_, err := h.svc.Create(ctx, users.NewUser{Username: "alice@example.com", Email: "Shared@Example.com"})
		require.NoError(t, err)
		for _, email := range []string{"ｓhared@example.com", "SHARED@EXAMPLE.COM", "shared\u200b@example.com", "sh\u0430red@example.com"} {
			_, err := h.svc.Create(ctx, users.NewUser{Username: "bob@example.com", Email: email})
			require.Error(t, err, "%+q", email)
			assert.True(t, errors.Is(err, users.ErrInvalid) || errors.Is(err, users.ErrConflict), "%+q: %v", email, err)
		}
		got, err := h.svc.GetByEmail(ctx, "ｓhared@example.com")
		require.NoError(t, err)
		assert.Equal(t, "alice@example.com", got.Username)
	})
}

func TestServiceHandles(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.Usernames = users.UsernameHandle })
	ctx := context.Background()

	t.Run("create without an e-mail address", func(t *testing.T) {
		u, err := h.svc.Create(ctx, users.NewUser{Username: " Carol_1 ", Password: alicePassword})
		require.NoError(t, err)
		assert.Equal(t, "carol_1", u.Username)
		assert.Empty(t, u.Email, "the e-mail does not default to a handle")
		sess, err := h.svc.SignIn(ctx, "CAROL_1", alicePassword)
		require.NoError(t, err)
		assert.Equal(t, u.ID, sess.User.ID)
	})
	t.Run("create with an e-mail address", func(t *testing.T) {
		u, err := h.svc.Create(ctx, users.NewUser{Username: "dave", Email: "Dave@Example.com"})
		require.NoError(t, err)
		assert.Equal(t, "dave", u.Username)
		assert.Equal(t, "Dave@example.com", u.Email)
		got, err := h.svc.GetByEmail(ctx, "dave@example.com")
		require.NoError(t, err)
		assert.Equal(t, u.ID, got.ID)
	})
	t.Run("an e-mail address is not a handle", func(t *testing.T) {
		_, err := h.svc.Create(ctx, users.NewUser{Username: "erin@example.com"})
		assertCode(t, err, users.CodeInvalid, "username")
	})
	t.Run("update renames by the handle rules", func(t *testing.T) {
		u, err := h.svc.Create(ctx, users.NewUser{Username: "frank"})
		require.NoError(t, err)
		name := "Frank_2"
		got, err := h.svc.Update(ctx, u.ID, users.Update{Username: &name})
		require.NoError(t, err)
		assert.Equal(t, "frank_2", got.Username)
		taken := "CAROL_1"
		_, err = h.svc.Update(ctx, u.ID, users.Update{Username: &taken})
		assertCode(t, err, users.CodeConflict, "username")
		bad := "fr"
		_, err = h.svc.Update(ctx, u.ID, users.Update{Username: &bad})
		assertCode(t, err, users.CodeInvalid, "username")
	})
	t.Run("import by the handle rules", func(t *testing.T) {
		res, err := h.svc.Import(ctx, []*users.User{{Username: "Grace"}, {Username: "grace@example.com"}, {Username: "ＧＲＡＣＥ"}})
		require.NoError(t, err)
		require.Len(t, res, 3)
		assert.Equal(t, users.ImportCreated, res[0].Status)
		assert.Equal(t, users.ImportRejected, res[1].Status)
		assert.Equal(t, users.ImportSkipped, res[2].Status, "folds as the first")
	})
	t.Run("register needs an e-mail address", func(t *testing.T) {
		err := h.svc.Register(ctx, users.Registration{Username: "heidi", Password: alicePassword})
		assertCode(t, err, users.CodeInvalid, "email")
		require.NoError(t, h.svc.Register(ctx, users.Registration{Username: "Heidi", Email: "heidi@example.com", Password: alicePassword}))
		h.mail.waitFor(t, "heidi@example.com", users.MailVerifyEmail, 1)
		got, err := h.svc.GetByUsername(ctx, "HEIDI")
		require.NoError(t, err)
		assert.Equal(t, "heidi", got.Username)
	})
	t.Run("mixed scripts allowed by Config", func(t *testing.T) {
		h := newHarness(t, func(c *users.Config) { c.Usernames, c.AllowMixedScripts = users.UsernameHandle, true })
		u, err := h.svc.Create(ctx, users.NewUser{Username: "\u0430lice"})
		require.NoError(t, err)
		assert.Equal(t, "\u0430lice", u.Username)
		assert.Equal(t, users.NameRules{Usernames: users.UsernameHandle, AllowMixedScripts: true}, users.NameRulesOf(h.svc))
	})
	t.Run("unknown form refused", func(t *testing.T) {
		_, err := users.New(h.store, users.Config{Usernames: 7})
		assertCode(t, err, users.CodeInvalid, "Usernames")
	})
}

// TestUpdateKeepsOlderNames updates a user whose username and e-mail address were stored
// before the current rules (here: mixing scripts): fields other than the names can change,
// and so can the names, but only into names the rules accept.
func TestUpdateKeepsOlderNames(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	old := &users.User{ID: "0190a000-0000-7000-8000-000000000001", Username: "p\u0430ypal@example.com", Email: "p\u0430ypal@example.com",
		Scope: []string{users.RoleUser}, Status: users.StatusActive, Created: h.clock.Now(), Updated: h.clock.Now()}
	require.NoError(t, h.store.CreateUser(ctx, old))

	name := "Old Account"
	got, err := h.svc.Update(ctx, old.ID, users.Update{Name: &name})
	require.NoError(t, err, "an unchanged name is kept as stored")
	assert.Equal(t, old.Username, got.Username)
	assert.Equal(t, "Old Account", got.Name)

	same := "P\u0410YPAL@example.com"
	_, err = h.svc.Update(ctx, old.ID, users.Update{Username: &same})
	assertCode(t, err, users.CodeInvalid, "username")

	noEmail := &users.User{ID: "0190a000-0000-7000-8000-000000000002", Username: "n\u043eemail@example.com",
		Scope: []string{users.RoleUser}, Status: users.StatusActive, Created: h.clock.Now(), Updated: h.clock.Now()}
	require.NoError(t, h.store.CreateUser(ctx, noEmail))
	renamed := "noemail@example.com"
	got, err = h.svc.Update(ctx, noEmail.ID, users.Update{Username: &renamed})
	require.NoError(t, err)
	assert.Equal(t, renamed, got.Email, "an empty e-mail defaults to the new username, as ever")

	found, err := h.svc.GetByEmail(ctx, "p\u0430ypal@example.com")
	require.NoError(t, err, "an address stored under older rules is still found")
	assert.Equal(t, old.ID, found.ID)
	found, err = h.svc.GetByUsername(ctx, "P\u0410YPAL@EXAMPLE.COM")
	require.NoError(t, err)
	assert.Equal(t, old.ID, found.ID)
}
