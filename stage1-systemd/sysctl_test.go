package stage1

import (
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
)

// sysctlManifest is a pod manifest of apps a and b with the given sysctl
// isolator values (JSON objects, "" for none).
func sysctlManifest(pod, a, b string) string {
	iso := func(v string) string {
		if v == "" {
			return ""
		}
		return `,"isolators":[{"name":"os/unix/sysctl","value":` + v + `}]`
	}
	app := func(name, v string) string {
		return `{"name":"` + name + `","image":{"id":"` + testID + `"},"app":{"exec":["/x"],"user":"0","group":"0"` + iso(v) + `}}`
	}
	m := `{"acVersion":"0.8.11","acKind":"PodManifest","apps":[` + app("a", a) + `,` + app("b", b) + `]`
	if pod != "" {
		m += iso(pod)
	}
	return m + "}"
}

func TestPodSysctls(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pod, a, b  string
		want       string // settings as from:path=value, space-separated, again marked with *
		err        string
		hostNetErr string // checkSysctlNet(..., "host") error, if any
	}{
		{name: "none", want: ""},
		{name: "pod and apps",
			pod:        `{"net.ipv4.ip_forward":"1","kernel.shmmax":" 12345678\n"}`,
			a:          `{"fs.mqueue.msg_max":"20","kernel.sem":"250 32000 32 128"}`,
			b:          `{"kernel.domainname":"pod.example","net/ipv4/conf/eth0.1/forwarding":"0"}`,
			want:       `pod:kernel/shmmax="12345678" pod:net/ipv4/ip_forward="1" app a:fs/mqueue/msg_max="20" app a:kernel/sem="250 32000 32 128" app b:kernel/domainname="pod.example" app b:net/ipv4/conf/eth0.1/forwarding="0"`,
			hostNetErr: "pod: isolator os/unix/sysctl: net.ipv4.ip_forward refused: the pod shares the host's network namespace"},
		{name: "same value twice",
			a:          `{"net.ipv4.ping_group_range":"0 2147483647"}`,
			b:          `{"net/ipv4/ping_group_range":"0\t2147483647"}`,
			want:       `app a:net/ipv4/ping_group_range="0 2147483647" app b:net/ipv4/ping_group_range="0\t2147483647"*`,
			hostNetErr: "app a: isolator os/unix/sysctl: net.ipv4.ping_group_range refused"},
		{name: "ipc only with --net=host", pod: `{"kernel.msgmnb":"65536"}`, want: `pod:kernel/msgmnb="65536"`},
		{name: "apps conflict", a: `{"kernel.shmmax":"1000"}`, b: `{"kernel/shmmax":"2000"}`,
			err: `isolator os/unix/sysctl: app a sets kernel.shmmax="1000" and app b sets kernel/shmmax="2000"`},
		{name: "pod and app conflict", pod: `{"net.ipv4.ip_forward":"0"}`, b: `{"net.ipv4.ip_forward":"1"}`,
			err: `pod sets net.ipv4.ip_forward="0" and app b sets net.ipv4.ip_forward="1"`},
		{name: "kernel.panic", a: `{"kernel.panic":"10"}`, err: "app a: isolator os/unix/sysctl: kernel.panic refused: not in the pod's namespaces"},
		{name: "vm.swappiness in the pod", pod: `{"vm.swappiness":"10"}`, err: "pod: isolator os/unix/sysctl: vm.swappiness refused"},
		{name: "kernel.hostname", a: `{"kernel.hostname":"x"}`, err: "kernel.hostname refused: the pod's host name is set with --hostname"},
		{name: "kernel prefix is not enough", a: `{"kernel.shmfoo":"1"}`, err: "kernel.shmfoo refused"},
		{name: "fs.mqueue too deep", a: `{"fs.mqueue.a.b":"1"}`, err: "fs.mqueue.a.b refused"},
		{name: "net alone", a: `{"net":"1"}`, err: "net refused"},
		{name: "slashed dots are one component", a: `{"net.ipv4/ip_forward":"1"}`, err: "net.ipv4/ip_forward refused"},
		{name: "control character in key", a: `{"net.ipv4.ip_forward\u0001":"1"}`, err: `"net.ipv4.ip_forward\x01": not a sysctl name`},
		{name: "empty value", a: `{"net.ipv4.ip_forward":" "}`, err: `net.ipv4.ip_forward: value "": want 1 to`},
		{name: "control character in value", a: `{"net.ipv4.ip_forward":"1\n2"}`, err: `control character '\n'`},
		{name: "long value", a: `{"net.ipv4.ip_forward":"` + strings.Repeat("1", 4096) + `"}`, err: "want 1 to 4095 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pm, err := aci.ParsePodManifest([]byte(sysctlManifest(tc.pod, tc.a, tc.b)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := podSysctls(pm)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				// specFromManifest refuses the pod the same way.
				if _, err := specFromManifest(pm, "/p/x"); err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("specFromManifest: %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var w []string
			for _, s := range got {
				e := s.from + ":" + s.path + "=" + quoteValue(s.value)
				if s.again {
					e += "*"
				}
				w = append(w, e)
			}
			if g := strings.Join(w, " "); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
			if err := checkSysctlNet(got, "none"); err != nil {
				t.Errorf("--net=none: %v", err)
			}
			err = checkSysctlNet(got, "host")
			if tc.hostNetErr == "" && err != nil || tc.hostNetErr != "" && (err == nil || !strings.Contains(err.Error(), tc.hostNetErr)) {
				t.Errorf("--net=host: %v, want %q", err, tc.hostNetErr)
			}
			// Sysctls are pod scope: no app reports them as ignored.
			spec, err := specFromManifest(pm, "/p/x")
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range spec.apps {
				if len(a.isolators.ignored) != 0 {
					t.Errorf("app %s: ignored %v", a.name, a.isolators.ignored)
				}
			}
		})
	}
}

func quoteValue(v string) string { return sysctlSetting{value: v}.String()[1:] }

// FuzzSysctlPath checks that whatever sysctlPath accepts stays below
// /proc/sys: components that are neither empty, "." nor "..", hold no slash
// or control character, and a name that classifySysctl takes is one of the
// pod's namespaces.
func FuzzSysctlPath(f *testing.F) {
	for _, s := range []string{"net.ipv4.ip_forward", "net/ipv4/conf/eth0.1/forwarding", "kernel.shmmax", "a..b", "../x", "net/../kernel/panic", "fs.mqueue.msg_max", "net.ipv4/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		comps, err := sysctlPath(key)
		if err != nil {
			return
		}
		for _, c := range comps {
			if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\x00\n") {
				t.Fatalf("%q: component %q accepted", key, c)
			}
		}
		ns, err := classifySysctl(comps)
		if err != nil {
			return
		}
		switch {
		case ns == "net" && comps[0] == "net":
		case ns == "ipc" && (comps[0] == "kernel" || comps[0] == "fs" && comps[1] == "mqueue"):
		case ns == "uts" && strings.Join(comps, "/") == "kernel/domainname":
		default:
			t.Fatalf("%q: classified %s", key, ns)
		}
	})
}
