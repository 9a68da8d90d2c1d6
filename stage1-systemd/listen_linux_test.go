package stage1

import (
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestListenNamesAndEnv(t *testing.T) {
	a := &appSpec{listen: []listenPort{{name: "www", protocol: "tcp", port: 80, count: 2}, {name: "dns", protocol: "udp", port: 53, count: 1}}}
	if got, want := listenNames(a), []string{"www", "www", "dns"}; !reflect.DeepEqual(got, want) {
		t.Errorf("listenNames = %q, want %q", got, want)
	}
	env := SetEnv([]string{"PATH=/bin", "LISTEN_FDS=9", "A=b"}, []string{"LISTEN_FDS=3", "LISTEN_PID=7"})
	if want := []string{"PATH=/bin", "A=b", "LISTEN_FDS=3", "LISTEN_PID=7"}; !reflect.DeepEqual(env, want) {
		t.Errorf("SetEnv = %q, want %q", env, want)
	}
	for _, tc := range []struct {
		proto string
		port  uint
		count uint
		err   string // the refusal's reason; "" for none
	}{
		{"tcp", 80, 1, ""}, {"udp", 65535, 1, ""}, {"tcp", 65535, 2, "65535 (count 2) out of range 1-65535"},
		{"tcp6", 80, 1, `protocol "tcp6" is not supported (want tcp or udp)`}, {"TCP", 80, 1, `protocol "TCP" is not supported`},
		{"sctp", 80, 1, `protocol "sctp" is not supported`}, {"", 80, 1, `protocol "" is not supported`},
	} {
		err := checkListenProtocols([]*appSpec{{name: "web", listen: []listenPort{{name: "www", protocol: tc.proto, port: tc.port, count: tc.count}}}})
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s/%d count %d: error %v, want %q", tc.proto, tc.port, tc.count, err, tc.err)
		}
		if err != nil && !strings.Contains(err.Error(), "app web: socket-activated port www") {
			t.Errorf("error %q does not name the app and port", err)
		}
	}
}

func TestPodSocketActivation(t *testing.T) {
	web := testApp{
		name: "web",
		exec: []string{"/probe", "listen-fds:web", "serve:3", "serve:4", "recv:5"},
		ports: []string{
			`{"name":"www","protocol":"tcp","port":8080,"count":2,"socketActivated":true}`,
			`{"name":"plain","protocol":"tcp","port":9000}`,
			`{"name":"dns","protocol":"udp","port":5353,"socketActivated":true}`,
		},
		handlers: map[string][]string{"pre-start": {"/probe", "listen-fds:pre-start"}, "post-stop": {"/probe", "listen-fds:post-stop"}},
	}
	client := testApp{
		name: "client",
		exec: []string{"/probe", "listen-fds:client", "dial:127.0.0.1:8080", "dial:[::1]:8081", "send-udp:127.0.0.1:5353"},
	}
	p := newPod(t, []testApp{web, client}, nil)
	r := p.run(t, "--net=none")
	if r.code != 0 {
		t.Errorf("exit %d, want 0", r.code)
	}
	r.has(t,
		"web LISTEN_FDS=3 LISTEN_FDNAMES=www:www:dns pid-set=true pid-match=true\n",
		"web fd 3 tcp inet6 port 8080 listening true\n",
		"web fd 4 tcp inet6 port 8081 listening true\n",
		"web fd 5 udp inet6 port 5353 listening false\n",
		"web sockets 3\n",
		"served 3 <nil>", "served 4 <nil>", "recv 5 ping",
		`dial 127.0.0.1:8080 reply "hello" <nil>`, `dial [::1]:8081 reply "hello" <nil>`, "send-udp 127.0.0.1:5353 <nil>",
		// One line at a time: the client and web's pre-start handler run at
		// the same time, so their lines may interleave.
		"client LISTEN_FDS= LISTEN_FDNAMES= pid-set=false pid-match=false\n", "client sockets 0\n",
		"pre-start LISTEN_FDS= LISTEN_FDNAMES= pid-set=false pid-match=false\n", "pre-start sockets 0\n",
		"post-stop LISTEN_FDS= LISTEN_FDNAMES= pid-set=false pid-match=false\n", "post-stop sockets 0\n",
	)
	for _, l := range []string{
		"app web: socket-activated port www tcp/8080 passed as fd 3",
		"app web: socket-activated port www tcp/8081 passed as fd 4",
		"app web: socket-activated port dns udp/5353 passed as fd 5",
	} {
		if !strings.Contains(r.stderr, l) {
			t.Errorf("stderr lacks %q", l)
		}
	}
	if strings.Contains(r.stderr, "app client: socket-activated") || strings.Contains(r.stderr, "9000") {
		t.Errorf("stderr reports ports that are not socket-activated")
	}
}

func TestPodSocketActivationRefused(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer held.Close()
	heldPort := held.Addr().(*net.TCPAddr).Port
	port := func(name, proto string, n int) string {
		return `{"name":"` + name + `","protocol":"` + proto + `","port":` + strconv.Itoa(n) + `,"socketActivated":true}`
	}
	for _, tc := range []struct {
		name string
		net  string
		apps []testApp
		want []string
	}{
		{"tcp6", "none", []testApp{{name: "web", exec: []string{"/probe", "env"}, ports: []string{port("www", "tcp6", 8080)}}},
			[]string{`app web: socket-activated port www: protocol "tcp6" is not supported`}},
		{"unknown protocol", "none", []testApp{
			{name: "other", exec: []string{"/probe", "env"}},
			{name: "web", exec: []string{"/probe", "env"}, ports: []string{port("www", "tcp", 8080), port("sig", "sctp", 9000)}}},
			[]string{`app web: socket-activated port sig: protocol "sctp" is not supported`}},
		{"clash in the pod", "none", []testApp{
			{name: "a", exec: []string{"/probe", "env"}, ports: []string{port("one", "tcp", 8080)}},
			{name: "b", exec: []string{"/probe", "env"}, ports: []string{port("two", "tcp", 8080)}}},
			[]string{"app b: socket-activated port two tcp/8080: bind: address already in use"}},
		{"port in use on the host", "host", []testApp{{name: "web", exec: []string{"/probe", "env"}, ports: []string{port("www", "tcp", heldPort)}}},
			[]string{"app web: socket-activated port www tcp/" + strconv.Itoa(heldPort) + ": bind: address already in use"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t, tc.apps, nil)
			r := p.run(t, "--net="+tc.net)
			if r.code != ExitCodeFailure {
				t.Errorf("exit %d, want %d", r.code, ExitCodeFailure)
			}
			if r.stdout != "" {
				t.Errorf("an app ran: %q", r.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
		})
	}
}
