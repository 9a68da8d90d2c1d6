package trust

import (
	"bytes"
	"crypto"
	"encoding/binary"
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

	"github.com/acirun/acirun/stage0/imagename"
)

// MaxSignatureSize bounds a detached signature file. A signature is a few
// hundred bytes; callers reading .aci.asc from the network should stop at
// this size.
const MaxSignatureSize = 64 << 10

// Signer describes the key that made an accepted signature.
type Signer struct {
	Fingerprint string    // primary key fingerprint, lower-case hex
	KeyID       string    // ID of the key that signed (a subkey or the primary)
	UserIDs     []string  // primary user ID first
	SignedAt    time.Time // signature creation time
	Hash        crypto.Hash
	Root        bool   // trusted through root.d
	Prefix      string // else the prefix the key is trusted for
	Path        string // the key file that granted trust
	Entity      *openpgp.Entity
}

// weakHash reports whether h is a digest refused for image signatures
// whatever the library's defaults are: MD5, SHA-1 and RIPEMD-160.
func weakHash(h crypto.Hash) bool {
	switch h {
	case crypto.MD5, crypto.SHA1, crypto.RIPEMD160:
		return true
	}
	return false
}

// Verifier checks a detached signature over bytes written to it, so the
// fetcher can tee a download into it while the same bytes are
// decompressed and extracted. Write every byte of the image file, then
// call Verify once. A Verifier is not safe for concurrent use. It holds no
// goroutine or file, so an abandoned Verifier needs no cleanup.
type Verifier struct {
	store   *Store
	image   string
	trusted []*trustedKey
	md      *openpgp.MessageDetails
	cfg     *packet.Config // the library's policy: the store's clock, its defaults otherwise
	src     feed
	buf     []byte
	n       int64 // bytes written
	done    bool
	// sigs are the parsed signature packets, for error messages.
	sigs []*packet.Signature
	// deferred: the image name is given to VerifyFor, not NewVerifier.
	deferred bool
}

// feed is the io.Reader the library would pull the signed data from. The
// data goes straight into the candidates' hashes (see Write), so the feed
// is empty until Verify sets eof.
type feed struct{ eof bool }

func (f *feed) Read(p []byte) (int, error) {
	if f.eof {
		return 0, io.EOF
	}
	return 0, nil
}

// NewVerifier prepares the check of signature (the .aci.asc file, armored
// or binary) for the image named imageName. It fails early, before any
// image byte is read, when the signature is missing or malformed, uses a
// weak digest, or is made by no key trusted for imageName. Only binary
// signatures (signature type 0x00, gpg's default for --detach-sign) are
// accepted: a text-mode signature would also match the image with its line
// endings changed.
func (s *Store) NewVerifier(imageName string, signature []byte) (*Verifier, error) {
	if err := imagename.ValidatePrefix(imageName); err != nil {
		return nil, fmt.Errorf("verify signature: image name: %w", err)
	}
	trusted, err := s.trusted(imageName)
	if err != nil {
		return nil, fmt.Errorf("verify signature of image %s: %w", imageName, err)
	}
	return s.newVerifier(imageName, trusted, signature)
}

// NewDeferredVerifier prepares the check of signature for an image whose
// name is not known yet: a local file or a URL, whose manifest comes at the
// end of the tar. source (the file or URL) names the image in errors until
// VerifyFor gives its name. Every key trusted for some name takes part in hashing;
// VerifyFor then requires the signer to be trusted for the name the
// manifest gives. It fails early, like NewVerifier, when the signature is
// malformed, weak, or made by no trusted key at all.
func (s *Store) NewDeferredVerifier(source string, signature []byte) (*Verifier, error) {
	all, err := s.allTrusted()
	if err != nil {
		return nil, fmt.Errorf("verify signature: %w", err)
	}
	v, err := s.newVerifier(source, all, signature)
	if err != nil {
		return nil, err
	}
	v.deferred = true
	return v, nil
}

