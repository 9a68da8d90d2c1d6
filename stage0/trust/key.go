package trust

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// MaxKeySize bounds a public key file, armored or binary. Real keys are a
// few KiB; the bound keeps a hostile key URL or a stray large file from
// being read into memory whole.
const MaxKeySize = 1 << 20

// NormalizeFingerprint turns a fingerprint as a user types or copies it
// (upper or lower case, gpg's groups of four separated by spaces, an
// optional 0x) into the lower-case hex form used for key file names. It
// accepts v4 (40 hex digits) and v6 (64 hex digits) fingerprints only: a
// 16-digit key ID is too short to name a key safely.
func NormalizeFingerprint(fp string) (string, error) {
	s := strings.Join(strings.Fields(fp), "")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	s = strings.ToLower(s)
	if (len(s) != 40 && len(s) != 64) || !isHex(s) {
		return "", fmt.Errorf("invalid fingerprint %q: want 40 or 64 hex digits", fp)
	}
	return s, nil
}

// isFingerprintName reports whether name is a full lower-case hex
// fingerprint, the only name a key file may have.
func isFingerprintName(name string) bool {
	return (len(name) == 40 || len(name) == 64) && isHex(name) && strings.ToLower(name) == name
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Fingerprint returns the lower-case hex fingerprint of e's primary key,
// the form used for key file names.
func Fingerprint(e *openpgp.Entity) string {
	return hex.EncodeToString(e.PrimaryKey.Fingerprint)
}

// KeyInfo describes one public key: what ParseKey shows an operator before
// trusting it, and, from Store.List, where a trusted key file lives and
// whether it is in force.
type KeyInfo struct {
	Fingerprint string    // primary key fingerprint, lower-case hex
	KeyID       string    // primary key ID, 16 upper-case hex digits as gpg prints it
	UserIDs     []string  // primary user ID first, then the others sorted
	Algorithm   string    // e.g. "rsa4096", "ed25519"
	Created     time.Time // primary key creation time
	Expires     time.Time // zero if the key does not expire
	Revoked     bool      // the key carries a valid revocation signature
	Entity      *openpgp.Entity

	// The fields below are set by Store.List and the Store.Add methods
	// only.

	Path   string // the key (or mask) file
	System bool   // the file is in the system directory, not the local one
	Root   bool   // the file is in root.d: trusted for every image name
	Prefix string // the prefix.d prefix; empty for root keys
	Status Status
	// Problem says why the file is ignored (Status == StatusIgnored).
	Problem string
}

// Status says whether a key file listed by Store.List takes part in
// verification.
type Status int

const (
	// StatusTrusted: the key is trusted for its prefix (or for all names).
	StatusTrusted Status = iota
	// StatusMasked: a system key that a zero-size local file with its
	// fingerprint, at its own location or at root.d, switches off.
	StatusMasked
	// StatusMask: a zero-size local file. It distrusts the system key with
	// that fingerprint for every image name its location covers.
	StatusMask
	// StatusIgnored: the file is not used (wrong name, unparsable, ...);
	// KeyInfo.Problem says why.
	StatusIgnored
)

func (s Status) String() string {
	switch s {
	case StatusTrusted:
		return "trusted"
	case StatusMasked:
		return "masked"
	case StatusMask:
		return "mask"
	case StatusIgnored:
		return "ignored"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// ParseKey reads exactly one OpenPGP public key, binary (gpg --export) or
// ASCII-armored (gpg --export --armor), and describes it. The trust CLI
// prints the result for review before it stores the key. Files holding
// several keys or secret key material are refused: a key file is named by
// one fingerprint and trusting more than the reviewed key would be a
// surprise.
func ParseKey(r io.Reader) (*KeyInfo, error) {
	raw, err := readLimited(r, MaxKeySize, "key")
	if err != nil {
		return nil, err
	}
	e, _, err := parseKey(raw)
	if err != nil {
		return nil, err
	}
	return describe(e, time.Now()), nil
}

func readLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", what, limit)
	}
	return b, nil
}

// isArmored reports whether b is ASCII armor rather than binary packets.
// Binary OpenPGP data starts with a packet tag byte, which always has its
// high bit set; armor (and any text before it) is ASCII.
func isArmored(b []byte) bool {
	return len(b) > 0 && b[0]&0x80 == 0
}

// parseKey parses raw as one public key and returns it together with its
// binary packets (the armor removed), which is what the store writes.
func parseKey(raw []byte) (*openpgp.Entity, []byte, error) {
	bin := raw
	if isArmored(raw) {
		block, err := armor.Decode(bytes.NewReader(raw))
		if err == io.EOF {
			return nil, nil, errors.New("parse key: neither binary OpenPGP data nor ASCII armor")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("parse armored key: %w", err)
		}
		switch block.Type {
		case openpgp.PublicKeyType:
		case openpgp.PrivateKeyType:
			return nil, nil, errors.New("parse key: this is a secret key; export the public key with gpg --export")
		default:
			return nil, nil, fmt.Errorf("parse key: armored block is %q, want %q", block.Type, openpgp.PublicKeyType)
		}
		if bin, err = io.ReadAll(block.Body); err != nil {
			return nil, nil, fmt.Errorf("parse armored key: %w", err)
		}
	}
	if len(bytes.TrimSpace(bin)) == 0 {
		return nil, nil, errors.New("parse key: no key data")
	}
	el, err := openpgp.ReadKeyRing(bytes.NewReader(bin))
	if err != nil {
		return nil, nil, fmt.Errorf("parse key: %w", err)
	}
	switch len(el) {
	case 0:
		return nil, nil, errors.New("parse key: no public key found")
	case 1:
	default:
		fps := make([]string, len(el))
		for i, e := range el {
			fps[i] = Fingerprint(e)
		}
		return nil, nil, fmt.Errorf("parse key: found %d keys (%s); give one key at a time", len(el), strings.Join(fps, ", "))
	}
	e := el[0]
	if e.PrivateKey != nil {
		return nil, nil, errors.New("parse key: this is a secret key; export the public key with gpg --export")
	}
	for _, sk := range e.Subkeys {
		if sk.PrivateKey != nil {
			return nil, nil, errors.New("parse key: contains secret subkey material; export the public key with gpg --export")
		}
	}
	return e, bin, nil
}

// describe fills the key part of a KeyInfo.
func describe(e *openpgp.Entity, now time.Time) *KeyInfo {
	ki := &KeyInfo{
		Fingerprint: Fingerprint(e),
		KeyID:       e.PrimaryKey.KeyIdString(),
		Algorithm:   algorithmName(e.PrimaryKey),
		Created:     e.PrimaryKey.CreationTime,
		Revoked:     e.Revoked(now),
		Entity:      e,
	}
	var primary string
	if _, id := e.PrimaryIdentity(now, nil); id != nil {
		primary = id.Name
	}
	for name := range e.Identities {
		if name != primary {
			ki.UserIDs = append(ki.UserIDs, name)
		}
	}
	slices.Sort(ki.UserIDs)
	if primary != "" {
		ki.UserIDs = append([]string{primary}, ki.UserIDs...)
	}
	if sig, err := e.PrimarySelfSignature(now, nil); err == nil && sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
		ki.Expires = e.PrimaryKey.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
	}
	return ki
}

