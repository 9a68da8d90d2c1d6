package podcontract

import (
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/utils"
)

func TestParseNet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []NetRequest
		err  string
	}{
		{in: "default"},
		{in: "default-restricted"},
		{in: "host"},
		{in: "none"},
		{in: "web", want: []NetRequest{{Name: "web"}}},
		{in: "web,db", want: []NetRequest{{Name: "web"}, {Name: "db"}}},
		{in: "my_net.1-a", want: []NetRequest{{Name: "my_net.1-a"}}},
		{in: "web:IP=10.1.0.5", want: []NetRequest{{Name: "web", Args: [][2]string{{"IP", "10.1.0.5"}}}}},
		{in: "web:IP=fd00:0::5", want: []NetRequest{{Name: "web", Args: [][2]string{{"IP", "fd00::5"}}}}},
		{in: "web:IP=10.1.0.5;MAC=02:00:00:00:00:01,db", want: []NetRequest{
			{Name: "web", Args: [][2]string{{"IP", "10.1.0.5"}, {"MAC", "02:00:00:00:00:01"}}}, {Name: "db"}}},
		{in: "web:K8S_POD_NAME=", want: []NetRequest{{Name: "web", Args: [][2]string{{"K8S_POD_NAME", ""}}}}},
		{in: "", err: "empty network"},
		{in: "web,", err: `"": a network without a name`},
		{in: ",web", err: "a network without a name"},
		{in: ":IP=10.0.0.1", err: "a network without a name"},
		{in: "web,web", err: "network web is named twice"},
		{in: "web:IP=10.0.0.1,web", err: "network web is named twice"},
		{in: "default,web", err: "network default is built in and cannot be listed with named networks: to be on a NAT'd network and another at once, configure a bridge network with ipMasq in net.d (README, Named networks) and list both, --net=BRIDGE,NAME"},
		{in: "web,default-restricted", err: "network default-restricted is built in and cannot be listed with named networks: to be on"},
		{in: "web,host", err: "network host cannot be listed with other networks: give --net=host alone, or only named networks"},
		{in: "none,web", err: "network none cannot be listed with other networks: give --net=none alone"},
		{in: "none:IP=10.0.0.1", err: "network none is built in and takes no arguments: ARG=VALUE (IP=, …) is for the named networks of net.d"},
		{in: "default:IP=10.0.0.1", err: "network default is built in and takes no arguments"},
		{in: "-web", err: `network name "-web"`},
		{in: "we b", err: `network name "we b"`},
		{in: "web/1", err: `network name "web/1"`},
		{in: "web:", err: "network web: nothing after ':'"},
		{in: "web:IP", err: `network web: argument "IP": want ARG=VALUE`},
		{in: "web:=1", err: `network web: argument "=1": want ARG=VALUE`},
		{in: "web:I-P=1", err: `network web: argument name "I-P"`},
		{in: "web:IP=10.0.0.1;", err: `network web: argument "": want ARG=VALUE`},
		{in: "web:IP=10.0.0.1;IP=10.0.0.2", err: "network web: argument IP is given twice"},
		{in: "web:IP=10.0.0.256", err: "network web: IP=10.0.0.256: want one IPv4 or IPv6 address"},
		{in: "web:IP=10.0.0.1/24", err: "want one IPv4 or IPv6 address"},
		{in: "web:IP=fe80::1%eth0", err: "want one IPv4 or IPv6 address"},
		{in: "web:IP=::ffff:10.0.0.1", err: "want one IPv4 or IPv6 address"},
		{in: "web:IP=0.0.0.0", err: "want one IPv4 or IPv6 address"},
		{in: "web:X=a\tb", err: "network web: argument X: control characters"},
		{in: manyNets(17), err: "17 networks: a pod may be on 16 at most"},
	} {
		got, err := ParseNet(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseNet(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseNet(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

// manyNets is a --net value of n networks.
func manyNets(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "n" + strconv.Itoa(i)
	}
	return strings.Join(names, ",")
}

func TestNetRequestIP(t *testing.T) {
	r, err := ParseNet("a:X=1;IP=192.0.2.7,b")
	if err != nil {
		t.Fatal(err)
	}
	if ip := r[0].IP(); ip != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("IP() = %v", ip)
	}
	if ip := r[1].IP(); ip.IsValid() {
		t.Errorf("IP() of a network without IP= = %v", ip)
	}
	if got := FormatNet(r); got != "a:X=1;IP=192.0.2.7,b" {
		t.Errorf("FormatNet = %q", got)
	}
}

func TestRunFlagsNamedNetworks(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{args: []string{"--net=web,db:IP=10.0.0.2", "--net-config-dir=/etc/acirun/net.d"}},
		{args: []string{"--net=web"}},
		{args: []string{"--net=web:", "--net-config-dir=/etc/acirun/net.d"}, err: "--net=web:: network web: nothing after ':'"},
		{args: []string{"--net=web", "--net-config-dir=net.d"}, err: `--net-config-dir="net.d": want an absolute path`},
	} {
		o, err := ParseRecordedFlags(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v; want error containing %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if back, err := ParseRecordedFlags(o.Args()); err != nil || !reflect.DeepEqual(back, o) {
			t.Errorf("%q: Args() = %q reads back as %+v, %v", tc.args, o.Args(), back, err)
		}
	}
}

// FuzzParseNet: what ParseNet accepts is named networks, written back by
// FormatNet into a value it reads again the same, or a built-in network.
func FuzzParseNet(f *testing.F) {
	for _, s := range []string{"default", "web", "web,db", "web:IP=10.1.0.5;MAC=x,db", "web:IP=fd00::5", "a,,b", "web:", "x:IP=1.2.3.4;IP=1.2.3.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		reqs, err := ParseNet(s)
		if err != nil {
			if reqs != nil {
				t.Fatalf("ParseNet(%q): both requests and an error", s)
			}
			return
		}
		if len(reqs) == 0 {
			if !IsBuiltinNet(s) {
				t.Fatalf("ParseNet(%q): no network and no error", s)
			}
			return
		}
		for _, r := range reqs {
			if IsBuiltinNet(r.Name) || strings.ContainsAny(r.Name, ",:;= ") {
				t.Fatalf("ParseNet(%q): network name %q", s, r.Name)
			}
			for _, a := range r.Args {
				if strings.ContainsAny(a[0]+a[1], ",;") || strings.Contains(a[0], "=") {
					t.Fatalf("ParseNet(%q): argument %q", s, a)
				}
			}
			if ip := r.IP(); hasIPArg(r) && !ip.IsValid() {
				t.Fatalf("ParseNet(%q): IP= of %s is no address", s, r.Name)
			}
		}
		back, err := ParseNet(FormatNet(reqs))
		if err != nil || !reflect.DeepEqual(back, reqs) {
			t.Fatalf("ParseNet(%q) = %#v; FormatNet %q reads back as %#v, %v", s, reqs, FormatNet(reqs), back, err)
		}
	})
}

func hasIPArg(r NetRequest) bool {
	for _, a := range r.Args {
		if a[0] == NetArgIP {
			return true
		}
	}
	return false
}

// FuzzValidNetworkName: ValidNetworkName accepts exactly the names libcni
// does.
func FuzzValidNetworkName(f *testing.F) {
	for _, s := range []string{"", "web", "a", "-a", "_a", ".a", "a-b_c.d", "a b", "a\n", "a\x00", "é", "a/b", "A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidNetworkName(s), utils.ValidateNetworkName(s) == nil; got != want {
			t.Fatalf("ValidNetworkName(%q) = %t, libcni's ValidateNetworkName says %t", s, got, want)
		}
	})
}
