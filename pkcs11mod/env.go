package pkcs11mod

/*
#include <stdlib.h>
*/
import "C"

import (
	"os"
	"unsafe"
)

// Getenv returns an environment variable as the host process sees it now.
// Backends read their configuration with it rather than os.Getenv: in a Go
// c-shared library os.Getenv reads a copy of the process's initial
// environment block, so a variable the host set with setenv() before
// loading the module (a test harness, a script's os.environ, a launcher)
// would be invisible to it. Outside a c-shared library the two agree.
func Getenv(key string) string {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	if v := C.getenv(ck); v != nil {
		return C.GoString(v)
	}
	return ""
}

// UserHomeDir is os.UserHomeDir with $HOME read by Getenv.
func UserHomeDir() (string, error) {
	if h := Getenv("HOME"); h != "" {
		return h, nil
	}
	return os.UserHomeDir()
}