// allTrusted returns every key in force for at least one name: local and
// system key files that are neither masks nor ignored. Masks are applied
// per name later, by VerifyFor.
func (s *Store) allTrusted() ([]*trustedKey, error) {
	local, err := scanAll(s.LocalDir, false)
	if err != nil {
		return nil, err
	}
	system, err := scanAll(s.SystemDir, true)
	if err != nil {
		return nil, err
	}
	return groupKeys(slices.Concat(local, system), func(kf *keyFile) bool {
		return kf.problem == "" && !kf.mask && kf.entity != nil
	}), nil
}

// VerifyFor finishes the check, like Verify, for the image named name. For
// a Verifier made by NewVerifier, name must be the name it was made for.
// For one made by NewDeferredVerifier, the signer must be trusted for name
// (root key, or a prefix covering it on whole segments, not masked).
func (v *Verifier) VerifyFor(name string) (*Signer, error) {
	if !v.deferred {
		if name != v.image {
			return nil, fmt.Errorf("verify signature: image is named %s, the signature was checked for %s", name, v.image)
		}
		return v.Verify()
	}
	if err := imagename.ValidatePrefix(name); err != nil {
		return nil, fmt.Errorf("verify signature: image name: %w", err)
	}
	trusted, err := v.store.trusted(name)
	if err != nil {
		return nil, fmt.Errorf("verify signature of image %s: %w", name, err)
	}
	v.image = name
	// Only signatures by keys trusted for name may decide: drop the
	// others' candidates (the library then ignores them, as it does
	// unknown issuers), so that a valid signature by a key trusted
	// elsewhere neither wins nor hides one by a key trusted here.
	inForce := map[string]bool{}
	for _, tk := range trusted {
		inForce[tk.fingerprint] = true
	}
	left := 0
	for _, c := range v.md.SignatureCandidates {
		if c.SignedByEntity != nil && !inForce[Fingerprint(c.SignedByEntity)] {
			c.SignedByEntity = nil
		}
		if c.SignedByEntity != nil {
			left++
		}
	}
	if left == 0 {
		v.done = true
		return nil, v.store.untrusted(name, v.sigs)
	}
	signer, err := v.verify()
	if err != nil {
		return nil, err
	}
	for _, tk := range trusted {
		if tk.fingerprint == signer.Fingerprint {
			signer.Root, signer.Prefix, signer.Path = tk.copies[0].root, tk.copies[0].prefix, tk.copies[0].path
			return signer, nil
		}
	}
	return nil, v.store.untrusted(name, v.sigs)
}

func (s *Store) newVerifier(imageName string, trusted []*trustedKey, signature []byte) (*Verifier, error) {
	fail := func(reason error, keyID, fp, detail string, err error) (*Verifier, error) {
		return nil, &VerifyError{Image: imageName, KeyID: keyID, Fingerprint: fp, Reason: reason, Detail: detail, Err: err}
	}
	sigs, bin, err := parseSignature(signature)
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			ve.Image = imageName
		}
		return nil, err
	}
	var keyring openpgp.EntityList
	for _, tk := range trusted {
		keyring = append(keyring, tk.copies[0].entity)
	}
	// Keep the library to signatures we would accept at all, and say why
	// when none is left.
	var usable int
	var weak *packet.Signature
	for _, sig := range sigs {
		if len(keyring.EntitiesById(*sig.IssuerKeyId)) == 0 {
			continue
		}
		if weakHash(sig.Hash) {
			weak = sig
			continue
		}
		usable++
	}
	if usable == 0 {
		if weak != nil {
			return fail(ErrWeakHash, keyIDString(*weak.IssuerKeyId), fingerprintOf(keyring, *weak.IssuerKeyId), "signed with "+hashName(weak.Hash), nil)
		}
		return nil, s.untrusted(imageName, sigs)
	}
	v := &Verifier{store: s, image: imageName, trusted: trusted, sigs: sigs, buf: make([]byte, 512), cfg: &packet.Config{Time: s.now}}
	v.md, err = openpgp.VerifyDetachedSignatureReader(keyring, &v.src, bytes.NewReader(bin), v.cfg)
	if err != nil {
		return fail(ErrMalformedSignature, "", "", "", err)
	}
	return v, nil
}

