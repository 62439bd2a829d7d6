package esccapi

import (
	"strings"

	"github.com/coolkey-go/coolkey-go/cardedge"
	"github.com/coolkey-go/coolkey-go/cardedge/netcard"
	"github.com/coolkey-go/coolkey-go/cardedge/pcsc"
)

// SourcesFromEnv returns the readers a handle sees, chosen by the same
// variables as the coolkey command and the PKCS#11 module: PC/SC readers
// unless COOLKEY_PCSC is off, then the virtual cards on the socket
// transport listed in COOLKEY_SIM (host:port, comma-separated), named
// "CoolKey virtual card ADDR".
func SourcesFromEnv(getenv func(string) string) cardedge.ReaderSource {
	var srcs cardedge.Sources
	switch strings.ToLower(strings.TrimSpace(getenv("COOLKEY_PCSC"))) {
	case "off", "0", "no", "false":
	default:
		srcs = append(srcs, pcsc.NewSource())
	}
	var eps []netcard.Endpoint
	for _, addr := range strings.Split(getenv("COOLKEY_SIM"), ",") {
		if addr = strings.TrimSpace(addr); addr != "" {
			eps = append(eps, netcard.Endpoint{Name: "CoolKey virtual card " + addr, Addr: addr})
		}
	}
	if len(eps) > 0 {
		srcs = append(srcs, netcard.NewSource(eps...))
	}
	return srcs
}
