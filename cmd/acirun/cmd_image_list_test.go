package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acirun/acirun/stage0/store"
)

func TestParseImageFields(t *testing.T) {
	for _, tc := range []struct {
		list, want string // want: the names parsed, or "" for a usage error
	}{
		{defaultImageFields, "id name importtime lastused size latest"},
		{"name", "name"},
		{"Size, ID", "size id"},
		{"source,signer", "source signer"},
		{"id,colour", ""},
		{"", ""},
		{"id,", ""},
	} {
		fs, err := parseImageFields("fields", tc.list)
		if tc.want == "" {
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--fields") || !strings.Contains(err.Error(), imageFieldNames()) {
				t.Errorf("%q: %v, want a usage error naming --fields and listing the fields", tc.list, err)
			}
			continue
		}
		var names []string
		for _, f := range fs {
			names = append(names, f.name)
		}
		if err != nil || strings.Join(names, " ") != tc.want {
			t.Errorf("%q: %v, %v; want %s", tc.list, names, err, tc.want)
		}
	}
}

func TestSortImages(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	row := func(id, name string, size int64, age time.Duration, latest bool) imageRow {
		return imageRow{&store.Image{ID: id, Name: name, Size: size, ImportTime: t0.Add(-age)}, latest}
	}
	rows := []imageRow{
		row("sha512-c", "b.com/x", 30, time.Hour, true),
		row("sha512-a", "a.com/x", 10, 3*time.Hour, true),
		row("sha512-b", "b.com/x", 10, 2*time.Hour, false),
		row("sha512-d", "a.com/x", 20, 0, false),
	}
	for _, tc := range []struct {
		by   string
		desc bool
		want string
	}{
		{"importtime", false, "a b c d"},
		{"importtime", true, "d c b a"},
		{"size", false, "a b d c"},
		{"size,importtime", true, "c d b a"},
		{"name,size", false, "a d b c"},
		{"latest,name", false, "d b a c"},
		{"id", true, "d c b a"},
	} {
		by, err := parseImageFields("sort", tc.by)
		if err != nil {
			t.Fatal(err)
		}
		sortImages(rows, by, tc.desc)
		var got []string
		for _, r := range rows {
			got = append(got, strings.TrimPrefix(r.img.ID, "sha512-"))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("sort by %s desc=%v: %v, want %s", tc.by, tc.desc, got, tc.want)
		}
	}
}
