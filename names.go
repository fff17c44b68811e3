package users

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/secure/bidirule"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// UsernameForm is the form a Service's usernames take: see Config.Usernames.
type UsernameForm int

// The username forms.
const (
	// UsernameEmail makes a username an e-mail address, prepared as NameRules.Email prepares
	// one; a user's e-mail address defaults to their username. The default.
	UsernameEmail UsernameForm = iota
	// UsernameHandle makes a username a handle such as "alice_92": the PRECIS
	// UsernameCaseMapped profile of RFC 8265 (so it is stored in lower case), 3 to 64
	// characters, without "@". The e-mail address is then separate and optional.
	UsernameHandle
)

// Limits on handles (see UsernameHandle), in characters.
const (
	MinHandleLength = 3
	MaxHandleLength = 64
)

// String returns "email" or "handle".
func (f UsernameForm) String() string {
	switch f {
	case UsernameEmail:
		return "email"
	case UsernameHandle:
		return "handle"
	}
	return fmt.Sprintf("UsernameForm(%d)", int(f))
}

// NameRules are the rules by which usernames and e-mail addresses are prepared (brought into
// the one form they are stored in) and checked. The zero value is the default rules: a
// username is an e-mail address, and the letters of a name are of one script. A Service
// prepares names by the rules of its Config (see NameRulesOf); the package-level
// NormalizeUsername, NormalizeEmail and User.Normalize use the defaults.
//
// An e-mail address is trimmed and must have the form local@domain, without a display name,
// quotes or comments, in at most MaxUsernameLength bytes once prepared. Its local part is
// prepared with the PRECIS UsernameCasePreserved profile of RFC 8265: fullwidth forms become
// their ASCII twins, the text is put in Unicode normalization form C (a decomposed accent
// becomes the precomposed letter), and it may hold letters, digits, combining marks and the
// printable ASCII characters, but no symbol outside ASCII (no emoji), no space, and no
// invisible or formatting character (zero-width space, soft hyphen, byte-order mark,
// bidirectional controls such as the right-to-left override, variation selectors, Hangul
// fillers; the zero-width joiner and non-joiner only where the context rules of RFC 5892
// allow them, after a virama); its letters must not mix right-to-left and left-to-right text
// in a way RFC 5893 calls ambiguous. Its case is kept. Its domain is lower-cased; an internationalized
// domain is converted to its ASCII (punycode, "xn--") form by the IDNA lookup rules of
// UTS #46, so that a look-alike domain is plainly different when stored and shown, and mail
// reaches it without SMTPUTF8.
//
// A handle (UsernameHandle) is prepared with the PRECIS UsernameCaseMapped profile: as the
// local part above, and lower-cased; it has MinHandleLength to MaxHandleLength characters
// once prepared, and no "@", so that it is never taken for an e-mail address.
//
// Unless AllowMixedScripts is set, the letters and digits of a handle or of an address's
// local part must all be of one Unicode script (Latin, Cyrillic, Greek, Arabic, Han, ...);
// characters of the Common and Inherited scripts (ASCII digits and punctuation, combining
// marks) go with any script, and the combinations of Han with Hiragana and Katakana
// (Japanese), with Hangul (Korean) or with Bopomofo (Chinese), each possibly with Latin, count
// as one, as in the Highly Restrictive level of UTS #39. So "pаypal" with a Cyrillic "а" is
// refused, while an all-Cyrillic name is not: a name wholly in another script that only looks
// like a Latin one is not detected, for that needs Unicode's confusables data.
//
// Every error is an ErrInvalid *Error naming the field, whose message says what to change and
// never repeats the name. Uniqueness is decided on the prepared names by Fold.
//
// The rules decide what may be stored. Look-ups (sign-in, GetByUsername, GetByEmail and the
// flows that take an address) prepare what was typed the same way, and fall back to the typed
// text, folded, when the rules refuse it, so that users stored by older versions, or under
// other rules, are still found.
type NameRules struct {
	// Usernames is the form of usernames.
	Usernames UsernameForm
	// AllowMixedScripts turns off the one-script rule.
	AllowMixedScripts bool
}

