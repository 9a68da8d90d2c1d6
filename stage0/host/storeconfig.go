package host

import (
	"fmt"
	"time"

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
	// StallTimeout ends a download (image, signature, key, discovery
	// page, registry blob) that receives less than fetch.MinProgress
	// bytes in this long: fetch.Options.StallTimeout, for the commands
	// without --stall-timeout and the aci@ units, whose command line
	// the operator does not write. 0 means fetch.DefaultStallTimeout,
	// negative never ("0" in the file).
	StallTimeout time.Duration
	// StallSource is the file StallTimeout comes from; "" for the
	// default.
	StallSource string
}

// storeFile is a store.d file, in the shape of rkt's configuration files:
//
//	{"rktKind": "store", "rktVersion": "v1", "maxImageSize": "16Gi", "stallTimeout": "30s"}
//
// maxImageSize is a quantity (bytes, or with a suffix: Mi, Gi, Ti, G...);
// stallTimeout a Go duration, "0" for never.
type storeFile struct {
	RktKind      string `json:"rktKind"`
	RktVersion   string `json:"rktVersion"`
	MaxImageSize string `json:"maxImageSize"`
	StallTimeout string `json:"stallTimeout"`
}

// storeSettings are the settings one store.d file makes; a zero field is
// one it leaves alone.
type storeSettings struct {
	maxImageSize int64
	stallTimeout time.Duration // negative: never
}

// StoreConfig reads the *.json files of store.d, the system's then the
// local ones, each in name order: a setting in a later file overrides an
// earlier one. A file that cannot be read or understood is an error
// naming it.
func (h *Host) StoreConfig() (StoreConfig, error) {
	sc := StoreConfig{MaxImageSize: extract.DefaultMaxBytes}
	err := h.eachConfigFile(StoreConfigDir, func(path string, raw []byte) error {
		set, err := parseStoreFile(raw)
		if err != nil {
			return fmt.Errorf("store config %s: %w (want {\"rktKind\": \"store\", \"rktVersion\": \"v1\", \"maxImageSize\": \"16Gi\", \"stallTimeout\": \"1m\"})", path, err)
		}
		if set.maxImageSize != 0 {
			sc.MaxImageSize, sc.Source = set.maxImageSize, path
		}
		if set.stallTimeout != 0 {
			sc.StallTimeout, sc.StallSource = set.stallTimeout, path
		}
		return nil
	})
	if err != nil {
		return StoreConfig{}, err
	}
	return sc, nil
}

// parseStoreFile reads one store.d file.
func parseStoreFile(raw []byte) (storeSettings, error) {
	var f storeFile
	if err := parseConfigFile(raw, "store", &f, func() (string, string) { return f.RktKind, f.RktVersion }); err != nil {
		return storeSettings{}, err
	}
	var set storeSettings
	if f.MaxImageSize != "" {
		n, err := ParseImageSize(f.MaxImageSize)
		if err != nil {
			return storeSettings{}, err
		}
		set.maxImageSize = n
	}
	if f.StallTimeout != "" {
		d, err := ParseStallTimeout(f.StallTimeout)
		if err != nil {
			return storeSettings{}, fmt.Errorf("stallTimeout: %w", err)
		}
		set.stallTimeout = d
		if d == 0 {
			set.stallTimeout = -1
		}
	}
	return set, nil
}

// ParseStallTimeout reads a stall timeout (store.d's stallTimeout, the
// --stall-timeout of fetch, run and prepare): a Go duration ("30s", "2m"),
// "0" for never, and at least a second otherwise (less would end any
// transfer over a slow link).
func ParseStallTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("stall timeout %q is not a duration such as 30s or 2m (0: never)", s)
	}
	if d < 0 || d > 0 && d < time.Second {
		return 0, fmt.Errorf("stall timeout %q is less than 1s (0: never)", s)
	}
	return d, nil
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
