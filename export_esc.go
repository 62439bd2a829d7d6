package main

import "github.com/coolkey-go/coolkey-go/esc/esccapi"

// version is set by the build (-X main.version=...); the enrollment API
// reports it and sends it to the TPS as the client version.
var version = "dev"

// The enrollment helper's C API (include/coolkey-esc.h) is exported from
// package esccapi; exports.map lets its coolkey_esc_* symbols out. This
// init only copies a string: it runs inside the host's dlopen.
func init() { esccapi.Version = version }
