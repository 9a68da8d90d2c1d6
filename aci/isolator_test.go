package aci

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// imageWithIsolators wraps an isolators JSON list in a valid image manifest.
func imageWithIsolators(isolators string) []byte {
	return []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/test",
		"app":{"user":"0","group":"0","exec":["/bin/true"],"isolators":` + isolators + `}}`)
}

func TestIsolatorValues(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  IsolatorValue
	}{
		{"resource/cpu", `{"limit":"20m"}`, ResourceCPU{RequestMilli: 20, LimitMilli: 20}},
		{"resource/cpu", `{"request":"250m","limit":"2"}`, ResourceCPU{RequestMilli: 250, LimitMilli: 2000}},
		{"resource/cpu", `{"request":"1"}`, ResourceCPU{RequestMilli: 1000}},
		{"resource/cpu", `{"default":false,"limit":"1.5"}`, ResourceCPU{RequestMilli: 1500, LimitMilli: 1500}},
		{"resource/cpu", `{"request":"0","limit":"1"}`, ResourceCPU{RequestMilli: 0, LimitMilli: 1000}},
		{"resource/cpu", `{"limit":2}`, ResourceCPU{RequestMilli: 2000, LimitMilli: 2000}},
		{"resource/memory", `{"limit":"1G"}`, ResourceMemory{Request: 1e9, Limit: 1e9}},
		{"resource/memory", `{"request":"512Mi","limit":"1Gi"}`, ResourceMemory{Request: 512 << 20, Limit: 1 << 30}},
		{"resource/memory", `{"limit":"1e9"}`, ResourceMemory{Request: 1e9, Limit: 1e9}},
		{"resource/block-bandwidth", `{"default":true,"limit":"2M"}`, ResourceBlockBandwidth{Limit: 2e6}},
		{"resource/block-iops", `{"default":true,"limit":"1000"}`, ResourceBlockIOPS{Limit: 1000}},
		{"resource/network-bandwidth", `{"default":true,"limit":"1Mi"}`, ResourceNetworkBandwidth{Limit: 1 << 20}},
		{"os/linux/capabilities-retain-set", `{"set":["CAP_NET_ADMIN","CAP_NET_BIND_SERVICE"]}`,
			LinuxCapabilitiesRetainSet{Set: []LinuxCapability{"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"}}},
		{"os/linux/capabilities-remove-set", `{"set":["CAP_CHOWN"]}`, LinuxCapabilitiesRemoveSet{Set: []LinuxCapability{"CAP_CHOWN"}}},
		{"os/linux/capabilities-retain-set", `{"set":["CAP_CHECKPOINT_RESTORE","CAP_BPF","CAP_PERFMON"]}`,
			LinuxCapabilitiesRetainSet{Set: []LinuxCapability{"CAP_CHECKPOINT_RESTORE", "CAP_BPF", "CAP_PERFMON"}}},
		{"os/linux/no-new-privileges", `true`, LinuxNoNewPrivileges(true)},
		{"os/linux/no-new-privileges", `false`, LinuxNoNewPrivileges(false)},
		{"os/linux/seccomp-remove-set", `{"errno":"EACCESS","set":["clock_settime","reboot"]}`,
			LinuxSeccompRemoveSet{Set: []string{"clock_settime", "reboot"}, Errno: "EACCESS"}},
		{"os/linux/seccomp-retain-set", `{"set":["@appc.io/all"]}`, LinuxSeccompRetainSet{Set: []string{"@appc.io/all"}}},
		{"os/linux/seccomp-retain-set", `{"set":["@appc.io/empty"],"errno":"EPERM"}`, LinuxSeccompRetainSet{Set: []string{"@appc.io/empty"}, Errno: "EPERM"}},
		{"os/linux/seccomp-remove-set", `{"set":["@docker/default-blacklist","kexec_load"],"errno":""}`,
			LinuxSeccompRemoveSet{Set: []string{"@docker/default-blacklist", "kexec_load"}}},
		{"os/linux/selinux-context", `{"user":"system_u","role":"system_r","type":"svirt_lxc_net_t","level":"s0:c1,c2"}`,
			LinuxSELinuxContext{User: "system_u", Role: "system_r", Type: "svirt_lxc_net_t", Level: "s0:c1,c2"}},
		{"os/linux/apparmor-profile", `{"profile":"docker-default"}`, LinuxAppArmorProfile{Profile: "docker-default"}},
		{"os/linux/oom-score-adj", `-1000`, LinuxOOMScoreAdj(-1000)},
		{"os/linux/oom-score-adj", `1000`, LinuxOOMScoreAdj(1000)},
		{"os/linux/oom-score-adj", `0`, LinuxOOMScoreAdj(0)},
		{"os/linux/cpu-shares", `2`, LinuxCPUShares(2)},
		{"os/linux/cpu-shares", `262144`, LinuxCPUShares(262144)},
		{"os/linux/cpu-shares", `1024`, LinuxCPUShares(1024)},
		{"os/unix/sysctl", `{"net.ipv4.tcp_fin_timeout":"6","kernel/msgmax":"65536"}`,
			UnixSysctl{"net.ipv4.tcp_fin_timeout": "6", "kernel/msgmax": "65536"}},
		{"os/unix/sysctl", `{}`, UnixSysctl{}},
	}
	for _, tt := range tests {
		doc := imageWithIsolators(`[{"name":"` + tt.name + `","value":` + tt.value + `}]`)
		m, err := ParseImageManifest(doc)
		if err != nil {
			t.Errorf("%s %s: %v", tt.name, tt.value, err)
			continue
		}
		got := m.App.Isolators[0]
		if string(got.Name) != tt.name || !reflect.DeepEqual(got.Value, tt.want) {
			t.Errorf("%s %s = %#v, want %#v", tt.name, tt.value, got.Value, tt.want)
		}
		if u := m.App.Isolators.Unknown(); len(u) != 0 {
			t.Errorf("%s reported unknown", tt.name)
		}
		roundTripImage(t, m)
		// A value built in code validates the same way.
		if err := (Isolators{NewIsolator(tt.want)}).Validate(); err != nil {
			t.Errorf("Validate(%#v) = %v", tt.want, err)
		}
	}
}

func TestIsolatorErrors(t *testing.T) {
	tests := []struct {
		isolators string
		path, msg string
	}{
		{`[{"name":"resource/cpu"}]`, "app.isolators[0].value", "required for isolator resource/cpu"},
		{`[{"name":"resource/cpu","value":null}]`, "app.isolators[0].value", "required for isolator resource/cpu"},
		{`[{"name":"os/linux/no-new-privileges"}]`, "app.isolators[0].value", "required for isolator os/linux/no-new-privileges"},
		{`[{"name":"example.com/unknown"}]`, "app.isolators[0].value", "required"},
		{`[{"value":true}]`, "app.isolators[0].name", "required"},
		{`[{"name":"Resource/CPU","value":{}}]`, "app.isolators[0].name", "not a valid AC Identifier"},
		{`[{"name":"resource/cpu","value":{"limit":"1"},"extra":1}]`, "app.isolators[0].extra", "unknown field"},
		{`["resource/cpu"]`, "app.isolators[0]", `"resource/cpu" is a string, want an object`},
		{`{}`, "app.isolators", "want an array"},

		{`[{"name":"resource/cpu","value":{"default":true,"limit":"1"}}]`, "app.isolators[0].value.default", "must be false or absent"},
		{`[{"name":"resource/cpu","value":{}}]`, "app.isolators[0].value", "needs a limit or a request"},
		{`[{"name":"resource/cpu","value":{"limit":"1K"}}]`, "app.isolators[0].value.limit", `"1K" is not a valid quantity`},
		{`[{"name":"resource/cpu","value":{"limit":"-1"}}]`, "app.isolators[0].value.limit", "negative"},
		{`[{"name":"resource/cpu","value":{"limit":"0"}}]`, "app.isolators[0].value.limit", `"0" must be greater than zero`},
		{`[{"name":"resource/cpu","value":{"limit":true}}]`, "app.isolators[0].value.limit", "want a quantity string"},
		{`[{"name":"resource/cpu","value":{"request":"2","limit":"1"}}]`, "app.isolators[0].value.request", "2 is more than the limit 1"},
		{`[{"name":"resource/cpu","value":{"limit":"1","lmit":"2"}}]`, "app.isolators[0].value.lmit", "unknown field"},
		{`[{"name":"resource/cpu","value":"1"}]`, "app.isolators[0].value", "want an object"},
		{`[{"name":"resource/memory","value":{"limit":"1G","default":true}}]`, "app.isolators[0].value.default", "must be false or absent"},
		{`[{"name":"resource/memory","value":{"limit":"1GB"}}]`, "app.isolators[0].value.limit", `unknown suffix "GB"`},
		{`[{"name":"resource/memory","value":{"limit":"8Ei"}}]`, "app.isolators[0].value.limit", "too large"},
		{`[{"name":"resource/memory","value":{"request":"2G","limit":"1G"}}]`, "app.isolators[0].value.request", "more than the limit"},
		{`[{"name":"resource/block-bandwidth","value":{"limit":"1M"}}]`, "app.isolators[0].value.default", "must be true"},
		{`[{"name":"resource/block-bandwidth","value":{"default":false,"limit":"1M"}}]`, "app.isolators[0].value.default", "must be true"},
		{`[{"name":"resource/block-bandwidth","value":{"default":true}}]`, "app.isolators[0].value.limit", "required"},
		{`[{"name":"resource/block-iops","value":{"default":true,"request":"1","limit":"2"}}]`, "app.isolators[0].value.request", "not supported"},
		{`[{"name":"resource/network-bandwidth","value":{"default":"true","limit":"2"}}]`, "app.isolators[0].value.default", "want true or false"},
		{`[{"name":"resource/network-bandwidth","value":{"default":true,"limit":"0"}}]`, "app.isolators[0].value.limit", "greater than zero"},

		{`[{"name":"os/linux/capabilities-retain-set","value":{"set":[]}}]`, "app.isolators[0].value.set", "must not be empty"},
		{`[{"name":"os/linux/capabilities-retain-set","value":{}}]`, "app.isolators[0].value.set", "required"},
		{`[{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_FOO"]}}]`, "app.isolators[0].value.set[0]", `"CAP_FOO" is not a Linux capability`},
		{`[{"name":"os/linux/capabilities-retain-set","value":{"set":["NET_ADMIN"]}}]`, "app.isolators[0].value.set[0]", "not a Linux capability"},
		{`[{"name":"os/linux/capabilities-retain-set","value":{"set":["cap_net_admin"]}}]`, "app.isolators[0].value.set[0]", "not a Linux capability"},
		{`[{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_KILL","CAP_KILL"]}}]`, "app.isolators[0].value.set[1]", "listed twice"},
		{`[{"name":"os/linux/capabilities-remove-set","value":{"set":"CAP_KILL"}}]`, "app.isolators[0].value.set", "want an array of strings"},
		{`[{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_KILL"]}},{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_CHOWN"]}}]`,
			"app.isolators[1].name", "exclude each other"},

		{`[{"name":"os/linux/no-new-privileges","value":"true"}]`, "app.isolators[0].value", `"true" is a string, want true or false`},
		{`[{"name":"os/linux/no-new-privileges","value":1}]`, "app.isolators[0].value", "want true or false"},

		{`[{"name":"os/linux/seccomp-remove-set","value":{"set":[]}}]`, "app.isolators[0].value.set", "must not be empty"},
		{`[{"name":"os/linux/seccomp-remove-set","value":{"errno":"EPERM"}}]`, "app.isolators[0].value.set", "required"},
		{`[{"name":"os/linux/seccomp-remove-set","value":{"set":["reboot"],"errno":"eperm"}}]`, "app.isolators[0].value.errno", `"eperm" is not an errno name`},
		{`[{"name":"os/linux/seccomp-remove-set","value":{"set":["reboot"],"errno":"PERM"}}]`, "app.isolators[0].value.errno", "not an errno name"},
		{`[{"name":"os/linux/seccomp-remove-set","value":{"set":["reboot"],"errno":1}}]`, "app.isolators[0].value.errno", "want a string"},
		{`[{"name":"os/linux/seccomp-retain-set","value":{"set":["Reboot"]}}]`, "app.isolators[0].value.set[0]", "not a syscall name"},
		{`[{"name":"os/linux/seccomp-retain-set","value":{"set":["@"]}}]`, "app.isolators[0].value.set[0]", "not a syscall name"},
		{`[{"name":"os/linux/seccomp-retain-set","value":{"set":["read"]}},{"name":"os/linux/seccomp-remove-set","value":{"set":["reboot"]}}]`,
			"app.isolators[1].name", "exclude each other"},
		{`[{"name":"os/linux/seccomp-retain-set","value":{"set":["read"]}},{"name":"os/linux/seccomp-retain-set","value":{"set":["write"]}}]`,
			"app.isolators[1].name", "given twice (also app.isolators[0])"},

		{`[{"name":"os/linux/selinux-context","value":{"user":"a","role":"b","type":"c"}}]`, "app.isolators[0].value.level", "required"},
		{`[{"name":"os/linux/selinux-context","value":{"user":"a:x","role":"b","type":"c","level":"s0"}}]`, "app.isolators[0].value.user", "must not contain ':'"},
		{`[{"name":"os/linux/selinux-context","value":{"user":"a","role":"b:","type":"c","level":"s0"}}]`, "app.isolators[0].value.role", "must not contain ':'"},
		{`[{"name":"os/linux/selinux-context","value":{"user":"a","role":"b","type":":c","level":"s0"}}]`, "app.isolators[0].value.type", "must not contain ':'"},
		{`[{"name":"os/linux/selinux-context","value":{"user":"a","role":"b","type":"c","level":"s0","range":"x"}}]`, "app.isolators[0].value.range", "unknown field"},
		{`[{"name":"os/linux/apparmor-profile","value":{"profile":""}}]`, "app.isolators[0].value.profile", "required"},
		{`[{"name":"os/linux/apparmor-profile","value":{}}]`, "app.isolators[0].value.profile", "required"},
		{`[{"name":"os/linux/apparmor-profile","value":"unconfined"}]`, "app.isolators[0].value", "want an object"},

		{`[{"name":"os/linux/oom-score-adj","value":1001}]`, "app.isolators[0].value", "1001 out of range -1000-1000"},
		{`[{"name":"os/linux/oom-score-adj","value":-1001}]`, "app.isolators[0].value", "-1001 out of range -1000-1000"},
		{`[{"name":"os/linux/oom-score-adj","value":1.5}]`, "app.isolators[0].value", "1.5 is not an integer"},
		{`[{"name":"os/linux/oom-score-adj","value":"100"}]`, "app.isolators[0].value", "want an integer"},
		{`[{"name":"os/linux/cpu-shares","value":1}]`, "app.isolators[0].value", "1 out of range 2-262144"},
		{`[{"name":"os/linux/cpu-shares","value":262145}]`, "app.isolators[0].value", "262145 out of range 2-262144"},
		{`[{"name":"os/linux/cpu-shares","value":1e100}]`, "app.isolators[0].value", "out of range"},

		{`[{"name":"os/unix/sysctl","value":{"net.ipv4.ip_forward":1}}]`, "app.isolators[0].value.net.ipv4.ip_forward", "want a string"},
		{`[{"name":"os/unix/sysctl","value":{"../../etc/passwd":"x"}}]`, "app.isolators[0].value.../../etc/passwd", "not a sysctl name"},
		{`[{"name":"os/unix/sysctl","value":{"net..ipv4":"x"}}]`, "app.isolators[0].value.net..ipv4", "not a sysctl name"},
		{`[{"name":"os/unix/sysctl","value":{"":"x"}}]`, "app.isolators[0].value.", "not a sysctl name"},
		{`[{"name":"os/unix/sysctl","value":{"a":"1","a":"2"}}]`, "app.isolators[0].value.a", "duplicate field"},
		{`[{"name":"os/unix/sysctl","value":["a"]}]`, "app.isolators[0].value", "want an object of strings"},
		{`[{"name":"os/unix/sysctl","value":{"a":"1"}},{"name":"os/unix/sysctl","value":{"b":"1"}}]`, "app.isolators[1].name", "given twice"},
		{`[{"name":"resource/memory","value":{"limit":"1G"}},{"name":"resource/memory","value":{"limit":"2G"}}]`, "app.isolators[1].name", "given twice"},
	}
	for _, tt := range tests {
		_, err := ParseImageManifest(imageWithIsolators(tt.isolators))
		wantErr(t, err, tt.path, tt.msg)
	}
}

