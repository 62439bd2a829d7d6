// Command racecheck is a c-archive with a deliberate data race, linked the
// way the hammer links the module, to prove that the race detector works
// in that setup (reliability's TestRaceDetectorSeesRaces).
package main

import "C"

import "sync"

var counter int

// Race increments counter from two goroutines without synchronisation.
//
//export Race
func Race() C.int {
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				counter++
			}
		}()
	}
	wg.Wait()
	return C.int(counter)
}

func main() {}
