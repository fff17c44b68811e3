package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/gousers/users"
)

// PutImage stores img as its user's profile image, replacing any earlier one. It returns
// ErrNotFound when the user does not exist. It is one statement, which finds the user's row
// and writes the image or writes nothing.
func (s *Store) PutImage(ctx context.Context, img *users.Image) error {
	data := img.Data
	if data == nil {
		data = []byte{} // an empty BLOB, not NULL
	}
	return s.write(ctx, func(ctx context.Context, q conn) error {
		// The WHERE clause also tells SQLite that ON CONFLICT is the upsert's, not a join's.
		res, err := q.ExecContext(ctx, `INSERT INTO user_images (seq, content_type, data, width,
			height, etag, updated) SELECT seq, ?, ?, ?, ?, ?, ? FROM users WHERE id = ?
			ON CONFLICT (seq) DO UPDATE SET content_type = excluded.content_type,
			data = excluded.data, width = excluded.width, height = excluded.height,
			etag = excluded.etag, updated = excluded.updated`,
			img.ContentType, data, img.Width, img.Height, img.ETag, micros(img.Updated), img.UserID)
		if err != nil {
			return dbError(ctx, err)
		}
		return oneRow(ctx, res, "user")
	})
}

// GetImage returns the user's profile image, or ErrNotFound when they have none (or do not
// exist).
func (s *Store) GetImage(ctx context.Context, userID string) (*users.Image, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var (
		img     = users.Image{UserID: userID}
		updated int64
	)
	err := s.reader().QueryRowContext(ctx, `SELECT i.content_type, i.data, i.width, i.height,
		i.etag, i.updated FROM users u JOIN user_images i ON i.seq = u.seq WHERE u.id = ?`, userID).
		Scan(&img.ContentType, &img.Data, &img.Width, &img.Height, &img.ETag, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, users.NotFoundError("image")
	}
	if err != nil {
		return nil, dbError(ctx, err)
	}
	if len(img.Data) == 0 {
		img.Data = nil // as Image.Clone keeps an empty image
	}
	img.Updated = fromMicros(updated)
	return &img, nil
}

// DeleteImage removes the user's profile image. It returns ErrNotFound when they have none
// (or do not exist).
func (s *Store) DeleteImage(ctx context.Context, userID string) error {
	return s.write(ctx, func(ctx context.Context, q conn) error {
		res, err := q.ExecContext(ctx,
			"DELETE FROM user_images WHERE seq = (SELECT seq FROM users WHERE id = ?)", userID)
		if err != nil {
			return dbError(ctx, err)
		}
		return oneRow(ctx, res, "image")
	})
}
