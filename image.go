package users

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	_ "image/jpeg" // registers the JPEG header reader for image.DecodeConfig
	_ "image/png"  // and the PNG one
	"net/http"
)

// imageTypes are the content types a profile image may have.
var imageTypes = map[string]bool{"image/jpeg": true, "image/png": true}

func (s *service) SetImage(ctx context.Context, userID string, data []byte) (*Image, error) {
	if actorOf(ctx) != nil { // who may not set the image learns nothing of what is wrong with it
		if _, err := lookup(ctx, s.store, ActionSetImage, userID); err != nil {
			return nil, s.storeErr(ctx, "get user", err)
		}
	}
	if len(data) > s.cfg.MaxImageBytes {
		return nil, &Error{Code: CodeTooLarge, Field: "image", Message: "is larger than the limit of profile images"}
	}
	ctype := http.DetectContentType(data)
	if !imageTypes[ctype] {
		return nil, &Error{Code: CodeUnsupportedMedia, Field: "image", Message: "must be a JPEG or PNG image"}
	}
	// Only the header is read: dimensions are checked before any pixel is decoded.
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != ctype {
		return nil, invalid("image", "is not a readable JPEG or PNG image")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > s.cfg.MaxImageSide || cfg.Height > s.cfg.MaxImageSide {
		return nil, invalid("image", "must be at most %d pixels wide and high", s.cfg.MaxImageSide)
	}
	sum := sha256.Sum256(data)
	img := &Image{
		UserID: userID, ContentType: ctype, Data: bytes.Clone(data), Width: cfg.Width, Height: cfg.Height,
		ETag: `"` + hex.EncodeToString(sum[:]) + `"`, Updated: s.now(),
	}
	err = s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if _, err := lookup(ctx, tx, ActionSetImage, userID); err != nil {
			return err
		}
		return tx.PutImage(ctx, img)
	})
	if err != nil {
		return nil, s.storeErr(ctx, "put image", err)
	}
	s.emit(ctx, Event{Type: EventUserUpdated, UserID: userID, ActorID: actorID(ctx, userID)})
	return img, nil
}

func (s *service) Image(ctx context.Context, userID string) (*Image, error) {
	if actorOf(ctx) != nil {
		if _, err := lookup(ctx, s.store, ActionRead, userID); err != nil {
			return nil, s.storeErr(ctx, "get user", err)
		}
	}
	img, err := s.store.GetImage(ctx, userID)
	if err != nil {
		return nil, s.storeErr(ctx, "get image", err)
	}
	return img, nil
}

func (s *service) DeleteImage(ctx context.Context, userID string) error {
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if _, err := lookup(ctx, tx, ActionSetImage, userID); err != nil {
			return err
		}
		return tx.DeleteImage(ctx, userID)
	})
	if err != nil {
		return s.storeErr(ctx, "delete image", err)
	}
	s.emit(ctx, Event{Type: EventUserUpdated, UserID: userID, ActorID: actorID(ctx, userID)})
	return nil
}
