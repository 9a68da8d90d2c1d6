package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBashCompletion sources `acirun completion bash` into a real bash and
// asks its function for the completions of partial command lines, as bash
// would on TAB.
func TestBashCompletion(t *testing.T) {
	script := filepath.Join(t.TempDir(), "acirun.bash")
	must(t, os.WriteFile(script, []byte(mustRun(t, "completion", "bash").stdout), 0o644))
	files := t.TempDir()
	must(t, os.WriteFile(filepath.Join(files, "hello.aci"), nil, 0o644))
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"ima"}, "image"},
		{[]string{"image", ""}, "build cat-manifest export extract gc list render rm validate verify"},
		{[]string{"image", "l"}, "list"},
		{[]string{"image", "list", "--f"}, "--fields= --format= --full"},
		{[]string{"image", "extract", "--"}, "--overwrite --rootfs-only --debug --dir= --insecure-options= --local-config= --run-dir= --system-config="},
		{[]string{"--dir", "/x", "image", "ex"}, "export extract"},
		{[]string{"--debug", "tr"}, "trust"},
		{[]string{"trust", "l"}, "list"},
		{[]string{"fetch", "--sig"}, "--signature="},
		{[]string{"run", "--net=none", "--hostn"}, "--hostname="},
		{[]string{"image", "validate", "hel"}, "hello.aci"},
		{[]string{"image", "render", "--rootfs-only", "x", "hel"}, "hello.aci"},
		{[]string{"frob", "x"}, ""},
	} {
		args := append([]string{"--norc", "-c", `source "$0"; COMP_WORDS=(acirun "${@:1}"); COMP_CWORD=$#; _acirun; echo "${COMPREPLY[*]}"`, script}, tc.words...)
		cmd := exec.Command("bash", args...)
		cmd.Dir = files
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("acirun %s<TAB>: %q, want %q", strings.Join(tc.words, " "), got, tc.want)
		}
	}
}

// TestZshCompletion loads `acirun completion zsh` into a real zsh: it
// parses, defines _acirun, and its tables hold every command that help
// lists. (What zsh's completion system then does with them on a TAB is
// not driven here: that needs a terminal.)
func TestZshCompletion(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Fatalf("zsh is not installed (scripts/setup installs it): %v", err)
	}
	script := filepath.Join(t.TempDir(), "_acirun")
	must(t, os.WriteFile(script, []byte(mustRun(t, "completion", "zsh").stdout), 0o644))
	out, err := exec.Command("zsh", "-f", "-c", `compdef() { print -r -- "compdef $*" }; source "$1" && whence -w _acirun && print -rl -- "${(@kv)_acirun_next}" && print -r -- "${_acirun_flags[image list]}"`, "zsh", script).CombinedOutput()
	if err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{"compdef _acirun acirun", "_acirun: function", "--fields=:comma-separated FIELDS to show", "--no-legend:print no header line", "list:List the images in the store"} {
		if !strings.Contains(got, want) {
			t.Errorf("zsh output lacks %q:\n%s", want, got)
		}
	}
	for _, cmd := range helpCommands(t) {
		w := strings.Fields(cmd)
		if !strings.Contains(got, "\n"+w[len(w)-1]+":") {
			t.Errorf("the zsh completion does not offer %q", cmd)
		}
	}
}

// helpCommands are the commands `acirun help` lists.
func helpCommands(t *testing.T) []string {
	t.Helper()
	var cmds []string
	in := false
	for _, line := range strings.Split(mustRun(t, "help").stdout, "\n") {
		switch {
		case strings.HasPrefix(line, "Commands:"):
			in = true
		case in && strings.HasPrefix(line, "  "):
			cmds = append(cmds, strings.SplitN(strings.TrimSpace(line), "  ", 2)[0])
		case in:
			in = false
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("help lists too few commands: %v", cmds)
	}
	return cmds
}

// TestManPage renders `acirun help --man` with man -l and groff: no
// warnings, and every command that help lists and every flag that each
// command's --help shows is on the page.
func TestManPage(t *testing.T) {
	page := filepath.Join(t.TempDir(), "acirun.1")
	must(t, os.WriteFile(page, []byte(mustRun(t, "help", "--man").stdout), 0o644))
	if out, err := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", page).CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("groff -ww: %v\n%s", err, out)
	}
	cmd := exec.Command("man", "-l", page)
	cmd.Env = append(os.Environ(), "MANWIDTH=200", "MANPAGER=cat", "PAGER=cat", "MAN_KEEP_FORMATTING=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("man -l: %v", err)
	}
	text := string(out)
	if !strings.Contains(text, "ACIRUN(1)") || !strings.Contains(text, "EXIT STATUS") {
		t.Errorf("man -l rendered no page:\n%s", text)
	}
	flagRE := regexp.MustCompile(`(?m)^ {2,}(--[a-z0-9-]+)`)
	for _, c := range helpCommands(t) {
		if !strings.Contains(text, "acirun "+c+"\n") {
			t.Errorf("the manual page has no section for %q", c)
		}
		help := mustRun(t, append(strings.Fields(c), "--help")...).stdout
		for _, m := range flagRE.FindAllStringSubmatch(help, -1) {
			if !strings.Contains(text, m[1]) {
				t.Errorf("the manual page lacks %s of %q", m[1], c)
			}
		}
	}
}
