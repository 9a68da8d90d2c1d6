//go:build race

package store

// raceDetector: the race detector multiplies memory use several times, so
// a peak RSS says nothing about the import's bound under it.
const raceDetector = true
