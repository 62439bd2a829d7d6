package pkcs11mod

// errorNames maps CKR codes to their names; generated table comes later.
var errorNames = map[Error]string{}