// NameRulesOf returns the rules svc prepares names by: those of its Config for a Service made
// by New (or any Service with a method NameRules() NameRules), the defaults for another. It
// is safe for concurrent use.
func NameRulesOf(svc Service) NameRules {
	if s, ok := svc.(interface{ NameRules() NameRules }); ok {
		return s.NameRules()
	}
	return NameRules{}
}

// NameRules returns the rules the Service prepares names by.
func (s *service) NameRules() NameRules {
	return NameRules{Usernames: s.cfg.Usernames, AllowMixedScripts: s.cfg.AllowMixedScripts}
}

// check returns an ErrInvalid naming the Config field for rules it does not know.
func (r NameRules) check() error {
	if r.Usernames != UsernameEmail && r.Usernames != UsernameHandle {
		return invalid("Usernames", "must be UsernameEmail or UsernameHandle")
	}
	return nil
}

// Username prepares and checks a username: an e-mail address or a handle, as r.Usernames
// says. It returns the form to store, or an ErrInvalid *Error naming the field "username".
// It is safe for concurrent use.
func (r NameRules) Username(s string) (string, error) {
	if r.Usernames == UsernameHandle {
		return r.handle("username", s)
	}
	return r.address("username", s)
}

// Email prepares and checks an e-mail address. It returns the form to store, or an
// ErrInvalid *Error naming the field "email". It is safe for concurrent use.
func (r NameRules) Email(s string) (string, error) {
	return r.address("email", s)
}

// lookupName returns the form in which to look up a username someone typed: prepared, or,
// when the rules refuse it, only trimmed, so that a username stored under older rules is
// still found (the store folds it; see Fold).
func (r NameRules) lookupName(s string) string {
	if p, err := r.Username(s); err == nil {
		return p
	}
	return strings.TrimSpace(s)
}

// lookupEmail returns the form in which to look up an e-mail address someone typed:
// prepared, or, when the rules refuse it but it has the form of an address, only trimmed, so
// that an address stored under older rules is still found. It returns the ErrInvalid of
// Email for a string that is not an e-mail address at all.
func (r NameRules) lookupEmail(s string) (string, error) {
	p, err := r.Email(s)
	if err == nil {
		return p, nil
	}
	if t, ferr := addressForm("email", s); ferr == nil {
		return t, nil
	}
	return "", err
}

// addressForm trims s and checks that it has e-mail form: the check of older versions,
// which prepared nothing.
func addressForm(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalid(field, "is required")
	case len(s) > MaxUsernameLength:
		return "", invalid(field, "is longer than %d bytes", MaxUsernameLength)
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 || strings.ContainsAny(s, " \t<>\"(),;:[]\\"):
		return "", invalid(field, "must be an e-mail address")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", invalid(field, "must be an e-mail address")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || !strings.Contains(s[at+1:], ".") {
		return "", invalid(field, "must be an e-mail address")
	}
	return s, nil
}

// address prepares an e-mail address (see NameRules).
func (r NameRules) address(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkVisible(field, s); err != nil {
		return "", err
	}
	s, err := addressForm(field, s)
	if err != nil {
		return "", err
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local, err = r.prepare(field, precis.UsernameCasePreserved, local); err != nil {
		return "", err
	}
	if domain, err = asciiDomain(domain); err != nil {
		return "", invalid(field, "must have a valid domain name after the @")
	}
	s = local + "@" + domain
	if len(s) > MaxUsernameLength {
		return "", invalid(field, "is longer than %d bytes", MaxUsernameLength)
	}
	return s, nil
}

// handle prepares a handle (see UsernameHandle).
func (r NameRules) handle(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalid(field, "is required")
	case len(s) > 4*MaxHandleLength:
		return "", invalid(field, "must have %d to %d characters", MinHandleLength, MaxHandleLength)
	case !utf8.ValidString(s):
		return "", invalid(field, "must be valid UTF-8")
	}
	if err := checkVisible(field, s); err != nil {
		return "", err
	}
	if strings.ContainsRune(s, '@') {
		return "", invalid(field, "must be a handle, without @, not an e-mail address")
	}
	s, err := r.prepare(field, precis.UsernameCaseMapped, s)
	if err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(s); n < MinHandleLength || n > MaxHandleLength {
		return "", invalid(field, "must have %d to %d characters", MinHandleLength, MaxHandleLength)
	}
	return s, nil
}