// Write hashes p as the next bytes of the image. It fails only after
// Verify. p is hashed in place, never copied or modified.
func (v *Verifier) Write(p []byte) (int, error) {
	if v.done {
		return 0, errors.New("trust: write after Verify")
	}
	// This is what the library's reader does with each chunk it reads
	// (v2 signatureCheckReader.Read), done here directly on the caller's
	// bytes to save a copy: the library pulls nothing from v.src until
	// Verify, then finds EOF and checks the candidates' hashes.
	for _, c := range v.md.SignatureCandidates {
		if c.SignatureError == nil && c.SignedByEntity != nil {
			c.WrappedHash.Write(p)
		}
	}
	v.n += int64(len(p))
	return len(p), nil
}

// Verify finishes the check after the last byte was written. It returns
// the signer when a signature verifies against a key trusted for the
// image name, and otherwise a *VerifyError. Beyond the library's checks
// (key valid when it signed, signature not expired, digest and key
// strength) it requires the signing key and primary key to be neither
// revoked nor expired now, in any stored copy of the key.
func (v *Verifier) Verify() (*Signer, error) {
	if v.deferred {
		// Its keyring holds every trusted key, whatever its prefix.
		return nil, errors.New("trust: Verify on a deferred Verifier; call VerifyFor with the image name")
	}
	return v.verify()
}

func (v *Verifier) verify() (*Signer, error) {
	if v.done {
		return nil, errors.New("trust: Verify called twice")
	}
	v.done = true
	v.src.eof = true
	for {
		_, err := v.md.UnverifiedBody.Read(v.buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &VerifyError{Image: v.image, Reason: ErrMalformedSignature, Err: err}
		}
	}
	md := v.md
	if md.SignatureError != nil || md.SignedBy == nil || md.Signature == nil {
		return nil, v.libraryRefusal()
	}
	sig := md.Signature
	key := md.SignedBy
	fp := Fingerprint(key.Entity)
	ve := func(reason error, detail string) error {
		return &VerifyError{Image: v.image, KeyID: key.PublicKey.KeyIdString(), Fingerprint: fp, Reason: reason, Detail: detail}
	}
	if weakHash(sig.Hash) {
		return nil, ve(ErrWeakHash, "signed with "+hashName(sig.Hash))
	}
	if sig.SigType != packet.SigTypeBinary {
		return nil, ve(ErrMalformedSignature, fmt.Sprintf("signature type 0x%02x, want a binary-document signature (0x00)", uint8(sig.SigType)))
	}
	now := v.store.now()
	var tk *trustedKey
	for _, t := range v.trusted {
		if t.fingerprint == fp {
			tk = t
		}
	}
	if tk == nil {
		// The library only knows the keyring we gave it.
		return nil, ve(ErrUntrusted, "signer missing from the keyring")
	}
	// Revocation is a property of the key, not of where it is trusted: a
	// revoked copy anywhere in the store (another prefix, a masked system
	// file) counts.
	copies := tk.copies
	if !v.deferred {
		all, err := v.store.allTrusted()
		if err != nil {
			return nil, fmt.Errorf("verify signature of image %s: %w", v.image, err)
		}
		for _, t := range all {
			if t.fingerprint == fp {
				copies = append(slices.Clip(copies), t.copies...)
			}
		}
	}
	for _, c := range copies {
		if detail, reason := keyStateNow(c.entity, key.PublicKey.KeyId, now); reason != nil {
			if reason == ErrRevoked || c.entity == key.Entity {
				return nil, ve(reason, detail)
			}
		}
	}
	signer := &Signer{
		Fingerprint: fp,
		KeyID:       key.PublicKey.KeyIdString(),
		UserIDs:     describe(key.Entity, now).UserIDs,
		SignedAt:    sig.CreationTime,
		Hash:        sig.Hash,
		Root:        tk.copies[0].root,
		Prefix:      tk.copies[0].prefix,
		Path:        tk.copies[0].path,
		Entity:      key.Entity,
	}
	return signer, nil
}

