package pkcs11mod

//go:generate go run ./internal/gencon -include ../include -o zconst.go
