package aci

import (
	"testing"
	"time"
)

func TestAnnotationsValidate(t *testing.T) {
	tests := []struct {
		a         Annotations
		path, msg string
	}{
		{Annotations{{"created", "2014-10-27T19:32:27.67021798Z"}}, "", ""},
		{Annotations{{"created", "2014-10-27T19:32:27+02:00"}}, "", ""},
		{Annotations{{"homepage", "https://example.com"}, {"documentation", "http://example.com/docs"}}, "", ""},
		{Annotations{{"authors", "anything <at all>"}}, "", ""},
		{Annotations{{"appc.io/executor/supports-systemd-notify", "true"}}, "", ""},
		{Annotations{{"appc.io/executor/supports-systemd-notify", "false"}}, "", ""},
		{Annotations{{"ip-address", "10.1.2.3"}, {"foo", ""}}, "", ""},
		{Annotations{{"created", "2014-10-27"}}, "annotations[0].value", "not an RFC 3339"},
		{Annotations{{"created", "2014-10-27 19:32:27Z"}}, "annotations[0].value", "not an RFC 3339"},
		{Annotations{{"created", "2014-10-27t19:32:27Z"}}, "annotations[0].value", "not an RFC 3339"},
		{Annotations{{"created", "yesterday"}}, "annotations[0].value", `created "yesterday"`},
		{Annotations{{"homepage", "ftp://example.com"}}, "annotations[0].value", "not an http or https URL"},
		{Annotations{{"documentation", "example.com/docs"}}, "annotations[0].value", "not an http or https URL"},
		{Annotations{{"homepage", "https://"}}, "annotations[0].value", "not an http or https URL"},
		{Annotations{{"appc.io/executor/supports-systemd-notify", "yes"}}, "annotations[0].value", `"yes" is not "true" or "false"`},
		{Annotations{{"a", "1"}, {"a", "2"}}, "annotations[1].name", `duplicate annotation "a"`},
		{Annotations{{"A", "1"}}, "annotations[0].name", "not a valid AC Identifier"},
		{Annotations{{"", "1"}}, "annotations[0].name", "required"},
	}
	for _, tt := range tests {
		err := tt.a.Validate()
		if tt.path == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.a, err)
			}
			continue
		}
		wantErr(t, err, tt.path, tt.msg)
	}
}

func TestAnnotationsAccess(t *testing.T) {
	var a Annotations
	a.Set("created", "2014-10-27T19:32:27Z")
	a.Set(AnnotationSupportsSystemdNotify, "false")
	a.Set(AnnotationSupportsSystemdNotify, "true")
	if len(a) != 2 || !a.SupportsSystemdNotify() {
		t.Errorf("Set: %v", a)
	}
	c, ok := a.Created()
	if !ok || !c.Equal(time.Date(2014, 10, 27, 19, 32, 27, 0, time.UTC)) {
		t.Errorf("Created = %v, %v", c, ok)
	}
}
