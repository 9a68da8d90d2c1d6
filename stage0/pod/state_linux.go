package pod

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/internal/mountinfo"
	"github.com/acirun/acirun/internal/podcontract"
)

// State is where a pod is in its life, derived from its directory as
// docs/pod-layout.md says.
type State string

// The states of a pod.
const (
	// StatePreparing: no `prepared`, lock held.
	StatePreparing State = "preparing"
	// StateAbandoned: no `prepared`, lock free: a prepare that died.
	StateAbandoned State = "abandoned"
	// StatePrepared: ready to run (run-prepared), never started.
	StatePrepared State = "prepared"
	// StateRunning: stage1 holds the lock.
	StateRunning State = "running"
	// StateExited: stopped, lock free. ExitCode is nil if stage1 died
	// before writing exit.json.
	StateExited State = "exited"
)

// Pod is what list and status show of a pod.
type Pod struct {
	UUID  string
	Dir   string
	State State
	// Manifest is the reified pod manifest (nil while preparing).
	Manifest *aci.PodManifest
	Apps     []AppStatus
	// Created is when preparation finished; Started when stage1 wrote its
	// pid; Exited when it wrote exit.json. Zero when not (yet) known.
	Created, Started, Exited time.Time
	// PID is the host PID of `acirun stage1 run` (0 if unknown).
	PID int
	// ExitCode is the pod's exit code, from exit.json.
	ExitCode *int
	// Stage1Args are the flags for `acirun stage1 run` chosen at prepare time.
	Stage1Args []string
	// Network is the pod's place on a pod network, from net.json: nil
	// unless it was started on one.
	Network *Network
	// Problem, when not empty, says what of the pod directory could not be
	// read (a damaged pod manifest, exit.json or stage1-args.json). Such a
	// pod must not be run; gc may remove it when its state allows.
	Problem string
}

// Network is net.json as stage1 writes it: the pod's network, its address
// and the host's end, and the ports published on the host.
type Network = podcontract.Network

// PublishedPort is one app port published on the host.
type PublishedPort = podcontract.PublishedPort

// AppStatus is one app of a pod.
type AppStatus struct {
	Name      string
	ImageName string
	ImageID   aci.ImageID
	ExitCode  *int   // from exit.json
	Signal    string // the signal that killed it, e.g. "SIGKILL"
}

// ErrNotFound is returned (wrapped) by Load when no pod matches.
var ErrNotFound = errors.New("no such pod")

// Load returns the pod whose UUID is uuidOrPrefix or starts with it (in
// any case). A prefix that matches several pods is an error listing them.
func Load(dataDir, uuidOrPrefix string) (*Pod, error) {
	if uuidOrPrefix == "" {
		return nil, errors.New("load pod: empty UUID")
	}
	podsDir, err := podsPath(dataDir)
	if err != nil {
		return nil, fmt.Errorf("load pod: %w", err)
	}
	uuidOrPrefix = strings.ToLower(uuidOrPrefix)
	uuid := uuidOrPrefix
	if !IsUUID(uuid) {
		names, err := podNames(podsDir)
		if err != nil {
			return nil, err
		}
		var match []string
		for _, n := range names {
			if strings.HasPrefix(n, uuidOrPrefix) {
				match = append(match, n)
			}
		}
		switch len(match) {
		case 0:
			return nil, fmt.Errorf("pod %s: %w", uuidOrPrefix, ErrNotFound)
		case 1:
			uuid = match[0]
		default:
			return nil, fmt.Errorf("pod %s is ambiguous: it starts %s", uuidOrPrefix, strings.Join(match, ", "))
		}
	}
	p, err := loadDir(filepath.Join(podsDir, uuid), uuid)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("pod %s: %w", uuidOrPrefix, ErrNotFound)
	}
	return p, err
}

