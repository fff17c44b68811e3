package testutil

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Picture returns a w×h picture with a gradient, so that its encodings are not trivial.
func Picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{R: uint8(40 * x), G: uint8(60 * y), B: 200, A: 255})
		}
	}
	return img
}

// PNG returns Picture(w, h) encoded by image/png.
func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, Picture(w, h)))
	return buf.Bytes()
}

// JPEG returns Picture(w, h) encoded by image/jpeg.
func JPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, Picture(w, h), nil))
	return buf.Bytes()
}

// GIF returns Picture(w, h) encoded by image/gif.
func GIF(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, gif.Encode(&buf, Picture(w, h), nil))
	return buf.Bytes()
}

// NoisyPNG returns a w×h PNG of pseudo-random pixels, which do not compress: its size is about
// 4×w×h bytes. The same arguments give the same bytes.
func NoisyPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// PNGHeader returns the signature and IHDR chunk of an 8-bit RGBA PNG claiming the
// dimensions, followed by nothing: what a decompression bomb starts with. Its checksum is
// valid, unless badCRC is set.
func PNGHeader(w, h uint32, badCRC bool) []byte {
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // bit depth 8, colour type RGBA; compression, filter, interlace 0
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.WriteString("IHDR")
	b.Write(ihdr[:])
	crc := crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr[:]...))
	if badCRC {
		crc++
	}
	_ = binary.Write(&b, binary.BigEndian, crc)
	return b.Bytes()
}
