package users

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
)

// PasswordChecker is an extra check of new passwords, after the PasswordPolicy's own: for
// example a look-up in a breached-password service (such as Have I Been Pwned's k-anonymity
// range API, which is sent only the first five hexadecimal digits of the password's SHA-1).
// Implementations must be safe for concurrent use, must not log, store or send the password
// (nor anything from which it is easily recovered), and must not modify u.
type PasswordChecker interface {
	// CheckPassword returns nil to accept password for the user u, and an error to refuse it.
	// ctx carries a deadline (PasswordPolicy.CheckerTimeout); give up when it ends. An
	// *Error is returned to the caller as it is: its Message is shown to the user, so it
	// must never contain the password. Any other error is returned wrapped in an ErrInvalid
	// naming the field "password", with a fixed message. Every error refuses the password:
	// to accept passwords while the service cannot answer (to fail open), return nil; to
	// answer that the password cannot be checked now, return an *Error of CodeInternal or
	// CodeOverloaded rather than blaming the password. u is the user as they will be once
	// the password is set, without their password hash; its ID is new for a user not yet
	// created. CheckPassword is not called for the passwords the Service generates
	// (GeneratePassword): they are random.
	CheckPassword(ctx context.Context, password string, u *User) error
}

// MaxScoredPasswordLength is how many characters at the start of a password the strength
// estimator scores. Its cost grows much faster than the length: on one core, under 1 ms of
// CPU for a typical passphrase and about 6 ms for the costliest 32 characters measured, but
// 0.3 to 1.2 s (and up to 200 MB of garbage) for 256, and every sign-up pays it. So the
// characters after these add nothing to the score: a password whose first 32 characters are
// easy to guess is refused, however long it is, while one that starts well passes whatever
// follows. A passphrase such as "correct horse battery staple" is scored whole.
const MaxScoredPasswordLength = 32

// minUserWordLength is the shortest part of a username, e-mail address or name the estimator
// looks for in a password: shorter ones (initials, "co") would match too much to mean anything.
const minUserWordLength = 3

// passwordStrength scores password from 0 (easy to guess) to 4 (very hard to guess) with the
// zxcvbn estimator, which looks for common passwords, words, names, keyboard patterns,
// repeats, sequences and dates, and for the words of u (nil for none). Only the first
// MaxScoredPasswordLength characters are scored. reason is why the password scored as it did,
// a clause for a person to act on ("it is a common password"); it is empty when there is
// nothing more specific to say than that the password is short or simple. Neither repeats the
// password.
func passwordStrength(password string, u *User) (score int, reason string) {
	if n := utf8.RuneCountInString(password); n > MaxScoredPasswordLength {
		i := 0
		for range MaxScoredPasswordLength {
			_, size := utf8.DecodeRuneInString(password[i:])
			i += size
		}
		password = password[:i]
	}
	r := zxcvbn.PasswordStrength(password, userWords(u))
	return r.Score, weakness(r.Sequence)
}

// userWords returns what of u a password should not be made of: the username, the e-mail
// address and the name, each whole and cut into words (the local part and the words of the
// domain of an address but its top-level domain, the parts of a name), folded and without
// duplicates.
func userWords(u *User) []string {
	if u == nil {
		return nil
	}
	seen := make(map[string]bool)
	var words []string
	add := func(w string) {
		if utf8.RuneCountInString(w) >= minUserWordLength && !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	for _, s := range []string{u.Username, u.Email, u.Name} {
		s = Fold(strings.TrimSpace(s))
		add(s)
		if local, domain, ok := strings.Cut(s, "@"); ok {
			add(local)
			if i := strings.LastIndexByte(domain, '.'); i >= 0 {
				domain = domain[:i] // the top-level domain ("com") says nothing of the user
			}
			s = local + " " + domain
		}
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
			add(w)
		}
	}
	return words
}

// weakness returns the reason zxcvbn's match sequence makes a password easy to guess, after
// the feedback of the original zxcvbn (which the Go port leaves out): the user's own words
// first, as the easiest to act on, then the longest match with something to say.
func weakness(seq []*match.Match) string {
	var longest *match.Match
	for _, m := range seq {
		if m.Pattern == "dictionary" && m.DictionaryName == "user_inputs" {
			return "it contains your username, e-mail address or name"
		}
		if m.Pattern != "bruteforce" && (longest == nil || len(m.Token) > len(longest.Token)) {
			longest = m
		}
	}
	if longest == nil {
		return ""
	}
	sole := len(seq) == 1
	switch longest.Pattern {
	case "dictionary":
		switch longest.DictionaryName {
		case "passwords":
			if sole && !longest.L33t && !longest.Reversed {
				return "it is a common password"
			}
			return "it is close to a common password"
		case "surnames", "male_names", "female_names":
			return "names are easy to guess"
		default: // english_wikipedia, us_tv_and_film
			if longest.Reversed {
				return "reversed words are easy to guess"
			}
			if sole {
				return "a single word is easy to guess"
			}
			if longest.L33t {
				return "predictable substitutions such as @ for a are easy to guess"
			}
		}
	case "spatial":
		return "keyboard patterns such as qwerty are easy to guess"
	case "repeat":
		return "repeated characters or words are easy to guess"
	case "sequence":
		return "sequences such as abc or 6543 are easy to guess"
	case "regex", "date":
		return "dates and years are easy to guess"
	}
	return ""
}

// weakPassword returns the ErrInvalid of a password that scored below the policy's minimum.
func weakPassword(reason string) *Error {
	if reason == "" {
		return invalid("password", "is too easy to guess: add another word or two; uncommon words are better")
	}
	return invalid("password", "is too easy to guess: %s; add another word or two", reason)
}

// checkerRefusal is the message of a PasswordChecker's error that is not an *Error.
const checkerRefusal = "is not accepted: choose another password"
