package aci

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const testID = "sha512-8d3fffddf79e9a232ffd19f9ccaa4d6b37a6a243dbe0f23137b108a043d9da13121a9b505c804956b22e93c7f93969f4a7ba8ddea45bf4aab0bebc8f814e0990"

// pod builds a pod manifest from JSON fragments for apps and extra fields.
func pod(apps, extra string) []byte {
	if extra != "" {
		extra = "," + extra
	}
	return []byte(`{"acKind":"PodManifest","acVersion":"0.8.11","apps":` + apps + extra + `}`)
}

const oneApp = `[{"name":"a","image":{"id":"` + testID + `"}}]`

func TestPodGood(t *testing.T) {
	tests := []struct {
		doc   []byte
		check func(*PodManifest) bool
	}{
		{pod(oneApp, ""), func(p *PodManifest) bool { return p.IsReified() && p.Apps[0].Image.ID.IsFull() }},
		{pod(`[{"name":"a","image":{"name":"example.com/a","labels":[{"name":"version","value":"1"}]}}]`, ""),
			func(p *PodManifest) bool { return !p.IsReified() }},
		{pod(`[{"name":"a","image":{"id":"sha512-8d3f"}}]`, ""), func(p *PodManifest) bool { return !p.IsReified() }},
		{pod(oneApp, `"volumes":[{"name":"h","kind":"host","source":"/srv"}]`),
			func(p *PodManifest) bool {
				return reflect.DeepEqual(p.Volumes[0], Volume{Name: "h", Kind: VolumeHost, Source: "/srv", Recursive: true})
			}},
		{pod(oneApp, `"volumes":[{"name":"h","kind":"host","source":"/srv","recursive":false,"readOnly":true}]`),
			func(p *PodManifest) bool {
				return reflect.DeepEqual(p.Volumes[0], Volume{Name: "h", Kind: VolumeHost, Source: "/srv", ReadOnly: true})
			}},
		{pod(oneApp, `"volumes":[{"name":"e","kind":"empty"}]`),
			func(p *PodManifest) bool {
				m, err := p.Volumes[0].EmptyMode()
				return reflect.DeepEqual(p.Volumes[0], Volume{Name: "e", Kind: VolumeEmpty, Mode: "0755"}) && m == 0o755 && err == nil
			}},
		{pod(oneApp, `"volumes":[{"name":"e","kind":"empty","mode":"1777","uid":1000,"gid":100}]`),
			func(p *PodManifest) bool {
				return reflect.DeepEqual(p.Volumes[0], Volume{Name: "e", Kind: VolumeEmpty, Mode: "1777", UID: 1000, GID: 100})
			}},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"readOnlyRootFS":true,
			"app":{"user":"0","group":"0","mountPoints":[{"name":"data","path":"/data"}]},
			"mounts":[{"volume":"data","path":"/data","appVolume":{"name":"data","kind":"empty"}}],
			"annotations":[{"name":"example.com/x","value":"y"}]}]`, ""),
			func(p *PodManifest) bool {
				a := p.Apps[0]
				return a.ReadOnlyRootFS && a.Mounts[0].AppVolume.Mode == "0755" && p.IsReified()
			}},
		{pod(oneApp, `"ports":[{"name":"http","hostPort":8080},{"name":"dns","hostPort":53,"hostIP":"127.0.0.1","podPort":{"name":"dns","protocol":"udp","port":5353}}]`),
			func(p *PodManifest) bool {
				return p.Ports[0].HostPort == 8080 && !p.Ports[0].HostIP.IsValid() &&
					p.Ports[1].HostIP == netip.MustParseAddr("127.0.0.1") && p.Ports[1].PodPort.Port == 5353 && p.Ports[1].PodPort.Count == 1
			}},
		{pod(oneApp, `"userAnnotations":{"a":"b"},"userLabels":{"c":"d"},"annotations":[{"name":"ip-address","value":"10.1.2.3"}]`),
			func(p *PodManifest) bool { return p.UserLabels["c"] == "d" && p.UserAnnotations["a"] == "b" }},
		// What rkt wrote: nil lists as null.
		{pod(oneApp, `"volumes":null,"isolators":null,"annotations":null,"ports":null`),
			func(p *PodManifest) bool { return p.Volumes == nil && p.Ports == nil }},
		{pod(oneApp, `"isolators":[{"name":"resource/memory","value":{"limit":"4G"}},{"name":"os/unix/sysctl","value":{"net.ipv4.tcp_fin_timeout":"6"}}]`),
			func(p *PodManifest) bool { m, ok := p.Isolators.Memory(); return ok && m.Limit == 4e9 }},
	}
	for i, tt := range tests {
		p, err := ParsePodManifest(tt.doc)
		if err != nil {
			t.Errorf("%d: %s: %v", i, tt.doc, err)
			continue
		}
		if !tt.check(p) {
			t.Errorf("%d: %s: unexpected %+v", i, tt.doc, p)
		}
		roundTripPod(t, p)
	}
}

func TestPodErrors(t *testing.T) {
	tests := []struct {
		doc       []byte
		path, msg string
	}{
		{[]byte(`{"acKind":"PodManifest","acVersion":"0.8.11"}`), "apps", "required"},
		{pod(`[]`, ""), "apps", "at least one app"},
		{pod(`{}`, ""), "apps", "want an array"},
		{[]byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a"}`), "acKind", `"ImageManifest" is not "PodManifest"`},
		{[]byte(`{"acKind":"PodManifest","apps":` + oneApp + `}`), "acVersion", "required"},
		{pod(`[{"image":{"id":"`+testID+`"}}]`, ""), "apps[0].name", "required"},
		{pod(`[{"name":"A","image":{"id":"`+testID+`"}}]`, ""), "apps[0].name", "not a valid AC Name"},
		{pod(`[{"name":"a.b","image":{"id":"`+testID+`"}}]`, ""), "apps[0].name", "not a valid AC Name"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"}},{"name":"a","image":{"id":"`+testID+`"}}]`, ""), "apps[1].name", `app "a" given twice (also apps[0])`},
		{pod(`[{"name":"a"}]`, ""), "apps[0].image", "required"},
		{pod(`[{"name":"a","image":{}}]`, ""), "apps[0].image", "needs an id or a name"},
		{pod(`[{"name":"a","image":{"id":"sha512-XYZ"}}]`, ""), "apps[0].image.id", "1 to 128 lower-case hex digits"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`","name":"Bad"}}]`, ""), "apps[0].image.name", "not a valid AC Identifier"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`","labels":[{"name":"os","value":"win"}]}}]`, ""), "apps[0].image.labels[0].value", "os \"win\""},
		{pod(`[{"name":"a","image":{"id":"`+testID+`","hash":"x"}}]`, ""), "apps[0].image.hash", "unknown field"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"app":{"user":"0"}}]`, ""), "apps[0].app.group", "required"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"app":{"user":"0","group":"0","ports":[{"name":"p","protocol":"tcp","port":99999}]}}]`, ""),
			"apps[0].app.ports[0].port", "99999 out of range 1-65535"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"readOnlyRootFS":"yes"}]`, ""), "apps[0].readOnlyRootFS", "want true or false"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"mounts":[{"volume":"v","path":"/x"}]}]`, ""), "apps[0].mounts[0].volume", `no volume called "v"`},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"mounts":[{"volume":"v","path":"x"}]}]`, `"volumes":[{"name":"v","kind":"empty"}]`), "apps[0].mounts[0].path", "not an absolute path"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"mounts":[{"volume":"v","path":"/x"},{"volume":"v","path":"/x"}]}]`, `"volumes":[{"name":"v","kind":"empty"}]`), "apps[0].mounts[1].path", "mounted twice"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"mounts":[{"volume":"v","path":"/x","appVolume":{"name":"w","kind":"empty"}}]}]`, ""), "apps[0].mounts[0].appVolume.name", `"w" differs from the mount's volume "v"`},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"mounts":[{"volume":"v","path":"/x","appVolume":{"name":"v","kind":"host"}}]}]`, ""), "apps[0].mounts[0].appVolume.source", "required"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"mounts":[{"volume":"v","mountPoint":"x"}]}]`, ""), "apps[0].mounts[0].mountPoint", "unknown field"},
		{pod(`[{"name":"a","image":{"id":"`+testID+`"},"annotations":[{"name":"A","value":""}]}]`, ""), "apps[0].annotations[0].name", "not a valid AC Identifier"},

		{pod(oneApp, `"volumes":[{"name":"v","kind":"host"}]`), "volumes[0].source", "required"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"host","source":"srv"}]`), "volumes[0].source", `"srv" is not an absolute path`},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"host","source":"/srv","mode":"0755"}]`), "volumes[0].mode", "not allowed for a host volume"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"host","source":"/srv","uid":0}]`), "volumes[0].uid", "not allowed for a host volume"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"host","source":"/srv","gid":0}]`), "volumes[0].gid", "not allowed for a host volume"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"host","source":"/srv","recursive":"no"}]`), "volumes[0].recursive", "want true or false"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"empty","source":"/srv"}]`), "volumes[0].source", "not allowed for an empty volume"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"empty","recursive":true}]`), "volumes[0].recursive", "not allowed for an empty volume"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"empty","mode":"0999"}]`), "volumes[0].mode", `"0999" is not an octal mode`},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"empty","mode":"17777"}]`), "volumes[0].mode", "not an octal mode"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"empty","mode":493}]`), "volumes[0].mode", "want a string"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"empty","uid":-1}]`), "volumes[0].uid", "-1 out of range"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"empty","gid":"0"}]`), "volumes[0].gid", "want an integer"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"tmpfs"}]`), "volumes[0].kind", `"tmpfs" is not "host" or "empty"`},
		{pod(oneApp, `"volumes":[{"name":"v"}]`), "volumes[0].kind", "required"},
		{pod(oneApp, `"volumes":[{"kind":"empty"}]`), "volumes[0].name", "required"},
		{pod(oneApp, `"volumes":[{"name":"v","kind":"empty"},{"name":"v","kind":"empty"}]`), "volumes[1].name", `volume "v" defined twice`},

		{pod(oneApp, `"ports":[{"name":"p"}]`), "ports[0].hostPort", "required"},
		{pod(oneApp, `"ports":[{"name":"p","hostPort":0}]`), "ports[0].hostPort", "0 out of range 1-65535"},
		{pod(oneApp, `"ports":[{"name":"p","hostPort":65536}]`), "ports[0].hostPort", "65536 out of range 1-65535"},
		{pod(oneApp, `"ports":[{"name":"p","hostPort":80,"hostIP":"::1"}]`), "ports[0].hostIP", `"::1" is not an IPv4 address`},
		{pod(oneApp, `"ports":[{"name":"p","hostPort":80,"hostIP":"1.2.3"}]`), "ports[0].hostIP", "not an IPv4 address"},
		{pod(oneApp, `"ports":[{"name":"p","hostPort":80,"hostIP":"01.2.3.4"}]`), "ports[0].hostIP", "not an IPv4 address"},
		{pod(oneApp, `"ports":[{"name":"p","hostPort":80,"podPort":{"name":"p","protocol":"tcp","port":65535,"count":5}}]`), "ports[0].podPort.count", "run past 65535"},
		{pod(oneApp, `"ports":[{"name":"p","hostPort":80},{"name":"p","hostPort":81}]`), "ports[1].name", "exposed twice"},
		{pod(oneApp, `"ports":[{"hostPort":80}]`), "ports[0].name", "required"},

		{pod(oneApp, `"isolators":[{"name":"resource/memory"}]`), "isolators[0].value", "required for isolator resource/memory"},
		{pod(oneApp, `"isolators":[{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_KILL"]}},{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_KILL"]}}]`), "isolators[1].name", "exclude each other"},
		{pod(oneApp, `"userLabels":{"a":null}`), "userLabels.a", "want a string"},
		{pod(oneApp, `"Apps":[]`), "Apps", `did you mean "apps"?`},
	}
	for _, tt := range tests {
		_, err := ParsePodManifest(tt.doc)
		wantErr(t, err, tt.path, tt.msg)
	}
}

func TestPodReified(t *testing.T) {
	doc := pod(`[{"name":"a","image":{"id":"`+testID+`"},
		"app":{"user":"0","group":"0","mountPoints":[{"name":"db","path":"/db"},{"name":"logs","path":"/logs"}]},
		"mounts":[{"volume":"v","path":"/db"}]},
		{"name":"b","image":{"id":"`+testID+`"}}]`, `"volumes":[{"name":"v","kind":"empty"}]`)
	p, err := ParsePodManifest(doc)
	if err != nil {
		t.Fatal(err)
	}
	err = p.ValidateReified(nil)
	wantErr(t, err, "apps[0].mounts", `no mount for mount point "logs" (/logs)`)
	if el := err.(ErrorList); len(el) != 1 {
		t.Errorf("errors: %v", err)
	}
	// With the image manifest at hand, app b's mount points count too.
	img := &ImageManifest{ACKind: ACKindImageManifest, Name: "x", App: &App{User: "0", Group: "0",
		MountPoints: []MountPoint{{Name: "cache", Path: "/cache"}}}}
	err = p.ValidateReified(func(id ImageID) *ImageManifest {
		if id.String() != testID {
			t.Errorf("asked for %s", id)
		}
		return img
	})
	wantErr(t, err, "apps[1].mounts", `mount point "cache"`)
	if p.IsReified() {
		t.Error("IsReified")
	}
	p.Apps[0].Mounts = append(p.Apps[0].Mounts, Mount{Volume: "v", Path: "/logs"})
	if !p.IsReified() {
		t.Errorf("still not reified: %v", p.ValidateReified(nil))
	}
}

func TestPodValidateInCode(t *testing.T) {
	id, _ := ParseImageID(testID)
	p := &PodManifest{
		ACKind: ACKindPodManifest, ACVersion: SemVer{Minor: 8, Patch: 11},
		Apps: []RuntimeApp{{Name: "a", Image: RuntimeImage{ID: id}}},
		Volumes: []Volume{
			{Name: "h", Kind: VolumeHost, Source: "/srv", Recursive: true},
			{Name: "e", Kind: VolumeEmpty},
		},
		Ports: []ExposedPort{{Name: "p", HostPort: 80, HostIP: netip.MustParseAddr("127.0.0.1")}},
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	roundTripPod(t, p2(t, p))
	p.Volumes[0].UID = 5
	wantErr(t, p.Validate(), "volumes[0]", "mode, uid and gid are not allowed")
	p.Volumes[0].UID = 0
	p.Ports[0].HostIP = netip.MustParseAddr("::1")
	wantErr(t, p.Validate(), "ports[0].hostIP", "not an IPv4 address")
}

// p2 encodes and decodes p once, to get a value with the defaults applied.
func p2(t *testing.T, p *PodManifest) *PodManifest {
	t.Helper()
	out, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"mode":"0755"`) || !strings.Contains(string(out), `"recursive":true`) {
		t.Errorf("encoding: %s", out)
	}
	q, err := ParsePodManifest(out)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	return q
}

