package store

// commitStep names a point of an import's commit at which the process may
// die (power cut, SIGKILL, OOM): each leaves the store so that the next
// Open and the next import of the same image end with one good entry and
// nothing else (TestCrashAtEveryCommitStep kills a child process at each).
// A step the code marks must be in commitSteps, and every one of them must
// be reached by an import, or that test fails: a new commit step cannot be
// added without a kill point.
type commitStep string

const (
	// stepStaged: the blob and the tree are complete in staging (tmp/),
	// before the image lock is taken.
	stepStaged commitStep = "staged"
	// stepLeftoversDiscarded: the blob and trees of an import that died
	// after its renames are gone.
	stepLeftoversDiscarded commitStep = "leftovers-discarded"
	// stepBlobRenamed: blobs/ID is in place, the tree still in staging.
	stepBlobRenamed commitStep = "blob-renamed"
	// stepTreeRenamed: the tree is in place too, its directories not yet
	// synced.
	stepTreeRenamed commitStep = "tree-renamed"
	// stepIndexWritten: the entry is written: the image is visible.
	stepIndexWritten commitStep = "index-written"
)

// The steps of a Render of an image with dependencies (renderLocked).
const (
	// stepRenderComposed: the composed tree is complete in staging.
	stepRenderComposed commitStep = "render-composed"
	// stepRenderTreeRenamed: trees/ID is in place, the entry still says
	// not rendered.
	stepRenderTreeRenamed commitStep = "render-tree-renamed"
	// stepRenderIndexWritten: the entry says rendered; the image's own
	// layer is not yet removed.
	stepRenderIndexWritten commitStep = "render-index-written"
	// stepRenderLayerDiscarded: the own layer is gone.
	stepRenderLayerDiscarded commitStep = "render-layer-discarded"
)

// renderSteps is every render step, in the order a Render reaches them.
func renderSteps() []commitStep {
	return []commitStep{stepRenderComposed, stepRenderTreeRenamed, stepRenderIndexWritten, stepRenderLayerDiscarded}
}

// commitSteps is every commitStep, in the order an import reaches them.
func commitSteps() []commitStep {
	return []commitStep{stepStaged, stepLeftoversDiscarded, stepBlobRenamed, stepTreeRenamed, stepIndexWritten}
}

// reached marks step for the tests' crash hook (Options.crashAt, which only
// the package's own tests set); it does nothing otherwise.
func (s *Store) reached(step commitStep) {
	if s.opts.crashAt != nil {
		s.opts.crashAt(step)
	}
}
