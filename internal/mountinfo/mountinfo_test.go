package mountinfo

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name string
		text string
		want []Mount
		err  string
	}{
		{"proc(5) example",
			"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
			[]Mount{{36, 35, "/mnt1", "/mnt2", "rw,noatime", "ext3", "/dev/root", "rw,errors=continue"}}, ""},
		{"no optional fields, several lines",
			"22 1 0:21 / /proc rw,nosuid - proc proc rw\n30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw shared:9 master:2 - cgroup cgroup rw,cpuacct,cpu",
			[]Mount{
				{22, 1, "/", "/proc", "rw,nosuid", "proc", "proc", "rw"},
				{30, 25, "/", "/sys/fs/cgroup/cpu,cpuacct", "rw", "cgroup", "cgroup", "rw,cpuacct,cpu"},
			}, ""},
		{"escaped paths",
			`40 22 0:50 /a\134b /mnt/with\040space\011tab rw - fuse.sshfs me@host:/x\040y rw` + "\n",
			[]Mount{{40, 22, `/a\b`, "/mnt/with space\ttab", "rw", "fuse.sshfs", "me@host:/x y", "rw"}}, ""},
		{"empty source", "41 22 0:51 / /run/x rw -  tmpfs rw\n",
			[]Mount{{41, 22, "/", "/run/x", "rw", "", "tmpfs", "rw"}}, ""},
		{"namespace bind mount", "271 165 0:4 net:[4026532458] /run/netns/x rw - nsfs nsfs rw\n",
			[]Mount{{271, 165, "net:[4026532458]", "/run/netns/x", "rw", "nsfs", "nsfs", "rw"}}, ""},
		{"relative root", "22 1 0:21 proc /proc rw - proc proc rw\n", nil, `root "proc" or mount point "/proc" is not absolute`},
		{"not a namespace root", "22 1 0:21 net:[x] /proc rw - proc proc rw\n", nil, `root "net:[x]" or mount point "/proc" is not absolute`},
		{"empty", "", nil, ""},
		{"no separator", "22 1 0:21 / /proc rw proc proc rw\n", nil, `mountinfo line 1 "22 1 0:21 / /proc rw proc proc rw": no " - " separator`},
		{"too few fields", "22 1 0:21 / /proc - proc proc rw\n", nil, "5 fields before the separator, want at least 6"},
		{"too many after", "22 1 0:21 / /proc rw - proc proc rw x\n", nil, "4 fields after the separator, want 3"},
		{"bad ID", "x 1 0:21 / /proc rw - proc proc rw\n", nil, `mount ID "x": not a number`},
		{"bad parent", "22 y 0:21 / /proc rw - proc proc rw\n", nil, `parent ID "y": not a number`},
		{"relative mount point", "22 1 0:21 / proc rw - proc proc rw\n", nil, `root "/" or mount point "proc" is not absolute`},
		{"second line bad", "22 1 0:21 / /proc rw - proc proc rw\ngarbage\n", nil, `mountinfo line 2 "garbage"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.text)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:            "/plain",
		`/with\040space`:    "/with space",
		`/tab\011and\134bs`: "/tab\tand\\bs",
		`\040`:              " ",
		`/short\04`:         `/short\04`,
		`/notoctal\999`:     `/notoctal\999`,
		`/toobig\400`:       `/toobig\400`,
		`/trailing\`:        `/trailing\`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
	f.Add(`40 22 0:50 /a\134b /mnt/with\040space rw - fuse.sshfs me@host:/x\040y rw`)
	f.Fuzz(func(t *testing.T, text string) {
		ms, err := Parse(text)
		if err != nil {
			return
		}
		for _, m := range ms {
			if !strings.HasPrefix(m.Root, "/") || !strings.HasPrefix(m.Mountpoint, "/") {
				t.Fatalf("accepted a relative path: %+v", m)
			}
		}
	})
}
