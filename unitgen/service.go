package unitgen

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Service is a persistent service that runs a pod anew at each start, as
// `acirun unit generate` writes it for `systemctl enable`: its command is
// `acirun run …` (which fetches its images if the store lacks them and
// prepares a fresh pod, since a pod runs once), not the stage1 of one
// prepared pod. Like Template it leaves the resource isolators to stage1,
// which applies them below the unit: the pod they belong to does not
// exist yet.
type Service struct {
	// Images are the image references the command runs, for the
	// description.
	Images []string
	// Command is the command line: an absolute path to acirun, then its
	// arguments (global flags, "run", run's arguments).
	Command []string
	// StopTimeout is the pod's --stop-timeout; 0 means DefaultStopTimeout.
	StopTimeout time.Duration
}

// NewService describes the unit of s, to be written as a unit file
// (Options, File); its name is chosen by whoever installs the file.
func NewService(s Service) (*Unit, error) {
	if len(s.Images) == 0 {
		return nil, errors.New("unit of a service: no image to run")
	}
	if err := checkCommand(s.Command); err != nil {
		return nil, fmt.Errorf("unit of a service: %w", err)
	}
	stop := s.StopTimeout
	if stop == 0 {
		stop = DefaultStopTimeout
	}
	if stop < 0 || stop > time.Duration(1<<63-1)-StopGrace {
		return nil, fmt.Errorf("unit of a service: stop timeout %s: want a positive duration", s.StopTimeout)
	}
	d := description{
		description:  literal("App Container pod " + strings.Join(s.Images, ", ")),
		docs:         []string{"https://github.com/acirun/acirun"},
		after:        []string{"network-online.target"},
		wants:        []string{"network-online.target"},
		stopTimeout:  stop,
		startTimeout: 5 * time.Minute, // fetching the images may take a while
		slice:        DefaultSlice,
		collect:      CollectInactive,
		syslogID:     unitSpecifiers("%N"),
		wantedBy:     []string{"multi-user.target"},
	}
	for _, a := range s.Command {
		d.exec = append(d.exec, literal(a))
	}
	// A file only: the name is the installer's, and a transient unit of a
	// persistent service would not be one.
	return &Unit{name: "acirun-service.service", fileOnly: "it is a persistent service, to be installed as a unit file (File) and enabled", settings: d.settings()}, nil
}
