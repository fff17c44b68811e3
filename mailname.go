package users

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMailNameLength is the most characters of a user's name a Mail carries (see MailName).
const MaxMailNameLength = 64

// linkLike matches what a mail reader may turn into a link or take for an address: a scheme
// ("https://"), "www.", an "@", or a dotted name such as "example.com", with full stops of
// any width.
var linkLike = regexp.MustCompile(`(?i)://|www[.。．｡]|@|＠|[\p{L}\p{N}_-][.。．｡][\p{L}\p{N}]{2,}`)

// MailName returns name as a mail may show it: without control and format characters (line
// breaks, bidirectional overrides, zero-width characters), with each run of spaces made one
// space, and cut to MaxMailNameLength characters. A name that looks like it carries a link or
// an address ("://", "www.", "@", or a dotted name such as "example.com") is left out whole:
// the result is then empty. It does not escape for HTML: that is the template's job.
// MailName(MailName(s)) == MailName(s).
func MailName(name string) string {
	var b strings.Builder
	space := false
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.Is(unicode.Cc, r) && !unicode.IsSpace(r), unicode.Is(unicode.Cf, r):
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	s := b.String()
	if linkLike.MatchString(s) {
		return ""
	}
	if utf8.RuneCountInString(s) > MaxMailNameLength {
		i := 0
		for range MaxMailNameLength {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
		s = strings.TrimRight(s[:i], " ")
	}
	return s
}

// mailName returns the name a mail to u carries: none when u's address is not verified, for
// whoever registered it may not own it, and MailName(u.Name) otherwise.
func mailName(u *User) string {
	if !u.EmailVerified {
		return ""
	}
	return MailName(u.Name)
}
