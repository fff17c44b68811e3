package users

import (
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
)

// TestFoldShortcuts holds Fold's shortcuts (ASCII, the table, text already folded, text that
// folds as it lower-cases) to the full folding, for every character alone and between others.
func TestFoldShortcuts(t *testing.T) {
	bad := 0
	for r := rune(0); r <= unicode.MaxRune && bad < 10; r++ {
		if r >= 0xd800 && r <= 0xdfff || r >= 0x40000 && r < 0xe0000 || r >= 0xf0000 {
			continue // surrogates; planes with nothing assigned but private use
		}
		for _, s := range []string{string(r), "a" + string(r), "\u00df" + string(r) + "B"} {
			if got, want := Fold(s), foldSlow(s); got != want {
				assert.Equal(t, want, got, "Fold(%+q)", s)
				bad++
			}
		}
	}
}

// TestFoldShortcutsPairs folds the letters of Latin, Greek and Cyrillic beside the marks and
// letters that fold specially, in both orders.
func TestFoldShortcutsPairs(t *testing.T) {
	special := []rune{0x300, 0x301, 0x307, 0x308, 0x345, 0x130, 0x131, 0xdf, 0x1e9e, 0x3a3, 0x3c2, 0x390, 0x200b, 0x49, 0x69}
	for r := rune(0xc0); r < 0x530; r++ {
		for _, x := range special {
			for _, s := range []string{string(r) + string(x), string(x) + string(r)} {
				if got, want := Fold(s), foldSlow(s); got != want {
					t.Fatalf("Fold(%+q) = %+q, want %+q", s, got, want)
				}
			}
		}
	}
}

// TestInvisibleShortcut holds invisible's shortcut to the Unicode tables, for every character.
func TestInvisibleShortcut(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		want := unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
			unicode.Is(unicode.Variation_Selector, r)
		if invisible(r) != want {
			t.Fatalf("invisible(%U) = %v", r, !want)
		}
	}
}

// FuzzFoldShortcuts holds Fold's shortcuts to the full folding on any text.
func FuzzFoldShortcuts(f *testing.F) {
	for _, s := range []string{"Alice", "ＡＬＩＣＥ", "Stra\u00dfe", "\u0130stanbul", "\u039f\u0394\u039f\u03a3", "\u13a0\uab70", "ad\u200bmin", "a\xffb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		assert.Equal(t, foldSlow(s), Fold(s), "Fold(%+q)", s)
	})
}
