package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/acirun/acirun/stage0/discovery"
	"github.com/acirun/acirun/stage0/fetch"
	"github.com/acirun/acirun/stage0/trust"
)

// loadKeys reads the keys named on the command line: files or http(s) URLs.
// With none, the keys of prefix are found by appc discovery
// (ac-discovery-pubkeys).
func (c *CLI) loadKeys(ctx context.Context, prefix string, args []string, allowHTTP bool, insecureWords string) ([]keySource, error) {
	insecure, err := fetch.ParseInsecure(insecureWords)
	if err != nil {
		return nil, usagef("--insecure-options: %v", err)
	}
	if allowHTTP {
		insecure |= fetch.InsecureHTTP
	}
	var fetcher *fetch.Fetcher
	client := func() (*fetch.Fetcher, error) {
		if fetcher == nil {
			auth, err := c.loadAuth()
			if err != nil {
				return nil, err
			}
			fetcher = fetch.New(fetch.Options{Insecure: insecure, Auth: auth, Warnings: c.Stderr})
		}
		return fetcher, nil
	}
	if len(args) == 0 {
		f, err := client()
		if err != nil {
			return nil, err
		}
		d := &discovery.Discoverer{Client: f.Client(), AllowHTTP: insecure.Has(fetch.InsecureHTTP)}
		urls, err := d.PublicKeys(ctx, prefix)
		if err != nil {
			return nil, fmt.Errorf("discover the keys of %s: %w", prefix, err)
		}
		fmt.Fprintf(c.Stderr, "Discovered %d key URL(s) for %s\n", len(urls), prefix)
		args = urls
	}
	var keys []keySource
	for _, a := range args {
		if !fetch.IsURL(a) {
			data, err := os.ReadFile(a)
			if err != nil {
				return nil, fmt.Errorf("read key: %w", err)
			}
			keys = append(keys, keySource{source: a, data: data})
			continue
		}
		f, err := client()
		if err != nil {
			return nil, err
		}
		resp, err := f.Get(ctx, a, fetch.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("fetch key: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, trust.MaxKeySize+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("fetch key %s: %w", a, err)
		}
		if len(data) > trust.MaxKeySize {
			return nil, fmt.Errorf("key %s is larger than %d bytes", a, trust.MaxKeySize)
		}
		keys = append(keys, keySource{source: a, data: data})
	}
	return keys, nil
}
