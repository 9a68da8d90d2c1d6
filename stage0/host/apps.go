package host

import (
	"fmt"
	"slices"
	"strings"

	"github.com/acirun/acirun/stage0/pod"
)

// podApp returns app when pd has an app of that name, or pd's only app
// when app is "": the one rule by which enter, export and logs take the
// app of a pod from --app. The errors name the pod's apps and say how to
// choose one.
func podApp(pd *pod.Pod, app string) (string, error) {
	names := make([]string, 0, len(pd.Apps))
	for _, a := range pd.Apps {
		names = append(names, a.Name)
	}
	switch {
	case app == "" && len(names) == 1:
		return names[0], nil
	case app == "":
		return "", fmt.Errorf("pod %s has %d apps (%s): choose one with --app=NAME", pd.UUID, len(names), strings.Join(names, ", "))
	case !slices.Contains(names, app):
		return "", fmt.Errorf("pod %s has no app %q (its apps: %s)", pd.UUID, app, strings.Join(names, ", "))
	}
	return app, nil
}
