package main

import (
	"sort"
	"strings"
)

// unknownCommand is the usage error for args that name no command, with
// the commands closest to what was typed, as git and cobra suggest them:
// "stauts" → status, "image lsit" → image list.
func unknownCommand(cmds []*command, args []string) error {
	typed := args[0]
	var names []string
	if g := groupOf(cmds, args[0]); g != "" && len(args) > 1 {
		typed = g + " " + args[1]
		for _, cmd := range cmds {
			if strings.HasPrefix(cmd.name, g+" ") && !cmd.hidden {
				names = append(names, cmd.name)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, cmd := range cmds {
			w, _, _ := strings.Cut(cmd.name, " ")
			if !cmd.hidden && !seen[w] {
				seen[w] = true
				names = append(names, w)
			}
		}
	}
	if s := closest(typed, names); len(s) > 0 {
		return usagef("unknown command %q; did you mean %s?", typed, orList(s))
	}
	return usagef("unknown command %q", typed)
}

// closest returns the names within a small edit distance of typed, or
// that typed begins, nearest first.
func closest(typed string, names []string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, n := range names {
		d := editDistance(typed, n)
		if d <= 2 && d < len(typed) || len(typed) >= 2 && strings.HasPrefix(n, typed) {
			cs = append(cs, cand{n, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for _, c := range cs {
		out = append(out, c.name)
	}
	return out
}

// editDistance is the optimal string alignment distance of a and b: the
// insertions, deletions, substitutions and transpositions of adjacent
// bytes that make one of the other ("stauts" is one transposition from
// "status").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// orList joins words as "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// flagError is the usage error for a flag the flag package refused on the
// command line of cmd (nil: before the command name). A flag that belongs
// to run and prepare, given to another command, says where it belongs: a
// prepared pod runs with the flags it was prepared with.
func (c *CLI) flagError(cmd *command, err error) error {
	name, undefined := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !undefined {
		return usagef("%v", err)
	}
	name = strings.TrimLeft(name, "-")
	where := ""
	if cmd != nil {
		where = " for " + cmd.name
	}
	for _, f := range runFlags() {
		if f.Name != name {
			continue
		}
		example := "--" + name
		if f.Value != "" {
			example += "=" + f.Value
		}
		if cmd != nil && cmd.name == "run-prepared" {
			return usagef("unknown flag --%s%s: it is chosen when the pod is prepared (acirun prepare %s IMAGE); run-prepared changes only --%s", name, where, example, strings.Join(runPreparedFlags, ", --"))
		}
		return usagef("unknown flag --%s%s: it is a flag of run and prepare, given after the command name (acirun run %s IMAGE)", name, where, example)
	}
	return usagef("unknown flag --%s%s", name, where)
}
