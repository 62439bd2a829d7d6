module github.com/coolkey-go/coolkey-go

go 1.26.0

require (
	github.com/ebfe/scard v0.0.0-20230420082256-7db3f9b7c8a7
	github.com/google/go-cmp v0.7.0
	github.com/miekg/pkcs11 v1.1.2
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
)
