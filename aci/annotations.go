package aci

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Annotation is a name/value pair of free-form metadata.
type Annotation struct {
	Name  ACIdentifier `json:"name"`
	Value string       `json:"value"`
}

// Annotations is an ordered list of annotations with unique names.
// The names the spec defines get their values checked: see Validate.
type Annotations []Annotation

// Well-known annotation names.
const (
	AnnotationAuthors       ACIdentifier = "authors"
	AnnotationCreated       ACIdentifier = "created"
	AnnotationDocumentation ACIdentifier = "documentation"
	AnnotationHomepage      ACIdentifier = "homepage"
	// AnnotationSupportsSystemdNotify says the app uses sd_notify(3) to
	// report readiness; its value is "true" or "false".
	AnnotationSupportsSystemdNotify ACIdentifier = "appc.io/executor/supports-systemd-notify"
)

// MarshalJSON writes a JSON list, [] rather than null when there are none:
// the spec's annotations are a list, and a pod manifest always carries its
// own (see PodManifest), so that what an app decodes from the metadata
// service's /pod/manifest equals what /pod/annotations returns. The ACE
// validator compares the two and failed on null against [].
func (a Annotations) MarshalJSON() ([]byte, error) {
	if a == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Annotation(a))
}

// Get returns the value of the annotation called name.
func (a Annotations) Get(name ACIdentifier) (string, bool) {
	for _, an := range a {
		if an.Name == name {
			return an.Value, true
		}
	}
	return "", false
}

// Set replaces the value of name, or appends it.
func (a *Annotations) Set(name ACIdentifier, value string) {
	for i := range *a {
		if (*a)[i].Name == name {
			(*a)[i].Value = value
			return
		}
	}
	*a = append(*a, Annotation{Name: name, Value: value})
}

// Created returns the "created" annotation as a time; ok is false if it is
// absent or malformed.
func (a Annotations) Created() (t time.Time, ok bool) {
	v, ok := a.Get(AnnotationCreated)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// SupportsSystemdNotify reports whether the annotation
// appc.io/executor/supports-systemd-notify is "true".
func (a Annotations) SupportsSystemdNotify() bool {
	v, _ := a.Get(AnnotationSupportsSystemdNotify)
	return v == "true"
}

// Validate checks names, uniqueness, and the values of the well-known
// annotations: created is an RFC 3339 time, homepage and documentation are
// http(s) URLs, appc.io/executor/supports-systemd-notify is "true" or "false".
func (a Annotations) Validate() error {
	var errs ErrorList
	a.validate(&errs, "annotations")
	return errs.Err()
}

func (a Annotations) validate(errs *ErrorList, path string) {
	names := seen[ACIdentifier]{}
	for i, an := range a {
		p := index(path, i)
		if an.Name == "" {
			errs.add(join(p, "name"), "required")
			continue
		}
		if err := an.Name.Validate(); err != nil {
			errs.add(join(p, "name"), err.Error())
			continue
		}
		if j, dup := names.dup(an.Name, i); dup {
			errs.add(join(p, "name"), fmt.Sprintf("duplicate annotation %q (also %s)", an.Name, index(path, j)))
		}
		if err := checkAnnotationValue(an.Name, an.Value); err != nil {
			errs.add(join(p, "value"), err.Error())
		}
	}
}

func checkAnnotationValue(name ACIdentifier, v string) error {
	switch name {
	case AnnotationCreated:
		// RFC 3339 proper: a 'T' between date and time, a zone.
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil || strings.ContainsAny(v[:min(len(v), 11)], "t ") {
			return fmt.Errorf("created %q is not an RFC 3339 date-time (e.g. 2014-10-27T19:32:27Z)", clip(v))
		}
	case AnnotationHomepage, AnnotationDocumentation:
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s %q is not an http or https URL", name, clip(v))
		}
	case AnnotationSupportsSystemdNotify:
		if v != "true" && v != "false" {
			return fmt.Errorf("%q is not \"true\" or \"false\"", clip(v))
		}
	}
	return nil
}

func (d *decoder) annotations(v *jval, path string) Annotations {
	return nameValues(d, v, path, "an annotation", func(name ACIdentifier, value string) Annotation {
		return Annotation{Name: name, Value: value}
	})
}
