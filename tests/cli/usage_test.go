package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirFlags are global flags that put every directory acirun could write
// under dir.
func dirFlags(dir string) []string {
	return []string{"--dir=" + filepath.Join(dir, "data"), "--run-dir=" + filepath.Join(dir, "run"),
		"--local-config=" + filepath.Join(dir, "etc"), "--system-config=" + filepath.Join(dir, "usr")}
}

// TestUsageErrors: each command refuses arguments and flag values it
// cannot use with exit 2, one line naming what is wrong (and what to give
// instead), then its own usage line, and touches nothing: none of its
// directories is made.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		want  string // the first line of stderr, after "acirun: "
		usage string // the command whose usage line follows
	}{
		{[]string{"completion"}, "completion takes the shell's name: bash or zsh", "completion"},
		{[]string{"completion", "fish"}, `completion: "fish" is not bash or zsh`, "completion"},
		{[]string{"config", "x"}, "config takes no arguments", "config"},
		{[]string{"enter"}, "enter takes a pod UUID", "enter"},
		{[]string{"export", "x"}, "export takes a UUID and the ACI file to write", "export"},
		{[]string{"cat-manifest"}, "cat-manifest takes one UUID", "cat-manifest"},
		{[]string{"fetch"}, "fetch needs at least one IMAGE", "fetch"},
		{[]string{"fetch", "--signature=s.asc", "a.aci", "b.aci"}, "--signature is the signature of one image, and 2 are named: fetch them one at a time", "fetch"},
		{[]string{"fetch", "--max-image-size=lots", "a.aci"}, `--max-image-size: "lots" is not a valid quantity: no digits`, "fetch"},
		{[]string{"gc", "x"}, "gc takes no arguments", "gc"},
		{[]string{"gc", "--grace-period=-1s"}, "--grace-period and --expire-prepared take a duration of 0 or more", "gc"},
		{[]string{"gc", "--expire-prepared=-5m"}, "--grace-period and --expire-prepared take a duration of 0 or more", "gc"},
		{[]string{"help", "--man", "run"}, "help --man prints the whole manual page; it takes no COMMAND", "help"},
		{[]string{"help", "nosuch"}, `no such command "nosuch"`, "help"},
		{[]string{"image", "build", "d"}, "image build takes DIR and OUT.aci, got 1 arguments", "image build"},
		{[]string{"image", "build", "--compression=lzma", "d", "o.aci"}, `--compression: unknown compression "lzma" (want gzip, bzip2, xz or none)`, "image build"},
		{[]string{"image", "cat-manifest"}, "image cat-manifest takes one FILE or IMAGE", "image cat-manifest"},
		{[]string{"image", "export", "x"}, "image export takes IMAGE and OUT.aci", "image export"},
		{[]string{"image", "extract", "x"}, "image extract takes IMAGE and DIR", "image extract"},
		{[]string{"image", "render", "x"}, "image render takes IMAGE and DIR", "image render"},
		{[]string{"image", "gc", "x"}, "image gc takes no arguments", "image gc"},
		{[]string{"image", "list", "x"}, "image list takes no arguments", "image list"},
		{[]string{"image", "list", "--fields=id,bogus"}, `--fields: unknown field "bogus"; the fields are id, name, importtime, lastused, size, latest, source, signer, digest`, "image list"},
		{[]string{"image", "list", "--format=yaml"}, `--format: "yaml" is not table or json`, "image list"},
		{[]string{"image", "list", "--format=json", "--no-legend"}, "--fields and --no-legend are for the table; --format=json prints every field", "image list"},
		{[]string{"image", "list", "--order=up"}, `--order: "up" is not asc or desc`, "image list"},
		{[]string{"image", "rm"}, "image rm needs at least one IMAGE", "image rm"},
		{[]string{"image", "validate"}, "image validate needs at least one FILE", "image validate"},
		{[]string{"list", "x"}, "list takes no arguments", "list"},
		{[]string{"list", "--format=yaml"}, `--format: "yaml" is not table or json`, "list"},
		{[]string{"list", "--format=json", "--no-legend"}, "--no-legend is for the table", "list"},
		{[]string{"status"}, "status takes one UUID", "status"},
		{[]string{"status", "a", "b"}, "status takes one UUID", "status"},
		{[]string{"status", "--format=yaml", "x"}, `--format: "yaml" is not table or json`, "status"},
		{[]string{"logs", "-n=-2", "x"}, "-n: -2 is not a number of lines", "logs"},
		{[]string{"logs", "-n", "x", "y"}, `invalid value "x" for flag -n: parse error`, "logs"},
		{[]string{"rm"}, "rm needs a UUID", "rm"},
		{[]string{"stop"}, "stop needs a UUID", "stop"},
		{[]string{"trust"}, "give exactly one of --prefix=PREFIX and --root", "trust"},
		{[]string{"trust", "--prefix=example.com", "--root", "k.asc"}, "give exactly one of --prefix=PREFIX and --root", "trust"},
		{[]string{"trust", "--root"}, "--root needs a KEYFILE or URL", "trust"},
		{[]string{"trust", "--prefix=EXAMPLE", "k.asc"}, `--prefix: invalid prefix "EXAMPLE": not an AC Identifier (want ^[a-z0-9]+([-._~/][a-z0-9]+)*$)`, "trust"},
		{[]string{"trust", "list", "x"}, "trust list takes no arguments", "trust list"},
		{[]string{"trust", "rm"}, "trust rm needs a FINGERPRINT", "trust rm"},
		{[]string{"unit", "generate", "./rel.aci"}, "image ./rel.aci is a relative path, and a unit does not run in this directory: give it as an absolute path", "unit generate"},
		{[]string{"unit", "name"}, "unit name takes one IMAGE", "unit name"},
		{[]string{"unit", "name", "a", "b"}, "unit name takes one IMAGE", "unit name"},
		{[]string{"version", "x"}, "version takes no arguments", "version"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			r := acirun(t, append(dirFlags(dir), tc.args...)...)
			first, rest, _ := strings.Cut(r.stderr, "\n")
			if r.code != 2 || first != "acirun: "+tc.want || !strings.HasPrefix(rest, "usage: acirun "+tc.usage+" ") && !strings.HasPrefix(rest, "usage: acirun "+tc.usage+"\n") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2, %q, then the usage of %s", r.code, r.stderr, "acirun: "+tc.want, tc.usage)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want none", r.stdout)
			}
			if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
				t.Errorf("a refused command made %v (%v)", ents, err)
			}
		})
	}
}

