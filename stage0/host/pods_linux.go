package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acirun/acirun/aci"
	"github.com/acirun/acirun/internal/flock"
	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/imagename"
	"github.com/acirun/acirun/stage0/imageref"
	"github.com/acirun/acirun/stage0/pod"
	"github.com/acirun/acirun/stage0/store"
)

// PrepareOptions adjust one Prepare.
type PrepareOptions struct {
	// Sync makes the pod directory durable before the pod is recorded as
	// prepared: a pod prepared to run later may be run after a crash. A
	// pod run at once skips the cost.
	Sync bool
	// HostEnv is the host's environment, given to the apps only with
	// --inherit-env.
	HostEnv []string
	// Progress is told of every image download; nil reports none.
	Progress fetch.Progress
	// Note is told what the user should know about the pod (a mount
	// point given an implicit empty volume, say), before it starts; nil
	// discards it.
	Note func(string)
}

// Prepare fetches the images req names (per its pull policy, signatures
// enforced unless its insecure options say otherwise), holds them so that
// no gc removes them meanwhile, and writes the pod.
func (h *Host) Prepare(ctx context.Context, req *pod.RunRequest, opts PrepareOptions) (*pod.Pod, error) {
	nc, err := h.NetworkConfig()
	if err != nil {
		return nil, err
	}
	return h.prepare(ctx, req, opts, nc)
}

// prepare is Prepare with the host's network configuration read.
func (h *Host) prepare(ctx context.Context, req *pod.RunRequest, opts PrepareOptions, nc NetworkConfig) (*pod.Pod, error) {
	h.cfg.Trace.Step("prepare")
	ins, err := fetch.ParseInsecure(strings.Join(req.InsecureOptions, ","))
	if err != nil {
		return nil, err
	}
	var policy fetch.PullPolicy
	if req.PullPolicy != "" {
		if policy, err = fetch.ParsePullPolicy(req.PullPolicy); err != nil {
			return nil, err
		}
	}
	r, err := h.NewResolver(FetchOptions{Insecure: ins, Policy: policy, Progress: opts.Progress, StallTimeout: req.StallTimeout})
	if err != nil {
		return nil, err
	}
	if err := h.CheckNetworks(ctx, req.Net, req.Ports); err != nil {
		return nil, err
	}
	cfg := pod.Config{DataDir: h.cfg.DataDir, Resolver: r, HostEnv: opts.HostEnv, Debug: h.cfg.Debug, Sync: opts.Sync, Trace: h.cfg.Trace,
		Publish: nc.Publish}
	if hl := imagename.HostLabels(); hl["os"] != "" && hl["arch"] != "" {
		cfg.Platform = pod.Platform{OS: hl["os"], Arch: hl["arch"]}
	}
	pd, notes, err := pod.Prepare(ctx, cfg, req)
	if err != nil {
		return nil, err
	}
	if opts.Note != nil {
		for _, n := range notes {
			opts.Note(n)
		}
	}
	return pd, nil
}

// Starter starts a pod's stage1 from its command line (pod.Stage1Command).
// The CLI runs it in its own process, so that the pod keeps acirun's PID
// (a unit's main process), terminal and exit code; another front end may
// hand it to systemd as a unit of its own.
type Starter func(pd *pod.Pod, argv []string) error

