package sqlite

import (
	"errors"
	"io/fs"
	"os"
)

// privateMode is the mode of the files a Store creates: they hold every password hash and
// token digest, so only their owner may read them.
const privateMode fs.FileMode = 0o600

// createPrivate creates an empty file at path with privateMode, whatever the process's umask,
// unless a file is there already, which it leaves as it is; it reports whether it created
// one. SQLite then opens the file, and gives the -wal and -shm files it creates beside it the
// file's mode.
func createPrivate(path string) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, privateMode)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The umask may have cleared bits of the mode asked for: set it whole.
	if err := errors.Join(f.Chmod(privateMode), f.Close()); err != nil {
		os.Remove(path)
		return false, err
	}
	return true, nil
}