// keyStateNow checks, at time now, the primary key of e and the key with
// ID keyID in it (the signing key, maybe a subkey): revoked or expired.
func keyStateNow(e *openpgp.Entity, keyID uint64, now time.Time) (detail string, reason error) {
	if e.Revoked(now) {
		return "the key is revoked", ErrRevoked
	}
	if _, err := e.VerifyPrimaryKey(now, nil); err != nil {
		switch {
		case errors.Is(err, pgperrors.ErrKeyRevoked):
			return "the key is revoked", ErrRevoked
		case errors.Is(err, pgperrors.ErrKeyExpired):
			return "the key " + expiryText(e, now), ErrExpired
		default:
			return "the key has no valid self-signature: " + err.Error(), ErrBadSignature
		}
	}
	if e.PrimaryKey.KeyId == keyID {
		return "", nil
	}
	for i := range e.Subkeys {
		sk := &e.Subkeys[i]
		if sk.PublicKey.KeyId != keyID {
			continue
		}
		if sk.Revoked(nil, now) {
			return "signing subkey " + sk.PublicKey.KeyIdString() + " is revoked", ErrRevoked
		}
		if _, err := sk.Verify(now, nil); err != nil {
			switch {
			case errors.Is(err, pgperrors.ErrKeyRevoked):
				return "signing subkey " + sk.PublicKey.KeyIdString() + " is revoked", ErrRevoked
			case errors.Is(err, pgperrors.ErrKeyExpired):
				return "signing subkey " + sk.PublicKey.KeyIdString() + " has expired", ErrExpired
			default:
				return "signing subkey " + sk.PublicKey.KeyIdString() + " has no valid binding signature: " + err.Error(), ErrBadSignature
			}
		}
	}
	return "", nil
}

func expiryText(e *openpgp.Entity, now time.Time) string {
	ki := describe(e, now)
	if !ki.Expires.IsZero() {
		return "expired on " + ki.Expires.UTC().Format(time.RFC3339)
	}
	return "has expired"
}