// Unknown isolators are kept with their value and reported, at app and at
// pod level, and survive encoding unchanged.
func TestIsolatorUnrecognized(t *testing.T) {
	doc := imageWithIsolators(`[
		{"name":"example.com/custom","value":{"b":[1,2.50,{"x":null}],"a":"<&>"}},
		{"name":"resource/memory","value":{"limit":"1G"}},
		{"name":"os/linux/future-thing","value":42}]`)
	m, err := ParseImageManifest(doc)
	if err != nil {
		t.Fatal(err)
	}
	u := m.App.Isolators.Unknown()
	if len(u) != 2 || u[0].Name != "example.com/custom" || u[1].Name != "os/linux/future-thing" {
		t.Fatalf("Unknown() = %v", u)
	}
	raw, ok := u[0].Value.(RawIsolatorValue)
	if !ok {
		t.Fatalf("value %T, want RawIsolatorValue", u[0].Value)
	}
	var got, want any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(`{"b":[1,2.50,{"x":null}],"a":"<&>"}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("raw value %s", raw)
	}
	if !strings.Contains(string(raw), `2.50`) {
		t.Errorf("number text not kept: %s", raw)
	}
	if len(m.App.Isolators) != 3 {
		t.Errorf("isolators dropped: %v", m.App.Isolators)
	}
	roundTripImage(t, m)

	pod := []byte(`{"acKind":"PodManifest","acVersion":"0.8.11",
		"apps":[{"name":"a","image":{"name":"example.com/a"}}],
		"isolators":[{"name":"example.com/pod-level","value":"x"}]}`)
	pm, err := ParsePodManifest(pod)
	if err != nil {
		t.Fatal(err)
	}
	if u := pm.Isolators.Unknown(); len(u) != 1 || string(u[0].Value.(RawIsolatorValue)) != `"x"` {
		t.Errorf("pod Unknown() = %v", u)
	}
	roundTripPod(t, pm)
}

func TestIsolatorAccessors(t *testing.T) {
	is := Isolators{
		NewIsolator(ResourceCPU{RequestMilli: 100, LimitMilli: 200}),
		NewIsolator(ResourceMemory{Request: 1, Limit: 2}),
		NewIsolator(ResourceBlockBandwidth{Limit: 3}),
		NewIsolator(ResourceBlockIOPS{Limit: 4}),
		NewIsolator(ResourceNetworkBandwidth{Limit: 5}),
		NewIsolator(LinuxCapabilitiesRemoveSet{Set: []LinuxCapability{"CAP_MKNOD", "CAP_NET_RAW"}}),
		NewIsolator(LinuxNoNewPrivileges(true)),
		NewIsolator(LinuxSeccompRemoveSet{Set: []string{"reboot"}}),
		NewIsolator(LinuxSELinuxContext{"u", "r", "t", "s0"}),
		NewIsolator(LinuxAppArmorProfile{"p"}),
		NewIsolator(LinuxOOMScoreAdj(-5)),
		NewIsolator(LinuxCPUShares(512)),
		NewIsolator(UnixSysctl{"a.b": "1"}),
		{Name: "example.com/x", Value: RawIsolatorValue(`1`)},
	}
	if err := is.Validate(); err != nil {
		t.Fatal(err)
	}
	if v, ok := is.CPU(); !ok || v.LimitMilli != 200 {
		t.Error("CPU")
	}
	if v, ok := is.Memory(); !ok || v.Limit != 2 {
		t.Error("Memory")
	}
	if v, ok := is.BlockBandwidth(); !ok || v.Limit != 3 {
		t.Error("BlockBandwidth")
	}
	if v, ok := is.BlockIOPS(); !ok || v.Limit != 4 {
		t.Error("BlockIOPS")
	}
	if v, ok := is.NetworkBandwidth(); !ok || v.Limit != 5 {
		t.Error("NetworkBandwidth")
	}
	if _, ok := is.CapabilitiesRetain(); ok {
		t.Error("CapabilitiesRetain found")
	}
	if v, ok := is.CapabilitiesRemove(); !ok || len(v.Set) != 2 {
		t.Error("CapabilitiesRemove")
	}
	if !is.NoNewPrivileges() {
		t.Error("NoNewPrivileges")
	}
	if v, ok := is.SeccompRemove(); !ok || v.Set[0] != "reboot" {
		t.Error("SeccompRemove")
	}
	if _, ok := is.SeccompRetain(); ok {
		t.Error("SeccompRetain found")
	}
	if v, ok := is.SELinuxContext(); !ok || v.String() != "u:r:t:s0" {
		t.Error("SELinuxContext")
	}
	if v, ok := is.AppArmorProfile(); !ok || v.Profile != "p" {
		t.Error("AppArmorProfile")
	}
	if v, ok := is.OOMScoreAdj(); !ok || v != -5 {
		t.Error("OOMScoreAdj")
	}
	if v, ok := is.CPUShares(); !ok || v != 512 {
		t.Error("CPUShares")
	}
	if v, ok := is.Sysctl(); !ok || v["a.b"] != "1" {
		t.Error("Sysctl")
	}
	b := is.Bounding()
	if len(b) != 12 || containsCap(b, "CAP_MKNOD") || containsCap(b, "CAP_NET_RAW") || !containsCap(b, "CAP_CHOWN") {
		t.Errorf("Bounding = %v", b)
	}
	if (Isolators{}).NoNewPrivileges() {
		t.Error("NoNewPrivileges default true")
	}
	if b := (Isolators{}).Bounding(); len(b) != 14 {
		t.Errorf("default Bounding = %v", b)
	}
	r := Isolators{NewIsolator(LinuxCapabilitiesRetainSet{Set: []LinuxCapability{"CAP_SYS_ADMIN"}})}
	if b := r.Bounding(); len(b) != 1 || b[0] != "CAP_SYS_ADMIN" {
		t.Errorf("retain Bounding = %v", b)
	}
}

func TestIsolatorValidateInCode(t *testing.T) {
	tests := []struct {
		is        Isolators
		path, msg string
	}{
		{Isolators{{Name: "resource/cpu"}}, "isolators[0].value", "required for isolator resource/cpu"},
		{Isolators{{Name: "resource/cpu", Value: ResourceMemory{Limit: 1}}}, "isolators[0].value", "has a value of type aci.ResourceMemory"},
		{Isolators{{Name: "resource/cpu", Value: &ResourceCPU{LimitMilli: 1}}}, "isolators[0].value", "pointer value"},
		{Isolators{{Name: "example.com/x", Value: ResourceCPU{LimitMilli: 1}}}, "isolators[0].value", "unknown but has a typed value"},
		{Isolators{{Name: "example.com/x", Value: RawIsolatorValue(`{`)}}, "isolators[0].value", "not valid JSON"},
		{Isolators{NewIsolator(ResourceCPU{})}, "isolators[0].value", "needs a limit or a request"},
		{Isolators{NewIsolator(ResourceMemory{Limit: -1})}, "isolators[0].value.limit", "negative"},
		{Isolators{NewIsolator(ResourceBlockIOPS{})}, "isolators[0].value.limit", "greater than zero"},
		{Isolators{NewIsolator(LinuxOOMScoreAdj(2000))}, "isolators[0].value", "2000 out of range"},
		{Isolators{NewIsolator(LinuxCPUShares(0))}, "isolators[0].value", "0 out of range 2-262144"},
		{Isolators{NewIsolator(LinuxCapabilitiesRetainSet{})}, "isolators[0].value.set", "must not be empty"},
		{Isolators{NewIsolator(LinuxSeccompRetainSet{Set: []string{"read"}, Errno: "X"})}, "isolators[0].value.errno", "not an errno"},
		{Isolators{NewIsolator(UnixSysctl{"/proc": "1"})}, "isolators[0].value./proc", "not a sysctl name"},
	}
	for _, tt := range tests {
		wantErr(t, tt.is.Validate(), tt.path, tt.msg)
	}
}

func TestCapabilities(t *testing.T) {
	all := LinuxCapabilities()
	if len(all) != 41 || all[0] != "CAP_CHOWN" || all[21] != "CAP_SYS_ADMIN" || all[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("LinuxCapabilities() = %v", all)
	}
	for n, c := range all {
		if got, ok := c.Number(); !ok || got != n {
			t.Errorf("%s.Number() = %d, %v; want %d", c, got, ok, n)
		}
	}
	d := DefaultCapabilities()
	if len(d) != 14 {
		t.Fatalf("DefaultCapabilities() has %d entries", len(d))
	}
	for _, c := range d {
		if _, ok := c.Number(); !ok {
			t.Errorf("default %s unknown", c)
		}
	}
	d[0] = "CAP_SYS_ADMIN"
	if DefaultCapabilities()[0] != "CAP_AUDIT_WRITE" {
		t.Error("DefaultCapabilities shares its slice")
	}
	for _, c := range []LinuxCapability{"", "CAP_", "CHOWN", "cap_chown", "CAP_CHOWN ", "CAP_41"} {
		if _, ok := c.Number(); ok {
			t.Errorf("%q.Number() ok", c)
		}
	}
}

func TestParseLinuxCapability(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want LinuxCapability
	}{
		{"CAP_NET_ADMIN", "CAP_NET_ADMIN"},
		{"sys_admin", "CAP_SYS_ADMIN"},
		{"cap_kill", "CAP_KILL"},
		{" Chown ", "CAP_CHOWN"},
		{"CAP_CHECKPOINT_RESTORE", "CAP_CHECKPOINT_RESTORE"},
	} {
		got, err := ParseLinuxCapability(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseLinuxCapability(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", " ", "CAP_", "CAP_FLY", "CAP_41", "CAP_CAP_KILL", "NET ADMIN"} {
		if got, err := ParseLinuxCapability(in); err == nil {
			t.Errorf("ParseLinuxCapability(%q) = %q, want an error", in, got)
		} else if want := fmt.Sprintf("%q is not a Linux capability", in); err.Error() != want {
			t.Errorf("ParseLinuxCapability(%q) error %q, want %q", in, err, want)
		}
	}
}

func FuzzParseLinuxCapability(f *testing.F) {
	for _, s := range []string{"CAP_CHOWN", "net_admin", " kill ", "", "CAP_FLY"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseLinuxCapability(s)
		if err != nil {
			return
		}
		n, ok := c.Number()
		if !ok || LinuxCapabilities()[n] != c {
			t.Fatalf("ParseLinuxCapability(%q) = %q, not a canonical name (Number %d, %v)", s, c, n, ok)
		}
		if again, err := ParseLinuxCapability(string(c)); err != nil || again != c {
			t.Fatalf("ParseLinuxCapability(%q) = %q, %v; want it unchanged", c, again, err)
		}
	})
}

// TestLinuxCPUSharesWeight: cpu-shares become cgroup v2 weights as systemd
// converts CPUShares= to CPUWeight=, within cpu.weight's range.
func TestLinuxCPUSharesWeight(t *testing.T) {
	for shares, want := range map[LinuxCPUShares]int64{2: 1, 10: 1, 11: 1, 20: 1, 21: 2, 512: 50, 1024: 100, 2048: 200, 262144: 10000} {
		if got := shares.Weight(); got != want {
			t.Errorf("LinuxCPUShares(%d).Weight() = %d, want %d", shares, got, want)
		}
	}
}