// List returns every pod in dataDir, oldest first, with what list and gc
// need of each: its state, times, PID, exit codes, network and apps. It
// leaves Manifest and Stage1Args nil (Load reads them) and takes the apps
// from the pod's summary (podcontract.SummaryFile), or from its pod
// manifest when it has none (a pod prepared before summaries) or a damaged
// one; its Problem says only what of the files it read was damaged. Pods
// that vanish while being read (removed by gc) are left out.
func List(dataDir string) ([]*Pod, error) {
	podsDir, err := podsPath(dataDir)
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	d, names, err := openPods(podsDir)
	if err != nil || d == nil {
		return nil, err
	}
	defer d.Close()
	// One descriptor for the whole directory: each pod's files are one
	// path step from it.
	dirfd := int(d.Fd())
	var sp summaryParser
	pods := make([]*Pod, 0, len(names))
	for _, n := range names {
		p, err := readPod(podFilesAt(dirfd, podsDir, n), n, &sp)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", n, err)
		}
		pods = append(pods, p)
	}
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].Created.Before(pods[j].Created) })
	return pods, nil
}

// openPods opens the pods directory and lists the pods in it (the names
// that are UUIDs), sorted; the caller closes the directory. No pods
// directory is no pods: nil, nil, nil.
func openPods(podsDir string) (*os.File, []string, error) {
	d, err := os.Open(podsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list pods: %w", err)
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("list pods: %w", err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() && IsUUID(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return d, names, nil
}

// podNames lists the pod directories (names that are UUIDs), sorted.
func podNames(podsDir string) ([]string, error) {
	d, names, err := openPods(podsDir)
	if d != nil {
		d.Close()
	}
	return names, err
}

// loadDir reads the pod directory dir whole, for Load: what List reads,
// and its pod manifest and stage1 flags.
func loadDir(dir, uuid string) (*Pod, error) {
	files, err := openPodFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", uuid, err)
	}
	defer files.close()
	p, err := readPod(files, uuid, nil)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", uuid, err)
	}
	return p, nil
}

// readPod reads a pod directory: for Load when sp is nil, all of it; for
// List, with sp, what List says. The files that decide the state are read
// while holding a shared lock when the lock is free, so that nobody who
// changes the pod (and holds the lock exclusively) is seen halfway. A file
// that cannot be read or decoded does not make the pod vanish from list: it
// is reported in Problem. The only error is a pod directory that is gone
// (wrapping fs.ErrNotExist) or unreadable.
func readPod(files *podFiles, uuid string, sp *summaryParser) (*Pod, error) {
	p := &Pod{UUID: uuid, Dir: files.dir}
	problem := func(format string, args ...any) {
		if p.Problem == "" {
			p.Problem = fmt.Sprintf(format, args...)
		}
	}
	held := false
	lock, err := podcontract.LockPodAt(files.fd, files.rel, false)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !files.exists():
		return nil, &fs.PathError{Op: "open", Path: files.dir, Err: fs.ErrNotExist}
	case errors.Is(err, fs.ErrNotExist):
		// Nobody can hold a lock that does not exist.
		problem("no lock file")
	case err != nil:
		return nil, fmt.Errorf("%s: %w", files.dir, err)
	case lock < 0:
		held = true
	default:
		// Released at once, not only with the last copy of the descriptor:
		// a run reads its pod while its PID 1 is being forked, and then
		// locks it.
		defer flock.UnlockFd(lock)
	}
	exists := files.modTime
	var prepared, hasPID, hasExit bool
	p.Created, prepared = exists(podcontract.PreparedFile)
	p.Started, hasPID = exists(podcontract.PIDFile)
	p.Exited, hasExit = exists(podcontract.ExitFile)

	if hasPID {
		b, err := files.read(podcontract.PIDFile)
		if err == nil {
			p.PID, _ = podcontract.ParsePID(b)
		}
	}
	exit := &podcontract.Exit{}
	if hasExit {
		b, err := files.read(podcontract.ExitFile)
		if err == nil {
			exit, err = podcontract.ParseExit(b)
		}
		if err != nil {
			problem("%s: %v", podcontract.ExitFile, err)
			exit = &podcontract.Exit{}
		} else {
			p.ExitCode = &exit.ExitCode
		}
	}
	switch {
	case held && !prepared:
		p.State = StatePreparing
	case held:
		// stage1 holds the lock; it may not have written its pid yet.
		p.State = StateRunning
		p.ExitCode = nil
	case hasExit || hasPID:
		// A pid without exit.json: stage1 died without writing it.
		p.State = StateExited
	case !prepared:
		p.State = StateAbandoned
	default:
		p.State = StatePrepared
	}
	if p.State != StateExited {
		p.Exited = time.Time{}
	}

	// stage1 writes net.json after its pid: a pod that never started has
	// none to look for.
	if hasPID || held {
		if b, err := files.read(podcontract.NetFile); err == nil {
			if p.Network, err = podcontract.ParseNetwork(b); err != nil {
				problem("%s: %v", podcontract.NetFile, err)
			}
		}
	}
	if sp != nil {
		b, err := files.readMarked(podcontract.SummaryFile, sp.buf)
		if err == nil {
			sp.buf = b
			if p.Apps, err = sp.parse(b); err == nil {
				p.setExits(exit)
				return p, nil
			}
		}
	}
	b, err := files.read(podcontract.ManifestFile)
	var pm *aci.PodManifest
	if err == nil {
		pm, err = aci.ParsePodManifest(b)
	}
	if err != nil {
		if prepared {
			problem("pod manifest: %v", err)
		}
	} else {
		p.Apps = make([]AppStatus, 0, len(pm.Apps))
		for _, ra := range pm.Apps {
			p.Apps = append(p.Apps, AppStatus{Name: string(ra.Name), ImageName: string(ra.Image.Name), ImageID: ra.Image.ID})
		}
		p.setExits(exit)
	}
	if sp != nil {
		return p, nil
	}
	p.Manifest = pm
	b, err = files.read(podcontract.Stage1ArgsFile)
	if err == nil {
		p.Stage1Args, err = podcontract.ParseStage1Args(b)
	}
	if err != nil && prepared {
		problem("%s: %v", podcontract.Stage1ArgsFile, err)
	}
	return p, nil
}

