package vcard

import (
	"fmt"
	"os"

	"github.com/coolkey-go/coolkey-go/internal/atomicfile"
)

// FileStore keeps a card image in a file, replaced atomically on every save
// (temporary file in the same directory, fsync, rename, fsync of the
// directory). The file holds the card's keys, so it is written with mode
// 0600.
type FileStore struct {
	Path string
}

// Save writes the image.
func (s FileStore) Save(img *Image) error {
	b, err := img.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(s.Path, b, 0o600)
}

// Load reads and validates the image, first removing temporary files a
// killed writer may have left next to it.
func (s FileStore) Load() (*Image, error) {
	if err := atomicfile.RemoveStale(s.Path); err != nil {
		return nil, err
	}
	return LoadImage(s.Path)
}

// LoadImage reads and validates a card image file.
func LoadImage(path string) (*Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := ParseImage(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// WriteImage writes an image file atomically.
func WriteImage(path string, img *Image) error { return FileStore{Path: path}.Save(img) }