func TestPodReifiedPorts(t *testing.T) {
	doc := pod(`[{"name":"a","image":{"id":"`+testID+`"},"app":{"user":"0","group":"0","ports":[{"name":"http","protocol":"tcp","port":80}]}},
		{"name":"b","image":{"id":"`+testID+`"}}]`,
		`"ports":[{"name":"http","hostPort":8080},{"name":"metrics","hostPort":9090},{"name":"x","hostPort":1,"podPort":{"name":"x","protocol":"tcp","port":1}}]`)
	p, err := ParsePodManifest(doc)
	if err != nil {
		t.Fatal(err)
	}
	// App b's image is unknown: nothing about exposed ports can be said.
	if err := p.ValidateReified(nil); err != nil {
		t.Errorf("ValidateReified(nil) = %v", err)
	}
	imgApp := &App{User: "0", Group: "0", Ports: []Port{{Name: "http", Protocol: "tcp", Port: 81}}}
	err = p.ValidateReified(func(ImageID) *ImageManifest { return &ImageManifest{App: imgApp} })
	wantErr(t, err, "apps[1]", `port name "http" is also used by app "a"`)
	wantErr(t, err, "ports[1].name", `no app in the pod has a port called "metrics"`)
	if el := err.(ErrorList); len(el) != 2 {
		t.Errorf("errors: %v", err)
	}
	imgApp.Ports[0].Name = "metrics"
	if err := p.ValidateReified(func(ImageID) *ImageManifest { return &ImageManifest{App: imgApp} }); err != nil {
		t.Errorf("ValidateReified = %v", err)
	}
}

