package stage1

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostSysctls are the host's sysctls the pods below set (or try to): each
// test checks that the host's values are the same afterwards.
func hostSysctls(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, k := range []string{"net/ipv4/ip_forward", "net/ipv4/ping_group_range", "net/core/rmem_max",
		"kernel/shmmax", "kernel/domainname", "kernel/panic", "vm/swappiness", "fs/mqueue/msg_max"} {
		b, err := os.ReadFile("/proc/sys/" + k)
		must(t, err)
		m[k] = string(b)
	}
	return m
}

func checkHostSysctls(t *testing.T, before map[string]string) {
	t.Helper()
	for k, v := range hostSysctls(t) {
		if v != before[k] {
			t.Errorf("the host's %s changed from %q to %q", k, before[k], v)
		}
	}
}

// sysctlIso is an os/unix/sysctl isolator of KEY VALUE pairs.
func sysctlIso(kv ...string) string {
	var s []string
	for i := 0; i < len(kv); i += 2 {
		s = append(s, `"`+kv[i]+`":"`+kv[i+1]+`"`)
	}
	return `{"name":"os/unix/sysctl","value":{` + strings.Join(s, ",") + `}}`
}

func TestPodSysctlsSet(t *testing.T) {
	needRoot(t)
	host := hostSysctls(t)
	// Values that differ from the host's, so that a write that reached the
	// host would show.
	fwd := "1"
	if strings.TrimSpace(host["net/ipv4/ip_forward"]) == "1" {
		fwd = "0"
	}
	pgr := "0\t2147483647"
	if strings.Join(strings.Fields(host["net/ipv4/ping_group_range"]), "\t") == pgr {
		pgr = "100\t200"
	}
	shmmax := "12345678"
	if strings.TrimSpace(host["kernel/shmmax"]) == shmmax {
		shmmax = "23456789"
	}
	cats := []string{"/probe", "cat:/proc/sys/net/ipv4/ip_forward", "cat:/proc/sys/net/ipv4/ping_group_range",
		"cat:/proc/sys/kernel/shmmax", "cat:/proc/sys/fs/mqueue/msg_max", "cat:/proc/sys/kernel/domainname",
		"write:/proc/sys/kernel/shmmax"}
	p := newPod(t, []testApp{
		{name: "a", exec: cats, iso: []string{sysctlIso("net.ipv4.ping_group_range", strings.ReplaceAll(pgr, "\t", " "))}},
		{name: "b", exec: cats, iso: []string{sysctlIso("kernel.shmmax", shmmax, "fs/mqueue/msg_max", "20", "kernel.domainname", "pod.example",
			"net.ipv4.ping_group_range", strings.ReplaceAll(pgr, "\t", `\t`))}},
	}, nil, sysctlIso("net.ipv4.ip_forward", fwd))
	r := p.run(t, "--net=none")
	if r.code != 0 {
		t.Fatalf("pod exit %d", r.code)
	}
	// Both apps see every setting: they share the pod's namespaces.
	for _, w := range []string{
		"cat /proc/sys/net/ipv4/ip_forward\n" + fwd + "\n",
		"cat /proc/sys/net/ipv4/ping_group_range\n" + pgr + "\n",
		"cat /proc/sys/kernel/shmmax\n" + shmmax + "\n",
		"cat /proc/sys/fs/mqueue/msg_max\n20\n",
		"cat /proc/sys/kernel/domainname\npod.example\n",
	} {
		if n := strings.Count(r.stdout, w); n != 2 {
			t.Errorf("%d apps saw %q, want 2", n, w)
		}
	}
	// /proc/sys stays read-only for the apps.
	if n := strings.Count(r.stdout, "write error open /proc/sys/kernel/shmmax: read-only file system"); n != 2 {
		t.Errorf("%d apps could not write /proc/sys/kernel/shmmax, want 2", n)
	}
	for _, w := range []string{
		`pod: isolator os/unix/sysctl: enforced: net.ipv4.ip_forward="` + fwd + `"`,
		`app a: isolator os/unix/sysctl: enforced for the whole pod: net.ipv4.ping_group_range=`,
		`app b: isolator os/unix/sysctl: enforced for the whole pod: fs/mqueue/msg_max="20" kernel.domainname="pod.example" kernel.shmmax="` + shmmax + `" net.ipv4.ping_group_range=`,
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	if strings.Contains(r.stderr, "ignored") {
		t.Error("an isolator was reported ignored")
	}
	checkHostSysctls(t, host)

	// The IPC namespace is the pod's own even with the host's network.
	p = newPod(t, []testApp{{name: "a", exec: []string{"/probe", "cat:/proc/sys/kernel/shmmax"}}}, nil, sysctlIso("kernel.shmmax", shmmax))
	r = p.run(t, "--net=host")
	r.has(t, "cat /proc/sys/kernel/shmmax\n"+shmmax+"\n")
	checkHostSysctls(t, host)
}

func TestPodSysctlsRefused(t *testing.T) {
	needRoot(t)
	host := hostSysctls(t)
	for _, tc := range []struct {
		name      string
		pod, a, b string // isolators, "" for none
		net       string
		err       string
	}{
		{name: "kernel.panic", a: sysctlIso("kernel.panic", "10"),
			err: "app a: isolator os/unix/sysctl: kernel.panic refused: not in the pod's namespaces: setting it would change the host's kernel"},
		{name: "vm.swappiness in the pod", pod: sysctlIso("vm.swappiness", "1"),
			err: "pod: isolator os/unix/sysctl: vm.swappiness refused: not in the pod's namespaces"},
		{name: "kernel.hostname", a: sysctlIso("kernel.hostname", "x"), err: "kernel.hostname refused: the pod's host name is set with --hostname"},
		{name: "net with --net=host", a: sysctlIso("net.ipv4.ip_forward", "1"), net: "host",
			err: "app a: isolator os/unix/sysctl: net.ipv4.ip_forward refused: the pod shares the host's network namespace (--net=host)"},
		{name: "malformed key", a: sysctlIso("net.ipv4..ip_forward", "1"), err: `"net.ipv4..ip_forward" is not a sysctl name`},
		{name: "control character in key", a: sysctlIso(`net.ipv4.ip_forward\u0007`, "1"), err: `"net.ipv4.ip_forward\a": not a sysctl name`},
		{name: "escape", a: sysctlIso("net/ipv4/../../kernel/panic", "1"), err: `"net/ipv4/../../kernel/panic" is not a sysctl name`},
		{name: "apps conflict", a: sysctlIso("kernel.shmmax", "1000"), b: sysctlIso("kernel.shmmax", "2000"),
			err: `isolator os/unix/sysctl: app a sets kernel.shmmax="1000" and app b sets kernel.shmmax="2000": a pod has one value of a sysctl`},
		// Refused by the kernel, in the pod's PID 1: still before any app.
		{name: "global net sysctl", a: sysctlIso("net.core.rmem_max", "1000"),
			err: "app a: isolator os/unix/sysctl: net.core.rmem_max: not writable in the pod's namespaces"},
		{name: "unknown net sysctl", a: sysctlIso("net.ipv4.no_such_sysctl", "1"),
			err: "app a: isolator os/unix/sysctl: net.ipv4.no_such_sysctl: no such sysctl in the pod's namespaces"},
		{name: "bad value", pod: sysctlIso("kernel.shmmax", "2000"), a: sysctlIso("net.ipv4.ip_forward", "banana"),
			err: `app a: isolator os/unix/sysctl: net.ipv4.ip_forward: the kernel refused the value "banana"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var apps []testApp
			for _, a := range []struct{ name, iso string }{{"a", tc.a}, {"b", tc.b}} {
				ta := testApp{name: a.name, exec: []string{"/probe", "hostname", "write:/tmp/started"}}
				if a.iso != "" {
					ta.iso = []string{a.iso}
				}
				apps = append(apps, ta)
			}
			var pod []string
			if tc.pod != "" {
				pod = append(pod, tc.pod)
			}
			p := newPod(t, apps, nil, pod...)
			net := tc.net
			if net == "" {
				net = "none"
			}
			r := p.run(t, "--net="+net)
			if r.code != ExitCodeFailure {
				t.Errorf("exit %d, want %d", r.code, ExitCodeFailure)
			}
			if !strings.Contains(r.stderr, tc.err) {
				t.Errorf("stderr lacks %q", tc.err)
			}
			if r.stdout != "" {
				t.Errorf("an app ran: %q", r.stdout)
			}
			for _, a := range []string{"a", "b"} {
				if _, err := os.Stat(filepath.Join(p.dir, "apps", a, "upper", "tmp", "started")); err == nil {
					t.Errorf("app %s started", a)
				}
			}
			checkHostSysctls(t, host)
		})
	}
}
