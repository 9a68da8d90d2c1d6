package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/host"
	"github.com/acirun/acirun/stage0/pod"
)

// TestGlobalFlagsAmongRunFlags: run and prepare take the global flags
// wherever they take pod flags (before, between and after the images, not
// in an app's arguments); a boolean one takes no value, the others take
// the next word or =VALUE; --insecure-options given several times adds up
// and reaches the request.
func TestGlobalFlagsAmongRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args     string
		globals  Globals
		insecure []string
		apps     []pod.AppRequest
	}{
		{"--debug a", Globals{Debug: true}, nil, []pod.AppRequest{{Image: "a"}}},
		{"a --debug --dir /d", Globals{Debug: true, Dir: "/d"}, nil, []pod.AppRequest{{Image: "a"}}},
		{"--insecure-options=image a --name x --insecure-options seccomp,paths b",
			Globals{Insecure: fetch.InsecureImage | fetch.InsecureSeccomp | fetch.InsecurePaths}, []string{"image", "paths", "seccomp"},
			[]pod.AppRequest{{Image: "a", Name: "x"}, {Image: "b"}}},
		{"a -- --debug --dir /x --- --run-dir=/r b --local-config /l --system-config=/s",
			Globals{RunDir: "/r", LocalConfig: "/l", SystemConfig: "/s"}, nil,
			[]pod.AppRequest{{Image: "a", Args: []string{"--debug", "--dir", "/x"}}, {Image: "b"}}},
		{"--insecure-options=all a", Globals{Insecure: fetch.InsecureAll}, []string{"all"}, []pod.AppRequest{{Image: "a"}}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			c := &CLI{}
			req, err := c.runRequest(split(tc.args))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Globals, tc.globals) {
				t.Errorf("globals %+v, want %+v", c.Globals, tc.globals)
			}
			if !reflect.DeepEqual(req.InsecureOptions, tc.insecure) {
				t.Errorf("request's insecure options %q, want %q", req.InsecureOptions, tc.insecure)
			}
			if !reflect.DeepEqual(req.Apps, tc.apps) {
				t.Errorf("apps %+v, want %+v", req.Apps, tc.apps)
			}
		})
	}
	for args, want := range map[string]string{
		"--insecure-options image,everything a": `--insecure-options "image,everything": unknown insecure option "everything"`,
		"a --dir":                               "flag --dir needs a value",
		"a --debug=maybe":                       `--debug "maybe"`,
	} {
		if _, err := (&CLI{}).runRequest(split(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("runRequest(%q) = %v, want an error containing %q", args, err, want)
		}
	}
}

// TestGlobalFlagsEverywhere: the global flags are taken before the
// command name and after it, in every command, and add up across the
// positions: `acirun --insecure-options=image fetch --insecure-options=tls`
// relaxes both.
func TestGlobalFlagsEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"--insecure-options=image", "--dir=/d", "version", "--insecure-options=tls"},
		{"version", "--dir", "/d", "--insecure-options", "image,tls"},
		{"--insecure-options=image,tls", "--dir", "/d", "version"},
	} {
		c := &CLI{Stdout: io.Discard, Stderr: io.Discard}
		if err := c.Run(context.Background(), args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		want := Globals{Dir: "/d", LocalConfig: host.DefaultLocalConfig, SystemConfig: host.DefaultSystemConfig, Insecure: fetch.InsecureImage | fetch.InsecureTLS}
		if c.Globals != want {
			t.Errorf("%q: globals %+v, want %+v", args, c.Globals, want)
		}
	}
	var stderr bytes.Buffer
	if code := Main([]string{"--insecure-options=bogus", "version"}, nil, io.Discard, &stderr); code != exitUsage || !strings.Contains(stderr.String(), `unknown insecure option "bogus"`) {
		t.Errorf("a bad global flag: exit %d, %q", code, stderr.String())
	}
}

// TestHelpNamesEveryGlobalFlag: a command's help names the global flags
// from their one definition.
func TestHelpNamesEveryGlobalFlag(t *testing.T) {
	var out bytes.Buffer
	c := &CLI{Stdout: &out, Stderr: io.Discard}
	if err := c.Run(context.Background(), []string{"run", "--help"}); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	new(Globals).register(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(out.String(), "--"+f.Name) {
			t.Errorf("run --help does not name the global flag --%s:\n%s", f.Name, out.String())
		}
	})
}
