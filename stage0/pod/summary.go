package pod

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/acirun/acirun/aci"
)

// The pod summary (podcontract.SummaryFile) is what list shows of the pod
// manifest, written beside it at prepare time:
//
//	acirun pod summary 1
//	app NAME IMAGE-NAME IMAGE-ID
//	end
//
// a line "app" per app in the pod manifest's order, its fields separated by
// one space (none of them can hold one: an AC Name, an AC Identifier, an
// image ID; the image's name may be empty), every line ending in "\n". The
// last line, "end", tells a complete file from a cut one. A reader that
// finds anything else (another version, a damaged file) reads the pod
// manifest instead: the summary only spares list decoding it.
const (
	summaryHeader = "acirun pod summary 1\n"
	summaryApp    = "app "
	summaryEnd    = "end"
)

// encodeSummary returns the summary of the reified pod manifest pm.
func encodeSummary(pm *aci.PodManifest) ([]byte, error) {
	b := []byte(summaryHeader)
	for _, ra := range pm.Apps {
		// What the reader refuses is a bug of prepare's: say so rather
		// than write a summary that list would ignore.
		if _, err := parseSummaryApp(string(ra.Name), string(ra.Image.Name), ra.Image.ID.String()); err != nil {
			return nil, fmt.Errorf("pod summary: %w", err)
		}
		b = append(b, summaryApp...)
		b = append(b, ra.Name...)
		b = append(b, ' ')
		b = append(b, ra.Image.Name...)
		b = append(b, ' ')
		b = append(b, ra.Image.ID.String()...)
		b = append(b, '\n')
	}
	b = append(b, summaryEnd...)
	return append(b, '\n'), nil
}

// summaryParser parses the summaries of many pods (List's), keeping the
// apps it has seen: a thousand pods of one image share its name and its
// 135-character ID instead of each allocating and checking them anew. The
// zero value is ready.
type summaryParser struct {
	seen map[string]AppStatus // by the app's line, without "app " and "\n"
	// buf is where List reads each pod's summary (podFiles.readMarked):
	// parse keeps nothing of what it parses.
	buf []byte
}

// parse returns the apps of summary b (without exit codes). Its error says
// what is wrong; the caller reads the pod manifest instead.
func (sp *summaryParser) parse(b []byte) ([]AppStatus, error) {
	rest, ok := bytes.CutPrefix(b, []byte(summaryHeader))
	if !ok {
		return nil, errors.New("not a summary of version 1")
	}
	n := bytes.Count(rest, []byte(summaryApp))
	apps := make([]AppStatus, 0, n)
	for {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, errors.New("no end line: the file is cut short")
		}
		if string(line) == summaryEnd {
			if len(after) != 0 {
				return nil, errors.New("text after the end line")
			}
			return apps, nil
		}
		fields, ok := bytes.CutPrefix(line, []byte(summaryApp))
		if !ok {
			return nil, fmt.Errorf("line %q is neither an app nor the end", line)
		}
		a, ok := sp.seen[string(fields)] // no allocation for the lookup
		if !ok {
			name, f, ok1 := bytes.Cut(fields, []byte(" "))
			image, id, ok2 := bytes.Cut(f, []byte(" "))
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("app line %q has fewer than 3 fields", line)
			}
			var err error
			if a, err = parseSummaryApp(string(name), string(image), string(id)); err != nil {
				return nil, err
			}
			if sp.seen == nil {
				sp.seen = map[string]AppStatus{}
			}
			sp.seen[string(fields)] = a
		}
		apps = append(apps, a)
		rest = after
	}
}

// parseSummaryApp checks the fields of an app line as the pod manifest's
// parser checks them (an image ID is full, as in a reified pod).
func parseSummaryApp(name, image, id string) (AppStatus, error) {
	if err := aci.ACName(name).Validate(); err != nil {
		return AppStatus{}, fmt.Errorf("app name: %w", err)
	}
	if image != "" {
		if err := aci.ACIdentifier(image).Validate(); err != nil {
			return AppStatus{}, fmt.Errorf("app %s: image name: %w", name, err)
		}
	}
	imageID, err := aci.ParseImageID(id)
	if err != nil {
		return AppStatus{}, fmt.Errorf("app %s: %w", name, err)
	}
	return AppStatus{Name: name, ImageName: image, ImageID: imageID}, nil
}