// libraryRefusal turns the library's verdict into a *VerifyError, finding
// out what it means: the library reports a revoked or expired signing
// subkey only as "no valid signing key".
func (v *Verifier) libraryRefusal() error {
	md := v.md
	err := md.SignatureError
	cand := md.SelectedCandidate
	ve := &VerifyError{Image: v.image, Err: err, Reason: ErrBadSignature}
	if cand == nil {
		ve.Reason = ErrMalformedSignature
		return ve
	}
	ve.KeyID = keyIDString(cand.IssuerKeyId)
	var sigTime time.Time
	if cand.CorrespondingSig != nil {
		sigTime = cand.CorrespondingSig.CreationTime
	}
	if cand.SignedByEntity != nil {
		ve.Fingerprint = Fingerprint(cand.SignedByEntity)
	}
	var weak pgperrors.WeakAlgorithmError
	var sigErr pgperrors.SignatureError
	switch {
	case errors.Is(err, pgperrors.ErrSignatureExpired) && sigTime.Unix() > v.store.now().Unix():
		// The library calls a signature from the future expired.
		ve.Reason, ve.Err = ErrBadSignature, nil
		ve.Detail = "the signature is dated in the future (" + sigTime.UTC().Format(time.RFC3339) + "); check the clocks"
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		ve.Reason, ve.Detail, ve.Err = ErrExpired, "the signature has expired", nil
		if s := cand.CorrespondingSig; s != nil && s.SigLifetimeSecs != nil {
			ve.Detail = "the signature expired on " + s.CreationTime.Add(time.Duration(*s.SigLifetimeSecs)*time.Second).UTC().Format(time.RFC3339)
		}
	case errors.Is(err, pgperrors.ErrKeyExpired):
		ve.Reason, ve.Detail, ve.Err = ErrExpired, "the key had expired when the signature was made ("+sigTime.UTC().Format(time.RFC3339)+")", nil
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		ve.Reason, ve.Detail, ve.Err = ErrRevoked, "the key is revoked", nil
	case errors.Is(err, pgperrors.ErrSignatureOlderThanKey):
		ve.Reason, ve.Detail, ve.Err = ErrBadSignature, "the signature predates the key's creation", nil
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		ve.Reason = ErrUnknownSigner
	case cand.SignedByEntity != nil && !sigTime.IsZero() && predates(cand.SignedByEntity, cand.IssuerKeyId, sigTime):
		// The library checks the key at signature time first and so
		// reports this only as "no valid self signature".
		ve.Reason, ve.Detail, ve.Err = ErrBadSignature, "the signature ("+sigTime.UTC().Format(time.RFC3339)+") predates the signing key's creation", nil
	case errors.As(err, &weak):
		// The library's text names the algorithm by a raw byte;
		// name the key and its algorithm instead.
		ve.Reason = ErrWeakKey
		if pk := issuerKey(cand.SignedByEntity, cand.IssuerKeyId); pk != nil {
			if w := weakKey(pk); w != "" {
				ve.Detail, ve.Err = w, nil
			}
		}
	case unknownCritical(cand.CorrespondingSig, v.cfg) != "":
		// Decided from the signature's notations, which the library
		// reports as a bad signature like a modified image.
		ve.Reason, ve.Err = ErrCriticalNotation, nil
		ve.Detail = fmt.Sprintf("the signature carries the critical notation %q, which acirun does not know and so may not ignore (RFC 4880, 5.2.3.16)", unknownCritical(cand.CorrespondingSig, v.cfg))
	case rejectedHash(cand, v.cfg) != 0:
		// Decided from the signatures and the library's policy, not
		// from the text of its error.
		ve.Reason = ErrWeakHash
		ve.Detail = "signed with " + hashName(rejectedHash(cand, v.cfg))
	default:
		// Includes a tampered image ("hash tag doesn't match", "RSA
		// verification failure"), and keys the library found unusable for
		// signing at signature time; look closer at the latter.
		if e := cand.SignedByEntity; e != nil && !sigTime.IsZero() {
			if detail, reason := keyStateNow(e, cand.IssuerKeyId, sigTime); reason != nil {
				ve.Reason, ve.Detail, ve.Err = reason, detail, nil
				return ve
			}
			if detail, reason := keyStateNow(e, cand.IssuerKeyId, v.store.now()); reason != nil {
				ve.Reason, ve.Detail, ve.Err = reason, detail, nil
				return ve
			}
			if weak := weakKey(e.PrimaryKey); weak != "" {
				ve.Reason, ve.Detail, ve.Err = ErrWeakKey, weak, nil
				return ve
			}
			if pk := issuerKey(e, cand.IssuerKeyId); pk != nil && notSigning(e, cand.IssuerKeyId, sigTime) && notSigning(e, cand.IssuerKeyId, v.store.now()) {
				// The library says only "no valid signing or
				// verifying key found".
				ve.Reason, ve.Err = ErrNotSigningKey, nil
				ve.Detail = fmt.Sprintf("%s %s (%s) lacks the sign flag in its key flags: it may certify keys but not sign images", keyRole(e, cand.IssuerKeyId), pk.KeyIdString(), algorithmName(pk))
				return ve
			}
		}
		if errors.As(err, &sigErr) {
			ve.Detail = fmt.Sprintf("the image (%d bytes read) was modified or the signature is for other data", v.n)
		}
	}
	return ve
}

