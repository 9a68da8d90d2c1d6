package aci

import (
	"errors"
	"strings"
	"testing"
)

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Error("empty list Err() != nil")
	}
	l.add("app.ports[1].port", "70000 out of range 1-65535")
	l.add("", "invalid JSON")
	if got := l.Error(); got != "app.ports[1].port: 70000 out of range 1-65535\ninvalid JSON" {
		t.Errorf("Error() = %q", got)
	}
	var e *Error
	if !errors.As(l.Err(), &e) || e.Path != "app.ports[1].port" {
		t.Errorf("errors.As = %v", e)
	}
}

func TestCoveredBy(t *testing.T) {
	set := map[string]bool{"app.ports[1].port": true, "labels": true}
	for q, want := range map[string]bool{
		"app.ports[1].port":       true,
		"app.ports[1].portx":      false,
		"app.ports[1]":            false,
		"app.ports[10].port":      false,
		"labels[0].name":          true,
		"labels":                  true,
		"labelsx":                 false,
		"app.ports[1].port.inner": true,
		"":                        false,
	} {
		if got := coveredBy(set, q); got != want {
			t.Errorf("coveredBy(%q) = %v, want %v", q, got, want)
		}
	}
	if !coveredBy(map[string]bool{"": true}, "anything") {
		t.Error("root error does not cover everything")
	}
}

// Hostile manifests near the caps are refused or accepted in linear time:
// each of these would take minutes with a quadratic duplicate or coverage
// check. The error list is cut at maxErrors.
func TestHostileManifests(t *testing.T) {
	list := func(elem string) []byte {
		var s strings.Builder
		s.WriteString(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","pathWhitelist":[`)
		for i := 0; i < maxValues-10; i++ {
			s.WriteString(elem + `,`)
		}
		s.WriteString(elem + `]}`)
		return []byte(s.String())
	}
	for _, elem := range []string{`""`, `"/same"`, `1`} {
		_, err := ParseImageManifest(list(elem))
		el, ok := err.(ErrorList)
		if !ok || len(el) != maxErrors+1 || !strings.HasPrefix(el[maxErrors].Msg, "... and ") {
			t.Errorf("%s: %d errors, last %v", elem, len(el), el[len(el)-1])
		}
	}
	var s strings.Builder
	s.WriteString(`{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a"`)
	for i := 0; i < maxValues/2-10; i++ {
		s.WriteString(`,"k":1`)
	}
	s.WriteString(`}`)
	_, err := ParseImageManifest([]byte(s.String()))
	wantErr(t, err, "k", "duplicate field")
}