// TestGroupNeedsSubcommand: a command group alone lists its commands on
// stderr and exits 2, naming the group.
func TestGroupNeedsSubcommand(t *testing.T) {
	for _, group := range []string{"image", "unit"} {
		r := acirun(t, group)
		if r.code != 2 || !strings.HasPrefix(r.stderr, `Commands under "`+group+`":`) ||
			!strings.Contains(r.stderr, "  "+group+" ") || !strings.Contains(r.stderr, `acirun: "`+group+`" needs a subcommand`) {
			t.Errorf("acirun %s: exit %d, stderr:\n%s", group, r.code, r.stderr)
		}
	}
}

// TestNoSuchPod: every command on a pod names the UUID that matches no
// pod, exits 254, and prints nothing on stdout; with several UUIDs the
// others are still handled (stop, rm).
func TestNoSuchPod(t *testing.T) {
	const id = "0f5e2b8a-1111-4222-8333-444455556666"
	dir := t.TempDir()
	for _, args := range [][]string{
		{"stop", id}, {"stop", "--force", id}, {"rm", id}, {"status", id}, {"logs", id}, {"cat-manifest", id},
		{"export", id, filepath.Join(dir, "out.aci")}, {"enter", id}, {"run-prepared", id},
	} {
		r := acirun(t, append(dirFlags(dir), args...)...)
		if r.code != 254 || r.stderr != "acirun: pod "+id+": no such pod\n" || r.stdout != "" {
			t.Errorf("acirun %s: exit %d, stdout %q, stderr %q\nwant exit 254 and only %q", strings.Join(args, " "), r.code, r.stdout, r.stderr, "acirun: pod "+id+": no such pod")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.aci")); err == nil {
		t.Error("export of no pod wrote its output file")
	}
	r := acirun(t, append(dirFlags(dir), "rm", "0f5e2b8a", "1a2b3c4d")...)
	if r.code != 254 || r.stderr != "acirun: pod 0f5e2b8a: no such pod\nacirun: pod 1a2b3c4d: no such pod\n" {
		t.Errorf("acirun rm of two unknown pods: exit %d, stderr %q\nwant both named", r.code, r.stderr)
	}
	r = acirun(t, append(dirFlags(dir), "stop", "--uuid-file="+filepath.Join(dir, "none"))...)
	if r.code != 254 || !strings.HasPrefix(r.stderr, "acirun: read pod UUID from --uuid-file: open "+filepath.Join(dir, "none")+": no such file or directory") {
		t.Errorf("acirun stop --uuid-file of a missing file: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestValidateACIManifests: image validate of ACIs made with plain tar
// lists every error of a manifest that parses but is invalid, each on its
// own line after the file's name and "manifest:", says where a manifest is
// no JSON, gives the ID of a valid one, and exits 254 naming how many of
// the files are invalid.
func TestValidateACIManifests(t *testing.T) {
	dir := t.TempDir()
	for name, manifest := range map[string]string{
		"good":    helloManifest,
		"invalid": `{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "Example.com/x", "app": {"exec": ["bin/x"], "user": "0", "group": "0"}}`,
		"nojson":  `{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/x", "labels": [`,
	} {
		img := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Join(img, "rootfs"), 0o755))
		must(t, os.WriteFile(filepath.Join(img, "manifest"), []byte(manifest), 0o644))
		sh(t, img, "tar -czf ../"+name+".aci manifest rootfs")
	}
	good, invalid, nojson := filepath.Join(dir, "good.aci"), filepath.Join(dir, "invalid.aci"), filepath.Join(dir, "nojson.aci")
	id := "sha512-" + strings.Fields(sh(t, dir, "gzip -dc good.aci | sha512sum"))[0]
	r := acirun(t, "image", "validate", good, invalid, nojson)
	want := good + ": ok " + id + "\n" +
		invalid + `: manifest: name: "Example.com/x" is not a valid AC Identifier: character 'E' at offset 0 (only a-z, 0-9 and -._~/ are allowed)` + "\n" +
		invalid + `: manifest: app.exec[0]: "bin/x" is a relative path; use an absolute path or a bare command name` + "\n" +
		nojson + ": manifest: invalid JSON: unexpected end of input\n"
	if r.code != 254 || r.stdout != want || r.stderr != "acirun: 2 of 3 files invalid\n" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 254, stdout:\n%s", r.code, r.stdout, r.stderr, want)
	}
}
