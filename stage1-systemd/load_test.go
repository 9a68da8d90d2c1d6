package stage1

import (
	"strings"
	"testing"

	"github.com/acirun/acirun/aci"
)

const testID = "sha512-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func manifestWith(app, extra string) string {
	return `{"acVersion":"0.8.11","acKind":"PodManifest","apps":[{"name":"web","image":{"id":"` + testID + `"},` + app + `}]` + extra + `}`
}

func TestSpecFromManifest(t *testing.T) {
	good := manifestWith(`"app":{"exec":["/bin/web","-v"],"user":"0","group":"0","workingDirectory":"/srv",
		"environment":[{"name":"A","value":"1"}],
		"eventHandlers":[{"name":"pre-start","exec":["/bin/pre"]},{"name":"post-stop","exec":["/bin/post"]}],
		"mountPoints":[{"name":"data","path":"/data","readOnly":true}],
		"isolators":[{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_NET_RAW"]}},
			{"name":"resource/memory","value":{"limit":"1G"}},{"name":"os/linux/selinux-context","value":{"user":"u","role":"r","type":"t","level":"l"}}]},
		"mounts":[{"volume":"data","path":"/data"}]`,
		`,"volumes":[{"name":"data","kind":"empty","mode":"0700","uid":5,"gid":6}],
		"isolators":[{"name":"resource/memory","value":{"limit":"512M"}},{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_CHOWN","CAP_KILL"]}}]`)
	pm, err := aci.ParsePodManifest([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := specFromManifest(pm, "/var/lib/acirun/pods/0f3e")
	if err != nil {
		t.Fatal(err)
	}
	a := spec.apps[0]
	if a.name != "web" || a.exec[1] != "-v" || a.workDir != "/srv" || a.preStart[0] != "/bin/pre" || a.postStop[0] != "/bin/post" ||
		len(a.env) != 1 || len(a.mounts) != 1 || !a.mounts[0].readOnly || a.mounts[0].volume.mode != 0o700 ||
		a.mounts[0].volume.source != "/var/lib/acirun/pods/0f3e/volumes/data" || spec.uuid != "0f3e" {
		t.Errorf("spec %+v", a)
	}
	iso := a.isolators
	if *iso.memoryLimit != 512e6 || iso.capsRemove == nil || iso.capsBound == nil || len(iso.ignored) != 1 {
		t.Errorf("isolators %+v", iso)
	}
	d := decideCaps(iso.capsRetain, iso.capsRemove, false)
	if d.set&*iso.capsBound != mustCaps("CAP_CHOWN", "CAP_KILL") {
		t.Errorf("pod-bounded caps %s", d.set&*iso.capsBound)
	}

	for _, tc := range []struct{ manifest, err string }{
		{manifestWith(`"app":{"exec":["/x"],"user":"0","group":"0","mountPoints":[{"name":"d","path":"/d"}]}`, ""), "has no mount"},
		{manifestWith(`"app":{"user":"0","group":"0"}`, ""), "empty exec"},
		{manifestWith(`"readOnlyRootFS":true`, ""), "no app section"},
	} {
		pm, err := aci.ParsePodManifest([]byte(tc.manifest))
		if err != nil {
			t.Errorf("parse %s: %v", tc.manifest, err)
			continue
		}
		if _, err := specFromManifest(pm, "/p/x"); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("specFromManifest: %v, want %q", err, tc.err)
		}
	}
}