func TestPodMiscAPI(t *testing.T) {
	var wrapper struct {
		P PodManifest `json:"p"`
	}
	if err := json.Unmarshal([]byte(`{"p":`+string(readExample(t, "pod_runtime.json"))+`}`), &wrapper); err != nil {
		t.Fatal(err)
	}
	if len(wrapper.P.Apps) != 3 {
		t.Errorf("apps = %d", len(wrapper.P.Apps))
	}
	if err := json.Unmarshal([]byte(`{"p":{"acKind":"PodManifest","acVersion":"0.8.11","apps":[]}}`), &wrapper); err == nil || !strings.Contains(err.Error(), "apps: a pod needs at least one app") {
		t.Errorf("pod without apps through json.Unmarshal: %v, want a refusal naming apps", err)
	}
	if _, err := (Volume{Name: "v", Kind: VolumeEmpty, Mode: "9"}).EmptyMode(); err == nil || !strings.Contains(err.Error(), `volume v: mode "9" is not an octal mode`) {
		t.Errorf("EmptyMode(9) = %v, want an error naming the volume and its mode", err)
	}
	if m, err := (Volume{Name: "v", Kind: VolumeEmpty, Mode: "0700"}).EmptyMode(); err != nil || m != 0o700 {
		t.Errorf("EmptyMode(0700) = %o, %v", m, err)
	}
	if iso, ok := wrapper.P.Isolators.Get(IsolatorSysctl); !ok || iso.Value.(UnixSysctl)["net.ipv4.tcp_fin_timeout"] != "6" {
		t.Errorf("Get(sysctl) = %v, %v", iso, ok)
	}
	if _, ok := wrapper.P.Isolators.Get("example.com/none"); ok {
		t.Error("Get found a missing isolator")
	}
	var v SemVer
	if err := v.UnmarshalText([]byte("1.2.3-rc.1")); err != nil || v.Pre != "rc.1" {
		t.Errorf("UnmarshalText = %+v, %v", v, err)
	}
	if err := v.UnmarshalText([]byte("1.2")); err == nil || !strings.Contains(err.Error(), `"1.2" is not a SemVer`) {
		t.Errorf("UnmarshalText(1.2) = %v, want an error naming it", err)
	}
}

