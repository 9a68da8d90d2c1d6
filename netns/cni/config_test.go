package cni

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func builtin(s string) bool { return s == "default" || s == "host" || s == "none" }

// plugins makes a plugin directory holding executables of the names.
func plugins(t *testing.T, names ...string) string {
	dir := t.TempDir()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const bridgeList = `{"cniVersion": "1.0.0", "name": "web", "plugins": [
	{"type": "bridge", "bridge": "acw0", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.99.0.0/24"}]]}},
	{"type": "portmap", "capabilities": {"portMappings": true}}]}`

func TestFind(t *testing.T) {
	all := plugins(t, "bridge", "host-local", "portmap", "macvlan")
	for _, tc := range []struct {
		name  string
		files map[string]string
		find  string
		dirs  []string
		err   string // "" for found
		file  string // the file it is found in
		ports bool   // HasCapability(portMappings)
	}{
		{name: "conflist", files: map[string]string{"10-web.conflist": bridgeList}, find: "web", file: "10-web.conflist", ports: true},
		{name: "single plugin .conf", files: map[string]string{"20-mac.conf": `{"cniVersion": "0.4.0", "name": "mac", "type": "macvlan", "master": "eth0"}`},
			find: "mac", file: "20-mac.conf"},
		{name: "first file wins", files: map[string]string{"10-web.conflist": bridgeList, "20-web.conflist": strings.Replace(bridgeList, "acw0", "acw1", 1)},
			find: "web", file: "10-web.conflist", ports: true},
		{name: "conflist before conf", files: map[string]string{"99-web.conflist": bridgeList, "00-web.conf": `{"cniVersion": "1.0.0", "name": "web", "type": "macvlan"}`},
			find: "web", file: "99-web.conflist", ports: true},
		{name: "unknown lists the others", files: map[string]string{"10-web.conflist": bridgeList, "20-mac.conf": `{"cniVersion": "0.4.0", "name": "mac", "type": "macvlan"}`},
			find: "db", err: "unknown network db: the networks in DIR are web, mac (and the built-in default, default-restricted, host and none)"},
		{name: "unknown in an empty directory", files: map[string]string{}, find: "db", err: "unknown network db: DIR has no network configurations"},
		{name: "invalid JSON names its file", files: map[string]string{"10-web.conflist": bridgeList, "30-bad.conflist": `{"name": "bad", "plugins": [`},
			find: "web", err: "network configuration DIR/30-bad.conflist: error parsing configuration list"},
		{name: "no type", files: map[string]string{"30-bad.conflist": `{"cniVersion": "1.0.0", "name": "bad", "plugins": [{"bridge": "x"}]}`},
			find: "bad", err: "network configuration DIR/30-bad.conflist: failed to parse plugin config 0: error parsing configuration: missing 'type'"},
		{name: "bad cniVersion", files: map[string]string{"30-bad.conflist": `{"cniVersion": "one", "name": "bad", "plugins": [{"type": "bridge"}]}`},
			find: "bad", err: `network configuration DIR/30-bad.conflist: cniVersion "one"`},
		{name: "built-in name", files: map[string]string{"10-default.conflist": strings.Replace(bridgeList, `"web"`, `"default"`, 1)},
			find: "web", err: `network configuration DIR/10-default.conflist: "default" is the name of acirun's own network`},
		{name: "name --net cannot ask for", files: map[string]string{"10-x.conflist": strings.Replace(bridgeList, `"web"`, `"my web"`, 1)},
			find: "web", err: `network configuration DIR/10-x.conflist: network name "my web"`},
		{name: "missing plugin names the package", files: map[string]string{"10-web.conflist": bridgeList}, find: "web", dirs: []string{plugins(t, "bridge", "host-local")},
			err: "network web (DIR/10-web.conflist): plugin portmap not found in PLUGINS: install Debian's containernetworking-plugins"},
		{name: "missing IPAM plugin", files: map[string]string{"10-web.conflist": bridgeList}, find: "web", dirs: []string{plugins(t, "bridge", "portmap")},
			err: "plugin host-local not found in PLUGINS"},
		{name: "missing unknown plugin", files: map[string]string{"10-x.conflist": `{"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "acirun-none"}]}`}, find: "x",
			err: "network x (DIR/10-x.conflist): plugin acirun-none not found in PLUGINS: install it there"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, b := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dirs := tc.dirs
			if dirs == nil {
				dirs = []string{all}
			}
			cfg := Config{ConfDir: dir, PluginDirs: dirs}
			n, err := cfg.Find(tc.find, builtin)
			if tc.err != "" {
				want := strings.NewReplacer("DIR", dir, "PLUGINS", strings.Join(dirs, ":")).Replace(tc.err)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Find(%s) = %v; want an error containing %q", tc.find, err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Name != tc.find || n.File != filepath.Join(dir, tc.file) {
				t.Errorf("Find(%s) = %s from %s; want it from %s", tc.find, n.Name, n.File, tc.file)
			}
			if got := n.HasCapability(CapPortMappings); got != tc.ports {
				t.Errorf("HasCapability(portMappings) = %v", got)
			}
		})
	}
}
