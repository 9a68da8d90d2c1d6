package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/pod"
)

func listTestPods(t testing.TB) []*pod.Pod {
	t.Helper()
	id := func(hex string) aci.ImageID {
		i, err := aci.ParseImageID("sha512-" + strings.Repeat(hex, 64))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	code := func(c int) *int { return &c }
	created := time.Date(2026, 12, 6, 21, 31, 5, 123456789, time.UTC)
	return []*pod.Pod{
		{UUID: "0020d16d-c639-49aa-889a-8e8e42213e0b", State: pod.StatePrepared, Created: created,
			Apps: []pod.AppStatus{{Name: "scale", ImageName: "example.com/acirun-bench/scale", ImageID: id("ab")}}},
		{UUID: "1120d16d-c639-49aa-889a-8e8e42213e0b", State: pod.StateExited, PID: 4242, Created: created.Add(time.Second),
			Started: created.Add(2 * time.Second), Exited: created.In(time.FixedZone("x", 3600)).Add(3 * time.Second), ExitCode: code(137),
			Network: &pod.Network{Name: "default", Interface: "eth0", IP: "172.16.28.2", Gateway: "172.16.28.1", HostInterface: "ac-1", Ports: []pod.PublishedPort{{Name: "http", Protocol: "tcp", Host: "127.0.0.1:8080", Pod: "172.16.28.2:80"}}},
			Apps: []pod.AppStatus{
				{Name: "web", ImageName: "example.com/web", ImageID: id("01"), ExitCode: code(0)},
				{Name: "db", ImageName: "", ImageID: id("02"), ExitCode: code(137), Signal: "SIGKILL"},
			}},
		{UUID: "2220d16d-c639-49aa-889a-8e8e42213e0b", State: pod.StateAbandoned, Apps: []pod.AppStatus{}},
		{UUID: "3320d16d-c639-49aa-889a-8e8e42213e0b", State: pod.StateRunning, Started: created,
			Network: &pod.Network{Name: "web", Networks: []podcontract.NetworkAttachment{{Name: "web", IPs: []string{"10.88.0.5/16"}}}},
			Apps:    []pod.AppStatus{{Name: "odd", ImageName: "example.com/odd", ImageID: id("03"), Signal: "<&>\"\\\n\t\x01\x7f\u2028é\xff"}}},
	}
}

// TestPodsJSON: list --format=json writes, by hand, what encoding/json
// writes of the pods' podJSON (as status does), byte for byte: empty,
// prepared, exited with a network and exit codes, without apps, with
// strings encoding/json escapes.
func TestPodsJSON(t *testing.T) {
	pods := listTestPods(t)
	for _, n := range []int{0, 1, 2, len(pods)} {
		checkPodsJSON(t, pods[:n])
	}
	checkPodsJSON(t, pods[2:3])
}

func checkPodsJSON(t *testing.T, pods []*pod.Pod) {
	t.Helper()
	want := []podEntry{}
	for _, pd := range pods {
		want = append(want, podJSON(pd))
	}
	var a, b bytes.Buffer
	if err := printJSON(&a, want); err != nil {
		t.Fatal(err)
	}
	if err := writePodsJSON(&b, pods); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("%d pods: writePodsJSON wrote\n%s\nencoding/json\n%s", len(pods), b.String(), a.String())
	}
}

// FuzzPodsJSON: whatever the strings and numbers of a pod, writePodsJSON
// writes what encoding/json does.
func FuzzPodsJSON(f *testing.F) {
	f.Add("web", "example.com/web", "SIGKILL", "default", 4242, 137, int64(1765056665123456789), true)
	f.Add("", "", "", "", 0, 0, int64(0), false)
	f.Add("<a>", "b&c", "\"\\\n\u2028\xff", "\x00", -1, -1, int64(-1), true)
	f.Fuzz(func(t *testing.T, app, image, signal, network string, pid, code int, nanos int64, exited bool) {
		pd := listTestPods(t)[1]
		pd.PID, *pd.ExitCode = pid, code
		pd.Created = time.Unix(0, nanos)
		if !exited {
			pd.Exited, pd.ExitCode = time.Time{}, nil
		}
		pd.Network.Name = network
		pd.Apps[0].Name, pd.Apps[0].ImageName, pd.Apps[1].Signal = app, image, signal
		checkPodsJSON(t, []*pod.Pod{pd})
	})
}

// TestPodsTable: the table's columns, one line per app, oldest pod first
// (those of unknown age before), --full's whole UUIDs and image IDs,
// --no-legend.
func TestPodsTable(t *testing.T) {
	pods := listTestPods(t)
	c0 := pods[0].Created.Local().Format(time.DateTime)
	c1 := pods[1].Created.Local().Format(time.DateTime)
	for _, tc := range []struct {
		full, noLegend bool
		want           string
	}{
		{false, false, `UUID      APP    IMAGE NAME                      STATE      CREATED
2220d16d  -      -                               abandoned  
3320d16d  odd    example.com/odd                 running    
0020d16d  scale  example.com/acirun-bench/scale  prepared   ` + c0 + `
1120d16d  web    example.com/web                 exited     ` + c1 + `
          db                                     exited     
`},
		{false, true, `2220d16d  -      -                               abandoned  
3320d16d  odd    example.com/odd                 running    
0020d16d  scale  example.com/acirun-bench/scale  prepared   ` + c0 + `
1120d16d  web    example.com/web                 exited     ` + c1 + `
          db                                     exited     
`},
		{true, true, pods[2].UUID + `  -      -                               -                                                                                                                                        abandoned  
` + pods[3].UUID + `  odd    example.com/odd                 ` + pods[3].Apps[0].ImageID.String() + `  running    
` + pods[0].UUID + `  scale  example.com/acirun-bench/scale  ` + pods[0].Apps[0].ImageID.String() + `  prepared   ` + c0 + `
` + pods[1].UUID + `  web    example.com/web                 ` + pods[1].Apps[0].ImageID.String() + `  exited     ` + c1 + `
                                      db                                     ` + pods[1].Apps[1].ImageID.String() + `  exited     
`},
	} {
		var b bytes.Buffer
		if err := printPods(&b, pods, "table", tc.full, tc.noLegend); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("full=%v no-legend=%v:\n%s\nwant\n%s", tc.full, tc.noLegend, b.String(), tc.want)
		}
	}
}

// BenchmarkPrintPods: list's output of bench/scale.sh's 1,000 pods (100 of
// them exited), as a table and as JSON.
func BenchmarkPrintPods(b *testing.B) {
	model := listTestPods(b)
	var pods []*pod.Pod
	for i := range 1000 {
		pd := *model[0]
		if i < 100 {
			pd = *model[1]
			pd.Network = nil
		}
		pd.Created = pd.Created.Add(time.Duration(i) * time.Millisecond)
		pods = append(pods, &pd)
	}
	for _, format := range []string{"table", "json"} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := printPods(io.Discard, pods, format, false, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
