package podcontract

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/acirun/acirun/internal/atomicfile"
	"github.com/acirun/acirun/internal/jsonstr"
)

// AppProcess is what the pod's PID 1 records of an app's main process while
// it runs (AppProcessFile in the app's directory), so that `stage1 enter`
// finds the process and gives what it starts exactly the app's launch
// options: the same relaxations, metadata URL and notify socket that PID 1
// gave `stage1 app`. Everything else of the app's confinement comes from the
// reified pod manifest, as it does for the app.
type AppProcess struct {
	// PID is the main process's PID in the pod's PID namespace (PID 1's
	// view); the host finds the process among the children of PPID1File
	// by the last field of their NSpid.
	PID int `json:"pid"`
	// Insecure are the run relaxations the app was started with.
	Insecure Insecure `json:"-"`
	// MetadataURL is the app's AC_METADATA_URL ("" for none).
	MetadataURL string `json:"metadataURL"`
	// NotifySocket is the app's NOTIFY_SOCKET ("" for none).
	NotifySocket string `json:"notifySocket"`
}

// AppendJSON appends p as JSON and a newline, by hand for the same reason
// as Exit.AppendJSON: PID 1 writes it after shedding its setup's pages.
func (p *AppProcess) AppendJSON(b []byte) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(p.PID), 10)
	b = append(b, `,"insecureOptions":`...)
	b = jsonstr.Append(b, p.Insecure.String())
	b = append(b, `,"metadataURL":`...)
	b = jsonstr.Append(b, p.MetadataURL)
	b = append(b, `,"notifySocket":`...)
	b = jsonstr.Append(b, p.NotifySocket)
	return append(b, "}\n"...)
}

// ParseAppProcess decodes an AppProcessFile. A record without a PID above 1
// (PID 1 is stage1 itself) or with relaxations other than the run ones is
// damaged, and an error.
func ParseAppProcess(b []byte) (*AppProcess, error) {
	var raw struct {
		PID          *int   `json:"pid"`
		Insecure     string `json:"insecureOptions"`
		MetadataURL  string `json:"metadataURL"`
		NotifySocket string `json:"notifySocket"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if raw.PID == nil || *raw.PID < 2 {
		return nil, errors.New("no app PID (above 1)")
	}
	ins, err := ParseInsecure(raw.Insecure)
	if err != nil {
		return nil, err
	}
	if ins&^InsecureAllRun != 0 {
		return nil, fmt.Errorf("insecureOptions %q: only run relaxations apply to an app", raw.Insecure)
	}
	return &AppProcess{PID: *raw.PID, Insecure: ins, MetadataURL: raw.MetadataURL, NotifySocket: raw.NotifySocket}, nil
}

// AppProcessPath is where app name's AppProcess is kept in podDir.
func AppProcessPath(podDir, name string) string {
	return filepath.Join(AppDir(podDir, name), AppProcessFile)
}

// WriteAppProcess records app name's main process, atomically (readers see
// all of it or nothing), not synced: it means nothing after a reboot.
func WriteAppProcess(podDir, name string, p *AppProcess) error {
	return atomicfile.WriteFile(AppProcessPath(podDir, name), p.AppendJSON(nil), atomicfile.Options{NoSync: true})
}

// ReadAppProcess reads app name's AppProcess. An app that is not running
// has none: the error then wraps fs.ErrNotExist.
func ReadAppProcess(podDir, name string) (*AppProcess, error) {
	b, err := os.ReadFile(AppProcessPath(podDir, name))
	if err != nil {
		return nil, err
	}
	p, err := ParseAppProcess(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", AppProcessPath(podDir, name), err)
	}
	return p, nil
}

// RemoveAppProcess removes the record once the app's main process is gone.
func RemoveAppProcess(podDir, name string) error {
	err := os.Remove(AppProcessPath(podDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
