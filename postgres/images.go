package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gousers/users"
)

// PutImage stores img as its user's profile image, replacing any earlier one. It returns
// ErrNotFound when the user does not exist. It is one statement, which finds the user's row
// and writes the image or writes nothing.
func (s *Store) PutImage(ctx context.Context, img *users.Image) error {
	data := img.Data
	if data == nil {
		data = []byte{} // an empty bytea, not NULL
	}
	return s.write(ctx, false, func(q querier) error {
		tag, err := q.Exec(ctx, s.sql(`INSERT INTO _S_.user_images (user_id, content_type, data,
			width, height, etag, updated) SELECT id, $2, $3, $4, $5, $6, $7 FROM _S_.users WHERE id = $1
			ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type,
			data = excluded.data, width = excluded.width, height = excluded.height,
			etag = excluded.etag, updated = excluded.updated`),
			img.UserID, img.ContentType, data, img.Width, img.Height, img.ETag, ts(img.Updated))
		if err == nil && tag.RowsAffected() == 0 {
			return users.NotFoundError("user")
		}
		return err
	})
}

// GetImage returns the user's profile image, or ErrNotFound when they have none (or do not
// exist).
func (s *Store) GetImage(ctx context.Context, userID string) (*users.Image, error) {
	img := users.Image{UserID: userID}
	var updated time.Time
	err := s.read(ctx, func(q querier) error {
		return q.QueryRow(ctx, s.sql(`SELECT content_type, data, width, height, etag, updated
			FROM _S_.user_images WHERE user_id = $1`), userID).
			Scan(&img.ContentType, &img.Data, &img.Width, &img.Height, &img.ETag, &updated)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, users.NotFoundError("image")
	}
	if err != nil {
		return nil, err
	}
	if len(img.Data) == 0 {
		img.Data = nil // as Image.Clone keeps an empty image
	}
	img.Updated = updated.UTC()
	return &img, nil
}

// DeleteImage removes the user's profile image. It returns ErrNotFound when they have none
// (or do not exist).
func (s *Store) DeleteImage(ctx context.Context, userID string) error {
	return s.write(ctx, false, func(q querier) error {
		tag, err := q.Exec(ctx, s.sql("DELETE FROM _S_.user_images WHERE user_id = $1"), userID)
		if err == nil && tag.RowsAffected() == 0 {
			return users.NotFoundError("image")
		}
		return err
	})
}
