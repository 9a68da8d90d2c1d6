package fetch

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Credentials is what is sent to one host, read from an auth.d file.
type Credentials struct {
	// Type is "basic" (User and Password) or "oauth" (Token, sent as a
	// bearer token).
	Type     string
	User     string
	Password string
	Token    string
	// Source is the file the credentials were read from, for messages.
	Source string
}

// String describes the credentials without their secret, so that they can
// be logged or printed with %v safely.
func (c Credentials) String() string {
	who := ""
	if c.Type == "basic" {
		who = " of user " + c.User
	}
	return fmt.Sprintf("%s credentials%s from %s", c.Type, who, c.Source)
}

// GoString keeps %#v from printing the secret too.
func (c Credentials) GoString() string { return c.String() }

// header returns the value of the Authorization header.
func (c Credentials) header() string {
	if c.Type == "basic" {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.User+":"+c.Password))
	}
	return "Bearer " + c.Token
}

// Auth maps hosts to their credentials. A key is a host name
// ("example.com"), which applies on any port, or host:port
// ("example.com:8443"), which applies on that port only and wins over the
// bare name.
type Auth map[string]Credentials

// For returns the credentials for the host of u, if any.
func (a Auth) For(u *url.URL) (Credentials, bool) {
	if c, ok := a[strings.ToLower(u.Host)]; ok {
		return c, true
	}
	c, ok := a[strings.ToLower(u.Hostname())]
	return c, ok
}

// authFile is an auth.d file in rkt's format (rkt Documentation/configuration.md):
//
//	{"rktKind": "auth", "rktVersion": "v1", "domains": ["example.com"],
//	 "type": "basic", "credentials": {"user": "u", "password": "p"}}
//
// or "type": "oauth" with "credentials": {"token": "t"}. No acKind is needed
// or looked at.
type authFile struct {
	RktKind     string          `json:"rktKind"`
	RktVersion  string          `json:"rktVersion"`
	Domains     []string        `json:"domains"`
	Type        string          `json:"type"`
	Credentials json.RawMessage `json:"credentials"`
}

// LoadAuth reads the credentials in the *.json files of each of authDirs
// (auth.d directories, e.g. /usr/lib/acirun/auth.d then /etc/acirun/auth.d),
// in order: a later directory overrides an earlier one domain by domain, as
// rkt's local configuration overrode its system one. Missing directories are
// fine. Files not ending in .json are ignored; files of rkt's other kind in
// auth.d, "dockerAuth", are skipped. Any other problem is an error naming the
// file: bad JSON, a missing rktKind or rktVersion, an unknown kind, version or
// type, no domains, empty credentials, or a domain given twice in one
// directory. A file every user may read is used, with a warning to
// warnings (if not nil): its secrets are not secret.
func LoadAuth(warnings io.Writer, authDirs ...string) (Auth, error) {
	return loadAuth(warnings, parseAuthFile, authDirs)
}

// LoadDockerAuth reads the credentials of container registries from the
// same auth.d directories, in rkt's other kind of file there:
//
//	{"rktKind": "dockerAuth", "rktVersion": "v1", "registries": ["quay.io"],
//	 "credentials": {"user": "u", "password": "p"}}
//
// with the same rules as LoadAuth (a later directory wins registry by
// registry; a file every user may read is used with a warning). Files of
// kind "auth" are skipped here.
func LoadDockerAuth(warnings io.Writer, authDirs ...string) (Auth, error) {
	return loadAuth(warnings, parseDockerAuthFile, authDirs)
}

func loadAuth(warnings io.Writer, parse func([]byte) ([]string, Credentials, error), authDirs []string) (Auth, error) {
	all := Auth{}
	for _, dir := range authDirs {
		one, err := loadAuthDir(warnings, dir, parse)
		if err != nil {
			return nil, err
		}
		for d, c := range one {
			all[d] = c
		}
	}
	return all, nil
}

func loadAuthDir(warnings io.Writer, dir string, parse func([]byte) ([]string, Credentials, error)) (Auth, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return Auth{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read auth config: %w", err)
	}
	auth := Auth{}
	for _, e := range entries { // ReadDir sorts by name
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path) // follows symlinks
		if err != nil {
			return nil, fmt.Errorf("read auth config: %w", err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read auth config: %w", err)
		}
		domains, creds, err := parse(raw)
		if err != nil {
			return nil, fmt.Errorf("auth config %s: %w", path, err)
		}
		// Said by the loader of the file's own kind only.
		if perm := fi.Mode().Perm(); perm&0o004 != 0 && warnings != nil && len(domains) > 0 {
			fmt.Fprintf(warnings, "warning: auth config %s is readable by every user (mode %04o): anyone on this host can read its credentials (chmod o-r %s)\n", path, perm, path)
		}
		creds.Source = path
		for _, d := range domains {
			if prev, dup := auth[d]; dup {
				return nil, fmt.Errorf("auth config %s: domain %q is already configured in %s", path, d, prev.Source)
			}
			auth[d] = creds
		}
	}
	return auth, nil
}