// TestPodAnnotationsWritten: a pod manifest always carries its annotations
// as a list, [] when there are none, so that an app decoding the metadata
// service's /pod/manifest gets what /pod/annotations says (the ACE
// validator compares the two with reflect.DeepEqual); the image manifest
// and a pod's apps still leave theirs out when empty.
func TestPodAnnotationsWritten(t *testing.T) {
	for _, tc := range []struct{ extra, want string }{
		{"", `[]`},
		{`"annotations":null`, `[]`},
		{`"annotations":[]`, `[]`},
		{`"annotations":[{"name":"ip-address","value":"10.1.2.3"}]`, `[{"name":"ip-address","value":"10.1.2.3"}]`},
	} {
		p, err := ParsePodManifest(pod(oneApp, tc.extra))
		if err != nil {
			t.Fatalf("%s: %v", tc.extra, err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatal(err)
		}
		if got := string(fields["annotations"]); got != tc.want {
			t.Errorf("%s: written as %s: annotations %q, want %s", tc.extra, b, got, tc.want)
		}
		var apps []map[string]json.RawMessage
		if err := json.Unmarshal(fields["apps"], &apps); err != nil || len(apps) != 1 {
			t.Fatalf("apps %s: %v", fields["apps"], err)
		}
		if _, ok := apps[0]["annotations"]; ok {
			t.Errorf("%s: an app without annotations written with them: %s", tc.extra, fields["apps"])
		}
		if a, err := json.Marshal(p.Annotations); err != nil || string(a) != tc.want {
			t.Errorf("%s: the annotations alone: %s, %v; want %s", tc.extra, a, err, tc.want)
		}
	}
	im, err := ParseImageManifest([]byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/a"}`))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(im); strings.Contains(string(b), "annotations") {
		t.Errorf("image manifest without annotations written with them: %s", b)
	}
}