// issuerKey returns the primary key or subkey of e whose key ID is id, or
// nil.
func issuerKey(e *openpgp.Entity, id uint64) *packet.PublicKey {
	if e == nil {
		return nil
	}
	if e.PrimaryKey.KeyId == id {
		return e.PrimaryKey
	}
	for i := range e.Subkeys {
		if e.Subkeys[i].PublicKey.KeyId == id {
			return e.Subkeys[i].PublicKey
		}
	}
	return nil
}

// keyRole says "primary key" or "subkey" for the key of e with ID id.
func keyRole(e *openpgp.Entity, id uint64) string {
	if e.PrimaryKey.KeyId == id {
		return "primary key"
	}
	return "subkey"
}

// notSigning says whether the key of e with ID id is valid at t but not
// allowed to sign: its self-signature (or binding signature) has key flags
// without the sign flag.
func notSigning(e *openpgp.Entity, id uint64, t time.Time) bool {
	if _, ok := e.SigningKeyById(t, id, nil); ok {
		return false
	}
	if e.PrimaryKey.KeyId == id {
		sig, err := e.VerifyPrimaryKey(t, nil)
		return err == nil && sig.FlagsValid && !sig.FlagSign
	}
	for i := range e.Subkeys {
		if sk := &e.Subkeys[i]; sk.PublicKey.KeyId == id {
			sig, err := sk.Verify(t, nil)
			return err == nil && sig.FlagsValid && !sig.FlagSign
		}
	}
	return false
}

// unknownCritical returns the name of a notation of sig marked critical
// that cfg does not know (a verifier must refuse such a signature), or "".
func unknownCritical(sig *packet.Signature, cfg *packet.Config) string {
	if sig == nil {
		return ""
	}
	for _, n := range sig.Notations {
		if n.IsCritical && !cfg.KnownNotation(n.Name) {
			return n.Name
		}
	}
	return ""
}

// rejectedHash returns the digest algorithm the library's policy cfg
// refuses in the candidate's signature or in the binding signatures of its
// signing key, or 0 if there is none.
func rejectedHash(cand *openpgp.SignatureCandidate, cfg *packet.Config) crypto.Hash {
	if s := cand.CorrespondingSig; s != nil && cfg.RejectMessageHashAlgorithm(s.Hash) {
		return s.Hash
	}
	if e := cand.SignedByEntity; e != nil {
		if s, err := e.PrimarySelfSignature(time.Time{}, cfg); err == nil && s != nil && cfg.RejectHashAlgorithm(s.Hash) {
			return s.Hash
		}
	}
	return 0
}

