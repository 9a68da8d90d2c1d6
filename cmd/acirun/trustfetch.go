package main

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// loadKeys reads the keys named on the command line: files, or URLs.
func (c *CLI) loadKeys(ctx context.Context, prefix string, args []string, allowHTTP bool, insecure string) ([]keySource, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("discovery of keys for %s: not implemented yet; give a KEYFILE", prefix)
	}
	var keys []keySource
	for _, a := range args {
		if strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "http://") {
			return nil, fmt.Errorf("key %s: fetching keys over the network is not implemented yet", a)
		}
		data, err := os.ReadFile(a)
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		keys = append(keys, keySource{source: a, data: data})
	}
	return keys, nil
}