// prepare applies a PRECIS profile to s, the local part of an address or a handle, and the
// one-script rule.
func (r NameRules) prepare(field string, p *precis.Profile, s string) (string, error) {
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", invalid(field, "must not contain spaces")
	}
	out, err := p.String(s)
	if err != nil {
		// The profile may report the bidi rule for a character it refuses anyway: ask the
		// class alone which fault it is.
		if _, cerr := identifierClass.String(s); cerr == nil && errors.Is(err, bidirule.ErrInvalid) {
			return "", invalid(field, "must not mix right-to-left and left-to-right text")
		}
		return "", invalid(field, "may contain only letters, digits, combining marks and ASCII punctuation")
	}
	if !r.AllowMixedScripts {
		if a, b := mixedScripts(out); a != "" {
			return "", invalid(field, "mixes letters of the %s and %s scripts; use letters of one script", a, b)
		}
	}
	return out, nil
}

// identifierClass is the PRECIS IdentifierClass with the mappings of the username profiles
// but not the bidi rule.
var identifierClass = precis.NewIdentifier(precis.FoldWidth, precis.Norm(norm.NFC))

// checkVisible refuses the characters that show nothing, or change how the text around them
// is shown: format characters (zero-width space, soft hyphen, byte-order mark, bidirectional
// controls), other default-ignorable characters and variation selectors. The zero-width
// joiner and non-joiner are left to the context rules of PRECIS, which allow them where a
// script needs them.
func checkVisible(field, s string) error {
	if strings.IndexFunc(s, func(r rune) bool { return r != zwnj && r != zwj && invisible(r) }) >= 0 {
		return invalid(field, "must not contain invisible or formatting characters")
	}
	return nil
}

const (
	zwnj = '\u200c' // zero-width non-joiner
	zwj  = '\u200d' // zero-width joiner
)

// invisible reports whether r is a format character, a default-ignorable one or a variation
// selector.
func invisible(r rune) bool {
	if r < 0xad || 0xad < r && r < 0x34f || 0x34f < r && r < 0x600 {
		return false // none in ASCII, Latin, Greek, Cyrillic, Armenian and Hebrew but these two
	}
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r)
}

// idnaProfile converts internationalized domain names: the lookup mapping of UTS #46
// (lower case, width, normalization), the validity and bidi rules of IDNA2008, and the DNS
// length limits.
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.Transitional(false))

// asciiDomain returns the domain lower-cased, converted to ASCII when it is internationalized.
func asciiDomain(domain string) (string, error) {
	if isASCII(domain) {
		return strings.ToLower(domain), nil
	}
	a, err := idnaProfile.ToASCII(domain)
	if err != nil {
		return "", err
	}
	if !strings.Contains(a, ".") {
		return "", errors.New("no dot")
	}
	return a, nil
}

// ASCIIDomain returns the address addr with an internationalized domain (after its last
// "@") in the ASCII ("xn--") form NameRules.Email stores it in. It returns addr unchanged when
// it has no "@", its domain is ASCII, or its domain is not a valid domain name. It is meant for
// stores upgrading addresses written by older versions, which kept such domains as typed, so
// that the Service, which looks addresses up in ASCII form, still finds them. It is safe for
// concurrent use.
func ASCIIDomain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || isASCII(addr[at+1:]) {
		return addr
	}
	d, err := asciiDomain(addr[at+1:])
	if err != nil {
		return addr
	}
	return addr[:at+1] + d
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// scripts are the Unicode scripts but Common and Inherited, the most used first, so that the
// script of a character is usually found in the first few tables.
var scripts = func() []string {
	first := []string{"Latin", "Cyrillic", "Greek", "Han", "Arabic", "Hiragana", "Katakana", "Hangul", "Hebrew", "Devanagari", "Thai"}
	var rest []string
	for name := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && !slices.Contains(first, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	return append(first, rest...)
}()

// scriptOf returns the script of r, or "" for Common, Inherited and unassigned characters.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	for _, name := range scripts {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	return ""
}

