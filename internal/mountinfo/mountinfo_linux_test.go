package mountinfo

import "testing"

func TestSelf(t *testing.T) {
	ms, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	var proc bool
	for _, m := range ms {
		if m.FSType == "proc" {
			proc = true
		}
	}
	if !proc {
		t.Errorf("no proc mount among %d mounts of this thread's namespace", len(ms))
	}
}