func algorithmName(pk *packet.PublicKey) string {
	bits, _ := pk.BitLength()
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly, packet.PubKeyAlgoRSAEncryptOnly:
		return fmt.Sprintf("rsa%d", bits)
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519:
		return "ed25519"
	case packet.PubKeyAlgoEd448:
		return "ed448"
	case packet.PubKeyAlgoECDSA:
		return fmt.Sprintf("ecdsa%d", bits)
	case packet.PubKeyAlgoDSA:
		return fmt.Sprintf("dsa%d", bits)
	}
	return fmt.Sprintf("algo%d", pk.PubKeyAlgo)
}

// checkUsable refuses a key that cannot make a signature we would accept at
// time now: revoked, expired, weak algorithm, no valid self-signature or no
// signing-capable key. The result wraps ErrRevoked, ErrExpired or ErrWeakKey
// where those apply.
func checkUsable(e *openpgp.Entity, now time.Time) error {
	if _, err := e.VerifyPrimaryKey(now, nil); err != nil {
		return classifyKeyErr(err)
	}
	if weak := weakKey(e.PrimaryKey); weak != "" {
		return fmt.Errorf("%w: %s", ErrWeakKey, weak)
	}
	if _, ok := e.SigningKey(now, nil); !ok {
		return errors.New("no usable signing key (every signing key is revoked, expired, weak or lacks the sign flag)")
	}
	return nil
}

// weakKey says why pk is too weak to be trusted, or returns "". It applies
// the library's default policy (no DSA or ElGamal, RSA of at least 2047
// bits, no secp256k1) so that refusing happens when the key is added, not
// first when an image fails to verify.
func weakKey(pk *packet.PublicKey) string {
	var cfg *packet.Config // the library defaults
	if cfg.RejectPublicKeyAlgorithm(pk.PubKeyAlgo) {
		return fmt.Sprintf("key %s uses the public key algorithm %s, which is not accepted (DSA and ElGamal are refused)", pk.KeyIdString(), algorithmName(pk))
	}
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		if bits, err := pk.BitLength(); err != nil || bits < cfg.MinimumRSABits() {
			return fmt.Sprintf("RSA key of %d bits is too short (minimum %d)", bits, cfg.MinimumRSABits())
		}
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoECDSA:
		if curve, err := pk.Curve(); err != nil || cfg.RejectCurve(curve) {
			return fmt.Sprintf("elliptic curve %q is not accepted", curve)
		}
	}
	return ""
}

func classifyKeyErr(err error) error {
	switch {
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return ErrRevoked
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return ErrExpired
	}
	var weak pgperrors.WeakAlgorithmError
	if errors.As(err, &weak) {
		return fmt.Errorf("%w: %v", ErrWeakKey, err)
	}
	return err
}