// untrusted explains why none of sigs is made by a key trusted for image:
// the key is trusted for other prefixes only, masked, or unknown.
func (s *Store) untrusted(image string, sigs []*packet.Signature) error {
	ve := &VerifyError{Image: image, Reason: ErrUnknownSigner}
	var ids []string
	for _, sig := range sigs {
		ids = append(ids, keyIDString(*sig.IssuerKeyId))
	}
	ve.KeyID = strings.Join(ids, ",")
	all, err := s.List()
	if err != nil {
		ve.Detail = "cannot list trusted keys: " + err.Error()
		return ve
	}
	var prefixes []string
	masked := false
	for _, sig := range sigs {
		for _, ki := range all {
			if ki.Entity == nil || len(openpgp.EntityList{ki.Entity}.EntitiesById(*sig.IssuerKeyId)) == 0 {
				continue
			}
			ve.Fingerprint = ki.Fingerprint
			switch {
			case ki.Status == StatusMasked:
				masked = true
			case ki.Status != StatusTrusted:
			case ki.Root || covers(ki.Prefix, image):
				// In force here but not in the keyring: a mask below
				// the key's location covers this name.
				masked = true
			default:
				prefixes = appendUnique(prefixes, ki.Prefix)
			}
		}
	}
	switch {
	case len(prefixes) > 0:
		ve.Reason = ErrUntrusted
		ve.Detail = "the key is trusted only for prefix " + strings.Join(prefixes, ", ")
		if masked {
			ve.Detail += " (and masked where it would cover this name)"
		}
	case masked:
		ve.Reason = ErrUntrusted
		ve.Detail = "the key is a system key masked by the local configuration"
	default:
		ve.Detail = "no trusted key has this ID"
	}
	return ve
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func keyIDString(id uint64) string { return fmt.Sprintf("%016X", id) }

func fingerprintOf(el openpgp.EntityList, id uint64) string {
	if es := el.EntitiesById(id); len(es) > 0 {
		return Fingerprint(es[0])
	}
	return ""
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA-1"
	case crypto.RIPEMD160:
		return "RIPEMD-160"
	}
	if h.Available() {
		return h.String()
	}
	return fmt.Sprintf("hash %d", h)
}

// parseSignature decodes a detached signature file, armored or binary,
// into its signature packets and their binary form. Anything but
// binary-document signature packets with an issuer is refused.
func parseSignature(signature []byte) ([]*packet.Signature, []byte, error) {
	fail := func(reason error, detail string, err error) ([]*packet.Signature, []byte, error) {
		return nil, nil, &VerifyError{Reason: reason, Detail: detail, Err: err}
	}
	if len(bytes.TrimSpace(signature)) == 0 {
		return fail(ErrNoSignature, "the signature file is empty", nil)
	}
	if len(signature) > MaxSignatureSize {
		return fail(ErrMalformedSignature, fmt.Sprintf("larger than %d bytes", MaxSignatureSize), nil)
	}
	bin := signature
	if isArmored(signature) {
		block, err := armor.Decode(bytes.NewReader(signature))
		if err == io.EOF {
			return fail(ErrMalformedSignature, "neither binary OpenPGP data nor ASCII armor", nil)
		}
		if err != nil {
			return fail(ErrMalformedSignature, "bad ASCII armor", err)
		}
		if block.Type != openpgp.SignatureType {
			return fail(ErrMalformedSignature, fmt.Sprintf("armored block is %q, want %q", block.Type, openpgp.SignatureType), nil)
		}
		if bin, err = io.ReadAll(block.Body); err != nil {
			return fail(ErrMalformedSignature, "bad ASCII armor", err)
		}
	}
	var sigs []*packet.Signature
	weakSeen := false
	packets := packet.NewReader(bytes.NewReader(bin))
	for {
		p, err := packets.NextWithUnsupported()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(ErrMalformedSignature, "", err)
		}
		if u, ok := p.(*packet.UnsupportedPacket); ok {
			// The library cannot parse MD5 and RIPEMD-160 signatures at
			// all; find them to report them as weak, with their issuer.
			if weakSeen {
				continue
			}
			weak := weakSignatures(bin)
			if len(weak) == 0 {
				return fail(ErrMalformedSignature, "unsupported packet", u.Error)
			}
			weakSeen = true
			sigs = append(sigs, weak...)
			continue
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			return fail(ErrMalformedSignature, fmt.Sprintf("found a %T packet; a detached signature holds signature packets only", p), nil)
		}
		if sig.SigType != packet.SigTypeBinary {
			return fail(ErrMalformedSignature, fmt.Sprintf("signature type 0x%02x, want a binary-document signature (0x00; text-mode signatures are refused)", uint8(sig.SigType)), nil)
		}
		if sig.IssuerKeyId == nil {
			return fail(ErrMalformedSignature, "the signature names no issuer key", nil)
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return fail(ErrMalformedSignature, "no signature packet found", nil)
	}
	return sigs, bin, nil
}

