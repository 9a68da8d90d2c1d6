package host

import (
	"fmt"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/stage0/store/extract"
)

// StoreConfigDir is the directory of the image store's settings under the
// system and the local configuration (SYSTEM-CONFIG/store.d, then
// LOCAL-CONFIG/store.d).
const StoreConfigDir = "store.d"

// StoreConfig is the host's settings for the image store.
type StoreConfig struct {
	// MaxImageSize bounds the content of the regular files one image
	// may expand to, in bytes: an archive announcing more is refused
	// before its content is written (a small compressed archive of zeros
	// is a bomb that would fill the disk). fetch --max-image-size
	// overrides it for one command.
	MaxImageSize int64
	// Source is the file MaxImageSize comes from; "" for the default.
	Source string
}

// storeFile is a store.d file, in the shape of rkt's configuration files:
//
//	{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "16Gi"}
//
// maxImageSize is a quantity (bytes, or with a suffix: Mi, Gi, Ti, G...).
type storeFile struct {
	RktKind      string `json:"rktKind"`
	RktVersion   string `json:"rktVersion"`
	MaxImageSize string `json:"maxImageSize"`
}

// StoreConfig reads the *.json files of store.d, the system's then the
// local ones, each in name order: a setting in a later file overrides an
// earlier one. A file that cannot be read or understood is an error
// naming it.
func (h *Host) StoreConfig() (StoreConfig, error) {
	sc := StoreConfig{MaxImageSize: extract.DefaultMaxBytes}
	err := h.eachConfigFile(StoreConfigDir, func(path string, raw []byte) error {
		n, err := parseStoreFile(raw)
		if err != nil {
			return fmt.Errorf("store config %s: %w (want {\"rktKind\": \"store\", \"rktVersion\": \"v1\", \"maxImageSize\": \"16Gi\"})", path, err)
		}
		if n != 0 {
			sc.MaxImageSize, sc.Source = n, path
		}
		return nil
	})
	if err != nil {
		return StoreConfig{}, err
	}
	return sc, nil
}

// parseStoreFile reads one store.d file and returns its maxImageSize in
// bytes, 0 when it sets none.
func parseStoreFile(raw []byte) (int64, error) {
	var f storeFile
	if err := parseConfigFile(raw, "store", &f, func() (string, string) { return f.RktKind, f.RktVersion }); err != nil {
		return 0, err
	}
	if f.MaxImageSize == "" {
		return 0, nil
	}
	return ParseImageSize(f.MaxImageSize)
}

// ParseImageSize reads a maxImageSize (store.d, fetch --max-image-size): a
// quantity of bytes ("16Gi", "500M", "1073741824"), at least one MiB.
func ParseImageSize(s string) (int64, error) {
	n, err := aci.ParseQuantity(s, 1)
	if err != nil {
		return 0, err
	}
	if n < 1<<20 {
		return 0, fmt.Errorf("image size %q is less than 1Mi", s)
	}
	return n, nil
}
