package unitgen

import "time"

// Template describes units/aci@.service: the unit whose instance names an
// image, which `acirun run` fetches if needed and runs in place as the
// pod's stage1. It is the description of a pod's unit with the image
// reference %I, without the limits of a pod not yet prepared (stage1
// applies them below the unit), plus what a unit enabled at boot needs.
func Template() *Unit {
	d := description{
		description:  unitSpecifiers("App Container pod %I"),
		docs:         []string{"https://github.com/acirun/acirun", "https://github.com/appc/spec"},
		after:        []string{"network-online.target"},
		wants:        []string{"network-online.target"},
		exec:         []text{literal("acirun"), literal("run"), unitSpecifiers("%I")},
		stopTimeout:  DefaultStopTimeout,
		startTimeout: 5 * time.Minute, // fetching the image may take a while
		slice:        DefaultSlice,
		collect:      CollectInactive,
		syslogID:     unitSpecifiers("%N"),
		wantedBy:     []string{"multi-user.target"},
	}
	return &Unit{name: "aci@.service", fileOnly: "it is a template, whose instances systemd starts from the unit file", settings: d.settings()}
}

// TemplateFile returns units/aci@.service as shipped: a comment for the
// people who read it, then the options of Template.
func TemplateFile() []byte {
	b, err := Template().File()
	if err != nil {
		panic("unitgen: the template cannot be written: " + err.Error()) // its values are constants
	}
	return append([]byte(templateHeader), b...)
}

// templateHeader heads units/aci@.service.
const templateHeader = `# aci@.service: the App Container image named by the instance, run as a pod.
# Generated from unitgen (go generate ./unitgen): edit unitgen/template.go.
#
#   systemctl start aci@example.com-hello:1.0.service    # runs example.com/hello:1.0
#   systemd-escape --template=aci@.service 'example.com/hello-world:1.0,os=linux'
#
# The instance is the image reference escaped as systemd escapes paths: '/'
# becomes '-', and a '-' of the name becomes '\x2d' (systemd-escape does it).
# The image is fetched if the store lacks it (TimeoutStartSec allows for
# that), and runs only if its signature verifies against a key trusted for
# its name (acirun trust --prefix=...).
#
# acirun becomes the pod's supervisor (stage1) in place and tells systemd
# when every app of the pod has started (Type=notify). The pod is registered
# with systemd-machined under the unit (machinectl list shows it, machinectl
# terminate stops the unit), in machine.slice beside other containers; it
# makes cgroups for its apps' resource isolators below its own (Delegate).
# Its apps' output goes to the journal (journalctl -u
# aci@example.com-hello:1.0.service).
#
# systemctl stop sends SIGTERM to the supervisor alone (KillMode=mixed),
# which stops the apps gracefully, kills what is left after --stop-timeout
# (10s by default) and cleans up; systemd kills whatever is left after
# TimeoutStopSec, the stop timeout and 20s.
#
# To pass flags, override ExecStart in a drop-in
# (systemctl edit aci@example.com-hello:1.0.service), and with a longer
# --stop-timeout, TimeoutStopSec too:
#
#   [Service]
#   ExecStart=
#   ExecStart=acirun run --net=host --volume=data,kind=host,source=/srv/hello %I
`