// oneScript are the sets of scripts that count as one (UTS #39, Highly Restrictive).
var oneScript = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Hangul"},
	{"Latin", "Han", "Bopomofo"},
}

// mixedScripts returns two scripts of s that do not go together, or "", "" when all of s's
// characters are of one script (see NameRules).
func mixedScripts(s string) (a, b string) {
	var seen []string
	for _, r := range s {
		if sc := scriptOf(r); sc != "" && !slices.Contains(seen, sc) {
			seen = append(seen, sc)
		}
	}
	if len(seen) < 2 {
		return "", ""
	}
	for _, set := range oneScript {
		if !slices.ContainsFunc(seen, func(sc string) bool { return !slices.Contains(set, sc) }) {
			return "", ""
		}
	}
	// Name two that no set holds together.
	for i, x := range seen {
		for _, y := range seen[i+1:] {
			if !slices.ContainsFunc(oneScript, func(set []string) bool { return slices.Contains(set, x) && slices.Contains(set, y) }) {
				return x, y
			}
		}
	}
	return seen[0], seen[len(seen)-1]
}

// Fold returns the folded form of a username, e-mail address, name or search text: the key
// under which uniqueness is decided and look-ups, searches and LIKE conditions match. Every
// Store keys users by Fold(Username) and Fold(Email), and compares folded names.
//
// Fold is Unicode's NFKC_Casefold in all but detail: the text is put in normalization form
// NFKC (fullwidth and other compatibility forms become their plain twins, decomposed accents
// compose), case-folded fully (so "ß" folds as "ss" and "Σ", "σ" and "ς" alike), and stripped
// of invisible characters (format characters such as the zero-width space, soft hyphen,
// byte-order mark and bidirectional controls, and variation selectors). Beyond that, the
// dotless "ı" folds as "i", and a dot above after "i" or "j" (as the full folding of the
// Turkish "İ" leaves) is dropped, so that no two names differing only there are two users.
// Invalid UTF-8 is read as U+FFFD. Compatibility forms of the LIKE wildcards (a fullwidth
// "％") fold to the wildcards themselves, in values and patterns alike.
//
// Fold is deterministic and idempotent (Fold(Fold(s)) == Fold(s)). ASCII text is only
// lower-cased, without allocating when it has no upper-case letter; text in NFC of the
// scripts below U+2000 (Latin, Greek, Cyrillic, Hebrew, Arabic, ...) is folded by a table, as
// fast as strings.ToLower; other text takes some microseconds. The table is built on the
// first call with text beyond ASCII, in some tens of milliseconds. Fold is safe for
// concurrent use.
func Fold(s string) string {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return foldUnicode(s)
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if !upper {
		return s
	}
	return strings.ToLower(s)
}

var caseFolder = cases.Fold() // stateless: safe for concurrent use

// dotAbove drops a combining dot above from the soft-dotted i and j, whose dot it repeats.
var dotAbove = strings.NewReplacer("i\u0307", "i", "j\u0307", "j")

func foldUnicode(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if t, ok := foldByTable(s); ok {
		return t
	}
	return foldNoTable(s)
}

// foldNoTable folds valid UTF-8 s without foldTable.
func foldNoTable(s string) string {
	// Most other text is folded already, or folds as it lower-cases: when the lower case is
	// in NFKC and already folded, it is the folded form (the case folding of a letter is that
	// of its lower case; TestFoldShortcuts checks every character).
	if norm.NFKC.IsNormalString(s) {
		if t := strings.ToLower(s); folded(t) {
			return t
		}
	}
	// One round is a fixed point for nearly all text; the loop makes Fold idempotent for
	// the rest, whose folding uncovers more to fold.
	for range 4 {
		t := foldOnce(s)
		if t == s || folded(t) {
			return t
		}
		s = t
	}
	return s
}

