package pod

import (
	"fmt"
	"strings"

	"github.com/acirun/acirun/internal/podcontract"
)

// StartOptions are the pod options a start of a prepared pod may give
// again: rkt's run-prepared flags (--net, --dns, --dns-search, --dns-opt,
// --dns-domain, --hostname, --interactive). Each one given replaces what
// prepare recorded in stage1-args.json, a list (DNS, DNSSearch, DNSOptions)
// as a whole: the start's value wins, as in rkt, where these flags belong to
// run-prepared. The zero value starts the pod as prepared.
type StartOptions struct {
	Net        string   // "" keeps the recorded network
	Hostname   string   // "" keeps the recorded host name
	DNS        []string // nil keeps the recorded list
	DNSSearch  []string
	DNSOptions []string
	DNSDomain  string
	// Interactive gives the pod's one app the terminal of this start; a
	// pod prepared with --interactive is interactive anyway.
	Interactive bool
}

// StartArgs returns the flags of `stage1 run` for a start of p with o:
// the recorded ones with o's in their place, checked together by stage1's
// own parser (a --dns=host at the start with a --dns-search recorded is
// refused, say, rather than one of them ignored). The pod directory is
// not changed.
func (p *Pod) StartArgs(o StartOptions) ([]string, error) {
	ro, err := podcontract.ParseRecordedFlags(p.Stage1Args)
	if err != nil {
		return nil, fmt.Errorf("pod %s: stage1-args.json: %w", p.UUID, err)
	}
	if o.Net != "" {
		ro.Net = o.Net
	}
	if o.Hostname != "" {
		ro.Hostname = o.Hostname
	}
	if o.DNS != nil {
		ro.DNS = o.DNS
	}
	if o.DNSSearch != nil {
		ro.DNSSearch = o.DNSSearch
	}
	if o.DNSOptions != nil {
		ro.DNSOptions = o.DNSOptions
	}
	if o.DNSDomain != "" {
		ro.DNSDomain = o.DNSDomain
	}
	ro.Interactive = ro.Interactive || o.Interactive
	if p.Manifest != nil {
		if ro.Interactive {
			if err := podcontract.CheckInteractive(len(p.Manifest.Apps)); err != nil {
				return nil, fmt.Errorf("pod %s: %w", p.UUID, err)
			}
		}
		if len(p.Manifest.Ports) > 0 && (ro.Net == podcontract.NetHost || ro.Net == podcontract.NetNone) {
			return nil, fmt.Errorf("pod %s publishes ports (prepared with --port), which needs a network of its own, not --net=%s", p.UUID, ro.Net)
		}
	}
	args := ro.Args()
	if _, err := podcontract.ParseRecordedFlags(args); err != nil {
		return nil, fmt.Errorf("pod %s: with what prepare recorded (%s): %w", p.UUID, strings.Join(p.Stage1Args, " "), err)
	}
	return args, nil
}