// parseAuthFile parses one auth.d file. A dockerAuth file gives no domains
// and no error.
func parseAuthFile(raw []byte) ([]string, Credentials, error) {
	var f authFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, Credentials{}, err
	}
	switch {
	case f.RktKind == "":
		return nil, Credentials{}, errors.New("no rktKind")
	case f.RktKind == "dockerAuth":
		return nil, Credentials{}, nil
	case f.RktKind != "auth":
		return nil, Credentials{}, fmt.Errorf("rktKind %q is not \"auth\"", f.RktKind)
	case f.RktVersion == "":
		return nil, Credentials{}, errors.New("no rktVersion")
	case f.RktVersion != "v1":
		return nil, Credentials{}, fmt.Errorf("unknown rktVersion %q of kind auth (want v1)", f.RktVersion)
	case len(f.Domains) == 0:
		return nil, Credentials{}, errors.New("no domains")
	}
	domains := make([]string, 0, len(f.Domains))
	for _, d := range f.Domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, "/@?# ") {
			return nil, Credentials{}, fmt.Errorf("domain %q is not a host or host:port", d)
		}
		if !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	c := Credentials{Type: f.Type}
	if len(f.Credentials) == 0 {
		return nil, Credentials{}, errors.New("no credentials")
	}
	switch f.Type {
	case "basic":
		user, password, err := parseBasicCredentials(f.Credentials, "basic")
		if err != nil {
			return nil, Credentials{}, err
		}
		c.User, c.Password = user, password
	case "oauth":
		var o struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(f.Credentials, &o); err != nil {
			return nil, Credentials{}, fmt.Errorf("credentials: %w", err)
		}
		if o.Token == "" {
			return nil, Credentials{}, errors.New("oauth credentials need a token")
		}
		c.Token = o.Token
	case "":
		return nil, Credentials{}, errors.New("no type")
	default:
		return nil, Credentials{}, fmt.Errorf("unknown type %q (want basic or oauth)", f.Type)
	}
	return domains, c, nil
}

// parseDockerAuthFile parses one auth.d file of kind dockerAuth; a file of
// kind auth gives no registries and no error. Registries are host or
// host:port, as domains are.
func parseDockerAuthFile(raw []byte) ([]string, Credentials, error) {
	var f struct {
		RktKind     string          `json:"rktKind"`
		RktVersion  string          `json:"rktVersion"`
		Registries  []string        `json:"registries"`
		Credentials json.RawMessage `json:"credentials"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, Credentials{}, err
	}
	switch {
	case f.RktKind == "":
		return nil, Credentials{}, errors.New("no rktKind")
	case f.RktKind == "auth":
		return nil, Credentials{}, nil
	case f.RktKind != "dockerAuth":
		return nil, Credentials{}, fmt.Errorf("rktKind %q is not \"dockerAuth\"", f.RktKind)
	case f.RktVersion != "v1":
		return nil, Credentials{}, fmt.Errorf("unknown rktVersion %q of kind dockerAuth (want v1)", f.RktVersion)
	case len(f.Registries) == 0:
		return nil, Credentials{}, errors.New("no registries")
	case len(f.Credentials) == 0:
		return nil, Credentials{}, errors.New("no credentials")
	}
	var regs []string
	for _, r := range f.Registries {
		r = strings.ToLower(strings.TrimSpace(r))
		if r == "" || strings.ContainsAny(r, "/@?# ") {
			return nil, Credentials{}, fmt.Errorf("registry %q is not a host or host:port", r)
		}
		if !slices.Contains(regs, r) {
			regs = append(regs, r)
		}
	}
	user, password, err := parseBasicCredentials(f.Credentials, "dockerAuth")
	if err != nil {
		return nil, Credentials{}, err
	}
	return regs, Credentials{Type: "basic", User: user, Password: password}, nil
}

// parseBasicCredentials reads the {"user", "password"} credentials that
// both kinds of auth.d file hold for basic auth; kind names the file's
// kind in the errors. A ':' in the user name would make the Authorization
// header ambiguous, so it is refused.
func parseBasicCredentials(raw json.RawMessage, kind string) (user, password string, err error) {
	var b struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return "", "", fmt.Errorf("credentials: %w", err)
	}
	if b.User == "" || b.Password == "" {
		return "", "", fmt.Errorf("%s credentials need a user and a password", kind)
	}
	if strings.Contains(b.User, ":") {
		return "", "", fmt.Errorf("%s credentials: the user name contains ':'", kind)
	}
	return b.User, b.Password, nil
}
