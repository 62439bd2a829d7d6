// Command gofloor is built with -buildmode=c-shared by the bench command to
// measure what any Go shared library costs a process that loads it: the Go
// runtime's start-up time and resident memory, the floor under
// libcoolkeypk11.so's own figures.
package main

import "C"

// GoFloorInit does nothing; calling it makes sure the runtime is up.
//
//export GoFloorInit
func GoFloorInit() {}

func main() {}
