package pod

import (
	"reflect"
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
)

// TestStartArgs: run-prepared's options replace what prepare recorded,
// a list as a whole, and the result is checked as one command line.
func TestStartArgs(t *testing.T) {
	recorded := []string{"--net=none", "--hostname=acirun-1234abcd", "--dns=10.0.0.1", "--dns=10.0.0.2", "--dns-search=a.example", "--no-overlay"}
	one := &aci.PodManifest{Apps: []aci.RuntimeApp{{Name: "a"}}}
	two := &aci.PodManifest{Apps: []aci.RuntimeApp{{Name: "a"}, {Name: "b"}}}
	ports := &aci.PodManifest{Apps: one.Apps, Ports: []aci.ExposedPort{{Name: "www", HostPort: 8080}}}
	for _, tc := range []struct {
		name     string
		manifest *aci.PodManifest
		recorded []string
		o        StartOptions
		want     []string
		err      string
	}{
		{"as prepared", one, recorded, StartOptions{}, recorded, ""},
		{"each given wins", one, recorded,
			StartOptions{Net: "host", Hostname: "web7", DNS: []string{"10.9.9.9"}, DNSOptions: []string{"rotate"}, DNSDomain: "d.example", Interactive: true},
			[]string{"--net=host", "--hostname=web7", "--dns=10.9.9.9", "--dns-search=a.example", "--dns-opt=rotate", "--dns-domain=d.example", "--no-overlay", "--interactive"}, ""},
		{"a list replaced whole", one, recorded, StartOptions{DNSSearch: []string{"b.example", "c.example"}},
			[]string{"--net=none", "--hostname=acirun-1234abcd", "--dns=10.0.0.1", "--dns=10.0.0.2", "--dns-search=b.example", "--dns-search=c.example", "--no-overlay"}, ""},
		{"prepared interactive stays so", one, []string{"--interactive"}, StartOptions{}, []string{"--interactive"}, ""},
		{"checked with what was recorded", one, recorded, StartOptions{DNS: []string{"host"}},
			nil, "with what prepare recorded (--net=none --hostname=acirun-1234abcd --dns=10.0.0.1 --dns=10.0.0.2 --dns-search=a.example --no-overlay): --dns=host copies the host's /etc/resolv.conf as it is: --dns-search would be ignored"},
		{"interactive, two apps", two, nil, StartOptions{Interactive: true}, nil, "--interactive gives the terminal to one app, and the pod has 2"},
		{"ports need the default network", ports, nil, StartOptions{Net: "none"}, nil, "publishes ports (prepared with --port), which needs a network of its own, not --net=none"},
		{"damaged record", one, []string{"--net=bridge:"}, StartOptions{}, nil, "stage1-args.json: --net=bridge:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pod{UUID: "u", Manifest: tc.manifest, Stage1Args: tc.recorded}
			got, err := p.StartArgs(tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("StartArgs = %q, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("StartArgs = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