// Verify checks signature over everything read from image for imageName;
// a convenience over NewVerifier for images already on disk.
func (s *Store) Verify(imageName string, image io.Reader, signature []byte) (*Signer, error) {
	v, err := s.NewVerifier(imageName, signature)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(v, image); err != nil {
		return nil, fmt.Errorf("verify signature of image %s: read image: %w", imageName, err)
	}
	return v.Verify()
}

// predates reports whether a signature made at t is older than the primary
// key of e or than its key with ID keyID.
func predates(e *openpgp.Entity, keyID uint64, t time.Time) bool {
	if t.Unix() < e.PrimaryKey.CreationTime.Unix() {
		return true
	}
	for _, sk := range e.Subkeys {
		if sk.PublicKey.KeyId == keyID && t.Unix() < sk.PublicKey.CreationTime.Unix() {
			return true
		}
	}
	return false
}

// weakSignatures finds the v4 signature packets in bin that use a digest
// the library does not even parse (MD5, RIPEMD-160) and parses them with
// the digest ID replaced, so that the issuer can be named. The returned
// signatures carry the real (weak) Hash and are never verified.
func weakSignatures(bin []byte) []*packet.Signature {
	var out []*packet.Signature
	for b := bin; len(b) > 0; {
		tag, body, rest, ok := nextPacket(b)
		if !ok {
			break
		}
		b = rest
		if tag != 2 || len(body) < 4 || body[0] != 4 {
			continue
		}
		var h crypto.Hash
		switch body[3] { // OpenPGP hash algorithm IDs, RFC 4880 9.4
		case 1:
			h = crypto.MD5
		case 3:
			h = crypto.RIPEMD160
		default:
			continue
		}
		fixed := bytes.Clone(body)
		fixed[3] = 8 // SHA-256
		var pkt bytes.Buffer
		pkt.WriteByte(0xc2) // new format, tag 2
		pkt.WriteByte(0xff)
		pkt.Write(binary.BigEndian.AppendUint32(nil, uint32(len(fixed))))
		pkt.Write(fixed)
		p, err := packet.Read(&pkt)
		sig, ok := p.(*packet.Signature)
		if err != nil || !ok || sig.IssuerKeyId == nil {
			continue
		}
		sig.Hash = h
		out = append(out, sig)
	}
	return out
}

// nextPacket splits the first OpenPGP packet off b (RFC 4880 4.2); partial
// and indeterminate lengths, which signatures do not use, are refused.
func nextPacket(b []byte) (tag byte, body, rest []byte, ok bool) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return 0, nil, nil, false
	}
	var n, hdr int
	if b[0]&0x40 != 0 {
		tag = b[0] & 0x3f
		switch l := b[1]; {
		case l < 192:
			n, hdr = int(l), 2
		case l < 224:
			if len(b) < 3 {
				return 0, nil, nil, false
			}
			n, hdr = (int(l)-192)<<8+int(b[2])+192, 3
		case l == 255:
			if len(b) < 6 {
				return 0, nil, nil, false
			}
			n, hdr = int(binary.BigEndian.Uint32(b[2:6])), 6
		default:
			return 0, nil, nil, false
		}
	} else {
		tag = (b[0] >> 2) & 0x0f
		switch b[0] & 3 {
		case 0:
			n, hdr = int(b[1]), 2
		case 1:
			if len(b) < 3 {
				return 0, nil, nil, false
			}
			n, hdr = int(binary.BigEndian.Uint16(b[1:3])), 3
		case 2:
			if len(b) < 5 {
				return 0, nil, nil, false
			}
			n, hdr = int(binary.BigEndian.Uint32(b[1:5])), 5
		default:
			return 0, nil, nil, false
		}
	}
	if n < 0 || n > len(b)-hdr {
		return 0, nil, nil, false
	}
	return tag, b[hdr : hdr+n], b[hdr+n:], true
}
