// Package aci implements the App Container Image format of the appc spec
// (0.8.11): image and pod manifests with their types and validation, and
// image IDs. Reading and writing .aci archives is aci/archive's, so that a
// program that only parses manifests (the pod side: every pod's PID 1)
// links and initialises none of the decompressors.
//
// # Manifests
//
// ParseImageManifest and ParsePodManifest (and ParseManifest for JSON of
// either kind) decode strictly and totally: the input is capped at
// MaxManifestSize, must be valid UTF-8 JSON with no duplicate keys, and
// every field must be one the spec defines (unknown fields are errors, so
// that a misspelt "readonly" cannot silently mount a volume read-write).
// Keys match exactly; the one alias is "supplementaryGids", the spelling of
// the spec's own example, read as "supplementaryGIDs". JSON null is treated
// as an absent field. Every problem is reported, not just the first, as an
// ErrorList whose entries carry the JSON path and quote the bad value:
//
//	app.ports[1].port: 70000 out of range 1-65535
//
// Decoding applies the spec's defaults (port count 1, a request equal to the
// limit for cpu and memory, host volumes recursive, empty volumes mode
// "0755"), so that decode → encode → decode yields an equal value; empty
// lists and maps decode as nil for the same reason.
//
// Isolators the spec defines decode into typed values (ResourceCPU,
// LinuxCapabilitiesRetainSet, ...), reachable through accessors such as
// Isolators.CPU. Isolators with other names are kept with their raw JSON
// value and listed by Isolators.Unknown: the spec lets an executor ignore
// them but requires it to say which it ignored.
//
// Image IDs ("sha512-" and 128 hex digits) are ImageID values. Manifests may
// carry partial IDs (a hex prefix, or the spec examples' "sha512-..."
// placeholder); a pod manifest is runnable only once ValidateReified finds
// full IDs and a mount for every mount point.
//
// Validate on each manifest type checks a value built in code against the
// same rules, with the same paths.
package aci
