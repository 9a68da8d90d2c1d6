package fetch

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CacheInfo is what the store keeps about a downloaded copy so that
// --pull-policy=update can ask the server whether it changed, and skip even
// that while the copy is fresh.
type CacheInfo struct {
	// ETag is the entity tag the server sent with the copy ("" if none).
	ETag string
	// MaxAge is how long the copy stays fresh after FetchedAt, from
	// Cache-Control max-age less any Age. Zero (also for no-cache and
	// no-store) means it must be revalidated every time.
	MaxAge time.Duration
	// NoStore reports Cache-Control: no-store. The caller decides what to
	// do with it (acirun stores images regardless, since it must keep what
	// it runs, but will always revalidate).
	NoStore bool
	// FetchedAt is when the response was received.
	FetchedAt time.Time
}

// Fresh reports whether the copy may still be used at now without asking the
// server. A clock that went backwards makes nothing fresh.
func (c CacheInfo) Fresh(now time.Time) bool {
	if c.MaxAge <= 0 || c.FetchedAt.IsZero() || now.Before(c.FetchedAt) {
		return false
	}
	return now.Before(c.FetchedAt.Add(c.MaxAge))
}

// cacheInfo reads the caching headers of a response received at now.
func cacheInfo(h http.Header, now time.Time) CacheInfo {
	maxAge, noCache, noStore := parseCacheControl(h.Get("Cache-Control"))
	if age, err := strconv.ParseInt(strings.TrimSpace(h.Get("Age")), 10, 64); err == nil && age > 0 {
		maxAge -= time.Duration(age) * time.Second
	}
	if noCache || noStore || maxAge < 0 {
		maxAge = 0
	}
	return CacheInfo{ETag: h.Get("ETag"), MaxAge: maxAge, NoStore: noStore, FetchedAt: now}
}

// maxMaxAge bounds max-age so that a silly value cannot overflow or keep an
// image from ever being revalidated.
const maxMaxAge = 365 * 24 * time.Hour

// parseCacheControl reads the directives of a Cache-Control header that
// matter to a private client cache: max-age, no-cache and no-store. An
// invalid max-age counts as zero.
func parseCacheControl(v string) (maxAge time.Duration, noCache, noStore bool) {
	for _, d := range strings.Split(v, ",") {
		name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-cache":
			noCache = true
		case "no-store":
			noStore = true
		case "max-age":
			arg = strings.Trim(strings.TrimSpace(arg), `"`)
			secs, err := strconv.ParseUint(arg, 10, 64)
			switch {
			case errors.Is(err, strconv.ErrRange) && arg != "":
				maxAge = maxMaxAge // RFC 9111 5.2: an overflowing value means "very long"
			case err != nil:
				maxAge = 0
			case secs > uint64(maxMaxAge/time.Second):
				maxAge = maxMaxAge
			default:
				maxAge = time.Duration(secs) * time.Second
			}
		}
	}
	return maxAge, noCache, noStore
}
