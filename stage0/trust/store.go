// Package trust keeps the OpenPGP keys acirun trusts, scoped by image name
// prefix, and verifies detached image signatures against them.
//
// The key store has rkt's layout, in two directories: a system one
// (packaged keys, default /usr/lib/acirun/trustedkeys) and a local one
// (the operator's, default /etc/acirun/trustedkeys, the only one acirun
// writes). Each holds
//
//	root.d/FINGERPRINT               trusted for every image name
//	prefix.d/PREFIX/FINGERPRINT      trusted for PREFIX and names below it
//
// where PREFIX is an AC Identifier stored as nested directories
// (prefix.d/example.com/hello/...) and FINGERPRINT is the key's full
// lower-case hex fingerprint. A file whose name is not its key's
// fingerprint, that does not parse, or that holds more than one key is
// ignored with a warning. A zero-size file in the local directory is a
// mask: it distrusts the system key with that fingerprint for every image
// name its location covers (root.d: all names). Masks never affect local
// keys.
//
// Prefixes match whole path segments: a key for example.com/hello covers
// example.com/hello and example.com/hello/x but not example.com/helloworld.
//
// Verification (verify.go) decides accept or refuse, with go-crypto doing
// the cryptography; a refusal is a *VerifyError whose reason is one of the
// Err* values (errors.Is), explained in refusal.go with the image, the key,
// the specifics and what to do. Where the policy is stricter than
// go-crypto's own verification (SHA-1, a key expired or revoked in any
// stored copy now), the tests say so case by case, and fail if go-crypto's
// verdict on any case of the suite changes (library_test.go).
package trust

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/stage0/imagename"
)

// Directory names inside a trusted keys directory.
const (
	RootDir   = "root.d"
	PrefixDir = "prefix.d"
)

// maxPrefixDepth bounds the walk of prefix.d in List, which follows
// symbolic links and so could otherwise loop.
const maxPrefixDepth = 32

// ErrNotFound is returned by Remove when no key has the fingerprint.
var ErrNotFound = errors.New("no such trusted key")

// Store is a trusted key store. Its fields may be set after NewStore and
// before first use; a Store is safe for concurrent use since it keeps no
// state besides them (every call reads the directories afresh, so a key
// added by `acirun trust` is seen by the next fetch).
type Store struct {
	// SystemDir and LocalDir are the trustedkeys directories, e.g.
	// /usr/lib/acirun/trustedkeys and /etc/acirun/trustedkeys. Either may
	// be missing on disk.
	SystemDir string
	LocalDir  string
	// Warnings receives one line per ignored key file. Nil discards them.
	Warnings io.Writer
	// Now is the clock for expiry and revocation checks. Nil means
	// time.Now.
	Now func() time.Time
}

// NewStore returns a Store over the given system and local trustedkeys
// directories (not their parents: pass .../trustedkeys).
func NewStore(systemDir, localDir string) *Store {
	return &Store{SystemDir: systemDir, LocalDir: localDir}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) warnf(format string, args ...any) {
	if s.Warnings != nil {
		fmt.Fprintf(s.Warnings, "warning: "+format+"\n", args...)
	}
}

// keyFile is one file found in a root.d or prefix.d/PREFIX directory.
type keyFile struct {
	path    string
	name    string
	system  bool
	root    bool
	prefix  string
	mask    bool // zero-size local file
	entity  *openpgp.Entity
	problem string // non-empty: ignored
}

// locDir returns the directory of a location in base.
func locDir(base string, root bool, prefix string) string {
	if root {
		return filepath.Join(base, RootDir)
	}
	return filepath.Join(base, PrefixDir, filepath.FromSlash(prefix))
}

// readLocation reads the key files directly in root.d or
// prefix.d/PREFIX of base. Subdirectories (deeper prefixes) and hidden
// files (our temporary files) are skipped. A missing directory is empty.
func readLocation(base string, system, root bool, prefix string) ([]keyFile, error) {
	if base == "" {
		return nil, nil
	}
	dir := locDir(base, root, prefix)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if errors.Is(err, syscall.ENOTDIR) {
		// A file where a prefix directory belongs trusts nothing.
		return []keyFile{{path: dir, system: system, root: root, prefix: prefix, problem: "not a directory"}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read trusted keys: %w", err)
	}
	var out []keyFile
	for _, de := range statEntries(dir, ents) {
		if de.err != nil {
			out = append(out, keyFile{path: de.path, name: de.name, system: system, root: root, prefix: prefix, problem: de.err.Error()})
			continue
		}
		if de.fi.IsDir() {
			continue
		}
		out = append(out, loadKeyFile(de.path, de.name, de.fi, system, root, prefix))
	}
	return out, nil
}

// statEntry is an entry of a directory of keys, with what os.Stat says of
// it (a symlink followed, as the key is read through it).
type statEntry struct {
	name, path string
	fi         fs.FileInfo
	err        error
}

// statEntries stats the entries ents of dir that may be key files or prefix
// directories: hidden names (our temporary files) are skipped.
func statEntries(dir string, ents []fs.DirEntry) []statEntry {
	var out []statEntry
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		out = append(out, statEntry{name: name, path: p, fi: fi, err: err})
	}
	return out
}

