package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/acirun/acirun/internal/podcontract"
	"github.com/acirun/acirun/netns"
)

// NetworkConfigDir is the directory of network settings under the system
// and the local configuration (SYSTEM-CONFIG/network.d, then
// LOCAL-CONFIG/network.d).
const NetworkConfigDir = "network.d"

// NetworkConfig is the host's network settings for pods.
type NetworkConfig struct {
	// Publish is where the ports the apps declare are published on the
	// host, for pods on the default network: podcontract.PublishAll (the
	// default), PublishLoopback or PublishNone. --port still publishes a
	// port where it says.
	Publish string
	// Source is the file Publish comes from; "" for the default.
	Source string
	// Subnet and Subnet6 are the default network's IPv4 and IPv6 subnets
	// when a file sets them (podcontract.ParseSubnet: a CIDR, or
	// podcontract.SubnetNone for no address of that family); "" for
	// netns.DefaultSubnet and DefaultSubnet6. They are handed to stage1
	// at every start (Stage1Command), so that a pod prepared before a
	// change starts on the subnets of its start.
	Subnet, Subnet6 string
}

// Subnets are the default network's subnets in effect: network.d's, else
// the built-in ones (netns.DefaultSubnet, DefaultSubnet6), each a CIDR or
// podcontract.SubnetNone.
func (nc NetworkConfig) Subnets() (subnet, subnet6 string) {
	subnet, subnet6 = nc.Subnet, nc.Subnet6
	if subnet == "" {
		subnet = netns.DefaultSubnet.String()
	}
	if subnet6 == "" {
		subnet6 = netns.DefaultSubnet6.String()
	}
	return subnet, subnet6
}

// networkFile is a network.d file, in the shape of rkt's configuration
// files:
//
//	{"rktKind": "network", "rktVersion": "v1", "publish": "loopback",
//	 "subnet": "172.16.28.0/24", "subnet6": "fd61:6369:7275::/64"}
type networkFile struct {
	RktKind    string `json:"rktKind"`
	RktVersion string `json:"rktVersion"`
	Publish    string `json:"publish"`
	Subnet     string `json:"subnet"`
	Subnet6    string `json:"subnet6"`
}

// parseNetworkFile reads one network.d file: a JSON object of kind
// "network", version v1, with nothing but the known settings in it.
func parseNetworkFile(raw []byte) (networkFile, error) {
	var f networkFile
	if err := parseConfigFile(raw, "network", &f, func() (string, string) { return f.RktKind, f.RktVersion }); err != nil {
		return networkFile{}, err
	}
	if f.Publish != "" {
		if err := podcontract.CheckPublish(f.Publish); err != nil {
			return networkFile{}, err
		}
	}
	if err := checkSubnets(f.Subnet, f.Subnet6); err != nil {
		return networkFile{}, err
	}
	return f, nil
}

// NetworkConfig reads the *.json files of network.d, the system's then the
// local ones, each in name order: a setting in a later file overrides an
// earlier one. A file that cannot be read or understood is an error
// naming it. Starting a pod reads it once (RunPod, RunPreparedPod) and
// passes it on to Prepare's and Stage1Command's parts.
func (h *Host) NetworkConfig() (NetworkConfig, error) {
	nc := NetworkConfig{Publish: podcontract.PublishAll}
	err := h.eachConfigFile(NetworkConfigDir, func(path string, raw []byte) error {
		f, err := parseNetworkFile(raw)
		if err != nil {
			return fmt.Errorf("network config %s: %w (want {\"rktKind\": \"network\", \"rktVersion\": \"v1\", \"publish\": \"all|loopback|none\", \"subnet\": \"CIDR|none\", \"subnet6\": \"CIDR|none\"})", path, err)
		}
		if f.Publish != "" {
			nc.Publish, nc.Source = f.Publish, path
		}
		if f.Subnet != "" {
			nc.Subnet = f.Subnet
		}
		if f.Subnet6 != "" {
			nc.Subnet6 = f.Subnet6
		}
		return nil
	})
	if err != nil {
		return NetworkConfig{}, err
	}
	// Each file's subnets were checked alone; together, the network
	// must keep a family.
	if err := checkSubnets(nc.Subnet, nc.Subnet6); err != nil {
		return NetworkConfig{}, fmt.Errorf("network config %s: %w", filepath.Join(h.cfg.LocalConfig, NetworkConfigDir), err)
	}
	h.cfg.Trace.Step("network config read")
	return nc, nil
}

// checkSubnets checks the default network's subnets as network.d sets them
// ("" where it does not): each of its family and large enough
// (netns.Network.Check), and not both none.
func checkSubnets(subnet, subnet6 string) error {
	n := netns.Default("")
	var err error
	if subnet != "" {
		if n.Subnet, err = podcontract.ParseSubnet(subnet, false); err != nil {
			return err
		}
	}
	if subnet6 != "" {
		if n.Subnet6, err = podcontract.ParseSubnet(subnet6, true); err != nil {
			return err
		}
	}
	if !n.Subnet.IsValid() && !n.Subnet6.IsValid() {
		return fmt.Errorf("subnet and subnet6 are both %s: the default network needs IPv4, IPv6 or both", podcontract.SubnetNone)
	}
	return n.Check()
}

// eachConfigFile calls fn with the path and content of each *.json file of
// the directory sub of the system's, then the local configuration, each
// in name order, so that a setting in a later file overrides an earlier
// one (network.d, store.d). It stops at the first error.
func (h *Host) eachConfigFile(sub string, fn func(path string, raw []byte) error) error {
	for _, base := range []string{h.cfg.SystemConfig, h.cfg.LocalConfig} {
		if base == "" {
			continue
		}
		dir := filepath.Join(base, sub)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read configuration: %w", err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			raw, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("read configuration: %w", err)
			}
			if err := fn(path, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseConfigFile decodes one file of a configuration directory into f, a
// pointer to a struct with the rktKind and rktVersion fields of rkt's
// configuration files (which head returns once decoded) and the settings:
// strictly (an unknown key is an error: a misspelt setting must not be
// ignored), of the given kind and version v1.
func parseConfigFile(raw []byte, kind string, f any, head func() (string, string)) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(f); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one JSON value")
	}
	k, v := head()
	switch {
	case k == "":
		return errors.New("no rktKind")
	case k != kind:
		return fmt.Errorf("rktKind %q is not %q", k, kind)
	case v != "v1":
		return fmt.Errorf("rktVersion %q of kind %s: want v1", v, kind)
	}
	return nil
}
