package testutil_test

import (
	"fmt"
	"log/slog"

	"github.com/gousers/users/internal/testutil"
)

func ExampleSyncBuffer() {
	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	log.Info("signed in", "user", "ada")
	fmt.Print(logs.String())
	// Output: level=INFO msg="signed in" user=ada
}