// loadKeyFile reads and checks one key file.
func loadKeyFile(p, name string, fi fs.FileInfo, system, root bool, prefix string) keyFile {
	kf := keyFile{path: p, name: name, system: system, root: root, prefix: prefix}
	switch {
	case !fi.Mode().IsRegular():
		kf.problem = "not a regular file"
	case !isFingerprintName(name):
		kf.problem = "file name is not a full lower-case hex fingerprint"
	case fi.Size() == 0 && system:
		kf.problem = "empty file in the system directory (masks belong in the local directory)"
	case fi.Size() == 0:
		kf.mask = true
	case fi.Size() > MaxKeySize:
		kf.problem = fmt.Sprintf("larger than %d bytes", MaxKeySize)
	}
	if kf.problem != "" || kf.mask {
		return kf
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		kf.problem = err.Error()
		return kf
	}
	e, _, err := parseKey(raw)
	if err != nil {
		kf.problem = err.Error()
		return kf
	}
	if fp := Fingerprint(e); fp != name {
		kf.problem = fmt.Sprintf("file name does not match the key's fingerprint %s", fp)
		return kf
	}
	kf.entity = e
	return kf
}

func (kf *keyFile) where() string {
	if kf.root {
		return "root"
	}
	return "prefix " + kf.prefix
}

// trustedKey is a key in force for an image name, with every copy of it
// found (the same fingerprint may sit at several locations).
type trustedKey struct {
	fingerprint string
	copies      []keyFile // local copies first
}

// trusted returns the keys in force for name, in a stable order (root
// keys first, then shallower prefixes), warning about ignored files.
func (s *Store) trusted(name string) ([]*trustedKey, error) {
	if err := imagename.ValidatePrefix(name); err != nil {
		return nil, fmt.Errorf("image name: %w", err)
	}
	type loc struct {
		root   bool
		prefix string
	}
	locs := []loc{{root: true}}
	segs := strings.Split(name, "/")
	for i := range segs {
		locs = append(locs, loc{prefix: strings.Join(segs[:i+1], "/")})
	}
	var local, system []keyFile
	for _, l := range locs {
		lf, err := readLocation(s.LocalDir, false, l.root, l.prefix)
		if err != nil {
			return nil, err
		}
		sf, err := readLocation(s.SystemDir, true, l.root, l.prefix)
		if err != nil {
			return nil, err
		}
		local = append(local, lf...)
		system = append(system, sf...)
	}
	// Every mask read applies to name: masks sit at locations covering it.
	masked := map[string]bool{}
	for _, kf := range local {
		if kf.mask {
			masked[kf.name] = true
		}
	}
	return groupKeys(slices.Concat(local, system), func(kf *keyFile) bool {
		if kf.problem != "" {
			s.warnf("ignoring trusted key file %s: %s", kf.path, kf.problem)
			return false
		}
		return !kf.mask && !(kf.system && masked[kf.name])
	}), nil
}

// groupKeys gathers the key files that keep accepts by fingerprint, in
// order: a key stored at several places is one trustedKey with several
// copies.
func groupKeys(files []keyFile, keep func(*keyFile) bool) []*trustedKey {
	byFP := map[string]*trustedKey{}
	var out []*trustedKey
	for i := range files {
		kf := &files[i]
		if !keep(kf) {
			continue
		}
		tk := byFP[kf.name]
		if tk == nil {
			tk = &trustedKey{fingerprint: kf.name}
			byFP[kf.name] = tk
			out = append(out, tk)
		}
		tk.copies = append(tk.copies, *kf)
	}
	return out
}

// KeyringFor returns the keys trusted for image name: root keys and keys of
// every prefix that is name or a whole-segment ancestor of it, minus
// masked system keys. When a fingerprint is stored at several places the
// local copy is returned. Ignored files are reported to s.Warnings.
func (s *Store) KeyringFor(name string) (openpgp.EntityList, error) {
	tks, err := s.trusted(name)
	if err != nil {
		return nil, err
	}
	el := make(openpgp.EntityList, 0, len(tks))
	for _, tk := range tks {
		el = append(el, tk.copies[0].entity)
	}
	return el, nil
}