// setExits gives an exited pod's apps their exit codes and signals from
// its exit record.
func (p *Pod) setExits(exit *podcontract.Exit) {
	if p.State != StateExited {
		return
	}
	for i := range p.Apps {
		a := &p.Apps[i]
		for _, e := range exit.Apps {
			if e.Name == a.Name {
				a.ExitCode, a.Signal = &e.ExitCode, e.Signal
			}
		}
	}
}

// Stage1Command returns the argv that runs the pod: binary (the stage1
// executable, podcontract.FindStage1) then `run`, the flags chosen at
// prepare time, the flags of this start (runFlags: where this host keeps
// what does not outlive a boot, --run-dir), and the pod directory. A
// systemd unit runs it as its main process; `acirun run` and
// `run-prepared` run it in their own process.
func Stage1Command(p *Pod, binary string, runFlags ...string) []string {
	argv := []string{binary, "run"}
	argv = append(argv, p.Stage1Args...)
	argv = append(argv, runFlags...)
	return append(argv, p.Dir)
}

// InUseImages returns the IDs of the images of pods that may still run:
// preparing, prepared or running. The store's gc must keep them. An image a
// prepare has resolved but not yet recorded in a pod is kept by the
// prepare's store.Hold instead, until the pod is in place: gc takes each
// candidate's lock before it calls this, so it sees one or the other.
func InUseImages(dataDir string) ([]aci.ImageID, error) {
	pods, err := List(dataDir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []aci.ImageID
	for _, p := range pods {
		if p.State == StateExited || p.State == StateAbandoned {
			continue
		}
		for _, a := range p.Apps {
			if !a.ImageID.IsZero() && !seen[a.ImageID.String()] {
				seen[a.ImageID.String()] = true
				ids = append(ids, a.ImageID)
			}
		}
	}
	return ids, nil
}

// Remove deletes a pod that is not running: prepared, exited or abandoned
// (gc passes only exited and abandoned ones). It takes the pod's lock so
// that the pod cannot start meanwhile, refuses if anything is still
// mounted below the pod directory (deleting through a leftover mount could
// delete a host volume's data), removes the cgroups a pod whose stage1 was
// killed left (podcontract.CgroupsFile), moves the directory out of
// sight, then deletes it.
func Remove(dataDir, uuid string) error {
	return RemoveEach(dataDir, []string{uuid})[0]
}

// removeBatch is how many pods RemoveEach locks at once: each lock is an
// open descriptor, and the soft limit is often 1024.
const removeBatch = 256

// RemoveEach is Remove of each of uuids, the error of each at its index
// (nil when removed). gc removes a thousand pods at once: it locks them a
// batch at a time and reads the mount table once per batch, after the
// locks are held (so that no pod of the batch can start and mount
// meanwhile), not once per pod.
func RemoveEach(dataDir string, uuids []string) []error {
	errs := make([]error, len(uuids))
	for lo := 0; lo < len(uuids); lo += removeBatch {
		hi := min(lo+removeBatch, len(uuids))
		removeBatchOf(dataDir, uuids[lo:hi], errs[lo:hi])
	}
	return errs
}

// removeBatchOf removes uuids, setting errs[i] for uuids[i].
func removeBatchOf(dataDir string, uuids []string, errs []error) {
	podsDir := filepath.Join(dataDir, podcontract.PodsDir)
	locked := make([]bool, len(uuids))
	for i, uuid := range uuids {
		if !IsUUID(uuid) {
			errs[i] = fmt.Errorf("remove pod: %q is not a pod UUID", uuid)
			continue
		}
		dir := filepath.Join(podsDir, uuid)
		lock, err := podcontract.LockPod(dir, true)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
				errs[i] = fmt.Errorf("remove pod %s: %w", uuid, ErrNotFound)
				continue
			}
			// No lock file: nothing can be using it.
		case err != nil:
			errs[i] = fmt.Errorf("remove pod %s: %w", uuid, err)
			continue
		case lock == nil:
			errs[i] = fmt.Errorf("remove pod %s: it is running (or being prepared)", uuid)
			continue
		default:
			defer flock.Unlock(lock)
		}
		locked[i] = true
	}
	var ms []mountinfo.Mount
	if slices.Contains(locked, true) {
		var err error
		if ms, err = mountinfo.Self(); err != nil {
			for i := range uuids {
				if locked[i] {
					errs[i] = fmt.Errorf("remove pod %s: %w", uuids[i], err)
				}
			}
			return
		}
	}
	for i, uuid := range uuids {
		if !locked[i] {
			continue
		}
		dir := filepath.Join(podsDir, uuid)
		if err := checkNoMounts(ms, dir); err != nil {
			errs[i] = fmt.Errorf("remove pod %s: %w", uuid, err)
			continue
		}
		if err := podcontract.RemoveCgroups(dir); err != nil {
			errs[i] = fmt.Errorf("remove pod %s: %w", uuid, err)
			continue
		}
		gone := filepath.Join(podsDir, podcontract.RemovingPrefix+uuid)
		if err := os.Rename(dir, gone); err != nil {
			errs[i] = fmt.Errorf("remove pod %s: %w", uuid, err)
			continue
		}
		if err := os.RemoveAll(gone); err != nil {
			errs[i] = fmt.Errorf("remove pod %s: %w", uuid, err)
		}
	}
}

