package aci

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// imageWithApp wraps an app JSON object in a valid image manifest.
func imageWithApp(app string) []byte {
	return []byte(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/test","app":` + app + `}`)
}

func TestAppGood(t *testing.T) {
	tests := []struct {
		app  string
		want App
	}{
		{`{"user":"0","group":"0"}`, App{User: "0", Group: "0"}},
		{`{"user":"0","group":"0","exec":[]}`, App{User: "0", Group: "0"}},
		{`{"user":"0","group":"0","exec":null,"ports":null}`, App{User: "0", Group: "0"}},
		{`{"user":"nobody","group":"/etc/x","exec":["sh","-c","echo $HOME"]}`, App{User: "nobody", Group: "/etc/x", Exec: []string{"sh", "-c", "echo $HOME"}}},
		{`{"user":"0","group":"0","exec":["/bin/x",""]}`, App{User: "0", Group: "0", Exec: []string{"/bin/x", ""}}},
		{`{"user":"0","group":"0","supplementaryGids":[1,2]}`, App{User: "0", Group: "0", SupplementaryGIDs: []uint32{1, 2}}},
		{`{"user":"0","group":"0","supplementaryGIDs":[4294967294]}`, App{User: "0", Group: "0", SupplementaryGIDs: []uint32{4294967294}}},
		{`{"user":"0","group":"0","workingDirectory":"/srv"}`, App{User: "0", Group: "0", WorkingDirectory: "/srv"}},
		{`{"user":"0","group":"0","eventHandlers":[{"name":"pre-start","exec":["/a"]},{"name":"post-stop","exec":["b","c"]}]}`,
			App{User: "0", Group: "0", EventHandlers: []EventHandler{{"pre-start", []string{"/a"}}, {"post-stop", []string{"b", "c"}}}}},
		{`{"user":"0","group":"0","environment":[{"name":"A_b.c-d","value":"x=y"},{"name":"_","value":""}]}`,
			App{User: "0", Group: "0", Environment: Environment{{"A_b.c-d", "x=y"}, {"_", ""}}}},
		{`{"user":"0","group":"0","mountPoints":[{"name":"db","path":"/var/db","readOnly":true},{"name":"x","path":"/x"}]}`,
			App{User: "0", Group: "0", MountPoints: []MountPoint{{"db", "/var/db", true}, {"x", "/x", false}}}},
		{`{"user":"0","group":"0","ports":[{"name":"http","protocol":"tcp","port":80},{"name":"range","protocol":"udp","port":65000,"count":536,"socketActivated":true}]}`,
			App{User: "0", Group: "0", Ports: []Port{{"http", "tcp", 80, 1, false}, {"range", "udp", 65000, 536, true}}}},
		{`{"user":"0","group":"0","ports":[{"name":"last","protocol":"tcp","port":65535,"count":1}]}`,
			App{User: "0", Group: "0", Ports: []Port{{"last", "tcp", 65535, 1, false}}}},
		{`{"user":"0","group":"0","userAnnotations":{"a":"b"},"userLabels":{"c":"d"}}`,
			App{User: "0", Group: "0", UserAnnotations: map[string]string{"a": "b"}, UserLabels: map[string]string{"c": "d"}}},
		{`{"user":"0","group":"0","userAnnotations":{}}`, App{User: "0", Group: "0"}},
	}
	for _, tt := range tests {
		m, err := ParseImageManifest(imageWithApp(tt.app))
		if err != nil {
			t.Errorf("%s: %v", tt.app, err)
			continue
		}
		if !reflect.DeepEqual(*m.App, tt.want) {
			t.Errorf("%s\n got %#v\nwant %#v", tt.app, *m.App, tt.want)
		}
		roundTripImage(t, m)
	}
}

func TestAppErrors(t *testing.T) {
	tests := []struct {
		app       string
		path, msg string
	}{
		{`{"group":"0"}`, "app.user", "required"},
		{`{"user":"0"}`, "app.group", "required"},
		{`{"user":"","group":"0"}`, "app.user", "required"},
		{`{"user":0,"group":"0"}`, "app.user", "0 is a number, want a string"},
		{`{"user":"0","group":"0","exec":["bin/x"]}`, "app.exec[0]", `"bin/x" is a relative path`},
		{`{"user":"0","group":"0","exec":["./x"]}`, "app.exec[0]", `"./x" is a relative path`},
		{`{"user":"0","group":"0","exec":[""]}`, "app.exec[0]", "the command is empty"},
		{`{"user":"0","group":"0","exec":"/bin/sh"}`, "app.exec", `"/bin/sh" is a string, want an array of strings`},
		{`{"user":"0","group":"0","exec":["/bin/sh",1]}`, "app.exec[1]", "1 is a number, want a string"},
		{`{"user":"0","group":"0","exec":["/bin/sh","a\u0000b"]}`, "app.exec[1]", "NUL"},
		{`{"user":"0","group":"0","supplementaryGIDs":[-1]}`, "app.supplementaryGIDs[0]", "-1 out of range 0-4294967294"},
		{`{"user":"0","group":"0","supplementaryGIDs":[4294967295]}`, "app.supplementaryGIDs[0]", "out of range"},
		{`{"user":"0","group":"0","supplementaryGIDs":["1"]}`, "app.supplementaryGIDs[0]", "want an integer"},
		{`{"user":"0","group":"0","supplementaryGIDs":[1],"supplementaryGids":[2]}`, "app.supplementaryGids", "given twice"},
		{`{"user":"0","group":"0","workingDirectory":"srv"}`, "app.workingDirectory", `"srv" is not an absolute path`},
		{`{"user":"0","group":"0","eventHandlers":[{"name":"pre-stop","exec":["/a"]}]}`, "app.eventHandlers[0].name", `"pre-stop" is not "pre-start" or "post-stop"`},
		{`{"user":"0","group":"0","eventHandlers":[{"name":"pre-start","exec":["/a"]},{"name":"pre-start","exec":["/b"]}]}`, "app.eventHandlers[1].name", "given twice"},
		{`{"user":"0","group":"0","eventHandlers":[{"name":"pre-start"}]}`, "app.eventHandlers[0].exec", "required"},
		{`{"user":"0","group":"0","eventHandlers":[{"name":"pre-start","exec":["x/y"]}]}`, "app.eventHandlers[0].exec[0]", "relative path"},
		{`{"user":"0","group":"0","environment":[{"name":"1A","value":""}]}`, "app.environment[0].name", `"1A" is not a valid variable name`},
		{`{"user":"0","group":"0","environment":[{"name":"A B","value":""}]}`, "app.environment[0].name", "not a valid variable name"},
		{`{"user":"0","group":"0","environment":[{"name":"","value":""}]}`, "app.environment[0].name", "not a valid variable name"},
		{`{"user":"0","group":"0","environment":[{"name":"A","value":"1"},{"name":"A","value":"2"}]}`, "app.environment[1].name", `"A" given twice (also app.environment[0])`},
		{`{"user":"0","group":"0","environment":[{"name":"A"}]}`, "app.environment[0].value", "required"},
		{`{"user":"0","group":"0","environment":[{"name":"A","value":1}]}`, "app.environment[0].value", "want a string"},
		{`{"user":"0","group":"0","environment":{"A":"1"}}`, "app.environment", "want an array"},
		{`{"user":"0","group":"0","mountPoints":[{"name":"Db","path":"/db"}]}`, "app.mountPoints[0].name", "not a valid AC Name"},
		{`{"user":"0","group":"0","mountPoints":[{"name":"db","path":"db"}]}`, "app.mountPoints[0].path", "not an absolute path"},
		{`{"user":"0","group":"0","mountPoints":[{"name":"db"}]}`, "app.mountPoints[0].path", "required"},
		{`{"user":"0","group":"0","mountPoints":[{"name":"db","path":"/a"},{"name":"db","path":"/b"}]}`, "app.mountPoints[1].name", "given twice"},
		{`{"user":"0","group":"0","mountPoints":[{"name":"db","path":"/a","readOnly":"true"}]}`, "app.mountPoints[0].readOnly", "want true or false"},
		{`{"user":"0","group":"0","mountPoints":[{"name":"db","path":"/a","readonly":true}]}`, "app.mountPoints[0].readonly", `unknown field (did you mean "readOnly"?)`},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp","port":80},{"name":"b","protocol":"tcp","port":70000}]}`, "app.ports[1].port", "70000 out of range 1-65535"},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp","port":0}]}`, "app.ports[0].port", "0 out of range 1-65535"},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp"}]}`, "app.ports[0].port", "required"},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp","port":"80"}]}`, "app.ports[0].port", `"80" is a string, want an integer`},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp","port":80.5}]}`, "app.ports[0].port", "80.5 is not an integer"},
		{`{"user":"0","group":"0","ports":[{"name":"a","port":80}]}`, "app.ports[0].protocol", "required"},
		{`{"user":"0","group":"0","ports":[{"protocol":"tcp","port":80}]}`, "app.ports[0].name", "required"},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp","port":80,"count":0}]}`, "app.ports[0].count", "0 out of range 1-65535"},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp","port":65535,"count":2}]}`, "app.ports[0].count", "2 ports from 65535 run past 65535"},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp","port":1000,"count":65535}]}`, "app.ports[0].count", "run past 65535"},
		{`{"user":"0","group":"0","ports":[{"name":"a","protocol":"tcp","port":1},{"name":"a","protocol":"udp","port":2}]}`, "app.ports[1].name", "given twice"},
		{`{"user":"0","group":"0","userLabels":{"a":1}}`, "app.userLabels.a", "want a string"},
		{`{"user":"0","group":"0","userAnnotations":[]}`, "app.userAnnotations", "want an object"},
		{`{"user":"0","group":"0","User":"1"}`, "app.User", `unknown field (did you mean "user"?)`},
		{`{"user":"0","group":"0","user":"1"}`, "app.user", "duplicate field"},
		{`"app"`, "app", "want an object"},
	}
	for _, tt := range tests {
		_, err := ParseImageManifest(imageWithApp(tt.app))
		wantErr(t, err, tt.path, tt.msg)
	}
}

// Every error is reported, not only the first.
func TestAllErrorsReported(t *testing.T) {
	_, err := ParseImageManifest(imageWithApp(`{"user":"0","exec":["bin/x"],
		"ports":[{"name":"a","protocol":"tcp","port":80},{"name":"b","protocol":"tcp","port":70000}],
		"environment":[{"name":"1x","value":""}],
		"isolators":[{"name":"resource/cpu"}],"readonly":true}`))
	want := []struct{ path, msg string }{
		{"app.group", "required"},
		{"app.exec[0]", "relative path"},
		{"app.ports[1].port", "70000 out of range 1-65535"},
		{"app.environment[0].name", "not a valid variable name"},
		{"app.isolators[0].value", "required for isolator resource/cpu"},
		{"app.readonly", "unknown field"},
	}
	for _, w := range want {
		wantErr(t, err, w.path, w.msg)
	}
	if el := err.(ErrorList); len(el) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(el), len(want), err)
	}
	if !strings.Contains(err.Error(), "app.ports[1].port: 70000 out of range 1-65535\n") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestAppValidateInCode(t *testing.T) {
	a := &App{User: "0", Group: "0", Exec: []string{"/bin/sh"}, Ports: []Port{{Name: "p", Protocol: "tcp", Port: 80}}}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if a.WorkingDir() != "/" {
		t.Errorf("WorkingDir() = %q", a.WorkingDir())
	}
	a.Environment.Set("A", "1")
	a.Environment.Set("A", "2")
	if v, ok := a.Environment.Get("A"); !ok || v != "2" || len(a.Environment) != 1 {
		t.Errorf("Environment = %v", a.Environment)
	}
	a.Ports[0].Port = 0
	wantErr(t, a.Validate(), "app.ports[0].port", "0 out of range 1-65535")
}

func TestAppUnmarshalJSON(t *testing.T) {
	var a App
	if err := json.Unmarshal([]byte(`{"user":"0","group":"0","exec":["/x"],"supplementaryGids":[5]}`), &a); err != nil {
		t.Fatal(err)
	}
	if a.SupplementaryGIDs[0] != 5 || a.Exec[0] != "/x" {
		t.Errorf("App = %+v", a)
	}
	err := json.Unmarshal([]byte(`{"user":"0","group":"0","exec":["x/y"],"bogus":1}`), &a)
	wantErr(t, err, "app.exec[0]", "relative path")
	wantErr(t, err, "app.bogus", "unknown field")
	if a.Exec[0] != "/x" {
		t.Error("failed Unmarshal changed the app")
	}
}

func TestValidEnvironmentName(t *testing.T) {
	for _, tt := range []struct {
		name string
		ok   bool
	}{
		{"PATH", true}, {"_", true}, {"a", true}, {"A_b.c-d", true}, {"x1", true}, {"_9.-", true},
		{"", false}, {"1A", false}, {".a", false}, {"-a", false}, {"A B", false}, {"A=B", false},
		{"BASH_FUNC_f%%", false}, {"é", false}, {"A\x00", false}, {"A\n", false},
	} {
		if got := ValidEnvironmentName(tt.name); got != tt.ok {
			t.Errorf("ValidEnvironmentName(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}