// List returns every file in both key directories with its status: trusted
// keys, masked system keys, masks, and ignored files with the reason.
// Sorted by root first, then prefix, local before system, then
// fingerprint.
func (s *Store) List() ([]KeyInfo, error) {
	var files []keyFile
	for _, d := range []struct {
		base   string
		system bool
	}{{s.LocalDir, false}, {s.SystemDir, true}} {
		found, err := scanAll(d.base, d.system)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	// masks[fp] lists the locations ("" = root) of local masks.
	masks := map[string][]string{}
	for _, kf := range files {
		if kf.mask {
			masks[kf.name] = append(masks[kf.name], kf.prefix)
		}
	}
	now := s.now()
	out := make([]KeyInfo, 0, len(files))
	for _, kf := range files {
		var ki KeyInfo
		if kf.entity != nil {
			ki = *describe(kf.entity, now)
		} else {
			ki.Fingerprint = kf.name
		}
		ki.Path, ki.System, ki.Root, ki.Prefix = kf.path, kf.system, kf.root, kf.prefix
		switch {
		case kf.problem != "":
			ki.Status, ki.Problem = StatusIgnored, kf.problem
			ki.Fingerprint = ""
		case kf.mask:
			ki.Status = StatusMask
		case kf.system && maskedAt(masks[kf.name], kf.root, kf.prefix):
			ki.Status = StatusMasked
		default:
			ki.Status = StatusTrusted
		}
		out = append(out, ki)
	}
	slices.SortStableFunc(out, func(a, b KeyInfo) int {
		switch {
		case a.Root != b.Root:
			if a.Root {
				return -1
			}
			return 1
		case a.Prefix != b.Prefix:
			return strings.Compare(a.Prefix, b.Prefix)
		case a.System != b.System:
			if !a.System {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	return out, nil
}

// maskedAt reports whether masks (locations, "" for root) cover a system
// key at the given location everywhere it applies: a root mask covers all,
// a prefix mask covers keys at that prefix and below.
func maskedAt(masks []string, root bool, prefix string) bool {
	for _, m := range masks {
		if m == "" || (!root && covers(m, prefix)) {
			return true
		}
	}
	return false
}

// covers reports whether prefix p covers name on whole path segments.
func covers(p, name string) bool {
	return name == p || strings.HasPrefix(name, p+"/")
}

// scanAll lists every file of base's root.d and prefix.d trees.
func scanAll(base string, system bool) ([]keyFile, error) {
	if base == "" {
		return nil, nil
	}
	out, err := readLocation(base, system, true, "")
	if err != nil {
		return nil, err
	}
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		dir := filepath.Join(base, PrefixDir, filepath.FromSlash(rel))
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read trusted keys: %w", err)
		}
		for _, de := range statEntries(dir, ents) {
			p, name, fi := de.path, de.name, de.fi
			if de.err != nil {
				out = append(out, keyFile{path: p, name: name, system: system, prefix: rel, problem: de.err.Error()})
				continue
			}
			if fi.IsDir() {
				if depth >= maxPrefixDepth {
					out = append(out, keyFile{path: p, name: name, system: system, prefix: rel, problem: "prefix directories nested too deep"})
					continue
				}
				if err := walk(path.Join(rel, name), depth+1); err != nil {
					return err
				}
				continue
			}
			switch {
			case rel == "":
				out = append(out, keyFile{path: p, name: name, system: system, problem: "key file directly in " + PrefixDir + ", outside any prefix directory"})
			case imagename.ValidatePrefix(rel) != nil:
				out = append(out, keyFile{path: p, name: name, system: system, prefix: rel, problem: fmt.Sprintf("directory %q is not a valid prefix", rel)})
			default:
				out = append(out, loadKeyFile(p, name, fi, system, false, rel))
			}
		}
		return nil
	}
	if err := walk("", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// AddKey trusts the key read from r (binary or armored, exactly one public
// key) for image names under prefix, writing it to the local directory.
// It refuses keys that are revoked, expired, weak or cannot sign. The file
// is written atomically (temporary file, fsync, rename), ASCII-armored,
// with the key's packets unchanged. Adding a key again replaces the file,
// which is how an updated key (new expiry, revocation) is brought in; it
// also lifts a mask of that fingerprint at the same location.
func (s *Store) AddKey(prefix string, r io.Reader) (fingerprint, path string, err error) {
	if err := imagename.ValidatePrefix(prefix); err != nil {
		return "", "", fmt.Errorf("add trusted key: %w", err)
	}
	return s.add(false, prefix, r)
}

// AddRootKey trusts the key read from r for every image name. See AddKey.
func (s *Store) AddRootKey(r io.Reader) (fingerprint, path string, err error) {
	return s.add(true, "", r)
}

func (s *Store) add(root bool, prefix string, r io.Reader) (string, string, error) {
	if s.LocalDir == "" {
		return "", "", errors.New("add trusted key: no local key directory configured")
	}
	raw, err := readLimited(r, MaxKeySize, "key")
	if err != nil {
		return "", "", fmt.Errorf("add trusted key: %w", err)
	}
	e, bin, err := parseKey(raw)
	if err != nil {
		return "", "", fmt.Errorf("add trusted key: %w", err)
	}
	fp := Fingerprint(e)
	if err := checkUsable(e, s.now()); err != nil {
		return "", "", fmt.Errorf("add trusted key %s: %w", fp, err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return "", "", fmt.Errorf("add trusted key %s: %w", fp, err)
	}
	if _, err := w.Write(bin); err != nil {
		return "", "", fmt.Errorf("add trusted key %s: %w", fp, err)
	}
	if err := w.Close(); err != nil {
		return "", "", fmt.Errorf("add trusted key %s: %w", fp, err)
	}
	buf.WriteByte('\n')
	dir := locDir(s.LocalDir, root, prefix)
	p, err := writeFileAtomic(dir, fp, buf.Bytes())
	if err != nil {
		return "", "", fmt.Errorf("add trusted key %s: %w", fp, err)
	}
	return fp, p, nil
}

// Remove stops trusting the key with the given fingerprint (any case,
// spaces allowed): its local files are deleted, and for each location
// where the system directory has it a zero-size local mask is written. It
// returns the paths removed and the masks written, and ErrNotFound if the
// key is trusted nowhere.
func (s *Store) Remove(fingerprint string) (removed, masked []string, err error) {
	fp, err := NormalizeFingerprint(fingerprint)
	if err != nil {
		return nil, nil, fmt.Errorf("remove trusted key: %w", err)
	}
	local, err := scanAll(s.LocalDir, false)
	if err != nil {
		return nil, nil, fmt.Errorf("remove trusted key %s: %w", fp, err)
	}
	system, err := scanAll(s.SystemDir, true)
	if err != nil {
		return nil, nil, fmt.Errorf("remove trusted key %s: %w", fp, err)
	}
	hasMask := map[string]bool{}
	for _, kf := range local {
		if kf.name == fp && kf.mask {
			hasMask[kf.where()] = true
		}
	}
	for _, kf := range local {
		if kf.name != fp || kf.mask {
			continue
		}
		// Also files that fail to parse: the operator asked for this name gone.
		if err := os.Remove(kf.path); err != nil {
			return removed, masked, fmt.Errorf("remove trusted key %s: %w", fp, err)
		}
		removed = append(removed, kf.path)
		if !kf.root {
			removeEmptyDirs(filepath.Join(s.LocalDir, PrefixDir), filepath.Dir(kf.path))
		}
	}
	for _, kf := range system {
		if kf.name != fp || kf.problem != "" || hasMask[kf.where()] {
			continue
		}
		if s.LocalDir == "" {
			return removed, masked, fmt.Errorf("remove trusted key %s: it is a system key and no local key directory is configured to mask it", fp)
		}
		p, err := writeFileAtomic(locDir(s.LocalDir, kf.root, kf.prefix), fp, nil)
		if err != nil {
			return removed, masked, fmt.Errorf("remove trusted key %s: mask system key: %w", fp, err)
		}
		hasMask[kf.where()] = true
		masked = append(masked, p)
	}
	if len(removed) == 0 && len(masked) == 0 {
		return nil, nil, fmt.Errorf("remove trusted key %s: %w", fp, ErrNotFound)
	}
	return removed, masked, nil
}

// removeEmptyDirs removes dir and its parents up to (not including) top
// while they are empty.
func removeEmptyDirs(top, dir string) {
	for dir != top && strings.HasPrefix(dir, top+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// writeFileAtomic writes data to dir/name (making dir if needed) with
// atomicfile, so readers see the old file or the new one, and a crash
// leaves at most a hidden temporary file, which the store ignores.
func writeFileAtomic(dir, name string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, name)
	return dst, atomicfile.WriteFile(dst, data, atomicfile.Options{})
}