// RemoveStale deletes what dead prepares and removals left in the pods
// directory (temporary directories never renamed into place or not fully
// deleted). It does nothing, successfully, while a prepare is under way:
// its temporary directory cannot be told from a dead one then.
func RemoveStale(ctx context.Context, dataDir string) error {
	podsDir := filepath.Join(dataDir, podcontract.PodsDir)
	lock, err := flock.TryLock(filepath.Join(podsDir, podcontract.PodsLockFile), true)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // no pods directory: nothing stale
	case err != nil:
		return fmt.Errorf("remove stale pods: %w", err)
	case lock == nil:
		return nil // a prepare is under way
	}
	defer flock.Unlock(lock)
	ents, err := os.ReadDir(podsDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || !(strings.HasPrefix(n, podcontract.PreparingPrefix) || strings.HasPrefix(n, podcontract.RemovingPrefix)) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		p := filepath.Join(podsDir, n)
		if strings.HasPrefix(n, podcontract.RemovingPrefix) {
			// A removal under way holds the pod's lock.
			if ok, _ := flock.Free(filepath.Join(p, podcontract.LockFile)); !ok {
				continue
			}
		}
		ms, err := mountinfo.Self()
		if err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
		if err := checkNoMounts(ms, p); err != nil {
			return fmt.Errorf("remove %s: %w", p, err)
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// checkNoMounts fails if anything in ms (this mount namespace's table,
// read after dir's lock was taken) is mounted at or below dir.
func checkNoMounts(ms []mountinfo.Mount, dir string) error {
	dir = filepath.Clean(dir)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	var found []string
	for _, m := range ms {
		if m.Mountpoint == dir || strings.HasPrefix(m.Mountpoint, dir+"/") {
			found = append(found, m.Mountpoint)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("still mounted below the pod directory: %s (unmount first)", strings.Join(found, ", "))
	}
	return nil
}
