package podcontract

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/internal/jsonstr"
)

// Exit is the exit record of a pod (ExitFile), written by stage1 when the
// pod has stopped and read by stage0 for list and status.
type Exit struct {
	// ExitCode is the pod's: the first non-zero exit code of an app, 128+N
	// for an app killed by signal N, else 0; 254 when stage1 failed.
	ExitCode int       `json:"exitCode"`
	Apps     []AppExit `json:"apps"`
}

// AppExit is how one app's main process ended.
type AppExit struct {
	Name     string `json:"name"`
	ExitCode int    `json:"exitCode"`
	Signal   string `json:"signal"` // the signal that killed it, e.g. "SIGKILL"; "" if none
}

// AppendJSON appends e as JSON, as encoding/json would decode it, and a
// newline. It is written by hand, not with encoding/json, because the
// pod's PID 1 encodes the record last (in its Down message, EncodeDown),
// after it has shed the pages of its setup (stage1's dropStartupPages):
// the reflection-based encoder would be paged back in for it.
func (e *Exit) AppendJSON(b []byte) []byte {
	b = append(b, `{"exitCode":`...)
	b = strconv.AppendInt(b, int64(e.ExitCode), 10)
	b = append(b, `,"apps":[`...)
	for i, a := range e.Apps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = jsonstr.Append(b, a.Name)
		b = append(b, `,"exitCode":`...)
		b = strconv.AppendInt(b, int64(a.ExitCode), 10)
		b = append(b, `,"signal":`...)
		b = jsonstr.Append(b, a.Signal)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// WriteExit writes e as podDir's ExitFile, atomically (readers see all of
// it or nothing) but not synced: it need not survive a power cut.
func WriteExit(podDir string, e *Exit) error {
	return atomicfile.WriteFile(filepath.Join(podDir, ExitFile), e.AppendJSON(nil), atomicfile.Options{NoSync: true})
}

// ParseExit decodes an ExitFile. A record without the pod's exit code is
// damaged, and an error.
func ParseExit(b []byte) (*Exit, error) {
	var raw struct {
		ExitCode *int `json:"exitCode"`
		Apps     []struct {
			Name     string `json:"name"`
			ExitCode *int   `json:"exitCode"`
			Signal   string `json:"signal"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if raw.ExitCode == nil {
		return nil, errors.New("no exitCode")
	}
	e := &Exit{ExitCode: *raw.ExitCode, Apps: []AppExit{}}
	for _, a := range raw.Apps {
		if a.ExitCode == nil {
			return nil, errors.New("app " + strconv.Quote(a.Name) + ": no exitCode")
		}
		e.Apps = append(e.Apps, AppExit{Name: a.Name, ExitCode: *a.ExitCode, Signal: a.Signal})
	}
	return e, nil
}