// preparedPod loads the prepared pod ref (a UUID or a unique prefix of
// one) for RunPreparedPod, with the options of o in place of those prepare
// recorded (pod.StartOptions: o's win). A pod prepared in an earlier boot
// may use rendered trees that boot never wrote to disk: each of its images
// is held for a moment first, which verifies such a tree (and renders it
// again if damaged) before the pod mounts it.
func (h *Host) preparedPod(ctx context.Context, ref string, o pod.StartOptions) (*pod.Pod, error) {
	pd, err := pod.Load(h.cfg.DataDir, ref)
	if err != nil {
		return nil, err
	}
	if pd.State != pod.StatePrepared {
		return nil, fmt.Errorf("pod %s is %s, not prepared", pd.UUID, pd.State)
	}
	if pd.Problem != "" {
		return nil, fmt.Errorf("pod %s cannot run: %s", pd.UUID, pd.Problem)
	}
	if pd.Stage1Args, err = pd.StartArgs(o); err != nil {
		return nil, err
	}
	if ro, err := podcontract.ParseRecordedFlags(pd.Stage1Args); err == nil {
		var ports []aci.ExposedPort
		if pd.Manifest != nil {
			ports = pd.Manifest.Ports
		}
		if err := h.CheckNetworks(ctx, ro.Net, ports); err != nil {
			return nil, fmt.Errorf("pod %s: %w", pd.UUID, err)
		}
	}
	if err := h.settleImages(ctx, pd); err != nil {
		return nil, fmt.Errorf("pod %s: %w", pd.UUID, err)
	}
	return pd, nil
}

// settleImages holds each image of a prepared pod for a moment (see
// preparedPod).
func (h *Host) settleImages(ctx context.Context, pd *pod.Pod) error {
	st, err := h.OpenStore()
	if err != nil {
		return err
	}
	for _, a := range pd.Apps {
		_, release, err := st.Hold(ctx, a.ImageID.String())
		if err != nil {
			return err
		}
		release()
	}
	return nil
}

// Stage1Command is the command line that runs pd: acirun-stage1's run
// (podcontract.FindStage1) with the flags of this start, the default
// network's from nc (NetworkConfig), and startFlags after them. What stage1
// keeps for the host (address leases, the metadata key) is the host's, not
// a store's: it stays in DefaultRunDir unless RunDir is given.
func (h *Host) Stage1Command(pd *pod.Pod, nc NetworkConfig, startFlags ...string) ([]string, error) {
	stage1, err := podcontract.FindStage1()
	if err != nil {
		return nil, err
	}
	var runFlags []string
	if h.cfg.RunDir != "" {
		runFlags = append(runFlags, "--run-dir="+h.cfg.RunDir)
	}
	// The default network's subnets are the host's at each start: its
	// leases are shared by every pod.
	if nc.Subnet != "" {
		runFlags = append(runFlags, "--subnet="+nc.Subnet)
	}
	if nc.Subnet6 != "" {
		runFlags = append(runFlags, "--subnet6="+nc.Subnet6)
	}
	// A pod on named networks finds them in this host's configuration.
	if ro, err := podcontract.ParseRecordedFlags(pd.Stage1Args); err == nil && !podcontract.IsBuiltinNet(ro.Net) {
		dir, err := h.cfg.NetConfigDir()
		if err != nil {
			return nil, err
		}
		runFlags = append(runFlags, "--net-config-dir="+dir)
	}
	return pod.Stage1Command(pd, stage1, append(runFlags, startFlags...)...), nil
}

// Pods lists the pods and their states.
func (h *Host) Pods(ctx context.Context) ([]*pod.Pod, error) {
	return pod.List(h.cfg.DataDir)
}

// Pod loads the pod ref (a UUID or a unique prefix of one).
func (h *Host) Pod(ctx context.Context, ref string) (*pod.Pod, error) {
	return pod.Load(h.cfg.DataDir, ref)
}

// RemovePod removes the pod ref, which must not be running.
func (h *Host) RemovePod(ctx context.Context, ref string) (*pod.Pod, error) {
	pd, err := pod.Load(h.cfg.DataDir, ref)
	if err != nil {
		return nil, err
	}
	if err := pod.Remove(h.cfg.DataDir, pd.UUID); err != nil {
		return nil, err
	}
	return pd, nil
}

