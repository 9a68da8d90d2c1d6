package main

import (
	"flag"
	"sort"
	"strings"
)

// flagDoc is one flag as the shell completions and the man page describe
// it. They are made from the flag definitions themselves (a command's
// FlagSet, the run grammar's table, the globals' register), so that a
// flag cannot be added without them knowing.
type flagDoc struct {
	Name    string // without dashes
	Value   string // the value's syntax; "" for a boolean flag
	Help    string
	Default string // "" when there is nothing worth saying
	// Repeatable flags may be given more than once.
	Repeatable bool
	// PerApp marks run's app flags, which follow an IMAGE.
	PerApp bool
}

// flagSetDocs describes the flags register defines on a FlagSet.
func flagSetDocs(register func(*flag.FlagSet)) []flagDoc {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	register(fs)
	var docs []flagDoc
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		// flag names the value by its Go type unless the usage names it
		// in back quotes: "string" and "value" say nothing, the flag's
		// own name does (--dir=DIR); numbers and durations are N and
		// DURATION, as run's flags name them.
		switch value {
		case "string", "value":
			value = strings.ToUpper(f.Name)
		case "duration":
			value = "DURATION"
		case "int", "uint", "float":
			value = "N"
		}
		// A usage that starts with its back-quoted value and a colon
		// ("`IP|host|none`: name server ...", as run-prepared defines
		// run's flags) names the value once, in the value's place.
		if rest, ok := strings.CutPrefix(f.Usage, "`"+value+"`: "); ok {
			usage = rest
		}
		d := flagDoc{Name: f.Name, Value: value, Help: usage}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			d.Default = f.DefValue
		}
		docs = append(docs, d)
	})
	return docs
}

// globalFlagDocs describes the flags every command takes.
func globalFlagDocs() []flagDoc {
	var g Globals
	return flagSetDocs(g.register)
}

// runFlagDocs describes the flags of run's grammar (run, prepare).
func runFlagDocs() []flagDoc {
	var docs []flagDoc
	for _, f := range runFlags() {
		docs = append(docs, flagDoc{Name: f.Name, Value: f.Value, Help: f.Help, Repeatable: f.Repeatable, PerApp: f.PerApp})
	}
	return docs
}

// flagDocs describes cmd's own flags (the globals apart).
func (cmd *command) flagDocs() []flagDoc {
	switch {
	case cmd.docFlags != nil:
		return cmd.docFlags()
	case cmd.flags != nil:
		return flagSetDocs(cmd.flags)
	}
	return nil
}

// visibleCommands are the commands help lists, sorted by name.
func visibleCommands() []*command {
	var out []*command
	for _, cmd := range commands() {
		if !cmd.hidden {
			out = append(out, cmd)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