// foldTableEnd bounds the characters of foldTable: Latin, Greek, Cyrillic, Armenian, Hebrew,
// Arabic and the scripts of India, among others.
const foldTableEnd = 0x2000

// foldTables are the folded forms of the characters below foldTableEnd that fold alike in any
// text of such characters: the character and the characters of its folded form are in NFKC
// and combine with nothing before them, so that no two of them compose. one maps a character
// to its folded form when that is one character, to multi when it is more, and to none
// otherwise.
type foldTables struct {
	one   [foldTableEnd]rune
	multi map[rune]string
}

const (
	foldMulti = -1
	foldNone  = -2
)

var foldTable = sync.OnceValue(func() *foldTables {
	t := &foldTables{multi: map[rune]string{}}
	inert := func(s string) bool {
		for _, r := range s {
			c := string(r)
			if !norm.NFKC.IsNormalString(c) || !norm.NFKC.PropertiesString(c).BoundaryBefore() {
				return false
			}
		}
		return true
	}
	for r := range rune(foldTableEnd) {
		t.one[r] = foldNone
		s := string(r)
		if !inert(s) {
			continue
		}
		f := foldNoTable(s)
		if f == "" || !inert(f) || foldNoTable(f) != f {
			continue
		}
		if fr, n := utf8.DecodeRuneInString(f); n == len(f) {
			t.one[r] = fr
		} else {
			t.one[r], t.multi[r] = foldMulti, f
		}
	}
	return t
})

// foldByTable folds valid UTF-8 s with foldTable, one character at a time, and reports
// whether every character of s was in it.
func foldByTable(s string) (string, bool) {
	t := foldTable()
	var b []byte // nil while s is its own folded form
	for i, r := range s {
		if r >= foldTableEnd || t.one[r] == foldNone {
			return "", false
		}
		f := t.one[r]
		if f != r && b == nil {
			b = make([]byte, i, len(s)+8)
			copy(b, s[:i])
		}
		switch {
		case b == nil:
		case f == foldMulti:
			b = append(b, t.multi[r]...)
		default:
			b = utf8.AppendRune(b, f)
		}
	}
	if b == nil {
		return s, true
	}
	return string(b), true
}

// foldSlow is Fold without its shortcuts: foldOnce until nothing changes.
func foldSlow(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for range 4 {
		t := foldOnce(s)
		if t == s {
			break
		}
		s = t
	}
	return s
}

// foldBufs are buffers for folded, which the case folder reads as bytes.
var foldBufs = sync.Pool{New: func() any { return new([]byte) }}

// folded reports whether foldOnce would return s unchanged, without allocating: s is in
// NFKC, has nothing foldOnce maps or drops, and the case folder leaves all of it as it is. It
// may report false for some text foldOnce leaves (a dot above), never true for text it
// changes.
func folded(s string) bool {
	if !norm.NFKC.IsNormalString(s) {
		return false
	}
	for _, r := range s {
		if r == 'ı' || r == '\u0307' || invisible(r) {
			return false
		}
	}
	p := foldBufs.Get().(*[]byte)
	defer foldBufs.Put(p)
	*p = append((*p)[:0], s...)
	n, err := caseFolder.Span(*p, true)
	return err == nil && n == len(s)
}

func foldOnce(s string) string {
	s = norm.NFKC.String(s)
	s = strings.Map(func(r rune) rune {
		switch {
		case r == 'ı':
			return 'i'
		case invisible(r):
			return -1
		}
		return r
	}, s)
	s = caseFolder.String(s)
	if strings.Contains(s, "\u0307") {
		s = dotAbove.Replace(s)
	}
	return norm.NFKC.String(s)
}