// GCOptions say which pods GCPods takes.
type GCOptions struct {
	// Grace spares pods that exited less than Grace ago (by their exit
	// record's time).
	Grace time.Duration
	// ExpirePrepared removes prepared pods that were prepared more than
	// ExpirePrepared ago and never started (rkt's --expire-prepared: 0
	// expires every one). A negative value keeps them all.
	ExpirePrepared time.Duration
	// MarkOnly finds the garbage and removes nothing, not even what dead
	// prepares and killed pods left. acirun has no garbage state of its
	// own to move pods into, as rkt's mark phase did: an exited pod becomes
	// garbage when its grace period has passed, and MarkOnly reports which
	// pods are garbage now.
	MarkOnly bool
}

// GCResult is what GCPods did.
type GCResult struct {
	// Removed lists the pods removed (with MarkOnly, those that would
	// have been), by UUID.
	Removed []string
}

// GCPods removes what dead prepares left, abandoned pods, pods that
// exited longer than opts.Grace ago and prepared pods older than
// opts.ExpirePrepared. What a pod killed with SIGKILL could not clean up
// itself goes too: the failed transient unit of each pod removed (reset,
// so systemd unloads it), and the network leases and the named networks'
// attachments (DEL through their plugins) of pods no stage1 runs. A
// pod that cannot be removed does not stop the others; the errors are
// joined. A prepared pod that starts while gc looks at it is left alone.
//
// One gc runs at a time (the lock LockDir/gc.lock; a second waits for the
// first, then finds what is left), so that two of them do not report each
// other's removals as failures; a pod removed meanwhile by acirun rm is
// neither an error nor reported.
func (h *Host) GCPods(ctx context.Context, opts GCOptions) (*GCResult, error) {
	if !opts.MarkOnly {
		if err := os.MkdirAll(h.cfg.LockDir(), 0o755); err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		l, err := flock.Lock(ctx, filepath.Join(h.cfg.LockDir(), gcLockFile), true)
		if err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		defer flock.Unlock(l)
		if err := pod.RemoveStale(ctx, h.cfg.DataDir); err != nil {
			return nil, err
		}
	}
	pods, err := pod.List(h.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	res := &GCResult{}
	var garbage, podUnits []string
	for _, pd := range pods {
		if !isGarbage(pd, opts, now) {
			continue
		}
		garbage = append(garbage, pd.UUID)
		if !opts.MarkOnly {
			// Read before the pod directory goes.
			podUnits = append(podUnits, podUnit(pd))
		}
	}
	if opts.MarkOnly {
		res.Removed = garbage
		return res, nil
	}
	var units []string
	var errs []error
	for i, err := range pod.RemoveEach(h.cfg.DataDir, garbage) {
		uuid := garbage[i]
		if err != nil {
			now, lerr := pod.Load(h.cfg.DataDir, uuid)
			switch {
			case errors.Is(err, pod.ErrNotFound) || errors.Is(lerr, pod.ErrNotFound):
				continue // acirun rm removed it meanwhile
			case lerr == nil && now.State == pod.StateRunning:
				continue // run-prepared took it meanwhile
			}
			errs = append(errs, err)
			continue
		}
		res.Removed = append(res.Removed, uuid)
		if podUnits[i] != "" {
			units = append(units, podUnits[i])
		}
	}
	if err := resetFailedUnits(ctx, units); err != nil {
		errs = append(errs, err)
	}
	if err := h.releaseStaleLeases(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := h.releaseStaleNetworks(ctx); err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// gcLockFile, in LockDir, is held by the gc that removes pods.
const gcLockFile = "gc.lock"

// isGarbage is the pods' gc rule: abandoned pods, exited pods past the
// grace period, prepared pods past their expiry.
func isGarbage(pd *pod.Pod, opts GCOptions, now time.Time) bool {
	switch pd.State {
	case pod.StateAbandoned:
		return true
	case pod.StateExited:
		return !pd.Exited.After(now.Add(-opts.Grace))
	case pod.StatePrepared:
		return opts.ExpirePrepared >= 0 && !pd.Created.After(now.Add(-opts.ExpirePrepared))
	}
	return false
}

// Resolver implements pod.ImageResolver for one prepare: an image the
// store has as the pull policy takes it (imageref.InStore: an image ID, or
// under --pull-policy=new a stored name, URL or OCI reference), rendered,
// is used as it is; anything else is fetched by acirun-fetch, with the
// prepare's options. An image named again (rkt's `run IMG --- IMG`) is not
// pulled a second time: importing it again would wait for an exclusive
// lock on the image that this very prepare holds shared until the pod is
// recorded.
type Resolver struct {
	h    *Host
	opts FetchOptions
	st   *store.Store
	// defaultRegistry is registries.json's, for OCI references.
	defaultRegistry string
	seen            map[string]string // reference → image ID already pulled
}

// NewResolver returns a Resolver fetching with opts.
func (h *Host) NewResolver(opts FetchOptions) (*Resolver, error) {
	st, err := h.OpenStore()
	if err != nil {
		return nil, err
	}
	oc, err := h.OCIConfig()
	if err != nil {
		return nil, err
	}
	return &Resolver{h: h, opts: opts, st: st, defaultRegistry: oc.DefaultRegistry, seen: map[string]string{}}, nil
}

// image holds img in the store (so that gc cannot remove it before the pod
// that uses it is recorded; Prepare calls Release) and describes it.
func (r *Resolver) image(ctx context.Context, img *store.Image) (*pod.Image, error) {
	held, release, err := r.st.Hold(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	m, err := held.ImageManifest()
	if err != nil {
		release()
		return nil, err
	}
	tree, err := r.st.Tree(held)
	if err != nil {
		release()
		return nil, err
	}
	id, err := aci.ParseImageID(held.ID)
	if err != nil {
		release()
		return nil, err
	}
	return &pod.Image{ID: id, Manifest: m, Tree: tree, Release: release}, nil
}

// sameRef is the key under which a reference is remembered: one file
// however it is spelled (t.aci, ./t.aci, file://…, a symlink), anything
// else as it is.
func sameRef(ref string) string {
	if imageref.Classify(ref) != imageref.KindFile {
		return ref
	}
	p, err := filepath.Abs(strings.TrimPrefix(ref, "file://"))
	if err != nil {
		return ref
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return "file://" + p
}

// ResolveImage pulls ref, once per prepare, and holds it.
func (r *Resolver) ResolveImage(ctx context.Context, ref string) (*pod.Image, error) {
	key := sameRef(ref)
	if id, ok := r.seen[key]; ok {
		return r.image(ctx, &store.Image{ID: id})
	}
	id, err := r.pull(ctx, ref)
	if err != nil {
		return nil, err
	}
	r.seen[key] = id
	return r.image(ctx, &store.Image{ID: id})
}

// pull returns the ID of the stored image ref stands for: the store's
// when the policy takes it from there and its tree is rendered (with the
// warning of an image stored unsigned, as the pipeline gives it),
// otherwise the one acirun-fetch brings in.
func (r *Resolver) pull(ctx context.Context, ref string) (string, error) {
	if img := imageref.InStore(r.st, ref, r.opts.Policy, r.defaultRegistry); img != nil && img.Rendered {
		imageref.WarnUnsigned(r.h.cfg.Warnings, img, r.opts.Insecure)
		return img.ID, nil
	}
	ids, err := r.h.fetch(ctx, r.opts, ref)
	if err != nil {
		return "", err
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("image %s: the fetch helper returned %d images for one", ref, len(ids))
	}
	return ids[0], nil
}

// ResolveRuntimeImage resolves an image of a pod manifest: by its ID when
// it has one, else by its name and labels.
func (r *Resolver) ResolveRuntimeImage(ctx context.Context, ri aci.RuntimeImage) (*pod.Image, error) {
	ref := ri.ID.String()
	if ref == "" {
		parts := []string{string(ri.Name)}
		for _, l := range ri.Labels {
			parts = append(parts, fmt.Sprintf("%s=%s", l.Name, l.Value))
		}
		ref = strings.Join(parts, ",")
	}
	return r.ResolveImage(ctx, ref)
}
