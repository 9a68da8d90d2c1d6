package main

import stage1 "github.com/acirun/acirun/stage1-systemd"

// runStage1 runs, in this process, the pod's supervisor that startStage1
// handed this process to: argv is pod.Stage1Command's `acirun-stage1 run
// … POD-DIR`, whose binary the pod's own processes (its PID 1, the apps'
// launchers) start from. This is the one place the CLI reaches into the pod
// side; every other process of a pod is acirun-stage1's.
func runStage1(argv []string) int {
	return stage1.Main(argv[1:], argv[0])
}
